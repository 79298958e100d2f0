//! AudioJuggler's CD layer: the ground under the CD grabber and the burner.
//!
//! - [`disc`]: the disc model (tracks, indexes, sessions, MCN, ISRC, CD-TEXT).
//! - [`id`]: disc identities (MusicBrainz, CDDB, AccurateRip, CTDB).
//! - [`checksum`]: checksums of ripped audio (CRC-32, AccurateRip v1/v2 and
//!   its offset-finding checksum, the CUETools Database CRC).
//! - [`cue`] and [`tocfile`]: cue sheets and cdrdao TOC files, read and written.
//! - [`cdtext`]: CD-TEXT packs (parse and build, with CRCs).
//! - [`mmc`]: MMC-6 commands: request packing and response parsing, and
//!   [`mmc::scan`], which reads a whole disc's layout (pregaps, indexes,
//!   MCN, ISRC, CD-TEXT) through them.
//! - [`transport`]: how commands reach a drive (Linux SG_IO, the virtual drive).
//! - [`virtual_drive`]: a software drive answering MMC commands from a disc image
//!   (and the built-in demo disc, and discs generated from a description).
//! - [`rip`]: the secure reader, the source of PCM of the CD grabber: sectors
//!   read until consistent, the read offset corrected, suspicious positions found.
//!
//! The burner will live here too; this crate does not encode audio (it decodes
//! image files through `aj-codec`) or talk to online services (`aj-lookup`
//! does), and the rip job that ties them together is in `aj-jobs`.

pub mod cdtext;
pub mod checksum;
pub mod cue;
pub mod disc;
pub mod id;
pub mod mmc;
pub mod rip;
pub mod tocfile;
pub mod transport;
pub mod virtual_drive;
