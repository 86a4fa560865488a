//! The one layer that talks to libbpf (libbpf-sys, vendored libbpf 1.7): nothing outside this
//! module names `libbpf_sys`.
//!
//! - [`btf`]: [`LibbpfBtf`], the one owner of a `struct btf *` coretool reads.
//! - [`btf_write`]: [`btf_write::BtfWriter`], a new BTF written type by type (`btf__add_*`),
//!   for `btfgen`.
//! - [`print`]: [`PrintGuard`], the one owner of libbpf's process-global print callback
//!   (capture, silence, restore, under one lock).
//! - [`relo_core`]: libbpf's CO-RE relocation calculator (`bpf_core_calc_relo_insn`,
//!   `bpf_core_patch_insn`) without a kernel.
//! - [`object`]: libbpf's object loader (`bpf_object__prepare`, per-program loads).
//! - [`dump`]: libbpf's C type printer (`btf_dump`), for vmlinux.h.
//! - [`probe`]: libbpf's version and feature probes, and whether libbpf accepts a BTF.
pub mod btf;
pub mod btf_write;
pub mod dump;
pub mod object;
pub mod print;
pub mod probe;
pub mod relo_core;

pub use btf::{LibbpfBtf, LibbpfError};
pub use print::{LogLevel, LogLine, PrintGuard};
