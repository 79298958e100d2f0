//! The mirror's memory: `DST/.aj-sync.sqlite`.
//!
//! SQLite in its default rollback-journal mode (not WAL): WAL needs shared
//! memory between the processes that open the file, which network file
//! systems do not give, and a mirror on a share must be usable from another
//! machine. Every finished item is its own transaction, committed right
//! after its output was renamed into place, so an interrupted sync resumes
//! where it stopped.
//!
//! Paths are stored relative (to the source folder and to the mirror),
//! `/`-separated, so the state stays valid when both folders move or are
//! reached from another machine under other names.
//!
//! Layouts: 1 kept one row per source file. 2 (this one) keys rows by
//! source and track, so that an image split by its cue sheet has one row
//! per track, and records the other files of such a unit (`parts`). A
//! layout-1 state is migrated when the mirror is next written; read only (a
//! dry run), it is read as it is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

/// The state file's name, in the mirror's top folder.
pub const STATE_FILE: &str = ".aj-sync.sqlite";

/// The layout of the state written by this version. A state written by a
/// later version (a higher number) is refused rather than misread.
pub const SCHEMA_VERSION: i64 = 2;

/// `track` of a row for a whole file (not a track of a split image).
const WHOLE_FILE: i64 = -1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    source          TEXT NOT NULL,
    track           INTEGER NOT NULL DEFAULT -1,
    parts           TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,
    source_size     INTEGER NOT NULL,
    source_mtime_ns INTEGER NOT NULL,
    audio_digest    TEXT,
    tags_digest     TEXT,
    output          TEXT NOT NULL,
    output_size     INTEGER NOT NULL,
    output_mtime_ns INTEGER NOT NULL,
    output_sha256   TEXT NOT NULL,
    settings        TEXT NOT NULL,
    plan            TEXT NOT NULL,
    synced_at       INTEGER NOT NULL,
    PRIMARY KEY (source, track)
);
";

/// Layout 1 → 2: the table is rebuilt with the new key (SQLite cannot
/// change a primary key in place); every old row is a whole file.
const MIGRATE_1_TO_2: &str = "
BEGIN IMMEDIATE;
ALTER TABLE files RENAME TO files_v1;
CREATE TABLE files (
    source          TEXT NOT NULL,
    track           INTEGER NOT NULL DEFAULT -1,
    parts           TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,
    source_size     INTEGER NOT NULL,
    source_mtime_ns INTEGER NOT NULL,
    audio_digest    TEXT,
    tags_digest     TEXT,
    output          TEXT NOT NULL,
    output_size     INTEGER NOT NULL,
    output_mtime_ns INTEGER NOT NULL,
    output_sha256   TEXT NOT NULL,
    settings        TEXT NOT NULL,
    plan            TEXT NOT NULL,
    synced_at       INTEGER NOT NULL,
    PRIMARY KEY (source, track)
);
INSERT INTO files (source, track, parts, kind, source_size, source_mtime_ns, audio_digest,
                   tags_digest, output, output_size, output_mtime_ns, output_sha256,
                   settings, plan, synced_at)
    SELECT source, -1, '', kind, source_size, source_mtime_ns, audio_digest, tags_digest,
           output, output_size, output_mtime_ns, output_sha256, settings, plan, synced_at
    FROM files_v1;
DROP TABLE files_v1;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
COMMIT;
";

/// What a row is recorded under: the source, and for a track of a split
/// image its number.
pub type RowKey = (String, Option<u8>);

/// Why the state cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("sync state {}: {message}", path.display())]
    Sql { path: PathBuf, message: String },
    #[error(
        "sync state {} was written by a newer version of aj (layout {found}; this one knows up to {known}); update aj to continue this mirror",
        path.display()
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("sync state {} is not a sync state of aj (no layout version in it)", path.display())]
    Foreign { path: PathBuf },
}

/// How a mirror file was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Decoded and encoded into the target format.
    Convert,
    /// Copied as it is.
    Copy,
    /// A hard link to the source.
    Link,
    /// A cover image beside the music, copied.
    Cover,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Convert => "convert",
            Kind::Copy => "copy",
            Kind::Link => "link",
            Kind::Cover => "cover",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "convert" => Kind::Convert,
            "copy" => Kind::Copy,
            "link" => Kind::Link,
            "cover" => Kind::Cover,
            _ => return None,
        })
    }
}

