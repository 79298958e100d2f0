//! The secure reader against the virtual drive: every result is checked
//! against the image's own samples.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aj_cd::disc::Disc;
use aj_cd::mmc::{sense, Drive, Sense};
use aj_cd::rip::{
    CacheCheck, CacheSource, CacheVerdict, Error, Mode, Pass, RangeReport, ReadOptions,
    SecureReader,
};
use aj_cd::transport::{self, Direction, Transport};
use aj_cd::virtual_drive::{Options, Stats, VirtualDrive};
use aj_core::{CancelToken, Lba};

const SECTOR: usize = 2352;

/// `sectors` of stereo 16-bit noise as little-endian bytes.
fn pcm(sectors: usize, seed: u64) -> Vec<u8> {
    aj_testkit::noise(sectors * 588, 2, 16, seed)
        .iter()
        .flat_map(|&s| (s as i16).to_le_bytes())
        .collect()
}

/// What a wrapped drive does after some READ CD commands.
#[derive(Clone, Copy)]
enum Fail {
    None,
    /// The device vanishes.
    Gone,
    /// The disc is taken out.
    Ejected,
    /// The host adapter fails every command.
    Transport,
}

/// The virtual drive behind a transport that shares its counters and can
/// fail on purpose.
struct Spy {
    inner: VirtualDrive,
    stats: Arc<Mutex<Stats>>,
    fail: Fail,
    fail_after: u64,
    reads: u64,
    /// Every READ CD: first LBA, sectors, and how many came from the cache.
    log: Arc<Mutex<Vec<(i32, u32, u64)>>>,
}

impl Transport for Spy {
    fn execute(
        &mut self,
        cdb: &[u8],
        direction: Direction,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, transport::Error> {
        let op = cdb[0];
        if op == aj_cd::mmc::OP_READ_CD {
            self.reads += 1;
            if self.reads > self.fail_after {
                match self.fail {
                    Fail::None => {}
                    Fail::Gone => {
                        return Err(transport::Error::NoDevice {
                            device: "/dev/sr9".into(),
                        })
                    }
                    Fail::Ejected => {
                        return Err(transport::Error::Check {
                            op,
                            sense: Sense::new(sense::KEY_NOT_READY, sense::ASC_NO_MEDIUM_TRAY_OPEN),
                        })
                    }
                    Fail::Transport => {
                        return Err(transport::Error::Transport {
                            op,
                            detail: "host adapter reset".into(),
                        })
                    }
                }
            }
        }
        let hits = self.inner.stats().cache_hits;
        let r = self.inner.execute(cdb, direction, buf, timeout);
        *self.stats.lock().unwrap() = self.inner.stats();
        if let Some(rc) = aj_cd::mmc::parse_read_cd_cdb(cdb) {
            self.log.lock().unwrap().push((
                rc.lba.0,
                rc.count,
                self.inner.stats().cache_hits - hits,
            ));
        }
        r
    }

    fn name(&self) -> String {
        self.inner.name()
    }
}

/// A test disc: two tracks of noise.
struct TestDisc {
    disc: Disc,
    image: Vec<u8>,
    /// The READ CD commands of the drives opened (see [`Spy::log`]).
    log: Arc<Mutex<Vec<(i32, u32, u64)>>>,
}

impl TestDisc {
    fn new(sectors: i32, seed: u64) -> TestDisc {
        let disc = Disc::audio(&[Lba(0), Lba(sectors / 2)], Lba(sectors)).unwrap();
        TestDisc {
            disc,
            image: pcm(sectors as usize, seed),
            log: Arc::default(),
        }
    }

    /// A drive over the disc with options `spec` (the part after the path).
    fn drive(&self, spec: &str) -> (Drive, Arc<Mutex<Stats>>) {
        self.drive_failing(spec, Fail::None, 0)
    }

    fn drive_failing(&self, spec: &str, fail: Fail, fail_after: u64) -> (Drive, Arc<Mutex<Stats>>) {
        let opts = Options::parse(&format!("test.bin{spec}")).unwrap();
        let inner = VirtualDrive::from_image(self.disc.clone(), &self.image, opts).unwrap();
        let stats = Arc::new(Mutex::new(Stats::default()));
        let spy = Spy {
            inner,
            stats: stats.clone(),
            fail,
            fail_after,
            reads: 0,
            log: self.log.clone(),
        };
        (Drive::new(Box::new(spy)), stats)
    }

