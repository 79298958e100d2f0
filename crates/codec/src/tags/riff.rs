//! Tag chunks in WAV (RIFF/RF64) and AIFF (IFF) files.
//!
//! The chunks are appended after the audio, and the container size is
//! patched: nothing is moved, whatever the size of the file. Tag chunks a
//! file already holds are replaced: cut off when they are last, renamed
//! `JUNK` (a chunk every reader skips) when other chunks follow them.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::{id3, TagKey, Tags};
use crate::Error;

/// Basic fields of a RIFF `LIST`/`INFO` chunk (Multimedia Programming
/// Interface and Data Specifications 1.0, 1991, §2 "INFO List Chunk";
/// `ITRK` is a later, widely read addition).
const INFO_FIELDS: [(TagKey, &[u8; 4]); 7] = [
    (TagKey::Title, b"INAM"),
    (TagKey::Artist, b"IART"),
    (TagKey::Album, b"IPRD"),
    (TagKey::Comment, b"ICMT"),
    (TagKey::Date, b"ICRD"),
    (TagKey::Genre, b"IGNR"),
    (TagKey::TrackNumber, b"ITRK"),
];

/// In RF64 (EBU Tech 3306) the RIFF and data sizes live in `ds64`.
const RF64_SIZE_IN_DS64: u32 = 0xFFFF_FFFF;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wav,
    Aiff,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Tags(msg.into())
}

pub(super) fn write_wav(path: &Path, tags: &Tags) -> Result<(), Error> {
    let mut chunks = Vec::new();
    if let Some(info) = info_chunk(tags) {
        chunks.push((*b"LIST", info));
    }
    if !tags.is_empty() {
        chunks.push((*b"id3 ", id3::tag_bytes(tags)?));
    }
    rewrite(path, Kind::Wav, &chunks)
}

pub(super) fn write_aiff(path: &Path, tags: &Tags) -> Result<(), Error> {
    let mut chunks = Vec::new();
    if !tags.is_empty() {
        chunks.push((*b"ID3 ", id3::tag_bytes(tags)?));
    }
    rewrite(path, Kind::Aiff, &chunks)
}

/// The body of a `LIST` chunk of type `INFO`: NUL-terminated strings, each
/// in its even-padded subchunk.
fn info_chunk(tags: &Tags) -> Option<Vec<u8>> {
    let mut body = b"INFO".to_vec();
    for (key, id) in &INFO_FIELDS {
        let values: Vec<&str> = tags.get_all(key).collect();
        if values.is_empty() {
            continue;
        }
        let mut text = values.join("; ").into_bytes();
        text.retain(|&b| b != 0);
        text.push(0);
        body.extend_from_slice(*id);
        body.extend_from_slice(&(text.len() as u32).to_le_bytes());
        body.extend_from_slice(&text);
        if text.len() % 2 == 1 {
            body.push(0);
        }
    }
    (body.len() > 4).then_some(body)
}

