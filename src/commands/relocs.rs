//! `coretool relocs OBJ...`: every CO-RE relocation record, decoded.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use coretool::error::InputError;
use coretool::reloc::{CoreRelo, Object, SourceLine};
use coretool::source::read_file;
use schemars::JsonSchema;
use serde::Serialize;

use super::GlobalOpts;
use crate::output;
use crate::render::{table, Style};

#[derive(Debug, clap::Args)]
pub struct RelocsArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    #[command(flatten)]
    pub verbose: super::VerboseOpt,
    /// BPF object files (.bpf.o), little- or big-endian
    #[arg(required = true, value_name = "OBJ")]
    pub objects: Vec<PathBuf>,
}

pub(crate) const JSON_SCHEMA: &str = "coretool.relocs/v1";

pub fn run(args: RelocsArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    if g.json {
        return run_json(&args);
    }
    // Parse every object before printing anything: a bad one stops the run with no output.
    let mut objs = Vec::new();
    for path in &args.objects {
        let data = read_file(path)?;
        let obj =
            Object::parse(path, data).map_err(|e| InputError::invalid(path, e.to_string()))?;
        objs.push((path, obj));
    }
    let style = Style::new(g.color.enabled());
    let mut out = output::stdout();
    for (i, (path, obj)) in objs.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_text(&mut out, path, obj, style, g.verbose > 0)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `--json`: one entry per object, in order; an object that cannot be read or parsed gets an
/// `error` instead of its relocations (and a line on stderr), and the exit status is 2. When
/// no object could be read at all, it is the plain bad-input error.
fn run_json(args: &RelocsArgs) -> anyhow::Result<ExitCode> {
    let parsed: Vec<Result<Object, String>> = args
        .objects
        .iter()
        .map(|path| {
            let data = read_file(path).map_err(|e| e.to_string())?;
            Object::parse(path, data)
                .map_err(|e| InputError::invalid(path, e.to_string()).to_string())
        })
        .collect();
    if let Some(Err(first)) = parsed.iter().find(|r| r.is_err()) {
        if parsed.iter().all(Result::is_err) {
            anyhow::bail!("{first}");
        }
    }
    let objects = args
        .objects
        .iter()
        .zip(&parsed)
        .map(|(path, r)| match r {
            Ok(o) => ObjectJson::new(path, o),
            Err(e) => ObjectJson::failed(path, e),
        })
        .collect();
    output::print_json(&RelocsJson {
        schema: JSON_SCHEMA,
        objects,
    })?;
    let mut failed = false;
    for e in parsed.iter().filter_map(|r| r.as_ref().err()) {
        eprintln!("coretool: {e}");
        failed = true;
    }
    Ok(if failed {
        ExitCode::from(crate::exit::EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

fn line_text(r: &CoreRelo) -> String {
    match &r.line {
        Some(l) => {
            let file = l.file.rsplit('/').next().unwrap_or(&l.file);
            format!("{file}:{}  {}", l.line, l.text)
        }
        None => String::new(),
    }
}

fn write_text(
    out: &mut impl Write,
    path: &std::path::Path,
    obj: &Object,
    style: Style,
    verbose: bool,
) -> std::io::Result<()> {
    let n = obj.relos.len();
    writeln!(
        out,
        "{}: {} CO-RE relocation{} ({}, {} BTF types)",
        style.bold(&path.display().to_string()),
        n,
        if n == 1 { "" } else { "s" },
        obj.endian.name(),
        obj.btf.type_count() - 1
    )?;
    if obj.ext.is_none() {
        writeln!(
            out,
            "no .BTF.ext section: the object has no CO-RE relocations"
        )?;
        return Ok(());
    }
    if n == 0 {
        writeln!(
            out,
            "no CO-RE relocations: the object does not depend on kernel type layout"
        )?;
        return Ok(());
    }
    // Group by program, in order of first appearance (records keep their .BTF.ext order).
    let mut programs: Vec<(&str, &str)> = Vec::new();
    for r in &obj.relos {
        if !programs
            .iter()
            .any(|(p, s)| *p == r.program && *s == r.section)
        {
            programs.push((&r.program, &r.section));
        }
    }
    for (prog, sec) in programs {
        writeln!(out)?;
        writeln!(out, "program {} (section {})", style.bold(prog), sec)?;
        let mut header = vec![
            "#", "insn", "kind", "type", "access", "accessor", "offset", "source",
        ];
        if !verbose {
            header.retain(|h| *h != "type");
        }
        let mut t = table::new(&header);
        for r in obj
            .relos
            .iter()
            .filter(|r| r.program == prog && r.section == sec)
        {
            let mut row = vec![
                r.index.to_string(),
                r.insn.to_string(),
                r.kind.name().to_string(),
                r.type_desc.clone(),
                r.access.clone(),
                r.accessor(&obj.btf),
                r.offset().unwrap_or_default(),
                line_text(r),
            ];
            if !verbose {
                row.remove(3);
            }
            t.add_row(row);
        }
        table::align_right(&mut t, &[0, 1]);
        out.write_all(table::render(&t).as_bytes())?;
    }
    Ok(())
}

/// The `coretool.relocs/v1` document.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct RelocsJson<'a> {
    schema: &'static str,
    objects: Vec<ObjectJson<'a>>,
}

/// One object; one that could not be read has only `path` and `error`.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct ObjectJson<'a> {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endian: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_btf_ext: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relocations: Option<Vec<RelocJson<'a>>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct RelocJson<'a> {
    section: &'a str,
    program: &'a str,
    index: usize,
    insn: u32,
    kind: &'static str,
    type_id: u32,
    #[serde(rename = "type")]
    type_desc: &'a str,
    access: &'a str,
    accessor: String,
    error: Option<String>,
    bit_offset: Option<u64>,
    offset: Option<String>,
    line: Option<LineJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct LineJson<'a> {
    file: &'a str,
    line: u32,
    col: u32,
    text: &'a str,
}

impl<'a> LineJson<'a> {
    fn new(l: &'a SourceLine) -> Self {
        LineJson {
            file: &l.file,
            line: l.line,
            col: l.col,
            text: &l.text,
        }
    }
}

impl<'a> ObjectJson<'a> {
    fn failed(path: &std::path::Path, error: &str) -> Self {
        ObjectJson {
            path: path.display().to_string(),
            error: Some(error.to_owned()),
            endian: None,
            has_btf_ext: None,
            relocations: None,
        }
    }

    fn new(path: &std::path::Path, obj: &'a Object) -> Self {
        ObjectJson {
            path: path.display().to_string(),
            error: None,
            endian: Some(obj.endian.name()),
            has_btf_ext: Some(obj.ext.is_some()),
            relocations: Some(
                obj.relos
                    .iter()
                    .map(|r| {
                        let spec = r.spec.as_ref().ok();
                        RelocJson {
                            section: &r.section,
                            program: &r.program,
                            index: r.index,
                            insn: r.insn,
                            kind: r.kind.name(),
                            type_id: r.type_id,
                            type_desc: &r.type_desc,
                            access: &r.access,
                            accessor: r.accessor(&obj.btf),
                            error: r.spec.as_ref().err().map(|e| e.to_string()),
                            bit_offset: spec
                                .filter(|s| s.kind.is_field_based())
                                .map(|s| s.bit_offset),
                            offset: r.offset(),
                            line: r.line.as_ref().map(LineJson::new),
                        }
                    })
                    .collect(),
            ),
        }
    }
}
