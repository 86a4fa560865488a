//! A pure, bounds-checked reader for BTF (the kernel's BPF Type Format).
//!
//! The parser trusts nothing: every offset in the header, every type record and every string
//! reference is checked against the blob before it is used, so a truncated or hostile blob yields
//! a [`BtfError`] and never a panic or an allocation larger than the input. The type section is
//! made of 4-byte words only; the blob is kept as it came (one allocation, no copy when the
//! caller hands over a `Vec`) and words are read in the blob's byte order, so
//! [`Btf::raw_bytes`] can hand the very same blob to libbpf.
//!
//! Parsing also checks the type graph once (`graph`): a reference cycle that C cannot
//! express (anything but a pointer back to a named struct or union) is refused with
//! [`BtfError::TypeCycle`], so no caller (coretool's own walks, libbpf's relocation and
//! `btf_dump` code) ever sees one.
//!
//! Split BTF (a kernel module's BTF on top of vmlinux) is supported: ids below
//! [`Btf::first_id`] and string offsets below the base's string size resolve in the base.
//!
//! Layout follows `include/uapi/linux/btf.h`; helper names follow libbpf's `btf.h`.

pub mod cdecl;
mod graph;
pub mod layout;
pub(crate) mod native;

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// `BTF_MAGIC` as it reads in the blob's own byte order.
pub(crate) const BTF_MAGIC: u16 = 0xeb9f;
/// The largest type id the format can express (`BTF_MAX_TYPE`).
pub(crate) const BTF_MAX_TYPE: u32 = 0x000f_ffff;
/// libbpf's `MAX_RESOLVE_DEPTH`: how many modifiers/typedefs/arrays a resolution follows.
pub(crate) const MAX_RESOLVE_DEPTH: usize = 32;

/// Byte order of a BTF blob or an ELF object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    pub(crate) fn native() -> Self {
        if cfg!(target_endian = "little") {
            Endian::Little
        } else {
            Endian::Big
        }
    }
    pub fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }
    pub fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Endian::Little => "little-endian",
            Endian::Big => "big-endian",
        }
    }
}

/// Why a BTF blob was refused. Every variant names what is wrong and where.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtfError {
    #[error("BTF is empty")]
    Empty,
    #[error("BTF is truncated: {len} bytes, the header needs {need}")]
    TruncatedHeader { len: usize, need: usize },
    #[error("not BTF: bad magic {found:#06x} (expected 0xeb9f)")]
    BadMagic { found: u16 },
    #[error("unsupported BTF version {version} (only version 1 exists)")]
    BadVersion { version: u8 },
    #[error("BTF header length {hdr_len} is invalid")]
    BadHeaderLen { hdr_len: u32 },
    #[error(
        "BTF {section} section (offset {off}, length {len}) lies outside the {avail}-byte blob"
    )]
    SectionOutOfBounds {
        section: &'static str,
        off: u32,
        len: u32,
        avail: usize,
    },
    #[error("BTF type section length {len} is not a multiple of 4")]
    MisalignedTypes { len: u32 },
    #[error("BTF string section is malformed: {why}")]
    BadStrings { why: &'static str },
    #[error("BTF type [{id}] at byte {off} is truncated")]
    TruncatedType { id: u32, off: usize },
    #[error("BTF type [{id}] has unknown kind {kind}")]
    UnknownKind { id: u32, kind: u32 },
    #[error("BTF has more than {max} types", max = BTF_MAX_TYPE)]
    TooManyTypes,
    #[error("split BTF has no base: pass the vmlinux BTF it was built against with --base")]
    MissingBase,
    #[error("split BTF does not fit its base: {why}")]
    BaseMismatch { why: String },
    /// A reference cycle C cannot express (see `graph`): `ids` in the order they refer to
    /// each other, the last referring back to the first; `path` names them for the message.
    #[error("BTF type cycle {path}: only a pointer to a named struct or union may close a cycle")]
    TypeCycle { ids: Vec<u32>, path: String },
}

/// BTF kinds, numbered as in `enum btf_kind` (uapi/linux/btf.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    Unkn = 0,
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

