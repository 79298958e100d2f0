//! The gain job: EBU R128 loudness of finished files and ReplayGain 2.0
//! tags written into them (`R128_*` in Opus), as `aj gain` and the daemon
//! run it.
//!
//! Every file is measured first; only then are tags written, so a job
//! cancelled while measuring changes no file. A file that cannot be read or
//! tagged is that file's failure; the others go on.
//!
//! Inputs are files or folders. A folder stands for the audio files in it
//! and its sub-folders (hidden entries left out, links followed without
//! looping) whose formats the tag writer handles. With `album`, the files
//! given one by one form one album, as they always did; the files found in
//! a folder form one album per folder they lie in (a library's albums).
//!
//! What each file measured, and each album, is reported by an
//! [`Event::Loudness`]; the tags are described in [`crate::replaygain`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aj_codec::decode::{self, MediaInfo};
use aj_codec::Format;
use aj_core::CancelToken;
use aj_dsp::loudness::{LoudnessMeter, Measurement, PeakMode, ReplayGain};

use crate::convert::{has_extension, Walker};
use crate::engine::{lossy_path, Event, Summary};
use crate::replaygain::{self, Album};

/// Frames per block read when measuring.
const BLOCK_FRAMES: usize = 8192;
/// How often a file being measured reports progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// Extensions picked up in folders: those of the formats whose tags
/// [`replaygain::retag`] rewrites. Files named one by one are always tried
/// (the decoder probes the content).
pub const TAGGABLE_EXTENSIONS: &[&str] = &[
    "wav", "wave", "rf64", "bwf", "aif", "aiff", "aifc", "flac", "mp3", "ogg", "oga", "opus",
];

/// Measure loudness and write ReplayGain 2.0 tags into files.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GainSpec {
    /// Files, or folders searched recursively for audio files.
    pub files: Vec<PathBuf>,
    /// Also write album gain and peak: over the files given one by one, and
    /// over each folder's files for the files found in folders.
    #[serde(default)]
    pub album: bool,
    /// Peak tags hold the true peak (ITU-R BS.1770-4 Annex 2) instead of
    /// the sample peak.
    #[serde(default)]
    pub true_peak: bool,
    /// Measure and report only; change no file.
    #[serde(default)]
    pub dry_run: bool,
}

impl GainSpec {
    pub fn new(files: Vec<PathBuf>) -> Self {
        GainSpec {
            files,
            ..GainSpec::default()
        }
    }
}

/// What a file (or an album) measured and what was written: the payload of
/// [`Event::Loudness`]. Values are rounded as shown: loudness to 0.01
/// LU, peaks to 6 decimals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Loudness {
    /// The item (the file's position in the job); absent for an album.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The file measured; absent for an album.
    #[serde(
        with = "lossy_path::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub file: Option<PathBuf>,
    /// True for an album's values.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub album: bool,
    /// An album found in a folder: that folder (absent for the album of
    /// the files given one by one).
    #[serde(
        with = "lossy_path::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub folder: Option<PathBuf>,
    /// Integrated loudness, LUFS; `None` for silence or under 0.4 s.
    pub loudness_lufs: Option<f64>,
    /// Loudness range, LU.
    pub loudness_range_lu: Option<f64>,
    /// ReplayGain 2.0 gain to −18 LUFS, dB.
    pub gain_db: Option<f64>,
    /// The peak written (sample or true peak), linear.
    pub peak: f64,
    pub sample_peak: f64,
    pub true_peak: Option<f64>,
    /// Opus: the R128 gain written (Q7.8 dB to −23 LUFS, RFC 7845 §5.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r128_gain_q78: Option<i16>,
    /// Files: whether tags were written (false with `dry_run`, when there
    /// was nothing to write, or when writing failed); absent for albums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One file of the job.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub index: usize,
    pub path: PathBuf,
    /// The album it belongs to (an index into [`Plan::albums`]).
    pub album: usize,
}

/// What a gain job works on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub files: Vec<Planned>,
    /// Albums: `None` for the files given one by one, else the folder.
    pub albums: Vec<Option<PathBuf>>,
    /// Folders that could not be read, with why; they are items too (their
    /// indexes follow the files').
    pub errors: Vec<(usize, PathBuf, String)>,
}

