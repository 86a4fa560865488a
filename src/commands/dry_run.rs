//! `coretool dry-run OBJ [--btf SRC]... [--load] [--offline]`: libbpf's CO-RE fixups, per field,
//! against one kernel or a matrix of kernels.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::{Attribute, Cell, Color};

use coretool::dryrun::{self as run, report, Mode, RunError, Target, TargetReport};
use coretool::error::{InputError, NeedsPrivilege};
use coretool::reloc::{Fixup, Object, Status};
use coretool::requires::{self, Names};
use coretool::source::{self, read_file, BtfSource};

use super::GlobalOpts;
use crate::exit::{EXIT_OK, EXIT_PROBLEMS};
use crate::output;
use crate::render::{self, table, Style};

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Show what libbpf's CO-RE relocation does to OBJ on a kernel: for every relocation \
the value the object carries, the value libbpf patches in, and whether the instruction was \
poisoned. With several --btf, a matrix with one column per kernel.\n\n\
As root, libbpf itself relocates the object (bpf_object__prepare, maps not created, nothing \
loaded; nothing stays in the kernel). Unprivileged, or with --offline, libbpf's relocation \
calculator runs without a kernel and gives the same answers."
)]
pub struct DryRunArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    #[command(flatten)]
    pub verbose: super::VerboseOpt,
    /// The BPF object (.bpf.o)
    #[arg(value_name = "OBJ")]
    pub object: PathBuf,
    /// Kernel BTF to relocate against (repeat for a matrix): raw BTF, an ELF with .BTF, a
    /// vmlinuz/bzImage, or a BTFHub .btf.tar.xz [default: the running kernel]
    #[arg(long, value_name = "SRC")]
    pub btf: Vec<PathBuf>,
    /// Also load every program into the running kernel (the verifier runs), then unload it.
    /// Only for the running kernel: with a --btf that is not its BTF, an error. Maps whose
    /// max_entries the object leaves to its loader (0) are created with 1 entry (one page for a
    /// ring buffer), and the output says so (-v also prints libbpf's log)
    #[arg(long, conflicts_with = "offline")]
    pub load: bool,
    /// With --load: load only this program, as a loader that autoloads a subset does (repeat
    /// for several)
    #[arg(long = "program", value_name = "NAME", requires = "load")]
    pub programs: Vec<String>,
    /// Compute the relocations without a kernel (automatic without root or without bpf())
    #[arg(long)]
    pub offline: bool,
    /// Output format (--json is `--format json`)
    #[arg(long, value_enum, value_name = "FMT")]
    pub format: Option<Format>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One table per program (one kernel) or a matrix with one column per kernel
    Text,
    /// coretool.dry-run/v2 (docs/schemas/dry-run.json)
    Json,
    /// A GitHub job summary: one row per kernel, then the relocations that keep the object
    /// from loading, with their source lines
    Markdown,
}

pub const AFTER_HELP: &str = "\
Status of a relocation: patched (value changed), same, absent (an existence check answered 0),
poisoned (no match: libbpf replaced the instruction with an invalid call; harmless only when
the instruction is dead code, which dry-run checks by propagating the relocated constants
through the branches, or with --load by the verifier), error (libbpf refuses the object),
not-run (libbpf stopped at an earlier error).

