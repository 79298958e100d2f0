//! Running a rip: drive → secure reader → checksums and sinks, with the
//! verification, the cue sheet, the log and the resume state around it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aj_cd::checksum::{AccurateRip, ArCrcs, CtdbCrc, TrackPosition};
use aj_cd::id::{self, DiscIds};
use aj_cd::mmc::scan;
use aj_cd::rip::{self as reader, Pass, ReadOptions, SecureReader};
use aj_cd::transport;
use aj_codec::sink::{FileSink, FileSinkOptions};
use aj_codec::tags::TagKey;
use aj_core::{AudioSpec, Block, CancelToken, Processor, Samples, Sink};
use aj_dsp::convert::FormatConverter;
use aj_dsp::deemphasis::Deemphasis;
use aj_dsp::loudness::{LoudnessMeter, Measurement, PeakMode, ReplayGain};
use aj_lookup::accuraterip::{ArDatabase, ArStatus as DbStatus, ArVersion};
use aj_lookup::ctdb::{ctdb_toc, CtdbResponse, CtdbStatus as DbCtdb};
use aj_lookup::{Lookup, Service, Services};
use serde::{Deserialize, Serialize};

use super::layout::{self, Layout};
use super::meta::{self, Chooser};
use super::report::{self, LogTrack, RipLog};
use super::{
    ArResult, ArStatus, CtdbStatus, RipSpec, RipStarted, RipTotals, Suspicious, TrackDone,
};
use crate::config::Config;
use crate::cuesplit::CUESHEET_TAG;
use crate::engine::{DriveProgress, Event, Summary};
use crate::replaygain;

/// CD-DA frames per sector (Red Book).
const FRAMES_PER_SECTOR: u64 = 588;
/// How often a rip reports progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// The resume state, kept in the output folder while a rip is unfinished.
pub const STATE_FILE: &str = ".aj-rip-state.json";

/// What a rip needs besides its spec: the configuration (remembered
/// offsets, service URLs), how to choose among several releases, how to
/// talk to the services.
pub struct RipContext<'a> {
    pub config: Config,
    pub choose_release: Option<Chooser<'a>>,
    pub lookup: aj_lookup::Options,
    /// Opens the drive instead of the spec's `drive` (a virtual drive built
    /// in memory, for tests and embedding).
    pub open_drive: Option<DriveOpener<'a>>,
    /// Why the configuration in use is not the user's (it could not be
    /// read): said as a warning when the rip starts.
    pub config_warning: Option<String>,
}

/// See [`RipContext::open_drive`].
pub type DriveOpener<'a> = &'a (dyn Fn() -> Result<aj_cd::mmc::Drive, transport::Error> + Sync);

impl Default for RipContext<'_> {
    fn default() -> Self {
        let (config, config_warning) = match Config::load_default() {
            Ok(c) => (c, None),
            Err(e) => (
                Config::empty("config.toml"),
                Some(format!(
                    "{e}; remembered drive offsets and service addresses are not used"
                )),
            ),
        };
        RipContext {
            config,
            choose_release: None,
            lookup: aj_lookup::Options::default(),
            open_drive: None,
            config_warning,
        }
    }
}

/// What is kept between an interrupted rip and `--resume`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// The disc (AccurateRip ID string) and the settings that shape the files.
    disc: String,
    settings: String,
    /// Finished files, by index, with their tracks' results.
    files: BTreeMap<usize, Vec<TrackDone>>,
    /// AccurateRip checksums of tracks whose range was read completely, and
    /// whether a suspicious sector fell in it.
    ar: BTreeMap<u8, (ArCrcs, bool)>,
    /// Log lines of the finished tracks (their details).
    logs: BTreeMap<usize, Vec<LogTrack>>,
}

/// Per output unit (a file, or a track of an image): what was read into it.
#[derive(Default)]
struct UnitStats {
    crc: crc32fast::Hasher,
    test: Option<crc32fast::Hasher>,
    frames: u64,
    peak: u16,
    rereads: u64,
    suspicious: Vec<Range<u64>>,
    zero_filled: u64,
    started: bool,
    /// A range of this unit was read without the cache defeated.
    cache_short: bool,
}

impl UnitStats {
    /// Suspicious positions, or test and copy CRCs that differ.
    fn has_errors(&self) -> bool {
        let differs = self
            .test
            .as_ref()
            .is_some_and(|t| t.clone().finalize() != self.crc.clone().finalize());
        !self.suspicious.is_empty() || differs
    }
}

struct OpenFile {
    sink: FileSink,
    deemphasis: Option<Deemphasis>,
    convert: Option<FormatConverter>,
    /// ReplayGain: the samples written, measured as they go by (after
    /// de-emphasis, before any conversion for the encoder).
    meter: Option<LoudnessMeter>,
}

/// Runs a rip to the end (or until `cancel`), reporting events; the last is
/// always [`Event::Summary`].
pub fn run(
    spec: &RipSpec,
    ctx: &RipContext<'_>,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Summary {
    let mut summary = Summary {
        rip: Some(RipTotals::default()),
        ..Summary::default()
    };
    let drive_name = spec
        .drive
        .clone()
        .unwrap_or_else(|| "the first CD drive".into());
    if let Some(message) = &ctx.config_warning {
        on_event(Event::Warning {
            message: message.clone(),
        });
    }
    if let Err(message) = rip(spec, ctx, cancel, on_event, &mut summary) {
        // The drive's name leads the line: not again in the message.
        let short = drive_name.split(',').next().unwrap_or("");
        let error = without_name(&without_name(&message, &drive_name), short);
        on_event(Event::FileFailed {
            index: 0,
            input: PathBuf::from(&drive_name),
            error,
        });
        summary.failed += 1;
    }
    summary.cancelled = cancel.is_cancelled();
    on_event(Event::Summary(summary));
    summary
}

fn hex(v: u32) -> String {
    format!("{v:08X}")
}

/// `m:ss.mmm` of a frame count.
pub fn time_of(frames: u64) -> String {
    let ms = frames * 1000 / 44_100;
    format!("{}:{:02}.{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000)
}

/// A file name made safe on every common file system.
pub fn safe_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    out = out.trim().trim_end_matches('.').trim().to_string();
    if out.is_empty() {
        out.push('_');
    }
    // Keep names well under the common 255-byte limit.
    while out.len() > 180 {
        out.pop();
    }
    out
}

