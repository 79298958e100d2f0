//! Reading everything a disc says about itself from a drive: the TOC and
//! sessions, pregaps and indexes found in the Q sub-channel, the MCN, the
//! ISRCs, pre-emphasis and CD-TEXT. The result is a [`Disc`].
//!
//! Pregaps and indexes are not in the TOC. As EAC and cdrdao do, they are
//! found by reading the Q sub-channel near track boundaries. Q's track and
//! index numbers never decrease along the disc, so every boundary is a binary
//! search: the sector before a track's INDEX 01 tells whether it has a pregap
//! (Q says the new track, index 00), a search between the previous track's
//! start and that sector finds where the pregap begins, and a track's last
//! sector tells how many indexes it has, each then found the same way.
//!
//! **Unreadable sectors.** A sector whose Q cannot be read (a medium error or
//! a bad CRC on each of [`Q_TRIES`] reads) is judged by the nearest readable
//! position frames on either side, widening up to [`WIDEN`] sectors: a frame
//! before it already at the boundary puts the boundary before it, a frame
//! after it not yet there puts the boundary after it. When unreadable sectors
//! still hide a boundary, the search ends with the sectors it can be in
//! ([`Uncertain::range`]); those get [`RETRY_TRIES`] more reads each (a
//! transient error should not cost an exact answer), and if the boundary
//! stays hidden the disc model takes **the first sector Q was read to be at
//! or past it** — the end of the unreadable run — and a note says where and
//! why. That choice claims no pregap or index Q did not show: every sector
//! reported in a pregap read as pregap or lies after one that did, so a
//! ripper that cuts tracks at INDEX 00 never moves audio into a gap on a
//! guess (with EAC's default, gaps appended to the previous track, the cut is
//! at INDEX 01 and the choice moves no audio at all), and the disc
//! identities, computed from the TOC, do not depend on it. A pregap that no
//! readable sector shows is left out ([`Track::pregap`] `None`), with a note
//! that it is unknown. The reads are bounded: [`BOUNDARY_BUDGET`] undecided
//! sectors per boundary and [`SCAN_BUDGET`] failed reads per disc, after
//! which the scan stops with a note.
//!
//! A Q frame that is not a position (MCN or ISRC frames, one in a hundred
//! each) is judged by its neighbours the same way, without a note: between a
//! track and the next one's pregap it counts as the track, as MCN and ISRC
//! frames sit outside pauses; next to an index change it counts as the index
//! before.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use aj_core::Lba;

use super::subq::{QData, QFrame};
use super::{Drive, Error, FullToc, SessionInfo, Toc, LEAD_OUT};
use crate::disc::{Control, Disc, Index, Session, Track, TrackMode, SESSION_GAP_SECTORS};

/// What [`read_disc`] found, with what it could not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscReport {
    pub disc: Disc,
    /// Things that could not be read, worded for a person ("the drive
    /// returns no sub-channel: pregaps unknown").
    pub notes: Vec<String>,
    /// The pregaps and indexes the sub-channel could not pin to one sector
    /// (each also has a note).
    pub uncertain: Vec<Uncertain>,
    /// CD-TEXT packs dropped for a bad CRC.
    pub cd_text_crc_errors: usize,
}

/// A pregap or index start hidden by unreadable sub-channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncertain {
    /// The track.
    pub track: u8,
    /// Which boundary: 0 for the pregap (INDEX 00; for track 1, the hidden
    /// track before INDEX 01), 2…99 for an index.
    pub index: u8,
    /// The sectors where it can start. For a pregap the last one may be the
    /// track's start, meaning "maybe no pregap"; for an index, one past the
    /// last sector read (the track's end) means "maybe no such index".
    pub range: RangeInclusive<Lba>,
    /// The first and last sector in `range` whose Q could not be read
    /// (`None` when the scan gave up before reading them).
    pub unreadable: Option<RangeInclusive<Lba>>,
    /// What the disc model holds: the estimate, or `None` when nothing was
    /// recorded.
    pub taken: Option<Lba>,
}

