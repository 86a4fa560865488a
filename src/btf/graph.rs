//! The one check on the type graph: which reference cycles BTF may contain.
//!
//! Types refer to types, and C lets a type refer back to itself only in one way: through a
//! pointer to a named struct or union (`struct list_head { struct list_head *next; }`; the
//! pointer may reach the struct through typedefs and modifiers). Every other cycle (a `const`
//! and a `volatile` naming each other, a typedef of itself, a struct holding itself by value or
//! in an array, a pointer to a pointer to itself, a function prototype returning a pointer to
//! itself) describes no C type, and the code BTF is handed to does not survive one:
//!
//! - the kernel's `btf_resolve` (kernel/bpf/btf.c) refuses cycles of modifiers, typedefs,
//!   arrays, structs and pointers ("Loop detected"); a pointer or a `FUNC_PROTO` is a resolve
//!   sink there, so it lets `FUNC_PROTO -> PTR -> FUNC_PROTO` pass;
//! - libbpf's `skip_mods_and_typedefs` (relo_core, dry-run) follows modifiers and typedefs with
//!   no bound and loops forever on such a cycle;
//! - libbpf's `btf_dump_order_type` (vmlinux.h) recurses through pointers, modifiers, typedefs,
//!   arrays and function prototypes without marking them, and stops only at a named struct or
//!   union reached through a pointer (anything else that comes round again is `-ELOOP` or a
//!   stack overflow, the `FUNC_PROTO` cycle the kernel accepts included).
//!
//! So the rule checked here is libbpf's dump rule, which is also C's and is stricter than the
//! kernel's: walking references with a "through a pointer" flag exactly as
//! `btf_dump_order_type` does (set by `PTR`, cleared by struct/union members and array
//! elements, kept by everything else), every walk must end, and the only place a walk may
//! stop at a type it is already inside is a named struct or union reached through a pointer.
//! Index types of arrays, the types of `VAR`s, `DATASEC` entries, `DECL_TAG`s and `FUNC`s are
//! followed too (the kernel resolves them; no valid BTF loops through them).
//!
//! The check is one iterative depth-first search over (type, through-a-pointer) pairs: each
//! pair is entered once and each reference followed once, so it is linear in the size of the
//! type section and uses no recursion, whatever the input.

use super::{Btf, BtfError, Kind, Type};

/// Depth-first search colours of one (type, through-a-pointer) pair.
const WHITE: u8 = 0;
const GREY: u8 = 1;
const BLACK: u8 = 2;

/// How many types of a cycle [`BtfError::TypeCycle`] names before eliding the middle.
const SHOWN: usize = 6;

/// One pair on the search path: the type, how it was reached, the next reference to follow.
struct Frame<'a> {
    t: Type<'a>,
    ptr: bool,
    next: u32,
}

/// The `i`-th reference of `t` reached with the through-a-pointer flag `ptr`, and the flag the
/// referred type is reached with (`btf_dump_order_type`'s `through_ptr`); `None` past the last.
/// The parser has checked that every record holds the words its kind and `vlen` call for.
fn reference(t: &Type<'_>, ptr: bool, i: u32) -> Option<(u32, bool)> {
    let extra = t.extra();
    match t.kind() {
        Kind::Ptr => (i == 0).then(|| (t.type_id(), true)),
        Kind::Typedef
        | Kind::Volatile
        | Kind::Const
        | Kind::Restrict
        | Kind::TypeTag
        | Kind::Func
        | Kind::Var
        | Kind::DeclTag => (i == 0).then(|| (t.type_id(), ptr)),
        // element and index type
        Kind::Array => (i < 2).then(|| (extra.get(i as usize), false)),
        // a named struct or union behind a pointer can be forward-declared: the cycle ends
        Kind::Struct | Kind::Union if ptr && t.name_off() != 0 => None,
        Kind::Struct | Kind::Union => {
            (i < t.vlen()).then(|| (extra.get(3 * i as usize + 1), false))
        }
        // return type, then parameters
        Kind::FuncProto if i == 0 => Some((t.type_id(), ptr)),
        Kind::FuncProto => (i <= t.vlen()).then(|| (extra.get(2 * (i - 1) as usize + 1), ptr)),
        Kind::Datasec => (i < t.vlen()).then(|| (extra.get(3 * i as usize), ptr)),
        _ => None,
    }
}

/// The colour of `(id, ptr)` in `state` (two bits per flag value).
fn colour(state: &[u8], id: u32, ptr: bool) -> u8 {
    (state[id as usize] >> (2 * u8::from(ptr))) & 0b11
}

