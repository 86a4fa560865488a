//! One module per subcommand; each exposes `run(args, &GlobalOpts) -> anyhow::Result<ExitCode>`.
//! This module also holds the option groups several commands share (flattened into their
//! `Args`): [`GlobalOpts`], [`BtfSourceArgs`], and the [`ColorChoice`] behind `--color`.
pub mod btf;
pub mod btfgen;
pub mod check_btf;
pub mod compat;
pub mod diff;
pub mod dry_run;
pub mod generate;
pub mod monitor;
pub mod relocs;
pub mod requires;
pub mod selftest;
pub mod vmlinux;

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use clap::Args;

/// What the commands read of the options: `--json`, `--color` and `-v` as given before the
/// subcommand (`coretool --json relocs`) or after it (`coretool relocs --json`), resolved.
#[derive(Debug, Clone)]
pub struct GlobalOpts {
    pub json: bool,
    pub color: ColorChoice,
    pub verbose: u8,
}

/// Options before the subcommand. `--json` and `-v` are accepted there for every command, as
/// before, but hidden: each command's help lists them only where they do something.
#[derive(Debug, Clone, Args)]
pub struct TopOpts {
    /// Print machine-readable JSON (each command documents its schema)
    #[arg(long, hide = true)]
    pub json: bool,
    /// When to colour output; `auto` colours a terminal unless NO_COLOR is set
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// More detail (repeat for more)
    #[arg(short, long, hide = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// `--json`, for the commands that have machine-readable output.
#[derive(Debug, Clone, Copy, Args, Default)]
pub struct JsonOpt {
    /// Print machine-readable JSON (docs/<command>.md gives the schema)
    #[arg(long)]
    pub json: bool,
}

/// The BTF cache options of the commands that read kernel sources (`compat`, `btfgen`, `diff`):
/// see `coretool compat --help` and docs/compat.md.
#[derive(Debug, Clone, Args)]
pub struct CacheOpts {
    /// BTF cache directory [default: $XDG_CACHE_HOME/coretool/btf, else
    /// ~/.cache/coretool/btf]
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache: Option<std::path::PathBuf>,
    /// Neither read nor write the BTF cache
    #[arg(long)]
    pub no_cache: bool,
    /// Bound on the cache's size; the least recently used entries are removed past it
    /// (bytes, or with a K, M, G suffix: powers of 1024)
    #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = parse_size)]
    pub cache_max: u64,
}

impl CacheOpts {
    /// The cache these options name, `None` with `--no-cache` (or without a home directory).
    pub fn open(&self) -> Option<coretool::compat::Cache> {
        use coretool::compat::Cache;
        match (&self.cache, self.no_cache) {
            (_, true) => None,
            (Some(dir), false) => Some(Cache::new(dir, self.cache_max)),
            (None, false) => Cache::default_dir().map(|d| Cache::new(d, self.cache_max)),
        }
    }
}

/// `123`, `64K`, `512M`, `2G` (powers of 1024; `KiB`, `MiB`, `GiB` too).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("`{s}`: expected a size such as 512M or 2G")),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a size such as 512M or 2G"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}`: too large"))
}

/// `-j N`, for the commands that work on kernels in parallel.
#[derive(Debug, Clone, Copy, Args)]
pub struct JobsOpt {
    /// Worker threads [default: the available cores]
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
}

impl JobsOpt {
    /// The worker count: `-j`, else the available cores.
    pub fn count(self) -> usize {
        self.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, usize::from),
            |j| j as usize,
        )
    }
}

/// `-v`, for the commands that have more to say.
#[derive(Debug, Clone, Copy, Args, Default)]
pub struct VerboseOpt {
    /// More detail (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl TopOpts {
    /// The options as a command reads them, with its own `--json`/`-v` (if it has them).
    pub fn resolve(&self, json: JsonOpt, verbose: VerboseOpt) -> GlobalOpts {
        GlobalOpts {
            json: self.json || json.json,
            color: self.color,
            verbose: self.verbose.saturating_add(verbose.verbose),
        }
    }
}

/// Where to read BTF from, shared by every command that reads kernel types.
#[derive(Debug, Clone, Args, Default)]
pub struct BtfSourceArgs {
    /// BTF source: raw BTF, an ELF with .BTF (vmlinux, .bpf.o), a vmlinuz/bzImage, or a
    /// BTFHub .btf.tar.xz archive [default: /sys/kernel/btf/vmlinux]
    #[arg(long, value_name = "SRC")]
    pub btf: Option<PathBuf>,
    /// Base BTF for split (module) BTF given with --btf; needed for a module's BTF file,
    /// except under /sys/kernel/btf, where /sys/kernel/btf/vmlinux is the base
    #[arg(long, value_name = "SRC")]
    pub base: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour stdout: `always`/`never` win; `auto` colours a terminal unless
    /// `NO_COLOR` is set (https://no-color.org).
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && io::stdout().is_terminal()
            }
        }
    }
}
