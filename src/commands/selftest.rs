//! `coretool selftest`: run the bundled probe end to end on this kernel and report each check.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use coretool::probe;
use coretool::reloc::{Fixup, Status as ReloStatus};
use coretool::selftest::{self, checks::Status, Report};
use schemars::JsonSchema;
use serde::Serialize;

use super::GlobalOpts;
use crate::exit::{exit_ok, exit_problems};
use crate::render::Style;

#[derive(Debug, clap::Args)]
pub struct SelftestArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    #[command(flatten)]
    pub verbose: super::VerboseOpt,
    /// Also spawn N short-lived processes as fast as possible and account for every fork, exec
    /// and exit of them
    #[arg(long, value_name = "N")]
    pub stress: Option<usize>,
    /// Write the embedded BPF object to FILE (atomically) and exit, without running the test;
    /// `coretool relocs FILE` and `coretool dry-run FILE` read it
    #[arg(long, value_name = "FILE")]
    pub emit_object: Option<PathBuf>,
}

pub fn run(args: SelftestArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.emit_object {
        crate::output::write_atomic(path, |w| Ok(w.write_all(probe::OBJECT)?))?;
        if !g.json {
            eprintln!(
                "wrote {} ({} bytes, {})",
                path.display(),
                probe::OBJECT.len(),
                probe::ORIGIN
            );
        }
        return Ok(exit_ok());
    }
    probe::stop_on_signals().context("installing the SIGINT/SIGTERM handlers")?;
    let report = selftest::run(&selftest::Options {
        stress: args.stress,
    })?;
    if g.json {
        crate::output::print_json(&ReportJson::new(&report))?;
    } else {
        let mut out = crate::output::stdout();
        render_text(&mut out, &report, Style::new(g.color.enabled()), g.verbose)?;
        out.flush()?;
    }
    Ok(if report.passed() {
        exit_ok()
    } else {
        exit_problems()
    })
}

fn render_text(w: &mut dyn Write, r: &Report, st: Style, verbose: u8) -> std::io::Result<()> {
    let k = &r.kernel;
    writeln!(
        w,
        "{} kernel {} {}, probe object {} bytes ({})",
        st.bold("coretool selftest:"),
        k.release,
        k.machine,
        r.object_size,
        r.object_origin
    )?;

    if !r.relocations.is_empty() {
        let poisoned: Vec<_> = r
            .relocations
            .iter()
            .filter(|x| x.status == ReloStatus::Poisoned)
            .collect();
        writeln!(
            w,
            "\nCO-RE relocations on this kernel: {} ({} patched, {} poisoned in guarded branches){}",
            r.relocations.len(),
            r.relocations.len() - poisoned.len(),
            poisoned.len(),
            if verbose == 0 { "; -v lists them all" } else { "" }
        )?;
        let shown: Vec<_> = if verbose > 0 {
            r.relocations.iter().collect()
        } else {
            poisoned
        };
        for x in shown {
            writeln!(
                w,
                "  {:<10} #{:<3} {:<12} {}\n  {:>17} {}",
                x.program,
                x.index,
                x.kind.name(),
                x.local_spec.as_ref().map(|s| s.body()).unwrap_or_default(),
                "->",
                match &x.resolved {
                    Some(t) => format!("{}: {}", t.spec.body(), outcome_text(x)),
                    None => format!("no match: {}", outcome_text(x)),
                }
            )?;
        }
    }

    writeln!(w)?;
    let width = r.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &r.checks {
        let status = match c.status {
            Status::Pass => st.ok("pass"),
            Status::Fail => st.fail("fail"),
            Status::Skip => st.warn("skip"),
        };
        match c.status {
            Status::Fail => {
                writeln!(
                    w,
                    "  {status}  {:<width$}  expected: {}",
                    c.name, c.expected
                )?;
                writeln!(w, "        {:<width$}  got:      {}", "", c.got)?;
            }
            _ => writeln!(w, "  {status}  {:<width$}  {}", c.name, c.got)?,
        }
    }

    if let Some(s) = &r.stress {
        writeln!(
            w,
            "\nstress: {} processes by {} spawners in {:.2}s: {:.0} processes/s, {} events, {:.0} events/s",
            s.processes,
            s.spawners,
            s.elapsed.as_secs_f64(),
            s.processes_per_sec(),
            s.events,
            s.events_per_sec()
        )?;
    }
    if verbose > 0 && !r.libbpf_warnings.is_empty() {
        writeln!(w, "\nlibbpf warnings:")?;
        for l in &r.libbpf_warnings {
            writeln!(w, "  {l}")?;
        }
    }
    let (pass, fail, skip) = (
        r.count(Status::Pass),
        r.count(Status::Fail),
        r.count(Status::Skip),
    );
    let verdict = if fail == 0 {
        st.ok("CO-RE works on this kernel")
    } else {
        st.fail("CO-RE self-test FAILED")
    };
    writeln!(
        w,
        "\n{pass} passed, {fail} failed, {skip} skipped: {verdict}"
    )
}

