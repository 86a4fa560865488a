//! Kernels read, relocated, minimized and proven in parallel, one kernel per worker at a time.
//!
//! The same pattern as compat's streaming engine ([`crate::compat::engine`]): kernels come
//! from [`crate::compat::sources`] (through the BTF cache), a worker takes the next kernel,
//! relocates every object against it with the offline engine ([`crate::dryrun::engine::run`]), and
//! hands a typed result to the caller's thread through a bounded channel. Here the worker also
//! keeps the kernel's BTF until it has minimized it and relocated every object again against
//! the minimized BTF ([`super::proof`]): the kernel is dropped before the worker takes the
//! next one, and what travels to the caller is the small minimized blob. Peak memory depends
//! on the number of workers, not on the number of kernels.

use std::path::Path;

use crate::btf::{Btf, Endian};
use crate::compat::sources::{self, CacheUse, Kernel, KernelInput, Unlisted};
use crate::compat::{Cache, KernelId};
use crate::dryrun::engine::{self, Target, TargetReport};
use crate::dryrun::offline::{OfflineKernel, OfflineTarget};
use crate::libbpf::object::OpenRefusal;
use crate::reloc::{cands, Object, Status};
use crate::source;

use super::collect::Marks;
use super::modules::{self, ModuleBtf};
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
        /// The modules' parts, split BTF on `btf`, for the modules a relocation matched in.
        modules: Vec<ModuleBtf>,
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
    on_result: impl FnMut(KernelResult) -> bool,
) {
    let cache = opts.cache.as_ref();
    let prepared = Objects::prepare(objects);
    crate::compat::engine::stream(
        inputs.len(),
        opts.jobs,
        |seq| one_kernel(&prepared, seq, &inputs[seq], cache),
        on_result,
    );
}

/// What depends on the objects only, worked out once for the whole fleet: whether libbpf
/// opens each one (the first step of every relocation, twice per kernel otherwise), and the
/// candidate names every kernel indexes.
pub struct Objects<'o> {
    objects: &'o [Object],
    opened: Vec<Result<(), OpenRefusal>>,
    wanted: Vec<Vec<u8>>,
}

impl<'o> Objects<'o> {
    pub fn prepare(objects: &'o [Object]) -> Self {
        Objects {
            objects,
            opened: objects.iter().map(engine::open_check).collect(),
            wanted: cands::wanted_names_of(objects),
        }
    }
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
    objects: &Objects<'_>,
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

/// The module BTFs of one kernel, looked for and read on the first need.
struct Modules<'k> {
    kernel: &'k KernelId,
    read: Option<Vec<ModuleBtf>>,
}

impl Modules<'_> {
    fn get(&mut self) -> &[ModuleBtf] {
        // A module that cannot be read or has no BTF is left out, as a module libbpf cannot
        // load would be.
        let k = self.kernel;
        self.read.get_or_insert_with(|| {
            modules::find(Path::new(&k.source), k.release.as_deref())
                .iter()
                .filter_map(|f| modules::read(f).ok().flatten())
                .collect()
        })
    }
}

/// Relocate against the full BTF (and its modules where vmlinux has no candidate), judge
/// each object, and, when all load, minimize and prove.
pub fn minimize_kernel(prepared: &Objects<'_>, kernel: &Kernel) -> (Vec<ObjectResult>, Outcome) {
    let objects = prepared.objects;
    let full = &kernel.btf;
    let fail = |why: String| Outcome::Error {
        reason: format!("{}: {why}", kernel.id.source),
    };
    let mut mods = Modules {
        kernel: &kernel.id,
        read: None,
    };
    // Only a kernel with a module tree is asked whether an object needs it.
    let module_tree =
        !modules::roots(Path::new(&kernel.id.source), kernel.id.release.as_deref()).is_empty();
    let mut reports = Vec::new();
    let mut results = Vec::new();
    // The kernel's BTF goes into libbpf once, its candidates indexed once, for every object.
    let offline_target = OfflineTarget {
        btf: full,
        running_kernel: false,
    };
    let loaded = match OfflineKernel::load(&offline_target, &prepared.wanted) {
        Ok(p) => p,
        Err(e) => return (results, fail(e.to_string())),
    };
    for (i, obj) in objects.iter().enumerate() {
        let mut report = match relocate_on(obj, full, &loaded, &prepared.opened[i]) {
            Ok(r) => r,
            Err(why) => return (results, fail(why)),
        };
        if module_tree && modules::needs_modules(obj, &full.btf) && !mods.get().is_empty() {
            report = match modules::relocate(obj, full, mods.get(), &report) {
                Ok(r) => r,
                Err(why) => return (results, fail(why)),
            };
        }
        results.push(judge(i, obj, full.btf.endian(), &report));
        reports.push(report);
    }
    if results.iter().any(|r| !r.loads) {
        return (results, Outcome::ObjectsFail);
    }
    let used: Vec<ModuleBtf> = match reports.iter().any(modules::uses_modules) {
        true => mods.get().to_vec(),
        false => Vec::new(),
    };
    match mark(&reports, full, &used)
        .and_then(|marks| minimize_and_prove(prepared, &reports, &marks, full))
    {
        Ok(outcome) => (results, outcome),
        Err(why) => (results, fail(why)),
    }
}

