//! ID3v2.4 (MP3; the `id3 `/`ID3 ` chunk of WAV and AIFF), after the
//! MusicBrainz Picard mapping: text frames for the common fields, `TRCK`
//! and `TPOS` as "n/total", `TSRC` for the ISRC, `UFID` for the recording
//! MBID, `TXXX` for the other MusicBrainz IDs, ReplayGain and any free-form
//! key, `APIC` for pictures.

use std::borrow::Cow;
use std::path::Path;

use lofty::config::WriteOptions;
use lofty::id3::v2::{
    AttachedPictureFrame, CommentFrame, ExtendedTextFrame, Frame, FrameId, Id3v2Tag,
    TextInformationFrame, TimestampFrame, UniqueFileIdentifierFrame, UnsynchronizedTextFrame,
    UrlLinkFrame,
};
use lofty::tag::items::{Timestamp, UNKNOWN_LANGUAGE};
use lofty::tag::TagExt;
use lofty::TextEncoding;

use super::{keys, read::lofty_error, vorbis, TagKey, Tags};
use crate::Error;

/// `UFID` owner of MusicBrainz recording IDs (Picard mapping).
const MUSICBRAINZ_UFID_OWNER: &str = "http://musicbrainz.org";
/// ID3v2.4 separates the values of a multi-valued text frame with NUL
/// (id3v2.4.0-structure §4).
const MULTI_VALUE_SEPARATOR: char = '\0';

/// The text frames of ID3v2.4 (id3v2.4.0-frames §4.2) and iTunes' TCMP,
/// TSO2, TSOC: a key named like one of these is written as that frame.
const TEXT_FRAME_IDS: [&str; 49] = [
    "TALB", "TBPM", "TCOM", "TCON", "TCOP", "TDEN", "TDLY", "TDOR", "TDRC", "TDRL", "TDTG", "TENC",
    "TEXT", "TFLT", "TIT1", "TIT2", "TIT3", "TKEY", "TLAN", "TLEN", "TMED", "TMOO", "TOAL", "TOFN",
    "TOLY", "TOPE", "TOWN", "TPE1", "TPE2", "TPE3", "TPE4", "TPOS", "TPRO", "TPUB", "TRCK", "TRSN",
    "TRSO", "TSOA", "TSOP", "TSOT", "TSRC", "TSSE", "TSST", "TCMP", "TSO2", "TSOC", "TIPL", "TMCL",
    "TSIZ",
];

/// Where an item goes in an ID3v2 tag.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Text(String),
    UserText(String),
    Ufid,
    Comment,
    Lyrics,
}

fn target(key: &TagKey) -> Target {
    let text = |id: &str| Target::Text(id.to_string());
    match key {
        TagKey::Title => text("TIT2"),
        TagKey::Artist => text("TPE1"),
        TagKey::Album => text("TALB"),
        TagKey::AlbumArtist => text("TPE2"),
        TagKey::Date => text("TDRC"),
        TagKey::Genre => text("TCON"),
        TagKey::Composer => text("TCOM"),
        TagKey::Isrc => text("TSRC"),
        TagKey::Comment => Target::Comment,
        TagKey::MusicBrainzRecordingId => Target::Ufid,
        TagKey::Other(name) if name == "LYRICS" || name == "UNSYNCEDLYRICS" => Target::Lyrics,
        TagKey::Other(name) => {
            if let Some((_, id)) = keys::ID3_TEXT_FRAMES.iter().find(|(n, _)| n == name) {
                text(id)
            } else if TEXT_FRAME_IDS.contains(&name.as_str())
                && !matches!(name.as_str(), "TIPL" | "TMCL")
            {
                text(name)
            } else {
                Target::UserText(keys::user_text_description(key))
            }
        }
        other => Target::UserText(keys::user_text_description(other)),
    }
}

