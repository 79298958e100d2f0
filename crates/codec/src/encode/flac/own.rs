//! Our FLAC frame writer (RFC 9639 §9): one frame per block, every channel
//! coded as the smallest of CONSTANT, VERBATIM, FIXED (the order libFLAC's
//! estimate picks) and LPC (one candidate per apodization window, order
//! chosen from the Levinson-Durbin errors, coefficients quantised at
//! libFLAC's precision, and optionally the winner again at a few lower
//! precisions), with wasted-bits removal and partitioned Rice
//! coding. Stereo frames try left/side, side/right and mid/side beside
//! independent coding, every frame (exhaustive) or every few frames
//! (adaptive, libFLAC's "loose" mode).
//!
//! A subframe whose written size exceeds its VERBATIM size is rewritten as
//! VERBATIM, so no frame is ever larger than plain PCM plus headers.

use super::bits::{crc16, crc8, BitWriter};
use super::kernels::{self, Kernels, Sample};
use super::{lpc, rice};

/// Subframe type codes (RFC 9639 §9.2.1), already shifted past the
/// wasted-bits flag.
const TYPE_CONSTANT: u64 = 0b000_000 << 1;
const TYPE_VERBATIM: u64 = 0b000_001 << 1;
const TYPE_FIXED: u64 = 0b001_000 << 1;
const TYPE_LPC: u64 = 0b100_000 << 1;
/// Subframe header: 1 zero bit, 6 type bits, 1 wasted-bits flag.
const SUBFRAME_HEADER_BITS: u64 = 8;
/// LPC: 4-bit precision - 1 and 5-bit shift (RFC 9639 §9.2.6).
const LPC_FIELDS_BITS: u64 = 4 + 5;
/// Stereo channel assignments (RFC 9639 §9.1.3).
const INDEPENDENT_2: u8 = 0b0001;
const LEFT_SIDE: u8 = 0b1000;
const SIDE_RIGHT: u8 = 0b1001;
const MID_SIDE: u8 = 0b1010;
/// libFLAC's adaptive stereo decides every 0.4 s of audio.
const ADAPTIVE_STEREO_SECONDS: f64 = 0.4;

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
/// fixed-blocksize stream. `w` must be byte-aligned.
pub(super) fn write_frame_header(
    w: &mut BitWriter,
    block_size: usize,
    rate: u32,
    channel_code: u8,
    bits: u32,
    frame_number: u64,
) {
    let start = w.bytes().len();
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
    let crc = crc8(w.bytes().get(start..).unwrap_or(&[]));
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

/// How stereo frames are decorrelated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Stereo {
    Independent,
    /// libFLAC's `-M`: try all four assignments every 0.4 s, keep the
    /// winner in between.
    Adaptive,
    /// libFLAC's `-m`: try all four on every frame.
    Exhaustive,
}

/// LPC analysis windows (libFLAC's `-A`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Apodization {
    /// `tukey(p)` over the whole block.
    Tukey(f64),
    /// `subdivide_tukey(n)`: tukey(0.5/n) over the block, then over each
    /// half, third, … n-th of it (partial windows), and from the third
    /// on also the block without each part (punchout windows, from the
    /// autocorrelations already computed, as libFLAC 1.4 does).
    SubdivideTukey(u32),
}

/// Encoder settings taken from the compression level.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    pub(super) block_size: usize,
    pub(super) max_lpc_order: usize,
    pub(super) stereo: Stereo,
    pub(super) max_partition_order: u32,
    pub(super) apodizations: &'static [Apodization],
    /// Try every coefficient precision (libFLAC's `-p`; no level uses it).
    pub(super) precision_search: bool,
    /// Without the full search: how many precisions below the default to
    /// try too, on the predictor of the best coding found (0: the default
    /// alone; levels 7 and 8 use 2).
    pub(super) precision_steps: u32,
}

/// How one subframe is coded.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Constant,
    Verbatim,
    Fixed {
        order: usize,
    },
    Lpc {
        order: usize,
        precision: u32,
        shift: u32,
    },
}

