//! Gain: a fixed level change on float samples, the clip guard that limits
//! it, and the reading of ReplayGain values from tag text.
//!
//! The clip guard is the rule foobar2000 ("prevent clipping according to
//! peak") and ffmpeg's `volume=replaygain_noclip=1` apply: a gain is lowered
//! so that the known peak, times the gain, stays at or below full scale
//! (0 dBFS). It never raises a gain, and it never compresses or limits: the
//! whole file gets one gain.

use aj_core::{AudioSpec, Block, Error, Processor, SampleFormat, Samples};

/// ReplayGain 2.0's reference loudness, LUFS (the value its gains bring a
/// track to).
pub const REPLAYGAIN_REFERENCE_LUFS: f64 = -18.0;

/// EBU R128's reference loudness, LUFS: Opus's `R128_*_GAIN` tags aim there
/// (RFC 7845 §5.2.1).
pub const R128_REFERENCE_LUFS: f64 = -23.0;

/// The linear factor of a gain in dB.
pub fn db_to_linear(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// The gain in dB of a linear factor (−∞ for 0).
pub fn linear_to_db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// `gain_db` lowered, when needed, so that a signal whose largest magnitude
/// is `peak` (linear, 1.0 = full scale) stays at or below full scale. A zero,
/// negative or non-finite peak leaves the gain as it is.
pub fn clip_guard(gain_db: f64, peak: f64) -> f64 {
    if !(peak.is_finite() && peak > 0.0) {
        return gain_db;
    }
    gain_db.min(-linear_to_db(peak))
}

/// Parses a ReplayGain gain value as tags carry it: `"-6.20 dB"`, `"+1.05
/// dB"`, `"-6.2"` (the unit is optional and its case free). `None` for
/// anything else, or a gain beyond ±60 dB, which no real tag holds.
pub fn parse_replaygain_db(text: &str) -> Option<f64> {
    let t = text.trim();
    let number = t
        .strip_suffix("dB")
        .or_else(|| t.strip_suffix("db"))
        .or_else(|| t.strip_suffix("DB"))
        .unwrap_or(t)
        .trim();
    let v: f64 = number.parse().ok()?;
    (v.is_finite() && v.abs() <= 60.0).then_some(v)
}

/// Parses a ReplayGain peak (`"0.988525"`, linear). `None` for anything else,
/// or a negative or absurd value (beyond +60 dBFS).
pub fn parse_replaygain_peak(text: &str) -> Option<f64> {
    let v: f64 = text.trim().parse().ok()?;
    (v.is_finite() && (0.0..=1000.0).contains(&v)).then_some(v)
}

/// The ReplayGain 2.0 gain (to −18 LUFS) carried by an Opus `R128_*_GAIN`
/// tag: a Q7.8 integer, in dB to −23 LUFS (RFC 7845 §5.2.1). `None` when the
/// text is not such an integer.
pub fn r128_tag_to_replaygain_db(text: &str) -> Option<f64> {
    let q: i16 = text.trim().parse().ok()?;
    Some(f64::from(q) / 256.0 + (REPLAYGAIN_REFERENCE_LUFS - R128_REFERENCE_LUFS))
}

/// Multiplies float samples by a fixed factor.
#[derive(Debug, Clone)]
pub struct Gain {
    spec: AudioSpec,
    factor: f64,
}

impl Gain {
    /// A stage applying `db` decibels to float blocks of `spec`.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] when `spec` is not float or `db` is not finite.
    pub fn new(spec: AudioSpec, db: f64) -> Result<Self, Error> {
        if spec.format != SampleFormat::Float {
            return Err(Error::InvalidSpec(
                "the gain stage takes float samples".into(),
            ));
        }
        if !db.is_finite() {
            return Err(Error::InvalidSpec(format!("a gain of {db} dB")));
        }
        Ok(Gain {
            spec,
            factor: db_to_linear(db),
        })
    }

    /// The linear factor applied.
    pub fn factor(&self) -> f64 {
        self.factor
    }
}

impl Processor for Gain {
    fn output_spec(&self) -> AudioSpec {
        self.spec
    }

    fn process(&mut self, block: Block) -> Result<Block, Error> {
        if block.spec != self.spec {
            return Err(Error::SpecMismatch {
                expected: self.spec,
                actual: block.spec,
            });
        }
        let Samples::Float(mut v) = block.samples else {
            return Err(Error::Other("the gain stage got integer samples".into()));
        };
        for s in &mut v {
            *s = (f64::from(*s) * self.factor) as f32;
        }
        Ok(Block {
            spec: self.spec,
            samples: Samples::Float(v),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decibels() {
        assert!((db_to_linear(-6.0) - 0.501_187).abs() < 1e-6);
        assert!((db_to_linear(20.0) - 10.0).abs() < 1e-12);
        assert!((linear_to_db(0.5) + 6.020_6).abs() < 1e-4);
    }

    #[test]
    fn clip_guard_lowers_only_what_would_clip() {
        // Peak 0.5 (−6 dBFS): +3 dB fits, +10 dB is cut to +6.02 dB.
        assert_eq!(clip_guard(3.0, 0.5), 3.0);
        assert!((clip_guard(10.0, 0.5) - 6.0206).abs() < 1e-4);
        // A peak above full scale (float source) forces a cut even at 0 dB.
        assert!((clip_guard(0.0, 2.0) + 6.0206).abs() < 1e-4);
        // Negative gains that keep the peak inside stay.
        assert_eq!(clip_guard(-8.0, 0.9), -8.0);
        // Unknown or silent peaks leave the gain alone.
        assert_eq!(clip_guard(5.0, 0.0), 5.0);
        assert_eq!(clip_guard(5.0, f64::NAN), 5.0);
        // The guarded gain puts the peak exactly at full scale.
        let g = clip_guard(12.0, 0.3);
        assert!((0.3 * db_to_linear(g) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn tag_values() {
        assert_eq!(parse_replaygain_db("-6.20 dB"), Some(-6.2));
        assert_eq!(parse_replaygain_db("+1.05 dB"), Some(1.05));
        assert_eq!(parse_replaygain_db(" -3.5db "), Some(-3.5));
        assert_eq!(parse_replaygain_db("2"), Some(2.0));
        assert_eq!(parse_replaygain_db("loud"), None);
        assert_eq!(parse_replaygain_db("NaN dB"), None);
        assert_eq!(parse_replaygain_db("-900 dB"), None);
        assert_eq!(parse_replaygain_peak("0.988525"), Some(0.988_525));
        assert_eq!(parse_replaygain_peak("-1"), None);
        assert_eq!(parse_replaygain_peak("x"), None);
        // R128 0 = −23 LUFS, i.e. +5 dB to ReplayGain's −18 LUFS;
        // −1280 = −5 dB in Q7.8, so 0 dB.
        assert_eq!(r128_tag_to_replaygain_db("0"), Some(5.0));
        assert_eq!(r128_tag_to_replaygain_db("-1280"), Some(0.0));
        assert_eq!(r128_tag_to_replaygain_db("99999"), None);
    }

    #[test]
    fn gain_scales_float_blocks() {
        let spec = AudioSpec::float(48000, 2);
        let mut g = Gain::new(spec, -6.020_599_913_279_624).unwrap();
        let out = g
            .process(Block {
                spec,
                samples: Samples::Float(vec![1.0, -0.5, 0.25, 0.0]),
            })
            .unwrap();
        let v = out.as_float().unwrap();
        for (a, b) in v.iter().zip([0.5f32, -0.25, 0.125, 0.0]) {
            assert!((a - b).abs() < 1e-7, "{a} {b}");
        }
        assert!(Gain::new(AudioSpec::int(48000, 2, 16), 1.0).is_err());
        assert!(Gain::new(spec, f64::INFINITY).is_err());
        let wrong = Block {
            spec: AudioSpec::float(44100, 2),
            samples: Samples::Float(vec![0.0; 2]),
        };
        assert!(g.process(wrong).is_err());
    }
}
