//! Build script.
//!
//! 1. The C shim for libbpf's `btf_dump` printf callback (`btf_dump_printf_shim`).
//! 2. Compile the bundled CO-RE probe (`probes/process_monitor.bpf.c`) with clang
//!    through libbpf-cargo's `SkeletonBuilder`, against the checked-in
//!    `probes/vmlinux/<arch>/vmlinux.h`, and generate its Rust skeleton into `OUT_DIR`.
//!
//! Without clang (or with `CORETOOL_PREBUILT_PROBE=1`) the checked-in
//! `probes/prebuilt/process_monitor.bpf.o` is used instead and a cargo warning says so; a test
//! (`tests/probe_object.rs`) keeps that object in sync with its sources.
//!
//! Environment:
//! - `CLANG`: the clang to use (default `clang` from `PATH`).
//! - `CORETOOL_PREBUILT_PROBE=1`: skip clang and embed the prebuilt object.
//!
//! It writes only into `OUT_DIR`. `cargo xtask regen-probe` refreshes the prebuilt object and
//! its stamp from what this script compiles (maintainers, after editing the probe).
//!
//! The library reads `OUT_DIR/process_monitor.bpf.o` (the embedded object) and
//! `OUT_DIR/process_monitor.skel.rs`; `CORETOOL_PROBE_ORIGIN` tells it how the object was made.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "probes/process_monitor.bpf.c";
const HEADER: &str = "probes/process_monitor.h";
const PREBUILT: &str = "probes/prebuilt/process_monitor.bpf.o";

fn main() {
    btf_dump_printf_shim();
    build_probe();
}

fn build_probe() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    let vmlinux_dir = manifest.join("probes/vmlinux").join(&arch);
    let obj = out.join("process_monitor.bpf.o");
    let skel = out.join("process_monitor.skel.rs");

    for p in [SRC, HEADER, PREBUILT] {
        println!("cargo:rerun-if-changed={p}");
    }
    println!(
        "cargo:rerun-if-changed={}",
        vmlinux_dir.join("vmlinux.h").display()
    );
    for v in ["CLANG", "CORETOOL_PREBUILT_PROBE"] {
        println!("cargo:rerun-if-env-changed={v}");
    }

    let clang = env::var_os("CLANG").map_or_else(|| PathBuf::from("clang"), PathBuf::from);
    let forced_prebuilt = env::var_os("CORETOOL_PREBUILT_PROBE").is_some_and(|v| v == "1");
    let clang_version = if forced_prebuilt {
        None
    } else {
        clang_version(&clang)
    };
    let have_header = vmlinux_dir.join("vmlinux.h").is_file();

    let origin = match (&clang_version, have_header) {
        (Some(version), true) => {
            // Cargo runs build scripts in the manifest directory. Relative paths and the prefix
            // map keep the checkout's location out of the object's line info, so equal inputs
            // and an equal clang give equal bytes wherever the tree lives.
            let include = format!("-Iprobes/vmlinux/{arch}");
            let prefix_map = format!("-fdebug-prefix-map={}=.", manifest.display());
            SkeletonBuilder::new()
                .source(SRC)
                .obj(&obj)
                .clang(&clang)
                .clang_args([
                    include.as_str(),
                    "-Iprobes",
                    prefix_map.as_str(),
                    "-Wall",
                    "-Werror",
                ])
                .reference_obj(true)
                .build_and_generate(&skel)
                .unwrap_or_else(|e| {
                    panic!(
                        "compiling {SRC} with {} failed: {e:#}\n\
                         (set CORETOOL_PREBUILT_PROBE=1 to embed {PREBUILT} instead)",
                        clang.display()
                    )
                });
            format!("clang: {version}")
        }
        _ => {
            let why = if forced_prebuilt {
                "CORETOOL_PREBUILT_PROBE=1".to_owned()
            } else if clang_version.is_none() {
                format!("`{}` not found or not runnable", clang.display())
            } else {
                format!("no {}", vmlinux_dir.join("vmlinux.h").display())
            };
            println!(
                "cargo:warning=embedding the prebuilt BPF object {PREBUILT} ({why}); \
                 install clang to compile {SRC}"
            );
            fs::copy(manifest.join(PREBUILT), &obj)
                .unwrap_or_else(|e| panic!("copying {PREBUILT}: {e}"));
            SkeletonBuilder::new()
                .obj(&obj)
                .reference_obj(true)
                .generate(&skel)
                .unwrap_or_else(|e| panic!("generating the skeleton of {PREBUILT}: {e:#}"));
            "prebuilt".to_owned()
        }
    };
    println!("cargo:rustc-env=CORETOOL_PROBE_ORIGIN={origin}");
}

/// The first line of `clang --version`, or None when clang cannot run.
fn clang_version(clang: &Path) -> Option<String> {
    let out = Command::new(clang).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().next()?.trim().to_owned())
}

/// Compile the C shim that formats libbpf's `btf_dump` printf callback (its `va_list` cannot be
/// consumed by stable Rust). libbpf-sys (`links = "bpf"`) tells dependents where its vendored
/// headers are; tests also use them to compile BPF programs (`CORETOOL_LIBBPF_INCLUDE`).
fn btf_dump_printf_shim() {
    let src = "src/ffi/btf_dump_printf.c";
    println!("cargo:rerun-if-changed={src}");
    let include = std::env::var("DEP_BPF_INCLUDE")
        .expect("libbpf-sys did not export its include directory (DEP_BPF_INCLUDE)");
    cc::Build::new()
        .file(src)
        .include(&include)
        .warnings(true)
        .compile("coretool_btf_dump_printf");
    println!("cargo:rustc-env=CORETOOL_LIBBPF_INCLUDE={include}");
}
