//! `coretool btf --json` (`coretool.btf/v1`): the keys and values of bpftool's `-j btf dump`
//! for types (`id`, `kind`, `name`, `size`, `type_id`, `members`, ...), so existing consumers
//! keep working, and pahole-style layouts.
//!
//! The document streams: [`TypesDoc`] and [`LayoutsDoc`] serialize their sequence one type at a
//! time, so a full vmlinux never exists as a tree in memory.

use std::borrow::Cow;
use std::io::Write;

use coretool::btf::layout::{self, Item, Layout, Summary, CACHELINE};
use coretool::btf::{func_linkage_str, int_encoding_str, var_linkage_str, Btf, Kind, Type};
use coretool::source::BtfSource;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::Serialize;

pub const SCHEMA: &str = "coretool.btf/v1";

/// Write `doc` with a trailing newline: compact (one line, like `bpftool -j`) or indented
/// (`--pretty`, like `bpftool -p`). Streamed: only the writer's buffer holds the text.
pub fn write<T: Serialize>(w: &mut impl Write, doc: &T, pretty: bool) -> std::io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *w, doc)?;
    } else {
        serde_json::to_writer(&mut *w, doc)?;
    }
    w.write_all(b"\n")
}

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
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
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
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
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

/// The `coretool.btf/v1` document: the types, or their layouts (`--layout`). Serialized as
/// the document it holds, nothing around it.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum BtfJson<'a> {
    Types(TypesDoc<'a>),
    Layouts(LayoutsDoc<'a>),
}

/// The schema of a type serialized by hand as a sequence of `T`: `[T]`, inline.
macro_rules! schema_as_seq {
    ($($ty:ty => $item:ty),* $(,)?) => {$(
        impl JsonSchema for $ty {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($item).into()
            }
            fn json_schema(g: &mut SchemaGenerator) -> Schema {
                g.subschema_for::<Vec<$item>>()
            }
        }
    )*};
}

schema_as_seq! {
    Types<'_> => TypeJson<'static>,
    Layouts<'_> => LayoutJson<'static>,
    Members<'_> => MemberJson<'static>,
    EnumValues<'_> => EnumValueJson<'static>,
    Params<'_> => ParamJson<'static>,
    Secinfos<'_> => SecinfoJson,
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
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LayoutsDoc<'a> {
    schema: &'static str,
    source: SourceJson,
    layouts: Layouts<'a>,
}

impl<'a> LayoutsDoc<'a> {
    pub fn new(src: &'a BtfSource, types: &'a [Type<'a>], opts: layout::Options) -> Self {
        LayoutsDoc {
            schema: SCHEMA,
            source: SourceJson::new(src),
            layouts: Layouts {
                btf: &src.btf,
                types,
                opts,
            },
        }
    }
}

struct Layouts<'a> {
    btf: &'a Btf,
    types: &'a [Type<'a>],
    opts: layout::Options,
}

impl Serialize for Layouts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let mut layouter = layout::Layouter::new(self.btf, self.opts);
        for t in self.types {
            if let Some(l) = layouter.layout(t) {
                seq.serialize_element(&LayoutJson::new(&l))?;
            }
        }
        seq.end()
    }
}

/// One type, as bpftool's JSON names its fields: common keys, then the kind's own.
pub struct TypeJson<'a> {
    id: u32,
    kind: &'static str,
    name: Cow<'a, str>,
    body: Body<'a>,
}

/// The kinds each [`Body`] shape serializes, in the order of its variants.
const BODY_KINDS: [&[Kind]; 11] = [
    &[Kind::Int],
    &[
        Kind::Ptr,
        Kind::Const,
        Kind::Volatile,
        Kind::Restrict,
        Kind::Typedef,
        Kind::TypeTag,
    ],
    &[Kind::Array],
    &[Kind::Struct, Kind::Union],
    &[Kind::Enum, Kind::Enum64],
    &[Kind::Fwd],
    &[Kind::Func, Kind::Var],
    &[Kind::FuncProto],
    &[Kind::Datasec],
    &[Kind::Float],
    &[Kind::DeclTag],
];