impl Kind {
    pub const ALL: [Kind; 20] = [
        Kind::Unkn,
        Kind::Int,
        Kind::Ptr,
        Kind::Array,
        Kind::Struct,
        Kind::Union,
        Kind::Enum,
        Kind::Fwd,
        Kind::Typedef,
        Kind::Volatile,
        Kind::Const,
        Kind::Restrict,
        Kind::Func,
        Kind::FuncProto,
        Kind::Var,
        Kind::Datasec,
        Kind::Float,
        Kind::DeclTag,
        Kind::TypeTag,
        Kind::Enum64,
    ];

    pub fn from_raw(k: u32) -> Option<Kind> {
        Kind::ALL.get(k as usize).copied()
    }

    /// The upper-case name bpftool prints (`STRUCT`, `FUNC_PROTO`, ...).
    pub fn upper_name(self) -> &'static str {
        match self {
            Kind::Unkn => "UNKNOWN",
            Kind::Int => "INT",
            Kind::Ptr => "PTR",
            Kind::Array => "ARRAY",
            Kind::Struct => "STRUCT",
            Kind::Union => "UNION",
            Kind::Enum => "ENUM",
            Kind::Fwd => "FWD",
            Kind::Typedef => "TYPEDEF",
            Kind::Volatile => "VOLATILE",
            Kind::Const => "CONST",
            Kind::Restrict => "RESTRICT",
            Kind::Func => "FUNC",
            Kind::FuncProto => "FUNC_PROTO",
            Kind::Var => "VAR",
            Kind::Datasec => "DATASEC",
            Kind::Float => "FLOAT",
            Kind::DeclTag => "DECL_TAG",
            Kind::TypeTag => "TYPE_TAG",
            Kind::Enum64 => "ENUM64",
        }
    }

    /// The lower-case name libbpf uses in its logs (`btf_kind_str`: `struct`, `func_proto`, ...).
    pub fn lower_name(self) -> &'static str {
        match self {
            Kind::Unkn => "unknown",
            Kind::Int => "int",
            Kind::Ptr => "ptr",
            Kind::Array => "array",
            Kind::Struct => "struct",
            Kind::Union => "union",
            Kind::Enum => "enum",
            Kind::Fwd => "fwd",
            Kind::Typedef => "typedef",
            Kind::Volatile => "volatile",
            Kind::Const => "const",
            Kind::Restrict => "restrict",
            Kind::Func => "func",
            Kind::FuncProto => "func_proto",
            Kind::Var => "var",
            Kind::Datasec => "datasec",
            Kind::Float => "float",
            Kind::DeclTag => "decl_tag",
            Kind::TypeTag => "type_tag",
            Kind::Enum64 => "enum64",
        }
    }

    pub fn from_lower_name(s: &str) -> Option<Kind> {
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.lower_name() == s.to_ascii_lowercase())
    }

    /// Words (4 bytes) that follow the 12-byte `struct btf_type` header for `vlen` entries.
    fn extra_words(self, vlen: u32) -> usize {
        let vlen = vlen as usize;
        match self {
            Kind::Int | Kind::Var | Kind::DeclTag => 1,
            Kind::Array => 3,
            Kind::Struct | Kind::Union => 3 * vlen,
            Kind::Enum | Kind::FuncProto => 2 * vlen,
            Kind::Enum64 | Kind::Datasec => 3 * vlen,
            _ => 0,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lower_name())
    }
}

/// A parsed BTF blob (base or split).
pub struct Btf {
    endian: Endian,
    /// The whole blob, as read (or mapped).
    data: Blob,
    /// Byte range of the type section within `data`.
    types: std::ops::Range<usize>,
    /// Byte range of the string section within `data`.
    strings: std::ops::Range<usize>,
    /// Word index (into the type section) of each own type; `starts[i]` is type `first_id + i`.
    starts: Vec<u32>,
    /// The first id this blob defines: 1 for base BTF, the base's type count for split BTF.
    first_id: u32,
    /// String offsets below this resolve in the base (0 for base BTF).
    str_start: u32,
    base: Option<Box<Btf>>,
    /// Size of the raw blob, for reports.
    raw_size: usize,
    names: OnceLock<HashMap<String, Vec<u32>>>,
    /// Some type refers to an id past the last type (checked by `graph`).
    refs_past_end: bool,
}

