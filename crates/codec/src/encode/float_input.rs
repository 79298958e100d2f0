//! The input side shared by the lossy encoders (MP3, Ogg Vorbis, Opus): check
//! each block's spec, make its float samples safe for a codec library, convert
//! the rate when the codec cannot take the source's, and hand the result on
//! in pieces of bounded size.
//!
//! Safe samples: a float source may hold NaN, ±∞ or absurd magnitudes (a
//! damaged or hostile float WAV). LAME aborts the whole process on them (an
//! `assert` in its psychoacoustic model once energies overflow), and rubato's
//! FFT refuses a NaN spectrum. Non-finite samples become silence (0.0) and
//! finite ones are clamped to ±[`MAX_MAGNITUDE`], far above any real signal
//! yet far below what the codecs' arithmetic overflows on.

use aj_core::{AudioSpec, Block, SampleFormat};
use aj_dsp::resample::Resampler;

use crate::Error;

/// Largest sample magnitude passed to a codec: 64, +36 dBFS. Float sources
/// may legitimately exceed 1.0 by a few dB (and lossy codecs carry that), so
/// the clamp stays well clear of real signals. LAME's limit depends on the
/// bitrate: at 8 kb/s CBR and 24 kHz, a full-scale square wave of ±1500 makes
/// it overrun its bit budget and abort (`quantize.c`, `part2_3_length <=
/// targ_bits`), ±1024 still encodes; higher bitrates tolerate more. 64 keeps
/// a margin of over 20 for that worst case, and for the resampler's overshoot.
pub(super) const MAX_MAGNITUDE: f32 = 64.0;

/// Lowest source rate the lossy encoders resample from. Converting, say,
/// 1 Hz to 48 kHz turns a 16 KB file into hours of audio; no real recording
/// is sampled below a few kHz, so such files are refused with a clear error.
pub(super) const MIN_RESAMPLED_RATE: u32 = 1000;

/// Samples handed to the codec per call at most, so that the codec's output
/// buffers stay small whatever the size of the blocks coming in.
const FRAMES_PER_CALL: usize = 4096;

/// The input stage of one lossy encoder. See the module documentation.
pub(super) struct FloatInput {
    /// The codec's name, for messages ("MP3").
    codec: &'static str,
    spec: AudioSpec,
    /// Set when the codec runs at another rate than the source.
    resampler: Option<Resampler>,
    /// Reused buffer for samples that needed cleaning.
    clean: Vec<f32>,
}

impl FloatInput {
    /// An input stage for blocks of `spec` feeding a codec running at
    /// `codec_rate` Hz.
    ///
    /// # Errors
    /// [`Error::Encode`] when `spec` is not float; [`Error::Unsupported`] when
    /// resampling is needed from a rate below [`MIN_RESAMPLED_RATE`] or from
    /// one the resampler cannot handle.
    pub(super) fn new(
        codec: &'static str,
        spec: AudioSpec,
        codec_rate: u32,
    ) -> Result<Self, Error> {
        if spec.format != SampleFormat::Float {
            return Err(Error::Encode(format!(
                "the {codec} encoder takes float samples"
            )));
        }
        let resampler = if codec_rate == spec.sample_rate {
            None
        } else if spec.sample_rate < MIN_RESAMPLED_RATE {
            return Err(Error::Unsupported(format!(
                "{codec} cannot be made from a source at {} Hz: the lowest sample rate \
                 it converts from is {MIN_RESAMPLED_RATE} Hz",
                spec.sample_rate
            )));
        } else {
            let r = Resampler::new(spec.sample_rate, codec_rate, spec.channels).map_err(|e| {
                let why = match e {
                    aj_core::Error::InvalidSpec(m) => m,
                    e => e.to_string(),
                };
                Error::Unsupported(format!("{codec}: {why}"))
            })?;
            Some(r)
        };
        Ok(FloatInput {
            codec,
            spec,
            resampler,
            clean: Vec::new(),
        })
    }

