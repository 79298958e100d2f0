//! The convert job: files in, files of another format out.
//!
//! Pipeline per file: decoder → [`FormatConverter`] (identity unless the target
//! needs another sample format) → [`FileSink`] (encoder, tags, verification of
//! lossless outputs, atomic rename).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aj_codec::encode::{self, EncoderOptions};
use aj_codec::sink::{FileSink, FileSinkOptions};
use aj_codec::{decode, tags, Format};
use aj_core::{AudioSpec, CancelToken, Processor, SampleFormat, Sink};
use aj_dsp::convert::FormatConverter;
use aj_dsp::loudness::{LoudnessMeter, Measurement, PeakMode, ReplayGain};

use crate::engine::Event;
use crate::replaygain::{self, AlbumGains};

/// Extensions picked up when a folder is given as input. Files named one by one
/// are always tried, whatever their name: the decoder probes the content.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "rf64", "bwf", "w64", "aif", "aiff", "aifc", "flac", "mp3", "mp2", "m4a", "m4b",
    "mp4", "alac", "caf", "ogg", "oga", "opus", "mka", "webm",
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
}

fn yes() -> bool {
    true
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
    pub input: PathBuf,
    pub plan: Planned,
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
/// once. When several inputs would give the same output, the lossless one is
/// converted (or the first, among equals) and the others are skipped.
pub fn plan(spec: &ConvertSpec, cancel: &CancelToken) -> Vec<Item> {
    let out_dir = spec.output_dir.as_deref().map(normalise);
    let mut found: Vec<(PathBuf, Result<PathBuf, String>)> = Vec::new();
    for input in &spec.inputs {
        if cancel.is_cancelled() {
            break;
        }
        if input.is_dir() {
            let mut walker = Walker {
                skip: out_dir.clone(),
                seen: HashSet::new(),
                files: Vec::new(),
                errors: Vec::new(),
                cancel,
            };
            if let Err(e) = walker.walk(input) {
                found.push((input.clone(), Err(format!("cannot read folder: {e}"))));
            } else if walker.files.is_empty() && walker.errors.is_empty() {
                found.push((input.clone(), Err("no audio files in this folder".into())));
            }
            found.extend(walker.errors.into_iter().map(|(p, e)| (p, Err(e))));
            for f in walker.files {
                let rel_dir = f
                    .parent()
                    .and_then(|p| p.strip_prefix(input).ok())
                    .map(Path::to_path_buf);
                let out = output_path(spec, &f, rel_dir.as_deref());
                found.push((f, Ok(out)));
            }
        } else if input.exists() {
            let out = output_path(spec, input, None);
            found.push((input.clone(), Ok(out)));
        } else {
            found.push((input.clone(), Err("no such file or folder".into())));
        }
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
    found
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
            Item { index, input: input.clone(), plan }
        })
        .collect()
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
                | "alac"
                | "caf"
        )
    })
}

/// A recursive folder search that cannot loop.
struct Walker<'a> {
    /// The output folder: never searched for inputs.
    skip: Option<PathBuf>,
    /// Folders already read, by their real path.
    seen: HashSet<PathBuf>,
    files: Vec<PathBuf>,
    errors: Vec<(PathBuf, String)>,
    cancel: &'a CancelToken,
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Path) -> std::io::Result<()> {
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
            } else if p.extension().is_some_and(|e| {
                AUDIO_EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
            }) {
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
    let (outcome, written) = run_one(spec, item, cancel, on_event, created_dirs);
    let Planned::Convert(output) = &item.plan else {
        return outcome;
    };
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

/// One item: its outcome, and for a written output with ReplayGain asked
/// for, its loudness measurement.
fn run_one(
    spec: &ConvertSpec,
    item: &Item,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
    created_dirs: &Mutex<Vec<PathBuf>>,
) -> (ItemOutcome, Option<Measurement>) {
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
        Planned::Skip { output, reason } => return (skip(output, reason), None),
        Planned::Fail(e) => return (fail(e.clone()), None),
    };
    if output.is_dir() {
        return (
            fail(format!(
                "a folder is in the way of the output {}",
                output.display()
            )),
            None,
        );
    }
    if !spec.overwrite && output.symlink_metadata().is_ok() {
        return (
            skip(&output, "output exists (use --overwrite to replace it)"),
            None,
        );
    }
    match convert_file(spec, item, &output, cancel, on_event, created_dirs) {
        Ok((frames, verified, measurement)) => {
            on_event(Event::FileDone {
                index: item.index,
                input: item.input.clone(),
                output,
                frames,
                verified,
            });
            (ItemOutcome::Done, measurement)
        }
        // Whatever error a cancelled pipeline stopped with, it was cancelled.
        Err(_) if cancel.is_cancelled() => (skip(&output, "cancelled"), None),
        Err(error) => (fail(error), None),
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
) -> Result<(u64, bool, Option<Measurement>), String> {
    let mut decoder = decode::open(&item.input).map_err(|e| e.to_string())?;
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
    let mut converter = FormatConverter::new(src_spec, target.format);
    let mut tags = tags::read(&item.input).map_err(|e| e.to_string())?;
    // The source's encoder name describes the old file, not the new one.
    tags.drop_encoding_info();

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
    let out_err = |e: String| format!("writing {}: {e}", output.display());
    let options = FileSinkOptions {
        format: spec.format,
        encoder: spec.encoder.clone(),
        tags,
        overwrite: spec.overwrite,
        verify: spec.verify,
    };
    let mut sink = FileSink::create(output, target, options).map_err(|e| out_err(e.to_string()))?;
    // ReplayGain: the decoded samples are measured as they go by.
    let mut meter = if spec.replaygain {
        Some(LoudnessMeter::new(src_spec, PeakMode::Sample).map_err(|e| e.to_string())?)
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
    let mut frames = 0u64;
    let mut last_report = Instant::now();
    while let Some(block) = decoder.read(BLOCK_FRAMES).map_err(|e| e.to_string())? {
        cancel.check().map_err(|e| e.to_string())?;
        if let Some(m) = meter.as_mut() {
            m.add(&block).map_err(|e| e.to_string())?;
        }
        let block = converter.process(block).map_err(|e| e.to_string())?;
        sink.write(&block).map_err(|e| out_err(e.to_string()))?;
        frames += block.frames() as u64;
        if last_report.elapsed() >= PROGRESS_EVERY {
            last_report = Instant::now();
            on_event(progress(item, frames, total));
        }
    }
    cancel.check().map_err(|e| e.to_string())?;
    on_event(progress(item, frames, total.or(Some(frames))));
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
    let verified = sink.finish_verified(cancel).map_err(|e| match e {
        aj_codec::Error::Corrupt(msg) => msg,
        other => out_err(other.to_string()),
    })?;
    Ok((frames, verified, measurement))
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
}
