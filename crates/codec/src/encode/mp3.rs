//! MP3 encoder: LAME (built from its bundled source by `mp3lame-sys`).
//!
//! - VBR by default: `quality` is LAME's `-V` 0 (best) … 9 (smallest),
//!   default 2; fractions are rounded to the nearest step.
//! - CBR when `bitrate` is given (kb/s): one of [`MP3_BITRATES`], and one the
//!   stream's MPEG version carries at its rate (MPEG-1 at 32–48 kHz: 32–320;
//!   MPEG-2 at 16–24 kHz: 8–160; MPEG 2.5 at 8–12 kHz: 8–64); others are
//!   refused with a message naming what the rate allows, never silently
//!   replaced by the nearest. (LAME's ABR, `lame_set_VBR_mean_bitrate_kbps`,
//!   takes any bitrate from 8 to 320: asked with `abr` beside `bitrate`.)
//! - 1 or 2 channels. Sample rates LAME writes (ISO 11172-3 / 13818-3 and the
//!   MPEG 2.5 extension: 8, 11.025, 12, 16, 22.05, 24, 32, 44.1, 48 kHz) are
//!   kept as they are; any other rate is converted with aj-dsp's resampler to
//!   the nearest such rate at or above it (44.1 kHz for the 44.1 family above
//!   48 kHz, else 48 kHz), so that LAME never resamples on its own.
//! - Gapless: LAME keeps the first frame free for the Xing/LAME info tag. After
//!   the flush we ask for that frame (`lame_get_lametag_frame`) and write it
//!   over the placeholder at offset 0; it records the encoder delay and the
//!   padding, so players and decoders (ffmpeg, lame --decode) return exactly
//!   the samples that went in. Except at low CBR bitrates, whose frames are
//!   too small for the tag (LAME's `InitVbrTag` then leaves it out; checked:
//!   below 64 kb/s at 44.1/48 kHz, 48 at 32 kHz, 56–64 at 22.05/24 kHz, 40
//!   at 16 kHz, 32 at 11.025/12 kHz, 24 at 8 kHz), where decoders return the
//!   encoder's delay and padding too.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::num::NonZeroU32;

use aj_core::{AudioSpec, Block};
use mp3lame_encoder::{
    max_required_buffer_size, Builder, FlushGap, InterleavedPcm, Mode, MonoPcm, Quality, VbrMode,
};

use super::float_input::FloatInput;
use super::{Encoder, EncoderOptions};
use crate::Error;

/// Sample rates an MP3 stream can carry: MPEG-1 (ISO/IEC 11172-3), MPEG-2 LSF
/// (ISO/IEC 13818-3) and the MPEG 2.5 extension.
const MP3_RATES: [u32; 9] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];

/// Every CBR bitrate an MP3 can have, in kb/s: the union of the three tables
/// below. Which ones a given file can use depends on its sample rate (see
/// [`bitrates_at`]); `create` says so when the choice does not fit.
pub const MP3_BITRATES: &[u32] = &[
    8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 320,
];

