//! The secure reading engine: a disc's true samples from a drive that may
//! lie, in the manner of EAC's secure mode, cdparanoia and whipper.
//!
//! [`SecureReader`] reads a range of a disc through a [`Drive`] and hands
//! the samples on in order, corrected for the drive's read offset. It is the
//! source at the head of the ripping pipeline; checksums, encoding and the
//! log are the caller's.
//!
//! # How a sector is trusted ([`Mode::Secure`])
//!
//! The range is read in windows of whole sectors, each window twice, in
//! batches of up to [`mmc::MAX_READ_SECTORS`] sectors per READ CD. A window
//! holds more sectors than the drive's cache (MODE SENSE page 2Ah buffer
//! size, or [`ReadOptions::cache_sectors`]) plus a batch, so the second read
//! of a sector is never answered from the cache: as many other sectors were
//! read in between as the cache holds. Where a window is shorter than that
//! (a small range), sectors outside it are read in between.
//!
//! Many drives report no buffer (0) or a wrong one; then the cache is
//! measured by timing reads (see [`cache`]; when is chosen by
//! [`CacheCheck`], by default when the drive reports 0), and
//! [`DriveReport::cache_source`] says where the size came from.
//!
//! Flushing the cache means reading sectors the cache does not hold: the
//! reader walks the disc with a cursor, away from the sectors read lately
//! and from those about to be read. On a disc hardly larger than the
//! cache this cannot be guaranteed, and [`RangeReport::cache_defeated`]
//! says so.
//!
//! A sector is **accepted** when two reads gave the same 2352 bytes and
//! neither was flagged by the drive's C2 error pointers (when the drive has
//! them and [`ReadOptions::use_c2`] is set; a flagged read never counts as
//! a match, so C2 marks exactly the sectors to read again). Sectors not
//! accepted after the first two reads are read again, only they, in rounds
//! (up to [`ReadOptions::retries`] rounds), with the cache flushed before each
//! round, until one value has been read cleanly twice. A sector that never
//! gets there is given the value read most often (clean reads first; zeros
//! if no read ever succeeded) and reported as suspicious; the read goes on.
//!
//! [`Mode::Burst`] reads each sector once (failed reads are tried again up
//! to `retries` times; C2-flagged or never-read sectors are suspicious).
//! [`Mode::TestAndCopy`] runs the secure read twice over the whole range —
//! a test pass whose CRC is reported, then the copy pass whose samples are
//! delivered — so the caller can compare the two CRCs.
//!
//! # Drives without an accurate stream
//!
//! When page 2Ah does not claim an accurate stream, each READ CD may start a
//! few samples off. Every command is then placed by content: its samples are
//! aligned against the samples already established (an overlap of at least
//! one sector), and the new part is accepted once two placed reads agree.
//! Where there is nothing to align against (the start of a range, or
//! silence that makes any alignment fit) the position is taken from the
//! spread of many reads of the same spot: the start positions of a drive's
//! reads scatter around the true one, and the middle of the observed spread
//! is taken as true. See [`jitter`].
//!
//! # Read offset and the edges of the disc
//!
//! [`ReadOptions::offset`] is the drive's read offset in samples as
//! AccurateRip lists it (the correction to apply): the drive's sector `L`
//! holds the disc's samples from `L × 588 − offset` on. To deliver the disc's
//! samples of LBAs `a..b`, the reader reads the drive's sectors covering
//! samples `a × 588 + offset .. b × 588 + offset` of its stream and cuts them.
//! Sectors before LBA 0 or reaching past the audio lead-out are read only
//! when the drive was found to overread that edge (probed in
//! [`SecureReader::new`]: one READ CD at LBA −1 and one at the lead-out);
//! otherwise their samples are delivered as zeros and counted in
//! [`RangeReport::zero_filled_start`] / [`RangeReport::zero_filled_end`].
//! A data track next to the audio (mixed-mode and enhanced CDs) is such an
//! edge too, never overread.

use std::ops::Range;
use std::time::Instant;

use aj_core::{CancelToken, Lba};

use crate::disc::Disc;
use crate::mmc::{self, sense, C2Mode, Drive, SubChannel};
use crate::transport;

pub mod cache;
pub mod jitter;
mod votes;

pub use cache::{CacheCheck, CacheMeasurement, CacheSource, CacheVerdict};
use votes::Votes;

/// Samples (stereo frames) per CD-DA sector (IEC 60908: 2352 bytes of
/// 16-bit stereo).
pub const FRAMES_PER_SECTOR: i64 = 588;
/// Bytes per CD-DA sector.
pub const SECTOR_BYTES: usize = mmc::CDDA_SECTOR;
/// Sectors per READ CD command.
const BATCH: u32 = mmc::MAX_READ_SECTORS;
/// The smallest window of the secure read, in sectors.
const MIN_WINDOW: u32 = 8 * BATCH;
/// The largest read offset accepted, in samples (one second; drives list
/// up to about ±3000).
pub const MAX_OFFSET: i32 = 44_100;
/// How often a command that failed for a reason other than the medium
/// (unit attention, timeout, transport failure) is sent again before the
/// read stops.
const TRANSIENT_TRIES: u32 = 3;
/// CD-DA frames per second (Red Book).
const FRAMES_PER_SECOND: f64 = 44_100.0;

/// How sectors are read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Every sector read at least twice with the cache defeated; see the
    /// module doc.
    #[default]
    Secure,
    /// Every sector read once. (A drive without an accurate stream is
    /// always read as in secure mode: its reads must be placed by content,
    /// and that takes two reads that agree.)
    Burst,
    /// A whole secure test pass, then a secure copy pass.
    TestAndCopy,
}