/// Q reads tried per probed sector before it counts as unreadable.
pub const Q_TRIES: u32 = 3;
/// How far the search looks on either side of an unreadable sector for a
/// readable position frame: one second of disc.
pub const WIDEN: i32 = 75;
/// More reads for each sector that hides a boundary after the search.
pub const RETRY_TRIES: u32 = 8;
/// How many of a boundary's hiding sectors get those reads.
const RETRY_SECTORS: u32 = 8;
/// Sectors whose Q says nothing (unreadable, or no position) a boundary's
/// search reads before it settles for a range.
pub const BOUNDARY_BUDGET: u32 = 2 * WIDEN as u32;
/// Failed Q reads in the whole scan before it stops reading Q.
pub const SCAN_BUDGET: u32 = 3000;

/// `(track, index)` as a number that never decreases along the disc.
fn key(track: u8, index: u8) -> u32 {
    let t = if track == LEAD_OUT {
        100
    } else {
        u32::from(track)
    };
    t * 100 + u32::from(index)
}

/// What one sector's Q says, as far as the scan is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// An ADR 1 frame: where the laser is, with the CONTROL bits.
    Position { track: u8, index: u8, control: u8 },
    /// A readable frame that is no position (MCN, ISRC, another ADR).
    Other,
    /// A medium error or a bad CRC on every try.
    Unreadable,
    /// Not read: the scan had used up [`SCAN_BUDGET`].
    Skipped,
}

/// Where a sector lies relative to a boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Before,
    AtOrPast,
    Unknown,
}

impl Probe {
    fn side(self, target: u32) -> Side {
        match self {
            Probe::Position { track, index, .. } if key(track, index) >= target => Side::AtOrPast,
            Probe::Position { .. } => Side::Before,
            _ => Side::Unknown,
        }
    }
}

/// Where a boundary lies as far as Q was read: its first sector is in
/// `after + 1 ..= at`. `after` is before it (read so, or known from the
/// TOC), `at` at or past it; no sector between was judged either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bracket {
    after: i32,
    at: i32,
}

/// The Q reads of one scan, remembered so that no sector is read twice.
struct Scanner<'d> {
    drive: &'d mut Drive,
    seen: BTreeMap<i32, Probe>,
    retried: BTreeSet<i32>,
    failed_reads: u32,
}