/// An ID3v2.4 tag holding `tags`.
pub(super) fn to_id3v2(tags: &Tags) -> Id3v2Tag {
    let mut groups: Vec<(Target, Vec<&str>)> = Vec::new();
    fn add<'a>(t: Target, v: &'a str, groups: &mut Vec<(Target, Vec<&'a str>)>) {
        match groups.iter_mut().find(|(g, _)| *g == t) {
            Some((_, vs)) => vs.push(v),
            None => groups.push((t, vec![v])),
        }
    }
    let pair = |n: &TagKey, t: &TagKey| -> Option<String> {
        match (tags.get(n), tags.get(t)) {
            (Some(n), Some(t)) => Some(format!("{n}/{t}")),
            (Some(n), None) => Some(n.to_string()),
            _ => None,
        }
    };
    let trck = pair(&TagKey::TrackNumber, &TagKey::TrackTotal);
    let tpos = pair(&TagKey::DiscNumber, &TagKey::DiscTotal);
    for item in &tags.items {
        match item.key {
            TagKey::TrackNumber => {
                if let Some(v) = &trck {
                    add(Target::Text("TRCK".into()), v, &mut groups);
                }
            }
            TagKey::DiscNumber => {
                if let Some(v) = &tpos {
                    add(Target::Text("TPOS".into()), v, &mut groups);
                }
            }
            // A total goes with its number in TRCK/TPOS; alone, in TXXX.
            TagKey::TrackTotal if trck.is_some() => {}
            TagKey::DiscTotal if tpos.is_some() => {}
            ref key => add(target(key), &item.value, &mut groups),
        }
    }

    let mut tag = Id3v2Tag::new();
    for (t, mut values) in groups {
        values.dedup();
        let frame = match t {
            Target::Text(id) if id == "TRCK" || id == "TPOS" => {
                text_frame(id, values.first().copied().unwrap_or(""))
            }
            Target::Text(id)
                if matches!(id.as_str(), "TDRC" | "TDOR" | "TDRL") && values.len() == 1 =>
            {
                let v = values.first().copied().unwrap_or("");
                match v.parse::<Timestamp>() {
                    Ok(ts) if ts.to_string() == v => Frame::Timestamp(TimestampFrame::new(
                        FrameId::Valid(Cow::Owned(id)),
                        TextEncoding::UTF8,
                        ts,
                    )),
                    _ => text_frame(id, v),
                }
            }
            Target::Text(id) => text_frame(id, &values.join(&MULTI_VALUE_SEPARATOR.to_string())),
            Target::UserText(desc) => Frame::UserText(ExtendedTextFrame::new(
                TextEncoding::UTF8,
                desc,
                values.join(&MULTI_VALUE_SEPARATOR.to_string()),
            )),
            Target::Ufid => Frame::UniqueFileIdentifier(UniqueFileIdentifierFrame::new(
                MUSICBRAINZ_UFID_OWNER,
                values.first().copied().unwrap_or("").as_bytes().to_vec(),
            )),
            Target::Comment => Frame::Comment(CommentFrame::new(
                TextEncoding::UTF8,
                UNKNOWN_LANGUAGE,
                "",
                values.join("\n"),
            )),
            Target::Lyrics => Frame::UnsynchronizedText(UnsynchronizedTextFrame::new(
                TextEncoding::UTF8,
                UNKNOWN_LANGUAGE,
                "",
                values.join("\n"),
            )),
        };
        tag.insert(frame);
    }
    for p in &tags.pictures {
        tag.insert(Frame::Picture(AttachedPictureFrame::new(
            TextEncoding::UTF8,
            vorbis::to_lofty_picture(p),
        )));
    }
    tag
}

fn text_frame(id: String, value: &str) -> Frame<'static> {
    Frame::Text(TextInformationFrame::new(
        FrameId::Valid(Cow::Owned(id)),
        TextEncoding::UTF8,
        value.to_string(),
    ))
}

/// The bytes of a complete ID3v2.4 tag (header and frames, no padding),
/// for the `id3 ` chunk of WAV and AIFF.
pub(super) fn tag_bytes(tags: &Tags) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    to_id3v2(tags)
        .dump_to(&mut out, WriteOptions::new().preferred_padding(0))
        .map_err(|e| lofty_error(&e, "cannot build the ID3v2 tag"))?;
    Ok(out)
}

/// Puts an ID3v2.4 tag at the start of an MP3 file, replacing one that is
/// there. The first MPEG frame (our LAME/Xing frame) follows it unchanged.
pub(super) fn write_mp3(path: &Path, tags: &Tags) -> Result<(), Error> {
    to_id3v2(tags)
        .save_to_path(path, WriteOptions::default())
        .map_err(|e| lofty_error(&e, "cannot write the ID3v2 tag"))
}

