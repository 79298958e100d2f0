//! The CUETools database (CTDB): looking a disc up by its TOC and comparing our
//! CTDB checksums with the submitted ones.
//!
//! Request (CUETools `CUEToolsDB.ContactDB`; the `cdtoc` crate's
//! `ctdb_checksum_url`): `GET /lookup2.php?version=3&ctdb=1&fuzzy=1&toc=TOC`, where
//! TOC lists every track's start as an LBA (sectors from 00:02:00), data tracks
//! prefixed with `-`, then the disc's lead-out, separated by `:` — CUETools
//! `CDImageLayout.ToString`. Response: XML
//! `<ctdb xmlns="http://db.cuetools.net/ns/mmd-1.0#"> <entry id confidence crc32 npar
//! stride hasparity parity syndrome toc trackcrcs/>… <metadata …/>… </ctdb>`
//! (CUETools `CTDBResponse`/`CTDBResponseEntry`); `crc32` and `trackcrcs` are hex,
//! `trackcrcs` space-separated, one per audio track. A disc the database does not
//! know gets 404 or a `<ctdb>` without entries.

use std::collections::BTreeMap;

use aj_cd::disc::Disc;

use crate::client::Lookup;
use crate::error::{Error, Failure, ParseError, Service};

/// One submission group: a set of identical rips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtdbEntry {
    pub id: String,
    /// How many submitters got this exact rip.
    pub confidence: u32,
    /// The CTDB CRC-32 of the whole disc.
    pub crc32: u32,
    /// Per-track CTDB CRC-32s (empty when the server sent none).
    pub track_crcs: Vec<u32>,
    /// The TOC string the entry was submitted with (fuzzy matches may differ from
    /// ours).
    pub toc: Option<String>,
    /// Reed–Solomon parity words per stride, and the stride in samples.
    pub npar: Option<u32>,
    pub stride: Option<u32>,
    /// URL of the full parity data, when the server has it.
    pub parity_url: Option<String>,
}

/// A metadata element of the response, attributes as sent (`source`, `id`,
/// `artist`, `album`, `year`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtdbMetadata {
    pub attributes: BTreeMap<String, String>,
}

/// A parsed CTDB lookup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CtdbResponse {
    pub entries: Vec<CtdbEntry>,
    pub metadata: Vec<CtdbMetadata>,
}

/// How our rip compares with the CTDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtdbStatus {
    /// Our checksum equals a submitted one.
    Match,
    /// Submissions exist for this TOC but none has our checksum.
    Mismatch,
    /// No submission for this TOC.
    NotFound,
}

/// The comparison of one track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtdbTrackMatch {
    pub status: CtdbStatus,
    /// Summed confidence of the entries whose CRC for this track is ours.
    pub confidence: u32,
    /// Summed confidence of every entry with a CRC for this track.
    pub total: u32,
}

/// The comparison of a whole disc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtdbMatch {
    /// The whole-disc result.
    pub status: CtdbStatus,
    /// Summed confidence of the entries whose disc CRC is ours ("verified OK,
    /// confidence N" in CUETools' words).
    pub confidence: u32,
    /// Summed confidence of every entry for our TOC (CUETools' `Total`).
    pub total: u32,
    /// The matching entry with the highest confidence.
    pub entry_id: Option<String>,
    /// Per-track results, tracks 1.. of the audio tracks.
    pub tracks: Vec<CtdbTrackMatch>,
    /// Entries the fuzzy lookup returned for other TOCs (other pressings), left out
    /// of the comparison.
    pub other_tocs: usize,
}

/// The CTDB TOC string of a disc (see the module doc).
pub fn ctdb_toc(disc: &Disc) -> String {
    let mut parts: Vec<String> = disc
        .tracks
        .iter()
        .map(|t| {
            let lba = t.start.0.max(0);
            if t.is_audio() {
                lba.to_string()
            } else {
                format!("-{lba}")
            }
        })
        .collect();
    parts.push(disc.leadout.0.max(0).to_string());
    parts.join(":")
}

