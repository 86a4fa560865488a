//! `coretool btfgen OBJ... --kernels SRC... -o DIR`: per kernel, the minimal BTF the objects'
//! CO-RE relocations need there, proven to relocate them exactly as the full BTF does.
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use coretool::btfgen::{self, bundle, layout, Bundle, KernelResult, Options, Outcome};
use coretool::compat;
use coretool::error::InputError;
use coretool::reloc::Object;
use coretool::source::read_file;

use super::GlobalOpts;
use crate::exit::{EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS};
use crate::output;
use crate::render::btfgen::{self as render, Row, Summary};
use crate::render::Style;

/// `coretool btfgen --help`.
pub const LONG_ABOUT: &str = "\
For every kernel the --kernels sources hold, write the minimal BTF that the CO-RE relocations \
of every OBJ need there: the types, members and enumerators libbpf's relocation reaches, as \
`bpftool gen min_core_btf` collects them, so that the objects can run on kernels that ship no \
/sys/kernel/btf/vmlinux (load them with libbpf's btf_custom_path).\n\n\
Each output is proven in the same run: every object is relocated again (offline, libbpf's own \
calculator) against the minimized BTF, and every relocation must give the same result as \
against the full BTF (status, values, patches, matched type, member path, bit offset and \
enumerator; only type ids and member indices may differ). A kernel where an object cannot \
load (a relocation error, a reachable poisoned instruction, the other byte order) is reported \
and gets no output: a minimized BTF there would only move the failure to load time.\n\n\
Kernel sources are read as `coretool compat` reads them (raw BTF, vmlinux, images of any \
architecture, BTFHub .btf.tar.xz, Debian .debs, directories), through the same BTF cache, in \
parallel, one kernel per worker, each released before the next: memory does not grow with \
the number of kernels. Outputs go under -o DIR in the input's layout (a .btf or .btf.tar.xz \
found in a --kernels directory keeps its directories, BTFHub's distro/version/arch/; other \
kernels go to distro/version/arch/<release>.btf when the source tells them, else \
arch/<release>.btf), and/or into one --bundle archive with an index, identical outputs stored \
once. With -v, the BTF cache's figures follow the run on stderr.\n\n\
Module BTF: for an unpacked kernel package (ROOT/boot/vmlinuz-REL with ROOT/lib/modules/REL/) \
or a vmlinux with module files (*.ko, *.ko.xz, *.ko.zst, *.ko.gz) beside it, a relocation whose \
type vmlinux lacks is resolved in the modules' split BTF, as libbpf does when they are loaded, \
and the output keeps that module's part: <release>/<module>.btf, split BTF on <release>.btf.";

pub const AFTER_HELP: &str = "\
Exit status:
  0  every kernel was minimized and proven, and its output written
  1  some kernel got no output: an object cannot load there, or the source is unreadable
  2  coretool could not run (an object cannot be read, no kernel could be read, an output
     cannot be written), or a minimized BTF failed the proof (a coretool bug: that kernel's
     output is not written, the others are)

Examples:
  coretool btfgen prog.bpf.o --kernels btfhub-archive/ubuntu -o btfs/
  coretool btfgen a.bpf.o b.bpf.o --kernels ~/.cache/coretool/kernels --bundle btfs.tar.xz";

#[derive(Debug, clap::Args)]
pub struct BtfgenArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    #[command(flatten)]
    pub verbose: super::VerboseOpt,
    /// BPF objects (.bpf.o) whose relocations the output must serve
    #[arg(value_name = "OBJ", required = true)]
    pub objects: Vec<PathBuf>,
    /// Kernel sources: files, packages or directories (repeatable; several per flag)
    #[arg(long, value_name = "SRC", num_args = 1.., required = true)]
    pub kernels: Vec<PathBuf>,
    /// Write each kernel's minimized BTF under DIR (created if missing)
    #[arg(
        short = 'o',
        long,
        value_name = "DIR",
        required_unless_present = "bundle"
    )]
    pub output: Option<PathBuf>,
    /// Also (or instead) write every output into one .tar.xz with an index.json
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// Compression of the files under DIR
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Compress::Never)]
    pub compress: Compress,
    #[command(flatten)]
    pub jobs: super::JobsOpt,
    #[command(flatten)]
    pub cache: super::CacheOpts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compress {
    /// Raw BTF files (<release>.btf)
    Never,
    /// <release>.btf.tar.xz (as BTFHub ships them) for kernels read from a .btf.tar.xz
    LikeInput,
    /// <release>.btf.tar.xz for every kernel
    Always,
}

