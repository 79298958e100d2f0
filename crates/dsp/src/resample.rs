//! Sample-rate conversion.
//!
//! [`Resampler`] converts interleaved float PCM from one fixed rate to another,
//! streaming in chunks with memory bounded by the filter length (never by the
//! length of the input). It is built on rubato's synchronous resampler
//! ([`rubato::Fft`]): a windowed-sinc low-pass (Blackman-Harris², about a
//! thousand taps at common rate pairs) applied by FFT convolution, at the
//! exact rational ratio `out_rate / in_rate` reduced by their GCD.
//!
//! Why the synchronous resampler rather than rubato's asynchronous sinc one:
//! both give the same quality (rubato's documentation says so, and both use
//! the same windowed sinc), but the asynchronous one delays its output by a
//! fractional number of frames, which cannot be trimmed exactly. The FFT
//! resampler's delay is a whole number of output frames (half its FFT block),
//! so the output here starts exactly at the input's first instant.
//!
//! Contract: after [`Resampler::flush`], the total output is exactly
//! `round(in_frames * out_rate / in_rate)` frames ([`output_frames`]), with no
//! leading delay: output frame `k` is the input signal at time `k / out_rate`.

use aj_core::{AudioSpec, Block, Error, Processor, SampleFormat, Samples};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _, WindowFunction};

/// Input frames per processing call. The FFT block is about this long too
/// (rounded to a multiple of `in_rate / gcd`), which sets the filter length:
/// a longer block gives a longer sinc and a cut-off closer to Nyquist.
const CHUNK_FRAMES: usize = 1024;

