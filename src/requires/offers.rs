//! What a kernel offers a BPF object, read from its BTF (and, where the source carries them,
//! its build config and its symbol table): the enumerators of `enum bpf_func_id`,
//! `bpf_prog_type`, `bpf_map_type` and `bpf_attach_type`, its FUNC records (fentry and kprobe
//! targets, kfuncs) with their argument counts, `bpf_kfunc` decl tags, `btf_trace_*`
//! typedefs (raw tracepoints), VARs (typed ksyms), the BTF kinds it uses.
//!
//! What it trusts: the kernel's own BTF describes the kernel it came with, backports
//! included; that is why nothing here consults a version table.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::names::{NameSet, NameTable};
use crate::btf::{Btf, Kind};
use crate::check::config::KernelConfig;

/// A kernel config and the file it came from.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub config: KernelConfig,
}

/// A kernel's symbol table (`System.map`, `/proc/kallsyms`): every symbol name.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    pub path: PathBuf,
    pub names: HashSet<String>,
}

impl SymbolTable {
    /// Parse `ADDRESS TYPE NAME [MODULE]` lines.
    pub fn parse(path: &Path, text: &str) -> SymbolTable {
        let names = text
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .map(str::to_owned)
            .collect();
        SymbolTable {
            path: path.to_path_buf(),
            names,
        }
    }
}

/// Everything one kernel offers.
#[derive(Debug, Clone, Default)]
pub struct KernelOffers {
    /// How the kernel is named in reports (its release, else its source).
    pub name: String,
    /// The kernel's release (`6.1.0-57-amd64`), when the source tells it: libbpf derives
    /// `LINUX_KERNEL_VERSION` from it (`uname -r` parsed as `%u.%u.%u`).
    pub release: Option<String>,
    /// `enum bpf_func_id`: value → `bpf_xxx`.
    pub helpers: BTreeMap<u32, String>,
    /// `enum bpf_prog_type` enumerator names.
    pub prog_types: HashSet<String>,
    /// `enum bpf_attach_type` enumerator names.
    pub attach_types: HashSet<String>,
    /// `enum bpf_map_type`: value → enumerator name.
    pub map_types: BTreeMap<u32, String>,
    /// FUNC records: name → its arguments.
    pub funcs: NameTable<Proto>,
    /// Functions tagged `bpf_kfunc` (`None`: this BTF has no such decl tags at all).
    pub kfuncs: Option<HashSet<String>>,
    /// Kfuncs found in the vmlinux's `.BTF_ids` sets, when the source is an image or ELF and
    /// its BTF has no decl tags.
    pub btf_ids_kfuncs: Option<HashSet<String>>,
    /// `btf_trace_NAME` typedefs: `NAME` → arguments of the tracepoint (the leading
    /// `void *__data` not counted).
    pub raw_tracepoints: HashMap<String, Proto>,
    /// Names found in a module's BTF rather than vmlinux's: FUNC or tracepoint → module.
    pub in_module: HashMap<String, String>,
    /// The modules read are the loaded ones (`/sys/kernel/btf`), not those a package ships.
    pub modules_loaded: bool,
    /// Module BTF was not to be read (`requires --no-modules`): a kernel with no module loaded.
    pub modules_off: bool,
    /// The only FUNC names to keep (`None`: all): what the objects at hand can look up
    /// ([`wanted_funcs`]). A vmlinux has ~50,000 FUNCs; a fleet run reads every kernel's.
    pub wanted: Option<std::sync::Arc<HashSet<String>>>,
    /// The modules read: (module files, those with BTF). `None`: none were; the source had
    /// no module tree, or nothing the objects need was missing from vmlinux.
    pub modules_read: Option<(usize, usize)>,
    /// What the verifier does with a spilled pointer whose slot a helper reads (`None`: its
    /// BTF does not tell).
    pub spilled_slot_read: Option<SpilledSlotRead>,
    /// VAR records (typed `__ksym` variables).
    pub vars: HashSet<String>,
    /// STRUCT names (`bpf_struct_ops_*`).
    pub structs: HashSet<String>,
    /// Every enumerator of every enum (flags such as `BPF_F_MMAPABLE`).
    pub enumerators: NameSet,
    /// The BTF kinds its BTF uses.
    pub kinds: BTreeSet<Kind>,
    pub config: Option<ConfigFile>,
    pub symbols: Option<SymbolTable>,
    /// For the running kernel: what tiny live probes found where BTF cannot tell.
    pub live: Option<LiveFacts>,
}

