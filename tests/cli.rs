//! The `aj` binary, run for real on temporary folders.

#![allow(clippy::unwrap_used)]

mod util;

use std::path::Path;

use aj_testkit::{noise, sine, write_wav};
use util::{decode_all, run, s, tree};

const RATE: u32 = 44100;

fn stereo_wav(dir: &Path, name: &str, seconds: f64) -> std::path::PathBuf {
    let p = dir.join(name);
    let frames = (seconds * f64::from(RATE)) as usize;
    write_wav(&p, &sine(frames, 2, RATE, 16, 440.0, 0.5), 2, RATE, 16);
    p
}

#[test]
fn wav_to_flac_is_bit_exact_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 30_001;
    let input = dir.path().join("noise.wav");
    let samples = noise(frames, 2, 24, 11);
    write_wav(&input, &samples, 2, 48000, 24);
    let out = dir.path().join("out");

    let r = run(&["convert", s(&input), "-f", "flac", "-o", s(&out), "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let done = r.named("file_done");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["verified"], true);
    assert_eq!(done[0]["input"], s(&input));
    assert_eq!(done[0]["frames"], frames as u64);
    let flac = out.join("noise.flac");
    assert_eq!(done[0]["output"], s(&flac));
    assert_eq!(r.summary()["ok"], 1);

    let (spec, back) = decode_all(&flac);
    assert_eq!(spec, aj_core::AudioSpec::int(48000, 2, 24));
    assert_eq!(back, samples);
    assert_eq!(tree(&out), vec![Path::new("noise.flac").to_path_buf()]);
}

#[test]
fn every_output_format_from_one_wav() {
    let dir = tempfile::tempdir().unwrap();
    let input = stereo_wav(dir.path(), "tone.wav", 1.0);
    for (fmt, container) in [
        ("wav", "WAVE"),
        ("aiff", "AIFF"),
        ("flac", "FLAC"),
        ("mp3", "MP3"),
        ("ogg", "Ogg"),
        ("opus", "Ogg"),
    ] {
        let out = dir.path().join(fmt);
        let r = run(&["convert", s(&input), "-f", fmt, "-o", s(&out), "--json"]);
        assert_eq!(r.status, 0, "{fmt}: {}", r.stderr);
        let file = out.join(format!("tone.{fmt}"));
        let info = run(&["info", "--json", s(&file)]);
        assert_eq!(info.status, 0, "{fmt}: {}", info.stderr);
        let v = &info.events()[0];
        assert!(
            v["container"].as_str().unwrap().starts_with(container),
            "{fmt}: {v}"
        );
        assert_eq!(v["channels"], 2, "{fmt}");
        let (spec, samples) = decode_all(&file);
        let expect = if fmt == "opus" { 48000 } else { RATE };
        assert_eq!(spec.sample_rate, expect, "{fmt}");
        // Gapless: every format gives back the exact length (Opus at 48 kHz).
        assert_eq!(samples.len() as u64, 2 * u64::from(expect), "{fmt} length");
        let lossless = matches!(fmt, "wav" | "aiff" | "flac");
        assert_eq!(r.named("file_done")[0]["verified"], lossless, "{fmt}");
    }
}

#[test]
fn existing_outputs_are_skipped_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let input = stereo_wav(dir.path(), "a.wav", 0.2);
    let target = dir.path().join("a.flac");
    std::fs::write(&target, b"keep me").unwrap();

    let r = run(&["convert", s(&input), "-f", "flac", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let skipped = r.named("file_skipped");
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("--overwrite"));
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");

    let r = run(&["convert", s(&input), "-f", "flac", "--json", "--overwrite"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.summary()["ok"], 1);
    assert_ne!(std::fs::read(&target).unwrap(), b"keep me");
}

#[test]
fn a_bad_file_fails_alone_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = stereo_wav(dir.path(), "good.wav", 0.2);
    let bad = dir.path().join("bad.wav");
    let mut bytes = std::fs::read(&good).unwrap();
    bytes.truncate(30);
    std::fs::write(&bad, &bytes).unwrap();
    let empty = dir.path().join("empty.flac");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.mp3");
    std::fs::write(&text, b"this is not audio at all, just some text in a file").unwrap();
    let missing = dir.path().join("missing.wav");
    let out = dir.path().join("out");

    let r = run(&[
        "convert",
        s(&bad),
        s(&good),
        s(&empty),
        s(&text),
        s(&missing),
        "-f",
        "flac",
        "-o",
        s(&out),
        "--json",
    ]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let failed = r.named("file_failed");
    assert_eq!(failed.len(), 4, "{}", r.stdout);
    for f in &failed {
        let err = f["error"].as_str().unwrap();
        assert!(!err.is_empty() && !err.contains("panicked"), "{err}");
    }
    assert!(failed.iter().any(
        |f| f["input"] == s(&missing) && f["error"].as_str().unwrap().contains("no such file")
    ));
    let sum = r.summary();
    assert_eq!(
        (sum["ok"].as_u64(), sum["failed"].as_u64()),
        (Some(1), Some(4))
    );
    assert_eq!(tree(&out), vec![Path::new("good.flac").to_path_buf()]);
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn folders_are_recursed_and_their_tree_kept() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(lib.join("artist/album")).unwrap();
    stereo_wav(&lib, "top.wav", 0.1);
    stereo_wav(&lib.join("artist/album"), "01.wav", 0.1);
    std::fs::write(lib.join("artist/cover.txt"), b"not audio").unwrap();
    let out = dir.path().join("out");

    let r = run(&[
        "convert",
        s(&lib),
        "-f",
        "aiff",
        "-o",
        s(&out),
        "-j",
        "2",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let started = r.named("job_started");
    assert_eq!(started[0]["files"], 2);
    assert_eq!(
        tree(&out),
        vec![
            Path::new("artist/album/01.aiff").to_path_buf(),
            "top.aiff".into()
        ]
    );
}

#[test]
fn output_that_would_replace_its_input_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = stereo_wav(dir.path(), "x.wav", 0.1);
    let before = std::fs::read(&input).unwrap();
    let r = run(&["convert", s(&input), "-f", "wav", "--overwrite", "--json"]);
    assert_eq!(r.status, 0);
    assert!(r.named("file_skipped")[0]["reason"]
        .as_str()
        .unwrap()
        .contains("replace the input"));
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn rerun_with_output_inside_the_input_folder_converts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("album");
    std::fs::create_dir(&lib).unwrap();
    stereo_wav(&lib, "one.wav", 0.1);
    let out = lib.join("flac");
    for round in 0..2 {
        let r = run(&["convert", s(&lib), "-f", "flac", "-o", s(&out), "--json"]);
        assert_eq!(r.status, 0, "round {round}: {}", r.stderr);
    }
    assert_eq!(
        tree(&lib),
        vec![Path::new("flac/one.flac").to_path_buf(), "one.wav".into()]
    );
}

#[test]
fn lossy_to_wav_is_16_bit() {
    let dir = tempfile::tempdir().unwrap();
    let input = stereo_wav(dir.path(), "l.wav", 0.5);
    let r = run(&["convert", s(&input), "-f", "ogg", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let out = dir.path().join("wav");
    let r = run(&[
        "convert",
        s(&dir.path().join("l.ogg")),
        "-f",
        "wav",
        "-o",
        s(&out),
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let (spec, _) = decode_all(&out.join("l.wav"));
    assert_eq!(spec, aj_core::AudioSpec::int(RATE, 2, 16));
}

#[cfg(unix)]
#[test]
fn json_shows_paths_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.wav");
    let input = dir.path().join(name);
    std::fs::copy(stereo_wav(dir.path(), "src.wav", 0.1), &input).unwrap();
    let out = util::aj()
        .arg("convert")
        .arg(&input)
        .args(["-f", "flac", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let done: Vec<_> = text
        .lines()
        .filter(|l| l.contains("\"file_done\""))
        .collect();
    assert_eq!(done.len(), 1, "{text}");
    assert!(done[0].contains("caf\u{fffd}.flac"), "{}", done[0]);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = stereo_wav(dir.path(), "u.wav", 0.1);
    for (args, needle) in [
        (vec!["-f", "wma"], "unknown format"),
        (vec!["-f", "flac", "--level", "9"], "out of range"),
        (vec!["-f", "mp3", "--level", "5"], "FLAC only"),
        (vec!["-f", "mp3", "--quality", "10"], "out of range"),
        (vec!["-f", "opus", "--bitrate", "1000"], "out of range"),
        (vec!["-f", "mp3", "--bitrate", "100"], "not an MP3 bitrate"),
        (vec!["-f", "ogg", "--abr", "100"], "MP3 only"),
        (vec!["-f", "mp3", "--abr", "400"], "out of range"),
        (
            vec!["-f", "mp3", "--abr", "100", "-b", "128"],
            "cannot be used with",
        ),
        (vec!["-f", "mp3", "-q", "2", "-b", "192"], "not both"),
        (vec!["-f", "flac", "-j", "0"], "at least 1"),
    ] {
        let mut all = vec!["convert", s(&input)];
        all.extend(args);
        let r = run(&all);
        assert_eq!(r.status, 2, "{all:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{all:?}: {}", r.stderr);
    }
    assert_eq!(run(&["convert", "-f", "flac"]).status, 2);
    assert_eq!(run(&["frobnicate"]).status, 2);
}

#[test]
fn unwritable_output_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = stereo_wav(dir.path(), "w.wav", 0.1);
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let r = run(&[
        "convert",
        s(&input),
        "-f",
        "flac",
        "-o",
        s(&blocker.join("sub")),
        "--json",
    ]);
    assert_eq!(r.status, 1);
    let err = r.named("file_failed")[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("cannot create folder"), "{err}");
}

#[test]
fn plain_lines_when_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let input = stereo_wav(dir.path(), "p.wav", 0.1);
    let r = run(&["convert", s(&input), "-f", "flac"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("done") && r.stderr.contains("p.flac (verified)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("1 converted, 0 failed, 0 skipped"),
        "{}",
        r.stderr
    );
}

#[test]
fn info_describes_stream_and_duration() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("i.wav");
    write_wav(
        &input,
        &sine(22050, 1, 22050, 16, 1000.0, 0.5),
        1,
        22050,
        16,
    );
    let r = run(&["info", "--json", s(&input)]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v = &r.events()[0];
    assert_eq!(v["sample_rate"], 22050);
    assert_eq!(v["channels"], 1);
    assert_eq!(v["bits_per_sample"], 16);
    assert_eq!(v["total_frames"], 22050);
    assert_eq!(v["duration_seconds"], 1.0);
    assert_eq!(v["lossless"], true);

    let human = run(&["info", s(&input)]);
    assert!(
        human.stdout.contains("22050 Hz, 1 channel, 16 bit"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("0:01.000"), "{}", human.stdout);

    let r = run(&["info", s(&dir.path().join("nope.flac"))]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("nope.flac"), "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn interrupt_leaves_no_partial_output() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for i in 0..4 {
        let p = src.join(format!("{i}.wav"));
        write_wav(&p, &noise(RATE as usize * 20, 2, 16, i), 2, RATE, 16);
    }
    let out = dir.path().join("out");
    let mut child = util::aj()
        .args([
            "convert",
            s(&src),
            "-f",
            "flac",
            "--level",
            "8",
            "-j",
            "1",
            "-o",
            s(&out),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let started = line.contains("\"file_started\"");
        seen.push(line);
        if started {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    seen.extend(lines.map(Result::unwrap));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{seen:?}");
    let last: serde_json::Value = serde_json::from_str(seen.last().unwrap()).unwrap();
    assert_eq!(last["event"], "summary");
    assert_eq!(last["cancelled"], true);
    // Whatever finished is complete; nothing partial or temporary remains.
    let left = if out.exists() { tree(&out) } else { vec![] };
    for f in &left {
        assert!(!f.to_string_lossy().contains("aj-tmp"), "{left:?}");
        let (_, samples) = decode_all(&out.join(f));
        assert_eq!(samples.len(), RATE as usize * 40);
    }
    assert!(
        left.len() < 4,
        "the interrupt came too late to test anything: {left:?}"
    );
}

/// Peak resident memory (VmHWM, KiB) of `aj` converting `input`, sampled from
/// /proc while it runs.
#[cfg(target_os = "linux")]
fn peak_rss_kib(args: &[&str]) -> u64 {
    let mut child = util::aj()
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            if let Some(kib) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "{args:?}");
            return peak;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn memory_does_not_grow_with_input_length() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.wav");
    let long = dir.path().join("long.wav");
    write_wav(&short, &noise(RATE as usize * 5, 2, 16, 1), 2, RATE, 16);
    // 12x longer: 60 s, 10 MB.
    write_wav(&long, &noise(RATE as usize * 60, 2, 16, 2), 2, RATE, 16);
    let out = dir.path().join("out");
    let a = peak_rss_kib(&["convert", s(&short), "-f", "flac", "-o", s(&out), "-j", "1"]);
    let b = peak_rss_kib(&["convert", s(&long), "-f", "flac", "-o", s(&out), "-j", "1"]);
    // A whole-file buffer of the long input would add 10 MB at least.
    assert!(
        b < a + 6 * 1024,
        "peak RSS {a} KiB for 5 s, {b} KiB for 60 s"
    );
}

/// A full disk: a 256 KiB tmpfs (needs root and mount; CI has both).
#[cfg(target_os = "linux")]
#[test]
fn full_disk_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.wav");
    write_wav(&input, &noise(RATE as usize * 3, 2, 16, 5), 2, RATE, 16);
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs", s(&small)])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        assert!(
            !aj_testkit::tools_required(),
            "cannot mount a small tmpfs (root is needed)"
        );
        eprintln!("skipping: cannot mount a small tmpfs to fill");
        return;
    }
    let r = run(&["convert", s(&input), "-f", "wav", "-o", s(&small), "--json"]);
    let left = tree(&small);
    let _ = std::process::Command::new("umount").arg(s(&small)).status();
    assert_eq!(r.status, 1, "{}", r.stdout);
    let err = r.named("file_failed")[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.contains("No space left") && err.contains("big.wav"),
        "{err}"
    );
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[cfg(unix)]
#[test]
fn second_interrupt_quits_at_once_and_still_cleans_up() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.wav");
    write_wav(&input, &noise(RATE as usize * 60, 2, 16, 9), 2, RATE, 16);
    let out = dir.path().join("out");
    let mut child = util::aj()
        .args([
            "convert",
            s(&input),
            "-f",
            "flac",
            "--level",
            "8",
            "-o",
            s(&out),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("\"file_started\"") {
            break;
        }
    }
    let pid = child.id().to_string();
    for _ in 0..2 {
        assert!(std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    lines.for_each(drop);
    let status = child.wait().unwrap();
    assert!(matches!(status.code(), Some(130) | Some(1)), "{status:?}");
    let left = if out.exists() { tree(&out) } else { vec![] };
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn threads_inside_one_file_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("one.wav");
    // Long enough for several batches of frames.
    write_wav(&input, &noise(RATE as usize * 8, 2, 16, 21), 2, RATE, 16);
    let mut outs = Vec::new();
    for j in ["1", "2"] {
        let out = dir.path().join(format!("j{j}"));
        let r = run(&[
            "convert",
            s(&input),
            "-f",
            "flac",
            "-j",
            j,
            "-o",
            s(&out),
            "--json",
        ]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert_eq!(r.named("job_started")[0]["threads"], 1);
        outs.push(std::fs::read(out.join("one.flac")).unwrap());
    }
    assert!(outs[0] == outs[1], "-j 2 changed the FLAC bytes");
}
