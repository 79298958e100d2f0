//! Lossy encoders (MP3, Ogg Vorbis, Opus) checked against independent
//! decoders: ffmpeg, opusinfo and opusdec. Each test encodes a second or two of
//! generated sines and checks that the decoder accepts the file, returns
//! exactly the input's length (gapless metadata honoured) and that the audio is
//! the input's (a rough SNR against the known signal, which also catches a
//! misaligned start).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use aj_codec::encode::{create, EncoderOptions, MP3_BITRATES};
use aj_codec::Format;
use aj_core::{AudioSpec, Block, Samples};
use aj_testkit::have_tool;

/// Channel `c` carries a sine at `base * (c + 1)` Hz, amplitude 0.4, at
/// `rate`; with 6 channels (5.1, WAV order) the LFE channel (3) gets 60 Hz,
/// since encoders low-pass it.
fn sine_at(frames: usize, channels: u16, rate: u32, base: f64) -> Vec<f32> {
    let mut v = Vec::with_capacity(frames * usize::from(channels));
    for i in 0..frames {
        for c in 0..channels {
            let f = if channels == 6 && c == 3 {
                60.0
            } else {
                base * f64::from(c + 1)
            };
            let t = i as f64 / f64::from(rate);
            v.push(((2.0 * std::f64::consts::PI * f * t).sin() * 0.4) as f32);
        }
    }
    v
}

/// Encodes `samples` (interleaved float) to `path` in blocks of 1000 frames.
fn encode(format: Format, spec: AudioSpec, options: &EncoderOptions, samples: &[f32], path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = create(format, spec, options, file).unwrap();
    for piece in samples.chunks(1000 * usize::from(spec.channels)) {
        let block = Block {
            spec,
            samples: Samples::Float(piece.to_vec()),
        };
        enc.write(&block).unwrap();
    }
    enc.finish().unwrap();
}

/// Decodes with ffmpeg to interleaved float at the file's own rate and
/// channel count.
fn ffmpeg_decode(path: &Path) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Signal-to-noise ratio in dB of `got` against `want`, over the middle of
/// the signal (edges excluded: codecs smear the onset of a sine).
fn snr_db(got: &[f32], want: &[f32], channels: usize) -> f64 {
    assert_eq!(got.len(), want.len());
    let frames = got.len() / channels;
    let edge = frames / 10;
    let (mut sig, mut err) = (0.0f64, 0.0f64);
    for i in edge * channels..(frames - edge) * channels {
        sig += f64::from(want[i]).powi(2);
        err += f64::from(got[i] - want[i]).powi(2);
    }
    let snr = 10.0 * (sig / err.max(1e-20)).log10();
    eprintln!("SNR {snr:.1} dB");
    snr
}

fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

// ---------------------------------------------------------------- MP3

fn mp3_case(channels: u16, rate: u32, options: EncoderOptions, min_snr: f64) {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mp3");
    let frames = rate as usize + 1234; // not a whole number of MP3 frames
    let spec = AudioSpec::float(rate, channels);
    let input = sine_at(frames, channels, rate, 440.0);
    encode(Format::Mp3, spec, &options, &input, &path);

    let bytes = std::fs::read(&path).unwrap();
    // The first frame is LAME's info frame: "Xing" (VBR) or "Info" (CBR),
    // then the "LAME" extension with the delay and padding.
    let head = &bytes[..bytes.len().min(400)];
    let has = |tag: &[u8]| head.windows(tag.len()).any(|w| w == tag);
    assert!(has(b"Xing") || has(b"Info"), "no Xing/Info frame");
    assert!(has(b"LAME") || has(b"Lavc"), "no LAME extension");

    let decoded = ffmpeg_decode(&path);
    let ch = usize::from(channels);
    assert_eq!(
        decoded.len() / ch,
        frames,
        "decoded length differs from the input's"
    );
    assert!(peak(&decoded) > 0.2, "decoded audio is (nearly) silent");
    let snr = snr_db(&decoded, &input, ch);
    assert!(snr > min_snr, "SNR {snr:.1} dB");
}

#[test]
fn mp3_vbr_v2_stereo_is_gapless() {
    mp3_case(2, 44100, EncoderOptions::default(), 35.0);
}

