//! The one place the Opus decoder's unsafe calls live.
//!
//! `unsafe-libopus` is libopus transpiled to Rust; its API keeps C's raw
//! pointers. This module wraps the multistream decoder (which also covers
//! plain mono/stereo streams, RFC 7845 §5.1.1 channel mapping family 0) in a
//! safe type that owns its state and checks every length it passes.
#![allow(unsafe_code)]

use unsafe_libopus::{
    opus_multistream_decode_float, opus_multistream_decoder_create,
    opus_multistream_decoder_destroy, OpusMSDecoder, OPUS_OK,
};

/// The largest frame count one Opus packet can decode to at 48 kHz:
/// 120 ms (RFC 6716 §3.2.5).
pub(crate) const MAX_FRAMES_PER_PACKET: usize = 5760;

/// A libopus multistream decoder at 48 kHz with float output.
pub(crate) struct MsDecoder {
    st: *mut OpusMSDecoder,
    channels: usize,
}

// SAFETY: the decoder state is a heap block owned solely by this value; libopus
// keeps no thread-local or global mutable state tied to it, so moving it to
// another thread is sound. It is not `Sync` (decode takes `&mut self`).
unsafe impl Send for MsDecoder {}

/// Names a libopus error code for a person.
pub(crate) fn error_text(code: i32) -> &'static str {
    match code {
        -1 => "invalid argument",
        -2 => "buffer too small",
        -3 => "internal error",
        -4 => "invalid or corrupt packet",
        -5 => "unimplemented feature",
        -6 => "invalid decoder state",
        -7 => "memory allocation failed",
        _ => "unknown error",
    }
}

impl MsDecoder {
    /// Creates a decoder for `mapping.len()` output channels fed by
    /// `streams` streams of which `coupled` are stereo (RFC 7845 §5.1.1).
    ///
    /// # Errors
    /// The libopus error code when the layout is invalid.
    pub(crate) fn new(streams: u8, coupled: u8, mapping: &[u8]) -> Result<Self, i32> {
        let channels = mapping.len();
        if channels == 0 || channels > 255 || coupled > streams || streams == 0 {
            return Err(unsafe_libopus::OPUS_BAD_ARG);
        }
        let mut err: i32 = 0;
        // SAFETY: `mapping` holds exactly `channels` bytes, which is all
        // libopus reads from it; `err` is a valid place for one i32. The
        // counts were range-checked above (libopus checks them again).
        let st = unsafe {
            opus_multistream_decoder_create(
                48_000,
                channels as i32,
                i32::from(streams),
                i32::from(coupled),
                mapping.as_ptr(),
                &mut err,
            )
        };
        if st.is_null() || err != OPUS_OK {
            if !st.is_null() {
                // SAFETY: `st` was just returned by create and is not used again.
                unsafe { opus_multistream_decoder_destroy(st) };
            }
            return Err(if err == OPUS_OK {
                unsafe_libopus::OPUS_ALLOC_FAIL
            } else {
                err
            });
        }
        Ok(MsDecoder { st, channels })
    }

    /// Decodes one packet into `out` (interleaved), returning the frames
    /// decoded. `out` must hold at least `MAX_FRAMES_PER_PACKET` frames.
    ///
    /// # Errors
    /// The libopus error code for a corrupt packet.
    pub(crate) fn decode(&mut self, packet: &[u8], out: &mut [f32]) -> Result<usize, i32> {
        let frames = out.len() / self.channels;
        if packet.is_empty() || frames == 0 {
            return Err(unsafe_libopus::OPUS_BAD_ARG);
        }
        let len = i32::try_from(packet.len()).map_err(|_| unsafe_libopus::OPUS_INVALID_PACKET)?;
        let frame_size = i32::try_from(frames.min(MAX_FRAMES_PER_PACKET)).unwrap_or(0);
        // SAFETY: `self.st` is a live decoder created by `new`; `packet` is
        // valid for `len` bytes; `out` has room for `frame_size * channels`
        // floats, the most libopus writes.
        let n = unsafe {
            opus_multistream_decode_float(
                self.st,
                packet.as_ptr(),
                len,
                out.as_mut_ptr(),
                frame_size,
                0,
            )
        };
        if n < 0 {
            Err(n)
        } else {
            Ok(n as usize)
        }
    }
}

impl Drop for MsDecoder {
    fn drop(&mut self) {
        // SAFETY: `self.st` came from `opus_multistream_decoder_create`, is
        // non-null and is destroyed exactly once, here.
        unsafe { opus_multistream_decoder_destroy(self.st) };
    }
}
