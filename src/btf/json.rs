//! JSON for BTF types: the keys and values of bpftool's `-j btf dump` (`id`, `kind`, `name`,
//! `size`, `type_id`, `members`, ...), so existing consumers keep working, and layouts.

use serde_json::{json, Map, Value};

use super::layout::{Item, Layout};
use super::{func_linkage_str, int_encoding_str, var_linkage_str, Btf, Kind, Type};

fn name(btf: &Btf, off: u32) -> String {
    if off == 0 {
        return "(anon)".into();
    }
    match btf.str_bytes_at(off) {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => "(invalid)".into(),
    }
}

pub fn type_json(btf: &Btf, t: &Type<'_>) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(t.id));
    o.insert("kind".into(), json!(t.kind().upper_name()));
    o.insert("name".into(), json!(name(btf, t.name_off())));
    match t.kind() {
        Kind::Int => {
            let i = t.int().expect("INT");
            o.insert("size".into(), json!(t.size()));
            o.insert("bits_offset".into(), json!(i.offset));
            o.insert("nr_bits".into(), json!(i.bits));
            o.insert("encoding".into(), json!(int_encoding_str(i.encoding)));
        }
        Kind::Ptr
        | Kind::Const
        | Kind::Volatile
        | Kind::Restrict
        | Kind::Typedef
        | Kind::TypeTag => {
            o.insert("type_id".into(), json!(t.type_id()));
        }
        Kind::Array => {
            let a = t.array().expect("ARRAY");
            o.insert("type_id".into(), json!(a.elem_type));
            o.insert("index_type_id".into(), json!(a.index_type));
            o.insert("nr_elems".into(), json!(a.nelems));
        }
        Kind::Struct | Kind::Union => {
            o.insert("size".into(), json!(t.size()));
            o.insert("vlen".into(), json!(t.vlen()));
            let members: Vec<Value> = t
                .members()
                .map(|m| {
                    let mut mo = Map::new();
                    mo.insert("name".into(), json!(name(btf, m.name_off)));
                    mo.insert("type_id".into(), json!(m.type_id));
                    mo.insert("bits_offset".into(), json!(m.bit_offset));
                    if m.bitfield_size != 0 {
                        mo.insert("bitfield_size".into(), json!(m.bitfield_size));
                    }
                    Value::Object(mo)
                })
                .collect();
            o.insert("members".into(), Value::Array(members));
        }
        Kind::Enum | Kind::Enum64 => {
            o.insert(
                "encoding".into(),
                json!(if t.kflag() { "SIGNED" } else { "UNSIGNED" }),
            );
            o.insert("size".into(), json!(t.size()));
            o.insert("vlen".into(), json!(t.vlen()));
            let signed = t.kflag();
            let is64 = t.kind() == Kind::Enum64;
            let values: Vec<Value> = t
                .enum_values()
                .iter()
                .map(|v| {
                    let val = match (is64, signed) {
                        (false, true) => json!(v.raw as u32 as i32),
                        (false, false) => json!(v.raw as u32),
                        (true, true) => json!(v.raw as i64),
                        (true, false) => json!(v.raw),
                    };
                    json!({ "name": name(btf, v.name_off), "val": val })
                })
                .collect();
            o.insert("values".into(), Value::Array(values));
        }
        Kind::Fwd => {
            o.insert(
                "fwd_kind".into(),
                json!(if t.kflag() { "union" } else { "struct" }),
            );
        }
        Kind::Func => {
            o.insert("type_id".into(), json!(t.type_id()));
            o.insert("linkage".into(), json!(func_linkage_str(t.vlen())));
        }
        Kind::FuncProto => {
            o.insert("ret_type_id".into(), json!(t.type_id()));
            o.insert("vlen".into(), json!(t.vlen()));
            let params: Vec<Value> = t
                .params()
                .map(|p| json!({ "name": name(btf, p.name_off), "type_id": p.type_id }))
                .collect();
            o.insert("params".into(), Value::Array(params));
        }
        Kind::Var => {
            o.insert("type_id".into(), json!(t.type_id()));
            let l = var_linkage_str(t.var_linkage().unwrap_or(u32::MAX));
            o.insert("linkage".into(), json!(l));
        }
        Kind::Datasec => {
            o.insert("size".into(), json!(t.size()));
            o.insert("vlen".into(), json!(t.vlen()));
            let vars: Vec<Value> = t
                .secinfos()
                .map(|v| json!({ "type_id": v.type_id, "offset": v.offset, "size": v.size }))
                .collect();
            o.insert("vars".into(), Value::Array(vars));
        }
        Kind::Float => {
            o.insert("size".into(), json!(t.size()));
        }
        Kind::DeclTag => {
            o.insert("type_id".into(), json!(t.type_id()));
            o.insert("component_idx".into(), json!(t.decl_tag_component()));
        }
        Kind::Unkn => {}
    }
    Value::Object(o)
}

pub fn layout_json(l: &Layout) -> Value {
    let items: Vec<Value> = l
        .items
        .iter()
        .map(|i| match i {
            Item::Member {
                name,
                decl,
                type_id,
                bit_offset,
                size,
                bitfield_size,
            } => {
                let mut o = json!({
                    "item": "member",
                    "name": name,
                    "decl": decl,
                    "type_id": type_id,
                    "offset": bit_offset / 8,
                    "bit_offset": bit_offset,
                    "size": size,
                });
                if *bitfield_size > 0 {
                    o["bitfield_size"] = json!(bitfield_size);
                }
                o
            }
            Item::Hole { offset, bytes } => {
                json!({ "item": "hole", "offset": offset, "bytes": bytes })
            }
            Item::BitHole { bit_offset, bits } => {
                json!({ "item": "bit_hole", "bit_offset": bit_offset, "bits": bits })
            }
            Item::Cacheline { line } => {
                json!({ "item": "cacheline", "line": line, "offset": line * super::layout::CACHELINE })
            }
        })
        .collect();
    let s = &l.summary;
    json!({
        "id": l.type_id,
        "kind": l.kind.lower_name(),
        "name": l.name,
        "size": s.size,
        "cachelines": s.cachelines,
        "members": s.members,
        "sum_members": s.sum_members,
        "holes": s.holes,
        "sum_holes": s.sum_holes,
        "bitfield_bits": s.bitfield_bits,
        "bit_holes": s.bit_holes,
        "sum_bit_holes": s.sum_bit_holes,
        "padding": s.padding,
        "items": items,
    })
}
