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

fn drive_param() -> Value {
    json!([{
        "name": "id", "in": "path", "required": true,
        "description": "The drive's id, as GET /api/v1/drives lists it (sr0, demo, image-1…)",
        "schema": { "type": "string" }
    }])
}

/// The schemas of the drive routes.
fn drive_schemas() -> Value {
    json!({
        "Drive": {
            "type": "object",
            "required": ["id", "spec", "kind", "vendor", "model", "revision", "busy", "job", "error"],
            "properties": {
                "id": { "type": "string", "description": "URL-safe: sr0 for /dev/sr0, demo, image-1…; usable as a job's drive" },
                "spec": { "type": "string", "description": "What opens it: /dev/srN, demo[,options], image:PATH[,options]" },
                "kind": { "type": "string", "enum": ["device", "image", "demo"] },
                "vendor": { "type": "string" },
                "model": { "type": "string" },
                "revision": { "type": "string" },
                "busy": { "type": "boolean", "description": "A job runs on it, or the server is reading it" },
                "job": { "type": "integer", "nullable": true, "description": "The job running on it" },
                "error": { "type": "string", "nullable": true, "description": "Why it could not be asked its names" }
            }
        },
        "DriveList": {
            "type": "object",
            "required": ["drives"],
            "properties": { "drives": { "type": "array", "items": { "$ref": "#/components/schemas/Drive" } } }
        },
        "Disc": {
            "type": "object",
            "description": "The disc as `aj disc info --json` prints it. Sectors are LBAs (75 a second); the identities are there when they could be computed.",
            "required": ["drive", "kind", "first_track", "last_track", "leadout", "tracks"],
            "properties": {
                "drive": { "type": "string" },
                "kind": { "type": "string", "description": "Audio CD, Enhanced CD…" },
                "first_track": { "type": "integer" },
                "last_track": { "type": "integer" },
                "leadout": { "type": "integer", "description": "The lead-out's LBA: the disc's length in sectors" },
                "sessions": { "type": "array", "items": { "type": "object" } },
                "hidden_track": { "type": "integer", "description": "Sectors of hidden track one audio" },
                "mcn": { "type": "string", "nullable": true },
                "tracks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["number", "start", "length"],
                        "properties": {
                            "number": { "type": "integer" },
                            "start": { "type": "integer" },
                            "length": { "type": "integer", "description": "Sectors" },
                            "pregap": { "type": "integer" },
                            "isrc": { "type": "string", "nullable": true },
                            "title": { "type": "string", "nullable": true },
                            "performer": { "type": "string", "nullable": true },
                            "data": { "type": "boolean" }
                        }
                    }
                },
                "cdtext": { "type": "object", "nullable": true, "description": "CD-TEXT: album and track titles and performers" },
                "notes": { "type": "array", "items": { "type": "string" } },
                "musicbrainz": { "type": "string", "description": "MusicBrainz disc ID" },
                "cddb": { "type": "string", "description": "CDDB/freedb disc ID" },
                "accuraterip": { "type": "object", "description": "AccurateRip ids: id1, id2, cddb" },
                "ctdb": { "type": "string", "description": "CUETools DB TOC id" }
            }
        }
    })
}

/// The job's id, and `after`: only the events after this number.
fn log_params() -> Value {
    let mut params = id_param();
    if let Some(list) = params.as_array_mut() {
        list.push(json!({
            "name": "after", "in": "query", "required": false,
            "description": "Only the events numbered after this one (seq); 0 or none: all",
            "schema": { "type": "integer", "format": "int64" }
        }));
    }
    params
}

