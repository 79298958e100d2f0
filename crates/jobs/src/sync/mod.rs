//! The sync job: a converted mirror of a music library, kept up to date.
//!
//! `aj sync SRC DST -f FORMAT` walks the library `SRC` and makes `DST` hold
//! each of its audio files in `FORMAT`, with the same folders (or the folders
//! a `--name` template gives), and the cover images found beside the music.
//! Run again, it does only what changed:
//!
//! | source | mirror file | what happens |
//! |---|---|---|
//! | new | – | converted (copied, linked; see below) |
//! | same size and time as last sync | as written | nothing: no file is opened |
//! | size or time differ, audio digest differs | | converted again |
//! | only the tags differ | | the mirror's tags are rewritten, the audio bytes copied as they are |
//! | touched, content the same | | nothing (the new time is recorded) |
//! | | missing, or changed since written | converted again (with a note) |
//! | gone | | kept; removed with `delete` (state rows too, and emptied folders) |
//!
//! The audio digest of a FLAC file is its STREAMINFO MD5; of other files, a
//! SHA-256 of the decoded samples; the tag digest covers every item and
//! picture ([`digest`]). A mirror file is "as written" when its size and
//! time are those recorded, or else when its SHA-256 is — so a mirror copied
//! to another disk (new times) is recognised without converting anything.
//!
//! Which sources are converted: lossless sources in another format are;
//! sources already in the target format are copied (or hard-linked with
//! `link`) unless DSP options change their samples; lossy sources follow
//! [`LossyPolicy`] (default: copied as they are, never transcoded
//! lossy→lossy). Cover images (`folder.*`, `cover.*`, `front.*`,
//! `album.*` in JPEG, PNG, GIF, WebP or BMP, any case) beside music are
//! copied into the mirror folder of that music. `art_max` scales embedded
//! JPEG/PNG art of converted files down to fit N×N px; cover files and
//! verbatim copies are left as they are (a copy is the source's bytes).
//!
//! Conversions go through the converter's own pipeline
//! ([`crate::convert::run_item_with_album`]): a mirror file holds the bytes
//! `aj convert` gives for the same source and options (apart from scaled
//! art).
//!
//! Images with a cue sheet (`split`, default on; see [`crate::cuesplit`])
//! are mirrored as one file per track, named and tagged as `aj convert`
//! splits them; the image and the `.cue` are not mirrored themselves. The
//! sheet and its images are one unit: its tracks are rows keyed by the sheet
//! (or the image whose own sheet it is) and track number, recording the
//! sheet's size and time and the images' ([`state::Row::parts`]). A unit
//! whose files and mirror tracks are as recorded is not opened; otherwise
//! each track's audio digest (its stretch of the images' audio digests) and
//! tag digest (from the sheet) decide between keeping, retagging (and
//! renaming) and converting; a track no longer in the sheet is gone.
//!
//! State: `DST/.aj-sync.sqlite` ([`state`]), one row per mirrored source,
//! committed as each item ends — an interrupted sync resumes where it stopped,
//! and another machine reaching `DST` (with `SRC` anywhere) continues it.
//! Files in `DST` that the state does not name are never touched.
//!
//! ReplayGain (`replaygain`): track gain is measured while converting; album
//! gain is written when all the music of a mirror folder is converted in one
//! run (the first sync, or after a settings change). A file converted again
//! on its own gets its track gain only.

pub mod art;
pub mod digest;
pub mod state;

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::UNIX_EPOCH;

use aj_codec::encode::EncoderOptions;
use aj_codec::output::PendingOutput;
use aj_codec::tags::{self, TagKey, ENCODING_KEYS};
use aj_codec::{decode, Format};
use aj_core::CancelToken;

use crate::convert::{self, ConvertSpec, DspOptions, Item, ItemOutcome, OnExists, Planned};
use crate::cuesplit::{self, CueTrackItem};
use crate::engine::{Event, Summary};
use crate::naming::{NameContext, SafeNames, Template};
use crate::replaygain::{self, AlbumGains};
use crate::rip::Gaps;
use state::{Kind, Row, RowKey, State};

pub use state::STATE_FILE;

/// Keep `DST` a converted mirror of `SRC`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SyncSpec {
    /// The library.
    pub source: PathBuf,
    /// The mirror (created when missing).
    pub mirror: PathBuf,
    pub format: Format,
    #[serde(default)]
    pub encoder: EncoderOptions,
    /// Sources that are already lossy.
    #[serde(default)]
    pub lossy: LossyPolicy,
    /// Hard-link instead of copying files that are not converted (copying
    /// when the mirror is on another file system).
    #[serde(default)]
    pub link: bool,
    /// Remove mirror files whose source is gone.
    #[serde(default)]
    pub delete: bool,
    /// Say what would be done; change nothing (not even the state).
    #[serde(default)]
    pub dry_run: bool,
    /// Scale embedded art of converted files down to fit N×N px.
    #[serde(default)]
    pub art_max: Option<u32>,
    /// Write ReplayGain 2.0 tags, as `aj convert --replaygain`.
    #[serde(default)]
    pub replaygain: bool,
    /// Name mirror files from their tags (see [`crate::naming`]).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub safe_names: SafeNames,
    /// Decode lossless outputs again and compare (default on).
    #[serde(default = "yes")]
    pub verify: bool,
    /// Files worked on at once; 0 = one per core.
    #[serde(default)]
    pub threads: usize,
    /// Rate, depth, channels and gain of converted files, as `aj convert`
    /// takes them; flat in the JSON.
    #[serde(flatten)]
    pub dsp: DspOptions,
    /// Split images that have a cue sheet into one mirror file per track,
    /// as `aj convert` does (default on). Off: such images are mirrored
    /// whole and their sheets ignored. Left out of the JSON when on, so a
    /// job stored before this option existed reads the same.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub split: bool,
    /// Where a split image's gaps (INDEX 00 to INDEX 01) go. Left out of
    /// the JSON when `append` (the default).
    #[serde(default, skip_serializing_if = "is_append")]
    pub gaps: Gaps,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_append(g: &Gaps) -> bool {
    *g == Gaps::Append
}

/// What becomes of a source that is already lossy (MP3, Vorbis, Opus, AAC…).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LossyPolicy {
    /// Copied as it is (never lossy→lossy).
    #[default]
    Copy,
    /// Converted like any other source.
    Convert,
    /// Left out of the mirror.
    Skip,
}

impl std::str::FromStr for LossyPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "copy" => Ok(LossyPolicy::Copy),
            "convert" => Ok(LossyPolicy::Convert),
            "skip" => Ok(LossyPolicy::Skip),
            other => Err(format!(
                "unknown --lossy '{other}' (expected copy, convert or skip)"
            )),
        }
    }
}

/// What a sync did (or, in a dry run, would do), in [`Summary::sync`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncTotals {
    pub converted: usize,
    /// Mirror files whose tags alone were rewritten.
    pub retagged: usize,
    /// Copied as they are (already lossy, already in the format, covers).
    pub copied: usize,
    pub linked: usize,
    /// Mirror files renamed (a new name from the template).
    pub moved: usize,
    /// Mirror files removed because their source is gone.
    pub deleted: usize,
    pub unchanged: usize,
    /// Lossy sources left out (`--lossy skip`).
    pub left_out: usize,
    /// Mirror files whose source is gone, kept (no `--delete`).
    pub kept: usize,
    /// Files in the mirror that sync did not make (counted with `--delete`),
    /// left alone.
    pub foreign: usize,
    pub dry_run: bool,
}

impl SyncSpec {
    /// A spec with the defaults of `aj sync`.
    pub fn new(source: PathBuf, mirror: PathBuf, format: Format) -> Self {
        SyncSpec {
            source,
            mirror,
            format,
            encoder: EncoderOptions::default(),
            lossy: LossyPolicy::default(),
            link: false,
            delete: false,
            dry_run: false,
            art_max: None,
            replaygain: false,
            name: None,
            safe_names: SafeNames::default(),
            verify: true,
            threads: 0,
            dsp: DspOptions::default(),
            split: true,
            gaps: Gaps::Append,
        }
    }

    /// The convert spec each conversion runs with (inputs and outputs are
    /// given per item).
    pub fn convert_spec(&self) -> ConvertSpec {
        let mut c = ConvertSpec::new(Vec::new(), self.format);
        c.encoder = self.encoder.clone();
        c.verify = self.verify;
        c.threads = self.threads;
        c.replaygain = self.replaygain;
        c.on_exists = OnExists::Overwrite;
        c.overwrite = true;
        c.dsp = self.dsp.clone();
        c.split = self.split;
        c.gaps = self.gaps;
        c
    }

    /// Worker threads to use.
    pub fn threads(&self) -> usize {
        self.convert_spec().threads()
    }

    /// Checks the options against each other.
    ///
    /// # Errors
    /// A message naming the option and the problem.
    pub fn check(&self) -> Result<(), String> {
        self.dsp.check(self.format)?;
        if let Some(n) = &self.name {
            Template::parse(n).map_err(|e| e.to_string())?;
        }
        if self.art_max == Some(0) {
            return Err("--art-max must be at least 1 px".into());
        }
        Ok(())
    }

