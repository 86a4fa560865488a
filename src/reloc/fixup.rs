//! One relocation's fate on one kernel: the typed result both relocation engines return.
//!
//! An engine (libbpf's loader, read from its log; or libbpf's calculator called offline)
//! reports an [`Outcome`] per relocation record; [`assemble`] joins those with the object's
//! records and instructions into one [`Fixup`] per relocation, decides its [`Status`], and
//! tells for every poisoned instruction whether the verifier can reach it.

use std::collections::HashMap;

use super::btf_ext::CoreReloKind;
use super::insn;
use super::object::Object;
use super::spec::{is_existence, Patch, Spec};

/// Outcome of one relocation on one kernel, in the words of the issue and libbpf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// The instruction's value changed.
    Patched,
    /// libbpf patched it with the value it already had.
    Same,
    /// An existence check resolved to 0: the program asked and the kernel said no. Fine.
    Absent,
    /// No candidate matched: libbpf replaced the instruction with an invalid call.
    Poisoned,
    /// libbpf refused the relocation (ambiguity, bad instruction...): the object cannot load.
    Error,
    /// libbpf never got to this relocation: it stopped at an earlier error.
    NotRun,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Patched => "patched",
            Status::Same => "same",
            Status::Absent => "absent",
            Status::Poisoned => "poisoned",
            Status::Error => "error",
            Status::NotRun => "not-run",
        }
    }
}

/// The target type a relocation resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub spec: Spec,
    /// `vmlinux` or the module whose BTF had the candidate.
    pub btf: String,
}

/// One relocation's fate on one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixup {
    pub program: String,
    pub section: String,
    /// libbpf's `relo #N`: the record's index within its section.
    pub index: usize,
    /// Instruction index within the program, as libbpf's log counts it.
    pub insn: u32,
    pub kind: CoreReloKind,
    /// `struct task_struct.real_parent`, from the local spec.
    pub accessor: String,
    /// The value the object's instruction carries (the local answer).
    pub local: Option<u64>,
    /// The value libbpf patched in; `None` when poisoned, failed or not run.
    pub target: Option<u64>,
    /// A load/store whose size libbpf changed (`mem_sz 8 -> 4`).
    pub mem_sz: Option<(u64, u64)>,
    /// The patch libbpf applied to the instruction's value (not the `mem_sz` one).
    pub patch: Option<Patch>,
    /// libbpf's local spec: the object's side, with the field's bit offset in the object's
    /// type; the target's is in `resolved`.
    pub local_spec: Option<Spec>,
    pub resolved: Option<Resolved>,
    pub status: Status,
    /// libbpf's complaint, for `error`.
    pub error: Option<String>,
    /// `file.bpf.c:42`, from `.BTF.ext` line info.
    pub source: Option<String>,
    /// For poisoned relocations: can the verifier reach the instruction? (offline analysis)
    pub reachable: Option<bool>,
}

impl Fixup {
    pub fn changed(&self) -> bool {
        self.status == Status::Patched
    }
    /// A poisoned instruction the program can reach: the verifier will reject it.
    pub fn reachable_poison(&self) -> bool {
        self.status == Status::Poisoned && self.reachable != Some(false)
    }
    /// `off 1268 -> 1280`: the value patch in libbpf's words.
    pub fn change(&self) -> Option<String> {
        self.patch.map(|p| {
            let (old, new) = p.values();
            format!("{} {old} -> {new}", p.field())
        })
    }
    /// The field's bit offset in the object's type (field kinds).
    pub fn local_bit_offset(&self) -> Option<u32> {
        self.local_spec.as_ref().and_then(Spec::bit_offset)
    }
}

/// What an engine learned about one relocation on one kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// libbpf's local spec (the object's side).
    pub local_spec: Option<Spec>,
    /// The first matching candidate, when one matched.
    pub resolved: Option<Resolved>,
    /// Instruction patches in the order libbpf applied them (program-relative index).
    pub patches: Vec<(u32, Patch)>,
    /// Instructions libbpf replaced with its poison call (both halves of an `ld_imm64`).
    pub poisoned: Vec<u32>,
    /// libbpf's complaint when it refused the relocation.
    pub error: Option<String>,
}

/// Everything an engine reports for one object on one kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// By program name and libbpf's `relo #N` (the record's index within its section).
    pub relos: HashMap<(String, u32), Outcome>,
    /// libbpf's reason when relocation stopped (`failed to perform CO-RE relocations: -EINVAL`).
    pub failure: Option<String>,
}

/// How a target's relocation as a whole went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetResult {
    pub fixups: Vec<Fixup>,
    /// libbpf's reason when relocation stopped (`failed to perform CO-RE relocations: -EINVAL`).
    pub failure: Option<String>,
}