/// What [`TypeJson`]'s `Serialize` writes: `id`, `kind`, `name`, then the keys of the
/// [`Body`] shape of that kind and no others. One closed object schema per shape (rather than
/// `unevaluatedProperties` over a union, which validators treat unevenly).
impl JsonSchema for TypeJson<'_> {
    fn schema_name() -> Cow<'static, str> {
        "TypeJson".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let id = g.subschema_for::<u32>();
        let name = g.subschema_for::<String>();
        let mut body = Body::json_schema(g);
        let shapes = body
            .get_mut("anyOf")
            .and_then(|a| a.as_array_mut())
            .expect("Body is untagged: one schema per variant");
        assert_eq!(
            shapes.len(),
            BODY_KINDS.len(),
            "one BODY_KINDS entry per Body shape"
        );
        for (shape, ks) in shapes.iter_mut().zip(BODY_KINDS) {
            let names: Vec<&str> = ks.iter().map(|k| k.upper_name()).collect();
            let obj = shape.as_object_mut().expect("a struct variant: an object");
            let mut props = serde_json::Map::new();
            props.insert("id".into(), id.clone().into());
            props.insert("kind".into(), serde_json::json!({ "enum": names }));
            props.insert("name".into(), name.clone().into());
            if let Some(own) = obj.remove("properties").and_then(|p| match p {
                serde_json::Value::Object(m) => Some(m),
                _ => None,
            }) {
                props.extend(own);
            }
            obj.insert("properties".into(), props.into());
            let mut required = vec![serde_json::Value::from("id"), "kind".into(), "name".into()];
            if let Some(serde_json::Value::Array(own)) = obj.remove("required") {
                required.extend(own);
            }
            obj.insert("required".into(), required.into());
            obj.insert("additionalProperties".into(), false.into());
        }
        json_schema!({
            "description": "One BTF type, with bpftool's keys: the common ones, then the kind's own.",
            "anyOf": shapes,
        })
    }
}

/// By hand rather than `#[serde(flatten)]`, which buffers every type through a map: the keys
/// go straight to the writer.
impl Serialize for TypeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("TypeJson", 3 + self.body.fields())?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("kind", self.kind)?;
        m.serialize_field("name", &self.name)?;
        match &self.body {
            Body::Int {
                size,
                bits_offset,
                nr_bits,
                encoding,
            } => {
                m.serialize_field("size", size)?;
                m.serialize_field("bits_offset", bits_offset)?;
                m.serialize_field("nr_bits", nr_bits)?;
                m.serialize_field("encoding", encoding)?;
            }
            Body::Ref { type_id } => m.serialize_field("type_id", type_id)?,
            Body::Array {
                type_id,
                index_type_id,
                nr_elems,
            } => {
                m.serialize_field("type_id", type_id)?;
                m.serialize_field("index_type_id", index_type_id)?;
                m.serialize_field("nr_elems", nr_elems)?;
            }
            Body::Composite {
                size,
                vlen,
                members,
            } => {
                m.serialize_field("size", size)?;
                m.serialize_field("vlen", vlen)?;
                m.serialize_field("members", members)?;
            }
            Body::Enum {
                encoding,
                size,
                vlen,
                values,
            } => {
                m.serialize_field("encoding", encoding)?;
                m.serialize_field("size", size)?;
                m.serialize_field("vlen", vlen)?;
                m.serialize_field("values", values)?;
            }
            Body::Fwd { fwd_kind } => m.serialize_field("fwd_kind", fwd_kind)?,
            Body::Linked { type_id, linkage } => {
                m.serialize_field("type_id", type_id)?;
                m.serialize_field("linkage", linkage)?;
            }
            Body::FuncProto {
                ret_type_id,
                vlen,
                params,
            } => {
                m.serialize_field("ret_type_id", ret_type_id)?;
                m.serialize_field("vlen", vlen)?;
                m.serialize_field("params", params)?;
            }
            Body::Datasec { size, vlen, vars } => {
                m.serialize_field("size", size)?;
                m.serialize_field("vlen", vlen)?;
                m.serialize_field("vars", vars)?;
            }
            Body::Float { size } => m.serialize_field("size", size)?,
            Body::DeclTag {
                type_id,
                component_idx,
            } => {
                m.serialize_field("type_id", type_id)?;
                m.serialize_field("component_idx", component_idx)?;
            }
            Body::Unknown => {}
        }
        m.end()
    }
}

impl Body<'_> {
    /// How many keys the kind adds.
    fn fields(&self) -> usize {
        match self {
            Body::Int { .. } | Body::Enum { .. } => 4,
            Body::Array { .. } | Body::Composite { .. } | Body::FuncProto { .. } => 3,
            Body::Datasec { .. } => 3,
            Body::Linked { .. } | Body::DeclTag { .. } => 2,
            Body::Ref { .. } | Body::Fwd { .. } | Body::Float { .. } => 1,
            Body::Unknown => 0,
        }
    }
}

