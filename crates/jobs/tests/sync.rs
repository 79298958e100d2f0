//! The sync job on generated libraries: what each run converts, rewrites,
//! copies, links, deletes or leaves alone, and that its state carries over
//! interruptions and other machines.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aj_codec::tags::{self, Picture, PictureKind, TagKey};
use aj_codec::Format;
use aj_core::CancelToken;
use aj_jobs::sync::{LossyPolicy, SyncSpec, SyncTotals, STATE_FILE};
use aj_jobs::{ConvertSpec, Event, JobSpec, Summary};

/// A tenth of a second of a stereo 16-bit sine at 44.1 kHz.
fn wav(path: &Path, freq: f64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let s = aj_testkit::sine(4410, 2, 44_100, 16, freq, 0.5);
    aj_testkit::write_wav(path, &s, 2, 44_100, 16);
}

/// Converts a WAV made here into `format` at `path` (the WAV is removed).
fn encoded(path: &Path, freq: f64, format: Format) {
    let tmp = path.with_extension("src.wav");
    wav(&tmp, freq);
    let mut spec = ConvertSpec::new(vec![tmp.clone()], format);
    spec.output_dir = Some(path.parent().unwrap().to_path_buf());
    spec.threads = 1;
    let s = aj_jobs::run(&JobSpec::Convert(spec), &CancelToken::new(), &|_| {});
    assert!(s.success(), "{s:?}");
    std::fs::rename(tmp.with_extension(format.extension()), path).unwrap();
    std::fs::remove_file(&tmp).unwrap();
}

fn set_title(path: &Path, format: Format, title: &str) {
    let mut t = tags::read(path).unwrap();
    t.set(TagKey::Title, title);
    tags::write(path, format, &t).unwrap();
}

struct Ran {
    events: Vec<Event>,
    summary: Summary,
}

impl Ran {
    fn totals(&self) -> SyncTotals {
        self.summary.sync.unwrap()
    }

    fn started(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::FileStarted { .. }))
            .count()
    }

    fn reasons(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::FileSkipped { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Warning { message } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }
}

fn sync_with(spec: &SyncSpec, cancel: &CancelToken) -> Ran {
    let events = Mutex::new(Vec::new());
    let summary = aj_jobs::run(&JobSpec::Sync(spec.clone()), cancel, &|e| {
        events.lock().unwrap().push(e)
    });
    Ran {
        events: events.into_inner().unwrap(),
        summary,
    }
}

fn sync(spec: &SyncSpec) -> Ran {
    let r = sync_with(spec, &CancelToken::new());
    assert_eq!(r.summary.failed, 0, "{:?}", r.events);
    r
}

fn spec(src: &Path, dst: &Path, format: Format) -> SyncSpec {
    let mut s = SyncSpec::new(src.to_path_buf(), dst.to_path_buf(), format);
    s.threads = 2;
    s
}

fn samples(path: &Path) -> Vec<i32> {
    let mut d = aj_codec::decode::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(b) = d.read(4096).unwrap() {
        match b.samples {
            aj_core::Samples::Int(v) => out.extend(v),
            aj_core::Samples::Float(v) => out.extend(v.iter().map(|x| x.to_bits() as i32)),
        }
    }
    out
}

