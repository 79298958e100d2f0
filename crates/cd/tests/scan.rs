//! The sub-channel scan (`scan::read_disc`) on discs with unreadable
//! sectors: boundaries the neighbours decide come out exact, the others as a
//! documented estimate with a note, transient errors cost nothing, and the
//! number of reads stays bounded whatever the disc.

#![allow(clippy::unwrap_used)]

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aj_cd::disc::{Disc, Index};
use aj_cd::mmc::scan::{self, DiscReport, Uncertain};
use aj_cd::mmc::Drive;
use aj_cd::transport::{Direction, Error, Transport};
use aj_cd::virtual_drive::{Options, VirtualDrive};
use aj_core::Lba;

/// Bytes per CD-DA sector.
const SECTOR: usize = 2352;
/// READ CD (MMC-6 §6.19).
const READ_CD: u8 = 0xBE;

/// Writes `disc.bin` (`sectors` of silence: the scan reads only Q) and
/// `disc.cue` with `tracks`, the cue sheet's track lines.
fn image(dir: &Path, sectors: usize, tracks: &str) -> PathBuf {
    std::fs::write(dir.join("disc.bin"), vec![0u8; sectors * SECTOR]).unwrap();
    let cue = dir.join("disc.cue");
    std::fs::write(&cue, format!("FILE \"disc.bin\" BINARY\n{tracks}")).unwrap();
    cue
}

/// The disc of the issue: 12 s, track 2 with a 2 s pregap (INDEX 00 at LBA
/// 375, INDEX 01 at 525), an INDEX 02 at 700 and an INDEX 03 at 705.
/// One frame in a hundred is the MCN (LBA ≡ 25 mod 100) and one the ISRC
/// (≡ 75) outside the pregap.
fn two_tracks(dir: &Path) -> PathBuf {
    let cue = image(
        dir,
        900,
        "  TRACK 01 AUDIO\n    ISRC USABC1234567\n    INDEX 01 00:00:00\n\
         \x20 TRACK 02 AUDIO\n    ISRC USABC7654321\n    INDEX 00 00:05:00\n    INDEX 01 00:07:00\n\
         \x20   INDEX 02 00:09:25\n    INDEX 03 00:09:30\n",
    );
    let text = std::fs::read_to_string(&cue).unwrap();
    std::fs::write(&cue, format!("CATALOG 0123456789012\n{text}")).unwrap();
    cue
}

/// A hidden track before track 1: INDEX 00 at LBA 0, INDEX 01 at 190.
fn hidden_track(dir: &Path) -> PathBuf {
    image(
        dir,
        600,
        "  TRACK 01 AUDIO\n    INDEX 00 00:00:00\n    INDEX 01 00:02:40\n\
         \x20 TRACK 02 AUDIO\n    INDEX 01 00:05:00\n",
    )
}

/// The virtual drive, with Q sub-channel CRCs broken at some LBAs and every
/// READ CD counted.
struct Scratched {
    inner: VirtualDrive,
    /// LBAs whose Q comes back with a bad CRC…
    bad_crc: Vec<RangeInclusive<i32>>,
    /// …the first this many times each is read (`u32::MAX`: always).
    bad_times: u32,
    seen: std::collections::HashMap<i32, u32>,
    reads: Arc<AtomicU64>,
}