An object libbpf refuses to open (libbpf's reason is shown) fails on every kernel; one of the
other byte order than a kernel's BTF cannot load there (the values are still shown).

Exit status:
  0  every kernel relocates the object and no poisoned instruction is reachable
  1  some kernel fails: a relocation error, a reachable poisoned instruction, an object libbpf
     refuses to open or of the other byte order, or a verifier rejection under --load
  2  coretool could not run (bad object or BTF, missing file, --load without root or with a
     --btf that is not the running kernel, --program naming no program of the object)

Examples:
  coretool dry-run prog.bpf.o
  coretool dry-run prog.bpf.o --btf vmlinuz-5.10.0-46-amd64 --btf vmlinuz-6.12.117+deb12-amd64
  coretool dry-run prog.bpf.o --load --program handle_exec
  coretool dry-run prog.bpf.o --btf vmlinuz-5.10.0-46-amd64 --format markdown >> \"$GITHUB_STEP_SUMMARY\"";

pub fn run(args: DryRunArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    // Check every input before printing anything.
    let data = read_file(&args.object)?;
    let obj = Object::parse(&args.object, data)
        .map_err(|e| InputError::invalid(&args.object, e.to_string()))?;
    let default_kernel = args.btf.is_empty();
    let sources: Vec<BtfSource> = if default_kernel {
        vec![source::load(None, None)?]
    } else {
        args.btf
            .iter()
            .map(|p| source::load(Some(p), None))
            .collect::<Result<_, _>>()?
    };
    let root = coretool::host::is_root();
    if args.load && !root {
        return Err(NeedsPrivilege {
            what: "--load loads programs into the kernel".into(),
            advice: "run as root, or drop --load for the offline computation".into(),
        }
        .into());
    }
    // The verifier checks a program against the kernel it runs in: --load means this kernel.
    if args.load {
        if let Some(other) = sources
            .iter()
            .find(|s| !default_kernel && !run::engine::is_running_kernel(s))
        {
            return Err(InputError::invalid(
                &other.path,
                format!(
                    "--load loads into the running kernel, and this is not its BTF (not {} nor \
                     a copy of it): the verifier would check the programs against another \
                     kernel than the one relocated for; drop --load, or use --btf {} or no --btf",
                    source::SYSFS_VMLINUX,
                    source::SYSFS_VMLINUX
                ),
            )
            .into());
        }
    }
    let mut mode = if args.offline || !root {
        Mode::Offline
    } else {
        Mode::Libbpf
    };
    let mut reports = Vec::new();
    for src in &sources {
        let target = Target {
            btf: src,
            default_kernel,
        };
        let load = args.load.then_some(args.programs.as_slice());
        let report = match run::run_with(&obj, &target, mode, load) {
            // Root without bpf() (a user namespace, a container): unprivileged in effect, so
            // compute offline as for any unprivileged user, unless --load asked for the kernel.
            Err(RunError::NoBpf { detail }) if reports.is_empty() && !args.load => {
                eprintln!("coretool: note: bpf() refused ({detail}): computing offline");
                mode = Mode::Offline;
                run::run(&obj, &target, mode, false)?
            }
            r => r?,
        };
        reports.push(report);
    }
    let load = args.load.then_some(args.programs.as_slice());
    let requires = requires_half(&obj, &sources, &reports, mode, load);
    let format = match (args.format, g.json) {
        (Some(f), _) => f,
        (None, true) => Format::Json,
        (None, false) => Format::Text,
    };
    if format == Format::Json {
        let doc = report::Document::new(&obj, mode, &reports, requires, g.verbose > 0);
        output::print_json(&doc)?;
        return Ok(exit_code(&doc));
    } else if format == Format::Markdown {
        let doc = report::Document::new(&obj, mode, &reports, requires, false);
        let mut out = output::stdout();
        render::dry_run::write_markdown(&mut out, &doc, &target_labels(&reports))?;
        out.flush()?;
        return Ok(exit_code(&doc));
    }
    let doc = report::Document::new(&obj, mode, &reports, requires, false);
    {
        let style = Style::new(g.color.enabled());
        let mut out = output::stdout();
        if reports.len() == 1 {
            write_single(&mut out, &obj, &reports[0], &doc.targets[0], style)?;
        } else {
            write_matrix(&mut out, &obj, &reports, &doc.targets, style)?;
        }
        if g.verbose > 0 {
            for r in &reports {
                writeln!(out, "\nlibbpf log for {}:", r.source)?;
                out.write_all(r.log.as_bytes())?;
            }
        }
        out.flush()?;
    }
    Ok(exit_code(&doc))
}

/// 1 when the object does not load as it is on some kernel (`loads-without` included, as
/// `coretool requires` counts it; `unknown` is not a failure).
fn exit_code(doc: &report::Document) -> ExitCode {
    let problems = doc
        .targets
        .iter()
        .any(|t| matches!(t.verdict.as_str(), "fails" | "loads-without"));
    ExitCode::from(if problems { EXIT_PROBLEMS } else { EXIT_OK })
}

/// The requires half of each target's verdict: what the object needs, read once, checked
/// against what each kernel offers (its BTF, the config next to it; for the running kernel
/// relocated by libbpf itself, also the live probes `coretool requires` runs), the
/// relocations weighed in per program. Under `--load --program NAME`, only the programs named
/// load, as for a loader that turns the others' autoload off.
fn requires_half(
    obj: &Object,
    sources: &[BtfSource],
    reports: &[TargetReport],
    mode: Mode,
    load: Option<&[String]>,
) -> Vec<report::RequiresDoc> {
    let mut needs = requires::needs(obj);
    if let (Ok(needs), Some(names)) = (&mut needs, load.filter(|n| !n.is_empty())) {
        for p in &mut needs.programs {
            p.autoload = names.contains(&p.name);
        }
    }
    sources
        .iter()
        .zip(reports)
        .map(|(src, r)| {
            let needs = match &needs {
                Ok(n) => n,
                Err(e) => {
                    let why = format!("{}: {e}", obj.path.display());
                    return report::RequiresDoc::not_checked(&why);
                }
            };
            let name = r.release.clone().unwrap_or_else(|| r.source.clone());
            let live = mode == Mode::Libbpf;
            let offers = requires::offers::of_source(
                &src.path,
                &name,
                &src.btf,
                r.release.as_deref(),
                needs.uses_kfuncs(),
                live,
                requires::offers::wanted_funcs([needs]),
            );
            if offers.prog_types.is_empty() {
                return report::RequiresDoc::not_checked(
                    "no enum bpf_prog_type in the kernel's BTF (not a vmlinux BTF)",
                );
            }
            let mut names = Names::default();
            names.learn(&needs.helper_names);
            names.learn(&offers.helpers);
            names.learn(&requires::helpers::known());
            let core = requires::core::requirements(needs, r);
            let checked = requires::check_needs_with(needs, &offers, &names, &core);
            render::requires::requires_doc(&checked)
        })
        .collect()
}

/// One column label per target, all different: the kernel release when the source tells it,
/// else the file name. Where two would be equal, the shortest path suffix (in components) that
/// no other of them ends with (`a/vmlinux`, `b/vmlinux`), after the release when there is one;
/// the same file given twice also gets its position (`vmlinux #2`).
fn target_labels(reports: &[TargetReport]) -> Vec<String> {
    let paths: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            std::path::Path::new(&r.source)
                .components()
                .filter(|c| {
                    matches!(
                        c,
                        std::path::Component::Normal(_) | std::path::Component::ParentDir
                    )
                })
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .collect();
    let base: Vec<String> = reports
        .iter()
        .zip(&paths)
        .map(|(r, p)| {
            r.release
                .clone()
                .or_else(|| p.last().cloned())
                .unwrap_or_else(|| r.source.clone())
        })
        .collect();
    let suffix = |p: &[String], k: usize| p[p.len().saturating_sub(k)..].join("/");
    (0..reports.len())
        .map(|i| {
            let clash: Vec<usize> = (0..reports.len())
                .filter(|&j| j != i && base[j] == base[i])
                .collect();
            if clash.is_empty() {
                return base[i].clone();
            }
            let mine = &paths[i];
            let others: Vec<usize> = clash
                .iter()
                .copied()
                .filter(|&j| paths[j] != *mine)
                .collect();
            let mut tail = (1..=mine.len())
                .map(|k| suffix(mine, k))
                .find(|s| {
                    let k = s.split('/').count();
                    others.iter().all(|&j| suffix(&paths[j], k) != *s)
                })
                .unwrap_or_else(|| suffix(mine, mine.len()));
            if others.len() < clash.len() {
                tail = format!("{tail} #{}", i + 1);
            }
            match &reports[i].release {
                Some(rel) => format!("{rel} ({tail})"),
                None => tail,
            }
        })
        .collect()
}

fn value_text(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// The status cell, with the reachability of a poisoned instruction.
fn status_text(f: &Fixup) -> String {
    match (f.status, f.reachable) {
        (Status::Poisoned, Some(false)) => "poisoned (dead code)".into(),
        (Status::Poisoned, Some(true)) => "poisoned (REACHABLE)".into(),
        (Status::Poisoned, None) => "poisoned (reachable?)".into(),
        (s, _) => s.name().into(),
    }
}

/// A table cell coloured by the fixup's status (comfy-table pads before colouring, so
/// columns stay aligned).
fn status_cell(style: Style, f: &Fixup, text: String) -> Cell {
    let cell = Cell::new(text);
    if !style.color {
        return cell;
    }
    match f.status {
        Status::Patched => cell.fg(Color::Yellow),
        Status::Same | Status::Absent => cell,
        Status::Poisoned if f.reachable == Some(false) => cell.fg(Color::Yellow),
        Status::Poisoned | Status::Error => cell.fg(Color::Red),
        Status::NotRun => cell.add_attribute(Attribute::Dim),
    }
}

/// `target` column text: the patched value, plus a changed load size.
fn target_text(f: &Fixup) -> String {
    match (f.status, f.target, f.mem_sz) {
        (Status::Poisoned, ..) => "POISON".into(),
        (Status::Error, ..) => "ERROR".into(),
        (_, Some(t), Some((_, sz))) => format!("{t} (mem_sz {sz})"),
        (_, t, _) => value_text(t),
    }
}

fn programs(r: &TargetReport) -> Vec<(&str, &str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for f in &r.result.fixups {
        if !out.iter().any(|(p, _)| *p == f.program) {
            out.push((&f.program, &f.section));
        }
    }
    out
}

fn write_single(
    out: &mut impl Write,
    obj: &Object,
    r: &TargetReport,
    doc: &report::TargetDoc,
    style: Style,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} on {} ({}{}): {} relocation{}",
        style.bold(&obj.path.display().to_string()),
        r.source,
        r.release.as_deref().unwrap_or("release unknown"),
        match r.mode {
            Mode::Libbpf => ", libbpf prepare",
            Mode::Offline => ", offline",
        },
        r.result.fixups.len(),
        if r.result.fixups.len() == 1 { "" } else { "s" }
    )?;
    for (prog, sec) in programs(r) {
        writeln!(out)?;
        writeln!(out, "program {} (section {})", style.bold(prog), sec)?;
        let mut t = table::new(&[
            "#", "insn", "kind", "accessor", "local", "target", "status", "source",
        ]);
        if style.color {
            t.enforce_styling();
        }
        for f in r.result.fixups.iter().filter(|f| f.program == prog) {
            t.add_row(vec![
                Cell::new(f.index),
                Cell::new(f.insn),
                Cell::new(f.kind.name()),
                Cell::new(&f.accessor),
                Cell::new(value_text(f.local)),
                Cell::new(target_text(f)),
                status_cell(style, f, status_text(f)),
                Cell::new(f.source.clone().unwrap_or_default()),
            ]);
        }
        table::align_right(&mut t, &[0, 1, 4, 5]);
        out.write_all(table::render(&t).as_bytes())?;
    }
    writeln!(out)?;
    write_verdict(out, r, doc, style, None)?;
    Ok(())
}

