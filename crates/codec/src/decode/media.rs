//! Every format symphonia reads: FLAC, MP3, AAC and ALAC in MP4, Ogg Vorbis,
//! CAF, Matroska, A-law/µ-law WAV…
//!
//! On top of symphonia this module:
//! - opens by content only (no extension hint), and decodes the first packet
//!   while opening, so a file that is not audio fails in `open`;
//! - keeps integer codecs integer at their real depth (symphonia's FLAC and
//!   ALAC decoders left-justify into `i32`; we shift back);
//! - turns every stream-parameter change (sample rate, channels, FLAC bit
//!   depth) into an error instead of garbage;
//! - checks FLAC's STREAMINFO MD5 (RFC 9639 §8.2) and the declared length
//!   of lossless streams at the end;
//! - removes the encoder delay and padding of MP4 audio that the MP4 reader
//!   leaves in (edit list or `iTunSMPB`, see [`super::mp4`]);
//! - never lets a damaged lossy file pass as good. A lossy decoder could
//!   play on past damage, and does so here (within a limit) to reach the
//!   end, but the end of the stream is then an error, because a conversion
//!   must never report success for a damaged file:
//!   - any packet that could not be decoded ("damaged: N packets…");
//!   - a decoded length shorter, by more than two packets, than a length the
//!     file states reliably: the Xing/Info/VBRI frame count of MP3, the last
//!     granule position of Ogg, the MP4 track duration (after its edit);
//!     a length MP3 estimates from the file size is not trusted;
//!   - an Ogg stream whose last page is not flagged end-of-stream.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use aj_core::{AudioSpec, SampleFormat, Samples};
use symphonia::core::audio::sample::Sample;
use symphonia::core::audio::{Audio, AudioBuffer, GenericAudioBufferRef};
use symphonia::core::codecs::audio::well_known::profiles::{
    CODEC_PROFILE_AAC_HE, CODEC_PROFILE_AAC_HE_V2, CODEC_PROFILE_AAC_LC, CODEC_PROFILE_AAC_MAIN,
};
use symphonia::core::codecs::audio::well_known::*;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::flac::{parse_frame_header, Assignment, FrameHeader};
use super::mp4::{self, Edit};
use super::{average_bitrate, MediaInfo, PacketDecoder, Reader, Seekable};
use crate::ogg::{pages_backwards, FLAG_EOS, MAX_PAGE_LEN};
use crate::Error;

/// Undecodable packets in a row after which a lossy stream is given up as
/// damaged rather than skipped over.
const MAX_CONSECUTIVE_ERRORS: u32 = 64;

/// Opens `path` with symphonia.
pub(crate) fn open(path: &Path) -> Result<Box<dyn Seekable>, Error> {
    let file = guard(|| MediaFile::open(path))??;
    Ok(Box::new(Reader::new(file)))
}

/// Runs a call into symphonia, turning a panic on damaged data (an
/// arithmetic overflow in a demuxer, say) into an error: a damaged file
/// fails its item, it never takes the process down.
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|_| Error::Corrupt("the decoder failed on damaged data in the file".into()))
}

pub(crate) struct MediaFile {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    info: MediaInfo,
    spec: AudioSpec,
    lossless: bool,
    is_flac: bool,
    /// Right shift that undoes symphonia's left-justification of `i32`
    /// samples (FLAC, ALAC).
    shift: u32,
    /// Frames declared by the container, checked at the end for lossless codecs.
    declared_frames: Option<u64>,
    /// Frames declared in a way that can be trusted for a lossy codec.
    lossy_declared: Option<u64>,
    /// Frames the decoder produced (before any MP4 edit).
    decoded_frames: u64,
    /// Frames handed out (after any MP4 edit).
    output_frames: u64,
    /// The largest packet decoded, in frames.
    max_packet_frames: u64,
    /// The MP4 edit (priming and real length), applied once the rate is known.
    edit: Option<Edit>,
    /// Frames still to drop at the start.
    skip_left: u64,
    /// Frames still to hand out, when the length is limited by an edit.
    keep_left: Option<u64>,
    /// Undecodable packets of a lossy stream, and where and why the first failed.
    bad_packets: u32,
    first_bad: Option<(u64, String)>,
    /// An Ogg stream whose last page lacks the end-of-stream flag.
    ogg_missing_eos: bool,
    /// The first decoded packet, decoded while opening.
    primed: Option<Samples>,
    consecutive_errors: u32,
    ended: bool,
}

