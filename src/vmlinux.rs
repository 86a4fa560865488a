//! vmlinux.h generation: what `bpftool btf dump file F format c` writes, plus minimal headers
//! for one BPF object (`--for`).
//!
//! The work is split in two. Deciding *what* goes into the header (which types, in which order,
//! which kfunc prototypes) uses coretool's own BTF parser: it mirrors bpftool's `sort_btf_c`
//! (rank, then name, then a hash, then id) and `dump_btf_kfuncs`. Printing the C declarations
//! is left to libbpf's own `btf_dump` ([`crate::libbpf::dump`]), so that type bodies equal
//! bpftool's for the same libbpf version. Both see the same blob, hence the same type ids.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ffi::c_char;

use crate::btf::{essential_name, Btf, Kind};
use crate::libbpf::dump::CDumper;
use crate::libbpf::LibbpfError;

/// The declaration tag the kernel puts on kfuncs (`KFUNC_DECL_TAG` in bpftool).
pub(crate) const KFUNC_DECL_TAG: &str = "bpf_kfunc";
/// The declaration tag on kfuncs the verifier may inline (`FASTCALL_DECL_TAG` in bpftool).
pub(crate) const FASTCALL_DECL_TAG: &str = "bpf_fastcall";

/// Everything before the types (bpftool's `dump_btf_c`).
pub(crate) const PROLOGUE: &str = "\
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

#ifndef __ksym
#define __ksym __attribute__((section(\".ksyms\")))
#endif

#ifndef __weak
#define __weak __attribute__((weak))
#endif

#ifndef __bpf_fastcall
#if __has_attribute(bpf_fastcall)
#define __bpf_fastcall __attribute__((bpf_fastcall))
#else
#define __bpf_fastcall
#endif
#endif

";

/// Everything after the kfunc block.
pub(crate) const EPILOGUE: &str = "\
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
";

/// Why a header cannot be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VmlinuxError {
    #[error("no struct, union, enum, typedef or enumerator named {name} in the kernel BTF")]
    UnknownType { name: String },
    #[error(
        "type [{id}] nests more than {max} types deep (references, members, parameters); \
         refusing: libbpf's btf_dump recurses once per level",
        max = MAX_NESTING
    )]
    TooDeep { id: u32 },
}

/// How deep a chain of references (pointed-to, member, parameter and element types) may go
/// before [`check_nesting`] refuses the BTF. libbpf's `btf_dump` (which prints the header)
/// recurses once per level and has no bound of its own: a hostile chain of 200,000 `const`s
/// overflows its stack. Real kernels nest a few dozen deep.
pub const MAX_NESTING: usize = 1024;

/// The types `btf_dump_order_type` and `btf_dump_emit_type` may recurse into from `t`, and a
/// few more (a superset only makes [`check_nesting`] stricter).
fn referenced(t: &crate::btf::Type<'_>) -> Vec<u32> {
    match t.kind() {
        Kind::Struct | Kind::Union => t.members().map(|m| m.type_id).collect(),
        Kind::FuncProto => std::iter::once(t.type_id())
            .chain(t.params().map(|p| p.type_id))
            .collect(),
        Kind::Array => t.array().map(|a| vec![a.elem_type]).unwrap_or_default(),
        Kind::Datasec => t.secinfos().map(|v| v.type_id).collect(),
        Kind::Ptr
        | Kind::Typedef
        | Kind::Volatile
        | Kind::Const
        | Kind::Restrict
        | Kind::Func
        | Kind::Var
        | Kind::DeclTag
        | Kind::TypeTag => vec![t.type_id()],
        _ => Vec::new(),
    }
}

/// Refuse BTF whose reference chains go deeper than [`MAX_NESTING`], before libbpf's
/// recursive `btf_dump` sees it. An iterative depth-first search that computes each type's
/// depth once (a reference back into the current path counts as a leaf), so the check costs
/// one visit per type and reference.
pub fn check_nesting(btf: &Btf) -> Result<(), VmlinuxError> {
    if let Some(base) = btf.base() {
        check_nesting(base)?;
    }
    const UNSEEN: u32 = u32::MAX;
    const ON_PATH: u32 = u32::MAX - 1;
    let n = btf.type_count() as usize;
    let mut depth = vec![UNSEEN; n];
    for root in btf.first_id()..btf.type_count() {
        if depth[root as usize] != UNSEEN {
            continue;
        }
        // (type, its references, next reference to visit, deepest child so far)
        let mut path: Vec<(u32, Vec<u32>, usize, u32)> = Vec::new();
        let refs = btf
            .type_by_id(root)
            .map(|t| referenced(&t))
            .unwrap_or_default();
        depth[root as usize] = ON_PATH;
        path.push((root, refs, 0, 0));
        while let Some((id, refs, next, deepest)) = path.last_mut() {
            if let Some(&child) = refs.get(*next) {
                *next += 1;
                let c = child as usize;
                match depth.get(c).copied() {
                    Some(UNSEEN) if child >= btf.first_id() => {
                        if path.len() >= MAX_NESTING {
                            return Err(VmlinuxError::TooDeep { id: root });
                        }
                        depth[c] = ON_PATH;
                        let refs = btf
                            .type_by_id(child)
                            .map(|t| referenced(&t))
                            .unwrap_or_default();
                        path.push((child, refs, 0, 0));
                    }
                    Some(d) if d != ON_PATH && d != UNSEEN => *deepest = (*deepest).max(d),
                    _ => {} // void, the base's types, out of range, or a cycle closing
                }
                continue;
            }
            let (id, d) = (*id, *deepest + 1);
            if d as usize > MAX_NESTING {
                return Err(VmlinuxError::TooDeep { id });
            }
            depth[id as usize] = d;
            path.pop();
            if let Some((_, _, _, parent_deepest)) = path.last_mut() {
                *parent_deepest = (*parent_deepest).max(d);
            }
        }
    }
    Ok(())
}

