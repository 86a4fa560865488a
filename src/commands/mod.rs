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