impl Mode {
    /// The name used in job specs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Secure => "secure",
            Mode::Burst => "burst",
            Mode::TestAndCopy => "test-and-copy",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A read mode name that is not one of `secure`, `burst`, `test-and-copy`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown read mode \"{0}\" (known: secure, burst, test-and-copy)")]
pub struct ParseModeError(pub String);

impl std::str::FromStr for Mode {
    type Err = ParseModeError;

    fn from_str(s: &str) -> Result<Mode, ParseModeError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "secure" => Ok(Mode::Secure),
            "burst" => Ok(Mode::Burst),
            "test-and-copy" | "test+copy" | "testandcopy" => Ok(Mode::TestAndCopy),
            _ => Err(ParseModeError(s.to_string())),
        }
    }
}

/// How to read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ReadOptions {
    pub mode: Mode,
    /// Rounds of re-reads of a sector that did not read consistently.
    pub retries: u32,
    /// The drive's read offset in samples (AccurateRip's convention: the
    /// correction to apply).
    pub offset: i32,
    /// The drive's cache in sectors; `None` takes the buffer size page 2Ah
    /// reports.
    pub cache_sectors: Option<u32>,
    /// Read speed in kB/s (SET CD SPEED); `None` leaves the drive's.
    pub speed_kbs: Option<u16>,
    /// Use C2 error pointers when the drive has them.
    pub use_c2: bool,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            mode: Mode::Secure,
            retries: 20,
            offset: 0,
            cache_sectors: None,
            speed_kbs: None,
            use_c2: true,
        }
    }
}

/// What the reader found out about the drive, for the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DriveReport {
    /// The device path or image spec.
    pub name: String,
    /// The drive reports C2 error pointers.
    pub c2_available: bool,
    /// C2 pointers are used.
    pub c2_used: bool,
    /// The cache size assumed, in sectors.
    pub cache_sectors: u32,
    /// Whether that size came from [`ReadOptions::cache_sectors`] rather
    /// than from the drive.
    pub cache_overridden: bool,
    /// Where `cache_sectors` came from: reported by the drive, given,
    /// measured, or assumed because the measurement could not decide.
    pub cache_source: CacheSource,
    /// The buffer size the drive reports (page 2Ah), in sectors.
    pub cache_reported: u32,
    /// The measurement of the cache, when one was made (see
    /// [`CacheMeasurement::summary`] for the log).
    pub cache_measurement: Option<CacheMeasurement>,
    /// Page 2Ah claims an accurate stream (reads start where asked).
    pub accurate_stream: bool,
    /// The drive reads sectors before LBA 0.
    pub overread_lead_in: bool,
    /// The drive reads sectors at and past the lead-out.
    pub overread_lead_out: bool,
    /// The read offset applied, in samples.
    pub offset: i32,
    /// The speed asked for, when the drive accepted SET CD SPEED.
    pub speed_kbs: Option<u16>,
}

/// Which pass of a read a progress event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pass {
    /// The test pass of [`Mode::TestAndCopy`] (nothing is delivered).
    Test,
    /// The pass whose samples are delivered.
    Copy,
}

/// Progress of [`SecureReader::read_range`], after each window.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReadProgress {
    /// The disc LBA reached.
    pub lba: Lba,
    /// Sectors done in this pass.
    pub done: u32,
    /// Sectors of the range.
    pub total: u32,
    /// Sector re-reads so far (all passes).
    pub rereads: u64,
    /// Speed of this pass, as a multiple of real time.
    pub speed_x: f64,
    pub pass: Pass,
}

/// The outcome of reading a range.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RangeReport {
    /// Sectors of the range.
    pub sectors: u32,
    /// CRC-32 (ISO-HDLC, as EAC's "Copy CRC") of the bytes delivered.
    pub crc32: u32,
    /// In [`Mode::TestAndCopy`], the CRC of the test pass; `None` otherwise.
    pub test_crc32: Option<u32>,
    /// The largest |sample| delivered (32768 for −32768).
    pub peak: u16,
    /// Frames (from the range's start) that never read consistently, in
    /// either pass; sorted, merged.
    pub suspicious: Vec<Range<u64>>,
    /// Sector re-reads beyond the planned ones (all passes).
    pub rereads: u64,
    /// Frames at the start delivered as zeros because the drive cannot
    /// read before LBA 0.
    pub zero_filled_start: u32,
    /// Frames at the end delivered as zeros because the drive cannot read
    /// into the lead-out.
    pub zero_filled_end: u32,
    /// Frames at the start read from before LBA 0 (overread).
    pub overread_start: u32,
    /// Frames at the end read from sectors reaching into the lead-out.
    pub overread_end: u32,
    /// Every repeated read was separated from the one before by enough
    /// other reads to push it out of the drive's cache. False when the
    /// readable part of the disc around the range is barely larger than
    /// the cache (or smaller): matching reads may then have come from the
    /// cache and prove less.
    pub cache_defeated: bool,
}

