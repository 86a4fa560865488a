//! The shell completions and man pages under docs/ are what `coretool generate` writes from
//! the clap definitions: a change to the command line regenerates them (`CORETOOL_BLESS=1`).

use std::path::Path;

use crate::common::{tests_dir, BIN};

fn check_fresh(what: &str, checked_in: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["generate", what])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let bless = std::env::var_os("CORETOOL_BLESS").is_some();
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in &names {
        let got = std::fs::read(dir.path().join(name)).unwrap();
        let path = checked_in.join(name);
        if bless {
            std::fs::create_dir_all(checked_in).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (CORETOOL_BLESS=1 writes it)", path.display()));
        assert!(
            want == got,
            "{} is stale: `coretool generate {what} {}` writes something else (CORETOOL_BLESS=1 rewrites it)",
            path.display(),
            checked_in.display()
        );
    }
    let on_disk = std::fs::read_dir(checked_in).unwrap().count();
    assert_eq!(
        on_disk,
        names.len(),
        "{}: files generate does not write",
        checked_in.display()
    );
}

#[test]
fn man_pages_are_fresh() {
    check_fresh("man", &tests_dir().join("../docs/man"));
}

#[test]
fn completions_are_fresh() {
    check_fresh("completions", &tests_dir().join("../docs/completions"));
}

#[test]
fn every_command_has_a_man_page_with_exit_status_and_an_example() {
    let man = tests_dir().join("../docs/man");
    for cmd in [
        "check-btf",
        "btf",
        "vmlinux",
        "relocs",
        "dry-run",
        "selftest",
        "monitor",
    ] {
        let page = std::fs::read_to_string(man.join(format!("coretool-{cmd}.1"))).unwrap();
        assert!(page.contains("Exit status:"), "{cmd}");
        assert!(page.contains("Example"), "{cmd}");
    }
}
