//! The convert job: files in, files of another format out.
//!
//! Pipeline per file: decoder → [`Chain`] (channel mix → gain → resample →
//! the target's sample format; a single exact [`aj_dsp::convert::FormatConverter`]
//! when no DSP is asked for) → [`FileSink`] (encoder, tags, verification of
//! lossless outputs, atomic rename).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aj_codec::encode::{self, EncoderOptions};
use aj_codec::sink::{FileSink, FileSinkOptions};
use aj_codec::{decode, tags, Format};
use aj_core::{AudioSpec, CancelToken, Processor, SampleFormat, Sink};
use aj_dsp::chain::{Chain, DspSettings};
use aj_dsp::gain::{
    clip_guard, parse_replaygain_db, parse_replaygain_peak, r128_tag_to_replaygain_db,
};
use aj_dsp::loudness::{LoudnessMeter, Measurement, PeakMode, ReplayGain};
use aj_dsp::mix::ChannelMixer;

use crate::cuesplit;
use crate::engine::Event;
use crate::naming::{NameContext, SafeNames, Template, TemplateError};
use crate::replaygain::{self, AlbumGains};

/// Extensions picked up when a folder is given as input. Files named one by one
/// are always tried, whatever their name: the decoder probes the content.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "rf64", "bwf", "w64", "aif", "aiff", "aifc", "flac", "mp3", "mp2", "m4a", "m4b",
    "mp4", "alac", "caf", "ogg", "oga", "opus", "mka", "webm", "ape",
];

/// Frames per block read from a decoder.
const BLOCK_FRAMES: usize = 8192;
/// How often a file reports progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// Convert these inputs to one format.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConvertSpec {
    /// Files or folders (folders are searched recursively for audio files).
    pub inputs: Vec<PathBuf>,
    pub format: Format,
    /// Where outputs go; `None`: beside each input. For a folder input, its
    /// sub-folders are recreated below this one.
    #[serde(default)]
    pub output_dir: Option<PathBuf>,
    #[serde(default)]
    pub encoder: EncoderOptions,
    /// Replace outputs that exist already.
    #[serde(default)]
    pub overwrite: bool,
    /// Decode lossless outputs again and compare their samples (default on).
    #[serde(default = "yes")]
    pub verify: bool,
    /// Files converted at once; 0 = one per core.
    #[serde(default)]
    pub threads: usize,
    /// Write ReplayGain 2.0 tags (`R128_*` in Opus): each file's track gain,
    /// measured on the decoded samples during the conversion, and an album
    /// gain over the files converted into the same folder in this run.
    #[serde(default)]
    pub replaygain: bool,
    /// Name outputs from their tags with this template (see
    /// [`crate::naming`]), below `output_dir` (or the input folder, or the
    /// input's folder); `None`: the input's own name.
    #[serde(default)]
    pub name: Option<String>,
    /// Characters names made by `name` may hold.
    #[serde(default)]
    pub safe_names: SafeNames,
    /// With `name`: keep each input folder's sub-folders and let the
    /// template name the file inside them.
    #[serde(default)]
    pub keep_tree: bool,
    /// What to do when an output exists (`overwrite: true` means
    /// [`OnExists::Overwrite`]).
    #[serde(default)]
    pub on_exists: OnExists,
    /// Delete each source once its output was written and checked (see
    /// [`run_item`]).
    #[serde(default)]
    pub delete_source: bool,
    /// Rate, depth, channels and gain of the outputs; flat in the JSON
    /// (`"rate"`, `"bits"`… beside `"format"`).
    #[serde(flatten)]
    pub dsp: DspOptions,
    /// Split images that have a cue sheet (a `.cue` given or found, a `.cue`
    /// beside the image, or one embedded in a FLAC file) into one file per
    /// track (default on; see [`crate::cuesplit`]). Off: such images are
    /// converted whole.
    #[serde(default = "yes")]
    pub split: bool,
    /// Where a split image's gaps (INDEX 00 to INDEX 01) go.
    #[serde(default)]
    pub gaps: crate::rip::Gaps,
    /// Join the inputs into one image with its cue sheet instead of
    /// converting them one by one (see [`crate::join`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<crate::join::JoinOptions>,
}

/// What the DSP does to the samples on their way to the output: the same
/// options for `aj convert` and `aj sync` (flattened into their specs).
/// All unset: the samples go through exactly.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DspOptions {
    /// Output sample rate in Hz; resampled (high quality, see aj-dsp's
    /// `resample`) when it differs from the source's.
    #[serde(default)]
    pub rate: Option<u32>,
    /// Output integer depth (8, 16, 24, 32); TPDF dither when it drops.
    #[serde(default)]
    pub bits: Option<u8>,
    /// 32-bit float output (WAV only); excludes `bits`.
    #[serde(default)]
    pub float: bool,
    /// Output channels: 1 (mono) or 2 (stereo); see aj-dsp's `mix`.
    #[serde(default)]
    pub channels: Option<u16>,
    /// Gain in dB, lowered by the clip guard when the peak would pass 0 dBFS.
    #[serde(default)]
    pub gain_db: Option<f64>,
    /// Apply the source's ReplayGain (its tags, else measured), with the
    /// same clip guard.
    #[serde(default)]
    pub apply_replaygain: Option<ApplyGain>,
}

/// Which ReplayGain value `apply_replaygain` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyGain {
    /// The track gain.
    Track,
    /// The album gain, else the track gain (as foobar2000 falls back).
    Album,
}

impl std::str::FromStr for ApplyGain {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "track" => Ok(ApplyGain::Track),
            "album" => Ok(ApplyGain::Album),
            other => Err(format!(
                "unknown --apply-replaygain '{other}' (expected track or album)"
            )),
        }
    }
}

fn yes() -> bool {
    true
}

/// What to do when an output exists already.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum OnExists {
    /// Leave it and skip the input.
    #[default]
    Skip,
    /// Replace it (atomically, once the new output is complete).
    Overwrite,
    /// Write `NAME (1).EXT`, `NAME (2).EXT`…: the first name free when the
    /// output is complete; a file that appeared meanwhile is never replaced.
    Rename,
}

impl std::str::FromStr for OnExists {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "skip" => Ok(OnExists::Skip),
            "overwrite" | "replace" => Ok(OnExists::Overwrite),
            "rename" | "number" => Ok(OnExists::Rename),
            other => Err(format!(
                "unknown --on-exists '{other}' (expected skip, overwrite or rename)"
            )),
        }
    }
}

impl ConvertSpec {
    /// A spec with the defaults of `aj convert`.
    pub fn new(inputs: Vec<PathBuf>, format: Format) -> Self {
        ConvertSpec {
            inputs,
            format,
            output_dir: None,
            encoder: EncoderOptions::default(),
            overwrite: false,
            verify: true,
            threads: 0,
            replaygain: false,
            name: None,
            safe_names: SafeNames::default(),
            keep_tree: false,
            on_exists: OnExists::default(),
            delete_source: false,
            dsp: DspOptions::default(),
            join: None,
            split: true,
            gaps: crate::rip::Gaps::Append,
        }
    }

    /// What to do with an existing output: [`OnExists::Overwrite`] when
    /// `overwrite` is set, else `on_exists`.
    pub fn when_exists(&self) -> OnExists {
        if self.overwrite {
            OnExists::Overwrite
        } else {
            self.on_exists
        }
    }

    /// Worker threads to use.
    pub fn threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

/// One file of a convert job.
#[derive(Debug, Clone)]
pub struct Item {
    pub index: usize,
    /// The input file; for a track of a split image, the image's path with
    /// `#NN` added (`album.flac#03`): a name for events, not a file.
    pub input: PathBuf,
    pub plan: Planned,
    /// For a track of a split image: which stretch of which file(s), and
    /// its tags.
    pub track: Option<Box<crate::cuesplit::CueTrackItem>>,
}

/// What planning decided for one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    /// Convert into this output.
    Convert(PathBuf),
    /// Leave alone, for this reason (not an error).
    Skip { output: PathBuf, reason: String },
    /// Cannot be converted (missing input, unreadable folder…).
    Fail(String),
}

