//! Fuzz target `core_spec`: see `coretool_fuzz::core_spec` (fuzz/src/lib.rs) for what it covers and its
//! input format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coretool_fuzz::core_spec(data));
