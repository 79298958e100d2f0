//! The library roots: the only folders the daemon reads from or writes to.
//!
//! A path in a request is taken relative to a root (or absolute, inside one),
//! must not contain `..`, and must still lie inside a root once symbolic
//! links are resolved. Anything else is refused with 403.

use std::path::{Component, Path, PathBuf};

use aj_core::CancelToken;
use aj_jobs::{ConvertSpec, JobSpec};

use crate::error::ApiError;

/// The configured roots, canonical.
#[derive(Debug, Clone, Default)]
pub struct Library {
    roots: Vec<PathBuf>,
}

impl Library {
    /// Checks and canonicalises the roots.
    ///
    /// # Errors
    /// A root that does not exist or is not a folder, named.
    pub fn new(roots: &[PathBuf]) -> Result<Library, String> {
        let mut canonical = Vec::new();
        for r in roots {
            let c = r
                .canonicalize()
                .map_err(|e| format!("library folder {}: {e}", r.display()))?;
            if !c.is_dir() {
                return Err(format!("library folder {}: not a folder", r.display()));
            }
            if !canonical.contains(&c) {
                canonical.push(c);
            }
        }
        Ok(Library { roots: canonical })
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// True when `canonical` (already resolved) lies in a root.
    pub fn contains(&self, canonical: &Path) -> bool {
        self.roots.iter().any(|r| canonical.starts_with(r))
    }

    /// Resolves a path from a request to a canonical path inside a root. The
    /// path need not exist yet (an output folder), but the part of it that
    /// exists is resolved through its links.
    ///
    /// # Errors
    /// 403 for `..`, for anything outside the roots, and when no root is
    /// configured.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, ApiError> {
        let refuse = |why: &str| {
            eprintln!("aj serve: refused path {}: {why}", path.display());
            ApiError::forbidden(format!("{}: {why}", path.display()))
        };
        let Some(first) = self.roots.first() else {
            return Err(refuse(
                "no library folder is configured (start aj serve with --library DIR)",
            ));
        };
        if path.as_os_str().is_empty() {
            return Err(refuse("empty path"));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(refuse("'..' is not allowed in paths"));
        }
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.roots
                .iter()
                .map(|r| r.join(path))
                .find(|p| p.symlink_metadata().is_ok())
                .unwrap_or_else(|| first.join(path))
        };
        // The longest part that exists, resolved; the rest appended (it holds
        // no `..`, so it cannot climb back out).
        let mut existing = full.as_path();
        let mut rest = Vec::new();
        while existing.symlink_metadata().is_err() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => return Err(refuse("outside the library folders")),
            }
        }
        let mut resolved = existing
            .canonicalize()
            .map_err(|e| refuse(&format!("cannot resolve ({e})")))?;
        for name in rest.iter().rev() {
            resolved.push(name);
        }
        if self.contains(&resolved) {
            Ok(resolved)
        } else {
            Err(refuse("outside the library folders"))
        }
    }

    /// A job spec with every path resolved inside the roots, and checked
    /// again after planning (a folder input may hold links that lead out).
    ///
    /// Reads the file system: call it off the async runtime.
    ///
    /// # Errors
    /// 403 as [`Library::resolve`]; 400 for a spec with no inputs.
    pub fn confine(&self, spec: JobSpec) -> Result<JobSpec, ApiError> {
        match spec {
            JobSpec::Convert(c) => self.confine_convert(c).map(JobSpec::Convert),
        }
    }

    fn confine_convert(&self, mut spec: ConvertSpec) -> Result<ConvertSpec, ApiError> {
        if spec.inputs.is_empty() {
            return Err(ApiError::bad_request(
                "a convert job needs at least one input",
            ));
        }
        spec.inputs = spec
            .inputs
            .iter()
            .map(|p| self.resolve(p))
            .collect::<Result<_, _>>()?;
        spec.output_dir = spec
            .output_dir
            .as_deref()
            .map(|p| self.resolve(p))
            .transpose()?;
        for item in aj_jobs::convert::plan(&spec, &CancelToken::new()) {
            self.resolve(&item.input)?;
            if let Some(out) = item.output() {
                self.resolve(out)?;
            }
        }
        Ok(spec)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lib() -> (tempfile::TempDir, Library) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("music");
        std::fs::create_dir_all(root.join("album")).unwrap();
        std::fs::write(root.join("album/a.wav"), b"x").unwrap();
        std::fs::write(t.path().join("secret.wav"), b"x").unwrap();
        std::os::unix::fs::symlink(t.path().join("secret.wav"), root.join("link.wav")).unwrap();
        std::os::unix::fs::symlink(t.path(), root.join("up")).unwrap();
        let l = Library::new(&[root]).unwrap();
        (t, l)
    }

    #[test]
    fn inside_paths_resolve() {
        let (t, l) = lib();
        let root = t.path().join("music").canonicalize().unwrap();
        assert_eq!(
            l.resolve(Path::new("album/a.wav")).unwrap(),
            root.join("album/a.wav")
        );
        assert_eq!(l.resolve(&root.join("album")).unwrap(), root.join("album"));
        assert_eq!(
            l.resolve(Path::new("new/folder")).unwrap(),
            root.join("new/folder"),
            "outputs need not exist yet"
        );
    }

    #[test]
    fn ways_out_are_refused() {
        let (t, l) = lib();
        for p in [
            PathBuf::from("../secret.wav"),
            PathBuf::from("album/../../secret.wav"),
            t.path().join("secret.wav"),
            PathBuf::from("/etc/passwd"),
            PathBuf::from("link.wav"),
            PathBuf::from("up/secret.wav"),
            PathBuf::from("up/new-folder"),
            PathBuf::from(""),
        ] {
            let e = l.resolve(&p).unwrap_err();
            assert_eq!(
                e.status,
                axum::http::StatusCode::FORBIDDEN,
                "{}",
                p.display()
            );
        }
    }

    #[test]
    fn no_roots_refuses_everything() {
        let l = Library::new(&[]).unwrap();
        let e = l.resolve(Path::new("a.wav")).unwrap_err();
        assert!(e.message.contains("--library"), "{}", e.message);
    }
}
