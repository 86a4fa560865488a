//! A CO-RE access spec, decoded against the local (object) BTF.
//!
//! Derived from libbpf's `bpf_core_parse_spec()` and `bpf_core_format_spec()` in relo_core.c:
//! the same rules (the first accessor indexes the root type as an array, later ones name
//! struct/union members or array elements, anonymous members contribute only an offset) and
//! the same text (`struct task_struct.real_parent`, `enum pid_type::PIDTYPE_SID = 3`).

use super::btf_ext::CoreReloKind;
use crate::btf::{Btf, Kind};

/// libbpf's `BPF_CORE_SPEC_MAX_LEN`.
pub(crate) const CORE_SPEC_MAX_LEN: usize = 64;

/// One high-level accessor (`struct bpf_core_accessor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accessor {
    /// The type being accessed (struct/union, array element type, or enum).
    pub type_id: u32,
    /// Member index, array index, or enumerator index.
    pub idx: u32,
    /// Member or enumerator name; `None` for array accesses.
    pub name: Option<String>,
}

/// A decoded spec (`struct bpf_core_spec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreSpec {
    pub root_type_id: u32,
    pub kind: CoreReloKind,
    /// The raw access string as numbers (`0:86` -> `[0, 86]`).
    pub raw: Vec<u32>,
    /// High-level accessors (anonymous members skipped).
    pub accessors: Vec<Accessor>,
    /// Bit offset of the accessed field from the root pointer (field-based kinds).
    pub bit_offset: u64,
    /// For enumerator kinds: the enumerator's value as libbpf prints it.
    pub enum_value: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("access string {0:?} is malformed")]
    BadAccessString(String),
    #[error("access string has more than {max} accessors", max = CORE_SPEC_MAX_LEN)]
    TooLong,
    #[error("type [{0}] does not exist in the object's BTF")]
    NoSuchType(u32),
    #[error("type-based relocation must have access string \"0\", found {0:?}")]
    TypeBasedAccess(String),
    #[error("[{id}] is a {kind}, not an enum")]
    NotEnum { id: u32, kind: Kind },
    #[error("enumerator index {idx} is out of range for [{id}] ({vlen} values)")]
    EnumIndex { id: u32, idx: u32, vlen: u32 },
    #[error("member index {idx} is out of range for [{id}] ({vlen} members)")]
    MemberIndex { id: u32, idx: u32, vlen: u32 },
    #[error("array index {idx} is out of range for [{id}] ({nelems} elements)")]
    ArrayIndex { id: u32, idx: u32, nelems: u32 },
    #[error("size of [{0}] cannot be resolved")]
    BadSize(u32),
    #[error("accessor #{at} reaches [{id}] of unexpected kind {kind}")]
    UnexpectedKind { at: usize, id: u32, kind: Kind },
    #[error("unknown relocation kind {0}")]
    UnknownKind(u32),
}

fn parse_access(s: &str) -> Result<Vec<u32>, SpecError> {
    if s.is_empty() || s.starts_with(':') {
        return Err(SpecError::BadAccessString(s.into()));
    }
    let mut raw = Vec::new();
    for part in s.split(':') {
        let v: u32 = part
            .parse()
            .ok()
            .filter(|v| *v <= i32::MAX as u32)
            .ok_or_else(|| SpecError::BadAccessString(s.into()))?;
        if raw.len() == CORE_SPEC_MAX_LEN {
            return Err(SpecError::TooLong);
        }
        raw.push(v);
    }
    Ok(raw)
}

