//! Who may call `bpf()`: this process's effective capabilities and the sysctls that gate BPF.
//!
//! Since 5.8 loading tracing programs needs `CAP_BPF` plus `CAP_PERFMON` (or `CAP_SYS_ADMIN`,
//! which implies both); before 5.8 only `CAP_SYS_ADMIN` works. Capabilities are read from
//! `/proc/self/status` (`CapEff`), which is what the kernel checks, rather than from the uid.

/// `CAP_SYS_ADMIN` (include/uapi/linux/capability.h).
pub const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_PERFMON` (5.8+).
pub const CAP_PERFMON: u32 = 38;
/// `CAP_BPF` (5.8+).
pub const CAP_BPF: u32 = 39;

pub const SYSCTL_UNPRIV_BPF: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
pub const SYSCTL_JIT: &str = "/proc/sys/net/core/bpf_jit_enable";

/// What this process may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Privilege {
    pub euid: u32,
    /// `CapEff` bits; `None` when `/proc/self/status` had no readable `CapEff`.
    pub cap_eff: Option<u64>,
}

impl Privilege {
    /// Parse the `CapEff:` line of `/proc/self/status`.
    pub fn cap_eff_from_status(status: &str) -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    }

    pub fn has(&self, cap: u32) -> bool {
        self.cap_eff.is_some_and(|c| c & (1u64 << cap) != 0)
    }

    /// May this process load BPF programs at all (the feature probes need this)?
    pub fn can_bpf(&self) -> bool {
        self.has(CAP_SYS_ADMIN) || self.has(CAP_BPF)
    }

    /// May this process load and attach tracing programs (kprobe, tracepoint, tp_btf)?
    pub fn can_trace(&self) -> bool {
        self.has(CAP_SYS_ADMIN) || (self.has(CAP_BPF) && self.has(CAP_PERFMON))
    }

    /// `CAP_SYS_ADMIN CAP_BPF` ..., the BPF-relevant capabilities held.
    pub fn held(&self) -> Vec<&'static str> {
        [
            (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
            (CAP_BPF, "CAP_BPF"),
            (CAP_PERFMON, "CAP_PERFMON"),
        ]
        .into_iter()
        .filter(|(c, _)| self.has(*c))
        .map(|(_, n)| n)
        .collect()
    }
}

/// Read a numeric sysctl; `None` when absent or unreadable.
pub fn read_sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The running process's privilege.
pub fn current() -> Privilege {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let cap_eff = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| Privilege::cap_eff_from_status(&s));
    Privilege { euid, cap_eff }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_from_status() {
        let root = Privilege {
            euid: 0,
            cap_eff: Privilege::cap_eff_from_status("Name:\tx\nCapEff:\t000001fffeffffff\n"),
        };
        assert!(root.can_bpf() && root.can_trace());
        assert_eq!(root.held(), ["CAP_SYS_ADMIN", "CAP_BPF", "CAP_PERFMON"]);
        let bpf_only = Privilege {
            euid: 1000,
            cap_eff: Some(1 << CAP_BPF),
        };
        assert!(bpf_only.can_bpf() && !bpf_only.can_trace());
        let nobody = Privilege {
            euid: 65534,
            cap_eff: Privilege::cap_eff_from_status("CapEff:\t0000000000000000\n"),
        };
        assert!(!nobody.can_bpf());
        assert!(Privilege::cap_eff_from_status("CapEff: zz").is_none());
    }
}