    /// What decides how a converted file's bytes come out.
    fn conversion_fingerprint(&self) -> String {
        let mut enc = self.encoder.clone();
        enc.threads = None;
        let v = serde_json::json!({
            "format": self.format,
            "encoder": enc,
            "replaygain": self.replaygain,
            "art_max": self.art_max,
            "rate": self.dsp.rate,
            "bits": self.dsp.bits,
            "float": self.dsp.float,
            "channels": self.dsp.channels,
            "gain_db": self.dsp.gain_db,
            "apply_replaygain": self.dsp.apply_replaygain,
        });
        v.to_string()
    }

    /// Everything that decides what a source becomes and where.
    ///
    /// `split` and `gaps` are in it only when not the defaults: a mirror
    /// synced before they existed keeps its plan.
    fn plan_settings(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "conversion": self.conversion_fingerprint(),
            "lossy": self.lossy,
            "link": self.link,
            "name": self.name,
            "safe_names": self.safe_names,
        });
        if let Some(o) = v.as_object_mut() {
            if !self.split {
                o.insert("split".into(), serde_json::Value::Bool(false));
            }
            if self.gaps != Gaps::Append {
                o.insert("gaps".into(), serde_json::json!(self.gaps));
            }
        }
        v
    }
}

/// Runs a sync (or, with `dry_run`, says what it would do). The last event
/// is the summary, whose `sync` field has the counts.
pub fn run(spec: &SyncSpec, cancel: &CancelToken, on_event: &(dyn Fn(Event) + Sync)) -> Summary {
    let mut summary = Summary {
        sync: Some(SyncTotals {
            dry_run: spec.dry_run,
            ..SyncTotals::default()
        }),
        ..Summary::default()
    };
    match Job::prepare(spec, cancel, on_event) {
        Ok(sync) => sync.run(&mut summary),
        Err(message) => {
            on_event(Event::FileFailed {
                index: 0,
                input: spec.source.clone(),
                error: message,
            });
            on_event(Event::JobStarted {
                files: 0,
                threads: 0,
            });
            summary.failed = 1;
        }
    }
    summary.cancelled = cancel.is_cancelled();
    on_event(Event::Summary(summary));
    summary
}

/// A file found in the library, or one track of a split image.
#[derive(Debug, Clone)]
struct Found {
    /// Relative, `/`-separated (for a track: of its sheet, or of the image
    /// whose own sheet it is).
    rel: String,
    /// The file; for a track, a name for events (`album.cue#03`).
    path: PathBuf,
    size: u64,
    mtime_ns: i64,
    /// The track of a split image.
    track: Option<u8>,
    /// A track of an image split by a `.cue`: the images' identity
    /// ([`Row::parts`]).
    parts: String,
}

impl Found {
    fn file(rel: String, path: PathBuf, size: u64, mtime_ns: i64) -> Found {
        Found {
            rel,
            path,
            size,
            mtime_ns,
            track: None,
            parts: String::new(),
        }
    }

    /// Track `number` of the unit whose sheet (or embedded-sheet image) is
    /// `self`.
    fn track(&self, number: u8, parts: &str) -> Found {
        Found {
            path: track_label(&self.path, number),
            track: Some(number),
            parts: parts.to_string(),
            ..self.clone()
        }
    }
}

/// How events name track `number` of the unit at `path`: `album.cue#03`.
fn track_label(path: &Path, number: u8) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!("#{number:02}"));
    path.with_file_name(name)
}

/// An image and its cue sheet, split: what its tracks share.
struct Unit {
    /// The files the sheet names, in its order.
    images: Vec<PathBuf>,
    /// Their audio digests, computed once, when a track needs them.
    audio: OnceLock<Result<Vec<String>, String>>,
}

/// A track of a split image.
struct SplitTrack {
    unit: Arc<Unit>,
    track: CueTrackItem,
}

/// One item of the job.
enum Work {
    /// Nothing changed since the last sync (no file opened).
    Unchanged {
        found: Found,
        row: Row,
    },
    /// A music file to look at.
    Music {
        found: Found,
        row: Option<Row>,
        /// None: left out (lossy, `--lossy skip`).
        kind: Option<Kind>,
        output: String,
        /// The output is in a folder whose music is all converted now.
        album: bool,
        /// A track of a split image (converted).
        split: Option<Box<SplitTrack>>,
    },
    Cover {
        found: Found,
        row: Option<Row>,
        output: String,
    },
    /// A source that is gone (or now left out, or a track no longer in
    /// its sheet) with its mirror file.
    Gone {
        row: Row,
        why: &'static str,
    },
    Fail {
        input: PathBuf,
        error: String,
    },
}

/// What one item did, for the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Did {
    Converted,
    Retagged,
    Copied,
    Linked,
    Moved,
    Deleted,
    Unchanged,
    LeftOut,
    Kept,
    Skipped,
    Failed,
}

struct Job<'a> {
    spec: &'a SyncSpec,
    cancel: &'a CancelToken,
    on_event: &'a (dyn Fn(Event) + Sync),
    state: Mutex<State>,
    mirror: PathBuf,
    source: PathBuf,
    work: Vec<Work>,
    conversion: String,
    plan: String,
    convert: ConvertSpec,
    albums: AlbumGains,
    created_dirs: Mutex<Vec<PathBuf>>,
    /// Converted files of album folders whose rows wait for the album pass.
    album_done: Mutex<Vec<(Found, Row)>>,
    link_note: std::sync::Once,
    foreign: usize,
}