#[test]
fn mp3_vbr_v0() {
    mp3_case(
        2,
        48000,
        EncoderOptions {
            quality: Some(0.0),
            ..Default::default()
        },
        35.0,
    );
}

#[test]
fn mp3_cbr_320() {
    mp3_case(
        2,
        44100,
        EncoderOptions {
            bitrate: Some(320),
            ..Default::default()
        },
        35.0,
    );
}

#[test]
fn mp3_abr_100_is_gapless() {
    mp3_case(
        2,
        44100,
        EncoderOptions {
            bitrate: Some(100),
            abr: true,
            ..Default::default()
        },
        20.0,
    );
    // 100 kb/s is no CBR bitrate: only ABR takes it.
    let cbr = EncoderOptions {
        bitrate: Some(100),
        ..Default::default()
    };
    let file = tempfile::tempfile().unwrap();
    let spec = AudioSpec::float(44100, 2);
    assert!(aj_codec::encode::create(Format::Mp3, spec, &cbr, file).is_err());
    let bad = EncoderOptions {
        bitrate: Some(400),
        abr: true,
        ..Default::default()
    };
    let file = tempfile::tempfile().unwrap();
    assert!(aj_codec::encode::create(Format::Mp3, spec, &bad, file).is_err());
}

#[test]
fn mp3_mono() {
    mp3_case(1, 44100, EncoderOptions::default(), 35.0);
}

#[test]
fn mp3_low_rate_cbr() {
    // MPEG-2 LSF rate and bitrate.
    mp3_case(
        1,
        22050,
        EncoderOptions {
            bitrate: Some(64),
            ..Default::default()
        },
        15.0,
    );
}

#[test]
fn mp3_resamples_rates_it_cannot_hold() {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mp3");
    let spec = AudioSpec::float(88200, 2);
    let frames = 88200 + 77;
    let input = sine_at(frames, 2, 88200, 440.0);
    encode(Format::Mp3, spec, &EncoderOptions::default(), &input, &path);
    let decoded = ffmpeg_decode(&path);
    // 88.2 kHz → 44.1 kHz: round(88277 / 2) = 44139 frames.
    assert_eq!(decoded.len() / 2, 44139);
    let want = sine_at(44139, 2, 44100, 440.0);
    let snr = snr_db(&decoded, &want, 2);
    assert!(snr > 35.0, "SNR {snr:.1} dB");
}

#[test]
fn mp3_refuses_what_it_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let f = || std::fs::File::create(dir.path().join("x.mp3")).unwrap();
    let e = create(
        Format::Mp3,
        AudioSpec::float(44100, 6),
        &EncoderOptions::default(),
        f(),
    );
    let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("at most 2 channels"), "{msg}");
    let bad_q = EncoderOptions {
        quality: Some(12.0),
        ..Default::default()
    };
    assert!(create(Format::Mp3, AudioSpec::float(44100, 2), &bad_q, f()).is_err());
    let bad_b = EncoderOptions {
        bitrate: Some(300),
        ..Default::default()
    };
    assert!(create(Format::Mp3, AudioSpec::float(44100, 2), &bad_b, f()).is_err());
}

// ---------------------------------------------------------------- Vorbis

fn vorbis_case(channels: u16, rate: u32, options: EncoderOptions, min_snr: f64) {
    if !have_tool("oggdec") || !have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.ogg");
    let wav = dir.path().join("x.wav");
    let frames = rate as usize + 999;
    let spec = AudioSpec::float(rate, channels);
    let input = sine_at(frames, channels, rate, 300.0);
    encode(Format::Ogg, spec, &options, &input, &path);

    // Length from libvorbis' own decoder. (ffmpeg 5.1 is off by a few
    // hundred samples on some Vorbis files, oggenc's as well as ours.)
    let st = Command::new("oggdec")
        .arg("-Q")
        .arg("-o")
        .arg(&wav)
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success(), "oggdec failed");
    assert_eq!(
        wav_frames(&wav),
        frames,
        "decoded length differs from the input's"
    );

    let ch = usize::from(channels);
    let decoded = if channels <= 2 {
        wav_samples(&wav)
    } else {
        // oggdec's WAV output scrambles 5.1 (its permutation table is applied
        // backwards); ffmpeg returns WAV order, as the channels went in, which
        // checks our reordering to the Vorbis order (each channel has its own
        // frequency).
        let d = ffmpeg_decode(&path);
        assert_eq!(d.len(), input.len(), "ffmpeg's length");
        d
    };
    assert!(peak(&decoded) > 0.2, "decoded audio is (nearly) silent");
    let snr = snr_db(&decoded, &input, ch);
    assert!(snr > min_snr, "SNR {snr:.1} dB");
}

