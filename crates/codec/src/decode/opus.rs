//! Ogg Opus (RFC 7845) decoded by libopus, at 48 kHz float.
//!
//! Symphonia 0.6 has no Opus decoder, so this module demuxes Ogg itself
//! (RFC 3533, with CRC checks and a cap on packet size), parses `OpusHead`
//! (RFC 7845 §5.1: pre-skip, output gain, channel mapping families 0, 1, 2
//! and 255) and trims the output exactly: pre-skip at the start, and at the
//! end whatever the last page's granule position says is padding (§4.5).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use aj_core::{AudioSpec, Samples};

use super::opus_ffi::{error_text, MsDecoder, MAX_FRAMES_PER_PACKET};
use super::{average_bitrate, MediaInfo, PacketDecoder};
use crate::ogg::{
    pages_backwards, Page, PageRead, PageReader, FLAG_BOS, FLAG_CONTINUED, FLAG_EOS, MAX_PAGE_LEN,
    NO_GRANULE,
};
use crate::Error;

/// Opus always decodes at 48 kHz here (RFC 7845 §4: granule positions
/// count 48 kHz samples whatever the input rate was).
const RATE: u32 = 48_000;
/// Largest Ogg packet we assemble. An Opus packet is at most 1275 bytes per
/// frame × 48 frames per stream (RFC 6716 §3.2.5), times up to 255 streams.
const MAX_PACKET: usize = 1275 * 48 * 255;
/// Undecodable packets in a row after which decoding stops at once.
const MAX_CONSECUTIVE_ERRORS: u32 = 64;
/// How far from the end the last page is looked for (one whole page, with
/// room for trailing bytes).
const TAIL_SCAN: u64 = MAX_PAGE_LEN as u64 + 1024;

/// True when `head` is the first page of an Ogg stream whose first packet
/// is an `OpusHead`.
pub(crate) fn sniff(head: &[u8]) -> bool {
    if head.get(0..4) != Some(b"OggS") {
        return false;
    }
    let Some(&nseg) = head.get(26) else {
        return false;
    };
    let at = 27 + usize::from(nseg);
    head.get(at..at + 8) == Some(b"OpusHead")
}

/// A complete packet of our stream.
struct OggPacket {
    data: Vec<u8>,
    /// The page granule position, when this packet is the last one to end
    /// on its page.
    granule: Option<u64>,
    /// Last packet of the logical stream.
    eos: bool,
    /// Ends the first page that carries audio.
    page_end: bool,
}

struct OggReader {
    pages: PageReader<BufReader<File>>,
    serial: u32,
    partial: Vec<u8>,
    /// Packets completed but not yet returned.
    ready: std::collections::VecDeque<OggPacket>,
    ended: bool,
}

impl OggReader {
    /// The next intact page. A damaged page or junk between pages is an
    /// error: a lossy decoder could play on, but the file is damaged and a
    /// conversion must not report success.
    fn read_page(&mut self) -> Result<Option<Page>, Error> {
        match self.pages.read_page()? {
            PageRead::Page(p) => Ok(Some(p)),
            PageRead::Eof => Ok(None),
            PageRead::Damaged { offset } => Err(Error::Corrupt(format!(
                "damaged Ogg page at byte {offset} (CRC mismatch)"
            ))),
            PageRead::Junk { offset, skipped } => Err(Error::Corrupt(format!(
                "damaged Ogg stream: {skipped} bytes at byte {offset} are not an Ogg page"
            ))),
        }
    }

