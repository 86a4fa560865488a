//! The running kernel's BTF, mapped instead of copied.
//!
//! Recent kernels (Linux 6.16 and later) let `/sys/kernel/btf/vmlinux` be mapped read-only:
//! the mapping shows the kernel's own copy of its BTF, so reading it costs no memory of ours
//! (the pages are not charged to the process) and no copying. libbpf 1.7 does the same in
//! `btf__load_vmlinux_btf`. Older kernels refuse the mapping; callers then read the file.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::ptr::NonNull;

/// A read-only, private mapping of a whole file.
pub struct MappedFile {
    ptr: NonNull<u8>,
    len: usize,
}

impl MappedFile {
    /// Map `path` read-only. Fails for empty files and files that cannot be mapped (sysfs BTF
    /// on kernels before 6.16).
    pub fn map(path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"))?;
        if len == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        // SAFETY: a fresh read-only private mapping of an open file descriptor; no Rust object
        // aliases the returned memory. The fd may be closed afterwards (the mapping keeps the
        // file referenced).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(MappedFile { ptr, len })
    }
}

// SAFETY: the mapping is read-only and private, and lives until `drop`: sharing `&[u8]` views of
// it across threads, or moving the owner to another thread, is as safe as for a `Vec<u8>`.
unsafe impl Send for MappedFile {}
// SAFETY: see `Send`: nothing mutates the mapping after `map` returns.
unsafe impl Sync for MappedFile {}

impl Deref for MappedFile {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop`; the mapping is private and
        // read-only, and the files mapped here (kernel BTF) do not change while mapped.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region `map` created, once; no slice of it outlives
        // `self` (they borrow it).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(&*MappedFile::map(&p).unwrap(), b"hello");
        std::fs::write(&p, b"").unwrap();
        assert!(MappedFile::map(&p).is_err());
        assert!(MappedFile::map(&dir.path().join("missing")).is_err());
    }
}
