//! The published JSON Schemas (docs/schemas/): fresh (what `coretool generate schemas` writes
//! from the output types), locked (a schema's content may change only with a new version in
//! its name: `docs/schemas/lock.json` maps every name ever published to a hash of its content,
//! and blessing adds names but never rewrites one), and true (every command's real `--json`
//! output, and the JSON documents checked in under tests/, validate against them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{
    self, fixtures, have_kernel_btf, kernel_exclusive, stderr, stdout, tests_dir, BIN, BLESS,
};

fn schemas_dir() -> PathBuf {
    tests_dir().join("../docs/schemas")
}

const LOCK: &str = "lock.json";

/// What `coretool generate schemas` writes, by file name.
fn generated() -> BTreeMap<String, Value> {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["generate", "schemas"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let text = std::fs::read_to_string(e.path()).unwrap();
            let name = e.file_name().into_string().unwrap();
            let v = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("generate schemas wrote bad JSON in {name}: {err}"));
            (name, v)
        })
        .collect()
}

/// The published schemas, by their name (`coretool.check-btf/v1`, the `title`).
fn published() -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for e in std::fs::read_dir(schemas_dir()).unwrap() {
        let path = e.unwrap().path();
        if path.file_name().unwrap() == LOCK {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let id = v["title"].as_str().unwrap().to_owned();
        all.insert(id, v);
    }
    all
}

#[test]
fn schemas_are_fresh() {
    let got = generated();
    assert!(got.len() >= 7, "{:?}", got.keys());
    let bless = std::env::var_os(BLESS).is_some();
    let dir = schemas_dir();
    for (name, schema) in &got {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(schema).unwrap() + "\n";
        if bless {
            // Only what changed, and whole (other tests read these files meanwhile).
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::create_dir_all(&dir).unwrap();
                let tmp = dir.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, &text).unwrap();
                std::fs::rename(&tmp, &path).unwrap();
            }
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (CORETOOL_BLESS=1 writes it)", path.display()));
        assert!(
            want == text,
            "{} is stale: `coretool generate schemas {}` writes something else \
             (CORETOOL_BLESS=1 rewrites it; a changed shape also needs a new version)",
            path.display(),
            dir.display()
        );
    }
    let on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != LOCK)
        .collect();
    for name in on_disk {
        assert!(
            got.contains_key(&name),
            "{}: a schema generate does not write",
            dir.join(name).display()
        );
    }
}