impl fmt::Debug for Btf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("endian", &self.endian)
            .field("types", &self.type_count())
            .field("first_id", &self.first_id)
            .finish()
    }
}

/// A raw view of the BTF header fields, for reports.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub magic: u16,
    pub version: u8,
    pub flags: u8,
    pub hdr_len: u32,
    pub type_off: u32,
    pub type_len: u32,
    pub str_off: u32,
    pub str_len: u32,
}

/// Does `data` start with BTF's magic in either byte order?
pub(crate) fn detect_endian(data: &[u8]) -> Option<Endian> {
    match data.get(..2)? {
        [0x9f, 0xeb] => Some(Endian::Little),
        [0xeb, 0x9f] => Some(Endian::Big),
        _ => None,
    }
}

fn parse_header(data: &[u8]) -> Result<(Endian, Header), BtfError> {
    if data.is_empty() {
        return Err(BtfError::Empty);
    }
    if data.len() < 24 {
        return Err(BtfError::TruncatedHeader {
            len: data.len(),
            need: 24,
        });
    }
    let endian = match detect_endian(data) {
        Some(e) => e,
        None => {
            return Err(BtfError::BadMagic {
                found: u16::from_le_bytes([data[0], data[1]]),
            })
        }
    };
    let w = |o: usize| endian.u32(data[o..o + 4].try_into().unwrap());
    let h = Header {
        magic: BTF_MAGIC,
        version: data[2],
        flags: data[3],
        hdr_len: w(4),
        type_off: w(8),
        type_len: w(12),
        str_off: w(16),
        str_len: w(20),
    };
    if h.version != 1 {
        return Err(BtfError::BadVersion { version: h.version });
    }
    if h.hdr_len < 24 || h.hdr_len as usize > data.len() {
        return Err(BtfError::BadHeaderLen { hdr_len: h.hdr_len });
    }
    Ok((endian, h))
}

/// The byte range of a header-described section within the blob.
fn section(
    data: &[u8],
    hdr_len: u32,
    name: &'static str,
    off: u32,
    len: u32,
) -> Result<std::ops::Range<usize>, BtfError> {
    let avail = data.len() - hdr_len as usize;
    let end = (off as u64) + (len as u64);
    if end > avail as u64 {
        return Err(BtfError::SectionOutOfBounds {
            section: name,
            off,
            len,
            avail,
        });
    }
    let start = hdr_len as usize + off as usize;
    Ok(start..start + len as usize)
}

/// Whether a parse walks the type graph ([`Btf::check_graph`]).
#[derive(Debug, Clone, Copy)]
enum Graph {
    Check,
    /// Walked before, on the same bytes, with this result.
    Checked {
        refs_past_end: bool,
    },
}

