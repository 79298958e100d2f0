//! The virtual drive through the same `Drive` API a real drive uses: images
//! generated here (BIN, WAV, FLAC) with cue sheets written beside them.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use aj_cd::disc::{Disc, Session, Track};
use aj_cd::id::DiscIds;
use aj_cd::mmc::{self, scan, subq, C2Mode, Drive, SubChannel};
use aj_cd::transport::{self, Error};
use aj_cd::virtual_drive::{Options, VirtualDrive};
use aj_core::{Lba, Msf};

const SECTOR: usize = 2352;

/// `sectors` of stereo 16-bit noise as little-endian bytes.
fn pcm(sectors: usize, seed: u64) -> Vec<u8> {
    aj_testkit::noise(sectors * 588, 2, 16, seed)
        .iter()
        .flat_map(|&s| (s as i16).to_le_bytes())
        .collect()
}

fn samples_of(bytes: &[u8]) -> Vec<i32> {
    bytes
        .chunks_exact(2)
        .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
        .collect()
}

/// A three-track BIN image with pregaps, an index 02, MCN, ISRCs and CD-TEXT.
/// Track 1: LBA 0–299; track 2: INDEX 00 at 225, 01 at 300, 02 at 450;
/// track 3: INDEX 00 at 675, 01 at 750; lead-out 1125.
fn bin_image(dir: &Path) -> (PathBuf, Vec<u8>) {
    let bin = pcm(1125, 7);
    std::fs::write(dir.join("disc.bin"), &bin).unwrap();
    let cue = dir.join("disc.cue");
    std::fs::write(
        &cue,
        "CATALOG 0724384260927\n\
         PERFORMER \"The Testers\"\n\
         TITLE \"Virtual Album\"\n\
         FILE \"disc.bin\" BINARY\n\
         \x20 TRACK 01 AUDIO\n\
         \x20   TITLE \"First\"\n\
         \x20   ISRC GBAYE0000351\n\
         \x20   INDEX 01 00:00:00\n\
         \x20 TRACK 02 AUDIO\n\
         \x20   TITLE \"Second\"\n\
         \x20   FLAGS PRE DCP\n\
         \x20   INDEX 00 00:03:00\n\
         \x20   INDEX 01 00:04:00\n\
         \x20   INDEX 02 00:06:00\n\
         \x20 TRACK 03 AUDIO\n\
         \x20   TITLE \"Third\"\n\
         \x20   PERFORMER \"Guest\"\n\
         \x20   ISRC USRC17607839\n\
         \x20   INDEX 00 00:09:00\n\
         \x20   INDEX 01 00:10:00\n",
    )
    .unwrap();
    (cue, bin)
}

fn drive(spec: &str) -> Drive {
    transport::open(Some(spec)).unwrap()
}

fn q_at(d: &mut Drive, lba: i32) -> subq::QFrame {
    let r = d.read_cd(Lba(lba), 1, C2Mode::None, SubChannel::Q).unwrap();
    subq::decode(&r[SECTOR..SECTOR + 12]).unwrap()
}

fn position(q: &subq::QFrame) -> (u8, u8, Msf, Msf) {
    match &q.data {
        subq::QData::Position {
            track,
            index,
            relative,
            absolute,
        } => (*track, *index, *relative, *absolute),
        other => panic!("not a position frame: {other:?}"),
    }
}

fn msf(m: u8, s: u8, f: u8) -> Msf {
    Msf { m, s, f }
}

