//! A pure parser of libbpf's debug log: the lines CO-RE relocation and program loading print,
//! turned into typed [`Record`]s.
//!
//! The formats are libbpf's own (v1.7): `bpf_core_calc_relo_insn`, `bpf_core_patch_insn`,
//! `bpf_core_poison_insn` and `bpf_core_format_spec` in `relo_core.c`; `bpf_core_add_cands`,
//! `bpf_object__relocate_core`, `bpf_object_load_prog` and `fixup_log_failed_core_relo` in
//! `libbpf.c`. Lines this module does not know become nothing; it never fails, since a log is
//! evidence to read, not input to validate.

use crate::reloc::{CoreReloKind as RelocKind, Outcomes, Patch, Resolved, Spec, SpecDetail};

/// One meaningful line (or, for a verifier log, block) of libbpf's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `sec 'S': found N CO-RE relocations`
    SectionRelocs { section: String, count: u32 },
    /// `CO-RE relocating [L] struct x: found target candidate [T] struct x in [vmlinux]`; `btf` is
    /// `vmlinux` or a module's name.
    CandidateFound {
        local_id: u32,
        local: String,
        target_id: u32,
        target: String,
        btf: String,
    },
    /// `prog 'p': relo #N: <kind> [id] ...`: the local spec.
    LocalSpec { prog: String, relo: u32, spec: Spec },
    /// `prog 'p': relo #N: matching candidate #I <spec>` (or `non-matching`).
    Candidate {
        prog: String,
        relo: u32,
        index: u32,
        matching: bool,
        spec: Spec,
    },
    /// `prog 'p': relo #N: no matching targets found`
    NoMatch { prog: String, relo: u32 },
    /// `prog 'p': relo #N: patched insn #I (...) ...`
    Patched {
        prog: String,
        relo: u32,
        insn: u32,
        patch: Patch,
    },
    /// `prog 'p': relo #N: substituting insn #I w/ invalid insn`
    Poisoned { prog: String, relo: u32, insn: u32 },
    /// `prog 'p': relo #N: field offset ambiguity: A != B` (bit offsets)
    OffsetAmbiguity {
        prog: String,
        relo: u32,
        found: u32,
        chosen: u32,
    },
    /// `prog 'p': relo #N: relocation decision ambiguity: success A != failure B`
    DecisionAmbiguity {
        prog: String,
        relo: u32,
        message: String,
    },
    /// Any other warning about one CO-RE relocation (`failed to relocate: -EINVAL`, `unexpected
    /// insn #I ...`, `... accesses field incorrectly ...`).
    RelocWarning {
        prog: String,
        relo: u32,
        message: String,
    },
    /// `failed to perform CO-RE relocations: -EINVAL` / `failed to parse target BTF: ...`
    CoreFailed { message: String },
    /// `prog 'p': BPF program load failed: -EINVAL` / `prog 'p': failed to load: ...`
    LoadFailed { prog: String, message: String },
    /// The verifier log libbpf prints between `-- BEGIN PROG LOAD LOG --` and `-- END ...`.
    VerifierLog { prog: String, lines: Vec<String> },
}

impl Record {
    /// `(program, relocation index)` for records about one CO-RE relocation.
    pub fn relocation(&self) -> Option<(&str, u32)> {
        match self {
            Record::LocalSpec { prog, relo, .. }
            | Record::Candidate { prog, relo, .. }
            | Record::NoMatch { prog, relo }
            | Record::Patched { prog, relo, .. }
            | Record::Poisoned { prog, relo, .. }
            | Record::OffsetAmbiguity { prog, relo, .. }
            | Record::DecisionAmbiguity { prog, relo, .. }
            | Record::RelocWarning { prog, relo, .. } => Some((prog, *relo)),
            _ => None,
        }
    }
}

/// libbpf's reason for refusing relocation `relo` of `prog`, from the warnings it printed
/// about it: an ambiguity or any specific complaint first, its generic `failed to relocate`
/// last.
pub(crate) fn relo_error(records: &[Record], prog: &str, relo: u32) -> Option<String> {
    let mine = || {
        records
            .iter()
            .filter(move |r| r.relocation() == Some((prog, relo)))
    };
    mine()
        .find_map(|r| match r {
            Record::OffsetAmbiguity { found, chosen, .. } => Some(format!(
                "field offset ambiguity: candidates resolve to bit offsets {found} and {chosen}"
            )),
            Record::DecisionAmbiguity { message, .. } => Some(message.clone()),
            Record::RelocWarning { message, .. } if !message.starts_with("failed to relocate") => {
                Some(message.clone())
            }
            _ => None,
        })
        .or_else(|| {
            mine().find_map(|r| match r {
                Record::RelocWarning { message, .. } => Some(message.clone()),
                _ => None,
            })
        })
}

