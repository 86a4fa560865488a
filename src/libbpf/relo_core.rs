//! libbpf's CO-RE relocation calculator, called without a kernel.
//!
//! `bpf_core_calc_relo_insn` and `bpf_core_patch_insn` (relo_core.c) are global symbols of the
//! static libbpf that libbpf-sys vendors and links into coretool (libbpf marks them hidden, which
//! only keeps them out of a shared library's dynamic symbols). bpftool's `gen min_core_btf` calls
//! the first one the same way. This module owns their C structs (mirroring relo_core.h of libbpf
//! v1.7, layouts asserted at compile time and, by a test, against the C header) and returns
//! what they compute as typed values: the result, and the local and matched target specs read
//! out of libbpf's scratch space.

use std::ffi::{c_char, c_int, CStr};
use std::marker::PhantomData;

use super::btf::LibbpfBtf;
use crate::btf::{essential_name, Kind};
use crate::reloc::insn::{CLASS_ALU, CLASS_ALU64, CLASS_LD, CLASS_LDX, CLASS_ST, CLASS_STX, LDDW};
use crate::reloc::{CoreReloKind, Patch, Spec, SpecDetail};

/// `struct bpf_core_relo` (uapi bpf.h).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct BpfCoreRelo {
    insn_off: u32,
    type_id: u32,
    access_str_off: u32,
    kind: u32,
}

/// `struct bpf_core_cand` (relo_core.h).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct BpfCoreCand {
    btf: *const libbpf_sys::btf,
    id: u32,
}

/// `struct bpf_core_cand_list` (relo_core.h).
#[repr(C)]
struct BpfCoreCandList {
    cands: *mut BpfCoreCand,
    len: c_int,
}

/// `BPF_CORE_SPEC_MAX_LEN`.
const SPEC_MAX_LEN: usize = 64;

/// `struct bpf_core_accessor` (relo_core.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct BpfCoreAccessor {
    type_id: u32,
    idx: u32,
    name: *const c_char,
}

/// `struct bpf_core_spec` (relo_core.h); scratch space only, never read here.
#[repr(C)]
#[derive(Clone, Copy)]
struct BpfCoreSpec {
    btf: *const libbpf_sys::btf,
    spec: [BpfCoreAccessor; SPEC_MAX_LEN],
    root_type_id: u32,
    relo_kind: u32,
    len: c_int,
    raw_spec: [c_int; SPEC_MAX_LEN],
    raw_len: c_int,
    bit_offset: u32,
}

/// `struct bpf_core_relo_res` (relo_core.h).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct BpfCoreReloRes {
    orig_val: u64,
    new_val: u64,
    poison: bool,
    validate: bool,
    fail_memsz_adjust: bool,
    orig_sz: u32,
    orig_type_id: u32,
    new_sz: u32,
    new_type_id: u32,
}

/// `struct bpf_insn` with its two 4-bit register fields in one byte (host bitfield order).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawInsn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

// Layouts of relo_core.h on LP64, checked at compile time: a mismatch would corrupt memory.
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<BpfCoreRelo>() == 16);
    assert!(size_of::<BpfCoreCand>() == 16 && offset_of!(BpfCoreCand, id) == 8);
    assert!(size_of::<BpfCoreCandList>() == 16 && offset_of!(BpfCoreCandList, len) == 8);
    assert!(size_of::<BpfCoreAccessor>() == 16);
    assert!(offset_of!(BpfCoreSpec, spec) == 8);
    assert!(offset_of!(BpfCoreSpec, root_type_id) == 1032);
    assert!(offset_of!(BpfCoreSpec, relo_kind) == 1036);
    assert!(offset_of!(BpfCoreSpec, len) == 1040);
    assert!(offset_of!(BpfCoreSpec, raw_spec) == 1044);
    assert!(offset_of!(BpfCoreSpec, raw_len) == 1300);
    assert!(offset_of!(BpfCoreSpec, bit_offset) == 1304);
    assert!(size_of::<BpfCoreSpec>() == 1312);
    assert!(offset_of!(BpfCoreReloRes, poison) == 16);
    assert!(offset_of!(BpfCoreReloRes, fail_memsz_adjust) == 18);
    assert!(offset_of!(BpfCoreReloRes, orig_sz) == 20);
    assert!(offset_of!(BpfCoreReloRes, new_type_id) == 32);
    assert!(size_of::<BpfCoreReloRes>() == 40);
    assert!(size_of::<RawInsn>() == size_of::<libbpf_sys::bpf_insn>());
};