#[test]
fn vorbis_q5_stereo_is_exact_length() {
    vorbis_case(2, 44100, EncoderOptions::default(), 30.0);
}

#[test]
fn vorbis_q_minus_1() {
    vorbis_case(
        2,
        44100,
        EncoderOptions {
            quality: Some(-1.0),
            ..Default::default()
        },
        20.0,
    );
}

#[test]
fn vorbis_six_channels_keep_their_places() {
    vorbis_case(6, 48000, EncoderOptions::default(), 12.0);
}

#[test]
fn vorbis_managed_bitrate() {
    vorbis_case(
        1,
        32000,
        EncoderOptions {
            bitrate: Some(96),
            ..Default::default()
        },
        30.0,
    );
}

#[test]
fn vorbis_refuses_nine_channels() {
    let dir = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(dir.path().join("x.ogg")).unwrap();
    let e = create(
        Format::Ogg,
        AudioSpec::float(48000, 9),
        &EncoderOptions::default(),
        f,
    );
    assert!(e.is_err());
    let f = std::fs::File::create(dir.path().join("y.ogg")).unwrap();
    let q = EncoderOptions {
        quality: Some(11.0),
        ..Default::default()
    };
    assert!(create(Format::Ogg, AudioSpec::float(48000, 2), &q, f).is_err());
}

// ---------------------------------------------------------------- Opus

/// Frames in a WAV file written by a decoder: the data chunk's size over the
/// frame size (also checked against the file's length).
fn wav_frames(path: &Path) -> usize {
    let (fmt, data) = wav_parse(path);
    let block_align = usize::from(u16::from_le_bytes([fmt[12], fmt[13]]));
    data.len() / block_align
}

/// The `fmt ` and `data` chunks of a RIFF WAVE file.
fn wav_parse(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"RIFF");
    assert_eq!(&b[8..12], b"WAVE");
    let mut pos = 12;
    let mut fmt = Vec::new();
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let len = u32::from_le_bytes([b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]]) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            fmt = b[body..body + len].to_vec();
        } else if id == b"data" {
            let end = (body + len).min(b.len());
            return (fmt, b[body..end].to_vec());
        }
        pos = body + len + (len & 1);
    }
    panic!("no data chunk in {}", path.display());
}

/// 16-bit WAV samples as float.
fn wav_samples(path: &Path) -> Vec<f32> {
    let (fmt, data) = wav_parse(path);
    assert_eq!(u16::from_le_bytes([fmt[14], fmt[15]]), 16);
    data.chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}

/// The pre-skip field of the OpusHead packet (RFC 7845 §5.1).
fn pre_skip(bytes: &[u8]) -> u16 {
    let at = bytes.windows(8).position(|w| w == b"OpusHead").unwrap();
    u16::from_le_bytes([bytes[at + 10], bytes[at + 11]])
}