    /// The disc's bytes of LBAs `a..b`.
    fn expected(&self, a: i32, b: i32) -> &[u8] {
        &self.image[a as usize * SECTOR..b as usize * SECTOR]
    }
}

fn opts(mode: Mode, offset: i32) -> ReadOptions {
    ReadOptions {
        mode,
        offset,
        ..ReadOptions::default()
    }
}

/// Reads `a..b`, returning the bytes delivered and the report.
fn read(
    drive: &mut Drive,
    disc: &Disc,
    o: ReadOptions,
    a: i32,
    b: i32,
) -> Result<(Vec<u8>, RangeReport), Error> {
    let mut r = SecureReader::new(drive, disc, o)?;
    let mut got = Vec::new();
    let report = r.read_range(
        Lba(a)..Lba(b),
        &mut |bytes| {
            assert_eq!(bytes.len() % 4, 0);
            got.extend_from_slice(bytes);
            Ok(())
        },
        &mut |_| {},
        &CancelToken::new(),
    )?;
    Ok((got, report))
}

fn crc(b: &[u8]) -> u32 {
    crc32fast::hash(b)
}

/// Asserts bit-exactness without printing megabytes on failure.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{what}: first difference at frame {}", i / 4);
    }
}

#[test]
fn clean_read_is_exact_in_every_mode() {
    let t = TestDisc::new(600, 1);
    for mode in [Mode::Secure, Mode::Burst, Mode::TestAndCopy] {
        let (mut d, stats) = t.drive("");
        let (got, rep) = read(&mut d, &t.disc, opts(mode, 0), 0, 600).unwrap();
        assert_same(&got, t.expected(0, 600), mode.as_str());
        assert_eq!(rep.sectors, 600);
        assert_eq!(rep.crc32, crc(&got));
        assert!(rep.suspicious.is_empty(), "{mode}: {:?}", rep.suspicious);
        assert_eq!(rep.rereads, 0);
        let peak = got
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs())
            .max()
            .unwrap();
        assert_eq!(rep.peak, peak);
        let medium = stats.lock().unwrap().medium_reads;
        match mode {
            Mode::Burst => {
                assert_eq!(rep.test_crc32, None);
                assert!(medium < 2 * 600, "burst reads once: {medium}");
            }
            Mode::Secure => {
                assert_eq!(rep.test_crc32, None);
                assert!(medium >= 2 * 600, "secure reads twice: {medium}");
            }
            Mode::TestAndCopy => {
                assert_eq!(rep.test_crc32, Some(rep.crc32));
                assert!(medium >= 4 * 600, "two secure passes: {medium}");
            }
        }
    }
}

#[test]
fn a_part_of_the_disc_is_cut_exactly() {
    let t = TestDisc::new(400, 2);
    for offset in [0, 6, -1164, 667, -7, 589] {
        let (mut d, _) = t.drive(&format!(",offset={offset}"));
        let (got, rep) = read(&mut d, &t.disc, opts(Mode::Secure, offset), 150, 263).unwrap();
        assert_same(&got, t.expected(150, 263), &format!("offset {offset}"));
        assert_eq!(rep.crc32, crc(t.expected(150, 263)));
        assert_eq!(
            (
                rep.zero_filled_start,
                rep.zero_filled_end,
                rep.overread_start,
                rep.overread_end
            ),
            (0, 0, 0, 0)
        );
    }
}

#[test]
fn offsets_at_the_edges_zero_fill_or_overread() {
    let n = 300;
    let t = TestDisc::new(n, 3);
    for offset in [0, 6, -6, -1164, 667, 1, -1, 588, -588, 1175, -30] {
        for overread in [false, true] {
            let spec = format!(
                ",offset={offset},overread={}",
                if overread { "yes" } else { "no" }
            );
            let (mut d, _) = t.drive(&spec);
            let what = format!("offset {offset} overread {overread}");
            let mut r = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, offset)).unwrap();
            assert_eq!(r.drive_report().overread_lead_in, overread, "{what}");
            assert_eq!(r.drive_report().overread_lead_out, overread, "{what}");
            let mut got = Vec::new();
            let rep = r
                .read_range(
                    Lba(0)..Lba(n),
                    &mut |b| {
                        got.extend_from_slice(b);
                        Ok(())
                    },
                    &mut |_| {},
                    &CancelToken::new(),
                )
                .unwrap();
            let want = t.expected(0, n);
            // What the edges cost: samples before LBA 0 / past the lead-out
            // of the drive's stream.
            let (head, tail) = if offset < 0 {
                (-offset as u32, offset.rem_euclid(588) as u32)
            } else {
                (0, offset as u32)
            };
            if overread {
                assert_eq!(
                    (rep.zero_filled_start, rep.zero_filled_end),
                    (0, 0),
                    "{what}"
                );
                assert_eq!(
                    (rep.overread_start, rep.overread_end),
                    (head, tail),
                    "{what}"
                );
                assert_same(&got, want, &what);
            } else {
                assert_eq!((rep.overread_start, rep.overread_end), (0, 0), "{what}");
                assert_eq!(
                    (rep.zero_filled_start, rep.zero_filled_end),
                    (head, tail),
                    "{what}"
                );
                let (h, e) = (head as usize * 4, got.len() - tail as usize * 4);
                assert_eq!(got.len(), want.len(), "{what}");
                assert!(got[..h].iter().all(|&b| b == 0), "{what}: head not zero");
                assert!(got[e..].iter().all(|&b| b == 0), "{what}: tail not zero");
                assert_same(&got[h..e], &want[h..e], &what);
            }
            assert!(rep.suspicious.is_empty(), "{what}: {:?}", rep.suspicious);
            assert_eq!(rep.crc32, crc(&got), "{what}");
        }
    }
}