/// The layout facts the asserts above rely on, as `(C expression, value in Rust)`, so a test
/// can compile the same expressions against libbpf's relo_core.h and compare.
pub fn struct_layout() -> Vec<(&'static str, usize)> {
    use std::mem::{offset_of, size_of};
    vec![
        ("sizeof(struct bpf_core_relo)", size_of::<BpfCoreRelo>()),
        ("sizeof(struct bpf_core_cand)", size_of::<BpfCoreCand>()),
        (
            "offsetof(struct bpf_core_cand, id)",
            offset_of!(BpfCoreCand, id),
        ),
        (
            "sizeof(struct bpf_core_cand_list)",
            size_of::<BpfCoreCandList>(),
        ),
        (
            "offsetof(struct bpf_core_cand_list, len)",
            offset_of!(BpfCoreCandList, len),
        ),
        (
            "sizeof(struct bpf_core_accessor)",
            size_of::<BpfCoreAccessor>(),
        ),
        (
            "offsetof(struct bpf_core_spec, spec)",
            offset_of!(BpfCoreSpec, spec),
        ),
        (
            "offsetof(struct bpf_core_spec, root_type_id)",
            offset_of!(BpfCoreSpec, root_type_id),
        ),
        (
            "offsetof(struct bpf_core_spec, relo_kind)",
            offset_of!(BpfCoreSpec, relo_kind),
        ),
        (
            "offsetof(struct bpf_core_spec, len)",
            offset_of!(BpfCoreSpec, len),
        ),
        (
            "offsetof(struct bpf_core_spec, raw_spec)",
            offset_of!(BpfCoreSpec, raw_spec),
        ),
        (
            "offsetof(struct bpf_core_spec, raw_len)",
            offset_of!(BpfCoreSpec, raw_len),
        ),
        (
            "offsetof(struct bpf_core_spec, bit_offset)",
            offset_of!(BpfCoreSpec, bit_offset),
        ),
        ("sizeof(struct bpf_core_spec)", size_of::<BpfCoreSpec>()),
        (
            "offsetof(struct bpf_core_relo_res, poison)",
            offset_of!(BpfCoreReloRes, poison),
        ),
        (
            "offsetof(struct bpf_core_relo_res, validate)",
            offset_of!(BpfCoreReloRes, validate),
        ),
        (
            "offsetof(struct bpf_core_relo_res, fail_memsz_adjust)",
            offset_of!(BpfCoreReloRes, fail_memsz_adjust),
        ),
        (
            "offsetof(struct bpf_core_relo_res, orig_sz)",
            offset_of!(BpfCoreReloRes, orig_sz),
        ),
        (
            "offsetof(struct bpf_core_relo_res, orig_type_id)",
            offset_of!(BpfCoreReloRes, orig_type_id),
        ),
        (
            "offsetof(struct bpf_core_relo_res, new_sz)",
            offset_of!(BpfCoreReloRes, new_sz),
        ),
        (
            "offsetof(struct bpf_core_relo_res, new_type_id)",
            offset_of!(BpfCoreReloRes, new_type_id),
        ),
        (
            "sizeof(struct bpf_core_relo_res)",
            size_of::<BpfCoreReloRes>(),
        ),
        ("sizeof(struct bpf_insn)", size_of::<RawInsn>()),
    ]
}

extern "C" {
    fn bpf_core_calc_relo_insn(
        prog_name: *const c_char,
        relo: *const BpfCoreRelo,
        relo_idx: c_int,
        local_btf: *const libbpf_sys::btf,
        cands: *mut BpfCoreCandList,
        specs_scratch: *mut BpfCoreSpec,
        targ_res: *mut BpfCoreReloRes,
    ) -> c_int;
    fn bpf_core_patch_insn(
        prog_name: *const c_char,
        insn: *mut RawInsn,
        insn_idx: c_int,
        relo: *const BpfCoreRelo,
        relo_idx: c_int,
        res: *const BpfCoreReloRes,
    ) -> c_int;
}

