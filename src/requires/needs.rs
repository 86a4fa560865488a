//! What an object needs from a kernel, read from the ELF alone: per program the `SEC()`
//! definition (program and attach type, attach target), the helpers it calls, the kfuncs,
//! `__ksym` and `__kconfig` externs it uses, the maps and global data sections it references,
//! and how far into its context it reads; per object its license, maps and the BTF kinds its
//! own BTF carries.
//!
//! A program is its function and every subprogram it calls (directly or as a callback), as
//! libbpf appends them when it loads the program (`bpf_object__reloc_code`): a helper called
//! only from a subprogram is still that program's need. Calls and references are found the
//! way libbpf finds them (`bpf_program__record_reloc`): by the ELF relocation on the
//! instruction and the symbol it names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use object::{Object as _, ObjectSection, ObjectSymbol, RelocationTarget, SectionKind};

use super::flow::{Code, Func, Target};
use super::sections::{self, SecDef};
use crate::btf::{Btf, Kind};
use crate::reloc::insn::Insn;
use crate::reloc::Object;

/// `BPF_JMP | BPF_CALL`.
const CALL: u8 = 0x85;
/// `BPF_LD | BPF_IMM | BPF_DW`.
const LDDW: u8 = 0x18;
/// `BPF_PSEUDO_CALL`: a call to a BPF function, not a helper.
const PSEUDO_CALL: u8 = 1;
/// `BPF_PSEUDO_KFUNC_CALL`.
const PSEUDO_KFUNC_CALL: u8 = 2;

/// An extern the object leaves to libbpf to resolve against the kernel.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExternKind {
    /// A kernel function called from BPF (`extern ... __ksym` FUNC in `.ksyms`).
    Kfunc,
    /// A kernel variable (`extern ... __ksym` VAR in `.ksyms`); `typed` when its BTF type is
    /// not `void` (libbpf then needs it in the kernel's BTF, otherwise in kallsyms).
    Ksym { typed: bool },
    /// A Kconfig value (`extern ... __kconfig`).
    Kconfig,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Extern {
    pub kind: ExternKind,
    pub name: String,
    /// `__weak`: libbpf resolves it to 0 when the kernel lacks it.
    pub weak: bool,
}

/// A map the object defines in `.maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapNeed {
    /// The map's name (`events`; an inner map of `outer` is `outer.inner`).
    pub name: String,
    /// `enum bpf_map_type` value.
    pub map_type: u32,
    pub flags: u32,
}

/// What one program needs.
#[derive(Debug, Clone)]
pub struct ProgramNeeds {
    pub name: String,
    pub section: String,
    /// libbpf loads it by default (its section does not start with `?`).
    pub autoload: bool,
    /// The `SEC()` definition libbpf picks; `None` when libbpf knows no such section.
    pub def: Option<&'static SecDef>,
    /// The attach target named by the section (`do_unlinkat`, `sched/sched_switch`).
    pub target: Option<String>,
    /// Helper ids (`call` with `src_reg` 0).
    pub helpers: BTreeSet<u32>,
    /// The kfuncs, ksyms and Kconfig values it uses.
    pub externs: BTreeSet<Extern>,
    /// Names of the `.maps` maps it references.
    pub maps: BTreeSet<String>,
    /// Global data sections it references (`.rodata`, `.bss`, `.data.x`).
    pub global_data: BTreeSet<String>,
    /// The program's own function, where the verifier starts (see [`super::flow`]).
    pub(crate) entry: Func,
    /// The functions it is made of: its own and every subprogram it reaches.
    pub functions: BTreeSet<String>,
}