/// `value` as canonical text: keys sorted, no annotations (`title`, `description`: wording
/// is not shape), so that only a change of shape changes the hash.
fn canonical(value: &Value, in_properties: bool, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                if !in_properties && (k == "title" || k == "description") {
                    continue;
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                canonical(&map[k], !in_properties && k == "properties", out);
                out.push(',');
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for v in items {
                canonical(v, false, out);
                out.push(',');
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// FNV-1a, 64 bits, of the canonical text: a fingerprint against accidents, not an attacker.
fn fingerprint(schema: &Value) -> String {
    let mut text = String::new();
    canonical(schema, false, &mut text);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

#[test]
fn a_schema_changes_only_with_its_version() {
    let path = schemas_dir().join(LOCK);
    let mut lock: BTreeMap<String, String> = std::fs::read_to_string(&path)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_default();
    let bless = std::env::var_os(BLESS).is_some();
    let mut added = false;
    for schema in generated().values() {
        let id = schema["title"].as_str().expect("a title: the schema name");
        let got = fingerprint(schema);
        match lock.get(id) {
            Some(want) => assert!(
                *want == got,
                "the shape of {id} changed (lock {want}, now {got}): a published schema never \
                 changes; give the document a new version (coretool.NAME/v2) and bless, \
                 which adds the new name to {}",
                path.display()
            ),
            None if bless => {
                lock.insert(id.to_owned(), got);
                added = true;
            }
            None => panic!(
                "{id} is not in {}: CORETOOL_BLESS=1 adds it (once; later changes need a new version)",
                path.display()
            ),
        }
    }
    if added {
        std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap() + "\n").unwrap();
    }
}

#[test]
fn the_lock_catches_a_change_of_shape_but_not_of_wording() {
    let a: Value = serde_json::json!({
        "title": "coretool.x/v1", "description": "one",
        "properties": { "title": { "type": "string", "description": "a" } }
    });
    let reworded: Value = serde_json::json!({
        "description": "two", "title": "coretool.x/v1",
        "properties": { "title": { "description": "b", "type": "string" } }
    });
    let reshaped: Value = serde_json::json!({
        "title": "coretool.x/v1", "description": "one",
        "properties": { "name": { "type": "string", "description": "a" } }
    });
    assert_eq!(fingerprint(&a), fingerprint(&reworded));
    assert_ne!(fingerprint(&a), fingerprint(&reshaped));
}

/// Validate `doc` against the published schema its `schema` key names.
#[track_caller]
fn assert_valid(schemas: &BTreeMap<String, Value>, what: &str, doc: &Value) {
    let id = doc["schema"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no `schema` key"));
    let schema = schemas
        .get(id)
        .unwrap_or_else(|| panic!("{what}: no published schema {id}"));
    let validator = jsonschema::draft202012::new(schema)
        .unwrap_or_else(|e| panic!("docs/schemas: {id} is not a valid schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not validate against {id}:\n  {}",
        errors.join("\n  ")
    );
}

/// Every document of `out`'s stdout: one (pretty or compact) or JSON Lines.
fn documents(what: &str, out: &Output) -> Vec<Value> {
    let text = stdout(out);
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {l}\n{}", stderr(out)))
            })
            .collect(),
    }
}

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// Run `coretool ARGS`, expect one of `codes`, validate every document it printed; returns
/// the schema names seen.
#[track_caller]
fn check_command(schemas: &BTreeMap<String, Value>, args: &[&str], codes: &[i32]) -> Vec<String> {
    let what = format!("coretool {}", args.join(" "));
    let out = common::run(args);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "{what}: exit {code}\n{}",
        stderr(&out)
    );
    let docs = documents(&what, &out);
    assert!(!docs.is_empty(), "{what}: no output");
    docs.iter()
        .map(|d| {
            assert_valid(schemas, &what, d);
            d["schema"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn every_command_output_validates() {
    let schemas = published();
    let obj = fixture("core_all_kinds.bpf.o");
    let btf = fixture("core_all_kinds.btf");
    let probe = fixture("dryrun/dryrun_probe.bpf.o");
    let unguarded = fixture("dryrun/unguarded.bpf.o");
    let old = fixture("dryrun/targets/old_kernel.o");
    let ambiguous = fixture("dryrun/targets/offset_ambiguity.o");
    let not_bpf = fixture("not_bpf.o");
    let big_endian = fixture("core_all_kinds.bpfeb.o");
    let btfgen_out = tempfile::tempdir().unwrap();
    let btfgen_dir = btfgen_out.path().join("out").display().to_string();
    let diff_old = fixture("diff/diff_old.bpf.o");
    let diff_new = fixture("diff/diff_new.bpf.o");
    let written = tempfile::tempdir().unwrap();
    let written = written.path().join("out.btf").display().to_string();
    let mut seen = Vec::new();
    let runs: Vec<(Vec<&str>, &[i32])> = vec![
        (vec!["--json", "btf", "--btf", &obj], &[0]),
        (
            vec![
                "--json", "btf", "--btf", &btf, "--kind", "struct", "--pretty",
            ],
            &[0],
        ),
        (vec!["--json", "btf", "--btf", &obj, "--layout"], &[0]),
        (
            vec!["--json", "btf", "--btf", &obj, "--layout", "--expand"],
            &[0],
        ),
        (vec!["--json", "btf", "--btf", &obj, "no_such_type"], &[1]),
        (vec!["--json", "relocs", &obj, &not_bpf], &[0, 1, 2]),
        (vec!["--json", "relocs", &big_endian], &[0]),
        (
            vec![
                "--json",
                "dry-run",
                "--offline",
                "--btf",
                &old,
                "--btf",
                &ambiguous,
                &probe,
            ],
            &[1],
        ),
        (
            vec![
                "--json",
                "-v",
                "dry-run",
                "--offline",
                "--btf",
                &btf,
                &unguarded,
            ],
            &[0, 1],
        ),
        (
            vec!["--json", "dry-run", "--offline", "--btf", &btf, &obj],
            &[0],
        ),
        (
            vec![
                "compat",
                "--json",
                "--no-cache",
                "-j",
                "1",
                &obj,
                "--kernels",
                &btf,
                "--kernels",
                &not_bpf,
            ],
            &[0, 1, 2],
        ),
        (vec!["--json", "check-btf"], &[0, 1]),
        (
            vec!["--json", "btf", "--btf", &big_endian, "-o", &written],
            &[0],
        ),
        (
            vec!["--json", "diff", "--btf", &diff_old, "--btf", &diff_new],
            &[1],
        ),
        (
            vec!["--json", "requires", "--no-cache", &obj, "--btf", &btf],
            &[0, 1],
        ),
        (
            vec![
                "--json",
                "btfgen",
                "--no-cache",
                &obj,
                "--kernels",
                &btf,
                "-o",
                &btfgen_dir,
            ],
            &[0],
        ),
        (
            vec![
                "--json", "diff", "--btf", &diff_old, "--btf", &diff_new, "--for", &diff_old,
            ],
            &[0, 1],
        ),
        (
            vec![
                "--json",
                "diff",
                "--history",
                "diff_task.state",
                "--btf",
                &diff_old,
                "--btf",
                &diff_new,
            ],
            &[0, 1],
        ),
    ];
    for (args, codes) in &runs {
        seen.extend(check_command(&schemas, args, codes));
    }
    for id in [
        "coretool.btf/v1",
        "coretool.relocs/v1",
        "coretool.dry-run/v2",
        "coretool.compat/v2",
        "coretool.check-btf/v1",
        "coretool.btf-output/v1",
        "coretool.diff/v1",
        "coretool.btfgen/v1",
        "coretool.requires/v1",
    ] {
        assert!(seen.iter().any(|s| s == id), "no output of {id} checked");
    }
}

/// selftest and monitor load the bundled probe: root and kernel BTF.
#[test]
fn selftest_and_monitor_output_validates() {
    require_root!("needs root (selftest and monitor load BPF programs)");
    require!(
        have_kernel_btf(),
        "kernel BTF not available (/sys/kernel/btf/vmlinux)"
    );
    let schemas = published();
    let _exclusive = kernel_exclusive();
    let run = |args: &[&str]| common::bin().args(args).output().unwrap();
    let out = run(&["--json", "selftest"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    for d in documents("selftest", &out) {
        assert_valid(&schemas, "coretool --json selftest", &d);
    }
    // dry-run with libbpf in this kernel, and with the verifier (`load`, `sized_maps`).
    let sized = fixture("dryrun/runtime_sized.bpf.o");
    for (args, code) in [
        (
            vec!["--json", "dry-run", &fixture("core_all_kinds.bpf.o")],
            0,
        ),
        (vec!["--json", "dry-run", &sized, "--load"], 1),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["mode"], "libbpf");
        assert_valid(&schemas, &args.join(" "), &doc);
    }
    let out = run(&[
        "--json",
        "monitor",
        "--duration",
        "1.5",
        "--interval",
        "0.5",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = documents("monitor", &out);
    assert!(lines.len() >= 2, "{}", stdout(&out));
    for d in &lines {
        assert_valid(&schemas, "coretool --json monitor", d);
    }
}

/// The JSON documents checked in under tests/ (goldens, and real outputs captured inside the
/// kernel matrix's guests) that carry a coretool schema name validate too.
#[test]
fn checked_in_documents_validate() {
    let schemas = published();
    let mut stack = vec![tests_dir()];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "json") {
                checked += validate_file(&schemas, &path);
            }
        }
    }
    assert!(checked >= 5, "only {checked} documents found under tests/");
}

fn validate_file(schemas: &BTreeMap<String, Value>, path: &Path) -> usize {
    let Ok(doc) = serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()) else {
        return 0;
    };
    let Some(id) = doc["schema"].as_str() else {
        return 0;
    };
    if !id.starts_with("coretool.") || id == "coretool.kernel-matrix/v1" {
        return 0;
    }
    assert_valid(schemas, &path.display().to_string(), &doc);
    1
}

/// The schemas are strict enough to catch a drift: an extra key, a wrong type, another
/// version, each fails.
#[test]
fn a_drifted_document_fails() {
    let schemas = published();
    let obj = fixture("core_all_kinds.bpf.o");
    let out = common::run(&["--json", "btf", "--btf", &obj]);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_valid(&schemas, "btf", &doc);
    let validator = jsonschema::draft202012::new(&schemas["coretool.btf/v1"]).unwrap();
    let mut extra = doc.clone();
    extra["types"][0]["bogus"] = Value::from(1);
    let mut wrong = doc.clone();
    wrong["types"][0]["id"] = Value::from("one");
    let mut version = doc.clone();
    version["schema"] = Value::from("coretool.btf/v2");
    let mut missing = doc.clone();
    missing["source"].as_object_mut().unwrap().remove("endian");
    // Another kind's keys: a STRUCT with an INT's encoding, an INT with a STRUCT's members.
    let types = doc["types"].as_array().unwrap();
    let at = |kind: &str| types.iter().position(|t| t["kind"] == kind).unwrap();
    let mut struct_encoding = doc.clone();
    struct_encoding["types"][at("STRUCT")]["encoding"] = Value::from("SIGNED");
    let mut int_members = doc.clone();
    int_members["types"][at("INT")]["members"] = Value::Array(Vec::new());
    let mut int_as_ptr = doc.clone();
    int_as_ptr["types"][at("INT")]["kind"] = Value::from("PTR");
    for (what, d) in [
        ("STRUCT with encoding", struct_encoding),
        ("INT with members", int_members),
        ("INT called PTR", int_as_ptr),
        ("extra key", extra),
        ("wrong type", wrong),
        ("other version", version),
        ("missing key", missing),
    ] {
        assert!(!validator.is_valid(&d), "{what}: still valid");
    }
}
