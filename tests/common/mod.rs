//! What every integration test shares: the built binary, fixture and golden-file paths, the one
//! golden-file helper, host lookups (root, programs on `PATH`, bpftool, the Debian kernel
//! cache) and the one rule for a missing prerequisite.
//!
//! The rule: a test that cannot run here (no root, no bpftool, no kernel BTF, no cached
//! kernels...) says `skipping <test>: <reason>` on the process's real stderr and passes, so a
//! developer's plain `cargo test` works anywhere; with `CORETOOL_REQUIRE_ALL=1` (which `.ci/run`
//! sets once it has installed everything and mounted bpffs and tracefs) it fails with that
//! reason instead, so CI never turns a missing prerequisite into a pass. Use [`require!`] and
//! [`require_root!`] for that; never `eprintln!` and `return`: libtest captures `eprintln!` of
//! a passing test, so nobody would see the skip.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The `coretool` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_coretool");

/// The environment variable that turns skips into failures.
pub const REQUIRE_ALL: &str = "CORETOOL_REQUIRE_ALL";

/// The environment variable that makes [`assert_golden`] rewrite golden files.
pub const BLESS: &str = "CORETOOL_BLESS";

/// `coretool` with colour left to its flags and a wide terminal.
pub fn bin() -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("NO_COLOR").env("COLUMNS", "200");
    c
}

/// Run `coretool args` (as [`bin`]) holding the kernel-state lock shared: some commands load
/// BPF objects (check-btf's probes, dry-run's prepare).
pub fn run(args: &[&str]) -> Output {
    let _shared = kernel_shared();
    bin().args(args).output().expect("run coretool")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `tests/`: golden paths given to [`assert_golden`] are relative to it.
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// `tests/fixtures/`.
pub fn fixtures() -> PathBuf {
    tests_dir().join("fixtures")
}

/// A BTFHub-layout tree under `root`: the all-kinds fixture's `.btf.tar.xz` as release
/// `6.99.0-coretool-fixture` of ubuntu 20.04 and 22.04 (x86_64) and fedora 38 (arm64), each
/// `distro/version/arch/` directory also holding a README that is no kernel.
pub fn btfhub_tree(root: &Path) {
    let hub = fixtures().join("core_all_kinds.btf.tar.xz");
    for (d, v, a) in [
        ("ubuntu", "20.04", "x86_64"),
        ("ubuntu", "22.04", "x86_64"),
        ("fedora", "38", "arm64"),
    ] {
        let sub = root.join(d).join(v).join(a);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::copy(&hub, sub.join("6.99.0-coretool-fixture.btf.tar.xz")).unwrap();
        std::fs::write(sub.join("README.md"), "not a kernel").unwrap();
    }
}

/// `tests/golden/`.
pub fn golden_dir() -> PathBuf {
    tests_dir().join("golden")
}

/// Compare `got` with the golden file at `path` (relative to `tests/`, e.g.
/// `golden/relocs/core_all_kinds.txt` or `fixtures/check-btf/golden-machine.txt`). With
/// `CORETOOL_BLESS=1`, write `got` there instead. A mismatch shows where the two first differ,
/// expected and got side by side with a few lines around.
#[track_caller]
pub fn assert_golden(path: &str, got: &str) {
    let path = tests_dir().join(path);
    if std::env::var_os(BLESS).is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("golden file {}: {e} ({BLESS}=1 creates it)", path.display()));
    if want != got {
        panic!(
            "output differs from {}\n{}({BLESS}=1 rewrites the golden file)",
            path.display(),
            first_difference(&want, got)
        );
    }
}

/// Where `want` and `got` first differ: the line number and up to 3 lines before and 5 after
/// from each side, then both sizes.
pub fn first_difference(want: &str, got: &str) -> String {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let at = (0..w.len().max(g.len()))
        .find(|&i| w.get(i) != g.get(i))
        // Same lines, different bytes: only the final newline differs.
        .unwrap_or(w.len().min(g.len()));
    let from = at.saturating_sub(3);
    let side = |name: &str, lines: &[&str]| {
        let mut s = format!("--- {name}\n");
        for (i, l) in lines.iter().enumerate().skip(from).take(at + 6 - from) {
            let mark = if i == at { '>' } else { ' ' };
            s.push_str(&format!("{mark}{:5} | {l}\n", i + 1));
        }
        if at >= lines.len() {
            s.push_str(&format!(">{:5} | <end of output>\n", at + 1));
        }
        s
    };
    format!(
        "first difference at line {}:\n{}{}({} lines, {} bytes expected; {} lines, {} bytes got)\n",
        at + 1,
        side("expected", &w),
        side("got", &g),
        w.len(),
        want.len(),
        g.len(),
        got.len()
    )
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Where `program` is on `PATH`, as a shell's `command -v` finds it.
pub fn which(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether bpffs is mounted on /sys/fs/bpf (where `bpftool prog loadall` pins).
pub fn bpffs_mounted() -> bool {
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let mut f = l.split_whitespace().skip(1);
            (f.next(), f.next()) == (Some("/sys/fs/bpf"), Some("bpf"))
        })
}

