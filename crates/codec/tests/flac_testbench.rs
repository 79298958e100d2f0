//! The FLAC decoder testbench (ietf-wg-cellar/flac-test-files), when present.
//!
//! - `subset/`: every file decodes, and the MD5 of what we decoded (computed
//!   here again, independently of the decoder's own check) equals the one in
//!   STREAMINFO; a file we reject must be listed in `SUBSET_REJECTED`.
//! - `uncommon/`: decodes (MD5 checked the same way) or is rejected with a
//!   clear message.
//! - `faulty/`: never a panic or a hang; a decode or a clear error.
//!
//! Each file runs in its own thread with a timeout; a panic is a failure.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use aj_codec::decode;
use aj_core::{SampleFormat, Samples};
use md5::{Digest, Md5};

/// Per-file time limit (debug builds on a slow machine included).
const TIMEOUT: Duration = Duration::from_secs(20);

/// Subset files we knowingly reject: none. (Subset file 27, the pre-2007
/// variable block size layout from Flake 0.11, once was.)
const SUBSET_REJECTED: &[&str] = &[];

#[derive(Debug)]
enum Outcome {
    /// Decoded; whether our independent MD5 matched STREAMINFO (None: no MD5 set).
    Decoded {
        frames: u64,
        md5_ok: Option<bool>,
        spec: String,
    },
    Rejected(String),
}

/// STREAMINFO's MD5 (RFC 9639 §8.2), if the file starts with it.
fn streaminfo_md5(bytes: &[u8]) -> Option<[u8; 16]> {
    if bytes.get(0..4)? != b"fLaC" || bytes.get(4)? & 0x7F != 0 {
        return None;
    }
    let md5: [u8; 16] = bytes.get(26..42)?.try_into().ok()?;
    (md5 != [0; 16]).then_some(md5)
}

fn decode_file(path: &Path) -> Outcome {
    let mut d = match decode::open(path) {
        Ok(d) => d,
        Err(e) => return Outcome::Rejected(e.to_string()),
    };
    let spec = d.spec();
    let width = match spec.format {
        SampleFormat::Int { bits } => usize::from(bits.div_ceil(8)),
        SampleFormat::Float => 4,
    };
    let mut hash = Md5::new();
    let mut bytes = Vec::new();
    let mut frames = 0u64;
    loop {
        match d.read(4096) {
            Ok(Some(b)) => {
                frames += b.frames() as u64;
                bytes.clear();
                if let Samples::Int(v) = &b.samples {
                    // RFC 9639 §8.2: little-endian, sample width rounded up
                    // to whole bytes, interleaved.
                    for &s in v {
                        bytes.extend_from_slice(&s.to_le_bytes()[..width]);
                    }
                }
                hash.update(&bytes);
            }
            Ok(None) => break,
            Err(e) => return Outcome::Rejected(e.to_string()),
        }
    }
    let expected = streaminfo_md5(&std::fs::read(path).unwrap());
    let got: [u8; 16] = hash.finalize().into();
    Outcome::Decoded {
        frames,
        md5_ok: expected.map(|m| m == got),
        spec: format!("{spec:?}"),
    }
}

/// Decodes in a thread; `Err` on a panic or a timeout.
fn decode_guarded(path: PathBuf) -> Result<Outcome, String> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let r = decode_file(&path);
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            handle.join().map_err(|_| "PANICKED".to_string())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("TIMED OUT after {TIMEOUT:?}")),
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "flac"))
        .collect();
    v.sort();
    v
}

fn bench() -> Option<PathBuf> {
    match aj_testkit::flac_testbench() {
        Some(p) if p.is_dir() => Some(p),
        _ => {
            assert!(
                !aj_testkit::tools_required(),
                "the FLAC testbench is required (AJ_REQUIRE_TOOLS=1) but was not found"
            );
            eprintln!("skipping: FLAC testbench not found (set AJ_FLAC_TESTBENCH)");
            None
        }
    }
}

/// Runs a group, prints a summary line per file, returns the failures.
fn run_group(dir: &Path, strict: bool) -> Vec<String> {
    let mut failures = Vec::new();
    for f in files(dir) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        match decode_guarded(f) {
            Err(why) => {
                println!("  {name}: {why}");
                failures.push(format!("{name}: {why}"));
            }
            Ok(Outcome::Decoded {
                frames,
                md5_ok,
                spec,
            }) => {
                let md5 = match md5_ok {
                    Some(true) => "MD5 ok",
                    Some(false) => "MD5 MISMATCH",
                    None => "no MD5 set",
                };
                println!("  {name}: decoded {frames} frames, {spec}, {md5}");
                if md5_ok == Some(false) {
                    failures.push(format!("{name}: decoded but the MD5 does not match"));
                }
            }
            Ok(Outcome::Rejected(msg)) => {
                println!("  {name}: rejected: {msg}");
                if msg.trim().is_empty() {
                    failures.push(format!("{name}: rejected with an empty message"));
                }
                if strict && !SUBSET_REJECTED.contains(&name.as_str()) {
                    failures.push(format!("{name}: subset file rejected: {msg}"));
                }
            }
        }
    }
    failures
}

#[test]
fn subset_decodes_with_md5_verified() {
    let Some(root) = bench() else { return };
    println!("subset/");
    let failures = run_group(&root.join("subset"), true);
    assert!(
        failures.is_empty(),
        "subset failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn uncommon_decodes_or_is_rejected_clearly() {
    let Some(root) = bench() else { return };
    println!("uncommon/");
    let failures = run_group(&root.join("uncommon"), false);
    assert!(
        failures.is_empty(),
        "uncommon failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn faulty_never_panics_or_hangs() {
    let Some(root) = bench() else { return };
    println!("faulty/");
    let failures = run_group(&root.join("faulty"), false);
    assert!(
        failures.is_empty(),
        "faulty failures:\n{}",
        failures.join("\n")
    );
}
