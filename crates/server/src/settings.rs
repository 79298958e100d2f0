//! The daemon's settings: a few named JSON values kept in the store's
//! `settings` table, read and changed over the API.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /api/v1/settings` | every setting that is set, as one object |
//! | `PUT /api/v1/settings/{key}` | sets one (the body is its JSON value) |
//! | `DELETE /api/v1/settings/{key}` | unsets one |
//!
//! Only the keys of [`KEYS`] exist, each with its own shape, checked when
//! it is set. Of them, `drive_offsets` is used by the daemon itself: a rip
//! whose spec gives no offset reads with the one remembered here for its
//! drive (before the configuration file's).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::store::Store;
use crate::App;

/// The settings there are, with what each holds.
pub const KEYS: &[(&str, &str)] = &[
    (
        "default_format",
        "The format the web page proposes for conversions: wav, aiff, flac, mp3, ogg or opus",
    ),
    (
        "default_encoder",
        "Encoder settings proposed for conversions: {level, quality, bitrate, abr, threads}",
    ),
    (
        "rip_defaults",
        "Rip settings proposed for rips: {format, mode, gaps, offline}",
    ),
    (
        "drive_offsets",
        "Read offsets in samples by drive (\"VENDOR MODEL\" as the drive names itself): used by rips that give none",
    ),
];

/// The largest read offset accepted (samples); drives list up to about
/// ±3000 (AccurateRip's drive offset list).
pub const MAX_OFFSET: i64 = 44_100;

/// Longest drive name in `drive_offsets` (an INQUIRY vendor and product are
/// 8 + 16 characters, SPC-4 6.4.2).
const MAX_DRIVE_KEY: usize = 256;

/// Drives listed in `drive_offsets`.
const MAX_DRIVES: usize = 1024;

/// The keys, for error messages.
fn names() -> String {
    KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
}

/// Checks `value` against the shape of setting `key`.
///
/// # Errors
/// 400 naming the unknown key (with the known ones) or what is wrong with
/// the value.
pub fn validate(key: &str, value: &Value) -> Result<(), ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("setting {key}: {why}"));
    match key {
        "default_format" => {
            let spec = json!({ "kind": "convert", "inputs": ["x"], "format": value });
            serde_json::from_value::<aj_jobs::JobSpec>(spec)
                .map(|_| ())
                .map_err(|_| {
                    bad(format!(
                        "{value} is not a format (one of wav, aiff, flac, mp3, ogg, opus)"
                    ))
                })
        }
        "default_encoder" => encoder(value).map_err(bad),
        "rip_defaults" => rip_defaults(value).map_err(bad),
        "drive_offsets" => drive_offsets(value).map(|_| ()).map_err(bad),
        _ => Err(ApiError::bad_request(format!(
            "no setting {key:?} (the settings are: {})",
            names()
        ))),
    }
}

fn object<'a>(value: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>, String> {
    let obj = value
        .as_object()
        .ok_or_else(|| format!("must be an object with any of: {}", allowed.join(", ")))?;
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "unknown field {k:?} (the fields are: {})",
            allowed.join(", ")
        ));
    }
    Ok(obj)
}

/// `{level, quality, bitrate, abr, threads}`, each optional, in the ranges
/// some format accepts.
fn encoder(value: &Value) -> Result<(), String> {
    let obj = object(value, &["level", "quality", "bitrate", "abr", "threads"])?;
    let spec = json!({ "kind": "convert", "inputs": ["x"], "format": "flac", "encoder": value });
    serde_json::from_value::<aj_jobs::JobSpec>(spec).map_err(|e| e.to_string())?;
    let range = |k: &str, lo: f64, hi: f64, what: &str| match obj.get(k).and_then(Value::as_f64) {
        Some(v) if !(lo..=hi).contains(&v) => Err(format!("{k} {v} is out of range ({what})")),
        _ => Ok(()),
    };
    range("level", 0.0, 8.0, "FLAC: 0 to 8")?;
    range("quality", -1.0, 10.0, "MP3 0 to 9, Vorbis -1 to 10")?;
    range("bitrate", 6.0, 510.0, "6 to 510 kb/s")?;
    range(
        "threads",
        0.0,
        crate::openapi::MAX_THREADS as f64,
        "0 to 1024",
    )?;
    Ok(())
}

