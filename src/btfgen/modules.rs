//! Module BTF: the split BTF of a kernel's modules, and relocation that searches it as libbpf
//! does on a kernel where those modules are loaded.
//!
//! Where a kernel's modules are: for `ROOT/boot/vmlinuz-REL` (an unpacked kernel package, as
//! in the kernel cache) the `*.ko`, `*.ko.xz`, `*.ko.zst` and `*.ko.gz` under
//! `ROOT/lib/modules/REL/` (or `ROOT/usr/lib/modules/REL/`); for a `vmlinux` file, the modules
//! under its directory. A module's `.BTF` section is split BTF on vmlinux's.
//!
//! Relocation with modules mirrors the offline engine ([`crate::dryrun::offline`], itself
//! derived from libbpf v1.7's `bpf_object__relocate_core`) with one difference: the module
//! BTFs are the given ones instead of the running kernel's. libbpf searches modules only for a
//! local type that has no candidate at all in vmlinux (`bpf_core_find_cands`), so this path is
//! taken only for objects with such a relocation; modules are read on the first need, once
//! per kernel. An offline tool cannot know which modules will be loaded: every module shipped
//! counts as loaded, in name order (libbpf visits them in load order, which only matters when
//! two modules define the same candidate).

use std::collections::HashMap;
use std::ffi::CString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::btf::{essential_name, Btf};
use crate::dryrun::{log, Mode, TargetReport};
use crate::elf::is_elf;
use crate::libbpf::relo_core::{self, Calculator, Candidates, Instruction, Patched, ReloRecord};
use crate::libbpf::{LibbpfBtf, PrintGuard};
use crate::reloc::{assemble, CoreReloKind, Object, Outcome, Outcomes, Resolved};
use crate::source::BtfSource;
use object::{Object as _, ObjectSection as _};

/// A module's split BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleBtf {
    /// The module's name (`ext4`), as `/sys/kernel/btf/<name>` would call it.
    pub name: String,
    /// Its raw split BTF.
    pub raw: Vec<u8>,
}

/// Where the modules of the kernel read from `source` would be (the directories that exist).
pub fn roots(source: &Path, release: Option<&str>) -> Vec<PathBuf> {
    let name = source.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let dir = source.parent().unwrap_or(Path::new("."));
    let mut roots = Vec::new();
    if let Some(rel) = name.strip_prefix("vmlinuz-").or(release) {
        if dir.file_name().is_some_and(|d| d == "boot") {
            let root = dir.parent().unwrap_or(Path::new("."));
            roots.push(root.join("lib/modules").join(rel));
            roots.push(root.join("usr/lib/modules").join(rel));
        }
    }
    if name == "vmlinux" || name.starts_with("vmlinux-") {
        roots.push(dir.to_path_buf());
    }
    roots.retain(|r| r.is_dir());
    roots
}

/// The module files of the kernel read from `source` (none when it has no module tree).
pub fn find(source: &Path, release: Option<&str>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for r in roots(source, release) {
        walk(&r, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out),
            Ok(_) if module_name(&p).is_some() => out.push(p),
            _ => {}
        }
    }
}

/// `ext4` for `.../ext4.ko`, `ext4.ko.xz`, `ext4.ko.zst`, `ext4.ko.gz`.
fn module_name(p: &Path) -> Option<String> {
    let n = p.file_name()?.to_str()?;
    [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|s| n.strip_suffix(s))
        .map(|m| m.replace('-', "_"))
}

/// Largest module read, compressed or not.
const MAX_MODULE: u64 = 256 << 20;

