//! `cargo xtask regen-fixtures`: rebuild every checked-in binary in `tests/fixtures/` from its
//! source (tests/fixtures/README.md lists them). Deterministic: running it twice gives the same
//! bytes, and on a machine with the pinned clang it reproduces the checked-in files.
//!
//! Needs clang 16 (`bpf_core_type_matches` needs clang >= 15; pinning one version keeps the
//! objects byte-stable), llvm-strip and llvm-objcopy, gzip, xz, zstd, lz4, GNU tar, and
//! libbpf's BPF headers (`bpf_helpers.h`, `bpf_helper_defs.h`, `bpf_core_read.h`).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};

use super::mangle::{self, Corruption};
use super::{exec, Clang};
use crate::{find_on_path, repo_root};

/// The fixtures' clang.
pub const CLANG_MAJOR: u32 = 16;

/// The release the fixture kernel images and the BTFHub tarball carry.
const FIXTURE_RELEASE: &str = "6.99.0-coretool-fixture";

/// Rebuild the test fixtures in tests/fixtures/.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// clang 16
    #[arg(long, env = "CLANG", default_value = "clang-16")]
    clang: String,
    /// llvm-strip [default: llvm-strip-16, else llvm-strip]
    #[arg(long, env = "LLVM_STRIP")]
    llvm_strip: Option<String>,
    /// llvm-objcopy [default: llvm-objcopy-16, else llvm-objcopy]
    #[arg(long, env = "LLVM_OBJCOPY")]
    llvm_objcopy: Option<String>,
    /// A directory holding bpf/bpf_helpers.h [default: the libbpf-sys crate source Cargo.lock
    /// pins, in ~/.cargo/registry after a build; else /usr/include (libbpf-dev)]
    #[arg(long, env = "LIBBPF_INCLUDE", value_name = "DIR")]
    libbpf_include: Option<PathBuf>,
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The tools, found and checked.
struct Tools {
    clang: Clang,
    strip: PathBuf,
    objcopy: PathBuf,
    /// `-I` for `<bpf/...>`.
    include: PathBuf,
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

pub fn run(args: &Args) -> Result<()> {
    let root = repo_root();
    let dir = root.join("tests/fixtures");
    let clang = Clang::pinned(&args.clang, CLANG_MAJOR, "the test fixtures")?;
    let tool = |name: &str| find_on_path(name).with_context(|| format!("{name} not found"));
    // The pinned LLVM's own tools when installed (Debian's llvm-16), else the default LLVM's:
    // with Debian 12's llvm-strip and llvm-objcopy (LLVM 14) the checked-in fixtures come out
    // byte for byte; only clang decides what the objects hold.
    let llvm_tool = |given: &Option<String>, name: &str| match given {
        Some(t) => tool(t),
        None => tool(&format!("{name}-{CLANG_MAJOR}")).or_else(|_| tool(name)),
    };
    let strip = llvm_tool(&args.llvm_strip, "llvm-strip")?;
    let objcopy = llvm_tool(&args.llvm_objcopy, "llvm-objcopy")?;
    for t in ["gzip", "xz", "zstd", "lz4", "tar"] {
        tool(t)?;
    }
    let scratch = Scratch(
        std::env::temp_dir().join(format!("coretool-regen-fixtures.{}", std::process::id())),
    );
    fs::create_dir_all(&scratch.0)?;
    let include = libbpf_include(&root, args.libbpf_include.as_deref(), &scratch.0)?;
    eprintln!(
        "regen-fixtures: {}, {}, {}, libbpf headers from {}",
        clang.version,
        strip.display(),
        objcopy.display(),
        fs::canonicalize(include.join("bpf"))?.display()
    );
    let t = Tools {
        clang,
        strip,
        objcopy,
        include,
    };
    let tmp = &scratch.0;

    // The all-kinds object, both endiannesses.
    t.bpf_cc(
        &dir,
        "bpfel",
        "core_all_kinds.bpf.c",
        "core_all_kinds.bpf.o",
        &[],
    )?;
    t.bpf_cc(
        &dir,
        "bpfeb",
        "core_all_kinds.bpf.c",
        "core_all_kinds.bpfeb.o",
        &[],
    )?;
    // BTF with no CO-RE records; and the same program without BTF at all (no -g).
    t.bpf_cc(&dir, "bpfel", "no_core.bpf.c", "no_core.bpf.o", &[])?;
    let inc = t.include_arg();
    exec(
        &dir,
        &t.clang.path,
        &[
            os("-target"),
            os("bpfel"),
            os("-O2"),
            os("-Wall"),
            os("-Werror"),
            &inc,
            os("-I."),
            os("-c"),
            os("no_core.bpf.c"),
            os("-o"),
            os("no_btf.bpf.o"),
        ],
    )?;
    // The local/target pair.
    t.bpf_cc(
        &dir,
        "bpfel",
        "core_pair.bpf.c",
        "core_pair_local.bpf.o",
        &[],
    )?;
    t.bpf_cc(
        &dir,
        "bpfel",
        "core_pair.bpf.c",
        "core_pair_target.bpf.o",
        &["-DTARGET"],
    )?;

    // `coretool diff`'s OLD/NEW pair (tests/fixtures/diff/).
    t.bpf_cc(
        &dir,
        "bpfel",
        "diff/diff_pair.bpf.c",
        "diff/diff_old.bpf.o",
        &[],
    )?;
    t.bpf_cc(
        &dir,
        "bpfel",
        "diff/diff_pair.bpf.c",
        "diff/diff_new.bpf.o",
        &["-DNEW"],
    )?;

    // A .BTF.ext damaged three ways.
    let all_kinds = fs::read(dir.join("core_all_kinds.bpf.o"))?;
    for (name, how) in [
        ("magic", Corruption::Magic),
        ("bounds", Corruption::Bounds),
        ("recsize", Corruption::RecSize),
    ] {
        let out = format!("corrupt_ext_{name}.bpf.o");
        fs::write(
            dir.join(&out),
            mangle::corrupt_ext(&all_kinds, how).context(out.clone())?,
        )?;
    }

    // An ELF that is not BPF (x86-64) and has no .BTF.
    exec(
        &dir,
        &t.clang.path,
        &[
            os("-target"),
            os("x86_64-linux-gnu"),
            os("-O2"),
            os("-c"),
            os("not_bpf.c"),
            os("-o"),
            os("not_bpf.o"),
        ],
    )?;
    exec(
        &dir,
        &t.strip,
        &[
            os("--strip-unneeded"),
            os("-R"),
            os(".comment"),
            os("-R"),
            os(".note.GNU-stack"),
            os("-R"),
            os(".llvm_addrsig"),
            os("not_bpf.o"),
        ],
    )?;

    // Raw BTF (both endiannesses) and the little-endian one compressed every way we read.
    let discard = tmp.join("discard.o");
    for (obj, btf) in [
        ("core_all_kinds.bpf.o", "core_all_kinds.btf"),
        ("core_all_kinds.bpfeb.o", "core_all_kinds.bpfeb.btf"),
    ] {
        let dump = format!(".BTF={btf}");
        exec(
            &dir,
            &t.objcopy,
            &[
                os("--dump-section"),
                os(&dump),
                os(obj),
                discard.as_os_str(),
            ],
        )?;
    }
    let btf = dir.join("core_all_kinds.btf");
    compress(
        &btf,
        &dir.join("core_all_kinds.btf.gz"),
        "gzip",
        &["-n", "-9", "-c"],
    )?;
    compress(
        &btf,
        &dir.join("core_all_kinds.btf.xz"),
        "xz",
        &["-9", "-c"],
    )?;
    compress(
        &btf,
        &dir.join("core_all_kinds.btf.zst"),
        "zstd",
        &["-q", "-19", "-c"],
    )?;
    compress(
        &btf,
        &dir.join("core_all_kinds.btf.lz4"),
        "lz4",
        &["-q", "-9", "-c"],
    )?;
    compress(
        &btf,
        &dir.join("core_all_kinds.btf.legacy.lz4"),
        "lz4",
        &["-q", "-l", "-9", "-c"],
    )?;

    // BTFHub's layout: <release>.btf inside a tar, xz-compressed.
    let hub = tmp.join("btfhub");
    fs::create_dir_all(&hub)?;
    let member = format!("{FIXTURE_RELEASE}.btf");
    fs::copy(&btf, hub.join(&member))?;
    // tar piped into xz, so that neither sees a file (zstd and xz may record a known size).
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&hub)
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
        ])
        .args(["--format=gnu", "-cf", "-"])
        .arg(&member)
        .stdout(Stdio::piped())
        .spawn()
        .context("running tar")?;
    let tar_out = tar.stdout.take().context("tar's stdout")?;
    let xz = Command::new("xz")
        .args(["-9", "-c"])
        .stdin(tar_out)
        .stdout(fs::File::create(dir.join("core_all_kinds.btf.tar.xz"))?)
        .status()
        .context("running xz")?;
    let tar_status = tar.wait()?;
    ensure!(
        tar_status.success() && xz.success(),
        "tar | xz failed ({tar_status}, {xz})"
    );

    // Kernel images: an x86-64 ELF carrying the raw BTF as .BTF (a stand-in for vmlinux), in a
    // bzImage wrapper, compressed as the kernel's Makefile.lib does for each format.
    let vmlinux = tmp.join("vmlinux");
    exec(
        &dir,
        &t.objcopy,
        &[
            os("--add-section"),
            os(".BTF=core_all_kinds.btf"),
            os("not_bpf.o"),
            vmlinux.as_os_str(),
        ],
    )?;
    let raw_len = u32::try_from(fs::metadata(&vmlinux)?.len())?;
    for (kind, program, flags) in [
        ("gzip", "gzip", &["-n", "-9", "-c"][..]),
        (
            "xz",
            "xz",
            &["--check=crc32", "--x86", "--lzma2=dict=1MiB", "-c"][..],
        ),
        ("zstd", "zstd", &["-q", "-22", "--ultra", "-c"][..]),
        ("lz4", "lz4", &["-q", "-l", "-9", "-c"][..]),
    ] {
        let payload = tmp.join(format!("vmlinux.{kind}"));
        compress(&vmlinux, &payload, program, flags)?;
        let img = mangle::bzimage(FIXTURE_RELEASE, kind, &fs::read(&payload)?, raw_len)?;
        fs::write(dir.join(format!("vmlinuz-{kind}.img")), img)?;
    }

    let mut made: Vec<_> = fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".o") || n.contains(".btf") || n.ends_with(".img"))
        .collect();
    made.sort();
    for name in made {
        let len = fs::metadata(dir.join(&name))?.len();
        eprintln!("{len:>8}  {name}");
    }
    Ok(())
}

