//! Test kit: deterministic signals and tiny fixture writers.
//!
//! Everything here is generated from fixed parameters and seeds, so a test's
//! input is described fully by the call that made it. Not for production use.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used)]

pub mod api;
pub mod http;
pub mod openapi;

use std::io::Write;
use std::path::Path;

/// A small deterministic PRNG (xorshift64*), so tests need no extra crates.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `-1.0..1.0`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// The largest positive value at `bits`.
pub fn full_scale(bits: u8) -> i64 {
    (1i64 << (bits - 1)) - 1
}

/// Interleaved integer sine, `amplitude` in 0..=1 of full scale, each channel
/// at `freq * (channel + 1)` so channels differ.
pub fn sine(
    frames: usize,
    channels: u16,
    rate: u32,
    bits: u8,
    freq: f64,
    amplitude: f64,
) -> Vec<i32> {
    let fs = full_scale(bits) as f64;
    let mut out = Vec::with_capacity(frames * channels as usize);
    for i in 0..frames {
        for c in 0..channels {
            let f = freq * f64::from(c + 1);
            let v = (2.0 * std::f64::consts::PI * f * i as f64 / f64::from(rate)).sin();
            out.push((v * amplitude * fs).round() as i32);
        }
    }
    out
}

/// Interleaved white noise at full scale with a fixed seed.
pub fn noise(frames: usize, channels: u16, bits: u8, seed: u64) -> Vec<i32> {
    let mut rng = Rng::new(seed);
    let fs = full_scale(bits) as f64;
    (0..frames * channels as usize)
        .map(|_| (rng.next_f64() * fs).round() as i32)
        .collect()
}

/// A linear sweep from `f0` to `f1` Hz over the whole length.
pub fn sweep(frames: usize, channels: u16, rate: u32, bits: u8, f0: f64, f1: f64) -> Vec<i32> {
    let fs = full_scale(bits) as f64 * 0.9;
    let dur = frames as f64 / f64::from(rate);
    let mut out = Vec::with_capacity(frames * channels as usize);
    for i in 0..frames {
        let t = i as f64 / f64::from(rate);
        let phase =
            2.0 * std::f64::consts::PI * (f0 * t + (f1 - f0) * t * t / (2.0 * dur.max(1e-9)));
        let v = (phase.sin() * fs).round() as i32;
        for _ in 0..channels {
            out.push(v);
        }
    }
    out
}

/// Bytes of a canonical PCM WAV file (44-byte header) holding `samples`
/// (interleaved, right-justified) at 8, 16, 24 or 32 bits.
pub fn wav_bytes(samples: &[i32], channels: u16, rate: u32, bits: u8) -> Vec<u8> {
    assert!(
        matches!(bits, 8 | 16 | 24 | 32),
        "wav_bytes writes whole-byte depths"
    );
    let bytes = usize::from(bits / 8);
    let data_len = samples.len() * bytes;
    let mut v = Vec::with_capacity(44 + data_len);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(channels) * bytes as u32).to_le_bytes());
    v.extend_from_slice(&(channels * bytes as u16).to_le_bytes());
    v.extend_from_slice(&u16::from(bits).to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data_len as u32).to_le_bytes());
    for &s in samples {
        if bits == 8 {
            v.push((s + 128) as u8);
        } else {
            v.extend_from_slice(&s.to_le_bytes()[..bytes]);
        }
    }
    v
}

/// Writes [`wav_bytes`] to `path`.
pub fn write_wav(path: &Path, samples: &[i32], channels: u16, rate: u32, bits: u8) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&wav_bytes(samples, channels, rate, bits))
        .unwrap();
}

/// The folder of the FLAC decoder testbench, when it is present beside the
/// project (`../shared/conformance/flac-test-files`) or named by
/// `AJ_FLAC_TESTBENCH`.
pub fn flac_testbench() -> Option<std::path::PathBuf> {
    if let Ok(p) = std::env::var("AJ_FLAC_TESTBENCH") {
        return Some(p.into());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let p = root.join("shared/conformance/flac-test-files");
    p.is_dir().then_some(p)
}

/// True when interop tests must fail rather than skip on a missing tool
/// (`AJ_REQUIRE_TOOLS=1`, set by CI).
pub fn tools_required() -> bool {
    std::env::var("AJ_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Whether an external program is on PATH. When it is not and
/// [`tools_required`], panics with a message naming it; otherwise prints a
/// skip note and returns false.
pub fn have_tool(name: &str) -> bool {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        assert!(
            !tools_required(),
            "{name} is required (AJ_REQUIRE_TOOLS=1) but not installed"
        );
        eprintln!("skipping: {name} not installed");
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_deterministic_and_in_range() {
        assert_eq!(noise(100, 2, 16, 7), noise(100, 2, 16, 7));
        assert_ne!(noise(100, 2, 16, 7), noise(100, 2, 16, 8));
        for bits in [8u8, 16, 24, 32] {
            let fs = full_scale(bits);
            for s in noise(1000, 1, bits, 1)
                .into_iter()
                .chain(sine(1000, 2, 44100, bits, 997.0, 1.0))
            {
                assert!(i64::from(s) <= fs && i64::from(s) >= -fs - 1);
            }
        }
        let w = wav_bytes(&[1, -1], 1, 8000, 16);
        assert_eq!(w.len(), 48);
        assert_eq!(&w[44..], &[1, 0, 0xff, 0xff]);
    }
}