impl Transport for Scratched {
    fn execute(
        &mut self,
        cdb: &[u8],
        direction: Direction,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, Error> {
        if cdb[0] != READ_CD {
            return self.inner.execute(cdb, direction, buf, timeout);
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        let lba = i32::from_be_bytes([cdb[2], cdb[3], cdb[4], cdb[5]]);
        let times = self.seen.entry(lba).or_insert(0);
        *times += 1;
        let damage = self.bad_crc.iter().any(|r| r.contains(&lba)) && *times <= self.bad_times;
        let n = self.inner.execute(cdb, direction, buf, timeout)?;
        // The scan reads one sector with its 2352 bytes, then Q.
        if damage {
            buf[SECTOR + 4] ^= 0x5A;
        }
        Ok(n)
    }

    fn name(&self) -> String {
        self.inner.name()
    }
}

/// Scans `cue` through the virtual drive with `opts` (",bad=…" and so on)
/// and Q CRC errors at `bad_crc`; returns the report and the READ CDs sent.
fn scan_with(
    cue: &Path,
    opts: &str,
    bad_crc: &[RangeInclusive<i32>],
    bad_times: u32,
) -> (DiscReport, u64) {
    let options = Options::parse(&format!("{}{opts}", cue.display())).unwrap();
    let reads = Arc::new(AtomicU64::new(0));
    let mut drive = Drive::new(Box::new(Scratched {
        inner: VirtualDrive::open(options).unwrap(),
        bad_crc: bad_crc.to_vec(),
        bad_times,
        seen: Default::default(),
        reads: Arc::clone(&reads),
    }));
    let report = scan::read_disc(&mut drive).unwrap();
    (report, reads.load(Ordering::Relaxed))
}

fn scan(cue: &Path, opts: &str) -> DiscReport {
    scan_with(cue, opts, &[], 0).0
}

fn indexes(d: &Disc, track: u8) -> Vec<(u8, i32)> {
    d.track(track)
        .unwrap()
        .all_indexes()
        .map(|Index { number, start }| (number, start.0))
        .collect()
}

fn lbas(r: RangeInclusive<i32>) -> RangeInclusive<Lba> {
    Lba(*r.start())..=Lba(*r.end())
}

/// Asserts that the report is the fault-free one, without notes.
fn assert_exact(r: &DiscReport, clean: &DiscReport, what: &str) {
    assert_eq!(r.disc, clean.disc, "{what}");
    assert!(r.notes.is_empty(), "{what}: {:?}", r.notes);
    assert!(r.uncertain.is_empty(), "{what}: {:?}", r.uncertain);
}

#[test]
fn the_fault_free_scan_finds_every_index() {
    let t = tempfile::tempdir().unwrap();
    let cue = two_tracks(t.path());
    let r = scan(&cue, "");
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(indexes(&r.disc, 1), [(1, 0)]);
    assert_eq!(
        indexes(&r.disc, 2),
        [(0, 375), (1, 525), (2, 700), (3, 705)]
    );
}

#[test]
fn neighbours_decide_what_they_can() {
    let t = tempfile::tempdir().unwrap();
    let cue = two_tracks(t.path());
    let clean = scan(&cue, "");
    for bad in [
        // Over track 2's start, hiding the sector before it: the pregap
        // is seen at LBA 519.
        "520-530",
        // Just before the track start.
        "524-524",
        // Inside the pregap.
        "400-450",
        // Right after the pregap start.
        "376-390",
        // Before and after INDEX 02, it and the sector before readable.
        "650-698",
        "701-703",
        // Around the MCN frame at LBA 725 and the ISRC frame at 775.
        "720-730",
        "770-780",
        // Several runs at once.
        "100-110,bad=380-385,bad=600-601",
    ] {
        let r = scan(&cue, &format!(",bad={bad}"));
        assert_exact(&r, &clean, bad);
    }
}

#[test]
fn a_hidden_pregap_start_is_an_interval_with_a_note() {
    let t = tempfile::tempdir().unwrap();
    let cue = two_tracks(t.path());
    // The case: the old scan said 124 sectors and nothing else.
    let r = scan(&cue, ",bad=300-400");
    let t2 = r.disc.track(2).unwrap();
    assert_eq!(
        t2.pregap,
        Some(Lba(401)),
        "the first sector read in the pregap"
    );
    assert_eq!(t2.pregap_sectors(), 124);
    assert_eq!(
        r.uncertain[0],
        Uncertain {
            track: 2,
            index: 0,
            range: lbas(300..=401),
            unreadable: Some(lbas(300..=400)),
            taken: Some(Lba(401)),
        }
    );
    let note = r
        .notes
        .iter()
        .find(|n| n.starts_with("track 2: pregap"))
        .unwrap();
    assert!(note.contains("LBA 300–400"), "{note}");
    assert!(note.contains("taken as LBA 401"), "{note}");
    // Track 1's last sectors are in the run too: an index there is unknown.
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("track 1:") && n.contains("300–400")),
        "{:?}",
        r.notes
    );
    // Everything else is as on a clean disc.
    assert_eq!(indexes(&r.disc, 2)[1..], [(1, 525), (2, 700), (3, 705)]);

