//! Reading: every tag lofty finds in a file, mapped to [`Tags`].

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

use lofty::ape::{ApeFile, ApeTag, APE_PICTURE_TYPES};
use lofty::config::{ParseOptions, ParsingMode};
use lofty::file::{AudioFile, FileType, TaggedFileExt};
use lofty::flac::FlacFile;
use lofty::iff::aiff::AiffFile;
use lofty::iff::wav::WavFile;
use lofty::mp4::{AtomData, AtomIdent, Mp4File};
use lofty::mpeg::MpegFile;
use lofty::ogg::tag::VorbisComments;
use lofty::ogg::{OggPictureStorage, OpusFile, SpeexFile, VorbisFile};
use lofty::picture::Picture as LoftyPicture;
use lofty::probe::Probe;
use lofty::tag::{ItemKey, ItemValue, Tag, TagType};

use super::{id3, keys, vorbis, PictureKind, TagKey, Tags};
use crate::Error;

pub(super) fn read(path: &Path) -> Result<Tags, Error> {
    // Opening is where a missing file or a permission problem shows; after
    // this, what lofty cannot parse is damaged tag data, not an I/O error.
    File::open(path)?;
    let mut last = None;
    for mode in [ParsingMode::BestAttempt, ParsingMode::Relaxed] {
        match read_with(path, mode) {
            Ok(tags) => return Ok(tags),
            Err(e @ Error::Io(_)) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    // Tags are not worth failing a conversion: damaged tags read as none.
    let _ = last;
    Ok(Tags::new())
}

fn read_with(path: &Path, mode: ParsingMode) -> Result<Tags, Error> {
    let options = ParseOptions::new()
        .read_properties(false)
        .parsing_mode(mode);
    let probe = Probe::open(path)
        .map_err(|e| lofty_error(&e, "cannot open"))?
        .options(options)
        .guess_file_type()
        .map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof | ErrorKind::InvalidData => {
                Error::Tags(format!("cannot tell the file type: {e}"))
            }
            _ => Error::Io(e),
        })?;
    let Some(file_type) = probe.file_type() else {
        return Ok(Tags::new());
    };
    let mut file = File::open(path)?;
    let err = |e: lofty::error::FileParseError| lofty_error(&e, "cannot read the tags");
    let mut tags = Tags::new();
    match file_type {
        FileType::Flac => {
            let f = FlacFile::read_from(&mut file, options).map_err(err)?;
            if let Some(vc) = f.vorbis_comments() {
                add_vorbis(&mut tags, vc);
            }
            for (p, _) in f.pictures() {
                tags.pictures.push(vorbis::from_lofty_picture(p));
            }
            if let Some(t) = f.id3v2() {
                tags.merge_missing(from_id3v2(t));
            }
        }
        FileType::Vorbis => {
            add_vorbis(
                &mut tags,
                VorbisFile::read_from(&mut file, options)
                    .map_err(err)?
                    .vorbis_comments(),
            );
        }
        FileType::Opus => {
            add_vorbis(
                &mut tags,
                OpusFile::read_from(&mut file, options)
                    .map_err(err)?
                    .vorbis_comments(),
            );
        }
        FileType::Speex => {
            add_vorbis(
                &mut tags,
                SpeexFile::read_from(&mut file, options)
                    .map_err(err)?
                    .vorbis_comments(),
            );
        }
        FileType::Mpeg => {
            let f = MpegFile::read_from(&mut file, options).map_err(err)?;
            if let Some(t) = f.id3v2() {
                tags = from_id3v2(t);
            }
            if let Some(t) = f.ape() {
                tags.merge_missing(from_generic(&Tag::from(t.clone())));
            }
            if let Some(t) = f.id3v1() {
                tags.merge_missing(from_generic(&Tag::from(t.clone())));
            }
        }
        FileType::Wav => {
            let f = WavFile::read_from(&mut file, options).map_err(err)?;
            if let Some(t) = f.id3v2() {
                tags = from_id3v2(t);
            }
            if let Some(t) = f.riff_info() {
                tags.merge_missing(from_generic(&Tag::from(t.clone())));
            }
        }
        FileType::Aiff => {
            let f = AiffFile::read_from(&mut file, options).map_err(err)?;
            if let Some(t) = f.id3v2() {
                tags = from_id3v2(t);
            }
            if let Some(t) = f.text_chunks() {
                tags.merge_missing(from_generic(&Tag::from(t.clone())));
            }
        }
        FileType::Ape => {
            // Monkey's Audio: APEv2 at the end (its own tag), ID3v1 after
            // it, and an ID3v2 tag in front that some taggers add.
            let f = ApeFile::read_from(&mut file, options).map_err(err)?;
            if let Some(t) = f.ape() {
                tags = from_apev2(t);
            }
            if let Some(t) = f.id3v2() {
                tags.merge_missing(from_id3v2(t));
            }
            if let Some(t) = f.id3v1() {
                tags.merge_missing(from_generic(&Tag::from(t.clone())));
            }
        }
        FileType::Mp4 => {
            let f = Mp4File::read_from(&mut file, options).map_err(err)?;
            if let Some(ilst) = f.ilst() {
                tags = from_generic(&Tag::from(ilst.clone()));
                // `covr` carries no picture type; iTunes and ffmpeg mean the
                // cover art by it, so the first picture is the front cover.
                if let Some(first) = tags.pictures.first_mut() {
                    if first.kind == PictureKind::Other {
                        first.kind = PictureKind::FrontCover;
                    }
                }
                // Free-form atoms lofty has no key for (MusicBrainz Disc Id…).
                for atom in ilst {
                    if let AtomIdent::Freeform { mean, name } = atom.ident() {
                        let known =
                            ItemKey::from_key(TagType::Mp4Ilst, &format!("----:{mean}:{name}"))
                                .is_some();
                        let key = keys::from_user_text(name);
                        if known || name.starts_with("iTun") || tags.get(&key).is_some() {
                            continue;
                        }
                        for d in atom.data() {
                            if let AtomData::UTF8(s) | AtomData::UTF16(s) = d {
                                tags.push(key.clone(), s.as_str());
                            }
                        }
                    }
                }
            }
        }
        _ => {
            let tagged = probe.read().map_err(err)?;
            if let Some(t) = tagged.primary_tag() {
                tags = from_generic(t);
            }
            for t in tagged.tags() {
                tags.merge_missing(from_generic(t));
            }
        }
    }
    Ok(tags)
}

