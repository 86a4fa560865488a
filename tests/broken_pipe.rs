//! Every command whose output is cut off (`coretool ... | head -1`) exits 0 quietly, as
//! ripgrep does: a broken pipe is the reader's choice, not an error.

use std::process::{Command, Stdio};

use crate::common::{fixtures, have_kernel_btf, kernel_exclusive, kernel_shared, BIN};

/// Run coretool with its stdout a pipe whose reading end is already closed, so its first
/// write fails with EPIPE.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(fixtures())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn coretool");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for coretool");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_quiet_exit(args: &[&str]) {
    let (code, err) = with_closed_stdout(args);
    assert_eq!(code, Some(0), "{args:?}: {err}");
    assert!(
        !err.to_lowercase().contains("broken pipe"),
        "{args:?}: {err}"
    );
}

#[test]
fn offline_commands_exit_0_on_a_broken_pipe() {
    let _shared = kernel_shared();
    for args in [
        &["btf", "--btf", "core_all_kinds.btf"][..],
        &["btf", "--btf", "core_all_kinds.btf", "--json"],
        &["btf", "--btf", "core_all_kinds.btf", "--layout"],
        &["btf", "--btf", "core_all_kinds.btf", "--layout", "--json"],
        &[
            "btf",
            "--btf",
            "core_all_kinds.btf",
            "--kind",
            "struct",
            "--json",
        ],
        &["vmlinux", "--btf", "core_all_kinds.btf"],
        &["relocs", "core_all_kinds.bpf.o"],
        &["--json", "relocs", "core_all_kinds.bpf.o"],
        &[
            "dry-run",
            "core_all_kinds.bpf.o",
            "--btf",
            "core_pair_target.bpf.o",
            "--offline",
        ],
        &[
            "--json",
            "dry-run",
            "core_all_kinds.bpf.o",
            "--btf",
            "core_pair_target.bpf.o",
            "--offline",
        ],
        &["check-btf", "--btf", "core_all_kinds.btf"],
        &["--json", "check-btf", "--btf", "core_all_kinds.btf"],
        &[
            "diff",
            "--no-cache",
            "--btf",
            "diff/diff_old.bpf.o",
            "--btf",
            "diff/diff_new.bpf.o",
            "--for",
            "diff/diff_old.bpf.o",
        ],
    ] {
        assert_quiet_exit(args);
    }
}

#[test]
fn kernel_commands_exit_0_on_a_broken_pipe() {
    require!(have_kernel_btf(), "needs the running kernel's BTF");
    let _shared = kernel_shared();
    for args in [
        &["btf", "--json"][..],
        &["btf", "--layout"],
        &["vmlinux"],
        &["check-btf"],
        &["--json", "check-btf"],
    ] {
        assert_quiet_exit(args);
    }
}

#[test]
fn selftest_and_monitor_exit_0_on_a_broken_pipe() {
    require_root!("selftest and monitor load BPF programs: needs root");
    let _exclusive = kernel_exclusive();
    assert_quiet_exit(&["selftest"]);
    assert_quiet_exit(&["--json", "selftest"]);
    assert_quiet_exit(&["monitor", "--duration", "1"]);
}
