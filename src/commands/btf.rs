//! `coretool btf`: dump types.
use std::process::ExitCode;

use crate::cli::{BtfSourceArgs, GlobalOpts};

#[derive(Debug, clap::Args)]
pub struct BtfArgs {
    #[command(flatten)]
    pub source: BtfSourceArgs,
}

pub fn run(args: BtfArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let src = crate::source::load(args.source.btf.as_deref(), args.source.base.as_deref())?;
    let mut out = crate::output::stdout();
    crate::btf::raw::write_all(&mut out, &src.btf)?;
    std::io::Write::flush(&mut out)?;
    Ok(ExitCode::SUCCESS)
}
