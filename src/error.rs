//! Typed errors that carry their diagnosis, and the exit-code contract.
//!
//! Exit codes (documented in README and every `--help`): 0 ok, 1 the diagnosis found problems,
//! 2 coretool could not run (bad input, missing file, no privilege, unsupported kernel).
//! A broken pipe on stdout exits 0, as ripgrep does.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::btf::BtfError;

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

/// Errors about one input file; the message always starts with the path.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: {}", path.display(), describe_io(cause))]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: is a directory, expected a file", path.display())]
    IsDirectory { path: PathBuf },
    #[error("{}: {cause}", path.display())]
    Btf { path: PathBuf, cause: BtfError },
    #[error("{}: {why}", path.display())]
    Invalid { path: PathBuf, why: String },
}

impl InputError {
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        InputError::Io {
            path: path.into(),
            cause,
        }
    }
    pub fn invalid(path: impl Into<PathBuf>, why: impl Into<String>) -> Self {
        InputError::Invalid {
            path: path.into(),
            why: why.into(),
        }
    }
}

/// A feature this kernel or machine does not have; `advice` says what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("not supported here: {what} ({advice})")]
pub struct NotSupported {
    pub what: String,
    pub advice: String,
}

/// An operation that needs root or a capability; `advice` says which.
#[derive(Debug, thiserror::Error)]
#[error("needs privilege: {what} ({advice})")]
pub struct NeedsPrivilege {
    pub what: String,
    pub advice: String,
}

fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file or directory".into(),
        PermissionDenied => "permission denied".into(),
        IsADirectory => "is a directory, expected a file".into(),
        UnexpectedEof => "unexpected end of file".into(),
        _ => {
            // Drop the "(os error N)" suffix that std appends.
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }
        }
    }
}

/// True when `err` (or anything it wraps) is a broken pipe on output.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
