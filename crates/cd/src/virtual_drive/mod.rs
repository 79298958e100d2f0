//! The virtual drive: a software CD drive answering MMC commands from a disc
//! image, through the same [`Transport`] trait as a real drive.
//!
//! Images: a cue sheet with BINARY/MOTOROLA files or audio files (WAVE,
//! FLAC, AIFF… decoded with `aj_codec::decode`, which must give 44.1 kHz
//! 16-bit stereo), a cdrdao TOC file (`.toc`: raw or audio files composed
//! sample by sample), or a single audio file (a one-track
//! disc). Audio files are decoded once into an unnamed temporary file, so
//! memory does not grow with the image. A read the image file cannot
//! satisfy (an I/O error, or the file shrank since it was opened) is a
//! MEDIUM ERROR, unrecovered read error, at the LBA read, as a scratch
//! would be.
//!
//! What it answers: INQUIRY, TEST UNIT READY, REQUEST SENSE, GET
//! CONFIGURATION, MODE SENSE(10) page 2Ah, READ TOC/PMA/ATIP formats 0, 1, 2
//! and 5 (format 4 gets "invalid field", as pressed discs do), READ
//! SUB-CHANNEL (position, MCN, ISRC), READ CD (CD-DA with C2 pointers and
//! formatted Q or raw P-W sub-channel; data sectors with expected type "any"),
//! SET CD SPEED, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL and GET EVENT
//! STATUS NOTIFICATION. Anything else gets ILLEGAL REQUEST / INVALID COMMAND
//! OPERATION CODE, as from a real drive.
//!
//! The Q sub-channel is generated as a pressed disc carries it (IEC 60908
//! §17.5): ADR 1 position frames with the relative time counting down through
//! pregaps, ADR 2 (MCN) in one frame of every 100 and ADR 3 (ISRC) in another,
//! outside pregaps. The P channel is set in pauses (INDEX 00).
//!
//! Behaviour a ripper must cope with ([`Options`], from the spec string
//! `image:PATH[,offset=N][,overread=yes|no][,cache=SECTORS][,bad=LBA-LBA]…`):
//!
//! - **read offset** `offset=N`: the drive's offset as AccurateRip lists it,
//!   i.e. the correction a ripper applies. Reading sector L returns the disc's
//!   samples from L×588 − N on.
//! - **overread**: samples outside the disc (the lead-in before LBA −150,
//!   the lead-out, between sessions) read as zeros with `overread=yes`; with
//!   `no` (the default) a read needing them fails with a medium error. Track
//!   1's pregap (LBA −150 to 0) is silence a read may reach through the
//!   offset either way; READ CD of negative LBAs or of the lead-out itself
//!   needs `overread=yes`.
//! - **cache** `cache=SECTORS`: sectors read stay in a FIFO cache and are
//!   returned as they were (corruption included) until evicted. MODE SENSE
//!   page 2Ah reports it as the buffer size, unless `buffer=KIB` says
//!   otherwise: many real drives report 0 or a wrong size, which is why the
//!   secure reader measures (see [`crate::rip::cache`]).
//! - **faults**: `bad=A-B` sectors fail with a medium error every time;
//!   `flaky=RATE` makes each sector read fail with that probability;
//!   `corrupt=RATE` damages a burst of bytes in a sector with that
//!   probability, flagged in the C2 pointers unless `c2=no` (then the drive
//!   has no C2 support at all); `jitter=SAMPLES` shifts each READ CD command
//!   by up to that many samples either way (and the drive then does not claim
//!   an accurate stream); `seed=N` makes it all repeatable.
//! - **a vanishing drive** `vanish=N`: after N READ CD commands the drive is
//!   gone, as when a USB drive is unplugged: every later command fails with
//!   [`Error::NoDevice`], which is what SG_IO gives for a device that went
//!   away (ENODEV, or the host's "no connect"), so a caller cannot tell it
//!   from a real one.
//! - **a slow drive** `speed=N`: READ CD delivers at most N× real time (75·N
//!   sectors a second), as a real drive does; demonstrations and tests of
//!   interruption use it. Only sectors read from the medium take that time:
//!   those answered from the cache come at once, as over a real drive's
//!   interface, which is what lets a ripper time the cache. Without it the
//!   virtual drive is as fast as it can be.
//! - **noisy timing** `stall=RATE`: with that probability a READ CD command
//!   is held up by an extra random delay of up to twice the time its sectors
//!   take from the medium (a busy host, a drive recalibrating), so a cache
//!   hit may look like a miss. Needs `speed=`.
//!
//! [`generate`] builds discs (the model and their image) from a short
//! description; [`demo`] is the built-in demo disc behind `--drive demo`
//! (`demo[,options]` takes the same options as `image:`).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aj_core::{Lba, Msf, Samples};

use crate::cue::{CueSheet, FileType};
use crate::disc::{Disc, Track, TrackMode, SESSION_GAP_SECTORS};
use crate::mmc::sense::{self, Sense};
use crate::mmc::{self, subq, C2Mode, SubChannel};
use crate::transport::{Direction, Error, Transport};

pub mod demo;
pub mod generate;
mod sectors;
mod toc;

use sectors::{Backing, Content, SectorMap};
use toc::TocMap;

/// Samples (stereo frames) per CD-DA sector.
const FRAMES_PER_SECTOR: i64 = 588;
/// Bytes per CD-DA sector.
const SECTOR: i64 = 2352;
/// How far past the edges READ CD is accepted at all (sectors).
const EDGE_SLACK: i32 = 150;
/// The largest read offset accepted (samples): drives list up to ±3000.
const MAX_OFFSET: i32 = 44_100;

/// The virtual drive's settings (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The image: a cue sheet, a cdrdao TOC file or an audio file.
    pub path: PathBuf,
    /// Read offset in samples.
    pub offset: i32,
    /// Whether reads may go past the disc's edges (returning zeros).
    pub overread: bool,
    /// Cache size in sectors (0: no cache).
    pub cache: usize,
    /// Unreadable sectors (inclusive ranges).
    pub bad: Vec<(i32, i32)>,
    /// Probability that reading a sector fails once.
    pub flaky: f64,
    /// Probability that a sector comes back damaged.
    pub corrupt: f64,
    /// Whether the drive reports C2 error pointers.
    pub c2: bool,
    /// Largest random shift of a READ CD command, in samples.
    pub jitter: u32,
    /// Seed of the fault generator.
    pub seed: u64,
    /// READ CD commands served before the drive vanishes (`None`: never).
    pub vanish: Option<u64>,
    /// The most READ CD delivers, in multiples of real time (`None`: no limit).
    pub speed: Option<u32>,
    /// The buffer size MODE SENSE page 2Ah reports, in KiB (`None`: the
    /// cache's size).
    pub buffer_kib: Option<u16>,
    /// Probability that a READ CD command is held up by an extra delay.
    pub stall: f64,
}

