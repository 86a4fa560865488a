//! Fuzz target `vmlinux_plan`: see `coretool_fuzz::vmlinux_plan` (fuzz/src/lib.rs) for what it covers and its
//! input format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coretool_fuzz::vmlinux_plan(data));
