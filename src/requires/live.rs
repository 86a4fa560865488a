//! The live half of `requires --live`: which programs to load and attach on the running
//! kernel, and whether what happened there agrees with the offline prediction.
//!
//! A live outcome is `loads`, `fails` at `load` (libbpf's open/prepare or the kernel's
//! `BPF_PROG_LOAD`) or `fails` at `attach`. When no attach was attempted (the section has no
//! kernel target libbpf can auto-attach to), only the load stage is compared.

use super::check::{ProgramVerdict, Stage, Status, Verdict};
use super::needs::ObjectNeeds;
use super::sections::TargetKind;
use crate::libbpf::object::{LiveOutcome, LiveProgram};

/// The programs of `needs` as `libbpf::object::load_attach_each` takes them: each with the
/// maps it references, attached when its section names a kernel target.
pub fn programs(needs: &ObjectNeeds) -> Vec<LiveProgram> {
    needs
        .programs
        .iter()
        .map(|p| LiveProgram {
            name: p.name.clone(),
            maps: p.maps.iter().cloned().collect(),
            attach: p.target.is_some()
                && p.def.is_some_and(|d| {
                    matches!(
                        d.target,
                        TargetKind::Kprobe
                            | TargetKind::Ksyscall
                            | TargetKind::Tracepoint
                            | TargetKind::RawTracepoint
                            | TargetKind::BtfFunc
                            | TargetKind::Lsm
                            | TargetKind::BtfTracepoint
                            | TargetKind::Iter
                    )
                }),
        })
        .collect()
}

/// What happened live, as a verdict and the stage it failed at.
pub fn live_verdict(o: &LiveOutcome) -> (Verdict, Option<Stage>) {
    match (&o.load_error, &o.attach_error) {
        (Some(_), _) => (Verdict::Fails, Some(Stage::Load)),
        (None, Some(Some(_))) => (Verdict::Fails, Some(Stage::Attach)),
        _ => (Verdict::Loads, None),
    }
}

/// Whether the prediction `p` agrees with the live outcome `o`; `None` when the prediction was
/// `unknown` (nothing to agree with). Without an attach, attach-stage requirements cannot show
/// live, so only the load-stage ones make the prediction.
pub fn agrees(p: &ProgramVerdict, o: &LiveOutcome) -> Option<bool> {
    let attached = o.attach_error.is_some();
    let counted = p
        .requirements
        .iter()
        .filter(|r| attached || r.stage == Stage::Load);
    let mut fails_at: Option<Stage> = None;
    let mut unknown = false;
    for r in counted {
        match r.status {
            Status::Missing => fails_at = Some(fails_at.map_or(r.stage, |s| s.min(r.stage))),
            Status::Unknown => unknown = true,
            Status::Ok => {}
        }
    }
    let predicted = match (fails_at, unknown) {
        (Some(s), _) => (Verdict::Fails, Some(s)),
        (None, true) => return None,
        (None, false) => (Verdict::Loads, None),
    };
    Some(predicted == live_verdict(o))
}