fn map_open_error(e: SymError) -> Error {
    match e {
        SymError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Corrupt("the file is truncated or is not an audio file".into())
        }
        SymError::IoError(e) => Error::Io(e),
        SymError::Unsupported(_) => Error::Corrupt("not a recognised audio file".into()),
        SymError::DecodeError(m) => Error::Corrupt(format!("the file is damaged ({m})")),
        SymError::LimitError(m) => Error::Corrupt(format!("the file exceeds a safety limit ({m})")),
        other => Error::Corrupt(format!("the file cannot be read ({other})")),
    }
}

fn map_stream_error(e: SymError) -> Error {
    match e {
        SymError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Corrupt("the file is truncated (it ends in the middle of a packet)".into())
        }
        SymError::IoError(e) => Error::Io(e),
        SymError::Unsupported(m) => Error::Unsupported(m.to_string()),
        SymError::DecodeError(m) => Error::Corrupt(format!("the audio data is damaged ({m})")),
        SymError::LimitError(m) => Error::Corrupt(format!("the file exceeds a safety limit ({m})")),
        SymError::ResetRequired => Error::Unsupported(
            "the stream parameters change mid-file (chained or concatenated streams)".into(),
        ),
        other => Error::Corrupt(format!("the file cannot be read ({other})")),
    }
}

/// A person's name for a symphonia container.
fn container_name(short: &str) -> String {
    match short {
        "wave" => "WAVE",
        "aiff" => "AIFF",
        "flac" => "FLAC",
        "mp1" => "MP1",
        "mp2" => "MP2",
        "mp3" => "MP3",
        "aac" => "ADTS",
        "isomp4" => "MP4",
        "ogg" => "Ogg",
        "caf" => "CAF",
        "matroska" | "mkv" => "Matroska",
        other => other,
    }
    .to_string()
}

/// A person's name for a codec.
fn codec_name(p: &AudioCodecParameters) -> String {
    let c = p.codec;
    let name = if c == CODEC_ID_FLAC {
        "FLAC"
    } else if c == CODEC_ID_MP3 {
        "MP3"
    } else if c == CODEC_ID_MP2 {
        "MP2"
    } else if c == CODEC_ID_MP1 {
        "MP1"
    } else if c == CODEC_ID_AAC {
        match p.profile {
            Some(CODEC_PROFILE_AAC_LC) | None => "AAC-LC",
            Some(CODEC_PROFILE_AAC_HE) => "HE-AAC",
            Some(CODEC_PROFILE_AAC_HE_V2) => "HE-AACv2",
            Some(CODEC_PROFILE_AAC_MAIN) => "AAC Main",
            Some(_) => "AAC",
        }
    } else if c == CODEC_ID_ALAC {
        "ALAC"
    } else if c == CODEC_ID_VORBIS {
        "Vorbis"
    } else if c == CODEC_ID_OPUS {
        "Opus"
    } else if c == CODEC_ID_SPEEX {
        "Speex"
    } else if c == CODEC_ID_AC3 {
        "AC-3"
    } else if c == CODEC_ID_EAC3 {
        "E-AC-3"
    } else if c == CODEC_ID_AC4 {
        "AC-4"
    } else if c == CODEC_ID_DCA {
        "DTS"
    } else if c == CODEC_ID_WMA {
        "Windows Media Audio"
    } else if c == CODEC_ID_WAVPACK {
        "WavPack"
    } else if c == CODEC_ID_MONKEYS_AUDIO {
        "Monkey's Audio"
    } else if c == CODEC_ID_TTA {
        "TTA"
    } else if c == CODEC_ID_TRUEHD {
        "Dolby TrueHD"
    } else if c == CODEC_ID_MUSEPACK {
        "Musepack"
    } else if c == CODEC_ID_PCM_ALAW {
        "A-law"
    } else if c == CODEC_ID_PCM_MULAW {
        "µ-law"
    } else if [
        CODEC_ID_ADPCM_MS,
        CODEC_ID_ADPCM_IMA_WAV,
        CODEC_ID_ADPCM_IMA_QT,
    ]
    .contains(&c)
    {
        "ADPCM"
    } else if is_pcm(c) {
        "PCM"
    } else {
        return format!("unknown ({c})");
    };
    name.to_string()
}