fn paint(state: &mut [u8], id: u32, ptr: bool, c: u8) {
    let shift = 2 * u8::from(ptr);
    let s = &mut state[id as usize];
    *s = (*s & !(0b11 << shift)) | (c << shift);
}

impl Btf {
    /// Refuse a reference cycle that does not close through a pointer to a named struct or
    /// union (see the module docs). Returns whether some reference points past the last type
    /// (such ids are left for the users of the BTF to refuse; a split BTF on this one must
    /// then follow references into it, since there they resolve to the split types).
    pub(super) fn check_graph(&self) -> Result<bool, BtfError> {
        let count = self.type_count();
        // The base was checked when it was parsed; its types can only reach split types
        // through ids past its end.
        let lo = match &self.base {
            Some(base) if base.refs_past_end => 1,
            _ => self.first_id,
        };
        let mut state = vec![WHITE; count as usize];
        let mut path: Vec<Frame<'_>> = Vec::new();
        let mut past_end = false;
        for root in lo..count {
            if colour(&state, root, false) != WHITE {
                continue;
            }
            let Some(t) = self.type_by_id(root) else {
                continue;
            };
            paint(&mut state, root, false, GREY);
            path.push(Frame {
                t,
                ptr: false,
                next: 0,
            });
            while let Some(top) = path.last_mut() {
                let Some((to, ptr)) = reference(&top.t, top.ptr, top.next) else {
                    paint(&mut state, top.t.id, top.ptr, BLACK);
                    path.pop();
                    continue;
                };
                top.next += 1;
                if to >= count {
                    past_end = true;
                    continue;
                }
                if to < lo {
                    continue; // void, or a type of the (checked) base
                }
                match colour(&state, to, ptr) {
                    WHITE => {
                        let Some(t) = self.type_by_id(to) else {
                            continue;
                        };
                        paint(&mut state, to, ptr, GREY);
                        path.push(Frame { t, ptr, next: 0 });
                    }
                    GREY => return Err(self.cycle_error(&path, to, ptr)),
                    _ => {}
                }
            }
        }
        Ok(past_end)
    }

