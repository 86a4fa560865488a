//! Judging [`Facts`]: pure, deterministic, one [`Check`] per finding in a fixed order.
//!
//! Severity policy (the exit code follows it): `fail` only for what stops any CO-RE tracing
//! program from loading (no usable kernel BTF, BTF the bundled libbpf cannot read, no
//! `bpf()` syscall, no BPF tracing program types); `warn` for what stops some programs or
//! attach methods (kprobes, tracefs, ring buffer, module BTF) and for what this process may not
//! do (privilege, including capabilities held in a child user namespace); `skipped` for what
//! this process cannot check (privilege, a missing config). A feature probe that `bpf()` refused
//! (`EPERM`, `EACCES`) is a privilege finding, never "not supported by this kernel".

use std::path::Path;

use super::config::KernelConfig;
use super::*;
use crate::host::mounts::{self, Mount, DEBUGFS_PATH, TRACEFS_PATH};
use crate::host::{UserNsKind, CHILD_USERNS_FIX};
use crate::libbpf::probe::{Errno, ProbeOutcome};

/// BTF kinds newer than the original set: `(kind, first libbpf that reads it, first kernel
/// that emits it)`. Versions from libbpf's history (`BTF_KIND_FLOAT` in v0.4.0, ...).
pub(crate) const NEWER_KINDS: [(Kind, (u32, u32), &str); 4] = [
    (Kind::Float, (0, 4), "5.13"),
    (Kind::DeclTag, (0, 6), "5.16"),
    (Kind::TypeTag, (0, 6), "5.17"),
    (Kind::Enum64, (1, 0), "6.0"),
];

/// The libbpf feature probes `check-btf` runs when privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeId {
    MapRingbuf,
    MapPercpuArray,
    ProgTracepoint,
    ProgKprobe,
    HelperGetCurrentTask,
    TpBtf,
}

impl ProbeId {
    pub const ALL: [ProbeId; 6] = [
        ProbeId::MapRingbuf,
        ProbeId::MapPercpuArray,
        ProbeId::ProgTracepoint,
        ProbeId::ProgKprobe,
        ProbeId::HelperGetCurrentTask,
        ProbeId::TpBtf,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProbeId::MapRingbuf => "probe.map.ringbuf",
            ProbeId::MapPercpuArray => "probe.map.percpu_array",
            ProbeId::ProgTracepoint => "probe.prog.tracepoint",
            ProbeId::ProgKprobe => "probe.prog.kprobe",
            ProbeId::HelperGetCurrentTask => "probe.helper.get_current_task",
            ProbeId::TpBtf => "probe.prog.tp_btf",
        }
    }

    /// What was probed, in the kernel's words.
    pub fn what(self) -> &'static str {
        match self {
            ProbeId::MapRingbuf => "BPF_MAP_TYPE_RINGBUF",
            ProbeId::MapPercpuArray => "BPF_MAP_TYPE_PERCPU_ARRAY",
            ProbeId::ProgTracepoint => "BPF_PROG_TYPE_TRACEPOINT",
            ProbeId::ProgKprobe => "BPF_PROG_TYPE_KPROBE",
            ProbeId::HelperGetCurrentTask => "bpf_get_current_task() from a tracepoint program",
            ProbeId::TpBtf => {
                "BTF-enabled tracepoint (tp_btf/sched_process_exec, BPF_PROG_TYPE_TRACING)"
            }
        }
    }

    /// How it was probed.
    fn how(self) -> &'static str {
        match self {
            ProbeId::MapRingbuf | ProbeId::MapPercpuArray => "libbpf_probe_bpf_map_type",
            ProbeId::ProgTracepoint | ProbeId::ProgKprobe => "libbpf_probe_bpf_prog_type",
            ProbeId::HelperGetCurrentTask => "libbpf_probe_bpf_helper",
            ProbeId::TpBtf => "bpf_prog_load at btf_trace_sched_process_exec",
        }
    }

    /// Status when the kernel lacks it, and the fix.
    fn when_missing(self) -> (Status, &'static str) {
        match self {
            ProbeId::MapRingbuf => (
                Status::Warn,
                "use a kernel >= 5.8 (ring buffer), or BPF_MAP_TYPE_PERF_EVENT_ARRAY in the program",
            ),
            ProbeId::MapPercpuArray => (Status::Warn, "use a kernel >= 4.6"),
            ProbeId::ProgTracepoint => (
                Status::Fail,
                "rebuild the kernel with CONFIG_BPF_EVENTS=y (needs CONFIG_TRACEPOINTS=y)",
            ),
            ProbeId::ProgKprobe => (
                Status::Warn,
                "rebuild the kernel with CONFIG_BPF_EVENTS=y, CONFIG_KPROBES=y, CONFIG_KPROBE_EVENTS=y",
            ),
            ProbeId::HelperGetCurrentTask => (Status::Warn, "use a kernel >= 4.8"),
            ProbeId::TpBtf => (
                Status::Warn,
                "use a kernel >= 5.5 built with CONFIG_DEBUG_INFO_BTF=y, or use SEC(\"tracepoint/...\") programs",
            ),
        }
    }
}

