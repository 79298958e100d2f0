//! Tags and cover art: one format-neutral model, read from any file lofty
//! understands and written into every format our encoders produce.
//!
//! [`read`] merges all tags a file holds (its primary tag first: ID3v2 in
//! MP3/WAV/AIFF, Vorbis comments in FLAC/Ogg/Opus, `ilst` in MP4), so an
//! output can carry every standard key of any input. [`write`] puts [`Tags`]
//! onto a freshly encoded file:
//!
//! | format | where |
//! |---|---|
//! | FLAC | `VORBIS_COMMENT` + `PICTURE` blocks, taken from the encoder's `PADDING` when they fit (RFC 9639 §8) |
//! | Ogg Vorbis, Opus | the comment header packet (Vorbis I §5, RFC 7845 §5.2), pictures as `METADATA_BLOCK_PICTURE` |
//! | MP3 | an ID3v2.4 tag at the start of the file, before the LAME/Xing frame |
//! | AIFF | an `ID3 ` chunk |
//! | WAV | a `LIST`/`INFO` chunk for the basic fields and an `id3 ` chunk for everything |
//!
//! Key names follow the MusicBrainz Picard tag mapping
//! (<https://picard-docs.musicbrainz.org/en/appendices/tag_mapping.html>).
//! Note its two "track" identifiers: the *recording* MBID is written as Vorbis
//! `MUSICBRAINZ_TRACKID` and ID3 `UFID:http://musicbrainz.org`
//! ([`TagKey::MusicBrainzRecordingId`]); the *release track* MBID as Vorbis
//! `MUSICBRAINZ_RELEASETRACKID` and ID3 `TXXX:MusicBrainz Release Track Id`
//! ([`TagKey::MusicBrainzTrackId`]).
//!
//! This module never touches samples, and never writes to an input file.

use std::fmt;
use std::path::Path;

use crate::{Error, Format};

pub mod cuesheet;
mod flac;
mod id3;
mod keys;
mod ogg;
mod read;
mod riff;
mod vorbis;

pub use keys::ENCODING_KEYS;

/// Tags of one file: text items in order, and pictures.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tags {
    /// Items in the order read or inserted; a key may occur several times
    /// (several `ARTIST`s).
    pub items: Vec<TagItem>,
    /// Attached pictures (cover art), in order.
    pub pictures: Vec<Picture>,
}

/// One key and one value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TagItem {
    pub key: TagKey,
    pub value: String,
}

/// A tag key. Serialised as its Vorbis-comment name ([`TagKey::name`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TagKey {
    Title,
    Artist,
    Album,
    AlbumArtist,
    TrackNumber,
    TrackTotal,
    DiscNumber,
    DiscTotal,
    /// Release date, ISO 8601 (`2024`, `2024-06-15`).
    Date,
    Genre,
    Composer,
    Comment,
    Isrc,
    /// The MusicBrainz *release track* MBID (Picard's "Track Id").
    MusicBrainzTrackId,
    /// The MusicBrainz *recording* MBID (Vorbis `MUSICBRAINZ_TRACKID`).
    MusicBrainzRecordingId,
    MusicBrainzReleaseId,
    MusicBrainzReleaseGroupId,
    MusicBrainzArtistId,
    MusicBrainzReleaseArtistId,
    MusicBrainzDiscId,
    ReplayGainTrackGain,
    ReplayGainTrackPeak,
    ReplayGainAlbumGain,
    ReplayGainAlbumPeak,
    /// Any other key, by its uppercase Vorbis-comment style name
    /// (`LABEL`, `CATALOGNUMBER`, `LYRICS`…).
    Other(String),
}

