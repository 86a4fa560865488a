//! libbpf's own object loader: relocate an object against a kernel's BTF, or load it.
//!
//! `bpf_object__prepare` runs libbpf's whole load sequence except loading programs: it probes
//! the kernel, loads the object's BTF, applies CO-RE relocations and (with map auto-creation
//! turned off) creates no maps. Closing the object releases the BTF, so nothing stays in the
//! kernel. `--load` goes one step further, one program at a time so that one rejection does not
//! hide the verdict on the others; maps are created for that (a program that uses a map cannot
//! load without it) and destroyed again when the object closes.
//!
//! [`check_open`] runs only libbpf's open (`bpf_object__open_mem`, no kernel), which both
//! dry-run engines do first: an object libbpf refuses there loads nowhere. Whenever libbpf
//! fails, its own last warning goes into the error with the errno it returned.
//!
//! What this module trusts: libbpf's debug log, captured in memory by [`PrintGuard`] and returned
//! verbatim; turning it into records is the pure parser's job.

use std::path::{Path, PathBuf};

use libbpf_rs::{AsRawLibbpf, ObjectBuilder, OpenObject};

use super::print::{LogLevel, PrintGuard};

/// Why the libbpf path could not run at all (as opposed to a relocation that failed, which is a
/// result and lives in the log).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{}: libbpf cannot open it: {cause}", path.display())]
    Open { path: PathBuf, cause: String },
    #[error("{}: no program named '{name}' (its programs: {programs})", path.display())]
    NoSuchProgram {
        path: PathBuf,
        name: String,
        programs: String,
    },
    #[error("handing the target BTF to libbpf (an in-memory file): {cause}")]
    TempFile { cause: std::io::Error },
}

/// What one libbpf run printed and how it ended.
#[derive(Debug, Clone)]
pub struct LiveRun {
    /// libbpf's log, verbatim.
    pub log: String,
    /// `None` when `bpf_object__prepare` succeeded, else libbpf's error.
    pub prepare_error: Option<String>,
}

/// Verdict of loading one program (`--load`).
#[derive(Debug, Clone)]
pub struct LoadVerdict {
    pub program: String,
    /// `None` when the verifier accepted the program.
    pub error: Option<String>,
    /// libbpf's log of that load (the verifier log is inside when it failed).
    pub log: String,
}

/// A target BTF held in an anonymous memory file (`memfd_create`) for libbpf's
/// `btf_custom_path`, which libbpf opens as `/proc/self/fd/N`. libbpf parses raw BTF and ELF
/// files itself, but not kernel images or archives, so every `--btf` source is handed over as
/// the raw `.BTF` bytes coretool already extracted. The file has no name in any directory: it
/// goes away with the descriptor, so no signal (not even SIGKILL) can leave it behind.
pub(crate) struct TargetFile {
    /// Keeps the descriptor (and so the file) alive while libbpf may open `path`.
    _file: std::fs::File,
    path: PathBuf,
}

impl TargetFile {
    pub fn write(raw: &[u8]) -> Result<TargetFile, LiveError> {
        use std::io::Write;
        use std::os::fd::{AsRawFd, FromRawFd};
        let fail = |cause: std::io::Error| LiveError::TempFile { cause };
        // SAFETY: the name is a NUL-terminated C string literal; memfd_create returns a new
        // descriptor we own or -1 with errno set.
        let fd = unsafe { libc::memfd_create(c"coretool-target-btf".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(fail(std::io::Error::last_os_error()));
        }
        // SAFETY: `fd` is a fresh descriptor nothing else owns; the File closes it once.
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        file.write_all(raw).map_err(fail)?;
        let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        Ok(TargetFile { _file: file, path })
    }

    /// The path libbpf opens (this process's view of the descriptor).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// An object for libbpf: the bytes coretool already read, and the file they came from (for
/// messages and the object's name).
#[derive(Debug, Clone, Copy)]
pub struct ObjectFile<'a> {
    pub path: &'a Path,
    pub data: &'a [u8],
}

/// The name libbpf gives an object it opens by path (`bpf_object__new`): the file name up to
/// its first dot.
fn object_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.split('.').next().unwrap_or_default().to_owned()
}

