//! Fuzz target `source`: see `coretool_fuzz::source` (fuzz/src/lib.rs) for what it covers and its
//! input format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coretool_fuzz::source(data));
