//! What the verifier knows when it walks a program, as far as `requires` needs it: a small
//! abstract interpreter of the program's instructions.
//!
//! The verifier explores every path of a program with what it knows at load: the values of
//! `__kconfig` externs (`LINUX_KERNEL_VERSION`, `CONFIG_*`) and of the object's `.rodata`
//! (libbpf freezes both maps, and the verifier reads a frozen read-only map as constants), so
//! a branch on them is decided and the other side is dead code it never checks. libbpf-tools
//! rely on that: `biolatency` reads `ctx[1]` only when `LINUX_KERNEL_VERSION < 5.11`. This
//! walk does the same with the values a kernel source tells offline, and records:
//!
//! - the deepest context argument each live path reads (a read past the target's arguments is
//!   refused), the reads whose path depends on a value the source does not tell, and context
//!   accesses at an offset not known until load;
//! - which context arguments are read through (a load from the pointer an argument holds: the
//!   kernel must type that argument as a pointer to a struct);
//! - a pointer argument spilled to the stack, the slot then handed to a helper (as a map key),
//!   and the pointer loaded back and read through: some verifiers turn such a slot into plain
//!   bytes (`fp-8=mmmmmmmm`) and refuse the read.
//!
//! Paths are followed exactly (registers, stack slots, BPF-to-BPF calls) up to a number of
//! distinct states per instruction; past it, states at that instruction are joined, the way a
//! data-flow analysis would, so the walk always ends.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::reloc::insn::{self, Insn};

/// `BPF_JMP | BPF_CALL`.
const CALL: u8 = 0x85;
/// `BPF_JMP | BPF_EXIT`.
const EXIT: u8 = 0x95;
/// `BPF_LD | BPF_IMM | BPF_DW`.
const LDDW: u8 = 0x18;
const PSEUDO_CALL: u8 = 1;
/// Distinct states kept per instruction before they are joined.
const STATES_PER_INSN: usize = 32;
/// Instructions walked per program before the walk gives up (the verifier's own limit is a
/// million processed instructions).
const BUDGET: usize = 200_000;
/// BPF-to-BPF call depth (the verifier allows 8 frames).
const MAX_FRAMES: usize = 8;

/// One function of the object's code (a symbol of type FUNC in a code section).
#[derive(Debug, Clone)]
pub(crate) struct Func {
    pub name: String,
    pub section: String,
    pub start: u64,
    pub end: u64,
}

/// What an instruction's ELF relocation names.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A BPF function: section and byte offset of its first instruction.
    Code { section: String, off: u64 },
    /// A read-only data section (`.rodata`, `.rodata.str1.1`) at a byte offset.
    Rodata { section: String, off: u64 },
    /// A `__kconfig` extern.
    Kconfig(String),
    /// Anything else (a map, `.data`, `.bss`, a ksym).
    Other,
}

/// A `.rodata` section as built, with its variables: (offset, size, name).
pub(crate) type Rodata = (Vec<u8>, Vec<(u64, u64, String)>);
/// The walk's memo key: a program and the load-time values its walk consulted.
type MemoKey = (String, Vec<(String, Option<u64>)>);

/// The code of an object, with what the walk needs of its relocations and read-only data.
#[derive(Debug, Default)]
pub(crate) struct Code {
    pub funcs: Vec<Func>,
    pub insns: HashMap<String, Vec<Insn>>,
    /// (section, instruction index) → what its relocation names.
    pub relocs: HashMap<(String, u32), Target>,
    /// `.rodata*` contents as built, and the variables in them: (offset, size, name).
    pub rodata: HashMap<String, Rodata>,
    pub big_endian: bool,
    /// Facts already computed, by program and the load-time values it consulted.
    pub(crate) memo: Mutex<HashMap<MemoKey, Arc<Facts>>>,
}

/// Load-time values the walk may use: `__kconfig` externs by name (`None`: this kernel's
/// sources do not tell it, with why).
pub trait Knowns {
    fn kconfig(&self, name: &str) -> Result<u64, String>;
    /// How a known value reads in a report (`LINUX_KERNEL_VERSION = 6.1.0`).
    fn describe(&self, name: &str, value: u64) -> String {
        format!("{name} = {value}")
    }
}

/// A pointer argument loaded back from a stack slot that a helper had read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpilledRead {
    /// The context argument the pointer came from.
    pub arg: u32,
    /// The helper call that read the slot (instruction index in the program's section).
    pub helper_insn: u32,
    /// The helper's id.
    pub helper: u32,
    /// The read through the reloaded pointer.
    pub read_insn: u32,
    /// The stack slot (offset from the frame pointer).
    pub slot: i32,
}