impl CoreSpec {
    /// libbpf's `bpf_core_parse_spec()`.
    pub fn parse(
        btf: &Btf,
        root_type_id: u32,
        access: &str,
        kind: CoreReloKind,
    ) -> Result<CoreSpec, SpecError> {
        if let CoreReloKind::Unknown(k) = kind {
            return Err(SpecError::UnknownKind(k));
        }
        let mut spec = CoreSpec {
            root_type_id,
            kind,
            raw: Vec::new(),
            accessors: Vec::new(),
            bit_offset: 0,
            enum_value: None,
        };
        if kind.is_type_based() {
            if access != "0" {
                return Err(SpecError::TypeBasedAccess(access.into()));
            }
            btf.type_by_id(root_type_id)
                .ok_or(SpecError::NoSuchType(root_type_id))?;
            return Ok(spec);
        }
        spec.raw = parse_access(access)?;
        let t = btf
            .skip_mods_and_typedefs(root_type_id)
            .ok_or(SpecError::NoSuchType(root_type_id))?;
        let mut id = t.id;
        let first = spec.raw[0];
        if kind.is_enumval_based() {
            if !t.is_any_enum() {
                return Err(SpecError::NotEnum { id, kind: t.kind() });
            }
            let values = t.enum_values();
            if spec.raw.len() > 1 || first as usize >= values.len() {
                return Err(SpecError::EnumIndex {
                    id,
                    idx: first,
                    vlen: t.vlen(),
                });
            }
            let v = &values[first as usize];
            spec.accessors.push(Accessor {
                type_id: id,
                idx: first,
                name: Some(btf.str_at(v.name_off).unwrap_or("").to_owned()),
            });
            spec.enum_value = Some(t.enum_value_display(v));
            return Ok(spec);
        }
        spec.accessors.push(Accessor {
            type_id: id,
            idx: first,
            name: None,
        });
        let sz = btf.resolve_size(id).ok_or(SpecError::BadSize(id))?;
        spec.bit_offset = (first as u64).saturating_mul(sz).saturating_mul(8);
        for i in 1..spec.raw.len() {
            let t = btf
                .skip_mods_and_typedefs(id)
                .ok_or(SpecError::NoSuchType(id))?;
            id = t.id;
            let idx = spec.raw[i];
            if t.is_composite() {
                let m = t.member(idx).ok_or(SpecError::MemberIndex {
                    id,
                    idx,
                    vlen: t.vlen(),
                })?;
                spec.bit_offset = spec.bit_offset.saturating_add(m.bit_offset as u64);
                if m.name_off != 0 {
                    let name = btf.str_at(m.name_off).unwrap_or("");
                    if name.is_empty() {
                        return Err(SpecError::BadAccessString(access.into()));
                    }
                    spec.accessors.push(Accessor {
                        type_id: id,
                        idx,
                        name: Some(name.to_owned()),
                    });
                }
                id = m.type_id;
            } else if t.kind() == Kind::Array {
                let a = t.array().expect("array");
                let elem = btf
                    .skip_mods_and_typedefs(a.elem_type)
                    .ok_or(SpecError::NoSuchType(a.elem_type))?;
                id = elem.id;
                // is_flex_arr(): a zero-length array that is the last member of its struct.
                let prev = spec.accessors.last().expect("root accessor");
                let flex = a.nelems == 0
                    && prev.name.is_some()
                    && btf
                        .type_by_id(prev.type_id)
                        .is_some_and(|pt| prev.idx + 1 == pt.vlen());
                if !flex && idx >= a.nelems {
                    return Err(SpecError::ArrayIndex {
                        id: t.id,
                        idx,
                        nelems: a.nelems,
                    });
                }
                spec.accessors.push(Accessor {
                    type_id: id,
                    idx,
                    name: None,
                });
                let sz = btf.resolve_size(id).ok_or(SpecError::BadSize(id))?;
                spec.bit_offset = spec
                    .bit_offset
                    .saturating_add((idx as u64).saturating_mul(sz).saturating_mul(8));
            } else {
                return Err(SpecError::UnexpectedKind {
                    at: i,
                    id,
                    kind: t.kind(),
                });
            }
        }
        Ok(spec)
    }

    /// The accessor in libbpf's notation, without the `<kind> [id]` prefix:
    /// `struct task_struct.se.load.weight`, `struct foo[1].arr[2]`,
    /// `enum pid_type::PIDTYPE_SID = 3`, `struct task_struct` (type-based kinds).
    pub fn accessor_text(&self, btf: &Btf) -> String {
        let root = btf.type_by_id(self.root_type_id);
        let mut s = match root {
            Some(t) => {
                let name = btf.name_of(&t);
                format!(
                    "{} {}",
                    t.kind().lower_name(),
                    if name.is_empty() { "<anon>" } else { name }
                )
            }
            None => format!("[{}] <invalid>", self.root_type_id),
        };
        if self.kind.is_type_based() {
            return s;
        }
        if self.kind.is_enumval_based() {
            if let Some(a) = self.accessors.first() {
                s.push_str(&format!(
                    "::{} = {}",
                    a.name.as_deref().unwrap_or(""),
                    self.enum_value.as_deref().unwrap_or("?")
                ));
            }
            return s;
        }
        for (i, a) in self.accessors.iter().enumerate() {
            match &a.name {
                Some(n) => {
                    s.push('.');
                    s.push_str(n);
                }
                None if i > 0 || a.idx > 0 => s.push_str(&format!("[{}]", a.idx)),
                None => {}
            }
        }
        s
    }

    /// The access string as written in `.BTF.ext` (`0:86`).
    pub fn raw_text(&self) -> String {
        self.raw
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// `2420` or, for a bitfield, `16.3` (byte.bit), as libbpf prints `@ offset`.
    pub fn offset_text(&self) -> Option<String> {
        if !self.kind.is_field_based() {
            return None;
        }
        Some(format_bit_offset(self.bit_offset))
    }
}

/// `bytes` or `bytes.bits`, libbpf's notation for a bit offset.
pub(crate) fn format_bit_offset(bit_offset: u64) -> String {
    if bit_offset % 8 == 0 {
        format!("{}", bit_offset / 8)
    } else {
        format!("{}.{}", bit_offset / 8, bit_offset % 8)
    }
}