/// The marks of vmlinux and of each module a relocation matched in.
pub(crate) struct KernelMarks {
    pub vmlinux: Marks,
    /// Per module: its BTF (split on vmlinux), its raw bytes' name, its marks.
    pub modules: Vec<(String, Btf, Marks)>,
}

impl KernelMarks {
    /// A full-BTF type id's minimized id, in vmlinux or the named module.
    fn new_id(&self, btf: &str, id: u64) -> u64 {
        let Ok(id) = u32::try_from(id) else {
            return u64::MAX;
        };
        match self.modules.iter().find(|(n, ..)| n == btf) {
            Some((_, b, m)) if id >= b.first_id() => match m.new_id(id) {
                0 => 0,
                n => (self.vmlinux.types.len() as u32 + n) as u64,
            },
            _ => self.vmlinux.new_id(id) as u64,
        }
    }
}

fn mark(
    reports: &[TargetReport],
    full: &source::BtfSource,
    used: &[ModuleBtf],
) -> Result<KernelMarks, String> {
    let mut marks = KernelMarks {
        vmlinux: Marks::new(),
        modules: Vec::new(),
    };
    for f in reports.iter().flat_map(|r| &r.result.fixups) {
        let in_btf = f.resolved.as_ref().map_or("vmlinux", |r| r.btf.as_str());
        if in_btf == "vmlinux" {
            marks
                .vmlinux
                .record(&full.btf, f)
                .map_err(|e| e.to_string())?;
            continue;
        }
        if !marks.modules.iter().any(|(n, ..)| n == in_btf) {
            let m = used
                .iter()
                .find(|m| m.name == in_btf)
                .ok_or_else(|| format!("no module {in_btf}"))?;
            let base = Btf::parse(full.btf.raw_bytes()).map_err(|e| e.to_string())?;
            let btf =
                Btf::parse_split(&m.raw, base).map_err(|e| format!("module {in_btf}: {e}"))?;
            marks.modules.push((m.name.clone(), btf, Marks::new()));
        }
        let (_, btf, m) = marks
            .modules
            .iter_mut()
            .find(|(n, ..)| n == in_btf)
            .expect("just added");
        m.record(btf, f).map_err(|e| e.to_string())?;
    }
    let KernelMarks { vmlinux, modules } = &mut marks;
    for (_, btf, m) in modules.iter_mut() {
        m.split_off_base(btf.first_id(), vmlinux);
    }
    // (The walk through a module's split BTF already followed its references into vmlinux:
    // what those vmlinux types need is among what moved.)
    Ok(marks)
}

/// Relocate `obj` offline against `btf`, already loaded into libbpf as `loaded`, as a `--btf`
/// target; `opened` is the object's [`engine::open_check`].
fn relocate_on(
    obj: &Object,
    btf: &source::BtfSource,
    loaded: &OfflineKernel<'_>,
    opened: &Result<(), OpenRefusal>,
) -> Result<TargetReport, String> {
    let target = Target {
        btf,
        default_kernel: false,
    };
    engine::run_offline_opened(obj, &target, loaded, opened).map_err(|e| e.to_string())
}

