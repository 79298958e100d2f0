//! Linux SG_IO: SCSI commands through the `SG_IO` ioctl on `/dev/sr*`
//! (or `/dev/sg*`). The layout of `struct sg_io_hdr` and the constants are
//! those of `<scsi/sg.h>` (the SCSI generic driver, interface version 3).
//!
//! This module is the crate's only `unsafe` code: the `ioctl` call, which
//! the kernel performs on memory this module owns for the call's duration.

#![allow(unsafe_code)]

use std::ffi::{c_int, c_uint, c_ushort, c_void};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Direction, Error, Transport};
use crate::mmc::{self, Sense};

/// `SG_IO` request number (`<scsi/sg.h>`).
const SG_IO: u32 = 0x2285;
/// `interface_id` of the v3 interface.
const SG_INTERFACE_ID: c_int = b'S' as c_int;
/// `dxfer_direction` values.
const SG_DXFER_NONE: c_int = -1;
const SG_DXFER_TO_DEV: c_int = -2;
const SG_DXFER_FROM_DEV: c_int = -3;
/// SCSI status CHECK CONDITION (SAM-5 table 38).
const STATUS_CHECK_CONDITION: u8 = 0x02;
/// `host_status` DID_TIME_OUT (Linux `scsi.h`).
const DID_TIME_OUT: c_ushort = 0x03;
/// `host_status` DID_NO_CONNECT.
const DID_NO_CONNECT: c_ushort = 0x01;
/// `driver_status` DRIVER_TIMEOUT (low nibble).
const DRIVER_TIMEOUT: c_ushort = 0x06;
/// `driver_status` DRIVER_SENSE (sense data were written).
const DRIVER_SENSE: c_ushort = 0x08;
/// Sense buffer length (SPC-4 allows 252; fixed format needs 18).
const SENSE_LEN: usize = 64;

/// `struct sg_io_hdr` (`<scsi/sg.h>`), field for field.
#[repr(C)]
struct SgIoHdr {
    interface_id: c_int,
    dxfer_direction: c_int,
    cmd_len: u8,
    mx_sb_len: u8,
    iovec_count: c_ushort,
    dxfer_len: c_uint,
    dxferp: *mut c_void,
    cmdp: *const u8,
    sbp: *mut u8,
    timeout: c_uint,
    flags: c_uint,
    pack_id: c_int,
    usr_ptr: *mut c_void,
    status: u8,
    masked_status: u8,
    msg_status: u8,
    sb_len_wr: u8,
    host_status: c_ushort,
    driver_status: c_ushort,
    resid: c_int,
    duration: c_uint,
    info: c_uint,
}

/// A drive opened for SG_IO.
#[derive(Debug)]
pub struct SgDevice {
    file: File,
    path: PathBuf,
}

impl SgDevice {
    /// Opens `path` read-only and non-blocking (so that a drive without a
    /// disc still opens), then checks with INQUIRY that it is a CD/DVD drive.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`] (not in the `cdrom` group),
    /// [`Error::NoDevice`], [`Error::Busy`], [`Error::NotADrive`], or
    /// [`Error::Io`].
    pub fn open(path: &Path) -> Result<SgDevice, Error> {
        let device = path.display().to_string();
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| open_error(path, e))?;
        let mut dev = SgDevice {
            file,
            path: path.to_path_buf(),
        };
        let inq = match dev.execute_raw(&mmc::inquiry().cdb, Direction::FromDevice, 96) {
            Ok(b) => mmc::parse_inquiry(&b)?,
            Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::ENOTTY) => {
                return Err(Error::NotADrive {
                    device,
                    detail: "it does not accept SCSI commands".into(),
                })
            }
            Err(e) => return Err(e),
        };
        if inq.device_type != mmc::DEVICE_TYPE_MMC {
            return Err(Error::NotADrive {
                device,
                detail: format!("SCSI device type {:02X}h", inq.device_type),
            });
        }
        Ok(dev)
    }

    fn execute_raw(&mut self, cdb: &[u8], dir: Direction, len: usize) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; len];
        let n = self.execute(cdb, dir, &mut buf, Duration::from_secs(5))?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Where the disc in this drive is mounted, from `/proc/self/mounts`.
    pub fn mount_point(&self) -> Option<String> {
        mount_point_of(&self.path)
    }
}

fn mount_point_of(path: &Path) -> Option<String> {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (src, dst) = (f.next()?, f.next()?);
        let src = std::fs::canonicalize(src).unwrap_or_else(|_| PathBuf::from(src));
        // Mount points escape spaces as \040.
        (src == real).then(|| dst.replace("\\040", " "))
    })
}

fn open_error(path: &Path, e: std::io::Error) -> Error {
    let device = path.display().to_string();
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => Error::PermissionDenied { device },
        Some(libc::ENOENT) | Some(libc::ENXIO) | Some(libc::ENODEV) => Error::NoDevice { device },
        Some(libc::EBUSY) => Error::Busy {
            detail: match mount_point_of(path) {
                Some(m) => format!("the disc is mounted at {m}; unmount it first"),
                None => "another program holds it open exclusively".into(),
            },
            device,
        },
        Some(libc::ENOMEDIUM) => Error::Check {
            op: mmc::OP_TEST_UNIT_READY,
            sense: Sense::new(mmc::sense::KEY_NOT_READY, (0x3A, 0)),
        },
        _ => Error::Io { device, source: e },
    }
}

