//! BTF sources: where `--btf SRC` reads types from.
//!
//! One entry point, [`load`], looks at the bytes (never the file name) and accepts:
//! raw BTF (`/sys/kernel/btf/*`, `.btf` files), an ELF with a `.BTF` section (vmlinux, `.bpf.o`),
//! a compressed kernel image (bzImage/vmlinuz with a gzip, xz, zstd or lz4 payload: the ELF
//! inside carries `.BTF`), a compressed stream of any of these, and a BTFHub archive
//! (`*.btf.tar.xz`: a tar holding one `.btf` file). Split BTF (kernel modules) sits on a base.
//!
//! Limits (refused with an error, never allocated): a decompressed stream may not exceed
//! [`MAX_DECOMPRESSED`], and nesting (compressed tar inside compressed stream ...) stops at
//! [`MAX_NESTING`] levels.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::btf::{detect_endian, Blob, Btf};
use crate::elf::{is_elf, ElfInfo};
use crate::error::InputError;
use crate::kernel_btf::MappedFile;

/// Where the running kernel exposes its BTF.
pub const SYSFS_VMLINUX: &str = "/sys/kernel/btf/vmlinux";
/// Largest decompressed payload accepted (a vmlinux with debug info is ~500 MiB).
pub(crate) const MAX_DECOMPRESSED: u64 = 1 << 30;
/// How many container layers (compression, tar, kernel image) are unwrapped at most.
pub const MAX_NESTING: usize = 4;

/// What kind of container the BTF came out of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    Raw,
    Elf {
        section: &'static str,
    },
    Compressed {
        format: Compression,
    },
    KernelImage {
        compression: Compression,
    },
    TarMember {
        member: String,
    },
    /// An arm64/riscv64 `Image` or an EFI zboot image (PE/EFI kernels).
    BootImage {
        kind: BootImage,
    },
    /// Raw BTF found by its header inside an image that has no ELF section table.
    Embedded {
        offset: usize,
    },
}

/// Kernel images that are not x86 bzImages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootImage {
    /// arm64 `Image` (magic `ARM\x64` at 0x38), plain or as an EFI PE file.
    Arm64,
    /// riscv64 `Image` (magic `RSC\x05` at 0x38).
    Riscv64,
    /// EFI zboot (`MZ`, `zimg` at 4): a compressed `Image` behind a small EFI decompressor;
    /// the PE machine tells the architecture.
    EfiZboot {
        compression: Compression,
        machine: u16,
    },
    /// s390x `image` (the IPL PSW at 8): a decompressor with the compressed kernel inside,
    /// found by trying the compression headers in it in file order.
    S390 { compression: Compression },
}

impl BootImage {
    pub fn describe(self) -> String {
        match self {
            BootImage::Arm64 => "arm64 Image".into(),
            BootImage::Riscv64 => "riscv64 Image".into(),
            BootImage::EfiZboot { compression, .. } => {
                format!("EFI zboot image ({})", compression.name())
            }
            BootImage::S390 { compression } => {
                format!("s390x image ({})", compression.name())
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
    Lz4Legacy,
    Lz4Frame,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Lz4Legacy => "lz4 (legacy)",
            Compression::Lz4Frame => "lz4",
        }
    }
}

/// Loaded BTF and how it was found.
pub struct BtfSource {
    pub path: PathBuf,
    /// The parsed BTF; `btf.raw_bytes()` is the `.BTF` blob as found, for handing to libbpf.
    pub btf: Btf,
    /// Containers unwrapped, outermost first.
    pub containers: Vec<Container>,
    /// Kernel release when the source tells it (a bzImage header, or the running kernel).
    pub release: Option<String>,
    pub base_path: Option<PathBuf>,
}

impl BtfSource {
    /// The kernel release the source names: a bzImage header (or the running kernel), else a
    /// BTFHub member `<release>.btf`.
    pub fn named_release(&self) -> Option<String> {
        self.release.clone().or_else(|| {
            self.containers.iter().find_map(|c| match c {
                Container::TarMember { member } => Path::new(member)
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".btf")
                    .map(str::to_owned),
                _ => None,
            })
        })
    }

    /// "raw BTF", "ELF .BTF", "xz kernel image > ELF .BTF", for reports.
    pub fn describe(&self) -> String {
        if self.containers.is_empty() {
            return "raw BTF".into();
        }
        self.containers
            .iter()
            .map(|c| match c {
                Container::Raw => "raw BTF".to_string(),
                Container::Elf { section } => format!("ELF {section}"),
                Container::Compressed { format } => format!("{} stream", format.name()),
                Container::KernelImage { compression } => {
                    format!("kernel image ({})", compression.name())
                }
                Container::TarMember { member } => format!("tar member {member}"),
                Container::BootImage { kind } => kind.describe(),
                Container::Embedded { offset } => format!("raw BTF at offset {offset:#x}"),
            })
            .collect::<Vec<_>>()
            .join(" > ")
    }
}