fn add_vorbis(out: &mut Tags, vc: &VorbisComments) {
    vorbis::add_comments(out, vc.items());
    for (p, _) in vc.pictures() {
        out.pictures.push(vorbis::from_lofty_picture(p));
    }
}

fn from_id3v2(tag: &lofty::id3::v2::Id3v2Tag) -> Tags {
    let mut t = Tags::new();
    id3::add_frames(&mut t, tag);
    t
}

/// An APEv2 tag: its text items through the generic mapping, and its
/// pictures, which the generic tag leaves out: binary items named
/// "Cover Art (Front)" and the like, holding a file name, a NUL and the
/// image (APEv2 as Monkey's Audio and foobar2000 write it).
fn from_apev2(tag: &ApeTag) -> Tags {
    let mut out = from_generic(&Tag::from(tag.clone()));
    for item in tag {
        let is_picture = APE_PICTURE_TYPES
            .iter()
            .any(|k| k.eq_ignore_ascii_case(item.key()));
        if let (true, ItemValue::Binary(bytes)) = (is_picture, item.value()) {
            // A picture lofty cannot parse (unknown image type) is skipped,
            // like damaged tag data elsewhere.
            if let Ok(p) = LoftyPicture::from_ape_bytes(item.key(), bytes) {
                out.pictures.push(vorbis::from_lofty_picture(&p));
            }
        }
    }
    out
}

/// Maps a lofty generic tag through the Vorbis-comment names of its keys.
fn from_generic(tag: &Tag) -> Tags {
    let mut out = Tags::new();
    let has_date = tag.get(ItemKey::RecordingDate).is_some();
    for item in tag.items() {
        let Some(value) = item.value().text().or_else(|| item.value().locator()) else {
            continue;
        };
        let key = item.key();
        let tag_key = match key {
            ItemKey::Year if !has_date => TagKey::Date,
            ItemKey::Comment => TagKey::Comment,
            _ => match key.map_key(TagType::VorbisComments) {
                Some(name) => TagKey::from_name(name),
                None => continue,
            },
        };
        match tag_key {
            TagKey::TrackNumber => vorbis::push_pair(
                &mut out,
                value,
                TagKey::TrackNumber,
                TagKey::TrackTotal,
                true,
            ),
            TagKey::DiscNumber => {
                vorbis::push_pair(&mut out, value, TagKey::DiscNumber, TagKey::DiscTotal, true)
            }
            k => out.push(k, value),
        }
    }
    for p in tag.pictures() {
        out.pictures.push(vorbis::from_lofty_picture(p));
    }
    out
}

/// An error from lofty, worded for a person: I/O trouble stays
/// [`Error::Io`]; anything else is [`Error::Tags`] with lofty's reasons.
pub(super) fn lofty_error(e: &(dyn std::error::Error + 'static), what: &str) -> Error {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if !matches!(
                io.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::InvalidData | ErrorKind::InvalidInput
            ) {
                return Error::Io(std::io::Error::new(io.kind(), io.to_string()));
            }
        }
        let s = err.to_string();
        if !s.is_empty() && !parts.contains(&s) {
            parts.push(s);
        }
        cur = err.source();
    }
    Error::Tags(format!("{what}: {}", parts.join(": ")))
}
