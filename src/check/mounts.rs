//! The mount table (`/proc/mounts`, fstab(5) format), read to find tracefs and debugfs.
//!
//! libbpf looks for tracefs at `/sys/kernel/tracing` and falls back to
//! `/sys/kernel/debug/tracing` (`use_debugfs()` in libbpf.c); the table tells whether either
//! is really mounted, not merely an empty directory.

use std::path::PathBuf;

/// Where libbpf expects tracefs (`TRACEFS` in libbpf.c).
pub const TRACEFS_PATH: &str = "/sys/kernel/tracing";
/// libbpf's fallback (`DEBUGFS` in libbpf.c): tracefs as seen through debugfs.
pub const DEBUGFS_TRACING_PATH: &str = "/sys/kernel/debug/tracing";
pub const DEBUGFS_PATH: &str = "/sys/kernel/debug";

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: String,
    pub target: PathBuf,
    pub fstype: String,
    pub options: String,
}

/// Parse `/proc/mounts`. Malformed lines are skipped; octal escapes (`\040` for a space) in the
/// source and target are decoded.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_ascii_whitespace();
            let (source, target, fstype) = (f.next()?, f.next()?, f.next()?);
            let options = f.next().unwrap_or("");
            Some(Mount {
                source: unescape(source),
                target: PathBuf::from(unescape(target)),
                fstype: fstype.to_owned(),
                options: options.to_owned(),
            })
        })
        .collect()
}

/// The mount points of every mount of `fstype`, in table order.
pub fn targets_of<'a>(mounts: &'a [Mount], fstype: &str) -> Vec<&'a Mount> {
    mounts.iter().filter(|m| m.fstype == fstype).collect()
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
    fn parses_and_unescapes() {
        let m = parse(
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
}