/// Largest input file read (a vmlinux with full debug info is ~1 GiB).
pub(crate) const MAX_FILE_SIZE: u64 = 4 << 30;

/// Read a regular file, with errors that name it.
///
/// The file is opened non-blocking and checked with `fstat` before anything is read, so a FIFO
/// with no writer (which would block `open` and `read` forever), a socket, a device or a
/// directory is refused at once; the blocking behaviour of regular files is unaffected.
pub fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| InputError::io(path, e))?;
    let meta = file.metadata().map_err(|e| InputError::io(path, e))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(InputError::IsDirectory { path: path.into() });
    }
    if !ft.is_file() {
        let what = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_char_device() {
            "a character device"
        } else {
            "a block device"
        };
        return Err(InputError::invalid(
            path,
            format!("is {what}, expected a regular file"),
        ));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_big(path, meta.len()));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    let n = file
        .take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut data)
        .map_err(|e| InputError::io(path, e))?;
    if n as u64 > MAX_FILE_SIZE {
        return Err(too_big(path, n as u64));
    }
    Ok(data)
}

fn too_big(path: &Path, len: u64) -> InputError {
    InputError::invalid(
        path,
        format!(
            "file is {} MiB, more than the {} MiB coretool reads; refusing",
            len >> 20,
            MAX_FILE_SIZE >> 20
        ),
    )
}

/// Load BTF from `path` (default: the running kernel's), on top of `base` for split BTF.
///
/// A module's BTF under `/sys/kernel/btf/` gets `/sys/kernel/btf/vmlinux` as its base when no
/// base is given, as bpftool does.
pub fn load(path: Option<&Path>, base: Option<&Path>) -> Result<BtfSource, InputError> {
    let path = path.unwrap_or(Path::new(SYSFS_VMLINUX));
    // The kernel's own BTF files can be mapped (Linux 6.16 and later): no copy, no memory of
    // ours. Older kernels refuse the mapping, and then the file is read like any other.
    if path.starts_with("/sys/kernel/btf") {
        if let Ok(m) = MappedFile::map(path) {
            if detect_endian(&m).is_some() {
                return finish(path, Blob::Mapped(m), base, Vec::new(), None);
            }
        }
    }
    let data = read_file(path)?;
    build(path, data, base, MAX_DECOMPRESSED)
}

/// [`load`] on bytes already in memory, with no `--base` (split BTF is refused unless `path`
/// lies under `/sys/kernel/btf`; `path` only names the input in messages), and a lower bound
/// than [`MAX_DECOMPRESSED`] on each decompressed layer (and on xz/zstd decoder memory), for
/// fuzzing under a memory limit.
pub fn from_bytes_limited(
    path: &Path,
    data: Vec<u8>,
    max_decompressed: u64,
) -> Result<BtfSource, InputError> {
    build(path, data, None, max_decompressed.min(MAX_DECOMPRESSED))
}

/// Raw base BTF at `path` whose type graph this parser checked before, on these very bytes
/// (the caller proves it, as the BTF cache does with a CRC-32 of them): parsed with every
/// bound checked but without the walk for reference cycles. `refs_past_end` is the earlier
/// walk's finding.
pub fn from_checked_bytes(
    path: &Path,
    data: Vec<u8>,
    refs_past_end: bool,
) -> Result<BtfSource, InputError> {
    if detect_endian(&data).is_none() || raw_is_split(&data) {
        return Err(InputError::invalid(path, "not raw base BTF"));
    }
    let btf = Btf::from_checked_blob(Blob::Owned(data), refs_past_end).map_err(|cause| {
        InputError::Btf {
            path: path.into(),
            cause,
        }
    })?;
    Ok(BtfSource {
        path: path.to_path_buf(),
        btf,
        containers: Vec::new(),
        release: None,
        base_path: None,
    })
}

fn build(
    path: &Path,
    data: Vec<u8>,
    base: Option<&Path>,
    limit: u64,
) -> Result<BtfSource, InputError> {
    let mut containers = Vec::new();
    let mut release = None;
    let raw = unwrap_btf(path, data, &mut containers, &mut release, 0, limit)?;
    finish(path, Blob::Owned(raw), base, containers, release)
}

