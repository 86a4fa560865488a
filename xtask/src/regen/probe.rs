//! `cargo xtask regen-probe`: refresh `probes/prebuilt/process_monitor.bpf.o`, the object a
//! build without clang embeds, and `probes/prebuilt/process_monitor.inputs`, the stamp that
//! records the clang and the fingerprints of the sources it was built from
//! (`tests/probe_object.rs` checks both).
//!
//! The object is the one `build.rs` compiles into `OUT_DIR` (one recipe for the embedded and the
//! prebuilt object): this runs `cargo build` with the pinned clang and copies the result.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use super::Clang;
use crate::{cargo_build_messages, is_package, repo_root};

// FNV-1a of the inputs, shared with the library's check of the stamp.
include!("../../../src/probe/fingerprint.rs");

/// The probe's clang. The checked-in object was built by Debian 12's default clang, the one
/// `build.rs` finds as `clang`; with it, the embedded and the prebuilt object are equal bytes.
pub const CLANG_MAJOR: u32 = 14;

const PREBUILT: &str = "probes/prebuilt/process_monitor.bpf.o";
const STAMP: &str = "probes/prebuilt/process_monitor.inputs";

/// Rebuild the prebuilt probe object and its stamp.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The clang to compile with (as build.rs takes it: a command or a path)
    #[arg(long, env = "CLANG", default_value = "clang")]
    clang: String,
}

pub fn run(args: &Args) -> Result<()> {
    let root = repo_root();
    let clang = Clang::pinned(&args.clang, CLANG_MAJOR, "the prebuilt probe's bytes")?;
    eprintln!("regen-probe: {}", clang.version);

    // build.rs compiles the probe whenever its inputs, CLANG or CORETOOL_PREBUILT_PROBE change;
    // leaving CLANG as a plain build has it keeps cargo's cached build valid.
    let mut env = vec![("CORETOOL_PREBUILT_PROBE", None)];
    if args.clang != "clang" {
        env.push(("CLANG", Some(clang.path.as_path())));
    }
    let messages = cargo_build_messages(&root, &["--package", "coretool", "--lib"], &env)?;
    let Some(script) = messages
        .iter()
        .find(|m| m["reason"] == "build-script-executed" && is_package(m, "coretool"))
    else {
        bail!("cargo build reported no run of coretool's build script");
    };
    let origin = script["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|kv| kv[0] == "CORETOOL_PROBE_ORIGIN")
        .and_then(|kv| kv[1].as_str())
        .unwrap_or_default();
    let expected = format!("clang: {}", clang.version);
    ensure!(
        origin == expected,
        "build.rs embedded a probe from `{origin}`, not `{expected}` (see its cargo warning)"
    );
    let out_dir = script["out_dir"]
        .as_str()
        .context("build-script-executed without out_dir")?;
    let built = Path::new(out_dir).join("process_monitor.bpf.o");
    fs::copy(&built, root.join(PREBUILT))
        .with_context(|| format!("copying {} to {PREBUILT}", built.display()))?;

    let arch = std::env::consts::ARCH;
    let mut stamp =
        String::from("# Inputs of process_monitor.bpf.o; written by `cargo xtask regen-probe`.\n");
    let _ = writeln!(stamp, "clang {}", clang.version);
    for input in [
        "probes/process_monitor.bpf.c".to_owned(),
        "probes/process_monitor.h".to_owned(),
        format!("probes/vmlinux/{arch}/vmlinux.h"),
    ] {
        let bytes = fs::read(root.join(&input)).with_context(|| format!("reading {input}"))?;
        let _ = writeln!(stamp, "fnv1a64 {:016x} {input}", fnv1a64(&bytes));
    }
    fs::write(root.join(STAMP), stamp).with_context(|| format!("writing {STAMP}"))?;
    eprintln!("regen-probe: wrote {PREBUILT} and {STAMP}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