/// A module file's split BTF (`None`: the module has no `.BTF`).
pub fn read(path: &Path) -> Result<Option<ModuleBtf>, String> {
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let f = std::fs::File::open(path).map_err(err)?;
    let n = path.to_string_lossy();
    let mut data = Vec::new();
    let limited = |r: Box<dyn Read>| r.take(MAX_MODULE);
    let mut r = if n.ends_with(".xz") {
        limited(Box::new(xz2::read::XzDecoder::new(f)))
    } else if n.ends_with(".zst") {
        limited(Box::new(zstd::stream::read::Decoder::new(f).map_err(err)?))
    } else if n.ends_with(".gz") {
        limited(Box::new(flate2::read::GzDecoder::new(f)))
    } else {
        limited(Box::new(f))
    };
    r.read_to_end(&mut data).map_err(err)?;
    if !is_elf(&data) {
        return Err(format!("{}: not an ELF file", path.display()));
    }
    // Only the section headers are read (a module has thousands of symbols that
    // `ElfInfo::parse` would index for nothing).
    let elf = object::File::parse(&*data).map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(section) = elf.section_by_name(".BTF") else {
        return Ok(None);
    };
    let btf = section
        .data()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(ModuleBtf {
        name: module_name(path).unwrap_or_default(),
        raw: btf.to_vec(),
    }))
}

/// Whether `obj` has a relocation whose local type has no candidate in `vmlinux` (by kind and
/// essential name, as `bpf_core_add_cands`): only then does libbpf look in modules.
pub fn needs_modules(obj: &Object, vmlinux: &Btf) -> bool {
    let Some(ext) = &obj.ext else {
        return false;
    };
    let mut names: HashMap<(bool, &str), bool> = HashMap::new();
    ext.core_relos
        .iter()
        .flat_map(|s| &s.records)
        .filter(|r| r.kind != CoreReloKind::TypeIdLocal)
        .any(|r| {
            let Some(t) = obj.btf.type_by_id(r.type_id) else {
                return false;
            };
            let name = essential_name(obj.btf.name_of(&t));
            if name.is_empty() {
                return false;
            }
            let enumish = t.is_any_enum();
            let kind = t.kind();
            // Kernel types carry no flavour suffix: the exact name finds the candidates.
            !*names.entry((enumish, name)).or_insert_with(|| {
                vmlinux.ids_by_name(name).iter().any(|&id| {
                    vmlinux
                        .type_by_id(id)
                        .is_some_and(|c| c.kind() == kind || (enumish && c.is_any_enum()))
                })
            })
        })
}

/// One BTF searched for candidates.
struct CandBtf {
    name: String,
    lib: Rc<LibbpfBtf>,
    start_id: u32,
}

