//! Needs against offers: one [`Requirement`] per thing a program needs, each `ok`, `missing`
//! with the evidence, or `unknown` with what information was absent; a verdict per program
//! and per object. Pure.

use std::collections::BTreeMap;

use super::needs::{Extern, ExternKind, ObjectNeeds, ProgramNeeds};
use super::offers::{KernelOffers, Proto, SpilledSlotRead};
use super::sections::{AttachUse, TargetKind};
use crate::btf::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Missing,
    Unknown,
}

impl Status {
    /// The value `name` spells (as JSON records carry it).
    pub fn from_name(name: &str) -> Option<Status> {
        match name {
            "ok" => Some(Status::Ok),
            "missing" => Some(Status::Missing),
            "unknown" => Some(Status::Unknown),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Unknown => "unknown",
        }
    }
}

/// When a missing requirement bites: libbpf's open, the kernel's load, or the attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Load,
    Attach,
}

impl Stage {
    /// The value `name` spells (as JSON records carry it).
    pub fn from_name(name: &str) -> Option<Stage> {
        match name {
            "load" => Some(Stage::Load),
            "attach" => Some(Stage::Attach),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Stage::Load => "load",
            Stage::Attach => "attach",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReqKind {
    Section,
    ProgType,
    AttachType,
    AttachTarget,
    CtxArgs,
    Helper,
    Kfunc,
    Ksym,
    Kconfig,
    Map,
    GlobalData,
    License,
    BtfKind,
    /// BPF trampolines (fentry, fexit, fmod_ret, LSM) working on the running kernel.
    Trampoline,
    /// libbpf's open of the object (`bpf_object__open`): it refuses some objects outright.
    Open,
    /// The program's CO-RE relocations, computed offline by libbpf's calculator.
    Core,
    /// A verifier behaviour that differs between kernels and that the kernel's BTF tells.
    Verifier,
}

impl ReqKind {
    pub fn name(self) -> &'static str {
        match self {
            ReqKind::Section => "section",
            ReqKind::ProgType => "prog_type",
            ReqKind::AttachType => "attach_type",
            ReqKind::AttachTarget => "attach_target",
            ReqKind::CtxArgs => "ctx_args",
            ReqKind::Helper => "helper",
            ReqKind::Kfunc => "kfunc",
            ReqKind::Ksym => "ksym",
            ReqKind::Kconfig => "kconfig",
            ReqKind::Map => "map",
            ReqKind::GlobalData => "global_data",
            ReqKind::License => "license",
            ReqKind::BtfKind => "btf_kind",
            ReqKind::Open => "open",
            ReqKind::Trampoline => "trampoline",
            ReqKind::Core => "core",
            ReqKind::Verifier => "verifier",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub kind: ReqKind,
    pub name: String,
    pub status: Status,
    pub stage: Stage,
    /// Why: what was found, or not found, where.
    pub evidence: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Loads,
    Fails,
    Unknown,
}

impl Verdict {
    /// The value `name` spells (as JSON records carry it).
    pub fn from_name(name: &str) -> Option<Verdict> {
        match name {
            "loads" => Some(Verdict::Loads),
            "fails" => Some(Verdict::Fails),
            "unknown" => Some(Verdict::Unknown),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Loads => "loads",
            Verdict::Fails => "fails",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProgramVerdict {
    pub name: String,
    pub section: String,
    pub autoload: bool,
    pub prog_type: Option<&'static str>,
    pub attach_type: Option<&'static str>,
    pub target: Option<String>,
    pub verdict: Verdict,
    /// The first stage at which it fails (`None` unless it fails).
    pub fails_at: Option<Stage>,
    pub requirements: Vec<Requirement>,
}

/// The object's verdict: every autoloaded program loads, some do (the loader can turn the
/// others off with `bpf_program__set_autoload(false)` and their maps with
/// `bpf_map__set_autocreate(false)`), none does, or it cannot be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectVerdict {
    Loads,
    LoadsWithout {
        programs: Vec<String>,
        maps: Vec<String>,
    },
    Fails,
    Unknown,
}

impl ObjectVerdict {
    pub fn name(&self) -> &'static str {
        match self {
            ObjectVerdict::Loads => "loads",
            ObjectVerdict::LoadsWithout { .. } => "loads-without",
            ObjectVerdict::Fails => "fails",
            ObjectVerdict::Unknown => "unknown",
        }
    }
}

/// One object on one kernel.
#[derive(Debug, Clone)]
pub struct ObjectRequirements {
    pub kernel: String,
    pub programs: Vec<ProgramVerdict>,
    /// What the object as a whole needs: its maps (libbpf creates every map) and the BTF kinds
    /// its BTF carries.
    pub object: Vec<Requirement>,
    pub verdict: ObjectVerdict,
}

impl ObjectRequirements {
    /// True when some program libbpf loads by default cannot load.
    pub fn any_fails(&self) -> bool {
        self.programs
            .iter()
            .any(|p| p.autoload && p.verdict == Verdict::Fails)
    }
}

/// Helper names known from anywhere (the object's `enum bpf_func_id`, every kernel read):
/// a helper the kernel lacks is still named.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub helpers: BTreeMap<u32, String>,
}

impl Names {
    pub fn learn(&mut self, helpers: &BTreeMap<u32, String>) {
        for (k, v) in helpers {
            self.helpers.entry(*k).or_insert_with(|| v.clone());
        }
    }
}

/// `enum bpf_map_type` as of Linux 6.18, to name a map type a kernel lacks.
const MAP_TYPES: &[&str] = &[
    "UNSPEC",
    "HASH",
    "ARRAY",
    "PROG_ARRAY",
    "PERF_EVENT_ARRAY",
    "PERCPU_HASH",
    "PERCPU_ARRAY",
    "STACK_TRACE",
    "CGROUP_ARRAY",
    "LRU_HASH",
    "LRU_PERCPU_HASH",
    "LPM_TRIE",
    "ARRAY_OF_MAPS",
    "HASH_OF_MAPS",
    "DEVMAP",
    "SOCKMAP",
    "CPUMAP",
    "XSKMAP",
    "SOCKHASH",
    "CGROUP_STORAGE",
    "REUSEPORT_SOCKARRAY",
    "PERCPU_CGROUP_STORAGE",
    "QUEUE",
    "STACK",
    "SK_STORAGE",
    "DEVMAP_HASH",
    "STRUCT_OPS",
    "RINGBUF",
    "INODE_STORAGE",
    "TASK_STORAGE",
    "BLOOM_FILTER",
    "USER_RINGBUF",
    "CGRP_STORAGE",
    "ARENA",
];

fn map_type_name(offers: &KernelOffers, t: u32) -> String {
    offers
        .map_types
        .get(&t)
        .cloned()
        .unwrap_or_else(|| match MAP_TYPES.get(t as usize) {
            Some(n) => format!("BPF_MAP_TYPE_{n}"),
            None => format!("map type {t}"),
        })
}

fn req(
    kind: ReqKind,
    name: impl Into<String>,
    status: Status,
    stage: Stage,
    evidence: String,
) -> Requirement {
    Requirement {
        kind,
        name: name.into(),
        status,
        stage,
        evidence,
    }
}

/// Licenses the kernel counts as GPL-compatible (`license_is_gpl_compatible`).
fn gpl_compatible(l: &str) -> bool {
    matches!(
        l,
        "GPL"
            | "GPL v2"
            | "GPL and additional rights"
            | "Dual BSD/GPL"
            | "Dual MIT/GPL"
            | "Dual MPL/GPL"
    )
}

/// Check `needs` against `offers`.
pub fn check_needs(
    needs: &ObjectNeeds,
    offers: &KernelOffers,
    names: &Names,
) -> ObjectRequirements {
    check_needs_with(needs, offers, names, &BTreeMap::new())
}

/// [`check_needs`], with more requirements per program (by program name) weighed into the
/// verdicts: the CO-RE half ([`super::core::requirements`]).
pub fn check_needs_with(
    needs: &ObjectNeeds,
    offers: &KernelOffers,
    names: &Names,
    extra: &BTreeMap<String, Vec<Requirement>>,
) -> ObjectRequirements {
    let mut object = Vec::new();
    let mut missing_maps = Vec::new();
    let mut map_reqs = BTreeMap::new();
    for m in &needs.maps {
        let r = map_req(m.map_type, &m.name, offers);
        if r.status == Status::Missing {
            missing_maps.push(m.name.clone());
        }
        map_reqs.insert(m.name.clone(), r.clone());
        object.push(r);
    }
    for k in &needs.btf_kinds {
        object.push(btf_kind_req(*k, offers));
    }
    let programs: Vec<ProgramVerdict> = needs
        .programs
        .iter()
        .map(|p| check_program(p, needs, offers, names, &map_reqs, extra.get(&p.name)))
        .collect();
    let auto: Vec<&ProgramVerdict> = programs.iter().filter(|p| p.autoload).collect();
    let failing: Vec<String> = auto
        .iter()
        .filter(|p| p.verdict == Verdict::Fails)
        .map(|p| p.name.clone())
        .collect();
    let any_unknown = auto.iter().any(|p| p.verdict == Verdict::Unknown);
    let verdict = if !failing.is_empty() && failing.len() == auto.len() {
        ObjectVerdict::Fails
    } else if any_unknown {
        ObjectVerdict::Unknown
    } else if failing.is_empty() && missing_maps.is_empty() {
        ObjectVerdict::Loads
    } else {
        ObjectVerdict::LoadsWithout {
            programs: failing,
            maps: missing_maps,
        }
    };
    ObjectRequirements {
        kernel: offers.name.clone(),
        programs,
        object,
        verdict,
    }
}

fn map_req(t: u32, name: &str, offers: &KernelOffers) -> Requirement {
    let tname = map_type_name(offers, t);
    let (status, evidence) = match offers.map_types.get(&t) {
        _ if offers.map_types.is_empty() => no_enum("bpf_map_type"),
        Some(n) => (Status::Ok, format!("{n} = {t} in enum bpf_map_type")),
        None => (
            Status::Missing,
            format!(
                "no {tname} ({t}) in enum bpf_map_type{}",
                last(
                    &offers
                        .map_types
                        .iter()
                        .map(|(k, v)| (*k, v.clone()))
                        .collect()
                )
            ),
        ),
    };
    req(
        ReqKind::Map,
        format!("{name}: {tname}"),
        status,
        Stage::Load,
        evidence,
    )
}

/// A BTF without one of the BPF enums is no vmlinux BTF (a module's, a program's): it cannot
/// say what the kernel has.
fn no_enum(name: &str) -> (Status, String) {
    (
        Status::Unknown,
        format!("the BTF has no enum {name} (not a vmlinux BTF?): it cannot tell"),
    )
}

fn last(m: &BTreeMap<u32, String>) -> String {
    match m.iter().next_back() {
        Some((k, v)) => format!(" (its last: {v} = {k})"),
        None => " (the kernel's BTF has no such enum)".into(),
    }
}

fn btf_kind_req(k: Kind, offers: &KernelOffers) -> Requirement {
    let name = format!("BTF_KIND_{}", k.upper_name());
    let evidence = if offers.kinds.contains(&k) {
        format!("the kernel's BTF uses {name}")
    } else {
        match k {
            Kind::Var | Kind::Datasec => {
                "libbpf sanitizes it (VAR → INT, DATASEC → STRUCT) for a kernel without it".into()
            }
            Kind::Func | Kind::FuncProto => {
                "libbpf sanitizes it (FUNC → TYPEDEF, FUNC_PROTO → ENUM) for a kernel without it"
                    .into()
            }
            Kind::Float => {
                "libbpf sanitizes it (FLOAT → STRUCT of the same size) for a kernel without it"
                    .into()
            }
            Kind::DeclTag => "libbpf sanitizes it (DECL_TAG → INT) for a kernel without it".into(),
            Kind::TypeTag => {
                "libbpf sanitizes it (TYPE_TAG → CONST) for a kernel without it".into()
            }
            Kind::Enum64 => {
                "libbpf sanitizes it (ENUM64 → UNION or ENUM) for a kernel without it".into()
            }
            _ => format!("{name} is one of the kinds every BTF-capable kernel reads"),
        }
    };
    req(ReqKind::BtfKind, name, Status::Ok, Stage::Load, evidence)
}

fn check_program(
    p: &ProgramNeeds,
    needs: &ObjectNeeds,
    offers: &KernelOffers,
    names: &Names,
    map_reqs: &BTreeMap<String, Requirement>,
    extra: Option<&Vec<Requirement>>,
) -> ProgramVerdict {
    let mut reqs = Vec::new();
    let sec = p.section.strip_prefix('?').unwrap_or(&p.section);
    match p.def {
        None => reqs.push(req(
            ReqKind::Section,
            sec,
            Status::Missing,
            Stage::Load,
            format!("libbpf knows no SEC(\"{sec}\"): it cannot tell the program type"),
        )),
        Some(def) => {
            let (st, ev) = if offers.prog_types.is_empty() {
                no_enum("bpf_prog_type")
            } else if offers.prog_types.contains(def.prog_type) {
                (
                    Status::Ok,
                    format!("{} in enum bpf_prog_type", def.prog_type),
                )
            } else {
                (
                    Status::Missing,
                    format!("no {} in enum bpf_prog_type", def.prog_type),
                )
            };
            reqs.push(req(ReqKind::ProgType, def.prog_type, st, Stage::Load, ev));
            if let Some(at) = def.attach_type {
                let stage = match def.attach_use {
                    AttachUse::Load => Stage::Load,
                    _ => Stage::Attach,
                };
                let (st, ev) = if offers.attach_types.is_empty() {
                    no_enum("bpf_attach_type")
                } else if offers.attach_types.contains(at) {
                    (Status::Ok, format!("{at} in enum bpf_attach_type"))
                } else {
                    (Status::Missing, format!("no {at} in enum bpf_attach_type"))
                };
                reqs.push(req(ReqKind::AttachType, at, st, stage, ev));
            }
            target_reqs(p, def.target, offers, needs, &mut reqs);
        }
    }
    for &h in &p.helpers {
        let name = offers
            .helpers
            .get(&h)
            .or_else(|| names.helpers.get(&h))
            .or_else(|| needs.helper_names.get(&h))
            .cloned()
            .unwrap_or_else(|| format!("helper #{h}"));
        let enumerator = match name.strip_prefix("bpf_") {
            Some(n) => format!("BPF_FUNC_{n}"),
            None => format!("value {h}"),
        };
        let (st, ev) = if offers.helpers.is_empty() {
            no_enum("bpf_func_id")
        } else if offers.helpers.contains_key(&h) {
            (
                Status::Ok,
                format!("{enumerator} = {h} in enum bpf_func_id"),
            )
        } else {
            (
                Status::Missing,
                format!(
                    "no {enumerator}{} in enum bpf_func_id{}",
                    if enumerator.starts_with("value") {
                        String::new()
                    } else {
                        format!(" ({h})")
                    },
                    last(
                        &offers
                            .helpers
                            .iter()
                            .map(|(k, v)| (
                                *k,
                                format!("BPF_FUNC_{}", v.trim_start_matches("bpf_"))
                            ))
                            .collect()
                    )
                ),
            )
        };
        reqs.push(req(ReqKind::Helper, name, st, Stage::Load, ev));
    }
    for e in &p.externs {
        reqs.push(extern_req(e, offers));
    }
    // Externs other programs use: libbpf resolves them before loading this one too.
    for e in needs.externs.iter().filter(|e| !p.externs.contains(*e)) {
        if let Some(r) = unresolved_elsewhere(e, offers) {
            reqs.push(r);
        }
    }
    for m in &p.maps {
        if let Some(r) = map_reqs.get(m) {
            reqs.push(r.clone());
        }
    }
    for d in &p.global_data {
        let (st, ev) = if offers.enumerators.contains("BPF_F_MMAPABLE") {
            (
                Status::Ok,
                "BPF_F_MMAPABLE in the kernel's BTF: global data maps (5.5+)".to_owned(),
            )
        } else {
            (
                Status::Unknown,
                "no BPF_F_MMAPABLE in the kernel's BTF: global data (5.2+) cannot be told from BTF"
                    .to_owned(),
            )
        };
        reqs.push(req(ReqKind::GlobalData, d, st, Stage::Load, ev));
    }
    match &needs.license {
        Some(l) if gpl_compatible(l) => reqs.push(req(
            ReqKind::License,
            l,
            Status::Ok,
            Stage::Load,
            "GPL-compatible: GPL-only helpers and kfuncs are allowed".into(),
        )),
        other => {
            let l = other.clone().unwrap_or_else(|| "(none)".into());
            let (st, ev) = if p.helpers.is_empty() && p.externs.is_empty() {
                (
                    Status::Ok,
                    "not GPL-compatible, and the program calls no helper or kfunc".to_owned(),
                )
            } else {
                (
                    Status::Unknown,
                    "not GPL-compatible: the kernel refuses GPL-only helpers and kfuncs, and BTF does not say which are".to_owned(),
                )
            };
            reqs.push(req(ReqKind::License, l, st, Stage::Load, ev));
        }
    }
    reqs.extend(extra.into_iter().flatten().cloned());
    let fails_at = reqs
        .iter()
        .filter(|r| r.status == Status::Missing)
        .map(|r| r.stage)
        .min();
    let verdict = if fails_at.is_some() {
        Verdict::Fails
    } else if reqs.iter().any(|r| r.status == Status::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Loads
    };
    ProgramVerdict {
        name: p.name.clone(),
        section: p.section.clone(),
        autoload: p.autoload,
        prog_type: p.def.map(|d| d.prog_type),
        attach_type: p.def.and_then(|d| d.attach_type),
        target: p.target.clone(),
        verdict,
        fails_at,
        requirements: reqs,
    }
}

/// An extern of the object that this program does not use, when libbpf cannot resolve it on
/// this kernel (non-weak, absent): the whole object's load fails there.
fn unresolved_elsewhere(e: &Extern, offers: &KernelOffers) -> Option<Requirement> {
    if e.weak {
        return None;
    }
    let r = extern_req(e, offers);
    // Only existence matters for resolving: a FUNC that exists resolves, kfunc or not.
    let resolves = match &e.kind {
        ExternKind::Kfunc => offers.funcs.contains_key(&e.name),
        _ => r.status != Status::Missing,
    };
    (!resolves).then(|| Requirement {
        evidence: format!(
            "used by another program of the object, and libbpf resolves every extern before loading any program: {}",
            r.evidence
        ),
        ..r
    })
}

fn extern_req(e: &Extern, offers: &KernelOffers) -> Requirement {
    let weak_ok = |what: &str| {
        (
            Status::Ok,
            format!("{what}; it is __weak: libbpf resolves it to 0"),
        )
    };
    match &e.kind {
        ExternKind::Kfunc => {
            let (set, from) = match (&offers.kfuncs, &offers.btf_ids_kfuncs) {
                (Some(s), _) => (Some(s), "tagged bpf_kfunc"),
                (None, Some(s)) => (Some(s), "in a BTF_SET8 of the vmlinux's .BTF_ids"),
                (None, None) => (None, ""),
            };
            let (st, ev) = match (offers.funcs.contains_key(&e.name), set) {
                (false, _) if e.weak => (
                    Status::Unknown,
                    format!(
                        "no FUNC {} in the kernel's BTF{}; it is __weak, so libbpf resolves it to 0, and the call fails to verify unless a bpf_ksym_exists() check makes it dead code",
                        e.name,
                        offers.modules_note()
                    ),
                ),
                (false, _) => (
                    Status::Missing,
                    format!(
                        "no FUNC {} in the kernel's BTF{}: libbpf cannot resolve the kfunc",
                        e.name,
                        offers.modules_note()
                    ),
                ),
                (true, Some(set)) if set.contains(&e.name) => (
                    offers.found(&e.name),
                    format!("FUNC {} {from} in {}", e.name, offers.btf_of(&e.name)),
                ),
                // A module's FUNC, where only vmlinux's .BTF_ids were read.
                (true, Some(_))
                    if offers.kfuncs.is_none() && offers.in_module.contains_key(&e.name) =>
                {
                    (
                        Status::Unknown,
                        format!(
                            "FUNC {} in {}, which has no bpf_kfunc decl tags, and the module's .BTF_ids were not read to tell whether it is a kfunc",
                            e.name,
                            offers.btf_of(&e.name)
                        ),
                    )
                }
                (true, Some(_)) if e.weak => weak_ok(&format!("FUNC {} is not a kfunc", e.name)),
                (true, Some(_)) => (
                    Status::Missing,
                    format!(
                        "FUNC {} exists but is not a kfunc (not {from}): the verifier refuses the call",
                        e.name
                    ),
                ),
                (true, None) => (
                    Status::Unknown,
                    format!(
                        "FUNC {} exists, but this BTF has no bpf_kfunc decl tags and no vmlinux .BTF_ids came with it to tell whether it is a kfunc",
                        e.name
                    ),
                ),
            };
            req(ReqKind::Kfunc, &e.name, st, Stage::Load, ev)
        }
        ExternKind::Ksym { typed: true } => {
            let (st, ev) = if offers.vars.contains(&e.name) {
                (Status::Ok, format!("VAR {} in the kernel's BTF", e.name))
            } else if e.weak {
                weak_ok(&format!("no VAR {} in the kernel's BTF", e.name))
            } else {
                (
                    Status::Missing,
                    format!(
                        "no VAR {} in the kernel's BTF: libbpf cannot resolve the typed ksym",
                        e.name
                    ),
                )
            };
            req(ReqKind::Ksym, &e.name, st, Stage::Load, ev)
        }
        ExternKind::Ksym { typed: false } => {
            let (st, ev) = match &offers.symbols {
                Some(s) if s.names.contains(&e.name) => {
                    (Status::Ok, format!("{} in {}", e.name, s.path.display()))
                }
                _ if e.weak => weak_ok(&format!("{} not known to be in kallsyms", e.name)),
                Some(s) => (Status::Missing, format!("no {} in {}", e.name, s.path.display())),
                None => (
                    Status::Unknown,
                    "an untyped ksym is resolved from kallsyms, and no symbol table comes with this kernel".to_owned(),
                ),
            };
            req(ReqKind::Ksym, &e.name, st, Stage::Load, ev)
        }
        ExternKind::Kconfig => {
            let (st, ev) = if e.name.starts_with("LINUX_") {
                (Status::Ok, "provided by libbpf itself".to_owned())
            } else if e.weak {
                (
                    Status::Ok,
                    "__weak: 0 when the kernel's config does not set it".to_owned(),
                )
            } else {
                match &offers.config {
                    Some(c) => match c.config.get(&e.name) {
                        Some(crate::check::config::ConfigValue::NotSet) | None => (
                            Status::Missing,
                            format!(
                                "{} in {}: libbpf fails on a non-weak Kconfig extern it cannot find",
                                c.config.describe(&e.name),
                                c.path.display()
                            ),
                        ),
                        Some(_) => (Status::Ok, format!("{} in {}", c.config.describe(&e.name), c.path.display())),
                    },
                    None => (
                        Status::Unknown,
                        "no kernel config comes with this kernel, and the extern is not __weak".to_owned(),
                    ),
                }
            };
            req(ReqKind::Kconfig, &e.name, st, Stage::Load, ev)
        }
    }
}

/// Arch wrappers a syscall `NAME` is attached through (libbpf's `ksyscall`, tracefs's
/// `syscalls/sys_enter_NAME`).
pub(crate) fn syscall_symbols(name: &str) -> [String; 6] {
    [
        format!("__x64_sys_{name}"),
        format!("__arm64_sys_{name}"),
        format!("__riscv_sys_{name}"),
        format!("__s390x_sys_{name}"),
        format!("__se_sys_{name}"),
        format!("sys_{name}"),
    ]
}

/// libbpf's `glob_match` for `kprobe.multi` patterns: `*` and `?`.
fn glob(pat: &str, s: &str) -> bool {
    let (p, t) = (pat.as_bytes(), s.as_bytes());
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some(b'?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(p, t)
}

fn target_reqs(
    p: &ProgramNeeds,
    kind: TargetKind,
    offers: &KernelOffers,
    needs: &ObjectNeeds,
    reqs: &mut Vec<Requirement>,
) {
    let target = p.target.as_deref();
    let push = |reqs: &mut Vec<Requirement>, name: &str, st: Status, stage: Stage, ev: String| {
        reqs.push(req(ReqKind::AttachTarget, name, st, stage, ev));
    };
    let runtime = "the section names no target: the loader sets it at run time".to_owned();
    match kind {
        TargetKind::None => {}
        TargetKind::BtfFunc | TargetKind::Lsm | TargetKind::Iter => {
            if kind != TargetKind::Iter {
                trampoline_req(offers, reqs);
            }
            let Some(t) = target else {
                push(reqs, "(run time)", Status::Unknown, Stage::Load, runtime);
                return;
            };
            let func = match kind {
                TargetKind::Lsm => format!("bpf_lsm_{t}"),
                TargetKind::Iter => format!("bpf_iter_{t}"),
                _ => t.to_owned(),
            };
            match offers.funcs.get(&func) {
                Some(&n) => {
                    push(
                        reqs,
                        t,
                        offers.found(&func),
                        Stage::Load,
                        format!("FUNC {func} ({} arguments) in {}", n.args, offers.btf_of(&func)),
                    );
                    ctx_req(p, needs, offers, n, &func, kind, reqs);
                }
                None => push(
                    reqs,
                    t,
                    Status::Missing,
                    Stage::Load,
                    format!(
                        "no FUNC {func} in the kernel's BTF{}: libbpf cannot find the attach target",
                        offers.modules_note()
                    ),
                ),
            }
        }
        TargetKind::BtfTracepoint => {
            let Some(t) = target else {
                push(reqs, "(run time)", Status::Unknown, Stage::Load, runtime);
                return;
            };
            match offers.raw_tracepoints.get(t) {
                Some(&n) => {
                    push(
                        reqs,
                        t,
                        offers.found(&format!("btf_trace_{t}")),
                        Stage::Load,
                        format!(
                            "typedef btf_trace_{t} ({} arguments) in {}",
                            n.args,
                            offers.btf_of(&format!("btf_trace_{t}"))
                        ),
                    );
                    ctx_req(p, needs, offers, n, &format!("btf_trace_{t}"), kind, reqs);
                }
                None => push(
                    reqs,
                    t,
                    Status::Missing,
                    Stage::Load,
                    format!(
                        "no btf_trace_{t} in the kernel's BTF{}: libbpf cannot find the tracepoint",
                        offers.modules_note()
                    ),
                ),
            }
        }
        TargetKind::RawTracepoint => {
            let Some(t) = target else {
                push(reqs, "(run time)", Status::Unknown, Stage::Attach, runtime);
                return;
            };
            match offers.raw_tracepoints.get(t) {
                Some(&n) => {
                    let ev = format!(
                        "typedef btf_trace_{t} ({} arguments) in {}",
                        n.args,
                        offers.btf_of(&format!("btf_trace_{t}"))
                    );
                    let st = offers.found(&format!("btf_trace_{t}"));
                    push(reqs, t, st, Stage::Attach, ev);
                    ctx_req(p, needs, offers, n, &format!("btf_trace_{t}"), kind, reqs);
                }
                None => {
                    let ev = format!(
                        "no btf_trace_{t} in the kernel's BTF{}: no such raw tracepoint",
                        offers.modules_note()
                    );
                    push(reqs, t, Status::Missing, Stage::Attach, ev);
                }
            }
        }
        TargetKind::Tracepoint => {
            let Some(t) = target else {
                push(reqs, "(run time)", Status::Unknown, Stage::Attach, runtime);
                return;
            };
            let (cat, event) = t.split_once('/').unwrap_or(("", t));
            let syscall = event
                .strip_prefix("sys_enter_")
                .or_else(|| event.strip_prefix("sys_exit_"))
                .filter(|_| cat == "syscalls");
            let (st, ev) = if let Some(sc) = syscall {
                let found = syscall_symbols(sc).into_iter().find(|s| {
                    offers.funcs.contains_key(s)
                        || offers.symbols.as_ref().is_some_and(|t| t.names.contains(s))
                });
                match (found, &offers.config) {
                    (Some(s), Some(c)) if !c.config.enabled("CONFIG_FTRACE_SYSCALLS") => (
                        Status::Missing,
                        format!("{s} exists, but {} in {}", c.config.describe("CONFIG_FTRACE_SYSCALLS"), c.path.display()),
                    ),
                    (Some(s), _) => (Status::Ok, format!("syscall {s} in the kernel's BTF or symbols")),
                    (None, _) => (Status::Missing, format!("no syscall wrapper for {sc} (__x64_sys_{sc}, __se_sys_{sc}...) in the kernel's BTF or symbols")),
                }
            } else if offers.raw_tracepoints.contains_key(event) {
                (
                    Status::Ok,
                    format!("typedef btf_trace_{event} in the kernel's BTF"),
                )
            } else {
                (
                    Status::Missing,
                    format!("no btf_trace_{event} in the kernel's BTF: no such tracepoint in vmlinux (every TRACE_EVENT has one)"),
                )
            };
            push(reqs, t, st, Stage::Attach, ev);
        }
        TargetKind::Kprobe | TargetKind::Ksyscall => {
            let Some(t) = target else {
                push(reqs, "(run time)", Status::Unknown, Stage::Attach, runtime);
                return;
            };
            let func = t.split('+').next().unwrap_or(t);
            let candidates: Vec<String> = match kind {
                TargetKind::Ksyscall => syscall_symbols(func).to_vec(),
                _ => vec![func.to_owned()],
            };
            let wild = func.contains('*') || func.contains('?');
            if let Some(c) = offers
                .config
                .as_ref()
                .filter(|c| !c.config.enabled("CONFIG_KPROBES"))
            {
                let ev = format!(
                    "{} in {}: no kprobes on this kernel",
                    c.config.describe("CONFIG_KPROBES"),
                    c.path.display()
                );
                push(reqs, t, Status::Missing, Stage::Attach, ev);
                return;
            }
            let (st, ev) = match &offers.symbols {
                Some(s) => {
                    let hit = if wild {
                        s.names.iter().filter(|n| glob(func, n)).min().cloned()
                    } else {
                        candidates.iter().find(|c| s.names.contains(*c)).cloned()
                    };
                    match hit {
                        Some(h) => (Status::Ok, format!("{h} in {}", s.path.display())),
                        None => (Status::Missing, format!("no {func} in {}: nothing to attach a kprobe to", s.path.display())),
                    }
                }
                None => match candidates.iter().find(|c| offers.funcs.contains_key(*c)) {
                    Some(c) => (Status::Ok, format!("FUNC {c} in the kernel's BTF")),
                    None => (
                        Status::Unknown,
                        format!(
                            "no FUNC {func} in the kernel's BTF, and no symbol table comes with this kernel: a function BTF leaves out can still be in kallsyms"
                        ),
                    ),
                },
            };
            push(reqs, t, st, Stage::Attach, ev);
        }
        TargetKind::StructOps => {
            let _ = needs;
            let (st, ev) = if offers.prog_types.contains("BPF_PROG_TYPE_STRUCT_OPS")
                && !offers.structs.is_empty()
            {
                (Status::Unknown, "which struct_ops type a member belongs to is in the .struct_ops map, resolved at load".to_owned())
            } else {
                (
                    Status::Missing,
                    "no bpf_struct_ops_* types in the kernel's BTF".to_owned(),
                )
            };
            push(reqs, target.unwrap_or(&p.name), st, Stage::Load, ev);
        }
        TargetKind::User => {
            let (st, ev) = match &offers.config {
                Some(c) if c.config.enabled("CONFIG_UPROBE_EVENTS") => {
                    (Status::Ok, format!("{} in {}", c.config.describe("CONFIG_UPROBE_EVENTS"), c.path.display()))
                }
                Some(c) => (Status::Missing, format!("{} in {}", c.config.describe("CONFIG_UPROBE_EVENTS"), c.path.display())),
                None => (Status::Unknown, "uprobes need CONFIG_UPROBE_EVENTS, and no kernel config comes with this kernel".to_owned()),
            };
            push(
                reqs,
                target.unwrap_or("(user space)"),
                st,
                Stage::Attach,
                ev,
            );
        }
        TargetKind::Program => push(
            reqs,
            target.unwrap_or("(run time)"),
            Status::Unknown,
            Stage::Load,
            "the target is another BPF program, given at load time".to_owned(),
        ),
    }
}

/// fentry, fexit, fmod_ret and LSM programs run from BPF trampolines: whether those work is
/// known only from a live probe of the running kernel (no requirement for other kernels).
fn trampoline_req(offers: &KernelOffers, reqs: &mut Vec<Requirement>) {
    use super::offers::Trampolines;
    let Some(live) = &offers.live else { return };
    let (st, ev) = match &live.trampolines {
        Trampolines::Work { func } => (
            Status::Ok,
            format!("live probe: a trivial fentry program on {func} loads here"),
        ),
        Trampolines::Refused { func, why } => (
            Status::Missing,
            format!("live probe: a trivial fentry program on {func} does not load here ({why}): BPF trampolines do not work on this machine"),
        ),
        Trampolines::Unprobed { why } => (Status::Unknown, format!("live probe not run: {why}")),
    };
    reqs.push(req(
        ReqKind::Trampoline,
        "BPF trampoline",
        st,
        Stage::Load,
        ev,
    ));
}

/// What the program does with its context, walked as the verifier walks it on this kernel
/// (with its `__kconfig` values and the object's `.rodata`; see [`super::flow`]):
/// - a read of context argument N past the target's arguments (the return value counts as
///   one more for fexit, fmod_ret and lsm) is refused: by the verifier at load for BTF-typed
///   programs, by `BPF_RAW_TRACEPOINT_OPEN` at attach for raw tracepoints;
/// - a read through an argument the kernel types as a scalar is refused at load;
/// - a pointer argument spilled to the stack, the slot read by a helper, then loaded back and
///   read through, is refused by the verifiers that scrub such a slot.
fn ctx_req(
    p: &ProgramNeeds,
    needs: &ObjectNeeds,
    offers: &KernelOffers,
    proto: Proto,
    what: &str,
    kind: TargetKind,
    reqs: &mut Vec<Requirement>,
) {
    let facts = needs.code.walk(&p.entry, offers);
    let nargs = proto.args;
    let with_ret = matches!(
        p.def.and_then(|d| d.attach_type),
        Some("BPF_TRACE_FEXIT" | "BPF_MODIFY_RETURN" | "BPF_LSM_MAC" | "BPF_LSM_CGROUP")
    );
    let stage = match kind {
        TargetKind::RawTracepoint => Stage::Attach,
        _ => Stage::Load,
    };
    let limit = nargs + u32::from(with_ret);
    let given = match facts.used_values.is_empty() {
        true => String::new(),
        false => format!(
            " (walked with {})",
            facts
                .used_values
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let by = match stage {
        Stage::Attach => "the kernel refuses the attach",
        Stage::Load => "the verifier refuses the access",
    };
    if facts.truncated {
        reqs.push(req(
            ReqKind::CtxArgs,
            "ctx[?]",
            Status::Unknown,
            stage,
            "the program has more paths than coretool walks: which context arguments it reads is not known".to_owned(),
        ));
        return;
    }
    if let Some((at, why)) = &facts.computed {
        let from = why
            .as_ref()
            .map_or(String::new(), |w| format!(", computed from {w}"));
        reqs.push(req(
            ReqKind::CtxArgs,
            "ctx[?]",
            Status::Unknown,
            stage,
            format!(
                "adds an offset known only at load to the context pointer (insn {at}{from}): which of {what}'s {nargs} arguments it reads cannot be told offline{given}"
            ),
        ));
        return;
    }
    if let Some((at, off, on)) = &facts.moved_ctx {
        let refused = "the verifier refuses a read through a modified context pointer (dereference of modified ctx ptr)";
        let (st, ev) = match on {
            None => (
                Status::Missing,
                format!("reads through the context pointer after arithmetic moved it by {off} bytes (insn {at}): {refused}{given}"),
            ),
            Some(on) => (
                Status::Unknown,
                format!("reads through the context pointer moved by {off} bytes (insn {at}) on a path that depends on {on}: {refused}, if that path is the one taken"),
            ),
        };
        reqs.push(req(
            ReqKind::CtxArgs,
            format!("ctx+{off}"),
            st,
            Stage::Load,
            ev,
        ));
    }
    let deepest = facts.deepest.map(|(a, _)| a);
    if let Some((arg, at, on)) = facts
        .guarded
        .as_ref()
        .filter(|(a, _, _)| *a >= limit && deepest.is_none_or(|d| d < limit))
    {
        reqs.push(req(
            ReqKind::CtxArgs,
            format!("ctx[{arg}]"),
            Status::Unknown,
            stage,
            format!(
                "reads context argument {arg} (insn {at}) past {what}'s {nargs} on a path that depends on {on}: the verifier knows that value at load and may prune the path"
            ),
        ));
        return;
    }
    let within = |a: u32| a < limit;
    if let (None, Some((arg, at, on))) = (facts.deepest, &facts.guarded) {
        if within(*arg) {
            reqs.push(req(
                ReqKind::CtxArgs,
                format!("ctx[{arg}]"),
                Status::Ok,
                stage,
                format!("reads context argument {arg} (insn {at}) at most, on paths that depend on {on}; {what} has {nargs}"),
            ));
        }
    }
    if let Some((arg, at)) = facts.deepest {
        let (st, ev) = if within(arg) {
            (
                Status::Ok,
                format!("reads context argument {arg} (insn {at}); {what} has {nargs}{given}"),
            )
        } else {
            let ret = if with_ret {
                " plus the return value"
            } else {
                ""
            };
            (
                Status::Missing,
                format!(
                    "reads context argument {arg} (insn {at}), but {what} has {nargs}{ret}: {by}{given}"
                ),
            )
        };
        reqs.push(req(ReqKind::CtxArgs, format!("ctx[{arg}]"), st, stage, ev));
    }
    // Reads through an argument: the kernel must type it as a pointer to a struct.
    for (&arg, &at) in facts.derefs.iter().filter(|(a, _)| **a < nargs.min(64)) {
        let bit = 1u64 << arg;
        let (st, ev) = if proto.scalars & bit != 0 {
            (
                Status::Missing,
                format!("reads through context argument {arg} (insn {at}), but {what}'s argument {arg} is a scalar here: {by} (invalid mem access 'scalar')"),
            )
        } else if proto.struct_ptrs & bit != 0 {
            continue;
        } else {
            (
                Status::Unknown,
                format!("reads through context argument {arg} (insn {at}), and {what}'s argument {arg} is neither a scalar nor a pointer to a struct here: whether the verifier allows it depends on its type"),
            )
        };
        reqs.push(req(ReqKind::CtxArgs, format!("*ctx[{arg}]"), st, stage, ev));
    }
    if let Some(s) = &facts.spilled_read {
        let helper = offers
            .helpers
            .get(&s.helper)
            .cloned()
            .unwrap_or_else(|| format!("helper #{}", s.helper));
        let what_happens = format!(
            "loads context argument {}'s pointer back from fp{} (insn {}) after {helper} read that stack slot (insn {}), and reads through it",
            s.arg, s.slot, s.read_insn, s.helper_insn
        );
        let (st, ev) = match &offers.spilled_slot_read {
            Some(SpilledSlotRead::Scrubs { evidence }) => (
                Status::Missing,
                format!("{what_happens}; {evidence}, so the pointer comes back a scalar: the verifier refuses the read (invalid mem access 'scalar')"),
            ),
            Some(SpilledSlotRead::Keeps { evidence }) => {
                (Status::Ok, format!("{what_happens}; {evidence}"))
            }
            None => (
                Status::Unknown,
                format!("{what_happens}; the kernel's BTF has no check_stack_range_initialized to tell whether its verifier keeps the pointer in that slot"),
            ),
        };
        reqs.push(req(
            ReqKind::Verifier,
            "spilled pointer read by a helper",
            st,
            Stage::Load,
            ev,
        ));
    }
}
