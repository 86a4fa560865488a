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
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::btf::{essential_name, Btf};
use crate::dryrun::offline::{self, OfflineKernel, OfflineTarget};
use crate::dryrun::{Mode, TargetReport};
use crate::elf::is_elf;
use crate::reloc::{assemble, cands, CoreReloKind, Object};
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

/// Relocate `obj` against `vmlinux` and its `modules` offline (the offline engine, with the
/// modules searched when vmlinux has no candidate, as libbpf searches the running kernel's).
/// The object was already judged openable and of the kernel's byte order by the vmlinux-only
/// run (`base`), whose report this one replaces in `result` and `log` only.
pub fn relocate(
    obj: &Object,
    vmlinux: &BtfSource,
    modules: &[ModuleBtf],
    base: &TargetReport,
) -> Result<TargetReport, String> {
    let target = OfflineTarget {
        btf: vmlinux,
        running_kernel: false,
    };
    let kernel = OfflineKernel::load_with_modules(
        &target,
        &cands::wanted_names(obj),
        modules.iter().map(|m| (m.name.as_str(), &m.raw[..])),
    )
    .map_err(|e| e.to_string())?;
    let run = offline::relocate_on(obj, &kernel).map_err(|e| e.to_string())?;
    Ok(TargetReport {
        mode: Mode::Offline,
        result: assemble(obj, &run.outcomes),
        log: run.log,
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
