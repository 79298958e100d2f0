//! The HTTP core every service shares: one blocking `ureq` agent with timeouts and a
//! real User-Agent, redirects followed, the MusicBrainz rate limit, the on-disk
//! cache, and the mapping of transport failures to [`Failure`]s.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use sha1::{Digest, Sha1};

use crate::config::Services;
use crate::error::{Error, Failure, Service};

/// The User-Agent every request carries. MusicBrainz asks for
/// `Application/version ( contact )` ("MusicBrainz API / Rate Limiting").
pub const USER_AGENT: &str = concat!(
    "AudioJuggler/",
    env!("CARGO_PKG_VERSION"),
    " (aj; port 3643)"
);

/// At most one MusicBrainz request a second ("MusicBrainz API / Rate Limiting").
pub const MUSICBRAINZ_INTERVAL: Duration = Duration::from_secs(1);

/// The largest body we read (a full-size cover image can be several megabytes).
pub const MAX_BODY: u64 = 32 << 20;

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time allowed to connect (DNS and TCP/TLS handshake).
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, redirects and body included.
    pub timeout: Duration,
    /// The User-Agent header.
    pub user_agent: String,
    /// Minimum time between two MusicBrainz requests.
    pub musicbrainz_interval: Duration,
    /// Where responses are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// How long a cached response stays good.
    pub cache_ttl: Duration,
    /// The CDDB `hello` user and host (GnuDB asks for an e-mail-like user).
    pub cddb_user: String,
    pub cddb_host: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(20),
            user_agent: USER_AGENT.to_string(),
            musicbrainz_interval: MUSICBRAINZ_INTERVAL,
            cache_dir: None,
            cache_ttl: Duration::from_secs(24 * 60 * 60),
            cddb_user: "aj".into(),
            cddb_host: "localhost".into(),
        }
    }
}

/// A response as the services' parsers need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The client for every online service.
pub struct Lookup {
    services: Services,
    options: Options,
    agent: ureq::Agent,
    musicbrainz_last: Mutex<Option<Instant>>,
}

impl Lookup {
    /// A client for `services`.
    pub fn new(services: Services, options: Options) -> Lookup {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(options.connect_timeout))
            .timeout_global(Some(options.timeout))
            .user_agent(options.user_agent.as_str())
            .http_status_as_error(false)
            .max_redirects(10)
            .build();
        Lookup {
            services,
            options,
            agent: config.into(),
            musicbrainz_last: Mutex::new(None),
        }
    }

    /// The base URLs in use.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The options in use.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// `base + path_and_query` for `service`.
    pub(crate) fn url(&self, service: Service, path_and_query: &str) -> String {
        format!("{}{}", self.services.base(service), path_and_query)
    }

    /// GETs `url`, any status. Served from the cache when fresh (2xx and 404 answers
    /// are cached).
    ///
    /// # Errors
    /// [`Error::Request`] for transport failures.
    pub fn get(&self, service: Service, url: &str) -> Result<Fetched, Error> {
        if let Some(hit) = self.cache_read(url) {
            return Ok(hit);
        }
        if service == Service::MusicBrainz {
            self.wait_musicbrainz_turn();
        }
        let fail = |failure: Failure| Error::Request {
            service,
            url: url.to_string(),
            failure,
        };
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| fail(failure_of(e, &self.options)))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| fail(failure_of(e, &self.options)))?;
        let fetched = Fetched {
            status,
            content_type,
            body,
        };
        if (200..300).contains(&status) || status == 404 {
            self.cache_write(url, &fetched);
        }
        Ok(fetched)
    }

    /// GETs `url`: `Some` for 2xx, `None` for 404 (not found is a result), an error
    /// for any other status.
    ///
    /// # Errors
    /// [`Error::Request`] for transport failures and unexpected statuses.
    pub fn get_found(&self, service: Service, url: &str) -> Result<Option<Fetched>, Error> {
        let f = self.get(service, url)?;
        match f.status {
            200..=299 => Ok(Some(f)),
            404 => Ok(None),
            s => Err(Error::Request {
                service,
                url: url.to_string(),
                failure: Failure::Status(s),
            }),
        }
    }

    fn wait_musicbrainz_turn(&self) {
        let Ok(mut last) = self.musicbrainz_last.lock() else {
            return;
        };
        if let Some(prev) = *last {
            let next = prev + self.options.musicbrainz_interval;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
        }
        *last = Some(Instant::now());
    }

    fn cache_path(&self, url: &str) -> Option<PathBuf> {
        let dir = self.options.cache_dir.as_ref()?;
        let digest = Sha1::digest(url.as_bytes());
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Some(dir.join(name))
    }

    fn cache_read(&self, url: &str) -> Option<Fetched> {
        let path = self.cache_path(url)?;
        let meta = std::fs::metadata(&path).ok()?;
        let age = SystemTime::now()
            .duration_since(meta.modified().ok()?)
            .unwrap_or(Duration::MAX);
        if age > self.options.cache_ttl {
            return None;
        }
        let data = std::fs::read(&path).ok()?;
        decode_cache_entry(url, &data)
    }

    /// Best effort: a cache that cannot be written only costs a request next time.
    fn cache_write(&self, url: &str, f: &Fetched) {
        let Some(path) = self.cache_path(url) else {
            return;
        };
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let mut data = format!(
            "{url}\n{}\n{}\n",
            f.status,
            f.content_type.as_deref().unwrap_or("")
        )
        .into_bytes();
        data.extend_from_slice(&f.body);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &data).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// A cache file is `URL\nSTATUS\nCONTENT-TYPE\nBODY`; the URL guards against hash
