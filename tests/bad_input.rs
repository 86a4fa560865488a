//! The bad-input contract, for every command that reads a file: whatever the file is (empty,
//! truncated, wrong magic, random bytes, a non-BPF ELF, a directory, missing, unreadable, a
//! FIFO), coretool exits 2 with exactly one stderr line naming the file and the problem,
//! prints nothing on stdout, leaves no output file behind, and never hangs.
//!
//! An object or BTF of the other byte order is valid input everywhere: coretool reads both
//! (a big-endian `.bpf.o` is what `clang -target bpfeb` builds for s390x), and dry-run relocates
//! either against either.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{self, assert_bad_input, fixtures, stderr};

/// Longest any run may take; `timeout` kills a hung coretool (exit 124) and the test fails.
const TIMEOUT_SECS: &str = "30";

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// A command that reads one file: its arguments with `{}` where the file goes; `-o FILE` is
/// added for commands that write one.
struct Reader {
    args: Vec<String>,
    writes_output: bool,
    /// Valid inputs for that slot, to truncate and corrupt.
    valid: &'static [&'static str],
}

const BTF_SOURCES: &[&str] = &[
    "core_all_kinds.btf",
    "core_all_kinds.bpf.o",
    "core_all_kinds.btf.gz",
    "core_all_kinds.btf.xz",
    "core_all_kinds.btf.zst",
    "core_all_kinds.btf.lz4",
    "core_all_kinds.btf.legacy.lz4",
    "core_all_kinds.btf.tar.xz",
    "vmlinuz-gzip.img",
    "vmlinuz-xz.img",
    "vmlinuz-zstd.img",
    "vmlinuz-lz4.img",
];

fn readers() -> Vec<Reader> {
    readers_in(&fixtures())
}

/// [`readers`] with the fixtures they name taken from `dir` (for nobody: a copy it can read).
fn readers_in(dir: &std::path::Path) -> Vec<Reader> {
    let fixture = |name: &str| dir.join(name).display().to_string();
    let split = fixture("bad-input/split-on-core_all_kinds.btf");
    let btf = fixture("core_all_kinds.btf");
    let obj = fixture("core_all_kinds.bpf.o");
    let r = |args: &[&str], writes_output, valid| Reader {
        args: args.iter().map(|a| a.to_string()).collect(),
        writes_output,
        valid,
    };
    vec![
        // Every container a BTF source may come in, truncated and corrupted; the other
        // commands share this reader.
        r(&["btf", "--btf", "{}"], false, BTF_SOURCES),
        r(
            &["btf", "--btf", &split, "--base", "{}"],
            false,
            &["core_all_kinds.btf"],
        ),
        r(&["relocs", "{}"], false, &["core_all_kinds.bpf.o"]),
        r(&["vmlinux", "--btf", "{}"], true, &["core_all_kinds.btf"]),
        r(
            &["vmlinux", "--btf", &split, "--base", "{}"],
            true,
            &["core_all_kinds.btf"],
        ),
        r(
            &["vmlinux", "--btf", &btf, "--for", "{}"],
            true,
            &["core_all_kinds.bpf.o"],
        ),
        r(
            &["check-btf", "--btf", "{}"],
            false,
            &["core_all_kinds.btf"],
        ),
        r(
            &["dry-run", "{}", "--offline", "--btf", &btf],
            false,
            &["core_all_kinds.bpf.o"],
        ),
        r(
            &["dry-run", &obj, "--offline", "--btf", "{}"],
            false,
            &["core_all_kinds.btf"],
        ),
        // diff reads kernels as compat does (never the user's BTF cache here).
        r(
            &["diff", "--no-cache", "--btf", &btf, "--btf", "{}"],
            false,
            &["core_all_kinds.btf"],
        ),
        r(
            &[
                "diff",
                "--no-cache",
                "--btf",
                &btf,
                "--btf",
                &btf,
                "--for",
                "{}",
            ],
            false,
            &["core_all_kinds.bpf.o"],
        ),
        r(
            &["requires", "{}", "--no-cache", "--btf", &btf],
            false,
            &["core_all_kinds.bpf.o"],
        ),
        r(
            &["requires", &obj, "--no-cache", "--btf", "{}"],
            false,
            &["core_all_kinds.btf"],
        ),
    ]
}

impl Reader {
    fn name(&self) -> String {
        self.args.join(" ")
    }