/// Parse the unwrapped BTF blob, on its base when it is split BTF.
fn finish(
    path: &Path,
    raw: Blob,
    base: Option<&Path>,
    containers: Vec<Container>,
    mut release: Option<String>,
) -> Result<BtfSource, InputError> {
    let needs_base = !raw.is_empty() && raw_is_split(&raw);
    let base_path = match (base, needs_base) {
        (Some(b), _) => Some(b.to_path_buf()),
        (None, true) if path.starts_with("/sys/kernel/btf") => Some(PathBuf::from(SYSFS_VMLINUX)),
        (None, true) => {
            return Err(InputError::invalid(
                path,
                "this is split BTF (a kernel module's): pass the vmlinux BTF it was built against with --base",
            ))
        }
        (None, false) => None,
    };
    let base_btf = match (&base_path, needs_base) {
        (Some(b), true) => Some(load(Some(b), None)?.btf),
        _ => None,
    };
    let btf = Btf::from_blob(raw, base_btf).map_err(|cause| InputError::Btf {
        path: path.into(),
        cause,
    })?;
    if release.is_none() && path == Path::new(SYSFS_VMLINUX) {
        release = crate::host::uname().ok().map(|u| u.release);
    }
    Ok(BtfSource {
        path: path.to_path_buf(),
        btf,
        containers,
        release,
        base_path: if needs_base { base_path } else { None },
    })
}

/// Split BTF has a string section that does not start with the empty string.
fn raw_is_split(raw: &[u8]) -> bool {
    let Some(endian) = detect_endian(raw) else {
        return false;
    };
    if raw.len() < 24 {
        return false;
    }
    let w = |o: usize| endian.u32(raw[o..o + 4].try_into().unwrap()) as usize;
    let (hdr_len, str_off, str_len) = (w(4), w(16), w(20));
    let start = hdr_len.saturating_add(str_off);
    str_len > 0 && raw.get(start).is_some_and(|&b| b != 0)
}

fn unwrap_btf(
    path: &Path,
    data: Vec<u8>,
    containers: &mut Vec<Container>,
    release: &mut Option<String>,
    depth: usize,
    limit: u64,
) -> Result<Vec<u8>, InputError> {
    if depth > MAX_NESTING {
        return Err(InputError::invalid(
            path,
            format!("more than {MAX_NESTING} nested containers; giving up"),
        ));
    }
    if data.is_empty() {
        let why = if depth == 0 {
            "file is empty"
        } else {
            "decompressed data is empty"
        };
        return Err(InputError::invalid(path, why));
    }
    if detect_endian(&data).is_some() {
        if depth == 0 {
            return Ok(data);
        }
        containers.push(Container::Raw);
        return Ok(data);
    }
    if is_elf(&data) {
        let elf = ElfInfo::parse(&data).map_err(|e| InputError::invalid(path, format!("{e}")))?;
        let btf = elf.section(".BTF").ok_or_else(|| {
            let why = if elf.is_bpf() {
                "BPF object has no .BTF section (compile it with clang -g)".to_owned()
            } else {
                format!(
                    "{} ELF file has no .BTF section (a vmlinux needs CONFIG_DEBUG_INFO_BTF=y)",
                    machine_name(elf.machine)
                )
            };
            InputError::invalid(path, why)
        })?;
        containers.push(Container::Elf { section: ".BTF" });
        return Ok(btf.to_vec());
    }
    if let Some(image) = kernel_image_payload(&data) {
        let (compression, payload) = image.map_err(|why| InputError::invalid(path, why))?;
        if release.is_none() {
            *release = bzimage_release(&data);
        }
        let inner = decompress(path, compression, payload, limit)?;
        // Each layer is freed before the next is unwrapped: peak memory is two layers.
        drop(data);
        containers.push(Container::KernelImage { compression });
        return unwrap_btf(path, inner, containers, release, depth + 1, limit);
    }
    if is_s390_image(&data) {
        let (compression, offset, inner) = s390_payload(path, &data, limit)?;
        drop(data);
        containers.push(Container::BootImage {
            kind: BootImage::S390 { compression },
        });
        if release.is_none() {
            *release = banner_release(&inner);
        }
        let (at, len) = find_embedded_btf(&inner).ok_or_else(|| {
            InputError::invalid(
                path,
                format!(
                    "s390x image: the {} payload at byte {offset} holds no BTF (no valid BTF \
                     header in it; the kernel needs CONFIG_DEBUG_INFO_BTF=y)",
                    compression.name()
                ),
            )
        })?;
        containers.push(Container::Embedded { offset: at });
        return Ok(inner[at..at + len].to_vec());
    }
    if let Some(image) = boot_image(&data) {
        let kind = image.map_err(|why| InputError::invalid(path, why))?;
        containers.push(Container::BootImage { kind });
        if let BootImage::EfiZboot { compression, .. } = kind {
            let inner = decompress(path, compression, zboot_payload(&data), limit)?;
            drop(data);
            // An arm64/riscv64 Image or an ELF inside is unwrapped as such; the raw image of
            // another architecture (loongarch64's) is searched for its BTF header.
            let known = is_elf(&inner) || matches!(boot_image(&inner), Some(Ok(_)));
            if known {
                return unwrap_btf(path, inner, containers, release, depth + 1, limit);
            }
            return embedded(path, inner, kind, containers, release);
        }
        return embedded(path, data, kind, containers, release);
    }
    if let Some(format) = compression_of(&data) {
        let inner = decompress(path, format, &data, limit)?;
        drop(data);
        containers.push(Container::Compressed { format });
        return unwrap_btf(path, inner, containers, release, depth + 1, limit);
    }
    if is_tar(&data) {
        let (member, inner) = tar_btf_member(path, &data, limit)?;
        drop(data);
        containers.push(Container::TarMember { member });
        return unwrap_btf(path, inner, containers, release, depth + 1, limit);
    }
    Err(InputError::invalid(
        path,
        "not a BTF source: expected raw BTF (magic 0xeb9f), an ELF with .BTF, a vmlinuz/bzImage, \
         an arm64/riscv64 Image, EFI zboot or s390x image, a gzip/xz/zstd/lz4 stream or a \
         BTFHub .btf.tar.xz",
    ))
}

