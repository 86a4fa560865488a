//! libbpf's process-wide print callback, owned by one guard.
//!
//! libbpf has a single global printer (`libbpf_set_print`). Every part of coretool that needs
//! it (dry-run's log, selftest and monitor's log, silencing libbpf while it parses hostile BTF
//! or runs feature probes) goes through [`PrintGuard`]. What a guard does is per thread: a
//! capture records, at debug level, what libbpf prints *on the guard's thread* into that
//! thread's buffer; a silence drops it. Guards on different threads therefore run at the same
//! time without mixing their logs (`coretool compat` relocates kernels on several threads,
//! each capturing its own log), and a guard on a thread that already holds one nests (a
//! silenced `btf__new` inside a dry-run capture, say): the innermost guard decides.
//!
//! The global printer is switched under one short lock, only when the set of live guards
//! changes: while some thread's innermost guard captures, libbpf-rs's trampoline with
//! [`record`] (which dispatches on the printing thread's guard); while every live guard
//! silences, no printer at all; once the last guard is dropped, exactly the printer that was
//! there before the first one (the C function pointer and libbpf-rs's Rust callback). A thread
//! with no guard printing while another thread captures has its messages handed to that
//! previous printer (libbpf-rs's callback, or, for libbpf's own default printer, warnings and
//! info on stderr as libbpf prints them).

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Mutex;

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

/// The printer in place before the first live guard.
#[derive(Clone, Copy)]
struct Previous {
    c: libbpf_sys::libbpf_print_fn_t,
    rs: Option<(PrintLevel, libbpf_rs::PrintCallback)>,
}

/// Which guards are live, process-wide.
struct State {
    /// Live guards on every thread.
    guards: usize,
    /// Threads whose innermost guard captures.
    capturing: usize,
    /// What the printer should be now: `true` the capture dispatcher, `false` none.
    dispatching: bool,
    previous: Option<Previous>,
}

static STATE: Mutex<State> = Mutex::new(State {
    guards: 0,
    capturing: 0,
    dispatching: false,
    previous: None,
});

/// The previous printer, for threads with no guard (read by [`record`] without `STATE`).
static FORWARD: Mutex<Option<Previous>> = Mutex::new(None);

thread_local! {
    /// This thread's live guards, outermost first.
    static STACK: RefCell<Vec<Mode>> = const { RefCell::new(Vec::new()) };
    /// What this thread's captures recorded.
    static BUFFER: RefCell<Vec<LogLine>> = const { RefCell::new(Vec::new()) };
}

/// libbpf's printer while some thread captures: dispatch on the printing thread's guard.
fn record(level: PrintLevel, msg: String) {
    match STACK.with(|s| s.borrow().last().copied()) {
        Some(Mode::Capture) => BUFFER.with(|b| {
            let mut buf = b.borrow_mut();
            // One record per line: a few libbpf messages lack their newline ("skipped
            // auto-creating..."), others (the verifier log) hold many lines.
            for line in msg.lines() {
                buf.push(LogLine {
                    level: level.into(),
                    text: line.to_owned(),
                });
            }
        }),
        Some(Mode::Silence) => {}
        None => {
            let previous = *FORWARD.lock().unwrap_or_else(|e| e.into_inner());
            match previous {
                Some(Previous { c: None, .. }) | None => {}
                Some(Previous {
                    rs: Some((min, f)), ..
                }) => {
                    if level <= min {
                        f(level, msg)
                    }
                }
                // libbpf's own default printer: warnings and info to stderr.
                Some(Previous { rs: None, .. }) => {
                    if level != PrintLevel::Debug {
                        eprint!("{msg}");
                    }
                }
            }
        }
    }
}

/// What the guard does with libbpf's output while it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Capture,
    Silence,
}

/// Owns libbpf's print callback, for its thread, until drop (see the module documentation).
/// Not `Send`: it must be dropped on the thread that made it.
pub struct PrintGuard {
    _not_send: PhantomData<*const ()>,
}

