//! The offline path: libbpf's own relocation calculator, with no kernel and no privilege.
//!
//! `bpf_core_calc_relo_insn` and `bpf_core_patch_insn` (relo_core.c) are global symbols of the
//! static libbpf that libbpf-sys vendors and links into coretool (libbpf marks them hidden, which
//! only keeps them out of a shared library's dynamic symbols). bpftool's `gen min_core_btf` calls
//! the first one the same way. What libbpf does around them in `bpf_object__relocate_core`
//! needs a loaded `bpf_object` and the `bpf()` syscall, so this module does that part itself:
//! it walks the `.BTF.ext` records in the same order, finds candidate types as
//! `bpf_core_find_cands`/`bpf_core_add_cands` do, keeps the same per-type candidate cache (which
//! libbpf prunes as relocations go), and stops at the first error as libbpf does. The lines it
//! adds to the log are libbpf's format strings, so the one log parser reads both paths.
//!
//! The C structs below mirror relo_core.h of libbpf v1.7; their layouts are asserted.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, CString};
use std::fmt::Write as _;
use std::path::Path;

use crate::btf::{essential_name, Kind};
use crate::btf_ext::CoreReloKind;
use crate::source::BtfSource;

use super::capture::Capture;
use super::Object;

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
#[derive(Debug, Clone, Copy)]
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

#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error("libbpf cannot parse {what} BTF: {cause}")]
    Btf { what: String, cause: std::io::Error },
}

/// A `struct btf` owned by libbpf, freed on drop.
struct LibbpfBtf(*mut libbpf_sys::btf);

impl LibbpfBtf {
    fn new(raw: &[u8], base: Option<&LibbpfBtf>, what: &str) -> Result<LibbpfBtf, OfflineError> {
        // SAFETY: libbpf copies `raw` (btf__new/btf__new_split take data + size and keep their
        // own copy); `base` outlives the split BTF because module BTFs are dropped before their
        // base (see `Kernel`'s field order).
        let p = unsafe {
            match base {
                None => libbpf_sys::btf__new(raw.as_ptr().cast(), raw.len() as u32),
                Some(b) => libbpf_sys::btf__new_split(raw.as_ptr().cast(), raw.len() as u32, b.0),
            }
        };
        // SAFETY: libbpf_get_error only inspects the pointer value.
        let err = unsafe { libbpf_sys::libbpf_get_error(p.cast()) };
        if p.is_null() || err != 0 {
            let errno = if err != 0 { -err as i32 } else { libc::EINVAL };
            return Err(OfflineError::Btf {
                what: what.to_owned(),
                cause: std::io::Error::from_raw_os_error(errno),
            });
        }
        Ok(LibbpfBtf(p))
    }
}

impl Drop for LibbpfBtf {
    fn drop(&mut self) {
        // SAFETY: self.0 came from btf__new and is freed once.
        unsafe { libbpf_sys::btf__free(self.0) }
    }
}

/// One BTF to search for candidates, as libbpf holds it.
struct CandBtf {
    name: String,
    lib: LibbpfBtf,
    start_id: u32,
}

/// A type's kind, read through libbpf's public API.
fn kind_of(btf: &LibbpfBtf, id: u32) -> Option<(Kind, u32)> {
    // SAFETY: btf.0 is a live libbpf BTF; btf__type_by_id returns NULL for a bad id and
    // otherwise a pointer to a type inside the BTF.
    unsafe {
        let t = libbpf_sys::btf__type_by_id(btf.0, id);
        if t.is_null() {
            return None;
        }
        Some((Kind::from_raw(((*t).info >> 24) & 0x1f)?, (*t).name_off))
    }
}

/// A string of `btf` (empty when absent), borrowing from it.
fn name_at(btf: &LibbpfBtf, off: u32) -> &[u8] {
    // SAFETY: btf__name_by_offset returns NULL or a NUL-terminated string owned by the BTF,
    // which lives as long as the borrow of `btf`.
    unsafe {
        let n = libbpf_sys::btf__name_by_offset(btf.0, off);
        if n.is_null() {
            b""
        } else {
            std::ffi::CStr::from_ptr(n).to_bytes()
        }
    }
}

