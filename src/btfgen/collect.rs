//! Which kernel types, members and enumerators the relocations reached: the marks a minimized
//! BTF keeps.
//!
//! Derived from bpftool's `gen min_core_btf` (`btfgen_record_reloc` and the `btfgen_mark_*`
//! helpers of bpftool's `gen.c`), driven by the offline engine's typed results instead of a
//! second run of libbpf's calculator: each resolved relocation carries the spec of the first
//! candidate that matched (`specs_scratch[2]`, the one libbpf patches from), and that spec is
//! all the marking needs.
//!
//! - field kinds: the root type, then along the raw accessor each member reached and its type
//!   (modifiers and typedefs followed, arrays stepped through), pointers not followed;
//! - type kinds (`type_exists`, `type_size`, `type_id_target`): the root type and everything it
//!   refers to, through pointers too (libbpf's type compatibility check walks them), structs and
//!   unions kept without members;
//! - `type_matches`: the root and, not behind a pointer, every member of every struct or union
//!   reached, recursively (`bpf_core_types_match` compares them all);
//! - enumerator kinds: the whole enum.
//!
//! Kinds bpftool refuses (`fwd`, `type_tag`, `func`, `var`, `datasec`, `decl_tag`) are kept
//! here, with what they refer to: a relocation can reach them in kernels built with clang.

use std::collections::{BTreeSet, HashSet};

use crate::btf::{Btf, Kind};
use crate::reloc::{CoreReloKind, Fixup, SpecDetail};

/// The types (by id) and members (by struct id and member index) to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    pub types: BTreeSet<u32>,
    pub members: HashSet<(u32, u32)>,
    /// `(id, follow pointers / behind pointer, match mode)` already walked.
    seen: HashSet<(u32, bool, bool)>,
}

/// A relocation reached something the kernel's BTF does not have (a corrupt spec).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("relocation {accessor}: {why}")]
pub struct MarkError {
    pub accessor: String,
    pub why: String,
}