/// One CO-RE relocation record as libbpf takes it (`struct bpf_core_relo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloRecord {
    pub insn_off: u32,
    pub type_id: u32,
    pub access_str_off: u32,
    pub kind: CoreReloKind,
}

impl ReloRecord {
    fn raw(&self) -> BpfCoreRelo {
        BpfCoreRelo {
            insn_off: self.insn_off,
            type_id: self.type_id,
            access_str_off: self.access_str_off,
            kind: self.kind.raw(),
        }
    }
}

/// A program's instruction as libbpf's C code sees it (`struct bpf_insn`).
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instruction(RawInsn);

impl Instruction {
    pub fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        // `dst_reg:4, src_reg:4` as the host C compiler lays out the bitfield.
        let regs = if cfg!(target_endian = "little") {
            (dst & 0xf) | (src << 4)
        } else {
            (dst << 4) | (src & 0xf)
        };
        Instruction(RawInsn {
            code,
            regs,
            off,
            imm,
        })
    }
}

/// The candidate types of one local type, as libbpf keeps them across relocations: each
/// calculation prunes the list to the candidates that matched (`bpf_core_calc_relo_insn`).
pub(crate) struct Candidates<'b> {
    /// Owns the array `list` points into; never reallocated after construction.
    _cands: Vec<BpfCoreCand>,
    list: BpfCoreCandList,
    _btf: PhantomData<&'b LibbpfBtf>,
}

impl<'b> Candidates<'b> {
    /// `(BTF, type id)` pairs, in the order libbpf would find them.
    pub fn new(found: impl IntoIterator<Item = (&'b LibbpfBtf, u32)>) -> Self {
        let mut cands: Vec<BpfCoreCand> = found
            .into_iter()
            .map(|(btf, id)| BpfCoreCand {
                btf: btf.as_ptr(),
                id,
            })
            .collect();
        let list = BpfCoreCandList {
            cands: cands.as_mut_ptr(),
            len: cands.len() as c_int,
        };
        Candidates {
            _cands: cands,
            list,
            _btf: PhantomData,
        }
    }
}

/// A target spec that matched, and which candidate BTF it is in.
#[derive(Debug, Clone)]
pub struct Matched {
    pub spec: Spec,
    btf: *const libbpf_sys::btf,
}

impl Matched {
    /// Whether the matched type is in `btf`.
    pub(crate) fn is_in(&self, btf: &LibbpfBtf) -> bool {
        std::ptr::eq(self.btf, btf.as_ptr())
    }
}

/// What `bpf_core_calc_relo_insn` computed for one relocation.
#[derive(Debug, Clone)]
pub struct Calculation {
    res: BpfCoreReloRes,
    /// The local spec (`specs_scratch[0]`), `None` if libbpf could not format it.
    pub local_spec: Option<Spec>,
    /// The first matching candidate's spec (`specs_scratch[2]`), when one matched.
    pub matched: Option<Matched>,
}

impl Calculation {
    pub fn poison(&self) -> bool {
        self.res.poison
    }
}

/// What `bpf_core_patch_insn` did to the instruction, as its debug log states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patched {
    /// The value patches applied, in libbpf's order.
    Patches(Vec<Patch>),
    /// The instruction (and, for an `ld_imm64`, its second half, listed first) was replaced
    /// with libbpf's poison call.
    Poisoned(Vec<u32>),
}

/// Runs libbpf's calculator; holds its scratch space (three `struct bpf_core_spec`).
pub(crate) struct Calculator {
    scratch: Box<[BpfCoreSpec; 3]>,
}

impl Default for Calculator {
    fn default() -> Self {
        Self::new()
    }
}

const EMPTY_SPEC: BpfCoreSpec = BpfCoreSpec {
    btf: std::ptr::null(),
    spec: [BpfCoreAccessor {
        type_id: 0,
        idx: 0,
        name: std::ptr::null(),
    }; SPEC_MAX_LEN],
    root_type_id: 0,
    relo_kind: 0,
    len: 0,
    raw_spec: [0; SPEC_MAX_LEN],
    raw_len: 0,
    bit_offset: 0,
};