#[derive(JsonSchema)]
#[schemars(untagged)]
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
        members: Members<'a>,
    },
    Enum {
        encoding: &'static str,
        size: u32,
        vlen: u32,
        values: EnumValues<'a>,
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
        params: Params<'a>,
    },
    Datasec {
        size: u32,
        vlen: u32,
        vars: Secinfos<'a>,
    },
    Float {
        size: u32,
    },
    DeclTag {
        type_id: u32,
        component_idx: Option<i32>,
    },
    /// Never in a parsed BTF (the parser rejects unknown kinds): no shape of its own.
    #[schemars(skip)]
    Unknown,
}

/// A type's members, params, enumerators or section variables, serialized straight from the
/// type record: no per-type vector.
struct Members<'a>(&'a Btf, Type<'a>);
struct EnumValues<'a>(&'a Btf, Type<'a>);
struct Params<'a>(&'a Btf, Type<'a>);
struct Secinfos<'a>(Type<'a>);

impl Serialize for Members<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let btf = self.0;
        s.collect_seq(self.1.members().map(|m| MemberJson {
            name: name(btf, m.name_off),
            type_id: m.type_id,
            bits_offset: m.bit_offset,
            bitfield_size: m.bitfield_size,
        }))
    }
}

impl Serialize for EnumValues<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (btf, t) = (self.0, &self.1);
        let signed = t.kflag();
        let is64 = t.kind() == Kind::Enum64;
        s.collect_seq(t.enum_values().iter().map(|v| EnumValueJson {
            name: name(btf, v.name_off),
            val: match (is64, signed) {
                (false, true) => EnumVal::I32(v.raw as u32 as i32),
                (false, false) => EnumVal::U32(v.raw as u32),
                (true, true) => EnumVal::I64(v.raw as i64),
                (true, false) => EnumVal::U64(v.raw),
            },
        }))
    }
}

impl Serialize for Params<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let btf = self.0;
        s.collect_seq(self.1.params().map(|p| ParamJson {
            name: name(btf, p.name_off),
            type_id: p.type_id,
        }))
    }
}

impl Serialize for Secinfos<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.secinfos().map(|v| SecinfoJson {
            type_id: v.type_id,
            offset: v.offset,
            size: v.size,
        }))
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
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

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct EnumValueJson<'a> {
    name: Cow<'a, str>,
    val: EnumVal,
}

/// An enumerator's value in the width and signedness its type declares.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum EnumVal {
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct ParamJson<'a> {
    name: Cow<'a, str>,
    type_id: u32,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
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
                members: Members(btf, *t),
            },
            Kind::Enum | Kind::Enum64 => Body::Enum {
                encoding: if t.kflag() { "SIGNED" } else { "UNSIGNED" },
                size: t.size(),
                vlen: t.vlen(),
                values: EnumValues(btf, *t),
            },
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
                params: Params(btf, *t),
            },
            Kind::Var => Body::Linked {
                type_id: t.type_id(),
                linkage: var_linkage_str(t.var_linkage().unwrap_or(u32::MAX)),
            },
            Kind::Datasec => Body::Datasec {
                size: t.size(),
                vlen: t.vlen(),
                vars: Secinfos(*t),
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

/// One struct/union layout: the summary's counters flattened (structs only), then the items
/// in order; nested items carry their `depth`.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LayoutJson<'a> {
    id: u32,
    kind: &'static str,
    name: &'a str,
    packed: bool,
    aligned: u32,
    #[serde(flatten)]
    summary: Option<SummaryJson>,
    items: Vec<ItemJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct SummaryJson {
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
    paddings: u32,
    sum_paddings: u64,
    bit_padding: u32,
    forced_alignments: u32,
    forced_holes: u32,
    sum_forced_holes: u64,
    last_cacheline: u32,
}

#[derive(Serialize, JsonSchema)]
#[serde(tag = "item", rename_all = "snake_case")]
enum ItemJson<'a> {
    Member {
        depth: u32,
        name: &'a str,
        decl: &'a str,
        type_id: u32,
        offset: u64,
        bit_offset: u64,
        size: u64,
        #[serde(skip_serializing_if = "is_zero")]
        bitfield_size: u32,
        #[serde(skip_serializing_if = "is_zero")]
        bitfield_offset: u32,
        #[serde(skip_serializing_if = "is_zero")]
        aligned: u32,
    },
    Open {
        depth: u32,
        head: &'a str,
    },
    Close {
        depth: u32,
        name: &'a str,
        dims: &'a str,
        offset: u64,
        size: u64,
        packed: bool,
        type_aligned: u32,
        aligned: u32,
        #[serde(skip_serializing_if = "is_zero")]
        bitfield_size: u32,
        #[serde(skip_serializing_if = "is_zero")]
        bitfield_offset: u32,
    },
    Hole {
        depth: u32,
        offset: u64,
        bytes: u32,
    },
    BitHole {
        depth: u32,
        bits: u32,
    },
    FillBits {
        depth: u32,
        type_name: &'a str,
        bits: u32,
        force: bool,
    },
    Combined {
        depth: u32,
        with: &'static str,
    },
    StructPadding {
        depth: u32,
        bytes: u32,
    },
    Cacheline {
        depth: u32,
        line: u32,
        offset: u32,
    },
    Enumerator {
        depth: u32,
        name: &'a str,
        value: &'a str,
    },
    Summary {
        depth: u32,
        #[serde(flatten)]
        summary: SummaryJson,
    },
    Truncated {
        depth: u32,
    },
}

