//! `coretool dry-run`: what libbpf's CO-RE relocation does to an object on a given kernel.
//!
//! Two engines, one result. The libbpf engine lets libbpf relocate the object
//! (`bpf_object__prepare`, [`crate::libbpf::object`]) and reads what happened from its debug
//! log ([`log`]); the offline engine ([`offline`]) calls libbpf's own relocation calculator
//! without a kernel and gets the same facts as values. Both report
//! [`Outcomes`](crate::reloc::Outcomes), which [`crate::reloc::assemble`] turns into one
//! [`Fixup`](crate::reloc::Fixup) per relocation; [`engine::run`] drives either for one
//! target, and first settles what no relocation can change: whether libbpf opens the object
//! at all, and whether its byte order is the kernel's; [`report`] is the `coretool.dry-run/v2`
//! document.
pub mod engine;
pub mod log;
pub mod offline;
pub mod report;

pub use crate::libbpf::object::SizedMap;
pub use engine::{run, run_with, Mode, ProgramLoad, RunError, Target, TargetReport};