/// Adds the frames of an ID3v2 tag (any version; lofty upgrades 2.2/2.3
/// frame IDs) to `out`.
pub(super) fn add_frames(out: &mut Tags, tag: &Id3v2Tag) {
    for frame in tag {
        match frame {
            Frame::Text(t) => {
                let id = t.id().as_str();
                let value: &str = &t.value;
                match id {
                    "TRCK" => vorbis::push_pair(
                        out,
                        value,
                        TagKey::TrackNumber,
                        TagKey::TrackTotal,
                        false,
                    ),
                    "TPOS" => {
                        vorbis::push_pair(out, value, TagKey::DiscNumber, TagKey::DiscTotal, false)
                    }
                    "TCON" => {
                        for g in value.split(MULTI_VALUE_SEPARATOR) {
                            out.push(TagKey::Genre, genre_name(g));
                        }
                    }
                    _ => {
                        if let Some(key) = keys::from_id3_text_frame(id) {
                            for v in value.split(MULTI_VALUE_SEPARATOR) {
                                out.push(key.clone(), v);
                            }
                        }
                    }
                }
            }
            Frame::Timestamp(t) => {
                let key = match t.id().as_str() {
                    "TDRC" => TagKey::Date,
                    "TDOR" => TagKey::Other("ORIGINALDATE".into()),
                    "TDRL" => TagKey::Other("RELEASEDATE".into()),
                    _ => continue,
                };
                out.push(key, t.timestamp.to_string());
            }
            Frame::UserText(e) => {
                let key = keys::from_user_text(&e.description);
                for v in e.content.split(MULTI_VALUE_SEPARATOR) {
                    out.push(key.clone(), v);
                }
            }
            Frame::Comment(c) => {
                let d: &str = &c.description;
                if d.is_empty()
                    || d.eq_ignore_ascii_case("ID3v1 Comment")
                    || d.eq_ignore_ascii_case("comment")
                {
                    out.push(TagKey::Comment, c.content.as_ref());
                } else if !d.starts_with("iTun") {
                    out.push(TagKey::from_name(d), c.content.as_ref());
                }
            }
            Frame::UnsynchronizedText(u) => {
                out.push(TagKey::Other("LYRICS".into()), u.content.as_ref())
            }
            Frame::UniqueFileIdentifier(u) if u.owner == MUSICBRAINZ_UFID_OWNER => {
                out.push(
                    TagKey::MusicBrainzRecordingId,
                    String::from_utf8_lossy(&u.identifier).trim_end_matches('\0'),
                );
            }
            Frame::Url(u) if u.id().as_str() == "WOAR" => {
                out.push(TagKey::Other("WEBSITE".into()), url(u))
            }
            Frame::Picture(p) => out.pictures.push(vorbis::from_lofty_picture(&p.picture)),
            _ => {}
        }
    }
}

fn url<'a>(u: &'a UrlLinkFrame<'_>) -> &'a str {
    u.url()
}

/// A genre as text: ID3v1 genre numbers ("17", "(17)", "(17)Rock") become
/// names (id3v2.4.0-frames §4.2.3), "RX" and "CR" become "Remix" and "Cover".
fn genre_name(g: &str) -> String {
    let g = g.trim();
    let number = g
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .map_or(g, |(n, rest)| if rest.is_empty() { n } else { "" });
    match number {
        "RX" => return "Remix".into(),
        "CR" => return "Cover".into(),
        _ => {}
    }
    if let Ok(n) = number.parse::<usize>() {
        if let Some(name) = lofty::id3::v1::GENRES.get(n) {
            return (*name).to_string();
        }
    }
    // "(17)Rock": the refinement is the name.
    match g.strip_prefix('(').and_then(|r| r.split_once(')')) {
        Some((_, rest)) if !rest.is_empty() => rest.to_string(),
        _ => g.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genres_by_number() {
        assert_eq!(genre_name("17"), "Rock");
        assert_eq!(genre_name("(17)"), "Rock");
        assert_eq!(genre_name("(17)Hard Rock"), "Hard Rock");
        assert_eq!(genre_name("RX"), "Remix");
        assert_eq!(genre_name("Jazz"), "Jazz");
        assert_eq!(genre_name("999"), "999");
    }

    #[test]
    fn picard_frames() {
        let mut t = Tags::new();
        t.push(TagKey::TrackNumber, "3");
        t.push(TagKey::TrackTotal, "12");
        t.push(TagKey::MusicBrainzReleaseId, "abc");
        t.push(TagKey::MusicBrainzRecordingId, "rec");
        t.push(TagKey::Artist, "A");
        t.push(TagKey::Artist, "B");
        t.push(TagKey::Other("LABEL".into()), "L");
        t.push(TagKey::Other("CATALOGNUMBER".into()), "C1");
        let tag = to_id3v2(&t);
        let trck = FrameId::Valid(Cow::Borrowed("TRCK"));
        assert_eq!(tag.get_text(&trck), Some("3/12"));
        assert_eq!(
            tag.get_text(&FrameId::Valid(Cow::Borrowed("TPE1"))),
            Some("A\0B")
        );
        assert_eq!(
            tag.get_text(&FrameId::Valid(Cow::Borrowed("TPUB"))),
            Some("L")
        );
        assert_eq!(tag.get_user_text("MusicBrainz Album Id"), Some("abc"));
        assert_eq!(tag.get_user_text("CATALOGNUMBER"), Some("C1"));
        let mut back = Tags::new();
        add_frames(&mut back, &tag);
        assert_eq!(back.items, t.items);
    }
}
