//! A safe wrapper over libbpf's `struct btf_dump`, the C type printer behind `bpftool btf dump
//! ... format c`.
//!
//! coretool parses BTF itself everywhere else; here it deliberately hands the same bytes to
//! libbpf so that the type bodies of a generated vmlinux.h are exactly what bpftool prints with
//! the same libbpf version (the vendored libbpf of `libbpf-sys`).
//!
//! libbpf calls back a printf-style function with a `va_list`; stable Rust cannot consume one,
//! so `src/ffi/btf_dump_printf.c` formats the text (itself for the common formats, with
//! `vsnprintf` otherwise) straight into the buffer of a `Sink`, which writes it to an
//! [`io::Write`] when full. All text of a header (ours and libbpf's) goes through the same
//! sink, so it comes out in call order.

use std::ffi::{c_char, CString};
use std::io::{self, Write};
use std::ptr::NonNull;

use super::btf::{errno_error, LibbpfBtf, LibbpfError};

extern "C" {
    /// From `src/ffi/btf_dump_printf.c`: the printf callback, typed as libbpf declares it.
    fn coretool_btf_dump_printf_fn() -> libbpf_sys::btf_dump_printf_fn_t;
}

/// Where the C shim puts formatted text: straight into `buf` (`len` of `cap` bytes used),
/// calling `overflow` only when it is full. `#[repr(C)]`, laid out as the shim's
/// `struct coretool_sink`; the shim never touches the fields after `cap`.
#[repr(C)]
struct Sink<'w> {
    overflow: unsafe extern "C" fn(*mut Sink<'w>, *const c_char, usize),
    fail: unsafe extern "C" fn(*mut Sink<'w>),
    /// A leaked `Box<[u8; SINK_BUF]>`, freed in `Drop`; only ever accessed through this
    /// pointer (by the shim and by `put`/`drain`).
    buf: *mut u8,
    len: usize,
    cap: usize,
    out: &'w mut dyn Write,
    /// The first write error (or formatting failure); later output is dropped.
    error: Option<io::Error>,
}

/// How much text [`Sink`] collects before writing it out.
const SINK_BUF: usize = 64 * 1024;

impl<'w> Sink<'w> {
    fn new(out: &'w mut dyn Write) -> Box<Self> {
        let storage: Box<[u8]> = vec![0u8; SINK_BUF].into_boxed_slice();
        Box::new(Sink {
            overflow: Sink::overflow,
            fail: Sink::fail,
            buf: Box::into_raw(storage).cast::<u8>(),
            len: 0,
            cap: SINK_BUF,
            out,
            error: None,
        })
    }

    /// The shim's buffer is full: write it out, then take `n` bytes at `data`.
    unsafe extern "C" fn overflow(sink: *mut Self, data: *const c_char, n: usize) {
        // SAFETY: the shim passes back the pointer `CDumper` registered as the callback context:
        // a boxed `Sink` that lives as long as the `btf_dump`, used by one thread at a time.
        let sink = unsafe { &mut *sink };
        // SAFETY: the shim passes `n` bytes it just formatted at `data`.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), n) };
        sink.put(bytes);
    }

    /// The shim could not format a chunk.
    unsafe extern "C" fn fail(sink: *mut Self) {
        // SAFETY: as in `overflow`.
        let sink = unsafe { &mut *sink };
        sink.error
            .get_or_insert_with(|| io::Error::other("libbpf output could not be formatted"));
    }

    fn put(&mut self, bytes: &[u8]) {
        if bytes.len() > self.cap - self.len {
            self.drain();
            if bytes.len() > self.cap {
                self.write_out(bytes);
                return;
            }
        }
        // SAFETY: `buf` holds `cap` bytes and `len + bytes.len() <= cap`; `bytes` is not in it
        // (the shim formats into its own memory).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.buf.add(self.len), bytes.len())
        };
        self.len += bytes.len();
    }

    /// Write out what was collected.
    fn drain(&mut self) {
        let n = std::mem::take(&mut self.len);
        // SAFETY: the first `n` bytes of `buf` were written (by the shim or `put`); nothing
        // writes to `buf` while this slice lives.
        let bytes = unsafe { std::slice::from_raw_parts(self.buf, n) };
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(bytes) {
                self.error = Some(e);
            }
        }
    }

    fn write_out(&mut self, bytes: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(bytes) {
                self.error = Some(e);
            }
        }
    }

    fn check(&mut self) -> Result<(), LibbpfError> {
        match self.error.take() {
            Some(e) => Err(LibbpfError::Write(e)),
            None => Ok(()),
        }
    }
}