fn opus_case(channels: u16, rate: u32, options: EncoderOptions, min_snr: f64) {
    if !have_tool("opusinfo") || !have_tool("opusdec") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.opus");
    let wav = dir.path().join("x.wav");
    let frames = rate as usize + 4321;
    let spec = AudioSpec::float(rate, channels);
    let input = sine_at(frames, channels, rate, 330.0);
    encode(Format::Opus, spec, &options, &input, &path);

    let bytes = std::fs::read(&path).unwrap();
    // libopus 1.3.1's look-ahead for the audio application: 2.5 ms plus 4 ms
    // of delay compensation, 312 samples at 48 kHz.
    assert_eq!(pre_skip(&bytes), 312);

    let info = Command::new("opusinfo").arg(&path).output().unwrap();
    let text =
        String::from_utf8_lossy(&info.stdout).to_string() + &String::from_utf8_lossy(&info.stderr);
    assert!(info.status.success(), "opusinfo failed:\n{text}");
    assert!(
        !text.contains("WARNING") && !text.contains("ERROR"),
        "opusinfo:\n{text}"
    );

    let st = Command::new("opusdec")
        .args(["--quiet", "--rate", "48000"])
        .arg(&path)
        .arg(&wav)
        .status()
        .unwrap();
    assert!(st.success(), "opusdec failed");
    let want_frames = ((frames as u64 * 48000 + u64::from(rate) / 2) / u64::from(rate)) as usize;
    assert_eq!(wav_frames(&wav), want_frames, "decoded length");

    let decoded = wav_samples(&wav);
    assert!(peak(&decoded) > 0.2, "decoded audio is (nearly) silent");
    // opusdec writes WAV order, as the channels went in. The reference is
    // the same sines computed at 48 kHz, so a wrong pre-skip (a shifted
    // start), a bad resampler or a wrong channel order would show.
    let want = sine_at(want_frames, channels, 48000, 330.0);
    let snr = snr_db(&decoded, &want, usize::from(channels));
    assert!(snr > min_snr, "SNR {snr:.1} dB");
}

#[test]
fn opus_stereo_44k1_is_resampled_and_gapless() {
    opus_case(2, 44100, EncoderOptions::default(), 30.0);
}

#[test]
fn opus_mono_48k() {
    opus_case(
        1,
        48000,
        EncoderOptions {
            bitrate: Some(64),
            ..Default::default()
        },
        30.0,
    );
}

#[test]
fn opus_five_one() {
    opus_case(
        6,
        48000,
        EncoderOptions {
            bitrate: Some(256),
            ..Default::default()
        },
        20.0,
    );
}

#[test]
fn opus_native_16k() {
    opus_case(
        1,
        16000,
        EncoderOptions {
            bitrate: Some(32),
            ..Default::default()
        },
        18.0,
    );
}

#[test]
fn opus_tiny_input() {
    // Shorter than one frame, and shorter than the pre-skip.
    if !have_tool("opusdec") {
        return;
    }
    for frames in [0usize, 1, 100] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.opus");
        let wav = dir.path().join("x.wav");
        let input = sine_at(frames, 2, 48000, 1000.0);
        encode(
            Format::Opus,
            AudioSpec::float(48000, 2),
            &EncoderOptions::default(),
            &input,
            &path,
        );
        let st = Command::new("opusdec")
            .args(["--quiet", "--rate", "48000"])
            .arg(&path)
            .arg(&wav)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(wav_frames(&wav), frames, "{frames} frames");
    }
}

#[test]
fn opus_refuses_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let f = || std::fs::File::create(dir.path().join("x.opus")).unwrap();
    assert!(create(
        Format::Opus,
        AudioSpec::float(48000, 9),
        &EncoderOptions::default(),
        f()
    )
    .is_err());
    let low = EncoderOptions {
        bitrate: Some(2),
        ..Default::default()
    };
    let msg = create(Format::Opus, AudioSpec::float(48000, 2), &low, f())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("bitrate"), "{msg}");
}

// ------------------------------------------------- hostile samples and rates

/// Frames a decoder returns for `frames` at `rate` encoded as `format`: MP3
/// and Vorbis keep the rate (the cases below use MP3 rates), Opus decodes at
/// 48 kHz.
fn decoded_frames(format: Format, frames: usize, rate: u32) -> usize {
    match format {
        Format::Opus => ((frames as u64 * 48000 + u64::from(rate) / 2) / u64::from(rate)) as usize,
        _ => frames,
    }
}

/// Decodes `path` with the format's reference decoder (oggdec for Vorbis,
/// whose length ffmpeg gets wrong; opusdec for Opus; ffmpeg for MP3) and
/// returns interleaved samples.
fn reference_decode(format: Format, path: &Path) -> Vec<f32> {
    let wav = path.with_extension("wav");
    let st = match format {
        Format::Ogg => Command::new("oggdec")
            .args(["-Q", "-o"])
            .arg(&wav)
            .arg(path)
            .status()
            .unwrap(),
        Format::Opus => Command::new("opusdec")
            .args(["--quiet", "--rate", "48000"])
            .arg(path)
            .arg(&wav)
            .status()
            .unwrap(),
        _ => return ffmpeg_decode(path),
    };
    assert!(st.success(), "{format} decoder failed");
    wav_samples(&wav)
}

