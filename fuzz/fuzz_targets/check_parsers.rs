//! Fuzz target `check_parsers`: see `coretool_fuzz::check_parsers` (fuzz/src/lib.rs) for what it covers and its
//! input format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coretool_fuzz::check_parsers(data));
