//! `aj convert` with DSP (`--rate`, `--bits`, `--channels`, `--gain`,
//! `--apply-replaygain`), run for real on temporary folders.

#![allow(clippy::unwrap_used)]

mod util;

use std::path::{Path, PathBuf};

use aj_codec::tags::{self, TagKey};
use aj_codec::Format;
use aj_core::AudioSpec;
use aj_dsp::loudness::{LoudnessMeter, PeakMode};
use util::{decode_all, run, s};

/// A WAV of `channels` channels, each a sine (channel `c` at `freq·(c+1)`)
/// at `level` dBFS.
fn tone(dir: &Path, name: &str, rate: u32, channels: u16, bits: u8, level: f64) -> PathBuf {
    let p = dir.join(name);
    let v = aj_testkit::sine(
        rate as usize,
        channels,
        rate,
        bits,
        440.0,
        10f64.powf(level / 20.0),
    );
    aj_testkit::write_wav(&p, &v, channels, rate, bits);
    p
}

fn convert(input: &Path, fmt: &str, out: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec!["convert", s(input), "-f", fmt, "-o", s(out), "--json"];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert_eq!(r.status, 0, "{}{}", r.stdout, r.stderr);
    out.join(input.file_stem().unwrap()).with_extension(fmt)
}

fn peak(v: &[i32]) -> i32 {
    v.iter().map(|x| x.abs()).max().unwrap_or(0)
}

fn loudness(path: &Path) -> (f64, f64) {
    let mut d = aj_codec::decode::open(path).unwrap();
    let mut m = LoudnessMeter::new(d.spec(), PeakMode::Sample).unwrap();
    while let Some(b) = d.read(4096).unwrap() {
        m.add(&b).unwrap();
    }
    let r = m.measurement();
    (r.integrated().unwrap(), r.sample_peak())
}

#[test]
fn no_dsp_flac_to_flac_is_bit_exact_and_equal_settings_are_no_ops() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("n.wav");
    let samples = aj_testkit::noise(30_000, 2, 24, 7);
    aj_testkit::write_wav(&wav, &samples, 2, 48000, 24);
    let flac = convert(&wav, "flac", &dir.path().join("a"), &[]);
    // Same rate, same depth, same channels, 0 dB: nothing happens to samples.
    let again = convert(
        &flac,
        "flac",
        &dir.path().join("b"),
        &[
            "--rate",
            "48000",
            "--bits",
            "24",
            "--channels",
            "2",
            "--gain",
            "0",
        ],
    );
    let (spec, out) = decode_all(&again);
    assert_eq!(spec, AudioSpec::int(48000, 2, 24));
    assert_eq!(out, samples);
}

#[test]
fn bits_16_from_24_is_dithered_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let src = tone(dir.path(), "t.wav", 44100, 1, 24, -20.0);
    let out = convert(&src, "wav", &dir.path().join("o"), &["--bits", "16"]);
    let (spec, v) = decode_all(&out);
    assert_eq!(spec, AudioSpec::int(44100, 1, 16));
    let (_, orig) = decode_all(&src);
    // The error against the exact value (in 16-bit LSBs) is TPDF noise:
    // mean about 0, within ±1.5 LSB, variance near 1/4 + 1/12 (rounding plus
    // triangular dither of ±1 LSB), where truncation would give a mean of −½.
    let err: Vec<f64> = orig
        .iter()
        .zip(&v)
        .map(|(&a, &b)| f64::from(b) - f64::from(a) / 256.0)
        .collect();
    let n = err.len() as f64;
    let mean = err.iter().sum::<f64>() / n;
    let var = err.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 0.02, "mean {mean}");
    assert!(err.iter().all(|e| e.abs() < 1.5));
    assert!(
        (var - (1.0 / 12.0 + 1.0 / 6.0)).abs() < 0.05,
        "variance {var}"
    );
    // Not a plain rounding either: many samples differ from it.
    let differ = orig
        .iter()
        .zip(&v)
        .filter(|(&a, &b)| (f64::from(a) / 256.0).round() as i32 != b)
        .count();
    assert!(differ > v.len() / 10, "{differ}");
}

