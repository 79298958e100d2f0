//! `aj info`: what an audio file holds.

use std::path::Path;

use aj_codec::decode::{self, MediaInfo};
use aj_codec::tags::{self, Tags};

use crate::cli::InfoArgs;
use crate::Outcome;

/// Everything `aj info` reports about one file.
#[derive(Debug, serde::Serialize)]
struct FileInfo {
    file: String,
    #[serde(flatten)]
    media: MediaInfo,
    duration_seconds: Option<f64>,
    file_size: u64,
    tags: Tags,
}

pub fn run(args: InfoArgs) -> anyhow::Result<Outcome> {
    let mut failed = false;
    for (i, path) in args.files.iter().enumerate() {
        match describe(path) {
            Ok(info) => {
                if args.json {
                    println!("{}", serde_json::to_string(&info)?);
                } else {
                    if i > 0 {
                        println!();
                    }
                    print_human(&info);
                }
            }
            Err(e) => {
                failed = true;
                if args.json {
                    let obj = serde_json::json!({ "file": path.display().to_string(), "error": e });
                    println!("{obj}");
                }
                eprintln!("aj: {}: {e}", path.display());
            }
        }
    }
    Ok(if failed { Outcome::Failed } else { Outcome::Ok })
}

fn describe(path: &Path) -> Result<FileInfo, String> {
    let decoder = decode::open(path).map_err(|e| e.to_string())?;
    let mut media = decoder.info().clone();
    drop(decoder);
    let file_size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    let duration_seconds = media
        .total_frames
        .filter(|_| media.sample_rate > 0)
        .map(|f| f as f64 / f64::from(media.sample_rate));
    if media.bitrate.is_none() {
        media.bitrate = duration_seconds
            .filter(|&d| d > 0.0)
            .map(|d| (file_size as f64 * 8.0 / d).round() as u32);
    }
    let tags = tags::read(path).map_err(|e| e.to_string())?;
    Ok(FileInfo {
        file: path.display().to_string(),
        media,
        duration_seconds,
        file_size,
        tags,
    })
}

fn print_human(info: &FileInfo) {
    let m = &info.media;
    println!("{}", info.file);
    println!("  container  {}", m.container);
    println!(
        "  codec      {}{}",
        m.codec,
        if m.lossless { " (lossless)" } else { "" }
    );
    let bits = m
        .bits_per_sample
        .map(|b| format!(", {b} bit"))
        .unwrap_or_default();
    println!(
        "  stream     {} Hz, {} channel{}{bits}",
        m.sample_rate,
        m.channels,
        if m.channels == 1 { "" } else { "s" }
    );
    match (info.duration_seconds, m.total_frames) {
        (Some(d), Some(f)) => println!("  duration   {} ({f} frames, {d:.3} s)", clock(d)),
        _ => println!("  duration   unknown"),
    }
    if let Some(b) = m.bitrate {
        println!("  bitrate    {} kb/s", (f64::from(b) / 1000.0).round());
    }
    println!("  size       {} bytes", info.file_size);
    if !info.tags.items.is_empty() {
        println!("  tags");
        for item in &info.tags.items {
            println!("    {:<28} {}", item.key.to_string(), item.value);
        }
    }
    if !info.tags.pictures.is_empty() {
        println!("  pictures");
        for p in &info.tags.pictures {
            let description = if p.description.is_empty() {
                String::new()
            } else {
                format!(", \"{}\"", p.description)
            };
            println!(
                "    {:<28} {}, {} bytes{description}",
                words(&format!("{:?}", p.kind)),
                p.mime,
                p.data.len()
            );
        }
    }
}

/// `FrontCover` → `front cover`.
fn words(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// `h:mm:ss.mmm` or `m:ss.mmm`.
fn clock(seconds: f64) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{ms:03}")
    } else {
        format!("{m}:{s:02}.{ms:03}")
    }
}

#[cfg(test)]
mod tests {
    use super::{clock, words};

    #[test]
    fn picture_kinds_read_as_words() {
        assert_eq!(words("FrontCover"), "front cover");
        assert_eq!(words("Other"), "other");
    }

    #[test]
    fn clock_formats() {
        assert_eq!(clock(0.0), "0:00.000");
        assert_eq!(clock(61.5), "1:01.500");
        assert_eq!(clock(3725.25), "1:02:05.250");
    }
}
