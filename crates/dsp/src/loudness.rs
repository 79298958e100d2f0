//! Loudness: ITU-R BS.1770-4 / EBU R128 metering and ReplayGain 2.0 values.
//!
//! [`LoudnessMeter`] takes blocks of any [`AudioSpec`] and measures, in one
//! pass and with memory that does not grow with the input:
//!
//! - **integrated loudness** (BS.1770-4 §2 and Annex 1; EBU Tech 3341): the
//!   K-weighting pre-filter (a high shelf and a high-pass, both derived for
//!   the stream's own sample rate by the bilinear transform, as libebur128
//!   does; at 48 kHz they give BS.1770's tabulated coefficients), mean square
//!   per channel over 400 ms gating blocks overlapping by 75 %, channel
//!   weights, an absolute gate at −70 LUFS and a relative gate 10 LU below the
//!   loudness of the blocks that passed the first;
//! - **loudness range** (EBU Tech 3342): short-term (3 s) loudness every
//!   100 ms, gated at −70 LUFS and 20 LU below their mean, and the spread
//!   between their 10th and 95th percentiles;
//! - **sample peak** and **true peak** (BS.1770-4 Annex 2: 4× oversampling
//!   with the Annex's 48-tap polyphase interpolation filter up to 64 kHz, 2×
//!   up to 128 kHz, none above).
//!
//! Block energies are not kept one by one: they are summed into histograms of
//! 0.01 LU bins (count and exact energy sum per bin), so gating is exact but
//! for blocks in the one bin a gate falls in. A finished meter gives a
//! [`Measurement`]; measurements of several tracks [`merge`](Measurement::merge)
//! into an album's, whose gating runs over the union of all their blocks —
//! what ReplayGain 2.0 (and loudgain, rsgain) call album loudness.
//!
//! [`ReplayGain`] turns a measurement into ReplayGain 2.0 values (reference
//! −18 LUFS) and their tag texts; [`r128_gain_q78`] gives the Opus
//! `R128_*_GAIN` value (RFC 7845 §5.2.1).

use aj_core::{AudioSpec, Block, Error, SampleFormat, Samples};

/// ITU-R BS.1770-4 eq. 2: loudness = −0.691 + 10·log10(Σ Gᵢ·zᵢ).
const LOUDNESS_OFFSET: f64 = -0.691;
/// BS.1770-4 Annex 1 / EBU Tech 3341 §2.3: absolute gate, LUFS.
pub const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// BS.1770-4 Annex 1: relative gate for integrated loudness, LU below the
/// absolutely gated loudness.
pub const RELATIVE_GATE_LU: f64 = -10.0;
/// EBU Tech 3342 §3: relative gate for the loudness range, LU.
pub const LRA_RELATIVE_GATE_LU: f64 = -20.0;
/// EBU Tech 3342 §3: the low and high percentiles of the loudness range.
const LRA_LOW_PERCENTILE: f64 = 0.10;
const LRA_HIGH_PERCENTILE: f64 = 0.95;
/// Gating blocks are 400 ms (BS.1770-4 Annex 1) stepping by 100 ms (75 %
/// overlap): four sub-blocks of 100 ms.
const SUBBLOCKS_PER_GATING_BLOCK: usize = 4;
/// Short-term loudness is measured over 3 s (EBU Tech 3341 §2.2), here
/// every 100 ms: thirty sub-blocks.
const SUBBLOCKS_PER_SHORT_TERM: usize = 30;
/// BS.1770-4 Table 3: weight of the surround channels (+1.5 dB).
pub const SURROUND_WEIGHT: f64 = 1.41;

/// ReplayGain 2.0 reference loudness, LUFS (ReplayGain 2.0 specification,
/// "Reference level": −18 LUFS, 5 dB above EBU R128's −23).
pub const REPLAYGAIN_REFERENCE_LUFS: f64 = -18.0;
/// EBU R128 target level, LUFS, which Opus `R128_*_GAIN` tags refer to
/// (RFC 7845 §5.2.1).
pub const R128_REFERENCE_LUFS: f64 = -23.0;