impl Drop for Sink<'_> {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.buf, SINK_BUF);
        // SAFETY: `buf` is the `Box<[u8]>` of `SINK_BUF` bytes leaked in `new`, freed once.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// libbpf's C printer (`struct btf_dump *`) writing into `out`.
pub struct CDumper<'a> {
    ptr: NonNull<libbpf_sys::btf_dump>,
    btf: &'a LibbpfBtf,
    sink: Box<Sink<'a>>,
}

impl<'a> CDumper<'a> {
    /// `btf_dump__new` with the shim's printf callback.
    pub fn new(btf: &'a LibbpfBtf, out: &'a mut dyn Write) -> Result<Self, LibbpfError> {
        let mut sink = Sink::new(out);
        let ctx: *mut Sink<'a> = &mut *sink;
        // SAFETY: the shim returns a function with libbpf's `btf_dump_printf_fn_t` signature
        // that only touches `ctx` as a `struct coretool_sink`, which `Sink` is laid out as.
        // `btf.ptr` is live for 'a, longer than the dumper (it is freed in `Drop` first); the
        // boxed sink does not move and is dropped after the dumper is freed.
        let ptr = unsafe {
            libbpf_sys::btf_dump__new(
                btf.as_ptr(),
                coretool_btf_dump_printf_fn(),
                ctx.cast(),
                std::ptr::null(),
            )
        };
        let ptr =
            NonNull::new(ptr).ok_or_else(|| LibbpfError::DumperInit(io::Error::last_os_error()))?;
        Ok(CDumper { ptr, btf, sink })
    }

    /// Write our own text into the same stream as libbpf's.
    pub(crate) fn write_str(&mut self, s: &str) -> Result<(), LibbpfError> {
        self.sink.put(s.as_bytes());
        self.sink.check()
    }

