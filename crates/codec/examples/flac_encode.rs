//! Encodes a PCM WAV file (8, 16, 24 or 32-bit integer) to FLAC with our
//! encoder, for benchmarks beside `flac` (see bench/flac.sh):
//!
//! ```text
//! cargo run --release -p aj-codec --example flac_encode -- in.wav out.flac [level [threads]]
//! ```
//!
//! `threads` above 1 encodes frames on that many worker threads (the
//! output is the same bytes as with one).
//!
//! The whole process is what bench/flac.sh times; the encode time alone
//! (without reading the WAV) is printed on stderr.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::time::Instant;

use aj_codec::encode::{create, EncoderOptions};
use aj_codec::Format;
use aj_core::{AudioSpec, Block, Samples};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: flac_encode IN.wav OUT.flac [level 0-8 [threads]]");
        std::process::exit(2);
    }
    let level = args.get(3).map(|l| l.parse::<u8>().unwrap());
    let threads = args.get(4).map(|t| t.parse::<usize>().unwrap());
    let mut input = std::io::BufReader::new(std::fs::File::open(&args[1]).unwrap());

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
    assert!(
        matches!(bits, 8 | 16 | 24 | 32),
        "8, 16, 24 or 32-bit PCM only"
    );
    let width = usize::from(bits / 8);
    let spec = AudioSpec::int(rate, channels, bits as u8);
    let options = EncoderOptions {
        level,
        threads,
        ..Default::default()
    };
    let out = std::fs::File::create(&args[2]).unwrap();

    let mut enc = create(Format::Flac, spec, &options, out).unwrap();
    let mut raw = vec![0u8; 4096 * width * usize::from(channels)];
    let mut samples = Vec::with_capacity(raw.len() / width);
    let mut frames = 0u64;
    let mut busy = 0.0;
    loop {
        let n = read_full(&mut input, &mut raw);
        let whole = n - n % (width * usize::from(channels));
        if whole == 0 {
            break;
        }
        samples.clear();
        let bytes = raw[..whole].chunks_exact(width);
        match width {
            1 => samples.extend(bytes.map(|b| i32::from(b[0]) - 128)),
            2 => samples.extend(bytes.map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))),
            3 => samples.extend(bytes.map(|b| i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8)),
            _ => samples.extend(bytes.map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        }
        frames += (samples.len() / usize::from(channels)) as u64;
        let block = Block {
            spec,
            samples: Samples::Int(std::mem::take(&mut samples)),
        };
        let t = Instant::now();
        enc.write(&block).unwrap();
        busy += t.elapsed().as_secs_f64();
        if let Samples::Int(v) = block.samples {
            samples = v;
        }
    }
    let t = Instant::now();
    enc.finish().unwrap();
    busy += t.elapsed().as_secs_f64();
    let audio = frames as f64 / f64::from(rate);
    eprintln!(
        "{audio:.1} s of audio, encoder busy {busy:.3} s: {:.0}x real time",
        audio / busy
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