pub fn run(args: BtfgenArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    // Every input is checked before any output.
    let mut objects = Vec::new();
    for p in &args.objects {
        let data = read_file(p)?;
        let obj = Object::parse(p, data).map_err(|e| InputError::invalid(p, e.to_string()))?;
        objects.push(obj);
    }
    if let Some(dir) = &args.output {
        std::fs::create_dir_all(dir).map_err(|e| InputError::io(dir, e))?;
    }
    let mut bundle = match &args.bundle {
        Some(p) => Some(Bundle::create(p)?),
        None => None,
    };
    let jobs = args.jobs.count();
    let cache = args.cache.open();
    let inputs = compat::expand(&args.kernels);
    let names: Vec<String> = objects
        .iter()
        .map(|o| o.path.display().to_string())
        .collect();
    let total = inputs.len();
    let progress = std::io::stderr().is_terminal();
    let mut out = output::stdout();
    let mut rows: Vec<Row> = Vec::new();
    let mut written: HashMap<PathBuf, String> = HashMap::new();
    let mut fatal: Option<anyhow::Error> = None;
    let (mut hits, mut stored) = (0usize, 0usize);
    let opts = Options {
        jobs,
        cache: cache.clone(),
    };
    // SIGINT/SIGTERM stop the run between kernels: the outputs written so far are whole files,
    // the bundle's temporary file is removed, FILE is left as it was.
    coretool::probe::stop_on_signals().context("installing the SIGINT/SIGTERM handlers")?;
    btfgen::run(&objects, &inputs, opts, |k: KernelResult| {
        if coretool::probe::stop_requested().is_some() {
            return false;
        }
        let row = match place(&args, &mut written, bundle.as_mut(), k) {
            Ok(row) => row,
            Err(e) => {
                fatal = Some(e);
                return false;
            }
        };
        if g.json {
            if let Err(e) = render::write_record(&mut out, &names, &row).and_then(|()| out.flush())
            {
                fatal = Some(e.into());
                return false;
            }
        }
        let mut row = row;
        row.release_output();
        match row.result.cache {
            compat::CacheUse::Hit => hits += 1,
            compat::CacheUse::Stored => stored += 1,
            compat::CacheUse::None => {}
        }
        rows.push(row);
        if progress {
            eprint!("\r\x1b[Kbtfgen: {}/{total} kernels", rows.len());
        }
        true
    });
    if progress && !rows.is_empty() {
        eprint!("\r\x1b[K");
    }
    if let Some(cache) = &cache {
        let trimmed = cache.trim();
        if g.verbose > 0 {
            eprintln!(
                "coretool: btfgen: BTF cache {}: {hits} read from the cache, {stored} extracted \
                 and stored, {trimmed} trimmed",
                cache.dir().display()
            );
        }
    }
    if let Some(e) = fatal {
        // The bundle's temporary file goes with it; FILE is left as it was.
        return Err(e);
    }
    if let Some(sig) = coretool::probe::stop_requested() {
        drop(bundle);
        let name = match sig {
            libc::SIGINT => "SIGINT",
            _ => "SIGTERM",
        };
        eprintln!(
            "coretool: btfgen: interrupted by {name} after {} of {total} kernels (their outputs \
             are written; no bundle)",
            rows.len()
        );
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    rows.sort_by_key(|r| r.result.seq);
    let proof_failed = rows
        .iter()
        .any(|r| matches!(r.result.outcome, Outcome::ProofFailed { .. }));
    let none_read = rows
        .iter()
        .all(|r| matches!(r.result.outcome, Outcome::Error { .. }) && r.result.objects.is_empty());
    if total == 0 || none_read {
        // Dropping the bundle removes its temporary file: FILE is left as it was.
        drop(bundle);
        eprintln!("coretool: btfgen: no kernel could be read from the --kernels sources");
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let stats = match bundle {
        Some(b) => {
            let mut index = Vec::new();
            serde_json::to_writer_pretty(&mut index, b.index())?;
            index.push(b'\n');
            Some(b.finish(&index)?)
        }
        None => None,
    };
    let summary = Summary::of(&rows, stats);
    if g.json {
        // JSON Lines: the summary is one line too.
        serde_json::to_writer(
            &mut out,
            &crate::render::btfgen::BtfgenJson::Summary(&summary),
        )?;
        out.write_all(b"\n")?;
    } else {
        let style = Style::new(g.color.enabled());
        render::write_text(&mut out, &names, &rows, &summary, style)?;
    }
    out.flush()?;
    if proof_failed {
        eprintln!(
            "coretool: btfgen: a minimized BTF does not relocate the objects as the full BTF \
             does (see above); its output was not written"
        );
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    Ok(ExitCode::from(if summary.not_written == 0 {
        EXIT_OK
    } else {
        EXIT_PROBLEMS
    }))
}

/// Write one kernel's output where it goes (-o DIR, the bundle), and say where.
fn place(
    args: &BtfgenArgs,
    written: &mut HashMap<PathBuf, String>,
    bundle: Option<&mut Bundle>,
    k: KernelResult,
) -> anyhow::Result<Row> {
    let mut row = Row::new(k);
    let Outcome::Minimized { btf, modules, .. } = &row.result.outcome else {
        return Ok(row);
    };
    let id = &row.result.id;
    if let Some(dir) = &args.output {
        let mut rel = layout::output_path(id, &args.kernels);
        let compress = match args.compress {
            Compress::Never => false,
            Compress::Always => true,
            Compress::LikeInput => id.source.ends_with(".btf.tar.xz"),
        };
        if compress {
            rel.set_extension("btf.tar.xz");
        }
        if let Some(first) = written.get(&rel) {
            row.not_written = Some(format!(
                "{} would overwrite the output of {first}: not written",
                rel.display()
            ));
            return Ok(row);
        }
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| InputError::io(parent, e))?;
        }
        let bytes = match compress {
            true => bundle::tar_xz(&layout::file_name(id), btf)
                .with_context(|| format!("compressing {}", path.display()))?,
            false => btf.clone(),
        };
        output::write_atomic(&path, |w| Ok(w.write_all(&bytes)?))?;
        // The modules' parts: split BTF on it, in a directory named like it.
        let file = layout::file_name(id);
        let stem = file.strip_suffix(".btf").unwrap_or(&file);
        let mdir = rel.with_file_name(stem);
        for m in modules {
            let mrel = mdir.join(format!("{}.btf", m.name));
            let mpath = dir.join(&mrel);
            if let Some(parent) = mpath.parent() {
                std::fs::create_dir_all(parent).map_err(|e| InputError::io(parent, e))?;
            }
            output::write_atomic(&mpath, |w| Ok(w.write_all(&m.raw)?))?;
            row.written_modules.push(mrel.display().to_string());
        }
        written.insert(rel.clone(), id.source.clone());
        row.written = Some(rel.display().to_string());
    }
    if let Some(b) = bundle {
        b.add(id, btf, modules)?;
    }
    Ok(row)
}
