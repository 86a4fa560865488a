//! `coretool vmlinux`: write a vmlinux.h (all types, as bpftool does) or a minimal header for
//! one BPF object (`--for`).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use coretool::btf::Btf;
use coretool::elf::{is_elf, ElfInfo};
use coretool::error::InputError;
use coretool::kernel_btf::MappedFile;
use coretool::libbpf::dump::CDumper;
use coretool::libbpf::LibbpfBtf;
use coretool::source::{self, BtfSource};
use coretool::vmlinux::{self, HeaderPlan};

use super::{BtfSourceArgs, GlobalOpts};

#[derive(Debug, clap::Args)]
pub struct VmlinuxArgs {
    #[command(flatten)]
    pub verbose: super::VerboseOpt,
    #[command(flatten)]
    pub source: BtfSourceArgs,
    /// Write the header to FILE instead of stdout; FILE appears only when complete
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Minimal header: only the types and kfuncs OBJ (a .bpf.o with BTF) refers to, plus what
    /// they need; -v lists the object's names the kernel BTF lacks
    #[arg(long = "for", value_name = "OBJ")]
    pub for_object: Option<PathBuf>,
    /// With --for: also this struct/union/enum/typedef, or the enum of this enumerator (for
    /// values BTF does not record, like BPF_MAP_TYPE_RINGBUF in a map definition); repeatable
    #[arg(long = "type", value_name = "NAME", requires = "for_object")]
    pub types: Vec<String>,
}

/// `--help` text of `coretool vmlinux`.
pub const LONG_ABOUT: &str = "Write a vmlinux.h: every type of the BTF as C, sorted as current \
bpftool sorts them, with the kfunc prototypes: byte for byte what `bpftool btf dump file SRC \
format c` writes with the same libbpf (1.7), plus the enums bpftool loses (the first type of its \
sort, anonymous enums only unprinted types use), added after bpftool's types so that every \
named type and enumerator is in the header. With --for, only the types one BPF object refers to.";

pub fn run(args: VmlinuxArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    if g.json {
        anyhow::bail!("--json: vmlinux writes a C header, it has no JSON form");
    }
    // Check every input before writing anything.
    let (btf, path, mapped_kernel) = load(&args.source)?;
    vmlinux::check_nesting(&btf).with_context(|| path.display().to_string())?;
    let plan = match &args.for_object {
        None => vmlinux::full_plan(&btf),
        Some(obj_path) => {
            let obj = object_btf(obj_path)?;
            let extra: Vec<&str> = args.types.iter().map(String::as_str).collect();
            let minimal = vmlinux::minimal_plan(&btf, &obj, &extra)
                .with_context(|| path.display().to_string())?;
            if g.verbose > 0 {
                for name in &minimal.unmatched {
                    eprintln!(
                        "coretool: {}: {name} is not in {}",
                        obj_path.display(),
                        path.display()
                    );
                }
            }
            minimal.plan
        }
    };
    let btf = if mapped_kernel {
        drop(btf);
        LibbpfBtf::load_vmlinux().map_err(anyhow::Error::from)
    } else {
        libbpf_btf(btf)
    }
    .with_context(|| path.display().to_string())?;
    match &args.output {
        None => {
            let mut out = crate::output::stdout();
            write(&btf, &plan, &mut out)?;
        }
        Some(path) => crate::output::write_atomic(path, |w| {
            write(&btf, &plan, w).with_context(|| path.display().to_string())
        })?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Parse the BTF source. The running kernel's BTF is mapped rather than read where the kernel
/// allows it (`true` in the result: libbpf can then map it too); everything else goes through
/// [`source::load`], whose raw copy is freed at once (libbpf gets a re-encoding of the parse).
fn load(args: &BtfSourceArgs) -> anyhow::Result<(Btf, PathBuf, bool)> {
    let sysfs = Path::new(source::SYSFS_VMLINUX);
    if args.base.is_none() && args.btf.as_deref().is_none_or(|p| p == sysfs) {
        if let Ok(map) = MappedFile::map(sysfs) {
            let btf = Btf::parse(&map).map_err(|cause| InputError::Btf {
                path: sysfs.into(),
                cause,
            })?;
            return Ok((btf, sysfs.into(), true));
        }
    }
    let BtfSource { btf, path, .. } = source::load(args.btf.as_deref(), args.base.as_deref())?;
    Ok((btf, path, false))
}

fn write(btf: &LibbpfBtf, plan: &HeaderPlan, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut d = CDumper::new(btf, out)?;
    vmlinux::write_header(&mut d, plan)?;
    d.finish()?;
    Ok(())
}

/// Hand the types to libbpf: the blob coretool parsed (and its base's, for split BTF), so the
/// ids agree. At most two copies of the BTF are alive at any time (as in bpftool): libbpf's
/// and the blob it copies from.
fn libbpf_btf(btf: Btf) -> anyhow::Result<LibbpfBtf> {
    let base = match btf.base() {
        Some(base) => Some(LibbpfBtf::new(base.raw_bytes())?),
        None => None,
    };
    let raw = btf.into_raw();
    Ok(match base {
        None => LibbpfBtf::new(&raw)?,
        Some(base) => LibbpfBtf::new_split(&raw, std::rc::Rc::new(base))?,
    })
}

/// The BTF of a BPF object (`--for`): refuses anything but an ELF for `EM_BPF` with `.BTF`.
pub fn object_btf(path: &Path) -> Result<Btf, InputError> {
    let data = source::read_file(path)?;
    if !is_elf(&data) {
        return Err(InputError::invalid(
            path,
            "not an ELF file (expected a BPF object from clang -target bpf -g)",
        ));
    }
    let elf = ElfInfo::parse(&data).map_err(|e| InputError::invalid(path, e.to_string()))?;
    if !elf.is_bpf() {
        return Err(InputError::invalid(
            path,
            format!(
                "not a BPF object (ELF machine {}, expected {} for BPF)",
                elf.machine,
                coretool::elf::EM_BPF
            ),
        ));
    }
    let btf = elf.section(".BTF").ok_or_else(|| {
        InputError::invalid(path, "BPF object has no .BTF section (compile with -g)")
    })?;
    Btf::parse(btf).map_err(|cause| InputError::Btf {
        path: path.into(),
        cause,
    })
}
