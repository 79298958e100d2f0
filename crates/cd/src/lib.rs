//! AudioJuggler's CD layer: the ground under the CD grabber and the burner.
//!
//! - [`disc`]: the disc model (tracks, indexes, sessions, MCN, ISRC, CD-TEXT).
//! - [`id`]: disc identities (MusicBrainz, CDDB, AccurateRip, CTDB).
//! - [`cue`] and [`tocfile`]: cue sheets and cdrdao TOC files, read and written.
//!
//! Sources of PCM built on this (the secure ripper) and the burner live here
//! too in time; this crate does not encode audio or talk to online services.

pub mod cue;
pub mod disc;
pub mod id;
pub mod tocfile;
