//! One module per subcommand; each exposes `run(args, &GlobalOpts) -> anyhow::Result<ExitCode>`.
pub mod btf;
pub mod monitor;
pub mod selftest;