/// What the object needs.
#[derive(Debug, Clone)]
pub struct ObjectNeeds {
    pub license: Option<String>,
    /// Every BTF kind the object's own BTF carries, in kind order.
    pub btf_kinds: Vec<Kind>,
    pub maps: Vec<MapNeed>,
    /// Every extern of the object: libbpf resolves them all before it loads any program
    /// (`bpf_object__resolve_externs`), so one it cannot find fails every program.
    pub externs: Vec<Extern>,
    pub programs: Vec<ProgramNeeds>,
    /// Helper names from the object's own `enum bpf_func_id`, when it carries one.
    pub helper_names: BTreeMap<u32, String>,
    /// The object's code, for walking a program the way the verifier will on a kernel.
    pub(crate) code: Arc<Code>,
}

#[derive(Debug, thiserror::Error)]
pub enum NeedsError {
    #[error("malformed ELF: {0}")]
    Elf(String),
}

struct Sym {
    name: String,
    section: Option<String>,
    undefined: bool,
    weak: bool,
    is_section: bool,
    value: u64,
}

/// Read what `obj` needs.
pub fn needs(obj: &Object) -> Result<ObjectNeeds, NeedsError> {
    let file = object::File::parse(&*obj.data).map_err(|e| NeedsError::Elf(e.to_string()))?;
    let sec_name = |idx| {
        file.section_by_index(idx)
            .ok()
            .and_then(|s| s.name().ok().map(str::to_owned))
    };
    let mut syms: HashMap<usize, Sym> = HashMap::new();
    let mut funcs: Vec<Func> = Vec::new();
    let mut code: HashMap<String, Vec<Insn>> = HashMap::new();
    for s in file.sections() {
        if s.kind() == SectionKind::Text {
            if let (Ok(name), Ok(data)) = (s.name(), s.data()) {
                code.insert(
                    name.to_owned(),
                    crate::reloc::insn::decode_all(data, obj.endian),
                );
            }
        }
    }
    for sym in file.symbols() {
        let section = sym.section_index().and_then(sec_name);
        syms.insert(
            sym.index().0,
            Sym {
                name: sym.name().unwrap_or("").to_owned(),
                section: section.clone(),
                undefined: sym.is_undefined(),
                weak: sym.is_weak(),
                is_section: sym.kind() == object::SymbolKind::Section,
                value: sym.address(),
            },
        );
        if sym.kind() == object::SymbolKind::Text {
            if let Some(sec) = section.filter(|s| code.contains_key(s)) {
                let start = sym.address();
                let len = code.get(&sec).map_or(0, |c| c.len() as u64 * 8);
                let end = match sym.size() {
                    0 => len,
                    n => start.saturating_add(n).min(len),
                };
                funcs.push(Func {
                    name: sym.name().unwrap_or("").to_owned(),
                    section: sec,
                    start,
                    end,
                });
            }
        }
    }
    funcs.sort_by(|a, b| (&a.section, a.start).cmp(&(&b.section, b.start)));
    // Relocations of the code sections: (section, byte offset) → symbol index.
    let mut relocs: HashMap<(String, u64), usize> = HashMap::new();
    for s in file.sections() {
        let Ok(name) = s.name() else { continue };
        if !code.contains_key(name) {
            continue;
        }
        for (off, r) in s.relocations() {
            if let RelocationTarget::Symbol(i) = r.target() {
                relocs.insert((name.to_owned(), off), i.0);
            }
        }
    }
    let ext = externs_in_btf(&obj.btf);
    let maps = maps_in_btf(&obj.btf);
    let programs: Vec<ProgramNeeds> = funcs
        .iter()
        .filter(|f| f.section != ".text")
        .map(|f| program_needs(f, &funcs, &code, &relocs, &syms, &ext))
        .collect();
    // libbpf resolves every extern of the object before loading any program
    // (`bpf_object__resolve_externs`): one it cannot find fails them all, whichever uses it.
    let undefined: HashMap<&str, bool> = syms
        .values()
        .filter(|s| s.undefined && !s.name.is_empty())
        .map(|s| (s.name.as_str(), s.weak))
        .collect();
    let mut all: Vec<Extern> = ext
        .iter()
        .filter_map(|(name, kind)| {
            undefined.get(name.as_str()).map(|&weak| Extern {
                kind: kind.clone(),
                name: name.clone(),
                weak,
            })
        })
        .collect();
    all.sort();
    let license = file
        .section_by_name("license")
        .and_then(|s| s.data().ok())
        .map(|d| {
            let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
            String::from_utf8_lossy(&d[..end]).into_owned()
        });
    let kinds: BTreeSet<Kind> = obj.btf.types().map(|t| t.kind()).collect();
    let code = walk_code(&file, obj, &funcs, code, &relocs, &syms, &ext);
    Ok(ObjectNeeds {
        license,
        btf_kinds: kinds.into_iter().collect(),
        maps,
        externs: all,
        programs,
        helper_names: helper_names(&obj.btf),
        code: Arc::new(code),
    })
}