/// The best coding found for one signal, with what writing it needs.
#[derive(Debug)]
struct Slot {
    kind: Kind,
    /// Bits per sample after removing wasted bits.
    bps: u32,
    wasted: u32,
    /// Estimated size of the subframe.
    bits: u64,
    qlp: [i32; lpc::MAX_ORDER],
    /// The unquantised predictor of an LPC coding, and its error (for
    /// [`Settings::precision_steps`]).
    lp: [f64; lpc::MAX_ORDER],
    lp_error: f64,
    residual: Vec<i32>,
    rice: rice::Choice,
    params: Vec<u8>,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            kind: Kind::Verbatim,
            bps: 0,
            wasted: 0,
            bits: 0,
            qlp: [0; lpc::MAX_ORDER],
            lp: [0.0; lpc::MAX_ORDER],
            lp_error: 0.0,
            residual: Vec::new(),
            rice: rice::Choice::default(),
            params: Vec::new(),
        }
    }
}

/// Work buffers reused across subframes.
struct Scratch {
    residual: Vec<i32>,
    params: Vec<u8>,
    sums: Vec<u64>,
    windowed: Vec<f64>,
    lp: Box<[[f64; lpc::MAX_ORDER]; lpc::MAX_ORDER]>,
    error: [f64; lpc::MAX_ORDER],
    qlp: [i32; lpc::MAX_ORDER],
}

/// A frame encoder holding its signals in the type the stream needs: `i64`
/// when a 33-bit side channel may be coded (32-bit stereo with
/// decorrelation: side = L − R takes one bit more than the input, RFC 9639
/// §4.2), `i32` otherwise (the fast paths).
pub(super) enum Frames {
    Narrow(FrameEncoder<i32>),
    Wide(FrameEncoder<i64>),
}

impl Frames {
    pub(super) fn new(bits: u32, channels: usize, rate: u32, settings: Settings) -> Self {
        if bits >= 32 && channels == 2 && settings.stereo != Stereo::Independent {
            Frames::Wide(FrameEncoder::new(bits, channels, rate, settings))
        } else {
            Frames::Narrow(FrameEncoder::new(bits, channels, rate, settings))
        }
    }

    /// See [`FrameEncoder::independent_run`].
    pub(super) fn independent_run(&self) -> u64 {
        match self {
            Frames::Narrow(e) => e.independent_run(),
            Frames::Wide(e) => e.independent_run(),
        }
    }

    /// See [`FrameEncoder::encode`].
    pub(super) fn encode(&mut self, interleaved: &[i32], frame_number: u64, out: &mut Vec<u8>) {
        match self {
            Frames::Narrow(e) => e.encode(interleaved, frame_number, out),
            Frames::Wide(e) => e.encode(interleaved, frame_number, out),
        }
    }
}

/// Encodes whole frames of one stream.
pub(super) struct FrameEncoder<S: Sample> {
    bits: u32,
    channels: usize,
    rate: u32,
    settings: Settings,
    kernels: Kernels,
    /// One buffer per channel, then mid and side for stereo.
    sig: Vec<Vec<S>>,
    slots: Vec<Slot>,
    scratch: Scratch,
    /// Windows for the current block length, one per apodization.
    windows: Vec<Vec<f64>>,
    windows_len: usize,
    w: BitWriter,
    /// Adaptive stereo: frames between decisions (made on frame numbers
    /// that are multiples of it), and the choice in force until the next.
    stereo_period: u64,
    last_assignment: u8,
}

impl<S: Sample> FrameEncoder<S> {
    pub(super) fn new(bits: u32, channels: usize, rate: u32, settings: Settings) -> Self {
        let period =
            (f64::from(rate) * ADAPTIVE_STEREO_SECONDS / settings.block_size as f64 + 0.5) as u64;
        FrameEncoder {
            bits,
            channels,
            rate,
            settings,
            kernels: super::simd::detect(),
            sig: (0..channels + 2).map(|_| Vec::new()).collect(),
            slots: (0..channels + 2).map(|_| Slot::default()).collect(),
            scratch: Scratch {
                residual: Vec::new(),
                params: Vec::new(),
                sums: Vec::new(),
                windowed: Vec::new(),
                lp: Box::new([[0.0; lpc::MAX_ORDER]; lpc::MAX_ORDER]),
                error: [0.0; lpc::MAX_ORDER],
                qlp: [0; lpc::MAX_ORDER],
            },
            windows: Vec::new(),
            windows_len: 0,
            w: BitWriter::default(),
            stereo_period: period.max(1),
            last_assignment: INDEPENDENT_2,
        }
    }

    /// Frames from one adaptive stereo decision to the next, or 1 when
    /// every frame decides (or there is no decision to make). The coding of
    /// frame `k` depends only on its samples and on the frames since the
    /// last multiple of this before `k`: a run of frames starting at a
    /// multiple of it encodes the same on any `FrameEncoder` of the same
    /// settings, which is what lets threads share one stream.
    pub(super) fn independent_run(&self) -> u64 {
        if self.channels == 2 && self.settings.stereo == Stereo::Adaptive {
            self.stereo_period
        } else {
            1
        }
    }

