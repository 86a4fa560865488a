//! A new BTF built type by type through libbpf's writer API (`btf__new_empty`,
//! `btf__add_*`, `btf__raw_data`): the one owner of a `struct btf *` that coretool writes.
//!
//! `coretool btfgen` uses it to write minimized kernel BTF: libbpf validates every type as it
//! is added (names, sizes, bit offsets, which kinds may follow which), dedups the string
//! section, and lays the blob out exactly as every loader expects. Type ids given to the
//! `add_*` calls may refer forward (libbpf only checks them against the id limit), so a caller
//! that numbers its types first can add them in one pass, with no id rewriting afterwards.

use std::ffi::CString;
use std::io;
use std::os::raw::c_int;
use std::ptr::NonNull;

use super::print::PrintGuard;
use crate::btf::Endian;

/// libbpf refused a type (its reason is the errno: a bad name, size, offset or kind order).
#[derive(Debug, thiserror::Error)]
#[error("libbpf could not {what}: {cause}")]
pub struct WriteError {
    pub what: String,
    #[source]
    pub cause: io::Error,
}

/// A BTF being written (`struct btf *` from `btf__new_empty`), freed on drop.
pub struct BtfWriter {
    ptr: NonNull<libbpf_sys::btf>,
    /// Split BTF points into its base, which is freed after it.
    _base: Option<std::rc::Rc<super::LibbpfBtf>>,
}

fn cstr(s: &str) -> Result<CString, WriteError> {
    CString::new(s).map_err(|_| WriteError {
        what: format!("add the name {s:?}"),
        cause: io::Error::from_raw_os_error(libc::EINVAL),
    })
}

fn id_arg(id: u32) -> c_int {
    // Ids past i32::MAX are refused by libbpf (BTF_MAX_NR_TYPES is 0x7fffffff).
    c_int::try_from(id).unwrap_or(-1)
}

impl BtfWriter {
    /// `btf__new_empty`, in the byte order given (libbpf writes native order and swaps on
    /// `btf__raw_data` when told another).
    pub fn new(endian: Endian) -> Result<Self, WriteError> {
        // SAFETY: no arguments; libbpf returns an owned empty `struct btf` or NULL.
        let ptr = unsafe { libbpf_sys::btf__new_empty() };
        let ptr = NonNull::new(ptr).ok_or_else(|| WriteError {
            what: "create an empty BTF".into(),
            cause: io::Error::last_os_error(),
        })?;
        let w = BtfWriter { ptr, _base: None };
        w.set_endian(endian)?;
        Ok(w)
    }

    /// `btf__new_empty_split`: split BTF on `base` (a module's on vmlinux's); its ids continue
    /// the base's, and references below them are to base types.
    pub fn new_split(
        base: std::rc::Rc<super::LibbpfBtf>,
        endian: Endian,
    ) -> Result<Self, WriteError> {
        // SAFETY: `base` is a live `struct btf`, kept alive in `_base` as long as the split BTF.
        let ptr = unsafe { libbpf_sys::btf__new_empty_split(base.as_ptr()) };
        let ptr = NonNull::new(ptr).ok_or_else(|| WriteError {
            what: "create an empty split BTF".into(),
            cause: io::Error::last_os_error(),
        })?;
        let w = BtfWriter {
            ptr,
            _base: Some(base),
        };
        w.set_endian(endian)?;
        Ok(w)
    }

    fn set_endian(&self, endian: Endian) -> Result<(), WriteError> {
        let e = match endian {
            Endian::Little => libbpf_sys::BTF_LITTLE_ENDIAN,
            Endian::Big => libbpf_sys::BTF_BIG_ENDIAN,
        };
        // SAFETY: `ptr` is the live BTF owned by `self`.
        let ret = unsafe { libbpf_sys::btf__set_endianness(self.ptr.as_ptr(), e) };
        self.check(ret, || "set the byte order".into()).map(drop)
    }

    fn check(&self, ret: c_int, what: impl FnOnce() -> String) -> Result<u32, WriteError> {
        if ret < 0 {
            return Err(WriteError {
                what: what(),
                cause: super::btf::errno_error(ret),
            });
        }
        Ok(ret as u32)
    }

    fn p(&self) -> *mut libbpf_sys::btf {
        self.ptr.as_ptr()
    }

