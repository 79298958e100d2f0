//! AudioJuggler's CD layer: the ground under the CD grabber and the burner.
//!
//! - [`disc`]: the disc model (tracks, indexes, sessions, MCN, ISRC, CD-TEXT).
//! - [`id`]: disc identities (MusicBrainz, CDDB, AccurateRip, CTDB).
//! - [`cue`] and [`tocfile`]: cue sheets and cdrdao TOC files, read and written.
//! - [`cdtext`]: CD-TEXT packs (parse and build, with CRCs).
//! - [`mmc`]: MMC-6 commands: request packing and response parsing, and
//!   [`mmc::scan`], which reads a whole disc's layout (pregaps, indexes,
//!   MCN, ISRC, CD-TEXT) through them.
//! - [`transport`]: how commands reach a drive (Linux SG_IO, the virtual drive).
//! - [`virtual_drive`]: a software drive answering MMC commands from a disc image.
//!
//! Sources of PCM built on this (the secure ripper) and the burner live here
//! too in time; this crate does not encode audio (it decodes image files through
//! `aj-codec`) or talk to online services.

pub mod cdtext;
pub mod cue;
pub mod disc;
pub mod id;
pub mod mmc;
pub mod tocfile;
pub mod transport;
pub mod virtual_drive;
