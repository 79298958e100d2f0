//! MP3 encoder: LAME (built from its bundled source by `mp3lame-sys`).
//!
//! - VBR by default: `quality` is LAME's `-V` 0 (best) … 9 (smallest),
//!   default 2; fractions are rounded to the nearest step.
//! - CBR when `bitrate` is given (kb/s): one of the MPEG bitrates below.
//!   (ABR is not offered: the `mp3lame-encoder` crate does not expose
//!   `lame_set_VBR_mean_bitrate_kbps`, and CBR is what a bitrate usually means
//!   to people asking for "320".)
//! - 1 or 2 channels. Sample rates LAME writes (ISO 11172-3 / 13818-3 and the
//!   MPEG 2.5 extension: 8, 11.025, 12, 16, 22.05, 24, 32, 44.1, 48 kHz) are
//!   kept as they are; any other rate is converted with aj-dsp's resampler to
//!   the nearest such rate at or above it (44.1 kHz for the 44.1 family above
//!   48 kHz, else 48 kHz), so that LAME never resamples on its own.
//! - Gapless: LAME keeps the first frame free for the Xing/LAME info tag. After
//!   the flush we ask for that frame (`lame_get_lametag_frame`) and write it
//!   over the placeholder at offset 0; it records the encoder delay and the
//!   padding, so players and decoders (ffmpeg, lame --decode) return exactly
//!   the samples that went in.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::num::NonZeroU32;

use aj_core::{AudioSpec, Block, SampleFormat};
use aj_dsp::resample::Resampler;
use mp3lame_encoder::{
    max_required_buffer_size, Bitrate, Builder, FlushGap, InterleavedPcm, Mode, MonoPcm, Quality,
    VbrMode,
};

use super::{Encoder, EncoderOptions};
use crate::Error;

/// Sample rates an MP3 stream can carry: MPEG-1 (ISO/IEC 11172-3), MPEG-2 LSF
/// (ISO/IEC 13818-3) and the MPEG 2.5 extension.
const MP3_RATES: [u32; 9] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];

/// CBR bitrates the `mp3lame-encoder` crate can ask LAME for, in kb/s
/// (ISO/IEC 11172-3 table 3-B.1 less 56, which the crate lacks; 8–24 are only
/// valid at the MPEG-2/2.5 rates, 256 and 320 only at the MPEG-1 rates).
const CBR_RATES: [(u32, Bitrate); 16] = [
    (8, Bitrate::Kbps8),
    (16, Bitrate::Kbps16),
    (24, Bitrate::Kbps24),
    (32, Bitrate::Kbps32),
    (40, Bitrate::Kbps40),
    (48, Bitrate::Kbps48),
    (64, Bitrate::Kbps64),
    (80, Bitrate::Kbps80),
    (96, Bitrate::Kbps96),
    (112, Bitrate::Kbps112),
    (128, Bitrate::Kbps128),
    (160, Bitrate::Kbps160),
    (192, Bitrate::Kbps192),
    (224, Bitrate::Kbps224),
    (256, Bitrate::Kbps256),
    (320, Bitrate::Kbps320),
];

/// Default VBR quality, LAME's `-V 2` (about 190 kb/s for stereo music).
const DEFAULT_VBR: f32 = 2.0;

/// Frames handed to LAME per call, so that the output buffer stays small.
const FRAMES_PER_CALL: usize = 4608;

/// The rate MP3 will be written at for a source at `rate`.
fn mp3_rate(rate: u32) -> u32 {
    if MP3_RATES.contains(&rate) {
        rate
    } else if rate > 48000 {
        if rate.is_multiple_of(11025) {
            44100
        } else {
            48000
        }
    } else {
        MP3_RATES
            .iter()
            .copied()
            .find(|&r| r >= rate)
            .unwrap_or(48000)
    }
}

fn vbr_quality(q: f32) -> Result<Quality, Error> {
    if !(0.0..=9.0).contains(&q) {
        return Err(Error::Encode(format!(
            "MP3 VBR quality must be V0 to V9, not V{q}"
        )));
    }
    Ok(match q.round() as u8 {
        0 => Quality::Best,
        1 => Quality::SecondBest,
        2 => Quality::NearBest,
        3 => Quality::VeryNice,
        4 => Quality::Nice,
        5 => Quality::Good,
        6 => Quality::Decent,
        7 => Quality::Ok,
        8 => Quality::SecondWorst,
        _ => Quality::Worst,
    })
}

fn cbr_bitrate(kbps: u32) -> Result<Bitrate, Error> {
    CBR_RATES
        .iter()
        .find(|(k, _)| *k == kbps)
        .map(|(_, b)| *b)
        .ok_or_else(|| {
            let list: Vec<String> = CBR_RATES.iter().map(|(k, _)| k.to_string()).collect();
            Error::Encode(format!(
                "MP3 bitrate {kbps} kb/s is not one of {} kb/s",
                list.join(", ")
            ))
        })
}

fn lame_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Encode(format!("LAME {what}: {e}"))
}