impl Options {
    /// Defaults for an image: no offset, no overread, no cache, no faults,
    /// C2 reported.
    pub fn new(path: impl Into<PathBuf>) -> Options {
        Options {
            path: path.into(),
            offset: 0,
            overread: false,
            cache: 0,
            bad: Vec::new(),
            flaky: 0.0,
            corrupt: 0.0,
            c2: true,
            jitter: 0,
            seed: 1,
            vanish: None,
            speed: None,
            buffer_kib: None,
            stall: 0.0,
        }
    }

    /// Parses `PATH[,key=value…]` (the part after `image:`).
    ///
    /// # Errors
    /// [`Error::Spec`] naming the option and what is wrong with it.
    pub fn parse(spec: &str) -> Result<Options, Error> {
        // The path may itself hold commas: options start at the first
        // ",word=".
        let mut cut = spec.len();
        for (i, _) in spec.match_indices(',') {
            let rest = &spec[i + 1..];
            let key_len = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
            if key_len > 0 && rest.as_bytes().get(key_len) == Some(&b'=') {
                cut = i;
                break;
            }
        }
        let (path, opts) = spec.split_at(cut);
        if path.is_empty() {
            return Err(Error::Spec("image: needs a path (image:disc.cue)".into()));
        }
        let mut o = Options::new(path);
        o.apply(opts)?;
        Ok(o)
    }

    /// Applies `key=value` options separated by commas (the part of a spec
    /// after the image path) to these settings.
    ///
    /// # Errors
    /// [`Error::Spec`] naming the option and what is wrong with it.
    pub fn apply(&mut self, opts: &str) -> Result<(), Error> {
        const KEYS: [&str; 13] = [
            "offset", "overread", "cache", "buffer", "bad", "flaky", "corrupt", "c2", "seed",
            "jitter", "vanish", "speed", "stall",
        ];
        let o = self;
        let spec_err = |k: &str, v: &str, what: &str| Error::Spec(format!("{k}={v}: {what}"));
        for item in opts.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| Error::Spec(format!("\"{item}\" is not key=value")))?;
            let yes_no = |v: &str| match v {
                "yes" | "on" | "true" | "1" => Ok(true),
                "no" | "off" | "false" | "0" => Ok(false),
                _ => Err(spec_err(k, v, "expected yes or no")),
            };
            let rate = |v: &str| match v.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(spec_err(k, v, "expected a probability from 0 to 1")),
            };
            match k {
                "offset" => {
                    o.offset = v
                        .strip_prefix('+')
                        .unwrap_or(v)
                        .parse()
                        .ok()
                        .filter(|n: &i32| n.abs() <= MAX_OFFSET)
                        .ok_or_else(|| {
                            spec_err(
                                k,
                                v,
                                &format!("expected samples from -{MAX_OFFSET} to {MAX_OFFSET}"),
                            )
                        })?;
                }
                "overread" => o.overread = yes_no(v)?,
                "c2" => o.c2 = yes_no(v)?,
                "cache" => {
                    o.cache = v.parse().ok().filter(|n| *n <= 1 << 16).ok_or_else(|| {
                        spec_err(k, v, "expected a number of sectors up to 65536")
                    })?;
                }
                "bad" => {
                    let (a, b) = v.split_once('-').unwrap_or((v, v));
                    match (a.parse::<i32>(), b.parse::<i32>()) {
                        (Ok(a), Ok(b)) if a <= b => o.bad.push((a, b)),
                        _ => return Err(spec_err(k, v, "expected LBA-LBA (first and last)")),
                    }
                }
                "buffer" => {
                    o.buffer_kib = Some(v.parse().map_err(|_| {
                        spec_err(k, v, "expected a buffer size in KiB up to 65535")
                    })?);
                }
                "stall" => o.stall = rate(v)?,
                "flaky" => o.flaky = rate(v)?,
                "corrupt" => o.corrupt = rate(v)?,
                "jitter" => {
                    o.jitter = v
                        .parse()
                        .ok()
                        .filter(|n| *n <= 588 * 10)
                        .ok_or_else(|| spec_err(k, v, "expected samples up to 5880"))?;
                }
                "seed" => {
                    o.seed = v
                        .parse()
                        .map_err(|_| spec_err(k, v, "expected a whole number"))?;
                }
                "speed" => {
                    o.speed = Some(v.parse().ok().filter(|&n: &u32| n > 0).ok_or_else(|| {
                        spec_err(
                            k,
                            v,
                            "expected a speed in multiples of real time, 1 or more",
                        )
                    })?);
                }
                "vanish" => {
                    o.vanish =
                        Some(v.parse().map_err(|_| {
                            spec_err(k, v, "expected a number of READ CD commands")
                        })?);
                }
                _ => {
                    return Err(Error::Spec(format!(
                        "unknown option \"{k}\" (known: {})",
                        KEYS.join(", ")
                    )))
                }
            }
        }
        Ok(())
    }
}

/// A small deterministic generator (SplitMix64) for the faults.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// Where the disc's bytes come from.
#[derive(Debug)]
enum Layout {
    /// Whole sectors of files: cue sheets, single audio files, generated
    /// images.
    Sectors(SectorMap),
    /// A cdrdao TOC file's data statements, sample-granular.
    Toc(TocMap),
}

/// Counters for tests and demonstrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Commands received.
    pub commands: u64,
    /// Sectors read from the "medium" (cache misses).
    pub medium_reads: u64,
    /// Sectors answered from the cache.
    pub cache_hits: u64,
}

