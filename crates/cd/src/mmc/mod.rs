//! MMC commands: building command descriptor blocks and parsing what the
//! drive answers.
//!
//! Each command has a builder returning a [`Command`] (the CDB bytes, the
//! direction and the expected transfer length) and, when it returns data, a
//! parser turning the response into typed values. Parsers accept truncated
//! responses where the data that is there is meaningful (drives often return
//! less than asked) and return [`Error::BadResponse`] otherwise; they never
//! panic on any bytes.
//!
//! References: MMC-6 (T10/1836-D revision 2g) for the multimedia commands,
//! SPC-3/SPC-4 for INQUIRY, REQUEST SENSE, MODE SENSE(10), PREVENT ALLOW
//! MEDIUM REMOVAL and TEST UNIT READY, SBC-3 for START STOP UNIT, and MMC-3
//! for mode page 2Ah and READ SUB-CHANNEL, which later revisions dropped but
//! every drive still answers.
//!
//! Section numbers are given only where they were checked against other
//! implementations that cite the same revision (MMC-6 r2g: §6.5 GET
//! CONFIGURATION, §6.19 READ CD, §6.25 READ TOC/PMA/ATIP; SPC-3: §6.4
//! INQUIRY, §6.13 PREVENT ALLOW MEDIUM REMOVAL, §6.27 REQUEST SENSE, §6.33
//! TEST UNIT READY). Elsewhere the command, field or feature is named with
//! its code, which does not change between revisions. [`Drive`] sends them over a
//! [`Transport`](crate::transport::Transport).

use std::time::Duration;

use aj_core::{Lba, Msf};

pub use crate::transport::{Direction, Error};

mod drive;
pub mod scan;
pub mod sense;
pub mod subq;

pub use drive::Drive;
pub use sense::Sense;

// Operation codes (MMC-6, the table of commands; SPC-4 annex E).
/// TEST UNIT READY, 00h (SPC-3 §6.33).
pub const OP_TEST_UNIT_READY: u8 = 0x00;
/// REQUEST SENSE, 03h (SPC-3 §6.27).
pub const OP_REQUEST_SENSE: u8 = 0x03;
/// INQUIRY, 12h (SPC-3 §6.4; MMC-6, INQUIRY, for what MMC devices return).
pub const OP_INQUIRY: u8 = 0x12;
/// START STOP UNIT, 1Bh (SBC-3; MMC-6, START STOP UNIT).
pub const OP_START_STOP_UNIT: u8 = 0x1B;
/// PREVENT ALLOW MEDIUM REMOVAL, 1Eh (SPC-3 §6.13; MMC-6, PREVENT ALLOW MEDIUM
/// REMOVAL).
pub const OP_PREVENT_ALLOW: u8 = 0x1E;
/// READ(10), 28h (SBC-3; MMC-6, READ (10)).
pub const OP_READ_10: u8 = 0x28;
/// READ SUB-CHANNEL, 42h (MMC-3, READ SUB-CHANNEL).
pub const OP_READ_SUB_CHANNEL: u8 = 0x42;
/// READ TOC/PMA/ATIP, 43h (MMC-6 §6.25).
pub const OP_READ_TOC: u8 = 0x43;
/// GET CONFIGURATION, 46h (MMC-6 §6.5).
pub const OP_GET_CONFIGURATION: u8 = 0x46;
/// GET EVENT STATUS NOTIFICATION, 4Ah (MMC-6, GET EVENT STATUS NOTIFICATION).
pub const OP_GET_EVENT_STATUS: u8 = 0x4A;
/// MODE SENSE(10), 5Ah (SPC-4, MODE SENSE(10); MMC-6, MODE SENSE (10)).
pub const OP_MODE_SENSE_10: u8 = 0x5A;
/// SET CD SPEED, BBh (MMC-6, SET CD SPEED).
pub const OP_SET_CD_SPEED: u8 = 0xBB;
/// READ CD, BEh (MMC-6 §6.19).
pub const OP_READ_CD: u8 = 0xBE;

/// Bytes of CD-DA per sector (Red Book: 588 stereo 16-bit frames).
pub const CDDA_SECTOR: usize = 2352;
/// Bytes of C2 error pointers per sector: one bit per byte of CD-DA (MMC-6
/// §6.19, READ CD, C2 Error Pointers field 01b).
pub const C2_LEN: usize = 294;
/// Bytes of formatted Q sub-channel per sector (MMC-6 §6.19, READ CD,
/// Sub-channel Selection field 010b).
pub const SUB_Q_LEN: usize = 16;
/// Bytes of raw P-W sub-channel per sector (MMC-6 §6.19, READ CD,
/// Sub-channel Selection field 001b).
pub const SUB_RAW_LEN: usize = 96;
/// The track number of the lead-out in a TOC (MMC-6 §6.25.3.2).
pub const LEAD_OUT: u8 = 0xAA;

/// The longest READ CD transfer this layer builds (in sectors): 26 sectors
/// of 2352 + 294 + 96 bytes stay under 64 KiB, the limit of many host
/// adapters.
pub const MAX_READ_SECTORS: u32 = 24;

/// The name of a command, for messages.
pub fn op_name(op: u8) -> &'static str {
    match op {
        OP_TEST_UNIT_READY => "TEST UNIT READY",
        OP_REQUEST_SENSE => "REQUEST SENSE",
        OP_INQUIRY => "INQUIRY",
        OP_START_STOP_UNIT => "START STOP UNIT",
        OP_PREVENT_ALLOW => "PREVENT ALLOW MEDIUM REMOVAL",
        OP_READ_10 => "READ(10)",
        OP_READ_SUB_CHANNEL => "READ SUB-CHANNEL",
        OP_READ_TOC => "READ TOC/PMA/ATIP",
        OP_GET_CONFIGURATION => "GET CONFIGURATION",
        OP_GET_EVENT_STATUS => "GET EVENT STATUS NOTIFICATION",
        OP_MODE_SENSE_10 => "MODE SENSE(10)",
        OP_SET_CD_SPEED => "SET CD SPEED",
        OP_READ_CD => "READ CD",
        _ => "command",
    }
}

/// One command ready to send: CDB, direction and how many bytes to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command descriptor block (6, 10 or 12 bytes).
    pub cdb: Vec<u8>,
    pub direction: Direction,
    /// Bytes to transfer (the allocation length for data-in commands).
    pub transfer_len: usize,
    /// How long the drive may take.
    pub timeout: Duration,
}

impl Command {
    fn new(cdb: Vec<u8>, direction: Direction, transfer_len: usize, secs: u64) -> Command {
        Command {
            cdb,
            direction,
            transfer_len,
            timeout: Duration::from_secs(secs),
        }
    }

    /// The operation code's name, for messages.
    pub fn name(&self) -> &'static str {
        op_name(self.cdb.first().copied().unwrap_or(0xFF))
    }
}

