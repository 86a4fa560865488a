//! The offline engine: libbpf's own relocation calculator ([`crate::libbpf::relo_core`]), with
//! no kernel and no privilege.
//!
//! What libbpf does around the calculator in `bpf_object__relocate_core` needs a loaded
//! `bpf_object` and the `bpf()` syscall, so this module does that part itself, derived from
//! libbpf v1.7's `bpf_object__relocate_core` and `bpf_core_resolve_relo`: it walks the
//! `.BTF.ext` records in the same order, finds candidate types as `bpf_core_find_cands` does
//! (vmlinux first, the running kernel's modules only when vmlinux has none), keeps the same
//! per-type candidate cache (which libbpf prunes as relocations go), and stops at the first
//! error as libbpf does. It returns the same typed [`Outcomes`] as the libbpf engine; libbpf's
//! own log lines are kept for `-v` and give the reason when libbpf refuses a relocation.

use std::collections::HashMap;
use std::ffi::CString;
use std::rc::Rc;

use crate::btf::Kind;
use crate::libbpf::relo_core::{self, Calculator, Candidates, Instruction, Patched, ReloRecord};
use crate::libbpf::{LibbpfBtf, PrintGuard};
use crate::reloc::cands::{self, CandidateIndex};
use crate::reloc::{CoreReloKind, Object, Outcome, Outcomes, Resolved};
use crate::source::BtfSource;

use super::log;

#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// libbpf refuses a BTF coretool's own parser took; `said` is libbpf's own last line.
    #[error("{what}: libbpf cannot parse its BTF: {}", explain(said.as_deref(), cause))]
    Btf {
        what: String,
        said: Option<String>,
        cause: std::io::Error,
    },
}

/// libbpf's words first, the errno after them.
fn explain(said: Option<&str>, cause: &std::io::Error) -> String {
    match said {
        Some(s) => format!(
            "{s} ({})",
            errstr(-cause.raw_os_error().unwrap_or(libc::EINVAL))
        ),
        None => cause.to_string(),
    }
}

fn libbpf_btf(
    raw: &[u8],
    base: Option<&Rc<LibbpfBtf>>,
    what: &str,
) -> Result<LibbpfBtf, OfflineError> {
    LibbpfBtf::new_explained(raw, base.map(Rc::clone)).map_err(|(e, said)| OfflineError::Btf {
        what: what.to_owned(),
        said,
        cause: std::io::Error::from_raw_os_error(e.errno().unwrap_or(libc::EINVAL)),
    })
}

/// One BTF to search for candidates, as libbpf holds it.
struct CandBtf {
    name: String,
    lib: Rc<LibbpfBtf>,
    /// The first type id of this BTF (split BTF continues its base's ids).
    start_id: u32,
}

/// A kernel prepared for relocating any number of objects against it: its BTF as libbpf
/// holds it (vmlinux, and for the running kernel its modules' split BTF, loaded on first
/// need as libbpf's `load_module_btfs`), and an index of its types by essential name, built
/// in one pass for the names the objects will ask about.
pub struct OfflineKernel<'a> {
    target: &'a BtfSource,
    vmlinux: CandBtf,
    modules: Modules,
    index: CandidateIndex,
}

/// Where a kernel's module BTFs come from.
enum Modules {
    /// None: a `--btf` target without modules.
    None,
    /// The running kernel's, from `/sys/kernel/btf`, loaded on first need as libbpf's
    /// `load_module_btfs`.
    Sysfs(std::cell::OnceCell<Vec<CandBtf>>),
    /// Given with the kernel (`btfgen`: the modules of an unpacked kernel package).
    Given(Vec<CandBtf>),
}

