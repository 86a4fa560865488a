fn main() {
    btf_dump_printf_shim();
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