/// K-weighting stage 1, a high shelf (BS.1770-4 Table 1 at 48 kHz). The
/// analogue prototype's parameters are those libebur128 derives from the
/// Recommendation's coefficients: centre frequency (Hz), gain (dB), Q, and
/// the shelf's mid-band gain exponent.
const SHELF_F0: f64 = 1_681.974_450_955_533;
const SHELF_GAIN_DB: f64 = 3.999_843_853_973_347;
const SHELF_Q: f64 = 0.707_175_236_955_419_6;
const SHELF_VB_EXPONENT: f64 = 0.499_666_774_154_541_6;
/// K-weighting stage 2, the RLB high-pass (BS.1770-4 Table 2 at 48 kHz):
/// corner frequency (Hz) and Q.
const HIGHPASS_F0: f64 = 38.135_470_876_024_44;
const HIGHPASS_Q: f64 = 0.500_327_037_323_877_3;

/// BS.1770-4 Annex 2: the 48-tap interpolation filter for 4× oversampling,
/// as the Recommendation prints it, one row per phase.
const TRUE_PEAK_4X: [[f64; 12]; 4] = [
    [
        0.001_708_984_375_0,
        0.010_986_328_125_0,
        -0.019_653_320_312_5,
        0.033_203_125_000_0,
        -0.059_448_242_187_5,
        0.137_329_101_562_5,
        0.972_167_968_750_0,
        -0.102_294_921_875_0,
        0.047_607_421_875_0,
        -0.026_611_328_125_0,
        0.014_892_578_125_0,
        -0.008_300_781_250_0,
    ],
    [
        -0.029_174_804_687_5,
        0.029_296_875_000_0,
        -0.051_757_812_500_0,
        0.089_111_328_125_0,
        -0.166_503_906_250_0,
        0.465_087_890_625_0,
        0.779_785_156_250_0,
        -0.200_317_382_812_5,
        0.101_562_500_000_0,
        -0.058_227_539_062_5,
        0.033_081_054_687_5,
        -0.018_920_898_437_5,
    ],
    [
        -0.018_920_898_437_5,
        0.033_081_054_687_5,
        -0.058_227_539_062_5,
        0.101_562_500_000_0,
        -0.200_317_382_812_5,
        0.779_785_156_250_0,
        0.465_087_890_625_0,
        -0.166_503_906_250_0,
        0.089_111_328_125_0,
        -0.051_757_812_500_0,
        0.029_296_875_000_0,
        -0.029_174_804_687_5,
    ],
    [
        -0.008_300_781_250_0,
        0.014_892_578_125_0,
        -0.026_611_328_125_0,
        0.047_607_421_875_0,
        -0.102_294_921_875_0,
        0.972_167_968_750_0,
        0.137_329_101_562_5,
        -0.059_448_242_187_5,
        0.033_203_125_000_0,
        -0.019_653_320_312_5,
        0.010_986_328_125_0,
        0.001_708_984_375_0,
    ],
];
/// Taps of every interpolation phase.
const TP_TAPS: usize = 12;
/// Highest sample rate oversampled 4× (BS.1770-4 Annex 2 asks for at least
/// 192 kHz after oversampling; 4× of 44.1/48 kHz, 2× of 88.2/96 kHz).
const TP_4X_MAX_RATE: u32 = 64_000;
/// Highest sample rate oversampled 2×; above, the sample peak is the true peak.
const TP_2X_MAX_RATE: u32 = 128_000;

/// Histogram bins per LU.
const BINS_PER_LU: f64 = 100.0;
/// Loudness of the top of the histogram, LUFS. Louder blocks (only possible
/// with many channels near full scale) go into the top bin, energy intact.
const HISTOGRAM_TOP_LUFS: f64 = 40.0;
const HISTOGRAM_BINS: usize = ((HISTOGRAM_TOP_LUFS - ABSOLUTE_GATE_LUFS) * BINS_PER_LU) as usize;

