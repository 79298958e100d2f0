//! Which servers to ask: one base URL (scheme and host, optional port) per service.
//! Paths stay the real services' paths, so a mirror or a test fixture only has to
//! replace the base.

use std::collections::BTreeMap;

use crate::error::{Error, Service};

/// Base URLs of the online services, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    /// AccurateRip database (files under `/accuraterip/`).
    pub accuraterip: String,
    /// CUETools database (`/lookup2.php`).
    pub ctdb: String,
    /// MusicBrainz web service (`/ws/2/`).
    pub musicbrainz: String,
    /// GnuDB CDDB-over-HTTP (`/~cddb/cddb.cgi`).
    pub gnudb: String,
    /// Cover Art Archive (`/release/{mbid}/front`).
    pub coverart: String,
}

/// The real services. AccurateRip and the CUETools database are served over plain
/// HTTP only (the hosts whipper, ARver and CUETools use).
pub const DEFAULT_ACCURATERIP: &str = "http://www.accuraterip.com";
pub const DEFAULT_CTDB: &str = "http://db.cuetools.net";
pub const DEFAULT_MUSICBRAINZ: &str = "https://musicbrainz.org";
pub const DEFAULT_GNUDB: &str = "https://gnudb.gnudb.org";
pub const DEFAULT_COVERART: &str = "https://coverartarchive.org";

impl Default for Services {
    fn default() -> Self {
        Services {
            accuraterip: DEFAULT_ACCURATERIP.into(),
            ctdb: DEFAULT_CTDB.into(),
            musicbrainz: DEFAULT_MUSICBRAINZ.into(),
            gnudb: DEFAULT_GNUDB.into(),
            coverart: DEFAULT_COVERART.into(),
        }
    }
}

impl Services {
    /// The base URL of `service`.
    pub fn base(&self, service: Service) -> &str {
        match service {
            Service::AccurateRip => &self.accuraterip,
            Service::Ctdb => &self.ctdb,
            Service::MusicBrainz => &self.musicbrainz,
            Service::GnuDb => &self.gnudb,
            Service::CoverArt => &self.coverart,
        }
    }

    fn base_mut(&mut self, service: Service) -> &mut String {
        match service {
            Service::AccurateRip => &mut self.accuraterip,
            Service::Ctdb => &mut self.ctdb,
            Service::MusicBrainz => &mut self.musicbrainz,
            Service::GnuDb => &mut self.gnudb,
            Service::CoverArt => &mut self.coverart,
        }
    }

    /// Base URLs from the environment (`AJ_ACCURATERIP_URL`, `AJ_CTDB_URL`,
    /// `AJ_MUSICBRAINZ_URL`, `AJ_GNUDB_URL`, `AJ_COVERART_URL`) over `config`
    /// (keys `accuraterip_url`, `ctdb_url`, `musicbrainz_url`, `gnudb_url`,
    /// `coverart_url`) over the real services. An empty value counts as unset.
    ///
    /// # Errors
    /// [`Error::Config`] for a value that is not `http(s)://host[:port][/]`.
    pub fn resolve(config: &impl Fn(&str) -> Option<String>) -> Result<Services, Error> {
        Services::resolve_with(&|k: &str| std::env::var(k).ok(), config)
    }

    /// [`Services::resolve`] with the configuration in a map.
    ///
    /// # Errors
    /// As [`Services::resolve`].
    pub fn from_map(config: &BTreeMap<String, String>) -> Result<Services, Error> {
        Services::resolve(&|k: &str| config.get(k).cloned())
    }