/// What live probes on the running kernel found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trampolines {
    /// A trivial fentry program on FUNC `func` loaded.
    Work { func: String },
    /// It did not (the errno, in words).
    Refused { func: String, why: String },
    /// The probe could not run (no privilege, no FUNC to probe with).
    Unprobed { why: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFacts {
    /// Can fentry/fexit/fmod_ret/LSM programs (BPF trampolines) load here at all?
    pub trampolines: Trampolines,
}

/// Probe the running kernel (whose BTF is `btf`): load a trivial fentry program on a kernel
/// function every kernel with BPF has (`bpf_fentry_test1`, libbpf's own probe target; else
/// `vfs_read`), then close it. Needs the privilege to load tracing programs (`may_load`).
pub fn probe_running(btf: &Btf, may_load: bool) -> LiveFacts {
    let func = ["bpf_fentry_test1", "vfs_read"].into_iter().find_map(|f| {
        btf.ids_by_name(f)
            .iter()
            .find(|&&id| btf.type_by_id(id).is_some_and(|t| t.kind() == Kind::Func))
            .map(|&id| (f, id))
    });
    let trampolines = match (func, may_load) {
        (_, false) => Trampolines::Unprobed {
            why: "probing needs root (or CAP_BPF and CAP_PERFMON)".into(),
        },
        (None, true) => Trampolines::Unprobed {
            why: "neither FUNC bpf_fentry_test1 nor vfs_read in the BTF to probe with".into(),
        },
        (Some((f, id)), true) => match crate::libbpf::probe::probe_fentry(id) {
            crate::libbpf::probe::ProbeOutcome::Supported => Trampolines::Work { func: f.into() },
            crate::libbpf::probe::ProbeOutcome::Unsupported => Trampolines::Refused {
                func: f.into(),
                why: "the kernel does not support it".into(),
            },
            crate::libbpf::probe::ProbeOutcome::Error(e) => Trampolines::Refused {
                func: f.into(),
                why: e.to_string(),
            },
        },
    };
    LiveFacts { trampolines }
}

/// A function's (or tracepoint's) arguments as the verifier types a tracing program's
/// context: each argument is one 8-byte slot of the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Proto {
    pub args: u32,
    /// Arguments that are pointers to a struct or union (a bit each): the verifier gives a
    /// program that loads them a `PTR_TO_BTF_ID` it may read through.
    pub struct_ptrs: u64,
    /// Arguments that are plain scalars (integers, enums): reading through them is refused.
    pub scalars: u64,
}

fn proto_of(btf: &Btf, proto_id: u32, skip: usize) -> Option<Proto> {
    let p = btf.skip_mods_and_typedefs(proto_id)?;
    if p.kind() != Kind::FuncProto {
        return None;
    }
    let params: Vec<_> = p.params().skip(skip).collect();
    // A trailing `...` is a parameter with type 0.
    let varargs = params.last().is_some_and(|l| l.type_id == 0);
    let mut proto = Proto {
        args: params.len() as u32 - u32::from(varargs),
        ..Proto::default()
    };
    for (i, a) in params.iter().enumerate().take(64) {
        let Some(t) = btf.skip_mods_and_typedefs(a.type_id) else {
            continue;
        };
        match t.kind() {
            Kind::Int | Kind::Enum | Kind::Enum64 => proto.scalars |= 1 << i,
            Kind::Ptr => {
                let to = btf.skip_mods_and_typedefs(t.type_id());
                if to.is_some_and(|to| matches!(to.kind(), Kind::Struct | Kind::Union)) {
                    proto.struct_ptrs |= 1 << i;
                }
            }
            _ => {}
        }
    }
    Some(proto)
}

/// How the verifier treats a stack slot holding a spilled pointer when a helper reads that
/// slot (a map key made of the pointer's own bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpilledSlotRead {
    /// The slot keeps the pointer.
    Keeps { evidence: String },
    /// The slot turns into plain bytes (`fp-8=mmmmmmmm`): the pointer loaded back is a scalar.
    Scrubs { evidence: String },
}

