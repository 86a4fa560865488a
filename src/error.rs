//! Typed errors that carry their diagnosis: a bad input file, a feature this machine lacks, a
//! missing privilege. The binary maps them to exit status 2 (its `exit` module owns the
//! exit-code contract).

use std::path::PathBuf;

use crate::btf::BtfError;

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