#[test]
fn new_files_are_converted_and_a_second_run_converts_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    wav(&src.join("A/one.wav"), 440.0);
    wav(&src.join("A/two.wav"), 550.0);
    encoded(&src.join("B/three.flac"), 660.0, Format::Flac);
    std::fs::write(src.join("A/notes.txt"), "not music").unwrap();
    let s = spec(&src, &dst, Format::Flac);

    let r = sync(&s);
    let totals = r.totals();
    assert_eq!((totals.converted, totals.copied), (2, 1), "{:?}", r.events);
    assert_eq!(r.started(), 2);
    assert!(dst.join(STATE_FILE).exists());
    assert_eq!(
        samples(&dst.join("A/one.flac")),
        samples(&src.join("A/one.wav"))
    );
    // Already FLAC: copied byte for byte.
    assert_eq!(
        std::fs::read(dst.join("B/three.flac")).unwrap(),
        std::fs::read(src.join("B/three.flac")).unwrap()
    );
    assert!(!dst.join("A/notes.txt").exists());

    let r = sync(&s);
    assert_eq!(r.totals().unchanged, 3, "{:?}", r.events);
    assert_eq!(r.totals().converted + r.totals().copied, 0);
    assert_eq!(r.started(), 0);
    assert!(r.reasons().iter().all(|x| x == "unchanged"));
}

#[test]
fn tags_alone_are_rewritten_and_new_audio_is_converted_again() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    let one = src.join("one.wav");
    wav(&one, 440.0);
    set_title(&one, Format::Wav, "First");
    let s = spec(&src, &dst, Format::Mp3);
    sync(&s);
    let out = dst.join("one.mp3");
    let before = samples(&out);
    assert_eq!(tags::read(&out).unwrap().get(&TagKey::Title), Some("First"));

    // Only the title changes: the mirror's tags are rewritten, no encoding.
    set_title(&one, Format::Wav, "Second");
    let r = sync(&s);
    assert_eq!(r.totals().retagged, 1, "{:?}", r.events);
    assert_eq!(r.totals().converted, 0);
    assert_eq!(r.started(), 0);
    assert_eq!(
        tags::read(&out).unwrap().get(&TagKey::Title),
        Some("Second")
    );
    assert_eq!(samples(&out), before, "the audio was not touched");
    // And that is remembered.
    assert_eq!(sync(&s).totals().unchanged, 1);

    // New audio: converted again.
    let s2 = aj_testkit::sine(4410, 2, 44_100, 16, 880.0, 0.5);
    aj_testkit::write_wav(&one, &s2, 2, 44_100, 16);
    let r = sync(&s);
    assert_eq!(r.totals().converted, 1, "{:?}", r.events);
    assert_ne!(samples(&out), before);

    // Touched, same content: nothing but a note in the state.
    let f = std::fs::File::options().append(true).open(&one).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(f);
    let r = sync(&s);
    assert_eq!(r.totals().unchanged, 1, "{:?}", r.events);
}

#[test]
fn a_mirror_file_changed_by_hand_is_made_again() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    wav(&src.join("one.wav"), 440.0);
    let s = spec(&src, &dst, Format::Flac);
    sync(&s);
    let out = dst.join("one.flac");
    let good = std::fs::read(&out).unwrap();
    std::fs::write(&out, b"edited by hand").unwrap();
    let r = sync(&s);
    assert_eq!(r.totals().converted, 1, "{:?}", r.events);
    assert!(r
        .warnings()
        .iter()
        .any(|w| w.contains("changed since the last sync")));
    assert_eq!(std::fs::read(&out).unwrap(), good);
    std::fs::remove_file(&out).unwrap();
    assert_eq!(sync(&s).totals().converted, 1);
    assert!(out.exists());
}

#[test]
fn gone_sources_are_kept_unless_delete_and_dry_run_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    wav(&src.join("keep.wav"), 440.0);
    wav(&src.join("Old/gone.wav"), 550.0);
    let mut s = spec(&src, &dst, Format::Flac);
    sync(&s);
    std::fs::write(dst.join("mine.txt"), "the user's own file").unwrap();
    std::fs::remove_dir_all(src.join("Old")).unwrap();

    let r = sync(&s);
    assert_eq!(r.totals().kept, 1, "{:?}", r.events);
    assert!(dst.join("Old/gone.flac").exists());

    s.delete = true;
    s.dry_run = true;
    let state_before = std::fs::read(dst.join(STATE_FILE)).unwrap();
    let r = sync(&s);
    assert!(r.totals().dry_run);
    assert_eq!(r.totals().deleted, 1, "{:?}", r.events);
    assert!(r
        .reasons()
        .iter()
        .any(|x| x.starts_with("dry run: would delete")));
    assert!(dst.join("Old/gone.flac").exists());
    assert_eq!(std::fs::read(dst.join(STATE_FILE)).unwrap(), state_before);

    s.dry_run = false;
    let r = sync(&s);
    assert_eq!(r.totals().deleted, 1, "{:?}", r.events);
    assert_eq!(r.totals().foreign, 1);
    assert!(!dst.join("Old").exists(), "the emptied folder is removed");
    assert!(dst.join("mine.txt").exists());
    assert!(dst.join("keep.flac").exists());
    assert_eq!(sync(&s).totals().deleted, 0);
}