impl TagKey {
    /// Every key except [`TagKey::Other`].
    pub const STANDARD: [TagKey; 24] = [
        TagKey::Title,
        TagKey::Artist,
        TagKey::Album,
        TagKey::AlbumArtist,
        TagKey::TrackNumber,
        TagKey::TrackTotal,
        TagKey::DiscNumber,
        TagKey::DiscTotal,
        TagKey::Date,
        TagKey::Genre,
        TagKey::Composer,
        TagKey::Comment,
        TagKey::Isrc,
        TagKey::MusicBrainzTrackId,
        TagKey::MusicBrainzRecordingId,
        TagKey::MusicBrainzReleaseId,
        TagKey::MusicBrainzReleaseGroupId,
        TagKey::MusicBrainzArtistId,
        TagKey::MusicBrainzReleaseArtistId,
        TagKey::MusicBrainzDiscId,
        TagKey::ReplayGainTrackGain,
        TagKey::ReplayGainTrackPeak,
        TagKey::ReplayGainAlbumGain,
        TagKey::ReplayGainAlbumPeak,
    ];

    /// The Vorbis-comment field name (`TITLE`, `TRACKNUMBER`,
    /// `MUSICBRAINZ_ALBUMID`…); for [`TagKey::Other`] its own name.
    pub fn name(&self) -> &str {
        keys::vorbis_name(self)
    }

    /// The key for a Vorbis-comment style name, case-insensitive; common
    /// aliases are understood (`TOTALTRACKS`, `ALBUM ARTIST`…). Anything else
    /// becomes [`TagKey::Other`] with the name in uppercase.
    pub fn from_name(name: &str) -> TagKey {
        keys::from_vorbis_name(name)
    }
}

impl fmt::Display for TagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for TagKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for TagKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(TagKey::from_name(&name))
    }
}

/// What a picture shows: the picture types of ID3v2 `APIC` and FLAC
/// `PICTURE` (RFC 9639 §8.8, table 13), which are the same list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PictureKind {
    Other,
    FileIcon,
    OtherFileIcon,
    FrontCover,
    BackCover,
    Leaflet,
    Media,
    LeadArtist,
    Artist,
    Conductor,
    Band,
    Composer,
    Lyricist,
    RecordingLocation,
    DuringRecording,
    DuringPerformance,
    ScreenCapture,
    BrightColouredFish,
    Illustration,
    BandLogo,
    PublisherLogo,
}

impl PictureKind {
    const ALL: [PictureKind; 21] = [
        PictureKind::Other,
        PictureKind::FileIcon,
        PictureKind::OtherFileIcon,
        PictureKind::FrontCover,
        PictureKind::BackCover,
        PictureKind::Leaflet,
        PictureKind::Media,
        PictureKind::LeadArtist,
        PictureKind::Artist,
        PictureKind::Conductor,
        PictureKind::Band,
        PictureKind::Composer,
        PictureKind::Lyricist,
        PictureKind::RecordingLocation,
        PictureKind::DuringRecording,
        PictureKind::DuringPerformance,
        PictureKind::ScreenCapture,
        PictureKind::BrightColouredFish,
        PictureKind::Illustration,
        PictureKind::BandLogo,
        PictureKind::PublisherLogo,
    ];

    /// The numeric picture type of ID3v2 and FLAC (3 = front cover).
    pub fn code(self) -> u8 {
        PictureKind::ALL
            .iter()
            .position(|k| *k == self)
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(0)
    }

    /// The kind for a numeric picture type; unknown codes are [`PictureKind::Other`].
    pub fn from_code(code: u8) -> PictureKind {
        PictureKind::ALL
            .get(usize::from(code))
            .copied()
            .unwrap_or(PictureKind::Other)
    }
}

/// An attached picture. In JSON its bytes are shown as their count (`size`).
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    pub kind: PictureKind,
    /// MIME type (`image/jpeg`, `image/png`…).
    pub mime: String,
    pub description: String,
    pub data: Vec<u8>,
}

impl Picture {
    /// A picture whose MIME type is guessed from the bytes' signature.
    pub fn new(kind: PictureKind, description: impl Into<String>, data: Vec<u8>) -> Picture {
        let mime = sniff_mime(&data)
            .unwrap_or("application/octet-stream")
            .to_string();
        Picture {
            kind,
            mime,
            description: description.into(),
            data,
        }
    }
}

impl fmt::Debug for Picture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Picture")
            .field("kind", &self.kind)
            .field("mime", &self.mime)
            .field("description", &self.description)
            .field("size", &self.data.len())
            .finish()
    }
}