/// What the walk of one program found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The deepest context read on a path the verifier walks: (argument, instruction).
    pub deepest: Option<(u32, u32)>,
    /// The deepest read on a path that exists only if a value the source does not tell
    /// takes some value: (argument, instruction, that value's name).
    pub guarded: Option<(u32, u32, String)>,
    /// A context access at an offset only known at load: (instruction, the value it depends
    /// on, when it is one the source does not tell).
    pub computed: Option<(u32, Option<String>)>,
    /// Context arguments read through (a load from the pointer the argument holds):
    /// argument → first such instruction, on paths that do not depend on unknown values.
    pub derefs: BTreeMap<u32, u32>,
    pub spilled_read: Option<SpilledRead>,
    /// A read through the context pointer after arithmetic moved it: (instruction, offset,
    /// the unknown value its path depends on, if any). The verifier refuses it on every
    /// kernel ("dereference of modified ctx ptr"); `ctx + 24` is fine only as the load's own
    /// offset.
    pub moved_ctx: Option<(u32, i64, Option<String>)>,
    /// The load-time values the walk read (they decide the branches on them), as
    /// `LINUX_KERNEL_VERSION = 6.1.0`.
    pub used_values: BTreeSet<String>,
    /// The walk hit its budget: what it found comes from the paths it walked.
    pub truncated: bool,
}

/// An abstract value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Val {
    Unknown,
    /// Derived from a load-time value the source does not tell (index into the walk's names).
    Unsure(u16),
    Const(u64),
    /// The context pointer plus a known offset.
    Ctx(i64),
    /// The context pointer plus an offset known at load only (`Some`: derived from an
    /// unknown load-time value).
    CtxVar(Option<u16>),
    /// A pointer read from context argument `n`; `helper`: it came back from a stack slot a
    /// helper had read (the call's instruction, helper id, slot).
    Arg {
        n: u8,
        helper: Option<(u32, u32, i32)>,
    },
    /// The frame pointer of call depth `depth`, plus an offset.
    Frame {
        depth: u8,
        off: i32,
    },
    /// A pointer into a `.rodata` section (index into the walk's sections).
    Rodata {
        sec: u16,
        off: i64,
    },
    /// A pointer to a `__kconfig` extern (index into the walk's names).
    Kconfig {
        name: u16,
        off: i64,
    },
}

impl Val {
    fn unsure(self) -> Option<u16> {
        match self {
            Val::Unsure(n) | Val::CtxVar(Some(n)) => Some(n),
            _ => None,
        }
    }
}

