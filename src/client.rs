//! A client of the daemon (`aj serve`): its API under `/api/v1` over
//! blocking HTTP, and its server-sent event feed.
//!
//! Used by `aj jobs` and by `aj convert`/`aj rip` with `--server`. Failures
//! are worded for a person and name the server: no daemon listening, a
//! token needed, or the server's own message.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

/// Where the daemon listens unless told otherwise: loopback, on the port
/// IANA registered for AudioJuggler.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:3643";

/// Longest answer read from the daemon (a job list, a log page).
const MAX_BODY: u64 = 256 * 1024 * 1024;

/// Longest line of the event stream.
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// Time to wait for an ordinary answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest silence of the event stream before it counts as lost: the
/// daemon sends a keep-alive comment every 15 s.
const STREAM_SILENCE: Duration = Duration::from_secs(45);

/// A connection to one daemon.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    stream_agent: ureq::Agent,
}

/// One event of the feed (`GET /api/v1/events`), as the stream carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub id: Option<i64>,
    pub kind: String,
    pub data: Value,
}

impl Client {
    /// A client of `server` (else `$AJ_SERVER`, else [`DEFAULT_SERVER`]),
    /// with the token read from `token_file` (else `$AJ_TOKEN`).
    ///
    /// # Errors
    /// The URL is not http(s); the token file cannot be read or is empty.
    pub fn new(server: Option<&str>, token_file: Option<&Path>) -> anyhow::Result<Client> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let server = server
            .map(str::to_string)
            .or_else(|| var("AJ_SERVER"))
            .unwrap_or_else(|| DEFAULT_SERVER.to_string());
        let base = normalize(&server)?;
        let token = match token_file {
            Some(path) => Some(read_token(path)?),
            None => var("AJ_TOKEN").map(|t| t.trim().to_string()),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .into();
        let stream_agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_per_read(Some(STREAM_SILENCE))
            .build()
            .into();
        Ok(Client {
            base,
            token,
            agent,
            stream_agent,
        })
    }

    /// The daemon's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn auth(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// Calls `method path` with an optional JSON body; the answer's JSON
    /// (`Null` for an empty one).
    ///
    /// # Errors
    /// The daemon cannot be reached, or answers with an error.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let auth = self.auth();
        let sent = match method {
            "GET" => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            "DELETE" => {
                let mut r = self.agent.delete(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            _ => {
                let mut r = self
                    .agent
                    .post(&url)
                    .header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                match body {
                    Some(b) => r.send(b.to_string().as_str()),
                    None => r.send_empty(),
                }
            }
        };
        let resp = sent.map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        let text = resp
            .into_body()
            .into_with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| anyhow!("{}: cannot read the answer: {e}", self.base))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| {
                anyhow!(
                    "{}: the answer to {method} {path} is not JSON ({e}); is this an AudioJuggler daemon?",
                    self.base
                )
            })?
        };
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(self.status_error(status, &value))
        }
    }

    /// What a failed connection means, for a person.
    fn transport_error(&self, e: ureq::Error) -> anyhow::Error {
        let refused = match &e {
            ureq::Error::Io(io) => matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
            ),
            ureq::Error::ConnectionFailed => true,
            _ => false,
        };
        if refused {
            anyhow!(
                "no daemon listening at {}; start one with aj serve",
                self.base
            )
        } else if matches!(e, ureq::Error::HostNotFound) {
            anyhow!("{}: no such host", self.base)
        } else {
            anyhow!("{}: {e}", self.base)
        }
    }

    /// An error answer, with the server's message.
    fn status_error(&self, status: u16, body: &Value) -> anyhow::Error {
        let message = body
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP status {status}"));
        match status {
            401 if self.token.is_none() => anyhow!(
                "{}: the server needs a token: --token-file or AJ_TOKEN",
                self.base
            ),
            401 => anyhow!(
                "{}: the server refused the token ({message}); check --token-file or AJ_TOKEN",
                self.base
            ),
            _ => anyhow!("{}: {message}", self.base),
        }
    }

    /// The jobs, oldest first (in `state`, when given).
    ///
    /// # Errors
    /// See [`Client::call`]; an unknown state is the server's 400.
    pub fn jobs(&self, state: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let path = match state {
            Some(s) => format!("/api/v1/jobs?state={}", query_escape(s)),
            None => "/api/v1/jobs".to_string(),
        };
        let v = self.call("GET", &path, None)?;
        v.get("jobs")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| anyhow!("{}: the job list has no \"jobs\"", self.base))
    }

    /// One job.
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn job(&self, id: i64) -> anyhow::Result<Value> {
        self.call("GET", &format!("/api/v1/jobs/{id}"), None)
    }

    /// Submits a job spec; the job as queued.
    ///
    /// # Errors
    /// See [`Client::call`]; a path outside the daemon's library is its 403.
    pub fn submit(&self, spec: &aj_jobs::JobSpec) -> anyhow::Result<Value> {
        let body = serde_json::to_value(spec).context("cannot write the job spec")?;
        self.call("POST", "/api/v1/jobs", Some(&body))
    }

    /// Cancels a job; the job as it is now.
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn cancel(&self, id: i64) -> anyhow::Result<Value> {
        self.call("POST", &format!("/api/v1/jobs/{id}/cancel"), None)
    }

    /// Queues a failed, cancelled or interrupted job again.
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn retry(&self, id: i64) -> anyhow::Result<Value> {
        self.call("POST", &format!("/api/v1/jobs/{id}/retry"), None)
    }

    /// Deletes a job that is not running, with its log.
    ///
    /// # Errors
    /// See [`Client::call`]; a running job is the server's 409.
    pub fn delete(&self, id: i64) -> anyhow::Result<()> {
        self.call("DELETE", &format!("/api/v1/jobs/{id}"), None)
            .map(|_| ())
    }

    /// The entries of a job's log after number `after` (`{seq, time,
    /// event}`), in order.
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn log(&self, id: i64, after: i64) -> anyhow::Result<Vec<Value>> {
        let v = self.call("GET", &format!("/api/v1/jobs/{id}/log?after={after}"), None)?;
        let entries = v
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| anyhow!("{}: the log of job {id} has no \"events\"", self.base))?;
        // An older daemon ignores `after`: skip what was already seen.
        Ok(entries
            .into_iter()
            .filter(|e| e.get("seq").and_then(Value::as_i64).unwrap_or(0) > after)
            .collect())
    }

    /// Opens the event feed: events after `last_event_id` when given, then
    /// live ones.
    ///
    /// # Errors
    /// See [`Client::call`].
    pub fn events(&self, last_event_id: Option<i64>) -> anyhow::Result<EventStream> {
        let url = format!("{}/api/v1/events", self.base);
        let mut r = self
            .stream_agent
            .get(&url)
            .header("Accept", "text/event-stream");
        if let Some(a) = self.auth() {
            r = r.header("Authorization", a);
        }
        if let Some(id) = last_event_id {
            r = r.header("Last-Event-ID", id.to_string());
        }
        let resp = r.call().map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let text = resp
                .into_body()
                .into_with_config()
                .limit(1024 * 1024)
                .read_to_string()
                .unwrap_or_default();
            let body = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Err(self.status_error(status, &body));
        }
        let reader: Box<dyn Read + Send> = Box::new(resp.into_body().into_reader());
        Ok(EventStream {
            reader: BufReader::new(reader),
        })
    }
}