fn bad(command: &'static str, reason: impl Into<String>) -> Error {
    Error::BadResponse {
        command,
        reason: reason.into(),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The data a response holds according to its own length field (a 2-byte
/// field at offset 0 counting the bytes after it), cut to what arrived.
fn declared<'a>(resp: &'a [u8], what: &'static str) -> Result<&'a [u8], Error> {
    let len = be16(resp, 0).ok_or_else(|| bad(what, format!("{} bytes, no header", resp.len())))?;
    let end = (usize::from(len) + 2).min(resp.len());
    Ok(&resp[..end])
}

// ---------------------------------------------------------------- INQUIRY

/// Allocation length for INQUIRY (the standard data is 36 bytes or more).
const INQUIRY_LEN: u16 = 96;
/// Peripheral device type of MMC devices (SPC-3 §6.4.2, standard INQUIRY
/// data, peripheral device type 05h: CD/DVD device).
pub const DEVICE_TYPE_MMC: u8 = 0x05;

/// INQUIRY, standard data (SPC-3 §6.4: EVPD 0, page 0).
pub fn inquiry() -> Command {
    let [hi, lo] = INQUIRY_LEN.to_be_bytes();
    Command::new(
        vec![OP_INQUIRY, 0, 0, hi, lo, 0],
        Direction::FromDevice,
        usize::from(INQUIRY_LEN),
        5,
    )
}

/// Standard INQUIRY data (SPC-3 §6.4.2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inquiry {
    /// Peripheral device type (05h for CD/DVD/BD drives).
    pub device_type: u8,
    pub removable: bool,
    pub vendor: String,
    pub model: String,
    pub revision: String,
}

fn ascii_field(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if (0x20..0x7F).contains(&c) {
                char::from(c)
            } else {
                ' '
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Parses standard INQUIRY data.
///
/// # Errors
/// [`Error::BadResponse`] when fewer than 36 bytes arrived.
pub fn parse_inquiry(resp: &[u8]) -> Result<Inquiry, Error> {
    if resp.len() < 36 {
        return Err(bad("INQUIRY", format!("{} bytes (36 needed)", resp.len())));
    }
    Ok(Inquiry {
        device_type: resp[0] & 0x1F,
        removable: resp[1] & 0x80 != 0,
        vendor: ascii_field(&resp[8..16]),
        model: ascii_field(&resp[16..32]),
        revision: ascii_field(&resp[32..36]),
    })
}

/// Builds standard INQUIRY data (for the virtual drive).
pub fn build_inquiry(vendor: &str, model: &str, revision: &str) -> Vec<u8> {
    let mut b = vec![0u8; 36];
    b[0] = DEVICE_TYPE_MMC;
    b[1] = 0x80;
    b[2] = 0x05; // SPC-3
    b[3] = 0x02; // response data format 2
    b[4] = 31;
    for (dst, src) in [(8..16, vendor), (16..32, model), (32..36, revision)] {
        let field = &mut b[dst];
        field.fill(b' ');
        for (d, s) in field.iter_mut().zip(src.bytes()) {
            *d = s;
        }
    }
    b
}

// ------------------------------------------------ TEST UNIT READY, SENSE

/// TEST UNIT READY (SPC-3 §6.33): no data; GOOD when a disc is ready.
pub fn test_unit_ready() -> Command {
    Command::new(
        vec![OP_TEST_UNIT_READY, 0, 0, 0, 0, 0],
        Direction::None,
        0,
        5,
    )
}

/// REQUEST SENSE (SPC-3 §6.27), fixed format, 18 bytes.
pub fn request_sense() -> Command {
    Command::new(
        vec![OP_REQUEST_SENSE, 0, 0, 0, sense::FIXED_SENSE_LEN as u8, 0],
        Direction::FromDevice,
        sense::FIXED_SENSE_LEN,
        5,
    )
}

/// Parses REQUEST SENSE data.
///
/// # Errors
/// [`Error::BadResponse`] when no sense data is recognisable.
pub fn parse_request_sense(resp: &[u8]) -> Result<Sense, Error> {
    Sense::parse(resp).ok_or_else(|| bad("REQUEST SENSE", "no sense data in the response"))
}

// ------------------------------------------------------ GET CONFIGURATION

/// Allocation length for GET CONFIGURATION.
const CONFIG_LEN: u16 = 4096;

/// Feature 0000h, Profile List (MMC-6, feature definitions).
pub const FEATURE_PROFILE_LIST: u16 = 0x0000;
/// Feature 0003h, Removable Medium (MMC-6, feature definitions).
pub const FEATURE_REMOVABLE_MEDIUM: u16 = 0x0003;
/// Feature 001Eh, CD Read (MMC-6, feature definitions).
pub const FEATURE_CD_READ: u16 = 0x001E;
/// Feature 002Dh, CD Track at Once (MMC-6, feature definitions).
pub const FEATURE_CD_TAO: u16 = 0x002D;
/// Feature 002Eh, CD Mastering (Session at Once / Raw) (MMC-6, feature
/// definitions).
pub const FEATURE_CD_MASTERING: u16 = 0x002E;

/// GET CONFIGURATION with RT = 00b: every feature the drive knows, current
/// or not (MMC-6 §6.5).
pub fn get_configuration() -> Command {
    let [hi, lo] = CONFIG_LEN.to_be_bytes();
    Command::new(
        vec![OP_GET_CONFIGURATION, 0, 0, 0, 0, 0, 0, hi, lo, 0],
        Direction::FromDevice,
        usize::from(CONFIG_LEN),
        10,
    )
}

/// A profile the drive supports (MMC-6, feature 0000h Profile List).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Profile {
    pub code: u16,
    /// True for the profile of the medium in the drive.
    pub current: bool,
}

/// The name of a profile number (MMC-6, the table of profiles).
pub fn profile_name(code: u16) -> &'static str {
    match code {
        0x0000 => "none",
        0x0001 => "non-removable disk",
        0x0002 => "removable disk",
        0x0008 => "CD-ROM",
        0x0009 => "CD-R",
        0x000A => "CD-RW",
        0x0010 => "DVD-ROM",
        0x0011 => "DVD-R",
        0x0012 => "DVD-RAM",
        0x0013 => "DVD-RW (restricted overwrite)",
        0x0014 => "DVD-RW (sequential)",
        0x0015 => "DVD-R DL (sequential)",
        0x0016 => "DVD-R DL (layer jump)",
        0x001A => "DVD+RW",
        0x001B => "DVD+R",
        0x002A => "DVD+RW DL",
        0x002B => "DVD+R DL",
        0x0040 => "BD-ROM",
        0x0041 => "BD-R (SRM)",
        0x0042 => "BD-R (RRM)",
        0x0043 => "BD-RE",
        0x0050 => "HD DVD-ROM",
        0x0051 => "HD DVD-R",
        0x0052 => "HD DVD-RAM",
        0xFFFF => "non-standard",
        _ => "unknown",
    }
}

/// The CD Read feature, 001Eh (MMC-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CdReadFeature {
    /// READ TOC format 5 (CD-TEXT) is supported.
    pub cd_text: bool,
    /// READ CD returns C2 error pointers.
    pub c2_flags: bool,
    /// Digital audio play.
    pub dap: bool,
}

/// The CD Track at Once feature, 002Dh (MMC-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CdTaoFeature {
    pub buffer_underrun_free: bool,
    pub rw_raw: bool,
    pub rw_pack: bool,
    pub test_write: bool,
    pub cd_rw: bool,
    pub rw_subcode: bool,
}

