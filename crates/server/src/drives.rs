//! The daemon's CD drives: which ones it serves, their ids, and who holds
//! each one.
//!
//! The drives are those given with `aj serve --drive SPEC` (a device path,
//! `demo[,options]` or `image:PATH[,options]`), or, when none is given, the
//! real drives the kernel lists ([`aj_cd::transport::discover`]), found again
//! on every look so that a drive plugged in later shows up.
//!
//! Each drive has a URL-safe id: `sr0` for `/dev/sr0`, `demo` for the demo
//! disc, `image-1`, `image-2`… for images in the order given (a second demo
//! is `demo-2`). Job specs may name a drive by its id or by its spec; both
//! lead to the same drive, and so to the same queue ([`Drives::key`]).
//!
//! Drive I/O is serialised per drive: a job holds its drive while it runs
//! ([`Drives::claim_for_job`], taken by the queue), and a read through the
//! API holds it while it reads ([`Drives::claim_for_api`]) — an API read
//! never overlaps a job on the same drive (it is refused with 409 instead),
//! and a job waits for an API read to end.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

use aj_cd::transport::{self, DriveSpec};
use aj_jobs::JobSpec;
use axum::http::StatusCode;
use serde::Serialize;

use crate::error::ApiError;

/// What kind of drive an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriveKind {
    /// A real drive (Linux SG_IO).
    Device,
    /// The virtual drive over a disc image.
    Image,
    /// The virtual drive holding the built-in demo disc.
    Demo,
}

/// A drive the daemon serves: its id and the spec that opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub spec: String,
    pub kind: DriveKind,
    /// Vendor, model and revision as the kernel lists them (real drives
    /// found by discovery); `None` until asked by INQUIRY.
    ident: Option<Ident>,
}

/// INQUIRY's names of a drive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ident {
    pub vendor: String,
    pub model: String,
    pub revision: String,
}

/// A drive as `GET /api/v1/drives` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriveView {
    pub id: String,
    pub spec: String,
    pub kind: DriveKind,
    pub vendor: String,
    pub model: String,
    pub revision: String,
    /// A job runs on it, or the API is reading it.
    pub busy: bool,
    /// The job running on it.
    pub job: Option<i64>,
    /// Why the drive could not be asked its names, if it could not.
    pub error: Option<String>,
}

/// Who holds a drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    Job(i64),
    Api,
}

/// The drives and their holders.
#[derive(Debug)]
pub struct Drives {
    /// From `--drive`; empty: discovered real drives.
    configured: Vec<Entry>,
    /// INQUIRY answers by id, asked once per drive.
    idents: Mutex<HashMap<String, Result<Ident, String>>>,
    holders: Mutex<HashMap<String, Holder>>,
    freed: Condvar,
}

/// The id of a device path: its file name after links are followed
/// (`/dev/cdrom` → `sr0`), reduced to URL-safe characters.
fn device_id(path: &Path) -> String {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let safe = url_safe(&name);
    if safe.is_empty() {
        "drive".into()
    } else {
        safe
    }
}

fn url_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The same device, whatever path names it.
fn same_device(a: &Path, b: &Path) -> bool {
    let ca = std::fs::canonicalize(a).unwrap_or_else(|_| a.to_path_buf());
    let cb = std::fs::canonicalize(b).unwrap_or_else(|_| b.to_path_buf());
    ca == cb
}

fn kind_of(spec: &DriveSpec) -> DriveKind {
    match spec {
        DriveSpec::Device(_) => DriveKind::Device,
        DriveSpec::Image(_) => DriveKind::Image,
        DriveSpec::Demo(_) => DriveKind::Demo,
    }
}

impl Drives {
    /// The drives given with `--drive` (none: discovered real drives).
    ///
    /// # Errors
    /// A spec that does not parse, or the same drive given twice.
    pub fn new(specs: &[String]) -> Result<Drives, String> {
        let mut configured: Vec<Entry> = Vec::new();
        let mut images = 0;
        for spec in specs {
            let parsed = DriveSpec::parse(spec).map_err(|e| format!("--drive {spec}: {e}"))?;
            let kind = kind_of(&parsed);
            let base = match &parsed {
                DriveSpec::Device(p) => device_id(p),
                DriveSpec::Demo(_) => "demo".into(),
                DriveSpec::Image(_) => {
                    images += 1;
                    format!("image-{images}")
                }
            };
            let mut id = base.clone();
            let mut n = 1;
            while configured.iter().any(|e| e.id == id) {
                if let DriveSpec::Device(p) = &parsed {
                    if configured
                        .iter()
                        .any(|e| e.kind == DriveKind::Device && same_device(Path::new(&e.spec), p))
                    {
                        return Err(format!("--drive {spec}: this drive is already given"));
                    }
                }
                n += 1;
                id = format!("{base}-{n}");
            }
            configured.push(Entry {
                id,
                spec: spec.clone(),
                kind,
                ident: None,
            });
        }
        Ok(Drives {
            configured,
            idents: Mutex::new(HashMap::new()),
            holders: Mutex::new(HashMap::new()),
            freed: Condvar::new(),
        })
    }

