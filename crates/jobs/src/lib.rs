//! AudioJuggler's jobs: what the suite does, as data, and the engine that runs it.
//!
//! A job spec (serde) says what to do — convert these files to FLAC, say. The
//! CLI builds one from its flags; the daemon will take the same type from JSON,
//! so the same spec gives the same bytes from either front end. The engine
//! expands a spec into items, runs each item's pipeline (`Source` → DSP →
//! `Sink`) on worker threads, and reports [`Event`]s as it goes.
//!
//! This crate does not parse flags, draw progress bars or speak HTTP.

#![forbid(unsafe_code)]

pub mod config;
pub mod convert;
pub mod cuesplit;
pub mod disc;
pub mod engine;
pub mod gain;
pub mod join;
pub mod naming;
pub mod replaygain;
pub mod rip;
pub mod sync;

pub use convert::ConvertSpec;
pub use engine::{run, Event, JobSpec, Summary};
pub use gain::GainSpec;
pub use sync::SyncSpec;
