//! Members of a struct or union compared by name: additions, removals, probable renames,
//! retypes, and moves, with the shift an insertion causes reported once instead of once per
//! member behind it.
//!
//! Shift detection: the members both sides have, in OLD's order, are split into those that kept
//! their relative order (the longest run non-decreasing in NEW's offsets) and those that did
//! not (moved). Along the kept ones, the offset delta is piecewise constant; each place where it
//! changes is one [`Change::Shifted`] ("everything from `stack` on moved by +8 bytes"), and a
//! member whose own delta is the delta of its run is not reported at all.

use std::collections::HashMap;

use super::model::{Change, MemberAt};
use super::types::Index;
use crate::btf::{Btf, Kind, MAX_RESOLVE_DEPTH};

/// The members of composite `id`, anonymous containers flattened, in declaration order.
pub fn flatten(idx: &Index<'_>, id: u32) -> Vec<MemberAt> {
    let mut out = Vec::new();
    walk(idx, id, "", 0, &mut out, 0);
    out
}

/// The type behind const/volatile/restrict/type tags (not typedefs: a typedef names it).
pub(crate) fn skip_mods(btf: &Btf, mut id: u32) -> Option<crate::btf::Type<'_>> {
    for _ in 0..MAX_RESOLVE_DEPTH {
        let t = btf.type_by_id(id)?;
        match t.kind() {
            Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag => id = t.type_id(),
            _ => return Some(t),
        }
    }
    None
}

fn walk(idx: &Index<'_>, id: u32, prefix: &str, base: u64, out: &mut Vec<MemberAt>, depth: usize) {
    let btf = idx.btf;
    let Some(t) = btf.type_by_id(id) else { return };
    if !t.is_composite() || depth > MAX_RESOLVE_DEPTH {
        return;
    }
    // The kernel's struct_group(): `union { struct { MEMBERS }; struct { MEMBERS } NAME; }`.
    // The members are the parent's through the anonymous copy; the named copy repeats them,
    // so its insides are not listed twice.
    let anon_copies: Vec<u32> = if t.kind() == Kind::Union {
        t.members()
            .filter(|m| m.name_off == 0)
            .filter_map(|m| skip_mods(btf, m.type_id).filter(|t| t.is_composite()))
            .map(|t| t.id)
            .collect()
    } else {
        Vec::new()
    };
    let same_members = |a: u32, b: u32| {
        let names = |id: u32| -> Option<Vec<(u32, u32, &str)>> {
            let t = btf.type_by_id(id)?;
            Some(
                t.members()
                    .map(|m| {
                        (
                            m.bit_offset,
                            m.bitfield_size,
                            btf.str_at(m.name_off).unwrap_or(""),
                        )
                    })
                    .collect(),
            )
        };
        a == b || names(a) == names(b)
    };
    for m in t.members() {
        let name = btf.str_at(m.name_off).unwrap_or("");
        let off = base + m.bit_offset as u64;
        let inner = skip_mods(btf, m.type_id).filter(|t| t.is_composite() && t.name_off() == 0);
        if name.is_empty() {
            // An anonymous struct/union: its members belong to the parent, as in C. An
            // unnamed bitfield is padding.
            if let Some(inner) = inner {
                walk(idx, inner.id, prefix, off, out, depth + 1);
            }
            continue;
        }
        let path = format!("{prefix}{name}");
        out.push(MemberAt {
            name: path.clone(),
            bit_offset: off,
            bitfield_size: m.bitfield_size,
            ty: idx.type_name(m.type_id),
            size: btf.resolve_size(m.type_id),
        });
        if let Some(inner) = inner {
            if !anon_copies.iter().any(|&c| same_members(c, inner.id)) {
                walk(idx, inner.id, &format!("{path}."), off, out, depth + 1);
            }
        }
    }
}

