//! Encodes a 16-bit PCM WAV file with one of the lossy encoders, for
//! benchmarks against the reference tools (see docs/opus.md):
//!
//! ```text
//! cargo run --release -p aj-codec --example lossy_encode -- opus in.wav out.opus [kb/s]
//! ```
//!
//! Reads the WAV itself (canonical 16-bit PCM only) so that it measures the
//! encoder and nothing else; prints the encode speed as a multiple of real time.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::time::Instant;

use aj_codec::encode::{create, EncoderOptions};
use aj_codec::Format;
use aj_core::{AudioSpec, Block, Samples};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: lossy_encode mp3|ogg|opus IN.wav OUT [kb/s]");
        std::process::exit(2);
    }
    let format: Format = args[1].parse().unwrap();
    let bitrate = args.get(4).map(|b| b.parse::<u32>().unwrap());
    let mut input = std::io::BufReader::new(std::fs::File::open(&args[2]).unwrap());

    // RIFF header: find "fmt " and "data".
    let mut hdr = [0u8; 12];
    input.read_exact(&mut hdr).unwrap();
    assert!(
        &hdr[..4] == b"RIFF" && &hdr[8..] == b"WAVE",
        "not a WAV file"
    );
    let (mut channels, mut rate, mut bits) = (0u16, 0u32, 0u16);
    loop {
        let mut ch = [0u8; 8];
        input.read_exact(&mut ch).unwrap();
        let len = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]) as usize;
        if &ch[..4] == b"data" {
            break;
        }
        let mut body = vec![0u8; len + (len & 1)];
        input.read_exact(&mut body).unwrap();
        if &ch[..4] == b"fmt " {
            channels = u16::from_le_bytes([body[2], body[3]]);
            rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            bits = u16::from_le_bytes([body[14], body[15]]);
        }
    }
    assert_eq!(bits, 16, "16-bit PCM only");
    let spec = AudioSpec::float(rate, channels);
    let options = EncoderOptions {
        bitrate,
        ..Default::default()
    };
    let out = std::fs::File::create(&args[3]).unwrap();

    let start = Instant::now();
    let mut enc = create(format, spec, &options, out).unwrap();
    let mut raw = vec![0u8; 4096 * 2 * usize::from(channels)];
    let mut frames = 0u64;
    loop {
        let n = read_full(&mut input, &mut raw);
        let whole = n - n % (2 * usize::from(channels));
        if whole == 0 {
            break;
        }
        let samples: Vec<f32> = raw[..whole]
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect();
        frames += (samples.len() / usize::from(channels)) as u64;
        enc.write(&Block {
            spec,
            samples: Samples::Float(samples),
        })
        .unwrap();
    }
    enc.finish().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let audio = frames as f64 / f64::from(rate);
    eprintln!(
        "{audio:.1} s of audio in {secs:.2} s: {:.1}x real time",
        audio / secs
    );
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("read: {e}"),
        }
    }
    got
}
