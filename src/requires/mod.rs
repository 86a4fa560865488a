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
pub mod helpers;
pub mod live;
pub mod names;
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

/// What keeps an object from loading as it is on a kernel, or cannot be told there: the
/// requirements of its autoloaded programs (with the program's name) and of the object itself
/// (its maps; `None`) that are not ok, besides the CO-RE relocations (the relocation reports
/// name those); missing before unknown, otherwise in program order.
pub fn problems(r: &ObjectRequirements) -> Vec<(Option<&str>, &Requirement)> {
    let programs = r.programs.iter().filter(|p| p.autoload);
    let mut out: Vec<(Option<&str>, &Requirement)> = programs
        .flat_map(|p| {
            p.requirements
                .iter()
                .map(move |q| (Some(p.name.as_str()), q))
        })
        .chain(r.object.iter().map(|q| (None, q)))
        .filter(|(_, q)| q.status != Status::Ok && q.kind != ReqKind::Core)
        .collect();
    out.sort_by_key(|(_, q)| q.status != Status::Missing);
    out
}

/// The verdict of both halves, `requires` having been computed with the CO-RE half weighed in
/// per program ([`core::requirements`]): it decides, except that a relocation failure it did
/// not see (libbpf stopping short of any relocation, the verifier refusing a program under
/// `dry-run --load`) still fails an object it found loading or unknown.
pub fn combine(relocations_load: bool, requires: &ObjectVerdict) -> ObjectVerdict {
    match requires {
        ObjectVerdict::Loads | ObjectVerdict::Unknown if !relocations_load => ObjectVerdict::Fails,
        v => v.clone(),
    }
}
