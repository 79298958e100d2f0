//! Ogg Vorbis encoder: aoTuV libvorbis through `vorbis_rs`, which also writes
//! the Ogg pages.
//!
//! - Quality mode by default: `quality` −1…10 as in `oggenc -q` (default 5),
//!   passed to libvorbis as −0.1…1.0.
//! - Managed bitrate when `bitrate` is given (kb/s): libvorbis' ABR mode, the
//!   average held by its bitrate management engine (`oggenc --managed -b`).
//! - 1 to 8 channels at any rate libvorbis accepts; channels are reordered from
//!   the pipeline's WAV order to the Vorbis I order ([`super::vorbis_order`]).
//! - NaN, ±∞ and huge samples are made safe first ([`super::float_input`]).
//! - Length: libvorbis records the exact sample count in the last page's
//!   granule position, so decoders return exactly the samples that went in.
//!
//! libvorbis' state is plain C memory behind raw pointers, so `vorbis_rs`'s
//! encoder is not `Send`, while our [`Encoder`] must be. Rather than assert
//! `Send` with unsafe code, the libvorbis encoder lives on a worker thread that
//! owns it from creation to finish; blocks reach it over a bounded channel
//! (two blocks in flight at most, so memory stays bounded), and their buffers
//! come back for reuse.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::num::{NonZeroU32, NonZeroU8};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use aj_core::{AudioSpec, Block};
use vorbis_rs::{VorbisBitrateManagementStrategy, VorbisEncoderBuilder};

use super::float_input::FloatInput;
use super::{vorbis_order, Encoder, EncoderOptions};
use crate::Error;

/// Default quality 5 (about 160 kb/s for stereo music; `oggenc` defaults to
/// 3, about 112 kb/s), transparent for most listeners and material.
const DEFAULT_QUALITY: f32 = 5.0;

/// A fixed Ogg stream serial, so the same input gives the same bytes. RFC 3533
/// asks for serials unique within a physical stream; ours holds one stream.
const STREAM_SERIAL: i32 = 0x414A_0001;

pub(super) fn create(
    spec: AudioSpec,
    options: &EncoderOptions,
    file: File,
) -> Result<Box<dyn Encoder>, Error> {
    // libvorbis takes any rate it has a setup for: no resampling.
    let input = FloatInput::new("Vorbis", spec, spec.sample_rate)?;
    let channels = usize::from(spec.channels);
    let order = vorbis_order::from_wav(channels).ok_or_else(|| {
        Error::Unsupported(format!(
            "Ogg Vorbis here holds 1 to 8 channels, not {}",
            spec.channels
        ))
    })?;
    let strategy = match options.bitrate {
        Some(kbps) => {
            let bps = kbps
                .checked_mul(1000)
                .and_then(NonZeroU32::new)
                .ok_or_else(|| {
                    Error::Encode(format!("Vorbis bitrate {kbps} kb/s is out of range"))
                })?;
            VorbisBitrateManagementStrategy::Abr {
                average_bitrate: bps,
            }
        }
        None => {
            let q = options.quality.unwrap_or(DEFAULT_QUALITY);
            if !(-1.0..=10.0).contains(&q) {
                return Err(Error::Encode(format!(
                    "Vorbis quality must be -1 to 10, not {q}"
                )));
            }
            VorbisBitrateManagementStrategy::QualityVbr {
                target_quality: q / 10.0,
            }
        }
    };
    let rate = NonZeroU32::new(spec.sample_rate)
        .ok_or_else(|| Error::Encode("sample rate 0 Hz".into()))?;
    let ch = u8::try_from(channels)
        .ok()
        .and_then(NonZeroU8::new)
        .ok_or_else(|| Error::Encode(format!("{channels} channels")))?;

    let (block_tx, block_rx) = mpsc::sync_channel::<Planar>(2);
    let (spare_tx, spare_rx) = mpsc::channel::<Planar>();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), Error>>();
    let worker = std::thread::Builder::new()
        .name("vorbis-encoder".into())
        .spawn(move || {
            let mut builder = VorbisEncoderBuilder::new_with_serial(
                rate,
                ch,
                BufWriter::new(file),
                STREAM_SERIAL,
            );
            builder.bitrate_management_strategy(strategy);
            let mut encoder = match builder.build() {
                Ok(e) => {
                    let _ = ready_tx.send(Ok(()));
                    e
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(Error::Encode(format!(
                        "libvorbis refused {} Hz, {} channels with these settings: {e}",
                        rate, ch
                    ))));
                    return Ok(());
                }
            };
            // Ends when the sender is dropped: by `finish`, or by a drop
            // without `finish` (then the output is abandoned anyway).
            for planar in block_rx {
                encoder.encode_audio_block(&planar).map_err(vorbis_error)?;
                let _ = spare_tx.send(planar);
            }
            let mut sink = encoder.finish().map_err(vorbis_error)?;
            sink.flush()?;
            Ok(())
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(join_error(worker)),
    }
    Ok(Box::new(VorbisFileEncoder {
        input,
        out: VorbisOut {
            tx: Some(block_tx),
            spare: spare_rx,
            worker: Some(worker),
            order,
        },
    }))
}

/// One buffer per channel, in Vorbis order.
type Planar = Vec<Vec<f32>>;

struct VorbisFileEncoder {
    input: FloatInput,
    out: VorbisOut,
}

/// The worker thread running libvorbis, and the channels to it.
struct VorbisOut {
    /// `None` only after `finish` dropped it.
    tx: Option<SyncSender<Planar>>,
    /// Buffers the worker is done with, for reuse.
    spare: Receiver<Planar>,
    worker: Option<JoinHandle<Result<(), Error>>>,
    order: &'static [usize],
}

fn vorbis_error(e: vorbis_rs::VorbisError) -> Error {
    match e {
        vorbis_rs::VorbisError::Io(e) => Error::Io(e),
        e => Error::Encode(format!("libvorbis: {e}")),
    }
}

/// The worker's error once it has stopped (a send or receive failed).
fn join_error(worker: JoinHandle<Result<(), Error>>) -> Error {
    match worker.join() {
        Ok(Err(e)) => e,
        Ok(Ok(())) => Error::Encode("the Vorbis encoder stopped early".into()),
        Err(_) => Error::Encode("the Vorbis encoder crashed".into()),
    }
}

impl VorbisOut {
    fn failed(&mut self) -> Error {
        self.tx = None;
        match self.worker.take() {
            Some(w) => join_error(w),
            None => Error::Encode("the Vorbis encoder has stopped".into()),
        }
    }

    /// Sends interleaved WAV-order samples (a few thousand frames, as
    /// [`FloatInput`] hands them over) to the worker in Vorbis order.
    fn send(&mut self, piece: &[f32]) -> Result<(), Error> {
        let channels = self.order.len();
        let mut planar = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| vec![Vec::new(); channels]);
        for (dst, &src) in planar.iter_mut().zip(self.order) {
            dst.clear();
            dst.extend(piece.iter().skip(src).step_by(channels));
        }
        let sent = match &self.tx {
            Some(tx) => tx.send(planar).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.failed())
        }
    }
}

impl Encoder for VorbisFileEncoder {
    fn write(&mut self, block: &Block) -> Result<(), Error> {
        self.input.write(block, |piece| self.out.send(piece))
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        self.input.finish(|piece| self.out.send(piece))?;
        self.out.tx = None;
        match self.out.worker.take() {
            Some(w) => match w.join() {
                Ok(r) => r,
                Err(_) => Err(Error::Encode("the Vorbis encoder crashed".into())),
            },
            None => Err(Error::Encode("the Vorbis encoder has stopped".into())),
        }
    }
}