    /// Encodes `interleaved` (whole frames, 1 to 65535 of them) as frame
    /// number `frame_number`, appending it to `out`.
    pub(super) fn encode(&mut self, interleaved: &[i32], frame_number: u64, out: &mut Vec<u8>) {
        let ch = self.channels;
        let n = interleaved.len() / ch;
        if ch == 2 {
            let (a, b) = self.sig.split_at_mut(1);
            let (l, r) = (&mut a[0], &mut b[0]);
            l.clear();
            r.clear();
            l.extend(
                interleaved
                    .chunks_exact(2)
                    .map(|f| S::from_i64(i64::from(f[0]))),
            );
            r.extend(
                interleaved
                    .chunks_exact(2)
                    .map(|f| S::from_i64(i64::from(f[1]))),
            );
        } else {
            for (c, buf) in self.sig.iter_mut().take(ch).enumerate() {
                buf.clear();
                buf.extend(
                    interleaved
                        .iter()
                        .skip(c)
                        .step_by(ch)
                        .map(|&s| S::from_i64(i64::from(s))),
                );
            }
        }
        self.ensure_windows(n);
        let bits = self.bits;
        // (signal index, bits per sample) of each subframe, in order.
        let mut layout: [(usize, u32); 8] = [(0, bits); 8];
        for (c, slot) in layout.iter_mut().enumerate().take(ch) {
            *slot = (c, bits);
        }
        let mut channel_code = (ch - 1) as u8;
        if ch == 2 && self.settings.stereo != Stereo::Independent {
            {
                let (lr, ms) = self.sig.split_at_mut(2);
                let (mid, side) = ms.split_at_mut(1);
                let (mid, side) = (&mut mid[0], &mut side[0]);
                mid.clear();
                side.clear();
                for (&l, &r) in lr[0].iter().zip(lr[1].iter()) {
                    let (l, r) = (l.to_i64(), r.to_i64());
                    mid.push(S::from_i64((l + r) >> 1));
                    side.push(S::from_i64(l - r));
                }
            }
            let decide = self.settings.stereo == Stereo::Exhaustive
                || frame_number.is_multiple_of(self.stereo_period);
            let assignment = if decide {
                for (i, b) in [(0, bits), (1, bits), (2, bits), (3, bits + 1)] {
                    self.analyze(i, b);
                }
                let s = &self.slots;
                let options = [
                    (s[0].bits + s[1].bits, INDEPENDENT_2),
                    (s[0].bits + s[3].bits, LEFT_SIDE),
                    (s[3].bits + s[1].bits, SIDE_RIGHT),
                    (s[2].bits + s[3].bits, MID_SIDE),
                ];
                let mut best = options[0];
                for o in &options[1..] {
                    if o.0 < best.0 {
                        best = *o;
                    }
                }
                best.1
            } else {
                self.last_assignment
            };
            self.last_assignment = assignment;
            channel_code = assignment;
            let pair = match assignment {
                LEFT_SIDE => [(0, bits), (3, bits + 1)],
                SIDE_RIGHT => [(3, bits + 1), (1, bits)],
                MID_SIDE => [(2, bits), (3, bits + 1)],
                _ => [(0, bits), (1, bits)],
            };
            layout[0] = pair[0];
            layout[1] = pair[1];
            if !decide {
                for (i, b) in pair {
                    self.analyze(i, b);
                }
            }
        } else {
            for &(i, b) in layout.iter().take(ch) {
                self.analyze(i, b);
            }
        }

        self.w.clear();
        write_frame_header(&mut self.w, n, self.rate, channel_code, bits, frame_number);
        let body = self.w.bit_len();
        for &(i, _) in layout.iter().take(ch) {
            self.write_subframe(i);
        }
        // Never larger than independent VERBATIM subframes (a side channel
        // costs a bit per sample more, and the stereo choice is made on
        // estimates): rewrite the frame so if it is.
        let verbatim = ch as u64 * (SUBFRAME_HEADER_BITS + n as u64 * u64::from(bits));
        if self.w.bit_len() - body > verbatim {
            self.w.clear();
            let code = (ch - 1) as u8;
            write_frame_header(&mut self.w, n, self.rate, code, bits, frame_number);
            for c in 0..ch {
                self.w.put(8, TYPE_VERBATIM);
                for &v in interleaved.iter().skip(c).step_by(ch) {
                    self.w.put_wide(bits, v as u64);
                }
            }
            if ch == 2 {
                self.last_assignment = INDEPENDENT_2;
            }
        }
        self.w.align();
        let crc = crc16(self.w.bytes());
        self.w.put(16, u64::from(crc));
        out.extend_from_slice(self.w.bytes());
    }