impl Item {
    /// The output path, when there is one.
    pub fn output(&self) -> Option<&Path> {
        match &self.plan {
            Planned::Convert(o) | Planned::Skip { output: o, .. } => Some(o),
            Planned::Fail(_) => None,
        }
    }
}

/// How one item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOutcome {
    Done,
    Failed,
    Skipped,
}

/// Expands the inputs into items, in a stable order. Stops early (with what
/// it found so far) when `cancel` is set.
///
/// Folders are searched recursively; hidden entries and the output folder
/// itself are passed over, and a folder reached twice (through links) is read
/// once. Without a name template, when several inputs would give the same
/// output, the lossless one is converted (or the first, among equals) and the
/// others are skipped.
///
/// With a template (`spec.name`), each input's tags are read to name its
/// output. Two inputs named to one output (or an output named like another
/// input of the job) is an error of the whole job: the inputs concerned
/// fail, every other item is skipped, so that no work starts.
/// [`plan_checked`] returns that error instead, as it does an invalid
/// template (whose items all fail).
pub fn plan(spec: &ConvertSpec, cancel: &CancelToken) -> Vec<Item> {
    expand(spec, cancel).0
}

/// [`plan`], or why the job cannot run at all.
///
/// # Errors
/// [`PlanError::Template`] for a template that does not parse,
/// [`PlanError::Collisions`] when the template names several inputs alike.
pub fn plan_checked(spec: &ConvertSpec, cancel: &CancelToken) -> Result<Vec<Item>, PlanError> {
    match expand(spec, cancel) {
        (_, Some(e)) => Err(e),
        (items, None) => Ok(items),
    }
}

/// Why a convert job cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{}", describe_collisions(.0))]
    Collisions(Vec<Collision>),
}

/// Inputs a name template gives one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub output: PathBuf,
    /// Two or more: the inputs named so (or an input named like another
    /// input, that input last).
    pub inputs: Vec<PathBuf>,
}

fn describe_collisions(collisions: &[Collision]) -> String {
    let list: Vec<String> = collisions
        .iter()
        .map(|c| {
            let inputs: Vec<String> = c.inputs.iter().map(|p| p.display().to_string()).collect();
            format!("{} <- {}", c.output.display(), inputs.join(" and "))
        })
        .collect();
    format!(
        "the name template gives several inputs the same output (add fields that tell them apart, like {{disc}} or {{track}}): {}",
        list.join("; ")
    )
}

fn expand(spec: &ConvertSpec, cancel: &CancelToken) -> (Vec<Item>, Option<PlanError>) {
    let template = match spec.name.as_deref().map(Template::parse).transpose() {
        Ok(t) => t,
        Err(e) => {
            let items = spec
                .inputs
                .iter()
                .enumerate()
                .map(|(index, input)| Item {
                    index,
                    input: input.clone(),
                    plan: Planned::Fail(e.to_string()),
                    track: None,
                })
                .collect();
            return (items, Some(PlanError::Template(e)));
        }
    };
    let out_dir = spec.output_dir.as_deref().map(normalise);
    // What the inputs hold: files (audio and cue sheets), in order, and
    // what could not be read.
    let mut entries: Vec<Result<cuesplit::Entry, (PathBuf, String)>> = Vec::new();
    for input in &spec.inputs {
        if cancel.is_cancelled() {
            break;
        }
        if input.is_dir() {
            // Audio files, and cue sheets: they split the images they name.
            let mut walker = Walker::new(
                out_dir.clone(),
                |p| has_extension(p, AUDIO_EXTENSIONS) || cuesplit::is_cue(p),
                cancel,
            );
            if let Err(e) = walker.walk(input) {
                entries.push(Err((input.clone(), format!("cannot read folder: {e}"))));
            } else if walker.files.is_empty() && walker.errors.is_empty() {
                entries.push(Err((input.clone(), "no audio files in this folder".into())));
            }
            entries.extend(walker.errors.into_iter().map(Err));
            for f in walker.files {
                let rel_dir = f
                    .parent()
                    .and_then(|p| p.strip_prefix(input).ok())
                    .map(Path::to_path_buf);
                entries.push(Ok(cuesplit::Entry {
                    path: f,
                    root: Some(input.clone()),
                    rel_dir,
                }));
            }
        } else if input.exists() {
            entries.push(Ok(cuesplit::Entry {
                path: input.clone(),
                root: None,
                rel_dir: None,
            }));
        } else {
            entries.push(Err((input.clone(), "no such file or folder".into())));
        }
    }
    // Cue sheets and the images they split are one unit each.
    let mut found: Vec<(PathBuf, Result<PathBuf, String>)> = Vec::new();
    let mut tracks: HashMap<usize, Box<cuesplit::CueTrackItem>> = HashMap::new();
    for unit in cuesplit::group(entries, spec.split) {
        match unit {
            cuesplit::Unit::Failed(p, e) => found.push((p, Err(e))),
            cuesplit::Unit::Plain(e) => {
                let out = match &template {
                    Some(t) => {
                        named_output(spec, t, &e.path, e.root.as_deref(), e.rel_dir.as_deref())
                    }
                    None => Ok(output_path(spec, &e.path, e.rel_dir.as_deref())),
                };
                found.push((e.path, out));
            }
            cuesplit::Unit::Split(e, src) => {
                match cuesplit::track_items(&src, spec.gaps, spec.safe_names) {
                    Err(msg) => found.push((e.path, Err(msg))),
                    Ok(list) => {
                        for t in list {
                            let out = track_output(spec, template.as_ref(), &t, &e);
                            found.push((t.label(), Ok(out)));
                            tracks.insert(found.len() - 1, Box::new(t));
                        }
                    }
                }
            }
        }
    }

    if template.is_some() {
        let (items, e) = named_items(spec, found);
        return (with_tracks(items, tracks), e);
    }

    // Which input each output goes to: the lossless one, else the first.
    let mut owner: HashMap<PathBuf, usize> = HashMap::new();
    for (i, (input, out)) in found.iter().enumerate() {
        let Ok(out) = out else { continue };
        if same_file(input, out) {
            continue;
        }
        owner
            .entry(normalise(out))
            .and_modify(|o| {
                if looks_lossless(input) && !looks_lossless(&found[*o].0) {
                    *o = i;
                }
            })
            .or_insert(i);
    }
    let items = found
        .iter()
        .enumerate()
        .map(|(index, (input, out))| {
            let plan = match out {
                Err(e) => Planned::Fail(e.clone()),
                Ok(out) if same_file(input, out) => Planned::Skip {
                    output: out.clone(),
                    reason: "already in this format (the output would replace the input; choose another folder with -o)"
                        .into(),
                },
                Ok(out) => match owner.get(&normalise(out)) {
                    Some(&o) if o != index => Planned::Skip {
                        output: out.clone(),
                        reason: format!("{} is converted to the same output", found[o].0.display()),
                    },
                    _ => Planned::Convert(out.clone()),
                },
            };
            Item { index, input: input.clone(), plan, track: None }
        })
        .collect();
    (with_tracks(items, tracks), None)
}

/// Gives the items that are tracks of a split image their track part.
fn with_tracks(
    mut items: Vec<Item>,
    mut tracks: HashMap<usize, Box<cuesplit::CueTrackItem>>,
) -> Vec<Item> {
    for item in &mut items {
        item.track = tracks.remove(&item.index);
    }
    items
}

