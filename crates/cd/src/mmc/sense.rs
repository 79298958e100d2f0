//! Sense data: what a drive says when a command ends in CHECK CONDITION.
//!
//! Layouts are SPC-4 §4.5 (fixed format, response codes 70h/71h, §4.5.3;
//! descriptor format, 72h/73h, §4.5.2). The sense keys are SPC-4's sense key table;
//! the additional sense codes MMC drives use are listed in MMC-6 annex F
//! ("Error Reporting") and SPC-4 annex D.

use std::fmt;

/// Sense key NO SENSE (SPC-4, sense key descriptions).
pub const KEY_NO_SENSE: u8 = 0x0;
/// Sense key RECOVERED ERROR.
pub const KEY_RECOVERED_ERROR: u8 = 0x1;
/// Sense key NOT READY.
pub const KEY_NOT_READY: u8 = 0x2;
/// Sense key MEDIUM ERROR.
pub const KEY_MEDIUM_ERROR: u8 = 0x3;
/// Sense key HARDWARE ERROR.
pub const KEY_HARDWARE_ERROR: u8 = 0x4;
/// Sense key ILLEGAL REQUEST.
pub const KEY_ILLEGAL_REQUEST: u8 = 0x5;
/// Sense key UNIT ATTENTION.
pub const KEY_UNIT_ATTENTION: u8 = 0x6;
/// Sense key DATA PROTECT.
pub const KEY_DATA_PROTECT: u8 = 0x7;
/// Sense key BLANK CHECK.
pub const KEY_BLANK_CHECK: u8 = 0x8;
/// Sense key ABORTED COMMAND.
pub const KEY_ABORTED_COMMAND: u8 = 0xB;

/// ASC 11h/00h UNRECOVERED READ ERROR (SPC-4 annex D).
pub const ASC_UNRECOVERED_READ_ERROR: (u8, u8) = (0x11, 0x00);
/// ASC 21h/00h LOGICAL BLOCK ADDRESS OUT OF RANGE.
pub const ASC_LBA_OUT_OF_RANGE: (u8, u8) = (0x21, 0x00);
/// ASC 20h/00h INVALID COMMAND OPERATION CODE.
pub const ASC_INVALID_OPCODE: (u8, u8) = (0x20, 0x00);
/// ASC 24h/00h INVALID FIELD IN CDB.
pub const ASC_INVALID_FIELD_IN_CDB: (u8, u8) = (0x24, 0x00);
/// ASC 3Ah/01h MEDIUM NOT PRESENT - TRAY CLOSED.
pub const ASC_NO_MEDIUM_TRAY_CLOSED: (u8, u8) = (0x3A, 0x01);
/// ASC 3Ah/02h MEDIUM NOT PRESENT - TRAY OPEN.
pub const ASC_NO_MEDIUM_TRAY_OPEN: (u8, u8) = (0x3A, 0x02);
/// ASC 64h/00h ILLEGAL MODE FOR THIS TRACK (MMC-6 annex F).
pub const ASC_ILLEGAL_MODE_FOR_TRACK: (u8, u8) = (0x64, 0x00);
/// ASC 53h/02h MEDIUM REMOVAL PREVENTED.
pub const ASC_REMOVAL_PREVENTED: (u8, u8) = (0x53, 0x02);

/// Response code of fixed-format current errors (SPC-4 §4.5.3).
const FIXED_CURRENT: u8 = 0x70;
/// Response code of fixed-format deferred errors.
const FIXED_DEFERRED: u8 = 0x71;
/// Response code of descriptor-format current errors (SPC-4 §4.5.2).
const DESC_CURRENT: u8 = 0x72;
/// Response code of descriptor-format deferred errors.
const DESC_DEFERRED: u8 = 0x73;
/// Length of the fixed-format sense data we build and ask for.
pub const FIXED_SENSE_LEN: usize = 18;

/// Decoded sense data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sense {
    /// Sense key (low 4 bits).
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
    /// The INFORMATION field when valid: for read errors, the LBA that failed.
    pub information: Option<u32>,
}

impl Sense {
    /// Sense data with no INFORMATION field.
    pub fn new(key: u8, (asc, ascq): (u8, u8)) -> Sense {
        Sense {
            key,
            asc,
            ascq,
            information: None,
        }
    }

    /// A medium error at `lba` (03h/11h/00h with the LBA in INFORMATION).
    pub fn medium_error_at(lba: i32) -> Sense {
        Sense {
            key: KEY_MEDIUM_ERROR,
            asc: ASC_UNRECOVERED_READ_ERROR.0,
            ascq: ASC_UNRECOVERED_READ_ERROR.1,
            information: Some(lba as u32),
        }
    }