/// `bpf_core_essential_name_len` on bytes (see `crate::btf::essential_name`).
fn essential(name: &[u8]) -> &[u8] {
    let s = std::str::from_utf8(name).unwrap_or("");
    if s.is_empty() {
        return name;
    }
    essential_name(s).as_bytes()
}

/// The target kernel's BTF: vmlinux, then (running kernel only) its modules' split BTF, which
/// libbpf searches only when vmlinux has no candidate. Modules come first so that they are
/// dropped before the base they point to.
struct Kernel {
    /// Loaded on first need, as libbpf's `load_module_btfs`; `None` for a `--btf` target.
    modules: Option<std::cell::OnceCell<Vec<CandBtf>>>,
    vmlinux: CandBtf,
}

impl Kernel {
    fn load(target: &BtfSource, with_modules: bool) -> Result<Kernel, OfflineError> {
        let vmlinux = LibbpfBtf::new(target.btf.raw_bytes(), None, "the target")?;
        Ok(Kernel {
            modules: with_modules.then(std::cell::OnceCell::new),
            vmlinux: CandBtf {
                name: "vmlinux".into(),
                lib: vmlinux,
                start_id: 1,
            },
        })
    }

    /// The running kernel's module BTFs, split on vmlinux (none for a `--btf` target).
    fn modules(&self) -> &[CandBtf] {
        let Some(cell) = &self.modules else {
            return &[];
        };
        cell.get_or_init(|| {
            // SAFETY: vmlinux.lib.0 is live.
            let start_id = unsafe { libbpf_sys::btf__type_cnt(self.vmlinux.lib.0) };
            sysfs_module_btfs()
                .into_iter()
                .filter_map(|(name, raw)| {
                    let lib = LibbpfBtf::new(&raw, Some(&self.vmlinux.lib), &name).ok()?;
                    Some(CandBtf {
                        name,
                        lib,
                        start_id,
                    })
                })
                .collect()
        })
    }
}

/// Module BTFs of the running kernel, by name. libbpf visits them in BTF object id order
/// (load order), which sysfs does not expose; name order is used, which only matters when two
/// modules both define a candidate.
fn sysfs_module_btfs() -> Vec<(String, Vec<u8>)> {
    let Ok(dir) = std::fs::read_dir("/sys/kernel/btf") else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "vmlinux" {
                return None;
            }
            Some((name, std::fs::read(e.path()).ok()?))
        })
        .collect();
    out.sort();
    out
}

/// libbpf's `errstr()` for the codes relocation returns.
fn errstr(err: c_int) -> String {
    let name = match -err {
        libc::EINVAL => "EINVAL",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ERANGE => "ERANGE",
        libc::ENOMEM => "ENOMEM",
        libc::ESRCH => "ESRCH",
        libc::E2BIG => "E2BIG",
        libc::ENOENT => "ENOENT",
        _ => return err.to_string(),
    };
    format!("-{name}")
}

fn kind_compat(a: Kind, b: Kind) -> bool {
    let any_enum = |k| matches!(k, Kind::Enum | Kind::Enum64);
    a == b || (any_enum(a) && any_enum(b))
}

/// `bpf_core_add_cands`: every type of `targ` from `start_id` whose kind is compatible and
/// whose essential name equals the local one, logged as libbpf logs it.
fn add_cands(
    local: &LibbpfBtf,
    local_id: u32,
    targ: &CandBtf,
    log: &mut String,
    out: &mut Vec<BpfCoreCand>,
) {
    let Some((local_kind, local_off)) = kind_of(local, local_id) else {
        return;
    };
    let local_name = String::from_utf8_lossy(name_at(local, local_off)).into_owned();
    let local_ess = essential(local_name.as_bytes());
    // SAFETY: targ.lib.0 is live.
    let end = unsafe { libbpf_sys::btf__type_cnt(targ.lib.0) };
    for id in targ.start_id..end {
        let Some((kind, name_off)) = kind_of(&targ.lib, id) else {
            continue;
        };
        if !kind_compat(kind, local_kind) {
            continue;
        }
        let name = name_at(&targ.lib, name_off);
        // Cheap reject before the flavour split: the essential name is a prefix.
        if name.is_empty() || !name.starts_with(local_ess) || essential(name) != local_ess {
            continue;
        }
        let name = String::from_utf8_lossy(name);
        let _ = writeln!(
            log,
            "libbpf: CO-RE relocating [{local_id}] {} {local_name}: found target candidate [{id}] {} {name} in [{}]",
            local_kind.lower_name(),
            kind.lower_name(),
            targ.name
        );
        out.push(BpfCoreCand {
            btf: targ.lib.0,
            id,
        });
    }
}

