//! A pure, bounds-checked reader for `.BTF.ext`: func info, line info and CO-RE relocation
//! records, per ELF section, in either byte order.
//!
//! Layout per libbpf's `struct btf_ext_header` and `btf_ext_parse_sec_info()` (btf.c): each
//! info subsection is a `u32` record size followed by `btf_ext_info_sec` blocks (`sec_name_off`,
//! `num_info`, then `num_info` records of that size). Record sizes larger than the known minimum
//! are accepted (newer compilers may append fields); smaller ones are refused, as libbpf does.
//! Every count is checked against the bytes that remain before anything is allocated.

use crate::btf::{Btf, Endian};

pub const BTF_EXT_MAGIC: u16 = 0xeb9f;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtfExtError {
    #[error(".BTF.ext is truncated: {len} bytes, the header needs {need}")]
    TruncatedHeader { len: usize, need: usize },
    #[error(".BTF.ext has bad magic {found:#06x} (expected 0xeb9f)")]
    BadMagic { found: u16 },
    #[error(".BTF.ext has unsupported version {version}")]
    BadVersion { version: u8 },
    #[error(".BTF.ext header length {hdr_len} is invalid")]
    BadHeaderLen { hdr_len: u32 },
    #[error(".BTF.ext byte order ({ext}) differs from .BTF's ({btf})")]
    EndianMismatch {
        ext: &'static str,
        btf: &'static str,
    },
    #[error(".BTF.ext {what} (offset {off}, length {len}) lies outside the {avail}-byte section")]
    OutOfBounds {
        what: &'static str,
        off: u32,
        len: u32,
        avail: usize,
    },
    #[error(".BTF.ext {what} record size {size} is smaller than the minimum {min}")]
    RecordTooSmall {
        what: &'static str,
        size: u32,
        min: u32,
    },
    #[error(".BTF.ext {what} block for section #{block} claims {count} records of {size} bytes, only {avail} bytes remain")]
    TruncatedBlock {
        what: &'static str,
        block: usize,
        count: u32,
        size: u32,
        avail: usize,
    },
    #[error(".BTF.ext {what} block #{block} names section at string offset {off}, which is not in .BTF's strings")]
    BadSectionName {
        what: &'static str,
        block: usize,
        off: u32,
    },
}

/// `struct bpf_func_info` (minimum part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset of the instruction within its section.
    pub insn_off: u32,
    pub type_id: u32,
}

/// `struct bpf_line_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

impl LineInfo {
    /// `BPF_LINE_INFO_LINE_NUM`.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }
    /// `BPF_LINE_INFO_LINE_COL`.
    pub fn col(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// `enum bpf_core_relo_kind` (uapi/linux/bpf.h), with libbpf's names (`core_relo_kind_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreReloKind {
    FieldByteOffset,
    FieldByteSize,
    FieldExists,
    FieldSigned,
    FieldLshiftU64,
    FieldRshiftU64,
    TypeIdLocal,
    TypeIdTarget,
    TypeExists,
    TypeSize,
    EnumvalExists,
    EnumvalValue,
    TypeMatches,
    /// A kind this version of coretool (and libbpf 1.7) does not know.
    Unknown(u32),
}

impl CoreReloKind {
    pub fn from_raw(v: u32) -> Self {
        use CoreReloKind::*;
        match v {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            n => Unknown(n),
        }
    }

    pub fn raw(self) -> u32 {
        use CoreReloKind::*;
        match self {
            FieldByteOffset => 0,
            FieldByteSize => 1,
            FieldExists => 2,
            FieldSigned => 3,
            FieldLshiftU64 => 4,
            FieldRshiftU64 => 5,
            TypeIdLocal => 6,
            TypeIdTarget => 7,
            TypeExists => 8,
            TypeSize => 9,
            EnumvalExists => 10,
            EnumvalValue => 11,
            TypeMatches => 12,
            Unknown(n) => n,
        }
    }

    /// libbpf's `core_relo_kind_str`.
    pub fn name(self) -> &'static str {
        use CoreReloKind::*;
        match self {
            FieldByteOffset => "byte_off",
            FieldByteSize => "byte_sz",
            FieldExists => "field_exists",
            FieldSigned => "signed",
            FieldLshiftU64 => "lshift_u64",
            FieldRshiftU64 => "rshift_u64",
            TypeIdLocal => "local_type_id",
            TypeIdTarget => "target_type_id",
            TypeExists => "type_exists",
            TypeMatches => "type_matches",
            TypeSize => "type_size",
            EnumvalExists => "enumval_exists",
            EnumvalValue => "enumval_value",
            Unknown(_) => "unknown",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        (0..13).map(Self::from_raw).find(|k| k.name() == s)
    }

    /// `core_relo_is_field_based`.
    pub fn is_field_based(self) -> bool {
        self.raw() <= 5
    }
    /// `core_relo_is_type_based`.
    pub fn is_type_based(self) -> bool {
        matches!(self.raw(), 6..=9 | 12)
    }
    /// `core_relo_is_enumval_based`.
    pub(crate) fn is_enumval_based(self) -> bool {
        matches!(self.raw(), 10 | 11)
    }
}

/// `struct bpf_core_relo` as stored in `.BTF.ext`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreReloRecord {
    pub insn_off: u32,
    pub type_id: u32,
    pub access_str_off: u32,
    pub kind: CoreReloKind,
}

