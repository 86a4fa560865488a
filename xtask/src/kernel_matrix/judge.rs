//! The judgement: from the files of a results directory to one verdict per kernel and the
//! `coretool.kernel-matrix/v1` document. Pure functions of the files; nothing here runs
//! coretool or prints.
//!
//! Per kernel: the exit statuses of check-btf, selftest and each live dry-run; engine parity
//! (every relocation, keyed by program and index, has the same local value, target value and
//! status in the kernel's live dry-run and in the host's `dry-run --offline`); BTF parity (the
//! vmlinuz's `task_struct` and type count equal what the kernel exports in sysfs); and whether
//! a VM's guest script finished. Every problem becomes one line in `failures`.
//!
//! Dry-run outputs are read with the library's model of `coretool.dry-run/v2`
//! (`coretool::dryrun::report`, the types the binary serializes), strictly: an output that is
//! not such a document is a failure that says why, never a silently missing side.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Result};
use serde::{Serialize, Serializer};

use coretool::dryrun::report::{self, Document, RelocationDoc, SummaryDoc, TargetDoc};

use super::expected::{self, Expected};
use super::results::{
    self, Boot, Features, Info, Mode, OutputError, Run, StepFiles, VmBoot, SCHEMA,
};
use crate::coretool_json::{Btf, Check, CheckBtf, Selftest};

/// What `matrix.json` says for a step the coretool build lacks.
const UNAVAILABLE: &str = "not available in this build";

/// How many differing relocations `matrix.json` quotes per object.
const QUOTED_DIFFERENCES: usize = 5;

/// `matrix.json`: `run.json` with each kernel's release replaced by its verdict.
#[derive(Debug, Serialize)]
pub struct Matrix {
    pub schema: &'static str,
    pub coretool: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linkage: Option<String>,
    pub features: Features,
    pub objects: Vec<String>,
    pub kernels: Vec<Kernel>,
    pub seconds: f64,
    /// Every kernel passed.
    pub ok: bool,
}

/// One kernel's verdict (`<release>/kernel.json`).
#[derive(Debug, Serialize)]
pub struct Kernel {
    #[serde(flatten)]
    pub info: Info,
    pub boot: BootVerdict,
    pub check_btf: Step<CheckBtfVerdict>,
    pub selftest: Step<SelftestVerdict>,
    pub dry_run: Step<Vec<ObjectVerdict>>,
    /// `requires`: the host's offline prediction against the live load in the kernel.
    #[serde(skip_serializing_if = "Step::is_unavailable")]
    pub requires: Step<RequiresVerdict>,
    pub btf_parity: BtfParity,
    /// One line per problem.
    pub failures: Vec<String>,
    pub ok: bool,
}

/// `boot.json` and whether the guest script finished.
#[derive(Debug, Serialize)]
pub struct BootVerdict {
    #[serde(flatten)]
    pub boot: Option<Boot>,
    pub completed: bool,
}

/// A step's verdict, or why there is none.
#[derive(Debug)]
pub enum Step<T> {
    /// The coretool build lacks the command.
    Unavailable,
    /// It left no exit status.
    NotRun,
    Ran(T),
}

impl<T> Step<T> {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Step::Unavailable)
    }
}

/// `requires` on one kernel: each program's prediction (made on the host from the kernel's
/// BTF) against what happened when the kernel loaded (and attached) it.
#[derive(Debug, Serialize)]
pub struct RequiresVerdict {
    /// Exit statuses: the host's prediction, the kernel's live run.
    pub host_exit: Option<i64>,
    pub live_exit: Option<i64>,
    /// Programs compared (object x program).
    pub programs: usize,
    pub agree: usize,
    /// Disagreements not in `expected-requires.txt`: each fails the kernel.
    pub disagree: usize,
    /// Disagreements `expected-requires.txt` lists for this kernel, with its reason.
    pub expected: Vec<String>,
    /// Entries of `expected-requires.txt` for this kernel and an object of the run whose
    /// disagreement did not happen: each fails the kernel (the list must not go stale).
    pub stale: Vec<String>,
    /// Predicted `unknown` at the stage compared: the prediction is not the live answer, so
    /// each fails the kernel.
    pub unknown: usize,
    /// One line per unknown prediction: the object, the program, what was absent, the live
    /// answer.
    pub unknowns: Vec<String>,
    /// Programs in one run and not the other.
    pub unmatched: usize,
    /// Live results that failed: (loaded, failed at load, failed at attach).
    pub live_loads: usize,
    pub live_fails: usize,
    /// One line per disagreement not listed: the object, the program, both answers.
    pub disagreements: Vec<String>,
    /// Why a run left no usable output.
    pub errors: Vec<String>,
}

