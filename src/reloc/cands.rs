//! Candidate lookup by essential name: which types of a kernel's BTF a local type may match.
//!
//! libbpf's `bpf_core_add_cands` walks every type of the target BTF for each local type it
//! resolves, comparing essential names (`task_struct___old` -> `task_struct`). Over a fleet
//! that walk is most of the work: one pass per local type per kernel. [`CandidateIndex`] makes
//! one pass per kernel instead, for the set of essential names every object will ask about,
//! and answers in the order libbpf's walk would (ascending id). The kind check stays with the
//! caller, as in libbpf.

use std::collections::HashMap;

use crate::btf::Btf;
use crate::reloc::{CoreReloKind, Object};

/// libbpf's `bpf_core_essential_name_len` on bytes: the name up to a `X___Y` flavour
/// separator, scanning from the end (see [`crate::btf::essential_name`]).
pub(crate) fn essential(name: &[u8]) -> &[u8] {
    if name.len() >= 5 {
        for i in (0..=name.len() - 5).rev() {
            if name[i] != b'_' && &name[i + 1..i + 4] == b"___" && name[i + 4] != b'_' {
                return &name[..i + 1];
            }
        }
    }
    name
}

/// The essential names of the local types `obj`'s CO-RE relocations look candidates up for
/// (every record but `TYPE_ID_LOCAL`, whose type stays local).
pub fn wanted_names(obj: &Object) -> Vec<Vec<u8>> {
    let Some(ext) = &obj.ext else {
        return Vec::new();
    };
    let mut out: Vec<Vec<u8>> = ext
        .core_relos
        .iter()
        .flat_map(|sec| &sec.records)
        .filter(|r| r.kind != CoreReloKind::TypeIdLocal)
        .filter_map(|r| obj.btf.type_by_id(r.type_id))
        .filter_map(|t| obj.btf.str_bytes_at(t.name_off()))
        .filter(|n| !n.is_empty())
        .map(|n| essential(n).to_vec())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The essential names every object of `objects` looks candidates up for, sorted, once each:
/// what one kernel's [`CandidateIndex`] is built for when all of them relocate against it.
pub fn wanted_names_of(objects: &[Object]) -> Vec<Vec<u8>> {
    let mut wanted: Vec<Vec<u8>> = objects.iter().flat_map(wanted_names).collect();
    wanted.sort_unstable();
    wanted.dedup();
    wanted
}

/// The ids of a BTF's types by essential name, for a chosen set of names.
#[derive(Debug, Default)]
pub struct CandidateIndex {
    by_name: HashMap<Vec<u8>, Vec<u32>>,
}

impl CandidateIndex {
    /// One pass over `btf`'s own types (from its first id on: for split BTF, not the base's),
    /// keeping the ids whose essential name is one of `wanted`. Names are matched by prefix
    /// in the string section, without measuring or hashing every name: only a name that
    /// starts with a wanted one and goes on with `_` (a possible flavour) is looked at whole.
    pub fn build(btf: &Btf, wanted: &[Vec<u8>]) -> CandidateIndex {
        let mut by_name: HashMap<Vec<u8>, Vec<u32>> =
            wanted.iter().map(|n| (n.clone(), Vec::new())).collect();
        // The wanted names by first byte, each with its slot in `found`.
        let mut by_first: Vec<Vec<(usize, &[u8])>> = vec![Vec::new(); 256];
        let mut found: Vec<Vec<u32>> = vec![Vec::new(); wanted.len()];
        for (slot, w) in wanted.iter().enumerate() {
            if let Some(&b) = w.first() {
                by_first[b as usize].push((slot, w));
            }
        }
        for (id, off) in btf.name_offsets() {
            if off == 0 {
                continue;
            }
            let Some(tail) = btf.string_tail(off) else {
                continue;
            };
            let Some(&first) = tail.first() else { continue };
            for &(slot, w) in &by_first[first as usize] {
                if !tail.starts_with(w) {
                    continue;
                }
                let hit = match tail.get(w.len()) {
                    Some(0) => true,
                    Some(b'_') => {
                        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
                        essential(&tail[..end]) == w
                    }
                    _ => false,
                };
                if hit {
                    found[slot].push(id);
                }
            }
        }
        for (w, ids) in wanted.iter().zip(found) {
            by_name.insert(w.clone(), ids);
        }
        CandidateIndex { by_name }
    }

    /// The ids whose essential name is `name`, ascending; `None` when `name` was not among
    /// the names the index was built for.
    pub fn get(&self, name: &[u8]) -> Option<&[u32]> {
        self.by_name.get(name).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essential_names_follow_libbpf() {
        for (name, want) in [
            ("task_struct___old", "task_struct"),
            ("task_struct", "task_struct"),
            ("a___b___c", "a___b"),
            ("__x___y", "__x"),
            ("x____y", "x____y"),
            ("x___", "x___"),
            ("abc", "abc"),
        ] {
            assert_eq!(essential(name.as_bytes()), want.as_bytes(), "{name}");
            assert_eq!(crate::btf::essential_name(name), want, "{name}");
        }
    }
}
