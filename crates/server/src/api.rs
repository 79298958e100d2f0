//! The HTTP API under `/api/v1`.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /api/v1/status` | version, libraries, limits |
//! | `POST /api/v1/jobs` | submit a job spec: 202, `Location: /api/v1/jobs/ID` |
//! | `GET /api/v1/jobs?state=S` | list jobs, oldest first |
//! | `GET /api/v1/jobs/{id}` | one job, with its progress while running |
//! | `POST /api/v1/jobs/{id}/cancel` | cancel (idempotent, cooperative) |
//! | `POST /api/v1/jobs/{id}/retry` | queue a failed, cancelled or interrupted job again |
//! | `DELETE /api/v1/jobs/{id}` | delete a job that is not running, with its log |
//! | `GET /api/v1/jobs/{id}/log?after=N` | the engine events of a job (after number `N`) |
//! | `GET /api/v1/events` | server-sent events, replay from `Last-Event-ID` |
//! | `GET /api/v1/library?path=P` | the library roots, or the entries of folder `P` |
//! | `GET /api/v1/files/{path}` | download a file inside the roots |
//! | `GET /api/v1/drives` | the CD drives, with who holds them |
//! | `GET /api/v1/drives/{id}/disc` | the disc in a drive, read now |
//! | `POST /api/v1/drives/{id}/eject` | open a drive's tray |
//! | `GET /api/v1/settings` | the settings ([`crate::settings`]) |
//! | `PUT /api/v1/settings/{key}` | set one |
//! | `DELETE /api/v1/settings/{key}` | unset one |
//! | `GET /api/openapi.json` | the OpenAPI 3.0 document of all of this |
//!
//! Beside the API, `GET /` and `GET /assets/{name}` serve the web page
//! ([`crate::web`], listed in [`crate::web::PAGE_ROUTES`]), without a token.
//!
//! Events of the feed: `job.created` and `job.state` (the job as `GET
//! /jobs/{id}` shows it), `job.progress` (stage, item i/n, percent, ETA; a
//! few per second per job), `job.deleted` (`{"id": N}`). Each has an `id:`;
//! a client that reconnects with `Last-Event-ID` gets what it missed, then
//! live events. Without that header only live events are sent.
//!
//! Every error is JSON, `{"error": "…"}`, with its status code
//! ([`crate::error::ApiError`]).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use futures_core::Stream;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::error::ApiError;
use crate::guard::Guard;
use crate::store::{FeedEvent, Job, JobState};
use crate::App;

/// Every route of the API, as OpenAPI writes it: `(method, path)` (the web
/// page's routes are in [`crate::web::PAGE_ROUTES`]).
/// The OpenAPI document is checked against this list, and this list against
/// the router, by tests.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/openapi.json"),
    ("get", "/api/v1/status"),
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{id}"),
    ("delete", "/api/v1/jobs/{id}"),
    ("post", "/api/v1/jobs/{id}/cancel"),
    ("post", "/api/v1/jobs/{id}/retry"),
    ("get", "/api/v1/jobs/{id}/log"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/library"),
    ("get", "/api/v1/files/{path}"),
    ("get", "/api/v1/settings"),
    ("put", "/api/v1/settings/{key}"),
    ("delete", "/api/v1/settings/{key}"),
    ("get", "/api/v1/drives"),
    ("get", "/api/v1/drives/{id}/disc"),
    ("post", "/api/v1/drives/{id}/eject"),
];