/// Loudness (LUFS) of a mean weighted energy.
fn energy_to_lufs(z: f64) -> f64 {
    LOUDNESS_OFFSET + 10.0 * z.log10()
}

/// Mean weighted energy of a loudness (LUFS).
fn lufs_to_energy(l: f64) -> f64 {
    10f64.powf((l - LOUDNESS_OFFSET) / 10.0)
}

/// Channel weights (BS.1770-4 Table 3) by channel count, in the WAV/FLAC
/// channel order: 1.0 for left, right and centre, 1.41 for surrounds, 0 for
/// the LFE (4th channel of 5.1, 6.1 and 7.1).
pub fn channel_weights(channels: u16) -> Vec<f64> {
    let s = SURROUND_WEIGHT;
    match channels {
        // quad: FL FR BL BR
        4 => vec![1.0, 1.0, s, s],
        // 5.0: FL FR FC BL BR
        5 => vec![1.0, 1.0, 1.0, s, s],
        // 5.1: FL FR FC LFE BL BR
        6 => vec![1.0, 1.0, 1.0, 0.0, s, s],
        // 6.1: FL FR FC LFE BC SL SR
        7 => vec![1.0, 1.0, 1.0, 0.0, s, s, s],
        // 7.1: FL FR FC LFE BL BR SL SR
        8 => vec![1.0, 1.0, 1.0, 0.0, s, s, s, s],
        n => vec![1.0; usize::from(n)],
    }
}

/// A second-order IIR section, transposed direct form II, in f64.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
}

impl Biquad {
    /// K-weighting stage 1 at `rate` Hz (bilinear transform of the shelf).
    fn shelf(rate: f64) -> Biquad {
        let k = (std::f64::consts::PI * SHELF_F0 / rate).tan();
        let vh = 10f64.powf(SHELF_GAIN_DB / 20.0);
        let vb = vh.powf(SHELF_VB_EXPONENT);
        let a0 = 1.0 + k / SHELF_Q + k * k;
        Biquad {
            b0: (vh + vb * k / SHELF_Q + k * k) / a0,
            b1: 2.0 * (k * k - vh) / a0,
            b2: (vh - vb * k / SHELF_Q + k * k) / a0,
            a1: 2.0 * (k * k - 1.0) / a0,
            a2: (1.0 - k / SHELF_Q + k * k) / a0,
        }
    }

    /// K-weighting stage 2 at `rate` Hz (bilinear transform of the high-pass).
    fn highpass(rate: f64) -> Biquad {
        let k = (std::f64::consts::PI * HIGHPASS_F0 / rate).tan();
        let a0 = 1.0 + k / HIGHPASS_Q + k * k;
        Biquad {
            b0: 1.0,
            b1: -2.0,
            b2: 1.0,
            a1: 2.0 * (k * k - 1.0) / a0,
            a2: (1.0 - k / HIGHPASS_Q + k * k) / a0,
        }
    }
}

/// The state of one biquad on one channel.
#[derive(Debug, Clone, Copy, Default)]
struct BiquadState {
    s1: f64,
    s2: f64,
}

impl BiquadState {
    #[inline]
    fn run(&mut self, f: &Biquad, x: f64) -> f64 {
        let y = f.b0 * x + self.s1;
        self.s1 = f.b1 * x - f.a1 * y + self.s2;
        self.s2 = f.b2 * x - f.a2 * y;
        y
    }
}