/// A kfunc prototype for the `BPF_NO_KFUNC_PROTOTYPES` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kfunc {
    pub name: String,
    /// The FUNC_PROTO id (the FUNC's `type`).
    pub proto: u32,
    /// Also tagged `bpf_fastcall`.
    pub fastcall: bool,
}

/// What a header contains: the ids handed to `btf_dump__dump_type`, in order (each also pulls
/// in what it depends on), and the kfunc prototypes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderPlan {
    pub types: Vec<u32>,
    /// Handed to `btf_dump__dump_type` after `types`: the type upstream bpftool's loop never
    /// reaches (see [`full_plan`]). Empty for minimal headers.
    pub beyond_bpftool: Vec<u32>,
    /// Anonymous enums only types that are never printed refer to (see [`orphan_enums`]),
    /// declared on their own after all the rest. Empty for minimal headers.
    pub orphan_enums: Vec<u32>,
    pub kfuncs: Vec<Kfunc>,
}

/// bpftool's rank for unnamed or unsortable types.
const MAX_RANK: u8 = 10;
/// Bound on modifier/typedef/array chains followed while ranking and hashing: bpftool recurses
/// without a bound; this keeps a hostile blob (a reference cycle) from looping forever or
/// overflowing the stack.
const MAX_CHAIN: usize = 1024;

/// bpftool's `btf_type_rank`: enums first (anonymous ones before named ones), then ints and
/// floats, named structs/unions, named function prototypes; a named typedef, pointer, array or
/// modifier takes the rank of what it refers to; everything anonymous comes last.
pub(crate) fn type_rank(btf: &Btf, mut id: u32, mut has_name: bool) -> u8 {
    for _ in 0..MAX_CHAIN {
        let Some(t) = btf.type_by_id(id) else {
            return MAX_RANK;
        };
        if t.name_off() != 0 {
            has_name = true;
        }
        match t.kind() {
            Kind::Enum | Kind::Enum64 => return u8::from(has_name),
            Kind::Int | Kind::Float => return 2,
            Kind::Struct | Kind::Union => return if has_name { 3 } else { MAX_RANK },
            Kind::FuncProto => return if has_name { 4 } else { MAX_RANK },
            Kind::Array if has_name => id = t.array().map_or(0, |a| a.elem_type),
            Kind::TypeTag
            | Kind::Const
            | Kind::Ptr
            | Kind::Volatile
            | Kind::Restrict
            | Kind::Typedef
            | Kind::DeclTag
                if has_name =>
            {
                id = t.type_id()
            }
            _ => return MAX_RANK,
        }
    }
    MAX_RANK
}

/// bpftool's `btf_type_sort_name` as a string offset: the name of what a reference chain ends
/// in; an anonymous enum sorts by its first enumerator.
pub(crate) fn sort_name_off(btf: &Btf, mut id: u32) -> u32 {
    let mut from_ref = false;
    for _ in 0..MAX_CHAIN {
        let Some(t) = btf.type_by_id(id) else {
            return 0;
        };
        match t.kind() {
            Kind::Enum | Kind::Enum64 => {
                if !from_ref && t.name_off() == 0 && t.vlen() > 0 {
                    return t.enum_values().first().map_or(0, |v| v.name_off);
                }
                return t.name_off();
            }
            Kind::Array => id = t.array().map_or(0, |a| a.elem_type),
            Kind::TypeTag
            | Kind::Const
            | Kind::Ptr
            | Kind::Volatile
            | Kind::Restrict
            | Kind::Typedef
            | Kind::DeclTag => id = t.type_id(),
            _ => return t.name_off(),
        }
        from_ref = true;
    }
    0
}

/// libbpf's `str_hash` (hashmap.h): `h = h * 31 + c` over C `char`s (signed on x86), up to
/// the first NUL.
fn str_hash(s: &[u8]) -> u64 {
    s.iter().take_while(|&&c| c != 0).fold(0u64, |h, &c| {
        h.wrapping_mul(31).wrapping_add(c as c_char as i64 as u64)
    })
}

/// bpftool's `hasher`.
fn hasher(hash: u64, val: u64) -> u64 {
    hash.wrapping_mul(31).wrapping_add(val)
}