impl<'a> OfflineKernel<'a> {
    /// Load `target` into libbpf once and index the candidates for `wanted` essential names
    /// ([`crate::reloc::cands::wanted_names`] of every object to relocate; a name missing
    /// from it is still looked up, by a walk over every type as libbpf does).
    pub fn load(
        target: &OfflineTarget<'a>,
        wanted: &[Vec<u8>],
    ) -> Result<OfflineKernel<'a>, OfflineError> {
        let btf = target.btf;
        let lib = Rc::new(libbpf_btf(
            btf.btf.raw_bytes(),
            None,
            &btf.path.display().to_string(),
        )?);
        Ok(OfflineKernel {
            target: btf,
            vmlinux: CandBtf {
                name: "vmlinux".into(),
                lib,
                start_id: 1,
            },
            modules: match target.running_kernel {
                true => Modules::Sysfs(std::cell::OnceCell::new()),
                false => Modules::None,
            },
            index: CandidateIndex::build(&btf.btf, wanted),
        })
    }

    /// [`OfflineKernel::load`] with the kernel's module BTFs given (name, raw split BTF on
    /// this vmlinux): searched for candidates when vmlinux has none, as libbpf searches the
    /// running kernel's. A module BTF libbpf cannot parse is left out, as libbpf does.
    pub fn load_with_modules<'m>(
        target: &OfflineTarget<'a>,
        wanted: &[Vec<u8>],
        modules: impl IntoIterator<Item = (&'m str, &'m [u8])>,
    ) -> Result<OfflineKernel<'a>, OfflineError> {
        let mut kernel = Self::load(target, wanted)?;
        let start_id = kernel.vmlinux.lib.type_count();
        let given = modules
            .into_iter()
            .filter_map(|(name, raw)| {
                let lib = LibbpfBtf::new_split(raw, Rc::clone(&kernel.vmlinux.lib)).ok()?;
                Some(CandBtf {
                    name: name.to_owned(),
                    lib: Rc::new(lib),
                    start_id,
                })
            })
            .collect();
        kernel.modules = Modules::Given(given);
        Ok(kernel)
    }

    /// The running kernel's module BTFs, split on vmlinux (none for a `--btf` target).
    fn modules(&self) -> &[CandBtf] {
        let cell = match &self.modules {
            Modules::None => return &[],
            Modules::Given(m) => return m,
            Modules::Sysfs(cell) => cell,
        };
        cell.get_or_init(|| {
            let start_id = self.vmlinux.lib.type_count();
            sysfs_module_btfs()
                .into_iter()
                .filter_map(|(name, raw)| {
                    // A module BTF libbpf cannot parse is left out of the candidate search.
                    let lib = LibbpfBtf::new_split(&raw, Rc::clone(&self.vmlinux.lib)).ok()?;
                    Some(CandBtf {
                        name,
                        lib: Rc::new(lib),
                        start_id,
                    })
                })
                .collect()
        })
    }

    /// vmlinux's candidates for local type `local_id` of `obj`: from the index when it holds
    /// the name, else by libbpf's walk. Same ids, same order.
    fn vmlinux_cands(&self, obj: &Object, local: &LibbpfBtf, local_id: u32) -> Vec<u32> {
        let local_type = obj.btf.type_by_id(local_id);
        let name = local_type
            .as_ref()
            .and_then(|t| obj.btf.str_bytes_at(t.name_off()))
            .unwrap_or_default();
        let indexed = match local_type {
            Some(t) if !name.is_empty() => {
                self.index.get(cands::essential(name)).map(|ids| (t, ids))
            }
            _ => None,
        };
        let Some((local_t, ids)) = indexed else {
            return relo_core::add_candidates(
                local,
                local_id,
                &self.vmlinux.lib,
                self.vmlinux.start_id,
            );
        };
        let any_enum = |k| matches!(k, Kind::Enum | Kind::Enum64);
        let local_kind = local_t.kind();
        let targ = &self.target.btf;
        ids.iter()
            .copied()
            .filter(|&id| {
                targ.type_by_id(id).is_some_and(|t| {
                    let k = t.kind();
                    k == local_kind || (any_enum(k) && any_enum(local_kind))
                })
            })
            .collect()
    }

    /// `bpf_core_find_cands`: vmlinux first; modules only when vmlinux has none.
    fn find_cands(&self, obj: &Object, local: &LibbpfBtf, local_id: u32) -> Vec<(&CandBtf, u32)> {
        let mut out: Vec<(&CandBtf, u32)> = self
            .vmlinux_cands(obj, local, local_id)
            .into_iter()
            .map(|id| (&self.vmlinux, id))
            .collect();
        if out.is_empty() {
            for m in self.modules() {
                out.extend(
                    relo_core::add_candidates(local, local_id, &m.lib, m.start_id)
                        .into_iter()
                        .map(|id| (m, id)),
                );
            }
        }
        out
    }

    fn all(&self) -> impl Iterator<Item = &CandBtf> {
        let modules: &[CandBtf] = match &self.modules {
            Modules::None => &[],
            Modules::Given(m) => m,
            Modules::Sysfs(cell) => cell.get().map_or(&[], Vec::as_slice),
        };
        std::iter::once(&self.vmlinux).chain(modules)
    }
}

