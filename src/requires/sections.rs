//! What libbpf derives from a program's `SEC()` name: its program type, expected attach type
//! and what it attaches to. The table follows the order and matching rules of libbpf's
//! `section_defs` (libbpf.c, `sec_def_matches`): a prefix ending in `+` matches the name itself
//! or the name followed by `/` and a target; any other prefix matches only the exact name. The
//! first match wins, so longer prefixes come before their shorter relatives.

/// How the attach type is used, from libbpf's `SEC_*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachUse {
    /// No expected attach type.
    None,
    /// Passed at load time and checked by the kernel there (`SEC_ATTACHABLE`,
    /// `SEC_ATTACH_BTF`).
    Load,
    /// Passed at load time only when the kernel knows it (`SEC_ATTACHABLE_OPT`: libbpf probes
    /// and drops it), or only used when attaching (`SEC_NONE` with an attach type, as
    /// `tcx/ingress` or `kprobe.multi`): the kernel needs it to attach, not to load.
    Attach,
}

/// What the part of the section name after the prefix names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Nothing to resolve.
    None,
    /// A kernel function by BTF id (`fentry/`, `fexit/`, `fmod_ret/`): a FUNC record, resolved
    /// by libbpf before load.
    BtfFunc,
    /// An LSM hook (`lsm/NAME`): the FUNC `bpf_lsm_NAME`.
    Lsm,
    /// A BTF-enabled raw tracepoint (`tp_btf/NAME`): the typedef `btf_trace_NAME`.
    BtfTracepoint,
    /// A BPF iterator (`iter/NAME`): the FUNC `bpf_iter_NAME`.
    Iter,
    /// A kernel function by symbol (`kprobe/`, `kretprobe/`), attached by kallsyms.
    Kprobe,
    /// A syscall (`ksyscall/NAME`): the arch's syscall wrapper.
    Ksyscall,
    /// A tracepoint (`tracepoint/CATEGORY/NAME`), attached through tracefs.
    Tracepoint,
    /// A raw tracepoint by name (`raw_tp/NAME`).
    RawTracepoint,
    /// A member of a `struct_ops` map.
    StructOps,
    /// User space (`uprobe`, `usdt`): nothing the kernel's BTF can answer.
    User,
    /// A BPF program (`freplace/NAME`): the target is another object.
    Program,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecDef {
    /// The prefix as libbpf writes it, `+` included.
    pub prefix: &'static str,
    /// `enum bpf_prog_type` enumerator.
    pub prog_type: &'static str,
    /// `enum bpf_attach_type` enumerator, if any.
    pub attach_type: Option<&'static str>,
    pub attach_use: AttachUse,
    pub target: TargetKind,
    pub sleepable: bool,
}

impl SecDef {
    /// Whether `sec` (without a leading `?`) is this definition's section name.
    pub fn matches(&self, sec: &str) -> bool {
        match self.prefix.strip_suffix('+') {
            Some(p) => sec == p || sec.strip_prefix(p).is_some_and(|r| r.starts_with('/')),
            None => sec == self.prefix,
        }
    }

    /// The target named after the prefix (`do_unlinkat` in `fentry/do_unlinkat`), if any.
    pub fn target_of<'s>(&self, sec: &'s str) -> Option<&'s str> {
        let p = self.prefix.strip_suffix('+')?;
        let rest = sec.strip_prefix(p)?.strip_prefix('/')?;
        (!rest.is_empty()).then_some(rest)
    }
}

use AttachUse as A;
use TargetKind as T;

const fn d(
    prefix: &'static str,
    prog_type: &'static str,
    attach_type: Option<&'static str>,
    attach_use: AttachUse,
    target: TargetKind,
) -> SecDef {
    SecDef {
        prefix,
        prog_type,
        attach_type,
        attach_use,
        target,
        sleepable: false,
    }
}

const fn s(def: SecDef) -> SecDef {
    SecDef {
        sleepable: true,
        ..def
    }
}

