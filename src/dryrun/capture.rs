//! Routing libbpf's log into memory: the one place coretool installs libbpf's print callback
//! (dry-run, selftest and monitor all capture through it).
//!
//! libbpf has one process-wide print callback and libbpf-rs takes a plain `fn`, so the text goes
//! to a static buffer; [`Capture`] holds a lock for as long as it records, so two captures in
//! one process (tests run in threads) never interleave their logs. Nothing reaches stdout or
//! stderr. A thread must not start a second capture while its first one is alive.

use std::sync::{Mutex, MutexGuard};

use libbpf_rs::PrintLevel;

/// One line libbpf printed, with the level of the message it came in.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub level: PrintLevel,
    pub text: String,
}

static BUFFER: Mutex<Vec<LogLine>> = Mutex::new(Vec::new());
static SESSION: Mutex<()> = Mutex::new(());

fn record(level: PrintLevel, msg: String) {
    let mut buf = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
    // One record per line: a few libbpf messages lack their newline ("skipped
    // auto-creating..."), others (the verifier log) hold many lines.
    for line in msg.lines() {
        buf.push(LogLine {
            level,
            text: line.to_owned(),
        });
    }
}

/// Records everything libbpf prints, at debug level, until drop; then the previous callback is
/// restored.
pub struct Capture {
    _session: MutexGuard<'static, ()>,
    previous: Option<(PrintLevel, libbpf_rs::PrintCallback)>,
}

impl Capture {
    pub fn start() -> Capture {
        let session = SESSION.lock().unwrap_or_else(|e| e.into_inner());
        BUFFER.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let previous = libbpf_rs::set_print(Some((PrintLevel::Debug, record)));
        Capture {
            _session: session,
            previous,
        }
    }

    /// The lines recorded so far, leaving the buffer empty.
    pub fn take_lines(&self) -> Vec<LogLine> {
        std::mem::take(&mut *BUFFER.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The text recorded so far (one `\n`-terminated line per record), leaving the buffer
    /// empty.
    pub fn take(&self) -> String {
        let mut s = String::new();
        for l in self.take_lines() {
            s.push_str(&l.text);
            s.push('\n');
        }
        s
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        libbpf_rs::set_print(self.previous.take());
    }
}