/// `bpf_core_find_cands`: vmlinux first; modules only when vmlinux has none.
fn find_cands(
    local: &LibbpfBtf,
    local_id: u32,
    kernel: &Kernel,
    log: &mut String,
) -> Vec<BpfCoreCand> {
    let mut out = Vec::new();
    add_cands(local, local_id, &kernel.vmlinux, log, &mut out);
    if out.is_empty() {
        for m in kernel.modules() {
            add_cands(local, local_id, m, log, &mut out);
        }
    }
    out
}

/// Where to relocate against: a `--btf` source (libbpf's `btf_custom_path`, no modules) or the
/// running kernel (vmlinux and module BTFs from sysfs).
pub struct OfflineTarget<'a> {
    pub btf: &'a BtfSource,
    pub running_kernel: bool,
}

/// Relocate `obj` against `target` as `bpf_object__relocate_core` would, returning the log
/// libbpf's calculator printed, plus the lines libbpf's loader prints around it.
pub fn relocate(obj: &Object, target: &OfflineTarget<'_>) -> Result<String, OfflineError> {
    let btf_bytes = &obj.btf_raw;
    let local = LibbpfBtf::new(btf_bytes, None, &format!("{}'s", obj.path.display()))?;
    let kernel = Kernel::load(target.btf, target.running_kernel)?;
    let capture = Capture::start();
    let mut log = String::new();
    // Candidate lists live as long as the run, keyed by local type id, pruned by libbpf.
    let mut cache: HashMap<u32, (Vec<BpfCoreCand>, BpfCoreCandList)> = HashMap::new();
    let mut programs: HashMap<&str, Vec<RawInsn>> = HashMap::new();
    let mut scratch = Box::new(
        [BpfCoreSpec {
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
        }; 3],
    );
    let ext = match &obj.parsed.ext {
        Some(ext) => ext,
        None => return Ok(String::new()),
    };
    'sections: for sec in &ext.core_relos {
        flush(&capture, &mut log);
        let _ = writeln!(
            log,
            "libbpf: sec '{}': found {} CO-RE relocations",
            sec.sec_name,
            sec.records.len()
        );
        for (i, rec) in sec.records.iter().enumerate() {
            let Some(relo) = obj
                .relocations()
                .find(|r| r.section == sec.sec_name && r.index == i)
            else {
                continue; // eliminated weak subprogram, or a program libbpf does not load
            };
            let prog = obj
                .program(&relo.program)
                .expect("relocations() has a program");
            let insns = programs.entry(prog.name.as_str()).or_insert_with(|| {
                prog.insns
                    .iter()
                    .map(|i| RawInsn {
                        code: i.code,
                        regs: host_regs(i.dst, i.src),
                        off: i.off,
                        imm: i.imm,
                    })
                    .collect()
            });
            let insn_idx = relo.insn - prog.first_insn;
            let c_name = CString::new(prog.name.as_str()).unwrap_or_default();
            let raw = BpfCoreRelo {
                insn_off: rec.insn_off,
                type_id: rec.type_id,
                access_str_off: rec.access_str_off,
                kind: rec.kind.raw(),
            };
            let local_type = obj.parsed.btf.type_by_id(rec.type_id);
            let list: *mut BpfCoreCandList = if rec.kind == CoreReloKind::TypeIdLocal {
                std::ptr::null_mut()
            } else {
                let local_name = local_type
                    .as_ref()
                    .map(|t| obj.parsed.btf.name_of(t))
                    .unwrap_or("");
                if local_name.is_empty() {
                    flush(&capture, &mut log);
                    let kind = local_type.map_or("unknown", |t| t.kind().lower_name());
                    let _ = writeln!(
                        log,
                        "libbpf: prog '{}': relo #{i}: target candidate search failed for [{}] {kind} {local_name}: -22",
                        prog.name, rec.type_id
                    );
                    fail(&mut log, &prog.name, i, -libc::EINVAL);
                    break 'sections;
                }
                let entry = cache.entry(rec.type_id).or_insert_with(|| {
                    flush(&capture, &mut log);
                    let mut v = find_cands(&local, rec.type_id, &kernel, &mut log);
                    let list = BpfCoreCandList {
                        cands: v.as_mut_ptr(),
                        len: v.len() as c_int,
                    };
                    (v, list)
                });
                &mut entry.1
            };
            let mut res = BpfCoreReloRes::default();
            flush(&capture, &mut log);
            // SAFETY: every pointer is valid for the call: the name is a NUL-terminated
            // CString, `raw` and `res` live on this stack frame, `local` and the candidate BTFs
            // are live libbpf objects, the candidate list points into a Vec that outlives the
            // call (libbpf only shrinks `len`), and scratch holds the 3 specs libbpf expects.
            // TYPE_ID_LOCAL never dereferences the list, as in bpf_core_resolve_relo.
            let err = unsafe {
                bpf_core_calc_relo_insn(
                    c_name.as_ptr(),
                    &raw,
                    i as c_int,
                    local.0,
                    list,
                    scratch.as_mut_ptr(),
                    &mut res,
                )
            };
            if err != 0 {
                flush(&capture, &mut log);
                fail(&mut log, &prog.name, i, err);
                break 'sections;
            }
            let Some(slot) = insns.get_mut(insn_idx as usize) else {
                fail(&mut log, &prog.name, i, -libc::EINVAL);
                break 'sections;
            };
            // An ld_imm64 is patched through its second half too.
            let need_two = slot.code == 0x18;
            if need_two && insn_idx as usize + 1 >= insns.len() {
                fail(&mut log, &prog.name, i, -libc::EINVAL);
                break 'sections;
            }
            // SAFETY: the pointer is to a live instruction with (for ld_imm64, checked above)
            // its successor in the same Vec; `raw` and `res` are valid.
            let err = unsafe {
                bpf_core_patch_insn(
                    c_name.as_ptr(),
                    insns.as_mut_ptr().add(insn_idx as usize),
                    insn_idx as c_int,
                    &raw,
                    i as c_int,
                    &res,
                )
            };
            flush(&capture, &mut log);
            if err != 0 {
                let _ = writeln!(
                    log,
                    "libbpf: prog '{}': relo #{i}: failed to patch insn #{insn_idx}: {}",
                    prog.name,
                    errstr(err)
                );
                let _ = writeln!(
                    log,
                    "libbpf: failed to perform CO-RE relocations: {}",
                    errstr(err)
                );
                break 'sections;
            }
        }
    }
    flush(&capture, &mut log);
    Ok(log)
}

fn fail(log: &mut String, prog: &str, idx: usize, err: c_int) {
    let _ = writeln!(
        log,
        "libbpf: prog '{prog}': relo #{idx}: failed to relocate: {}",
        errstr(err)
    );
    let _ = writeln!(
        log,
        "libbpf: failed to perform CO-RE relocations: {}",
        errstr(err)
    );
}

/// Move what libbpf printed so far into `log`, keeping order with coretool's own lines.
fn flush(capture: &Capture, log: &mut String) {
    log.push_str(&capture.take());
}

/// `dst_reg:4, src_reg:4` as the host C compiler lays out the bitfield.
fn host_regs(dst: u8, src: u8) -> u8 {
    if cfg!(target_endian = "little") {
        (dst & 0xf) | (src << 4)
    } else {
        (dst << 4) | (src & 0xf)
    }
}

/// Convenience for tests and the CLI: relocate against a BTF file offline.
pub fn relocate_file(obj: &Object, btf: &Path) -> anyhow::Result<String> {
    let src = crate::source::load(Some(btf), None)?;
    Ok(relocate(
        obj,
        &OfflineTarget {
            btf: &src,
            running_kernel: false,
        },
    )?)
}
