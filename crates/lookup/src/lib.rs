//! Online services of the CD grabber: MusicBrainz (release metadata), the Cover Art
//! Archive (front images), GnuDB (CDDB metadata, the fallback), the AccurateRip
//! database and the CUETools database (checksums that prove a rip accurate).
//!
//! Place in the data flow: `aj-cd` computes a disc's identities from its TOC
//! (`aj_cd::id`); this crate asks the services about them and hands back typed
//! answers; the ripper compares its checksums with them ([`accuraterip::compare`],
//! [`ctdb::CtdbResponse::compare`]) and tags files from [`musicbrainz::MbRelease`].
//!
//! Every service is a real blocking HTTP client ([`Lookup`]) with a configurable base
//! URL ([`Services`]: environment over configuration over the real services), a
//! timeout and a real User-Agent. "Not found" (404, no match) is a result (`None` or
//! empty), never an error; every error names the service, the URL and what went
//! wrong, and [`Error::is_offline`] tells the caller to go on without the service and
//! say what could not be looked up.
//!
//! Deliberately not here: submitting to any database, computing checksums (that is
//! `aj-cd`), choosing among several releases (the caller does), asynchronous I/O.

#![forbid(unsafe_code)]

pub mod accuraterip;
pub mod client;
pub mod config;
pub mod coverart;
pub mod ctdb;
pub mod error;
pub mod gnudb;
pub mod musicbrainz;

pub use client::{Fetched, Lookup, Options, USER_AGENT};
pub use config::Services;
pub use error::{Error, Failure, ParseError, Service};