impl Plan {
    /// Items in the job: files and unreadable folders.
    pub fn len(&self) -> usize {
        self.files.len() + self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Expands `spec.files`: a file stays as given, a folder becomes its audio
/// files (sorted by path); each file once, however often it is named.
pub fn plan(spec: &GainSpec, cancel: &CancelToken) -> Plan {
    let mut plan = Plan::default();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut album_of: HashMap<Option<PathBuf>, usize> = HashMap::new();
    let mut folder_errors = Vec::new();
    let mut add = |plan: &mut Plan, path: PathBuf, folder: Option<PathBuf>| {
        let key = path.canonicalize().unwrap_or_else(|_| path.clone());
        if !seen.insert(key) {
            return;
        }
        let next = album_of.len();
        let album = *album_of.entry(folder.clone()).or_insert(next);
        if album == plan.albums.len() {
            plan.albums.push(folder);
        }
        let index = plan.files.len();
        plan.files.push(Planned { index, path, album });
    };
    for input in &spec.files {
        if cancel.is_cancelled() {
            break;
        }
        if input.is_dir() {
            let mut walker = Walker::new(None, |p| has_extension(p, TAGGABLE_EXTENSIONS), cancel);
            if let Err(e) = walker.walk(input) {
                walker
                    .errors
                    .push((input.clone(), format!("cannot read folder: {e}")));
            }
            for f in walker.files {
                let folder = match f.parent() {
                    Some(p) => p.to_path_buf(),
                    None => input.clone(),
                };
                add(&mut plan, f, Some(folder));
            }
            folder_errors.extend(walker.errors);
        } else {
            add(&mut plan, input.clone(), None);
        }
    }
    let first = plan.files.len();
    plan.errors = folder_errors
        .into_iter()
        .enumerate()
        .map(|(i, (p, e))| (first + i, p, e))
        .collect();
    plan
}

/// A file measured.
struct Measured {
    index: usize,
    path: PathBuf,
    album: usize,
    info: MediaInfo,
    measurement: Measurement,
}

/// Runs a gain job: measures every file, then (unless `dry_run`) writes
/// the tags. Events: `job_started`; per file `file_started`, `stage`
/// ("measure"), `progress`, then `stage` ("tag"), `loudness` and
/// `file_done` (or `file_failed` at whichever step failed); one `loudness`
/// per album; the summary last. Cancelled before the writing starts, no
/// file is changed (every item not failed is skipped, "cancelled").
pub fn run(spec: &GainSpec, cancel: &CancelToken, on_event: &(dyn Fn(Event) + Sync)) -> Summary {
    let plan = plan(spec, cancel);
    on_event(Event::JobStarted {
        files: plan.len(),
        threads: 1,
    });
    let mut summary = Summary::default();
    for (index, path, error) in &plan.errors {
        on_event(Event::FileFailed {
            index: *index,
            input: path.clone(),
            error: error.clone(),
        });
        summary.failed += 1;
    }
    let peaks = if spec.true_peak {
        PeakMode::True
    } else {
        PeakMode::Sample
    };

    let mut measured: Vec<Measured> = Vec::new();
    let mut ended: HashSet<usize> = HashSet::new();
    for item in &plan.files {
        if cancel.is_cancelled() {
            break;
        }
        match measure(item, peaks, cancel, on_event) {
            Ok((measurement, info)) => measured.push(Measured {
                index: item.index,
                path: item.path.clone(),
                album: item.album,
                info,
                measurement,
            }),
            Err(_) if cancel.is_cancelled() => break,
            Err(error) => {
                on_event(Event::FileFailed {
                    index: item.index,
                    input: item.path.clone(),
                    error,
                });
                ended.insert(item.index);
                summary.failed += 1;
            }
        }
    }
    if cancel.is_cancelled() {
        return end_cancelled(&plan, &ended, summary, on_event);
    }

    // Albums: the measurements merged per album, in plan order.
    let albums: Vec<Option<(Measurement, Option<ReplayGain>)>> = (0..plan.albums.len())
        .map(|a| {
            if !spec.album {
                return None;
            }
            let mut all = Measurement::new();
            for m in measured.iter().filter(|m| m.album == a) {
                all.merge(&m.measurement);
            }
            let gain = ReplayGain::from_measurement(&all, spec.true_peak);
            Some((all, gain))
        })
        .collect();

    for m in &measured {
        if cancel.is_cancelled() {
            break;
        }
        let track = ReplayGain::from_measurement(&m.measurement, spec.true_peak);
        let format = replaygain::tag_format(&m.info);
        let mut report = loudness(&m.measurement, track.as_ref(), spec.true_peak);
        report.index = Some(m.index);
        report.file = Some(m.path.clone());
        if format == Some(Format::Opus) {
            report.r128_gain_q78 = track.as_ref().map(ReplayGain::r128_q78);
        }
        if track.is_none() {
            report.note = Some(
                "no loudness to measure (silent, or shorter than 0.4 s); track tags not written"
                    .into(),
            );
        }
        let mut failure = None;
        if spec.dry_run {
            report.written = Some(false);
        } else {
            on_event(Event::Stage {
                index: m.index,
                input: m.path.clone(),
                stage: "tag".into(),
            });
            let album = match albums.get(m.album) {
                Some(Some((_, Some(a)))) => Album::Set(a),
                Some(Some((_, None))) => Album::Remove,
                _ => Album::Keep,
            };
            match write_tags(&m.path, &m.info, format, track.as_ref(), album) {
                Ok(written) => report.written = Some(written),
                Err(e) => {
                    report.written = Some(false);
                    failure = Some(e);
                }
            }
        }
        on_event(Event::Loudness(Box::new(report)));
        ended.insert(m.index);
        match failure {
            Some(error) => {
                on_event(Event::FileFailed {
                    index: m.index,
                    input: m.path.clone(),
                    error,
                });
                summary.failed += 1;
            }
            None => {
                on_event(Event::FileDone {
                    index: m.index,
                    input: m.path.clone(),
                    output: m.path.clone(),
                    frames: m.measurement.frames(),
                    verified: false,
                    deleted_source: None,
                });
                summary.ok += 1;
            }
        }
    }
    if cancel.is_cancelled() {
        return end_cancelled(&plan, &ended, summary, on_event);
    }
    for (a, album) in albums.iter().enumerate() {
        let Some((m, gain)) = album else { continue };
        let mut report = loudness(m, gain.as_ref(), spec.true_peak);
        report.album = true;
        report.folder = plan.albums.get(a).cloned().flatten();
        on_event(Event::Loudness(Box::new(report)));
    }
    on_event(Event::Summary(summary));
    summary
}

/// The end of a cancelled job: every item that had not ended is skipped.
fn end_cancelled(
    plan: &Plan,
    ended: &HashSet<usize>,
    mut summary: Summary,
    on_event: &(dyn Fn(Event) + Sync),
) -> Summary {
    for item in plan.files.iter().filter(|i| !ended.contains(&i.index)) {
        on_event(Event::FileSkipped {
            index: item.index,
            input: item.path.clone(),
            output: None,
            reason: "cancelled".into(),
        });
        summary.skipped += 1;
    }
    summary.cancelled = true;
    on_event(Event::Summary(summary));
    summary
}

/// Decodes one file to its end and measures it, reporting progress.
fn measure(
    item: &Planned,
    peaks: PeakMode,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<(Measurement, MediaInfo), String> {
    let mut decoder = decode::open(&item.path).map_err(|e| e.to_string())?;
    let info = decoder.info().clone();
    let total = info.total_frames;
    on_event(Event::FileStarted {
        index: item.index,
        input: item.path.clone(),
        output: item.path.clone(),
        total_frames: total,
        sample_rate: info.sample_rate,
    });
    on_event(Event::Stage {
        index: item.index,
        input: item.path.clone(),
        stage: "measure".into(),
    });
    let mut meter = LoudnessMeter::new(decoder.spec(), peaks).map_err(|e| e.to_string())?;
    let mut frames: u64 = 0;
    let mut last = Instant::now();
    while let Some(block) = decoder.read(BLOCK_FRAMES).map_err(|e| e.to_string())? {
        cancel.check().map_err(|e| e.to_string())?;
        meter.add(&block).map_err(|e| e.to_string())?;
        frames += block.frames() as u64;
        if last.elapsed() >= PROGRESS_EVERY {
            last = Instant::now();
            on_event(Event::Progress {
                index: item.index,
                input: item.path.clone(),
                frames,
                total_frames: total,
                percent: total
                    .filter(|&t| t > 0)
                    .map(|t| (frames as f64 * 100.0 / t as f64).min(100.0)),
                drive: None,
            });
        }
    }
    Ok((meter.measurement(), info))
}

/// Writes the track and album values into `path`; `Ok(false)` when there
/// was nothing to write.
fn write_tags(
    path: &Path,
    info: &MediaInfo,
    format: Option<Format>,
    track: Option<&ReplayGain>,
    album: Album<'_>,
) -> Result<bool, String> {
    let Some(format) = format else {
        return Err(format!(
            "cannot write tags into {} ({}) files",
            info.container, info.codec
        ));
    };
    if track.is_none() && album == Album::Keep {
        return Ok(false);
    }
    replaygain::retag(path, format, |t| {
        if track.is_some() {
            replaygain::set_track_tags(t, format, track);
        }
        replaygain::set_album_tags(t, format, album);
    })
    .map(|()| true)
    .map_err(|e| format!("writing the tags: {e}"))
}

/// The values of a measurement, rounded as reported.
fn loudness(m: &Measurement, gain: Option<&ReplayGain>, true_peak: bool) -> Loudness {
    let peak = if true_peak {
        m.true_peak().unwrap_or(m.sample_peak())
    } else {
        m.sample_peak()
    };
    Loudness {
        index: None,
        file: None,
        album: false,
        folder: None,
        loudness_lufs: m.integrated().map(round2),
        loudness_range_lu: m.loudness_range().map(round2),
        gain_db: gain.map(|g| round2(g.gain_db)),
        peak: round6(peak),
        sample_peak: round6(m.sample_peak()),
        true_peak: m.true_peak().map(round6),
        r128_gain_q78: None,
        written: None,
        note: None,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use aj_codec::tags::{self, TagKey};

    use super::*;

    const RATE: u32 = 44_100;

    /// A stereo 16-bit WAV of a 1 kHz sine at `level` dBFS, which measures
    /// `level` LUFS (EBU Tech 3341 case 1).
    fn tone(path: &Path, level: f64, secs: f64) {
        let amp = 10f64.powf(level / 20.0) * 32767.0;
        let frames = (secs * f64::from(RATE)) as usize;
        let mut v = Vec::with_capacity(frames * 2);
        for i in 0..frames {
            let x = (amp * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / f64::from(RATE)).sin())
                .round() as i32;
            v.extend([x, x]);
        }
        aj_testkit::write_wav(path, &v, 2, RATE, 16);
    }

    fn run_collect(spec: &GainSpec, cancel: &CancelToken) -> (Summary, Vec<Event>) {
        let events = Mutex::new(Vec::new());
        let s = run(spec, cancel, &|e| events.lock().unwrap().push(e));
        (s, events.into_inner().unwrap())
    }

    fn track_gain(p: &Path) -> Option<String> {
        tags::read(p)
            .unwrap()
            .get(&TagKey::ReplayGainTrackGain)
            .map(str::to_string)
    }

    fn album_gain(p: &Path) -> Option<String> {
        tags::read(p)
            .unwrap()
            .get(&TagKey::ReplayGainAlbumGain)
            .map(str::to_string)
    }

    #[test]
    fn spec_reads_from_json_with_defaults() {
        let s: GainSpec = serde_json::from_str(r#"{"files": ["a.flac"]}"#).unwrap();
        assert_eq!(s, GainSpec::new(vec!["a.flac".into()]));
        let j = serde_json::to_value(crate::JobSpec::Gain(s)).unwrap();
        assert_eq!(j["kind"], "gain");
        assert_eq!(j["album"], false);
    }

    /// Folders are albums of their own; files given alone form one album;
    /// each file is measured once however it is named.
    #[test]
    fn folders_are_albums_and_files_given_alone_are_one() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("lib/a")).unwrap();
        std::fs::create_dir_all(d.join("lib/b")).unwrap();
        std::fs::create_dir_all(d.join("lib/.hidden")).unwrap();
        tone(&d.join("lib/a/1.wav"), -12.0, 1.5);
        tone(&d.join("lib/a/2.wav"), -20.0, 1.5);
        tone(&d.join("lib/b/3.wav"), -30.0, 1.5);
        tone(&d.join("lib/.hidden/4.wav"), -30.0, 1.5);
        std::fs::write(d.join("lib/a/notes.txt"), "x").unwrap();
        tone(&d.join("x.wav"), -14.0, 1.5);
        tone(&d.join("y.wav"), -14.0, 1.5);
        let mut spec = GainSpec::new(vec![
            d.join("x.wav"),
            d.join("lib"),
            d.join("y.wav"),
            d.join("lib/a/1.wav"),
        ]);
        spec.album = true;
        let p = plan(&spec, &CancelToken::new());
        let names: Vec<_> = p
            .files
            .iter()
            .map(|f| f.path.strip_prefix(d).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            [
                "x.wav",
                "lib/a/1.wav",
                "lib/a/2.wav",
                "lib/b/3.wav",
                "y.wav"
            ]
            .map(PathBuf::from)
            .to_vec()
        );
        assert_eq!(
            p.files.iter().map(|f| f.album).collect::<Vec<_>>(),
            [0, 1, 1, 2, 0]
        );
        assert_eq!(p.albums[0], None);
        assert_eq!(p.albums[1], Some(d.join("lib/a")));

        let (s, events) = run_collect(&spec, &CancelToken::new());
        assert_eq!((s.ok, s.failed, s.skipped), (5, 0, 0), "{events:?}");
        let albums: Vec<&Loudness> = events
            .iter()
            .filter_map(|e| match e {
                Event::Loudness(l) if l.album => Some(l.as_ref()),
                _ => None,
            })
            .collect();
        assert_eq!(albums.len(), 3);
        assert_eq!(albums[0].folder, None);
        assert_eq!(albums[2].folder.as_deref(), Some(d.join("lib/b").as_path()));
        // Album b is one file: its gain is the track's (−30 LUFS → +12 dB).
        let b = album_gain(&d.join("lib/b/3.wav")).unwrap();
        assert_eq!(Some(b.clone()), track_gain(&d.join("lib/b/3.wav")));
        assert!(b.starts_with("+12.0") || b.starts_with("+11.9"), "{b}");
        // Album a is not album b.
        assert_ne!(album_gain(&d.join("lib/a/1.wav")), Some(b));
        assert_eq!(
            album_gain(&d.join("lib/a/1.wav")),
            album_gain(&d.join("lib/a/2.wav"))
        );
        assert_eq!(track_gain(&d.join("lib/.hidden/4.wav")), None);
        assert!(matches!(events.last(), Some(Event::Summary(_))));
    }

    /// A cancel while measuring changes no file: everything is skipped.
    #[test]
    fn cancelled_while_measuring_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..3)
            .map(|i| {
                let p = dir.path().join(format!("{i}.wav"));
                tone(&p, -20.0, 1.0);
                p
            })
            .collect();
        let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        let cancel = CancelToken::new();
        let events = Mutex::new(Vec::new());
        let s = run(&GainSpec::new(files.clone()), &cancel, &|e| {
            // The second file starts: cancel.
            if matches!(e, Event::FileStarted { index: 1, .. }) {
                cancel.cancel();
            }
            events.lock().unwrap().push(e);
        });
        assert!(s.cancelled);
        assert_eq!((s.ok, s.failed, s.skipped), (0, 0, 3));
        for (f, b) in files.iter().zip(&before) {
            assert!(&std::fs::read(f).unwrap() == b, "{} changed", f.display());
        }
        let events = events.into_inner().unwrap();
        assert!(!events.iter().any(|e| matches!(e, Event::Loudness(_))));
    }

    /// A file that cannot be read, or cannot be tagged, fails alone.
    #[test]
    fn failures_are_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let good = d.join("good.wav");
        tone(&good, -20.0, 1.5);
        let junk = d.join("junk.flac");
        std::fs::write(&junk, b"not audio").unwrap();
        let mut spec = GainSpec::new(vec![junk.clone(), good.clone(), d.join("missing.wav")]);
        spec.album = true;
        let (s, events) = run_collect(&spec, &CancelToken::new());
        assert_eq!((s.ok, s.failed), (1, 2));
        let failed: Vec<usize> = events
            .iter()
            .filter_map(|e| match e {
                Event::FileFailed { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert_eq!(failed, [0, 2]);
        assert!(track_gain(&good).is_some());
        // The album is the one file measured.
        assert_eq!(album_gain(&good), track_gain(&good));
    }
}