fn check(name: &str, status: Status, detail: impl Into<String>, fix: Option<String>) -> Check {
    Check {
        name: name.to_owned(),
        status,
        detail: detail.into(),
        fix,
    }
}
fn ok(name: &str, detail: impl Into<String>) -> Check {
    check(name, Status::Ok, detail, None)
}
fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    check(name, Status::Warn, detail, Some(fix.into()))
}
fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    check(name, Status::Fail, detail, Some(fix.into()))
}
fn skipped(name: &str, detail: impl Into<String>) -> Check {
    check(name, Status::Skipped, detail, None)
}

/// Judge the facts.
pub fn analyse(f: &Facts) -> CheckReport {
    let mut checks = Vec::new();
    checks.push(ok("kernel", kernel_detail(f)));
    btf_checks(f, &mut checks);
    config_checks(f, &mut checks);
    privilege_checks(f, &mut checks);
    tracing_checks(f, &mut checks);
    probe_checks(f, &mut checks);
    CheckReport {
        kernel: KernelInfo {
            release: f.uname.release.clone(),
            arch: f.uname.machine.clone(),
            version: f.uname.version.clone(),
            os: f.os.pretty_name.clone(),
            btf: f.btf.loaded.as_ref().ok().map(|b| b.path.clone()),
            config: f.config.as_ref().ok().map(|c| c.path.clone()),
            libbpf: f.libbpf_version_string.clone(),
            privileged: f.privilege.can_trace(),
        },
        checks,
    }
}

fn kernel_detail(f: &Facts) -> String {
    let mut s = format!("Linux {} {}", f.uname.release, f.uname.machine);
    if let Some(os) = &f.os.pretty_name {
        s.push_str(&format!(", {os}"));
    }
    s
}

/// The command that fetches this kernel's BTF from BTFHub and checks it.
/// The distributions and releases BTFHub's archive (github.com/aquasecurity/btfhub-archive)
/// carries BTF for, as `/etc/os-release` `ID` and the archive's version directory. It covers
/// kernels shipped without BTF; releases whose kernels have their own (Debian 12, Ubuntu 22.04,
/// Fedora 32+, ...) are not there.
const BTFHUB_RELEASES: &[(&str, &[&str])] = &[
    ("amzn", &["1", "2"]),
    ("centos", &["7", "8"]),
    ("debian", &["9", "10", "11"]),
    ("fedora", &["29", "30", "31"]),
    ("ol", &["7", "8"]),
    ("rhel", &["7", "8"]),
    ("sles", &["12.3", "12.4", "12.5", "15.1", "15.2", "15.3"]),
    ("ubuntu", &["16.04", "18.04", "20.04"]),
];

/// BTFHub's version directory for an `/etc/os-release` `VERSION_ID`: the major version for
/// the distributions it files that way (`rhel/8` for 8.4), the full version otherwise.
fn btfhub_version<'a>(distro: &str, version_id: &'a str) -> &'a str {
    match distro {
        "amzn" | "centos" | "debian" | "ol" | "rhel" => {
            version_id.split('.').next().unwrap_or(version_id)
        }
        _ => version_id,
    }
}