/// Frames the whole output will hold for `in_frames` input frames:
/// `round(in_frames * out_rate / in_rate)`, halves rounded up.
pub fn output_frames(in_frames: u64, in_rate: u32, out_rate: u32) -> u64 {
    if in_rate == 0 {
        return 0;
    }
    let num = u128::from(in_frames) * u128::from(out_rate) + u128::from(in_rate / 2);
    u64::try_from(num / u128::from(in_rate)).unwrap_or(u64::MAX)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// A streaming sample-rate converter for interleaved `f32` frames.
pub struct Resampler {
    inner: Fft<f64>,
    channels: usize,
    in_rate: u32,
    out_rate: u32,
    /// Input frames waiting for a full chunk (interleaved, f64).
    pending: Vec<f64>,
    /// One chunk of output (interleaved, f64), reused.
    out_buf: Vec<f64>,
    /// Output frames still to drop at the start (the filter delay).
    to_trim: usize,
    frames_in: u64,
    frames_out: u64,
    finished: bool,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("channels", &self.channels)
            .field("in_rate", &self.in_rate)
            .field("out_rate", &self.out_rate)
            .field("frames_in", &self.frames_in)
            .field("frames_out", &self.frames_out)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    /// A converter from `in_rate` to `out_rate` Hz for `channels` channels.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] for a zero rate or zero channels.
    pub fn new(in_rate: u32, out_rate: u32, channels: u16) -> Result<Self, Error> {
        if in_rate == 0 || out_rate == 0 {
            return Err(Error::InvalidSpec(format!(
                "cannot resample from {in_rate} Hz to {out_rate} Hz"
            )));
        }
        if channels == 0 {
            return Err(Error::InvalidSpec("0 channels".into()));
        }
        let channels = usize::from(channels);
        // rubato's FFT block holds a whole number of `in_rate / gcd` input
        // frames. Its filter is centred on frame `floor(fft_size_in / 2)`; with
        // an even number of blocks both FFT sizes are even, the delay is
        // exactly `fft_size_out / 2` output frames, and trimming it aligns the
        // output with the input to the sample.
        let gcd = gcd(in_rate, out_rate);
        let min_in = (in_rate / gcd) as usize;
        let blocks = CHUNK_FRAMES.div_ceil(min_in).max(1);
        let blocks = blocks + blocks % 2;
        let inner = Fft::<f64>::new_custom(
            in_rate as usize,
            out_rate as usize,
            blocks * min_in,
            1,
            channels,
            WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|e| Error::Other(format!("resampler: {e}")))?;
        let to_trim = inner.output_delay();
        let out_buf = vec![0.0; inner.output_frames_max() * channels];
        let pending = Vec::with_capacity(inner.input_frames_max() * channels);
        Ok(Resampler {
            inner,
            channels,
            in_rate,
            out_rate,
            pending,
            out_buf,
            to_trim,
            frames_in: 0,
            frames_out: 0,
            finished: false,
        })
    }

    /// Input rate in Hz.
    pub fn in_rate(&self) -> u32 {
        self.in_rate
    }

    /// Output rate in Hz.
    pub fn out_rate(&self) -> u32 {
        self.out_rate
    }

    /// Takes interleaved frames and appends whatever output is ready to `out`
    /// (interleaved). Output lags input by the filter delay; the rest comes
    /// from [`Resampler::flush`].
    ///
    /// # Errors
    /// [`Error::Other`] when `input` is not whole frames or after `flush`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), Error> {
        if self.finished {
            return Err(Error::Other(
                "resampler: input after the end of the stream".into(),
            ));
        }
        if !input.len().is_multiple_of(self.channels) {
            return Err(Error::Other(format!(
                "resampler: {} samples are not whole frames of {} channels",
                input.len(),
                self.channels
            )));
        }
        self.frames_in += (input.len() / self.channels) as u64;
        let mut rest = input;
        while !rest.is_empty() {
            let chunk = self.inner.input_frames_next() * self.channels;
            let take = chunk
                .saturating_sub(self.pending.len())
                .min(rest.len())
                .max(1);
            let (now, later) = rest.split_at(take);
            self.pending.extend(now.iter().map(|&s| f64::from(s)));
            rest = later;
            if self.pending.len() == chunk {
                self.run_chunk(None, out)?;
                self.pending.clear();
            }
        }
        Ok(())
    }

    /// Ends the stream: pushes the held-back input through the filter and
    /// appends the remaining output, so that the total output is exactly
    /// [`output_frames`] of the total input.
    ///
    /// # Errors
    /// A failure inside the resampler (not expected).
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let total = output_frames(self.frames_in, self.in_rate, self.out_rate);
        let chunk = self.inner.input_frames_next() * self.channels;
        let partial = self.pending.len() / self.channels;
        // The last partial chunk, padded with silence by rubato.
        self.pending.resize(chunk, 0.0);
        self.run_chunk(Some(partial), out)?;
        // Then silence until the delayed tail has come out.
        self.pending.fill(0.0);
        while self.frames_out < total {
            self.run_chunk(Some(0), out)?;
        }
        Ok(())
    }

    /// Processes one chunk from `pending` and appends its output, dropping the
    /// start-up delay and anything past the total length once it is known.
    fn run_chunk(&mut self, partial: Option<usize>, out: &mut Vec<f32>) -> Result<(), Error> {
        let in_frames = self.pending.len() / self.channels;
        let out_frames = self.out_buf.len() / self.channels;
        let input = InterleavedSlice::new(&self.pending[..], self.channels, in_frames)
            .map_err(|e| Error::Other(format!("resampler: {e}")))?;
        let mut output =
            InterleavedSlice::new_mut(&mut self.out_buf[..], self.channels, out_frames)
                .map_err(|e| Error::Other(format!("resampler: {e}")))?;
        let indexing = partial.map(|n| rubato::Indexing::new().partial_len(n));
        let (_, written) = self
            .inner
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| Error::Other(format!("resampler: {e}")))?;
        let mut start = written.min(self.to_trim);
        self.to_trim -= start;
        let mut end = written;
        if self.finished {
            let total = output_frames(self.frames_in, self.in_rate, self.out_rate);
            let room = usize::try_from(total.saturating_sub(self.frames_out)).unwrap_or(usize::MAX);
            end = end.min(start + room);
        }
        start = start.min(end);
        let samples = self
            .out_buf
            .get(start * self.channels..end * self.channels)
            .unwrap_or(&[]);
        out.extend(samples.iter().map(|&s| s as f32));
        self.frames_out += (end - start) as u64;
        Ok(())
    }
}

/// A [`Resampler`] as a pipeline stage over float blocks.
#[derive(Debug)]
pub struct ResampleStage {
    resampler: Resampler,
    input: AudioSpec,
}

impl ResampleStage {
    /// A stage taking float blocks of `input` and emitting them at `out_rate`.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] when `input` is not float or has no channels.
    pub fn new(input: AudioSpec, out_rate: u32) -> Result<Self, Error> {
        if input.format != SampleFormat::Float {
            return Err(Error::InvalidSpec(
                "the resampler takes float samples".into(),
            ));
        }
        let resampler = Resampler::new(input.sample_rate, out_rate, input.channels)?;
        Ok(ResampleStage { resampler, input })
    }
}

impl Processor for ResampleStage {
    fn output_spec(&self) -> AudioSpec {
        AudioSpec {
            sample_rate: self.resampler.out_rate(),
            ..self.input
        }
    }