#[test]
fn flaky_reads_are_recovered_exactly() {
    let t = TestDisc::new(500, 4);
    for mode in [Mode::Secure, Mode::Burst] {
        let (mut d, _) = t.drive(",flaky=0.03,seed=9,offset=48");
        let (got, rep) = read(&mut d, &t.disc, opts(mode, 48), 10, 490).unwrap();
        assert_same(&got, t.expected(10, 490), mode.as_str());
        assert!(rep.suspicious.is_empty(), "{mode}: {:?}", rep.suspicious);
        assert!(rep.rereads > 0, "{mode}: some sectors were read again");
    }
}

#[test]
fn corruption_is_caught_with_c2() {
    let t = TestDisc::new(500, 5);
    let (mut d, _) = t.drive(",corrupt=0.05,seed=3");
    let mut r = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, 0)).unwrap();
    assert!(r.drive_report().c2_used);
    let mut got = Vec::new();
    let rep = r
        .read_range(
            Lba(0)..Lba(500),
            &mut |b| {
                got.extend_from_slice(b);
                Ok(())
            },
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap();
    assert_same(&got, t.expected(0, 500), "corrupt, C2");
    assert!(rep.suspicious.is_empty());
    assert!(rep.rereads > 0);
    // Burst mode reads once: the damage comes through, but C2 marks it,
    // and every damaged frame is within a suspicious range.
    let (mut d, _) = t.drive(",corrupt=0.05,seed=3");
    let (got, rep) = read(&mut d, &t.disc, opts(Mode::Burst, 0), 0, 500).unwrap();
    let want = t.expected(0, 500);
    assert_ne!(got, want);
    assert!(!rep.suspicious.is_empty());
    for (i, (a, b)) in got.chunks_exact(4).zip(want.chunks_exact(4)).enumerate() {
        if a != b {
            let f = i as u64;
            assert!(rep.suspicious.iter().any(|r| r.contains(&f)), "frame {f}");
        }
    }
}

#[test]
fn corruption_is_caught_without_c2_by_rereads() {
    let t = TestDisc::new(500, 6);
    let (mut d, _) = t.drive(",corrupt=0.05,c2=no,seed=4");
    let mut o = opts(Mode::Secure, 0);
    o.use_c2 = true; // asked, but the drive has none
    let (got, rep) = read(&mut d, &t.disc, o, 0, 500).unwrap();
    assert_same(&got, t.expected(0, 500), "corrupt, no C2");
    assert!(rep.suspicious.is_empty());
    assert!(rep.rereads > 0);
    // Burst mode has no way to see it: the damage comes through.
    let (mut d, _) = t.drive(",corrupt=0.05,c2=no,seed=4");
    let (got, _) = read(&mut d, &t.disc, opts(Mode::Burst, 0), 0, 500).unwrap();
    assert_ne!(got, t.expected(0, 500));
}

