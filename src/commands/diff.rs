//! `coretool diff --btf OLD --btf NEW [TYPE...] [--for OBJ...]`, and `--history TYPE.MEMBER`
//! over any number of kernels: the semantic type diff of `coretool::diff`, read through the
//! same kernel reader (and BTF cache) as `compat`, scoped to an object with the offline
//! relocation engine's verdicts.
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use coretool::compat;
use coretool::diff::{self, Index, Selection};
use coretool::dryrun::{self as run, Mode, Target};
use coretool::error::InputError;
use coretool::reloc::Object;
use coretool::source::read_file;

use super::GlobalOpts;
use crate::exit::{EXIT_OK, EXIT_PROBLEMS};
use crate::output;
use crate::render::diff::{self as view, Document, HistoryDoc, KernelDoc};
use crate::render::Style;

#[derive(Debug, clap::Args)]
#[command(
    long_about = "What changed between two kernels' types, by name and meaning: members added, \
removed, probably renamed, moved or retyped (an insertion is reported once, with the shift it \
causes, not as a move of every member after it), sizes, enum values, typedef targets and \
function prototypes.\n\n\
With --for OBJ, only what the object reaches: the members, types and enum values of its CO-RE \
relocations and the functions and tracepoints its programs attach to, each with the \
relocations that reach it (relocated offline against both kernels: the consequence on NEW is \
libbpf's, not a guess) and a suggested CO-RE fix where the pattern is known.\n\n\
With --history TYPE.MEMBER, one member's story over any number of kernels."
)]
pub struct DiffArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    /// Kernel BTF, OLD then NEW (any number with --history): raw BTF, an ELF with .BTF
    /// (vmlinux, a .bpf.o), a vmlinuz/bzImage or arm64/riscv64 Image, a kernel .deb, a BTFHub
    /// .btf.tar.xz, or a directory of those
    #[arg(long, value_name = "SRC", required = true)]
    pub btf: Vec<PathBuf>,
    /// Compare only these types (struct, union, enum, typedef or function names); with --for,
    /// show only the items in these types
    #[arg(value_name = "TYPE", conflicts_with = "history")]
    pub types: Vec<String>,
    /// Only what this BPF object reaches (repeat for several objects)
    #[arg(long = "for", value_name = "OBJ", conflicts_with = "history")]
    pub objects: Vec<PathBuf>,
    /// One member's story over every --btf kernel: TYPE.MEMBER (`task_struct.state`)
    #[arg(long, value_name = "TYPE.MEMBER")]
    pub history: Option<String>,
    /// With --history: the kernels in the order given instead of sorted by release
    #[arg(long, requires = "history")]
    pub as_given: bool,
    #[command(flatten)]
    pub cache: super::CacheOpts,
}

pub const AFTER_HELP: &str = "\
Markers: + added, - removed, ~ probably renamed (same place and width, same type or a name
containing the old one), ! retyped, resized or renumbered, * moved (not by a shift),
> shifted (everything from a member on moved by the same amount; reported once).

Exit status:
  0  nothing changed (with --for: nothing the objects reach)
  1  something did
  2  coretool could not run (bad or missing --btf or --for input, a TYPE in neither kernel,
     not exactly two kernels without --history)

Examples:
  coretool diff --btf vmlinuz-6.1.0-57-amd64 --btf vmlinuz-6.12.117+deb12-amd64 task_struct
  coretool diff --btf vmlinuz-5.10.0-46-amd64 --btf vmlinuz-6.12.117+deb12-amd64 --for prog.bpf.o
  coretool diff --history task_struct.state --btf ~/.cache/coretool/kernels";

/// One kernel read.
struct Kernel {
    label: String,
    doc: KernelDoc,
    src: coretool::source::BtfSource,
}

fn read_kernels(args: &DiffArgs) -> anyhow::Result<Vec<Kernel>> {
    let cache = args.cache.open();
    let mut out = Vec::new();
    // Unwrapping a vmlinuz takes seconds: say which, on a terminal only.
    let progress = std::io::stderr().is_terminal();
    let mut inputs = Vec::new();
    for src in &args.btf {
        let found = compat::expand(std::slice::from_ref(src));
        if found.is_empty() {
            bail!(
                "{}: a directory with no kernel in it (no *.btf, vmlinuz-*, vmlinux-*, \
                 linux-image-*.deb...)",
                src.display()
            );
        }
        inputs.extend(found);
    }
    for input in inputs {
        let input = input.map_err(|u| anyhow::anyhow!("{}", u.reason))?;
        if progress {
            eprint!("\r\x1b[Kreading {}", input.path.display());
        }
        let read = compat::sources::read(&input, cache.as_ref());
        if progress {
            eprint!("\r\x1b[K");
        }
        let k = read.map_err(anyhow::Error::msg)?;
        let source = input.path.display().to_string();
        let release = k.id.release.clone().or_else(|| k.btf.named_release());
        let label = release.clone().unwrap_or_else(|| {
            input
                .path
                .file_name()
                .map_or(source.clone(), |n| n.to_string_lossy().into_owned())
        });
        out.push(Kernel {
            label,
            doc: KernelDoc { source, release },
            src: k.btf,
        });
    }
    if out.is_empty() {
        bail!(
            "{}: no kernel found there",
            args.btf
                .first()
                .map_or(String::new(), |p| p.display().to_string())
        );
    }
    // The cache stays within --cache-max, as after compat and btfgen.
    if let Some(cache) = &cache {
        cache.trim();
    }
    Ok(out)
}