/// Block energies by loudness, in 0.01 LU bins from −70 LUFS up: a count and
/// the exact sum of the energies in each bin. Fixed size, mergeable.
#[derive(Debug, Clone, PartialEq)]
struct Histogram {
    counts: Vec<u64>,
    sums: Vec<f64>,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: vec![0; HISTOGRAM_BINS],
            sums: vec![0.0; HISTOGRAM_BINS],
        }
    }

    /// Adds a block of mean weighted energy `z`; blocks at or below the
    /// absolute gate are not kept (they never count).
    fn add(&mut self, z: f64) {
        if z.is_nan() || z <= 0.0 || !z.is_finite() {
            return;
        }
        let l = energy_to_lufs(z);
        if l <= ABSOLUTE_GATE_LUFS {
            return;
        }
        let bin = ((l - ABSOLUTE_GATE_LUFS) * BINS_PER_LU) as usize;
        let bin = bin.min(HISTOGRAM_BINS - 1);
        if let (Some(c), Some(s)) = (self.counts.get_mut(bin), self.sums.get_mut(bin)) {
            *c += 1;
            *s += z;
        }
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
    }

    /// Non-empty bins as (count, energy sum), from quiet to loud.
    fn bins(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.counts
            .iter()
            .zip(&self.sums)
            .filter(|(c, _)| **c > 0)
            .map(|(c, s)| (*c, *s))
    }

    /// Mean energy of the blocks whose bin's mean loudness is above `gate`
    /// (LUFS), and their count.
    fn mean_above(&self, gate: f64) -> (f64, u64) {
        let (mut n, mut sum) = (0u64, 0.0f64);
        for (c, s) in self.bins() {
            if energy_to_lufs(s / c as f64) > gate {
                n += c;
                sum += s;
            }
        }
        if n == 0 {
            (0.0, 0)
        } else {
            (sum / n as f64, n)
        }
    }

    /// BS.1770-4 Annex 1 integrated loudness over these blocks.
    fn gated_loudness(&self, relative_gate: f64) -> Option<f64> {
        let (z, n) = self.mean_above(ABSOLUTE_GATE_LUFS);
        if n == 0 {
            return None;
        }
        let gate = energy_to_lufs(z) + relative_gate;
        let (z, n) = self.mean_above(gate);
        (n > 0).then(|| energy_to_lufs(z))
    }
}

/// How peaks are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeakMode {
    /// The largest sample magnitude only.
    #[default]
    Sample,
    /// Also the true (inter-sample) peak, BS.1770-4 Annex 2.
    True,
}

/// Per-channel true-peak interpolator state.
#[derive(Debug, Clone)]
struct TruePeak {
    /// 1, 2 or 4.
    factor: usize,
    /// Per channel: the last `TP_TAPS` samples, written twice (at `pos` and
    /// `pos + TP_TAPS`) so that the newest `TP_TAPS` form one slice.
    history: Vec<[f64; 2 * TP_TAPS]>,
    pos: usize,
    /// The half-sample interpolator for 2×.
    half: [f64; TP_TAPS],
    peak: f64,
}

impl TruePeak {
    fn new(rate: u32, channels: usize) -> TruePeak {
        let factor = if rate <= TP_4X_MAX_RATE {
            4
        } else if rate <= TP_2X_MAX_RATE {
            2
        } else {
            1
        };
        TruePeak {
            factor,
            history: vec![[0.0; 2 * TP_TAPS]; channels],
            pos: 0,
            half: half_sample_filter(),
            peak: 0.0,
        }
    }

    /// Feeds one frame (one sample per channel).
    #[inline]
    fn push_frame(&mut self, frame: &[f64]) {
        if self.factor == 1 {
            return;
        }
        let pos = self.pos;
        for (h, &x) in self.history.iter_mut().zip(frame) {
            h[pos] = x;
            h[pos + TP_TAPS] = x;
            // Newest first: h[pos + TP_TAPS - j] for j = 0..TP_TAPS is x[n - j].
            let window = &h[pos + 1..=pos + TP_TAPS];
            let mut peak = self.peak;
            if self.factor == 4 {
                for phase in &TRUE_PEAK_4X {
                    // window is oldest..newest; coefficient j goes with x[n - j].
                    let y: f64 = phase
                        .iter()
                        .zip(window.iter().rev())
                        .map(|(c, x)| c * x)
                        .sum();
                    peak = peak.max(y.abs());
                }
            } else {
                let y: f64 = self
                    .half
                    .iter()
                    .zip(window.iter().rev())
                    .map(|(c, x)| c * x)
                    .sum();
                peak = peak.max(y.abs());
            }
            self.peak = peak;
        }
        self.pos = (pos + 1) % TP_TAPS;
    }
}

