//! Ogg pages (RFC 3533): the page header, the page checksum, a reader of
//! whole pages and a page writer, shared by the Opus decoder and the Ogg
//! comment-header rewriter.
//!
//! The reader checks every page's CRC and reports a damaged page with its
//! byte offset; what to do about it (the decoder refuses the file) is the
//! caller's decision.

use std::io::{ErrorKind, Read};

use crate::Error;

/// The fixed part of a page header (RFC 3533 §6).
pub(crate) const HEADER_LEN: usize = 27;
/// RFC 3533 §6, header type flags: the page starts with the continuation of
/// the previous page's last packet.
pub(crate) const FLAG_CONTINUED: u8 = 0x01;
/// RFC 3533 §6: first page of a logical stream (beginning of stream).
pub(crate) const FLAG_BOS: u8 = 0x02;
/// RFC 3533 §6: last page of a logical stream (end of stream).
pub(crate) const FLAG_EOS: u8 = 0x04;
/// RFC 3533 §6: a page on which no packet ends has granule position −1.
pub(crate) const NO_GRANULE: u64 = u64::MAX;
/// The largest page: header, 255 lacing values, 255 segments of 255 bytes
/// (RFC 3533 §6).
pub(crate) const MAX_PAGE_LEN: usize = HEADER_LEN + 255 + 255 * 255;

/// The fixed fields of a page header (RFC 3533 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageHeader {
    pub flags: u8,
    pub granule: u64,
    pub serial: u32,
    pub seq: u32,
    pub crc: u32,
    /// Number of lacing values (segments) that follow the fixed header.
    pub segments: usize,
}

impl PageHeader {
    /// Parses the 27 fixed bytes of a page header; `None` when they do not
    /// start with the capture pattern `OggS` or the stream structure
    /// version is not 0.
    pub(crate) fn parse(h: &[u8]) -> Option<PageHeader> {
        let h = h.get(..HEADER_LEN)?;
        if h.get(0..4)? != b"OggS" || h[4] != 0 {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let mut g = [0u8; 8];
        g.copy_from_slice(&h[6..14]);
        Some(PageHeader {
            flags: h[5],
            granule: u64::from_le_bytes(g),
            serial: u32_at(14),
            seq: u32_at(18),
            crc: u32_at(22),
            segments: usize::from(h[26]),
        })
    }
}

/// The page checksum (RFC 3533 §6): CRC-32 with polynomial 0x04C11DB7,
/// initial value 0, no reflection, no final XOR, computed over the whole
/// page with its CRC field set to zero.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    crc_update(0, data)
}

/// Continues a [`crc32`] over more bytes.
pub(crate) fn crc_update(crc: u32, data: &[u8]) -> u32 {
    data.iter().fold(crc, |crc, &b| {
        (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)]
    })
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04C1_1DB7
            } else {
                r << 1
            };
            k += 1;
        }
        t[i] = r;
        i += 1;
    }
    t
};

/// Appends one page to `out`, its CRC filled in.
pub(crate) fn write_page(
    out: &mut Vec<u8>,
    flags: u8,
    granule: u64,
    serial: u32,
    seq: u32,
    lacing: &[u8],
    body: &[u8],
) {
    let start = out.len();
    out.extend_from_slice(b"OggS");
    out.push(0);
    out.push(flags);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&serial.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(lacing.len() as u8);
    out.extend_from_slice(lacing);
    out.extend_from_slice(body);
    let crc = crc32(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
}

/// The headers of the intact pages of stream `serial` found in `data` (a
/// piece of a file, such as its tail), last first. A page counts only when
/// it lies wholly in `data` and its CRC matches, so that "OggS" inside
/// packet data is not mistaken for a page.
pub(crate) fn pages_backwards(data: &[u8], serial: u32) -> impl Iterator<Item = PageHeader> + '_ {
    (0..data.len()).rev().filter_map(move |i| {
        let page = data.get(i..)?;
        let h = PageHeader::parse(page)?;
        if h.serial != serial {
            return None;
        }
        let lacing = page.get(HEADER_LEN..HEADER_LEN + h.segments)?;
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let whole = page.get(..HEADER_LEN + h.segments + body_len)?;
        let mut fixed = [0u8; HEADER_LEN];
        fixed.copy_from_slice(whole.get(..HEADER_LEN)?);
        fixed[22..26].fill(0);
        let crc = crc_update(crc32(&fixed), whole.get(HEADER_LEN..)?);
        (crc == h.crc).then_some(h)
    })
}

/// One whole page whose checksum matched.
pub(crate) struct Page {
    pub header: PageHeader,
    pub lacing: Vec<u8>,
    pub body: Vec<u8>,
}

/// What [`PageReader::read_page`] found.
pub(crate) enum PageRead {
    Page(Page),
    /// A page whose checksum does not match (or whose header is invalid),
    /// starting at byte `offset`; it has been read past.
    Damaged {
        offset: u64,
    },
    /// `skipped` bytes from `offset` on that are not an Ogg page, where one
    /// should start; the page after them has been read past.
    Junk {
        offset: u64,
        skipped: u64,
    },
    /// The end of the input, between pages.
    Eof,
}

/// Reads whole pages one after another from the start of a stream.
pub(crate) struct PageReader<R> {
    r: R,
    /// Byte offset of the next unread byte.
    pos: u64,
    /// Garbage skipped looking for a page before giving up.
    max_resync: u64,
}

impl<R: Read> PageReader<R> {
    pub(crate) fn new(r: R) -> Self {
        PageReader {
            r,
            pos: 0,
            max_resync: 1 << 20,
        }
    }

