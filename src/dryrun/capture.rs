//! Routing libbpf's log into memory.
//!
//! libbpf has one process-wide print callback and libbpf-rs takes a plain `fn`, so the text goes
//! to a static buffer; [`Capture`] holds a lock for as long as it records, so two dry-runs in one
//! process (tests run in threads) never interleave their logs. Nothing reaches stdout or stderr.

use std::sync::{Mutex, MutexGuard};

use libbpf_rs::PrintLevel;

static BUFFER: Mutex<String> = Mutex::new(String::new());
static SESSION: Mutex<()> = Mutex::new(());

fn record(_level: PrintLevel, msg: String) {
    let mut buf = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
    buf.push_str(&msg);
    // A few libbpf messages lack their newline ("skipped auto-creating..."); keep one record
    // per line so the next message does not run into it.
    if !msg.ends_with('\n') {
        buf.push('\n');
    }
}

/// Records everything libbpf prints, at debug level, until [`Capture::finish`] or drop.
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

    /// The text recorded so far, leaving the buffer empty.
    pub fn take(&self) -> String {
        std::mem::take(&mut *BUFFER.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        libbpf_rs::set_print(self.previous.take());
    }
}
