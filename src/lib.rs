//! coretool: make eBPF CO-RE visible.
//!
//! The library parses and models (BTF, ELF objects, `.BTF.ext`, CO-RE relocations, check-btf
//! facts, the self-test) without printing; it has no clap and no anyhow. The binary
//! (`src/main.rs` with its private `cli`, `commands` and `render` modules) parses the command
//! line and renders what the library computed as text or JSON.
pub mod btf;
pub mod btfgen;
pub mod check;
pub mod compat;
pub mod diff;
pub mod dryrun;
pub mod elf;
pub mod error;
pub mod host;
pub mod kernel_btf;
pub mod libbpf;
pub mod probe;
pub mod reloc;
pub mod requires;
pub mod selftest;
pub mod source;
pub mod vmlinux;