    /// Splits a page of our stream into packets.
    fn push_page(&mut self, page: &Page) -> Result<(), Error> {
        let flags = page.header.flags;
        let continued = flags & FLAG_CONTINUED != 0;
        if continued == self.partial.is_empty() {
            // A continuation without its start, or a start without its
            // continuation: a page is missing.
            return Err(Error::Corrupt(
                "damaged Ogg stream: a packet continues on a page that is missing".into(),
            ));
        }
        let mut at = 0usize;
        let first_new = self.ready.len();
        for &l in &page.lacing {
            let l = usize::from(l);
            let seg = page.body.get(at..at + l).unwrap_or_default();
            at += l;
            if self.partial.len() + seg.len() > MAX_PACKET {
                return Err(Error::Corrupt(format!(
                    "damaged Opus stream: a packet is larger than {MAX_PACKET} bytes"
                )));
            }
            self.partial.extend_from_slice(seg);
            if l < 255 {
                self.ready.push_back(OggPacket {
                    data: std::mem::take(&mut self.partial),
                    granule: None,
                    eos: false,
                    page_end: false,
                });
            }
        }
        if let Some(last) = self.ready.iter_mut().skip(first_new).last() {
            last.granule = (page.header.granule != NO_GRANULE).then_some(page.header.granule);
            last.eos = flags & FLAG_EOS != 0;
            last.page_end = true;
        }
        if flags & FLAG_EOS != 0 {
            self.ended = true;
            if !self.partial.is_empty() {
                return Err(Error::Corrupt(
                    "damaged Ogg stream: its last page ends inside a packet".into(),
                ));
            }
        }
        Ok(())
    }

    /// The next packet of our stream; `Ok(None)` at its end.
    fn next_packet(&mut self) -> Result<Option<OggPacket>, Error> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Ok(Some(p));
            }
            if self.ended {
                return Ok(None);
            }
            match self.read_page()? {
                // RFC 3533 §4: a stream ends with a page flagged
                // end-of-stream; without it the file was cut short.
                None => {
                    return Err(Error::Corrupt(
                        "truncated: the Ogg stream ends without its end-of-stream page".into(),
                    ))
                }
                Some(p) if p.header.serial == self.serial => self.push_page(&p)?,
                Some(p) => {
                    if p.header.flags & FLAG_BOS != 0 && self.ended {
                        return Err(Error::Unsupported(
                            "chained Ogg streams (several streams one after another)".into(),
                        ));
                    }
                    // Another multiplexed stream (video, Skeleton…): ignored.
                }
            }
        }
    }
}

/// The fields of `OpusHead` we use (RFC 7845 §5.1).
struct OpusHead {
    channels: u8,
    pre_skip: u16,
    gain_q8: i16,
    streams: u8,
    coupled: u8,
    mapping: Vec<u8>,
}

fn parse_head(p: &[u8]) -> Result<OpusHead, Error> {
    if p.len() < 19 || &p[0..8] != b"OpusHead" {
        return Err(Error::Corrupt(
            "the Opus identification header is missing or too short".into(),
        ));
    }
    // Version: the major part (upper 4 bits) must be 0 (§5.1).
    if p[8] >> 4 != 0 {
        return Err(Error::Unsupported(format!("Ogg Opus version {}", p[8])));
    }
    let channels = p[9];
    if channels == 0 {
        return Err(Error::Corrupt(
            "the Opus header declares zero channels".into(),
        ));
    }
    let pre_skip = u16::from_le_bytes([p[10], p[11]]);
    let gain_q8 = i16::from_le_bytes([p[16], p[17]]);
    let family = p[18];
    let (streams, coupled, mapping) = match family {
        0 => {
            if channels > 2 {
                return Err(Error::Corrupt(format!(
                    "Opus channel mapping family 0 allows 1 or 2 channels, not {channels}"
                )));
            }
            (1, channels - 1, (0..channels).collect::<Vec<u8>>())
        }
        1 | 2 | 255 => {
            let n = usize::from(channels);
            if p.len() < 21 + n {
                return Err(Error::Corrupt(
                    "the Opus channel mapping table is truncated".into(),
                ));
            }
            if family == 1 && channels > 8 {
                return Err(Error::Corrupt(format!(
                    "Opus channel mapping family 1 allows up to 8 channels, not {channels}"
                )));
            }
            (p[19], p[20], p[21..21 + n].to_vec())
        }
        other => {
            return Err(Error::Unsupported(format!(
                "Opus channel mapping family {other}"
            )));
        }
    };
    let total = u16::from(streams) + u16::from(coupled);
    if streams == 0 || coupled > streams || total > 255 {
        return Err(Error::Corrupt("the Opus stream counts are invalid".into()));
    }
    if mapping.iter().any(|&m| m != 255 && u16::from(m) >= total) {
        return Err(Error::Corrupt(
            "the Opus channel mapping names a stream that does not exist".into(),
        ));
    }
    Ok(OpusHead {
        channels,
        pre_skip,
        gain_q8,
        streams,
        coupled,
        mapping,
    })
}

