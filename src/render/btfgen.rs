//! `coretool btfgen`'s output: the `coretool.btfgen/v1` JSON Lines records (one per kernel as
//! it finishes, then one summary) and the text table.

use std::io::{self, Write};

use schemars::JsonSchema;
use serde::Serialize;

use coretool::btfgen::{BundleStats, KernelResult, Outcome, SCHEMA};

use super::table;
use super::Style;

/// What happened to one kernel's output, as the command decided it.
#[derive(Debug, Clone)]
pub struct Row {
    pub result: KernelResult,
    /// Where the output went (relative to -o DIR), when it was written.
    pub written: Option<String>,
    /// Where the modules' parts went (relative to -o DIR).
    pub written_modules: Vec<String>,
    /// Why a minimized output was not written after all (a name collision).
    pub not_written: Option<String>,
    /// Bytes of the minimized BTF and of each module's part, kept when the bytes themselves
    /// are let go once written ([`Row::release_output`]).
    pub sizes: (usize, Vec<usize>),
}

impl Row {
    /// A row for `result`, nothing written yet.
    pub fn new(result: KernelResult) -> Row {
        let sizes = match &result.outcome {
            Outcome::Minimized { btf, modules, .. } => {
                (btf.len(), modules.iter().map(|m| m.raw.len()).collect())
            }
            _ => (0, Vec::new()),
        };
        Row {
            result,
            written: None,
            written_modules: Vec::new(),
            not_written: None,
            sizes,
        }
    }

    /// Let go of the output's bytes (written, or not to be): a run over a fleet keeps one
    /// row per kernel for its summary, not every kernel's BTF.
    pub fn release_output(&mut self) {
        if let Outcome::Minimized { btf, modules, .. } = &mut self.result.outcome {
            *btf = Vec::new();
            for m in modules {
                m.raw = Vec::new();
            }
        }
    }

    /// `minimized`, `objects-fail`, `proof-failed`, `unreadable` (the source), `error` (read,
    /// but it could not be relocated or minimized) or `not-written`.
    pub fn status(&self) -> &'static str {
        match &self.result.outcome {
            Outcome::Minimized { .. } if self.not_written.is_some() => "not-written",
            Outcome::Minimized { .. } => "minimized",
            Outcome::ObjectsFail => "objects-fail",
            Outcome::ProofFailed { .. } => "proof-failed",
            Outcome::Error { .. } if self.result.objects.is_empty() => "unreadable",
            Outcome::Error { .. } => "error",
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct Record<'a> {
    schema: &'static str,
    record: &'static str,
    kernel: KernelDoc<'a>,
    status: &'static str,
    /// The output's path under -o DIR (absent when nothing was written there).
    output: Option<&'a str>,
    /// The modules' parts (split BTF on the output), for modules a relocation matched in.
    modules: Vec<ModuleDoc<'a>>,
    size: Option<usize>,
    full_size: Option<usize>,
    types_kept: Option<u32>,
    types_total: Option<u32>,
    objects: Vec<ObjectDoc<'a>>,
    mismatches: Vec<MismatchDoc<'a>>,
    /// Why the kernel was not read, relocated, minimized or written.
    error: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
struct KernelDoc<'a> {
    source: &'a str,
    release: Option<&'a str>,
    arch: Option<&'a str>,
    distro: Option<&'a str>,
    version: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
struct ModuleDoc<'a> {
    name: &'a str,
    size: usize,
    output: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
struct ObjectDoc<'a> {
    object: &'a str,
    relocations: usize,
    loads: bool,
    problems: &'a [String],
}

#[derive(Serialize, JsonSchema)]
struct MismatchDoc<'a> {
    object: &'a str,
    program: &'a str,
    index: usize,
    accessor: &'a str,
    what: &'a str,
    full: &'a str,
    minimized: &'a str,
}

/// A line of `btfgen --json`: a kernel's record, or the closing summary (for the schema; each
/// is written on its own).
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum BtfgenJson<'a> {
    Kernel(&'a Record<'a>),
    Summary(&'a Summary),
}

/// The last record: totals, and the bundle's figures.
#[derive(Serialize, JsonSchema)]
pub struct Summary {
    pub schema: &'static str,
    pub record: &'static str,
    pub kernels: usize,
    pub minimized: usize,
    pub not_written: usize,
    pub relocations_proven: usize,
    /// Sum of the written outputs' raw sizes, and of the full BTFs they came from.
    pub output_bytes: u64,
    pub full_bytes: u64,
    pub bundle: Option<BundleStats>,
}

impl Summary {
    pub fn of(rows: &[Row], bundle: Option<BundleStats>) -> Self {
        let mut s = Summary {
            schema: SCHEMA,
            record: "summary",
            kernels: rows.len(),
            minimized: 0,
            not_written: 0,
            relocations_proven: 0,
            output_bytes: 0,
            full_bytes: 0,
            bundle,
        };
        for r in rows {
            match &r.result.outcome {
                Outcome::Minimized { full_size, .. } if r.not_written.is_none() => {
                    s.minimized += 1;
                    s.output_bytes += r.sizes.0 as u64;
                    s.output_bytes += r.sizes.1.iter().map(|&n| n as u64).sum::<u64>();
                    s.full_bytes += *full_size as u64;
                    s.relocations_proven += r
                        .result
                        .objects
                        .iter()
                        .map(|o| o.relocations)
                        .sum::<usize>();
                }
                _ => s.not_written += 1,
            }
        }
        s
    }
}

