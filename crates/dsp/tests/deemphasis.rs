//! CD de-emphasis: the gain of generated sines through the processor against
//! the IEC 60908 analogue prototype (50 µs / 15 µs).

#![allow(clippy::unwrap_used)]

use std::f64::consts::PI;

use aj_core::{AudioSpec, Block, Processor, SampleFormat, Samples};
use aj_dsp::deemphasis::{ideal_gain_db, Deemphasis};

/// Gain (dB) of a 16-bit stereo sine at `freq` through the filter, from the
/// RMS of input and output after the filter has settled.
fn measured_gain_db(rate: u32, freq: f64) -> f64 {
    let spec = AudioSpec::int(rate, 2, 16);
    let mut f = Deemphasis::new(spec).unwrap();
    assert_eq!(f.output_spec().format, SampleFormat::Float);
    let frames = rate as usize / 2;
    let amp = 0.5 * 32767.0;
    let input: Vec<i32> = (0..frames)
        .flat_map(|i| {
            let v = (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()).round() as i32;
            [v, -v]
        })
        .collect();
    // Two blocks, so that state carries across.
    let half = (input.len() / 2) & !1;
    let mut out = Vec::new();
    for part in [&input[..half], &input[half..]] {
        let b = f
            .process(Block {
                spec,
                samples: Samples::Int(part.to_vec()),
            })
            .unwrap();
        assert_eq!(b.spec.format, SampleFormat::Float);
        out.extend_from_slice(b.as_float().unwrap());
    }
    assert_eq!(out.len(), input.len());
    // Skip the first 50 ms (the filter's time constant is 50 µs; generous),
    // and whole periods are not needed over this many of them.
    let skip = rate as usize / 20 * 2;
    let rms = |v: &mut dyn Iterator<Item = f64>| {
        let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x * x, n + 1));
        (s / n as f64).sqrt()
    };
    let rin = rms(&mut input[skip..]
        .iter()
        .step_by(2)
        .map(|&x| f64::from(x) / 32768.0));
    let rout = rms(&mut out[skip..].iter().step_by(2).map(|&x| f64::from(x)));
    let rout_r = rms(&mut out[skip + 1..].iter().step_by(2).map(|&x| f64::from(x)));
    assert!((rout - rout_r).abs() < 1e-6, "channels filtered alike");
    20.0 * (rout / rin).log10()
}

#[test]
fn response_matches_the_analogue_prototype() {
    for rate in [44_100, 48_000, 96_000] {
        for freq in [1_000.0, 5_000.0, 10_000.0, 16_000.0] {
            let got = measured_gain_db(rate, freq);
            let want = ideal_gain_db(freq);
            assert!(
                (got - want).abs() < 0.1,
                "{rate} Hz, {freq} Hz: {got:.3} dB, ideal {want:.3} dB"
            );
        }
    }
    // The ideal values themselves (IEC 60908: about −0.4, −4.6, −8.2, −9.0 dB).
    assert!((ideal_gain_db(1_000.0) + 0.37).abs() < 0.05);
    assert!((ideal_gain_db(16_000.0) + 9.04).abs() < 0.05);
}

#[test]
fn low_frequencies_pass_and_wrong_blocks_are_refused() {
    let g = measured_gain_db(44_100, 50.0);
    assert!(g.abs() < 0.01, "{g}");
    let mut f = Deemphasis::new(AudioSpec::int(44_100, 2, 16)).unwrap();
    let e = f
        .process(Block {
            spec: AudioSpec::int(48_000, 2, 16),
            samples: Samples::Int(vec![0; 4]),
        })
        .unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    assert!(Deemphasis::new(AudioSpec::int(0, 2, 16)).is_err());
}
