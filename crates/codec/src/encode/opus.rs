//! Placeholder until the opus encoder lands.

use std::fs::File;

use aj_core::AudioSpec;

use super::{EncoderOptions, Encoder};
use crate::Error;

pub(super) fn create(
    _spec: AudioSpec,
    _options: &EncoderOptions,
    _file: File,
) -> Result<Box<dyn Encoder>, Error> {
    Err(Error::Unsupported("opus encoding is not built yet".into()))
}