/// Largest request body taken (a job spec, a setting): larger ones are
/// answered 413.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The router, with the token check in front when the server has a token,
/// and the cross-site checks of `guard` in front of everything
/// ([`crate::guard`]).
pub fn router(app: Arc<App>, guard: Guard) -> Router {
    let api = Router::new()
        .route("/status", get(status))
        .route("/jobs", get(list_jobs).post(submit))
        .route("/jobs/{id}", get(get_job).delete(delete_job))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/jobs/{id}/retry", post(retry))
        .route("/jobs/{id}/log", get(log))
        .route("/events", get(events))
        .route("/library", get(library))
        .route("/files/{*path}", get(file))
        .route("/drives", get(drives))
        .route("/drives/{id}/disc", get(drive_disc))
        .route("/drives/{id}/eject", post(drive_eject));
    let api = api.merge(crate::settings::router());
    Router::new()
        .nest("/api/v1", api)
        .route("/api/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            crate::auth::require_token,
        ))
        // Added after the token check: the page holds no data, and a
        // browser must load it to be asked for the token.
        .merge(crate::web::router())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(guard, crate::guard::check))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint (the API is under /api/v1)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method",
    )
}

fn job_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse()
        .ok()
        .filter(|&id: &i64| id > 0)
        .ok_or_else(|| ApiError::not_found(format!("no job {raw:?}")))
}

/// The text of a path parameter; a parameter that is not UTF-8 names no
/// job or drive: 404.
fn path_text(p: Result<Path<String>, PathRejection>, what: &str) -> Result<String, ApiError> {
    p.map(|Path(t)| t).map_err(|e| {
        ApiError::not_found(format!(
            "no such {what}: the id in the path cannot be read ({})",
            e.body_text()
        ))
    })
}

/// The request body, or 413 for one over [`BODY_LIMIT`] (400 for one that
/// cannot be read).
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {BODY_LIMIT} bytes"),
            )
        } else {
            ApiError::bad_request(format!(
                "the request body cannot be read: {}",
                e.body_text()
            ))
        }
    })
}

/// Where file downloads start (`GET /api/v1/files/{path}`), as the API's
/// router sees it and in full.
const FILES_PREFIXES: [&str; 2] = ["/files/", "/api/v1/files/"];

/// Most jobs one page of `GET /api/v1/jobs?limit=N` holds.
pub const MAX_PAGE: usize = 10_000;

/// Decodes `%XX` escapes into bytes (RFC 3986 section 2.1); with `plus`,
/// `+` is a space (query strings, as HTML forms write them). A `%` not
/// followed by two hex digits stays as it is.
pub fn percent_decode(s: &str, plus: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) if plus => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Percent-encodes every byte but RFC 3986's unreserved characters (so
/// `/` too): the form in which paths that are not UTF-8 travel in URLs.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// A path from raw bytes (on Unix, any bytes name a file).
fn bytes_path(bytes: Vec<u8>) -> std::path::PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        std::path::PathBuf::from(std::ffi::OsString::from_vec(bytes))
    }
    #[cfg(not(unix))]
    {
        std::path::PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The parameters of a query string: names as text, values as bytes.
fn query(raw: Option<&str>) -> Vec<(String, Vec<u8>)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                String::from_utf8_lossy(&percent_decode(k, true)).into_owned(),
                percent_decode(v, true),
            )
        })
        .collect()
}

/// The value of parameter `name` as text (the first, when repeated).
///
/// # Errors
/// 400 when it is not UTF-8.
fn text_param(q: &[(String, Vec<u8>)], name: &str) -> Result<Option<String>, ApiError> {
    match q.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => String::from_utf8(v.clone())
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("{name}: not UTF-8 text"))),
    }
}

/// A job as the API shows it: as stored, plus its progress while running.
fn show(app: &App, job: &Job) -> Value {
    let mut v = json!(job);
    if let (Some(obj), Some(p)) = (v.as_object_mut(), app.manager.progress(job.id)) {
        obj.insert("progress".into(), json!(p));
    }
    v
}

/// Runs blocking work (file system, planning) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

async fn status(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({
        "name": "AudioJuggler",
        "version": env!("CARGO_PKG_VERSION"),
        "libraries": app.library.roots().iter().map(|r| r.to_string_lossy()).collect::<Vec<_>>(),
        "max_encoders": app.manager.limit(),
        "token_required": app.token().is_some(),
    }))
}