fn is_pcm(c: symphonia::core::codecs::audio::AudioCodecId) -> bool {
    // The well-known integer and float PCM ids are 0x100..=0x123.
    let lo = CODEC_ID_PCM_S32LE;
    let hi = CODEC_ID_PCM_F64BE_PLANAR;
    c >= lo && c <= hi
}

impl MediaFile {
    fn open(path: &Path) -> Result<Self, Error> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let format = symphonia::default::get_probe()
            .probe(
                &Hint::new(),
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(map_open_error)?;
        let short = format.format_info().short_name;
        let container = container_name(short);

        let Some(track) = format.default_track(TrackType::Audio).cloned() else {
            if format.first_track(TrackType::Video).is_some() {
                return Err(Error::Unsupported(format!(
                    "the {container} file holds video but no audio track"
                )));
            }
            return Err(Error::Corrupt(format!(
                "the {container} file holds no audio track"
            )));
        };
        let Some(CodecParameters::Audio(params)) = track.codec_params.clone() else {
            return Err(Error::Corrupt(
                "the audio track has no codec parameters".into(),
            ));
        };
        let codec = codec_name(&params);
        let registry = symphonia::default::get_codecs();
        if registry.get_audio_decoder(params.codec).is_none() {
            return Err(Error::Unsupported(format!(
                "the {codec} codec (in {container}) is not supported"
            )));
        }
        let opts = AudioDecoderOptions::default().gapless(true).verify(true);
        let decoder = registry
            .make_audio_decoder(&params, &opts)
            .map_err(|e| match e {
                SymError::Unsupported(m) => Error::Unsupported(format!(
                    "this {codec} stream uses a feature not supported ({m})"
                )),
                other => map_open_error(other),
            })?;
        let dparams = decoder.codec_params().clone();
        let is_flac = params.codec == CODEC_ID_FLAC;
        let lossless = is_flac || params.codec == CODEC_ID_ALAC || is_pcm(params.codec);

        let rate = dparams.sample_rate.or(params.sample_rate).unwrap_or(0);
        let channels = dparams
            .channels
            .as_ref()
            .or(params.channels.as_ref())
            .map_or(0, |c| c.count());
        let bits = if params.codec == CODEC_ID_ALAC {
            // Symphonia's ALAC decoder does not report its depth; the magic
            // cookie holds it.
            params.extra_data.as_deref().and_then(alac_bit_depth)
        } else {
            None
        }
        .or(dparams.bits_per_sample)
        .or(params.bits_per_sample);
        let declared_frames = track.num_frames;
        // Gapless and length information symphonia does not give, read by
        // a second handle (the first belongs to the format reader).
        let mut probe = File::open(path).map_err(super::open_error)?;
        let edit = if short == "isomp4" {
            mp4::read_edit(&mut probe, track.id)
        } else {
            None
        };
        let reliable_length = match short {
            "mp1" | "mp2" | "mp3" => mpeg_has_length_header(&mut probe),
            "isomp4" | "ogg" => true,
            _ => false,
        };
        let ogg_missing_eos =
            short == "ogg" && ogg_last_page_eos(&mut probe, track.id) == Some(false);

        let mut me = MediaFile {
            format,
            decoder,
            track_id: track.id,
            info: MediaInfo {
                container,
                codec,
                lossless,
                sample_rate: rate,
                channels: u16::try_from(channels).unwrap_or(0),
                bits_per_sample: None,
                total_frames: declared_frames,
                bitrate: None,
            },
            // Provisional; fixed from the first decoded packet below.
            spec: AudioSpec::float(rate, u16::try_from(channels).unwrap_or(0)),
            lossless,
            is_flac,
            shift: 0,
            declared_frames,
            lossy_declared: declared_frames.filter(|_| !lossless && reliable_length),
            decoded_frames: 0,
            output_frames: 0,
            max_packet_frames: 0,
            edit,
            skip_left: 0,
            keep_left: None,
            bad_packets: 0,
            first_bad: None,
            ogg_missing_eos,
            primed: None,
            consecutive_errors: 0,
            ended: false,
        };
        me.prime(bits)?;
        me.info.bitrate = if me.lossless && me.info.codec == "PCM" {
            me.info.bits_per_sample.map(|b| {
                u32::from(b)
                    .saturating_mul(me.info.sample_rate)
                    .saturating_mul(u32::from(me.info.channels))
            })
        } else {
            average_bitrate(file_len, me.info.total_frames, me.info.sample_rate)
        };
        Ok(me)
    }

