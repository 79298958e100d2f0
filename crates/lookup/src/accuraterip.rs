//! The AccurateRip database: fetching a disc's `dBAR` file and comparing our track
//! checksums with it.
//!
//! The file (`GET /accuraterip/a/b/c/dBAR-NNN-XXXXXXXX-XXXXXXXX-XXXXXXXX.bin`) is a
//! sequence of records, one per pressing submitted under the disc's identity. Each
//! record is a 13-byte header — track count (u8), disc ID 1 (u32 LE), disc ID 2 (u32
//! LE), CDDB disc ID (u32 LE) — then 9 bytes per track: confidence (u8), the track's
//! AccurateRip CRC (u32 LE), and the CRC of frame 450 of the track (u32 LE, used to
//! find a drive's read offset). This is the layout whipper (`accurip.py`,
//! `_split_responses`) and ARver (`Header`/`Track`, 13 + 9·n bytes) read. A v1 and a
//! v2 checksum of the same rip are stored as separate entries; the database does not
//! say which version a CRC is, so both of ours are compared with every entry.
//! HTTP 404 means the disc is not in the database.

use aj_cd::id::AccurateRipId;

use crate::client::Lookup;
use crate::error::{Error, Failure, ParseError, Service};

/// Bytes of a record header: track count, disc ID 1, disc ID 2, CDDB ID.
pub const HEADER_BYTES: usize = 13;
/// Bytes per track entry: confidence, CRC, frame-450 CRC.
pub const TRACK_BYTES: usize = 9;

/// One track of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArTrackEntry {
    /// How many submissions agreed on this CRC (capped at 255 by the format).
    pub confidence: u8,
    /// The track's AccurateRip checksum (v1 or v2).
    pub crc: u32,
    /// The checksum of frame 450 of the track, for offset detection.
    pub frame450_crc: u32,
}

/// One record: the checksums of one pressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArRecord {
    pub id1: u32,
    pub id2: u32,
    pub cddb: u32,
    /// Tracks 1.. in order (AccurateRip numbering: audio tracks only).
    pub tracks: Vec<ArTrackEntry>,
}

/// A disc's entry in the AccurateRip database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArDatabase {
    pub records: Vec<ArRecord>,
}

/// The AccurateRip checksum version that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ArVersion {
    V1,
    V2,
}

/// How a track compares with the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArStatus {
    /// Our v1 or v2 checksum is in the database: the rip is accurate.
    Match,
    /// The database knows the track but none of its checksums is ours.
    Mismatch,
    /// The database has no checksum for this track (or no entry for the disc).
    NotFound,
}

/// The comparison of one track, as whipper and EAC report it ("accurate
/// (confidence N)", v1 and v2 apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArMatch {
    pub status: ArStatus,
    /// Confidence of the version reported in `version`: the sum over all records
    /// whose checksum equals ours (CUETools sums over pressings; whipper shows the
    /// largest single one, see `best_record_confidence`).
    pub confidence: u32,
    /// The version that matched with the higher confidence (v2 on a tie).
    pub version: Option<ArVersion>,
    /// Summed confidence of records matching our v1 checksum.
    pub v1_confidence: u32,
    /// Summed confidence of records matching our v2 checksum.
    pub v2_confidence: u32,
    /// The largest confidence of a single matching record (whipper's
    /// `DBConfidence`).
    pub best_record_confidence: u32,
    /// The largest confidence of any record for the track (whipper's
    /// `DBMaxConfidence`): how sure the database is of *some* checksum.
    pub max_confidence: u32,
    /// All submissions for the track: the sum of every record's confidence.
    pub total_submissions: u32,
}

/// Reads a `dBAR` file.
///
/// # Errors
/// [`ParseError`] for an empty body, a record declaring zero tracks, or a record cut
/// short, naming the byte position.
pub fn parse_dbar(bytes: &[u8]) -> Result<ArDatabase, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError("the AccurateRip file is empty".into()));
    }
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = bytes.get(pos..).unwrap_or_default();
        let Some(header) = rest.get(..HEADER_BYTES) else {
            return Err(ParseError(format!(
                "record {} at byte {pos} is cut short: {} bytes left, a header needs {HEADER_BYTES} (not an AccurateRip file, or truncated)",
                records.len() + 1,
                rest.len()
            )));
        };
        let count = usize::from(header[0]);
        if count == 0 {
            return Err(ParseError(format!(
                "record {} at byte {pos} declares 0 tracks (not an AccurateRip file)",
                records.len() + 1
            )));
        }
        let need = HEADER_BYTES + count * TRACK_BYTES;
        let Some(record) = rest.get(..need) else {
            return Err(ParseError(format!(
                "record {} at byte {pos} declares {count} tracks ({need} bytes) but only {} bytes remain (truncated)",
                records.len() + 1,
                rest.len()
            )));
        };
        let tracks = record[HEADER_BYTES..]
            .chunks_exact(TRACK_BYTES)
            .map(|t| ArTrackEntry {
                confidence: t[0],
                crc: le32(&t[1..5]),
                frame450_crc: le32(&t[5..9]),
            })
            .collect();
        records.push(ArRecord {
            id1: le32(&header[1..5]),
            id2: le32(&header[5..9]),
            cddb: le32(&header[9..13]),
            tracks,
        });
        pos += need;
    }
    Ok(ArDatabase { records })
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_le_bytes(a)
}

