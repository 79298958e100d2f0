//! cdrdao TOC files: round trips through the disc model, and `cdrdao show-toc` /
//! `cdrdao toc-size` reading the files we write.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use aj_cd::disc::{Disc, Index, Track, TrackMode};
use aj_cd::tocfile::{TocFile, SAMPLES_PER_SECTOR};
use aj_core::units::Lba;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A single-session disc as cdrdao can describe it: track 1 from LBA 0 (with hidden
/// audio as its pregap), pregaps, indexes, flags, ISRCs, Latin-1 CD-TEXT, maybe a data
/// track first or last.
fn generated_disc(rng: &mut Rng, count: usize, min_len: i32) -> Disc {
    let data_at = match rng.below(4) {
        0 => Some(0),
        1 if count > 1 => Some(count - 1),
        _ => None,
    };
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
        let mut t = if data_at == Some(i) {
            let mut t = Track::data(number, 1, Lba(at));
            t.mode = if rng.below(2) == 0 {
                TrackMode::Mode1Raw
            } else {
                TrackMode::Mode1Cooked
            };
            t
        } else {
            Track::audio(number, Lba(at))
        };
        t.pregap = pregap;
        let len = min_len + rng.below(5_000) as i32;
        let mut pos = at;
        for n in 2..(2 + rng.below(3) as u8) {
            pos += 1 + rng.below((len / 4) as u64) as i32;
            t.indexes.push(Index {
                number: n,
                start: Lba(pos),
            });
        }
        if t.is_audio() {
            t.control.preemphasis = rng.below(4) == 0;
            t.control.four_channel = rng.below(8) == 0;
            if rng.below(2) == 0 {
                t.isrc = Some(format!("DEA12{:07}", rng.below(10_000_000)));
            }
        }
        t.control.copy_permitted = rng.below(3) == 0;
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
        block.disc.title = Some("Caf\u{e9} \"Live\" \\ 1".into());
        block.disc.performer = Some("Bj\u{f6}rk".into());
        for n in 1..=count as u8 {
            if rng.below(2) == 0 {
                block.track_mut(n).title = Some(format!("Song {n}"));
            }
        }
    }
    d.validate().unwrap();
    d
}

#[test]
fn disc_to_toc_to_disc_round_trips() {
    let mut rng = Rng(0xdead_beef);
    for round in 0..200 {
        let count = 1 + rng.below(20) as usize;
        let disc = generated_disc(&mut rng, count, 300);
        let toc = TocFile::from_disc(&disc, "image.wav", "image.bin");
        let text = toc.to_string();
        let again = TocFile::parse(&text).unwrap_or_else(|e| panic!("round {round}: {e}\n{text}"));
        assert_eq!(again, toc, "round {round}\n{text}");
        let back = again
            .to_disc(|_, _| Err("every length is written".into()))
            .unwrap_or_else(|e| panic!("round {round}: {e}\n{text}"));
        assert_eq!(back, disc, "round {round}\n{text}");
    }
}