/// A `coretool.requires/v1` record, as far as the matrix reads it.
#[derive(Debug, serde::Deserialize)]
struct RequiresRecord {
    object: String,
    program: String,
    verdict: String,
    fails_at: Option<String>,
    requirements: Vec<RequirementRecord>,
    live: Option<LiveRecord>,
}

#[derive(Debug, serde::Deserialize)]
struct RequirementRecord {
    kind: String,
    name: String,
    status: String,
    stage: String,
    evidence: String,
}

#[derive(Debug, serde::Deserialize)]
struct LiveRecord {
    verdict: String,
    fails_at: Option<String>,
    load_error: Option<String>,
    attach_attempted: bool,
    attach_error: Option<String>,
}

/// The records of a `requires --json` run, keyed by (object file name, program).
fn requires_records(
    files: &StepFiles,
) -> Result<BTreeMap<(String, String), RequiresRecord>, String> {
    let text = files.text("json").ok_or("no output")?;
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let r: RequiresRecord = serde_json::from_str(line)
            .map_err(|e| format!("line {}: not a coretool.requires/v1 record: {e}", n + 1))?;
        out.insert(
            (results::file_name(&r.object).to_owned(), r.program.clone()),
            r,
        );
    }
    Ok(out)
}

/// One disagreement between the prediction and the live run.
#[derive(Debug, Clone)]
pub struct Disagreement {
    pub object: String,
    pub program: String,
    /// Where the live run failed, else where the prediction said it would.
    pub stage: String,
    /// The object, the program, both answers.
    pub line: String,
}

/// What `expected-requires.txt` makes of one kernel's disagreements: (listed, with their
/// reason; not listed; listed for this kernel and an object in `objects` but not happened).
pub fn sort_disagreements(
    release: &str,
    found: &[Disagreement],
    objects: &BTreeSet<&str>,
    list: &[Expected],
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut listed, mut unlisted) = (Vec::new(), Vec::new());
    let mut used = vec![false; list.len()];
    for d in found {
        match list
            .iter()
            .position(|e| e.matches(release, &d.object, &d.program, &d.stage))
        {
            Some(i) => {
                used[i] = true;
                listed.push(format!("{} (expected: {})", d.line, list[i].reason));
            }
            None => unlisted.push(d.line.clone()),
        }
    }
    let stale = list
        .iter()
        .zip(&used)
        .filter(|(e, used)| !**used && e.is_for(release) && objects.contains(e.object.as_str()))
        .map(|(e, _)| {
            format!(
                "expected-requires.txt lists {} {} {} {} ({}), but prediction and live run agree or the program was not compared",
                e.kernel, e.object, e.program, e.stage, e.reason
            )
        })
        .collect();
    (listed, unlisted, stale)
}