/// One mirrored source file, or one track of a split image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Relative to the source folder, `/`-separated. For a track of a split
    /// image: the cue sheet (or the image whose own sheet it is).
    pub source: String,
    /// The track of a split image; `None` for a whole file.
    pub track: Option<u8>,
    /// A track of an image split by a `.cue`: the image file(s) the sheet
    /// names, as `rel\tsize\tmtime_ns` lines (their identity, beside the
    /// sheet's in `source_size` and `source_mtime_ns`). Empty otherwise.
    pub parts: String,
    pub kind: Kind,
    /// Of `source`.
    pub source_size: u64,
    pub source_mtime_ns: i64,
    /// Converted files: what the audio was ([`super::digest`]).
    pub audio_digest: Option<String>,
    /// Converted files: what the tags were.
    pub tags_digest: Option<String>,
    /// Relative to the mirror, `/`-separated.
    pub output: String,
    pub output_size: u64,
    pub output_mtime_ns: i64,
    /// SHA-256 of the whole mirror file as written.
    pub output_sha256: String,
    /// How the output was made (format, encoder, DSP…): a different value
    /// makes it out of date.
    pub settings: String,
    /// Everything that decides what a source becomes and where: when it
    /// equals the current one and nothing moved, a source is not looked at.
    pub plan: String,
    /// Unix seconds.
    pub synced_at: i64,
}

/// An open state.
pub struct State {
    conn: Option<Connection>,
    path: PathBuf,
    /// The layout of the open file (1 only when opened read-only).
    version: i64,
}

