//! Opus encoder: libopus 1.3.1 (transpiled to Rust by `unsafe-libopus`, see
//! [`super::opus_ffi`]) in an Ogg Opus file written here per RFC 7845.
//!
//! - Bitrate `bitrate` kb/s for the whole stream (default 128), unconstrained
//!   VBR, complexity 10, 20 ms frames: the settings of `opusenc`'s defaults.
//! - 1 or 2 channels: mapping family 0; 3 to 8: family 1 (Vorbis channel
//!   order, libopus' surround stream layout), channels reordered from WAV order.
//! - Opus runs at 48 kHz (or 8/12/16/24 kHz, used as they are); any other rate
//!   is converted to 48 kHz with aj-dsp's resampler, whose output starts
//!   aligned and has exactly `round(frames × 48000 / rate)` frames.
//!   OpusHead keeps the source's rate as the "input sample rate". Sources
//!   below 1 kHz are refused, and NaN, ±∞ and huge samples are made safe first
//!   ([`super::float_input`]).
//! - Gapless: OpusHead's pre-skip is the encoder's look-ahead; granule
//!   positions count 48 kHz samples including the pre-skip; the last frame is
//!   padded with silence and the last page's granule is pre-skip + the input
//!   length, so decoders trim the padding (RFC 7845 section 4.4).

use std::fs::File;
use std::io::{BufWriter, Write};

use aj_core::{AudioSpec, Block};
use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::float_input::FloatInput;
use super::opus_ffi::{
    self, MsEncoder, OPUS_SET_BITRATE_REQUEST, OPUS_SET_COMPLEXITY_REQUEST,
    OPUS_SET_VBR_CONSTRAINT_REQUEST, OPUS_SET_VBR_REQUEST,
};
use super::{vorbis_order, Encoder, EncoderOptions};
use crate::Error;

/// Granule positions and pre-skip count samples at 48 kHz (RFC 7845 §4).
const GRANULE_RATE: u32 = 48000;
/// Rates libopus encodes natively (RFC 6716 §2).
const OPUS_RATES: [u32; 5] = [8000, 12000, 16000, 24000, 48000];
/// Default bitrate in kb/s.
const DEFAULT_KBPS: u32 = 128;
/// libopus' ceiling per channel (opus_encoder.c clamps at 300 kb/s; opusenc
/// accepts up to 256 per channel).
const MAX_KBPS_PER_CHANNEL: u32 = 256;
/// Frame duration: 20 ms, as opusenc's default (RFC 6716 §2.1.4).
const FRAMES_PER_SECOND: u32 = 50;
/// Pages are closed after one second of packets at most (opusenc's default
/// --max-delay is 1000 ms), so seeking stays cheap.
const PACKETS_PER_PAGE: u64 = 50;
/// Largest packet per stream: RFC 6716 §3.4 R5 allows 1275 bytes per frame;
/// libopus' own tools use 4000 bytes of room, which we follow.
const MAX_PACKET_PER_STREAM: usize = 4000;
/// A fixed Ogg serial, so that the same input gives the same bytes.
const STREAM_SERIAL: u32 = 0x414A_0002;

