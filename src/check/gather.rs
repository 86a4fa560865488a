//! Reading the machine into [`Facts`]. Nothing here judges; nothing here mounts, loads modules
//! or changes sysctls: `check-btf` only looks. The one active step is libbpf's feature probes
//! (they load and unload trivial programs and maps), run only when this process is privileged.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::analyse::ProbeId;
use super::*;
use crate::btf::Btf;
use crate::error::InputError;
use crate::host::{self, mounts, SYSCTL_JIT, SYSCTL_UNPRIV_BPF};
use crate::libbpf::probe::{self as libbpf, Helper, MapType, ProgType};
use crate::libbpf::PrintGuard;
use crate::source::{self, BtfSource, SYSFS_VMLINUX};

/// Why the check itself could not run (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error("uname() failed: {0}")]
    Uname(std::io::Error),
    #[error(transparent)]
    Input(#[from] InputError),
}

/// What to check instead of the defaults.
#[derive(Debug, Clone, Default)]
pub struct GatherOptions {
    /// `--btf SRC`: check this BTF instead of `/sys/kernel/btf/vmlinux`.
    pub btf: Option<PathBuf>,
    /// `--base SRC` for split BTF given with `--btf`.
    pub base: Option<PathBuf>,
}

/// Where the kernel publishes vmlinux and module BTF.
pub(crate) const SYSFS_BTF_DIR: &str = "/sys/kernel/btf";

/// libbpf's fallback vmlinux locations, `%1$s` being the release (`btf__load_vmlinux_btf`
/// in libbpf's btf.c), in the order libbpf tries them.
pub fn fallback_locations(release: &str) -> Vec<PathBuf> {
    [
        "/boot/vmlinux-{r}",
        "/lib/modules/{r}/vmlinux-{r}",
        "/lib/modules/{r}/build/vmlinux",
        "/usr/lib/modules/{r}/kernel/vmlinux",
        "/usr/lib/debug/boot/vmlinux-{r}",
        "/usr/lib/debug/boot/vmlinux-{r}.debug",
        "/usr/lib/debug/lib/modules/{r}/vmlinux",
    ]
    .iter()
    .map(|t| PathBuf::from(t.replace("{r}", release)))
    .collect()
}

/// Read everything `analyse` needs.
pub fn gather(opts: &GatherOptions) -> Result<Facts, GatherError> {
    let uname = host::uname().map_err(GatherError::Uname)?;
    let os = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .map(|s| OsRelease::parse(&s))
        .unwrap_or_default();
    // check-btf reports every failure itself, with a fix; a probe that fails is an expected
    // outcome, not noise for the user.
    let _quiet = PrintGuard::silence();
    let privilege = host::privilege();
    let (btf, parsed) = gather_btf(opts, &uname.release)?;
    let config = config::load(&uname.release);
    let mut tracing = gather_tracing();
    // Any checked BTF is evidence that a tracepoint exists; only the kernel's own gives the
    // ids a tp_btf program attaches by.
    tracing.tracepoints = tracepoints(&tracing, parsed.as_ref());
    let probes = privilege.can_bpf().then(|| {
        // With --btf the kernel's own BTF (if any) is still what tp_btf attaches by.
        let sysfs_btf = match btf.origin {
            BtfOrigin::Given if btf.sysfs_exists => source::load(None, None).ok().map(|s| s.btf),
            _ => None,
        };
        let kernel_btf = match btf.origin {
            BtfOrigin::Sysfs => parsed.as_ref(),
            _ => sysfs_btf.as_ref(),
        };
        run_probes(kernel_btf)
    });
    Ok(Facts {
        uname,
        os,
        libbpf_version: libbpf::version(),
        libbpf_version_string: libbpf::version_string(),
        btf,
        modules: module_btf(Path::new(SYSFS_BTF_DIR)),
        config,
        privilege,
        unprivileged_bpf_disabled: host::read_sysctl(SYSCTL_UNPRIV_BPF),
        bpf_jit_enable: host::read_sysctl(SYSCTL_JIT),
        tracing,
        probes,
    })
}

fn kind_counts(btf: &Btf) -> BTreeMap<Kind, u32> {
    let mut m = BTreeMap::new();
    for t in btf.types() {
        *m.entry(t.kind()).or_insert(0) += 1;
    }
    m
}