/// What libbpf's loader log says happened to each CO-RE relocation: the libbpf engine's
/// [`Outcomes`].
pub fn outcomes(records: &[Record]) -> Outcomes {
    let mut out = Outcomes {
        failure: records.iter().find_map(|r| match r {
            Record::CoreFailed { message } => Some(message.clone()),
            _ => None,
        }),
        ..Outcomes::default()
    };
    // The BTF (vmlinux or a module) each candidate was found in, by (local id, target id).
    let found_in = |local_id: u32, target_id: u32| {
        records
            .iter()
            .find_map(|r| match r {
                Record::CandidateFound {
                    local_id: l,
                    target_id: t,
                    btf,
                    ..
                } if *l == local_id && *t == target_id => Some(btf.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "vmlinux".to_owned())
    };
    for r in records {
        let Some((prog, relo)) = r.relocation() else {
            continue;
        };
        let key = (prog.to_owned(), relo);
        let o = out.relos.entry(key).or_default();
        match r {
            Record::LocalSpec { spec, .. } if o.local_spec.is_none() => {
                o.local_spec = Some(spec.clone())
            }
            Record::Candidate {
                matching: true,
                spec,
                ..
            } if o.resolved.is_none() => {
                let local_id = o.local_spec.as_ref().map_or(0, |s| s.type_id);
                o.resolved = Some(Resolved {
                    btf: found_in(local_id, spec.type_id),
                    spec: spec.clone(),
                })
            }
            Record::Patched { insn, patch, .. } => o.patches.push((*insn, *patch)),
            Record::Poisoned { insn, .. } => o.poisoned.push(*insn),
            _ => {}
        }
    }
    for ((prog, relo), o) in out.relos.iter_mut() {
        o.error = relo_error(records, prog, *relo);
    }
    out
}

/// Parse a whole log. Unknown lines are skipped; so are lines about non-CO-RE relocations
/// (`poisoning insn #I that loads map`, which reuse the `relo #N` wording).
pub fn parse(log: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut lines = log.lines();
    while let Some(line) = lines.next() {
        let line = line.strip_prefix("libbpf: ").unwrap_or(line);
        if let Some(prog) = line
            .strip_prefix("prog '")
            .and_then(|r| r.strip_suffix("': -- BEGIN PROG LOAD LOG --"))
        {
            let mut block = Vec::new();
            for l in lines.by_ref() {
                if l == "-- END PROG LOAD LOG --" {
                    break;
                }
                block.push(l.to_owned());
            }
            out.push(Record::VerifierLog {
                prog: prog.to_owned(),
                lines: block,
            });
            continue;
        }
        if let Some(r) = parse_line(line) {
            out.push(r);
        }
    }
    out
}

/// Parse one line, without its `libbpf: ` prefix.
pub fn parse_line(line: &str) -> Option<Record> {
    if let Some(rest) = line.strip_prefix("prog '") {
        let (prog, rest) = rest.split_once("': ")?;
        let prog = prog.to_owned();
        if let Some(rest) = rest.strip_prefix("relo #") {
            let (relo, msg) = rest.split_once(": ")?;
            let relo: u32 = relo.parse().ok()?;
            return parse_relo_message(prog, relo, msg);
        }
        if let Some(m) = rest.strip_prefix("BPF program load failed: ") {
            return Some(Record::LoadFailed {
                prog,
                message: m.to_owned(),
            });
        }
        if let Some(m) = rest.strip_prefix("failed to load: ") {
            return Some(Record::LoadFailed {
                prog,
                message: m.to_owned(),
            });
        }
        return None;
    }
    if let Some(rest) = line.strip_prefix("sec '") {
        let (section, rest) = rest.split_once("': found ")?;
        let count = rest.strip_suffix(" CO-RE relocations")?.parse().ok()?;
        return Some(Record::SectionRelocs {
            section: section.to_owned(),
            count,
        });
    }
    if let Some(rest) = line.strip_prefix("CO-RE relocating ") {
        // [L] kind name: found target candidate [T] kind name in [btf]
        let (local, rest) = rest.split_once(": found target candidate ")?;
        let (local_id, local) = split_id(local)?;
        let (target, btf) = rest.rsplit_once(" in [")?;
        let (target_id, target) = split_id(target)?;
        return Some(Record::CandidateFound {
            local_id,
            local: local.to_owned(),
            target_id,
            target: target.to_owned(),
            btf: btf.strip_suffix(']')?.to_owned(),
        });
    }
    for prefix in [
        "failed to perform CO-RE relocations: ",
        "failed to parse target BTF: ",
    ] {
        if line.starts_with(prefix) {
            return Some(Record::CoreFailed {
                message: line.to_owned(),
            });
        }
    }
    None
}

fn parse_relo_message(prog: String, relo: u32, msg: &str) -> Option<Record> {
    if msg == "no matching targets found" {
        return Some(Record::NoMatch { prog, relo });
    }
    if msg.starts_with('<') {
        return Some(Record::LocalSpec {
            prog,
            relo,
            spec: parse_spec(msg)?,
        });
    }
    for (prefix, matching) in [
        ("matching candidate #", true),
        ("non-matching candidate #", false),
    ] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let (index, spec) = rest.split_once(' ')?;
            return Some(Record::Candidate {
                prog,
                relo,
                index: index.parse().ok()?,
                matching,
                spec: parse_spec(spec)?,
            });
        }
    }
    if let Some(rest) = msg.strip_prefix("patched insn #") {
        let (insn, rest) = rest.split_once(' ')?;
        let insn = insn.parse().ok()?;
        // "(ALU/ALU64) imm 16 -> 1280"
        let mut it = rest.splitn(3, ' ');
        let class_field = (it.next()?, it.next()?);
        let values = it.next()?;
        let (old, new) = values.split_once(" -> ")?;
        let (old, new) = (old.parse().ok()?, new.parse().ok()?);
        let patch = match class_field {
            ("(ALU/ALU64)", "imm") => Patch::Imm { old, new },
            ("(LDX/ST/STX)", "off") => Patch::Off { old, new },
            ("(LDX/ST/STX)", "mem_sz") => Patch::MemSz { old, new },
            ("(LDIMM64)", "imm64") => Patch::Imm64 { old, new },
            _ => return None,
        };
        return Some(Record::Patched {
            prog,
            relo,
            insn,
            patch,
        });
    }
    if let Some(rest) = msg.strip_prefix("substituting insn #") {
        let insn = rest.strip_suffix(" w/ invalid insn")?.parse().ok()?;
        return Some(Record::Poisoned { prog, relo, insn });
    }
    if let Some(rest) = msg.strip_prefix("field offset ambiguity: ") {
        let (found, chosen) = rest.split_once(" != ")?;
        return Some(Record::OffsetAmbiguity {
            prog,
            relo,
            found: found.parse().ok()?,
            chosen: chosen.parse().ok()?,
        });
    }
    if msg.starts_with("relocation decision ambiguity: ") {
        return Some(Record::DecisionAmbiguity {
            prog,
            relo,
            message: msg.to_owned(),
        });
    }
    // Not CO-RE: map and kfunc relocations share the `relo #N` wording.
    if msg.starts_with("poisoning insn #") || msg.contains(" against ") {
        return None;
    }
    Some(Record::RelocWarning {
        prog,
        relo,
        message: msg.to_owned(),
    })
}

