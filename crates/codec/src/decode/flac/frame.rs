//! FLAC frames (RFC 9639 §9): the header, the subframes and their
//! predictors and residuals, the stereo decorrelation and the CRC-16.

use super::bits::{bad, crc16, crc8, BitReader, ReadError, ReadResult};

/// The largest block size a frame header can state (RFC 9639 §9.1.6; the
/// 16-bit form can code 65536, which STREAMINFO cannot hold and the RFC
/// forbids).
pub(super) const MAX_BLOCK: usize = 65_535;
/// The longest frame header: sync and codes (4 bytes), a 7-byte coded
/// number, 2 bytes of block size, 2 of sample rate, the CRC-8.
pub(super) const MAX_HEADER: usize = 16;

/// How the channels of a frame are coded (RFC 9639 §9.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::decode) enum Assignment {
    Independent(u8),
    LeftSide,
    RightSide,
    MidSide,
}

impl Assignment {
    pub(in crate::decode) fn channels(self) -> usize {
        match self {
            Assignment::Independent(n) => usize::from(n),
            _ => 2,
        }
    }

    /// The channel holding a side signal (one bit wider), if any.
    fn side_channel(self) -> Option<usize> {
        match self {
            Assignment::Independent(_) => None,
            Assignment::LeftSide | Assignment::MidSide => Some(1),
            Assignment::RightSide => Some(0),
        }
    }
}

/// A parsed frame header (RFC 9639 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::decode) struct Header {
    /// Blocking strategy bit: the coded number counts samples, not frames.
    pub(in crate::decode) variable: bool,
    /// The coded frame or sample number.
    pub(in crate::decode) number: u64,
    pub(in crate::decode) block: usize,
    /// `None`: the rate in STREAMINFO (code 0).
    pub(in crate::decode) rate: Option<u32>,
    pub(in crate::decode) assignment: Assignment,
    /// `None`: the depth in STREAMINFO (code 0).
    pub(in crate::decode) bits: Option<u32>,
    /// Header length in bytes, CRC-8 included.
    pub(in crate::decode) len: usize,
}

/// Why bytes are not a frame header.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::decode) enum NotHeader {
    /// Not a header (no sync, a reserved code, a bad CRC-8).
    Invalid,
    /// The bytes end inside what could be a header.
    Short,
}