/// `summary: ...` and the load verdict lines for one target.
fn write_verdict(
    out: &mut impl Write,
    r: &TargetReport,
    doc: &report::TargetDoc,
    style: Style,
    label: Option<(&str, usize)>,
) -> std::io::Result<()> {
    let s = r.result.summary();
    let prefix = match label {
        Some((l, w)) => format!("{l:<w$}  "),
        None => String::new(),
    };
    let verdict = match doc.verdict.as_str() {
        "loads" => style.ok("loads"),
        "fails" => style.fail("fails"),
        v => style.warn(v),
    };
    let mut why = Vec::new();
    if let Some(e) = &r.refused {
        why.push(e.clone());
    }
    if let Some(e) = &r.prepare_error {
        why.push(format!("libbpf: {e}"));
    }
    let has_error = r.result.fixups.iter().any(|f| f.status == Status::Error);
    if let (Some(e), false, None) = (&r.result.failure, has_error, &r.refused) {
        // Relocation stopped without a relocation to blame: libbpf's reason is all there is.
        why.push(format!("libbpf: {e}"));
    }
    for f in r.result.fixups.iter().filter(|f| f.status == Status::Error) {
        why.push(format!(
            "relo #{} of {} ({} {}): {}",
            f.index,
            f.program,
            f.kind.name(),
            f.accessor,
            f.error.as_deref().unwrap_or("error")
        ));
    }
    if let Some(loads) = &r.loads {
        for l in loads.iter().filter(|l| !l.loaded) {
            let mut s = format!(
                "{} did not load: {}",
                l.program,
                l.error.as_deref().unwrap_or("error")
            );
            if let Some(p) = &l.poison {
                s.push_str(&format!(
                    "; reached poisoned insn #{}{}{}",
                    p.insn,
                    l.relocation
                        .map(|i| format!(" (relo #{i})"))
                        .unwrap_or_default(),
                    p.source
                        .as_ref()
                        .map(|s| format!(" at {s}"))
                        .unwrap_or_default()
                ));
            }
            why.push(s);
        }
    } else {
        for f in r.result.fixups.iter().filter(|f| f.reachable_poison()) {
            why.push(format!(
                "relo #{} of {} ({} {}) poisons insn #{} and nothing guards it{}",
                f.index,
                f.program,
                f.kind.name(),
                f.accessor,
                f.insn,
                f.source
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            ));
        }
    }
    let guarded = s.poisoned - s.reachable_poison;
    writeln!(
        out,
        "{prefix}{verdict}: {} relocations, {} changed, {} poisoned ({} guarded, {} reachable){}",
        s.relocations,
        s.changed,
        s.poisoned,
        guarded,
        s.reachable_poison,
        match &r.loads {
            Some(_) => ", verifier checked",
            None => "",
        }
    )?;
    if let Some(loads) = &r.loads {
        let skipped: Vec<&str> = programs(r)
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| !loads.iter().any(|l| l.program == *p))
            .collect();
        if !skipped.is_empty() {
            why.push(format!(
                "note: not loaded (not named by --program), so not part of the verdict: {}",
                skipped.join(", ")
            ));
        }
    }
    for m in &r.sized_maps {
        why.push(format!(
            "note: map '{}' has max_entries 0 (its loader sets the size at run time): created \
             with max_entries {} for the load test",
            m.name, m.max_entries
        ));
    }
    why.extend(requires_lines(&doc.requires));
    for w in why {
        writeln!(out, "{}  {}", " ".repeat(prefix.len()), w)?;
    }
    Ok(())
}

