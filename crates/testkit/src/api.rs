//! A small JSON client for the daemon's API tests: one request, its status,
//! `Location` and body, with an optional bearer token. Answers with any
//! status are returned, not turned into errors (the tests check them).

use std::time::Duration;

use serde_json::Value;

/// One answer of the server.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The `Location` header, when there is one.
    pub location: Option<String>,
    /// The `Content-Type` header, when there is one.
    pub content_type: Option<String>,
    /// The body as JSON; `Null` when empty.
    ///
    /// # Panics
    /// A non-empty body that is not JSON panics in [`Client::call`]; use
    /// [`Client::raw`] for other bodies.
    pub body: Value,
}

/// A client for one server (`base`: `http://host:port`).
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
            agent,
        }
    }

    /// Sends `token` (or none) from now on.
    pub fn set_token(&mut self, token: Option<&str>) {
        self.token = token.map(str::to_string);
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The agent, for requests this client does not shape (streams).
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// The `Authorization` header value, when the client has a token.
    pub fn authorization(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// `method` (GET, POST, PUT or DELETE) on `path`, with `body` as JSON,
    /// the answer's body read to the end.
    ///
    /// # Panics
    /// When the server cannot be reached or answers a body that is not JSON.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let (mut reply, bytes) = self.raw(method, path, body);
        let text = String::from_utf8(bytes).unwrap();
        if !text.is_empty() {
            reply.body = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        }
        reply
    }

    /// Like [`Client::call`], with the body as bytes (`Reply::body` is
    /// `Null`).
    pub fn raw(&self, method: &str, path: &str, body: Option<&Value>) -> (Reply, Vec<u8>) {
        let url = self.url(path);
        let auth = self.authorization();
        let json = body.map(Value::to_string);
        let resp = match method {
            "GET" | "DELETE" => {
                let mut r = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            "POST" | "PUT" => {
                let mut r = if method == "POST" {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                r = r.header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                match &json {
                    Some(b) => r.send(b.as_str()),
                    None => r.send_empty(),
                }
            }
            other => panic!("unsupported method {other}"),
        }
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let reply = Reply {
            status: resp.status().as_u16(),
            location: header("location"),
            content_type: header("content-type"),
            body: Value::Null,
        };
        let bytes = resp.into_body().read_to_vec().unwrap();
        (reply, bytes)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: Option<&Value>) -> Reply {
        self.call("POST", path, body)
    }
}
