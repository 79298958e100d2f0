//! Our own FLAC frame writer (RFC 9639 §9), for what flacenc cannot do: bit
//! depths other than 8, 12, 16, 20 and 24 (4–7, 9–11, …, 25–32).
//!
//! Subframes are CONSTANT, VERBATIM or FIXED of order 0–4 with partitioned
//! Rice coding (4- or 5-bit parameters, no escapes). Stereo tries left/side,
//! side/right and mid/side beside independent coding. No LPC yet: the output
//! is valid and smaller than PCM, but larger than libFLAC's at the same level.
//!
//! The frame header writer here is also used to restate the sample rate of
//! flacenc's frames (see `super::restate_sample_rate`).

use super::bits::{crc16, crc8, BitWriter};

/// Largest Rice parameter with the 4-bit method; 15 is the escape code
/// (RFC 9639 §9.2.7.1).
const MAX_RICE4: u32 = 14;
/// Largest Rice parameter with the 5-bit method; 31 is the escape code.
const MAX_RICE5: u32 = 30;
/// Largest partition order the 4-bit field holds (RFC 9639 §9.2.7).
const MAX_PARTITION_ORDER: u32 = 15;

/// The 4-bit sample rate code of a frame header and its trailing field
/// (RFC 9639 §9.1.2): 0 means "see STREAMINFO".
pub(super) fn rate_code(rate: u32) -> (u8, Option<(u32, u64)>) {
    match rate {
        88_200 => (0b0001, None),
        176_400 => (0b0010, None),
        192_000 => (0b0011, None),
        8_000 => (0b0100, None),
        16_000 => (0b0101, None),
        22_050 => (0b0110, None),
        24_000 => (0b0111, None),
        32_000 => (0b1000, None),
        44_100 => (0b1001, None),
        48_000 => (0b1010, None),
        96_000 => (0b1011, None),
        r if r % 1000 == 0 && r / 1000 <= 255 => (0b1100, Some((8, u64::from(r / 1000)))),
        r if r <= 65_535 => (0b1101, Some((16, u64::from(r)))),
        r if r % 10 == 0 && r / 10 <= 65_535 => (0b1110, Some((16, u64::from(r / 10)))),
        _ => (0b0000, None),
    }
}

/// The 4-bit block size code and its trailing field (RFC 9639 §9.1.1).
fn block_size_code(n: usize) -> (u8, Option<(u32, u64)>) {
    match n {
        192 => (0b0001, None),
        576 | 1152 | 2304 | 4608 => (2 + (n / 576).trailing_zeros() as u8, None),
        256 | 512 | 1024 | 2048 | 4096 | 8192 | 16384 | 32768 => {
            (8 + (n / 256).trailing_zeros() as u8, None)
        }
        n if n <= 256 => (0b0110, Some((8, n as u64 - 1))),
        n => (0b0111, Some((16, n as u64 - 1))),
    }
}

/// The 3-bit sample size code (RFC 9639 §9.1.4): 0 means "see STREAMINFO".
fn sample_size_code(bits: u32) -> u8 {
    match bits {
        8 => 0b001,
        12 => 0b010,
        16 => 0b100,
        20 => 0b101,
        24 => 0b110,
        32 => 0b111,
        _ => 0b000,
    }
}

/// Writes a complete frame header, CRC-8 included (RFC 9639 §9.1), for a
/// fixed-blocksize stream.
pub(super) fn write_frame_header(
    w: &mut BitWriter,
    block_size: usize,
    rate: u32,
    channel_code: u8,
    bits: u32,
    frame_number: u64,
) {
    let start = w.bytes.len();
    let (bs_code, bs_extra) = block_size_code(block_size);
    let (sr_code, sr_extra) = rate_code(rate);
    w.put(15, 0b111_1111_1111_1100); // sync code, reserved bit 0
    w.put(1, 0); // fixed block size
    w.put(4, u64::from(bs_code));
    w.put(4, u64::from(sr_code));
    w.put(4, u64::from(channel_code));
    w.put(3, u64::from(sample_size_code(bits)));
    w.put(1, 0);
    write_coded_number(w, frame_number);
    if let Some((n, v)) = bs_extra {
        w.put(n, v);
    }
    if let Some((n, v)) = sr_extra {
        w.put(n, v);
    }
    let crc = crc8(&w.bytes[start..]);
    w.put(8, u64::from(crc));
}

/// The UTF-8-like coded number of RFC 9639 §9.1.5 (up to 36 bits).
fn write_coded_number(w: &mut BitWriter, v: u64) {
    if v < 0x80 {
        w.put(8, v);
        return;
    }
    let mut n = 2u32;
    while n < 7 && v >= 1u64 << (5 * n + 1) {
        n += 1;
    }
    let lead = (0xFF00u64 >> n) & 0xFF;
    w.put(8, lead | (v >> (6 * (n - 1))));
    for i in (0..n - 1).rev() {
        w.put(8, 0x80 | ((v >> (6 * i)) & 0x3F));
    }
}