/// The output of one track of a split image: `NN - Title.EXT` in `-o`
/// (below the sub-folder it was found in) or beside the image; with a
/// template, named from the track's tags as any input is.
fn track_output(
    spec: &ConvertSpec,
    template: Option<&Template>,
    track: &cuesplit::CueTrackItem,
    found: &cuesplit::Entry,
) -> PathBuf {
    let beside = track
        .image
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    match template {
        None => {
            let dir = match (&spec.output_dir, &found.rel_dir) {
                (Some(d), Some(rel)) => d.join(rel),
                (Some(d), None) => d.clone(),
                (None, _) => beside,
            };
            dir.join(format!("{}.{}", track.stem, spec.format.extension()))
        }
        Some(t) => {
            let ctx = NameContext {
                tags: &track.tags,
                filename: &track.stem,
                format: spec.format,
            };
            let rel = t.render(&ctx, spec.safe_names);
            let mut base = match (&spec.output_dir, &found.root) {
                (Some(d), _) => d.clone(),
                (None, Some(r)) => r.clone(),
                (None, None) => beside,
            };
            if spec.keep_tree {
                if let Some(rel_dir) = &found.rel_dir {
                    base.push(rel_dir);
                }
            }
            base.join(rel)
        }
    }
}

/// The output a template names for `input`: below `-o`, else below the
/// input folder it was found in (`root`), else beside it; with
/// `keep_tree`, inside the sub-folder (`rel_dir`) it was found in.
fn named_output(
    spec: &ConvertSpec,
    template: &Template,
    input: &Path,
    root: Option<&Path>,
    rel_dir: Option<&Path>,
) -> Result<PathBuf, String> {
    let tags = tags::read(input).map_err(|e| format!("cannot read its tags to name it: {e}"))?;
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ctx = NameContext {
        tags: &tags,
        filename: &stem,
        format: spec.format,
    };
    let rel = template.render(&ctx, spec.safe_names);
    let mut base = match (&spec.output_dir, root) {
        (Some(d), _) => d.clone(),
        (None, Some(r)) => r.to_path_buf(),
        (None, None) => input.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    if spec.keep_tree {
        if let Some(rel_dir) = rel_dir {
            base.push(rel_dir);
        }
    }
    Ok(base.join(rel))
}

/// Items of a job named by a template: an input whose output is its own
/// path is skipped (as without a template); several inputs with one output
/// fail the job before any work (see [`plan`]).
fn named_items(
    spec: &ConvertSpec,
    found: Vec<(PathBuf, Result<PathBuf, String>)>,
) -> (Vec<Item>, Option<PlanError>) {
    // Windows and FAT drives do not tell `A.flac` from `a.flac`.
    let key = |p: &Path| -> PathBuf {
        let n = normalise(p);
        match spec.safe_names {
            SafeNames::Windows => PathBuf::from(n.to_string_lossy().to_lowercase()),
            SafeNames::Posix => n,
        }
    };
    let mut writers: HashMap<PathBuf, Vec<usize>> = HashMap::new();
    let mut inputs: HashMap<PathBuf, usize> = HashMap::new();
    for (i, (input, out)) in found.iter().enumerate() {
        inputs.entry(key(input)).or_insert(i);
        let Ok(out) = out else { continue };
        if !same_file(input, out) {
            writers.entry(key(out)).or_default().push(i);
        }
    }
    let mut collisions = Vec::new();
    let mut colliding: HashMap<usize, String> = HashMap::new();
    let mut groups: Vec<(&PathBuf, &Vec<usize>)> = writers.iter().collect();
    groups.sort_by_key(|(_, w)| w.first().copied());
    for (k, writers) in groups {
        let other_input = inputs.get(k).copied().filter(|i| !writers.contains(i));
        if writers.len() < 2 && other_input.is_none() {
            continue;
        }
        let Some(output) = writers
            .first()
            .and_then(|&w| found.get(w))
            .and_then(|(_, o)| o.as_ref().ok())
        else {
            continue;
        };
        let mut names: Vec<PathBuf> = writers
            .iter()
            .filter_map(|&w| found.get(w).map(|(i, _)| i.clone()))
            .collect();
        for &w in writers {
            let others: Vec<String> = names
                .iter()
                .enumerate()
                .filter(|&(n, _)| writers.get(n) != Some(&w))
                .map(|(_, p)| p.display().to_string())
                .collect();
            let why = if others.is_empty() {
                String::new()
            } else {
                format!(" also from {}", others.join(" and "))
            };
            let input_too = match other_input.and_then(|i| found.get(i)) {
                Some((p, _)) => format!(", which is an input of this job too ({})", p.display()),
                None => String::new(),
            };
            colliding.insert(
                w,
                format!(
                    "the name template writes {}{why}{input_too}; nothing was converted",
                    output.display()
                ),
            );
        }
        if let Some((p, _)) = other_input.and_then(|i| found.get(i)) {
            names.push(p.clone());
        }
        collisions.push(Collision {
            output: output.clone(),
            inputs: names,
        });
    }
    let failed = !collisions.is_empty();
    let items = found
        .into_iter()
        .enumerate()
        .map(|(index, (input, out))| {
            let plan = match out {
                Err(e) => Planned::Fail(e),
                Ok(out) if same_file(&input, &out) => Planned::Skip {
                    output: out,
                    reason: "the name template gives the input's own path (the output would replace the input)"
                        .into(),
                },
                Ok(_) if colliding.contains_key(&index) => {
                    Planned::Fail(colliding.remove(&index).unwrap_or_default())
                }
                Ok(out) if failed => Planned::Skip {
                    output: out,
                    reason: "not converted: the name template gives other inputs one output"
                        .into(),
                },
                Ok(out) => Planned::Convert(out),
            };
            Item { index, input, plan, track: None }
        })
        .collect();
    (items, failed.then_some(PlanError::Collisions(collisions)))
}

/// True for inputs whose extension names a lossless format.
fn looks_lossless(p: &Path) -> bool {
    p.extension().is_some_and(|e| {
        matches!(
            e.to_string_lossy().to_ascii_lowercase().as_str(),
            "wav"
                | "wave"
                | "rf64"
                | "bwf"
                | "w64"
                | "aif"
                | "aiff"
                | "aifc"
                | "flac"
                | "ape"
                | "alac"
                | "caf"
        )
    })
}

/// Whether `path`'s extension is one of `extensions` (lower case), in any
/// case.
pub(crate) fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .is_some_and(|e| extensions.contains(&e.to_string_lossy().to_ascii_lowercase().as_str()))
}

/// A recursive folder search that cannot loop: files `accept` takes, in
/// name order, hidden entries passed over; an unreadable sub-folder is an
/// error of its own, not of the whole search.
pub(crate) struct Walker<'a> {
    /// A folder never searched (the output folder of a conversion).
    pub(crate) skip: Option<PathBuf>,
    /// Which files are kept.
    pub(crate) accept: fn(&Path) -> bool,
    /// Folders already read, by their real path.
    pub(crate) seen: HashSet<PathBuf>,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) errors: Vec<(PathBuf, String)>,
    pub(crate) cancel: &'a CancelToken,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(
        skip: Option<PathBuf>,
        accept: fn(&Path) -> bool,
        cancel: &'a CancelToken,
    ) -> Self {
        Walker {
            skip,
            accept,
            seen: HashSet::new(),
            files: Vec::new(),
            errors: Vec::new(),
            cancel,
        }
    }

    pub(crate) fn walk(&mut self, dir: &Path) -> std::io::Result<()> {
        let real = dir.canonicalize()?;
        if self.skip.as_ref() == Some(&real) || !self.seen.insert(real) {
            return Ok(());
        }
        let mut entries: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if self.cancel.is_cancelled() {
                break;
            }
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if p.is_dir() {
                // An unreadable sub-folder fails alone, not the whole search.
                if let Err(e) = self.walk(&p) {
                    self.errors.push((p, format!("cannot read folder: {e}")));
                }
            } else if (self.accept)(&p) {
                self.files.push(p);
            }
        }
        Ok(())
    }
}

