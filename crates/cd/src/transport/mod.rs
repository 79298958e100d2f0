//! How commands reach a drive: one [`Transport`] trait, two implementations.
//!
//! - [`sg`] (Linux): the SG_IO ioctl on `/dev/sr*`. The only `unsafe` code
//!   of this crate lives there.
//! - [`crate::virtual_drive`]: a software drive over a disc image.
//!
//! [`open`] turns a drive spec (`/dev/sr0`, `image:PATH[,options]`,
//! `demo[,options]` for the built-in demo disc, or nothing for the first
//! drive found) into a [`Drive`]; [`discover`] lists the
//! drives the kernel knows from `/sys/class/block/sr*`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mmc::{self, Drive, Sense};

#[cfg(target_os = "linux")]
pub mod sg;

/// Which way data moves in a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// No data phase.
    None,
    /// The drive sends data (INQUIRY, READ CD…).
    FromDevice,
    /// The host sends data (MODE SELECT, WRITE…).
    ToDevice,
}

/// Errors of drives and their commands. Messages are worded for a person;
/// the caller adds the drive's name where it is not already in them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command ended in CHECK CONDITION with this sense data.
    #[error("{}: {sense}", mmc::op_name(*.op))]
    Check { op: u8, sense: Sense },
    /// The device could not be opened for lack of permission.
    #[error("cannot open {device}: permission denied (CD drives belong to the `cdrom` group: add yourself with `sudo usermod -aG cdrom $USER` and log in again)")]
    PermissionDenied { device: String },
    /// The device is in use (mounted or opened exclusively).
    #[error("{device} is busy: {detail}")]
    Busy { device: String, detail: String },
    /// No such device.
    #[error("{device}: no such device")]
    NoDevice { device: String },
    /// The device exists but is not a CD/DVD drive.
    #[error("{device} is not a CD drive ({detail})")]
    NotADrive { device: String, detail: String },
    /// No drive spec was given and no drive was found.
    #[error(
        "no CD drive found (name a disc image with --drive image:PATH to use the virtual drive, or try the built-in demo disc with --drive demo)"
    )]
    NoDrive,
    /// The command did not complete in time.
    #[error("{} timed out after {} s", mmc::op_name(*.op), .timeout.as_secs_f32())]
    Timeout { op: u8, timeout: Duration },
    /// The host adapter or driver failed the command.
    #[error("{}: transport failure ({detail})", mmc::op_name(*.op))]
    Transport { op: u8, detail: String },
    /// The drive's answer makes no sense.
    #[error("{command}: unexpected response: {reason}")]
    BadResponse {
        command: &'static str,
        reason: String,
    },
    /// The command cannot be sent this way (a CDB too long, a buffer too
    /// large, or an OS without SG_IO).
    #[error("{0}")]
    Unsupported(String),
    /// A drive spec that does not parse.
    #[error("invalid drive spec: {0}")]
    Spec(String),
    /// The virtual drive's image could not be used.
    #[error("{path}: {reason}")]
    Image { path: PathBuf, reason: String },
    /// Other I/O failure.
    #[error("{device}: {source}")]
    Io {
        device: String,
        source: std::io::Error,
    },
}

impl Error {
    /// The sense data, when the drive reported CHECK CONDITION.
    pub fn sense(&self) -> Option<&Sense> {
        match self {
            Error::Check { sense, .. } => Some(sense),
            _ => None,
        }
    }

    /// True when the disc could not be read at some LBA (a medium error).
    pub fn is_medium_error(&self) -> bool {
        self.sense().is_some_and(Sense::is_medium_error)
    }

    /// True when there is no disc in the drive.
    pub fn is_no_medium(&self) -> bool {
        self.sense().is_some_and(Sense::is_no_medium)
    }
}

/// A way to send MMC commands to a drive.
///
/// Contract: `execute` sends one CDB. For [`Direction::FromDevice`] the drive
/// writes at most `buf.len()` bytes into `buf`; for [`Direction::ToDevice`]
/// `buf` is sent; for [`Direction::None`] `buf` must be empty. It returns
/// the number of bytes actually transferred (drives may send less than the
/// allocation length). A command the drive rejects returns
/// [`Error::Check`] with the sense data; nothing is retried here.
pub trait Transport: Send {
    /// Sends one command and waits at most `timeout` for it.
    ///
    /// # Errors
    /// [`Error::Check`] for CHECK CONDITION, [`Error::Timeout`],
    /// [`Error::Transport`] and [`Error::Io`] for failures below SCSI.
    fn execute(
        &mut self,
        cdb: &[u8],
        direction: Direction,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, Error>;

    /// The device path or image spec, for messages.
    fn name(&self) -> String;
}

/// A CD drive the kernel knows about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DriveInfo {
    /// `/dev/srN`.
    pub device: PathBuf,
    pub vendor: String,
    pub model: String,
    pub revision: String,
}

/// The drives listed in `/sys/class/block/sr*` (vendor, model and revision
/// from `device/{vendor,model,rev}`), sorted by number. Empty on systems
/// without sysfs.
pub fn discover() -> Vec<DriveInfo> {
    discover_in(Path::new("/sys/class/block"), Path::new("/dev"))
}

