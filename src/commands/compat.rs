//! `coretool compat OBJ... --kernels SRC...`: every object against every kernel of a fleet,
//! with a verdict per object and kernel, grouped into classes.
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use coretool::compat::{self, CacheUse, Classes, KernelOutcome, Options};
use coretool::error::InputError;
use coretool::reloc::Object;
use coretool::source::read_file;

use super::GlobalOpts;
use crate::exit::{EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS};
use crate::output;
use crate::render::compat as render;
use crate::render::Style;

/// `coretool compat --help`.
pub const LONG_ABOUT: &str =
    "Relocate every OBJ against every kernel the --kernels sources hold, offline \
(libbpf's own relocation calculator, no kernel, no privilege), check everything else each \
program needs from that kernel as `coretool requires` does (program, map and attach types, \
helpers, kfuncs, attach targets, context arguments, from the kernel's own BTF and the config \
next to it), and give a verdict per object and kernel: loads, loads with guarded poison, loads \
without some programs (the loader has to turn them off), fails (with the relocation, accessor \
and source line, or the first missing requirement and its evidence), unknown (a requirement \
the kernel's BTF cannot tell), incompatible (the object's byte order or architecture is not \
the kernel's) or unreadable (the source, with the reason: one bad source never stops the \
others). Kernels are read and relocated as \
they come, in parallel, each released once every object has seen it, so memory does not grow \
with the number of kernels.\n\n\
Kernel sources, any mix: raw BTF (/sys/kernel/btf/vmlinux, *.btf), a vmlinux ELF, an x86 \
bzImage (gzip, xz, zstd, lz4), an arm64 or riscv64 Image (plain or compressed) or EFI zboot \
image, a BTFHub .btf.tar.xz, a Debian linux-image-*.deb (read in memory), or a directory, \
walked recursively (files named *.btf, *.btf.tar.xz, linux-image-*.deb, vmlinuz-*, vmlinux-*, \
Image-*; BTFHub's distro/version/arch/ layout names the distribution).\n\n\
The BTF of every source that takes unwrapping (a compressed image, a package, an archive, a \
vmlinux ELF) is cached with the kernel's identity, keyed by the source file's path, device, \
inode, size and modification time: the next run over the same file reads the BTF from the \
cache instead of decompressing it. Entries are written atomically (safe under concurrent \
runs), checksummed (a corrupt entry is extracted again, never trusted), and the least \
recently used are removed when the cache exceeds --cache-max. Removing the directory is \
always safe.";

#[derive(Debug, clap::Args)]
pub struct CompatArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    #[command(flatten)]
    pub verbose: super::VerboseOpt,
    /// BPF objects (.bpf.o), little- or big-endian
    #[arg(value_name = "OBJ", required = true)]
    pub objects: Vec<PathBuf>,
    /// Kernel sources: files, packages or directories (repeatable; several per flag)
    #[arg(long, value_name = "SRC", num_args = 1.., required = true)]
    pub kernels: Vec<PathBuf>,
    /// Output format (--json is `--format json`)
    #[arg(long, value_enum, value_name = "FMT")]
    pub format: Option<Format>,
    #[command(flatten)]
    pub jobs: super::JobsOpt,
    #[command(flatten)]
    pub cache: super::CacheOpts,
    /// Judge the CO-RE relocations only: do not check what else the programs need from each
    /// kernel (helpers, kfuncs, program and map types, attach targets)
    #[arg(long)]
    pub core_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Classes of kernels with the same result, then counts per architecture and distribution
    Text,
    /// coretool.compat/v2, JSON Lines: one record per object and kernel, as they finish
    Json,
    /// A GitHub job summary: one table row per class
    Markdown,
}