fn output_path(spec: &ConvertSpec, input: &Path, rel_dir: Option<&Path>) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_else(|| "output".into());
    let mut name = stem;
    name.push(".");
    name.push(spec.format.extension());
    let dir = match (&spec.output_dir, rel_dir) {
        (Some(d), Some(rel)) => d.join(rel),
        (Some(d), None) => d.clone(),
        (None, _) => input.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    dir.join(name)
}

fn normalise(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    match (
        abs.parent().and_then(|d| d.canonicalize().ok()),
        abs.file_name(),
    ) {
        (Some(d), Some(n)) => d.join(n),
        _ => abs,
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    normalise(a) == normalise(b)
}

/// Album gain bookkeeping for a job: one [`AlbumGains`] per run, over the
/// outputs of the items planned to be converted (none when the spec does not
/// ask for ReplayGain).
pub fn album_gains(spec: &ConvertSpec, plan: &[Item]) -> AlbumGains {
    if !spec.replaygain {
        return AlbumGains::disabled();
    }
    AlbumGains::new(
        spec.format,
        plan.iter().filter_map(|i| match &i.plan {
            Planned::Convert(o) => Some(o.as_path()),
            _ => None,
        }),
    )
}

/// Runs one item's pipeline and reports its events. Folders it creates for
/// the output are added to `created_dirs` (see [`remove_empty_dirs`]).
/// ReplayGain track values are written without album values; a job uses
/// [`run_item_with_album`].
pub fn run_item(
    spec: &ConvertSpec,
    item: &Item,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
    created_dirs: &Mutex<Vec<PathBuf>>,
) -> ItemOutcome {
    run_item_with_album(
        spec,
        item,
        cancel,
        on_event,
        created_dirs,
        &AlbumGains::disabled(),
    )
}

/// [`run_item`], also gathering the album gain of the item's output folder
/// in `albums` (from [`album_gains`]). The item that ends a folder writes the
/// album values into all of the folder's outputs; if that fails for a file,
/// this item fails with a message naming it.
pub fn run_item_with_album(
    spec: &ConvertSpec,
    item: &Item,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
    created_dirs: &Mutex<Vec<PathBuf>>,
    albums: &AlbumGains,
) -> ItemOutcome {
    let (outcome, written, written_to) = run_one(spec, item, cancel, on_event, created_dirs);
    let Planned::Convert(output) = &item.plan else {
        return outcome;
    };
    // With `--on-exists rename` the output may have taken another name.
    let output = written_to.as_deref().unwrap_or(output);
    let failures = albums.item_ended(item.index, &item.input, output, written.as_ref());
    if failures.is_empty() {
        return outcome;
    }
    let list: Vec<String> = failures
        .iter()
        .map(|f| format!("{}: {}", f.output.display(), f.error))
        .collect();
    on_event(Event::FileFailed {
        index: item.index,
        input: item.input.clone(),
        error: format!("cannot write the album gain into {}", list.join("; ")),
    });
    ItemOutcome::Failed
}

/// One item: its outcome, for a written output with ReplayGain asked for
/// its loudness measurement, and where a written output is.
fn run_one(
    spec: &ConvertSpec,
    item: &Item,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
    created_dirs: &Mutex<Vec<PathBuf>>,
) -> (ItemOutcome, Option<Measurement>, Option<PathBuf>) {
    let fail = |error: String| {
        on_event(Event::FileFailed {
            index: item.index,
            input: item.input.clone(),
            error,
        });
        ItemOutcome::Failed
    };
    let skip = |output: &Path, reason: &str| {
        on_event(Event::FileSkipped {
            index: item.index,
            input: item.input.clone(),
            output: Some(output.to_path_buf()),
            reason: reason.to_string(),
        });
        ItemOutcome::Skipped
    };
    let output = match &item.plan {
        Planned::Convert(o) => o.clone(),
        Planned::Skip { output, reason } => return (skip(output, reason), None, None),
        Planned::Fail(e) => return (fail(e.clone()), None, None),
    };
    if output.is_dir() && spec.when_exists() != OnExists::Rename {
        return (
            fail(format!(
                "a folder is in the way of the output {}",
                output.display()
            )),
            None,
            None,
        );
    }
    if spec.when_exists() == OnExists::Skip && output.symlink_metadata().is_ok() {
        return (
            skip(
                &output,
                "output exists (use --overwrite to replace it, or --on-exists rename)",
            ),
            None,
            None,
        );
    }
    // Hidden track one audio that is digital silence is not kept (as `aj rip`).
    if let Some(track) = item.track.as_deref().filter(|t| t.number == 0) {
        match cuesplit::is_silent(track, cancel) {
            Ok(true) => {
                return (
                    skip(
                        &output,
                        "hidden track one audio is digital silence: not kept",
                    ),
                    None,
                    None,
                )
            }
            Ok(false) => {}
            Err(_) if cancel.is_cancelled() => return (skip(&output, "cancelled"), None, None),
            Err(e) => return (fail(e), None, None),
        }
    }
    match convert_file(spec, item, &output, cancel, on_event, created_dirs) {
        Ok(Written {
            frames,
            sample_rate,
            verified,
            measurement,
            path: output,
        }) => {
            let deleted_source = if let Some(track) = item.track.as_deref() {
                // An image and its cue sheet hold every track: never deleted.
                if spec.delete_source && track.first {
                    on_event(Event::Warning {
                        message: format!(
                            "{} was kept (not deleted): --delete-source never deletes a split image or its cue sheet",
                            track.image.display()
                        ),
                    });
                }
                None
            } else if spec.delete_source {
                match delete_source(
                    &item.input,
                    &output,
                    verified,
                    (frames, sample_rate),
                    cancel,
                ) {
                    Ok(()) => Some(item.input.clone()),
                    Err(Kept::Refused(message)) => {
                        on_event(Event::Warning { message });
                        None
                    }
                    Err(Kept::BadOutput(error)) => return (fail(error), None, Some(output)),
                }
            } else {
                None
            };
            on_event(Event::FileDone {
                index: item.index,
                input: item.input.clone(),
                output: output.clone(),
                frames,
                verified,
                deleted_source,
            });
            (ItemOutcome::Done, measurement, Some(output))
        }
        // Whatever error a cancelled pipeline stopped with, it was cancelled.
        Err(_) if cancel.is_cancelled() => (skip(&output, "cancelled"), None, None),
        Err(error) => (fail(error), None, None),
    }
}

/// Why a source was not deleted.
enum Kept {
    /// Deleting it would lose data, or the system refused: the item is done.
    Refused(String),
    /// The output did not pass the check: the item fails.
    BadOutput(String),
}

/// Deletes `input` now that `output` is written: at once when the output
/// was verified sample for sample (lossless), else once the output was
/// decoded to its end and gave the frames written (lossy outputs, or
/// `--no-verify`). Opus decodes at 48 kHz whatever rate was encoded: the
/// count is compared at the decoded rate, to the frame. Never when the
/// output is the input (the same path, or the same file through a link).
fn delete_source(
    input: &Path,
    output: &Path,
    verified: bool,
    (frames, rate): (u64, u32),
    cancel: &CancelToken,
) -> Result<(), Kept> {
    let kept =
        |why: String| Kept::Refused(format!("{} was kept (not deleted): {why}", input.display()));
    if same_file(input, output) || same_inode(input, output) {
        return Err(kept(format!(
            "it is the output {} itself",
            output.display()
        )));
    }
    if !verified {
        let (decoded, decoded_rate) = decoded_frames(output, cancel).map_err(|e| {
            Kept::BadOutput(format!(
                "checking {} before deleting the source: {e}; the source was kept",
                output.display()
            ))
        })?;
        let expected = if decoded_rate == rate || rate == 0 {
            u128::from(frames)
        } else {
            (u128::from(frames) * u128::from(decoded_rate) + u128::from(rate) / 2)
                / u128::from(rate)
        };
        if u128::from(decoded).abs_diff(expected) > u128::from(decoded_rate != rate) {
            return Err(Kept::BadOutput(format!(
                "{} decodes to {decoded} frames, {frames} were written; the source was kept",
                output.display()
            )));
        }
    }
    cancel
        .check()
        .map_err(|_| kept("the job was cancelled".into()))?;
    std::fs::remove_file(input).map_err(|e| kept(format!("cannot delete it: {e}")))
}

/// Frames a file decodes to, read to its end, and their rate.
fn decoded_frames(path: &Path, cancel: &CancelToken) -> Result<(u64, u32), String> {
    let mut decoder = decode::open(path).map_err(|e| e.to_string())?;
    let rate = decoder.spec().sample_rate;
    let mut frames = 0u64;
    while let Some(block) = decoder.read(BLOCK_FRAMES).map_err(|e| e.to_string())? {
        cancel.check().map_err(|e| e.to_string())?;
        frames += block.frames() as u64;
    }
    Ok((frames, rate))
}

/// True when both paths name one file (hard links, bind mounts).
fn same_inode(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

/// The pipeline; errors are worded for a person and name the file concerned
/// when it is not the input.
fn convert_file(
    spec: &ConvertSpec,
    item: &Item,
    output: &Path,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
    created_dirs: &Mutex<Vec<PathBuf>>,
) -> Result<Written, String> {
    let mut decoder = open_input(item)?;
    let info = decoder.info().clone();
    let src_spec = decoder.spec();
    // Lossy sources become 16-bit integers in lossless formats (WAV too);
    // float PCM stays float in WAV and becomes 24-bit elsewhere (dithered).
    let target = if !info.lossless && spec.format.is_lossless() {
        AudioSpec {
            format: SampleFormat::Int { bits: 16 },
            ..src_spec
        }
    } else {
        encode::input_spec(spec.format, src_spec, 24)
    };
    let mut tags = match &item.track {
        Some(track) => track.tags.clone(),
        None => tags::read(&item.input).map_err(|e| e.to_string())?,
    };
    // The source's encoder name describes the old file, not the new one.
    tags.drop_encoding_info();
    // DSP: mix, gain (clip-guarded), resample, then the target's format.
    spec.dsp.check(spec.format)?;
    let settings = dsp_settings(&spec.dsp, item, &tags, src_spec, cancel, on_event)?;
    let target = AudioSpec {
        format: spec.dsp.output_format(spec.format, target.format),
        ..settings.output_shape(src_spec)
    };
    let mut converter = Chain::new(src_spec, settings, target.format).map_err(|e| e.to_string())?;
    if settings.gain_db.is_some_and(|g| g != 0.0)
        || settings.channels.is_some_and(|c| c != src_spec.channels)
    {
        // The source's ReplayGain values no longer describe these samples.
        replaygain::set_gain_tags(&mut tags, spec.format, None, replaygain::Album::Remove);
    }

    create_output_dir(output, created_dirs)?;
    let out_err = |e: String| format!("writing {}: {e}", output.display());
    let options = FileSinkOptions {
        format: spec.format,
        encoder: spec.encoder.clone(),
        tags,
        // Rename: the name is picked when the output is complete.
        overwrite: matches!(spec.when_exists(), OnExists::Overwrite | OnExists::Rename),
        verify: spec.verify,
    };
    let mut sink = FileSink::create(output, target, options).map_err(|e| out_err(e.to_string()))?;
    // ReplayGain: the decoded samples are measured as they go by.
    // After DSP that changes samples, the output is measured instead.
    let measure_output = converter.is_float();
    let mut meter = if spec.replaygain {
        let at = if measure_output { target } else { src_spec };
        Some(LoudnessMeter::new(at, PeakMode::Sample).map_err(|e| e.to_string())?)
    } else {
        None
    };

    let total = decoder.total_frames().map(|f| f.0);
    on_event(Event::FileStarted {
        index: item.index,
        input: item.input.clone(),
        output: output.to_path_buf(),
        total_frames: total,
        sample_rate: src_spec.sample_rate,
    });
    // Output frames written, and source frames read (for progress).
    let mut frames = 0u64;
    let mut read = 0u64;
    let mut last_report = Instant::now();
    while let Some(block) = decoder.read(BLOCK_FRAMES).map_err(|e| e.to_string())? {
        cancel.check().map_err(|e| e.to_string())?;
        read += block.frames() as u64;
        if let Some(m) = meter.as_mut().filter(|_| !measure_output) {
            m.add(&block).map_err(|e| e.to_string())?;
        }
        let block = converter.process(block).map_err(|e| e.to_string())?;
        if block.frames() > 0 {
            if let Some(m) = meter.as_mut().filter(|_| measure_output) {
                m.add(&block).map_err(|e| e.to_string())?;
            }
            sink.write(&block).map_err(|e| out_err(e.to_string()))?;
        }
        frames += block.frames() as u64;
        if last_report.elapsed() >= PROGRESS_EVERY {
            last_report = Instant::now();
            on_event(progress(item, read, total));
        }
    }
    cancel.check().map_err(|e| e.to_string())?;
    // What the resampler held back.
    if let Some(block) = converter.flush().map_err(|e| e.to_string())? {
        if let Some(m) = meter.as_mut().filter(|_| measure_output) {
            m.add(&block).map_err(|e| e.to_string())?;
        }
        sink.write(&block).map_err(|e| out_err(e.to_string()))?;
        frames += block.frames() as u64;
    }
    on_event(progress(item, read, total.or(Some(read))));
    let measurement = meter.map(|m| m.measurement());
    if let Some(m) = &measurement {
        let track = ReplayGain::from_measurement(m, false);
        replaygain::set_track_tags(sink.tags_mut(), spec.format, track.as_ref());
    }
    if sink.verifies() {
        on_event(Event::Stage {
            index: item.index,
            input: item.input.clone(),
            stage: "verify".into(),
        });
    }
    let finished = if spec.when_exists() == OnExists::Rename {
        sink.finish_numbered(cancel)
    } else {
        sink.finish_verified(cancel)
            .map(|v| (v, output.to_path_buf()))
    };
    let (verified, written_to) = finished.map_err(|e| match e {
        aj_codec::Error::Corrupt(msg) => msg,
        other => out_err(other.to_string()),
    })?;
    Ok(Written {
        frames,
        sample_rate: target.sample_rate,
        verified,
        measurement,
        path: written_to,
    })
}

/// The decoder of an item: its input file, or for a track of a split image
/// exactly the track's frames of the image.
fn open_input(item: &Item) -> Result<Box<dyn decode::Decoder>, String> {
    match &item.track {
        Some(track) => Ok(Box::new(cuesplit::SpanSource::open(track)?)),
        None => decode::open(&item.input).map_err(|e| e.to_string()),
    }
}

/// What [`convert_file`] wrote.
struct Written {
    frames: u64,
    sample_rate: u32,
    verified: bool,
    measurement: Option<Measurement>,
    /// Where the output is (with `--on-exists rename`, maybe not where planned).
    path: PathBuf,
}

/// Creates the folder `output` goes in, adding the folders it made to
/// `created_dirs` (removed again by [`remove_empty_dirs`] when nothing
/// ends up in them).
///
/// # Errors
/// The folder cannot be created, worded for a person.
pub(crate) fn create_output_dir(
    output: &Path,
    created_dirs: &Mutex<Vec<PathBuf>>,
) -> Result<(), String> {
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        let missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|d| !d.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create folder {}: {e}", dir.display()))?;
        created_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(missing);
    }
    Ok(())
}

/// Removes the folders a job created that stayed empty (its items failed or
/// were cancelled), deepest first. Call once no item is running.
pub fn remove_empty_dirs(created_dirs: Vec<PathBuf>) {
    let mut dirs = created_dirs;
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.dedup();
    for d in dirs {
        // Fails, as it should, for a folder that holds anything.
        let _ = std::fs::remove_dir(d);
    }
}

fn progress(item: &Item, frames: u64, total: Option<u64>) -> Event {
    let percent = total
        .filter(|&t| t > 0)
        .map(|t| (frames as f64 * 100.0 / t as f64).min(100.0));
    Event::Progress {
        index: item.index,
        input: item.input.clone(),
        frames,
        total_frames: total,
        percent,
        drive: None,
    }
}

/// Sample rates an MP3 can carry: MPEG-1 (ISO/IEC 11172-3 §2.4.2.3),
/// MPEG-2 LSF (ISO/IEC 13818-3) and MPEG 2.5.
pub const MP3_RATES: [u32; 9] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];