    /// `btf__add_int`, then the bit offset and bit count when they are not the whole size
    /// (libbpf's writer only makes whole-size integers).
    pub fn add_int(
        &mut self,
        name: &str,
        size: u32,
        encoding: u32,
        offset: u32,
        bits: u32,
    ) -> Result<u32, WriteError> {
        let n = cstr(name)?;
        let _quiet = PrintGuard::silence();
        // SAFETY: `n` is a valid C string for the call; the BTF is live and owned by `self`.
        let ret =
            unsafe { libbpf_sys::btf__add_int(self.p(), n.as_ptr(), size as _, encoding as c_int) };
        let id = self.check(ret, || format!("add int {name}"))?;
        if offset != 0 || bits != size * 8 {
            // SAFETY: `id` was just added, so `btf__type_by_id` points at its `struct btf_type`
            // in libbpf's own (modifiable) type buffer, followed by the INT's one data word;
            // nothing else refers to it, and nothing is added between the lookup and the write.
            unsafe {
                let t = libbpf_sys::btf__type_by_id(self.p(), id) as *mut libbpf_sys::btf_type;
                let data = t.add(1).cast::<u32>();
                data.write_unaligned(
                    ((encoding & 0x0f) << 24) | ((offset & 0xff) << 16) | (bits & 0xff),
                );
            }
        }
        Ok(id)
    }

