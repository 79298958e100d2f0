//! The one boundary to libopus (1.3.1, transpiled to Rust by `unsafe-libopus`):
//! a safe owner of a multistream encoder. Every unsafe call of the Opus
//! encoder lives here.
//!
//! The multistream encoder covers every channel count with one code path:
//! mapping family 0 (1 or 2 channels, one stream) and family 1 (3 to 8
//! channels in the Vorbis order, streams chosen by libopus' surround layout),
//! RFC 7845 section 5.1.1.

#![allow(unsafe_code)]

use std::ptr::NonNull;

use unsafe_libopus::varargs::{VarArg, VarArgs};
use unsafe_libopus::{
    opus_multistream_encode_float, opus_multistream_encoder_ctl_impl,
    opus_multistream_encoder_destroy, opus_multistream_surround_encoder_create, opus_strerror,
    OpusMSEncoder, OPUS_APPLICATION_AUDIO, OPUS_GET_LOOKAHEAD_REQUEST, OPUS_OK,
};

pub(super) use unsafe_libopus::{
    OPUS_SET_BITRATE_REQUEST, OPUS_SET_COMPLEXITY_REQUEST, OPUS_SET_VBR_CONSTRAINT_REQUEST,
    OPUS_SET_VBR_REQUEST,
};

/// The libopus version string, for the OpusTags vendor field.
pub(super) fn version() -> &'static str {
    unsafe_libopus::opus_get_version_string()
}

/// libopus' message for an error code.
fn error_text(code: i32) -> String {
    format!("libopus: {}", opus_strerror(code))
}

/// A libopus multistream encoder, created with the surround layout.
pub(super) struct MsEncoder {
    st: NonNull<OpusMSEncoder>,
    channels: usize,
    /// Streams, coupled streams and the channel mapping, for OpusHead.
    pub(super) streams: u8,
    pub(super) coupled: u8,
    pub(super) mapping: Vec<u8>,
}

// SAFETY: the encoder state is one heap block owned only by this value, with
// no thread-local or global state behind it (libopus is reentrant); moving it
// to another thread is sound. It is not `Sync`: all calls take `&mut self`.
unsafe impl Send for MsEncoder {}

impl MsEncoder {
    /// An encoder at `rate` (8, 12, 16, 24 or 48 kHz) for `channels` (1 to 8)
    /// interleaved channels, in the Vorbis order when there are more than 2.
    pub(super) fn new(rate: u32, channels: u8) -> Result<Self, String> {
        if !(1..=8).contains(&channels) {
            return Err(format!("{channels} channels"));
        }
        let family = if channels <= 2 { 0 } else { 1 };
        let rate = i32::try_from(rate).map_err(|_| format!("{rate} Hz"))?;
        let mut streams = 0i32;
        let mut coupled = 0i32;
        let mut mapping = vec![0u8; usize::from(channels)];
        let mut err = 0i32;
        // SAFETY: the out-pointers point to live locals and to a buffer of
        // `channels` bytes, which is what the function writes to `mapping`;
        // the arguments were range-checked above (libopus checks them too).
        let st = unsafe {
            opus_multistream_surround_encoder_create(
                rate,
                i32::from(channels),
                family,
                &mut streams,
                &mut coupled,
                mapping.as_mut_ptr(),
                OPUS_APPLICATION_AUDIO,
                &mut err,
            )
        };
        let st = match NonNull::new(st) {
            Some(st) if err == OPUS_OK => st,
            Some(st) => {
                // SAFETY: created just above and not used afterwards.
                unsafe { opus_multistream_encoder_destroy(st.as_ptr()) };
                return Err(error_text(err));
            }
            None => return Err(error_text(err)),
        };
        let enc = MsEncoder {
            st,
            channels: usize::from(channels),
            streams: u8::try_from(streams).unwrap_or(0),
            coupled: u8::try_from(coupled).unwrap_or(0),
            mapping,
        };
        if enc.streams == 0 {
            return Err(format!("libopus chose {streams} streams"));
        }
        Ok(enc)
    }

    /// Sets an integer option (`OPUS_SET_*_REQUEST`).
    pub(super) fn set(&mut self, request: i32, value: i32) -> Result<(), String> {
        // SAFETY: `st` is a live encoder; every SET request used here takes
        // exactly one i32 argument, which is what we pass.
        let r = unsafe {
            opus_multistream_encoder_ctl_impl(
                self.st.as_ptr(),
                request,
                VarArgs::new(vec![VarArg::I32(value)]),
            )
        };
        if r == OPUS_OK {
            Ok(())
        } else {
            Err(error_text(r))
        }
    }

    /// The encoder's look-ahead in samples at its own rate (OPUS_GET_LOOKAHEAD).
    pub(super) fn lookahead(&mut self) -> Result<u32, String> {
        let mut value = 0i32;
        // SAFETY: `st` is a live encoder; GET_LOOKAHEAD takes one `&mut i32`.
        let r = unsafe {
            opus_multistream_encoder_ctl_impl(
                self.st.as_ptr(),
                OPUS_GET_LOOKAHEAD_REQUEST,
                VarArgs::new(vec![VarArg::I32Out(&mut value)]),
            )
        };
        if r != OPUS_OK {
            return Err(error_text(r));
        }
        u32::try_from(value).map_err(|_| format!("look-ahead {value}"))
    }

    /// Encodes one frame (`pcm.len() / channels` samples per channel, a legal
    /// Opus frame size) into `out`, returning the packet length.
    pub(super) fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<usize, String> {
        if pcm.is_empty() || !pcm.len().is_multiple_of(self.channels) {
            return Err(format!("{} samples are not whole frames", pcm.len()));
        }
        let frame = i32::try_from(pcm.len() / self.channels).map_err(|_| "frame too long")?;
        let max = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: `st` is a live encoder for `channels` channels; `pcm` holds
        // `frame * channels` floats and `out` has room for `max` bytes, which
        // bounds what libopus writes.
        let n = unsafe {
            opus_multistream_encode_float(
                self.st.as_ptr(),
                pcm.as_ptr(),
                frame,
                out.as_mut_ptr(),
                max,
            )
        };
        usize::try_from(n).map_err(|_| error_text(n))
    }
}

impl Drop for MsEncoder {
    fn drop(&mut self) {
        // SAFETY: `st` came from opus_multistream_surround_encoder_create and
        // is destroyed exactly once, here.
        unsafe { opus_multistream_encoder_destroy(self.st.as_ptr()) };
    }
}