/// `[18] struct task_struct` -> `(18, "struct task_struct")`.
fn split_id(s: &str) -> Option<(u32, &str)> {
    let rest = s.strip_prefix('[')?;
    let (id, rest) = rest.split_once("] ")?;
    Some((id.parse().ok()?, rest))
}

/// Parse the output of `bpf_core_format_spec`.
pub fn parse_spec(s: &str) -> Option<Spec> {
    let rest = s.strip_prefix('<')?;
    let (kind, rest) = rest.split_once("> ")?;
    let kind = RelocKind::from_name(kind)?;
    let (type_id, rest) = split_id(rest)?;
    let (type_kind, rest) = rest.split_once(' ')?;
    let name_end = rest.find(['.', '[', ' ', ':']).unwrap_or(rest.len());
    // `<anon>` contains none of the separators, so it ends where a real name would.
    let (type_name, tail) = rest.split_at(name_end);
    let detail = if kind.is_enumval_based() {
        let t = tail.strip_prefix("::")?;
        let (name, value) = t.split_once(" = ")?;
        SpecDetail::Enumval {
            name: name.to_owned(),
            value: value.parse().ok()?,
        }
    } else if kind.is_field_based() {
        let (access, paren) = tail.rsplit_once(" (")?;
        let inner = paren.strip_suffix(')')?;
        let (raw, off) = inner.split_once(" @ offset ")?;
        let raw = raw
            .split(':')
            .map(|r| r.parse().ok())
            .collect::<Option<Vec<u32>>>()?;
        // An offset whose bits do not fit a u32 is not a line libbpf printed.
        let bit_offset = match off.split_once('.') {
            Some((bytes, bits)) => bytes
                .parse::<u32>()
                .ok()?
                .checked_mul(8)?
                .checked_add(bits.parse::<u32>().ok()?)?,
            None => off.parse::<u32>().ok()?.checked_mul(8)?,
        };
        SpecDetail::Field {
            access: access.to_owned(),
            raw,
            bit_offset,
        }
    } else {
        if !tail.is_empty() {
            return None;
        }
        SpecDetail::Type
    };
    Some(Spec {
        kind,
        type_id,
        type_kind: type_kind.to_owned(),
        type_name: type_name.to_owned(),
        detail,
    })
}