/// bpftool's `btf_name_hasher`: offset 0 (no name) leaves the hash alone.
fn name_hasher(btf: &Btf, hash: u64, name_off: u32) -> u64 {
    if name_off == 0 {
        return hash;
    }
    hasher(hash, str_hash(btf.str_tail(name_off).unwrap_or(b"")))
}

/// bpftool's `btf_type_disambig_hash` (it tells apart same-named types by their enumerator or
/// member names and member type names) for many types, remembering hashes that get asked for
/// again: every type's hash without members (members, pointers and modifiers keep naming the
/// same types; the hash depends on the type alone), and the costly with-members hash of
/// structs and unions (what pointer and typedef chains end in).
struct DisambigHasher<'a> {
    btf: &'a Btf,
    /// Hashes without members by id, valid where the bit in `shallow_known` is set.
    shallow: Vec<u64>,
    shallow_known: Vec<u64>,
    /// With-members hashes of structs and unions.
    deep: HashMap<u32, u64>,
}

impl<'a> DisambigHasher<'a> {
    fn new(btf: &'a Btf) -> Self {
        let n = btf.type_count() as usize;
        DisambigHasher {
            btf,
            shallow: vec![0; n],
            shallow_known: vec![0; n.div_ceil(64)],
            deep: HashMap::new(),
        }
    }

    fn hash(&mut self, id: u32, include_members: bool, budget: usize) -> u64 {
        let idx = id as usize;
        let known = idx < self.shallow.len();
        if !include_members {
            let bit = 1u64 << (idx % 64);
            if known && self.shallow_known[idx / 64] & bit != 0 {
                return self.shallow[idx];
            }
            let hash = self.compute(id, false, budget);
            if known {
                self.shallow[idx] = hash;
                self.shallow_known[idx / 64] |= bit;
            }
            return hash;
        }
        let composite = self.btf.type_by_id(id).is_some_and(|t| t.is_composite());
        if composite {
            if let Some(&hash) = self.deep.get(&id) {
                return hash;
            }
        }
        let hash = self.compute(id, true, budget);
        if composite {
            self.deep.insert(id, hash);
        }
        hash
    }

    fn compute(&mut self, id: u32, include_members: bool, budget: usize) -> u64 {
        let btf = self.btf;
        let Some(t) = btf.type_by_id(id) else {
            return 0;
        };
        if budget == 0 {
            return 0;
        }
        let mut hash = name_hasher(btf, 0, t.name_off());
        match t.kind() {
            Kind::Enum | Kind::Enum64 => {
                for v in t.enum_values() {
                    hash = name_hasher(btf, hash, v.name_off);
                }
            }
            Kind::Struct | Kind::Union if include_members => {
                for m in t.members() {
                    hash = name_hasher(btf, hash, m.name_off);
                    hash = hasher(hash, self.hash(m.type_id, false, budget - 1));
                }
            }
            Kind::TypeTag
            | Kind::Const
            | Kind::Ptr
            | Kind::Volatile
            | Kind::Restrict
            | Kind::Typedef
            | Kind::DeclTag => {
                hash = hasher(hash, self.hash(t.type_id(), include_members, budget - 1));
            }
            Kind::Array => {
                if let Some(a) = t.array() {
                    hash = hasher(hash, a.nelems as u64);
                    hash = hasher(hash, self.hash(a.elem_type, include_members, budget - 1));
                }
            }
            _ => {}
        }
        hash
    }
}

/// C's `strcmp` on NUL-terminated byte strings (bytes compare unsigned); stops at the first
/// difference. The end of a slice counts as its NUL: a string offset at the very end of the
/// string section gives an empty slice, which must equal `""` (else the sort order is not a
/// total order on hostile BTF, and the sort panics).
fn strcmp(a: &[u8], b: &[u8]) -> Ordering {
    for i in 0.. {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
        if x == 0 {
            break;
        }
    }
    Ordering::Equal
}

/// One type's sort key (bpftool's `struct sort_datum`) in 24 bytes. `head` packs the rank
/// (top byte) and the sort name's first 7 bytes, so that one integer comparison decides most
/// pairs; the rest of the sort name is compared from its string offset, the own name is looked
/// up by id when needed (`id_flags` says when it is the sort name itself).
struct SortKey {
    head: u64,
    hash: u64,
    sort_name: u32,
    id_flags: u32,
}

/// In [`SortKey::id_flags`]: the type's own name is its sort name (type ids have 20 bits).
const OWN_IS_SORT_NAME: u32 = 1 << 31;

impl SortKey {
    fn id(&self) -> u32 {
        self.id_flags & !OWN_IS_SORT_NAME
    }
    fn own_is_sort_name(&self) -> bool {
        self.id_flags & OWN_IS_SORT_NAME != 0
    }
    fn rank(&self) -> u8 {
        (self.head >> 56) as u8
    }
}

/// Bytes of the sort name kept in [`SortKey::head`].
const HEAD_NAME_BYTES: usize = 7;