    /// True when the drives are found by discovery rather than given.
    pub fn discovered(&self) -> bool {
        self.configured.is_empty()
    }

    /// The drives now: the given ones, or the real drives found now.
    pub fn entries(&self) -> Vec<Entry> {
        if !self.configured.is_empty() {
            return self.configured.clone();
        }
        let mut out: Vec<Entry> = Vec::new();
        for d in transport::discover() {
            let base = device_id(&d.device);
            let mut id = base.clone();
            let mut n = 1;
            while out.iter().any(|e| e.id == id) {
                n += 1;
                id = format!("{base}-{n}");
            }
            out.push(Entry {
                id,
                spec: d.device.to_string_lossy().into_owned(),
                kind: DriveKind::Device,
                ident: Some(Ident {
                    vendor: d.vendor,
                    model: d.model,
                    revision: d.revision,
                }),
            });
        }
        out
    }

    /// The drive with this id.
    ///
    /// # Errors
    /// 404 naming the drives there are.
    pub fn find(&self, id: &str) -> Result<Entry, ApiError> {
        let entries = self.entries();
        if let Some(e) = entries.iter().find(|e| e.id == id) {
            return Ok(e.clone());
        }
        Err(ApiError::not_found(format!(
            "no drive {id:?} ({})",
            Self::names(&entries)
        )))
    }

    fn names(entries: &[Entry]) -> String {
        if entries.is_empty() {
            "this server has no CD drive".into()
        } else {
            let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
            format!("the drives are: {}", ids.join(", "))
        }
    }

    /// The listed drive a job's `drive` names: by id, by its exact spec, or
    /// (real drives) by any path of the same device.
    fn lookup(entries: &[Entry], name: &str) -> Option<Entry> {
        if let Some(e) = entries.iter().find(|e| e.id == name || e.spec == name) {
            return Some(e.clone());
        }
        match DriveSpec::parse(name).ok()? {
            DriveSpec::Device(p) if p.is_absolute() => entries
                .iter()
                .find(|e| e.kind == DriveKind::Device && same_device(Path::new(&e.spec), &p))
                .cloned(),
            _ => None,
        }
    }

    /// The queue key of a drive spec or id: the id of the listed drive it
    /// names; for a demo or image spec the daemon does not list, a key of
    /// its own (`demo`, `image:PATH`).
    pub fn key(&self, name: &str) -> String {
        let entries = self.entries();
        if let Some(e) = Self::lookup(&entries, name) {
            return e.id;
        }
        match DriveSpec::parse(name) {
            Ok(DriveSpec::Demo(_)) => "demo".into(),
            Ok(DriveSpec::Image(o)) => {
                let p = std::fs::canonicalize(&o.path).unwrap_or(o.path);
                format!("image:{}", p.display())
            }
            Ok(DriveSpec::Device(p)) => device_id(&p),
            Err(_) => name.to_string(),
        }
    }

    /// The queue key of a job: its drive's, for rips and disc reads (no
    /// drive named: the first drive's, as the job will open it).
    pub fn key_of_job(&self, spec: &JobSpec) -> Option<String> {
        let drive = match spec {
            JobSpec::Convert(_) | JobSpec::Sync(_) | JobSpec::Gain(_) => return None,
            JobSpec::Rip(r) => r.drive.as_deref(),
            JobSpec::DiscInfo(d) => d.drive.as_deref(),
        };
        Some(match drive.filter(|d| !d.is_empty()) {
            Some(d) => self.key(d),
            None => self
                .entries()
                .into_iter()
                .next()
                .map_or_else(String::new, |e| e.id),
        })
    }

