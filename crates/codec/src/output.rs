//! Atomic output files.
//!
//! An output is written to a hidden temporary file beside its target
//! (`.NAME.XXXXXX.aj-tmp`), then fsynced and renamed over the target in one
//! step, and the folder is fsynced. Until [`PendingOutput::commit`] succeeds
//! nothing exists at the target path; dropping a `PendingOutput` (an error, a
//! cancel) removes the temporary file.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::Error;

/// Temporary files of this process not yet committed or dropped, so that a
/// process about to exit at once (a second Ctrl-C) can remove them.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes every temporary output of this process that is still being
/// written. For a process that must exit without unwinding; the outputs'
/// writers fail afterwards.
pub fn remove_all_pending() {
    for path in pending().drain(..) {
        let _ = std::fs::remove_file(path);
    }
}

/// A file being written, not yet visible at its final path.
#[derive(Debug)]
pub struct PendingOutput {
    target: PathBuf,
    temp: tempfile::NamedTempFile,
    overwrite: bool,
    _registered: Registered,
}

impl PendingOutput {
    /// Creates the temporary file beside `target`.
    ///
    /// # Errors
    /// [`Error::Exists`] when `target` exists and `overwrite` is false;
    /// [`Error::Io`] when the folder is missing or not writable.
    pub fn create(target: &Path, overwrite: bool) -> Result<Self, Error> {
        if !overwrite && target.symlink_metadata().is_ok() {
            return Err(Error::Exists(target.to_path_buf()));
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".aj-tmp");
        #[cfg(unix)]
        {
            // An output is an ordinary file: 0666 less the umask, not 0600.
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder.tempfile_in(dir).map_err(|e| {
            // The error's own text names the random temporary name, which
            // means nothing to the user: name the folder instead.
            Error::Io(io::Error::new(
                e.kind(),
                format!("cannot write in {}: {}", dir.display(), e.kind()),
            ))
        })?;
        Ok(PendingOutput {
            target: target.to_path_buf(),
            _registered: Registered::new(temp.path()),
            temp,
            overwrite,
        })
    }

    /// A second handle on the temporary file, for an encoder to write through.
    ///
    /// # Errors
    /// [`Error::Io`] when the handle cannot be duplicated.
    pub fn file(&self) -> Result<File, Error> {
        Ok(self.temp.as_file().try_clone()?)
    }

    /// Where the temporary file is (for tag writers and verification).
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Where the output will be once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes the file to disk and renames it to the target.
    ///
    /// # Errors
    /// [`Error::Exists`] when the target appeared meanwhile and overwriting was
    /// not asked; [`Error::Io`] when syncing or renaming fails. On error the
    /// temporary file is removed.
    pub fn commit(self) -> Result<(), Error> {
        self.temp.as_file().sync_all()?;
        let target = self.target;
        if self.overwrite {
            self.temp.persist(&target).map_err(|e| Error::Io(e.error))?;
        } else {
            self.temp.persist_noclobber(&target).map_err(|e| {
                if e.error.kind() == io::ErrorKind::AlreadyExists {
                    Error::Exists(target.clone())
                } else {
                    Error::Io(e.error)
                }
            })?;
        }
        if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the rename itself durable; not all filesystems allow this.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl PendingOutput {
    /// Flushes the file to disk and renames it to the target or, when a file
    /// is there (from before or appearing meanwhile), to the first free
    /// `STEM (n).EXT` beside it. Each name is claimed with a rename that
    /// never replaces a file, so nothing is ever overwritten, whatever
    /// `overwrite` said at [`PendingOutput::create`]. Returns the path used.
    ///
    /// # Errors
    /// [`Error::Io`] when syncing or renaming fails, or when no free name is
    /// left below [`MAX_NUMBERED`]. On error the temporary file is removed.
    pub fn commit_numbered(self) -> Result<PathBuf, Error> {
        self.temp.as_file().sync_all()?;
        let mut temp = self.temp;
        for n in 0..=MAX_NUMBERED {
            let target = if n == 0 {
                self.target.clone()
            } else {
                numbered(&self.target, n)
            };
            match temp.persist_noclobber(&target) {
                Ok(_) => {
                    if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                        if let Ok(d) = File::open(dir) {
                            let _ = d.sync_all();
                        }
                    }
                    return Ok(target);
                }
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => temp = e.file,
                Err(e) => return Err(Error::Io(e.error)),
            }
        }
        Err(Error::Io(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} and its numbered names up to ({MAX_NUMBERED}) all exist",
                self.target.display()
            ),
        )))
    }
}

