//! `struct btf` as libbpf holds it: the one owner of that pointer in coretool.
//!
//! coretool parses BTF itself everywhere it only reads types; it hands the same bytes to
//! libbpf where libbpf's own behaviour is the point: its C printer (vmlinux.h), its CO-RE
//! relocation calculator, and "does libbpf accept this BTF" (check-btf).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;
use std::rc::Rc;

use super::print::PrintGuard;

/// Why libbpf refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum LibbpfError {
    #[error("libbpf rejected the BTF: {0}")]
    BadBtf(io::Error),
    #[error("libbpf could not set up its C dumper: {0}")]
    DumperInit(io::Error),
    #[error("libbpf could not print type [{id}]: {cause}")]
    Dump { id: u32, cause: io::Error },
    #[error("type name {0:?} contains a NUL byte")]
    BadName(String),
    #[error("writing the header: {0}")]
    Write(#[source] io::Error),
}

impl LibbpfError {
    /// The `errno` behind the error, where there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            LibbpfError::BadBtf(e) | LibbpfError::DumperInit(e) => e.raw_os_error(),
            LibbpfError::Dump { cause, .. } => cause.raw_os_error(),
            LibbpfError::BadName(_) => Some(libc::EINVAL),
            LibbpfError::Write(e) => e.raw_os_error(),
        }
    }
}

/// libbpf returns `-errno` (and sets `errno`); turn either into an `io::Error`.
pub(super) fn errno_error(ret: i32) -> io::Error {
    if ret < 0 {
        io::Error::from_raw_os_error(-ret)
    } else {
        io::Error::last_os_error()
    }
}

/// BTF as libbpf holds it (`struct btf *`), optionally on top of a base (split BTF).
pub struct LibbpfBtf {
    ptr: NonNull<libbpf_sys::btf>,
    /// Split BTF points into its base, so the base is freed after it (fields drop after
    /// `Drop::drop`). Several module BTFs can share one base.
    _base: Option<Rc<LibbpfBtf>>,
}

impl LibbpfBtf {
    /// `btf__new`: libbpf copies and validates `data` (raw BTF, either byte order).
    pub fn new(data: &[u8]) -> Result<Self, LibbpfError> {
        Self::create(data, None)
    }

    /// `btf__new_split`: split BTF (a module's) on top of `base`.
    pub fn new_split(data: &[u8], base: Rc<LibbpfBtf>) -> Result<Self, LibbpfError> {
        Self::create(data, Some(base))
    }

    /// [`new`](Self::new) (or [`new_split`](Self::new_split) on `base`), keeping what libbpf
    /// said when it refuses: its last line names the problem (`btf: type [1]: invalid
    /// referenced type ID 99999`, mostly at debug level), the errno it returns does not.
    pub fn new_explained(
        data: &[u8],
        base: Option<Rc<LibbpfBtf>>,
    ) -> Result<Self, (LibbpfError, Option<String>)> {
        let log = PrintGuard::capture();
        Self::create_with(data, base, false).map_err(|e| {
            let said = log
                .take_lines()
                .into_iter()
                .map(|l| {
                    l.text
                        .strip_prefix("libbpf: ")
                        .unwrap_or(&l.text)
                        .trim()
                        .to_owned()
                })
                .rfind(|l| !l.is_empty());
            (e, said)
        })
    }

    fn create(data: &[u8], base: Option<Rc<LibbpfBtf>>) -> Result<Self, LibbpfError> {
        Self::create_with(data, base, true)
    }

    fn create_with(
        data: &[u8],
        base: Option<Rc<LibbpfBtf>>,
        silent: bool,
    ) -> Result<Self, LibbpfError> {
        let size = u32::try_from(data.len()).map_err(|_| {
            LibbpfError::BadBtf(io::Error::new(
                io::ErrorKind::InvalidData,
                "BTF larger than 4 GiB",
            ))
        })?;
        let _quiet = silent.then(PrintGuard::silence);
        // SAFETY: `data` is valid for `size` bytes for the duration of the call; libbpf copies
        // it and keeps no reference. A base pointer, when given, is a live `struct btf` that we
        // keep alive (in `_base`) as long as the split BTF.
        let ptr = unsafe {
            match &base {
                None => libbpf_sys::btf__new(data.as_ptr().cast(), size),
                Some(b) => libbpf_sys::btf__new_split(data.as_ptr().cast(), size, b.ptr.as_ptr()),
            }
        };
        Self::checked(ptr, base)
    }

    /// `btf__parse` (raw BTF or an ELF's `.BTF`) of a file, or `btf__parse_split` on `base`.
    pub(crate) fn parse_file(
        path: &Path,
        base: Option<Rc<LibbpfBtf>>,
    ) -> Result<Self, LibbpfError> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| LibbpfError::BadBtf(io::Error::from_raw_os_error(libc::EINVAL)))?;
        let _quiet = PrintGuard::silence();
        // SAFETY: `c` is a valid C string for the call's duration; a NULL btf_ext pointer asks
        // for BTF only; a base, when given, is live and kept alive as long as the result.
        let ptr = unsafe {
            match &base {
                Some(b) => libbpf_sys::btf__parse_split(c.as_ptr(), b.ptr.as_ptr()),
                None => libbpf_sys::btf__parse(c.as_ptr(), std::ptr::null_mut()),
            }
        };
        Self::checked(ptr, base)
    }

    /// `btf__load_vmlinux_btf`: the running kernel's BTF, which libbpf 1.7 maps from
    /// /sys/kernel/btf/vmlinux where the kernel allows it (no copy), else reads.
    pub fn load_vmlinux() -> Result<Self, LibbpfError> {
        let _quiet = PrintGuard::silence();
        // SAFETY: no arguments; libbpf returns an owned `struct btf` or NULL with errno set.
        let ptr = unsafe { libbpf_sys::btf__load_vmlinux_btf() };
        Self::checked(ptr, None)
    }

    fn checked(
        ptr: *mut libbpf_sys::btf,
        base: Option<Rc<LibbpfBtf>>,
    ) -> Result<Self, LibbpfError> {
        // libbpf 1.x returns NULL with errno set on failure (never an ERR_PTR in 1.0 mode).
        let ptr =
            NonNull::new(ptr).ok_or_else(|| LibbpfError::BadBtf(io::Error::last_os_error()))?;
        Ok(LibbpfBtf { ptr, _base: base })
    }

    /// `btf__type_cnt`: one more than the largest type id (base included).
    pub fn type_count(&self) -> u32 {
        // SAFETY: `ptr` is a live `struct btf` owned by `self`.
        unsafe { libbpf_sys::btf__type_cnt(self.ptr.as_ptr()) }
    }

    /// The pointer, for the other wrappers of this layer; valid while `self` lives.
    pub(super) fn as_ptr(&self) -> *mut libbpf_sys::btf {
        self.ptr.as_ptr()
    }
}

impl Drop for LibbpfBtf {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `btf__new*`/`btf__parse*`/`btf__load_vmlinux_btf`, is freed
        // exactly once, here, and nothing that borrows it (a `CDumper`, a relocation
        // calculation) outlives the borrow of `self`.
        unsafe { libbpf_sys::btf__free(self.ptr.as_ptr()) }
    }
}
