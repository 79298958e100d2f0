//! Resampling quality, measured on generated signals: passband ripple
//! (multitone), stopband rejection (aliasing of tones above the new Nyquist
//! frequency, imaging when upsampling) and THD+N of a 1 kHz tone, for
//! [`Resampler`] and, when installed, for `sox rate -v` on the same input.
//! The method and the figures are in docs/dsp.md; the limits asserted here are
//! the ones written there.
//!
//! Set `AJ_DSP_REPORT=1` to print the figures (`cargo test -p aj-dsp --test
//! resample_quality -- --nocapture`).

#![allow(clippy::unwrap_used)]

use std::f64::consts::PI;
use std::process::Command;

use aj_dsp::resample::Resampler;

/// Rejection beyond this is below what the method can see (f32 samples,
/// one second analysed); reported as "≥ 200 dB".
const FLOOR_DB: f64 = 200.0;

/// A resampler under test: (mono input, from, to) → output.
type Convert = dyn Fn(&[f32], u32, u32) -> Vec<f32>;

/// Tone amplitude: −6 dBFS, so that sums and sox's output never clip.
const AMP: f64 = 0.5;

fn report() -> bool {
    std::env::var_os("AJ_DSP_REPORT").is_some()
}

/// `seconds` of the sum of `tones` (frequency, amplitude) at `rate`, mono.
fn tones(rate: u32, seconds: f64, tones: &[(f64, f64)]) -> Vec<f32> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            tones
                .iter()
                .map(|&(f, a)| a * (2.0 * PI * f * t).sin())
                .sum::<f64>() as f32
        })
        .collect()
}

fn ours(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    let mut r = Resampler::new(from, to, 1).unwrap();
    let mut out = Vec::new();
    for piece in input.chunks(4096) {
        r.process(piece, &mut out).unwrap();
    }
    r.flush(&mut out).unwrap();
    out
}