/// What `check_stack_range_initialized`'s access-type parameter says of the verifier's
/// generation. The function is static and stays in BTF on every Debian kernel from 5.10 on:
/// - `enum stack_access_src` (5.10): a spilled `PTR_TO_BTF_ID` read by a helper is kept;
/// - `enum bpf_access_src` (6.1 to 6.12): with `allow_ptr_leaks` (root) the slot is marked
///   `STACK_MISC` and the pointer forgotten (bcc#4655: biosnoop on 6.1);
/// - `enum bpf_access_type` (6.18, 7.x): only a helper that writes the memory clobbers it.
///
/// The kernel matrix checks these three against real loads on 5.10, 6.1, 6.12 and 6.18.
fn spilled_slot_read(btf: &Btf, func: &crate::btf::Type<'_>) -> Option<SpilledSlotRead> {
    let proto = btf.skip_mods_and_typedefs(func.type_id())?;
    let param = proto
        .params()
        .find(|p| btf.str_at(p.name_off) == Some("type"))?;
    let e = btf.skip_mods_and_typedefs(param.type_id)?;
    let name = btf.name_of(&e);
    let evidence = |what: &str| {
        format!("the verifier's check_stack_range_initialized takes enum {name}: {what}")
    };
    match name {
        "stack_access_src" | "bpf_access_type" => Some(SpilledSlotRead::Keeps {
            evidence: evidence("a helper that reads a spilled pointer's slot leaves the pointer there"),
        }),
        "bpf_access_src" => Some(SpilledSlotRead::Scrubs {
            evidence: evidence("a helper that reads a spilled pointer's slot turns it into plain bytes (STACK_MISC)"),
        }),
        _ => None,
    }
}

impl KernelOffers {
    /// Read what `btf` offers (a kernel's vmlinux BTF; module BTF is not consulted).
    pub fn from_btf(name: &str, btf: &Btf) -> KernelOffers {
        Self::from_btf_for(name, btf, None)
    }

    /// [`from_btf`](Self::from_btf), keeping only the FUNCs named in `wanted` (`None`: all).
    pub fn from_btf_for(
        name: &str,
        btf: &Btf,
        wanted: Option<std::sync::Arc<HashSet<String>>>,
    ) -> KernelOffers {
        let mut o = KernelOffers {
            name: name.to_owned(),
            wanted,
            ..KernelOffers::default()
        };
        o.gather(btf, None);
        o
    }

    /// Add what module `module`'s split BTF `btf` offers: its FUNCs (fentry targets,
    /// kfuncs), its tracepoints, its `bpf_kfunc` tags.
    pub fn add_module(&mut self, module: &str, btf: &Btf) {
        self.gather(btf, Some(module));
    }

    /// Where a FUNC or tracepoint was found, for evidence: `the kernel's BTF` or `module
    /// xfs's BTF`.
    pub fn btf_of(&self, name: &str) -> String {
        match self.in_module.get(name) {
            Some(m) if self.modules_loaded => format!("module {m}'s BTF (loaded)"),
            Some(m) => format!(
                "module {m}'s BTF, not vmlinux's: libbpf finds it only if {m} is loaded when the program loads"
            ),
            None => "the kernel's BTF".to_owned(),
        }
    }

    /// The status of a FUNC or tracepoint found in this kernel: `ok` in vmlinux or a loaded
    /// module, `unknown` in a module the source ships (whether it will be loaded is not known).
    pub fn found(&self, name: &str) -> super::check::Status {
        match self.in_module.contains_key(name) && !self.modules_loaded {
            true => super::check::Status::Unknown,
            false => super::check::Status::Ok,
        }
    }

    /// What a "not found" covers: ` nor in its 4023 modules' BTF`, or, when the source came
    /// without module BTF, that a module could still have it.
    pub fn modules_note(&self) -> String {
        match self.modules_read {
            Some((_, n)) if n > 0 => format!(" nor in the BTF of its {n} modules"),
            Some((files, _)) => {
                format!(" (vmlinux's; none of its {files} modules carries BTF)")
            }
            None if self.modules_off => " (vmlinux's; modules not read: --no-modules)".to_owned(),
            None => " (vmlinux's; no module BTF came with this source)".to_owned(),
        }
    }