impl State {
    /// Opens (creating it when `create`) the state of the mirror `dir`.
    /// Without `create`, a missing state is an empty one and nothing is
    /// written to disk (a dry run).
    ///
    /// A state of an older layout is migrated when `create` (and read as it
    /// is otherwise).
    ///
    /// # Errors
    /// [`StateError`] for a file SQLite cannot open, one written by a newer
    /// version, or a database that is not a sync state.
    pub fn open(dir: &Path, create: bool) -> Result<State, StateError> {
        let path = dir.join(STATE_FILE);
        let sql = |e: rusqlite::Error| StateError::Sql {
            path: path.clone(),
            message: e.to_string(),
        };
        if !create && !path.exists() {
            return Ok(State {
                conn: None,
                path,
                version: SCHEMA_VERSION,
            });
        }
        let conn = if create {
            Connection::open(&path)
        } else {
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        }
        .map_err(sql)?;
        // A second process (or machine) holding the file waits a little.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        let has_meta: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sql)?
            > 0;
        let mut layout = SCHEMA_VERSION;
        if has_meta {
            let version: Option<String> = conn
                .query_row(
                    "SELECT value FROM meta WHERE key = 'schema_version'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)?;
            let Some(found) = version.and_then(|v| v.parse::<i64>().ok()) else {
                return Err(StateError::Foreign { path });
            };
            if found > SCHEMA_VERSION {
                return Err(StateError::Newer {
                    path,
                    found,
                    known: SCHEMA_VERSION,
                });
            }
            layout = found;
        } else {
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(sql)?;
            if tables > 0 {
                return Err(StateError::Foreign { path });
            }
            if create {
                conn.execute_batch(SCHEMA).map_err(sql)?;
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                    params![SCHEMA_VERSION.to_string()],
                )
                .map_err(sql)?;
            }
        }
        if create {
            if layout < 2 {
                if let Err(e) = conn.execute_batch(MIGRATE_1_TO_2) {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(StateError::Sql {
                        path,
                        message: format!("cannot update it to layout 2: {e}"),
                    });
                }
                layout = 2;
            }
            conn.execute_batch(SCHEMA).map_err(sql)?;
        }
        Ok(State {
            conn: Some(conn),
            path,
            version: layout,
        })
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StateError {
        StateError::Sql {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// A value of the `meta` table.
    ///
    /// # Errors
    /// SQLite's.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        let Some(conn) = &self.conn else {
            return Ok(None);
        };
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a value of the `meta` table (nothing in a dry run).
    ///
    /// # Errors
    /// SQLite's.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StateError> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    /// Every row, by source path and track.
    ///
    /// # Errors
    /// SQLite's, or a row that does not read (a damaged state).
    pub fn rows(&self) -> Result<HashMap<RowKey, Row>, StateError> {
        let Some(conn) = &self.conn else {
            return Ok(HashMap::new());
        };
        let track_parts = if self.version < 2 {
            "-1, ''"
        } else {
            "track, parts"
        };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT source, kind, source_size, source_mtime_ns, audio_digest, tags_digest,
                        output, output_size, output_mtime_ns, output_sha256, settings, plan,
                        synced_at, {track_parts}
                 FROM files"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let kind: String = r.get(1)?;
                let track: i64 = r.get(13)?;
                Ok((
                    kind,
                    track,
                    Row {
                        source: r.get(0)?,
                        track: None,
                        parts: r.get(14)?,
                        kind: Kind::Convert,
                        source_size: r.get::<_, i64>(2)?.max(0) as u64,
                        source_mtime_ns: r.get(3)?,
                        audio_digest: r.get(4)?,
                        tags_digest: r.get(5)?,
                        output: r.get(6)?,
                        output_size: r.get::<_, i64>(7)?.max(0) as u64,
                        output_mtime_ns: r.get(8)?,
                        output_sha256: r.get(9)?,
                        settings: r.get(10)?,
                        plan: r.get(11)?,
                        synced_at: r.get(12)?,
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for r in rows {
            let (kind, track, mut row) = r.map_err(|e| self.err(e))?;
            row.kind = Kind::parse(&kind).ok_or_else(|| StateError::Sql {
                path: self.path.clone(),
                message: format!("unknown kind '{kind}' for {}", row.source),
            })?;
            row.track = if track == WHOLE_FILE {
                None
            } else {
                Some(u8::try_from(track).map_err(|_| StateError::Sql {
                    path: self.path.clone(),
                    message: format!("track number {track} of {} is out of range", row.source),
                })?)
            };
            out.insert((row.source.clone(), row.track), row);
        }
        Ok(out)
    }

    /// Records a mirrored file (its own transaction: durable on return).
    ///
    /// # Errors
    /// SQLite's.
    pub fn put(&self, row: &Row) -> Result<(), StateError> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        conn.execute(
            "INSERT INTO files (source, kind, source_size, source_mtime_ns, audio_digest,
                                tags_digest, output, output_size, output_mtime_ns,
                                output_sha256, settings, plan, synced_at, track, parts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT(source, track) DO UPDATE SET
                parts = excluded.parts, kind = excluded.kind, source_size = excluded.source_size,
                source_mtime_ns = excluded.source_mtime_ns,
                audio_digest = excluded.audio_digest, tags_digest = excluded.tags_digest,
                output = excluded.output, output_size = excluded.output_size,
                output_mtime_ns = excluded.output_mtime_ns,
                output_sha256 = excluded.output_sha256, settings = excluded.settings,
                plan = excluded.plan, synced_at = excluded.synced_at",
            params![
                row.source,
                row.kind.as_str(),
                i64::try_from(row.source_size).unwrap_or(i64::MAX),
                row.source_mtime_ns,
                row.audio_digest,
                row.tags_digest,
                row.output,
                i64::try_from(row.output_size).unwrap_or(i64::MAX),
                row.output_mtime_ns,
                row.output_sha256,
                row.settings,
                row.plan,
                row.synced_at,
                row.track.map_or(WHOLE_FILE, i64::from),
                row.parts,
            ],
        )
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    /// Forgets a source (or one track of it).
    ///
    /// # Errors
    /// SQLite's.
    pub fn remove(&self, source: &str, track: Option<u8>) -> Result<(), StateError> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        conn.execute(
            "DELETE FROM files WHERE source = ?1 AND track = ?2",
            params![source, track.map_or(WHOLE_FILE, i64::from)],
        )
        .map(|_| ())
        .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(source: &str) -> Row {
        Row {
            source: source.into(),
            track: None,
            parts: String::new(),
            kind: Kind::Convert,
            source_size: 10,
            source_mtime_ns: 1_700_000_000_123_456_789,
            audio_digest: Some("flac-md5:00".into()),
            tags_digest: Some("t".into()),
            output: "a/b.mp3".into(),
            output_size: 5,
            output_mtime_ns: 2,
            output_sha256: "s".into(),
            settings: "x".into(),
            plan: "p".into(),
            synced_at: 3,
        }
    }

    #[test]
    fn rows_round_trip_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path(), true).unwrap();
        s.put(&row("a/b.flac")).unwrap();
        let mut r = row("a/b.flac");
        r.kind = Kind::Link;
        r.audio_digest = None;
        s.put(&r).unwrap();
        s.put(&row("c.wav")).unwrap();
        s.remove("c.wav", None).unwrap();
        // Tracks of a split image: one row each, beside the whole file's.
        let mut t1 = row("a/b.flac");
        t1.track = Some(1);
        t1.parts = "a/b.wav\t10\t20\n".into();
        let mut t2 = t1.clone();
        t2.track = Some(2);
        s.put(&t1).unwrap();
        s.put(&t2).unwrap();
        s.remove("a/b.flac", Some(2)).unwrap();
        s.set_meta("settings", "{}").unwrap();
        drop(s);
        let s = State::open(dir.path(), false).unwrap();
        let rows = s.rows().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[&("a/b.flac".to_string(), None)], r);
        assert_eq!(rows[&("a/b.flac".to_string(), Some(1))], t1);
        assert_eq!(s.meta("settings").unwrap().as_deref(), Some("{}"));
    }

    /// A state written by a version with layout 1 (one row per source).
    fn layout_1(dir: &Path) {
        let c = Connection::open(dir.join(STATE_FILE)).unwrap();
        c.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE files (
                source TEXT PRIMARY KEY, kind TEXT NOT NULL, source_size INTEGER NOT NULL,
                source_mtime_ns INTEGER NOT NULL, audio_digest TEXT, tags_digest TEXT,
                output TEXT NOT NULL, output_size INTEGER NOT NULL,
                output_mtime_ns INTEGER NOT NULL, output_sha256 TEXT NOT NULL,
                settings TEXT NOT NULL, plan TEXT NOT NULL, synced_at INTEGER NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '1');
             INSERT INTO meta VALUES ('settings', 'old');
             INSERT INTO files VALUES ('a/b.flac', 'convert', 10, 1700000000123456789,
                'flac-md5:00', 't', 'a/b.mp3', 5, 2, 's', 'x', 'p', 3);",
        )
        .unwrap();
    }

    #[test]
    fn a_layout_1_state_is_read_as_it_is_and_migrated_when_written() {
        let dir = tempfile::tempdir().unwrap();
        layout_1(dir.path());
        let before = std::fs::read(dir.path().join(STATE_FILE)).unwrap();
        let key = ("a/b.flac".to_string(), None);

        // Read only (a dry run): read as it is, left as it is.
        let s = State::open(dir.path(), false).unwrap();
        assert_eq!(s.rows().unwrap()[&key], row("a/b.flac"));
        drop(s);
        assert_eq!(std::fs::read(dir.path().join(STATE_FILE)).unwrap(), before);

        let s = State::open(dir.path(), true).unwrap();
        assert_eq!(s.meta("schema_version").unwrap().as_deref(), Some("2"));
        assert_eq!(s.meta("settings").unwrap().as_deref(), Some("old"));
        let rows = s.rows().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[&key], row("a/b.flac"));
        let mut t = row("a/b.flac");
        t.track = Some(3);
        s.put(&t).unwrap();
        assert_eq!(s.rows().unwrap().len(), 2);
        drop(s);
        // Opened again: layout 2 as written, nothing migrated twice.
        let s = State::open(dir.path(), true).unwrap();
        assert_eq!(s.rows().unwrap().len(), 2);
    }

    #[test]
    fn a_dry_run_creates_nothing_and_newer_or_foreign_states_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path(), false).unwrap();
        assert!(s.rows().unwrap().is_empty());
        s.put(&row("x")).unwrap();
        assert!(!dir.path().join(STATE_FILE).exists());

        let s = State::open(dir.path(), true).unwrap();
        s.set_meta("schema_version", "99").unwrap();
        drop(s);
        let e = State::open(dir.path(), true).err().unwrap();
        assert!(e.to_string().contains("newer version"), "{e}");

        let other = tempfile::tempdir().unwrap();
        let c = Connection::open(other.path().join(STATE_FILE)).unwrap();
        c.execute_batch("CREATE TABLE t (x)").unwrap();
        drop(c);
        let e = State::open(other.path(), true).err().unwrap();
        assert!(e.to_string().contains("not a sync state"), "{e}");
    }
}