    /// Decodes the first packet to learn the real output format, and so
    /// that a file that is not audio at all fails while opening.
    fn prime(&mut self, bits: Option<u32>) -> Result<(), Error> {
        loop {
            let Some(packet) = self.next_packet()? else {
                // No audio at all: a valid but empty stream.
                self.ended = true;
                self.finish_spec(None, bits)?;
                self.apply_edit();
                return self.end_checks();
            };
            match self.decoder.decode(&packet) {
                Ok(buf) => {
                    if buf.frames() == 0 {
                        continue;
                    }
                    let kind = buffer_kind(&buf);
                    let rate = buf.spec().rate();
                    let channels = buf.spec().channels().count();
                    self.info.sample_rate = rate;
                    self.info.channels = u16::try_from(channels)
                        .map_err(|_| Error::Unsupported(format!("{channels} channels")))?;
                    self.finish_spec(Some(kind), bits)?;
                    self.apply_edit();
                    let mut out = empty_like(self.spec.format);
                    self.append_last(&mut out)?;
                    self.primed = Some(out);
                    return Ok(());
                }
                Err(e) => self.on_decode_error(e)?,
            }
        }
    }

    /// Turns the MP4 edit into frames at the output rate.
    fn apply_edit(&mut self) {
        let Some(e) = self.edit else {
            return;
        };
        let (skip, length) = e.frames(self.spec.sample_rate);
        self.skip_left = skip;
        self.keep_left = Some(length);
        self.info.total_frames = Some(length);
        self.declared_frames = Some(length);
        if !self.lossless {
            self.lossy_declared = Some(length);
        }
    }

    /// Fixes the output spec from the decoded sample type.
    fn finish_spec(&mut self, kind: Option<Kind>, bits: Option<u32>) -> Result<(), Error> {
        let rate = self.info.sample_rate;
        let ch = self.info.channels;
        let spec = if !self.lossless {
            AudioSpec::float(rate, ch)
        } else {
            match kind {
                Some(Kind::Float) => AudioSpec::float(rate, ch),
                Some(Kind::Int(w)) => {
                    let b = if w == 32 {
                        bits.unwrap_or(32).clamp(1, 32)
                    } else {
                        w
                    };
                    self.shift = if w == 32 { 32 - b } else { 0 };
                    AudioSpec::int(rate, ch, b as u8)
                }
                None => match bits {
                    Some(b @ 1..=32) => AudioSpec::int(rate, ch, b as u8),
                    _ => AudioSpec::float(rate, ch),
                },
            }
        };
        spec.validate()
            .map_err(|e| Error::Corrupt(format!("the stream header is invalid: {e}")))?;
        self.spec = spec;
        self.info.bits_per_sample = match spec.format {
            SampleFormat::Int { bits } => Some(bits),
            SampleFormat::Float if self.lossless => Some(32),
            SampleFormat::Float => None,
        };
        Ok(())
    }

