//! `coretool selftest`: prove end to end that CO-RE works on this kernel.
//!
//! "It loaded" proves little: a wrong offset loads fine and reads garbage. So after preflight,
//! load and attach, the self-test spawns children whose pids, parent, credentials, names and
//! exit statuses it knows, and holds every event the probe reported about them against that
//! ground truth; the probe's counters must agree with what arrived and nothing may be lost.
//! Finally it checks that the kernel released every program and map.
//!
//! This module computes a [`Report`]; the binary's `commands::selftest` renders it.

pub mod checks;
pub mod workload;

use std::thread;
use std::time::{Duration, Instant};

use crate::dryrun::log as libbpf_log;
use crate::error::NeedsPrivilege;
use crate::host;
use crate::libbpf::{LogLevel, PrintGuard};
use crate::probe::{self, event::Event, Session, Stats};
use crate::reloc::{Fixup, Object};
use checks::{Check, KernelLayout, Status};
use workload::ExecTruth;

/// How long to wait for records already counted by the probe to arrive, and for the kernel to
/// release the objects after the session.
const SETTLE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(50);
/// Children each stress spawner keeps alive at once.
const STRESS_WINDOW: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also spawn this many short-lived processes as fast as possible.
    pub stress: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct KernelInfo {
    pub release: String,
    pub machine: String,
    pub btf_path: String,
    pub btf_types: Option<u32>,
    pub tracefs: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StressSummary {
    pub processes: usize,
    pub spawners: usize,
    pub events: usize,
    pub elapsed: Duration,
}

impl StressSummary {
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn processes_per_sec(&self) -> f64 {
        self.processes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub kernel: KernelInfo,
    pub object_origin: &'static str,
    pub object_size: usize,
    /// The probe's CO-RE relocations as libbpf applied them while loading it here.
    pub relocations: Vec<Fixup>,
    pub checks: Vec<Check>,
    pub stress: Option<StressSummary>,
    /// libbpf's messages at warning level and above (load failures, attach failures).
    pub libbpf_warnings: Vec<String>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
    pub fn passed(&self) -> bool {
        self.count(Status::Fail) == 0
    }
}

/// Why the self-test could not run at all (exit 2). Inside the probe session these also stop
/// the session; [`run`] turns a load or attach failure into a failed check instead.
#[derive(Debug, thiserror::Error)]
pub enum SelftestError {
    #[error(transparent)]
    Privilege(#[from] NeedsPrivilege),
    #[error("interrupted by {signal}; everything loaded was released")]
    Interrupted { signal: String },
    #[error(transparent)]
    Probe(#[from] probe::ProbeError),
    #[error("starting the workload thread")]
    WorkloadStart(#[source] std::io::Error),
    #[error("running the workload")]
    Workload(#[source] std::io::Error),
    #[error("the workload thread panicked")]
    WorkloadPanicked,
}

/// `err` and every error it wraps, `: `-separated (what `{:#}` prints for an `anyhow::Error`).
fn chain_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn interrupted() -> Option<SelftestError> {
    probe::stop_requested().map(|sig| SelftestError::Interrupted {
        signal: probe::signal_name(sig),
    })
}

/// Run the self-test. Errors mean it could not run; failed checks are in the report.
pub fn run(opts: &Options) -> Result<Report, SelftestError> {
    let (release, machine) = match host::uname() {
        Ok(u) => (u.release, u.machine),
        Err(_) => ("unknown".into(), "unknown".into()),
    };
    let mut report = Report {
        kernel: KernelInfo {
            release,
            machine,
            btf_path: crate::source::SYSFS_VMLINUX.into(),
            ..Default::default()
        },
        object_origin: probe::ORIGIN,
        object_size: probe::OBJECT.len(),
        ..Default::default()
    };

    let how = host::privilege().require_tracing()?;
    report.checks.push(Check::pass(
        "preflight.privilege",
        "root, or CAP_BPF and CAP_PERFMON",
        how,
    ));

    let layout = match crate::source::load(None, None) {
        Ok(src) => {
            // Counted as bpftool and check-btf count: ids 1..=N, void excluded.
            let types = src.btf.type_count() - src.btf.first_id();
            report.kernel.btf_types = Some(types);
            report.checks.push(Check::pass(
                "preflight.kernel_btf",
                format!("BTF at {}", crate::source::SYSFS_VMLINUX),
                format!("{types} types"),
            ));
            KernelLayout::of(&src.btf)
        }
        Err(e) => {
            report.checks.push(Check::fail(
                "preflight.kernel_btf",
                format!(
                    "BTF at {} (CONFIG_DEBUG_INFO_BTF=y)",
                    crate::source::SYSFS_VMLINUX
                ),
                e.to_string(),
            ));
            return Ok(report);
        }
    };

    match host::ensure_tracefs() {
        Ok(t) => {
            report.kernel.tracefs = Some(t.describe());
            report.checks.push(Check::pass(
                "preflight.tracefs",
                "tracefs with sched tracepoints",
                t.describe(),
            ));
        }
        Err(e) => {
            report.checks.push(Check::fail(
                "preflight.tracefs",
                "tracefs with sched tracepoints",
                e.to_string(),
            ));
            return Ok(report);
        }
    }

    report.checks.push(check_btf_preflight());
    // After check-btf, which silences libbpf for its feature probes.
    let log = PrintGuard::capture();

    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as u32;
    let mut ids = probe::ObjectIds::default();
    let session = probe::with_session(&probe::Options { follow: Some(me) }, |s| {
        ids = s.ids.clone();
        session_checks(s, opts, &layout, &mut report)
    });
    let lines = log.take_lines();
    let text: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
    let outcomes = libbpf_log::outcomes(&libbpf_log::parse(&text));
    let object = probe_object();
    if let Ok(obj) = &object {
        report.relocations = crate::reloc::assemble(obj, &outcomes)
            .fixups
            .into_iter()
            // The ones libbpf reported: a program not loaded here has none.
            .filter(|f| f.local_spec.is_some())
            .collect();
    }
    report.libbpf_warnings = lines
        .into_iter()
        .filter(|l| l.level == LogLevel::Warn)
        .map(|l| l.text)
        .collect();
    if let Err(e) = session {
        if let Some(stop) = interrupted() {
            return Err(stop);
        }
        match &e {
            SelftestError::Probe(probe::ProbeError::Attach {
                program, target, ..
            }) => report.checks.push(Check::fail(
                format!("attach.{program}"),
                format!("attached to {target}"),
                chain_text(&e),
            )),
            SelftestError::Probe(_) => report.checks.push(Check::fail(
                "load",
                "object opened, relocated, verified and loaded",
                chain_text(&e),
            )),
            _ => return Err(e),
        }
    }
    if ids.programs.is_empty() && ids.maps.is_empty() {
        return Ok(report);
    }
    if let Some(at) = report.checks.iter().position(|c| c.name == "load") {
        let check = match &object {
            Ok(obj) => checks::relocation_check(obj, &outcomes),
            Err(e) => Check::fail("relocations", "the object's .BTF.ext parses", e.to_string()),
        };
        report.checks.insert(at + 1, check);
    }

    let mut left = Vec::new();
    workload::wait_until(SETTLE, || {
        left = ids.still_loaded();
        left.is_empty()
    });
    let what = format!(
        "{} programs and {} maps released",
        ids.programs.len(),
        ids.maps.len()
    );
    report.checks.push(if left.is_empty() {
        Check::pass("cleanup", what.clone(), what)
    } else {
        Check::fail(
            "cleanup",
            what,
            format!("still loaded: {}", left.join(", ")),
        )
    });
    Ok(report)
}

/// `coretool check-btf`'s findings: any failed one means CO-RE programs cannot load here.
fn check_btf_preflight() -> Check {
    use crate::check::Status as S;
    let name = "preflight.check_btf";
    let expected = "no failed check-btf finding";
    let report = match crate::check::gather(&Default::default()) {
        Ok(facts) => crate::check::analyse(&facts),
        Err(e) => return Check::fail(name, expected, format!("check-btf could not run: {e}")),
    };
    let named = |status: S| {
        report
            .checks
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if report.can_load() {
        let warned = report.count(S::Warn);
        Check::pass(
            name,
            expected,
            format!(
                "{} ok, {warned} warn{}, {} skipped",
                report.count(S::Ok),
                if warned > 0 {
                    format!(" ({})", named(S::Warn))
                } else {
                    String::new()
                },
                report.count(S::Skipped)
            ),
        )
    } else {
        let failed = report
            .checks
            .iter()
            .filter(|c| c.status == S::Fail)
            .map(|c| match &c.fix {
                Some(fix) => format!("{}: {} (fix: {fix})", c.name, c.detail),
                None => format!("{}: {}", c.name, c.detail),
            })
            .collect::<Vec<_>>()
            .join("; ");
        Check::fail(name, expected, failed)
    }
}

/// The bundled probe object, parsed by coretool's own ELF and `.BTF.ext` readers.
fn probe_object() -> Result<Object, crate::reloc::ObjectError> {
    Object::parse(
        std::path::Path::new("process_monitor.bpf.o"),
        probe::OBJECT.to_vec(),
    )
}

/// Poll the ring buffer while `job` runs on its own thread, then collect what is left.
fn poll_while<T: Send + 'static>(
    s: &mut Session<'_>,
    events: &mut Vec<Event>,
    thread_name: &str,
    job: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, SelftestError> {
    let handle = thread::Builder::new()
        .name(thread_name.into())
        .spawn(job)
        .map_err(SelftestError::WorkloadStart)?;
    while !handle.is_finished() {
        events.extend(s.poll(POLL)?);
    }
    handle
        .join()
        .map_err(|_| SelftestError::WorkloadPanicked)?
        .map_err(SelftestError::Workload)
}

/// Drain until everything the probe counted since `before` has arrived (or SETTLE passed).
fn settle(
    s: &mut Session<'_>,
    events: &mut Vec<Event>,
    first: usize,
    before: &Stats,
) -> Result<Stats, SelftestError> {
    let start = Instant::now();
    loop {
        events.extend(s.drain()?);
        let now = s.stats()?.since(before);
        if (events.len() - first) as u64 >= now.submitted() || start.elapsed() > SETTLE {
            return Ok(now);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn session_checks(
    s: &mut Session<'_>,
    opts: &Options,
    layout: &KernelLayout,
    report: &mut Report,
) -> Result<(), SelftestError> {
    report.checks.push(Check::pass(
        "load",
        "object opened, relocated, verified and loaded",
        format!(
            "{} programs, {} maps",
            s.ids.programs.len(),
            s.ids.maps.len()
        ),
    ));
    let mut kprobe: Result<(), String> = Ok(());
    for a in &s.attached {
        let expected = format!("attached to {}", a.spec.target);
        report.checks.push(match &a.result {
            Ok(()) => Check::pass(
                format!("attach.{}", a.spec.name),
                expected.clone(),
                expected,
            ),
            Err(reason) => {
                kprobe = Err(reason.clone());
                Check::skip(format!("attach.{}", a.spec.name), expected, reason.clone())
            }
        });
    }

    let mut events = Vec::new();
    let w = poll_while(s, &mut events, "pm-workload", workload::run_basic)?;
    if let Some(e) = interrupted() {
        return Err(e);
    }
    let stats = settle(s, &mut events, 0, &Stats::default())?;
    for c in &w.children {
        report
            .checks
            .extend(checks::child_checks(&w.parent, c, &events));
    }
    for (label, why) in &w.skipped {
        report.checks.push(Check::skip(
            format!("{label}.exec"),
            "a child under another uid/gid",
            why.clone(),
        ));
    }
    let pids: Vec<u32> = w.children.iter().map(|c| c.pid).collect();
    report.checks.push(checks::fork_pairs_check(
        "fork.pairs",
        w.parent.pid,
        &pids,
        &events,
    ));
    let fork_child = w.children.iter().find(|c| c.label == "fork");
    report
        .checks
        .extend(checks::layout_checks(layout, fork_child, &events));
    report.checks.push(checks::do_exit_check(
        kprobe.as_ref().map(|_| ()).map_err(String::as_str),
        &w.children,
        &events,
    ));
    report.checks.extend(checks::stats_checks(
        "stats",
        &stats,
        &events,
        s.malformed(),
    ));

    if let Some(n) = opts.stress {
        stress(s, n, w.parent.pid, report)?;
    }
    Ok(())
}

fn stress(
    s: &mut Session<'_>,
    n: usize,
    me: u32,
    report: &mut Report,
) -> Result<(), SelftestError> {
    let spawners = thread::available_parallelism()
        .map_or(2, |p| p.get())
        .clamp(2, 8)
        .min(n.max(1));
    let before = s.stats()?;
    let malformed_before = s.malformed();
    let mut events = Vec::new();
    let start = Instant::now();
    let parts = poll_while(s, &mut events, "pm-stress", move || {
        let handles: Vec<_> = (0..spawners)
            .map(|i| {
                let share = n / spawners + usize::from(i < n % spawners);
                thread::Builder::new()
                    .name(format!("pm-stress-{i}"))
                    .spawn(move || workload::run_stress_part(share, STRESS_WINDOW))
            })
            .collect::<std::io::Result<_>>()?;
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("spawner panicked")))
            })
            .collect::<std::io::Result<Vec<_>>>()
    })?;
    let elapsed = start.elapsed();
    if let Some(e) = interrupted() {
        return Err(e);
    }
    let stats = settle(s, &mut events, 0, &before)?;
    let children: Vec<(u32, u32)> = parts.into_iter().flat_map(|p| p.children).collect();
    let (program, _) = workload::stress_program();
    let exe = ExecTruth::of(&program).exe;
    report
        .checks
        .extend(checks::stress_checks(me, &exe, &children, &events));
    report.checks.extend(checks::stats_checks(
        "stress.stats",
        &stats,
        &events,
        s.malformed() - malformed_before,
    ));
    report.stress = Some(StressSummary {
        processes: children.len(),
        spawners,
        events: events.len(),
        elapsed,
    });
    Ok(())
}
