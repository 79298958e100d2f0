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

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use futures_core::Stream;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::error::ApiError;
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

/// The router, with the token check in front when the server has a token.
pub fn router(app: Arc<App>) -> Router {
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
        "libraries": app.library.roots(),
        "max_encoders": app.manager.limit(),
        "token_required": app.token().is_some(),
    }))
}

async fn submit(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
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
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let state = match q.get("state").map(String::as_str) {
        None | Some("") => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            let names: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!(
                "unknown state {s:?} (one of: {})",
                names.join(", ")
            ))
        })?),
    };
    let list = {
        let app = Arc::clone(&app);
        blocking(move || Ok(app.store.jobs(state)?)).await?
    };
    Ok(Json(json!({
        "jobs": list.iter().map(|j| show(&app, j)).collect::<Vec<_>>()
    })))
}

async fn get_job(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = app.manager.job(job_id(&id)?)?;
    Ok(Json(show(&app, &job)))
}

async fn cancel(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    let job = {
        let app = Arc::clone(&app);
        blocking(move || app.manager.cancel(id)).await?
    };
    Ok(Json(show(&app, &job)))
}

async fn retry(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = job_id(&id)?;
    let job = {
        let app = Arc::clone(&app);
        blocking(move || app.manager.retry(id)).await?
    };
    Ok((StatusCode::ACCEPTED, Json(show(&app, &job))))
}

async fn delete_job(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = job_id(&id)?;
    blocking(move || app.manager.delete(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn log(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    let after: i64 = match q.get("after").map(String::as_str) {
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
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<crate::library::Listing>, ApiError> {
    let path = q.get("path").cloned();
    let listing = blocking(move || {
        app.library
            .browse(path.as_deref().map(std::path::Path::new))
    })
    .await?;
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
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let doc = blocking(move || app.manager.drive_io(&id, crate::drives::read_disc)).await?;
    Ok(Json(doc))
}

/// Opens a drive's tray.
async fn drive_eject(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocking(move || app.manager.drive_io(&id, crate::drives::eject)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bytes read at a time from a file being downloaded.
const CHUNK: usize = 64 * 1024;

/// A file inside the roots, streamed.
async fn file(State(app): State<Arc<App>>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let (file, len, name) = blocking(move || {
        let path = app.library.file(std::path::Path::new(&raw))?;
        let f = std::fs::File::open(&path)
            .map_err(|e| ApiError::forbidden(format!("{raw}: cannot read ({e})")))?;
        let len = f
            .metadata()
            .map_err(|e| ApiError::forbidden(format!("{raw}: cannot read ({e})")))?
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