    fn ensure_windows(&mut self, n: usize) {
        if self.windows_len == n && self.windows.len() == self.settings.apodizations.len() {
            return;
        }
        self.windows_len = n;
        self.windows.clear();
        for a in self.settings.apodizations {
            let mut w = Vec::new();
            match *a {
                Apodization::Tukey(p) => lpc::tukey(n, p, &mut w),
                Apodization::SubdivideTukey(parts) => {
                    lpc::tukey(n, 0.5 / f64::from(parts.max(1)), &mut w)
                }
            }
            self.windows.push(w);
        }
    }

    /// Finds the smallest coding of signal `i` at `bps` bits per sample
    /// and leaves it in slot `i` (removing wasted bits from the signal).
    fn analyze(&mut self, i: usize, bps: u32) {
        let (Some(x), Some(slot)) = (self.sig.get_mut(i), self.slots.get_mut(i)) else {
            return;
        };
        analyze(
            x,
            bps,
            slot,
            &mut self.scratch,
            &self.windows,
            &self.settings,
            &self.kernels,
        );
    }

    fn write_subframe(&mut self, i: usize) {
        let (Some(x), Some(slot)) = (self.sig.get(i), self.slots.get(i)) else {
            return;
        };
        let w = &mut self.w;
        let n = x.len() as u64;
        let bps = slot.bps;
        w.reserve_bits(slot.bits.max(n * u64::from(bps)) + 64);
        let mark = w.mark();
        let start = w.bit_len();
        let verbatim_bits = header_bits(slot.wasted) + n * u64::from(bps);
        let header = |w: &mut BitWriter, kind: u64| {
            w.put(8, kind | u64::from(slot.wasted > 0));
            if slot.wasted > 0 {
                w.unary(u64::from(slot.wasted - 1));
            }
        };
        let warmup = |w: &mut BitWriter, order: usize| {
            for &v in x.iter().take(order) {
                w.put_wide(bps, v.to_i64() as u64);
            }
        };
        match slot.kind {
            Kind::Constant => {
                header(w, TYPE_CONSTANT);
                w.put_wide(bps, x.first().map_or(0, |v| v.to_i64()) as u64);
            }
            Kind::Verbatim => {}
            Kind::Fixed { order } => {
                header(w, TYPE_FIXED | (order as u64) << 1);
                warmup(w, order);
                rice::write(w, &slot.residual, order, &slot.rice, &slot.params);
            }
            Kind::Lpc {
                order,
                precision,
                shift,
            } => {
                header(w, TYPE_LPC | ((order as u64 - 1) << 1));
                warmup(w, order);
                w.put(4, u64::from(precision - 1));
                w.put(5, u64::from(shift));
                for &q in slot.qlp.iter().take(order) {
                    w.put(precision, q as u32 as u64);
                }
                rice::write(w, &slot.residual, order, &slot.rice, &slot.params);
            }
        }
        if slot.kind == Kind::Verbatim || w.bit_len() - start > verbatim_bits {
            w.rewind(mark);
            header(w, TYPE_VERBATIM);
            for &v in x {
                w.put_wide(bps, v.to_i64() as u64);
            }
        }
    }
}

/// Subframe header bits with `wasted` bits flagged (a unary count).
fn header_bits(wasted: u32) -> u64 {
    SUBFRAME_HEADER_BITS + u64::from(wasted)
}

/// Bits of a signed value (two's complement width).
fn signed_width(v: i32) -> u32 {
    33 - (v ^ (v >> 31)).leading_zeros()
}