fn judge_requires(
    host: &StepFiles,
    guest: &StepFiles,
    release: &str,
    list: &[Expected],
) -> Result<RequiresVerdict> {
    use coretool::requires::{live, Stage, Status, Verdict};
    let mut v = RequiresVerdict {
        host_exit: host.exit()?,
        live_exit: guest.exit()?,
        programs: 0,
        agree: 0,
        disagree: 0,
        expected: Vec::new(),
        stale: Vec::new(),
        unknown: 0,
        unknowns: Vec::new(),
        unmatched: 0,
        live_loads: 0,
        live_fails: 0,
        disagreements: Vec::new(),
        errors: Vec::new(),
    };
    let predicted = requires_records(host).map_err(|e| format!("host prediction: {e}"));
    let lived = requires_records(guest).map_err(|e| format!("live run: {e}"));
    let (predicted, lived) = match (predicted, lived) {
        (Ok(p), Ok(l)) => (p, l),
        (p, l) => {
            v.errors.extend(p.err());
            v.errors.extend(l.err());
            return Ok(v);
        }
    };
    let mut found = Vec::new();
    for (key, p) in &predicted {
        let Some(l) = lived.get(key).and_then(|r| r.live.as_ref()) else {
            v.unmatched += 1;
            continue;
        };
        v.programs += 1;
        let lv = (
            Verdict::from_name(&l.verdict).unwrap_or(Verdict::Unknown),
            l.fails_at.as_deref().and_then(Stage::from_name),
        );
        match lv.0 {
            Verdict::Loads => v.live_loads += 1,
            _ => v.live_fails += 1,
        }
        let reqs: Vec<(Status, Stage)> = p
            .requirements
            .iter()
            .map(|r| {
                (
                    Status::from_name(&r.status).unwrap_or(Status::Unknown),
                    Stage::from_name(&r.stage).unwrap_or(Stage::Load),
                )
            })
            .collect();
        match live::agrees_with(&reqs, lv, l.attach_attempted) {
            None => {
                v.unknown += 1;
                let absent: Vec<String> = p
                    .requirements
                    .iter()
                    .filter(|r| r.status == "unknown")
                    .map(|r| format!("{} {}: {}", r.kind, r.name, r.evidence))
                    .collect();
                v.unknowns.push(format!(
                    "{} {}: predicted unknown [{}], live {}",
                    key.0,
                    key.1,
                    absent.join("; "),
                    l.verdict
                ));
            }
            Some(true) => v.agree += 1,
            Some(false) => {
                let missing: Vec<String> = p
                    .requirements
                    .iter()
                    .filter(|r| r.status != "ok")
                    .map(|r| format!("{} {} {}: {}", r.status, r.kind, r.name, r.evidence))
                    .collect();
                let live_why = l
                    .load_error
                    .as_deref()
                    .or(l.attach_error.as_deref())
                    .unwrap_or("");
                let stage = l
                    .fails_at
                    .as_deref()
                    .or(p.fails_at.as_deref())
                    .unwrap_or("load");
                let line = format!(
                    "{} {}: predicted {}{} [{}], live {}{}{}",
                    key.0,
                    key.1,
                    p.verdict,
                    p.fails_at
                        .as_deref()
                        .map_or(String::new(), |s| format!(" at {s}")),
                    missing.join("; "),
                    l.verdict,
                    l.fails_at
                        .as_deref()
                        .map_or(String::new(), |s| format!(" at {s}")),
                    if live_why.is_empty() {
                        String::new()
                    } else {
                        format!(": {live_why}")
                    },
                );
                found.push(Disagreement {
                    object: key.0.clone(),
                    program: key.1.clone(),
                    stage: stage.to_owned(),
                    line,
                });
            }
        }
    }
    v.unmatched += lived.keys().filter(|k| !predicted.contains_key(*k)).count();
    let objects: BTreeSet<&str> = predicted.keys().map(|(o, _)| o.as_str()).collect();
    let (listed, unlisted, stale) = sort_disagreements(release, &found, &objects, list);
    v.disagree = unlisted.len();
    v.expected = listed;
    v.disagreements = unlisted;
    v.stale = stale;
    Ok(v)
}

impl<T: Serialize> Serialize for Step<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Step::Unavailable => s.serialize_str(UNAVAILABLE),
            Step::NotRun => s.serialize_none(),
            Step::Ran(v) => v.serialize(s),
        }
    }
}

/// check-btf inside the kernel.
#[derive(Debug, Serialize)]
pub struct CheckBtfVerdict {
    pub exit: i64,
    pub can_load: Option<bool>,
    /// How many checks ended with each status.
    pub counts: BTreeMap<String, usize>,
    /// The checks that failed.
    pub failed: Vec<String>,
    /// The last line of stderr when it failed.
    pub stderr: Option<String>,
}

/// selftest inside the kernel.
#[derive(Debug, Serialize)]
pub struct SelftestVerdict {
    pub exit: i64,
    pub pass: Option<u64>,
    pub fail: Option<u64>,
    pub skip: Option<u64>,
    pub failed: Vec<String>,
    pub stderr: Option<String>,
}

/// One object's dry-runs on one kernel.
#[derive(Debug, Serialize)]
pub struct ObjectVerdict {
    /// The object's file name.
    pub object: String,
    /// `dry-run` inside the kernel (libbpf); None when it left neither output nor status.
    pub live: Option<Side>,
    /// `dry-run --offline` on the host.
    pub offline: Option<Side>,
    /// None unless both sides gave output.
    pub parity: Option<Parity>,
}

/// One dry-run: its exit status and, when it wrote its JSON, the counts.
#[derive(Debug, Serialize)]
pub struct Side {
    pub exit: Option<i64>,
    #[serde(flatten)]
    pub output: Option<SideOutput>,
    /// Present when the run did not exit 0: the last line of its stderr, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<Option<String>>,
    /// Present when its output is unusable (not JSON, not a `coretool.dry-run/v2` document),
    /// or absent although it exited 0: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_error: Option<String>,
}