#[test]
fn toc_sub_channel_and_cd_text_from_a_bin_cue() {
    let t = tempfile::tempdir().unwrap();
    let (cue, bin) = bin_image(t.path());
    let mut d = drive(&format!("image:{}", cue.display()));

    let inq = d.inquiry().unwrap();
    assert_eq!(inq.device_type, mmc::DEVICE_TYPE_MMC);
    d.test_unit_ready().unwrap();

    let toc = d.toc().unwrap();
    let starts: Vec<(u8, i32, u8)> = toc
        .entries
        .iter()
        .map(|e| (e.track, e.start.0, e.control))
        .collect();
    assert_eq!(
        starts,
        vec![(1, 0, 0), (2, 300, 3), (3, 750, 0), (0xAA, 1125, 0)]
    );

    let full = d.full_toc().unwrap();
    let a2 = full.entries.iter().find(|e| e.point == 0xA2).unwrap();
    assert_eq!((a2.pmin, a2.psec, a2.pframe), (0, 17, 0)); // LBA 1125 + 150 = 00:17:00
    assert_eq!(
        full.entries.iter().find(|e| e.point == 0xA1).unwrap().pmin,
        3
    );
    assert_eq!(full.session_lead_outs(), vec![(1, Lba(1125))]);
    let si = d.session_info().unwrap();
    assert_eq!((si.last_session, si.last_session_first_track), (1, 1));
    // Pressed discs have no ATIP.
    assert!(d.atip().unwrap_err().sense().is_some());

    // Q: the pregap of track 2 counts down to 00:00:00 at its last frame.
    let (tr, ix, rel, abs) = position(&q_at(&mut d, 225));
    assert_eq!((tr, ix, rel, abs), (2, 0, msf(0, 0, 74), msf(0, 5, 0)));
    let (tr, ix, rel, _) = position(&q_at(&mut d, 299));
    assert_eq!((tr, ix, rel), (2, 0, msf(0, 0, 0)));
    let q = q_at(&mut d, 301);
    assert_eq!(q.control, 3, "pre-emphasis and copy permitted in Q");
    assert_eq!(position(&q).2, msf(0, 0, 1));
    assert_eq!(position(&q_at(&mut d, 460)).1, 2);
    assert_eq!(position(&q_at(&mut d, 1124)).0, 3);

    // One frame in a hundred is the MCN, another the ISRC (outside pregaps).
    let mut mcn = 0;
    let mut isrc = Vec::new();
    for lba in 0..300 {
        match q_at(&mut d, lba).data {
            subq::QData::Mcn { mcn: m, .. } => {
                assert_eq!(m, "0724384260927");
                mcn += 1;
            }
            subq::QData::Isrc { isrc: i, .. } => isrc.push(i),
            subq::QData::Position { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    // LBA 25 and 125 (225 is in track 2's pregap, which carries positions).
    assert_eq!(mcn, 2);
    assert_eq!(isrc, vec!["GBAYE0000351"; 2]);
    assert!(matches!(
        q_at(&mut d, 675).data,
        subq::QData::Position { .. }
    ));

    // Raw P-W: the same Q in bit 6, P set in the pause.
    let r = d
        .read_cd(Lba(250), 1, C2Mode::None, SubChannel::RawPw)
        .unwrap();
    let raw = &r[SECTOR..];
    assert!(raw.iter().all(|b| b & 0x80 != 0));
    assert_eq!(
        position(&subq::decode(&subq::q_from_raw(raw).unwrap()).unwrap()).1,
        0
    );

    assert_eq!(d.mcn().unwrap().as_deref(), Some("0724384260927"));
    assert_eq!(d.isrc(3).unwrap().as_deref(), Some("USRC17607839"));
    assert_eq!(d.isrc(2).unwrap(), None);

    // CD-TEXT packs with valid CRCs, parsing back to the sheet's fields.
    let packs = d.cd_text_packs().unwrap();
    assert!(!packs.is_empty());
    assert!(packs.iter().all(aj_cd::cdtext::crc_ok));
    let text = aj_cd::cdtext::parse(&packs).text.unwrap();
    assert_eq!(text.blocks[0].disc.title.as_deref(), Some("Virtual Album"));
    assert_eq!(
        text.blocks[0].tracks[&3].performer.as_deref(),
        Some("Guest")
    );

    // Audio comes back byte for byte, several sectors per command.
    let r = d
        .read_cd(Lba(100), 5, C2Mode::Pointers, SubChannel::None)
        .unwrap();
    let sectors = mmc::split_read_cd(&r, C2Mode::Pointers, SubChannel::None).unwrap();
    for (i, s) in sectors.iter().enumerate() {
        let at = (100 + i) * SECTOR;
        assert_eq!(s.audio, &bin[at..at + SECTOR]);
        assert!(!s.has_c2_errors());
    }

    // Capabilities and configuration.
    let caps = d.capabilities().unwrap();
    assert!(caps.accurate_stream && caps.c2_pointers && caps.cd_da_commands);
    let cfg = d.configuration().unwrap();
    assert_eq!(cfg.current_profile, 0x0008);
    assert!(cfg.cd_read.unwrap().c2_flags);

    // Out of range and unknown commands answer as a drive does.
    let e = d
        .read_cd(Lba(1125), 1, C2Mode::None, SubChannel::None)
        .unwrap_err();
    assert!(
        e.to_string().contains("logical block address out of range"),
        "{e}"
    );
    let e = d.execute(&mmc::Command {
        cdb: vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        direction: mmc::Direction::FromDevice,
        transfer_len: 8,
        timeout: std::time::Duration::from_secs(1),
    });
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("invalid command operation code"));
    // REQUEST SENSE returns the last error once.
    assert_eq!(d.request_sense().unwrap().asc, 0x20);
    assert_eq!(d.request_sense().unwrap().key, 0);
}

#[test]
fn read_offset_and_overread() {
    let t = tempfile::tempdir().unwrap();
    let (cue, bin) = bin_image(t.path());
    let spec = |o: &str| format!("image:{}{o}", cue.display());

    // +6: sector L starts 6 samples (24 bytes) early.
    let mut d = drive(&spec(",offset=+6"));
    let r = d
        .read_cd(Lba(10), 2, C2Mode::None, SubChannel::None)
        .unwrap();
    assert_eq!(r, &bin[10 * SECTOR - 24..12 * SECTOR - 24]);
    // -30: 120 bytes late.
    let mut d = drive(&spec(",offset=-30"));
    let r = d
        .read_cd(Lba(10), 1, C2Mode::None, SubChannel::None)
        .unwrap();
    assert_eq!(r, &bin[10 * SECTOR + 120..11 * SECTOR + 120]);

    // Before LBA 0 lies track 1's pregap: silence, readable through the offset.
    let mut d = drive(&spec(",offset=6"));
    let r = d
        .read_cd(Lba(0), 1, C2Mode::None, SubChannel::None)
        .unwrap();
    assert!(r[..24].iter().all(|&b| b == 0));
    assert_eq!(&r[24..], &bin[..SECTOR - 24]);
    // Without overread the last sector (offset -30) needs samples in the
    // lead-out: a medium error naming the LBA.
    let mut d = drive(&spec(",offset=-30"));
    let e = d
        .read_cd(Lba(1124), 1, C2Mode::None, SubChannel::None)
        .unwrap_err();
    assert!(e.to_string().contains("at LBA 1124"), "{e}");
    assert!(d
        .read_cd(Lba(1124), 1, C2Mode::None, SubChannel::None)
        .unwrap_err()
        .is_medium_error());
    assert!(d
        .read_cd(Lba(1123), 1, C2Mode::None, SubChannel::None)
        .is_ok());

    // With overread: zeros outside, and the lead-out and lead-in are readable.
    let mut d = drive(&spec(",offset=6,overread=yes"));
    let r = d
        .read_cd(Lba(0), 1, C2Mode::None, SubChannel::None)
        .unwrap();
    assert!(r[..24].iter().all(|&b| b == 0));
    assert_eq!(&r[24..], &bin[..SECTOR - 24]);
    let r = d
        .read_cd(Lba(1125), 1, C2Mode::None, SubChannel::Q)
        .unwrap();
    assert_eq!(&r[..24], &bin[1125 * SECTOR - 24..]);
    assert!(r[24..SECTOR].iter().all(|&b| b == 0));
    assert_eq!(
        position(&subq::decode(&r[SECTOR..SECTOR + 12]).unwrap()).0,
        subq::LEAD_OUT_TRACK
    );
    assert!(d
        .read_cd(Lba(-150), 1, C2Mode::None, SubChannel::None)
        .is_ok());
    assert!(d
        .read_cd(Lba(-151), 1, C2Mode::None, SubChannel::None)
        .is_err());
}

#[test]
fn faults_bad_flaky_corrupt_c2_jitter() {
    let t = tempfile::tempdir().unwrap();
    let (cue, bin) = bin_image(t.path());
    let spec = |o: &str| format!("image:{}{o}", cue.display());

    // Unreadable sectors fail every time, naming the LBA; the rest reads.
    let mut d = drive(&spec(",bad=500-502"));
    for _ in 0..3 {
        let e = d
            .read_cd(Lba(498), 4, C2Mode::None, SubChannel::None)
            .unwrap_err();
        assert_eq!(e.sense().unwrap().information, Some(500));
        assert_eq!(
            e.to_string(),
            "READ CD: medium error: unrecovered read error at LBA 500"
        );
    }
    assert!(d
        .read_cd(Lba(503), 1, C2Mode::None, SubChannel::None)
        .is_ok());

    // Transient errors: some reads fail, retries succeed, the seed repeats them.
    let failures = |seed: u64| {
        let mut d = drive(&spec(&format!(",flaky=0.2,seed={seed}")));
        (0..200)
            .map(|l| {
                d.read_cd(Lba(l), 1, C2Mode::None, SubChannel::None)
                    .is_err()
            })
            .collect::<Vec<_>>()
    };
    let a = failures(3);
    let n = a.iter().filter(|&&f| f).count();
    assert!((15..=70).contains(&n), "{n} failures of 200 at 20%");
    assert_eq!(a, failures(3));
    assert_ne!(a, failures(4));

    // Corruption with C2: exactly the damaged bytes are flagged.
    let mut d = drive(&spec(",corrupt=0.5,seed=9"));
    let mut damaged = 0;
    for l in 0..60 {
        let r = d
            .read_cd(Lba(l), 1, C2Mode::Pointers, SubChannel::None)
            .unwrap();
        let truth = &bin[l as usize * SECTOR..(l as usize + 1) * SECTOR];
        let c2 = &r[SECTOR..];
        for i in 0..SECTOR {
            let flagged = c2[i / 8] & (0x80 >> (i % 8)) != 0;
            assert_eq!(flagged, r[i] != truth[i], "LBA {l} byte {i}");
        }
        if r[..SECTOR] != *truth {
            damaged += 1;
        }
    }
    assert!(
        (15..=45).contains(&damaged),
        "{damaged} of 60 damaged at 50%"
    );

    // c2=no: no C2 support at all, and corruption goes unnoticed.
    let mut d = drive(&spec(",corrupt=1,c2=no"));
    assert!(!d.capabilities().unwrap().c2_pointers);
    assert!(!d.configuration().unwrap().cd_read.unwrap().c2_flags);
    let e = d
        .read_cd(Lba(5), 1, C2Mode::Pointers, SubChannel::None)
        .unwrap_err();
    assert!(e.to_string().contains("invalid field in CDB"), "{e}");
    let r = d
        .read_cd(Lba(5), 1, C2Mode::None, SubChannel::None)
        .unwrap();
    assert_ne!(r, &bin[5 * SECTOR..6 * SECTOR]);

    // Jitter: no accurate stream; each command starts up to 20 samples off.
    let mut d = drive(&spec(",jitter=20,seed=5"));
    assert!(!d.capabilities().unwrap().accurate_stream);
    let mut shifts = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let r = d
            .read_cd(Lba(400), 1, C2Mode::None, SubChannel::None)
            .unwrap();
        let shift = (-20i64..=20)
            .find(|s| {
                let at = (400 * SECTOR as i64 + s * 4) as usize;
                r == bin[at..at + SECTOR]
            })
            .expect("a shift within the jitter");
        shifts.insert(shift);
    }
    assert!(shifts.len() > 3, "{shifts:?}");
}

#[test]
fn cache_returns_what_it_read() {
    let t = tempfile::tempdir().unwrap();
    let (cue, bin) = bin_image(t.path());
    let opts = Options::parse(&format!("{},cache=4,corrupt=1,seed=2", cue.display())).unwrap();
    let mut vd = VirtualDrive::open(opts).unwrap();
    let d = |vd: &mut VirtualDrive, l: i32| {
        let c = mmc::read_cd(Lba(l), 1, C2Mode::None, SubChannel::None);
        let mut buf = vec![0u8; c.transfer_len];
        use aj_cd::transport::Transport;
        vd.execute(&c.cdb, c.direction, &mut buf, c.timeout)
            .unwrap();
        buf
    };
    let first = d(&mut vd, 10);
    assert_ne!(first, &bin[10 * SECTOR..11 * SECTOR]);
    // Cached: the same damaged bytes again, not a new read.
    assert_eq!(d(&mut vd, 10), first);
    assert_eq!(vd.stats().cache_hits, 1);
    // Reading 4 other sectors evicts it: a fresh (differently damaged) read.
    for l in 20..24 {
        d(&mut vd, l);
    }
    let again = d(&mut vd, 10);
    assert_ne!(again, first);
    assert_eq!(vd.stats().medium_reads, 6);
}

#[test]
fn a_cache_the_drive_does_not_report_and_simulated_time() {
    let t = tempfile::tempdir().unwrap();
    let (cue, bin) = bin_image(t.path());
    // The buffer reported by page 2Ah follows the cache unless given.
    let mut d = drive(&format!("image:{},cache=64", cue.display()));
    assert_eq!(d.capabilities().unwrap().buffer_kib, 147);
    let spec = format!("image:{},cache=64,buffer=0,speed=10", cue.display());
    let mut d = drive(&spec);
    assert_eq!(d.capabilities().unwrap().buffer_kib, 0);
    // Sectors from the medium take their time (a lower bound: 15 sectors at
    // 10× are 20 ms); the cached copy is the same bytes.
    let started = std::time::Instant::now();
    let first = d
        .read_cd(Lba(5), 15, C2Mode::None, SubChannel::None)
        .unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(20));
    assert_eq!(first, &bin[5 * SECTOR..20 * SECTOR]);
    let again = d
        .read_cd(Lba(5), 15, C2Mode::None, SubChannel::None)
        .unwrap();
    assert_eq!(again, first);
    let o = Options::parse("x.cue,buffer=2048,stall=0.25,speed=4").unwrap();
    assert_eq!(
        (o.buffer_kib, o.stall, o.speed),
        (Some(2048), 0.25, Some(4))
    );
    for bad in ["x.cue,buffer=-1", "x.cue,buffer=70000", "x.cue,stall=2"] {
        assert!(Options::parse(bad).is_err(), "{bad}");
    }
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

#[test]
fn wav_and_flac_files_with_gaps_appended() {
    // EAC "multiple files with gaps appended": track 2's pregap is the end of
    // 01.wav; a FLAC file for track 3 with a partial last sector.
    let t = tempfile::tempdir().unwrap();
    let a = pcm(400, 1);
    let b = pcm(300, 2);
    let c_samples = aj_testkit::noise(200 * 588 + 100, 2, 16, 3);
    aj_testkit::write_wav(&t.path().join("01.wav"), &samples_of(&a), 2, 44_100, 16);
    aj_testkit::write_wav(&t.path().join("02.wav"), &samples_of(&b), 2, 44_100, 16);
    flac_file(&t.path().join("03.flac"), &c_samples);
    let cue = t.path().join("disc.cue");
    std::fs::write(
        &cue,
        "FILE \"01.wav\" WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n\
         \x20 TRACK 02 AUDIO\n    INDEX 00 00:04:00\n\
         FILE \"02.wav\" WAVE\n    INDEX 01 00:00:00\n\
         FILE \"03.flac\" WAVE\n  TRACK 03 AUDIO\n    INDEX 01 00:00:00\n",
    )
    .unwrap();
    let mut d = drive(&format!("image:{}", cue.display()));
    let toc = d.toc().unwrap();
    let starts: Vec<i32> = toc.entries.iter().map(|e| e.start.0).collect();
    assert_eq!(starts, vec![0, 400, 700, 901]);
    let r = d
        .read_cd(Lba(398), 4, C2Mode::None, SubChannel::None)
        .unwrap();
    assert_eq!(&r[..2 * SECTOR], &a[398 * SECTOR..]);
    assert_eq!(&r[2 * SECTOR..], &b[..2 * SECTOR]);
    // The FLAC track, bit-exact, and its padded last sector.
    let r = d
        .read_cd(Lba(900), 1, C2Mode::None, SubChannel::None)
        .unwrap();
    let tail: Vec<i32> = samples_of(&r[..100 * 4]);
    assert_eq!(tail, c_samples[200 * 588 * 2..]);
    assert!(r[400..].iter().all(|&x| x == 0));
    let report = scan::read_disc(&mut d).unwrap();
    assert_eq!(report.disc.tracks[1].pregap, Some(Lba(300)));

    // A lone audio file is a one-track disc.
    let mut d = drive(&format!("image:{}", t.path().join("02.wav").display()));
    assert_eq!(d.toc().unwrap().lead_out(), Some(Lba(300)));

    // Not CD audio: a clear error naming the file.
    aj_testkit::write_wav(&t.path().join("48k.wav"), &[0; 960], 2, 48_000, 16);
    let e = transport::open(Some(&format!(
        "image:{}",
        t.path().join("48k.wav").display()
    )))
    .unwrap_err();
    assert!(e.to_string().contains("48000 Hz"), "{e}");
}

#[test]
fn scanning_finds_what_the_sheet_says() {
    let t = tempfile::tempdir().unwrap();
    let (cue, _) = bin_image(t.path());
    let sheet = aj_cd::cue::CueSheet::parse(&std::fs::read_to_string(&cue).unwrap()).unwrap();
    let expected = sheet.to_disc(|_| Ok(1125)).unwrap();
    let mut d = drive(&format!("image:{}", cue.display()));
    let r = scan::read_disc(&mut d).unwrap();
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(r.disc.tracks, expected.tracks);
    assert_eq!(r.disc.mcn, expected.mcn);
    assert_eq!(r.disc.leadout, expected.leadout);
    assert_eq!(r.disc.disc_text(), expected.disc_text());
    assert_eq!(
        DiscIds::compute(&r.disc).unwrap(),
        DiscIds::compute(&expected).unwrap()
    );

    // Hidden track one audio, with a read offset: the scan reads Q, which the
    // offset does not move.
    std::fs::write(
        t.path().join("htoa.cue"),
        "FILE \"disc.bin\" BINARY\n  TRACK 01 AUDIO\n    INDEX 00 00:00:00\n    INDEX 01 00:02:40\n\
         \x20 TRACK 02 AUDIO\n    INDEX 01 00:08:00\n",
    )
    .unwrap();
    let mut d = drive(&format!(
        "image:{},offset=667",
        t.path().join("htoa.cue").display()
    ));
    let r = scan::read_disc(&mut d).unwrap();
    assert_eq!(r.disc.tracks[0].pregap, Some(Lba(0)));
    assert_eq!(r.disc.hidden_track(), Some(Lba(0)..Lba(190)));
    assert_eq!(r.disc.tracks[1].pregap, None);
}

#[test]
fn enhanced_cd_from_the_disc_model() {
    // Two audio tracks in session 1, a data track in session 2.
    let mut disc = Disc::audio(&[Lba(0), Lba(200)], Lba(400)).unwrap();
    disc.tracks.push(Track::data(3, 2, Lba(400 + 11_400)));
    disc.sessions = vec![
        Session {
            number: 1,
            leadout: Lba(400),
        },
        Session {
            number: 2,
            leadout: Lba(12_000),
        },
    ];
    disc.leadout = Lba(12_000);
    // The image leaves the gap between sessions out.
    let mut image = pcm(400, 4);
    let data: Vec<u8> = (0..200 * SECTOR).map(|i| (i % 251) as u8).collect();
    image.extend_from_slice(&data);
    let vd = VirtualDrive::from_image(disc.clone(), &image, Options::new("enhanced")).unwrap();
    let mut d = Drive::new(Box::new(vd));
    let toc = d.toc().unwrap();
    assert!(toc.entries[2].is_data());
    assert_eq!(toc.lead_out(), Some(Lba(12_000)));
    let full = d.full_toc().unwrap();
    assert_eq!(
        full.session_lead_outs(),
        vec![(1, Lba(400)), (2, Lba(12_000))]
    );
    assert_eq!(full.track_sessions(), vec![(1, 1), (2, 1), (3, 2)]);
    assert!(full
        .entries
        .iter()
        .any(|e| e.point == mmc::POINT_NEXT_AREA && e.adr == 5));
    let si = d.session_info().unwrap();
    assert_eq!(
        (
            si.last_session,
            si.last_session_first_track,
            si.last_session_start
        ),
        (2, 3, Lba(11_800))
    );
    // CD-DA reads of the data track are refused; "any type" returns it raw.
    let e = d
        .read_cd(Lba(11_800), 1, C2Mode::None, SubChannel::None)
        .unwrap_err();
    assert!(e.to_string().contains("illegal mode for this track"), "{e}");
    assert!(d.read_q_any(Lba(11_801)).is_ok());
    // Between the sessions is outside the disc.
    assert!(d
        .read_cd(Lba(5000), 1, C2Mode::None, SubChannel::None)
        .unwrap_err()
        .is_medium_error());

    let r = scan::read_disc(&mut d).unwrap();
    assert_eq!(r.disc.kind(), aj_cd::disc::DiscKind::Enhanced);
    assert_eq!(r.disc.sessions, disc.sessions);
    assert_eq!(
        DiscIds::compute(&r.disc).unwrap(),
        DiscIds::compute(&disc).unwrap()
    );
}

#[test]
fn tray_lock_and_events() {
    let t = tempfile::tempdir().unwrap();
    let (cue, _) = bin_image(t.path());
    let mut d = drive(&format!("image:{}", cue.display()));
    assert_eq!(d.media_status().unwrap().event, mmc::MediaEvent::NewMedia);
    assert_eq!(d.media_status().unwrap().event, mmc::MediaEvent::NoChange);
    d.set_speed(Some(1764)).unwrap();
    d.lock(true).unwrap();
    let e = d
        .execute(&mmc::start_stop_unit(mmc::TrayAction::Eject))
        .unwrap_err();
    assert!(e.to_string().contains("medium removal prevented"), "{e}");
    // Drive::eject unlocks first.
    d.eject().unwrap();
    let s = d.media_status().unwrap();
    assert_eq!(
        (s.event, s.tray_open, s.media_present),
        (mmc::MediaEvent::MediaRemoval, true, false)
    );
    let e = d.test_unit_ready().unwrap_err();
    assert!(e.is_no_medium());
    assert_eq!(
        e.to_string(),
        "TEST UNIT READY: no medium (the tray is open)"
    );
    assert!(d.toc().unwrap_err().is_no_medium());
    assert_eq!(d.configuration().unwrap().current_profile, 0);
    d.load().unwrap();
    assert_eq!(d.media_status().unwrap().event, mmc::MediaEvent::NewMedia);
    d.test_unit_ready().unwrap();
}

#[test]
fn drive_specs() {
    let o = Options::parse("/x/disc.cue,offset=-1164,overread=yes,cache=64,bad=10-20,bad=30,flaky=0.01,corrupt=0.5,c2=no,seed=42,jitter=4").unwrap();
    assert_eq!(o.path, PathBuf::from("/x/disc.cue"));
    assert_eq!(
        (o.offset, o.overread, o.cache, o.c2, o.seed, o.jitter),
        (-1164, true, 64, false, 42, 4)
    );
    assert_eq!(o.bad, vec![(10, 20), (30, 30)]);
    assert_eq!((o.flaky, o.corrupt), (0.01, 0.5));
    // Commas in the path stay in the path.
    assert_eq!(
        Options::parse("a,b.cue,cache=1").unwrap().path,
        PathBuf::from("a,b.cue")
    );
    for bad in [
        "",
        "x.cue,offset=x",
        "x.cue,offset=99999",
        "x.cue,overread=maybe",
        "x.cue,flaky=2",
        "x.cue,bad=9-1",
        "x.cue,loud=3",
        "x.cue,speed=0",
    ] {
        let e = Options::parse(bad);
        assert!(matches!(e, Err(Error::Spec(_))), "{bad}: {e:?}");
    }
    let e = transport::open(Some("image:/nonexistent/disc.cue")).unwrap_err();
    assert!(e.to_string().contains("no such file"), "{e}");
}