    /// The next packet of our track, with FLAC frame headers checked.
    fn next_packet(&mut self) -> Result<Option<symphonia::core::packet::Packet>, Error> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(None),
                Err(e) => return Err(map_stream_error(e)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            if self.is_flac {
                self.check_flac_frame(&packet.data)?;
                // Symphonia's FLAC reader silently skips frames it cannot
                // place (damaged, or with another sample rate, channel count
                // or depth than STREAMINFO); for a lossless stream a gap in
                // the sample numbers is an error.
                let pts = u64::try_from(packet.pts.get()).unwrap_or(0);
                if pts != self.decoded_frames {
                    return Err(Error::Corrupt(format!(
                        "the FLAC stream skips from sample {} to {pts}: the frames in between could not be read \
                         (damaged, or their sample rate, channels or bit depth differ from STREAMINFO)",
                        self.decoded_frames
                    )));
                }
            }
            return Ok(Some(packet));
        }
    }

    /// RFC 9639 §9.1: a frame header may restate sample rate, channel count
    /// and bit depth; a stream whose frames disagree with STREAMINFO would
    /// decode to garbage, so it is refused.
    fn check_flac_frame(&self, data: &[u8]) -> Result<(), Error> {
        let Ok(h) = parse_frame_header(data) else {
            return Ok(()); // the decoder reports malformed headers itself
        };
        self.check_flac_header(&h)?;
        // Symphonia's reader glues a frame it refuses (other sample rate,
        // channels or depth than STREAMINFO) onto the previous packet, where
        // the decoder never looks. Find such a frame: a header with a valid
        // CRC-8 carrying the next frame or sample number.
        let next = if h.variable {
            h.number.saturating_add(h.block as u64)
        } else {
            h.number + 1
        };
        let mut i = 1;
        while let Some(off) = data
            .get(i..)
            .and_then(|d| d.iter().position(|&b| b == 0xFF))
        {
            i += off;
            // A parsed header has a valid CRC-8.
            if let Some(e) = data.get(i..).and_then(|d| parse_frame_header(d).ok()) {
                if e.number == next && e.variable == h.variable {
                    self.check_flac_header(&e)?;
                    return Err(Error::Corrupt(
                        "a FLAC frame could not be decoded (it was skipped over as damaged)".into(),
                    ));
                }
            }
            i += 1;
        }
        Ok(())
    }

    fn check_flac_header(&self, h: &FrameHeader) -> Result<(), Error> {
        let si_rate = self.decoder.codec_params().sample_rate;
        let si_channels = self
            .decoder
            .codec_params()
            .channels
            .as_ref()
            .map(|c| c.count());
        let si_bits = self.decoder.codec_params().bits_per_sample;
        if let (Some(r), Some(si)) = (h.rate, si_rate) {
            if r != si {
                return Err(Error::Unsupported(format!(
                    "the sample rate changes mid-stream ({si} Hz to {r} Hz)"
                )));
            }
        }
        if let Some(si) = si_channels {
            if h.assignment.channels() != si {
                return Err(Error::Unsupported(format!(
                    "the number of channels changes mid-stream ({si} to {})",
                    h.assignment.channels()
                )));
            }
        }
        let side = !matches!(h.assignment, Assignment::Independent(_));
        if side && (h.bits == Some(32) || (h.bits.is_none() && si_bits == Some(32))) {
            // The side channel of 32-bit stereo needs 33 bits (RFC 9639
            // §9.2.1), more than this decoder handles.
            return Err(Error::Unsupported(
                "32-bit FLAC with stereo decorrelation (33-bit side channel)".into(),
            ));
        }
        if let (Some(b), Some(si)) = (h.bits, si_bits) {
            if b != si {
                return Err(Error::Unsupported(format!(
                    "the bit depth changes mid-stream ({si} to {b} bits)"
                )));
            }
        }
        Ok(())
    }

    /// Skips a bad packet of a lossy stream, or fails.
    fn on_decode_error(&mut self, e: SymError) -> Result<(), Error> {
        let recoverable = matches!(e, SymError::DecodeError(_) | SymError::IoError(_));
        if self.lossless || !recoverable {
            return Err(map_stream_error(e));
        }
        self.consecutive_errors += 1;
        self.bad_packets += 1;
        if self.first_bad.is_none() {
            self.first_bad = Some((self.output_frames, e.to_string()));
        }
        if self.consecutive_errors > MAX_CONSECUTIVE_ERRORS {
            return Err(Error::Corrupt(format!(
                "the audio data is damaged: {MAX_CONSECUTIVE_ERRORS} packets in a row could not be decoded ({e})"
            )));
        }
        Ok(())
    }

    /// Appends the decoder's last buffer to `out`, checking its shape.
    fn append_last(&mut self, out: &mut Samples) -> Result<(), Error> {
        let buf = self.decoder.last_decoded();
        let rate = buf.spec().rate();
        let channels = buf.spec().channels().count();
        if rate != self.spec.sample_rate {
            return Err(Error::Unsupported(format!(
                "the sample rate changes mid-stream ({} Hz to {rate} Hz)",
                self.spec.sample_rate
            )));
        }
        if channels != usize::from(self.spec.channels) {
            return Err(Error::Unsupported(format!(
                "the number of channels changes mid-stream ({} to {channels})",
                self.spec.channels
            )));
        }
        if self.lossless && matches!(self.spec.format, SampleFormat::Int { .. }) {
            let kind = buffer_kind(&buf);
            let expected = if self.shift > 0 {
                32
            } else {
                u32::from(self.spec.format.bits())
            };
            if kind != Kind::Int(expected) && !(kind == Kind::Int(32) && self.shift == 0) {
                return Err(Error::Unsupported(
                    "the sample format changes mid-stream".into(),
                ));
            }
        }
        let n = buf.frames() as u64;
        self.decoded_frames += n;
        self.max_packet_frames = self.max_packet_frames.max(n);
        let base = out.len();
        interleave(&buf, out, self.shift);
        self.consecutive_errors = 0;
        // The MP4 edit: priming dropped at the start, padding at the end.
        let drop = self.skip_left.min(n);
        self.skip_left -= drop;
        let mut keep = n - drop;
        if let Some(k) = &mut self.keep_left {
            keep = keep.min(*k);
            *k -= keep;
        }
        if keep < n {
            let c = channels;
            let from = base + drop as usize * c;
            let to = from + keep as usize * c;
            match out {
                Samples::Int(v) => {
                    v.truncate(to);
                    v.drain(base..from);
                }
                Samples::Float(v) => {
                    v.truncate(to);
                    v.drain(base..from);
                }
            }
        }
        self.output_frames += keep;
        Ok(())
    }

    fn end_checks(&mut self) -> Result<(), Error> {
        let got = self.output_frames;
        if self.lossless {
            if let Some(n) = self.declared_frames {
                if n != got {
                    return Err(Error::Corrupt(if got < n {
                        format!(
                            "the file is truncated: the header announces {n} frames but only {got} could be decoded"
                        )
                    } else {
                        format!("the stream holds {got} frames but its header announces {n}")
                    }));
                }
            }
        } else {
            let secs = |f: u64| f as f64 / f64::from(self.spec.sample_rate.max(1));
            if let Some(n) = self.lossy_declared {
                // Two packets of slack: encoders round their frame counts.
                if got.saturating_add(2 * self.max_packet_frames) < n {
                    return Err(Error::Corrupt(format!(
                        "truncated: decoded {:.2} s of the {:.2} s the header declares",
                        secs(got),
                        secs(n)
                    )));
                }
            }
            if self.ogg_missing_eos {
                return Err(Error::Corrupt(
                    "truncated: the Ogg stream ends without its end-of-stream page".into(),
                ));
            }
            if let Some((at, why)) = &self.first_bad {
                return Err(Error::Corrupt(format!(
                    "damaged: {} packet(s) could not be decoded (the first at {:.2} s: {why})",
                    self.bad_packets,
                    secs(*at)
                )));
            }
        }
        if self.is_flac && self.decoder.finalize().verify_ok == Some(false) {
            return Err(Error::Corrupt(
                "decoded audio does not match the MD5 signature in STREAMINFO".into(),
            ));
        }
        Ok(())
    }
}

