//! What `check-btf` asks the bundled libbpf (libbpf-sys, vendored): its version, whether its
//! own BTF reader accepts a BTF, and its feature probes, as plain Rust values.
//!
//! Why ask libbpf as well as coretool's parser: a CO-RE loader built on libbpf refuses BTF that
//! libbpf cannot read, whatever coretool thinks of it, so "parses with the bundled libbpf" is
//! proven by libbpf itself (`btf__parse`, `btf__new`).

use std::ffi::CStr;
use std::path::Path;
use std::rc::Rc;

use super::btf::{LibbpfBtf, LibbpfError};
use super::print::PrintGuard;

/// The bundled libbpf's version, `(major, minor)`.
pub fn version() -> (u32, u32) {
    // SAFETY: both are pure getters of compile-time constants.
    unsafe {
        (
            libbpf_sys::libbpf_major_version(),
            libbpf_sys::libbpf_minor_version(),
        )
    }
}

/// `v1.7` as libbpf spells it.
pub(crate) fn version_string() -> String {
    // SAFETY: libbpf_version_string returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(libbpf_sys::libbpf_version_string()) }
        .to_string_lossy()
        .into_owned()
}

/// An `errno` from libbpf, shown as `Permission denied (errno 13)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = std::io::Error::from_raw_os_error(self.0);
        let s = e.to_string();
        let s = s.split(" (os error").next().unwrap_or(&s);
        write!(f, "{s} (errno {})", self.0)
    }
}

fn errno_of(e: &LibbpfError) -> Errno {
    Errno(e.errno().unwrap_or(libc::EINVAL))
}

/// libbpf's `btf__parse(path)` (raw BTF or ELF `.BTF`); split BTF gets `base` via
/// `btf__parse_split`. Returns libbpf's `btf__type_cnt`.
pub(crate) fn parse_path(path: &Path, base: Option<&Path>) -> Result<u32, Errno> {
    let base = base
        .map(|b| LibbpfBtf::parse_file(b, None).map(Rc::new))
        .transpose()
        .map_err(|e| errno_of(&e))?;
    let btf = LibbpfBtf::parse_file(path, base).map_err(|e| errno_of(&e))?;
    Ok(btf.type_count())
}

/// libbpf's `btf__new` on bytes already unwrapped from a container (a BTFHub archive, a
/// vmlinuz); split BTF goes through `btf__new_split` on top of `base`.
pub(crate) fn parse_bytes(raw: &[u8], base: Option<&Path>) -> Result<u32, Errno> {
    let base = base
        .map(|b| LibbpfBtf::parse_file(b, None).map(Rc::new))
        .transpose()
        .map_err(|e| errno_of(&e))?;
    let btf = match base {
        Some(b) => LibbpfBtf::new_split(raw, b),
        None => LibbpfBtf::new(raw),
    }
    .map_err(|e| errno_of(&e))?;
    Ok(btf.type_count())
}

/// The kernel's internal `ENOTSUPP` (not in libc), which bpf() leaks for unsupported attach types.
const ENOTSUPP: i32 = 524;

/// What a feature probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    Supported,
    Unsupported,
    /// The probe itself failed (e.g. `EPERM`): no conclusion.
    Error(Errno),
}

fn outcome(ret: i32) -> ProbeOutcome {
    match ret {
        1 => ProbeOutcome::Supported,
        0 => ProbeOutcome::Unsupported,
        e if e < 0 => ProbeOutcome::Error(Errno(-e)),
        _ => ProbeOutcome::Unsupported,
    }
}

/// Program types coretool probes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgType {
    Kprobe,
    Tracepoint,
}

impl ProgType {
    fn raw(self) -> libbpf_sys::bpf_prog_type {
        match self {
            ProgType::Kprobe => libbpf_sys::BPF_PROG_TYPE_KPROBE,
            ProgType::Tracepoint => libbpf_sys::BPF_PROG_TYPE_TRACEPOINT,
        }
    }
}

/// Map types coretool probes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapType {
    Ringbuf,
    PercpuArray,
}

impl MapType {
    fn raw(self) -> libbpf_sys::bpf_map_type {
        match self {
            MapType::Ringbuf => libbpf_sys::BPF_MAP_TYPE_RINGBUF,
            MapType::PercpuArray => libbpf_sys::BPF_MAP_TYPE_PERCPU_ARRAY,
        }
    }
}

/// Helpers coretool probes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Helper {
    GetCurrentTask,
}

impl Helper {
    fn raw(self) -> libbpf_sys::bpf_func_id {
        match self {
            Helper::GetCurrentTask => libbpf_sys::BPF_FUNC_get_current_task,
        }
    }
}

