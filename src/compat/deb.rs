//! Debian binary packages (`.deb`), read in memory: the kernel image and the control fields,
//! nothing unpacked to disk.
//!
//! A `.deb` is an `ar` archive (`!<arch>\n`, then 60-byte member headers) holding
//! `debian-binary`, `control.tar.{xz,zst,gz}` and `data.tar.{xz,zst,gz}`. The data tar is read
//! as a stream (decompressed as it is walked) up to the kernel image, so memory holds the image
//! only, never the package's modules. The kernel is `boot/vmlinuz-REL` (`boot/vmlinux-REL` on
//! riscv64), or in the meta-package layout of Debian's newest kernels
//! `usr/lib/modules/REL/vmlinuz` (`vmlinuz.unsigned` in `linux-binary-unsigned-REL`).

use std::io::Read;

/// The `ar` global header.
const AR_MAGIC: &[u8] = b"!<arch>\n";

/// Whether `data` is an `ar` archive (a `.deb`).
pub fn is_ar(data: &[u8]) -> bool {
    data.starts_with(AR_MAGIC)
}

/// One `ar` member: its name and bytes.
struct Member<'a> {
    name: String,
    data: &'a [u8],
}

/// The members of an `ar` archive, in order.
fn members(data: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = AR_MAGIC.len();
    while pos < data.len() {
        let Some(h) = data.get(pos..pos + 60) else {
            return Err(format!("ar archive is truncated at byte {pos}"));
        };
        if &h[58..60] != b"`\n" {
            return Err(format!("ar member header at byte {pos} is corrupt"));
        }
        let name = String::from_utf8_lossy(&h[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_owned();
        let size: usize = std::str::from_utf8(&h[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("ar member {name:?} has a corrupt size"))?;
        let start = pos + 60;
        let Some(body) = data.get(start..start.saturating_add(size)) else {
            return Err(format!("ar member {name:?} is truncated"));
        };
        out.push(Member { name, data: body });
        pos = start + size + (size & 1);
    }
    Ok(out)
}

/// What a kernel package says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Control {
    pub package: Option<String>,
    pub version: Option<String>,
    pub architecture: Option<String>,
}

/// A kernel image read out of a package.
#[derive(Debug)]
pub struct DebKernel {
    pub control: Control,
    /// The member's path in the data tar (`./boot/vmlinuz-6.1.0-26-amd64`).
    pub member: String,
    /// The release the member's name tells.
    pub release: Option<String>,
    pub image: Vec<u8>,
}

/// A reader that decompresses a `*.tar.{xz,zst,gz}` member (or passes a plain `.tar`).
fn tar_reader<'a>(m: &Member<'a>, limit: u64) -> Result<Box<dyn Read + 'a>, String> {
    let r: Box<dyn Read + 'a> = if m.name.ends_with(".xz") {
        // The memory limit bounds the dictionary a stream header may ask for.
        let stream = xz2::stream::Stream::new_stream_decoder(limit, 0)
            .map_err(|e| format!("{}: xz: {e}", m.name))?;
        Box::new(xz2::read::XzDecoder::new_stream(m.data, stream))
    } else if m.name.ends_with(".zst") {
        let mut d = zstd::stream::read::Decoder::with_buffer(m.data)
            .map_err(|e| format!("{}: zstd: {e}", m.name))?;
        // No window larger than the output limit (a frame header may ask for 2 GiB).
        let window_log = (63 - limit.max(1).leading_zeros()).clamp(10, 31);
        d.window_log_max(window_log)
            .map_err(|e| format!("{}: zstd: {e}", m.name))?;
        Box::new(d)
    } else if m.name.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(m.data))
    } else if m.name.ends_with(".tar") {
        Box::new(m.data)
    } else {
        return Err(format!("{}: unknown package member compression", m.name));
    };
    Ok(Box::new(r.take(limit)))
}

fn parse_control(text: &str) -> Control {
    let mut c = Control::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = Some(v.trim().to_owned());
        match k {
            "Package" => c.package = v,
            "Version" => c.version = v,
            "Architecture" => c.architecture = v,
            _ => {}
        }
    }
    c
}

/// The release in a kernel member's path, or `None` when the path is no kernel image.
fn kernel_member_release(path: &str) -> Option<String> {
    let path = path.trim_start_matches("./");
    // riscv64 packages call their (uncompressed, PE/EFI) image boot/vmlinux-REL.
    if let Some(rel) = path
        .strip_prefix("boot/vmlinuz-")
        .or_else(|| path.strip_prefix("boot/vmlinux-"))
    {
        return (!rel.contains('/')).then(|| rel.to_owned());
    }
    let rest = path
        .strip_prefix("usr/lib/modules/")
        .or_else(|| path.strip_prefix("lib/modules/"))?;
    let (rel, file) = rest.split_once('/')?;
    // linux-binary-unsigned-REL holds the image before signing as `vmlinuz.unsigned`.
    matches!(file, "vmlinuz" | "vmlinuz.unsigned").then(|| rel.to_owned())
}