/// The highest `n` [`PendingOutput::commit_numbered`] tries.
pub const MAX_NUMBERED: u32 = 9999;

/// `dir/STEM (n).EXT` for `dir/STEM.EXT` (`dir/NAME (n)` without extension).
pub fn numbered(target: &Path, n: u32) -> PathBuf {
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match target.extension() {
        Some(ext) => format!("{stem} ({n}).{}", ext.to_string_lossy()),
        None => format!("{stem} ({n})"),
    };
    target.with_file_name(name)
}

/// Keeps a temporary file's path in [`PENDING`] while it lives.
#[derive(Debug)]
struct Registered(PathBuf);

impl Registered {
    fn new(path: &Path) -> Self {
        pending().push(path.to_path_buf());
        Registered(path.to_path_buf())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        pending().retain(|p| p != &self.0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    #[test]
    fn nothing_at_target_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.flac");
        let p = PendingOutput::create(&target, false).unwrap();
        p.file().unwrap().write_all(b"data").unwrap();
        assert!(!target.exists());
        let temp = p.temp_path().to_path_buf();
        assert!(temp
            .file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with(".aj-tmp"));
        p.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"data");
        assert!(!temp.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&target).unwrap().permissions().mode();
            assert_eq!(mode & 0o600, 0o600);
            assert_ne!(
                mode & 0o066,
                0,
                "made like any other file, not private: {mode:o}"
            );
        }
    }

    #[test]
    fn dropped_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.wav");
        let p = PendingOutput::create(&target, false).unwrap();
        p.file().unwrap().write_all(b"partial").unwrap();
        drop(p);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn existing_target_is_kept_unless_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.wav");
        std::fs::write(&target, b"old").unwrap();
        assert!(matches!(
            PendingOutput::create(&target, false),
            Err(Error::Exists(_))
        ));
        let p = PendingOutput::create(&target, true).unwrap();
        p.file().unwrap().write_all(b"new").unwrap();
        p.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");

        // The target appearing while we wrote is not clobbered either.
        let t2 = dir.path().join("race.wav");
        let p = PendingOutput::create(&t2, false).unwrap();
        std::fs::write(&t2, b"theirs").unwrap();
        assert!(matches!(p.commit(), Err(Error::Exists(_))));
        assert_eq!(std::fs::read(&t2).unwrap(), b"theirs");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    // `remove_all_pending` itself would remove the temporary files of the
    // other tests running in this process; the CLI test of a second Ctrl-C
    // covers it. Here: the registry holds exactly the files still pending.
    #[test]
    fn pending_outputs_are_registered_until_committed_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = PendingOutput::create(&dir.path().join("a.wav"), false).unwrap();
        let b = PendingOutput::create(&dir.path().join("b.wav"), false).unwrap();
        let (ta, tb) = (a.temp_path().to_path_buf(), b.temp_path().to_path_buf());
        assert!(pending().contains(&ta) && pending().contains(&tb));
        a.commit().unwrap();
        assert!(!pending().contains(&ta) && pending().contains(&tb));
        drop(b);
        assert!(!pending().contains(&tb));
    }

    #[test]
    fn numbered_commit_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("song.flac");
        std::fs::write(&target, b"old").unwrap();
        std::fs::write(dir.path().join("song (1).flac"), b"old1").unwrap();
        let p = PendingOutput::create(&target, true).unwrap();
        p.file().unwrap().write_all(b"new").unwrap();
        // Appears while the output is written: skipped too.
        std::fs::write(dir.path().join("song (2).flac"), b"theirs").unwrap();
        let got = p.commit_numbered().unwrap();
        assert_eq!(got, dir.path().join("song (3).flac"));
        assert_eq!(std::fs::read(&got).unwrap(), b"new");
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
        let free = dir.path().join("free.wav");
        let p = PendingOutput::create(&free, false).unwrap();
        assert_eq!(p.commit_numbered().unwrap(), free);
        assert_eq!(numbered(Path::new("a/b"), 2), Path::new("a/b (2)"));
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = PendingOutput::create(&dir.path().join("no/such/out.wav"), false).unwrap_err();
        assert!(e.to_string().contains("cannot write in"), "{e}");
    }
}
