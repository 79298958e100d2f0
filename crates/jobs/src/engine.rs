//! The engine: runs a job's items on worker threads and reports events.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use aj_core::{CancelToken, Slot, ThreadBudget};

use crate::convert::{self, ConvertSpec, Item, ItemOutcome};

/// Every kind of job the engine runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSpec {
    Convert(ConvertSpec),
    Rip(crate::rip::RipSpec),
    DiscInfo(crate::disc::DiscInfoSpec),
    Sync(crate::sync::SyncSpec),
    Gain(crate::gain::GainSpec),
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
    /// What a gain job measured for a file (after its tags were written,
    /// or not) or for an album.
    Loudness(Box<crate::gain::Loudness>),
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
        JobSpec::Gain(g) => crate::gain::run(g, cancel, on_event),
    }
}

fn run_convert(
    spec: &ConvertSpec,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Summary {
    if spec.join.is_some() {
        return crate::join::run(spec, cancel, on_event);
    }
    run_convert_on(spec, &ThreadBudget::new(spec.threads()), cancel, on_event)
}

/// A convert job that goes on from an earlier run of the same spec (a
/// daemon's retry): the items `done` names, finished by that run, are
/// skipped (a `file_skipped` event, reason "done in an earlier run")
/// whatever `on_exists` says, so that they are neither written again nor
/// numbered `NAME (1).EXT`; the others run as [`run`] runs them. A join is
/// one item: it runs as [`run`] runs it.
pub fn run_convert_resuming(
    spec: &ConvertSpec,
    done: &(dyn Fn(&Item) -> bool + Sync),
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Summary {
    if spec.join.is_some() {
        return crate::join::run(spec, cancel, on_event);
    }
    run_convert_skipping(
        spec,
        &ThreadBudget::new(spec.threads()),
        done,
        cancel,
        on_event,
    )
}

/// [`run_convert`] (files converted one by one) on the slots of `budget`
/// (`spec.threads()` of them).
fn run_convert_on(
    spec: &ConvertSpec,
    budget: &ThreadBudget,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Summary {
    run_convert_skipping(spec, budget, &|_| false, cancel, on_event)
}

/// [`run_convert_on`], skipping the items `done` names.
fn run_convert_skipping(
    spec: &ConvertSpec,
    budget: &ThreadBudget,
    done: &(dyn Fn(&Item) -> bool + Sync),
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Summary {
    let plan = convert::plan(spec, cancel);
    let threads = spec.threads().min(plan.len()).max(1);
    let (spec, worker_slots) = with_budget(spec, budget, threads);
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
        let (plan, next, created_dirs, albums, tally) =
            (&plan, &next, &created_dirs, &albums, &tally);
        for slot in worker_slots {
            // The worker's slot goes back to the budget when it runs out of
            // files: the encoders still running borrow it.
            scope.spawn(move || {
                let _slot = slot;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = plan.get(i) else { break };
                    let outcome = if cancel.is_cancelled() {
                        on_event(skip(item, "cancelled"));
                        ItemOutcome::Skipped
                    } else if done(item) {
                        on_event(skip(item, "done in an earlier run"));
                        ItemOutcome::Skipped
                    } else {
                        convert::run_item_with_album(
                            spec,
                            item,
                            cancel,
                            on_event,
                            created_dirs,
                            albums,
                        )
                    };
                    tally(&outcome);
                }
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

/// `-j N` bounds the threads of a whole job: a budget of N slots (a new
/// [`ThreadBudget`] of `spec.threads()`), of which each of the `workers`
/// converting files holds one (the slots returned, taken before any worker
/// starts); the spec's encoder borrows the others (FLAC encodes batches of
/// frames on them), whether there are fewer files than threads from the
/// start or workers run out of files while others still encode. An
/// `encoder.threads` set in the spec stays the most one encoder uses.
pub(crate) fn with_budget(
    spec: &ConvertSpec,
    budget: &ThreadBudget,
    workers: usize,
) -> (ConvertSpec, Vec<Slot>) {
    let slots = budget.try_acquire_many(workers.max(1));
    let mut spec = spec.clone();
    spec.encoder.budget = Some(budget.clone());
    (spec, slots)
}

fn skip(item: &Item, reason: &str) -> Event {
    Event::FileSkipped {
        index: item.index,
        input: item.input.clone(),
        output: item.output().map(Path::to_path_buf),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aj_codec::Format;

    use super::*;

    const RATE: u32 = 44100;

    /// The tests below time files against each other: one at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    /// Three WAVs: two short, the last `last` seconds long (it runs alone
    /// at the end, still encoding when the other worker runs out of files,
    /// whatever the scheduling).
    fn inputs(dir: &Path, last: f64) -> Vec<PathBuf> {
        [(1, 2.0), (2, 2.5), (3, last)]
            .iter()
            .map(|&(n, secs)| {
                let p = dir.join(format!("t{n}.wav"));
                let frames = (f64::from(RATE) * secs) as usize;
                let sweep = aj_testkit::sweep(frames, 2, RATE, 16, 40.0, 12_000.0);
                let noise = aj_testkit::noise(frames, 2, 5, n);
                let s: Vec<i32> = sweep.iter().zip(&noise).map(|(a, b)| a + b).collect();
                aj_testkit::write_wav(&p, &s, 2, RATE, 16);
                p
            })
            .collect()
    }

    fn spec(inputs: &[PathBuf], out: &Path, threads: usize) -> ConvertSpec {
        let mut s = ConvertSpec::new(inputs.to_vec(), Format::Flac);
        s.output_dir = Some(out.to_path_buf());
        s.threads = threads;
        s
    }

    /// Three FLAC files on two threads: the bytes of one thread; never more
    /// than two slots held; every slot back at the end.
    #[test]
    fn three_files_on_two_threads_write_the_bytes_of_one() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let inputs = inputs(dir.path(), 30.0);
        let one = dir.path().join("j1");
        let s = run_convert(&spec(&inputs, &one, 1), &CancelToken::new(), &|_| {});
        assert_eq!((s.ok, s.failed), (3, 0));

        let two = dir.path().join("j2");
        let budget = ThreadBudget::new(2);
        let most = AtomicUsize::new(0);
        let s = run_convert_on(
            &spec(&inputs, &two, 2),
            &budget,
            &CancelToken::new(),
            &|_| {
                most.fetch_max(budget.in_use(), Ordering::SeqCst);
            },
        );
        assert_eq!((s.ok, s.failed), (3, 0));
        assert_eq!(budget.free(), 2, "slots kept after the job");
        assert!(most.load(Ordering::SeqCst) <= 2);
        for n in 1..=3 {
            let name = format!("t{n}.flac");
            let a = std::fs::read(one.join(&name)).unwrap();
            let b = std::fs::read(two.join(&name)).unwrap();
            assert!(a == b, "{name}: -j 2 changed the bytes");
        }
    }

    /// A worker that runs out of files lends its slot to the file still
    /// encoding (here the worker whose file is missing), which keeps the
    /// bytes of one thread.
    #[test]
    fn a_worker_out_of_files_lends_its_slot() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let long = inputs(dir.path(), 20.0).pop().unwrap();
        let inputs = [dir.path().join("missing.wav"), long];
        let one = dir.path().join("j1");
        run_convert(&spec(&inputs, &one, 1), &CancelToken::new(), &|_| {});
        let budget = ThreadBudget::new(2);
        let two = dir.path().join("j2");
        let s = run_convert_on(
            &spec(&inputs, &two, 2),
            &budget,
            &CancelToken::new(),
            &|_| {},
        );
        assert_eq!((s.ok, s.failed), (1, 1));
        // Both slots went to the two workers at the start: any other
        // taking is the encoder borrowing the slot of a worker that left.
        assert!(budget.taken() > 2, "the idle slot was never borrowed");
        assert_eq!(budget.free(), 2);
        let a = std::fs::read(one.join("t3.flac")).unwrap();
        let b = std::fs::read(two.join("t3.flac")).unwrap();
        assert!(a == b, "a borrowed thread changed the bytes");
    }

    /// A job cancelled while its last file encodes on a borrowed slot ends,
    /// gives back every slot and leaves no output behind.
    #[test]
    fn cancelled_job_gives_back_every_slot() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        // Long enough that it cannot end before the cancel, however slow
        // the machine: the cancel comes at its first event after the
        // borrow (progress is reported every 200 ms of work).
        let long = inputs(dir.path(), 200.0).pop().unwrap();
        let inputs = [dir.path().join("missing.wav"), long];
        let out = dir.path().join("out");
        let budget = ThreadBudget::new(2);
        let cancel = CancelToken::new();
        let on_event = |_: Event| {
            // A third taking: the last file borrowed the freed slot.
            if budget.taken() > 2 {
                cancel.cancel();
            }
        };
        let s = run_convert_on(&spec(&inputs, &out, 2), &budget, &cancel, &on_event);
        assert!(s.cancelled, "the job ended before the cancel: {s:?}");
        assert!(budget.taken() > 2, "the last file never borrowed");
        assert_eq!(s.ok + s.skipped + s.failed, 2);
        assert_eq!(budget.free(), 2, "slots kept after a cancelled job");
        assert!(!out.join("t3.flac").exists());
    }
}
