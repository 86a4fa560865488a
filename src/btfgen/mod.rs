//! `coretool btfgen`: the minimal BTF each kernel needs for a set of objects, proven.
//!
//! For every kernel of `--kernels` (read as `compat` reads them, streamed, through the BTF
//! cache), [`engine`] relocates every object with the offline engine, [`collect`] marks the
//! types, members and enumerators the resolved relocations reached (bpftool's
//! `gen min_core_btf` rules), [`write`] writes them as a new BTF through libbpf's writer, and
//! [`proof`] relocates every object again against the minimized BTF and compares the results
//! relocation by relocation. [`layout`] names the outputs; [`bundle`] packs them into one
//! deduplicated archive with an index. Nothing here prints.
//!
//! Trusts: objects parsed by [`crate::reloc::Object::parse`]; kernel sources are untrusted
//! and read with [`crate::source`]'s limits; a kernel that cannot be read, relocated or
//! minimized is a result, not an error.
pub mod bundle;
pub mod collect;
pub mod engine;
pub mod layout;
pub mod modules;
pub mod proof;
pub mod write;

pub use bundle::{Bundle, BundleStats, IndexEntry};
pub use collect::Marks;
pub use engine::{minimize_kernel, run, KernelResult, ObjectResult, Objects, Options, Outcome};
pub use proof::Mismatch;

/// The schema name and version of `coretool btfgen --json` records.
pub const SCHEMA: &str = "coretool.btfgen/v1";
