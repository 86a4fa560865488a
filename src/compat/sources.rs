//! `--kernels SRC...`: each source expanded to the kernels it holds, and each kernel read.
//!
//! A file is one kernel (any BTF source [`crate::source`] reads, or a kernel `.deb`); a
//! directory is walked recursively (sorted, symlinks to files followed, symlinked directories
//! not) and every file whose name looks like a kernel's becomes one. Expansion only lists
//! paths: the bytes are read by a worker when the kernel's turn comes, so memory holds the
//! kernels being processed, never the whole list.

use std::path::{Path, PathBuf};

use crate::error::InputError;
use crate::source::{self, BtfSource};

use super::cache::{Cache, Entry, Key, RawFile};
use super::deb;
use super::identity::{identify, sniff, KernelId};

/// One kernel to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInput {
    pub path: PathBuf,
}

/// A source that could not even be listed (a missing path, an unreadable directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlisted {
    pub path: PathBuf,
    pub reason: String,
}

/// Whether a file met in a directory walk looks like a kernel: BTF (`*.btf`), a BTFHub
/// archive, a kernel package, or an image or vmlinux by its usual names.
fn looks_like_kernel(name: &str) -> bool {
    name.ends_with(".btf")
        || name.ends_with(".btf.tar.xz")
        || (name.starts_with("linux-image") && name.ends_with(".deb"))
        || (name.starts_with("linux-binary") && name.ends_with(".deb"))
        || ["vmlinuz", "vmlinux", "Image", "bzImage"]
            .iter()
            .any(|p| name == *p || name.starts_with(&format!("{p}-")))
}

/// Expand every source into kernels, in the order given (a directory's files sorted by path).
/// A source that cannot be listed becomes an [`Unlisted`] entry, at its place.
pub fn expand(sources: &[PathBuf]) -> Vec<Result<KernelInput, Unlisted>> {
    let mut out = Vec::new();
    for s in sources {
        match std::fs::metadata(s) {
            Ok(m) if m.is_dir() => walk(s, &mut out),
            // A file, or a path that cannot be read: its reading says why.
            _ => out.push(Ok(KernelInput { path: s.clone() })),
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<Result<KernelInput, Unlisted>>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.push(Err(Unlisted {
                path: dir.to_path_buf(),
                reason: InputError::io(dir, e).to_string(),
            }));
            return;
        }
    };
    let mut paths: Vec<(PathBuf, bool)> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (e.path(), is_dir)
        })
        .collect();
    paths.sort();
    for (p, is_dir) in paths {
        if is_dir {
            walk(&p, out);
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(looks_like_kernel)
            && p.is_file()
        {
            out.push(Ok(KernelInput { path: p }));
        }
    }
}

/// A kernel read: its BTF and identity.
pub struct Kernel {
    pub id: KernelId,
    pub btf: BtfSource,
    /// What the BTF cache did for this kernel.
    pub cache: CacheUse,
}

/// What the BTF cache did for one kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheUse {
    /// No cache, or a source not worth caching (raw BTF, `/sys/kernel/btf`).
    #[default]
    None,
    /// The BTF came from the cache: the source was not read.
    Hit,
    /// The source was extracted, and its BTF stored.
    Stored,
}

/// Read one kernel, through `cache` when there is one. The error is the one-line reason,
/// naming the file.
///
/// A source whose BTF took unwrapping (a compressed image, a package, an archive, an ELF) is
/// looked up in the cache by its file identity ([`Key`]) before anything is read; on a miss
/// its BTF and identity are stored. A corrupt entry is a miss. Raw BTF is read directly.
pub fn read(input: &KernelInput, cache: Option<&Cache>) -> Result<Kernel, String> {
    let path = &input.path;
    let key = match cache {
        Some(_) if !path.starts_with("/sys/kernel/btf") => Key::of(path),
        _ => None,
    };
    if let (Some(cache), Some(key)) = (cache, &key) {
        if let Some(kernel) = cache.get(key).and_then(|e| from_entry(path, e)) {
            return Ok(kernel);
        }
    }
    let mut kernel = read_uncached(path)?;
    if let (Some(cache), Some(key)) = (cache, &key) {
        let raw = kernel.btf.btf.raw_bytes();
        let unwrapped = !kernel.btf.containers.is_empty();
        // An unwrapped source keeps its BTF; a raw one only the proof that it was checked.
        let entry = Entry {
            id: kernel.id.clone(),
            btf: if unwrapped { raw.to_vec() } else { Vec::new() },
            refs_past_end: kernel.btf.btf.refs_past_end(),
            raw: (!unwrapped).then(|| RawFile::of(raw)),
        };
        // A cache that cannot be written is no cache: the run goes on.
        if cache.put(key, &entry).is_ok() {
            kernel.cache = CacheUse::Stored;
        }
    }
    Ok(kernel)
}

/// A kernel from a cache entry: the stored BTF, or the raw source file read again and trusted
/// as checked only when its length and CRC-32 are the ones recorded. `None`: a miss.
fn from_entry(path: &Path, entry: Entry) -> Option<Kernel> {
    let data = match entry.raw {
        Some(raw) => {
            let data = source::read_file(path).ok()?;
            (RawFile::of(&data) == raw).then_some(data)?
        }
        None => entry.btf,
    };
    let btf = source::from_checked_bytes(path, data, entry.refs_past_end).ok()?;
    let id = KernelId {
        source: path.display().to_string(),
        ..entry.id
    };
    Some(Kernel {
        id,
        btf,
        cache: CacheUse::Hit,
    })
}

fn read_uncached(path: &Path) -> Result<Kernel, String> {
    let cache = CacheUse::None;
    if path.starts_with("/sys/kernel/btf") {
        let btf = source::load(Some(path), None).map_err(|e| e.to_string())?;
        let id = identify(path, &btf, &Default::default(), None);
        return Ok(Kernel { id, btf, cache });
    }
    let data = source::read_file(path).map_err(|e| e.to_string())?;
    if deb::is_ar(&data) {
        let k = deb::read_kernel(&data, source::MAX_DECOMPRESSED)
            .map_err(|why| format!("{}: {why}", path.display()))?;
        drop(data);
        let member = Path::new(&k.member);
        let sniffed = sniff(&k.image);
        let btf = source::from_bytes_limited(path, k.image, u64::MAX).map_err(|e| {
            format!(
                "{} (kernel {}): {}",
                path.display(),
                member.display(),
                e.to_string()
                    .strip_prefix(&format!("{}: ", path.display()))
                    .unwrap_or(&e.to_string())
            )
        })?;
        let mut id = identify(
            path,
            &btf,
            &sniffed,
            Some((&k.control, k.release.as_deref())),
        );
        id.format = Some(format!("deb member {} > {}", k.member, btf.describe()));
        return Ok(Kernel { id, btf, cache });
    }
    let sniffed = sniff(&data);
    let btf = source::from_bytes_limited(path, data, u64::MAX).map_err(|e| e.to_string())?;
    let id = identify(path, &btf, &sniffed, None);
    Ok(Kernel { id, btf, cache })
}
