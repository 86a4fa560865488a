//! Regenerating checked-in build products from their sources: the prebuilt probe
//! ([`probe`]) and the test fixtures ([`fixtures`]). Each is pinned to one clang major version
//! and refuses another, so that a regenerated file only changes when its sources do.

pub mod fixtures;
mod mangle;
pub mod probe;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};

use crate::find_on_path;

/// A clang whose major version was checked.
pub struct Clang {
    pub path: PathBuf,
    /// The first line of `clang --version`, e.g. `Debian clang version 16.0.6 (15~deb12u1)`.
    pub version: String,
}

impl Clang {
    /// `name` (a path or a command on PATH), which must be clang `major`.
    pub fn pinned(name: &str, major: u32, why: &str) -> Result<Self> {
        let Some(path) = find_on_path(name) else {
            bail!("{name} not found (apt-get install clang-{major})");
        };
        let out = Command::new(&path)
            .arg("--version")
            .output()
            .with_context(|| format!("running {} --version", path.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.lines().next().unwrap_or_default().trim().to_owned();
        let found = clang_major(&version);
        ensure!(
            found == Some(major),
            "{name} is `{version}`; {why} are pinned to clang {major} (set CLANG to a clang-{major})"
        );
        Ok(Clang { path, version })
    }
}

/// The major version in a `clang --version` line.
fn clang_major(line: &str) -> Option<u32> {
    let rest = &line[line.find("clang version ")? + "clang version ".len()..];
    rest.split('.').next()?.parse().ok()
}

/// Run a command to completion in `dir`; an error names it.
pub fn exec(dir: &Path, program: impl AsRef<OsStr>, args: &[&OsStr]) -> Result<()> {
    let program = program.as_ref();
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("running {}", program.to_string_lossy()))?;
    ensure!(
        status.success(),
        "{} {} failed ({status})",
        program.to_string_lossy(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_major_version_is_read_from_the_version_line() {
        assert_eq!(
            clang_major("Debian clang version 16.0.6 (15~deb12u1)"),
            Some(16)
        );
        assert_eq!(clang_major("Debian clang version 14.0.6"), Some(14));
        assert_eq!(
            clang_major("Ubuntu clang version 18.1.3 (1ubuntu1)"),
            Some(18)
        );
        assert_eq!(clang_major("gcc (Debian 12.2.0-14) 12.2.0"), None);
    }
}