/// A kernel image without ELF sections (`kind`): its BTF found by its header, its release by
/// the `Linux version` banner.
fn embedded(
    path: &Path,
    mut data: Vec<u8>,
    kind: BootImage,
    containers: &mut Vec<Container>,
    release: &mut Option<String>,
) -> Result<Vec<u8>, InputError> {
    let (offset, len) = find_embedded_btf(&data).ok_or_else(|| {
        InputError::invalid(
            path,
            format!(
                "{} holds no BTF (no valid BTF header in it; the kernel needs \
                 CONFIG_DEBUG_INFO_BTF=y)",
                kind.describe()
            ),
        )
    })?;
    containers.push(Container::Embedded { offset });
    if release.is_none() {
        *release = banner_release(&data);
    }
    data.truncate(offset + len);
    data.drain(..offset);
    Ok(data)
}

/// An s390x kernel `image`: it starts with an IPL PSW and two CCWs (arch/s390/boot/head.S),
/// the bytes file(1) knows it by.
fn is_s390_image(data: &[u8]) -> bool {
    const IPL: [u8; 16] = [
        0x02, 0x00, 0x00, 0x18, 0x60, 0x00, 0x00, 0x50, 0x02, 0x00, 0x00, 0x68, 0x60, 0x00, 0x00,
        0x50,
    ];
    data.get(8..24) == Some(&IPL[..])
}

/// How many compression headers in an s390x image are tried before giving up: the
/// decompressor's own code holds a few magic constants before the real payload.
const S390_CANDIDATES: usize = 16;

/// The compressed kernel inside an s390x image: its compression, its offset in the image and
/// its decompressed bytes. The image has no header that points at the payload (the
/// decompressor finds it by a linker symbol), so every gzip, xz, zstd or lz4 header is tried
/// in file order, and the first that decompresses to data with a BTF header in it wins.
fn s390_payload(
    path: &Path,
    data: &[u8],
    limit: u64,
) -> Result<(Compression, usize, Vec<u8>), InputError> {
    let magics: [(&[u8], Compression); 4] = [
        (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], Compression::Xz),
        (&[0x1f, 0x8b, 0x08], Compression::Gzip),
        (&[0x02, 0x21, 0x4c, 0x18], Compression::Lz4Legacy),
    ];
    let mut tried = 0;
    let mut pos = 0;
    while pos < data.len() && tried < S390_CANDIDATES {
        let next = magics
            .iter()
            .filter_map(|(m, c)| {
                data[pos..]
                    .windows(m.len())
                    .position(|w| w == *m)
                    .map(|i| (pos + i, *c))
            })
            .min_by_key(|(i, _)| *i);
        let Some((at, c)) = next else { break };
        tried += 1;
        if let Ok(inner) = decompress(path, c, &data[at..], limit) {
            if find_embedded_btf(&inner).is_some() {
                return Ok((c, at, inner));
            }
        }
        pos = at + 1;
    }
    Err(InputError::invalid(
        path,
        format!(
            "s390x image: none of the {tried} compressed payload candidates in it holds BTF \
             (the kernel needs CONFIG_DEBUG_INFO_BTF=y)"
        ),
    ))
}