impl Side {
    /// The run failed, or the relocations do not load. Exit 1 with the relocations loading
    /// is the requires half's verdict (`coretool.dry-run/v2`: a program needs something the
    /// kernel lacks, such as kprobes on a kernel without CONFIG_KPROBES); the matrix judges
    /// that half in its own column, against live loads.
    pub(crate) fn failed(&self) -> bool {
        match self.exit {
            Some(0) => false,
            Some(1) => !self.output.as_ref().is_some_and(|o| o.loads),
            _ => true,
        }
    }

    /// Why it failed: libbpf's failure, else coretool's error line.
    fn reason(&self) -> String {
        let failure = self.output.as_ref().and_then(|o| o.failure.clone());
        opt(&failure.or_else(|| self.stderr.clone().flatten()))
    }
}

/// The parts of a dry-run's JSON that the matrix keeps.
#[derive(Debug, Serialize)]
pub struct SideOutput {
    /// `libbpf` or `offline`.
    pub mode: String,
    /// The target's `verdict` is `loads`.
    pub loads: bool,
    pub failure: Option<String>,
    #[serde(flatten)]
    pub summary: SummaryDoc,
}

/// Engine parity of one object on one kernel.
#[derive(Debug, Serialize)]
pub struct Parity {
    /// Relocations in the live run.
    pub compared: usize,
    pub equal: bool,
    pub differences: usize,
    /// The first few, in (index, program) order.
    pub first_differences: Vec<Difference>,
}

/// One relocation whose outcome differs; None on the side that lacks it.
#[derive(Debug, Serialize)]
pub struct Difference {
    pub live: Option<RelocationDoc>,
    pub offline: Option<RelocationDoc>,
}

/// `task_struct` as the host read it from the vmlinuz and as the kernel exports it.
#[derive(Debug, Serialize)]
pub struct BtfParity {
    pub vmlinuz: Option<TaskStruct>,
    pub sysfs: Option<TaskStruct>,
    pub equal: bool,
    /// The last stderr line of each `btf` run that left one.
    pub errors: Vec<String>,
}

/// The facts of `task_struct` the matrix shows.
#[derive(Debug, PartialEq, Serialize)]
pub struct TaskStruct {
    /// How many types the BTF holds.
    pub types: Option<u64>,
    pub id: Option<u64>,
    pub size: Option<u64>,
    /// `state` before 5.14, `__state` since.
    pub state: Option<String>,
}

/// Judge every kernel of the results directory `out`, writing each one's
/// `<release>/object.<name>.json` and `<release>/kernel.json` as the judgement goes.
pub fn judge(out: &Path) -> Result<Matrix> {
    let run_path = out.join("run.json");
    if !run_path.is_file() {
        bail!(
            "{}: no such file (not a kernel-matrix results directory)",
            run_path.display()
        );
    }
    let run: Run = results::read_json(&run_path)?;
    let objects: Vec<&str> = if run.features.dry_run {
        run.objects.iter().map(|o| results::file_name(o)).collect()
    } else {
        Vec::new()
    };
    let list = expected::parse(expected::LIST)?;
    let mut kernels = Vec::new();
    for release in &run.kernels {
        let dir = out.join(release);
        let kernel = judge_kernel(&dir, run.features, &objects, &list)?;
        results::write_json(&dir.join("kernel.json"), &kernel)?;
        kernels.push(kernel);
    }
    Ok(Matrix {
        schema: SCHEMA,
        ok: kernels.iter().all(|k| k.ok),
        coretool: run.coretool,
        version: run.version,
        linkage: run.linkage,
        features: run.features,
        objects: run.objects,
        kernels,
        seconds: run.seconds,
    })
}

