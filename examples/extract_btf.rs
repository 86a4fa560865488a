//! Dev helper: write the raw `.BTF` of any BTF source coretool reads (vmlinuz, BTFHub archive,
//! ELF, raw) to a file. `cargo run --example extract_btf SRC OUT`
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() == 2, "usage: extract_btf SRC OUT");
    let src = coretool::source::load(Some(std::path::Path::new(&args[0])), None)?;
    std::fs::write(&args[1], src.btf.raw_bytes())?;
    Ok(())
}
