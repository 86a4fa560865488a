//! `coretool btf [NAME...]`: dump BTF types in bpftool's raw format, as pahole-style layouts,
//! or as JSON.
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use coretool::btf::{layout, Btf, Kind, Type};
use coretool::source;

use super::{BtfSourceArgs, GlobalOpts};
use crate::exit::exit_problems;
use crate::output;
use crate::render::{btf_json, btf_raw, layout as layout_text};

#[derive(Debug, clap::Args)]
pub struct BtfArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    #[command(flatten)]
    pub source: BtfSourceArgs,
    /// Only types with these names (exact match; regular expressions with --regex)
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Treat NAME arguments as regular expressions (matched anywhere in the name)
    #[arg(long)]
    pub regex: bool,
    /// Only types of these kinds (struct, union, enum, enum64, func, func_proto, typedef, int,
    /// ptr, array, fwd, const, volatile, restrict, var, datasec, float, decl_tag, type_tag)
    #[arg(long, value_name = "KIND", value_delimiter = ',', value_parser = parse_kind)]
    pub kind: Vec<Kind>,
    /// Only the type with this id (repeatable)
    #[arg(long, value_name = "N")]
    pub id: Vec<u32>,
    /// Show struct/union layouts as pahole 1.24 does: offsets and sizes, anonymous members
    /// inline, holes, bit holes, paddings, cachelines, summary
    #[arg(long)]
    pub layout: bool,
    /// Indent the JSON (implies --json; bpftool's -p). The default is compact, one line
    #[arg(short = 'p', long)]
    pub pretty: bool,
    /// With --layout: expand named struct/union member types inline and name typedef
    /// chains, as pahole's -E
    #[arg(short = 'E', long, requires = "layout")]
    pub expand: bool,
    /// Write the source's raw BTF (unwrapped from any image, package or archive) to FILE,
    /// atomically, instead of dumping types
    #[arg(short = 'o', long, value_name = "FILE",
          conflicts_with_all = ["names", "regex", "kind", "id", "layout", "pretty", "expand"])]
    pub output: Option<std::path::PathBuf>,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::from_lower_name(s)
        .filter(|k| *k != Kind::Unkn)
        .ok_or_else(|| format!("unknown BTF kind `{s}`"))
}

/// The selection the filters describe, in id order.
pub fn select<'a>(btf: &'a Btf, args: &BtfArgs) -> anyhow::Result<Vec<Type<'a>>> {
    let regexes = if args.regex {
        args.names
            .iter()
            .map(|n| regex::Regex::new(n).with_context(|| format!("invalid regex `{n}`")))
            .collect::<anyhow::Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    for &id in &args.id {
        if id == 0 || id >= btf.type_count() {
            anyhow::bail!(
                "--id {id}: no such type (valid ids are 1..{})",
                btf.type_count() - 1
            );
        }
    }
    let name_ok = |t: &Type<'_>| {
        if args.names.is_empty() {
            return true;
        }
        let n = btf.name_of(t);
        if args.regex {
            regexes.iter().any(|r| r.is_match(n))
        } else {
            args.names.iter().any(|x| x == n)
        }
    };
    let default_kinds: &[Kind] = if args.layout && args.kind.is_empty() {
        &[Kind::Struct, Kind::Union]
    } else {
        &[]
    };
    let kinds = if args.kind.is_empty() {
        default_kinds
    } else {
        &args.kind[..]
    };
    let pick = |t: &Type<'_>| {
        (args.id.is_empty() || args.id.contains(&t.id))
            && (kinds.is_empty() || kinds.contains(&t.kind()))
            && name_ok(t)
    };
    if !args.id.is_empty() {
        let mut ids = args.id.clone();
        ids.sort_unstable();
        ids.dedup();
        return Ok(ids
            .into_iter()
            .filter_map(|id| btf.type_by_id(id))
            .filter(|t| pick(t))
            .collect());
    }
    Ok(btf.types().filter(|t| pick(t)).collect())
}