/// libbpf's warnings among the lines `log` captured so far (taking them), verbatim without
/// the `libbpf: ` prefix: the reason behind an error libbpf returns as a bare errno.
fn warnings(log: &PrintGuard) -> (Vec<String>, String) {
    let lines = log.take_lines();
    let mut text = String::new();
    let mut warned = Vec::new();
    for l in lines {
        text.push_str(&l.text);
        text.push('\n');
        if l.level == LogLevel::Warn {
            let w = l.text.strip_prefix("libbpf: ").unwrap_or(&l.text).trim();
            if !w.is_empty() {
                warned.push(w.to_owned());
            }
        }
    }
    (warned, text)
}

/// libbpf's text for an error it returned (`libbpf_strerror`: errno, or libbpf's own codes
/// such as `LIBBPF_ERRNO__FORMAT`).
fn libbpf_strerror(err: i32) -> String {
    let mut buf = [0 as std::ffi::c_char; 256];
    // SAFETY: `buf` is writable for its whole length, which is what we pass; libbpf always
    // NUL-terminates within it.
    let ret = unsafe { libbpf_sys::libbpf_strerror(err, buf.as_mut_ptr(), buf.len() as _) };
    if ret < 0 {
        return errno_text(err.abs());
    }
    // SAFETY: libbpf_strerror wrote a NUL-terminated string into `buf`.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// libbpf refused to open an object (`bpf_object__open_mem`): nothing was relocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRefusal {
    /// libbpf's own warnings, verbatim (`sec 'raw_tp/x': program 'f' is static and not
    /// supported`), last one last.
    pub warnings: Vec<String>,
    /// The error libbpf returned, in libbpf's words.
    pub error: String,
    /// Everything libbpf printed while opening.
    pub log: String,
}

impl std::fmt::Display for OpenRefusal {
    /// `libbpf's last warning (its error)`: the reason first, the errno after it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.warnings.last() {
            Some(w) => write!(f, "{w} ({})", self.error),
            None => f.write_str(&self.error),
        }
    }
}

/// Whether libbpf opens `obj` at all (`bpf_object__open_mem`: the ELF, its sections and
/// programs, its BTF; no kernel, no privilege). The first thing any loader does, so an object
/// it refuses loads nowhere, whatever the relocations say.
pub fn check_open(obj: ObjectFile<'_>) -> Result<(), OpenRefusal> {
    let capture = PrintGuard::capture();
    let name = std::ffi::CString::new(object_name(obj.path)).unwrap_or_default();
    let opts = libbpf_sys::bpf_object_open_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_object_open_opts>() as _,
        object_name: if name.is_empty() {
            std::ptr::null()
        } else {
            name.as_ptr()
        },
        ..Default::default()
    };
    // SAFETY: `obj.data` is valid for its length for the call (libbpf copies what it keeps);
    // `opts` is a zeroed, correctly sized options struct whose one pointer (`name`) outlives
    // the call. libbpf returns an owned object or NULL with errno set.
    let ptr = unsafe {
        libbpf_sys::bpf_object__open_mem(obj.data.as_ptr().cast(), obj.data.len() as _, &opts)
    };
    if ptr.is_null() {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let (warnings, log) = warnings(&capture);
        return Err(OpenRefusal {
            warnings,
            error: libbpf_strerror(errno),
            log,
        });
    }
    // SAFETY: `ptr` is the object libbpf just opened for us, closed once, here.
    unsafe { libbpf_sys::bpf_object__close(ptr) };
    Ok(())
}

fn open(
    obj: ObjectFile<'_>,
    target: Option<&Path>,
    log: &PrintGuard,
) -> Result<OpenObject, LiveError> {
    let fail = |path: &Path, e: libbpf_rs::Error| {
        // libbpf says why in its log; the error it returns is a bare errno.
        let (warned, _) = warnings(log);
        let cause = match warned.last() {
            Some(w) => format!("{w} ({e:#})"),
            None => format!("{e:#}"),
        };
        LiveError::Open {
            path: path.to_path_buf(),
            cause,
        }
    };
    let mut builder = ObjectBuilder::default();
    if let Some(t) = target {
        builder.btf_custom_path(t).map_err(|e| fail(t, e))?;
    }
    let name = object_name(obj.path);
    if !name.is_empty() {
        builder.name(&name).map_err(|e| fail(obj.path, e))?;
    }
    builder.open_memory(obj.data).map_err(|e| fail(obj.path, e))
}

