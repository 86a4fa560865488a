//! The streaming engine: kernels read and relocated in parallel, results handed over in the
//! order they finish, each kernel's BTF dropped as soon as every object has seen it.
//!
//! Memory: a worker holds one kernel (its decompression layers while reading, then its BTF
//! and libbpf's copy while relocating) and the channel holds at most `jobs` finished results
//! (typed rows, no BTF), so peak memory depends on `jobs`, not on the number of kernels.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::btf::Endian;
use crate::dryrun::engine::{self, Target, TargetReport};
use crate::dryrun::offline::{OfflineKernel, OfflineTarget};
use crate::reloc::{cands, Object, Status};
use crate::requires::{self, KernelOffers, Names, ObjectNeeds, ObjectRequirements, ObjectVerdict};

use super::cache::Cache;
use super::classes::FailedRelo;
use super::identity::{btf_arch, KernelId};
use super::sources::{self, CacheUse, KernelInput, Unlisted};

/// The verdict on one object on one kernel: its CO-RE relocations and, unless turned off,
/// everything else its programs need from the kernel ([`crate::requires`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Every relocation resolved, nothing poisoned, every requirement met.
    Loads,
    /// Loads: some instructions are poisoned, all of them behind a guard (dead code).
    LoadsGuardedPoison,
    /// Loads if the loader turns off the programs (and maps) that cannot load there
    /// (`bpf_program__set_autoload(false)`, `bpf_map__set_autocreate(false)`): some autoloaded
    /// program misses something (a relocation, a helper, a kfunc, an attach point...).
    LoadsWithout,
    /// Every autoloaded program fails: a relocation error, a reachable poisoned instruction,
    /// or a requirement the kernel does not meet.
    Fails,
    /// Some requirement cannot be told from what the kernel source holds (and none is
    /// missing in every program).
    Unknown,
    /// The object cannot run on this kernel at all (its byte order is the other one, or it was
    /// built for another architecture); the relocations are still computed.
    Incompatible,
    /// The kernel source could not be read (the reason is given).
    Unreadable,
}

impl Verdict {
    /// The verdict's name in JSON (`loads`, `loads-guarded-poison`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Loads => "loads",
            Verdict::LoadsGuardedPoison => "loads-guarded-poison",
            Verdict::LoadsWithout => "loads-without",
            Verdict::Fails => "fails",
            Verdict::Unknown => "unknown",
            Verdict::Incompatible => "incompatible",
            Verdict::Unreadable => "unreadable",
        }
    }

    /// Whether the object loads as it is.
    pub fn loads(self) -> bool {
        matches!(self, Verdict::Loads | Verdict::LoadsGuardedPoison)
    }
}

/// One object on one kernel.
#[derive(Debug, Clone)]
pub struct ObjectOutcome {
    /// Index into the objects given to [`run`].
    pub object: usize,
    pub verdict: Verdict,
    /// The relocations, when they could be computed.
    pub report: Option<TargetReport>,
    /// Why the object fails: the failing relocations (errors first, then reachable poison).
    pub failures: Vec<FailedRelo>,
    /// Why the verdict is `Incompatible` or `Unreadable`, or libbpf's reason for stopping.
    pub reason: Option<String>,
    /// The non-CO-RE half of the verdict; `None` when it was not asked for
    /// ([`Options::requires`]) or the object cannot run there at all (`Incompatible`,
    /// `Unreadable`).
    pub requires: Option<Requires>,
}

/// What the object's programs need from the kernel besides their relocations.
#[derive(Debug, Clone)]
pub enum Requires {
    /// Checked: every requirement of every program, the CO-RE half included.
    Checked(ObjectRequirements),
    /// Not checked, and why: the kernel's BTF is no vmlinux BTF (it has no `enum
    /// bpf_prog_type`, so it cannot tell what the kernel has), or the object's needs could not
    /// be read.
    NotChecked(String),
}

