//! The bundled CO-RE process monitor (`probes/process_monitor.bpf.c`): its embedded object, a
//! load/attach/poll session over libbpf-rs, and the decoded records.
//!
//! Ownership is the cleanup guarantee: every program, map, link and perf event lives in file
//! descriptors owned by the [`Session`] (nothing is pinned), so dropping it (on success, on
//! error, while unwinding a panic) releases everything, and if the process dies without
//! unwinding the kernel closes the descriptors itself. Signals are turned into a stop flag
//! ([`stop_on_signals`]) so that Ctrl-C and SIGTERM take the dropping path too.
//!
//! This module prints nothing; libbpf's own log is captured ([`crate::libbpf::PrintGuard`]) for commands to show.

pub mod event;
pub mod fingerprint;

use std::cell::{Cell, RefCell};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, RingBuffer, RingBufferBuilder};

pub use event::{Event, EventKind, ExitStatus, Stats};

#[allow(clippy::all, unsafe_op_in_unsafe_fn)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/process_monitor.skel.rs"));
}
use skel::{ProcessMonitorMaps, ProcessMonitorSkelBuilder};

/// The embedded BPF object, byte for byte what the skeleton loads.
pub const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/process_monitor.bpf.o"));
/// How the embedded object was made: `clang: <version>` or `prebuilt`.
pub const ORIGIN: &str = env!("CORETOOL_PROBE_ORIGIN");

/// Programs of the object, what they attach to, and whether the monitor works without them.
pub const PROGRAMS: &[ProgramSpec] = &[
    ProgramSpec {
        name: "pm_exec",
        target: "tracepoint sched/sched_process_exec",
        optional: false,
    },
    ProgramSpec {
        name: "pm_exit",
        target: "tracepoint sched/sched_process_exit",
        optional: false,
    },
    ProgramSpec {
        name: "pm_fork",
        target: "tracepoint sched/sched_process_fork",
        optional: false,
    },
    ProgramSpec {
        name: "pm_do_exit",
        target: "kprobe do_exit",
        optional: true,
    },
];

/// Map names as the kernel shows them (`bpftool map show`); `.rodata` is prefixed with the
/// first 8 characters of the object name.
pub const MAP_NAMES: &[&str] = &["pm_events", "pm_stats", "pm_tracked", "process_.rodata"];

#[derive(Debug, Clone, Copy)]
pub struct ProgramSpec {
    pub name: &'static str,
    pub target: &'static str,
    pub optional: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("opening the embedded BPF object: {0}")]
    Open(#[source] libbpf_rs::Error),
    #[error("loading the embedded BPF object into the kernel: {0}")]
    Load(#[source] libbpf_rs::Error),
    #[error("attaching {program} to {target}: {cause}")]
    Attach {
        program: &'static str,
        target: &'static str,
        cause: String,
    },
    #[error("ring buffer: {0}")]
    RingBuffer(#[source] libbpf_rs::Error),
    #[error("reading the pm_stats map: {0}")]
    Stats(String),
    #[error("{}: path contains NUL", path.display())]
    NulInPath { path: std::path::PathBuf },
}

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Report only this process and its descendants (`follow_tgid` in the probe).
    pub follow: Option<u32>,
}

/// How one program's attach went.
#[derive(Debug, Clone)]
pub struct AttachReport {
    pub spec: ProgramSpec,
    /// `Err(reason)` when it could not attach (only optional programs get this far).
    pub result: Result<(), String>,
}

/// Kernel ids of the loaded programs and maps, to verify they are gone after the session.
#[derive(Debug, Clone, Default)]
pub struct ObjectIds {
    pub programs: Vec<(String, u32)>,
    pub maps: Vec<(String, u32)>,
}

impl ObjectIds {
    /// Programs and maps still known to the kernel (ids can only be reused after a wrap of the
    /// 31-bit id space, so an id that resolves is still ours).
    pub fn still_loaded(&self) -> Vec<String> {
        let mut left = Vec::new();
        for (name, id) in &self.programs {
            if libbpf_rs::Program::fd_from_id(*id).is_ok() {
                left.push(format!("prog {id} {name}"));
            }
        }
        for (name, id) in &self.maps {
            if libbpf_rs::MapHandle::from_map_id(*id).is_ok() {
                left.push(format!("map {id} {name}"));
            }
        }
        left
    }
}

/// A loaded and attached probe. Dropping it detaches and unloads everything.
pub struct Session<'a> {
    maps: &'a ProcessMonitorMaps<'a>,
    ring: RingBuffer<'a>,
    queue: &'a RefCell<Vec<Event>>,
    malformed: &'a Cell<u64>,
    pub attached: Vec<AttachReport>,
    pub ids: ObjectIds,
    // Declared last: links are dropped after the ring buffer, before the skeleton they borrow.
    _links: Vec<Link>,
}