/// Run one of libbpf's map or program type probes, keeping a refusal.
///
/// libbpf folds every failed `bpf()` into "unsupported": `probe_prog_load()` and
/// `probe_map_create()` in libbpf_probes.c return 0 whatever the errno, but leave errno as the
/// syscall set it. `EPERM` or `EACCES` there means this process was refused (no capability, a
/// child user namespace, seccomp, an LSM, lockdown), not that the kernel lacks the feature, so
/// that outcome is kept as the error it is.
fn keep_refusal(probe: impl FnOnce() -> i32) -> ProbeOutcome {
    // SAFETY: __errno_location returns this thread's errno, valid for the thread's lifetime.
    unsafe { *libc::__errno_location() = 0 };
    let ret = probe();
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    match outcome(ret) {
        ProbeOutcome::Unsupported if errno == libc::EPERM || errno == libc::EACCES => {
            ProbeOutcome::Error(Errno(errno))
        }
        other => other,
    }
}

/// `libbpf_probe_bpf_prog_type`: loads a trivial program of that type.
pub(crate) fn probe_prog_type(prog_type: ProgType) -> ProbeOutcome {
    let _quiet = PrintGuard::silence();
    // SAFETY: opts must be NULL (reserved); the call only issues bpf() syscalls.
    keep_refusal(|| unsafe {
        libbpf_sys::libbpf_probe_bpf_prog_type(prog_type.raw(), std::ptr::null())
    })
}

/// `libbpf_probe_bpf_map_type`: creates (and closes) a small map of that type.
pub(crate) fn probe_map_type(map_type: MapType) -> ProbeOutcome {
    let _quiet = PrintGuard::silence();
    // SAFETY: as above.
    keep_refusal(|| unsafe {
        libbpf_sys::libbpf_probe_bpf_map_type(map_type.raw(), std::ptr::null())
    })
}

/// `libbpf_probe_bpf_helper`: whether programs of `prog_type` may call `helper`. libbpf
/// answers "supported" when the load fails without a verifier message (as on `EPERM`), so a
/// caller weighs it against a program type probe.
pub(crate) fn probe_helper(prog_type: ProgType, helper: Helper) -> ProbeOutcome {
    let _quiet = PrintGuard::silence();
    // SAFETY: as above.
    outcome(unsafe {
        libbpf_sys::libbpf_probe_bpf_helper(prog_type.raw(), helper.raw(), std::ptr::null())
    })
}

/// A BPF trampoline (`SEC("fentry/FUNC")`): load `r0 = 0; exit` as `BPF_PROG_TYPE_TRACING` /
/// `BPF_TRACE_FENTRY` on the kernel function whose BTF id (in `/sys/kernel/btf/vmlinux`) is
/// `btf_id`. Whether fentry, fexit and LSM programs can load here at all is not in BTF: a
/// kernel without ftrace direct calls, or a machine that forbids ftrace, refuses them.
pub fn probe_fentry(btf_id: u32) -> ProbeOutcome {
    probe_tracing(libbpf_sys::BPF_TRACE_FENTRY, btf_id)
}

/// A BTF-enabled tracepoint (`SEC("tp_btf/NAME")`): load `r0 = 0; exit` as
/// `BPF_PROG_TYPE_TRACING` / `BPF_TRACE_RAW_TP` attached to the kernel BTF type
/// `btf_trace_NAME` (id `btf_id` in `/sys/kernel/btf/vmlinux`), as libbpf does for `tp_btf`
/// programs (`libbpf_prepare_prog_load` + `find_attach_btf_id`). Loading is enough: the
/// verifier resolves the target and checks the context; nothing is attached.
pub fn probe_tp_btf(btf_id: u32) -> ProbeOutcome {
    probe_tracing(libbpf_sys::BPF_TRACE_RAW_TP, btf_id)
}

/// Load a trivial `BPF_PROG_TYPE_TRACING` program of `attach_type` on BTF id `btf_id`.
fn probe_tracing(attach_type: libbpf_sys::bpf_attach_type, btf_id: u32) -> ProbeOutcome {
    let _quiet = PrintGuard::silence();
    // BPF_MOV64_IMM(BPF_REG_0, 0); BPF_EXIT_INSN(), encoded as struct bpf_insn (8 bytes each).
    const INSNS: [[u8; 8]; 2] = [[0xb7, 0, 0, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]];
    let opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: attach_type,
        attach_btf_id: btf_id,
        ..Default::default()
    };
    let mut opts = opts;
    let name = c"coretool_probe";
    let license = c"GPL";
    // SAFETY: INSNS is two 8-byte instructions laid out exactly as `struct bpf_insn`
    // (code, dst:4|src:4, off, imm, little or big endian alike for these all-zero operands);
    // opts is a properly sized, zero-initialised bpf_prog_load_opts; names are C strings.
    let fd = unsafe {
        libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_TRACING,
            name.as_ptr(),
            license.as_ptr(),
            INSNS.as_ptr().cast(),
            INSNS.len() as _,
            &mut opts,
        )
    };
    if fd >= 0 {
        // SAFETY: fd is a program fd we own.
        unsafe { libc::close(fd) };
        return ProbeOutcome::Supported;
    }
    match -fd {
        libc::EINVAL | libc::EOPNOTSUPP | ENOTSUPP => ProbeOutcome::Unsupported,
        e => ProbeOutcome::Error(Errno(e)),
    }
}
