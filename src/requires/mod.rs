//! `requires`: everything a BPF object needs from a kernel besides its CO-RE relocations,
//! checked offline against that kernel's BTF: "will it load?".
//!
//! - [`sections`]: libbpf's `SEC()` table (program type, attach type, target kind).
//! - [`needs`]: what the object needs, from the ELF alone ([`ObjectNeeds`]).
//! - [`offers`]: what a kernel offers, from its BTF, config and symbols ([`KernelOffers`]).
//! - [`check`](mod@check): needs against offers, one [`Requirement`] each, a verdict per program and object.
//!
//! `compat` and `dry-run` call [`check`] for the non-CO-RE half of their verdicts.
pub mod check;
pub mod core;
pub mod flow;
pub mod live;
pub mod needs;
pub mod offers;
pub mod sections;

pub use check::{
    check_needs, check_needs_with, Names, ObjectRequirements, ObjectVerdict, ProgramVerdict,
    ReqKind, Requirement, Stage, Status, Verdict,
};
pub use needs::{needs, NeedsError, ObjectNeeds, ProgramNeeds};
pub use offers::{companions, ConfigFile, KernelOffers, SymbolTable};

/// Everything `obj` needs, checked against `offers`, with helper names from the object and
/// the kernel.
pub fn check(
    obj: &crate::reloc::Object,
    offers: &KernelOffers,
) -> Result<ObjectRequirements, NeedsError> {
    let n = needs(obj)?;
    let mut names = Names::default();
    names.learn(&n.helper_names);
    Ok(check_needs(&n, offers, &names))
}
