//! The proof: an object relocated against the minimized BTF must give, relocation by
//! relocation, what it gave against the full BTF.
//!
//! "The same result" means, for every relocation (by program and libbpf's `relo #N`): the same
//! status (patched, same, absent, poisoned, error, not run), the same local and target values,
//! the same instruction patch and load/store size change, the same reachability of a poisoned
//! instruction, whether libbpf complained, and a matched target spec of the same kind, type
//! kind and name, C access path (`.sk.__sk_common.skc_family`), bit offset and enumerator
//! value, found in the same BTF (vmlinux or the module). What may differ is only what the
//! minimization renumbers: type ids, and member indices in the raw accessor (`0:86` becomes
//! `0:2` when the members before it are dropped). Whether relocation as a whole stopped must
//! agree too. The value of a `type_id_target` relocation is a type id, so it is compared
//! through the renumbering: the minimized value must be the new id of the full value's type
//! (and whether the id "changed", patched or same, is not compared for that kind).

use crate::dryrun::TargetReport;
use crate::reloc::{CoreReloKind, Fixup, Patch, Spec, SpecDetail, Status};

/// One relocation whose result differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub program: String,
    /// libbpf's `relo #N`.
    pub index: usize,
    pub accessor: String,
    /// What differs (`status`, `target`, `spec`...).
    pub what: &'static str,
    /// The value against the full BTF, then against the minimized one.
    pub full: String,
    pub minimized: String,
}

/// The spec's facts that survive renumbering, compared without formatting anything.
#[derive(PartialEq)]
enum DetailKey<'a> {
    Type,
    Field(&'a str, u32),
    Enumval(&'a str, i128),
}

#[derive(PartialEq)]
struct SpecKey<'a> {
    kind: CoreReloKind,
    type_kind: &'a str,
    type_name: &'a str,
    detail: DetailKey<'a>,
    btf: &'a str,
}

/// One relocation's result as [`fields`] lists it, typed: equal exactly when every field of
/// [`fields`] is (the fast path of [`compare`]; the strings are made only for a difference).
#[derive(PartialEq)]
struct Facts<'a> {
    status: &'static str,
    local: Option<u64>,
    target: Option<u64>,
    patch: Option<Patch>,
    mem_sz: Option<(u64, u64)>,
    reachable: Option<bool>,
    error: bool,
    spec: Option<SpecKey<'a>>,
}

fn facts<'a>(f: &'a Fixup, renumber: &dyn Fn(&str, u64) -> u64) -> Facts<'a> {
    let btf = f.resolved.as_ref().map_or("vmlinux", |r| r.btf.as_str());
    let (target, patch, status) = renumbered(f, &|v| renumber(btf, v));
    Facts {
        status,
        local: f.local,
        target,
        patch,
        mem_sz: f.mem_sz,
        reachable: f.reachable,
        error: f.error.is_some(),
        spec: f.resolved.as_ref().map(|r| SpecKey {
            kind: r.spec.kind,
            type_kind: &r.spec.type_kind,
            type_name: &r.spec.type_name,
            detail: match &r.spec.detail {
                SpecDetail::Type => DetailKey::Type,
                SpecDetail::Field {
                    access, bit_offset, ..
                } => DetailKey::Field(access, *bit_offset),
                SpecDetail::Enumval { name, value } => DetailKey::Enumval(name, *value),
            },
            btf: &r.btf,
        }),
    }
}

/// The target value, patch and status with type ids renumbered where the kind makes them a
/// type id (`type_id_target`).
fn renumbered(
    f: &Fixup,
    renumber: &dyn Fn(u64) -> u64,
) -> (Option<u64>, Option<Patch>, &'static str) {
    let target = match f.kind {
        CoreReloKind::TypeIdTarget => f.target.map(renumber),
        _ => f.target,
    };
    let patch = f.patch.map(|p| match (f.kind, p) {
        (CoreReloKind::TypeIdTarget, Patch::Imm { old, new }) => Patch::Imm {
            old,
            new: renumber(new),
        },
        (CoreReloKind::TypeIdTarget, Patch::Imm64 { old, new }) => Patch::Imm64 {
            old,
            new: renumber(new),
        },
        (_, p) => p,
    });
    // Whether a type id "changed" depends on the numbering: patched and same are one status
    // for `type_id_target`.
    let status = match (f.kind, f.status) {
        (CoreReloKind::TypeIdTarget, Status::Same | Status::Patched) => "resolved",
        (_, s) => s.name(),
    };
    (target, patch, status)
}

/// The spec's facts that survive renumbering.
fn spec_key(s: &Spec) -> String {
    let detail = match &s.detail {
        SpecDetail::Type => String::new(),
        SpecDetail::Field {
            access, bit_offset, ..
        } => format!("{access} @ bit {bit_offset}"),
        SpecDetail::Enumval { name, value } => format!("::{name} = {value}"),
    };
    format!(
        "<{}> {} {}{detail}",
        s.kind.name(),
        s.type_kind,
        s.type_name
    )
}

fn fields(f: &Fixup, renumber: &dyn Fn(&str, u64) -> u64) -> [(&'static str, String); 8] {
    let btf = f.resolved.as_ref().map_or("vmlinux", |r| r.btf.as_str());
    let (target, patch, status) = renumbered(f, &|v| renumber(btf, v));
    [
        ("status", status.to_owned()),
        ("local value", format!("{:?}", f.local)),
        ("target value", format!("{target:?}")),
        ("patch", format!("{patch:?}")),
        ("mem_sz", format!("{:?}", f.mem_sz)),
        ("reachable", format!("{:?}", f.reachable)),
        ("error", format!("{}", f.error.is_some())),
        (
            "target spec",
            f.resolved.as_ref().map_or_else(
                || "none".to_owned(),
                |r| format!("{} in {}", spec_key(&r.spec), r.btf),
            ),
        ),
    ]
}

/// Every difference between the two results of one object; `renumber` maps a type id of the
/// full BTF named (`vmlinux` or a module) to its id in the minimized one (0 when not kept).
pub fn compare(
    full: &TargetReport,
    minimized: &TargetReport,
    renumber: &dyn Fn(&str, u64) -> u64,
) -> Vec<Mismatch> {
    let same = |_: &str, v: u64| v;
    let mut out = Vec::new();
    let (a, b) = (&full.result, &minimized.result);
    if a.failure.is_some() != b.failure.is_some() {
        out.push(Mismatch {
            program: String::new(),
            index: 0,
            accessor: String::new(),
            what: "relocation stopped",
            full: format!("{:?}", a.failure),
            minimized: format!("{:?}", b.failure),
        });
    }
    if a.fixups.len() != b.fixups.len() {
        out.push(Mismatch {
            program: String::new(),
            index: 0,
            accessor: String::new(),
            what: "relocations",
            full: a.fixups.len().to_string(),
            minimized: b.fixups.len().to_string(),
        });
        return out;
    }
    for (x, y) in a.fixups.iter().zip(&b.fixups) {
        if facts(x, renumber) == facts(y, &same) {
            continue;
        }
        for ((what, v1), (_, v2)) in fields(x, renumber).into_iter().zip(fields(y, &same)) {
            if v1 != v2 {
                out.push(Mismatch {
                    program: x.program.clone(),
                    index: x.index,
                    accessor: x.accessor.clone(),
                    what,
                    full: v1,
                    minimized: v2,
                });
            }
        }
    }
    out
}
