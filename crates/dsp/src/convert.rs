//! Sample-format conversion.