/// libbpf's errno names, as the offline engine prints them.
fn errstr(err: i32) -> String {
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

/// Relocate `obj` against `vmlinux` and its `modules` offline. The object was already judged
/// openable and of the kernel's byte order by the vmlinux-only run (`base`), whose report
/// this one replaces in `result` and `log` only.
pub fn relocate(
    obj: &Object,
    vmlinux: &BtfSource,
    modules: &[ModuleBtf],
    base: &TargetReport,
) -> Result<TargetReport, String> {
    let lib = |raw: &[u8], on: Option<&Rc<LibbpfBtf>>, what: &str| {
        LibbpfBtf::new_explained(raw, on.map(Rc::clone)).map_err(|(e, said)| {
            format!(
                "{what}: libbpf cannot parse its BTF: {}",
                said.unwrap_or_else(|| e.to_string())
            )
        })
    };
    let local = lib(obj.btf.raw_bytes(), None, &obj.path.display().to_string())?;
    let vm = Rc::new(lib(
        vmlinux.btf.raw_bytes(),
        None,
        &vmlinux.path.display().to_string(),
    )?);
    let start_id = vm.type_count();
    let mut mods = Vec::new();
    for m in modules {
        // A module libbpf cannot parse is left out of the search, as libbpf does.
        if let Ok(l) = LibbpfBtf::new_split(&m.raw, Rc::clone(&vm)) {
            mods.push(CandBtf {
                name: m.name.clone(),
                lib: Rc::new(l),
                start_id,
            });
        }
    }
    let vmlinux_cand = CandBtf {
        name: "vmlinux".into(),
        lib: vm,
        start_id: 1,
    };
    let find_cands = |local_id: u32| -> Vec<(&CandBtf, u32)> {
        let mut out: Vec<(&CandBtf, u32)> =
            relo_core::add_candidates(&local, local_id, &vmlinux_cand.lib, 1)
                .into_iter()
                .map(|id| (&vmlinux_cand, id))
                .collect();
        if out.is_empty() {
            for m in &mods {
                out.extend(
                    relo_core::add_candidates(&local, local_id, &m.lib, m.start_id)
                        .into_iter()
                        .map(|id| (m, id)),
                );
            }
        }
        out
    };
    let capture = PrintGuard::capture();
    let mut outcomes = Outcomes::default();
    let mut text = String::new();
    if let Some(ext) = &obj.ext {
        let mut cache: HashMap<u32, Candidates<'_>> = HashMap::new();
        let mut programs: HashMap<&str, Vec<Instruction>> = HashMap::new();
        let mut calculator = Calculator::new();
        'sections: for sec in &ext.core_relos {
            for (i, rec) in sec.records.iter().enumerate() {
                let Some(relo) = obj
                    .relocations()
                    .find(|r| r.section == sec.sec_name && r.index == i)
                else {
                    continue;
                };
                let Some(prog) = obj.program(&relo.program) else {
                    continue;
                };
                let insns = programs.entry(prog.name.as_str()).or_insert_with(|| {
                    prog.insns
                        .iter()
                        .map(|i| Instruction::new(i.code, i.dst, i.src, i.off, i.imm))
                        .collect()
                });
                let insn_idx = (relo.insn - prog.first_insn) as usize;
                let c_name = CString::new(prog.name.as_str()).unwrap_or_default();
                let record = ReloRecord {
                    insn_off: rec.insn_off,
                    type_id: rec.type_id,
                    access_str_off: rec.access_str_off,
                    kind: rec.kind,
                };
                let key = (prog.name.clone(), i as u32);
                let mut outcome = Outcome::default();
                let stop = |outcome: Outcome, err: i32, o: &mut Outcomes| {
                    o.relos.insert(key.clone(), outcome);
                    o.failure = Some(format!(
                        "failed to perform CO-RE relocations: {}",
                        errstr(err)
                    ));
                };
                let cands = if rec.kind == CoreReloKind::TypeIdLocal {
                    None
                } else {
                    let local_type = obj.btf.type_by_id(rec.type_id);
                    let local_name = local_type.as_ref().map_or("", |t| obj.btf.name_of(t));
                    if local_name.is_empty() {
                        let kind = local_type.map_or("unknown", |t| t.kind().lower_name());
                        outcome.error = Some(format!(
                            "target candidate search failed for [{}] {kind} {local_name}: -22",
                            rec.type_id
                        ));
                        stop(outcome, -libc::EINVAL, &mut outcomes);
                        break 'sections;
                    }
                    Some(cache.entry(rec.type_id).or_insert_with(|| {
                        Candidates::new(
                            find_cands(rec.type_id)
                                .into_iter()
                                .map(|(b, id)| (&*b.lib, id)),
                        )
                    }))
                };
                let calc = calculator.calc(&c_name, &record, i as u32, &local, cands);
                let said = capture.take();
                let records = log::parse(&said);
                text.push_str(&said);
                let calc = match calc {
                    Ok(c) => c,
                    Err(err) => {
                        let said = log::outcomes(&records)
                            .relos
                            .remove(&key)
                            .unwrap_or_default();
                        outcome.local_spec = said.local_spec;
                        outcome.resolved = said.resolved;
                        outcome.error = Some(
                            log::relo_error(&records, &prog.name, i as u32)
                                .unwrap_or_else(|| format!("failed to relocate: {}", errstr(err))),
                        );
                        stop(outcome, err, &mut outcomes);
                        break 'sections;
                    }
                };
                outcome.local_spec = calc.local_spec.clone();
                outcome.resolved = calc.matched.as_ref().map(|m| Resolved {
                    spec: m.spec.clone(),
                    btf: std::iter::once(&vmlinux_cand)
                        .chain(&mods)
                        .find(|b| m.is_in(&b.lib))
                        .map_or_else(|| "vmlinux".to_owned(), |b| b.name.clone()),
                });
                let in_range = prog
                    .insns
                    .get(insn_idx)
                    .is_some_and(|i| !i.is_ldimm64() || insn_idx + 1 < prog.insns.len());
                if !in_range {
                    outcome.error = Some(format!("failed to relocate: {}", errstr(-libc::EINVAL)));
                    stop(outcome, -libc::EINVAL, &mut outcomes);
                    break 'sections;
                }
                let patched = relo_core::patch(&c_name, insns, insn_idx, &record, i as u32, &calc);
                let said = capture.take();
                let records = log::parse(&said);
                text.push_str(&said);
                match patched {
                    Ok(Patched::Patches(p)) => {
                        outcome.patches = p.into_iter().map(|p| (insn_idx as u32, p)).collect()
                    }
                    Ok(Patched::Poisoned(at)) => outcome.poisoned = at,
                    Err(err) => {
                        outcome.error = Some(
                            log::relo_error(&records, &prog.name, i as u32).unwrap_or_else(|| {
                                format!("failed to patch insn #{insn_idx}: {}", errstr(err))
                            }),
                        );
                        stop(outcome, err, &mut outcomes);
                        break 'sections;
                    }
                }
                outcome.error = log::relo_error(&records, &prog.name, i as u32);
                outcomes.relos.insert(key, outcome);
            }
        }
    }
    text.push_str(&capture.take());
    Ok(TargetReport {
        mode: Mode::Offline,
        result: assemble(obj, &outcomes),
        log: text,
        ..base.clone()
    })
}