#[test]
fn the_cache_does_not_answer_the_second_read() {
    let t = TestDisc::new(1600, 7);
    let (mut d, stats) = t.drive(",cache=300,corrupt=0.05,c2=no,seed=5");
    let mut r = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, 0)).unwrap();
    assert_eq!(r.drive_report().cache_sectors, 300, "from the buffer size");
    let before = *stats.lock().unwrap();
    let mut got = Vec::new();
    let rep = r
        .read_range(
            Lba(0)..Lba(1600),
            &mut |b| {
                got.extend_from_slice(b);
                Ok(())
            },
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap();
    assert_same(&got, t.expected(0, 1600), "corrupt behind a cache");
    assert!(rep.suspicious.is_empty());
    assert!(rep.rereads > 0);
    let s = *stats.lock().unwrap();
    assert!(s.medium_reads - before.medium_reads >= 2 * 1600);
    assert_eq!(
        s.cache_hits, before.cache_hits,
        "no read came from the cache"
    );

    // A small range on the same drive: the window is smaller than the
    // cache, so other sectors are read in between.
    let (mut d, stats) = t.drive(",cache=300,corrupt=0.05,c2=no,seed=6");
    let (got, _) = read(&mut d, &t.disc, opts(Mode::Secure, 0), 400, 460).unwrap();
    assert_same(&got, t.expected(400, 460), "small range behind a cache");
    assert_eq!(stats.lock().unwrap().cache_hits, 0);

    // Told the cache is empty, the reader is fooled: this is what the
    // detection protects against.
    let (mut d, _) = t.drive(",cache=300,corrupt=0.05,c2=no,seed=5");
    let mut o = opts(Mode::Secure, 0);
    o.cache_sectors = Some(0);
    let (got, _) = read(&mut d, &t.disc, o, 0, 200).unwrap();
    assert_ne!(got, t.expected(0, 200));
}

#[test]
fn jitter_is_recovered_exactly() {
    let t = TestDisc::new(500, 8);
    // Inside the disc, without overread.
    let (mut d, _) = t.drive(",jitter=5,seed=11");
    let r = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, 0)).unwrap();
    assert!(!r.drive_report().accurate_stream);
    drop(r);
    let (got, rep) = read(&mut d, &t.disc, opts(Mode::Secure, 0), 40, 300).unwrap();
    assert_same(&got, t.expected(40, 300), "jitter, inside");
    assert!(rep.suspicious.is_empty(), "{:?}", rep.suspicious);
    // The whole disc, with an offset and overread.
    let (mut d, _) = t.drive(",jitter=8,seed=12,offset=30,overread=yes");
    let (got, rep) = read(&mut d, &t.disc, opts(Mode::Secure, 30), 0, 500).unwrap();
    assert_same(&got, t.expected(0, 500), "jitter, whole disc");
    assert!(rep.suspicious.is_empty(), "{:?}", rep.suspicious);
}

#[test]
fn bad_sectors_are_suspicious_and_the_read_goes_on() {
    let t = TestDisc::new(400, 9);
    for mode in [Mode::Secure, Mode::Burst] {
        let (mut d, _) = t.drive(",bad=100-104,bad=250-250");
        let mut o = opts(mode, 0);
        o.retries = 3;
        let (got, rep) = read(&mut d, &t.disc, o, 0, 400).unwrap();
        assert_eq!(
            rep.suspicious,
            vec![100 * 588..105 * 588, 250 * 588..251 * 588],
            "{mode}"
        );
        assert_eq!(got.len(), 400 * SECTOR);
        let want = t.expected(0, 400);
        for (a, b) in [(0, 100), (105, 250), (251, 400)] {
            assert_same(
                &got[a * SECTOR..b * SECTOR],
                &want[a * SECTOR..b * SECTOR],
                "good part",
            );
        }
        assert!(got[100 * SECTOR..105 * SECTOR].iter().all(|&b| b == 0));
        assert!(rep.rereads >= 3 * 6, "{mode}: {}", rep.rereads);
    }
    // With an offset, the drive's sectors that touch a bad one fail: the
    // suspicious frames cover the bad sector and reach into its neighbours.
    let (mut d, _) = t.drive(",bad=200-200,offset=100");
    let mut o = opts(Mode::Secure, 100);
    o.retries = 2;
    let (_, rep) = read(&mut d, &t.disc, o, 0, 400).unwrap();
    assert_eq!(rep.suspicious.len(), 1);
    let s = &rep.suspicious[0];
    assert!(s.start <= 200 * 588 && s.end >= 201 * 588, "{s:?}");
    assert!(s.end - s.start <= 3 * 588, "{s:?}");
}

#[test]
fn cancellation_stops_the_read() {
    let t = TestDisc::new(2000, 10);
    let (mut d, _) = t.drive("");
    let mut r = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, 0)).unwrap();
    let cancel = CancelToken::new();
    let mut delivered = 0usize;
    let mut passes = Vec::new();
    let e = r
        .read_range(
            Lba(0)..Lba(2000),
            &mut |b| {
                delivered += b.len();
                Ok(())
            },
            &mut |p| {
                passes.push(p.pass);
                assert!(p.done <= p.total);
                cancel.cancel();
            },
            &cancel,
        )
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e}");
    assert!(delivered > 0 && delivered < 2000 * SECTOR);
    assert_eq!(passes, vec![Pass::Copy]);
}

