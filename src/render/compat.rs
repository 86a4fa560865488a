//! `coretool compat`'s output: the `coretool.compat/v2` JSON Lines records, the text summary
//! (classes of kernels, then counts per architecture and distribution) and the markdown job
//! summary.

use std::io::{self, Write};

use schemars::JsonSchema;
use serde::Serialize;

use coretool::btf::Endian;
use coretool::compat::classes::{common_traits, Class, Counts, ObjectClasses};
use coretool::compat::{
    ClassKey, Classes, FailedRelo, KernelId, KernelOutcome, ReqProblem, Requires, RequiresKey,
    Verdict, SCHEMA,
};
use coretool::dryrun::report::{RelocationDoc, RequiresDoc, SummaryDoc};

use super::markdown::{self, cell};
use super::Style;

/// How many kernels a class names before "and N more".
const NAMES_SHOWN: usize = 8;

/// One object on one kernel.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Record<'a> {
    schema: &'static str,
    object: &'a str,
    kernel: KernelDoc<'a>,
    #[schemars(schema_with = "verdict_schema")]
    verdict: &'static str,
    /// Why it fails or is incompatible (libbpf's reason when it stopped).
    reason: Option<&'a str>,
    /// The relocations that keep the object from loading.
    failures: Vec<FailureDoc<'a>>,
    /// Everything else the object needs from the kernel (`coretool requires`): null with
    /// `--core-only`, or when the object cannot run there at all.
    requires: Option<RequiresDoc>,
    summary: Option<SummaryDoc>,
    relocations: Vec<RelocationDoc>,
    /// Why the kernel source is unreadable.
    error: Option<&'a str>,
}

/// A kernel's identity in JSON (`compat`'s records, `btf -o --json`).
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KernelDoc<'a> {
    source: &'a str,
    release: Option<&'a str>,
    arch: Option<&'a str>,
    endian: Option<&'static str>,
    distro: Option<&'a str>,
    version: Option<&'a str>,
    /// How the BTF was found in the source (containers, outermost first).
    format: Option<&'a str>,
}

