//! The crate's error type: every failure names the service, the URL and what went
//! wrong, worded for a person.

use std::fmt;

/// The online services this crate talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    AccurateRip,
    Ctdb,
    MusicBrainz,
    GnuDb,
    CoverArt,
}

impl Service {
    /// Every service, in the order reports list them.
    pub const ALL: [Service; 5] = [
        Service::MusicBrainz,
        Service::CoverArt,
        Service::GnuDb,
        Service::AccurateRip,
        Service::Ctdb,
    ];

    /// The service's name as people know it.
    pub fn name(self) -> &'static str {
        match self {
            Service::AccurateRip => "AccurateRip",
            Service::Ctdb => "CUETools DB",
            Service::MusicBrainz => "MusicBrainz",
            Service::GnuDb => "GnuDB",
            Service::CoverArt => "Cover Art Archive",
        }
    }

    /// The environment variable that overrides the service's base URL.
    pub fn env_var(self) -> &'static str {
        match self {
            Service::AccurateRip => "AJ_ACCURATERIP_URL",
            Service::Ctdb => "AJ_CTDB_URL",
            Service::MusicBrainz => "AJ_MUSICBRAINZ_URL",
            Service::GnuDb => "AJ_GNUDB_URL",
            Service::CoverArt => "AJ_COVERART_URL",
        }
    }

    /// The configuration key that sets the service's base URL.
    pub fn config_key(self) -> &'static str {
        match self {
            Service::AccurateRip => "accuraterip_url",
            Service::Ctdb => "ctdb_url",
            Service::MusicBrainz => "musicbrainz_url",
            Service::GnuDb => "gnudb_url",
            Service::CoverArt => "coverart_url",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong with one request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// No connection could be made (refused, unreachable network): we are offline or
    /// the service is down.
    #[error("offline: could not connect ({0})")]
    Offline(String),
    /// The host name did not resolve.
    #[error("offline: the host name could not be resolved (DNS)")]
    HostNotFound,
    /// The service did not answer in time.
    #[error("timed out ({0})")]
    Timeout(String),
    /// The service answered with an HTTP status we cannot use.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The connection broke or the answer was not HTTP.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The answer arrived but could not be understood.
    #[error("unreadable response: {0}")]
    Body(String),
    /// The service answered with an error of its own protocol (CDDB codes).
    #[error("the service reported an error: {0}")]
    Service(String),
}

/// This crate's error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request failed.
    #[error("{service}: {url}: {failure}")]
    Request {
        service: Service,
        url: String,
        failure: Failure,
    },
    /// A configured base URL is unusable.
    #[error("{service} base URL {value:?} (from {origin}): {reason}")]
    Config {
        service: Service,
        value: String,
        origin: String,
        reason: String,
    },
    /// An argument cannot be sent (a malformed ID).
    #[error("{service}: {message}")]
    Argument { service: Service, message: String },
    /// The disc has no identity the service can use.
    #[error("{service}: {source}")]
    Disc {
        service: Service,
        source: aj_cd::id::IdError,
    },
}

impl Error {
    /// The service the error is about.
    pub fn service(&self) -> Service {
        match self {
            Error::Request { service, .. }
            | Error::Config { service, .. }
            | Error::Argument { service, .. }
            | Error::Disc { service, .. } => *service,
        }
    }

    /// True when no connection could be made at all (offline, DNS, refused).
    pub fn is_offline(&self) -> bool {
        matches!(
            self,
            Error::Request {
                failure: Failure::Offline(_) | Failure::HostNotFound,
                ..
            }
        )
    }

    /// True when trying again later may help (offline, timeout, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Request { failure, .. } => match failure {
                Failure::Offline(_)
                | Failure::HostNotFound
                | Failure::Timeout(_)
                | Failure::Connection(_) => true,
                Failure::Status(s) => *s == 429 || *s >= 500,
                Failure::Body(_) | Failure::Service(_) => false,
            },
            _ => false,
        }
    }
}

/// A body that could not be parsed; the client wraps it into [`Failure::Body`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
