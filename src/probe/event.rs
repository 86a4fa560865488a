//! Decoding of the probe's ring-buffer records (`struct pm_event`) and per-CPU counters
//! (`struct pm_stats`), both declared in `probes/process_monitor.h`.
//!
//! Pure: bytes in, values out. The offsets below mirror the C header; the test
//! `layout_matches_object_btf` compares them with the BTF of the embedded object, so a header
//! change that is not mirrored here fails.

/// `sizeof(struct pm_event)`.
pub const EVENT_SIZE: usize = 256;
/// `sizeof(struct pm_stats)`.
pub const STATS_SIZE: usize = 56;

/// `(member name, byte offset)` of `struct pm_event`, in declaration order.
pub const EVENT_LAYOUT: &[(&str, usize)] = &[
    ("ts_ns", 0),
    ("type", 8),
    ("flags", 12),
    ("pid", 16),
    ("tid", 20),
    ("ppid", 24),
    ("uid", 28),
    ("gid", 32),
    ("exit_status", 36),
    ("child_pid", 40),
    ("state", 44),
    ("comm", 48),
    ("exe", 64),
    ("filename", 128),
];

/// `(member name, byte offset)` of `struct pm_stats`.
pub const STATS_LAYOUT: &[(&str, usize)] = &[
    ("total", 0),
    ("exec", 8),
    ("exit", 16),
    ("fork", 24),
    ("do_exit", 32),
    ("lost", 40),
    ("untracked", 48),
];

/// `PM_F_STATE_NEW`: the kernel's task_struct has `__state` (5.14+), not `state`.
pub(crate) const F_STATE_NEW: u32 = 0x1;
/// `PM_F_GROUP_DEAD`: the sched_process_exit record carries `group_dead`.
pub(crate) const F_GROUP_DEAD: u32 = 0x2;
/// `PM_F_STATE_VALID`: `state` holds the fork child's task state.
pub(crate) const F_STATE_VALID: u32 = 0x4;

/// The kernel's `TASK_NEW` task state (include/linux/sched.h), set by sched_fork() until the
/// child is first woken.
pub(crate) const TASK_NEW: u32 = 0x0800;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    Exec,
    Exit,
    Fork,
    /// kprobe on do_exit() of a thread-group leader.
    DoExit,
}

impl EventKind {
    fn from_raw(v: u32) -> Option<Self> {
        Some(match v {
            1 => EventKind::Exec,
            2 => EventKind::Exit,
            3 => EventKind::Fork,
            4 => EventKind::DoExit,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Exec => "exec",
            EventKind::Exit => "exit",
            EventKind::Fork => "fork",
            EventKind::DoExit => "do_exit",
        }
    }
}

/// A wait status (`wait(2)`'s `*wstatus`) decoded the way the parent reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// `WIFEXITED`: exit code `WEXITSTATUS`.
    Exited(u8),
    /// `WIFSIGNALED`: killed by signal `WTERMSIG`, with `WCOREDUMP`.
    Signaled { signal: u8, core_dumped: bool },
    /// Anything else (stop/continue encodings do not occur at exit).
    Other(u32),
}

impl ExitStatus {
    pub fn from_raw(status: u32) -> Self {
        let sig = (status & 0x7f) as u8;
        if sig == 0 {
            ExitStatus::Exited(((status >> 8) & 0xff) as u8)
        } else if sig != 0x7f && status >> 16 == 0 {
            ExitStatus::Signaled {
                signal: sig,
                core_dumped: status & 0x80 != 0,
            }
        } else {
            ExitStatus::Other(status)
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exit {code}"),
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => {
                write!(f, "signal {signal}")?;
                if *core_dumped {
                    write!(f, " (core dumped)")?;
                }
                Ok(())
            }
            ExitStatus::Other(raw) => write!(f, "status {raw:#x}"),
        }
    }
}

/// One decoded `struct pm_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// CLOCK_MONOTONIC nanoseconds (`bpf_ktime_get_ns()`).
    pub ts_ns: u64,
    pub kind: EventKind,
    pub flags: u32,
    /// Process id (the kernel's tgid).
    pub pid: u32,
    /// Thread id (the kernel's pid).
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    /// Raw wait status (exit) or do_exit()'s argument (do_exit).
    pub exit_status: u32,
    /// Fork: the new process's pid.
    pub child_pid: u32,
    /// Fork: the child's task state.
    pub state: u32,
    pub comm: String,
    /// Exec: the executable's file name (`mm->exe_file` dentry name).
    pub exe: String,
    /// Exec: the path given to execve.
    pub filename: String,
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {got} bytes, expected {expected}")]
    Size { got: usize, expected: usize },
    #[error("unknown event type {0}")]
    Kind(u32),
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}
/// A NUL-terminated C string inside a fixed array (lossy UTF-8).
fn cstr_at(b: &[u8], off: usize, len: usize) -> String {
    let field = &b[off..off + len];
    let end = field.iter().position(|&c| c == 0).unwrap_or(len);
    String::from_utf8_lossy(&field[..end]).into_owned()
}