/// Errors of the secure reader. Each names the drive; those of a read name
/// the LBA (the drive's own sector number, before offset correction).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The [`CancelToken`] was triggered.
    #[error("reading was cancelled")]
    Cancelled,
    /// The drive stopped answering (unplugged, or its device vanished).
    #[error("{drive}: the drive went away while reading LBA {lba}: {source}")]
    DriveGone {
        drive: String,
        lba: i32,
        source: transport::Error,
    },
    /// The disc was taken out.
    #[error("{drive}: there is no disc in the drive any more (while reading LBA {lba})")]
    NoMedium { drive: String, lba: i32 },
    /// A command failed for a reason other than the medium, even when sent
    /// again.
    #[error("{drive}: reading LBA {lba} failed: {source}")]
    Drive {
        drive: String,
        lba: i32,
        source: transport::Error,
    },
    /// Probing the drive failed.
    #[error("{drive}: {what} failed: {source}")]
    Probe {
        drive: String,
        what: &'static str,
        source: transport::Error,
    },
    /// The range or the options make no sense for this disc.
    #[error("{drive}: {reason}")]
    Invalid { drive: String, reason: String },
    /// The consumer of the samples failed.
    #[error("{0}")]
    Output(String),
}

/// The state of one sector's read in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    /// No read succeeded.
    Missing,
    /// Read, no C2 error.
    Clean,
    /// Read, flagged by C2.
    Flagged,
}

/// A failed read command.
enum ReadFail {
    /// The medium could not be read there (or the drive refused the
    /// address): the sectors are missing, the read goes on.
    Medium,
    /// The read must stop.
    Fatal(Error),
}

/// Counters shared by the passes of one range.
#[derive(Debug, Default)]
struct Counters {
    rereads: u64,
}

/// The geometry of one range: what the drive's stream sectors cover.
#[derive(Debug, Clone)]
struct Plan {
    /// The range, in disc LBAs.
    start: i32,
    end: i32,
    /// The stream samples wanted: `[p0, p1)`.
    p0: i64,
    p1: i64,
    /// The drive sectors read: `[r0, r1)`.
    r0: i32,
    r1: i32,
    /// The first drive sector at or past the upper edge (read only with
    /// overread at the lead-out).
    inner_hi: i32,
    /// The audio run holding the range: its first sector is the lower edge.
    run: Range<i32>,
}

/// Reads a disc securely through a drive; see the module doc.
pub struct SecureReader<'d> {
    drive: &'d mut Drive,
    report: DriveReport,
    opts: ReadOptions,
    c2: C2Mode,
    /// The end of the audio (disc LBA): the lead-out edge.
    audio_end: i32,
    /// Stretches of consecutive audio tracks (from the first one's pregap):
    /// a range lies within one; data tracks around it are edges like the
    /// lead-in and the lead-out, but never overread.
    runs: Vec<Range<i32>>,
    /// Where the next cache flush reads.
    flush_cursor: i64,
    /// A flush of this range could not read enough other sectors.
    cache_short: bool,
}

impl std::fmt::Debug for SecureReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureReader")
            .field("report", &self.report)
            .field("opts", &self.opts)
            .finish()
    }
}

fn is_c2_flagged(c2: Option<&[u8]>) -> bool {
    c2.is_some_and(|b| b.iter().any(|&x| x != 0))
}

impl<'d> SecureReader<'d> {
    /// Probes the drive: capabilities (C2 pointers, accurate stream, buffer
    /// size), whether it reads before LBA 0 and into the lead-out, and sets
    /// the read speed when asked. The cache is measured when the drive
    /// reports none ([`CacheCheck::IfUnreported`]); see
    /// [`SecureReader::with_cache_check`].
    ///
    /// # Errors
    /// [`Error::Invalid`] for an offset beyond ±[`MAX_OFFSET`];
    /// [`Error::Probe`] when MODE SENSE fails; [`Error::DriveGone`] /
    /// [`Error::NoMedium`] when the drive or the disc is gone.
    pub fn new(drive: &'d mut Drive, disc: &Disc, opts: ReadOptions) -> Result<Self, Error> {
        Self::with_cache_check(
            drive,
            disc,
            opts,
            CacheCheck::default(),
            &CancelToken::new(),
        )
    }