impl<'a> Job<'a> {
    fn prepare(
        spec: &'a SyncSpec,
        cancel: &'a CancelToken,
        on_event: &'a (dyn Fn(Event) + Sync),
    ) -> Result<Job<'a>, String> {
        spec.check()?;
        if !spec.source.is_dir() {
            return Err(format!(
                "the library {} is not a folder",
                spec.source.display()
            ));
        }
        let source = spec
            .source
            .canonicalize()
            .map_err(|e| format!("cannot read {}: {e}", spec.source.display()))?;
        if spec.mirror.exists() && !spec.mirror.is_dir() {
            return Err(format!(
                "the mirror {} is not a folder",
                spec.mirror.display()
            ));
        }
        if !spec.dry_run {
            std::fs::create_dir_all(&spec.mirror)
                .map_err(|e| format!("cannot create the mirror {}: {e}", spec.mirror.display()))?;
        }
        let mirror = spec
            .mirror
            .canonicalize()
            .unwrap_or_else(|_| std::path::absolute(&spec.mirror).unwrap_or(spec.mirror.clone()));
        if mirror == source {
            return Err("the mirror cannot be the library itself".into());
        }
        if source.starts_with(&mirror) {
            return Err(format!(
                "the library {} is inside the mirror {}",
                source.display(),
                mirror.display()
            ));
        }
        let state = State::open(&mirror, !spec.dry_run).map_err(|e| e.to_string())?;
        let plan_settings = spec.plan_settings();
        let plan = digest::text(&plan_settings.to_string());
        let conversion = digest::text(&spec.conversion_fingerprint());
        let rows = state.rows().map_err(|e| e.to_string())?;
        if let Some(old) = state.meta("settings").map_err(|e| e.to_string())? {
            if !rows.is_empty() && digest::text(&old) != plan {
                on_event(Event::Warning {
                    message: format!(
                        "the settings differ from the last sync of this mirror ({}): every file is looked at again{}",
                        describe_change(&old, &plan_settings),
                        if state.meta("conversion").ok().flatten().as_deref() != Some(&conversion) {
                            ", and converted files are converted again"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
        let template = spec
            .name
            .as_deref()
            .map(Template::parse)
            .transpose()
            .map_err(|e| e.to_string())?;

        let mut walker = Walker {
            skip: mirror.clone(),
            seen: HashSet::new(),
            music: Vec::new(),
            covers: Vec::new(),
            cues: Vec::new(),
            errors: Vec::new(),
            cancel,
        };
        walker
            .walk(&source, "")
            .map_err(|e| format!("cannot read the library {}: {e}", source.display()))?;

        let mut p = Planner {
            spec,
            template: template.as_ref(),
            mirror: &mirror,
            source: &source,
            plan: &plan,
            rows,
            work: Vec::new(),
            folder_of: HashMap::new(),
            claimed: HashMap::new(),
            keep: HashSet::new(),
        };
        for (input, error) in walker.errors {
            p.work.push(Work::Fail { input, error });
        }
        // Images split by a sheet are mirrored as tracks, not whole.
        let music = if spec.split {
            p.split_units(walker.music, &walker.cues)
        } else {
            walker.music
        };
        for found in music {
            p.music(found);
        }
        for found in walker.covers {
            p.cover(found);
        }
        let Planner {
            rows,
            mut work,
            claimed,
            keep,
            ..
        } = p;
        // What is left has no source any more (or is no track of its sheet
        // any more).
        let mut gone: Vec<Row> = rows
            .into_values()
            .filter(|r| !keep.contains(&r.source))
            .collect();
        gone.sort_by(|a, b| (&a.source, a.track).cmp(&(&b.source, b.track)));
        work.extend(gone.into_iter().map(|row| Work::Gone {
            why: match row.track {
                Some(_) if !spec.split => "its image is mirrored whole now (--no-split)",
                Some(_) if source.join(&row.source).is_file() => {
                    "the track is no longer in its cue sheet"
                }
                _ => "its source is gone",
            },
            row,
        }));

        // Album gain: folders whose music is all converted in this run.
        let convert = spec.convert_spec();
        let albums = if spec.replaygain && !spec.dry_run {
            let mut folders: HashMap<String, bool> = HashMap::new();
            for w in &work {
                match w {
                    Work::Music {
                        kind: Some(Kind::Convert),
                        row,
                        output,
                        ..
                    } => {
                        let certain = row
                            .as_ref()
                            .is_none_or(|r| r.kind != Kind::Convert || r.settings != conversion);
                        let e = folders.entry(parent_rel(output)).or_insert(true);
                        *e &= certain;
                    }
                    Work::Music { output, .. } => {
                        folders.insert(parent_rel(output), false);
                    }
                    Work::Unchanged { row, .. } => {
                        folders.insert(parent_rel(&row.output), false);
                    }
                    _ => {}
                }
            }
            let mut outputs = Vec::new();
            for w in &mut work {
                if let Work::Music {
                    kind: Some(Kind::Convert),
                    output,
                    album,
                    ..
                } = w
                {
                    if folders.get(&parent_rel(output)) == Some(&true) {
                        *album = true;
                        outputs.push(mirror.join(&*output));
                    }
                }
            }
            AlbumGains::new(spec.format, outputs.iter().map(PathBuf::as_path))
        } else {
            AlbumGains::disabled()
        };
        let foreign = if spec.delete {
            count_foreign(&mirror, &claimed, &work)
        } else {
            0
        };
        Ok(Job {
            spec,
            cancel,
            on_event,
            state: Mutex::new(state),
            mirror,
            source,
            work,
            conversion,
            plan,
            convert,
            albums,
            created_dirs: Mutex::new(Vec::new()),
            album_done: Mutex::new(Vec::new()),
            link_note: std::sync::Once::new(),
            foreign,
        })
    }

    fn run(self, summary: &mut Summary) {
        let threads = self.spec.threads().min(self.work.len()).max(1);
        (self.on_event)(Event::JobStarted {
            files: self.work.len(),
            threads,
        });
        // `-j N` bounds the whole job's threads, as in a convert job: a
        // slot per worker, the free ones lent to the encoders running.
        let budget = aj_core::ThreadBudget::new(self.spec.threads());
        let (convert, worker_slots) = crate::engine::with_budget(&self.convert, &budget, threads);
        let this = Job { convert, ..self };
        let counts = Mutex::new(Vec::new());
        // Deletions first (one thread): a new source may take a freed name.
        let (gone, rest): (Vec<usize>, Vec<usize>) = (0..this.work.len())
            .partition(|&i| matches!(this.work.get(i), Some(Work::Gone { .. })));
        for i in gone {
            let did = this.item(i);
            counts.lock().unwrap_or_else(|p| p.into_inner()).push(did);
        }
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let (next, rest, this, counts) = (&next, &rest, &this, &counts);
            for slot in worker_slots {
                // Back to the budget when the worker runs out of files.
                scope.spawn(move || {
                    let _slot = slot;
                    loop {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&i) = rest.get(n) else { break };
                        let did = this.item(i);
                        counts.lock().unwrap_or_else(|p| p.into_inner()).push(did);
                    }
                });
            }
        });
        this.album_pass();
        convert::remove_empty_dirs(
            this.created_dirs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(..)
                .collect(),
        );
        let mut t = SyncTotals {
            dry_run: this.spec.dry_run,
            foreign: this.foreign,
            ..SyncTotals::default()
        };
        for did in counts.into_inner().unwrap_or_else(|p| p.into_inner()) {
            match did {
                Did::Converted => t.converted += 1,
                Did::Retagged => t.retagged += 1,
                Did::Copied => t.copied += 1,
                Did::Linked => t.linked += 1,
                Did::Moved => t.moved += 1,
                Did::Deleted => t.deleted += 1,
                Did::Unchanged => t.unchanged += 1,
                Did::LeftOut => t.left_out += 1,
                Did::Kept => t.kept += 1,
                Did::Skipped => summary.skipped += 1,
                Did::Failed => summary.failed += 1,
            }
            match did {
                Did::Converted
                | Did::Retagged
                | Did::Copied
                | Did::Linked
                | Did::Moved
                | Did::Deleted => summary.ok += 1,
                Did::Unchanged | Did::LeftOut | Did::Kept => summary.skipped += 1,
                Did::Skipped | Did::Failed => {}
            }
        }
        if t.kept > 0 {
            (this.on_event)(Event::Warning {
                message: format!(
                    "{} mirror file{} whose source is gone {} kept (--delete removes them)",
                    t.kept,
                    if t.kept == 1 { "" } else { "s" },
                    if t.kept == 1 { "was" } else { "were" }
                ),
            });
        }
        if t.foreign > 0 {
            (this.on_event)(Event::Warning {
                message: format!(
                    "{} file{} in the mirror not made by sync {} left alone",
                    t.foreign,
                    if t.foreign == 1 { "" } else { "s" },
                    if t.foreign == 1 { "was" } else { "were" }
                ),
            });
        }
        if !this.spec.dry_run && !this.cancel.is_cancelled() {
            let state = this.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = now_secs().to_string();
            for (k, v) in [
                ("settings", this.spec.plan_settings().to_string()),
                ("conversion", this.conversion.clone()),
                ("last_sync", now),
                ("last_source", this.source.to_string_lossy().into_owned()),
            ] {
                if let Err(e) = state.set_meta(k, &v) {
                    (this.on_event)(Event::Warning {
                        message: e.to_string(),
                    });
                }
            }
        }
        summary.sync = Some(t);
    }

    /// Runs item `i` and reports its events.
    fn item(&self, i: usize) -> Did {
        let Some(w) = self.work.get(i) else {
            return Did::Skipped;
        };
        let input = match w {
            Work::Unchanged { found, .. }
            | Work::Music { found, .. }
            | Work::Cover { found, .. } => found.path.clone(),
            Work::Gone { row, .. } => {
                let p = self.source.join(&row.source);
                match row.track {
                    Some(t) => track_label(&p, t),
                    None => p,
                }
            }
            Work::Fail { input, .. } => input.clone(),
        };
        if self.cancel.is_cancelled() {
            if let Work::Music {
                album: true,
                output,
                ..
            } = w
            {
                self.albums
                    .item_ended(i, &input, &self.mirror.join(output), None);
            }
            self.skipped(i, &input, None, "cancelled");
            return Did::Skipped;
        }
        let r = match w {
            Work::Fail { error, .. } => Err(error.clone()),
            Work::Unchanged { found, row } => {
                self.skipped(i, &found.path, Some(&row.output), "unchanged");
                Ok(Did::Unchanged)
            }
            Work::Gone { row, why } => self.gone(i, &input, row, why),
            Work::Cover { found, row, output } => {
                self.copyish(i, found, row.as_ref(), output, Kind::Cover)
            }
            Work::Music {
                found,
                row,
                kind,
                output,
                album,
                split,
            } => match kind {
                None => {
                    self.skipped(
                        i,
                        &found.path,
                        None,
                        "already lossy, left out (--lossy skip)",
                    );
                    Ok(Did::LeftOut)
                }
                Some(Kind::Convert) => {
                    self.music(i, found, row.as_ref(), output, *album, split.as_deref())
                }
                Some(k) => self.copyish(i, found, row.as_ref(), output, *k),
            },
        };
        match r {
            Ok(d) => d,
            Err(error) => {
                if let Work::Music {
                    album: true,
                    output,
                    ..
                } = w
                {
                    self.albums
                        .item_ended(i, &input, &self.mirror.join(output), None);
                }
                (self.on_event)(Event::FileFailed {
                    index: i,
                    input,
                    error,
                });
                Did::Failed
            }
        }
    }

    fn skipped(&self, index: usize, input: &Path, output: Option<&str>, reason: &str) {
        (self.on_event)(Event::FileSkipped {
            index,
            input: input.to_path_buf(),
            output: output.map(|o| self.mirror.join(o)),
            reason: reason.to_string(),
        });
    }

    fn stage(&self, index: usize, input: &Path, stage: &str) {
        (self.on_event)(Event::Stage {
            index,
            input: input.to_path_buf(),
            stage: stage.to_string(),
        });
    }

    fn done(&self, index: usize, input: &Path, output: &Path, frames: u64, verified: bool) {
        (self.on_event)(Event::FileDone {
            index,
            input: input.to_path_buf(),
            output: output.to_path_buf(),
            frames,
            verified,
            deleted_source: None,
        });
    }

    /// In a dry run: says what would be done, and does nothing.
    fn would(&self, index: usize, input: &Path, output: &str, what: &str, why: &str) {
        self.skipped(
            index,
            input,
            Some(output),
            &format!("dry run: would {what} ({why})"),
        );
    }

    fn put(&self, row: &Row) -> Result<(), String> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(row)
            .map_err(|e| e.to_string())
    }

    /// A source that is gone (or now left out, or a track no longer in its
    /// sheet; `why` says which): its mirror file removed with `delete` when
    /// it is still as written; else kept.
    fn gone(&self, i: usize, input: &Path, row: &Row, why: &str) -> Result<Did, String> {
        let out = self.mirror.join(&row.output);
        if !self.spec.delete {
            self.skipped(
                i,
                input,
                Some(&row.output),
                &format!("{why}; mirror file kept (--delete removes it)"),
            );
            return Ok(Did::Kept);
        }
        if self.spec.dry_run {
            self.would(i, input, &row.output, "delete the mirror file", why);
            return Ok(Did::Deleted);
        }
        self.stage(i, input, "delete");
        match intact(&out, row) {
            Intact::Missing => {}
            Intact::Yes => {
                std::fs::remove_file(&out)
                    .map_err(|e| format!("cannot remove {}: {e}", out.display()))?;
                remove_empty_parents(&out, &self.mirror);
            }
            Intact::Changed => {
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&row.source, row.track)
                    .map_err(|e| e.to_string())?;
                self.skipped(
                    i,
                    input,
                    Some(&row.output),
                    &format!("{why}, but its mirror file was changed since the last sync: kept, and forgotten by the sync"),
                );
                return Ok(Did::Kept);
            }
        }
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&row.source, row.track)
            .map_err(|e| e.to_string())?;
        self.done(i, input, &out, 0, false);
        Ok(Did::Deleted)
    }

    /// A file that is copied or linked, not converted.
    fn copyish(
        &self,
        i: usize,
        found: &Found,
        row: Option<&Row>,
        output: &str,
        kind: Kind,
    ) -> Result<Did, String> {
        let out = self.mirror.join(output);
        let verb = match kind {
            Kind::Link => "link",
            _ => "copy",
        };
        let why = match row {
            None => "new".to_string(),
            Some(r) if r.settings == PENDING => INTERRUPTED.into(),
            Some(r) if r.kind != kind => format!("was {} before", past(r.kind)),
            Some(r) => match intact(&self.mirror.join(&r.output), r) {
                Intact::Missing => "the mirror file is missing".into(),
                Intact::Changed => "the mirror file was changed since the last sync".into(),
                Intact::Yes => {
                    let same = (r.source_size, r.source_mtime_ns) == (found.size, found.mtime_ns)
                        || digest::file(&found.path).ok().as_deref() == Some(&r.output_sha256);
                    if same {
                        return self.keep(i, found, r, output, kind);
                    }
                    "the source changed".into()
                }
            },
        };
        if self.spec.dry_run {
            self.would(i, &found.path, output, verb, &why);
            return Ok(if kind == Kind::Link {
                Did::Linked
            } else {
                Did::Copied
            });
        }
        self.check_free(&out, output, row)?;
        if why.contains("changed since") {
            self.note_hand_edit(&out);
        }
        self.reserve(found, kind, output)?;
        self.stage(i, &found.path, verb);
        self.make_dirs(&out)?;
        let linked = if kind == Kind::Link {
            match hard_link(&found.path, &out) {
                Ok(()) => true,
                Err(e) => {
                    self.link_note.call_once(|| {
                        (self.on_event)(Event::Warning {
                            message: format!(
                                "cannot hard-link into the mirror ({e}); copying instead"
                            ),
                        })
                    });
                    false
                }
            }
        } else {
            false
        };
        if !linked {
            copy_file(&found.path, &out)?;
        }
        let kind = if kind == Kind::Link && !linked {
            Kind::Copy
        } else {
            kind
        };
        let row_new = self.row(found, kind, None, None, output, &out, "")?;
        self.put(&row_new)?;
        self.forget_old_output(row, output);
        self.done(i, &found.path, &out, 0, false);
        Ok(if linked { Did::Linked } else { Did::Copied })
    }

    /// The source did not change; the mirror file is as written. Records
    /// new times or settings, and moves the file when its name changed.
    fn keep(
        &self,
        i: usize,
        found: &Found,
        r: &Row,
        output: &str,
        kind: Kind,
    ) -> Result<Did, String> {
        let old = self.mirror.join(&r.output);
        let out = self.mirror.join(output);
        if r.output != output {
            if self.spec.dry_run {
                self.would(i, &found.path, output, "move", &format!("was {}", r.output));
                return Ok(Did::Moved);
            }
            self.check_free(&out, output, Some(r))?;
            self.stage(i, &found.path, "move");
            self.make_dirs(&out)?;
            std::fs::rename(&old, &out)
                .map_err(|e| format!("cannot move {} to {}: {e}", old.display(), out.display()))?;
            remove_empty_parents(&old, &self.mirror);
        } else if self.spec.dry_run {
            self.skipped(i, &found.path, Some(output), "unchanged");
            return Ok(Did::Unchanged);
        }
        let (osize, omtime) = stat(&out).ok_or_else(|| format!("{} is gone", out.display()))?;
        let same = r.output == output
            && r.kind == kind
            && r.plan == self.plan
            && (r.source_size, r.source_mtime_ns) == (found.size, found.mtime_ns)
            && r.parts == found.parts
            && (r.output_size, r.output_mtime_ns) == (osize, omtime);
        if same {
            self.skipped(i, &found.path, Some(output), "unchanged");
            return Ok(Did::Unchanged);
        }
        let row = Row {
            kind,
            source_size: found.size,
            source_mtime_ns: found.mtime_ns,
            parts: found.parts.clone(),
            output: output.to_string(),
            output_size: osize,
            output_mtime_ns: omtime,
            plan: self.plan.clone(),
            synced_at: now_secs(),
            ..r.clone()
        };
        self.put(&row)?;
        if r.output != output {
            self.done(i, &found.path, &out, 0, false);
            Ok(Did::Moved)
        } else {
            self.skipped(i, &found.path, Some(output), "unchanged");
            Ok(Did::Unchanged)
        }
    }

    /// A music file that is converted: decides between converting,
    /// rewriting tags and nothing, and does it.
    fn music(
        &self,
        i: usize,
        found: &Found,
        row: Option<&Row>,
        output: &str,
        album: bool,
        split: Option<&SplitTrack>,
    ) -> Result<Did, String> {
        let digests = |found: &Found| self.digests(found, split);
        if let Some(s) = split.filter(|s| s.track.number == 0) {
            // Hidden track one audio that is digital silence is not kept
            // (as `aj convert` and `aj rip`).
            if cuesplit::is_silent(&s.track, self.cancel)? {
                let why = "its hidden track one audio is digital silence";
                return match row {
                    Some(r) if r.settings != PENDING => self.gone(i, &found.path, r, why),
                    _ => {
                        if let Some(r) = row {
                            self.state
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(&r.source, r.track)
                                .map_err(|e| e.to_string())?;
                        }
                        self.skipped(
                            i,
                            &found.path,
                            None,
                            "hidden track one audio is digital silence: not kept",
                        );
                        Ok(Did::Skipped)
                    }
                };
            }
        }
        let mut computed = None;
        let why = match row {
            None => "new".to_string(),
            Some(r) if r.settings == PENDING => INTERRUPTED.into(),
            Some(r) if r.kind != Kind::Convert => format!("was {} before", past(r.kind)),
            Some(r) if r.settings.ends_with(ALBUM_PENDING) => {
                "its album gain was not written (an earlier sync stopped)".into()
            }
            Some(r) if r.settings != self.conversion => "the conversion settings changed".into(),
            Some(r) => match intact(&self.mirror.join(&r.output), r) {
                Intact::Missing => "the mirror file is missing".into(),
                Intact::Changed => "the mirror file was changed since the last sync".into(),
                Intact::Yes => {
                    if (r.source_size, r.source_mtime_ns) == (found.size, found.mtime_ns)
                        && r.parts == found.parts
                    {
                        return self.keep(i, found, r, output, Kind::Convert);
                    }
                    let (audio, tags_d) = digests(found)?;
                    let same_audio = r.audio_digest.as_deref() == Some(audio.as_str());
                    let same_tags = r.tags_digest.as_deref() == Some(tags_d.as_str());
                    computed = Some((audio, tags_d));
                    if same_audio && same_tags {
                        return self.keep(i, found, r, output, Kind::Convert);
                    }
                    if same_audio {
                        return self.retag(i, found, r, output, computed, split);
                    }
                    "the audio changed".into()
                }
            },
        };
        if self.spec.dry_run {
            self.would(i, &found.path, output, "convert", &why);
            return Ok(Did::Converted);
        }
        let out = self.mirror.join(output);
        self.check_free(&out, output, row)?;
        if why.contains("changed since") {
            self.note_hand_edit(&out);
        }
        // Digests of the source as it is before converting: a change while
        // converting shows at the next sync.
        let (audio, tags_d) = match computed {
            Some(c) => c,
            None => digests(found)?,
        };
        self.reserve(found, Kind::Convert, output)?;
        self.stage(i, &found.path, "convert");
        let item = Item {
            index: i,
            input: found.path.clone(),
            plan: Planned::Convert(out.clone()),
            track: split.map(|s| Box::new(s.track.clone())),
        };
        let held = Mutex::new(None);
        let forward = |e: Event| match e {
            Event::FileDone { .. } => *held.lock().unwrap_or_else(|p| p.into_inner()) = Some(e),
            other => (self.on_event)(other),
        };
        let outcome = convert::run_item_with_album(
            &self.convert,
            &item,
            self.cancel,
            &forward,
            &self.created_dirs,
            &self.albums,
        );
        match outcome {
            ItemOutcome::Done => {}
            // Its events were reported by the converter.
            ItemOutcome::Failed => return Ok(Did::Failed),
            ItemOutcome::Skipped => return Ok(Did::Skipped),
        }
        let mut settings = self.conversion.clone();
        if album {
            // Album values are written when the folder ends: until the album
            // pass records the final file, the row says it is incomplete.
            settings.push_str(ALBUM_PENDING);
        } else if let Some(max) = self.spec.art_max {
            self.scale_art(&out, max)?;
        }
        let row_new = self.row(
            found,
            Kind::Convert,
            Some(audio),
            Some(tags_d),
            output,
            &out,
            &settings,
        )?;
        self.put(&row_new)?;
        if album {
            self.album_done
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((found.clone(), row_new));
        }
        self.forget_old_output(row, output);
        if let Some(e) = held.into_inner().unwrap_or_else(|p| p.into_inner()) {
            (self.on_event)(e);
        }
        Ok(Did::Converted)
    }

    /// What the source's audio and tags are: of a file, or of a track of a
    /// split image (its stretch of the images' audio, its tags from the
    /// sheet).
    fn digests(
        &self,
        found: &Found,
        split: Option<&SplitTrack>,
    ) -> Result<(String, String), String> {
        let Some(s) = split else {
            let audio = digest::audio(&found.path, self.cancel)?;
            let t = tags::read(&found.path).map_err(|e| e.to_string())?;
            return Ok((audio, digest::tags(&t)));
        };
        let images = s
            .unit
            .audio
            .get_or_init(|| {
                s.unit
                    .images
                    .iter()
                    .map(|p| {
                        digest::audio(p, self.cancel).map_err(|e| format!("{}: {e}", p.display()))
                    })
                    .collect()
            })
            .clone()?;
        let mut text = String::new();
        for seg in &s.track.segments {
            let audio = s
                .unit
                .images
                .iter()
                .position(|p| *p == seg.path)
                .and_then(|i| images.get(i))
                .ok_or_else(|| format!("{} is not a file of its sheet", seg.path.display()))?;
            text.push_str(&format!("{audio} {}..{:?}\n", seg.start, seg.end));
        }
        Ok((
            format!("track-sha256:{}", digest::text(&text)),
            digest::tags(&s.track.tags),
        ))
    }

    /// Only the tags changed: rewrites the mirror file's tags from the
    /// source, keeping what the conversion put there (ReplayGain measured
    /// on the converted samples, the encoder's name).
    fn retag(
        &self,
        i: usize,
        found: &Found,
        r: &Row,
        output: &str,
        computed: Option<(String, String)>,
        split: Option<&SplitTrack>,
    ) -> Result<Did, String> {
        if self.spec.dry_run {
            self.would(
                i,
                &found.path,
                output,
                "rewrite the tags",
                "only the tags changed",
            );
            return Ok(Did::Retagged);
        }
        let old = self.mirror.join(&r.output);
        self.stage(i, &found.path, "retag");
        let source_tags = match split {
            Some(s) => s.track.tags.clone(),
            None => tags::read(&found.path).map_err(|e| e.to_string())?,
        };
        let keep_gain = self.spec.replaygain || self.spec.dsp.changes_samples();
        let format = self.spec.format;
        let art_max = self.spec.art_max;
        let mut problems = Vec::new();
        replaygain::retag(&old, format, |t| {
            let mut new = source_tags;
            new.drop_encoding_info();
            let gain_keys = gain_keys();
            if keep_gain {
                new.items.retain(|it| !gain_keys.contains(&it.key));
                new.items.extend(
                    t.items
                        .iter()
                        .filter(|it| gain_keys.contains(&it.key))
                        .cloned(),
                );
            }
            new.items.extend(
                t.items
                    .iter()
                    .filter(|it| ENCODING_KEYS.contains(&it.key.name()))
                    .cloned(),
            );
            if let Some(max) = art_max {
                problems = art::scale_pictures(&mut new, max);
            }
            *t = new;
        })
        .map_err(|e| format!("rewriting the tags of {}: {e}", old.display()))?;
        for p in problems {
            (self.on_event)(Event::Warning {
                message: format!("{}: {p}; left as it was", old.display()),
            });
        }
        let (audio, tags_d) = match computed {
            Some(c) => c,
            None => self.digests(found, split)?,
        };
        let mut out = old.clone();
        if r.output != output {
            let new = self.mirror.join(output);
            self.check_free(&new, output, Some(r))?;
            self.make_dirs(&new)?;
            std::fs::rename(&old, &new)
                .map_err(|e| format!("cannot move {} to {}: {e}", old.display(), new.display()))?;
            remove_empty_parents(&old, &self.mirror);
            out = new;
        }
        let row_new = self.row(
            found,
            Kind::Convert,
            Some(audio),
            Some(tags_d),
            output,
            &out,
            &r.settings,
        )?;
        self.put(&row_new)?;
        self.done(i, &found.path, &out, 0, false);
        Ok(Did::Retagged)
    }

    /// Scales the embedded art of a finished mirror file.
    fn scale_art(&self, out: &Path, max: u32) -> Result<(), String> {
        let t = tags::read(out).map_err(|e| e.to_string())?;
        if !art::needs_scaling(&t, max) {
            return Ok(());
        }
        let mut problems = Vec::new();
        replaygain::retag(out, self.spec.format, |t| {
            problems = art::scale_pictures(t, max);
        })
        .map_err(|e| format!("scaling the art of {}: {e}", out.display()))?;
        for p in problems {
            (self.on_event)(Event::Warning {
                message: format!("{}: {p}; left as it was", out.display()),
            });
        }
        Ok(())
    }

    /// After the workers: the files of album folders got their album
    /// values; their art is scaled and their rows record the final files.
    fn album_pass(&self) {
        let done = std::mem::take(&mut *self.album_done.lock().unwrap_or_else(|p| p.into_inner()));
        for (found, row) in done {
            let out = self.mirror.join(&row.output);
            if let Some(max) = self.spec.art_max {
                if let Err(e) = self.scale_art(&out, max) {
                    (self.on_event)(Event::Warning { message: e });
                    continue;
                }
            }
            let settings = self.conversion.clone();
            match self.row(
                &found,
                Kind::Convert,
                row.audio_digest.clone(),
                row.tags_digest.clone(),
                &row.output,
                &out,
                &settings,
            ) {
                Ok(r) => {
                    if let Err(e) = self.put(&r) {
                        (self.on_event)(Event::Warning { message: e });
                    }
                }
                Err(e) => (self.on_event)(Event::Warning { message: e }),
            }
        }
    }

    /// A row for a file just written.
    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        found: &Found,
        kind: Kind,
        audio: Option<String>,
        tags_d: Option<String>,
        output: &str,
        out: &Path,
        settings: &str,
    ) -> Result<Row, String> {
        let (size, mtime) = stat(out).ok_or_else(|| format!("{} is gone", out.display()))?;
        let sha = digest::file(out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
        Ok(Row {
            source: found.rel.clone(),
            track: found.track,
            parts: found.parts.clone(),
            kind,
            source_size: found.size,
            source_mtime_ns: found.mtime_ns,
            audio_digest: audio,
            tags_digest: tags_d,
            output: output.to_string(),
            output_size: size,
            output_mtime_ns: mtime,
            output_sha256: sha,
            settings: settings.to_string(),
            plan: self.plan.clone(),
            synced_at: now_secs(),
        })
    }

    /// Records, before a mirror file is written, that the sync is making
    /// it: a process killed between the rename and the final row leaves a
    /// file the next run knows as its own (and makes again), not one it
    /// must leave alone.
    fn reserve(&self, found: &Found, kind: Kind, output: &str) -> Result<(), String> {
        self.put(&Row {
            source: found.rel.clone(),
            track: found.track,
            parts: found.parts.clone(),
            kind,
            source_size: found.size,
            source_mtime_ns: found.mtime_ns,
            audio_digest: None,
            tags_digest: None,
            output: output.to_string(),
            output_size: u64::MAX,
            output_mtime_ns: 0,
            output_sha256: String::new(),
            settings: PENDING.into(),
            plan: PENDING.into(),
            synced_at: now_secs(),
        })
    }

    /// Refuses to write over a file the sync did not make.
    fn check_free(&self, out: &Path, output: &str, row: Option<&Row>) -> Result<(), String> {
        let ours = row.is_some_and(|r| r.output == output);
        if !ours && out.symlink_metadata().is_ok() {
            return Err(format!(
                "{} is in the way: the sync did not make it, so it is left alone (move it away to mirror this file)",
                out.display()
            ));
        }
        Ok(())
    }

    fn note_hand_edit(&self, out: &Path) {
        (self.on_event)(Event::Warning {
            message: format!(
                "{} was changed since the last sync; it is made again",
                out.display()
            ),
        });
    }

    /// When a source's mirror file took a new name, the old one goes.
    fn forget_old_output(&self, row: Option<&Row>, output: &str) {
        if let Some(r) = row.filter(|r| r.output != output) {
            let old = self.mirror.join(&r.output);
            if matches!(intact(&old, r), Intact::Yes) && std::fs::remove_file(&old).is_ok() {
                remove_empty_parents(&old, &self.mirror);
            }
        }
    }

    fn make_dirs(&self, out: &Path) -> Result<(), String> {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create folder {}: {e}", dir.display()))?;
        }
        Ok(())
    }
}

