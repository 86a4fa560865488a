//! `coretool btf [NAME...]`: dump BTF types in bpftool's raw format, as pahole-style layouts,
//! or as JSON.
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::btf::layout::{self, Item, Layout, CACHELINE};
use crate::btf::{json as btf_json, raw, Btf, Kind, Type};
use crate::cli::{BtfSourceArgs, GlobalOpts};
use crate::error::exit_problems;
use crate::output;
use crate::source::{self, BtfSource};

pub const JSON_SCHEMA: &str = "coretool.btf/v1";

#[derive(Debug, clap::Args)]
pub struct BtfArgs {
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
    /// Show struct/union layouts (offsets, sizes, holes, padding, cachelines) like pahole
    #[arg(long)]
    pub layout: bool,
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

fn filtered(args: &BtfArgs) -> bool {
    !args.names.is_empty() || !args.kind.is_empty() || !args.id.is_empty() || args.layout
}

pub fn run(args: BtfArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let src = source::load(args.source.btf.as_deref(), args.source.base.as_deref())?;
    let btf = &src.btf;
    let mut out = output::stdout();
    if !filtered(&args) && !g.json {
        // The common case, bpftool's full raw dump: stream without collecting.
        raw::write_all(&mut out, btf)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let types = select(btf, &args)?;
    if types.is_empty() && filtered(&args) {
        eprintln!("coretool: no type in {} matches", src.path.display());
        return Ok(exit_problems());
    }
    if g.json {
        let doc = if args.layout {
            let layouts: Vec<_> = types
                .iter()
                .filter_map(|t| layout::compute(btf, t))
                .map(|l| btf_json::layout_json(&l))
                .collect();
            json!({ "schema": JSON_SCHEMA, "source": source_json(&src), "layouts": layouts })
        } else {
            let list: Vec<_> = types.iter().map(|t| btf_json::type_json(btf, t)).collect();
            json!({ "schema": JSON_SCHEMA, "source": source_json(&src), "types": list })
        };
        serde_json::to_writer_pretty(&mut out, &doc)?;
        out.write_all(b"\n")?;
    } else if args.layout {
        let mut first = true;
        for t in &types {
            if let Some(l) = layout::compute(btf, t) {
                if !first {
                    writeln!(out)?;
                }
                first = false;
                write_layout(&mut out, &l)?;
            }
        }
    } else {
        for t in &types {
            raw::write_type(&mut out, btf, t)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn source_json(src: &BtfSource) -> serde_json::Value {
    json!({
        "path": src.path.display().to_string(),
        "format": src.describe(),
        "endian": src.btf.endian().name(),
        "release": src.release,
        "base": src.base_path.as_ref().map(|p| p.display().to_string()),
        "types": src.btf.type_count() - src.btf.first_id(),
    })
}

/// pahole's layout text: `/* offset size */` after each member, holes and cacheline boundaries
/// as comments, a summary at the end.
pub fn write_layout(out: &mut impl Write, l: &Layout) -> std::io::Result<()> {
    let mut buf = Vec::new();
    write_layout_lines(&mut buf, l)?;
    // Adjacent holes each ask for a blank line around them: keep one.
    let text = String::from_utf8_lossy(&buf);
    let mut blank = false;
    for line in text.lines() {
        if line.is_empty() && blank {
            continue;
        }
        blank = line.is_empty();
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn write_layout_lines(w: &mut impl Write, l: &Layout) -> std::io::Result<()> {
    let name = if l.name.is_empty() { "<anon>" } else { &l.name };
    writeln!(w, "{} {} {{", l.kind.lower_name(), name)?;
    let width = l
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Member { decl, .. } => Some(decl.len() + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        .clamp(40, 64);
    for item in &l.items {
        match item {
            Item::Member {
                decl,
                bit_offset,
                size,
                bitfield_size,
                ..
            } => {
                let d = format!("{decl};");
                if *bitfield_size > 0 {
                    writeln!(
                        w,
                        "\t{d:<width$} /* {:5}:{:2} {:4} */",
                        bit_offset / 8,
                        bit_offset % 8,
                        size
                    )?;
                } else {
                    writeln!(w, "\t{d:<width$} /* {:5} {:4} */", bit_offset / 8, size)?;
                }
            }
            Item::Hole { bytes, .. } => {
                writeln!(w, "\n\t/* XXX {bytes} byte{} hole */\n", plural(*bytes))?
            }
            Item::BitHole { bits, .. } => {
                writeln!(w, "\n\t/* XXX {bits} bit{} hole */\n", plural(*bits))?
            }
            Item::Cacheline { line } => writeln!(
                w,
                "\t/* --- cacheline {line} boundary ({} bytes) --- */",
                line * CACHELINE
            )?,
        }
    }
    let s = &l.summary;
    writeln!(
        w,
        "\n\t/* size: {}, cachelines: {}, members: {} */",
        s.size, s.cachelines, s.members
    )?;
    if s.holes > 0 {
        writeln!(
            w,
            "\t/* sum members: {}, holes: {}, sum holes: {} */",
            s.sum_members, s.holes, s.sum_holes
        )?;
    }
    if s.bitfield_bits > 0 {
        writeln!(
            w,
            "\t/* sum bitfield members: {} bits, bit holes: {}, sum bit holes: {} bits */",
            s.bitfield_bits, s.bit_holes, s.sum_bit_holes
        )?;
    }
    if s.padding > 0 {
        writeln!(w, "\t/* padding: {} */", s.padding)?;
    }
    writeln!(w, "}};")
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
