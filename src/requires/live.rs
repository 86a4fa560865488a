//! The live half of `requires --live`: which programs to load and attach on the running
//! kernel, and whether what happened there agrees with the offline prediction.
//!
//! A live outcome is `loads`, `fails` at `load` (libbpf's open/prepare or the kernel's
//! `BPF_PROG_LOAD`) or `fails` at `attach`. When no attach was attempted (the section has no
//! kernel target libbpf can auto-attach to), only the load stage is compared.

use super::check::{ProgramVerdict, Stage, Verdict};
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
/// `unknown` (nothing to agree with).
pub fn agrees(p: &ProgramVerdict, o: &LiveOutcome) -> Option<bool> {
    if p.verdict == Verdict::Unknown {
        return None;
    }
    let attached = o.attach_error.is_some();
    let predicted = match (p.verdict, p.fails_at) {
        // Without an attach, an attach-stage failure cannot show: the load is what is compared.
        (Verdict::Fails, Some(Stage::Attach)) if !attached => (Verdict::Loads, None),
        (v, s) => (v, s),
    };
    Some(predicted == live_verdict(o))
}
