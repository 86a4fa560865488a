//! Where output goes: buffered stdout, JSON documents, atomic files.

use std::io::{self, Write};
use std::path::Path;

use coretool::error::InputError;
use serde::Serialize;

/// Buffered, locked stdout. Write errors (a closed pipe) surface as `io::Error`s, which `main`
/// turns into a quiet exit.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

/// Serialize `doc` to `w` as pretty JSON with a trailing newline, streamed: nothing but the
/// writer's buffer holds the text.
pub fn write_json<T: Serialize + ?Sized>(w: &mut impl Write, doc: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, doc)?;
    w.write_all(b"\n")
}

/// Print a JSON document to stdout, pretty, with a trailing newline.
pub fn print_json<T: Serialize + ?Sized>(doc: &T) -> io::Result<()> {
    let mut out = stdout();
    write_json(&mut out, doc)?;
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