impl Tools {
    fn include_arg(&self) -> OsString {
        let mut arg = OsString::from("-I");
        arg.push(&self.include);
        arg
    }

    /// A BPF object: -g for BTF, then DWARF stripped (it holds absolute paths and is not
    /// needed). The build directory maps to `.`, so line info names `./SRC`.
    fn bpf_cc(&self, dir: &Path, target: &str, src: &str, out: &str, extra: &[&str]) -> Result<()> {
        let prefix_map = format!("-fdebug-prefix-map={}=.", dir.display());
        let inc = self.include_arg();
        let mut args: Vec<&OsStr> = vec![
            os("-target"),
            os(target),
            os("-g"),
            os("-O2"),
            os("-Wall"),
            os("-Werror"),
            os(&prefix_map),
            &inc,
            os("-I."),
        ];
        args.extend(extra.iter().map(|a| os(a)));
        args.extend([os("-c"), os(src), os("-o"), os(out)]);
        exec(dir, &self.clang.path, &args)?;
        exec(dir, &self.strip, &[os("-g"), os(out)])
    }
}

/// `PROGRAM FLAGS INPUT > OUTPUT`: the input as a file argument, as the fixtures were made
/// (zstd then records the content size in its frame header).
fn compress(input: &Path, output: &Path, program: &str, flags: &[&str]) -> Result<()> {
    let status = Command::new(program)
        .args(flags)
        .arg(input)
        .stdin(Stdio::null())
        .stdout(fs::File::create(output).with_context(|| format!("writing {}", output.display()))?)
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("running {program}"))?;
    ensure!(
        status.success(),
        "{program} {} failed ({status})",
        flags.join(" ")
    );
    Ok(())
}