pub(super) fn create(
    spec: AudioSpec,
    options: &EncoderOptions,
    file: File,
) -> Result<Box<dyn Encoder>, Error> {
    let channels = usize::from(spec.channels);
    let order = vorbis_order::from_wav(channels).ok_or_else(|| {
        Error::Unsupported(format!(
            "Opus here holds 1 to 8 channels, not {}",
            spec.channels
        ))
    })?;
    let kbps = options.bitrate.unwrap_or(DEFAULT_KBPS);
    let max_kbps = MAX_KBPS_PER_CHANNEL * u32::from(spec.channels);
    if !(6..=max_kbps).contains(&kbps) {
        return Err(Error::Encode(format!(
            "Opus bitrate must be 6 to {max_kbps} kb/s for {} channels, not {kbps}",
            spec.channels
        )));
    }

    let rate = if OPUS_RATES.contains(&spec.sample_rate) {
        spec.sample_rate
    } else {
        GRANULE_RATE
    };
    let input = FloatInput::new("Opus", spec, rate)?;
    let opus_err = |e: String| Error::Encode(format!("Opus: {e}"));
    let mut enc = MsEncoder::new(rate, spec.channels as u8).map_err(opus_err)?;
    enc.set(OPUS_SET_BITRATE_REQUEST, (kbps * 1000) as i32)
        .map_err(opus_err)?;
    enc.set(OPUS_SET_VBR_REQUEST, 1).map_err(opus_err)?;
    enc.set(OPUS_SET_VBR_CONSTRAINT_REQUEST, 0)
        .map_err(opus_err)?;
    enc.set(OPUS_SET_COMPLEXITY_REQUEST, 10).map_err(opus_err)?;
    // Granule units per sample at the encoder's rate: 1 at 48 kHz, 6 at 8 kHz.
    let scale = u64::from(GRANULE_RATE / rate);
    let lookahead = enc.lookahead().map_err(opus_err)?;
    let pre_skip = u16::try_from(u64::from(lookahead) * scale)
        .map_err(|_| Error::Encode(format!("Opus look-ahead {lookahead} is too long")))?;

    let mut writer = PacketWriter::new(BufWriter::new(file));
    // RFC 7845 §3: OpusHead alone on the first page, OpusTags ending the second.
    let head = opus_head(spec.channels as u8, pre_skip, spec.sample_rate, &enc);
    writer.write_packet(head, STREAM_SERIAL, PacketWriteEndInfo::EndPage, 0)?;
    writer.write_packet(opus_tags(), STREAM_SERIAL, PacketWriteEndInfo::EndPage, 0)?;

    let frame = (rate / FRAMES_PER_SECOND) as usize;
    let out_len = MAX_PACKET_PER_STREAM * usize::from(enc.streams);
    Ok(Box::new(OpusFileEncoder {
        input,
        out: OpusOut {
            enc,
            writer,
            order,
            frame,
            scale,
            pre_skip: u64::from(pre_skip),
            pending_pcm: Vec::with_capacity(frame * channels),
            packet_buf: vec![0; out_len],
            held: None,
            packets: 0,
            frames_in: 0,
            frames_encoded: 0,
        },
    }))
}

/// The identification header, RFC 7845 §5.1.
fn opus_head(channels: u8, pre_skip: u16, input_rate: u32, enc: &MsEncoder) -> Vec<u8> {
    let mut h = Vec::with_capacity(21 + enc.mapping.len());
    h.extend_from_slice(b"OpusHead");
    h.push(1); // version
    h.push(channels);
    h.extend_from_slice(&pre_skip.to_le_bytes());
    h.extend_from_slice(&input_rate.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes()); // output gain, Q7.8 dB
    if channels <= 2 {
        h.push(0); // mapping family 0: mono or stereo, one stream
    } else {
        h.push(1); // mapping family 1: Vorbis channel order
        h.push(enc.streams);
        h.push(enc.coupled);
        h.extend_from_slice(&enc.mapping);
    }
    h
}