    fn gather(&mut self, btf: &Btf, module: Option<&str>) {
        let o = self;
        if module.is_none() {
            // Sized up front: a vmlinux BTF is about 45% FUNCs and 17% enumerators (by type
            // count), and growing these tables type by type is a good part of the walk's cost.
            let count = btf.type_count() as usize;
            o.funcs = match &o.wanted {
                Some(w) => NameTable::with_capacity(w.len(), w.len() * 32),
                None => NameTable::with_capacity(count / 2, count * 8),
            };
            o.enumerators = NameSet::with_capacity(count / 5, count * 4);
        }
        let mut tagged: HashSet<u32> = HashSet::new();
        let mut any_tag = false;
        let mut kinds = [false; Kind::ALL.len()];
        for t in btf.types() {
            let kind = t.kind();
            kinds[kind as usize] = true;
            // Only the kinds below are looked at by name (most types are not).
            if !matches!(
                kind,
                Kind::Enum
                    | Kind::Enum64
                    | Kind::Func
                    | Kind::Typedef
                    | Kind::Var
                    | Kind::Struct
                    | Kind::DeclTag
            ) {
                continue;
            }
            let tname = btf.name_of(&t);
            match kind {
                Kind::Enum | Kind::Enum64 => {
                    let target = match tname {
                        "bpf_func_id" => 1,
                        "bpf_prog_type" => 2,
                        "bpf_attach_type" => 3,
                        "bpf_map_type" => 4,
                        _ => 0,
                    };
                    for v in t.enum_values() {
                        let Some(n) = btf.str_at(v.name_off) else {
                            continue;
                        };
                        o.enumerators.insert(n);
                        match target {
                            1 => {
                                if let Some(h) = n.strip_prefix("BPF_FUNC_") {
                                    if h != "unspec" {
                                        o.helpers.insert(v.raw as u32, format!("bpf_{h}"));
                                    }
                                }
                            }
                            2 => {
                                o.prog_types.insert(n.to_owned());
                            }
                            3 => {
                                o.attach_types.insert(n.to_owned());
                            }
                            4 => {
                                o.map_types.entry(v.raw as u32).or_insert(n.to_owned());
                            }
                            _ => {}
                        }
                    }
                }
                Kind::Func => {
                    if tname == "check_stack_range_initialized" {
                        o.spilled_slot_read = spilled_slot_read(btf, &t);
                    }
                    if o.wanted.as_ref().is_some_and(|w| !w.contains(tname)) {
                        continue;
                    }
                    if let Some(n) = proto_of(btf, t.type_id(), 0) {
                        if o.funcs.insert(tname, n) {
                            if let Some(m) = module {
                                o.in_module.insert(tname.to_owned(), m.to_owned());
                            }
                        }
                    }
                }
                Kind::Typedef => {
                    if let Some(tp) = tname.strip_prefix("btf_trace_") {
                        let args = btf
                            .skip_mods_and_typedefs(t.type_id())
                            .filter(|p| p.kind() == Kind::Ptr)
                            .and_then(|p| proto_of(btf, p.type_id(), 1));
                        if let Some(n) = args {
                            if !o.raw_tracepoints.contains_key(tp) {
                                o.raw_tracepoints.insert(tp.to_owned(), n);
                                if let Some(m) = module {
                                    o.in_module.insert(format!("btf_trace_{tp}"), m.to_owned());
                                }
                            }
                        }
                    }
                }
                Kind::Var => {
                    o.vars.insert(tname.to_owned());
                }
                Kind::Struct if tname.starts_with("bpf_struct_ops_") => {
                    o.structs.insert(tname.to_owned());
                }
                Kind::DeclTag if tname == "bpf_kfunc" => {
                    any_tag = true;
                    tagged.insert(t.type_id());
                }
                _ => {}
            }
        }
        o.kinds
            .extend(Kind::ALL.into_iter().filter(|k| kinds[*k as usize]));
        // `enum bpf_prog_type` and friends also live as enumerators; the enumerators set
        // keeps flags only.
        let names = tagged
            .into_iter()
            .filter_map(|id| btf.type_by_id(id))
            .map(|t| btf.name_of(&t).to_owned());
        match (module, &mut o.kfuncs) {
            (None, _) if any_tag => o.kfuncs = Some(names.collect()),
            // A module's tags count where vmlinux has tags too (the same pahole made both).
            (Some(_), Some(set)) => set.extend(names),
            _ => {}
        }
    }

