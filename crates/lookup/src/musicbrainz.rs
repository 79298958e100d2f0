//! MusicBrainz: releases by disc ID (with a fuzzy TOC fallback) and by release MBID.
//!
//! Requests (MusicBrainz API, "Disc ID" and "Lookups"):
//! `GET /ws/2/discid/{discid}?inc=artist-credits+recordings+release-groups+isrcs+labels&cdstubs=no&toc={toc}&fmt=json`,
//! where `toc` is `first+last+leadout+offset1+…` (the libdiscid TOC string); when the
//! disc ID is unknown the server then searches releases with a similar TOC (a
//! "fuzzy" match). `GET /ws/2/release/{mbid}?inc=…+discids&fmt=json` looks one
//! release up. The answer for a disc ID is a disc (`id`, `sectors`, `offsets`,
//! `releases`), for a fuzzy match a release list (`release-count`, `releases`); both
//! carry `releases`. Releases hold `media`, whose `discs` list the disc IDs attached
//! to each medium and whose `tracks` carry `recording` (with `isrcs`). HTTP 404 means
//! nothing is known.

use serde::Deserialize;

use aj_cd::disc::Disc;

use crate::client::Lookup;
use crate::error::{Error, Failure, Service};

/// What a disc-ID lookup asks MusicBrainz to include.
pub const DISCID_INC: &str = "artist-credits+recordings+release-groups+isrcs+labels";
/// What a release lookup asks MusicBrainz to include.
pub const RELEASE_INC: &str = "artist-credits+recordings+release-groups+isrcs+labels+discids";

/// An artist credit: the text to show and the artists behind it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArtistCredit {
    /// The credit as printed: names as credited joined by their join phrases.
    pub text: String,
    pub artists: Vec<CreditedArtist>,
}

/// One artist of a credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditedArtist {
    /// Artist MBID.
    pub id: String,
    /// The artist's name in MusicBrainz.
    pub name: String,
    pub sort_name: Option<String>,
    /// The name as credited on this release.
    pub credited_as: String,
    pub join_phrase: String,
}

/// A label and catalogue number of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelInfo {
    pub label_id: Option<String>,
    pub label: Option<String>,
    pub catalog_number: Option<String>,
}

/// A track of a medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbTrack {
    /// Position on the medium, 1..
    pub position: u32,
    /// The number as printed ("1", "A1").
    pub number: String,
    pub title: String,
    /// The track's credit (the recording's when the track has none).
    pub artist: ArtistCredit,
    /// Track MBID.
    pub track_id: String,
    /// Recording MBID.
    pub recording_id: Option<String>,
    /// Length in milliseconds.
    pub length_ms: Option<u64>,
    pub isrcs: Vec<String>,
}

/// A medium (one disc) of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbMedium {
    /// Position in the release, 1..
    pub position: u32,
    pub format: Option<String>,
    pub title: Option<String>,
    /// Disc IDs attached to the medium.
    pub disc_ids: Vec<String>,
    pub tracks: Vec<MbTrack>,
}

/// A release as the ripper needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbRelease {
    /// Release MBID.
    pub id: String,
    pub title: String,
    pub status: Option<String>,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub date: Option<String>,
    pub country: Option<String>,
    pub barcode: Option<String>,
    pub labels: Vec<LabelInfo>,
    pub release_group_id: Option<String>,
    pub release_group_type: Option<String>,
    /// The album artist.
    pub artist: ArtistCredit,
    /// All media of the release.
    pub media: Vec<MbMedium>,
    /// The position of the medium carrying the disc ID looked up, when one does.
    pub matched_medium: Option<u32>,
}

impl MbRelease {
    /// Number of media (discs) in the release.
    pub fn total_discs(&self) -> usize {
        self.media.len()
    }

    /// The medium that matched the disc ID, if any.
    pub fn medium(&self) -> Option<&MbMedium> {
        let pos = self.matched_medium?;
        self.media.iter().find(|m| m.position == pos)
    }
}

