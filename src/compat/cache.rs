//! The BTF cache: the raw BTF extracted from a compressed kernel source (a vmlinuz, a `.deb`,
//! a BTFHub archive...), kept on disk with the kernel's identity so that the next run reads a
//! few MiB of BTF instead of decompressing the source again.
//!
//! **Key.** An entry is keyed by the source file's identity as `stat` tells it: the canonical
//! path, device, inode, size and modification time (nanoseconds), plus the cache format and
//! coretool's version. A lookup costs one `stat` and reads nothing of the source, which is the
//! point (a `.deb` is 60-100 MiB); a file replaced, rewritten, moved or copied gets a new key
//! and is extracted again (a miss, never a wrong hit). A hash of the source's content would
//! survive copies but would have to read the source, and a partial hash (first and last MiB)
//! could trust an entry for a file changed in the middle.
//!
//! **Entry.** One file per key, `<hash of the key>.btf`, named by a 128-bit hash of the key
//! text: a header (magic, the full key text, the identity, the payload's length and CRC-32 of
//! header and payload) followed by the raw BTF. The key text is compared on read, so a hash
//! collision is a miss; an entry whose header, length or checksum does not match is corrupt:
//! it is ignored (and replaced by the next extraction), never trusted.
//!
//! **Concurrency.** Entries are written to a temporary file in the cache directory and renamed
//! into place, so a reader sees a whole entry or none; two runs extracting the same source
//! write the same entry twice. A hit sets the entry's access time (whatever the mount's atime
//! policy), and [`Cache::trim`] removes the least recently used entries while the cache is
//! larger than its bound. Trimming while another run reads is safe: an open entry stays
//! readable, a removed one is a miss.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::btf::Endian;

use super::identity::KernelId;

/// First line of every entry; bump the digit when the format changes.
const MAGIC: &str = "coretool-btf-cache 2";
/// Default bound on the cache's size: 2 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;
/// Largest payload read back (a kernel's BTF is 5-10 MiB).
const MAX_PAYLOAD: u64 = 256 << 20;
/// Temporary files older than this are a crashed run's leftovers, removed by [`Cache::trim`].
const STALE_TMP: Duration = Duration::from_secs(3600);

/// A BTF cache directory and its bound.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
}

/// A cached kernel: its identity (the source path is the caller's) and either its BTF, as
/// extracted from the source, or, for a source that is raw BTF already, the proof that the
/// source's bytes were checked ([`RawFile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: KernelId,
    /// The extracted BTF (empty for a raw source).
    pub btf: Vec<u8>,
    /// What the type graph check found ([`crate::btf::Btf`]'s `refs_past_end`): the BTF was
    /// checked whole before it was stored, and is not walked again on a hit.
    pub refs_past_end: bool,
    /// Set for a raw BTF source: its length and CRC-32 when it was checked.
    pub raw: Option<RawFile>,
}

/// A raw BTF source file as it was when its BTF was checked: a hit still reads the file, and
/// trusts the check only when length and CRC-32 match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFile {
    pub len: u64,
    pub crc: u32,
}

impl RawFile {
    pub fn of(data: &[u8]) -> RawFile {
        let mut c = flate2::Crc::new();
        c.update(data);
        RawFile {
            len: data.len() as u64,
            crc: c.sum(),
        }
    }
}

/// The key of a source file: `None` when it is not a regular file that can be `stat`ed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// The key of the file at `path`.
    pub fn of(path: &Path) -> Option<Key> {
        let canon = fs::canonicalize(path).ok()?;
        let m = fs::metadata(&canon).ok()?;
        if !m.is_file() {
            return None;
        }
        let path = canon.to_str()?;
        if path.contains('\n') {
            return None;
        }
        Some(Key(format!(
            "{MAGIC} coretool {} dev={} ino={} size={} mtime={}.{:09} path={path}",
            env!("CARGO_PKG_VERSION"),
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
        )))
    }

    /// The entry's file name: a 128-bit FNV-1a hash of the key text, in hex.
    fn file_name(&self) -> String {
        let h1 = fnv1a(self.0.as_bytes(), 0xcbf2_9ce4_8422_2325);
        let h2 = fnv1a(self.0.as_bytes(), 0x6c62_272e_07bb_0142);
        format!("{h1:016x}{h2:016x}.btf")
    }
}

