//! The library roots: the only folders the daemon reads from or writes to.
//!
//! A path in a request is taken relative to a root (or absolute, inside one),
//! must not contain `..`, and must still lie inside a root once symbolic
//! links are resolved. Anything else is refused with 403.

use std::path::{Component, Path, PathBuf};

use aj_core::CancelToken;
use aj_jobs::{ConvertSpec, JobSpec};

use serde::Serialize;

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
    /// 403 as [`Library::resolve`]; 400 for a spec with no inputs, a name
    /// template that does not parse or that names several inputs alike.
    pub fn confine(&self, spec: JobSpec) -> Result<JobSpec, ApiError> {
        match spec {
            JobSpec::Convert(c) => self.confine_convert(c).map(JobSpec::Convert),
            JobSpec::Rip(r) => self.confine_rip(r).map(JobSpec::Rip),
            JobSpec::DiscInfo(d) => {
                self.confine_drive(d.drive.as_deref())?;
                Ok(JobSpec::DiscInfo(d))
            }
            JobSpec::Sync(s) => self.confine_sync(s).map(JobSpec::Sync),
            JobSpec::Gain(g) => self.confine_gain(g).map(JobSpec::Gain),
        }
    }

    /// A gain job rewrites the tags of files inside the roots: each path
    /// given is resolved, and the files its folders expand to are checked
    /// again (a link inside a folder may lead out of the roots).
    fn confine_gain(&self, mut spec: aj_jobs::GainSpec) -> Result<aj_jobs::GainSpec, ApiError> {
        if spec.files.is_empty() {
            return Err(ApiError::bad_request(
                "a gain job needs at least one file or folder",
            ));
        }
        if spec.files.len() > MAX_GAIN_FILES {
            return Err(ApiError::bad_request(format!(
                "{} files: a gain job takes at most {MAX_GAIN_FILES} (give their folders instead)",
                spec.files.len()
            )));
        }
        spec.files = spec
            .files
            .iter()
            .map(|p| self.resolve(p))
            .collect::<Result<_, _>>()?;
        let plan = aj_jobs::gain::plan(&spec, &CancelToken::new());
        for f in &plan.files {
            self.resolve(&f.path)?;
        }
        Ok(spec)
    }

    /// A sync reads a library folder and writes a mirror folder, both
    /// inside the roots. The walk never leaves the library through links
    /// to folders outside the roots: each file is checked again when the
    /// job is planned here.
    fn confine_sync(&self, mut spec: aj_jobs::SyncSpec) -> Result<aj_jobs::SyncSpec, ApiError> {
        check_threads(spec.threads)?;
        check_encoder(&spec.encoder)?;
        spec.check().map_err(ApiError::bad_request)?;
        spec.source = self.resolve(&spec.source)?;
        spec.mirror = self.resolve(&spec.mirror)?;
        if !spec.source.is_dir() {
            return Err(ApiError::bad_request(format!(
                "the library {} is not a folder",
                spec.source.display()
            )));
        }
        // Links inside the library that lead out of the roots.
        let mut stack = vec![spec.source.clone()];
        let mut seen = std::collections::HashSet::new();
        while let Some(dir) = stack.pop() {
            let Ok(real) = dir.canonicalize() else {
                continue;
            };
            if !seen.insert(real) {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                self.resolve(&p)?;
                if p.is_dir() {
                    stack.push(p);
                }
            }
        }
        Ok(spec)
    }

    /// A virtual drive's image must lie inside the roots.
    fn confine_drive(&self, drive: Option<&str>) -> Result<(), ApiError> {
        if let Some(rest) = drive.and_then(|d| d.strip_prefix("image:")) {
            let opts = aj_cd::virtual_drive::Options::parse(rest)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            self.resolve(&opts.path)?;
        }
        Ok(())
    }

    /// A rip writes into a folder inside the roots; a virtual drive's image
    /// must be inside them too. Real drives and the demo disc need no path.
    fn confine_rip(
        &self,
        mut spec: aj_jobs::rip::RipSpec,
    ) -> Result<aj_jobs::rip::RipSpec, ApiError> {
        spec.output_dir = self.resolve(&spec.output_dir)?;
        self.confine_drive(spec.drive.as_deref())?;
        check_encoder(&spec.encoder)?;
        // The bounds the OpenAPI document states (a CD numbers tracks to 99).
        if let Some(t) = spec.tracks.iter().find(|&&t| t > 99) {
            return Err(ApiError::bad_request(format!(
                "tracks: {t} is not a track number (0 to 99)"
            )));
        }
        if let Some(c) = spec
            .cache_sectors
            .filter(|&c| c > aj_jobs::config::MAX_CACHE_SECTORS)
        {
            return Err(ApiError::bad_request(format!(
                "cache_sectors: {c} is more than a disc holds (at most {})",
                aj_jobs::config::MAX_CACHE_SECTORS
            )));
        }
        Ok(spec)
    }

    fn confine_convert(&self, mut spec: ConvertSpec) -> Result<ConvertSpec, ApiError> {
        if spec.inputs.is_empty() {
            return Err(ApiError::bad_request(
                "a convert job needs at least one input",
            ));
        }
        check_threads(spec.threads)?;
        check_encoder(&spec.encoder)?;
        // Rate, depth, channels and gain within what the document states
        // (and what the format can hold), so that a stored spec fits it.
        spec.dsp.check(spec.format).map_err(ApiError::bad_request)?;
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
        // A join writes one image and its cue sheet: both inside the roots.
        if spec.join.is_some() {
            let plan = aj_jobs::join::plan(&spec, &CancelToken::new())
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            for t in &plan.tracks {
                self.resolve(&t.path)?;
            }
            self.resolve(&plan.output)?;
            self.resolve(&plan.cue)?;
            return Ok(spec);
        }
        // A name template that does not parse, or names inputs alike: 400.
        let items = aj_jobs::convert::plan_checked(&spec, &CancelToken::new())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        for item in items {
            self.resolve(&item.input)?;
            if let Some(out) = item.output() {
                self.resolve(out)?;
            }
        }
        Ok(spec)
    }
}

