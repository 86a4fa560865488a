//! coretool's maintainer tasks, run as `cargo xtask COMMAND` (the alias is in
//! `.cargo/config.toml`): tooling with logic is Rust, shell stays for the lines that boot a VM.
//!
//! - `kernel-matrix`: coretool on Debian's kernels under virtme-ng and on the running kernel,
//!   judged (engine parity, BTF parity, exit statuses) into `matrix.json` and a table.
//! - `regen-probe`: rebuild `probes/prebuilt/process_monitor.bpf.o` and its input stamp.
//! - `regen-fixtures`: rebuild the checked-in test fixtures with the pinned clang.
//! - `dist`: coretool as one static executable.
//! - `compat-parity`: `compat`'s relocations against libbpf's own engine over a kernel corpus.
//!
//! The xtask reads `dry-run --json` with the library's serde model of the document
//! (`coretool::dryrun::report`, what the binary writes), so the schema is written down once;
//! the other outputs through its own forgiving view (`coretool_json`). Linking the library
//! means building libbpf (vendored), which coretool's own build has done already.

mod compat_parity;
mod coretool_json;
mod corpus;
mod dist;
mod kernel_matrix;
mod regen;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "coretool's maintainer tasks"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run coretool on several kernels and judge the results (docs/ci.md); needs root
    KernelMatrix(kernel_matrix::Args),
    /// Rebuild probes/prebuilt/process_monitor.bpf.o and process_monitor.inputs (probes/README.md)
    RegenProbe(regen::probe::Args),
    /// Rebuild the checked-in test fixtures with the pinned clang (tests/fixtures/README.md)
    RegenFixtures(regen::fixtures::Args),
    /// Build coretool as one static executable, target/dist/coretool (docs/install.md)
    Dist(dist::Args),
    /// Check `compat`'s relocations against libbpf's own engine on every kernel of a corpus
    /// (docs/compat.md); needs root
    CompatParity(compat_parity::Args),
    /// Extract the BPF objects embedded in Debian's libbpf-tools, for the kernel matrix
    Corpus(corpus::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::KernelMatrix(args) => return kernel_matrix::main(args),
        Cmd::RegenProbe(args) => regen::probe::run(&args),
        Cmd::RegenFixtures(args) => regen::fixtures::run(&args),
        Cmd::Dist(args) => dist::run(&args),
        Cmd::CompatParity(args) => compat_parity::run(&args),
        Cmd::Corpus(args) => corpus::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The repository's root (the workspace root, one level above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a subdirectory of the repository")
        .to_owned()
}

/// The first executable called `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `cargo build --locked ARGS` in `root` with `env` set (Some) or removed (None), returning what
/// the build printed as JSON messages; diagnostics go to stderr as usual.
pub fn cargo_build_messages(
    root: &Path,
    args: &[&str],
    env: &[(&str, Option<&Path>)],
) -> Result<Vec<serde_json::Value>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    for (name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    let out = cmd
        .current_dir(root)
        .args([
            "build",
            "--locked",
            "--message-format=json-render-diagnostics",
        ])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !out.status.success() {
        bail!("cargo build {} failed", args.join(" "));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Whether a cargo message's `package_id` names the package `name` (both the
/// `path+file:///...#name@version` form and the older `name version (source)` form).
pub fn is_package(msg: &serde_json::Value, name: &str) -> bool {
    let id = msg["package_id"].as_str().unwrap_or_default();
    id.split_once('#').map_or_else(
        || id.split(' ').next() == Some(name),
        |(path, rest)| {
            rest.split('@').next() == Some(name)
                || (!rest.contains('@') && path.rsplit('/').next() == Some(name))
        },
    )
}

/// `cargo build --locked ARGS` of a binary target `bin`: the path of the executable.
pub fn cargo_build(root: &Path, args: &[&str], bin: &str) -> Result<PathBuf> {
    cargo_build_messages(root, args, &[])?
        .iter()
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| {
            format!(
                "cargo build {} produced no `{bin}` executable",
                args.join(" ")
            )
        })
}