#[test]
fn channels_1_from_stereo_and_from_5_1() {
    let dir = tempfile::tempdir().unwrap();
    // Stereo: L = sine, R = the same sine: mono = the average = the sine.
    let st = dir.path().join("st.wav");
    let one = aj_testkit::sine(8000, 1, 48000, 16, 1000.0, 0.5);
    let both: Vec<i32> = one.iter().flat_map(|&x| [x, x / 2]).collect();
    aj_testkit::write_wav(&st, &both, 2, 48000, 16);
    let out = convert(&st, "flac", &dir.path().join("m"), &["--channels", "1"]);
    let (spec, v) = decode_all(&out);
    assert_eq!(spec.channels, 1);
    assert_eq!(v.len(), one.len());
    for (o, &x) in v.iter().zip(&one) {
        let want = (f64::from(x) + f64::from(x / 2)) / 2.0;
        assert!((f64::from(*o) - want).abs() <= 1.5, "{o} vs {want}");
    }

    // 5.1 with only the centre carrying a tone at −6 dBFS: each side gets it
    // at −3 dB, the mono mix too; the LFE (full scale) is dropped.
    let six = dir.path().join("six.wav");
    let c = aj_testkit::sine(8000, 1, 48000, 16, 1000.0, 0.5);
    let lfe = aj_testkit::sine(8000, 1, 48000, 16, 50.0, 0.99);
    let mut v6 = Vec::new();
    for (x, l) in c.iter().zip(&lfe) {
        v6.extend([0, 0, *x, *l, 0, 0]);
    }
    aj_testkit::write_wav(&six, &v6, 6, 48000, 16);
    for ch in ["2", "1"] {
        let out = convert(&six, "wav", &dir.path().join(ch), &["--channels", ch]);
        let (spec, v) = decode_all(&out);
        assert_eq!(spec.channels.to_string(), ch);
        let want = f64::from(peak(&c)) * std::f64::consts::FRAC_1_SQRT_2;
        let got = f64::from(peak(&v));
        assert!((got - want).abs() < 3.0, "{ch}: {got} vs {want}");
    }
}

#[test]
fn rate_48000_from_44100_has_the_exact_length() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("r.wav");
    let frames = 44_100 + 1234;
    let v = aj_testkit::sine(frames, 2, 44100, 16, 1000.0, 0.5);
    aj_testkit::write_wav(&src, &v, 2, 44100, 16);
    let out = convert(&src, "flac", &dir.path().join("o"), &["--rate", "48000"]);
    let (spec, o) = decode_all(&out);
    assert_eq!(spec, AudioSpec::int(48000, 2, 16));
    // round(45334 · 48000 / 44100) = 49343
    assert_eq!(o.len() / 2, 49_343);
}

#[test]
fn gain_minus_6_halves_the_amplitude() {
    let dir = tempfile::tempdir().unwrap();
    let src = tone(dir.path(), "g.wav", 44100, 2, 24, -3.0);
    let out = convert(&src, "flac", &dir.path().join("o"), &["--gain", "-6.0206"]);
    let (_, a) = decode_all(&src);
    let (_, b) = decode_all(&out);
    for (x, y) in a.iter().zip(&b) {
        assert!((f64::from(*x) / 2.0 - f64::from(*y)).abs() <= 2.0);
    }
}

#[test]
fn positive_gain_is_limited_to_full_scale() {
    let dir = tempfile::tempdir().unwrap();
    let src = tone(dir.path(), "g.wav", 44100, 1, 16, -6.0);
    let out = convert(&src, "wav", &dir.path().join("o"), &["--gain", "12"]);
    let (_, v) = decode_all(&out);
    // +12 dB would clip; the guard gives +6 dB: the peak lands at full scale.
    let p = peak(&v);
    assert!((32_700..=32_768).contains(&p), "{p}");
    // The rest is the input scaled, not flattened: one gain for the file.
    let (_, a) = decode_all(&src);
    let k = f64::from(p) / f64::from(peak(&a));
    for (x, y) in a.iter().zip(&v) {
        assert!((f64::from(*x) * k - f64::from(*y)).abs() <= 2.5, "{x} {y}");
    }
}

