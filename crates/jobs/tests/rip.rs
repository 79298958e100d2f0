//! Rip jobs over generated discs served by the virtual drive: hidden track
//! one audio, enhanced and mixed-mode discs, pre-emphasis; each file is
//! compared with the image's own bytes.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Mutex;

use aj_cd::disc::Disc;
use aj_cd::mmc::Drive;
use aj_cd::virtual_drive::generate::{DiscBuilder, Signal, TrackSpec};
use aj_cd::virtual_drive::{Options, VirtualDrive};
use aj_codec::tags::{self, TagKey};
use aj_core::CancelToken;
use aj_jobs::config::Config;
use aj_jobs::rip::{self, RipContext, RipSpec, TrackDone};
use aj_jobs::{Event, Summary};

const SECTOR: usize = 2352;

/// Rips `disc` (offline) into `out`; returns the events.
fn rip_disc(
    disc: &Disc,
    image: &[u8],
    out: &Path,
    edit: impl Fn(&mut RipSpec),
) -> (Summary, Vec<Event>) {
    let open = || {
        Ok(Drive::new(Box::new(VirtualDrive::from_image(
            disc.clone(),
            image,
            Options::new("generated"),
        )?)))
    };
    rip_with(&open, out, edit)
}

/// Rips (offline) from the drive `open` gives into `out`.
fn rip_with(
    open: &(dyn Fn() -> Result<Drive, aj_cd::transport::Error> + Sync),
    out: &Path,
    edit: impl Fn(&mut RipSpec),
) -> (Summary, Vec<Event>) {
    let ctx = RipContext {
        config: Config::empty(out.with_extension("toml")),
        choose_release: None,
        lookup: aj_lookup::Options::default(),
        open_drive: Some(open),
        config_warning: None,
    };
    let mut spec = RipSpec::new(None, out.to_path_buf());
    spec.offline = true;
    spec.offset = Some(0);
    edit(&mut spec);
    let events = Mutex::new(Vec::new());
    let summary = rip::run(&spec, &ctx, &CancelToken::new(), &|e| {
        events.lock().unwrap().push(e)
    });
    (summary, events.into_inner().unwrap())
}

fn done(events: &[Event]) -> Vec<TrackDone> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TrackDone(d) => Some((**d).clone()),
            _ => None,
        })
        .collect()
}

/// The 16-bit samples of a file as little-endian bytes.
fn pcm(path: &Path) -> Vec<u8> {
    let mut d = aj_codec::decode::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(b) = d.read(8192).unwrap() {
        out.extend(
            b.as_int()
                .unwrap()
                .iter()
                .flat_map(|&v| (v as i16).to_le_bytes()),
        );
    }
    out
}

/// Equal byte strings, without printing megabytes when they are not.
fn same(a: &[u8], b: &[u8], what: &str) {
    let first = a.iter().zip(b).position(|(x, y)| x != y);
    assert!(
        a == b,
        "{what}: {} vs {} bytes, first difference at {first:?}",
        a.len(),
        b.len()
    );
}