/// Put in the printer `state` calls for (the caller holds `STATE`).
fn apply(state: &mut State) {
    if state.guards == 0 {
        if let Some(p) = state.previous.take() {
            // Restore libbpf-rs's Rust-side callback first (this installs its trampoline or
            // NULL), then the exact C pointer that was there before.
            libbpf_rs::set_print(p.rs);
            // SAFETY: restores the pointer libbpf returned when the first guard started, which
            // was a valid printer (or NULL) then and still is: printers are static functions.
            // We hold `STATE`, so no other guard swaps it concurrently.
            unsafe {
                libbpf_sys::libbpf_set_print(p.c);
            }
            *FORWARD.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        state.dispatching = false;
        return;
    }
    let want = state.capturing > 0;
    if state.previous.is_none() {
        // SAFETY: libbpf_set_print only swaps a global function pointer; NULL means "print
        // nothing". We hold `STATE`, so no other guard swaps it concurrently.
        let c = unsafe { libbpf_sys::libbpf_set_print(None) };
        let rs = libbpf_rs::set_print(None);
        let p = Previous { c, rs };
        state.previous = Some(p);
        *FORWARD.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
        state.dispatching = false;
    } else if want == state.dispatching {
        return;
    }
    if want {
        libbpf_rs::set_print(Some((PrintLevel::Debug, record)));
    } else {
        // Clears libbpf-rs's callback too, so that restoring it is exact.
        libbpf_rs::set_print(None);
        // SAFETY: as above; NULL means "print nothing".
        unsafe {
            libbpf_sys::libbpf_set_print(None);
        }
    }
    state.dispatching = want;
}

impl PrintGuard {
    /// Record everything libbpf prints on this thread, at debug level, until drop.
    pub fn capture() -> PrintGuard {
        Self::start(Mode::Capture)
    }

    /// Let libbpf print nothing on this thread until drop (coretool reports failures itself,
    /// in one line).
    pub(crate) fn silence() -> PrintGuard {
        Self::start(Mode::Silence)
    }

    fn start(mode: Mode) -> PrintGuard {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        let (was, outermost) = STACK.with(|s| {
            let mut s = s.borrow_mut();
            let was = s.last().copied();
            s.push(mode);
            (was, s.len() == 1)
        });
        if mode == Mode::Capture && outermost {
            BUFFER.with(|b| b.borrow_mut().clear());
        }
        state.guards += 1;
        state.capturing += usize::from(mode == Mode::Capture);
        state.capturing -= usize::from(was == Some(Mode::Capture));
        apply(&mut state);
        PrintGuard {
            _not_send: PhantomData,
        }
    }

    /// The lines recorded so far on this thread, leaving the buffer empty.
    pub fn take_lines(&self) -> Vec<LogLine> {
        BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()))
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
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        let (was, now) = STACK.with(|s| {
            let mut s = s.borrow_mut();
            let was = s.pop();
            (was, s.last().copied())
        });
        state.guards = state.guards.saturating_sub(1);
        state.capturing -= usize::from(was == Some(Mode::Capture));
        state.capturing += usize::from(now == Some(Mode::Capture));
        apply(&mut state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests here look at the process-wide printer, which a capture on another thread
    /// changes: they take turns (no other unit test captures).
    static TURN: Mutex<()> = Mutex::new(());

    fn turn() -> std::sync::MutexGuard<'static, ()> {
        TURN.lock().unwrap_or_else(|e| e.into_inner())
    }

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
        let _turn = turn();
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

    /// Captures on several threads at once each get their own thread's log, whole.
    #[test]
    fn captures_on_threads_do_not_mix() {
        let _turn = turn();
        let threads: Vec<_> = (0..4u16)
            .map(|t| {
                std::thread::spawn(move || {
                    for round in 0..50u16 {
                        let magic = 0x1000 + t * 0x100 + round;
                        let g = PrintGuard::capture();
                        // A BTF header with a bad magic: libbpf says "Invalid BTF magic: %x".
                        let mut data = [0u8; 32];
                        data[..2].copy_from_slice(&magic.to_le_bytes());
                        // SAFETY: `data` is valid for its length; libbpf copies it and fails.
                        let btf = unsafe {
                            libbpf_sys::btf__new(data.as_ptr().cast(), data.len() as u32)
                        };
                        assert!(btf.is_null(), "libbpf accepted a bad magic");
                        let log = g.take();
                        assert_eq!(
                            log.trim(),
                            format!("libbpf: Invalid BTF magic: {magic:x}"),
                            "thread {t} round {round}"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    /// A capture on one thread does not wait for another thread's capture to end.
    #[test]
    fn a_capture_does_not_block_other_threads() {
        let _turn = turn();
        use std::sync::mpsc;
        use std::time::Duration;
        let held = PrintGuard::capture();
        let (tx, rx) = mpsc::channel();
        let other = std::thread::spawn(move || {
            let g = PrintGuard::capture();
            let _quiet = PrintGuard::silence();
            drop(_quiet);
            tx.send(g.take()).unwrap();
        });
        let got = rx.recv_timeout(Duration::from_secs(10));
        drop(held);
        other.join().unwrap();
        assert_eq!(
            got,
            Ok(String::new()),
            "the second capture waited for the first"
        );
    }
}