impl PacketDecoder for MediaFile {
    fn info(&self) -> &MediaInfo {
        &self.info
    }

    fn spec(&self) -> AudioSpec {
        self.spec
    }

    fn decode_next(&mut self, out: &mut Samples) -> Result<bool, Error> {
        // After a panic the decoder's state is unknown: the Reader stops
        // at the error and never calls again.
        guard(|| self.decode_packet(out))?
    }
}

impl MediaFile {
    fn decode_packet(&mut self, out: &mut Samples) -> Result<bool, Error> {
        if let Some(p) = self.primed.take() {
            match (out, p) {
                (Samples::Int(o), Samples::Int(p)) => o.extend_from_slice(&p),
                (Samples::Float(o), Samples::Float(p)) => o.extend_from_slice(&p),
                _ => {}
            }
            return Ok(true);
        }
        if self.ended {
            return Ok(false);
        }
        loop {
            let Some(packet) = self.next_packet()? else {
                self.ended = true;
                self.end_checks()?;
                return Ok(false);
            };
            match self.decoder.decode(&packet) {
                Ok(_) => {
                    self.append_last(out)?;
                    return Ok(true);
                }
                Err(e) => self.on_decode_error(e)?,
            }
        }
    }
}

/// True when an MPEG audio file starts with a Xing, Info or VBRI frame,
/// which states the number of frames (rather than leaving the length to be
/// estimated from the file size).
fn mpeg_has_length_header(f: &mut File) -> bool {
    let mut head = [0u8; 10];
    if f.seek(SeekFrom::Start(0)).is_err() || f.read_exact(&mut head).is_err() {
        return false;
    }
    // ID3v2 (id3v2.4.0-structure §3.1): a syncsafe size, plus a footer.
    let mut start = 0u64;
    if &head[0..3] == b"ID3" {
        let size = head[6..10]
            .iter()
            .fold(0u64, |a, &b| (a << 7) | u64::from(b & 0x7F));
        let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
        start = 10 + size + footer;
    }
    let mut buf = vec![0u8; 8192];
    if f.seek(SeekFrom::Start(start)).is_err() {
        return false;
    }
    let n = f.read(&mut buf).unwrap_or(0);
    let buf = buf.get(..n).unwrap_or_default();
    // The first frame sync (11 set bits), then the tag within its first
    // bytes (after the side information, at most 36 bytes in).
    let Some(sync) = buf
        .windows(2)
        .position(|w| w[0] == 0xFF && w[1] & 0xE0 == 0xE0)
    else {
        return false;
    };
    let frame = buf
        .get(sync..(sync + 64).min(buf.len()))
        .unwrap_or_default();
    frame
        .windows(4)
        .any(|w| w == b"Xing" || w == b"Info" || w == b"VBRI")
}