/// Every object on one kernel.
#[derive(Debug, Clone)]
pub struct KernelOutcome {
    /// The kernel's position in the expanded list (0-based).
    pub seq: usize,
    pub id: KernelId,
    pub objects: Vec<ObjectOutcome>,
    /// What the BTF cache did for this kernel.
    pub cache: CacheUse,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// The BTF cache, if any ([`super::cache`]).
    pub cache: Option<Cache>,
    /// Also check everything else the objects need from each kernel ([`crate::requires`]):
    /// helpers, kfuncs, program, map and attach types, attach targets, context arguments.
    pub requires: bool,
}

/// An object's needs and a kernel's offers, for the requires half of a verdict.
type Half<'a> = (
    &'a Result<ObjectNeeds, String>,
    &'a Result<KernelOffers, String>,
);

/// The objects' needs, read once per object (not per kernel): `None` when not asked for.
type AllNeeds = Option<Vec<Result<ObjectNeeds, String>>>;

/// Relocate every object against every kernel in `inputs`, calling `on_result` on the
/// caller's thread for each kernel as soon as it is done (in completion order; `seq` gives the
/// input order). Returns when every kernel is done, or when `on_result` returned `false` (its
/// reader went away): then no further kernel is started and the ones in flight are dropped.
pub fn run(
    objects: &[Object],
    inputs: &[Result<KernelInput, Unlisted>],
    opts: Options,
    on_result: impl FnMut(KernelOutcome) -> bool,
) {
    let wanted = cands::wanted_names_of(objects);
    let wanted = &wanted;
    // The architecture each object was built for, where its BTF tells (a complete
    // `struct pt_regs`, whose members differ between architectures).
    let arches: Vec<Option<&'static str>> = objects.iter().map(|o| btf_arch(&o.btf)).collect();
    let arches = &arches;
    let cache = opts.cache.as_ref();
    let needs: AllNeeds = opts.requires.then(|| {
        objects
            .iter()
            .map(|o| requires::needs(o).map_err(|e| format!("{}: {e}", o.path.display())))
            .collect()
    });
    let needs = &needs;
    stream(
        inputs.len(),
        opts.jobs,
        |seq| one_kernel(objects, arches, wanted, needs, seq, &inputs[seq], cache),
        on_result,
    );
}

/// Run `work(0..count)` on `jobs` worker threads, each taking the next index when it is done,
/// and hand every result to `on_result` on the caller's thread as it comes (completion
/// order). At most `jobs` finished results wait in the channel, so memory depends on `jobs`,
/// not on `count`. When `on_result` returns `false` (its reader went away), no further index
/// is started and the results in flight are dropped. The engine of `compat` and `btfgen`.
pub(crate) fn stream<T: Send>(
    count: usize,
    jobs: usize,
    work: impl Fn(usize) -> T + Sync,
    mut on_result: impl FnMut(T) -> bool,
) {
    let jobs = jobs.max(1).min(count.max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<T>(jobs);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= count {
                    break;
                }
                let result = work(seq);
                release_freed_memory();
                if tx.send(result).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for result in rx.iter() {
            if !on_result(result) {
                next.store(count, Ordering::Relaxed);
                break;
            }
        }
        // Dropping the receiver makes any worker's pending send fail, and it stops.
        drop(rx);
    });
}

/// Give the memory freed after a kernel back to the system. A kernel's work allocates a few
/// buffers of megabytes (the archive member, its BTF, libbpf's copy); glibc keeps freed heap
/// memory in each thread's arena, where the next kernel's buffers of other sizes do not always
/// fit, so without this the peak grows slowly with the number of kernels.
fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free memory of the allocator's own arenas to the
    // system; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Read one kernel and relocate every object against it.