    /// Parses fixed or descriptor format sense data. `None` when the buffer
    /// holds no recognisable sense data (too short, unknown response code).
    pub fn parse(buf: &[u8]) -> Option<Sense> {
        let code = buf.first()? & 0x7F;
        match code {
            FIXED_CURRENT | FIXED_DEFERRED => {
                let key = buf.get(2)? & 0x0F;
                let valid = buf.first()? & 0x80 != 0;
                let information = match (valid, buf.get(3..7)) {
                    (true, Some(b)) => Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    _ => None,
                };
                // The additional sense length may cut ASC/ASCQ off.
                let asc = buf.get(12).copied().unwrap_or(0);
                let ascq = buf.get(13).copied().unwrap_or(0);
                Some(Sense {
                    key,
                    asc,
                    ascq,
                    information,
                })
            }
            DESC_CURRENT | DESC_DEFERRED => {
                let key = buf.get(1)? & 0x0F;
                let asc = buf.get(2).copied().unwrap_or(0);
                let ascq = buf.get(3).copied().unwrap_or(0);
                // The INFORMATION descriptor (type 00h) carries the LBA.
                let add_len = usize::from(buf.get(7).copied().unwrap_or(0));
                let end = (8 + add_len).min(buf.len());
                let mut information = None;
                let mut p = 8;
                while p + 2 <= end {
                    let (ty, len) = (buf[p], usize::from(buf[p + 1]));
                    if ty == 0 && len >= 0x0A && p + 12 <= end {
                        let b = &buf[p + 8..p + 12];
                        information = Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    }
                    p += 2 + len;
                }
                Some(Sense {
                    key,
                    asc,
                    ascq,
                    information,
                })
            }
            _ => None,
        }
    }

    /// Fixed-format sense data (18 bytes), as REQUEST SENSE returns it.
    pub fn to_bytes(&self) -> [u8; FIXED_SENSE_LEN] {
        let mut b = [0u8; FIXED_SENSE_LEN];
        b[0] = FIXED_CURRENT | if self.information.is_some() { 0x80 } else { 0 };
        b[2] = self.key & 0x0F;
        if let Some(i) = self.information {
            b[3..7].copy_from_slice(&i.to_be_bytes());
        }
        b[7] = (FIXED_SENSE_LEN - 8) as u8;
        b[12] = self.asc;
        b[13] = self.ascq;
        b
    }

    /// True for "no medium in the drive" (ASC 3Ah).
    pub fn is_no_medium(&self) -> bool {
        self.asc == 0x3A
    }

    /// True for a medium error (the disc could not be read there).
    pub fn is_medium_error(&self) -> bool {
        self.key == KEY_MEDIUM_ERROR
    }

    /// True when trying again later may succeed: the drive is becoming
    /// ready, reported a unit attention (media changed, reset), or aborted.
    pub fn is_retryable(&self) -> bool {
        matches!(
            (self.key, self.asc, self.ascq),
            (KEY_NOT_READY, 0x04, 0x01)
                | (KEY_NOT_READY, 0x04, 0x07)
                | (KEY_UNIT_ATTENTION, _, _)
                | (KEY_ABORTED_COMMAND, _, _)
        )
    }