    fn check_id(&self, id: u32) -> Result<(), LibbpfError> {
        if id >= self.btf.type_count() {
            return Err(LibbpfError::Dump {
                id,
                cause: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        Ok(())
    }

    /// `btf_dump__dump_type`: the type and every type it needs that was not printed yet.
    pub(crate) fn dump_type(&mut self, id: u32) -> Result<(), LibbpfError> {
        self.check_id(id)?;
        // SAFETY: `ptr` is a live dumper; the id is in range (libbpf checks it too).
        let ret = unsafe { libbpf_sys::btf_dump__dump_type(self.ptr.as_ptr(), id) };
        self.sink.check()?;
        if ret < 0 {
            return Err(LibbpfError::Dump {
                id,
                cause: errno_error(ret),
            });
        }
        Ok(())
    }

    /// `btf_dump__emit_type_decl`: a declaration of `name` with type `id` (for a FUNC_PROTO:
    /// a function prototype), without a trailing `;`.
    pub(crate) fn emit_type_decl(&mut self, id: u32, name: &str) -> Result<(), LibbpfError> {
        self.check_id(id)?;
        let name = CString::new(name).map_err(|_| LibbpfError::BadName(name.to_owned()))?;
        let opts = libbpf_sys::btf_dump_emit_type_decl_opts {
            sz: std::mem::size_of::<libbpf_sys::btf_dump_emit_type_decl_opts>() as _,
            field_name: name.as_ptr(),
            indent_level: 0,
            strip_mods: false,
            ..Default::default()
        };
        // SAFETY: `ptr` is a live dumper; `opts` (with `sz` set, as LIBBPF_OPTS does) and the
        // name it points to outlive the call.
        let ret = unsafe { libbpf_sys::btf_dump__emit_type_decl(self.ptr.as_ptr(), id, &opts) };
        self.sink.check()?;
        if ret < 0 {
            return Err(LibbpfError::Dump {
                id,
                cause: errno_error(ret),
            });
        }
        Ok(())
    }

    /// Write out everything and flush.
    pub fn finish(mut self) -> Result<(), LibbpfError> {
        self.sink.drain();
        self.sink.check()?;
        self.sink.out.flush().map_err(LibbpfError::Write)
    }
}

impl Drop for CDumper<'_> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `btf_dump__new` and is freed exactly once, before the sink
        // it points to is dropped (fields drop after this).
        unsafe { libbpf_sys::btf_dump__free(self.ptr.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::Kind;

    /// The `.BTF` of the checked-in fixture object, and coretool's parse of it.
    fn fixture() -> (Vec<u8>, crate::btf::Btf) {
        let obj = include_bytes!("../../tests/fixtures/vmlinux/types.bpf.o");
        let elf = crate::elf::ElfInfo::parse(obj).unwrap();
        let raw = elf.section(".BTF").unwrap().to_vec();
        let btf = crate::btf::Btf::parse(&raw).unwrap();
        (raw, btf)
    }

    #[test]
    fn dumps_one_type_with_its_dependencies() {
        let (raw, ours) = fixture();
        let btf = LibbpfBtf::new(&raw).unwrap();
        assert_eq!(btf.type_count(), ours.type_count());
        let id = ours.ids_by_name("list_head")[0];
        let mut out = Vec::new();
        let mut d = CDumper::new(&btf, &mut out).unwrap();
        d.write_str("/* x */\n").unwrap();
        d.dump_type(id).unwrap();
        d.dump_type(id).unwrap(); // already printed: nothing more
        assert!(d.dump_type(btf.type_count()).is_err());
        d.finish().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "/* x */\nstruct list_head {\n\tstruct list_head *next;\n\tstruct list_head *prev;\n};\n\n"
        );
    }

    #[test]
    fn emits_a_prototype() {
        let (raw, ours) = fixture();
        let btf = LibbpfBtf::new(&raw).unwrap();
        let func = ours.ids_by_name("bpf_task_release")[0];
        let f = ours.type_by_id(func).unwrap();
        assert_eq!(f.kind(), Kind::Func);
        let mut out = Vec::new();
        let mut d = CDumper::new(&btf, &mut out).unwrap();
        d.emit_type_decl(f.type_id(), "bpf_task_release").unwrap();
        assert!(matches!(
            d.emit_type_decl(f.type_id(), "a\0b"),
            Err(LibbpfError::BadName(_))
        ));
        d.finish().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "void bpf_task_release(struct task_struct *p)"
        );
    }

    #[test]
    fn write_errors_surface() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::StorageFull))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (raw, ours) = fixture();
        let btf = LibbpfBtf::new(&raw).unwrap();
        let mut out = Full;
        let mut d = CDumper::new(&btf, &mut out).unwrap();
        let id = ours.ids_by_name("task_struct")[0];
        d.dump_type(id).unwrap(); // collected, not written yet
        assert!(matches!(d.finish(), Err(LibbpfError::Write(_))));
    }

    #[test]
    fn rejects_garbage() {
        let (mut raw, _) = fixture();
        raw.truncate(raw.len() / 2);
        assert!(matches!(LibbpfBtf::new(&raw), Err(LibbpfError::BadBtf(_))));
        assert!(matches!(
            LibbpfBtf::new(b"\x9f\xeb\x01\0garbage"),
            Err(LibbpfError::BadBtf(_))
        ));
    }
}