/// Most paths one gain job names (the OpenAPI document's `maxItems`);
/// folders stand for any number of files.
pub const MAX_GAIN_FILES: usize = 10_000;

/// A job's thread count within the bounds the API document states.
fn check_threads(threads: usize) -> Result<(), ApiError> {
    let max = crate::openapi::MAX_THREADS;
    if threads > max {
        return Err(ApiError::bad_request(format!(
            "{threads} threads: at most {max} may be asked for"
        )));
    }
    Ok(())
}

/// Encoder settings within the bounds the API document states, for every
/// job kind that encodes (so that a stored spec always fits its schema).
fn check_encoder(encoder: &aj_codec::encode::EncoderOptions) -> Result<(), ApiError> {
    if let Some(threads) = encoder.threads {
        check_threads(threads)?;
    }
    if let Some(level) = encoder.level.filter(|&l| l > 8) {
        return Err(ApiError::bad_request(format!(
            "FLAC level {level}: the levels are 0 to 8"
        )));
    }
    Ok(())
}

/// Most entries `GET /library` lists for one folder; the listing says when
/// it stops short.
pub const MAX_ENTRIES: usize = 10_000;

/// The suffix of the engine's temporary outputs (`.NAME.XXXXXX.aj-tmp`, see
/// `aj_codec::output`).
pub const TEMP_SUFFIX: &str = ".aj-tmp";

/// One entry of a folder listing.
///
/// Names on Linux are bytes, not always UTF-8 (a `caf\xe9.wav` written in
/// Latin-1). JSON text cannot hold such bytes, so such an entry is listed
/// with `name` and `path` shown lossily (U+FFFD for each byte that is not
/// UTF-8) and `utf8: false`; `path_encoded`, the exact bytes
/// percent-encoded, is what the API takes back (`/library?path=`,
/// `/files/`). Job specs are JSON too: such a file is converted as part of
/// its folder, not named alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub name: String,
    /// The canonical path, usable as is in a job spec (when `utf8`).
    #[serde(serialize_with = "lossy")]
    pub path: PathBuf,
    /// The path's bytes percent-encoded (RFC 3986; `/` too): append it to
    /// `/api/v1/files/` or `/api/v1/library?path=`.
    pub path_encoded: String,
    /// False when the path is not UTF-8: `name` and `path` are then shown
    /// with U+FFFD and only `path_encoded` names the entry exactly.
    pub utf8: bool,
    /// `"file"` or `"folder"`.
    pub kind: &'static str,
    /// Bytes, for files.
    pub size: Option<u64>,
    /// Last modification, RFC 3339 UTC.
    pub modified: Option<String>,
    /// A file whose extension is one `aj convert` picks up in folders.
    pub audio: bool,
}

/// A folder listing (or, with no path, the roots).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    /// The folder listed; `None` for the roots.
    #[serde(serialize_with = "lossy_opt")]
    pub path: Option<PathBuf>,
    /// The folder's path percent-encoded, as [`Entry::path_encoded`].
    pub path_encoded: Option<String>,
    pub entries: Vec<Entry>,
    /// True when the folder holds more than [`MAX_ENTRIES`] entries.
    pub truncated: bool,
}