/// A 12-tap interpolator for the instant half-way between the 6th and 7th
/// newest samples: a Blackman-windowed sinc, normalised to unity gain at DC.
fn half_sample_filter() -> [f64; TP_TAPS] {
    let mut h = [0.0; TP_TAPS];
    let centre = (TP_TAPS as f64 - 1.0) / 2.0;
    let n = TP_TAPS as f64;
    for (i, c) in h.iter_mut().enumerate() {
        let t = i as f64 - centre;
        let x = std::f64::consts::PI * t;
        let sinc = if t == 0.0 { 1.0 } else { x.sin() / x };
        let w = 2.0 * std::f64::consts::PI * (i as f64 + 0.5) / n;
        let blackman = 0.42 - 0.5 * w.cos() + 0.08 * (2.0 * w).cos();
        *c = sinc * blackman;
    }
    let sum: f64 = h.iter().sum();
    if sum != 0.0 {
        h.iter_mut().for_each(|c| *c /= sum);
    }
    h
}

/// A streaming loudness meter for one stream of one [`AudioSpec`].
#[derive(Debug, Clone)]
pub struct LoudnessMeter {
    spec: AudioSpec,
    weights: Vec<f64>,
    shelf: Biquad,
    highpass: Biquad,
    /// Per channel: (shelf state, high-pass state).
    state: Vec<(BiquadState, BiquadState)>,
    /// Frames per 100 ms sub-block.
    subblock_frames: usize,
    frames_in_subblock: usize,
    /// Weighted sum of squares of the sub-block being filled.
    acc: f64,
    /// Mean weighted energies of the last thirty sub-blocks (a ring).
    recent: [f64; SUBBLOCKS_PER_SHORT_TERM],
    subblocks: u64,
    gating: Histogram,
    short_term: Histogram,
    sample_peak: f64,
    true_peak: Option<TruePeak>,
    frames: u64,
    /// Scratch: one frame as f64.
    frame: Vec<f64>,
}

impl LoudnessMeter {
    /// A meter for blocks of `spec`.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] for a spec out of range (no channels, a zero
    /// rate, a depth over 32 bits).
    pub fn new(spec: AudioSpec, peaks: PeakMode) -> Result<Self, Error> {
        spec.validate()?;
        let rate = f64::from(spec.sample_rate);
        let channels = usize::from(spec.channels);
        // Frames per 100 ms, rounded as libebur128 does for rates that are
        // not a multiple of 10 Hz.
        let subblock_frames = ((spec.sample_rate as usize + 5) / 10).max(1);
        Ok(LoudnessMeter {
            spec,
            weights: channel_weights(spec.channels),
            shelf: Biquad::shelf(rate),
            highpass: Biquad::highpass(rate),
            state: vec![Default::default(); channels],
            subblock_frames,
            frames_in_subblock: 0,
            acc: 0.0,
            recent: [0.0; SUBBLOCKS_PER_SHORT_TERM],
            subblocks: 0,
            gating: Histogram::new(),
            short_term: Histogram::new(),
            sample_peak: 0.0,
            true_peak: (peaks == PeakMode::True).then(|| TruePeak::new(spec.sample_rate, channels)),
            frames: 0,
            frame: vec![0.0; channels],
        })
    }

    /// The spec this meter takes.
    pub fn spec(&self) -> AudioSpec {
        self.spec
    }

