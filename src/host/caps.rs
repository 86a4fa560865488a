//! Capability sets as the kernel reports them: the hex masks of `/proc/<pid>/status`
//! (`CapEff:\t000001ffffffffff`), one bit per capability number of
//! `include/uapi/linux/capability.h`.

/// `CAP_SYS_ADMIN`: everything BPF before 5.8, and still implies `CAP_BPF` and `CAP_PERFMON`.
pub const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_PERFMON` (5.8+): tracing programs, with `CAP_BPF`.
pub const CAP_PERFMON: u32 = 38;
/// `CAP_BPF` (5.8+): `bpf()` itself.
pub const CAP_BPF: u32 = 39;

/// Capability names by number, as `include/uapi/linux/capability.h` defines them (through
/// `CAP_LAST_CAP`, `CAP_CHECKPOINT_RESTORE`, in 6.x).
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The kernel's name for capability `cap`, `None` for a number newer than this table.
pub(crate) fn cap_name(cap: u32) -> Option<&'static str> {
    NAMES.get(cap as usize).copied()
}

/// A set of capabilities: bit `n` is capability `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSet(pub u64);

impl CapSet {
    /// Parse a status mask: hex digits, no `0x` (`000001ffffffffff`).
    pub(crate) fn parse_hex(hex: &str) -> Option<CapSet> {
        let hex = hex.trim();
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(hex, 16).ok().map(CapSet)
    }

    /// The effective set from the text of `/proc/<pid>/status` (its `CapEff:` line); `None` when
    /// the line is missing or malformed.
    pub fn effective_from_status(status: &str) -> Option<CapSet> {
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(CapSet::parse_hex)
    }

    pub fn has(self, cap: u32) -> bool {
        cap < 64 && self.0 & (1u64 << cap) != 0
    }

    /// Every capability in the set by name, in number order; numbers this table does not name
    /// are given as decimals (as libcap's `cap_to_name` does).
    pub fn names(self) -> Vec<String> {
        (0..64)
            .filter(|&c| self.has(c))
            .map(|c| cap_name(c).map_or_else(|| c.to_string(), str::to_owned))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_masks_and_names_the_bits() {
        let root =
            CapSet::effective_from_status("Name:\tx\nCapPrm:\t0\nCapEff:\t000001ffffffffff\n")
                .unwrap();
        assert!(root.has(CAP_SYS_ADMIN) && root.has(CAP_BPF) && root.has(CAP_PERFMON));
        let names = root.names();
        assert_eq!(names.len(), 41);
        assert_eq!(names[0], "CAP_CHOWN");
        assert_eq!(names[40], "CAP_CHECKPOINT_RESTORE");

        let set = CapSet::parse_hex("000000c000200000").unwrap();
        assert_eq!(set.names(), ["CAP_SYS_ADMIN", "CAP_PERFMON", "CAP_BPF"]);
        assert_eq!(CapSet(1 << 45).names(), ["45"]);
        assert!(!CapSet(u64::MAX).has(64));

        assert_eq!(
            CapSet::effective_from_status("CapEff:\t0000000000000000\n"),
            Some(CapSet(0))
        );
        assert_eq!(CapSet::effective_from_status("CapEff: zz"), None);
        assert_eq!(CapSet::effective_from_status("CapEff:\t\n"), None);
        assert_eq!(CapSet::effective_from_status("CapEff:\t-1\n"), None);
        assert_eq!(CapSet::effective_from_status("Name:\tx\n"), None);
        assert_eq!(cap_name(CAP_BPF), Some("CAP_BPF"));
        assert_eq!(cap_name(41), None);
    }
}