impl Library {
    /// The roots (no `path`) or the entries of the folder at `path`,
    /// confined like job paths: folders first, then by name; hidden entries
    /// (a leading `.`) and links leading out of the roots are left out.
    ///
    /// Reads the file system: call it off the async runtime.
    ///
    /// # Errors
    /// 403 outside the roots, 404 missing, 400 for a file.
    pub fn browse(&self, path: Option<&Path>) -> Result<Listing, ApiError> {
        let Some(path) = path.filter(|p| !p.as_os_str().is_empty()) else {
            let entries = self
                .roots
                .iter()
                .map(|r| {
                    let meta = std::fs::metadata(r).ok();
                    Entry {
                        name: r.file_name().map_or_else(
                            || r.display().to_string(),
                            |n| n.to_string_lossy().into_owned(),
                        ),
                        path: r.clone(),
                        path_encoded: encoded(r),
                        utf8: r.to_str().is_some(),
                        kind: "folder",
                        size: None,
                        modified: meta.as_ref().and_then(modified),
                        audio: false,
                    }
                })
                .collect();
            return Ok(Listing {
                path: None,
                path_encoded: None,
                entries,
                truncated: false,
            });
        };
        let dir = self.existing(path)?;
        if !dir.is_dir() {
            return Err(ApiError::bad_request(format!(
                "{}: not a folder (download files from /api/v1/files/)",
                path.display()
            )));
        }
        let read = std::fs::read_dir(&dir)
            .map_err(|e| ApiError::forbidden(format!("{}: cannot read ({e})", path.display())))?;
        let mut entries = Vec::new();
        let mut truncated = false;
        for e in read.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let full = dir.join(e.file_name());
            // Follows links, then keeps only what stays inside a root.
            let Ok(canonical) = full.canonicalize() else {
                continue;
            };
            if !self.contains(&canonical) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&canonical) else {
                continue;
            };
            if entries.len() == MAX_ENTRIES {
                truncated = true;
                break;
            }
            let folder = meta.is_dir();
            entries.push(Entry {
                audio: !folder && is_audio(&full),
                name,
                path_encoded: encoded(&full),
                utf8: full.to_str().is_some(),
                path: full,
                kind: if folder { "folder" } else { "file" },
                size: (!folder).then_some(meta.len()),
                modified: modified(&meta),
            });
        }
        entries.sort_by(|a, b| {
            (a.kind != "folder")
                .cmp(&(b.kind != "folder"))
                .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(Listing {
            path_encoded: Some(encoded(&dir)),
            path: Some(dir),
            entries,
            truncated,
        })
    }

    /// The file at `path` (relative to a root, or absolute inside one), for
    /// download.
    ///
    /// # Errors
    /// 403 outside the roots, 404 missing or not a file.
    pub fn file(&self, path: &Path) -> Result<PathBuf, ApiError> {
        let full = self.existing(path)?;
        if full.is_file() {
            Ok(full)
        } else {
            Err(ApiError::not_found(format!(
                "{}: not a file (browse folders with /api/v1/library?path=)",
                path.display()
            )))
        }
    }

    /// Resolves `path` inside the roots and requires it to exist.
    fn existing(&self, path: &Path) -> Result<PathBuf, ApiError> {
        let full = self.resolve(path)?;
        if full.symlink_metadata().is_ok() {
            Ok(full)
        } else {
            Err(ApiError::not_found(format!(
                "{}: no such file or folder",
                path.display()
            )))
        }
    }

    /// Removes the temporary files a killed job left beside its planned
    /// outputs: `.NAME.XXXXXX.aj-tmp` for each output `NAME`, in that
    /// output's folder, inside the roots. Returns the files removed.
    ///
    /// Reads the file system; nothing else is touched.
    pub fn remove_stale_temps(&self, spec: &JobSpec) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        let mut by_dir: std::collections::BTreeMap<PathBuf, Vec<String>> = Default::default();
        let items = match spec {
            // A join's one output: its image (the cue sheet is written
            // directly, after the image).
            JobSpec::Convert(c) if c.join.is_some() => {
                if let Ok(plan) = aj_jobs::join::plan(c, &CancelToken::new()) {
                    if let (Some(dir), Some(name)) = (plan.output.parent(), plan.output.file_name())
                    {
                        by_dir
                            .entry(dir.to_path_buf())
                            .or_default()
                            .push(format!(".{}.", name.to_string_lossy()));
                    }
                }
                Vec::new()
            }
            JobSpec::Convert(c) => aj_jobs::convert::plan(c, &CancelToken::new()),
            // A rip's names depend on the disc: every temporary file in its
            // folder is one of its own.
            JobSpec::Rip(r) => {
                by_dir.insert(r.output_dir.clone(), Vec::new());
                Vec::new()
            }
            JobSpec::DiscInfo(_) => Vec::new(),
            // A sync's temporary files sit beside its mirror files, all over
            // the mirror: they are removed by the next sync (see aj-jobs).
            JobSpec::Sync(_) => Vec::new(),
            // A gain job rewrites each file through a copy beside it.
            JobSpec::Gain(g) => {
                for f in aj_jobs::gain::plan(g, &CancelToken::new()).files {
                    if let (Some(dir), Some(name)) = (f.path.parent(), f.path.file_name()) {
                        by_dir
                            .entry(dir.to_path_buf())
                            .or_default()
                            .push(format!(".{}.", name.to_string_lossy()));
                    }
                }
                Vec::new()
            }
        };
        for item in items {
            let Some(out) = item.output() else { continue };
            let (Some(dir), Some(name)) = (out.parent(), out.file_name()) else {
                continue;
            };
            by_dir
                .entry(dir.to_path_buf())
                .or_default()
                .push(format!(".{}.", name.to_string_lossy()));
        }
        for (dir, prefixes) in by_dir {
            let Ok(dir) = dir.canonicalize() else {
                continue;
            };
            if !self.contains(&dir) {
                continue;
            }
            let Ok(read) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in read.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let stale = name.ends_with(TEMP_SUFFIX)
                    && name.starts_with('.')
                    && (prefixes.is_empty() || prefixes.iter().any(|p| is_temp_of(&name, p)));
                if stale && e.file_type().is_ok_and(|t| t.is_file()) {
                    let path = dir.join(&name);
                    if std::fs::remove_file(&path).is_ok() {
                        removed.push(path);
                    }
                }
            }
        }
        removed
    }
}