/// Parses a frame header at the start of `d`.
pub(in crate::decode) fn parse_header(d: &[u8]) -> Result<Header, NotHeader> {
    use NotHeader::{Invalid, Short};
    let byte = |i: usize| d.get(i).copied().ok_or(Short);
    // Sync code 0b11111111111110, a reserved 0 bit, the blocking bit (§9.1).
    if byte(0)? != 0xFF || byte(1)? & 0xFE != 0xF8 {
        return Err(Invalid);
    }
    let variable = byte(1)? & 1 == 1;
    let b2 = byte(2)?;
    let b3 = byte(3)?;
    let (bs_code, rate_code) = (b2 >> 4, b2 & 0x0F);
    let (ch_code, bits_code) = (b3 >> 4, (b3 >> 1) & 0x07);
    // Reserved: block size code 0, rate code 15, channel codes 11-15, bit
    // depth code 3, and the last bit of byte 3 (§9.1.1-§9.1.4).
    if bs_code == 0 || rate_code == 15 || ch_code > 10 || bits_code == 3 || b3 & 1 != 0 {
        return Err(Invalid);
    }
    // Coded number (§9.1.5): UTF-8-like, 1 to 7 bytes, up to 36 bits; at
    // most 31 bits (6 bytes) for a frame number.
    let first = byte(4)?;
    let extra = match first.leading_ones() {
        0 => 0,
        n @ 2..=7 => n as usize - 1,
        _ => return Err(Invalid),
    };
    if !variable && extra > 5 {
        return Err(Invalid);
    }
    let mut number = u64::from(first & (0x7F >> extra));
    for k in 0..extra {
        let b = byte(5 + k)?;
        if b & 0xC0 != 0x80 {
            return Err(Invalid);
        }
        number = (number << 6) | u64::from(b & 0x3F);
    }
    let mut at = 5 + extra;
    // Block size (§9.1.1, §9.1.6).
    let block = match bs_code {
        1 => 192,
        2..=5 => 576 << (bs_code - 2),
        6 => {
            at += 1;
            usize::from(byte(at - 1)?) + 1
        }
        7 => {
            at += 2;
            usize::from(u16::from_be_bytes([byte(at - 2)?, byte(at - 1)?])) + 1
        }
        _ => 256 << (bs_code - 8),
    };
    if block > MAX_BLOCK {
        return Err(Invalid);
    }
    // Sample rate (§9.1.2, §9.1.7).
    let rate = match rate_code {
        0 => None,
        1 => Some(88_200),
        2 => Some(176_400),
        3 => Some(192_000),
        4 => Some(8_000),
        5 => Some(16_000),
        6 => Some(22_050),
        7 => Some(24_000),
        8 => Some(32_000),
        9 => Some(44_100),
        10 => Some(48_000),
        11 => Some(96_000),
        12 => {
            at += 1;
            Some(u32::from(byte(at - 1)?) * 1000)
        }
        13 => {
            at += 2;
            Some(u32::from(u16::from_be_bytes([
                byte(at - 2)?,
                byte(at - 1)?,
            ])))
        }
        _ => {
            at += 2;
            Some(u32::from(u16::from_be_bytes([byte(at - 2)?, byte(at - 1)?])) * 10)
        }
    };
    let assignment = match ch_code {
        0..=7 => Assignment::Independent(ch_code + 1),
        8 => Assignment::LeftSide,
        9 => Assignment::RightSide,
        _ => Assignment::MidSide,
    };
    // Bit depth (§9.1.4).
    let bits = match bits_code {
        0 => None,
        1 => Some(8),
        2 => Some(12),
        4 => Some(16),
        5 => Some(20),
        6 => Some(24),
        _ => Some(32),
    };
    let crc = byte(at)?;
    if crc8(d.get(..at).ok_or(Short)?) != crc {
        return Err(Invalid);
    }
    Ok(Header {
        variable,
        number,
        block,
        rate,
        assignment,
        bits,
        len: at + 1,
    })
}

/// Per-channel buffers, allocated once for the largest block seen (at most
/// [`MAX_BLOCK`] samples × the 8 channels a header can state).
#[derive(Default)]
pub(super) struct Scratch {
    /// Decoded subframes; channel `c` holds `block` samples.
    pub(super) chans: Vec<Vec<i32>>,
    /// The side channel when it needs more than 32 bits (32-bit stereo).
    pub(super) side64: Vec<i64>,
    /// Residuals of the subframe being decoded.
    res: Vec<i32>,
}

impl Scratch {
    fn reserve(&mut self, block: usize, channels: usize, wide_side: bool) {
        if self.chans.len() < channels {
            self.chans.resize_with(channels, Vec::new);
        }
        for c in self.chans.iter_mut().take(channels) {
            if c.len() < block {
                c.resize(block, 0);
            }
        }
        if self.res.len() < block {
            self.res.resize(block, 0);
        }
        if wide_side && self.side64.len() < block {
            self.side64.resize(block, 0);
        }
    }
}

/// True when the side channel of a frame at `bits` is decoded as `i64`
/// (it is one bit wider, RFC 9639 §4.2).
pub(super) fn wide_side(bits: u32) -> bool {
    bits >= 31
}

