//! The job store: jobs, their engine events, and the server's event feed, in
//! SQLite (write-ahead log) in the data folder, so that a restart loses
//! nothing.
//!
//! Opening the store is also crash recovery: jobs still marked `running`
//! were cut off (kill -9, power loss) and become `interrupted`, ready to be
//! retried.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

/// Feed rows kept for `Last-Event-ID` replay; older ones are pruned.
const FEED_KEEP: i64 = 10_000;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot store JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
    /// Was running when the server stopped or crashed.
    Interrupted,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }

    /// The state named `s`, if any.
    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Done, failed, cancelled or interrupted: nothing runs.
    pub fn is_finished(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: i64,
    pub state: JobState,
    /// The job spec as submitted (an `aj_jobs::JobSpec` in JSON).
    pub spec: Value,
    /// RFC 3339 times, UTC.
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The engine's summary, once the job ended.
    pub summary: Option<Value>,
    /// Why the job failed as a whole (not per file: see its log).
    pub error: Option<String>,
}

/// One engine event of a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub seq: i64,
    pub time: String,
    pub event: Value,
}

/// One event of the server's feed (`GET /events`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedEvent {
    pub id: i64,
    pub kind: String,
    pub data: Value,
}

/// The SQLite store. Calls are short and serialised by one connection.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    /// The jobs found running when the store was opened, now interrupted.
    recovered: Vec<i64>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    summary TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS events (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    time TEXT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS feed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_dirs (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    path BLOB NOT NULL,
    PRIMARY KEY (job_id, path)
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// The schema's version, kept in SQLite's `user_version`. 0: stores made
/// before versions were counted (settings values were free text);
/// 1: settings values are JSON.
const SCHEMA_VERSION: i64 = 1;

/// Brings a store of an older version to [`SCHEMA_VERSION`], in one
/// transaction. A newer store is left as it is (its extra tables and
/// columns are not ours to change).
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    if version < 1 {
        // Settings values become JSON: text that is not JSON is kept as a
        // JSON string.
        let rows: Vec<(String, String)> = {
            let mut stmt = tx.prepare("SELECT key, value FROM settings")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (key, value) in rows {
            if serde_json::from_str::<Value>(&value).is_err() {
                tx.execute(
                    "UPDATE settings SET value = ?2 WHERE key = ?1",
                    params![key, Value::String(value).to_string()],
                )?;
            }
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// A path's bytes, as stored (names need not be UTF-8).
fn path_bytes(p: &std::path::Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        p.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        p.to_string_lossy().into_owned().into_bytes()
    }
}

fn bytes_path(b: Vec<u8>) -> std::path::PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        std::path::PathBuf::from(std::ffi::OsString::from_vec(b))
    }
    #[cfg(not(unix))]
    {
        std::path::PathBuf::from(String::from_utf8_lossy(&b).into_owned())
    }
}

/// SQLite's current time as RFC 3339 with milliseconds, UTC.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

impl Store {
    /// Opens (or creates) the store at `path` and recovers from a crash:
    /// running jobs become interrupted.
    ///
    /// # Errors
    /// When the file cannot be opened or is not a store.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn)
    }

    /// A store in memory (tests).
    ///
    /// # Errors
    /// When SQLite cannot start.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Store, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        migrate(&mut conn)?;
        let recovered: Vec<i64> = {
            let mut stmt =
                conn.prepare("SELECT id FROM jobs WHERE state = 'running' ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        conn.execute(
            &format!("UPDATE jobs SET state = 'interrupted', finished_at = {NOW} WHERE state = 'running'"),
            [],
        )?;
        Ok(Store {
            conn: Mutex::new(conn),
            recovered,
        })
    }

    /// The jobs that were running when the store was opened (cut off by a
    /// crash or kill -9), which opening made interrupted.
    pub fn recovered(&self) -> &[i64] {
        &self.recovered
    }

    /// Notes folders job `job` is about to create (they did not exist when
    /// it started), so that after a crash the empty ones can be removed.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn add_job_dirs(&self, job: i64, dirs: &[std::path::PathBuf]) -> Result<(), StoreError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        for d in dirs {
            tx.execute(
                "INSERT OR IGNORE INTO job_dirs (job_id, path) VALUES (?1, ?2)",
                params![job, path_bytes(d)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The folders noted by [`Store::add_job_dirs`] for `job`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn job_dirs(&self, job: i64) -> Result<Vec<std::path::PathBuf>, StoreError> {
        let c = self.conn();
        let mut stmt = c.prepare("SELECT path FROM job_dirs WHERE job_id = ?1")?;
        let rows = stmt.query_map(params![job], |r| r.get::<_, Vec<u8>>(0))?;
        let bytes: Vec<Vec<u8>> = rows.collect::<Result<_, _>>()?;
        Ok(bytes.into_iter().map(bytes_path).collect())
    }

    /// Forgets the folders noted for `job` (it ended, and its engine removed
    /// the empty ones it made).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn clear_job_dirs(&self, job: i64) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM job_dirs WHERE job_id = ?1", params![job])?;
        Ok(())
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a queued job.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn insert_job(&self, spec: &Value) -> Result<Job, StoreError> {
        let id = {
            let c = self.conn();
            c.execute(
                &format!("INSERT INTO jobs (spec, state, created_at) VALUES (?1, 'queued', {NOW})"),
                params![spec.to_string()],
            )?;
            c.last_insert_rowid()
        };
        self.job(id)?
            .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The job `id`, if it exists.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, state, spec, created_at, started_at, finished_at, summary, error FROM jobs WHERE id = ?1",
                params![id],
                row_to_job,
            )
            .optional()?)
    }

    /// Every job (in `state`, when given), oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn jobs(&self, state: Option<JobState>) -> Result<Vec<Job>, StoreError> {
        let c = self.conn();
        let mut stmt = c.prepare(
            "SELECT id, state, spec, created_at, started_at, finished_at, summary, error FROM jobs
             WHERE ?1 IS NULL OR state = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![state.map(JobState::as_str)], row_to_job)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A page of jobs (in `state`, when given), oldest first: the newest
    /// `limit` (all when `None`) of those older than job `before` (all when
    /// `None`); and whether older ones are left.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn jobs_page(
        &self,
        state: Option<JobState>,
        before: Option<i64>,
        limit: Option<usize>,
    ) -> Result<(Vec<Job>, bool), StoreError> {
        let c = self.conn();
        let mut stmt = c.prepare(
            "SELECT id, state, spec, created_at, started_at, finished_at, summary, error FROM jobs
             WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR id < ?2)
             ORDER BY id DESC LIMIT ?3",
        )?;
        // One more than asked: tells whether older jobs are left. SQLite
        // takes a negative LIMIT as none.
        let take = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX - 1) + 1);
        let rows = stmt.query_map(
            params![state.map(JobState::as_str), before, take],
            row_to_job,
        )?;
        let mut jobs: Vec<Job> = rows.collect::<Result<_, _>>()?;
        let more = limit.is_some_and(|l| jobs.len() > l);
        if let Some(l) = limit {
            jobs.truncate(l);
        }
        jobs.reverse();
        Ok((jobs, more))
    }

    /// Moves a job to `state`. Entering `queued` clears the previous run's
    /// times and results; entering `running` sets `started_at`; a finished
    /// state sets `finished_at`, `summary` and `error`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_state(
        &self,
        id: i64,
        state: JobState,
        summary: Option<&Value>,
        error: Option<&str>,
    ) -> Result<Option<Job>, StoreError> {
        let summary = summary.map(Value::to_string);
        {
            let c = self.conn();
            match state {
                JobState::Queued => c.execute(
                    "UPDATE jobs SET state = 'queued', started_at = NULL, finished_at = NULL,
                     summary = NULL, error = NULL WHERE id = ?1",
                    params![id],
                )?,
                JobState::Running => c.execute(
                    &format!("UPDATE jobs SET state = 'running', started_at = {NOW} WHERE id = ?1"),
                    params![id],
                )?,
                _ => c.execute(
                    &format!(
                        "UPDATE jobs SET state = ?2, finished_at = {NOW}, summary = ?3, error = ?4 WHERE id = ?1"
                    ),
                    params![id, state.as_str(), summary, error],
                )?,
            };
        }
        self.job(id)
    }

    /// Removes a job and its events. True when it existed.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn delete_job(&self, id: i64) -> Result<bool, StoreError> {
        let c = self.conn();
        c.execute("DELETE FROM events WHERE job_id = ?1", params![id])?;
        c.execute("DELETE FROM job_dirs WHERE job_id = ?1", params![id])?;
        Ok(c.execute("DELETE FROM jobs WHERE id = ?1", params![id])? > 0)
    }

    /// Appends an engine event to a job's log.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn add_event(&self, job: i64, seq: i64, event: &Value) -> Result<(), StoreError> {
        self.conn().execute(
            &format!("INSERT OR REPLACE INTO events (job_id, seq, time, event) VALUES (?1, ?2, {NOW}, ?3)"),
            params![job, seq, event.to_string()],
        )?;
        Ok(())
    }

    /// The highest event number of a job (0 when none).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn last_seq(&self, job: i64) -> Result<i64, StoreError> {
        Ok(self.conn().query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE job_id = ?1",
            params![job],
            |r| r.get(0),
        )?)
    }

    /// A job's log, in order.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn log(&self, job: i64) -> Result<Vec<LogEntry>, StoreError> {
        let c = self.conn();
        let mut stmt =
            c.prepare("SELECT seq, time, event FROM events WHERE job_id = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![job], |r| {
            let text: String = r.get(2)?;
            Ok(LogEntry {
                seq: r.get(0)?,
                time: r.get(1)?,
                event: parse_json(text),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A job's log entries after number `after`, in order.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn log_after(&self, job: i64, after: i64) -> Result<Vec<LogEntry>, StoreError> {
        let c = self.conn();
        let mut stmt = c.prepare(
            "SELECT seq, time, event FROM events WHERE job_id = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![job, after], |r| {
            let text: String = r.get(2)?;
            Ok(LogEntry {
                seq: r.get(0)?,
                time: r.get(1)?,
                event: parse_json(text),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Appends to the event feed; returns the event's id.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn add_feed(&self, kind: &str, data: &Value) -> Result<i64, StoreError> {
        let c = self.conn();
        c.execute(
            "INSERT INTO feed (kind, data) VALUES (?1, ?2)",
            params![kind, data.to_string()],
        )?;
        let id = c.last_insert_rowid();
        if id % 1000 == 0 {
            c.execute("DELETE FROM feed WHERE id <= ?1", params![id - FEED_KEEP])?;
        }
        Ok(id)
    }

    /// Feed events after `after`, in order (at most the last [`FEED_KEEP`]).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn feed_since(&self, after: i64) -> Result<Vec<FeedEvent>, StoreError> {
        let c = self.conn();
        let mut stmt = c.prepare("SELECT id, kind, data FROM feed WHERE id > ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![after], |r| {
            let text: String = r.get(2)?;
            Ok(FeedEvent {
                id: r.get(0)?,
                kind: r.get(1)?,
                data: parse_json(text),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A setting, if set.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets a setting.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

impl Store {
    /// Every setting, `(key, value text)`, by key.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn settings(&self) -> Result<Vec<(String, String)>, StoreError> {
        let c = self.conn();
        let mut stmt = c.prepare("SELECT key, value FROM settings ORDER BY key")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a setting. True when it was set.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn delete_setting(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM settings WHERE key = ?1", params![key])?
            > 0)
    }
}

/// Stored JSON is ours; should a row be damaged, its text is kept as a string
/// rather than losing the row.
fn parse_json(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn row_to_job(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let state: String = r.get(1)?;
    let spec: String = r.get(2)?;
    let summary: Option<String> = r.get(6)?;
    Ok(Job {
        id: r.get(0)?,
        // An unknown state can only come from a newer version: show it as
        // interrupted, which can be retried.
        state: JobState::parse(&state).unwrap_or(JobState::Interrupted),
        spec: parse_json(spec),
        created_at: r.get(3)?,
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        summary: summary.map(parse_json),
        error: r.get(7)?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_states() {
        let s = Store::open_in_memory().unwrap();
        let j = s
            .insert_job(&serde_json::json!({"kind": "convert"}))
            .unwrap();
        assert_eq!(j.state, JobState::Queued);
        assert!(j.created_at.ends_with('Z'), "{}", j.created_at);
        let j = s
            .set_state(j.id, JobState::Running, None, None)
            .unwrap()
            .unwrap();
        assert!(j.started_at.is_some());
        let summary = serde_json::json!({"ok": 1});
        let j = s
            .set_state(j.id, JobState::Done, Some(&summary), None)
            .unwrap()
            .unwrap();
        assert_eq!(j.summary, Some(summary));
        assert!(j.finished_at.is_some());
        assert_eq!(s.jobs(Some(JobState::Done)).unwrap().len(), 1);
        assert!(s.jobs(Some(JobState::Queued)).unwrap().is_empty());
        let j = s
            .set_state(j.id, JobState::Queued, None, None)
            .unwrap()
            .unwrap();
        assert_eq!((j.started_at, j.summary), (None, None));
    }

    #[test]
    fn events_and_feed() {
        let s = Store::open_in_memory().unwrap();
        let j = s.insert_job(&serde_json::json!({})).unwrap();
        assert_eq!(s.last_seq(j.id).unwrap(), 0);
        s.add_event(j.id, 1, &serde_json::json!({"event": "job_started"}))
            .unwrap();
        s.add_event(j.id, 2, &serde_json::json!({"event": "summary"}))
            .unwrap();
        assert_eq!(s.last_seq(j.id).unwrap(), 2);
        let log = s.log(j.id).unwrap();
        assert_eq!(log[1].event["event"], "summary");
        let a = s
            .add_feed("job.created", &serde_json::json!({"id": 1}))
            .unwrap();
        let b = s
            .add_feed("job.state", &serde_json::json!({"id": 1}))
            .unwrap();
        assert!(b > a);
        let since: Vec<i64> = s.feed_since(a).unwrap().iter().map(|e| e.id).collect();
        assert_eq!(since, [b]);
        assert!(s.delete_job(j.id).unwrap());
        assert!(s.log(j.id).unwrap().is_empty());
        assert!(!s.delete_job(j.id).unwrap());
    }

    #[test]
    fn reopening_interrupts_running_jobs() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("aj.sqlite");
        let (running, done) = {
            let s = Store::open(&path).unwrap();
            let a = s.insert_job(&serde_json::json!({})).unwrap();
            let b = s.insert_job(&serde_json::json!({})).unwrap();
            s.set_state(a.id, JobState::Running, None, None).unwrap();
            s.set_state(b.id, JobState::Done, None, None).unwrap();
            s.set_setting("k", "v").unwrap();
            (a.id, b.id)
        };
        let s = Store::open(&path).unwrap();
        assert_eq!(
            s.job(running).unwrap().unwrap().state,
            JobState::Interrupted
        );
        assert_eq!(s.job(done).unwrap().unwrap().state, JobState::Done);
        assert_eq!(s.setting("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn settings_set_list_delete() {
        let s = Store::open_in_memory().unwrap();
        s.set_setting("b", "2").unwrap();
        s.set_setting("a", "1").unwrap();
        s.set_setting("a", "3").unwrap();
        assert_eq!(
            s.settings().unwrap(),
            [("a".to_string(), "3".to_string()), ("b".into(), "2".into())]
        );
        assert!(s.delete_setting("a").unwrap());
        assert!(!s.delete_setting("a").unwrap());
        assert_eq!(s.setting("a").unwrap(), None);
    }

    #[test]
    fn log_pages() {
        let s = Store::open_in_memory().unwrap();
        let j = s.insert_job(&serde_json::json!({})).unwrap();
        for n in 1..=3 {
            s.add_event(j.id, n, &serde_json::json!({"n": n})).unwrap();
        }
        let seqs: Vec<i64> = s
            .log_after(j.id, 1)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [2, 3]);
        assert!(s.log_after(j.id, 3).unwrap().is_empty());
    }

    /// A store made before schema versions (no user_version, settings as
    /// free text, no settings table at all in the oldest) opens, keeps its
    /// jobs, and its settings become JSON.
    #[test]
    fn older_stores_are_migrated() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("aj.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL,
                   state TEXT NOT NULL, created_at TEXT NOT NULL, started_at TEXT,
                   finished_at TEXT, summary TEXT, error TEXT);
                 INSERT INTO jobs (spec, state, created_at) VALUES ('{}', 'done', '2026-01-01T00:00:00.000Z');
                 CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO settings VALUES ('plain', 'free text'), ('json', '{\"a\": 1}');",
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.jobs(None).unwrap().len(), 1);
        assert_eq!(
            s.setting("plain").unwrap().as_deref(),
            Some("\"free text\"")
        );
        assert_eq!(s.setting("json").unwrap().as_deref(), Some("{\"a\": 1}"));
        drop(s);
        let c = Connection::open(&path).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        drop(c);
        // Opening again changes nothing.
        let s = Store::open(&path).unwrap();
        assert_eq!(
            s.setting("plain").unwrap().as_deref(),
            Some("\"free text\"")
        );
        // The oldest: no settings table.
        let path = t.path().join("old.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, summary TEXT, error TEXT);")
            .unwrap();
        let s = Store::open(&path).unwrap();
        s.set_setting("k", "1").unwrap();
        assert_eq!(s.settings().unwrap().len(), 1);
    }
}
