//! The decoding path of `aj convert IN -f wav`, without the job engine:
//! decode a file, write it as WAV through a [`FileSink`], verified unless
//! `--no-verify` is given. For timing and profiling the decoder and the
//! verification beside `flac -d`:
//!
//! ```text
//! cargo build --release -p aj-codec --example flac_to_wav
//! taskset -c 0 target/release/examples/flac_to_wav in.flac out.wav [--no-verify]
//! ```

#![allow(clippy::unwrap_used)]

use std::path::Path;

use aj_codec::encode::{self, EncoderOptions};
use aj_codec::sink::{FileSink, FileSinkOptions};
use aj_codec::tags::Tags;
use aj_codec::{decode, Format};
use aj_core::{CancelToken, Sink};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(input), Some(output)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: flac_to_wav IN OUT.wav [--no-verify]");
        std::process::exit(2);
    };
    let verify = args.get(3).is_none_or(|a| a != "--no-verify");
    let mut d = decode::open(Path::new(input)).unwrap();
    let spec = encode::input_spec(Format::Wav, d.spec(), 24);
    assert_eq!(spec, d.spec(), "the input needs converting for WAV");
    let options = FileSinkOptions {
        format: Format::Wav,
        encoder: EncoderOptions::default(),
        tags: Tags::new(),
        overwrite: true,
        verify,
    };
    let mut sink = FileSink::create(Path::new(output), spec, options).unwrap();
    while let Some(b) = d.read(8192).unwrap() {
        sink.write(&b).unwrap();
    }
    sink.finish_verified(&CancelToken::new()).unwrap();
}