/// [`discover`] over another sysfs root (for tests).
pub fn discover_in(sys_block: &Path, dev: &Path) -> Vec<DriveInfo> {
    let Ok(dir) = std::fs::read_dir(sys_block) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, DriveInfo)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let n: u32 = name.strip_prefix("sr")?.parse().ok()?;
            let read = |f: &str| {
                std::fs::read_to_string(e.path().join("device").join(f))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            };
            Some((
                n,
                DriveInfo {
                    device: dev.join(&name),
                    vendor: read("vendor"),
                    model: read("model"),
                    revision: read("rev"),
                },
            ))
        })
        .collect();
    found.sort_by_key(|(n, _)| *n);
    found.into_iter().map(|(_, d)| d).collect()
}

/// What a `--drive` spec names.
#[derive(Debug, Clone, PartialEq)]
pub enum DriveSpec {
    /// A real drive by device path.
    Device(PathBuf),
    /// The virtual drive over an image, with its options.
    Image(crate::virtual_drive::Options),
    /// The virtual drive holding the built-in demo disc, with the same options
    /// (their path is not used).
    Demo(crate::virtual_drive::Options),
}

impl DriveSpec {
    /// Parses `/dev/srN` (any path not starting with `image:`),
    /// `image:PATH[,key=value…]` or `demo[,key=value…]`.
    ///
    /// # Errors
    /// [`Error::Spec`] naming the option that is wrong.
    pub fn parse(spec: &str) -> Result<DriveSpec, Error> {
        if let Some(opts) = crate::virtual_drive::demo::parse_spec(spec) {
            return opts.map(DriveSpec::Demo);
        }
        if let Some(rest) = spec.strip_prefix("image:") {
            return crate::virtual_drive::Options::parse(rest).map(DriveSpec::Image);
        }
        if spec.is_empty() {
            return Err(Error::Spec("empty drive name".into()));
        }
        Ok(DriveSpec::Device(PathBuf::from(spec)))
    }
}

/// Opens the drive a spec names; with `None`, the first drive found.
///
/// # Errors
/// [`Error::NoDrive`] when no spec was given and no drive exists; the
/// errors of [`DriveSpec::parse`], of opening the device, or of loading
/// the image.
pub fn open(spec: Option<&str>) -> Result<Drive, Error> {
    let spec = match spec {
        Some(s) => DriveSpec::parse(s)?,
        None => {
            let first = discover().into_iter().next().ok_or(Error::NoDrive)?;
            DriveSpec::Device(first.device)
        }
    };
    match spec {
        DriveSpec::Image(opts) => Ok(Drive::new(Box::new(
            crate::virtual_drive::VirtualDrive::open(opts)?,
        ))),
        DriveSpec::Demo(opts) => Ok(Drive::new(Box::new(crate::virtual_drive::demo::open(
            opts,
        )?))),
        DriveSpec::Device(path) => open_device(&path),
    }
}

#[cfg(target_os = "linux")]
fn open_device(path: &Path) -> Result<Drive, Error> {
    Ok(Drive::new(Box::new(sg::SgDevice::open(path)?)))
}

#[cfg(not(target_os = "linux"))]
fn open_device(path: &Path) -> Result<Drive, Error> {
    Err(Error::Unsupported(format!(
        "{}: real drives are reached through Linux SG_IO, which this system does not have",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn discovery_from_a_fake_sysfs() {
        let t = tempfile::tempdir().unwrap();
        for (name, vendor, model) in [
            ("sr1", "PLEXTOR ", "DVDR   PX-716A  "),
            ("sr0", "HL-DT-ST", "BD-RE BH16NS40"),
        ] {
            let d = t.path().join(name).join("device");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("vendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(d.join("model"), format!("{model}\n")).unwrap();
            std::fs::write(d.join("rev"), "1.00\n").unwrap();
        }
        std::fs::create_dir_all(t.path().join("sda")).unwrap();
        let found = discover_in(t.path(), Path::new("/dev"));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].device, PathBuf::from("/dev/sr0"));
        assert_eq!(found[0].vendor, "HL-DT-ST");
        assert_eq!(found[1].model, "DVDR   PX-716A");
        assert_eq!(found[1].revision, "1.00");
        assert!(discover_in(&t.path().join("none"), Path::new("/dev")).is_empty());
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(
            DriveSpec::parse("/dev/sr0").unwrap(),
            DriveSpec::Device(PathBuf::from("/dev/sr0"))
        );
        assert!(matches!(DriveSpec::parse(""), Err(Error::Spec(_))));
        assert!(matches!(
            DriveSpec::parse("image:x.cue,offset=6").unwrap(),
            DriveSpec::Image(_)
        ));
        assert!(matches!(
            DriveSpec::parse("image:x.cue,offset=abc"),
            Err(Error::Spec(_))
        ));
        assert!(matches!(
            DriveSpec::parse("demo").unwrap(),
            DriveSpec::Demo(_)
        ));
        match DriveSpec::parse("demo,offset=48,vanish=3").unwrap() {
            DriveSpec::Demo(o) => assert_eq!((o.offset, o.vanish), (48, Some(3))),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            DriveSpec::parse("demo,offset=x"),
            Err(Error::Spec(_))
        ));
    }
}