#[allow(clippy::too_many_lines)]
fn rip(
    spec: &RipSpec,
    ctx: &RipContext<'_>,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
    summary: &mut Summary,
) -> Result<(), String> {
    let warn = |message: String| on_event(Event::Warning { message });
    let started_at = std::time::SystemTime::now();

    // The drive and the disc.
    let mut drive = match ctx.open_drive {
        Some(open) => open(),
        None => transport::open(spec.drive.as_deref()),
    }
    .map_err(|e| e.to_string())?;
    let name = drive.name();
    let inquiry = drive.inquiry().ok();
    let drive_key = inquiry
        .as_ref()
        .map(|i| format!("{} {}", i.vendor.trim(), i.model.trim()))
        .unwrap_or_else(|| name.clone());
    let scanned = scan::read_disc(&mut drive).map_err(|e| format!("{name}: {e}"))?;
    for n in &scanned.notes {
        warn(format!("{name}: {n}"));
    }
    let disc = scanned.disc;
    let ids = DiscIds::compute(&disc).ok();
    let mut layout =
        layout::plan(&disc, spec.gaps, spec.image).map_err(|e| format!("{name}: {e}"))?;
    check_selection(spec, &layout)?;
    let track_selected = |t: u8| spec.tracks.is_empty() || spec.tracks.contains(&t);
    let file_tracks: Vec<u8> = layout.files.iter().map(|f| f.track).collect();
    let file_selected = |f: usize| file_tracks.get(f).is_some_and(|&t| track_selected(t));

    // The read offset.
    let (offset, offset_source) = match spec.offset {
        Some(o) => (o, "given"),
        None => match ctx.config.drive_offset(&drive_key) {
            Ok(Some(o)) => (o, "remembered for this drive"),
            Ok(None) => {
                warn(format!(
                    "no read offset is known for {drive_key}: reading with 0 (find it with 'aj drive offset --find', or give --offset)"
                ));
                (0, "not configured")
            }
            Err(e) => return Err(e.to_string()),
        },
    };

    // Online services.
    // A service whose address is not valid is off; the others are asked.
    let mut service_notes: Vec<String> = Vec::new();
    let mut off: Vec<Service> = Vec::new();
    let lookup = if spec.offline {
        None
    } else {
        let (services, bad) =
            Services::resolve_each(&|k: &str| ctx.config.string(k).ok().flatten());
        for e in bad {
            let note = format!("{e}: {} is not asked", e.service().name());
            warn(note.clone());
            service_notes.push(note);
            off.push(e.service());
        }
        Some(Lookup::new(services, ctx.lookup.clone()))
    };
    let meta = meta::resolve(
        &disc,
        ids.as_ref(),
        lookup.as_ref(),
        &off,
        spec.release.as_deref(),
        ctx.choose_release,
    );
    for n in &meta.notes {
        warn(n.clone());
    }
    service_notes.extend(meta.notes.iter().cloned());
    let unusable = |s: Service| format!("{}: not asked (its address is not valid)", s.name());
    let ar_db: Result<Option<ArDatabase>, String> = match (&lookup, id::accuraterip_id(&disc)) {
        (None, _) => Err("offline".into()),
        (Some(_), _) if off.contains(&Service::AccurateRip) => Err(unusable(Service::AccurateRip)),
        (Some(_), Err(e)) => Err(format!("AccurateRip: {e}")),
        (Some(l), Ok(arid)) => l.accuraterip(&arid).map_err(|e| e.to_string()),
    };
    if let Err(e) = &ar_db {
        if e != "offline" && !off.contains(&Service::AccurateRip) {
            warn(e.clone());
            service_notes.push(e.clone());
        }
    }
    let ctdb: Result<Option<CtdbResponse>, String> = match &lookup {
        None => Err("offline".into()),
        Some(_) if off.contains(&Service::Ctdb) => Err(unusable(Service::Ctdb)),
        Some(l) => l.ctdb(&disc).map_err(|e| e.to_string()),
    };
    if let Err(e) = &ctdb {
        if e != "offline" && !off.contains(&Service::Ctdb) {
            warn(e.clone());
            service_notes.push(e.clone());
        }
    }

    // Names and the output folder.
    let ext = spec.format.extension();
    let album_name = safe_name(&format!("{} - {}", meta.artist, meta.album));
    let template = spec
        .name
        .as_deref()
        .map(crate::naming::Template::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let file_names: Vec<String> = layout
        .files
        .iter()
        .map(|f| {
            let title = meta
                .tracks
                .get(&f.track)
                .map_or_else(|| format!("Track {:02}", f.track), |t| t.title.clone());
            let plain = if f.track == 0 {
                "00 - Hidden Track One Audio".to_string()
            } else {
                format!("{:02} - {}", f.track, safe_name(&title))
            };
            match (&template, spec.image) {
                (_, true) => format!("{album_name}.{ext}"),
                (Some(t), false) => {
                    let tags = meta::track_tags(&meta, &disc, ids.as_ref(), f.track);
                    let ctx = crate::naming::NameContext {
                        tags: &tags,
                        filename: &plain,
                        format: spec.format,
                    };
                    t.render(&ctx, spec.safe_names)
                        .to_string_lossy()
                        .into_owned()
                }
                (None, false) => format!("{plain}.{ext}"),
            }
        })
        .collect();
    {
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = file_names.iter().find(|n| !seen.insert(n.to_lowercase())) {
            return Err(format!(
                "the naming template gives two tracks the same file name, {dup}: add {{track}} to it"
            ));
        }
    }
    // The cue sheet and the log go beside the first track.
    let sheet_dir = file_names
        .get(usize::from(layout.htoa_file))
        .or(file_names.first())
        .and_then(|n| std::path::Path::new(n).parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let out_dir = &spec.output_dir;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create folder {}: {e}", out_dir.display()))?;
    let state_path = out_dir.join(STATE_FILE);
    let disc_key = ids.as_ref().map(super::ar_disc_id).unwrap_or_default();
    let settings = format!(
        "{} {:?} gaps={:?} image={} offset={offset} deemphasize={}",
        spec.format, spec.encoder, spec.gaps, spec.image, spec.deemphasize
    );
    let mut state = if spec.resume {
        match std::fs::read(&state_path) {
            Ok(bytes) => {
                let s: State = serde_json::from_slice(&bytes).map_err(|e| {
                    format!(
                        "{}: not a rip state AudioJuggler can read: {e}",
                        state_path.display()
                    )
                })?;
                if s.disc != disc_key {
                    return Err(format!(
                        "{} holds a rip of another disc: cannot resume it with this one",
                        out_dir.display()
                    ));
                }
                if s.settings != settings {
                    return Err(format!(
                        "{} holds a rip made with other settings ({}): resume it with the same ones",
                        out_dir.display(),
                        s.settings
                    ));
                }
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                disc: disc_key.clone(),
                settings: settings.clone(),
                ..State::default()
            },
            Err(e) => return Err(format!("{}: {e}", state_path.display())),
        }
    } else {
        if state_path.exists() {
            return Err(format!(
                "{} holds an unfinished rip: use --resume to carry on with it, or choose another folder",
                out_dir.display()
            ));
        }
        State {
            disc: disc_key.clone(),
            settings: settings.clone(),
            ..State::default()
        }
    };
    // Files of a finished state must still be there.
    let gone: Vec<usize> = state
        .files
        .keys()
        .copied()
        .filter(|&i| file_names.get(i).is_none_or(|n| !out_dir.join(n).exists()))
        .collect();
    for i in gone {
        state.files.remove(&i);
        state.logs.remove(&i);
    }
    for (i, n) in file_names.iter().enumerate() {
        if file_selected(i)
            && !state.files.contains_key(&i)
            && out_dir.join(n).symlink_metadata().is_ok()
        {
            return Err(format!(
                "{} exists already: choose another folder (or --resume an interrupted rip there)",
                out_dir.join(n).display()
            ));
        }
    }

    let audio_tracks: Vec<u8> = layout.audio_disc.tracks.iter().map(|t| t.number).collect();
    on_event(Event::RipStarted(Box::new(RipStarted {
        drive: name.clone(),
        tracks: layout
            .files
            .iter()
            .filter(|f| f.track == 0)
            .map(|_| 0)
            .chain(audio_tracks.iter().copied())
            .filter(|&t| track_selected(t))
            .collect(),
        musicbrainz_id: ids.as_ref().map(|i| i.musicbrainz.clone()),
        accuraterip_id: ids.as_ref().map(super::ar_disc_id),
        ctdb_id: ids.as_ref().map(|i| i.ctdb.clone()),
        cddb_id: format!("{:08x}", id::cddb_id(&disc)),
        artist: meta.artist.clone(),
        album: meta.album.clone(),
        metadata: meta.source.to_string(),
        releases: meta.releases.clone(),
        offset,
        mode: spec.mode.to_string(),
        output_dir: out_dir.clone(),
    })));
    if !state.files.is_empty() {
        warn(format!(
            "resuming: {} of {} files are finished and kept",
            state.files.len(),
            layout.files.len()
        ));
    }

    // The reader.
    // The cache: as given, else as remembered for the drive; else a drive
    // that reports no cache has it measured first (timed re-reads; seconds
    // on a real drive, nothing on an image).
    let (cache_sectors, cache_remembered) = match spec.cache_sectors {
        Some(n) => (Some(n), false),
        None => match ctx.config.drive_cache(&drive_key) {
            Ok(Some(n)) => (Some(n), true),
            Ok(None) => (None, false),
            Err(e) => return Err(e.to_string()),
        },
    };
    if cache_sectors.is_none() && drive.capabilities().is_ok_and(|c| c.buffer_kib == 0) {
        warn(format!(
            "{name} reports no cache: measuring the drive's cache (a few seconds)\u{2026} ('aj drive cache --save' remembers it for this drive)"
        ));
    }
    let mut reader = SecureReader::with_cache_check(
        &mut drive,
        &disc,
        ReadOptions {
            mode: spec.mode,
            retries: spec.retries,
            offset,
            cache_sectors,
            speed_kbs: spec.speed_kbs,
            use_c2: spec.use_c2,
        },
        aj_cd::rip::CacheCheck::IfUnreported,
        cancel,
    )
    .map_err(|e| e.to_string())?;
    let drive_report = reader.drive_report().clone();

    // What to read: pieces of unfinished files, and of tracks whose
    // AccurateRip range is not complete yet.
    let needed: Vec<bool> = layout
        .pieces
        .iter()
        .map(|p| {
            p.file
                .is_some_and(|f| file_selected(f) && !state.files.contains_key(&f))
                || p.track
                    .is_some_and(|t| track_selected(t) && !state.ar.contains_key(&t))
        })
        .collect();
    let whole_disc = needed.iter().all(|&n| n) && state.files.is_empty();
    let unit_of = |p: &layout::Piece| -> Option<usize> {
        if spec.image {
            // Units are tracks; hidden audio before track 1 counts with it.
            let t = p.track.or(audio_tracks.first().copied())?;
            audio_tracks.iter().position(|&n| n == t)
        } else {
            p.file
        }
    };
    let unit_count = if spec.image {
        audio_tracks.len()
    } else {
        layout.files.len()
    };
    let unit_track = |u: usize| -> u8 {
        if spec.image {
            audio_tracks.get(u).copied().unwrap_or(0)
        } else {
            layout.files.get(u).map_or(0, |f| f.track)
        }
    };
    let unit_frames: Vec<u64> = (0..unit_count)
        .map(|u| {
            layout
                .pieces
                .iter()
                .filter(|p| unit_of(p) == Some(u))
                .map(|p| (p.range.end.0 - p.range.start.0) as u64 * FRAMES_PER_SECTOR)
                .sum()
        })
        .collect();
    let unit_path = |u: usize| -> PathBuf {
        let f = if spec.image { 0 } else { u };
        out_dir.join(file_names.get(f).cloned().unwrap_or_default())
    };

    // The tracks whose samples are de-emphasised: per-track files, each
    // flagged track; an image, every track when all are flagged (its one
    // filter cannot pass the others' samples through unchanged).
    let pre_of = |t: u8| disc.track(t).is_some_and(|t| t.control.preemphasis);
    let deemphasized: BTreeSet<u8> = if !spec.deemphasize {
        BTreeSet::new()
    } else if spec.image {
        if audio_tracks.iter().all(|&t| pre_of(t)) {
            audio_tracks.iter().copied().collect()
        } else {
            if audio_tracks.iter().any(|&t| pre_of(t)) {
                warn("de-emphasis is not applied to this image: only some of its tracks have pre-emphasis (rip per-track files to undo it on those)".into());
            }
            BTreeSet::new()
        }
    } else {
        audio_tracks
            .iter()
            .copied()
            .filter(|&t| pre_of(t))
            .collect()
    };

    let mut stats: Vec<UnitStats> = (0..unit_count).map(|_| UnitStats::default()).collect();
    let mut open: BTreeMap<usize, OpenFile> = BTreeMap::new();
    let mut ar: BTreeMap<u8, (AccurateRip, bool)> = BTreeMap::new();
    for (n, r) in &layout.tracks {
        if !state.ar.contains_key(n) {
            let pos =
                TrackPosition::on_disc(&layout.audio_disc, *n).unwrap_or(TrackPosition::Middle);
            let frames = (r.end.0 - r.start.0) as u64 * FRAMES_PER_SECTOR;
            ar.insert(*n, (AccurateRip::new(pos, frames), false));
        }
    }
    let mut ctdb_crc = whole_disc.then(|| CtdbCrc::for_disc(&layout.audio_disc));
    let mut htoa_silent = false;
    let mut finished_files: BTreeSet<usize> = state.files.keys().copied().collect();
    let mut last_progress = Instant::now();
    let mut failure: Option<String> = None;
    let spec16 = AudioSpec::int(44_100, 2, 16);
    // ReplayGain of the files finished in this run, by file; the values
    // that go into the cue sheet.
    let mut measured: BTreeMap<usize, Measurement> = BTreeMap::new();
    let mut track_gains: BTreeMap<u8, ReplayGain> = BTreeMap::new();
    let mut album_gain: Option<ReplayGain> = None;

    for (pi, piece) in layout.pieces.iter().enumerate() {
        if !needed.get(pi).copied().unwrap_or(false) {
            continue;
        }
        if cancel.is_cancelled() {
            break;
        }
        let unit = unit_of(piece);
        let write_file = piece
            .file
            .filter(|&f| file_selected(f) && !state.files.contains_key(&f));
        // Open the file on its first piece.
        if let Some(f) = write_file {
            if !open.contains_key(&f) && !finished_files.contains(&f) {
                let path = out_dir.join(file_names.get(f).cloned().unwrap_or_default());
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create folder {}: {e}", dir.display()))?;
                }
                let track = layout.files.get(f).map_or(0, |x| x.track);
                let tags = meta::track_tags(
                    &meta,
                    &disc,
                    ids.as_ref(),
                    if spec.image { 0 } else { track },
                );
                let mut tags = tags;
                if spec.image {
                    // An image is tagged as the album, not as one track.
                    tags.remove(&TagKey::Title);
                    tags.remove(&TagKey::TrackNumber);
                    tags.remove(&TagKey::Isrc);
                    tags.remove(&TagKey::MusicBrainzRecordingId);
                    tags.remove(&TagKey::MusicBrainzTrackId);
                }
                let (pre, deemph) = if spec.image {
                    (
                        audio_tracks.iter().any(|&t| pre_of(t)),
                        !deemphasized.is_empty(),
                    )
                } else {
                    (pre_of(track), deemphasized.contains(&track))
                };
                if pre {
                    tags.set(
                        TagKey::Other("PRE_EMPHASIS".into()),
                        if deemph { "removed" } else { "yes" },
                    );
                }
                let options = FileSinkOptions {
                    format: spec.format,
                    encoder: spec.encoder.clone(),
                    tags,
                    overwrite: false,
                    verify: spec.verify && !deemph,
                };
                // What the encoder takes (lossy encoders take floats).
                let target = aj_codec::encode::input_spec(spec.format, spec16, 16);
                let sink = FileSink::create(&path, target, options)
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                let deemphasis = if deemph {
                    Some(Deemphasis::new(spec16).map_err(|e| e.to_string())?)
                } else {
                    None
                };
                let from = deemphasis.as_ref().map_or(spec16, Deemphasis::output_spec);
                let convert = (from != target).then(|| FormatConverter::new(from, target.format));
                let meter = if spec.replaygain {
                    Some(LoudnessMeter::new(from, PeakMode::Sample).map_err(|e| e.to_string())?)
                } else {
                    None
                };
                open.insert(
                    f,
                    OpenFile {
                        sink,
                        deemphasis,
                        convert,
                        meter,
                    },
                );
            }
        }
        if let Some(u) = unit {
            let st = &mut stats[u];
            if !st.started && write_file.is_some() {
                st.started = true;
                on_event(Event::TrackStarted {
                    index: u,
                    track: unit_track(u),
                    file: unit_path(u),
                    frames: unit_frames.get(u).copied().unwrap_or(0),
                });
            }
        }
        let piece_start_frame = unit.map_or(0, |u| stats[u].frames);
        let track_number = unit.map_or(piece.track.unwrap_or(0), unit_track);
        let total_frames = unit.and_then(|u| unit_frames.get(u).copied());
        let passes = if spec.mode == reader::Mode::TestAndCopy {
            2.0
        } else {
            1.0
        };
        let mut ar_slot = piece.track.and_then(|t| ar.get_mut(&t));
        let mut file_slot = write_file.and_then(|f| open.get_mut(&f));
        let mut unit_slot = unit.map(|u| &mut stats[u]);
        let ctdb_slot = &mut ctdb_crc;
        let mut out = |bytes: &[u8]| -> Result<(), reader::Error> {
            if let Some((acc, _)) = ar_slot.as_mut() {
                acc.update_le_bytes(bytes);
            }
            if let Some(c) = ctdb_slot.as_mut() {
                if piece.track.is_some() {
                    c.update_le_bytes(bytes);
                }
            }
            if let Some(st) = unit_slot.as_mut() {
                st.crc.update(bytes);
                st.frames += (bytes.len() / 4) as u64;
            }
            if let Some(of) = file_slot.as_mut() {
                let samples: Vec<i32> = bytes
                    .chunks_exact(2)
                    .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
                    .collect();
                let mut block = Block {
                    spec: spec16,
                    samples: Samples::Int(samples),
                };
                if let Some(d) = of.deemphasis.as_mut() {
                    block = d
                        .process(block)
                        .map_err(|e| reader::Error::Output(e.to_string()))?;
                }
                if let Some(m) = of.meter.as_mut() {
                    m.add(&block)
                        .map_err(|e| reader::Error::Output(e.to_string()))?;
                }
                if let Some(c) = of.convert.as_mut() {
                    block = c
                        .process(block)
                        .map_err(|e| reader::Error::Output(e.to_string()))?;
                }
                of.sink
                    .write(&block)
                    .map_err(|e| reader::Error::Output(e.to_string()))?;
            }
            Ok(())
        };
        let unit_index = unit.unwrap_or(0);
        let input = unit_path(unit_index);
        let mut progress = |p: &reader::ReadProgress| {
            if last_progress.elapsed() < PROGRESS_EVERY {
                return;
            }
            last_progress = Instant::now();
            let pass_done = if p.pass == Pass::Copy && passes > 1.0 {
                1.0
            } else {
                0.0
            };
            let piece_frames = f64::from(p.total) * FRAMES_PER_SECTOR as f64;
            let done_in_piece =
                (pass_done * piece_frames + f64::from(p.done) * FRAMES_PER_SECTOR as f64) / passes;
            let frames = piece_start_frame + done_in_piece as u64;
            on_event(Event::Progress {
                index: unit_index,
                input: input.clone(),
                frames,
                total_frames,
                percent: total_frames
                    .filter(|&t| t > 0)
                    .map(|t| (frames as f64 * 100.0 / t as f64).min(100.0)),
                drive: Some(DriveProgress {
                    track: track_number,
                    sector: p.lba.0,
                    speed: p.speed_x,
                    retries: p.rereads,
                }),
            });
        };
        let result = reader.read_range(piece.range.clone(), &mut out, &mut progress, cancel);
        let rr = match result {
            Ok(r) => r,
            Err(reader::Error::Cancelled) => break,
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        };
        let piece_frames = u64::from(rr.sectors) * FRAMES_PER_SECTOR;
        if let Some(u) = unit {
            let st = &mut stats[u];
            st.peak = st.peak.max(rr.peak);
            st.rereads += rr.rereads;
            st.zero_filled += u64::from(rr.zero_filled_start) + u64::from(rr.zero_filled_end);
            if !rr.cache_defeated && !st.cache_short && piece_frames > 0 {
                warn(format!(
                    "{name}: the cache could not be defeated while reading {} (the disc is hardly larger than the {} sectors of cache assumed): matching reads there may have come from the cache",
                    track_label(track_number),
                    drive_report.cache_sectors
                ));
            }
            st.cache_short |= !rr.cache_defeated;
            for s in &rr.suspicious {
                st.suspicious
                    .push(piece_start_frame + s.start..piece_start_frame + s.end);
            }
            if let Some(t) = rr.test_crc32 {
                let h = crc32fast::Hasher::new_with_initial_len(t, piece_frames * 4);
                match st.test.as_mut() {
                    Some(acc) => acc.combine(&h),
                    None => st.test = Some(h),
                }
            }
        }
        if rr.zero_filled_start > 0 || rr.zero_filled_end > 0 {
            warn(format!(
                "{name} cannot read outside the disc: {} samples at the start and {} at the end of LBA {}-{} were filled with zeros",
                rr.zero_filled_start, rr.zero_filled_end, piece.range.start.0, piece.range.end.0 - 1
            ));
        }
        let test_differs = rr.test_crc32.is_some_and(|t| t != rr.crc32);
        if test_differs {
            warn(format!(
                "{}: the test and copy passes read LBA {}-{} differently (test CRC {}, copy CRC {}): the copy is not trusted",
                track_label(track_number),
                piece.range.start.0,
                piece.range.end.0 - 1,
                hex(rr.test_crc32.unwrap_or(0)),
                hex(rr.crc32)
            ));
        }
        if !rr.suspicious.is_empty() || test_differs {
            if let Some(t) = piece.track {
                if let Some(a) = ar.get_mut(&t) {
                    a.1 = true;
                }
            }
        }
        // The hidden track: dropped when silent.
        if layout.htoa_file && piece.file == Some(0) && pi == 0 && rr.peak == 0 {
            htoa_silent = true;
            open.remove(&0);
            if let Some(st) = stats.get_mut(0) {
                st.started = false;
            }
        }
        // Tracks whose AccurateRip range has been read completely.
        let complete: Vec<u8> = ar
            .iter()
            .filter(|(n, (a, _))| {
                layout
                    .tracks
                    .iter()
                    .find(|(t, _)| t == *n)
                    .is_some_and(|(_, r)| {
                        a.frames_seen() >= (r.end.0 - r.start.0) as u64 * FRAMES_PER_SECTOR
                    })
            })
            .map(|(n, _)| *n)
            .collect();
        for n in complete {
            if let Some((a, suspicious)) = ar.remove(&n) {
                state.ar.insert(n, (a.finish(), suspicious));
            }
        }
        // Files that can be finished: all their pieces read, and the
        // AccurateRip ranges they overlap complete.
        let ready: Vec<usize> = open
            .keys()
            .copied()
            .filter(|&f| {
                let span = &layout.files[f].span;
                let pieces_done = layout
                    .pieces
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.file == Some(f))
                    .all(|(i, _)| i <= pi);
                let ar_done = layout
                    .tracks
                    .iter()
                    .filter(|(n, r)| track_selected(*n) && r.start < span.end && span.start < r.end)
                    .all(|(n, _)| state.ar.contains_key(n));
                pieces_done && ar_done
            })
            .collect();
        for f in ready {
            let Some(of) = open.remove(&f) else { continue };
            let units: Vec<usize> = if spec.image {
                (0..unit_count).collect()
            } else {
                vec![f]
            };
            let mut sink = of.sink;
            // ReplayGain: the file's own values; an image's are the album's.
            let measurement = of.meter.as_ref().map(LoudnessMeter::measurement);
            if let Some(m) = &measurement {
                let gain = ReplayGain::from_measurement(m, false);
                replaygain::set_track_tags(sink.tags_mut(), spec.format, gain.as_ref());
                if spec.image {
                    replaygain::set_album_tags(
                        sink.tags_mut(),
                        spec.format,
                        gain.as_ref()
                            .map_or(replaygain::Album::Remove, replaygain::Album::Set),
                    );
                    album_gain = gain;
                } else if let (Some(g), Some(t)) = (gain, layout.files.get(f)) {
                    track_gains.insert(t.track, g);
                }
            }
            // An image in FLAC carries its cue sheet, as a CUESHEET comment
            // (foobar2000, EAC) and a CUESHEET block (`flac --cuesheet`).
            if spec.image && spec.format == aj_codec::Format::Flac {
                let mut with_image = finished_files.clone();
                with_image.insert(f);
                let mut sheet = rip_sheet(&SheetParts {
                    layout: &layout,
                    file_names: &file_names,
                    finished: &with_image,
                    htoa_silent,
                    deemphasized: &deemphasized,
                    meta: &meta,
                    disc: &disc,
                    out_dir,
                    sheet_dir: &sheet_dir,
                });
                add_gain_rems(&mut sheet, &album_gain, &track_gains);
                sink.tags_mut()
                    .set(TagKey::Other(CUESHEET_TAG.into()), sheet.to_string());
                let span = &layout.files[f].span;
                let total =
                    u64::try_from(span.end.0 - span.start.0).unwrap_or(0) * FRAMES_PER_SECTOR;
                let block = crate::join::cd_cuesheet_block(&sheet, total)
                    .and_then(|b| b.to_bytes())
                    .and_then(|body| {
                        sink.add_flac_block(aj_codec::tags::cuesheet::BLOCK_TYPE, body)
                            .map_err(|e| e.to_string())
                    });
                if let Err(e) = block {
                    warn(format!(
                        "no CUESHEET metadata block in the image ({e}); the sheet is in its CUESHEET tag and the .cue file"
                    ));
                }
            }
            // The AccurateRip result goes into the tags of a track's file.
            if !spec.image {
                let track = layout.files[f].track;
                let errors = stats.get(f).is_some_and(UnitStats::has_errors);
                if let Some(res) = ar_result(track, &state, &ar_db, errors) {
                    sink.tags_mut().set(
                        TagKey::Other("ACCURATERIPRESULT".into()),
                        report::ar_words(&res),
                    );
                }
            }
            if let Some(i) = ids.as_ref() {
                sink.tags_mut().set(
                    TagKey::Other("ACCURATERIPDISCID".into()),
                    super::ar_disc_id(i),
                );
            }
            let path = out_dir.join(&file_names[f]);
            let verified = match sink.finish_verified(cancel) {
                Ok(v) => v,
                Err(_) if cancel.is_cancelled() => break,
                Err(e) => {
                    let msg = format!("writing {}: {e}", path.display());
                    on_event(Event::FileFailed {
                        index: f,
                        input: path.clone(),
                        error: msg,
                    });
                    summary.failed += 1;
                    continue;
                }
            };
            finished_files.insert(f);
            let gain_words = measurement
                .as_ref()
                .filter(|_| !spec.image)
                .and_then(|m| ReplayGain::from_measurement(m, false))
                .map(|g| format!("{}, peak {}", g.gain_text(), g.peak_text()));
            if let Some(m) = measurement {
                measured.insert(f, m);
            }
            let mut dones = Vec::new();
            let mut logs = Vec::new();
            for u in units {
                let track = unit_track(u);
                let st = &stats[u];
                let (done, mut log) =
                    track_result(u, track, &path, st, verified, &state, &ar_db, &layout);
                log.replaygain = gain_words.clone();
                if done.test_differs() {
                    warn(format!(
                        "{}: test CRC {} and copy CRC {} differ: the track is not accurate",
                        track_label(track),
                        done.test_crc32.as_deref().unwrap_or(""),
                        done.crc32
                    ));
                }
                dones.push(done);
                logs.push(log);
            }
            for d in &dones {
                on_event(Event::TrackDone(Box::new(d.clone())));
            }
            state.files.insert(f, dones);
            state.logs.insert(f, logs);
            if let Err(e) = save_state(&state_path, &state) {
                warn(format!("cannot save the resume state: {e}"));
            }
        }
    }
    drop(open); // unfinished files: their temporary files are removed
    drop(reader);

    if htoa_silent {
        layout::drop_htoa(&mut layout);
    }
    let interrupted = cancel.is_cancelled() || failure.is_some();
    if let Some(f) = &failure {
        on_event(Event::FileFailed {
            index: 0,
            input: PathBuf::from(&name),
            error: format!(
                "{}; finished tracks are kept, the unfinished one removed: run again with --resume to carry on",
                without_name(f, &name)
            ),
        });
        summary.failed += 1;
    } else if cancel.is_cancelled() {
        warn("interrupted: finished tracks are kept, the unfinished one removed; run again with --resume to carry on".into());
    }

    // Totals over every finished track (this run and earlier ones).
    let all_done: Vec<&TrackDone> = state.files.values().flatten().collect();
    let totals = summary.rip.get_or_insert_with(RipTotals::default);
    for d in &all_done {
        if d.track == 0 {
            continue;
        }
        match d.accuraterip.status {
            ArStatus::Match if !d.has_errors() => totals.accurate += 1,
            ArStatus::Match | ArStatus::MatchWithErrors | ArStatus::Mismatch => {
                totals.inaccurate += 1;
            }
            _ if d.has_errors() => totals.inaccurate += 1,
            _ => totals.unverified += 1,
        }
    }
    summary.ok = all_done.iter().filter(|d| !d.has_errors()).count();
    let with_errors = all_done.iter().filter(|d| d.has_errors()).count();
    summary.failed += with_errors;

    // CTDB: the whole disc, when it was read in this run.
    let ctdb_result = match (&ctdb, ctdb_crc.as_ref().filter(|_| !interrupted)) {
        (Err(_), _) => (CtdbStatus::Offline, 0, None),
        (Ok(_), None) => (CtdbStatus::NotChecked, 0, None),
        (Ok(None), Some(_)) => (CtdbStatus::NotFound, 0, None),
        (Ok(Some(resp)), Some(c)) => {
            let crcs = c.finish();
            let m = resp.compare(&ctdb_toc(&layout.audio_disc), crcs.disc, &crcs.tracks);
            let status = match m.status {
                DbCtdb::Match => CtdbStatus::Match,
                DbCtdb::Mismatch => CtdbStatus::Mismatch,
                DbCtdb::NotFound => CtdbStatus::NotFound,
            };
            (status, m.confidence, Some((crcs.disc, m.total)))
        }
    };
    totals.ctdb = ctdb_result.0;
    totals.ctdb_confidence = ctdb_result.1;
    let totals = *totals;

    let complete = finished_files.len() == layout.files.len() - usize::from(htoa_silent);
    // The album's ReplayGain: over every file of the disc, when all were
    // measured in this run (earlier runs' measurements are not kept).
    if spec.replaygain && !spec.image && !interrupted {
        if complete && finished_files.iter().all(|f| measured.contains_key(f)) {
            let mut all = Measurement::new();
            for m in measured.values() {
                all.merge(m);
            }
            album_gain = ReplayGain::from_measurement(&all, false);
            let album = album_gain
                .as_ref()
                .map_or(replaygain::Album::Remove, replaygain::Album::Set);
            for f in &finished_files {
                let Some(n) = file_names.get(*f) else {
                    continue;
                };
                let path = out_dir.join(n);
                if let Err(e) = replaygain::retag(&path, spec.format, |t| {
                    replaygain::set_album_tags(t, spec.format, album);
                }) {
                    warn(format!(
                        "cannot write the album gain into {}: {e}",
                        path.display()
                    ));
                }
            }
        } else {
            warn(
                "no album gain: it is measured over every track of the disc ripped in one run, and this run ripped only some (--tracks or --resume); the tracks have their track gain"
                    .into(),
            );
        }
    }
    // Every file asked for (`--tracks`) is there.
    let selection_done = (0..file_names.len())
        .filter(|&i| file_selected(i) && !(htoa_silent && i == 0))
        .all(|i| finished_files.contains(&i));
    // The cue sheet, the cover and the log, once every file asked for is
    // there; the sheet lists the files finished in the folder.
    if selection_done && !interrupted {
        let mut sheet = rip_sheet(&SheetParts {
            layout: &layout,
            file_names: &file_names,
            finished: &finished_files,
            htoa_silent,
            deemphasized: &deemphasized,
            meta: &meta,
            disc: &disc,
            out_dir,
            sheet_dir: &sheet_dir,
        });
        add_gain_rems(&mut sheet, &album_gain, &track_gains);
        let cue_path = out_dir.join(&sheet_dir).join(format!("{album_name}.cue"));
        if let Err(e) = write_atomic(&cue_path, &sheet.to_bytes(false, true)) {
            warn(format!("cannot write the cue sheet: {e}"));
        }
        if let Some(p) = &meta.cover {
            let name = if p.mime == "image/png" {
                "folder.png"
            } else {
                "folder.jpg"
            };
            if let Err(e) = write_atomic(&out_dir.join(&sheet_dir).join(name), &p.data) {
                warn(format!("cannot save the cover: {e}"));
            }
        }
    }
    let log = RipLog {
        version: env!("CARGO_PKG_VERSION"),
        started: started_at,
        drive: &drive_report,
        drive_key: &drive_key,
        offset_source,
        cache_remembered,
        album_gain: album_gain.as_ref(),
        spec,
        disc: &disc,
        ids: ids.as_ref(),
        meta: &meta,
        files: &file_names,
        tracks: state.logs.values().flatten().collect(),
        totals,
        ctdb: ctdb_result.2,
        service_notes: &service_notes,
        errors: failure.iter().map(|f| without_name(f, &name)).collect(),
        interrupted,
        htoa_silent,
        deemphasized: deemphasized.iter().copied().collect(),
        selected: spec.tracks.clone(),
    };
    let log_path = out_dir.join(&sheet_dir).join(format!("{album_name}.log"));
    if let Some(dir) = log_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = write_atomic(
        &log_path,
        super::log::seal(&report::render(&log)).as_bytes(),
    ) {
        warn(format!("cannot write the log: {e}"));
    }
    if complete {
        let _ = std::fs::remove_file(&state_path);
    }
    Ok(())
}