/// The CD Mastering feature, 002Eh: Session at Once and Raw (MMC-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CdMasteringFeature {
    pub buffer_underrun_free: bool,
    /// Session at Once (SEND CUE SHEET).
    pub sao: bool,
    pub raw_multisession: bool,
    pub raw: bool,
    pub test_write: bool,
    pub cd_rw: bool,
    pub rw: bool,
    /// Longest cue sheet SEND CUE SHEET accepts, in bytes.
    pub max_cue_sheet: u32,
}

/// The Removable Medium feature, 0003h (MMC-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct RemovableMediumFeature {
    /// Loading mechanism (0 caddy, 1 tray, 2 pop-up, 4 changer, 5 cartridge changer).
    pub mechanism: u8,
    pub eject: bool,
    pub lock: bool,
}

/// What GET CONFIGURATION says.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Configuration {
    /// The profile of the medium in the drive (0 with no medium).
    pub current_profile: u16,
    pub profiles: Vec<Profile>,
    /// Every feature code listed, in order.
    pub features: Vec<u16>,
    pub removable: Option<RemovableMediumFeature>,
    pub cd_read: Option<CdReadFeature>,
    pub cd_tao: Option<CdTaoFeature>,
    pub cd_mastering: Option<CdMasteringFeature>,
}

/// Parses a GET CONFIGURATION response (MMC-6 §6.5: an 8-byte header
/// with a 4-byte data length, then feature descriptors). A descriptor cut
/// off by the allocation length is ignored.
///
/// # Errors
/// [`Error::BadResponse`] when the header is incomplete.
pub fn parse_configuration(resp: &[u8]) -> Result<Configuration, Error> {
    const W: &str = "GET CONFIGURATION";
    let len = be32(resp, 0).ok_or_else(|| bad(W, format!("{} bytes, no header", resp.len())))?;
    if resp.len() < 8 {
        return Err(bad(W, format!("{} bytes, no header", resp.len())));
    }
    let end = (len as usize).saturating_add(4).min(resp.len());
    let mut c = Configuration {
        current_profile: be16(resp, 6).unwrap_or(0),
        ..Configuration::default()
    };
    let mut p = 8;
    while p + 4 <= end {
        let code = be16(resp, p).unwrap_or(0);
        let add = usize::from(resp[p + 3]);
        let Some(d) = resp.get(p + 4..p + 4 + add).filter(|_| p + 4 + add <= end) else {
            break;
        };
        c.features.push(code);
        let bit = |i: usize, b: u8| d.get(i).is_some_and(|x| x & (1 << b) != 0);
        match code {
            FEATURE_PROFILE_LIST => {
                for pd in d.chunks_exact(4) {
                    c.profiles.push(Profile {
                        code: u16::from_be_bytes([pd[0], pd[1]]),
                        current: pd[2] & 1 != 0,
                    });
                }
            }
            FEATURE_REMOVABLE_MEDIUM => {
                c.removable = Some(RemovableMediumFeature {
                    mechanism: d.first().map_or(0, |x| x >> 5),
                    eject: bit(0, 3),
                    lock: bit(0, 0),
                });
            }
            FEATURE_CD_READ => {
                c.cd_read = Some(CdReadFeature {
                    cd_text: bit(0, 0),
                    c2_flags: bit(0, 1),
                    dap: bit(0, 7),
                });
            }
            FEATURE_CD_TAO => {
                c.cd_tao = Some(CdTaoFeature {
                    buffer_underrun_free: bit(0, 6),
                    rw_raw: bit(0, 4),
                    rw_pack: bit(0, 3),
                    test_write: bit(0, 2),
                    cd_rw: bit(0, 1),
                    rw_subcode: bit(0, 0),
                });
            }
            FEATURE_CD_MASTERING => {
                let max = d
                    .get(1..4)
                    .map_or(0, |m| u32::from_be_bytes([0, m[0], m[1], m[2]]));
                c.cd_mastering = Some(CdMasteringFeature {
                    buffer_underrun_free: bit(0, 6),
                    sao: bit(0, 5),
                    raw_multisession: bit(0, 4),
                    raw: bit(0, 3),
                    test_write: bit(0, 2),
                    cd_rw: bit(0, 1),
                    rw: bit(0, 0),
                    max_cue_sheet: max,
                });
            }
            _ => {}
        }
        p += 4 + add;
    }
    Ok(c)
}

/// One feature descriptor for [`build_configuration`]: code, current flag
/// and the feature-dependent bytes.
pub type FeatureDescriptor = (u16, bool, Vec<u8>);

/// Builds a GET CONFIGURATION response (for the virtual drive).
pub fn build_configuration(current_profile: u16, features: &[FeatureDescriptor]) -> Vec<u8> {
    let mut b = vec![0u8; 8];
    b[6..8].copy_from_slice(&current_profile.to_be_bytes());
    for (code, current, data) in features {
        b.extend_from_slice(&code.to_be_bytes());
        // Version 0 (1 for CD Read in MMC-5+ is optional); persistent 0.
        b.push(u8::from(*current));
        b.push(data.len() as u8);
        b.extend_from_slice(data);
    }
    let len = (b.len() - 4) as u32;
    b[0..4].copy_from_slice(&len.to_be_bytes());
    b
}

// ------------------------------------------------- MODE SENSE page 2Ah

/// Mode page 2Ah, CD/DVD Capabilities and Mechanical Status (MMC-3, mode
/// page 2Ah; kept by drives after MMC-5 made it legacy).
pub const PAGE_CAPABILITIES: u8 = 0x2A;
const MODE_SENSE_LEN: u16 = 256;

/// MODE SENSE(10) of page 2Ah, current values, no block descriptors
/// (SPC-4, MODE SENSE(10): DBD = 1, PC = 00b).
pub fn mode_sense_capabilities() -> Command {
    let [hi, lo] = MODE_SENSE_LEN.to_be_bytes();
    Command::new(
        vec![
            OP_MODE_SENSE_10,
            0x08,
            PAGE_CAPABILITIES,
            0,
            0,
            0,
            0,
            hi,
            lo,
            0,
        ],
        Direction::FromDevice,
        usize::from(MODE_SENSE_LEN),
        5,
    )
}

/// What page 2Ah says about the drive.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Capabilities {
    pub read_cd_r: bool,
    pub read_cd_rw: bool,
    pub read_dvd: bool,
    pub write_cd_r: bool,
    pub write_cd_rw: bool,
    pub test_write: bool,
    /// READ CD of CD-DA sectors works.
    pub cd_da_commands: bool,
    /// The CD-DA stream is accurate: reads start where they are asked to
    /// (no jitter between commands).
    pub accurate_stream: bool,
    pub c2_pointers: bool,
    pub isrc: bool,
    pub upc: bool,
    pub rw_subchannel: bool,
    pub lock: bool,
    pub eject: bool,
    /// Loading mechanism (0 caddy, 1 tray, 2 pop-up, 4/5 changers).
    pub loading_mechanism: u8,
    /// Maximum read speed in kB/s (obsolete in MMC-3, still reported).
    pub max_read_speed: u16,
    /// Current read speed in kB/s.
    pub current_read_speed: u16,
    /// Buffer size in KiB.
    pub buffer_kib: u16,
    /// Write speeds in kB/s from the performance descriptors.
    pub write_speeds: Vec<u16>,
}

