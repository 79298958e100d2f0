//! The virtual drive over cdrdao TOC images: TOC files our writer makes (the
//! same disc as a cue image must read the same), hand-written ones whose data
//! statements start and end inside sectors (checked against a model of
//! cdrdao(1)'s rules and against `cdrdao show-data`), and image files that
//! fail under the drive.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use aj_cd::cue::{CueFile, CueLayout, CueSheet, FileType};
use aj_cd::disc::{Disc, Index, Track};
use aj_cd::mmc::{self, scan, sense, C2Mode, Drive, SubChannel};
use aj_cd::tocfile::TocFile;
use aj_cd::transport;
use aj_core::Lba;

const SECTOR: usize = 2352;

fn drive(path: &Path) -> Drive {
    transport::open(Some(&format!("image:{}", path.display()))).unwrap()
}

fn noise(samples: usize, seed: u64) -> Vec<i32> {
    aj_testkit::noise(samples, 2, 16, seed)
}

fn le_bytes(samples: &[i32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|&s| (s as i16).to_le_bytes())
        .collect()
}

fn be_bytes(samples: &[i32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|&s| (s as i16).to_be_bytes())
        .collect()
}

/// Asserts `got == want`, naming the first sector that differs (not
/// printing megabytes).
#[track_caller]
fn same(got: &[u8], want: &[u8], what: &str) {
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!(
            "{what}: first difference at byte {i} (sector {}, sample {} of it)",
            i / SECTOR,
            i % SECTOR / 4
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
}

/// Every sector from LBA 0 to the lead-out, main channel only.
fn read_all(d: &mut Drive) -> Vec<u8> {
    let leadout = d.toc().unwrap().lead_out().unwrap().0;
    let mut out = Vec::new();
    let mut at = 0;
    while at < leadout {
        let n = (leadout - at).min(20);
        out.extend(
            d.read_cd(Lba(at), n as u32, C2Mode::None, SubChannel::None)
                .unwrap(),
        );
        at += n;
    }
    out
}

fn flac_file(path: &Path, samples: &[i32]) {
    use aj_core::{AudioSpec, Block, Samples};
    let spec = AudioSpec::int(44_100, 2, 16);
    let f = std::fs::File::create(path).unwrap();
    let mut enc = aj_codec::encode::create(
        aj_codec::Format::Flac,
        spec,
        &aj_codec::encode::EncoderOptions::default(),
        f,
    )
    .unwrap();
    enc.write(&Block {
        spec,
        samples: Samples::Int(samples.to_vec()),
    })
    .unwrap();
    enc.finish().unwrap();
}

/// A disc with a hidden track one, pregaps, an INDEX 02, flags, MCN, ISRCs
/// and CD-TEXT.
fn album() -> Disc {
    let mut d = Disc::audio(&[Lba(0)], Lba(1400)).unwrap();
    let mut t1 = Track::audio(1, Lba(120));
    t1.pregap = Some(Lba(0));
    t1.isrc = Some("GBAYE0000351".into());
    let mut t2 = Track::audio(2, Lba(500));
    t2.pregap = Some(Lba(425));
    t2.control.preemphasis = true;
    t2.control.copy_permitted = true;
    t2.indexes.push(Index {
        number: 2,
        start: Lba(650),
    });
    let mut t3 = Track::audio(3, Lba(900));
    t3.pregap = Some(Lba(863));
    t3.isrc = Some("USRC17607839".into());
    d.tracks = vec![t1, t2, t3];
    d.mcn = Some("0724384260927".into());
    let b = d.cdtext_block_mut();
    b.disc.title = Some("Caf\u{e9} Album".into());
    b.disc.performer = Some("The Testers".into());
    for (n, title) in [(1, "One"), (2, "Two"), (3, "Three")] {
        b.track_mut(n).title = Some(title.into());
        b.track_mut(n).performer = Some("The Testers".into());
    }
    d.validate().unwrap();
    d
}

#[test]
fn our_toc_file_reads_like_the_same_cue_image() {
    let t = tempfile::tempdir().unwrap();
    let disc = album();
    let samples = noise(disc.leadout.0 as usize * 588, 21);
    aj_testkit::write_wav(&t.path().join("image.wav"), &samples, 2, 44_100, 16);
    let toc_path = t.path().join("album.toc");
    std::fs::write(
        &toc_path,
        TocFile::from_disc(&disc, "image.wav", "image.bin").to_string(),
    )
    .unwrap();
    let plan = CueSheet::from_disc(&disc, CueLayout::SingleFile, |_| CueFile {
        name: "image.wav".into(),
        kind: FileType::Wave,
    })
    .unwrap();
    let cue_path = t.path().join("album.cue");
    std::fs::write(&cue_path, plan.sheet.to_bytes(false, false)).unwrap();

    let mut by_toc = drive(&toc_path);
    let mut by_cue = drive(&cue_path);
    assert_eq!(by_toc.toc().unwrap(), by_cue.toc().unwrap());
    assert_eq!(by_toc.full_toc().unwrap(), by_cue.full_toc().unwrap());
    assert_eq!(
        by_toc.cd_text_packs().unwrap(),
        by_cue.cd_text_packs().unwrap()
    );
    let report = scan::read_disc(&mut by_toc).unwrap();
    assert_eq!(report.disc, scan::read_disc(&mut by_cue).unwrap().disc);
    // What the scan found is the disc we wrote.
    assert_eq!(report.disc.tracks, disc.tracks);
    assert_eq!(report.disc.mcn, disc.mcn);
    assert_eq!(
        report.disc.track_text(2).unwrap().title.as_deref(),
        Some("Two")
    );

    // Every sector, with its Q sub-channel, byte for byte; the audio is the WAV's.
    let audio = read_all(&mut by_toc);
    same(&audio, &le_bytes(&samples), "READ CD");
    for lba in [0, 119, 120, 424, 425, 499, 500, 650, 862, 899, 1399] {
        let a = by_toc
            .read_cd(Lba(lba), 1, C2Mode::Pointers, SubChannel::RawPw)
            .unwrap();
        let b = by_cue
            .read_cd(Lba(lba), 1, C2Mode::Pointers, SubChannel::RawPw)
            .unwrap();
        assert_eq!(a, b, "LBA {lba}");
    }
}

/// What a TOC statement contributes, for the model below.
enum Part<'a> {
    Zeros(usize),
    Bytes(&'a [u8]),
}

/// cdrdao's rule: a track's statements end to end, padded with zeros to a
/// whole sector; each track starts on a fresh sector.
fn model(tracks: &[Vec<Part>]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut firsts = Vec::new();
    for parts in tracks {
        firsts.push(out.len() / SECTOR);
        for p in parts {
            match p {
                Part::Zeros(n) => out.resize(out.len() + n, 0),
                Part::Bytes(b) => out.extend_from_slice(b),
            }
        }
        out.resize(out.len().next_multiple_of(SECTOR), 0);
    }
    (out, firsts)
}

/// `cdrdao show-data`: every sample of the disc as "n: left right".
fn cdrdao_show_data(toc: &Path) -> Vec<u8> {
    let out = Command::new("cdrdao")
        .current_dir(toc.parent().unwrap())
        .arg("show-data")
        .arg(toc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pcm = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((_, values)) = line.split_once(':') else {
            continue;
        };
        for v in values.split_whitespace() {
            pcm.extend_from_slice(&v.parse::<i16>().unwrap().to_le_bytes());
        }
    }
    pcm
}

#[test]
fn sample_granular_statements_raw_wav_flac_and_swap() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    // A raw file as cdrdao reads it by default: big-endian samples.
    let be = noise(270_000, 31);
    std::fs::write(dir.join("be.raw"), be_bytes(&be)).unwrap();
    // A little-endian raw file (SWAP) behind a 4-byte header (#4).
    let le = noise(151_000, 32);
    let mut le_file = b"HEAD".to_vec();
    le_file.extend(le_bytes(&le));
    std::fs::write(dir.join("le.raw"), le_file).unwrap();
    let wav = noise(40_000, 33);
    aj_testkit::write_wav(&dir.join("a.wav"), &wav, 2, 44_100, 16);
    flac_file(&dir.join("a.flac"), &wav);

    let toc_text = |audio: &str| {
        format!(
            "CD_DA\n\
             CATALOG \"0724384260927\"\n\
             CD_TEXT {{\n  LANGUAGE_MAP {{ 0 : EN }}\n  LANGUAGE 0 {{ TITLE \"Pieces\" PERFORMER \"Band\" }}\n}}\n\
             TRACK AUDIO\n\
             ISRC \"GBAYE0000351\"\n\
             CD_TEXT {{ LANGUAGE 0 {{ TITLE \"One\" PERFORMER \"Band\" }} }}\n\
             FILE \"be.raw\" 1000 180001\n\
             TRACK AUDIO\n\
             PRE_EMPHASIS\n\
             CD_TEXT {{ LANGUAGE 0 {{ TITLE \"Two\" PERFORMER \"Band\" }} }}\n\
             PREGAP 0:0:10\n\
             AUDIOFILE \"le.raw\" SWAP #4 7 150000\n\
             SILENCE 333\n\
             FILE \"{audio}\" 123 30001\n\
             INDEX 0:1:0\n\
             TRACK AUDIO\n\
             CD_TEXT {{ LANGUAGE 0 {{ TITLE \"Three\" PERFORMER \"Band\" }} }}\n\
             FILE \"{audio}\" 0 1000\n\
             START\n\
             FILE \"be.raw\" 0:2:5 0:4:0\n"
        )
    };
    let toc_path = dir.join("pieces.toc");
    std::fs::write(&toc_path, toc_text("a.wav")).unwrap();

    let s = |v: &[i32], from: usize, n: usize| le_bytes(&v[from * 2..(from + n) * 2]);
    let (t1, t2a, t2b, t3a, t3b) = (
        s(&be, 1000, 180_001),
        s(&le, 7, 150_000),
        s(&wav, 123, 30_001),
        s(&wav, 0, 1000),
        s(&be, 155 * 588, 4 * 44_100),
    );
    let (expected, firsts) = model(&[
        vec![Part::Bytes(&t1)],
        vec![
            Part::Zeros(10 * SECTOR),
            Part::Bytes(&t2a),
            Part::Zeros(333 * 4),
            Part::Bytes(&t2b),
        ],
        vec![Part::Bytes(&t3a), Part::Bytes(&t3b)],
    ]);
    assert_eq!(firsts, vec![0, 307, 624]);

    let mut d = drive(&toc_path);
    let toc = d.toc().unwrap();
    let starts: Vec<i32> = toc.entries.iter().map(|e| e.start.0).collect();
    // Track 2 after its 10-sector pregap; track 3 after 1000 samples rounded
    // up to 2 sectors (START).
    assert_eq!(starts, vec![0, 317, 626, (expected.len() / SECTOR) as i32]);
    same(&read_all(&mut d), &expected, "READ CD");
    // Reads that start inside a statement and cross into the next.
    let r = d
        .read_cd(Lba(306), 12, C2Mode::None, SubChannel::None)
        .unwrap();
    assert_eq!(r, expected[306 * SECTOR..318 * SECTOR]);

    let report = scan::read_disc(&mut d).unwrap();
    let disc = &report.disc;
    assert_eq!(disc.mcn.as_deref(), Some("0724384260927"));
    assert_eq!(disc.tracks[0].isrc.as_deref(), Some("GBAYE0000351"));
    assert_eq!(disc.tracks[1].pregap, Some(Lba(307)));
    assert!(disc.tracks[1].control.preemphasis);
    assert_eq!(disc.tracks[1].indexes[0].start, Lba(317 + 75));
    assert_eq!(disc.tracks[2].pregap, Some(Lba(624)));
    assert_eq!(disc.track_text(3).unwrap().title.as_deref(), Some("Three"));

    // A FLAC file in place of the WAV: the same disc, byte for byte.
    let flac_toc = dir.join("pieces-flac.toc");
    std::fs::write(&flac_toc, toc_text("a.flac")).unwrap();
    same(&read_all(&mut drive(&flac_toc)), &expected, "with FLAC");

    // cdrdao composes the same samples from the same statements.
    if aj_testkit::have_tool("cdrdao") {
        same(&cdrdao_show_data(&toc_path), &expected, "cdrdao show-data");
        let out = Command::new("cdrdao")
            .current_dir(dir)
            .arg("toc-size")
            .arg(&toc_path)
            .output()
            .unwrap();
        let size: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(size, expected.len() / SECTOR);
    }
}

