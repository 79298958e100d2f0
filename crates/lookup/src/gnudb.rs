//! GnuDB: the freedb/CDDB protocol over HTTP, the fallback for discs MusicBrainz
//! does not know.
//!
//! Requests (freedb "CDDB Server Protocol", level 6; `cddb.cgi` over HTTP, as
//! gnudb.org serves it): `GET /~cddb/cddb.cgi?cmd=cddb+query+DISCID+NTRKS+OFF1+…+NSECS&hello=USER+HOST+CLIENT+VERSION&proto=6`
//! where the offsets are every track's start in frames (LBA + 150, data tracks
//! included) and NSECS is the lead-out in whole seconds (frames / 75), then
//! `cmd=cddb+read+CATEGORY+DISCID`. Level 6 answers are UTF-8.
//!
//! Query answers: `200 categ discid dtitle` (one exact match), `210` (several exact
//! matches) or `211` (inexact matches) then one `categ discid dtitle` line each until
//! a line holding `.`, `202` no match; read answers: `210 categ discid …` then the
//! xmcd record until `.`, `401` entry not found. Other 4xx/5xx codes are errors.
//!
//! The xmcd record: `#` comment lines, then `KEY=value` lines; a key repeated on
//! several lines continues its value (long titles); `DTITLE` is `Artist / Album`,
//! `TTITLEn` (n from 0) may be `Artist / Title` on compilations; values escape
//! `\n`, `\t` and `\\`.

use std::collections::BTreeMap;

use aj_cd::disc::Disc;
use aj_cd::id::cddb_id;

use crate::client::Lookup;
use crate::error::{Error, Failure, ParseError, Service};

/// Frames (sectors) per second, and the 2-second offset of LBA 0 (Red Book).
const FRAMES_PER_SECOND: i64 = 75;
const LBA_TO_FRAMES: i64 = 150;

/// A match of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CddbMatch {
    pub category: String,
    pub disc_id: String,
    /// `Artist / Album` as the server lists it.
    pub title: String,
    /// False for the server's inexact (fuzzy) matches.
    pub exact: bool,
}

/// A track of an xmcd record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CddbTrack {
    pub title: String,
    /// The track's own artist, when `TTITLEn` reads `Artist / Title`.
    pub artist: Option<String>,
    /// `EXTTn`, if any.
    pub extended: Option<String>,
}

/// An xmcd record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CddbEntry {
    pub category: String,
    pub disc_id: String,
    pub artist: String,
    pub title: String,
    pub year: Option<String>,
    pub genre: Option<String>,
    pub extended: Option<String>,
    pub tracks: Vec<CddbTrack>,
}

/// The CDDB query command for `disc` (without `cmd=`), words joined by `+`.
pub fn query_command(disc: &Disc) -> String {
    let frames = |lba: i32| i64::from(lba) + LBA_TO_FRAMES;
    let mut words = vec![
        "cddb".to_string(),
        "query".to_string(),
        format!("{:08x}", cddb_id(disc)),
        disc.tracks.len().to_string(),
    ];
    words.extend(disc.tracks.iter().map(|t| frames(t.start.0).to_string()));
    words.push((frames(disc.leadout.0) / FRAMES_PER_SECOND).to_string());
    words.join("+")
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|l| l.trim_end_matches('\r'))
}

fn status_line(text: &str) -> Result<(u16, &str), ParseError> {
    let first = lines(text).next().unwrap_or("");
    let (code, rest) = first.split_once(' ').unwrap_or((first, ""));
    let code = code
        .parse::<u16>()
        .ok()
        .filter(|c| (100..600).contains(c))
        .ok_or_else(|| ParseError(format!("not a CDDB answer (first line {first:?})")))?;
    Ok((code, rest))
}

