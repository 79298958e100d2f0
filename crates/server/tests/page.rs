//! The web page's routes over real HTTP: served without a token (the API
//! still needs it), typed, with the content security policy, and
//! revalidated with `ETag` / `If-None-Match`.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use aj_server::{App, Config, Server};

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One GET over HTTP/1.1 with `Connection: close`, read to the end.
fn get(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

#[test]
fn the_page_is_served_without_a_token_and_the_api_is_not() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("lib")).unwrap();
    let app = App::open(Config {
        libraries: vec![t.path().join("lib")],
        data_dir: t.path().join("data"),
        token: Some("secret-token".into()),
        max_encoders: 1,
        drives: Vec::new(),
    })
    .unwrap();
    let server = Server::start(TcpListener::bind("127.0.0.1:0").unwrap(), app).unwrap();
    let addr = server.addr;

    let page = get(addr, "/", &[]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        page.header("content-security-policy"),
        Some(aj_server::web::CSP)
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains("<title>AudioJuggler</title>"));

    for (path, kind) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/style.css", "text/css; charset=utf-8"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let a = get(addr, path, &[]);
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(a.header("content-type"), Some(kind), "{path}");
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
        assert!(!a.body.is_empty());
        // Unchanged: not sent again.
        let etag = a.header("etag").unwrap().to_string();
        let again = get(addr, path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
    }

    let missing = get(addr, "/assets/nothing.js", &[]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("application/json"));
    assert!(String::from_utf8(missing.body)
        .unwrap()
        .contains("nothing.js"));

    // The API still needs the token.
    assert_eq!(get(addr, "/api/v1/status", &[]).status, 401);
    let ok = get(
        addr,
        "/api/v1/status",
        &[("Authorization", "Bearer secret-token")],
    );
    assert_eq!(ok.status, 200);
    assert_eq!(get(addr, "/api/v1/nothing", &[]).status, 401);
    server.stop().unwrap();
}