/// Layer III bitrates of MPEG-1 (32, 44.1, 48 kHz): ISO/IEC 11172-3 section
/// 2.4.2.3, `bitrate_index` 1–14.
const MPEG1_BITRATES: &[u32] = &[
    32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
/// Layer III bitrates of MPEG-2 LSF (16, 22.05, 24 kHz): ISO/IEC 13818-3
/// section 2.4.2.3, `bitrate_index` 1–14.
const MPEG2_BITRATES: &[u32] = &[8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
/// MPEG 2.5 (8, 11.025, 12 kHz) is not an ISO standard; LAME caps it at
/// 64 kb/s (`bitrate_table[2]` in LAME's tables.c), so we do too.
const MPEG25_BITRATES: &[u32] = &[8, 16, 24, 32, 40, 48, 56, 64];

/// The CBR bitrates LAME writes at `rate` (one of [`MP3_RATES`]), with the
/// name of the MPEG version for messages.
fn bitrates_at(rate: u32) -> (&'static str, &'static [u32]) {
    if rate >= 32000 {
        ("MPEG-1", MPEG1_BITRATES)
    } else if rate >= 16000 {
        ("MPEG-2", MPEG2_BITRATES)
    } else {
        ("MPEG 2.5", MPEG25_BITRATES)
    }
}

fn kbps_list(list: &[u32]) -> String {
    let v: Vec<String> = list.iter().map(u32::to_string).collect();
    v.join(", ")
}

/// Default VBR quality, LAME's `-V 2` (about 190 kb/s for stereo music).
const DEFAULT_VBR: f32 = 2.0;

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

/// Checks a CBR bitrate for an MP3 at `rate` Hz (the rate written).
fn cbr_bitrate(kbps: u32, rate: u32) -> Result<u32, Error> {
    if !MP3_BITRATES.contains(&kbps) {
        return Err(Error::Encode(format!(
            "MP3 bitrate {kbps} kb/s is not one of {} kb/s",
            kbps_list(MP3_BITRATES)
        )));
    }
    let (version, list) = bitrates_at(rate);
    if !list.contains(&kbps) {
        let (lo, hi) = (
            list.first().copied().unwrap_or(0),
            list.last().copied().unwrap_or(0),
        );
        let limit = if kbps > hi {
            format!("at most {hi} kb/s")
        } else if kbps < lo {
            format!("at least {lo} kb/s")
        } else {
            "not this bitrate".to_string()
        };
        return Err(Error::Encode(format!(
            "an MP3 at {rate} Hz ({version}) takes {limit}, not {kbps} kb/s \
             (its bitrates: {} kb/s)",
            kbps_list(list)
        )));
    }
    Ok(kbps)
}

/// Asks LAME for CBR at `kbps`. The `mp3lame-encoder` crate's `Bitrate` enum
/// lacks 56 and 144 kb/s, so this goes to LAME directly; `kbps` has been
/// checked by [`cbr_bitrate`], so LAME does not round it to another value.
#[allow(unsafe_code)]
fn set_cbr(b: &mut Builder, kbps: u32) -> Result<(), Error> {
    let kbps = std::ffi::c_int::try_from(kbps)
        .map_err(|_| Error::Encode(format!("MP3 bitrate {kbps} kb/s")))?;
    // SAFETY: `as_ptr` gives the live `lame_global_flags` the builder owns
    // (allocated by `lame_init`, freed only by the builder's or encoder's
    // drop); we neither free nor keep it. `lame_set_brate` only stores an int
    // in that struct.
    let res = unsafe { mp3lame_encoder::ffi::lame_set_brate(b.as_ptr(), kbps) };
    if res == 0 {
        Ok(())
    } else {
        Err(Error::Encode(format!("LAME refused {kbps} kb/s")))
    }
}

/// How the bitrate is chosen.
enum RateMode {
    /// Constant, in kb/s.
    Cbr(u32),
    /// Average (LAME's ABR), in kb/s.
    Abr(u32),
    /// Variable at a quality (`-V`).
    Vbr(Quality),
}

/// ABR takes any mean bitrate from 8 to 320 kb/s (LAME's `--abr`).
fn abr_bitrate(kbps: u32) -> Result<u32, Error> {
    if (8..=320).contains(&kbps) {
        Ok(kbps)
    } else {
        Err(Error::Encode(format!(
            "MP3 average bitrate must be 8 to 320 kb/s, not {kbps} kb/s"
        )))
    }
}

/// Asks LAME for ABR around `kbps` (checked by [`abr_bitrate`]). The
/// `mp3lame-encoder` crate has the mode but no setter for the mean bitrate.
#[allow(unsafe_code)]
fn set_abr(b: &mut Builder, kbps: u32) -> Result<(), Error> {
    let kbps = std::ffi::c_int::try_from(kbps)
        .map_err(|_| Error::Encode(format!("MP3 bitrate {kbps} kb/s")))?;
    // SAFETY: as in `set_cbr`: the pointer is the builder's live
    // `lame_global_flags`, which this call only stores an int in.
    let res = unsafe { mp3lame_encoder::ffi::lame_set_VBR_mean_bitrate_kbps(b.as_ptr(), kbps) };
    if res == 0 {
        Ok(())
    } else {
        Err(Error::Encode(format!(
            "LAME refused an average of {kbps} kb/s"
        )))
    }
}

fn lame_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Encode(format!("LAME {what}: {e}"))
}

pub(super) fn create(
    spec: AudioSpec,
    options: &EncoderOptions,
    file: File,
) -> Result<Box<dyn Encoder>, Error> {
    if spec.channels > 2 {
        return Err(Error::Unsupported("MP3 holds at most 2 channels".into()));
    }
    let channels = spec.channels as u8;
    let rate = mp3_rate(spec.sample_rate);
    // Options first: a bad bitrate is the user's to fix whatever the source.
    let mode = match options.bitrate {
        Some(k) if options.abr => RateMode::Abr(abr_bitrate(k)?),
        Some(k) => RateMode::Cbr(cbr_bitrate(k, rate)?),
        None => RateMode::Vbr(vbr_quality(options.quality.unwrap_or(DEFAULT_VBR))?),
    };
    let input = FloatInput::new("MP3", spec, rate)?;

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
    match mode {
        RateMode::Cbr(kbps) => {
            b.set_vbr_mode(VbrMode::Off)
                .map_err(|e| lame_error("CBR", e))?;
            set_cbr(&mut b, kbps)?;
        }
        RateMode::Abr(kbps) => {
            b.set_vbr_mode(VbrMode::Abr)
                .map_err(|e| lame_error("ABR", e))?;
            set_abr(&mut b, kbps)?;
        }
        RateMode::Vbr(q) => {
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
        input,
        out: Mp3Out {
            lame,
            channels: usize::from(channels),
            file,
            buf: Vec::new(),
        },
    }))
}

