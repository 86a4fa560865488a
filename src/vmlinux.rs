//! vmlinux.h generation: what `bpftool btf dump file F format c` writes, plus minimal headers
//! for one BPF object (`--for`).
//!
//! The work is split in two. Deciding *what* goes into the header (which types, in which order,
//! which kfunc prototypes) uses coretool's own BTF parser: it mirrors bpftool's `sort_btf_c`
//! (rank, then name, then a hash, then id) and `dump_btf_kfuncs`. Printing the C declarations
//! is left to libbpf's own `btf_dump` ([`crate::btf_dump`]), so that type bodies equal
//! bpftool's for the same libbpf version. Both see the same blob, hence the same type ids.

use std::collections::{HashMap, HashSet};
use std::ffi::c_char;

use crate::btf::{essential_name, Btf, Kind};
use crate::btf_dump::{CDumper, LibbpfError};

/// The declaration tag the kernel puts on kfuncs (`KFUNC_DECL_TAG` in bpftool).
pub const KFUNC_DECL_TAG: &str = "bpf_kfunc";
/// The declaration tag on kfuncs the verifier may inline (`FASTCALL_DECL_TAG` in bpftool).
pub const FASTCALL_DECL_TAG: &str = "bpf_fastcall";

/// Everything before the types (bpftool's `dump_btf_c`).
pub const PROLOGUE: &str = "\
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
pub const EPILOGUE: &str = "\
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
    pub kfuncs: Vec<Kfunc>,
}

/// bpftool's rank for unnamed or unsortable types.
const MAX_RANK: u8 = 10;
/// Bound on modifier/typedef/array chains followed while ranking and hashing (bpftool recurses
/// without a bound; libbpf rejects cycles, this keeps a hostile blob from overflowing the stack).
const MAX_CHAIN: usize = 1024;

/// bpftool's `btf_type_rank`: enums first (anonymous ones before named ones), then ints and
/// floats, named structs/unions, named function prototypes; a named typedef, pointer, array or
/// modifier takes the rank of what it refers to; everything anonymous comes last.
pub fn type_rank(btf: &Btf, mut id: u32, mut has_name: bool) -> u8 {
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
pub fn sort_name_off(btf: &Btf, mut id: u32) -> u32 {
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

/// libbpf's `str_hash` (hashmap.h): `h = h * 31 + c` over C `char`s (signed on x86).
fn str_hash(s: &[u8]) -> u64 {
    s.iter().fold(0u64, |h, &c| {
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
    hasher(hash, str_hash(btf.str_bytes_at(name_off).unwrap_or(b"")))
}

/// bpftool's `btf_type_disambig_hash`: tells apart same-named types by their enumerator or
/// member names and member type names.
pub fn disambig_hash(btf: &Btf, id: u32, include_members: bool) -> u64 {
    disambig_hash_bounded(btf, id, include_members, MAX_CHAIN)
}

fn disambig_hash_bounded(btf: &Btf, id: u32, include_members: bool, budget: usize) -> u64 {
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
                hash = hasher(
                    hash,
                    disambig_hash_bounded(btf, m.type_id, false, budget - 1),
                );
            }
        }
        Kind::TypeTag
        | Kind::Const
        | Kind::Ptr
        | Kind::Volatile
        | Kind::Restrict
        | Kind::Typedef
        | Kind::DeclTag => {
            hash = hasher(
                hash,
                disambig_hash_bounded(btf, t.type_id(), include_members, budget - 1),
            );
        }
        Kind::Array => {
            if let Some(a) = t.array() {
                hash = hasher(hash, a.nelems as u64);
                hash = hasher(
                    hash,
                    disambig_hash_bounded(btf, a.elem_type, include_members, budget - 1),
                );
            }
        }
        _ => {}
    }
    hash
}

/// One type's sort key (bpftool's `struct sort_datum`, with names kept as string offsets).
struct SortKey {
    hash: u64,
    sort_name: u32,
    own_name: u32,
    id: u32,
    rank: u8,
}

/// Every type id of `btf` (void and any base included), in bpftool's `sort_btf_c` order:
/// rank, then sort name, then own name (byte-wise, as `strcmp`), then disambiguation hash,
/// then id (`btf_type_compare`).
pub fn sorted_type_ids(btf: &Btf) -> Vec<u32> {
    let n = btf.type_count();
    let mut keys: Vec<SortKey> = (0..n)
        .map(|id| SortKey {
            hash: disambig_hash(btf, id, true),
            sort_name: sort_name_off(btf, id),
            own_name: btf.type_by_id(id).map_or(0, |t| t.name_off()),
            id,
            rank: type_rank(btf, id, false),
        })
        .collect();
    let name = |off: u32| btf.str_bytes_at(off).unwrap_or(b"");
    keys.sort_unstable_by(|a, b| {
        a.rank
            .cmp(&b.rank)
            .then_with(|| name(a.sort_name).cmp(name(b.sort_name)))
            .then_with(|| name(a.own_name).cmp(name(b.own_name)))
            .then_with(|| a.hash.cmp(&b.hash))
            .then_with(|| a.id.cmp(&b.id))
    });
    keys.into_iter().map(|k| k.id).collect()
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

/// The whole header, as current bpftool writes it.
///
/// bpftool's loop over the sorted types starts at index 1 (`for (i = 1; i < cnt; i++)
/// dump(datums[i].index)`), as if void sorted first; but void ranks last, so the type that
/// sorts first (on kernels: the anonymous enum whose first enumerator sorts first) is never
/// printed. This reproduces that, byte for byte.
pub fn full_plan(btf: &Btf) -> HeaderPlan {
    let mut types = sorted_type_ids(btf);
    if !types.is_empty() {
        types.remove(0);
    }
    HeaderPlan {
        types,
        kfuncs: kfuncs(btf),
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
pub const HELPER_TYPEDEFS: [&str; 12] = [
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
        sorted_type_ids(kernel)
            .into_iter()
            .filter(|id| chosen.contains(id))
            .collect()
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
        plan: HeaderPlan { types, kfuncs },
        unmatched,
    })
}

/// Write a header: the prologue, the planned types through libbpf's `btf_dump`, the kfunc
/// block (bpftool's `dump_btf_kfuncs`), the epilogue.
pub fn write_header(d: &mut CDumper<'_>, plan: &HeaderPlan) -> Result<(), LibbpfError> {
    d.write_str(PROLOGUE)?;
    for &id in &plan.types {
        d.dump_type(id)?;
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

    #[test]
    fn str_hash_matches_libbpf() {
        // h = h * 31 + c, starting at 0
        assert_eq!(str_hash(b""), 0);
        assert_eq!(str_hash(b"a"), 97);
        assert_eq!(str_hash(b"ab"), 97 * 31 + 98);
    }
}
