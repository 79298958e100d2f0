//! The engine: runs a job's items on worker threads and reports events.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use aj_core::CancelToken;

use crate::convert::{self, ConvertSpec, Item, ItemOutcome};

/// Every kind of job the engine runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSpec {
    Convert(ConvertSpec),
    Rip(crate::rip::RipSpec),
    DiscInfo(crate::disc::DiscInfoSpec),
    Sync(crate::sync::SyncSpec),
}

/// What a running job reports. Serialised with an `"event"` field naming the
/// variant (`file_started`, `progress`, …), one JSON object per event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The job expanded into `files` items.
    JobStarted {
        files: usize,
        threads: usize,
    },
    FileStarted {
        index: usize,
        #[serde(with = "lossy_path")]
        input: PathBuf,
        #[serde(with = "lossy_path")]
        output: PathBuf,
        total_frames: Option<u64>,
        sample_rate: u32,
    },
    /// Throttled to a few per second per file.
    Progress {
        index: usize,
        #[serde(with = "lossy_path")]
        input: PathBuf,
        frames: u64,
        total_frames: Option<u64>,
        percent: Option<f64>,
        /// Where a drive is reading (rip jobs only).
        #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
        drive: Option<DriveProgress>,
    },
    /// A file entered a later stage (`"verify"`: decoding the output again).
    Stage {
        index: usize,
        #[serde(with = "lossy_path")]
        input: PathBuf,
        stage: String,
    },
    FileDone {
        index: usize,
        #[serde(with = "lossy_path")]
        input: PathBuf,
        #[serde(with = "lossy_path")]
        output: PathBuf,
        frames: u64,
        verified: bool,
        /// The source, when it was deleted (`--delete-source`).
        #[serde(
            with = "lossy_path::option",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        deleted_source: Option<PathBuf>,
    },
    FileFailed {
        index: usize,
        #[serde(with = "lossy_path")]
        input: PathBuf,
        error: String,
    },
    FileSkipped {
        index: usize,
        #[serde(with = "lossy_path")]
        input: PathBuf,
        #[serde(with = "lossy_path::option")]
        output: Option<PathBuf>,
        reason: String,
    },
    /// A rip job found its disc: what it is and what will be done.
    RipStarted(Box<crate::rip::RipStarted>),
    /// A track of a rip began (its file, when it has its own, is being written).
    TrackStarted {
        index: usize,
        track: u8,
        #[serde(with = "lossy_path")]
        file: PathBuf,
        frames: u64,
    },
    /// A track of a rip was read and checked.
    TrackDone(Box<crate::rip::TrackDone>),
    /// What a disc-info job found (the document `aj disc info --json` prints).
    DiscInfo {
        info: serde_json::Value,
    },
    /// Something the user should know that is not a failure (offline, an
    /// offset not configured, samples outside the disc filled with zeros).
    Warning {
        message: String,
    },
    Summary(Summary),
}

/// Where a rip is on the disc, carried by [`Event::Progress`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriveProgress {
    pub track: u8,
    /// The sector being read.
    pub sector: i32,
    /// Reading speed in multiples of real time.
    pub speed: f64,
    /// Sectors read again so far in this track.
    pub retries: u64,
}

/// Paths in events are text: JSON has no other way to carry them. A path that
/// is not valid UTF-8 is shown with replacement characters rather than
/// dropping the event.
pub(crate) mod lossy_path {
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&p.to_string_lossy())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        String::deserialize(d).map(PathBuf::from)
    }

    pub mod option {
        use std::path::PathBuf;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
            match p {
                Some(p) => s.serialize_some(&p.to_string_lossy()),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
            Option::<String>::deserialize(d).map(|o| o.map(PathBuf::from))
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub ok: usize,
    pub failed: usize,
    pub skipped: usize,
    pub cancelled: bool,
    /// Sources deleted after their output was checked (`--delete-source`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deleted: usize,
    /// For a rip: how the tracks were verified.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub rip: Option<crate::rip::RipTotals>,
    /// For a sync: what was converted, retagged, copied, deleted…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<crate::sync::SyncTotals>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// True when nothing failed and the job was not cancelled.
    pub fn success(&self) -> bool {
        self.failed == 0 && !self.cancelled
    }
}

/// Runs `spec` to the end (or until `cancel`), calling `on_event` for every
/// event from any worker thread. The last event is always [`Event::Summary`].
pub fn run(spec: &JobSpec, cancel: &CancelToken, on_event: &(dyn Fn(Event) + Sync)) -> Summary {
    match spec {
        JobSpec::Convert(c) => run_convert(c, cancel, on_event),
        JobSpec::DiscInfo(d) => crate::disc::run(d, cancel, on_event),
        JobSpec::Rip(r) => crate::rip::run(r, &crate::rip::RipContext::default(), cancel, on_event),
        JobSpec::Sync(s) => crate::sync::run(s, cancel, on_event),
    }
}

fn run_convert(
    spec: &ConvertSpec,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Summary {
    let plan = convert::plan(spec, cancel);
    let threads = spec.threads().min(plan.len()).max(1);
    // `-j N` bounds the threads of the whole job: spread over files when there
    // are several, inside each file's encoder (FLAC) when there are fewer.
    let mut spec = spec.clone();
    if spec.encoder.threads.is_none() {
        spec.encoder.threads = Some((spec.threads() / threads).max(1));
    }
    let spec = &spec;
    on_event(Event::JobStarted {
        files: plan.len(),
        threads,
    });
    let summary = Mutex::new(Summary::default());
    let deleted = AtomicUsize::new(0);
    let on_event = &|e: Event| {
        if matches!(
            e,
            Event::FileDone {
                deleted_source: Some(_),
                ..
            }
        ) {
            deleted.fetch_add(1, Ordering::SeqCst);
        }
        on_event(e)
    };
    let next = AtomicUsize::new(0);
    let created_dirs = Mutex::new(Vec::new());
    let albums = convert::album_gains(spec, &plan);
    let tally = |outcome: &ItemOutcome| {
        let mut s = summary.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            ItemOutcome::Done => s.ok += 1,
            ItemOutcome::Failed => s.failed += 1,
            ItemOutcome::Skipped => s.skipped += 1,
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = plan.get(i) else { break };
                let outcome = if cancel.is_cancelled() {
                    on_event(skip(item, "cancelled"));
                    ItemOutcome::Skipped
                } else {
                    convert::run_item_with_album(
                        spec,
                        item,
                        cancel,
                        on_event,
                        &created_dirs,
                        &albums,
                    )
                };
                tally(&outcome);
            });
        }
    });
    convert::remove_empty_dirs(created_dirs.into_inner().unwrap_or_else(|p| p.into_inner()));
    let mut s = summary.into_inner().unwrap_or_else(|p| p.into_inner());
    s.cancelled = cancel.is_cancelled();
    s.deleted = deleted.load(Ordering::SeqCst);
    on_event(Event::Summary(s));
    s
}

fn skip(item: &Item, reason: &str) -> Event {
    Event::FileSkipped {
        index: item.index,
        input: item.input.clone(),
        output: item.output().map(Path::to_path_buf),
        reason: reason.to_string(),
    }
}
