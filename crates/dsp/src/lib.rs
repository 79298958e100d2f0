//! AudioJuggler's DSP: the stages that change samples.
//!
//! Sits between sources and sinks. [`convert`] changes the sample format
//! (integer depth, float ↔ integer, always with TPDF dither when precision
//! drops); [`resample`] changes the sample rate; [`deemphasis`] undoes CD
//! pre-emphasis; [`mix`] maps channels (downmix to stereo or mono); [`gain`]
//! changes the level, with a clip guard; [`chain`] runs the converter's
//! stages in order. [`loudness`] only measures (EBU R128 / ReplayGain 2.0).
//! With no stage asked for, the pipeline does not touch samples: lossless
//! stays bit-exact.

#![forbid(unsafe_code)]

pub mod chain;
pub mod convert;
pub mod deemphasis;
pub mod gain;
pub mod loudness;
pub mod mix;
pub mod resample;