    /// [`SecureReader::new`], measuring the drive's cache as `check` says
    /// (never when [`ReadOptions::cache_sectors`] gives the size). The
    /// measurement reads a few hundred to a few thousand sectors (see
    /// [`cache`]: under a second on a drive without cache, seconds with
    /// one); `cancel` stops it.
    ///
    /// # Errors
    /// Those of [`SecureReader::new`]; [`Error::Cancelled`].
    pub fn with_cache_check(
        drive: &'d mut Drive,
        disc: &Disc,
        opts: ReadOptions,
        check: CacheCheck,
        cancel: &CancelToken,
    ) -> Result<Self, Error> {
        let name = drive.name();
        if opts.offset.abs() > MAX_OFFSET {
            return Err(Error::Invalid {
                drive: name,
                reason: format!(
                    "a read offset of {} samples is out of range (at most ±{MAX_OFFSET})",
                    opts.offset
                ),
            });
        }
        let caps = drive.capabilities().map_err(|source| Error::Probe {
            drive: name.clone(),
            what: "MODE SENSE (capabilities page 2Ah)",
            source,
        })?;
        let speed_kbs = match opts.speed_kbs {
            Some(s) => drive.set_speed(Some(s)).ok().map(|()| s),
            None => None,
        };
        let audio_end = disc.audio_leadout().0;
        let cache_from_drive =
            u32::try_from((u64::from(caps.buffer_kib) * 1024).div_ceil(SECTOR_BYTES as u64))
                .unwrap_or(u32::MAX);
        let mut reader = SecureReader {
            report: DriveReport {
                name,
                c2_available: caps.c2_pointers,
                c2_used: false,
                cache_sectors: opts.cache_sectors.unwrap_or(cache_from_drive),
                cache_overridden: opts.cache_sectors.is_some(),
                cache_source: if opts.cache_sectors.is_some() {
                    CacheSource::Overridden
                } else {
                    CacheSource::Reported
                },
                cache_reported: cache_from_drive,
                cache_measurement: None,
                accurate_stream: caps.accurate_stream,
                overread_lead_in: false,
                overread_lead_out: false,
                offset: opts.offset,
                speed_kbs,
            },
            drive,
            c2: C2Mode::None,
            audio_end,
            runs: audio_runs(disc, audio_end),
            flush_cursor: 0,
            cache_short: false,
            opts,
        };
        // C2: claimed by page 2Ah and accepted in a READ CD.
        if reader.opts.use_c2 && caps.c2_pointers {
            // The last sector: a cached copy of it is unlikely to be met
            // again before it is evicted.
            let probe_at = (audio_end - 1).max(0);
            if reader.probe(probe_at, C2Mode::Pointers)? {
                reader.c2 = C2Mode::Pointers;
                reader.report.c2_used = true;
            }
        }
        reader.report.overread_lead_in = reader.probe(-1, reader.c2)?;
        reader.report.overread_lead_out = reader.probe(audio_end, reader.c2)?;
        let measure = reader.opts.cache_sectors.is_none()
            && match check {
                CacheCheck::Never => false,
                CacheCheck::IfUnreported => cache_from_drive == 0,
                CacheCheck::Always => true,
            };
        if measure {
            let m = reader.measure_cache(cancel)?;
            let (sectors, source) = match (&m.verdict, m.assume) {
                (_, None) => (cache_from_drive, CacheSource::Reported),
                (CacheVerdict::Beyond { .. } | CacheVerdict::Inconclusive { .. }, Some(n)) => {
                    (n.max(cache_from_drive), CacheSource::Assumed)
                }
                (_, Some(n)) if n > cache_from_drive => (n, CacheSource::Measured),
                (_, Some(_)) => (cache_from_drive, CacheSource::Reported),
            };
            reader.report.cache_sectors = sectors;
            reader.report.cache_source = source;
            reader.report.cache_measurement = Some(m);
        }
        Ok(reader)
    }

    /// Measures the cache over the longest stretch of audio (see [`cache`]).
    fn measure_cache(&mut self, cancel: &CancelToken) -> Result<CacheMeasurement, Error> {
        let region = self
            .runs
            .iter()
            .map(|r| r.start.max(0)..r.end.min(self.audio_end))
            .max_by_key(|r| r.end - r.start)
            .unwrap_or(0..0);
        cache::measure(
            &mut |lba, count| {
                let t = Instant::now();
                match self.read_cmd(lba, count) {
                    Ok(_) => Ok(Some(t.elapsed())),
                    Err(ReadFail::Medium) => Ok(None),
                    Err(ReadFail::Fatal(e)) => Err(e),
                }
            },
            region,
            cancel,
        )
    }

    /// True when one sector at `lba` can be read (medium errors are tried a
    /// few times, so a transient error does not decide).
    fn probe(&mut self, lba: i32, c2: C2Mode) -> Result<bool, Error> {
        for _ in 0..TRANSIENT_TRIES {
            match self.drive.read_cd(Lba(lba), 1, c2, SubChannel::None) {
                Ok(_) => return Ok(true),
                Err(e) if e.is_medium_error() => continue,
                Err(e) => match self.classify(e, lba) {
                    ReadFail::Fatal(e) => return Err(e),
                    ReadFail::Medium => return Ok(false),
                },
            }
        }
        Ok(false)
    }

    /// What the reader found out about the drive.
    pub fn drive_report(&self) -> &DriveReport {
        &self.report
    }

    /// The options in force.
    pub fn options(&self) -> &ReadOptions {
        &self.opts
    }

    /// Sorts a failed command into "the medium" (go on) and "stop".
    fn classify(&self, e: transport::Error, lba: i32) -> ReadFail {
        let drive = self.report.name.clone();
        match &e {
            transport::Error::Check { sense: s, .. } => {
                if s.is_no_medium() {
                    ReadFail::Fatal(Error::NoMedium { drive, lba })
                } else if s.is_medium_error()
                    || s.key == sense::KEY_HARDWARE_ERROR
                    || s.key == sense::KEY_ILLEGAL_REQUEST
                {
                    ReadFail::Medium
                } else {
                    ReadFail::Fatal(Error::Drive {
                        drive,
                        lba,
                        source: e,
                    })
                }
            }
            transport::Error::NoDevice { .. } | transport::Error::Io { .. } => {
                ReadFail::Fatal(Error::DriveGone {
                    drive,
                    lba,
                    source: e,
                })
            }
            _ => ReadFail::Fatal(Error::Drive {
                drive,
                lba,
                source: e,
            }),
        }
    }

    /// One READ CD of `count` sectors; transient failures are sent again.
    fn read_cmd(&mut self, lba: i32, count: u32) -> Result<Vec<u8>, ReadFail> {
        let mut tries = 0;
        loop {
            match self
                .drive
                .read_cd(Lba(lba), count, self.c2, SubChannel::None)
            {
                Ok(r) => return Ok(r),
                Err(e) => {
                    let transient = matches!(
                        &e,
                        transport::Error::Timeout { .. } | transport::Error::Transport { .. }
                    ) || e.sense().is_some_and(mmc::Sense::is_retryable);
                    tries += 1;
                    if transient && tries < TRANSIENT_TRIES {
                        continue;
                    }
                    return Err(self.classify(e, lba));
                }
            }
        }
    }

