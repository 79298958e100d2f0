//! The convert job: files in, files of another format out.
//!
//! Pipeline per file: decoder → [`FormatConverter`] (identity unless the target
//! needs another sample format) → [`FileSink`] (encoder, tags, verification of
//! lossless outputs, atomic rename).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aj_codec::encode::{self, EncoderOptions};
use aj_codec::sink::{FileSink, FileSinkOptions};
use aj_codec::{decode, tags, Format};
use aj_core::{CancelToken, Processor, Sink};
use aj_dsp::convert::FormatConverter;

use crate::engine::Event;

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
    /// Where the output goes, or why this input cannot be converted.
    pub output: Result<PathBuf, String>,
}

/// How one item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOutcome {
    Done,
    Failed,
    Skipped,
}

/// Expands the inputs into items, in a stable order.
pub fn plan(spec: &ConvertSpec) -> Vec<Item> {
    let mut found: Vec<(PathBuf, Result<PathBuf, String>)> = Vec::new();
    for input in &spec.inputs {
        if input.is_dir() {
            let mut files = Vec::new();
            if let Err(e) = walk(input, &mut files) {
                found.push((input.clone(), Err(format!("cannot read folder: {e}"))));
            }
            if files.is_empty() {
                found.push((input.clone(), Err("no audio files in this folder".into())));
            }
            for f in files {
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
    let mut seen: HashMap<PathBuf, PathBuf> = HashMap::new();
    found
        .into_iter()
        .enumerate()
        .map(|(index, (input, output))| {
            let output = output.and_then(|out| {
                if same_file(&input, &out) {
                    return Err(format!(
                        "the output would replace the input {} (choose another folder with -o)",
                        out.display()
                    ));
                }
                let key = normalise(&out);
                if let Some(first) = seen.get(&key) {
                    return Err(format!(
                        "{} is also the output of {}",
                        out.display(),
                        first.display()
                    ));
                }
                seen.insert(key, input.clone());
                Ok(out)
            });
            Item {
                index,
                input,
                output,
            }
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| {
            AUDIO_EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
        }) {
            out.push(p);
        }
    }
    Ok(())
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

/// Runs one item's pipeline and reports its events.
pub fn run_item(
    spec: &ConvertSpec,
    item: &Item,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> ItemOutcome {
    let output = match &item.output {
        Ok(o) => o.clone(),
        Err(e) => {
            on_event(Event::FileFailed {
                index: item.index,
                input: item.input.clone(),
                error: e.clone(),
            });
            return ItemOutcome::Failed;
        }
    };
    if !spec.overwrite && output.symlink_metadata().is_ok() {
        on_event(Event::FileSkipped {
            index: item.index,
            input: item.input.clone(),
            output: Some(output),
            reason: "output exists (use --overwrite to replace it)".into(),
        });
        return ItemOutcome::Skipped;
    }
    match convert_file(spec, item, &output, cancel, on_event) {
        Ok((frames, verified)) => {
            on_event(Event::FileDone {
                index: item.index,
                input: item.input.clone(),
                output,
                frames,
                verified,
            });
            ItemOutcome::Done
        }
        Err(e) if cancel.is_cancelled() => {
            let _ = e;
            on_event(Event::FileSkipped {
                index: item.index,
                input: item.input.clone(),
                output: Some(output),
                reason: "cancelled".into(),
            });
            ItemOutcome::Skipped
        }
        Err(error) => {
            on_event(Event::FileFailed {
                index: item.index,
                input: item.input.clone(),
                error,
            });
            ItemOutcome::Failed
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
) -> Result<(u64, bool), String> {
    let mut decoder = decode::open(&item.input).map_err(|e| e.to_string())?;
    let info = decoder.info().clone();
    let src_spec = decoder.spec();
    // Lossy sources become 16-bit integers, float PCM 24-bit (with dither).
    let float_bits = if info.lossless { 24 } else { 16 };
    let target = encode::input_spec(spec.format, src_spec, float_bits);
    let mut converter = FormatConverter::new(src_spec, target.format);
    let mut tags = tags::read(&item.input).map_err(|e| e.to_string())?;
    // The source's encoder name describes the old file, not the new one.
    tags.drop_encoding_info();

    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create folder {}: {e}", dir.display()))?;
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
    Ok((frames, verified))
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
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plan_names_outputs_and_refuses_collisions() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("lib/sub")).unwrap();
        for f in [
            "a.wav",
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
                d.join("a.wav"),
                d.join("a.flac"),
                d.join("lib"),
                d.join("gone.wav"),
            ],
            Format::Opus,
        );
        spec.output_dir = Some(d.join("out"));
        let items = plan(&spec);
        let outs: Vec<_> = items.iter().map(|i| i.output.clone()).collect();
        assert_eq!(outs[0], Ok(d.join("out/a.opus")));
        assert!(outs[1].as_ref().unwrap_err().contains("also the output of"));
        assert_eq!(outs[2], Ok(d.join("out/b.opus")));
        assert_eq!(outs[3], Ok(d.join("out/sub/c.opus")));
        assert_eq!(outs[4], Err("no such file or folder".to_string()));
        assert_eq!(items.len(), 5);
        assert!(items.iter().enumerate().all(|(i, it)| it.index == i));

        // Without -o, beside the input; the same format in place is refused.
        let spec = ConvertSpec::new(vec![d.join("a.flac")], Format::Flac);
        assert!(plan(&spec)[0]
            .output
            .as_ref()
            .unwrap_err()
            .contains("replace the input"));
        let spec = ConvertSpec::new(vec![d.join("lib/b.mp3")], Format::Wav);
        assert_eq!(plan(&spec)[0].output, Ok(d.join("lib/b.wav")));
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
        let crate::JobSpec::Convert(c) = job;
        assert_eq!(c.encoder.quality, Some(0.0));
        assert!(c.verify);
    }
}