impl<'a> LayoutJson<'a> {
    pub fn new(l: &'a Layout) -> Self {
        LayoutJson {
            id: l.type_id,
            kind: l.kind.lower_name(),
            name: &l.name,
            packed: l.packed,
            aligned: l.aligned,
            summary: l.summary.as_ref().map(SummaryJson::new),
            items: l.items.iter().map(ItemJson::new).collect(),
        }
    }
}

impl SummaryJson {
    fn new(s: &Summary) -> Self {
        SummaryJson {
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
            paddings: s.paddings,
            sum_paddings: s.sum_paddings,
            bit_padding: s.bit_padding,
            forced_alignments: s.forced_alignments,
            forced_holes: s.forced_holes,
            sum_forced_holes: s.sum_forced_holes,
            last_cacheline: s.last_cacheline,
        }
    }
}

impl<'a> ItemJson<'a> {
    fn new(i: &'a Item) -> Self {
        match i {
            Item::Member {
                depth,
                name,
                decl,
                type_id,
                bit_offset,
                offset,
                bitfield_offset,
                size,
                bitfield_size,
                aligned,
            } => ItemJson::Member {
                depth: *depth,
                name,
                decl,
                type_id: *type_id,
                offset: *offset,
                bit_offset: *bit_offset,
                size: *size,
                bitfield_size: *bitfield_size,
                bitfield_offset: *bitfield_offset,
                aligned: *aligned,
            },
            Item::Open { depth, head } => ItemJson::Open {
                depth: *depth,
                head,
            },
            Item::Close {
                depth,
                name,
                dims,
                offset,
                size,
                packed,
                type_aligned,
                aligned,
                bitfield_size,
                bitfield_offset,
                ..
            } => ItemJson::Close {
                depth: *depth,
                name,
                dims,
                offset: *offset,
                size: *size,
                packed: *packed,
                type_aligned: *type_aligned,
                aligned: *aligned,
                bitfield_size: *bitfield_size,
                bitfield_offset: *bitfield_offset,
            },
            Item::Hole {
                depth,
                offset,
                bytes,
            } => ItemJson::Hole {
                depth: *depth,
                offset: *offset,
                bytes: *bytes,
            },
            Item::BitHole { depth, bits } => ItemJson::BitHole {
                depth: *depth,
                bits: *bits,
            },
            Item::FillBits {
                depth,
                type_name,
                bits,
                force,
            } => ItemJson::FillBits {
                depth: *depth,
                type_name,
                bits: *bits,
                force: *force,
            },
            Item::Combined { depth, next } => ItemJson::Combined {
                depth: *depth,
                with: if *next { "next" } else { "previous" },
            },
            Item::StructPadding { depth, bytes } => ItemJson::StructPadding {
                depth: *depth,
                bytes: *bytes,
            },
            Item::Cacheline { depth, line, .. } => ItemJson::Cacheline {
                depth: *depth,
                line: *line,
                offset: line * CACHELINE,
            },
            Item::Enumerator { depth, name, value } => ItemJson::Enumerator {
                depth: *depth,
                name,
                value,
            },
            Item::NestedSummary { depth, summary } => ItemJson::Summary {
                depth: *depth,
                summary: SummaryJson::new(summary),
            },
            Item::Truncated { depth } => ItemJson::Truncated { depth: *depth },
        }
    }
}