/// Rank in the top byte, then the first 7 bytes of a NUL-terminated string, NUL-padded: two
/// heads compare as (rank, `strcmp` on those bytes) does.
fn sort_head(rank: u8, tail: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[0] = rank;
    for (dst, &c) in b[1..].iter_mut().zip(tail) {
        if c == 0 {
            break;
        }
        *dst = c;
    }
    u64::from_be_bytes(b)
}

/// Builds [`SortKey`]s and, on demand, their hashes, sharing one hash memo.
struct KeyMaker<'a> {
    btf: &'a Btf,
    hasher: DisambigHasher<'a>,
}

impl<'a> KeyMaker<'a> {
    fn new(btf: &'a Btf) -> Self {
        KeyMaker {
            btf,
            hasher: DisambigHasher::new(btf),
        }
    }

    /// The key, without its hash (0): only types whose names tie need one.
    fn key(&self, id: u32) -> SortKey {
        let btf = self.btf;
        let sort_name = sort_name_off(btf, id);
        SortKey {
            head: sort_head(
                type_rank(btf, id, false),
                btf.str_tail(sort_name).unwrap_or(b"\0"),
            ),
            hash: 0,
            sort_name,
            id_flags: if btf.type_by_id(id).map_or(0, |t| t.name_off()) == sort_name {
                id | OWN_IS_SORT_NAME
            } else {
                id
            },
        }
    }

    fn hashed_key(&mut self, id: u32) -> SortKey {
        let mut key = self.key(id);
        key.hash = self.hash(id);
        key
    }

    fn hash(&mut self, id: u32) -> u64 {
        self.hasher.hash(id, true, MAX_CHAIN)
    }

    /// Sort into bpftool's order in two passes: by names (and id), then each run of keys whose
    /// names tie by (hash, id), hashing only the keys in such runs.
    fn sort(&mut self, keys: &mut [SortKey]) {
        let btf = self.btf;
        keys.sort_unstable_by(|a, b| compare_names(btf, a, b).then(a.id().cmp(&b.id())));
        let mut start = 0;
        while start < keys.len() {
            let mut end = start + 1;
            while end < keys.len() && compare_names(btf, &keys[start], &keys[end]).is_eq() {
                end += 1;
            }
            if end - start > 1 {
                let run = &mut keys[start..end];
                for k in run.iter_mut() {
                    k.hash = self.hash(k.id());
                }
                run.sort_unstable_by(|a, b| a.hash.cmp(&b.hash).then(a.id().cmp(&b.id())));
            }
            start = end;
        }
    }
}

/// bpftool's `btf_type_compare` up to the names: rank, then sort name, then own name
/// (byte-wise, as `strcmp`). Ties go on to the disambiguation hash, then the id.
#[inline]
fn compare_names(btf: &Btf, a: &SortKey, b: &SortKey) -> Ordering {
    match a.head.cmp(&b.head) {
        // names that end within the head and are also the own names are equal
        Ordering::Equal if a.head & 0xff == 0 && a.own_is_sort_name() && b.own_is_sort_name() => {
            Ordering::Equal
        }
        Ordering::Equal => tie_break(btf, a, b),
        unequal => unequal,
    }
}

/// bpftool's `btf_type_compare` on keys whose hashes are filled in.
fn compare(btf: &Btf, a: &SortKey, b: &SortKey) -> Ordering {
    compare_names(btf, a, b)
        .then(a.hash.cmp(&b.hash))
        .then(a.id().cmp(&b.id()))
}

/// `ids` in bpftool's `sort_btf_c` order (sorting a subset keeps the relative order the whole
/// sort gives it: the comparison is a total order).
pub(crate) fn sort_ids(btf: &Btf, ids: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut maker = KeyMaker::new(btf);
    let mut keys: Vec<SortKey> = ids.map(|id| maker.key(id)).collect();
    maker.sort(&mut keys);
    drop(maker);
    keys.into_iter().map(|k| k.id()).collect()
}

/// Every type id of `btf` (void and any base included), in bpftool's `sort_btf_c` order.
#[cfg(test)]
fn sorted_type_ids(btf: &Btf) -> Vec<u32> {
    sort_ids(btf, 0..btf.type_count())
}

/// Kinds `btf_dump__dump_type` does nothing for: libbpf's `btf_dump_order_type` marks FUNC,
/// VAR, DATASEC and DECL_TAG ordered and returns, printing and pulling in nothing (void is
/// marked emitted up front). Where they sit in the dump order cannot change the output, so the
/// header's order leaves them out (nearly half of a kernel's types are FUNCs).
fn dump_is_noop(btf: &Btf, id: u32) -> bool {
    btf.type_by_id(id).is_none_or(|t| {
        matches!(
            t.kind(),
            Kind::Unkn | Kind::Func | Kind::Var | Kind::Datasec | Kind::DeclTag
        )
    })
}

