//! Each command's `--help` states only what it does: its own exit statuses, and `--json`/`-v`
//! only where they change something; both still work before the command.

use crate::common::{fixtures, run};

fn help(cmd: &str) -> String {
    let out = run(&[cmd, "--help"]);
    assert_eq!(out.status.code(), Some(0), "{cmd} --help");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_lists_only_the_options_a_command_has() {
    // (command, has --json, has -v)
    for (cmd, json, verbose) in [
        ("btf", true, false),
        ("check-btf", true, false),
        ("vmlinux", false, true),
        ("relocs", true, true),
        ("dry-run", true, true),
        ("compat", true, true),
        ("diff", true, false),
        ("requires", true, true),
        ("selftest", true, true),
        ("monitor", true, false),
    ] {
        let h = help(cmd);
        assert_eq!(h.contains("--json"), json, "{cmd} --help and --json:\n{h}");
        assert_eq!(
            h.contains("--verbose"),
            verbose,
            "{cmd} --help and -v:\n{h}"
        );
        assert!(h.contains("Exit status:"), "{cmd}: {h}");
    }
    assert!(help("btf").contains("1  names, --kind or --id were given and no type matched"));
    assert!(
        !help("vmlinux").contains("\n  1  "),
        "vmlinux never exits 1"
    );
}

#[test]
fn json_and_verbose_work_before_and_after_the_command() {
    let obj = fixtures().join("core_all_kinds.bpf.o");
    let obj = obj.to_str().unwrap();
    let before = run(&["--json", "relocs", obj]);
    let after = run(&["relocs", obj, "--json"]);
    assert_eq!(before.status.code(), Some(0));
    assert_eq!(before.stdout, after.stdout);
    let v_before = run(&["-v", "relocs", obj]);
    let v_after = run(&["relocs", "-v", obj]);
    assert_eq!(v_before.stdout, v_after.stdout);
}