    fn process(&mut self, block: Block) -> Result<Block, Error> {
        let Samples::Float(samples) = &block.samples else {
            return Err(Error::SpecMismatch {
                expected: self.input,
                actual: block.spec,
            });
        };
        if block.spec != self.input {
            return Err(Error::SpecMismatch {
                expected: self.input,
                actual: block.spec,
            });
        }
        let mut out = Vec::new();
        self.resampler.process(samples, &mut out)?;
        Ok(Block {
            spec: self.output_spec(),
            samples: Samples::Float(out),
        })
    }

    fn flush(&mut self) -> Result<Option<Block>, Error> {
        let mut out = Vec::new();
        self.resampler.flush(&mut out)?;
        Ok((!out.is_empty()).then(|| Block {
            spec: self.output_spec(),
            samples: Samples::Float(out),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sine(frames: usize, rate: u32, freq: f64, channels: usize) -> Vec<f32> {
        let mut v = Vec::with_capacity(frames * channels);
        for i in 0..frames {
            let s = (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() * 0.5;
            for _ in 0..channels {
                v.push(s as f32);
            }
        }
        v
    }

    /// Runs `input` through in blocks of `block` frames.
    fn run(input: &[f32], channels: u16, from: u32, to: u32, block: usize) -> Vec<f32> {
        let mut r = Resampler::new(from, to, channels).unwrap();
        let mut out = Vec::new();
        for piece in input.chunks(block * usize::from(channels)) {
            r.process(piece, &mut out).unwrap();
        }
        r.flush(&mut out).unwrap();
        out
    }

    #[test]
    fn length_is_exact() {
        for &(from, to) in &[
            (44100, 48000),
            (48000, 44100),
            (22050, 48000),
            (96000, 48000),
            (44101, 48000),
            (8000, 48000),
        ] {
            for &frames in &[0usize, 1, 7, 1000, 1023, 1024, 1025, 44100, 50_001] {
                let input = sine(frames, from, 1000.0, 2);
                let out = run(&input, 2, from, to, 333);
                let want = output_frames(frames as u64, from, to);
                assert_eq!(out.len() as u64, want * 2, "{from}->{to}, {frames} frames");
            }
        }
    }

    #[test]
    fn rounding_of_length() {
        assert_eq!(output_frames(1, 44100, 48000), 1);
        assert_eq!(output_frames(44100, 44100, 48000), 48000);
        assert_eq!(output_frames(147, 44100, 48000), 160);
        // 3 * 48000 / 44100 = 3.265… → 3
        assert_eq!(output_frames(3, 44100, 48000), 3);
        // 1 * 48000 / 96000 = 0.5 → 1 (halves round up)
        assert_eq!(output_frames(1, 96000, 48000), 1);
    }

    /// A 1 kHz sine comes out as a 1 kHz sine in phase with the input (no
    /// leading delay), with a small error.
    #[test]
    fn sine_stays_in_tune_and_aligned() {
        for &(from, to) in &[(44100, 48000), (48000, 44100), (32000, 48000)] {
            let frames = from as usize; // one second
            let input = sine(frames, from, 1000.0, 1);
            let out = run(&input, 1, from, to, 4000);
            let expected = sine(out.len(), to, 1000.0, 1);
            // Skip the edges, where the filter sees the silence outside.
            let edge = to as usize / 20;
            let mut err = 0.0f64;
            let mut sig = 0.0f64;
            for (a, b) in out[edge..out.len() - edge].iter().zip(&expected[edge..]) {
                err += f64::from(a - b).powi(2);
                sig += f64::from(*b).powi(2);
            }
            let snr = 10.0 * (sig / err).log10();
            assert!(snr > 90.0, "{from}->{to}: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn dc_passes() {
        let input = vec![0.25f32; 48000 * 2];
        let out = run(&input, 2, 48000, 44100, 1000);
        assert_eq!(out.len(), 44100 * 2);
        for &s in &out[4000..out.len() - 4000] {
            assert!((s - 0.25).abs() < 1e-4, "{s}");
        }
    }

    #[test]
    fn stage_checks_its_spec() {
        let mut st = ResampleStage::new(AudioSpec::float(44100, 2), 48000).unwrap();
        assert_eq!(st.output_spec(), AudioSpec::float(48000, 2));
        let bad = Block {
            spec: AudioSpec::float(48000, 2),
            samples: Samples::Float(vec![0.0; 4]),
        };
        assert!(st.process(bad).is_err());
        let ok = Block {
            spec: AudioSpec::float(44100, 2),
            samples: Samples::Float(vec![0.1; 8820]),
        };
        let a = st.process(ok).unwrap().frames();
        let b = st.flush().unwrap().map_or(0, |b| b.frames());
        assert_eq!(a + b, 4800);
        assert!(ResampleStage::new(AudioSpec::int(44100, 2, 16), 48000).is_err());
    }
}