/// Sample rates the Opus encoder takes (RFC 6716 §2: 8, 12, 16, 24 and 48
/// kHz); Opus always decodes at 48 kHz.
pub const OPUS_RATES: [u32; 5] = [8000, 12000, 16000, 24000, 48000];

/// Output rates accepted for `rate`, Hz: telephone to 8× 96 kHz.
pub const RATE_RANGE: std::ops::RangeInclusive<u32> = 1000..=768_000;

/// Largest gain accepted, in dB either way.
pub const MAX_GAIN_DB: f64 = 60.0;

impl DspOptions {
    /// Checks the options against each other and the output `format`.
    ///
    /// # Errors
    /// A message naming the option and what is wrong with it.
    pub fn check(&self, format: Format) -> Result<(), String> {
        if let Some(rate) = self.rate {
            if !RATE_RANGE.contains(&rate) {
                return Err(format!(
                    "--rate {rate} is out of range ({} to {} Hz)",
                    RATE_RANGE.start(),
                    RATE_RANGE.end()
                ));
            }
            let list = |r: &[u32]| r.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            if format == Format::Mp3 && !MP3_RATES.contains(&rate) {
                return Err(format!(
                    "--rate {rate}: MP3 holds {} Hz only",
                    list(&MP3_RATES)
                ));
            }
            if format == Format::Opus && !OPUS_RATES.contains(&rate) {
                return Err(format!(
                    "--rate {rate}: Opus encodes at {} Hz only (and always decodes at 48000)",
                    list(&OPUS_RATES)
                ));
            }
        }
        if let Some(bits) = self.bits {
            if !format.is_lossless() {
                return Err(format!(
                    "--bits applies to WAV, AIFF and FLAC, not {format} (lossy formats take float)"
                ));
            }
            if ![8, 16, 24, 32].contains(&bits) {
                return Err(format!("--bits {bits} is not one of 8, 16, 24, 32"));
            }
        }
        if self.float {
            if format != Format::Wav {
                return Err(format!("float output is for WAV only, not {format}"));
            }
            if self.bits.is_some() {
                return Err("give an integer depth or float, not both".into());
            }
        }
        if let Some(c) = self.channels {
            if c != 1 && c != 2 {
                return Err(format!(
                    "--channels {c}: only 1 (mono) and 2 (stereo) are made"
                ));
            }
        }
        if let Some(g) = self.gain_db {
            if !(g.is_finite() && g.abs() <= MAX_GAIN_DB) {
                return Err(format!(
                    "--gain {g} is out of range (-{MAX_GAIN_DB} to {MAX_GAIN_DB} dB)"
                ));
            }
        }
        Ok(())
    }