    /// Reads sectors `lba..lba + count` in batches, calling `each(index,
    /// audio, got)` for every sector read (sectors that fail are not
    /// passed). A batch that fails is read again sector by sector.
    fn read_run(
        &mut self,
        lba: i32,
        count: usize,
        cancel: &CancelToken,
        each: &mut dyn FnMut(usize, &[u8], Got),
    ) -> Result<(), Error> {
        let mut i = 0usize;
        while i < count {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let n = (count - i).min(BATCH as usize);
            let at = lba + i as i32;
            match self.read_cmd(at, n as u32) {
                Ok(resp) => self.deliver_sectors(&resp, at, i, each)?,
                Err(ReadFail::Fatal(e)) => return Err(e),
                Err(ReadFail::Medium) if n == 1 => {}
                Err(ReadFail::Medium) => {
                    for k in 0..n {
                        match self.read_cmd(at + k as i32, 1) {
                            Ok(resp) => self.deliver_sectors(&resp, at + k as i32, i + k, each)?,
                            Err(ReadFail::Fatal(e)) => return Err(e),
                            Err(ReadFail::Medium) => {}
                        }
                    }
                }
            }
            i += n;
        }
        Ok(())
    }

    /// Splits a READ CD response of sectors from `lba` and passes each on
    /// with its index (`first` for the first one).
    fn deliver_sectors(
        &self,
        resp: &[u8],
        lba: i32,
        first: usize,
        each: &mut dyn FnMut(usize, &[u8], Got),
    ) -> Result<(), Error> {
        let sectors =
            mmc::split_read_cd(resp, self.c2, SubChannel::None).map_err(|source| Error::Drive {
                drive: self.report.name.clone(),
                lba,
                source,
            })?;
        for (k, s) in sectors.iter().enumerate() {
            let got = if is_c2_flagged(s.c2) {
                Got::Flagged
            } else {
                Got::Clean
            };
            each(first + k, s.audio, got);
        }
        Ok(())
    }

    /// Reads enough sectors away from `avoid` (the sectors about to be read
    /// again) that the drive's cache holds none of `avoid` afterwards.
    ///
    /// A cache hit evicts nothing, so a flush must read sectors the cache
    /// does not hold: those read longest ago, or not yet. Flushes walk the
    /// disc with a cursor and keep clear of the sectors read recently (the
    /// last `cache + batch` before `avoid`) and of those the next window
    /// will read; each reads `cache + batch` sectors. On a disc too small for
    /// that, they read everything but `avoid`, as many laps as make enough
    /// misses for a FIFO cache of that size (up to 8). Failed reads do not
    /// matter here (fatal errors do).
    fn flush(
        &mut self,
        plan: &Plan,
        avoid: &[Range<i32>],
        cancel: &CancelToken,
    ) -> Result<(), Error> {
        let cache = i64::from(self.report.cache_sectors);
        let (Some(first), Some(last)) = (avoid.first(), avoid.last()) else {
            return Ok(());
        };
        if cache == 0 {
            return Ok(());
        }
        let count = cache + i64::from(BATCH);
        let (lo, hi) = (
            i64::from(plan.run.start.max(0)),
            i64::from(plan.inner_hi.min(self.audio_end)),
        );
        let inside = |z: &[Range<i64>]| -> i64 {
            z.iter()
                .map(|r| (r.end.min(hi) - r.start.max(lo)).max(0))
                .sum()
        };
        let recent = std::iter::once(
            i64::from(first.start) - count..i64::from(last.end) + i64::from(self.window_len()),
        )
        .collect::<Vec<_>>();
        let (zones, want) = if (hi - lo) - inside(&recent) >= count {
            (recent, count)
        } else {
            let exact: Vec<Range<i64>> = avoid
                .iter()
                .map(|r| i64::from(r.start)..i64::from(r.end))
                .collect();
            let s = (hi - lo) - inside(&exact);
            let laps = if s > cache {
                (cache + s - cache - 1) / (s - cache)
            } else {
                i64::MAX
            };
            if laps > 8 {
                // Too few other sectors to push `avoid` out of the cache.
                self.cache_short = true;
            }
            (exact, s * laps.clamp(1, 8))
        };
        let mut left = want;
        let mut at = self.flush_cursor.clamp(lo, hi.max(lo));
        let mut wraps = 0;
        while left > 0 && wraps < 2 {
            if at >= hi {
                at = lo;
                wraps += 1;
                continue;
            }
            if let Some(z) = zones.iter().find(|z| z.contains(&at)) {
                at = z.end;
                continue;
            }
            let stop = zones
                .iter()
                .map(|z| z.start)
                .filter(|&st| st > at)
                .min()
                .unwrap_or(hi);
            let run_end = hi.min(at + left).min(stop);
            let n = run_end - at;
            if n <= 0 {
                at += 1;
                continue;
            }
            wraps = 0;
            self.read_run(at as i32, n as usize, cancel, &mut |_, _, _| {})?;
            left -= n;
            at = run_end;
        }
        if left > 0 {
            self.cache_short = true;
        }
        self.flush_cursor = at;
        Ok(())
    }