    pub fn with_release(mut self, release: Option<String>) -> Self {
        self.release = release;
        self
    }

    pub fn with_config(mut self, config: Option<ConfigFile>) -> Self {
        self.config = config;
        self
    }

    pub fn with_symbols(mut self, symbols: Option<SymbolTable>) -> Self {
        self.symbols = symbols;
        self
    }
}

/// What the kernel a source on disk holds offers, as `requires`, `compat` and `dry-run` read
/// it: its BTF (`btf`, read from `source`), the config and symbol table that come with the
/// source ([`companions`]), the kfuncs of its `.BTF_ids` when `want_kfuncs` and the BTF has no
/// `bpf_kfunc` decl tags ([`btf_ids_kfuncs`]: reads the source again), and, with `probe` and
/// when the source is the running kernel's BTF, the live probes ([`probe_running`]: loads a
/// trivial program when the privilege allows).
pub fn of_source(
    source: &Path,
    name: &str,
    btf: &Btf,
    release: Option<&str>,
    want_kfuncs: bool,
    probe: bool,
    wanted: Option<std::sync::Arc<HashSet<String>>>,
) -> KernelOffers {
    // A file's name tells the release when the caller did not (`6.1.0-57-amd64.btf`).
    let release = release
        .map(str::to_owned)
        .or_else(|| crate::compat::identity::file_release(source));
    let (config, symbols) = companions(source, release.as_deref());
    let mut offers = KernelOffers::from_btf_for(name, btf, wanted)
        .with_release(release)
        .with_config(config)
        .with_symbols(symbols);
    let running = source.starts_with("/sys/kernel/btf");
    if probe && running {
        let may_load = crate::host::privilege().can_trace();
        offers.live = Some(probe_running(btf, may_load));
    }
    if offers.kfuncs.is_none() && want_kfuncs && !running {
        offers.btf_ids_kfuncs = btf_ids_kfuncs(source, btf);
    }
    offers
}

/// The config and symbol table that come with a kernel source on disk: `config-REL` and
/// `System.map-REL` next to `vmlinuz-REL` (a Debian `/boot`, or an unpacked package), or,
/// for the running kernel (`/sys/kernel/btf/vmlinux`), `/proc/config.gz` or
/// `/boot/config-$(uname -r)` and `/proc/kallsyms`.
pub fn companions(
    source: &Path,
    release: Option<&str>,
) -> (Option<ConfigFile>, Option<SymbolTable>) {
    let mut configs = Vec::new();
    let mut maps = Vec::new();
    if source.starts_with("/sys/kernel/btf") {
        configs.push(PathBuf::from(crate::check::config::PROC_CONFIG_GZ));
        if let Some(r) = release {
            configs.push(PathBuf::from(format!("/boot/config-{r}")));
        }
        maps.push(PathBuf::from("/proc/kallsyms"));
    } else if let (Some(dir), Some(r)) = (source.parent(), release) {
        configs.push(dir.join(format!("config-{r}")));
        maps.push(dir.join(format!("System.map-{r}")));
    }
    let config = configs.into_iter().find_map(|p| {
        crate::check::config::read_config(&p)
            .ok()
            .map(|config| ConfigFile { path: p, config })
    });
    let symbols = maps.into_iter().find_map(|p| {
        let text = std::fs::read_to_string(&p).ok()?;
        let t = SymbolTable::parse(&p, &text);
        // kallsyms read without privilege shows zero addresses but real names. An empty table
        // tells nothing, and neither does Debian's placeholder System.map (one line: "The real
        // System.map is in the linux-image-<version>-dbg package").
        (t.names.len() > 1000).then_some(t)
    });
    (config, symbols)
}