/// Decodes the subframes and checks the CRC-16 of the frame that starts
/// at `data[0]` (its header `h` already parsed, `bits` resolved against
/// STREAMINFO). Returns the frame's length in bytes.
///
/// # Errors
/// [`ReadError::Eof`] when `data` ends inside the frame, [`ReadError::Bad`]
/// when the frame is malformed or its CRC-16 does not match.
pub(super) fn decode_frame(
    data: &[u8],
    h: &Header,
    bits: u32,
    s: &mut Scratch,
) -> ReadResult<usize> {
    let block = h.block;
    let channels = h.assignment.channels();
    let wide = wide_side(bits) && h.assignment.side_channel().is_some();
    s.reserve(block, channels, wide);
    let body = data.get(h.len..).unwrap_or_default();
    let mut br = BitReader::new(body);
    for ch in 0..channels {
        let is_side = h.assignment.side_channel() == Some(ch);
        let sb = bits + u32::from(is_side);
        let res = s.res.get_mut(..block).unwrap_or_default();
        if is_side && wide {
            let out = s.side64.get_mut(..block).unwrap_or_default();
            decode_subframe_i64(&mut br, sb, out, res)?;
        } else {
            let out = s
                .chans
                .get_mut(ch)
                .and_then(|c| c.get_mut(..block))
                .unwrap_or_default();
            decode_subframe_i32(&mut br, sb, out, res)?;
        }
        br.check()?;
    }
    // Zero padding to a byte boundary, then the CRC-16 of everything
    // before it (§9.3).
    br.align();
    let end = h.len + br.byte_pos();
    let crc = br.read(16) as u16;
    br.check()?;
    let covered = data.get(..end).ok_or(ReadError::Eof)?;
    if crc16(covered) != crc {
        return bad("its CRC-16 does not match");
    }
    Ok(end + 2)
}

/// Undoes the stereo decorrelation (RFC 9639 §4.2) and appends the frame,
/// interleaved, to `out`. Returns false when a sample does not fit in
/// `bits` (a damaged or malformed stream).
pub(super) fn interleave(
    a: Assignment,
    block: usize,
    bits: u32,
    s: &Scratch,
    out: &mut Vec<i32>,
) -> bool {
    let n = a.channels();
    let base = out.len();
    out.resize(base + block * n, 0);
    let Some(dst) = out.get_mut(base..) else {
        return false;
    };
    let ch = |c: usize| {
        s.chans
            .get(c)
            .and_then(|v| v.get(..block))
            .unwrap_or_default()
    };
    let side64 = s.side64.get(..block).unwrap_or_default();
    let wide = wide_side(bits);
    match a {
        Assignment::Independent(1) => dst.copy_from_slice(ch(0)),
        Assignment::Independent(2) => {
            for ((d, &l), &r) in dst.chunks_exact_mut(2).zip(ch(0)).zip(ch(1)) {
                d[0] = l;
                d[1] = r;
            }
        }
        Assignment::Independent(_) => {
            for c in 0..n {
                for (d, &v) in dst.iter_mut().skip(c).step_by(n).zip(ch(c)) {
                    *d = v;
                }
            }
        }
        // Narrow stereo: every intermediate fits in 32 bits.
        Assignment::LeftSide if !wide => {
            for ((d, &l), &sd) in dst.chunks_exact_mut(2).zip(ch(0)).zip(ch(1)) {
                d[0] = l;
                d[1] = l.wrapping_sub(sd);
            }
        }
        Assignment::RightSide if !wide => {
            for ((d, &sd), &r) in dst.chunks_exact_mut(2).zip(ch(0)).zip(ch(1)) {
                d[0] = sd.wrapping_add(r);
                d[1] = r;
            }
        }
        Assignment::MidSide if !wide => {
            for ((d, &m), &sd) in dst.chunks_exact_mut(2).zip(ch(0)).zip(ch(1)) {
                let m = m.wrapping_shl(1) | (sd & 1);
                d[0] = m.wrapping_add(sd) >> 1;
                d[1] = m.wrapping_sub(sd) >> 1;
            }
        }
        // 31- and 32-bit stereo: the side channel is in `side64`.
        _ => {
            let fits = |v: i64| {
                let sh = 64 - bits;
                ((v << sh) >> sh == v).then_some(v as i32)
            };
            let other = match a {
                Assignment::RightSide => ch(1),
                _ => ch(0),
            };
            for ((d, &o), &sd) in dst.chunks_exact_mut(2).zip(other).zip(side64) {
                let o = i64::from(o);
                let (l, r) = match a {
                    Assignment::LeftSide => (o, o.wrapping_sub(sd)),
                    Assignment::RightSide => (sd.wrapping_add(o), o),
                    _ => {
                        let m = o.wrapping_shl(1) | (sd & 1);
                        (m.wrapping_add(sd) >> 1, m.wrapping_sub(sd) >> 1)
                    }
                };
                let (Some(l), Some(r)) = (fits(l), fits(r)) else {
                    return false;
                };
                d[0] = l;
                d[1] = r;
            }
            return true;
        }
    }
    if bits >= 32 {
        return true;
    }
    let sh = 32 - bits;
    dst.iter()
        .fold(0i32, |acc, &v| acc | (v.wrapping_shl(sh) >> sh ^ v))
        == 0
}

