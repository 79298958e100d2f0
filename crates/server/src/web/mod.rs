//! The web page at `/`: plain HTML, CSS and JavaScript built into the
//! binary (no build step, nothing fetched from elsewhere). The page is a
//! client of the API under `/api/v1` like any other.
//!
//! The page's files hold no data, so they are served without a token: a
//! browser must be able to load the page in order to ask for the token.
//! Every answer carries a Content-Security-Policy that allows only this
//! server's own scripts, styles and connections, and an `ETag` (a hash of
//! the bytes) with `Cache-Control: no-cache`, so browsers revalidate and get
//! `304 Not Modified` while the binary is unchanged (RFC 9111 §5.2.2.4,
//! RFC 9110 §13.1.2).

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;

/// What the page may load and where it may connect: its own origin only;
/// no inline scripts or styles, no frames, no forms posted elsewhere
/// (CSP Level 3, W3C).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// The routes of the page, `(method, path)`, beside the API's
/// [`crate::api::ROUTES`] (the OpenAPI document describes the API only).
pub const PAGE_ROUTES: &[(&str, &str)] = &[("get", "/"), ("get", "/assets/{name}")];

/// One file of the page.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// The page's files, served under `/assets/` (and `index.html` at `/`).
const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("app.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("style.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("icon.svg"),
    },
];

/// The routes serving the page; merged into the router outside the token
/// check.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

/// The ETag of each asset, in the order of [`ASSETS`], computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{:016x}\"", fnv1a(a.bytes)))
            .collect()
    })
}

/// FNV-1a, 64 bits: enough to tell versions of a file apart (not a
/// security measure).
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// True when `If-None-Match` lists `etag` (or `*`), RFC 9110 §13.1.2.
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let found = ASSETS.iter().zip(etags()).find(|(a, _)| a.name == name);
    let Some((asset, etag)) = found else {
        return ApiError::not_found(format!("no page file {name:?}")).into_response();
    };
    let status = if matches(headers, etag) {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut response = if status == StatusCode::OK {
        asset.bytes.into_response()
    } else {
        status.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_with_its_type_and_policy() {
        for a in ASSETS {
            let r = serve(a.name, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::OK, "{}", a.name);
            let h = r.headers();
            assert_eq!(h[header::CONTENT_TYPE], a.content_type);
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(h[header::CACHE_CONTROL], "no-cache");
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert!(h[header::ETAG].to_str().unwrap().starts_with('"'));
        }
        let r = serve("nothing.js", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn an_unchanged_file_is_not_sent_again() {
        let first = serve("app.js", &HeaderMap::new());
        let etag = first.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag.clone());
        let again = serve("app.js", &h);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag);
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"0\", W/\"1\""),
        );
        assert_eq!(serve("app.js", &h).status(), StatusCode::OK);
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        let html = std::str::from_utf8(include_bytes!("index.html")).unwrap();
        // No inline script or style: the policy would block them.
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<style"));
        assert!(!html.contains(" style="));
        // No inline event handlers (` onclick=` and the like).
        for part in html.split(" on").skip(1) {
            let name: String = part.chars().take_while(char::is_ascii_alphabetic).collect();
            assert!(
                name.is_empty() || !part[name.len()..].starts_with('='),
                "inline handler on{name}"
            );
        }
        for part in html.split("assets/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(ASSETS.iter().any(|a| a.name == name), "{name}");
        }
        // Data goes into the page as text, never as markup.
        let js = std::str::from_utf8(include_bytes!("app.js")).unwrap();
        assert!(!js.contains("innerHTML"));
        assert!(!js.contains("insertAdjacentHTML"));
        assert!(!js.contains("document.write"));
    }

    /// Every element the script looks up by id (`$('…')`, `setText('…')`)
    /// is in the page: a renamed or removed control fails here, not in a
    /// user's browser.
    #[test]
    fn every_id_the_script_uses_is_in_the_page() {
        let html = std::str::from_utf8(include_bytes!("index.html")).unwrap();
        let js = std::str::from_utf8(include_bytes!("app.js")).unwrap();
        let mut used = Vec::new();
        for call in ["$('", "setText('"] {
            for part in js.split(call).skip(1) {
                let id = part.split('\'').next().unwrap();
                if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    used.push(id.to_string());
                }
            }
        }
        assert!(used.len() > 50, "{used:?}");
        for id in &used {
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "the page has no #{id}"
            );
        }
        // Each id once.
        for part in html.split(" id=\"").skip(1) {
            let id = part.split('"').next().unwrap();
            assert_eq!(html.matches(&format!(" id=\"{id}\"")).count(), 1, "#{id}");
        }
    }
}