    /// Reads the disc's samples of `range` (disc LBAs, offset corrected)
    /// and delivers them in order to `out` as little-endian 16-bit stereo
    /// bytes (each call a multiple of 4 bytes). `progress` is called after
    /// each window of sectors. In [`Mode::TestAndCopy`] `out` sees only the
    /// copy pass.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty range, or one that is not within a
    /// stretch of audio tracks (it starts before LBA 0, crosses a data
    /// track, or reaches past the audio lead-out); [`Error::Cancelled`]; [`Error::DriveGone`],
    /// [`Error::NoMedium`] and [`Error::Drive`] when the drive fails other
    /// than by unreadable sectors (those are reported as suspicious, not as
    /// errors); whatever `out` returns.
    pub fn read_range(
        &mut self,
        range: Range<Lba>,
        out: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
        progress: &mut dyn FnMut(&ReadProgress),
        cancel: &CancelToken,
    ) -> Result<RangeReport, Error> {
        let plan = self.plan(&range)?;
        self.cache_short = false;
        let total = (plan.end - plan.start) as u32;
        let mut counters = Counters::default();
        let mut report = RangeReport {
            sectors: total,
            ..RangeReport::default()
        };
        let passes: &[Pass] = match self.opts.mode {
            Mode::TestAndCopy => &[Pass::Test, Pass::Copy],
            _ => &[Pass::Copy],
        };
        let mut suspicious = Vec::new();
        for &pass in passes {
            let mut sink = Sink::new(pass == Pass::Copy, out);
            let r = self.run_pass(&plan, pass, &mut sink, &mut counters, progress, cancel)?;
            suspicious.extend(r.suspicious);
            match pass {
                Pass::Test => report.test_crc32 = Some(sink.crc.clone().finalize()),
                Pass::Copy => {
                    report.crc32 = sink.crc.clone().finalize();
                    report.peak = sink.peak;
                    report.zero_filled_start = r.zero_start;
                    report.zero_filled_end = r.zero_end;
                    report.overread_start = r.overread_start;
                    report.overread_end = r.overread_end;
                }
            }
        }
        report.suspicious = merge(suspicious);
        report.rereads = counters.rereads;
        report.cache_defeated = !self.cache_short;
        Ok(report)
    }

    fn plan(&self, range: &Range<Lba>) -> Result<Plan, Error> {
        let (start, end) = (range.start.0, range.end.0);
        let run = self
            .runs
            .iter()
            .find(|r| r.start <= start && start < end && end <= r.end)
            .cloned()
            .ok_or_else(|| {
                let runs: Vec<String> = self
                    .runs
                    .iter()
                    .map(|r| format!("{}..{}", r.start, r.end))
                    .collect();
                Error::Invalid {
                    drive: self.report.name.clone(),
                    reason: format!(
                        "cannot read LBA {start}..{end} as audio: the audio of this disc is LBA {}",
                        if runs.is_empty() {
                            "(none)".to_string()
                        } else {
                            runs.join(", ")
                        }
                    ),
                }
            })?;
        // Overread applies at the disc's own edges, not next to data tracks.
        let lead_in = run.start <= 0 && self.report.overread_lead_in;
        let lead_out = run.end == self.audio_end && self.report.overread_lead_out;
        let n = i64::from(self.opts.offset);
        let p0 = i64::from(start) * FRAMES_PER_SECTOR + n;
        let p1 = i64::from(end) * FRAMES_PER_SECTOR + n;
        let s0 = p0.div_euclid(FRAMES_PER_SECTOR) as i32;
        let s1 = (p1 + FRAMES_PER_SECTOR - 1).div_euclid(FRAMES_PER_SECTOR) as i32;
        // A sector is inside the lead-out edge when its samples end by the
        // audio's end and its LBA is before the lead-out.
        let inner_hi = (run.end + n.div_euclid(FRAMES_PER_SECTOR) as i32).min(run.end);
        let r0 = if lead_in { s0 } else { s0.max(run.start) };
        let r1 = if lead_out { s1 } else { s1.min(inner_hi) };
        Ok(Plan {
            start,
            end,
            p0,
            p1,
            r0,
            r1: r1.max(r0),
            inner_hi,
            run,
        })
    }

    fn window_len(&self) -> u32 {
        let c = self.report.cache_sectors;
        let need = c
            .saturating_add(BATCH)
            .div_ceil(BATCH)
            .saturating_mul(BATCH);
        need.max(MIN_WINDOW)
    }