/// Parses a MODE SENSE(10) response holding page 2Ah.
///
/// # Errors
/// [`Error::BadResponse`] when the header is incomplete, the page is not
/// 2Ah, or it is shorter than the 20 bytes every MMC-2 drive returns.
pub fn parse_capabilities(resp: &[u8]) -> Result<Capabilities, Error> {
    const W: &str = "MODE SENSE(10)";
    let data = declared(resp, W)?;
    let bd_len =
        usize::from(be16(data, 6).ok_or_else(|| bad(W, "mode parameter header cut short"))?);
    let page = data
        .get(8 + bd_len..)
        .ok_or_else(|| bad(W, "no mode page after the header"))?;
    let code = page.first().map(|c| c & 0x3F);
    if code != Some(PAGE_CAPABILITIES) {
        return Err(bad(
            W,
            format!("page {:02X}h instead of 2Ah", code.unwrap_or(0)),
        ));
    }
    let plen = usize::from(page.get(1).copied().unwrap_or(0)) + 2;
    let page = &page[..plen.min(page.len())];
    if page.len() < 20 {
        return Err(bad(W, format!("page 2Ah of {} bytes", page.len())));
    }
    let bit = |i: usize, b: u8| page[i] & (1 << b) != 0;
    let mut write_speeds = Vec::new();
    if let Some(n) = be16(page, 30) {
        for i in 0..usize::from(n) {
            match be16(page, 32 + 4 * i + 2) {
                Some(s) => write_speeds.push(s),
                None => break,
            }
        }
    }
    Ok(Capabilities {
        read_cd_r: bit(2, 0),
        read_cd_rw: bit(2, 1),
        read_dvd: bit(2, 3),
        write_cd_r: bit(3, 0),
        write_cd_rw: bit(3, 1),
        test_write: bit(3, 2),
        cd_da_commands: bit(5, 0),
        accurate_stream: bit(5, 1),
        rw_subchannel: bit(5, 2),
        c2_pointers: bit(5, 4),
        isrc: bit(5, 5),
        upc: bit(5, 6),
        lock: bit(6, 0),
        eject: bit(6, 3),
        loading_mechanism: page[6] >> 5,
        max_read_speed: be16(page, 8).unwrap_or(0),
        buffer_kib: be16(page, 12).unwrap_or(0),
        current_read_speed: be16(page, 14).unwrap_or(0),
        write_speeds,
    })
}

/// Builds a MODE SENSE(10) response with page 2Ah (for the virtual drive).
pub fn build_capabilities(c: &Capabilities) -> Vec<u8> {
    let mut page = vec![0u8; 32];
    page[0] = PAGE_CAPABILITIES;
    let set = |p: &mut [u8], i: usize, b: u8, v: bool| {
        if v {
            p[i] |= 1 << b;
        }
    };
    set(&mut page, 2, 0, c.read_cd_r);
    set(&mut page, 2, 1, c.read_cd_rw);
    set(&mut page, 2, 3, c.read_dvd);
    set(&mut page, 3, 0, c.write_cd_r);
    set(&mut page, 3, 1, c.write_cd_rw);
    set(&mut page, 3, 2, c.test_write);
    set(&mut page, 5, 0, c.cd_da_commands);
    set(&mut page, 5, 1, c.accurate_stream);
    set(&mut page, 5, 2, c.rw_subchannel);
    set(&mut page, 5, 4, c.c2_pointers);
    set(&mut page, 5, 5, c.isrc);
    set(&mut page, 5, 6, c.upc);
    set(&mut page, 6, 0, c.lock);
    set(&mut page, 6, 3, c.eject);
    page[6] |= c.loading_mechanism << 5;
    page[8..10].copy_from_slice(&c.max_read_speed.to_be_bytes());
    page[12..14].copy_from_slice(&c.buffer_kib.to_be_bytes());
    page[14..16].copy_from_slice(&c.current_read_speed.to_be_bytes());
    page[30..32].copy_from_slice(&(c.write_speeds.len() as u16).to_be_bytes());
    for s in &c.write_speeds {
        page.extend_from_slice(&[0, 0]);
        page.extend_from_slice(&s.to_be_bytes());
    }
    page[1] = (page.len() - 2) as u8;
    let mut b = vec![0u8; 8];
    b.extend_from_slice(&page);
    let len = (b.len() - 2) as u16;
    b[0..2].copy_from_slice(&len.to_be_bytes());
    b
}

// ------------------------------------------------------ READ TOC/PMA/ATIP

/// READ TOC format 0000b: formatted TOC (MMC-6 §6.25.3.2).
pub const TOC_FORMATTED: u8 = 0;
/// Format 0001b: multi-session information (MMC-6 §6.25.3.3).
pub const TOC_SESSION_INFO: u8 = 1;
/// Format 0010b: raw (full) TOC (MMC-6 §6.25.3.4).
pub const TOC_FULL: u8 = 2;
/// Format 0100b: ATIP (MMC-6 §6.25.3.6).
pub const TOC_ATIP: u8 = 4;
/// Format 0101b: CD-TEXT (MMC-6 §6.25.3.7).
pub const TOC_CD_TEXT: u8 = 5;
/// Largest READ TOC allocation (the 16-bit field).
const TOC_ALLOC: u16 = 0xFFFE;

/// READ TOC/PMA/ATIP with `format`, LBA addresses (MSF bit 0), starting
/// at track or session `number`.
pub fn read_toc(format: u8, number: u8) -> Command {
    let alloc = match format {
        TOC_FORMATTED => 4 + 8 * 100,
        TOC_SESSION_INFO => 12,
        TOC_ATIP => 28,
        _ => TOC_ALLOC,
    };
    let [hi, lo] = alloc.to_be_bytes();
    Command::new(
        vec![OP_READ_TOC, 0, format & 0x0F, 0, 0, 0, number, hi, lo, 0],
        Direction::FromDevice,
        usize::from(alloc),
        10,
    )
}

/// One entry of the formatted TOC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TocEntry {
    /// Track number 1…99, or [`LEAD_OUT`].
    pub track: u8,
    pub adr: u8,
    /// CONTROL: 0x1 pre-emphasis, 0x2 copy permitted, 0x4 data, 0x8 four channels.
    pub control: u8,
    pub start: Lba,
}

impl TocEntry {
    /// True for a data track (CONTROL bit 2).
    pub fn is_data(&self) -> bool {
        self.control & 0x4 != 0
    }
}

/// The formatted TOC (format 0).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Toc {
    pub first_track: u8,
    pub last_track: u8,
    /// The tracks in order, then the lead-out.
    pub entries: Vec<TocEntry>,
}