fn schemas() -> Value {
    let states: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    let formats: Vec<&str> = aj_codec_formats();
    let mut all = json!({
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
                "replaygain": { "type": "boolean", "default": false, "description": "Write ReplayGain 2.0 tags (R128_* in Opus): track gain, and album gain per output folder" },
                "name": { "type": "string", "nullable": true, "description": "Name outputs from their tags, like `{albumartist|artist}/{album} ({date:4})/{disc}{track:02} - {title}` (the extension is added); null: the input's name. A template that does not parse, or that gives several inputs one output, is refused (400)" },
                "safe_names": { "type": "string", "enum": ["posix", "windows"], "default": "posix", "description": "Characters names made by `name` may hold" },
                "keep_tree": { "type": "boolean", "default": false, "description": "With `name`: keep each input folder's sub-folders; the template names the file inside them" },
                "on_exists": { "type": "string", "enum": ["skip", "overwrite", "rename"], "default": "skip", "description": "When an output exists: skip the input, replace it, or write `NAME (1).EXT`… (`overwrite: true` means overwrite)" },
                "delete_source": { "type": "boolean", "default": false, "description": "Delete each source once its output is written and checked; never a skipped or failed one, never when the output is the source, never a split image or its cue sheet" },
                "split": { "type": "boolean", "default": true, "description": "Split images that have a cue sheet (a .cue input, a .cue beside the image, or one embedded in a FLAC) into one file per track; false: convert them whole" },
                "gaps": { "type": "string", "enum": ["append", "prepend", "discard"], "default": "append", "description": "Where a split image's gaps (INDEX 00 to INDEX 01) go: end of the previous track, start of their own, or nowhere" },
                "join": { "$ref": "#/components/schemas/JoinOptions" }
            }
        },
        "JoinOptions": {
            "type": "object",
            "nullable": true,
            "description": "Join the inputs into one image holding them back to back, with NAME.cue beside it (FLAC: also a CUESHEET tag); one job item. Order: disc then track number when every input has one, else as given. Inputs must share rate and channels after DSP. With delete_source, the tracks are deleted only once the image is verified (docs/converter.md)",
            "properties": {
                "name": { "type": "string", "nullable": true, "description": "The image's name, a naming template of album tags (the extension is added); null: `{albumartist|artist} - {album}`, else the folder's name" },
                "keep_order": { "type": "boolean", "default": false, "description": "Keep the order given even when the tracks are numbered" }
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
                "speed_kbs": { "type": "integer", "minimum": 0, "maximum": 65535, "nullable": true, "description": "Read speed in kB/s (176 = 1x, SET CD SPEED); null: the drive's own" },
                "tracks": { "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 99 }, "default": [], "description": "Tracks to rip (0: hidden track one audio); empty: every track" },
                "cache_sectors": { "type": "integer", "minimum": 0, "maximum": 450_000, "nullable": true, "description": "The drive's audio cache in sectors (0: none); null: remembered for the drive, else as the drive reports it, measured when it reports none" },
                "replaygain": { "type": "boolean", "default": false, "description": "ReplayGain 2.0 tags (R128_* in Opus): each track's gain and peak, and the album's when every track of the disc is ripped in this run" },
                "use_c2": { "type": "boolean", "default": true, "description": "Use the drive's C2 error pointers when it has them" }
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
            "description": "A job: a conversion, a rip, reading a disc, keeping a mirror, or ReplayGain tags",
            "oneOf": [
                { "$ref": "#/components/schemas/ConvertJob" },
                { "$ref": "#/components/schemas/RipJob" },
                { "$ref": "#/components/schemas/DiscInfoJob" },
                { "$ref": "#/components/schemas/SyncJob" },
                { "$ref": "#/components/schemas/GainJob" }
            ],
            "discriminator": {
                "propertyName": "kind",
                "mapping": {
                    "convert": "#/components/schemas/ConvertJob",
                    "rip": "#/components/schemas/RipJob",
                    "disc_info": "#/components/schemas/DiscInfoJob",
                    "sync": "#/components/schemas/SyncJob",
                    "gain": "#/components/schemas/GainJob"
                }
            }
        },
        "Progress": {
            "type": "object",
            "description": "Where a running job is: a job's `progress`, and the data of the job.progress event (a few a second per job at most)",
            "required": ["id", "stage", "item", "items", "finished", "percent"],
            "properties": {
                "id": { "type": "integer", "minimum": 1, "description": "The job" },
                "stage": { "type": "string", "description": "plan, convert, verify, rip… done" },
                "item": { "type": "integer", "minimum": 0, "description": "The file or track being worked on, from 1 (0: none yet)" },
                "items": { "type": "integer", "minimum": 0, "description": "How many files or tracks the job has (0 while planning)" },
                "finished": { "type": "integer", "minimum": 0, "description": "Items finished: done, failed or skipped" },
                "file": { "type": "string", "nullable": true, "description": "The input (or track file) being worked on" },
                "percent": { "type": "number", "minimum": 0, "maximum": 100, "description": "The whole job" },
                "eta_seconds": { "type": "number", "minimum": 0, "nullable": true, "description": "Seconds left, guessed from the time so far; null until it can be" }
            }
        },
        "JobDeleted": {
            "type": "object",
            "description": "The data of the job.deleted event",
            "required": ["id"],
            "properties": { "id": { "type": "integer", "minimum": 1, "description": "The job deleted" } }
        },
        "FeedEvent": {
            "type": "object",
            "description": "The data of one event of GET /api/v1/events. Each event of the stream has `id:` (a number; send the last one seen as Last-Event-ID to get what was missed), `event:` (its name) and `data:` (one line of JSON). By name: job.created and job.state carry the job as GET /api/v1/jobs/{id} shows it (a Job: created, queued again, running, done, failed, cancelled, or interrupted, also by a crash noticed at start); job.progress carries a Progress; job.deleted a JobDeleted. x-event-data maps each name to its schema; clients ignore names they do not know.",
            "x-event-data": {
                "job.created": "#/components/schemas/Job",
                "job.state": "#/components/schemas/Job",
                "job.progress": "#/components/schemas/Progress",
                "job.deleted": "#/components/schemas/JobDeleted"
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
                        "deleted": { "type": "integer", "description": "Conversions: sources deleted (delete_source); absent when none" },
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
            "properties": {
                "jobs": { "type": "array", "items": { "$ref": "#/components/schemas/Job" }, "description": "Oldest first" },
                "more": { "type": "boolean", "description": "With limit: older jobs are left (ask again with before = the first id of this page)" }
            }
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
            "description": "A file or folder. Names on Linux are bytes and need not be UTF-8: such an entry has utf8 false, its name and path shown with U+FFFD for the bytes that are not UTF-8, and only path_encoded names it exactly",
            "required": ["name", "path", "path_encoded", "utf8", "kind", "size", "modified", "audio"],
            "properties": {
                "name": { "type": "string", "description": "For display (lossy when utf8 is false)" },
                "path": { "type": "string", "description": "Canonical, usable in a job spec (when utf8 is true)" },
                "path_encoded": { "type": "string", "description": "The path's exact bytes, percent-encoded (RFC 3986, `/` as %2F): append it to /api/v1/files/ to download, or give it as /api/v1/library?path= to browse" },
                "utf8": { "type": "boolean", "description": "False when the path is not UTF-8 (see path_encoded)" },
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
                "path": { "type": "string", "nullable": true, "description": "The folder listed; null for the roots (lossy when not UTF-8)" },
                "path_encoded": { "type": "string", "nullable": true, "description": "The folder's exact path, percent-encoded as Entry.path_encoded" },
                "entries": { "type": "array", "maxItems": MAX_ENTRIES, "items": { "$ref": "#/components/schemas/Entry" } },
                "truncated": { "type": "boolean", "description": "More entries than listed" }
            }
        }
    });
    // The DSP fields of a conversion, apart: one `json!` of everything
    // would pass the macro's recursion limit.
    if let (Some(props), Value::Object(dsp)) = (
        all.pointer_mut("/ConvertJob/properties")
            .and_then(Value::as_object_mut),
        convert_dsp_properties(),
    ) {
        props.extend(dsp);
    }
    // The sync job and its summary, apart for the same reason.
    let (job, totals) = sync_schemas();
    if let Some(schemas) = all.as_object_mut() {
        schemas.insert("SyncJob".into(), job);
        schemas.insert("GainJob".into(), gain_schema());
    }
    if let Some(props) = all
        .pointer_mut("/Job/properties/summary/properties")
        .and_then(Value::as_object_mut)
    {
        props.insert("sync".into(), totals);
    }
    all
}

/// `GainJob`: loudness measured and ReplayGain 2.0 tags written, as `aj
/// gain` builds it.
fn gain_schema() -> Value {
    json!({
        "type": "object",
        "description": "Measure loudness (EBU R128) and write ReplayGain 2.0 tags into files in place (R128_TRACK_GAIN/R128_ALBUM_GAIN in Opus), as `aj gain` builds it. Every file is measured before any is changed: cancelled while measuring, nothing is written. The job's log holds a `loudness` event per file (`index`, `file`, `loudness_lufs`, `loudness_range_lu`, `gain_db`, `peak`, `sample_peak`, `true_peak`, `r128_gain_q78` for Opus, `written`, `note`) and per album (`album: true`, and `folder` for a folder's album), beside file_started, file_done and file_failed. Paths are relative to a library folder or absolute inside one.",
        "required": ["kind", "files"],
        "properties": {
            "kind": { "type": "string", "enum": ["gain"] },
            "files": { "type": "array", "minItems": 1, "maxItems": crate::library::MAX_GAIN_FILES, "items": { "type": "string" }, "description": "Files, or folders searched recursively for WAV, AIFF, FLAC, MP3, Ogg Vorbis and Opus files (hidden entries left out)" },
            "album": { "type": "boolean", "default": false, "description": "Also write album gain and peak: one album over the files named one by one, and one per folder over the files found in folders" },
            "true_peak": { "type": "boolean", "default": false, "description": "Peak tags hold the true peak (ITU-R BS.1770-4 Annex 2) instead of the sample peak" },
            "dry_run": { "type": "boolean", "default": false, "description": "Measure and report only; change no file" }
        }
    })
}

/// `SyncJob`, and the `sync` counts of a job's summary.
fn sync_schemas() -> (Value, Value) {
    let formats: Vec<&str> = aj_codec_formats();
    let job = json!(
    {
                "type": "object",
                "description": "Keep a converted mirror of a library folder, as `aj sync` builds it: new and changed files converted, tag-only changes rewritten in place, state in MIRROR/.aj-sync.sqlite. Both folders inside the library folders.",
                "required": ["kind", "source", "mirror", "format"],
                "properties": {
                    "kind": { "type": "string", "enum": ["sync"] },
                    "source": { "type": "string", "description": "The library folder mirrored" },
                    "mirror": { "type": "string", "description": "The mirror folder (created when missing)" },
                    "format": { "type": "string", "enum": formats },
                    "encoder": { "$ref": "#/components/schemas/EncoderOptions" },
                    "lossy": { "type": "string", "enum": ["copy", "convert", "skip"], "default": "copy", "description": "Sources already lossy: copied as they are, converted, or left out" },
                    "link": { "type": "boolean", "default": false, "description": "Hard-link files that are not converted (copy across file systems)" },
                    "delete": { "type": "boolean", "default": false, "description": "Remove mirror files whose source is gone" },
                    "dry_run": { "type": "boolean", "default": false, "description": "Report what would be done; change nothing" },
                    "art_max": { "type": "integer", "minimum": 1, "maximum": 4_294_967_295_u64, "nullable": true, "description": "Scale embedded JPEG/PNG art of converted files to fit N×N px" },
                    "replaygain": { "type": "boolean", "default": false },
                    "name": { "type": "string", "nullable": true, "description": "Name mirror files from their tags (as in ConvertJob)" },
                    "safe_names": { "type": "string", "enum": ["posix", "windows"], "default": "posix" },
                    "verify": { "type": "boolean", "default": true },
                    "threads": { "type": "integer", "minimum": 0, "maximum": MAX_THREADS, "default": 0 },
                    "rate": { "type": "integer", "minimum": 1000, "maximum": 768000, "nullable": true },
                    "bits": { "type": "integer", "enum": [8, 16, 24, 32], "nullable": true },
                    "float": { "type": "boolean", "default": false },
                    "channels": { "type": "integer", "enum": [1, 2], "nullable": true },
                    "gain_db": { "type": "number", "minimum": -60, "maximum": 60, "nullable": true },
                    "apply_replaygain": { "type": "string", "enum": ["track", "album"], "nullable": true }
                }
            });
    // Apart, for the macro's recursion limit.
    let mut job = job;
    if let Some(props) = job
        .pointer_mut("/properties")
        .and_then(Value::as_object_mut)
    {
        props.insert(
            "split".into(),
            json!({ "type": "boolean", "default": true, "description": "Mirror images that have a cue sheet (a .cue naming them, or one embedded in a FLAC) as one file per track, named and tagged as ConvertJob does; false: mirror them whole" }),
        );
        props.insert(
            "gaps".into(),
            json!({ "type": "string", "enum": ["append", "prepend", "discard"], "default": "append", "description": "Where a split image's gaps (INDEX 00 to INDEX 01) go: end of the previous track, start of their own, or nowhere" }),
        );
    }
    let totals = json!(
    {
                                "type": "object",
                                "description": "Syncs: what was done (or, with dry_run, would be)",
                                "properties": {
                                    "converted": { "type": "integer" }, "retagged": { "type": "integer" },
                                    "copied": { "type": "integer" }, "linked": { "type": "integer" },
                                    "moved": { "type": "integer" }, "deleted": { "type": "integer" },
                                    "unchanged": { "type": "integer" }, "left_out": { "type": "integer" },
                                    "kept": { "type": "integer" }, "foreign": { "type": "integer" },
                                    "dry_run": { "type": "boolean" }
                                }
                            });
    (job, totals)
}

/// `ConvertJob`'s DSP fields (docs/dsp.md).
fn convert_dsp_properties() -> Value {
    json!({
                "rate": { "type": "integer", "minimum": 1000, "maximum": 768000, "nullable": true, "description": "Output sample rate in Hz (resampled when it differs); MP3 and Opus take only their own rates" },
                "bits": { "type": "integer", "enum": [8, 16, 24, 32], "nullable": true, "description": "Output integer depth of WAV, AIFF and FLAC; TPDF dither when it drops" },
                "float": { "type": "boolean", "default": false, "description": "32-bit float output (WAV only; not with bits)" },
                "channels": { "type": "integer", "enum": [1, 2], "nullable": true, "description": "Output channels; 5.1 and 7.1 are downmixed per ITU-R BS.775" },
                "gain_db": { "type": "number", "minimum": -60, "maximum": 60, "nullable": true, "description": "Gain in dB, lowered when the peak would pass 0 dBFS" },
                "apply_replaygain": { "type": "string", "enum": ["track", "album"], "nullable": true, "description": "Apply the source's ReplayGain (tags, else measured), lowered when the peak would pass 0 dBFS" }
    })
}

/// The formats a job can write, as the job spec spells them.
fn aj_codec_formats() -> Vec<&'static str> {
    vec!["wav", "aiff", "flac", "mp3", "ogg", "opus"]
}