    /// [`Services::resolve`] with the environment given as a function (for tests and
    /// for callers that sandbox the environment).
    ///
    /// # Errors
    /// As [`Services::resolve`].
    pub fn resolve_with(
        env: &impl Fn(&str) -> Option<String>,
        config: &impl Fn(&str) -> Option<String>,
    ) -> Result<Services, Error> {
        let (services, bad) = Services::resolve_each_with(env, config);
        match bad.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(services),
        }
    }

    /// [`Services::resolve`], each service on its own: a bad value is
    /// returned as an error for its service alone (whose base is left at the
    /// real service's: the caller should not ask that one), and the others
    /// are resolved as usual.
    pub fn resolve_each(config: &impl Fn(&str) -> Option<String>) -> (Services, Vec<Error>) {
        Services::resolve_each_with(&|k: &str| std::env::var(k).ok(), config)
    }

    /// [`Services::resolve_each`] with the environment given as a function.
    pub fn resolve_each_with(
        env: &impl Fn(&str) -> Option<String>,
        config: &impl Fn(&str) -> Option<String>,
    ) -> (Services, Vec<Error>) {
        let mut services = Services::default();
        let mut bad = Vec::new();
        for service in Service::ALL {
            let chosen = env(service.env_var())
                .filter(|v| !v.trim().is_empty())
                .map(|v| (v, format!("environment variable {}", service.env_var())))
                .or_else(|| {
                    config(service.config_key())
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| (v, format!("configuration key {}", service.config_key())))
                });
            if let Some((value, origin)) = chosen {
                match validate_base(service, &value, &origin) {
                    Ok(v) => *services.base_mut(service) = v,
                    Err(e) => bad.push(e),
                }
            }
        }
        (services, bad)
    }
}

/// Checks a base URL (`http` or `https`, a host, an optional port, no path beyond
/// `/`, no query or fragment) and returns it without a trailing slash.
///
/// # Errors
/// [`Error::Config`] naming what is wrong.
pub fn validate_base(service: Service, value: &str, origin: &str) -> Result<String, Error> {
    let bad = |reason: &str| Error::Config {
        service,
        value: value.to_string(),
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    let v = value.trim();
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))
        .ok_or_else(|| bad("must start with http:// or https://"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err(bad("has no host name"));
    }
    if authority.contains('/') {
        return Err(bad(
            "must not have a path (give only scheme, host and port; the service's paths are added)",
        ));
    }
    if authority.contains(['?', '#']) {
        return Err(bad("must not have a query or fragment"));
    }
    if authority.contains(|c: char| c.is_whitespace() || c == '@') {
        return Err(bad("the host contains spaces or user information"));
    }
    let host_port = authority;
    if let Some((host, port)) = host_port.rsplit_once(':') {
        // IPv6 literals are bracketed: "[::1]:8080" or "[::1]".
        if !host.ends_with(']') && host.contains(':') {
            return Err(bad("an IPv6 address must be written in brackets"));
        }
        if !port.ends_with(']') && (port.is_empty() || port.parse::<u16>().is_err()) {
            return Err(bad("the port is not a number from 0 to 65535"));
        }
        if host.is_empty() {
            return Err(bad("has no host name"));
        }
    }
    let scheme_len = v.len() - rest.len();
    Ok(format!("{}{}", &v[..scheme_len], authority))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn validation() {
        let ok = |s: &str| validate_base(Service::Ctdb, s, "test").unwrap();
        let err = |s: &str| {
            validate_base(Service::Ctdb, s, "test")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(ok("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(ok("https://db.example.org"), "https://db.example.org");
        assert_eq!(ok("http://[::1]:80"), "http://[::1]:80");
        assert!(err("ftp://x").contains("http:// or https://"));
        assert!(err("http://x/ws/2").contains("must not have a path"));
        assert!(err("http://").contains("no host"));
        assert!(err("http://x:port").contains("port"));
        assert!(err("http://x?a=1").contains("query"));
        assert!(err("x.org").contains("CUETools DB base URL \"x.org\" (from test)"));
    }

    #[test]
    fn one_bad_value_leaves_the_others_resolved() {
        let env = |k: &str| match k {
            "AJ_CTDB_URL" => Some("ftp://x".to_string()),
            "AJ_MUSICBRAINZ_URL" => Some("http://127.0.0.1:8000".to_string()),
            _ => None,
        };
        let (s, bad) = Services::resolve_each_with(&env, &|_: &str| None);
        assert_eq!(s.musicbrainz, "http://127.0.0.1:8000");
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].service(), Service::Ctdb);
        assert!(bad[0].to_string().contains("AJ_CTDB_URL"), "{}", bad[0]);
        assert!(Services::resolve_with(&env, &|_: &str| None).is_err());
    }
}
