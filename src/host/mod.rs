//! Facts about the machine and this process: `uname`, the effective uid, capabilities and the
//! user namespace they are held in, the mount table, tracefs, sysctls.
//!
//! Every such fact is read here and nowhere else. The parsers ([`caps`], [`mounts`],
//! [`userns`]) are pure functions of the text `/proc` gives, tested on fixtures; the readers in
//! this file are thin: open the file or make the syscall, hand the text to a parser. Judging the
//! facts is the caller's business (`check::analyse`, the probe's preflight).

pub mod caps;
pub mod mounts;
mod privilege;
mod tracefs;
pub mod userns;

use std::ffi::CStr;

pub use caps::CapSet;
pub use mounts::Mount;
pub use privilege::Privilege;
pub(crate) use privilege::CHILD_USERNS_FIX;
pub use tracefs::{ensure_tracefs, Tracefs};
pub use userns::{UserNamespace, UserNsKind};

use crate::error::InputError;

/// The perf kprobe PMU (4.17+), which libbpf prefers to tracefs `kprobe_events` for attaching
/// kprobes.
pub(crate) const KPROBE_PMU: &str = "/sys/bus/event_source/devices/kprobe";

pub const SYSCTL_UNPRIV_BPF: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
pub(crate) const SYSCTL_JIT: &str = "/proc/sys/net/core/bpf_jit_enable";

/// `uname(2)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Uname {
    /// `uname -r`.
    pub release: String,
    /// `uname -m`.
    pub machine: String,
    /// `uname -v`.
    pub version: String,
}

/// `uname(2)`.
pub fn uname() -> std::io::Result<Uname> {
    // SAFETY: utsname is plain old data; zeroed is a valid value and uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field within its array.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Ok(Uname {
        release: field(&u.release),
        machine: field(&u.machine),
        version: field(&u.version),
    })
}

/// The effective uid.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether this process runs as (effective) root: needed to mount tracefs and to start
/// children under another uid/gid. Loading programs is [`Privilege`]'s question, not this one.
pub fn is_root() -> bool {
    euid() == 0
}

/// This process's effective capabilities (`CapEff` in `/proc/self/status`).
pub(crate) fn effective_caps() -> Option<CapSet> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    CapSet::effective_from_status(&status)
}

/// This process's user namespace, from `/proc/self/ns/user` and `/proc/self/uid_map`.
pub(crate) fn user_namespace() -> UserNamespace {
    UserNamespace {
        inode: std::fs::read_link("/proc/self/ns/user")
            .ok()
            .and_then(|l| userns::parse_ns_link(&l.to_string_lossy())),
        uid_map: std::fs::read_to_string("/proc/self/uid_map")
            .ok()
            .and_then(|s| userns::parse_id_map(&s)),
    }
}

/// The running process's privilege.
pub fn privilege() -> Privilege {
    Privilege {
        euid: euid(),
        cap_eff: effective_caps(),
        user_ns: user_namespace(),
    }
}

/// Read a numeric sysctl; `None` when absent or unreadable.
pub(crate) fn read_sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The mount table: `/proc/self/mountinfo`, or `/proc/mounts` where that is missing.
pub(crate) fn mount_table() -> Result<Vec<Mount>, InputError> {
    const MOUNTINFO: &str = "/proc/self/mountinfo";
    const MOUNTS: &str = "/proc/mounts";
    match std::fs::read_to_string(MOUNTINFO) {
        Ok(s) => Ok(mounts::parse_mountinfo(&s)),
        Err(_) => std::fs::read_to_string(MOUNTS)
            .map(|s| mounts::parse_mounts(&s))
            .map_err(|e| InputError::io(MOUNTS, e)),
    }
}

/// The file systems the kernel supports (`/proc/filesystems`); `None` when unreadable.
pub(crate) fn filesystems() -> Option<Vec<String>> {
    std::fs::read_to_string("/proc/filesystems")
        .ok()
        .map(|s| mounts::parse_filesystems(&s))
}

/// How kprobes can attach here: `(the kprobe PMU exists, tracefs kprobe_events exists at one of
/// libbpf's tracefs paths)`.
pub fn kprobe_attach_paths() -> (bool, bool) {
    let pmu = std::path::Path::new(KPROBE_PMU).exists();
    let events = [mounts::TRACEFS_PATH, mounts::DEBUGFS_TRACING_PATH]
        .iter()
        .any(|d| std::path::Path::new(d).join("kprobe_events").exists());
    (pmu, events)
}

/// The calling thread's name (`comm`), as children forked from it inherit it.
pub(crate) fn thread_comm() -> String {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The readers agree with what the kernel says through other channels.
    #[test]
    fn readers_read_this_process() {
        let u = uname().unwrap();
        let osrelease = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(u.release, osrelease.trim());
        assert!(!u.machine.is_empty() && !u.version.is_empty());
        let p = privilege();
        assert_eq!(p.euid, euid());
        assert!(p.cap_eff.is_some(), "/proc/self/status has CapEff");
        assert_ne!(p.user_ns.kind(), UserNsKind::Unknown);
        assert!(!mount_table().unwrap().is_empty());
        assert!(filesystems().unwrap().iter().any(|f| f == "proc"));
    }
}
