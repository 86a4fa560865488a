//! The CO-RE relocation model, one type per concept, from the object's `.BTF.ext` to the
//! rendered row:
//!
//! - [`btf_ext`]: the `.BTF.ext` section (CO-RE records, line and func info).
//! - [`cands`]: candidate types by essential name, one pass per kernel.
//! - [`access`]: a record's access string decoded against the object's BTF
//!   (`bpf_core_parse_spec`), for `relocs`.
//! - [`object`]: the [`Object`], parsed once: BTF, `.BTF.ext`, programs and their instructions,
//!   and every record as a [`CoreRelo`] (program, program-relative instruction, source line).
//! - [`spec`]: a [`Spec`] as libbpf states it, and the instruction [`Patch`]es it applies.
//! - [`insn`]: instructions, patch replay, and whether a poisoned instruction is reachable.
//! - [`fixup`]: what one relocation became on one kernel ([`Fixup`]), assembled from the
//!   [`Outcome`]s that either relocation engine (`crate::dryrun`) reports.
pub mod access;
pub mod btf_ext;
pub mod cands;
pub mod fixup;
pub mod insn;
pub mod object;
pub mod spec;

pub use btf_ext::CoreReloKind;
pub use fixup::{assemble, Fixup, Outcome, Outcomes, Resolved, Status, Summary, TargetResult};
pub use object::{CoreRelo, Object, ObjectError, Program, SourceLine};
pub use spec::{Patch, Spec, SpecDetail};
