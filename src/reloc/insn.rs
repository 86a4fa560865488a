//! BPF instructions of one program, the patches libbpf applied to them, and an offline answer
//! to "can the verifier reach this poisoned instruction?".
//!
//! A poisoned relocation is harmless when the instruction is dead code on that kernel, as in
//! `if (bpf_core_field_exists(t->x)) v = BPF_CORE_READ(t, x);`: the existence relocation became
//! `r1 = 0` and the branch over the read is always taken. [`poison_reachability`] propagates the
//! constants the relocations produced (and every other `mov`/ALU on immediates) through the
//! program's branches, the way the verifier prunes dead branches on known scalars. It tracks
//! registers only; a value that goes through the stack becomes unknown, so the answer errs on
//! the side of "reachable", never the other way.

use crate::btf::Endian;

/// One 8-byte instruction (`struct bpf_insn`), decoded to host order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

/// `BPF_JMP | BPF_CALL` with libbpf's poison helper id 0xbad2310 ("bad relo"),
/// as `bpf_core_poison_insn` writes it.
pub(crate) const POISON_IMM: i32 = 195_896_080;

/// Instruction classes (`BPF_CLASS(code)`, uapi bpf_common.h).
pub(crate) const CLASS_LD: u8 = 0x00;
pub(crate) const CLASS_LDX: u8 = 0x01;
pub(crate) const CLASS_ST: u8 = 0x02;
pub(crate) const CLASS_STX: u8 = 0x03;
pub(crate) const CLASS_ALU: u8 = 0x04;
const CLASS_JMP: u8 = 0x05;
const CLASS_JMP32: u8 = 0x06;
pub(crate) const CLASS_ALU64: u8 = 0x07;
const BPF_K: u8 = 0x00;
/// `BPF_LD | BPF_IMM | BPF_DW`: the first half of an `ld_imm64`.
pub(crate) const LDDW: u8 = 0x18;

impl Insn {
    pub(crate) fn decode(b: &[u8], endian: Endian) -> Insn {
        let (dst, src) = match endian {
            Endian::Little => (b[1] & 0xf, b[1] >> 4),
            Endian::Big => (b[1] >> 4, b[1] & 0xf),
        };
        Insn {
            code: b[0],
            dst,
            src,
            off: endian.u16([b[2], b[3]]) as i16,
            imm: endian.u32([b[4], b[5], b[6], b[7]]) as i32,
        }
    }

    pub fn class(&self) -> u8 {
        self.code & 7
    }

    pub fn is_ldimm64(&self) -> bool {
        self.code == LDDW
    }

    pub fn is_poison(&self) -> bool {
        self.code == (CLASS_JMP | 0x80) && self.imm == POISON_IMM
    }

    /// The value a CO-RE relocation reads from this instruction: `imm` for ALU, `off` for
    /// memory access, the 64-bit immediate for `ld_imm64` (with its second half `next`).
    pub(crate) fn relo_value(&self, next: Option<&Insn>) -> Option<u64> {
        match self.class() {
            CLASS_ALU | CLASS_ALU64 => Some(self.imm as u32 as u64),
            CLASS_LDX | CLASS_ST | CLASS_STX => Some(self.off as u16 as u64),
            CLASS_LD if self.is_ldimm64() => {
                Some(self.imm as u32 as u64 | (next?.imm as u32 as u64) << 32)
            }
            _ => None,
        }
    }
}

/// Decode a program's instructions.
pub(crate) fn decode_all(bytes: &[u8], endian: Endian) -> Vec<Insn> {
    bytes
        .chunks_exact(8)
        .map(|c| Insn::decode(c, endian))
        .collect()
}

/// Apply what libbpf's log says it did to instruction `idx` (`bpf_core_patch_insn`).
pub(crate) fn apply_patch(insns: &mut [Insn], idx: usize, patch: super::spec::Patch) {
    use super::spec::Patch;
    let Some(i) = insns.get_mut(idx) else { return };
    match patch {
        Patch::Imm { new, .. } => i.imm = new as i32,
        Patch::Off { new, .. } => i.off = new as i16,
        Patch::MemSz { new, .. } => {
            let size = match new {
                8 => 0x18,
                4 => 0x00,
                2 => 0x08,
                _ => 0x10,
            };
            i.code = (i.code & !0x18) | size;
        }
        Patch::Imm64 { new, .. } => {
            i.imm = new as u32 as i32;
            if let Some(hi) = insns.get_mut(idx + 1) {
                hi.imm = (new >> 32) as u32 as i32;
            }
        }
    }
}

