//! `coretool diff`: every change class on the synthetic OLD/NEW pair (tests/fixtures/diff,
//! one source compiled twice, `-DNEW`), `--for` with the offline engine's verdicts, the
//! exit codes and bad input; on the cached Debian kernels, that `--for` lists what dry-run
//! shows changed or poisoned, the task_struct diff's length, and `--history`'s
//! `state`/`__state` story.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::common::{
    self, assert_bad_input, assert_golden, cached_kernels, fixtures, no_cached_kernels, stderr,
    stdout,
};

const OLD: &str = "diff/diff_old.bpf.o";
const NEW: &str = "diff/diff_new.bpf.o";

/// A BTF cache of the tests' own (target/tmp), never the user's.
fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diff-btf-cache")
}

/// `coretool diff ARGS` in tests/fixtures, uncoloured, with the tests' cache.
fn diff(args: &[&str]) -> Output {
    common::bin()
        .current_dir(fixtures())
        .arg("diff")
        .arg("--cache")
        .arg(cache_dir())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run coretool diff")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn the_pair_diff_reports_every_change_class() {
    let o = diff(&["--btf", OLD, "--btf", NEW]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_golden("golden/diff/pair.txt", &stdout(&o));

    let o = diff(&["--btf", OLD, "--btf", NEW, "--json"]);
    assert_eq!(code(&o), 1);
    let doc = json(&o);
    assert_eq!(doc["schema"], "coretool.diff/v1");
    assert_eq!(doc["changed"], true);
    let mut seen: Vec<String> = doc["diff"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["changes"].as_array().unwrap().iter())
        .map(|c| c["change"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    for class in [
        "type_removed",
        "type_added",
        "kind_changed",
        "size_changed",
        "member_added",
        "member_removed",
        "member_renamed",
        "member_moved",
        "shifted",
        "member_retyped",
        "enum_value_added",
        "enum_value_removed",
        "enum_value_renumbered",
        "target_changed",
        "return_changed",
        "param_count_changed",
        "param_retyped",
    ] {
        assert!(seen.iter().any(|s| s == class), "no {class} in {seen:?}");
    }
    // The enum64 is told apart from the enum, and compared value by value.
    let big = doc["diff"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "diff_big")
        .expect("enum diff_big changed");
    assert_eq!(big["kind"], "enum64");
    assert_eq!(big["changes"][0]["old"], "1099511627776");
}

#[test]
fn an_insertion_is_reported_once_with_its_shift() {
    let o = diff(&["--btf", OLD, "--btf", NEW, "diff_task", "--json"]);
    // A C spelling names the same type.
    let spelled = diff(&["--btf", OLD, "--btf", NEW, "struct diff_task", "--json"]);
    assert_eq!(o.stdout, spelled.stdout);
    let doc = json(&o);
    let changes = doc["diff"]["types"][0]["changes"].as_array().unwrap();
    let of =
        |kind: &str| -> Vec<&Value> { changes.iter().filter(|c| c["change"] == kind).collect() };
    // `ins` is an insertion; `state` did not move, it was renamed `__state` at its shifted place.
    assert_eq!(of("member_added").len(), 1);
    assert_eq!(of("member_added")[0]["member"]["name"], "ins");
    let renamed = of("member_renamed");
    assert_eq!(renamed.len(), 1);
    assert_eq!(renamed[0]["old"]["name"], "state");
    assert_eq!(renamed[0]["new"]["name"], "__state");
    assert_eq!(renamed[0]["retyped"], false);
    // The +8 shift is one change covering `__state`, `flags` and `mode`, not three moves.
    let first_shift = of("shifted")[0];
    assert_eq!(first_shift["from"], "__state");
    assert_eq!(first_shift["by_bits"], 64);
    assert_eq!(first_shift["count"], 3);
    // Of the swapped pair one is the move; nothing else moved.
    assert_eq!(of("member_moved").len(), 1);
    assert_eq!(of("member_moved")[0]["old"]["name"], "x");
}

#[test]
fn for_an_object_lists_what_it_reaches_with_the_verdicts_on_new() {
    let o = diff(&["--btf", OLD, "--btf", NEW, "--for", OLD]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_golden("golden/diff/pair-for.txt", &stdout(&o));

    let o = diff(&["--btf", OLD, "--btf", NEW, "--for", OLD, "--json"]);
    assert_golden("golden/diff/pair-for.json", &stdout(&o));
    let doc = json(&o);
    let touches = doc["objects"][0]["touches"].as_array().unwrap();
    let item = |what: &str, name: &str| -> &Value {
        touches
            .iter()
            .find(|t| {
                t["what"] == what
                    && (t["member"] == name || t["value"] == name || t["name"] == name)
            })
            .unwrap_or_else(|| panic!("no {what} {name}"))
    };
    // Renamed and read unguarded: the program fails to load on NEW.
    let state = item("member", "state");
    assert_eq!(state["relocations"][0]["verdict"], "fails_to_load");
    assert_eq!(state["fix"]["helper"], "bpf_core_field_exists");
    // Removed and guarded: poisoned, dead code, the guard named; no fix needed.
    let gone = item("member", "gone");
    let byte_off = gone["relocations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relocation"]["kind"] == "byte_off")
        .unwrap();
    assert_eq!(byte_off["verdict"], "poisoned_guarded");
    assert_eq!(byte_off["guard"]["kind"], "field_exists");
    assert!(gone["fix"].is_null());
    // Retyped: CO-RE relocates it (dry-run sees only the offset), the diff says why it matters.
    let flags = item("member", "flags");
    assert_eq!(flags["relocations"][0]["verdict"], "relocated");
    assert!(flags["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["change"] == "member_retyped"));
    assert_eq!(flags["fix"]["helper"], "bpf_core_type_matches");
    // An anonymous union's member, by its place in the named parent.
    assert!(item("member", "word")["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["change"] == "member_retyped"));
    // Enumerators, types and the fentry target.
    assert_eq!(
        item("enum_value", "BLUE")["relocations"][0]["new"]["value"],
        20
    );
    assert_eq!(
        item("enum_value", "GREEN")["relocations"][0]["verdict"],
        "absent"
    );
    assert_eq!(
        item("type", "diff_gone")["changes"][0]["change"],
        "type_removed"
    );
    let func = item("func", "diff_target");
    assert_eq!(func["programs"][0], "on_target");
    assert_eq!(func["changes"].as_array().unwrap().len(), 3);
    // An untouched change (mode's width) is not listed; an unchanged member is, as unchanged.
    assert!(!touches.iter().any(|t| t["member"] == "mode"));
    assert!(item("member", "a")["changes"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn nothing_changed_exits_0() {
    let o = diff(&["--btf", OLD, "--btf", OLD]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("diff_old.bpf.o -> diff_old.bpf.o: 0 of "),
        "{}",
        stdout(&o)
    );
    let o = diff(&["--btf", OLD, "--btf", OLD, "--for", OLD]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // Only an item the object does not reach changed: still 0 for the object.
    let o = diff(&["--btf", NEW, "--btf", NEW, "--for", "core_all_kinds.bpf.o"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn history_follows_a_rename_across_the_pair() {
    let o = diff(&["--history", "diff_task.state", "--btf", OLD, "--btf", NEW]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_golden("golden/diff/pair-history.txt", &stdout(&o));
    let o = diff(&[
        "--history",
        "diff_task.state",
        "--btf",
        OLD,
        "--btf",
        NEW,
        "--json",
    ]);
    let doc = json(&o);
    assert_eq!(doc["schema"], "coretool.diff/v1");
    let steps = doc["history"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["events"][0]["event"], "appears");
    assert_eq!(steps[1]["events"][0]["event"], "renamed");
    assert_eq!(steps[1]["events"][0]["old_name"], "state");
    assert_eq!(steps[1]["events"][1]["event"], "moved");
    assert_eq!(steps[1]["events"][1]["shifted"], true);
    assert_eq!(steps[1]["member"]["name"], "__state");
    // An untouched member: nothing happened, exit 0.
    let o = diff(&["--history", "diff_task.a", "--btf", OLD, "--btf", NEW]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let o = diff(&["--btf", OLD, "--btf", "missing.btf"]);
    assert_bad_input(&o, "missing.btf");
    let o = diff(&["--btf", OLD, "--btf", NEW, "--for", "not_bpf.o"]);
    assert_bad_input(&o, "not_bpf.o");
    let o = diff(&[
        "--btf",
        OLD,
        "--btf",
        "corrupt_ext_magic.bpf.o",
        "--btf",
        NEW,
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("exactly two"), "{}", stderr(&o));
    let o = diff(&["--btf", OLD, "--btf", NEW, "no_such_type"]);
    assert_bad_input(&o, "no_such_type");
    let o = diff(&["--history", "diff_task", "--btf", OLD]);
    assert_bad_input(&o, "diff_task");
    let o = diff(&["--history", "nope.x", "--btf", OLD]);
    assert_bad_input(&o, "nope.x");
    let o = diff(&["--btf", "not_bpf.o", "--btf", NEW]);
    assert_bad_input(&o, "not_bpf.o");
}

// The cached Debian kernels.

fn kernel(release_prefix: &str) -> Option<String> {
    cached_kernels()
        .into_iter()
        .find(|k| k.release.starts_with(release_prefix))
        .map(|k| k.vmlinuz.display().to_string())
}

/// `(section, index)` of every relocation dry-run shows changed between OLD and NEW: another
/// value, or poisoned on NEW and not on OLD (one poisoned on both, as the probe's guarded read
/// of a tracepoint field neither kernel has, did not change).
fn dry_run_changes(obj: &str, old: &str, new: &str) -> Vec<(String, u64)> {
    let o = common::bin()
        .current_dir(fixtures())
        .args([
            "dry-run",
            "--offline",
            "--json",
            obj,
            "--btf",
            old,
            "--btf",
            new,
        ])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = doc["targets"].as_array().unwrap();
    let (o_relos, n_relos) = (
        t[0]["relocations"].as_array().unwrap(),
        t[1]["relocations"].as_array().unwrap(),
    );
    let mut out = Vec::new();
    for (a, b) in o_relos.iter().zip(n_relos) {
        assert_eq!(a["index"], b["index"]);
        if a["target"] != b["target"] || a["status"] != b["status"] {
            out.push((
                b["section"].as_str().unwrap().to_owned(),
                b["index"].as_u64().unwrap(),
            ));
        }
    }
    out
}

#[test]
fn for_lists_exactly_what_dry_run_shows_changed_on_debian_kernels() {
    let (Some(old), Some(new)) = (kernel("5.10"), kernel("6.12")) else {
        require!(false, "{}", no_cached_kernels());
        return;
    };
    let probe = common::tests_dir().join("../probes/prebuilt/process_monitor.bpf.o");
    let probe = probe.display().to_string();
    for obj in ["core_all_kinds.bpf.o", probe.as_str()] {
        let o = diff(&["--btf", &old, "--btf", &new, "--for", obj, "--json"]);
        assert_eq!(code(&o), 1, "{obj}: {}", stderr(&o));
        let doc = json(&o);
        let touches = doc["objects"][0]["touches"].as_array().unwrap();
        let changed: Vec<&Value> =
            touches
                .iter()
                .filter(|t| {
                    !t["changes"].as_array().unwrap().is_empty()
                        || t["relocations"].as_array().unwrap().iter().any(|r| {
                            r["through"] != true && r["old"]["status"] != r["new"]["status"]
                        })
                })
                .collect();
        let listed = |section: &str, index: u64| {
            changed.iter().any(|t| {
                t["relocations"].as_array().unwrap().iter().any(|r| {
                    r["relocation"]["section"] == section && r["relocation"]["index"] == index
                })
            })
        };
        for (section, index) in dry_run_changes(obj, &old, &new) {
            assert!(
                listed(&section, index),
                "{obj}: {section} #{index} not listed"
            );
        }
        // No offset noise: every changed item says what changed in it, or its relocation's
        // fate changed.
        for t in &changed {
            let changes = t["changes"].as_array().unwrap();
            assert!(
                changes.iter().any(|c| c["change"] != "shifted")
                    || t["relocations"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r["old"]["status"] != r["new"]["status"]),
                "{obj}: {t}"
            );
        }
        // What dry-run cannot see: task_struct.se changed size while its relocation stays.
        if obj == "core_all_kinds.bpf.o" {
            let se = touches.iter().find(|t| t["member"] == "se").unwrap();
            assert_eq!(se["changes"][0]["change"], "member_retyped");
        }
    }
}

#[test]
fn task_struct_between_6_1_and_6_12_is_a_screenful() {
    let (Some(old), Some(new)) = (kernel("6.1."), kernel("6.12")) else {
        require!(false, "{}", no_cached_kernels());
        return;
    };
    let o = diff(&["--btf", &old, "--btf", &new, "task_struct"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let lines = stdout(&o).lines().count();
    common::say(&format!("diff task_struct 6.1 -> 6.12: {lines} lines"));
    assert!(lines <= 60, "{lines} lines:\n{}", stdout(&o));
    assert!(stdout(&o).contains("+ saved_state: unsigned int @28"));
    assert!(stdout(&o).contains("- rss_stat: struct task_rss_stat @2288"));
}

#[test]
fn history_tells_the_state_story_over_the_kernel_cache() {
    let (Some(_), Some(_), Some(_)) = (kernel("5.10"), kernel("6.1."), kernel("6.12")) else {
        require!(false, "{}", no_cached_kernels());
        return;
    };
    let cache = common::kernel_cache().display().to_string();
    let o = diff(&["--history", "task_struct.state", "--btf", &cache]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = stdout(&o);
    let line = |release: &str| {
        text.lines()
            .find(|l| l.starts_with(release))
            .unwrap_or_else(|| panic!("no {release} line:\n{text}"))
            .to_owned()
    };
    assert!(
        line("5.10").contains("appears  state volatile long int @16 (8 bytes)"),
        "{text}"
    );
    assert!(
        line("6.1.").contains(
            "probably renamed state -> __state, retyped volatile long int -> unsigned int, \
             shifted @16 -> 24  __state unsigned int @24 (4 bytes)"
        ),
        "{text}"
    );
    assert!(
        line("6.12").contains("unchanged  __state unsigned int @24"),
        "{text}"
    );
}

/// docs/diff.md shows real output: its examples on the synthetic pair are what the command
/// prints.
#[test]
fn the_docs_show_what_the_command_prints() {
    let doc = std::fs::read_to_string(common::tests_dir().join("../docs/diff.md")).unwrap();
    for args in [
        &[
            "--btf",
            OLD,
            "--btf",
            NEW,
            "diff_task",
            "diff_color",
            "diff_target",
        ][..],
        &["--btf", OLD, "--btf", NEW, "--for", OLD][..],
    ] {
        let out = stdout(&diff(args));
        assert!(
            doc.contains(&out),
            "docs/diff.md lacks the output of diff {args:?}:\n{out}"
        );
    }
}