    fn run_pass(
        &mut self,
        plan: &Plan,
        pass: Pass,
        sink: &mut Sink<'_, '_>,
        counters: &mut Counters,
        progress: &mut dyn FnMut(&ReadProgress),
        cancel: &CancelToken,
    ) -> Result<PassResult, Error> {
        let started = Instant::now();
        let sector = FRAMES_PER_SECTOR;
        let q0 = (i64::from(plan.r0) * sector).clamp(plan.p0, plan.p1);
        let q1 = (i64::from(plan.r1) * sector).clamp(q0, plan.p1);
        let mut result = PassResult {
            zero_start: (q0 - plan.p0) as u32,
            zero_end: (plan.p1 - q1) as u32,
            overread_start: ((i64::from(plan.run.start) * sector).clamp(q0, q1) - q0) as u32,
            overread_end: (q1 - (i64::from(plan.inner_hi) * sector).clamp(q0, q1)) as u32,
            suspicious: Vec::new(),
        };
        let total = (plan.end - plan.start) as u32;
        let mut report_progress = |done_frames: i64, rereads: u64| {
            let secs = started.elapsed().as_secs_f64();
            let done = (done_frames / sector) as u32;
            progress(&ReadProgress {
                lba: Lba(plan.start + done as i32),
                done: done.min(total),
                total,
                rereads,
                speed_x: if secs > 0.0 {
                    done_frames as f64 / FRAMES_PER_SECOND / secs
                } else {
                    0.0
                },
                pass,
            });
        };
        sink.zeros(u64::from(result.zero_start))?;
        if q1 > q0 {
            if self.report.accurate_stream {
                let w = self.window_len() as i32;
                let mut bufs = WindowBufs::default();
                let mut a = plan.r0;
                while a < plan.r1 {
                    cancel.check().map_err(|_| Error::Cancelled)?;
                    let b = (a + w).min(plan.r1);
                    let n = (b - a) as usize;
                    let suspicious = match self.opts.mode {
                        Mode::Burst => self.burst_window(a, n, &mut bufs, counters, cancel)?,
                        _ => self.secure_window(plan, a, n, &mut bufs, counters, cancel)?,
                    };
                    // Deliver the stream samples of this window that were asked for.
                    let (w0, w1) = (i64::from(a) * sector, i64::from(b) * sector);
                    let (c0, c1) = (w0.max(plan.p0), w1.min(plan.p1));
                    if c1 > c0 {
                        let from = ((c0 - w0) * 4) as usize;
                        let to = ((c1 - w0) * 4) as usize;
                        if let Some(bytes) = bufs.first.get(from..to) {
                            sink.push(bytes)?;
                        }
                    }
                    for i in suspicious {
                        let s0 = (i64::from(a) + i as i64) * sector;
                        let (f0, f1) = (s0.max(plan.p0), (s0 + sector).min(plan.p1));
                        if f1 > f0 {
                            result
                                .suspicious
                                .push((f0 - plan.p0) as u64..(f1 - plan.p0) as u64);
                        }
                    }
                    report_progress(c1 - plan.p0, counters.rereads);
                    a = b;
                }
            } else {
                let mut j = jitter::Assembler::new(self, plan, q0, q1);
                j.run(
                    sink,
                    counters,
                    &mut result.suspicious,
                    cancel,
                    &mut |f, r| report_progress(f, r),
                )?;
            }
        }
        sink.zeros(u64::from(result.zero_end))?;
        report_progress(plan.p1 - plan.p0, counters.rereads);
        Ok(result)
    }

    /// One read of each sector; failed reads tried again up to `retries`
    /// times. Returns the window's suspicious sectors.
    fn burst_window(
        &mut self,
        a: i32,
        n: usize,
        bufs: &mut WindowBufs,
        counters: &mut Counters,
        cancel: &CancelToken,
    ) -> Result<Vec<usize>, Error> {
        bufs.reset(n);
        let WindowBufs { first, got1, .. } = bufs;
        self.read_run(a, n, cancel, &mut |i, audio, got| {
            store(first, got1, i, audio, got);
        })?;
        for _ in 0..self.opts.retries {
            let missing: Vec<usize> = (0..n).filter(|&i| got1[i] == Got::Missing).collect();
            if missing.is_empty() {
                break;
            }
            for run in runs(&missing) {
                counters.rereads += run.len() as u64;
                self.read_run(
                    a + run.start as i32,
                    run.len(),
                    cancel,
                    &mut |i, audio, got| {
                        store(first, got1, run.start + i, audio, got);
                    },
                )?;
            }
        }
        Ok((0..n).filter(|&i| got1[i] != Got::Clean).collect())
    }

    /// The secure read of one window (see the module doc). The accepted
    /// sectors end in `bufs.first`; returns the suspicious ones.
    fn secure_window(
        &mut self,
        plan: &Plan,
        a: i32,
        n: usize,
        bufs: &mut WindowBufs,
        counters: &mut Counters,
        cancel: &CancelToken,
    ) -> Result<Vec<usize>, Error> {
        bufs.reset(n);
        let window = a..a + n as i32;
        {
            let WindowBufs { first, got1, .. } = &mut *bufs;
            self.read_run(a, n, cancel, &mut |i, audio, got| {
                store(first, got1, i, audio, got);
            })?;
        }
        if (n as u64) < u64::from(self.report.cache_sectors) + u64::from(BATCH) {
            self.flush(plan, std::slice::from_ref(&window), cancel)?;
        }
        {
            let WindowBufs { second, got2, .. } = &mut *bufs;
            self.read_run(a, n, cancel, &mut |i, audio, got| {
                store(second, got2, i, audio, got);
            })?;
        }
        let WindowBufs {
            first,
            second,
            got1,
            got2,
        } = bufs;
        let mut pending: Vec<(usize, Votes)> = Vec::new();
        for i in 0..n {
            let sl = i * SECTOR_BYTES..(i + 1) * SECTOR_BYTES;
            if got1[i] == Got::Clean
                && got2[i] == Got::Clean
                && first[sl.clone()] == second[sl.clone()]
            {
                continue;
            }
            let mut v = Votes::default();
            if got1[i] != Got::Missing {
                v.add(&first[sl.clone()], got1[i] == Got::Flagged);
            }
            if got2[i] != Got::Missing {
                v.add(&second[sl.clone()], got2[i] == Got::Flagged);
            }
            pending.push((i, v));
        }
        let mut round = 0;
        while !pending.is_empty() && round < self.opts.retries {
            round += 1;
            let idx: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
            let avoid: Vec<Range<i32>> = runs(&idx)
                .iter()
                .map(|r| a + r.start as i32..a + r.end as i32)
                .collect();
            self.flush(plan, &avoid, cancel)?;
            for run in runs(&idx) {
                counters.rereads += run.len() as u64;
                let base = run.start;
                self.read_run(a + base as i32, run.len(), cancel, &mut |k, audio, got| {
                    let i = base + k;
                    if let Ok(p) = pending.binary_search_by_key(&i, |(j, _)| *j) {
                        pending[p].1.add(audio, got == Got::Flagged);
                    }
                })?;
            }
            pending.retain(|(i, v)| match v.accepted() {
                Some(data) => {
                    first[i * SECTOR_BYTES..(i + 1) * SECTOR_BYTES].copy_from_slice(data);
                    false
                }
                None => true,
            });
        }
        let mut suspicious = Vec::with_capacity(pending.len());
        for (i, v) in pending {
            let dst = &mut first[i * SECTOR_BYTES..(i + 1) * SECTOR_BYTES];
            match v.best() {
                Some(data) => dst.copy_from_slice(data),
                None => dst.fill(0),
            }
            suspicious.push(i);
        }
        Ok(suspicious)
    }
}

