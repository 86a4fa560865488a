//! One dry-run of one object against one kernel, by either path, as data.

use std::path::Path;

use super::log::{self, Record, VerifierPoison};
use super::offline::{self, OfflineError, OfflineTarget};
use crate::btf::Endian;
use crate::libbpf::object::{self as live, LiveError, SizedMap, TargetFile};
use crate::reloc::{assemble, Object, Outcomes, Status, TargetResult};
use crate::source::{BtfSource, SYSFS_VMLINUX};

/// Which machinery computed the relocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// libbpf's `bpf_object__prepare` (needs `bpf()`).
    Libbpf,
    /// libbpf's relocation calculator without a kernel.
    Offline,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Libbpf => "libbpf",
            Mode::Offline => "offline",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Offline(#[from] OfflineError),
    /// libbpf could not load even a trivial program: no `bpf()` here (a container, a
    /// seccomp filter, CONFIG_BPF_SYSCALL=n).
    #[error("not supported here: libbpf cannot load BPF programs on this machine ({detail}); use --offline")]
    NoBpf { detail: String },
    /// libbpf refuses the target BTF (`--btf`) that coretool's own parser took.
    #[error("{path}: libbpf cannot parse its BTF: {said}")]
    TargetBtf { path: String, said: String },
}

/// The verdict on one program under `--load`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramLoad {
    pub program: String,
    pub loaded: bool,
    /// libbpf's error when the load failed.
    pub error: Option<String>,
    /// The poisoned instruction the verifier stopped at, if that is why it failed.
    pub poison: Option<VerifierPoison>,
    /// The relocation index that poisoned it.
    pub relocation: Option<usize>,
}

/// Everything dry-run learned about one target.
#[derive(Debug, Clone)]
pub struct TargetReport {
    /// The BTF source as given (`/sys/kernel/btf/vmlinux` for the running kernel).
    pub source: String,
    pub release: Option<String>,
    pub running_kernel: bool,
    pub mode: Mode,
    pub result: TargetResult,
    /// libbpf's prepare failed for a reason other than a CO-RE relocation.
    pub prepare_error: Option<String>,
    /// Why the object cannot load on this kernel whatever its relocations say: libbpf refuses
    /// to open it (its own reason), or its byte order is not the kernel's.
    pub refused: Option<String>,
    /// `--load` verdicts, one per program (running kernel only).
    pub loads: Option<Vec<ProgramLoad>>,
    /// Maps `--load` created with a size of its own because the object leaves it to the
    /// loader (`max_entries` 0).
    pub sized_maps: Vec<SizedMap>,
    /// The log libbpf (or the offline calculator) printed.
    pub log: String,
}

impl TargetReport {
    /// Whether the object would load on this kernel, as far as relocation (and, under
    /// `--load`, the verifier) can tell.
    pub fn loads(&self) -> bool {
        if self.refused.is_some() {
            return false;
        }
        if let Some(loads) = &self.loads {
            return loads.iter().all(|l| l.loaded);
        }
        self.prepare_error.is_none()
            && self.result.relocates()
            && self.result.summary().reachable_poison == 0
    }
}

/// A kernel to relocate against.
pub struct Target<'a> {
    pub btf: &'a BtfSource,
    /// `--btf` was not given: libbpf finds the running kernel's BTF (and module BTFs) itself.
    pub default_kernel: bool,
}

impl Target<'_> {
    /// Whether the target is the running kernel: no `--btf`, `--btf /sys/kernel/btf/vmlinux`,
    /// or a copy of that BTF byte for byte.
    pub fn running_kernel(&self) -> bool {
        self.default_kernel || is_running_kernel(self.btf)
    }
}

/// Whether `src` is the running kernel's BTF: `/sys/kernel/btf/vmlinux` itself, or the same
/// bytes from elsewhere (only read when the sizes agree).
pub fn is_running_kernel(src: &BtfSource) -> bool {
    if src.path == Path::new(SYSFS_VMLINUX) {
        return true;
    }
    let raw = src.btf.raw_bytes();
    let same_size = std::fs::metadata(SYSFS_VMLINUX).is_ok_and(|m| m.len() == raw.len() as u64);
    same_size && std::fs::read(SYSFS_VMLINUX).is_ok_and(|k| k == raw)
}

/// Relocate `obj` against `target` with `mode`; with `load`, also load each program (libbpf
/// mode on the running kernel only: the verifier checks against the kernel it runs in).
pub fn run(
    obj: &Object,
    target: &Target<'_>,
    mode: Mode,
    load: bool,
) -> Result<TargetReport, RunError> {
    run_with(obj, target, mode, load.then_some(&[]))
}