    /// The name of the sense key, lower case.
    pub fn key_name(&self) -> &'static str {
        match self.key {
            KEY_NO_SENSE => "no sense",
            KEY_RECOVERED_ERROR => "recovered error",
            KEY_NOT_READY => "not ready",
            KEY_MEDIUM_ERROR => "medium error",
            KEY_HARDWARE_ERROR => "hardware error",
            KEY_ILLEGAL_REQUEST => "illegal request",
            KEY_UNIT_ATTENTION => "unit attention",
            KEY_DATA_PROTECT => "data protect",
            KEY_BLANK_CHECK => "blank check",
            0x9 => "vendor specific",
            0xA => "copy aborted",
            KEY_ABORTED_COMMAND => "aborted command",
            0xD => "volume overflow",
            0xE => "miscompare",
            _ => "reserved sense key",
        }
    }

    /// What the ASC/ASCQ pair means, when it is one a CD drive reports.
    pub fn description(&self) -> Option<&'static str> {
        // SPC-4 annex D, table D.1, and MMC-6 annex F.
        Some(match (self.asc, self.ascq) {
            (0x00, 0x00) => "no additional information",
            (0x00, 0x11) => "audio play operation in progress",
            (0x02, 0x00) => "no seek complete",
            (0x04, 0x00) => "cause not reportable",
            (0x04, 0x01) => "becoming ready",
            (0x04, 0x02) => "initializing command required",
            (0x04, 0x03) => "manual intervention required",
            (0x04, 0x04) => "format in progress",
            (0x04, 0x07) => "operation in progress",
            (0x04, 0x08) => "long write in progress",
            (0x05, 0x00) => "logical unit does not respond to selection",
            (0x06, 0x00) => "no reference position found",
            (0x08, 0x00) => "logical unit communication failure",
            (0x08, 0x01) => "logical unit communication timeout",
            (0x09, 0x00) => "track following error",
            (0x09, 0x01) => "tracking servo failure",
            (0x09, 0x02) => "focus servo failure",
            (0x09, 0x03) => "spindle servo failure",
            (0x0C, 0x00) => "write error",
            (0x11, 0x00) => "unrecovered read error",
            (0x11, 0x05) => "L-EC uncorrectable error",
            (0x11, 0x06) => "CIRC unrecovered error",
            (0x15, 0x00) => "random positioning error",
            (0x15, 0x01) => "mechanical positioning error",
            (0x15, 0x02) => "positioning error detected by read of medium",
            (0x17, 0x00) => "recovered data with no error correction applied",
            (0x17, 0x01) => "recovered data with retries",
            (0x18, 0x00) => "recovered data with error correction applied",
            (0x1A, 0x00) => "parameter list length error",
            (0x20, 0x00) => "invalid command operation code",
            (0x21, 0x00) => "logical block address out of range",
            (0x21, 0x02) => "invalid address for write",
            (0x24, 0x00) => "invalid field in CDB",
            (0x25, 0x00) => "logical unit not supported",
            (0x26, 0x00) => "invalid field in parameter list",
            (0x27, 0x00) => "write protected",
            (0x28, 0x00) => "medium may have changed",
            (0x29, 0x00) => "power on, reset, or bus device reset occurred",
            (0x2A, 0x01) => "mode parameters changed",
            (0x30, 0x00) => "incompatible medium installed",
            (0x30, 0x01) => "cannot read medium: unknown format",
            (0x30, 0x02) => "cannot read medium: incompatible format",
            (0x31, 0x00) => "medium format corrupted",
            (0x3A, 0x00) => "medium not present",
            (0x3A, 0x01) => "medium not present, tray closed",
            (0x3A, 0x02) => "medium not present, tray open",
            (0x3E, 0x02) => "timeout on logical unit",
            (0x44, 0x00) => "internal target failure",
            (0x53, 0x00) => "media load or eject failed",
            (0x53, 0x02) => "medium removal prevented",
            (0x57, 0x00) => "unable to recover table of contents",
            (0x5A, 0x01) => "operator medium removal request",
            (0x63, 0x00) => "end of user area encountered on this track",
            (0x64, 0x00) => "illegal mode for this track",
            (0x64, 0x01) => "invalid packet size",
            (0x6F, 0x00) => "copy protection key exchange failure",
            (0x72, 0x00) => "session fixation error",
            (0x73, 0x00) => "CD control error",
            _ => return None,
        })
    }
}

impl fmt::Display for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_no_medium() {
            return match self.ascq {
                0x01 => f.write_str("no medium (the tray is closed and empty)"),
                0x02 => f.write_str("no medium (the tray is open)"),
                _ => f.write_str("no medium"),
            };
        }
        write!(f, "{}: ", self.key_name())?;
        match self.description() {
            Some(d) => f.write_str(d)?,
            None => write!(f, "ASC {:02X}h ASCQ {:02X}h", self.asc, self.ascq)?,
        }
        if let Some(info) = self.information {
            if self.key == KEY_MEDIUM_ERROR || self.asc == 0x21 {
                write!(f, " at LBA {}", info as i32)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages() {
        let s = Sense::medium_error_at(1234);
        assert_eq!(
            s.to_string(),
            "medium error: unrecovered read error at LBA 1234"
        );
        assert_eq!(
            Sense::new(KEY_NOT_READY, (0x04, 0x01)).to_string(),
            "not ready: becoming ready"
        );
        assert_eq!(
            Sense::new(KEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB).to_string(),
            "illegal request: invalid field in CDB"
        );
        assert_eq!(
            Sense::new(KEY_NOT_READY, (0x3A, 0)).to_string(),
            "no medium"
        );
        assert_eq!(
            Sense::new(KEY_HARDWARE_ERROR, (0xF0, 0x12)).to_string(),
            "hardware error: ASC F0h ASCQ 12h"
        );
    }

    #[test]
    fn fixed_round_trip_and_garbage() {
        let s = Sense::medium_error_at(-5);
        assert_eq!(Sense::parse(&s.to_bytes()), Some(s));
        assert_eq!(
            s.to_string(),
            "medium error: unrecovered read error at LBA -5"
        );
        assert_eq!(Sense::parse(&[]), None);
        assert_eq!(Sense::parse(&[0x70]), None);
        assert_eq!(Sense::parse(&[0x00, 1, 2, 3]), None);
        // Fixed sense cut before ASC: key kept, ASC unknown.
        let short = Sense::parse(&[0x70, 0, 0x02, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!((short.key, short.asc, short.information), (2, 0, None));
    }

    #[test]
    fn descriptor_format() {
        let mut b = vec![0x72, 0x03, 0x11, 0x00, 0, 0, 0, 12];
        b.extend_from_slice(&[0x00, 0x0A, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00]);
        let s = Sense::parse(&b).unwrap();
        assert_eq!(s.key, KEY_MEDIUM_ERROR);
        assert_eq!(s.information, Some(256));
        // A descriptor length running past the end is ignored, not a panic.
        let s = Sense::parse(&[0x72, 0x05, 0x24, 0, 0, 0, 0, 200, 0, 0xFF]).unwrap();
        assert_eq!(s.information, None);
    }
}
