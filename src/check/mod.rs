//! `check-btf`: is this kernel ready for CO-RE, and if not, the exact fix.
//!
//! Three stages, so that every judgement is testable without the kernel it is about:
//! - [`gather`] reads the machine (sysfs BTF, kernel config, tracefs, and through
//!   [`crate::host`] uname, the mount table, capabilities, the user namespace, sysctls) and
//!   runs libbpf's feature probes when privileged, producing [`Facts`]: plain data, no
//!   judgement;
//! - [`analyse`] turns `Facts` into a [`CheckReport`]: pure, so a kernel without BTF, without
//!   tracefs or with an old config is covered by fixture inputs;
//! - the binary's `render::check` prints the report as a coloured checklist or as JSON.
//!
//! The parsers the gatherer uses ([`config`], and [`crate::host`]'s) are pure too.

pub mod analyse;
pub mod config;
pub mod gather;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::btf::Kind;
use crate::host::{Mount, Privilege, Uname};

pub use analyse::analyse;
pub use gather::gather;

/// The JSON schema name of `check-btf --json`.
pub const SCHEMA: &str = "coretool.check-btf/v1";

/// The detail of every check that needs privilege this process lacks.
pub const NEEDS_PRIVILEGE: &str = "needs root or CAP_BPF";

/// The detail of every check that needs privilege when this process's capabilities are held in
/// a child user namespace, where they do not count for `bpf()`.
pub const NEEDS_INITIAL_USERNS: &str =
    "needs CAP_BPF in the initial user namespace (this process is in a child user namespace)";

/// One finding's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skipped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skipped => "skipped",
        }
    }
}

/// One line of the checklist. Every non-ok finding (except `skipped`, whose detail says why)
/// carries a `fix`: a command, a config option, or `--btf` with a BTF from BTFHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable id: `btf.vmlinux`, `config.KPROBE_EVENTS`, `probe.map.ringbuf`, ...
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

/// The kernel the report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInfo {
    pub release: String,
    pub arch: String,
    /// `uname -v`.
    pub version: String,
    /// `PRETTY_NAME` from os-release.
    pub os: Option<String>,
    /// The BTF that was checked (sysfs, `--btf`, or a libbpf fallback location).
    pub btf: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// The bundled libbpf, `v1.7`.
    pub libbpf: String,
    /// Whether this process may load tracing programs (the privileged checks ran).
    pub privileged: bool,
}

/// Everything `check-btf` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub kernel: KernelInfo,
    pub checks: Vec<Check>,
}

impl CheckReport {
    /// A CO-RE program can load here when no check failed (skipped and warned ones do not
    /// count: warnings name features some programs need, skipped checks could not run).
    pub fn can_load(&self) -> bool {
        !self.checks.iter().any(|c| c.status == Status::Fail)
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The distribution, from `/etc/os-release` (to name the right BTFHub archive).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OsRelease {
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

impl OsRelease {
    /// Parse os-release(5): `KEY=value` with optional quotes.
    pub fn parse(text: &str) -> OsRelease {
        let mut os = OsRelease::default();
        for line in text.lines() {
            let Some((k, v)) = line.trim().split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"').trim_matches('\'').to_owned();
            match k {
                "ID" => os.id = Some(v),
                "VERSION_ID" => os.version_id = Some(v),
                "PRETTY_NAME" => os.pretty_name = Some(v),
                _ => {}
            }
        }
        os
    }
}

/// Where the checked BTF came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtfOrigin {
    /// `/sys/kernel/btf/vmlinux`, the kernel's own.
    Sysfs,
    /// `--btf SRC`.
    Given,
    /// One of libbpf's fallback locations, used because sysfs BTF is absent.
    Fallback,
}

/// A BTF that loaded, and what is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedBtf {
    pub path: PathBuf,
    /// "raw BTF", "xz stream > tar member 5.4.0-1.btf", ...
    pub container: String,
    /// Size of the `.BTF` bytes.
    pub size: usize,
    /// coretool's `type_count` (libbpf's `btf__type_cnt`: void included).
    pub type_count: u32,
    /// How many types of each kind it defines.
    pub kinds: BTreeMap<Kind, u32>,
    /// libbpf's own parse: its `btf__type_cnt`, or the errno it failed with.
    pub libbpf: Result<u32, crate::libbpf::probe::Errno>,
    /// The kernel release the source names (bzImage header, BTFHub member name).
    pub release: Option<String>,
    /// Split (module) BTF on top of a base.
    pub split: bool,
    /// What tells a kernel's BTF from any other BTF.
    pub shape: BtfShape,
}

/// What tells a kernel's BTF from, say, a BPF object's: the kernel's core structs, its size,
/// and whether it matches this machine's byte order and pointer size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfShape {
    /// `struct task_struct` is defined.
    pub task_struct: bool,
    /// `struct bpf_prog` is defined.
    pub bpf_prog: bool,
    /// The byte order the BTF is encoded in is this machine's.
    pub native_endian: bool,
    /// The size of `long` (libbpf's `determine_ptr_size`), when the BTF defines it.
    pub pointer_size: Option<u32>,
}

