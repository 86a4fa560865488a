//! The exit-code contract (documented in README and every `--help`): 0 ok, 1 the diagnosis
//! found problems, 2 coretool could not run (bad input, missing file, no privilege,
//! unsupported kernel). A broken pipe on stdout exits 0, as ripgrep does.

use std::process::ExitCode;

/// 0: everything checked out.
pub const EXIT_OK: u8 = 0;
/// 1: the diagnosis ran and found problems.
pub const EXIT_PROBLEMS: u8 = 1;
/// 2: could not run.
pub const EXIT_ERROR: u8 = 2;

pub fn exit_ok() -> ExitCode {
    ExitCode::from(EXIT_OK)
}
pub fn exit_problems() -> ExitCode {
    ExitCode::from(EXIT_PROBLEMS)
}

/// True when `err` (or anything it wraps) is a broken pipe on output.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