/// Reads a subframe header (§9.2.1): padding bit, type, wasted bits.
/// Returns the type and the wasted bit count.
fn subframe_header(br: &mut BitReader<'_>, bits: u32) -> ReadResult<(u32, u32)> {
    if br.read(1) != 0 {
        return bad("a subframe header does not start with a zero bit");
    }
    let ty = br.read(6);
    let wasted = if br.read(1) == 1 {
        br.read_unary()?.saturating_add(1)
    } else {
        0
    };
    if wasted >= bits {
        br.check()?;
        return bad(format!(
            "a subframe states {wasted} wasted bits of {bits} bits"
        ));
    }
    Ok((ty, wasted))
}

/// Reads the warm-up samples and the residual of a predictive subframe
/// whose samples are `sb` bits wide.
fn warmup_and_residual<T>(
    br: &mut BitReader<'_>,
    sb: u32,
    order: usize,
    out: &mut [T],
    res: &mut [i32],
    conv: impl Fn(i64) -> T,
    lpc: Option<&mut [i32; 32]>,
) -> ReadResult<(u32, usize)> {
    let block = out.len();
    if order > block {
        return bad(format!(
            "a predictor of order {order} in a block of {block} samples"
        ));
    }
    for o in out.iter_mut().take(order) {
        *o = conv(br.read_signed(sb));
    }
    let mut shift = 0;
    if let Some(coefs) = lpc {
        // §9.2.6: precision - 1 (4 bits, 15 reserved), shift (5 bits,
        // signed; negative is not allowed), coefficients.
        let p = br.read(4);
        if p == 15 {
            br.check()?;
            return bad("an LPC subframe uses the reserved coefficient precision");
        }
        let precision = p + 1;
        let sh = br.read_signed(5);
        if sh < 0 {
            br.check()?;
            return bad("an LPC subframe has a negative shift");
        }
        shift = sh as u32;
        for c in coefs.iter_mut().take(order) {
            *c = br.read_signed(precision) as i32;
        }
        br.check()?;
        read_residual(br, block, order, res)?;
        return Ok((shift, precision as usize));
    }
    read_residual(br, block, order, res)?;
    Ok((shift, 0))
}

/// The residual (§9.2.7): coding method, partition order, partitions.
fn read_residual(
    br: &mut BitReader<'_>,
    block: usize,
    order: usize,
    res: &mut [i32],
) -> ReadResult<()> {
    let (param_bits, escape) = match br.read(2) {
        0 => (4, 0b1111),
        1 => (5, 0b1_1111),
        _ => {
            br.check()?;
            return bad("a residual uses a reserved coding method");
        }
    };
    let po = br.read(4);
    let parts = 1usize << po;
    if !block.is_multiple_of(parts) || block / parts < order {
        br.check()?;
        return bad(format!(
            "a residual partition order of {po} does not fit a block of {block} samples (predictor order {order})"
        ));
    }
    let psize = block / parts;
    let mut at = 0;
    for p in 0..parts {
        let n = if p == 0 { psize - order } else { psize };
        let dst = res.get_mut(at..at + n).unwrap_or_default();
        at += n;
        let k = br.read(param_bits);
        if k == escape {
            // Escape: samples in `nb` bits, two's complement (§9.2.7.1).
            let nb = br.read(5);
            for d in dst.iter_mut() {
                *d = br.read_signed(nb) as i32;
            }
            br.check()?;
        } else {
            br.read_rice(k, dst)?;
        }
    }
    Ok(())
}