    /// Frames measured so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Measures one block.
    ///
    /// # Errors
    /// [`Error::SpecMismatch`] when the block's spec is not the meter's, or
    /// its samples are not of its spec's kind.
    pub fn add(&mut self, block: &Block) -> Result<(), Error> {
        if block.spec != self.spec {
            return Err(Error::SpecMismatch {
                expected: self.spec,
                actual: block.spec,
            });
        }
        match (&block.samples, self.spec.format) {
            (Samples::Int(v), SampleFormat::Int { bits }) => {
                let scale = 1.0 / (1u64 << (bits.clamp(1, 32) - 1)) as f64;
                self.add_frames(v, |s| f64::from(s) * scale);
            }
            (Samples::Float(v), SampleFormat::Float) => {
                self.add_frames(v, |s| if s.is_finite() { f64::from(s) } else { 0.0 });
            }
            _ => {
                return Err(Error::Other(format!(
                    "block samples do not match their spec ({:?})",
                    self.spec.format
                )))
            }
        }
        Ok(())
    }

    fn add_frames<T: Copy>(&mut self, samples: &[T], to_f64: impl Fn(T) -> f64) {
        let channels = self.frame.len();
        for chunk in samples.chunks_exact(channels) {
            for (f, &s) in self.frame.iter_mut().zip(chunk) {
                *f = to_f64(s);
            }
            let mut sum = 0.0;
            for ((x, (st1, st2)), w) in self.frame.iter().zip(&mut self.state).zip(&self.weights) {
                self.sample_peak = self.sample_peak.max(x.abs());
                let y = st2.run(&self.highpass, st1.run(&self.shelf, *x));
                sum += w * y * y;
            }
            if let Some(tp) = self.true_peak.as_mut() {
                tp.push_frame(&self.frame);
            }
            self.acc += sum;
            self.frames += 1;
            self.frames_in_subblock += 1;
            if self.frames_in_subblock == self.subblock_frames {
                self.end_subblock();
            }
        }
    }

    fn end_subblock(&mut self) {
        let z = self.acc / self.subblock_frames as f64;
        self.acc = 0.0;
        self.frames_in_subblock = 0;
        let slot = (self.subblocks % SUBBLOCKS_PER_SHORT_TERM as u64) as usize;
        if let Some(r) = self.recent.get_mut(slot) {
            *r = z;
        }
        self.subblocks += 1;
        let newest = |n: usize| -> f64 {
            (0..n)
                .map(|k| {
                    let i = (slot + SUBBLOCKS_PER_SHORT_TERM - k) % SUBBLOCKS_PER_SHORT_TERM;
                    self.recent.get(i).copied().unwrap_or(0.0)
                })
                .sum::<f64>()
                / n as f64
        };
        if self.subblocks >= SUBBLOCKS_PER_GATING_BLOCK as u64 {
            let z = newest(SUBBLOCKS_PER_GATING_BLOCK);
            self.gating.add(z);
        }
        if self.subblocks >= SUBBLOCKS_PER_SHORT_TERM as u64 {
            let z = newest(SUBBLOCKS_PER_SHORT_TERM);
            self.short_term.add(z);
        }
    }

    /// The measurement so far. Frames of a 100 ms sub-block not yet complete
    /// are not in the loudness (as in libebur128 and ffmpeg), but are in the
    /// peaks.
    pub fn measurement(&self) -> Measurement {
        let true_peak = self
            .true_peak
            .as_ref()
            .map(|tp| tp.peak.max(self.sample_peak));
        Measurement {
            gating: self.gating.clone(),
            short_term: self.short_term.clone(),
            sample_peak: self.sample_peak,
            true_peak,
            frames: self.frames,
        }
    }
}

/// What a meter measured, mergeable over the tracks of an album.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    gating: Histogram,
    short_term: Histogram,
    sample_peak: f64,
    true_peak: Option<f64>,
    frames: u64,
}

impl Default for Measurement {
    fn default() -> Self {
        Measurement {
            gating: Histogram::new(),
            short_term: Histogram::new(),
            sample_peak: 0.0,
            true_peak: None,
            frames: 0,
        }
    }
}