/// The object's code as [`super::flow`] walks it: what each relocated instruction names, and
/// the `.rodata` sections' contents.
/// The byte offset in its section of the BPF function a relocated `call` or `ld_imm64` names,
/// as libbpf computes it: `sub_insn = sym.st_value / 8 + insn.imm + 1` for a call (or a
/// section symbol); a function's address (`ld_imm64` of a callback) is the symbol itself.
fn code_target(s: &Sym, insn: &Insn) -> u64 {
    let target = match insn.code == CALL || s.is_section {
        true => s.value as i64 + (insn.imm as i64 + 1) * 8,
        false => s.value as i64,
    };
    target.max(0) as u64
}

fn walk_code(
    file: &object::File<'_>,
    obj: &Object,
    funcs: &[Func],
    insns: HashMap<String, Vec<Insn>>,
    relocs: &HashMap<(String, u64), usize>,
    syms: &HashMap<usize, Sym>,
    ext: &HashMap<String, ExternKind>,
) -> Code {
    let mut rodata: HashMap<String, super::flow::Rodata> = HashMap::new();
    for s in file.sections() {
        let Ok(name) = s.name() else { continue };
        if name == ".rodata" || name.starts_with(".rodata.") {
            if let Ok(data) = s.data() {
                rodata.insert(name.to_owned(), (data.to_vec(), Vec::new()));
            }
        }
    }
    for sym in file.symbols() {
        if sym.kind() != object::SymbolKind::Data {
            continue;
        }
        let sec = sym
            .section_index()
            .and_then(|i| file.section_by_index(i).ok())
            .and_then(|s| s.name().ok().map(str::to_owned));
        if let Some(e) = sec.and_then(|n| rodata.get_mut(&n)) {
            e.1.push((
                sym.address(),
                sym.size(),
                sym.name().unwrap_or("").to_owned(),
            ));
        }
    }
    let mut targets = HashMap::new();
    for ((section, off), idx) in relocs {
        let Some(s) = syms.get(idx) else { continue };
        let Some(insn) = insns.get(section).and_then(|c| c.get((*off / 8) as usize)) else {
            continue;
        };
        let t = if s.undefined {
            match ext.get(&s.name) {
                Some(ExternKind::Kconfig) => Target::Kconfig(s.name.clone()),
                _ => Target::Other,
            }
        } else {
            match s.section.as_deref() {
                Some(sec) if insns.contains_key(sec) => Target::Code {
                    section: sec.to_owned(),
                    off: code_target(s, insn),
                },
                Some(sec) if rodata.contains_key(sec) => Target::Rodata {
                    section: sec.to_owned(),
                    off: s.value,
                },
                Some(".kconfig") => Target::Kconfig(s.name.clone()),
                _ => Target::Other,
            }
        };
        targets.insert((section.clone(), (*off / 8) as u32), t);
    }
    Code {
        funcs: funcs.to_vec(),
        insns,
        relocs: targets,
        rodata,
        big_endian: matches!(obj.endian, crate::btf::Endian::Big),
        memo: Default::default(),
    }
}

