//! Fixtures made by editing bytes rather than by a compiler: a `.BTF.ext` damaged on purpose
//! (three ways libbpf rejects), and an ELF wrapped like an x86 bzImage.

use anyhow::{bail, ensure, Context, Result};

/// An ELF64 file's endianness and sections.
struct Elf {
    little: bool,
    /// (name, offset, size)
    sections: Vec<(String, usize, usize)>,
}

fn u16_at(d: &[u8], off: usize, little: bool) -> Result<u16> {
    let b: [u8; 2] = d.get(off..off + 2).context("ELF truncated")?.try_into()?;
    Ok(if little {
        u16::from_le_bytes(b)
    } else {
        u16::from_be_bytes(b)
    })
}

fn u32_at(d: &[u8], off: usize, little: bool) -> Result<u32> {
    let b: [u8; 4] = d.get(off..off + 4).context("ELF truncated")?.try_into()?;
    Ok(if little {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

fn u64_at(d: &[u8], off: usize, little: bool) -> Result<u64> {
    let b: [u8; 8] = d.get(off..off + 8).context("ELF truncated")?.try_into()?;
    Ok(if little {
        u64::from_le_bytes(b)
    } else {
        u64::from_be_bytes(b)
    })
}

fn put_u32(d: &mut [u8], off: usize, v: u32, little: bool) {
    let b = if little {
        v.to_le_bytes()
    } else {
        v.to_be_bytes()
    };
    d[off..off + 4].copy_from_slice(&b);
}

impl Elf {
    fn parse(d: &[u8]) -> Result<Self> {
        ensure!(
            d.starts_with(b"\x7fELF") && d.get(4) == Some(&2),
            "not an ELF64 file"
        );
        let little = d[5] == 1;
        let shoff = usize::try_from(u64_at(d, 0x28, little)?)?;
        let shentsize = usize::from(u16_at(d, 0x3a, little)?);
        let shnum = usize::from(u16_at(d, 0x3c, little)?);
        let shstrndx = usize::from(u16_at(d, 0x3e, little)?);
        let mut headers = Vec::new();
        for i in 0..shnum {
            let h = shoff + i * shentsize;
            let name = usize::try_from(u32_at(d, h, little)?)?;
            let off = usize::try_from(u64_at(d, h + 0x18, little)?)?;
            let size = usize::try_from(u64_at(d, h + 0x20, little)?)?;
            headers.push((name, off, size));
        }
        let strtab = headers.get(shstrndx).context("no section name table")?.1;
        let sections = headers
            .into_iter()
            .map(|(name, off, size)| {
                let start = strtab + name;
                let len = d[start..].iter().position(|&b| b == 0).unwrap_or(0);
                (
                    String::from_utf8_lossy(&d[start..start + len]).into_owned(),
                    off,
                    size,
                )
            })
            .collect();
        Ok(Elf { little, sections })
    }

    fn section(&self, name: &str) -> Result<(usize, usize)> {
        self.sections
            .iter()
            .find(|s| s.0 == name)
            .map(|s| (s.1, s.2))
            .with_context(|| format!("no {name} section"))
    }
}

/// How to damage a `.BTF.ext`.
#[derive(Debug, Clone, Copy)]
pub enum Corruption {
    /// Magic 0xeb9f -> 0x1460 (every bit of both bytes inverted).
    Magic,
    /// `core_relo_len` runs 64 bytes past the end of the section.
    Bounds,
    /// The CO-RE record size is 8, smaller than the 16-byte `bpf_core_relo`.
    RecSize,
}

/// A copy of the object `data` whose `.BTF.ext` is damaged as `how` says.
pub fn corrupt_ext(data: &[u8], how: Corruption) -> Result<Vec<u8>> {
    let elf = Elf::parse(data)?;
    let (off, size) = elf.section(".BTF.ext")?;
    let le = elf.little;
    let mut d = data.to_vec();
    // btf_ext_header: magic, version, flags, hdr_len, func_info off/len, line_info off/len,
    // core_relo off/len (offsets relative to the end of the header).
    let hdr_len = usize::try_from(u32_at(&d, off + 4, le)?)?;
    let relo_off = usize::try_from(u32_at(&d, off + 24, le)?)?;
    match how {
        Corruption::Magic => {
            d[off] ^= 0xff;
            d[off + 1] ^= 0xff;
        }
        Corruption::Bounds => {
            let len = u32::try_from(size - hdr_len - relo_off + 64)?;
            put_u32(&mut d, off + 28, len, le);
        }
        Corruption::RecSize => put_u32(&mut d, off + hdr_len + relo_off, 8, le),
    }
    Ok(d)
}

/// A minimal x86 bzImage around `payload`, compressed as `kind` (`gzip`, `xz`, `zstd`, `lz4`)
/// from `raw_len` bytes: boot sector and one setup sector with the boot protocol header
/// ("HdrS", the kernel_version string, payload_offset/payload_length), a stub, the payload (xz,
/// zstd and lz4 get the uncompressed size appended, as the kernel's Makefile.lib does; gzip
/// carries its own) and some trailing image bytes.
pub fn bzimage(release: &str, kind: &str, payload: &[u8], raw_len: u32) -> Result<Vec<u8>> {
    let mut payload = payload.to_vec();
    match kind {
        "xz" | "zstd" | "lz4" => payload.extend_from_slice(&raw_len.to_le_bytes()),
        "gzip" => {}
        _ => bail!("unknown compression {kind}"),
    }
    let setup_sects = 1u8;
    let mut img = vec![0u8; 512 * (1 + usize::from(setup_sects))];
    img[0x1fe..0x200].copy_from_slice(b"\x55\xaa");
    img[0x1f1] = setup_sects;
    img[0x202..0x206].copy_from_slice(b"HdrS");
    img[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes()); // boot protocol 2.15
    let version = format!("{release} (coretool@fixture) #1 SMP\0");
    img[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes()); // kernel_version, from 0x200
    img[0x300..0x300 + version.len()].copy_from_slice(version.as_bytes());
    let stub = [0x90u8; 64]; // the decompressor would live here
    img[0x248..0x24c].copy_from_slice(&u32::try_from(stub.len())?.to_le_bytes());
    img[0x24c..0x250].copy_from_slice(&u32::try_from(payload.len())?.to_le_bytes());
    img.extend_from_slice(&stub);
    img.extend_from_slice(&payload);
    img.extend_from_slice(&[0xcc; 32]);
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bzimage_has_the_boot_protocol_header() {
        let img = bzimage("6.99.0", "xz", b"abc", 7).unwrap();
        assert_eq!(&img[0x202..0x206], b"HdrS");
        assert_eq!(img.len(), 1024 + 64 + 3 + 4 + 32);
        assert_eq!(&img[1024 + 64 + 3..1024 + 64 + 7], &7u32.to_le_bytes());
        assert!(bzimage("6.99.0", "bz2", b"", 0).is_err());
    }

    #[test]
    fn not_an_elf_is_refused() {
        assert!(corrupt_ext(b"\x7fELF\x01", Corruption::Magic).is_err());
    }
}
