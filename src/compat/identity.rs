//! Who a kernel is: release, architecture, byte order, distribution and version, from
//! whatever the source tells (the image's header or banner, the package's control fields, the
//! BTFHub path, the file name) and, last, from the BTF itself.

use std::path::Path;

use crate::btf::{Btf, Endian};
use crate::source::{BootImage, BtfSource, Container};

use super::deb::Control;

/// A kernel's identity, as far as its source tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelId {
    /// The source path (a file, a `.deb`, or a file found in a directory).
    pub source: String,
    pub release: Option<String>,
    /// The kernel's architecture in the kernel's own words (`x86_64`, `arm64`, `riscv64`,
    /// `s390x`, `ppc64le`, `loongarch64`...).
    pub arch: Option<String>,
    /// `little` or `big` (the BTF's byte order); `None` only when the source was unreadable.
    pub endian: Option<Endian>,
    pub distro: Option<String>,
    pub version: Option<String>,
    /// How the BTF was found: the containers unwrapped, outermost first (`deb member
    /// ./boot/vmlinuz-6.1.0-57-amd64 > xz kernel image > ELF .BTF`).
    pub format: Option<String>,
}

impl KernelId {
    /// The release, else the source's file name: how a kernel is named in summaries.
    pub fn name(&self) -> String {
        self.release.clone().unwrap_or_else(|| {
            Path::new(&self.source)
                .file_name()
                .map_or_else(|| self.source.clone(), |f| f.to_string_lossy().into_owned())
        })
    }
}

/// Architecture names as packages and BTFHub spell them, in the kernel's words.
pub fn normalize_arch(name: &str) -> Option<&'static str> {
    Some(match name {
        "amd64" | "x86_64" | "x86-64" => "x86_64",
        "arm64" | "aarch64" => "arm64",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "ppc64el" | "ppc64le" => "ppc64le",
        "ppc64" => "ppc64",
        "loong64" | "loongarch64" => "loongarch64",
        "i386" | "i686" => "i386",
        "armhf" | "armel" | "arm" => "arm",
        "mips64el" => "mips64el",
        _ => return None,
    })
}

/// The architecture an ELF `e_machine` names.
fn elf_arch(machine: u16, endian: Endian) -> Option<&'static str> {
    Some(match (machine, endian) {
        (62, _) => "x86_64",
        (3, _) => "i386",
        (183, _) => "arm64",
        (243, _) => "riscv64",
        (22, _) => "s390x",
        (21, Endian::Little) => "ppc64le",
        (21, Endian::Big) => "ppc64",
        (258, _) => "loongarch64",
        _ => return None,
    })
}

/// The architecture a PE `Machine` field names (EFI zboot images).
fn pe_arch(machine: u16) -> Option<&'static str> {
    Some(match machine {
        0x8664 => "x86_64",
        0xaa64 => "arm64",
        0x5064 => "riscv64",
        0x6264 => "loongarch64",
        _ => return None,
    })
}

/// The architecture a kernel's BTF betrays: every architecture's `struct pt_regs` has members
/// the others lack.
pub fn btf_arch(btf: &Btf) -> Option<&'static str> {
    // A linear scan, stopping at the first match: cheaper than building the name index.
    let t = btf
        .types()
        .find(|t| t.is_composite() && btf.name_of(t) == "pt_regs")?;
    let names: Vec<&str> = t.members().filter_map(|m| btf.str_at(m.name_off)).collect();
    let has = |n: &str| names.contains(&n);
    Some(if has("r15") {
        "x86_64"
    } else if has("bx") {
        "i386"
    } else if has("orig_x0") {
        "arm64"
    } else if has("epc") {
        "riscv64"
    } else if has("psw") {
        "s390x"
    } else if has("gpr") || has("nip") {
        match btf.endian() {
            Endian::Little => "ppc64le",
            Endian::Big => "ppc64",
        }
    } else if has("csr_era") {
        "loongarch64"
    } else {
        return None;
    })
}

/// What the outer bytes of a kernel file say, before [`crate::source`] unwraps them.
#[derive(Debug, Clone, Default)]
pub struct Sniffed {
    pub arch: Option<&'static str>,
}

/// Look at a file's first bytes: an ELF's machine.
pub fn sniff(data: &[u8]) -> Sniffed {
    let mut s = Sniffed::default();
    if crate::elf::is_elf(data) && data.len() >= 20 {
        let endian = if data[5] == 2 {
            Endian::Big
        } else {
            Endian::Little
        };
        let machine = endian.u16([data[18], data[19]]);
        s.arch = elf_arch(machine, endian);
    }
    s
}

