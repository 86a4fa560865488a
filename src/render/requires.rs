//! `coretool requires`'s output: a table per object and kernel (every program's verdict, then
//! each missing or unknown requirement with its evidence; `-v` lists every requirement), and
//! the `coretool.requires/v1` JSON Lines records, one per object, kernel and program.

use std::io::{self, Write};

use serde::Serialize;

use coretool::compat::KernelId;
use coretool::dryrun::report::{RequirementDoc, RequiresDoc};
use coretool::libbpf::object::LiveOutcome;
use coretool::requires::{live, ObjectRequirements, ObjectVerdict, Requirement, Status, Verdict};

use super::{table, Style};

/// The schema name and version of `coretool requires --json` records.
pub const SCHEMA: &str = "coretool.requires/v1";

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Record<'a> {
    schema: &'static str,
    object: &'a str,
    kernel: KernelDoc<'a>,
    program: &'a str,
    section: &'a str,
    autoload: bool,
    prog_type: Option<&'a str>,
    attach_type: Option<&'a str>,
    attach_target: Option<&'a str>,
    verdict: &'static str,
    fails_at: Option<&'static str>,
    object_verdict: &'static str,
    requirements: Vec<ReqDoc<'a>>,
    /// What the object as a whole needs (every map, the BTF kinds): the same on each record.
    object_requirements: Vec<ReqDoc<'a>>,
    /// With `--live`: what happened on the running kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<LiveDoc<'a>>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
struct LiveDoc<'a> {
    verdict: &'static str,
    fails_at: Option<&'static str>,
    load_error: Option<&'a str>,
    attach_attempted: bool,
    attach_error: Option<&'a str>,
    /// The prediction equals the live result (null: the prediction was `unknown`).
    agrees: Option<bool>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
struct KernelDoc<'a> {
    name: String,
    source: &'a str,
    release: Option<&'a str>,
    arch: Option<&'a str>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
struct ReqDoc<'a> {
    kind: &'static str,
    name: &'a str,
    status: &'static str,
    stage: &'static str,
    evidence: &'a str,
}

fn req_doc(r: &Requirement) -> ReqDoc<'_> {
    ReqDoc {
        kind: r.kind.name(),
        name: &r.name,
        status: r.status.name(),
        stage: r.stage.name(),
        evidence: &r.evidence,
    }
}