/// The document's description: what the API is, and what it refuses to
/// protect its user from other web sites ([`crate::guard`]).
const DESCRIPTION: &str = "The job engine of `aj` over HTTP, on TCP port 3643. Every error is JSON: {\"error\": \"…\"}.\n\n\
Protection from other web sites (the server has no token by default on loopback): \
(1) on a loopback address the server answers only requests whose Host is localhost (or a name under .localhost), \
an address in 127.0.0.0/8 or [::1], with any port; any other Host is refused with 403 (DNS rebinding). \
(2) POST, PUT and DELETE requests that carry an Origin header must come from the server's own origin \
(Origin host:port = Host), and Sec-Fetch-Site must not be cross-site or same-site; else 403. \
(3) A POST, PUT or DELETE with a body must send Content-Type: application/json; else 415. \
A request without a body (cancel, retry) needs no Content-Type. \
On other addresses every request needs the bearer token instead.";

/// Adds the answers of the checks of [`crate::guard`] to every operation:
/// 403 (a Host that is not loopback, a cross-site request), and for those
/// that change state 415 (a body that is not JSON).
fn with_guard_answers(paths: &mut Value) {
    let Some(paths) = paths.as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let refused = "Refused as coming from another site: a Host that is not loopback (on a loopback server), or a cross-origin POST, PUT or DELETE (see the API description)";
            match responses.get_mut("403") {
                Some(r) => {
                    if let Some(d) = r.get("description").and_then(Value::as_str) {
                        r["description"] = json!(format!("{d}; or {}", refused.to_lowercase()));
                    }
                }
                None => {
                    responses.insert("403".into(), error(refused));
                }
            }
            if matches!(method.as_str(), "post" | "put" | "delete") {
                responses.insert(
                    "415".into(),
                    error("A body sent without Content-Type: application/json"),
                );
            }
        }
    }
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
                "Jobs, oldest first; all of them, or a page with limit and before", "listJobs",
                json!([{
                    "name": "state", "in": "query", "required": false,
                    "description": "Only jobs in this state (empty: all)",
                    "schema": { "type": "string", "enum": std::iter::once("").chain(JobState::ALL.iter().map(|s| s.as_str())).collect::<Vec<_>>() }
                }, {
                    "name": "limit", "in": "query", "required": false,
                    "description": "At most this many jobs: the newest of those asked for, listed oldest first (none: all)",
                    "schema": { "type": "integer", "minimum": 1, "maximum": crate::api::MAX_PAGE }
                }, {
                    "name": "before", "in": "query", "required": false,
                    "description": "Only jobs older than this id (the first id of the page before, to page back)",
                    "schema": { "type": "integer", "format": "int64", "minimum": 1 }
                }]),
                json!({ "200": ok_json("The jobs", "JobList"), "400": error("Unknown state, or limit or before out of range") }),
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
                    "413": error("The body is larger than the limit (2 MiB)"),
                    "422": error("A drive that is not the server's, or no drive at all"),
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
            "The engine events of a job", "jobLog", log_params(),
            json!({ "200": ok_json("The log", "Log"), "400": error("after is not an event number"), "404": error("No such job") }),
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
                "200": { "description": "An endless event stream (text/event-stream, HTML Living Standard 9.2): events named job.created, job.state (data: Job), job.progress (data: Progress) and job.deleted (data: JobDeleted), each with an id; see the FeedEvent schema. A comment line keeps the connection alive every 15 s", "content": { "text/event-stream": { "schema": { "type": "string", "description": "Events whose data is described by #/components/schemas/FeedEvent" } } } },
                "400": error("Last-Event-ID is not an event id"),
            }),
        )},
        "/api/v1/library": { "get": op(
            "The library folders, or the entries of one folder inside them (folders first, by name)",
            "library",
            json!([{
                "name": "path", "in": "query", "required": false,
                "description": "A folder, relative to a library folder or absolute inside one; percent-encoded bytes (an entry's path_encoded) name folders whose names are not UTF-8",
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
                "description": "Relative to a library folder (slashes allowed), or absolute inside one (a leading %2F); decoded as bytes, so an entry's path_encoded fetches a file whose name is not UTF-8",
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
        "/api/v1/drives": { "get": op(
            "The CD drives: those the server was given, or the real drives found now",
            "drives", json!([]),
            json!({ "200": ok_json("The drives", "DriveList") }),
        )},
        "/api/v1/drives/{id}/disc": { "get": op(
            "Read the disc in a drive now: table of contents, CD-TEXT, identities",
            "driveDisc", drive_param(),
            json!({
                "200": ok_json("The disc", "Disc"),
                "404": error("No such drive"),
                "409": error("A job is using the drive"),
                "422": error("The disc cannot be read (the drive's own message)"),
                "503": error("No disc in the drive, or the drive cannot be opened"),
            }),
        )},
        "/api/v1/drives/{id}/eject": { "post": op(
            "Open a drive's tray",
            "ejectDrive", drive_param(),
            json!({
                "204": { "description": "The tray opened" },
                "404": error("No such drive"),
                "409": error("A job is using the drive"),
                "503": error("The drive cannot be opened, or refused"),
            }),
        )},
    });
    let mut all_schemas = schemas();
    if let (Some(all), Value::Object(more)) = (all_schemas.as_object_mut(), drive_schemas()) {
        all.extend(more);
    }
    let mut paths = paths;
    for (into, from) in [
        (&mut paths, crate::settings::openapi_paths()),
        (&mut all_schemas, crate::settings::openapi_schemas()),
    ] {
        if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
            into.extend(from);
        }
    }
    with_guard_answers(&mut paths);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "AudioJuggler daemon (aj serve)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, {}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "Required when the server listens beyond loopback or has a token file" }
            },
            "schemas": all_schemas,
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
    fn every_event_has_a_data_schema() {
        let doc = document();
        let map = doc["components"]["schemas"]["FeedEvent"]["x-event-data"]
            .as_object()
            .unwrap();
        for name in ["job.created", "job.state", "job.progress", "job.deleted"] {
            let target = map[name].as_str().unwrap();
            let schema = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(doc["components"]["schemas"].get(schema).is_some(), "{name}");
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