/// Section `name` of the kernel ELF a source holds: a vmlinux itself, or the vmlinux a bzImage
/// or a compressed stream wraps (for `.BTF_ids`, which raw BTF does not carry). `None` when the
/// source holds no ELF (raw BTF, an archive, an arm64 `Image`) or the ELF lacks the section.
pub fn kernel_elf_section(path: &Path, mut data: Vec<u8>, name: &str) -> Option<Vec<u8>> {
    for _ in 0..MAX_NESTING {
        if is_elf(&data) {
            let elf = ElfInfo::parse(&data).ok()?;
            return elf.section(name).map(<[u8]>::to_vec);
        }
        let inner = if let Some(image) = kernel_image_payload(&data) {
            let (compression, payload) = image.ok()?;
            decompress(path, compression, payload, MAX_DECOMPRESSED).ok()?
        } else if let Some(format) = compression_of(&data) {
            decompress(path, format, &data, MAX_DECOMPRESSED).ok()?
        } else {
            return None;
        };
        data = inner;
    }
    None
}

fn compression_of(data: &[u8]) -> Option<Compression> {
    if data.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some(Compression::Xz)
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if data.starts_with(&[0x02, 0x21, 0x4c, 0x18]) {
        Some(Compression::Lz4Legacy)
    } else if data.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        Some(Compression::Lz4Frame)
    } else {
        None
    }
}

/// A bzImage: the x86 boot protocol header (`HdrS` at 0x202) gives the compressed payload's
/// offset (`payload_offset` at 0x248, relative to the protected-mode code that starts after
/// `setup_sects`) and length (0x24c). `None`: not a bzImage; `Some(Err)`: a bzImage whose
/// payload cannot be read (truncated, or compressed with a format we do not decode).
fn kernel_image_payload(data: &[u8]) -> Option<Result<(Compression, &[u8]), String>> {
    if data.len() < 0x250 || &data[0x202..0x206] != b"HdrS" {
        return None;
    }
    let setup_sects = match data[0x1f1] {
        0 => 4,
        n => n as usize,
    };
    let rd = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap()) as usize;
    let start = (setup_sects + 1) * 512 + rd(0x248);
    let end = start.saturating_add(rd(0x24c));
    let Some(payload) = data.get(start..end) else {
        return Some(Err(format!(
            "kernel image is truncated: its payload spans bytes {start}..{end} of a {}-byte file",
            data.len()
        )));
    };
    Some(match compression_of(payload) {
        Some(c) => Ok((c, payload)),
        None => Err(format!(
            "kernel image payload is not gzip, xz, zstd or lz4 (starts with {:02x?}); \
             bzip2, lzma and lzo kernels are not supported",
            &payload[..payload.len().min(4)]
        )),
    })
}

/// An arm64/riscv64 `Image` or an EFI zboot image. `None`: neither; `Some(Err)`: a zboot
/// image whose payload cannot be read.
fn boot_image(data: &[u8]) -> Option<Result<BootImage, String>> {
    if data.len() < 0x40 {
        return None;
    }
    // linux/Documentation/arch/arm64/booting.rst and riscv/boot-image-header.rst: the magic
    // sits at 0x38 in both, whether or not the image also starts with an EFI "MZ" stub.
    match &data[0x38..0x3c] {
        b"ARM\x64" => return Some(Ok(BootImage::Arm64)),
        b"RSC\x05" => return Some(Ok(BootImage::Riscv64)),
        _ => {}
    }
    // drivers/firmware/efi/libstub/zboot-header.S: "MZ", 2 bytes, "zimg", payload offset and
    // size (u32 LE), 8 reserved bytes, the compression's name (NUL-padded), PE offset at 0x3c.
    if &data[0..2] != b"MZ" || &data[4..8] != b"zimg" {
        return None;
    }
    let name_end = data[24..56].iter().position(|&b| b == 0).unwrap_or(32);
    let name = String::from_utf8_lossy(&data[24..24 + name_end]).into_owned();
    let compression = match name.as_str() {
        "gzip" => Compression::Gzip,
        "xz" => Compression::Xz,
        "zstd" => Compression::Zstd,
        "lz4" => Compression::Lz4Legacy,
        other => {
            return Some(Err(format!(
                "EFI zboot image compressed with {other:?}, which coretool does not decode \
                 (gzip, xz, zstd, lz4)"
            )))
        }
    };
    let rd = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap()) as usize;
    let (start, size) = (rd(8), rd(12));
    if start.checked_add(size).is_none_or(|end| end > data.len()) {
        return Some(Err(format!(
            "EFI zboot image is truncated: its payload spans bytes {start}..{} of a {}-byte file",
            start.saturating_add(size),
            data.len()
        )));
    }
    let pe = rd(0x3c);
    let machine = data
        .get(pe..pe + 6)
        .filter(|h| &h[..4] == b"PE\0\0")
        .map_or(0, |h| u16::from_le_bytes([h[4], h[5]]));
    Some(Ok(BootImage::EfiZboot {
        compression,
        machine,
    }))
}