fn analyze<S: Sample>(
    x: &mut [S],
    bps: u32,
    slot: &mut Slot,
    sc: &mut Scratch,
    windows: &[Vec<f64>],
    settings: &Settings,
    k: &Kernels,
) {
    let n = x.len();
    slot.wasted = 0;
    slot.bps = bps;
    let Some(&first) = x.first() else {
        slot.kind = Kind::Verbatim;
        slot.bits = SUBFRAME_HEADER_BITS;
        return;
    };
    if x.iter().all(|&v| v == first) {
        slot.kind = Kind::Constant;
        slot.bits = SUBFRAME_HEADER_BITS + u64::from(bps);
        return;
    }
    // Wasted bits: trailing zero bits common to every sample (RFC 9639 §9.2.2).
    let or = x.iter().fold(0i64, |a, &v| a | v.to_i64());
    let wasted = or.trailing_zeros().min(bps - 1);
    let mut bps = bps;
    if wasted > 0 {
        for v in x.iter_mut() {
            *v = S::from_i64(v.to_i64() >> wasted);
        }
        bps -= wasted;
        slot.wasted = wasted;
        slot.bps = bps;
    }
    let x: &[S] = x;
    let hdr = header_bits(slot.wasted);
    slot.kind = Kind::Verbatim;
    slot.bits = hdr + n as u64 * u64::from(bps);
    let x32 = S::as_i32(x);

    // FIXED: the order with the smallest sum of |residual| (libFLAC's
    // estimate; ties go to the higher order).
    if n > lpc::MAX_ORDER.min(4) {
        let sums = match x32 {
            Some(x32) if bps <= 28 => (k.fixed_sums)(x32, bps),
            _ => kernels::fixed_sums64(x),
        };
        let order = (0..4)
            .find(|&o| sums[o] < sums[o + 1..].iter().copied().min().unwrap_or(u64::MAX))
            .unwrap_or(4);
        let est = if sums[order] > 0 {
            (std::f64::consts::LN_2 * sums[order] as f64 / (n - 4) as f64).log2()
        } else {
            0.0
        };
        if est < f64::from(bps) {
            let ok = match x32 {
                Some(x32) if bps + order as u32 <= 31 => {
                    kernels::fixed_residual32(x32, order, &mut sc.residual);
                    true
                }
                _ => kernels::fixed_residual64(x, order, &mut sc.residual),
            };
            if ok {
                consider(
                    slot,
                    sc,
                    k,
                    settings,
                    Kind::Fixed { order },
                    hdr + order as u64 * u64::from(bps),
                );
            }
        }
    } else {
        for order in 0..n.min(5) {
            if kernels::fixed_residual64(x, order, &mut sc.residual) {
                consider(
                    slot,
                    sc,
                    k,
                    settings,
                    Kind::Fixed { order },
                    hdr + order as u64 * u64::from(bps),
                );
            }
        }
    }

    // LPC, once per analysis window.
    let max_order = settings.max_lpc_order.min(n - 1).min(lpc::MAX_ORDER);
    if max_order == 0 {
        return;
    }
    let lags = max_order + 1;
    for (apod, window) in settings.apodizations.iter().zip(windows) {
        window_signal(x, x32, window, &mut sc.windowed, k);
        let mut root = [0.0; lpc::MAX_ORDER + 1];
        (k.autocorrelation)(&sc.windowed, n, &mut root[..lags]);
        lpc_candidates(
            x,
            x32,
            bps,
            hdr,
            &root[..lags],
            max_order,
            slot,
            sc,
            settings,
            k,
        );
        let Apodization::SubdivideTukey(parts) = *apod else {
            continue;
        };
        // Partial windows over each 1/b of the block; from b = 3 on, the
        // block without each part too (root minus partial).
        for b in 2..=parts as usize {
            let len = n / b;
            if len <= lpc::MAX_ORDER {
                break;
            }
            for c in 0..b {
                partial_window(x, x32, window, c * n / b, len, &mut sc.windowed, k);
                let mut ac = [0.0; lpc::MAX_ORDER + 1];
                (k.autocorrelation)(&sc.windowed, len, &mut ac[..lags]);
                lpc_candidates(
                    x,
                    x32,
                    bps,
                    hdr,
                    &ac[..lags],
                    max_order,
                    slot,
                    sc,
                    settings,
                    k,
                );
                if b >= 3 {
                    let mut punch = [0.0; lpc::MAX_ORDER + 1];
                    for l in 0..lags {
                        punch[l] = root[l] - ac[l];
                    }
                    lpc_candidates(
                        x,
                        x32,
                        bps,
                        hdr,
                        &punch[..lags],
                        max_order,
                        slot,
                        sc,
                        settings,
                        k,
                    );
                }
            }
        }
    }
    precision_steps(x, x32, bps, hdr, slot, sc, settings, k);
}