    /// A job's drive as the daemon runs it: an id becomes its drive's spec,
    /// no drive becomes the first drive. Demo and image specs pass (an
    /// image is confined to the library afterwards); a real drive must be
    /// one of the daemon's.
    ///
    /// # Errors
    /// 422 for a drive that is not the daemon's, or no drive at all.
    pub fn resolve(&self, drive: Option<&str>) -> Result<String, ApiError> {
        let entries = self.entries();
        let Some(name) = drive.filter(|d| !d.is_empty()) else {
            return entries.first().map(|e| e.spec.clone()).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "this server has no CD drive (start it with --drive SPEC, or name \"demo\" or an image)",
                )
            });
        };
        if let Some(e) = Self::lookup(&entries, name) {
            return Ok(e.spec);
        }
        match DriveSpec::parse(name) {
            Ok(DriveSpec::Demo(_) | DriveSpec::Image(_)) => Ok(name.to_string()),
            Ok(DriveSpec::Device(_)) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "drive {name:?} is not one of this server's drives ({})",
                    Self::names(&entries)
                ),
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("drive {name:?}: {e}"),
            )),
        }
    }

    /// The spec with its drive resolved ([`Drives::resolve`]).
    ///
    /// # Errors
    /// As [`Drives::resolve`].
    pub fn normalise(&self, spec: JobSpec) -> Result<JobSpec, ApiError> {
        match spec {
            JobSpec::Convert(c) => Ok(JobSpec::Convert(c)),
            JobSpec::Sync(s) => Ok(JobSpec::Sync(s)),
            JobSpec::Gain(g) => Ok(JobSpec::Gain(g)),
            JobSpec::Rip(mut r) => {
                r.drive = Some(self.resolve(r.drive.as_deref())?);
                Ok(JobSpec::Rip(r))
            }
            JobSpec::DiscInfo(mut d) => {
                d.drive = Some(self.resolve(d.drive.as_deref())?);
                Ok(JobSpec::DiscInfo(d))
            }
        }
    }

    fn holders(&self) -> MutexGuard<'_, HashMap<String, Holder>> {
        self.holders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes drive `key` for job `job`; false while someone holds it.
    pub fn claim_for_job(&self, key: &str, job: i64) -> bool {
        self.try_claim(key, Holder::Job(job))
    }

    fn try_claim(&self, key: &str, who: Holder) -> bool {
        let mut h = self.holders();
        if h.contains_key(key) {
            return false;
        }
        h.insert(key.to_string(), who);
        true
    }

    /// Takes drive `key` for an API read, waiting while another API read
    /// holds it.
    ///
    /// # Errors
    /// 409 while a job holds it.
    pub fn claim_for_api(&self, key: &str) -> Result<(), ApiError> {
        let mut h = self.holders();
        loop {
            match h.get(key) {
                None => {
                    h.insert(key.to_string(), Holder::Api);
                    return Ok(());
                }
                Some(Holder::Job(id)) => {
                    return Err(ApiError::conflict(format!(
                    "drive {key} is busy: job {id} is using it (wait for it to end, or cancel it)"
                )))
                }
                Some(Holder::Api) => {
                    h = self.freed.wait(h).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    /// Lets drive `key` go.
    pub fn release(&self, key: &str) {
        self.holders().remove(key);
        self.freed.notify_all();
    }

    /// Who holds drive `key`: `(busy, job)`.
    fn holder(&self, key: &str) -> (bool, Option<i64>) {
        match self.holders().get(key) {
            None => (false, None),
            Some(Holder::Api) => (true, None),
            Some(Holder::Job(id)) => (true, Some(*id)),
        }
    }

    /// The drives with their names and holders. A drive not yet asked its
    /// names is asked now (INQUIRY) unless it is held.
    pub fn views(&self) -> Vec<DriveView> {
        self.entries()
            .into_iter()
            .map(|e| {
                let ident = match &e.ident {
                    Some(i) => Ok(i.clone()),
                    None => self.ident(&e),
                };
                let (busy, job) = self.holder(&e.id);
                let (ident, error) = match ident {
                    Ok(i) => (i, None),
                    Err(msg) => (Ident::default(), Some(msg)),
                };
                DriveView {
                    id: e.id,
                    spec: e.spec,
                    kind: e.kind,
                    vendor: ident.vendor,
                    model: ident.model,
                    revision: ident.revision,
                    busy,
                    job,
                    error,
                }
            })
            .collect()
    }

    /// INQUIRY's names of a given drive, asked once (a busy drive is not
    /// asked: its names show when it is free).
    fn ident(&self, e: &Entry) -> Result<Ident, String> {
        if let Some(known) = self
            .idents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&e.id)
        {
            return known.clone();
        }
        // A real drive the kernel lists: its names without I/O.
        if let DriveSpec::Device(p) = DriveSpec::parse(&e.spec).map_err(|err| err.to_string())? {
            if let Some(d) = transport::discover()
                .into_iter()
                .find(|d| same_device(&d.device, &p))
            {
                return Ok(Ident {
                    vendor: d.vendor,
                    model: d.model,
                    revision: d.revision,
                });
            }
        }
        if !self.try_claim(&e.id, Holder::Api) {
            return Err("the drive is busy: its names show when it is free".into());
        }
        let asked = transport::open(Some(&e.spec))
            .and_then(|mut d| d.inquiry())
            .map(|i| Ident {
                vendor: i.vendor,
                model: i.model,
                revision: i.revision,
            })
            .map_err(|err| err.to_string());
        self.release(&e.id);
        self.idents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(e.id.clone(), asked.clone());
        asked
    }
}

/// Reads the disc in `entry` now: the document `aj disc info --json`
/// prints. The caller holds the drive.
///
/// # Errors
/// 503 when the drive cannot be opened or has no disc; 422 when the disc
/// cannot be read.
pub fn read_disc(entry: &Entry) -> Result<serde_json::Value, ApiError> {
    let mut drive = transport::open(Some(&entry.spec)).map_err(|e| unavailable(entry, &e))?;
    let name = drive.name();
    let report = aj_cd::mmc::scan::read_disc(&mut drive).map_err(|e| {
        if e.is_no_medium() {
            ApiError::unavailable(format!("{}: no disc in the drive", entry.id))
        } else {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{}: cannot read the disc: {e}", entry.id),
            )
        }
    })?;
    let ids = aj_cd::id::DiscIds::compute(&report.disc).ok();
    Ok(aj_jobs::disc::to_json(&name, &report, ids.as_ref()))
}

/// Opens the tray of `entry`. The caller holds the drive.
///
/// # Errors
/// 503 when the drive cannot be opened or refuses.
pub fn eject(entry: &Entry) -> Result<(), ApiError> {
    let mut drive = transport::open(Some(&entry.spec)).map_err(|e| unavailable(entry, &e))?;
    drive
        .eject()
        .map_err(|e| ApiError::unavailable(format!("{}: cannot open the tray: {e}", entry.id)))
}

fn unavailable(entry: &Entry, e: &transport::Error) -> ApiError {
    if e.is_no_medium() {
        ApiError::unavailable(format!("{}: no disc in the drive", entry.id))
    } else {
        ApiError::unavailable(format!("{}: {e}", entry.id))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_url_safe_and_unique() {
        let d = Drives::new(&[
            "demo,speed=20".into(),
            "demo".into(),
            "image:a b.cue".into(),
            "image:c.cue,offset=6".into(),
            "/dev/nonexistent-sr9".into(),
        ])
        .unwrap();
        let ids: Vec<String> = d.entries().into_iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            ["demo", "demo-2", "image-1", "image-2", "nonexistent-sr9"]
        );
        assert!(Drives::new(&["demo,offset=x".into()]).is_err());
        assert!(
            Drives::new(&["/dev/nonexistent-sr9".into(), "/dev/nonexistent-sr9".into()]).is_err()
        );
    }

    #[test]
    fn ids_and_specs_name_the_same_drive() {
        let d = Drives::new(&["demo,speed=20".into(), "/dev/nonexistent-sr9".into()]).unwrap();
        assert_eq!(d.resolve(Some("demo")).unwrap(), "demo,speed=20");
        assert_eq!(d.resolve(Some("demo,speed=20")).unwrap(), "demo,speed=20");
        assert_eq!(d.resolve(None).unwrap(), "demo,speed=20");
        assert_eq!(
            d.resolve(Some("nonexistent-sr9")).unwrap(),
            "/dev/nonexistent-sr9"
        );
        assert_eq!(d.key("/dev/nonexistent-sr9"), "nonexistent-sr9");
        assert_eq!(d.key("nonexistent-sr9"), "nonexistent-sr9");
        assert_eq!(d.key("demo,speed=20"), "demo");
        let no_drive = JobSpec::DiscInfo(aj_jobs::disc::DiscInfoSpec { drive: None });
        assert_eq!(d.key_of_job(&no_drive).as_deref(), Some("demo"));
        // Another demo spec is a drive of its own, with a queue of its own.
        assert_eq!(d.resolve(Some("demo,offset=6")).unwrap(), "demo,offset=6");
        let e = d.resolve(Some("/dev/sr7")).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.message.contains("demo, nonexistent-sr9"), "{}", e.message);
        assert_eq!(d.find("nope").unwrap_err().status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_job_holds_its_drive_and_the_api_is_refused() {
        let d = Drives::new(&["demo".into()]).unwrap();
        assert!(d.claim_for_job("demo", 4));
        assert!(!d.claim_for_job("demo", 5));
        let e = d.claim_for_api("demo").unwrap_err();
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert!(e.message.contains("job 4"), "{}", e.message);
        assert_eq!(d.holder("demo"), (true, Some(4)));
        d.release("demo");
        d.claim_for_api("demo").unwrap();
        assert!(!d.claim_for_job("demo", 5), "an API read holds it");
        d.release("demo");
        assert!(d.claim_for_job("demo", 5));
    }

    #[test]
    fn the_demo_disc_reads_and_its_names_show() {
        let d = Drives::new(&["demo".into()]).unwrap();
        let views = d.views();
        assert_eq!(views.len(), 1);
        assert!(!views[0].model.is_empty(), "{views:?}");
        assert_eq!(views[0].error, None);
        let e = d.find("demo").unwrap();
        let doc = read_disc(&e).unwrap();
        assert_eq!(doc["tracks"].as_array().unwrap().len(), 5);
        eject(&e).unwrap();
    }
}