/// The comment header, RFC 7845 §5.2: vendor string, no comments (tags are
/// written afterwards by the tagging stage).
fn opus_tags() -> Vec<u8> {
    let vendor = format!(
        "AudioJuggler {} ({})",
        env!("CARGO_PKG_VERSION"),
        opus_ffi::version()
    );
    let mut t = Vec::with_capacity(16 + vendor.len());
    t.extend_from_slice(b"OpusTags");
    t.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    t.extend_from_slice(vendor.as_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t
}

struct OpusFileEncoder {
    input: FloatInput,
    out: OpusOut,
}

/// libopus and the Ogg stream it writes to.
struct OpusOut {
    enc: MsEncoder,
    writer: PacketWriter<'static, BufWriter<File>>,
    order: &'static [usize],
    /// Samples per channel in one frame at the encoder's rate.
    frame: usize,
    /// Granule units (48 kHz samples) per sample at the encoder's rate.
    scale: u64,
    pre_skip: u64,
    /// Interleaved samples of the frame being filled, in Vorbis order.
    pending_pcm: Vec<f32>,
    packet_buf: Vec<u8>,
    /// The last packet, held back so the final one can end the stream.
    held: Option<Vec<u8>>,
    packets: u64,
    /// Samples per channel given to the encoder (at its rate), padding excluded.
    frames_in: u64,
    /// Samples per channel encoded, padding included.
    frames_encoded: u64,
}

impl OpusOut {
    /// Appends interleaved WAV-order samples at the encoder's rate, encoding
    /// every full frame.
    fn push(&mut self, samples: &[f32]) -> Result<(), Error> {
        let channels = self.order.len();
        self.frames_in += (samples.len() / channels) as u64;
        for src in samples.chunks_exact(channels) {
            self.pending_pcm.extend(
                self.order
                    .iter()
                    .map(|&i| src.get(i).copied().unwrap_or(0.0)),
            );
            if self.pending_pcm.len() == self.frame * channels {
                self.encode_pending()?;
            }
        }
        Ok(())
    }

    /// Encodes `pending_pcm` (one full frame) and writes the previous packet.
    fn encode_pending(&mut self) -> Result<(), Error> {
        let n = self
            .enc
            .encode(&self.pending_pcm, &mut self.packet_buf)
            .map_err(|e| Error::Encode(format!("Opus: {e}")))?;
        self.pending_pcm.clear();
        self.frames_encoded += self.frame as u64;
        let packet = self.packet_buf.get(..n).unwrap_or(&[]).to_vec();
        if let Some(prev) = self.held.replace(packet) {
            self.write_held(prev, false)?;
        }
        Ok(())
    }

    /// Writes a packet that ends `frames_encoded - frame` samples in (the one
    /// before the packet now held), or the final one.
    fn write_held(&mut self, packet: Vec<u8>, last: bool) -> Result<(), Error> {
        self.packets += 1;
        let end = if last {
            // RFC 7845 §4.4: the last page's granule marks the end of the
            // real audio; the decoder drops the padding after it.
            self.pre_skip + self.frames_in * self.scale
        } else {
            (self.frames_encoded - self.frame as u64) * self.scale
        };
        let info = if last {
            PacketWriteEndInfo::EndStream
        } else if self.packets.is_multiple_of(PACKETS_PER_PAGE) {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        self.writer.write_packet(packet, STREAM_SERIAL, info, end)?;
        Ok(())
    }
}

impl Encoder for OpusFileEncoder {
    fn write(&mut self, block: &Block) -> Result<(), Error> {
        self.input.write(block, |s| self.out.push(s))
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        self.input.finish(|s| self.out.push(s))?;
        let out = &mut self.out;
        // Encode until every input sample has come out of the encoder's
        // look-ahead, padding the last frames with silence.
        let channels = out.order.len();
        let needed = out.frames_in * out.scale + out.pre_skip;
        while out.frames_encoded * out.scale < needed {
            out.pending_pcm.resize(out.frame * channels, 0.0);
            out.encode_pending()?;
        }
        if let Some(last) = out.held.take() {
            out.write_held(last, true)?;
        }
        let mut writer = self.out.writer.into_inner();
        writer.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_layout_follows_rfc_7845() {
        let enc = MsEncoder::new(48000, 2).map_err(|e| e.to_string());
        let Ok(enc) = enc else {
            panic!("encoder: {enc:?}", enc = enc.err())
        };
        let h = opus_head(2, 312, 44100, &enc);
        assert_eq!(h.len(), 19);
        assert_eq!(&h[..8], b"OpusHead");
        assert_eq!(h[8], 1);
        assert_eq!(h[9], 2);
        assert_eq!(u16::from_le_bytes([h[10], h[11]]), 312);
        assert_eq!(u32::from_le_bytes([h[12], h[13], h[14], h[15]]), 44100);
        assert_eq!(h[18], 0);
        let Ok(enc6) = MsEncoder::new(48000, 6) else {
            panic!("6-channel encoder")
        };
        let h = opus_head(6, 312, 48000, &enc6);
        assert_eq!(h[18], 1);
        assert_eq!(h.len(), 21 + 6);
        // 5.1 in libopus' surround layout: 4 streams, 2 of them coupled.
        assert_eq!((h[19], h[20]), (4, 2));
    }

    #[test]
    fn tags_name_the_vendor() {
        let t = opus_tags();
        assert_eq!(&t[..8], b"OpusTags");
        let len = u32::from_le_bytes([t[8], t[9], t[10], t[11]]) as usize;
        let vendor = String::from_utf8_lossy(&t[12..12 + len]);
        assert!(vendor.starts_with("AudioJuggler"), "{vendor}");
        assert!(vendor.contains("1.3.1"), "{vendor}");
        assert_eq!(t.len(), 12 + len + 4);
    }
}