impl<'a> KernelDoc<'a> {
    pub fn new(id: &'a KernelId) -> Self {
        KernelDoc {
            source: &id.source,
            release: id.release.as_deref(),
            arch: id.arch.as_deref(),
            endian: id.endian.map(endian_name),
            distro: id.distro.as_deref(),
            version: id.version.as_deref(),
            format: id.format.as_deref(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct FailureDoc<'a> {
    program: &'a str,
    index: usize,
    accessor: &'a str,
    source: Option<&'a str>,
    error: Option<&'a str>,
}

super::one_of_schema!(
    verdict_schema,
    [
        Verdict::Loads,
        Verdict::LoadsGuardedPoison,
        Verdict::LoadsWithout,
        Verdict::Fails,
        Verdict::Unknown,
        Verdict::Incompatible,
        Verdict::Unreadable,
    ]
    .map(Verdict::name)
);

fn requires_doc(r: &Requires) -> RequiresDoc {
    match r {
        Requires::Checked(r) => super::requires::requires_doc(r),
        Requires::NotChecked(why) => RequiresDoc::not_checked(why),
    }
}

fn endian_name(e: Endian) -> &'static str {
    match e {
        Endian::Little => "little",
        Endian::Big => "big",
    }
}

/// One JSON line per object on kernel `k`.
pub fn write_records(w: &mut impl Write, objects: &[String], k: &KernelOutcome) -> io::Result<()> {
    let id = &k.id;
    for o in &k.objects {
        let unreadable = o.verdict == Verdict::Unreadable;
        let rec = Record {
            schema: SCHEMA,
            object: &objects[o.object],
            kernel: KernelDoc::new(id),
            verdict: o.verdict.name(),
            reason: o.reason.as_deref().filter(|_| !unreadable),
            failures: o
                .failures
                .iter()
                .map(|f| FailureDoc {
                    program: &f.program,
                    index: f.index,
                    accessor: &f.accessor,
                    source: f.source.as_deref(),
                    error: f.error.as_deref(),
                })
                .collect(),
            requires: o.requires.as_ref().map(requires_doc),
            summary: o.report.as_ref().map(|r| {
                let s = r.result.summary();
                SummaryDoc {
                    relocations: s.relocations,
                    changed: s.changed,
                    poisoned: s.poisoned,
                    reachable_poison: s.reachable_poison,
                    errors: s.errors,
                }
            }),
            relocations: o
                .report
                .as_ref()
                .map(|r| r.result.fixups.iter().map(RelocationDoc::from).collect())
                .unwrap_or_default(),
            error: o.reason.as_deref().filter(|_| unreadable),
        };
        serde_json::to_writer(&mut *w, &rec)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "relocation #4 struct task_struct.__state unguarded at prog.bpf.c:57".
fn failure_text(f: &FailedRelo) -> String {
    let at = f
        .source
        .as_deref()
        .map_or_else(String::new, |s| format!(" at {s}"));
    match &f.error {
        None => format!(
            "relocation #{} {} unguarded{at} (program {})",
            f.index, f.accessor, f.program
        ),
        Some(e) => format!(
            "relocation #{} {}{at} (program {}): {e}",
            f.index, f.accessor, f.program
        ),
    }
}

/// "pm_exec: missing helper bpf_ringbuf_output (load): no BPF_FUNC_... in enum bpf_func_id",
/// as `coretool requires` says it.
fn problem_text(p: &ReqProblem, evidence: Option<&String>) -> String {
    let whose = p.program.as_deref().unwrap_or("object");
    let why = evidence.map_or_else(String::new, |e| format!(": {e}"));
    format!(
        "{whose}: {} {} {} ({}){why}",
        p.status, p.kind, p.name, p.stage
    )
}

/// The first requires problem of a class, and how many more there are.
fn requires_text(r: &RequiresKey, class: &Class) -> Option<String> {
    let first = r.problems.first()?;
    let mut t = problem_text(first, class.evidence.first());
    if r.problems.len() > 1 {
        t.push_str(&format!(" (and {} more)", r.problems.len() - 1));
    }
    Some(t)
}

/// What a class's kernels share, in words.
fn class_text(k: &ClassKey, class: &Class) -> String {
    let relocs = format!(
        "{}, {} changed",
        plural(k.relocations, "relocation", "relocations"),
        class.changed
    );
    // Why it fails: the relocations first, then the first other requirement.
    let why = || {
        let mut parts: Vec<String> = k.failures.iter().map(failure_text).collect();
        parts.extend(k.requires.as_ref().and_then(|r| requires_text(r, class)));
        if parts.is_empty() {
            parts.push(
                k.reason
                    .clone()
                    .unwrap_or_else(|| "relocation failed".into()),
            );
        }
        parts.join("; ")
    };
    let unchecked = match k.requires.as_ref().and_then(|r| r.not_checked.as_deref()) {
        Some(n) => format!("; requires not checked: {n}"),
        None => String::new(),
    };
    match k.verdict {
        Verdict::Loads => format!("loads, {relocs}{unchecked}"),
        Verdict::LoadsGuardedPoison => {
            format!(
                "loads (guarded poison), {relocs}, {} poisoned, all guarded{unchecked}",
                class.poisoned
            )
        }
        Verdict::LoadsWithout => {
            let r = k.requires.as_ref();
            let programs = r.map_or(&[][..], |r| &r.without_programs[..]);
            let maps = r.map_or(&[][..], |r| &r.without_maps[..]);
            let mut off = format!(
                "{} {}",
                if programs.len() == 1 {
                    "program"
                } else {
                    "programs"
                },
                programs.join(", ")
            );
            if !maps.is_empty() {
                off.push_str(&format!(
                    " and {} {}",
                    if maps.len() == 1 { "map" } else { "maps" },
                    maps.join(", ")
                ));
            }
            format!("loads without {off}; {}", why())
        }
        Verdict::Fails => format!("fails, {}", why()),
        Verdict::Unknown => format!(
            "unknown: {}",
            k.requires
                .as_ref()
                .and_then(|r| requires_text(r, class))
                .unwrap_or_else(|| "some requirement cannot be told".into())
        ),
        Verdict::Incompatible => format!(
            "incompatible: {} ({relocs})",
            k.reason.as_deref().unwrap_or("cannot run there")
        ),
        Verdict::Unreadable => format!(
            "unreadable: {}",
            k.reason.as_deref().unwrap_or("could not be read")
        ),
    }
}

fn paint(style: Style, v: Verdict, s: &str) -> String {
    match v {
        Verdict::Loads | Verdict::LoadsGuardedPoison => style.ok(s),
        Verdict::Fails | Verdict::Unreadable => style.fail(s),
        Verdict::LoadsWithout | Verdict::Unknown | Verdict::Incompatible => style.warn(s),
    }
}

fn names(ids: &[&KernelId]) -> String {
    let mut s: Vec<String> = ids.iter().take(NAMES_SHOWN).map(|k| qualified(k)).collect();
    if ids.len() > NAMES_SHOWN {
        s.push(format!("and {} more", ids.len() - NAMES_SHOWN));
    }
    s.join(", ")
}

/// A kernel's name, with its distribution, version and architecture when its source tells
/// them (BTFHub holds the same release for several distributions).
fn qualified(k: &KernelId) -> String {
    let mut tags: Vec<&str> = [&k.distro, &k.version]
        .into_iter()
        .filter_map(|t| t.as_deref())
        .collect();
    if tags.is_empty() {
        return k.name();
    }
    tags.extend(k.arch.as_deref());
    format!("{} [{}]", k.name(), tags.join(" "))
}

fn counts_text(c: &Counts) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (c.loads, "loads"),
        (c.guarded, "loads (guarded poison)"),
        (c.without, "loads without some programs"),
        (c.fails, "fails"),
        (c.unknown, "unknown"),
        (c.incompatible, "incompatible"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    format!(
        "{}: {}",
        plural(c.total(), "kernel", "kernels"),
        parts.join(", ")
    )
}

fn write_object(w: &mut impl Write, name: &str, c: &ObjectClasses, style: Style) -> io::Result<()> {
    let readable = c.total.total() - c.total.unreadable;
    let mut head = format!("{name}: {}", plural(readable, "kernel", "kernels"));
    if c.total.unreadable > 0 {
        head.push_str(&format!(
            ", {} unreadable",
            plural(c.total.unreadable, "source", "sources")
        ));
    }
    writeln!(w, "{}", style.bold(&head))?;
    for (key, class, ids) in c.sorted() {
        let text = paint(style, key.verdict, &class_text(key, class));
        if key.verdict == Verdict::Unreadable {
            let reason = key.reason.as_deref().unwrap_or("could not be read");
            writeln!(
                w,
                "  {}: {}",
                plural(ids.len(), "source unreadable", "sources unreadable"),
                style.fail(reason)
            )?;
        } else if ids.len() == 1 {
            writeln!(w, "  1 kernel ({}): {text}", qualified(ids[0]))?;
        } else {
            let traits = common_traits(&ids, c);
            let all = match traits.is_empty() {
                true => String::new(),
                false => format!(" (all {})", traits.join(", ")),
            };
            writeln!(w, "  {} kernels{all}: {text}", ids.len())?;
            writeln!(w, "    {}", style.dim(&names(&ids)))?;
        }
    }
    // One width for the three tables' first columns.
    let width = c
        .by_arch
        .keys()
        .chain(c.by_distro.keys())
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max(12);
    if !c.by_arch.is_empty() {
        writeln!(w, "  by architecture:")?;
        for (arch, counts) in &c.by_arch {
            writeln!(w, "    {arch:<width$} {}", counts_text(counts))?;
        }
    }
    if !c.by_distro.is_empty() {
        writeln!(w, "  by distribution:")?;
        for (d, counts) in &c.by_distro {
            writeln!(w, "    {d:<width$} {}", counts_text(counts))?;
        }
    }
    if c.by_series.len() > 1 {
        writeln!(w, "  by kernel series:")?;
        for (s, counts) in &c.by_series {
            writeln!(w, "    {:<width$} {}", s.to_string(), counts_text(counts))?;
        }
    }
    Ok(())
}

/// The text summary: per object, its classes, then counts per architecture and distribution.
pub fn write_text(
    w: &mut impl Write,
    objects: &[String],
    classes: &Classes,
    style: Style,
) -> io::Result<()> {
    for (i, (name, c)) in objects.iter().zip(&classes.objects).enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        write_object(w, name, c, style)?;
    }
    Ok(())
}

/// A GitHub job summary: a heading, one table row per class.
pub fn write_markdown(w: &mut impl Write, objects: &[String], classes: &Classes) -> io::Result<()> {
    writeln!(
        w,
        "## coretool compat: {}",
        plural(classes.kernels, "kernel source", "kernel sources")
    )?;
    writeln!(w)?;
    markdown::header(
        w,
        &[
            markdown::text("object"),
            markdown::number("kernels"),
            markdown::text("verdict"),
            markdown::text("detail"),
            markdown::text("which"),
        ],
    )?;
    for (name, c) in objects.iter().zip(&classes.objects) {
        for (key, class, ids) in c.sorted() {
            let icon = match key.verdict {
                Verdict::Loads | Verdict::LoadsGuardedPoison => ":white_check_mark:",
                Verdict::Fails => ":x:",
                Verdict::LoadsWithout | Verdict::Incompatible | Verdict::Unreadable => ":warning:",
                Verdict::Unknown => ":grey_question:",
            };
            let text = class_text(key, class);
            // The verdict has its own column: the detail is what follows it.
            let detail = [
                "loads (guarded poison), ",
                "loads, ",
                "loads without ",
                "fails, ",
                "unknown: ",
                "incompatible: ",
                "unreadable: ",
            ]
            .iter()
            .find_map(|p| text.strip_prefix(p))
            .unwrap_or(&text);
            let which = if key.verdict == Verdict::Unreadable {
                ids.iter()
                    .map(|k| format!("`{}`", k.source))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                names(&ids)
            };
            writeln!(
                w,
                "| `{}` | {} | {icon} {} | {} | {} |",
                cell(name),
                ids.len(),
                key.verdict.name(),
                cell(detail),
                cell(&which)
            )?;
        }
    }
    Ok(())
}