/// Two files 12 dB apart come out at the same loudness, without clipping:
/// one through its ReplayGain tags, the other measured.
#[test]
fn apply_replaygain_evens_out_loudness_without_clipping() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = tone(dir.path(), "quiet.wav", 44100, 2, 16, -30.0);
    let loud = tone(dir.path(), "loud.wav", 44100, 2, 16, -18.0);
    // Tags on the quiet one (written by aj gain); the loud one has none.
    let r = run(&["gain", s(&quiet)]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(tags::read(&quiet)
        .unwrap()
        .get(&TagKey::ReplayGainTrackGain)
        .is_some());
    let o = dir.path().join("o");
    let a = convert(&quiet, "flac", &o, &["--apply-replaygain", "track"]);
    let b = convert(&loud, "flac", &o, &["--apply-replaygain", "album"]);
    let (la, pa) = loudness(&a);
    let (lb, pb) = loudness(&b);
    assert!((la - lb).abs() < 0.2, "{la} vs {lb}");
    assert!((la + 18.0).abs() < 0.3, "{la}");
    assert!(pa < 1.0 && pb < 1.0, "{pa} {pb}");
    // The source's gain tags do not survive into the changed output.
    assert!(tags::read(&a)
        .unwrap()
        .get(&TagKey::ReplayGainTrackGain)
        .is_none());

    // A quiet file with a loud click would need about +22 dB, which would
    // clip the click: the guard stops where the click reaches full scale.
    let clicky = dir.path().join("clicky.wav");
    let mut v = aj_testkit::sine(88_200, 2, 44100, 16, 440.0, 0.01);
    v[44_100] = 29_000;
    aj_testkit::write_wav(&clicky, &v, 2, 44100, 16);
    let c = convert(&clicky, "flac", &o, &["--apply-replaygain", "track"]);
    let (lc, pc) = loudness(&c);
    assert!(pc <= 1.0 && pc > 0.99, "{pc}");
    assert!(lc < -25.0, "{lc}");
}

#[test]
fn float_wav_output_and_lossy_rates() {
    let dir = tempfile::tempdir().unwrap();
    let src = tone(dir.path(), "f.wav", 44100, 2, 16, -6.0);
    let out = convert(&src, "wav", &dir.path().join("f"), &["--bits", "float"]);
    let d = aj_codec::decode::open(&out).unwrap();
    assert_eq!(d.spec(), AudioSpec::float(44100, 2));
    // Opus at 24 kHz, MP3 at 22.05 kHz: rates those formats hold.
    let out = convert(&src, "mp3", &dir.path().join("m"), &["--rate", "22050"]);
    assert_eq!(
        aj_codec::decode::open(&out).unwrap().spec().sample_rate,
        22050
    );
}

#[test]
fn impossible_combinations_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let src = tone(dir.path(), "x.wav", 44100, 2, 16, -6.0);
    let x = s(&src);
    for (args, says) in [
        (vec!["-f", "mp3", "--rate", "96000"], "MP3 holds"),
        (vec!["-f", "opus", "--rate", "44100"], "Opus encodes at"),
        (vec!["-f", "mp3", "--bits", "16"], "--bits applies"),
        (vec!["-f", "flac", "--bits", "12"], "not one of"),
        (vec!["-f", "flac", "--bits", "float"], "WAV only"),
        (vec!["-f", "wav", "--channels", "6"], "only 1 (mono) and 2"),
        (vec!["-f", "wav", "--rate", "5"], "out of range"),
        (vec!["-f", "wav", "--gain", "100"], "out of range"),
        (
            vec!["-f", "wav", "--apply-replaygain", "disc"],
            "track or album",
        ),
    ] {
        let mut a = vec!["convert", x];
        a.extend(args);
        let r = run(&a);
        assert_eq!(r.status, 2, "{a:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{a:?}: {}", r.stderr);
    }
}

/// A job spec from JSON takes the new fields, with defaults when absent.
#[test]
fn spec_fields_from_json() {
    let spec: aj_jobs::ConvertSpec = serde_json::from_str(
        r#"{"inputs":["x.wav"],"format":"flac","rate":48000,"bits":16,"channels":1,
            "gain_db":-3.5,"apply_replaygain":"album"}"#,
    )
    .unwrap();
    assert_eq!(spec.dsp.rate, Some(48000));
    assert_eq!(spec.dsp.bits, Some(16));
    assert_eq!(spec.dsp.channels, Some(1));
    assert_eq!(spec.dsp.gain_db, Some(-3.5));
    assert_eq!(
        spec.dsp.apply_replaygain,
        Some(aj_jobs::convert::ApplyGain::Album)
    );
    let plain: aj_jobs::ConvertSpec =
        serde_json::from_str(r#"{"inputs":["x.wav"],"format":"flac"}"#).unwrap();
    assert_eq!(
        plain,
        aj_jobs::ConvertSpec::new(vec!["x.wav".into()], Format::Flac)
    );
}