#[test]
fn a_dry_run_on_a_new_mirror_creates_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    wav(&src.join("one.wav"), 440.0);
    let mut s = spec(&src, &dst, Format::Flac);
    s.dry_run = true;
    let r = sync(&s);
    assert_eq!(r.totals().converted, 1);
    assert_eq!(r.reasons(), ["dry run: would convert (new)"]);
    assert!(!dst.exists());
}

#[test]
fn lossy_sources_are_copied_skipped_or_converted() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    encoded(&src.join("song.mp3"), 440.0, Format::Mp3);
    wav(&src.join("other.wav"), 550.0);
    let mut s = spec(&src, &dst, Format::Opus);

    let r = sync(&s);
    assert_eq!(
        (r.totals().copied, r.totals().converted),
        (1, 1),
        "{:?}",
        r.events
    );
    assert_eq!(
        std::fs::read(dst.join("song.mp3")).unwrap(),
        std::fs::read(src.join("song.mp3")).unwrap()
    );
    assert!(dst.join("other.opus").exists());

    s.lossy = LossyPolicy::Skip;
    s.delete = true;
    let r = sync(&s);
    assert_eq!(r.totals().left_out, 1, "{:?}", r.events);
    assert!(
        !dst.join("song.mp3").exists(),
        "the copy goes with --delete"
    );
    assert_eq!(
        r.totals().converted,
        0,
        "the settings of conversions did not change"
    );

    s.lossy = LossyPolicy::Convert;
    let r = sync(&s);
    assert_eq!(r.totals().converted, 1, "{:?}", r.events);
    assert!(dst.join("song.opus").exists());
}

#[cfg(unix)]
#[test]
fn sources_in_the_target_format_are_hard_linked() {
    use std::os::unix::fs::MetadataExt;
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    encoded(&src.join("a.flac"), 440.0, Format::Flac);
    let mut s = spec(&src, &dst, Format::Flac);
    s.link = true;
    let r = sync(&s);
    assert_eq!(r.totals().linked, 1, "{:?}", r.events);
    let (a, b) = (
        std::fs::metadata(src.join("a.flac")).unwrap(),
        std::fs::metadata(dst.join("a.flac")).unwrap(),
    );
    assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()));
    assert_eq!(sync(&s).totals().unchanged, 1);
}

