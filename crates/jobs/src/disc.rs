//! The disc-info job: what is in a drive — table of contents, pregaps and
//! indexes, MCN, ISRCs, CD-TEXT, identities — as one JSON document (the same
//! one `aj disc info --json` prints).

use aj_cd::disc::{Disc, Track};
use aj_cd::id::DiscIds;
use aj_cd::mmc::scan::{self, DiscReport, Uncertain};
use aj_cd::transport;
use aj_core::CancelToken;
use serde_json::{json, Value};

use crate::engine::{Event, Summary};

/// Read what is in a drive.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiscInfoSpec {
    /// `/dev/srN`, `image:PATH[,options]` or `demo`; `None`: the first drive.
    #[serde(default)]
    pub drive: Option<String>,
}

/// Runs a disc-info job: one [`Event::DiscInfo`] (or a failure), then the summary.
pub fn run(
    spec: &DiscInfoSpec,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Summary {
    let mut summary = Summary::default();
    let result = transport::open(spec.drive.as_deref())
        .map_err(|e| e.to_string())
        .and_then(|mut drive| {
            let name = drive.name();
            let report = scan::read_disc(&mut drive).map_err(|e| format!("{name}: {e}"))?;
            let ids = DiscIds::compute(&report.disc).ok();
            Ok(to_json(&name, &report, ids.as_ref()))
        });
    match result {
        Ok(info) => {
            on_event(Event::DiscInfo { info });
            summary.ok = 1;
        }
        Err(error) => {
            on_event(Event::FileFailed {
                index: 0,
                input: spec
                    .drive
                    .clone()
                    .unwrap_or_else(|| "the first CD drive".into())
                    .into(),
                error,
            });
            summary.failed = 1;
        }
    }
    summary.cancelled = cancel.is_cancelled();
    on_event(Event::Summary(summary));
    summary
}

fn track_json(disc: &Disc, t: &Track) -> Value {
    let text = disc.track_text(t.number);
    json!({
        "number": t.number,
        "session": t.session,
        "start": t.start.0,
        "pregap": t.pregap_sectors(),
        "length": disc.track_sectors(t.number),
        "indexes": t.all_indexes().map(|i| json!({"number": i.number, "start": i.start.0})).collect::<Vec<_>>(),
        "isrc": t.isrc,
        "title": text.and_then(|f| f.title.clone()),
        "performer": text.and_then(|f| f.performer.clone()),
        "preemphasis": t.control.preemphasis,
        "copy_permitted": t.control.copy_permitted,
        "data": t.control.data,
    })
}

/// A pregap or index start hidden by unreadable sub-channel: where it can
/// be (`first`…`last`, LBAs), the unreadable sectors, and what `tracks`
/// holds (`null`: nothing recorded).
fn uncertain_json(u: &Uncertain) -> Value {
    json!({
        "track": u.track,
        "index": u.index,
        "first": u.range.start().0,
        "last": u.range.end().0,
        "unreadable": u.unreadable.as_ref().map(|r| [r.start().0, r.end().0]),
        "taken": u.taken.map(|l| l.0),
    })
}

pub fn to_json(name: &str, r: &DiscReport, ids: Option<&DiscIds>) -> Value {
    let d = &r.disc;
    let mut v = json!({
        "drive": name,
        "kind": d.kind().to_string(),
        "first_track": d.first_track_number(),
        "last_track": d.last_track_number(),
        "leadout": d.leadout.0,
        "sessions": d.sessions.iter().map(|s| json!({"number": s.number, "leadout": s.leadout.0})).collect::<Vec<_>>(),
        "hidden_track": d.hidden_track().map_or(0, |h| h.end.0 - h.start.0),
        "mcn": d.mcn,
        "tracks": d.tracks.iter().map(|t| track_json(d, t)).collect::<Vec<_>>(),
        "cdtext": d.cdtext,
        "notes": r.notes,
        "uncertain": r.uncertain.iter().map(uncertain_json).collect::<Vec<_>>(),
    });
    if let (Some(ids), Some(obj)) = (ids, v.as_object_mut()) {
        obj.insert("musicbrainz".into(), json!(ids.musicbrainz));
        obj.insert("cddb".into(), json!(ids.cddb));
        obj.insert("accuraterip".into(), json!(ids.accuraterip));
        obj.insert("ctdb".into(), json!(ids.ctdb));
    }
    v
}