/// `{format, mode, gaps, offline}`, each optional, as a rip spec takes them.
fn rip_defaults(value: &Value) -> Result<(), String> {
    let obj = object(value, &["format", "mode", "gaps", "offline"])?;
    let mut spec = json!({ "kind": "rip", "output_dir": "x" });
    if let Some(s) = spec.as_object_mut() {
        for (k, v) in obj {
            s.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value::<aj_jobs::JobSpec>(spec)
        .map(|_| ())
        .map_err(|e| {
            format!("{e} (format: wav, aiff, flac, mp3, ogg, opus; mode: secure, burst, test-and-copy; gaps: append, prepend, discard; offline: true or false)")
        })
}

/// `{"VENDOR MODEL": samples, …}`.
fn drive_offsets(value: &Value) -> Result<Vec<(String, i32)>, String> {
    let obj = value
        .as_object()
        .ok_or("must be an object: {\"VENDOR MODEL\": offset in samples, …}")?;
    if obj.len() > MAX_DRIVES {
        return Err(format!("more than {MAX_DRIVES} drives"));
    }
    let mut out = Vec::new();
    for (drive, offset) in obj {
        if drive.trim().is_empty() || drive.len() > MAX_DRIVE_KEY {
            return Err(format!(
                "{drive:?} is not a drive name (1 to {MAX_DRIVE_KEY} characters)"
            ));
        }
        let o = offset
            .as_i64()
            .filter(|o| o.abs() <= MAX_OFFSET)
            .and_then(|o| i32::try_from(o).ok())
            .ok_or_else(|| {
                format!(
                    "{drive}: {offset} is not an offset in samples (-{MAX_OFFSET} to {MAX_OFFSET})"
                )
            })?;
        out.push((drive.clone(), o));
    }
    Ok(out)
}

/// The read offsets remembered in the settings, by drive.
pub fn offsets(store: &Store) -> Vec<(String, i32)> {
    match store.setting("drive_offsets") {
        Ok(Some(text)) => serde_json::from_str(&text)
            .ok()
            .and_then(|v: Value| drive_offsets(&v).ok())
            .unwrap_or_default(),
        Ok(None) => Vec::new(),
        Err(e) => {
            eprintln!("aj serve: cannot read the drive offsets: {e}");
            Vec::new()
        }
    }
}

/// Runs a job as [`aj_jobs::run`] does, with what the settings add: a rip
/// without an offset reads with the one remembered for its drive.
pub fn run(
    store: &Store,
    spec: &aj_jobs::JobSpec,
    cancel: &aj_core::CancelToken,
    on_event: &(dyn Fn(aj_jobs::Event) + Sync),
) -> aj_jobs::Summary {
    match spec {
        aj_jobs::JobSpec::Rip(r) if r.offset.is_none() => {
            let mut ctx = aj_jobs::rip::RipContext::default();
            for (drive, offset) in offsets(store) {
                // In memory only: the configuration file is left as it is.
                ctx.config.set_drive_offset(&drive, offset);
            }
            aj_jobs::rip::run(r, &ctx, cancel, on_event)
        }
        _ => aj_jobs::run(spec, cancel, on_event),
    }
}

/// The routes, under `/api/v1`.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/settings", get(list))
        .route("/settings/{key}", axum::routing::put(put).delete(delete))
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

async fn list(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let all = blocking(move || Ok(app.store.settings()?)).await?;
    let mut obj = Map::new();
    for (k, text) in all {
        // Keys the daemon no longer knows are kept in the table but not shown.
        if KEYS.iter().any(|(known, _)| *known == k) {
            obj.insert(
                k,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            );
        }
    }
    Ok(Json(Value::Object(obj)))
}

async fn put(
    State(app): State<Arc<App>>,
    key: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let key = setting_key(key)?;
    let body = crate::api::body_bytes(body)?;
    // The key first: an unknown one is the clearer error.
    if !KEYS.iter().any(|(k, _)| *k == key) {
        return Err(ApiError::bad_request(format!(
            "no setting {key:?} (the settings are: {})",
            names()
        )));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("setting {key}: the body is not JSON ({e})")))?;
    validate(&key, &value)?;
    let text = value.to_string();
    let k = key.clone();
    blocking(move || Ok(app.store.set_setting(&k, &text)?)).await?;
    Ok(Json(json!({ "key": key, "value": value })))
}

async fn delete(
    State(app): State<Arc<App>>,
    key: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let key = setting_key(key)?;
    if !KEYS.iter().any(|(k, _)| *k == key) {
        return Err(ApiError::bad_request(format!(
            "no setting {key:?} (the settings are: {})",
            names()
        )));
    }
    let k = key.clone();
    let existed = blocking(move || Ok(app.store.delete_setting(&k)?)).await?;
    if existed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("setting {key} is not set")))
    }
}

/// The key in the path; one that is not UTF-8 is no setting (400, as an
/// unknown key).
fn setting_key(key: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    key.map(|Path(k)| k).map_err(|e| {
        ApiError::bad_request(format!(
            "no such setting: the key in the path cannot be read ({}; the settings are: {})",
            e.body_text(),
            names()
        ))
    })
}