/// The running kernel's BTF.
pub const SYSFS_VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Whether the running kernel exposes its BTF (CONFIG_DEBUG_INFO_BTF).
pub fn have_kernel_btf() -> bool {
    Path::new(SYSFS_VMLINUX).exists()
}

/// The Debian kernels `scripts/fetch-kernels.sh` unpacks: `$CORETOOL_KERNEL_CACHE`, default
/// `~/.cache/coretool/kernels`.
pub fn kernel_cache() -> PathBuf {
    match std::env::var_os("CORETOOL_KERNEL_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/coretool/kernels"),
    }
}

/// One unpacked kernel package in the [`kernel_cache`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CachedKernel {
    /// `uname -r` of that kernel, the name of its directory.
    pub release: String,
    /// The unpacked package: `boot/`, `lib/modules/<release>/`.
    pub dir: PathBuf,
    /// `boot/vmlinuz-<release>`.
    pub vmlinuz: PathBuf,
}

/// Every cached kernel that has its vmlinuz, sorted by release.
pub fn cached_kernels() -> Vec<CachedKernel> {
    let cache = kernel_cache();
    let mut found: Vec<CachedKernel> = std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let release = e.file_name().into_string().ok()?;
            let vmlinuz = e.path().join("boot").join(format!("vmlinuz-{release}"));
            vmlinuz.is_file().then(|| CachedKernel {
                release,
                dir: e.path(),
                vmlinuz,
            })
        })
        .collect();
    found.sort();
    found
}

/// The reason to give when [`cached_kernels`] is empty.
/// The cross-architecture kernel corpus CI fetches (`scripts/fetch-fleet.sh --subset ci
/// --dest DIR`): `$CORETOOL_FLEET_CI`, else `~/.cache/coretool/fleet-ci`.
pub fn fleet_ci() -> PathBuf {
    match std::env::var_os("CORETOOL_FLEET_CI") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/coretool/fleet-ci"),
    }
}

pub fn no_cached_kernels() -> String {
    format!(
        "no kernels in {} (run scripts/fetch-kernels.sh)",
        kernel_cache().display()
    )
}

/// Whether a missing prerequisite fails the test (`CORETOOL_REQUIRE_ALL=1`).
pub fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL).is_some_and(|v| v == "1")
}

/// Write one line to the process's real stderr, past libtest's capture (which only sees
/// `print!`/`eprint!`).
pub fn say(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(format!("{line}\n").as_bytes());
    let _ = err.flush();
}

/// `what` (a test, or part of one) cannot run here because of `reason`: say so on the real
/// stderr, or, with `CORETOOL_REQUIRE_ALL=1`, fail. The caller returns (or carries on with
/// what it can still check).
#[track_caller]
pub fn skip(what: &str, reason: &str) {
    if require_all() {
        panic!("{what}: {reason} ({REQUIRE_ALL}=1: a missing prerequisite is a failure)");
    }
    say(&format!("skipping {what}: {reason}"));
}