/// The requires half under a verdict line: the programs the loader has to turn off, then
/// every requirement missing or unknown with its evidence, as `coretool requires` says them.
fn requires_lines(q: &report::RequiresDoc) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(why) = &q.reason {
        out.push(format!("requires not checked: {why}"));
    }
    if q.verdict == "loads-without" {
        let mut off = format!(
            "loads if the loader turns off program{} {}",
            if q.without_programs.len() == 1 {
                ""
            } else {
                "s"
            },
            q.without_programs.join(", ")
        );
        if !q.without_maps.is_empty() {
            off.push_str(&format!(" and maps {}", q.without_maps.join(", ")));
        }
        out.push(off);
    }
    for p in &q.requirements {
        out.push(format!(
            "{}: {} {} {} ({}): {}",
            p.program.as_deref().unwrap_or("object"),
            p.status,
            p.kind,
            p.name,
            p.stage,
            p.evidence
        ));
    }
    out
}

fn write_matrix(
    out: &mut impl Write,
    obj: &Object,
    reports: &[TargetReport],
    docs: &[report::TargetDoc],
    style: Style,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} relocations on {} kernels ({})",
        style.bold(&obj.path.display().to_string()),
        reports[0].result.fixups.len(),
        reports.len(),
        reports[0].mode.name()
    )?;
    writeln!(out)?;
    let labels = target_labels(reports);
    let mut header = vec!["program", "#", "kind", "accessor", "local"];
    header.extend(labels.iter().map(String::as_str));
    let mut t = table::new(&header);
    if style.color {
        t.enforce_styling();
    }
    for (i, f) in reports[0].result.fixups.iter().enumerate() {
        let mut row = vec![
            Cell::new(&f.program),
            Cell::new(f.index),
            Cell::new(f.kind.name()),
            Cell::new(&f.accessor),
            Cell::new(value_text(f.local)),
        ];
        for r in reports {
            let Some(g) = r.result.fixups.get(i) else {
                row.push(Cell::new("-"));
                continue;
            };
            let cell = match (g.status, g.reachable) {
                (Status::Poisoned, Some(false)) => "poison (dead)".to_string(),
                (Status::Poisoned, _) => "POISON".to_string(),
                (Status::Error, _) => "ERROR".to_string(),
                (Status::NotRun, _) => "-".to_string(),
                _ => target_text(g),
            };
            let cell = match g.status {
                Status::Patched => format!("*{cell}"),
                _ => cell,
            };
            row.push(status_cell(style, g, cell));
        }
        t.add_row(row);
    }
    let right: Vec<usize> = (4..header.len()).chain([1]).collect();
    table::align_right(&mut t, &right);
    out.write_all(table::render(&t).as_bytes())?;
    writeln!(out, "(* = libbpf changes the value on that kernel)")?;
    writeln!(out)?;
    let width = labels.iter().map(String::len).max().unwrap_or(0);
    for ((r, d), l) in reports.iter().zip(docs).zip(&labels) {
        write_verdict(out, r, d, style, Some((l, width)))?;
    }
    Ok(())
}