impl Calculator {
    pub fn new() -> Self {
        Calculator {
            scratch: Box::new([EMPTY_SPEC; 3]),
        }
    }

    /// `bpf_core_calc_relo_insn` for relocation `relo_idx` of program `prog`; `cands` is `None`
    /// only for `type_id_local`, which needs no candidates. Returns libbpf's `-errno` on
    /// failure (its reason is in libbpf's log).
    pub(crate) fn calc(
        &mut self,
        prog: &CStr,
        relo: &ReloRecord,
        relo_idx: u32,
        local: &LibbpfBtf,
        cands: Option<&mut Candidates<'_>>,
    ) -> Result<Calculation, i32> {
        *self.scratch = [EMPTY_SPEC; 3];
        let raw = relo.raw();
        let mut res = BpfCoreReloRes::default();
        let list = cands.map_or(std::ptr::null_mut(), |c| &mut c.list as *mut _);
        // SAFETY: every pointer is valid for the call: `prog` is NUL-terminated, `raw` and
        // `res` live on this stack frame, `local` and the candidates' BTFs are live libbpf
        // objects (the candidates borrow them for 'b), the candidate list points into a Vec
        // that outlives the call (libbpf only shrinks `len` and reorders within it), and
        // scratch holds the three specs libbpf expects. TYPE_ID_LOCAL never dereferences the
        // list, as in bpf_core_resolve_relo.
        let err = unsafe {
            bpf_core_calc_relo_insn(
                prog.as_ptr(),
                &raw,
                relo_idx as c_int,
                local.as_ptr(),
                list,
                self.scratch.as_mut_ptr(),
                &mut res,
            )
        };
        if err != 0 {
            return Err(err);
        }
        // SAFETY: after a successful call scratch[0] holds the parsed local spec and, when a
        // candidate matched, scratch[2] a copy of its spec (libbpf sets `btf` first when it
        // fills a spec; we zeroed it before the call), both pointing into live BTFs.
        let (local_spec, matched) = unsafe {
            let local_spec = spec_of(&self.scratch[0]);
            let t = &self.scratch[2];
            let matched = if t.btf.is_null() {
                None
            } else {
                spec_of(t).map(|spec| Matched { spec, btf: t.btf })
            };
            (local_spec, matched)
        };
        Ok(Calculation {
            res,
            local_spec,
            matched,
        })
    }
}

/// `bpf_core_patch_insn` on `insns[idx]` (and `insns[idx + 1]` for an `ld_imm64`). Returns
/// what it did, in the terms of libbpf's debug log, or libbpf's `-errno` (its reason is in
/// libbpf's log).
pub fn patch(
    prog: &CStr,
    insns: &mut [Instruction],
    idx: usize,
    relo: &ReloRecord,
    relo_idx: u32,
    calc: &Calculation,
) -> Result<Patched, i32> {
    let Some(before) = insns.get(idx).map(|i| i.0) else {
        return Err(-libc::EINVAL);
    };
    let ldimm64 = before.code == LDDW;
    if ldimm64 && idx + 1 >= insns.len() {
        return Err(-libc::EINVAL);
    }
    let before_hi = if ldimm64 { insns[idx + 1].0.imm } else { 0 };
    let raw = relo.raw();
    // SAFETY: `insns[idx]` (and, for an ld_imm64, checked above, `insns[idx + 1]`) are live
    // instructions laid out as `struct bpf_insn` (`Instruction` is a transparent RawInsn, whose
    // layout is asserted); `raw` and the result are valid for the call.
    let err = unsafe {
        bpf_core_patch_insn(
            prog.as_ptr(),
            insns.as_mut_ptr().add(idx).cast::<RawInsn>(),
            idx as c_int,
            &raw,
            relo_idx as c_int,
            &calc.res,
        )
    };
    if err != 0 {
        return Err(err);
    }
    // What bpf_core_patch_insn did, from the values it used (relo_core.c: the original value
    // is the instruction's own, sign-extended as C converts it; the new one is res.new_val).
    let res = &calc.res;
    let poisoned = || {
        let mut at = Vec::new();
        if ldimm64 {
            at.push(idx as u32 + 1);
        }
        at.push(idx as u32);
        Patched::Poisoned(at)
    };
    if res.poison {
        return Ok(poisoned());
    }
    let new = res.new_val;
    Ok(match before.code & 7 {
        CLASS_ALU | CLASS_ALU64 => Patched::Patches(vec![Patch::Imm {
            old: before.imm as i64 as u64,
            new,
        }]),
        CLASS_LDX | CLASS_ST | CLASS_STX if res.fail_memsz_adjust => poisoned(),
        CLASS_LDX | CLASS_ST | CLASS_STX => {
            let mut p = vec![Patch::Off {
                old: before.off as i64 as u64,
                new,
            }];
            if res.new_sz != res.orig_sz {
                p.push(Patch::MemSz {
                    old: res.orig_sz as u64,
                    new: res.new_sz as u64,
                });
            }
            Patched::Patches(p)
        }
        CLASS_LD => Patched::Patches(vec![Patch::Imm64 {
            old: before.imm as u32 as u64 | (before_hi as u32 as u64) << 32,
            new,
        }]),
        // libbpf refuses every other class with -EINVAL, handled above.
        _ => Patched::Patches(Vec::new()),
    })
}

