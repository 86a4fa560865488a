//! `coretool requires OBJ... [--btf SRC]...`: everything each program of each object needs
//! from a kernel (program and attach type, attach target, helpers, kfuncs and ksyms, Kconfig
//! externs, maps, global data, context arguments), checked offline against each kernel's BTF,
//! with a verdict per program and object.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use coretool::compat::{self, KernelId};
use coretool::dryrun::engine::{self, Mode, Target};
use coretool::error::InputError;
use coretool::libbpf::object::{load_attach_each, ObjectFile};
use coretool::reloc::Object;
use coretool::requires::{self, KernelOffers, Names, ObjectNeeds};
use coretool::source::{read_file, BtfSource};

use super::GlobalOpts;
use crate::exit::{EXIT_OK, EXIT_PROBLEMS};
use crate::output;
use crate::render::requires as render;
use crate::render::Style;

pub const LONG_ABOUT: &str =
    "Read what every program of each OBJ needs from a kernel, from the ELF \
alone: its program type and expected attach type as libbpf derives them from the SEC() name, its \
attach target (a function, tracepoint, LSM hook, iterator), the helpers it calls, the kfuncs, \
__ksym and __kconfig externs it uses, the maps (and their types) and global data it references, \
how far into its context it reads. Then check each need against each kernel's own BTF (enum \
bpf_func_id, bpf_prog_type, bpf_map_type and bpf_attach_type, FUNC records and their \
prototypes, bpf_kfunc decl tags, btf_trace_* typedefs), its config (config-REL next to a \
vmlinuz, /proc/config.gz for the running kernel) and its symbols (System.map-REL, \
/proc/kallsyms): each requirement is ok, missing (with the evidence) or unknown (with what was \
absent); unknown never counts as ok. Offline: no kernel is touched, no privilege needed.";

pub const AFTER_HELP: &str = "\
Verdicts: a program loads, fails (some requirement is missing; `load` or `attach` says when it
bites) or is unknown (some requirement cannot be told). An object loads, loads if the loader
turns off the failing programs (bpf_program__set_autoload) and maps (bpf_map__set_autocreate),
fails (no program can load) or is unknown.

Exit status:
  0  every program libbpf loads by default loads on every kernel
  1  some program cannot load (or attach) on some kernel
  2  coretool could not run (an object or a --btf source cannot be read)

Examples:
  coretool requires prog.bpf.o
  coretool requires prog.bpf.o --btf /boot/vmlinuz-5.10.0-46-amd64 --btf /sys/kernel/btf/vmlinux
  coretool requires *.bpf.o --btf ~/.cache/coretool/kernels --json";

#[derive(Debug, clap::Args)]
pub struct RequiresArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    #[command(flatten)]
    pub verbose: super::VerboseOpt,
    /// BPF objects (.bpf.o)
    #[arg(value_name = "OBJ", required = true)]
    pub objects: Vec<PathBuf>,
    /// Kernel sources: raw BTF, vmlinux, vmlinuz/bzImage, Image, BTFHub archive, Debian
    /// linux-image .deb, or a directory of them (repeatable) [default: the running kernel]
    #[arg(long, value_name = "SRC", num_args = 1..)]
    pub btf: Vec<PathBuf>,
    #[command(flatten)]
    pub cache: super::CacheOpts,
    /// Also load (and attach, where the section names a kernel target) each program on its own
    /// on the running kernel, with only the maps it uses, and compare with the prediction;
    /// everything is unloaded again. Needs root (or CAP_BPF and CAP_PERFMON); no --btf
    #[arg(long, conflicts_with = "btf")]
    pub live: bool,
    /// With --live: load each program on its own but attach none, so only what the kernel
    /// checks at load (BPF_PROG_LOAD, the verifier) is compared with the prediction
    #[arg(long, requires = "live")]
    pub no_attach: bool,
    /// Read no module BTF: judge each kernel as it runs with no module loaded. By default,
    /// when vmlinux's BTF lacks a target or kfunc an object needs, the modules that come with
    /// the source are searched (a package's lib/modules, the loaded ones in /sys/kernel/btf)
    #[arg(long)]
    pub no_modules: bool,
}

struct Kernel {
    id: KernelId,
    btf: BtfSource,
    offers: KernelOffers,
}