/// One kernel's record.
pub fn write_record(w: &mut impl Write, names: &[String], row: &Row) -> io::Result<()> {
    let k = &row.result;
    let (size, full_size, kept, total) = match &k.outcome {
        Outcome::Minimized {
            full_size,
            types_kept,
            types_total,
            ..
        } => (
            Some(row.sizes.0),
            Some(*full_size),
            Some(*types_kept),
            Some(*types_total),
        ),
        _ => (None, None, None, None),
    };
    let mismatches = match &k.outcome {
        Outcome::ProofFailed { mismatches } => mismatches
            .iter()
            .flat_map(|(o, ms)| {
                ms.iter().map(move |m| MismatchDoc {
                    object: &names[*o],
                    program: &m.program,
                    index: m.index,
                    accessor: &m.accessor,
                    what: m.what,
                    full: &m.full,
                    minimized: &m.minimized,
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    let error = match &k.outcome {
        Outcome::Error { reason } => Some(reason.as_str()),
        _ => row.not_written.as_deref(),
    };
    let rec = Record {
        schema: SCHEMA,
        record: "kernel",
        kernel: KernelDoc {
            source: &k.id.source,
            release: k.id.release.as_deref(),
            arch: k.id.arch.as_deref(),
            distro: k.id.distro.as_deref(),
            version: k.id.version.as_deref(),
        },
        status: row.status(),
        output: row.written.as_deref(),
        modules: match &k.outcome {
            Outcome::Minimized { modules, .. } => modules
                .iter()
                .enumerate()
                .map(|(i, m)| ModuleDoc {
                    name: &m.name,
                    size: row.sizes.1.get(i).copied().unwrap_or(0),
                    output: row.written_modules.get(i).map(String::as_str),
                })
                .collect(),
            _ => Vec::new(),
        },
        size,
        full_size,
        types_kept: kept,
        types_total: total,
        objects: k
            .objects
            .iter()
            .map(|o| ObjectDoc {
                object: &names[o.object],
                relocations: o.relocations,
                loads: o.loads,
                problems: &o.problems,
            })
            .collect(),
        mismatches,
        error,
    };
    serde_json::to_writer(&mut *w, &BtfgenJson::Kernel(&rec))?;
    w.write_all(b"\n")
}

/// `31.2 KiB`.
pub fn size(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// The text report: one row per kernel (input order), the problems under it, then totals.
pub fn write_text(
    w: &mut impl Write,
    names: &[String],
    rows: &[Row],
    summary: &Summary,
    style: Style,
) -> io::Result<()> {
    let mut t = table::new(&["KERNEL", "STATUS", "TYPES", "SIZE", "OUTPUT"]);
    let mut notes = Vec::new();
    for r in rows {
        let k = &r.result;
        let name = k.id.name();
        let status = match r.status() {
            "minimized" => style.ok("minimized"),
            s => style.fail(s),
        };
        let (types, sz) = match &k.outcome {
            Outcome::Minimized {
                full_size,
                types_kept,
                types_total,
                ..
            } => (
                format!("{types_kept}/{types_total}"),
                format!("{} of {}", size(r.sizes.0 as u64), size(*full_size as u64)),
            ),
            _ => (String::from("-"), String::from("-")),
        };
        let mut output = r.written.clone().unwrap_or_else(|| "-".into());
        if let Outcome::Minimized { modules, .. } = &k.outcome {
            if !modules.is_empty() {
                let names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
                output.push_str(&format!(" + modules: {}", names.join(", ")));
            }
        }
        t.add_row(vec![name.clone(), status, types, sz, output]);
        for o in &k.objects {
            for p in &o.problems {
                notes.push(format!("{name}: {}: {p}", names[o.object]));
            }
        }
        match &k.outcome {
            Outcome::ProofFailed { mismatches } => {
                for (o, ms) in mismatches {
                    for m in ms {
                        notes.push(format!(
                            "{name}: {}: {} relo #{} {}: {} differs: full BTF {}, minimized {}",
                            names[*o], m.program, m.index, m.accessor, m.what, m.full, m.minimized
                        ));
                    }
                }
            }
            Outcome::Error { reason } => notes.push(reason.clone()),
            _ => {}
        }
        if let Some(why) = &r.not_written {
            notes.push(format!("{name}: {why}"));
        }
    }
    w.write_all(table::render(&t).as_bytes())?;
    if !notes.is_empty() {
        writeln!(w)?;
        for n in notes {
            writeln!(w, "{n}")?;
        }
    }
    writeln!(w)?;
    writeln!(
        w,
        "{} of {} kernels minimized and proven ({} relocations give the same result as against \
         the full BTF); {} not written",
        summary.minimized, summary.kernels, summary.relocations_proven, summary.not_written
    )?;
    if summary.minimized > 0 {
        writeln!(
            w,
            "outputs: {} in all, from {} of full BTF",
            size(summary.output_bytes),
            size(summary.full_bytes)
        )?;
    }
    if let Some(b) = &summary.bundle {
        writeln!(
            w,
            "bundle: {} kernels, {} distinct outputs, {} (per-file outputs: {})",
            b.kernels,
            b.members,
            size(b.bundle_size),
            size(b.raw_total)
        )?;
    }
    Ok(())
}
