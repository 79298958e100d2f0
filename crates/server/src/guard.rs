//! What a web page on another site must not be able to do through the
//! user's browser: start, cancel or delete jobs (cross-site request
//! forgery), or read the API through a name it controls (DNS rebinding).
//!
//! Every request passes [`Guard::admit`] before anything else (the token
//! check included):
//!
//! - **Host.** When the server listens on a loopback address, the `Host`
//!   header must name loopback: `localhost` (or a name under `.localhost`,
//!   RFC 6761 section 6.3), an address in 127.0.0.0/8, or `[::1]`, with any
//!   port. A page of `evil.example` whose name was rebound to 127.0.0.1
//!   sends `Host: evil.example` and is refused (403). On other addresses
//!   the token protects the server instead.
//! - **Origin.** A state-changing request (any method but GET, HEAD,
//!   OPTIONS and TRACE) that carries `Origin` (RFC 6454 section 7) must come
//!   from the server's own origin: the Origin's host and port must be the
//!   request's `Host`. `Origin: null` is refused. So is a request that
//!   `Sec-Fetch-Site` (W3C Fetch Metadata) marks `cross-site` or
//!   `same-site`. Clients that are not browsers send neither header.
//! - **Content type.** A state-changing request with a body must say it
//!   is JSON
//!   (`Content-Type: application/json`, parameters allowed), else 415: a
//!   page can send `text/plain` bodies to any site without a CORS
//!   preflight, never `application/json`. A request without a body needs
//!   no Content-Type (`POST /api/v1/jobs/{id}/cancel`).
//!
//! Refusals are JSON errors ([`ApiError`]) and are logged. The same layer
//! turns any error answer that is not JSON yet (a rejection written by the
//! framework) into the JSON error shape, so that every error of the server
//! is `{"error": "…"}`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Longest error body of the framework turned into a JSON error (its
/// rejections are one line).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Who the server answers, from the address it listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// Listening on loopback: only loopback `Host` names are answered.
    loopback: bool,
}

impl Guard {
    /// The guard for a server listening on `local`.
    pub fn for_listener(local: SocketAddr) -> Guard {
        Guard {
            loopback: local.ip().to_canonical().is_loopback(),
        }
    }

    /// Whether the request may go on; why not, as the error to answer.
    ///
    /// # Errors
    /// 403 for a Host that is not loopback, or none, on a loopback
    /// listener, and for a cross-site state-changing request; 415 for a
    /// body that is not said to be JSON.
    pub fn admit(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        let host = headers
            .get(header::HOST)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string());
        if self.loopback {
            match &host {
                None => {
                    return Err(refuse(
                        StatusCode::FORBIDDEN,
                        "the request has no Host header (HTTP/1.1 requires one, RFC 9112 section 3.2)".into(),
                    ))
                }
                Some(h) if !is_loopback_host(h) => {
                    return Err(refuse(
                        StatusCode::FORBIDDEN,
                        format!(
                            "Host {h:?} is not a loopback name: this server listens on loopback and answers only to localhost, 127.0.0.1 or [::1] (a web page may be trying DNS rebinding)"
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        if !is_safe(method) {
            if let Some(site) = headers.get("sec-fetch-site") {
                let site = String::from_utf8_lossy(site.as_bytes()).to_ascii_lowercase();
                if site == "cross-site" || site == "same-site" {
                    return Err(refuse(
                        StatusCode::FORBIDDEN,
                        format!(
                            "cross-site request refused: a {method} from another site (Sec-Fetch-Site: {site}); use the server's own page or a client that is not a browser"
                        ),
                    ));
                }
            }
            if let Some(origin) = headers.get(header::ORIGIN) {
                let origin = String::from_utf8_lossy(origin.as_bytes())
                    .trim()
                    .to_string();
                if !same_origin(&origin, host.as_deref()) {
                    return Err(refuse(
                        StatusCode::FORBIDDEN,
                        format!(
                            "cross-origin request refused: a {method} from {origin:?}, which is not this server ({})",
                            host.as_deref().unwrap_or("no Host")
                        ),
                    ));
                }
            }
        }
        if !is_safe(method) && has_body(headers) && !is_json(headers) {
            let given = headers
                .get(header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                match given {
                    Some(t) => format!("the request body must be JSON, sent with 'Content-Type: application/json' (not {t:?})"),
                    None => "the request body must be JSON, sent with 'Content-Type: application/json' (no Content-Type was given)".into(),
                },
            ));
        }
        Ok(())
    }
}

/// Logs a refusal and makes it the answer.
fn refuse(status: StatusCode, message: String) -> ApiError {
    eprintln!("aj serve: refused a request: {message}");
    ApiError::new(status, message)
}

/// GET, HEAD, OPTIONS and TRACE change nothing (RFC 9110 section 9.2.1).
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// A body follows: a Content-Length above 0, or a Transfer-Encoding
/// (RFC 9112 section 6.3).
fn has_body(headers: &HeaderMap) -> bool {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .trim()
                .parse::<u64>()
                .map_or(true, |n| n > 0)
        })
        .unwrap_or(false)
}

/// `Content-Type: application/json`, with any parameters (RFC 8259
/// section 11; media types are case-insensitive, RFC 9110 section 8.3.1).
fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let text = String::from_utf8_lossy(v.as_bytes());
        let essence = text.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/json")
    })
}

/// Splits `host[:port]` or `[v6][:port]` (RFC 9110 section 7.2) into the
/// host, lower case, and the port text (empty when none).
fn split_host(authority: &str) -> (String, &str) {
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((ip, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').unwrap_or("");
            return (ip.to_ascii_lowercase(), port);
        }
        return (authority.to_ascii_lowercase(), "");
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h.to_ascii_lowercase(), p),
        _ => (authority.to_ascii_lowercase(), ""),
    }
}