/// A software CD drive over a disc image.
#[derive(Debug)]
pub struct VirtualDrive {
    opts: Options,
    disc: Disc,
    /// Where the disc's bytes come from.
    layout: Layout,
    cd_text: Vec<[u8; 18]>,
    cache: VecDeque<(i32, Vec<u8>)>,
    rng: Rng,
    tray_open: bool,
    locked: bool,
    event: mmc::MediaEvent,
    last_sense: Option<Sense>,
    read_speed: u16,
    stats: Stats,
    /// READ CD commands received (for `vanish`).
    read_cds: u64,
    /// What [`Transport::name`] says.
    label: String,
}

fn image_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Image {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// True when a file starting with `head` is an audio file (WAVE, RF64,
/// FLAC, AIFF, Ogg) rather than raw samples or sectors.
fn is_audio_header(head: &[u8]) -> bool {
    [&b"RIFF"[..], b"RF64", b"fLaC", b"FORM", b"OggS"]
        .iter()
        .any(|m| head.starts_with(m))
}

/// Decodes an audio file into a temporary file of 16-bit little-endian
/// stereo PCM; returns it with its length in frames.
fn decode_to_temp(path: &Path) -> Result<(File, u64), Error> {
    let mut dec = aj_codec::decode::open(path).map_err(|e| image_err(path, e.to_string()))?;
    let spec = dec.spec();
    let bits = match spec.format {
        aj_core::SampleFormat::Int { bits } => bits,
        aj_core::SampleFormat::Float => 0,
    };
    if spec.sample_rate != 44_100 || spec.channels != 2 || bits != 16 {
        return Err(image_err(
            path,
            format!(
                "is {} Hz, {} channel(s), {}; a CD image needs 44100 Hz 16-bit stereo",
                spec.sample_rate,
                spec.channels,
                if bits == 0 {
                    "float".to_string()
                } else {
                    format!("{bits}-bit")
                }
            ),
        ));
    }
    let mut tmp =
        tempfile::tempfile().map_err(|e| image_err(path, format!("temporary file: {e}")))?;
    let mut frames = 0u64;
    let mut out = Vec::new();
    loop {
        let block = dec
            .read(1 << 15)
            .map_err(|e| image_err(path, e.to_string()))?;
        let Some(block) = block else { break };
        let Samples::Int(v) = block.samples else {
            return Err(image_err(path, "decoded to float samples"));
        };
        out.clear();
        for s in &v {
            // 16-bit values, right-justified: fit by the spec check.
            out.extend_from_slice(&(*s as i16).to_le_bytes());
        }
        frames += (v.len() / 2) as u64;
        tmp.write_all(&out)
            .map_err(|e| image_err(path, format!("temporary file: {e}")))?;
    }
    Ok((tmp, frames))
}

impl VirtualDrive {
    /// Loads the image `opts.path` names.
    ///
    /// # Errors
    /// [`Error::Image`] when the image cannot be read, the cue sheet is
    /// invalid, or an audio file is not CD audio.
    pub fn open(opts: Options) -> Result<VirtualDrive, Error> {
        let path = opts.path.clone();
        let head = {
            let mut f = File::open(&path).map_err(|e| image_err(&path, open_reason(&e)))?;
            let mut h = [0u8; 4];
            let n = f.read(&mut h).unwrap_or(0);
            h[..n].to_vec()
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if ext.as_deref() == Some("toc") {
            let (disc, map) = TocMap::open(&path)?;
            return VirtualDrive::assemble(opts, disc, Layout::Toc(map), Vec::new());
        }
        if is_audio_header(&head) {
            let (file, frames) = decode_to_temp(&path)?;
            let sectors = i64::try_from(frames.div_ceil(588)).unwrap_or(i64::MAX);
            let leadout =
                i32::try_from(sectors).map_err(|_| image_err(&path, "too long for a CD"))?;
            let disc = Disc::audio(&[Lba(0)], Lba(leadout)).map_err(|e| image_err(&path, e.0))?;
            let backing = Backing {
                file,
                base: 0,
                sector_size: SECTOR as u64,
                swap: false,
                sectors,
                len: frames * 4,
            };
            let layout = Layout::Sectors(SectorMap::new(vec![backing], Vec::new()));
            return VirtualDrive::assemble(opts, disc, layout, Vec::new());
        }
        VirtualDrive::open_cue(opts)
    }

    fn open_cue(opts: Options) -> Result<VirtualDrive, Error> {
        let path = opts.path.clone();
        let bytes = std::fs::read(&path).map_err(|e| image_err(&path, open_reason(&e)))?;
        let sheet = CueSheet::parse_bytes(&bytes).map_err(|e| image_err(&path, e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        // Sector size of each file, from the tracks that use it.
        let mut sizes: Vec<Option<u32>> = vec![None; sheet.files.len()];
        for t in &sheet.tracks {
            let sz = t.kind.mode().sector_size();
            for i in &t.indexes {
                if let Some(s) = sizes.get_mut(i.file) {
                    match s {
                        Some(old) if *old != sz && sheet.files[i.file].kind.is_raw() => {
                            return Err(image_err(
                                &path,
                                format!(
                                    "{} holds tracks with different sector sizes ({old} and {sz}), which the virtual drive does not read",
                                    sheet.files[i.file].name
                                ),
                            ))
                        }
                        _ => *s = Some(sz),
                    }
                }
            }
        }
        let mut files = Vec::with_capacity(sheet.files.len());
        let mut open_error = None;
        let disc = sheet
            .to_disc(|f| {
                let idx = files.len();
                let fp = dir.join(&f.name);
                let r = (|| -> Result<Backing, Error> {
                    if f.kind.is_raw() {
                        let file = File::open(&fp).map_err(|e| image_err(&fp, open_reason(&e)))?;
                        let len = file
                            .metadata()
                            .map_err(|e| image_err(&fp, e.to_string()))?
                            .len();
                        let size = u64::from(sizes.get(idx).copied().flatten().unwrap_or(2352));
                        Ok(Backing {
                            file,
                            base: 0,
                            sector_size: size,
                            swap: f.kind == FileType::Motorola,
                            sectors: i64::try_from(len.div_ceil(size)).unwrap_or(i64::MAX),
                            len,
                        })
                    } else {
                        let (file, frames) = decode_to_temp(&fp)?;
                        Ok(Backing {
                            file,
                            base: 0,
                            sector_size: SECTOR as u64,
                            swap: false,
                            sectors: i64::try_from(frames.div_ceil(588)).unwrap_or(i64::MAX),
                            len: frames * 4,
                        })
                    }
                })();
                match r {
                    Ok(b) => {
                        let n = b.sectors as u64;
                        files.push(b);
                        Ok(n)
                    }
                    Err(e) => {
                        let m = e.to_string();
                        open_error = Some(e);
                        Err(m)
                    }
                }
            })
            .map_err(|e| {
                open_error
                    .take()
                    .unwrap_or_else(|| image_err(&path, e.to_string()))
            })?;

        // Where the sheet inserts silence or a session gap, in global file sectors.
        let mut file_start = Vec::with_capacity(files.len());
        let mut total = 0i64;
        for b in &files {
            file_start.push(total);
            total += b.sectors;
        }
        let global =
            |file: usize, pos: u32| file_start.get(file).copied().unwrap_or(0) + i64::from(pos);
        let mut inserts: Vec<(i64, i64, Content)> = Vec::new();
        let mut session = 1u8;
        for (n, t) in sheet.tracks.iter().enumerate() {
            let first = t.indexes.first().map_or(0, |i| global(i.file, i.position));
            if t.session != session {
                inserts.push((first, i64::from(SESSION_GAP_SECTORS), Content::Gap));
                session = t.session;
            }
            if let (Some(p), Some(i1)) = (t.pregap, t.index(1)) {
                inserts.push((global(i1.file, i1.position), i64::from(p), Content::Silence));
            }
            if let Some(p) = t.postgap {
                let end = sheet
                    .tracks
                    .get(n + 1)
                    .and_then(|nt| nt.indexes.first())
                    .map_or(total, |i| global(i.file, i.position));
                inserts.push((end, i64::from(p), Content::Silence));
            }
        }
        let mut cd_text = Vec::new();
        let mut disc = disc;
        if let Some(name) = &sheet.cdtextfile {
            let fp = dir.join(name);
            let raw = std::fs::read(&fp).map_err(|e| image_err(&fp, open_reason(&e)))?;
            // A .cdt file: packs, optionally after a 4-byte READ TOC header.
            let body = if raw.len() % 18 == 4 {
                &raw[4..]
            } else {
                &raw[..]
            };
            cd_text = body
                .chunks_exact(18)
                .filter_map(|c| c.try_into().ok())
                .collect();
            if disc.cdtext.is_none() {
                disc.cdtext = crate::cdtext::parse(&cd_text).text;
            }
        }
        let layout = Layout::Sectors(SectorMap::new(files, inserts));
        VirtualDrive::assemble(opts, disc, layout, cd_text)
    }

    /// A virtual drive over `disc` whose sectors (LBA 0 to the lead-out, 2352
    /// bytes each, little-endian CD-DA; data sectors raw) are `image`.
    /// Multi-session discs leave out the gap between sessions (it reads as
    /// outside the disc). For tests and generated discs.
    ///
    /// # Errors
    /// [`Error::Image`] when the disc is invalid or a temporary file fails.
    pub fn from_image(disc: Disc, image: &[u8], opts: Options) -> Result<VirtualDrive, Error> {
        let p = opts.path.clone();
        disc.validate().map_err(|e| image_err(&p, e.0))?;
        let mut file = tempfile::tempfile().map_err(|e| image_err(&p, e.to_string()))?;
        file.write_all(image)
            .map_err(|e| image_err(&p, e.to_string()))?;
        let sectors = (image.len() as i64 + SECTOR - 1) / SECTOR;
        let mut inserts = Vec::new();
        let mut removed = 0i64;
        for w in disc.sessions.windows(2) {
            let at = i64::from(w[0].leadout.0) - removed;
            inserts.push((at, i64::from(SESSION_GAP_SECTORS), Content::Gap));
            removed += i64::from(SESSION_GAP_SECTORS);
        }
        let backing = Backing {
            file,
            base: 0,
            sector_size: SECTOR as u64,
            swap: false,
            sectors,
            len: image.len() as u64,
        };
        let layout = Layout::Sectors(SectorMap::new(vec![backing], inserts));
        VirtualDrive::assemble(opts, disc, layout, Vec::new())
    }

    fn assemble(
        opts: Options,
        disc: Disc,
        layout: Layout,
        cd_text: Vec<[u8; 18]>,
    ) -> Result<VirtualDrive, Error> {
        let cd_text = if cd_text.is_empty() {
            match &disc.cdtext {
                Some(t) => {
                    crate::cdtext::build(t, disc.first_track_number(), disc.last_track_number())
                        .map_err(|e| image_err(&opts.path, e.to_string()))?
                }
                None => Vec::new(),
            }
        } else {
            cd_text
        };
        let seed = opts.seed;
        let label = format!("image:{}", opts.path.display());
        Ok(VirtualDrive {
            opts,
            disc,
            layout,
            cd_text,
            cache: VecDeque::new(),
            rng: Rng(seed),
            tray_open: false,
            locked: false,
            event: mmc::MediaEvent::NewMedia,
            last_sense: None,
            read_speed: 0xFFFF,
            stats: Stats::default(),
            read_cds: 0,
            label,
        })
    }

    /// The disc in the drive, as the image describes it.
    pub fn disc(&self) -> &Disc {
        &self.disc
    }

    /// The drive's settings.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Counters of commands, medium reads and cache hits.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// True when the tray is open (after an eject).
    pub fn tray_open(&self) -> bool {
        self.tray_open
    }

    // ----------------------------------------------------------- the disc

    fn track_at(&self, lba: i32) -> Option<&Track> {
        self.disc
            .tracks
            .iter()
            .rev()
            .find(|t| t.first_address().0 <= lba)
            .or_else(|| self.disc.tracks.first().filter(|_| lba < 0))
    }

    /// The Q frame of sector `lba` as the disc carries it.
    fn q_frame(&self, lba: i32) -> subq::QFrame {
        let absolute = Msf::from_lba(Lba(lba)).unwrap_or(Msf { m: 0, s: 0, f: 0 });
        let track = self.track_at(lba);
        let session_out = track.map_or(self.disc.leadout, |t| self.disc.session_leadout(t.session));
        let position = |track: u8, index: u8, rel: i32, control: u8| subq::QFrame {
            control,
            adr: subq::ADR_POSITION,
            data: subq::QData::Position {
                track,
                index,
                relative: Msf::from_lba(Lba(rel - 150)).unwrap_or(Msf { m: 0, s: 0, f: 0 }),
                absolute,
            },
        };
        let Some(t) = track else {
            return position(subq::LEAD_OUT_TRACK, 1, 0, 0);
        };
        if lba >= session_out.0 {
            return position(
                subq::LEAD_OUT_TRACK,
                1,
                lba - session_out.0,
                t.control.bits(),
            );
        }
        let control = t.control.bits();
        if lba < t.start.0 {
            // A pause: the relative time counts down to zero at its last frame.
            return position(t.number, 0, t.start.0 - lba - 1, control);
        }
        let aframe = absolute.f;
        let phase = lba.rem_euclid(100);
        if phase == 25 {
            if let Some(m) = &self.disc.mcn {
                return subq::QFrame {
                    control,
                    adr: subq::ADR_MCN,
                    data: subq::QData::Mcn {
                        mcn: m.clone(),
                        aframe,
                    },
                };
            }
        }
        if phase == 75 {
            if let Some(i) = &t.isrc {
                return subq::QFrame {
                    control,
                    adr: subq::ADR_ISRC,
                    data: subq::QData::Isrc {
                        isrc: i.clone(),
                        aframe,
                    },
                };
            }
        }
        let index = t.index_at(Lba(lba)).unwrap_or(1);
        position(t.number, index, lba - t.start.0, control)
    }

    fn q_bytes(&self, lba: i32) -> [u8; subq::Q_LEN] {
        let f = self.q_frame(lba);
        subq::encode(&f).unwrap_or_else(|| {
            // A model value Q cannot carry (an invalid MCN/ISRC): a
            // position frame instead.
            let t = self.track_at(lba).map_or(1, |t| t.number);
            subq::encode(&subq::QFrame {
                control: f.control,
                adr: 1,
                data: subq::QData::Position {
                    track: t,
                    index: 1,
                    relative: Msf { m: 0, s: 0, f: 0 },
                    absolute: Msf::from_lba(Lba(lba)).unwrap_or(Msf { m: 0, s: 0, f: 0 }),
                },
            })
            .unwrap_or([0; subq::Q_LEN])
        })
    }

    /// Reads disc bytes from byte address `at` (LBA 0 = byte 0) into `out`.
    /// Returns false when some byte lies outside the disc (then zeros).
    ///
    /// # Errors
    /// When the image file cannot be read (a medium error for the caller).
    fn read_bytes(&self, at: i64, out: &mut [u8]) -> std::io::Result<bool> {
        match &self.layout {
            Layout::Sectors(m) => m.read_bytes(at, out),
            Layout::Toc(m) => m.read_bytes(at, out),
        }
    }

    fn is_bad(&self, sector: i64) -> bool {
        self.opts
            .bad
            .iter()
            .any(|&(a, b)| (i64::from(a)..=i64::from(b)).contains(&sector))
    }

    /// One sector of audio as this drive reads it (offset, jitter, faults),
    /// with its C2 pointers.
    fn medium_read(&mut self, lba: i32, jitter: i64) -> Result<(Vec<u8>, Vec<u8>), Sense> {
        self.stats.medium_reads += 1;
        let first_sample =
            i64::from(lba) * FRAMES_PER_SECTOR - i64::from(self.opts.offset) + jitter;
        let first_sector = first_sample.div_euclid(FRAMES_PER_SECTOR);
        let last_sector = (first_sample + FRAMES_PER_SECTOR - 1).div_euclid(FRAMES_PER_SECTOR);
        if (first_sector..=last_sector).any(|s| self.is_bad(s)) {
            return Err(Sense::medium_error_at(lba));
        }
        if self.rng.chance(self.opts.flaky) {
            return Err(Sense::medium_error_at(lba));
        }
        let mut audio = vec![0u8; SECTOR as usize];
        // An image file that cannot be read is what an unreadable disc is.
        let inside = self
            .read_bytes(first_sample * 4, &mut audio)
            .map_err(|_| Sense::medium_error_at(lba))?;
        if !inside && !self.opts.overread {
            return Err(Sense::medium_error_at(lba));
        }
        let mut c2 = vec![0u8; mmc::C2_LEN];
        if self.rng.chance(self.opts.corrupt) {
            let len = 1 + self.rng.below(64) as usize;
            let start = self.rng.below((SECTOR as usize - len) as u64) as usize;
            for i in start..start + len {
                let flip = 1 + (self.rng.below(255) as u8);
                audio[i] ^= flip;
                if self.opts.c2 {
                    c2[i / 8] |= 0x80 >> (i % 8);
                }
            }
        }
        Ok((audio, c2))
    }

    fn cached_read(&mut self, lba: i32, jitter: i64) -> Result<(Vec<u8>, Vec<u8>), Sense> {
        if self.opts.cache > 0 {
            if let Some((_, data)) = self.cache.iter().find(|(l, _)| *l == lba) {
                self.stats.cache_hits += 1;
                let (a, c) = data.split_at(SECTOR as usize);
                return Ok((a.to_vec(), c.to_vec()));
            }
        }
        let (audio, c2) = self.medium_read(lba, jitter)?;
        if self.opts.cache > 0 {
            if self.cache.len() >= self.opts.cache {
                self.cache.pop_front();
            }
            let mut d = audio.clone();
            d.extend_from_slice(&c2);
            self.cache.push_back((lba, d));
        }
        Ok((audio, c2))
    }

    /// A data sector as 2352 raw bytes (sync, header, user data, EDC/ECC
    /// zeros when the image holds user data only).
    fn data_sector(&self, lba: i32, track: &Track) -> std::io::Result<Vec<u8>> {
        let size = track.mode.sector_size() as usize;
        let mut raw = vec![0u8; SECTOR as usize];
        if size == SECTOR as usize {
            self.read_bytes(i64::from(lba) * SECTOR, &mut raw)?;
            return Ok(raw);
        }
        let mut user = vec![0u8; size];
        match &self.layout {
            Layout::Sectors(m) => m.user_data(lba, &mut user)?,
            Layout::Toc(m) => m.user_data(lba, &mut user)?,
        }
        Ok(frame_data_sector(lba, track.mode, &user))
    }

    // ------------------------------------------------------------ commands

    fn configuration(&self) -> Vec<u8> {
        let present = !self.tray_open;
        let profile: u16 = if present { 0x0008 } else { 0 };
        // CD-Text (bit 0) always, C2 flags (bit 1) as configured, DAP (bit 7).
        let cd_read = 0x01 | (u8::from(self.opts.c2) << 1) | 0x80;
        mmc::build_configuration(
            profile,
            &[
                (
                    mmc::FEATURE_PROFILE_LIST,
                    true,
                    vec![0x00, 0x08, u8::from(present), 0],
                ),
                // Core: ATAPI (physical interface standard 2), DBE.
                (0x0001, true, vec![0, 0, 0, 2, 1, 0, 0, 0]),
                // Removable medium: tray (001b), eject, lock.
                (
                    mmc::FEATURE_REMOVABLE_MEDIUM,
                    true,
                    vec![0x20 | 0x08 | 0x01, 0, 0, 0],
                ),
                (mmc::FEATURE_CD_READ, present, vec![cd_read, 0, 0, 0]),
            ],
        )
    }

    fn capabilities(&self) -> Vec<u8> {
        mmc::build_capabilities(&mmc::Capabilities {
            read_cd_r: true,
            read_cd_rw: true,
            cd_da_commands: true,
            accurate_stream: self.opts.jitter == 0,
            c2_pointers: self.opts.c2,
            isrc: true,
            upc: true,
            lock: true,
            eject: true,
            loading_mechanism: 1,
            max_read_speed: 7056,
            current_read_speed: self.read_speed.min(7056),
            buffer_kib: self.opts.buffer_kib.unwrap_or_else(|| {
                u16::try_from(self.opts.cache * SECTOR as usize / 1024).unwrap_or(u16::MAX)
            }),
            ..mmc::Capabilities::default()
        })
    }

    fn toc(&self) -> mmc::Toc {
        let mut entries: Vec<mmc::TocEntry> = self
            .disc
            .tracks
            .iter()
            .map(|t| mmc::TocEntry {
                track: t.number,
                adr: 1,
                control: t.control.bits(),
                start: t.start,
            })
            .collect();
        entries.push(mmc::TocEntry {
            track: mmc::LEAD_OUT,
            adr: 1,
            control: self
                .disc
                .tracks
                .last()
                .map_or(0, |t| t.control.bits() & 0x4),
            start: self.disc.leadout,
        });
        mmc::Toc {
            first_track: self.disc.first_track_number(),
            last_track: self.disc.last_track_number(),
            entries,
        }
    }

    fn full_toc(&self) -> mmc::FullToc {
        let msf = |l: Lba| Msf::from_lba(l).unwrap_or(Msf { m: 0, s: 0, f: 0 });
        let mut entries = Vec::new();
        let n_sessions = self.disc.sessions.len();
        for (si, s) in self.disc.sessions.iter().enumerate() {
            let tracks: Vec<&Track> = self
                .disc
                .tracks
                .iter()
                .filter(|t| t.session == s.number)
                .collect();
            let (Some(first), Some(last)) = (tracks.first(), tracks.last()) else {
                continue;
            };
            let xa = tracks.iter().any(|t| {
                matches!(
                    t.mode,
                    crate::disc::TrackMode::Mode2Raw
                        | crate::disc::TrackMode::Mode2Form1
                        | crate::disc::TrackMode::Mode2Form2
                        | crate::disc::TrackMode::Mode2FormMix
                        | crate::disc::TrackMode::Mode2Formless
                )
            });
            let e = |adr: u8, control: u8, point: u8, p: Msf| mmc::FullTocEntry {
                session: s.number,
                adr,
                control,
                tno: 0,
                point,
                min: 0,
                sec: 0,
                frame: 0,
                zero: 0,
                pmin: p.m,
                psec: p.s,
                pframe: p.f,
            };
            entries.push(e(
                1,
                first.control.bits(),
                mmc::POINT_FIRST_TRACK,
                Msf {
                    m: first.number,
                    s: if xa { 0x20 } else { 0 },
                    f: 0,
                },
            ));
            entries.push(e(
                1,
                last.control.bits(),
                mmc::POINT_LAST_TRACK,
                Msf {
                    m: last.number,
                    s: 0,
                    f: 0,
                },
            ));
            entries.push(e(
                1,
                last.control.bits(),
                mmc::POINT_LEAD_OUT,
                msf(s.leadout),
            ));
            for t in &tracks {
                entries.push(e(1, t.control.bits(), t.number, msf(t.start)));
            }
            if si + 1 < n_sessions {
                // B0: where the next session's program area may start, and
                // the last possible lead-out (79:59:74).
                let next = Lba(s.leadout.0 + SESSION_GAP_SECTORS - 150);
                let mut b0 = e(
                    5,
                    0,
                    mmc::POINT_NEXT_AREA,
                    Msf {
                        m: 79,
                        s: 59,
                        f: 74,
                    },
                );
                let nm = msf(next);
                b0.min = nm.m;
                b0.sec = nm.s;
                b0.frame = nm.f;
                b0.zero = u8::try_from(n_sessions - si - 1).unwrap_or(0);
                entries.push(b0);
            }
        }
        mmc::FullToc {
            first_session: 1,
            last_session: self.disc.sessions.last().map_or(1, |s| s.number),
            entries,
        }
    }

    fn dispatch(&mut self, cdb: &[u8], buf: &mut [u8]) -> Result<usize, Sense> {
        let op = cdb.first().copied().unwrap_or(0xFF);
        let illegal = |asc| Sense::new(sense::KEY_ILLEGAL_REQUEST, asc);
        let no_medium = Sense::new(sense::KEY_NOT_READY, sense::ASC_NO_MEDIUM_TRAY_OPEN);
        let needs_medium = matches!(
            op,
            mmc::OP_TEST_UNIT_READY
                | mmc::OP_READ_TOC
                | mmc::OP_READ_SUB_CHANNEL
                | mmc::OP_READ_CD
                | mmc::OP_READ_10
        );
        if needs_medium && self.tray_open {
            return Err(no_medium);
        }
        let reply = |data: &[u8], buf: &mut [u8]| {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            Ok(n)
        };
        let cdb_len = match op >> 5 {
            0 => 6,
            1 | 2 => 10,
            5 => 12,
            _ => 16,
        };
        if cdb.len() < cdb_len {
            return Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB));
        }
        match op {
            mmc::OP_TEST_UNIT_READY => Ok(0),
            mmc::OP_REQUEST_SENSE => {
                let s = self
                    .last_sense
                    .take()
                    .unwrap_or(Sense::new(sense::KEY_NO_SENSE, (0, 0)));
                reply(&s.to_bytes(), buf)
            }
            mmc::OP_INQUIRY => {
                if cdb[1] & 1 != 0 {
                    return Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB));
                }
                reply(&mmc::build_inquiry("AJ", "Virtual CD", "1.0"), buf)
            }
            mmc::OP_GET_CONFIGURATION => reply(&self.configuration(), buf),
            mmc::OP_MODE_SENSE_10 => {
                if cdb[2] & 0x3F != mmc::PAGE_CAPABILITIES && cdb[2] & 0x3F != 0x3F {
                    return Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB));
                }
                reply(&self.capabilities(), buf)
            }
            mmc::OP_READ_TOC => {
                let msf = cdb[1] & 0x02 != 0;
                let format = cdb[2] & 0x0F;
                let number = cdb[6];
                match format {
                    mmc::TOC_FORMATTED if !msf => {
                        let toc = self.toc();
                        if number > toc.last_track && number != mmc::LEAD_OUT {
                            return Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB));
                        }
                        reply(&mmc::build_toc(&toc, number), buf)
                    }
                    mmc::TOC_SESSION_INFO if !msf => {
                        let last = self.disc.sessions.last().map_or(1, |s| s.number);
                        let t = self
                            .disc
                            .tracks
                            .iter()
                            .find(|t| t.session == last)
                            .or(self.disc.tracks.first());
                        let mut b = vec![0, 10, 1, last, 0, 0x10, 0, 0, 0, 0, 0, 0];
                        if let Some(t) = t {
                            b[5] = 0x10 | t.control.bits();
                            b[6] = t.number;
                            b[8..12].copy_from_slice(&t.start.0.to_be_bytes());
                        }
                        reply(&b, buf)
                    }
                    mmc::TOC_FULL => reply(&mmc::build_full_toc(&self.full_toc()), buf),
                    mmc::TOC_CD_TEXT => reply(&mmc::build_cd_text(&self.cd_text), buf),
                    // A pressed disc has no ATIP; MSF addressing is not emulated.
                    _ => Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB)),
                }
            }
            mmc::OP_READ_SUB_CHANNEL => {
                if cdb[2] & 0x40 == 0 {
                    return reply(&[0, 0x15, 0, 0], buf);
                }
                match cdb[3] {
                    1 => {
                        let l = 0;
                        let t = self.track_at(l);
                        let p = mmc::Position {
                            adr: 1,
                            control: t.map_or(0, |t| t.control.bits()),
                            track: t.map_or(1, |t| t.number),
                            index: 1,
                            absolute: Lba(l),
                            relative: l - t.map_or(0, |t| t.start.0),
                        };
                        reply(&mmc::build_sub_channel_position(&p), buf)
                    }
                    2 => reply(
                        &mmc::build_sub_channel(2, 0, 0, self.disc.mcn.as_deref()),
                        buf,
                    ),
                    3 => {
                        let Some(t) = self.disc.track(cdb[6]) else {
                            return Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB));
                        };
                        reply(
                            &mmc::build_sub_channel(
                                3,
                                t.number,
                                t.control.bits(),
                                t.isrc.as_deref(),
                            ),
                            buf,
                        )
                    }
                    _ => Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB)),
                }
            }
            mmc::OP_READ_CD => self.read_cd(cdb, buf),
            mmc::OP_SET_CD_SPEED => {
                self.read_speed = u16::from_be_bytes([cdb[2], cdb[3]]);
                Ok(0)
            }
            mmc::OP_START_STOP_UNIT => {
                match mmc::parse_start_stop_cdb(cdb) {
                    Some(mmc::TrayAction::Eject) => {
                        if self.locked {
                            return Err(illegal(sense::ASC_REMOVAL_PREVENTED));
                        }
                        if !self.tray_open {
                            self.tray_open = true;
                            self.cache.clear();
                            self.event = mmc::MediaEvent::MediaRemoval;
                        }
                    }
                    Some(mmc::TrayAction::Load) if self.tray_open => {
                        self.tray_open = false;
                        self.event = mmc::MediaEvent::NewMedia;
                    }
                    _ => {}
                }
                Ok(0)
            }
            mmc::OP_PREVENT_ALLOW => {
                self.locked = cdb[4] & 1 != 0;
                Ok(0)
            }
            mmc::OP_GET_EVENT_STATUS => {
                if cdb[1] & 1 == 0 {
                    // Asynchronous notification is not supported (MMC-6, GET EVENT
                    // STATUS NOTIFICATION: Polled bit 0).
                    return Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB));
                }
                if cdb[4] & (1 << mmc::EVENT_CLASS_MEDIA) == 0 {
                    // No event of a requested class: NEA set, no descriptor.
                    return reply(&[0, 2, 0x80, 1 << mmc::EVENT_CLASS_MEDIA], buf);
                }
                let s = mmc::MediaStatus {
                    event: std::mem::replace(&mut self.event, mmc::MediaEvent::NoChange),
                    tray_open: self.tray_open,
                    media_present: !self.tray_open,
                };
                reply(&mmc::build_event_status(&s), buf)
            }
            _ => Err(illegal(sense::ASC_INVALID_OPCODE)),
        }
    }

    fn read_cd(&mut self, cdb: &[u8], buf: &mut [u8]) -> Result<usize, Sense> {
        let illegal = |asc| Sense::new(sense::KEY_ILLEGAL_REQUEST, asc);
        let req = mmc::parse_read_cd_cdb(cdb).ok_or(illegal(sense::ASC_INVALID_FIELD_IN_CDB))?;
        let (Some(c2), Some(sub)) = (req.c2, req.sub) else {
            return Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB));
        };
        if req.sector_type > mmc::SECTOR_TYPE_CDDA || (!c2.is_empty() && !self.opts.c2) {
            return Err(illegal(sense::ASC_INVALID_FIELD_IN_CDB));
        }
        let size = if req.user_data { SECTOR as usize } else { 0 } + c2.len() + sub.len();
        let leadout = self.disc.leadout.0;
        let (lo, hi) = if self.opts.overread {
            (-EDGE_SLACK, leadout + EDGE_SLACK)
        } else {
            (0, leadout)
        };
        let count =
            i32::try_from(req.count).map_err(|_| illegal(sense::ASC_INVALID_FIELD_IN_CDB))?;
        let end = req
            .lba
            .0
            .checked_add(count)
            .ok_or(illegal(sense::ASC_LBA_OUT_OF_RANGE))?;
        if req.lba.0 < lo || end > hi {
            let mut s = illegal(sense::ASC_LBA_OUT_OF_RANGE);
            s.information = Some(if req.lba.0 < lo {
                req.lba.0
            } else {
                end.max(hi) - 1
            } as u32);
            return Err(s);
        }
        let jitter = if self.opts.jitter > 0 {
            let j = i64::from(self.opts.jitter);
            self.rng.below((2 * j + 1) as u64) as i64 - j
        } else {
            0
        };
        let mut written = 0usize;
        for i in 0..count {
            if written + size > buf.len() {
                break;
            }
            let lba = req.lba.0 + i;
            let data_track = self
                .track_at(lba)
                .filter(|t| !t.is_audio() && lba < self.disc.session_leadout(t.session).0)
                .cloned();
            let (audio, c2bits) = if let Some(t) = data_track {
                if req.sector_type == mmc::SECTOR_TYPE_CDDA {
                    let mut s = illegal(sense::ASC_ILLEGAL_MODE_FOR_TRACK);
                    s.information = Some(lba as u32);
                    return Err(s);
                }
                let raw = self
                    .data_sector(lba, &t)
                    .map_err(|_| Sense::medium_error_at(lba))?;
                (raw, vec![0u8; mmc::C2_LEN])
            } else {
                self.cached_read(lba, jitter)?
            };
            let out = &mut buf[written..written + size];
            let mut p = 0;
            if req.user_data {
                out[..SECTOR as usize].copy_from_slice(&audio);
                p = SECTOR as usize;
            }
            if !c2.is_empty() {
                out[p..p + mmc::C2_LEN].copy_from_slice(&c2bits);
                if c2 == C2Mode::PointersAndBlock {
                    out[p + mmc::C2_LEN] = c2bits.iter().fold(0, |a, b| a | b);
                    out[p + mmc::C2_LEN + 1] = 0;
                }
                p += c2.len();
            }
            match sub {
                SubChannel::None => {}
                SubChannel::Q => {
                    out[p..p + subq::Q_LEN].copy_from_slice(&self.q_bytes(lba));
                    out[p + subq::Q_LEN..p + mmc::SUB_Q_LEN].fill(0);
                }
                SubChannel::RawPw => {
                    let q = self.q_bytes(lba);
                    let pause = self.track_at(lba).is_some_and(|t| lba < t.start.0);
                    out[p..p + mmc::SUB_RAW_LEN].copy_from_slice(&subq::raw_from_q(pause, &q));
                }
            }
            written += size;
        }
        Ok(written)
    }
}

