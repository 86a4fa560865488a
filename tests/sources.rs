//! BTF sources (`--btf SRC`): every container yields the same types, and every bad input is
//! refused with exit 2 and one line naming the file.
//!
//! Fixtures: tests/fixtures/ (see its README.md); the bad inputs are made here, in a
//! temporary directory, from the checked-in raw BTF.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use coretool::btf::Endian;
use coretool::source::{self, Compression, Container};

use crate::common::BIN as CORETOOL;
const FIXTURE_RELEASE: &str = "6.99.0-coretool-fixture";

fn fixture(name: &str) -> PathBuf {
    crate::common::fixtures().join(name)
}

fn coretool_btf(src: &Path) -> Output {
    Command::new(CORETOOL)
        .arg("btf")
        .arg("--btf")
        .arg(src)
        .env("NO_COLOR", "1")
        .output()
        .expect("running coretool")
}

fn dump(src: &Path) -> String {
    let out = coretool_btf(src);
    assert!(
        out.status.success(),
        "coretool btf --btf {} failed: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every way the all-kinds BTF is packaged, with the container chain coretool must report.
const PACKAGINGS: &[(&str, &str)] = &[
    ("core_all_kinds.btf", "raw BTF"),
    ("core_all_kinds.bpfeb.btf", "raw BTF"),
    ("core_all_kinds.bpf.o", "ELF .BTF"),
    ("core_all_kinds.bpfeb.o", "ELF .BTF"),
    ("core_all_kinds.btf.gz", "gzip stream > raw BTF"),
    ("core_all_kinds.btf.xz", "xz stream > raw BTF"),
    ("core_all_kinds.btf.zst", "zstd stream > raw BTF"),
    ("core_all_kinds.btf.lz4", "lz4 stream > raw BTF"),
    (
        "core_all_kinds.btf.legacy.lz4",
        "lz4 (legacy) stream > raw BTF",
    ),
    (
        "core_all_kinds.btf.tar.xz",
        "xz stream > tar member 6.99.0-coretool-fixture.btf > raw BTF",
    ),
    ("vmlinuz-gzip.img", "kernel image (gzip) > ELF .BTF"),
    ("vmlinuz-xz.img", "kernel image (xz) > ELF .BTF"),
    ("vmlinuz-zstd.img", "kernel image (zstd) > ELF .BTF"),
    ("vmlinuz-lz4.img", "kernel image (lz4 (legacy)) > ELF .BTF"),
];

#[test]
fn every_packaging_yields_the_raw_types() {
    let raw_path = fixture("core_all_kinds.btf");
    let raw = std::fs::read(&raw_path).unwrap();
    let want = dump(&raw_path);
    // btf__type_cnt: the dumped types plus void.
    let want_types = want.lines().filter(|l| l.starts_with('[')).count() as u32 + 1;
    assert!(
        want.contains("STRUCT 'task_struct'"),
        "fixture lost its types:\n{want}"
    );
    for &(name, chain) in PACKAGINGS {
        let path = fixture(name);
        let src = source::load(Some(&path), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(src.describe(), chain, "{name}");
        assert_eq!(src.btf.type_count(), want_types, "{name}: type count");
        if !name.contains("bpfeb") {
            assert!(
                src.btf.raw_bytes() == raw.as_slice(),
                "{name}: .BTF bytes differ from core_all_kinds.btf"
            );
        }
        let release = name.starts_with("vmlinuz-").then_some(FIXTURE_RELEASE);
        assert_eq!(src.release.as_deref(), release, "{name}: release");
        assert_eq!(
            dump(&path),
            want,
            "{name}: coretool btf differs from the raw BTF's dump"
        );
    }
}

#[test]
fn big_endian_btf_is_read_as_big_endian() {
    let be = source::load(Some(&fixture("core_all_kinds.bpfeb.btf")), None).unwrap();
    let le = source::load(Some(&fixture("core_all_kinds.btf")), None).unwrap();
    assert_eq!(be.btf.endian(), Endian::Big);
    assert_eq!(le.btf.endian(), Endian::Little);
    assert_ne!(be.btf.raw_bytes(), le.btf.raw_bytes());
}

#[test]
fn kernel_image_compressions_are_named() {
    for (name, want) in [
        ("vmlinuz-gzip.img", Compression::Gzip),
        ("vmlinuz-xz.img", Compression::Xz),
        ("vmlinuz-zstd.img", Compression::Zstd),
        ("vmlinuz-lz4.img", Compression::Lz4Legacy),
    ] {
        let src = source::load(Some(&fixture(name)), None).unwrap();
        assert_eq!(
            src.containers.first(),
            Some(&Container::KernelImage { compression: want }),
            "{name}"
        );
    }
}

/// Run `coretool btf --btf path` and require: exit 2, nothing on stdout, exactly one line on
/// stderr that names the file and contains `why`, no panic.
fn assert_refused(path: &Path, why: &str) {
    let out = coretool_btf(path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = path.display();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{what}: exit status; stderr: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: wrote to stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{what}: panicked: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{what}: want one line, got: {stderr}"
    );
    let prefix = format!("coretool: {what}: ");
    assert!(
        stderr.starts_with(&prefix),
        "{what}: message does not start with {prefix:?}: {stderr}"
    );
    assert!(
        stderr.contains(why),
        "{what}: message lacks {why:?}: {stderr}"
    );
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn bad_inputs_exit_2_with_one_line_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let raw = std::fs::read(fixture("core_all_kinds.btf")).unwrap();

    assert_refused(&write(dir, "empty.btf", b""), "file is empty");
    assert_refused(dir, "is a directory");
    assert_refused(&dir.join("missing.btf"), "no such file or directory");

    // Truncated BTF: inside the header, at its end, inside the types, inside the strings.
    let header_len = 24;
    for cut in [1, 4, 23, header_len, 100, raw.len() / 2, raw.len() - 1] {
        let why = match cut {
            1 => "not a BTF source", // too short to carry the magic
            _ if cut < header_len => "truncated",
            _ => "lies outside",
        };
        assert_refused(&write(dir, &format!("cut{cut}.btf"), &raw[..cut]), why);
    }

    let mut wrong_magic = raw.clone();
    wrong_magic[0] ^= 0xff;
    assert_refused(
        &write(dir, "wrong_magic.btf", &wrong_magic),
        "not a BTF source",
    );
    assert_refused(
        &write(dir, "text.btf", b"struct task_struct { int pid; };\n"),
        "not a BTF source",
    );

    // ELF files without .BTF: not BPF at all, and BPF built without -g.
    assert_refused(&fixture("not_bpf.o"), "x86-64 ELF file has no .BTF section");
    assert_refused(&fixture("no_btf.bpf.o"), "BPF object has no .BTF section");
    let elf = std::fs::read(fixture("core_all_kinds.bpf.o")).unwrap();
    assert_refused(&write(dir, "cut.bpf.o", &elf[..elf.len() / 2]), "ELF");

    // Compressed containers cut short or damaged.
    for (name, why) in [
        ("core_all_kinds.btf.gz", "gzip data is corrupt"),
        ("core_all_kinds.btf.xz", "xz data is truncated"),
        ("core_all_kinds.btf.zst", "zstd data is corrupt"),
        ("core_all_kinds.btf.lz4", "lz4 data is corrupt"),
        ("core_all_kinds.btf.legacy.lz4", "lz4 data is truncated"),
        ("core_all_kinds.btf.tar.xz", "xz data is truncated"),
        ("vmlinuz-gzip.img", "kernel image is truncated"),
        ("vmlinuz-xz.img", "kernel image is truncated"),
        ("vmlinuz-zstd.img", "kernel image is truncated"),
        ("vmlinuz-lz4.img", "kernel image is truncated"),
    ] {
        let data = std::fs::read(fixture(name)).unwrap();
        let cut = write(dir, &format!("cut-{name}"), &data[..data.len() / 2]);
        assert_refused(&cut, why);
    }
    for name in ["core_all_kinds.btf.gz", "core_all_kinds.btf.xz"] {
        let mut data = std::fs::read(fixture(name)).unwrap();
        let mid = data.len() / 2;
        data[mid] ^= 0x55;
        assert_refused(&write(dir, &format!("flipped-{name}"), &data), "corrupt");
    }
    let image = std::fs::read(fixture("vmlinuz-xz.img")).unwrap();
    assert_refused(
        &write(dir, "short.img", &image[..0x300]),
        "kernel image is truncated",
    );
}

#[test]
fn split_btf_without_base_says_so() {
    // Module BTF (split BTF) off the running kernel, when it has any, else a cached Debian
    // kernel's module that carries BTF (scripts/fetch-kernels.sh).
    let running = std::fs::read_dir("/sys/kernel/btf").ok().and_then(|d| {
        d.filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| !p.ends_with("vmlinux"))
    });
    let cached = || {
        crate::common::cached_kernels().into_iter().find_map(|k| {
            let ko = k.dir.join(format!(
                "lib/modules/{}/kernel/net/key/af_key.ko",
                k.release
            ));
            let elf = std::fs::read(&ko).ok()?;
            coretool::elf::ElfInfo::parse(&elf)
                .ok()?
                .section(".BTF")
                .is_some()
                .then_some(ko)
        })
    };
    require!(
        let Some(module) = running.or_else(cached),
        "no module BTF under /sys/kernel/btf, and no net/key/af_key.ko with BTF in {} \
         (scripts/fetch-kernels.sh)",
        crate::common::kernel_cache().display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("module.btf");
    std::fs::copy(&module, &copy).unwrap();
    assert_refused(&copy, "split BTF");
}