/// The same input through `sox rate -v` (raw 32-bit float in and out, so no
/// header or dither enters the comparison).
fn sox(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("in.f32"), dir.path().join("out.f32"));
    let bytes: Vec<u8> = input.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(&a, bytes).unwrap();
    let st = Command::new("sox")
        .args(["-t", "f32", "-r", &from.to_string(), "-c", "1"])
        .arg(&a)
        .args(["-t", "f32"])
        .arg(&b)
        .args(["rate", "-v", &to.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "sox failed");
    std::fs::read(&b)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The middle of `x`, away from the edges where the filter sees the silence
/// outside the signal: `keep` seconds centred.
fn middle(x: &[f32], rate: u32, keep: f64) -> &[f32] {
    let n = ((f64::from(rate) * keep) as usize).min(x.len());
    let start = (x.len() - n) / 2;
    &x[start..start + n]
}

/// 7-term Blackman-Harris window (side lobes near −180 dB), so that a strong
/// tone does not leak into the measurement of a faint one.
fn window(n: usize) -> Vec<f64> {
    const A: [f64; 7] = [
        0.271_051_400_693_424,
        -0.433_297_939_234_485,
        0.218_122_999_543_110,
        -0.065_925_446_388_031,
        0.010_811_742_098_373,
        -0.000_776_584_825_226,
        0.000_013_887_217_352,
    ];
    (0..n)
        .map(|i| {
            let x = 2.0 * PI * i as f64 / n as f64;
            A.iter()
                .enumerate()
                .map(|(k, a)| a * (k as f64 * x).cos())
                .sum()
        })
        .collect()
}

/// Amplitude of the component at `freq` in `x` (windowed projection).
fn level(x: &[f32], w: &[f64], rate: u32, freq: f64) -> f64 {
    let step = 2.0 * PI * freq / f64::from(rate);
    let (mut re, mut im, mut sw) = (0.0, 0.0, 0.0);
    for (i, (&s, &wi)) in x.iter().zip(w).enumerate() {
        let v = f64::from(s) * wi;
        re += v * (step * i as f64).cos();
        im += v * (step * i as f64).sin();
        sw += wi;
    }
    2.0 * (re * re + im * im).sqrt() / sw
}

fn db(x: f64) -> f64 {
    20.0 * x.max(1e-30).log10()
}

/// Passband: 48 tones from 20 Hz to 0.9 × the lower Nyquist frequency, each
/// at −40 dBFS; the gain of each through the resampler. Returns (ripple =
/// largest − smallest gain, largest |gain|) in dB.
fn passband(f: &Convert, from: u32, to: u32) -> (f64, f64) {
    let top = 0.9 * f64::from(from.min(to)) / 2.0;
    let count = 48;
    // Frequencies on a 1 Hz grid, spaced far more than the window's main lobe.
    let freqs: Vec<f64> = (0..count)
        .map(|k| (20.0 + (top - 20.0) * k as f64 / (count - 1) as f64).round())
        .collect();
    let a = 0.01;
    let spec: Vec<(f64, f64)> = freqs.iter().map(|&f| (f, a)).collect();
    let input = tones(from, 2.0, &spec);
    let out = f(&input, from, to);
    let x = middle(&out, to, 1.0);
    let w = window(x.len());
    let gains: Vec<f64> = freqs
        .iter()
        .map(|&fr| db(level(x, &w, to, fr) / a))
        .collect();
    let hi = gains.iter().cloned().fold(f64::MIN, f64::max);
    let lo = gains.iter().cloned().fold(f64::MAX, f64::min);
    let worst = gains.iter().map(|g| g.abs()).fold(0.0, f64::max);
    (hi - lo, worst)
}

/// Gain (dB) of one tone at `freq` (for the passband edge).
fn gain_at(f: &Convert, from: u32, to: u32, freq: f64) -> f64 {
    let input = tones(from, 1.0, &[(freq, AMP)]);
    let out = f(&input, from, to);
    let x = middle(&out, to, 0.5);
    db(level(x, &window(x.len()), to, freq) / AMP)
}

/// Rejection (dB, positive) of what a tone outside the output band leaves
/// inside it: for each tone, the level at the frequency it folds to, against
/// the tone's own level. The worst over the tones.
fn rejection(f: &Convert, from: u32, to: u32, freqs: &[f64]) -> f64 {
    let mut worst = f64::MAX;
    for &fr in freqs {
        let input = tones(from, 1.0, &[(fr, AMP)]);
        let out = f(&input, from, to);
        let x = middle(&out, to, 0.5);
        // Downsampling folds `fr` about the output rate; upsampling leaves an
        // image of it at `from − fr`.
        let lands = if to < from {
            let m = fr % f64::from(to);
            m.min(f64::from(to) - m)
        } else {
            f64::from(from) - fr
        };
        let r = -db(level(x, &window(x.len()), to, lands) / AMP);
        worst = worst.min(r);
    }
    worst
}

/// THD+N (dB, negative) of a 1 kHz tone at −6 dBFS: the residual after a
/// least-squares fit of the tone, against the tone.
fn thd_n(f: &Convert, from: u32, to: u32) -> f64 {
    let input = tones(from, 1.0, &[(1000.0, AMP)]);
    let out = f(&input, from, to);
    let x = middle(&out, to, 0.5);
    let step = 2.0 * PI * 1000.0 / f64::from(to);
    // Normal equations for x ≈ a·sin + b·cos.
    let (mut ss, mut cc, mut sc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let (s, c) = (step * i as f64).sin_cos();
        let v = f64::from(v);
        ss += s * s;
        cc += c * c;
        sc += s * c;
        xs += v * s;
        xc += v * c;
    }
    let det = ss * cc - sc * sc;
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    let (mut sig, mut err) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let (s, c) = (step * i as f64).sin_cos();
        let fit = a * s + b * c;
        sig += fit * fit;
        err += (f64::from(v) - fit).powi(2);
    }
    10.0 * (err / sig).max(1e-30).log10()
}

struct Figures {
    ripple: f64,
    worst_gain: f64,
    edge_095: f64,
    /// Gains at 0.98 and 0.995 of the Nyquist frequency (reported only).
    edge_098: f64,
    edge_0995: f64,
    rejection: f64,
    thd_n: f64,
}