#[test]
fn output_errors_stop_the_read() {
    let t = TestDisc::new(300, 11);
    let (mut d, _) = t.drive("");
    let mut r = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, 0)).unwrap();
    let e = r
        .read_range(
            Lba(0)..Lba(300),
            &mut |_| Err(Error::Output("disk full".into())),
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "disk full");
}

#[test]
fn drive_failures_name_the_drive_and_the_lba() {
    let t = TestDisc::new(600, 12);
    // The reader probes with a few reads first; fail 20 commands later.
    let (mut d, _) = t.drive_failing("", Fail::Gone, 20);
    let (_, _) = (0, 0);
    let e = read(&mut d, &t.disc, opts(Mode::Secure, 0), 0, 600).unwrap_err();
    match &e {
        Error::DriveGone { drive, lba, .. } => {
            assert_eq!(drive, "image:test.bin");
            assert!(*lba > 0 && *lba < 600, "{lba}");
            assert!(e.to_string().contains(&format!("LBA {lba}")), "{e}");
        }
        other => panic!("expected DriveGone, got {other}"),
    }
    let (mut d, _) = t.drive_failing("", Fail::Ejected, 20);
    let e = read(&mut d, &t.disc, opts(Mode::Secure, 0), 0, 600).unwrap_err();
    assert!(matches!(e, Error::NoMedium { .. }), "{e}");
    assert!(e.to_string().contains("no disc"), "{e}");
    let (mut d, _) = t.drive_failing("", Fail::Transport, 20);
    let e = read(&mut d, &t.disc, opts(Mode::Secure, 0), 0, 600).unwrap_err();
    match &e {
        Error::Drive { lba, .. } => assert!(*lba >= 0 && *lba < 600),
        other => panic!("expected Drive, got {other}"),
    }
    assert!(e.to_string().contains("host adapter reset"), "{e}");
}

#[test]
fn ranges_outside_the_audio_are_refused() {
    let t = TestDisc::new(300, 13);
    let (mut d, _) = t.drive("");
    let mut r = SecureReader::new(&mut d, &t.disc, ReadOptions::default()).unwrap();
    for (a, b) in [(0, 301), (10, 10), (-1, 5), (20, 10)] {
        let e = r
            .read_range(
                Lba(a)..Lba(b),
                &mut |_| Ok(()),
                &mut |_| {},
                &CancelToken::new(),
            )
            .unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{a}..{b}: {e}");
    }
    let (mut d, _) = t.drive("");
    let e = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, 50_000)).unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "{e}");
}

#[test]
fn test_and_copy_reports_both_passes() {
    let t = TestDisc::new(300, 14);
    let (mut d, _) = t.drive(",offset=-20");
    let mut r = SecureReader::new(&mut d, &t.disc, opts(Mode::TestAndCopy, -20)).unwrap();
    let mut passes = Vec::new();
    let mut got = Vec::new();
    let rep = r
        .read_range(
            Lba(20)..Lba(280),
            &mut |b| {
                got.extend_from_slice(b);
                Ok(())
            },
            &mut |p| passes.push((p.pass, p.done)),
            &CancelToken::new(),
        )
        .unwrap();
    assert_same(&got, t.expected(20, 280), "test and copy");
    assert_eq!(rep.test_crc32, Some(rep.crc32));
    assert_eq!(passes.first().map(|p| p.0), Some(Pass::Test));
    assert_eq!(passes.last(), Some(&(Pass::Copy, 260)));
}

#[test]
fn a_jittery_drive_really_jitters() {
    // Without placement by content, reads of this drive are off: the
    // exactness above is the reader's doing.
    let t = TestDisc::new(300, 15);
    let (mut d, _) = t.drive(",jitter=5,seed=11");
    let off = (0..8)
        .filter(|_| {
            let r = d
                .read_cd(
                    Lba(100),
                    24,
                    aj_cd::mmc::C2Mode::None,
                    aj_cd::mmc::SubChannel::None,
                )
                .unwrap();
            r != t.expected(100, 124)
        })
        .count();
    assert!(off > 0);
}

