//! Output conventions shared by every command: colour choice, stdout, JSON, atomic files.

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use crate::error::InputError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour stdout: `always`/`never` win; `auto` colours a terminal unless
    /// `NO_COLOR` is set (https://no-color.org).
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && io::stdout().is_terminal()
            }
        }
    }
}

/// A small palette: renderers call these so that colour is decided in one place.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn new(color: bool) -> Self {
        Style { color }
    }
    fn paint(&self, s: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    pub fn ok(&self, s: &str) -> String {
        self.paint(s, "32")
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint(s, "33")
    }
    pub fn fail(&self, s: &str) -> String {
        self.paint(s, "31")
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint(s, "2")
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(s, "1")
    }
}

/// Buffered, locked stdout. Write errors (a closed pipe) surface as `io::Error`s, which `main`
/// turns into a quiet exit.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

/// Print a JSON value, pretty, with a trailing newline.
pub fn print_json(value: &serde_json::Value) -> io::Result<()> {
    let mut out = stdout();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Write a file atomically: the content goes to a temporary file in the same directory, which
/// is renamed over `path` only after `fill` succeeded and the data is flushed. On any failure
/// the temporary file is removed and `path` is untouched.
pub fn write_atomic<F>(path: &Path, fill: F) -> anyhow::Result<()>
where
    F: FnOnce(&mut dyn Write) -> anyhow::Result<()>,
{
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| InputError::invalid(path, "not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.coretool-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> anyhow::Result<()> {
        let f = std::fs::File::create(&tmp).map_err(|e| InputError::io(path, e))?;
        let mut w = io::BufWriter::new(f);
        fill(&mut w)?;
        let f = w
            .into_inner()
            .map_err(|e| InputError::io(path, e.into_error()))?;
        f.sync_all().map_err(|e| InputError::io(path, e))?;
        std::fs::rename(&tmp, path).map_err(|e| InputError::io(path, e))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
