//! `cargo xtask dist`: coretool as one static x86-64 executable (docs/install.md).
//!
//! glibc's static libraries (`+crt-static`), libbpf vendored and linked statically with
//! Debian's `libelf.a` and `libz.a` (libbpf-sys's `static` feature, through coretool's
//! `static` feature), liblzma built from source (xz2's `static`), zstd built from source as
//! always. The result is stripped into `target/dist/coretool`; `ldd` must call it "not a dynamic
//! executable".
//!
//! `--deb` packs it with the man pages and shell completions checked in under docs/ (kept
//! fresh by tests/generated.rs) into `target/dist/coretool_<version>_<arch>.deb`, with
//! `dpkg-deb --build`: the paths are Debian's, and the package depends on nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The target triple (an aarch64 build needs its cross toolchain and static libs)
    #[arg(long, default_value = "x86_64-unknown-linux-gnu")]
    pub target: String,
    /// Where the C libraries' static archives are (libelf.a, libz.a)
    #[arg(long, default_value = "/usr/lib/x86_64-linux-gnu")]
    pub static_libs: PathBuf,
    /// Also pack target/dist/coretool_<version>_<arch>.deb (binary, man pages, completions)
    #[arg(long)]
    pub deb: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let root = crate::repo_root();
    for lib in ["libelf.a", "libz.a"] {
        if !args.static_libs.join(lib).is_file() {
            bail!(
                "{}: no {lib} (install libelf-dev and zlib1g-dev, or pass --static-libs)",
                args.static_libs.display()
            );
        }
    }
    let rustflags = format!(
        "-C target-feature=+crt-static -C relocation-model=static -L native={}",
        args.static_libs.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = root.join("target/dist-build");
    let status = Command::new(cargo)
        .current_dir(&root)
        .env("RUSTFLAGS", &rustflags)
        .args(["build", "--locked", "--release", "--features", "static"])
        .args(["--bin", "coretool", "--target", &args.target])
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of the static binary failed");
    }
    let built = target_dir.join(&args.target).join("release/coretool");
    let dist = root.join("target/dist");
    std::fs::create_dir_all(&dist)?;
    let out = dist.join("coretool");
    // The target's strip: `$STRIP`, else binutils' `strip` for this host's architecture and
    // `<arch>-linux-gnu-strip` (Debian's cross binutils) for another.
    let strip_tool = std::env::var("STRIP").unwrap_or_else(|_| {
        let arch = args.target.split('-').next().unwrap_or_default();
        if arch == std::env::consts::ARCH {
            "strip".to_owned()
        } else {
            format!("{arch}-linux-gnu-strip")
        }
    });
    let strip = Command::new(&strip_tool)
        .arg("-o")
        .arg(&out)
        .arg(&built)
        .status()
        .with_context(|| format!("running {strip_tool} (binutils)"))?;
    if !strip.success() {
        bail!("strip {} failed", built.display());
    }
    let ldd = Command::new("ldd").arg(&out).output();
    let ldd = ldd.map_or_else(
        |e| format!("ldd: {e}"),
        |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
                + String::from_utf8_lossy(&o.stderr).trim()
        },
    );
    if !ldd.contains("not a dynamic executable") {
        bail!("{} is not static: ldd says {ldd}", out.display());
    }
    let size = std::fs::metadata(&out)?.len();
    println!(
        "{}: {:.1} MiB, static (ldd: {ldd})",
        out.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    if args.deb {
        let deb = deb(&root, &out, &args.target)?;
        println!("{}", deb.display());
    }
    Ok(())
}

/// `static` when `bin` is an ELF executable without a program interpreter (`PT_INTERP`): the
/// kernel runs it without ld.so and it needs no shared library. `dynamic` otherwise.
pub fn linkage(bin: &Path) -> Result<&'static str> {
    let data = std::fs::read(bin).with_context(|| format!("reading {}", bin.display()))?;
    let bad = || anyhow::anyhow!("{}: not a 64-bit little-endian ELF file", bin.display());
    if data.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err(bad());
    }
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let phoff = u64_at(0x20).ok_or_else(bad)? as usize;
    let phentsize = u16_at(0x36).ok_or_else(bad)? as usize;
    let phnum = u16_at(0x38).ok_or_else(bad)? as usize;
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let p_type = data
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .ok_or_else(bad)?;
        if p_type == PT_INTERP {
            return Ok("dynamic");
        }
    }
    Ok("static")
}