fn join(a: Val, b: Val) -> Val {
    match (a, b) {
        _ if a == b => a,
        (Val::Unsure(n), _) | (_, Val::Unsure(n)) => Val::Unsure(n),
        (Val::Ctx(_) | Val::CtxVar(_), Val::Ctx(_) | Val::CtxVar(_)) => {
            Val::CtxVar(a.unsure().or(b.unsure()))
        }
        (Val::Arg { n, helper }, Val::Arg { n: m, helper: h }) if n == m => Val::Arg {
            n,
            helper: helper.or(h),
        },
        _ => Val::Unknown,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Frame {
    /// Where to go on `exit`: section index and instruction.
    ret: (u16, u32),
    /// The caller's r6-r9.
    saved: [Val; 4],
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct State {
    regs: [Val; 11],
    /// (depth, offset) → an 8-byte slot spilled whole.
    stack: BTreeMap<(u8, i32), Val>,
    frames: Vec<Frame>,
    /// This path exists only if a value the source does not tell takes some value.
    unsure: Option<u16>,
}

impl State {
    fn joined(&self, other: &State) -> State {
        let mut regs = self.regs;
        for (r, o) in regs.iter_mut().zip(other.regs) {
            *r = join(*r, o);
        }
        let stack = self
            .stack
            .iter()
            .filter_map(|(k, v)| other.stack.get(k).map(|o| (*k, join(*v, *o))))
            .collect();
        State {
            regs,
            stack,
            frames: self.frames.clone(),
            unsure: self.unsure.or(other.unsure),
        }
    }
}

/// The walk's tables: names and sections interned as small indices.
struct Walk<'c, 'k> {
    code: &'c Code,
    knowns: &'k dyn Knowns,
    sections: Vec<&'c str>,
    section_ids: HashMap<&'c str, u16>,
    names: Vec<String>,
    /// The load-time values consulted, in order, for the memo key.
    consulted: Vec<(String, Option<u64>)>,
    facts: Facts,
}

impl Code {
    fn func_at(&self, section: &str, off: u64) -> Option<&Func> {
        self.funcs
            .iter()
            .find(|f| f.section == section && f.start == off)
    }

    /// Walk program `main` (its context in r1) with the load-time values of `knowns`.
    pub(crate) fn walk(&self, main: &Func, knowns: &dyn Knowns) -> Arc<Facts> {
        // The memo key: the values this program consulted last time, if those are unchanged.
        let previous: Vec<Vec<(String, Option<u64>)>> = self
            .memo
            .lock()
            .map(|m| {
                m.keys()
                    .filter(|(p, _)| *p == main.name)
                    .map(|(_, k)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        for key in previous {
            let same = key.iter().all(|(n, v)| knowns.kconfig(n).ok() == *v);
            if same {
                if let Some(f) = self
                    .memo
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&(main.name.clone(), key)).cloned())
                {
                    return f;
                }
            }
        }
        // Code and `.rodata` sections, by small index.
        let mut sections: Vec<&str> = self
            .insns
            .keys()
            .chain(self.rodata.keys())
            .map(String::as_str)
            .collect();
        sections.sort_unstable();
        let section_ids = sections
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i as u16))
            .collect();
        let mut w = Walk {
            code: self,
            knowns,
            sections,
            section_ids,
            names: Vec::new(),
            consulted: Vec::new(),
            facts: Facts::default(),
        };
        w.run(main);
        let mut key = w.consulted.clone();
        key.sort();
        key.dedup();
        let facts = Arc::new(w.facts);
        if let Ok(mut m) = self.memo.lock() {
            m.insert((main.name.clone(), key), facts.clone());
        }
        facts
    }
}

/// Sign-extend the low `bits` of `v`.
fn sext(v: u64, bits: u32) -> u64 {
    let s = 64 - bits;
    (((v << s) as i64) >> s) as u64
}

/// `BPF_ALU`/`BPF_ALU64` on two known values, as the verifier computes them (`sdiv`/`smod`,
/// `off` 1, signed; the rest as [`insn::alu`]).
fn alu(op: u8, off: i16, a: u64, b: u64, wide: bool) -> u64 {
    if off == 1 && (op == 0x30 || op == 0x90) && b != 0 {
        let r = match (op, wide) {
            (0x30, true) => (a as i64).wrapping_div(b as i64) as u64,
            (0x30, false) => (a as u32 as i32).wrapping_div(b as u32 as i32) as u32 as u64,
            (_, true) => (a as i64).wrapping_rem(b as i64) as u64,
            (_, false) => (a as u32 as i32).wrapping_rem(b as u32 as i32) as u32 as u64,
        };
        return r;
    }
    insn::alu(op, a, b, wide).unwrap_or(a)
}

impl Walk<'_, '_> {
    fn name_id(&mut self, name: &str) -> u16 {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i as u16,
            None => {
                self.names.push(name.to_owned());
                (self.names.len() - 1) as u16
            }
        }
    }

    fn run(&mut self, main: &Func) {
        let Some(&sec) = self.section_ids.get(main.section.as_str()) else {
            return;
        };
        let mut regs = [Val::Unknown; 11];
        regs[1] = Val::Ctx(0);
        regs[10] = Val::Frame { depth: 0, off: 0 };
        let start = State {
            regs,
            stack: BTreeMap::new(),
            frames: Vec::new(),
            unsure: None,
        };
        let mut seen: HashMap<(u16, u32), HashSet<State>> = HashMap::new();
        let mut todo: Vec<((u16, u32), State)> = vec![((sec, (main.start / 8) as u32), start)];
        let mut steps = 0usize;
        while let Some((pc, mut st)) = todo.pop() {
            steps += 1;
            if steps > BUDGET {
                self.facts.truncated = true;
                return;
            }
            let states = seen.entry(pc).or_default();
            if states.contains(&st) {
                continue;
            }
            if states.len() >= STATES_PER_INSN {
                // Join with everything seen here; walk on only if that says something new.
                let mut all = st.clone();
                for s in states.iter() {
                    if s.frames == all.frames {
                        all = all.joined(s);
                    }
                }
                if states.contains(&all) {
                    continue;
                }
                st = all;
            }
            states.insert(st.clone());
            for next in self.step(pc, st) {
                todo.push(next);
            }
        }
    }

    /// The value of operand `src` (a register or the immediate) of `insn`.
    fn operand(&self, st: &State, insn: &Insn, wide: bool) -> Val {
        match insn.code & 0x08 {
            0 if wide => Val::Const(insn.imm as i64 as u64),
            0 => Val::Const(insn.imm as u32 as u64),
            _ => st.regs[(insn.src & 0xf) as usize],
        }
    }

    fn read_ctx(&mut self, st: &State, off: i64, insn_at: u32) {
        if off < 0 {
            return;
        }
        let arg = (off / 8) as u32;
        match st.unsure {
            Some(u) => {
                if self.facts.guarded.as_ref().is_none_or(|(a, _, _)| arg > *a) {
                    self.facts.guarded = Some((arg, insn_at, self.names[u as usize].clone()));
                }
            }
            None => {
                if self.facts.deepest.is_none_or(|(a, _)| arg > a) {
                    self.facts.deepest = Some((arg, insn_at));
                }
            }
        }
    }

    /// A load or store through `base`: record what it means for the context.
    fn access(&mut self, st: &State, base: Val, off: i16, at: u32) {
        match base {
            Val::Ctx(o) => {
                let sure = self.facts.moved_ctx.as_ref().is_some_and(|m| m.2.is_none());
                if o != 0 && !sure {
                    let on = st.unsure.map(|u| self.names[u as usize].clone());
                    if on.is_none() || self.facts.moved_ctx.is_none() {
                        self.facts.moved_ctx = Some((at, o, on));
                    }
                }
                self.read_ctx(st, o + i64::from(off), at)
            }
            Val::CtxVar(u) if self.facts.computed.is_none() => {
                let why = u.or(st.unsure).map(|u| self.names[u as usize].clone());
                self.facts.computed = Some((at, why));
            }
            Val::Arg { n, helper } if st.unsure.is_none() => {
                self.facts.derefs.entry(u32::from(n)).or_insert(at);
                if let (Some((h_at, helper, slot)), None) = (helper, &self.facts.spilled_read) {
                    self.facts.spilled_read = Some(SpilledRead {
                        arg: u32::from(n),
                        helper_insn: h_at,
                        helper,
                        read_insn: at,
                        slot,
                    });
                }
            }
            _ => {}
        }
    }

    /// A load of `size` bytes at `off` of a known map value: `.rodata` as built, or a
    /// `__kconfig` extern's value on this kernel.
    fn load_known(&mut self, base: Val, off: i64, size: u64) -> Option<Val> {
        match base {
            Val::Rodata { sec, off: o } => {
                let name = self.sections[sec as usize];
                let (data, vars) = self.code.rodata.get(name)?;
                let at = u64::try_from(o + off).ok()?;
                let bytes = data.get(at as usize..(at + size) as usize)?;
                let mut v = 0u64;
                for (i, b) in bytes.iter().enumerate() {
                    let shift = match self.code.big_endian {
                        true => 8 * (size as usize - 1 - i),
                        false => 8 * i,
                    };
                    v |= u64::from(*b) << shift;
                }
                let var = vars
                    .iter()
                    .find(|(s, len, _)| at >= *s && at < s + (*len).max(1))
                    .map_or_else(|| format!("{name}+{at}"), |(_, _, n)| n.clone());
                Some(Val::Const(v).with_origin(format!("{var} = {v} (.rodata as built)"), self))
            }
            Val::Kconfig { name, off: o } => {
                let n = self.names[name as usize].clone();
                let known = self.knowns.kconfig(&n);
                self.consulted
                    .push((n.clone(), known.as_ref().ok().copied()));
                match known {
                    Ok(v) if o + off == 0 => {
                        let v = match size {
                            8 => v,
                            s => v & ((1u64 << (8 * s)) - 1),
                        };
                        let text = self.knowns.describe(&n, v);
                        Some(Val::Const(v).with_origin(text, self))
                    }
                    Ok(_) => Some(Val::Unknown),
                    Err(why) => {
                        let id = self.name_id(&format!("{n} ({why})"));
                        Some(Val::Unsure(id))
                    }
                }
            }
            _ => None,
        }
    }

    /// The states after instruction `pc` of state `st`.
    fn step(&mut self, pc: (u16, u32), mut st: State) -> Vec<((u16, u32), State)> {
        let section = self.sections[pc.0 as usize];
        let Some(insns) = self.code.insns.get(section) else {
            return Vec::new();
        };
        let Some(&insn) = insns.get(pc.1 as usize) else {
            return Vec::new();
        };
        let at = pc.1;
        let next = (pc.0, at + 1);
        let dst = (insn.dst & 0xf) as usize;
        let src = (insn.src & 0xf) as usize;
        if dst > 10 || src > 10 {
            return Vec::new();
        }
        match insn.class() {
            // BPF_LD: ld_imm64 (legacy packet loads clobber r0).
            0x00 => {
                if insn.code != LDDW {
                    st.regs[0] = Val::Unknown;
                    return vec![(next, st)];
                }
                let hi = insns
                    .get(at as usize + 1)
                    .map_or(0, |n| n.imm as u32 as u64);
                let reloc = self.code.relocs.get(&(section.to_owned(), at));
                st.regs[dst] = match reloc {
                    None if insn.src == 0 => Val::Const(insn.imm as u32 as u64 | hi << 32),
                    Some(Target::Rodata { section, off }) => {
                        match self.section_ids.get(section.as_str()) {
                            Some(&sec) => Val::Rodata {
                                sec,
                                off: *off as i64 + i64::from(insn.imm),
                            },
                            None => Val::Unknown,
                        }
                    }
                    Some(Target::Kconfig(n)) => Val::Kconfig {
                        name: self.name_id(n),
                        off: 0,
                    },
                    _ => Val::Unknown,
                };
                vec![((pc.0, at + 2), st)]
            }
            // BPF_LDX
            0x01 => {
                let base = st.regs[src];
                self.access(&st, base, insn.off, at);
                let size = [4u64, 2, 1, 8][((insn.code >> 3) & 3) as usize];
                let sign = insn.code & 0xe0 == 0x80; // BPF_MEMSX
                let v = match base {
                    Val::Ctx(o) if o + i64::from(insn.off) >= 0 && size == 8 => Val::Arg {
                        n: ((o + i64::from(insn.off)) / 8).min(255) as u8,
                        helper: None,
                    },
                    Val::Frame { depth, off } if size == 8 => st
                        .stack
                        .get(&(depth, off + i32::from(insn.off)))
                        .copied()
                        .unwrap_or(Val::Unknown),
                    Val::Rodata { .. } | Val::Kconfig { .. } => {
                        match self.load_known(base, i64::from(insn.off), size) {
                            Some(Val::Const(c)) if sign => Val::Const(sext(c, 8 * size as u32)),
                            Some(v) => v,
                            None => Val::Unknown,
                        }
                    }
                    Val::Unsure(u) => Val::Unsure(u),
                    _ => Val::Unknown,
                };
                st.regs[dst] = v;
                vec![(next, st)]
            }
            // BPF_ST, BPF_STX
            0x02 | 0x03 => {
                let base = st.regs[dst];
                self.access(&st, base, insn.off, at);
                if let Val::Frame { depth, off } = base {
                    let off = off + i32::from(insn.off);
                    let size = [4i32, 2, 1, 8][((insn.code >> 3) & 3) as usize];
                    let atomic = insn.code & 0xe0 == 0xc0;
                    // Any slot the store touches loses what it held.
                    let slot = off.div_euclid(8) * 8;
                    let last = (off + size - 1).div_euclid(8) * 8;
                    let mut s = slot;
                    while s <= last {
                        st.stack.remove(&(depth, s));
                        s += 8;
                    }
                    if size == 8 && off % 8 == 0 && !atomic {
                        let v = match insn.class() {
                            0x02 => Val::Const(insn.imm as i64 as u64),
                            _ => st.regs[src],
                        };
                        st.stack.insert((depth, off), v);
                    }
                }
                if insn.code & 0xe0 == 0xc0 && insn.imm & 0x01 != 0 {
                    // BPF_FETCH: the old value lands in src (r0 for cmpxchg).
                    let r = if insn.imm == 0xf1 { 0 } else { src };
                    st.regs[r] = Val::Unknown;
                }
                vec![(next, st)]
            }
            // BPF_ALU, BPF_ALU64
            0x04 | 0x07 => {
                let wide = insn.class() == 0x07;
                let op = insn.code & 0xf0;
                let a = st.regs[dst];
                let b = self.operand(&st, &insn, wide);
                st.regs[dst] = match op {
                    // mov, movsx
                    0xb0 => match b {
                        Val::Const(c) if insn.off == 8 || insn.off == 16 || insn.off == 32 => {
                            let c = sext(c, insn.off as u32);
                            Val::Const(if wide { c } else { c & 0xffff_ffff })
                        }
                        Val::Const(c) if !wide => Val::Const(c & 0xffff_ffff),
                        v if wide => v,
                        Val::Unsure(u) => Val::Unsure(u),
                        _ => Val::Unknown,
                    },
                    // neg, end (byte swap)
                    0x80 => match a {
                        Val::Const(c) => Val::Const(alu(op, 0, c, 0, wide)),
                        v => Val::Unknown.or_unsure(v),
                    },
                    0xd0 => match (a, insn.imm) {
                        (Val::Const(c), 16 | 32 | 64) => {
                            let bits = insn.imm as u32;
                            let swap = (insn.code & 0x08 != 0) != self.code.big_endian
                                || insn.class() == 0x07;
                            let v = if bits == 64 {
                                c
                            } else {
                                c & ((1u64 << bits) - 1)
                            };
                            Val::Const(match (swap, bits) {
                                (false, _) => v,
                                (true, 16) => u64::from((v as u16).swap_bytes()),
                                (true, 32) => u64::from((v as u32).swap_bytes()),
                                (true, _) => v.swap_bytes(),
                            })
                        }
                        (v, _) => Val::Unknown.or_unsure(v),
                    },
                    _ => match (a, b) {
                        (Val::Const(x), Val::Const(y)) => Val::Const(alu(op, insn.off, x, y, wide)),
                        // Pointer arithmetic.
                        (p, Val::Const(c)) if wide && (op == 0x00 || op == 0x10) => {
                            let c = if op == 0x10 { c.wrapping_neg() } else { c } as i64;
                            match p {
                                Val::Ctx(o) => Val::Ctx(o + c),
                                Val::Frame { depth, off } => Val::Frame {
                                    depth,
                                    off: off + c as i32,
                                },
                                Val::Rodata { sec, off } => Val::Rodata { sec, off: off + c },
                                Val::Kconfig { name, off } => Val::Kconfig { name, off: off + c },
                                v @ (Val::Arg { .. } | Val::CtxVar(_) | Val::Unsure(_)) => v,
                                _ => Val::Unknown,
                            }
                        }
                        (Val::Ctx(_) | Val::CtxVar(_), v) if wide && op == 0x00 => {
                            Val::CtxVar(v.unsure().or(a.unsure()))
                        }
                        (Val::Const(c), Val::Ctx(o)) if wide && op == 0x00 => {
                            Val::Ctx(o + c as i64)
                        }
                        (
                            Val::Const(_) | Val::Unsure(_) | Val::Unknown,
                            Val::Ctx(_) | Val::CtxVar(_),
                        ) if wide && op == 0x00 => Val::CtxVar(a.unsure()),
                        (v @ Val::Arg { .. }, _) if wide && (op == 0x00 || op == 0x10) => v,
                        (x, y) => match x.unsure().or(y.unsure()) {
                            Some(u) => Val::Unsure(u),
                            None => Val::Unknown,
                        },
                    },
                };
                vec![(next, st)]
            }
            // BPF_JMP, BPF_JMP32
            0x05 | 0x06 => self.jump(pc, insn, st),
            _ => vec![(next, st)],
        }
    }

    fn jump(&mut self, pc: (u16, u32), insn: Insn, mut st: State) -> Vec<((u16, u32), State)> {
        let at = pc.1;
        let next = (pc.0, at + 1);
        let wide = insn.class() == 0x05;
        let op = insn.code & 0xf0;
        match insn.code {
            CALL => return self.call(pc, insn, st),
            EXIT => {
                let Some(f) = st.frames.pop() else {
                    return Vec::new();
                };
                let depth = st.frames.len() as u8 + 1;
                st.stack.retain(|(d, _), _| *d < depth);
                st.regs[6..10].copy_from_slice(&f.saved);
                for r in &mut st.regs[1..6] {
                    *r = Val::Unknown;
                }
                st.regs[10] = Val::Frame {
                    depth: depth - 1,
                    off: 0,
                };
                return vec![(f.ret, st)];
            }
            _ => {}
        }
        let jump_off = match (wide, op) {
            (false, 0x00) => i64::from(insn.imm), // gotol
            _ => i64::from(insn.off),
        };
        let target = (pc.0, (i64::from(at) + 1 + jump_off).max(0) as u32);
        if op == 0x00 {
            return vec![(target, st)];
        }
        let a = st.regs[(insn.dst & 0xf) as usize];
        let b = self.operand(&st, &insn, wide);
        if let (Val::Const(x), Val::Const(y)) = (a, b) {
            if let Some(t) = insn::cond(op, x, y, wide) {
                return vec![(if t { target } else { next }, st)];
            }
        }
        if let Some(u) = a.unsure().or(b.unsure()) {
            st.unsure.get_or_insert(u);
        }
        vec![(next, st.clone()), (target, st)]
    }

    fn call(&mut self, pc: (u16, u32), insn: Insn, mut st: State) -> Vec<((u16, u32), State)> {
        let at = pc.1;
        let section = self.sections[pc.0 as usize];
        let next = (pc.0, at + 1);
        let callee = match self.code.relocs.get(&(section.to_owned(), at)) {
            Some(Target::Code { section, off }) => Some((section.as_str(), *off)),
            None if insn.src == PSEUDO_CALL => {
                let off = (i64::from(at) + 1 + i64::from(insn.imm)) * 8;
                Some((section, off.max(0) as u64))
            }
            _ => None,
        };
        if let Some((sec, off)) = callee {
            let found = self.code.func_at(sec, off).is_some() || sec == section;
            if let (true, Some(&sid)) = (found, self.section_ids.get(sec)) {
                if st.frames.len() + 1 < MAX_FRAMES {
                    let mut saved = [Val::Unknown; 4];
                    saved.copy_from_slice(&st.regs[6..10]);
                    st.frames.push(Frame { ret: next, saved });
                    for r in &mut st.regs[6..10] {
                        *r = Val::Unknown;
                    }
                    st.regs[10] = Val::Frame {
                        depth: st.frames.len() as u8,
                        off: 0,
                    };
                    return vec![((sid, (off / 8) as u32), st)];
                }
            }
        } else if insn.src == 0 {
            // A helper reads (or writes) the stack memory its pointer arguments point to.
            for r in 1..=5 {
                if let Val::Frame { depth, off } = st.regs[r] {
                    let slot = off.div_euclid(8) * 8;
                    if let Some(Val::Arg { n, helper: None }) = st.stack.get(&(depth, slot)) {
                        let n = *n;
                        st.stack.insert(
                            (depth, slot),
                            Val::Arg {
                                n,
                                helper: Some((at, insn.imm as u32, slot)),
                            },
                        );
                    }
                }
            }
        }
        for r in &mut st.regs[0..6] {
            *r = Val::Unknown;
        }
        vec![(next, st)]
    }
}

impl Val {
    /// `self`, or the taint of `from` when it is unsure.
    fn or_unsure(self, from: Val) -> Val {
        match from.unsure() {
            Some(u) => Val::Unsure(u),
            None => self,
        }
    }

    /// A known value, noting the branch-deciding value's description for the report.
    fn with_origin(self, text: String, w: &mut Walk<'_, '_>) -> Val {
        w.pending_origin(text);
        self
    }
}

impl Walk<'_, '_> {
    fn pending_origin(&mut self, text: String) {
        self.facts.used_values.insert(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    struct Kernel(Option<u64>);

    impl Knowns for Kernel {
        fn kconfig(&self, name: &str) -> Result<u64, String> {
            match (name, self.0) {
                ("LINUX_KERNEL_VERSION", Some(v)) => Ok(v),
                _ => Err("not told".into()),
            }
        }
    }

    const SEC: &str = "tp_btf/block_rq_insert";

    fn code(insns: Vec<Insn>, relocs: Vec<(u32, Target)>) -> (Code, Func) {
        let main = Func {
            name: "prog".into(),
            section: SEC.into(),
            start: 0,
            end: insns.len() as u64 * 8,
        };
        let code = Code {
            funcs: vec![main.clone()],
            insns: HashMap::from([(SEC.to_owned(), insns)]),
            relocs: relocs
                .into_iter()
                .map(|(i, t)| ((SEC.to_owned(), i), t))
                .collect(),
            ..Code::default()
        };
        (code, main)
    }

    /// libbpf-tools' biolatency `block_rq_insert`, cut down: `ctx` kept in r6, `ctx[1]` read
    /// when `LINUX_KERNEL_VERSION < 5.11`, else `ctx[0]`.
    fn by_version() -> (Code, Func) {
        code(
            vec![
                insn(0xbf, 6, 1, 0, 0),       // 0: r6 = r1
                insn(LDDW, 1, 0, 0, 0),       // 1: r1 = LINUX_KERNEL_VERSION ll
                insn(0, 0, 0, 0, 0),          // 2
                insn(0x61, 1, 1, 0, 0),       // 3: r1 = *(u32 *)(r1 + 0)
                insn(0xb7, 2, 0, 0, 330_496), // 4: r2 = KERNEL_VERSION(5, 11, 0)
                insn(0x2d, 2, 1, 3, 0),       // 5: if r2 > r1 goto +3
                insn(0x79, 1, 6, 0, 0),       // 6: r1 = *(u64 *)(r6 + 0)
                insn(0xbf, 6, 0, 0, 0),       // 7: r6 = r0
                insn(0x95, 0, 0, 0, 0),       // 8: exit
                insn(0x79, 1, 6, 8, 0),       // 9: r1 = *(u64 *)(r6 + 8)
                insn(0x95, 0, 0, 0, 0),       // 10: exit
            ],
            vec![(1, Target::Kconfig("LINUX_KERNEL_VERSION".into()))],
        )
    }

    #[test]
    fn a_known_kernel_version_decides_the_branch() {
        let (c, main) = by_version();
        let old = c.walk(&main, &Kernel(Some(5 << 16 | 10 << 8)));
        assert_eq!(old.deepest, Some((1, 9)), "{old:?}");
        assert_eq!(old.guarded, None);
        assert!(
            old.used_values.contains("LINUX_KERNEL_VERSION = 330240"),
            "{old:?}"
        );
        let new = c.walk(&main, &Kernel(Some(6 << 16 | 1 << 8)));
        assert_eq!(new.deepest, Some((0, 6)), "{new:?}");
    }

    #[test]
    fn an_unknown_kernel_version_guards_both_sides() {
        let (c, main) = by_version();
        let f = c.walk(&main, &Kernel(None));
        assert_eq!(f.deepest, None, "{f:?}");
        // Both sides depend on the unknown value; the deepest of them is kept.
        let (arg, at, on) = f.guarded.clone().unwrap();
        assert_eq!((arg, at), (1, 9));
        assert!(on.starts_with("LINUX_KERNEL_VERSION (not told)"), "{on}");
    }

    #[test]
    fn the_walk_is_memoized_by_the_values_it_used() {
        let (c, main) = by_version();
        let a = c.walk(&main, &Kernel(Some(6 << 16)));
        let b = c.walk(&main, &Kernel(Some(6 << 16)));
        assert!(Arc::ptr_eq(&a, &b));
        let other = c.walk(&main, &Kernel(Some(5 << 16)));
        assert!(!Arc::ptr_eq(&a, &other));
    }

    #[test]
    fn rodata_as_built_decides_the_branch() {
        let (mut c, main) = code(
            vec![
                insn(0xbf, 6, 1, 0, 0),  // 0: r6 = r1
                insn(LDDW, 1, 0, 0, 4),  // 1: r1 = .rodata + 4 ll
                insn(0, 0, 0, 0, 0),     // 2
                insn(0x71, 1, 1, 0, 0),  // 3: r1 = *(u8 *)(r1 + 0)
                insn(0x15, 1, 0, 2, 0),  // 4: if r1 == 0 goto +2
                insn(0x79, 2, 6, 16, 0), // 5: r2 = *(u64 *)(r6 + 16)
                insn(0x95, 0, 0, 0, 0),  // 6: exit
                insn(0x79, 2, 6, 0, 0),  // 7: r2 = *(u64 *)(r6 + 0)
                insn(0x95, 0, 0, 0, 0),  // 8: exit
            ],
            vec![(
                1,
                Target::Rodata {
                    section: ".rodata".into(),
                    off: 0,
                },
            )],
        );
        c.rodata.insert(
            ".rodata".into(),
            (
                vec![0, 0, 0, 0, 0, 0, 0, 0],
                vec![(4, 1, "targ_queued".into())],
            ),
        );
        let f = c.walk(&main, &Kernel(None));
        assert_eq!(f.deepest, Some((0, 7)), "{f:?}");
        assert!(
            f.used_values.contains("targ_queued = 0 (.rodata as built)"),
            "{f:?}"
        );
    }

    #[test]
    fn a_computed_context_offset_follows_known_values() {
        // r1 = (LINUX_KERNEL_VERSION < 5.11) << 3; r6 += r1; r2 = *(u64 *)(r6 + 0)
        let prog = vec![
            insn(0xbf, 6, 1, 0, 0),       // 0: r6 = r1
            insn(LDDW, 1, 0, 0, 0),       // 1: r1 = LINUX_KERNEL_VERSION ll
            insn(0, 0, 0, 0, 0),          // 2
            insn(0x61, 1, 1, 0, 0),       // 3: r1 = *(u32 *)(r1 + 0)
            insn(0xb7, 2, 0, 0, 8),       // 4: r2 = 8
            insn(0xa5, 1, 0, 1, 330_496), // 5: if r1 < KERNEL_VERSION(5, 11, 0) goto +1
            insn(0xb7, 2, 0, 0, 0),       // 6: r2 = 0
            insn(0x0f, 6, 2, 0, 0),       // 7: r6 += r2
            insn(0x79, 3, 6, 0, 0),       // 8: r3 = *(u64 *)(r6 + 0)
            insn(0x95, 0, 0, 0, 0),       // 9: exit
        ];
        let relocs = || vec![(1, Target::Kconfig("LINUX_KERNEL_VERSION".into()))];
        let (c, main) = code(prog.clone(), relocs());
        let old = c.walk(&main, &Kernel(Some(5 << 16)));
        assert_eq!(old.deepest, Some((1, 8)));
        // ctx + 8 through a register: the verifier refuses the moved pointer.
        assert_eq!(old.moved_ctx, Some((8, 8, None)));
        let new = c.walk(&main, &Kernel(Some(6 << 16)));
        assert_eq!(new.deepest, Some((0, 8)));
        assert_eq!(new.moved_ctx, None);
        // Without the version the two paths join at insn 7 with r2 unknown.
        let (c, main) = code(prog, relocs());
        let f = c.walk(&main, &Kernel(None));
        assert_eq!(f.deepest, None, "{f:?}");
        assert_eq!(
            f.guarded.as_ref().map(|g| (g.0, g.1)),
            Some((1, 8)),
            "{f:?}"
        );
    }

    /// libbpf-tools' biosnoop `block_rq_complete`, cut down: `rq` (ctx[0]) spilled to fp-8,
    /// fp-8 passed to bpf_map_lookup_elem as the key, `rq` loaded back and read through.
    #[test]
    fn a_pointer_reloaded_from_a_slot_a_helper_read_is_reported() {
        let (c, main) = code(
            vec![
                insn(0x79, 1, 1, 0, 0),   // 0: r1 = *(u64 *)(r1 + 0)
                insn(0x7b, 10, 1, -8, 0), // 1: *(u64 *)(r10 - 8) = r1
                insn(0xbf, 2, 10, 0, 0),  // 2: r2 = r10
                insn(0x07, 2, 0, 0, -8),  // 3: r2 += -8
                insn(LDDW, 1, 0, 0, 0),   // 4: r1 = start ll
                insn(0, 0, 0, 0, 0),      // 5
                insn(0x85, 0, 0, 0, 1),   // 6: call bpf_map_lookup_elem
                insn(0x79, 1, 10, -8, 0), // 7: r1 = *(u64 *)(r10 - 8)
                insn(0x79, 2, 1, 48, 0),  // 8: r2 = *(u64 *)(r1 + 48)
                insn(0x95, 0, 0, 0, 0),   // 9: exit
            ],
            vec![(4, Target::Other)],
        );
        let f = c.walk(&main, &Kernel(None));
        assert_eq!(
            f.spilled_read,
            Some(SpilledRead {
                arg: 0,
                helper_insn: 6,
                helper: 1,
                read_insn: 8,
                slot: -8,
            })
        );
        assert_eq!(f.derefs, BTreeMap::from([(0, 8)]));
    }

    #[test]
    fn a_pointer_read_through_without_a_helper_is_no_spilled_read() {
        let (c, main) = code(
            vec![
                insn(0x79, 1, 1, 8, 0),   // 0: r1 = *(u64 *)(r1 + 8)
                insn(0x7b, 10, 1, -8, 0), // 1: *(u64 *)(r10 - 8) = r1
                insn(0x79, 1, 10, -8, 0), // 2: r1 = *(u64 *)(r10 - 8)
                insn(0x79, 2, 1, 48, 0),  // 3: r2 = *(u64 *)(r1 + 48)
                insn(0x95, 0, 0, 0, 0),   // 4: exit
            ],
            vec![],
        );
        let f = c.walk(&main, &Kernel(None));
        assert_eq!(f.spilled_read, None);
        assert_eq!(f.derefs, BTreeMap::from([(1, 3)]));
    }

    #[test]
    fn a_loop_without_a_known_bound_ends() {
        // r2 = 0; loop: r2 += 1; if r2 != r3 goto loop (r3 unknown); read ctx[2].
        let (c, main) = code(
            vec![
                insn(0xb7, 2, 0, 0, 0),  // 0: r2 = 0
                insn(0x07, 2, 0, 0, 1),  // 1: r2 += 1
                insn(0x5d, 2, 3, -2, 0), // 2: if r2 != r3 goto -2
                insn(0x79, 4, 1, 16, 0), // 3: r4 = *(u64 *)(r1 + 16)
                insn(0x95, 0, 0, 0, 0),  // 4: exit
            ],
            vec![],
        );
        let f = c.walk(&main, &Kernel(None));
        assert_eq!(f.deepest, Some((2, 3)), "{f:?}");
        assert!(!f.truncated);
    }

    #[test]
    fn subprograms_see_the_context_and_return() {
        let (mut c, main) = code(
            vec![
                insn(0xbf, 6, 1, 0, 0),  // 0: r6 = r1
                insn(0x85, 0, 1, 0, 3),  // 1: call +3 (insn 5)
                insn(0x79, 2, 6, 8, 0),  // 2: r2 = *(u64 *)(r6 + 8): r6 survives the call
                insn(0x95, 0, 0, 0, 0),  // 3: exit
                insn(0x95, 0, 0, 0, 0),  // 4: (padding)
                insn(0x79, 6, 1, 24, 0), // 5: r6 = *(u64 *)(r1 + 24)
                insn(0x95, 0, 0, 0, 0),  // 6: exit
            ],
            vec![],
        );
        c.funcs.push(Func {
            name: "sub".into(),
            section: SEC.into(),
            start: 40,
            end: 56,
        });
        let f = c.walk(&main, &Kernel(None));
        assert_eq!(f.deepest, Some((3, 5)), "{f:?}");
        assert_eq!(f.derefs, BTreeMap::new());
    }
}
