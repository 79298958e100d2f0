//! Sample-format conversion: integer depth changes, float ↔ integer.
//!
//! Rules (DESIGN.md, "sample path is exact"):
//! - same format: samples pass untouched;
//! - integer to a deeper integer: an exact left shift;
//! - integer to float: an exact scale (exact up to 24 bits);
//! - anything to a shallower integer, and float to integer: TPDF dither of
//!   ±1 LSB of the target depth, then rounding and clipping.
//!
//! The dither noise comes from a fixed-seed generator, so the same input gives
//! the same output bytes every run.

use aj_core::{AudioSpec, Block, Error, Processor, SampleFormat, Samples};

/// Converts blocks of one spec to another sample format (rate and channels stay).
#[derive(Debug, Clone)]
pub struct FormatConverter {
    from: AudioSpec,
    to: AudioSpec,
    rng: u64,
}

impl FormatConverter {
    /// A converter from `from` to the sample format `to`.
    pub fn new(from: AudioSpec, to: SampleFormat) -> Self {
        FormatConverter {
            from,
            to: AudioSpec { format: to, ..from },
            rng: 0x853C_49E6_748F_EA9B,
        }
    }

    /// True when this converter leaves samples as they are.
    pub fn is_identity(&self) -> bool {
        self.from == self.to
    }

    /// True when the conversion adds dither (precision is dropped).
    pub fn dithers(&self) -> bool {
        match (self.from.format, self.to.format) {
            (SampleFormat::Int { bits: a }, SampleFormat::Int { bits: b }) => b < a,
            (SampleFormat::Float, SampleFormat::Int { .. }) => true,
            _ => false,
        }
    }

    fn next_uniform(&mut self) -> f64 {
        // xorshift64*: small, fast, and good enough for dither noise.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Triangular noise in (-1, 1) LSB: the sum of two uniform values.
    fn tpdf(&mut self) -> f64 {
        self.next_uniform() - self.next_uniform()
    }

    fn quantise(&mut self, v: f64, bits: u8) -> i32 {
        let max = ((1i64 << (bits - 1)) - 1) as f64;
        let min = -((1i64 << (bits - 1)) as f64);
        (v + self.tpdf()).round().clamp(min, max) as i32
    }
}

impl Processor for FormatConverter {
    fn output_spec(&self) -> AudioSpec {
        self.to
    }