/// Join the object's relocation records with what the engine reported for each.
pub fn assemble(obj: &Object, outcomes: &Outcomes) -> TargetResult {
    let none = Outcome::default();
    let mut fixups = Vec::new();
    for relo in obj.relocations() {
        let prog = obj
            .program(&relo.program)
            .expect("filtered by relocations()");
        let insn = relo.insn - prog.first_insn;
        let idx = insn as usize;
        let o = outcomes
            .relos
            .get(&(relo.program.clone(), relo.index as u32))
            .unwrap_or(&none);
        let accessor = o
            .local_spec
            .as_ref()
            .map(Spec::accessor)
            .unwrap_or_else(|| relo.accessor(&obj.btf));
        let main_patch = o
            .patches
            .iter()
            .map(|(_, p)| *p)
            .find(|p| !matches!(p, Patch::MemSz { .. }));
        let mem_sz = o.patches.iter().find_map(|(_, p)| match p {
            Patch::MemSz { old, new } => Some((*old, *new)),
            _ => None,
        });
        let poisoned = !o.poisoned.is_empty();
        let local = main_patch.map(|p| p.values().0).or_else(|| {
            prog.insns
                .get(idx)
                .and_then(|i| i.relo_value(prog.insns.get(idx + 1)))
        });
        let target = main_patch.map(|p| p.values().1);
        let status = if o.error.is_some() {
            Status::Error
        } else if poisoned {
            Status::Poisoned
        } else if let Some((old, new)) = main_patch.map(|p| p.values()) {
            if is_existence(relo.kind) && new == 0 {
                Status::Absent
            } else if old == new && !matches!(mem_sz, Some((a, b)) if a != b) {
                Status::Same
            } else {
                Status::Patched
            }
        } else {
            Status::NotRun
        };
        fixups.push(Fixup {
            program: relo.program.clone(),
            section: relo.section.clone(),
            index: relo.index,
            insn,
            kind: relo.kind,
            accessor,
            local,
            target: if poisoned { None } else { target },
            mem_sz,
            patch: main_patch,
            local_spec: o.local_spec.clone(),
            resolved: o.resolved.clone(),
            status,
            error: o.error.clone(),
            source: relo.line.as_ref().map(|l| {
                let file = l.file.rsplit('/').next().unwrap_or(&l.file);
                format!("{file}:{}", l.line)
            }),
            reachable: None,
        });
    }
    mark_reachability(obj, outcomes, &mut fixups);
    TargetResult {
        fixups,
        failure: outcomes.failure.clone(),
    }
}

/// Replay the patches on each program's instructions and decide, for every poisoned
/// relocation, whether its instruction is reachable.
fn mark_reachability(obj: &Object, outcomes: &Outcomes, fixups: &mut [Fixup]) {
    for prog in &obj.programs {
        let mut insns = prog.insns.clone();
        let mut poisoned = Vec::new();
        for relo in obj.relocations().filter(|r| r.program == prog.name) {
            let Some(o) = outcomes.relos.get(&(prog.name.clone(), relo.index as u32)) else {
                continue;
            };
            for (at, patch) in &o.patches {
                insn::apply_patch(&mut insns, *at as usize, *patch);
            }
            for at in &o.poisoned {
                insn::apply_poison(&mut insns, *at as usize);
                poisoned.push(*at as usize);
            }
        }
        if poisoned.is_empty() {
            continue;
        }
        let reach = insn::poison_reachability(&insns, &poisoned);
        for f in fixups
            .iter_mut()
            .filter(|f| f.program == prog.name && f.status == Status::Poisoned)
        {
            if let Some(pos) = poisoned.iter().position(|&p| p == f.insn as usize) {
                f.reachable = Some(reach[pos]);
            }
        }
    }
}

/// Summary counts for a target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub relocations: usize,
    pub changed: usize,
    pub poisoned: usize,
    pub reachable_poison: usize,
    pub errors: usize,
}

impl TargetResult {
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            relocations: self.fixups.len(),
            ..Summary::default()
        };
        for f in &self.fixups {
            s.changed += f.changed() as usize;
            s.poisoned += (f.status == Status::Poisoned) as usize;
            s.reachable_poison += f.reachable_poison() as usize;
            s.errors += (f.status == Status::Error) as usize;
        }
        s
    }

    /// Whether libbpf's relocation would let the object load (the verifier aside).
    pub fn relocates(&self) -> bool {
        self.failure.is_none() && !self.fixups.iter().any(|f| f.status == Status::Error)
    }
}