/// Kfuncs named by the `BTF_SET8`s of a vmlinux's `.BTF_ids` section (`struct btf_id_set8`:
/// `u32 cnt, u32 flags`, then `cnt` pairs of `u32 id, u32 kfunc flags`), for kernels whose BTF
/// carries no `bpf_kfunc` decl tags. The section has no symbols once the image is stripped, so
/// sets are recognised by their shape: a header whose flags are 0 or `BTF_SET8_KFUNCS`,
/// followed by `cnt` pairs that each name a FUNC of `btf` with small KF_* flags.
pub fn kfuncs_from_btf_ids(section: &[u8], btf: &Btf) -> HashSet<String> {
    let endian = btf.endian();
    let word = |o: usize| -> Option<u32> {
        let b = section.get(o..o + 4)?;
        Some(endian.u32([b[0], b[1], b[2], b[3]]))
    };
    let is_func = |id: u32| btf.type_by_id(id).is_some_and(|t| t.kind() == Kind::Func);
    let mut out = HashSet::new();
    let mut off = 0;
    while off + 16 <= section.len() {
        let (Some(cnt), Some(flags)) = (word(off), word(off + 4)) else {
            break;
        };
        let cnt = cnt as usize;
        let fits = (1..=4096).contains(&cnt) && flags <= 1 && off + 8 + cnt * 8 <= section.len();
        let set = fits
            && (0..cnt).all(|i| {
                let p = off + 8 + i * 8;
                word(p).is_some_and(is_func) && word(p + 4).is_some_and(|f| f < 1 << 16)
            });
        if set {
            for i in 0..cnt {
                if let Some(t) = word(off + 8 + i * 8).and_then(|id| btf.type_by_id(id)) {
                    out.insert(btf.name_of(&t).to_owned());
                }
            }
            off += 8 + cnt * 8;
        } else {
            off += 4;
        }
    }
    out
}

/// The kfuncs of the vmlinux a kernel source on disk holds (a vmlinux, a vmlinuz, a Debian
/// package), from its `.BTF_ids`; `None` when the source holds no vmlinux ELF with that section.
/// Reads (and decompresses) the source again: call it only when an object needs kfuncs and
/// the BTF has no decl tags.
pub fn btf_ids_kfuncs(source: &Path, btf: &Btf) -> Option<HashSet<String>> {
    if source.starts_with("/sys/kernel/btf") {
        return None;
    }
    let data = std::fs::read(source).ok()?;
    let data = if crate::compat::deb::is_ar(&data) {
        crate::compat::deb::read_kernel(&data, 1 << 30).ok()?.image
    } else {
        data
    };
    let section = crate::source::kernel_elf_section(source, data, ".BTF_ids")?;
    Some(kfuncs_from_btf_ids(&section, btf))
}

/// The FUNC names the checks of `needs` can look up: attach targets (fentry, lsm, iter,
/// kprobe and ksyscall with the syscall wrappers' names, syscall tracepoints' wrappers) and
/// kfuncs. `None` when a kprobe target is a pattern (`kprobe.multi/vfs_*`): every FUNC, then.
pub fn wanted_funcs<'n>(
    needs: impl IntoIterator<Item = &'n super::ObjectNeeds>,
) -> Option<std::sync::Arc<HashSet<String>>> {
    use super::needs::ExternKind;
    use super::sections::TargetKind;
    let mut want = HashSet::new();
    for n in needs {
        for e in &n.externs {
            if e.kind == ExternKind::Kfunc {
                want.insert(e.name.clone());
            }
        }
        for p in &n.programs {
            let (Some(def), Some(t)) = (p.def, p.target.as_deref()) else {
                continue;
            };
            match def.target {
                TargetKind::BtfFunc => {
                    want.insert(t.to_owned());
                }
                TargetKind::Lsm => {
                    want.insert(format!("bpf_lsm_{t}"));
                }
                TargetKind::Iter => {
                    want.insert(format!("bpf_iter_{t}"));
                }
                TargetKind::Kprobe | TargetKind::Ksyscall => {
                    let func = t.split('+').next().unwrap_or(t);
                    if func.contains('*') || func.contains('?') {
                        return None;
                    }
                    want.insert(func.to_owned());
                    want.extend(super::check::syscall_symbols(func));
                }
                TargetKind::Tracepoint => {
                    let event = t.split_once('/').map_or(t, |(_, e)| e);
                    let sc = event
                        .strip_prefix("sys_enter_")
                        .or_else(|| event.strip_prefix("sys_exit_"));
                    if let Some(sc) = sc {
                        want.extend(super::check::syscall_symbols(sc));
                    }
                }
                _ => {}
            }
        }
    }
    Some(std::sync::Arc::new(want))
}