/// A directory from which `<bpf/bpf_helpers.h>` resolves: `given`, else the libbpf-sys crate
/// source that Cargo.lock pins (linked into `scratch`), else /usr/include.
fn libbpf_include(root: &Path, given: Option<&Path>, scratch: &Path) -> Result<PathBuf> {
    if let Some(dir) = given {
        ensure!(
            dir.join("bpf/bpf_core_read.h").is_file(),
            "LIBBPF_INCLUDE={} has no bpf/bpf_core_read.h",
            dir.display()
        );
        return Ok(dir.to_owned());
    }
    let lock = fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let version = locked_version(&lock, "libbpf-sys").context("Cargo.lock pins no libbpf-sys")?;
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .unwrap_or_default();
    let registry = cargo_home.join("registry/src");
    for index in fs::read_dir(&registry).into_iter().flatten().flatten() {
        let src = index
            .path()
            .join(format!("libbpf-sys-{version}/libbpf/src"));
        if src.join("bpf_core_read.h").is_file() && src.join("bpf_helper_defs.h").is_file() {
            let include = scratch.join("include");
            fs::create_dir_all(&include)?;
            std::os::unix::fs::symlink(&src, include.join("bpf"))?;
            return Ok(include);
        }
    }
    if Path::new("/usr/include/bpf/bpf_core_read.h").is_file() {
        return Ok(PathBuf::from("/usr/include"));
    }
    bail!(
        "libbpf headers not found: run `cargo build` (libbpf-sys {version}), install libbpf-dev, \
         or set LIBBPF_INCLUDE"
    )
}

/// The version of `package` in a Cargo.lock.
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|l| *l == name_line)?;
    let v = lines
        .next()?
        .strip_prefix("version = \"")?
        .strip_suffix('"')?;
    Some(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locked_version_is_read_from_cargo_lock() {
        let lock = "[[package]]\nname = \"libbpf-rs\"\nversion = \"0.27.0\"\n\n\
                    [[package]]\nname = \"libbpf-sys\"\nversion = \"1.7.0+v1.7.0\"\n";
        assert_eq!(
            locked_version(lock, "libbpf-sys").as_deref(),
            Some("1.7.0+v1.7.0")
        );
        assert_eq!(locked_version(lock, "libbpf"), None);
    }
}