fn measure(f: &Convert, from: u32, to: u32) -> Figures {
    let nyq_out = f64::from(to.min(from)) / 2.0;
    let (ripple, worst_gain) = passband(f, from, to);
    let nyq_in = f64::from(from) / 2.0;
    let stop: Vec<f64> = if to < from {
        // Just above the new Nyquist frequency, then further up.
        [1.002, 1.005, 1.01, 1.03, 1.1, 1.36, 1.6]
            .iter()
            .map(|k| k * nyq_out)
            .filter(|&fr| fr < nyq_in * 0.98)
            .collect()
    } else {
        // Tones high in the input band whose images (at `from − f`) land
        // just above the input's Nyquist frequency, then further up.
        [1.002, 1.005, 1.01, 1.03, 1.1, 1.36, 1.6]
            .iter()
            .map(|k| k * nyq_in)
            .filter(|&land| land < f64::from(to) / 2.0 * 0.98)
            .map(|land| f64::from(from) - land)
            .collect()
    };
    Figures {
        ripple,
        worst_gain,
        edge_095: gain_at(f, from, to, 0.95 * nyq_out),
        edge_098: gain_at(f, from, to, 0.98 * nyq_out),
        edge_0995: gain_at(f, from, to, 0.995 * nyq_out),
        rejection: rejection(f, from, to, &stop),
        thd_n: thd_n(f, from, to),
    }
}

fn print(name: &str, from: u32, to: u32, m: &Figures) {
    if report() {
        eprintln!(
            "{name:5} {from:>6} -> {to:>6}: ripple {:.6} dB (max |gain| {:.6} dB), \
             gain at 0.95/0.98/0.995 Nyquist {:.4}/{:.2}/{:.2} dB, rejection {}, THD+N {:.1} dB",
            m.ripple,
            m.worst_gain,
            m.edge_095,
            m.edge_098,
            m.edge_0995,
            if m.rejection >= FLOOR_DB {
                format!("≥ {FLOOR_DB} dB (nothing measurable)")
            } else {
                format!("{:.1} dB", m.rejection)
            },
            m.thd_n
        );
    }
}

/// The pairs measured: the common consumer conversions both ways and a
/// high-rate master brought down to CD.
const PAIRS: &[(u32, u32)] = &[
    (96000, 44100),
    (48000, 44100),
    (44100, 48000),
    (44100, 96000),
];

#[test]
fn ours_meets_the_stated_figures() {
    for &(from, to) in PAIRS {
        let m = measure(&ours, from, to);
        print("ours", from, to, &m);
        assert!(m.ripple <= 0.0001, "{from}->{to}: ripple {} dB", m.ripple);
        assert!(
            m.worst_gain <= 0.0001,
            "{from}->{to}: gain {}",
            m.worst_gain
        );
        assert!(m.edge_095 >= -0.01, "{from}->{to}: edge {}", m.edge_095);
        assert!(
            m.rejection >= 180.0,
            "{from}->{to}: rejection {}",
            m.rejection
        );
        assert!(m.thd_n <= -145.0, "{from}->{to}: THD+N {}", m.thd_n);
    }
}

/// Equal or better than `sox rate -v` on every figure. Where sox leaves
/// nothing measurable (its downsampled stopband comes out as exact zeros),
/// ours must still clear 180 dB, above sox's own specification (175 dB).
#[test]
fn ours_is_at_least_as_good_as_sox_very_high() {
    if !aj_testkit::have_tool("sox") {
        return;
    }
    for &(from, to) in PAIRS {
        let a = measure(&ours, from, to);
        let b = measure(&sox, from, to);
        print("ours", from, to, &a);
        print("sox", from, to, &b);
        assert!(
            a.ripple <= b.ripple + 1e-6,
            "{from}->{to}: ripple {} vs {}",
            a.ripple,
            b.ripple
        );
        assert!(
            a.edge_095 >= b.edge_095 - 1e-3,
            "{from}->{to}: edge {} vs {}",
            a.edge_095,
            b.edge_095
        );
        assert!(
            a.rejection >= b.rejection.min(180.0),
            "{from}->{to}: rejection {} vs {}",
            a.rejection,
            b.rejection
        );
        assert!(
            a.thd_n <= b.thd_n + 0.5,
            "{from}->{to}: THD+N {} vs {}",
            a.thd_n,
            b.thd_n
        );
    }
}