/// A path as JSON text: exact when it is UTF-8, else with U+FFFD for the
/// bytes that are not (a path that cannot be written must not fail the
/// whole answer).
fn lossy<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

fn lossy_opt<S: serde::Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(p) => lossy(p, s),
        None => s.serialize_none(),
    }
}

/// The path's bytes, percent-encoded (see [`Entry::path_encoded`]).
pub fn encoded(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        crate::api::percent_encode(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        crate::api::percent_encode(path.to_string_lossy().as_bytes())
    }
}

/// `name` is `PREFIX` + random letters and digits + `.aj-tmp`, as
/// `tempfile` names the engine's temporary outputs.
fn is_temp_of(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(TEMP_SUFFIX))
        .is_some_and(|rand| !rand.is_empty() && rand.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn is_audio(path: &Path) -> bool {
    path.extension().is_some_and(|e| {
        aj_jobs::convert::AUDIO_EXTENSIONS
            .contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
    })
}

fn modified(meta: &std::fs::Metadata) -> Option<String> {
    let t = meta.modified().ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(rfc3339(secs))
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (the proleptic Gregorian
/// calendar, RFC 3339 section 5.6; days to date after H. Hinnant's
/// `civil_from_days`).
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_037_000_000), "2002-11-11T07:33:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn browsing_lists_sorted_confined_entries() {
        let (t, l) = lib();
        let root = t.path().join("music").canonicalize().unwrap();
        std::fs::write(root.join("B.txt"), b"hello").unwrap();
        std::fs::write(root.join(".hidden"), b"").unwrap();
        let roots = l.browse(None).unwrap();
        assert_eq!(roots.entries.len(), 1);
        assert_eq!(roots.entries[0].path, root);
        let top = l.browse(Some(Path::new("."))).unwrap();
        let names: Vec<&str> = top.entries.iter().map(|e| e.name.as_str()).collect();
        // Links out (link.wav, up) and hidden files are left out.
        assert_eq!(names, ["album", "B.txt"]);
        assert_eq!(top.entries[1].size, Some(5));
        assert!(!top.entries[1].audio);
        let album = l.browse(Some(Path::new("album"))).unwrap();
        assert_eq!(album.entries[0].kind, "file");
        assert!(album.entries[0].audio);
        assert_eq!(
            l.browse(Some(Path::new("nothing"))).unwrap_err().status,
            axum::http::StatusCode::NOT_FOUND
        );
        assert_eq!(
            l.browse(Some(Path::new("up"))).unwrap_err().status,
            axum::http::StatusCode::FORBIDDEN
        );
        assert_eq!(
            l.file(Path::new("album")).unwrap_err().status,
            axum::http::StatusCode::NOT_FOUND
        );
        assert_eq!(
            l.file(Path::new("link.wav")).unwrap_err().status,
            axum::http::StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn only_our_temp_names_count_as_stale() {
        assert!(is_temp_of(".a.flac.Ab3xYz.aj-tmp", ".a.flac."));
        assert!(!is_temp_of(".a.flac..aj-tmp", ".a.flac."));
        assert!(!is_temp_of(".a.flac.x y.aj-tmp", ".a.flac."));
        assert!(!is_temp_of(".b.flac.Ab3xYz.aj-tmp", ".a.flac."));
        assert!(!is_temp_of(".a.flac.Ab3xYz.aj-tmp.txt", ".a.flac."));
    }
}