pub(super) fn create(
    spec: AudioSpec,
    options: &EncoderOptions,
    file: File,
) -> Result<Box<dyn Encoder>, Error> {
    if spec.format != SampleFormat::Float {
        return Err(Error::Encode("the MP3 encoder takes float samples".into()));
    }
    if spec.channels > 2 {
        return Err(Error::Unsupported("MP3 holds at most 2 channels".into()));
    }
    let channels = spec.channels as u8;
    let rate = mp3_rate(spec.sample_rate);
    let resampler = if rate == spec.sample_rate {
        None
    } else {
        Some(Resampler::new(spec.sample_rate, rate, spec.channels)?)
    };

    let mut b = Builder::new().ok_or_else(|| Error::Encode("LAME: out of memory".into()))?;
    b.set_num_channels(channels)
        .map_err(|e| lame_error("channels", e))?;
    b.set_sample_rate(rate)
        .map_err(|e| lame_error("sample rate", e))?;
    // Pin the output rate to the input rate: LAME would otherwise pick a
    // lower one for small bitrates and resample on its own.
    b.set_output_sample_rate(NonZeroU32::new(rate))
        .map_err(|e| lame_error("sample rate", e))?;
    b.set_mode(if channels == 1 {
        Mode::Mono
    } else {
        Mode::JointStereo
    })
    .map_err(|e| lame_error("mode", e))?;
    match options.bitrate {
        Some(kbps) => {
            b.set_vbr_mode(VbrMode::Off)
                .map_err(|e| lame_error("CBR", e))?;
            b.set_brate(cbr_bitrate(kbps)?)
                .map_err(|e| lame_error("bitrate", e))?;
        }
        None => {
            let q = vbr_quality(options.quality.unwrap_or(DEFAULT_VBR))?;
            b.set_vbr_mode(VbrMode::Mtrh)
                .map_err(|e| lame_error("VBR", e))?;
            b.set_vbr_quality(q)
                .map_err(|e| lame_error("VBR quality", e))?;
        }
    }
    b.set_to_write_vbr_tag(true)
        .map_err(|e| lame_error("info tag", e))?;
    let lame = b.build().map_err(|e| match e {
        mp3lame_encoder::BuildError::BadBRate => Error::Encode(format!(
            "LAME cannot write {} kb/s at {rate} Hz",
            options.bitrate.unwrap_or(0)
        )),
        e => lame_error("settings", e),
    })?;

    Ok(Box::new(Mp3Encoder {
        lame,
        spec,
        channels: usize::from(channels),
        file,
        resampler,
        resampled: Vec::new(),
        out: Vec::new(),
    }))
}

struct Mp3Encoder {
    lame: mp3lame_encoder::Encoder,
    spec: AudioSpec,
    channels: usize,
    file: File,
    resampler: Option<Resampler>,
    /// Reused buffer for resampled input.
    resampled: Vec<f32>,
    /// Reused buffer for LAME's output.
    out: Vec<u8>,
}

impl Mp3Encoder {
    fn encode(&mut self, samples: &[f32]) -> Result<(), Error> {
        for piece in samples.chunks(FRAMES_PER_CALL * self.channels) {
            let frames = piece.len() / self.channels;
            self.out.clear();
            self.out.reserve(max_required_buffer_size(frames));
            let r = if self.channels == 1 {
                self.lame.encode_to_vec(MonoPcm(piece), &mut self.out)
            } else {
                self.lame
                    .encode_to_vec(InterleavedPcm(piece), &mut self.out)
            };
            r.map_err(|e| lame_error("encoding", e))?;
            self.file.write_all(&self.out)?;
        }
        Ok(())
    }
}

impl Encoder for Mp3Encoder {
    fn write(&mut self, block: &Block) -> Result<(), Error> {
        if block.spec != self.spec {
            return Err(aj_core::Error::SpecMismatch {
                expected: self.spec,
                actual: block.spec,
            }
            .into());
        }
        let samples = block
            .as_float()
            .ok_or_else(|| Error::Encode("the MP3 encoder takes float samples".into()))?;
        match self.resampler.as_mut() {
            Some(r) => {
                let mut buf = std::mem::take(&mut self.resampled);
                buf.clear();
                r.process(samples, &mut buf)?;
                let res = self.encode(&buf);
                self.resampled = buf;
                res
            }
            None => self.encode(samples),
        }
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        if let Some(mut r) = self.resampler.take() {
            let mut buf = Vec::new();
            r.flush(&mut buf)?;
            self.encode(&buf)?;
        }
        self.out.clear();
        // LAME's flush emits at most a few frames; 7200 bytes is its stated
        // worst case, with room to spare.
        self.out.reserve(16 * 1024);
        self.lame
            .flush_to_vec::<FlushGap>(&mut self.out)
            .map_err(|e| lame_error("flush", e))?;
        self.file.write_all(&self.out)?;

        // The Xing/LAME info frame goes where LAME left room for it: the first
        // frame of the stream, at offset 0 (we write no ID3v2 tag before it).
        let size = self.lame.lame_tag_size();
        if size > 0 {
            let mut tag = Vec::with_capacity(size);
            match self.lame.lame_tag_encode_to_vec(&mut tag) {
                Some(n) if n.get() == size => {
                    self.file.seek(SeekFrom::Start(0))?;
                    self.file.write_all(&tag)?;
                    self.file.seek(SeekFrom::End(0))?;
                }
                _ => return Err(Error::Encode("LAME did not produce its info tag".into())),
            }
        }
        self.file.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_map_to_mp3_rates() {
        assert_eq!(mp3_rate(44100), 44100);
        assert_eq!(mp3_rate(8000), 8000);
        assert_eq!(mp3_rate(96000), 48000);
        assert_eq!(mp3_rate(88200), 44100);
        assert_eq!(mp3_rate(176400), 44100);
        assert_eq!(mp3_rate(37800), 44100);
        assert_eq!(mp3_rate(4000), 8000);
        assert_eq!(mp3_rate(64000), 48000);
    }

    #[test]
    fn options_are_checked() {
        assert!(vbr_quality(10.0).is_err());
        assert!(vbr_quality(-1.0).is_err());
        assert!(vbr_quality(0.0).is_ok());
        assert!(cbr_bitrate(320).is_ok());
        let e = cbr_bitrate(300)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("300 kb/s"), "{e}");
    }
}