/// How one channel of a frame is coded.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Constant,
    Verbatim,
    Fixed {
        order: usize,
        partition_order: u32,
        wide_params: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    kind: Kind,
    bits: u64,
}

/// Encoder settings taken from the compression level.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    pub(super) max_partition_order: u32,
    /// Try left/side, side/right and mid/side on stereo frames.
    pub(super) decorrelate: bool,
}

/// Encodes whole frames of one stream.
pub(super) struct FrameEncoder {
    bits: u32,
    channels: usize,
    rate: u32,
    settings: Settings,
    /// One buffer per channel, then mid and side for stereo.
    chan: Vec<Vec<i64>>,
    residual: Vec<i64>,
    sums: Vec<u64>,
    params: Vec<u32>,
    w: BitWriter,
}

impl FrameEncoder {
    pub(super) fn new(bits: u32, channels: usize, rate: u32, settings: Settings) -> Self {
        FrameEncoder {
            bits,
            channels,
            rate,
            settings,
            chan: vec![Vec::new(); channels + 2],
            residual: Vec::new(),
            sums: Vec::new(),
            params: Vec::new(),
            w: BitWriter::default(),
        }
    }

    /// Encodes `interleaved` (whole frames, at most 65536) as frame number
    /// `frame_number`, replacing the contents of `out`.
    pub(super) fn encode(&mut self, interleaved: &[i32], frame_number: u64, out: &mut Vec<u8>) {
        let ch = self.channels;
        let n = interleaved.len() / ch;
        for (c, buf) in self.chan.iter_mut().take(ch).enumerate() {
            buf.clear();
            buf.extend(
                interleaved
                    .iter()
                    .skip(c)
                    .step_by(ch)
                    .map(|&s| i64::from(s)),
            );
        }
        let bits = self.bits;
        let mut channel_code = (ch - 1) as u8;
        // (source buffer index, bits) per coded subframe.
        let mut layout: [(usize, u32); 8] = [(0, bits); 8];
        for (c, slot) in layout.iter_mut().enumerate().take(ch) {
            *slot = (c, bits);
        }
        let mut plans: [Option<Plan>; 8] = [None; 8];
        if ch == 2 && self.settings.decorrelate {
            let (lr, ms) = self.chan.split_at_mut(2);
            let (mid, side) = ms.split_at_mut(1);
            mid[0].clear();
            side[0].clear();
            for (&l, &r) in lr[0].iter().zip(lr[1].iter()) {
                mid[0].push((l + r) >> 1);
                side[0].push(l - r);
            }
            let pl = self.plan(0, bits);
            let pr = self.plan(1, bits);
            let pm = self.plan(2, bits);
            let ps = self.plan(3, bits + 1);
            // RFC 9639 §9.1.3: 0b1000 left/side, 0b1001 side/right, 0b1010 mid/side.
            let options = [
                (pl.bits + pr.bits, 0b0001, [(0, bits, pl), (1, bits, pr)]),
                (
                    pl.bits + ps.bits,
                    0b1000,
                    [(0, bits, pl), (3, bits + 1, ps)],
                ),
                (
                    ps.bits + pr.bits,
                    0b1001,
                    [(3, bits + 1, ps), (1, bits, pr)],
                ),
                (
                    pm.bits + ps.bits,
                    0b1010,
                    [(2, bits, pm), (3, bits + 1, ps)],
                ),
            ];
            let mut best = options[0];
            for o in options.iter().skip(1) {
                if o.0 < best.0 {
                    best = *o;
                }
            }
            channel_code = best.1;
            for (i, (src, b, p)) in best.2.into_iter().enumerate() {
                layout[i] = (src, b);
                plans[i] = Some(p);
            }
        }

        self.w.clear();
        write_frame_header(&mut self.w, n, self.rate, channel_code, bits, frame_number);
        for (i, &(src, b)) in layout.iter().enumerate().take(ch) {
            let plan = match plans[i] {
                Some(p) => p,
                None => self.plan(src, b),
            };
            self.write_subframe(src, b, plan.kind);
        }
        self.w.align();
        let crc = crc16(&self.w.bytes);
        self.w.put(16, u64::from(crc));
        out.clear();
        out.extend_from_slice(&self.w.bytes);
    }