/// Speed of a secure read of five minutes of audio from a fault-free
/// virtual drive (a measurement, not a check):
/// `cargo test --release -p aj-cd --test rip -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement; run with --release --ignored --nocapture"]
fn secure_read_speed() {
    let sectors = 5 * 60 * 75;
    let t = TestDisc::new(sectors, 16);
    for (mode, spec) in [
        (Mode::Secure, ""),
        (Mode::Burst, ""),
        (Mode::Secure, ",cache=1024"),
        (Mode::Secure, ",jitter=5,overread=yes"),
    ] {
        let (mut d, _) = t.drive(spec);
        let started = std::time::Instant::now();
        let (got, rep) = read(&mut d, &t.disc, opts(mode, 6), 0, sectors).unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(got.len(), sectors as usize * SECTOR);
        assert!(rep.suspicious.is_empty());
        let frames = sectors as f64 * 588.0;
        eprintln!(
            "{mode}{spec}: {:.0} frames/s, {:.0}x real time ({secs:.2} s for {sectors} sectors)",
            frames / secs,
            frames / 44_100.0 / secs
        );
    }
}

#[test]
fn a_data_track_is_an_edge_never_overread() {
    // Mixed mode: a data track, then audio from LBA 150 (track 2's pregap).
    let mut t = TestDisc::new(700, 17);
    t.disc.tracks[0] = aj_cd::disc::Track::data(1, 1, Lba(0));
    t.disc.tracks[1] = aj_cd::disc::Track::audio(2, Lba(300));
    t.disc.tracks[1].pregap = Some(Lba(150));
    let (mut d, _) = t.drive(",offset=-1164,overread=yes");
    let (got, rep) = read(&mut d, &t.disc, opts(Mode::Secure, -1164), 150, 700).unwrap();
    assert_eq!(
        (
            rep.zero_filled_start,
            rep.overread_start,
            rep.zero_filled_end,
            rep.overread_end
        ),
        (1164, 0, 0, 12)
    );
    assert!(rep.suspicious.is_empty(), "{:?}", rep.suspicious);
    let want = t.expected(150, 700);
    assert!(got[..1164 * 4].iter().all(|&b| b == 0));
    assert_same(&got[1164 * 4..], &want[1164 * 4..], "after the data track");
    let (mut d, _) = t.drive("");
    let e = read(&mut d, &t.disc, opts(Mode::Secure, 0), 0, 700).unwrap_err();
    assert!(e.to_string().contains("LBA 150..700"), "{e}");
}

#[test]
fn jitter_across_silence_and_with_faults() {
    let mut t = TestDisc::new(500, 18);
    // Digital silence from LBA 200 to 260: nothing to align against.
    t.image[200 * SECTOR..260 * SECTOR].fill(0);
    for (seed, spec) in [
        (1, ",jitter=5,overread=yes"),
        (2, ",jitter=12,overread=yes,offset=-700"),
        (3, ",jitter=3,flaky=0.002,overread=yes"),
        (4, ",jitter=4,corrupt=0.01,overread=yes"),
        (5, ",jitter=4,corrupt=0.005,c2=no,overread=yes"),
    ] {
        let (mut d, _) = t.drive(&format!("{spec},seed={seed}"));
        let offset = if spec.contains("offset=-700") {
            -700
        } else {
            0
        };
        let (got, rep) = read(&mut d, &t.disc, opts(Mode::Secure, offset), 0, 500).unwrap();
        assert_same(&got, t.expected(0, 500), spec);
        assert!(rep.suspicious.is_empty(), "{spec}: {:?}", rep.suspicious);
    }
}

#[test]
fn a_cache_as_large_as_the_disc_is_reported() {
    let t = TestDisc::new(300, 19);
    let (mut d, _) = t.drive(",cache=290");
    let (got, rep) = read(&mut d, &t.disc, opts(Mode::Secure, 0), 0, 300).unwrap();
    assert_same(&got, t.expected(0, 300), "clean");
    assert!(!rep.cache_defeated);
    let (mut d, _) = t.drive(",cache=100");
    let (_, rep) = read(&mut d, &t.disc, opts(Mode::Secure, 0), 0, 300).unwrap();
    assert!(rep.cache_defeated);
}

