//! libFuzzer target: our FLAC encoder over fuzzed parameters and signals,
//! checked by decoding (see `aj_fuzz::flac_encode`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    aj_fuzz::flac_encode(data);
});
