//! Key names: Vorbis comments, ID3v2 frames and `TXXX` descriptions, after
//! the MusicBrainz Picard tag mapping
//! (<https://picard-docs.musicbrainz.org/en/appendices/tag_mapping.html>).

use super::TagKey;

/// Keys that describe how a file was encoded rather than what it holds;
/// [`super::Tags::drop_encoding_info`] removes them before a conversion.
pub const ENCODING_KEYS: [&str; 3] = ["ENCODER", "ENCODERSETTINGS", "ENCODING"];

/// Vorbis-comment names of the standard keys (Picard's Vorbis column).
const VORBIS: [(TagKey, &str); 24] = [
    (TagKey::Title, "TITLE"),
    (TagKey::Artist, "ARTIST"),
    (TagKey::Album, "ALBUM"),
    (TagKey::AlbumArtist, "ALBUMARTIST"),
    (TagKey::TrackNumber, "TRACKNUMBER"),
    (TagKey::TrackTotal, "TRACKTOTAL"),
    (TagKey::DiscNumber, "DISCNUMBER"),
    (TagKey::DiscTotal, "DISCTOTAL"),
    (TagKey::Date, "DATE"),
    (TagKey::Genre, "GENRE"),
    (TagKey::Composer, "COMPOSER"),
    (TagKey::Comment, "COMMENT"),
    (TagKey::Isrc, "ISRC"),
    (TagKey::MusicBrainzTrackId, "MUSICBRAINZ_RELEASETRACKID"),
    (TagKey::MusicBrainzRecordingId, "MUSICBRAINZ_TRACKID"),
    (TagKey::MusicBrainzReleaseId, "MUSICBRAINZ_ALBUMID"),
    (
        TagKey::MusicBrainzReleaseGroupId,
        "MUSICBRAINZ_RELEASEGROUPID",
    ),
    (TagKey::MusicBrainzArtistId, "MUSICBRAINZ_ARTISTID"),
    (
        TagKey::MusicBrainzReleaseArtistId,
        "MUSICBRAINZ_ALBUMARTISTID",
    ),
    (TagKey::MusicBrainzDiscId, "MUSICBRAINZ_DISCID"),
    (TagKey::ReplayGainTrackGain, "REPLAYGAIN_TRACK_GAIN"),
    (TagKey::ReplayGainTrackPeak, "REPLAYGAIN_TRACK_PEAK"),
    (TagKey::ReplayGainAlbumGain, "REPLAYGAIN_ALBUM_GAIN"),
    (TagKey::ReplayGainAlbumPeak, "REPLAYGAIN_ALBUM_PEAK"),
];

/// Other spellings seen in the wild, read but never written.
const VORBIS_ALIASES: [(&str, TagKey); 6] = [
    ("TOTALTRACKS", TagKey::TrackTotal),
    ("TOTALDISCS", TagKey::DiscTotal),
    ("ALBUM ARTIST", TagKey::AlbumArtist),
    ("ALBUM_ARTIST", TagKey::AlbumArtist),
    ("TRACKTOTALS", TagKey::TrackTotal),
    ("DISCTOTALS", TagKey::DiscTotal),
];

pub(super) fn vorbis_name(key: &TagKey) -> &str {
    if let TagKey::Other(name) = key {
        return name;
    }
    VORBIS.iter().find(|(k, _)| k == key).map_or("", |(_, n)| n)
}

pub(super) fn from_vorbis_name(name: &str) -> TagKey {
    let name = name.trim();
    if let Some((k, _)) = VORBIS.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
        return k.clone();
    }
    if let Some((_, k)) = VORBIS_ALIASES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        return k.clone();
    }
    TagKey::Other(name.to_ascii_uppercase())
}