    /// Chooses the cheapest coding of buffer `src` at `bits` per sample.
    fn plan(&mut self, src: usize, bits: u32) -> Plan {
        let x = &self.chan[src];
        let n = x.len();
        if x.iter().all(|&v| Some(&v) == x.first()) {
            return Plan {
                kind: Kind::Constant,
                bits: 8 + u64::from(bits),
            };
        }
        let mut best = Plan {
            kind: Kind::Verbatim,
            bits: 8 + n as u64 * u64::from(bits),
        };
        // Order by the smallest sum of |residual| (as libFLAC does), then
        // search the partitioning of that order only.
        let mut best_order = None;
        let mut best_sum = u64::MAX;
        for order in 0..=4usize.min(n.saturating_sub(1)) {
            if let Some(sum) = abs_residual_sum(x, order) {
                if sum < best_sum {
                    best_sum = sum;
                    best_order = Some(order);
                }
            }
        }
        if let Some(order) = best_order {
            fixed_residual(x, order, &mut self.residual);
            let (partition_order, wide_params, rice_bits) = best_partitioning(
                &self.residual,
                n,
                order,
                self.settings.max_partition_order,
                &mut self.sums,
                &mut self.params,
            );
            let total = 8 + order as u64 * u64::from(bits) + rice_bits;
            if total < best.bits {
                best = Plan {
                    kind: Kind::Fixed {
                        order,
                        partition_order,
                        wide_params,
                    },
                    bits: total,
                };
            }
        }
        best
    }

    fn write_subframe(&mut self, src: usize, bits: u32, kind: Kind) {
        let x = &self.chan[src];
        let w = &mut self.w;
        match kind {
            Kind::Constant => {
                w.put(8, 0b0000_0000);
                w.put_wide(bits, x.first().copied().unwrap_or(0) as u64);
            }
            Kind::Verbatim => {
                w.put(8, 0b0000_0010);
                for &v in x {
                    w.put_wide(bits, v as u64);
                }
            }
            Kind::Fixed {
                order,
                partition_order,
                wide_params,
            } => {
                w.put(8, (0b00_1000 | order as u64) << 1); // FIXED: 0b001xxx (RFC 9639 §9.2.1)
                for &v in x.iter().take(order) {
                    w.put_wide(bits, v as u64);
                }
                fixed_residual(x, order, &mut self.residual);
                let n = x.len();
                let parts = 1usize << partition_order;
                let psize = n >> partition_order;
                w.put(2, u64::from(wide_params));
                w.put(4, u64::from(partition_order));
                let mut start = order;
                for p in 0..parts {
                    let end = (p + 1) * psize;
                    let slice = self.residual.get(start..end).unwrap_or(&[]);
                    let sum: u64 = slice.iter().map(|&e| zigzag(e)).sum();
                    let k = rice_param(sum, slice.len() as u64, wide_params);
                    w.put(if wide_params { 5 } else { 4 }, u64::from(k));
                    for &e in slice {
                        let u = zigzag(e);
                        w.unary(u >> k);
                        w.put(k, u);
                    }
                    start = end;
                }
            }
        }
    }
}

#[inline]
fn zigzag(e: i64) -> u64 {
    ((e << 1) ^ (e >> 63)) as u64
}

/// Residual of the FIXED predictor of `order` at sample `i` (`i >= order`).
#[inline]
fn fixed_at(x: &[i64], i: usize, order: usize) -> i64 {
    match order {
        0 => x[i],
        1 => x[i] - x[i - 1],
        2 => x[i] - 2 * x[i - 1] + x[i - 2],
        3 => x[i] - 3 * x[i - 1] + 3 * x[i - 2] - x[i - 3],
        _ => x[i] - 4 * x[i - 1] + 6 * x[i - 2] - 4 * x[i - 3] + x[i - 4],
    }
}

/// Sum of |residual| for `order`, or `None` when a residual does not fit in
/// 32 bits (RFC 9639 §9.2.5: decoders may hold residuals in 32-bit integers).
fn abs_residual_sum(x: &[i64], order: usize) -> Option<u64> {
    let mut sum = 0u64;
    for i in order..x.len() {
        let e = fixed_at(x, i, order);
        if e < i64::from(i32::MIN) || e > i64::from(i32::MAX) {
            return None;
        }
        sum += e.unsigned_abs();
    }
    Some(sum)
}

/// Fills `out` with the residual (index `i` for sample `i`; the first
/// `order` entries are unused).
fn fixed_residual(x: &[i64], order: usize, out: &mut Vec<i64>) {
    out.clear();
    out.resize(order.min(x.len()), 0);
    out.extend((order..x.len()).map(|i| fixed_at(x, i, order)));
}

/// The Rice parameter minimising `count*(k+1) + sum>>k` near log2(mean).
fn rice_param(sum: u64, count: u64, wide: bool) -> u32 {
    let max = if wide { MAX_RICE5 } else { MAX_RICE4 };
    rice_cost(sum, count, max).0
}