/// Debian's name of the target's architecture.
fn deb_arch(target: &str) -> Result<&'static str> {
    Ok(match target.split('-').next() {
        Some("x86_64") => "amd64",
        Some("aarch64") => "arm64",
        _ => bail!("{target}: no Debian architecture known for this target"),
    })
}

/// The root package's version, from its Cargo.toml (`[package]`'s first `version = "..."`).
fn package_version(root: &Path) -> Result<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    manifest
        .lines()
        .find_map(|l| {
            let v = l.strip_prefix("version")?.trim_start().strip_prefix('=')?;
            Some(v.trim().trim_matches('"').to_owned())
        })
        .context("Cargo.toml: no version")
}

/// Pack `bin` with the man pages and completions into a .deb; its path.
fn deb(root: &Path, bin: &Path, target: &str) -> Result<PathBuf> {
    let arch = deb_arch(target)?;
    let version = package_version(root)?;
    let stage = root.join("target/dist/deb");
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    let docs = root.join("docs");
    let mut files: Vec<(PathBuf, PathBuf, u32)> = vec![
        (bin.to_owned(), "usr/bin/coretool".into(), 0o755),
        (
            docs.join("completions/coretool.bash"),
            "usr/share/bash-completion/completions/coretool".into(),
            0o644,
        ),
        (
            docs.join("completions/_coretool"),
            "usr/share/zsh/vendor-completions/_coretool".into(),
            0o644,
        ),
        (
            docs.join("completions/coretool.fish"),
            "usr/share/fish/vendor_completions.d/coretool.fish".into(),
            0o644,
        ),
    ];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(docs.join("man"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    pages.sort();
    let mut installed = 0u64;
    for (from, to, mode) in files.drain(..) {
        let dest = stage.join(&to);
        std::fs::create_dir_all(dest.parent().expect("a directory"))?;
        std::fs::copy(&from, &dest).with_context(|| format!("copying {}", from.display()))?;
        set_mode(&dest, mode)?;
        installed += std::fs::metadata(&dest)?.len();
    }
    let copyright = stage.join("usr/share/doc/coretool/copyright");
    std::fs::create_dir_all(copyright.parent().expect("a directory"))?;
    std::fs::write(&copyright, copyright_text(root)?)
        .with_context(|| format!("writing {}", copyright.display()))?;
    set_mode(&copyright, 0o644)?;
    installed += std::fs::metadata(&copyright)?.len();
    // Man pages gzipped (Debian policy 12.1), reproducibly: no name, no time stamp.
    let man1 = stage.join("usr/share/man/man1");
    std::fs::create_dir_all(&man1)?;
    for page in pages
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
    {
        let name = page.file_name().expect("a file name").to_string_lossy();
        let dest = man1.join(format!("{name}.gz"));
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(std::fs::File::create(&dest)?, flate2::Compression::best());
        gz.write_all(&std::fs::read(page)?)?;
        gz.finish()?;
        set_mode(&dest, 0o644)?;
        installed += std::fs::metadata(&dest)?.len();
    }
    let control = stage.join("DEBIAN");
    std::fs::create_dir_all(&control)?;
    std::fs::write(
        control.join("control"),
        format!(
            "Package: coretool\n\
             Version: {version}\n\
             Architecture: {arch}\n\
             Maintainer: coretool developers\n\
             Installed-Size: {}\n\
             Section: devel\n\
             Priority: optional\n\
             Homepage: https://github.com/coretool-rs/coretool\n\
             Description: make eBPF CO-RE visible\n \
             BTF dumps, vmlinux.h, CO-RE relocation records, libbpf dry-run of\n \
             relocations across kernels and kernel fleets, and a self-test of CO-RE\n \
             on this kernel. One static executable: it depends on nothing.\n",
            installed.div_ceil(1024)
        ),
    )?;
    let deb = root.join(format!("target/dist/coretool_{version}_{arch}.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&stage)
        .arg(&deb)
        .status()
        .context("running dpkg-deb")?;
    if !status.success() {
        bail!("dpkg-deb --build {} failed", stage.display());
    }
    std::fs::remove_dir_all(&stage)?;
    Ok(deb)
}

/// `/usr/share/doc/coretool/copyright` (Debian's machine-readable format): coretool's licence,
/// and the C libraries the static binary carries, each with its own.
fn copyright_text(root: &Path) -> Result<String> {
    let mit = std::fs::read_to_string(root.join("LICENSE-MIT"))?;
    let indented: String = mit
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                " .\n".to_owned()
            } else {
                format!(" {l}\n")
            }
        })
        .collect();
    Ok(format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: coretool\n\
         Source: https://github.com/coretool-rs/coretool\n\
         Comment: /usr/bin/coretool is linked statically. Besides coretool's own code and its\n \
         Rust dependencies (MIT and/or Apache-2.0 for the most part; `cargo metadata` lists\n \
         each one's licence), it carries libbpf (LGPL-2.1 OR BSD-2-Clause, vendored by\n \
         libbpf-sys), libelf from elfutils (GPL-2+ or LGPL-3+, Debian's libelf-dev),\n \
         zlib (Zlib, Debian's zlib1g-dev), zstd (BSD-3-Clause or GPL-2, built by zstd-sys),\n \
         liblzma (public domain: xz 5.2, built by lzma-sys) and the GNU C library\n \
         (LGPL-2.1+, Debian's libc6-dev). Their full texts are in /usr/share/common-licenses/\n \
         or in the sources named.\n\
         \n\
         Files: *\n\
         Copyright: 2026 The coretool authors\n\
         License: MIT or Apache-2.0\n\
         \n\
         License: MIT\n\
         {indented}\
         \n\
         License: Apache-2.0\n \
         On Debian systems, the full text of the Apache License 2.0 is in\n \
         /usr/share/common-licenses/Apache-2.0.\n"
    ))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-bit little-endian ELF header with program headers of these types.
    fn elf(types: &[u32]) -> Vec<u8> {
        let mut d = vec![0u8; 64];
        d[..6].copy_from_slice(b"\x7fELF\x02\x01");
        d[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        d[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        d[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            d.extend(ph);
        }
        d
    }

    /// `linkage` of a file holding `bytes` (a directory of its own: tests run in parallel).
    fn linkage_of(bytes: &[u8]) -> Result<&'static str> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xtask-linkage-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bin");
        std::fs::write(&path, bytes).unwrap();
        let got = linkage(&path);
        std::fs::remove_dir_all(&dir).ok();
        got
    }

    #[test]
    fn linkage_is_static_without_an_interpreter() {
        const PT_LOAD: u32 = 1;
        const PT_DYNAMIC: u32 = 2;
        assert_eq!(linkage_of(&elf(&[PT_LOAD, PT_LOAD])).unwrap(), "static");
        assert_eq!(linkage_of(&elf(&[PT_LOAD, PT_DYNAMIC])).unwrap(), "static");
        assert_eq!(
            linkage_of(&elf(&[PT_LOAD, 3, PT_DYNAMIC])).unwrap(),
            "dynamic"
        );
        let err = linkage_of(b"#!/bin/sh\n").unwrap_err().to_string();
        assert!(err.contains("not a 64-bit little-endian ELF file"), "{err}");
        let mut cut = elf(&[PT_LOAD, 3]);
        cut.truncate(64 + 56 + 2);
        assert!(linkage_of(&cut).is_err());
        // This test binary is linked dynamically (the default for *-linux-gnu).
        let me = std::env::current_exe().unwrap();
        assert_eq!(linkage(&me).unwrap(), "dynamic");
    }

    #[test]
    fn debian_names() {
        assert_eq!(deb_arch("x86_64-unknown-linux-gnu").unwrap(), "amd64");
        assert_eq!(deb_arch("aarch64-unknown-linux-gnu").unwrap(), "arm64");
        assert!(deb_arch("riscv64gc-unknown-linux-gnu").is_err());
        let version = package_version(&crate::repo_root()).unwrap();
        assert!(
            version.split('.').all(|n| n.parse::<u32>().is_ok()) && version.split('.').count() == 3,
            "{version}"
        );
    }
}
