//! The integration tests: one binary (`cargo test --test integration`), one module per file.
//!
//! `common` holds what they share: the binary, fixture paths, the golden-file helper
//! (`CORETOOL_BLESS=1` rewrites golden files) and `require!`/`require_root!`, which skip a test
//! loudly when a prerequisite is missing, or fail it under `CORETOOL_REQUIRE_ALL=1` (as
//! `.ci/run` does). Run one file's tests with a name filter: `cargo test --test integration
//! dry_run::`.

#[macro_use]
mod common;

mod action;
mod bad_input;
mod broken_pipe;
mod btf_cli;
mod btfgen;
mod check_btf;
mod check_btf_fixtures;
mod compat;
mod diff;
mod dry_run;
mod fuzz_regressions;
mod generated;
mod help;
mod kernel_matrix;
mod kernels;
mod probe_object;
mod relocs_cli;
mod requires;
mod schemas;
mod selftest_root;
mod sources;
mod split_btf;
mod vmlinux;