/// collisions and foreign files.
fn decode_cache_entry(url: &str, data: &[u8]) -> Option<Fetched> {
    let mut rest = data;
    let mut line = || -> Option<String> {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let (l, r) = rest.split_at(end);
        rest = r.get(1..)?;
        String::from_utf8(l.to_vec()).ok()
    };
    if line()? != url {
        return None;
    }
    let status: u16 = line()?.parse().ok()?;
    let ct = line()?;
    Some(Fetched {
        status,
        content_type: (!ct.is_empty()).then_some(ct),
        body: rest.to_vec(),
    })
}

fn failure_of(e: ureq::Error, options: &Options) -> Failure {
    match e {
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused
            | ErrorKind::NetworkUnreachable
            | ErrorKind::HostUnreachable
            | ErrorKind::AddrNotAvailable
            | ErrorKind::NetworkDown => Failure::Offline(io.to_string()),
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Failure::Timeout(io.to_string()),
            ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted => {
                Failure::Connection(format!("the server closed the connection ({io})"))
            }
            // std's resolver error ("failed to lookup address information: …").
            _ if io.to_string().contains("lookup address") => Failure::HostNotFound,
            _ => Failure::Connection(io.to_string()),
        },
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => Failure::Timeout(
            format!("could not connect within {:?}", options.connect_timeout),
        ),
        ureq::Error::Timeout(_) => {
            Failure::Timeout(format!("no complete answer within {:?}", options.timeout))
        }
        ureq::Error::HostNotFound => Failure::HostNotFound,
        ureq::Error::ConnectionFailed => Failure::Offline("connection failed".into()),
        ureq::Error::StatusCode(s) => Failure::Status(s),
        ureq::Error::BodyExceedsLimit(n) => {
            Failure::Body(format!("the body is larger than {n} bytes"))
        }
        ureq::Error::TooManyRedirects => Failure::Connection("too many redirects".into()),
        ureq::Error::RedirectFailed => {
            Failure::Connection("a redirect could not be followed".into())
        }
        ureq::Error::Protocol(p) => Failure::Connection(format!("not a valid HTTP answer ({p})")),
        ureq::Error::BadUri(u) => Failure::Connection(format!("bad URL ({u})")),
        other => Failure::Connection(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cache_entries_round_trip_and_reject_other_urls() {
        let f = Fetched {
            status: 200,
            content_type: Some("text/xml".into()),
            body: b"<a>\n</a>".to_vec(),
        };
        let mut data = b"http://x/a\n200\ntext/xml\n".to_vec();
        data.extend_from_slice(&f.body);
        assert_eq!(decode_cache_entry("http://x/a", &data), Some(f));
        assert_eq!(decode_cache_entry("http://x/b", &data), None);
        assert_eq!(decode_cache_entry("http://x/a", b"http://x/a\n"), None);
    }

    #[test]
    fn the_client_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Lookup>();
    }

    #[test]
    fn user_agent_names_the_version() {
        assert!(USER_AGENT.starts_with("AudioJuggler/0."));
        assert!(USER_AGENT.ends_with("(aj; port 3643)"));
    }
}
