//! `cargo xtask dist`: coretool as one static x86-64 executable (docs/install.md).
//!
//! glibc's static libraries (`+crt-static`), libbpf vendored and linked statically with
//! Debian's `libelf.a` and `libz.a` (libbpf-sys's `static` feature, through coretool's
//! `static` feature), liblzma built from source (xz2's `static`), zstd built from source as
//! always. The result is stripped into `target/dist/coretool`; `ldd` must call it "not a dynamic
//! executable".

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The target triple (an aarch64 build needs its cross toolchain and static libs)
    #[arg(long, default_value = "x86_64-unknown-linux-gnu")]
    pub target: String,
    /// Where the C libraries' static archives are (libelf.a, libz.a)
    #[arg(long, default_value = "/usr/lib/x86_64-linux-gnu")]
    pub static_libs: PathBuf,
}

pub fn run(args: &Args) -> Result<()> {
    let root = crate::repo_root();
    for lib in ["libelf.a", "libz.a"] {
        if !args.static_libs.join(lib).is_file() {
            bail!(
                "{}: no {lib} (install libelf-dev and zlib1g-dev, or pass --static-libs)",
                args.static_libs.display()
            );
        }
    }
    let rustflags = format!(
        "-C target-feature=+crt-static -C relocation-model=static -L native={}",
        args.static_libs.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = root.join("target/dist-build");
    let status = Command::new(cargo)
        .current_dir(&root)
        .env("RUSTFLAGS", &rustflags)
        .args(["build", "--locked", "--release", "--features", "static"])
        .args(["--bin", "coretool", "--target", &args.target])
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of the static binary failed");
    }
    let built = target_dir.join(&args.target).join("release/coretool");
    let dist = root.join("target/dist");
    std::fs::create_dir_all(&dist)?;
    let out = dist.join("coretool");
    let strip = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(&built)
        .status()
        .context("running strip (binutils)")?;
    if !strip.success() {
        bail!("strip {} failed", built.display());
    }
    let ldd = Command::new("ldd").arg(&out).output();
    let ldd = ldd.map_or_else(
        |e| format!("ldd: {e}"),
        |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
                + String::from_utf8_lossy(&o.stderr).trim()
        },
    );
    if !ldd.contains("not a dynamic executable") {
        bail!("{} is not static: ldd says {ldd}", out.display());
    }
    let size = std::fs::metadata(&out)?.len();
    println!(
        "{}: {:.1} MiB, static (ldd: {ldd})",
        out.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}