fn one_kernel(
    objects: &[Object],
    arches: &[Option<&'static str>],
    wanted: &[Vec<u8>],
    needs: &AllNeeds,
    seq: usize,
    input: &Result<KernelInput, Unlisted>,
    cache: Option<&Cache>,
) -> KernelOutcome {
    let kernel = match input {
        Ok(i) => sources::read(i, cache).map_err(|why| (i.path.clone(), why)),
        Err(u) => Err((u.path.clone(), u.reason.clone())),
    };
    let kernel = match kernel {
        Ok(k) => k,
        Err((path, why)) => {
            return KernelOutcome {
                seq,
                id: KernelId {
                    source: path.display().to_string(),
                    ..KernelId::default()
                },
                objects: (0..objects.len())
                    .map(|object| ObjectOutcome {
                        object,
                        verdict: Verdict::Unreadable,
                        report: None,
                        failures: Vec::new(),
                        reason: Some(why.clone()),
                        requires: None,
                    })
                    .collect(),
                cache: CacheUse::None,
            }
        }
    };
    // The kernel's BTF goes into libbpf once, and its candidates are indexed once, for every
    // object.
    let offline_target = OfflineTarget {
        btf: &kernel.btf,
        running_kernel: false,
    };
    let prepared = OfflineKernel::load(&offline_target, wanted).map_err(|e| e.to_string());
    // What the kernel offers, read once for every object.
    let offers = needs.as_ref().map(|needs| {
        let path = input.as_ref().map(|i| i.path.as_path()).ok();
        offers_of(&kernel, path, needs)
    });
    let outcomes = objects
        .iter()
        .enumerate()
        .map(|(i, obj)| {
            let half = match (needs, &offers) {
                (Some(n), Some(o)) => Some((&n[i], o)),
                _ => None,
            };
            judge(i, obj, arches[i], &kernel, prepared.as_ref(), half)
        })
        .collect();
    KernelOutcome {
        seq,
        cache: kernel.cache,
        id: kernel.id,
        objects: outcomes,
    }
}

fn endian_name(e: Endian) -> &'static str {
    match e {
        Endian::Little => "little-endian",
        Endian::Big => "big-endian",
    }
}

/// What `kernel` offers: its BTF, with the config and symbol table next to its source when
/// there are, and the kfuncs of its `.BTF_ids` when an object needs kfuncs and the BTF has no
/// `bpf_kfunc` decl tags. `Err`: the BTF is no vmlinux BTF, and cannot tell.
fn offers_of(
    kernel: &sources::Kernel,
    path: Option<&std::path::Path>,
    needs: &[Result<ObjectNeeds, String>],
) -> Result<KernelOffers, String> {
    let btf = &kernel.btf.btf;
    let release = kernel.id.release.as_deref();
    let name = kernel.id.name();
    let kfuncs = needs.iter().flatten().any(ObjectNeeds::uses_kfuncs);
    let wanted = requires::offers::wanted_funcs(needs.iter().flatten());
    let offers = match path {
        // Offline: no live probe, even of the running kernel.
        Some(path) => requires::offers::of_source(path, &name, btf, release, kfuncs, false, wanted),
        None => {
            KernelOffers::from_btf_for(&name, btf, wanted).with_release(release.map(str::to_owned))
        }
    };
    if offers.prog_types.is_empty() {
        return Err("no enum bpf_prog_type in the kernel's BTF (not a vmlinux BTF)".into());
    }
    Ok(offers)
}

/// The requires half of one object's verdict on a kernel whose CO-RE half is `report`.
fn check_requires(
    needs: &Result<ObjectNeeds, String>,
    offers: &Result<KernelOffers, String>,
    report: &TargetReport,
) -> Requires {
    let (needs, offers) = match (needs, offers) {
        (Ok(n), Ok(o)) => (n, o),
        (Err(why), _) | (_, Err(why)) => return Requires::NotChecked(why.clone()),
    };
    let mut names = Names::default();
    names.learn(&needs.helper_names);
    names.learn(&offers.helpers);
    names.learn(&requires::helpers::known());
    let core = requires::core::requirements(needs, report);
    Requires::Checked(requires::check_needs_with(needs, offers, &names, &core))
}

