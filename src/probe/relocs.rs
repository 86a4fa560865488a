//! How this kernel resolved the probe's CO-RE relocations, as libbpf reported them while
//! loading (its debug log, captured by [`super::LibbpfLog`]).
//!
//! libbpf logs each relocation in `bpf_core_apply_relo()` / `bpf_core_patch_insn()` as
//! `prog 'P': relo #N: <kind> [id] spec`, then `matching candidate #k ...` and either
//! `patched insn #I (...) off A -> B` or `substituting insn #I w/ invalid insn` (poisoned: the
//! field does not exist here, which is fine in a branch guarded by `bpf_core_field_exists`).
//! The lines are parsed by [`crate::dryrun::log`], the parser `coretool dry-run` uses.

use crate::dryrun::log;

/// One CO-RE relocation of one program, as resolved against the running kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedReloc {
    pub program: String,
    pub index: u32,
    /// libbpf's kind name: `byte_off`, `field_exists`, ...
    pub kind: String,
    /// The object's side: `[40] struct task_struct.tgid (0:93 @ offset 1268)`.
    pub local: String,
    /// The kernel's matching type, same notation; None when nothing matched.
    pub target: Option<String>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `insn #I`: what changed, e.g. `off 1268 -> 1268`.
    Patched { insn: u32, change: String },
    /// No match on this kernel: libbpf replaced `insn #I` with an invalid instruction, which the
    /// verifier accepts only if it is unreachable.
    Poisoned { insn: u32 },
    /// libbpf logged no outcome (for example the load stopped early).
    Unknown,
}

impl AppliedReloc {
    pub fn outcome_text(&self) -> String {
        match &self.outcome {
            Outcome::Patched { insn, change } => format!("insn #{insn}: {change}"),
            Outcome::Poisoned { insn } => format!("insn #{insn}: poisoned (no match here)"),
            Outcome::Unknown => "not reported".into(),
        }
    }
}

/// `[40] struct task_struct.tgid (0:93 @ offset 1268)`: libbpf's spec text without its kind.
fn spec_text(spec: &log::Spec) -> String {
    let full = spec.to_string();
    full.split_once("> ")
        .map_or(full.clone(), |(_, s)| s.to_owned())
}

/// Collect the relocations from libbpf's log, in the order libbpf applied them, through the
/// same parser `coretool dry-run` uses.
pub fn from_libbpf_log<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<AppliedReloc> {
    let mut out: Vec<AppliedReloc> = Vec::new();
    for line in lines {
        let Some(record) = log::parse_line(line.strip_prefix("libbpf: ").unwrap_or(line)) else {
            continue;
        };
        let Some((prog, index)) = record.relocation() else {
            continue;
        };
        let pos = out
            .iter()
            .rposition(|r| r.program == prog && r.index == index);
        if let log::Record::LocalSpec { spec, .. } = &record {
            if pos.is_none() {
                out.push(AppliedReloc {
                    program: prog.to_owned(),
                    index,
                    kind: spec.kind.name().to_owned(),
                    local: spec_text(spec),
                    target: None,
                    outcome: Outcome::Unknown,
                });
            }
            continue;
        }
        let Some(r) = pos.map(|i| &mut out[i]) else {
            continue;
        };
        match record {
            log::Record::Candidate {
                matching: true,
                spec,
                ..
            } => r.target = Some(spec_text(&spec)),
            log::Record::Patched { insn, patch, .. } => {
                let (old, new) = patch.values();
                r.outcome = Outcome::Patched {
                    insn,
                    change: format!("{} {old} -> {new}", patch.field()),
                };
            }
            log::Record::Poisoned { insn, .. } => r.outcome = Outcome::Poisoned { insn },
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as libbpf 1.7 printed them loading the probe on 6.18.
    const LOG: &str = "\
libbpf: prog 'pm_exec': relo #0: <byte_off> [40] struct task_struct.tgid (0:93 @ offset 1268)
libbpf: prog 'pm_exec': relo #0: matching candidate #0 <byte_off> [114] struct task_struct.tgid (0:93 @ offset 1268)
libbpf: prog 'pm_exec': relo #0: patched insn #3 (ALU/ALU64) imm 1268 -> 1268
libbpf: prog 'pm_fork': relo #21: <byte_off> [456] struct task_struct___pre514.state (0:0 @ offset 0)
libbpf: prog 'pm_fork': relo #21: non-matching candidate #0 <byte_off> [114] struct task_struct (0 @ offset 0)
libbpf: prog 'pm_fork': relo #21: no matching targets found
libbpf: prog 'pm_fork': relo #21: substituting insn #190 w/ invalid insn
libbpf: sec '.relkprobe/do_exit': relo #0: insn #21 against 'follow_tgid'
";

    #[test]
    fn parses_patched_and_poisoned() {
        let r = from_libbpf_log(LOG.lines());
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].program, "pm_exec");
        assert_eq!(r[0].kind, "byte_off");
        assert_eq!(
            r[0].target.as_deref(),
            Some("[114] struct task_struct.tgid (0:93 @ offset 1268)")
        );
        assert_eq!(
            r[0].outcome,
            Outcome::Patched {
                insn: 3,
                change: "imm 1268 -> 1268".into()
            }
        );
        assert_eq!(r[1].index, 21);
        assert_eq!(r[1].target, None);
        assert_eq!(r[1].outcome, Outcome::Poisoned { insn: 190 });
    }
}
