//! libbpf's process-wide print callback, owned by one guard.
//!
//! libbpf has a single global printer (`libbpf_set_print`). Every part of coretool that needs
//! it (dry-run's log, selftest and monitor's log, silencing libbpf while it parses hostile BTF
//! or runs feature probes) goes through [`PrintGuard`]: it takes one process-wide lock, swaps
//! the printer in (capture everything at debug level, or print nothing), and on drop restores
//! exactly the printer that was there before (the C function pointer and libbpf-rs's Rust
//! callback), then releases the lock. Captured text goes to a static buffer because libbpf-rs
//! takes a plain `fn`; the lock guarantees that only one capture records at a time, so two
//! captures in one process (tests run in threads) never interleave.
//!
//! A guard started on a thread that already holds one nests: it swaps and restores the printer
//! without taking the lock again (a silenced `btf__new` inside a dry-run capture, say).

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard};

use libbpf_rs::PrintLevel;

/// One line libbpf printed, with the level of the message it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub text: String,
}

/// libbpf's message levels (`enum libbpf_print_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Warn,
    Info,
    Debug,
}

impl From<PrintLevel> for LogLevel {
    fn from(l: PrintLevel) -> Self {
        match l {
            PrintLevel::Warn => LogLevel::Warn,
            PrintLevel::Info => LogLevel::Info,
            PrintLevel::Debug => LogLevel::Debug,
        }
    }
}

static BUFFER: Mutex<Vec<LogLine>> = Mutex::new(Vec::new());
static SESSION: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread holds `SESSION` (through an outer guard).
    static HELD: Cell<bool> = const { Cell::new(false) };
}

fn record(level: PrintLevel, msg: String) {
    let mut buf = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
    // One record per line: a few libbpf messages lack their newline ("skipped
    // auto-creating..."), others (the verifier log) hold many lines.
    for line in msg.lines() {
        buf.push(LogLine {
            level: level.into(),
            text: line.to_owned(),
        });
    }
}

/// What the guard does with libbpf's output while it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Capture,
    Silence,
}

/// Owns libbpf's print callback until drop (see the module documentation).
pub struct PrintGuard {
    session: Option<MutexGuard<'static, ()>>,
    previous_c: libbpf_sys::libbpf_print_fn_t,
    previous_rs: Option<(PrintLevel, libbpf_rs::PrintCallback)>,
}

impl PrintGuard {
    /// Record everything libbpf prints, at debug level, until drop.
    pub fn capture() -> PrintGuard {
        Self::start(Mode::Capture)
    }

    /// Let libbpf print nothing until drop (coretool reports failures itself, in one line).
    pub(crate) fn silence() -> PrintGuard {
        Self::start(Mode::Silence)
    }

    fn start(mode: Mode) -> PrintGuard {
        let session = if HELD.with(Cell::get) {
            None
        } else {
            let g = SESSION.lock().unwrap_or_else(|e| e.into_inner());
            HELD.with(|h| h.set(true));
            Some(g)
        };
        if mode == Mode::Capture && session.is_some() {
            BUFFER.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        // SAFETY: libbpf_set_print only swaps a global function pointer; NULL means "print
        // nothing". We hold the session lock (here or in an outer guard on this thread), so no
        // other guard swaps it concurrently.
        let previous_c = unsafe { libbpf_sys::libbpf_set_print(None) };
        let previous_rs = match mode {
            Mode::Capture => libbpf_rs::set_print(Some((PrintLevel::Debug, record))),
            // Clears libbpf-rs's callback too, so that restoring it is exact.
            Mode::Silence => libbpf_rs::set_print(None),
        };
        PrintGuard {
            session,
            previous_c,
            previous_rs,
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

impl Drop for PrintGuard {
    fn drop(&mut self) {
        // Restore libbpf-rs's Rust-side callback first (this installs its trampoline or NULL),
        // then the exact C pointer that was there before.
        libbpf_rs::set_print(self.previous_rs.take());
        // SAFETY: restores the pointer libbpf returned when this guard started, which was a
        // valid printer (or NULL) then and still is: printers are static functions.
        unsafe {
            libbpf_sys::libbpf_set_print(self.previous_c);
        }
        if self.session.take().is_some() {
            HELD.with(|h| h.set(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The address of the C printer libbpf has now (0 for none).
    fn current() -> usize {
        // SAFETY: swaps the global pointer out and straight back; the caller holds a guard.
        let p = unsafe {
            let p = libbpf_sys::libbpf_set_print(None);
            libbpf_sys::libbpf_set_print(p);
            p
        };
        p.map_or(0, |f| f as usize)
    }

    #[test]
    fn guards_nest_and_restore_exactly() {
        let outer = PrintGuard::capture();
        let capturing = current();
        assert_ne!(capturing, 0, "a capture installs a printer");
        {
            let _quiet = PrintGuard::silence();
            assert_eq!(current(), 0, "silence installs none");
        }
        assert_eq!(
            current(),
            capturing,
            "the nested guard restores the capture"
        );
        drop(outer);
        let _again = PrintGuard::silence();
        assert_eq!(current(), 0);
    }
}