impl Marks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Move the marks below `first` (a split BTF's base types, reached from its own) into
    /// `base`'s marks.
    pub fn split_off_base(&mut self, first: u32, base: &mut Marks) {
        let below: Vec<u32> = self.types.range(..first).copied().collect();
        for id in below {
            self.types.remove(&id);
            base.types.insert(id);
        }
        let members: Vec<(u32, u32)> = self
            .members
            .iter()
            .filter(|(s, _)| *s < first)
            .copied()
            .collect();
        for m in members {
            self.members.remove(&m);
            base.members.insert(m);
        }
    }

    /// The id type `old` of the source gets in the minimized BTF (the kept types are
    /// renumbered 1..n in their source order), 0 when it is not kept.
    pub fn new_id(&self, old: u32) -> u32 {
        match self.types.contains(&old) {
            true => self.types.range(..old).count() as u32 + 1,
            false => 0,
        }
    }

    /// Mark what one relocation's resolved target spec needs (`btfgen_record_reloc`). A
    /// relocation with no match (poisoned, absent) or `type_id_local` needs nothing.
    pub fn record(&mut self, btf: &Btf, f: &Fixup) -> Result<(), MarkError> {
        let Some(res) = &f.resolved else {
            return Ok(());
        };
        let spec = &res.spec;
        let err = |why: String| MarkError {
            accessor: f.accessor.clone(),
            why,
        };
        match f.kind {
            CoreReloKind::FieldByteOffset
            | CoreReloKind::FieldByteSize
            | CoreReloKind::FieldExists
            | CoreReloKind::FieldSigned
            | CoreReloKind::FieldLshiftU64
            | CoreReloKind::FieldRshiftU64 => {
                let SpecDetail::Field { raw, .. } = &spec.detail else {
                    return Err(err("a field relocation without a field spec".into()));
                };
                self.field(btf, spec.type_id, raw).map_err(err)
            }
            CoreReloKind::TypeIdLocal => Ok(()),
            CoreReloKind::TypeIdTarget | CoreReloKind::TypeExists | CoreReloKind::TypeSize => {
                self.mark_type(btf, spec.type_id, true).map_err(err)
            }
            CoreReloKind::TypeMatches => self.mark_match(btf, spec.type_id).map_err(err),
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue => {
                self.mark_type(btf, spec.type_id, false).map_err(err)
            }
            CoreReloKind::Unknown(k) => Err(err(format!("unknown relocation kind {k}"))),
        }
    }

    /// `btfgen_record_field_relo`: the root, then each step of the raw accessor.
    fn field(&mut self, btf: &Btf, root: u32, raw: &[u32]) -> Result<(), String> {
        self.mark_type(btf, root, false)?;
        let mut id = root;
        for &idx in raw.iter().skip(1) {
            let t = btf
                .skip_mods_and_typedefs(id)
                .ok_or_else(|| format!("type [{id}] is not in the kernel's BTF"))?;
            match t.kind() {
                Kind::Struct | Kind::Union => {
                    let m = t
                        .member(idx)
                        .ok_or_else(|| format!("[{}] has no member #{idx}", t.id))?;
                    self.members.insert((t.id, idx));
                    self.mark_type(btf, m.type_id, false)?;
                    id = m.type_id;
                }
                Kind::Array => id = t.array().map_or(0, |a| a.elem_type),
                k => return Err(format!("the accessor steps into [{}], a {k}", t.id)),
            }
        }
        Ok(())
    }

    /// `btfgen_mark_type`: the type and what it needs, pointers followed only when asked.
    fn mark_type(&mut self, btf: &Btf, id: u32, follow_ptrs: bool) -> Result<(), String> {
        let mut work = vec![id];
        while let Some(id) = work.pop() {
            if id == 0 || !self.seen.insert((id, follow_ptrs, false)) {
                continue;
            }
            let t = btf
                .type_by_id(id)
                .ok_or_else(|| format!("type [{id}] is not in the kernel's BTF"))?;
            self.types.insert(id);
            match t.kind() {
                Kind::Ptr if follow_ptrs => work.push(t.type_id()),
                Kind::Const
                | Kind::Volatile
                | Kind::Restrict
                | Kind::Typedef
                | Kind::TypeTag
                | Kind::Var
                | Kind::Func
                | Kind::DeclTag => work.push(t.type_id()),
                Kind::Array => {
                    let a = t.array().expect("an array");
                    work.extend([a.index_type, a.elem_type]);
                }
                Kind::FuncProto => {
                    work.push(t.type_id());
                    work.extend(t.params().map(|p| p.type_id));
                }
                Kind::Datasec => work.extend(t.secinfos().map(|v| v.type_id)),
                _ => {}
            }
        }
        Ok(())
    }

    /// `btfgen_mark_type_match`: every member of every composite not behind a pointer.
    fn mark_match(&mut self, btf: &Btf, id: u32) -> Result<(), String> {
        let mut work = vec![(id, false)];
        while let Some((id, behind_ptr)) = work.pop() {
            if id == 0 || !self.seen.insert((id, behind_ptr, true)) {
                continue;
            }
            let t = btf
                .type_by_id(id)
                .ok_or_else(|| format!("type [{id}] is not in the kernel's BTF"))?;
            self.types.insert(id);
            match t.kind() {
                Kind::Struct | Kind::Union if !behind_ptr => {
                    for (i, m) in t.members().enumerate() {
                        self.members.insert((id, i as u32));
                        work.push((m.type_id, false));
                    }
                }
                Kind::Const
                | Kind::Volatile
                | Kind::Restrict
                | Kind::Typedef
                | Kind::Fwd
                | Kind::TypeTag => work.push((t.type_id(), behind_ptr)),
                Kind::Ptr => work.push((t.type_id(), true)),
                Kind::Array => {
                    let a = t.array().expect("an array");
                    work.extend([(a.elem_type, false), (a.index_type, false)]);
                }
                Kind::FuncProto => {
                    work.push((t.type_id(), false));
                    work.extend(t.params().map(|p| (p.type_id, false)));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
