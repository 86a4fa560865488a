//! Rendering a [`CheckReport`]: a checklist for people, JSON (`coretool.check-btf/v1`) for
//! machines.

use std::io::{self, Write};
use std::path::PathBuf;

use coretool::check::{Check, CheckReport, KernelInfo, Status, SCHEMA};
use schemars::JsonSchema;
use serde::Serialize;

use super::Style;

fn mark(style: &Style, status: Status) -> String {
    // Pad before painting so escape codes do not upset the column.
    let word = format!(
        "{:<4}",
        match status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skipped => "skip",
        }
    );
    match status {
        Status::Ok => style.ok(&word),
        Status::Warn => style.warn(&word),
        Status::Fail => style.fail(&word),
        Status::Skipped => style.dim(&word),
    }
}

/// The one-line verdict under the checklist.
pub fn verdict(report: &CheckReport) -> String {
    let counts = format!(
        "{} ok, {} warn, {} fail, {} skipped",
        report.count(Status::Ok),
        report.count(Status::Warn),
        report.count(Status::Fail),
        report.count(Status::Skipped)
    );
    let privileged = if report.kernel.privileged {
        ""
    } else {
        " (privileged checks skipped: run as root to complete them)"
    };
    if report.can_load() {
        format!("{counts}: a CO-RE program can load here{privileged}")
    } else {
        format!("{counts}: a CO-RE program cannot load here; apply the fixes above")
    }
}

/// The checklist: a header naming the kernel, one line per check (`fix:` on the next line for
/// every non-ok finding), and the verdict.
pub fn write_text(w: &mut dyn Write, report: &CheckReport, style: &Style) -> io::Result<()> {
    let k = &report.kernel;
    writeln!(
        w,
        "{} Linux {} {}, bundled libbpf {}",
        style.bold("coretool check-btf:"),
        k.release,
        k.arch,
        k.libbpf
    )?;
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for c in &report.checks {
        writeln!(
            w,
            "  {}  {:<width$}  {}",
            mark(style, c.status),
            c.name,
            c.detail
        )?;
        if let Some(fix) = &c.fix {
            writeln!(
                w,
                "  {:4}  {:<width$}  {} {fix}",
                "",
                "",
                style.bold("fix:")
            )?;
        }
    }
    let v = verdict(report);
    let v = if report.can_load() {
        style.ok(&v)
    } else {
        style.fail(&v)
    };
    writeln!(w, "{v}")
}

/// The `coretool.check-btf/v1` document; serialize it with `serde_json`.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CheckJson<'a> {
    schema: &'static str,
    kernel: KernelJson<'a>,
    can_load: bool,
    checks: Vec<CheckItemJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct KernelJson<'a> {
    release: &'a str,
    arch: &'a str,
    version: &'a str,
    os: Option<&'a str>,
    btf: Option<String>,
    config: Option<String>,
    libbpf: &'a str,
    privileged: bool,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct CheckItemJson<'a> {
    name: &'a str,
    #[schemars(schema_with = "status_schema")]
    status: &'static str,
    detail: &'a str,
    fix: Option<&'a str>,
}

super::one_of_schema!(
    status_schema,
    [
        coretool::check::Status::Ok,
        coretool::check::Status::Warn,
        coretool::check::Status::Fail,
        coretool::check::Status::Skipped,
    ]
    .map(coretool::check::Status::name)
);

pub fn to_json(report: &CheckReport) -> CheckJson<'_> {
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let k: &KernelInfo = &report.kernel;
    CheckJson {
        schema: SCHEMA,
        kernel: KernelJson {
            release: &k.release,
            arch: &k.arch,
            version: &k.version,
            os: k.os.as_deref(),
            btf: path(&k.btf),
            config: path(&k.config),
            libbpf: &k.libbpf,
            privileged: k.privileged,
        },
        can_load: report.can_load(),
        checks: report
            .checks
            .iter()
            .map(|c: &Check| CheckItemJson {
                name: &c.name,
                status: c.status.name(),
                detail: &c.detail,
                fix: c.fix.as_deref(),
            })
            .collect(),
    }
}