/// Read the kernel image out of a `.deb`, each decompressed stream bounded by `limit` (also
/// the decoders' memory).
pub fn read_kernel(data: &[u8], limit: u64) -> Result<DebKernel, String> {
    let members = members(data)?;
    let control = members
        .iter()
        .find(|m| m.name.starts_with("control.tar"))
        .map(|m| -> Result<Control, String> {
            let mut ar = tar::Archive::new(tar_reader(m, limit)?);
            for e in ar.entries().map_err(|e| format!("{}: {e}", m.name))? {
                let mut e = e.map_err(|e| format!("{}: {e}", m.name))?;
                let is_control = e
                    .path()
                    .is_ok_and(|p| p.to_string_lossy().trim_start_matches("./") == "control");
                if is_control {
                    let mut s = String::new();
                    e.by_ref()
                        .take(1 << 20)
                        .read_to_string(&mut s)
                        .map_err(|e| format!("{}: {e}", m.name))?;
                    return Ok(parse_control(&s));
                }
            }
            Ok(Control::default())
        })
        .transpose()?
        .unwrap_or_default();
    let data_member = members
        .iter()
        .find(|m| m.name.starts_with("data.tar"))
        .ok_or("package has no data.tar member")?;
    let mut ar = tar::Archive::new(tar_reader(data_member, limit)?);
    let entries = ar
        .entries()
        .map_err(|e| format!("{}: {e}", data_member.name))?;
    for e in entries {
        let mut e = e.map_err(|e| format!("{}: {e}", data_member.name))?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let path = e
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(release) = kernel_member_release(&path) else {
            continue;
        };
        let size = e.size();
        if size > limit {
            return Err(format!(
                "{path} is larger than {} MiB; refusing",
                limit >> 20
            ));
        }
        let mut image = Vec::with_capacity(size.min(1 << 28) as usize);
        e.by_ref()
            .take(size)
            .read_to_end(&mut image)
            .map_err(|err| format!("{}: {path}: {err}", data_member.name))?;
        // A stream that ends early (or at the limit) gives a short member, not an error.
        if image.len() as u64 != size {
            return Err(format!(
                "{}: {path} is truncated ({} of {size} bytes)",
                data_member.name,
                image.len()
            ));
        }
        return Ok(DebKernel {
            control,
            member: path,
            release: Some(release),
            image,
        });
    }
    Err(match control.package.as_deref() {
        Some(p) => format!(
            "package {p} holds no kernel image (boot/vmlinuz-*, boot/vmlinux-* or usr/lib/modules/*/vmlinuz[.unsigned])"
        ),
        None => {
            "package holds no kernel image (boot/vmlinuz-*, boot/vmlinux-* or usr/lib/modules/*/vmlinuz[.unsigned])".into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_members() {
        assert_eq!(
            kernel_member_release("./boot/vmlinuz-6.1.0-26-amd64").as_deref(),
            Some("6.1.0-26-amd64")
        );
        assert_eq!(
            kernel_member_release("./usr/lib/modules/7.0.1-arm64/vmlinuz").as_deref(),
            Some("7.0.1-arm64")
        );
        assert_eq!(
            kernel_member_release("./boot/vmlinux-6.12.117+deb13-riscv64").as_deref(),
            Some("6.12.117+deb13-riscv64")
        );
        assert_eq!(
            kernel_member_release("./usr/lib/modules/7.2.13+deb14-amd64/vmlinuz.unsigned")
                .as_deref(),
            Some("7.2.13+deb14-amd64")
        );
        assert_eq!(kernel_member_release("./boot/config-6.1.0-26-amd64"), None);
        assert_eq!(
            kernel_member_release("./usr/lib/modules/6.1/kernel/x.ko"),
            None
        );
    }

    #[test]
    fn truncated_ar_is_an_error() {
        let mut ar = AR_MAGIC.to_vec();
        ar.extend_from_slice(b"debian-binary   0           0     0     100644  4         `\n2.0");
        assert_eq!(
            members(&ar).err().as_deref(),
            Some("ar member \"debian-binary\" is truncated")
        );
    }

    /// A `.deb` whose kernel member expands beyond the limit is refused, not allocated.
    #[test]
    fn a_kernel_beyond_the_limit_is_refused() {
        let image = vec![0u8; 2 << 20];
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(image.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "./boot/vmlinuz-6.99.0", &image[..])
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
        let data = gz.finish().unwrap();
        let mut ar = AR_MAGIC.to_vec();
        ar.extend_from_slice(
            format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                "data.tar.gz",
                0,
                0,
                0,
                100644,
                data.len()
            )
            .as_bytes(),
        );
        ar.extend_from_slice(&data);
        let err = read_kernel(&ar, 1 << 20).err();
        assert_eq!(
            err.as_deref(),
            Some("boot/vmlinuz-6.99.0 is larger than 1 MiB; refusing")
        );
        let got = read_kernel(&ar, 4 << 20).map(|k| k.image.len());
        assert_eq!(got, Ok(2 << 20));
        // The stream limit inside the member: truncated, and says so (never a short image).
        let err = read_kernel(&ar, (2 << 20) + 100).err();
        assert_eq!(
            err.as_deref(),
            Some("data.tar.gz: boot/vmlinuz-6.99.0 is truncated (2096740 of 2097152 bytes)")
        );
        // A package cut short.
        let cut = ar.len() - data.len() / 2;
        let err = read_kernel(&ar[..cut], 4 << 20).err().unwrap_or_default();
        assert!(
            err.starts_with("ar member \"data.tar.gz\" is truncated"),
            "{err}"
        );
    }
}