/// How to get BTF for this kernel from outside it: BTFHub's archive when it carries this
/// distribution release, else the kernel's debug symbols through pahole.
pub(crate) fn btfhub_fix(f: &Facts) -> String {
    // BTFHub names arm64 the Debian way.
    let arch = match f.uname.machine.as_str() {
        "aarch64" => "arm64",
        m => m,
    };
    let rel = &f.uname.release;
    let distro = f.os.id.as_deref();
    let version =
        f.os.version_id
            .as_deref()
            .map(|v| btfhub_version(distro.unwrap_or(""), v));
    let covered = match (distro, version) {
        (Some(d), Some(v)) => BTFHUB_RELEASES
            .iter()
            .any(|(name, versions)| *name == d && versions.contains(&v)),
        _ => false,
    };
    if let (true, Some(distro), Some(version)) = (covered, distro, version) {
        return format!(
            "curl -LO https://github.com/aquasecurity/btfhub-archive/raw/main/{distro}/{version}/{arch}/{rel}.btf.tar.xz \
             && coretool check-btf --btf {rel}.btf.tar.xz"
        );
    }
    let which = match (distro, f.os.version_id.as_deref()) {
        (Some(d), Some(v)) => format!("{d} {v}"),
        (Some(d), None) => d.to_owned(),
        _ => "this distribution (no /etc/os-release)".to_owned(),
    };
    let debug = match distro {
        Some("debian") => format!(
            "apt-get install linux-image-{rel}-dbg && pahole --btf_encode_detached {rel}.btf /usr/lib/debug/boot/vmlinux-{rel}"
        ),
        Some("ubuntu") => format!(
            "apt-get install linux-image-unsigned-{rel}-dbgsym (from ddebs.ubuntu.com) && pahole --btf_encode_detached {rel}.btf /usr/lib/debug/boot/vmlinux-{rel}"
        ),
        _ => format!(
            "install the kernel's debug symbols (its vmlinux with DWARF) and run pahole --btf_encode_detached {rel}.btf VMLINUX"
        ),
    };
    format!(
        "BTFHub has no BTF for {which}; generate it: {debug} && coretool check-btf --btf {rel}.btf"
    )
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn btf_checks(f: &Facts, out: &mut Vec<Check>) {
    let sysfs = crate::source::SYSFS_VMLINUX;
    let rebuild =
        "rebuild the kernel with CONFIG_DEBUG_INFO_BTF=y (and CONFIG_DEBUG_INFO_BTF_MODULES=y)";
    let btf_config = f
        .config
        .as_ref()
        .ok()
        .map(|c| c.config.enabled("CONFIG_DEBUG_INFO_BTF"));
    let loaded = match (&f.btf.loaded, &f.btf.origin) {
        (Ok(b), origin) => {
            let what = format!(
                "{}: {} types, {} of {}{}",
                b.path.display(),
                b.type_count.saturating_sub(1),
                mib(b.size),
                b.container,
                if b.split { " (split BTF)" } else { "" }
            );
            out.push(match origin {
                BtfOrigin::Sysfs => ok("btf.vmlinux", format!("{what}, parsed by coretool")),
                BtfOrigin::Given => ok(
                    "btf.vmlinux",
                    format!("{what} (given with --btf), parsed by coretool"),
                ),
                BtfOrigin::Fallback => warn(
                    "btf.vmlinux",
                    format!("{sysfs} is absent; libbpf falls back to {what}"),
                    rebuild,
                ),
            });
            Some(b)
        }
        (Err(why), BtfOrigin::Given) => {
            out.push(fail("btf.vmlinux", why.clone(), btfhub_fix(f)));
            None
        }
        (Err(why), _) if !f.btf.sysfs_exists && btf_config == Some(true) => {
            // The config promises sysfs BTF (5.4+): /sys itself is missing or hidden.
            let why =
                format!("{why} although the config has CONFIG_DEBUG_INFO_BTF=y: is sysfs mounted?");
            let fix = format!("mount -t sysfs sysfs /sys; or {}", btfhub_fix(f));
            out.push(fail("btf.vmlinux", why, fix));
            None
        }
        (Err(why), _) => {
            let why = match btf_config {
                Some(false) if !f.btf.sysfs_exists => {
                    format!("{why}: the kernel is built without CONFIG_DEBUG_INFO_BTF")
                }
                _ => why.clone(),
            };
            let fix = format!("{}; or {rebuild}", btfhub_fix(f));
            out.push(fail("btf.vmlinux", why, fix));
            None
        }
    };

    // libbpf's own parse.
    match loaded {
        Some(b) => out.push(match &b.libbpf {
            Ok(n) if *n == b.type_count => ok(
                "btf.libbpf",
                format!(
                    "bundled libbpf {} parses it: {} types, as coretool counted",
                    f.libbpf_version_string,
                    n.saturating_sub(1)
                ),
            ),
            Ok(n) => fail(
                "btf.libbpf",
                format!(
                    "bundled libbpf {} counts {} types, coretool {}: the BTF is read differently",
                    f.libbpf_version_string,
                    n.saturating_sub(1),
                    b.type_count.saturating_sub(1)
                ),
                "report this BTF to coretool's issue tracker; meanwhile try --btf with the BTFHub archive",
            ),
            Err(e) => fail(
                "btf.libbpf",
                format!(
                    "bundled libbpf {} cannot parse it: {e}",
                    f.libbpf_version_string
                ),
                btfhub_fix(f),
            ),
        }),
        None => out.push(skipped("btf.libbpf", "no kernel BTF to parse")),
    }

    // Newer kinds, and whether the bundled libbpf reads them.
    match loaded {
        Some(b) => out.push(kinds_check(f, b)),
        None => out.push(skipped("btf.kinds", "no kernel BTF to inspect")),
    }

    // A --btf whose release is known and differs from the running kernel.
    if let (Some(b), BtfOrigin::Given) = (loaded, &f.btf.origin) {
        if let Some(rel) = &b.release {
            out.push(if *rel == f.uname.release {
                ok("btf.release", format!("the BTF is for {rel}, the running kernel"))
            } else {
                warn(
                    "btf.release",
                    format!(
                        "the BTF is for {rel} but this kernel is {}: relocations would target the wrong layouts",
                        f.uname.release
                    ),
                    btfhub_fix(f),
                )
            });
        }
    }

    // A --btf that is not a kernel's at all.
    if let (Some(b), BtfOrigin::Given) = (loaded, &f.btf.origin) {
        if !b.split {
            out.push(kernel_shape_check(b));
        }
    }

    // libbpf's fallback locations, when they mattered.
    if !f.btf.fallbacks.is_empty() {
        let found = f
            .btf
            .fallbacks
            .iter()
            .find(|fb| matches!(fb.state, FallbackState::HasBtf { .. }));
        let list = f
            .btf
            .fallbacks
            .iter()
            .map(|fb| {
                let state = match &fb.state {
                    FallbackState::Absent => "absent".to_owned(),
                    FallbackState::Unusable(why) => why.clone(),
                    FallbackState::HasBtf { types } => format!("BTF, {} types", types - 1),
                };
                format!("{} ({state})", fb.path.display())
            })
            .collect::<Vec<_>>()
            .join(", ");
        out.push(match found {
            Some(fb) => ok(
                "btf.fallback",
                format!("libbpf will load {}; checked {list}", fb.path.display()),
            ),
            None => fail(
                "btf.fallback",
                format!("no libbpf fallback location holds BTF: {list}"),
                btfhub_fix(f),
            ),
        });
    }

    out.push(module_check(f));
}

/// Whether a `--btf` is a kernel's BTF for this machine: a BPF object's BTF, one of another
/// byte order or pointer size cannot stand in for it.
fn kernel_shape_check(b: &LoadedBtf) -> Check {
    let s = &b.shape;
    let types = b.type_count.saturating_sub(1);
    let host_ptr = std::mem::size_of::<usize>() as u32;
    let mut wrong = Vec::new();
    let missing: Vec<&str> = [
        (!s.task_struct).then_some("struct task_struct"),
        (!s.bpf_prog).then_some("struct bpf_prog"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        wrong.push(format!("no {}", missing.join(" or ")));
    }
    if types < MIN_KERNEL_TYPES {
        wrong.push(format!(
            "{types} types, far too few for a kernel (fewer than {MIN_KERNEL_TYPES})"
        ));
    }
    if !s.native_endian {
        wrong.push("encoded in the other byte order than this machine's".to_owned());
    }
    match s.pointer_size {
        Some(p) if p != host_ptr => wrong.push(format!(
            "{p}-byte pointers, this machine has {host_ptr}-byte ones"
        )),
        _ => {}
    }
    if wrong.is_empty() {
        ok(
            "btf.kernel",
            format!(
                "a kernel's BTF for this machine: struct task_struct, struct bpf_prog, {types} types, native byte order{}",
                s.pointer_size
                    .map_or(String::new(), |p| format!(", {p}-byte pointers"))
            ),
        )
    } else {
        fail(
            "btf.kernel",
            format!("not a kernel's BTF for this machine: {}", wrong.join("; ")),
            "give the running kernel's BTF: its vmlinux or vmlinuz, a BTFHub archive for this release, or /sys/kernel/btf/vmlinux",
        )
    }
}

fn kinds_check(f: &Facts, b: &LoadedBtf) -> Check {
    let (maj, min) = f.libbpf_version;
    let mut used = Vec::new();
    let mut unused = Vec::new();
    let mut unreadable = Vec::new();
    for (kind, need, kernel) in NEWER_KINDS {
        match b.kinds.get(&kind).copied().unwrap_or(0) {
            0 => unused.push(kind.lower_name()),
            n => {
                used.push(format!("{} ({n})", kind.lower_name()));
                if (maj, min) < need {
                    unreadable.push(format!(
                        "{} needs libbpf >= v{}.{} (kernel {kernel}+ emits it)",
                        kind.lower_name(),
                        need.0,
                        need.1
                    ));
                }
            }
        }
    }
    let mut detail = if used.is_empty() {
        "uses none of the newer kinds".to_owned()
    } else {
        format!("uses {}", used.join(", "))
    };
    if !unused.is_empty() {
        detail.push_str(&format!("; not {}", unused.join(", ")));
    }
    if unreadable.is_empty() {
        detail.push_str(&format!(
            "; bundled libbpf {} reads them all",
            f.libbpf_version_string
        ));
        ok("btf.kinds", detail)
    } else {
        detail.push_str(&format!("; {}", unreadable.join("; ")));
        fail(
            "btf.kinds",
            detail,
            "build coretool against a newer libbpf (libbpf-sys with vendored libbpf >= 1.0)",
        )
    }
}

fn module_check(f: &Facts) -> Check {
    let cfg = f.config.as_ref().ok().map(|c| &c.config);
    let no_modules = cfg.is_some_and(|c| !c.enabled("CONFIG_MODULES"));
    let Some(m) = &f.modules else {
        return skipped("btf.modules", "/sys/kernel/btf does not exist");
    };
    if !m.invalid.is_empty() {
        let bad = m
            .invalid
            .iter()
            .map(|(n, why)| format!("{n}: {why}"))
            .collect::<Vec<_>>()
            .join(", ");
        return warn(
            "btf.modules",
            format!("{} modules with BTF, unreadable: {bad}", m.valid.len()),
            "run as root, or reinstall the modules built with CONFIG_DEBUG_INFO_BTF_MODULES=y",
        );
    }
    if m.valid.is_empty() {
        if no_modules {
            return ok(
                "btf.modules",
                "none: the kernel is built without modules (CONFIG_MODULES is not set)",
            );
        }
        return warn(
            "btf.modules",
            "no module BTF under /sys/kernel/btf: programs cannot relocate against module types",
            "rebuild the kernel with CONFIG_DEBUG_INFO_BTF_MODULES=y",
        );
    }
    ok(
        "btf.modules",
        format!("{} modules with BTF under /sys/kernel/btf", m.valid.len()),
    )
}

/// A config option `check-btf` reports: what missing it costs (status) and what it provides.
struct Wanted {
    option: &'static str,
    missing: Status,
    why: &'static str,
}

const WANTED: [Wanted; 8] = [
    Wanted {
        option: "CONFIG_BPF_SYSCALL",
        missing: Status::Fail,
        why: "the bpf() syscall",
    },
    Wanted {
        option: "CONFIG_DEBUG_INFO_BTF",
        missing: Status::Fail,
        why: "kernel BTF at /sys/kernel/btf/vmlinux",
    },
    Wanted {
        option: "CONFIG_DEBUG_INFO_BTF_MODULES",
        missing: Status::Warn,
        why: "module BTF under /sys/kernel/btf",
    },
    Wanted {
        option: "CONFIG_BPF_JIT",
        missing: Status::Warn,
        why: "the BPF JIT compiler",
    },
    Wanted {
        option: "CONFIG_BPF_EVENTS",
        missing: Status::Fail,
        why: "kprobe, tracepoint and perf_event BPF programs",
    },
    Wanted {
        option: "CONFIG_KPROBE_EVENTS",
        missing: Status::Warn,
        why: "kprobe attachment (SEC(\"kprobe/...\"))",
    },
    Wanted {
        option: "CONFIG_UPROBE_EVENTS",
        missing: Status::Warn,
        why: "uprobe attachment (SEC(\"uprobe/...\"))",
    },
    Wanted {
        option: "CONFIG_FTRACE_SYSCALLS",
        missing: Status::Warn,
        why: "syscalls/sys_enter_* tracepoints",
    },
];

/// What `CONFIG_DEBUG_INFO_BTF` depends on (lib/Kconfig.debug), as `(option, wanted)`:
/// `true` means it must be enabled, `false` that it must not be.
const BTF_NEEDS: [(&str, bool); 4] = [
    ("CONFIG_DEBUG_INFO", true),
    ("CONFIG_DEBUG_INFO_REDUCED", false),
    ("CONFIG_DEBUG_INFO_SPLIT", false),
    ("CONFIG_BPF_SYSCALL", true),
];

/// pahole 1.16 is the oldest that encodes BTF (`PAHOLE_VERSION >= 116`).
const PAHOLE_MIN: u64 = 116;

fn config_checks(f: &Facts, out: &mut Vec<Check>) {
    let cfg = match &f.config {
        Ok(src) => {
            let mut detail = format!("{} ({} options", src.path.display(), src.config.len());
            if let Some(v) = &src.config.version {
                detail.push_str(&format!(", Linux {v}"));
            }
            detail.push(')');
            out.push(ok("config", detail));
            &src.config
        }
        Err(missing) => {
            let tried = missing
                .tried
                .iter()
                .map(|(p, why)| format!("{}: {why}", p.display()))
                .collect::<Vec<_>>()
                .join("; ");
            out.push(warn(
                "config",
                format!("config not available ({tried})"),
                format!(
                    "modprobe configs (provides /proc/config.gz when CONFIG_IKCONFIG=m), or install the distribution's /boot/config-{}",
                    f.uname.release
                ),
            ));
            for w in &WANTED {
                out.push(skipped(&config_name(w.option), "config not available"));
            }
            out.push(skipped("config.btf_needs", "config not available"));
            return;
        }
    };
    let btf_usable = f.btf.loaded.is_ok();
    for w in &WANTED {
        out.push(config_option_check(cfg, w, btf_usable));
    }
    out.push(btf_needs_check(cfg, btf_usable));
}

fn config_name(option: &str) -> String {
    format!("config.{}", option.trim_start_matches("CONFIG_"))
}

fn config_option_check(cfg: &KernelConfig, w: &Wanted, btf_usable: bool) -> Check {
    let name = config_name(w.option);
    let state = cfg.describe(w.option);
    if cfg.enabled(w.option) {
        return ok(&name, format!("{state}: {}", w.why));
    }
    let mut detail = format!("{state}: no {}", w.why);
    let mut status = w.missing;
    let fix = match w.option {
        "CONFIG_DEBUG_INFO_BTF" => {
            if btf_usable {
                // A --btf or fallback BTF is the workaround already in place.
                status = Status::Warn;
                detail.push_str(" (the BTF checked above stands in for it)");
            }
            let unmet = unmet_btf_needs(cfg);
            if unmet.is_empty() {
                "rebuild the kernel with CONFIG_DEBUG_INFO_BTF=y (pahole >= 1.16 at build time), or use --btf with a BTFHub archive".to_owned()
            } else {
                format!(
                    "rebuild the kernel with CONFIG_DEBUG_INFO_BTF=y and {}, or use --btf with a BTFHub archive",
                    unmet.join(", ")
                )
            }
        }
        "CONFIG_DEBUG_INFO_BTF_MODULES" if !cfg.enabled("CONFIG_MODULES") => {
            return ok(
                &name,
                format!("{state}: not needed, {}", cfg.describe("CONFIG_MODULES")),
            );
        }
        "CONFIG_KPROBE_EVENTS" if !cfg.enabled("CONFIG_KPROBES") => {
            detail.push_str(&format!(" ({})", cfg.describe("CONFIG_KPROBES")));
            "rebuild the kernel with CONFIG_KPROBES=y and CONFIG_KPROBE_EVENTS=y, or attach to tracepoints/tp_btf instead".to_owned()
        }
        "CONFIG_KPROBE_EVENTS" => "rebuild the kernel with CONFIG_KPROBE_EVENTS=y, or attach to tracepoints/tp_btf instead".to_owned(),
        "CONFIG_UPROBE_EVENTS" => "rebuild the kernel with CONFIG_UPROBES=y and CONFIG_UPROBE_EVENTS=y".to_owned(),
        "CONFIG_BPF_EVENTS" => {
            "rebuild the kernel with CONFIG_BPF_EVENTS=y (needs CONFIG_KPROBE_EVENTS or CONFIG_UPROBE_EVENTS or CONFIG_PERF_EVENTS)".to_owned()
        }
        opt => format!("rebuild the kernel with {opt}=y"),
    };
    check(&name, status, detail, Some(fix))
}

/// The `CONFIG_DEBUG_INFO_BTF` dependencies this config does not meet, as the settings to make.
fn unmet_btf_needs(cfg: &KernelConfig) -> Vec<String> {
    let mut unmet: Vec<String> = BTF_NEEDS
        .iter()
        .filter(|(opt, want)| cfg.enabled(opt) != *want)
        .map(|(opt, want)| {
            if *want {
                format!("{opt}=y")
            } else {
                format!("{opt} unset")
            }
        })
        .collect();
    if let Some(v) = cfg.number("CONFIG_PAHOLE_VERSION") {
        if v < PAHOLE_MIN {
            unmet.push(format!(
                "pahole >= 1.16 (CONFIG_PAHOLE_VERSION={v}: install dwarves)"
            ));
        }
    }
    unmet
}

fn btf_needs_check(cfg: &KernelConfig, btf_usable: bool) -> Check {
    let name = "config.btf_needs";
    let mut have: Vec<String> = BTF_NEEDS.iter().map(|(o, _)| cfg.describe(o)).collect();
    if cfg.get("CONFIG_PAHOLE_VERSION").is_some() {
        have.push(cfg.describe("CONFIG_PAHOLE_VERSION"));
    }
    let unmet = unmet_btf_needs(cfg);
    if unmet.is_empty() {
        return ok(
            name,
            format!("CONFIG_DEBUG_INFO_BTF's needs are met: {}", have.join(", ")),
        );
    }
    // Unmet needs only block CO-RE when no BTF is usable at all.
    let status = if cfg.enabled("CONFIG_DEBUG_INFO_BTF") || btf_usable {
        Status::Warn
    } else {
        Status::Fail
    };
    check(
        name,
        status,
        format!(
            "CONFIG_DEBUG_INFO_BTF needs {}; this config has {}",
            unmet.join(", "),
            have.join(", ")
        ),
        Some(format!(
            "rebuild the kernel with {} and CONFIG_DEBUG_INFO_BTF=y",
            unmet.join(", ")
        )),
    )
}

fn privilege_checks(f: &Facts, out: &mut Vec<Check>) {
    let p = &f.privilege;
    let held = p.held();
    let caps = if held.is_empty() {
        "no BPF capabilities".to_owned()
    } else {
        held.join(" ")
    };
    let who = format!("euid {}, {caps}", p.euid);
    let grant = "run as root (sudo coretool check-btf), or grant the capabilities: sudo setcap cap_bpf,cap_perfmon+ep \"$(command -v coretool)\"";
    out.push(if let UserNsKind::Child { evidence } = p.user_ns.kind() {
        warn(
            "privilege",
            format!("{who} in a child user namespace ({evidence}): capabilities held there do not grant bpf(); privileged checks skipped"),
            CHILD_USERNS_FIX,
        )
    } else if p.cap_eff.is_none() {
        warn(
            "privilege",
            "cannot read CapEff from /proc/self/status",
            "mount /proc, or run as root",
        )
    } else if p.can_trace() {
        ok(
            "privilege",
            format!("{who}: may load and attach tracing programs"),
        )
    } else if p.can_bpf() {
        warn(
            "privilege",
            format!("{who}: may call bpf() but tracing programs also need CAP_PERFMON"),
            grant,
        )
    } else {
        warn(
            "privilege",
            format!("{who}: cannot load tracing programs; privileged checks skipped"),
            grant,
        )
    });

    let name = "sysctl.unprivileged_bpf_disabled";
    out.push(match f.unprivileged_bpf_disabled {
        None => skipped(name, "kernel.unprivileged_bpf_disabled is not readable"),
        Some(v) => {
            let meaning = match v {
                0 => "unprivileged users may load socket filters; tracing always needs CAP_BPF+CAP_PERFMON",
                1 => "bpf() needs privilege, until reboot",
                2 => "bpf() needs privilege (an admin may set 0)",
                _ => "unknown value",
            };
            ok(name, format!("{v}: {meaning}"))
        }
    });

    let name = "sysctl.bpf_jit_enable";
    let jit_config = f
        .config
        .as_ref()
        .ok()
        .map(|c| c.config.describe("CONFIG_BPF_JIT"));
    out.push(match f.bpf_jit_enable {
        Some(1) => ok(name, "1: programs are JIT-compiled"),
        Some(2) => ok(name, "2: programs are JIT-compiled (with debug output)"),
        Some(v) => warn(
            name,
            format!("{v}: programs run in the interpreter (slower; some features need the JIT)"),
            "sysctl -w net.core.bpf_jit_enable=1",
        ),
        None => warn(
            name,
            format!(
                "net.core.bpf_jit_enable does not exist: no BPF JIT ({})",
                jit_config.unwrap_or_else(|| "config not available".into())
            ),
            "rebuild the kernel with CONFIG_BPF_JIT=y",
        ),
    });
}

fn tracing_checks(f: &Facts, out: &mut Vec<Check>) {
    let t = &f.tracing;
    let mount_tracefs = format!("mount -t tracefs tracefs {TRACEFS_PATH}");
    let table = match &t.mounts {
        Ok(m) => m.as_slice(),
        Err(why) => {
            out.push(warn(
                "tracefs",
                format!("cannot read the mount table: {why}"),
                "mount -t proc proc /proc",
            ));
            &[]
        }
    };
    let tracefs = mounts::targets_of(table, "tracefs");
    let debugfs = mounts::targets_of(table, "debugfs");
    let list = |v: &[&Mount]| {
        v.iter()
            .map(|m| m.target.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let debugfs_std = debugfs.iter().any(|m| m.target == Path::new(DEBUGFS_PATH));
    if t.mounts.is_ok() {
        out.push(if !tracefs.is_empty() {
            ok("tracefs", format!("mounted at {}", list(&tracefs)))
        } else if t.tracefs_supported == Some(false) {
            fail(
                "tracefs",
                "the kernel has no tracefs (not in /proc/filesystems)",
                "rebuild the kernel with CONFIG_TRACING=y (CONFIG_FTRACE=y)",
            )
        } else if debugfs_std {
            ok(
                "tracefs",
                format!("not mounted itself; the kernel automounts it at {DEBUGFS_PATH}/tracing inside debugfs, where libbpf looks"),
            )
        } else {
            warn(
                "tracefs",
                format!("not mounted (libbpf reads tracepoint ids from {TRACEFS_PATH} or {DEBUGFS_PATH}/tracing): SEC(\"tracepoint/...\") programs cannot attach; tp_btf and raw_tp can"),
                mount_tracefs.clone(),
            )
        });
        out.push(if !debugfs.is_empty() {
            ok("debugfs", format!("mounted at {}", list(&debugfs)))
        } else if !tracefs.is_empty() {
            ok("debugfs", "not mounted; not needed, tracefs is mounted")
        } else {
            // libbpf uses debugfs only to reach tracefs: mounting tracefs (the fix above) is
            // enough, so this is not a finding of its own.
            ok(
                "debugfs",
                "not mounted; libbpf needs it only to reach tracefs (see tracefs)",
            )
        });
    }

    for tp in &t.tracepoints {
        let name = format!("tracepoint.{}", tp.name);
        let event = tp.name.rsplit('/').next().unwrap_or(&tp.name);
        let typedef = format!("btf_trace_{event}");
        out.push(match (&tp.in_tracefs, tp.in_btf) {
            (Ok(true), _) => ok(&name, format!("tracefs has events/{}", tp.name)),
            (Ok(false), _) => warn(
                &name,
                format!("tracefs has no events/{}: this kernel lacks the tracepoint", tp.name),
                "use a kernel with CONFIG_TRACEPOINTS=y that defines it (sched tracepoints exist since 2.6.28)",
            ),
            (Err(why), Some(true)) => ok(
                &name,
                format!("kernel BTF has {typedef} ({why}, events/ not checked)"),
            ),
            (Err(why), Some(false)) => warn(
                &name,
                format!("kernel BTF has no {typedef} and tracefs cannot tell ({why})"),
                mount_tracefs.clone(),
            ),
            (Err(why), None) => skipped(&name, format!("no kernel BTF and tracefs cannot tell ({why})")),
        });
    }

    out.push(kprobe_check(f));
}

fn kprobe_check(f: &Facts) -> Check {
    let t = &f.tracing;
    let name = "kprobes";
    const PMU: &str = crate::host::KPROBE_PMU;
    if t.kprobe_pmu {
        return ok(
            name,
            format!("kprobe PMU at {PMU} (libbpf attaches through perf_event_open)"),
        );
    }
    if t.kprobe_events == Ok(true) {
        return ok(
            name,
            "no kprobe PMU, but tracefs has kprobe_events (libbpf's legacy kprobe path)",
        );
    }
    let events = match &t.kprobe_events {
        Ok(_) => "tracefs has no kprobe_events".to_owned(),
        Err(why) => format!("kprobe_events unknown ({why})"),
    };
    let cfg = f.config.as_ref().ok().map(|c| &c.config);
    let (config_says, fix) = match cfg {
        Some(c) if !c.enabled("CONFIG_KPROBE_EVENTS") => (
            format!(
                "{}{}",
                c.describe("CONFIG_KPROBE_EVENTS"),
                if c.enabled("CONFIG_KPROBES") {
                    String::new()
                } else {
                    format!(", {}", c.describe("CONFIG_KPROBES"))
                }
            ),
            "rebuild the kernel with CONFIG_KPROBES=y and CONFIG_KPROBE_EVENTS=y, or attach to tracepoints/tp_btf instead",
        ),
        Some(c) if t.kprobe_events.is_err() => (
            c.describe("CONFIG_KPROBE_EVENTS"),
            "mount -t tracefs tracefs /sys/kernel/tracing (libbpf's legacy kprobe path)",
        ),
        Some(c) => (
            format!(
                "{}, yet the running kernel has neither: the config does not describe it",
                c.describe("CONFIG_KPROBE_EVENTS")
            ),
            "boot a kernel built with CONFIG_KPROBE_EVENTS=y (check that /boot/config-$(uname -r) is the running kernel's)",
        ),
        None => (
            "config not available".to_owned(),
            "rebuild the kernel with CONFIG_KPROBES=y and CONFIG_KPROBE_EVENTS=y, or attach to tracepoints/tp_btf instead",
        ),
    };
    warn(
        name,
        format!("kprobe programs cannot attach: no kprobe PMU at {PMU}, {events}; {config_says}"),
        fix,
    )
}

/// `bpf()` refused this process: a privilege problem whatever the probe.
fn is_refusal(e: Errno) -> bool {
    e.0 == libc::EPERM || e.0 == libc::EACCES
}

/// The fix for a probe that `bpf()` refused.
fn refusal_fix(f: &Facts) -> &'static str {
    if f.privilege.in_child_user_ns() {
        CHILD_USERNS_FIX
    } else {
        "run as root (sudo coretool check-btf) in the initial user namespace; if already root, check for a seccomp filter, an LSM or lockdown denying bpf() (dmesg)"
    }
}

fn probe_checks(f: &Facts, out: &mut Vec<Check>) {
    let Some(results) = &f.probes else {
        let why = if f.privilege.in_child_user_ns() {
            super::NEEDS_INITIAL_USERNS
        } else {
            super::NEEDS_PRIVILEGE
        };
        for p in ProbeId::ALL {
            out.push(skipped(p.name(), why));
        }
        return;
    };
    let kprobes_attach = f.tracing.kprobe_pmu || f.tracing.kprobe_events == Ok(true);
    // Once bpf() refused one probe, libbpf's "unsupported" (a failed load whatever the errno)
    // says nothing about the kernel, nor does its helper probe's "supported" (assumed when
    // the load fails without a verifier message) unless the program type itself loaded.
    let refused = results.iter().find_map(|r| match r.outcome {
        Ok(ProbeOutcome::Error(e)) if is_refusal(e) => Some((r.probe, e)),
        _ => None,
    });
    let tracepoint_loads = results
        .iter()
        .any(|r| r.probe == ProbeId::ProgTracepoint && r.outcome == Ok(ProbeOutcome::Supported));
    for r in results {
        let p = r.probe;
        let untrusted = match (&r.outcome, refused) {
            (Ok(ProbeOutcome::Unsupported), Some(by)) => Some(by),
            (Ok(ProbeOutcome::Supported), Some(by))
                if p == ProbeId::HelperGetCurrentTask && !tracepoint_loads =>
            {
                Some(by)
            }
            _ => None,
        };
        if let Some((by, e)) = untrusted {
            out.push(warn(
                p.name(),
                format!(
                    "{}: cannot tell, bpf() refused this process ({e} on {}): a privilege problem, not a kernel verdict ({})",
                    p.what(),
                    by.name(),
                    p.how()
                ),
                refusal_fix(f),
            ));
            continue;
        }
        out.push(match &r.outcome {
            Ok(ProbeOutcome::Supported) => {
                let mut detail = format!("{} supported ({})", p.what(), p.how());
                if p == ProbeId::ProgKprobe && !kprobes_attach {
                    detail.push_str("; loading works, attaching does not (see kprobes)");
                }
                ok(p.name(), detail)
            }
            Ok(ProbeOutcome::Unsupported) => {
                let (status, fix) = p.when_missing();
                check(
                    p.name(),
                    status,
                    format!("{} not supported by this kernel ({})", p.what(), p.how()),
                    Some(fix.to_owned()),
                )
            }
            Ok(ProbeOutcome::Error(e)) if is_refusal(*e) => warn(
                p.name(),
                format!(
                    "{}: bpf() refused this process with {e}: a privilege problem, not a missing kernel feature ({})",
                    p.what(),
                    p.how()
                ),
                refusal_fix(f),
            ),
            Ok(ProbeOutcome::Error(e)) => warn(
                p.name(),
                format!("{}: the probe failed with {e} ({})", p.what(), p.how()),
                "run as root (sudo coretool check-btf); if already root, check for an LSM denying bpf() (dmesg)",
            ),
            Err(why) => {
                let (_, fix) = p.when_missing();
                warn(p.name(), format!("{}: {why}", p.what()), fix)
            }
        });
    }
}