impl Scanner<'_> {
    fn gave_up(&self) -> bool {
        self.failed_reads >= SCAN_BUDGET
    }

    /// Reads the Q of `lba` up to `tries` times.
    fn read(&mut self, lba: i32, tries: u32) -> Result<Probe, Error> {
        let mut failed = false;
        for _ in 0..tries {
            if self.gave_up() {
                break;
            }
            match self.drive.read_q_any(Lba(lba)) {
                Ok(QFrame {
                    control,
                    data: QData::Position { track, index, .. },
                    ..
                }) => {
                    return Ok(Probe::Position {
                        track,
                        index,
                        control,
                    })
                }
                Ok(_) => return Ok(Probe::Other),
                // A bad CRC (or a damaged frame) and a medium error are what
                // a scratch looks like; anything else is the drive's answer.
                Err(Error::BadResponse { .. }) => {}
                Err(e) if e.is_medium_error() => {}
                Err(e) => return Err(e),
            }
            failed = true;
            self.failed_reads += 1;
        }
        Ok(if failed {
            Probe::Unreadable
        } else {
            Probe::Skipped
        })
    }

    /// The Q of `lba`, read once per scan.
    fn probe(&mut self, lba: i32) -> Result<Probe, Error> {
        match self.seen.get(&lba) {
            Some(&p) if p != Probe::Skipped => Ok(p),
            _ => {
                let p = self.read(lba, Q_TRIES)?;
                self.seen.insert(lba, p);
                Ok(p)
            }
        }
    }

    /// Reads an unreadable sector again, [`RETRY_TRIES`] more times, once
    /// per scan.
    fn retry(&mut self, lba: i32) -> Result<Probe, Error> {
        let p = self.probe(lba)?;
        if p != Probe::Unreadable || !self.retried.insert(lba) {
            return Ok(p);
        }
        let p = match self.read(lba, RETRY_TRIES)? {
            Probe::Skipped => Probe::Unreadable,
            p => p,
        };
        self.seen.insert(lba, p);
        Ok(p)
    }

    /// The next sector to read inside `b`, and whether it comes from
    /// widening around `anchor`: the nearest one to `anchor` not known to
    /// be undecided, within [`WIDEN`], else the middle of the longest run of
    /// such sectors.
    fn pick(&self, b: Bracket, target: u32, anchor: Option<i32>) -> Option<(i32, bool)> {
        let open = |c: i32| {
            b.after < c
                && c < b.at
                && self
                    .seen
                    .get(&c)
                    .is_none_or(|p| p.side(target) != Side::Unknown)
        };
        if let Some(a) = anchor {
            for d in 1..=WIDEN {
                for c in [a - d, a + d] {
                    if open(c) {
                        return Some((c, true));
                    }
                }
            }
        }
        let walls = self
            .seen
            .range(b.after + 1..b.at)
            .filter(|(_, p)| p.side(target) == Side::Unknown)
            .map(|(&l, _)| l)
            .chain(std::iter::once(b.at));
        let mut best: Option<(i32, i32)> = None;
        let mut prev = b.after;
        for w in walls {
            if w - prev > 1 && best.is_none_or(|(f, l)| w - 1 - (prev + 1) > l - f) {
                best = Some((prev + 1, w - 1));
            }
            prev = w;
        }
        best.map(|(f, l)| (f + (l - f) / 2, false))
    }

    /// Narrows `b` by reading Q, `first` first.
    fn search(
        &mut self,
        mut b: Bracket,
        target: u32,
        mut first: Option<i32>,
        budget: &mut u32,
    ) -> Result<Bracket, Error> {
        let mut anchor = None;
        while b.at - b.after > 1 && *budget > 0 && !self.gave_up() {
            let next = first
                .take()
                .filter(|&m| b.after < m && m < b.at)
                .map(|m| (m, false))
                .or_else(|| self.pick(b, target, anchor));
            let Some((mid, widening)) = next else {
                break;
            };
            match self.probe(mid)?.side(target) {
                Side::Before => b.after = mid,
                Side::AtOrPast => b.at = mid,
                Side::Unknown => {
                    *budget -= 1;
                    if !widening || anchor.is_none_or(|a| a <= b.after || a >= b.at) {
                        anchor = Some(mid);
                    }
                }
            }
        }
        Ok(b)
    }

    /// Finds the first sector at or past `target` in `after + 1 ..= at`,
    /// given that `after` is before it and `at` at or past it: exact unless
    /// unreadable sectors hide it even after more reads.
    fn find(
        &mut self,
        after: i32,
        at: i32,
        target: u32,
        first: Option<i32>,
    ) -> Result<Bracket, Error> {
        let mut budget = BOUNDARY_BUDGET;
        let mut b = self.search(Bracket { after, at }, target, first, &mut budget)?;
        let mut retries = RETRY_SECTORS;
        while retries > 0 && !self.exact(b) && !self.gave_up() {
            // The hiding sectors nearest the bracket's ends first: those
            // are the ones that pin the boundary when they read.
            let mut hiding = self
                .seen
                .range(b.after + 1..b.at)
                .filter(|&(l, p)| *p == Probe::Unreadable && !self.retried.contains(l))
                .map(|(&l, _)| l);
            let (front, back) = (hiding.next(), hiding.next_back());
            let Some(c) = [front, back]
                .into_iter()
                .flatten()
                .min_by_key(|&c| (c - b.after).min(b.at - c))
            else {
                break;
            };
            retries -= 1;
            match self.retry(c)?.side(target) {
                Side::Before => b.after = c,
                Side::AtOrPast => b.at = c,
                Side::Unknown => continue,
            }
            b = self.search(b, target, None, &mut budget)?;
        }
        Ok(b)
    }

    /// True when nothing hides the boundary: the bracket is one sector, or
    /// only readable frames that are no position lie inside it (they count
    /// as before the boundary).
    fn exact(&self, b: Bracket) -> bool {
        (b.after + 1..b.at).all(|l| self.seen.get(&l) == Some(&Probe::Other))
    }

    /// The first and last unreadable sector in `from..=to`.
    fn unreadable_in(&self, from: i32, to: i32) -> Option<RangeInclusive<Lba>> {
        if from > to {
            return None;
        }
        let mut it = self
            .seen
            .range(from..=to)
            .filter(|(_, p)| **p == Probe::Unreadable)
            .map(|(&l, _)| l);
        let first = it.next()?;
        let last = it.next_back().unwrap_or(first);
        Some(Lba(first)..=Lba(last))
    }

    /// "sub-channel unreadable at LBA 300–400", for notes ("at 150
    /// sectors of LBA 1–524" when not all of them were tried).
    fn why(&self, from: i32, to: i32) -> String {
        match self.unreadable_in(from, to) {
            Some(r) if r.start() == r.end() => {
                format!("sub-channel unreadable at LBA {}", r.start().0)
            }
            Some(r) => {
                let (a, z) = (r.start().0, r.end().0);
                let n = self
                    .seen
                    .range(a..=z)
                    .filter(|(_, p)| **p == Probe::Unreadable)
                    .count();
                if i64::try_from(n).is_ok_and(|n| n == i64::from(z) - i64::from(a) + 1) {
                    format!("sub-channel unreadable at LBA {a}–{z}")
                } else {
                    format!("sub-channel unreadable at {n} sectors of LBA {a}–{z}")
                }
            }
            None => format!("sub-channel not read at LBA {from}–{to} (the scan had given up)"),
        }
    }

    /// The first position frame among `lbas`.
    fn first_position(
        &mut self,
        lbas: impl IntoIterator<Item = i32>,
    ) -> Result<Option<(i32, u8, u8, u8)>, Error> {
        for l in lbas {
            if let Probe::Position {
                track,
                index,
                control,
            } = self.probe(l)?
            {
                return Ok(Some((l, track, index, control)));
            }
        }
        Ok(None)
    }
}