/// [`run`], with `load` naming the programs to load (`Some(&[])`: every program the object
/// autoloads), as `--load --program NAME...`.
pub fn run_with(
    obj: &Object,
    target: &Target<'_>,
    mode: Mode,
    load: Option<&[String]>,
) -> Result<TargetReport, RunError> {
    run_inner(obj, target, mode, load, None, None)
}

/// The offline engine against a kernel loaded once for many objects
/// ([`offline::OfflineKernel`], made from the same `target`): what `compat` runs per kernel.
pub fn run_offline_on(
    obj: &Object,
    target: &Target<'_>,
    kernel: &offline::OfflineKernel<'_>,
) -> Result<TargetReport, RunError> {
    run_inner(obj, target, Mode::Offline, None, Some(kernel), None)
}

/// Whether libbpf opens `obj` at all: the first step of every run, which depends on the object
/// only. A caller relocating one object against many kernels checks it once
/// ([`run_offline_opened`]).
pub fn open_check(obj: &Object) -> Result<(), live::OpenRefusal> {
    live::check_open(object_file(obj))
}

/// [`run_offline_on`] with the object's [`open_check`] done before (for `btfgen`, which
/// relocates every object twice per kernel over a whole fleet: the open check is the same
/// every time).
pub fn run_offline_opened(
    obj: &Object,
    target: &Target<'_>,
    kernel: &offline::OfflineKernel<'_>,
    opened: &Result<(), live::OpenRefusal>,
) -> Result<TargetReport, RunError> {
    run_inner(obj, target, Mode::Offline, None, Some(kernel), Some(opened))
}

fn run_inner(
    obj: &Object,
    target: &Target<'_>,
    mode: Mode,
    load: Option<&[String]>,
    prepared: Option<&offline::OfflineKernel<'_>>,
    opened: Option<&Result<(), live::OpenRefusal>>,
) -> Result<TargetReport, RunError> {
    // The first thing any loader does is open the object; libbpf refuses some that coretool
    // parses (a static program, a 32-bit ELF). Nothing is relocated then, by either engine.
    let checked;
    let opened = match opened {
        Some(o) => o,
        None => {
            checked = live::check_open(object_file(obj));
            &checked
        }
    };
    if let Err(refusal) = opened {
        let why = format!("libbpf cannot open the object: {refusal}");
        let outcomes = Outcomes {
            failure: Some(why.clone()),
            ..Outcomes::default()
        };
        return Ok(TargetReport {
            source: target.btf.path.display().to_string(),
            release: target.btf.release.clone(),
            running_kernel: target.running_kernel(),
            mode,
            result: assemble(obj, &outcomes),
            prepare_error: None,
            refused: Some(why),
            loads: None,
            sized_maps: Vec::new(),
            log: refusal.log.clone(),
        });
    }
    let refused = foreign_byte_order(obj, target);
    let (outcomes, log, prepare_error) = match mode {
        Mode::Offline => {
            let t = OfflineTarget {
                btf: target.btf,
                running_kernel: target.default_kernel,
            };
            let run = match prepared {
                Some(kernel) => offline::relocate_on(obj, kernel)?,
                None => offline::relocate(obj, &t)?,
            };
            (run.outcomes, run.log, None)
        }
        Mode::Libbpf => {
            let file = match target.default_kernel {
                true => None,
                false => Some(TargetFile::write(target.btf.btf.raw_bytes())?),
            };
            let run = live::prepare(object_file(obj), file.as_ref().map(TargetFile::path))?;
            if let Some(line) = run
                .log
                .lines()
                .find(|l| l.contains("Couldn't load trivial BPF program"))
            {
                let detail = line
                    .split_once("(): ")
                    .map_or(line, |(_, d)| d)
                    .split(". ")
                    .next()
                    .unwrap_or(line);
                return Err(RunError::NoBpf {
                    detail: detail.to_owned(),
                });
            }
            if let Some(said) = target_btf_refused(&run.log) {
                return Err(RunError::TargetBtf {
                    path: target.btf.path.display().to_string(),
                    said,
                });
            }
            let outcomes = log::outcomes(&log::parse(&run.log));
            (outcomes, run.log, run.prepare_error)
        }
    };
    let mut result = assemble(obj, &outcomes);
    // A CO-RE failure explains the prepare error; anything else is reported as is.
    let prepare_error = prepare_error
        .filter(|_| result.failure.is_none())
        .map(|e| last_warning(&log).map_or(e.clone(), |w| format!("{e}: {w}")));
    let mut sized_maps = Vec::new();
    let loads = match load {
        Some(only) if mode == Mode::Libbpf && target.running_kernel() && refused.is_none() => {
            let file = match target.default_kernel {
                true => None,
                false => Some(TargetFile::write(target.btf.btf.raw_bytes())?),
            };
            let run = live::load_each(object_file(obj), file.as_ref().map(TargetFile::path), only)?;
            sized_maps = run.sized_maps;
            Some(apply_verdicts(&mut result, run.verdicts))
        }
        _ => None,
    };
    Ok(TargetReport {
        source: target.btf.path.display().to_string(),
        release: target.btf.release.clone(),
        running_kernel: target.running_kernel(),
        mode,
        result,
        prepare_error,
        refused,
        loads,
        sized_maps,
        log,
    })
}