impl ObjectNeeds {
    /// Whether the object has kfunc externs.
    pub fn uses_kfuncs(&self) -> bool {
        self.externs.iter().any(|e| e.kind == ExternKind::Kfunc)
    }
}

/// `enum bpf_func_id`'s enumerators, value → `bpf_xxx` (the helper's C name).
pub(crate) fn helper_names(btf: &Btf) -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    for &id in btf.ids_by_name("bpf_func_id") {
        let Some(t) = btf.type_by_id(id) else {
            continue;
        };
        for v in t.enum_values() {
            if let Some(n) = btf.str_at(v.name_off) {
                if let Some(h) = n.strip_prefix("BPF_FUNC_") {
                    if h != "unspec" && !n.starts_with("__") {
                        out.insert(v.raw as u32, format!("bpf_{h}"));
                    }
                }
            }
        }
    }
    out
}

/// Name → extern kind, from the object's `.ksyms` and `.kconfig` DATASECs.
fn externs_in_btf(btf: &Btf) -> HashMap<String, ExternKind> {
    let mut out = HashMap::new();
    for t in btf.types() {
        if t.kind() != Kind::Datasec {
            continue;
        }
        let sec = btf.name_of(&t);
        if sec != ".ksyms" && sec != ".kconfig" {
            continue;
        }
        for si in t.secinfos() {
            let Some(v) = btf.type_by_id(si.type_id) else {
                continue;
            };
            let name = btf.name_of(&v).to_owned();
            let kind = match (sec, v.kind()) {
                (".kconfig", _) => ExternKind::Kconfig,
                (_, Kind::Func) => ExternKind::Kfunc,
                _ => ExternKind::Ksym {
                    typed: btf
                        .skip_mods_and_typedefs(v.type_id())
                        .is_some_and(|t| t.id != 0),
                },
            };
            out.insert(name, kind);
        }
    }
    out
}

/// `__uint(NAME, N)` in a `.maps` definition: `int (*NAME)[N]`.
fn uint_member(btf: &Btf, def: &crate::btf::Type<'_>, name: &str) -> Option<u32> {
    let m = def
        .members()
        .find(|m| btf.str_at(m.name_off) == Some(name))?;
    let p = btf.skip_mods_and_typedefs(m.type_id)?;
    if p.kind() != Kind::Ptr {
        return None;
    }
    btf.skip_mods_and_typedefs(p.type_id())?
        .array()
        .map(|a| a.nelems)
}

fn map_need(btf: &Btf, name: String, def: &crate::btf::Type<'_>, out: &mut Vec<MapNeed>) {
    let map_type = uint_member(btf, def, "type").unwrap_or(0);
    let flags = uint_member(btf, def, "map_flags").unwrap_or(0);
    out.push(MapNeed {
        name: name.clone(),
        map_type,
        flags,
    });
    // Map-in-map: `__array(values, struct inner_def)` is `struct inner_def *values[]`.
    let inner = def
        .members()
        .find(|m| btf.str_at(m.name_off) == Some("values"))
        .and_then(|m| btf.skip_mods_and_typedefs(m.type_id))
        .and_then(|a| a.array())
        .and_then(|a| btf.skip_mods_and_typedefs(a.elem_type))
        .filter(|p| p.kind() == Kind::Ptr)
        .and_then(|p| btf.skip_mods_and_typedefs(p.type_id()))
        .filter(|s| s.kind() == Kind::Struct);
    if let Some(inner) = inner {
        if inner
            .members()
            .any(|m| btf.str_at(m.name_off) == Some("type"))
        {
            map_need(btf, format!("{name}.inner"), &inner, out);
        }
    }
}

fn maps_in_btf(btf: &Btf) -> Vec<MapNeed> {
    let mut out = Vec::new();
    for t in btf.types() {
        if t.kind() != Kind::Datasec || btf.name_of(&t) != ".maps" {
            continue;
        }
        for si in t.secinfos() {
            let Some(v) = btf.type_by_id(si.type_id) else {
                continue;
            };
            let Some(def) = btf.skip_mods_and_typedefs(v.type_id()) else {
                continue;
            };
            if def.kind() == Kind::Struct {
                map_need(btf, btf.name_of(&v).to_owned(), &def, &mut out);
            }
        }
    }
    out
}

