//! `coretool dry-run`: golden outputs of the offline path (no root, no clang), bad inputs, and,
//! as root, the proof that the offline path and libbpf's own prepare agree on every fixture
//! against every kernel BTF at hand, that --load maps a verifier rejection back to its
//! relocation, and that nothing stays in the kernel.

use std::path::PathBuf;
use std::process::{Command, Output};

use coretool::dryrun::log;
use coretool::dryrun::{self as run, Mode, Target};
use coretool::reloc::{Object, Patch};

use crate::common::{
    assert_golden, bpffs_mounted, cached_kernels, fixtures, have_kernel_btf, is_root, kernel_cache,
    kernel_exclusive, kernel_shared, skip, BIN, SYSFS_VMLINUX,
};

/// Tests that run coretool hold the kernel-state lock shared; the test that compares the
/// kernel's BPF objects before and after takes it exclusively, so no other test's programs
/// show up in between.
fn coretool(args: &[&str]) -> Output {
    let _shared = kernel_shared();
    coretool_unlocked(args)
}

fn coretool_unlocked(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(fixtures())
        .env("NO_COLOR", "1")
        .output()
        .expect("run coretool")
}

/// Compare with `tests/golden/<name>`; `CORETOOL_BLESS=1` rewrites it.
#[track_caller]
fn golden(name: &str, got: &str) {
    assert_golden(&format!("golden/{name}"), got);
}

