//! The converter's DSP chain, in its fixed order:
//!
//! ```text
//! source spec → [to float] → [channel mix] → [gain] → [resample] → [to the target format] → sink
//! ```
//!
//! When no stage that changes samples is asked for (no mix, no gain, no rate
//! change), the chain is a single [`FormatConverter`] from the source's
//! format to the target's: integers stay integers (exact when the depth is
//! kept or widened, TPDF-dithered when it drops), so lossless stays
//! bit-exact. Otherwise samples go to `f32` once, every stage works in float
//! (`f64` inside the mixer, the gain and the resampler), and the last stage
//! leaves float for the target with TPDF dither.
//!
//! A stage equal to the identity is left out: a rate equal to the source's,
//! a channel count equal to the source's, a gain of 0 dB.

use aj_core::{AudioSpec, Block, Error, Processor, SampleFormat};

use crate::convert::FormatConverter;
use crate::gain::Gain;
use crate::mix::ChannelMixer;
use crate::resample::ResampleStage;

/// What the chain should do besides reaching the target format.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DspSettings {
    /// Output channels (1 or 2, or the source's count).
    pub channels: Option<u16>,
    /// Gain in dB, already limited by the clip guard.
    pub gain_db: Option<f64>,
    /// Output rate in Hz.
    pub rate: Option<u32>,
}

impl DspSettings {
    /// True when, for a source of `src`, some stage changes samples (and the
    /// chain works in float).
    pub fn changes_samples(&self, src: AudioSpec) -> bool {
        self.channels.is_some_and(|c| c != src.channels)
            || self.gain_db.is_some_and(|g| g != 0.0)
            || self.rate.is_some_and(|r| r != src.sample_rate)
    }

    /// The spec the chain emits for `src`, before the format (which the
    /// caller chooses).
    pub fn output_shape(&self, src: AudioSpec) -> AudioSpec {
        AudioSpec {
            channels: self.channels.unwrap_or(src.channels),
            sample_rate: self.rate.unwrap_or(src.sample_rate),
            ..src
        }
    }
}

/// The stages, run in order; see the module docs.
pub struct Chain {
    stages: Vec<Box<dyn Processor>>,
    input: AudioSpec,
    output: AudioSpec,
    float: bool,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("stages", &self.stages.len())
            .field("float", &self.float)
            .finish()
    }
}

impl Chain {
    /// A chain from `src` to `target` (the sample format the sink takes)
    /// doing what `settings` asks.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] for a channel count the mixer cannot make, or
    /// rates the resampler refuses.
    pub fn new(src: AudioSpec, settings: DspSettings, target: SampleFormat) -> Result<Self, Error> {
        let mut stages: Vec<Box<dyn Processor>> = Vec::new();
        let float = settings.changes_samples(src);
        if float {
            let mut spec = AudioSpec {
                format: SampleFormat::Float,
                ..src
            };
            if src.format != SampleFormat::Float {
                stages.push(Box::new(FormatConverter::new(src, SampleFormat::Float)));
            }
            if let Some(c) = settings.channels.filter(|&c| c != src.channels) {
                let m = ChannelMixer::new(spec, c)?;
                spec = m.output_spec();
                stages.push(Box::new(m));
            }
            if let Some(g) = settings.gain_db.filter(|&g| g != 0.0) {
                stages.push(Box::new(Gain::new(spec, g)?));
            }
            if let Some(r) = settings.rate.filter(|&r| r != src.sample_rate) {
                let r = ResampleStage::new(spec, r)?;
                spec = r.output_spec();
                stages.push(Box::new(r));
            }
            if target != SampleFormat::Float {
                stages.push(Box::new(FormatConverter::new(spec, target)));
            }
        } else {
            stages.push(Box::new(FormatConverter::new(src, target)));
        }
        let output = AudioSpec {
            format: target,
            ..settings.output_shape(src)
        };
        Ok(Chain {
            stages,
            input: src,
            output,
            float,
        })
    }

    /// True when samples go through float (some stage changes them).
    pub fn is_float(&self) -> bool {
        self.float
    }

    /// The spec of the blocks taken.
    pub fn input_spec(&self) -> AudioSpec {
        self.input
    }

    /// Runs `block` through the stages from `from` on.
    fn run_from(&mut self, from: usize, mut block: Block) -> Result<Block, Error> {
        for stage in self.stages.iter_mut().skip(from) {
            block = stage.process(block)?;
        }
        Ok(block)
    }
}

impl Processor for Chain {
    fn output_spec(&self) -> AudioSpec {
        self.output
    }

    fn process(&mut self, block: Block) -> Result<Block, Error> {
        self.run_from(0, block)
    }

    /// Flushes each stage in order, running what it held back through the
    /// stages after it.
    fn flush(&mut self) -> Result<Option<Block>, Error> {
        let mut pending: Option<Block> = None;
        for i in 0..self.stages.len() {
            let Some(stage) = self.stages.get_mut(i) else {
                break;
            };
            let tail = stage.flush()?;
            let tail = match tail {
                Some(t) => Some(self.run_from(i + 1, t)?),
                None => None,
            };
            pending = match (pending, tail) {
                (Some(mut a), Some(b)) => {
                    append(&mut a, b)?;
                    Some(a)
                }
                (a, b) => a.or(b),
            };
        }
        Ok(pending.filter(|b| b.frames() > 0))
    }
}

/// Appends `b`'s samples to `a` (both of the chain's output spec).
fn append(a: &mut Block, b: Block) -> Result<(), Error> {
    use aj_core::Samples;
    match (&mut a.samples, b.samples) {
        (Samples::Int(x), Samples::Int(y)) => x.extend(y),
        (Samples::Float(x), Samples::Float(y)) => x.extend(y),
        _ => return Err(Error::Other("flushed blocks of different formats".into())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aj_core::Samples;

    fn int_block(spec: AudioSpec, v: Vec<i32>) -> Block {
        Block {
            spec,
            samples: Samples::Int(v),
        }
    }

    #[test]
    fn no_dsp_is_one_exact_converter() {
        let src = AudioSpec::int(44100, 2, 16);
        // Same rate, same channels, 0 dB: identities, left out.
        let settings = DspSettings {
            channels: Some(2),
            gain_db: Some(0.0),
            rate: Some(44100),
        };
        let mut c = Chain::new(src, settings, SampleFormat::Int { bits: 16 }).unwrap();
        assert!(!c.is_float());
        let b = int_block(src, vec![-32768, 32767, 1, -1]);
        assert_eq!(c.process(b.clone()).unwrap(), b);
        assert!(c.flush().unwrap().is_none());
    }

    #[test]
    fn full_chain_changes_shape_and_keeps_length() {
        let src = AudioSpec::int(44100, 6, 24);
        let settings = DspSettings {
            channels: Some(2),
            gain_db: Some(-6.0),
            rate: Some(48000),
        };
        let mut c = Chain::new(src, settings, SampleFormat::Int { bits: 16 }).unwrap();
        assert!(c.is_float());
        assert_eq!(c.output_spec(), AudioSpec::int(48000, 2, 16));
        let mut frames = 0;
        for _ in 0..10 {
            let out = c.process(int_block(src, vec![1000; 4410 * 6])).unwrap();
            assert_eq!(out.spec, c.output_spec());
            frames += out.frames();
        }
        frames += c.flush().unwrap().map_or(0, |b| b.frames());
        assert_eq!(frames, 48000);
    }
}