impl serde::Serialize for Picture {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Picture", 4)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("mime", &self.mime)?;
        st.serialize_field("description", &self.description)?;
        st.serialize_field("size", &self.data.len())?;
        st.end()
    }
}

/// The MIME type of common image formats, from their first bytes.
pub(crate) fn sniff_mime(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.starts_with(b"BM") {
        Some("image/bmp")
    } else if data.len() >= 12 && data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else {
        None
    }
}

impl Tags {
    /// No items and no pictures.
    pub fn new() -> Tags {
        Tags::default()
    }

    /// The first value of `key`.
    pub fn get(&self, key: &TagKey) -> Option<&str> {
        self.items
            .iter()
            .find(|i| &i.key == key)
            .map(|i| i.value.as_str())
    }

    /// Every value of `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a TagKey) -> impl Iterator<Item = &'a str> + 'a {
        self.items
            .iter()
            .filter(move |i| &i.key == key)
            .map(|i| i.value.as_str())
    }

    /// True when there are neither items nor pictures.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.pictures.is_empty()
    }

    /// Appends a value (keeping any earlier values of the key). Empty values
    /// are ignored: no format can tell them from an absent key.
    pub fn push(&mut self, key: TagKey, value: impl Into<String>) {
        let value = value.into();
        if !value.is_empty() {
            self.items.push(TagItem { key, value });
        }
    }

    /// Replaces all values of `key` with one value (at the place of the first).
    pub fn set(&mut self, key: TagKey, value: impl Into<String>) {
        let value = value.into();
        let mut seen = false;
        self.items.retain_mut(|i| {
            if i.key != key {
                return true;
            }
            if seen {
                return false;
            }
            seen = true;
            i.value.clone_from(&value);
            true
        });
        if !seen {
            self.push(key, value);
        }
    }

    /// Removes every value of `key`; returns how many there were.
    pub fn remove(&mut self, key: &TagKey) -> usize {
        let before = self.items.len();
        self.items.retain(|i| &i.key != key);
        before - self.items.len()
    }

    /// The first front cover, or else the first picture.
    pub fn front_cover(&self) -> Option<&Picture> {
        self.pictures
            .iter()
            .find(|p| p.kind == PictureKind::FrontCover)
            .or_else(|| self.pictures.first())
    }

    /// Drops the keys that describe how the *source* was encoded
    /// ([`ENCODING_KEYS`]: `ENCODER`, `ENCODERSETTINGS`…), which would be
    /// wrong on a converted file.
    pub fn drop_encoding_info(&mut self) {
        self.items
            .retain(|i| !matches!(&i.key, TagKey::Other(n) if ENCODING_KEYS.contains(&n.as_str())));
    }

    /// Adds the items and pictures of `other` whose key (or picture bytes)
    /// this value does not hold yet: how a file's secondary tags fill gaps
    /// in its primary one.
    pub fn merge_missing(&mut self, other: Tags) {
        let present: Vec<TagKey> = self.items.iter().map(|i| i.key.clone()).collect();
        for item in other.items {
            if !present.contains(&item.key) {
                self.items.push(item);
            }
        }
        for p in other.pictures {
            if !self.pictures.iter().any(|q| q.data == p.data) {
                self.pictures.push(p);
            }
        }
    }
}

/// Reads the tags and pictures of an audio file in any format lofty reads
/// (FLAC, MP3 with ID3v2/ID3v1/APE, MP4/M4A, Ogg Vorbis, Opus, Speex, WAV,
/// AIFF, APE, WavPack, Musepack, AAC), all of its tags merged, the primary
/// one first.
///
/// Damaged or unknown tag data is not an error: tags are not worth failing a
/// conversion, so such a file gives empty (or partial) tags.
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened or read.
pub fn read(path: &Path) -> Result<Tags, Error> {
    read::read(path)
}

