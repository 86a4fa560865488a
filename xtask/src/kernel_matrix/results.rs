//! The results directory of a kernel-matrix run, as files: what the runner writes (`run.json`,
//! `<release>/info.json`, `<release>/boot.json`), what the guest script writes for each step
//! (`NAME.json`, `NAME.stderr`, `NAME.rc`, `done`) and how the judgement reads them back.
//!
//! Reading is forgiving where the old jq program was: a missing, empty or unparsable output
//! file reads as "no output" (the judgement says the step did not run or failed), a missing
//! exit status as "no status". A dry-run's output, which the judgement compares field by field,
//! is read strictly ([`StepFiles::document`]): why it is unusable becomes a failure of its own.
//! A malformed `run.json`, `info.json` or exit status is an error: those are the runner's own
//! files.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Name of the results schema (`matrix.json`).
pub const SCHEMA: &str = "coretool.kernel-matrix/v1";

/// `run.json`: what ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// The coretool binary.
    pub coretool: String,
    /// Its `--version`.
    pub version: String,
    /// `static` (no program interpreter: what `cargo xtask dist` builds) or `dynamic`; absent
    /// in results from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkage: Option<String>,
    pub features: Features,
    /// The BPF objects given to dry-run, as paths.
    pub objects: Vec<String>,
    /// The kernels' releases: the directories under the results directory.
    pub kernels: Vec<String>,
    /// The whole run's wall time.
    pub seconds: f64,
}

/// Which steps the coretool build has (`coretool help STEP`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Features {
    pub check_btf: bool,
    pub selftest: bool,
    pub dry_run: bool,
    /// `dry-run --offline`, and with it the parity check.
    pub offline: bool,
    /// `requires --live`: the offline prediction against a live load of every program.
    #[serde(default)]
    pub requires: bool,
}

/// How a kernel ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Booted under virtme-ng.
    Vm,
    /// The running kernel.
    Host,
}

/// `<release>/info.json`: which kernel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    /// As given on the command line: `5.10`, `host`, a vmlinuz path.
    pub name: String,
    pub release: String,
    pub mode: Mode,
    /// The BTF source the host read for this kernel: its vmlinuz, or `/sys/kernel/btf/vmlinux`.
    pub btf: String,
}

/// `<release>/boot.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Boot {
    Vm(VmBoot),
    Host(HostBoot),
}

/// How a VM booted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VmBoot {
    /// The kernel's timestamp when virtme-ng-init started the guest script (from the console).
    pub seconds_to_script: Option<f64>,
    /// The guest's uptime when the guest script started.
    pub seconds_to_userspace: Option<f64>,
    /// The whole `vng` run, wall time.
    pub vng_seconds: f64,
    /// `vng`'s exit status (255 when it finds no script I/O port; 124 or 137: timed out).
    pub vng_exit: i64,
    /// The time limit.
    pub timeout: u64,
}

/// How long the guest script took on the running kernel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostBoot {
    pub run_seconds: f64,
}

/// Read and parse one of the runner's own JSON files.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// Write `value` as pretty JSON, through a temporary file so that a reader never sees half.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    let tmp = path.with_extension("json.new");
    fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// One step's files: `DIR/NAME.json`, `DIR/NAME.stderr`, `DIR/NAME.rc`.
pub struct StepFiles {
    dir: PathBuf,
    name: String,
}

impl StepFiles {
    pub fn new(dir: &Path, name: &str) -> Self {
        StepFiles {
            dir: dir.to_owned(),
            name: name.to_owned(),
        }
    }

    fn path(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", self.name))
    }

    /// The step's output file (`ext`) as text, when it exists.
    pub fn text(&self, ext: &str) -> Option<String> {
        fs::read_to_string(self.path(ext)).ok()
    }

    /// The step's JSON output: None when it is missing, empty, not JSON, `null`, or not of
    /// the expected shape.
    pub fn output<T: DeserializeOwned>(&self) -> Option<T> {
        let bytes = fs::read(self.path("json")).ok()?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        if value.is_null() || value == serde_json::Value::Bool(false) {
            return None;
        }
        serde_json::from_value(value).ok()
    }