/// The kernel's byte order is its BTF's (the running kernel's is this machine's); the kernel
/// runs only instructions in its own order, and libbpf refuses to load an object of another
/// (`bpf_object_load`: "loading non-native endianness is unsupported"), although it relocates
/// one.
fn foreign_byte_order(obj: &Object, target: &Target<'_>) -> Option<String> {
    let kernel = match target.default_kernel {
        true => Endian::native(),
        false => target.btf.btf.endian(),
    };
    (obj.endian != kernel).then(|| {
        format!(
            "cannot load on this kernel: the object is {}, the kernel {} (libbpf: loading \
             non-native endianness is unsupported)",
            obj.endian.name(),
            kernel.name()
        )
    })
}

/// The object as libbpf's loader takes it: the bytes already read.
fn object_file(obj: &Object) -> live::ObjectFile<'_> {
    live::ObjectFile {
        path: &obj.path,
        data: &obj.data,
    }
}

/// libbpf's own reason when it could not parse `btf_custom_path` (`bpf_object__load_vmlinux_btf`
/// prints `failed to parse target BTF: -EINVAL` after btf.c's line that says why).
fn target_btf_refused(log: &str) -> Option<String> {
    let lines: Vec<&str> = log
        .lines()
        .map(|l| l.strip_prefix("libbpf: ").unwrap_or(l).trim())
        .collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("failed to parse target BTF"))?;
    let errno = lines[at]
        .strip_prefix("failed to parse target BTF: ")
        .unwrap_or(lines[at]);
    Some(match at.checked_sub(1).map(|i| lines[i]) {
        Some(why) if !why.is_empty() && !why.contains("skipping optional") => {
            format!("{why} ({errno})")
        }
        _ => lines[at].to_owned(),
    })
}

/// The last thing libbpf warned about that is not a generic "failed to load object".
fn last_warning(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .map(|l| l.strip_prefix("libbpf: ").unwrap_or(l))
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("failed to load object")
                && !l.contains("skipping optional")
        })
        .map(str::to_owned)
}

/// Turn per-program load verdicts into [`ProgramLoad`]s and let the verifier settle
/// reachability: a program that loaded proves its poisoned instructions dead; one rejected at
/// a poisoned instruction proves that one reachable.
fn apply_verdicts(result: &mut TargetResult, verdicts: Vec<live::LoadVerdict>) -> Vec<ProgramLoad> {
    let mut out = Vec::new();
    for v in verdicts {
        let records = log::parse(&v.log);
        let poison = records.iter().find_map(|r| match r {
            Record::VerifierLog { prog, lines } if *prog == v.program => {
                log::verifier_poison(lines)
            }
            _ => None,
        });
        let mut relocation = None;
        for f in result
            .fixups
            .iter_mut()
            .filter(|f| f.program == v.program && f.status == Status::Poisoned)
        {
            match &poison {
                None if v.error.is_none() => f.reachable = Some(false),
                Some(p) => {
                    let same_spec =
                        p.spec.as_ref().map(|s| s.accessor()) == Some(f.accessor.clone());
                    if p.insn == f.insn || (relocation.is_none() && same_spec) {
                        f.reachable = Some(true);
                        relocation = Some(f.index);
                        if f.source.is_none() {
                            f.source = p.source.clone();
                        }
                    }
                }
                None => {}
            }
        }
        let error = v.error.map(|e| {
            records
                .iter()
                .find_map(|r| match r {
                    Record::LoadFailed { prog, message } if *prog == v.program => {
                        Some(format!("BPF program load failed: {message}"))
                    }
                    _ => None,
                })
                .or_else(|| last_warning(&v.log))
                .unwrap_or(e)
        });
        out.push(ProgramLoad {
            program: v.program,
            loaded: error.is_none(),
            error,
            poison,
            relocation,
        });
    }
    out
}