/// Reads exactly `buf.len()` bytes at `off`. A file that ends early (it
/// shrank since the drive was opened) is an error like any other.
fn read_exact_at(mut file: &File, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(off))?;
    file.read_exact(buf)
}

/// Frames user data as a raw 2352-byte data sector: sync pattern, header
/// (MSF address in BCD, mode byte), the user data, zeros for EDC/ECC (ECMA-130
/// §14: the sector layout of modes 1 and 2).
fn frame_data_sector(lba: i32, mode: TrackMode, user: &[u8]) -> Vec<u8> {
    let mut raw = vec![0u8; SECTOR as usize];
    raw[1..11].fill(0xFF);
    let msf = Msf::from_lba(Lba(lba)).unwrap_or(Msf { m: 0, s: 0, f: 0 });
    raw[12] = subq::to_bcd(msf.m);
    raw[13] = subq::to_bcd(msf.s);
    raw[14] = subq::to_bcd(msf.f);
    let (mode, at) = match mode {
        TrackMode::Mode1Cooked | TrackMode::Mode1Raw => (1, 16),
        _ => (2, 16),
    };
    raw[15] = mode;
    let n = user.len().min(SECTOR as usize - at);
    raw[at..at + n].copy_from_slice(&user[..n]);
    raw
}

fn open_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "cannot open: no such file".into(),
        std::io::ErrorKind::PermissionDenied => "cannot open: permission denied".into(),
        _ => format!("cannot open: {e}"),
    }
}