// Raw JSON shapes (MusicBrainz JSON web service). Every field defaults, so a field
// the server leaves out is `None`/empty rather than an error.

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawList {
    releases: Vec<RawRelease>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawRelease {
    id: String,
    title: String,
    status: Option<String>,
    date: Option<String>,
    country: Option<String>,
    barcode: Option<String>,
    artist_credit: Vec<RawCredit>,
    label_info: Vec<RawLabelInfo>,
    release_group: Option<RawGroup>,
    media: Vec<RawMedium>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawCredit {
    name: String,
    joinphrase: String,
    artist: RawArtist,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawArtist {
    id: String,
    name: String,
    sort_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawLabelInfo {
    catalog_number: Option<String>,
    label: Option<RawLabel>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawLabel {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawGroup {
    id: Option<String>,
    primary_type: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawMedium {
    position: u32,
    format: Option<String>,
    title: Option<String>,
    discs: Vec<RawDisc>,
    tracks: Vec<RawTrack>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawDisc {
    id: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawTrack {
    id: String,
    position: u32,
    number: String,
    title: String,
    length: Option<u64>,
    artist_credit: Vec<RawCredit>,
    recording: Option<RawRecording>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct RawRecording {
    id: Option<String>,
    title: Option<String>,
    length: Option<u64>,
    artist_credit: Vec<RawCredit>,
    isrcs: Vec<String>,
}

fn credit(raw: &[RawCredit]) -> ArtistCredit {
    let mut text = String::new();
    let artists = raw
        .iter()
        .map(|c| {
            let credited = if c.name.is_empty() {
                c.artist.name.clone()
            } else {
                c.name.clone()
            };
            text.push_str(&credited);
            text.push_str(&c.joinphrase);
            CreditedArtist {
                id: c.artist.id.clone(),
                name: c.artist.name.clone(),
                sort_name: c.artist.sort_name.clone(),
                credited_as: credited,
                join_phrase: c.joinphrase.clone(),
            }
        })
        .collect();
    ArtistCredit { text, artists }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

fn release(raw: RawRelease, disc_id: Option<&str>) -> MbRelease {
    let album_artist = credit(&raw.artist_credit);
    let media: Vec<MbMedium> = raw
        .media
        .into_iter()
        .map(|m| MbMedium {
            position: m.position,
            format: non_empty(m.format),
            title: non_empty(m.title),
            disc_ids: m.discs.into_iter().map(|d| d.id).collect(),
            tracks: m
                .tracks
                .into_iter()
                .map(|t| {
                    let rec = t.recording.unwrap_or_default();
                    let mut artist = credit(&t.artist_credit);
                    if artist.artists.is_empty() {
                        artist = credit(&rec.artist_credit);
                    }
                    if artist.artists.is_empty() {
                        artist = album_artist.clone();
                    }
                    MbTrack {
                        position: t.position,
                        number: t.number,
                        title: if t.title.is_empty() {
                            rec.title.unwrap_or_default()
                        } else {
                            t.title
                        },
                        artist,
                        track_id: t.id,
                        recording_id: non_empty(rec.id),
                        length_ms: t.length.or(rec.length),
                        isrcs: rec.isrcs,
                    }
                })
                .collect(),
        })
        .collect();
    let matched_medium = disc_id.and_then(|id| {
        media
            .iter()
            .find(|m| m.disc_ids.iter().any(|d| d == id))
            .map(|m| m.position)
    });
    let group = raw.release_group.unwrap_or_default();
    MbRelease {
        id: raw.id,
        title: raw.title,
        status: non_empty(raw.status),
        date: non_empty(raw.date),
        country: non_empty(raw.country),
        barcode: non_empty(raw.barcode),
        labels: raw
            .label_info
            .into_iter()
            .map(|l| {
                let label = l.label.unwrap_or_default();
                LabelInfo {
                    label_id: non_empty(label.id),
                    label: non_empty(label.name),
                    catalog_number: non_empty(l.catalog_number),
                }
            })
            .collect(),
        release_group_id: non_empty(group.id),
        release_group_type: non_empty(group.primary_type),
        artist: album_artist,
        media,
        matched_medium,
    }
}

/// Reads a disc-ID or fuzzy-TOC answer: every release it lists, with the medium
/// carrying `disc_id` marked. A CD stub or an answer without releases gives none.
///
/// # Errors
/// A message when the body is not a JSON object of the expected shape.
pub fn parse_discid_response(json: &[u8], disc_id: Option<&str>) -> Result<Vec<MbRelease>, String> {
    let list: RawList =
        serde_json::from_slice(json).map_err(|e| format!("not a MusicBrainz JSON answer: {e}"))?;
    Ok(list
        .releases
        .into_iter()
        .map(|r| release(r, disc_id))
        .collect())
}

/// Reads a release answer.
///
/// # Errors
/// A message when the body is not a release.
pub fn parse_release_response(json: &[u8]) -> Result<MbRelease, String> {
    let r: RawRelease =
        serde_json::from_slice(json).map_err(|e| format!("not a MusicBrainz JSON answer: {e}"))?;
    if r.id.is_empty() {
        return Err("the answer has no release id".into());
    }
    Ok(release(r, None))
}

/// True for a 28-character MusicBrainz disc ID (base64 with `.`, `_`, `-`).
pub fn is_disc_id(s: &str) -> bool {
    s.len() == 28
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// True for an MBID (a UUID in its 8-4-4-4-12 hex form).
pub fn is_mbid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Lookup {
    /// The disc-ID lookup URL; `toc` (a libdiscid TOC string, spaces or `+`) adds
    /// the fuzzy fallback.
    pub fn musicbrainz_discid_url(&self, disc_id: &str, toc: Option<&str>) -> String {
        let mut q = format!("/ws/2/discid/{disc_id}?inc={DISCID_INC}&cdstubs=no");
        if let Some(toc) = toc {
            let toc: Vec<&str> = toc
                .split(|c: char| c.is_whitespace() || c == '+')
                .filter(|s| !s.is_empty())
                .collect();
            q.push_str("&toc=");
            q.push_str(&toc.join("+"));
        }
        q.push_str("&fmt=json");
        self.url(Service::MusicBrainz, &q)
    }

    /// Releases carrying `disc_id`, or — when MusicBrainz does not know it and `toc`
    /// is given — releases with a similar TOC. Empty when nothing is known.
    ///
    /// # Errors
    /// [`Error::Argument`] for a malformed disc ID; [`Error::Request`] for transport
    /// failures, unexpected statuses and unreadable answers.
    pub fn musicbrainz_discid(
        &self,
        disc_id: &str,
        toc: Option<&str>,
    ) -> Result<Vec<MbRelease>, Error> {
        if !is_disc_id(disc_id) && disc_id != "-" {
            return Err(Error::Argument {
                service: Service::MusicBrainz,
                message: format!("{disc_id:?} is not a MusicBrainz disc ID (28 characters)"),
            });
        }
        let url = self.musicbrainz_discid_url(disc_id, toc);
        let Some(f) = self.get_found(Service::MusicBrainz, &url)? else {
            return Ok(Vec::new());
        };
        parse_discid_response(&f.body, Some(disc_id)).map_err(|m| Error::Request {
            service: Service::MusicBrainz,
            url,
            failure: Failure::Body(m),
        })
    }

    /// Releases for `disc`: its disc ID with its TOC as the fuzzy fallback.
    ///
    /// # Errors
    /// [`Error::Disc`] when the disc has no audio; otherwise as
    /// [`Lookup::musicbrainz_discid`].
    pub fn musicbrainz_disc(&self, disc: &Disc) -> Result<Vec<MbRelease>, Error> {
        let disc_err = |source| Error::Disc {
            service: Service::MusicBrainz,
            source,
        };
        let id = aj_cd::id::musicbrainz_id(disc).map_err(disc_err)?;
        let toc = aj_cd::id::musicbrainz_toc_string(disc).map_err(disc_err)?;
        self.musicbrainz_discid(&id, Some(&toc))
    }

    /// The release lookup URL.
    pub fn musicbrainz_release_url(&self, mbid: &str) -> String {
        self.url(
            Service::MusicBrainz,
            &format!("/ws/2/release/{mbid}?inc={RELEASE_INC}&fmt=json"),
        )
    }

    /// One release by MBID; `None` when MusicBrainz does not know it.
    ///
    /// # Errors
    /// [`Error::Argument`] for a malformed MBID; [`Error::Request`] as for
    /// [`Lookup::musicbrainz_discid`].
    pub fn musicbrainz_release(&self, mbid: &str) -> Result<Option<MbRelease>, Error> {
        if !is_mbid(mbid) {
            return Err(Error::Argument {
                service: Service::MusicBrainz,
                message: format!(
                    "{mbid:?} is not a MusicBrainz ID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
                ),
            });
        }
        let url = self.musicbrainz_release_url(mbid);
        let Some(f) = self.get_found(Service::MusicBrainz, &url)? else {
            return Ok(None);
        };
        parse_release_response(&f.body)
            .map(Some)
            .map_err(|m| Error::Request {
                service: Service::MusicBrainz,
                url,
                failure: Failure::Body(m),
            })
    }
}