/// What `cdrdao show-toc` says about each track: (PREGAP, START, INDEX 2.., END) in
/// sectors.
fn show_toc(path: &std::path::Path) -> Vec<(i32, i32, Vec<i32>, i32)> {
    let out = Command::new("cdrdao")
        .current_dir(path.parent().unwrap())
        .args(["show-toc"])
        .arg(path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "START  00:01:00(    75)": the number in parentheses.
    let sectors = |line: &str| -> i32 {
        let open = line.rfind('(').unwrap();
        line[open + 1..line.len() - 1].trim().parse().unwrap()
    };
    let mut tracks = Vec::new();
    for line in stdout.lines().map(str::trim) {
        if line.starts_with("TRACK") {
            tracks.push((0, 0, Vec::new(), 0));
        }
        let Some(t) = tracks.last_mut() else { continue };
        if line.starts_with("PREGAP") {
            t.0 = sectors(line);
        } else if line.starts_with("START") {
            t.1 = sectors(line);
        } else if line.starts_with("INDEX") {
            t.2.push(sectors(line));
        } else if line.starts_with("END") {
            t.3 = sectors(line);
        }
    }
    tracks
}

#[test]
fn cdrdao_reads_our_toc_files() {
    if !aj_testkit::have_tool("cdrdao") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(42);
    // cdrdao wants tracks of at least 4 seconds (300 sectors); keep discs short.
    for k in 0..4 {
        let disc = generated_disc(&mut rng, 2 + k, 300);
        let leadout = disc.leadout.0 as u64;
        // The image: the disc's audio as a WAV file (zeros do), the data as raw sectors.
        let frames = (leadout * SAMPLES_PER_SECTOR) as usize;
        aj_testkit::write_wav(
            &dir.path().join("image.wav"),
            &vec![0; frames * 2],
            2,
            44_100,
            16,
        );
        std::fs::write(
            dir.path().join("image.bin"),
            vec![0u8; leadout as usize * 2352],
        )
        .unwrap();
        let path = dir.path().join(format!("d{k}.toc"));
        std::fs::write(
            &path,
            TocFile::from_disc(&disc, "image.wav", "image.bin").to_string(),
        )
        .unwrap();

        let shown = show_toc(&path);
        assert_eq!(shown.len(), disc.tracks.len(), "disc {k}");
        for (t, (pregap, start, indexes, end)) in disc.tracks.iter().zip(&shown) {
            let first = if t.number == 1 {
                0
            } else {
                t.first_address().0
            };
            assert_eq!(*pregap, t.start.0 - first, "disc {k} track {}", t.number);
            assert_eq!(*start, t.start.0, "disc {k} track {}", t.number);
            let ours: Vec<i32> = t.indexes.iter().map(|i| i.start.0).collect();
            assert_eq!(indexes, &ours, "disc {k} track {}", t.number);
            let next = disc
                .tracks
                .iter()
                .find(|n| n.number == t.number + 1)
                .map_or(disc.leadout, Track::first_address);
            assert_eq!(*end, next.0, "disc {k} track {}", t.number);
        }

        let out = Command::new("cdrdao")
            .current_dir(dir.path())
            .arg("toc-size")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success());
        let size: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(size, disc.leadout.0, "disc {k}");
    }
}

#[test]
fn cdrdao_man_page_examples_parse() {
    // The examples of cdrdao(1), "TOC FILES" section.
    let composed = "CD_DA\nTRACK AUDIO\nFILE \"pregapdata.wav\" 0\nSTART\n\
                    FILE \"track.cdr\" 1:0:0 1:0:0\nSILENCE 0:2:0\nFILE \"track.cdr\" 2:0:0\n\
                    INDEX 2:0:0\nINDEX 4:0:0\n";
    let toc = TocFile::parse(composed);
    // START without a position after a FILE of unknown length cannot be placed.
    assert!(toc
        .unwrap_err()
        .to_string()
        .starts_with("line 4: START without a position"));

    let mixed = "CD_ROM\nTRACK MODE1\nDATAFILE \"data_1\"\nZERO 00:02:00 // post-gap\n\n\
                 TRACK AUDIO\nSILENCE 00:02:00 // pre-gap\nSTART\nFILE \"data_2.wav\" 0\n\n\
                 TRACK AUDIO\nFILE \"data_3.wav\" 0\n";
    let toc = TocFile::parse(mixed).unwrap();
    let disc = toc
        .to_disc(|name, _| {
            Ok(match name {
                "data_1" => 2048 * 3000,
                _ => 588 * 1000,
            })
        })
        .unwrap();
    assert!(disc.is_mixed_mode());
    assert_eq!(disc.tracks[1].pregap, Some(Lba(3150)));
    assert_eq!(disc.tracks[1].start, Lba(3300));
    assert_eq!(disc.tracks[2].start, Lba(4300));
    assert_eq!(disc.leadout, Lba(5300));
}
