//! `coretool generate` (hidden): shell completions and man pages from the clap definitions, for
//! packagers and `cargo xtask`; the checked-in copies under docs/ are kept fresh by a test.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use super::GlobalOpts;
use crate::cli::Cli;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// What to write
    #[arg(value_enum)]
    pub what: What,
    /// The directory to write into
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum What {
    /// bash, zsh and fish completions: coretool.bash, _coretool, coretool.fish
    Completions,
    /// man pages: coretool.1 and coretool-COMMAND.1 for each command
    Man,
}

pub fn run(args: GenerateArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    match args.what {
        What::Completions => completions(&args.dir)?,
        What::Man => man_pages(&args.dir)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn completions(dir: &Path) -> anyhow::Result<()> {
    use clap_complete::{generate, Shell};
    for (shell, file) in [
        (Shell::Bash, "coretool.bash"),
        (Shell::Zsh, "_coretool"),
        (Shell::Fish, "coretool.fish"),
    ] {
        let mut out = Vec::new();
        generate(shell, &mut Cli::command(), "coretool", &mut out);
        write(&dir.join(file), &out)?;
    }
    Ok(())
}

fn man_pages(dir: &Path) -> anyhow::Result<()> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    write(&dir.join("coretool.1"), &out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("coretool-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("coretool {}", sub.get_name()));
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
        write(&dir.join(format!("{name}.1")), &out)?;
    }
    Ok(())
}