/// The schema name and version of `selftest --json`.
pub(crate) const SCHEMA: &str = "coretool.selftest/v1";

/// The `coretool.selftest/v1` document.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ReportJson<'a> {
    schema: &'static str,
    kernel: KernelJson<'a>,
    object: ObjectJson,
    relocations: Vec<RelocJson<'a>>,
    checks: Vec<CheckJson<'a>>,
    stress: Option<StressJson>,
    summary: SummaryJson,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct KernelJson<'a> {
    release: &'a str,
    machine: &'a str,
    btf: BtfJson<'a>,
    tracefs: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct BtfJson<'a> {
    path: &'a str,
    types: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct ObjectJson {
    origin: &'static str,
    size: usize,
}

/// One relocation libbpf applied; `insn` and `change` are null when the outcome has none.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct RelocJson<'a> {
    program: &'a str,
    index: usize,
    kind: &'static str,
    local: String,
    target: Option<String>,
    #[schemars(schema_with = "outcome_schema")]
    outcome: &'static str,
    insn: Option<u32>,
    change: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct CheckJson<'a> {
    name: &'a str,
    #[schemars(schema_with = "check_status_schema")]
    status: &'static str,
    expected: &'a str,
    got: &'a str,
}

/// Rates rounded to whole numbers, seconds to milliseconds (still JSON floats).
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct StressJson {
    processes: usize,
    spawners: usize,
    events: usize,
    seconds: f64,
    events_per_sec: f64,
    processes_per_sec: f64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct SummaryJson {
    pass: usize,
    fail: usize,
    skip: usize,
}

crate::render::one_of_schema!(outcome_schema, ["patched", "poisoned", "unknown"]);
crate::render::one_of_schema!(
    check_status_schema,
    [
        coretool::selftest::checks::Status::Pass,
        coretool::selftest::checks::Status::Fail,
        coretool::selftest::checks::Status::Skip,
    ]
    .map(coretool::selftest::checks::Status::name)
);

impl<'a> RelocJson<'a> {
    fn new(f: &'a Fixup) -> Self {
        let outcome = match f.status {
            ReloStatus::Patched | ReloStatus::Same | ReloStatus::Absent => "patched",
            ReloStatus::Poisoned => "poisoned",
            ReloStatus::Error | ReloStatus::NotRun => "unknown",
        };
        RelocJson {
            program: &f.program,
            index: f.index,
            kind: f.kind.name(),
            local: f.local_spec.as_ref().map(|s| s.body()).unwrap_or_default(),
            target: f.resolved.as_ref().map(|r| r.spec.body()),
            outcome,
            insn: (outcome != "unknown").then_some(f.insn),
            change: f.change(),
        }
    }
}

impl<'a> ReportJson<'a> {
    fn new(r: &'a Report) -> Self {
        let k = &r.kernel;
        ReportJson {
            schema: SCHEMA,
            kernel: KernelJson {
                release: &k.release,
                machine: &k.machine,
                btf: BtfJson {
                    path: &k.btf_path,
                    types: k.btf_types,
                },
                tracefs: k.tracefs.as_deref(),
            },
            object: ObjectJson {
                origin: r.object_origin,
                size: r.object_size,
            },
            relocations: r.relocations.iter().map(RelocJson::new).collect(),
            checks: r
                .checks
                .iter()
                .map(|c| CheckJson {
                    name: &c.name,
                    status: c.status.name(),
                    expected: &c.expected,
                    got: &c.got,
                })
                .collect(),
            stress: r.stress.as_ref().map(|s| StressJson {
                processes: s.processes,
                spawners: s.spawners,
                events: s.events,
                seconds: (s.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
                events_per_sec: s.events_per_sec().round(),
                processes_per_sec: s.processes_per_sec().round(),
            }),
            summary: SummaryJson {
                pass: r.count(Status::Pass),
                fail: r.count(Status::Fail),
                skip: r.count(Status::Skip),
            },
        }
    }
}

/// `insn #3: off 1268 -> 1268`, as libbpf's log states what it did.
fn outcome_text(f: &Fixup) -> String {
    match (f.status, f.change()) {
        (ReloStatus::Poisoned, _) => format!("insn #{}: poisoned (no match here)", f.insn),
        (ReloStatus::Patched | ReloStatus::Same | ReloStatus::Absent, Some(c)) => {
            format!("insn #{}: {c}", f.insn)
        }
        _ => "not reported".into(),
    }
}