    /// Run on `input`; with `as_nobody`, through setpriv as an unprivileged user.
    fn run(&self, input: &str, out_dir: &Path, as_nobody: bool) -> (Output, Option<PathBuf>) {
        let mut cmd = if as_nobody {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "timeout",
            ]);
            c
        } else {
            Command::new("timeout")
        };
        let bin = if as_nobody {
            common::nobody_tree().bin.as_path()
        } else {
            Path::new(common::BIN)
        };
        cmd.args(["--kill-after=5", TIMEOUT_SECS]).arg(bin);
        cmd.args(self.args.iter().map(|a| a.replace("{}", input)));
        let out_file = self.writes_output.then(|| out_dir.join("vmlinux.h"));
        if let Some(f) = &out_file {
            cmd.arg("-o").arg(f);
        }
        cmd.env_remove("NO_COLOR").env("COLUMNS", "200");
        let o = cmd
            .stdin(Stdio::null())
            .output()
            .expect("run coretool under timeout");
        (o, out_file)
    }

    /// Run on `input` and check the whole contract.
    fn assert_refuses(&self, input: &str, what: &str, out_dir: &Path, as_nobody: bool) {
        let (o, out_file) = self.run(input, out_dir, as_nobody);
        assert_ne!(
            o.status.code(),
            Some(124),
            "`{}` on {what} hung; stderr: {}",
            self.name(),
            stderr(&o)
        );
        eprintln!("{} / {what}: {}", self.name(), stderr(&o).trim_end());
        assert_bad_input(&o, input);
        if let Some(f) = out_file {
            assert!(
                !f.exists(),
                "`{}` on {what} left {} behind",
                self.name(),
                f.display()
            );
        }
    }
}

/// A deterministic pseudo-random byte string (xorshift), so failures reproduce.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// The bad files for one valid input: `(what, path)`.
fn bad_files(dir: &Path, valid: &str) -> Vec<(String, PathBuf)> {
    let data = std::fs::read(fixtures().join(valid)).unwrap();
    let mut files = Vec::new();
    // A kernel image has padding after its compressed payload: losing the last byte is fine.
    let last = if valid.starts_with("vmlinuz") {
        data.len() / 2
    } else {
        data.len() - 1
    };
    let mut add = |what: String, bytes: &[u8]| {
        let path = dir.join(format!("{}.bad", files.len()));
        std::fs::write(&path, bytes).unwrap();
        files.push((what, path));
    };
    add("an empty file".into(), b"");
    for cut in [1, 8, 24, 64, data.len() / 2, last] {
        add(format!("{valid} truncated to {cut} bytes"), &data[..cut]);
    }
    // A bzImage's magic is the boot protocol's `HdrS` at 0x202; everything else starts with it.
    let magic_at = if valid.starts_with("vmlinuz") {
        0x202
    } else {
        0
    };
    let mut bad_magic = data.clone();
    bad_magic[magic_at..magic_at + 4].copy_from_slice(b"\x13\x37\xc0\xde");
    add(format!("{valid} with wrong magic"), &bad_magic);
    add("4 KiB of random bytes".into(), &random_bytes(4096, 0x5eed));
    add(
        "an x86-64 ELF object".into(),
        &std::fs::read(fixtures().join("not_bpf.o")).unwrap(),
    );
    files.push(("a directory".into(), dir.join("a-directory")));
    std::fs::create_dir(dir.join("a-directory")).unwrap();
    files.push(("a missing path".into(), dir.join("does-not-exist")));
    files
}

#[test]
fn every_reader_refuses_bad_files() {
    for reader in readers() {
        let out_dir = tempfile::tempdir().unwrap();
        for valid in reader.valid {
            let dir = tempfile::tempdir().unwrap();
            for (what, path) in bad_files(dir.path(), valid) {
                reader.assert_refuses(&path.display().to_string(), &what, out_dir.path(), false);
            }
        }
    }
}

/// A FIFO nobody writes to: opening it for reading would block forever.
#[test]
fn every_reader_refuses_a_fifo_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    for reader in readers() {
        let out_dir = tempfile::tempdir().unwrap();
        reader.assert_refuses(fifo.to_str().unwrap(), "a FIFO", out_dir.path(), false);
    }
}

/// A root-owned 0600 file, read by an unprivileged user.
#[test]
fn every_reader_refuses_an_unreadable_file() {
    require_root!("needs root to run coretool as nobody");
    let probe = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&common::nobody_tree().bin)
        .arg("--version")
        .output();
    require!(
        probe.is_ok(),
        "setpriv (util-linux) missing: {}",
        probe.as_ref().unwrap_err()
    );
    let probe = probe.unwrap();
    require!(
        probe.status.success(),
        "nobody cannot run {}: {}",
        common::nobody_tree().bin.display(),
        stderr(&probe).trim()
    );
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // The other inputs each command takes come from a copy nobody can read: CI may clone the
    // tree under a directory only root may enter.
    for reader in readers_in(&common::nobody_tree().fixtures) {
        let file = dir.path().join(format!("secret-{}", reader.valid[0]));
        std::fs::copy(fixtures().join(reader.valid[0]), &file).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (o, _) = reader.run(file.to_str().unwrap(), dir.path(), true);
        assert!(
            !stderr(&o).contains("setpriv:"),
            "setpriv failed: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("permission denied"),
            "`{}`: {}",
            reader.name(),
            stderr(&o)
        );
        // The output file goes into a directory nobody may write, so only the input's error
        // can be reported: check the contract without -o.
        let no_out = Reader {
            args: reader.args.clone(),
            writes_output: false,
            valid: reader.valid,
        };
        no_out.assert_refuses(
            file.to_str().unwrap(),
            "an unreadable file",
            dir.path(),
            true,
        );
    }
}