    fn process(&mut self, block: Block) -> Result<Block, Error> {
        if block.spec != self.from {
            return Err(Error::SpecMismatch {
                expected: self.from,
                actual: block.spec,
            });
        }
        if self.is_identity() {
            return Ok(block);
        }
        let samples = match (block.samples, self.from.format, self.to.format) {
            (Samples::Int(mut v), SampleFormat::Int { bits: a }, SampleFormat::Int { bits: b }) => {
                if b >= a {
                    let shift = u32::from(b - a);
                    v.iter_mut()
                        .for_each(|s| *s = ((i64::from(*s)) << shift) as i32);
                } else {
                    let scale = 1.0 / (1u64 << (a - b)) as f64;
                    for s in v.iter_mut() {
                        *s = self.quantise(f64::from(*s) * scale, b);
                    }
                }
                Samples::Int(v)
            }
            (Samples::Int(v), SampleFormat::Int { bits }, SampleFormat::Float) => {
                let scale = 1.0 / (1u64 << (bits - 1)) as f64;
                Samples::Float(
                    v.into_iter()
                        .map(|s| (f64::from(s) * scale) as f32)
                        .collect(),
                )
            }
            (Samples::Float(v), SampleFormat::Float, SampleFormat::Int { bits }) => {
                let scale = (1u64 << (bits - 1)) as f64;
                let mut out = Vec::with_capacity(v.len());
                for s in v {
                    let x = if s.is_finite() {
                        f64::from(s) * scale
                    } else {
                        0.0
                    };
                    out.push(self.quantise(x, bits));
                }
                Samples::Int(out)
            }
            (samples, _, _) => {
                return Err(Error::Other(format!(
                    "block samples do not match their spec ({:?}, {} samples)",
                    self.from.format,
                    samples.len()
                )))
            }
        };
        Ok(Block {
            spec: self.to,
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn int_block(bits: u8, v: Vec<i32>) -> Block {
        Block {
            spec: AudioSpec::int(44100, 1, bits),
            samples: Samples::Int(v),
        }
    }

    #[test]
    fn identity_and_widening_are_exact() {
        let mut c =
            FormatConverter::new(AudioSpec::int(44100, 1, 16), SampleFormat::Int { bits: 16 });
        assert!(c.is_identity());
        let b = int_block(16, vec![-32768, -1, 0, 1, 32767]);
        assert_eq!(c.process(b.clone()).unwrap(), b);

        let mut c =
            FormatConverter::new(AudioSpec::int(44100, 1, 16), SampleFormat::Int { bits: 24 });
        assert!(!c.dithers());
        let out = c.process(b).unwrap();
        assert_eq!(
            out.as_int().unwrap(),
            &[-32768 << 8, -256, 0, 256, 32767 << 8]
        );
    }

    #[test]
    fn narrowing_dithers_within_one_lsb_and_clips() {
        let mut c =
            FormatConverter::new(AudioSpec::int(44100, 1, 24), SampleFormat::Int { bits: 16 });
        assert!(c.dithers());
        let input: Vec<i32> = (0..10_000)
            .map(|i| (i * 997 % 16_000_000) - 8_000_000)
            .collect();
        let out = c.process(int_block(24, input.clone())).unwrap();
        for (i, o) in input.iter().zip(out.as_int().unwrap()) {
            let exact = f64::from(*i) / 256.0;
            assert!((f64::from(*o) - exact).abs() < 1.5, "{i} -> {o}");
        }
        let out = c
            .process(int_block(24, vec![8_388_607, -8_388_608]))
            .unwrap();
        assert_eq!(out.as_int().unwrap(), &[32767, -32768]);
    }

    #[test]
    fn dither_decorrelates_a_low_level_signal() {
        // A constant of 0.4 LSB must average to 0.4, not round to 0.
        let mut c =
            FormatConverter::new(AudioSpec::float(48000, 1), SampleFormat::Int { bits: 16 });
        let v = vec![0.4f32 / 32768.0; 100_000];
        let b = Block {
            spec: AudioSpec::float(48000, 1),
            samples: Samples::Float(v),
        };
        let out = c.process(b).unwrap();
        let mean: f64 = out
            .as_int()
            .unwrap()
            .iter()
            .map(|&s| f64::from(s))
            .sum::<f64>()
            / 100_000.0;
        assert!((mean - 0.4).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn int_to_float_is_exact_and_float_handles_non_finite() {
        let mut c = FormatConverter::new(AudioSpec::int(44100, 1, 16), SampleFormat::Float);
        let out = c.process(int_block(16, vec![-32768, 16384])).unwrap();
        assert_eq!(out.as_float().unwrap(), &[-1.0, 0.5]);

        let mut c =
            FormatConverter::new(AudioSpec::float(44100, 1), SampleFormat::Int { bits: 16 });
        let b = Block {
            spec: AudioSpec::float(44100, 1),
            samples: Samples::Float(vec![f32::NAN, 4.0, -4.0]),
        };
        let out = c.process(b).unwrap();
        let v = out.as_int().unwrap();
        assert!(v[0].abs() <= 1);
        assert_eq!(&v[1..], &[32767, -32768]);
    }

    #[test]
    fn wrong_spec_is_an_error() {
        let mut c = FormatConverter::new(AudioSpec::int(44100, 1, 16), SampleFormat::Float);
        assert!(matches!(
            c.process(int_block(24, vec![0])),
            Err(Error::SpecMismatch { .. })
        ));
    }

    #[test]
    fn same_input_same_output() {
        let run = || {
            let mut c =
                FormatConverter::new(AudioSpec::float(44100, 1), SampleFormat::Int { bits: 16 });
            let b = Block {
                spec: AudioSpec::float(44100, 1),
                samples: Samples::Float(vec![0.1; 64]),
            };
            c.process(b).unwrap()
        };
        assert_eq!(run(), run());
    }
}