/// Everything about one kernel, with the list of what failed.
fn judge_kernel(
    dir: &Path,
    features: Features,
    objects: &[&str],
    list: &[Expected],
) -> Result<Kernel> {
    let info: Info = results::read_json(&dir.join("info.json"))?;
    let guest = dir.join("guest");
    let host = dir.join("host");
    let boot = BootVerdict {
        boot: results::read_json(&dir.join("boot.json")).ok(),
        completed: guest.join("done").is_file(),
    };

    let check_btf = if !features.check_btf {
        Step::Unavailable
    } else {
        let files = StepFiles::new(&guest, "check-btf");
        match files.exit()? {
            None => Step::NotRun,
            Some(exit) => {
                let cb: Option<CheckBtf> = files.output();
                let checks = cb.as_ref().map_or(&[][..], |c| &c.checks[..]);
                let mut counts = BTreeMap::new();
                for c in checks {
                    if let Some(status) = &c.status {
                        *counts.entry(status.clone()).or_insert(0) += 1;
                    }
                }
                Step::Ran(CheckBtfVerdict {
                    exit,
                    can_load: cb.as_ref().and_then(|c| c.can_load),
                    counts,
                    failed: failed_checks(checks),
                    stderr: (exit != 0).then(|| files.last_stderr_line()).flatten(),
                })
            }
        }
    };

    let selftest = if !features.selftest {
        Step::Unavailable
    } else {
        let files = StepFiles::new(&guest, "selftest");
        match files.exit()? {
            None => Step::NotRun,
            Some(exit) => {
                let st: Option<Selftest> = files.output();
                let summary = st.as_ref().and_then(|s| s.summary.as_ref());
                Step::Ran(SelftestVerdict {
                    exit,
                    pass: summary.and_then(|s| s.pass),
                    fail: summary.and_then(|s| s.fail),
                    skip: summary.and_then(|s| s.skip),
                    failed: failed_checks(st.as_ref().map_or(&[][..], |s| &s.checks[..])),
                    stderr: (exit != 0).then(|| files.last_stderr_line()).flatten(),
                })
            }
        }
    };

    let dry_run = if !features.dry_run {
        Step::Unavailable
    } else {
        let mut verdicts = Vec::new();
        for name in objects {
            let step = format!("dry-run.{name}");
            let v = judge_object(
                name,
                &StepFiles::new(&guest, &step),
                &StepFiles::new(&host, &step),
            )?;
            results::write_json(&dir.join(format!("object.{name}.json")), &v)?;
            verdicts.push(v);
        }
        Step::Ran(verdicts)
    };

    let requires = if !features.requires {
        Step::Unavailable
    } else {
        let (h, g) = (
            StepFiles::new(&host, "requires"),
            StepFiles::new(&guest, "requires"),
        );
        match g.exit()? {
            None => Step::NotRun,
            Some(_) => Step::Ran(judge_requires(&h, &g, &info.release, list)?),
        }
    };

    let host_btf = StepFiles::new(&host, "btf");
    let guest_btf = StepFiles::new(&guest, "btf");
    let (h, g): (Option<Btf>, Option<Btf>) = (host_btf.output(), guest_btf.output());
    let (hts, gts) = (h.as_ref().map(task_struct), g.as_ref().map(task_struct));
    let btf_parity = BtfParity {
        equal: hts.is_some() && hts == gts && h.map(|b| b.types) == g.map(|b| b.types),
        vmlinuz: hts,
        sysfs: gts,
        errors: [host_btf.last_stderr_line(), guest_btf.last_stderr_line()]
            .into_iter()
            .flatten()
            .collect(),
    };

    let mut kernel = Kernel {
        info,
        boot,
        check_btf,
        selftest,
        dry_run,
        requires,
        btf_parity,
        failures: Vec::new(),
        ok: false,
    };
    kernel.failures = failures(&kernel, features);
    kernel.ok = kernel.failures.is_empty();
    Ok(kernel)
}

fn failed_checks(checks: &[Check]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.status.as_deref() == Some("fail"))
        .map(|c| c.name.clone().unwrap_or_default())
        .collect()
}

fn task_struct(btf: &Btf) -> TaskStruct {
    let first = btf.types.first();
    TaskStruct {
        types: btf.source.as_ref().and_then(|s| s.types),
        id: first.and_then(|t| t.id),
        size: first.and_then(|t| t.size),
        state: first.and_then(|t| {
            t.member_names
                .iter()
                .flatten()
                .find(|n| *n == "state" || *n == "__state")
                .cloned()
        }),
    }
}

/// One object on one kernel: the live and offline dry-runs and their parity.
fn judge_object(name: &str, live: &StepFiles, offline: &StepFiles) -> Result<ObjectVerdict> {
    let (live_out, live_side) = side(live)?;
    let (offline_out, offline_side) = side(offline)?;
    let parity = match (&live_out, &offline_out) {
        (Some(l), Some(o)) => Some(parity(&l.relocations, &o.relocations)),
        _ => None,
    };
    Ok(ObjectVerdict {
        object: name.to_owned(),
        live: live_side,
        offline: offline_side,
        parity,
    })
}

/// A dry-run's document: its mode and its target (the matrix asks for exactly one kernel).
fn dry_run_output(files: &StepFiles) -> Result<(String, TargetDoc), OutputError> {
    let doc: Document = files.document(report::SCHEMA)?;
    let count = doc.targets.len();
    match <[TargetDoc; 1]>::try_from(doc.targets) {
        Ok([target]) => Ok((doc.mode, target)),
        Err(_) => Err(files.unusable(format!(
            "{count} targets, where the matrix asks for one kernel"
        ))),
    }
}

