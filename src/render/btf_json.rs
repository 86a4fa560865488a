//! `coretool btf --json` (`coretool.btf/v1`): the keys and values of bpftool's `-j btf dump`
//! for types (`id`, `kind`, `name`, `size`, `type_id`, `members`, ...), so existing consumers
//! keep working, and pahole-style layouts.
//!
//! The document streams: [`TypesDoc`] and [`LayoutsDoc`] serialize their sequence one type at a
//! time, so a full vmlinux never exists as a tree in memory.

use std::borrow::Cow;

use coretool::btf::layout::{self, Item, Layout, CACHELINE};
use coretool::btf::{func_linkage_str, int_encoding_str, var_linkage_str, Btf, Kind, Type};
use coretool::source::BtfSource;
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

pub const SCHEMA: &str = "coretool.btf/v1";

fn name(btf: &Btf, off: u32) -> Cow<'_, str> {
    if off == 0 {
        return Cow::Borrowed("(anon)");
    }
    match btf.str_bytes_at(off) {
        Some(b) => String::from_utf8_lossy(b),
        None => Cow::Borrowed("(invalid)"),
    }
}

/// Where the types came from.
#[derive(Serialize)]
pub struct SourceJson {
    path: String,
    format: String,
    endian: &'static str,
    release: Option<String>,
    base: Option<String>,
    types: u32,
}

impl SourceJson {
    pub fn new(src: &BtfSource) -> Self {
        SourceJson {
            path: src.path.display().to_string(),
            format: src.describe(),
            endian: src.btf.endian().name(),
            release: src.release.clone(),
            base: src.base_path.as_ref().map(|p| p.display().to_string()),
            types: src.btf.type_count() - src.btf.first_id(),
        }
    }
}

/// `{ "schema", "source", "types": [...] }`, the types serialized as they are written.
#[derive(Serialize)]
pub struct TypesDoc<'a> {
    schema: &'static str,
    source: SourceJson,
    types: Types<'a>,
}

impl<'a> TypesDoc<'a> {
    pub fn new(src: &'a BtfSource, types: &'a [Type<'a>]) -> Self {
        TypesDoc {
            schema: SCHEMA,
            source: SourceJson::new(src),
            types: Types {
                btf: &src.btf,
                types,
            },
        }
    }
}

struct Types<'a> {
    btf: &'a Btf,
    types: &'a [Type<'a>],
}

impl Serialize for Types<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.types.iter().map(|t| TypeJson::new(self.btf, t)))
    }
}

/// `{ "schema", "source", "layouts": [...] }`, each layout computed as it is written.
#[derive(Serialize)]
pub struct LayoutsDoc<'a> {
    schema: &'static str,
    source: SourceJson,
    layouts: Layouts<'a>,
}

impl<'a> LayoutsDoc<'a> {
    pub fn new(src: &'a BtfSource, types: &'a [Type<'a>]) -> Self {
        LayoutsDoc {
            schema: SCHEMA,
            source: SourceJson::new(src),
            layouts: Layouts {
                btf: &src.btf,
                types,
            },
        }
    }
}

struct Layouts<'a> {
    btf: &'a Btf,
    types: &'a [Type<'a>],
}

impl Serialize for Layouts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for t in self.types {
            if let Some(l) = layout::compute(self.btf, t) {
                seq.serialize_element(&LayoutJson::new(&l))?;
            }
        }
        seq.end()
    }
}

/// One type, as bpftool's JSON names its fields: common keys, then the kind's own.
#[derive(Serialize)]
pub struct TypeJson<'a> {
    id: u32,
    kind: &'static str,
    name: Cow<'a, str>,
    #[serde(flatten)]
    body: Body<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Int {
        size: u32,
        bits_offset: u32,
        nr_bits: u32,
        encoding: &'static str,
    },
    /// PTR, CONST, VOLATILE, RESTRICT, TYPEDEF, TYPE_TAG.
    Ref {
        type_id: u32,
    },
    Array {
        type_id: u32,
        index_type_id: u32,
        nr_elems: u32,
    },
    Composite {
        size: u32,
        vlen: u32,
        members: Vec<MemberJson<'a>>,
    },
    Enum {
        encoding: &'static str,
        size: u32,
        vlen: u32,
        values: Vec<EnumValueJson<'a>>,
    },
    Fwd {
        fwd_kind: &'static str,
    },
    /// FUNC and VAR.
    Linked {
        type_id: u32,
        linkage: &'static str,
    },
    FuncProto {
        ret_type_id: u32,
        vlen: u32,
        params: Vec<ParamJson<'a>>,
    },
    Datasec {
        size: u32,
        vlen: u32,
        vars: Vec<SecinfoJson>,
    },
    Float {
        size: u32,
    },
    DeclTag {
        type_id: u32,
        component_idx: Option<i32>,
    },
    Unknown,
}

#[derive(Serialize)]
struct MemberJson<'a> {
    name: Cow<'a, str>,
    type_id: u32,
    bits_offset: u32,
    #[serde(skip_serializing_if = "is_zero")]
    bitfield_size: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct EnumValueJson<'a> {
    name: Cow<'a, str>,
    val: EnumVal,
}

/// An enumerator's value in the width and signedness its type declares.
#[derive(Serialize)]
#[serde(untagged)]
enum EnumVal {
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
}

#[derive(Serialize)]
struct ParamJson<'a> {
    name: Cow<'a, str>,
    type_id: u32,
}

#[derive(Serialize)]
struct SecinfoJson {
    type_id: u32,
    offset: u32,
    size: u32,
}

