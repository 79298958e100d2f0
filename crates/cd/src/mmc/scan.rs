//! Reading everything a disc says about itself from a drive: the TOC and
//! sessions, pregaps and indexes found in the Q sub-channel, the MCN, the
//! ISRCs, pre-emphasis and CD-TEXT. The result is a [`Disc`].
//!
//! Pregaps and indexes are not in the TOC. As EAC and cdrdao do, they are
//! found by reading the Q sub-channel near track boundaries: the sector
//! before a track's INDEX 01 tells whether it has a pregap (Q says the new
//! track, index 00), and a binary search between the previous track's start
//! and that sector finds where the pregap begins — Q's track and index
//! numbers never decrease along the disc. A Q frame that is not a position
//! (MCN or ISRC frames, one in a hundred each) or fails its CRC is judged by
//! its neighbours.

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
    /// CD-TEXT packs dropped for a bad CRC.
    pub cd_text_crc_errors: usize,
}

/// Q reads tried per probed sector before it counts as unreadable.
const Q_TRIES: u32 = 3;

/// Where the laser is according to Q: (track, index), or `None` when the
/// frame is not a position frame or could not be read.
fn q_position(drive: &mut Drive, lba: i32) -> Result<Option<(u8, u8, u8)>, Error> {
    let mut last = None;
    for _ in 0..Q_TRIES {
        match drive.read_q_any(Lba(lba)) {
            Ok(QFrame {
                control,
                data: QData::Position { track, index, .. },
                ..
            }) => return Ok(Some((track, index, control))),
            Ok(_) => return Ok(None),
            Err(Error::BadResponse { .. }) => last = None,
            Err(e) if e.is_medium_error() => last = None,
            Err(e) => return Err(e),
        }
    }
    Ok(last)
}

/// `(track, index)` as a number that never decreases along the disc.
fn key(track: u8, index: u8) -> u32 {
    let t = if track == LEAD_OUT {
        100
    } else {
        u32::from(track)
    };
    t * 100 + u32::from(index)
}

/// Is the position at `lba` at or past `(track, index)`? A frame that is no
/// position is judged by its neighbours; when they disagree it counts as
/// "not yet" (MCN and ISRC frames sit outside pauses).
fn at_or_past(drive: &mut Drive, lba: i32, target: u32) -> Result<bool, Error> {
    if let Some((t, i, _)) = q_position(drive, lba)? {
        return Ok(key(t, i) >= target);
    }
    if let Some((t, i, _)) = q_position(drive, lba + 1)? {
        if key(t, i) < target {
            return Ok(false);
        }
    }
    if let Some((t, i, _)) = q_position(drive, lba - 1)? {
        if key(t, i) >= target {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The first LBA in `(lo, hi]` at or past `target`, given that `hi` is.
fn first_at_or_past(
    drive: &mut Drive,
    mut lo: i32,
    mut hi: i32,
    target: u32,
) -> Result<i32, Error> {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if at_or_past(drive, mid, target)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
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
/// Failures to read the sub-channel, CD-TEXT, MCN or ISRCs become notes.
pub fn read_disc(drive: &mut Drive) -> Result<DiscReport, Error> {
    drive.wait_ready(10)?;
    let toc = drive.toc()?;
    let mut notes = Vec::new();
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
    let mut q_works = true;
    match q_position(drive, tracks.first().map_or(0, |t| t.start.0)) {
        Err(e) if e.sense().is_some() => {
            q_works = false;
            notes.push(format!(
                "the drive returns no Q sub-channel ({e}): pregaps and indexes unknown"
            ));
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    if q_works {
        // Pass 1: pre-emphasis and pregaps.
        for n in 0..tracks.len() {
            if !tracks[n].is_audio() {
                continue;
            }
            let start = tracks[n].start.0;
            // Pre-emphasis can be flagged in Q and not in the TOC.
            if let Some((_, _, control)) = q_position(drive, start)? {
                if control & 0x1 != 0 {
                    tracks[n].control.preemphasis = true;
                }
            }
            if n == 0 {
                // Hidden track one audio: INDEX 00 from LBA 0.
                if start > 0 && matches!(q_position(drive, 0)?, Some((_, 0, _))) {
                    tracks[n].pregap = Some(Lba(0));
                }
            } else if tracks[n - 1].session == tracks[n].session
                && start - 1 > tracks[n - 1].start.0
            {
                let target = key(tracks[n].number, 0);
                if at_or_past(drive, start - 1, target)? {
                    let lo = tracks[n - 1].start.0;
                    let p = first_at_or_past(drive, lo, start - 1, target)?;
                    tracks[n].pregap = Some(Lba(p));
                }
            }
        }
        // Pass 2: indexes 02 and on. The track's last sector tells how many.
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
            let last = match q_position(drive, end - 1)? {
                Some(p) => Some(p),
                None => q_position(drive, end - 2)?,
            };
            if let Some((t, max_index, _)) = last {
                if t != number {
                    continue;
                }
                let mut lo = start;
                for k in 2..=max_index.min(99) {
                    let at = first_at_or_past(drive, lo, end - 1, key(number, k))?;
                    tracks[n].indexes.push(Index {
                        number: k,
                        start: Lba(at),
                    });
                    lo = at;
                }
            }
        }
    }

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
        cd_text_crc_errors: crc_errors,
    })
}