/// `--format markdown`: a row per kernel, then the relocations that keep the object from
/// loading, with their source lines (the job summary of action.yml).
#[test]
fn matrix_markdown_golden() {
    let out = coretool(&[
        "dry-run",
        "dryrun/dryrun_probe.bpf.o",
        "--offline",
        "--btf",
        "dryrun/targets/old_kernel.o",
        "--btf",
        "dryrun/targets/decision_ambiguity.o",
        "--btf",
        "core_all_kinds.btf",
        "--format",
        "markdown",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    golden("dry-run-matrix.md", &String::from_utf8(out.stdout).unwrap());
}

/// `--format markdown --load`: the programs the verifier rejected, with the source line.
#[test]
fn load_markdown_lists_rejected_programs() {
    require_root!("--load loads programs");
    require!(have_kernel_btf(), "no {SYSFS_VMLINUX}");
    let out = coretool(&[
        "dry-run",
        "dryrun/runtime_sized.bpf.o",
        "--load",
        "--format",
        "markdown",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    // record_start loads: the object loads if the loader turns unguarded_read off.
    assert!(text.contains("| :warning: loads-without |"), "{text}");
    assert!(
        text.contains("the loader has to turn off `unguarded_read`"),
        "{text}"
    );
    assert!(
        text.contains("1 program rejected by the verifier"),
        "{text}"
    );
    assert!(
        text.contains("### Programs the verifier rejected"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.contains("`unguarded_read`") && l.contains("runtime_sized.bpf.c:"))
        .unwrap_or_else(|| panic!("no row for unguarded_read with its source line: {text}"));
    assert!(!row.contains("record_start"), "{row}");
}

#[test]
fn matrix_offline_golden() {
    let out = coretool(&[
        "dry-run",
        "dryrun/dryrun_probe.bpf.o",
        "--offline",
        "--btf",
        "dryrun/targets/old_kernel.o",
        "--btf",
        "dryrun/targets/decision_ambiguity.o",
        "--btf",
        "dryrun/targets/offset_ambiguity.o",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    golden(
        "dry-run-matrix.txt",
        &String::from_utf8(out.stdout).unwrap(),
    );
}

#[test]
fn pair_offline_golden() {
    let out = coretool(&[
        "dry-run",
        "core_pair_local.bpf.o",
        "--offline",
        "--btf",
        "core_pair_target.bpf.o",
    ]);
    // `b` was renamed in the target and is read without a guard: a reachable poison.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("poisoned (REACHABLE)"), "{text}");
    assert!(text.contains("poisoned (dead code)"), "{text}");
    golden("dry-run-pair.txt", &text);
}

#[test]
fn json_schema() {
    let out = coretool(&[
        "--json",
        "dry-run",
        "core_pair_local.bpf.o",
        "--offline",
        "--btf",
        "core_pair_target.bpf.o",
        "--btf",
        "core_all_kinds.btf",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "coretool.dry-run/v2");
    assert_eq!(v["mode"], "offline");
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    let relos = targets[0]["relocations"].as_array().unwrap();
    assert_eq!(relos.len(), 16);
    for r in relos {
        for key in [
            "program", "index", "insn", "kind", "accessor", "local", "target", "status",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        if r["status"] == "poisoned" {
            assert!(r["target"].is_null(), "{r}");
        }
    }
    let a = &relos[0];
    assert_eq!(a["accessor"], "struct core_sample.a");
    assert_eq!(
        (a["local"].as_u64(), a["target"].as_u64()),
        (Some(0), Some(16))
    );
    assert_eq!(a["status"], "patched");
    assert_eq!(a["candidate"]["btf"], "vmlinux");
    assert_eq!(targets[0]["verdict"], "fails");
    assert_eq!(targets[0]["summary"]["reachable_poison"], 1);
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    for (args, needle) in [
        (vec!["dry-run", "missing.bpf.o"], "missing.bpf.o"),
        (vec!["dry-run", "not_bpf.o"], "not_bpf.o"),
        (vec!["dry-run", "no_btf.bpf.o"], "no_btf.bpf.o"),
        (
            vec!["dry-run", "corrupt_ext_magic.bpf.o"],
            "corrupt_ext_magic.bpf.o",
        ),
        (
            vec!["dry-run", "core_pair_local.bpf.o", "--btf", "not_bpf.o"],
            "not_bpf.o",
        ),
        (
            vec!["dry-run", "core_pair_local.bpf.o", "--btf", "dryrun"],
            "dryrun",
        ),
    ] {
        let out = coretool(&args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed output");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// Kernel BTFs the project tests with: the running kernel's and the Debian kernels that
/// `scripts/fetch-kernels.sh` caches.
fn kernel_btfs() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(SYSFS_VMLINUX)];
    out.extend(cached_kernels().into_iter().map(|k| k.vmlinuz));
    if out.len() == 1 {
        skip(
            "the Debian kernels in dry_run::offline_agrees_with_libbpf",
            &format!(
                "none in {} (scripts/fetch-kernels.sh): comparing on the running kernel and fixture BTFs only",
                kernel_cache().display()
            ),
        );
    }
    out
}

/// The acceptance proof for the offline path: on every fixture object and every target BTF,
/// libbpf's own prepare and the offline calculator produce the same log lines for CO-RE and
/// the same fixups.
#[test]
fn offline_agrees_with_libbpf() {
    require_root!("libbpf's prepare needs root (bpf())");
    require!(have_kernel_btf(), "no {SYSFS_VMLINUX}");
    let _shared = kernel_shared();
    let f = fixtures();
    let objects = [
        f.join("dryrun/dryrun_probe.bpf.o"),
        f.join("dryrun/unguarded.bpf.o"),
        f.join("dryrun/subprog.bpf.o"),
        f.join("core_all_kinds.bpf.o"),
        f.join("core_all_kinds.bpfeb.o"),
        f.join("core_pair_local.bpf.o"),
    ];
    let mut targets: Vec<Option<PathBuf>> = vec![None];
    targets.extend(kernel_btfs().into_iter().map(Some));
    for t in ["old_kernel", "decision_ambiguity", "offset_ambiguity"] {
        targets.push(Some(f.join(format!("dryrun/targets/{t}.o"))));
    }
    targets.push(Some(f.join("core_pair_target.bpf.o")));
    let mut compared = 0;
    for t in &targets {
        let src = coretool::source::load(t.as_deref(), None).unwrap();
        for o in &objects {
            let obj = Object::parse(o, std::fs::read(o).unwrap()).unwrap();
            let target = Target {
                btf: &src,
                default_kernel: t.is_none(),
            };
            let live = run::run(&obj, &target, Mode::Libbpf, false).unwrap();
            let off = run::run(&obj, &target, Mode::Offline, false).unwrap();
            let what = format!("{} on {:?}", o.display(), t);
            assert_eq!(core_lines(&live.log), core_lines(&off.log), "{what}: logs");
            assert_eq!(live.result, off.result, "{what}: fixups");
            assert!(
                live.prepare_error.is_none(),
                "{what}: {:?}",
                live.prepare_error
            );
            compared += 1;
        }
    }
    eprintln!("offline and libbpf agree on {compared} object/kernel pairs");
}

/// The lines libbpf's relocation calculator (relo_core.c) printed, in order: both engines run
/// it, so both logs must hold the same ones. What libbpf's loader prints around it (section
/// counts, candidate search, "failed to relocate") is only in the libbpf engine's log; the
/// typed results carry those facts and are compared separately.
fn core_lines(log_text: &str) -> Vec<String> {
    log_text
        .lines()
        .map(|l| l.strip_prefix("libbpf: ").unwrap_or(l))
        .filter(|l| log::parse_line(l).is_some_and(|r| r.relocation().is_some()))
        .filter(|l| {
            !l.contains("poisoning insn")
                && !l.contains("failed to relocate")
                && !l.contains("candidate search failed")
        })
        .map(str::to_owned)
        .collect()
}

/// The kernel's BPF programs, maps and BTF objects, as `prog 12`, `map 7`, `btf 40`.
fn bpftool_state() -> Option<std::collections::BTreeSet<String>> {
    let mut s = std::collections::BTreeSet::new();
    for what in ["prog", "map", "btf"] {
        let out = Command::new("bpftool").args([what, "show"]).output().ok()?;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((id, _)) = line.split_once(": ") {
                if id.parse::<u32>().is_ok() {
                    s.insert(format!("{what} {id}"));
                }
            }
        }
    }
    Some(s)
}

#[test]
fn leaves_nothing_in_the_kernel() {
    require_root!();
    require_tools!("bpftool");
    let _exclusive = kernel_exclusive();
    require!(let Some(before) = bpftool_state(), "bpftool could not be run");
    for args in [
        vec!["dry-run", "dryrun/dryrun_probe.bpf.o"],
        vec!["dry-run", "dryrun/dryrun_probe.bpf.o", "--load"],
        vec!["dry-run", "dryrun/unguarded.bpf.o", "--load"],
        vec!["dry-run", "dryrun/runtime_sized.bpf.o", "--load"],
    ] {
        let out = coretool_unlocked(&args);
        assert!(
            out.status.code().is_some_and(|c| c < 2),
            "{args:?}: {out:?}"
        );
    }
    // The kernel frees BPF objects after an RCU grace period: allow it a moment. Objects an
    // earlier test released may still be going away, so only new ones count.
    let mut left = Vec::new();
    for _ in 0..50 {
        left = bpftool_state()
            .unwrap()
            .difference(&before)
            .cloned()
            .collect();
        if left.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("dry-run left BPF objects in the kernel: {left:?}");
}

#[test]
fn load_maps_verifier_rejection_to_relocation() {
    require_root!("--load needs root");
    let out = coretool(&["dry-run", "dryrun/unguarded.bpf.o", "--load"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("reached poisoned insn #9 (relo #1) at unguarded.bpf.c:19"),
        "{text}"
    );
    let out = coretool(&["dry-run", "dryrun/dryrun_probe.bpf.o", "--load"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("poisoned (dead code)"), "{text}");
    assert!(text.contains("verifier checked"), "{text}");
}

/// Unprivileged, dry-run computes offline by itself and agrees with `--offline` as root.
#[test]
fn unprivileged_runs_offline() {
    if !is_root() {
        let out = coretool(&[
            "dry-run",
            "core_pair_local.bpf.o",
            "--btf",
            "core_pair_target.bpf.o",
        ]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(", offline)"));
        return;
    }
    let probe = Command::new("setpriv").arg("--help").output();
    require!(probe.is_ok(), "setpriv (util-linux) not installed");
    let args = [
        "dry-run",
        "core_all_kinds.bpf.o",
        "--btf",
        "/sys/kernel/btf/vmlinux",
    ];
    let as_nobody = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&crate::common::nobody_tree().bin)
        .args(args)
        .current_dir(&crate::common::nobody_tree().fixtures)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let mut root_args = args.to_vec();
    root_args.push("--offline");
    let as_root = coretool(&root_args);
    let live = coretool(&args);
    assert_eq!(
        as_nobody.status.code(),
        as_root.status.code(),
        "{as_nobody:?}"
    );
    // Unprivileged offline is the normal case: the title says so, stderr stays empty
    // (docs/dry-run.md).
    assert!(
        as_nobody.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&as_nobody.stderr)
    );
    let nobody = String::from_utf8(as_nobody.stdout).unwrap();
    assert!(nobody.contains(", offline)"), "{nobody}");
    assert_eq!(nobody, String::from_utf8(as_root.stdout).unwrap());
    // And the table equals the libbpf path's, but for the mode in the title line.
    let live = String::from_utf8(live.stdout).unwrap();
    assert_eq!(
        nobody.replace(", offline)", ")"),
        live.replace(", libbpf prepare)", ")")
    );
}

/// Ground truth: what libbpf (bpftool's own copy, 1.1 here) prints when it really loads the
/// object on this kernel equals dry-run's rows, from the default target, from `--btf` with the
/// kernel's BTF file, and offline.
#[test]
fn matches_a_real_load_by_bpftool() {
    require_root!("loading needs root");
    require_tools!("bpftool");
    require!(bpffs_mounted(), "bpffs not mounted on /sys/fs/bpf");
    for obj in ["core_all_kinds.bpf.o", "dryrun/dryrun_probe.bpf.o"] {
        let pin = format!("/sys/fs/bpf/coretool-test-{}", std::process::id());
        // Shared, not across `coretool()` below, which takes it again: a second read lock
        // while a writer waits would deadlock.
        let shared = kernel_shared();
        let out = Command::new("bpftool")
            .args(["-d", "prog", "loadall", obj, &pin])
            .current_dir(fixtures())
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&pin);
        drop(shared);
        assert!(out.status.success(), "bpftool loadall {obj}: {out:?}");
        // (program, relo index) -> "local -> target" or "poisoned", from libbpf's lines.
        let mut truth = std::collections::BTreeMap::new();
        for r in log::parse(&String::from_utf8_lossy(&out.stderr)) {
            match r {
                log::Record::Patched {
                    prog, relo, patch, ..
                } if !matches!(patch, Patch::MemSz { .. }) => {
                    let (a, b) = patch.values();
                    truth.insert((prog, relo as u64), format!("{a} -> {b}"));
                }
                log::Record::Poisoned { prog, relo, .. } => {
                    truth.insert((prog, relo as u64), "poisoned".into());
                }
                _ => {}
            }
        }
        assert!(!truth.is_empty(), "no CO-RE lines from bpftool for {obj}");
        for args in [
            vec!["--json", "dry-run", obj],
            vec!["--json", "dry-run", obj, "--btf", "/sys/kernel/btf/vmlinux"],
            vec!["--json", "dry-run", obj, "--offline"],
        ] {
            let out = coretool(&args);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let mut got = std::collections::BTreeMap::new();
            for r in v["targets"][0]["relocations"].as_array().unwrap() {
                let key = (
                    r["program"].as_str().unwrap().to_owned(),
                    r["index"].as_u64().unwrap(),
                );
                let val = match r["status"].as_str().unwrap() {
                    "poisoned" => "poisoned".to_owned(),
                    _ => format!("{} -> {}", r["local"], r["target"]),
                };
                got.insert(key, val);
            }
            assert_eq!(got, truth, "{args:?}");
        }
    }
}

/// Root in a user namespace has no bpf(): dry-run notices and computes offline.
#[test]
fn root_without_bpf_falls_back_to_offline() {
    require_root!("needs root to make a user namespace");
    let args = [
        "dry-run",
        "core_pair_local.bpf.o",
        "--btf",
        "core_pair_target.bpf.o",
    ];
    require!(
        let Ok(out) = Command::new("unshare")
            .arg("-Ur")
            .arg(BIN)
            .args(args)
            .current_dir(fixtures())
            .env("NO_COLOR", "1")
            .output(),
        "unshare not installed"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    require!(
        !err.contains("unshare failed"),
        "user namespaces disabled: {err}"
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(err.contains("computing offline"), "{err}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(", offline)"), "{text}");
    let mut offline = args.to_vec();
    offline.push("--offline");
    assert_eq!(text, String::from_utf8(coretool(&offline).stdout).unwrap());
    // --load cannot fall back: it needs the kernel.
    let out = Command::new("unshare")
        .arg("-Ur")
        .arg(BIN)
        .args(["dry-run", "core_pair_local.bpf.o", "--load"])
        .current_dir(fixtures())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// The offline guard analysis agrees with the verifier: a program that loads has only dead
/// poisoned instructions offline, and the poisoned instruction a rejection stops at is
/// reachable offline.
#[test]
fn offline_reachability_agrees_with_verifier() {
    require_root!("--load needs root");
    let _shared = kernel_shared();
    let src = coretool::source::load(None, None).unwrap();
    let target = Target {
        btf: &src,
        default_kernel: true,
    };
    let f = fixtures();
    let mut checked = 0;
    for o in [
        "dryrun/dryrun_probe.bpf.o",
        "dryrun/unguarded.bpf.o",
        "dryrun/subprog.bpf.o",
        "core_all_kinds.bpf.o",
        "core_pair_local.bpf.o",
    ] {
        let path = f.join(o);
        let obj = Object::parse(&path, std::fs::read(&path).unwrap()).unwrap();
        let off = run::run(&obj, &target, Mode::Offline, false).unwrap();
        let live = run::run(&obj, &target, Mode::Libbpf, true).unwrap();
        for l in live.loads.as_ref().unwrap() {
            let poisoned = off.result.fixups.iter().filter(|x| {
                x.program == l.program && x.status == coretool::reloc::Status::Poisoned
            });
            if l.loaded {
                for x in poisoned {
                    assert_eq!(x.reachable, Some(false), "{o}: {x:?}");
                    checked += 1;
                }
            } else if let Some(idx) = l.relocation {
                let x = poisoned.clone().find(|x| x.index == idx).unwrap();
                assert_eq!(x.reachable, Some(true), "{o}: {x:?}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "only {checked} poisoned instructions checked");
}

/// The Rust mirrors of relo_core.h's structs have the C layout: compile the same `sizeof` and
/// `offsetof` expressions against the libbpf that libbpf-sys vendors and compare.
#[test]
fn relo_core_struct_layout_matches_c() {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let libbpf = std::fs::read_dir(home.join("registry/src"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten())
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libbpf-sys-1.7."))
        })
        .map(|p| p.join("libbpf"));
    require!(
        let Some(libbpf) = libbpf,
        "libbpf-sys 1.7 source not in the cargo registry"
    );
    let layout = coretool::libbpf::relo_core::struct_layout();
    let mut c = String::from("#include <stddef.h>\n#include <stdio.h>\n#include <stdbool.h>\n#include \"relo_core.h\"\nint main(void) {\n");
    for (expr, _) in &layout {
        c.push_str(&format!("\tprintf(\"%zu\\n\", (size_t)({expr}));\n"));
    }
    c.push_str("\treturn 0;\n}\n");
    let dir = std::env::temp_dir().join(format!("coretool-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("layout.c"), c).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&cc)
        .arg("-I")
        .arg(libbpf.join("src"))
        .arg("-I")
        .arg(libbpf.join("include/uapi"))
        .arg("-I")
        .arg(libbpf.join("include"))
        .arg(dir.join("layout.c"))
        .arg("-o")
        .arg(dir.join("layout"))
        .output();
    if built.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    require!(let Ok(built) = built, "no C compiler ({cc})");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(dir.join("layout")).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let c_values: Vec<usize> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(c_values.len(), layout.len());
    for ((expr, rust), c) in layout.iter().zip(c_values) {
        assert_eq!(*rust, c, "{expr}: Rust {rust}, C {c}");
    }
}

/// Whether `pid` holds the target BTF for libbpf: a file in `tmp` (how it used to be handed
/// over) or the in-memory file among its descriptors.
fn holds_target_btf(pid: u32, tmp: &std::path::Path) -> bool {
    if std::fs::read_dir(tmp).is_ok_and(|mut d| d.next().is_some()) {
        return true;
    }
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .any(|l| l.to_string_lossy().contains("coretool"))
}

/// A signal while libbpf holds the target BTF (SIGTERM, SIGINT, even SIGKILL) leaves nothing
/// behind: the BTF lives in an anonymous memory file, not in a named temporary file.
#[test]
fn signal_mid_run_leaves_no_file() {
    use std::os::unix::process::ExitStatusExt;
    require_root!("the libbpf engine needs root");
    require!(have_kernel_btf(), "no {SYSFS_VMLINUX}");
    let _shared = kernel_shared();
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGKILL] {
        let tmp = tempfile::tempdir().unwrap();
        let mut args = vec!["dry-run", "core_all_kinds.bpf.o"];
        for _ in 0..40 {
            args.extend(["--btf", SYSFS_VMLINUX]);
        }
        let mut child = Command::new(BIN)
            .args(&args)
            .current_dir(fixtures())
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        loop {
            assert!(
                child.try_wait().unwrap().is_none(),
                "signal {sig}: dry-run ended before it was caught holding the target BTF"
            );
            if holds_target_btf(child.id(), tmp.path()) {
                break;
            }
            assert!(
                start.elapsed().as_secs() < 30,
                "signal {sig}: no target BTF seen"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(sig), "{status:?}");
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "signal {sig} left {left:?}");
    }
}

/// A big-endian object on a little-endian kernel (and the reverse): the relocation values are
/// shown, but the verdict is that it cannot load there, exit 1, offline as with libbpf.
#[test]
fn foreign_byte_order_cannot_load() {
    let out = coretool(&[
        "dry-run",
        "core_all_kinds.bpfeb.o",
        "--offline",
        "--btf",
        "core_all_kinds.btf",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    golden("dry-run-foreign-endian.txt", &text);
    // The reverse, and the matching pair, which loads.
    let out = coretool(&[
        "dry-run",
        "core_all_kinds.bpf.o",
        "--offline",
        "--btf",
        "core_all_kinds.bpfeb.btf",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("the object is little-endian, the kernel big-endian"),
        "{text}"
    );
    let out = coretool(&[
        "dry-run",
        "core_all_kinds.bpfeb.o",
        "--offline",
        "--btf",
        "core_all_kinds.bpfeb.btf",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // JSON says it too.
    let out = coretool(&[
        "--json",
        "dry-run",
        "core_all_kinds.bpfeb.o",
        "--offline",
        "--btf",
        "core_all_kinds.btf",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["targets"][0]["verdict"], "fails");
    assert!(v["targets"][0]["failure"]
        .as_str()
        .unwrap()
        .contains("the object is big-endian, the kernel little-endian"));
    // The running kernel (little-endian here), by either engine.
    require!(have_kernel_btf(), "no {SYSFS_VMLINUX}");
    let mut modes = vec![vec!["--offline"]];
    if is_root() {
        modes.push(vec![]);
    }
    for m in modes {
        let mut args = vec!["dry-run", "core_all_kinds.bpfeb.o"];
        args.extend(&m);
        let out = coretool(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("fails: 34 relocations"), "{args:?}: {text}");
        assert!(
            text.contains(" patched "),
            "{args:?}: values are shown: {text}"
        );
        assert!(
            text.contains("cannot load on this kernel: the object is big-endian"),
            "{args:?}: {text}"
        );
    }
}

/// libbpf refuses to open an object with a static program: both engines say so in libbpf's
/// own words, with the same verdict, and `-v` shows libbpf's log.
#[test]
fn libbpf_refusal_keeps_libbpf_reason() {
    let reason = "libbpf cannot open the object: sec 'raw_tp/sys_enter': program 'static_fn' is \
                  static and not supported";
    let out = coretool(&[
        "dry-run",
        "dryrun/static_prog.bpf.o",
        "--offline",
        "--btf",
        "core_all_kinds.btf",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let offline = String::from_utf8(out.stdout).unwrap();
    assert!(offline.contains(reason), "{offline}");
    assert!(offline.contains("not-run"), "{offline}");
    let out = coretool(&[
        "-v",
        "dry-run",
        "dryrun/static_prog.bpf.o",
        "--offline",
        "--btf",
        "core_all_kinds.btf",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("libbpf: sec 'raw_tp/sys_enter': program 'static_fn' is static"),
        "{text}"
    );
    // The loader itself keeps libbpf's reason too, not only the errno.
    let path = fixtures().join("dryrun/static_prog.bpf.o");
    let data = std::fs::read(&path).unwrap();
    let obj = coretool::libbpf::object::ObjectFile {
        path: &path,
        data: &data,
    };
    let err = coretool::libbpf::object::prepare(obj, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("program 'static_fn' is static and not supported"),
        "{err}"
    );
    require_root!("the libbpf engine needs root");
    let out = coretool(&[
        "dry-run",
        "dryrun/static_prog.bpf.o",
        "--btf",
        "core_all_kinds.btf",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let live = String::from_utf8(out.stdout).unwrap();
    assert_eq!(live.replace(", libbpf prepare)", ", offline)"), offline);
}

/// Several `--btf` with the same file name get different column labels: the shortest path
/// suffix that tells them apart; the same file twice gets its position.
#[test]
fn matrix_labels_are_unique() {
    let tmp = tempfile::tempdir().unwrap();
    let btf = fixtures().join("core_all_kinds.btf");
    let mut targets = Vec::new();
    for dir in ["x/a", "y/a", "b"] {
        let d = tmp.path().join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(&btf, d.join("vmlinux")).unwrap();
        targets.push(d.join("vmlinux").display().to_string());
    }
    targets.push(targets[2].clone());
    let mut args = vec!["dry-run", "core_all_kinds.bpf.o", "--offline"];
    for t in &targets {
        args.extend(["--btf", t.as_str()]);
    }
    let out = coretool(&args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    golden("dry-run-labels.txt", &text);
    // Two images of one release: the release, then what tells them apart.
    let out = coretool(&[
        "dry-run",
        "core_all_kinds.bpf.o",
        "--offline",
        "--btf",
        "vmlinuz-gzip.img",
        "--btf",
        "vmlinuz-xz.img",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    for label in [
        "6.99.0-coretool-fixture (vmlinuz-gzip.img)",
        "6.99.0-coretool-fixture (vmlinuz-xz.img)",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(label) && l.contains("  loads:")),
            "{text}"
        );
    }
}

/// `--load` sizes a map the object leaves to its loader (max_entries 0) and says so, loads
/// only the programs `--program` names, and refuses a `--btf` that is not the running kernel.
#[test]
fn load_sizes_maps_and_selects_programs() {
    // Usage errors first: they need neither root nor a kernel.
    let out = coretool(&["dry-run", "dryrun/runtime_sized.bpf.o", "--program", "x"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--program needs --load: {out:?}"
    );
    require_root!("--load needs root");
    let out = coretool(&[
        "dry-run",
        "dryrun/runtime_sized.bpf.o",
        "--load",
        "--btf",
        "core_all_kinds.btf",
    ]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "core_all_kinds.btf: --load loads into the running kernel, and this is not its BTF"
        ),
        "{err}"
    );
    let out = coretool(&[
        "dry-run",
        "dryrun/runtime_sized.bpf.o",
        "--load",
        "--program",
        "nope",
    ]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("no program named 'nope' (its programs: record_start, unguarded_read)"),
        "{err}"
    );
    require!(have_kernel_btf(), "no {SYSFS_VMLINUX}");
    let note = "note: map 'start' has max_entries 0 (its loader sets the size at run time): \
                created with max_entries 1 for the load test";
    // Every program: the map is created, so only the unguarded read fails.
    let out = coretool(&["dry-run", "dryrun/runtime_sized.bpf.o", "--load"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(note), "{text}");
    assert!(!text.contains("failed to create"), "{text}");
    assert!(!text.contains("record_start did not load"), "{text}");
    assert!(text.contains("unguarded_read did not load"), "{text}");
    // The subset a loader would autoload here, against the running kernel named by path.
    for extra in [&[][..], &["--btf", SYSFS_VMLINUX][..]] {
        let mut args = vec![
            "--json",
            "dry-run",
            "dryrun/runtime_sized.bpf.o",
            "--load",
            "--program",
            "record_start",
        ];
        args.extend(extra);
        let out = coretool(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let t = &v["targets"][0];
        assert_eq!(t["verdict"], "loads", "{args:?}");
        let load = t["load"].as_array().unwrap();
        assert_eq!(load.len(), 1, "{load:?}");
        assert_eq!(load[0]["program"], "record_start");
        assert_eq!(load[0]["loaded"], true);
        assert_eq!(
            t["sized_maps"],
            serde_json::json!([{"name": "start", "max_entries": 1}])
        );
    }
}

/// docs/dry-run.md states what the code does: the bundled probe's relocation count and its
/// one guarded poison, and which automatic offline mode prints a note on stderr.
#[test]
fn docs_state_what_the_code_does() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/dry-run.md")).unwrap();
    // The note the code prints for root without bpf() is the one the page quotes.
    let src = std::fs::read_to_string(root.join("src/commands/dry_run.rs")).unwrap();
    assert!(
        src.contains("eprintln!(\"coretool: note: bpf() refused ({detail}): computing offline\")"),
        "the fallback note changed: update docs/dry-run.md"
    );
    assert!(
        doc.contains("`coretool: note: bpf() refused (...): computing offline`"),
        "docs/dry-run.md does not quote the fallback note"
    );
    assert!(
        doc.contains("nothing is printed on stderr"),
        "docs/dry-run.md must say unprivileged offline mode prints nothing on stderr"
    );
    require!(have_kernel_btf(), "no {SYSFS_VMLINUX}");
    let probe = root.join("probes/prebuilt/process_monitor.bpf.o");
    let out = coretool(&["--json", "dry-run", probe.to_str().unwrap(), "--offline"]);
    // The relocations load; the requires half depends on this kernel (a kernel built without
    // CONFIG_KPROBES cannot attach pm_do_exit: loads-without, exit 1).
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["targets"][0]["relocations_verdict"], "loads", "{out:?}");
    let relos = v["targets"][0]["relocations"].as_array().unwrap();
    let poisoned: Vec<&str> = relos
        .iter()
        .filter(|r| r["status"] == "poisoned")
        .map(|r| r["accessor"].as_str().unwrap())
        .collect();
    assert_eq!(poisoned, ["struct task_struct___pre514.state"]);
    let said = format!(
        "gives {}\nrelocations, one of them a guarded poison (`task_struct___pre514.state`",
        relos.len()
    );
    assert!(doc.contains(&said), "docs/dry-run.md should say: {said}");
}

/// A target BTF coretool's parser takes but libbpf refuses (a type referring past the last
/// id): both engines stop with the file and libbpf's own reason, exit 2.
#[test]
fn libbpf_rejected_target_btf_keeps_libbpf_reason() {
    let mut raw = std::fs::read(fixtures().join("core_all_kinds.btf")).unwrap();
    let btf = coretool::btf::Btf::parse(&raw).unwrap();
    assert_eq!(
        btf.type_by_id(1).map(|t| t.kind()),
        Some(coretool::btf::Kind::Ptr),
        "the fixture's type [1] is the pointer this test breaks"
    );
    // struct btf_header: hdr_len at 4, type_off at 8; type [1]'s `type` at +8.
    let hdr_len = u32::from_le_bytes(raw[4..8].try_into().unwrap()) as usize;
    let type_off = u32::from_le_bytes(raw[8..12].try_into().unwrap()) as usize;
    let at = hdr_len + type_off + 8;
    raw[at..at + 4].copy_from_slice(&99999u32.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad_ref.btf");
    std::fs::write(&bad, &raw).unwrap();
    let bad = bad.to_str().unwrap();
    let mut modes = vec![vec!["--offline"]];
    if is_root() {
        modes.push(vec![]);
    }
    for m in modes {
        let mut args = vec!["dry-run", "core_all_kinds.bpf.o", "--btf", bad];
        args.extend(&m);
        let out = coretool(&args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(
            err.trim_end(),
            format!(
                "coretool: {bad}: libbpf cannot parse its BTF: btf: type [1]: invalid \
                 referenced type ID 99999 (-EINVAL)"
            ),
            "{args:?}"
        );
    }
}

/// The verdict includes the requires half for the kernel targeted: `needs_gone`'s relocations
/// are fine on 5.10, but a raw tracepoint 5.10 lacks and a context read past the tracepoint's
/// prototype leave it loading only without two programs; text, Markdown and JSON say which and
/// why, and it exits 1 as `coretool requires` does.
#[test]
fn the_verdict_includes_what_the_programs_need() {
    let kernels = cached_kernels();
    let k510 = kernels.iter().find(|k| k.release.starts_with("5.10."));
    require!(let Some(k510) = k510, "Debian 5.10 is not cached (scripts/fetch-kernels.sh)");
    let btf = k510.vmlinuz.display().to_string();
    let obj = "requires/needs_gone.bpf.o";
    let out = coretool(&["dry-run", obj, "--offline", "--btf", &btf]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "loads-without: 0 relocations, 0 changed",
        "  loads if the loader turns off programs raw_tp_gone, ctx_too_far",
        "  raw_tp_gone: missing attach_target iomap_writepage_map (attach): no \
         btf_trace_iomap_writepage_map in the kernel's BTF",
        "  ctx_too_far: missing ctx_args ctx[5] (load): reads context argument 5",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    let out = coretool(&["--json", "dry-run", obj, "--offline", "--btf", &btf]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &v["targets"][0];
    assert_eq!(t["verdict"], "loads-without");
    assert_eq!(t["relocations_verdict"], "loads");
    assert_eq!(t["requires"]["verdict"], "loads-without");
    assert_eq!(
        t["requires"]["without_programs"],
        serde_json::json!(["raw_tp_gone", "ctx_too_far"])
    );
    let reqs = t["requires"]["requirements"].as_array().unwrap();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(reqs
        .iter()
        .all(|r| r["status"] == "missing" && r["evidence"] != ""));
    let out = coretool(&[
        "dry-run",
        obj,
        "--offline",
        "--btf",
        &btf,
        "--format",
        "markdown",
    ]);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains(":warning: loads-without"), "{md}");
    assert!(md.contains("### Requirements missing or unknown"), "{md}");
    assert!(
        md.contains("| `5.10.0-46-amd64` | `raw_tp_gone` | attach_target `iomap_writepage_map` | missing (attach) |"),
        "{md}"
    );
}