#[test]
fn data_track_and_datafile_in_an_audio_track() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    // Mode 1 user data (2048 bytes a sector) for a 300-sector data track.
    let iso: Vec<u8> = (0..300 * 2048).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("d.iso"), &iso).unwrap();
    // Raw audio for a DATAFILE in an audio track: big-endian, like FILE.
    let be = noise(200 * 588, 41);
    std::fs::write(dir.join("a.raw"), be_bytes(&be)).unwrap();
    let toc_path = dir.join("mixed.toc");
    std::fs::write(
        &toc_path,
        "CD_ROM\nTRACK MODE1\nDATAFILE \"d.iso\"\nZERO 00:02:00\n\
         TRACK AUDIO\nSILENCE 00:02:00\nSTART\nDATAFILE \"a.raw\"\n",
    )
    .unwrap();
    let mut d = drive(&toc_path);
    let toc = d.toc().unwrap();
    assert!(toc.entries[0].is_data());
    let starts: Vec<i32> = toc.entries.iter().map(|e| e.start.0).collect();
    // Track 2's pregap (SILENCE before START) follows the data track's
    // 300 + 150 sectors.
    assert_eq!(starts, vec![0, 600, 800]);
    assert_eq!(
        d.read_cd(Lba(600), 200, C2Mode::None, SubChannel::None)
            .unwrap(),
        le_bytes(&be)
    );
    // A data sector read raw: sync, header (00:02:05 → LBA 5), mode 1, the user data.
    let mut cmd = mmc::read_cd(Lba(5), 1, C2Mode::None, SubChannel::None);
    cmd.cdb[1] = 0;
    cmd.cdb[9] = 0xF8;
    let raw = d.execute(&cmd).unwrap();
    assert_eq!(
        &raw[..12],
        &[0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0]
    );
    assert_eq!(&raw[12..16], &[0x00, 0x02, 0x05, 1]);
    assert_eq!(&raw[16..16 + 2048], &iso[5 * 2048..6 * 2048]);
    // The post-gap (ZERO) is zeros.
    let mut cmd = mmc::read_cd(Lba(320), 1, C2Mode::None, SubChannel::None);
    cmd.cdb[1] = 0;
    cmd.cdb[9] = 0xF8;
    assert!(d.execute(&cmd).unwrap()[16..16 + 2048]
        .iter()
        .all(|&b| b == 0));
}