    pub fn add_float(&mut self, name: &str, size: u32) -> Result<u32, WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF.
        let ret = unsafe { libbpf_sys::btf__add_float(self.p(), n.as_ptr(), size as _) };
        self.check(ret, || format!("add float {name}"))
    }

    pub fn add_ptr(&mut self, target: u32) -> Result<u32, WriteError> {
        // SAFETY: live BTF; ids are plain integers.
        let ret = unsafe { libbpf_sys::btf__add_ptr(self.p(), id_arg(target)) };
        self.check(ret, || "add a pointer".into())
    }

    pub fn add_array(&mut self, index: u32, elem: u32, nelems: u32) -> Result<u32, WriteError> {
        // SAFETY: live BTF; ids are plain integers.
        let ret =
            unsafe { libbpf_sys::btf__add_array(self.p(), id_arg(index), id_arg(elem), nelems) };
        self.check(ret, || "add an array".into())
    }

    /// `btf__add_struct` or `btf__add_union`; members follow with [`add_field`](Self::add_field).
    pub fn add_composite(&mut self, union: bool, name: &str, size: u32) -> Result<u32, WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF.
        let ret = unsafe {
            match union {
                true => libbpf_sys::btf__add_union(self.p(), n.as_ptr(), size),
                false => libbpf_sys::btf__add_struct(self.p(), n.as_ptr(), size),
            }
        };
        self.check(ret, || {
            format!("add {} {name}", if union { "union" } else { "struct" })
        })
    }

    /// A member of the struct or union added last.
    pub fn add_field(
        &mut self,
        name: &str,
        type_id: u32,
        bit_offset: u32,
        bitfield_size: u32,
    ) -> Result<(), WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF; libbpf checks the last type is a composite.
        let ret = unsafe {
            libbpf_sys::btf__add_field(
                self.p(),
                n.as_ptr(),
                id_arg(type_id),
                bit_offset,
                bitfield_size,
            )
        };
        self.check(ret, || format!("add member {name}")).map(drop)
    }

    /// `btf__add_enum` (32-bit) or `btf__add_enum64`; values follow with
    /// [`add_enum_value`](Self::add_enum_value). The signedness flag is set as given.
    pub fn add_enum(
        &mut self,
        wide: bool,
        name: &str,
        size: u32,
        signed: bool,
    ) -> Result<u32, WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF.
        let ret = unsafe {
            match wide {
                true => libbpf_sys::btf__add_enum64(self.p(), n.as_ptr(), size, signed),
                false => libbpf_sys::btf__add_enum(self.p(), n.as_ptr(), size),
            }
        };
        let id = self.check(ret, || format!("add enum {name}"))?;
        if signed && !wide {
            self.set_kflag(id, true);
        }
        Ok(id)
    }

    /// An enumerator of the enum added last; `raw` is the value's bits as BTF stores them.
    pub fn add_enum_value(
        &mut self,
        wide: bool,
        name: &str,
        raw: u64,
        signed: bool,
    ) -> Result<(), WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF; libbpf checks the last type is an enum.
        let ret = unsafe {
            match wide {
                true => libbpf_sys::btf__add_enum64_value(self.p(), n.as_ptr(), raw),
                false => {
                    let v = match signed {
                        true => raw as u32 as i32 as i64,
                        false => raw as u32 as i64,
                    };
                    libbpf_sys::btf__add_enum_value(self.p(), n.as_ptr(), v)
                }
            }
        };
        self.check(ret, || format!("add enumerator {name}"))
            .map(drop)
    }

    /// Set or clear the kind flag of type `id` (libbpf's enum writer sets it only for
    /// negative values; the source's flag is kept as it was).
    fn set_kflag(&mut self, id: u32, on: bool) {
        // SAFETY: `id` is a type of this BTF added by this writer (the caller passes the id
        // libbpf just returned), so the pointer is into libbpf's modifiable type buffer; only
        // the kind flag bit of `info` changes.
        unsafe {
            let t = libbpf_sys::btf__type_by_id(self.p(), id) as *mut libbpf_sys::btf_type;
            let info = &mut (*t).info;
            *info = (*info & !(1 << 31)) | ((on as u32) << 31);
        }
    }

    pub fn add_fwd(&mut self, name: &str, union: bool) -> Result<u32, WriteError> {
        let n = cstr(name)?;
        let kind = match union {
            true => libbpf_sys::BTF_FWD_UNION,
            false => libbpf_sys::BTF_FWD_STRUCT,
        };
        // SAFETY: valid C string, live BTF.
        let ret = unsafe { libbpf_sys::btf__add_fwd(self.p(), n.as_ptr(), kind) };
        self.check(ret, || format!("add fwd {name}"))
    }

    pub fn add_typedef(&mut self, name: &str, target: u32) -> Result<u32, WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF.
        let ret = unsafe { libbpf_sys::btf__add_typedef(self.p(), n.as_ptr(), id_arg(target)) };
        self.check(ret, || format!("add typedef {name}"))
    }

    /// `const`, `volatile` or `restrict` (by `kind`: 0, 1, 2).
    pub fn add_modifier(&mut self, kind: Modifier, target: u32) -> Result<u32, WriteError> {
        let t = id_arg(target);
        // SAFETY: live BTF; ids are plain integers.
        let ret = unsafe {
            match kind {
                Modifier::Const => libbpf_sys::btf__add_const(self.p(), t),
                Modifier::Volatile => libbpf_sys::btf__add_volatile(self.p(), t),
                Modifier::Restrict => libbpf_sys::btf__add_restrict(self.p(), t),
            }
        };
        self.check(ret, || format!("add {kind:?}"))
    }

    pub fn add_type_tag(&mut self, value: &str, target: u32) -> Result<u32, WriteError> {
        let v = cstr(value)?;
        // SAFETY: valid C string, live BTF.
        let ret = unsafe { libbpf_sys::btf__add_type_tag(self.p(), v.as_ptr(), id_arg(target)) };
        self.check(ret, || format!("add type tag {value}"))
    }

    pub fn add_decl_tag(
        &mut self,
        value: &str,
        target: u32,
        component: i32,
    ) -> Result<u32, WriteError> {
        let v = cstr(value)?;
        // SAFETY: valid C string, live BTF.
        let ret = unsafe {
            libbpf_sys::btf__add_decl_tag(self.p(), v.as_ptr(), id_arg(target), component)
        };
        self.check(ret, || format!("add decl tag {value}"))
    }

    pub fn add_func(&mut self, name: &str, linkage: u32, proto: u32) -> Result<u32, WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF.
        let ret =
            unsafe { libbpf_sys::btf__add_func(self.p(), n.as_ptr(), linkage as _, id_arg(proto)) };
        self.check(ret, || format!("add func {name}"))
    }

    /// `btf__add_func_proto`; parameters follow with [`add_param`](Self::add_param).
    pub fn add_func_proto(&mut self, ret_type: u32) -> Result<u32, WriteError> {
        // SAFETY: live BTF.
        let ret = unsafe { libbpf_sys::btf__add_func_proto(self.p(), id_arg(ret_type)) };
        self.check(ret, || "add a function prototype".into())
    }

    pub fn add_param(&mut self, name: &str, type_id: u32) -> Result<(), WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF; libbpf checks the last type is a prototype.
        let ret = unsafe { libbpf_sys::btf__add_func_param(self.p(), n.as_ptr(), id_arg(type_id)) };
        self.check(ret, || format!("add parameter {name}"))
            .map(drop)
    }

    pub fn add_var(&mut self, name: &str, linkage: u32, type_id: u32) -> Result<u32, WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF.
        let ret = unsafe {
            libbpf_sys::btf__add_var(self.p(), n.as_ptr(), linkage as c_int, id_arg(type_id))
        };
        self.check(ret, || format!("add var {name}"))
    }

    /// `btf__add_datasec`; variables follow with [`add_secinfo`](Self::add_secinfo).
    pub fn add_datasec(&mut self, name: &str, size: u32) -> Result<u32, WriteError> {
        let n = cstr(name)?;
        // SAFETY: valid C string, live BTF.
        let ret = unsafe { libbpf_sys::btf__add_datasec(self.p(), n.as_ptr(), size) };
        self.check(ret, || format!("add datasec {name}"))
    }

    pub fn add_secinfo(&mut self, var: u32, offset: u32, size: u32) -> Result<(), WriteError> {
        // SAFETY: live BTF; libbpf checks the last type is a datasec.
        let ret =
            unsafe { libbpf_sys::btf__add_datasec_var_info(self.p(), id_arg(var), offset, size) };
        self.check(ret, || "add a datasec variable".into())
            .map(drop)
    }

    /// `btf__type_cnt`: one more than the last id.
    pub fn type_count(&self) -> u32 {
        // SAFETY: live BTF.
        unsafe { libbpf_sys::btf__type_cnt(self.p()) }
    }

    /// `btf__raw_data`: the finished blob (header, types, strings), in the byte order asked;
    /// for split BTF, its own types and strings only.
    pub fn raw_bytes(&self) -> Result<Vec<u8>, WriteError> {
        let mut size: u32 = 0;
        // SAFETY: live BTF; libbpf returns a pointer to `size` bytes it owns (valid until the
        // BTF is changed or freed), copied out at once.
        unsafe {
            let data = libbpf_sys::btf__raw_data(self.p(), &mut size);
            if data.is_null() {
                return Err(WriteError {
                    what: "lay out the BTF".into(),
                    cause: io::Error::last_os_error(),
                });
            }
            Ok(std::slice::from_raw_parts(data.cast::<u8>(), size as _).to_vec())
        }
    }
}