/// A poisoned instruction the verifier reached, from libbpf's rewritten verifier log
/// (`fixup_log_failed_core_relo`): `9: <invalid CO-RE relocation>` followed by
/// `failed to resolve CO-RE relocation <spec>`; `source` is the last `; code @ file:line`
/// annotation before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierPoison {
    pub insn: u32,
    pub spec: Option<Spec>,
    pub source: Option<String>,
}

/// Find the poisoned instruction a verifier log stopped at, if that is why it failed. Also
/// recognises the raw form (`call unknown#195896080`) that libbpf leaves when it cannot map the
/// instruction back.
pub fn verifier_poison(lines: &[String]) -> Option<VerifierPoison> {
    let mut source = None;
    for (i, l) in lines.iter().enumerate() {
        if let Some(ann) = l.strip_prefix("; ") {
            if let Some((_, loc)) = ann.rsplit_once(" @ ") {
                source = Some(loc.to_owned());
            }
            continue;
        }
        let Some((idx, rest)) = l.split_once(": ") else {
            continue;
        };
        let Ok(insn) = idx.parse::<u32>() else {
            continue;
        };
        if rest == "<invalid CO-RE relocation>" {
            let spec = lines
                .get(i + 1)
                .and_then(|n| n.strip_prefix("failed to resolve CO-RE relocation "))
                .and_then(parse_spec);
            return Some(VerifierPoison {
                insn,
                spec,
                source: source.clone(),
            });
        }
        if rest.ends_with("call unknown#195896080") {
            return Some(VerifierPoison {
                insn,
                spec: None,
                source: source.clone(),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips() {
        for s in [
            "<byte_off> [18] struct task_struct.real_parent (0:3 @ offset 16)",
            "<byte_off> [114] struct task_struct.sched_reset_on_fork (0:70 @ offset 1188)",
            "<field_exists> [114] struct task_struct (0 @ offset 0)",
            "<byte_off> [7] struct s.arr[2].x (0:1:2:0 @ offset 2420.3)",
            "<enumval_value> [23] enum pid_type::PIDTYPE_TGID = 1",
            "<enumval_value> [9] enum64 big::NEG = -5",
            "<type_size> [24] struct coretool_no_such_type",
            "<type_exists> [3] union <anon>",
        ] {
            let spec = parse_spec(s).unwrap_or_else(|| panic!("parse {s}"));
            assert_eq!(spec.to_string(), s);
        }
        let s = parse_spec("<byte_off> [7] struct s.arr[2].x (0:1:2:0 @ offset 2420.3)").unwrap();
        assert_eq!(s.accessor(), "struct s.arr[2].x");
        assert_eq!(s.bit_offset(), Some(2420 * 8 + 3));
        assert!(parse_spec("<nonsense> [1] struct x").is_none());
        assert!(parse_spec("<type_size> [1] struct x.y (0 @ offset 0)").is_none());
    }

    #[test]
    fn patch_lines() {
        let r =
            parse_line("prog 'on_switch': relo #1: patched insn #15 (LDX/ST/STX) mem_sz 8 -> 4");
        assert_eq!(
            r,
            Some(Record::Patched {
                prog: "on_switch".into(),
                relo: 1,
                insn: 15,
                patch: Patch::MemSz { old: 8, new: 4 }
            })
        );
        let r = parse_line("prog 'p': relo #13: patched insn #119 (LDIMM64) imm64 18 -> 114");
        assert!(matches!(
            r,
            Some(Record::Patched {
                patch: Patch::Imm64 { old: 18, new: 114 },
                ..
            })
        ));
        // A map relocation reuses the wording but is not CO-RE.
        assert_eq!(
            parse_line("prog 'on_switch': relo #3: poisoning insn #23 that loads map #0 'out'"),
            None
        );
    }

    #[test]
    fn module_candidate() {
        // No module BTF on the machine the fixtures came from; this is the format string of
        // bpf_core_add_cands with a module's name, as libbpf prints it for e.g. nf_conntrack.
        let r = parse_line(
            "CO-RE relocating [12] struct nf_conn: found target candidate [148923] struct nf_conn in [nf_conntrack]",
        );
        assert_eq!(
            r,
            Some(Record::CandidateFound {
                local_id: 12,
                local: "struct nf_conn".into(),
                target_id: 148923,
                target: "struct nf_conn".into(),
                btf: "nf_conntrack".into()
            })
        );
    }

    fn fixture(name: &str) -> Vec<Record> {
        let path = format!(
            "{}/tests/fixtures/libbpf-log/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        parse(&std::fs::read_to_string(&path).unwrap())
    }

    fn of<'a>(records: &'a [Record], prog: &str, relo: u32) -> Vec<&'a Record> {
        records
            .iter()
            .filter(|r| r.relocation() == Some((prog, relo)))
            .collect()
    }

    /// Every CO-RE line of every captured log is understood: nothing falls through to the
    /// catch-all warning except libbpf's real warnings.
    #[test]
    fn every_fixture_line_is_understood() {
        let dir = format!("{}/tests/fixtures/libbpf-log", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            for line in text.lines() {
                let l = line.strip_prefix("libbpf: ").unwrap_or(line);
                let core = (l.contains("CO-RE")
                    && !l.contains("invalid CO-RE")
                    && !l.starts_with("failed to resolve"))
                    || (l.starts_with("prog '")
                        && l.contains(": relo #")
                        && !l.contains("poisoning insn"));
                if core {
                    let r = parse_line(l);
                    assert!(r.is_some(), "not parsed: {line}");
                    if let Some(Record::RelocWarning { message, .. }) = &r {
                        assert!(message.starts_with("failed to relocate"), "{line}");
                    }
                    seen += 1;
                }
            }
        }
        assert!(seen > 100, "only {seen} CO-RE lines in the fixtures");
    }

    #[test]
    fn success_log() {
        let r = fixture("probe-6.18-prepare.log");
        assert!(r.contains(&Record::SectionRelocs {
            section: "raw_tp/sys_enter".into(),
            count: 16
        }));
        assert!(r.contains(&Record::CandidateFound {
            local_id: 18,
            local: "struct task_struct".into(),
            target_id: 114,
            target: "struct task_struct".into(),
            btf: "vmlinux".into()
        }));
        let relo0 = of(&r, "probe_reads", 0);
        let Record::LocalSpec { spec, .. } = relo0[0] else {
            panic!("{relo0:?}")
        };
        assert_eq!(spec.accessor(), "struct task_struct.real_parent");
        assert_eq!(spec.bit_offset(), Some(16 * 8));
        let Record::Candidate {
            matching: true,
            index: 0,
            spec,
            ..
        } = relo0[1]
        else {
            panic!("{relo0:?}")
        };
        assert_eq!(spec.type_id, 114);
        assert_eq!(spec.bit_offset(), Some(1280 * 8));
        assert_eq!(
            relo0[2],
            &Record::Patched {
                prog: "probe_reads".into(),
                relo: 0,
                insn: 2,
                patch: Patch::Imm { old: 16, new: 1280 }
            }
        );
        // The direct load: an off patch then a mem_sz patch on the same instruction.
        let relo1 = of(&r, "on_switch", 1);
        assert!(matches!(
            relo1[..],
            [
                Record::LocalSpec { .. },
                Record::Candidate { .. },
                Record::Patched {
                    insn: 15,
                    patch: Patch::Off { old: 0, new: 44 },
                    ..
                },
                Record::Patched {
                    insn: 15,
                    patch: Patch::MemSz { old: 8, new: 4 },
                    ..
                },
            ]
        ));
        // An enumerator's value, an ldimm64.
        let relo9 = of(&r, "probe_reads", 9);
        let Record::LocalSpec { spec, .. } = relo9[0] else {
            panic!()
        };
        assert_eq!(
            spec.detail,
            SpecDetail::Enumval {
                name: "PIDTYPE_TGID".into(),
                value: 1
            }
        );
        // A type that no kernel has: no candidate at all, existence 1 -> 0.
        let relo14 = of(&r, "probe_reads", 14);
        assert!(matches!(
            relo14[..],
            [
                Record::LocalSpec { .. },
                Record::NoMatch { .. },
                Record::Patched {
                    insn: 132,
                    patch: Patch::Imm { old: 1, new: 0 },
                    ..
                }
            ]
        ));
    }

    #[test]
    fn guarded_poison_log() {
        let r = fixture("probe-6.18-prepare.log");
        let relo3 = of(&r, "on_switch", 3);
        assert!(matches!(
            relo3[..],
            [
                Record::LocalSpec { .. },
                Record::Candidate {
                    matching: false,
                    ..
                },
                Record::NoMatch { .. },
                Record::Poisoned { insn: 29, .. }
            ]
        ));
        let Record::Candidate { spec, .. } = relo3[1] else {
            panic!()
        };
        // libbpf prints the candidate's spec as far as it matched: the root only.
        assert_eq!(
            spec.to_string(),
            "<byte_off> [114] struct task_struct (0 @ offset 0)"
        );
    }

    #[test]
    fn ambiguity_logs() {
        let r = fixture("probe-offset_ambiguity-prepare.log");
        assert!(r.contains(&Record::OffsetAmbiguity {
            prog: "on_switch".into(),
            relo: 0,
            found: 32,
            chosen: 0
        }));
        assert!(r.contains(&Record::RelocWarning {
            prog: "on_switch".into(),
            relo: 0,
            message: "failed to relocate: -EINVAL".into()
        }));
        assert!(r.contains(&Record::CoreFailed {
            message: "failed to perform CO-RE relocations: -EINVAL".into()
        }));
        let r = fixture("probe-decision_ambiguity-prepare.log");
        assert!(r.contains(&Record::DecisionAmbiguity {
            prog: "probe_reads".into(),
            relo: 8,
            message: "relocation decision ambiguity: success 2 != success 4".into()
        }));
    }

    #[test]
    fn verifier_rejects_poison() {
        let r = fixture("unguarded-6.18-load.log");
        assert!(r.contains(&Record::LoadFailed {
            prog: "unguarded".into(),
            message: "-EINVAL".into()
        }));
        let Some(Record::VerifierLog { prog, lines }) =
            r.iter().find(|r| matches!(r, Record::VerifierLog { .. }))
        else {
            panic!("no verifier log")
        };
        assert_eq!(prog, "unguarded");
        let p = verifier_poison(lines).unwrap();
        assert_eq!(p.insn, 9);
        assert_eq!(p.source.as_deref(), Some("unguarded.bpf.c:19"));
        assert_eq!(
            p.spec.unwrap().accessor(),
            "struct task_struct.coretool_no_such_field"
        );
    }

    /// Debian 5.10's BTF: a `___old` flavour matches the kernel's plain `task_struct`, and
    /// `local_type_id` has no candidate search at all.
    #[test]
    fn flavour_and_local_type_id() {
        let r = fixture("core_all_kinds-5.10-prepare.log");
        assert!(r.contains(&Record::CandidateFound {
            local_id: 5,
            local: "struct task_struct___old".into(),
            target_id: 132,
            target: "struct task_struct".into(),
            btf: "vmlinux".into()
        }));
        let relo0 = of(&r, "types_and_enums", 0);
        assert!(matches!(
            relo0[..],
            [
                Record::LocalSpec { .. },
                Record::Patched {
                    insn: 0,
                    patch: Patch::Imm64 { old: 7, new: 7 },
                    ..
                }
            ]
        ));
        let Record::Candidate { spec, .. } = of(&r, "types_and_enums", 4)[1] else {
            panic!()
        };
        assert_eq!(spec.kind, RelocKind::TypeMatches);
        assert_eq!(spec.root(), "[74] struct list_head");
    }
}