/// The architecture the containers of a source tell (an x86 bzImage, an arm64 Image...).
fn container_arch(src: &BtfSource) -> Option<&'static str> {
    src.containers.iter().find_map(|c| match c {
        Container::KernelImage { .. } => Some("x86_64"),
        Container::BootImage { kind } => match kind {
            BootImage::Arm64 => Some("arm64"),
            BootImage::Riscv64 => Some("riscv64"),
            BootImage::EfiZboot { machine, .. } => pe_arch(*machine),
            BootImage::S390 { .. } => Some("s390x"),
        },
        _ => None,
    })
}

/// A BTFHub path `.../distro/version/arch/<release>.btf.tar.xz` (or an unpacked
/// `<release>.btf` in the same layout): (distro, version, arch).
fn btfhub_path(path: &Path) -> Option<(String, String, &'static str)> {
    let parts: Vec<&str> = path.iter().map(|p| p.to_str().unwrap_or("")).collect();
    let n = parts.len();
    if n < 4 || !(parts[n - 1].ends_with(".btf.tar.xz") || parts[n - 1].ends_with(".btf")) {
        return None;
    }
    let arch = normalize_arch(parts[n - 2])?;
    Some((parts[n - 4].to_owned(), parts[n - 3].to_owned(), arch))
}

/// The release a file name tells: `vmlinuz-REL`, `vmlinux-REL`, `REL.btf`, `REL.btf.tar.xz`,
/// where REL starts with a digit as kernel releases do.
pub(crate) fn file_release(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let prefixed = ["vmlinuz-", "vmlinux-", "Image-", "bzImage-"]
        .iter()
        .find_map(|p| name.strip_prefix(p));
    let suffixed = || {
        [".btf.tar.xz", ".btf"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
    };
    prefixed
        .or_else(suffixed)
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
}

/// The Debian release a package version names: `+deb12u1` or `~bpo12+1` → `12`.
fn debian_version(version: &str) -> Option<String> {
    for marker in ["+deb", "~deb", "~bpo"] {
        if let Some(i) = version.find(marker) {
            let digits: String = version[i + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !digits.is_empty() {
                return Some(digits);
            }
        }
    }
    None
}

/// Everything known about a kernel read from `path`.
pub fn identify(
    path: &Path,
    src: &BtfSource,
    sniffed: &Sniffed,
    deb: Option<(&Control, Option<&str>)>,
) -> KernelId {
    let hub = btfhub_path(path);
    let package_arch = deb
        .and_then(|(c, _)| c.architecture.as_deref())
        .and_then(normalize_arch);
    let arch = sniffed
        .arch
        .or_else(|| container_arch(src))
        .or(package_arch)
        .or_else(|| hub.as_ref().map(|h| h.2));
    // The BTF settles it when nothing else did, and for x86, whose bzImages are i386 too.
    let arch = match arch {
        None | Some("x86_64") => btf_arch(&src.btf).or(arch),
        a => a,
    };
    // The image's own header first, then the package, then a BTFHub member name.
    let release = src
        .release
        .clone()
        .or_else(|| deb.and_then(|(_, r)| r.map(str::to_owned)))
        .or_else(|| src.named_release())
        .or_else(|| file_release(path));
    let (distro, version) = match (deb, &hub) {
        (Some((c, _)), _) => (
            Some("debian".to_owned()),
            c.version
                .as_deref()
                .and_then(debian_version)
                .or_else(|| c.package.as_deref().and_then(debian_version)),
        ),
        (None, Some((d, v, _))) => (Some(d.clone()), Some(v.clone())),
        (None, None) => (None, None),
    };
    KernelId {
        source: path.display().to_string(),
        release,
        arch: arch.map(str::to_owned),
        endian: Some(src.btf.endian()),
        distro,
        version,
        format: Some(src.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btfhub_layout() {
        let p = Path::new("/hub/ubuntu/20.04/x86_64/5.4.0-91-generic.btf.tar.xz");
        assert_eq!(
            btfhub_path(p),
            Some(("ubuntu".into(), "20.04".into(), "x86_64"))
        );
        assert_eq!(file_release(p).as_deref(), Some("5.4.0-91-generic"));
        assert_eq!(btfhub_path(Path::new("a/b/5.4.btf.tar.xz")), None);
        let raw = Path::new("fleet/debian/bookworm/arm64/6.1.0-57-arm64.btf");
        assert_eq!(
            btfhub_path(raw),
            Some(("debian".into(), "bookworm".into(), "arm64"))
        );
        assert_eq!(file_release(raw).as_deref(), Some("6.1.0-57-arm64"));
    }

    #[test]
    fn debian_versions() {
        assert_eq!(debian_version("6.1.158-1").as_deref(), None);
        assert_eq!(debian_version("6.1.115-1+deb12u1").as_deref(), Some("12"));
        assert_eq!(debian_version("6.12.57-1~bpo12+1").as_deref(), Some("12"));
        assert_eq!(
            debian_version("linux-image-6.12.117+deb13-riscv64").as_deref(),
            Some("13")
        );
    }
}