/// The modifier kinds [`BtfWriter::add_modifier`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    Const,
    Volatile,
    Restrict,
}

impl Drop for BtfWriter {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `btf__new_empty`, is freed once, here; nothing borrows it
        // past `self` (raw_bytes copies).
        unsafe { libbpf_sys::btf__free(self.ptr.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::{Btf, Kind};

    #[test]
    fn writes_a_blob_coretool_parses_back() {
        let mut w = BtfWriter::new(Endian::Little).unwrap();
        // Forward references: the struct (1) names the pointer (3) added after it.
        let s = w.add_composite(false, "node", 16).unwrap();
        w.add_field("next", 3, 0, 0).unwrap();
        w.add_field("flags", 2, 64, 3).unwrap();
        let int = w.add_int("unsigned int", 4, 0, 0, 32).unwrap();
        let p = w.add_ptr(s).unwrap();
        let e = w.add_enum(false, "mode", 4, true).unwrap();
        w.add_enum_value(false, "M_NEG", (-1i32) as u32 as u64, true)
            .unwrap();
        w.add_enum_value(false, "M_ONE", 1, true).unwrap();
        assert_eq!((s, int, p, e), (1, 2, 3, 4));
        let raw = w.raw_bytes().unwrap();
        let btf = Btf::parse(&raw).unwrap();
        let t = btf.type_by_id(1).unwrap();
        assert_eq!(t.kind(), Kind::Struct);
        let m: Vec<_> = t.members().collect();
        assert_eq!(m[1].bitfield_size, 3);
        assert_eq!(m[0].type_id, 3);
        let en = btf.type_by_id(4).unwrap();
        assert!(en.kflag());
        assert_eq!(en.enum_value_display(&en.enum_values()[0]), "-1");
    }

    #[test]
    fn big_endian_output_and_odd_ints() {
        let mut w = BtfWriter::new(Endian::Big).unwrap();
        w.add_int("u3", 1, 0, 2, 3).unwrap();
        let raw = w.raw_bytes().unwrap();
        assert_eq!(&raw[..2], &[0xeb, 0x9f]);
        let btf = Btf::parse(&raw).unwrap();
        let i = btf.type_by_id(1).unwrap().int().unwrap();
        assert_eq!((i.offset, i.bits), (2, 3));
    }

    #[test]
    fn refuses_what_libbpf_refuses() {
        let mut w = BtfWriter::new(Endian::Little).unwrap();
        // An integer needs a name; a member needs a struct before it.
        assert!(w.add_int("", 4, 0, 0, 32).is_err());
        assert!(w.add_field("x", 1, 0, 0).is_err());
    }
}
