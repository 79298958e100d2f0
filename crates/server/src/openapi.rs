//! The OpenAPI 3.0 document served at `/api/openapi.json` (OpenAPI
//! Specification 3.0.3): every route of [`crate::api::ROUTES`], its
//! parameters, bodies, answers and the bearer token scheme.

use serde_json::{json, Value};

use crate::library::MAX_ENTRIES;
use crate::store::JobState;

/// Most threads a job spec may ask for (files at once, or inside one
/// encoder).
pub const MAX_THREADS: usize = 1024;

fn error_ref() -> Value {
    json!({ "$ref": "#/components/schemas/Error" })
}

/// An error answer with this description.
fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": error_ref() } }
    })
}

fn ok_json(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

/// The answers every route can give: no or a wrong token.
fn with_common(mut responses: Value) -> Value {
    if let Some(obj) = responses.as_object_mut() {
        obj.insert(
            "401".into(),
            error("No token, or the wrong one (only when the server has a token)"),
        );
        obj.insert("500".into(), error("A fault of the server, logged"));
    }
    responses
}

fn op(summary: &str, id: &str, params: Value, responses: Value) -> Value {
    json!({
        "summary": summary,
        "operationId": id,
        "parameters": params,
        "responses": with_common(responses),
    })
}

fn id_param() -> Value {
    json!([{
        "name": "id", "in": "path", "required": true,
        "description": "The job's id",
        "schema": { "type": "integer", "format": "int64", "minimum": 1 }
    }])
}

fn schemas() -> Value {
    let states: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    let formats: Vec<&str> = aj_codec_formats();
    json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": { "error": { "type": "string", "description": "What went wrong, for a person" } }
        },
        "Status": {
            "type": "object",
            "required": ["name", "version", "libraries", "max_encoders", "token_required"],
            "properties": {
                "name": { "type": "string" },
                "version": { "type": "string" },
                "libraries": { "type": "array", "items": { "type": "string" } },
                "max_encoders": { "type": "integer", "minimum": 1 },
                "token_required": { "type": "boolean" }
            }
        },
        "EncoderOptions": {
            "type": "object",
            "description": "Encoder settings; a missing or null field is the format's default",
            "properties": {
                "level": { "type": "integer", "minimum": 0, "maximum": 8, "nullable": true, "description": "FLAC compression level (default 5)" },
                "quality": { "type": "number", "nullable": true, "description": "MP3 VBR quality V0–V9 (default 2); Vorbis quality −1…10 (default 5)" },
                "bitrate": { "type": "integer", "minimum": 0, "maximum": 4_294_967_295_u64, "nullable": true, "description": "kb/s: MP3 CBR/ABR, Opus (default 128), Vorbis managed" },
                "abr": { "type": "boolean", "description": "With bitrate, MP3 only: average instead of constant" },
                "threads": { "type": "integer", "minimum": 0, "maximum": MAX_THREADS, "nullable": true, "description": "Threads inside one encoder (FLAC)" }
            }
        },
        "ConvertJob": {
            "type": "object",
            "description": "A conversion, as `aj convert` builds it. Paths are relative to a library folder or absolute inside one.",
            "required": ["kind", "inputs", "format"],
            "properties": {
                "kind": { "type": "string", "enum": ["convert"] },
                "inputs": { "type": "array", "minItems": 1, "items": { "type": "string" }, "description": "Files or folders (searched recursively for audio files)" },
                "format": { "type": "string", "enum": formats },
                "output_dir": { "type": "string", "nullable": true, "description": "Where outputs go; null: beside each input" },
                "encoder": { "$ref": "#/components/schemas/EncoderOptions" },
                "overwrite": { "type": "boolean", "default": false },
                "verify": { "type": "boolean", "default": true, "description": "Decode lossless outputs again and compare" },
                "threads": { "type": "integer", "minimum": 0, "maximum": MAX_THREADS, "default": 0, "description": "Files at once; 0: one per core" },
                "replaygain": { "type": "boolean", "default": false, "description": "Write ReplayGain 2.0 tags (R128_* in Opus): track gain, and album gain per output folder" }
            }
        },
        "RipJob": {
            "type": "object",
            "description": "A rip, as `aj rip` builds it. The output folder is relative to a library folder or absolute inside one.",
            "required": ["kind", "output_dir"],
            "properties": {
                "kind": { "type": "string", "enum": ["rip"] },
                "drive": { "type": "string", "nullable": true, "description": "/dev/srN, demo, or image:PATH[,options] (the image inside a library folder); null: the first drive" },
                "output_dir": { "type": "string", "description": "Where the tracks, cue sheet and log go" },
                "format": { "type": "string", "enum": formats, "default": "flac" },
                "encoder": { "$ref": "#/components/schemas/EncoderOptions" },
                "mode": { "type": "string", "enum": ["secure", "burst", "test-and-copy"], "default": "secure" },
                "retries": { "type": "integer", "minimum": 0, "maximum": 4_294_967_295_u64, "default": 20 },
                "offset": { "type": "integer", "minimum": -2_147_483_648_i64, "maximum": 2_147_483_647, "nullable": true, "description": "Read offset in samples; null: remembered for the drive, else 0" },
                "gaps": { "type": "string", "enum": ["append", "prepend", "discard"], "default": "append" },
                "image": { "type": "boolean", "default": false },
                "deemphasize": { "type": "boolean", "default": false },
                "release": { "type": "string", "nullable": true, "description": "MusicBrainz release ID" },
                "resume": { "type": "boolean", "default": false },
                "offline": { "type": "boolean", "default": false },
                "verify": { "type": "boolean", "default": true },
                "speed_kbs": { "type": "integer", "minimum": 0, "maximum": 65535, "nullable": true }
            }
        },
        "DiscInfoJob": {
            "type": "object",
            "description": "Read a drive's disc: table of contents, pregaps, MCN, ISRCs, CD-TEXT, identities (the job's log holds a disc_info event)",
            "required": ["kind"],
            "properties": {
                "kind": { "type": "string", "enum": ["disc_info"] },
                "drive": { "type": "string", "nullable": true }
            }
        },
        "JobSpec": {
            "description": "A job: a conversion, a rip, or reading a disc",
            "oneOf": [
                { "$ref": "#/components/schemas/ConvertJob" },
                { "$ref": "#/components/schemas/RipJob" },
                { "$ref": "#/components/schemas/DiscInfoJob" }
            ],
            "discriminator": {
                "propertyName": "kind",
                "mapping": {
                    "convert": "#/components/schemas/ConvertJob",
                    "rip": "#/components/schemas/RipJob",
                    "disc_info": "#/components/schemas/DiscInfoJob"
                }
            }
        },
        "Progress": {
            "type": "object",
            "required": ["id", "stage", "item", "items", "finished", "percent"],
            "properties": {
                "id": { "type": "integer" },
                "stage": { "type": "string" },
                "item": { "type": "integer", "minimum": 0 },
                "items": { "type": "integer", "minimum": 0 },
                "finished": { "type": "integer", "minimum": 0 },
                "file": { "type": "string", "nullable": true },
                "percent": { "type": "number", "minimum": 0, "maximum": 100 },
                "eta_seconds": { "type": "number", "nullable": true }
            }
        },
        "Job": {
            "type": "object",
            "required": ["id", "state", "spec", "created_at", "started_at", "finished_at", "summary", "error"],
            "properties": {
                "id": { "type": "integer", "minimum": 1 },
                "state": { "type": "string", "enum": states },
                "spec": { "$ref": "#/components/schemas/JobSpec" },
                "created_at": { "type": "string", "format": "date-time" },
                "started_at": { "type": "string", "format": "date-time", "nullable": true },
                "finished_at": { "type": "string", "format": "date-time", "nullable": true },
                "summary": {
                    "type": "object", "nullable": true,
                    "properties": {
                        "ok": { "type": "integer" }, "failed": { "type": "integer" },
                        "skipped": { "type": "integer" }, "cancelled": { "type": "boolean" },
                        "accurate": { "type": "integer", "description": "Rips: tracks AccurateRip found accurate" },
                        "inaccurate": { "type": "integer" },
                        "unverified": { "type": "integer" },
                        "ctdb": { "type": "string", "enum": ["match", "mismatch", "not_found", "offline", "not_checked"] },
                        "ctdb_confidence": { "type": "integer" }
                    }
                },
                "error": { "type": "string", "nullable": true },
                "progress": { "$ref": "#/components/schemas/Progress" }
            }
        },
        "JobList": {
            "type": "object",
            "required": ["jobs"],
            "properties": { "jobs": { "type": "array", "items": { "$ref": "#/components/schemas/Job" } } }
        },
        "Log": {
            "type": "object",
            "required": ["id", "events"],
            "properties": {
                "id": { "type": "integer" },
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["seq", "time", "event"],
                        "properties": {
                            "seq": { "type": "integer", "minimum": 1 },
                            "time": { "type": "string", "format": "date-time" },
                            "event": { "type": "object", "description": "An engine event, tagged by its `event` field" }
                        }
                    }
                }
            }
        },
        "Entry": {
            "type": "object",
            "required": ["name", "path", "kind", "size", "modified", "audio"],
            "properties": {
                "name": { "type": "string" },
                "path": { "type": "string", "description": "Canonical, usable in a job spec" },
                "kind": { "type": "string", "enum": ["file", "folder"] },
                "size": { "type": "integer", "minimum": 0, "nullable": true },
                "modified": { "type": "string", "format": "date-time", "nullable": true },
                "audio": { "type": "boolean", "description": "An audio file by its extension" }
            }
        },
        "Listing": {
            "type": "object",
            "required": ["path", "entries", "truncated"],
            "properties": {
                "path": { "type": "string", "nullable": true, "description": "The folder listed; null for the roots" },
                "entries": { "type": "array", "maxItems": MAX_ENTRIES, "items": { "$ref": "#/components/schemas/Entry" } },
                "truncated": { "type": "boolean", "description": "More entries than listed" }
            }
        }
    })
}