/// Indices (into `v`) of a longest non-decreasing subsequence.
fn longest_non_decreasing(v: &[u64]) -> Vec<usize> {
    // Patience sorting: tails[k] = index of the smallest tail of a run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; v.len()];
    for i in 0..v.len() {
        let k = tails.partition_point(|&j| v[j] <= v[i]);
        prev[i] = k.checked_sub(1).map(|k| tails[k]);
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut cur = tails.last().copied();
    while let Some(i) = cur {
        out.push(i);
        cur = prev[i];
    }
    out.reverse();
    out
}

/// `volatile long state` -> `unsigned int __state`: the names agree once underscores go.
fn similar_names(a: &str, b: &str) -> bool {
    let leaf = |s: &str| {
        s.rsplit('.')
            .next()
            .unwrap_or(s)
            .trim_matches('_')
            .to_owned()
    };
    let (a, b) = (leaf(a), leaf(b));
    !a.is_empty() && !b.is_empty() && (a.contains(&b) || b.contains(&a))
}

/// What happened to each member of OLD (by index): the NEW index it matched, if any.
pub(crate) struct Matching {
    /// `(old index, new index)` of members present on both sides (renames included), in
    /// OLD's order.
    pub pairs: Vec<(usize, usize)>,
    /// Pairs matched by a probable rename.
    pub renamed: Vec<(usize, usize)>,
}

/// Match members by name, then the leftovers by probable rename.
pub(crate) fn match_members(old: &[MemberAt], new: &[MemberAt]) -> Matching {
    let mut by_name: HashMap<&str, usize> = HashMap::with_capacity(new.len());
    for (i, m) in new.iter().enumerate() {
        by_name.entry(m.name.as_str()).or_insert(i);
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut new_used = vec![false; new.len()];
    let mut old_left = Vec::new();
    for (i, m) in old.iter().enumerate() {
        match by_name.get(m.name.as_str()) {
            Some(&j) if !new_used[j] => {
                new_used[j] = true;
                pairs.push((i, j));
            }
            _ => old_left.push(i),
        }
    }
    // The shift around a member: the delta of the nearest matched member after it (an
    // insertion before it moves both), then the one before it, then none.
    let deltas_near = |i: usize| -> [Option<i64>; 3] {
        let delta = |&(o, n): &(usize, usize)| new[n].bit_offset as i64 - old[o].bit_offset as i64;
        [
            pairs.iter().find(|(o, _)| *o > i).map(delta),
            pairs.iter().rev().find(|(o, _)| *o < i).map(delta),
            Some(0),
        ]
    };
    let mut renamed = Vec::new();
    for i in old_left {
        let o = &old[i];
        let deltas = deltas_near(i);
        // The best candidate: a similar name first, then the place the shift predicts, then
        // the same type; at least the place and either the type or the name must agree.
        let best = (0..new.len())
            .filter(|&j| {
                let n = &new[j];
                !new_used[j]
                    && !old.iter().any(|m| m.name == n.name)
                    && n.bitfield_size == o.bitfield_size
                    // A rename keeps the nesting: `a.x` does not become `y`.
                    && o.name.matches('.').count() == n.name.matches('.').count()
                    && (n.ty == o.ty || similar_names(&o.name, &n.name))
            })
            .filter_map(|j| {
                let n = &new[j];
                let place = deltas.iter().position(|d| {
                    d.is_some_and(|d| n.bit_offset as i64 == o.bit_offset as i64 + d)
                })?;
                let score = (similar_names(&o.name, &n.name), 3 - place, n.ty == o.ty);
                Some((score, j))
            })
            .max_by_key(|&(score, j)| (score, std::cmp::Reverse(j)));
        if let Some((_, j)) = best {
            new_used[j] = true;
            renamed.push((i, j));
        }
    }
    pairs.extend(renamed.iter().copied());
    pairs.sort_unstable();
    Matching { pairs, renamed }
}

fn retyped(o: &MemberAt, n: &MemberAt) -> bool {
    o.ty != n.ty || o.bitfield_size != n.bitfield_size || o.size != n.size
}

/// The member changes of one struct or union, ordered by their place in NEW's layout.
pub fn diff_members(old: &[MemberAt], new: &[MemberAt]) -> Vec<Change> {
    let m = match_members(old, new);
    let mut keyed: Vec<((u64, u8), Change)> = Vec::new();
    let mut matched_old = vec![false; old.len()];
    let mut matched_new = vec![false; new.len()];
    for &(o, n) in &m.pairs {
        matched_old[o] = true;
        matched_new[n] = true;
    }
    for (i, mem) in old.iter().enumerate().filter(|(i, _)| !matched_old[*i]) {
        // Placed where it would be in NEW: after the member matched just before it.
        let at = m
            .pairs
            .iter()
            .rev()
            .find(|(o, _)| *o < i)
            .map_or(0, |&(_, n)| new[n].bit_offset);
        keyed.push((
            (at, 1),
            Change::MemberRemoved {
                member: mem.clone(),
            },
        ));
    }
    for (_, mem) in new.iter().enumerate().filter(|(j, _)| !matched_new[*j]) {
        keyed.push((
            (mem.bit_offset, 0),
            Change::MemberAdded {
                member: mem.clone(),
            },
        ));
    }
    for &(o, n) in &m.renamed {
        keyed.push((
            (new[n].bit_offset, 2),
            Change::MemberRenamed {
                old: old[o].clone(),
                new: new[n].clone(),
                retyped: retyped(&old[o], &new[n]),
            },
        ));
    }
    // Kept order vs moved.
    let new_offsets: Vec<u64> = m.pairs.iter().map(|&(_, n)| new[n].bit_offset).collect();
    let kept = longest_non_decreasing(&new_offsets);
    let mut in_kept = vec![false; m.pairs.len()];
    for &k in &kept {
        in_kept[k] = true;
    }
    // Runs of equal delta along the kept members; a run at delta 0 is no news.
    let mut runs: Vec<(usize, i64, usize)> = Vec::new();
    let mut cur: i64 = 0;
    for &k in &kept {
        let (o, n) = m.pairs[k];
        let d = new[n].bit_offset as i64 - old[o].bit_offset as i64;
        if d != cur {
            if d != 0 {
                runs.push((k, d, 0));
            }
            cur = d;
        }
    }
    // Count each run's members (kept pairs from its start while the delta holds).
    for r in runs.iter_mut() {
        let pos = kept.iter().position(|&k| k == r.0).unwrap_or(0);
        r.2 = kept[pos..]
            .iter()
            .take_while(|&&k| {
                let (o, n) = m.pairs[k];
                new[n].bit_offset as i64 - old[o].bit_offset as i64 == r.1
            })
            .count();
    }
    for (start, delta, count) in runs {
        let (_, n) = m.pairs[start];
        keyed.push((
            (new[n].bit_offset, 4),
            Change::Shifted {
                from: new[n].name.clone(),
                by_bits: delta,
                count,
            },
        ));
    }
    let renamed: Vec<usize> = m.renamed.iter().map(|&(o, _)| o).collect();
    for (k, &(o, n)) in m.pairs.iter().enumerate() {
        if !in_kept[k] && old[o].bit_offset != new[n].bit_offset {
            keyed.push((
                (new[n].bit_offset, 3),
                Change::MemberMoved {
                    old: old[o].clone(),
                    new: new[n].clone(),
                },
            ));
        }
        if !renamed.contains(&o) && retyped(&old[o], &new[n]) {
            keyed.push((
                (new[n].bit_offset, 5),
                Change::MemberRetyped {
                    old: old[o].clone(),
                    new: new[n].clone(),
                },
            ));
        }
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, byte: u64, ty: &str, size: u64) -> MemberAt {
        MemberAt {
            name: name.into(),
            bit_offset: byte * 8,
            bitfield_size: 0,
            ty: ty.into(),
            size: Some(size),
        }
    }

    #[test]
    fn an_insertion_is_one_shift_not_one_move_per_member() {
        let old = [
            m("a", 0, "long", 8),
            m("b", 8, "long", 8),
            m("c", 16, "long", 8),
            m("d", 24, "long", 8),
        ];
        let new = [
            m("a", 0, "long", 8),
            m("x", 8, "long", 8),
            m("b", 16, "long", 8),
            m("c", 24, "long", 8),
            m("d", 32, "long", 8),
        ];
        let c = diff_members(&old, &new);
        assert_eq!(c.len(), 2, "{c:#?}");
        assert!(matches!(&c[0], Change::MemberAdded { member } if member.name == "x"));
        assert!(
            matches!(&c[1], Change::Shifted { from, by_bits: 64, count: 3 } if from == "b"),
            "{c:#?}"
        );
    }

    #[test]
    fn a_swap_is_a_move_and_a_rename_is_found_by_offset() {
        let old = [
            m("a", 0, "int", 4),
            m("b", 4, "int", 4),
            m("s", 8, "long", 8),
        ];
        let new = [
            m("b", 0, "int", 4),
            m("a", 4, "int", 4),
            m("__s", 8, "int", 4),
        ];
        let c = diff_members(&old, &new);
        assert!(c.iter().any(
            |c| matches!(c, Change::MemberMoved { old, .. } if old.name == "a" || old.name == "b")
        ));
        assert!(c.iter().any(
            |c| matches!(c, Change::MemberRenamed { old, new, retyped: true } if old.name == "s" && new.name == "__s")
        ));
        assert!(!c
            .iter()
            .any(|c| matches!(c, Change::MemberAdded { .. } | Change::MemberRemoved { .. })));
    }

    #[test]
    fn longest_run_ignores_the_outlier() {
        assert_eq!(
            longest_non_decreasing(&[0, 8, 100, 16, 24]),
            vec![0, 1, 3, 4]
        );
        assert!(longest_non_decreasing(&[]).is_empty());
    }
}