/// Write the marks of `full` (and its modules) as new BTF, relocate every object against it,
/// and compare with `reports` (the same objects against `full`).
pub(crate) fn minimize_and_prove(
    prepared: &Objects<'_>,
    reports: &[TargetReport],
    marks: &KernelMarks,
    full: &source::BtfSource,
) -> Result<Outcome, String> {
    let btf = write::minimize(&full.btf, &marks.vmlinux).map_err(|e| e.to_string())?;
    let name = full.path.with_extension("min.btf");
    let min = source::from_bytes_limited(&name, btf.clone(), u64::MAX)
        .map_err(|e| format!("the minimized BTF does not parse back: {e}"))?;
    let mut min_modules = Vec::new();
    if !marks.modules.is_empty() {
        let base = std::rc::Rc::new(
            crate::libbpf::LibbpfBtf::new(&btf).map_err(|e| format!("the minimized BTF: {e}"))?,
        );
        for (name, mbtf, m) in &marks.modules {
            let raw = write::minimize_split(mbtf, m, &marks.vmlinux, std::rc::Rc::clone(&base))
                .map_err(|e| format!("module {name}: {e}"))?;
            min_modules.push(ModuleBtf {
                name: name.clone(),
                raw,
            });
        }
    }
    // The minimized BTF goes into libbpf once for every object, as the full one did.
    let min_target = OfflineTarget {
        btf: &min,
        running_kernel: false,
    };
    let loaded = OfflineKernel::load(&min_target, &prepared.wanted)
        .map_err(|e| format!("the minimized BTF: {e}"))?;
    let mut mismatches = Vec::new();
    for (i, (obj, report)) in prepared.objects.iter().zip(reports).enumerate() {
        let mut again = relocate_on(obj, &min, &loaded, &prepared.opened[i])
            .map_err(|e| format!("relocating against the minimized BTF: {e}"))?;
        if modules::uses_modules(report) {
            again = modules::relocate(obj, &min, &min_modules, &again)
                .map_err(|e| format!("relocating against the minimized BTF: {e}"))?;
        }
        let renumber = |btf: &str, v: u64| marks.new_id(btf, v);
        let diff = proof::compare(report, &again, &renumber);
        if !diff.is_empty() {
            mismatches.push((i, diff));
        }
    }
    if !mismatches.is_empty() {
        return Ok(Outcome::ProofFailed { mismatches });
    }
    let kept = marks.vmlinux.types.len()
        + marks
            .modules
            .iter()
            .map(|(_, _, m)| m.types.len())
            .sum::<usize>();
    Ok(Outcome::Minimized {
        full_size: full.btf.raw_size(),
        types_kept: kept as u32,
        types_total: full.btf.type_count().saturating_sub(1),
        btf,
        modules: min_modules,
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

    fn setup() -> (
        Vec<Object>,
        source::BtfSource,
        Vec<TargetReport>,
        KernelMarks,
    ) {
        let path = fixture("core_all_kinds.bpf.o");
        let obj = Object::parse(&path, std::fs::read(&path).unwrap()).unwrap();
        let full = source::load(Some(&fixture("core_all_kinds.btf")), None).unwrap();
        let target = Target {
            btf: &full,
            default_kernel: false,
        };
        let report = engine::run(&obj, &target, engine::Mode::Offline, false).unwrap();
        let marks = mark(std::slice::from_ref(&report), &full, &[]).unwrap();
        (vec![obj], full, vec![report], marks)
    }

    #[test]
    fn the_marks_relocate_every_object_as_the_full_btf() {
        let (objects, full, reports, marks) = setup();
        let out = minimize_and_prove(&Objects::prepare(&objects), &reports, &marks, &full).unwrap();
        assert!(matches!(out, Outcome::Minimized { .. }), "{out:?}");
    }

    /// The proof fails when the minimized BTF lacks what a relocation needs: a member
    /// dropped makes its field relocation poisoned (or find another member) there.
    #[test]
    fn a_missing_member_fails_the_proof() {
        let (objects, full, reports, mut marks) = setup();
        let member = *marks.vmlinux.members.iter().min().unwrap();
        marks.vmlinux.members.remove(&member);
        let out = minimize_and_prove(&Objects::prepare(&objects), &reports, &marks, &full).unwrap();
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
            .vmlinux
            .types
            .iter()
            .find(|&&id| full.btf.type_by_id(id).unwrap().is_any_enum())
            .unwrap();
        marks.vmlinux.types.remove(&enum_id);
        let out = minimize_and_prove(&Objects::prepare(&objects), &reports, &marks, &full).unwrap();
        assert!(matches!(out, Outcome::ProofFailed { .. }), "{out:?}");
    }
}
