//! How this kernel resolved the probe's CO-RE relocations, as libbpf reported them while
//! loading (its debug log, captured by [`super::LibbpfLog`]).
//!
//! libbpf logs each relocation in `bpf_core_apply_relo()` / `bpf_core_patch_insn()` as
//! `prog 'P': relo #N: <kind> [id] spec`, then `matching candidate #k ...` and either
//! `patched insn #I (...) off A -> B` or `substituting insn #I w/ invalid insn` (poisoned: the
//! field does not exist here, which is fine in a branch guarded by `bpf_core_field_exists`).
//! Parsing that text is a stopgap that keeps libbpf's own vocabulary; a `.BTF.ext` based
//! listing can replace it without changing the record below.

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

    pub fn to_json(&self) -> serde_json::Value {
        let (status, insn, change) = match &self.outcome {
            Outcome::Patched { insn, change } => ("patched", Some(*insn), Some(change.as_str())),
            Outcome::Poisoned { insn } => ("poisoned", Some(*insn), None),
            Outcome::Unknown => ("unknown", None, None),
        };
        serde_json::json!({
            "program": self.program,
            "index": self.index,
            "kind": self.kind,
            "local": self.local,
            "target": self.target,
            "outcome": status,
            "insn": insn,
            "change": change,
        })
    }
}

/// Split `libbpf: prog 'P': relo #N: rest` into (P, N, rest).
fn split_line(line: &str) -> Option<(&str, u32, &str)> {
    let rest = line.strip_prefix("libbpf: ").unwrap_or(line);
    let rest = rest.strip_prefix("prog '")?;
    let (prog, rest) = rest.split_once("': relo #")?;
    let (num, rest) = rest.split_once(": ")?;
    Some((prog, num.parse().ok()?, rest))
}

/// `<byte_off> [40] struct task_struct.tgid (...)` into (`byte_off`, `[40] struct ...`).
fn split_spec(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('<')?;
    let (kind, spec) = s.split_once("> ")?;
    Some((kind, spec))
}

fn insn_number(s: &str) -> Option<u32> {
    let s = s.strip_prefix('#')?;
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

/// Collect the relocations from libbpf's log, in the order libbpf applied them.
pub fn from_libbpf_log<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<AppliedReloc> {
    let mut out: Vec<AppliedReloc> = Vec::new();
    for line in lines {
        let Some((prog, index, rest)) = split_line(line) else {
            continue;
        };
        let pos = out
            .iter()
            .rposition(|r| r.program == prog && r.index == index);
        if let Some((kind, spec)) = split_spec(rest) {
            if pos.is_none() {
                out.push(AppliedReloc {
                    program: prog.to_owned(),
                    index,
                    kind: kind.to_owned(),
                    local: spec.to_owned(),
                    target: None,
                    outcome: Outcome::Unknown,
                });
            }
            continue;
        }
        let Some(r) = pos.map(|i| &mut out[i]) else {
            continue;
        };
        if let Some(cand) = rest.strip_prefix("matching candidate #") {
            if let Some((_, spec)) = cand.split_once(' ').and_then(|(_, s)| split_spec(s)) {
                r.target = Some(spec.to_owned());
            }
        } else if let Some(p) = rest.strip_prefix("patched insn ") {
            if let Some(insn) = insn_number(p) {
                // "#3 (ALU/ALU64) imm 1268 -> 1268": keep what follows the class.
                let change = p.split_once(") ").map_or(p, |(_, c)| c);
                r.outcome = Outcome::Patched {
                    insn,
                    change: change.to_owned(),
                };
            }
        } else if let Some(p) = rest.strip_prefix("substituting insn ") {
            if let Some(insn) = insn_number(p) {
                r.outcome = Outcome::Poisoned { insn };
            }
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
