//! Who may call `bpf()`: the effective uid, the effective capabilities and the user namespace
//! they are held in.
//!
//! Since 5.8 loading tracing programs needs `CAP_BPF` plus `CAP_PERFMON` (or `CAP_SYS_ADMIN`,
//! which implies both); before 5.8 only `CAP_SYS_ADMIN` works. Capabilities come from `CapEff`,
//! which is what the kernel checks, rather than from the uid, and count only in the initial
//! user namespace (see [`super::userns`]).

use super::caps::{CapSet, CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN};
use super::userns::{UserNamespace, UserNsKind};
use crate::error::NeedsPrivilege;

/// The fix for a process whose capabilities are held in a child user namespace.
pub(crate) const CHILD_USERNS_FIX: &str = "run in the initial user namespace, or a container with CAP_BPF+CAP_PERFMON granted by the host";

/// What this process may do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Privilege {
    pub euid: u32,
    /// `CapEff`; `None` when `/proc/self/status` had no readable `CapEff`.
    pub cap_eff: Option<CapSet>,
    pub user_ns: UserNamespace,
}

impl Privilege {
    /// Whether `cap` is in the effective set (in this process's own user namespace).
    pub fn has(&self, cap: u32) -> bool {
        self.cap_eff.is_some_and(|c| c.has(cap))
    }

    /// Whether the capabilities count for `bpf()`: not when held in a child user namespace.
    pub(crate) fn in_child_user_ns(&self) -> bool {
        self.user_ns.is_child()
    }

    /// May this process load BPF programs at all (the feature probes need this)?
    pub fn can_bpf(&self) -> bool {
        !self.in_child_user_ns() && (self.has(CAP_SYS_ADMIN) || self.has(CAP_BPF))
    }

    /// May this process load and attach tracing programs (kprobe, tracepoint, tp_btf)?
    pub fn can_trace(&self) -> bool {
        !self.in_child_user_ns()
            && (self.has(CAP_SYS_ADMIN) || (self.has(CAP_BPF) && self.has(CAP_PERFMON)))
    }

    /// `CAP_SYS_ADMIN CAP_BPF` ..., the BPF-relevant capabilities in the effective set.
    pub(crate) fn held(&self) -> Vec<&'static str> {
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

    /// Whether this process may load and attach tracing programs, as the probe's preflight
    /// (selftest, monitor) needs: how it is privileged, or why not with the fix.
    pub fn require_tracing(&self) -> Result<String, NeedsPrivilege> {
        if let UserNsKind::Child { evidence } = self.user_ns.kind() {
            let held = self.held();
            let held = if held.is_empty() {
                String::new()
            } else {
                format!(" ({} held there do not count)", held.join(", "))
            };
            return Err(NeedsPrivilege {
                what: format!(
                    "loading BPF tracing programs from a child user namespace{held}: {evidence}"
                ),
                advice: CHILD_USERNS_FIX.into(),
            });
        }
        if self.euid == 0 && self.has(CAP_SYS_ADMIN) {
            return Ok("root".into());
        }
        if self.has(CAP_BPF) && self.has(CAP_PERFMON) {
            return Ok("CAP_BPF and CAP_PERFMON".into());
        }
        if self.has(CAP_SYS_ADMIN) {
            return Ok("CAP_SYS_ADMIN".into());
        }
        Err(NeedsPrivilege {
            what: format!(
                "loading and attaching BPF tracing programs (running as uid {})",
                self.euid
            ),
            advice: "run as root, or grant CAP_BPF and CAP_PERFMON; CAP_SYS_ADMIN before 5.8"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::userns::parse_id_map;
    use super::*;

    fn privilege(euid: u32, status: &str, user_ns: UserNamespace) -> Privilege {
        Privilege {
            euid,
            cap_eff: CapSet::effective_from_status(status),
            user_ns,
        }
    }

    #[test]
    fn capabilities_decide_in_the_initial_namespace() {
        let root = privilege(0, "CapEff:\t000001ffffffffff\n", UserNamespace::initial());
        assert!(root.can_bpf() && root.can_trace());
        assert_eq!(root.held(), ["CAP_SYS_ADMIN", "CAP_BPF", "CAP_PERFMON"]);
        assert_eq!(root.require_tracing().unwrap(), "root");

        let bpf_only = Privilege {
            euid: 1000,
            cap_eff: Some(CapSet(1 << CAP_BPF)),
            user_ns: UserNamespace::initial(),
        };
        assert!(bpf_only.can_bpf() && !bpf_only.can_trace());
        assert!(bpf_only.require_tracing().is_err());

        let delegated = Privilege {
            cap_eff: Some(CapSet((1 << CAP_BPF) | (1 << CAP_PERFMON))),
            ..bpf_only
        };
        assert_eq!(
            delegated.require_tracing().unwrap(),
            "CAP_BPF and CAP_PERFMON"
        );

        let nobody = privilege(
            65534,
            "CapEff:\t0000000000000000\n",
            UserNamespace::initial(),
        );
        assert!(!nobody.can_bpf());
        let err = nobody.require_tracing().unwrap_err().to_string();
        assert!(err.contains("running as uid 65534"), "{err}");

        let unreadable = privilege(0, "", UserNamespace::default());
        assert!(!unreadable.can_bpf() && unreadable.held().is_empty());
    }

    #[test]
    fn capabilities_in_a_child_namespace_do_not_count() {
        let unshared = privilege(
            0,
            "CapEff:\t000001ffffffffff\n",
            UserNamespace {
                inode: Some(4_026_532_179),
                uid_map: parse_id_map("0 0 1\n"),
            },
        );
        assert!(unshared.in_child_user_ns());
        assert!(!unshared.can_bpf() && !unshared.can_trace());
        assert_eq!(unshared.held(), ["CAP_SYS_ADMIN", "CAP_BPF", "CAP_PERFMON"]);
        let err = unshared.require_tracing().unwrap_err();
        assert!(err.what.contains("child user namespace"), "{}", err.what);
        assert!(err.what.contains("user:[4026532179]"), "{}", err.what);
        assert_eq!(err.advice, CHILD_USERNS_FIX);
    }
}
