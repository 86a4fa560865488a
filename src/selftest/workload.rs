//! Child processes with known properties, and the ground truth about them (their pids, parent,
//! credentials, names and the wait status the parent really got), to hold the probe's events
//! against.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::probe;

/// The shell the exec children run; its argv is known.
pub(crate) const SHELL: &str = "/bin/sh";
/// uid/gid of the credentials child (`nobody`/`nogroup` on Debian; any unused id would do).
pub(crate) const OTHER_ID: u32 = 65534;

/// Who spawned the children: what their fork events must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parent {
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
}

impl Parent {
    /// The calling thread of this process.
    pub fn current() -> Parent {
        // SAFETY: these getters have no preconditions and cannot fail.
        unsafe {
            Parent {
                pid: libc::getpid() as u32,
                tid: libc::gettid() as u32,
                ppid: libc::getppid() as u32,
                uid: libc::getuid(),
                gid: libc::getgid(),
                comm: crate::host::thread_comm(),
            }
        }
    }
}

/// What an exec must report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecTruth {
    /// The path given to execve.
    pub filename: String,
    /// The executable's own file name after resolving symlinks (what the dentry is called).
    pub exe: String,
    /// comm after exec: the basename of the path, truncated to 15 bytes.
    pub comm: String,
}

impl ExecTruth {
    pub fn of(path: &Path) -> ExecTruth {
        let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let base = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let mut comm = base(path);
        comm.truncate(15);
        ExecTruth {
            filename: path.display().to_string(),
            exe: base(&resolved),
            comm,
        }
    }
}

/// One child and everything known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChildTruth {
    /// Which workload item: `fork`, `exec`, `credentials`, `signal`.
    pub label: &'static str,
    pub pid: u32,
    /// The raw wait status waitpid() returned.
    pub wait_status: u32,
    /// None for a child that never execs.
    pub exec: Option<ExecTruth>,
    /// Credentials after exec (those at fork are the parent's).
    pub uid: u32,
    pub gid: u32,
    /// What the exit event's comm must be.
    pub exit_comm: String,
}

/// The basic workload's result.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub parent: Parent,
    pub children: Vec<ChildTruth>,
    /// Items not run, with the reason.
    pub skipped: Vec<(&'static str, String)>,
}

fn wait_raw(mut child: Child) -> std::io::Result<u32> {
    Ok(child.wait()?.into_raw() as u32)
}

/// fork(); the child exits 0 at once.
fn fork_only() -> std::io::Result<(u32, u32)> {
    // SAFETY: the child only calls _exit, which is async-signal-safe, so forking a
    // multi-threaded process is sound here.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: _exit never returns and runs no destructors or atexit handlers.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((pid as u32, status as u32))
}

/// Run the basic workload from the calling thread.
pub(crate) fn run_basic() -> std::io::Result<Workload> {
    let parent = Parent::current();
    let mut children = Vec::new();
    let mut skipped = Vec::new();
    let shell = ExecTruth::of(Path::new(SHELL));

    let (pid, wait_status) = fork_only()?;
    children.push(ChildTruth {
        label: "fork",
        pid,
        wait_status,
        exec: None,
        uid: parent.uid,
        gid: parent.gid,
        exit_comm: parent.comm.clone(),
    });

    // (label, script, credentials): each runs `/bin/sh -c script` and is waited for.
    let mut items = vec![("exec", "exit 7", None), ("signal", "kill -9 $$", None)];
    if crate::host::is_root() {
        items.push(("credentials", "exit 0", Some(OTHER_ID)));
    } else {
        skipped.push((
            "credentials",
            "starting a child under another uid/gid needs root".to_owned(),
        ));
    }
    for (label, script, id) in items {
        let mut cmd = Command::new(SHELL);
        cmd.args(["-c", script]);
        if let Some(id) = id {
            cmd.uid(id).gid(id);
        }
        let child = cmd.spawn()?;
        let pid = child.id();
        children.push(ChildTruth {
            label,
            pid,
            wait_status: wait_raw(child)?,
            exec: Some(shell.clone()),
            uid: id.unwrap_or(parent.uid),
            gid: id.unwrap_or(parent.gid),
            exit_comm: shell.comm.clone(),
        });
    }
    Ok(Workload {
        parent,
        children,
        skipped,
    })
}

/// The short-lived program the stress test runs: `true`, else the shell running `:`.
pub(crate) fn stress_program() -> (PathBuf, Vec<&'static str>) {
    for p in ["/bin/true", "/usr/bin/true"] {
        if Path::new(p).exists() {
            return (p.into(), vec![]);
        }
    }
    (SHELL.into(), vec!["-c", ":"])
}

/// What one stress spawner did.
#[derive(Debug, Clone, Default)]
pub(crate) struct StressPart {
    /// (pid, raw wait status) of every child.
    pub children: Vec<(u32, u32)>,
    pub interrupted: bool,
}

/// Spawn `n` short-lived children from the calling thread, keeping up to `window` alive at
/// once, as fast as they can be spawned. Stops early when a stop signal arrived.
pub(crate) fn run_stress_part(n: usize, window: usize) -> std::io::Result<StressPart> {
    let (program, args) = stress_program();
    let mut part = StressPart::default();
    let mut running: std::collections::VecDeque<Child> = Default::default();
    for _ in 0..n {
        if probe::stop_requested().is_some() {
            part.interrupted = true;
            break;
        }
        if running.len() >= window {
            let child = running.pop_front().expect("non-empty");
            let pid = child.id();
            part.children.push((pid, wait_raw(child)?));
        }
        running.push_back(Command::new(&program).args(&args).spawn()?);
    }
    for child in running {
        let pid = child.id();
        part.children.push((pid, wait_raw(child)?));
    }
    Ok(part)
}

/// Poll `done` until it is true or `limit` passed.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}