/// Poison instruction `idx` as `bpf_core_poison_insn` does (both halves of an `ld_imm64`).
pub(crate) fn apply_poison(insns: &mut [Insn], idx: usize) {
    let ldimm64 = insns.get(idx).is_some_and(Insn::is_ldimm64);
    let poison = Insn {
        code: CLASS_JMP | 0x80,
        imm: POISON_IMM,
        ..Insn::default()
    };
    for k in [idx, idx + 1].into_iter().take(if ldimm64 { 2 } else { 1 }) {
        if let Some(i) = insns.get_mut(k) {
            *i = poison;
        }
    }
}

/// Abstract value of a register: a known constant or anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    Known(u64),
    Unknown,
}

type Regs = [Val; 11];

fn join(a: &Regs, b: &Regs) -> Regs {
    let mut out = *a;
    for (o, v) in out.iter_mut().zip(b) {
        if *o != *v {
            *o = Val::Unknown;
        }
    }
    out
}

pub(crate) fn alu(op: u8, a: u64, b: u64, is64: bool) -> Option<u64> {
    let (a, b) = if is64 {
        (a, b)
    } else {
        (a as u32 as u64, b as u32 as u64)
    };
    let bits = if is64 { 64 } else { 32 };
    let r = match op {
        0x00 => a.wrapping_add(b),
        0x10 => a.wrapping_sub(b),
        0x20 => a.wrapping_mul(b),
        0x30 => a.checked_div(b).unwrap_or(0),
        0x40 => a | b,
        0x50 => a & b,
        0x60 => a.checked_shl((b % bits) as u32)?,
        0x70 => a.checked_shr((b % bits) as u32)?,
        0x80 => a.wrapping_neg(),
        0x90 => a.checked_rem(b).unwrap_or(a),
        0xa0 => a ^ b,
        0xb0 => b,
        0xc0 if is64 => ((a as i64) >> (b % 64)) as u64,
        0xc0 => ((a as u32 as i32) >> (b % 32)) as u32 as u64,
        _ => return None,
    };
    Some(if is64 { r } else { r as u32 as u64 })
}

/// Some(taken) when the condition is decided by known operands.
pub(crate) fn cond(op: u8, a: u64, b: u64, is64: bool) -> Option<bool> {
    let (a, b) = if is64 {
        (a, b)
    } else {
        (a as u32 as u64, b as u32 as u64)
    };
    let (sa, sb) = if is64 {
        (a as i64, b as i64)
    } else {
        (a as u32 as i32 as i64, b as u32 as i32 as i64)
    };
    Some(match op {
        0x10 => a == b,
        0x20 => a > b,
        0x30 => a >= b,
        0x40 => a & b != 0,
        0x50 => a != b,
        0x60 => sa > sb,
        0x70 => sa >= sb,
        0xa0 => a < b,
        0xb0 => a <= b,
        0xc0 => sa < sb,
        0xd0 => sa <= sb,
        _ => return None,
    })
}