#[test]
fn toc_files_that_do_not_fit_their_files() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    std::fs::write(dir.join("a.raw"), vec![0u8; 400 * SECTOR]).unwrap();
    aj_testkit::write_wav(&dir.join("a.wav"), &noise(1000, 1), 2, 44_100, 16);
    let cases = [
        (
            "TRACK AUDIO\nFILE \"a.raw\" 0 0:6:0\n",
            "track 1: FILE of a.raw reaches past its end (235200 samples)",
        ),
        (
            "TRACK AUDIO\nFILE \"a.wav\" #44 0\n",
            "a byte offset (#) applies to raw files",
        ),
        ("TRACK AUDIO\nFILE \"gone.raw\" 0\n", "no such file"),
        ("TRACK AUDIO\nFILE \"-\" 0\n", "standard input"),
        ("TRACK AUDIO\nFILE \"a.raw\" 0:60:0\n", "line 2:"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = dir.join(format!("bad{i}.toc"));
        std::fs::write(&p, text).unwrap();
        let e = transport::open(Some(&format!("image:{}", p.display())))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
}

/// An image file truncated after the drive opened it: the sectors it no
/// longer holds fail with MEDIUM ERROR / UNRECOVERED READ ERROR at their LBA,
/// as a damaged disc would, instead of reading as silence.
#[test]
fn truncated_image_files_are_medium_errors() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let pcm = le_bytes(&noise(600 * 588, 51));
    std::fs::write(dir.join("disc.bin"), &pcm).unwrap();
    let cue = dir.join("disc.cue");
    std::fs::write(
        &cue,
        "FILE \"disc.bin\" BINARY\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n",
    )
    .unwrap();
    std::fs::write(dir.join("disc.le"), &pcm).unwrap();
    let toc = dir.join("disc.toc");
    std::fs::write(&toc, "CD_DA\nTRACK AUDIO\nFILE \"disc.le\" SWAP 0\n").unwrap();

    for (image, file) in [(&cue, "disc.bin"), (&toc, "disc.le")] {
        let mut d = drive(image);
        assert_eq!(
            d.read_cd(Lba(500), 1, C2Mode::None, SubChannel::None)
                .unwrap(),
            pcm[500 * SECTOR..501 * SECTOR]
        );
        // The file now ends inside sector 300.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(file))
            .unwrap();
        f.set_len(300 * SECTOR as u64 + 1000).unwrap();
        drop(f);
        assert_eq!(
            d.read_cd(Lba(299), 1, C2Mode::None, SubChannel::None)
                .unwrap(),
            pcm[299 * SECTOR..300 * SECTOR]
        );
        for lba in [300, 500] {
            let e = d
                .read_cd(Lba(lba), 1, C2Mode::None, SubChannel::None)
                .unwrap_err();
            let s = e.sense().copied().unwrap();
            assert_eq!(
                (s.key, (s.asc, s.ascq), s.information),
                (
                    sense::KEY_MEDIUM_ERROR,
                    sense::ASC_UNRECOVERED_READ_ERROR,
                    Some(lba as u32)
                ),
                "{image:?} LBA {lba}"
            );
            assert_eq!(
                e.to_string(),
                format!("READ CD: medium error: unrecovered read error at LBA {lba}")
            );
        }
    }
}

#[test]
fn swap_is_read_and_written() {
    let text = "CD_DA\nTRACK AUDIO\nFILE \"a.bin\" SWAP #4 0 1000\n";
    let toc = TocFile::parse(text).unwrap();
    assert_eq!(
        toc.tracks[0].items[0],
        aj_cd::tocfile::TocItem::Audio {
            name: "a.bin".into(),
            swap: true,
            offset: Some(4),
            start: 0,
            length: Some(1000),
        }
    );
    assert!(toc
        .to_string()
        .contains("FILE \"a.bin\" SWAP #4 00:00:00 1000"));
    assert_eq!(TocFile::parse(&toc.to_string()).unwrap(), toc);
}