/// Writes `tags` onto a freshly encoded file of `format` at `path`, in place
/// (see the table in the module docs). Tags of the same kind already in the
/// file are replaced. Keys the target cannot name are carried in its
/// free-form fields (Vorbis comments; ID3 `TXXX`).
///
/// # Errors
/// [`Error::Io`] on I/O failure; [`Error::Tags`] when the file is not a
/// well-formed file of `format` or a value does not fit the format (a picture
/// over 16 MiB in FLAC); [`Error::Unsupported`] for layouts this writer does
/// not handle (an Ogg stream whose header shares a page with audio).
pub fn write(path: &Path, format: Format, tags: &Tags) -> Result<(), Error> {
    write_with_blocks(path, format, tags, &[])
}

/// [`write`], and for FLAC also the metadata `blocks` given (type and
/// body, e.g. a [`cuesheet::CueSheetBlock`]), each replacing any block of
/// its type in the file. Other formats refuse extra blocks.
///
/// # Errors
/// As [`write`]; [`Error::Unsupported`] for blocks outside FLAC, and
/// [`Error::Tags`] for a block type the tags own (STREAMINFO, PADDING,
/// VORBIS_COMMENT, PICTURE) or one over 16 MiB.
pub fn write_with_blocks(
    path: &Path,
    format: Format,
    tags: &Tags,
    blocks: &[(u8, Vec<u8>)],
) -> Result<(), Error> {
    if !blocks.is_empty() && format != Format::Flac {
        return Err(Error::Unsupported(format!(
            "metadata blocks belong to FLAC, not .{} files",
            format.extension()
        )));
    }
    match format {
        Format::Flac => flac::write(path, tags, blocks),
        Format::Ogg => ogg::write(path, ogg::Codec::Vorbis, tags),
        Format::Opus => ogg::write(path, ogg::Codec::Opus, tags),
        Format::Mp3 => id3::write_mp3(path, tags),
        Format::Wav => riff::write_wav(path, tags),
        Format::Aiff => riff::write_aiff(path, tags),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_round_trip_through_names() {
        for k in TagKey::STANDARD {
            assert_eq!(TagKey::from_name(k.name()), k);
            assert_eq!(TagKey::from_name(&k.name().to_ascii_lowercase()), k);
        }
        assert_eq!(TagKey::from_name("label"), TagKey::Other("LABEL".into()));
        assert_eq!(TagKey::from_name("TOTALTRACKS"), TagKey::TrackTotal);
        assert_eq!(TagKey::from_name("album artist"), TagKey::AlbumArtist);
    }

    #[test]
    fn picture_codes_match_id3_and_flac() {
        assert_eq!(PictureKind::FrontCover.code(), 3);
        assert_eq!(PictureKind::BackCover.code(), 4);
        assert_eq!(PictureKind::PublisherLogo.code(), 20);
        for c in 0..=20u8 {
            assert_eq!(PictureKind::from_code(c).code(), c);
        }
        assert_eq!(PictureKind::from_code(200), PictureKind::Other);
    }

    #[test]
    fn set_get_remove() {
        let mut t = Tags::new();
        t.push(TagKey::Artist, "A");
        t.push(TagKey::Title, "T");
        t.push(TagKey::Artist, "B");
        t.push(TagKey::Genre, "");
        assert_eq!(t.get_all(&TagKey::Artist).collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(t.get(&TagKey::Genre), None);
        t.set(TagKey::Artist, "C");
        assert_eq!(t.get_all(&TagKey::Artist).collect::<Vec<_>>(), ["C"]);
        assert_eq!(t.items[0].key, TagKey::Artist);
        assert_eq!(t.remove(&TagKey::Title), 1);
        assert!(!t.is_empty());
    }

    #[test]
    fn json_shows_picture_size_not_bytes() {
        let mut t = Tags::new();
        t.push(TagKey::MusicBrainzRecordingId, "x");
        t.pictures.push(Picture::new(
            PictureKind::FrontCover,
            "",
            b"\x89PNG\r\n\x1a\nrest".to_vec(),
        ));
        let j = serde_json::to_string(&t).unwrap();
        assert!(j.contains(r#""key":"MUSICBRAINZ_TRACKID""#), "{j}");
        assert!(
            j.contains(r#""kind":"front_cover","mime":"image/png","description":"","size":12"#),
            "{j}"
        );
    }
}