impl Toc {
    /// The lead-out start.
    pub fn lead_out(&self) -> Option<Lba> {
        self.entries
            .iter()
            .find(|e| e.track == LEAD_OUT)
            .map(|e| e.start)
    }

    /// The tracks (without the lead-out).
    pub fn tracks(&self) -> impl Iterator<Item = &TocEntry> {
        self.entries.iter().filter(|e| e.track != LEAD_OUT)
    }
}

/// Parses a formatted TOC (MMC-6 §6.25.3.2): a 4-byte header
/// and 8-byte track descriptors.
///
/// # Errors
/// [`Error::BadResponse`] for a missing header, no descriptors, a lead-out
/// missing, track numbers out of order or addresses going backwards.
pub fn parse_toc(resp: &[u8]) -> Result<Toc, Error> {
    const W: &str = "READ TOC";
    let data = declared(resp, W)?;
    if data.len() < 4 {
        return Err(bad(W, "TOC header cut short"));
    }
    let (first_track, last_track) = (data[2], data[3]);
    let mut entries = Vec::new();
    for d in data[4..].chunks_exact(8) {
        entries.push(TocEntry {
            track: d[2],
            adr: d[1] >> 4,
            control: d[1] & 0x0F,
            start: Lba(i32::from_be_bytes([d[4], d[5], d[6], d[7]])),
        });
    }
    if entries.is_empty() {
        return Err(bad(W, "no track in the TOC"));
    }
    if !(1..=99).contains(&first_track) || first_track > last_track || last_track > 99 {
        return Err(bad(
            W,
            format!("track numbers {first_track} to {last_track}"),
        ));
    }
    let lead_out = entries.iter().filter(|e| e.track == LEAD_OUT).count();
    if lead_out != 1 || entries.last().map(|e| e.track) != Some(LEAD_OUT) {
        return Err(bad(W, "the TOC has no lead-out entry at its end"));
    }
    for w in entries.windows(2) {
        if w[1].start <= w[0].start || (w[1].track != LEAD_OUT && w[1].track <= w[0].track) {
            return Err(bad(
                W,
                format!(
                    "track {} at LBA {} follows track {} at LBA {}",
                    w[1].track, w[1].start.0, w[0].track, w[0].start.0
                ),
            ));
        }
    }
    Ok(Toc {
        first_track,
        last_track,
        entries,
    })
}

/// Builds a formatted TOC response (for the virtual drive): entries from
/// the one numbered `from` (0 or 1 = all; AAh = only the lead-out).
pub fn build_toc(toc: &Toc, from: u8) -> Vec<u8> {
    let mut b = vec![0, 0, toc.first_track, toc.last_track];
    for e in &toc.entries {
        if e.track != LEAD_OUT && e.track < from && from != LEAD_OUT {
            continue;
        }
        if from == LEAD_OUT && e.track != LEAD_OUT {
            continue;
        }
        b.extend_from_slice(&[0, (e.adr << 4) | (e.control & 0x0F), e.track, 0]);
        b.extend_from_slice(&e.start.0.to_be_bytes());
    }
    let len = (b.len() - 2) as u16;
    b[0..2].copy_from_slice(&len.to_be_bytes());
    b
}

/// Multi-session information (format 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SessionInfo {
    pub first_session: u8,
    pub last_session: u8,
    /// The first track of the last complete session.
    pub last_session_first_track: u8,
    pub last_session_start: Lba,
}

/// Parses multi-session information (MMC-6 §6.25.3.3).
///
/// # Errors
/// [`Error::BadResponse`] when shorter than 12 bytes.
pub fn parse_session_info(resp: &[u8]) -> Result<SessionInfo, Error> {
    let data = declared(resp, "READ TOC")?;
    if data.len() < 12 {
        return Err(bad("READ TOC", "session information cut short"));
    }
    Ok(SessionInfo {
        first_session: data[2],
        last_session: data[3],
        last_session_first_track: data[6],
        last_session_start: Lba(i32::from_be_bytes([data[8], data[9], data[10], data[11]])),
    })
}

/// One descriptor of the full TOC: a Q frame of the lead-in (MMC-6
/// §6.25.3.4). Times are binary, not BCD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FullTocEntry {
    pub session: u8,
    pub adr: u8,
    pub control: u8,
    pub tno: u8,
    /// 01h…63h a track start; A0h first track; A1h last track; A2h lead-out;
    /// B0h next possible program area; C0h…: see MMC-6 §6.25, READ TOC/PMA/ATIP,
    /// format 0010b.
    pub point: u8,
    pub min: u8,
    pub sec: u8,
    pub frame: u8,
    pub zero: u8,
    pub pmin: u8,
    pub psec: u8,
    pub pframe: u8,
}

impl FullTocEntry {
    /// PMIN:PSEC:PFRAME as an LBA (a track or lead-out start).
    pub fn p_lba(&self) -> Lba {
        Msf {
            m: self.pmin,
            s: self.psec,
            f: self.pframe,
        }
        .to_lba()
    }
}

/// The full TOC (format 2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FullToc {
    pub first_session: u8,
    pub last_session: u8,
    pub entries: Vec<FullTocEntry>,
}

/// POINT A0h: first track number and disc type.
pub const POINT_FIRST_TRACK: u8 = 0xA0;
/// POINT A1h: last track number.
pub const POINT_LAST_TRACK: u8 = 0xA1;
/// POINT A2h: lead-out start.
pub const POINT_LEAD_OUT: u8 = 0xA2;
/// POINT B0h: start of the next possible program area (multi-session).
pub const POINT_NEXT_AREA: u8 = 0xB0;

impl FullToc {
    /// The lead-out start of each session, in session order.
    pub fn session_lead_outs(&self) -> Vec<(u8, Lba)> {
        self.entries
            .iter()
            .filter(|e| e.adr == 1 && e.point == POINT_LEAD_OUT)
            .map(|e| (e.session, e.p_lba()))
            .collect()
    }

    /// The session of each track: (track, session).
    pub fn track_sessions(&self) -> Vec<(u8, u8)> {
        self.entries
            .iter()
            .filter(|e| e.adr == 1 && (1..=99).contains(&e.point))
            .map(|e| (e.point, e.session))
            .collect()
    }
}

/// Parses the full TOC (MMC-6 §6.25.3.4).
///
/// # Errors
/// [`Error::BadResponse`] when the header is missing or no descriptor follows.
pub fn parse_full_toc(resp: &[u8]) -> Result<FullToc, Error> {
    const W: &str = "READ TOC (full TOC)";
    let data = declared(resp, W)?;
    if data.len() < 4 {
        return Err(bad(W, "header cut short"));
    }
    let entries: Vec<FullTocEntry> = data[4..]
        .chunks_exact(11)
        .map(|d| FullTocEntry {
            session: d[0],
            adr: d[1] >> 4,
            control: d[1] & 0x0F,
            tno: d[2],
            point: d[3],
            min: d[4],
            sec: d[5],
            frame: d[6],
            zero: d[7],
            pmin: d[8],
            psec: d[9],
            pframe: d[10],
        })
        .collect();
    if entries.is_empty() {
        return Err(bad(W, "no descriptor"));
    }
    Ok(FullToc {
        first_session: data[2],
        last_session: data[3],
        entries,
    })
}