impl Measurement {
    /// An empty measurement, to merge tracks into.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds another track's blocks and peaks: the result is the measurement
    /// of both played one after the other (gating over all their blocks).
    pub fn merge(&mut self, other: &Measurement) {
        self.gating.merge(&other.gating);
        self.short_term.merge(&other.short_term);
        self.sample_peak = self.sample_peak.max(other.sample_peak);
        self.true_peak = match (self.true_peak, other.true_peak) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.frames += other.frames;
    }

    /// Integrated loudness in LUFS (BS.1770-4); `None` when no 400 ms block
    /// is above the absolute gate (silence, or under 0.4 s of audio).
    pub fn integrated(&self) -> Option<f64> {
        self.gating.gated_loudness(RELATIVE_GATE_LU)
    }

    /// Loudness range in LU (EBU Tech 3342); `None` without any 3 s
    /// short-term block above the absolute gate.
    pub fn loudness_range(&self) -> Option<f64> {
        let (z, n) = self.short_term.mean_above(ABSOLUTE_GATE_LUFS);
        if n == 0 {
            return None;
        }
        let gate = energy_to_lufs(z) + LRA_RELATIVE_GATE_LU;
        let kept: Vec<(u64, f64)> = self
            .short_term
            .bins()
            .map(|(c, s)| (c, energy_to_lufs(s / c as f64)))
            .filter(|(_, l)| *l > gate)
            .collect();
        let total: u64 = kept.iter().map(|(c, _)| c).sum();
        if total == 0 {
            return None;
        }
        let percentile = |p: f64| -> f64 {
            // Nearest rank below: the value at index floor((n − 1)·p).
            let rank = ((total - 1) as f64 * p).floor() as u64;
            let mut seen = 0u64;
            for (c, l) in &kept {
                seen += c;
                if seen > rank {
                    return *l;
                }
            }
            kept.last().map(|(_, l)| *l).unwrap_or(0.0)
        };
        Some((percentile(LRA_HIGH_PERCENTILE) - percentile(LRA_LOW_PERCENTILE)).max(0.0))
    }

    /// The largest sample magnitude, linear (1.0 = full scale).
    pub fn sample_peak(&self) -> f64 {
        self.sample_peak
    }

    /// The true peak, linear, when the meter measured it (never below the
    /// sample peak).
    pub fn true_peak(&self) -> Option<f64> {
        self.true_peak
    }

    /// Frames measured.
    pub fn frames(&self) -> u64 {
        self.frames
    }
}

/// ReplayGain 2.0 values of a track or an album.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayGain {
    /// Gain to reach −18 LUFS, dB.
    pub gain_db: f64,
    /// Peak, linear (sample peak, or the true peak when asked).
    pub peak: f64,
    /// The integrated loudness it comes from, LUFS.
    pub loudness: f64,
}

impl ReplayGain {
    /// The values for a measurement, with its true peak when `true_peak`
    /// (and the meter measured one) else its sample peak. `None` when the
    /// measurement has no integrated loudness (silence or under 0.4 s).
    pub fn from_measurement(m: &Measurement, true_peak: bool) -> Option<ReplayGain> {
        let loudness = m.integrated()?;
        let peak = if true_peak {
            m.true_peak().unwrap_or(m.sample_peak())
        } else {
            m.sample_peak()
        };
        Some(ReplayGain {
            gain_db: REPLAYGAIN_REFERENCE_LUFS - loudness,
            peak,
            loudness,
        })
    }

    /// The `REPLAYGAIN_*_GAIN` text: two decimals, a sign and "dB"
    /// ("-6.20 dB", "+1.05 dB").
    pub fn gain_text(&self) -> String {
        format_gain(self.gain_db)
    }

    /// The `REPLAYGAIN_*_PEAK` text: six decimals ("0.988525").
    pub fn peak_text(&self) -> String {
        format!("{:.6}", self.peak)
    }