fn loaded(src: &BtfSource, libbpf: Result<u32, libbpf::Errno>) -> LoadedBtf {
    LoadedBtf {
        path: src.path.clone(),
        container: src.describe(),
        size: src.btf.raw_bytes().len(),
        type_count: src.btf.type_count(),
        kinds: kind_counts(&src.btf),
        libbpf,
        release: src.named_release(),
        split: src.base_path.is_some(),
        shape: shape(&src.btf),
    }
}

/// The facts [`BtfShape`] holds, read from `btf`.
fn shape(btf: &Btf) -> BtfShape {
    let is = |name: &str, kind: Kind| {
        btf.ids_by_name(name)
            .iter()
            .any(|&id| btf.type_by_id(id).is_some_and(|t| t.kind() == kind))
    };
    // libbpf's determine_ptr_size: the size of the first of these integer types found.
    let pointer_size = [
        "long",
        "long int",
        "unsigned long",
        "long unsigned int",
        "unsigned long int",
    ]
    .iter()
    .find_map(|n| {
        btf.ids_by_name(n).iter().find_map(|&id| {
            btf.type_by_id(id)
                .filter(|t| t.kind() == Kind::Int)
                .map(|t| t.size())
        })
    });
    BtfShape {
        task_struct: is("task_struct", Kind::Struct),
        bpf_prog: is("bpf_prog", Kind::Struct),
        native_endian: btf.endian() == crate::btf::Endian::native(),
        pointer_size,
    }
}

/// The checked BTF's facts, and the parsed BTF itself.
fn gather_btf(opts: &GatherOptions, release: &str) -> Result<(BtfFacts, Option<Btf>), GatherError> {
    let sysfs_exists = Path::new(SYSFS_VMLINUX).exists();
    if let Some(path) = &opts.btf {
        // Bad --btf input is the user's error: exit 2 with the file named.
        let src = source::load(Some(path), opts.base.as_deref())?;
        let lib = libbpf::parse_bytes(src.btf.raw_bytes(), src.base_path.as_deref());
        let facts = BtfFacts {
            origin: BtfOrigin::Given,
            loaded: Ok(loaded(&src, lib)),
            sysfs_exists,
            fallbacks: Vec::new(),
        };
        return Ok((facts, Some(src.btf)));
    }
    if sysfs_exists {
        let (loaded, btf) = match source::load(None, None) {
            Ok(src) => {
                let lib = libbpf::parse_path(Path::new(SYSFS_VMLINUX), None);
                (Ok(loaded(&src, lib)), Some(src.btf))
            }
            Err(e) => (Err(e.to_string()), None),
        };
        let facts = BtfFacts {
            origin: BtfOrigin::Sysfs,
            loaded,
            sysfs_exists,
            fallbacks: Vec::new(),
        };
        return Ok((facts, btf));
    }
    // No sysfs BTF: examine libbpf's fallback locations, use the first that holds BTF.
    let (fallbacks, chosen) = examine_fallbacks(fallback_locations(release));
    let why = format!("{SYSFS_VMLINUX} is absent");
    Ok(match chosen {
        Some((l, btf)) => (
            BtfFacts {
                origin: BtfOrigin::Fallback,
                loaded: Ok(l),
                sysfs_exists,
                fallbacks,
            },
            Some(btf),
        ),
        None => (
            BtfFacts {
                origin: BtfOrigin::Sysfs,
                loaded: Err(why),
                sysfs_exists,
                fallbacks,
            },
            None,
        ),
    })
}

/// What each fallback location holds; the first that holds BTF is loaded (as libbpf's
/// `btf__load_vmlinux_btf` takes the first that parses).
pub fn examine_fallbacks(paths: Vec<PathBuf>) -> (Vec<Fallback>, Option<(LoadedBtf, Btf)>) {
    let mut fallbacks = Vec::new();
    let mut chosen: Option<(LoadedBtf, Btf)> = None;
    for path in paths {
        let state = if !path.exists() {
            FallbackState::Absent
        } else {
            match source::load(Some(&path), None) {
                Ok(src) => {
                    let types = src.btf.type_count();
                    if chosen.is_none() {
                        let lib = libbpf::parse_path(&path, None);
                        chosen = Some((loaded(&src, lib), src.btf));
                    }
                    FallbackState::HasBtf { types }
                }
                Err(e) => FallbackState::Unusable(strip_path(&e.to_string(), &path)),
            }
        };
        fallbacks.push(Fallback { path, state });
    }
    (fallbacks, chosen)
}