/// The records `.BTF.ext` holds for one ELF section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecRecords<T> {
    pub sec_name: String,
    pub records: Vec<T>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BtfExt {
    pub func_info: Vec<SecRecords<FuncInfo>>,
    pub line_info: Vec<SecRecords<LineInfo>>,
    pub core_relos: Vec<SecRecords<CoreReloRecord>>,
}

impl BtfExt {
    /// Parse `.BTF.ext`; section names resolve in `btf`'s strings.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt, BtfExtError> {
        if data.len() < 8 {
            return Err(BtfExtError::TruncatedHeader {
                len: data.len(),
                need: 24,
            });
        }
        let endian = match crate::btf::detect_endian(data) {
            Some(e) => e,
            None => {
                return Err(BtfExtError::BadMagic {
                    found: u16::from_le_bytes([data[0], data[1]]),
                })
            }
        };
        if endian != btf.endian() {
            return Err(BtfExtError::EndianMismatch {
                ext: endian.name(),
                btf: btf.endian().name(),
            });
        }
        if data[2] != 1 {
            return Err(BtfExtError::BadVersion { version: data[2] });
        }
        let rd = |o: usize| endian.u32(data[o..o + 4].try_into().unwrap());
        let hdr_len = rd(4);
        if hdr_len < 24 || hdr_len as usize > data.len() {
            if (data.len() as u32) < 24 {
                return Err(BtfExtError::TruncatedHeader {
                    len: data.len(),
                    need: 24,
                });
            }
            return Err(BtfExtError::BadHeaderLen { hdr_len });
        }
        let body = &data[hdr_len as usize..];
        let sub = |what: &'static str, off: u32, len: u32| -> Result<&[u8], BtfExtError> {
            let end = off as u64 + len as u64;
            if end > body.len() as u64 {
                return Err(BtfExtError::OutOfBounds {
                    what,
                    off,
                    len,
                    avail: body.len(),
                });
            }
            Ok(&body[off as usize..end as usize])
        };
        let mut ext = BtfExt::default();
        let fi = sub("func_info", rd(8), rd(12))?;
        ext.func_info = parse_info(fi, endian, btf, "func_info", 8, |w| FuncInfo {
            insn_off: w[0],
            type_id: w[1],
        })?;
        let li = sub("line_info", rd(16), rd(20))?;
        ext.line_info = parse_info(li, endian, btf, "line_info", 16, |w| LineInfo {
            insn_off: w[0],
            file_name_off: w[1],
            line_off: w[2],
            line_col: w[3],
        })?;
        if hdr_len >= 32 {
            let cr = sub("core_relo", rd(24), rd(28))?;
            ext.core_relos = parse_info(cr, endian, btf, "core_relo", 16, |w| CoreReloRecord {
                insn_off: w[0],
                type_id: w[1],
                access_str_off: w[2],
                kind: CoreReloKind::from_raw(w[3]),
            })?;
        }
        Ok(ext)
    }

    /// The line info record that covers byte `insn_off` of section `sec`: the last one at or
    /// before it (line info marks where each source line's instructions start).
    pub fn line_for(&self, sec: &str, insn_off: u32) -> Option<&LineInfo> {
        self.line_info
            .iter()
            .filter(|s| s.sec_name == sec)
            .flat_map(|s| s.records.iter())
            .filter(|l| l.insn_off <= insn_off)
            .max_by_key(|l| l.insn_off)
    }

    pub fn core_relo_count(&self) -> usize {
        self.core_relos.iter().map(|s| s.records.len()).sum()
    }
}

fn parse_info<T>(
    data: &[u8],
    endian: Endian,
    btf: &Btf,
    what: &'static str,
    min_size: u32,
    make: impl Fn(&[u32]) -> T,
) -> Result<Vec<SecRecords<T>>, BtfExtError> {
    let mut out = Vec::new();
    if data.is_empty() {
        return Ok(out);
    }
    let rd = |o: usize| endian.u32(data[o..o + 4].try_into().unwrap());
    if data.len() < 4 {
        return Err(BtfExtError::TruncatedBlock {
            what,
            block: 0,
            count: 0,
            size: 0,
            avail: data.len(),
        });
    }
    let rec_size = rd(0);
    if rec_size < min_size || rec_size % 4 != 0 {
        return Err(BtfExtError::RecordTooSmall {
            what,
            size: rec_size,
            min: min_size,
        });
    }
    let mut pos = 4usize;
    while pos < data.len() {
        let block = out.len();
        if data.len() - pos < 8 {
            return Err(BtfExtError::TruncatedBlock {
                what,
                block,
                count: 0,
                size: rec_size,
                avail: data.len() - pos,
            });
        }
        let sec_name_off = rd(pos);
        let count = rd(pos + 4);
        pos += 8;
        let avail = data.len() - pos;
        let need = count as u64 * rec_size as u64;
        if need > avail as u64 {
            return Err(BtfExtError::TruncatedBlock {
                what,
                block,
                count,
                size: rec_size,
                avail,
            });
        }
        let sec_name = btf
            .str_at(sec_name_off)
            .ok_or(BtfExtError::BadSectionName {
                what,
                block,
                off: sec_name_off,
            })?
            .to_owned();
        let nwords = (min_size / 4) as usize;
        let mut records = Vec::with_capacity(count as usize);
        let mut words = vec![0u32; nwords];
        for i in 0..count as usize {
            let base = pos + i * rec_size as usize;
            for (j, w) in words.iter_mut().enumerate() {
                *w = rd(base + j * 4);
            }
            records.push(make(&words));
        }
        pos += need as usize;
        out.push(SecRecords { sec_name, records });
    }
    Ok(out)
}