/// [`Settings::precision_steps`]: when the best coding is LPC, its
/// predictor quantised at up to that many precisions below the default,
/// kept when it codes smaller. Precisions equal once limited (see
/// [`limit_precision`]) are tried once.
#[allow(clippy::too_many_arguments)]
fn precision_steps<S: Sample>(
    x: &[S],
    x32: Option<&[i32]>,
    bps: u32,
    hdr: u64,
    slot: &mut Slot,
    sc: &mut Scratch,
    settings: &Settings,
    k: &Kernels,
) {
    if settings.precision_search || settings.precision_steps == 0 {
        return;
    }
    let Kind::Lpc { order, .. } = slot.kind else {
        return;
    };
    // The winner's predictor back in the scratch row its order reads.
    let (Some(row), Some(error)) = (sc.lp.get_mut(order - 1), sc.error.get_mut(order - 1)) else {
        return;
    };
    *row = slot.lp;
    *error = slot.lp_error;
    let default = lpc::default_precision(bps, settings.block_size);
    let mut last = limit_precision(default, bps, order);
    for step in 1..=settings.precision_steps {
        let Some(p) = default
            .checked_sub(step)
            .filter(|&p| p >= lpc::MIN_PRECISION)
        else {
            break;
        };
        let p = limit_precision(p, bps, order);
        if p < last {
            last = p;
            lpc_candidate(x, x32, bps, hdr, order, p, slot, sc, settings, k);
        }
    }
}

/// `out` = `x` × `window`, then [`lpc::AUTOC_PAD`] zeros.
fn window_signal<S: Sample>(
    x: &[S],
    x32: Option<&[i32]>,
    window: &[f64],
    out: &mut Vec<f64>,
    k: &Kernels,
) {
    out.resize(x.len() + lpc::AUTOC_PAD, 0.0);
    let (body, pad) = out.split_at_mut(x.len());
    pad.fill(0.0);
    match x32 {
        Some(x32) => (k.window)(x32, window, body),
        None => {
            for ((o, v), w) in body.iter_mut().zip(x).zip(window) {
                *o = v.to_i64() as f64 * w;
            }
        }
    }
}

/// libFLAC's partial window: `len` samples from `start`, with the rising
/// ramp of the root window on the first half and its falling ramp on the
/// second (a last odd sample gets weight 0); then [`lpc::AUTOC_PAD`] zeros.
fn partial_window<S: Sample>(
    x: &[S],
    x32: Option<&[i32]>,
    window: &[f64],
    start: usize,
    len: usize,
    out: &mut Vec<f64>,
    k: &Kernels,
) {
    out.clear();
    out.resize(len + lpc::AUTOC_PAD, 0.0);
    let half = len / 2;
    let n = window.len();
    let (Some(seg), Some(rise), Some(fall)) = (
        x.get(start..start + 2 * half),
        window.get(..half),
        window.get(n.saturating_sub(half)..),
    ) else {
        return;
    };
    let (a, b) = out.split_at_mut(half);
    match x32.and_then(|x| x.get(start..start + 2 * half)) {
        Some(s32) => {
            (k.window)(&s32[..half], rise, a);
            (k.window)(&s32[half..], fall, b);
        }
        None => {
            for ((o, v), w) in a.iter_mut().zip(&seg[..half]).zip(rise) {
                *o = v.to_i64() as f64 * w;
            }
            for ((o, v), w) in b.iter_mut().zip(&seg[half..]).zip(fall) {
                *o = v.to_i64() as f64 * w;
            }
        }
    }
}

/// Evaluates the LPC predictors from one autocorrelation: the order
/// libFLAC's estimate picks, at libFLAC's precision. With
/// [`Settings::precision_search`], every precision from
/// [`lpc::MIN_PRECISION`] to [`lpc::MAX_PRECISION`] too, at that order and
/// at the order the estimate picks for the smallest precision (libFLAC's
/// `-p` looks at the latter only): the candidates include those without
/// the search, so it never picks a coding it estimates larger (the
/// estimate leaves out the Rice parameter refinement and escapes of
/// [`rice::write`], so a written subframe may still differ by a few bits).
#[allow(clippy::too_many_arguments)]
fn lpc_candidates<S: Sample>(
    x: &[S],
    x32: Option<&[i32]>,
    bps: u32,
    hdr: u64,
    autoc: &[f64],
    max_order: usize,
    slot: &mut Slot,
    sc: &mut Scratch,
    settings: &Settings,
    k: &Kernels,
) {
    let energy = autoc.first().copied().unwrap_or(0.0);
    if energy.is_nan() || energy <= 0.0 {
        return;
    }
    let n = x.len();
    let max_order = lpc::levinson(autoc, max_order, &mut sc.lp, &mut sc.error);
    if max_order == 0 {
        return;
    }
    let default_precision = lpc::default_precision(bps, settings.block_size);
    let order = lpc::best_order(&sc.error[..max_order], n, bps + default_precision);
    if !settings.precision_search {
        lpc_candidate(
            x,
            x32,
            bps,
            hdr,
            order,
            default_precision,
            slot,
            sc,
            settings,
            k,
        );
        return;
    }
    let short = lpc::best_order(&sc.error[..max_order], n, bps + lpc::MIN_PRECISION);
    let orders = [order, short];
    let orders = if short == order {
        &orders[..1]
    } else {
        &orders[..]
    };
    for &o in orders {
        for precision in lpc::MIN_PRECISION..=lpc::MAX_PRECISION {
            lpc_candidate(x, x32, bps, hdr, o, precision, slot, sc, settings, k);
        }
    }
}