/// Whether something `needs` uses is absent from `offers` that a module's BTF could supply:
/// an fentry/fexit target, a tracepoint, a kfunc.
pub fn misses_module_names(needs: &super::ObjectNeeds, offers: &KernelOffers) -> bool {
    use super::needs::ExternKind;
    use super::sections::TargetKind;
    let kfunc = needs
        .externs
        .iter()
        .any(|e| e.kind == ExternKind::Kfunc && !offers.funcs.contains_key(&e.name));
    kfunc
        || needs.programs.iter().any(|p| {
            let (Some(def), Some(t)) = (p.def, p.target.as_deref()) else {
                return false;
            };
            match def.target {
                TargetKind::BtfFunc => !offers.funcs.contains_key(t),
                TargetKind::BtfTracepoint | TargetKind::RawTracepoint => {
                    !offers.raw_tracepoints.contains_key(t)
                }
                _ => false,
            }
        })
}

/// Read the split BTF of every module of the kernel read from `source` (an unpacked package's
/// `lib/modules/REL`, or the modules next to a vmlinux: see [`crate::btfgen::modules`]) into
/// `offers`, on the base `vmlinux`. Returns how many modules had BTF (0 when the source has
/// no module tree). A module whose BTF does not read is left out.
pub fn add_modules(
    offers: &mut KernelOffers,
    source: &Path,
    release: Option<&str>,
    vmlinux: &[u8],
) -> usize {
    // The running kernel: the loaded modules' BTF in /sys/kernel/btf.
    let sysfs = source
        .parent()
        .filter(|d| *d == Path::new("/sys/kernel/btf"));
    let files: Vec<PathBuf> = match sysfs {
        Some(dir) => std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.file_name().is_some_and(|n| n != "vmlinux"))
                    .collect()
            })
            .unwrap_or_default(),
        None => crate::btfgen::modules::find(source, release),
    };
    if files.is_empty() {
        return 0;
    }
    let Ok(mut base) = Btf::parse(vmlinux) else {
        return 0;
    };
    let mut read = 0;
    let total = files.len();
    for f in files {
        let m = match sysfs {
            Some(_) => std::fs::read(&f)
                .ok()
                .map(|raw| crate::btfgen::modules::ModuleBtf {
                    name: f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    raw,
                }),
            None => crate::btfgen::modules::read(&f).ok().flatten(),
        };
        let Some(m) = m else {
            continue;
        };
        match Btf::parse_split(&m.raw, base) {
            Ok(split) => {
                offers.add_module(&m.name, &split);
                read += 1;
                match split.into_base() {
                    Some(b) => base = b,
                    None => break,
                }
            }
            // The base went with the failed parse: parse it again.
            Err(_) => match Btf::parse(vmlinux) {
                Ok(b) => base = b,
                Err(_) => break,
            },
        }
    }
    offers.modules_read = Some((total, read));
    offers.modules_loaded = sysfs.is_some();
    read
}

/// `KERNEL_VERSION(a, b, c)` from a release as libbpf reads `uname -r`
/// (`sscanf("%u.%u.%u")`, the patch level capped at 255).
pub fn kernel_version(release: &str) -> Option<u64> {
    let mut parts = [0u64; 3];
    let mut rest = release;
    for (i, p) in parts.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('.')?;
        }
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        *p = rest[..end].parse().ok()?;
        rest = &rest[end..];
    }
    Some((parts[0] << 16) + (parts[1] << 8) + parts[2].min(255))
}

