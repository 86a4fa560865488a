//! The GitHub Action's script (scripts/github-action.sh, run by action.yml), run here with the
//! variables GitHub sets: a temporary workspace holding the user's objects and sources,
//! `RUNNER_TEMP`, `GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT`. The job summary and the annotations
//! it writes are golden files (shown in docs/ci.md).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{assert_golden, fixtures, stderr, stdout, tests_dir, BIN};

struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    /// A workspace with `bpf/unguarded.bpf.{c,o}`, `bpf/core_all_kinds.bpf.{c,o}` and the
    /// kernel BTF `kernels/core_all_kinds.btf`.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("workspace");
        for sub in ["bpf", "kernels"] {
            std::fs::create_dir_all(ws.join(sub)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("runner-temp")).unwrap();
        for f in ["dryrun/unguarded.bpf.c", "dryrun/unguarded.bpf.o"] {
            let name = Path::new(f).file_name().unwrap();
            std::fs::copy(fixtures().join(f), ws.join("bpf").join(name)).unwrap();
        }
        for f in ["core_all_kinds.bpf.c", "core_all_kinds.bpf.o"] {
            std::fs::copy(fixtures().join(f), ws.join("bpf").join(f)).unwrap();
        }
        std::fs::copy(
            fixtures().join("core_all_kinds.btf"),
            ws.join("kernels/core_all_kinds.btf"),
        )
        .unwrap();
        Runner { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The script with GitHub's variables and `inputs` (INPUT_* names, as action.yml sets).
    fn run(&self, inputs: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(tests_dir().join("../scripts/github-action.sh"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_WORKSPACE", self.path("workspace"))
            .env("RUNNER_TEMP", self.path("runner-temp"))
            .env("GITHUB_STEP_SUMMARY", self.path("step_summary.md"))
            .env("GITHUB_OUTPUT", self.path("output"))
            .env("INPUT_CORETOOL_PATH", BIN);
        for (k, v) in inputs {
            cmd.env(k, v);
        }
        cmd.output().expect("run bash")
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.path("step_summary.md")).unwrap_or_default()
    }
}

/// The workflow commands (`::error ...`) among the script's output lines.
fn annotations(o: &Output) -> String {
    stdout(o)
        .lines()
        .filter(|l| l.starts_with("::"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn dry_run_writes_the_summary_and_annotates_the_poisoned_line() {
    require_tools!("bash", "jq");
    let r = Runner::new();
    let out = r.run(&[
        ("INPUT_OBJECTS", "bpf/*.bpf.o"),
        ("INPUT_KERNELS", "kernels/core_all_kinds.btf"),
        ("INPUT_COMMAND", "dry-run"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_golden("golden/action/dry-run.md", &r.summary());
    let notes = annotations(&out);
    assert_golden("golden/action/dry-run.annotations", &notes);
    // At the source line in the workspace, not in the object.
    assert!(
        notes.contains("::error file=bpf/unguarded.bpf.c,line=19,"),
        "{notes}"
    );
    let output = std::fs::read_to_string(r.path("output")).unwrap();
    let json = r.path("runner-temp/coretool-dry-run.json");
    assert_eq!(output, format!("json={}\n", json.display()));
    let docs: Vec<serde_json::Value> =
        serde_json::Deserializer::from_str(&std::fs::read_to_string(&json).unwrap())
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(docs.len(), 2, "one document per object");
}

#[test]
fn compat_writes_the_summary_and_annotates_the_poisoned_line() {
    require_tools!("bash", "jq");
    let r = Runner::new();
    // compat is the default with kernels; --no-cache keeps the test out of any BTF cache.
    let out = r.run(&[
        ("INPUT_OBJECTS", "bpf/*.bpf.o"),
        ("INPUT_KERNELS", "kernels/core_all_kinds.btf"),
        ("INPUT_ARGS", "--no-cache -j 1"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_golden("golden/action/compat.md", &r.summary());
    assert_golden("golden/action/compat.annotations", &annotations(&out));
}

#[test]
fn objects_that_load_pass_without_annotations() {
    require_tools!("bash", "jq");
    let r = Runner::new();
    let out = r.run(&[
        ("INPUT_OBJECTS", "bpf/core_all_kinds.bpf.o"),
        ("INPUT_KERNELS", "kernels/core_all_kinds.btf"),
        ("INPUT_COMMAND", "dry-run"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(annotations(&out), "");
    assert!(
        r.summary().contains(":white_check_mark: loads"),
        "{}",
        r.summary()
    );
}

#[test]
fn what_cannot_run_fails_the_step_with_an_error() {
    require_tools!("bash", "jq");
    let r = Runner::new();
    std::fs::copy(
        fixtures().join("not_bpf.o"),
        r.path("workspace/bpf/not_bpf.o"),
    )
    .unwrap();
    for (inputs, says) in [
        (
            vec![("INPUT_OBJECTS", "bpf/none*.o")],
            "nothing matches bpf/none*.o",
        ),
        (vec![("INPUT_OBJECTS", "")], "objects: none given"),
        (
            vec![
                ("INPUT_OBJECTS", "bpf/not_bpf.o"),
                ("INPUT_COMMAND", "dry-run"),
            ],
            "coretool dry-run failed (exit 2)",
        ),
        (
            vec![
                ("INPUT_OBJECTS", "bpf/*.bpf.o"),
                ("INPUT_COMMAND", "compat"),
            ],
            "compat needs kernels",
        ),
        (
            vec![("INPUT_OBJECTS", "bpf/*.bpf.o"), ("INPUT_COMMAND", "load")],
            "command: load is neither",
        ),
        (
            vec![
                ("INPUT_OBJECTS", "bpf/*.bpf.o"),
                ("INPUT_CORETOOL_PATH", "/nonexistent/coretool"),
            ],
            "/nonexistent/coretool: not an executable",
        ),
    ] {
        let out = r.run(&inputs);
        assert_eq!(out.status.code(), Some(2), "{inputs:?}: {}", stdout(&out));
        let notes = annotations(&out);
        assert!(
            notes.starts_with("::error title=coretool::") && notes.contains(says),
            "{inputs:?}: {notes}"
        );
    }
}

/// The install path: a release binary downloaded from a URL (here a file:// one) and checked
/// against its SHA-256.
#[test]
fn installs_coretool_from_a_url_and_checks_its_sha256() {
    require_tools!("bash", "jq", "curl", "sha256sum");
    let r = Runner::new();
    let url = format!("file://{BIN}");
    let sum = Command::new("sha256sum").arg(BIN).output().unwrap();
    let sum = stdout(&sum).split_whitespace().next().unwrap().to_owned();
    let inputs = |sha: &str| {
        vec![
            ("INPUT_CORETOOL_PATH", String::new()),
            ("INPUT_CORETOOL_URL", url.clone()),
            ("INPUT_CORETOOL_SHA256", sha.to_owned()),
            ("INPUT_OBJECTS", "bpf/core_all_kinds.bpf.o".into()),
            ("INPUT_KERNELS", "kernels/core_all_kinds.btf".into()),
            ("INPUT_COMMAND", "dry-run".into()),
        ]
    };
    let run = |sha: &str| {
        let owned = inputs(sha);
        let refs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        r.run(&refs)
    };
    let out = run(&sum);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let installed = r.path("runner-temp/coretool-bin/coretool");
    assert!(
        stdout(&out).contains(&format!("coretool: {}", installed.display())),
        "{}",
        stdout(&out)
    );
    let out = run(&"0".repeat(64));
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        annotations(&out).contains("SHA-256 is not"),
        "{}",
        stdout(&out)
    );
}

/// action.yml passes every input the script reads, as `INPUT_<NAME>: ${{ inputs.<name> }}`,
/// and declares each of those inputs.
#[test]
fn action_yml_passes_every_input_the_script_reads() {
    let yml = std::fs::read_to_string(tests_dir().join("../action.yml")).unwrap();
    let script = std::fs::read_to_string(tests_dir().join("../scripts/github-action.sh")).unwrap();
    let re = regex::Regex::new(r"\bINPUT_([A-Z0-9_]+)").unwrap();
    let mut names: Vec<&str> = re
        .captures_iter(&script)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let input = name.to_lowercase().replace('_', "-");
        let env = format!("INPUT_{name}: ${{{{ inputs.{input} }}}}");
        assert!(yml.contains(&env), "action.yml does not set {env}");
        assert!(
            yml.contains(&format!("\n  {input}:\n")),
            "action.yml declares no input {input}"
        );
    }
    assert!(yml.contains("run: bash \"$GITHUB_ACTION_PATH/scripts/github-action.sh\""));
}

/// docs/ci.md shows what the script really writes: the golden summaries and annotations.
#[test]
fn docs_show_the_real_output() {
    let doc = std::fs::read_to_string(tests_dir().join("../docs/ci.md")).unwrap();
    for name in [
        "dry-run.md",
        "dry-run.annotations",
        "compat.md",
        "compat.annotations",
    ] {
        let golden = std::fs::read_to_string(tests_dir().join("golden/action").join(name)).unwrap();
        assert!(
            doc.contains(&golden),
            "docs/ci.md does not show tests/golden/action/{name} as it is"
        );
    }
}
