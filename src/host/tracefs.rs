//! Preparing tracefs for the probe (selftest, monitor): the one place coretool changes the
//! machine's mounts. `check-btf` only looks (see [`super::mounts`]).

use std::path::{Path, PathBuf};

use super::mounts::{DEBUGFS_TRACING_PATH, TRACEFS_PATH};
use crate::error::NotSupported;

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

/// Find tracefs where libbpf looks for tracepoint ids (`tracefs_path()` in libbpf.c prefers
/// the debugfs location when it is reachable); when it is missing and we are root, mount it
/// at /sys/kernel/tracing.
pub fn ensure_tracefs() -> Result<Tracefs, NotSupported> {
    for dir in [DEBUGFS_TRACING_PATH, TRACEFS_PATH] {
        if has_sched_events(Path::new(dir)) {
            return Ok(Tracefs::Present(dir.into()));
        }
    }
    let advice = format!("mount it: mount -t tracefs tracefs {TRACEFS_PATH}");
    if !super::is_root() {
        return Err(NotSupported {
            what: format!("tracefs is not mounted at {TRACEFS_PATH}"),
            advice,
        });
    }
    let target = std::ffi::CString::new(TRACEFS_PATH).expect("no NUL");
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
            what: format!("tracefs is not mounted and mounting it at {TRACEFS_PATH} failed: {err}"),
            advice: "is CONFIG_TRACING enabled? mount it by hand".into(),
        });
    }
    if !has_sched_events(Path::new(TRACEFS_PATH)) {
        return Err(NotSupported {
            what: format!("{TRACEFS_PATH} has no events/sched tracepoints"),
            advice: "the kernel lacks the sched tracepoints (CONFIG_TRACEPOINTS)".into(),
        });
    }
    Ok(Tracefs::Mounted(TRACEFS_PATH.into()))
}