async fn submit(
    State(app): State<Arc<App>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    let spec: aj_jobs::JobSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a job spec: {e}")))?;
    let job = {
        let app = Arc::clone(&app);
        blocking(move || {
            let spec = app.manager.drives().normalise(spec)?;
            let spec = app.library.confine(spec)?;
            app.manager.submit(&spec)
        })
        .await?
    };
    let location = format!("/api/v1/jobs/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(show(&app, &job)),
    )
        .into_response())
}

async fn list_jobs(
    State(app): State<Arc<App>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = query(raw.as_deref());
    let state = match text_param(&q, "state")?.as_deref() {
        None | Some("") => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            let names: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!(
                "unknown state {s:?} (one of: {})",
                names.join(", ")
            ))
        })?),
    };
    let number = |name: &str, min: i64, max: i64| -> Result<Option<i64>, ApiError> {
        match text_param(&q, name)?.as_deref() {
            None | Some("") => Ok(None),
            Some(t) => t
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("{name}={t:?}: not a number from {min} to {max}"))
                }),
        }
    };
    let limit = number("limit", 1, MAX_PAGE as i64)?;
    let before = number("before", 1, i64::MAX)?;
    let (list, more) = {
        let app = Arc::clone(&app);
        let limit = limit.and_then(|l| usize::try_from(l).ok());
        blocking(move || Ok(app.store.jobs_page(state, before, limit)?)).await?
    };
    Ok(Json(json!({
        "jobs": list.iter().map(|j| show(&app, j)).collect::<Vec<_>>(),
        "more": more,
    })))
}

async fn get_job(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let job = app.manager.job(job_id(&path_text(id, "job")?)?)?;
    Ok(Json(show(&app, &job)))
}

async fn cancel(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&path_text(id, "job")?)?;
    let job = {
        let app = Arc::clone(&app);
        blocking(move || app.manager.cancel(id)).await?
    };
    Ok(Json(show(&app, &job)))
}

async fn retry(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = job_id(&path_text(id, "job")?)?;
    let job = {
        let app = Arc::clone(&app);
        blocking(move || app.manager.retry(id)).await?
    };
    Ok((StatusCode::ACCEPTED, Json(show(&app, &job))))
}