/// Reads a CTDB lookup response.
///
/// # Errors
/// [`ParseError`] when the body is not XML, the root is not `<ctdb>`, or an entry
/// lacks or garbles `confidence` or `crc32`, or garbles `trackcrcs`.
pub fn parse_ctdb(xml: &str) -> Result<CtdbResponse, ParseError> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| ParseError(format!("the CTDB answer is not XML: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "ctdb" {
        return Err(ParseError(format!(
            "the CTDB answer's root element is <{}>, expected <ctdb>",
            root.tag_name().name()
        )));
    }
    let mut response = CtdbResponse::default();
    for node in root.children().filter(|n| n.is_element()) {
        match node.tag_name().name() {
            "entry" => {
                let n = response.entries.len() + 1;
                let what = |attr: &str| format!("entry {n} attribute {attr}");
                let confidence = node
                    .attribute("confidence")
                    .ok_or_else(|| ParseError(format!("{} is missing", what("confidence"))))?
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| ParseError(format!("{} is not a number", what("confidence"))))?;
                let crc32 = node
                    .attribute("crc32")
                    .ok_or_else(|| ParseError(format!("{} is missing", what("crc32"))))
                    .and_then(|v| {
                        hex32(v).ok_or_else(|| {
                            ParseError(format!("{} {v:?} is not hex", what("crc32")))
                        })
                    })?;
                let track_crcs = match node.attribute("trackcrcs") {
                    None => Vec::new(),
                    Some(v) => v
                        .split_whitespace()
                        .map(|h| {
                            hex32(h).ok_or_else(|| {
                                ParseError(format!("{} has {h:?}, not hex", what("trackcrcs")))
                            })
                        })
                        .collect::<Result<_, _>>()?,
                };
                let num = |a: &str| node.attribute(a).and_then(|v| v.trim().parse::<u32>().ok());
                let text = |a: &str| {
                    node.attribute(a)
                        .map(str::to_string)
                        .filter(|s| !s.is_empty())
                };
                response.entries.push(CtdbEntry {
                    id: node.attribute("id").unwrap_or_default().to_string(),
                    confidence,
                    crc32,
                    track_crcs,
                    toc: text("toc"),
                    npar: num("npar"),
                    stride: num("stride"),
                    parity_url: text("hasparity"),
                });
            }
            "metadata" | "musicbrainz" => {
                response.metadata.push(CtdbMetadata {
                    attributes: node
                        .attributes()
                        .map(|a| (a.name().to_string(), a.value().to_string()))
                        .collect(),
                });
            }
            _ => {}
        }
    }
    Ok(response)
}