impl Transport for VirtualDrive {
    fn execute(
        &mut self,
        cdb: &[u8],
        direction: Direction,
        buf: &mut [u8],
        _timeout: Duration,
    ) -> Result<usize, Error> {
        self.stats.commands += 1;
        let op = cdb.first().copied().unwrap_or(0xFF);
        if let Some(n) = self.opts.vanish {
            if self.read_cds >= n {
                return Err(Error::NoDevice {
                    device: self.label.clone(),
                });
            }
            if op == mmc::OP_READ_CD {
                self.read_cds += 1;
            }
        }
        let misses_before = self.stats.medium_reads;
        let result = self.execute_inner(cdb, direction, buf, op);
        if let (Some(x), Some(r)) = (self.opts.speed, mmc::parse_read_cd_cdb(cdb)) {
            // 75 sectors a second at 1× (IEC 60908); cache hits cost nothing.
            let per_sector = 1.0 / (75.0 * f64::from(x));
            let misses = self.stats.medium_reads - misses_before;
            let mut secs = misses as f64 * per_sector;
            if self.rng.chance(self.opts.stall) {
                let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                secs += 2.0 * u * f64::from(r.count) * per_sector;
            }
            if secs > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(secs.min(10.0)));
            }
        }
        result
    }

    fn name(&self) -> String {
        self.label.clone()
    }
}

impl VirtualDrive {
    /// [`Transport::execute`] without the simulated time.
    fn execute_inner(
        &mut self,
        cdb: &[u8],
        direction: Direction,
        buf: &mut [u8],
        op: u8,
    ) -> Result<usize, Error> {
        if direction == Direction::ToDevice {
            let s = Sense::new(sense::KEY_ILLEGAL_REQUEST, sense::ASC_INVALID_OPCODE);
            self.last_sense = Some(s);
            return Err(Error::Check { op, sense: s });
        }
        match self.dispatch(cdb, buf) {
            Ok(n) => Ok(n),
            Err(sense) => {
                self.last_sense = Some(sense);
                Err(Error::Check { op, sense })
            }
        }
    }
}
