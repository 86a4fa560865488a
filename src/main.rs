use std::process::ExitCode;

use clap::Parser;
use coretool::cli::{Cli, Command};
use coretool::commands;
use coretool::error::{is_broken_pipe, EXIT_ERROR};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let g = &cli.global;
    let result = match cli.command {
        Command::Btf(args) => commands::btf::run(args, g),
        Command::Relocs(args) => commands::relocs::run(args, g),
        Command::CheckBtf(args) => commands::check_btf::run(args, g),
        Command::Vmlinux(args) => commands::vmlinux::run(args, g),
        Command::DryRun(args) => commands::dry_run::run(args, g),
        Command::Selftest(args) => commands::selftest::run(args, g),
        Command::Monitor(args) => commands::monitor::run(args, g),
    };
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("coretool: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