pub fn run(args: RequiresArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    // Every input is checked before any output.
    if args.live {
        coretool::host::privilege()
            .require_tracing()
            .map_err(anyhow::Error::from)?;
    }
    let mut objects: Vec<(String, ObjectNeeds, Object)> = Vec::new();
    for p in &args.objects {
        let data = read_file(p)?;
        let obj = Object::parse(p, data).map_err(|e| InputError::invalid(p, e.to_string()))?;
        let needs = requires::needs(&obj).map_err(|e| InputError::invalid(p, e.to_string()))?;
        objects.push((p.display().to_string(), needs, obj));
    }
    let sources = match args.btf.is_empty() {
        true => vec![PathBuf::from("/sys/kernel/btf/vmlinux")],
        false => args.btf.clone(),
    };
    let needs_kfuncs = objects.iter().any(|(_, n, _)| n.uses_kfuncs());
    let cache = args.cache.open();
    let mut kernels = Vec::new();
    for input in compat::expand(&sources) {
        let input = input.map_err(|u| anyhow::anyhow!("{}", u.reason))?;
        let k = compat::sources::read(&input, cache.as_ref()).map_err(|e| anyhow::anyhow!(e))?;
        let mut offers = requires::offers::of_source(
            &input.path,
            &k.id.name(),
            &k.btf.btf,
            k.id.release.as_deref(),
            needs_kfuncs,
            true,
            requires::offers::wanted_funcs(objects.iter().map(|(_, n, _)| n)),
        );
        // Something absent from vmlinux's BTF may be a module's: read them (once per kernel).
        if args.no_modules {
            offers.modules_off = true;
        } else if objects
            .iter()
            .any(|(_, n, _)| requires::offers::misses_module_names(n, &offers))
        {
            let raw = k.btf.btf.raw_bytes();
            requires::offers::add_modules(&mut offers, &input.path, k.id.release.as_deref(), raw);
        }
        kernels.push(Kernel {
            id: k.id,
            btf: k.btf,
            offers,
        });
    }
    // The cache stays within --cache-max, as after compat and btfgen.
    if let Some(cache) = &cache {
        cache.trim();
    }
    if kernels.is_empty() {
        anyhow::bail!(
            "no kernel found in the --btf sources ({})",
            sources
                .iter()
                .map(|s| s.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut names = Names::default();
    for (_, n, _) in &objects {
        names.learn(&n.helper_names);
    }
    for k in &kernels {
        names.learn(&k.offers.helpers);
    }
    let style = Style::new(g.color.enabled());
    let mut out = output::stdout();
    let mut fails = false;
    let mut first = true;
    let mut disagree = false;
    for (name, needs, obj) in &objects {
        let live = match args.live {
            false => None,
            true => {
                let file = ObjectFile {
                    path: &obj.path,
                    data: &obj.data,
                };
                Some(load_attach_each(
                    file,
                    &requires::live::programs(needs, !args.no_attach),
                )?)
            }
        };
        for k in &kernels {
            // The CO-RE half: libbpf's open and its relocation calculator, offline.
            let target = Target {
                btf: &k.btf,
                default_kernel: false,
            };
            let report = engine::run(obj, &target, Mode::Offline, false)
                .map_err(|e| anyhow::anyhow!("{name} on {}: {e}", k.id.name()))?;
            let core = requires::core::requirements(needs, &report);
            let r = requires::check_needs_with(needs, &k.offers, &names, &core);
            fails |= r.any_fails();
            if let Some(l) = &live {
                disagree |= r.programs.iter().any(|p| {
                    l.iter()
                        .find(|o| o.program == p.name)
                        .is_some_and(|o| requires::live::agrees(p, o) == Some(false))
                });
            }
            if g.json {
                render::write_records(&mut out, name, &k.id, &r, live.as_deref())?;
            } else {
                if !first {
                    writeln!(out)?;
                }
                first = false;
                let l = live.as_deref();
                render::write_text(&mut out, name, &k.id.name(), &r, l, g.verbose > 0, style)?;
            }
        }
    }
    fails |= disagree;
    out.flush()?;
    Ok(ExitCode::from(if fails { EXIT_PROBLEMS } else { EXIT_OK }))
}