fn func_at<'f>(funcs: &'f [Func], section: &str, off: u64) -> Option<&'f Func> {
    funcs
        .iter()
        .rfind(|f| f.section == section && f.start <= off && off < f.end.max(f.start + 8))
}

fn is_data_section(name: &str) -> bool {
    [".rodata", ".data", ".bss"]
        .iter()
        .any(|p| name == *p || name.starts_with(&format!("{p}.")))
}

fn program_needs(
    main: &Func,
    funcs: &[Func],
    code: &HashMap<String, Vec<Insn>>,
    relocs: &HashMap<(String, u64), usize>,
    syms: &HashMap<usize, Sym>,
    ext: &HashMap<String, ExternKind>,
) -> ProgramNeeds {
    let def = sections::lookup(&main.section);
    let sec = main.section.strip_prefix('?').unwrap_or(&main.section);
    let mut p = ProgramNeeds {
        name: main.name.clone(),
        section: main.section.clone(),
        autoload: !main.section.starts_with('?'),
        def,
        target: def.and_then(|d| d.target_of(sec)).map(str::to_owned),
        helpers: BTreeSet::new(),
        externs: BTreeSet::new(),
        maps: BTreeSet::new(),
        global_data: BTreeSet::new(),
        entry: main.clone(),
        functions: BTreeSet::new(),
    };
    // Walk the call graph from the program's own function.
    let mut seen: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut todo = vec![(main.section.clone(), main.start, main.end)];
    while let Some((section, start, end)) = todo.pop() {
        if !seen.insert((section.clone(), start)) {
            continue;
        }
        let Some(insns) = code.get(&section) else {
            continue;
        };
        if let Some(f) = func_at(funcs, &section, start) {
            p.functions.insert(f.name.clone());
        }
        let (first, last) = ((start / 8) as usize, (end / 8) as usize);
        let callee = |sec: &str, off: u64, todo: &mut Vec<(String, u64, u64)>| {
            if let Some(f) = func_at(funcs, sec, off) {
                todo.push((f.section.clone(), f.start, f.end));
            }
        };
        let mut i = first;
        while i < last.min(insns.len()) {
            let insn = insns[i];
            let off = i as u64 * 8;
            let reloc = relocs
                .get(&(section.clone(), off))
                .and_then(|s| syms.get(s));
            match (insn.code, reloc) {
                (CALL, None) if insn.src == 0 => {
                    p.helpers.insert(insn.imm as u32);
                }
                (CALL, None) if insn.src == PSEUDO_CALL => {
                    let target = (i as i64 + insn.imm as i64 + 1) * 8;
                    callee(&section, target.max(0) as u64, &mut todo);
                }
                (CALL, Some(s)) | (LDDW, Some(s)) => {
                    let is_call = insn.code == CALL;
                    if s.undefined {
                        let kind = ext.get(&s.name).cloned().unwrap_or(if is_call {
                            ExternKind::Kfunc
                        } else {
                            ExternKind::Ksym { typed: false }
                        });
                        p.externs.insert(Extern {
                            kind,
                            name: s.name.clone(),
                            weak: s.weak,
                        });
                    } else if let Some(ssec) = &s.section {
                        if code.contains_key(ssec) {
                            callee(ssec, code_target(s, &insn), &mut todo);
                        } else if ssec == ".maps" {
                            p.maps.insert(s.name.clone());
                        } else if is_data_section(ssec) {
                            p.global_data.insert(ssec.clone());
                        }
                    }
                }
                (CALL, None) if insn.src == PSEUDO_KFUNC_CALL => {}
                _ => {}
            }
            i += if insn.code == LDDW { 2 } else { 1 };
        }
    }
    p
}
