//! Helpers shared by the integration tests: run the built binary, compare with golden files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coretool"));
    c.env_remove("NO_COLOR").env("COLUMNS", "200");
    c
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run coretool")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compare `got` with the golden file `name`; with `CORETOOL_BLESS=1`, rewrite it instead.
/// On mismatch, shows the first differing line of expected vs got.
pub fn assert_golden(name: &str, got: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("CORETOOL_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {}: {e} (CORETOOL_BLESS=1 to create)",
            path.display()
        )
    });
    if want != got {
        let (i, (w, g)) = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .find(|(_, (w, g))| w != g)
            .unwrap_or((
                want.lines().count().min(got.lines().count()),
                ("<end>", "<end>"),
            ));
        panic!(
            "output differs from {} at line {}:\n  expected: {w}\n  got:      {g}\n(CORETOOL_BLESS=1 to update)",
            path.display(),
            i + 1
        );
    }
}

pub fn which(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Assert the bad-input contract: exit 2, one line on stderr naming `path`, nothing on stdout.
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