/// Checks `--tracks` against the disc.
fn check_selection(spec: &RipSpec, layout: &Layout) -> Result<(), String> {
    if spec.tracks.is_empty() {
        return Ok(());
    }
    if spec.image {
        return Err("--tracks applies to per-track files: an --image holds the whole disc".into());
    }
    let have: Vec<u8> = layout.files.iter().map(|f| f.track).collect();
    let missing: Vec<String> = spec
        .tracks
        .iter()
        .filter(|t| !have.contains(t))
        .map(|t| {
            if *t == 0 {
                "0 (it has no hidden track one audio)".to_string()
            } else {
                t.to_string()
            }
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        let list: Vec<String> = have.iter().map(u8::to_string).collect();
        Err(format!(
            "--tracks: the disc has no audio track {} (its tracks: {})",
            missing.join(", "),
            list.join(", ")
        ))
    }
}

/// "track 3", or "hidden track one audio" for track 0.
fn track_label(track: u8) -> String {
    if track == 0 {
        "hidden track one audio".into()
    } else {
        format!("track {track}")
    }
}

/// `message` with every "`name`: " taken out, so that a message shown
/// after the drive's name does not repeat it.
pub(crate) fn without_name(message: &str, name: &str) -> String {
    if name.is_empty() {
        return message.to_string();
    }
    message.replace(&format!("{name}: "), "")
}

/// The AccurateRip verdict for `track`, when its range is complete.
/// `errors`: the read of the track's file had errors (suspicious
/// positions, test and copy differ); errors in its AccurateRip range count
/// too (kept in the state). A track with errors is never a plain
/// [`ArStatus::Match`].
fn ar_result(
    track: u8,
    state: &State,
    db: &Result<Option<ArDatabase>, String>,
    errors: bool,
) -> Option<ArResult> {
    if track == 0 {
        return Some(ArResult {
            status: ArStatus::NotApplicable,
            confidence: 0,
            version: None,
            total: 0,
        });
    }
    let (crcs, range_errors) = state.ar.get(&track)?;
    let errors = errors || *range_errors;
    Some(match db {
        Err(_) => ArResult {
            status: ArStatus::Offline,
            confidence: 0,
            version: None,
            total: 0,
        },
        Ok(None) => ArResult {
            status: ArStatus::NotFound,
            confidence: 0,
            version: None,
            total: 0,
        },
        Ok(Some(db)) => {
            // The database numbers audio tracks from 1.
            let m = db.compare(track, crcs.v1, crcs.v2);
            ArResult {
                status: match m.status {
                    DbStatus::Match if errors => ArStatus::MatchWithErrors,
                    DbStatus::Match => ArStatus::Match,
                    DbStatus::Mismatch => ArStatus::Mismatch,
                    DbStatus::NotFound => ArStatus::NotFound,
                },
                confidence: m.confidence,
                version: m.version.map(|v| match v {
                    ArVersion::V1 => 1,
                    ArVersion::V2 => 2,
                }),
                total: m.total_submissions,
            }
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn track_result(
    unit: usize,
    track: u8,
    path: &Path,
    st: &UnitStats,
    verified: bool,
    state: &State,
    db: &Result<Option<ArDatabase>, String>,
    layout: &Layout,
) -> (TrackDone, LogTrack) {
    let crcs = state.ar.get(&track).map(|(c, _)| *c);
    let accuraterip = ar_result(track, state, db, st.has_errors()).unwrap_or(ArResult {
        status: ArStatus::NotFound,
        confidence: 0,
        version: None,
        total: 0,
    });
    let suspicious: Vec<Suspicious> = merge(&st.suspicious)
        .into_iter()
        .map(|r| Suspicious {
            start: time_of(r.start),
            end: time_of(r.end),
            start_frame: r.start,
            end_frame: r.end,
        })
        .collect();
    let crc = st.crc.clone().finalize();
    let test = st.test.clone().map(crc32fast::Hasher::finalize);
    let done = TrackDone {
        index: unit,
        track,
        file: Some(path.to_path_buf()),
        frames: st.frames,
        crc32: hex(crc),
        test_crc32: test.map(hex),
        ar_v1: crcs.map(|c| hex(c.v1)),
        ar_v2: crcs.map(|c| hex(c.v2)),
        accuraterip,
        peak: f64::from(st.peak) * 100.0 / 32768.0,
        rereads: st.rereads,
        suspicious,
        verified,
    };
    let pregap = layout
        .audio_disc
        .track(track)
        .map_or(0, aj_cd::disc::Track::pregap_sectors);
    let log = LogTrack {
        done: done.clone(),
        pregap_sectors: pregap,
        zero_filled: st.zero_filled,
        cache_defeated: !st.cache_short,
        replaygain: None,
    };
    (done, log)
}

/// What the rip's cue sheet is made from.
struct SheetParts<'a> {
    layout: &'a Layout,
    file_names: &'a [String],
    /// The files the sheet lists (those finished in the folder).
    finished: &'a BTreeSet<usize>,
    htoa_silent: bool,
    deemphasized: &'a BTreeSet<u8>,
    meta: &'a meta::AlbumMeta,
    disc: &'a aj_cd::disc::Disc,
    out_dir: &'a Path,
    sheet_dir: &'a Path,
}

/// The cue sheet written beside the rip (and into a FLAC image): the
/// finished files, named relative to the sheet's folder, with the names
/// found, and PRE cleared on de-emphasised tracks.
fn rip_sheet(p: &SheetParts<'_>) -> aj_cd::cue::CueSheet {
    let kept: Vec<(usize, &String)> = p
        .file_names
        .iter()
        .enumerate()
        .filter(|(i, _)| !(p.htoa_silent && *i == 0))
        .collect();
    let keep: Vec<bool> = kept.iter().map(|(i, _)| p.finished.contains(i)).collect();
    let mut sheet = layout::keep_files(&p.layout.sheet, &keep);
    let names: Vec<&String> = kept
        .iter()
        .filter(|(i, _)| p.finished.contains(i))
        .map(|(_, n)| *n)
        .collect();
    for t in &mut sheet.tracks {
        // The samples no longer carry the emphasis the flag announces.
        if p.deemphasized.contains(&t.number) {
            t.flags.pre = false;
        }
    }
    for (cf, n) in sheet.files.iter_mut().zip(names) {
        // Relative to the sheet's folder where the file is below it.
        cf.name = Path::new(n).strip_prefix(p.sheet_dir).map_or_else(
            |_| p.out_dir.join(n).display().to_string(),
            |q| q.display().to_string(),
        );
    }
    sheet.rems.push(aj_cd::cue::Rem {
        name: aj_cd::cue::rem::COMMENT.into(),
        value: format!("AudioJuggler {}", env!("CARGO_PKG_VERSION")),
    });
    if let Some(d) = &p.meta.date {
        sheet.rems.push(aj_cd::cue::Rem {
            name: aj_cd::cue::rem::DATE.into(),
            value: d.clone(),
        });
    }
    sheet.rems.push(aj_cd::cue::Rem {
        name: aj_cd::cue::rem::DISCID.into(),
        value: format!("{:08X}", id::cddb_id(p.disc)),
    });
    sheet.text.performer = Some(p.meta.artist.clone());
    sheet.text.title = Some(p.meta.album.clone());
    for t in &mut sheet.tracks {
        if let Some(m) = p.meta.tracks.get(&t.number) {
            t.text.title = Some(m.title.clone());
            t.text.performer = Some(m.artist.clone());
        }
    }
    sheet
}

/// `REM REPLAYGAIN_ALBUM_*` and per track `REM REPLAYGAIN_TRACK_*` in the
/// sheet, as EAC writes them, for the values measured.
fn add_gain_rems(
    sheet: &mut aj_cd::cue::CueSheet,
    album: &Option<ReplayGain>,
    tracks: &BTreeMap<u8, ReplayGain>,
) {
    use aj_cd::cue::{rem, Rem};
    if let Some(g) = album {
        sheet.rems.push(Rem {
            name: rem::REPLAYGAIN_ALBUM_GAIN.into(),
            value: g.gain_text(),
        });
        sheet.rems.push(Rem {
            name: rem::REPLAYGAIN_ALBUM_PEAK.into(),
            value: g.peak_text(),
        });
    }
    for t in &mut sheet.tracks {
        if let Some(g) = tracks.get(&t.number) {
            t.rems.push(Rem {
                name: rem::REPLAYGAIN_TRACK_GAIN.into(),
                value: g.gain_text(),
            });
            t.rems.push(Rem {
                name: rem::REPLAYGAIN_TRACK_PEAK.into(),
                value: g.peak_text(),
            });
        }
    }
}

/// Sorted, merged ranges.
fn merge(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut v = ranges.to_vec();
    v.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in v {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

fn save_state(path: &Path, state: &State) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    write_atomic(path, &bytes)
}

/// Writes a small file through a temporary file beside it, synced and renamed.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".aj-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // Readable as any other output (the temporary file starts private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
