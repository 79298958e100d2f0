//! Channel mixing: the coefficients against ITU-R BS.775 / ATSC A/52, and
//! signals pushed through the mixer.

#![allow(clippy::unwrap_used)]

use aj_core::{AudioSpec, Block, Processor, Samples};
use aj_dsp::mix::{matrix, ChannelMixer, MINUS_3_DB};

const K: f64 = MINUS_3_DB;

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
    }
}

#[test]
fn stereo_to_mono_is_the_average() {
    close(&matrix(2, 1).unwrap(), &[0.5, 0.5]);
}

#[test]
fn mono_to_stereo_duplicates() {
    close(&matrix(1, 2).unwrap(), &[1.0, 1.0]);
}

#[test]
fn five_one_to_stereo_follows_bs775() {
    // FL FR FC LFE BL BR: centre and surrounds at -3 dB, LFE dropped.
    close(
        &matrix(6, 2).unwrap(),
        &[1.0, 0.0, K, 0.0, K, 0.0, 0.0, 1.0, K, 0.0, 0.0, K],
    );
    // To mono: the average of that.
    close(
        &matrix(6, 1).unwrap(),
        &[0.5, 0.5, K, 0.0, K / 2.0, K / 2.0],
    );
}

#[test]
fn seven_one_and_six_one_to_stereo() {
    // FL FR FC LFE BL BR SL SR
    close(
        &matrix(8, 2).unwrap(),
        &[
            1.0, 0.0, K, 0.0, K, 0.0, K, 0.0, //
            0.0, 1.0, K, 0.0, 0.0, K, 0.0, K,
        ],
    );
    // FL FR FC LFE BC SL SR: the back centre at -6 dB on each side.
    close(
        &matrix(7, 2).unwrap(),
        &[
            1.0, 0.0, K, 0.0, 0.5, K, 0.0, //
            0.0, 1.0, K, 0.0, 0.5, 0.0, K,
        ],
    );
}

#[test]
fn other_counts_and_refusals() {
    close(&matrix(3, 2).unwrap(), &[1.0, 0.0, K, 0.0, 1.0, K]);
    close(
        &matrix(4, 2).unwrap(),
        &[1.0, 0.0, K, 0.0, 0.0, 1.0, 0.0, K],
    );
    close(&matrix(2, 2).unwrap(), &[1.0, 0.0, 0.0, 1.0]);
    assert!(matrix(9, 2).is_err());
    assert!(matrix(0, 2).is_err());
    let e = matrix(2, 6).unwrap_err().to_string();
    assert!(e.contains("mono and stereo"), "{e}");
}

/// A 5.1 block whose channels each carry a known value comes out as the
/// weighted sums; a centre-only signal keeps its level at -3 dB per side,
/// and the most a mix can add is reported for the clip guard.
#[test]
fn mixer_processes_frames() {
    let spec = AudioSpec::float(48000, 6);
    let mut m = ChannelMixer::new(spec, 2).unwrap();
    assert_eq!(m.output_spec(), AudioSpec::float(48000, 2));
    let frame = [0.1f32, 0.2, 0.3, 0.9, 0.4, 0.5];
    let input: Vec<f32> = frame.iter().cycle().take(6 * 3).copied().collect();
    let out = m
        .process(Block {
            spec,
            samples: Samples::Float(input),
        })
        .unwrap();
    let v = out.as_float().unwrap();
    assert_eq!(v.len(), 6);
    let l = 0.1 + K * 0.3 + K * 0.4;
    let r = 0.2 + K * 0.3 + K * 0.5;
    for pair in v.chunks(2) {
        assert!((f64::from(pair[0]) - l).abs() < 1e-6);
        assert!((f64::from(pair[1]) - r).abs() < 1e-6);
    }
    assert!((m.max_gain() - (1.0 + 2.0 * K)).abs() < 1e-12);

    let mut mono = ChannelMixer::new(AudioSpec::float(44100, 2), 1).unwrap();
    assert!((mono.max_gain() - 1.0).abs() < 1e-12);
    let out = mono
        .process(Block {
            spec: AudioSpec::float(44100, 2),
            samples: Samples::Float(vec![1.0, 0.0, 0.5, 0.5, -1.0, 1.0]),
        })
        .unwrap();
    assert_eq!(out.as_float().unwrap(), &[0.5, 0.5, 0.0]);

    assert!(ChannelMixer::new(AudioSpec::int(44100, 2, 16), 1).is_err());
    let wrong = Block {
        spec: AudioSpec::float(44100, 1),
        samples: Samples::Float(vec![0.0]),
    };
    assert!(mono.process(wrong).is_err());
}