/// The compressed payload of an EFI zboot image ([`boot_image`] checked its bounds).
fn zboot_payload(data: &[u8]) -> &[u8] {
    let rd = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap()) as usize;
    &data[rd(8)..rd(8) + rd(12)]
}

/// How many BTF headers found in an image are parsed at most, largest first.
const MAX_EMBEDDED_ATTEMPTS: usize = 16;

/// Find the kernel's BTF inside an image with no section table, by its header: magic 0xeb9f
/// in either byte order, version 1, a header length of 24 to 256 bytes, a type section and a
/// string section that lie inside the image, a string section starting with the empty string.
/// Every header that passes is parsed; the largest BTF that parses wins (an image may embed a
/// small BPF object, the preloaded iterators, with its own BTF). Returns (offset, length).
pub fn find_embedded_btf(data: &[u8]) -> Option<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    while pos + 24 <= data.len() {
        let window = &data[pos..];
        let Some(i) = window
            .windows(4)
            .position(|w| w == [0x9f, 0xeb, 1, 0] || w == [0xeb, 0x9f, 1, 0])
        else {
            break;
        };
        let at = pos + i;
        if let Some(len) = btf_header_len(&data[at..]) {
            found.push((at, len));
        }
        pos = at + 1;
    }
    found.sort_by_key(|&(_, len)| std::cmp::Reverse(len));
    // Each attempt parses up to the whole image: a bounded number of them, so that an image
    // full of fake headers costs a few parses, not one per header.
    found
        .into_iter()
        .take(MAX_EMBEDDED_ATTEMPTS)
        .find(|&(at, len)| Btf::parse(&data[at..at + len]).is_ok())
}

/// The total length of the BTF whose header starts `data`, if the header is sane.
fn btf_header_len(data: &[u8]) -> Option<usize> {
    let endian = detect_endian(data)?;
    if data.len() < 24 || data[2] != 1 {
        return None;
    }
    let w = |o: usize| endian.u32(data[o..o + 4].try_into().unwrap()) as usize;
    let (hdr_len, type_off, type_len, str_off, str_len) = (w(4), w(8), w(12), w(16), w(20));
    if !(24..=256).contains(&hdr_len) || type_len == 0 || str_len == 0 {
        return None;
    }
    let (end_types, end_strs) = (
        type_off.checked_add(type_len)?,
        str_off.checked_add(str_len)?,
    );
    if type_off < end_strs && str_off < end_types {
        return None; // the sections overlap
    }
    let end = hdr_len.checked_add(end_types.max(end_strs))?;
    if end > data.len() || data[hdr_len + str_off] != 0 {
        return None;
    }
    Some(end)
}

/// The release in the kernel's banner (`Linux version 6.1.0-26-arm64 (...)`), which an
/// uncompressed image carries in its read-only data.
fn banner_release(data: &[u8]) -> Option<String> {
    const BANNER: &[u8] = b"Linux version ";
    let at = data.windows(BANNER.len()).position(|w| w == BANNER)?;
    let s = &data[at + BANNER.len()..];
    let end = s.iter().take(128).position(|&b| b == b' ' || b == 0)?;
    let release = std::str::from_utf8(&s[..end]).ok()?;
    // The format string "Linux version %s" would match too.
    (!release.is_empty() && !release.contains('%')).then(|| release.to_owned())
}

/// `e_machine` in words, for error messages.
fn machine_name(machine: u16) -> String {
    match machine {
        3 => "i386".into(),
        40 => "ARM".into(),
        62 => "x86-64".into(),
        183 => "AArch64".into(),
        243 => "RISC-V".into(),
        crate::elf::EM_BPF => "BPF".into(),
        n => format!("machine {n}"),
    }
}

