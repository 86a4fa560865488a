//! `coretool compat`: every object against every kernel of a fleet, streamed.
//!
//! [`sources`] expands `--kernels SRC...` into kernels (files, directories in BTFHub's layout,
//! Debian kernel packages) and reads each into a BTF and a [`KernelId`], through the BTF
//! [`cache`] (each compressed source unpacked once, its BTF and identity kept on disk);
//! [`engine`] runs the offline relocation engine ([`crate::dryrun::engine::run`]) for every
//! object on each kernel, and checks what else each object's programs need from that kernel
//! ([`crate::requires`]: the needs read once per object, the kernel's offers once per kernel),
//! in parallel, one kernel per worker at a time, handing each kernel's results to the caller
//! as soon as they are known and dropping the kernel's BTF right after;
//! [`classes`] folds the results into classes of kernels with the same verdict, for summaries
//! at fleet scale. Nothing here prints.
//!
//! Trusts: the objects were parsed by [`crate::reloc::Object::parse`]; kernel sources are
//! untrusted input, read with [`crate::source`]'s limits; one unreadable kernel is a result, not
//! an error.
pub mod cache;
pub mod classes;
pub mod deb;
pub mod engine;
pub mod identity;
pub mod sources;

pub use cache::Cache;
pub use classes::{ClassKey, Classes, FailedRelo, ReqProblem, RequiresKey};
pub use engine::{run, KernelOutcome, ObjectOutcome, Options, Requires, Verdict};
pub use identity::KernelId;
pub use sources::{expand, CacheUse, KernelInput, Unlisted};

/// The schema name and version of `coretool compat --json` records.
pub const SCHEMA: &str = "coretool.compat/v2";