async fn delete_job(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = job_id(&path_text(id, "job")?)?;
    blocking(move || app.manager.delete(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn log(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&path_text(id, "job")?)?;
    let q = query(raw.as_deref());
    let after: i64 = match text_param(&q, "after")?.as_deref() {
        None | Some("") => 0,
        Some(a) => a
            .parse()
            .map_err(|_| ApiError::bad_request(format!("after={a:?}: not an event number")))?,
    };
    let entries = blocking(move || {
        app.manager.job(id)?;
        Ok(app.store.log_after(id, after)?)
    })
    .await?;
    Ok(Json(json!({ "id": id, "events": entries })))
}

fn sse(e: &FeedEvent) -> SseEvent {
    SseEvent::default()
        .id(e.id.to_string())
        .event(e.kind.clone())
        .data(e.data.to_string())
}

/// Server-sent events: every feed event after `Last-Event-ID` (when sent),
/// then live ones, until the client leaves or the server stops.
async fn events(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let after: Option<i64> = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be an event id"))?,
        ),
    };
    // Subscribe before reading the store: nothing falls between the two.
    let mut live = app.feed.subscribe();
    let replay = match after {
        Some(a) => {
            let store = Arc::clone(&app.store);
            blocking(move || Ok(store.feed_since(a)?)).await?
        }
        None => Vec::new(),
    };
    let mut stop = app.shutdown.subscribe();
    let store = Arc::clone(&app.store);
    let stream = async_stream::stream! {
        let mut last = after.unwrap_or(0);
        for e in &replay {
            last = e.id;
            yield Ok(sse(e));
        }
        loop {
            let next = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                r = live.recv() => r,
            };
            match next {
                Ok(e) if e.id > last => {
                    last = e.id;
                    yield Ok(sse(&e));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // Too slow for the live buffer: catch up from the store.
                    let missed = store.feed_since(last).unwrap_or_default();
                    for e in &missed {
                        last = e.id;
                        yield Ok(sse(e));
                    }
                }
                Err(RecvError::Closed) => break,
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

async fn library(
    State(app): State<Arc<App>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<crate::library::Listing>, ApiError> {
    // The path as bytes: a folder whose name is not UTF-8 is asked for by
    // its percent-encoded bytes (`path_encoded` of its listing entry).
    let path = query(raw.as_deref())
        .into_iter()
        .find(|(k, _)| k == "path")
        .map(|(_, v)| bytes_path(v));
    let listing = blocking(move || app.library.browse(path.as_deref())).await?;
    Ok(Json(listing))
}

/// The drives, found again now (a drive plugged in later shows up).
async fn drives(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let list = blocking(move || Ok(app.manager.drives().views())).await?;
    Ok(Json(json!({ "drives": list })))
}

/// The disc in a drive, read now (the document of `aj disc info --json`).
async fn drive_disc(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_text(id, "drive")?;
    let doc = blocking(move || app.manager.drive_io(&id, crate::drives::read_disc)).await?;
    Ok(Json(doc))
}

/// Opens a drive's tray.
async fn drive_eject(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = path_text(id, "drive")?;
    blocking(move || app.manager.drive_io(&id, crate::drives::eject)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bytes read at a time from a file being downloaded.
const CHUNK: usize = 64 * 1024;

/// A file inside the roots, streamed.
async fn file(State(app): State<Arc<App>>, uri: Uri) -> Result<Response, ApiError> {
    // Decoded from the URI as bytes (not through a text extractor): a file
    // whose name is not UTF-8 is fetched by its percent-encoded bytes.
    // Inside `/api/v1` the router sees `/files/…`.
    let encoded = FILES_PREFIXES
        .iter()
        .find_map(|p| uri.path().strip_prefix(p))
        .ok_or_else(|| ApiError::not_found("no such file"))?;
    let raw = bytes_path(percent_decode(encoded, false));
    let (file, len, name) = blocking(move || {
        let path = app.library.file(&raw)?;
        let shown = raw.display();
        let f = std::fs::File::open(&path)
            .map_err(|e| ApiError::forbidden(format!("{shown}: cannot read ({e})")))?;
        let len = f
            .metadata()
            .map_err(|e| ApiError::forbidden(format!("{shown}: cannot read ({e})")))?
            .len();
        Ok((f, len, path))
    })
    .await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    // Reads on a thread of the blocking pool; stops when the client leaves.
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = file;
        loop {
            let mut buf = vec![0; CHUNK];
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stream = async_stream::stream! {
        while let Some(chunk) = rx.recv().await {
            yield chunk;
        }
    };
    let filename = name
        .file_name()
        .map(|n| n.to_string_lossy().replace(['"', '\\', '\r', '\n'], "_"))
        .unwrap_or_default();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(&name))
        .header(header::CONTENT_LENGTH, len)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", filename.escape_default()),
        )
        .body(axum::body::Body::from_stream(stream))
        .map_err(|e| ApiError::internal(format!("cannot answer: {e}")))
}

/// The media type of a file, by its extension.
fn content_type(path: &std::path::Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "wav" | "wave" | "bwf" | "rf64" | "w64" => "audio/wav",
        "aif" | "aiff" | "aifc" => "audio/aiff",
        "flac" => "audio/flac",
        "mp3" | "mp2" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/ogg; codecs=opus",
        "m4a" | "m4b" | "mp4" | "alac" => "audio/mp4",
        "caf" => "audio/x-caf",
        // No registered type; the one Monkey's Audio tools and browsers use.
        "ape" => "audio/x-ape",
        "mka" => "audio/x-matroska",
        "webm" => "audio/webm",
        "cue" | "txt" | "log" | "m3u" => "text/plain; charset=utf-8",
        "m3u8" => "application/vnd.apple.mpegurl",
        "json" => "application/json",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}
