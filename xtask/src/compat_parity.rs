//! `cargo xtask compat-parity`: `coretool compat`'s per-relocation values checked against
//! libbpf's own engine on every kernel of a corpus.
//!
//! `compat` relocates offline (libbpf's calculator, coretool's candidate index, one libbpf BTF
//! per kernel for every object). The reference is `dry-run` with the libbpf engine:
//! `bpf_object__prepare` with the kernel's BTF as `btf_custom_path`, libbpf doing everything
//! itself. For each object, the kernels go to `dry-run` in batches (one process, many `--btf`),
//! and every kernel's `relocations` array must equal compat's record for that object and kernel,
//! field for field (the same `RelocationDoc` model). Needs root (the libbpf engine needs
//! `bpf()`); a `dry-run` that fell back to the offline engine is an error, not a pass.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The coretool binary [default: target/release/coretool, built if missing]
    #[arg(long)]
    coretool: Option<PathBuf>,
    /// Kernel sources, as `compat --kernels` takes them
    #[arg(long, num_args = 1.., required = true)]
    kernels: Vec<PathBuf>,
    /// Kernels per dry-run process
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// BPF objects
    #[arg(required = true)]
    objects: Vec<PathBuf>,
}

pub fn run(args: &Args) -> Result<()> {
    let ct = match &args.coretool {
        Some(p) => p.clone(),
        None => {
            let root = crate::repo_root();
            let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .current_dir(&root)
                .args(["build", "--release", "--locked", "--quiet"])
                .status()
                .context("running cargo build --release")?;
            if !status.success() {
                bail!("cargo build --release failed");
            }
            root.join("target/release/coretool")
        }
    };
    // compat: one record per object x kernel.
    let out = Command::new(&ct)
        .arg("compat")
        .args(&args.objects)
        .arg("--kernels")
        .args(&args.kernels)
        .args(["--json", "--no-cache"])
        .output()
        .with_context(|| format!("running {}", ct.display()))?;
    if out.status.code() == Some(2) {
        bail!(
            "coretool compat could not run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // (object, kernel source) -> relocations, for the kernels compat could read.
    let mut compat: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut unreadable = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let r: Value = serde_json::from_str(line).context("a compat record is not JSON")?;
        if r["verdict"] == "unreadable" {
            unreadable += 1;
            continue;
        }
        let key = (
            r["object"].as_str().unwrap_or_default().to_owned(),
            r["kernel"]["source"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        compat.insert(key, r["relocations"].clone());
    }
    let mut compared = 0usize;
    let mut relocations = 0usize;
    let mut mismatches = Vec::new();
    for obj in &args.objects {
        let obj_s = obj.display().to_string();
        let sources: Vec<&String> = compat
            .keys()
            .filter(|(o, _)| *o == obj_s)
            .map(|(_, s)| s)
            .collect();
        for batch in sources.chunks(args.batch.max(1)) {
            let mut cmd = Command::new(&ct);
            cmd.arg("dry-run").arg(obj).arg("--json");
            for s in batch {
                cmd.arg("--btf").arg(s);
            }
            let out = cmd.output().context("running coretool dry-run")?;
            let doc: Value = serde_json::from_slice(&out.stdout).with_context(|| {
                format!(
                    "dry-run {obj_s} printed no JSON: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
            if doc["mode"] != "libbpf" {
                bail!(
                    "dry-run used the {} engine, not libbpf's (run as root, with bpf())",
                    doc["mode"]
                );
            }
            for t in doc["targets"].as_array().into_iter().flatten() {
                let source = t["source"].as_str().unwrap_or_default().to_owned();
                let want = &t["relocations"];
                let got = &compat[&(obj_s.clone(), source.clone())];
                compared += 1;
                relocations += want.as_array().map_or(0, Vec::len);
                if want != got {
                    mismatches.push(describe(&obj_s, &source, got, want));
                }
            }
        }
    }
    println!(
        "compat-parity: {} object x kernel pairs, {relocations} relocations compared with \
         libbpf's bpf_object__prepare; {} mismatches; {unreadable} unreadable kernel sources \
         skipped",
        compared,
        mismatches.len()
    );
    for m in &mismatches {
        println!("  {m}");
    }
    if compared == 0 {
        bail!("nothing was compared");
    }
    if !mismatches.is_empty() {
        bail!("{} object x kernel pairs differ", mismatches.len());
    }
    Ok(())
}

/// The first relocation that differs, both ways.
fn describe(obj: &str, source: &str, got: &Value, want: &Value) -> String {
    let (g, w) = (
        got.as_array().cloned().unwrap_or_default(),
        want.as_array().cloned().unwrap_or_default(),
    );
    let first = (0..g.len().max(w.len())).find(|&i| g.get(i) != w.get(i));
    match first {
        Some(i) => format!(
            "{obj} on {source}: relocation {i}: compat {} / libbpf {}",
            g.get(i).map_or("none".into(), Value::to_string),
            w.get(i).map_or("none".into(), Value::to_string)
        ),
        None => format!("{obj} on {source}: differs"),
    }
}
