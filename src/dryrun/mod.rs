//! `coretool dry-run`: what libbpf's CO-RE relocation does to an object on a given kernel.
//!
//! Two producers, one consumer. The libbpf path ([`live`]) lets libbpf relocate the object
//! (`bpf_object__prepare`) and captures its debug log; the offline path ([`offline`]) calls
//! libbpf's own relocation calculator without a kernel and writes the same log lines. Both logs
//! go through the pure parser ([`log`]) and [`assemble`] turns the records, together with the
//! object's `.BTF.ext` records and instructions, into one [`Fixup`] per relocation.
pub mod capture;
pub mod insn;
pub mod live;
pub mod log;
pub mod offline;

use std::path::{Path, PathBuf};

use crate::btf_ext::CoreReloKind;
use crate::elf::ElfInfo;
use crate::relocs::{BpfObject, CoreRelo, ObjectError, BPF_INSN_SZ};
use insn::Insn;
use log::{is_existence, Patch, Record, Spec};

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
    /// Field kinds: the field's bit offset in the object's type (libbpf's local spec); the
    /// target's is in `resolved`.
    pub local_bit_offset: Option<u32>,
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
}

/// A program of the object: where it lives and its instructions as compiled.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: String,
    pub section: String,
    /// Index of its first instruction within the section.
    pub first_insn: u32,
    pub insns: Vec<Insn>,
}

/// The object under test, parsed once and shared by every target.
pub struct Object {
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub parsed: BpfObject,
    /// The `.BTF` section as stored, for handing to libbpf.
    pub btf_raw: Vec<u8>,
    pub programs: Vec<Program>,
}

impl Object {
    pub fn parse(path: &Path, data: Vec<u8>) -> Result<Object, ObjectError> {
        let parsed = BpfObject::parse(&data)?;
        let elf = ElfInfo::parse(&data)?;
        let programs = elf
            .funcs
            .iter()
            .filter(|f| elf.code_sections.contains(&f.section))
            .filter_map(|f| {
                let sec = elf.section(&f.section)?;
                let end = if f.size == 0 {
                    sec.len()
                } else {
                    f.offset.saturating_add(f.size) as usize
                };
                let bytes = sec.get(f.offset as usize..end)?;
                Some(Program {
                    name: f.name.clone(),
                    section: f.section.clone(),
                    first_insn: (f.offset / BPF_INSN_SZ as u64) as u32,
                    insns: insn::decode_all(bytes, elf.endian),
                })
            })
            .collect();
        let btf_raw = elf.section(".BTF").unwrap_or_default().to_vec();
        Ok(Object {
            path: path.to_path_buf(),
            btf_raw,
            data,
            parsed,
            programs,
        })
    }

    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The relocations libbpf applies: those in programs it loads (`?`-sections are not
    /// autoloaded and libbpf skips their relocations).
    pub fn relocations(&self) -> impl Iterator<Item = &CoreRelo> {
        self.parsed
            .relos
            .iter()
            .filter(|r| !r.section.starts_with('?'))
            // A hostile object can name a program (two symbols of one name) that starts after
            // the instruction: that relocation is not in it.
            .filter(|r| {
                self.program(&r.program)
                    .is_some_and(|p| r.insn >= p.first_insn)
            })
    }
}

/// How a target's relocation as a whole went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetResult {
    pub fixups: Vec<Fixup>,
    /// libbpf's reason when relocation stopped (`failed to perform CO-RE relocations: -EINVAL`).
    pub failure: Option<String>,
}