impl Btf {
    /// Parse a base BTF blob (vmlinux's, or a `.bpf.o`'s `.BTF`).
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        Self::parse_inner(Blob::Owned(data.to_vec()), None, Graph::Check)
    }

    /// Parse base or split BTF held in a [`Blob`] (owned bytes or a read-only mapping).
    pub(crate) fn from_blob(data: Blob, base: Option<Btf>) -> Result<Btf, BtfError> {
        Self::parse_inner(data, base, Graph::Check)
    }

    /// Parse base BTF whose type graph was checked before (by this parser, on these very
    /// bytes: the BTF cache stores a CRC-32 of them with the result). Every bound the parse
    /// itself relies on is still checked; only the walk for reference cycles and ids past the
    /// end is skipped, its result (`refs_past_end`) taken from the earlier check.
    pub(crate) fn from_checked_blob(data: Blob, refs_past_end: bool) -> Result<Btf, BtfError> {
        Self::parse_inner(data, None, Graph::Checked { refs_past_end })
    }

    /// Whether some type refers to an id past the last one (split BTF resolved against
    /// another base would need it); kept with a cached check.
    pub(crate) fn refs_past_end(&self) -> bool {
        self.refs_past_end
    }

    /// Parse split BTF (a module's) on top of `base`.
    pub fn parse_split(data: &[u8], base: Btf) -> Result<Btf, BtfError> {
        Self::parse_inner(Blob::Owned(data.to_vec()), Some(base), Graph::Check)
    }

    /// The base a split BTF was parsed on, given back (to parse the next module on it).
    pub fn into_base(self) -> Option<Btf> {
        self.base.map(|b| *b)
    }

    fn parse_inner(data: Blob, base: Option<Btf>, graph: Graph) -> Result<Btf, BtfError> {
        let (endian, h) = parse_header(&data)?;
        let types_range = section(&data, h.hdr_len, "type", h.type_off, h.type_len)?;
        let strings_range = section(&data, h.hdr_len, "string", h.str_off, h.str_len)?;
        let strings = &data[strings_range.clone()];
        if h.type_len % 4 != 0 {
            return Err(BtfError::MisalignedTypes { len: h.type_len });
        }
        let own_is_base = strings.first() == Some(&0);
        let base = if own_is_base { None } else { base };
        if !own_is_base && base.is_none() && !strings.is_empty() {
            return Err(BtfError::MissingBase);
        }
        if base.is_none() {
            if strings.is_empty() {
                return Err(BtfError::BadStrings {
                    why: "it is empty (it must at least hold the empty string)",
                });
            }
            if strings[0] != 0 {
                return Err(BtfError::BadStrings {
                    why: "it does not start with the empty string",
                });
            }
        }
        if let Some(last) = strings.last() {
            if *last != 0 {
                return Err(BtfError::BadStrings {
                    why: "it does not end with a NUL byte",
                });
            }
        }
        let words = Words {
            bytes: &data[types_range.clone()],
            endian,
        };
        let (first_id, str_start) = match &base {
            Some(b) => (b.type_count(), b.strings_end()),
            None => (1, 0),
        };
        let mut starts = Vec::new();
        let mut pos = 0usize;
        while pos < words.len() {
            let id = first_id as u64 + starts.len() as u64;
            if id > BTF_MAX_TYPE as u64 {
                return Err(BtfError::TooManyTypes);
            }
            let id = id as u32;
            if pos + 3 > words.len() {
                return Err(BtfError::TruncatedType { id, off: pos * 4 });
            }
            let info = words.get(pos + 1);
            let raw_kind = (info >> 24) & 0x7f;
            let kind = match Kind::from_raw(raw_kind) {
                Some(k) if k != Kind::Unkn => k,
                _ => return Err(BtfError::UnknownKind { id, kind: raw_kind }),
            };
            let need = 3 + kind.extra_words(info & 0x00ff_ffff);
            if pos + need > words.len() {
                return Err(BtfError::TruncatedType { id, off: pos * 4 });
            }
            starts.push(pos as u32);
            pos += need;
        }
        let raw_size = data.len();
        let mut btf = Btf {
            endian,
            data,
            types: types_range,
            strings: strings_range,
            starts,
            first_id,
            str_start,
            base: base.map(Box::new),
            raw_size,
            names: OnceLock::new(),
            refs_past_end: false,
        };
        btf.refs_past_end = match graph {
            Graph::Check => btf.check_graph()?,
            Graph::Checked { refs_past_end } => refs_past_end,
        };
        Ok(btf)
    }

    pub fn endian(&self) -> Endian {
        self.endian
    }

    pub fn raw_size(&self) -> usize {
        self.raw_size
    }

    /// The blob exactly as it was parsed (for handing to libbpf's `btf__new`).
    pub fn raw_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Give the blob back (for handing to libbpf once coretool's own view is no longer needed).
    pub fn into_raw(self) -> Vec<u8> {
        match self.data {
            Blob::Owned(v) => v,
            Blob::Mapped(m) => m.to_vec(),
        }
    }

    fn words(&self) -> Words<'_> {
        Words {
            bytes: &self.data[self.types.clone()],
            endian: self.endian,
        }
    }

    fn string_bytes(&self) -> &[u8] {
        &self.data[self.strings.clone()]
    }

    /// `(id, name_off)` of every type this blob defines, in id order: the cheapest walk over
    /// names (no [`Type`] is built).
    pub(crate) fn name_offsets(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let words = self.words();
        self.starts
            .iter()
            .enumerate()
            .map(move |(i, &start)| (self.first_id + i as u32, words.get(start as usize)))
    }

    /// The string section of this blob from `off` to its end (the string at `off` and every
    /// one after it), for matching names by prefix without measuring them first. `None` for
    /// an offset outside this blob's own strings.
    pub(crate) fn string_tail(&self, off: u32) -> Option<&[u8]> {
        let rel = off.checked_sub(self.str_start)? as usize;
        self.string_bytes().get(rel..)
    }

    pub fn base(&self) -> Option<&Btf> {
        self.base.as_deref()
    }

    /// The first type id this blob itself defines (1, or the base's type count when split).
    pub fn first_id(&self) -> u32 {
        self.first_id
    }

    /// libbpf's `btf__type_cnt`: one more than the largest valid id (void included).
    pub fn type_count(&self) -> u32 {
        self.first_id + self.starts.len() as u32
    }

    fn strings_end(&self) -> u32 {
        self.str_start + self.strings.len() as u32
    }

    /// The type with `id`, or `None` when the id is out of range. Id 0 is `void`.
    pub fn type_by_id(&self, id: u32) -> Option<Type<'_>> {
        if id == 0 {
            return Some(Type {
                id: 0,
                words: Words {
                    bytes: &VOID_BYTES,
                    endian: Endian::native(),
                },
            });
        }
        if id < self.first_id {
            return self.base.as_ref()?.type_by_id(id);
        }
        let idx = (id - self.first_id) as usize;
        let start = *self.starts.get(idx)? as usize;
        let words = self.words();
        let end = self
            .starts
            .get(idx + 1)
            .map(|&e| e as usize)
            .unwrap_or(words.len());
        Some(Type {
            id,
            words: words.slice(start, end),
        })
    }

    /// Iterate over the types this blob defines (not its base's), in id order.
    pub fn types(&self) -> impl Iterator<Item = Type<'_>> + '_ {
        (self.first_id..self.type_count()).filter_map(move |id| self.type_by_id(id))
    }

    /// The string at `off`, or `None` when the offset is outside the string section or the
    /// string is not UTF-8.
    pub fn str_at(&self, off: u32) -> Option<&str> {
        if off < self.str_start {
            return self.base.as_ref()?.str_at(off);
        }
        let rel = (off - self.str_start) as usize;
        let rest = self.string_bytes().get(rel..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// The raw bytes of the string at `off` (libbpf's `btf__name_by_offset`, without the UTF-8
    /// check): `None` when the offset lies outside the string section.
    pub fn str_bytes_at(&self, off: u32) -> Option<&[u8]> {
        if off < self.str_start {
            return self.base.as_ref()?.str_bytes_at(off);
        }
        let rest = self.string_bytes().get((off - self.str_start) as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        Some(&rest[..end])
    }

    /// A type's name, `""` when anonymous or invalid.
    pub fn name_of(&self, t: &Type<'_>) -> &str {
        self.str_at(t.name_off()).unwrap_or("")
    }

    /// Ids of every type (base included) with the given name, built once on first use.
    pub fn ids_by_name(&self, name: &str) -> &[u32] {
        let map = self.names.get_or_init(|| {
            let mut m: HashMap<String, Vec<u32>> = HashMap::new();
            for id in 1..self.type_count() {
                if let Some(t) = self.type_by_id(id) {
                    if let Some(n) = self.str_at(t.name_off()) {
                        if !n.is_empty() {
                            m.entry(n.to_owned()).or_default().push(id);
                        }
                    }
                }
            }
            m
        });
        map.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// libbpf's `skip_mods_and_typedefs`: follow const/volatile/restrict/typedef/type_tag.
    pub fn skip_mods_and_typedefs(&self, mut id: u32) -> Option<Type<'_>> {
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.type_by_id(id)?;
            match t.kind() {
                Kind::Const | Kind::Volatile | Kind::Restrict | Kind::Typedef | Kind::TypeTag => {
                    id = t.type_id()
                }
                _ => return Some(t),
            }
        }
        None
    }

    /// libbpf's `btf__resolve_size`: the size in bytes of a type, following modifiers and arrays.
    pub fn resolve_size(&self, mut id: u32) -> Option<u64> {
        let mut nelems: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.type_by_id(id)?;
            match t.kind() {
                Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::Datasec
                | Kind::Float => return nelems.checked_mul(t.size() as u64),
                Kind::Ptr => return nelems.checked_mul(8),
                Kind::Typedef
                | Kind::Volatile
                | Kind::Const
                | Kind::Restrict
                | Kind::Var
                | Kind::DeclTag
                | Kind::TypeTag => id = t.type_id(),
                Kind::Array => {
                    let a = t.array()?;
                    nelems = nelems.checked_mul(a.nelems as u64)?;
                    id = a.elem_type;
                }
                _ => return None,
            }
        }
        None
    }

    /// `[id] kind name` as libbpf and bpftool print a type reference.
    pub fn describe(&self, id: u32) -> String {
        match self.type_by_id(id) {
            Some(t) if id == 0 => format!("[0] {}", t.kind_name_for_ref()),
            Some(t) => {
                let name = self.name_of(&t);
                format!(
                    "[{id}] {} {}",
                    t.kind().lower_name(),
                    if name.is_empty() { "<anon>" } else { name }
                )
            }
            None => format!("[{id}] <invalid>"),
        }
    }
}