/// Whether a relocation result used a module (its match is in a module's BTF).
pub fn uses_modules(r: &TargetReport) -> bool {
    r.result
        .fixups
        .iter()
        .any(|f| f.resolved.as_ref().is_some_and(|m| m.btf != "vmlinux"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_and_trees() {
        assert_eq!(module_name(Path::new("a/ext4.ko")).as_deref(), Some("ext4"));
        assert_eq!(
            module_name(Path::new("nf-conntrack.ko.xz")).as_deref(),
            Some("nf_conntrack")
        );
        assert_eq!(module_name(Path::new("x.ko.zst")).as_deref(), Some("x"));
        assert_eq!(module_name(Path::new("vmlinux")), None);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("boot")).unwrap();
        std::fs::create_dir_all(root.join("lib/modules/6.1.0-1/kernel/fs")).unwrap();
        std::fs::write(root.join("boot/vmlinuz-6.1.0-1"), b"").unwrap();
        std::fs::write(root.join("lib/modules/6.1.0-1/kernel/fs/ext4.ko.xz"), b"").unwrap();
        std::fs::write(root.join("lib/modules/6.1.0-1/modules.dep"), b"").unwrap();
        let found = find(&root.join("boot/vmlinuz-6.1.0-1"), None);
        assert_eq!(
            found,
            [root.join("lib/modules/6.1.0-1/kernel/fs/ext4.ko.xz")]
        );
        // A vmlinux: the modules beside it.
        std::fs::write(root.join("lib/modules/6.1.0-1/vmlinux"), b"").unwrap();
        assert_eq!(find(&root.join("lib/modules/6.1.0-1/vmlinux"), None), found);
        // A module that is not an ELF is refused with its name; an empty tree finds nothing.
        let err = read(&root.join("lib/modules/6.1.0-1/modules.dep")).unwrap_err();
        assert!(err.contains("modules.dep"), "{err}");
        assert!(find(&root.join("elsewhere/vmlinuz-6.1.0-1"), None).is_empty());
    }
}