/// `localhost`, a name under `.localhost`, or a loopback address, with any
/// port.
pub fn is_loopback_host(authority: &str) -> bool {
    let (host, _) = split_host(authority);
    let host = host.strip_suffix('.').unwrap_or(&host);
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// The Origin (`scheme://host[:port]`) is the origin of `host`: same host
/// and same port, default ports spelled or not (RFC 6454 section 4).
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let Some((scheme, authority)) = origin.split_once("://") else {
        // "null" and anything else that names no origin.
        return false;
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let (oh, op) = split_host(authority);
    let (hh, hp) = split_host(host);
    let port = |p: &str| {
        if p.is_empty() {
            default.to_string()
        } else {
            p.to_string()
        }
    };
    oh == hh && port(op) == port(hp)
}

/// Middleware: refuses what [`Guard::admit`] refuses, and makes every
/// error answer JSON.
pub async fn check(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    if let Err(e) = guard.admit(req.method(), req.headers()) {
        return e.into_response();
    }
    json_errors(next.run(req).await).await
}

/// An error answer that is not JSON (a rejection of the framework: a body
/// over the limit, a path that cannot be read) becomes `{"error": TEXT}`
/// with the same status.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_string()
    } else {
        text
    };
    let mut answer = ApiError::new(status, message).into_response();
    // Headers of the original answer (Allow, Retry-After…) are kept.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn local() -> Guard {
        Guard::for_listener("127.0.0.1:3643".parse().unwrap())
    }

    #[test]
    fn loopback_names() {
        for h in [
            "localhost",
            "LOCALHOST:3643",
            "app.localhost:80",
            "localhost.",
            "127.0.0.1",
            "127.1.2.3:3643",
            "[::1]:3643",
            "[::1]",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "evil.example",
            "evil.example:3643",
            "localhost.evil.example",
            "10.0.0.1:3643",
            "[::2]:3643",
            "127.0.0.1.evil.example",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn rebinding_is_refused_on_loopback_only() {
        let h = headers(&[("host", "evil.example:3643")]);
        let e = local().admit(&Method::GET, &h).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.message.contains("evil.example"), "{}", e.message);
        let lan = Guard::for_listener("192.168.1.2:3643".parse().unwrap());
        assert!(lan.admit(&Method::GET, &h).is_ok());
        assert!(local()
            .admit(&Method::GET, &headers(&[("host", "127.0.0.1:3643")]))
            .is_ok());
        assert_eq!(
            local()
                .admit(&Method::GET, &HeaderMap::new())
                .unwrap_err()
                .status,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn cross_origin_changes_are_refused() {
        let g = local();
        let ok = [
            vec![("host", "127.0.0.1:3643")],
            vec![
                ("host", "127.0.0.1:3643"),
                ("origin", "http://127.0.0.1:3643"),
            ],
            vec![("host", "localhost"), ("origin", "http://localhost:80")],
            vec![
                ("host", "127.0.0.1:3643"),
                ("sec-fetch-site", "same-origin"),
            ],
            vec![("host", "127.0.0.1:3643"), ("sec-fetch-site", "none")],
        ];
        for h in ok {
            assert!(g.admit(&Method::POST, &headers(&h)).is_ok(), "{h:?}");
        }
        let refused = [
            vec![
                ("host", "127.0.0.1:3643"),
                ("origin", "http://evil.example"),
            ],
            vec![
                ("host", "127.0.0.1:3643"),
                ("origin", "http://127.0.0.1:8080"),
            ],
            vec![("host", "127.0.0.1:3643"), ("origin", "null")],
            vec![("host", "127.0.0.1:3643"), ("origin", "https://127.0.0.1")],
            vec![("host", "127.0.0.1:3643"), ("sec-fetch-site", "cross-site")],
            vec![("host", "127.0.0.1:3643"), ("sec-fetch-site", "same-site")],
        ];
        for h in refused {
            let e = g.admit(&Method::DELETE, &headers(&h)).unwrap_err();
            assert_eq!(e.status, StatusCode::FORBIDDEN, "{h:?}");
        }
        // Reads are not state changes: a cross-origin GET is the browser's
        // business (no CORS headers are sent, so the page cannot read it).
        let h = headers(&[
            ("host", "127.0.0.1:3643"),
            ("origin", "http://evil.example"),
        ]);
        assert!(g.admit(&Method::GET, &h).is_ok());
    }

    #[test]
    fn bodies_must_be_json() {
        let g = local();
        let plain = headers(&[
            ("host", "127.0.0.1:3643"),
            ("content-type", "text/plain"),
            ("content-length", "20"),
        ]);
        let e = g.admit(&Method::POST, &plain).unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(e.message.contains("text/plain"), "{}", e.message);
        let untyped = headers(&[("host", "127.0.0.1:3643"), ("transfer-encoding", "chunked")]);
        assert!(g.admit(&Method::PUT, &untyped).is_err());
        for ct in ["application/json", "Application/JSON; charset=utf-8"] {
            let h = headers(&[
                ("host", "127.0.0.1:3643"),
                ("content-type", ct),
                ("content-length", "2"),
            ]);
            assert!(g.admit(&Method::POST, &h).is_ok(), "{ct}");
        }
        // No body: no Content-Type needed, whatever is said.
        for h in [
            headers(&[("host", "127.0.0.1:3643")]),
            headers(&[("host", "127.0.0.1:3643"), ("content-length", "0")]),
            headers(&[
                ("host", "127.0.0.1:3643"),
                ("content-length", "0"),
                ("content-type", "text/plain"),
            ]),
        ] {
            assert!(g.admit(&Method::POST, &h).is_ok(), "{h:?}");
        }
    }
}
