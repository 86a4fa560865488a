//! `cargo xtask corpus`: a real third-party corpus of BPF objects for the kernel matrix's
//! `requires` check. Debian's `libbpf-tools` (fetched with `apt-get download`, unpacked with
//! `dpkg-deb -x`) embeds each tool's BPF object in its executable (bpftool's skeletons keep
//! the `.bpf.o` as a byte array); the objects are found by ELF magic with `e_machine` EM_BPF
//! and cut out by their section header table (the last byte of an ELF object is the end of
//! its section headers, or of its last section, whichever is later). Identical objects (tools
//! that are one binary under several names) are kept once.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

/// Extract the BPF objects embedded in Debian's libbpf-tools.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Where the objects go [default: target/corpus/libbpf-tools]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// A libbpf-tools .deb already downloaded [default: `apt-get download libbpf-tools`]
    #[arg(long, value_name = "DEB")]
    deb: Option<PathBuf>,
}

const EM_BPF: u16 = 247;

fn u16_at(d: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(d: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(d: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(o..o + 8)?.try_into().ok()?))
}

/// The length of the little-endian ELF64 BPF object starting at `d[0]`, or `None` when it is
/// not one (or does not fit in `d`).
fn bpf_object_len(d: &[u8]) -> Option<usize> {
    if !d.starts_with(b"\x7fELF\x02\x01") || u16_at(d, 18)? != EM_BPF {
        return None;
    }
    let shoff = usize::try_from(u64_at(d, 0x28)?).ok()?;
    let shentsize = usize::from(u16_at(d, 0x3a)?);
    let shnum = usize::from(u16_at(d, 0x3c)?);
    ensure_some(shentsize == 64 && shnum > 0)?;
    let mut end = shoff.checked_add(shentsize * shnum)?;
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        let kind = u32_at(d, sh + 4)?;
        // SHT_NOBITS (.bss) has no bytes in the file.
        if kind == 8 {
            continue;
        }
        let off = usize::try_from(u64_at(d, sh + 0x18)?).ok()?;
        let size = usize::try_from(u64_at(d, sh + 0x20)?).ok()?;
        end = end.max(off.checked_add(size)?);
    }
    (end <= d.len()).then_some(end)
}

fn ensure_some(ok: bool) -> Option<()> {
    ok.then_some(())
}

/// Every BPF object embedded in `data` (not at offset 0: that is the file itself).
pub fn embedded_objects(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 1;
    while let Some(pos) = data[i..].windows(4).position(|w| w == b"\x7fELF") {
        let at = i + pos;
        match bpf_object_len(&data[at..]) {
            Some(len) => {
                out.push(&data[at..at + len]);
                i = at + len;
            }
            None => i = at + 1,
        }
    }
    out
}

pub fn run(args: &Args) -> Result<()> {
    let root = crate::repo_root();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/corpus/libbpf-tools"));
    let work = root.join("target/corpus/work");
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    fs::create_dir_all(&work)?;
    let deb = match &args.deb {
        Some(d) => fs::canonicalize(d).with_context(|| d.display().to_string())?,
        None => {
            let ok = Command::new("apt-get")
                .args(["download", "libbpf-tools"])
                .current_dir(&work)
                .status()
                .context("running apt-get download")?
                .success();
            ensure!(ok, "apt-get download libbpf-tools failed");
            let found = fs::read_dir(&work)?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "deb"));
            found.context("apt-get download left no .deb")?
        }
    };
    let unpacked = work.join("root");
    let ok = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&unpacked)
        .status()
        .context("running dpkg-deb")?
        .success();
    ensure!(ok, "dpkg-deb -x {} failed", deb.display());
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    fs::create_dir_all(&out)?;
    let mut seen: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    let mut tools = Vec::new();
    walk(&unpacked, &mut tools)?;
    tools.sort();
    let mut written = 0;
    for tool in tools {
        let data = fs::read(&tool)?;
        let name = tool
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for (k, obj) in embedded_objects(&data).into_iter().enumerate() {
            if let Some(first) = seen.get(obj) {
                eprintln!("corpus: {name}: same object as {first}");
                continue;
            }
            let file = match k {
                0 => format!("{name}.bpf.o"),
                k => format!("{name}.{k}.bpf.o"),
            };
            fs::write(out.join(&file), obj)?;
            seen.insert(obj.to_vec(), file);
            written += 1;
        }
    }
    if written == 0 {
        bail!("no BPF object found in {}", deb.display());
    }
    fs::remove_dir_all(&work)?;
    eprintln!("corpus: {written} BPF objects in {}", out.display());
    Ok(())
}

/// Regular files (not symlinks) under `dir`.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            walk(&e.path(), out)?;
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object is found inside other bytes and cut at its last byte; a non-BPF ELF is not.
    #[test]
    fn finds_an_embedded_bpf_object() {
        let obj = std::fs::read(crate::repo_root().join("tests/fixtures/no_core.bpf.o")).unwrap();
        let not_bpf = std::fs::read(crate::repo_root().join("tests/fixtures/not_bpf.o")).unwrap();
        let mut host = b"\x7fELF-outer".to_vec();
        host.extend_from_slice(&not_bpf);
        host.extend_from_slice(&obj);
        host.extend_from_slice(b"trailing bytes");
        let found = embedded_objects(&host);
        assert_eq!(found, vec![obj.as_slice()]);
    }
}