    /// The Opus `R128_*_GAIN` value for this loudness (see [`r128_gain_q78`]).
    pub fn r128_q78(&self) -> i16 {
        r128_gain_q78(self.loudness)
    }
}

/// A gain as ReplayGain writes it: "+1.05 dB", "-6.20 dB" (never "-0.00").
pub fn format_gain(db: f64) -> String {
    let rounded = (db * 100.0).round() / 100.0;
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    format!("{rounded:+.2} dB")
}

/// The Opus `R128_TRACK_GAIN` / `R128_ALBUM_GAIN` value (RFC 7845 §5.2.1):
/// a Q7.8 fixed-point gain in dB that brings the stream to EBU R128's
/// −23 LUFS, applied by players *in addition to* the output gain of the ID
/// header.
///
/// `loudness` must be the integrated loudness (LUFS) of the stream as
/// decoded *with* the header's output gain applied (as RFC 7845 §5.1 asks of
/// decoders, and as this suite's Opus decoder does), so the value is
/// `256 · (−23 − loudness)`, rounded and clamped to `i16`.
pub fn r128_gain_q78(loudness: f64) -> i16 {
    let q = ((R128_REFERENCE_LUFS - loudness) * 256.0).round();
    q.clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// Loudness (LUFS) of a full-scale-relative mean square level, for tests and
/// callers that need the inverse of [`Measurement::integrated`].
pub fn lufs_for_energy(z: f64) -> f64 {
    energy_to_lufs(z)
}

/// Mean weighted energy for a loudness (LUFS).
pub fn energy_for_lufs(l: f64) -> f64 {
    lufs_to_energy(l)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn k_weighting_matches_bs1770_at_48k() {
        // BS.1770-4 Tables 1 and 2.
        let s = Biquad::shelf(48_000.0);
        assert!((s.b0 - 1.535_124_859_586_97).abs() < 1e-9, "{s:?}");
        assert!((s.b1 + 2.691_696_189_406_38).abs() < 1e-9);
        assert!((s.b2 - 1.198_392_810_852_85).abs() < 1e-9);
        assert!((s.a1 + 1.690_659_293_182_41).abs() < 1e-9);
        assert!((s.a2 - 0.732_480_774_215_85).abs() < 1e-9);
        let h = Biquad::highpass(48_000.0);
        assert!((h.a1 + 1.990_047_454_833_98).abs() < 1e-9, "{h:?}");
        assert!((h.a2 - 0.990_072_250_366_21).abs() < 1e-9);
    }

    #[test]
    fn gain_texts() {
        assert_eq!(format_gain(-6.2), "-6.20 dB");
        assert_eq!(format_gain(1.049_9), "+1.05 dB");
        assert_eq!(format_gain(-0.001), "+0.00 dB");
        let rg = ReplayGain {
            gain_db: -5.0,
            peak: 0.988_525_4,
            loudness: -13.0,
        };
        assert_eq!(rg.peak_text(), "0.988525");
        assert_eq!(rg.gain_text(), "-5.00 dB");
        // RFC 7845 §5.2.1: Q7.8 relative to −23 LUFS.
        assert_eq!(r128_gain_q78(-13.0), -2560);
        assert_eq!(r128_gain_q78(-23.0), 0);
        assert_eq!(r128_gain_q78(-30.5), 1920);
        assert_eq!(r128_gain_q78(-500.0), i16::MAX);
    }

    #[test]
    fn histogram_gates() {
        let mut h = Histogram::new();
        h.add(lufs_to_energy(-20.0));
        h.add(lufs_to_energy(-20.0));
        h.add(lufs_to_energy(-40.0)); // under the relative gate
        h.add(lufs_to_energy(-80.0)); // under the absolute gate
        let l = h.gated_loudness(RELATIVE_GATE_LU).unwrap();
        assert!((l + 20.0).abs() < 1e-9, "{l}");
        assert_eq!(Histogram::new().gated_loudness(RELATIVE_GATE_LU), None);
    }
}
