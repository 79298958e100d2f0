//! The queue: runs stored jobs through the engine on worker threads, within a
//! global limit of concurrent encoders, and publishes what happens.
//!
//! A job takes one encoder slot to start and as many more as are free (up
//! to its own thread setting and its number of files) — so a queue of small
//! jobs runs side by side, and a large job alone uses every core. Every
//! engine event is stored in the job's log; the feed gets `job.created`,
//! `job.state` and `job.progress` (at most [`PROGRESS_EVERY`] apart per job).
//!
//! One queue per drive: a rip or disc read starts only when its drive is
//! free ([`Drives::claim_for_job`]), so jobs on one drive run one after
//! another in the order they were submitted, while conversions and jobs on
//! other drives run alongside, within the same encoder limit.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aj_core::CancelToken;
use aj_jobs::{Event, JobSpec, Summary};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::drives::{Drives, Entry};
use crate::error::ApiError;
use crate::library::Library;
use crate::store::{FeedEvent, Job, JobState, Store};

/// Least time between two `job.progress` events of one job.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Live events waiting for slow subscribers before they lag (and replay
/// from the store).
const FEED_BUFFER: usize = 1024;

/// The event feed: stored (for replay) and broadcast (to live listeners).
#[derive(Debug)]
pub struct Feed {
    store: Arc<Store>,
    tx: broadcast::Sender<FeedEvent>,
    order: Mutex<()>,
}

impl Feed {
    pub fn new(store: Arc<Store>) -> Self {
        let (tx, _) = broadcast::channel(FEED_BUFFER);
        Feed {
            store,
            tx,
            order: Mutex::new(()),
        }
    }

    /// Stores and broadcasts an event. Ids reach listeners in order.
    pub fn publish(&self, kind: &str, data: Value) {
        let _order = self.order.lock().unwrap_or_else(|p| p.into_inner());
        match self.store.add_feed(kind, &data) {
            Ok(id) => {
                // No listener is not an error.
                let _ = self.tx.send(FeedEvent {
                    id,
                    kind: kind.to_string(),
                    data,
                });
            }
            Err(e) => eprintln!("aj serve: cannot store a {kind} event: {e}"),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.tx.subscribe()
    }
}

/// Where a running job is: the payload of `job.progress`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub id: i64,
    /// `"plan"`, `"convert"`, `"verify"`…
    pub stage: String,
    /// The file being worked on (1-based) and how many there are.
    pub item: usize,
    pub items: usize,
    /// Files finished (done, failed or skipped).
    pub finished: usize,
    pub file: Option<String>,
    /// The whole job, 0 to 100.
    pub percent: f64,
    pub eta_seconds: Option<f64>,
}

struct Running {
    cancel: CancelToken,
    progress: Option<Progress>,
    /// The drive it holds.
    drive: Option<String>,
}

/// A queued job and the drive it waits for.
struct Queued {
    id: i64,
    drive: Option<String>,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Queued>,
    free: usize,
    running: HashMap<i64, Running>,
    stopping: bool,
}

/// The queue and its workers.
pub struct Manager {
    store: Arc<Store>,
    feed: Arc<Feed>,
    library: Library,
    drives: Arc<Drives>,
    limit: usize,
    inner: Mutex<Inner>,
    idle: Condvar,
}

