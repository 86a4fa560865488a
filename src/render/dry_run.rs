//! `dry-run --format markdown`: the `coretool.dry-run/v2` document (the same model `--json`
//! writes) as a job summary: one row per kernel, then the relocations and programs that keep
//! the object from loading, with the source line each came from.

use std::io::{self, Write};

use coretool::dryrun::report::{Document, RelocationDoc, TargetDoc};

use super::markdown::{self, cell, code, number, text};

/// A relocation that keeps the object from loading: libbpf's error, or a poisoned instruction
/// the program can reach (`Fixup::reachable_poison`: not proven dead).
pub fn is_problem(r: &RelocationDoc) -> bool {
    r.status == "error" || (r.status == "poisoned" && r.reachable != Some(false))
}

fn verdict(t: &TargetDoc) -> String {
    let icon = match t.verdict.as_str() {
        "loads" => ":white_check_mark:",
        "loads-without" => ":warning:",
        "unknown" => ":grey_question:",
        _ => ":x:",
    };
    format!("{icon} {}", t.verdict)
}

/// Why the object fails there, in a few words, or nothing when it loads.
fn detail(t: &TargetDoc) -> String {
    if let Some(f) = &t.failure {
        return cell(f);
    }
    let s = &t.summary;
    let mut parts = Vec::new();
    let rejected = t.load.iter().flatten().filter(|l| !l.loaded).count();
    for (n, one, many) in [
        (
            s.reachable_poison,
            "reachable poisoned instruction",
            "reachable poisoned instructions",
        ),
        (s.errors, "relocation error", "relocation errors"),
        (
            rejected,
            "program rejected by the verifier",
            "programs rejected by the verifier",
        ),
    ] {
        if n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    let q = &t.requires;
    if !q.without_programs.is_empty() {
        parts.push(format!(
            "the loader has to turn off {}",
            q.without_programs
                .iter()
                .map(|p| code(p))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let (missing, unknown) =
        q.requirements
            .iter()
            .fold((0, 0), |(m, u), r| match r.status.as_str() {
                "missing" => (m + 1, u),
                _ => (m, u + 1),
            });
    for (n, what) in [(missing, "missing"), (unknown, "unknown")] {
        if n > 0 {
            let s = if n == 1 { "" } else { "s" };
            parts.push(format!("{n} requirement{s} {what}"));
        }
    }
    if let Some(why) = &q.reason {
        parts.push(format!("requires not checked: {}", cell(why)));
    }
    parts.join(", ")
}

/// The document as Markdown; `labels` names each target (one per `doc.targets`).
pub fn write_markdown(w: &mut impl Write, doc: &Document, labels: &[String]) -> io::Result<()> {
    let fails = doc
        .targets
        .iter()
        .filter(|t| matches!(t.verdict.as_str(), "fails" | "loads-without"))
        .count();
    writeln!(
        w,
        "## coretool dry-run: {}: {} of {} kernel{} fail{}",
        code(&doc.object),
        fails,
        doc.targets.len(),
        if doc.targets.len() == 1 { "" } else { "s" },
        if fails == 1 { "s" } else { "" }
    )?;
    writeln!(w)?;
    markdown::header(
        w,
        &[
            text("kernel"),
            text("verdict"),
            number("relocations"),
            number("changed"),
            number("poisoned"),
            number("reachable"),
            number("errors"),
            text("detail"),
        ],
    )?;
    for (t, label) in doc.targets.iter().zip(labels) {
        let s = &t.summary;
        markdown::row(
            w,
            &[
                code(label),
                verdict(t),
                s.relocations.to_string(),
                s.changed.to_string(),
                s.poisoned.to_string(),
                s.reachable_poison.to_string(),
                s.errors.to_string(),
                detail(t),
            ],
        )?;
    }
    let problems: Vec<(&str, &RelocationDoc)> = doc
        .targets
        .iter()
        .zip(labels)
        .flat_map(|(t, l)| {
            t.relocations
                .iter()
                .filter(|r| is_problem(r))
                .map(move |r| (l.as_str(), r))
        })
        .collect();
    if !problems.is_empty() {
        writeln!(w)?;
        writeln!(w, "### Relocations that keep it from loading")?;
        writeln!(w)?;
        markdown::header(
            w,
            &[
                text("kernel"),
                text("program"),
                number("#"),
                text("kind"),
                text("accessor"),
                text("status"),
                text("source"),
            ],
        )?;
        for (label, r) in problems {
            let status = match (&r.error, r.status.as_str()) {
                (Some(e), _) => format!("error: {}", cell(e)),
                (None, "poisoned") if r.reachable == Some(true) => "poisoned, reachable".into(),
                (None, "poisoned") => "poisoned, not proven dead".into(),
                (None, s) => s.to_owned(),
            };
            markdown::row(
                w,
                &[
                    code(label),
                    code(&r.program),
                    r.index.to_string(),
                    r.kind.clone(),
                    code(&r.accessor),
                    status,
                    r.source.as_deref().map(code).unwrap_or_default(),
                ],
            )?;
        }
    }
    let needs: Vec<_> = doc
        .targets
        .iter()
        .zip(labels)
        .flat_map(|(t, l)| t.requires.requirements.iter().map(move |r| (l, r)))
        .collect();
    if !needs.is_empty() {
        writeln!(w)?;
        writeln!(w, "### Requirements missing or unknown")?;
        writeln!(w)?;
        markdown::header(
            w,
            &[
                text("kernel"),
                text("program"),
                text("requirement"),
                text("status"),
                text("evidence"),
            ],
        )?;
        for (label, r) in needs {
            markdown::row(
                w,
                &[
                    code(label),
                    r.program
                        .as_deref()
                        .map(code)
                        .unwrap_or_else(|| "(object)".into()),
                    format!("{} {}", r.kind, code(&r.name)),
                    format!("{} ({})", r.status, r.stage),
                    cell(&r.evidence),
                ],
            )?;
        }
    }
    let rejected: Vec<_> = doc
        .targets
        .iter()
        .zip(labels)
        .flat_map(|(t, l)| {
            t.load
                .iter()
                .flatten()
                .filter(|p| !p.loaded)
                .map(move |p| (l, p))
        })
        .collect();
    if !rejected.is_empty() {
        writeln!(w)?;
        writeln!(w, "### Programs the verifier rejected")?;
        writeln!(w)?;
        markdown::header(
            w,
            &[
                text("kernel"),
                text("program"),
                text("error"),
                text("source"),
            ],
        )?;
        for (label, p) in rejected {
            markdown::row(
                w,
                &[
                    code(label),
                    code(&p.program),
                    p.error.as_deref().map(cell).unwrap_or_default(),
                    p.source.as_deref().map(code).unwrap_or_default(),
                ],
            )?;
        }
    }
    Ok(())
}