/// Fewer types than any kernel's BTF has (a minimal kernel's has tens of thousands; a BPF
/// object's, tens).
pub const MIN_KERNEL_TYPES: u32 = 1000;

/// A libbpf fallback location and what it holds (`btf__load_vmlinux_btf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub path: PathBuf,
    pub state: FallbackState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FallbackState {
    Absent,
    /// Exists but unreadable or without BTF: why.
    Unusable(String),
    HasBtf {
        types: u32,
    },
}

/// The kernel BTF situation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfFacts {
    pub origin: BtfOrigin,
    /// The checked BTF, or why none could be read.
    pub loaded: Result<LoadedBtf, String>,
    /// Whether `/sys/kernel/btf/vmlinux` exists (it may still be unreadable).
    pub sysfs_exists: bool,
    /// libbpf's fallback locations, examined when sysfs BTF is absent and no `--btf` was given.
    pub fallbacks: Vec<Fallback>,
}

/// `/sys/kernel/btf/*` besides vmlinux.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleBtf {
    /// Module names whose BTF starts with the BTF magic.
    pub valid: Vec<String>,
    /// Modules whose BTF could not be read or lacks the magic, with why.
    pub invalid: Vec<(String, String)>,
}

/// A tracepoint the bundled monitor attaches to, and the evidence it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracepointFacts {
    /// `sched/sched_process_exec`.
    pub name: String,
    /// From tracefs `events/<name>`: `Ok(exists)`, or why tracefs could not tell.
    pub in_tracefs: Result<bool, String>,
    /// From the checked BTF: a `btf_trace_<event>` typedef exists (`None`: no BTF).
    pub in_btf: Option<bool>,
}

/// The tracepoints `coretool monitor` uses.
pub const MONITOR_TRACEPOINTS: [&str; 3] = [
    "sched/sched_process_exec",
    "sched/sched_process_exit",
    "sched/sched_process_fork",
];

/// Tracing plumbing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracingFacts {
    /// The mount table (`/proc/self/mountinfo`), or why it could not be read.
    pub mounts: Result<Vec<Mount>, String>,
    /// Whether `/proc/filesystems` lists tracefs (`None`: unreadable).
    pub tracefs_supported: Option<bool>,
    pub tracepoints: Vec<TracepointFacts>,
    /// `/sys/bus/event_source/devices/kprobe` exists (the perf kprobe PMU libbpf prefers).
    pub kprobe_pmu: bool,
    /// tracefs `kprobe_events` exists (libbpf's legacy kprobe path), or why unknown.
    pub kprobe_events: Result<bool, String>,
}

/// One libbpf feature probe and its result (`Err`: not run, with why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub probe: analyse::ProbeId,
    pub outcome: Result<crate::libbpf::probe::ProbeOutcome, String>,
}

/// Everything gathered from the machine; [`analyse`] judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub uname: Uname,
    pub os: OsRelease,
    /// `(major, minor)` and `v1.7`.
    pub libbpf_version: (u32, u32),
    pub libbpf_version_string: String,
    pub btf: BtfFacts,
    /// `None` when `/sys/kernel/btf` is not there at all.
    pub modules: Option<ModuleBtf>,
    pub config: Result<config::ConfigSource, config::ConfigMissing>,
    /// Effective uid, capabilities and the user namespace they are held in.
    pub privilege: Privilege,
    pub unprivileged_bpf_disabled: Option<i64>,
    pub bpf_jit_enable: Option<i64>,
    pub tracing: TracingFacts,
    /// `None` when not privileged enough to run them.
    pub probes: Option<Vec<ProbeResult>>,
}
