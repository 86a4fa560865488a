//! coretool: make eBPF CO-RE visible.
//!
//! The library parses and models (BTF, ELF objects, `.BTF.ext`, CO-RE relocations) without
//! printing; `commands` render what the library computed.
pub mod btf;
pub mod check;
pub mod cli;
pub mod commands;
pub mod dryrun;
pub mod elf;
pub mod error;
pub mod host;
pub mod kernel_btf;
pub mod libbpf;
pub mod output;
pub mod probe;
pub mod reloc;
pub mod selftest;
pub mod source;
pub mod table;
pub mod vmlinux;
