//! Damaged input never panics or hangs: for every input format, truncated
//! copies, copies with random byte flips (fixed seed), an empty file and a
//! file under the wrong extension either decode or fail with a non-empty
//! message. Each decode runs in its own thread with a time limit; a panic
//! (seen as a failed join) is a test failure, not something caught.
//!
//! Where the format makes damage detectable, it must be reported, never
//! decoded as if all were well: every byte of an Ogg file is under a page
//! CRC, and MP3 from LAME states its length in a Xing frame.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use aj_codec::decode;
use aj_testkit as tk;

const TIMEOUT: Duration = Duration::from_secs(20);
/// Variants with byte flips per format.
const FLIP_VARIANTS: u64 = 12;

/// Decodes the whole file; `Ok(frames)` or the error message.
fn decode_all(path: &Path) -> Result<u64, String> {
    let mut d = decode::open(path).map_err(|e| e.to_string())?;
    let mut frames = 0u64;
    loop {
        match d.read(4096) {
            Ok(Some(b)) => {
                assert!(!b.samples.is_empty());
                frames += b.frames() as u64;
            }
            Ok(None) => return Ok(frames),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// What damage must be reported as an error (anything else may decode).
#[derive(Clone, Copy)]
struct MustFail {
    /// Truncations to less than this fraction of the file.
    cut_below: f64,
    /// Byte flips anywhere.
    flips: bool,
}

const LENIENT: MustFail = MustFail {
    cut_below: 0.0,
    flips: false,
};

/// Runs [`decode_all`] in a thread; panics (test failure) on a panic, a
/// timeout, an empty error message, or success when `must_fail`.
fn check(path: PathBuf, what: &str) {
    check_strict(path, what, false);
}

fn check_strict(path: PathBuf, what: &str, must_fail: bool) {
    let (tx, rx) = mpsc::channel();
    let p = path.clone();
    let handle = std::thread::spawn(move || {
        let r = decode_all(&p);
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: decoding did not finish within {TIMEOUT:?}")
        }
    }
    match handle.join() {
        Err(_) => panic!("{what}: the decoder panicked"),
        Ok(Ok(frames)) => assert!(
            !must_fail,
            "{what}: decoded {frames} frames without reporting the damage"
        ),
        Ok(Err(msg)) => assert!(
            !msg.trim().is_empty(),
            "{what}: error with an empty message"
        ),
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every damaged variant of `good` (a valid file of extension `ext`).
fn torture(dir: &Path, ext: &str, good: &[u8], strict: MustFail) {
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // The intact file decodes.
    let p = write(&format!("good.{ext}"), good);
    assert!(
        decode_all(&p).is_ok(),
        "{ext}: the intact file must decode: {:?}",
        decode_all(&p)
    );
    // Truncations.
    let n = good.len();
    for cut in [
        0,
        1,
        3,
        4,
        8,
        12,
        27,
        36,
        44,
        100,
        n / 10,
        n / 3,
        n / 2,
        n - 1000.min(n / 2),
        n - 2,
        n - 1,
    ] {
        let p = write(&format!("cut{cut}.{ext}"), &good[..cut.min(n)]);
        let must = (cut as f64) < strict.cut_below * n as f64;
        check_strict(p, &format!("{ext} truncated at {cut} of {n}"), must);
    }
    // Random byte flips, fixed seeds; some near the header, some anywhere.
    for seed in 0..FLIP_VARIANTS {
        let mut rng = tk::Rng::new(1000 + seed);
        let mut bad = good.to_vec();
        for k in 0..8 {
            let span = if k < 3 { 128.min(n) } else { n };
            let at = (rng.next_u64() % span as u64) as usize;
            bad[at] ^= (rng.next_u64() as u8) | 1;
        }
        let p = write(&format!("flip{seed}.{ext}"), &bad);
        check_strict(
            p,
            &format!("{ext} with byte flips (seed {seed})"),
            strict.flips,
        );
    }
    // A run of zeros in the middle (a lost disk block).
    let mut holed = good.to_vec();
    let from = n / 2;
    holed[from..(from + 4096).min(n)].fill(0);
    check_strict(
        write(&format!("hole.{ext}"), &holed),
        &format!("{ext} with a zeroed block"),
        strict.flips,
    );
    // Empty file.
    let p = write(&format!("empty.{ext}"), b"");
    let e = decode::open(&p).err().expect("an empty file is an error");
    assert!(!e.to_string().is_empty());
    // Wrong extension: content decides.
    for other in ["mp3", "flac", "wav", "opus", "m4a"] {
        if other != ext {
            check(
                write(&format!("renamed.{other}"), good),
                &format!("{ext} renamed .{other}"),
            );
        }
    }
}

/// Every byte of an Ogg file is covered by a page CRC, and a stream ends
/// with a page flagged end-of-stream: any cut or flip is detectable.
const OGG: MustFail = MustFail {
    cut_below: 1.0,
    flips: true,
};

fn source_wav(dir: &Path) -> PathBuf {
    let pcm = tk::sine(44_100, 2, 44_100, 16, 440.0, 0.5);
    let p = dir.join("src.wav");
    tk::write_wav(&p, &pcm, 2, 44_100, 16);
    p
}

fn encoded(dir: &Path, out: &str, cmd: &mut Command) -> Vec<u8> {
    run(cmd);
    std::fs::read(dir.join(out)).unwrap()
}

#[test]
fn wav() {
    let dir = tempfile::tempdir().unwrap();
    let good = tk::wav_bytes(&tk::noise(20_000, 2, 24, 3), 2, 48_000, 24);
    torture(dir.path(), "wav", &good, LENIENT);
}

#[test]
fn aiff() {
    if !tk::have_tool("sox") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source_wav(dir.path());
    let good = encoded(
        dir.path(),
        "x.aiff",
        Command::new("sox").arg(&src).arg(dir.path().join("x.aiff")),
    );
    torture(dir.path(), "aiff", &good, LENIENT);
}

#[test]
fn flac() {
    if !tk::have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source_wav(dir.path());
    let good = encoded(
        dir.path(),
        "x.flac",
        Command::new("flac")
            .args(["-s", "-f", "-o"])
            .arg(dir.path().join("x.flac"))
            .arg(&src),
    );
    torture(dir.path(), "flac", &good, LENIENT);
}

#[test]
fn mp3() {
    if !tk::have_tool("lame") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source_wav(dir.path());
    let good = encoded(
        dir.path(),
        "x.mp3",
        Command::new("lame")
            .arg("--quiet")
            .arg(&src)
            .arg(dir.path().join("x.mp3")),
    );
    // LAME writes a Xing frame: losing half the file or more is reported.
    let strict = MustFail {
        cut_below: 0.5,
        flips: false,
    };
    torture(dir.path(), "mp3", &good, strict);
}

#[test]
fn ogg_vorbis() {
    if !tk::have_tool("oggenc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source_wav(dir.path());
    let good = encoded(
        dir.path(),
        "x.ogg",
        Command::new("oggenc")
            .args(["-Q", "-o"])
            .arg(dir.path().join("x.ogg"))
            .arg(&src),
    );
    torture(dir.path(), "ogg", &good, OGG);
}

#[test]
fn opus() {
    if !tk::have_tool("opusenc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source_wav(dir.path());
    let good = encoded(
        dir.path(),
        "x.opus",
        Command::new("opusenc")
            .arg("--quiet")
            .arg(&src)
            .arg(dir.path().join("x.opus")),
    );
    torture(dir.path(), "opus", &good, OGG);
}

#[test]
fn m4a_aac_and_alac() {
    if !tk::have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source_wav(dir.path());
    for codec in ["aac", "alac"] {
        let sub = dir.path().join(codec);
        std::fs::create_dir(&sub).unwrap();
        let good = encoded(
            &sub,
            "x.m4a",
            Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-i"])
                .arg(&src)
                .args(["-c:a", codec])
                .arg(sub.join("x.m4a")),
        );
        torture(&sub, "m4a", &good, LENIENT);
    }
}