    /// Reads the next page.
    ///
    /// # Errors
    /// [`Error::Io`] when reading fails; [`Error::Corrupt`] when the input
    /// ends inside a page or no page is found within a megabyte.
    pub(crate) fn read_page(&mut self) -> Result<PageRead, Error> {
        let mut hdr = [0u8; HEADER_LEN];
        let start = self.pos;
        let mut skipped: u64 = 0;
        let mut have = 0usize;
        // The capture pattern "OggS" (RFC 3533 §6), skipping junk.
        loop {
            while have < 4 {
                match self.read_full(&mut hdr[have..4])? {
                    0 if have == 0 && skipped == 0 => return Ok(PageRead::Eof),
                    0 => {
                        return Err(Error::Corrupt(format!(
                            "the file is truncated or damaged: no Ogg page in its last {} bytes (from byte {start})",
                            skipped + have as u64
                        )))
                    }
                    n => have += n,
                }
            }
            if &hdr[0..4] == b"OggS" {
                break;
            }
            hdr.copy_within(1..4, 0);
            have = 3;
            skipped += 1;
            if skipped > self.max_resync {
                return Err(Error::Corrupt(format!(
                    "no Ogg page found from byte {start} on"
                )));
            }
        }
        if skipped > 0 {
            // The junk is reported in place of the page after it (which is
            // read past): bytes between pages mean the file is damaged.
            return self.finish_page(hdr, start + skipped).map(|p| match p {
                PageRead::Page(_) | PageRead::Damaged { .. } => PageRead::Junk {
                    offset: start,
                    skipped,
                },
                other => other,
            });
        }
        self.finish_page(hdr, start)
    }

    /// Reads the rest of a page whose first four bytes (`OggS`) are in `hdr`.
    fn finish_page(&mut self, mut hdr: [u8; HEADER_LEN], offset: u64) -> Result<PageRead, Error> {
        let truncated = || {
            Error::Corrupt(format!(
                "the file is truncated (it ends inside the Ogg page at byte {offset})"
            ))
        };
        if self.read_full(&mut hdr[4..])? < HEADER_LEN - 4 {
            return Err(truncated());
        }
        let Some(header) = PageHeader::parse(&hdr) else {
            return Ok(PageRead::Damaged { offset });
        };
        let mut lacing = vec![0u8; header.segments];
        if self.read_full(&mut lacing)? < lacing.len() {
            return Err(truncated());
        }
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let mut body = vec![0u8; body_len];
        if self.read_full(&mut body)? < body_len {
            return Err(truncated());
        }
        let mut h = hdr;
        h[22..26].fill(0);
        let crc = crc_update(crc_update(crc32(&h), &lacing), &body);
        if crc != header.crc {
            return Ok(PageRead::Damaged { offset });
        }
        Ok(PageRead::Page(Page {
            header,
            lacing,
            body,
        }))
    }

    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_known_values() {
        // Recomputing over a page with its CRC field zeroed gives the stored CRC.
        let mut page = Vec::new();
        write_page(&mut page, FLAG_BOS, 0, 0x1234, 0, &[3], b"abc");
        let h = PageHeader::parse(&page).unwrap();
        page[22..26].copy_from_slice(&[0; 4]);
        assert_eq!(crc32(&page), h.crc);
        // CRC-32/POSIX (same polynomial, init 0) checks "123456789" as
        // 0x765E7680 after its final XOR with 0xFFFFFFFF; without it, 0x89A1897F.
        assert_eq!(crc32(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn reader_reports_damage_with_offsets() {
        let mut data = Vec::new();
        write_page(&mut data, FLAG_BOS, 0, 7, 0, &[3], b"abc");
        let second = data.len() as u64;
        write_page(&mut data, 0, 5, 7, 1, &[2], b"de");
        let third = data.len();
        write_page(&mut data, FLAG_EOS, 9, 7, 2, &[1], b"f");
        let mut r = PageReader::new(&data[..]);
        assert!(matches!(r.read_page().unwrap(), PageRead::Page(p) if p.body == b"abc"));
        assert!(matches!(r.read_page().unwrap(), PageRead::Page(p) if p.header.granule == 5));
        assert!(matches!(r.read_page().unwrap(), PageRead::Page(p) if p.header.flags == FLAG_EOS));
        assert!(matches!(r.read_page().unwrap(), PageRead::Eof));

        let mut bad = data.clone();
        bad[second as usize + 28] ^= 0x40; // a body byte of the second page
        let mut r = PageReader::new(&bad[..]);
        assert!(matches!(r.read_page().unwrap(), PageRead::Page(_)));
        assert!(matches!(r.read_page().unwrap(), PageRead::Damaged { offset } if offset == second));
        assert!(matches!(r.read_page().unwrap(), PageRead::Page(_)));

        let mut junk = data[..third].to_vec();
        junk.extend_from_slice(b"xyz");
        junk.extend_from_slice(&data[third..]);
        let mut r = PageReader::new(&junk[..]);
        r.read_page().unwrap();
        r.read_page().unwrap();
        assert!(matches!(
            r.read_page().unwrap(),
            PageRead::Junk { offset, skipped: 3 } if offset == third as u64
        ));

        // From the end: the last intact page first; not the damaged one.
        let granules: Vec<u64> = pages_backwards(&bad, 7).map(|h| h.granule).collect();
        assert_eq!(granules, [9, 0]);
        assert_eq!(pages_backwards(&bad, 8).count(), 0);

        let mut r = PageReader::new(&data[..data.len() - 1]);
        r.read_page().unwrap();
        r.read_page().unwrap();
        assert!(r.read_page().is_err());
    }
}