fn rewrite(path: &Path, kind: Kind, new_chunks: &[([u8; 4], Vec<u8>)]) -> Result<(), Error> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let file_len = f.metadata()?.len();
    let mut head = [0u8; 12];
    f.read_exact(&mut head).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => bad("the file is too short for its container header"),
        _ => Error::Io(e),
    })?;
    let id = &head[0..4];
    let form = &head[8..12];
    let (name, rf64) = match kind {
        Kind::Wav if (id == b"RIFF" || id == b"RF64" || id == b"BW64") && form == b"WAVE" => {
            ("WAV", id != b"RIFF")
        }
        Kind::Aiff if id == b"FORM" && (form == b"AIFF" || form == b"AIFC") => ("AIFF", false),
        Kind::Wav => return Err(bad("not a WAV file (no RIFF/WAVE header)")),
        Kind::Aiff => return Err(bad("not an AIFF file (no FORM/AIFF header)")),
    };
    let u32_at = |b: [u8; 4]| match kind {
        Kind::Wav => u32::from_le_bytes(b),
        Kind::Aiff => u32::from_be_bytes(b),
    };

    // RF64: the ds64 chunk comes first and holds the 64-bit data size.
    // The container sizes are not trusted to find the end (streaming
    // writers leave 0 or 0xFFFFFFFF there): chunks are walked to the end of
    // the file, stopping at bytes that are not a chunk header, and nothing
    // before the end of the last chunk is ever cut.
    let mut ds64_data_size = None;
    let mut declared_end = 8 + u64::from(u32_at([head[4], head[5], head[6], head[7]]));
    if rf64 {
        let mut ds = [0u8; 24];
        f.read_exact(&mut ds)
            .map_err(|_| bad("RF64 file without a complete ds64 chunk"))?;
        if &ds[0..4] != b"ds64" {
            return Err(bad("RF64 file whose first chunk is not ds64"));
        }
        declared_end = 8u64.saturating_add(u64::from_le_bytes([
            ds[8], ds[9], ds[10], ds[11], ds[12], ds[13], ds[14], ds[15],
        ]));
        ds64_data_size = Some(u64::from_le_bytes([
            ds[16], ds[17], ds[18], ds[19], ds[20], ds[21], ds[22], ds[23],
        ]));
    }
    // Walk the chunks, noting the tag chunks.
    // Offset, whether a tag chunk, and the header of an empty `data` chunk.
    let mut chunks: Vec<(u64, bool, Option<[u8; 8]>)> = Vec::new();
    let mut pos = 12u64;
    while pos + 8 <= file_len {
        f.seek(SeekFrom::Start(pos))?;
        let mut h = [0u8; 12];
        let n = read_up_to(&mut f, &mut h)?;
        if n < 8 {
            break;
        }
        let cid = [h[0], h[1], h[2], h[3]];
        if !cid.iter().all(|&b| (0x20..=0x7E).contains(&b)) {
            break; // trailing bytes, not a chunk
        }
        let raw = u32_at([h[4], h[5], h[6], h[7]]);
        let size = match ds64_data_size {
            Some(ds) if &cid == b"data" && raw == RF64_SIZE_IN_DS64 => ds,
            _ => u64::from(raw),
        };
        let is_tag = match kind {
            Kind::Wav => {
                &cid == b"id3 "
                    || &cid == b"ID3 "
                    || (&cid == b"LIST" && n >= 12 && &h[8..12] == b"INFO")
            }
            Kind::Aiff => &cid == b"ID3 " || &cid == b"id3 ",
        };
        let empty_data = (kind == Kind::Wav && &cid == b"data" && size == 0)
            .then(|| [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        chunks.push((pos, is_tag, empty_data));
        pos = pos
            .saturating_add(8)
            .saturating_add(size)
            .saturating_add(size & 1);
    }
    if pos > file_len + 1 {
        // A "chunk" past the declared end of the container that runs past
        // the end of the file is trailing junk: it goes. Within the
        // container it means the file is damaged.
        match chunks.pop() {
            Some((start, _, _)) if start >= declared_end && declared_end >= 12 => pos = start,
            _ => {
                return Err(bad(format!(
                    "the {name} file is truncated (its last chunk runs past the end)"
                )))
            }
        }
    }
    // An odd-sized last chunk may lack its pad byte.
    pos = pos.min(file_len);

    let trailing = chunks.iter().rev().take_while(|(_, tag, _)| *tag).count();
    let kept = chunks.len() - trailing;
    let mut cut = chunks.get(kept).map_or(pos, |(off, _, _)| *off);
    // An empty `data` chunk last: the tags go before it, since readers
    // (ffmpeg) take a zero data size as "up to the end of the file".
    let mut tail = Vec::new();
    if let Some((off, _, Some(header))) = kept.checked_sub(1).and_then(|i| chunks.get(i)) {
        cut = *off;
        tail.extend_from_slice(header);
    }
    for (off, is_tag, _) in chunks.iter().take(kept) {
        if *is_tag {
            f.seek(SeekFrom::Start(*off))?;
            f.write_all(b"JUNK")?;
        }
    }

    // Chunks start at even offsets: pad an odd-sized last chunk that lacks it.
    let mut out = if cut % 2 == 1 { vec![0u8] } else { Vec::new() };
    for (cid, body) in new_chunks {
        let len = u32::try_from(body.len())
            .map_err(|_| bad("the tags are too large for a chunk (4 GiB)"))?;
        out.extend_from_slice(cid);
        out.extend_from_slice(&match kind {
            Kind::Wav => len.to_le_bytes(),
            Kind::Aiff => len.to_be_bytes(),
        });
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
    }
    out.extend_from_slice(&tail);
    let new_end = cut + out.len() as u64;
    let new_size = new_end - 8;
    if !rf64 && new_size > u64::from(u32::MAX) {
        return Err(Error::Unsupported(format!(
            "the {name} file would pass 4 GiB with its tags"
        )));
    }

    f.set_len(cut)?;
    f.seek(SeekFrom::Start(cut))?;
    f.write_all(&out)?;
    if rf64 {
        f.seek(SeekFrom::Start(20))?;
        f.write_all(&new_size.to_le_bytes())?;
    } else {
        f.seek(SeekFrom::Start(4))?;
        let size = new_size as u32;
        f.write_all(&match kind {
            Kind::Wav => size.to_le_bytes(),
            Kind::Aiff => size.to_be_bytes(),
        })?;
    }
    f.flush()?;
    Ok(())
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> Result<usize, Error> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}