/// One JSON line per program of `object` on kernel `id` (with `live`, what happened to each
/// program on the running kernel).
pub fn write_records(
    w: &mut impl Write,
    object: &str,
    id: &KernelId,
    r: &ObjectRequirements,
    live: Option<&[LiveOutcome]>,
) -> io::Result<()> {
    for p in &r.programs {
        let outcome = live.and_then(|l| l.iter().find(|o| o.program == p.name));
        let live = outcome.map(|o| {
            let (v, stage) = live::live_verdict(o);
            LiveDoc {
                verdict: v.name(),
                fails_at: stage.map(|s| s.name()),
                load_error: o.load_error.as_deref(),
                attach_attempted: o.attach_error.is_some(),
                attach_error: o.attach_error.as_ref().and_then(|e| e.as_deref()),
                agrees: live::agrees(p, o),
            }
        });
        let rec = Record {
            schema: SCHEMA,
            object,
            kernel: KernelDoc {
                name: id.name(),
                source: &id.source,
                release: id.release.as_deref(),
                arch: id.arch.as_deref(),
            },
            program: &p.name,
            section: &p.section,
            autoload: p.autoload,
            prog_type: p.prog_type,
            attach_type: p.attach_type,
            attach_target: p.target.as_deref(),
            verdict: p.verdict.name(),
            fails_at: p.fails_at.map(|s| s.name()),
            object_verdict: r.verdict.name(),
            requirements: p.requirements.iter().map(req_doc).collect(),
            object_requirements: r.object.iter().map(req_doc).collect(),
            live,
        };
        serde_json::to_writer(&mut *w, &rec)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

fn verdict_text(v: Verdict, style: Style) -> String {
    match v {
        Verdict::Loads => style.ok("loads"),
        Verdict::Fails => style.fail("fails"),
        Verdict::Unknown => style.warn("unknown"),
    }
}

fn status_text(s: Status, style: Style) -> String {
    match s {
        Status::Ok => style.ok("ok"),
        Status::Missing => style.fail("missing"),
        Status::Unknown => style.warn("unknown"),
    }
}

fn object_line(r: &ObjectRequirements) -> String {
    let auto = r.programs.iter().filter(|p| p.autoload).count();
    let count = |v: Verdict| {
        r.programs
            .iter()
            .filter(|p| p.autoload && p.verdict == v)
            .count()
    };
    let counts = format!(
        "{} of {auto} programs load, {} fail, {} unknown",
        count(Verdict::Loads),
        count(Verdict::Fails),
        count(Verdict::Unknown)
    );
    match &r.verdict {
        ObjectVerdict::LoadsWithout { programs, maps } => {
            let mut off = Vec::new();
            if !programs.is_empty() {
                off.push(format!("programs {}", programs.join(", ")));
            }
            if !maps.is_empty() {
                off.push(format!("maps {}", maps.join(", ")));
            }
            format!(
                "loads if the loader turns off {} ({counts})",
                off.join(" and ")
            )
        }
        v => format!("{} ({counts})", v.name()),
    }
}

/// The table for one object on one kernel.
pub fn write_text(
    w: &mut impl Write,
    object: &str,
    kernel: &str,
    r: &ObjectRequirements,
    live: Option<&[LiveOutcome]>,
    verbose: bool,
    style: Style,
) -> io::Result<()> {
    writeln!(
        w,
        "{} on {}: {}",
        style.bold(object),
        style.bold(kernel),
        object_line(r)
    )?;
    let mut header = vec!["PROGRAM", "SECTION", "TYPE", "VERDICT", "MISSING / UNKNOWN"];
    if live.is_some() {
        header.push("LIVE");
    }
    let mut t = table::new(&header);
    for p in &r.programs {
        let bad = p
            .requirements
            .iter()
            .filter(|q| q.status != Status::Ok)
            .count();
        let verdict = match (p.fails_at, p.autoload) {
            (Some(s), _) => format!("{} ({})", verdict_text(p.verdict, style), s.name()),
            _ => verdict_text(p.verdict, style),
        };
        let name = match p.autoload {
            true => p.name.clone(),
            false => format!("{} (not autoloaded)", p.name),
        };
        let mut row = vec![
            name,
            p.section.clone(),
            p.prog_type
                .map(|t| t.trim_start_matches("BPF_PROG_TYPE_").to_ascii_lowercase())
                .unwrap_or_else(|| "?".into()),
            verdict,
            bad.to_string(),
        ];
        if let Some(l) = live {
            row.push(match l.iter().find(|o| o.program == p.name) {
                None => "-".into(),
                Some(o) => live_text(p, o, style),
            });
        }
        t.add_row(row);
    }
    table::align_right(&mut t, &[4]);
    for line in table::render(&t).lines() {
        writeln!(w, " {line}")?;
    }
    for p in &r.programs {
        for q in p
            .requirements
            .iter()
            .filter(|q| verbose || q.status != Status::Ok)
        {
            writeln!(
                w,
                "  {}: {} {} {} ({}): {}",
                p.name,
                status_text(q.status, style),
                q.kind.name(),
                q.name,
                q.stage.name(),
                q.evidence
            )?;
        }
    }
    for (p, o) in r.programs.iter().filter_map(|p| {
        live.and_then(|l| l.iter().find(|o| o.program == p.name))
            .map(|o| (p, o))
    }) {
        if let Some(e) = o
            .load_error
            .as_deref()
            .or(o.attach_error.as_ref().and_then(|e| e.as_deref()))
        {
            writeln!(w, "  {}: live: {e}", p.name)?;
            // -v: the verifier's log of a refused load, as libbpf printed it.
            if verbose {
                for line in verifier_log(&o.log) {
                    writeln!(w, "  {}: verifier: {line}", p.name)?;
                }
            }
        }
    }
    for q in r
        .object
        .iter()
        .filter(|q| verbose || q.status != Status::Ok)
    {
        writeln!(
            w,
            "  object: {} {} {}: {}",
            status_text(q.status, style),
            q.kind.name(),
            q.name,
            q.evidence
        )?;
    }
    Ok(())
}

/// The lines of libbpf's log between its `-- BEGIN PROG LOAD LOG --` and `-- END PROG LOAD
/// LOG --` markers: the verifier's words on a refused program.
fn verifier_log(log: &str) -> impl Iterator<Item = &str> {
    log.lines()
        .skip_while(|l| !l.contains("-- BEGIN PROG LOAD LOG --"))
        .skip(1)
        .take_while(|l| !l.contains("-- END PROG LOAD LOG --"))
        .filter(|l| !l.trim().is_empty())
}

/// `loads, as predicted` / `fails (attach), predicted loads` / `loads, predicted unknown`.
fn live_text(p: &coretool::requires::ProgramVerdict, o: &LiveOutcome, style: Style) -> String {
    let (v, stage) = live::live_verdict(o);
    let got = match stage {
        Some(s) => format!("{} ({})", v.name(), s.name()),
        None => v.name().to_owned(),
    };
    match live::agrees(p, o) {
        Some(true) => style.ok(&format!("{got}, as predicted")),
        Some(false) => style.fail(&format!("{got}, predicted {}", p.verdict.name())),
        None => style.warn(&format!("{got}, predicted unknown")),
    }
}

/// The requires half of a `dry-run` target or a `compat` record
/// ([`coretool::dryrun::report::RequiresDoc`]): the verdict, and what is missing or unknown.
pub(crate) fn requires_doc(r: &ObjectRequirements) -> RequiresDoc {
    let (without_programs, without_maps) = match &r.verdict {
        ObjectVerdict::LoadsWithout { programs, maps } => (programs.clone(), maps.clone()),
        _ => (Vec::new(), Vec::new()),
    };
    RequiresDoc {
        verdict: r.verdict.name().to_owned(),
        reason: None,
        without_programs,
        without_maps,
        requirements: coretool::requires::problems(r)
            .into_iter()
            .map(|(program, q)| RequirementDoc {
                program: program.map(str::to_owned),
                kind: q.kind.name().to_owned(),
                name: q.name.clone(),
                status: q.status.name().to_owned(),
                stage: q.stage.name().to_owned(),
                evidence: q.evidence.clone(),
            })
            .collect(),
    }
}
