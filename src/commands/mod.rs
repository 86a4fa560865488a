//! One module per subcommand; each exposes `run(args, &GlobalOpts) -> anyhow::Result<ExitCode>`.
pub mod btf;
pub mod check_btf;
pub mod dry_run;
pub mod monitor;
pub mod relocs;
pub mod selftest;
pub mod vmlinux;