/// `btf -o FILE --json`: what was written, and the kernel it came from.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct WrittenDoc<'a> {
    schema: &'static str,
    output: String,
    bytes: usize,
    kernel: crate::render::compat::KernelDoc<'a>,
}

/// `-o FILE`: the raw BTF of the source, written atomically. Without `--base`, any source
/// `compat --kernels` reads is accepted (a kernel `.deb` too). With `--json`, one record says
/// what was written and the kernel's identity (release, architecture, byte order, format).
fn write_raw(args: &BtfArgs, path: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let kernel = match (&args.source.btf, &args.source.base) {
        (Some(p), None) => {
            let input = coretool::compat::KernelInput { path: p.clone() };
            coretool::compat::sources::read(&input, None).map_err(anyhow::Error::msg)?
        }
        (p, base) => {
            let src = source::load(p.as_deref(), base.as_deref())?;
            let id = coretool::compat::KernelId {
                source: src.path.display().to_string(),
                release: src.named_release(),
                endian: Some(src.btf.endian()),
                format: Some(src.describe()),
                ..Default::default()
            };
            coretool::compat::sources::Kernel {
                id,
                btf: src,
                cache: coretool::compat::CacheUse::None,
            }
        }
    };
    let raw = kernel.btf.btf.raw_bytes();
    output::write_atomic(path, |w| Ok(w.write_all(raw)?))?;
    if json {
        let doc = WrittenDoc {
            schema: WRITTEN_SCHEMA,
            output: path.display().to_string(),
            bytes: raw.len(),
            kernel: crate::render::compat::KernelDoc::new(&kernel.id),
        };
        let mut out = output::stdout();
        serde_json::to_writer(&mut out, &doc)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The schema of `btf -o FILE --json`.
pub(crate) const WRITTEN_SCHEMA: &str = "coretool.btf-output/v1";

fn filtered(args: &BtfArgs) -> bool {
    !args.names.is_empty() || !args.kind.is_empty() || !args.id.is_empty() || args.layout
}

pub fn run(args: BtfArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.output {
        return write_raw(&args, path, g.json);
    }
    let src = source::load(args.source.btf.as_deref(), args.source.base.as_deref())?;
    let btf = &src.btf;
    let json = g.json || args.pretty;
    let mut out = output::stdout();
    if !filtered(&args) && !json {
        // The common case, bpftool's full raw dump: stream without collecting.
        btf_raw::write_all(&mut out, btf)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut types = select(btf, &args)?;
    if args.layout {
        // Only structs and unions have a layout: `--layout --kind int` matches nothing.
        types.retain(|t| t.is_composite());
    }
    let none = types.is_empty() && filtered(&args);
    if none {
        eprintln!("coretool: no type in {} matches", src.path.display());
        if !json {
            return Ok(exit_problems());
        }
    }
    if json {
        // Machine-readable mode always writes a document, empty when nothing matched.
        let opts = layout::Options {
            expand: args.expand,
        };
        if args.layout {
            let doc = btf_json::LayoutsDoc::new(&src, &types, opts);
            btf_json::write(&mut out, &btf_json::BtfJson::Layouts(doc), args.pretty)?;
        } else {
            btf_json::write(
                &mut out,
                &btf_json::BtfJson::Types(btf_json::TypesDoc::new(&src, &types)),
                args.pretty,
            )?;
        }
    } else if args.layout {
        let mut first = true;
        let mut layouter = layout::Layouter::new(
            btf,
            layout::Options {
                expand: args.expand,
            },
        );
        for t in &types {
            if let Some(l) = layouter.layout(t) {
                if !first {
                    writeln!(out)?;
                }
                first = false;
                layout_text::write(&mut out, &l)?;
            }
        }
    } else {
        for t in &types {
            btf_raw::write_type(&mut out, btf, t)?;
        }
    }
    out.flush()?;
    Ok(if none {
        exit_problems()
    } else {
        ExitCode::SUCCESS
    })
}