/// The release string a bzImage carries (`kernel_version` at 0x20e points into the setup code).
fn bzimage_release(data: &[u8]) -> Option<String> {
    let ptr = u16::from_le_bytes([data[0x20e], data[0x20f]]) as usize;
    let s = data.get(ptr + 0x200..)?;
    let end = s.iter().take(256).position(|&b| b == 0 || b == b' ')?;
    std::str::from_utf8(&s[..end]).ok().map(str::to_owned)
}

fn limited_read(path: &Path, r: impl Read, what: &str, limit: u64) -> Result<Vec<u8>, InputError> {
    limited_read_sized(path, r, what, limit, 0)
}

/// [`limited_read`] into a buffer of `size` bytes to start with (what a tar header says its
/// member holds, bounded by `limit`), so that a large member is not copied as the buffer grows.
fn limited_read_sized(
    path: &Path,
    mut r: impl Read,
    what: &str,
    limit: u64,
    size: u64,
) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::with_capacity(size.min(limit.saturating_add(1)).min(1 << 30) as usize);
    let n = (&mut r)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            // zstd refuses a frame whose window exceeds `window_log_max` with this text.
            let why = if e.to_string().contains("requires too much memory") {
                format!(
                    "{what} frame needs a window larger than {} MiB; refusing",
                    limit.div_ceil(1 << 20)
                )
            } else {
                format!("{what} data is corrupt: {e}")
            };
            InputError::invalid(path, why)
        })?;
    if n as u64 > limit {
        return Err(expands_beyond(path, what, limit));
    }
    Ok(out)
}

fn expands_beyond(path: &Path, what: &str, limit: u64) -> InputError {
    InputError::invalid(
        path,
        format!(
            "{what} data expands beyond {} MiB; refusing",
            limit.div_ceil(1 << 20)
        ),
    )
}

fn decompress(path: &Path, c: Compression, data: &[u8], limit: u64) -> Result<Vec<u8>, InputError> {
    match c {
        Compression::Gzip => limited_read(path, flate2::read::GzDecoder::new(data), "gzip", limit),
        Compression::Xz => xz_one_stream(path, data, limit),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(data)
                .map_err(|e| InputError::invalid(path, format!("zstd: {e}")))?
                .single_frame();
            // A frame header may ask for a window of up to 2 GiB, allocated before any
            // data is seen: no window larger than the output limit.
            let window_log = (63 - limit.max(1).leading_zeros()).clamp(10, 31);
            d.window_log_max(window_log)
                .map_err(|e| InputError::invalid(path, format!("zstd: {e}")))?;
            limited_read(path, d, "zstd", limit)
        }
        Compression::Lz4Frame => {
            limited_read(path, lz4_flex::frame::FrameDecoder::new(data), "lz4", limit)
        }
        Compression::Lz4Legacy => lz4_legacy(path, data, limit),
    }
}

/// Decode the first xz stream in `data` and ignore what follows it.
///
/// Kernel images append the uncompressed size (4 bytes) after the stream. xz2's `XzDecoder`
/// reports such trailing bytes as "corrupt xz stream", so drive liblzma directly and stop at
/// the end of the stream, as the kernel's own `unxz()` does.
fn xz_one_stream(path: &Path, data: &[u8], limit: u64) -> Result<Vec<u8>, InputError> {
    use xz2::stream::{Action, Error, Status, Stream};
    let corrupt =
        |e: &dyn std::fmt::Display| InputError::invalid(path, format!("xz data is corrupt: {e}"));
    // The memory limit bounds the dictionary a stream header may ask liblzma to allocate.
    let mut stream = Stream::new_stream_decoder(limit, 0).map_err(|e| corrupt(&e))?;
    let cap = (limit as usize).saturating_add(1);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(1 << 28).min(cap));
    let mut input = data;
    loop {
        if out.len() == out.capacity() {
            if out.len() as u64 > limit {
                return Err(expands_beyond(path, "xz", limit));
            }
            out.reserve(out.len().clamp(1 << 16, 1 << 26).min(cap - out.len()));
        }
        let (in_before, out_before) = (stream.total_in(), out.len());
        let status = stream
            .process_vec(input, &mut out, Action::Run)
            .map_err(|e| match e {
                Error::MemLimit => InputError::invalid(
                    path,
                    format!(
                        "xz stream needs more than {} MiB of decoder memory; refusing",
                        limit.div_ceil(1 << 20)
                    ),
                ),
                e => corrupt(&e),
            })?;
        input = &input[(stream.total_in() - in_before) as usize..];
        if status == Status::StreamEnd {
            return Ok(out);
        }
        let stalled = stream.total_in() == in_before && out.len() == out_before;
        if stalled && (input.is_empty() || out.len() < out.capacity()) {
            return Err(InputError::invalid(path, "xz data is truncated"));
        }
    }
}