/// AccurateRip v1 and v2 of `bytes` as track `n` of `total`, by whipper's
/// `accuraterip-checksum` (`None` when the tool is missing outside CI).
fn independent_ar(bytes: &[u8], n: usize, total: usize, dir: &Path) -> Option<(String, String)> {
    if !aj_testkit::have_tool("accuraterip-checksum") {
        return None;
    }
    let wav = dir.join(format!("ar-{n}.wav"));
    let samples: Vec<i32> = bytes
        .chunks_exact(2)
        .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
        .collect();
    aj_testkit::write_wav(&wav, &samples, 2, 44_100, 16);
    let run = |v: &str| {
        let out = std::process::Command::new("accuraterip-checksum")
            .args([v, wav.to_str().unwrap(), &n.to_string(), &total.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).trim().to_uppercase()
    };
    Some((run("--accuraterip-v1"), run("--accuraterip-v2")))
}

/// Checks every audio track's AccurateRip checksums against the tool, over
/// the image's bytes of the track's range (INDEX 01 to the next INDEX 01).
fn check_ar(disc: &Disc, image: &[u8], done: &[TrackDone], dir: &Path) {
    let audio: Vec<&aj_cd::disc::Track> = disc.audio_tracks().collect();
    for (i, t) in audio.iter().enumerate() {
        let end = audio
            .get(i + 1)
            .map_or(disc.audio_leadout().0, |n| n.start.0);
        let d = done.iter().find(|d| d.track == t.number).unwrap();
        if let Some((v1, v2)) =
            independent_ar(sectors(image, t.start.0, end), i + 1, audio.len(), dir)
        {
            assert_eq!(d.ar_v1.as_deref(), Some(v1.as_str()), "track {}", t.number);
            assert_eq!(d.ar_v2.as_deref(), Some(v2.as_str()), "track {}", t.number);
        }
    }
}

fn sectors(image: &[u8], from: i32, to: i32) -> &[u8] {
    &image[from as usize * SECTOR..to as usize * SECTOR]
}

#[test]
fn hidden_track_one_audio_becomes_track_zero() {
    let (disc, image) = DiscBuilder::new()
        .track(
            TrackSpec::sectors(300, Signal::Noise { seed: 3 })
                .pregap(100, Signal::Noise { seed: 4 }),
        )
        .track(TrackSpec::sectors(250, Signal::sine(440.0, 0.3)).pregap(40, Signal::Silence))
        .track(TrackSpec::sectors(200, Signal::Noise { seed: 5 }))
        .build()
        .unwrap();
    assert_eq!(disc.hidden_track().map(|r| r.end.0), Some(100));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("htoa");
    let (summary, events) = rip_disc(&disc, &image, &out, |_| {});
    assert!(summary.success(), "{events:?}");
    let d = done(&events);
    assert_eq!(
        d.iter().map(|t| t.track).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert_eq!(
        d[0].ar_v1, None,
        "AccurateRip does not cover the hidden track"
    );
    // Its verdict says so, offline or not.
    assert_eq!(d[0].accuraterip.status, rip::ArStatus::NotApplicable);
    let file = |i: usize| d[i].file.clone().unwrap();
    same(&pcm(&file(0)), sectors(&image, 0, 100), "file");
    // Track 2's 40-sector gap is appended to track 1's file.
    same(
        &pcm(&file(1)),
        sectors(&image, 100, disc.tracks[1].start.0),
        "file 1",
    );
    same(
        &pcm(&file(2)),
        sectors(&image, disc.tracks[1].start.0, disc.tracks[2].start.0),
        "file",
    );
    same(
        &pcm(&file(3)),
        sectors(&image, disc.tracks[2].start.0, disc.leadout.0),
        "file",
    );
    let cue = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cue"))
        .unwrap();
    let cue = std::fs::read_to_string(cue).unwrap();
    assert!(
        cue.contains("FILE \"00 - Hidden Track One Audio.flac\" WAVE\r\n  TRACK 01 AUDIO"),
        "{cue}"
    );
    assert!(
        cue.contains(
            "INDEX 00 00:00:00\r\nFILE \"01 - Track 01.flac\" WAVE\r\n    INDEX 01 00:00:00"
        ),
        "{cue}"
    );
    check_ar(&disc, &image, &d, dir.path());
}

#[test]
fn silent_hidden_track_is_left_out() {
    let (disc, image) = DiscBuilder::new()
        .track(TrackSpec::sectors(300, Signal::Noise { seed: 3 }).pregap(75, Signal::Silence))
        .track(TrackSpec::sectors(200, Signal::Noise { seed: 5 }))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("silent");
    let (summary, events) = rip_disc(&disc, &image, &out, |_| {});
    assert!(summary.success(), "{events:?}");
    let d = done(&events);
    assert_eq!(d.iter().map(|t| t.track).collect::<Vec<_>>(), vec![1, 2]);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("00")), "{names:?}");
    let cue = names.iter().find(|n| n.ends_with(".cue")).unwrap();
    let cue = std::fs::read_to_string(out.join(cue)).unwrap();
    assert!(cue.contains("PREGAP 00:01:00"), "{cue}");
    same(
        &pcm(d[0].file.as_ref().unwrap()),
        sectors(&image, 75, 375),
        "file",
    );
}