/// Module BTFs of the running kernel, by name. libbpf visits them in BTF object id order
/// (load order), which sysfs does not expose; name order is used, which only matters when two
/// modules both define a candidate.
fn sysfs_module_btfs() -> Vec<(String, Vec<u8>)> {
    let Ok(dir) = std::fs::read_dir("/sys/kernel/btf") else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "vmlinux" {
                return None;
            }
            Some((name, std::fs::read(e.path()).ok()?))
        })
        .collect();
    out.sort();
    out
}

/// libbpf's `errstr()` for the codes relocation returns.
fn errstr(err: i32) -> String {
    let name = match -err {
        libc::EINVAL => "EINVAL",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ERANGE => "ERANGE",
        libc::ENOMEM => "ENOMEM",
        libc::ESRCH => "ESRCH",
        libc::E2BIG => "E2BIG",
        libc::ENOENT => "ENOENT",
        _ => return err.to_string(),
    };
    format!("-{name}")
}

/// Where to relocate against: a `--btf` source (libbpf's `btf_custom_path`, no modules) or the
/// running kernel (vmlinux and module BTFs from sysfs).
pub struct OfflineTarget<'a> {
    pub btf: &'a BtfSource,
    pub running_kernel: bool,
}

/// What the offline engine found, and the lines libbpf's calculator printed on the way.
pub struct OfflineRun {
    pub outcomes: Outcomes,
    pub log: String,
}

/// Relocate `obj` against `target` as `bpf_object__relocate_core` would.
pub fn relocate(obj: &Object, target: &OfflineTarget<'_>) -> Result<OfflineRun, OfflineError> {
    let kernel = OfflineKernel::load(target, &cands::wanted_names(obj))?;
    relocate_on(obj, &kernel)
}