fn have_lossy_tools() -> bool {
    have_tool("ffmpeg") && have_tool("oggdec") && have_tool("opusdec")
}

/// NaN, ±∞ and absurd magnitudes in a float source (a damaged or hostile
/// float WAV) once aborted the process in LAME or panicked in the resampler.
/// Every lossy encoder must now write a valid file of the right length, at
/// a rate it takes as is (48 kHz) and at one it resamples (44.1 kHz for
/// Opus); non-finite samples come out as silence.
#[test]
fn hostile_samples_make_valid_files() {
    if !have_lossy_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for format in [Format::Mp3, Format::Ogg, Format::Opus] {
        for rate in [44100u32, 48000] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, -1e30] {
                let frames = rate as usize / 2 + 321;
                let mut input = sine_at(frames, 2, rate, 440.0);
                // One lone sample, and a run across a block boundary.
                input[2 * 3001] = bad;
                for s in &mut input[2 * 999..2 * 1100] {
                    *s = bad;
                }
                let path = dir.path().join(format!("x.{}", format.extension()));
                let spec = AudioSpec::float(rate, 2);
                encode(format, spec, &EncoderOptions::default(), &input, &path);
                let decoded = reference_decode(format, &path);
                let what = format!("{format} at {rate} Hz with {bad}");
                assert_eq!(
                    decoded.len() / 2,
                    decoded_frames(format, frames, rate),
                    "{what}: decoded length"
                );
                assert!(decoded.iter().all(|s| s.is_finite()), "{what}");
                assert!(peak(&decoded) > 0.2, "{what}: the sine is gone");
                if !bad.is_finite() {
                    assert!(peak(&decoded) < 0.9, "{what}: not silenced");
                }
            }
        }
    }
}

/// The clamp on sample magnitudes is low enough for LAME's worst case: a
/// full-scale square wave at the lowest bitrate, where ±1500 already made
/// it abort.
#[test]
fn mp3_huge_square_wave_at_8_kbps() {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mp3");
    let frames = 24000;
    let input: Vec<f32> = (0..frames * 2)
        .map(|i| if (i / 200) % 2 == 0 { 1e30 } else { -1e30 })
        .collect();
    let options = EncoderOptions {
        bitrate: Some(8),
        ..Default::default()
    };
    encode(
        Format::Mp3,
        AudioSpec::float(24000, 2),
        &options,
        &input,
        &path,
    );
    let decoded = ffmpeg_decode(&path);
    // 24-byte frames cannot hold LAME's info tag, so the length comes back
    // with the encoder's delay and padding: at least the input's.
    assert!(decoded.len() / 2 >= frames, "{}", decoded.len() / 2);
    assert!(decoded.iter().all(|s| s.is_finite()));
    assert!(peak(&decoded) > 1.0, "the square wave is gone");
}

/// A 1 Hz or 8 Hz source would resample to hours of audio (and once took
/// gigabytes of memory doing it): refused with a clear error. From 1000 Hz
/// up, sources are resampled as usual.
#[test]
fn absurd_source_rates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = || std::fs::File::create(dir.path().join("x")).unwrap();
    for format in [Format::Mp3, Format::Opus] {
        for rate in [1u32, 8, 999] {
            let e = create(
                format,
                AudioSpec::float(rate, 2),
                &EncoderOptions::default(),
                f(),
            );
            let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                msg.contains(&format!("{rate} Hz")) && msg.contains("1000 Hz"),
                "{format} at {rate} Hz: {msg:?}"
            );
        }
    }
    // Vorbis does not resample: libvorbis refuses such rates itself, or
    // encodes them; either way without a panic.
    for rate in [1u32, 8] {
        if let Ok(mut enc) = create(
            Format::Ogg,
            AudioSpec::float(rate, 1),
            &EncoderOptions::default(),
            f(),
        ) {
            let block = Block {
                spec: AudioSpec::float(rate, 1),
                samples: Samples::Float(vec![0.1; 64]),
            };
            let _ = enc.write(&block).and_then(|()| enc.finish());
        }
    }
}