/// What the scan found for one track, and what it could not.
struct Found {
    pregap: Option<Lba>,
    notes: Vec<String>,
    uncertain: Vec<Uncertain>,
}

impl Scanner<'_> {
    /// Whether the sectors before track 1's INDEX 01 (at `start` > 0) are
    /// its INDEX 00, a hidden track: Q at LBA 0 says so; when it cannot be
    /// read, any position frame in `0..start` within [`WIDEN`] of either end
    /// does (the disc starts in track 1's pregap, so one frame there in
    /// index 00 puts every sector before it in index 00 too).
    fn hidden_track(&mut self, start: i32) -> Result<Found, Error> {
        let near = (0..=WIDEN)
            .flat_map(|d| [d, start - 1 - d])
            .filter(|&l| (0..start).contains(&l));
        let mut found = Found {
            pregap: None,
            notes: Vec::new(),
            uncertain: Vec::new(),
        };
        match self.first_position(near)? {
            Some((_, _, 0, _)) => found.pregap = Some(Lba(0)),
            Some((0, ..)) => {}
            Some((l, track, index, _)) => found.notes.push(format!(
                "track 1: no hidden track recorded: {}, and LBA {l} reads as track {track} \
                 index {index:02}, not a pregap",
                self.why(0, l - 1)
            )),
            None => {
                found.notes.push(format!(
                    "track 1: the hidden track's INDEX 00 is unknown: {}; the TOC puts \
                     INDEX 01 at LBA {start}",
                    self.why(0, start - 1)
                ));
                found.uncertain.push(Uncertain {
                    track: 1,
                    index: 0,
                    range: Lba(0)..=Lba(start),
                    unreadable: self.unreadable_in(0, start - 1),
                    taken: None,
                });
            }
        }
        Ok(found)
    }

    /// The pregap of track `number` starting at `start`, searched after
    /// the previous track's INDEX 01 at `prev_start`.
    fn pregap(&mut self, number: u8, prev_start: i32, start: i32) -> Result<Found, Error> {
        let b = self.find(prev_start, start, key(number, 0), Some(start - 1))?;
        let mut found = Found {
            pregap: (b.at < start).then_some(Lba(b.at)),
            notes: Vec::new(),
            uncertain: Vec::new(),
        };
        if self.exact(b) {
            return Ok(found);
        }
        let why = self.why(b.after + 1, b.at - 1);
        found.notes.push(if b.at < start {
            format!(
                "track {number}: pregap start not exact: {why}; it starts between LBA {} and {}, \
                 taken as LBA {} (the first sector read in the pregap)",
                b.after + 1,
                b.at,
                b.at
            )
        } else {
            format!(
                "track {number}: pregap unknown: {why}; a pregap would start after LBA {}; \
                 taken as none",
                b.after
            )
        });
        found.uncertain.push(Uncertain {
            track: number,
            index: 0,
            range: Lba(b.after + 1)..=Lba(b.at),
            unreadable: self.unreadable_in(b.after + 1, b.at - 1),
            taken: found.pregap,
        });
        Ok(found)
    }

    /// The indexes 02 and on of track `number` (INDEX 01 at `start`, next
    /// track or lead-out at `end`). The last readable position frame of the
    /// track tells how many there are.
    fn indexes(&mut self, number: u8, start: i32, end: i32) -> Result<(Vec<Index>, Found), Error> {
        let mut found = Found {
            pregap: None,
            notes: Vec::new(),
            uncertain: Vec::new(),
        };
        // The last sector, read harder: an index can start on it.
        self.retry(end - 1)?;
        // Back from there to the last position frame of this track: sectors
        // already read cost nothing, at most [`WIDEN`] new ones are read.
        let mut floor = end - 1;
        let mut new_reads = 0;
        let mut last = None;
        while floor >= start && new_reads <= WIDEN {
            if !self.seen.contains_key(&floor) {
                new_reads += 1;
            }
            match self.probe(floor)? {
                Probe::Position { track, index, .. } if track == number => {
                    last = Some((floor, index));
                    break;
                }
                _ => floor -= 1,
            }
        }
        let tail_from = last.map_or(floor + 1, |(l, _)| l + 1);
        let tail_hidden = self.unreadable_in(tail_from, end - 1).is_some()
            || (tail_from..end).any(|l| self.seen.get(&l) == Some(&Probe::Skipped));
        let Some((last_at, max_index)) = last else {
            if tail_hidden {
                found.notes.push(format!(
                    "track {number}: indexes after 01 unknown: {}",
                    self.why(tail_from, end - 1)
                ));
                found.uncertain.push(Uncertain {
                    track: number,
                    index: 2,
                    range: Lba(start + 1)..=Lba(end),
                    unreadable: self.unreadable_in(tail_from, end - 1),
                    taken: None,
                });
            }
            return Ok((Vec::new(), found));
        };
        if tail_hidden && max_index < 99 {
            found.notes.push(format!(
                "track {number}: {} at the end of the track: an index starting there would be \
                 missed",
                self.why(tail_from, end - 1)
            ));
            found.uncertain.push(Uncertain {
                track: number,
                index: max_index.max(1) + 1,
                range: Lba(tail_from)..=Lba(end),
                unreadable: self.unreadable_in(tail_from, end - 1),
                taken: None,
            });
        }
        // Each index in turn, between the previous one and the last frame.
        let mut brackets = Vec::new();
        let mut after = start;
        for k in 2..=max_index.min(99) {
            let b = self.find(after, last_at, key(number, k), None)?;
            brackets.push((k, b));
            after = b.after;
        }
        // Two indexes hidden by the same run both end at its first readable
        // sector: the earlier ones move back so that they stay in order.
        let mut taken: Vec<i32> = brackets.iter().map(|(_, b)| b.at).collect();
        for i in (0..taken.len().saturating_sub(1)).rev() {
            taken[i] = taken[i].min(taken[i + 1] - 1);
        }
        let mut indexes = Vec::new();
        let mut prev = start;
        for ((k, b), at) in brackets.into_iter().zip(taken) {
            if at <= prev || at <= b.after {
                found.notes.push(format!(
                    "track {number}: index {k:02} left out: the sub-channel around LBA {} is \
                     inconsistent",
                    b.at
                ));
                continue;
            }
            if !self.exact(b) {
                found.notes.push(format!(
                    "track {number}: index {k:02} start not exact: {}; it starts between LBA {} \
                     and {}, taken as LBA {at}",
                    self.why(b.after + 1, b.at - 1),
                    b.after + 1,
                    b.at
                ));
                found.uncertain.push(Uncertain {
                    track: number,
                    index: k,
                    range: Lba(b.after + 1)..=Lba(b.at),
                    unreadable: self.unreadable_in(b.after + 1, b.at - 1),
                    taken: Some(Lba(at)),
                });
            }
            indexes.push(Index {
                number: k,
                start: Lba(at),
            });
            prev = at;
        }
        Ok((indexes, found))
    }
}

