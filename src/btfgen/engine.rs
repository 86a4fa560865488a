//! Kernels read, relocated, minimized and proven in parallel, one kernel per worker at a time.
//!
//! The same pattern as compat's streaming engine ([`crate::compat::engine`]): kernels come
//! from [`crate::compat::sources`] (through the BTF cache), a worker takes the next kernel,
//! relocates every object against it with the offline engine ([`dryrun::engine::run`]), and
//! hands a typed result to the caller's thread through a bounded channel. Here the worker also
//! keeps the kernel's BTF until it has minimized it and relocated every object again against
//! the minimized BTF ([`super::proof`]): the kernel is dropped before the worker takes the
//! next one, and what travels to the caller is the small minimized blob. Peak memory depends
//! on the number of workers, not on the number of kernels.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::btf::Endian;
use crate::compat::sources::{self, CacheUse, Kernel, KernelInput, Unlisted};
use crate::compat::{Cache, KernelId};
use crate::dryrun::engine::{self, Mode, Target, TargetReport};
use crate::reloc::{Object, Status};
use crate::source;

use super::collect::Marks;
use super::proof::{self, Mismatch};
use super::write;

/// How one object fared on one kernel (against the full BTF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectResult {
    /// Index into the objects given to [`run`].
    pub object: usize,
    pub relocations: usize,
    /// Every relocation resolved or was guarded: the object loads here.
    pub loads: bool,
    /// Why it does not: libbpf's reason, the byte order, or the failing relocations
    /// (`struct foo.bar: poisoned, reachable`).
    pub problems: Vec<String>,
}

/// What became of one kernel.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Minimized and proven: `btf` relocates every object exactly as the full BTF does.
    Minimized {
        btf: Vec<u8>,
        /// Size of the full raw BTF.
        full_size: usize,
        types_kept: u32,
        types_total: u32,
    },
    /// Some object cannot load on this kernel: nothing is written for it.
    ObjectsFail,
    /// The minimized BTF does not relocate some object as the full one does (a coretool bug;
    /// nothing is written).
    ProofFailed {
        /// Per object (index), its differences.
        mismatches: Vec<(usize, Vec<Mismatch>)>,
    },
    /// The kernel could not be read, relocated or minimized.
    Error { reason: String },
}

/// One kernel's result.
#[derive(Debug, Clone)]
pub struct KernelResult {
    /// Position in the expanded list (0-based).
    pub seq: usize,
    pub id: KernelId,
    pub cache: CacheUse,
    /// Per object (empty when the kernel could not be read).
    pub objects: Vec<ObjectResult>,
    pub outcome: Outcome,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads (at least 1).
    pub jobs: usize,
    pub cache: Option<Cache>,
}

/// Minimize every kernel of `inputs` for `objects`, calling `on_result` on the caller's
/// thread as each kernel is done (completion order; `seq` is the input order). Stops starting
/// kernels once `on_result` returns `false`.
pub fn run(
    objects: &[Object],
    inputs: &[Result<KernelInput, Unlisted>],
    opts: Options,
    mut on_result: impl FnMut(KernelResult) -> bool,
) {
    let jobs = opts.jobs.max(1).min(inputs.len().max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<KernelResult>(jobs);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            let cache = opts.cache.as_ref();
            scope.spawn(move || loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                let Some(input) = inputs.get(seq) else {
                    break;
                };
                if tx.send(one_kernel(objects, seq, input, cache)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for r in rx.iter() {
            if !on_result(r) {
                next.store(inputs.len(), Ordering::Relaxed);
                break;
            }
        }
        drop(rx);
    });
}

fn unreadable(seq: usize, path: &Path, reason: String) -> KernelResult {
    KernelResult {
        seq,
        id: KernelId {
            source: path.display().to_string(),
            ..KernelId::default()
        },
        cache: CacheUse::None,
        objects: Vec::new(),
        outcome: Outcome::Error { reason },
    }
}

fn one_kernel(
    objects: &[Object],
    seq: usize,
    input: &Result<KernelInput, Unlisted>,
    cache: Option<&Cache>,
) -> KernelResult {
    let kernel = match input {
        Ok(i) => match sources::read(i, cache) {
            Ok(k) => k,
            Err(why) => return unreadable(seq, &i.path, why),
        },
        Err(u) => return unreadable(seq, &u.path, u.reason.clone()),
    };
    let (objs, outcome) = minimize_kernel(objects, &kernel);
    KernelResult {
        seq,
        cache: kernel.cache,
        id: kernel.id,
        objects: objs,
        outcome,
    }
}

/// Relocate against the full BTF, judge each object, and, when all load, minimize and prove.
pub fn minimize_kernel(objects: &[Object], kernel: &Kernel) -> (Vec<ObjectResult>, Outcome) {
    let full = &kernel.btf;
    let mut reports = Vec::new();
    let mut results = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        let report = match relocate(obj, full) {
            Ok(r) => r,
            Err(why) => {
                let reason = format!("{}: {why}", kernel.id.source);
                return (results, Outcome::Error { reason });
            }
        };
        results.push(judge(i, obj, full.btf.endian(), &report));
        reports.push(report);
    }
    if results.iter().any(|r| !r.loads) {
        return (results, Outcome::ObjectsFail);
    }
    let mut marks = Marks::new();
    for report in &reports {
        for f in &report.result.fixups {
            if let Err(e) = marks.record(&full.btf, f) {
                let reason = format!("{}: {e}", kernel.id.source);
                return (results, Outcome::Error { reason });
            }
        }
    }
    match minimize_and_prove(objects, &reports, &marks, full) {
        Ok(outcome) => (results, outcome),
        Err(why) => (
            results,
            Outcome::Error {
                reason: format!("{}: {why}", kernel.id.source),
            },
        ),
    }
}