#[test]
fn covers_are_carried_and_embedded_art_is_scaled() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    let song = src.join("Album/01.flac");
    encoded(&song, 440.0, Format::Flac);
    let big = {
        let img = image::RgbImage::from_fn(1200, 900, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, 7])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out, 85,
            ))
            .unwrap();
        out
    };
    let mut tg = tags::read(&song).unwrap();
    tg.pictures
        .push(Picture::new(PictureKind::FrontCover, "", big.clone()));
    tags::write(&song, Format::Flac, &tg).unwrap();
    std::fs::write(src.join("Album/folder.jpg"), &big).unwrap();
    std::fs::write(src.join("Album/Cover.PNG"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(src.join("Album/scan-back.jpg"), b"x").unwrap();
    std::fs::create_dir_all(src.join("Pictures")).unwrap();
    std::fs::write(src.join("Pictures/folder.jpg"), b"no music here").unwrap();

    let mut s = spec(&src, &dst, Format::Mp3);
    s.art_max = Some(600);
    let r = sync(&s);
    assert_eq!(r.totals().copied, 2, "{:?}", r.events);
    assert_eq!(std::fs::read(dst.join("Album/folder.jpg")).unwrap(), big);
    assert!(dst.join("Album/Cover.PNG").exists());
    assert!(!dst.join("Album/scan-back.jpg").exists());
    assert!(!dst.join("Pictures").exists());

    let pic = tags::read(&dst.join("Album/01.mp3")).unwrap().pictures;
    assert_eq!(pic.len(), 1);
    let img = image::load_from_memory(&pic[0].data).unwrap();
    assert!(
        img.width() <= 600 && img.height() <= 600,
        "{}x{}",
        img.width(),
        img.height()
    );
    assert_eq!(img.width(), 600);
    // Recorded after scaling: the next run leaves it.
    assert_eq!(sync(&s).totals().unchanged, 3);
}

#[test]
fn an_interrupted_sync_resumes_without_redoing_finished_files() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    for i in 0..5 {
        wav(&src.join(format!("{i}.wav")), 300.0 + 50.0 * i as f64);
    }
    let mut s = spec(&src, &dst, Format::Flac);
    s.threads = 1;
    let cancel = CancelToken::new();
    let events = Mutex::new(Vec::new());
    let summary = aj_jobs::run(&JobSpec::Sync(s.clone()), &cancel, &|e| {
        if matches!(e, Event::FileDone { index: 1, .. }) {
            cancel.cancel();
        }
        events.lock().unwrap().push(e)
    });
    assert!(summary.cancelled);
    let first = summary.sync.unwrap().converted;
    assert_eq!(first, 2, "{:?}", events.lock().unwrap());

    let r = sync(&s);
    assert_eq!(r.totals().converted, 3, "{:?}", r.events);
    assert_eq!(r.totals().unchanged, 2);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest: PathBuf = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            // A plain copy: new modification times, as on another machine.
            std::fs::write(&dest, std::fs::read(&p).unwrap()).unwrap();
        }
    }
}

#[test]
fn another_machine_continues_the_mirror() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    wav(&src.join("A/one.wav"), 440.0);
    encoded(&src.join("A/two.flac"), 550.0, Format::Flac);
    encoded(&src.join("A/three.mp3"), 660.0, Format::Mp3);
    sync(&spec(&src, &dst, Format::Ogg));

    std::thread::sleep(std::time::Duration::from_millis(20));
    let (src2, dst2) = (t.path().join("there/music"), t.path().join("there/player"));
    copy_tree(&src, &src2);
    copy_tree(&dst, &dst2);
    let s2 = spec(&src2, &dst2, Format::Ogg);
    let r = sync(&s2);
    assert_eq!(r.totals().unchanged, 3, "{:?}", r.events);
    assert_eq!(r.started(), 0);
    // And goes on from there.
    wav(&src2.join("A/four.wav"), 770.0);
    let r = sync(&s2);
    assert_eq!((r.totals().converted, r.totals().unchanged), (1, 3));
}

#[test]
fn changed_settings_convert_again_and_names_follow_the_template() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    let one = src.join("x/one.wav");
    wav(&one, 440.0);
    set_title(&one, Format::Wav, "Song");
    let mut s = spec(&src, &dst, Format::Flac);
    sync(&s);
    s.format = Format::Aiff;
    s.name = Some("{title}".into());
    let r = sync(&s);
    assert_eq!(r.totals().converted, 1, "{:?}", r.events);
    assert!(r.warnings().iter().any(|w| w.contains("settings differ")));
    assert!(dst.join("Song.aiff").exists());
    assert!(!dst.join("x/one.flac").exists(), "the old mirror file goes");
    assert!(!dst.join("x").exists());

    // A new title with the template: retagged and renamed.
    set_title(&one, Format::Wav, "Renamed");
    let r = sync(&s);
    assert_eq!(r.totals().retagged, 1, "{:?}", r.events);
    assert!(dst.join("Renamed.aiff").exists());
    assert!(!dst.join("Song.aiff").exists());
}