#[cfg(test)]
mod tests {
    //! The views against what `coretool btf --json` printed when it built `serde_json::Value`
    //! trees (bpftool's keys, in bpftool's order; `bitfield_size` only on bitfields; `null`
    //! for absent source fields).
    use std::path::Path;

    use coretool::btf::layout;
    use coretool::source;

    use super::*;

    fn fixture() -> BtfSource {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/core_all_kinds.btf");
        source::load(Some(&path), None).expect("fixture BTF loads")
    }

    #[test]
    fn types_keep_bpftool_keys_in_order() {
        let src = fixture();
        let btf = &src.btf;
        let cases: &[(u32, &str)] = &[
            (1, r#"{"id":1,"kind":"PTR","name":"(anon)","type_id":0}"#),
            (
                2,
                r#"{"id":2,"kind":"FUNC_PROTO","name":"(anon)","ret_type_id":3,"vlen":1,"params":[{"name":"ctx","type_id":1}]}"#,
            ),
            (
                3,
                r#"{"id":3,"kind":"INT","name":"int","size":4,"bits_offset":0,"nr_bits":32,"encoding":"SIGNED"}"#,
            ),
            (
                4,
                r#"{"id":4,"kind":"FUNC","name":"task_fields","type_id":2,"linkage":"global"}"#,
            ),
            (
                5,
                r#"{"id":5,"kind":"STRUCT","name":"task_struct___old","size":8,"vlen":1,"members":[{"name":"state","type_id":6,"bits_offset":0}]}"#,
            ),
            (
                7,
                r#"{"id":7,"kind":"STRUCT","name":"task_struct","size":96,"vlen":12,"members":[{"name":"__state","type_id":8,"bits_offset":0},{"name":"flags","type_id":8,"bits_offset":32},{"name":"se","type_id":9,"bits_offset":64},{"name":"sched_reset_on_fork","type_id":8,"bits_offset":256,"bitfield_size":1},{"name":"sched_contributes_to_load","type_id":8,"bits_offset":257,"bitfield_size":1},{"name":"in_iowait","type_id":8,"bits_offset":258,"bitfield_size":1},{"name":"pid","type_id":15,"bits_offset":288},{"name":"tgid","type_id":15,"bits_offset":320},{"name":"real_parent","type_id":16,"bits_offset":384},{"name":"children","type_id":17,"bits_offset":448},{"name":"comm","type_id":20,"bits_offset":576},{"name":"signal","type_id":22,"bits_offset":704}]}"#,
            ),
            (
                12,
                r#"{"id":12,"kind":"TYPEDEF","name":"__u32","type_id":8}"#,
            ),
            (
                20,
                r#"{"id":20,"kind":"ARRAY","name":"(anon)","type_id":19,"index_type_id":21,"nr_elems":16}"#,
            ),
            (
                32,
                r#"{"id":32,"kind":"ENUM","name":"pid_type","encoding":"UNSIGNED","size":4,"vlen":5,"values":[{"name":"PIDTYPE_PID","val":0},{"name":"PIDTYPE_TGID","val":1},{"name":"PIDTYPE_PGID","val":2},{"name":"PIDTYPE_SID","val":3},{"name":"PIDTYPE_MAX","val":4}]}"#,
            ),
            (
                37,
                r#"{"id":37,"kind":"UNION","name":"(anon)","size":24,"vlen":1,"members":[{"name":"(anon)","type_id":38,"bits_offset":0}]}"#,
            ),
            (
                43,
                r#"{"id":43,"kind":"VAR","name":"out_state","type_id":13,"linkage":"global"}"#,
            ),
            (
                55,
                r#"{"id":55,"kind":"DATASEC","name":".bss","size":0,"vlen":10,"vars":[{"type_id":43,"offset":0,"size":8},{"type_id":44,"offset":0,"size":8},{"type_id":45,"offset":0,"size":8},{"type_id":46,"offset":0,"size":8},{"type_id":47,"offset":0,"size":8},{"type_id":48,"offset":0,"size":8},{"type_id":49,"offset":0,"size":8},{"type_id":50,"offset":0,"size":8},{"type_id":51,"offset":0,"size":8},{"type_id":52,"offset":0,"size":8}]}"#,
            ),
        ];
        for &(id, want) in cases {
            let t = btf.type_by_id(id).expect("fixture type");
            let got = serde_json::to_string(&TypeJson::new(btf, &t)).unwrap();
            assert_eq!(got, want, "type {id}");
        }
    }

    /// pahole 1.24 on the same BTF (`pahole -F btf -C task_struct`): the three bitfields sit
    /// in one `unsigned int` at 32, 29 bits of it unused, then one 4-byte hole. (Re-blessed for
    /// issue 11: the previous figures, 2 holes of 7 bytes and a 5-bit hole, were wrong.)
    #[test]
    fn layout_items_are_tagged_and_offsets_derived() {
        let src = fixture();
        let t = src.btf.type_by_id(7).expect("task_struct");
        let l = layout::compute(&src.btf, &t).expect("a struct has a layout");
        let want = r#"{"id":7,"kind":"struct","name":"task_struct","packed":false,"aligned":0,"size":96,"cachelines":2,"members":12,"sum_members":88,"holes":1,"sum_holes":4,"bitfield_bits":3,"bit_holes":1,"sum_bit_holes":29,"padding":0,"paddings":0,"sum_paddings":0,"bit_padding":0,"forced_alignments":0,"forced_holes":0,"sum_forced_holes":0,"last_cacheline":32,"items":[{"item":"member","depth":0,"name":"__state","decl":"unsigned int __state","type_id":8,"offset":0,"bit_offset":0,"size":4},{"item":"member","depth":0,"name":"flags","decl":"unsigned int flags","type_id":8,"offset":4,"bit_offset":32,"size":4},{"item":"member","depth":0,"name":"se","decl":"struct sched_entity se","type_id":9,"offset":8,"bit_offset":64,"size":24},{"item":"member","depth":0,"name":"sched_reset_on_fork","decl":"unsigned int sched_reset_on_fork:1","type_id":8,"offset":32,"bit_offset":256,"size":4,"bitfield_size":1},{"item":"member","depth":0,"name":"sched_contributes_to_load","decl":"unsigned int sched_contributes_to_load:1","type_id":8,"offset":32,"bit_offset":257,"size":4,"bitfield_size":1,"bitfield_offset":1},{"item":"member","depth":0,"name":"in_iowait","decl":"unsigned int in_iowait:1","type_id":8,"offset":32,"bit_offset":258,"size":4,"bitfield_size":1,"bitfield_offset":2},{"item":"bit_hole","depth":0,"bits":29},{"item":"member","depth":0,"name":"pid","decl":"pid_t pid","type_id":15,"offset":36,"bit_offset":288,"size":4},{"item":"member","depth":0,"name":"tgid","decl":"pid_t tgid","type_id":15,"offset":40,"bit_offset":320,"size":4},{"item":"hole","depth":0,"offset":44,"bytes":4},{"item":"member","depth":0,"name":"real_parent","decl":"struct task_struct *real_parent","type_id":16,"offset":48,"bit_offset":384,"size":8},{"item":"member","depth":0,"name":"children","decl":"struct list_head children","type_id":17,"offset":56,"bit_offset":448,"size":16},{"item":"cacheline","depth":0,"line":1,"offset":64},{"item":"member","depth":0,"name":"comm","decl":"char comm[16]","type_id":20,"offset":72,"bit_offset":576,"size":16},{"item":"member","depth":0,"name":"signal","decl":"struct signal_struct *signal","type_id":22,"offset":88,"bit_offset":704,"size":8}]}"#;
        assert_eq!(serde_json::to_string(&LayoutJson::new(&l)).unwrap(), want);
    }

    #[test]
    fn documents_stream_pretty_with_empty_sequences() {
        let src = fixture();
        let ints: Vec<_> = src.btf.types().filter(|t| t.kind() == Kind::Int).collect();
        let mut out = Vec::new();
        serde_json::to_writer_pretty(&mut out, &LayoutsDoc::new(&src, &ints, Default::default()))
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("{\n  \"schema\": \"coretool.btf/v1\",\n  \"source\": {\n"));
        assert!(text.contains("\"release\": null,\n    \"base\": null,\n    \"types\": 56\n"));
        assert!(text.ends_with("\n  },\n  \"layouts\": []\n}"), "{text}");
        let mut out = Vec::new();
        serde_json::to_writer(&mut out, &TypesDoc::new(&src, &ints[..1])).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with(r#""types":[{"id":3,"kind":"INT","name":"int","size":4,"bits_offset":0,"nr_bits":32,"encoding":"SIGNED"}]}"#), "{text}");
    }
}