#[test]
fn enhanced_and_mixed_discs_rip_their_audio() {
    for mixed in [false, true] {
        let mut b = DiscBuilder::new();
        if mixed {
            b = b.track(TrackSpec::data(400));
        }
        b = b
            .track(TrackSpec::sectors(300, Signal::Noise { seed: 7 }))
            .track(
                TrackSpec::sectors(
                    320,
                    Signal::Music {
                        seed: 2,
                        quiet: false,
                    },
                )
                .pregap(30, Signal::Silence),
            );
        if !mixed {
            b = b.track(TrackSpec::data(500));
        }
        let (disc, image) = b.build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("disc");
        let (summary, events) = rip_disc(&disc, &image, &out, |_| {});
        assert!(summary.success(), "mixed={mixed}: {events:?}");
        let d = done(&events);
        let audio: Vec<u8> = disc.audio_tracks().map(|t| t.number).collect();
        assert_eq!(
            d.iter().map(|t| t.track).collect::<Vec<_>>(),
            audio,
            "mixed={mixed}"
        );
        let first = disc.track(audio[0]).unwrap();
        let second = disc.track(audio[1]).unwrap();
        same(
            &pcm(d[0].file.as_ref().unwrap()),
            sectors(&image, first.start.0, second.start.0),
            "file",
        );
        same(
            &pcm(d[1].file.as_ref().unwrap()),
            sectors(&image, second.start.0, disc.audio_leadout().0),
            "second",
        );
        check_ar(&disc, &image, &d, dir.path());
    }
}

#[test]
fn pre_emphasis_is_flagged_and_undone_on_request() {
    let (disc, image) = DiscBuilder::new()
        .track(TrackSpec::sectors(200, Signal::Noise { seed: 1 }).preemphasis())
        .track(TrackSpec::sectors(200, Signal::Noise { seed: 2 }))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (s, events) = rip_disc(&disc, &image, &dir.path().join("kept"), |_| {});
    assert!(s.success());
    let d = done(&events);
    let f1 = d[0].file.clone().unwrap();
    assert_eq!(
        tags::read(&f1)
            .unwrap()
            .get(&TagKey::Other("PRE_EMPHASIS".into())),
        Some("yes")
    );
    same(&pcm(&f1), sectors(&image, 0, 200), "file");
    let cue_of = |dir: &Path| {
        let p = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "cue"))
            .unwrap();
        std::fs::read_to_string(p).unwrap()
    };
    let log_of = |dir: &Path| {
        let p = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "log"))
            .unwrap();
        std::fs::read_to_string(p).unwrap()
    };
    let kept = cue_of(&dir.path().join("kept"));
    let (first, second) = kept.split_once("TRACK 02").unwrap();
    assert!(
        first.contains("FLAGS PRE") && !second.contains("PRE"),
        "{kept}"
    );
    assert_eq!(
        tags::read(d[1].file.as_ref().unwrap())
            .unwrap()
            .get(&TagKey::Other("PRE_EMPHASIS".into())),
        None
    );

    let (s, events) = rip_disc(&disc, &image, &dir.path().join("undone"), |s| {
        s.deemphasize = true
    });
    assert!(s.success());
    let d2 = done(&events);
    let g1 = d2[0].file.clone().unwrap();
    assert_eq!(
        tags::read(&g1)
            .unwrap()
            .get(&TagKey::Other("PRE_EMPHASIS".into())),
        Some("removed")
    );
    assert!(pcm(&g1) != pcm(&f1), "de-emphasis changes the samples");
    // The sheet no longer flags what was undone; the log says "removed"
    // as the tag does.
    let cue = cue_of(&dir.path().join("undone"));
    assert!(!cue.contains("PRE"), "{cue}");
    let log = log_of(&dir.path().join("undone"));
    assert!(
        log.contains("De-emphasis             removed from track 1 "),
        "{log}"
    );
    // The unflagged track stays bit-exact; AccurateRip checks what was read.
    same(
        &pcm(d2[1].file.as_ref().unwrap()),
        &pcm(d[1].file.as_ref().unwrap()),
        "unflagged",
    );
    assert_eq!(d2[0].ar_v2, d[0].ar_v2);
}