#[test]
fn a_file_in_the_way_is_left_alone() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    wav(&src.join("one.wav"), 440.0);
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::write(dst.join("one.flac"), b"mine").unwrap();
    let r = sync_with(&spec(&src, &dst, Format::Flac), &CancelToken::new());
    assert_eq!(r.summary.failed, 1);
    assert_eq!(std::fs::read(dst.join("one.flac")).unwrap(), b"mine");
}

/// The sheet of the test image: three tracks of 30 CD frames (0.4 s), a
/// 5-frame gap before track 2.
fn album_cue(two: &str, tracks: usize) -> String {
    let mut cue = String::from(
        "PERFORMER \"Band\"\nTITLE \"Album\"\nFILE \"album.wav\" WAVE\n  TRACK 01 AUDIO\n    TITLE \"One\"\n    INDEX 01 00:00:00\n",
    );
    cue.push_str(&format!(
        "  TRACK 02 AUDIO\n    TITLE \"{two}\"\n    INDEX 00 00:00:25\n    INDEX 01 00:00:30\n"
    ));
    if tracks == 3 {
        cue.push_str("  TRACK 03 AUDIO\n    TITLE \"Three\"\n    INDEX 01 00:00:60\n");
    }
    cue
}

/// Samples (interleaved stereo) per CD frame at 44.1 kHz.
const CD_FRAME: usize = 588 * 2;

