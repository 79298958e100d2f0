//! The comment header of Ogg Vorbis and Ogg Opus files, rewritten in place.
//!
//! The identification and setup headers are kept byte for byte; the comment
//! packet is replaced and the header pages are laid out again (RFC 3533 §6).
//! When their number of pages changes, every later page gets its sequence
//! number shifted and its CRC recomputed, one page at a time, so memory does
//! not grow with the file.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use lofty::io::FileLike;

use super::{vorbis, Tags};
use crate::ogg::{crc32, write_page, PageHeader, FLAG_BOS, FLAG_CONTINUED, HEADER_LEN, NO_GRANULE};
use crate::Error;

/// Which codec the Ogg stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    Vorbis,
    Opus,
}

impl Codec {
    /// Header packets before the first audio packet: Vorbis I §4.2 (three),
    /// RFC 7845 §3 (two).
    fn header_packets(self) -> usize {
        match self {
            Codec::Vorbis => 3,
            Codec::Opus => 2,
        }
    }

    fn id_signature(self) -> &'static [u8] {
        match self {
            Codec::Vorbis => b"\x01vorbis",
            Codec::Opus => b"OpusHead",
        }
    }

    /// Comment header signatures: Vorbis I §5.2.1, RFC 7845 §5.2.
    fn comment_signature(self) -> &'static [u8] {
        match self {
            Codec::Vorbis => b"\x03vorbis",
            Codec::Opus => b"OpusTags",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Vorbis => "Ogg Vorbis",
            Codec::Opus => "Ogg Opus",
        }
    }
}

/// Header packets larger than this are refused rather than held in memory.
const MAX_HEADER_BYTES: usize = 128 << 20;

fn bad(msg: impl Into<String>) -> Error {
    Error::Tags(msg.into())
}

/// One parsed page header.
struct Page {
    flags: u8,
    serial: u32,
    seq: u32,
    lacing: Vec<u8>,
    /// Offset of the page's first byte.
    offset: u64,
    /// Header length (27 + segment count).
    header_len: usize,
}

impl Page {
    fn body_len(&self) -> usize {
        self.lacing.iter().map(|&l| usize::from(l)).sum()
    }

    fn end(&self) -> u64 {
        self.offset + (self.header_len + self.body_len()) as u64
    }
}