/// Finds the granule position of the last page of stream `serial`.
fn last_granule(f: &mut File, len: u64, serial: u32) -> Option<u64> {
    let start = len.saturating_sub(TAIL_SCAN);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::new();
    f.take(TAIL_SCAN).read_to_end(&mut tail).ok()?;
    let granule = pages_backwards(&tail, serial)
        .map(|h| h.granule)
        .find(|&g| g != NO_GRANULE);
    granule
}

pub(crate) struct OpusFile {
    ogg: OggReader,
    dec: MsDecoder,
    info: MediaInfo,
    channels: usize,
    gain: f32,
    /// Frames still to drop at the start (pre-skip).
    to_skip: usize,
    /// Frames decoded so far, pre-skip included (granule units).
    decoded: u64,
    /// Granule offset of a stream that does not start at zero (§4.5).
    offset: u64,
    seen_first_page: bool,
    pcm: Vec<f32>,
    /// Undecodable packets in a row.
    errors: u32,
    /// Undecodable packets in all, and why the first one failed, where.
    bad_packets: u32,
    first_bad: Option<(u64, &'static str)>,
    /// Frames handed out so far.
    produced: u64,
}

impl OpusFile {
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let file = File::open(path).map_err(super::open_error)?;
        let len = file.metadata()?.len();
        let mut ogg = OggReader {
            pages: PageReader::new(BufReader::new(file)),
            serial: 0,
            partial: Vec::new(),
            ready: Default::default(),
            ended: false,
        };
        // The first page carries OpusHead alone (RFC 7845 §3).
        let first = ogg
            .read_page()?
            .ok_or_else(|| Error::Corrupt("the file is empty".into()))?;
        ogg.serial = first.header.serial;
        ogg.push_page(&first)?;
        let head_pkt = ogg
            .next_packet()?
            .ok_or_else(|| Error::Corrupt("the Opus identification header is missing".into()))?;
        let head = parse_head(&head_pkt.data)?;
        // The second packet is OpusTags (§5.2); it may span pages.
        let tags = ogg.next_packet()?.ok_or_else(|| {
            Error::Corrupt("the file is truncated (no Opus comment header)".into())
        })?;
        if !tags.data.starts_with(b"OpusTags") {
            return Err(Error::Corrupt("the Opus comment header is missing".into()));
        }
        let dec = MsDecoder::new(head.streams, head.coupled, &head.mapping).map_err(|c| {
            Error::Corrupt(format!(
                "the Opus channel layout is invalid ({})",
                error_text(c)
            ))
        })?;
        // A second handle: a cloned one would share the read position.
        let total = last_granule(&mut File::open(path)?, len, ogg.serial)
            .map(|g| g.saturating_sub(u64::from(head.pre_skip)));
        let info = MediaInfo {
            container: "Ogg".into(),
            codec: "Opus".into(),
            lossless: false,
            sample_rate: RATE,
            channels: u16::from(head.channels),
            bits_per_sample: None,
            total_frames: total,
            bitrate: average_bitrate(len, total, RATE),
        };
        let channels = usize::from(head.channels);
        Ok(OpusFile {
            ogg,
            dec,
            info,
            channels,
            // Output gain is Q7.8 dB (§5.1).
            gain: 10f32.powf(f32::from(head.gain_q8) / (20.0 * 256.0)),
            to_skip: usize::from(head.pre_skip),
            decoded: 0,
            offset: 0,
            seen_first_page: false,
            pcm: vec![0.0; MAX_FRAMES_PER_PACKET * channels],
            errors: 0,
            bad_packets: 0,
            first_bad: None,
            produced: 0,
        })
    }
}

