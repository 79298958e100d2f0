//! Vorbis comments (FLAC, Ogg Vorbis, Opus) and the picture conversions
//! shared by every format.

use lofty::picture::{MimeType, PictureInformation, PictureType};

use super::{keys, sniff_mime, Picture, PictureKind, TagKey, Tags};

/// The comment list of `tags`: one `NAME=value` per item, in order
/// (Vorbis I specification §5.2). Track and disc totals are their own
/// fields (`TRACKTOTAL`, `DISCTOTAL`), as Picard writes them.
pub(super) fn comments(tags: &Tags) -> Vec<(String, String)> {
    tags.items
        .iter()
        .map(|i| (keys::vorbis_field_name(&i.key), i.value.clone()))
        .collect()
}

/// Adds Vorbis comment fields to `out`, splitting `TRACKNUMBER=3/12` the way
/// many taggers write it.
pub(super) fn add_comments<'a>(out: &mut Tags, fields: impl Iterator<Item = (&'a str, &'a str)>) {
    let fields: Vec<(&str, &str)> = fields.collect();
    let has = |k: &TagKey| fields.iter().any(|(n, _)| &TagKey::from_name(n) == k);
    let has_track_total = has(&TagKey::TrackTotal);
    let has_disc_total = has(&TagKey::DiscTotal);
    for (name, value) in fields {
        let key = TagKey::from_name(name);
        match key {
            TagKey::TrackNumber => push_pair(
                out,
                value,
                TagKey::TrackNumber,
                TagKey::TrackTotal,
                has_track_total,
            ),
            TagKey::DiscNumber => push_pair(
                out,
                value,
                TagKey::DiscNumber,
                TagKey::DiscTotal,
                has_disc_total,
            ),
            // Pictures are parsed by lofty; old-style cover fields are not text.
            TagKey::Other(ref n) if n == "METADATA_BLOCK_PICTURE" || n == "COVERART" => {}
            key => out.push(key, value.trim_end_matches('\0')),
        }
    }
}

/// Pushes a "number/total" value as two items; the total only when the file
/// has no separate total field.
pub(super) fn push_pair(
    out: &mut Tags,
    value: &str,
    number: TagKey,
    total: TagKey,
    has_total: bool,
) {
    match value.split_once('/') {
        Some((n, t)) => {
            out.push(number, n.trim());
            if !has_total {
                out.push(total, t.trim());
            }
        }
        None => out.push(number, value.trim()),
    }
}

pub(super) fn from_lofty_picture(p: &lofty::picture::Picture) -> Picture {
    let data = p.data().to_vec();
    let mime = match p.mime_type() {
        Some(m) if !m.as_str().is_empty() => m.as_str().to_string(),
        _ => sniff_mime(&data).unwrap_or("").to_string(),
    };
    Picture {
        kind: PictureKind::from_code(p.pic_type().as_u8()),
        mime,
        description: p.description().unwrap_or("").to_string(),
        data,
    }
}

pub(super) fn to_lofty_picture(p: &Picture) -> lofty::picture::Picture {
    let mime = if p.mime.is_empty() {
        sniff_mime(&p.data).unwrap_or("application/octet-stream")
    } else {
        &p.mime
    };
    lofty::picture::Picture::unchecked(p.data.clone())
        .pic_type(PictureType::from_u8(p.kind.code()))
        .mime_type(MimeType::from_str(mime))
        .description(p.description.clone())
        .build()
}

/// The bytes of a FLAC `PICTURE` block body (RFC 9639 §8.8), also the
/// content of Ogg's `METADATA_BLOCK_PICTURE` before base64. Width, height
/// and depth are read from PNG and JPEG data, zero otherwise.
pub(super) fn flac_picture_bytes(p: &Picture, base64: bool) -> Vec<u8> {
    let lp = to_lofty_picture(p);
    let info = PictureInformation::from_picture(&lp).unwrap_or_default();
    lp.as_flac_bytes(info, base64)
}