/// Combine the object's relocation records with what libbpf's log says happened to each.
pub fn assemble(obj: &Object, records: &[Record]) -> TargetResult {
    let failure = records.iter().find_map(|r| match r {
        Record::CoreFailed { message } => Some(message.clone()),
        _ => None,
    });
    let mut fixups = Vec::new();
    for relo in obj.relocations() {
        let prog = obj
            .program(&relo.program)
            .expect("filtered by relocations()");
        let insn = relo.insn - prog.first_insn;
        let idx = insn as usize;
        let mine: Vec<&Record> = records
            .iter()
            .filter(|r| r.relocation() == Some((relo.program.as_str(), relo.index as u32)))
            .collect();
        let local_spec = mine.iter().find_map(|r| match r {
            Record::LocalSpec { spec, .. } => Some(spec.clone()),
            _ => None,
        });
        let accessor = local_spec
            .as_ref()
            .map(Spec::accessor)
            .unwrap_or_else(|| relo.accessor(&obj.parsed.btf));
        let patches: Vec<Patch> = mine
            .iter()
            .filter_map(|r| match r {
                Record::Patched { patch, .. } => Some(*patch),
                _ => None,
            })
            .collect();
        let main_patch = patches.iter().find(|p| !matches!(p, Patch::MemSz { .. }));
        let mem_sz = patches.iter().find_map(|p| match p {
            Patch::MemSz { old, new } => Some((*old, *new)),
            _ => None,
        });
        let poisoned = mine.iter().any(|r| matches!(r, Record::Poisoned { .. }));
        let error = mine.iter().find_map(|r| match r {
            Record::OffsetAmbiguity { found, chosen, .. } => Some(format!(
                "field offset ambiguity: candidates resolve to bit offsets {found} and {chosen}"
            )),
            Record::DecisionAmbiguity { message, .. } => Some(message.clone()),
            Record::RelocWarning { message, .. } if !message.starts_with("failed to relocate") => {
                Some(message.clone())
            }
            _ => None,
        });
        let error = error.or_else(|| {
            mine.iter().find_map(|r| match r {
                Record::RelocWarning { message, .. } => Some(message.clone()),
                _ => None,
            })
        });
        let resolved = first_match(records, &mine, relo.type_id);
        let local = main_patch.map(|p| p.values().0).or_else(|| {
            prog.insns
                .get(idx)
                .and_then(|i| i.relo_value(prog.insns.get(idx + 1)))
        });
        let target = main_patch.map(|p| p.values().1);
        let status = if error.is_some() {
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
            local_bit_offset: local_spec.as_ref().and_then(Spec::bit_offset),
            resolved,
            status,
            error,
            source: relo.line.as_ref().map(|l| {
                let file = l.file.rsplit('/').next().unwrap_or(&l.file);
                format!("{file}:{}", l.line)
            }),
            reachable: None,
        });
    }
    mark_reachability(obj, records, &mut fixups);
    TargetResult { fixups, failure }
}

/// The first matching candidate's spec and the BTF it came from.
fn first_match(all: &[Record], mine: &[&Record], local_id: u32) -> Option<Resolved> {
    let spec = mine.iter().find_map(|r| match r {
        Record::Candidate {
            matching: true,
            spec,
            ..
        } => Some(spec.clone()),
        _ => None,
    })?;
    let btf = all
        .iter()
        .find_map(|r| match r {
            Record::CandidateFound {
                local_id: l,
                target_id,
                btf,
                ..
            } if *l == local_id && *target_id == spec.type_id => Some(btf.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "vmlinux".to_owned());
    Some(Resolved { spec, btf })
}

/// Replay the log's patches on each program's instructions and decide, for every poisoned
/// relocation, whether its instruction is reachable.
fn mark_reachability(obj: &Object, records: &[Record], fixups: &mut [Fixup]) {
    for prog in &obj.programs {
        let mut insns = prog.insns.clone();
        let mut poisoned = Vec::new();
        for r in records {
            match r {
                Record::Patched {
                    prog: p,
                    insn,
                    patch,
                    ..
                } if *p == prog.name => insn::apply_patch(&mut insns, *insn as usize, *patch),
                Record::Poisoned { prog: p, insn, .. } if *p == prog.name => {
                    // libbpf poisons both halves of an ld_imm64 and logs both; the first is the
                    // relocated instruction.
                    insn::apply_poison(&mut insns, *insn as usize);
                    poisoned.push(*insn as usize);
                }
                _ => {}
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
pub mod run;