static VOID_BYTES: [u8; 12] = [0; 12];

/// Where a BTF blob's bytes live: read into memory, or a read-only mapping of the kernel's
/// own copy (`/sys/kernel/btf/vmlinux` on Linux 6.16 and later), which costs no memory of ours.
pub(crate) enum Blob {
    Owned(Vec<u8>),
    Mapped(crate::kernel_btf::MappedFile),
}

impl std::ops::Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Blob::Owned(v) => v,
            Blob::Mapped(m) => m,
        }
    }
}

/// 4-byte words in a given byte order.
#[derive(Clone, Copy)]
struct Words<'a> {
    bytes: &'a [u8],
    endian: Endian,
}

impl<'a> Words<'a> {
    fn len(&self) -> usize {
        self.bytes.len() / 4
    }
    fn get(&self, i: usize) -> u32 {
        self.endian
            .u32(self.bytes[i * 4..i * 4 + 4].try_into().expect("4 bytes"))
    }
    fn slice(&self, from: usize, to: usize) -> Words<'a> {
        Words {
            bytes: &self.bytes[from * 4..to * 4],
            endian: self.endian,
        }
    }
    /// Consecutive records of `N` words.
    fn records<const N: usize>(self) -> impl ExactSizeIterator<Item = [u32; N]> + 'a {
        self.bytes.chunks_exact(N * 4).map(move |c| {
            std::array::from_fn(|j| self.endian.u32(c[j * 4..j * 4 + 4].try_into().unwrap()))
        })
    }
}