fn decode_subframe_i32(
    br: &mut BitReader<'_>,
    bits: u32,
    out: &mut [i32],
    res: &mut [i32],
) -> ReadResult<()> {
    let p = read_subframe_i32(br, bits, out, res)?;
    p.predict(out, res);
    Ok(())
}

/// How a subframe read by [`read_subframe_i32`] is finished.
#[derive(Clone, Copy)]
enum Predict {
    /// Nothing to predict (CONSTANT, VERBATIM).
    None,
    Fixed(usize),
    Lpc {
        coefs: [i32; 32],
        order: usize,
        shift: u32,
        /// The sum fits an i32 (see [`read_subframe_i32`]).
        narrow: bool,
    },
}

/// A subframe whose bits are read (warm-up samples in `out`, residuals
/// in `res`) and whose samples are not yet predicted.
struct Pending {
    predict: Predict,
    wasted: u32,
}

impl Pending {
    /// Predicts the samples and restores the wasted bits.
    fn predict(&self, out: &mut [i32], res: &[i32]) {
        let block = out.len();
        match self.predict {
            Predict::None => {}
            Predict::Fixed(order) => {
                let res = res.get(..block.saturating_sub(order)).unwrap_or_default();
                fixed_i32(order, res, out);
            }
            Predict::Lpc {
                coefs,
                order,
                shift,
                narrow,
            } => {
                let res = res.get(..block.saturating_sub(order)).unwrap_or_default();
                let c = coefs.get(..order).unwrap_or_default();
                if narrow {
                    lpc32(c, shift, res, out);
                } else {
                    lpc(c, shift, res, out);
                }
            }
        }
        self.restore_wasted(out);
    }

    fn restore_wasted(&self, out: &mut [i32]) {
        if self.wasted > 0 {
            for o in out.iter_mut() {
                *o = o.wrapping_shl(self.wasted);
            }
        }
    }
}

/// Reads a subframe: its header, warm-up samples (into `out`) and
/// residuals (into `res`); CONSTANT and VERBATIM subframes are complete.
fn read_subframe_i32(
    br: &mut BitReader<'_>,
    bits: u32,
    out: &mut [i32],
    res: &mut [i32],
) -> ReadResult<Pending> {
    let (ty, wasted) = subframe_header(br, bits)?;
    let sb = bits - wasted;
    let predict = match ty {
        0 => {
            let v = br.read_signed(sb) as i32;
            out.fill(v);
            Predict::None
        }
        1 => {
            for o in out.iter_mut() {
                *o = br.read_signed(sb) as i32;
            }
            Predict::None
        }
        8..=12 => {
            let order = (ty - 8) as usize;
            warmup_and_residual(br, sb, order, out, res, |v| v as i32, None)?;
            Predict::Fixed(order)
        }
        32..=63 => {
            let order = (ty - 31) as usize;
            let mut coefs = [0i32; 32];
            let (shift, precision) =
                warmup_and_residual(br, sb, order, out, res, |v| v as i32, Some(&mut coefs))?;
            // §9.2.6: |sum| < order · 2^(sb-1) · 2^(precision-1)
            // < 2^(sb + precision + floor(log2(order)) - 1), which fits an
            // i32 when that exponent is at most 31 (libFLAC makes the same
            // choice); wider sums are taken in i64.
            let narrow = sb as usize + precision + order.ilog2() as usize <= 32;
            Predict::Lpc {
                coefs,
                order,
                shift,
                narrow,
            }
        }
        _ => {
            br.check()?;
            return bad(format!("a subframe uses the reserved type {ty}"));
        }
    };
    br.check()?;
    Ok(Pending { predict, wasted })
}