/// Relocate `obj` against `target` (the running kernel's BTF when `None`) without loading
/// anything: `bpf_object__prepare` with every map's auto-creation turned off.
pub fn prepare(obj: ObjectFile<'_>, target: Option<&Path>) -> Result<LiveRun, LiveError> {
    let capture = PrintGuard::capture();
    let mut open = open(obj, target, &capture)?;
    for mut map in open.maps_mut() {
        // Cannot fail before load; a failure would only mean the map gets created and then
        // destroyed with the object.
        let _ = map.set_autocreate(false);
    }
    // SAFETY: `open` owns a valid, opened, not yet prepared bpf_object; prepare either
    // succeeds or leaves the object unloaded (libbpf unloads on error), and `open`'s drop
    // closes it exactly once.
    let ret = unsafe { libbpf_sys::bpf_object__prepare(open.as_libbpf_object().as_ptr()) };
    drop(open);
    let prepare_error = (ret != 0).then(|| errno_text(-ret));
    Ok(LiveRun {
        log: capture.take(),
        prepare_error,
    })
}

/// A map whose `max_entries` is 0 in the object (its loader sets it at run time, as
/// libbpf-tools' `cpudist` does) and the size `--load` created it with instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizedMap {
    pub name: String,
    pub max_entries: u32,
}

/// What `--load` did: one verdict per program loaded, and the maps it had to size.
#[derive(Debug, Clone)]
pub struct LoadRun {
    pub verdicts: Vec<LoadVerdict>,
    pub sized_maps: Vec<SizedMap>,
}

/// The size a map with `max_entries` 0 gets for the load test: one entry, or one page for
/// the ring buffers (whose size must be a power-of-two number of pages). A perf event array
/// is left alone: libbpf sizes it to the number of CPUs itself.
fn load_test_size(t: libbpf_rs::MapType) -> Option<u32> {
    use libbpf_rs::MapType;
    match t {
        MapType::PerfEventArray => None,
        MapType::RingBuf | MapType::UserRingBuf => {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            Some(u32::try_from(page).unwrap_or(4096))
        }
        _ => Some(1),
    }
}

/// Size every zero-`max_entries` map of `open` for the load test; what was sized.
fn size_maps(open: &mut OpenObject) -> Vec<SizedMap> {
    let mut sized = Vec::new();
    for mut map in open.maps_mut() {
        if map.max_entries() != 0 {
            continue;
        }
        let Some(n) = load_test_size(map.map_type()) else {
            continue;
        };
        if map.set_max_entries(n).is_ok() {
            sized.push(SizedMap {
                name: map.name().to_string_lossy().into_owned(),
                max_entries: n,
            });
        }
    }
    sized
}

/// Load each program of `obj` on its own against `target` (only those in `only` when it is
/// not empty, as a loader that autoloads a subset), then unload it.
pub fn load_each(
    obj: ObjectFile<'_>,
    target: Option<&Path>,
    only: &[String],
) -> Result<LoadRun, LiveError> {
    let (names, sized_maps) = {
        let quiet = PrintGuard::capture();
        let mut open = open(obj, target, &quiet)?;
        let all: Vec<String> = open
            .progs()
            .map(|p| p.name().to_string_lossy().into_owned())
            .collect();
        if let Some(missing) = only.iter().find(|n| !all.contains(n)) {
            return Err(LiveError::NoSuchProgram {
                path: obj.path.to_path_buf(),
                name: missing.clone(),
                programs: all.join(", "),
            });
        }
        let names: Vec<String> = open
            .progs()
            .filter(|p| {
                let name = p.name().to_string_lossy();
                match only.is_empty() {
                    true => p.autoload(),
                    false => only.iter().any(|n| *n == name),
                }
            })
            .map(|p| p.name().to_string_lossy().into_owned())
            .collect();
        (names, size_maps(&mut open))
    };
    let mut verdicts = Vec::new();
    for name in names {
        let capture = PrintGuard::capture();
        let mut open = open(obj, target, &capture)?;
        size_maps(&mut open);
        for mut p in open.progs_mut() {
            let this = p.name().to_string_lossy() == name.as_str();
            p.set_autoload(this);
        }
        let error = match open.load() {
            Ok(loaded) => {
                drop(loaded);
                None
            }
            Err(e) => Some(e.to_string()),
        };
        verdicts.push(LoadVerdict {
            program: name,
            error,
            log: capture.take(),
        });
    }
    Ok(LoadRun {
        verdicts,
        sized_maps,
    })
}