fn fnv1a(data: &[u8], seed: u64) -> u64 {
    data.iter().fold(seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Cache {
    /// A cache in `dir` (created on first write) bounded to `max_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Cache {
        Cache {
            dir: dir.into(),
            max_bytes,
        }
    }

    /// The default directory: `$XDG_CACHE_HOME/coretool/btf`, else `~/.cache/coretool/btf`.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|h| h.join(".cache"))
            })?;
        Some(base.join("coretool").join("btf"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry for `key`, when there is a whole, uncorrupted one. A hit refreshes the
    /// entry's access time.
    pub fn get(&self, key: &Key) -> Option<Entry> {
        let path = self.dir.join(key.file_name());
        let mut f = fs::File::open(&path).ok()?;
        let len = f.metadata().ok()?.len();
        if len > MAX_PAYLOAD + 64 * 1024 {
            return None;
        }
        let mut data = Vec::with_capacity(len as usize);
        f.read_to_end(&mut data).ok()?;
        let entry = decode(&data, key)?;
        touch_atime(&f);
        Some(entry)
    }

    /// Store `entry` under `key`, atomically. Errors are ignored by callers (a cache that
    /// cannot be written is no cache), so they are returned only for tests.
    pub fn put(&self, key: &Key, entry: &Entry) -> std::io::Result<()> {
        let Some(data) = encode(key, entry) else {
            return Ok(());
        };
        fs::create_dir_all(&self.dir)?;
        let name = key.file_name();
        let tmp = self.dir.join(format!(
            ".{name}.{}.{:x}.tmp",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            fs::rename(&tmp, self.dir.join(&name))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Remove the least recently used entries while the cache holds more than its bound, and
    /// temporary files left by crashed runs. Returns how many entries were removed.
    pub fn trim(&self) -> usize {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut entries = Vec::new();
        let mut total = 0u64;
        for e in dir.filter_map(Result::ok) {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(m) = e.metadata() else { continue };
            if !m.is_file() {
                continue;
            }
            if name.starts_with('.') && name.ends_with(".tmp") {
                let old = m
                    .modified()
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > STALE_TMP);
                if old {
                    let _ = fs::remove_file(e.path());
                }
                continue;
            }
            if !name.ends_with(".btf") {
                continue;
            }
            total += m.len();
            entries.push(((m.atime(), m.atime_nsec()), m.len(), e.path()));
        }
        if total <= self.max_bytes {
            return 0;
        }
        entries.sort();
        let mut removed = 0;
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                removed += 1;
            }
            total = total.saturating_sub(len);
        }
        removed
    }
}

/// Set the access time of an entry to now (its modification time is left alone): the trim
/// order is the order of use, whatever the mount's atime policy.
fn touch_atime(f: &fs::File) {
    use std::os::fd::AsRawFd;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    ];
    // SAFETY: the descriptor is open for the duration of the call, and `times` points to two
    // initialised timespecs as futimens requires. Failure (a read-only cache) is harmless.
    unsafe {
        libc::futimens(f.as_raw_fd(), times.as_ptr());
    }
}

fn endian_word(e: Endian) -> &'static str {
    match e {
        Endian::Little => "little",
        Endian::Big => "big",
    }
}

/// The header fields of an entry, one `name value` line each; `None` when a value holds a
/// newline (such an identity is not cached).
fn id_lines(e: &Entry) -> Option<String> {
    let id = &e.id;
    let mut s = String::new();
    let raw_len = e.raw.map(|r| r.len.to_string());
    let raw_crc = e.raw.map(|r| format!("{:08x}", r.crc));
    let fields = [
        ("release", id.release.as_deref()),
        ("arch", id.arch.as_deref()),
        ("endian", id.endian.map(endian_word)),
        ("distro", id.distro.as_deref()),
        ("version", id.version.as_deref()),
        ("format", id.format.as_deref()),
        ("refs-past-end", e.refs_past_end.then_some("1")),
        ("raw-len", raw_len.as_deref()),
        ("raw-crc", raw_crc.as_deref()),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            if v.contains('\n') {
                return None;
            }
            s.push_str(&format!("{name} {v}\n"));
        }
    }
    Some(s)
}

fn crc(header: &[u8], payload: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(header);
    c.update(payload);
    c.sum()
}

