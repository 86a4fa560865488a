//! The bundled libbpf (libbpf-sys, vendored): its version, its own BTF reader, and its feature
//! probes. This is the only part of `check` that calls into C; every call is wrapped so the rest
//! of the module sees plain Rust values.
//!
//! Why ask libbpf as well as coretool's parser: a CO-RE loader built on libbpf refuses BTF that
//! libbpf cannot read, whatever coretool thinks of it, so "parses with the bundled libbpf" is
//! proven by libbpf itself (`btf__parse`, `btf__new`).

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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
pub fn version_string() -> String {
    // SAFETY: libbpf_version_string returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(libbpf_sys::libbpf_version_string()) }
        .to_string_lossy()
        .into_owned()
}

/// Stop libbpf from printing its own warnings to stderr: `check-btf` reports every failure
/// itself, with a fix, and a probe that fails is an expected outcome, not noise for the user.
pub fn silence() {
    // SAFETY: passing NULL disables libbpf's print callback; no other thread calls libbpf now.
    unsafe {
        libbpf_sys::libbpf_set_print(None);
    }
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

fn last_errno() -> Errno {
    Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Owns a `struct btf *` and frees it.
struct BtfPtr(*mut libbpf_sys::btf);

impl Drop for BtfPtr {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful btf__parse/btf__new* and is freed once.
        unsafe { libbpf_sys::btf__free(self.0) }
    }
}

impl BtfPtr {
    fn checked(p: *mut libbpf_sys::btf) -> Result<BtfPtr, Errno> {
        if p.is_null() {
            Err(last_errno())
        } else {
            Ok(BtfPtr(p))
        }
    }
    fn type_count(&self) -> u32 {
        // SAFETY: self.0 is a live btf object.
        unsafe { libbpf_sys::btf__type_cnt(self.0) }
    }
}

fn c_path(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno(libc::EINVAL))
}

/// libbpf's `btf__parse(path)` (raw BTF or ELF `.BTF`); split BTF gets `base` via
/// `btf__parse_split`. Returns libbpf's `btf__type_cnt`.
pub fn parse_path(path: &Path, base: Option<&Path>) -> Result<u32, Errno> {
    let c = c_path(path)?;
    let base = base.map(parse_base).transpose()?;
    // SAFETY: `c` is a valid C string for the call's duration; base (if any) is a live btf
    // that outlives the split btf built on it (both dropped at the end of this function, the
    // split one first because it is declared later).
    let btf = BtfPtr::checked(unsafe {
        match &base {
            Some(b) => libbpf_sys::btf__parse_split(c.as_ptr(), b.0),
            None => libbpf_sys::btf__parse(c.as_ptr(), std::ptr::null_mut()),
        }
    })?;
    Ok(btf.type_count())
}

fn parse_base(path: &Path) -> Result<BtfPtr, Errno> {
    let c = c_path(path)?;
    // SAFETY: `c` is a valid C string; a NULL btf_ext pointer asks for BTF only.
    BtfPtr::checked(unsafe { libbpf_sys::btf__parse(c.as_ptr(), std::ptr::null_mut()) })
}

/// libbpf's `btf__new` on bytes already unwrapped from a container (a BTFHub archive, a
/// vmlinuz); split BTF goes through `btf__new_split` on top of `base`.
pub fn parse_bytes(raw: &[u8], base: Option<&Path>) -> Result<u32, Errno> {
    let size = u32::try_from(raw.len()).map_err(|_| Errno(libc::E2BIG))?;
    let base = base.map(parse_base).transpose()?;
    // SAFETY: btf__new copies `size` bytes from `raw`, which is valid for that length; base is
    // a live btf that outlives the result (see parse_path).
    let btf = BtfPtr::checked(unsafe {
        match &base {
            Some(b) => libbpf_sys::btf__new_split(raw.as_ptr().cast(), size, b.0),
            None => libbpf_sys::btf__new(raw.as_ptr().cast(), size),
        }
    })?;
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

/// `libbpf_probe_bpf_prog_type`: loads a trivial program of that type.
pub fn probe_prog_type(prog_type: libbpf_sys::bpf_prog_type) -> ProbeOutcome {
    // SAFETY: opts must be NULL (reserved); the call only issues bpf() syscalls.
    outcome(unsafe { libbpf_sys::libbpf_probe_bpf_prog_type(prog_type, std::ptr::null()) })
}

/// `libbpf_probe_bpf_map_type`: creates (and closes) a small map of that type.
pub fn probe_map_type(map_type: libbpf_sys::bpf_map_type) -> ProbeOutcome {
    // SAFETY: as above.
    outcome(unsafe { libbpf_sys::libbpf_probe_bpf_map_type(map_type, std::ptr::null()) })
}

/// `libbpf_probe_bpf_helper`: whether programs of `prog_type` may call `helper`.
pub fn probe_helper(
    prog_type: libbpf_sys::bpf_prog_type,
    helper: libbpf_sys::bpf_func_id,
) -> ProbeOutcome {
    // SAFETY: as above.
    outcome(unsafe { libbpf_sys::libbpf_probe_bpf_helper(prog_type, helper, std::ptr::null()) })
}

/// A BTF-enabled tracepoint (`SEC("tp_btf/NAME")`): load `r0 = 0; exit` as
/// `BPF_PROG_TYPE_TRACING` / `BPF_TRACE_RAW_TP` attached to the kernel BTF type
/// `btf_trace_NAME` (id `btf_id` in `/sys/kernel/btf/vmlinux`), as libbpf does for `tp_btf`
/// programs (`libbpf_prepare_prog_load` + `find_attach_btf_id`). Loading is enough: the
/// verifier resolves the target and checks the context; nothing is attached.
pub fn probe_tp_btf(btf_id: u32) -> ProbeOutcome {
    // BPF_MOV64_IMM(BPF_REG_0, 0); BPF_EXIT_INSN(), encoded as struct bpf_insn (8 bytes each).
    const INSNS: [[u8; 8]; 2] = [[0xb7, 0, 0, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]];
    let opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: libbpf_sys::BPF_TRACE_RAW_TP,
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