/// The 33-bit side channel of 32-bit stereo.
fn decode_subframe_i64(
    br: &mut BitReader<'_>,
    bits: u32,
    out: &mut [i64],
    res: &mut [i32],
) -> ReadResult<()> {
    let (ty, wasted) = subframe_header(br, bits)?;
    let sb = bits - wasted;
    let block = out.len();
    match ty {
        0 => {
            let v = br.read_signed(sb);
            out.fill(v);
        }
        1 => {
            for o in out.iter_mut() {
                *o = br.read_signed(sb);
            }
        }
        8..=12 => {
            let order = (ty - 8) as usize;
            warmup_and_residual(br, sb, order, out, res, |v| v, None)?;
            let res = res.get(..block - order).unwrap_or_default();
            let c: &[i64] = match order {
                1 => &[1],
                2 => &[2, -1],
                3 => &[3, -3, 1],
                4 => &[4, -6, 4, -1],
                _ => &[],
            };
            predict_wide(c, 0, res, out);
        }
        32..=63 => {
            let order = (ty - 31) as usize;
            let mut coefs = [0i32; 32];
            let (shift, _) = warmup_and_residual(br, sb, order, out, res, |v| v, Some(&mut coefs))?;
            let res = res.get(..block - order).unwrap_or_default();
            let mut wide = [0i64; 32];
            for (w, &c) in wide.iter_mut().zip(&coefs) {
                *w = i64::from(c);
            }
            predict_wide(wide.get(..order).unwrap_or_default(), shift, res, out);
        }
        _ => {
            br.check()?;
            return bad(format!("a subframe uses the reserved type {ty}"));
        }
    }
    br.check()?;
    if wasted > 0 {
        for o in out.iter_mut() {
            *o = o.wrapping_shl(wasted);
        }
    }
    Ok(())
}

/// `out[order + i] = res[i] + (Σ c[j] · out[order + i - 1 - j]) >> shift`
/// in `i64` (wrapping: a damaged stream gives garbage, never a panic).
fn predict_wide(c: &[i64], shift: u32, res: &[i32], out: &mut [i64]) {
    let order = c.len();
    for i in order..out.len() {
        let mut sum = 0i64;
        for (j, &cj) in c.iter().enumerate() {
            let h = out.get(i - 1 - j).copied().unwrap_or(0);
            sum = sum.wrapping_add(cj.wrapping_mul(h));
        }
        let r = i64::from(res.get(i - order).copied().unwrap_or(0));
        if let Some(o) = out.get_mut(i) {
            *o = r.wrapping_add(sum >> shift);
        }
    }
}

/// The fixed predictors (§9.2.5). Wrapping `i32` arithmetic is exact here:
/// there is no shift, so any overflow in between cancels whenever the
/// sample itself fits in 32 bits.
fn fixed_i32(order: usize, res: &[i32], out: &mut [i32]) {
    let (head, tail) = out.split_at_mut(order.min(out.len()));
    match *head {
        [] => tail.copy_from_slice(res.get(..tail.len()).unwrap_or_default()),
        [a] => {
            let mut a = a;
            for (o, &r) in tail.iter_mut().zip(res) {
                a = r.wrapping_add(a);
                *o = a;
            }
        }
        [b, a] => {
            let (mut a, mut b) = (a, b);
            for (o, &r) in tail.iter_mut().zip(res) {
                let v = r.wrapping_add(a.wrapping_mul(2).wrapping_sub(b));
                *o = v;
                (b, a) = (a, v);
            }
        }
        [c, b, a] => {
            let (mut a, mut b, mut c) = (a, b, c);
            for (o, &r) in tail.iter_mut().zip(res) {
                let p = a.wrapping_sub(b).wrapping_mul(3).wrapping_add(c);
                let v = r.wrapping_add(p);
                *o = v;
                (c, b, a) = (b, a, v);
            }
        }
        [d, c, b, a] => {
            let (mut a, mut b, mut c, mut d) = (a, b, c, d);
            for (o, &r) in tail.iter_mut().zip(res) {
                let p = a
                    .wrapping_add(c)
                    .wrapping_mul(4)
                    .wrapping_sub(b.wrapping_mul(6))
                    .wrapping_sub(d);
                let v = r.wrapping_add(p);
                *o = v;
                (d, c, b, a) = (c, b, a, v);
            }
        }
        _ => {}
    }
}