/// Quantises the order-`order` predictor in `sc.lp` at `precision` bits
/// and keeps it in `slot` when it codes smallest so far.
#[allow(clippy::too_many_arguments)]
#[inline]
fn lpc_candidate<S: Sample>(
    x: &[S],
    x32: Option<&[i32]>,
    bps: u32,
    hdr: u64,
    order: usize,
    precision: u32,
    slot: &mut Slot,
    sc: &mut Scratch,
    settings: &Settings,
    k: &Kernels,
) {
    let n = x.len();
    let (Some(&error), Some(row)) = (sc.error.get(order - 1), sc.lp.get(order - 1)) else {
        return;
    };
    if lpc::expected_bits(error, n - order) >= f64::from(bps) {
        return;
    }
    let precision = limit_precision(precision, bps, order);
    let lp = &row[..order];
    let Some(shift) = lpc::quantize(lp, precision, &mut sc.qlp[..order]) else {
        return;
    };
    let q = &sc.qlp[..order];
    // The precision actually needed by the coefficients.
    let used = q.iter().map(|&c| signed_width(c)).max().unwrap_or(1).max(1);
    let ok = match x32 {
        Some(x32) => {
            sc.residual.resize(n - order, 0);
            let sum_q: u64 = q.iter().map(|c| u64::from(c.unsigned_abs())).sum();
            let max_x = 1u64 << (bps - 1);
            let bound = sum_q * max_x;
            if bound <= i32::MAX as u64 && max_x + (bound >> shift) < i32::MAX as u64 {
                (k.lpc32)(x32, q, shift, &mut sc.residual);
                true
            } else {
                (k.lpc64)(x32, q, shift, &mut sc.residual)
            }
        }
        None => kernels::lpc_wide(x, q, shift, &mut sc.residual),
    };
    if !ok {
        return;
    }
    let fixed =
        hdr + order as u64 * u64::from(bps) + LPC_FIELDS_BITS + order as u64 * u64::from(used);
    let qlp = sc.qlp;
    if consider(
        slot,
        sc,
        k,
        settings,
        Kind::Lpc {
            order,
            precision: used,
            shift,
        },
        fixed,
    ) {
        slot.qlp = qlp;
        if let Some(row) = sc.lp.get(order - 1) {
            slot.lp = *row;
        }
        slot.lp_error = error;
    }
}

/// `precision` limited as libFLAC does, to keep the decoding of 16-bit
/// (and side) signals within 32-bit sums.
fn limit_precision(precision: u32, bps: u32, order: usize) -> u32 {
    if bps <= 17 {
        let limit = 32u32.saturating_sub(bps + order.max(1).ilog2());
        precision.min(limit).max(lpc::MIN_PRECISION)
    } else {
        precision
    }
}