impl Event {
    /// Decode one ring-buffer record (native endianness: the kernel wrote it on this machine).
    pub(crate) fn decode(b: &[u8]) -> Result<Event, DecodeError> {
        if b.len() < EVENT_SIZE {
            return Err(DecodeError::Size {
                got: b.len(),
                expected: EVENT_SIZE,
            });
        }
        let raw_kind = u32_at(b, 8);
        let kind = EventKind::from_raw(raw_kind).ok_or(DecodeError::Kind(raw_kind))?;
        Ok(Event {
            ts_ns: u64_at(b, 0),
            kind,
            flags: u32_at(b, 12),
            pid: u32_at(b, 16),
            tid: u32_at(b, 20),
            ppid: u32_at(b, 24),
            uid: u32_at(b, 28),
            gid: u32_at(b, 32),
            exit_status: u32_at(b, 36),
            child_pid: u32_at(b, 40),
            state: u32_at(b, 44),
            comm: cstr_at(b, 48, 16),
            exe: cstr_at(b, 64, 64),
            filename: cstr_at(b, 128, 128),
        })
    }

    pub fn status(&self) -> ExitStatus {
        ExitStatus::from_raw(self.exit_status)
    }
}

/// `struct pm_stats`, summed over CPUs. Serializes as the counters of `monitor --json`'s
/// `stats` lines, in declaration order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Stats {
    pub total: u64,
    pub exec: u64,
    pub exit: u64,
    pub fork: u64,
    pub do_exit: u64,
    pub lost: u64,
    pub untracked: u64,
}

impl Stats {
    /// Sum per-CPU values, each a `struct pm_stats`.
    pub fn sum<'a>(per_cpu: impl IntoIterator<Item = &'a [u8]>) -> Result<Stats, DecodeError> {
        let mut s = Stats::default();
        for b in per_cpu {
            if b.len() < STATS_SIZE {
                return Err(DecodeError::Size {
                    got: b.len(),
                    expected: STATS_SIZE,
                });
            }
            s.total += u64_at(b, 0);
            s.exec += u64_at(b, 8);
            s.exit += u64_at(b, 16);
            s.fork += u64_at(b, 24);
            s.do_exit += u64_at(b, 32);
            s.lost += u64_at(b, 40);
            s.untracked += u64_at(b, 48);
        }
        Ok(s)
    }

    /// Counters accumulated since `earlier`.
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats {
            total: self.total - earlier.total,
            exec: self.exec - earlier.exec,
            exit: self.exit - earlier.exit,
            fork: self.fork - earlier.fork,
            do_exit: self.do_exit - earlier.do_exit,
            lost: self.lost - earlier.lost,
            untracked: self.untracked - earlier.untracked,
        }
    }

    /// Events handed to the ring buffer (attempts minus losses).
    pub fn submitted(&self) -> u64 {
        self.total - self.lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u32) -> Vec<u8> {
        let mut b = vec![0u8; EVENT_SIZE];
        b[0..8].copy_from_slice(&123u64.to_ne_bytes());
        b[8..12].copy_from_slice(&kind.to_ne_bytes());
        b[16..20].copy_from_slice(&42u32.to_ne_bytes());
        b[20..24].copy_from_slice(&43u32.to_ne_bytes());
        b[36..40].copy_from_slice(&0x700u32.to_ne_bytes());
        b[48..52].copy_from_slice(b"true");
        b[64..128].fill(b'x'); // no NUL: the whole array is the name
        b
    }

    #[test]
    fn decodes_fields_at_header_offsets() {
        let e = Event::decode(&record(2)).unwrap();
        assert_eq!(e.ts_ns, 123);
        assert_eq!(e.kind, EventKind::Exit);
        assert_eq!((e.pid, e.tid), (42, 43));
        assert_eq!(e.comm, "true");
        assert_eq!(e.exe.len(), 64);
        assert_eq!(e.status(), ExitStatus::Exited(7));
    }

    #[test]
    fn rejects_short_and_unknown_records() {
        assert_eq!(
            Event::decode(&[0; 10]),
            Err(DecodeError::Size {
                got: 10,
                expected: EVENT_SIZE
            })
        );
        assert_eq!(Event::decode(&record(9)), Err(DecodeError::Kind(9)));
    }

    #[test]
    fn wait_status_decoding() {
        assert_eq!(ExitStatus::from_raw(0), ExitStatus::Exited(0));
        assert_eq!(ExitStatus::from_raw(7 << 8), ExitStatus::Exited(7));
        assert_eq!(
            ExitStatus::from_raw(9),
            ExitStatus::Signaled {
                signal: 9,
                core_dumped: false
            }
        );
        assert_eq!(
            ExitStatus::from_raw(0x86).to_string(),
            "signal 6 (core dumped)"
        );
    }

    #[test]
    fn stats_sum_over_cpus() {
        let mut a = vec![0u8; STATS_SIZE];
        a[0..8].copy_from_slice(&3u64.to_ne_bytes());
        a[40..48].copy_from_slice(&1u64.to_ne_bytes());
        let b = a.clone();
        let s = Stats::sum([a.as_slice(), b.as_slice()]).unwrap();
        assert_eq!((s.total, s.lost, s.submitted()), (6, 2, 4));
    }
}