fn sessions_from(
    toc: &Toc,
    full: Option<&FullToc>,
    info: Option<&SessionInfo>,
) -> (Vec<Session>, Vec<(u8, u8)>) {
    if let Some(f) = full {
        let outs = f.session_lead_outs();
        let ts = f.track_sessions();
        if !outs.is_empty() && !ts.is_empty() {
            let sessions = outs
                .iter()
                .map(|&(number, leadout)| Session { number, leadout })
                .collect();
            return (sessions, ts);
        }
    }
    let leadout = toc.lead_out().unwrap_or(Lba(0));
    if let Some(i) = info.filter(|i| i.last_session > 1) {
        // Two sessions at least: the last one starts at the reported track;
        // everything before it ends 11400 sectors earlier.
        let ts = toc
            .tracks()
            .map(|t| {
                (
                    t.track,
                    if t.track >= i.last_session_first_track {
                        i.last_session
                    } else {
                        1
                    },
                )
            })
            .collect();
        let first_out = Lba(i.last_session_start.0 - SESSION_GAP_SECTORS);
        return (
            vec![
                Session {
                    number: 1,
                    leadout: first_out,
                },
                Session {
                    number: i.last_session,
                    leadout,
                },
            ],
            ts,
        );
    }
    (
        vec![Session { number: 1, leadout }],
        toc.tracks().map(|t| (t.track, 1)).collect(),
    )
}