/// The kernel's lz4 format (`lz4 -l`): magic, then blocks of `u32 size` + compressed block,
/// each decompressing to at most 8 MiB; the kernel appends the uncompressed size at the end.
fn lz4_legacy(path: &Path, data: &[u8], limit: u64) -> Result<Vec<u8>, InputError> {
    const BLOCK: usize = 8 << 20;
    let mut out = Vec::new();
    let mut pos = 4;
    let mut buf = vec![0u8; BLOCK];
    while pos + 4 <= data.len() {
        let size = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        if size == 0x184c2102 {
            pos += 4;
            continue;
        }
        pos += 4;
        let Some(block) = data.get(pos..pos.saturating_add(size)) else {
            if pos == data.len() {
                break; // the uncompressed size a kernel image appends
            }
            return Err(InputError::invalid(path, "lz4 data is truncated"));
        };
        let n = lz4_flex::block::decompress_into(block, &mut buf)
            .map_err(|e| InputError::invalid(path, format!("lz4 data is corrupt: {e}")))?;
        out.extend_from_slice(&buf[..n]);
        if out.len() as u64 > limit {
            return Err(expands_beyond(path, "lz4", limit));
        }
        pos += size;
        if n < BLOCK {
            break;
        }
    }
    if out.is_empty() {
        return Err(InputError::invalid(path, "lz4 data is empty or corrupt"));
    }
    Ok(out)
}

fn is_tar(data: &[u8]) -> bool {
    data.len() >= 512 && &data[257..262] == b"ustar"
}

/// The first regular file in a tar whose content is BTF or ELF (BTFHub archives hold one
/// `<release>.btf`).
fn tar_btf_member(path: &Path, data: &[u8], limit: u64) -> Result<(String, Vec<u8>), InputError> {
    let mut ar = tar::Archive::new(data);
    let entries = ar
        .entries()
        .map_err(|e| InputError::invalid(path, format!("tar archive is corrupt: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| InputError::invalid(path, format!("tar archive is corrupt: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let size = entry.header().size().unwrap_or(0);
        let content = limited_read_sized(path, &mut entry, "tar member", limit, size)?;
        if detect_endian(&content).is_some() || is_elf(&content) {
            return Ok((name, content));
        }
    }
    Err(InputError::invalid(path, "tar archive holds no BTF file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = xz2::read::XzEncoder::new(data, 6);
        enc.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn xz_stops_at_stream_end_like_a_kernel_image() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut payload = xz(&data);
        // What the kernel's build appends after the stream: the uncompressed size.
        payload.extend_from_slice(&(data.len() as u32).to_le_bytes());
        let got = xz_one_stream(Path::new("image"), &payload, MAX_DECOMPRESSED).unwrap();
        assert_eq!(got, data);
    }

    #[test]
    fn xz_truncated_is_an_error_naming_the_file() {
        let payload = xz(b"some bytes that compress into one small xz stream");
        for cut in [7, payload.len() / 2, payload.len() - 1] {
            let err =
                xz_one_stream(Path::new("image"), &payload[..cut], MAX_DECOMPRESSED).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("image: xz data is"), "cut at {cut}: {msg}");
        }
    }

    /// Every compression coretool reads stops at the limit instead of allocating what the
    /// stream expands to: 2 MiB of zeros against a 1 MiB limit.
    #[test]
    fn decompression_stops_at_the_limit() {
        use std::io::Write;
        let zeros = vec![0u8; 2 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&zeros).unwrap();
        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(&zeros).unwrap();
        for (what, data) in [
            ("gzip", gz.finish().unwrap()),
            ("xz", xz(&zeros)),
            ("zstd", zstd::encode_all(&zeros[..], 19).unwrap()),
            ("lz4", lz4.finish().unwrap()),
        ] {
            let err = from_bytes_limited(Path::new("bomb"), data, 1 << 20)
                .err()
                .unwrap_or_else(|| panic!("{what}: no error"));
            let want = if what == "xz" {
                // Its 8 MiB dictionary already exceeds the limit.
                "bomb: xz stream needs more than 1 MiB of decoder memory; refusing".to_owned()
            } else if what == "zstd" {
                // Its 2 MiB window already exceeds the limit.
                "bomb: zstd frame needs a window larger than 1 MiB; refusing".to_owned()
            } else {
                format!("bomb: {what} data expands beyond 1 MiB; refusing")
            };
            assert_eq!(err.to_string(), want);
        }
    }
}