/// [`compare_names`] once rank and the first name bytes are equal.
#[inline(never)]
fn tie_break(btf: &Btf, a: &SortKey, b: &SortKey) -> Ordering {
    let name = |off: u32| btf.str_tail(off).unwrap_or(b"\0");
    // Both sort names are longer than the head (else they ended in it, equal).
    let sort = if a.head & 0xff == 0 || a.sort_name == b.sort_name {
        Ordering::Equal
    } else {
        let (x, y) = (name(a.sort_name), name(b.sort_name));
        strcmp(&x[HEAD_NAME_BYTES..], &y[HEAD_NAME_BYTES..])
    };
    sort.then_with(|| {
        if a.own_is_sort_name() && b.own_is_sort_name() {
            return Ordering::Equal; // the sort names, just found equal
        }
        let own = |id: u32| btf.type_by_id(id).map_or(0, |t| t.name_off());
        let (x, y) = (own(a.id()), own(b.id()));
        if x == y {
            Ordering::Equal
        } else {
            strcmp(name(x), name(y))
        }
    })
}

/// The kfuncs of `btf` as bpftool's `dump_btf_kfuncs` lists them: FUNCs with a whole-function
/// `bpf_kfunc` declaration tag, sorted by name; `fastcall` when also tagged `bpf_fastcall`.
pub fn kfuncs(btf: &Btf) -> Vec<Kfunc> {
    let mut kfuncs: Vec<u32> = Vec::new();
    let mut fastcalls: HashSet<u32> = HashSet::new();
    for id in 1..btf.type_count() {
        let Some(t) = btf.type_by_id(id) else {
            continue;
        };
        if t.kind() != Kind::DeclTag || t.decl_tag_component() != Some(-1) {
            continue;
        }
        if btf.type_by_id(t.type_id()).map(|f| f.kind()) != Some(Kind::Func) {
            continue;
        }
        match btf.str_bytes_at(t.name_off()) {
            Some(n) if n == KFUNC_DECL_TAG.as_bytes() => kfuncs.push(t.type_id()),
            Some(n) if n == FASTCALL_DECL_TAG.as_bytes() => {
                fastcalls.insert(t.type_id());
            }
            _ => {}
        }
    }
    let mut out: Vec<Kfunc> = kfuncs
        .into_iter()
        .filter_map(|func| {
            let f = btf.type_by_id(func)?;
            Some(Kfunc {
                name: String::from_utf8_lossy(btf.str_bytes_at(f.name_off())?).into_owned(),
                proto: f.type_id(),
                fastcall: fastcalls.contains(&func),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    out
}

/// The whole header: every type, in current bpftool's order, and then what bpftool loses.
///
/// bpftool's loop over the sorted types starts at index 1 (`for (i = 1; i < cnt; i++)
/// dump(datums[i].index)`), as if void sorted first; but void ranks last, so the type that
/// sorts first (on kernels: the anonymous enum whose first enumerator sorts first, such as
/// `ACOMP_WALK_SLEEP` or `AAFS_LOADDATA_ABI`) is never printed unless another type pulls it in.
/// `types` is bpftool's sequence, unchanged; that first type goes to
/// [`HeaderPlan::beyond_bpftool`], dumped after all of bpftool's (where `btf_dump` prints it
/// only if nothing printed it already, and cannot move or rename anything bpftool prints: its
/// enumerators take `___N` suffixes, if any, after bpftool's). The header is bpftool's, byte
/// for byte, with the lost types added before the kfunc block.
pub fn full_plan(btf: &Btf) -> HeaderPlan {
    let n = btf.type_count();
    let mut maker = KeyMaker::new(btf);
    let printable = (0..n).filter(|&id| !dump_is_noop(btf, id));
    let mut keys: Vec<SortKey> = Vec::with_capacity(printable.clone().count());
    keys.extend(printable.map(|id| maker.key(id)));
    maker.sort(&mut keys);
    // The type bpftool skips is the first of the whole sort: the first printable type, unless
    // a no-op type (void at least) sorts before it; only those of a rank no higher can.
    let skip_first = match keys.first() {
        None => false,
        Some(first) => {
            let first = maker.hashed_key(first.id());
            let rank = first.rank();
            (0..n)
                .filter(|&id| dump_is_noop(btf, id) && type_rank(btf, id, false) <= rank)
                .all(|id| compare(btf, &first, &maker.hashed_key(id)).is_lt())
        }
    };
    drop(maker);
    let mut types: Vec<u32> = keys.into_iter().map(|k| k.id()).collect();
    let beyond_bpftool = if skip_first {
        vec![types.remove(0)]
    } else {
        Vec::new()
    };
    let kfuncs = kfuncs(btf);
    let orphans = orphan_enums(btf, &kfuncs);
    HeaderPlan {
        types,
        beyond_bpftool,
        orphan_enums: sort_ids(btf, orphans.into_iter()),
        kfuncs,
    }
}

/// The types whose definitions print the types they refer to inline, or by name: named
/// structs, unions and typedefs (a typedef of an anonymous enum defines it in place), and the
/// prototypes of the kfunc block; an anonymous type's definition is printed inside theirs.
fn printed_refs(t: &crate::btf::Type<'_>) -> Vec<u32> {
    match t.kind() {
        // Never printed themselves, so their references print nothing either.
        Kind::Datasec | Kind::Func | Kind::Var | Kind::DeclTag => Vec::new(),
        _ => referenced(t),
    }
}

/// Anonymous enums that neither bpftool nor `btf_dump` ever print: libbpf's `btf_dump` prints
/// an anonymous enum on its own only when no type refers to it
/// (`btf_dump_mark_referenced`), and otherwise inline, inside the declaration of what refers
/// to it. When everything that refers to it is itself never printed (a `VAR`, a `FUNC` that is
/// not a kfunc, a `const` array only such a `VAR` has: 5.10's `LBR_EIP_FLAGS`), its
/// enumerators are lost. One linear pass: mark what every type refers to, then walk from what
/// the header prints (named structs, unions and typedefs, kfunc prototypes) through what
/// their definitions print.
fn orphan_enums(btf: &Btf, kfuncs: &[Kfunc]) -> Vec<u32> {
    let n = btf.type_count();
    let mut referenced = vec![false; n as usize];
    let mut reached = vec![false; n as usize];
    let mut todo: Vec<u32> = kfuncs.iter().map(|k| k.proto).collect();
    for id in 1..n {
        let Some(t) = btf.type_by_id(id) else {
            continue;
        };
        for r in referenced_by(&t) {
            if let Some(flag) = referenced.get_mut(r as usize) {
                *flag = true;
            }
        }
        if matches!(t.kind(), Kind::Struct | Kind::Union | Kind::Typedef) && t.name_off() != 0 {
            todo.push(id);
        }
    }
    while let Some(id) = todo.pop() {
        match reached.get_mut(id as usize) {
            Some(seen) if !*seen => *seen = true,
            _ => continue,
        }
        if let Some(t) = btf.type_by_id(id) {
            todo.extend(printed_refs(&t).into_iter().filter(|&r| r < n));
        }
    }
    (1..n)
        .filter(|&id| {
            btf.type_by_id(id).is_some_and(|t| {
                t.is_any_enum()
                    && t.name_off() == 0
                    && t.vlen() > 0
                    && referenced[id as usize]
                    && !reached[id as usize]
            })
        })
        .collect()
}

/// What libbpf's `btf_dump_mark_referenced` counts as a reference: every type id a record
/// names, array index types and `DATASEC` entries included.
fn referenced_by(t: &crate::btf::Type<'_>) -> Vec<u32> {
    match t.kind() {
        Kind::Array => t
            .array()
            .map(|a| vec![a.elem_type, a.index_type])
            .unwrap_or_default(),
        Kind::FuncProto => t.params().map(|p| p.type_id).collect(),
        Kind::Func | Kind::Var | Kind::DeclTag => vec![t.type_id()],
        Kind::Datasec => t.secinfos().map(|v| v.type_id).collect(),
        _ => printed_refs(t),
    }
}

/// A minimal header for one object, and what the object names that the kernel lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinimalPlan {
    pub plan: HeaderPlan,
    /// `struct foo`, `enum bar`, `typedef baz`, `kfunc qux`: names in the object with no
    /// counterpart in the kernel BTF (the program's own types, or types a CO-RE relocation
    /// only probes for), sorted.
    pub unmatched: Vec<String>,
}

/// How names are matched between object and kernel: C's tag namespaces plus typedefs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum NameClass {
    Record,
    Enum,
    Typedef,
}

impl NameClass {
    fn of(kind: Kind) -> Option<NameClass> {
        match kind {
            Kind::Struct | Kind::Union | Kind::Fwd => Some(NameClass::Record),
            Kind::Enum | Kind::Enum64 => Some(NameClass::Enum),
            Kind::Typedef => Some(NameClass::Typedef),
            _ => None,
        }
    }
    fn label(self) -> &'static str {
        match self {
            NameClass::Record => "struct/union",
            NameClass::Enum => "enum",
            NameClass::Typedef => "typedef",
        }
    }
}

/// The uapi typedefs libbpf's `bpf_helper_defs.h` and `bpf_helpers.h` take from vmlinux.h. A
/// program includes those headers after vmlinux.h, so a minimal header always carries the ones
/// the kernel has, whether or not the object's BTF mentions them.
pub(crate) const HELPER_TYPEDEFS: [&str; 12] = [
    "__u8", "__u16", "__u32", "__u64", "__s8", "__s16", "__s32", "__s64", "__be16", "__be32",
    "__be64", "__wsum",
];

/// `BTF_FUNC_EXTERN`: a FUNC's linkage (kept in `vlen`) for an extern declaration.
const BTF_FUNC_EXTERN: u32 = 2;

/// A minimal header for `obj`: the kernel types whose names the object's BTF mentions (its
/// struct/union/enum/typedef names, `___flavour` suffixes stripped, as libbpf matches CO-RE
/// relocations), and the kfunc prototypes of the extern functions it declares. Every CO-RE
/// relocation's local type is a type of the object's BTF, so this covers them all; btf_dump
/// adds what the chosen types depend on, and [`HELPER_TYPEDEFS`] come along so that libbpf's
/// helper headers compile. Types keep bpftool's order.
///
/// `extra` names more types the program needs but its BTF cannot show (enumerators used as
/// plain values, such as `BPF_MAP_TYPE_RINGBUF` in a map definition): a struct/union/enum/
/// typedef name, or an enumerator, which selects its enum. A name the kernel lacks is an error.
pub fn minimal_plan(kernel: &Btf, obj: &Btf, extra: &[&str]) -> Result<MinimalPlan, VmlinuxError> {
    let mut wanted: HashMap<(NameClass, &str), bool> = HashMap::new();
    let helpers: HashSet<&str> = HELPER_TYPEDEFS.into_iter().collect();
    let mut wanted_funcs: HashMap<&str, bool> = HashMap::new();
    for t in obj.types() {
        let name = essential_name(obj.name_of(&t));
        if name.is_empty() {
            continue;
        }
        if let Some(class) = NameClass::of(t.kind()) {
            wanted.insert((class, name), false);
        } else if t.kind() == Kind::Func && t.vlen() == BTF_FUNC_EXTERN {
            wanted_funcs.insert(name, false);
        }
    }
    let mut extra_found: HashMap<&str, bool> = extra.iter().map(|n| (*n, false)).collect();
    let mut chosen: HashSet<u32> = HashSet::new();
    for id in 1..kernel.type_count() {
        let Some(t) = kernel.type_by_id(id) else {
            continue;
        };
        let Some(class) = NameClass::of(t.kind()) else {
            continue;
        };
        let name = kernel.name_of(&t);
        if let Some(found) = wanted.get_mut(&(class, name)) {
            *found = true;
            chosen.insert(id);
        } else if class == NameClass::Typedef && helpers.contains(name) {
            chosen.insert(id);
        }
        if let Some(found) = extra_found.get_mut(name) {
            *found = true;
            chosen.insert(id);
        }
        if class == NameClass::Enum {
            for v in t.enum_values() {
                if let Some(found) = extra_found.get_mut(kernel.str_at(v.name_off).unwrap_or("")) {
                    *found = true;
                    chosen.insert(id);
                }
            }
        }
    }
    if let Some(name) = extra.iter().find(|n| !extra_found[**n]) {
        return Err(VmlinuxError::UnknownType {
            name: (*name).to_owned(),
        });
    }
    let kfuncs: Vec<Kfunc> = kfuncs(kernel)
        .into_iter()
        .filter(|k| match wanted_funcs.get_mut(k.name.as_str()) {
            Some(found) => {
                *found = true;
                true
            }
            None => false,
        })
        .collect();
    let types = if chosen.is_empty() {
        Vec::new()
    } else {
        let mut ids: Vec<u32> = chosen.into_iter().collect();
        ids.sort_unstable();
        sort_ids(kernel, ids.into_iter())
    };
    let mut unmatched: Vec<String> = wanted
        .iter()
        .filter(|(_, &found)| !found)
        .map(|((class, name), _)| format!("{} {name}", class.label()))
        .chain(
            wanted_funcs
                .iter()
                .filter(|(_, &found)| !found)
                .map(|(name, _)| format!("extern function {name}")),
        )
        .collect();
    unmatched.sort();
    Ok(MinimalPlan {
        plan: HeaderPlan {
            types,
            beyond_bpftool: Vec::new(),
            orphan_enums: Vec::new(),
            kfuncs,
        },
        unmatched,
    })
}

/// Write a header: the prologue, the planned types through libbpf's `btf_dump`, the kfunc
/// block (bpftool's `dump_btf_kfuncs`), the epilogue.
pub fn write_header(d: &mut CDumper<'_>, plan: &HeaderPlan) -> Result<(), LibbpfError> {
    d.write_str(PROLOGUE)?;
    for &id in plan.types.iter().chain(&plan.beyond_bpftool) {
        d.dump_type(id)?;
    }
    for &id in &plan.orphan_enums {
        // An anonymous enum's declaration is its definition; `btf_dump` prints a top-level
        // enum as this plus ";\n\n".
        d.emit_type_decl(id, "")?;
        d.write_str(";\n\n")?;
    }
    d.write_str("\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n")?;
    for k in &plan.kfuncs {
        d.write_str(if k.fastcall {
            "extern __bpf_fastcall "
        } else {
            "extern "
        })?;
        d.emit_type_decl(k.proto, &k.name)?;
        d.write_str(" __weak __ksym;\n")?;
    }
    d.write_str("#endif\n\n")?;
    d.write_str(EPILOGUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Btf {
        let path = format!(
            "{}/tests/fixtures/vmlinux/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let data = std::fs::read(path).unwrap();
        let elf = crate::elf::ElfInfo::parse(&data).unwrap();
        Btf::parse(elf.section(".BTF").unwrap()).unwrap()
    }

    fn id_of(btf: &Btf, name: &str, kind: Kind) -> u32 {
        *btf.ids_by_name(name)
            .iter()
            .find(|&&id| btf.type_by_id(id).unwrap().kind() == kind)
            .unwrap()
    }

    #[test]
    fn ranks_follow_bpftool() {
        let btf = fixture("types.bpf.o");
        assert_eq!(type_rank(&btf, 0, false), MAX_RANK); // void
        assert_eq!(
            type_rank(&btf, id_of(&btf, "pid_type", Kind::Enum), false),
            1
        );
        assert_eq!(type_rank(&btf, id_of(&btf, "int", Kind::Int), false), 2);
        assert_eq!(
            type_rank(&btf, id_of(&btf, "task_struct", Kind::Struct), false),
            3
        );
        // a named typedef ranks as what it names: u32 -> __u32 -> unsigned int
        assert_eq!(type_rank(&btf, id_of(&btf, "u32", Kind::Typedef), false), 2);
        // typedef -> pointer -> function prototype
        assert_eq!(
            type_rank(&btf, id_of(&btf, "callback_t", Kind::Typedef), false),
            4
        );
        let anon_enum = btf
            .types()
            .find(|t| t.kind() == Kind::Enum && t.name_off() == 0)
            .unwrap();
        assert_eq!(type_rank(&btf, anon_enum.id, false), 0);
        // an anonymous enum sorts by its first enumerator
        let first = btf.str_at(sort_name_off(&btf, anon_enum.id)).unwrap();
        assert!(first == "ZETA_FIRST" || first == "ALPHA_ONLY", "{first}");
    }

    #[test]
    fn full_plan_dumps_what_bpftool_skips_last() {
        let btf = fixture("types.bpf.o");
        let sorted = sorted_type_ids(&btf);
        assert_eq!(sorted.len() as u32, btf.type_count());
        let alpha = btf.type_by_id(sorted[0]).unwrap();
        assert_eq!(
            btf.str_at(alpha.enum_values()[0].name_off),
            Some("ALPHA_ONLY")
        );
        let plan = full_plan(&btf);
        let printable: Vec<u32> = sorted[1..]
            .iter()
            .copied()
            .filter(|&id| !dump_is_noop(&btf, id))
            .collect();
        assert_eq!(plan.types, printable);
        assert_eq!(plan.beyond_bpftool, [sorted[0]]);
        assert!(minimal_plan(&btf, &btf, &[])
            .unwrap()
            .plan
            .beyond_bpftool
            .is_empty());
        let names: Vec<(&str, bool)> = plan
            .kfuncs
            .iter()
            .map(|k| (k.name.as_str(), k.fastcall))
            .collect();
        assert_eq!(
            names,
            [
                ("bpf_fast_now", true),
                ("bpf_task_acquire", false),
                ("bpf_task_release", false)
            ]
        );
    }

    #[test]
    fn minimal_plan_matches_flavours_and_reports_the_rest() {
        let kernel = fixture("types.bpf.o");
        let obj = fixture("prog.bpf.o");
        let m = minimal_plan(&kernel, &obj, &[]).unwrap();
        let chosen: Vec<&str> = m
            .plan
            .types
            .iter()
            .map(|&id| kernel.name_of(&kernel.type_by_id(id).unwrap()))
            .collect();
        assert!(chosen.contains(&"task_struct") && chosen.contains(&"__wsum"));
        assert!(!chosen.contains(&"bpf_map_type"));
        assert_eq!(m.unmatched, ["struct/union event"]);
        assert_eq!(m.plan.kfuncs.len(), 2);
        let m = minimal_plan(&kernel, &obj, &["BPF_MAP_TYPE_RINGBUF", "list_head"]).unwrap();
        assert!(m
            .plan
            .types
            .contains(&id_of(&kernel, "bpf_map_type", Kind::Enum)));
        assert_eq!(
            minimal_plan(&kernel, &obj, &["nope"]),
            Err(VmlinuxError::UnknownType {
                name: "nope".into()
            })
        );
    }

    #[test]
    fn strcmp_is_cs() {
        assert_eq!(strcmp(b"abc\0", b"abd\0"), Ordering::Less);
        assert_eq!(strcmp(b"ab\0x", b"ab\0y"), Ordering::Equal);
        assert_eq!(strcmp(b"ab\0", b"abc\0"), Ordering::Less);
        assert_eq!(strcmp(b"\xff\0", b"a\0"), Ordering::Greater);
        // An offset at the end of the string section gives an empty slice: that is "".
        assert_eq!(strcmp(b"", b"\0"), Ordering::Equal);
        assert_eq!(strcmp(b"", b"a\0"), Ordering::Less);
        assert!(sort_head(0, b"ab\0") < sort_head(0, b"ab\x01\0"));
        assert!(sort_head(3, b"abcdefghij\0") == sort_head(3, b"abcdefgzz\0"));
        assert!(sort_head(3, b"\0") < sort_head(3, b"a\0"));
        assert!(sort_head(2, b"zzz\0") < sort_head(3, b"a\0"));
    }

    #[test]
    fn str_hash_matches_libbpf() {
        // h = h * 31 + c, starting at 0
        assert_eq!(str_hash(b""), 0);
        assert_eq!(str_hash(b"a"), 97);
        assert_eq!(str_hash(b"ab"), 97 * 31 + 98);
    }
}