    /// Checks `block` and passes its samples, made safe and at the codec's
    /// rate, to `encode` in pieces of at most a few thousand whole frames.
    ///
    /// # Errors
    /// [`aj_core::Error::SpecMismatch`] for a block of another spec; whatever
    /// `encode` or the resampler returns.
    pub(super) fn write(
        &mut self,
        block: &Block,
        mut encode: impl FnMut(&[f32]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if block.spec != self.spec {
            return Err(aj_core::Error::SpecMismatch {
                expected: self.spec,
                actual: block.spec,
            }
            .into());
        }
        let samples = block.as_float().ok_or_else(|| {
            Error::Encode(format!("the {} encoder takes float samples", self.codec))
        })?;
        let samples = if samples.iter().all(|s| s.abs() <= MAX_MAGNITUDE) {
            samples
        } else {
            self.clean.clear();
            self.clean.extend(samples.iter().map(|&s| sanitize(s)));
            &self.clean
        };
        let channels = usize::from(self.spec.channels);
        match self.resampler.as_mut() {
            Some(r) => r.process_with(samples, |out| in_pieces(out, channels, &mut encode)),
            None => in_pieces(samples, channels, &mut encode),
        }
    }

    /// Ends the input: passes what the resampler still holds to `encode`.
    /// Does nothing when there is no resampler or when called again.
    ///
    /// # Errors
    /// Whatever `encode` or the resampler returns.
    pub(super) fn finish(
        &mut self,
        mut encode: impl FnMut(&[f32]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let channels = usize::from(self.spec.channels);
        match self.resampler.as_mut() {
            Some(r) => r.flush_with(|out| in_pieces(out, channels, &mut encode)),
            None => Ok(()),
        }
    }
}

/// A sample a codec can take: NaN and ±∞ become 0.0, the rest is clamped to
/// ±[`MAX_MAGNITUDE`].
pub(super) fn sanitize(s: f32) -> f32 {
    if s.is_finite() {
        s.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE)
    } else {
        0.0
    }
}

/// Calls `encode` on `samples` in pieces of at most [`FRAMES_PER_CALL`]
/// frames. The resampler's output is bounded too, but can be tens of
/// thousands of frames for extreme ratios.
fn in_pieces(
    samples: &[f32],
    channels: usize,
    encode: &mut impl FnMut(&[f32]) -> Result<(), Error>,
) -> Result<(), Error> {
    samples
        .chunks(FRAMES_PER_CALL * channels.max(1))
        .try_for_each(encode)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aj_core::Samples;

    #[test]
    fn sanitize_makes_samples_safe() {
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(f32::INFINITY), 0.0);
        assert_eq!(sanitize(f32::NEG_INFINITY), 0.0);
        assert_eq!(sanitize(1e30), MAX_MAGNITUDE);
        assert_eq!(sanitize(-1e30), -MAX_MAGNITUDE);
        assert_eq!(sanitize(0.5), 0.5);
        assert_eq!(sanitize(-3.0), -3.0);
    }

    fn collect(input: &mut FloatInput, blocks: &[Vec<f32>]) -> Vec<f32> {
        let mut got = Vec::new();
        let spec = input.spec;
        for b in blocks {
            let block = Block {
                spec,
                samples: Samples::Float(b.clone()),
            };
            input
                .write(&block, |s| {
                    assert!(s.len() <= FRAMES_PER_CALL * usize::from(spec.channels));
                    assert_eq!(s.len() % usize::from(spec.channels), 0);
                    got.extend_from_slice(s);
                    Ok(())
                })
                .unwrap();
        }
        input
            .finish(|s| {
                got.extend_from_slice(s);
                Ok(())
            })
            .unwrap();
        got
    }

    #[test]
    fn passes_clean_samples_untouched_and_cleans_the_rest() {
        let spec = AudioSpec::float(48000, 2);
        let mut input = FloatInput::new("Test", spec, 48000).unwrap();
        let a: Vec<f32> = (0..20_000).map(|i| (i as f32 * 0.001).sin()).collect();
        let mut b = a.clone();
        b[7] = f32::NAN;
        b[8] = 1e30;
        b[9] = f32::NEG_INFINITY;
        let got = collect(&mut input, &[a.clone(), b.clone()]);
        assert_eq!(got.len(), a.len() + b.len());
        assert_eq!(got[..a.len()], a[..]);
        let tail = &got[a.len()..];
        assert_eq!(tail[7], 0.0);
        assert_eq!(tail[8], MAX_MAGNITUDE);
        assert_eq!(tail[9], 0.0);
        assert_eq!(tail[10..], b[10..]);
    }

    #[test]
    fn resamples_non_finite_input_without_failing() {
        let spec = AudioSpec::float(44100, 1);
        let mut input = FloatInput::new("Test", spec, 48000).unwrap();
        let mut a = vec![0.1f32; 4410];
        a[100] = f32::NAN;
        a[200] = f32::INFINITY;
        a[300] = -1e30;
        let got = collect(&mut input, &[a]);
        assert_eq!(got.len(), 4800);
        assert!(got.iter().all(|s| s.abs() <= 2.0 * MAX_MAGNITUDE));
    }

    #[test]
    fn checks_spec_and_rates() {
        let spec = AudioSpec::float(44100, 2);
        assert!(FloatInput::new("Test", AudioSpec::int(44100, 2, 16), 44100).is_err());
        let e = FloatInput::new("Test", AudioSpec::float(8, 1), 48000)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("8 Hz") && e.contains("1000 Hz"), "{e}");
        let e = FloatInput::new("Test", AudioSpec::float(1_000_003, 1), 48000)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("unsupported: Test: cannot resample from 1000003 Hz"),
            "{e}"
        );
        // No resampling needed: any rate the codec takes is fine.
        assert!(FloatInput::new("Test", AudioSpec::float(8, 1), 8).is_ok());
        let mut input = FloatInput::new("Test", spec, 48000).unwrap();
        let other = Block {
            spec: AudioSpec::float(48000, 2),
            samples: Samples::Float(vec![0.0; 4]),
        };
        assert!(input.write(&other, |_| Ok(())).is_err());
    }
}
