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
    /// FUNC records: name → number of arguments.
    pub funcs: NameTable,
    /// Functions tagged `bpf_kfunc` (`None`: this BTF has no such decl tags at all).
    pub kfuncs: Option<HashSet<String>>,
    /// Kfuncs found in the vmlinux's `.BTF_ids` sets, when the source is an image or ELF and
    /// its BTF has no decl tags.
    pub btf_ids_kfuncs: Option<HashSet<String>>,
    /// `btf_trace_NAME` typedefs: `NAME` → arguments of the tracepoint (the leading
    /// `void *__data` not counted).
    pub raw_tracepoints: HashMap<String, u32>,
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

fn proto_args(btf: &Btf, proto_id: u32) -> Option<u32> {
    let p = btf.skip_mods_and_typedefs(proto_id)?;
    (p.kind() == Kind::FuncProto).then(|| {
        let params = p.params();
        let n = params.len() as u32;
        // A trailing `...` is a parameter with type 0.
        let varargs = params.last().is_some_and(|l| l.type_id == 0);
        n - u32::from(varargs)
    })
}

impl KernelOffers {
    /// Read what `btf` offers (a kernel's vmlinux BTF; module BTF is not consulted).
    pub fn from_btf(name: &str, btf: &Btf) -> KernelOffers {
        let mut o = KernelOffers {
            name: name.to_owned(),
            ..KernelOffers::default()
        };
        // Sized up front: a vmlinux BTF is about 45% FUNCs and 17% enumerators (by type
        // count), and growing these tables type by type is a good part of the walk's cost.
        let count = btf.type_count() as usize;
        o.funcs = NameTable::with_capacity(count / 2, count * 8);
        o.enumerators = NameSet::with_capacity(count / 5, count * 4);
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
                    if let Some(n) = proto_args(btf, t.type_id()) {
                        o.funcs.insert(tname, n);
                    }
                }
                Kind::Typedef => {
                    if let Some(tp) = tname.strip_prefix("btf_trace_") {
                        let args = btf
                            .skip_mods_and_typedefs(t.type_id())
                            .filter(|p| p.kind() == Kind::Ptr)
                            .and_then(|p| proto_args(btf, p.type_id()));
                        if let Some(n) = args {
                            o.raw_tracepoints.insert(tp.to_owned(), n.saturating_sub(1));
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
        o.kinds = Kind::ALL
            .into_iter()
            .filter(|k| kinds[*k as usize])
            .collect();
        // `enum bpf_prog_type` and friends also live as enumerators; the enumerators set
        // keeps flags only.
        if any_tag {
            o.kfuncs = Some(
                tagged
                    .into_iter()
                    .filter_map(|id| btf.type_by_id(id))
                    .map(|t| btf.name_of(&t).to_owned())
                    .collect(),
            );
        }
        o
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
) -> KernelOffers {
    let (config, symbols) = companions(source, release);
    let mut offers = KernelOffers::from_btf(name, btf)
        .with_release(release.map(str::to_owned))
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
}
