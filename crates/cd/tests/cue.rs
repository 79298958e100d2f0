//! Cue sheets: EAC's four layouts of one disc, encodings, round trips through the
//! disc model, and cross-checks against cuetools' `cuebreakpoints` and `shntool split`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aj_cd::cue::{CueFile, CueLayout, CueSheet, FileType};
use aj_cd::disc::{Disc, Index, Track};
use aj_core::units::{Lba, Msf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read(name: &str) -> CueSheet {
    CueSheet::parse_bytes(&std::fs::read(data(name)).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The length in sectors of the single file of eac-single.cue (see
/// tests/data/README.md for the disc the EAC fixtures describe).
fn fixture_lengths(_: &CueFile) -> Result<u64, String> {
    Ok(30_000)
}

#[test]
fn eac_layouts_describe_the_same_disc() {
    let single = read("eac-single.cue").to_disc(fixture_lengths).unwrap();
    assert_eq!(single.tracks.len(), 3);
    assert_eq!(single.tracks[1].pregap, Some(Lba(12_000)));
    assert_eq!(single.tracks[1].start, Lba(12_150));
    assert_eq!(
        single.tracks[1].indexes,
        vec![Index {
            number: 2,
            start: Lba(15_000)
        }]
    );
    assert_eq!(single.tracks[2].start, Lba(20_000));
    assert_eq!(single.leadout, Lba(30_000));
    assert!(single.tracks[1].control.copy_permitted && single.tracks[1].control.preemphasis);
    assert_eq!(single.tracks[0].isrc.as_deref(), Some("GBAFL8800011"));
    assert_eq!(single.mcn.as_deref(), Some("0652637082126"));
    assert_eq!(
        single.disc_text().unwrap().title.as_deref(),
        Some("Sectors & Frames")
    );
    assert_eq!(
        single.track_text(3).unwrap().title.as_deref(),
        Some("Lead-Out")
    );

    for (name, lengths) in [
        ("eac-gaps-appended.cue", [12_150, 7_850, 10_000]),
        ("eac-gaps-prepended.cue", [12_000, 8_000, 10_000]),
        ("eac-gaps-left-out.cue", [12_000, 7_850, 10_000]),
    ] {
        let sheet = read(name);
        assert_eq!(sheet.files.len(), 3, "{name}");
        let d = sheet
            .to_disc(|f| {
                let i = sheet.files.iter().position(|x| x == f).unwrap();
                Ok(lengths[i])
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d, single, "{name}");
    }
}

#[test]
fn hidden_track_latin1_data_track_and_postgap() {
    let sheet = read("htoa-latin1.cue");
    assert_eq!(
        sheet.text.performer.as_deref(),
        Some("Bj\u{f6}rk Gu\u{f0}mundsd\u{f3}ttir")
    );
    // 0x93/0x94 are Windows-1252's curly quotes.
    assert_eq!(
        sheet.text.title.as_deref(),
        Some("\u{201c}Caf\u{e9}\u{201d}")
    );
    assert_eq!(sheet.files[0].kind, FileType::Binary);
    assert!(sheet.tracks[1].flags.four_channel && sheet.tracks[1].flags.scms);
    let d = sheet.to_disc(|_| Ok(12_000)).unwrap();
    assert_eq!(d.hidden_track(), Some(Lba(0)..Lba(32 * 75)));
    assert_eq!(d.tracks[0].pregap, Some(Lba(0)));
    assert!(d.tracks[2].control.data);
    assert!(d.is_enhanced());
    // POSTGAP adds two seconds after the data track.
    assert_eq!(d.leadout, Lba(12_000 + 150));
}

/// Breakpoints as cuebreakpoints prints them: M:SS.FF.
fn breakpoint(lba: Lba) -> String {
    let m = Msf::from_sectors(lba.0).unwrap();
    format!("{}:{:02}.{:02}", m.m, m.s, m.f)
}

fn cuebreakpoints(args: &[&str], sheet: &Path) -> Vec<String> {
    let out = Command::new("cuebreakpoints")
        .args(args)
        .arg(sheet)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn cuebreakpoints_agrees_on_our_sheets() {
    if !aj_testkit::have_tool("cuebreakpoints") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let discs = [
        read("eac-single.cue").to_disc(fixture_lengths).unwrap(),
        generated_disc(&mut Rng(7), 9),
        generated_disc(&mut Rng(99), 20),
    ];
    for (k, disc) in discs.iter().enumerate() {
        let plan = CueSheet::from_disc(disc, CueLayout::SingleFile, |_| CueFile {
            name: "image.wav".into(),
            kind: FileType::Wave,
        })
        .unwrap();
        let path = dir.path().join(format!("d{k}.cue"));
        std::fs::write(&path, plan.sheet.to_string()).unwrap();
        let rest = &disc.tracks[1..];
        let append: Vec<String> = rest.iter().map(|t| breakpoint(t.start)).collect();
        let prepend: Vec<String> = rest.iter().map(|t| breakpoint(t.first_address())).collect();
        // Split mode also cuts hidden track one audio off track 1.
        let mut split: Vec<String> = disc.tracks[..1]
            .iter()
            .filter(|t| t.pregap.is_some())
            .map(|t| breakpoint(t.start))
            .collect();
        for t in rest {
            if let Some(p) = t.pregap {
                split.push(breakpoint(p));
            }
            split.push(breakpoint(t.start));
        }
        assert_eq!(cuebreakpoints(&[], &path), append, "disc {k}");
        assert_eq!(
            cuebreakpoints(&["--prepend-gaps"], &path),
            prepend,
            "disc {k}"
        );
        assert_eq!(cuebreakpoints(&["--split-gaps"], &path), split, "disc {k}");
    }
    // And on the EAC fixture as written.
    let d = &discs[0];
    assert_eq!(
        cuebreakpoints(&[], &data("eac-single.cue")),
        d.tracks[1..]
            .iter()
            .map(|t| breakpoint(t.start))
            .collect::<Vec<_>>()
    );
}

#[test]
fn shntool_splits_our_sheet_into_our_track_lengths() {
    if !aj_testkit::have_tool("shntool") {
        return;
    }
    // A short disc: 4 tracks, 2 of them with pregaps, 260 sectors (3.5 s) in all.
    let mut disc = Disc::audio(&[Lba(0), Lba(60), Lba(140), Lba(200)], Lba(260)).unwrap();
    disc.tracks[1].pregap = Some(Lba(50));
    disc.tracks[3].pregap = Some(Lba(185));
    disc.validate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let frames = 260 * 588;
    let samples = aj_testkit::noise(frames, 2, 16, 5);
    aj_testkit::write_wav(&dir.path().join("image.wav"), &samples, 2, 44_100, 16);
    let plan = CueSheet::from_disc(&disc, CueLayout::SingleFile, |_| CueFile {
        name: "image.wav".into(),
        kind: FileType::Wave,
    })
    .unwrap();
    std::fs::write(dir.path().join("image.cue"), plan.sheet.to_string()).unwrap();
    let out_dir = dir.path().join("split");
    std::fs::create_dir(&out_dir).unwrap();
    let out = Command::new("shntool")
        .current_dir(dir.path())
        .args(["split", "-q", "-f", "image.cue", "-o", "wav", "-d"])
        .arg(&out_dir)
        .arg("image.wav")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    for (t, f) in disc.tracks.iter().zip(&files) {
        // shntool splits at INDEX 01: each file holds its track plus the next pregap.
        let expected = disc.track_sectors(t.number).unwrap() as u64 * 588 * 4;
        let data_bytes = std::fs::metadata(f).unwrap().len() - 44;
        assert_eq!(data_bytes, expected, "track {}", t.number);
    }
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// An audio disc with `count` tracks, random lengths, pregaps, indexes, ISRCs, flags,
/// CD-TEXT; track 1 maybe with hidden audio.
fn generated_disc(rng: &mut Rng, count: usize) -> Disc {
    let mut tracks = Vec::new();
    let mut at = 0i32;
    for i in 0..count {
        let number = i as u8 + 1;
        let gap = if rng.below(2) == 0 {
            0
        } else {
            1 + rng.below(300) as i32
        };
        let pregap = (gap > 0).then_some(Lba(at));
        at += gap;
        let mut t = Track::audio(number, Lba(at));
        t.pregap = pregap;
        let len = 300 + rng.below(20_000) as i32;
        let mut next_index = 2;
        let mut pos = at;
        while rng.below(4) == 0 && next_index < 6 {
            pos += 1 + rng.below((len / 8) as u64) as i32;
            t.indexes.push(Index {
                number: next_index,
                start: Lba(pos),
            });
            next_index += 1;
        }
        t.control.preemphasis = rng.below(5) == 0;
        t.control.copy_permitted = rng.below(3) == 0;
        t.control.four_channel = rng.below(9) == 0;
        if rng.below(2) == 0 {
            t.isrc = Some(format!("USRC1{:07}", rng.below(10_000_000)));
        }
        at += len.max(pos - at + 1);
        tracks.push(t);
    }
    let mut d = Disc::audio(&[Lba(0)], Lba(at)).unwrap();
    d.tracks = tracks;
    if rng.below(2) == 0 {
        d.mcn = Some(format!("{:013}", rng.below(10_000_000_000_000)));
    }
    if rng.below(2) == 0 {
        let block = d.cdtext_block_mut();
        block.disc.title = Some(format!("Album \"{}\" – é", rng.below(100)));
        block.disc.performer = Some("Somebody".into());
        for n in 1..=count as u8 {
            if rng.below(3) > 0 {
                let f = block.track_mut(n);
                f.title = Some(format!("Song {n}"));
                f.composer = (n % 2 == 0).then(|| "A Composer".to_string());
            }
        }
    }
    d.validate().unwrap();
    d
}

#[test]
fn disc_to_cue_to_disc_round_trips_in_every_layout() {
    let mut rng = Rng(0x00c0_ffee);
    for round in 0..150 {
        let count = 1 + rng.below(25) as usize;
        let disc = generated_disc(&mut rng, count);
        for layout in [
            CueLayout::SingleFile,
            CueLayout::GapsAppended,
            CueLayout::GapsPrepended,
            CueLayout::GapsLeftOut,
        ] {
            let plan = CueSheet::from_disc(&disc, layout, |n| CueFile {
                name: match n {
                    None => "image.flac".into(),
                    Some(n) => format!("{n:02} - track.flac"),
                },
                kind: FileType::Wave,
            })
            .unwrap();
            // Spans tile the disc except left-out pregaps.
            let text = plan.sheet.to_string();
            let again = CueSheet::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(
                again, plan.sheet,
                "round {round} {layout:?}: sheet text round trip"
            );
            let back = again
                .to_disc(|f| {
                    let i = again.files.iter().position(|x| x == f).unwrap();
                    Ok(plan.file_sectors(i).unwrap())
                })
                .unwrap_or_else(|e| panic!("round {round} {layout:?}: {e}\n{text}"));
            assert_eq!(back, disc, "round {round} {layout:?}\n{text}");
        }
    }
}

#[test]
fn bytes_with_bom_and_crlf_read_back() {
    let disc = generated_disc(&mut Rng(3), 5);
    let plan = CueSheet::from_disc(&disc, CueLayout::SingleFile, |_| CueFile {
        name: "x.wav".into(),
        kind: FileType::Wave,
    })
    .unwrap();
    let bytes = plan.sheet.to_bytes(true, true);
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert!(bytes.windows(2).any(|w| w == b"\r\n"));
    assert_eq!(CueSheet::parse_bytes(&bytes).unwrap(), plan.sheet);
}

#[test]
fn index_past_the_end_of_a_file_is_an_error() {
    let sheet = read("eac-single.cue");
    let e = sheet.to_disc(|_| Ok(15_000)).unwrap_err().to_string();
    assert!(
        e.contains("TRACK 03 INDEX 01 at 04:26:50 is past the end"),
        "{e}"
    );
    let e = sheet.to_disc(|_| Err("cannot decode".into())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "The Testers - Sectors & Frames.wav: cannot decode"
    );
}

#[test]
fn mangled_sheets_and_toc_files_never_panic() {
    let mut rng = Rng(0xbad_5eed);
    let mut seeds: Vec<Vec<u8>> = [
        "eac-single.cue",
        "eac-gaps-appended.cue",
        "eac-gaps-left-out.cue",
        "htoa-latin1.cue",
    ]
    .iter()
    .map(|n| std::fs::read(data(n)).unwrap())
    .collect();
    let disc = generated_disc(&mut Rng(5), 6);
    seeds.push(
        aj_cd::tocfile::TocFile::from_disc(&disc, "a.wav", "a.bin")
            .to_string()
            .into_bytes(),
    );
    let alphabet = b" \t\r\n\":{}#0123456789/\\ABCINDEXTRACKFILE";
    for round in 0..3000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(bytes.len() as u64 + 1) as usize;
            match rng.below(3) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 if at < bytes.len() => {
                    bytes[at] = alphabet[rng.below(alphabet.len() as u64) as usize];
                }
                _ => bytes.insert(at, rng.below(256) as u8),
            }
        }
        if let Ok(sheet) = CueSheet::parse_bytes(&bytes) {
            let _ = sheet.to_disc(|_| Ok(rng.below(40_000)));
            let _ = sheet.to_string();
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(toc) = aj_cd::tocfile::TocFile::parse(&text) {
            let _ = toc.to_disc(|_, _| Ok(rng.below(40_000_000)));
            let _ = toc.to_string();
        }
    }
}
