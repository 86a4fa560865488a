//! bpftool's raw text format (`bpftool btf dump file F format raw`), byte for byte.
//!
//! Mirrors `dump_btf_type()` in bpftool's `btf.c`: one `[id] KIND 'name' key=value...` line per
//! type, members/values/params on following tab-indented lines.

use std::io::{self, Write};

use coretool::btf::{func_linkage_str, int_encoding_str, var_linkage_str, Btf, Kind, Type};

fn name(btf: &Btf, off: u32) -> &[u8] {
    if off == 0 {
        return b"(anon)";
    }
    btf.str_bytes_at(off).unwrap_or(b"(invalid)")
}

/// Write one type in bpftool's raw format, newline included.
pub fn write_type(w: &mut impl Write, btf: &Btf, t: &Type<'_>) -> io::Result<()> {
    let kind = t.kind();
    write!(w, "[{}] {} '", t.id, kind.upper_name())?;
    w.write_all(name(btf, t.name_off()))?;
    w.write_all(b"'")?;
    match kind {
        Kind::Int => {
            let i = t.int().expect("INT");
            write!(
                w,
                " size={} bits_offset={} nr_bits={} encoding={}",
                t.size(),
                i.offset,
                i.bits,
                int_encoding_str(i.encoding)
            )?;
        }
        Kind::Ptr
        | Kind::Const
        | Kind::Volatile
        | Kind::Restrict
        | Kind::Typedef
        | Kind::TypeTag => write!(w, " type_id={}", t.type_id())?,
        Kind::Array => {
            let a = t.array().expect("ARRAY");
            write!(
                w,
                " type_id={} index_type_id={} nr_elems={}",
                a.elem_type, a.index_type, a.nelems
            )?;
        }
        Kind::Struct | Kind::Union => {
            write!(w, " size={} vlen={}", t.size(), t.vlen())?;
            for m in t.members() {
                w.write_all(b"\n\t'")?;
                w.write_all(name(btf, m.name_off))?;
                write!(w, "' type_id={} bits_offset={}", m.type_id, m.bit_offset)?;
                if m.bitfield_size != 0 {
                    write!(w, " bitfield_size={}", m.bitfield_size)?;
                }
            }
        }
        Kind::Enum | Kind::Enum64 => {
            let enc = if t.kflag() { "SIGNED" } else { "UNSIGNED" };
            write!(w, " encoding={enc} size={} vlen={}", t.size(), t.vlen())?;
            for v in t.enum_values() {
                w.write_all(b"\n\t'")?;
                w.write_all(name(btf, v.name_off))?;
                let suffix = match (kind, t.kflag()) {
                    (Kind::Enum64, true) => "LL",
                    (Kind::Enum64, false) => "ULL",
                    _ => "",
                };
                write!(w, "' val={}{suffix}", t.enum_value_display(&v))?;
            }
        }
        Kind::Fwd => write!(
            w,
            " fwd_kind={}",
            if t.kflag() { "union" } else { "struct" }
        )?,
        Kind::Func => {
            write!(
                w,
                " type_id={} linkage={}",
                t.type_id(),
                func_linkage_str(t.vlen())
            )?;
        }
        Kind::FuncProto => {
            write!(w, " ret_type_id={} vlen={}", t.type_id(), t.vlen())?;
            for p in t.params() {
                w.write_all(b"\n\t'")?;
                w.write_all(name(btf, p.name_off))?;
                write!(w, "' type_id={}", p.type_id)?;
            }
        }
        Kind::Var => write!(
            w,
            " type_id={}, linkage={}",
            t.type_id(),
            var_linkage_str(t.var_linkage().unwrap_or(u32::MAX))
        )?,
        Kind::Datasec => {
            write!(w, " size={} vlen={}", t.size(), t.vlen())?;
            for v in t.secinfos() {
                write!(
                    w,
                    "\n\ttype_id={} offset={} size={}",
                    v.type_id, v.offset, v.size
                )?;
                if v.type_id < btf.type_count() {
                    if let Some(vt) = btf.type_by_id(v.type_id) {
                        write!(w, " ({} '", vt.kind().upper_name())?;
                        w.write_all(name(btf, vt.name_off()))?;
                        w.write_all(b"')")?;
                    }
                }
            }
        }
        Kind::Float => write!(w, " size={}", t.size())?,
        Kind::DeclTag => write!(
            w,
            " type_id={} component_idx={}",
            t.type_id(),
            t.decl_tag_component().unwrap_or(-1)
        )?,
        Kind::Unkn => {}
    }
    w.write_all(b"\n")
}

/// Dump every type the blob defines (for split BTF: only its own), as bpftool does with no
/// root ids.
pub fn write_all(w: &mut impl Write, btf: &Btf) -> io::Result<()> {
    for t in btf.types() {
        write_type(w, btf, &t)?;
    }
    Ok(())
}
