//! Where a kernel's minimized BTF goes under the output directory: the input's layout.
//!
//! A BTF file or BTFHub archive found in a `--kernels` directory keeps its place: the same
//! directories under the output directory (BTFHub's `distro/version/arch/`), named
//! `<release>.btf`. Any other kernel goes to `distro/version/arch/<release>.btf` when its source
//! tells all three (a Debian package with its version), else `arch/<release>.btf`, else
//! `<release>.btf`, else the source's file name with `.btf`.

use std::path::{Path, PathBuf};

use crate::compat::KernelId;

/// A path component made safe: no separators, no `.`/`..`, not empty.
fn component(s: &str) -> String {
    let c: String = s
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    match c.as_str() {
        "" | "." | ".." => "_".to_owned(),
        _ => c,
    }
}

/// The file name a kernel's output takes (`<release>.btf`).
pub fn file_name(id: &KernelId) -> String {
    let stem = id.release.clone().unwrap_or_else(|| {
        let name = Path::new(&id.source)
            .file_name()
            .map_or_else(|| id.source.clone(), |n| n.to_string_lossy().into_owned());
        [".btf.tar.xz", ".btf", ".deb"]
            .iter()
            .find_map(|s| name.strip_suffix(s).map(str::to_owned))
            .unwrap_or(name)
    });
    format!("{}.btf", component(&stem))
}

/// The path, relative to the output directory, of a kernel found under `roots` (the
/// `--kernels` sources).
pub fn output_path(id: &KernelId, roots: &[PathBuf]) -> PathBuf {
    let src = Path::new(&id.source);
    let hub_file = src
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".btf") || n.ends_with(".btf.tar.xz"));
    let under = roots
        .iter()
        .filter(|r| r.is_dir())
        .find_map(|r| src.parent()?.strip_prefix(r).ok());
    match under {
        Some(dir) if hub_file => {
            let mut p: PathBuf = dir
                .iter()
                .map(|c| component(&c.to_string_lossy()))
                .collect();
            p.push(file_name(id));
            p
        }
        _ => relative_path(id),
    }
}

/// The path, relative to the output directory, from the kernel's identity alone.
pub fn relative_path(id: &KernelId) -> PathBuf {
    let mut p = PathBuf::new();
    match (&id.distro, &id.version, &id.arch) {
        (Some(d), Some(v), Some(a)) => {
            p.push(component(d));
            p.push(component(v));
            p.push(component(a));
        }
        (_, _, Some(a)) => p.push(component(a)),
        _ => {}
    }
    p.push(file_name(id));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let hub = KernelId {
            source: "/hub/ubuntu/20.04/x86_64/5.4.0-91-generic.btf.tar.xz".into(),
            release: Some("5.4.0-91-generic".into()),
            arch: Some("x86_64".into()),
            distro: Some("ubuntu".into()),
            version: Some("20.04".into()),
            ..KernelId::default()
        };
        assert_eq!(
            relative_path(&hub),
            Path::new("ubuntu/20.04/x86_64/5.4.0-91-generic.btf")
        );
        let bare = KernelId {
            source: "/k/odd.btf".into(),
            ..KernelId::default()
        };
        assert_eq!(relative_path(&bare), Path::new("odd.btf"));
        let evil = KernelId {
            source: "x".into(),
            release: Some("../../etc".into()),
            arch: Some("..".into()),
            ..KernelId::default()
        };
        assert_eq!(relative_path(&evil), Path::new("_/.._.._etc.btf"));
        // A raw BTF in a BTFHub tree keeps its directories.
        let dir = std::env::temp_dir();
        let raw = KernelId {
            source: dir
                .join("debian/3/x86_64/6.1.0-1.btf")
                .display()
                .to_string(),
            release: Some("6.1.0-1".into()),
            arch: Some("x86_64".into()),
            ..KernelId::default()
        };
        assert_eq!(
            output_path(&raw, std::slice::from_ref(&dir)),
            Path::new("debian/3/x86_64/6.1.0-1.btf")
        );
        assert_eq!(output_path(&raw, &[]), Path::new("x86_64/6.1.0-1.btf"));
    }
}