/// Whether the last page of Ogg stream `serial` is flagged end-of-stream
/// (RFC 3533 §6); `None` when no page of it is found near the end.
fn ogg_last_page_eos(f: &mut File, serial: u32) -> Option<bool> {
    let len = f.metadata().ok()?.len();
    let scan = MAX_PAGE_LEN as u64 + 1024;
    f.seek(SeekFrom::Start(len.saturating_sub(scan))).ok()?;
    let mut tail = Vec::new();
    f.take(scan).read_to_end(&mut tail).ok()?;
    let last = pages_backwards(&tail, serial).next();
    last.map(|h| h.flags & FLAG_EOS != 0)
}

/// What sample type a decoded buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int(u32),
    Float,
}

fn buffer_kind(buf: &GenericAudioBufferRef<'_>) -> Kind {
    match buf {
        GenericAudioBufferRef::U8(_) | GenericAudioBufferRef::S8(_) => Kind::Int(8),
        GenericAudioBufferRef::U16(_) | GenericAudioBufferRef::S16(_) => Kind::Int(16),
        GenericAudioBufferRef::U24(_) | GenericAudioBufferRef::S24(_) => Kind::Int(24),
        GenericAudioBufferRef::U32(_) | GenericAudioBufferRef::S32(_) => Kind::Int(32),
        GenericAudioBufferRef::F32(_) | GenericAudioBufferRef::F64(_) => Kind::Float,
    }
}

