//! Which user namespace this process runs in.
//!
//! The kernel checks the capabilities that gate `bpf()` (`CAP_BPF`, `CAP_PERFMON`,
//! `CAP_SYS_ADMIN`) against the *initial* user namespace (`capable()`, not `ns_capable()`).
//! A process in a child namespace (`unshare --user --map-root-user`, a rootless container)
//! holds a full `CapEff` there, yet every privileged `bpf()` command fails with `EPERM`. So the
//! capability mask alone cannot say whether this process may load programs.
//!
//! Two pieces of evidence, both from `/proc/self`:
//! - `ns/user` links to `user:[INODE]`; the initial user namespace has the fixed inode
//!   `0xEFFFFFFD` (`PROC_USER_INIT_INO` in include/linux/proc_ns.h since 3.8, `USER_NS_INIT_INO`
//!   in uapi nsfs.h since 6.18). This is used rather than comparing with `/proc/1/ns/user`:
//!   pid 1 may be another namespace's init (after joining only a pid and mount namespace), and
//!   its link is often unreadable from inside a container.
//! - `uid_map` of the initial namespace is the identity map `0 0 4294967295`; any other map
//!   (`0 1000 1` after `--map-root-user`) is a child's.

/// The inode of the initial user namespace (`PROC_USER_INIT_INO`).
pub(crate) const INITIAL_USER_NS_INODE: u64 = 0xEFFF_FFFD;

/// One line of `/proc/<pid>/uid_map`: ids `inside..inside+count` map to `outside..`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMapping {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The initial namespace's map: every id to itself.
pub(crate) const IDENTITY_MAP: IdMapping = IdMapping {
    inside: 0,
    outside: 0,
    count: u32::MAX,
};

/// Parse `/proc/<pid>/uid_map` (or `gid_map`): lines of three decimal numbers. `None` when any
/// line is malformed.
pub fn parse_id_map(text: &str) -> Option<Vec<IdMapping>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split_ascii_whitespace().map(|n| n.parse::<u32>().ok());
            let m = IdMapping {
                inside: f.next()??,
                outside: f.next()??,
                count: f.next()??,
            };
            f.next().is_none().then_some(m)
        })
        .collect()
}

/// Parse a namespace link (`readlink /proc/self/ns/user`): `user:[4026531837]` -> the inode.
pub fn parse_ns_link(link: &str) -> Option<u64> {
    link.trim()
        .strip_prefix("user:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// What `/proc/self` says about the user namespace; `None` where it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserNamespace {
    /// `/proc/self/ns/user`'s inode.
    pub inode: Option<u64>,
    /// `/proc/self/uid_map`.
    pub uid_map: Option<Vec<IdMapping>>,
}

/// The judgement on a [`UserNamespace`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserNsKind {
    /// The initial user namespace: capabilities count for `bpf()`.
    Initial,
    /// A child namespace: capabilities held here do not count for `bpf()`. `evidence` says
    /// how it was told.
    Child { evidence: String },
    /// Neither the namespace link nor the uid map could be read.
    Unknown,
}

impl UserNamespace {
    /// What the initial user namespace shows (for callers that build facts by hand).
    pub fn initial() -> UserNamespace {
        UserNamespace {
            inode: Some(INITIAL_USER_NS_INODE),
            uid_map: Some(vec![IDENTITY_MAP]),
        }
    }

    pub fn kind(&self) -> UserNsKind {
        let mut evidence = Vec::new();
        if let Some(ino) = self.inode.filter(|&i| i != INITIAL_USER_NS_INODE) {
            evidence.push(format!(
                "/proc/self/ns/user is user:[{ino}], not the initial user:[{INITIAL_USER_NS_INODE}]"
            ));
        }
        if let Some(map) = self.uid_map.as_ref().filter(|m| **m != [IDENTITY_MAP]) {
            let lines = map
                .iter()
                .map(|m| format!("{} {} {}", m.inside, m.outside, m.count))
                .collect::<Vec<_>>()
                .join(", ");
            let lines = if lines.is_empty() { "empty" } else { &lines };
            evidence.push(format!(
                "/proc/self/uid_map is {lines}, not the identity map 0 0 4294967295"
            ));
        }
        if !evidence.is_empty() {
            return UserNsKind::Child {
                evidence: evidence.join("; "),
            };
        }
        if self.inode.is_some() || self.uid_map.is_some() {
            UserNsKind::Initial
        } else {
            UserNsKind::Unknown
        }
    }

    /// Whether this is known to be a child namespace (unknown counts as initial, as the kernel
    /// will have the last word anyway).
    pub(crate) fn is_child(&self) -> bool {
        matches!(self.kind(), UserNsKind::Child { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_maps_parse_as_the_kernel_prints_them() {
        let initial = parse_id_map("         0          0 4294967295\n").unwrap();
        assert_eq!(initial, [IDENTITY_MAP]);
        let rootless =
            parse_id_map("         0       1000          1\n         1     100000      65536\n")
                .unwrap();
        assert_eq!(
            rootless[1],
            IdMapping {
                inside: 1,
                outside: 100_000,
                count: 65_536
            }
        );
        assert_eq!(parse_id_map(""), Some(Vec::new()));
        assert_eq!(parse_id_map("0 0\n"), None);
        assert_eq!(parse_id_map("0 0 1 2\n"), None);
        assert_eq!(parse_id_map("0 0 4294967296\n"), None);
        assert_eq!(parse_id_map("a b c\n"), None);
    }

    #[test]
    fn ns_links_parse() {
        assert_eq!(
            parse_ns_link("user:[4026531837]\n"),
            Some(INITIAL_USER_NS_INODE)
        );
        assert_eq!(parse_ns_link("net:[4026531840]"), None);
        assert_eq!(parse_ns_link("user:[x]"), None);
    }

    #[test]
    fn child_namespaces_are_told_by_either_piece_of_evidence() {
        assert_eq!(UserNamespace::initial().kind(), UserNsKind::Initial);
        assert_eq!(UserNamespace::default().kind(), UserNsKind::Unknown);
        assert!(!UserNamespace::default().is_child());

        // unshare --user --map-root-user
        let unshared = UserNamespace {
            inode: Some(4_026_532_179),
            uid_map: parse_id_map("         0          0          1\n"),
        };
        let UserNsKind::Child { evidence } = unshared.kind() else {
            panic!("{:?}", unshared.kind())
        };
        assert_eq!(
            evidence,
            "/proc/self/ns/user is user:[4026532179], not the initial user:[4026531837]; \
             /proc/self/uid_map is 0 0 1, not the identity map 0 0 4294967295"
        );

        // A child namespace with the identity map (written by a privileged parent).
        let identity_child = UserNamespace {
            inode: Some(4_026_532_200),
            uid_map: Some(vec![IDENTITY_MAP]),
        };
        assert!(identity_child.is_child());

        // The namespace link unreadable: the map alone decides.
        let map_only = UserNamespace {
            inode: None,
            uid_map: parse_id_map("0 1000 1\n"),
        };
        assert!(map_only.is_child());
        let map_only = UserNamespace {
            inode: None,
            uid_map: Some(vec![IDENTITY_MAP]),
        };
        assert_eq!(map_only.kind(), UserNsKind::Initial);
    }
}