impl Session<'_> {
    /// Wait up to `timeout` for records and return what arrived. A signal interrupting the
    /// wait returns what was read so far; callers check [`stop_requested`].
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<Event>, ProbeError> {
        match self.ring.poll(timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == libbpf_rs::ErrorKind::Interrupted => {}
            Err(e) => return Err(ProbeError::RingBuffer(e)),
        }
        Ok(self.queue.take())
    }

    /// Read everything already in the ring buffer without waiting.
    pub fn drain(&mut self) -> Result<Vec<Event>, ProbeError> {
        self.ring.consume().map_err(ProbeError::RingBuffer)?;
        Ok(self.queue.take())
    }

    /// The probe's counters, summed over CPUs.
    pub fn stats(&self) -> Result<Stats, ProbeError> {
        let per_cpu = self
            .maps
            .pm_stats
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| ProbeError::Stats(e.to_string()))?
            .ok_or_else(|| ProbeError::Stats("no entry 0".into()))?;
        Stats::sum(per_cpu.iter().map(Vec::as_slice)).map_err(|e| ProbeError::Stats(e.to_string()))
    }

    /// Records that could not be decoded (a probe/userspace layout mismatch).
    pub fn malformed(&self) -> u64 {
        self.malformed.get()
    }
}

/// Open, load and attach the embedded object, run `f` with the session, then release
/// everything (also when `f` fails or panics). A required program that does not attach is an
/// error; an optional one is reported in [`Session::attached`]. `f` chooses the error type;
/// it must be able to carry a [`ProbeError`].
pub fn with_session<T, E: From<ProbeError>>(
    opts: &Options,
    f: impl FnOnce(&mut Session<'_>) -> Result<T, E>,
) -> Result<T, E> {
    // If the object does not load, try once more without the optional kprobe: a kernel (or
    // architecture) where it cannot verify still gets the tracepoints.
    let mut storage = MaybeUninit::uninit();
    let mut retry_storage = MaybeUninit::uninit();
    let (skel, kprobe_not_loaded) = match open_and_load(&mut storage, opts, true) {
        Ok(skel) => (skel, None),
        Err(ProbeError::Load(first)) => match open_and_load(&mut retry_storage, opts, false) {
            Ok(skel) => (skel, Some(first.to_string())),
            Err(_) => return Err(ProbeError::Load(first).into()),
        },
        Err(e) => return Err(e.into()),
    };

    let mut ids = ObjectIds::default();
    for prog in skel.object().progs().filter(|p| p.autoload()) {
        if let Ok(id) = libbpf_rs::Program::id_from_fd(prog.as_fd()) {
            ids.programs
                .push((prog.name().to_string_lossy().into_owned(), id));
        }
    }
    for map in skel.object().maps() {
        if let Ok(info) = map.info() {
            ids.maps
                .push((map.name().to_string_lossy().into_owned(), info.info.id));
        }
    }

    let progs = &skel.progs;
    let mut links = Vec::new();
    let mut attached = Vec::new();
    for spec in PROGRAMS {
        let prog = match spec.name {
            "pm_exec" => &progs.pm_exec,
            "pm_exit" => &progs.pm_exit,
            "pm_fork" => &progs.pm_fork,
            _ => &progs.pm_do_exit,
        };
        if let (true, Some(why)) = (spec.optional, &kprobe_not_loaded) {
            attached.push(AttachReport {
                spec: *spec,
                result: Err(format!(
                    "not loaded (the object loads only without it): {why}"
                )),
            });
            continue;
        }
        match prog.attach() {
            Ok(link) => {
                links.push(link);
                attached.push(AttachReport {
                    spec: *spec,
                    result: Ok(()),
                });
            }
            Err(e) if spec.optional => attached.push(AttachReport {
                spec: *spec,
                result: Err(attach_failure_reason(spec, &e)),
            }),
            Err(e) => {
                return Err(ProbeError::Attach {
                    program: spec.name,
                    target: spec.target,
                    cause: e.to_string(),
                }
                .into())
            }
        }
    }

    if let Some(pid) = opts.follow {
        // After attaching, so that a process is either found here or forked under the probe.
        for tgid in descendants(pid) {
            // A full map is counted by the probe only for forks; here it just stops seeding.
            if skel
                .maps
                .pm_tracked
                .update(&tgid.to_ne_bytes(), &[1u8], MapFlags::ANY)
                .is_err()
            {
                break;
            }
        }
    }

    let queue = RefCell::new(Vec::new());
    let malformed = Cell::new(0u64);
    let mut builder = RingBufferBuilder::new();
    builder
        .add(&skel.maps.pm_events, |data: &[u8]| {
            match Event::decode(data) {
                Ok(e) => queue.borrow_mut().push(e),
                Err(_) => malformed.set(malformed.get() + 1),
            }
            0
        })
        .map_err(ProbeError::RingBuffer)?;
    let ring = builder.build().map_err(ProbeError::RingBuffer)?;

    let mut session = Session {
        maps: &skel.maps,
        ring,
        queue: &queue,
        malformed: &malformed,
        attached,
        ids,
        _links: links,
    };
    f(&mut session)
}

fn open_and_load<'obj>(
    storage: &'obj mut MaybeUninit<libbpf_rs::OpenObject>,
    opts: &Options,
    with_kprobe: bool,
) -> Result<skel::ProcessMonitorSkel<'obj>, ProbeError> {
    let mut open = ProcessMonitorSkelBuilder::default()
        .open(storage)
        .map_err(ProbeError::Open)?;
    if let (Some(pid), Some(rodata)) = (opts.follow, open.maps.rodata_data.as_deref_mut()) {
        rodata.follow_tgid = pid;
    }
    if !with_kprobe {
        open.progs.pm_do_exit.set_autoload(false);
    }
    open.load().map_err(ProbeError::Load)
}

