//! What the probe needs from the machine: privilege to load and attach, and tracefs for the
//! tracepoint ids. Both the self-test's preflight and `coretool monitor` use these.

use std::path::{Path, PathBuf};

use crate::error::{NeedsPrivilege, NotSupported};

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Where libbpf looks for tracepoint ids (`tracefs_path()` in libbpf.c prefers the debugfs
/// location when it is reachable).
pub const TRACEFS: &str = "/sys/kernel/tracing";
pub const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";

/// The effective capability set from /proc/self/status (`CapEff:` hex mask).
fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Whether we may load tracing programs: root, CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON
/// (5.8+). Returns how we are privileged.
pub fn check_privilege() -> Result<String, NeedsPrivilege> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let caps = effective_caps().unwrap_or(0);
    let has = |c: u32| caps & (1u64 << c) != 0;
    if euid == 0 && has(CAP_SYS_ADMIN) {
        return Ok("root".into());
    }
    if has(CAP_BPF) && has(CAP_PERFMON) {
        return Ok("CAP_BPF and CAP_PERFMON".into());
    }
    if has(CAP_SYS_ADMIN) {
        return Ok("CAP_SYS_ADMIN".into());
    }
    Err(NeedsPrivilege {
        what: format!("loading and attaching BPF tracing programs (running as uid {euid})"),
        advice: "run as root, or grant CAP_BPF and CAP_PERFMON; CAP_SYS_ADMIN before 5.8".into(),
    })
}

/// Whether this process runs as root (needed to start children under another uid/gid).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// tracefs as found or prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracefs {
    /// Already mounted at this path.
    Present(PathBuf),
    /// We mounted it (and leave it mounted: other tools expect it there).
    Mounted(PathBuf),
}

impl Tracefs {
    pub fn describe(&self) -> String {
        match self {
            Tracefs::Present(p) => format!("{} (mounted)", p.display()),
            Tracefs::Mounted(p) => format!("mounted tracefs at {} (left mounted)", p.display()),
        }
    }
}

fn has_sched_events(dir: &Path) -> bool {
    dir.join("events/sched/sched_process_exec/id").exists()
}

/// Find tracefs; when it is missing and we are root, mount it at /sys/kernel/tracing.
pub fn ensure_tracefs() -> Result<Tracefs, NotSupported> {
    for dir in [DEBUGFS_TRACING, TRACEFS] {
        if has_sched_events(Path::new(dir)) {
            return Ok(Tracefs::Present(dir.into()));
        }
    }
    let advice = format!("mount it: mount -t tracefs tracefs {TRACEFS}");
    if !is_root() {
        return Err(NotSupported {
            what: format!("tracefs is not mounted at {TRACEFS}"),
            advice,
        });
    }
    let target = std::ffi::CString::new(TRACEFS).expect("no NUL");
    let fstype = std::ffi::CString::new("tracefs").expect("no NUL");
    // SAFETY: all pointers are valid NUL-terminated strings; data may be NULL.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        return Err(NotSupported {
            what: format!("tracefs is not mounted and mounting it at {TRACEFS} failed: {err}"),
            advice: "is CONFIG_TRACING enabled? mount it by hand".into(),
        });
    }
    if !has_sched_events(Path::new(TRACEFS)) {
        return Err(NotSupported {
            what: format!("{TRACEFS} has no events/sched tracepoints"),
            advice: "the kernel lacks the sched tracepoints (CONFIG_TRACEPOINTS)".into(),
        });
    }
    Ok(Tracefs::Mounted(TRACEFS.into()))
}

/// `uname -r` and `uname -m`.
pub fn uname() -> (String, String) {
    // SAFETY: utsname is plain data; uname fills it and NUL-terminates every field.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return ("unknown".into(), "unknown".into());
        }
        let field = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        (field(&u.release), field(&u.machine))
    }
}

/// The calling thread's name (`comm`), as children forked from it inherit it.
pub fn thread_comm() -> String {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}
