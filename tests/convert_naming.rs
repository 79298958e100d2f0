//! `aj convert --name/--safe-names/--keep-tree/--on-exists/--delete-source`,
//! run for real on temporary folders of generated, tagged WAV and FLAC files.

#![allow(clippy::unwrap_used)]

mod util;

use std::path::{Path, PathBuf};

use aj_codec::tags::{self, TagKey, Tags};
use aj_codec::Format;
use util::{run, s, tree};

const RATE: u32 = 44_100;

/// A short stereo 16-bit WAV (`frames` of a sine) with these tags.
fn tagged_wav(path: &Path, frames: usize, pairs: &[(&str, &str)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let samples = aj_testkit::sine(frames, 2, RATE, 16, 440.0, 0.25);
    aj_testkit::write_wav(path, &samples, 2, RATE, 16);
    tags::write(path, Format::Wav, &tag_list(pairs)).unwrap();
}

/// A FLAC made by `aj convert` from a WAV, then tagged.
fn tagged_flac(path: &Path, pairs: &[(&str, &str)]) {
    let wav = path.with_extension("src.wav");
    tagged_wav(&wav, 4410, &[]);
    let r = run(&[
        "convert",
        s(&wav),
        "-f",
        "flac",
        "-o",
        s(path.parent().unwrap()),
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    std::fs::remove_file(&wav).unwrap();
    std::fs::rename(path.with_extension("src.flac"), path).unwrap();
    tags::write(path, Format::Flac, &tag_list(pairs)).unwrap();
}

fn tag_list(pairs: &[(&str, &str)]) -> Tags {
    let mut t = Tags::new();
    for (k, v) in pairs {
        t.push(TagKey::from_name(k), *v);
    }
    t
}

fn paths(v: &[&str]) -> Vec<PathBuf> {
    v.iter().map(PathBuf::from).collect()
}

const TEMPLATE: &str = "{albumartist|artist}/{album} ({date:4})/{disc}{track:02} - {title}";

#[test]
fn template_lays_out_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inp = d.join("in");
    tagged_wav(
        &inp.join("rip/t1.wav"),
        4410,
        &[
            ("ARTIST", "Band"),
            ("ALBUM", "First"),
            ("DATE", "1999-03-01"),
            ("TRACKNUMBER", "1/2"),
            ("TITLE", "Hello: World?"),
        ],
    );
    tagged_flac(
        &inp.join("rip/t2.flac"),
        &[
            ("ARTIST", "Guest"),
            ("ALBUMARTIST", "Band"),
            ("ALBUM", "First"),
            ("DATE", "1999"),
            ("TRACKNUMBER", "2"),
            ("TITLE", "Bye"),
        ],
    );
    for (n, disc) in [(1, "1/2"), (2, "2/2")] {
        tagged_wav(
            &inp.join(format!("box/d{n}.wav")),
            4410,
            &[
                ("ARTIST", "Other"),
                ("ALBUM", "Box"),
                ("TRACKNUMBER", "5"),
                ("DISCNUMBER", disc),
                ("TITLE", "Song"),
            ],
        );
    }
    // No tags: the file name is used; the folders left empty are dropped.
    tagged_wav(&inp.join("loose.wav"), 4410, &[]);
    let out = d.join("out");
    let r = run(&[
        "convert",
        s(&inp),
        "-f",
        "flac",
        "-o",
        s(&out),
        "--name",
        TEMPLATE,
        "--safe-names",
        "windows",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        tree(&out),
        paths(&[
            "Band/First (1999)/01 - Hello_ World_.flac",
            "Band/First (1999)/02 - Bye.flac",
            "Other/Box/105 - Song.flac",
            "Other/Box/205 - Song.flac",
            "loose.flac",
        ])
    );
    // Tags are carried over as always.
    let t = tags::read(&out.join("Band/First (1999)/02 - Bye.flac")).unwrap();
    assert_eq!(t.get(&TagKey::Artist), Some("Guest"));

    // --keep-tree: the input's sub-folders, the template naming the file.
    let kept = d.join("kept");
    let r = run(&[
        "convert",
        s(&inp),
        "-f",
        "wav",
        "-o",
        s(&kept),
        "--name",
        "{disc}{track:02} {title}",
        "--keep-tree",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        tree(&kept),
        paths(&[
            "box/105 Song.wav",
            "box/205 Song.wav",
            "loose.wav",
            "rip/01 Hello: World?.wav",
            "rip/02 Bye.wav",
        ])
    );
}

#[test]
fn collisions_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tagged_wav(
        &d.join("in/a.wav"),
        4410,
        &[("ALBUM", "A"), ("TITLE", "Same")],
    );
    tagged_wav(
        &d.join("in/b.wav"),
        4410,
        &[("ALBUM", "A"), ("TITLE", "Same")],
    );
    tagged_wav(
        &d.join("in/c.wav"),
        4410,
        &[("ALBUM", "A"), ("TITLE", "Else")],
    );
    let out = d.join("out");
    let r = run(&[
        "convert",
        s(&d.join("in")),
        "-f",
        "flac",
        "-o",
        s(&out),
        "--name",
        "{album}/{title}",
        "--json",
    ]);
    assert_eq!(r.status, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("a.wav") && r.stderr.contains("b.wav"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Same.flac"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "no job ran: {}", r.stdout);
    assert!(!out.exists(), "nothing written");
}

#[test]
fn template_errors_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    tagged_wav(&wav, 441, &[]);
    let r = run(&["convert", s(&wav), "-f", "flac", "--name", "{album}/{title"]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("character 9"), "{}", r.stderr);
    let r = run(&[
        "convert",
        s(&wav),
        "-f",
        "flac",
        "--name",
        "{title}",
        "--safe-names",
        "dos",
    ]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("posix or windows"), "{}", r.stderr);
    let r = run(&["convert", s(&wav), "-f", "flac", "--keep-tree"]);
    assert_eq!(r.status, 2, "--keep-tree needs --name");
    let r = run(&[
        "convert",
        s(&wav),
        "-f",
        "flac",
        "--on-exists",
        "rename",
        "--overwrite",
    ]);
    assert_eq!(r.status, 2, "--overwrite is --on-exists overwrite");
    let r = run(&["convert", s(&wav), "-f", "flac", "--on-exists", "later"]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("skip, overwrite or rename"),
        "{}",
        r.stderr
    );
}

#[test]
fn on_exists_rename_numbers_and_never_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wav = d.join("in/x.wav");
    tagged_wav(&wav, 4410, &[("TITLE", "Song")]);
    let out = d.join("out");
    let args = |policy: &str| -> Vec<String> {
        [
            "convert",
            s(&wav),
            "-f",
            "flac",
            "-o",
            s(&out),
            "--name",
            "{title}",
            "--json",
            "--on-exists",
            policy,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let go = |policy: &str| {
        let a = args(policy);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&a)
    };
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("Song.flac"), b"mine").unwrap();
    let r = go("skip");
    assert_eq!(r.status, 0);
    assert_eq!(r.named("file_skipped").len(), 1);
    for n in 1..=2 {
        let r = go("rename");
        assert_eq!(r.status, 0, "{}", r.stderr);
        let done = r.named("file_done");
        let want = out.join(format!("Song ({n}).flac"));
        assert_eq!(done[0]["output"], s(&want));
        assert!(want.is_file());
    }
    assert_eq!(std::fs::read(out.join("Song.flac")).unwrap(), b"mine");
    assert_eq!(
        tree(&out),
        paths(&["Song (1).flac", "Song (2).flac", "Song.flac"])
    );
    let r = go("overwrite");
    assert_eq!(r.status, 0);
    assert_ne!(std::fs::read(out.join("Song.flac")).unwrap(), b"mine");
    assert_eq!(tree(&out).len(), 3);
}

#[test]
fn delete_source_only_after_a_checked_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Lossless, verified: deleted.
    let a = d.join("in/a.wav");
    tagged_wav(&a, 4410, &[("TITLE", "A")]);
    // Lossy: deleted after the output decoded to its full length.
    let b = d.join("in/b.wav");
    tagged_wav(&b, 44_100, &[("TITLE", "B")]);
    let r = run(&[
        "convert",
        s(&a),
        "-f",
        "flac",
        "-o",
        s(&d.join("out")),
        "--delete-source",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let done = &r.named("file_done")[0];
    assert_eq!(done["verified"], true);
    assert_eq!(done["deleted_source"], s(&a));
    assert_eq!(r.summary()["deleted"], 1);
    assert!(!a.exists() && d.join("out/a.flac").is_file());

    let r = run(&[
        "convert",
        s(&b),
        "-f",
        "mp3",
        "-o",
        s(&d.join("out")),
        "--delete-source",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.named("file_done")[0]["deleted_source"], s(&b));
    assert!(!b.exists() && d.join("out/b.mp3").is_file());

    // Skipped (its output exists): kept.
    let c = d.join("in/c.wav");
    tagged_wav(&c, 4410, &[]);
    std::fs::write(d.join("out/c.flac"), b"there").unwrap();
    let r = run(&[
        "convert",
        s(&c),
        "-f",
        "flac",
        "-o",
        s(&d.join("out")),
        "--delete-source",
        "--json",
    ]);
    assert_eq!(r.status, 0);
    assert_eq!(r.named("file_skipped").len(), 1);
    assert!(r.summary().get("deleted").is_none());
    assert!(c.exists());

    // The output would be the input itself: skipped, kept.
    let r = run(&["convert", s(&c), "-f", "wav", "--delete-source", "--json"]);
    assert_eq!(r.status, 0);
    assert_eq!(r.named("file_skipped").len(), 1);
    assert!(c.exists());
    let r = run(&[
        "convert",
        s(&c),
        "-f",
        "wav",
        "--name",
        "{filename}",
        "--on-exists",
        "overwrite",
        "--delete-source",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.named("file_skipped").len(), 1);
    assert!(c.exists());

    // Failed (not audio): kept, and nothing written.
    let bad = d.join("in/bad.wav");
    std::fs::write(&bad, b"RIFF\x04\x00\x00\x00WAVEjunk").unwrap();
    let r = run(&[
        "convert",
        s(&bad),
        "-f",
        "flac",
        "-o",
        s(&d.join("bad")),
        "--delete-source",
        "--json",
    ]);
    assert_eq!(r.status, 1);
    assert_eq!(r.named("file_failed").len(), 1);
    assert!(bad.exists());
    assert!(!d.join("bad").exists());

    // --no-verify: the lossless output is decoded to its end before deleting.
    let e = d.join("in/e.wav");
    tagged_wav(&e, 4410, &[]);
    let r = run(&[
        "convert",
        s(&e),
        "-f",
        "aiff",
        "-o",
        s(&d.join("out")),
        "--no-verify",
        "--delete-source",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.named("file_done")[0]["verified"], false);
    assert_eq!(r.named("file_done")[0]["deleted_source"], s(&e));
    assert!(!e.exists());
}

/// The daemon refuses such a job with a 400 before queueing it.
#[test]
fn daemon_refuses_colliding_names_and_bad_templates() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    tagged_wav(&root.join("in/a.wav"), 441, &[("TITLE", "Same")]);
    tagged_wav(&root.join("in/b.wav"), 441, &[("TITLE", "Same")]);
    let library = aj_server::library::Library::new(std::slice::from_ref(&root)).unwrap();
    let job = |name: &str| {
        let mut spec = aj_jobs::ConvertSpec::new(vec![root.join("in")], Format::Flac);
        spec.output_dir = Some(root.join("out"));
        spec.name = Some(name.into());
        aj_jobs::JobSpec::Convert(spec)
    };
    let e = library.confine(job("{title}")).unwrap_err();
    assert_eq!(e.status.as_u16(), 400);
    let e = library.confine(job("{title")).unwrap_err();
    assert_eq!(e.status.as_u16(), 400);
    assert!(library.confine(job("{filename}")).is_ok());
}