/// One object on one kernel; `half`: its needs and the kernel's offers, when the requires
/// half of the verdict is asked for.
fn judge(
    object: usize,
    obj: &Object,
    obj_arch: Option<&str>,
    kernel: &sources::Kernel,
    prepared: Result<&OfflineKernel<'_>, &String>,
    half: Option<Half<'_>>,
) -> ObjectOutcome {
    let target = Target {
        btf: &kernel.btf,
        default_kernel: false,
    };
    let report = match prepared {
        Ok(p) => engine::run_offline_on(obj, &target, p).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            return ObjectOutcome {
                object,
                verdict: Verdict::Unreadable,
                report: None,
                failures: Vec::new(),
                reason: Some(format!("{}: {e}", kernel.id.source)),
                requires: None,
            }
        }
    };
    let failures = failed_relocations(&report);
    let kernel_endian = kernel.btf.btf.endian();
    let (verdict, reason) = if obj.endian != kernel_endian {
        (
            Verdict::Incompatible,
            Some(format!(
                "the object is {}, the kernel {}",
                endian_name(obj.endian),
                endian_name(kernel_endian)
            )),
        )
    } else if report.loads() {
        let poisoned = report
            .result
            .fixups
            .iter()
            .any(|f| f.status == Status::Poisoned);
        let v = match poisoned {
            true => Verdict::LoadsGuardedPoison,
            false => Verdict::Loads,
        };
        (v, None)
    } else if let Some(why) = other_architecture(obj_arch, kernel.id.arch.as_deref(), &failures) {
        (Verdict::Incompatible, Some(why))
    } else {
        let reason = report
            .result
            .failure
            .clone()
            .or_else(|| report.prepare_error.clone());
        (Verdict::Fails, reason)
    };
    let requires = match half {
        Some((needs, offers)) if verdict != Verdict::Incompatible => {
            Some(check_requires(needs, offers, &report))
        }
        _ => None,
    };
    let verdict = match &requires {
        Some(Requires::Checked(r)) => combined(verdict, &r.verdict),
        _ => verdict,
    };
    ObjectOutcome {
        object,
        verdict,
        report: Some(report),
        failures,
        reason,
        requires,
    }
}

/// The verdict of both halves ([`requires::combine`]); a clean load keeps the CO-RE half's
/// word on guarded poison.
fn combined(core: Verdict, requires: &ObjectVerdict) -> Verdict {
    match requires::combine(core != Verdict::Fails, requires) {
        ObjectVerdict::Loads => match core {
            Verdict::LoadsGuardedPoison => Verdict::LoadsGuardedPoison,
            _ => Verdict::Loads,
        },
        ObjectVerdict::LoadsWithout { .. } => Verdict::LoadsWithout,
        ObjectVerdict::Fails => Verdict::Fails,
        ObjectVerdict::Unknown => Verdict::Unknown,
    }
}
/// Why an object that fails on a kernel cannot run there at all: it was built for another
/// architecture (its own BTF's `struct pt_regs` is that architecture's) and what fails is its
/// reads of `struct pt_regs`, which each architecture lays out its own way. `None` when the
/// object's architecture is unknown, is the kernel's, or something else fails too.
fn other_architecture(
    obj_arch: Option<&str>,
    kernel_arch: Option<&str>,
    failures: &[FailedRelo],
) -> Option<String> {
    let (built, kernel) = (obj_arch?, kernel_arch?);
    let regs = |f: &FailedRelo| f.accessor.starts_with("struct pt_regs");
    if built == kernel || failures.is_empty() || !failures.iter().all(regs) {
        return None;
    }
    let first = &failures[0];
    let at = first
        .source
        .as_deref()
        .map_or(String::new(), |s| format!(" at {s}"));
    Some(format!(
        "the object is built for {built} (relocation #{} {}{at}), the kernel is {kernel}",
        first.index, first.accessor
    ))
}

/// The relocations that keep the object from loading: errors, then reachable poison.
fn failed_relocations(report: &TargetReport) -> Vec<FailedRelo> {
    let fixups = &report.result.fixups;
    let errors = fixups.iter().filter(|f| f.status == Status::Error);
    let poison = fixups.iter().filter(|f| f.reachable_poison());
    errors
        .chain(poison)
        .map(|f| FailedRelo {
            program: f.program.clone(),
            index: f.index,
            accessor: f.accessor.clone(),
            source: f.source.clone(),
            error: match f.status {
                Status::Error => Some(f.error.clone().unwrap_or_else(|| "error".into())),
                _ => None,
            },
        })
        .collect()
}