/// (parameter, approximate bits) for a partition with `count` zigzagged
/// residuals adding up to `sum`.
fn rice_cost(sum: u64, count: u64, max: u32) -> (u32, u64) {
    if count == 0 {
        return (0, 0);
    }
    let mean = sum / count;
    let k0 = (64 - mean.leading_zeros()).min(max);
    let cost = |k: u32| count * u64::from(k + 1) + (sum >> k);
    // The optimum lies near log2(0.69 × mean), i.e. between k0 - 2 and k0.
    let mut best = (k0, cost(k0));
    for k in [k0.saturating_sub(1), k0.saturating_sub(2)] {
        if cost(k) < best.1 {
            best = (k, cost(k));
        }
    }
    best
}

/// Picks the partition order (and whether 5-bit parameters are needed) that
/// minimises the residual's size. Returns (order, wide, bits).
fn best_partitioning(
    residual: &[i64],
    n: usize,
    order: usize,
    max_order: u32,
    sums: &mut Vec<u64>,
    scratch: &mut Vec<u32>,
) -> (u32, bool, u64) {
    // The deepest order where the block divides evenly and the first
    // partition still holds more than the warm-up samples.
    let mut top = 0u32;
    while top < max_order.min(MAX_PARTITION_ORDER)
        && n.is_multiple_of(1usize << (top + 1))
        && (n >> (top + 1)) > order
    {
        top += 1;
    }
    let parts = 1usize << top;
    let psize = n >> top;
    sums.clear();
    for p in 0..parts {
        let start = if p == 0 { order } else { p * psize };
        let end = (p + 1) * psize;
        sums.push(
            residual
                .get(start..end)
                .unwrap_or(&[])
                .iter()
                .map(|&e| zigzag(e))
                .sum(),
        );
    }
    scratch.clear();
    let mut best = (0u32, false, u64::MAX);
    let mut level = top;
    loop {
        let parts = 1usize << level;
        let psize = (n >> level) as u64;
        for wide in [false, true] {
            let max = if wide { MAX_RICE5 } else { MAX_RICE4 };
            let mut bits = 6u64;
            for (p, &sum) in sums.iter().enumerate().take(parts) {
                let count = if p == 0 { psize - order as u64 } else { psize };
                bits += if wide { 5 } else { 4 } + rice_cost(sum, count, max).1;
            }
            if bits < best.2 {
                best = (level, wide, bits);
            }
        }
        if level == 0 {
            break;
        }
        // Merge neighbours for the next order down.
        for p in 0..parts / 2 {
            sums[p] = sums[2 * p] + sums[2 * p + 1];
        }
        sums.truncate(parts / 2);
        level -= 1;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_numbers_follow_utf8() {
        let enc = |v: u64| {
            let mut w = BitWriter::default();
            write_coded_number(&mut w, v);
            w.bytes
        };
        assert_eq!(enc(0x7F), vec![0x7F]);
        assert_eq!(enc(0x80), vec![0xC2, 0x80]);
        assert_eq!(enc(0x7FF), vec![0xDF, 0xBF]);
        assert_eq!(enc(0x800), vec![0xE0, 0xA0, 0x80]);
        assert_eq!(enc(0xFFFF), vec![0xEF, 0xBF, 0xBF]);
        assert_eq!(enc(0x10000), vec![0xF0, 0x90, 0x80, 0x80]);
        assert_eq!(enc((1 << 31) - 1), vec![0xFD, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF]);
        assert_eq!(enc(1 << 35), vec![0xFE, 0xA0, 0x80, 0x80, 0x80, 0x80, 0x80]);
    }

    #[test]
    fn block_size_codes() {
        assert_eq!(block_size_code(4096), (0b1100, None));
        assert_eq!(block_size_code(1152), (0b0011, None));
        assert_eq!(block_size_code(4608), (0b0101, None));
        assert_eq!(block_size_code(1), (0b0110, Some((8, 0))));
        assert_eq!(block_size_code(1000), (0b0111, Some((16, 999))));
    }

    #[test]
    fn fixed_residuals_invert() {
        let x: Vec<i64> = (0..50).map(|i| (i * i * 7 - 300 * i) % 1000).collect();
        for order in 0..=4 {
            let mut r = Vec::new();
            fixed_residual(&x, order, &mut r);
            // Rebuild from warm-up + residual with the decoder's recurrence.
            let mut y: Vec<i64> = x[..order].to_vec();
            for (i, &e) in r.iter().enumerate().skip(order) {
                let p = match order {
                    0 => 0,
                    1 => y[i - 1],
                    2 => 2 * y[i - 1] - y[i - 2],
                    3 => 3 * y[i - 1] - 3 * y[i - 2] + y[i - 3],
                    _ => 4 * y[i - 1] - 6 * y[i - 2] + 4 * y[i - 3] - y[i - 4],
                };
                y.push(p + e);
            }
            assert_eq!(y, x, "order {order}");
        }
    }
}
