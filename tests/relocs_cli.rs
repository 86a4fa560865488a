//! `coretool relocs` on the all-kinds fixture (both byte orders), golden files, bad objects.
use crate::common::*;

fn fx(name: &str) -> String {
    fixtures().join(name).to_str().unwrap().to_owned()
}

/// Run from the fixtures directory so that paths in the output are stable.
fn relocs(args: &[&str]) -> std::process::Output {
    bin()
        .current_dir(fixtures())
        .arg("relocs")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn all_kinds_little_endian_golden() {
    let o = relocs(&["--color", "never", "core_all_kinds.bpf.o"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_golden("golden/relocs/core_all_kinds.txt", &stdout(&o));
}

#[test]
fn all_kinds_big_endian_golden() {
    let o = relocs(&["--color", "never", "-v", "core_all_kinds.bpfeb.o"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("big-endian"));
    assert_golden("golden/relocs/core_all_kinds.bpfeb.txt", &stdout(&o));
}

#[test]
fn json_golden_and_every_kind_present() {
    let o = relocs(&["--json", "core_all_kinds.bpf.o"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_golden("golden/relocs/core_all_kinds.json", &stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "coretool.relocs/v1");
    let relos = v["objects"][0]["relocations"].as_array().unwrap();
    for key in [
        "section", "program", "index", "insn", "kind", "type_id", "type", "access", "accessor",
        "line",
    ] {
        assert!(
            relos.iter().all(|r| r.get(key).is_some()),
            "key {key} missing"
        );
    }
    let kinds: std::collections::BTreeSet<&str> =
        relos.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    for k in [
        "byte_off",
        "byte_sz",
        "field_exists",
        "signed",
        "lshift_u64",
        "rshift_u64",
        "local_type_id",
        "target_type_id",
        "type_exists",
        "type_matches",
        "type_size",
        "enumval_exists",
        "enumval_value",
    ] {
        assert!(kinds.contains(k), "fixture lacks a {k} relocation");
    }
    // Accessors decoded in libbpf's notation.
    let accessors: Vec<&str> = relos
        .iter()
        .map(|r| r["accessor"].as_str().unwrap())
        .collect();
    for a in [
        "struct task_struct.real_parent",
        "struct task_struct.se.load.weight",
        "struct task_struct___old.state",
        "enum pid_type::PIDTYPE_SID = 3",
        "struct signal_struct.rlim[7].rlim_cur",
    ] {
        assert!(
            accessors.contains(&a),
            "accessor {a} missing: {accessors:?}"
        );
    }
    // Bitfields carry a bit offset.
    assert!(relos
        .iter()
        .any(|r| r["offset"].as_str().is_some_and(|s| s.contains('.'))));
}

#[test]
fn both_byte_orders_decode_to_the_same_accessors() {
    let get = |f: &str| -> Vec<(String, String)> {
        let o = relocs(&["--json", f]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut a: Vec<(String, String)> = v["objects"][0]["relocations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["kind"].as_str().unwrap().into(),
                    r["accessor"].as_str().unwrap().into(),
                )
            })
            .collect();
        a.sort();
        a.dedup();
        a
    };
    let le = get("core_all_kinds.bpf.o");
    let be = get("core_all_kinds.bpfeb.o");
    // clang emits a few extra records for big-endian bitfield reads; every little-endian
    // (kind, accessor) pair must be there too.
    for p in &le {
        assert!(be.contains(p), "big-endian lacks {p:?}");
    }
}

#[test]
fn object_without_core_records_says_so() {
    let o = relocs(&["no_core.bpf.o"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("no CO-RE relocations"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_objects_exit_2_with_one_line() {
    for f in [
        "no_btf.bpf.o",
        "corrupt_ext_bounds.bpf.o",
        "corrupt_ext_magic.bpf.o",
        "corrupt_ext_recsize.bpf.o",
        "not_bpf.o",
        "core_all_kinds.bpf.c",
        "does_not_exist.o",
    ] {
        let p = fx(f);
        let o = run(&["relocs", &p]);
        assert_bad_input(&o, &p);
    }
    let dir = fixtures();
    let o = run(&["relocs", dir.to_str().unwrap()]);
    assert_bad_input(&o, dir.to_str().unwrap());
    // A bad object among good ones: nothing is printed.
    let o = run(&["relocs", &fx("core_all_kinds.bpf.o"), &fx("no_btf.bpf.o")]);
    assert_bad_input(&o, &fx("no_btf.bpf.o"));
}

/// `--json` with one bad object among good ones still describes every object: the bad one
/// carries its error, the exit status says something failed.
#[test]
fn json_reports_every_object_even_when_one_is_bad() {
    let out = crate::common::bin()
        .current_dir(crate::common::fixtures())
        .args(["--json", "relocs", "core_all_kinds.bpf.o", "not_bpf.o"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects = doc["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["path"], "core_all_kinds.bpf.o");
    assert!(objects[0]["relocations"].as_array().unwrap().len() > 10);
    assert!(objects[0].get("error").is_none());
    assert_eq!(objects[1]["path"], "not_bpf.o");
    assert!(objects[1]["error"]
        .as_str()
        .unwrap()
        .contains("not a BPF object"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not_bpf.o"), "{err}");
}
