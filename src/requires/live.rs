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
/// maps it references, attached when `attach` is set and its section names a kernel target
/// (`requires --live --no-attach` loads only).
pub fn programs(needs: &ObjectNeeds, attach: bool) -> Vec<LiveProgram> {
    needs
        .programs
        .iter()
        .map(|p| LiveProgram {
            name: p.name.clone(),
            maps: p.maps.iter().cloned().collect(),
            attach: attach
                && p.target.is_some()
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
    let reqs: Vec<(Status, Stage)> = p.requirements.iter().map(|r| (r.status, r.stage)).collect();
    agrees_with(&reqs, live_verdict(o), o.attach_error.is_some())
}

/// [`agrees`] on the parts, as a results file states them (the kernel matrix compares a
/// prediction made on the host with a live run inside the kernel): each requirement's status
/// and stage, the live verdict and the stage it failed at, whether an attach was attempted.
/// Without an attach, attach-stage requirements cannot show live, so only the load-stage ones
/// make the prediction.
pub fn agrees_with(
    requirements: &[(Status, Stage)],
    live: (Verdict, Option<Stage>),
    attached: bool,
) -> Option<bool> {
    let mut fails_at: Option<Stage> = None;
    let mut unknown = false;
    for &(status, stage) in requirements
        .iter()
        .filter(|(_, stage)| attached || *stage == Stage::Load)
    {
        match status {
            Status::Missing => fails_at = Some(fails_at.map_or(stage, |s| s.min(stage))),
            Status::Unknown => unknown = true,
            Status::Ok => {}
        }
    }
    let predicted = match (fails_at, unknown) {
        (Some(s), _) => (Verdict::Fails, Some(s)),
        (None, true) => return None,
        (None, false) => (Verdict::Loads, None),
    };
    Some(predicted == live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_stage_needs_count_only_when_attached() {
        use Stage::*;
        use Status::*;
        let reqs = [(Ok, Load), (Missing, Attach)];
        assert_eq!(
            agrees_with(&reqs, (Verdict::Loads, None), false),
            Some(true)
        );
        assert_eq!(
            agrees_with(&reqs, (Verdict::Loads, None), true),
            Some(false)
        );
        assert_eq!(
            agrees_with(&reqs, (Verdict::Fails, Some(Attach)), true),
            Some(true)
        );
        let unknown = [(Unknown, Load), (Missing, Attach)];
        assert_eq!(agrees_with(&unknown, (Verdict::Loads, None), false), None);
        assert_eq!(
            agrees_with(&unknown, (Verdict::Fails, Some(Attach)), true),
            Some(true)
        );
        let load = [(Missing, Load), (Missing, Attach)];
        assert_eq!(
            agrees_with(&load, (Verdict::Fails, Some(Attach)), true),
            Some(false)
        );
    }
}