    // Only the boundary sector unreadable: it may be either side.
    let r = scan(&cue, ",bad=375-375");
    assert_eq!(r.disc.track(2).unwrap().pregap, Some(Lba(376)));
    assert_eq!(r.uncertain[0].range, lbas(375..=376));
    assert_eq!(r.uncertain[0].unreadable, Some(lbas(375..=375)));
    assert!(
        r.notes[0].contains("unreadable at LBA 375;"),
        "{:?}",
        r.notes
    );

    // The sector before: the pregap may start there too. The estimate, the
    // first sector read in the pregap, happens to be right.
    let r = scan(&cue, ",bad=374-374");
    assert_eq!(r.disc.track(2).unwrap().pregap, Some(Lba(375)));
    assert_eq!(r.uncertain[0].range, lbas(374..=375));

    // The same with Q CRC errors instead of medium errors.
    let (r, _) = scan_with(&cue, "", &[300..=400], u32::MAX);
    assert_eq!(r.disc.track(2).unwrap().pregap, Some(Lba(401)));
    assert_eq!(r.uncertain[0].range, lbas(300..=401));
}

#[test]
fn a_pregap_no_sector_shows_is_unknown() {
    let t = tempfile::tempdir().unwrap();
    let cue = two_tracks(t.path());
    // From before the pregap to the track's start: no sector reads as
    // track 2's pregap. The disc records no pregap, the note says why.
    let r = scan(&cue, ",bad=370-524");
    let t2 = r.disc.track(2).unwrap();
    assert_eq!(t2.pregap, None);
    assert_eq!(t2.start, Lba(525));
    let u = r
        .uncertain
        .iter()
        .find(|u| u.track == 2 && u.index == 0)
        .unwrap();
    assert_eq!(u.range, lbas(370..=525));
    assert_eq!(u.taken, None);
    let note = r
        .notes
        .iter()
        .find(|n| n.starts_with("track 2: pregap"))
        .unwrap();
    assert!(note.contains("pregap unknown"), "{note}");
    assert!(note.contains("370–524"), "{note}");
    // The TOC still gives the identities.
    assert_eq!(
        aj_cd::id::DiscIds::compute(&r.disc).unwrap(),
        aj_cd::id::DiscIds::compute(&scan(&cue, "").disc).unwrap()
    );
}

#[test]
fn a_hidden_index_start_is_an_interval_with_a_note() {
    let t = tempfile::tempdir().unwrap();
    let cue = two_tracks(t.path());
    let r = scan(&cue, ",bad=690-702");
    assert_eq!(
        indexes(&r.disc, 2),
        [(0, 375), (1, 525), (2, 703), (3, 705)]
    );
    assert_eq!(r.uncertain.len(), 1, "{:?}", r.uncertain);
    assert_eq!(
        r.uncertain[0],
        Uncertain {
            track: 2,
            index: 2,
            range: lbas(690..=703),
            unreadable: Some(lbas(690..=702)),
            taken: Some(Lba(703)),
        }
    );
    assert!(
        r.notes[0].starts_with("track 2: index 02 start not exact")
            && r.notes[0].contains("LBA 690–702")
            && r.notes[0].contains("taken as LBA 703"),
        "{:?}",
        r.notes
    );

    // INDEX 02 and 03 in the same run: the first sector after it reads
    // index 03; index 02 is taken one sector before, so they stay in order.
    let r = scan(&cue, ",bad=695-710");
    assert_eq!(indexes(&r.disc, 2)[2..], [(2, 710), (3, 711)]);
    assert_eq!(r.uncertain.len(), 2, "{:?}", r.uncertain);
    assert_eq!(r.uncertain[0].range, lbas(695..=711));
    assert_eq!(r.uncertain[1].range, lbas(695..=711));
    assert!(r.disc.validate().is_ok());
}