/// Builds a full TOC response (for the virtual drive).
pub fn build_full_toc(t: &FullToc) -> Vec<u8> {
    let mut b = vec![0, 0, t.first_session, t.last_session];
    for e in &t.entries {
        b.extend_from_slice(&[
            e.session,
            (e.adr << 4) | (e.control & 0x0F),
            e.tno,
            e.point,
            e.min,
            e.sec,
            e.frame,
            e.zero,
            e.pmin,
            e.psec,
            e.pframe,
        ]);
    }
    let len = (b.len() - 2) as u16;
    b[0..2].copy_from_slice(&len.to_be_bytes());
    b
}

/// ATIP of a recordable disc (format 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Atip {
    /// Indicative target writing power (3 bits).
    pub writing_power: u8,
    /// Unrestricted use disc.
    pub unrestricted_use: bool,
    /// CD-RW rather than CD-R.
    pub rewritable: bool,
    pub sub_type: u8,
    /// Start time of the lead-in (identifies the manufacturer).
    pub lead_in_start: Msf,
    /// Last possible start time of the lead-out: the capacity.
    pub last_lead_out_start: Msf,
}

/// Parses ATIP (MMC-6 §6.25.3.6).
///
/// # Errors
/// [`Error::BadResponse`] when shorter than 15 bytes (pressed discs have
/// no ATIP; drives answer those with an error or an empty response).
pub fn parse_atip(resp: &[u8]) -> Result<Atip, Error> {
    let data = declared(resp, "READ TOC (ATIP)")?;
    if data.len() < 15 {
        return Err(bad("READ TOC (ATIP)", "no ATIP (not a recordable disc?)"));
    }
    Ok(Atip {
        writing_power: (data[4] >> 4) & 0x07,
        unrestricted_use: data[5] & 0x40 != 0,
        rewritable: data[6] & 0x40 != 0,
        sub_type: (data[6] >> 3) & 0x07,
        lead_in_start: Msf {
            m: data[8],
            s: data[9],
            f: data[10],
        },
        last_lead_out_start: Msf {
            m: data[12],
            s: data[13],
            f: data[14],
        },
    })
}

/// Splits a CD-TEXT response (MMC-6 §6.25.3.7) into its 18-byte packs
/// (CRCs are checked by [`crate::cdtext`]). An empty list when the disc
/// has no CD-TEXT.
///
/// # Errors
/// [`Error::BadResponse`] when the header is missing.
pub fn parse_cd_text(resp: &[u8]) -> Result<Vec<[u8; 18]>, Error> {
    let data = declared(resp, "READ TOC (CD-TEXT)")?;
    Ok(data
        .get(4..)
        .unwrap_or(&[])
        .chunks_exact(18)
        .filter_map(|c| c.try_into().ok())
        .collect())
}

/// Builds a CD-TEXT response from packs (for the virtual drive).
pub fn build_cd_text(packs: &[[u8; 18]]) -> Vec<u8> {
    let mut b = vec![0u8; 4];
    for p in packs {
        b.extend_from_slice(p);
    }
    let len = (b.len() - 2) as u16;
    b[0..2].copy_from_slice(&len.to_be_bytes());
    b
}

// ----------------------------------------------------- READ SUB-CHANNEL

/// What READ SUB-CHANNEL (42h) is asked for (MMC-3, READ SUB-CHANNEL,
/// Sub-channel Data Format field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubChannelRequest {
    /// 01h: current position.
    Position,
    /// 02h: Media Catalogue Number.
    Mcn,
    /// 03h: ISRC of a track.
    Isrc(u8),
}

/// READ SUB-CHANNEL with SubQ = 1, LBA addresses.
pub fn read_sub_channel(req: SubChannelRequest) -> Command {
    let (code, track, len) = match req {
        SubChannelRequest::Position => (1u8, 0u8, 16u8),
        SubChannelRequest::Mcn => (2, 0, 24),
        SubChannelRequest::Isrc(t) => (3, t, 24),
    };
    Command::new(
        vec![OP_READ_SUB_CHANNEL, 0, 0x40, code, 0, 0, track, 0, len, 0],
        Direction::FromDevice,
        usize::from(len),
        10,
    )
}

/// The current-position data of READ SUB-CHANNEL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    pub adr: u8,
    pub control: u8,
    pub track: u8,
    pub index: u8,
    pub absolute: Lba,
    /// Track-relative address (negative in a pregap).
    pub relative: i32,
}

fn sub_channel_body(resp: &[u8], code: u8, need: usize) -> Result<&[u8], Error> {
    const W: &str = "READ SUB-CHANNEL";
    if resp.len() < 4 {
        return Err(bad(W, "header cut short"));
    }
    let len = usize::from(be16(resp, 2).unwrap_or(0));
    let data = &resp[..(4 + len).min(resp.len())];
    if data.len() < need {
        return Err(bad(W, format!("{} bytes ({need} needed)", data.len())));
    }
    if data[4] != code {
        return Err(bad(
            W,
            format!("data format {:02X}h, {code:02X}h asked", data[4]),
        ));
    }
    Ok(data)
}

/// Parses the MCN data (format 02h): `None` when MCVal is 0 (no MCN).
///
/// # Errors
/// [`Error::BadResponse`] for a short or mismatched response, or a
/// catalogue number that is not 13 digits.
pub fn parse_sub_channel_mcn(resp: &[u8]) -> Result<Option<String>, Error> {
    let d = sub_channel_body(resp, 2, 22)?;
    if d[8] & 0x80 == 0 {
        return Ok(None);
    }
    let mcn: String = d[9..22].iter().map(|&c| char::from(c)).collect();
    if !mcn.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad(
            "READ SUB-CHANNEL",
            "a catalogue number that is not 13 digits",
        ));
    }
    Ok(Some(mcn))
}

/// Parses the ISRC data (format 03h): `None` when TCVal is 0 (no ISRC).
///
/// # Errors
/// [`Error::BadResponse`] for a short or mismatched response or an ISRC
/// with characters outside A–Z and 0–9.
pub fn parse_sub_channel_isrc(resp: &[u8]) -> Result<Option<String>, Error> {
    let d = sub_channel_body(resp, 3, 21)?;
    if d[8] & 0x80 == 0 {
        return Ok(None);
    }
    let isrc: String = d[9..21].iter().map(|&c| char::from(c)).collect();
    if !isrc
        .bytes()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(bad("READ SUB-CHANNEL", "an ISRC with invalid characters"));
    }
    Ok(Some(isrc))
}

/// Parses the current-position data (format 01h).
///
/// # Errors
/// [`Error::BadResponse`] for a short or mismatched response.
pub fn parse_sub_channel_position(resp: &[u8]) -> Result<Position, Error> {
    let d = sub_channel_body(resp, 1, 16)?;
    Ok(Position {
        adr: d[5] >> 4,
        control: d[5] & 0x0F,
        track: d[6],
        index: d[7],
        absolute: Lba(i32::from_be_bytes([d[8], d[9], d[10], d[11]])),
        relative: i32::from_be_bytes([d[12], d[13], d[14], d[15]]),
    })
}

