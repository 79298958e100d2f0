//! A tiny HTTP/1.1 fixture server for tests of online-service clients.
//!
//! It listens on `127.0.0.1:0` in a background thread, answers each request from a
//! fixed table of [`Route`]s (404 for anything else), records every request it
//! received (method, target, headers) so a test can assert the exact URL and
//! User-Agent a client sent, and can delay a response or drop the connection to
//! simulate slow and broken servers. One request per connection (`Connection:
//! close`). Stopped when dropped. Built on `std::net` only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One canned answer: which requests it serves and what it sends back.
#[derive(Debug, Clone)]
pub struct Route {
    method: String,
    pattern: String,
    status: u16,
    content_type: String,
    body: Vec<u8>,
    location: Option<String>,
    headers: Vec<(String, String)>,
    delay: Duration,
    drop_connection: bool,
}

impl Route {
    /// A route for `GET pattern`, answering `200` with an empty body until told more.
    ///
    /// The pattern matches the request target: with a `?` it must equal the whole
    /// target (path and query); without, it must equal the path (any query). A
    /// trailing `*` makes it a prefix match.
    pub fn get(pattern: &str) -> Route {
        Route::new("GET", pattern)
    }

    /// A route for `method pattern` (see [`Route::get`] for patterns).
    pub fn new(method: &str, pattern: &str) -> Route {
        Route {
            method: method.to_ascii_uppercase(),
            pattern: pattern.to_string(),
            status: 200,
            content_type: "application/octet-stream".into(),
            body: Vec::new(),
            location: None,
            headers: Vec::new(),
            delay: Duration::ZERO,
            drop_connection: false,
        }
    }

    /// The response status code.
    pub fn status(mut self, status: u16) -> Route {
        self.status = status;
        self
    }

    /// The response body and its `Content-Type`.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Route {
        self.content_type = content_type.to_string();
        self.body = body.into();
        self
    }

    /// A redirect: `status` (301, 302, 303, 307) with a `Location` header.
    pub fn redirect(mut self, status: u16, location: &str) -> Route {
        self.status = status;
        self.location = Some(location.to_string());
        self
    }

    /// An extra response header.
    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Waits this long before answering.
    pub fn delay(mut self, delay: Duration) -> Route {
        self.delay = delay;
        self
    }

    /// Closes the connection without answering.
    pub fn drop_connection(mut self) -> Route {
        self.drop_connection = true;
        self
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let subject = if self.pattern.contains('?') {
            target
        } else {
            target.split('?').next().unwrap_or(target)
        };
        match self.pattern.strip_suffix('*') {
            Some(prefix) => subject.starts_with(prefix),
            None => subject == self.pattern,
        }
    }
}

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Path and query as sent, e.g. `/ws/2/discid/abc?fmt=json`.
    pub target: String,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The path part of the target.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }

    /// The query part of the target (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running fixture server; stops when dropped.
pub struct FixtureServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FixtureServer {
    /// Starts a server answering from `routes` (first match wins).
    pub fn start(routes: Vec<Route>) -> FixtureServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let routes = Arc::new(routes);
        let thread = {
            let requests = Arc::clone(&requests);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let routes = Arc::clone(&routes);
                    let requests = Arc::clone(&requests);
                    std::thread::spawn(move || serve(stream, &routes, &requests));
                }
            })
        };
        FixtureServer {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The targets (path and query) of every request received so far.
    pub fn targets(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.target).collect()
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A base URL where nothing listens (a port bound and released at once), to test
/// how a client reports a refused connection.
pub fn refused_base_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{addr}")
}

fn serve(stream: TcpStream, routes: &[Route], requests: &Mutex<Vec<Request>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            break;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().to_string();
            if name == "content-length" {
                content_length = value.parse().unwrap_or(0);
            }
            headers.push((name, value));
        }
    }
    if content_length > 0 {
        let mut body = vec![0u8; content_length.min(1 << 20)];
        let _ = reader.read_exact(&mut body);
    }
    if let Ok(mut r) = requests.lock() {
        r.push(Request {
            method: method.clone(),
            target: target.clone(),
            headers,
        });
    }
    let mut stream = stream;
    let route = routes.iter().find(|r| r.matches(&method, &target));
    let Some(route) = route else {
        let body = b"not found";
        let _ = write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(body);
        let _ = stream.flush();
        return;
    };
    if !route.delay.is_zero() {
        std::thread::sleep(route.delay);
    }
    if route.drop_connection {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        route.status,
        reason(route.status),
        route.content_type,
        route.body.len()
    );
    if let Some(loc) = &route.location {
        head.push_str(&format!("Location: {loc}\r\n"));
    }
    for (n, v) in &route.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&route.body);
    let _ = stream.flush();
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> (u16, Vec<u8>) {
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
        let mut s = TcpStream::connect(host).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: t/1\r\n\r\n"
        )
        .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1.as_bytes().to_vec();
        (status, body)
    }

    #[test]
    fn routes_record_and_404() {
        let server = FixtureServer::start(vec![
            Route::get("/a").body("text/plain", "A"),
            Route::get("/q?x=1").body("text/plain", "Q"),
            Route::get("/p/*").body("text/plain", "P"),
        ]);
        let base = server.base_url();
        assert_eq!(get(&format!("{base}/a?z=9")), (200, b"A".to_vec()));
        assert_eq!(get(&format!("{base}/q?x=1")), (200, b"Q".to_vec()));
        assert_eq!(get(&format!("{base}/q?x=2")).0, 404);
        assert_eq!(get(&format!("{base}/p/deep/er")), (200, b"P".to_vec()));
        assert_eq!(get(&format!("{base}/nothing")).0, 404);
        let reqs = server.requests();
        assert_eq!(reqs.len(), 5);
        assert_eq!(reqs[0].target, "/a?z=9");
        assert_eq!(reqs[0].path(), "/a");
        assert_eq!(reqs[0].query(), Some("z=9"));
        assert_eq!(reqs[0].header("user-agent"), Some("t/1"));
    }
}