/// The test a macro was expanded in, as libtest names it (`dry_run::leaves_nothing_in_the_kernel`),
/// from the type name of a function item declared inside it.
pub fn test_name(item_type_name: &'static str) -> &'static str {
    let mut name = item_type_name
        .strip_suffix("::here")
        .unwrap_or(item_type_name);
    while let Some(outer) = name.strip_suffix("::{{closure}}") {
        name = outer;
    }
    name.split_once("::").map_or(name, |(_crate, path)| path)
}

/// The name of the test this is expanded in (see [`test_name`]).
macro_rules! this_test {
    () => {{
        fn here() {}
        $crate::common::test_name(::std::any::type_name_of_val(&here))
    }};
}

/// `require!(condition, "reason {}", args)`: unless `condition` holds, skip the test (loudly)
/// or, with `CORETOOL_REQUIRE_ALL=1`, fail it.
///
/// `require!(let PATTERN = EXPR, "reason")`: the same, unless `EXPR` matches `PATTERN`, whose
/// bindings the rest of the test then uses.
macro_rules! require {
    (let $pat:pat = $expr:expr, $($reason:tt)+) => {
        let $pat = $expr else {
            $crate::common::skip(this_test!(), &format!($($reason)+));
            return;
        };
    };
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            $crate::common::skip(this_test!(), &format!($($reason)+));
            return;
        }
    };
}

/// `require_root!()` or `require_root!("why root")`: [`require!`] that this process is root.
macro_rules! require_root {
    () => {
        require!($crate::common::is_root(), "needs root")
    };
    ($($why:tt)+) => {
        require!($crate::common::is_root(), $($why)+)
    };
}

/// `require_tools!("bpftool", "jq")`: [`require!`] that each program is on `PATH` (tests run
/// them by name, as `Command::new("bpftool")`).
macro_rules! require_tools {
    ($($tool:expr),+ $(,)?) => {
        $(
            require!(
                $crate::common::which($tool).is_some(),
                "{} is not installed (not on PATH)",
                $tool
            );
        )+
    };
}

/// Tests that load BPF objects into the kernel hold this shared while they do; a test that
/// compares the kernel's global BPF state before and after, or counts what a probe sees, holds
/// it exclusively, so no other test's objects or processes show up in between. (All tests run
/// in one process, in parallel.) Never take it twice in one thread: a second shared lock while
/// a writer waits deadlocks.
static KERNEL_STATE: RwLock<()> = RwLock::new(());

pub fn kernel_shared() -> RwLockReadGuard<'static, ()> {
    KERNEL_STATE.read().unwrap_or_else(|e| e.into_inner())
}

pub fn kernel_exclusive() -> RwLockWriteGuard<'static, ()> {
    KERNEL_STATE.write().unwrap_or_else(|e| e.into_inner())
}

/// Assert the bad-input contract: exit 2, one line on stderr naming `path`, nothing on stdout.
#[track_caller]
pub fn assert_bad_input(o: &Output, path: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "exit code for {path}; stderr: {err}"
    );
    assert_eq!(
        err.lines().count(),
        1,
        "one-line error expected, got: {err}"
    );
    assert!(err.contains(path), "error should name {path}: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(o.stdout.is_empty(), "no output expected on bad input");
}

/// A place an unprivileged user can reach: CI may clone the tree under a directory only root
/// may enter (a 0700 `mktemp -d`), so tests that drop to `nobody` run a copy of the binary and
/// of the fixtures from here. Made once per test process, 0755, removed when it exits.
pub struct NobodyTree {
    /// The directory (with `coretool` and `fixtures/` in it).
    pub dir: PathBuf,
    /// The copy of the coretool binary.
    pub bin: PathBuf,
    /// The copy of tests/fixtures.
    pub fixtures: PathBuf,
}

pub fn nobody_tree() -> &'static NobodyTree {
    use std::os::unix::fs::PermissionsExt;
    static TREE: std::sync::OnceLock<NobodyTree> = std::sync::OnceLock::new();
    static DIR: std::sync::OnceLock<std::ffi::CString> = std::sync::OnceLock::new();
    extern "C" fn remove_tree() {
        if let Some(d) = DIR.get() {
            let _ = std::fs::remove_dir_all(d.to_str().unwrap_or_default());
        }
    }
    TREE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("coretool-nobody-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("create the nobody tree");
        DIR.set(std::ffi::CString::new(dir.to_str().unwrap()).unwrap())
            .unwrap();
        // SAFETY: registers a plain extern "C" function with no arguments, run at exit.
        unsafe { libc::atexit(remove_tree) };
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("coretool");
        std::fs::copy(BIN, &bin).expect("copy the binary");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let fixtures_copy = dir.join("fixtures");
        copy_tree(&fixtures(), &fixtures_copy);
        NobodyTree {
            dir,
            bin,
            fixtures: fixtures_copy,
        }
    })
}

/// Copy a directory tree, world-readable.
fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            copy_tree(&e.path(), &dest);
        } else if ty.is_file() {
            std::fs::copy(e.path(), &dest).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}