/// Costs the residual in `sc.residual` coded as `kind` (`fixed_bits` being
/// everything but the residual section) and keeps it in `slot` when it is
/// the smallest so far.
fn consider(
    slot: &mut Slot,
    sc: &mut Scratch,
    k: &Kernels,
    settings: &Settings,
    kind: Kind,
    fixed_bits: u64,
) -> bool {
    let order = match kind {
        Kind::Fixed { order } | Kind::Lpc { order, .. } => order,
        _ => 0,
    };
    let choice = rice::search(
        k,
        &sc.residual,
        order,
        settings.max_partition_order,
        &mut sc.sums,
        &mut sc.params,
    );
    let bits = fixed_bits + choice.bits;
    if bits < slot.bits {
        slot.bits = bits;
        slot.kind = kind;
        slot.rice = choice;
        std::mem::swap(&mut slot.residual, &mut sc.residual);
        std::mem::swap(&mut slot.params, &mut sc.params);
        true
    } else {
        false
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_numbers_follow_utf8() {
        let enc = |v: u64| {
            let mut w = BitWriter::default();
            write_coded_number(&mut w, v);
            w.bytes().to_vec()
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

    /// Music-like test signal: tones, a sweep and a little noise, per
    /// channel, at `bits` per sample.
    fn tones(frames: usize, channels: usize, bits: u32, seed: u64) -> Vec<i32> {
        let amp = ((1i64 << (bits - 1)) - 1) as f64;
        let mut r = seed;
        let mut out = Vec::with_capacity(frames * channels);
        for i in 0..frames {
            let t = i as f64 / 44100.0;
            for c in 0..channels {
                r = r
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((r >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.002;
                let v = 0.3 * (2.0 * std::f64::consts::PI * (220.0 + c as f64) * t).sin()
                    + 0.2 * (2.0 * std::f64::consts::PI * 1337.0 * t).sin()
                    + 0.1 * (std::f64::consts::PI * (100.0 + 3000.0 * t) * t).sin()
                    + noise;
                out.push((v * amp) as i32);
            }
        }
        out
    }

    /// The estimated size of the best coding of `x` (one channel).
    fn estimate(enc: &mut FrameEncoder<i32>, x: &[i32], bps: u32) -> u64 {
        enc.sig[0].clear();
        enc.sig[0].extend_from_slice(x);
        enc.ensure_windows(x.len());
        enc.analyze(0, bps);
        enc.slots[0].bits
    }

    /// The precision search (libFLAC's `-p`, which no level turns on) and
    /// the trial of a few precisions below the default (levels 7 and 8)
    /// never pick a subframe coding that they estimate larger than the
    /// default precision alone, and the frames they write are smaller in
    /// all.
    #[test]
    fn precision_search_never_codes_larger() {
        let base = Settings {
            block_size: 4096,
            max_lpc_order: 12,
            stereo: Stereo::Exhaustive,
            max_partition_order: 6,
            apodizations: &[Apodization::SubdivideTukey(3)],
            precision_search: false,
            precision_steps: 0,
        };
        let cases = [
            (16u32, 2usize, 4096usize),
            (24, 1, 4096),
            (16, 2, 1152),
            (8, 3, 1000),
            (20, 1, 192),
        ];
        let variants = [
            (true, 0u32, "the full search"),
            (false, 1, "one step"),
            (false, 2, "two steps"),
        ];
        for (search, steps, name) in variants {
            let (mut plain_total, mut search_total) = (0, 0);
            for (bits, channels, block) in cases {
                let plain = Settings {
                    block_size: block,
                    ..base
                };
                let tried = Settings {
                    precision_search: search,
                    precision_steps: steps,
                    ..plain
                };
                let mut a = FrameEncoder::<i32>::new(bits, channels, 44100, plain);
                let mut b = FrameEncoder::<i32>::new(bits, channels, 44100, tried);
                let x = tones(block * 6 + 77, channels, bits, u64::from(bits));
                for (i, f) in x.chunks(block * channels).enumerate() {
                    for c in 0..channels {
                        let ch: Vec<i32> = f.iter().skip(c).step_by(channels).copied().collect();
                        let (ea, eb) = (estimate(&mut a, &ch, bits), estimate(&mut b, &ch, bits));
                        assert!(
                            eb <= ea,
                            "{name}, {bits} bits, block {block}, frame {i} channel {c}: {eb} bits, {ea} without"
                        );
                    }
                    let (mut fa, mut fb) = (Vec::new(), Vec::new());
                    a.encode(f, i as u64, &mut fa);
                    b.encode(f, i as u64, &mut fb);
                    plain_total += fa.len();
                    search_total += fb.len();
                }
            }
            assert!(
                search_total < plain_total,
                "{name}: {search_total} vs {plain_total}"
            );
        }
    }

    #[test]
    fn fixed_residuals_invert() {
        let x: Vec<i32> = (0..50).map(|i| (i * i * 7 - 300 * i) % 1000).collect();
        for order in 0..=4 {
            let mut r = Vec::new();
            kernels::fixed_residual32(&x, order, &mut r);
            // Rebuild from warm-up + residual with the decoder's recurrence.
            let mut y: Vec<i32> = x[..order].to_vec();
            for &e in &r {
                let i = y.len();
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