/// One LPC kernel per order, with the coefficients reversed so that
/// `rc[j]` multiplies `out[i + j]` when predicting `out[i + N]`, the sum
/// taken in `$acc`.
///
/// Each prediction needs the sample just predicted, so the loop's speed
/// is the latency of that chain. It is kept to one multiplication, an
/// addition, the shift and the residual: the sum of the older terms for
/// the next sample (`partial`) is computed a sample ahead, from samples
/// already known, and the newest sample is carried in a register rather
/// than loaded back from `out` (which would wait for store-to-load
/// forwarding).
macro_rules! lpc_kernels {
    ($name:ident, $acc:ty, $($n:literal)*) => {
        fn $name(c: &[i32], shift: u32, res: &[i32], out: &mut [i32]) {
            #[inline(always)]
            fn k<const N: usize>(c: &[i32], shift: u32, res: &[i32], out: &mut [i32]) {
                let mut rc = [0 as $acc; N];
                for (d, &s) in rc.iter_mut().rev().zip(c) {
                    *d = <$acc>::from(s);
                }
                let Some(h) = out.get(..N) else { return };
                let Ok(h) = <&[i32; N]>::try_from(h) else { return };
                let mut last = <$acc>::from(h[N - 1]);
                // Σ rc[j]·out[i + j] for j < N - 1, for i = 0.
                let mut partial: $acc = 0;
                for j in 0..N - 1 {
                    partial = partial.wrapping_add(rc[j].wrapping_mul(<$acc>::from(h[j])));
                }
                for (i, &r) in res.iter().enumerate() {
                    // out[i..=i + N]: one bounds check, then fixed indices.
                    let Some(w) = out.get_mut(i..=i + N) else { return };
                    let sum = partial.wrapping_add(rc[N - 1].wrapping_mul(last));
                    let v = r.wrapping_add((sum >> shift) as i32);
                    // The older terms of the next prediction: out[i + 1 + j]
                    // for j < N - 1, the newest of which is `last`.
                    let mut next: $acc = 0;
                    if N >= 2 {
                        for j in 0..N - 2 {
                            next = next.wrapping_add(rc[j].wrapping_mul(<$acc>::from(w[j + 1])));
                        }
                        next = next.wrapping_add(rc[N - 2].wrapping_mul(last));
                    }
                    w[N] = v;
                    partial = next;
                    last = <$acc>::from(v);
                }
            }
            match c.len() {
                $($n => k::<$n>(c, shift, res, out),)*
                _ => {}
            }
        }
    };
}

