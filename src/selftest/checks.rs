//! Holding the probe's events against ground truth. Pure: events and truth in, checks out.
//!
//! Each comparison renders both sides in the same `key=value` form, so a failure shows exactly
//! which field the kernel reported differently (a wrong CO-RE offset reads a plausible-looking
//! but wrong value, which only such a comparison catches).

use std::collections::HashMap;

use crate::probe::event::{
    Event, EventKind, ExitStatus, Stats, F_GROUP_DEAD, F_STATE_NEW, F_STATE_VALID, TASK_NEW,
};

use super::workload::{ChildTruth, Parent};
use crate::reloc::{Object, Outcomes};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub expected: String,
    /// What was observed, or for `skip` the reason.
    pub got: String,
}

impl Check {
    /// Pass when `expected == got`, else fail.
    pub fn compare(name: impl Into<String>, expected: String, got: String) -> Check {
        let status = if expected == got {
            Status::Pass
        } else {
            Status::Fail
        };
        Check::new(status, name, expected, got)
    }
    pub fn new(
        status: Status,
        name: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            status,
            expected: expected.into(),
            got: got.into(),
        }
    }
    pub fn pass(
        name: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Check {
        Check::new(Status::Pass, name, expected, got)
    }
    pub fn fail(
        name: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Check {
        Check::new(Status::Fail, name, expected, got)
    }
    /// For a skip, `got` carries the reason.
    pub fn skip(
        name: impl Into<String>,
        expected: impl Into<String>,
        reason: impl Into<String>,
    ) -> Check {
        Check::new(Status::Skip, name, expected, reason)
    }
}

/// What the kernel's own BTF says about the fields the probe guards, to check the probe's
/// `bpf_core_field_exists` answers against.
#[derive(Debug, Clone, Copy)]
pub struct KernelLayout {
    /// task_struct has `__state` (else `state`).
    pub task_state_new: Option<bool>,
    /// sched_process_exit's record has `group_dead`.
    pub exit_group_dead: Option<bool>,
}

impl KernelLayout {
    pub fn of(btf: &crate::btf::Btf) -> KernelLayout {
        KernelLayout {
            task_state_new: has_member(btf, "task_struct", "__state"),
            exit_group_dead: has_member(btf, "trace_event_raw_sched_process_exit", "group_dead")
                .or(Some(false)),
        }
    }
}

/// Whether struct `name` has a member `member` (None: no such struct).
pub(crate) fn has_member(btf: &crate::btf::Btf, name: &str, member: &str) -> Option<bool> {
    let id = btf.ids_by_name(name).iter().copied().find(|&id| {
        btf.type_by_id(id)
            .is_some_and(|t| t.kind() == crate::btf::Kind::Struct)
    })?;
    let t = btf.type_by_id(id)?;
    let found = t.members().any(|m| btf.str_at(m.name_off) == Some(member));
    Some(found)
}

fn first(events: &[Event], f: impl Fn(&Event) -> bool) -> Option<&Event> {
    events.iter().find(|e| f(e))
}

fn fields(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

const MISSING: &str = "no event";

fn fork_fields(
    pid: u32,
    tid: u32,
    ppid: u32,
    uid: u32,
    gid: u32,
    comm: &str,
    child: u32,
) -> String {
    fields(&[
        ("pid", pid.to_string()),
        ("tid", tid.to_string()),
        ("ppid", ppid.to_string()),
        ("uid", uid.to_string()),
        ("gid", gid.to_string()),
        ("comm", comm.to_owned()),
        ("child", child.to_string()),
    ])
}

fn status_text(raw: u32) -> String {
    format!("{} ({raw:#x})", ExitStatus::from_raw(raw))
}

/// Checks for one child: its fork, exec and exit events and their order.
pub(crate) fn child_checks(parent: &Parent, c: &ChildTruth, events: &[Event]) -> Vec<Check> {
    let mut out = Vec::new();
    let name = |what: &str| format!("{}.{what}", c.label);

    let fork = first(events, |e| {
        e.kind == EventKind::Fork && e.child_pid == c.pid
    });
    out.push(Check::compare(
        name("fork"),
        fork_fields(
            parent.pid,
            parent.tid,
            parent.ppid,
            parent.uid,
            parent.gid,
            &parent.comm,
            c.pid,
        ),
        fork.map_or(MISSING.into(), |e| {
            fork_fields(e.pid, e.tid, e.ppid, e.uid, e.gid, &e.comm, e.child_pid)
        }),
    ));

    let exec = first(events, |e| e.kind == EventKind::Exec && e.pid == c.pid);
    match &c.exec {
        Some(t) => {
            let expected = fields(&[
                ("pid", c.pid.to_string()),
                ("tid", c.pid.to_string()),
                ("ppid", parent.pid.to_string()),
                ("uid", c.uid.to_string()),
                ("gid", c.gid.to_string()),
                ("comm", t.comm.clone()),
                ("exe", t.exe.clone()),
                ("filename", t.filename.clone()),
            ]);
            let got = exec.map_or(MISSING.into(), |e| {
                fields(&[
                    ("pid", e.pid.to_string()),
                    ("tid", e.tid.to_string()),
                    ("ppid", e.ppid.to_string()),
                    ("uid", e.uid.to_string()),
                    ("gid", e.gid.to_string()),
                    ("comm", e.comm.clone()),
                    ("exe", e.exe.clone()),
                    ("filename", e.filename.clone()),
                ])
            });
            out.push(Check::compare(name("exec"), expected, got));
        }
        None => out.push(Check::compare(
            name("no_exec"),
            MISSING.into(),
            exec.map_or(MISSING.into(), |e| format!("exec of {}", e.filename)),
        )),
    }

    let exit = first(events, |e| e.kind == EventKind::Exit && e.pid == c.pid);
    let exit_fields = |pid: u32, ppid: u32, uid: u32, gid: u32, comm: &str, status: u32| {
        fields(&[
            ("pid", pid.to_string()),
            ("ppid", ppid.to_string()),
            ("uid", uid.to_string()),
            ("gid", gid.to_string()),
            ("comm", comm.to_owned()),
            ("status", status_text(status)),
        ])
    };
    out.push(Check::compare(
        name("exit"),
        exit_fields(c.pid, parent.pid, c.uid, c.gid, &c.exit_comm, c.wait_status),
        exit.map_or(MISSING.into(), |e| {
            exit_fields(e.pid, e.ppid, e.uid, e.gid, &e.comm, e.exit_status)
        }),
    ));

    if let (Some(f), Some(x)) = (fork, exit) {
        let mut times = vec![("fork", f.ts_ns)];
        if let Some(e) = exec {
            times.push(("exec", e.ts_ns));
        }
        times.push(("exit", x.ts_ns));
        let expected = times.iter().map(|t| t.0).collect::<Vec<_>>().join(" <= ");
        let mut sorted = times.clone();
        sorted.sort_by_key(|t| t.1);
        let got = sorted.iter().map(|t| t.0).collect::<Vec<_>>().join(" <= ");
        out.push(Check::compare(name("order"), expected, got));
    }
    out
}

/// The fork child's task state, read through whichever of `__state`/`state` the kernel has,
/// must be TASK_NEW; and the probe must have picked the field the kernel BTF has.
pub(crate) fn layout_checks(
    layout: &KernelLayout,
    fork_child: Option<&ChildTruth>,
    events: &[Event],
) -> Vec<Check> {
    let mut out = Vec::new();
    let field_name = |new: bool| if new { "__state" } else { "state" };
    let fork = fork_child.and_then(|c| {
        first(events, |e| {
            e.kind == EventKind::Fork && e.child_pid == c.pid
        })
    });
    match (layout.task_state_new, fork) {
        (Some(new), Some(e)) if e.flags & F_STATE_VALID != 0 => out.push(Check::compare(
            "layout.task_state",
            format!("field={} state={TASK_NEW:#x} (TASK_NEW)", field_name(new)),
            format!(
                "field={} state={:#x}{}",
                field_name(e.flags & F_STATE_NEW != 0),
                e.state,
                if e.state == TASK_NEW {
                    " (TASK_NEW)"
                } else {
                    ""
                }
            ),
        )),
        (None, _) => out.push(Check::skip(
            "layout.task_state",
            "kernel BTF describes task_struct",
            "kernel BTF has no struct task_struct",
        )),
        _ => out.push(Check::fail(
            "layout.task_state",
            "a fork event of the fork child carrying its state",
            MISSING,
        )),
    }
    let exit =
        fork_child.and_then(|c| first(events, |e| e.kind == EventKind::Exit && e.pid == c.pid));
    let source = |g: bool| {
        if g {
            "tracepoint group_dead"
        } else {
            "signal->live"
        }
    };
    match (layout.exit_group_dead, exit) {
        (Some(g), Some(e)) => out.push(Check::compare(
            "layout.exit_group_dead",
            format!("source={}", source(g)),
            format!("source={}", source(e.flags & F_GROUP_DEAD != 0)),
        )),
        _ => out.push(Check::fail(
            "layout.exit_group_dead",
            "an exit event of the fork child",
            MISSING,
        )),
    }
    out
}

/// Every fork of `parent` names one of `children`, and each child has exactly one fork.
pub(crate) fn fork_pairs_check(
    name: &str,
    parent: u32,
    children: &[u32],
    events: &[Event],
) -> Check {
    let mut forks: HashMap<u32, usize> = HashMap::new();
    for e in events
        .iter()
        .filter(|e| e.kind == EventKind::Fork && e.pid == parent)
    {
        *forks.entry(e.child_pid).or_default() += 1;
    }
    let mut expected: HashMap<u32, usize> = HashMap::new();
    for c in children {
        *expected.entry(*c).or_default() += 1;
    }
    let missing = expected
        .iter()
        .filter(|(pid, n)| forks.get(pid).copied().unwrap_or(0) < **n)
        .count();
    let unexpected = forks
        .keys()
        .filter(|pid| !expected.contains_key(pid))
        .count();
    Check::compare(
        name,
        format!(
            "{} fork pairs (parent {parent}), 0 missing, 0 unexpected",
            children.len()
        ),
        format!(
            "{} fork pairs (parent {parent}), {missing} missing, {unexpected} unexpected",
            forks.values().sum::<usize>()
        ),
    )
}

/// kprobe do_exit: the code each child's leader passed to do_exit() is its wait status.
pub(crate) fn do_exit_check(
    attached: Result<(), &str>,
    children: &[ChildTruth],
    events: &[Event],
) -> Check {
    let expected = children
        .iter()
        .map(|c| format!("{}:{}", c.label, status_text(c.wait_status)))
        .collect::<Vec<_>>()
        .join(" ");
    if let Err(reason) = attached {
        return Check::skip(
            "kprobe.do_exit",
            expected,
            format!("kprobe not attached: {reason}"),
        );
    }
    let got = children
        .iter()
        .map(|c| {
            let e = first(events, |e| e.kind == EventKind::DoExit && e.pid == c.pid);
            format!(
                "{}:{}",
                c.label,
                e.map_or(MISSING.into(), |e| status_text(e.exit_status))
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    Check::compare("kprobe.do_exit", expected, got)
}

/// Count received events per kind.
pub(crate) fn count_kinds(events: &[Event]) -> Stats {
    let mut s = Stats::default();
    for e in events {
        match e.kind {
            EventKind::Exec => s.exec += 1,
            EventKind::Exit => s.exit += 1,
            EventKind::Fork => s.fork += 1,
            EventKind::DoExit => s.do_exit += 1,
        }
        s.total += 1;
    }
    s
}

/// The probe's counters agree with themselves and with what arrived; nothing was lost.
pub(crate) fn stats_checks(
    prefix: &str,
    stats: &Stats,
    events: &[Event],
    malformed: u64,
) -> Vec<Check> {
    let got = count_kinds(events);
    let kinds = |s: &Stats| {
        format!(
            "exec={} exit={} fork={} do_exit={}",
            s.exec, s.exit, s.fork, s.do_exit
        )
    };
    vec![
        Check::compare(
            format!("{prefix}.consistent"),
            format!("exec+exit+fork+do_exit+lost={}", stats.total),
            format!(
                "exec+exit+fork+do_exit+lost={}",
                stats.exec + stats.exit + stats.fork + stats.do_exit + stats.lost
            ),
        ),
        Check::compare(format!("{prefix}.received"), kinds(stats), kinds(&got)),
        Check::compare(
            format!("{prefix}.lost"),
            "lost=0 untracked=0 malformed=0".into(),
            format!(
                "lost={} untracked={} malformed={malformed}",
                stats.lost, stats.untracked
            ),
        ),
    ]
}

/// Stress: every spawned child has one fork, one exec and one exit with its wait status.
pub(crate) fn stress_checks(
    parent: u32,
    exe: &str,
    children: &[(u32, u32)],
    events: &[Event],
) -> Vec<Check> {
    #[derive(Default)]
    struct Seen {
        fork: usize,
        exec: usize,
        exit: Vec<u32>,
    }
    let mut seen: HashMap<u32, Seen> = HashMap::new();
    for e in events {
        match e.kind {
            EventKind::Fork if e.pid == parent => seen.entry(e.child_pid).or_default().fork += 1,
            EventKind::Exec if e.exe == exe => seen.entry(e.pid).or_default().exec += 1,
            EventKind::Exit => seen.entry(e.pid).or_default().exit.push(e.exit_status),
            _ => {}
        }
    }
    let mut want: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, status) in children {
        want.entry(*pid).or_default().push(*status);
    }
    let (mut forks, mut execs, mut exits) = (0usize, 0usize, 0usize);
    for (pid, statuses) in &want {
        let s = seen.get(pid);
        forks += s.map_or(0, |s| s.fork.min(statuses.len()));
        execs += s.map_or(0, |s| s.exec.min(statuses.len()));
        if let Some(s) = s {
            let mut got = s.exit.clone();
            for st in statuses {
                if let Some(i) = got.iter().position(|g| g == st) {
                    got.swap_remove(i);
                    exits += 1;
                }
            }
        }
    }
    let n = children.len();
    vec![
        Check::compare(
            "stress.fork",
            format!("{n} of {n}"),
            format!("{forks} of {n}"),
        ),
        Check::compare(
            "stress.exec",
            format!("{n} of {n}"),
            format!("{execs} of {n}"),
        ),
        Check::compare(
            "stress.exit",
            format!("{n} of {n} with their wait status"),
            format!("{exits} of {n} with their wait status"),
        ),
    ]
}

/// libbpf resolved every relocation the object records, each at the instruction and with the
/// kind the record states: coretool's `.BTF.ext` reading agrees with libbpf's.
pub(crate) fn relocation_check(obj: &Object, applied: &Outcomes) -> Check {
    let recorded = &obj.relos;
    let expected = format!(
        "{} records (.BTF.ext), each patched or poisoned by libbpf at its insn",
        recorded.len()
    );
    let mut problems = Vec::new();
    let mut poisoned = 0;
    for r in recorded {
        let at = format!("{} #{}", r.program, r.index);
        let Some(o) = applied
            .relos
            .get(&(r.program.clone(), r.index as u32))
            .filter(|o| o.local_spec.is_some())
        else {
            problems.push(format!("{at}: not reported by libbpf"));
            continue;
        };
        let kind = o.local_spec.as_ref().map(|s| s.kind);
        let first = obj.program(&r.program).map_or(0, |p| p.first_insn);
        let want = r.insn - first.min(r.insn);
        // The relocated instruction: the patched one, or the poisoned one (libbpf poisons an
        // ld_imm64's second half first).
        let got = o
            .patches
            .first()
            .map(|(i, _)| *i)
            .or_else(|| o.poisoned.last().copied());
        poisoned += (o.patches.is_empty() && !o.poisoned.is_empty()) as usize;
        match (kind, got) {
            (Some(k), _) if k != r.kind => problems.push(format!(
                "{at}: kind {}, recorded {}",
                k.name(),
                r.kind.name()
            )),
            (_, Some(insn)) if insn != want => {
                problems.push(format!("{at}: insn #{insn}, recorded #{want}"))
            }
            (_, None) => problems.push(format!("{at}: no outcome")),
            _ => {}
        }
    }
    let reported = applied
        .relos
        .values()
        .filter(|o| o.local_spec.is_some())
        .count();
    if reported > recorded.len() {
        problems.push(format!(
            "libbpf reported {reported} relocations, the object records {}",
            recorded.len()
        ));
    }
    if problems.is_empty() {
        Check::pass(
            "relocations",
            expected,
            format!(
                "{} records: {} patched, {poisoned} poisoned (guarded)",
                recorded.len(),
                recorded.len() - poisoned
            ),
        )
    } else {
        Check::fail("relocations", expected, problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selftest::workload::ExecTruth;

    fn parent() -> Parent {
        Parent {
            pid: 100,
            tid: 101,
            ppid: 1,
            uid: 0,
            gid: 0,
            comm: "pm-workload".into(),
        }
    }

    fn event(kind: EventKind, pid: u32, ts_ns: u64) -> Event {
        Event {
            ts_ns,
            kind,
            flags: 0,
            pid,
            tid: pid,
            ppid: 100,
            uid: 0,
            gid: 0,
            exit_status: 0,
            child_pid: 0,
            state: 0,
            comm: "sh".into(),
            exe: "dash".into(),
            filename: "/bin/sh".into(),
        }
    }

    fn exec_child() -> ChildTruth {
        ChildTruth {
            label: "exec",
            pid: 200,
            wait_status: 7 << 8,
            exec: Some(ExecTruth {
                filename: "/bin/sh".into(),
                exe: "dash".into(),
                comm: "sh".into(),
            }),
            uid: 0,
            gid: 0,
            exit_comm: "sh".into(),
        }
    }

    fn events_for(child: &ChildTruth) -> Vec<Event> {
        let mut fork = event(EventKind::Fork, 100, 1);
        fork.tid = 101;
        fork.ppid = 1;
        fork.comm = "pm-workload".into();
        fork.child_pid = child.pid;
        let exec = event(EventKind::Exec, child.pid, 2);
        let mut exit = event(EventKind::Exit, child.pid, 3);
        exit.exit_status = child.wait_status;
        vec![fork, exec, exit]
    }

    #[test]
    fn matching_events_pass() {
        let c = exec_child();
        let checks = child_checks(&parent(), &c, &events_for(&c));
        let names: Vec<_> = checks.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(
            names,
            [
                ("exec.fork", Status::Pass),
                ("exec.exec", Status::Pass),
                ("exec.exit", Status::Pass),
                ("exec.order", Status::Pass)
            ]
        );
    }

    #[test]
    fn a_wrong_value_fails_showing_both_sides() {
        let c = exec_child();
        let mut events = events_for(&c);
        // What a wrong offset looks like: a plausible value from a neighbouring field.
        events[2].exit_status = 7;
        let checks = child_checks(&parent(), &c, &events);
        let exit = checks.iter().find(|c| c.name == "exec.exit").unwrap();
        assert_eq!(exit.status, Status::Fail);
        assert!(
            exit.expected.ends_with("status=exit 7 (0x700)"),
            "{}",
            exit.expected
        );
        assert!(exit.got.ends_with("status=signal 7 (0x7)"), "{}", exit.got);
    }

    #[test]
    fn missing_events_fail() {
        let c = exec_child();
        let checks = child_checks(&parent(), &c, &[]);
        assert!(checks
            .iter()
            .all(|c| c.status == Status::Fail && c.got == MISSING));
    }

    #[test]
    fn stress_counts_missing_and_lost() {
        let children = [(200, 0), (201, 0)];
        let mut events = events_for(&ChildTruth {
            pid: 200,
            wait_status: 0,
            ..exec_child()
        });
        events.push(event(EventKind::Exec, 201, 5));
        let checks = stress_checks(100, "dash", &children, &events);
        let got: Vec<_> = checks.iter().map(|c| (c.status, c.got.as_str())).collect();
        assert_eq!(
            got,
            [
                (Status::Fail, "1 of 2"),
                (Status::Pass, "2 of 2"),
                (Status::Fail, "1 of 2 with their wait status")
            ]
        );
        let stats = Stats {
            total: 4,
            exec: 2,
            exit: 1,
            fork: 0,
            lost: 1,
            ..Stats::default()
        };
        let s = stats_checks("stress.stats", &stats, &events, 0);
        assert_eq!(s[0].status, Status::Pass, "{:?}", s[0]);
        assert_eq!(s[1].status, Status::Fail, "{:?}", s[1]);
        assert_eq!(s[2].status, Status::Fail);
        assert_eq!(s[2].got, "lost=1 untracked=0 malformed=0");
    }

    #[test]
    fn relocations_must_match_libbpf() {
        use crate::reloc::{Outcome, Patch};
        // Two programs, each in its own section, as the probe has them.
        let obj = Object::parse(
            std::path::Path::new("core_all_kinds.bpf.o"),
            include_bytes!("../../tests/fixtures/core_all_kinds.bpf.o").to_vec(),
        )
        .unwrap();
        let applied_at = |shift: u32| {
            let mut out = Outcomes::default();
            for r in &obj.relos {
                let first = obj.program(&r.program).unwrap().first_insn;
                let spec = crate::reloc::Spec {
                    kind: r.kind,
                    type_id: r.type_id,
                    type_kind: "struct".into(),
                    type_name: "x".into(),
                    detail: crate::reloc::SpecDetail::Type,
                };
                out.relos.insert(
                    (r.program.clone(), r.index as u32),
                    Outcome {
                        local_spec: Some(spec),
                        patches: vec![(r.insn - first + shift, Patch::Imm { old: 1, new: 1 })],
                        ..Outcome::default()
                    },
                );
            }
            out
        };
        let n = obj.relos.len();
        let ok = relocation_check(&obj, &applied_at(0));
        assert_eq!(ok.status, Status::Pass, "{ok:?}");
        assert_eq!(
            ok.got,
            format!("{n} records: {n} patched, 0 poisoned (guarded)")
        );
        let mut bad = applied_at(0);
        let first = &obj.relos[0];
        bad.relos
            .get_mut(&(first.program.clone(), 0))
            .unwrap()
            .patches[0]
            .0 += 1;
        let last = obj.relos.last().unwrap();
        bad.relos.remove(&(last.program.clone(), last.index as u32));
        let bad = relocation_check(&obj, &bad);
        assert_eq!(bad.status, Status::Fail);
        assert!(bad.got.contains("insn #"), "{}", bad.got);
        assert!(bad.got.contains("not reported by libbpf"), "{}", bad.got);
    }

    #[test]
    fn fork_pairs_notice_strangers() {
        let mut e = event(EventKind::Fork, 100, 1);
        e.child_pid = 999;
        let c = fork_pairs_check("fork.pairs", 100, &[200], &[e]);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.got, "1 fork pairs (parent 100), 1 missing, 1 unexpected");
    }
}