/// The other byte order is valid input: a big-endian object or BTF reads like a little-endian
/// one (relocs decodes it, btf dumps it, vmlinux writes a header from it).
#[test]
fn the_other_endianness_is_accepted() {
    let be_obj = fixture("core_all_kinds.bpfeb.o");
    let be_btf = fixture("core_all_kinds.bpfeb.btf");
    let le_btf = fixture("core_all_kinds.btf");
    let le_obj = fixture("core_all_kinds.bpf.o");
    for args in [
        vec!["relocs", &be_obj],
        vec!["btf", "--btf", &be_obj],
        vec!["btf", "--btf", &be_btf],
        vec!["vmlinux", "--btf", &be_btf],
        vec!["vmlinux", "--btf", &le_btf, "--for", &be_obj],
        vec!["dry-run", &be_obj, "--offline", "--btf", &be_btf],
    ] {
        let o = common::run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(!o.stdout.is_empty(), "{args:?}: no output");
    }
    // An object and a kernel of different byte orders are read (the values are shown), and
    // the verdict is that it cannot load there: a finding, exit 1, not bad input.
    for args in [
        vec!["dry-run", &be_obj, "--offline", "--btf", &le_btf],
        vec!["dry-run", &le_obj, "--offline", "--btf", &be_btf],
    ] {
        let o = common::run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(!o.stdout.is_empty(), "{args:?}: no output");
    }
    // check-btf's verdict depends on this machine (0 or 1); the input itself must be read.
    let o = common::run(&["check-btf", "--btf", &be_btf]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "check-btf on {be_btf}: {:?} {}",
        o.status.code(),
        stderr(&o)
    );
}

/// 2000 `const`s in a chain: legal BTF, but libbpf's `btf_dump` recurses once per level (a
/// 200,000-long chain overflowed the stack), so vmlinux refuses anything nested deeper than
/// `vmlinux::MAX_NESTING` before handing it over.
#[test]
fn vmlinux_refuses_nesting_deeper_than_libbpf_can_dump() {
    let deep = fixture("bad-input/const-chain-2000.btf");
    let out_dir = tempfile::tempdir().unwrap();
    let reader = Reader {
        args: vec!["vmlinux".into(), "--btf".into(), "{}".into()],
        writes_output: true,
        valid: &[],
    };
    reader.assert_refuses(&deep, "a 2000-deep const chain", out_dir.path(), false);
    let (o, _) = reader.run(&deep, out_dir.path(), false);
    assert!(
        stderr(&o).contains("nests more than 1024 types deep"),
        "{}",
        stderr(&o)
    );
    // Other commands have no such recursion: btf dumps it.
    let o = common::run(&["btf", "--btf", &deep]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// BTF with a reference cycle C cannot express (a `const`/`volatile` loop, a typedef loop, a
/// struct holding itself by value or in an array, a prototype returning a pointer to itself):
/// libbpf's `skip_mods_and_typedefs` and `btf_dump` never return on some of these (dry-run
/// hung, vmlinux overflowed its stack). Every reader refuses them in every slot, naming the
/// file and the types of the cycle, before libbpf sees them; vmlinux's deeper-than-1024 check
/// comes later and is a different error.
#[test]
fn every_reader_refuses_reference_cycles() {
    let out_dir = tempfile::tempdir().unwrap();
    let btfs = [
        (
            "cycle-const-volatile.btf",
            "[2] const <anon> -> [3] volatile <anon> -> [2]",
        ),
        ("cycle-typedef.btf", "[2] typedef a -> [3] typedef b -> [2]"),
        ("cycle-struct-by-value.btf", "[2] struct s -> [2]"),
        (
            "cycle-array-of-itself.btf",
            "[2] struct s -> [3] array <anon> -> [2]",
        ),
        (
            "cycle-proto-returns-itself.btf",
            "[1] func_proto <anon> -> [2] ptr <anon> -> [1]",
        ),
        (
            "cycle-typedef-in-core_all_kinds.btf",
            "[15] typedef pid_t -> [15]",
        ),
    ];
    let object = (
        "cycle-typedef-in-object.bpf.o",
        "[15] typedef pid_t -> [15]",
    );
    for reader in readers() {
        let takes_object = reader.valid.iter().any(|v| v.ends_with(".o"));
        let inputs: Vec<(&str, &str)> = if takes_object {
            vec![object]
        } else {
            btfs.to_vec()
        };
        for (file, cycle) in inputs {
            let path = fixture(&format!("bad-input/{file}"));
            reader.assert_refuses(&path, file, out_dir.path(), false);
            let (o, _) = reader.run(&path, out_dir.path(), false);
            let err = stderr(&o);
            assert!(
                err.contains(&format!("BTF type cycle {cycle}: ")),
                "`{}` on {file}: {err}",
                reader.name()
            );
        }
    }
    // An object's BTF is refused the same way wherever a BTF source is read.
    let obj = fixture(&format!("bad-input/{}", object.0));
    for args in [vec!["btf", "--btf", &obj], vec!["vmlinux", "--btf", &obj]] {
        let o = common::run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(object.1), "{args:?}: {}", stderr(&o));
    }
}