struct Mp3Encoder {
    input: FloatInput,
    out: Mp3Out,
}

/// LAME and the file it writes to.
struct Mp3Out {
    lame: mp3lame_encoder::Encoder,
    channels: usize,
    file: File,
    /// Reused buffer for LAME's output.
    buf: Vec<u8>,
}

impl Mp3Out {
    /// Encodes interleaved samples at LAME's rate, a few thousand frames at a
    /// time (as [`FloatInput`] hands them over).
    fn encode(&mut self, samples: &[f32]) -> Result<(), Error> {
        let frames = samples.len() / self.channels;
        self.buf.clear();
        self.buf.reserve(max_required_buffer_size(frames));
        let r = if self.channels == 1 {
            self.lame.encode_to_vec(MonoPcm(samples), &mut self.buf)
        } else {
            self.lame
                .encode_to_vec(InterleavedPcm(samples), &mut self.buf)
        };
        r.map_err(|e| lame_error("encoding", e))?;
        self.file.write_all(&self.buf)?;
        Ok(())
    }
}

impl Encoder for Mp3Encoder {
    fn write(&mut self, block: &Block) -> Result<(), Error> {
        self.input.write(block, |s| self.out.encode(s))
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        self.input.finish(|s| self.out.encode(s))?;
        let out = &mut self.out;
        out.buf.clear();
        // LAME's flush emits at most a few frames; 7200 bytes is its stated
        // worst case, with room to spare.
        out.buf.reserve(16 * 1024);
        out.lame
            .flush_to_vec::<FlushGap>(&mut out.buf)
            .map_err(|e| lame_error("flush", e))?;
        out.file.write_all(&out.buf)?;

        // The Xing/LAME info frame goes where LAME left room for it: the first
        // frame of the stream, at offset 0 (we write no ID3v2 tag before it).
        let size = out.lame.lame_tag_size();
        if size > 0 {
            let mut tag = Vec::with_capacity(size);
            match out.lame.lame_tag_encode_to_vec(&mut tag) {
                Some(n) if n.get() == size => {
                    out.file.seek(SeekFrom::Start(0))?;
                    out.file.write_all(&tag)?;
                    out.file.seek(SeekFrom::End(0))?;
                }
                _ => return Err(Error::Encode("LAME did not produce its info tag".into())),
            }
        }
        out.file.flush()?;
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
        assert!(cbr_bitrate(320, 44100).is_ok());
        let e = cbr_bitrate(300, 44100)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("300 kb/s"), "{e}");
        let e = cbr_bitrate(320, 22050)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("at most 160 kb/s"), "{e}");
        let e = cbr_bitrate(144, 48000)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not this bitrate"), "{e}");
        let e = cbr_bitrate(8, 32000)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("at least 32 kb/s"), "{e}");
        assert!(cbr_bitrate(128, 8000).is_err());
        assert!(cbr_bitrate(64, 8000).is_ok());
        assert!(cbr_bitrate(144, 24000).is_ok());
        assert!(cbr_bitrate(56, 44100).is_ok());
    }

    /// The exported list is exactly the union of the per-version tables.
    #[test]
    fn bitrate_list_is_the_union_of_the_tables() {
        let mut all: Vec<u32> = MPEG1_BITRATES
            .iter()
            .chain(MPEG2_BITRATES)
            .chain(MPEG25_BITRATES)
            .copied()
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all, MP3_BITRATES);
    }
}