/// A drive that returns one sector wrong, the same way, on its first two
/// reads (as a drive does that serves a bad read from a cache the reader
/// could not flush), and right afterwards.
struct WrongAtFirst {
    inner: VirtualDrive,
    lba: i32,
    reads: u32,
}

impl aj_cd::transport::Transport for WrongAtFirst {
    fn execute(
        &mut self,
        cdb: &[u8],
        direction: aj_cd::transport::Direction,
        buf: &mut [u8],
        timeout: std::time::Duration,
    ) -> Result<usize, aj_cd::transport::Error> {
        let n = self.inner.execute(cdb, direction, buf, timeout)?;
        if cdb.first() == Some(&aj_cd::mmc::OP_READ_CD) && cdb.len() >= 9 {
            // MMC-6 §6.15 READ CD: LBA in bytes 2-5, length in 6-8.
            let start = i32::from_be_bytes([cdb[2], cdb[3], cdb[4], cdb[5]]);
            let count = u32::from_be_bytes([0, cdb[6], cdb[7], cdb[8]]) as i32;
            if count > 0 && (start..start + count).contains(&self.lba) {
                if self.reads < 2 {
                    let stride = n / count as usize;
                    let at = (self.lba - start) as usize * stride + 1000;
                    buf[at] ^= 0x5A;
                }
                self.reads += 1;
            }
        }
        Ok(n)
    }

    fn name(&self) -> String {
        self.inner.name()
    }
}

#[test]
fn test_and_copy_that_differ_are_an_error() {
    let (disc, image) = DiscBuilder::new()
        .track(TrackSpec::sectors(300, Signal::Noise { seed: 1 }))
        .track(TrackSpec::sectors(200, Signal::Noise { seed: 2 }))
        .build()
        .unwrap();
    let open = || {
        let mut o = Options::new("generated");
        o.c2 = false;
        Ok(Drive::new(Box::new(WrongAtFirst {
            inner: VirtualDrive::from_image(disc.clone(), &image, o)?,
            lba: 150,
            reads: 0,
        })))
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tc");
    let (summary, events) = rip_with(&open, &out, |s| {
        s.mode = aj_cd::rip::Mode::TestAndCopy;
    });
    let d = done(&events);
    let t1 = d.iter().find(|t| t.track == 1).unwrap();
    // What the drive did: the test pass took the wrong sector (read the
    // same twice), the copy pass the right one, and nothing looked
    // suspicious within a pass.
    assert!(t1.suspicious.is_empty(), "{t1:?}");
    assert_ne!(t1.test_crc32.as_deref(), Some(t1.crc32.as_str()), "{t1:?}");
    same(
        &pcm(t1.file.as_ref().unwrap()),
        sectors(&image, 0, 300),
        "copy",
    );
    // The track is an error: not successful, counted not accurate, warned.
    assert!(!summary.success(), "{summary:?}");
    let totals = summary.rip.unwrap();
    assert_eq!((totals.inaccurate, totals.unverified), (1, 1), "{totals:?}");
    assert!(
        events.iter().any(|e| matches!(e, Event::Warning { message }
            if message.contains("track 1") && message.contains("differ"))),
        "{events:?}"
    );
    let log = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("Warning: test and copy CRCs differ")
            && log.contains("Copy finished with errors"),
        "{log}"
    );
    assert!(!log.contains("No errors occurred"), "{log}");
}
