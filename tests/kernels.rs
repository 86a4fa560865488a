//! `coretool btf --btf <vmlinuz>` against bpftool on real kernels.
//!
//! For every kernel that `scripts/fetch-kernels.sh` unpacked into the cache
//! (`$CORETOOL_KERNEL_CACHE`, default `~/.cache/coretool/kernels`), the vmlinuz is unpacked a
//! second, independent way (as the kernel's `scripts/extract-vmlinux` does: find a compression
//! magic, decompress with the system's `xz`/`zstd`/`gzip`/`lz4` tools, keep what is an ELF),
//! bpftool dumps that ELF's `.BTF` in raw format, and coretool's dump of the vmlinuz must be
//! the same bytes. The running kernel's `/sys/kernel/btf/vmlinux` is compared too.
//!
//! Without a cache, bpftool or the decompressors, the tests skip loudly (and fail under
//! `CORETOOL_REQUIRE_ALL=1`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use coretool::source::{self, Container};

use crate::common::{cached_kernels, no_cached_kernels, BIN as CORETOOL};

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Decompress `input` with a system tool, ignoring its complaints about trailing data (a
/// kernel image carries the rest of the image after the payload).
fn decompress_with(tool: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool)
        .args(["-dc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        // The tool may stop reading at the end of its stream: a broken pipe is expected.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out.stdout
}

/// The vmlinux ELF inside a vmlinuz, found the way `scripts/extract-vmlinux` finds it: try
/// each compression magic at each place it occurs, keep the first output that is an ELF.
fn extract_vmlinux(vmlinuz: &[u8]) -> Option<Vec<u8>> {
    const MAGICS: &[(&[u8], &str)] = &[
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], "xz"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
        (&[0x1f, 0x8b, 0x08], "gzip"),
        (&[0x02, 0x21, 0x4c, 0x18], "lz4"),
    ];
    for &(magic, tool) in MAGICS {
        let hits = vmlinuz
            .windows(magic.len())
            .enumerate()
            .filter(|(_, w)| *w == magic);
        for (off, _) in hits.take(8) {
            let out = decompress_with(tool, &vmlinuz[off..]);
            if out.starts_with(b"\x7fELF") {
                return Some(out);
            }
        }
    }
    None
}

fn bpftool_raw(file: &Path) -> Vec<u8> {
    run(Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(file)
        .args(["format", "raw"]))
}

fn coretool_raw(src: &Path) -> Vec<u8> {
    run(Command::new(CORETOOL).arg("btf").arg("--btf").arg(src))
}

/// First differing line, for a readable failure instead of two 50 MB strings.
fn assert_same_dump(what: &str, want: &[u8], got: &[u8]) {
    if want == got {
        return;
    }
    let (w, g) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    let (line, (wl, gl)) = w
        .lines()
        .zip(g.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .unwrap_or((w.lines().count().min(g.lines().count()), ("<end>", "<end>")));
    panic!(
        "{what}: coretool differs from bpftool at line {}:\n  bpftool:  {wl}\n  coretool: {gl}\n({} vs {} lines)",
        line + 1,
        w.lines().count(),
        g.lines().count()
    );
}

#[test]
fn vmlinuz_btf_matches_bpftool() {
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    require_tools!("bpftool", "xz", "zstd", "gzip");
    let tmp = tempfile::tempdir().unwrap();
    for k in &kernels {
        let (release, vmlinuz) = (&k.release, &k.vmlinuz);
        // Our reader: the bzImage header names the release, the payload holds an ELF with .BTF.
        let src = source::load(Some(vmlinuz), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            src.release.as_deref(),
            Some(release.as_str()),
            "{}",
            vmlinuz.display()
        );
        assert!(
            matches!(src.containers.first(), Some(Container::KernelImage { .. })),
            "{}: read as {}",
            vmlinuz.display(),
            src.describe()
        );
        assert!(
            src.btf.type_count() > 10_000,
            "{release}: only {} types",
            src.btf.type_count()
        );

        // bpftool's view, from an ELF we did not extract ourselves.
        let image = std::fs::read(vmlinuz).unwrap();
        let elf = extract_vmlinux(&image)
            .unwrap_or_else(|| panic!("{release}: no ELF found in {}", vmlinuz.display()));
        let elf_path = tmp.path().join(format!("vmlinux-{release}"));
        std::fs::write(&elf_path, &elf).unwrap();
        drop(elf);
        let want = bpftool_raw(&elf_path);

        let got = coretool_raw(vmlinuz);
        assert_same_dump(&format!("{release} ({})", src.describe()), &want, &got);

        // The raw .BTF our reader extracted is a BTF source of its own, and bpftool agrees on it.
        let btf_path = tmp.path().join(format!("{release}.btf"));
        std::fs::write(&btf_path, src.btf.raw_bytes()).unwrap();
        assert_same_dump(
            &format!("{release} raw .btf via bpftool"),
            &want,
            &bpftool_raw(&btf_path),
        );
        assert_same_dump(
            &format!("{release} raw .btf via coretool"),
            &want,
            &coretool_raw(&btf_path),
        );
        std::fs::remove_file(&elf_path).unwrap();
        eprintln!(
            "{release}: {} types, {} lines identical to bpftool ({})",
            src.btf.type_count(),
            want.iter().filter(|&&b| b == b'\n').count(),
            src.describe()
        );
    }
}

#[test]
fn running_kernel_btf_matches_bpftool() {
    let sysfs = Path::new(source::SYSFS_VMLINUX);
    require!(
        sysfs.exists(),
        "{} missing (kernel without CONFIG_DEBUG_INFO_BTF)",
        sysfs.display()
    );
    require_tools!("bpftool");
    let want = bpftool_raw(sysfs);
    let got = run(Command::new(CORETOOL).arg("btf"));
    assert_same_dump("running kernel", &want, &got);
}