impl super::flow::Knowns for KernelOffers {
    /// The values libbpf gives `__kconfig` externs on this kernel
    /// (`bpf_object__resolve_externs`), as far as the source tells them.
    fn kconfig(&self, name: &str) -> Result<u64, String> {
        match name {
            "LINUX_KERNEL_VERSION" => {
                let Some(r) = &self.release else {
                    return Err("the source does not tell the kernel's release".into());
                };
                kernel_version(r).ok_or_else(|| {
                    format!(
                        "the release {r} does not read as MAJOR.MINOR.PATCH, as libbpf parses it"
                    )
                })
            }
            // libbpf probes for the bpf_get_attach_cookie helper.
            "LINUX_HAS_BPF_COOKIE" => Ok(u64::from(
                self.helpers.values().any(|h| h == "bpf_get_attach_cookie"),
            )),
            n if n.starts_with("CONFIG_") => {
                let Some(c) = &self.config else {
                    return Err("no kernel config comes with this source".into());
                };
                use crate::check::config::ConfigValue;
                match c.config.get(n) {
                    // libbpf: absent from the config reads as 0 (for a weak extern; a strong
                    // one fails the load, which the kconfig requirement reports).
                    None | Some(ConfigValue::NotSet) => Ok(0),
                    Some(ConfigValue::Yes) => Ok(1),
                    Some(ConfigValue::Module) => Ok(2),
                    Some(ConfigValue::Value(v)) => {
                        let parsed = match v.strip_prefix("0x") {
                            Some(h) => u64::from_str_radix(h, 16).ok(),
                            None => v.parse::<i64>().ok().map(|x| x as u64),
                        };
                        parsed.ok_or_else(|| format!("{n} is the string \"{v}\""))
                    }
                }
            }
            _ => Err(format!("libbpf computes {name} on the running kernel")),
        }
    }

    fn describe(&self, name: &str, value: u64) -> String {
        match name {
            "LINUX_KERNEL_VERSION" => format!(
                "LINUX_KERNEL_VERSION = {}.{}.{}",
                value >> 16,
                (value >> 8) & 0xff,
                value & 0xff
            ),
            _ => format!("{name} = {value}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF: [1] INT, [2] FUNC_PROTO void(void), [3] FUNC f1, [4] FUNC f2.
    fn btf() -> Btf {
        let mut strings = b"\0int\0f1\0f2\0".to_vec();
        strings.resize(12, 0);
        let types = words(&[
            1,
            1 << 24,
            4,
            (1 << 24) | 32, // [1] INT int, 32 bits
            0,
            13 << 24,
            0, // [2] FUNC_PROTO
            5,
            12 << 24,
            2, // [3] FUNC f1
            8,
            12 << 24,
            2, // [4] FUNC f2
        ]);
        let mut raw = Vec::new();
        raw.extend_from_slice(&0xeb9fu16.to_le_bytes());
        raw.extend_from_slice(&[1, 0]);
        let len = types.len() as u32;
        raw.extend_from_slice(&words(&[24, 0, len, len, strings.len() as u32]));
        raw.extend_from_slice(&types);
        raw.extend_from_slice(&strings);
        Btf::parse(&raw).expect("test BTF")
    }

    fn words(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// A BTF_SET8 of FUNCs is found among other `.BTF_ids` contents; a set naming a non-FUNC,
    /// or plain id lists, are not taken for kfunc sets.
    #[test]
    fn kfunc_sets_are_found_by_shape() {
        let btf = btf();
        // A BTF_ID_LIST (ids 3, 4), a set8 naming an INT, then a kfunc set8 (flags 1) of 3, 4.
        let section = words(&[3, 4, 1, 0, 1, 0, 2, 1, 3, 0x11, 4, 0]);
        let found = kfuncs_from_btf_ids(&section, &btf);
        let mut names: Vec<_> = found.into_iter().collect();
        names.sort();
        assert_eq!(names, ["f1", "f2"]);
        assert!(kfuncs_from_btf_ids(&words(&[1, 0, 1, 0]), &btf).is_empty());
    }

    #[test]
    fn symbol_tables_keep_names() {
        let t = SymbolTable::parse(
            Path::new("System.map"),
            "ffffffff81000000 T _stext\nffffffff81001000 t do_unlinkat\n0000 T modfn [mod]\n",
        );
        assert!(t.names.contains("do_unlinkat") && t.names.contains("modfn"));
        assert_eq!(t.names.len(), 3);
    }

    #[test]
    fn kernel_version_reads_a_release_as_libbpf_does() {
        assert_eq!(kernel_version("6.1.0-57-amd64"), Some(0x06_01_00));
        assert_eq!(kernel_version("6.12.117+deb12-amd64"), Some(0x06_0c_75));
        // The patch level is capped at 255, as KERNEL_VERSION does.
        assert_eq!(kernel_version("5.10.300-foo"), Some(0x05_0a_ff));
        assert_eq!(kernel_version("7.3-amd64"), None);
        assert_eq!(kernel_version("6.x"), None);
    }
}