fn empty_like(f: SampleFormat) -> Samples {
    match f {
        SampleFormat::Int { .. } => Samples::Int(Vec::new()),
        SampleFormat::Float => Samples::Float(Vec::new()),
    }
}

/// Interleaves planar samples into `out`, converting each with `f`.
fn interleave_with<S: Sample, T: Copy + Default>(
    buf: &AudioBuffer<S>,
    out: &mut Vec<T>,
    f: impl Fn(S) -> T,
) {
    let n = buf.num_planes();
    let frames = buf.frames();
    let base = out.len();
    out.resize(base + frames * n, T::default());
    let Some(dst) = out.get_mut(base..) else {
        return;
    };
    for ch in 0..n {
        if let Some(plane) = buf.plane(ch) {
            for (d, &s) in dst.iter_mut().skip(ch).step_by(n).zip(plane) {
                *d = f(s);
            }
        }
    }
}

/// Appends `buf` to `out`: integers right-justified (undoing a left shift
/// of `shift` bits), floats as `f32`. Integer buffers going to a float
/// output (lossy codecs decoding to integers) are scaled to -1..1.
fn interleave(buf: &GenericAudioBufferRef<'_>, out: &mut Samples, shift: u32) {
    use GenericAudioBufferRef as G;
    match out {
        Samples::Int(o) => match buf {
            G::U8(b) => interleave_with(b, o, |s| i32::from(s) - 0x80),
            G::S8(b) => interleave_with(b, o, i32::from),
            G::U16(b) => interleave_with(b, o, |s| i32::from(s) - 0x8000),
            G::S16(b) => interleave_with(b, o, i32::from),
            G::U24(b) => interleave_with(b, o, |s| s.inner() as i32 - 0x80_0000),
            G::S24(b) => interleave_with(b, o, |s| s.inner()),
            G::U32(b) => interleave_with(b, o, |s| ((s ^ 0x8000_0000) as i32) >> shift),
            G::S32(b) => interleave_with(b, o, |s| s >> shift),
            // Not reached: float buffers always go to float outputs.
            G::F32(_) | G::F64(_) => {}
        },
        Samples::Float(o) => match buf {
            G::F32(b) => interleave_with(b, o, |s| s),
            G::F64(b) => interleave_with(b, o, |s| s as f32),
            G::U8(b) => interleave_with(b, o, |s| (f32::from(s) - 128.0) / 128.0),
            G::S8(b) => interleave_with(b, o, |s| f32::from(s) / 128.0),
            G::U16(b) => interleave_with(b, o, |s| (f32::from(s) - 32768.0) / 32768.0),
            G::S16(b) => interleave_with(b, o, |s| f32::from(s) / 32768.0),
            G::U24(b) => interleave_with(b, o, |s| (s.inner() as f32 - 8_388_608.0) / 8_388_608.0),
            G::S24(b) => interleave_with(b, o, |s| s.inner() as f32 / 8_388_608.0),
            G::U32(b) => interleave_with(b, o, |s| {
                ((s ^ 0x8000_0000) as i32) as f32 / 2_147_483_648.0
            }),
            G::S32(b) => interleave_with(b, o, |s| s as f32 / 2_147_483_648.0),
        },
    }
}

/// The bit depth in an ALAC magic cookie (Apple's `ALACSpecificConfig`:
/// frameLength(4) compatibleVersion(1) bitDepth(1) …), which may follow a
/// `frma` and an `alac` atom header.
fn alac_bit_depth(mut b: &[u8]) -> Option<u32> {
    if b.get(4..8) == Some(b"frma") {
        b = b.get(12..)?;
    }
    if b.get(4..8) == Some(b"alac") {
        b = b.get(12..)?;
    }
    let d = u32::from(*b.get(5)?);
    (1..=32).contains(&d).then_some(d)
}