/// Builds a READ SUB-CHANNEL response (for the virtual drive):
/// `code` 2 with `value` an MCN, 3 an ISRC (with `track`); `None` value
/// clears MCVal/TCVal.
pub fn build_sub_channel(code: u8, track: u8, control: u8, value: Option<&str>) -> Vec<u8> {
    let mut b = vec![0u8; 24];
    b[1] = 0x15; // audio status: no current audio status to return
    b[3] = 20;
    b[4] = code;
    b[5] = 0x10 | (control & 0x0F);
    b[6] = track;
    if let Some(v) = value {
        b[8] = 0x80;
        for (d, s) in b[9..].iter_mut().zip(v.bytes()) {
            *d = s;
        }
    }
    b
}

/// Builds a current-position response (for the virtual drive).
pub fn build_sub_channel_position(p: &Position) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b[1] = 0x15;
    b[3] = 12;
    b[4] = 1;
    b[5] = (p.adr << 4) | (p.control & 0x0F);
    b[6] = p.track;
    b[7] = p.index;
    b[8..12].copy_from_slice(&p.absolute.0.to_be_bytes());
    b[12..16].copy_from_slice(&p.relative.to_be_bytes());
    b
}

// -------------------------------------------------------------- READ CD

/// The C2 Error Pointers field of READ CD (MMC-6 §6.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum C2Mode {
    /// 00b: no C2 information.
    #[default]
    None,
    /// 01b: 294 bytes, one bit per byte of the sector.
    Pointers,
    /// 10b: the 294 bytes, then a block error byte (the OR of them all) and a pad byte.
    PointersAndBlock,
}

impl C2Mode {
    /// Bytes per sector.
    pub fn len(self) -> usize {
        match self {
            C2Mode::None => 0,
            C2Mode::Pointers => C2_LEN,
            C2Mode::PointersAndBlock => C2_LEN + 2,
        }
    }

    /// True for [`C2Mode::None`].
    pub fn is_empty(self) -> bool {
        self == C2Mode::None
    }

    fn field(self) -> u8 {
        match self {
            C2Mode::None => 0,
            C2Mode::Pointers => 1,
            C2Mode::PointersAndBlock => 2,
        }
    }

    /// From the CDB field; `None` for the reserved value 11b.
    pub fn from_field(f: u8) -> Option<C2Mode> {
        match f & 3 {
            0 => Some(C2Mode::None),
            1 => Some(C2Mode::Pointers),
            2 => Some(C2Mode::PointersAndBlock),
            _ => None,
        }
    }
}

/// The Sub-channel Selection field of READ CD (MMC-6 §6.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum SubChannel {
    /// 000b: none.
    #[default]
    None,
    /// 010b: formatted Q, 16 bytes.
    Q,
    /// 001b: raw P-W, 96 bytes.
    RawPw,
}

impl SubChannel {
    /// Bytes per sector.
    pub fn len(self) -> usize {
        match self {
            SubChannel::None => 0,
            SubChannel::Q => SUB_Q_LEN,
            SubChannel::RawPw => SUB_RAW_LEN,
        }
    }

    /// True for [`SubChannel::None`].
    pub fn is_empty(self) -> bool {
        self == SubChannel::None
    }

    fn field(self) -> u8 {
        match self {
            SubChannel::None => 0,
            SubChannel::Q => 2,
            SubChannel::RawPw => 1,
        }
    }

    /// From the CDB field; `None` for values this layer does not handle
    /// (100b R-W, reserved).
    pub fn from_field(f: u8) -> Option<SubChannel> {
        match f & 7 {
            0 => Some(SubChannel::None),
            1 => Some(SubChannel::RawPw),
            2 => Some(SubChannel::Q),
            _ => None,
        }
    }
}

/// Expected sector type CD-DA (MMC-6 §6.19, READ CD, Expected Sector Type
/// field: 001b in bits 4…2).
pub const SECTOR_TYPE_CDDA: u8 = 1;
/// User data bit of byte 9 (MMC-6 §6.19, READ CD, byte 9 main-channel
/// selection).
const READ_CD_USER_DATA: u8 = 0x10;

/// Bytes per sector READ CD returns for CD-DA with these options.
pub fn read_cd_sector_len(c2: C2Mode, sub: SubChannel) -> usize {
    CDDA_SECTOR + c2.len() + sub.len()
}

/// READ CD of `count` CD-DA sectors from `lba`, with C2 pointers and
/// sub-channel as asked (MMC-6 §6.19).
pub fn read_cd(lba: Lba, count: u32, c2: C2Mode, sub: SubChannel) -> Command {
    let l = lba.0.to_be_bytes();
    let n = count.to_be_bytes();
    let cdb = vec![
        OP_READ_CD,
        SECTOR_TYPE_CDDA << 2,
        l[0],
        l[1],
        l[2],
        l[3],
        n[1],
        n[2],
        n[3],
        READ_CD_USER_DATA | (c2.field() << 1),
        sub.field(),
        0,
    ];
    let len = read_cd_sector_len(c2, sub) * count as usize;
    Command::new(cdb, Direction::FromDevice, len, 30 + u64::from(count / 8))
}

/// A READ CD request decoded from its CDB (for the virtual drive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCdRequest {
    pub sector_type: u8,
    pub lba: Lba,
    pub count: u32,
    pub user_data: bool,
    /// Sync, header or EDC/ECC asked (byte 9 bits 7…3 other than user data).
    pub extra_fields: u8,
    pub c2: Option<C2Mode>,
    pub sub: Option<SubChannel>,
}

/// Decodes a READ CD CDB. `None` when it is not 12 bytes of READ CD.
pub fn parse_read_cd_cdb(cdb: &[u8]) -> Option<ReadCdRequest> {
    if cdb.len() < 12 || cdb[0] != OP_READ_CD {
        return None;
    }
    Some(ReadCdRequest {
        sector_type: (cdb[1] >> 2) & 7,
        lba: Lba(i32::from_be_bytes([cdb[2], cdb[3], cdb[4], cdb[5]])),
        count: u32::from_be_bytes([0, cdb[6], cdb[7], cdb[8]]),
        user_data: cdb[9] & READ_CD_USER_DATA != 0,
        extra_fields: cdb[9] & 0xE8,
        c2: C2Mode::from_field(cdb[9] >> 1),
        sub: SubChannel::from_field(cdb[10]),
    })
}

/// One sector of a READ CD response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectorData<'a> {
    /// 2352 bytes of CD-DA (little-endian 16-bit stereo).
    pub audio: &'a [u8],
    /// The C2 pointers, when asked.
    pub c2: Option<&'a [u8]>,
    /// The sub-channel, when asked.
    pub sub: Option<&'a [u8]>,
}

impl SectorData<'_> {
    /// True when any C2 bit is set.
    pub fn has_c2_errors(&self) -> bool {
        self.c2
            .is_some_and(|c| c.iter().take(C2_LEN).any(|&b| b != 0))
    }

    /// The Q sub-channel of this sector (12 bytes), from formatted Q or raw P-W.
    pub fn q(&self) -> Option<[u8; subq::Q_LEN]> {
        let s = self.sub?;
        if s.len() == SUB_RAW_LEN {
            subq::q_from_raw(s)
        } else {
            s.get(..subq::Q_LEN)?.try_into().ok()
        }
    }
}

