//! `coretool requires`: what each program needs, checked against kernels' BTF. The fixtures
//! in tests/fixtures/requires are built so that each program of `needs_newer` needs one thing
//! Linux 5.10 lacks (a helper, a kfunc, a map type, an attach point) and `needs_gone` needs
//! attach points Linux 6.18 no longer has, plus a context read past its tracepoint's
//! arguments; `verifier_view`'s programs load or not by what the verifier knows on each kernel
//! (`LINUX_KERNEL_VERSION`, `.rodata`, how it treats a stack slot a helper read). Golden tables
//! on Debian's 5.10, 6.1 and 6.12; the JSON Lines schema; every
//! missing and unknown requirement carries its evidence; exit codes; a kernel whose BTF lacks
//! the BPF enums altogether.

use std::process::Output;

use serde_json::Value;

use crate::common::{self, assert_golden, cached_kernels, fixtures, no_cached_kernels, stdout};

/// `coretool requires ARGS` run in tests/fixtures/requires (objects named relatively, so
/// output does not depend on the checkout's path), never touching the user's BTF cache.
fn requires(args: &[&str]) -> Output {
    common::bin()
        .current_dir(fixtures().join("requires"))
        .arg("requires")
        .arg("--no-cache")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run coretool requires")
}

fn records(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The cached Debian kernels' vmlinuz paths (5.10, 6.1, 6.12), or skip.
fn debian_kernels() -> Option<Vec<String>> {
    let kernels = cached_kernels();
    if kernels.is_empty() {
        common::skip(this_test!(), &no_cached_kernels());
        return None;
    }
    Some(
        kernels
            .iter()
            .map(|k| k.vmlinuz.display().to_string())
            .collect(),
    )
}

/// `kernel`'s BTF alone, as a raw file named without its release (no module tree beside it).
fn raw_btf(kernel: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("vmlinux.btf");
    let o = common::bin()
        .args(["btf", "--btf", kernel, "-o"])
        .arg(&raw)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    (dir, raw)
}

fn record<'a>(recs: &'a [Value], kernel: &str, program: &str) -> &'a Value {
    recs.iter()
        .find(|r| {
            r["kernel"]["name"].as_str() == Some(kernel) && r["program"].as_str() == Some(program)
        })
        .unwrap_or_else(|| panic!("no record for {program} on {kernel}"))
}