/// A dry-run's target and its summary for the matrix.
fn side(files: &StepFiles) -> Result<(Option<TargetDoc>, Option<Side>)> {
    let exit = files.exit()?;
    let out = dry_run_output(files);
    let output_error = match &out {
        Err(e) if e.is_absent() && exit.is_none() => return Ok((None, None)),
        // A failed run need not write its document; its exit status is the problem.
        Err(e) if e.is_absent() && exit != Some(0) => None,
        Err(e) => Some(e.to_string()),
        Ok(_) => None,
    };
    let out = out.ok();
    let output = out.as_ref().map(|(mode, t)| SideOutput {
        mode: mode.clone(),
        loads: t.relocations_verdict == "loads",
        failure: t.failure.clone(),
        summary: t.summary,
    });
    let stderr = (exit != Some(0)).then(|| files.last_stderr_line());
    Ok((
        out.map(|(_, t)| t),
        Some(Side {
            exit,
            output,
            stderr,
            output_error,
        }),
    ))
}

/// What engine parity compares: the relocation's identity (program, index) and its outcome
/// (local value, target value, status).
fn parity_key(r: &RelocationDoc) -> (&str, usize, Option<u64>, Option<u64>, &str) {
    (&r.program, r.index, r.local, r.target, &r.status)
}

/// Compare the two engines' relocations by (program, index).
fn parity(live: &[RelocationDoc], offline: &[RelocationDoc]) -> Parity {
    let mut ids: Vec<(usize, &str)> = live
        .iter()
        .chain(offline)
        .map(|r| (r.index, r.program.as_str()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let at = |rows: &[RelocationDoc], (index, program): (usize, &str)| {
        rows.iter()
            .find(|r| r.index == index && r.program == program)
            .cloned()
    };
    let differences: Vec<Difference> = ids
        .into_iter()
        .filter_map(|id| {
            let (a, b) = (at(live, id), at(offline, id));
            (a.as_ref().map(parity_key) != b.as_ref().map(parity_key)).then_some(Difference {
                live: a,
                offline: b,
            })
        })
        .collect();
    Parity {
        compared: live.len(),
        equal: differences.is_empty(),
        differences: differences.len(),
        first_differences: differences.into_iter().take(QUOTED_DIFFERENCES).collect(),
    }
}

/// `null` for None, as the matrix has always printed a missing value.
pub fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "null".to_owned(), ToString::to_string)
}

/// The problems of one kernel, one line each.
fn failures(k: &Kernel, features: Features) -> Vec<String> {
    let mut f = Vec::new();
    if k.info.mode == Mode::Vm && !k.boot.completed {
        let why = match &k.boot.boot {
            Some(Boot::Vm(VmBoot {
                vng_exit: 124 | 137,
                timeout,
                ..
            })) => format!("timed out after {timeout}s"),
            Some(Boot::Vm(VmBoot { vng_exit, .. })) => format!("vng exit {vng_exit}"),
            _ => "vng exit null".to_owned(),
        };
        f.push(format!("the guest did not finish ({why}): see console.log"));
    }
    let why = |stderr: &Option<String>| stderr.as_ref().map_or(String::new(), |s| format!(": {s}"));
    let failed = |names: &[String]| {
        if names.is_empty() {
            String::new()
        } else {
            format!(", failed: {}", names.join(", "))
        }
    };
    match &k.check_btf {
        Step::NotRun => f.push("check-btf did not run".to_owned()),
        Step::Ran(c) if c.exit != 0 => f.push(format!(
            "check-btf: exit {}{}{}",
            c.exit,
            failed(&c.failed),
            why(&c.stderr)
        )),
        _ => {}
    }
    match &k.selftest {
        Step::NotRun => f.push("selftest did not run".to_owned()),
        Step::Ran(s) if s.exit != 0 => f.push(format!(
            "selftest: exit {}{}{}",
            s.exit,
            failed(&s.failed),
            why(&s.stderr)
        )),
        _ => {}
    }
    if let Step::Ran(objects) = &k.dry_run {
        for o in objects {
            let name = &o.object;
            match &o.live {
                None => f.push(format!("dry-run {name}: did not run in the kernel")),
                Some(l) => {
                    if l.failed() {
                        f.push(format!(
                            "dry-run {name}: exit {} in the kernel: {}",
                            opt(&l.exit),
                            l.reason()
                        ));
                    }
                    if let Some(e) = &l.output_error {
                        f.push(format!("dry-run {name}: {e}"));
                    }
                }
            }
            if !features.offline {
                continue;
            }
            match &o.offline {
                None => f.push(format!("dry-run --offline {name}: did not run")),
                Some(s) => {
                    if s.failed() {
                        f.push(format!(
                            "dry-run --offline {name}: exit {}: {}",
                            opt(&s.exit),
                            s.reason()
                        ));
                    } else if let Some(p) = o.parity.as_ref().filter(|p| !p.equal) {
                        f.push(parity_failure(name, p));
                    }
                    if let Some(e) = &s.output_error {
                        f.push(format!("dry-run --offline {name}: {e}"));
                    }
                }
            }
        }
    }
    match &k.requires {
        Step::NotRun => f.push("requires --live did not run".to_owned()),
        Step::Ran(r) => {
            for e in &r.errors {
                f.push(format!("requires: {e}"));
            }
            if r.unmatched > 0 {
                f.push(format!(
                    "requires: {} programs in only one of the prediction and the live run",
                    r.unmatched
                ));
            }
            for d in &r.disagreements {
                f.push(format!("requires: {d}"));
            }
            for d in &r.stale {
                f.push(format!("requires: {d}"));
            }
            for d in &r.unknowns {
                f.push(format!("requires: {d}"));
            }
        }
        Step::Unavailable => {}
    }
    let b = &k.btf_parity;
    if !b.equal {
        let from = if b.vmlinuz.is_none() {
            "the BTF source"
        } else {
            "the vmlinuz"
        };
        let errors = if b.errors.is_empty() {
            String::new()
        } else {
            format!(": {}", b.errors.join("; "))
        };
        f.push(format!(
            "btf: task_struct from {from} and /sys/kernel/btf/vmlinux differ or are missing{errors}"
        ));
    }
    f
}