/// A library with an image and its sheet (`Album/`), and a plain file.
fn image_library(src: &Path) -> Vec<i32> {
    std::fs::create_dir_all(src.join("Album")).unwrap();
    let image = aj_testkit::sine(90 * 588, 2, 44_100, 16, 440.0, 0.5);
    aj_testkit::write_wav(&src.join("Album/album.wav"), &image, 2, 44_100, 16);
    std::fs::write(src.join("Album/album.cue"), album_cue("Two", 3)).unwrap();
    wav(&src.join("plain.wav"), 550.0);
    image
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                if rel != STATE_FILE {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_image_with_a_cue_sheet_is_mirrored_as_tracks_and_follows_its_sheet() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    let image = image_library(&src);
    let s = spec(&src, &dst, Format::Flac);

    let r = sync(&s);
    assert_eq!(r.totals().converted, 4, "{:?}", r.events);
    assert_eq!(
        files(&dst),
        [
            "Album/01 - One.flac",
            "Album/02 - Two.flac",
            "Album/03 - Three.flac",
            "plain.flac"
        ]
    );
    // Sample-exact: the image's ranges (gaps appended to the track before).
    for (name, from, to) in [
        ("01 - One", 0, 30),
        ("02 - Two", 30, 60),
        ("03 - Three", 60, 90),
    ] {
        assert_eq!(
            samples(&dst.join(format!("Album/{name}.flac"))),
            image[from * CD_FRAME..to * CD_FRAME],
            "{name}"
        );
    }
    let two = tags::read(&dst.join("Album/02 - Two.flac")).unwrap();
    assert_eq!(two.get(&TagKey::Title), Some("Two"));
    assert_eq!(two.get(&TagKey::Album), Some("Album"));

    // The bytes `aj convert` gives for the same sheet and options.
    let conv = t.path().join("converted");
    let mut c = ConvertSpec::new(vec![src.join("Album/album.cue")], Format::Flac);
    c.output_dir = Some(conv.clone());
    c.threads = 1;
    let cs = aj_jobs::run(&JobSpec::Convert(c), &CancelToken::new(), &|_| {});
    assert!(cs.success(), "{cs:?}");
    assert_eq!(
        std::fs::read(dst.join("Album/02 - Two.flac")).unwrap(),
        std::fs::read(conv.join("02 - Two.flac")).unwrap()
    );

    // Nothing changed: nothing done.
    let r = sync(&s);
    assert_eq!(r.totals().unchanged, 4, "{:?}", r.events);
    assert_eq!(r.started(), 0);
    assert!(
        r.reasons().iter().all(|x| x == "unchanged"),
        "{:?}",
        r.reasons()
    );

    // A title edited in the sheet: that track's tags and name change, its
    // audio is not encoded again; the other tracks stay as they are.
    let before = samples(&dst.join("Album/02 - Two.flac"));
    std::fs::write(src.join("Album/album.cue"), album_cue("Deux", 3)).unwrap();
    let r = sync(&s);
    let totals = r.totals();
    assert_eq!(
        (totals.retagged, totals.unchanged),
        (1, 3),
        "{:?}",
        r.events
    );
    assert_eq!(r.started(), 0);
    assert!(!dst.join("Album/02 - Two.flac").exists());
    let deux = dst.join("Album/02 - Deux.flac");
    assert_eq!(tags::read(&deux).unwrap().get(&TagKey::Title), Some("Deux"));
    assert_eq!(samples(&deux), before);
    assert_eq!(sync(&s).totals().unchanged, 4);

    // Track 3 leaves the sheet: track 2 now runs to the end of the image
    // (converted again); track 3's mirror file is kept without `delete`…
    std::fs::write(src.join("Album/album.cue"), album_cue("Deux", 2)).unwrap();
    let r = sync(&s);
    let totals = r.totals();
    assert_eq!((totals.converted, totals.kept), (1, 1), "{:?}", r.events);
    assert_eq!(samples(&deux), image[30 * CD_FRAME..]);
    assert!(dst.join("Album/03 - Three.flac").exists());
    assert!(r
        .reasons()
        .iter()
        .any(|x| x.contains("no longer in its cue sheet")));
    // …and removed with it.
    let mut del = s.clone();
    del.delete = true;
    let r = sync(&del);
    assert_eq!(r.totals().deleted, 1, "{:?}", r.events);
    assert!(!dst.join("Album/03 - Three.flac").exists());

    // The image and its sheet gone: with `delete`, their tracks go.
    std::fs::remove_dir_all(src.join("Album")).unwrap();
    let r = sync(&del);
    assert_eq!(r.totals().deleted, 2, "{:?}", r.events);
    assert_eq!(files(&dst), ["plain.flac"]);
    assert!(!dst.join("Album").exists());
}

#[test]
fn no_split_mirrors_the_image_whole_and_gaps_follow_the_option() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    let image = image_library(&src);
    let mut s = spec(&src, &dst, Format::Flac);
    s.split = false;
    let r = sync(&s);
    assert_eq!(r.totals().converted, 2, "{:?}", r.events);
    assert_eq!(files(&dst), ["Album/album.flac", "plain.flac"]);
    assert_eq!(samples(&dst.join("Album/album.flac")), image);

    // Split again, gaps prepended: the whole image's mirror file is gone
    // with `delete`, the tracks take its place.
    s.split = true;
    s.gaps = aj_jobs::rip::Gaps::Prepend;
    s.delete = true;
    let r = sync(&s);
    let totals = r.totals();
    assert_eq!((totals.converted, totals.deleted), (3, 1), "{:?}", r.events);
    assert_eq!(
        samples(&dst.join("Album/01 - One.flac")),
        image[..25 * CD_FRAME]
    );
    assert_eq!(
        samples(&dst.join("Album/02 - Two.flac")),
        image[25 * CD_FRAME..60 * CD_FRAME]
    );
    assert!(!dst.join("Album/album.flac").exists());
    assert_eq!(sync(&s).totals().unchanged, 4);
}
