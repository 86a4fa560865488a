//! A CO-RE spec as libbpf states it (`bpf_core_format_spec`): the root type and what the
//! relocation addresses in it, self-contained (names resolved), for the object's side and for
//! the kernel type it matched; and the instruction patches libbpf applies.

use std::fmt;

use super::btf_ext::CoreReloKind as RelocKind;

/// Kinds whose value answers "is it there?": 0 on a kernel without it is an answer, not a
/// failure.
pub(crate) fn is_existence(kind: RelocKind) -> bool {
    matches!(
        kind,
        RelocKind::FieldExists
            | RelocKind::TypeExists
            | RelocKind::TypeMatches
            | RelocKind::EnumvalExists
    )
}

/// What a spec addresses beyond its root type (`bpf_core_format_spec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecDetail {
    /// Type-based kinds: the root type is the whole spec.
    Type,
    /// Field-based kinds: `.real_parent` or `[2].x`, the raw accessor `0:86` and the bit offset.
    Field {
        access: String,
        raw: Vec<u32>,
        bit_offset: u32,
    },
    /// Enumerator-based kinds: `::PIDTYPE_TGID = 1`.
    Enumval { name: String, value: i128 },
}

/// A spec as `bpf_core_format_spec` prints it:
/// `<byte_off> [18] struct task_struct.real_parent (0:3 @ offset 16)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub kind: RelocKind,
    pub type_id: u32,
    /// libbpf's `btf_kind_str`: `struct`, `union`, `enum`, `typedef`...
    pub type_kind: String,
    /// `<anon>` for anonymous types, as libbpf prints it.
    pub type_name: String,
    pub detail: SpecDetail,
}

impl Spec {
    /// The accessor in C terms: `struct task_struct.real_parent`, `enum pid_type::PIDTYPE_TGID`,
    /// `struct task_struct`.
    pub fn accessor(&self) -> String {
        let root = format!("{} {}", self.type_kind, self.type_name);
        match &self.detail {
            SpecDetail::Type => root,
            SpecDetail::Field { access, .. } => format!("{root}{access}"),
            SpecDetail::Enumval { name, .. } => format!("{root}::{name}"),
        }
    }

    /// `[18] struct task_struct`.
    pub fn root(&self) -> String {
        format!("[{}] {} {}", self.type_id, self.type_kind, self.type_name)
    }

    pub fn bit_offset(&self) -> Option<u32> {
        match self.detail {
            SpecDetail::Field { bit_offset, .. } => Some(bit_offset),
            _ => None,
        }
    }
}

impl Spec {
    /// `[18] struct task_struct.real_parent (0:3 @ offset 16)`: the spec without its kind.
    pub fn body(&self) -> String {
        let mut s = self.root();
        match &self.detail {
            SpecDetail::Type => {}
            SpecDetail::Enumval { name, value } => s.push_str(&format!("::{name} = {value}")),
            SpecDetail::Field {
                access,
                raw,
                bit_offset,
            } => {
                let raw: Vec<String> = raw.iter().map(u32::to_string).collect();
                s.push_str(&format!(
                    "{access} ({} @ offset {}",
                    raw.join(":"),
                    bit_offset / 8
                ));
                if bit_offset % 8 != 0 {
                    s.push_str(&format!(".{}", bit_offset % 8));
                }
                s.push(')');
            }
        }
        s
    }
}

impl fmt::Display for Spec {
    /// Byte-identical to `bpf_core_format_spec`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}> {}", self.kind.name(), self.body())
    }
}

/// An instruction patch (`bpf_core_patch_insn`), with the value before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patch {
    /// `(ALU/ALU64) imm X -> Y`
    Imm { old: u64, new: u64 },
    /// `(LDX/ST/STX) off X -> Y`
    Off { old: u64, new: u64 },
    /// `(LDX/ST/STX) mem_sz X -> Y`
    MemSz { old: u64, new: u64 },
    /// `(LDIMM64) imm64 X -> Y`
    Imm64 { old: u64, new: u64 },
}

impl Patch {
    pub fn values(self) -> (u64, u64) {
        match self {
            Patch::Imm { old, new }
            | Patch::Off { old, new }
            | Patch::MemSz { old, new }
            | Patch::Imm64 { old, new } => (old, new),
        }
    }

    /// The field libbpf names in its log: `imm`, `off`, `mem_sz`, `imm64`.
    pub fn field(self) -> &'static str {
        match self {
            Patch::Imm { .. } => "imm",
            Patch::Off { .. } => "off",
            Patch::MemSz { .. } => "mem_sz",
            Patch::Imm64 { .. } => "imm64",
        }
    }
}
