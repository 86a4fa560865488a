//! Fuzz target `libbpf_log`: see `coretool_fuzz::libbpf_log` (fuzz/src/lib.rs) for what it covers and its
//! input format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coretool_fuzz::libbpf_log(data));