lpc_kernels!(lpc, i64, 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
lpc_kernels!(lpc32, i32, 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with_crc(mut h: Vec<u8>) -> Vec<u8> {
        h.push(crc8(&h));
        h
    }

    #[test]
    fn headers_parse_with_every_kind_of_field() {
        // 44.1 kHz (9), 4096 block (12), left/side (8), 16 bit (4), frame 0.
        let h = parse_header(&with_crc(vec![0xFF, 0xF8, 0xC9, 0x88, 0x00])).unwrap();
        assert_eq!(
            (
                h.rate,
                h.assignment,
                h.bits,
                h.block,
                h.number,
                h.variable,
                h.len
            ),
            (
                Some(44_100),
                Assignment::LeftSide,
                Some(16),
                4096,
                0,
                false,
                6
            )
        );
        // Variable blocking, a 7-byte (36-bit) sample number, 16-bit block
        // size 65535, rate from STREAMINFO, 8 channels, depth from STREAMINFO.
        let mut b = vec![0xFF, 0xF9, 0x70, 0x70, 0xFE];
        b.extend([0xBF; 6]);
        b.extend([0xFF, 0xFE]);
        let h = parse_header(&with_crc(b)).unwrap();
        assert_eq!(h.number, (1 << 36) - 1);
        assert_eq!((h.block, h.rate, h.bits), (65_535, None, None));
        assert_eq!(h.assignment, Assignment::Independent(8));
        assert_eq!(h.len, MAX_HEADER - 2);
        // Rate in tens of Hz (14) after an 8-bit block size (6).
        let h = parse_header(&with_crc(vec![
            0xFF, 0xF8, 0x6E, 0xA8, 0x05, 0x0F, 0xFF, 0xFF,
        ]))
        .unwrap();
        assert_eq!(
            (h.block, h.rate, h.assignment, h.bits, h.number),
            (16, Some(655_350), Assignment::MidSide, Some(16), 5)
        );
        // A bad CRC-8, a reserved code, a 65536 block, short data.
        let mut b = with_crc(vec![0xFF, 0xF8, 0xC9, 0x88, 0x00]);
        b[5] ^= 1;
        assert_eq!(parse_header(&b), Err(NotHeader::Invalid));
        assert_eq!(
            parse_header(&with_crc(vec![0xFF, 0xF8, 0xC9, 0x86, 0x00])),
            Err(NotHeader::Invalid)
        );
        assert_eq!(
            parse_header(&with_crc(vec![0xFF, 0xF8, 0x79, 0x88, 0x00, 0xFF, 0xFF])),
            Err(NotHeader::Invalid)
        );
        assert_eq!(parse_header(&[0xFF, 0xF8, 0xC9]), Err(NotHeader::Short));
    }

    #[test]
    fn fixed_and_lpc_predictors_agree_with_a_plain_sum() {
        let mut rng = 0x1234_5678u32;
        let mut next = || {
            rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (rng >> 8) as i32 - (1 << 23)
        };
        for order in 1..=32usize {
            // A stable filter (|c| sums to at most 1/4) on 14-bit residuals.
            let c: Vec<i32> = (0..order).map(|_| next() >> 16).collect();
            let res: Vec<i32> = (0..200).map(|_| next() >> 10).collect();
            let mut out: Vec<i32> = (0..order).map(|_| next() >> 10).collect();
            out.resize(order + res.len(), 0);
            let mut b = out.clone();
            let mut wide: Vec<i64> = out.iter().map(|&v| i64::from(v)).collect();
            lpc(&c, 14, &res, &mut b);
            let cw: Vec<i64> = c.iter().map(|&v| i64::from(v)).collect();
            predict_wide(&cw, 14, &res, &mut wide);
            let wide: Vec<i32> = wide.iter().map(|&v| v as i32).collect();
            assert_eq!(b, wide, "order {order}");
        }
        for order in 0..=4usize {
            let res: Vec<i32> = (0..100).map(|_| next() >> 12).collect();
            let mut out: Vec<i32> = (0..order).map(|_| next() >> 12).collect();
            out.resize(order + res.len(), 0);
            let mut wide: Vec<i64> = out.iter().map(|&v| i64::from(v)).collect();
            fixed_i32(order, &res, &mut out);
            let c: &[i64] = [&[][..], &[1], &[2, -1], &[3, -3, 1], &[4, -6, 4, -1]][order];
            predict_wide(c, 0, &res, &mut wide);
            let wide: Vec<i32> = wide.iter().map(|&v| v as i32).collect();
            assert_eq!(out, wide, "fixed order {order}");
        }
    }
}