fn hex32(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

impl CtdbResponse {
    /// Compares our whole-disc CTDB CRC and per-track CRCs with the entries
    /// submitted for `toc` (our [`ctdb_toc`]); entries for other TOCs (the fuzzy
    /// lookup's other pressings) are counted in `other_tocs` only. An entry without a
    /// `toc` attribute counts as ours.
    pub fn compare(&self, toc: &str, disc_crc: u32, track_crcs: &[u32]) -> CtdbMatch {
        let (ours, others): (Vec<&CtdbEntry>, Vec<&CtdbEntry>) = self
            .entries
            .iter()
            .partition(|e| e.toc.as_deref().is_none_or(|t| t == toc));
        let total: u32 = ours.iter().map(|e| e.confidence).sum();
        let matching: Vec<&&CtdbEntry> = ours.iter().filter(|e| e.crc32 == disc_crc).collect();
        let confidence: u32 = matching.iter().map(|e| e.confidence).sum();
        let entry_id = matching
            .iter()
            .max_by_key(|e| e.confidence)
            .map(|e| e.id.clone());
        let status = if ours.is_empty() {
            CtdbStatus::NotFound
        } else if matching.is_empty() {
            CtdbStatus::Mismatch
        } else {
            CtdbStatus::Match
        };
        let tracks = track_crcs
            .iter()
            .enumerate()
            .map(|(i, &crc)| {
                let mut t = CtdbTrackMatch {
                    status: CtdbStatus::NotFound,
                    confidence: 0,
                    total: 0,
                };
                for e in &ours {
                    if e.track_crcs.len() != track_crcs.len() {
                        continue;
                    }
                    if let Some(&theirs) = e.track_crcs.get(i) {
                        t.total += e.confidence;
                        if theirs == crc {
                            t.confidence += e.confidence;
                        }
                    }
                }
                t.status = if t.total == 0 {
                    CtdbStatus::NotFound
                } else if t.confidence > 0 {
                    CtdbStatus::Match
                } else {
                    CtdbStatus::Mismatch
                };
                t
            })
            .collect();
        CtdbMatch {
            status,
            confidence,
            total,
            entry_id,
            tracks,
            other_tocs: others.len(),
        }
    }
}

impl Lookup {
    /// The CTDB lookup URL for `disc`.
    pub fn ctdb_url(&self, disc: &Disc) -> String {
        self.url(
            Service::Ctdb,
            &format!(
                "/lookup2.php?version=3&ctdb=1&fuzzy=1&toc={}",
                ctdb_toc(disc)
            ),
        )
    }

    /// Looks `disc` up in the CTDB; `None` when it is not there (404 or no entries).
    ///
    /// # Errors
    /// [`Error::Request`]: transport failures, other statuses, a body that is not a
    /// CTDB answer.
    pub fn ctdb(&self, disc: &Disc) -> Result<Option<CtdbResponse>, Error> {
        let url = self.ctdb_url(disc);
        let Some(f) = self.get_found(Service::Ctdb, &url)? else {
            return Ok(None);
        };
        let body_error = |m: String| Error::Request {
            service: Service::Ctdb,
            url: url.clone(),
            failure: Failure::Body(m),
        };
        let text = String::from_utf8(f.body)
            .map_err(|_| body_error("the answer is not UTF-8 text".into()))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let r = parse_ctdb(&text).map_err(|e| body_error(e.0))?;
        Ok((!r.entries.is_empty()).then_some(r))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aj_cd::disc::Track;
    use aj_core::units::Lba;

    #[test]
    fn toc_string_marks_data_tracks_and_ends_with_the_leadout() {
        // The enhanced CD of the cdtoc crate's tests: 13 audio tracks, a data track.
        let starts = [
            0, 15047, 30797, 45995, 60397, 78942, 94607, 108395, 125382, 146117, 162905, 177397,
            194782,
        ];
        let mut tracks: Vec<Track> = starts
            .iter()
            .enumerate()
            .map(|(i, &s)| Track::audio(i as u8 + 1, Lba(s)))
            .collect();
        tracks.push(Track::data(14, 2, Lba(220352)));
        let disc = Disc {
            tracks,
            sessions: vec![
                aj_cd::disc::Session {
                    number: 1,
                    leadout: Lba(208952),
                },
                aj_cd::disc::Session {
                    number: 2,
                    leadout: Lba(332850),
                },
            ],
            leadout: Lba(332850),
            mcn: None,
            cdtext: None,
        };
        assert_eq!(
            ctdb_toc(&disc),
            "0:15047:30797:45995:60397:78942:94607:108395:125382:146117:162905:177397:194782:-220352:332850"
        );
    }

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ctdb xmlns="http://db.cuetools.net/ns/mmd-1.0#" xmlns:ext="http://db.cuetools.net/ns/ext-1.0#">
 <entry confidence="10" crc32="13f525de" hasparity="/parity/1" id="1" npar="16" stride="5880" toc="0:100:200" trackcrcs="40c5dc10 65dfcc8a" />
 <entry confidence="3" crc32="5701aff0" id="2" npar="8" stride="5880" toc="0:100:200" trackcrcs="40c5dc10 3fa34037" />
 <entry confidence="2" crc32="13f525de" id="3" npar="8" stride="5880" toc="0:100:200" trackcrcs="40c5dc10 65dfcc8a" />
 <entry confidence="7" crc32="00000001" id="4" npar="8" stride="5880" toc="32:132:232" trackcrcs="1 2" />
 <metadata source="musicbrainz" id="abc" artist="A" album="B" year="1999" />
</ctdb>"#;

    #[test]
    fn parse_and_compare() {
        let r = parse_ctdb(XML).unwrap();
        assert_eq!(r.entries.len(), 4);
        assert_eq!(r.entries[0].crc32, 0x13f5_25de);
        assert_eq!(r.entries[0].track_crcs, vec![0x40c5_dc10, 0x65df_cc8a]);
        assert_eq!(r.entries[0].parity_url.as_deref(), Some("/parity/1"));
        assert_eq!(r.entries[1].parity_url, None);
        assert_eq!(r.metadata[0].attributes["album"], "B");

        let m = r.compare("0:100:200", 0x13f5_25de, &[0x40c5_dc10, 0x65df_cc8a]);
        assert_eq!(
            (m.status, m.confidence, m.total),
            (CtdbStatus::Match, 12, 15)
        );
        assert_eq!(m.entry_id.as_deref(), Some("1"));
        assert_eq!(m.other_tocs, 1);
        assert_eq!(
            m.tracks[0],
            CtdbTrackMatch {
                status: CtdbStatus::Match,
                confidence: 15,
                total: 15
            }
        );
        assert_eq!(
            m.tracks[1],
            CtdbTrackMatch {
                status: CtdbStatus::Match,
                confidence: 12,
                total: 15
            }
        );

        let m = r.compare("0:100:200", 0xdead_beef, &[0x40c5_dc10, 0x1234]);
        assert_eq!((m.status, m.confidence), (CtdbStatus::Mismatch, 0));
        assert_eq!(m.tracks[1].status, CtdbStatus::Mismatch);
        assert_eq!(m.tracks[0].confidence, 15);

        let m = r.compare("0:1:2", 1, &[1, 2]);
        assert_eq!(m.status, CtdbStatus::NotFound);
        assert_eq!(m.tracks[0].status, CtdbStatus::NotFound);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(parse_ctdb("<html><body>oops</body></html>")
            .unwrap_err()
            .0
            .contains("<html>"));
        assert!(parse_ctdb("not xml").unwrap_err().0.contains("not XML"));
        assert!(parse_ctdb("<ctdb><entry crc32=\"1\"/></ctdb>")
            .unwrap_err()
            .0
            .contains("entry 1 attribute confidence is missing"));
        assert!(
            parse_ctdb("<ctdb><entry confidence=\"1\" crc32=\"xyz\"/></ctdb>")
                .unwrap_err()
                .0
                .contains("not hex")
        );
        assert!(parse_ctdb(
            "<ctdb><entry confidence=\"1\" crc32=\"1\" trackcrcs=\"1 zz\"/></ctdb>"
        )
        .unwrap_err()
        .0
        .contains("\"zz\""));
        assert_eq!(
            parse_ctdb("<ctdb xmlns=\"http://db.cuetools.net/ns/mmd-1.0#\"/>").unwrap(),
            CtdbResponse::default()
        );
    }
}