/// `MAGIC\nkey KEY\nlen N\ncrc C\n<identity lines>\n<payload>`; the CRC covers the identity
/// lines and the payload, the key and length are compared on read.
fn encode(key: &Key, entry: &Entry) -> Option<Vec<u8>> {
    let btf = &entry.btf[..];
    let fields = id_lines(entry)?;
    let sum = crc(fields.as_bytes(), btf);
    let mut out = format!(
        "{MAGIC}\nkey {}\nlen {}\ncrc {sum:08x}\n{fields}\n",
        key.0,
        btf.len()
    )
    .into_bytes();
    out.extend_from_slice(btf);
    Some(out)
}

fn decode(data: &[u8], key: &Key) -> Option<Entry> {
    // The header ends at the first empty line.
    let end = data.windows(2).position(|w| w == b"\n\n")?;
    let header = std::str::from_utf8(&data[..end + 1]).ok()?;
    let payload = &data[end + 2..];
    let mut lines = header.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    if lines.next()?.strip_prefix("key ")? != key.0 {
        return None;
    }
    let len: usize = lines.next()?.strip_prefix("len ")?.parse().ok()?;
    let sum_text = lines.next()?.strip_prefix("crc ")?;
    let sum = u32::from_str_radix(sum_text, 16).ok()?;
    if format!("{sum:08x}") != sum_text {
        return None;
    }
    if payload.len() != len {
        return None;
    }
    let fields_start = header.len() - lines.clone().map(|l| l.len() + 1).sum::<usize>();
    if crc(&header.as_bytes()[fields_start..], payload) != sum {
        return None;
    }
    let mut id = KernelId::default();
    let mut refs_past_end = false;
    let (mut raw_len, mut raw_crc) = (None, None);
    for line in lines {
        let (name, value) = line.split_once(' ')?;
        let text = Some(value.to_owned());
        match name {
            "release" => id.release = text,
            "arch" => id.arch = text,
            "endian" => {
                id.endian = Some(match value {
                    "little" => Endian::Little,
                    "big" => Endian::Big,
                    _ => return None,
                })
            }
            "distro" => id.distro = text,
            "version" => id.version = text,
            "format" => id.format = text,
            "refs-past-end" => refs_past_end = value == "1",
            "raw-len" => raw_len = Some(value.parse().ok()?),
            "raw-crc" => raw_crc = Some(u32::from_str_radix(value, 16).ok()?),
            _ => return None,
        }
    }
    let raw = match (raw_len, raw_crc) {
        (Some(len), Some(crc)) if payload.is_empty() => Some(RawFile { len, crc }),
        (None, None) if !payload.is_empty() => None,
        _ => return None,
    };
    Some(Entry {
        id,
        btf: payload.to_vec(),
        refs_past_end,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key("k dev=1 ino=2".into())
    }

    fn id() -> KernelId {
        KernelId {
            source: String::new(),
            release: Some("6.1.0-13-amd64".into()),
            arch: Some("x86_64".into()),
            endian: Some(Endian::Little),
            distro: Some("debian".into()),
            version: None,
            format: Some(
                "deb member ./boot/vmlinuz-6.1.0-13-amd64 > xz kernel image > ELF .BTF".into(),
            ),
        }
    }

    fn entry(btf: &[u8], raw: Option<RawFile>) -> Entry {
        Entry {
            id: id(),
            btf: btf.to_vec(),
            refs_past_end: false,
            raw,
        }
    }

    #[test]
    fn raw_entries_round_trip() {
        let raw = RawFile::of(b"\x9f\xeb\x01\0whatever");
        let want = entry(b"", Some(raw));
        let data = encode(&key(), &want).unwrap();
        assert_eq!(decode(&data, &key()), Some(want));
        // A raw entry with a payload, or a payload entry without one, is not trusted.
        let data = encode(&key(), &entry(b"x", Some(raw))).unwrap();
        assert_eq!(decode(&data, &key()), None);
        let data = encode(&key(), &entry(b"", None)).unwrap();
        assert_eq!(decode(&data, &key()), None);
    }

    #[test]
    fn round_trip_and_corruption() {
        let want = entry(b"\x9f\xeb\x01\0payload\n\nmore", None);
        let data = encode(&key(), &want).unwrap();
        let e = decode(&data, &key()).unwrap();
        assert_eq!(e, want);
        // Any flipped byte after the key, a truncation or another key: not trusted.
        for i in MAGIC.len() + 20..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x20;
            assert!(decode(&bad, &key()).is_none(), "byte {i}");
        }
        assert!(decode(&data[..data.len() - 1], &key()).is_none());
        assert!(decode(&data, &Key("other".into())).is_none());
    }
}