/// "parity OBJ: N of M relocations differ ..., first: ...".
fn parity_failure(name: &str, p: &Parity) -> String {
    let outcome = |r: &Option<RelocationDoc>| {
        r.as_ref().map_or("none".to_owned(), |r| {
            format!("{} {}", opt(&r.target), r.status)
        })
    };
    let first = p
        .first_differences
        .first()
        .and_then(|d| {
            let r = d.live.as_ref().or(d.offline.as_ref())?;
            Some(format!(
                "{} #{} {} {}: kernel {}, --offline {}",
                r.program,
                r.index,
                r.kind,
                r.accessor,
                outcome(&d.live),
                outcome(&d.offline)
            ))
        })
        .unwrap_or_else(|| "null".to_owned());
    format!(
        "parity {name}: {} of {} relocations differ between the kernel and --offline, first: {first}",
        p.differences, p.compared
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dis(object: &str, program: &str, stage: &str) -> Disagreement {
        Disagreement {
            object: object.into(),
            program: program.into(),
            stage: stage.into(),
            line: format!("{object} {program}: predicted loads [], live fails at {stage}"),
        }
    }

    const LIST: &str = "\
6.1 a.bpf.o p load the verifier of 6.1
6.12.117+deb12-amd64 a.bpf.o q attach no ftrace entry
5.10 b.bpf.o r load not in this run
";

    #[test]
    fn a_listed_disagreement_is_expected_with_its_reason() {
        let list = expected::parse(LIST).unwrap();
        let objects = BTreeSet::from(["a.bpf.o"]);
        let (listed, unlisted, stale) = sort_disagreements(
            "6.1.0-57-amd64",
            &[dis("a.bpf.o", "p", "load")],
            &objects,
            &list,
        );
        assert_eq!(
            listed,
            ["a.bpf.o p: predicted loads [], live fails at load (expected: the verifier of 6.1)"]
        );
        assert!(unlisted.is_empty() && stale.is_empty());
    }

    #[test]
    fn an_unlisted_disagreement_is_unexpected() {
        let list = expected::parse(LIST).unwrap();
        let objects = BTreeSet::from(["a.bpf.o"]);
        // Another program, another stage, another kernel: none is the listed one.
        for (release, d) in [
            ("6.1.0-57-amd64", dis("a.bpf.o", "other", "load")),
            ("6.1.0-57-amd64", dis("a.bpf.o", "p", "attach")),
            ("6.12.117+deb12-amd64", dis("a.bpf.o", "p", "load")),
        ] {
            let (listed, unlisted, _) =
                sort_disagreements(release, std::slice::from_ref(&d), &objects, &list);
            assert!(listed.is_empty(), "{release} {d:?}");
            assert_eq!(unlisted, [d.line], "{release}");
        }
    }

    #[test]
    fn a_listed_disagreement_that_did_not_happen_is_stale() {
        let list = expected::parse(LIST).unwrap();
        let objects = BTreeSet::from(["a.bpf.o", "b.bpf.o"]);
        let (_, _, stale) = sort_disagreements("6.1.0-57-amd64", &[], &objects, &list);
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert!(stale[0].contains("6.1 a.bpf.o p load"), "{stale:?}");
        let (_, _, stale) = sort_disagreements("6.12.117+deb12-amd64", &[], &objects, &list);
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert!(stale[0].contains("a.bpf.o q attach"), "{stale:?}");
        // An entry for an object the run left out (a subset) is not stale.
        let (_, _, stale) =
            sort_disagreements("5.10.0-46-amd64", &[], &BTreeSet::from(["a.bpf.o"]), &list);
        assert!(stale.is_empty(), "{stale:?}");
        let (_, _, stale) = sort_disagreements("5.10.0-46-amd64", &[], &objects, &list);
        assert_eq!(stale.len(), 1, "{stale:?}");
    }

    fn reloc(program: &str, index: usize, target: Option<u64>, status: &str) -> RelocationDoc {
        RelocationDoc {
            program: program.into(),
            section: "raw_tp/x".into(),
            index,
            insn: 0,
            kind: "byte_off".into(),
            accessor: "struct s.f".into(),
            local: Some(0),
            target,
            mem_sz: None,
            bit_offset: None,
            status: status.into(),
            reachable: None,
            candidate: None,
            error: None,
            source: None,
        }
    }

    #[test]
    fn equal_runs_are_at_parity() {
        let rows = [
            reloc("p", 0, Some(8), "patched"),
            reloc("q", 0, None, "poisoned"),
        ];
        let p = parity(&rows, &rows);
        assert!(p.equal);
        assert_eq!((p.compared, p.differences), (2, 0));
    }

    #[test]
    fn differences_are_ordered_by_index_then_program() {
        let live = [
            reloc("b", 1, Some(8), "patched"),
            reloc("a", 1, Some(8), "patched"),
            reloc("z", 0, Some(8), "patched"),
        ];
        let offline = [reloc("b", 1, Some(16), "patched")];
        let p = parity(&live, &offline);
        assert_eq!(p.differences, 3);
        let order: Vec<_> = p
            .first_differences
            .iter()
            .map(|d| d.live.as_ref().unwrap().program.clone())
            .collect();
        assert_eq!(order, ["z", "a", "b"]);
        assert_eq!(
            parity_failure("o", &p),
            "parity o: 3 of 3 relocations differ between the kernel and --offline, first: \
             z #0 byte_off struct s.f: kernel 8 patched, --offline none"
        );
    }

    #[test]
    fn only_five_differences_are_quoted() {
        let live: Vec<_> = (0..7).map(|i| reloc("p", i, Some(1), "patched")).collect();
        let p = parity(&live, &[]);
        assert_eq!((p.differences, p.first_differences.len()), (7, 5));
    }

    /// Exit 1 with loading relocations is the requires half's verdict (the host's kernel has
    /// no kprobes): not a dry-run failure; exit 1 with failing relocations, or 2, is.
    #[test]
    fn a_dry_run_fails_on_its_relocations_not_on_requires() {
        let side = |exit, loads| Side {
            exit: Some(exit),
            output: Some(SideOutput {
                mode: "offline".into(),
                loads,
                failure: None,
                summary: SummaryDoc {
                    relocations: 1,
                    changed: 0,
                    poisoned: 0,
                    reachable_poison: 0,
                    errors: 0,
                },
            }),
            stderr: None,
            output_error: None,
        };
        assert!(!side(0, true).failed());
        assert!(!side(1, true).failed());
        assert!(side(1, false).failed());
        assert!(side(2, true).failed());
    }

    #[test]
    fn a_step_serializes_as_the_old_schema_did() {
        let s: Step<u8> = Step::Unavailable;
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            "\"not available in this build\""
        );
        assert_eq!(serde_json::to_string(&Step::<u8>::NotRun).unwrap(), "null");
        let side = Side {
            exit: Some(2),
            output: None,
            stderr: Some(None),
            output_error: None,
        };
        assert_eq!(
            serde_json::to_string(&side).unwrap(),
            r#"{"exit":2,"stderr":null}"#
        );
    }
}