    /// The sample format an output in `format` takes, given the one the
    /// format would take by default: `bits` or `float` when asked (lossless
    /// formats).
    pub fn output_format(&self, format: Format, default: SampleFormat) -> SampleFormat {
        if !format.is_lossless() {
            default
        } else if self.float {
            SampleFormat::Float
        } else if let Some(bits) = self.bits {
            SampleFormat::Int { bits }
        } else {
            default
        }
    }

    /// True when the options change the samples (any of them set).
    pub fn changes_samples(&self) -> bool {
        self.rate.is_some()
            || self.bits.is_some()
            || self.float
            || self.channels.is_some()
            || self.gain_db.is_some()
            || self.apply_replaygain.is_some()
    }
}

/// A ReplayGain value from `tags`: (gain dB to −18 LUFS, peak when tagged).
/// Album mode takes the album values, else the track's; Opus's `R128_*`
/// tags count as well (RFC 7845 §5.2.1).
pub fn tagged_replaygain(tags: &tags::Tags, mode: ApplyGain) -> Option<(f64, Option<f64>)> {
    use aj_codec::tags::TagKey;
    let track = (
        TagKey::ReplayGainTrackGain,
        TagKey::ReplayGainTrackPeak,
        replaygain::R128_TRACK_GAIN,
    );
    let album = (
        TagKey::ReplayGainAlbumGain,
        TagKey::ReplayGainAlbumPeak,
        replaygain::R128_ALBUM_GAIN,
    );
    let order = match mode {
        ApplyGain::Album => vec![album, track],
        ApplyGain::Track => vec![track],
    };
    order.into_iter().find_map(|(gain, peak, r128)| {
        let peak = tags.get(&peak).and_then(parse_replaygain_peak);
        tags.get(&gain)
            .and_then(parse_replaygain_db)
            .map(|g| (g, peak))
            .or_else(|| {
                tags.get(&TagKey::Other(r128.into()))
                    .and_then(r128_tag_to_replaygain_db)
                    .map(|g| (g, None))
            })
    })
}