/// Reads a query answer.
///
/// # Errors
/// [`ParseError`] for a body that is not a CDDB answer, a malformed match line, or
/// an error code (its text is kept).
pub fn parse_query(text: &str) -> Result<Vec<CddbMatch>, ParseError> {
    let (code, rest) = status_line(text)?;
    let parse_match = |line: &str, exact: bool| -> Result<CddbMatch, ParseError> {
        let mut p = line.splitn(3, ' ');
        match (p.next(), p.next(), p.next()) {
            (Some(c), Some(d), t) if !c.is_empty() && !d.is_empty() => Ok(CddbMatch {
                category: c.to_string(),
                disc_id: d.to_string(),
                title: t.unwrap_or("").trim().to_string(),
                exact,
            }),
            _ => Err(ParseError(format!("malformed CDDB match line {line:?}"))),
        }
    };
    match code {
        200 => Ok(vec![parse_match(rest, true)?]),
        210 | 211 => {
            let mut out = Vec::new();
            let mut terminated = false;
            for line in lines(text).skip(1) {
                if line == "." {
                    terminated = true;
                    break;
                }
                if !line.trim().is_empty() {
                    out.push(parse_match(line, code == 210)?);
                }
            }
            if !terminated {
                return Err(ParseError(
                    "the CDDB match list is cut short (no terminating \".\")".into(),
                ));
            }
            Ok(out)
        }
        202 => Ok(Vec::new()),
        _ => Err(ParseError(format!("CDDB error {code}: {rest}"))),
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn split_artist(s: &str) -> Option<(String, String)> {
    s.split_once(" / ")
        .map(|(a, t)| (a.trim().to_string(), t.trim().to_string()))
}

/// Reads a read answer (`210 …` then the xmcd record) or a bare xmcd record.
///
/// # Errors
/// [`ParseError`] for an error code, a body that is neither, a missing terminator,
/// or a record without `DTITLE`.
pub fn parse_read(text: &str) -> Result<CddbEntry, ParseError> {
    let mut category = String::new();
    let mut disc_id = String::new();
    let body: Vec<&str> = if text.starts_with('#') {
        lines(text).collect()
    } else {
        let (code, rest) = status_line(text)?;
        if code != 210 {
            return Err(ParseError(format!("CDDB error {code}: {rest}")));
        }
        let mut w = rest.split_whitespace();
        category = w.next().unwrap_or("").to_string();
        disc_id = w.next().unwrap_or("").to_string();
        let mut body = Vec::new();
        let mut terminated = false;
        for line in lines(text).skip(1) {
            if line == "." {
                terminated = true;
                break;
            }
            body.push(line);
        }
        if !terminated {
            return Err(ParseError(
                "the xmcd record is cut short (no terminating \".\")".into(),
            ));
        }
        body
    };
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for line in body {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(ParseError(format!("malformed xmcd line {line:?}")));
        };
        fields
            .entry(key.trim().to_string())
            .or_default()
            .push_str(value);
    }
    let get = |k: &str| {
        fields
            .get(k)
            .map(|v| unescape(v))
            .filter(|v| !v.trim().is_empty())
    };
    let dtitle = get("DTITLE").ok_or_else(|| ParseError("the xmcd record has no DTITLE".into()))?;
    let (artist, title) = split_artist(&dtitle).unwrap_or_else(|| (dtitle.clone(), dtitle.clone()));
    if disc_id.is_empty() {
        disc_id = get("DISCID").unwrap_or_default();
    }
    let mut tracks = Vec::new();
    while let Some(t) = fields.get(&format!("TTITLE{}", tracks.len())) {
        let t = unescape(t);
        let extended = get(&format!("EXTT{}", tracks.len()));
        let (artist, title) = match split_artist(&t) {
            Some((a, t)) => (Some(a), t),
            None => (None, t.trim().to_string()),
        };
        tracks.push(CddbTrack {
            title,
            artist,
            extended,
        });
    }
    Ok(CddbEntry {
        category,
        disc_id,
        artist,
        title,
        year: get("DYEAR").map(|y| y.trim().to_string()),
        genre: get("DGENRE").map(|g| g.trim().to_string()),
        extended: get("EXTD"),
        tracks,
    })
}

fn plus_word(s: &str) -> String {
    // CDDB words must not hold spaces or '+'; keep only safe URL characters.
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Lookup {
    fn cddb_url(&self, command: &str) -> String {
        let o = self.options();
        let hello = format!(
            "{}+{}+AudioJuggler+{}",
            plus_word(&o.cddb_user),
            plus_word(&o.cddb_host),
            env!("CARGO_PKG_VERSION")
        );
        self.url(
            Service::GnuDb,
            &format!("/~cddb/cddb.cgi?cmd={command}&hello={hello}&proto=6"),
        )
    }

    /// The query URL for `disc`.
    pub fn gnudb_query_url(&self, disc: &Disc) -> String {
        self.cddb_url(&query_command(disc))
    }

    /// The read URL for a match.
    pub fn gnudb_read_url(&self, m: &CddbMatch) -> String {
        self.cddb_url(&format!(
            "cddb+read+{}+{}",
            plus_word(&m.category),
            plus_word(&m.disc_id)
        ))
    }

    fn cddb_text(&self, url: &str) -> Result<Option<String>, Error> {
        let Some(f) = self.get_found(Service::GnuDb, url)? else {
            return Ok(None);
        };
        String::from_utf8(f.body)
            .map(Some)
            .map_err(|_| Error::Request {
                service: Service::GnuDb,
                url: url.to_string(),
                failure: Failure::Body("the answer is not UTF-8 text".into()),
            })
    }

    /// Matches for `disc`; empty when GnuDB knows none (CDDB 202, or HTTP 404).
    ///
    /// # Errors
    /// [`Error::Request`]: transport failures, CDDB error codes, unreadable answers.
    pub fn gnudb_query(&self, disc: &Disc) -> Result<Vec<CddbMatch>, Error> {
        let url = self.gnudb_query_url(disc);
        let Some(text) = self.cddb_text(&url)? else {
            return Ok(Vec::new());
        };
        parse_query(&text).map_err(|e| cddb_error(&url, &text, e))
    }

    /// The record of a match; `None` when it is gone (CDDB 401, or HTTP 404).
    ///
    /// # Errors
    /// As [`Lookup::gnudb_query`].
    pub fn gnudb_read(&self, m: &CddbMatch) -> Result<Option<CddbEntry>, Error> {
        let url = self.gnudb_read_url(m);
        let Some(text) = self.cddb_text(&url)? else {
            return Ok(None);
        };
        if status_line(&text).is_ok_and(|(c, _)| c == 401) {
            return Ok(None);
        }
        parse_read(&text)
            .map(Some)
            .map_err(|e| cddb_error(&url, &text, e))
    }
}

fn cddb_error(url: &str, text: &str, e: ParseError) -> Error {
    let is_code = status_line(text).is_ok_and(|(c, _)| c >= 400);
    Error::Request {
        service: Service::GnuDb,
        url: url.to_string(),
        failure: if is_code {
            Failure::Service(e.0)
        } else {
            Failure::Body(e.0)
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn query_answers() {
        let one = parse_query("200 rock 8309a80a Loreena McKennitt / Elemental\r\n").unwrap();
        assert_eq!(
            one,
            vec![CddbMatch {
                category: "rock".into(),
                disc_id: "8309a80a".into(),
                title: "Loreena McKennitt / Elemental".into(),
                exact: true
            }]
        );
        let many = parse_query("211 Found inexact matches, list follows (until terminating `.')\r\nrock 8309a80a A / B\r\nmisc 8309a80b C / D\r\n.\r\n").unwrap();
        assert_eq!(many.len(), 2);
        assert!(!many[1].exact);
        assert_eq!(many[1].category, "misc");
        let exact = parse_query(
            "210 Found exact matches, list follows (until terminating `.')\nrock 1 A / B\n.\n",
        )
        .unwrap();
        assert!(exact[0].exact);
        assert!(parse_query("202 No match found.\r\n").unwrap().is_empty());
        assert!(parse_query("211 list\nrock 1 A\n")
            .unwrap_err()
            .0
            .contains("cut short"));
        assert!(parse_query("409 No handshake.")
            .unwrap_err()
            .0
            .contains("CDDB error 409: No handshake."));
        assert!(parse_query("<html>")
            .unwrap_err()
            .0
            .contains("not a CDDB answer"));
        assert!(parse_query("").is_err());
    }

    #[test]
    fn xmcd_records() {
        let text = "210 folk 8309a80a CD database entry follows (until terminating `.')\r\n# xmcd\r\n#\r\n# Track frame offsets:\r\n#     150\r\nDISCID=8309a80a\r\nDTITLE=Loreena McKennitt / Elemental (Limited\r\nDTITLE= Edition)\r\nDYEAR=2004\r\nDGENRE=Celtic\r\nTTITLE0=Blacksmith\r\nTTITLE1=Guest / She Moved\\nThrough\r\nEXTD=line1\\nline2\r\nEXTT0=\r\nPLAYORDER=\r\n.\r\n";
        let e = parse_read(text).unwrap();
        assert_eq!(e.category, "folk");
        assert_eq!(e.disc_id, "8309a80a");
        assert_eq!(e.artist, "Loreena McKennitt");
        assert_eq!(e.title, "Elemental (Limited Edition)");
        assert_eq!(e.year.as_deref(), Some("2004"));
        assert_eq!(e.genre.as_deref(), Some("Celtic"));
        assert_eq!(e.extended.as_deref(), Some("line1\nline2"));
        assert_eq!(e.tracks.len(), 2);
        assert_eq!(
            e.tracks[0],
            CddbTrack {
                title: "Blacksmith".into(),
                artist: None,
                extended: None
            }
        );
        assert_eq!(e.tracks[1].artist.as_deref(), Some("Guest"));
        assert_eq!(e.tracks[1].title, "She Moved\nThrough");

        assert!(parse_read("401 Specified CDDB entry not found.")
            .unwrap_err()
            .0
            .contains("401"));
        assert!(parse_read("210 a b\nDTITLE=x\n")
            .unwrap_err()
            .0
            .contains("cut short"));
        assert!(parse_read("210 a b\nTTITLE0=x\n.\n")
            .unwrap_err()
            .0
            .contains("no DTITLE"));
        assert!(parse_read("210 a b\ngarbage\n.\n")
            .unwrap_err()
            .0
            .contains("malformed xmcd line"));
        let bare = parse_read("# xmcd\nDISCID=01\nDTITLE=Same\n").unwrap();
        assert_eq!(
            (
                bare.artist.as_str(),
                bare.title.as_str(),
                bare.disc_id.as_str()
            ),
            ("Same", "Same", "01")
        );
    }
}