    /// The error for the cycle that closes when the top of `path` refers to `(to, ptr)`.
    fn cycle_error(&self, path: &[Frame<'_>], to: u32, ptr: bool) -> BtfError {
        let start = path
            .iter()
            .rposition(|f| f.t.id == to && f.ptr == ptr)
            .unwrap_or(0);
        let ids: Vec<u32> = path[start..].iter().map(|f| f.t.id).collect();
        let mut shown: Vec<String> = Vec::new();
        if ids.len() <= SHOWN {
            shown.extend(ids.iter().map(|&id| self.describe(id)));
        } else {
            shown.extend(ids[..SHOWN / 2].iter().map(|&id| self.describe(id)));
            shown.push(format!("... ({} more)", ids.len() - SHOWN));
            shown.extend(
                ids[ids.len() - SHOWN / 2..]
                    .iter()
                    .map(|&id| self.describe(id)),
            );
        }
        shown.push(format!("[{to}]"));
        BtfError::TypeCycle {
            ids,
            path: shown.join(" -> "),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A little-endian base BTF blob from type words and a string section.
    pub(crate) fn blob(words: &[u32], strs: &[u8]) -> Vec<u8> {
        let types: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = vec![0x9f, 0xeb, 1, 0];
        for v in [
            24,
            0,
            types.len() as u32,
            types.len() as u32,
            strs.len() as u32,
        ] {
            out.extend(v.to_le_bytes());
        }
        out.extend(types);
        out.extend(strs);
        out
    }

    fn info(kind: Kind, vlen: u32) -> u32 {
        ((kind as u32) << 24) | vlen
    }

    fn cycle(words: &[u32], strs: &[u8]) -> Vec<u32> {
        match Btf::parse(&blob(words, strs)) {
            Err(BtfError::TypeCycle { ids, .. }) => ids,
            Err(e) => panic!("not a cycle error: {e}"),
            Ok(_) => panic!("parsed"),
        }
    }

    const INT: [u32; 4] = [0, (1 << 24), 4, 32];

    #[test]
    fn modifier_and_typedef_loops() {
        // [1] const -> [2] volatile -> [1]
        let w = [0, info(Kind::Const, 0), 2, 0, info(Kind::Volatile, 0), 1];
        assert_eq!(cycle(&w, b"\0"), [1, 2]);
        // [1] typedef a -> [1]
        assert_eq!(cycle(&[1, info(Kind::Typedef, 0), 1], b"\0a\0"), [1]);
        // [1] int, [2] ptr -> [3] const -> [2]: pointers alone break nothing
        let mut w = INT.to_vec();
        w.extend([0, info(Kind::Ptr, 0), 3, 0, info(Kind::Const, 0), 2]);
        assert_eq!(cycle(&w, b"\0"), [3, 2]); // found at the second lap, through the pointer
    }

    #[test]
    fn aggregates_holding_themselves() {
        // [1] int, [2] struct s { struct s x; }
        let mut w = INT.to_vec();
        w.extend([1, info(Kind::Struct, 1), 4, 3, 2, 0]);
        assert_eq!(cycle(&w, b"\0s\0x\0"), [2]);
        // [1] int, [2] struct s { [3] x[2]; }, [3] array of [2] indexed by [1]
        let mut w = INT.to_vec();
        w.extend([1, info(Kind::Struct, 1), 8, 3, 3, 0]);
        w.extend([0, info(Kind::Array, 0), 0, 2, 1, 2]);
        assert_eq!(cycle(&w, b"\0s\0x\0"), [2, 3]);
        // an anonymous struct behind a pointer cannot be forward-declared
        let mut w = INT.to_vec();
        w.extend([0, info(Kind::Struct, 1), 8, 3, 3, 0]);
        w.extend([0, info(Kind::Ptr, 0), 2]);
        assert_eq!(cycle(&w, b"\0x\0"), [3, 2]);
    }

    #[test]
    fn a_prototype_returning_a_pointer_to_itself() {
        // [1] func_proto returning [2], [2] ptr -> [1]: the kernel takes it, btf_dump recurses
        let w = [0, info(Kind::FuncProto, 0), 2, 0, info(Kind::Ptr, 0), 1];
        assert_eq!(cycle(&w, b"\0"), [1, 2]);
    }

    #[test]
    fn pointers_to_named_structs_close_cycles() {
        // [1] int, [2] struct s { [3] next; [1] v; }, [3] ptr -> [4], [4] typedef s_t -> [5]
        // [5] const -> [2]: the list_head pattern, through a typedef and a modifier
        let mut w = INT.to_vec();
        w.extend([1, info(Kind::Struct, 2), 16, 3, 3, 0, 3, 1, 64]);
        w.extend([0, info(Kind::Ptr, 0), 4]);
        w.extend([5, info(Kind::Typedef, 0), 5]);
        w.extend([0, info(Kind::Const, 0), 2]);
        let btf = Btf::parse(&blob(&w, b"\0s\0n\0s_t\0")).unwrap();
        assert_eq!(btf.type_count(), 6);
        // the blobs of the rest of the module's tests are acyclic
        Btf::parse(&crate::btf::tests::tiny_blob(true)).unwrap();
    }

    #[test]
    fn long_cycles_are_named_briefly() {
        // [1] -> [2] -> ... -> [5000] -> [1], all const: no recursion, a short message
        let n = 5000u32;
        let w: Vec<u32> = (1..=n)
            .flat_map(|id| [0, info(Kind::Const, 0), id % n + 1])
            .collect();
        let err = Btf::parse(&blob(&w, b"\0")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("BTF type cycle [1] const <anon> -> [2] const <anon> -> [3] const"),
            "{text}"
        );
        assert!(text.contains("... (4994 more) -> [4998]"), "{text}");
        assert!(text.len() < 400 && !text.contains('\n'), "{text}");
        match err {
            BtfError::TypeCycle { ids, .. } => assert_eq!(ids.len(), n as usize),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn split_btf_is_checked_on_its_base() {
        // base: [1] int; split: [2] const -> [3] typedef t -> [2]
        let base = Btf::parse(&blob(&INT, b"\0")).unwrap();
        let split = blob(
            &[0, info(Kind::Const, 0), 3, 1, info(Kind::Typedef, 0), 2],
            b"t\0",
        );
        match Btf::parse_split(&split, base) {
            Err(BtfError::TypeCycle { ids, .. }) => assert_eq!(ids, [2, 3]),
            other => panic!("{other:?}"),
        }
        // a base referring past its end reaches the split types: [1] const -> [2],
        // split [2] volatile -> [1]
        let base = Btf::parse(&blob(&[0, info(Kind::Const, 0), 2], b"\0")).unwrap();
        assert!(base.refs_past_end);
        let types: Vec<u8> = [0, info(Kind::Volatile, 0), 1]
            .iter()
            .flat_map(|w: &u32| w.to_le_bytes())
            .collect();
        let mut split = vec![0x9f, 0xeb, 1, 0];
        for v in [24, 0, types.len() as u32, types.len() as u32, 2] {
            split.extend(v.to_le_bytes());
        }
        split.extend(types);
        split.extend(b"x\0");
        match Btf::parse_split(&split, base) {
            Err(BtfError::TypeCycle { ids, .. }) => assert_eq!(ids, [1, 2]),
            other => panic!("{other:?}"),
        }
    }
}