impl Transport for SgDevice {
    fn execute(
        &mut self,
        cdb: &[u8],
        direction: Direction,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, Error> {
        let op = cdb.first().copied().unwrap_or(0);
        if cdb.is_empty() || cdb.len() > 16 {
            return Err(Error::Unsupported(format!("a CDB of {} bytes", cdb.len())));
        }
        let dxfer_len = c_uint::try_from(buf.len())
            .map_err(|_| Error::Unsupported(format!("a transfer of {} bytes", buf.len())))?;
        let dxfer_direction = match direction {
            Direction::None if buf.is_empty() => SG_DXFER_NONE,
            Direction::None => {
                return Err(Error::Unsupported(
                    "a data buffer for a command without data".into(),
                ))
            }
            Direction::FromDevice => SG_DXFER_FROM_DEV,
            Direction::ToDevice => SG_DXFER_TO_DEV,
        };
        let mut sense = [0u8; SENSE_LEN];
        let ms = c_uint::try_from(timeout.as_millis()).unwrap_or(c_uint::MAX);
        let mut hdr = SgIoHdr {
            interface_id: SG_INTERFACE_ID,
            dxfer_direction,
            cmd_len: cdb.len() as u8,
            mx_sb_len: SENSE_LEN as u8,
            iovec_count: 0,
            dxfer_len,
            dxferp: if buf.is_empty() {
                std::ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast()
            },
            cmdp: cdb.as_ptr(),
            sbp: sense.as_mut_ptr(),
            timeout: ms,
            flags: 0,
            pack_id: 0,
            usr_ptr: std::ptr::null_mut(),
            status: 0,
            masked_status: 0,
            msg_status: 0,
            sb_len_wr: 0,
            host_status: 0,
            driver_status: 0,
            resid: 0,
            duration: 0,
            info: 0,
        };
        // SAFETY: `hdr` is a valid `sg_io_hdr` whose pointers refer to `cdb`
        // (cmd_len bytes), `buf` (dxfer_len bytes, or null when 0) and
        // `sense` (mx_sb_len bytes), all alive and not otherwise borrowed
        // until the synchronous ioctl returns; the fd is open for the call.
        let rc = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                SG_IO as _,
                std::ptr::addr_of_mut!(hdr),
            )
        };
        let device = self.path.display().to_string();
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => Error::PermissionDenied { device },
                Some(libc::ENODEV) | Some(libc::ENXIO) => Error::NoDevice { device },
                Some(libc::ENOMEDIUM) => Error::Check {
                    op,
                    sense: Sense::new(mmc::sense::KEY_NOT_READY, (0x3A, 0)),
                },
                _ => Error::Io { device, source: e },
            });
        }
        if hdr.host_status == DID_TIME_OUT || hdr.driver_status & 0x0F == DRIVER_TIMEOUT {
            return Err(Error::Timeout { op, timeout });
        }
        let sense_len = usize::from(hdr.sb_len_wr).min(SENSE_LEN);
        if hdr.status & 0x7E == STATUS_CHECK_CONDITION
            || (hdr.driver_status & DRIVER_SENSE != 0 && sense_len > 0)
        {
            return match Sense::parse(&sense[..sense_len]) {
                Some(s) => Err(self.check_error(op, s)),
                None => Err(Error::Transport {
                    op,
                    detail: "CHECK CONDITION without readable sense data".into(),
                }),
            };
        }
        if hdr.host_status == DID_NO_CONNECT {
            return Err(Error::NoDevice { device });
        }
        if hdr.host_status != 0 || hdr.status != 0 {
            return Err(Error::Transport {
                op,
                detail: format!(
                    "SCSI status {:02X}h, host status {:02X}h, driver status {:02X}h",
                    hdr.status, hdr.host_status, hdr.driver_status
                ),
            });
        }
        let resid = usize::try_from(hdr.resid.max(0)).unwrap_or(0);
        Ok(buf.len().saturating_sub(resid))
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

impl SgDevice {
    fn check_error(&self, op: u8, sense: Sense) -> Error {
        if (sense.asc, sense.ascq) == mmc::sense::ASC_REMOVAL_PREVENTED {
            if let Some(m) = self.mount_point() {
                return Error::Busy {
                    device: self.name(),
                    detail: format!("the disc is mounted at {m}; unmount it first"),
                };
            }
        }
        Error::Check { op, sense }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn header_layout_matches_the_kernel() {
        // sizeof(struct sg_io_hdr) on 64-bit Linux is 88 bytes, 64 on 32-bit.
        let expected = if cfg!(target_pointer_width = "64") {
            88
        } else {
            64
        };
        assert_eq!(std::mem::size_of::<SgIoHdr>(), expected);
    }

    #[test]
    fn opening_errors_are_clear() {
        let e = SgDevice::open(Path::new("/dev/aj-no-such-drive")).unwrap_err();
        assert!(matches!(e, Error::NoDevice { .. }), "{e}");
        let e = open_error(
            Path::new("/dev/sr9"),
            std::io::Error::from_raw_os_error(libc::EACCES),
        );
        assert!(e.to_string().contains("cdrom"), "{e}");
        // A regular file is not a drive.
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = SgDevice::open(f.path()).unwrap_err();
        assert!(matches!(e, Error::NotADrive { .. }), "{e}");
    }
}