/// The lowest rate resampled: 1 kHz to Opus (48 kHz) and MP3 (8 kHz), with
/// the exact length out.
#[test]
fn one_khz_sources_are_resampled() {
    if !have_lossy_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = 1234;
    let input = sine_at(frames, 1, 1000, 100.0);
    for (format, want) in [(Format::Opus, 59232usize), (Format::Mp3, 9872)] {
        let path = dir.path().join(format!("x.{}", format.extension()));
        encode(
            format,
            AudioSpec::float(1000, 1),
            &EncoderOptions::default(),
            &input,
            &path,
        );
        let decoded = reference_decode(format, &path);
        assert_eq!(decoded.len(), want, "{format}");
        assert!(peak(&decoded) > 0.2, "{format}: silent");
    }
}

/// The bitrate of each Layer III frame in `bytes` (an MP3 with no tags),
/// from its header: ISO/IEC 11172-3 and 13818-3 section 2.4.1.3.
fn mp3_frame_bitrates(bytes: &[u8]) -> Vec<u32> {
    const V1: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 4 <= bytes.len() {
        let h = u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
        assert_eq!(h >> 21, 0x7FF, "no frame sync at {pos}");
        let version = (h >> 19) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG 2.5
        assert_eq!((h >> 17) & 3, 1, "not Layer III");
        let index = ((h >> 12) & 15) as usize;
        let rates: [u32; 3] = match version {
            3 => [44100, 48000, 32000],
            2 => [22050, 24000, 16000],
            _ => [11025, 12000, 8000],
        };
        let rate = rates[((h >> 10) & 3) as usize];
        let pad = ((h >> 9) & 1) as usize;
        let kbps = if version == 3 { V1[index] } else { V2[index] };
        let per = if version == 3 { 144_000 } else { 72_000 };
        out.push(kbps);
        pos += (per * kbps / rate) as usize + pad;
    }
    assert_eq!(pos, bytes.len(), "frames do not end with the file");
    out
}

/// Every bitrate offered really is written, frame after frame (56 and 144
/// included, which the `mp3lame-encoder` crate cannot ask for), at a rate
/// whose MPEG version has it.
#[test]
fn mp3_every_listed_bitrate_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mp3");
    for &kbps in MP3_BITRATES {
        let rate = match kbps {
            8 | 16 | 24 | 144 => 22050,
            _ => 44100,
        };
        let input = sine_at(rate as usize / 2, 2, rate, 440.0);
        let options = EncoderOptions {
            bitrate: Some(kbps),
            ..Default::default()
        };
        encode(
            Format::Mp3,
            AudioSpec::float(rate, 2),
            &options,
            &input,
            &path,
        );
        let rates = mp3_frame_bitrates(&std::fs::read(&path).unwrap());
        assert!(rates.len() > 10, "{kbps}: {} frames", rates.len());
        assert!(rates.iter().all(|&r| r == kbps), "{kbps} kb/s: {rates:?}");
    }
}

/// Bitrates outside the list, or above what the rate's MPEG version holds,
/// are refused with a message saying what would work, never rounded.
#[test]
fn mp3_bitrate_errors_say_what_works() {
    let dir = tempfile::tempdir().unwrap();
    let f = || std::fs::File::create(dir.path().join("x.mp3")).unwrap();
    let msg = |rate: u32, kbps: u32| {
        let o = EncoderOptions {
            bitrate: Some(kbps),
            ..Default::default()
        };
        create(Format::Mp3, AudioSpec::float(rate, 2), &o, f())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let m = msg(44100, 100);
    assert!(
        m.contains("100 kb/s") && m.contains("56, 64") && m.contains("144"),
        "{m}"
    );
    let m = msg(22050, 320);
    assert!(
        m.contains("22050 Hz") && m.contains("at most 160 kb/s"),
        "{m}"
    );
    let m = msg(11025, 128);
    assert!(m.contains("at most 64 kb/s"), "{m}");
    let m = msg(48000, 144);
    assert!(m.contains("144 kb/s"), "{m}");
    // A 96 kHz source is written at 48 kHz: MPEG-1 bitrates.
    assert!(msg(96000, 320).is_empty());
    assert!(!msg(96000, 16).is_empty());
}