/// Processes currently running below `pid` (from /proc/<pid>/stat parent links).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(1))
                .and_then(|v| v.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let cur = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == cur)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Why an optional program did not attach, with the kernel feature that is missing when we
/// can tell.
fn attach_failure_reason(spec: &ProgramSpec, e: &libbpf_rs::Error) -> String {
    if spec.target.starts_with("kprobe") {
        let (pmu, events) = crate::host::kprobe_attach_paths();
        if !pmu && !events {
            return format!(
                "{e}: this kernel has neither the kprobe PMU \
                 (/sys/bus/event_source/devices/kprobe) nor tracefs kprobe_events \
                 (CONFIG_KPROBE_EVENTS is off)"
            );
        }
    }
    e.to_string()
}

/// libbpf's log, captured instead of printed (shared with `coretool dry-run`).

static STOP: AtomicBool = AtomicBool::new(false);
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    // Only async-signal-safe work: two atomic stores.
    STOP_SIGNAL.store(sig, Ordering::SeqCst);
    STOP.store(true, Ordering::SeqCst);
}

/// Turn SIGINT and SIGTERM into a stop request: blocking waits return early (EINTR, no
/// SA_RESTART) and the caller unwinds normally, dropping the session.
pub fn stop_on_signals() -> std::io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only touches atomics, which is
        // async-signal-safe; sigemptyset/sigaction get valid pointers.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = 0;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// The signal that asked us to stop, if any.
pub fn stop_requested() -> Option<i32> {
    STOP.load(Ordering::SeqCst)
        .then(|| STOP_SIGNAL.load(Ordering::SeqCst))
}

/// "SIGINT", "SIGTERM", or the number.
pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}