/// `struct btf_type`'s first words, as every kind starts.
fn type_at<'b>(btf: *const libbpf_sys::btf, id: u32) -> Option<&'b libbpf_sys::btf_type> {
    // SAFETY: `btf` is a live BTF (callers hold it for the whole spec conversion, the only
    // use of the reference); btf__type_by_id returns NULL for a bad id or a pointer into the
    // BTF's type data.
    unsafe { libbpf_sys::btf__type_by_id(btf, id).as_ref() }
}

fn name_bytes<'b>(btf: *const libbpf_sys::btf, off: u32) -> &'b [u8] {
    // SAFETY: as above; btf__name_by_offset returns NULL or a NUL-terminated string in the
    // BTF's string section, which lives as long as the BTF.
    unsafe {
        let p = libbpf_sys::btf__name_by_offset(btf, off);
        if p.is_null() {
            b""
        } else {
            CStr::from_ptr(p).to_bytes()
        }
    }
}

fn name_at(btf: *const libbpf_sys::btf, off: u32) -> String {
    String::from_utf8_lossy(name_bytes(btf, off)).into_owned()
}

fn kind_of(t: &libbpf_sys::btf_type) -> Option<Kind> {
    Kind::from_raw((t.info >> 24) & 0x1f)
}

/// The type behind const/volatile/restrict/typedef/type_tag (`skip_mods_and_typedefs`).
fn skip_mods_and_typedefs<'b>(
    btf: *const libbpf_sys::btf,
    mut id: u32,
) -> Option<&'b libbpf_sys::btf_type> {
    for _ in 0..64 {
        let t = type_at(btf, id)?;
        match kind_of(t)? {
            Kind::Const | Kind::Volatile | Kind::Restrict | Kind::Typedef | Kind::TypeTag => {
                // SAFETY: these kinds keep their referenced type id in the `type` union arm.
                id = unsafe { t.__bindgen_anon_1.type_ };
            }
            _ => return Some(t),
        }
    }
    None
}

/// Enumerator `idx` of the enum or enum64 `t`: its name and value as libbpf prints it
/// (signed when the kind flag says so).
fn enumerator(
    btf: *const libbpf_sys::btf,
    t: &libbpf_sys::btf_type,
    idx: u32,
) -> Option<(String, i128)> {
    let vlen = t.info & 0xffff;
    if idx >= vlen {
        return None;
    }
    let signed = t.info >> 31 == 1;
    let members = (t as *const libbpf_sys::btf_type).wrapping_add(1);
    match kind_of(t)? {
        Kind::Enum => {
            // SAFETY: an ENUM is followed by `vlen` `struct btf_enum` (libbpf validated the
            // BTF when it parsed it); idx < vlen.
            let e = unsafe { &*members.cast::<libbpf_sys::btf_enum>().add(idx as usize) };
            let v = if signed {
                e.val as i128
            } else {
                e.val as u32 as i128
            };
            Some((name_at(btf, e.name_off), v))
        }
        Kind::Enum64 => {
            // SAFETY: as above, with `struct btf_enum64`.
            let e = unsafe { &*members.cast::<libbpf_sys::btf_enum64>().add(idx as usize) };
            let v = (e.val_hi32 as u64) << 32 | e.val_lo32 as u64;
            let v = if signed { v as i64 as i128 } else { v as i128 };
            Some((name_at(btf, e.name_off), v))
        }
        _ => None,
    }
}