#[test]
fn caches_of_many_sizes_with_faults() {
    let t = TestDisc::new(700, 20);
    for (seed, spec) in [
        (1, ",cache=100,corrupt=0.05,c2=no"),
        (2, ",cache=300,corrupt=0.05,c2=no,offset=33"),
        (3, ",cache=64,flaky=0.05,corrupt=0.05,c2=no,offset=-5"),
        (4, ",cache=24,corrupt=0.1"),
    ] {
        let offset = if spec.contains("offset=33") {
            33
        } else if spec.contains("offset=-5") {
            -5
        } else {
            0
        };
        let (mut d, _) = t.drive(&format!("{spec},seed={seed},overread=yes"));
        let (got, rep) = read(&mut d, &t.disc, opts(Mode::Secure, offset), 0, 700).unwrap();
        assert_same(&got, t.expected(0, 700), spec);
        assert!(rep.suspicious.is_empty(), "{spec}: {:?}", rep.suspicious);
        assert!(rep.cache_defeated, "{spec}");
    }
}

#[test]
fn a_vanishing_drive_stops_the_read() {
    let t = TestDisc::new(600, 21);
    let (mut d, _) = t.drive(",vanish=40");
    let e = read(&mut d, &t.disc, opts(Mode::Secure, 0), 0, 600).unwrap_err();
    match &e {
        Error::DriveGone { drive, lba, .. } => {
            assert_eq!(drive, "image:test.bin");
            assert!(*lba >= 0 && *lba < 600, "{lba}");
        }
        other => panic!("expected DriveGone, got {other}"),
    }
}

/// A drive that caches 1024 sectors but reports no buffer (`buffer=0`), with
/// simulated read time so the cache can be timed.
const HIDDEN_CACHE: &str = ",cache=1024,buffer=0,speed=150,corrupt=0.05,c2=no";

/// Opens the reader with the cache measured; returns the stats before the
/// read and the read's bytes and report.
fn measured_read(
    t: &TestDisc,
    d: &mut Drive,
    stats: &Arc<Mutex<Stats>>,
    range: (i32, i32),
) -> (aj_cd::rip::DriveReport, Stats, Vec<u8>, RangeReport) {
    let mut r = SecureReader::new(d, &t.disc, opts(Mode::Secure, 0)).unwrap();
    let report = r.drive_report().clone();
    let before = *stats.lock().unwrap();
    t.log.lock().unwrap().clear();
    let mut got = Vec::new();
    let rep = r
        .read_range(
            Lba(range.0)..Lba(range.1),
            &mut |b| {
                got.extend_from_slice(b);
                Ok(())
            },
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap();
    (report, before, got, rep)
}

/// Asserts that no READ CD since the log was cleared that read sectors read
/// before got any of them from the cache. (A first read may come from the
/// cache, filled by the measurement: that copy too was read from the disc.)
fn assert_no_second_read_cached(t: &TestDisc) {
    let log = t.log.lock().unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut second_reads = 0;
    for &(lba, count, hits) in log.iter() {
        let again = (lba..lba + count as i32).any(|l| seen.contains(&l));
        if again {
            second_reads += 1;
            assert_eq!(
                hits, 0,
                "a re-read of LBA {lba}+{count} came from the cache"
            );
        }
        seen.extend(lba..lba + count as i32);
    }
    assert!(second_reads > 0);
}

#[test]
fn a_cache_the_drive_does_not_report_is_measured_and_defeated() {
    let t = TestDisc::new(4000, 22);
    let (mut d, stats) = t.drive(&format!("{HIDDEN_CACHE},seed=1"));
    let (report, before, got, rep) = measured_read(&t, &mut d, &stats, (1000, 3000));
    assert_eq!(report.cache_reported, 0);
    assert_eq!(report.cache_source, CacheSource::Measured, "{report:?}");
    assert!(report.cache_sectors >= 1024, "{report:?}");
    assert!(!report.cache_overridden);
    let m = report.cache_measurement.as_ref().unwrap();
    match m.verdict {
        CacheVerdict::Holds { at_least, below } => {
            assert!(at_least <= 1024 && 1024 < below, "{m:?}");
        }
        ref other => panic!("{other:?}"),
    }
    assert!(m.summary().contains("caches audio"), "{}", m.summary());
    // The measurement did meet the cache; the read did not.
    assert!(before.cache_hits > 0);
    assert_same(
        &got,
        t.expected(1000, 3000),
        "corrupt behind a hidden cache",
    );
    assert!(rep.suspicious.is_empty(), "{:?}", rep.suspicious);
    assert!(rep.cache_defeated);
    assert_no_second_read_cached(&t);

    // Not measured, the same drive fools the reader.
    let (mut d, _) = t.drive(",cache=1024,buffer=0,corrupt=0.05,c2=no,seed=1");
    let mut r = SecureReader::with_cache_check(
        &mut d,
        &t.disc,
        opts(Mode::Secure, 0),
        CacheCheck::Never,
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(r.drive_report().cache_sectors, 0);
    assert_eq!(r.drive_report().cache_measurement, None);
    let mut got = Vec::new();
    r.read_range(
        Lba(1000)..Lba(1200),
        &mut |b| {
            got.extend_from_slice(b);
            Ok(())
        },
        &mut |_| {},
        &CancelToken::new(),
    )
    .unwrap();
    assert_ne!(got, t.expected(1000, 1200));
}

#[test]
fn a_drive_without_a_cache_measures_none() {
    let t = TestDisc::new(2000, 23);
    let (mut d, _) = t.drive(",speed=150");
    let r = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, 0)).unwrap();
    let report = r.drive_report();
    let m = report.cache_measurement.as_ref().unwrap();
    assert!(matches!(m.verdict, CacheVerdict::NoCache { .. }), "{m:?}");
    assert!(report.cache_sectors <= 100, "{report:?}");
    // Cheap: passes of 96 fresh sectors and 96 re-read (longer ones only
    // when a busy host made a pass look cached).
    assert!(m.sectors_read < 3000, "{m:?}");
    assert!(m.summary().contains("no audio cache"), "{}", m.summary());
}

