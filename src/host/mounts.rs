//! The mount table, read to find tracefs and debugfs: `/proc/self/mountinfo`
//! (proc(5)), or `/proc/mounts` (fstab(5) format) where mountinfo is missing.
//!
//! libbpf looks for tracefs at `/sys/kernel/tracing` and falls back to
//! `/sys/kernel/debug/tracing` (`use_debugfs()` in libbpf.c); the table tells whether either
//! is really mounted, not merely an empty directory.

use std::path::{Path, PathBuf};

/// Where libbpf expects tracefs (`TRACEFS` in libbpf.c).
pub(crate) const TRACEFS_PATH: &str = "/sys/kernel/tracing";
/// libbpf's fallback (`DEBUGFS` in libbpf.c): tracefs as seen through debugfs.
pub(crate) const DEBUGFS_TRACING_PATH: &str = "/sys/kernel/debug/tracing";
pub(crate) const DEBUGFS_PATH: &str = "/sys/kernel/debug";

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: String,
    pub target: PathBuf,
    pub fstype: String,
    /// The per-mount options (`rw,nosuid`).
    pub options: String,
}

impl Mount {
    /// A mount from the kernel's escaped fields (`\040` for a space, ...).
    fn from_fields(source: &str, target: &str, fstype: &str, options: &str) -> Mount {
        Mount {
            source: unescape(source),
            target: PathBuf::from(unescape(target)),
            fstype: fstype.to_owned(),
            options: options.to_owned(),
        }
    }
}

/// Parse `/proc/mounts` (`source target fstype options dump pass`). Malformed lines are
/// skipped; octal escapes (`\040` for a space) in the source and target are decoded.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_ascii_whitespace();
            let (source, target, fstype) = (f.next()?, f.next()?, f.next()?);
            let options = f.next().unwrap_or("");
            Some(Mount::from_fields(source, target, fstype, options))
        })
        .collect()
}

/// Parse `/proc/<pid>/mountinfo`: `id parent major:minor root target options [optional...] -
/// fstype source super-options`. Malformed lines are skipped; escapes decoded as in
/// [`parse_mounts`].
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mut f = before.split_ascii_whitespace();
            let _id = f.next()?;
            let _parent = f.next()?;
            let _dev = f.next()?;
            let _root = f.next()?;
            let target = f.next()?;
            let options = f.next()?;
            let mut a = after.split_ascii_whitespace();
            let fstype = a.next()?;
            let source = a.next().unwrap_or("none");
            Some(Mount::from_fields(source, target, fstype, options))
        })
        .collect()
}

/// The file systems the kernel knows, from `/proc/filesystems` (`nodev\ttracefs`).
pub(crate) fn parse_filesystems(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_owned)
        .collect()
}

/// Every mount of `fstype`, in table order.
pub fn targets_of<'a>(mounts: &'a [Mount], fstype: &str) -> Vec<&'a Mount> {
    mounts.iter().filter(|m| m.fstype == fstype).collect()
}

/// Where tracefs is usable: a tracefs mount at one of libbpf's paths first, then any tracefs
/// mount.
pub fn tracefs_dir(mounts: &[Mount]) -> Option<PathBuf> {
    let t = targets_of(mounts, "tracefs");
    t.iter()
        .find(|m| {
            m.target == Path::new(TRACEFS_PATH) || m.target == Path::new(DEBUGFS_TRACING_PATH)
        })
        .or(t.first())
        .map(|m| m.target.clone())
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse_and_unescape() {
        let m = parse_mounts(
            "tracefs /sys/kernel/tracing tracefs rw,nosuid 0 0\n/dev/a /mnt/with\\040space ext4 rw 0 0\nshort\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].target, PathBuf::from("/mnt/with space"));
        assert_eq!(
            targets_of(&m, "tracefs")[0].target,
            PathBuf::from(TRACEFS_PATH)
        );
        assert!(targets_of(&m, "debugfs").is_empty());
    }

    #[test]
    fn mountinfo_parses_like_mounts() {
        let info = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
25 21 0:12 / /sys/kernel/tracing rw,nosuid,nodev,noexec,relatime shared:9 master:1 - tracefs tracefs rw
26 21 0:7 / /sys/kernel/debug rw,relatime - debugfs debugfs rw
40 1 8:1 /srv /mnt/with\\040space rw - ext4 /dev/sda1 rw,errors=remount-ro
bad line without separator
";
        let m = parse_mountinfo(info);
        assert_eq!(m.len(), 4);
        assert_eq!(
            m[1],
            Mount {
                source: "tracefs".into(),
                target: PathBuf::from(TRACEFS_PATH),
                fstype: "tracefs".into(),
                options: "rw,nosuid,nodev,noexec,relatime".into(),
            }
        );
        assert_eq!(m[3].target, PathBuf::from("/mnt/with space"));
        assert_eq!(m[3].source, "/dev/sda1");
        let mounts = parse_mounts(
            "proc /proc proc rw 0 0\ntracefs /sys/kernel/tracing tracefs rw 0 0\n\
             debugfs /sys/kernel/debug debugfs rw 0 0\n/dev/sda1 /mnt/with\\040space ext4 rw 0 0\n",
        );
        let targets = |v: &[Mount]| {
            v.iter()
                .map(|m| (m.target.clone(), m.fstype.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(targets(&m), targets(&mounts));
    }

    #[test]
    fn tracefs_prefers_libbpf_paths() {
        let m = parse_mounts(
            "tracefs /elsewhere tracefs rw 0 0\ntracefs /sys/kernel/debug/tracing tracefs rw 0 0\n",
        );
        assert_eq!(tracefs_dir(&m), Some(PathBuf::from(DEBUGFS_TRACING_PATH)));
        let m = parse_mounts("tracefs /elsewhere tracefs rw 0 0\n");
        assert_eq!(tracefs_dir(&m), Some(PathBuf::from("/elsewhere")));
        assert_eq!(tracefs_dir(&[]), None);
    }

    #[test]
    fn filesystems_list_names() {
        let fs = parse_filesystems("nodev\tsysfs\nnodev\ttracefs\n\text4\n\n");
        assert_eq!(fs, ["sysfs", "tracefs", "ext4"]);
    }
}