const KPROBE: &str = "BPF_PROG_TYPE_KPROBE";
const TRACING: &str = "BPF_PROG_TYPE_TRACING";
const CLS: &str = "BPF_PROG_TYPE_SCHED_CLS";
const SOCK_ADDR: &str = "BPF_PROG_TYPE_CGROUP_SOCK_ADDR";
const SOCK: &str = "BPF_PROG_TYPE_CGROUP_SOCK";
const XDP: &str = "BPF_PROG_TYPE_XDP";

/// libbpf 1.7's section definitions, in its order (one row per line, as libbpf writes them).
#[rustfmt::skip]
pub static SECTION_DEFS: &[SecDef] = &[
    d("socket", "BPF_PROG_TYPE_SOCKET_FILTER", None, A::None, T::None),
    d("sk_reuseport/migrate", "BPF_PROG_TYPE_SK_REUSEPORT", Some("BPF_SK_REUSEPORT_SELECT_OR_MIGRATE"), A::Load, T::None),
    d("sk_reuseport", "BPF_PROG_TYPE_SK_REUSEPORT", Some("BPF_SK_REUSEPORT_SELECT"), A::Load, T::None),
    d("kprobe+", KPROBE, None, A::None, T::Kprobe),
    d("uprobe+", KPROBE, None, A::None, T::User),
    s(d("uprobe.s+", KPROBE, None, A::None, T::User)),
    d("kretprobe+", KPROBE, None, A::None, T::Kprobe),
    d("uretprobe+", KPROBE, None, A::None, T::User),
    s(d("uretprobe.s+", KPROBE, None, A::None, T::User)),
    d("kprobe.multi+", KPROBE, Some("BPF_TRACE_KPROBE_MULTI"), A::Attach, T::Kprobe),
    d("kretprobe.multi+", KPROBE, Some("BPF_TRACE_KPROBE_MULTI"), A::Attach, T::Kprobe),
    d("kprobe.session+", KPROBE, Some("BPF_TRACE_KPROBE_SESSION"), A::Attach, T::Kprobe),
    d("uprobe.multi+", KPROBE, Some("BPF_TRACE_UPROBE_MULTI"), A::Attach, T::User),
    d("uretprobe.multi+", KPROBE, Some("BPF_TRACE_UPROBE_MULTI"), A::Attach, T::User),
    d("uprobe.session+", KPROBE, Some("BPF_TRACE_UPROBE_SESSION"), A::Attach, T::User),
    s(d("uprobe.multi.s+", KPROBE, Some("BPF_TRACE_UPROBE_MULTI"), A::Attach, T::User)),
    s(d("uretprobe.multi.s+", KPROBE, Some("BPF_TRACE_UPROBE_MULTI"), A::Attach, T::User)),
    s(d("uprobe.session.s+", KPROBE, Some("BPF_TRACE_UPROBE_SESSION"), A::Attach, T::User)),
    d("ksyscall+", KPROBE, None, A::None, T::Ksyscall),
    d("kretsyscall+", KPROBE, None, A::None, T::Ksyscall),
    d("usdt+", KPROBE, None, A::None, T::User),
    s(d("usdt.s+", KPROBE, None, A::None, T::User)),
    d("tc/ingress", CLS, Some("BPF_TCX_INGRESS"), A::Attach, T::None),
    d("tc/egress", CLS, Some("BPF_TCX_EGRESS"), A::Attach, T::None),
    d("tcx/ingress", CLS, Some("BPF_TCX_INGRESS"), A::Attach, T::None),
    d("tcx/egress", CLS, Some("BPF_TCX_EGRESS"), A::Attach, T::None),
    d("tc", CLS, None, A::None, T::None),
    d("classifier", CLS, None, A::None, T::None),
    d("action", "BPF_PROG_TYPE_SCHED_ACT", None, A::None, T::None),
    d("netkit/primary", CLS, Some("BPF_NETKIT_PRIMARY"), A::Attach, T::None),
    d("netkit/peer", CLS, Some("BPF_NETKIT_PEER"), A::Attach, T::None),
    d("tracepoint+", "BPF_PROG_TYPE_TRACEPOINT", None, A::None, T::Tracepoint),
    d("tp+", "BPF_PROG_TYPE_TRACEPOINT", None, A::None, T::Tracepoint),
    d("raw_tracepoint+", "BPF_PROG_TYPE_RAW_TRACEPOINT", None, A::None, T::RawTracepoint),
    d("raw_tp+", "BPF_PROG_TYPE_RAW_TRACEPOINT", None, A::None, T::RawTracepoint),
    d("raw_tracepoint.w+", "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE", None, A::None, T::RawTracepoint),
    d("raw_tp.w+", "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE", None, A::None, T::RawTracepoint),
    d("tp_btf+", TRACING, Some("BPF_TRACE_RAW_TP"), A::Load, T::BtfTracepoint),
    d("fentry+", TRACING, Some("BPF_TRACE_FENTRY"), A::Load, T::BtfFunc),
    d("fmod_ret+", TRACING, Some("BPF_MODIFY_RETURN"), A::Load, T::BtfFunc),
    d("fexit+", TRACING, Some("BPF_TRACE_FEXIT"), A::Load, T::BtfFunc),
    s(d("fentry.s+", TRACING, Some("BPF_TRACE_FENTRY"), A::Load, T::BtfFunc)),
    s(d("fmod_ret.s+", TRACING, Some("BPF_MODIFY_RETURN"), A::Load, T::BtfFunc)),
    s(d("fexit.s+", TRACING, Some("BPF_TRACE_FEXIT"), A::Load, T::BtfFunc)),
    d("fsession+", TRACING, Some("BPF_TRACE_FSESSION"), A::Load, T::BtfFunc),
    s(d("fsession.s+", TRACING, Some("BPF_TRACE_FSESSION"), A::Load, T::BtfFunc)),
    d("freplace+", "BPF_PROG_TYPE_EXT", None, A::None, T::Program),
    d("lsm+", "BPF_PROG_TYPE_LSM", Some("BPF_LSM_MAC"), A::Load, T::Lsm),
    s(d("lsm.s+", "BPF_PROG_TYPE_LSM", Some("BPF_LSM_MAC"), A::Load, T::Lsm)),
    d("lsm_cgroup+", "BPF_PROG_TYPE_LSM", Some("BPF_LSM_CGROUP"), A::Load, T::Lsm),
    d("iter+", TRACING, Some("BPF_TRACE_ITER"), A::Load, T::Iter),
    s(d("iter.s+", TRACING, Some("BPF_TRACE_ITER"), A::Load, T::Iter)),
    s(d("syscall", "BPF_PROG_TYPE_SYSCALL", None, A::None, T::None)),
    d("xdp.frags/devmap", XDP, Some("BPF_XDP_DEVMAP"), A::Load, T::None),
    d("xdp/devmap", XDP, Some("BPF_XDP_DEVMAP"), A::Load, T::None),
    d("xdp.frags/cpumap", XDP, Some("BPF_XDP_CPUMAP"), A::Load, T::None),
    d("xdp/cpumap", XDP, Some("BPF_XDP_CPUMAP"), A::Load, T::None),
    d("xdp.frags", XDP, Some("BPF_XDP"), A::Load, T::None),
    d("xdp", XDP, Some("BPF_XDP"), A::Attach, T::None),
    d("perf_event", "BPF_PROG_TYPE_PERF_EVENT", None, A::None, T::None),
    d("lwt_in", "BPF_PROG_TYPE_LWT_IN", None, A::None, T::None),
    d("lwt_out", "BPF_PROG_TYPE_LWT_OUT", None, A::None, T::None),
    d("lwt_xmit", "BPF_PROG_TYPE_LWT_XMIT", None, A::None, T::None),
    d("lwt_seg6local", "BPF_PROG_TYPE_LWT_SEG6LOCAL", None, A::None, T::None),
    d("sockops", "BPF_PROG_TYPE_SOCK_OPS", Some("BPF_CGROUP_SOCK_OPS"), A::Attach, T::None),
    d("sk_skb/stream_parser", "BPF_PROG_TYPE_SK_SKB", Some("BPF_SK_SKB_STREAM_PARSER"), A::Attach, T::None),
    d("sk_skb/stream_verdict", "BPF_PROG_TYPE_SK_SKB", Some("BPF_SK_SKB_STREAM_VERDICT"), A::Attach, T::None),
    d("sk_skb/verdict", "BPF_PROG_TYPE_SK_SKB", Some("BPF_SK_SKB_VERDICT"), A::Attach, T::None),
    d("sk_skb", "BPF_PROG_TYPE_SK_SKB", None, A::None, T::None),
    d("sk_msg", "BPF_PROG_TYPE_SK_MSG", Some("BPF_SK_MSG_VERDICT"), A::Attach, T::None),
    d("lirc_mode2", "BPF_PROG_TYPE_LIRC_MODE2", Some("BPF_LIRC_MODE2"), A::Attach, T::None),
    d("flow_dissector", "BPF_PROG_TYPE_FLOW_DISSECTOR", Some("BPF_FLOW_DISSECTOR"), A::Attach, T::None),
    d("cgroup_skb/ingress", "BPF_PROG_TYPE_CGROUP_SKB", Some("BPF_CGROUP_INET_INGRESS"), A::Attach, T::None),
    d("cgroup_skb/egress", "BPF_PROG_TYPE_CGROUP_SKB", Some("BPF_CGROUP_INET_EGRESS"), A::Attach, T::None),
    d("cgroup/skb", "BPF_PROG_TYPE_CGROUP_SKB", None, A::None, T::None),
    d("cgroup/sock_create", SOCK, Some("BPF_CGROUP_INET_SOCK_CREATE"), A::Load, T::None),
    d("cgroup/sock_release", SOCK, Some("BPF_CGROUP_INET_SOCK_RELEASE"), A::Load, T::None),
    d("cgroup/sock", SOCK, Some("BPF_CGROUP_INET_SOCK_CREATE"), A::Attach, T::None),
    d("cgroup/post_bind4", SOCK, Some("BPF_CGROUP_INET4_POST_BIND"), A::Load, T::None),
    d("cgroup/post_bind6", SOCK, Some("BPF_CGROUP_INET6_POST_BIND"), A::Load, T::None),
    d("cgroup/bind4", SOCK_ADDR, Some("BPF_CGROUP_INET4_BIND"), A::Load, T::None),
    d("cgroup/bind6", SOCK_ADDR, Some("BPF_CGROUP_INET6_BIND"), A::Load, T::None),
    d("cgroup/connect4", SOCK_ADDR, Some("BPF_CGROUP_INET4_CONNECT"), A::Load, T::None),
    d("cgroup/connect6", SOCK_ADDR, Some("BPF_CGROUP_INET6_CONNECT"), A::Load, T::None),
    d("cgroup/connect_unix", SOCK_ADDR, Some("BPF_CGROUP_UNIX_CONNECT"), A::Load, T::None),
    d("cgroup/sendmsg4", SOCK_ADDR, Some("BPF_CGROUP_UDP4_SENDMSG"), A::Load, T::None),
    d("cgroup/sendmsg6", SOCK_ADDR, Some("BPF_CGROUP_UDP6_SENDMSG"), A::Load, T::None),
    d("cgroup/sendmsg_unix", SOCK_ADDR, Some("BPF_CGROUP_UNIX_SENDMSG"), A::Load, T::None),
    d("cgroup/recvmsg4", SOCK_ADDR, Some("BPF_CGROUP_UDP4_RECVMSG"), A::Load, T::None),
    d("cgroup/recvmsg6", SOCK_ADDR, Some("BPF_CGROUP_UDP6_RECVMSG"), A::Load, T::None),
    d("cgroup/recvmsg_unix", SOCK_ADDR, Some("BPF_CGROUP_UNIX_RECVMSG"), A::Load, T::None),
    d("cgroup/getpeername4", SOCK_ADDR, Some("BPF_CGROUP_INET4_GETPEERNAME"), A::Load, T::None),
    d("cgroup/getpeername6", SOCK_ADDR, Some("BPF_CGROUP_INET6_GETPEERNAME"), A::Load, T::None),
    d("cgroup/getpeername_unix", SOCK_ADDR, Some("BPF_CGROUP_UNIX_GETPEERNAME"), A::Load, T::None),
    d("cgroup/getsockname4", SOCK_ADDR, Some("BPF_CGROUP_INET4_GETSOCKNAME"), A::Load, T::None),
    d("cgroup/getsockname6", SOCK_ADDR, Some("BPF_CGROUP_INET6_GETSOCKNAME"), A::Load, T::None),
    d("cgroup/getsockname_unix", SOCK_ADDR, Some("BPF_CGROUP_UNIX_GETSOCKNAME"), A::Load, T::None),
    d("cgroup/sysctl", "BPF_PROG_TYPE_CGROUP_SYSCTL", Some("BPF_CGROUP_SYSCTL"), A::Load, T::None),
    d("cgroup/getsockopt", "BPF_PROG_TYPE_CGROUP_SOCKOPT", Some("BPF_CGROUP_GETSOCKOPT"), A::Load, T::None),
    d("cgroup/setsockopt", "BPF_PROG_TYPE_CGROUP_SOCKOPT", Some("BPF_CGROUP_SETSOCKOPT"), A::Load, T::None),
    d("cgroup/dev", "BPF_PROG_TYPE_CGROUP_DEVICE", Some("BPF_CGROUP_DEVICE"), A::Attach, T::None),
    d("struct_ops+", "BPF_PROG_TYPE_STRUCT_OPS", None, A::None, T::StructOps),
    s(d("struct_ops.s+", "BPF_PROG_TYPE_STRUCT_OPS", None, A::None, T::StructOps)),
    d("sk_lookup", "BPF_PROG_TYPE_SK_LOOKUP", Some("BPF_SK_LOOKUP"), A::Load, T::None),
    d("netfilter", "BPF_PROG_TYPE_NETFILTER", Some("BPF_NETFILTER"), A::Attach, T::None),
];

