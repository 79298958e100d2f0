//! AudioJuggler's DSP: the stages that change samples.
//!
//! Sits between sources and sinks. [`convert`] changes the sample format
//! (integer depth, float ↔ integer, always with TPDF dither when precision
//! drops); [`resample`] changes the sample rate. With no stage asked for, the
//! pipeline does not touch samples: lossless stays bit-exact.

#![forbid(unsafe_code)]

pub mod convert;
pub mod resample;
