//! The marked types written as a new BTF through libbpf's writer ([`BtfWriter`]).
//!
//! As bpftool's `btfgen_get_btf`: the marked types keep their relative order (ids are
//! renumbered 1..n in the order of the source's ids), a struct or union keeps its size and
//! only its marked members (each at its own bit offset), every other kind is copied whole
//! (enums with every enumerator), and a reference to a type that is not kept becomes `void`
//! (id 0): a pointer whose target no relocation needs, a member of a parameter type no one
//! reads. The new ids are known before anything is written, so every type is added once,
//! with its references already renumbered.

use std::collections::HashMap;

use crate::btf::{Btf, Kind};
use crate::libbpf::btf_write::{BtfWriter, Modifier, WriteError};

use super::collect::Marks;

/// Write `marks` of `btf` as a new raw BTF blob in `btf`'s byte order.
pub fn minimize(btf: &Btf, marks: &Marks) -> Result<Vec<u8>, WriteError> {
    let new_id: HashMap<u32, u32> = marks
        .types
        .iter()
        .enumerate()
        .map(|(i, &old)| (old, i as u32 + 1))
        .collect();
    let map = |old: u32| new_id.get(&old).copied().unwrap_or(0);
    let mut w = BtfWriter::new(btf.endian())?;
    add_types(&mut w, btf, marks, &map)?;
    w.raw_bytes()
}

/// Write the marks of a module's split BTF `module` as split BTF on `min_base` (the minimized
/// vmlinux, whose marks are `base`): module types get the ids after the minimized base's,
/// references to vmlinux types take their minimized ids.
pub fn minimize_split(
    module: &Btf,
    marks: &Marks,
    base: &Marks,
    min_base: std::rc::Rc<crate::libbpf::LibbpfBtf>,
) -> Result<Vec<u8>, WriteError> {
    let first = module.first_id();
    let base_kept = base.types.len() as u32;
    let new_id: HashMap<u32, u32> = marks
        .types
        .iter()
        .enumerate()
        .map(|(i, &old)| (old, base_kept + i as u32 + 1))
        .collect();
    let map = |old: u32| match old < first {
        true => base.new_id(old),
        false => new_id.get(&old).copied().unwrap_or(0),
    };
    let mut w = BtfWriter::new_split(min_base, module.endian())?;
    add_types(&mut w, module, marks, &map)?;
    w.raw_bytes()
}

/// Add every marked type of `btf`, in id order, with references through `map`.
fn add_types(
    w: &mut BtfWriter,
    btf: &Btf,
    marks: &Marks,
    map: &dyn Fn(u32) -> u32,
) -> Result<(), WriteError> {
    for &old in &marks.types {
        let t = btf
            .type_by_id(old)
            .filter(|t| t.kind() != Kind::Unkn)
            .ok_or_else(|| WriteError {
                what: format!("copy type [{old}]: not a type of a known kind"),
                cause: std::io::Error::from_raw_os_error(libc::EINVAL),
            })?;
        let name = btf.name_of(&t);
        let id = match t.kind() {
            Kind::Int => {
                let i = t.int().expect("an int");
                w.add_int(name, t.size(), i.encoding, i.offset, i.bits)?
            }
            Kind::Float => w.add_float(name, t.size())?,
            Kind::Ptr => w.add_ptr(map(t.type_id()))?,
            Kind::Array => {
                let a = t.array().expect("an array");
                w.add_array(map(a.index_type), map(a.elem_type), a.nelems)?
            }
            Kind::Struct | Kind::Union => {
                let id = w.add_composite(t.kind() == Kind::Union, name, t.size())?;
                for (i, m) in t.members().enumerate() {
                    if marks.members.contains(&(old, i as u32)) {
                        let mname = btf.str_at(m.name_off).unwrap_or("");
                        w.add_field(mname, map(m.type_id), m.bit_offset, m.bitfield_size)?;
                    }
                }
                id
            }
            Kind::Enum | Kind::Enum64 => {
                let wide = t.kind() == Kind::Enum64;
                let signed = t.kflag();
                let id = w.add_enum(wide, name, t.size(), signed)?;
                for v in t.enum_values() {
                    let vname = btf.str_at(v.name_off).unwrap_or("");
                    w.add_enum_value(wide, vname, v.raw, signed)?;
                }
                id
            }
            Kind::Fwd => w.add_fwd(name, t.kflag())?,
            Kind::Typedef => w.add_typedef(name, map(t.type_id()))?,
            Kind::Const => w.add_modifier(Modifier::Const, map(t.type_id()))?,
            Kind::Volatile => w.add_modifier(Modifier::Volatile, map(t.type_id()))?,
            Kind::Restrict => w.add_modifier(Modifier::Restrict, map(t.type_id()))?,
            Kind::TypeTag => w.add_type_tag(name, map(t.type_id()))?,
            Kind::DeclTag => {
                w.add_decl_tag(name, map(t.type_id()), t.decl_tag_component().unwrap_or(-1))?
            }
            Kind::Func => w.add_func(name, t.vlen(), map(t.type_id()))?,
            Kind::FuncProto => {
                let id = w.add_func_proto(map(t.type_id()))?;
                for p in t.params() {
                    let pname = btf.str_at(p.name_off).unwrap_or("");
                    w.add_param(pname, map(p.type_id))?;
                }
                id
            }
            Kind::Var => w.add_var(name, t.var_linkage().unwrap_or(0), map(t.type_id()))?,
            Kind::Datasec => {
                let id = w.add_datasec(name, t.size())?;
                for v in t.secinfos() {
                    w.add_secinfo(map(v.type_id), v.offset, v.size)?;
                }
                id
            }
            Kind::Unkn => unreachable!("filtered above"),
        };
        debug_assert_eq!(id, map(old));
    }
    Ok(())
}