fn strip_path(msg: &str, path: &Path) -> String {
    msg.strip_prefix(&format!("{}: ", path.display()))
        .unwrap_or(msg)
        .to_owned()
}

/// Module BTF in `dir` (`/sys/kernel/btf`): each file but vmlinux must start with the BTF magic.
pub fn module_btf(dir: &Path) -> Option<ModuleBtf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "vmlinux")
        .collect();
    names.sort();
    let mut m = ModuleBtf {
        valid: Vec::new(),
        invalid: Vec::new(),
    };
    for name in names {
        let path = dir.join(&name);
        let mut magic = [0u8; 2];
        match std::fs::File::open(&path).and_then(|mut f| f.read_exact(&mut magic)) {
            Ok(()) if crate::btf::detect_endian(&[magic[0], magic[1], 1, 0]).is_some() => {
                m.valid.push(name)
            }
            Ok(()) => m.invalid.push((name, "not BTF (bad magic)".into())),
            Err(e) => m.invalid.push((name, InputError::io(&path, e).to_string())),
        }
    }
    Some(m)
}

fn gather_tracing() -> TracingFacts {
    let mounts = host::mount_table().map_err(|e| e.to_string());
    let tracefs_supported = host::filesystems().map(|fs| fs.iter().any(|f| f == "tracefs"));
    let dir = mounts.as_ref().ok().and_then(|m| mounts::tracefs_dir(m));
    let kprobe_events = match &dir {
        Some(d) => exists(&d.join("kprobe_events")),
        None => Err(not_mounted()),
    };
    TracingFacts {
        mounts,
        tracefs_supported,
        tracepoints: Vec::new(),
        kprobe_pmu: Path::new(host::KPROBE_PMU).exists(),
        kprobe_events,
    }
}

fn not_mounted() -> String {
    "tracefs not mounted".to_owned()
}

/// Whether `path` exists, telling "absent" apart from "cannot look" (permission).
fn exists(path: &Path) -> Result<bool, String> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(InputError::io(path, e).to_string()),
    }
}

fn tracepoints(t: &TracingFacts, btf: Option<&Btf>) -> Vec<TracepointFacts> {
    let dir = t.mounts.as_ref().ok().and_then(|m| mounts::tracefs_dir(m));
    MONITOR_TRACEPOINTS
        .iter()
        .map(|name| {
            let in_tracefs = match &dir {
                Some(d) => exists(&d.join("events").join(name)),
                None => Err(not_mounted()),
            };
            let event = name.rsplit('/').next().unwrap_or(name);
            let in_btf = btf.map(|b| !b.ids_by_name(&format!("btf_trace_{event}")).is_empty());
            TracepointFacts {
                name: (*name).to_owned(),
                in_tracefs,
                in_btf,
            }
        })
        .collect()
}

fn run_probes(sysfs: Option<&Btf>) -> Vec<ProbeResult> {
    ProbeId::ALL
        .iter()
        .map(|&probe| {
            let outcome = match probe {
                ProbeId::MapRingbuf => Ok(libbpf::probe_map_type(MapType::Ringbuf)),
                ProbeId::MapPercpuArray => Ok(libbpf::probe_map_type(MapType::PercpuArray)),
                ProbeId::ProgTracepoint => Ok(libbpf::probe_prog_type(ProgType::Tracepoint)),
                ProbeId::ProgKprobe => Ok(libbpf::probe_prog_type(ProgType::Kprobe)),
                // libbpf_probe_bpf_helper answers "supported" when the load fails without a
                // verifier message (as on EPERM); analyse weighs it against the tracepoint probe.
                ProbeId::HelperGetCurrentTask => Ok(libbpf::probe_helper(
                    ProgType::Tracepoint,
                    Helper::GetCurrentTask,
                )),
                ProbeId::TpBtf => tp_btf_target(sysfs).map(libbpf::probe_tp_btf),
            };
            ProbeResult { probe, outcome }
        })
        .collect()
}

/// The kernel BTF id of `btf_trace_sched_process_exec`, the tp_btf probe's target.
fn tp_btf_target(sysfs: Option<&Btf>) -> Result<u32, String> {
    let btf = sysfs.ok_or_else(|| {
        format!("needs the kernel's own BTF at {SYSFS_VMLINUX} (tp_btf attaches by kernel BTF id)")
    })?;
    btf.ids_by_name("btf_trace_sched_process_exec")
        .first()
        .copied()
        .ok_or_else(|| "kernel BTF has no btf_trace_sched_process_exec".to_owned())
}
