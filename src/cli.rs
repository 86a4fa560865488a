//! The command line: the top-level parser and one clap enum over the subcommands. Each
//! subcommand's `Args` struct lives in its module under `commands`, the option groups several
//! commands share in `commands` itself, so `cli` depends on `commands` and never the reverse.

use clap::{Parser, Subcommand};

use crate::commands::{self, TopOpts};

pub const EXIT_CODES_HELP: &str = "\
Each command's --help lists its own options (--json and -v where they do something; they may
also be given before the command).

Exit status:
  0  ok
  1  the diagnosis found problems
  2  coretool could not run (bad input, missing file, no privilege)";

#[derive(Debug, Parser)]
#[command(
    name = "coretool",
    version,
    about = "Make eBPF CO-RE visible: kernel BTF, vmlinux.h, CO-RE relocations and their fixups",
    after_help = EXIT_CODES_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: TopOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Is this kernel ready for CO-RE? A checklist of findings, each with its fix
    #[command(after_help = CHECK_BTF_HELP)]
    CheckBtf(commands::check_btf::CheckBtfArgs),
    /// Dump BTF types: bpftool's raw format, struct layouts, or JSON
    #[command(after_help = BTF_HELP)]
    Btf(commands::btf::BtfArgs),
    /// Write a vmlinux.h (bpftool's sorted C dump with kfuncs), or a minimal one for a .bpf.o
    #[command(after_help = VMLINUX_HELP, long_about = commands::vmlinux::LONG_ABOUT)]
    Vmlinux(commands::vmlinux::VmlinuxArgs),
    /// List every CO-RE relocation record of BPF objects, decoded, with source lines
    #[command(after_help = RELOCS_HELP)]
    Relocs(commands::relocs::RelocsArgs),
    /// Show libbpf's CO-RE fixups for an object, per field, against one or many kernels
    #[command(after_help = commands::dry_run::AFTER_HELP)]
    DryRun(commands::dry_run::DryRunArgs),
    /// What changed between two kernels' types, limited to what an object reaches
    #[command(after_help = commands::diff::AFTER_HELP)]
    Diff(commands::diff::DiffArgs),
    /// Will it load? Everything an object needs from a kernel, checked against its BTF
    #[command(after_help = commands::requires::AFTER_HELP, long_about = commands::requires::LONG_ABOUT)]
    Requires(commands::requires::RequiresArgs),
    /// Relocate objects against every kernel of a fleet: a verdict per object and kernel
    #[command(after_help = commands::compat::AFTER_HELP, long_about = commands::compat::LONG_ABOUT)]
    Compat(commands::compat::CompatArgs),
    /// Minimal BTF per kernel for a set of objects, proven to relocate them as the full BTF
    #[command(after_help = commands::btfgen::AFTER_HELP, long_about = commands::btfgen::LONG_ABOUT)]
    Btfgen(commands::btfgen::BtfgenArgs),
    /// Prove CO-RE works here: load the bundled probe, run known processes, check every event
    #[command(after_help = SELFTEST_HELP)]
    Selftest(commands::selftest::SelftestArgs),
    /// Live process monitor (exec, fork, exit) built on the bundled CO-RE probe
    #[command(after_help = MONITOR_HELP)]
    Monitor(commands::monitor::MonitorArgs),
    /// Write shell completions or man pages generated from this command line (for packagers)
    #[command(hide = true)]
    Generate(commands::generate::GenerateArgs),
}

const BTF_HELP: &str = "\
Exit status:
  0  ok
  1  names, --kind or --id were given and no type matched
  2  coretool could not run (bad --btf/--base input, missing file)

Examples:
  coretool btf --layout task_struct
  coretool btf --btf /boot/vmlinuz-$(uname -r) --kind struct --json";

const VMLINUX_HELP: &str = "\
Exit status:
  0  the header was written
  2  coretool could not run (bad --btf/--base/--for input, missing file, -o not writable);
     with -o, FILE is then left as it was

Examples:
  coretool vmlinux -o vmlinux.h
  coretool vmlinux --for prog.bpf.o -o vmlinux.h";

const RELOCS_HELP: &str = "\
Exit status:
  0  every object was read (an object without CO-RE records is fine)
  2  an object could not be read or is not a BPF object with BTF; with --json every object
     is still listed, the bad ones with their error

Example:
  coretool relocs prog.bpf.o";

const CHECK_BTF_HELP: &str = "\
Checks kernel BTF (sysfs, libbpf's fallback locations, or --btf), the kernel config, privilege,
tracefs/debugfs, the monitor's tracepoints, kprobe support and libbpf feature probes. Every
non-ok finding carries its fix. Unprivileged, the privileged checks are reported as skipped.

Exit status:
  0  a CO-RE program can load here (no check failed)
  1  it cannot: at least one check failed
  2  the check itself could not run (bad --btf input, uname failed)

Examples:
  coretool check-btf
  coretool check-btf --btf 5.4.0-1010-aws.btf.tar.xz --json";

pub const SELFTEST_HELP: &str = "\
Needs root (or CAP_BPF and CAP_PERFMON); mounts tracefs if it is missing.
Everything loaded is released on exit, also on failure, Ctrl-C or SIGTERM.

Exit status:
  0  every check passed (skipped checks say why they could not run here)
  1  a check failed
  2  the self-test could not run (no privilege, interrupted, bad arguments)

Example (as root):
  coretool selftest --stress 5000";

pub const MONITOR_HELP: &str = "\
Needs root (or CAP_BPF and CAP_PERFMON). Stops cleanly on Ctrl-C or SIGTERM, printing
the final counters.

Exit status:
  0  ok
  2  coretool could not run (no privilege, load or attach failed)

Example (as root):
  coretool monitor --follow $$ --interval 5";