/// Reads the page header at `offset`; `None` at the end of the file.
fn read_page(f: &mut File, offset: u64) -> Result<Option<Page>, Error> {
    f.seek(SeekFrom::Start(offset))?;
    let mut h = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < h.len() {
        match f.read(&mut h[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    if got == 0 {
        return Ok(None);
    }
    let header = PageHeader::parse(&h[..got])
        .ok_or_else(|| bad(format!("no valid Ogg page at byte {offset}")))?;
    let mut lacing = vec![0u8; header.segments];
    f.read_exact(&mut lacing)
        .map_err(|_| bad(format!("Ogg page at byte {offset} is truncated")))?;
    Ok(Some(Page {
        flags: header.flags,
        serial: header.serial,
        seq: header.seq,
        header_len: HEADER_LEN + lacing.len(),
        lacing,
        offset,
    }))
}

pub(super) fn write(path: &Path, codec: Codec, tags: &Tags) -> Result<(), Error> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let name = codec.name();

    // Collect the header packets and where their pages end.
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut offset = 0u64;
    let mut old_pages = 0u32;
    let mut stream: Option<(u32, u32)> = None; // serial, first sequence number
    while packets.len() < codec.header_packets() {
        let page = read_page(&mut f, offset)?
            .ok_or_else(|| bad(format!("the {name} stream ends inside its headers")))?;
        let (serial, _) = match stream {
            None if page.flags & FLAG_BOS == 0 => {
                return Err(bad(format!(
                    "not an {name} file (no beginning-of-stream page)"
                )));
            }
            None => *stream.insert((page.serial, page.seq)),
            Some(s) => s,
        };
        if page.serial != serial {
            return Err(Error::Unsupported(format!(
                "{name} files with several interleaved streams cannot be tagged"
            )));
        }
        let mut body = vec![0u8; page.body_len()];
        f.read_exact(&mut body)
            .map_err(|_| bad(format!("Ogg page at byte {} is truncated", page.offset)))?;
        total += body.len();
        if total > MAX_HEADER_BYTES {
            return Err(Error::Unsupported(format!("{name} headers over 128 MiB")));
        }
        let mut at = 0usize;
        for (i, &l) in page.lacing.iter().enumerate() {
            let seg = body.get(at..at + usize::from(l)).unwrap_or_default();
            current.extend_from_slice(seg);
            at += usize::from(l);
            if l < 255 {
                packets.push(std::mem::take(&mut current));
                if packets.len() == codec.header_packets() && i + 1 < page.lacing.len() {
                    return Err(Error::Unsupported(format!(
                        "this {name} file starts its audio on a header page; it cannot be tagged in place"
                    )));
                }
            }
        }
        old_pages += 1;
        offset = page.end();
    }
    let header_end = offset;
    let (serial, first_seq) = stream.unwrap_or_default();

    let ident = packets.first().map(Vec::as_slice).unwrap_or_default();
    let comment = packets.get(1).map(Vec::as_slice).unwrap_or_default();
    if !ident.starts_with(codec.id_signature()) || !comment.starts_with(codec.comment_signature()) {
        return Err(bad(format!(
            "not an {name} file (unexpected header packets)"
        )));
    }
    let vendor = vendor_of(&comment[codec.comment_signature().len()..])
        .unwrap_or_else(|| format!("AudioJuggler {}", env!("CARGO_PKG_VERSION")));
    let new_comment = comment_packet(codec, &vendor, tags);

    let mut rest: Vec<&[u8]> = vec![&new_comment];
    rest.extend(packets.iter().skip(2).map(Vec::as_slice));
    let (bytes, new_pages) = paginate(ident, &rest, serial, first_seq);

    f.splice(0..header_end, &bytes)?;

    let delta = i64::from(new_pages) - i64::from(old_pages);
    if delta != 0 {
        renumber(&mut f, bytes.len() as u64, serial, delta)?;
    }
    f.flush()?;
    Ok(())
}

fn vendor_of(after_signature: &[u8]) -> Option<String> {
    let len = u32::from_le_bytes(after_signature.get(0..4)?.try_into().ok()?) as usize;
    let v = after_signature.get(4..4usize.checked_add(len)?)?;
    Some(String::from_utf8_lossy(v).into_owned())
}

/// The comment header packet: signature, vendor, fields, pictures as
/// base64 `METADATA_BLOCK_PICTURE` fields, and for Vorbis the framing bit
/// (Vorbis I §5.2.1).
fn comment_packet(codec: Codec, vendor: &str, tags: &Tags) -> Vec<u8> {
    let mut fields: Vec<Vec<u8>> = vorbis::comments(tags)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .collect();
    for p in &tags.pictures {
        let mut field = b"METADATA_BLOCK_PICTURE=".to_vec();
        field.extend(vorbis::flac_picture_bytes(p, true));
        fields.push(field);
    }
    let mut b = codec.comment_signature().to_vec();
    b.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    b.extend_from_slice(vendor.as_bytes());
    b.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    for field in fields {
        b.extend_from_slice(&(field.len() as u32).to_le_bytes());
        b.extend_from_slice(&field);
    }
    if codec == Codec::Vorbis {
        b.push(1);
    }
    b
}

/// Lays out the header pages: the identification packet alone on the first
/// page (RFC 7845 §3; Vorbis I §4.2.1 wants it alone too), the other header
/// packets packed on the following pages, the last of which is complete.
/// Returns the bytes and the page count.
fn paginate(ident: &[u8], rest: &[&[u8]], serial: u32, first_seq: u32) -> (Vec<u8>, u32) {
    let mut out = Vec::new();
    let mut seq = first_seq;
    let mut pages = 0u32;

    let mut emit = |out: &mut Vec<u8>, flags: u8, granule: u64, lacing: &[u8], body: &[u8]| {
        write_page(out, flags, granule, serial, seq, lacing, body);
        seq = seq.wrapping_add(1);
        pages += 1;
    };

    // The identification packet: its own page, or pages if it is (oddly) large.
    let mut lacing = Vec::new();
    push_lacing(&mut lacing, ident.len());
    let mut at = 0usize;
    let mut first = true;
    for chunk in lacing.chunks(255) {
        let len: usize = chunk.iter().map(|&l| usize::from(l)).sum();
        let body = ident.get(at..at + len).unwrap_or_default();
        at += len;
        let ends = chunk.last().is_some_and(|&l| l < 255);
        let flags = if first { FLAG_BOS } else { FLAG_CONTINUED };
        emit(
            &mut out,
            flags,
            if ends { 0 } else { NO_GRANULE },
            chunk,
            body,
        );
        first = false;
    }

    let mut lacing = Vec::new();
    let mut data = Vec::new();
    for p in rest {
        push_lacing(&mut lacing, p.len());
        data.extend_from_slice(p);
    }
    let mut at = 0usize;
    let mut continued = false;
    for chunk in lacing.chunks(255) {
        let len: usize = chunk.iter().map(|&l| usize::from(l)).sum();
        let body = data.get(at..at + len).unwrap_or_default();
        at += len;
        let ends = chunk.iter().any(|&l| l < 255);
        emit(
            &mut out,
            if continued { FLAG_CONTINUED } else { 0 },
            if ends { 0 } else { NO_GRANULE },
            chunk,
            body,
        );
        continued = chunk.last().is_some_and(|&l| l == 255);
    }
    (out, pages)
}

/// Lacing values of one packet (RFC 3533 §5): 255s, then the remainder
/// (a 0 when the length is a multiple of 255).
fn push_lacing(lacing: &mut Vec<u8>, len: usize) {
    lacing.extend(std::iter::repeat_n(255u8, len / 255));
    lacing.push((len % 255) as u8);
}

/// Shifts the sequence number of every page of `serial` from `offset` on by
/// `delta`, recomputing each CRC.
fn renumber(f: &mut File, mut offset: u64, serial: u32, delta: i64) -> Result<(), Error> {
    let mut buf = Vec::new();
    while let Some(page) = read_page(f, offset)? {
        let end = page.end();
        if page.serial == serial {
            let len = (end - page.offset) as usize;
            buf.resize(len, 0);
            f.seek(SeekFrom::Start(page.offset))?;
            f.read_exact(&mut buf)
                .map_err(|_| bad(format!("Ogg page at byte {} is truncated", page.offset)))?;
            let seq = (i64::from(page.seq) + delta) as u32;
            buf[18..22].copy_from_slice(&seq.to_le_bytes());
            buf[22..26].copy_from_slice(&[0; 4]);
            let crc = crc32(&buf);
            buf[22..26].copy_from_slice(&crc.to_le_bytes());
            f.seek(SeekFrom::Start(page.offset))?;
            f.write_all(&buf)?;
        }
        offset = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lacing_of_multiples_of_255_ends_with_zero() {
        let mut l = Vec::new();
        push_lacing(&mut l, 510);
        assert_eq!(l, [255, 255, 0]);
        l.clear();
        push_lacing(&mut l, 3);
        assert_eq!(l, [3]);
    }
}