/// The OpenAPI paths of the settings.
pub fn openapi_paths() -> Value {
    let key_param = json!([{
        "name": "key", "in": "path", "required": true,
        "description": "The setting",
        "schema": { "type": "string", "enum": KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>() }
    }]);
    let error = |d: &str| {
        json!({
            "description": d,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
        })
    };
    let common = |mut v: Value| {
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "401".into(),
                error("No token, or the wrong one (only when the server has a token)"),
            );
            o.insert("500".into(), error("A fault of the server, logged"));
        }
        v
    };
    json!({
        "/api/v1/settings": { "get": {
            "summary": "The settings that are set",
            "operationId": "settings",
            "parameters": [],
            "responses": common(json!({
                "200": {
                    "description": "Every setting that is set, by key",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Settings" } } }
                }
            })),
        }},
        "/api/v1/settings/{key}": {
            "put": {
                "summary": "Set a setting",
                "operationId": "putSetting",
                "parameters": key_param,
                "requestBody": {
                    "required": true,
                    "description": "The value, in the shape of its key (see the Settings schema)",
                    "content": { "application/json": { "schema": {} } }
                },
                "responses": common(json!({
                    "200": {
                        "description": "Set",
                        "content": { "application/json": { "schema": {
                            "type": "object",
                            "required": ["key", "value"],
                            "properties": { "key": { "type": "string" }, "value": {} }
                        } } }
                    },
                    "400": error("No such setting, or a value of the wrong shape"),
                    "413": error("The body is larger than the limit (2 MiB)"),
                })),
            },
            "delete": {
                "summary": "Unset a setting",
                "operationId": "deleteSetting",
                "parameters": key_param,
                "responses": common(json!({
                    "204": { "description": "Unset" },
                    "400": error("No such setting"),
                    "404": error("The setting is not set"),
                })),
            }
        }
    })
}

/// The OpenAPI schemas of the settings.
pub fn openapi_schemas() -> Value {
    let description = KEYS
        .iter()
        .map(|(k, d)| format!("{k}: {d}"))
        .collect::<Vec<_>>()
        .join("; ");
    json!({
        "Settings": {
            "type": "object",
            "description": description,
            "properties": {
                "default_format": { "type": "string", "enum": ["wav", "aiff", "flac", "mp3", "ogg", "opus"] },
                "default_encoder": { "$ref": "#/components/schemas/EncoderOptions" },
                "rip_defaults": {
                    "type": "object",
                    "properties": {
                        "format": { "type": "string", "enum": ["wav", "aiff", "flac", "mp3", "ogg", "opus"] },
                        "mode": { "type": "string", "enum": ["secure", "burst", "test-and-copy"] },
                        "gaps": { "type": "string", "enum": ["append", "prepend", "discard"] },
                        "offline": { "type": "boolean" }
                    }
                },
                "drive_offsets": {
                    "type": "object",
                    "additionalProperties": { "type": "integer", "minimum": -MAX_OFFSET, "maximum": MAX_OFFSET }
                }
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ok(key: &str, v: Value) {
        validate(key, &v).unwrap_or_else(|e| panic!("{key} {v}: {e}"));
    }

    fn err(key: &str, v: Value, needle: &str) {
        let e = validate(key, &v).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains(needle), "{key} {v}: {}", e.message);
    }

    #[test]
    fn values_are_checked_per_key() {
        ok("default_format", json!("opus"));
        err("default_format", json!("wma"), "not a format");
        err("default_format", json!(3), "not a format");
        ok("default_encoder", json!({"level": 8}));
        ok("default_encoder", json!({"quality": 0, "bitrate": null}));
        err("default_encoder", json!({"level": 9}), "out of range");
        err("default_encoder", json!({"speed": 1}), "unknown field");
        err("default_encoder", json!([1]), "must be an object");
        ok(
            "rip_defaults",
            json!({"format": "flac", "mode": "burst", "gaps": "prepend", "offline": true}),
        );
        ok("rip_defaults", json!({}));
        err("rip_defaults", json!({"mode": "fast"}), "mode: secure");
        err("rip_defaults", json!({"output_dir": "/"}), "unknown field");
        ok(
            "drive_offsets",
            json!({"PLEXTOR DVDR PX-716A": 30, "X": -1164}),
        );
        err("drive_offsets", json!({"X": 1.5}), "not an offset");
        err("drive_offsets", json!({"X": 50_000}), "not an offset");
        err("drive_offsets", json!({"": 6}), "not a drive name");
        err("nope", json!(1), "the settings are: default_format");
    }

    #[test]
    fn offsets_come_from_the_store() {
        let s = Store::open_in_memory().unwrap();
        assert!(offsets(&s).is_empty());
        s.set_setting("drive_offsets", &json!({"A B": 6}).to_string())
            .unwrap();
        assert_eq!(offsets(&s), [("A B".to_string(), 6)]);
    }
}
