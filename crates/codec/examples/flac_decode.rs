//! Times FLAC decoding: our decoder (with its CRC and MD5 checks) and,
//! for comparison, symphonia's (with its MD5 check), over the same file:
//!
//! ```text
//! cargo run --release -p aj-codec --example flac_decode -- in.flac [runs]
//! ```
//!
//! Prints the best time of `runs` (default 3) for each, and the speed in
//! multiples of real time. Compare with `time flac -d -f -o /dev/null in.flac`.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::codecs::CodecParameters;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Decodes with ours; returns (frames, sample rate).
fn ours(path: &Path) -> (u64, u32) {
    let mut d = aj_codec::decode::open(path).unwrap();
    let rate = d.spec().sample_rate;
    let mut frames = 0u64;
    while let Some(b) = d.read(8192).unwrap() {
        frames += b.frames() as u64;
    }
    (frames, rate)
}

/// Decodes with symphonia, MD5 check on; returns frames.
fn symphonia(path: &Path) -> u64 {
    let file = std::fs::File::open(path).unwrap();
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .unwrap();
    let track = format.default_track(TrackType::Audio).unwrap().clone();
    let Some(CodecParameters::Audio(params)) = track.codec_params else {
        panic!("no audio track");
    };
    let mut dec = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default().verify(true))
        .unwrap();
    let mut frames = 0u64;
    while let Some(p) = format.next_packet().unwrap() {
        frames += dec.decode(&p).unwrap().frames() as u64;
    }
    assert_ne!(
        dec.finalize().verify_ok,
        Some(false),
        "symphonia: MD5 mismatch"
    );
    frames
}

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1).map(Path::new) else {
        eprintln!("usage: flac_decode IN.flac [runs]");
        std::process::exit(2);
    };
    let runs = args.get(2).map_or(3, |r| r.parse().unwrap());
    let (frames, rate) = ours(path);
    let secs = frames as f64 / f64::from(rate);
    let t_ours = best(runs, || {
        ours(path);
    });
    let t_sym = best(runs, || {
        assert_eq!(symphonia(path), frames);
    });
    for (name, t) in [("ours", t_ours), ("symphonia", t_sym)] {
        println!(
            "{name:>10}: {:.3} s, {:.0}x real time",
            t.as_secs_f64(),
            secs / t.as_secs_f64()
        );
    }
    println!(
        "ours takes {:.2}x the time of symphonia",
        t_ours.as_secs_f64() / t_sym.as_secs_f64()
    );
}