/// Decides, from the walk and the state, what each source becomes.
struct Planner<'p> {
    spec: &'p SyncSpec,
    template: Option<&'p Template>,
    mirror: &'p Path,
    source: &'p Path,
    plan: &'p str,
    /// Rows not matched with a source yet.
    rows: HashMap<RowKey, Row>,
    work: Vec<Work>,
    /// Mirror folder (relative) of each source folder's first music file.
    folder_of: HashMap<String, String>,
    /// Mirror files (relative), and what each is the mirror of.
    claimed: HashMap<String, String>,
    /// Sources whose unmatched rows are kept (they failed this time).
    keep: HashSet<String>,
}

impl Planner<'_> {
    /// True when a row's source and mirror file are as last synced, with
    /// these settings (decided from their size and time alone).
    fn fast(&self, r: &Row, size: u64, mtime_ns: i64) -> bool {
        r.plan == self.plan
            && r.source_size == size
            && r.source_mtime_ns == mtime_ns
            && stat(&self.mirror.join(&r.output))
                .is_some_and(|s| s == (r.output_size, r.output_mtime_ns))
    }

    /// Plans the images that have a cue sheet (one item per track) and
    /// returns the music that is mirrored file by file.
    ///
    /// A unit (sheet and images) unchanged since the last sync — the sheet,
    /// every image and every track's mirror file as recorded — is decided
    /// from the state and the walk alone: no file is opened. The others are
    /// read and grouped as `aj convert` groups its inputs.
    fn split_units(&mut self, music: Vec<Found>, cues: &[Found]) -> Vec<Found> {
        let by_rel: HashMap<&str, &Found> = music
            .iter()
            .chain(cues)
            .map(|f| (f.rel.as_str(), f))
            .collect();
        // Music files that are images of a split unit.
        let mut in_unit: HashSet<String> = HashSet::new();
        let mut units: HashMap<String, Vec<u8>> = HashMap::new();
        for (source, track) in self.rows.keys() {
            if let Some(t) = track {
                units.entry(source.clone()).or_default().push(*t);
            }
        }
        let mut units: Vec<(String, Vec<u8>)> = units.into_iter().collect();
        units.sort();
        for (key, mut tracks) in units {
            let Some(kf) = by_rel.get(key.as_str()).copied() else {
                continue;
            };
            tracks.sort_unstable();
            let rows: Vec<&Row> = tracks
                .iter()
                .filter_map(|t| self.rows.get(&(key.clone(), Some(*t))))
                .collect();
            let Some(parts_text) = rows.first().map(|r| r.parts.clone()) else {
                continue;
            };
            let Some(parts) = parse_parts(&parts_text) else {
                continue;
            };
            let fast = parts.iter().all(|(rel, size, mtime)| {
                by_rel
                    .get(rel.as_str())
                    .is_some_and(|f| (f.size, f.mtime_ns) == (*size, *mtime))
            }) && rows
                .iter()
                .all(|r| r.parts == parts_text && self.fast(r, kf.size, kf.mtime_ns));
            if !fast {
                continue;
            }
            in_unit.insert(key.clone());
            in_unit.extend(parts.into_iter().map(|(rel, ..)| rel));
            for t in tracks {
                let Some(row) = self.rows.remove(&(key.clone(), Some(t))) else {
                    continue;
                };
                self.folder_of
                    .entry(parent_rel(&key))
                    .or_insert_with(|| parent_rel(&row.output));
                self.claimed
                    .insert(row.output.clone(), format!("{key}#{t:02}"));
                let found = kf.track(t, &parts_text);
                self.work.push(Work::Unchanged { found, row });
            }
        }

        // The others: sheets, and files that may have one beside or inside
        // them, unless unchanged as whole files.
        let rel_of: HashMap<&Path, &str> = music
            .iter()
            .chain(cues)
            .map(|f| (f.path.as_path(), f.rel.as_str()))
            .collect();
        let entry = |f: &Found| {
            Ok(cuesplit::Entry {
                path: f.path.clone(),
                root: None,
                rel_dir: None,
            })
        };
        let mut entries = Vec::new();
        for c in cues.iter().filter(|c| !in_unit.contains(&c.rel)) {
            entries.push(entry(c));
        }
        let mut plain: HashSet<String> = HashSet::new();
        for m in music.iter().filter(|m| !in_unit.contains(&m.rel)) {
            let whole = self
                .rows
                .get(&(m.rel.clone(), None))
                .is_some_and(|r| self.fast(r, m.size, m.mtime_ns));
            if whole {
                plain.insert(m.rel.clone());
            } else {
                entries.push(entry(m));
            }
        }
        for unit in cuesplit::group(entries, true) {
            match unit {
                cuesplit::Unit::Plain(e) => {
                    if let Some(r) = rel_of.get(e.path.as_path()) {
                        plain.insert((*r).to_string());
                    }
                }
                cuesplit::Unit::Failed(path, error) => {
                    if let Some(r) = rel_of.get(path.as_path()) {
                        self.keep.insert((*r).to_string());
                    }
                    self.work.push(Work::Fail { input: path, error });
                }
                cuesplit::Unit::Split(e, src) => {
                    let Some(kf) = rel_of
                        .get(e.path.as_path())
                        .and_then(|r| by_rel.get(r))
                        .copied()
                    else {
                        continue;
                    };
                    match self.unit(kf, &src, &by_rel) {
                        Ok(Some(images)) => in_unit.extend(images),
                        Ok(None) => {
                            // Mirrored whole (a lossy image, see `unit`).
                            for f in &src.files {
                                if let Some(r) = self.rel_in_library(&f.path, &by_rel) {
                                    in_unit.remove(&r);
                                    plain.insert(r);
                                }
                            }
                        }
                        Err(error) => {
                            // Its rows and images stay as they are.
                            self.keep.insert(kf.rel.clone());
                            for f in &src.files {
                                if let Some(r) = self.rel_in_library(&f.path, &by_rel) {
                                    self.keep.insert(r.clone());
                                    in_unit.insert(r);
                                }
                            }
                            self.work.push(Work::Fail {
                                input: e.path,
                                error,
                            });
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        for m in music {
            if in_unit.contains(&m.rel) {
                continue;
            }
            if plain.contains(&m.rel) {
                out.push(m);
            } else {
                // Named by a sheet that cannot be read: neither split nor
                // mirrored whole (its failure is reported); its rows stay.
                self.keep.insert(m.rel);
            }
        }
        out
    }

    /// The library path (relative) of a file a sheet names, when it is a
    /// music file of the walk.
    fn rel_in_library(&self, path: &Path, by_rel: &HashMap<&str, &Found>) -> Option<String> {
        let real = path.canonicalize().ok()?;
        let rel = rel_string(real.strip_prefix(self.source).ok()?)?;
        by_rel.contains_key(rel.as_str()).then_some(rel)
    }

    /// Plans the tracks of one sheet (`kf`: the `.cue`, or the image whose
    /// own sheet it is). The library paths of its images; `None` when it is
    /// not split after all: a lossy image, which `--lossy copy` or `skip`
    /// keep whole (never lossy→lossy).
    ///
    /// # Errors
    /// A sheet naming a file outside the library, or with no audio tracks.
    fn unit(
        &mut self,
        kf: &Found,
        src: &cuesplit::CueSource,
        by_rel: &HashMap<&str, &Found>,
    ) -> Result<Option<Vec<String>>, String> {
        let embedded = matches!(src.origin, cuesplit::CueOrigin::Embedded(_));
        let mut rels = Vec::new();
        let mut parts = String::new();
        for f in &src.files {
            let rel = self.rel_in_library(&f.path, by_rel).ok_or_else(|| {
                format!(
                    "{} names {}, which is not a music file of the library {} (the sync mirrors only what is in it)",
                    src.origin,
                    f.path.display(),
                    self.source.display()
                )
            })?;
            if !embedded {
                if let Some(img) = by_rel.get(rel.as_str()) {
                    parts.push_str(&format!("{rel}\t{}\t{}\n", img.size, img.mtime_ns));
                }
            }
            rels.push(rel);
        }
        if self.spec.lossy != LossyPolicy::Convert {
            for f in &src.files {
                let d = decode::open(&f.path).map_err(|e| format!("{}: {e}", f.path.display()))?;
                if !d.info().lossless {
                    return Ok(None);
                }
            }
        }
        let tracks = cuesplit::track_items(src, self.spec.gaps, self.spec.safe_names)?;
        let unit = Arc::new(Unit {
            images: src.files.iter().map(|f| f.path.clone()).collect(),
            audio: OnceLock::new(),
        });
        for t in tracks {
            let found = kf.track(t.number, &parts);
            let label = format!("{}#{:02}", kf.rel, t.number);
            let output = match track_output(self.spec, self.template, &t, &kf.rel) {
                Ok(o) => o,
                Err(error) => {
                    self.keep.insert(kf.rel.clone());
                    self.work.push(Work::Fail {
                        input: found.path,
                        error,
                    });
                    continue;
                }
            };
            if let Some(other) = self.claimed.get(&output) {
                let error = format!(
                    "its mirror file {output} is also the mirror of {other}{}",
                    if self.template.is_some() {
                        "; add fields to --name that tell them apart, like {disc} or {track}"
                    } else {
                        ""
                    }
                );
                self.keep.insert(kf.rel.clone());
                self.work.push(Work::Fail {
                    input: found.path,
                    error,
                });
                continue;
            }
            self.claimed.insert(output.clone(), label);
            self.folder_of
                .entry(parent_rel(&kf.rel))
                .or_insert_with(|| parent_rel(&output));
            let row = self.rows.remove(&(kf.rel.clone(), Some(t.number)));
            self.work.push(Work::Music {
                found,
                row,
                kind: Some(Kind::Convert),
                output,
                album: false,
                split: Some(Box::new(SplitTrack {
                    unit: Arc::clone(&unit),
                    track: t,
                })),
            });
        }
        Ok(Some(rels))
    }

    /// Plans one music file mirrored whole.
    fn music(&mut self, found: Found) {
        let key = (found.rel.clone(), None);
        let row = self.rows.remove(&key);
        let dir = parent_rel(&found.rel);
        if let Some(row) = row
            .clone()
            .filter(|r| self.fast(r, found.size, found.mtime_ns))
        {
            self.folder_of
                .entry(dir)
                .or_insert_with(|| parent_rel(&row.output));
            self.claimed.insert(row.output.clone(), found.rel.clone());
            self.work.push(Work::Unchanged { found, row });
            return;
        }
        let (kind, output) = match plan_music(self.spec, self.template, &found) {
            Ok(p) => p,
            Err(error) => {
                if let Some(row) = row {
                    // Keep its row: the mirror file is still known.
                    self.rows.insert(key, row);
                    self.keep.insert(found.rel.clone());
                }
                self.work.push(Work::Fail {
                    input: found.path,
                    error,
                });
                return;
            }
        };
        if kind.is_none() {
            if let Some(row) = row {
                self.work.push(Work::Gone {
                    row,
                    why: "its source is now left out",
                });
            }
            self.work.push(Work::Music {
                found,
                row: None,
                kind,
                output,
                album: false,
                split: None,
            });
            return;
        }
        if let Some(other) = self.claimed.get(&output) {
            let error = format!(
                "its mirror file {output} is also the mirror of {other}{}",
                if self.template.is_some() {
                    "; add fields to --name that tell them apart, like {disc} or {track}"
                } else {
                    " (files with one name in different formats)"
                }
            );
            if let Some(row) = row {
                self.rows.insert(key, row);
                self.keep.insert(found.rel.clone());
            }
            self.work.push(Work::Fail {
                input: found.path,
                error,
            });
            return;
        }
        self.claimed.insert(output.clone(), found.rel.clone());
        self.folder_of
            .entry(dir)
            .or_insert_with(|| parent_rel(&output));
        self.work.push(Work::Music {
            found,
            row,
            kind,
            output,
            album: false,
            split: None,
        });
    }

    /// Plans one cover image (carried when its folder has music).
    fn cover(&mut self, found: Found) {
        let dir = parent_rel(&found.rel);
        let Some(mirror_dir) = self.folder_of.get(&dir) else {
            return;
        };
        let name = found.rel.rsplit('/').next().unwrap_or_default().to_string();
        let output = join_rel(mirror_dir, &name);
        let key = (found.rel.clone(), None);
        let row = self.rows.remove(&key);
        if let Some(row) = row
            .clone()
            .filter(|r| r.output == output && self.fast(r, found.size, found.mtime_ns))
        {
            self.claimed.insert(output, found.rel.clone());
            self.work.push(Work::Unchanged { found, row });
            return;
        }
        if let Some(other) = self.claimed.get(&output) {
            if let Some(row) = row {
                self.rows.insert(key, row);
                self.keep.insert(found.rel.clone());
            }
            self.work.push(Work::Fail {
                input: found.path,
                error: format!("its mirror file {output} is also the mirror of {other}"),
            });
            return;
        }
        self.claimed.insert(output.clone(), found.rel.clone());
        self.work.push(Work::Cover { found, row, output });
    }
}

/// The lines of [`Row::parts`]: `(rel, size, mtime_ns)`; `None` when they
/// do not read (a damaged state: the unit is looked at again).
fn parse_parts(text: &str) -> Option<Vec<(String, u64, i64)>> {
    text.lines()
        .map(|l| {
            let mut it = l.split('\t');
            let rel = it.next()?.to_string();
            let size = it.next()?.parse().ok()?;
            let mtime = it.next()?.parse().ok()?;
            Some((rel, size, mtime))
        })
        .collect()
}

/// The mirror file (relative) of a track: `NN - Title.EXT` in the folder of
/// its sheet, as `aj convert SHEET -o DIR` names it; with a template, named
/// from the track's tags.
fn track_output(
    spec: &SyncSpec,
    template: Option<&Template>,
    track: &CueTrackItem,
    unit_rel: &str,
) -> Result<String, String> {
    match template {
        None => Ok(join_rel(
            &parent_rel(unit_rel),
            &format!("{}.{}", track.stem, spec.format.extension()),
        )),
        Some(t) => {
            let rel = t.render(
                &NameContext {
                    tags: &track.tags,
                    filename: &track.stem,
                    format: spec.format,
                },
                spec.safe_names,
            );
            rel_string(&rel).ok_or_else(|| {
                format!(
                    "the name template gives a name that is not valid UTF-8: {}",
                    rel.display()
                )
            })
        }
    }
}

/// The settings of a row whose file is being written.
const PENDING: &str = "pending";
/// Added to the settings of a converted file whose album gain is not
/// written yet.
const ALBUM_PENDING: &str = "+album-pending";
const INTERRUPTED: &str = "an earlier sync stopped while writing it";

/// The ReplayGain keys a conversion measures.
fn gain_keys() -> [TagKey; 6] {
    [
        TagKey::ReplayGainTrackGain,
        TagKey::ReplayGainTrackPeak,
        TagKey::ReplayGainAlbumGain,
        TagKey::ReplayGainAlbumPeak,
        TagKey::Other(replaygain::R128_TRACK_GAIN.into()),
        TagKey::Other(replaygain::R128_ALBUM_GAIN.into()),
    ]
}

fn past(k: Kind) -> &'static str {
    match k {
        Kind::Convert => "converted",
        Kind::Copy => "copied",
        Kind::Link => "linked",
        Kind::Cover => "a cover",
    }
}

/// What a music source becomes (None: left out) and its mirror path.
fn plan_music(
    spec: &SyncSpec,
    template: Option<&Template>,
    found: &Found,
) -> Result<(Option<Kind>, String), String> {
    let decoder = decode::open(&found.path).map_err(|e| e.to_string())?;
    let info = decoder.info().clone();
    drop(decoder);
    let same_format = replaygain::tag_format(&info) == Some(spec.format);
    let verbatim = if spec.link { Kind::Link } else { Kind::Copy };
    let kind = if same_format && !spec.dsp.changes_samples() {
        Some(verbatim)
    } else if !info.lossless {
        match spec.lossy {
            LossyPolicy::Copy => Some(verbatim),
            LossyPolicy::Convert => Some(Kind::Convert),
            LossyPolicy::Skip => None,
        }
    } else {
        Some(Kind::Convert)
    };
    let src_ext = found
        .rel
        .rsplit_once('.')
        .map(|(_, e)| e.to_string())
        .filter(|e| !e.contains('/'))
        .unwrap_or_default();
    let ext = match kind {
        Some(Kind::Convert) | None => spec.format.extension().to_string(),
        Some(_) => src_ext,
    };
    let output = match template {
        None => {
            let stem = match found.rel.rsplit_once('.') {
                Some((s, e)) if !e.contains('/') => s,
                _ => found.rel.as_str(),
            };
            if ext.is_empty() {
                stem.to_string()
            } else {
                format!("{stem}.{ext}")
            }
        }
        Some(t) => {
            let tags = tags::read(&found.path)
                .map_err(|e| format!("cannot read its tags to name it: {e}"))?;
            let stem = found
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let rel = t.render(
                &NameContext {
                    tags: &tags,
                    filename: &stem,
                    format: spec.format,
                },
                spec.safe_names,
            );
            let rel = match kind {
                Some(Kind::Convert) | None => rel,
                Some(_) => rel.with_extension(&ext),
            };
            rel_string(&rel).ok_or_else(|| {
                format!(
                    "the name template gives a name that is not valid UTF-8: {}",
                    rel.display()
                )
            })?
        }
    };
    Ok((kind, output))
}

/// Whether a mirror file is as the state recorded it.
enum Intact {
    /// As written (by size and time, or else by content: a copy to another
    /// disk has new times).
    Yes,
    Missing,
    Changed,
}

fn intact(path: &Path, row: &Row) -> Intact {
    match stat(path) {
        None => Intact::Missing,
        Some(s) if s == (row.output_size, row.output_mtime_ns) => Intact::Yes,
        Some((size, _)) if size == row.output_size => {
            if digest::file(path).ok().as_deref() == Some(&row.output_sha256) {
                Intact::Yes
            } else {
                Intact::Changed
            }
        }
        Some(_) => Intact::Changed,
    }
}

/// Size and modification time (ns since the Unix epoch) of a file.
fn stat(path: &Path) -> Option<(u64, i64)> {
    let m = std::fs::metadata(path).ok()?;
    if !m.is_file() {
        return None;
    }
    let mtime = match m.modified().ok()?.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    };
    Some((m.len(), mtime))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn parent_rel(rel: &str) -> String {
    rel.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

fn join_rel(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// A relative path as `/`-separated text; None when not UTF-8 or not a
/// plain relative path.
fn rel_string(p: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Removes the folders above `file` that are empty, up to (not) `root`.
fn remove_empty_parents(file: &Path, root: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Copies `from` over `to` atomically (temporary file, fsync, rename).
fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    let err = |e: String| format!("copying to {}: {e}", to.display());
    let pending = PendingOutput::create(to, true).map_err(|e| err(e.to_string()))?;
    {
        let mut src = std::fs::File::open(from).map_err(|e| format!("cannot read it: {e}"))?;
        let mut dst = pending.file().map_err(|e| err(e.to_string()))?;
        std::io::copy(&mut src, &mut dst).map_err(|e| err(e.to_string()))?;
    }
    pending.commit().map_err(|e| err(e.to_string()))
}

/// Hard-links `from` at `to`, replacing `to` atomically.
fn hard_link(from: &Path, to: &Path) -> std::io::Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.link{}x{}.aj-tmp",
        std::process::id(),
        now_secs()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::fs::hard_link(from, &tmp)?;
    std::fs::rename(&tmp, to).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Counts the files in the mirror that no row or item names.
fn count_foreign(mirror: &Path, claimed: &HashMap<String, String>, work: &[Work]) -> usize {
    let mut known: HashSet<&str> = claimed.keys().map(String::as_str).collect();
    for w in work {
        if let Work::Gone { row, .. } = w {
            known.insert(row.output.as_str());
        }
    }
    let mut count = 0;
    let mut stack = vec![(mirror.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                count += 1;
                continue;
            };
            let r = join_rel(&rel, &name);
            if rel.is_empty() && name.starts_with(STATE_FILE) {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push((e.path(), r)),
                Ok(_) => {
                    if !known.contains(r.as_str()) && !name.ends_with(".aj-tmp") {
                        count += 1;
                    }
                }
                Err(_) => {}
            }
        }
    }
    count
}

/// A short account of what changed between two settings documents.
fn describe_change(old: &str, new: &serde_json::Value) -> String {
    let Ok(old) = serde_json::from_str::<serde_json::Value>(old) else {
        return "written by another version".into();
    };
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return "written by another version".into();
    };
    let mut changed = Vec::new();
    for (k, v) in n {
        if o.get(k) != Some(v) {
            if k == "conversion" {
                let ov: serde_json::Value = o
                    .get(k)
                    .and_then(|s| s.as_str())
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_default();
                let nv: serde_json::Value = v
                    .as_str()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_default();
                if let (Some(oo), Some(no)) = (ov.as_object(), nv.as_object()) {
                    for (kk, vv) in no {
                        if oo.get(kk) != Some(vv) {
                            changed.push(format!(
                                "{kk} {} -> {vv}",
                                oo.get(kk).map_or("none".to_string(), |x| x.to_string())
                            ));
                        }
                    }
                    continue;
                }
            }
            changed.push(format!(
                "{k} {} -> {v}",
                o.get(k).map_or("none".to_string(), |x| x.to_string())
            ));
        }
    }
    if changed.is_empty() {
        "written by another version".into()
    } else {
        changed.join(", ")
    }
}

/// Cover image names carried beside the music (stems, any case).
pub const COVER_STEMS: &[&str] = &["folder", "cover", "front", "album"];
/// Cover image extensions carried (any case).
pub const COVER_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "webp", "bmp"];

fn is_cover(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| COVER_STEMS.contains(&stem) && COVER_EXTENSIONS.contains(&ext))
}

/// The library walk: audio files and covers, sorted, hidden entries and the
/// mirror passed over, each folder read once (links cannot loop).
struct Walker<'a> {
    skip: PathBuf,
    seen: HashSet<PathBuf>,
    music: Vec<Found>,
    covers: Vec<Found>,
    /// Cue sheets (`.cue`), which split the images they name.
    cues: Vec<Found>,
    errors: Vec<(PathBuf, String)>,
    cancel: &'a CancelToken,
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Path, rel: &str) -> std::io::Result<()> {
        let real = dir.canonicalize()?;
        if real == self.skip || !self.seen.insert(real) {
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
            let Some(name) = p.file_name() else { continue };
            let Some(name) = name.to_str().map(str::to_string) else {
                self.errors.push((
                    p.clone(),
                    "its name is not valid UTF-8; the sync cannot record it".into(),
                ));
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let r = join_rel(rel, &name);
            if p.is_dir() {
                if let Err(e) = self.walk(&p, &r) {
                    self.errors.push((p, format!("cannot read folder: {e}")));
                }
                continue;
            }
            let audio = convert::has_extension(&p, convert::AUDIO_EXTENSIONS);
            let cover = is_cover(&name);
            let cue = cuesplit::is_cue(&p);
            if !audio && !cover && !cue {
                continue;
            }
            let Some((size, mtime_ns)) = stat(&p) else {
                continue;
            };
            let f = Found::file(r, p, size, mtime_ns);
            if audio {
                self.music.push(f);
            } else if cue {
                self.cues.push(f);
            } else {
                self.covers.push(f);
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
    fn covers_are_recognised_by_name() {
        for n in ["folder.jpg", "Cover.PNG", "front.jpeg", "ALBUM.webp"] {
            assert!(is_cover(n), "{n}");
        }
        for n in ["folder.txt", "back.jpg", "cover", "my cover.jpg"] {
            assert!(!is_cover(n), "{n}");
        }
    }

    #[test]
    fn relative_paths_are_slash_separated() {
        assert_eq!(
            rel_string(Path::new("a/b/c.mp3")).as_deref(),
            Some("a/b/c.mp3")
        );
        assert_eq!(rel_string(Path::new("../x")), None);
        assert_eq!(parent_rel("a/b/c"), "a/b");
        assert_eq!(parent_rel("c"), "");
        assert_eq!(join_rel("", "x"), "x");
    }

    /// The fingerprint is kept in each mirror's state: a different string
    /// for the same options would convert every mirror again.
    #[test]
    fn conversion_fingerprint_is_stable() {
        let mut spec = SyncSpec::new("lib".into(), "mirror".into(), Format::Flac);
        spec.dsp = DspOptions {
            rate: Some(44100),
            bits: Some(16),
            channels: Some(2),
            gain_db: Some(2.25),
            apply_replaygain: Some(crate::convert::ApplyGain::Track),
            ..DspOptions::default()
        };
        assert_eq!(
            spec.conversion_fingerprint(),
            r#"{"apply_replaygain":"track","art_max":null,"bits":16,"channels":2,"encoder":{"abr":false,"bitrate":null,"level":null,"quality":null,"threads":null},"float":false,"format":"flac","gain_db":2.25,"rate":44100,"replaygain":false}"#
        );
    }

    /// `split` and `gaps` take their defaults when a job leaves them out
    /// (jobs stored before they existed), and are written only when set.
    #[test]
    fn split_and_gaps_default_in_the_json() {
        let j = r#"{"source":"lib","mirror":"mirror","format":"flac"}"#;
        let s: SyncSpec = serde_json::from_str(j).unwrap();
        assert!(s.split);
        assert_eq!(s.gaps, Gaps::Append);
        let v = serde_json::to_value(&s).unwrap();
        assert!(v.get("split").is_none() && v.get("gaps").is_none(), "{v}");
        let j =
            r#"{"source":"lib","mirror":"mirror","format":"flac","split":false,"gaps":"discard"}"#;
        let s: SyncSpec = serde_json::from_str(j).unwrap();
        assert!(!s.split);
        assert_eq!(s.gaps, Gaps::Discard);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            (v["split"].clone(), v["gaps"].clone()),
            (false.into(), "discard".into())
        );
        // The plan of a default spec is the one mirrors were synced with
        // before these options existed.
        let d = SyncSpec::new("lib".into(), "mirror".into(), Format::Flac);
        assert!(d.plan_settings().get("split").is_none());
        assert_eq!(s.plan_settings()["split"], false);
    }

    #[test]
    fn lossy_policy_parses() {
        assert_eq!("Skip".parse::<LossyPolicy>(), Ok(LossyPolicy::Skip));
        assert!("x".parse::<LossyPolicy>().is_err());
    }
}