#[test]
fn noisy_timing_still_defeats_the_cache() {
    // One READ CD in four held up by up to twice a real read's time: cache
    // hits then look like misses now and then.
    let t = TestDisc::new(4000, 24);
    for seed in [2, 3] {
        let (mut d, stats) = t.drive(&format!("{HIDDEN_CACHE},stall=0.25,seed={seed}"));
        let (report, before, got, rep) = measured_read(&t, &mut d, &stats, (2000, 2600));
        assert!(report.cache_sectors >= 1024, "{report:?}");
        assert_same(&got, t.expected(2000, 2600), "noisy timing");
        assert!(rep.suspicious.is_empty());
        let _ = (stats, before);
        assert_no_second_read_cached(&t);
    }
}

#[test]
fn how_the_cache_size_is_chosen() {
    let t = TestDisc::new(600, 25);
    // An instant drive (no simulated time) cannot be timed: the reported
    // size stays, and the report says why.
    let (mut d, _) = t.drive("");
    let r = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, 0)).unwrap();
    let rep = r.drive_report();
    assert_eq!(rep.cache_source, CacheSource::Reported);
    let m = rep.cache_measurement.as_ref().unwrap();
    if m.verdict == CacheVerdict::Untimed {
        assert_eq!(rep.cache_sectors, 0);
        assert!(m.summary().contains("not measured"), "{}", m.summary());
    }
    // A reported buffer is used as it is, unless measuring always.
    let (mut d, _) = t.drive(",cache=100");
    let r = SecureReader::new(&mut d, &t.disc, opts(Mode::Secure, 0)).unwrap();
    assert_eq!(
        (
            r.drive_report().cache_sectors,
            r.drive_report().cache_source
        ),
        (100, CacheSource::Reported)
    );
    assert_eq!(r.drive_report().cache_measurement, None);
    // Given, it is never measured.
    let (mut d, _) = t.drive(",cache=100,buffer=0");
    let mut o = opts(Mode::Secure, 0);
    o.cache_sectors = Some(500);
    let r =
        SecureReader::with_cache_check(&mut d, &t.disc, o, CacheCheck::Always, &CancelToken::new())
            .unwrap();
    let rep = r.drive_report();
    assert_eq!(
        (rep.cache_sectors, rep.cache_source, rep.cache_overridden),
        (500, CacheSource::Overridden, true)
    );
    assert_eq!(rep.cache_measurement, None);
    // Measuring on a disc too short for it assumes a large cache.
    let (mut d, _) = t.drive(",cache=1024,buffer=0,speed=150");
    let r = SecureReader::with_cache_check(
        &mut d,
        &t.disc,
        opts(Mode::Secure, 0),
        CacheCheck::Always,
        &CancelToken::new(),
    )
    .unwrap();
    let rep = r.drive_report();
    assert_eq!(rep.cache_source, CacheSource::Assumed, "{rep:?}");
    assert_eq!(rep.cache_sectors, aj_cd::rip::cache::ASSUMED_CACHE_SECTORS);
    // Cancelled while measuring.
    let (mut d, _) = t.drive(",speed=150");
    let c = CancelToken::new();
    c.cancel();
    let e = SecureReader::with_cache_check(
        &mut d,
        &t.disc,
        opts(Mode::Secure, 0),
        CacheCheck::Always,
        &c,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e}");
}