/// The definition libbpf picks for section `sec` (a leading `?`, "do not autoload", removed
/// first), or `None`: libbpf then refuses the program ("missing BPF prog type").
pub fn lookup(sec: &str) -> Option<&'static SecDef> {
    let sec = sec.strip_prefix('?').unwrap_or(sec);
    SECTION_DEFS.iter().find(|d| d.matches(sec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_as_libbpf_does() {
        assert_eq!(lookup("kprobe/do_unlinkat").unwrap().prefix, "kprobe+");
        assert_eq!(lookup("kprobe").unwrap().prefix, "kprobe+");
        assert_eq!(
            lookup("kprobe.multi/vfs_*").unwrap().prefix,
            "kprobe.multi+"
        );
        assert!(lookup("kprobex").is_none());
        assert_eq!(lookup("xdp").unwrap().attach_use, AttachUse::Attach);
        assert!(lookup("xdp/foo").is_none(), "xdp takes no target");
        assert_eq!(
            lookup("?fentry/f").unwrap().target_of("fentry/f"),
            Some("f")
        );
        assert_eq!(
            lookup("tp/sched/sched_switch").unwrap().target,
            TargetKind::Tracepoint
        );
        assert!(lookup("fentry.s/f").unwrap().sleepable);
        assert_eq!(
            lookup("cgroup/sock_release").unwrap().attach_type,
            Some("BPF_CGROUP_INET_SOCK_RELEASE")
        );
        assert_eq!(lookup("cgroup/sock").unwrap().attach_use, AttachUse::Attach);
    }
}