/// Writes a `dBAR` file (the inverse of [`parse_dbar`]; for tests and caches).
pub fn encode_dbar(db: &ArDatabase) -> Vec<u8> {
    let mut out = Vec::new();
    for r in &db.records {
        out.push(u8::try_from(r.tracks.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&r.id1.to_le_bytes());
        out.extend_from_slice(&r.id2.to_le_bytes());
        out.extend_from_slice(&r.cddb.to_le_bytes());
        for t in r.tracks.iter().take(usize::from(u8::MAX)) {
            out.push(t.confidence);
            out.extend_from_slice(&t.crc.to_le_bytes());
            out.extend_from_slice(&t.frame450_crc.to_le_bytes());
        }
    }
    out
}

impl ArDatabase {
    /// The entries for `track` (1-based, AccurateRip numbering), one per record that
    /// has the track.
    pub fn track_entries(&self, track: u8) -> impl Iterator<Item = &ArTrackEntry> + '_ {
        let index = usize::from(track).checked_sub(1);
        self.records
            .iter()
            .filter_map(move |r| index.and_then(|i| r.tracks.get(i)))
    }

    /// The frame-450 CRCs of `track` with their confidences, for finding a drive's
    /// read offset (entries whose CRC is 0 carry no checksum and are left out).
    pub fn frame450_crcs(&self, track: u8) -> Vec<(u32, u8)> {
        self.track_entries(track)
            .filter(|t| t.frame450_crc != 0)
            .map(|t| (t.frame450_crc, t.confidence))
            .collect()
    }

    /// Compares our v1 and v2 checksums of `track` with the database. See
    /// [`compare`].
    pub fn compare(&self, track: u8, v1: u32, v2: u32) -> ArMatch {
        compare(self, track, v1, v2)
    }

    /// True when every record carries the identity `id`.
    pub fn is_for(&self, id: &AccurateRipId) -> bool {
        self.records.iter().all(|r| {
            r.id1 == id.id1
                && r.id2 == id.id2
                && r.cddb == id.cddb
                && r.tracks.len() == usize::from(id.audio_tracks)
        })
    }
}

/// Compares our v1 and v2 checksums of `track` (1-based, audio tracks only) with the
/// database: a record matches when its CRC equals ours; a CRC of 0 in the database
/// stands for "no checksum" and never matches.
pub fn compare(db: &ArDatabase, track: u8, v1: u32, v2: u32) -> ArMatch {
    let mut m = ArMatch {
        status: ArStatus::NotFound,
        confidence: 0,
        version: None,
        v1_confidence: 0,
        v2_confidence: 0,
        best_record_confidence: 0,
        max_confidence: 0,
        total_submissions: 0,
    };
    let mut known = false;
    let mut v1_hit = false;
    let mut v2_hit = false;
    for e in db.track_entries(track) {
        if e.crc == 0 {
            continue;
        }
        known = true;
        let c = u32::from(e.confidence);
        m.total_submissions += c;
        m.max_confidence = m.max_confidence.max(c);
        if e.crc == v1 {
            v1_hit = true;
            m.v1_confidence += c;
            m.best_record_confidence = m.best_record_confidence.max(c);
        }
        if e.crc == v2 && v2 != v1 {
            v2_hit = true;
            m.v2_confidence += c;
            m.best_record_confidence = m.best_record_confidence.max(c);
        }
    }
    if !known {
        return m;
    }
    m.status = if v1_hit || v2_hit {
        ArStatus::Match
    } else {
        ArStatus::Mismatch
    };
    if v2_hit && m.v2_confidence >= m.v1_confidence {
        m.version = Some(ArVersion::V2);
        m.confidence = m.v2_confidence;
    } else if v1_hit {
        m.version = Some(ArVersion::V1);
        m.confidence = m.v1_confidence;
    }
    m
}

impl Lookup {
    /// The URL of the disc's AccurateRip file.
    pub fn accuraterip_url(&self, id: &AccurateRipId) -> String {
        self.url(Service::AccurateRip, &format!("/accuraterip/{}", id.path()))
    }