/// [`relocate`] against a kernel already loaded, for many objects on one kernel.
pub fn relocate_on(obj: &Object, kernel: &OfflineKernel<'_>) -> Result<OfflineRun, OfflineError> {
    let local = libbpf_btf(obj.btf.raw_bytes(), None, &obj.path.display().to_string())?;
    let capture = PrintGuard::capture();
    let mut run = OfflineRun {
        outcomes: Outcomes::default(),
        log: String::new(),
    };
    let Some(ext) = &obj.ext else {
        return Ok(run);
    };
    // Candidate lists live as long as the run, keyed by local type id, pruned by libbpf.
    let mut cache: HashMap<u32, Candidates<'_>> = HashMap::new();
    let mut programs: HashMap<&str, Vec<Instruction>> = HashMap::new();
    let mut calculator = Calculator::new();
    'sections: for sec in &ext.core_relos {
        for (i, rec) in sec.records.iter().enumerate() {
            let Some(relo) = obj
                .relocations()
                .find(|r| r.section == sec.sec_name && r.index == i)
            else {
                continue; // eliminated weak subprogram, or a program libbpf does not load
            };
            let prog = obj
                .program(&relo.program)
                .expect("relocations() has a program");
            let insns = programs.entry(prog.name.as_str()).or_insert_with(|| {
                prog.insns
                    .iter()
                    .map(|i| Instruction::new(i.code, i.dst, i.src, i.off, i.imm))
                    .collect()
            });
            let insn_idx = (relo.insn - prog.first_insn) as usize;
            let c_name = CString::new(prog.name.as_str()).unwrap_or_default();
            let record = ReloRecord {
                insn_off: rec.insn_off,
                type_id: rec.type_id,
                access_str_off: rec.access_str_off,
                kind: rec.kind,
            };
            let key = (prog.name.clone(), i as u32);
            let mut outcome = Outcome::default();
            // Stop as libbpf does, with its generic reason and the relocation's own.
            let stop = |outcome: Outcome, err: i32, run: &mut OfflineRun| {
                run.outcomes.relos.insert(key.clone(), outcome);
                run.outcomes.failure = Some(format!(
                    "failed to perform CO-RE relocations: {}",
                    errstr(err)
                ));
            };
            let cands = if rec.kind == CoreReloKind::TypeIdLocal {
                None
            } else {
                let local_type = obj.btf.type_by_id(rec.type_id);
                let local_name = local_type.as_ref().map_or("", |t| obj.btf.name_of(t));
                if local_name.is_empty() {
                    // bpf_core_find_cands refuses anonymous types: bpf_core_resolve_relo warns.
                    let kind = local_type.map_or("unknown", |t| t.kind().lower_name());
                    outcome.error = Some(format!(
                        "target candidate search failed for [{}] {kind} {local_name}: -22",
                        rec.type_id
                    ));
                    stop(outcome, -libc::EINVAL, &mut run);
                    break 'sections;
                }
                Some(cache.entry(rec.type_id).or_insert_with(|| {
                    Candidates::new(
                        kernel
                            .find_cands(obj, &local, rec.type_id)
                            .into_iter()
                            .map(|(b, id)| (&*b.lib, id)),
                    )
                }))
            };
            let calc = calculator.calc(&c_name, &record, i as u32, &local, cands);
            let said = capture.take();
            run.log.push_str(&said);
            let calc = match calc {
                Ok(c) => c,
                Err(err) => {
                    // libbpf refused: what it had worked out before (the local spec, the first
                    // matching candidate) is only in what it printed.
                    let records = log::parse(&said);
                    let said = log::outcomes(&records)
                        .relos
                        .remove(&key)
                        .unwrap_or_default();
                    outcome.local_spec = said.local_spec;
                    outcome.resolved = said.resolved;
                    outcome.error = Some(
                        log::relo_error(&records, &prog.name, i as u32)
                            .unwrap_or_else(|| format!("failed to relocate: {}", errstr(err))),
                    );
                    stop(outcome, err, &mut run);
                    break 'sections;
                }
            };
            outcome.local_spec = calc.local_spec.clone();
            outcome.resolved = calc.matched.as_ref().map(|m| Resolved {
                spec: m.spec.clone(),
                btf: kernel
                    .all()
                    .find(|b| m.is_in(&b.lib))
                    .map_or_else(|| "vmlinux".to_owned(), |b| b.name.clone()),
            });
            // An ld_imm64 is patched through its second half too.
            let in_range = prog
                .insns
                .get(insn_idx)
                .is_some_and(|i| !i.is_ldimm64() || insn_idx + 1 < prog.insns.len());
            if !in_range {
                outcome.error = Some(format!("failed to relocate: {}", errstr(-libc::EINVAL)));
                stop(outcome, -libc::EINVAL, &mut run);
                break 'sections;
            }
            let patched = relo_core::patch(&c_name, insns, insn_idx, &record, i as u32, &calc);
            let said = capture.take();
            let records = log::parse(&said);
            run.log.push_str(&said);
            match patched {
                Ok(Patched::Patches(p)) => {
                    outcome.patches = p.into_iter().map(|p| (insn_idx as u32, p)).collect()
                }
                Ok(Patched::Poisoned(at)) => outcome.poisoned = at,
                Err(err) => {
                    outcome.error = Some(
                        log::relo_error(&records, &prog.name, i as u32).unwrap_or_else(|| {
                            format!("failed to patch insn #{insn_idx}: {}", errstr(err))
                        }),
                    );
                    stop(outcome, err, &mut run);
                    break 'sections;
                }
            }
            // A patch libbpf applied with a complaint (a load/store of the wrong size, which
            // it poisons) is an error for the object all the same.
            outcome.error = log::relo_error(&records, &prog.name, i as u32);
            run.outcomes.relos.insert(key, outcome);
        }
    }
    run.log.push_str(&capture.take());
    Ok(run)
}