/// Reads the disc in `drive`.
///
/// # Errors
/// When the drive is not ready (no disc…) or the TOC cannot be read.
/// Failures to read the sub-channel, CD-TEXT, MCN or ISRCs become notes
/// (and, for pregaps and indexes, [`DiscReport::uncertain`]).
pub fn read_disc(drive: &mut Drive) -> Result<DiscReport, Error> {
    drive.wait_ready(10)?;
    let toc = drive.toc()?;
    let mut notes = Vec::new();
    let mut uncertain = Vec::new();
    let full = drive.full_toc().ok();
    let info = drive.session_info().ok();
    let (mut sessions, track_sessions) = sessions_from(&toc, full.as_ref(), info.as_ref());
    let leadout = toc.lead_out().unwrap_or(Lba(0));
    if let Some(last) = sessions.last_mut() {
        last.leadout = leadout;
    }
    let mut tracks: Vec<Track> = toc
        .tracks()
        .map(|e| {
            let control = Control::from_bits(e.control);
            let session = track_sessions
                .iter()
                .find(|(t, _)| *t == e.track)
                .map_or(1, |(_, s)| *s);
            Track {
                number: e.track,
                session,
                control,
                mode: if control.data {
                    TrackMode::Mode1Raw
                } else {
                    TrackMode::Audio
                },
                pregap: None,
                start: e.start,
                indexes: Vec::new(),
                isrc: None,
            }
        })
        .collect();

    // Pregaps, indexes and pre-emphasis from Q.
    let mut scan = Scanner {
        drive,
        seen: BTreeMap::new(),
        retried: BTreeSet::new(),
        failed_reads: 0,
    };
    let mut q_works = true;
    match scan.probe(tracks.first().map_or(0, |t| t.start.0)) {
        Err(e) if e.sense().is_some() => {
            q_works = false;
            notes.push(format!(
                "the drive returns no Q sub-channel ({e}): pregaps and indexes unknown"
            ));
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let mut keep = |f: Found, notes: &mut Vec<String>| {
        notes.extend(f.notes);
        uncertain.extend(f.uncertain);
        f.pregap
    };
    if q_works {
        // Pass 1: pre-emphasis and pregaps.
        for n in 0..tracks.len() {
            if !tracks[n].is_audio() {
                continue;
            }
            let (start, number) = (tracks[n].start.0, tracks[n].number);
            // Pre-emphasis can be flagged in Q and not in the TOC.
            let end = tracks.get(n + 1).map_or(leadout.0, |t| t.start.0);
            let first = (start..end.min(start + 4)).collect::<Vec<_>>();
            if let Some((_, _, _, control)) = scan.first_position(first)? {
                if control & 0x1 != 0 {
                    tracks[n].control.preemphasis = true;
                }
            }
            if n == 0 {
                // Hidden track one audio: INDEX 00 from LBA 0.
                if start > 0 {
                    let f = scan.hidden_track(start)?;
                    tracks[n].pregap = keep(f, &mut notes);
                }
            } else if tracks[n - 1].session == tracks[n].session
                && start - 1 > tracks[n - 1].start.0
            {
                let f = scan.pregap(number, tracks[n - 1].start.0, start)?;
                tracks[n].pregap = keep(f, &mut notes);
            }
        }
        // Pass 2: indexes 02 and on.
        for n in 0..tracks.len() {
            if !tracks[n].is_audio() {
                continue;
            }
            let (start, number) = (tracks[n].start.0, tracks[n].number);
            let session_out = sessions
                .iter()
                .find(|s| s.number == tracks[n].session)
                .map_or(leadout.0, |s| s.leadout.0);
            let end = tracks
                .get(n + 1)
                .filter(|t| t.session == tracks[n].session)
                .map_or(session_out, |t| t.first_address().0);
            if end - 1 <= start {
                continue;
            }
            let (indexes, f) = scan.indexes(number, start, end)?;
            tracks[n].indexes = indexes;
            keep(f, &mut notes);
        }
        if scan.gave_up() {
            notes.push(format!(
                "the sub-channel scan stopped after {SCAN_BUDGET} failed reads: pregaps and \
                 indexes it had not reached are unknown"
            ));
        }
    }
    let drive = scan.drive;

    // MCN and ISRCs.
    let mcn = match drive.mcn() {
        Ok(m) => m.filter(|m| crate::disc::is_valid_mcn(m) && m != "0000000000000"),
        Err(e) => {
            notes.push(format!("MCN not read: {e}"));
            None
        }
    };
    for t in tracks.iter_mut().filter(|t| t.is_audio()) {
        match drive.isrc(t.number) {
            Ok(i) => t.isrc = i.filter(|i| crate::disc::is_valid_isrc(i)),
            Err(e) => notes.push(format!("ISRC of track {} not read: {e}", t.number)),
        }
    }

    // CD-TEXT.
    let (cdtext, crc_errors) = match drive.cd_text_packs() {
        Ok(packs) => {
            let p = crate::cdtext::parse(&packs);
            (p.text, p.crc_errors)
        }
        Err(e) => {
            notes.push(format!("CD-TEXT not read: {e}"));
            (None, 0)
        }
    };
    if crc_errors > 0 {
        notes.push(format!(
            "{crc_errors} CD-TEXT pack(s) dropped for a bad CRC"
        ));
    }

    let disc = Disc {
        tracks,
        sessions,
        leadout,
        mcn,
        cdtext,
    };
    disc.validate().map_err(|e| Error::BadResponse {
        command: "READ TOC",
        reason: format!("the disc's layout is inconsistent: {}", e.0),
    })?;
    Ok(DiscReport {
        disc,
        notes,
        uncertain,
        cd_text_crc_errors: crc_errors,
    })
}