/// Relocate `obj` against `btf` offline, as a `--btf` target.
fn relocate(obj: &Object, btf: &source::BtfSource) -> Result<TargetReport, String> {
    let target = Target {
        btf,
        default_kernel: false,
    };
    engine::run(obj, &target, Mode::Offline, false).map_err(|e| e.to_string())
}

/// Write `marks` of `full` as a new BTF, relocate every object against it, and compare with
/// `reports` (the same objects against `full`).
pub(crate) fn minimize_and_prove(
    objects: &[Object],
    reports: &[TargetReport],
    marks: &Marks,
    full: &source::BtfSource,
) -> Result<Outcome, String> {
    let btf = write::minimize(&full.btf, marks).map_err(|e| e.to_string())?;
    let name = full.path.with_extension("min.btf");
    let min = source::from_bytes_limited(&name, btf.clone(), u64::MAX)
        .map_err(|e| format!("the minimized BTF does not parse back: {e}"))?;
    let mut mismatches = Vec::new();
    for (i, (obj, report)) in objects.iter().zip(reports).enumerate() {
        let again = relocate(obj, &min)
            .map_err(|e| format!("relocating against the minimized BTF: {e}"))?;
        let renumber = |v: u64| u32::try_from(v).map_or(u64::MAX, |id| marks.new_id(id) as u64);
        let diff = proof::compare(report, &again, &renumber);
        if !diff.is_empty() {
            mismatches.push((i, diff));
        }
    }
    if !mismatches.is_empty() {
        return Ok(Outcome::ProofFailed { mismatches });
    }
    Ok(Outcome::Minimized {
        full_size: full.btf.raw_size(),
        types_kept: marks.types.len() as u32,
        types_total: full.btf.type_count().saturating_sub(1),
        btf,
    })
}

/// Whether the object loads on this kernel, and if not, why.
fn judge(object: usize, obj: &Object, kernel_endian: Endian, r: &TargetReport) -> ObjectResult {
    let mut problems = Vec::new();
    if obj.endian != kernel_endian {
        problems.push(format!(
            "the object is {}, the kernel {}",
            obj.endian.name(),
            kernel_endian.name()
        ));
    }
    if let Some(why) = r.refused.as_ref().filter(|_| problems.is_empty()) {
        problems.push(why.clone());
    }
    for f in &r.result.fixups {
        if f.status == Status::Error {
            let why = f.error.clone().unwrap_or_else(|| "error".into());
            problems.push(format!(
                "{} relo #{} {}: {why}",
                f.program, f.index, f.accessor
            ));
        } else if f.reachable_poison() {
            problems.push(format!(
                "{} relo #{} {}: no match, and the poisoned instruction is reachable",
                f.program, f.index, f.accessor
            ));
        }
    }
    if let Some(why) = r.result.failure.as_ref().or(r.prepare_error.as_ref()) {
        if problems.is_empty() {
            problems.push(why.clone());
        }
    }
    ObjectResult {
        object,
        relocations: r.result.fixups.len(),
        loads: problems.is_empty() && r.loads(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    fn setup() -> (Vec<Object>, source::BtfSource, Vec<TargetReport>, Marks) {
        let path = fixture("core_all_kinds.bpf.o");
        let obj = Object::parse(&path, std::fs::read(&path).unwrap()).unwrap();
        let full = source::load(Some(&fixture("core_all_kinds.btf")), None).unwrap();
        let report = relocate(&obj, &full).unwrap();
        let mut marks = Marks::new();
        for f in &report.result.fixups {
            marks.record(&full.btf, f).unwrap();
        }
        (vec![obj], full, vec![report], marks)
    }

    #[test]
    fn the_marks_relocate_every_object_as_the_full_btf() {
        let (objects, full, reports, marks) = setup();
        let out = minimize_and_prove(&objects, &reports, &marks, &full).unwrap();
        assert!(matches!(out, Outcome::Minimized { .. }), "{out:?}");
    }

    /// The proof fails when the minimized BTF lacks what a relocation needs: a member
    /// dropped makes its field relocation poisoned (or find another member) there.
    #[test]
    fn a_missing_member_fails_the_proof() {
        let (objects, full, reports, mut marks) = setup();
        let member = *marks.members.iter().min().unwrap();
        marks.members.remove(&member);
        let out = minimize_and_prove(&objects, &reports, &marks, &full).unwrap();
        let Outcome::ProofFailed { mismatches } = out else {
            panic!("the proof passed without member {member:?}: {out:?}");
        };
        assert!(!mismatches[0].1.is_empty());
    }

    /// An enum whose enumerators are all dropped is a different enum: caught as well.
    #[test]
    fn a_missing_type_fails_the_proof() {
        let (objects, full, reports, mut marks) = setup();
        let enum_id = *marks
            .types
            .iter()
            .find(|&&id| full.btf.type_by_id(id).unwrap().is_any_enum())
            .unwrap();
        marks.types.remove(&enum_id);
        let out = minimize_and_prove(&objects, &reports, &marks, &full).unwrap();
        assert!(matches!(out, Outcome::ProofFailed { .. }), "{out:?}");
    }
}
