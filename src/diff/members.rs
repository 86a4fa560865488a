//! Members of a struct or union compared by name: additions, removals, probable renames,
//! retypes, and moves, with the shift an insertion causes reported once instead of once per
//! member behind it.
//!
//! Shift detection: the members both sides have, in OLD's order, are split into those that kept
//! their relative order (the longest run non-decreasing in NEW's offsets) and those that did
//! not (moved). Along the kept ones, the offset delta is piecewise constant; each place where it
//! changes is one [`Change::Shifted`] ("everything from `stack` on moved by +8 bytes"), and a
//! member whose own delta is the delta of its run is not reported at all.

use std::collections::{HashMap, HashSet};

use super::model::{Change, MemberAt};
use super::types::Index;
use crate::btf::{Btf, Kind, MAX_RESOLVE_DEPTH};

/// Members one flattening visits at most: anonymous structs that hold the same anonymous
/// struct twice, 30 deep, would otherwise make 2^30 of them out of 60 types of hostile BTF. A
/// real kernel's largest struct has a few hundred.
pub(crate) const MAX_FLAT_MEMBERS: usize = 1 << 16;

/// The members of composite `id`, anonymous containers flattened, in declaration order (at
/// most [`MAX_FLAT_MEMBERS`] visited).
pub fn flatten(idx: &Index<'_>, id: u32) -> Vec<MemberAt> {
    let mut out = Vec::new();
    let mut budget = MAX_FLAT_MEMBERS;
    walk(idx, id, "", 0, &mut out, 0, &mut budget);
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

fn walk(
    idx: &Index<'_>,
    id: u32,
    prefix: &str,
    base: u64,
    out: &mut Vec<MemberAt>,
    depth: usize,
    budget: &mut usize,
) {
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
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let name = btf.str_at(m.name_off).unwrap_or("");
        let off = base + m.bit_offset as u64;
        let inner = skip_mods(btf, m.type_id).filter(|t| t.is_composite() && t.name_off() == 0);
        if name.is_empty() {
            // An anonymous struct/union: its members belong to the parent, as in C. An
            // unnamed bitfield is padding.
            if let Some(inner) = inner {
                walk(idx, inner.id, prefix, off, out, depth + 1, budget);
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
                walk(
                    idx,
                    inner.id,
                    &format!("{path}."),
                    off,
                    out,
                    depth + 1,
                    budget,
                );
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

/// Match members by name (the k-th of a name in OLD with the k-th in NEW: hostile BTF may
/// repeat names), then the leftovers by probable rename. Linear but for the sort of pairs.
pub(crate) fn match_members(old: &[MemberAt], new: &[MemberAt]) -> Matching {
    let mut by_name: HashMap<&str, std::collections::VecDeque<usize>> =
        HashMap::with_capacity(new.len());
    for (i, m) in new.iter().enumerate() {
        by_name.entry(m.name.as_str()).or_default().push_back(i);
    }
    let old_names: HashSet<&str> = old.iter().map(|m| m.name.as_str()).collect();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut new_used = vec![false; new.len()];
    let mut old_left = Vec::new();
    for (i, m) in old.iter().enumerate() {
        match by_name.get_mut(m.name.as_str()).and_then(|q| q.pop_front()) {
            Some(j) => {
                new_used[j] = true;
                pairs.push((i, j));
            }
            None => old_left.push(i),
        }
    }
    // The shift around each old member: the delta of the nearest matched member after it (an
    // insertion before it moves both), then of the one before it, then none.
    let delta = |(o, n): (usize, usize)| new[n].bit_offset as i64 - old[o].bit_offset as i64;
    let mut before: Vec<Option<i64>> = vec![None; old.len()];
    let mut after: Vec<Option<i64>> = vec![None; old.len()];
    let mut last = None;
    let mut p = pairs.iter().peekable();
    for (i, slot) in before.iter_mut().enumerate() {
        *slot = last;
        if let Some(&&(o, n)) = p.peek() {
            if o == i {
                last = Some(delta((o, n)));
                p.next();
            }
        }
    }
    let mut next = None;
    let mut p = pairs.iter().rev().peekable();
    for i in (0..old.len()).rev() {
        after[i] = next;
        if let Some(&&(o, n)) = p.peek() {
            if o == i {
                next = Some(delta((o, n)));
                p.next();
            }
        }
    }
    // Unmatched NEW members that no OLD member is named like, by offset.
    let mut free_at: HashMap<u64, Vec<usize>> = HashMap::new();
    for (j, n) in new.iter().enumerate() {
        if !new_used[j] && !old_names.contains(n.name.as_str()) {
            free_at.entry(n.bit_offset).or_default().push(j);
        }
    }
    let mut renamed = Vec::new();
    for i in old_left {
        let o = &old[i];
        let deltas = [after[i], before[i], Some(0)];
        // The best candidate: a similar name first, then the place the shift predicts, then
        // the same type; at least the place and either the type or the name must agree.
        let mut best: Option<((bool, usize, bool), usize)> = None;
        for (place, d) in deltas.iter().enumerate() {
            let Some(d) = d else { continue };
            let Ok(at) = u64::try_from(o.bit_offset as i64 + d) else {
                continue;
            };
            for &j in free_at.get(&at).into_iter().flatten() {
                let n = &new[j];
                let fits = !new_used[j]
                    && n.bitfield_size == o.bitfield_size
                    // A rename keeps the nesting: `a.x` does not become `y`.
                    && o.name.matches('.').count() == n.name.matches('.').count()
                    && (n.ty == o.ty || similar_names(&o.name, &n.name));
                if !fits {
                    continue;
                }
                let score = (similar_names(&o.name, &n.name), 3 - place, n.ty == o.ty);
                if best.is_none_or(|(s, bj)| score > s || score == s && j < bj) {
                    best = Some((score, j));
                }
            }
        }
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
    // Where a removed member would be in NEW: after the member matched just before it.
    let mut place = vec![0u64; old.len()];
    let mut p = m.pairs.iter().peekable();
    let mut at = 0;
    for (i, slot) in place.iter_mut().enumerate() {
        *slot = at;
        if let Some(&&(o, n)) = p.peek() {
            if o == i {
                at = new[n].bit_offset;
                p.next();
            }
        }
    }
    for (i, mem) in old.iter().enumerate().filter(|(i, _)| !matched_old[*i]) {
        let at = place[i];
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
    // (first pair, delta, members in the run)
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
        if d != 0 {
            if let Some(r) = runs.last_mut() {
                r.2 += 1;
            }
        }
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
    let mut renamed = vec![false; old.len()];
    for &(o, _) in &m.renamed {
        renamed[o] = true;
    }
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
        if !renamed[o] && retyped(&old[o], &new[n]) {
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

    /// Hostile BTF: `top` holds two anonymous structs, each of which holds the same two, 30
    /// deep: 2^31 members if walked in full.
    #[test]
    fn a_fan_out_of_anonymous_structs_is_bounded() {
        let strs = b"\0int\0a\0top\0";
        let mut words: Vec<u32> = vec![1, 1 << 24, 4, 32];
        // [2] struct { int a; int a; } then [k] struct { [k-1]; [k-1]; } anonymous.
        words.extend([0, (4 << 24) | 2, 8, 5, 1, 0, 5, 1, 32]);
        let depth = 30;
        for k in 3..3 + depth {
            words.extend([0, (4 << 24) | 2, 8, 0, k - 1, 0, 0, k - 1, 0]);
        }
        words.extend([7, (4 << 24) | 2, 8, 0, 2 + depth, 0, 0, 2 + depth, 0]);
        let mut blob = Vec::new();
        blob.extend([0x9f, 0xeb, 1, 0]);
        let len = words.len() as u32 * 4;
        for v in [24, 0, len, len, strs.len() as u32] {
            blob.extend(v.to_le_bytes());
        }
        for w in &words {
            blob.extend(w.to_le_bytes());
        }
        blob.extend(strs);
        let btf = Btf::parse(&blob).unwrap();
        let idx = Index::new(&btf);
        let top = idx.composite("top").unwrap();
        let start = std::time::Instant::now();
        let flat = flatten(&idx, top.id);
        assert!(flat.len() <= MAX_FLAT_MEMBERS, "{}", flat.len());
        assert!(start.elapsed().as_secs() < 5);
        assert!(diff_members(&flat, &flat).is_empty());
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