/// The DSP of one file: the mix and rate asked for, and the gain (`gain_db`
/// plus the ReplayGain applied) lowered by the clip guard so that the peak
/// stays at or below full scale.
///
/// ReplayGain comes from the source's tags; a source without them is
/// measured first (EBU R128, in an analysis pass over the file). The peak
/// the guard needs comes from the tags too when they have it and the mix
/// cannot raise it; otherwise the analysis pass measures it after the mix.
/// The guard acts only when the level is raised (a positive gain, or a
/// downmix whose coefficients sum above 1): lowering cannot clip.
pub(crate) fn dsp_settings(
    dsp: &DspOptions,
    item: &Item,
    tags: &tags::Tags,
    src: AudioSpec,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<DspSettings, String> {
    let channels = dsp.channels.filter(|&c| c != src.channels);
    let mix_gain = match channels {
        Some(c) => ChannelMixer::new(
            AudioSpec {
                format: SampleFormat::Float,
                ..src
            },
            c,
        )
        .map_err(|e| e.to_string())?
        .max_gain(),
        None => 1.0,
    };
    let tagged = dsp
        .apply_replaygain
        .and_then(|mode| tagged_replaygain(tags, mode));
    let measure_loudness = dsp.apply_replaygain.is_some() && tagged.is_none();
    let asked = dsp.gain_db.unwrap_or(0.0) + tagged.map_or(0.0, |t| t.0);
    // Whether the level may rise; with a measured gain, assume it may.
    let may_rise = asked > 0.0 || mix_gain > 1.0 + 1e-9 || measure_loudness;
    let tag_peak = tagged.and_then(|t| t.1).filter(|_| mix_gain <= 1.0 + 1e-9);
    let need_peak = may_rise && tag_peak.is_none();

    let (peak, measured) = if need_peak || measure_loudness {
        on_event(Event::Stage {
            index: item.index,
            input: item.input.clone(),
            stage: "analyse".into(),
        });
        analyse(item, src, channels, measure_loudness, cancel)?
    } else {
        (tag_peak.unwrap_or(0.0), None)
    };
    let peak = tag_peak.unwrap_or(peak);
    let measured_gain = measured
        .as_ref()
        .and_then(|m| ReplayGain::from_measurement(m, false))
        .map_or(0.0, |g| g.gain_db);
    let wanted = asked + measured_gain;
    let gain_db = if dsp.gain_db.is_some() || dsp.apply_replaygain.is_some() || mix_gain > 1.0 {
        let g = if wanted > 0.0 || mix_gain > 1.0 + 1e-9 {
            clip_guard(wanted, peak)
        } else {
            wanted
        };
        Some(g)
    } else {
        None
    };
    Ok(DspSettings {
        channels,
        gain_db,
        rate: dsp.rate.filter(|&r| r != src.sample_rate),
    })
}

/// The analysis pass: decodes `input` once, and returns the peak after the
/// mix (linear) and, when `loudness`, the source's loudness measurement.
fn analyse(
    item: &Item,
    src: AudioSpec,
    channels: Option<u16>,
    loudness: bool,
    cancel: &CancelToken,
) -> Result<(f64, Option<Measurement>), String> {
    let mut decoder = open_input(item)?;
    let settings = DspSettings {
        channels,
        gain_db: None,
        rate: None,
    };
    let mut mix = Chain::new(src, settings, SampleFormat::Float).map_err(|e| e.to_string())?;
    let mut meter = if loudness {
        Some(LoudnessMeter::new(src, PeakMode::Sample).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let scale = match src.format {
        SampleFormat::Int { bits } => 1.0 / (1u64 << (bits.clamp(1, 32) - 1)) as f64,
        SampleFormat::Float => 1.0,
    };
    let mut peak = 0.0f64;
    while let Some(block) = decoder.read(BLOCK_FRAMES).map_err(|e| e.to_string())? {
        cancel.check().map_err(|e| e.to_string())?;
        if let Some(m) = meter.as_mut() {
            m.add(&block).map_err(|e| e.to_string())?;
        }
        let out = mix.process(block).map_err(|e| e.to_string())?;
        peak = match &out.samples {
            aj_core::Samples::Float(v) => v
                .iter()
                .filter(|s| s.is_finite())
                .fold(peak, |p, s| p.max(f64::from(s.abs()))),
            aj_core::Samples::Int(v) => v
                .iter()
                .fold(peak, |p, s| p.max(f64::from(*s).abs() * scale)),
        };
    }
    Ok((peak, meter.map(|m| m.measurement())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn planned(items: &[Item]) -> Vec<Planned> {
        items.iter().map(|i| i.plan.clone()).collect()
    }

    #[test]
    fn plan_names_outputs_and_settles_collisions() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("lib/sub")).unwrap();
        for f in [
            "a.mp3",
            "a.flac",
            "lib/b.mp3",
            "lib/sub/c.ogg",
            "lib/.hidden.wav",
            "lib/notes.txt",
        ] {
            std::fs::write(d.join(f), b"").unwrap();
        }
        let mut spec = ConvertSpec::new(
            vec![
                d.join("a.mp3"),
                d.join("a.flac"),
                d.join("lib"),
                d.join("gone.wav"),
            ],
            Format::Opus,
        );
        spec.output_dir = Some(d.join("out"));
        let items = plan(&spec, &CancelToken::new());
        let p = planned(&items);
        // a.mp3 and a.flac both give a.opus: the lossless source wins.
        assert!(
            matches!(&p[0], Planned::Skip { reason, .. } if reason.contains("a.flac is converted"))
        );
        assert_eq!(p[1], Planned::Convert(d.join("out/a.opus")));
        assert_eq!(p[2], Planned::Convert(d.join("out/b.opus")));
        assert_eq!(p[3], Planned::Convert(d.join("out/sub/c.opus")));
        assert_eq!(p[4], Planned::Fail("no such file or folder".to_string()));
        assert_eq!(items.len(), 5);
        assert!(items.iter().enumerate().all(|(i, it)| it.index == i));

        // Without -o, beside the input; the same format in place is skipped.
        let spec = ConvertSpec::new(vec![d.join("a.flac")], Format::Flac);
        let p = planned(&plan(&spec, &CancelToken::new()));
        assert!(
            matches!(&p[0], Planned::Skip { reason, .. } if reason.contains("replace the input"))
        );
        let spec = ConvertSpec::new(vec![d.join("lib/b.mp3")], Format::Wav);
        assert_eq!(
            planned(&plan(&spec, &CancelToken::new())),
            vec![Planned::Convert(d.join("lib/b.wav"))]
        );
    }

    #[cfg(unix)]
    #[test]
    fn plan_survives_link_loops_and_skips_the_output_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("lib/a")).unwrap();
        std::fs::create_dir_all(d.join("lib/out")).unwrap();
        std::fs::write(d.join("lib/a/x.wav"), b"").unwrap();
        std::fs::write(d.join("lib/out/old.wav"), b"").unwrap();
        std::os::unix::fs::symlink("..", d.join("lib/a/up")).unwrap();
        std::os::unix::fs::symlink("../a", d.join("lib/a/self")).unwrap();
        let mut spec = ConvertSpec::new(vec![d.join("lib")], Format::Flac);
        spec.output_dir = Some(d.join("lib/out"));
        let p = planned(&plan(&spec, &CancelToken::new()));
        assert_eq!(p, vec![Planned::Convert(d.join("lib/out/a/x.flac"))]);

        let cancel = CancelToken::new();
        cancel.cancel();
        assert!(plan(&spec, &cancel).is_empty());
    }

    #[test]
    fn empty_created_folders_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("x/y/z")).unwrap();
        std::fs::create_dir_all(d.join("k/l")).unwrap();
        std::fs::write(d.join("k/l/kept.flac"), b"").unwrap();
        remove_empty_dirs(vec![
            d.join("x"),
            d.join("x/y/z"),
            d.join("x/y"),
            d.join("k/l"),
            d.join("k"),
        ]);
        assert!(!d.join("x").exists());
        assert!(d.join("k/l/kept.flac").exists());
    }

    #[test]
    fn delete_source_refuses_the_output_itself_and_bad_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let input = d.join("a.wav");
        aj_testkit::write_wav(
            &input,
            &aj_testkit::sine(100, 1, 8000, 16, 440.0, 0.5),
            1,
            8000,
            16,
        );
        let cancel = CancelToken::new();
        // The same path, and the same file under another name.
        assert!(matches!(
            delete_source(&input, &input, true, (100, 8000), &cancel),
            Err(Kept::Refused(m)) if m.contains("kept")
        ));
        #[cfg(unix)]
        {
            std::fs::hard_link(&input, d.join("b.wav")).unwrap();
            assert!(matches!(
                delete_source(&input, &d.join("b.wav"), true, (100, 8000), &cancel),
                Err(Kept::Refused(_))
            ));
        }
        // An unverified output is decoded: a wrong length or garbage fails.
        let out = d.join("out.wav");
        aj_testkit::write_wav(
            &out,
            &aj_testkit::sine(90, 1, 8000, 16, 440.0, 0.5),
            1,
            8000,
            16,
        );
        assert!(matches!(
            delete_source(&input, &out, false, (100, 8000), &cancel),
            Err(Kept::BadOutput(m)) if m.contains("90 frames")
        ));
        std::fs::write(d.join("junk.wav"), b"not audio").unwrap();
        assert!(matches!(
            delete_source(&input, &d.join("junk.wav"), false, (100, 8000), &cancel),
            Err(Kept::BadOutput(_))
        ));
        assert!(input.exists());
        // Twice the rate (as Opus decodes at 48 kHz): compared at that rate.
        assert!(delete_source(&input, &out, false, (45, 4000), &cancel).is_ok());
        assert!(!input.exists());
    }

    #[test]
    fn spec_reads_from_json_with_defaults() {
        let spec: ConvertSpec =
            serde_json::from_str(r#"{"inputs":["x.wav"],"format":"flac"}"#).unwrap();
        assert_eq!(spec, ConvertSpec::new(vec!["x.wav".into()], Format::Flac));
        let job: crate::JobSpec = serde_json::from_str(
            r#"{"kind":"convert","inputs":["x.wav"],"format":"mp3","encoder":{"quality":0}}"#,
        )
        .unwrap();
        let crate::JobSpec::Convert(c) = job else {
            panic!("not a convert job: {job:?}")
        };
        assert_eq!(c.encoder.quality, Some(0.0));
        assert!(c.verify);
    }

    /// The DSP options lie flat in the JSON of both job specs, key for key
    /// and in the same place as when each spec declared them itself: the
    /// daemon's stored jobs and its API document depend on it. The strings
    /// below were written by the specs before [`DspOptions`] existed.
    #[test]
    fn dsp_options_stay_flat_in_spec_json() {
        let mut c = ConvertSpec::new(vec!["in/a.flac".into()], Format::Wav);
        let before = r#"{"inputs":["in/a.flac"],"format":"wav","output_dir":null,"encoder":{"level":null,"quality":null,"bitrate":null,"abr":false,"threads":null},"overwrite":false,"verify":true,"threads":0,"replaygain":false,"name":null,"safe_names":"posix","keep_tree":false,"on_exists":"skip","delete_source":false,"rate":null,"bits":null,"float":false,"channels":null,"gain_db":null,"apply_replaygain":null,"split":true,"gaps":"append"}"#;
        assert_eq!(serde_json::to_string(&c).unwrap(), before);
        assert_eq!(serde_json::from_str::<ConvertSpec>(before).unwrap(), c);

        c.dsp = DspOptions {
            rate: Some(48000),
            bits: Some(24),
            float: false,
            channels: Some(1),
            gain_db: Some(-3.5),
            apply_replaygain: Some(ApplyGain::Album),
        };
        let before = r#"{"inputs":["in/a.flac"],"format":"wav","output_dir":null,"encoder":{"level":null,"quality":null,"bitrate":null,"abr":false,"threads":null},"overwrite":false,"verify":true,"threads":0,"replaygain":false,"name":null,"safe_names":"posix","keep_tree":false,"on_exists":"skip","delete_source":false,"rate":48000,"bits":24,"float":false,"channels":1,"gain_db":-3.5,"apply_replaygain":"album","split":true,"gaps":"append"}"#;
        assert_eq!(serde_json::to_string(&c).unwrap(), before);
        assert_eq!(serde_json::from_str::<ConvertSpec>(before).unwrap(), c);

        c.dsp.bits = None;
        c.dsp.float = true;
        c.dsp.apply_replaygain = Some(ApplyGain::Track);
        let before = r#"{"inputs":["in/a.flac"],"format":"wav","output_dir":null,"encoder":{"level":null,"quality":null,"bitrate":null,"abr":false,"threads":null},"overwrite":false,"verify":true,"threads":0,"replaygain":false,"name":null,"safe_names":"posix","keep_tree":false,"on_exists":"skip","delete_source":false,"rate":48000,"bits":null,"float":true,"channels":1,"gain_db":-3.5,"apply_replaygain":"track","split":true,"gaps":"append"}"#;
        assert_eq!(serde_json::to_string(&c).unwrap(), before);
        assert_eq!(serde_json::from_str::<ConvertSpec>(before).unwrap(), c);

        let mut s = crate::SyncSpec::new("lib".into(), "mirror".into(), Format::Flac);
        let before = r#"{"source":"lib","mirror":"mirror","format":"flac","encoder":{"level":null,"quality":null,"bitrate":null,"abr":false,"threads":null},"lossy":"copy","link":false,"delete":false,"dry_run":false,"art_max":null,"replaygain":false,"name":null,"safe_names":"posix","verify":true,"threads":0,"rate":null,"bits":null,"float":false,"channels":null,"gain_db":null,"apply_replaygain":null}"#;
        assert_eq!(serde_json::to_string(&s).unwrap(), before);
        assert_eq!(serde_json::from_str::<crate::SyncSpec>(before).unwrap(), s);
        s.dsp = DspOptions {
            rate: Some(44100),
            bits: Some(16),
            float: false,
            channels: Some(2),
            gain_db: Some(2.25),
            apply_replaygain: Some(ApplyGain::Track),
        };
        let before = r#"{"source":"lib","mirror":"mirror","format":"flac","encoder":{"level":null,"quality":null,"bitrate":null,"abr":false,"threads":null},"lossy":"copy","link":false,"delete":false,"dry_run":false,"art_max":null,"replaygain":false,"name":null,"safe_names":"posix","verify":true,"threads":0,"rate":44100,"bits":16,"float":false,"channels":2,"gain_db":2.25,"apply_replaygain":"track"}"#;
        assert_eq!(serde_json::to_string(&s).unwrap(), before);
        assert_eq!(serde_json::from_str::<crate::SyncSpec>(before).unwrap(), s);

        // As the daemon stores and receives them: inside a job spec tagged
        // by "kind", with keys left out taking their defaults.
        let job: crate::JobSpec = serde_json::from_str(
            r#"{"kind":"sync","source":"lib","mirror":"mirror","format":"flac","rate":44100,"bits":16,"channels":2,"gain_db":2.25,"apply_replaygain":"track"}"#,
        )
        .unwrap();
        assert_eq!(job, crate::JobSpec::Sync(s.clone()));
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(v["rate"], 44100);
        assert_eq!(v["apply_replaygain"], "track");
        assert!(v.get("dsp").is_none());
        let job: crate::JobSpec = serde_json::from_str(
            r#"{"kind":"convert","inputs":["x.wav"],"format":"wav","float":true,"gain_db":-1}"#,
        )
        .unwrap();
        let crate::JobSpec::Convert(c) = job else {
            panic!("not a convert job: {job:?}")
        };
        assert_eq!(
            c.dsp,
            DspOptions {
                float: true,
                gain_db: Some(-1.0),
                ..DspOptions::default()
            }
        );
        // A wrong type in a flat key is still refused.
        assert!(serde_json::from_str::<ConvertSpec>(
            r#"{"inputs":["x.wav"],"format":"wav","rate":"fast"}"#
        )
        .is_err());
    }

    #[test]
    fn dsp_options_check_against_the_format() {
        let none = DspOptions::default();
        assert!(!none.changes_samples());
        for f in [Format::Wav, Format::Flac, Format::Mp3, Format::Opus] {
            assert_eq!(none.check(f), Ok(()));
        }
        let bits = DspOptions {
            bits: Some(16),
            ..DspOptions::default()
        };
        assert!(bits.changes_samples());
        assert_eq!(bits.check(Format::Flac), Ok(()));
        assert!(bits.check(Format::Mp3).unwrap_err().contains("not mp3"));
        let float = DspOptions {
            float: true,
            ..DspOptions::default()
        };
        assert_eq!(float.check(Format::Wav), Ok(()));
        assert!(float.check(Format::Flac).unwrap_err().contains("WAV only"));
        let both = DspOptions {
            float: true,
            bits: Some(24),
            ..DspOptions::default()
        };
        assert!(both.check(Format::Wav).unwrap_err().contains("not both"));
        let rate = DspOptions {
            rate: Some(44100),
            ..DspOptions::default()
        };
        assert_eq!(rate.check(Format::Mp3), Ok(()));
        assert!(rate
            .check(Format::Opus)
            .unwrap_err()
            .contains("Opus encodes at"));
        let gain = DspOptions {
            gain_db: Some(f64::NAN),
            ..DspOptions::default()
        };
        assert!(gain.check(Format::Wav).unwrap_err().contains("--gain"));

        // The depth asked for applies to lossless formats only.
        let i16 = SampleFormat::Int { bits: 16 };
        assert_eq!(both.output_format(Format::Wav, i16), SampleFormat::Float);
        assert_eq!(
            bits.output_format(Format::Flac, SampleFormat::Int { bits: 24 }),
            i16
        );
        assert_eq!(
            bits.output_format(Format::Opus, SampleFormat::Float),
            SampleFormat::Float
        );
        assert_eq!(none.output_format(Format::Flac, i16), i16);
    }
}