    /// The step's JSON output as a document of `schema` (its `schema` key) of type `T`, or why
    /// there is none.
    pub fn document<T: DeserializeOwned>(&self, schema: &str) -> Result<T, OutputError> {
        let file = self.display_name("json");
        let bytes = match fs::read(self.path("json")) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(OutputError::Missing { file })
            }
            Err(e) => {
                return Err(OutputError::Unreadable {
                    file,
                    error: e.to_string(),
                })
            }
        };
        if bytes.trim_ascii().is_empty() {
            return Err(OutputError::Empty { file });
        }
        let invalid = |why: String| OutputError::Invalid {
            file: file.clone(),
            schema: schema.to_owned(),
            why,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| OutputError::NotJson {
                file: file.clone(),
                error: e.to_string(),
            })?;
        match value.get("schema") {
            Some(serde_json::Value::String(s)) if s == schema => {}
            Some(other) => return Err(invalid(format!("its schema is {other}"))),
            None => return Err(invalid("it has no schema".to_owned())),
        }
        // From the bytes again rather than from `value`: serde_json's error then says where.
        serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))
    }

    /// The step's JSON output is a document the judgement cannot use, for the reason `why`.
    pub fn unusable(&self, why: String) -> OutputError {
        OutputError::Unusable {
            file: self.display_name("json"),
            why,
        }
    }

    /// `guest/NAME.EXT`: the file as the results directory's readers know it.
    fn display_name(&self, ext: &str) -> String {
        let side = self.dir.file_name().unwrap_or_default().to_string_lossy();
        format!("{side}/{}.{ext}", self.name)
    }

    /// The step's exit status; None when the step left none (did not run or did not finish).
    pub fn exit(&self) -> Result<Option<i64>> {
        let path = self.path("rc");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse() {
            Ok(rc) => Ok(Some(rc)),
            Err(_) => bail!("{}: not an exit status: {text:?}", path.display()),
        }
    }

    /// The last non-empty line of the step's stderr: coretool's one-line error.
    pub fn last_stderr_line(&self) -> Option<String> {
        let text = fs::read(self.path("stderr")).ok()?;
        last_line(&String::from_utf8_lossy(&text))
    }
}

/// Why a step's output is not a usable document; each names the file (`guest/NAME.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputError {
    Missing {
        file: String,
    },
    Unreadable {
        file: String,
        error: String,
    },
    /// Empty or whitespace only: the command wrote nothing.
    Empty {
        file: String,
    },
    NotJson {
        file: String,
        error: String,
    },
    /// JSON, but not a document of `schema`.
    Invalid {
        file: String,
        schema: String,
        why: String,
    },
    /// A valid document the judgement cannot use.
    Unusable {
        file: String,
        why: String,
    },
}

impl OutputError {
    /// The command wrote no output (as opposed to a broken one): expected of a failed command.
    pub fn is_absent(&self) -> bool {
        matches!(
            self,
            OutputError::Missing { .. } | OutputError::Empty { .. }
        )
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Missing { file } => write!(f, "{file} is missing"),
            OutputError::Unreadable { file, error } => write!(f, "cannot read {file}: {error}"),
            OutputError::Empty { file } => write!(f, "{file} is empty"),
            OutputError::NotJson { file, error } => write!(f, "{file} is not JSON: {error}"),
            OutputError::Invalid { file, schema, why } => {
                write!(f, "{file} is not a {schema} document: {why}")
            }
            OutputError::Unusable { file, why } => write!(f, "{file}: {why}"),
        }
    }
}

/// The last non-empty line of `text`.
pub fn last_line(text: &str) -> Option<String> {
    text.split('\n').rfind(|l| !l.is_empty()).map(str::to_owned)
}

/// The file name of a path given as a string (an object's name in the results).
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_line_skips_empty_lines() {
        assert_eq!(last_line("a\nb\n\n").as_deref(), Some("b"));
        assert_eq!(last_line(""), None);
        assert_eq!(last_line("\n\n"), None);
    }

    #[test]
    fn boot_files_of_both_kinds_parse() {
        let vm: Boot = serde_json::from_str(
            r#"{"seconds_to_script": null, "seconds_to_userspace": 3.5, "vng_seconds": 9,
                "vng_exit": 255, "timeout": 900}"#,
        )
        .unwrap();
        assert!(matches!(vm, Boot::Vm(VmBoot { vng_exit: 255, .. })));
        let host: Boot = serde_json::from_str(r#"{"run_seconds": 2.5}"#).unwrap();
        assert!(matches!(host, Boot::Host(_)));
    }

    #[test]
    fn file_name_is_the_last_component() {
        assert_eq!(file_name("/a/b/x.bpf.o"), "x.bpf.o");
        assert_eq!(file_name("x.bpf.o"), "x.bpf.o");
    }
}
