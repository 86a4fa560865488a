//! `coretool check-btf`: is this kernel ready for CO-RE, and if not, the exact fix.
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use coretool::check::{self, gather::GatherOptions};

use super::{BtfSourceArgs, GlobalOpts};
use crate::exit::{exit_ok, exit_problems};
use crate::output;
use crate::render::{check as render, Style};

#[derive(Debug, clap::Args)]
pub struct CheckBtfArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    /// Check this BTF (e.g. a BTFHub archive) instead of /sys/kernel/btf/vmlinux
    #[command(flatten)]
    pub source: BtfSourceArgs,
}

pub fn run(args: CheckBtfArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let opts = GatherOptions {
        btf: args.source.btf,
        base: args.source.base,
    };
    let facts = check::gather(&opts).context("check-btf could not run")?;
    let report = check::analyse(&facts);
    if g.json {
        output::print_json(&render::to_json(&report))?;
    } else {
        let mut out = output::stdout();
        render::write_text(&mut out, &report, &Style::new(g.color.enabled()))?;
        out.flush()?;
    }
    Ok(if report.can_load() {
        exit_ok()
    } else {
        exit_problems()
    })
}