/// A borrowed view of one type record.
#[derive(Clone, Copy)]
pub struct Type<'a> {
    pub id: u32,
    words: Words<'a>,
}

impl fmt::Debug for Type<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {:?}", self.id, self.kind())
    }
}

/// `BTF_INT_*` encoding bits.
pub(crate) const BTF_INT_SIGNED: u32 = 1;
pub(crate) const BTF_INT_CHAR: u32 = 2;
pub(crate) const BTF_INT_BOOL: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntInfo {
    pub encoding: u32,
    pub offset: u32,
    pub bits: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayInfo {
    pub elem_type: u32,
    pub index_type: u32,
    pub nelems: u32,
}

/// A struct/union member, with its bit offset and bitfield size already decoded from the
/// kind_flag encoding (`BTF_MEMBER_BIT_OFFSET`, `BTF_MEMBER_BITFIELD_SIZE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub name_off: u32,
    pub type_id: u32,
    pub bit_offset: u32,
    pub bitfield_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumValue {
    pub name_off: u32,
    /// The raw value bits (32-bit values zero-extended for `ENUM`).
    pub raw: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name_off: u32,
    pub type_id: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSecinfo {
    pub type_id: u32,
    pub offset: u32,
    pub size: u32,
}

impl<'a> Type<'a> {
    pub fn name_off(&self) -> u32 {
        self.words.get(0)
    }
    pub fn info(&self) -> u32 {
        self.words.get(1)
    }
    pub fn kind(&self) -> Kind {
        if self.id == 0 {
            return Kind::Unkn;
        }
        Kind::from_raw((self.info() >> 24) & 0x7f).unwrap_or(Kind::Unkn)
    }
    pub fn vlen(&self) -> u32 {
        self.info() & 0x00ff_ffff
    }
    pub fn kflag(&self) -> bool {
        self.info() >> 31 == 1
    }
    /// `size` for INT, ENUM, STRUCT, UNION, DATASEC, FLOAT, ENUM64.
    pub fn size(&self) -> u32 {
        self.words.get(2)
    }
    /// `type` for PTR, TYPEDEF, modifiers, FUNC, FUNC_PROTO (return type), VAR, tags.
    pub fn type_id(&self) -> u32 {
        self.words.get(2)
    }
    fn extra(&self) -> Words<'a> {
        self.words.slice(3, self.words.len())
    }

    fn extra_or_empty(&self, ok: bool) -> Words<'a> {
        if ok {
            self.extra()
        } else {
            Words {
                bytes: &[],
                endian: self.words.endian,
            }
        }
    }

    fn kind_name_for_ref(&self) -> &'static str {
        if self.id == 0 {
            "void"
        } else {
            self.kind().lower_name()
        }
    }

    pub fn is_composite(&self) -> bool {
        matches!(self.kind(), Kind::Struct | Kind::Union)
    }
    pub(crate) fn is_any_enum(&self) -> bool {
        matches!(self.kind(), Kind::Enum | Kind::Enum64)
    }

    pub fn int(&self) -> Option<IntInfo> {
        (self.kind() == Kind::Int).then(|| {
            let v = self.extra().get(0);
            IntInfo {
                encoding: (v & 0x0f00_0000) >> 24,
                offset: (v & 0x00ff_0000) >> 16,
                bits: v & 0xff,
            }
        })
    }

    pub fn array(&self) -> Option<ArrayInfo> {
        (self.kind() == Kind::Array).then(|| {
            let e = self.extra();
            ArrayInfo {
                elem_type: e.get(0),
                index_type: e.get(1),
                nelems: e.get(2),
            }
        })
    }

    /// Members of a struct or union (empty for other kinds).
    pub fn members(&self) -> impl ExactSizeIterator<Item = Member> + 'a {
        let kflag = self.kflag();
        let e = self.extra_or_empty(self.is_composite());
        e.records::<3>().map(move |m| {
            let (bit_offset, bitfield_size) = if kflag {
                (m[2] & 0x00ff_ffff, m[2] >> 24)
            } else {
                (m[2], 0)
            };
            Member {
                name_off: m[0],
                type_id: m[1],
                bit_offset,
                bitfield_size,
            }
        })
    }

    pub fn member(&self, idx: u32) -> Option<Member> {
        self.members().nth(idx as usize)
    }

    /// Enumerators of an ENUM or ENUM64 (empty for other kinds).
    pub fn enum_values(&self) -> Vec<EnumValue> {
        match self.kind() {
            Kind::Enum => self
                .extra()
                .records::<2>()
                .map(|v| EnumValue {
                    name_off: v[0],
                    raw: v[1] as u64,
                })
                .collect(),
            Kind::Enum64 => self
                .extra()
                .records::<3>()
                .map(|v| EnumValue {
                    name_off: v[0],
                    raw: ((v[2] as u64) << 32) | v[1] as u64,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// An enumerator's value as a signed or unsigned number, per the enum's kind_flag.
    pub fn enum_value_display(&self, v: &EnumValue) -> String {
        match (self.kind(), self.kflag()) {
            (Kind::Enum, true) => (v.raw as u32 as i32).to_string(),
            (Kind::Enum, false) => (v.raw as u32).to_string(),
            (_, true) => (v.raw as i64).to_string(),
            (_, false) => v.raw.to_string(),
        }
    }

    pub fn params(&self) -> impl ExactSizeIterator<Item = Param> + 'a {
        let e = self.extra_or_empty(self.kind() == Kind::FuncProto);
        e.records::<2>().map(|p| Param {
            name_off: p[0],
            type_id: p[1],
        })
    }

    /// `btf_var.linkage` for VAR.
    pub fn var_linkage(&self) -> Option<u32> {
        (self.kind() == Kind::Var).then(|| self.extra().get(0))
    }

    pub fn secinfos(&self) -> impl ExactSizeIterator<Item = VarSecinfo> + 'a {
        let e = self.extra_or_empty(self.kind() == Kind::Datasec);
        e.records::<3>().map(|v| VarSecinfo {
            type_id: v[0],
            offset: v[1],
            size: v[2],
        })
    }

    /// `btf_decl_tag.component_idx` for DECL_TAG (-1: the tag applies to the whole type).
    pub fn decl_tag_component(&self) -> Option<i32> {
        (self.kind() == Kind::DeclTag).then(|| self.extra().get(0) as i32)
    }
}

/// bpftool's `btf_int_enc_str`.
pub fn int_encoding_str(enc: u32) -> &'static str {
    match enc {
        0 => "(none)",
        BTF_INT_SIGNED => "SIGNED",
        BTF_INT_CHAR => "CHAR",
        BTF_INT_BOOL => "BOOL",
        _ => "UNKN",
    }
}