#[test]
fn the_hidden_track_at_lba_0() {
    let t = tempfile::tempdir().unwrap();
    let cue = hidden_track(t.path());
    let clean = scan(&cue, "");
    assert_eq!(clean.disc.tracks[0].pregap, Some(Lba(0)));
    // LBA 0 unreadable: the sector before INDEX 01 says index 00.
    for bad in ["0-10", "0-0", "0-188"] {
        assert_exact(&scan(&cue, &format!(",bad={bad}")), &clean, bad);
    }
    // Nothing before INDEX 01 readable: no INDEX 00 recorded, a note, and
    // the hidden track is still there (the TOC places INDEX 01).
    let r = scan(&cue, ",bad=0-189");
    assert_eq!(r.disc.tracks[0].pregap, None);
    assert_eq!(r.disc.hidden_track(), Some(Lba(0)..Lba(190)));
    assert_eq!(r.uncertain[0].track, 1);
    assert_eq!(r.uncertain[0].index, 0);
    assert_eq!(r.uncertain[0].taken, None);
    assert!(
        r.notes[0].starts_with("track 1: the hidden track's INDEX 00 is unknown"),
        "{:?}",
        r.notes
    );
}

#[test]
fn transient_errors_are_retried_to_an_exact_answer() {
    let t = tempfile::tempdir().unwrap();
    let two = two_tracks(t.path());
    let sub = t.path().join("h");
    std::fs::create_dir(&sub).unwrap();
    let hidden = hidden_track(&sub);
    for cue in [&two, &hidden] {
        let clean = scan(cue, "");
        for seed in 1..=8 {
            let r = scan(cue, &format!(",flaky=0.3,seed={seed}"));
            assert_exact(&r, &clean, &format!("flaky=0.3,seed={seed}"));
        }
        // Q CRC errors twice on every sector: the third read is good.
        let (r, _) = scan_with(cue, "", &[0..=899], 2);
        assert_exact(&r, &clean, "bad CRC twice");
    }
    // Four times on the sectors where the pregap and INDEX 02 start: the
    // probes fail, the retries of the sectors that hide a boundary succeed.
    let clean = scan(&two, "");
    let (r, _) = scan_with(&two, "", &[375..=375, 700..=700], 4);
    assert_exact(&r, &clean, "bad CRC four times");
}

#[test]
fn audio_corruption_leaves_q_alone() {
    // The virtual drive's `corrupt=` damages the main channel (flagged in
    // C2 or not); Q comes with its own CRC and is checked apart.
    let t = tempfile::tempdir().unwrap();
    let cue = two_tracks(t.path());
    let clean = scan(&cue, "");
    for opts in [",corrupt=0.5,seed=3", ",corrupt=0.5,c2=no,seed=4"] {
        assert_exact(&scan(&cue, opts), &clean, opts);
    }
}

#[test]
fn a_disc_without_a_readable_sector_ends_quickly() {
    let t = tempfile::tempdir().unwrap();
    let cue = two_tracks(t.path());
    let started = std::time::Instant::now();
    let (r, reads) = scan_with(&cue, ",bad=0-899", &[], 0);
    // Bounded by the per-boundary and per-disc budgets, far below reading
    // every sector three times.
    assert!(reads < 2_000, "{reads} reads");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The TOC is all there; the pregap is unknown and said so.
    assert_eq!(r.disc.tracks.len(), 2);
    assert_eq!(r.disc.track(2).unwrap().pregap, None);
    assert!(r.disc.track(2).unwrap().indexes.is_empty());
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("track 2: pregap unknown")),
        "{:?}",
        r.notes
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("track 2: indexes after 01 unknown")),
        "{:?}",
        r.notes
    );

    // A long disc, every sector bad: the scan gives up, says so, and the
    // total stays under its budget (3 tries per probe plus retries).
    let t = tempfile::tempdir().unwrap();
    let mut tracks = String::new();
    for n in 1..=20 {
        // Ten seconds each, the first two a pregap.
        let s = (n - 1) * 10;
        tracks.push_str(&format!(
            "  TRACK {n:02} AUDIO\n    INDEX 00 {:02}:{:02}:00\n    INDEX 01 {:02}:{:02}:00\n",
            s / 60,
            s % 60,
            (s + 2) / 60,
            (s + 2) % 60
        ));
    }
    let cue = image(t.path(), 200 * 75, &tracks);
    let (r, reads) = scan_with(&cue, ",bad=0-14999", &[], 0);
    assert!(reads <= u64::from(scan::SCAN_BUDGET) + 20, "{reads} reads");
    assert!(
        r.notes.iter().any(|n| n.contains("scan stopped")),
        "{:?}",
        r.notes
    );
    assert_eq!(r.disc.tracks.len(), 20);
}
