//! `cargo xtask kernel-matrix --summarize` on results captured from a real run (Debian 5.10
//! under virtme-ng, `core_all_kinds.bpf.o`; `tests/fixtures/kernel-matrix/`, trimmed): the
//! verdicts, the parity comparison and the failure messages, without root, a VM or coretool
//! itself. Each test copies the results, breaks one thing and checks that the matrix says what.
//! The xtask binary is built once, by `cargo build --package xtask`, on first use.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common;

const RELEASE: &str = "5.10.0-46-amd64";
const OBJ: &str = "core_all_kinds.bpf.o";

/// The xtask binary: `cargo build --locked --package xtask`, once per test run.
fn xtask() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let out = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--locked", "--quiet", "--package", "xtask"])
            .arg("--message-format=json-render-diagnostics")
            .output()
            .expect("running cargo build --package xtask");
        assert!(
            out.status.success(),
            "cargo build --package xtask failed:\n{}",
            common::stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "xtask")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo build --package xtask reported no xtask executable")
    })
}

/// `cargo xtask kernel-matrix --summarize DIR`.
fn summarize(dir: &Path) -> std::process::Output {
    Command::new(xtask())
        .args(["kernel-matrix", "--summarize"])
        .arg(dir)
        .output()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A private copy of the captured results.
struct Results {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Results {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("results");
        copy_dir(&common::fixtures().join("kernel-matrix"), &dir);
        Results { _tmp: tmp, dir }
    }

    fn kernel(&self, rel: &str) -> PathBuf {
        self.dir.join(RELEASE).join(rel)
    }

    /// Edit relocation `index` of the dry-run of OBJ on `side` (guest: in the kernel, host:
    /// --offline).
    fn edit_relocation(&self, side: &str, index: usize, f: impl FnOnce(&mut Value)) {
        self.edit_json(&format!("{side}/dry-run.{OBJ}.json"), |v| {
            f(&mut v["targets"][0]["relocations"][index])
        });
    }

    fn edit_json(&self, rel: &str, f: impl FnOnce(&mut Value)) {
        let path = self.kernel(rel);
        let mut v: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        f(&mut v);
        fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }

    /// Exit status, stdout with the results directory replaced by `<DIR>`, and matrix.json.
    fn summarize(&self) -> (i32, String, Value) {
        let out = summarize(&self.dir);
        let stdout = common::stdout(&out).replace(self.dir.to_str().unwrap(), "<DIR>");
        let code = out.status.code().unwrap();
        assert!(
            code == 0 || code == 1,
            "exit {code}\n{stdout}{}",
            common::stderr(&out)
        );
        let matrix = serde_json::from_slice(&fs::read(self.dir.join("matrix.json")).unwrap())
            .expect("matrix.json");
        (code, stdout, matrix)
    }
}

fn failures(m: &Value) -> Vec<String> {
    m["kernels"][0]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn captured_run_passes() {
    let r = Results::new();
    let (code, stdout, m) = r.summarize();
    common::assert_golden("golden/kernel-matrix/summary.txt", &stdout);
    assert_eq!(code, 0);
    assert_eq!(m["schema"], "coretool.kernel-matrix/v1");
    assert_eq!(m["ok"], true);
    let k = &m["kernels"][0];
    assert_eq!(k["release"], RELEASE);
    assert_eq!(k["mode"], "vm");
    assert_eq!(k["check_btf"]["exit"], 0);
    assert_eq!(k["selftest"]["pass"], 34);
    let d = &k["dry_run"][0];
    assert_eq!(d["object"], OBJ);
    assert_eq!(d["live"]["mode"], "libbpf");
    assert_eq!(d["live"]["loads"], true);
    assert_eq!(d["offline"]["mode"], "offline");
    assert_eq!(d["parity"]["compared"], 32);
    assert_eq!(d["parity"]["equal"], true);
    assert_eq!(k["btf_parity"]["vmlinuz"]["state"], "state");
    assert_eq!(k["btf_parity"]["equal"], true);
}

#[test]
fn a_different_offline_fixup_breaks_parity() {
    let r = Results::new();
    r.edit_relocation("host", 4, |rel| {
        assert_eq!(rel["accessor"], "struct task_struct.real_parent");
        rel["target"] = Value::from(rel["target"].as_u64().unwrap() + 8);
    });
    let (code, stdout, m) = r.summarize();
    assert_eq!(code, 1);
    assert!(stdout.contains("DIFF 1"), "{stdout}");
    assert_eq!(
        failures(&m),
        [format!(
            "parity {OBJ}: 1 of 32 relocations differ between the kernel and --offline, first: \
             task_fields #4 byte_off struct task_struct.real_parent: kernel 2248 patched, \
             --offline 2256 patched"
        )]
    );
}

#[test]
fn a_different_status_breaks_parity() {
    let r = Results::new();
    r.edit_relocation("guest", 1, |rel| {
        assert_eq!(rel["status"], "patched");
        rel["status"] = "poisoned".into();
    });
    let (code, _, m) = r.summarize();
    assert_eq!(code, 1);
    assert_eq!(m["kernels"][0]["dry_run"][0]["parity"]["differences"], 1);
}

#[test]
fn a_missing_relocation_breaks_parity() {
    let r = Results::new();
    r.edit_json(&format!("host/dry-run.{OBJ}.json"), |v| {
        v["targets"][0]["relocations"].as_array_mut().unwrap().pop();
    });
    let (code, _, m) = r.summarize();
    assert_eq!(code, 1);
    let f = failures(&m);
    assert!(
        f[0].starts_with(&format!("parity {OBJ}: 1 of 32 relocations differ")),
        "{f:?}"
    );
    assert!(f[0].ends_with("--offline none"), "{f:?}");
}

#[test]
fn a_memory_size_is_read_and_quoted_whole() {
    let r = Results::new();
    for side in ["guest", "host"] {
        r.edit_relocation(side, 4, |rel| {
            rel["mem_sz"] = serde_json::json!({"local": 8, "target": 8});
        });
    }
    let (code, _, m) = r.summarize();
    assert_eq!(code, 0, "{:?}", failures(&m));
    r.edit_relocation("host", 4, |rel| rel["status"] = "same".into());
    let (code, _, m) = r.summarize();
    assert_eq!(code, 1);
    let d = &m["kernels"][0]["dry_run"][0]["parity"]["first_differences"][0];
    assert_eq!(
        d["live"]["mem_sz"],
        serde_json::json!({"local": 8, "target": 8})
    );
    assert_eq!(d["offline"]["status"], "same");
    assert_eq!(d["offline"]["candidate"]["type"], "struct task_struct");
}

#[test]
fn a_dry_run_output_that_is_not_json_fails() {
    let r = Results::new();
    fs::write(
        r.kernel(&format!("guest/dry-run.{OBJ}.json")),
        "{\"schema\": \n",
    )
    .unwrap();
    let (code, stdout, m) = r.summarize();
    assert_eq!(code, 1);
    assert_eq!(
        failures(&m),
        [format!(
            "dry-run {OBJ}: guest/dry-run.{OBJ}.json is not JSON: EOF while parsing a value at \
             line 2 column 0"
        )]
    );
    let row = stdout.lines().nth(1).unwrap();
    assert!(row.contains(" n/a "), "{row}");
}

#[test]
fn a_dry_run_output_that_is_not_a_document_fails() {
    let r = Results::new();
    r.edit_json(&format!("host/dry-run.{OBJ}.json"), |v| {
        v["targets"][0]
            .as_object_mut()
            .unwrap()
            .remove("verdict")
            .unwrap();
    });
    r.edit_relocation("guest", 3, |rel| rel["index"] = "3".into());
    let (code, _, m) = r.summarize();
    assert_eq!(code, 1);
    let f = failures(&m);
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(
        f[0].starts_with(&format!(
            "dry-run {OBJ}: guest/dry-run.{OBJ}.json is not a coretool.dry-run/v2 document: \
             invalid type: string \"3\", expected usize at line "
        )),
        "{f:?}"
    );
    assert!(
        f[1].starts_with(&format!(
            "dry-run --offline {OBJ}: host/dry-run.{OBJ}.json is not a coretool.dry-run/v2 \
             document: missing field `verdict` at line "
        )),
        "{f:?}"
    );
    let d = &m["kernels"][0]["dry_run"][0];
    assert_eq!(d["parity"], Value::Null);
    assert!(d["offline"]["output_error"]
        .as_str()
        .unwrap()
        .contains("missing field `verdict`"));
}

#[test]
fn a_dry_run_output_of_another_schema_fails() {
    let r = Results::new();
    r.edit_json(&format!("host/dry-run.{OBJ}.json"), |v| {
        v["schema"] = "coretool.dry-run/v1".into();
    });
    let (code, _, m) = r.summarize();
    assert_eq!(code, 1);
    assert_eq!(
        failures(&m),
        [format!(
            "dry-run --offline {OBJ}: host/dry-run.{OBJ}.json is not a coretool.dry-run/v2 \
             document: its schema is \"coretool.dry-run/v1\""
        )]
    );
}

#[test]
fn a_successful_dry_run_without_output_fails() {
    let r = Results::new();
    fs::remove_file(r.kernel(&format!("host/dry-run.{OBJ}.json"))).unwrap();
    fs::write(r.kernel(&format!("guest/dry-run.{OBJ}.json")), "").unwrap();
    let (code, _, m) = r.summarize();
    assert_eq!(code, 1);
    assert_eq!(
        failures(&m),
        [
            format!("dry-run {OBJ}: guest/dry-run.{OBJ}.json is empty"),
            format!("dry-run --offline {OBJ}: host/dry-run.{OBJ}.json is missing"),
        ]
    );
}

#[test]
fn a_failed_dry_run_need_not_write_output() {
    let r = Results::new();
    fs::write(r.kernel(&format!("guest/dry-run.{OBJ}.json")), "").unwrap();
    fs::write(r.kernel(&format!("guest/dry-run.{OBJ}.rc")), "2\n").unwrap();
    fs::write(
        r.kernel(&format!("guest/dry-run.{OBJ}.stderr")),
        "coretool: reading BTF: no such file\n",
    )
    .unwrap();
    let (code, _, m) = r.summarize();
    assert_eq!(code, 1);
    assert_eq!(
        failures(&m),
        [format!(
            "dry-run {OBJ}: exit 2 in the kernel: coretool: reading BTF: no such file"
        )]
    );
}

#[test]
fn an_unfinished_guest_fails() {
    let r = Results::new();
    fs::remove_file(r.kernel("guest/done")).unwrap();
    fs::remove_file(r.kernel(&format!("guest/dry-run.{OBJ}.json"))).unwrap();
    fs::remove_file(r.kernel(&format!("guest/dry-run.{OBJ}.rc"))).unwrap();
    let (code, stdout, m) = r.summarize();
    assert_eq!(code, 1);
    assert_eq!(
        failures(&m),
        [
            "the guest did not finish (vng exit 255): see console.log".to_owned(),
            format!("dry-run {OBJ}: did not run in the kernel"),
        ]
    );
    assert!(stdout.contains("FAILED:"), "{stdout}");
}

#[test]
fn failing_steps_are_named() {
    let r = Results::new();
    fs::write(r.kernel("guest/check-btf.rc"), "1\n").unwrap();
    r.edit_json("guest/check-btf.json", |v| {
        v["checks"][1]["status"] = "fail".into();
    });
    fs::write(r.kernel("guest/selftest.rc"), "2\n").unwrap();
    fs::write(r.kernel("guest/selftest.json"), "").unwrap();
    fs::write(
        r.kernel("guest/selftest.stderr"),
        "coretool: needs privilege: loading and attaching BPF tracing programs\n",
    )
    .unwrap();
    let (code, stdout, m) = r.summarize();
    assert_eq!(code, 1);
    assert_eq!(
        failures(&m),
        [
            "check-btf: exit 1, failed: btf.vmlinux",
            "selftest: exit 2: coretool: needs privilege: loading and attaching BPF tracing \
             programs",
        ]
    );
    let row = stdout.lines().nth(1).unwrap();
    assert!(row.contains(" FAIL "), "{row}");
}

#[test]
fn a_vmlinuz_btf_unlike_sysfs_fails() {
    let r = Results::new();
    r.edit_json("host/btf.json", |v| v["types"][0]["size"] = 9400.into());
    let (code, stdout, m) = r.summarize();
    assert_eq!(code, 1);
    assert_eq!(
        failures(&m),
        ["btf: task_struct from the vmlinuz and /sys/kernel/btf/vmlinux differ or are missing"]
    );
    assert!(stdout.contains("9400 B, state DIFF"), "{stdout}");
}

#[test]
fn steps_missing_from_the_build_are_not_failures() {
    let r = Results::new();
    let run = r.dir.join("run.json");
    let mut v: Value = serde_json::from_slice(&fs::read(&run).unwrap()).unwrap();
    v["features"]["selftest"] = false.into();
    v["features"]["dry_run"] = false.into();
    v["features"]["offline"] = false.into();
    fs::write(&run, serde_json::to_vec(&v).unwrap()).unwrap();
    let (code, stdout, m) = r.summarize();
    assert_eq!(code, 0, "{stdout}");
    let k = &m["kernels"][0];
    assert_eq!(k["selftest"], "not available in this build");
    assert_eq!(k["dry_run"], "not available in this build");
    let row = stdout.lines().nth(1).unwrap();
    assert_eq!(row.matches("n/a").count(), 2, "{row}");
}

#[test]
fn not_a_results_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = summarize(tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(err.contains("run.json: no such file"), "{err}");
}