/// bpftool's `btf_var_linkage_str` (`btf_var.linkage`).
pub fn var_linkage_str(linkage: u32) -> &'static str {
    match linkage {
        0 => "static",
        1 => "global",
        2 => "extern",
        _ => "(unknown)",
    }
}

/// bpftool's `btf_func_linkage_str` (a FUNC's vlen holds its linkage).
pub fn func_linkage_str(vlen: u32) -> &'static str {
    var_linkage_str(vlen)
}

/// Split a CO-RE "flavor" suffix off a name: `task_struct___old` -> `task_struct`
/// (libbpf's `bpf_core_essential_name_len`).
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() < 5 {
        return name;
    }
    // X___Y where X and Y are not underscores (`bpf_core_is_flavor_sep`), scanning from the end.
    for i in (0..=b.len() - 5).rev() {
        if b[i] != b'_' && &b[i + 1..i + 4] == b"___" && b[i + 4] != b'_' {
            return &name[..i + 1];
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny hand-assembled blob: [1] INT int, [2] PTR -> 1, [3] STRUCT s { int a; int *b; }.
    pub(crate) fn tiny_blob(big: bool) -> Vec<u8> {
        let strs = b"\0int\0s\0a\0b\0";
        let mut words: Vec<u32> = vec![];
        words.extend([1, (1 << 24), 4, (BTF_INT_SIGNED << 24) | 32]);
        words.extend([0, (2 << 24), 1]);
        words.extend([5, (4 << 24) | 2, 16, 7, 1, 0, 9, 2, 64]);
        let put32 = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend(if big { [0xeb, 0x9f] } else { [0x9f, 0xeb] });
        out.extend([1, 0]);
        for v in [
            24,
            0,
            words.len() as u32 * 4,
            words.len() as u32 * 4,
            strs.len() as u32,
        ] {
            out.extend(put32(v));
        }
        for w in &words {
            out.extend(put32(*w));
        }
        out.extend(strs);
        out
    }

    #[test]
    fn parses_both_endiannesses_alike() {
        for big in [false, true] {
            let btf = Btf::parse(&tiny_blob(big)).unwrap();
            assert_eq!(btf.type_count(), 4);
            let s = btf.type_by_id(3).unwrap();
            assert_eq!(s.kind(), Kind::Struct);
            assert_eq!(btf.name_of(&s), "s");
            let m: Vec<_> = s.members().collect();
            assert_eq!(m[1].bit_offset, 64);
            assert_eq!(btf.resolve_size(2), Some(8));
            assert_eq!(btf.describe(3), "[3] struct s");
        }
    }

    #[test]
    fn rejects_truncation_everywhere_without_panicking() {
        let blob = tiny_blob(false);
        for n in 0..blob.len() {
            assert!(Btf::parse(&blob[..n]).is_err(), "prefix {n} parsed");
        }
    }

    #[test]
    fn bad_magic_is_named() {
        let mut blob = tiny_blob(false);
        blob[0] = 0x7f;
        assert!(matches!(Btf::parse(&blob), Err(BtfError::BadMagic { .. })));
    }

    #[test]
    fn flavor_suffix() {
        assert_eq!(essential_name("task_struct___old"), "task_struct");
        assert_eq!(essential_name("task_struct"), "task_struct");
        assert_eq!(essential_name("a___b___c"), "a___b");
        assert_eq!(essential_name("___x"), "___x");
    }
}