impl Manager {
    /// A queue with `limit` encoder slots (at least one), holding the jobs
    /// the store has queued.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn start(
        store: Arc<Store>,
        feed: Arc<Feed>,
        library: Library,
        drives: Arc<Drives>,
        limit: usize,
    ) -> Result<Arc<Manager>, ApiError> {
        let limit = limit.max(1);
        let queued = store.jobs(Some(JobState::Queued))?;
        let queue = queued
            .iter()
            .map(|j| Queued {
                id: j.id,
                drive: drive_key(&drives, &j.spec),
            })
            .collect();
        let m = Arc::new(Manager {
            store,
            feed,
            library,
            drives,
            limit,
            inner: Mutex::new(Inner {
                queue,
                free: limit,
                ..Inner::default()
            }),
            idle: Condvar::new(),
        });
        m.pump();
        Ok(m)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a new job (its spec already confined to the library) and
    /// queues it.
    ///
    /// # Errors
    /// 503 while stopping; store errors.
    pub fn submit(self: &Arc<Self>, spec: &JobSpec) -> Result<Job, ApiError> {
        if self.inner().stopping {
            return Err(ApiError::unavailable("the server is stopping"));
        }
        let value = serde_json::to_value(spec)
            .map_err(|e| ApiError::internal(format!("cannot store the job spec: {e}")))?;
        let job = self.store.insert_job(&value)?;
        self.feed.publish("job.created", json!(job));
        let drive = self.drives.key_of_job(spec);
        self.inner().queue.push_back(Queued { id: job.id, drive });
        self.pump();
        Ok(job)
    }

    /// Cancels a job: a queued one at once, a running one cooperatively (it
    /// turns `cancelled` when the engine has stopped and cleaned up). A
    /// finished job is left as it is. Idempotent.
    ///
    /// # Errors
    /// 404; store errors.
    pub fn cancel(&self, id: i64) -> Result<Job, ApiError> {
        let job = self.job(id)?;
        let was_queued = {
            let mut inner = self.inner();
            if let Some(r) = inner.running.get(&id) {
                r.cancel.cancel();
                false
            } else if let Some(pos) = inner.queue.iter().position(|q| q.id == id) {
                inner.queue.remove(pos);
                true
            } else {
                false
            }
        };
        if was_queued {
            return self.finish(id, JobState::Cancelled, None, None);
        }
        Ok(job)
    }

    /// Queues a failed, cancelled or interrupted job again (same id; its
    /// log goes on). Outputs already written are skipped by the engine
    /// unless the spec asks to overwrite them.
    ///
    /// # Errors
    /// 404; 409 for a job that is queued, running or done.
    pub fn retry(self: &Arc<Self>, id: i64) -> Result<Job, ApiError> {
        let job = self.job(id)?;
        if !matches!(
            job.state,
            JobState::Failed | JobState::Cancelled | JobState::Interrupted
        ) {
            return Err(ApiError::conflict(format!(
                "job {id} is {}: only failed, cancelled or interrupted jobs can be retried",
                job.state.as_str()
            )));
        }
        {
            let inner = self.inner();
            if inner.stopping {
                return Err(ApiError::unavailable("the server is stopping"));
            }
            if inner.running.contains_key(&id) {
                return Err(ApiError::conflict(format!(
                    "job {id} is still letting go of its resources: try again in a moment"
                )));
            }
        }
        let job = self
            .store
            .set_state(id, JobState::Queued, None, None)?
            .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
        self.feed.publish("job.state", json!(job));
        let drive = drive_key(&self.drives, &job.spec);
        self.inner().queue.push_back(Queued { id, drive });
        self.pump();
        Ok(job)
    }

    /// Deletes a job that is not running, with its log.
    ///
    /// # Errors
    /// 404; 409 for a running job.
    pub fn delete(&self, id: i64) -> Result<(), ApiError> {
        let job = self.job(id)?;
        {
            let mut inner = self.inner();
            // A job that has ended (its job.state event sent) while its
            // worker still lets go of its slot may be deleted.
            if inner.running.contains_key(&id) && !job.state.is_finished() {
                return Err(ApiError::conflict(format!(
                    "job {id} is running: cancel it first"
                )));
            }
            inner.queue.retain(|q| q.id != id);
        }
        self.store.delete_job(id)?;
        self.feed.publish("job.deleted", json!({ "id": id }));
        Ok(())
    }

    /// The job `id`.
    ///
    /// # Errors
    /// 404; store errors.
    pub fn job(&self, id: i64) -> Result<Job, ApiError> {
        self.store
            .job(id)?
            .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
    }

    /// The latest progress of a running job.
    pub fn progress(&self, id: i64) -> Option<Progress> {
        self.inner().running.get(&id)?.progress.clone()
    }

    /// Starts queued jobs, oldest first, while encoder slots are free; a
    /// job whose drive is held waits (and keeps its place in its drive's
    /// order), and younger jobs on other drives or none pass it.
    fn pump(self: &Arc<Self>) {
        let mut inner = self.inner();
        let mut pos = 0;
        while inner.free > 0 && !inner.stopping && pos < inner.queue.len() {
            let Some(q) = inner.queue.get(pos) else {
                break;
            };
            let id = q.id;
            let drive = q.drive.clone();
            if let Some(key) = &drive {
                if !self.drives.claim_for_job(key, id) {
                    pos += 1;
                    continue;
                }
            }
            inner.queue.remove(pos);
            inner.free -= 1;
            let cancel = CancelToken::new();
            inner.running.insert(
                id,
                Running {
                    cancel: cancel.clone(),
                    progress: None,
                    drive: drive.clone(),
                },
            );
            let me = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name(format!("aj-job-{id}"))
                .spawn(move || me.run_job(id, cancel));
            if let Err(e) = spawned {
                eprintln!("aj serve: cannot start a worker for job {id}: {e}");
                inner.running.remove(&id);
                inner.free += 1;
                if let Some(key) = &drive {
                    self.drives.release(key);
                }
                inner.queue.insert(pos, Queued { id, drive });
                break;
            }
        }
    }

    /// Runs `f` on drive `id` (blocking I/O: call it off the async
    /// threads), holding the drive so that no job uses it meanwhile; then
    /// starts jobs that waited for it.
    ///
    /// # Errors
    /// 404 for an unknown drive; 409 while a job holds it; what `f` returns.
    pub fn drive_io<T>(
        self: &Arc<Self>,
        id: &str,
        f: impl FnOnce(&Entry) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let entry = self.drives.find(id)?;
        self.drives.claim_for_api(&entry.id)?;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(&entry)));
        self.drives.release(&entry.id);
        self.pump();
        result.unwrap_or_else(|_| Err(ApiError::internal(format!("drive {id}: the read failed"))))
    }

    /// The drives.
    pub fn drives(&self) -> &Arc<Drives> {
        &self.drives
    }

    /// Takes up to `want` more slots; returns how many it got.
    fn take_slots(&self, want: usize) -> usize {
        let mut inner = self.inner();
        let got = want.min(inner.free);
        inner.free -= got;
        got
    }

    fn finish(
        &self,
        id: i64,
        state: JobState,
        summary: Option<&Summary>,
        error: Option<&str>,
    ) -> Result<Job, ApiError> {
        let summary = summary.map(|s| json!(s));
        let job = self
            .store
            .set_state(id, state, summary.as_ref(), error)?
            .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
        self.feed.publish("job.state", json!(job));
        Ok(job)
    }

    /// A worker thread: runs job `id`, holding one slot (taken by `pump`).
    fn run_job(self: Arc<Self>, id: i64, cancel: CancelToken) {
        let (extra, ending) =
            match std::panic::catch_unwind(AssertUnwindSafe(|| self.run_job_inner(id, &cancel))) {
                Ok(r) => r,
                Err(_) => (
                    0,
                    Some(Ending::failed("internal error: the job panicked".into())),
                ),
            };
        {
            let mut inner = self.inner();
            // The end is stored and announced while the job leaves the
            // running ones, under one lock: whoever sees it ended may retry
            // or delete it at once.
            if let Some(end) = ending {
                if let Err(e) =
                    self.finish(id, end.state, end.summary.as_ref(), end.error.as_deref())
                {
                    eprintln!("aj serve: job {id}: {e}");
                }
            }
            if let Some(Some(key)) = inner.running.remove(&id).map(|r| r.drive) {
                self.drives.release(&key);
            }
            inner.free += 1 + extra;
            self.idle.notify_all();
        }
        self.pump();
    }

    /// Runs the job; returns the extra slots it took and how it ended
    /// (`None`: it was deleted meanwhile, or the store failed).
    fn run_job_inner(&self, id: i64, cancel: &CancelToken) -> (usize, Option<Ending>) {
        let job = match self.store.job(id) {
            Ok(Some(j)) => j,
            Ok(None) => return (0, None), // deleted meanwhile
            Err(e) => {
                eprintln!("aj serve: job {id}: {e}");
                return (0, None);
            }
        };
        match self.store.set_state(id, JobState::Running, None, None) {
            Ok(Some(j)) => self.feed.publish("job.state", json!(j)),
            Ok(None) => return (0, None),
            Err(e) => {
                eprintln!("aj serve: job {id}: {e}");
                return (0, None);
            }
        }
        let spec: JobSpec = match serde_json::from_value(job.spec) {
            Ok(s) => s,
            Err(e) => {
                return (
                    0,
                    Some(Ending::failed(format!("cannot read the job spec: {e}"))),
                )
            }
        };
        // Roots may have changed since the job was stored.
        let spec = match self.library.confine(spec) {
            Ok(s) => s,
            Err(e) => return (0, Some(Ending::failed(e.message))),
        };
        let (spec, extra, new_dirs) = self.sized(spec, cancel);
        // Folders the job will make: noted, so that after a crash the
        // empty ones can be removed (the engine removes them itself when
        // it ends or is cancelled).
        if let Err(e) = self
            .store
            .clear_job_dirs(id)
            .and_then(|()| self.store.add_job_dirs(id, &new_dirs))
        {
            eprintln!("aj serve: job {id}: cannot note its output folders: {e}");
        }
        // Items an earlier run of this job finished (a retry): skipped,
        // whatever on_exists says.
        let done = match self.store.log(id) {
            Ok(log) => done_inputs(&log),
            Err(e) => {
                eprintln!("aj serve: job {id}: cannot read its log: {e}");
                std::collections::HashSet::new()
            }
        };

        let first_seq = self.store.last_seq(id).unwrap_or(0);
        let seq = AtomicI64::new(first_seq);
        let tracker = Mutex::new(Tracker::new(id));
        let on_event = |event: Event| {
            let n = seq.fetch_add(1, Ordering::SeqCst) + 1;
            match serde_json::to_value(&event) {
                Ok(v) => {
                    if let Err(e) = self.store.add_event(id, n, &v) {
                        eprintln!("aj serve: job {id}: cannot store an event: {e}");
                    }
                }
                Err(e) => eprintln!("aj serve: job {id}: cannot store an event: {e}"),
            }
            let publish = {
                let mut t = tracker.lock().unwrap_or_else(|p| p.into_inner());
                t.update(&event);
                t.due().inspect(|p| {
                    if let Some(r) = self.inner().running.get_mut(&id) {
                        r.progress = Some(p.clone());
                    }
                })
            };
            if let Some(p) = publish {
                self.feed.publish("job.progress", json!(p));
            }
        };
        let summary = match &spec {
            JobSpec::Convert(c) if !done.is_empty() => aj_jobs::engine::run_convert_resuming(
                c,
                &|item| done.contains(item.input.to_string_lossy().as_ref()),
                cancel,
                &on_event,
            ),
            _ => crate::settings::run(&self.store, &spec, cancel, &on_event),
        };
        if let Err(e) = self.store.clear_job_dirs(id) {
            eprintln!("aj serve: job {id}: {e}");
        }

        let stopping = self.inner().stopping;
        let state = if summary.cancelled && stopping {
            JobState::Interrupted
        } else if summary.cancelled {
            JobState::Cancelled
        } else if summary.success() {
            JobState::Done
        } else {
            JobState::Failed
        };
        let error = (state == JobState::Failed).then(|| {
            format!(
                "{} of {} files failed (see the job's log)",
                summary.failed,
                summary.ok + summary.failed + summary.skipped
            )
        });
        (
            extra,
            Some(Ending {
                state,
                summary: Some(summary),
                error,
            }),
        )
    }

    /// The spec with its thread count set to the slots it got: one (held)
    /// plus as many free ones as it can use; and the folders it will
    /// create (those of its planned outputs that do not exist yet).
    fn sized(&self, spec: JobSpec, cancel: &CancelToken) -> (JobSpec, usize, Vec<PathBuf>) {
        match spec {
            JobSpec::Convert(mut c) => {
                let plan = aj_jobs::convert::plan(&c, cancel);
                let mut dirs: Vec<PathBuf> = Vec::new();
                let outputs: Vec<PathBuf> = if c.join.is_some() {
                    aj_jobs::join::plan(&c, cancel)
                        .map(|p| vec![p.output])
                        .unwrap_or_default()
                } else {
                    plan.iter()
                        .filter_map(|i| i.output().map(Path::to_path_buf))
                        .collect()
                };
                for out in &outputs {
                    for d in missing_dirs(out.parent()) {
                        if !dirs.contains(&d) {
                            dirs.push(d);
                        }
                    }
                }
                let want = c.threads().min(plan.len()).min(self.limit).max(1);
                let extra = self.take_slots(want - 1);
                c.threads = 1 + extra;
                (JobSpec::Convert(c), extra, dirs)
            }
            // A rip encodes one track at a time: the slot it holds.
            JobSpec::Rip(r) => {
                let dirs = missing_dirs(Some(&r.output_dir));
                (JobSpec::Rip(r), 0, dirs)
            }
            JobSpec::DiscInfo(d) => (JobSpec::DiscInfo(d), 0, Vec::new()),
            // A gain job decodes one file at a time, then rewrites tags
            // in place: the slot it holds, no new folder.
            JobSpec::Gain(g) => (JobSpec::Gain(g), 0, Vec::new()),
            // A sync works on as many files at once as it has slots.
            JobSpec::Sync(mut s) => {
                let want = s.threads().min(self.limit).max(1);
                let extra = self.take_slots(want - 1);
                s.threads = 1 + extra;
                let dirs = missing_dirs(Some(&s.mirror));
                (JobSpec::Sync(s), extra, dirs)
            }
        }
    }

    /// Stops: no new job starts, running ones are cancelled and wait for
    /// their engine to clean up (up to `wait`), and end `interrupted`.
    /// Queued jobs stay queued for the next start.
    pub fn shutdown(&self, wait: Duration) {
        let mut inner = self.inner();
        inner.stopping = true;
        for r in inner.running.values() {
            r.cancel.cancel();
        }
        let deadline = Instant::now() + wait;
        while !inner.running.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                eprintln!(
                    "aj serve: {} jobs still stopping; they will show as interrupted",
                    inner.running.len()
                );
                break;
            }
            inner = match self.idle.wait_timeout(inner, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// `dir` and those of its parents that do not exist, deepest first.
fn missing_dirs(dir: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut at = dir;
    while let Some(d) = at {
        if d.as_os_str().is_empty() || d.symlink_metadata().is_ok() {
            break;
        }
        out.push(d.to_path_buf());
        at = d.parent();
    }
    out
}

/// The inputs of the items a job's log says were done (`file_done`).
fn done_inputs(log: &[crate::store::LogEntry]) -> std::collections::HashSet<String> {
    log.iter()
        .filter(|e| e.event.get("event").and_then(Value::as_str) == Some("file_done"))
        .filter_map(|e| e.event.get("input").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// How a job ended, to be stored and announced.
struct Ending {
    state: JobState,
    summary: Option<Summary>,
    error: Option<String>,
}

impl Ending {
    fn failed(error: String) -> Ending {
        Ending {
            state: JobState::Failed,
            summary: None,
            error: Some(error),
        }
    }
}

/// The queue key of a stored job spec's drive.
fn drive_key(drives: &Drives, spec: &Value) -> Option<String> {
    serde_json::from_value::<JobSpec>(spec.clone())
        .ok()
        .and_then(|s| drives.key_of_job(&s))
}

/// Turns engine events into job-level progress.
struct Tracker {
    id: i64,
    items: usize,
    finished: usize,
    current: BTreeMap<usize, f64>,
    stage: String,
    item: usize,
    file: Option<String>,
    started: Instant,
    last_sent: Option<Instant>,
    changed: bool,
}

impl Tracker {
    fn new(id: i64) -> Self {
        Tracker {
            id,
            items: 0,
            finished: 0,
            current: BTreeMap::new(),
            stage: "plan".into(),
            item: 0,
            file: None,
            started: Instant::now(),
            last_sent: None,
            changed: false,
        }
    }

    fn update(&mut self, event: &Event) {
        self.changed = true;
        match event {
            Event::JobStarted { files, .. } => self.items = *files,
            Event::FileStarted { index, input, .. } => {
                self.current.insert(*index, 0.0);
                self.stage = "convert".into();
                self.item = index + 1;
                self.file = Some(input.to_string_lossy().into_owned());
            }
            Event::Progress { index, percent, .. } => {
                if let Some(p) = percent {
                    self.current.insert(*index, (p / 100.0).clamp(0.0, 1.0));
                }
            }
            Event::Stage { stage, index, .. } => {
                self.stage = stage.clone();
                self.item = index + 1;
            }
            Event::FileDone { index, .. }
            | Event::FileFailed { index, .. }
            | Event::FileSkipped { index, .. } => {
                self.current.remove(index);
                self.finished += 1;
            }
            Event::Summary(_) => {
                self.stage = "done".into();
            }
            Event::RipStarted(r) => {
                self.items = r.tracks.len();
                self.stage = "rip".into();
            }
            Event::TrackStarted { index, file, .. } => {
                self.current.insert(*index, 0.0);
                self.item = index + 1;
                self.file = Some(file.to_string_lossy().into_owned());
            }
            Event::TrackDone(d) => {
                self.current.remove(&d.index);
                self.finished += 1;
            }
            Event::Warning { .. } | Event::DiscInfo { .. } | Event::Loudness(_) => {}
        }
    }

    /// The progress to publish now, if it changed and the last one is old
    /// enough.
    fn due(&mut self) -> Option<Progress> {
        let now = Instant::now();
        if !self.changed || self.last_sent.is_some_and(|t| now - t < PROGRESS_EVERY) {
            return None;
        }
        self.changed = false;
        self.last_sent = Some(now);
        Some(self.progress(now))
    }

    fn progress(&self, now: Instant) -> Progress {
        let fraction = if self.items == 0 {
            0.0
        } else {
            ((self.finished as f64 + self.current.values().sum::<f64>()) / self.items as f64)
                .clamp(0.0, 1.0)
        };
        let elapsed = (now - self.started).as_secs_f64();
        let eta_seconds = (fraction > 0.005 && fraction < 1.0)
            .then(|| (elapsed * (1.0 - fraction) / fraction * 10.0).round() / 10.0);
        Progress {
            id: self.id,
            stage: self.stage.clone(),
            item: self.item,
            items: self.items,
            finished: self.finished,
            file: self.file.clone(),
            percent: (fraction * 1000.0).round() / 10.0,
            eta_seconds,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn progress_over_files() {
        let mut t = Tracker::new(7);
        t.update(&Event::JobStarted {
            files: 2,
            threads: 1,
        });
        t.update(&Event::FileStarted {
            index: 0,
            input: PathBuf::from("a.wav"),
            output: PathBuf::from("a.flac"),
            total_frames: Some(100),
            sample_rate: 44_100,
        });
        t.update(&Event::Progress {
            index: 0,
            input: PathBuf::from("a.wav"),
            frames: 50,
            total_frames: Some(100),
            percent: Some(50.0),
            drive: None,
        });
        let p = t.due().unwrap();
        assert_eq!((p.item, p.items, p.percent), (1, 2, 25.0));
        assert_eq!(p.stage, "convert");
        assert!(t.due().is_none(), "nothing changed");
        t.update(&Event::FileDone {
            index: 0,
            input: PathBuf::from("a.wav"),
            output: PathBuf::from("a.flac"),
            frames: 100,
            verified: true,
            deleted_source: None,
        });
        assert!(t.due().is_none(), "throttled");
        assert_eq!(t.progress(Instant::now()).percent, 50.0);
    }
}