/// For each instruction index in `poisoned`, whether some path from the program's entry
/// reaches it (paths continue past other poisoned instructions). Calls to subprograms are treated as opaque (their effects on r0-r5 unknown).
pub(crate) fn poison_reachability(insns: &[Insn], poisoned: &[usize]) -> Vec<bool> {
    let n = insns.len();
    let mut state: Vec<Option<Regs>> = vec![None; n];
    let mut work = vec![0usize];
    if n > 0 {
        state[0] = Some([Val::Unknown; 11]);
    }
    let mut reached = vec![false; n];
    while let Some(pc) = work.pop() {
        let Some(mut regs) = state[pc] else { continue };
        reached[pc] = true;
        let i = insns[pc];
        let mut next: Vec<(usize, Regs)> = Vec::new();
        let src_val = |regs: &Regs| {
            if i.code & 0x08 == BPF_K {
                Val::Known(i.imm as i64 as u64)
            } else {
                regs.get(i.src as usize).copied().unwrap_or(Val::Unknown)
            }
        };
        let dst = i.dst as usize;
        match i.class() {
            // A reached poison stops the verifier, but each poisoned instruction is judged on
            // its own: carry on past it as past a call, so one unguarded read does not make
            // the ones after it look guarded.
            CLASS_ALU | CLASS_ALU64 if dst < 11 => {
                let is64 = i.class() == CLASS_ALU64;
                let op = i.code & 0xf0;
                let v = match (op, regs[dst], src_val(&regs)) {
                    (0xb0, _, Val::Known(b)) if i.off == 0 => {
                        Val::Known(if is64 { b } else { b as u32 as u64 })
                    }
                    (0x80, Val::Known(a), _) => {
                        alu(op, a, 0, is64).map_or(Val::Unknown, Val::Known)
                    }
                    (_, Val::Known(a), Val::Known(b)) if op != 0xd0 && i.off == 0 => {
                        alu(op, a, b, is64).map_or(Val::Unknown, Val::Known)
                    }
                    _ => Val::Unknown,
                };
                regs[dst] = v;
                next.push((pc + 1, regs));
            }
            CLASS_LD if i.is_ldimm64() => {
                if dst < 11 {
                    regs[dst] = match (i.src, insns.get(pc + 1)) {
                        (0, Some(hi)) => {
                            Val::Known(i.imm as u32 as u64 | (hi.imm as u32 as u64) << 32)
                        }
                        _ => Val::Unknown,
                    };
                }
                next.push((pc + 2, regs));
            }
            CLASS_LDX => {
                if dst < 11 {
                    regs[dst] = Val::Unknown;
                }
                next.push((pc + 1, regs));
            }
            CLASS_JMP | CLASS_JMP32 => {
                let op = i.code & 0xf0;
                let is64 = i.class() == CLASS_JMP;
                match op {
                    0x90 => {} // exit
                    0x80 => {
                        // call: helper, subprogram or kfunc clobber r0-r5
                        for r in regs.iter_mut().take(6) {
                            *r = Val::Unknown;
                        }
                        next.push((pc + 1, regs));
                    }
                    0x00 => {
                        let off = if is64 { i.off as i64 } else { i.imm as i64 };
                        next.push(((pc as i64 + 1 + off) as usize, regs));
                    }
                    _ => {
                        let target = (pc as i64 + 1 + i.off as i64) as usize;
                        let a = regs.get(dst).copied().unwrap_or(Val::Unknown);
                        let decided = match (a, src_val(&regs)) {
                            (Val::Known(a), Val::Known(b)) => cond(op, a, b, is64),
                            _ => None,
                        };
                        match decided {
                            Some(true) => next.push((target, regs)),
                            Some(false) => next.push((pc + 1, regs)),
                            None => {
                                next.push((target, regs));
                                next.push((pc + 1, regs));
                            }
                        }
                    }
                }
            }
            _ => {
                // ST/STX/atomics: atomics with BPF_FETCH may write a register
                if i.class() == CLASS_STX && i.code & 0xe0 == 0xc0 {
                    if let Some(r) = regs.get_mut(i.src as usize) {
                        *r = Val::Unknown;
                    }
                    regs[0] = Val::Unknown;
                }
                next.push((pc + 1, regs));
            }
        }
        for (t, r) in next {
            if t >= n {
                continue;
            }
            let merged = match &state[t] {
                None => r,
                Some(old) => join(old, &r),
            };
            if state[t] != Some(merged) {
                state[t] = Some(merged);
                work.push(t);
            }
        }
    }
    poisoned
        .iter()
        .map(|&p| reached.get(p).copied().unwrap_or(false))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mov(dst: u8, imm: i32) -> Insn {
        Insn {
            code: 0xb7,
            dst,
            imm,
            ..Default::default()
        }
    }
    fn jeq_imm(dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: 0x15,
            dst,
            off,
            imm,
            ..Default::default()
        }
    }
    fn exit() -> Insn {
        Insn {
            code: 0x95,
            ..Default::default()
        }
    }

    #[test]
    fn guard_on_constant_zero_makes_poison_dead() {
        // r1 = 0 (field_exists on a kernel without the field); if r1 == 0 goto +1; <poison>; exit
        let mut p = vec![mov(1, 0), jeq_imm(1, 0, 1), mov(2, 5), exit()];
        apply_poison(&mut p, 2);
        assert_eq!(poison_reachability(&p, &[2]), vec![false]);
        // The same with r1 = 1: the read is reached.
        p[0] = mov(1, 1);
        assert_eq!(poison_reachability(&p, &[2]), vec![true]);
    }

    #[test]
    fn each_poison_is_judged_on_its_own() {
        // <poison>; <poison>; exit: the second is reachable once the first is fixed.
        let mut p = vec![mov(1, 0), mov(2, 0), exit()];
        apply_poison(&mut p, 0);
        apply_poison(&mut p, 1);
        assert_eq!(poison_reachability(&p, &[0, 1]), vec![true, true]);
    }

    #[test]
    fn unknown_condition_reaches_both_sides() {
        // r1 = *(u32 *)(r6 + 0); if r1 == 0 goto +1; <poison>; exit
        let ldx = Insn {
            code: 0x61,
            dst: 1,
            src: 6,
            ..Default::default()
        };
        let mut p = vec![ldx, jeq_imm(1, 0, 1), mov(2, 5), exit()];
        apply_poison(&mut p, 2);
        assert_eq!(poison_reachability(&p, &[2]), vec![true]);
    }

    #[test]
    fn decode_both_orders() {
        let le = Insn::decode(&[0x61, 0x61, 0x20, 0, 0, 0, 0, 0], Endian::Little);
        assert_eq!((le.dst, le.src, le.off), (1, 6, 32));
        let be = Insn::decode(&[0x61, 0x16, 0, 0x20, 0, 0, 0, 0], Endian::Big);
        assert_eq!(be, le);
        assert_eq!(le.relo_value(None), Some(32));
    }
}