pub fn run(mut args: DiffArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    // `struct task_struct` names `task_struct` (every class is looked up anyway).
    for t in &mut args.types {
        if let Some((kw, name)) = t.split_once(' ') {
            if ["struct", "union", "enum", "typedef", "func"].contains(&kw) {
                *t = name.trim().to_owned();
            }
        }
    }
    // Every input is read and checked before anything is printed.
    let objects: Vec<Object> = args
        .objects
        .iter()
        .map(|p| {
            let data = read_file(p)?;
            Object::parse(p, data).map_err(|e| InputError::invalid(p, e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    if let Some(h) = &args.history {
        return history(&args, h, g);
    }
    let kernels = read_kernels(&args)?;
    if kernels.len() != 2 {
        bail!(
            "diff compares two kernels, OLD and NEW: the --btf sources hold {} ({}); \
             give exactly two, or use --history",
            kernels.len(),
            kernels
                .iter()
                .map(|k| k.doc.source.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let (old_k, new_k) = (&kernels[0], &kernels[1]);
    let (old, new) = (Index::new(&old_k.src.btf), Index::new(&new_k.src.btf));
    for t in &args.types {
        if old.classes_of(t).is_empty() && new.classes_of(t).is_empty() {
            bail!(
                "{t}: no type or function of that name in {} nor in {}",
                old_k.doc.source,
                new_k.doc.source
            );
        }
    }
    let style = Style::new(g.color.enabled());
    let kernel_docs = vec![old_k.doc.clone(), new_k.doc.clone()];
    if objects.is_empty() {
        let selection = if args.types.is_empty() {
            Selection::All
        } else {
            Selection::Names(args.types.clone())
        };
        let d = diff::diff(&old, &new, &selection);
        let changed = d.changed();
        if g.json {
            output::print_json(&Document {
                schema: view::SCHEMA,
                kernels: kernel_docs,
                changed,
                diff: Some(&d),
                objects: None,
                history: None,
            })?;
        } else {
            let mut out = output::stdout();
            view::write_diff(&mut out, style, &old_k.label, &new_k.label, &d)?;
            out.flush()?;
        }
        return Ok(exit(changed));
    }
    let mut scoped = Vec::new();
    for obj in &objects {
        let relocate = |k: &Kernel| -> anyhow::Result<Vec<coretool::reloc::Fixup>> {
            let target = Target {
                btf: &k.src,
                default_kernel: false,
            };
            let r = run::run(obj, &target, Mode::Offline, false)
                .with_context(|| format!("relocating {} offline", obj.path.display()))?;
            Ok(r.result.fixups)
        };
        let (of, nf) = (relocate(old_k)?, relocate(new_k)?);
        let mut s = diff::scope(obj, &old, &new, &of, &nf, &diff::attach_targets(obj));
        if !args.types.is_empty() {
            s.touches.retain(|t| {
                let owner = match &t.touched {
                    diff::Touched::Member { parent, .. } => parent,
                    diff::Touched::Type { name, .. }
                    | diff::Touched::Func { name }
                    | diff::Touched::Tracepoint { name } => name,
                    diff::Touched::EnumValue { enum_name, .. } => enum_name,
                };
                args.types.contains(owner)
            });
        }
        scoped.push(s);
    }
    let changed = scoped.iter().any(|s| s.changed());
    if g.json {
        output::print_json(&Document {
            schema: view::SCHEMA,
            kernels: kernel_docs,
            changed,
            diff: None,
            objects: Some(&scoped),
            history: None,
        })?;
    } else {
        let mut out = output::stdout();
        for (i, s) in scoped.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            view::write_scoped(&mut out, style, &old_k.label, &new_k.label, s)?;
        }
        out.flush()?;
    }
    Ok(exit(changed))
}

fn exit(changed: bool) -> ExitCode {
    ExitCode::from(if changed { EXIT_PROBLEMS } else { EXIT_OK })
}

fn history(args: &DiffArgs, what: &str, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let Some((ty, member)) = what
        .split_once('.')
        .filter(|(t, m)| !t.is_empty() && !m.is_empty())
    else {
        bail!("--history {what}: expected TYPE.MEMBER, as in task_struct.state");
    };
    let mut kernels = read_kernels(args)?;
    if !args.as_given && kernels.iter().all(|k| k.doc.release.is_some()) {
        kernels.sort_by_cached_key(|k| diff::release_key(k.doc.release.as_deref().unwrap_or("")));
    }
    let indexes: Vec<Index<'_>> = kernels.iter().map(|k| Index::new(&k.src.btf)).collect();
    if indexes.iter().all(|i| i.composite(ty).is_none()) {
        bail!("--history {what}: no struct or union {ty} in any of the kernels");
    }
    let labelled: Vec<(String, &Index<'_>)> = kernels
        .iter()
        .zip(&indexes)
        .map(|(k, i)| (k.label.clone(), i))
        .collect();
    let steps = diff::history(ty, member, &labelled);
    let changed = steps.iter().skip(1).any(|s| {
        !matches!(
            s.events.as_slice(),
            [diff::Event::Unchanged] | [diff::Event::Absent] | [diff::Event::NoType]
        )
    });
    if g.json {
        output::print_json(&Document {
            schema: view::SCHEMA,
            kernels: kernels.iter().map(|k| k.doc.clone()).collect(),
            changed,
            diff: None,
            objects: None,
            history: Some(HistoryDoc {
                ty,
                member,
                steps: &steps,
            }),
        })?;
    } else {
        let mut out = output::stdout();
        view::write_history(&mut out, Style::new(g.color.enabled()), ty, member, &steps)?;
        out.flush()?;
    }
    Ok(exit(changed))
}