/// A libbpf spec as a [`Spec`], resolving names as `bpf_core_format_spec` prints them.
///
/// # Safety
/// `c.btf` must be a live BTF and `c` a spec libbpf filled in.
unsafe fn spec_of(c: &BpfCoreSpec) -> Option<Spec> {
    let kind = CoreReloKind::from_raw(c.relo_kind);
    let t = type_at(c.btf, c.root_type_id)?;
    let name = name_at(c.btf, t.name_off);
    let type_name = if name.is_empty() {
        "<anon>".to_owned()
    } else {
        name
    };
    let type_kind = kind_of(t).map_or("unknown", Kind::lower_name).to_owned();
    let raw_len = (c.raw_len.max(0) as usize).min(SPEC_MAX_LEN);
    let raw: Vec<u32> = c.raw_spec[..raw_len].iter().map(|&v| v as u32).collect();
    let detail = if kind.is_type_based() {
        SpecDetail::Type
    } else if kind.is_enumval_based() {
        let e = skip_mods_and_typedefs(c.btf, c.root_type_id)?;
        let (name, value) = enumerator(c.btf, e, *raw.first()?)?;
        SpecDetail::Enumval { name, value }
    } else {
        let len = (c.len.max(0) as usize).min(SPEC_MAX_LEN);
        let mut access = String::new();
        for (i, a) in c.spec[..len].iter().enumerate() {
            if !a.name.is_null() {
                // SAFETY: accessor names point into the live BTF's string section.
                let n = unsafe { CStr::from_ptr(a.name) }.to_string_lossy();
                access.push('.');
                access.push_str(&n);
            } else if i > 0 || a.idx > 0 {
                access.push_str(&format!("[{}]", a.idx));
            }
        }
        SpecDetail::Field {
            access,
            raw,
            bit_offset: c.bit_offset,
        }
    };
    Some(Spec {
        kind,
        type_id: c.root_type_id,
        type_kind,
        type_name,
        detail,
    })
}

/// A type's kind and name, read through libbpf.
fn kind_and_name(btf: *const libbpf_sys::btf, id: u32) -> Option<(Kind, String)> {
    let t = type_at(btf, id)?;
    Some((kind_of(t)?, name_at(btf, t.name_off)))
}

/// `bpf_core_add_cands`: the ids of every type of `targ` from `start_id` on whose kind is
/// compatible with local type `local_id`'s (enum and enum64 match each other) and whose
/// essential name (`task_struct___old` -> `task_struct`) equals its.
pub(crate) fn add_candidates(
    local: &LibbpfBtf,
    local_id: u32,
    targ: &LibbpfBtf,
    start_id: u32,
) -> Vec<u32> {
    let Some((local_kind, local_name)) = kind_and_name(local.as_ptr(), local_id) else {
        return Vec::new();
    };
    let local_ess = essential_name(&local_name).as_bytes();
    let essential = |name: &[u8]| -> bool {
        std::str::from_utf8(name).is_ok_and(|n| essential_name(n).as_bytes() == local_ess)
    };
    let compatible = |k: Kind| {
        let any_enum = |k| matches!(k, Kind::Enum | Kind::Enum64);
        k == local_kind || (any_enum(k) && any_enum(local_kind))
    };
    (start_id..targ.type_count())
        .filter(|&id| {
            let Some(t) = type_at(targ.as_ptr(), id) else {
                return false;
            };
            if !kind_of(t).is_some_and(compatible) {
                return false;
            }
            let name = name_bytes(targ.as_ptr(), t.name_off);
            // Cheap reject before the flavour split: the essential name is a prefix.
            !name.is_empty() && name.starts_with(local_ess) && essential(name)
        })
        .collect()
}