/// The formats a job can write, as the job spec spells them.
fn aj_codec_formats() -> Vec<&'static str> {
    vec!["wav", "aiff", "flac", "mp3", "ogg", "opus"]
}

/// The document.
pub fn document() -> Value {
    let job = |d: &str| ok_json(d, "Job");
    let paths = json!({
        "/api/openapi.json": { "get": op(
            "This document", "openapi", json!([]),
            json!({ "200": { "description": "OpenAPI 3.0", "content": { "application/json": { "schema": { "type": "object" } } } } }),
        )},
        "/api/v1/status": { "get": op(
            "Version, library folders and limits", "status", json!([]),
            json!({ "200": ok_json("The server", "Status") }),
        )},
        "/api/v1/jobs": {
            "get": op(
                "Jobs, oldest first", "listJobs",
                json!([{
                    "name": "state", "in": "query", "required": false,
                    "description": "Only jobs in this state (empty: all)",
                    "schema": { "type": "string", "enum": std::iter::once("").chain(JobState::ALL.iter().map(|s| s.as_str())).collect::<Vec<_>>() }
                }]),
                json!({ "200": ok_json("The jobs", "JobList"), "400": error("Unknown state") }),
            ),
            "post": {
                "summary": "Submit a job",
                "operationId": "submitJob",
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/JobSpec" } } }
                },
                "responses": with_common(json!({
                    "202": {
                        "description": "Queued",
                        "headers": { "Location": { "description": "The job's URL", "schema": { "type": "string" } } },
                        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Job" } } }
                    },
                    "400": error("Not a job spec"),
                    "403": error("A path outside the library folders"),
                    "503": error("The server is stopping"),
                })),
            }
        },
        "/api/v1/jobs/{id}": {
            "get": op("One job, with its progress while running", "getJob", id_param(),
                json!({ "200": job("The job"), "404": error("No such job") })),
            "delete": op("Delete a job that is not running, with its log", "deleteJob", id_param(),
                json!({ "204": { "description": "Deleted" }, "404": error("No such job"), "409": error("The job is running") })),
        },
        "/api/v1/jobs/{id}/cancel": { "post": op(
            "Cancel (idempotent; a running job stops cooperatively)", "cancelJob", id_param(),
            json!({ "200": job("The job as it is now"), "404": error("No such job") }),
        )},
        "/api/v1/jobs/{id}/retry": { "post": op(
            "Queue a failed, cancelled or interrupted job again", "retryJob", id_param(),
            json!({ "202": job("Queued again"), "404": error("No such job"), "409": error("The job cannot be retried in its state"), "503": error("The server is stopping") }),
        )},
        "/api/v1/jobs/{id}/log": { "get": op(
            "The engine events of a job", "jobLog", id_param(),
            json!({ "200": ok_json("The log", "Log"), "404": error("No such job") }),
        )},
        "/api/v1/events": { "get": op(
            "Server-sent events: job.created, job.state, job.progress, job.deleted; each with an id",
            "events",
            json!([{
                "name": "Last-Event-ID", "in": "header", "required": false,
                "description": "Replay the events after this one, then live ones",
                "schema": { "type": "integer", "format": "int64" }
            }]),
            json!({
                "200": { "description": "An endless event stream", "content": { "text/event-stream": { "schema": { "type": "string" } } } },
                "400": error("Last-Event-ID is not an event id"),
            }),
        )},
        "/api/v1/library": { "get": op(
            "The library folders, or the entries of one folder inside them (folders first, by name)",
            "library",
            json!([{
                "name": "path", "in": "query", "required": false,
                "description": "A folder, relative to a library folder or absolute inside one",
                "schema": { "type": "string" }
            }]),
            json!({
                "200": ok_json("The listing", "Listing"),
                "400": error("Not a folder"),
                "403": error("Outside the library folders"),
                "404": error("No such folder"),
            }),
        )},
        "/api/v1/files/{path}": { "get": op(
            "Download a file inside the library folders",
            "file",
            json!([{
                "name": "path", "in": "path", "required": true,
                "description": "Relative to a library folder (slashes allowed)",
                "schema": { "type": "string" }
            }]),
            json!({
                "200": {
                    "description": "The file, typed by its extension",
                    "headers": { "Content-Length": { "schema": { "type": "integer" } } },
                    "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } }
                },
                "403": error("Outside the library folders"),
                "404": error("No such file"),
            }),
        )},
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "AudioJuggler daemon (aj serve)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The job engine of `aj` over HTTP, on TCP port 3643. Every error is JSON: {\"error\": \"…\"}."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, {}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "Required when the server listens beyond loopback or has a token file" }
            },
            "schemas": schemas(),
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = document();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((method.clone(), path.clone()));
            }
        }
        documented.sort();
        let mut routes: Vec<(String, String)> = crate::api::ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        routes.sort();
        assert_eq!(documented, routes);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"").skip(1) {
            let target = part.split('"').next().unwrap();
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(doc["components"]["schemas"].get(name).is_some(), "{target}");
        }
    }

    #[test]
    fn formats_match_the_codec() {
        let spec: Vec<String> = aj_codec_formats().iter().map(|f| f.to_string()).collect();
        for f in &spec {
            let v = json!({ "kind": "convert", "inputs": ["a"], "format": f });
            assert!(serde_json::from_value::<aj_jobs::JobSpec>(v).is_ok(), "{f}");
        }
        let v = json!({ "kind": "convert", "inputs": ["a"], "format": "nope" });
        assert!(serde_json::from_value::<aj_jobs::JobSpec>(v).is_err());
    }
}