impl<'a> TypeJson<'a> {
    pub fn new(btf: &'a Btf, t: &Type<'a>) -> Self {
        let body = match t.kind() {
            Kind::Int => {
                let i = t.int().expect("INT");
                Body::Int {
                    size: t.size(),
                    bits_offset: i.offset,
                    nr_bits: i.bits,
                    encoding: int_encoding_str(i.encoding),
                }
            }
            Kind::Ptr
            | Kind::Const
            | Kind::Volatile
            | Kind::Restrict
            | Kind::Typedef
            | Kind::TypeTag => Body::Ref {
                type_id: t.type_id(),
            },
            Kind::Array => {
                let a = t.array().expect("ARRAY");
                Body::Array {
                    type_id: a.elem_type,
                    index_type_id: a.index_type,
                    nr_elems: a.nelems,
                }
            }
            Kind::Struct | Kind::Union => Body::Composite {
                size: t.size(),
                vlen: t.vlen(),
                members: t
                    .members()
                    .map(|m| MemberJson {
                        name: name(btf, m.name_off),
                        type_id: m.type_id,
                        bits_offset: m.bit_offset,
                        bitfield_size: m.bitfield_size,
                    })
                    .collect(),
            },
            Kind::Enum | Kind::Enum64 => {
                let signed = t.kflag();
                let is64 = t.kind() == Kind::Enum64;
                Body::Enum {
                    encoding: if signed { "SIGNED" } else { "UNSIGNED" },
                    size: t.size(),
                    vlen: t.vlen(),
                    values: t
                        .enum_values()
                        .iter()
                        .map(|v| EnumValueJson {
                            name: name(btf, v.name_off),
                            val: match (is64, signed) {
                                (false, true) => EnumVal::I32(v.raw as u32 as i32),
                                (false, false) => EnumVal::U32(v.raw as u32),
                                (true, true) => EnumVal::I64(v.raw as i64),
                                (true, false) => EnumVal::U64(v.raw),
                            },
                        })
                        .collect(),
                }
            }
            Kind::Fwd => Body::Fwd {
                fwd_kind: if t.kflag() { "union" } else { "struct" },
            },
            Kind::Func => Body::Linked {
                type_id: t.type_id(),
                linkage: func_linkage_str(t.vlen()),
            },
            Kind::FuncProto => Body::FuncProto {
                ret_type_id: t.type_id(),
                vlen: t.vlen(),
                params: t
                    .params()
                    .map(|p| ParamJson {
                        name: name(btf, p.name_off),
                        type_id: p.type_id,
                    })
                    .collect(),
            },
            Kind::Var => Body::Linked {
                type_id: t.type_id(),
                linkage: var_linkage_str(t.var_linkage().unwrap_or(u32::MAX)),
            },
            Kind::Datasec => Body::Datasec {
                size: t.size(),
                vlen: t.vlen(),
                vars: t
                    .secinfos()
                    .map(|v| SecinfoJson {
                        type_id: v.type_id,
                        offset: v.offset,
                        size: v.size,
                    })
                    .collect(),
            },
            Kind::Float => Body::Float { size: t.size() },
            Kind::DeclTag => Body::DeclTag {
                type_id: t.type_id(),
                component_idx: t.decl_tag_component(),
            },
            Kind::Unkn => Body::Unknown,
        };
        TypeJson {
            id: t.id,
            kind: t.kind().upper_name(),
            name: name(btf, t.name_off()),
            body,
        }
    }
}

/// One struct/union layout: the summary's counters flattened, then the items in order.
#[derive(Serialize)]
pub struct LayoutJson<'a> {
    id: u32,
    kind: &'static str,
    name: &'a str,
    size: u32,
    cachelines: u32,
    members: u32,
    sum_members: u64,
    holes: u32,
    sum_holes: u64,
    bitfield_bits: u64,
    bit_holes: u32,
    sum_bit_holes: u64,
    padding: u32,
    items: Vec<ItemJson<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "item", rename_all = "snake_case")]
enum ItemJson<'a> {
    Member {
        name: &'a str,
        decl: &'a str,
        type_id: u32,
        offset: u32,
        bit_offset: u32,
        size: u32,
        #[serde(skip_serializing_if = "is_zero")]
        bitfield_size: u32,
    },
    Hole {
        offset: u32,
        bytes: u32,
    },
    BitHole {
        bit_offset: u32,
        bits: u32,
    },
    Cacheline {
        line: u32,
        offset: u32,
    },
}

impl<'a> LayoutJson<'a> {
    pub fn new(l: &'a Layout) -> Self {
        let s = &l.summary;
        LayoutJson {
            id: l.type_id,
            kind: l.kind.lower_name(),
            name: &l.name,
            size: s.size,
            cachelines: s.cachelines,
            members: s.members,
            sum_members: s.sum_members,
            holes: s.holes,
            sum_holes: s.sum_holes,
            bitfield_bits: s.bitfield_bits,
            bit_holes: s.bit_holes,
            sum_bit_holes: s.sum_bit_holes,
            padding: s.padding,
            items: l.items.iter().map(ItemJson::new).collect(),
        }
    }
}

impl<'a> ItemJson<'a> {
    fn new(i: &'a Item) -> Self {
        match i {
            Item::Member {
                name,
                decl,
                type_id,
                bit_offset,
                size,
                bitfield_size,
            } => ItemJson::Member {
                name,
                decl,
                type_id: *type_id,
                offset: bit_offset / 8,
                bit_offset: *bit_offset,
                size: *size,
                bitfield_size: *bitfield_size,
            },
            Item::Hole { offset, bytes } => ItemJson::Hole {
                offset: *offset,
                bytes: *bytes,
            },
            Item::BitHole { bit_offset, bits } => ItemJson::BitHole {
                bit_offset: *bit_offset,
                bits: *bits,
            },
            Item::Cacheline { line } => ItemJson::Cacheline {
                line: *line,
                offset: line * CACHELINE,
            },
        }
    }
}