fn missing(r: &Value) -> Vec<(String, String, String)> {
    r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["status"] == "missing")
        .map(|q| {
            (
                q["kind"].as_str().unwrap().to_owned(),
                q["name"].as_str().unwrap().to_owned(),
                q["evidence"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn tables_on_debian_kernels_match_the_golden_files() {
    let Some(kernels) = debian_kernels() else {
        return;
    };
    for obj in [
        "needs_newer.bpf.o",
        "needs_gone.bpf.o",
        "verifier_view.bpf.o",
    ] {
        let mut args = vec![obj, "--btf"];
        args.extend(kernels.iter().map(String::as_str));
        let o = requires(&args);
        assert_eq!(o.status.code(), Some(1), "{obj}: {}", common::stderr(&o));
        let golden = format!("golden/requires/{}.txt", obj.trim_end_matches(".bpf.o"));
        assert_golden(&golden, &stdout(&o));
    }
}

/// Each program of needs_newer fails on 5.10 for its own reason, named with evidence (and
/// `baseline` for the kfuncs another program calls: libbpf resolves every extern first); on
/// 6.12 (kfuncs found in .BTF_ids: its BTF has no decl tags) every program loads.
#[test]
fn each_program_names_what_5_10_lacks() {
    let Some(kernels) = debian_kernels() else {
        return;
    };
    let k510 = kernels.iter().find(|k| k.contains("5.10."));
    let k612 = kernels.iter().find(|k| k.contains("6.12."));
    require!(let (Some(k510), Some(k612)) = (k510, k612), "Debian 5.10 and 6.12 are not both cached");
    let o = requires(&["needs_newer.bpf.o", "--json", "--btf", k510, k612]);
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&o);
    assert_eq!(recs.len(), 10, "5 programs x 2 kernels");
    let on510 = recs
        .iter()
        .find(|r| r["kernel"]["source"].as_str() == Some(k510.as_str()))
        .unwrap()["kernel"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let expect = [
        (
            "baseline",
            Some((
                "kfunc",
                "bpf_rcu_read_lock",
                "used by another program of the object",
            )),
        ),
        (
            "helper_newer",
            Some((
                "helper",
                "bpf_get_current_task_btf",
                "no BPF_FUNC_get_current_task_btf (158) in enum bpf_func_id",
            )),
        ),
        (
            "kfunc_newer",
            Some((
                "kfunc",
                "bpf_rcu_read_lock",
                "no FUNC bpf_rcu_read_lock in the kernel's BTF",
            )),
        ),
        (
            "map_newer",
            Some((
                "map",
                "seen: BPF_MAP_TYPE_BLOOM_FILTER",
                "no BPF_MAP_TYPE_BLOOM_FILTER (30) in enum bpf_map_type",
            )),
        ),
        (
            "attach_newer",
            Some((
                "attach_target",
                "contention_begin",
                "no btf_trace_contention_begin in the kernel's BTF",
            )),
        ),
    ];
    for (prog, why) in expect {
        let r = record(&recs, &on510, prog);
        assert_eq!(r["schema"], "coretool.requires/v1");
        assert_eq!(r["object"], "needs_newer.bpf.o");
        let m = missing(r);
        match why {
            None => {
                assert_eq!(r["verdict"], "loads", "{prog}: {m:?}");
                assert!(m.is_empty());
            }
            Some((kind, name, evidence)) => {
                assert_eq!(r["verdict"], "fails", "{prog}");
                assert_eq!(r["fails_at"], "load", "{prog}");
                let hit = m.iter().find(|(k, n, _)| k == kind && n == name);
                let (_, _, ev) = hit.unwrap_or_else(|| panic!("{prog}: {m:?}"));
                assert!(ev.starts_with(evidence), "{prog}: {ev}");
            }
        }
        assert_eq!(r["object_verdict"], "fails");
    }
    for r in recs
        .iter()
        .filter(|r| r["kernel"]["source"].as_str() == Some(k612.as_str()))
    {
        assert_eq!(r["verdict"], "loads", "{r}");
    }
    let kfunc = record(
        &recs,
        recs[9]["kernel"]["name"].as_str().unwrap(),
        "kfunc_newer",
    );
    let ev: Vec<&str> = kfunc["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["kind"] == "kfunc")
        .map(|q| q["evidence"].as_str().unwrap())
        .collect();
    assert!(ev.iter().all(|e| e.contains(".BTF_ids")), "{ev:?}");
}

/// Every requirement on every kernel: a known kind, status and stage, and evidence; a program
/// is `loads` only when every requirement is ok (unknown never counts as ok).
#[test]
fn every_requirement_carries_evidence_and_unknown_is_never_ok() {
    let Some(kernels) = debian_kernels() else {
        return;
    };
    let mut args = vec![
        "needs_newer.bpf.o",
        "needs_gone.bpf.o",
        "verifier_view.bpf.o",
        "../core_all_kinds.bpf.o",
        "--json",
        "--btf",
    ];
    args.extend(kernels.iter().map(String::as_str));
    let o = requires(&args);
    let recs = records(&o);
    assert_eq!(recs.len(), (5 + 4 + 4 + 4) * kernels.len());
    for r in &recs {
        let reqs = r["requirements"].as_array().unwrap();
        for q in reqs
            .iter()
            .chain(r["object_requirements"].as_array().unwrap())
        {
            assert!(
                ["ok", "missing", "unknown"].contains(&q["status"].as_str().unwrap()),
                "{q}"
            );
            assert!(
                ["load", "attach"].contains(&q["stage"].as_str().unwrap()),
                "{q}"
            );
            assert!(q["evidence"].as_str().is_some_and(|e| e.len() > 10), "{q}");
            assert!(!q["name"].as_str().unwrap().is_empty(), "{q}");
        }
        let all_ok = reqs.iter().all(|q| q["status"] == "ok");
        let any_missing = reqs.iter().any(|q| q["status"] == "missing");
        let want = if any_missing {
            "fails"
        } else if all_ok {
            "loads"
        } else {
            "unknown"
        };
        assert_eq!(r["verdict"], want, "{r}");
        assert_eq!(r["fails_at"].is_null(), !any_missing, "{r}");
    }
}

/// What the verifier knows at load decides: `LINUX_KERNEL_VERSION` from each kernel's
/// release picks the context argument, `.rodata` as built makes a read dead code, a context
/// pointer moved by the version's offset is refused where the offset is not 0, and the slot a
/// helper read keeps its pointer on 5.10 but not on 6.1 and 6.12 (told by the BTF of the
/// verifier's own `check_stack_range_initialized`). Without a release the version is
/// unknown, and so is what depends on it.
#[test]
fn the_verifier_view_follows_each_kernel() {
    let Some(kernels) = debian_kernels() else {
        return;
    };
    let mut args = vec!["verifier_view.bpf.o", "--json", "--btf"];
    args.extend(kernels.iter().map(String::as_str));
    let recs = records(&requires(&args));
    let mut seen = 0;
    for r in &recs {
        let kernel = r["kernel"]["name"].as_str().unwrap();
        let old = kernel.starts_with("5.10.");
        let want = match r["program"].as_str().unwrap() {
            "kver_picks_arg" | "rodata_picks_arg" => "loads",
            "kver_moves_ctx" if old => "loads",
            "spilled_key" if old => "loads",
            _ => "fails",
        };
        assert_eq!(r["verdict"], want, "{r}");
        let ev: Vec<String> = r["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["evidence"].as_str().unwrap().to_owned())
            .collect();
        match r["program"].as_str().unwrap() {
            "kver_picks_arg" => {
                let (arg, ver) = if old { (0, "5.10.0") } else { (3, "6.") };
                assert!(
                    ev.iter()
                        .any(|e| e.starts_with(&format!("reads context argument {arg} "))
                            && e.contains(&format!("walked with LINUX_KERNEL_VERSION = {ver}"))),
                    "{ev:?}"
                );
            }
            "rodata_picks_arg" => assert!(
                ev.iter()
                    .any(|e| e.contains("use_state = 0 (.rodata as built)")),
                "{ev:?}"
            ),
            "spilled_key" => {
                let q = r["requirements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|q| q["kind"] == "verifier")
                    .unwrap_or_else(|| panic!("{r}"));
                let e = q["evidence"].as_str().unwrap();
                assert!(
                    e.contains("after bpf_map_lookup_elem read that stack slot"),
                    "{e}"
                );
                let enum_name = if old {
                    "stack_access_src"
                } else {
                    "bpf_access_src"
                };
                assert!(e.contains(&format!("takes enum {enum_name}")), "{e}");
            }
            _ => {}
        }
        seen += 1;
    }
    assert_eq!(seen, 4 * kernels.len());

    // The raw BTF alone: no release, so no LINUX_KERNEL_VERSION.
    let k61 = kernels.iter().find(|k| k.contains("6.1.")).unwrap();
    let (_dir, raw) = raw_btf(k61);
    let recs = records(&requires(&[
        "verifier_view.bpf.o",
        "--json",
        "--btf",
        raw.to_str().unwrap(),
    ]));
    // Both of kver_picks_arg's paths read within sched_switch's 4 arguments; kver_moves_ctx
    // moves the context pointer by 24 on one of them.
    let r = recs
        .iter()
        .find(|r| r["program"] == "kver_picks_arg")
        .unwrap();
    assert_eq!(r["verdict"], "loads", "{r}");
    let r = recs
        .iter()
        .find(|r| r["program"] == "kver_moves_ctx")
        .unwrap();
    assert_eq!(r["verdict"], "unknown", "{r}");
    let q = r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["status"] == "unknown")
        .unwrap();
    assert!(
        q["evidence"]
            .as_str()
            .unwrap()
            .contains("LINUX_KERNEL_VERSION (the source does not tell the kernel's release)"),
        "{q}"
    );
}

/// Attach points a module defines: found in the module's split BTF when the source comes with
/// its module tree (the cached Debian package), `unknown` there (loaded or not is not known
/// offline), missing with that caveat from vmlinux's BTF alone or with --no-modules.
#[test]
fn module_btf_answers_for_module_targets() {
    let Some(kernels) = debian_kernels() else {
        return;
    };
    let k61 = kernels.iter().find(|k| k.contains("6.1.")).unwrap();
    let o = requires(&["needs_module.bpf.o", "--json", "--btf", k61]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    for r in records(&o) {
        let target = r["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["kind"] == "attach_target")
            .unwrap()
            .clone();
        // Whether xfs will be loaded is not known offline.
        assert_eq!(target["status"], "unknown", "{r}");
        assert_eq!(r["verdict"], "unknown", "{r}");
        assert!(
            target["evidence"].as_str().unwrap().contains(
                "in module xfs's BTF, not vmlinux's: libbpf finds it only if xfs is loaded"
            ),
            "{target}"
        );
    }
    // --no-modules: the kernel with no module loaded.
    let o = requires(&["needs_module.bpf.o", "--json", "--no-modules", "--btf", k61]);
    assert_eq!(o.status.code(), Some(1));
    for r in records(&o) {
        let m = missing(&r);
        assert!(m[0].2.contains("modules not read: --no-modules"), "{m:?}");
    }
    let (_dir, raw) = raw_btf(k61);
    let o = requires(&[
        "needs_module.bpf.o",
        "--json",
        "--btf",
        raw.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    for r in records(&o) {
        let m = missing(&r);
        assert_eq!(m.len(), 1, "{r}");
        assert!(
            m[0].2.contains("no module BTF came with this source"),
            "{m:?}"
        );
    }
}

/// A "kernel" whose BTF has none of the BPF enums (a BPF object's own BTF): program types,
/// helpers and map types are unknown (the evidence says which enum is absent), never ok; the
/// attach targets it lacks are missing. Runs anywhere: no cached kernel needed.
#[test]
fn a_btf_without_the_bpf_enums_offers_nothing() {
    let o = requires(&["needs_newer.bpf.o", "--btf", "../core_all_kinds.btf"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert_golden("golden/requires/no-enums.txt", &stdout(&o));
}

#[test]
fn an_object_that_loads_everywhere_exits_0() {
    let Some(kernels) = debian_kernels() else {
        return;
    };
    let mut args = vec!["../core_all_kinds.bpf.o", "--btf"];
    args.extend(kernels.iter().map(String::as_str));
    let o = requires(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains(": loads (4 of 4 programs load, 0 fail, 0 unknown)"));
}

#[test]
fn the_running_kernel_is_the_default() {
    require!(common::have_kernel_btf(), "no {}", common::SYSFS_VMLINUX);
    let o = requires(&["../core_all_kinds.bpf.o", "--json"]);
    let recs = records(&o);
    assert_eq!(recs.len(), 4);
    assert!(recs
        .iter()
        .all(|r| r["kernel"]["source"] == common::SYSFS_VMLINUX));
}

#[test]
fn a_missing_kernel_source_is_one_line_naming_it() {
    let o = requires(&["needs_newer.bpf.o", "--btf", "/nonexistent/vmlinuz"]);
    common::assert_bad_input(&o, "/nonexistent/vmlinuz");
}

/// The kernel's programs and maps with names the objects of the live test use (other
/// processes on the machine may load their own meanwhile), as `kind name` lines.
fn ours_in_kernel(names: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for what in ["prog", "map"] {
        let o = std::process::Command::new("bpftool")
            .args(["-j", what, "show"])
            .output()
            .expect("run bpftool");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Array(vec![]));
        for e in v.as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap_or_default();
            // The kernel keeps 15 bytes of a name.
            if !name.is_empty() && names.iter().any(|n| n.starts_with(name)) {
                found.push(format!("{what} {name}"));
            }
        }
    }
    found
}

/// `--live` on the running kernel: each program loaded (and attached where its section names
/// a kernel target) on its own; every prediction that is not `unknown` equals what happened,
/// and no program, map or link is left in the kernel.
#[test]
fn live_results_equal_the_predictions_and_leave_nothing_behind() {
    require_root!("--live loads BPF programs: needs root");
    require_tools!("bpftool");
    let _k = common::kernel_exclusive();
    let o = requires(&[
        "needs_newer.bpf.o",
        "needs_gone.bpf.o",
        "verifier_view.bpf.o",
        "../core_all_kinds.bpf.o",
        "../dryrun/unguarded.bpf.o",
        "../dryrun/static_prog.bpf.o",
        "../dryrun/subprog.bpf.o",
        "--live",
        "--json",
    ]);
    let recs = records(&o);
    let mut names: Vec<String> = recs
        .iter()
        .map(|r| r["program"].as_str().unwrap().to_owned())
        .collect();
    names.extend(
        [
            "seen", "needs_ne", "needs_go", "verifier", "core_all", "unguard", "subprog",
        ]
        .map(String::from),
    );
    // A closed program is freed by the kernel a moment later (RCU): give it a second.
    let mut left = ours_in_kernel(&names);
    for _ in 0..20 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = ours_in_kernel(&names);
    }
    assert!(left.is_empty(), "left in the kernel: {left:?}");
    assert_eq!(
        recs.len(),
        5 + 4 + 4 + 4 + 1 + 1 + 1,
        "{}",
        common::stderr(&o)
    );
    for r in &recs {
        let live = &r["live"];
        assert!(live.is_object(), "{r}");
        assert_ne!(
            live["agrees"],
            Value::Bool(false),
            "prediction != live: {r}"
        );
        if r["verdict"] != "unknown" {
            assert_eq!(live["agrees"], Value::Bool(true), "{r}");
        }
    }
    // Failures on every kernel: the object libbpf refuses, the unguarded relocation, the read
    // past the tracepoint's arguments.
    for (prog, kind) in [
        ("static_fn", "open"),
        ("unguarded", "core"),
        ("ctx_too_far", "ctx_args"),
        ("kver_moves_ctx", "ctx_args"),
    ] {
        let r = recs.iter().find(|r| r["program"] == prog).unwrap();
        assert_eq!(r["live"]["fails_at"], "load", "{r}");
        assert!(missing(r).iter().any(|(k, _, _)| k == kind), "{r}");
    }
    assert_eq!(o.status.code(), Some(1));
}

/// `--live --no-attach`: every program is loaded, none attached; the programs that fail only
/// at attach on this kernel (a raw tracepoint it lacks, a kprobe) now load, and only the
/// load-stage requirements are compared, so they agree; what fails at load still fails.
#[test]
fn live_no_attach_loads_only() {
    require_root!("--live loads BPF programs: needs root");
    let _k = common::kernel_exclusive();
    let o = requires(&["needs_gone.bpf.o", "--live", "--no-attach", "--json"]);
    let recs = records(&o);
    assert_eq!(recs.len(), 4, "{}", common::stderr(&o));
    for r in &recs {
        let live = &r["live"];
        assert_eq!(live["attach_attempted"], Value::Bool(false), "{r}");
        assert_eq!(live["attach_error"], Value::Null, "{r}");
        assert_ne!(live["agrees"], Value::Bool(false), "{r}");
    }
    let live = |prog: &str| recs.iter().find(|r| r["program"] == prog).unwrap()["live"].clone();
    assert_eq!(live("raw_tp_gone")["verdict"], "loads");
    assert_eq!(live("kprobe_ok")["verdict"], "loads");
    assert_eq!(live("ctx_too_far")["verdict"], "fails");
    assert_eq!(live("ctx_too_far")["fails_at"], "load");
    // -v: the verifier's own words on the refused load.
    let o = requires(&["needs_gone.bpf.o", "--live", "--no-attach", "-v"]);
    let text = stdout(&o);
    assert!(
        text.lines()
            .any(|l| l.starts_with("  ctx_too_far: verifier: ")
                && l.contains("invalid bpf_context access")),
        "{text}"
    );
    // The same object attached: raw_tp_gone fails at attach (no such tracepoint anywhere).
    let o = requires(&["needs_gone.bpf.o", "--live", "--json"]);
    let recs = records(&o);
    let r = recs.iter().find(|r| r["program"] == "raw_tp_gone").unwrap();
    assert_eq!(r["live"]["fails_at"], "attach", "{r}");
}

#[test]
fn no_attach_needs_live() {
    let o = requires(&["needs_newer.bpf.o", "--no-attach"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        common::stderr(&o).contains("--live"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn live_refuses_another_kernel() {
    let o = requires(&[
        "needs_newer.bpf.o",
        "--live",
        "--btf",
        "../core_all_kinds.btf",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        common::stderr(&o).contains("--live"),
        "{}",
        common::stderr(&o)
    );
}