    /// Fetches the disc's AccurateRip entry; `None` when the disc is not in the
    /// database (HTTP 404).
    ///
    /// # Errors
    /// [`Error::Request`]: transport failures, other statuses, a body that is not a
    /// `dBAR` file or is for another disc.
    pub fn accuraterip(&self, id: &AccurateRipId) -> Result<Option<ArDatabase>, Error> {
        let url = self.accuraterip_url(id);
        let Some(f) = self.get_found(Service::AccurateRip, &url)? else {
            return Ok(None);
        };
        let body_error = |m: String| Error::Request {
            service: Service::AccurateRip,
            url: url.clone(),
            failure: Failure::Body(m),
        };
        let db = parse_dbar(&f.body).map_err(|e| body_error(e.0))?;
        if !db.is_for(id) {
            return Err(body_error(format!(
                "the file is for another disc than {} (its records carry other disc IDs or track counts)",
                id.file_name()
            )));
        }
        Ok(Some(db))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rec(entries: &[(u8, u32)]) -> ArRecord {
        ArRecord {
            id1: 1,
            id2: 2,
            cddb: 3,
            tracks: entries
                .iter()
                .map(|&(c, crc)| ArTrackEntry {
                    confidence: c,
                    crc,
                    frame450_crc: crc ^ 0xffff,
                })
                .collect(),
        }
    }

    #[test]
    fn round_trip_and_errors() {
        let db = ArDatabase {
            records: vec![
                rec(&[(5, 0xaabbccdd), (7, 0x11223344)]),
                rec(&[(1, 9), (2, 8)]),
            ],
        };
        let bytes = encode_dbar(&db);
        assert_eq!(bytes.len(), 2 * (13 + 2 * 9));
        // Little-endian, header layout as whipper reads it.
        assert_eq!(&bytes[..5], &[2, 1, 0, 0, 0]);
        assert_eq!(&bytes[14..18], &0xaabbccddu32.to_le_bytes());
        assert_eq!(parse_dbar(&bytes).unwrap(), db);
        let cut = parse_dbar(&bytes[..bytes.len() - 1]).unwrap_err().0;
        assert!(
            cut.contains("record 2 at byte 31 declares 2 tracks"),
            "{cut}"
        );
        assert!(parse_dbar(&bytes[..20])
            .unwrap_err()
            .0
            .contains("truncated"));
        assert!(parse_dbar(&[]).unwrap_err().0.contains("empty"));
        assert!(parse_dbar(&[0; 13]).unwrap_err().0.contains("0 tracks"));
        assert!(parse_dbar(b"<html>")
            .unwrap_err()
            .0
            .contains("header needs 13"));
    }

    #[test]
    fn compare_sums_matching_records_per_version() {
        let db = ArDatabase {
            records: vec![
                rec(&[(12, 0x1111), (3, 0x5555)]),
                rec(&[(4, 0x2222), (0, 0)]),
                rec(&[(3, 0x1111), (9, 0x6666)]),
            ],
        };
        let m = db.compare(1, 0x1111, 0x2222);
        assert_eq!(m.status, ArStatus::Match);
        assert_eq!((m.v1_confidence, m.v2_confidence), (15, 4));
        assert_eq!(m.version, Some(ArVersion::V1));
        assert_eq!(m.confidence, 15);
        assert_eq!(m.best_record_confidence, 12);
        assert_eq!(m.max_confidence, 12);
        assert_eq!(m.total_submissions, 19);

        let m = db.compare(1, 0x9999, 0x2222);
        assert_eq!(
            (m.status, m.version, m.confidence),
            (ArStatus::Match, Some(ArVersion::V2), 4)
        );

        let m = db.compare(2, 0x1234, 0x4321);
        assert_eq!(
            (m.status, m.confidence, m.version),
            (ArStatus::Mismatch, 0, None)
        );
        assert_eq!(m.total_submissions, 12);

        // Zero CRCs are "no checksum": never a match, not counted.
        let m = db.compare(2, 0, 0);
        assert_eq!(m.status, ArStatus::Mismatch);

        assert_eq!(db.compare(3, 1, 2).status, ArStatus::NotFound);
        assert_eq!(db.compare(0, 1, 2).status, ArStatus::NotFound);
        assert_eq!(
            ArDatabase::default().compare(1, 1, 2).status,
            ArStatus::NotFound
        );
        assert_eq!(
            db.frame450_crcs(2),
            vec![(0x5555 ^ 0xffff, 3), (0xffff, 0), (0x6666 ^ 0xffff, 9)]
        );
    }
}