/// A name fit for a Vorbis comment: printable ASCII 0x20–0x7D except `=`
/// (Vorbis I specification §5.2.3); anything else becomes `_`.
pub(super) fn vorbis_field_name(key: &TagKey) -> String {
    vorbis_name(key)
        .chars()
        .map(|c| {
            if (' '..='}').contains(&c) && c != '=' {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// ID3v2.4 text frames for keys carried as [`TagKey::Other`] (Picard's ID3
/// column). Timestamp frames (TDOR, TDRL) are listed too.
pub(super) const ID3_TEXT_FRAMES: [(&str, &str); 26] = [
    ("LABEL", "TPUB"),
    ("COPYRIGHT", "TCOP"),
    ("ENCODEDBY", "TENC"),
    ("ENCODERSETTINGS", "TSSE"),
    ("BPM", "TBPM"),
    ("LANGUAGE", "TLAN"),
    ("MEDIA", "TMED"),
    ("ARTISTSORT", "TSOP"),
    ("ALBUMSORT", "TSOA"),
    ("TITLESORT", "TSOT"),
    ("ALBUMARTISTSORT", "TSO2"),
    ("COMPOSERSORT", "TSOC"),
    ("GROUPING", "TIT1"),
    ("SUBTITLE", "TIT3"),
    ("CONDUCTOR", "TPE3"),
    ("REMIXER", "TPE4"),
    ("LYRICIST", "TEXT"),
    ("KEY", "TKEY"),
    ("MOOD", "TMOO"),
    ("ORIGINALDATE", "TDOR"),
    ("RELEASEDATE", "TDRL"),
    ("DISCSUBTITLE", "TSST"),
    ("COMPILATION", "TCMP"),
    ("ORIGINALALBUM", "TOAL"),
    ("ORIGINALARTIST", "TOPE"),
    ("ORIGINALLYRICIST", "TOLY"),
];

/// ID3v2 frames that describe the old file, not the music: not carried.
pub(super) const ID3_SKIPPED_FRAMES: [&str; 6] = ["TLEN", "TSIZ", "TFLT", "TDEN", "TDTG", "TOFN"];

/// `TXXX` descriptions of the standard keys (Picard's ID3 column).
pub(super) const ID3_USER_TEXT: [(TagKey, &str); 10] = [
    (TagKey::MusicBrainzTrackId, "MusicBrainz Release Track Id"),
    (TagKey::MusicBrainzReleaseId, "MusicBrainz Album Id"),
    (
        TagKey::MusicBrainzReleaseGroupId,
        "MusicBrainz Release Group Id",
    ),
    (TagKey::MusicBrainzArtistId, "MusicBrainz Artist Id"),
    (
        TagKey::MusicBrainzReleaseArtistId,
        "MusicBrainz Album Artist Id",
    ),
    (TagKey::MusicBrainzDiscId, "MusicBrainz Disc Id"),
    (TagKey::ReplayGainTrackGain, "REPLAYGAIN_TRACK_GAIN"),
    (TagKey::ReplayGainTrackPeak, "REPLAYGAIN_TRACK_PEAK"),
    (TagKey::ReplayGainAlbumGain, "REPLAYGAIN_ALBUM_GAIN"),
    (TagKey::ReplayGainAlbumPeak, "REPLAYGAIN_ALBUM_PEAK"),
];

/// `TXXX` descriptions (and MP4 freeform names) of other Picard keys whose
/// ID3 spelling differs from their Vorbis name.
pub(super) const ID3_OTHER_USER_TEXT: [(&str, &str); 8] = [
    ("MUSICBRAINZ_WORKID", "MusicBrainz Work Id"),
    ("RELEASETYPE", "MusicBrainz Album Type"),
    ("RELEASESTATUS", "MusicBrainz Album Status"),
    ("RELEASECOUNTRY", "MusicBrainz Album Release Country"),
    (
        "MUSICBRAINZ_ORIGINALALBUMID",
        "MusicBrainz Original Album Id",
    ),
    (
        "MUSICBRAINZ_ORIGINALARTISTID",
        "MusicBrainz Original Artist Id",
    ),
    ("ACOUSTID_ID", "Acoustid Id"),
    ("ACOUSTID_FINGERPRINT", "Acoustid Fingerprint"),
];

/// The key for a `TXXX` description or an MP4 freeform name.
pub(super) fn from_user_text(description: &str) -> TagKey {
    let d = description.trim();
    if let Some((k, _)) = ID3_USER_TEXT
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(d))
    {
        return k.clone();
    }
    if let Some((name, _)) = ID3_OTHER_USER_TEXT
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(d))
    {
        return TagKey::Other((*name).to_string());
    }
    from_vorbis_name(d)
}

/// The `TXXX` description for a key with no frame of its own.
pub(super) fn user_text_description(key: &TagKey) -> String {
    if let Some((_, d)) = ID3_USER_TEXT.iter().find(|(k, _)| k == key) {
        return (*d).to_string();
    }
    let name = vorbis_name(key);
    if let Some((_, d)) = ID3_OTHER_USER_TEXT.iter().find(|(n, _)| *n == name) {
        return (*d).to_string();
    }
    name.to_string()
}

/// The key for an ID3v2 text frame ID (not `TXXX`), when it is one we carry.
pub(super) fn from_id3_text_frame(id: &str) -> Option<TagKey> {
    let k = match id {
        "TIT2" => TagKey::Title,
        "TPE1" => TagKey::Artist,
        "TALB" => TagKey::Album,
        "TPE2" => TagKey::AlbumArtist,
        "TCON" => TagKey::Genre,
        "TCOM" => TagKey::Composer,
        "TSRC" => TagKey::Isrc,
        "TDRC" => TagKey::Date,
        _ => {
            if ID3_SKIPPED_FRAMES.contains(&id) {
                return None;
            }
            match ID3_TEXT_FRAMES.iter().find(|(_, f)| *f == id) {
                Some((name, _)) => TagKey::Other((*name).to_string()),
                None => TagKey::Other(id.to_string()),
            }
        }
    };
    Some(k)
}
