//! FLAC metadata blocks (RFC 9639 §8), written in place.
//!
//! The new `VORBIS_COMMENT` and `PICTURE` blocks replace the old ones and
//! take their room from the `PADDING` block our encoder leaves, so tagging
//! rewrites only the metadata. When they do not fit, the audio is shifted
//! (in bounded steps) and fresh padding is left for later edits.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use lofty::io::FileLike;

use super::{vorbis, Tags};
use crate::Error;

/// Block types, RFC 9639 §8.1 table 2.
const STREAMINFO: u8 = 0;
const PADDING: u8 = 1;
const VORBIS_COMMENT: u8 = 4;
const PICTURE: u8 = 6;
const FORBIDDEN: u8 = 127;
/// A block length is 24 bits (RFC 9639 §8.1).
const MAX_BLOCK_LEN: usize = (1 << 24) - 1;
/// Padding left when the metadata had to grow (what `flac` leaves too).
const SPARE_PADDING: usize = 8192;

fn bad(msg: impl Into<String>) -> Error {
    Error::Tags(msg.into())
}

fn read_exact_or(f: &mut File, buf: &mut [u8], what: &str) -> Result<(), Error> {
    f.read_exact(buf).map_err(|e| {
        if e.kind() == ErrorKind::UnexpectedEof {
            bad(format!("FLAC metadata is truncated ({what})"))
        } else {
            Error::Io(e)
        }
    })
}

/// Writes `tags` (and `extra` blocks, each replacing the blocks of its type)
/// into the FLAC file at `path`.
pub(super) fn write(path: &Path, tags: &Tags, extra: &[(u8, Vec<u8>)]) -> Result<(), Error> {
    if let Some((ty, _)) = extra.iter().find(|(ty, _)| {
        matches!(
            *ty,
            STREAMINFO | PADDING | VORBIS_COMMENT | PICTURE | FORBIDDEN
        )
    }) {
        return Err(bad(format!(
            "metadata block type {ty} is not one to add beside the tags"
        )));
    }
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut magic = [0u8; 4];
    read_exact_or(&mut f, &mut magic, "no stream marker")?;
    if &magic != b"fLaC" {
        return Err(bad("not a FLAC file (no fLaC marker at the start)"));
    }

    let mut kept: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut vendor: Option<String> = None;
    let mut pos: u64 = 4;
    loop {
        let mut h = [0u8; 4];
        read_exact_or(&mut f, &mut h, "block header")?;
        let last = h[0] & 0x80 != 0;
        let ty = h[0] & 0x7F;
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
        if ty == FORBIDDEN {
            return Err(bad("FLAC metadata holds a forbidden block type (127)"));
        }
        match ty {
            PADDING | PICTURE => {
                f.seek(SeekFrom::Current(i64::from(len)))?;
            }
            _ => {
                let mut body = vec![0u8; len as usize];
                read_exact_or(&mut f, &mut body, "block body")?;
                if ty == VORBIS_COMMENT {
                    vendor = old_vendor(&body);
                } else if !extra.iter().any(|(t, _)| *t == ty) {
                    kept.push((ty, body));
                }
            }
        }
        pos += 4 + u64::from(len);
        if last {
            break;
        }
    }
    if kept.first().map(|b| b.0) != Some(STREAMINFO) {
        return Err(bad("FLAC metadata does not start with STREAMINFO"));
    }
    let meta_end = pos;

    let vendor = vendor.unwrap_or_else(|| format!("AudioJuggler {}", env!("CARGO_PKG_VERSION")));
    let mut blocks = kept;
    blocks.extend(extra.iter().cloned());
    blocks.push((VORBIS_COMMENT, comment_block(&vendor, tags)));
    for p in &tags.pictures {
        blocks.push((PICTURE, vorbis::flac_picture_bytes(p, false)));
    }
    for (ty, body) in &blocks {
        if body.len() > MAX_BLOCK_LEN {
            let what = match *ty {
                PICTURE => "a picture",
                VORBIS_COMMENT => "the tags",
                _ => "a metadata block",
            };
            return Err(bad(format!(
                "{what} take {} bytes; a FLAC metadata block holds at most 16 MiB",
                body.len()
            )));
        }
    }

    let needed: u64 = blocks.iter().map(|(_, b)| 4 + b.len() as u64).sum();
    let room = meta_end - 4;
    let (padding, in_place) = if needed == room {
        (None, true)
    } else if needed + 4 <= room && room - needed - 4 <= MAX_BLOCK_LEN as u64 {
        (Some((room - needed - 4) as usize), true)
    } else {
        (Some(SPARE_PADDING), false)
    };
    if let Some(n) = padding {
        blocks.push((PADDING, vec![0u8; n]));
    }

    let mut out = Vec::with_capacity(blocks.iter().map(|(_, b)| b.len() + 4).sum());
    let count = blocks.len();
    for (i, (ty, body)) in blocks.iter().enumerate() {
        let last = if i + 1 == count { 0x80 } else { 0 };
        let len = (body.len() as u32).to_be_bytes();
        out.extend_from_slice(&[ty | last, len[1], len[2], len[3]]);
        out.extend_from_slice(body);
    }

    if in_place {
        f.seek(SeekFrom::Start(4))?;
        f.write_all(&out)?;
    } else {
        f.splice(4..meta_end, &out)?;
    }
    f.flush()?;
    Ok(())
}

fn old_vendor(body: &[u8]) -> Option<String> {
    let len = u32::from_le_bytes(body.get(0..4)?.try_into().ok()?) as usize;
    let v = body.get(4..4usize.checked_add(len)?)?;
    Some(String::from_utf8_lossy(v).into_owned())
}

/// A `VORBIS_COMMENT` block body: the Vorbis comment header without its
/// packet type, signature and framing bit (RFC 9639 §8.6).
pub(super) fn comment_block(vendor: &str, tags: &Tags) -> Vec<u8> {
    let fields = vorbis::comments(tags);
    let mut b = Vec::new();
    b.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    b.extend_from_slice(vendor.as_bytes());
    b.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    for (k, v) in fields {
        let field = format!("{k}={v}");
        b.extend_from_slice(&(field.len() as u32).to_le_bytes());
        b.extend_from_slice(field.as_bytes());
    }
    b
}