/// `http://host:port` without a trailing slash; a bare `host:port` is
/// taken as http.
fn normalize(server: &str) -> anyhow::Result<String> {
    let s = server.trim().trim_end_matches('/');
    if s.is_empty() {
        bail!("--server: give the daemon's URL, e.g. {DEFAULT_SERVER}");
    }
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    if !(with_scheme.starts_with("http://") || with_scheme.starts_with("https://")) {
        bail!("--server {server}: not an http:// or https:// URL");
    }
    Ok(with_scheme)
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("token file {}", path.display()))?;
    let t = text.trim();
    if t.is_empty() {
        bail!("token file {}: it is empty", path.display());
    }
    Ok(t.to_string())
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The event feed being read: one [`FeedEvent`] at a time.
pub struct EventStream {
    reader: BufReader<Box<dyn Read + Send>>,
}

impl EventStream {
    /// The next event; `None` when the stream ended.
    ///
    /// # Errors
    /// The connection failed or stayed silent too long.
    pub fn next_event(&mut self) -> std::io::Result<Option<FeedEvent>> {
        let mut parser = SseParser::default();
        loop {
            let mut line = Vec::new();
            let n = (&mut self.reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                return Ok(None);
            }
            if !line.ends_with(b"\n") && n as u64 >= MAX_LINE {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "an event line is too long",
                ));
            }
            let text = String::from_utf8_lossy(&line);
            if let Some(e) = parser.line(text.trim_end_matches(['\n', '\r'])) {
                return Ok(Some(e));
            }
        }
    }
}

/// The event-stream format (WHATWG HTML, "Server-sent events", 9.2.6
/// Interpreting an event stream): `field: value` lines, a blank line ends
/// an event, lines starting with `:` are comments.
#[derive(Debug, Default)]
struct SseParser {
    id: Option<String>,
    kind: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Takes one line (without its end); an event when the line ends one.
    fn line(&mut self, line: &str) -> Option<FeedEvent> {
        if line.is_empty() {
            let data = self.data.take()?;
            let id = self.id.take().and_then(|i| i.trim().parse().ok());
            let kind = self.kind.take().unwrap_or_else(|| "message".into());
            let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
            return Some(FeedEvent { id, kind, data });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "id" => self.id = Some(value.to_string()),
            "event" => self.kind = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn event_stream_lines() {
        let mut p = SseParser::default();
        assert_eq!(p.line(": keep-alive"), None);
        assert_eq!(p.line(""), None, "no data: no event");
        assert_eq!(p.line("id: 7"), None);
        assert_eq!(p.line("event: job.state"), None);
        assert_eq!(p.line("data: {\"id\":"), None);
        assert_eq!(p.line("data: 3}"), None);
        let e = p.line("").unwrap();
        assert_eq!(e.id, Some(7));
        assert_eq!(e.kind, "job.state");
        assert_eq!(e.data, serde_json::json!({"id": 3}));
        assert_eq!(p.line("data:plain"), None);
        let e = p.line("").unwrap();
        assert_eq!((e.id, e.kind.as_str()), (None, "message"));
        assert_eq!(e.data, Value::String("plain".into()));
    }

    #[test]
    fn server_urls() {
        assert_eq!(
            normalize("127.0.0.1:3643/").unwrap(),
            "http://127.0.0.1:3643"
        );
        assert_eq!(
            normalize("https://nas.local:3643").unwrap(),
            "https://nas.local:3643"
        );
        assert!(normalize("ftp://x").is_err());
        assert!(normalize(" ").is_err());
        assert_eq!(query_escape("a b&c"), "a%20b%26c");
    }
}