/// Splits a READ CD response into sectors.
///
/// # Errors
/// [`Error::BadResponse`] when the response is not a whole number of
/// sectors of the expected size, or empty.
pub fn split_read_cd(
    resp: &[u8],
    c2: C2Mode,
    sub: SubChannel,
) -> Result<Vec<SectorData<'_>>, Error> {
    let size = read_cd_sector_len(c2, sub);
    if resp.is_empty() || !resp.len().is_multiple_of(size) {
        return Err(bad(
            "READ CD",
            format!(
                "{} bytes is not a whole number of {size}-byte sectors",
                resp.len()
            ),
        ));
    }
    Ok(resp
        .chunks_exact(size)
        .map(|s| {
            let (audio, rest) = s.split_at(CDDA_SECTOR);
            let (c2b, subb) = rest.split_at(c2.len());
            SectorData {
                audio,
                c2: (!c2.is_empty()).then_some(c2b),
                sub: (!sub.is_empty()).then_some(subb),
            }
        })
        .collect())
}

// ----------------------------------------------- speed, tray, lock, events

/// SET CD SPEED, BBh (MMC-6, SET CD SPEED): read and write speeds in kB/s (1x = 176.4
/// kB/s; FFFFh = as fast as the drive can), CLV rotation.
pub fn set_cd_speed(read_kbs: u16, write_kbs: u16) -> Command {
    let r = read_kbs.to_be_bytes();
    let w = write_kbs.to_be_bytes();
    Command::new(
        vec![OP_SET_CD_SPEED, 0, r[0], r[1], w[0], w[1], 0, 0, 0, 0, 0, 0],
        Direction::None,
        0,
        10,
    )
}

/// What START STOP UNIT does to the tray.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    /// LoEj 1, Start 0: open the tray (eject the disc).
    Eject,
    /// LoEj 1, Start 1: close the tray (load the disc).
    Load,
    /// LoEj 0, Start 1: spin up.
    Start,
    /// LoEj 0, Start 0: spin down.
    Stop,
}

/// START STOP UNIT, 1Bh (SBC-3; MMC-6, START STOP UNIT): byte 4 holds LoEj (bit 1)
/// and Start (bit 0).
pub fn start_stop_unit(action: TrayAction) -> Command {
    let b = match action {
        TrayAction::Eject => 0x02,
        TrayAction::Load => 0x03,
        TrayAction::Start => 0x01,
        TrayAction::Stop => 0x00,
    };
    Command::new(
        vec![OP_START_STOP_UNIT, 0, 0, 0, b, 0],
        Direction::None,
        0,
        30,
    )
}

/// Decodes byte 4 of START STOP UNIT (for the virtual drive).
pub fn parse_start_stop_cdb(cdb: &[u8]) -> Option<TrayAction> {
    let b = *cdb.get(4)?;
    Some(match (b & 2 != 0, b & 1 != 0) {
        (true, false) => TrayAction::Eject,
        (true, true) => TrayAction::Load,
        (false, true) => TrayAction::Start,
        (false, false) => TrayAction::Stop,
    })
}

/// PREVENT ALLOW MEDIUM REMOVAL, 1Eh (SPC-3 §6.13): `prevent` locks the tray.
pub fn prevent_allow(prevent: bool) -> Command {
    Command::new(
        vec![OP_PREVENT_ALLOW, 0, 0, 0, u8::from(prevent), 0],
        Direction::None,
        0,
        5,
    )
}

/// Notification class Media (MMC-6, GET EVENT STATUS NOTIFICATION,
/// Notification Class Request field: bit 4).
pub const EVENT_CLASS_MEDIA: u8 = 4;
const EVENT_LEN: u16 = 8;

/// GET EVENT STATUS NOTIFICATION (4Ah), polled, media class (MMC-6).
pub fn get_event_status_media() -> Command {
    let [hi, lo] = EVENT_LEN.to_be_bytes();
    Command::new(
        vec![
            OP_GET_EVENT_STATUS,
            0x01,
            0,
            0,
            1 << EVENT_CLASS_MEDIA,
            0,
            0,
            hi,
            lo,
            0,
        ],
        Direction::FromDevice,
        usize::from(EVENT_LEN),
        5,
    )
}

/// Media event codes (MMC-6, GET EVENT STATUS NOTIFICATION, media class
/// events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum MediaEvent {
    NoChange,
    EjectRequest,
    NewMedia,
    MediaRemoval,
    MediaChanged,
    Other(u8),
}

impl MediaEvent {
    fn from_code(c: u8) -> MediaEvent {
        match c {
            0 => MediaEvent::NoChange,
            1 => MediaEvent::EjectRequest,
            2 => MediaEvent::NewMedia,
            3 => MediaEvent::MediaRemoval,
            4 => MediaEvent::MediaChanged,
            o => MediaEvent::Other(o),
        }
    }

    fn code(self) -> u8 {
        match self {
            MediaEvent::NoChange => 0,
            MediaEvent::EjectRequest => 1,
            MediaEvent::NewMedia => 2,
            MediaEvent::MediaRemoval => 3,
            MediaEvent::MediaChanged => 4,
            MediaEvent::Other(c) => c & 0x0F,
        }
    }
}

/// The media status of GET EVENT STATUS NOTIFICATION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MediaStatus {
    pub event: MediaEvent,
    pub tray_open: bool,
    pub media_present: bool,
}

/// Parses a media-class event (MMC-6, GET EVENT STATUS NOTIFICATION).
///
/// # Errors
/// [`Error::BadResponse`] when the drive reports no event available (NEA),
/// another class, or a response shorter than 8 bytes.
pub fn parse_event_status(resp: &[u8]) -> Result<MediaStatus, Error> {
    const W: &str = "GET EVENT STATUS NOTIFICATION";
    if resp.len() < 4 {
        return Err(bad(W, "header cut short"));
    }
    if resp[2] & 0x80 != 0 {
        return Err(bad(W, "the drive has no media event to report"));
    }
    if resp[2] & 0x07 != EVENT_CLASS_MEDIA {
        return Err(bad(
            W,
            format!("event class {} instead of media", resp[2] & 7),
        ));
    }
    if resp.len() < 8 {
        return Err(bad(W, "media event cut short"));
    }
    Ok(MediaStatus {
        event: MediaEvent::from_code(resp[4] & 0x0F),
        tray_open: resp[5] & 0x01 != 0,
        media_present: resp[5] & 0x02 != 0,
    })
}

/// Builds a media-class event response (for the virtual drive).
pub fn build_event_status(s: &MediaStatus) -> Vec<u8> {
    vec![
        0,
        6,
        EVENT_CLASS_MEDIA,
        1 << EVENT_CLASS_MEDIA,
        s.event.code(),
        u8::from(s.tray_open) | (u8::from(s.media_present) << 1),
        0,
        0,
    ]
}
