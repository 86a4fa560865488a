//! Fuzz target `btf`: see `coretool_fuzz::btf` (fuzz/src/lib.rs) for what it covers and its
//! input format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coretool_fuzz::btf(data));