/// The stretches of consecutive audio tracks, each from its first track's
/// pregap to the next data track (or session lead-out), clipped to
/// `audio_end`.
fn audio_runs(disc: &Disc, audio_end: i32) -> Vec<Range<i32>> {
    let mut runs: Vec<Range<i32>> = Vec::new();
    let mut open: Option<(i32, u8)> = None;
    for t in &disc.tracks {
        let at = t.first_address().0.max(0);
        match (open, t.is_audio()) {
            (Some((_, session)), true) if session == t.session => {}
            (Some((s, session)), _) => {
                let end = if session == t.session {
                    at
                } else {
                    disc.session_leadout(session).0
                };
                runs.push(s..end);
                open = t.is_audio().then_some((at, t.session));
            }
            (None, true) => open = Some((at, t.session)),
            (None, false) => {}
        }
    }
    if let Some((s, session)) = open {
        runs.push(s..disc.session_leadout(session).0);
    }
    runs.into_iter()
        .map(|r| r.start..r.end.min(audio_end))
        .filter(|r| r.start < r.end)
        .collect()
}

fn store(dst: &mut [u8], got: &mut [Got], i: usize, audio: &[u8], g: Got) {
    if let (Some(d), Some(slot)) = (
        dst.get_mut(i * SECTOR_BYTES..(i + 1) * SECTOR_BYTES),
        got.get_mut(i),
    ) {
        if audio.len() == SECTOR_BYTES {
            d.copy_from_slice(audio);
            *slot = g;
        }
    }
}

/// Contiguous runs of sorted indexes.
fn runs(idx: &[usize]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for &i in idx {
        match out.last_mut() {
            Some(r) if r.end == i => r.end += 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// Sorts and merges overlapping or touching ranges.
fn merge(mut v: Vec<Range<u64>>) -> Vec<Range<u64>> {
    v.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in v {
        match out.last_mut() {
            Some(l) if r.start <= l.end => l.end = l.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The buffers of one window, kept across windows.
#[derive(Debug, Default)]
struct WindowBufs {
    first: Vec<u8>,
    second: Vec<u8>,
    got1: Vec<Got>,
    got2: Vec<Got>,
}

impl WindowBufs {
    fn reset(&mut self, n: usize) {
        for (b, g) in [
            (&mut self.first, &mut self.got1),
            (&mut self.second, &mut self.got2),
        ] {
            b.clear();
            b.resize(n * SECTOR_BYTES, 0);
            g.clear();
            g.resize(n, Got::Missing);
        }
    }
}

/// What one pass found.
#[derive(Debug)]
struct PassResult {
    zero_start: u32,
    zero_end: u32,
    overread_start: u32,
    overread_end: u32,
    suspicious: Vec<Range<u64>>,
}

/// Where a pass's samples go: the CRC, the peak, and (copy pass) `out`.
struct Sink<'a, 'b> {
    deliver: bool,
    out: &'a mut (dyn FnMut(&[u8]) -> Result<(), Error> + 'b),
    crc: crc32fast::Hasher,
    peak: u16,
}

impl<'a, 'b> Sink<'a, 'b> {
    fn new(deliver: bool, out: &'a mut (dyn FnMut(&[u8]) -> Result<(), Error> + 'b)) -> Self {
        Sink {
            deliver,
            out,
            crc: crc32fast::Hasher::new(),
            peak: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.crc.update(bytes);
        let peak = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs())
            .max()
            .unwrap_or(0);
        self.peak = self.peak.max(peak);
        if self.deliver {
            (self.out)(bytes)?;
        }
        Ok(())
    }

    fn zeros(&mut self, frames: u64) -> Result<(), Error> {
        const CHUNK: [u8; SECTOR_BYTES] = [0; SECTOR_BYTES];
        let mut left = frames * 4;
        while left > 0 {
            let n = left.min(SECTOR_BYTES as u64) as usize;
            self.push(&CHUNK[..n])?;
            left -= n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn modes_parse_and_serialize() {
        for m in [Mode::Secure, Mode::Burst, Mode::TestAndCopy] {
            assert_eq!(m.as_str().parse::<Mode>().unwrap(), m);
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.as_str())
            );
        }
        assert!("fast".parse::<Mode>().is_err());
    }

    #[test]
    fn runs_and_merge() {
        assert_eq!(runs(&[1, 2, 3, 7, 9, 10]), vec![1..4, 7..8, 9..11]);
        assert!(runs(&[]).is_empty());
        assert_eq!(merge(vec![5..8, 0..2, 2..3, 7..9]), vec![0..3, 5..9]);
    }
}