fn errno_text(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno).to_string()
}

/// Give a stack trace map whose value size the object leaves to the loader (0, as
/// libbpf-tools' `offcputime` does: it sets `perf_max_stack_depth * 8` at run time) the
/// kernel's default depth, 127 frames.
fn size_stack_traces(open: &mut OpenObject) {
    for mut map in open.maps_mut() {
        if map.map_type() == libbpf_rs::MapType::StackTrace && map.value_size() == 0 {
            let _ = map.set_value_size(127 * 8);
        }
    }
}

/// One program to load on its own for `requires --live`.
#[derive(Debug, Clone)]
pub struct LiveProgram {
    pub name: String,
    /// The `.maps` maps it references: the others are not created for its load
    /// (`bpf_map__set_autocreate(false)`), as a loader that keeps only this program would do.
    pub maps: Vec<String>,
    /// Whether to attach it after loading (libbpf's auto-attach for its section).
    pub attach: bool,
}

/// What happened to one program: loaded or not, attached or not.
#[derive(Debug, Clone)]
pub struct LiveOutcome {
    pub program: String,
    /// `None` when the kernel accepted the program; else libbpf's last warning and error.
    pub load_error: Option<String>,
    /// `None` when no attach was attempted (not asked, or the load failed); `Some(None)` when
    /// it attached, `Some(Some(err))` when the attach failed.
    pub attach_error: Option<Option<String>>,
    /// libbpf's log of the load and attach.
    pub log: String,
}

/// Load each program of `obj` on its own on the running kernel, with only the maps it uses
/// (zero-sized ones sized for the test), attach it if asked, then detach, unload and close:
/// every link, program and map goes with the object, so nothing stays in the kernel.
pub fn load_attach_each(
    obj: ObjectFile<'_>,
    programs: &[LiveProgram],
) -> Result<Vec<LiveOutcome>, LiveError> {
    let mut out = Vec::new();
    for p in programs {
        let capture = PrintGuard::capture();
        let mut open = match open(obj, None, &capture) {
            Ok(o) => o,
            // libbpf refuses the object: no program of it loads.
            Err(LiveError::Open { cause, .. }) => {
                out.push(LiveOutcome {
                    program: p.name.clone(),
                    load_error: Some(cause),
                    attach_error: None,
                    log: capture.take(),
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        size_maps(&mut open);
        size_stack_traces(&mut open);
        let mut found = false;
        for mut prog in open.progs_mut() {
            let this = prog.name().to_string_lossy() == p.name.as_str();
            found |= this;
            prog.set_autoload(this);
        }
        if !found {
            return Err(LiveError::NoSuchProgram {
                path: obj.path.to_path_buf(),
                name: p.name.clone(),
                programs: String::new(),
            });
        }
        for mut map in open.maps_mut() {
            let name = map.name().to_string_lossy().into_owned();
            // Internal maps (.rodata, .bss, .kconfig...) have a dot in their libbpf name.
            if !name.contains('.') && !p.maps.contains(&name) {
                let _ = map.set_autocreate(false);
            }
        }
        // What `warnings` takes out of the capture, kept for the outcome's log.
        let mut log = String::new();
        let (load_error, attach_error) = match open.load() {
            Err(e) => {
                let (warned, text) = warnings(&capture);
                log.push_str(&text);
                let why = match warned.last() {
                    Some(w) => format!("{w} ({e})"),
                    None => e.to_string(),
                };
                (Some(why), None)
            }
            Ok(loaded) => {
                let attach = p.attach.then(|| {
                    let prog = loaded
                        .progs_mut()
                        .find(|q| q.name().to_string_lossy() == p.name.as_str());
                    match prog.map(|q| q.attach()) {
                        Some(Ok(link)) => {
                            drop(link);
                            None
                        }
                        Some(Err(e)) => {
                            let (warned, text) = warnings(&capture);
                            log.push_str(&text);
                            Some(match warned.last() {
                                Some(w) => format!("{w} ({e})"),
                                None => e.to_string(),
                            })
                        }
                        None => Some("libbpf lost the program after loading it".to_owned()),
                    }
                });
                drop(loaded);
                (None, attach)
            }
        };
        out.push(LiveOutcome {
            program: p.name.clone(),
            load_error,
            attach_error,
            log: log + &capture.take(),
        });
    }
    Ok(out)
}