impl PacketDecoder for OpusFile {
    fn info(&self) -> &MediaInfo {
        &self.info
    }

    fn spec(&self) -> AudioSpec {
        AudioSpec::float(RATE, self.info.channels)
    }

    fn decode_next(&mut self, out: &mut Samples) -> Result<bool, Error> {
        let Samples::Float(out) = out else {
            return Err(Error::Corrupt("internal: Opus output must be float".into()));
        };
        let Some(pkt) = self.ogg.next_packet()? else {
            if let Some((at, why)) = self.first_bad {
                // Lossy decoding could play on, but the file is damaged and
                // a conversion must not report success.
                return Err(Error::Corrupt(format!(
                    "damaged: {} Opus packet(s) could not be decoded (the first at {:.2} s: {why})",
                    self.bad_packets,
                    at as f64 / f64::from(RATE)
                )));
            }
            return Ok(false);
        };
        if pkt.data.is_empty() {
            return Ok(true);
        }
        let n = match self.dec.decode(&pkt.data, &mut self.pcm) {
            Ok(n) => n,
            Err(code) => {
                // Skipped for now, reported at the end of the stream.
                self.errors += 1;
                self.bad_packets += 1;
                self.first_bad
                    .get_or_insert((self.produced, error_text(code)));
                if self.errors > MAX_CONSECUTIVE_ERRORS {
                    return Err(Error::Corrupt(format!(
                        "the Opus stream is damaged: {MAX_CONSECUTIVE_ERRORS} packets in a row could not be decoded ({})",
                        error_text(code)
                    )));
                }
                return Ok(true);
            }
        };
        self.errors = 0;
        self.decoded += n as u64;
        let mut start = self.to_skip.min(n);
        self.to_skip -= start;
        let mut end = n;
        if pkt.page_end && !self.seen_first_page {
            self.seen_first_page = true;
            // A first page whose granule exceeds what it decodes to starts
            // later than zero (§4.5); remember the offset for end trimming.
            if let Some(g) = pkt.granule {
                self.offset = g.saturating_sub(self.decoded);
            }
        }
        if pkt.eos {
            if let Some(g) = pkt.granule {
                // §4.5: the last page's granule gives the true end; what was
                // decoded beyond it is padding.
                let valid = g.saturating_sub(self.offset);
                if self.decoded > valid {
                    let excess = usize::try_from(self.decoded - valid).unwrap_or(usize::MAX);
                    end = n.saturating_sub(excess);
                    start = start.min(end);
                }
            }
        }
        if end > start {
            let c = self.channels;
            let gain = self.gain;
            let slice = self.pcm.get(start * c..end * c).unwrap_or_default();
            if (gain - 1.0).abs() > f32::EPSILON {
                out.extend(slice.iter().map(|&s| s * gain));
            } else {
                out.extend_from_slice(slice);
            }
            self.produced += (end - start) as u64;
        }
        Ok(true)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn opus_head_family_0_and_1() {
        let mut h = b"OpusHead".to_vec();
        h.extend_from_slice(&[1, 2, 0x38, 0x01, 0x44, 0xAC, 0, 0, 0, 0, 0]);
        let p = parse_head(&h).unwrap();
        assert_eq!(
            (p.channels, p.pre_skip, p.streams, p.coupled),
            (2, 312, 1, 1)
        );
        let mut h6 = b"OpusHead".to_vec();
        h6.extend_from_slice(&[
            1, 6, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 1, 4, 2, 0, 4, 1, 2, 3, 5,
        ]);
        let p = parse_head(&h6).unwrap();
        assert_eq!((p.streams, p.coupled, p.mapping.len()), (4, 2, 6));
        h6[18] = 3;
        assert!(parse_head(&h6).is_err());
        assert!(parse_head(b"OpusHead").is_err());
    }
}
