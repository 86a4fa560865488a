//! The `coretool` binary: the command line (`cli`), one module per subcommand (`commands`),
//! the renderers that turn the library's models into text, tables and JSON (`render`), and
//! where output goes (`output`). Everything here is private to the binary; the library
//! (`coretool::*`) parses and models, and never prints.
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod exit;
mod output;
mod render;

use cli::{Cli, Command};
use exit::{is_broken_pipe, EXIT_ERROR};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let top = &cli.global;
    let none = commands::VerboseOpt::default();
    let no_json = commands::JsonOpt::default();
    let result = match cli.command {
        Command::Btf(args) => {
            let g = top.resolve(args.json, none);
            commands::btf::run(args, &g)
        }
        Command::Relocs(args) => {
            let g = top.resolve(args.json, args.verbose);
            commands::relocs::run(args, &g)
        }
        Command::CheckBtf(args) => {
            let g = top.resolve(args.json, none);
            commands::check_btf::run(args, &g)
        }
        Command::Vmlinux(args) => {
            let g = top.resolve(no_json, args.verbose);
            commands::vmlinux::run(args, &g)
        }
        Command::DryRun(args) => {
            let g = top.resolve(args.json, args.verbose);
            commands::dry_run::run(args, &g)
        }
        Command::Diff(args) => {
            let g = top.resolve(args.json, none);
            commands::diff::run(args, &g)
        }
        Command::Requires(args) => {
            let g = top.resolve(args.json, args.verbose);
            commands::requires::run(args, &g)
        }
        Command::Compat(args) => {
            let g = top.resolve(args.json, args.verbose);
            commands::compat::run(args, &g)
        }
        Command::Btfgen(args) => {
            let g = top.resolve(args.json, args.verbose);
            commands::btfgen::run(args, &g)
        }
        Command::Selftest(args) => {
            let g = top.resolve(args.json, args.verbose);
            commands::selftest::run(args, &g)
        }
        Command::Generate(args) => {
            let g = top.resolve(no_json, none);
            commands::generate::run(args, &g)
        }
        Command::Monitor(args) => {
            let g = top.resolve(args.json, none);
            commands::monitor::run(args, &g)
        }
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