pub const AFTER_HELP: &str = "\
Verdicts: loads; loads-guarded-poison (poisoned instructions, all of them dead code);
loads-without (some autoloaded programs cannot load there: a relocation or a requirement is
missing; the loader has to turn them off); fails (no autoloaded program can load: a relocation
error, a reachable poisoned instruction, a missing helper, kfunc, type or attach point);
unknown (a requirement the kernel's BTF and config cannot tell); incompatible (the object's
byte order or architecture is not the kernel's; the relocations are still computed);
unreadable (the kernel source could not be read, with the reason). A kernel whose BTF is no
vmlinux BTF (no enum bpf_prog_type) is judged on its relocations only, and says so.

Exit status:
  0  every object loads on every kernel (unknown included, as `coretool requires` counts it)
  1  some object fails, loads only without some programs, is incompatible, or some kernel
     source is unreadable
  2  coretool could not run (an object cannot be read, no kernel could be read at all)

Examples:
  coretool compat prog.bpf.o --kernels ~/.cache/coretool/kernels
  coretool compat prog.bpf.o --kernels btfhub-archive/ubuntu linux-image-*.deb --format markdown";

pub fn run(args: CompatArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    // Every object is checked before any output.
    let mut objects = Vec::new();
    for p in &args.objects {
        let data = read_file(p)?;
        let obj = Object::parse(p, data).map_err(|e| InputError::invalid(p, e.to_string()))?;
        objects.push(obj);
    }
    let format = match (args.format, g.json) {
        (Some(f), _) => f,
        (None, true) => Format::Json,
        (None, false) => Format::Text,
    };
    let jobs = args.jobs.count();
    let cache = args.cache.open();
    let inputs = compat::expand(&args.kernels);
    let names: Vec<String> = objects
        .iter()
        .map(|o| o.path.display().to_string())
        .collect();
    let total = inputs.len();
    let mut progress = Progress::new(total, cache.is_some());
    let mut classes = Classes::new(objects.len());
    let mut out = output::stdout();
    let mut write_error: Option<std::io::Error> = None;
    let opts = Options {
        jobs,
        cache: cache.clone(),
        requires: !args.core_only,
    };
    compat::run(&objects, &inputs, opts, |k: KernelOutcome| {
        classes.add(&k);
        progress.cache(k.cache);
        if format == Format::Json && write_error.is_none() {
            // Streamed: one line per object and kernel, flushed as produced.
            if let Err(e) = render::write_records(&mut out, &names, &k).and_then(|()| out.flush()) {
                write_error = Some(e);
            }
        }
        progress.tick();
        write_error.is_none()
    });
    progress.finish();
    if let Some(cache) = &cache {
        let trimmed = cache.trim();
        if g.verbose > 0 {
            eprintln!(
                "coretool: compat: BTF cache {}: {} read from the cache, {} checked and \
                 stored, {} trimmed",
                cache.dir().display(),
                progress.hits,
                progress.stored,
                trimmed
            );
        }
    }
    if let Some(e) = write_error {
        return Err(e.into());
    }
    match format {
        Format::Json => {}
        Format::Text => {
            let style = Style::new(g.color.enabled());
            render::write_text(&mut out, &names, &classes, style)?;
        }
        Format::Markdown => render::write_markdown(&mut out, &names, &classes)?,
    }
    out.flush()?;
    if total == 0 || classes.none_readable() {
        eprintln!("coretool: compat: no kernel could be read from the --kernels sources");
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    Ok(ExitCode::from(if classes.all_load() {
        EXIT_OK
    } else {
        EXIT_PROBLEMS
    }))
}

/// `kernels done/total` (and cache hits) on stderr, only when stderr is a terminal.
struct Progress {
    total: usize,
    done: usize,
    start: Instant,
    on: bool,
    cached: bool,
    hits: usize,
    stored: usize,
}

impl Progress {
    fn new(total: usize, cached: bool) -> Self {
        Progress {
            total,
            done: 0,
            start: Instant::now(),
            on: std::io::stderr().is_terminal(),
            cached,
            hits: 0,
            stored: 0,
        }
    }

    fn cache(&mut self, used: CacheUse) {
        match used {
            CacheUse::Hit => self.hits += 1,
            CacheUse::Stored => self.stored += 1,
            CacheUse::None => {}
        }
    }

    fn tick(&mut self) {
        self.done += 1;
        if self.on {
            let secs = self.start.elapsed().as_secs_f64().max(1e-3);
            let hits = match self.cached {
                true => format!(", {} from the BTF cache", self.hits),
                false => String::new(),
            };
            eprint!(
                "\r\x1b[Kcompat: {}/{} kernels, {:.1}/s{hits}",
                self.done,
                self.total,
                self.done as f64 / secs
            );
        }
    }

    fn finish(&self) {
        if self.on && self.done > 0 {
            eprint!("\r\x1b[K");
        }
    }
}
