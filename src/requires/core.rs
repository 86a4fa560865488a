//! The CO-RE half of a program's requirements: its relocations on a kernel, as the offline
//! engine (`crate::dryrun::engine`, libbpf's own calculator) computed them, and libbpf's open
//! of the object (which refuses some objects before any kernel is involved).

use std::collections::BTreeMap;

use super::check::{ReqKind, Requirement, Stage, Status};
use super::needs::ObjectNeeds;
use crate::dryrun::engine::TargetReport;
use crate::reloc::Status as ReloStatus;

/// One `open` and one `core` requirement per program of `needs`, from `report` (a dry-run of
/// the object against the kernel): a program fails when libbpf refuses the object, when one of
/// its relocations (in it or in a subprogram it calls) is an error, or when a poisoned
/// instruction of it is reachable.
pub fn requirements(
    needs: &ObjectNeeds,
    report: &TargetReport,
) -> BTreeMap<String, Vec<Requirement>> {
    let mut out = BTreeMap::new();
    for p in &needs.programs {
        let mut reqs = Vec::new();
        if let Some(why) = &report.refused {
            reqs.push(Requirement {
                kind: ReqKind::Open,
                name: "bpf_object__open".into(),
                status: Status::Missing,
                stage: Stage::Load,
                evidence: format!("libbpf refuses the object: {why}"),
            });
        }
        let mine: Vec<_> = report
            .result
            .fixups
            .iter()
            .filter(|f| p.functions.contains(&f.program))
            .collect();
        let bad = mine
            .iter()
            .find(|f| matches!(f.status, ReloStatus::Error) || f.reachable_poison());
        let (status, evidence) = match bad {
            Some(f) => {
                let at = f
                    .source
                    .as_deref()
                    .map_or(String::new(), |s| format!(" at {s}"));
                let why = match (&f.error, f.status) {
                    (Some(e), _) => e.clone(),
                    (None, ReloStatus::Poisoned) => {
                        "no candidate in the kernel's BTF, and the poisoned instruction is reachable".into()
                    }
                    (None, s) => s.name().to_owned(),
                };
                (
                    Status::Missing,
                    format!("relocation #{} {}{at}: {why}", f.index, f.accessor),
                )
            }
            None if mine.is_empty() => (Status::Ok, "no CO-RE relocations".to_owned()),
            None => (
                Status::Ok,
                format!(
                    "{} relocations resolve ({} patched, {} poisoned where unreachable)",
                    mine.len(),
                    mine.iter().filter(|f| f.changed()).count(),
                    mine.iter()
                        .filter(|f| f.status == ReloStatus::Poisoned)
                        .count()
                ),
            ),
        };
        reqs.push(Requirement {
            kind: ReqKind::Core,
            name: "CO-RE relocations".into(),
            status,
            stage: Stage::Load,
            evidence,
        });
        out.insert(p.name.clone(), reqs);
    }
    out
}
