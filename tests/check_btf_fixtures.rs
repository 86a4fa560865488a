//! `check-btf` judged on fixture inputs: kernels without BTF, without tracefs, with old or
//! missing configs, unprivileged processes. No root, no particular kernel needed.
//!
//! Golden files (`tests/fixtures/check-btf/golden-*`): set `CORETOOL_BLESS=1` to rewrite them
//! after an intended change.

use std::collections::BTreeMap;
use std::path::PathBuf;

use coretool::btf::Kind;
use coretool::check::analyse::ProbeId;
use coretool::check::config::{self, ConfigMissing, ConfigSource, KernelConfig};
use coretool::check::gather::{examine_fallbacks, fallback_locations, module_btf};
use coretool::check::{
    analyse, BtfFacts, BtfOrigin, BtfShape, CheckReport, Facts, Fallback, FallbackState, LoadedBtf,
    OsRelease, ProbeResult, Status, TracepointFacts, TracingFacts, MONITOR_TRACEPOINTS,
    NEEDS_INITIAL_USERNS, NEEDS_PRIVILEGE,
};
use coretool::host::{mounts, userns, CapSet, Privilege, Uname, UserNamespace};
use coretool::libbpf::probe::{Errno, ProbeOutcome};
// The binary's renderers, compiled into this test: check-btf's text and JSON are goldens.
#[path = "../src/render/mod.rs"]
#[allow(dead_code)]
mod renderers;
use renderers::{check as render, Style};

fn fixture(name: &str) -> PathBuf {
    crate::common::fixtures().join("check-btf").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn config(name: &str) -> Result<ConfigSource, ConfigMissing> {
    Ok(ConfigSource {
        path: PathBuf::from(format!("/boot/{name}")),
        config: config::read_config(&fixture(name)).unwrap(),
    })
}

fn no_config(release: &str) -> Result<ConfigSource, ConfigMissing> {
    Err(ConfigMissing {
        tried: config::candidates(release)
            .into_iter()
            .map(|p| (p, "no such file or directory".to_owned()))
            .collect(),
    })
}

fn privilege(status: &str, euid: u32) -> Privilege {
    Privilege {
        euid,
        cap_eff: CapSet::effective_from_status(&read(status)),
        user_ns: UserNamespace::initial(),
    }
}

/// A vmlinux BTF as this project's test machine has it (kind counts from 6.18).
fn loaded_btf(path: &str, libbpf_types: u32) -> LoadedBtf {
    let kinds: BTreeMap<Kind, u32> = [
        (Kind::Struct, 10_000),
        (Kind::Float, 1),
        (Kind::DeclTag, 205),
        (Kind::TypeTag, 1),
        (Kind::Enum64, 9),
    ]
    .into_iter()
    .collect();
    LoadedBtf {
        path: PathBuf::from(path),
        container: "raw BTF".into(),
        size: 5_515_646,
        type_count: 126_586,
        kinds,
        libbpf: Ok(libbpf_types),
        release: None,
        split: false,
        shape: BtfShape {
            task_struct: true,
            bpf_prog: true,
            native_endian: true,
            pointer_size: Some(8),
        },
    }
}

/// Tracing facts derived from a mounts fixture the way `gather` derives them.
fn tracing(mounts_fixture: &str, btf_has_tracepoints: Option<bool>) -> TracingFacts {
    let table = mounts::parse_mounts(&read(mounts_fixture));
    let mounted = !mounts::targets_of(&table, "tracefs").is_empty();
    TracingFacts {
        tracepoints: MONITOR_TRACEPOINTS
            .iter()
            .map(|n| TracepointFacts {
                name: (*n).into(),
                in_tracefs: if mounted {
                    Ok(true)
                } else {
                    Err("tracefs not mounted".into())
                },
                in_btf: btf_has_tracepoints,
            })
            .collect(),
        mounts: Ok(table),
        tracefs_supported: Some(true),
        kprobe_pmu: false,
        kprobe_events: if mounted {
            Ok(false)
        } else {
            Err("tracefs not mounted".into())
        },
    }
}

fn all_probes(outcome: ProbeOutcome) -> Option<Vec<ProbeResult>> {
    Some(
        ProbeId::ALL
            .iter()
            .map(|&probe| ProbeResult {
                probe,
                outcome: Ok(outcome),
            })
            .collect(),
    )
}

/// This project's test machine: 6.18, BTF, no kprobes, tracefs unmounted, root.
fn machine_like() -> Facts {
    Facts {
        uname: Uname {
            release: "6.18.44-fc-v657".into(),
            machine: "x86_64".into(),
            version: "#1 SMP PREEMPT_DYNAMIC @0".into(),
        },
        os: OsRelease::parse(&read("os-release-debian-12")),
        libbpf_version: (1, 7),
        libbpf_version_string: "v1.7".into(),
        btf: BtfFacts {
            origin: BtfOrigin::Sysfs,
            loaded: Ok(loaded_btf("/sys/kernel/btf/vmlinux", 126_586)),
            sysfs_exists: true,
            fallbacks: Vec::new(),
        },
        modules: Some(coretool::check::ModuleBtf {
            valid: Vec::new(),
            invalid: Vec::new(),
        }),
        config: config("config-6.18-no-kprobes"),
        privilege: privilege("status-root", 0),
        unprivileged_bpf_disabled: Some(2),
        bpf_jit_enable: Some(1),
        tracing: tracing("mounts-no-tracefs", Some(true)),
        probes: all_probes(ProbeOutcome::Supported),
    }
}

/// Ubuntu 20.04 on 5.4 without BTF anywhere, unprivileged, tracefs mounted.
fn no_btf_kernel() -> Facts {
    let release = "5.4.0-1010-aws";
    Facts {
        uname: Uname {
            release: release.into(),
            machine: "x86_64".into(),
            version: "#10-Ubuntu SMP".into(),
        },
        os: OsRelease::parse(&read("os-release-ubuntu-20.04")),
        btf: BtfFacts {
            origin: BtfOrigin::Sysfs,
            loaded: Err("/sys/kernel/btf/vmlinux is absent".into()),
            sysfs_exists: false,
            fallbacks: fallback_locations(release)
                .into_iter()
                .map(|path| Fallback {
                    path,
                    state: FallbackState::Absent,
                })
                .collect(),
        },
        modules: None,
        config: config("config-5.4-no-btf"),
        privilege: privilege("status-nobody", 65534),
        tracing: TracingFacts {
            kprobe_pmu: true,
            ..tracing("mounts-tracefs", None)
        },
        probes: None,
        ..machine_like()
    }
}

fn status(r: &CheckReport, name: &str) -> Status {
    r.get(name)
        .unwrap_or_else(|| panic!("no check {name}"))
        .status
}

fn fix(r: &CheckReport, name: &str) -> String {
    r.get(name).and_then(|c| c.fix.clone()).unwrap_or_default()
}

/// Every non-ok finding but `skipped` carries a fix; ok ones carry none.
fn assert_fixes(r: &CheckReport) {
    for c in &r.checks {
        match c.status {
            Status::Warn | Status::Fail => {
                assert!(
                    c.fix.as_deref().is_some_and(|f| !f.is_empty()),
                    "{c:?} lacks a fix"
                )
            }
            Status::Ok | Status::Skipped => assert!(c.fix.is_none(), "{c:?} has a fix"),
        }
        assert!(!c.detail.is_empty(), "{c:?} has no detail");
    }
}

#[track_caller]
fn golden(name: &str, got: &str) {
    crate::common::assert_golden(&format!("fixtures/check-btf/{name}"), got);
}

fn text(r: &CheckReport) -> String {
    let mut out = Vec::new();
    render::write_text(&mut out, r, &Style::new(false)).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn gzip_and_plain_config_parse_alike() {
    let gz = config::read_config(&fixture("config-6.18-no-kprobes.gz")).unwrap();
    let plain = config::read_config(&fixture("config-6.18-no-kprobes")).unwrap();
    assert_eq!(gz, plain);
    assert_eq!(plain.version.as_deref(), Some("6.18.44"));
    assert!(plain.enabled("CONFIG_DEBUG_INFO_BTF"));
    assert_eq!(plain.get("CONFIG_KPROBE_EVENTS"), None);
}

#[test]
fn config_that_is_not_a_config_is_refused_naming_the_file() {
    let err = config::read_config(&fixture("mounts-tracefs")).unwrap_err();
    assert!(err
        .to_string()
        .contains("mounts-tracefs: holds no CONFIG_ options"));
    let err = config::read_config(&fixture("does-not-exist")).unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
}

#[test]
fn machine_like_kernel_is_ready_but_lacks_kprobes_and_tracefs() {
    let r = analyse(&machine_like());
    assert_fixes(&r);
    assert!(r.can_load());
    assert_eq!(status(&r, "btf.vmlinux"), Status::Ok);
    assert_eq!(status(&r, "btf.libbpf"), Status::Ok);
    let kinds = &r.get("btf.kinds").unwrap().detail;
    assert!(
        kinds.contains("float (1), decl_tag (205), type_tag (1), enum64 (9)"),
        "{kinds}"
    );
    assert_eq!(status(&r, "kprobes"), Status::Warn);
    assert!(r
        .get("kprobes")
        .unwrap()
        .detail
        .contains("CONFIG_KPROBE_EVENTS"));
    assert!(fix(&r, "kprobes").contains("CONFIG_KPROBE_EVENTS=y"));
    assert_eq!(status(&r, "config.KPROBE_EVENTS"), Status::Warn);
    assert_eq!(status(&r, "tracefs"), Status::Warn);
    assert_eq!(
        fix(&r, "tracefs"),
        "mount -t tracefs tracefs /sys/kernel/tracing"
    );
    assert_eq!(status(&r, "btf.modules"), Status::Ok);
    assert_eq!(status(&r, "config.DEBUG_INFO_BTF_MODULES"), Status::Ok);
    // Tracepoints are proven from BTF when tracefs cannot be read.
    assert!(r
        .get("tracepoint.sched/sched_process_exec")
        .unwrap()
        .detail
        .contains("btf_trace_sched_process_exec"));
    assert!(r
        .get("probe.prog.kprobe")
        .unwrap()
        .detail
        .contains("attaching does not"));
    golden("golden-machine.txt", &text(&r));
}

#[test]
fn kernel_without_btf_fails_with_btfhub_fix() {
    let r = analyse(&no_btf_kernel());
    assert_fixes(&r);
    assert!(!r.can_load());
    assert_eq!(status(&r, "btf.vmlinux"), Status::Fail);
    let url = "https://github.com/aquasecurity/btfhub-archive/raw/main/ubuntu/20.04/x86_64/5.4.0-1010-aws.btf.tar.xz";
    assert!(fix(&r, "btf.vmlinux").contains(url));
    assert!(fix(&r, "btf.vmlinux").contains("--btf 5.4.0-1010-aws.btf.tar.xz"));
    assert_eq!(status(&r, "btf.fallback"), Status::Fail);
    assert!(r
        .get("btf.fallback")
        .unwrap()
        .detail
        .contains("/boot/vmlinux-5.4.0-1010-aws (absent)"));
    assert_eq!(status(&r, "btf.libbpf"), Status::Skipped);
    assert_eq!(status(&r, "config.DEBUG_INFO_BTF"), Status::Fail);
    assert_eq!(status(&r, "config.btf_needs"), Status::Fail);
    assert!(fix(&r, "config.btf_needs").contains("CONFIG_DEBUG_INFO_REDUCED unset"));
    assert_eq!(status(&r, "btf.modules"), Status::Skipped);
    assert_eq!(status(&r, "tracefs"), Status::Ok);
    assert_eq!(status(&r, "kprobes"), Status::Ok);
    assert_eq!(status(&r, "privilege"), Status::Warn);
    for p in ProbeId::ALL {
        let c = r.get(p.name()).unwrap();
        assert_eq!(
            (c.status, c.detail.as_str()),
            (Status::Skipped, NEEDS_PRIVILEGE)
        );
    }
    assert!(!r.kernel.privileged);
    let json = serde_json::to_string_pretty(&render::to_json(&r)).unwrap() + "\n";
    golden("golden-no-btf.json", &json);
}

/// BTFHub carries only some releases (debian/9-11, ubuntu/16.04-20.04, rhel/7-8, ...): for
/// others the fix says so and how to generate the BTF, instead of a URL that does not exist.
#[test]
fn btfhub_fix_follows_what_btfhub_carries() {
    let with_os = |id: &str, version: &str| {
        let mut f = no_btf_kernel();
        f.os.id = Some(id.into());
        f.os.version_id = Some(version.into());
        fix(&analyse(&f), "btf.vmlinux")
    };
    let debian12 = with_os("debian", "12");
    assert!(!debian12.contains("btfhub-archive/raw"), "{debian12}");
    assert!(
        debian12.starts_with("BTFHub has no BTF for debian 12; generate it: apt-get install linux-image-5.4.0-1010-aws-dbg && pahole --btf_encode_detached"),
        "{debian12}"
    );
    let rhel = with_os("rhel", "8.4");
    assert!(
        rhel.contains("btfhub-archive/raw/main/rhel/8/x86_64/5.4.0-1010-aws.btf.tar.xz"),
        "{rhel}"
    );
    let debian10 = with_os("debian", "10");
    assert!(debian10.contains("/debian/10/x86_64/"), "{debian10}");
    let arch = with_os("arch", "rolling");
    assert!(
        arch.starts_with("BTFHub has no BTF for arch rolling"),
        "{arch}"
    );
    assert!(arch.contains("pahole --btf_encode_detached"), "{arch}");
}

#[test]
fn btfhub_btf_stands_in_for_missing_kernel_btf() {
    let mut f = no_btf_kernel();
    let mut b = loaded_btf("5.4.0-1010-aws.btf.tar.xz", 126_586);
    b.release = Some("5.4.0-1010-aws".into());
    f.btf = BtfFacts {
        origin: BtfOrigin::Given,
        loaded: Ok(b),
        sysfs_exists: false,
        fallbacks: Vec::new(),
    };
    let r = analyse(&f);
    assert_fixes(&r);
    assert!(r.can_load(), "{}", text(&r));
    assert_eq!(status(&r, "btf.release"), Status::Ok);
    assert_eq!(status(&r, "config.DEBUG_INFO_BTF"), Status::Warn);
    assert_eq!(status(&r, "config.btf_needs"), Status::Warn);

    // The wrong kernel's BTF is flagged.
    if let Ok(b) = &mut f.btf.loaded {
        b.release = Some("5.4.0-1009-aws".into());
    }
    let r = analyse(&f);
    assert_eq!(status(&r, "btf.release"), Status::Warn);
}

#[test]
fn old_config_lacks_btf_options() {
    let f = Facts {
        config: config("config-4.9-old"),
        ..no_btf_kernel()
    };
    let r = analyse(&f);
    assert_fixes(&r);
    let c = r.get("config.DEBUG_INFO_BTF").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.detail.contains("not in the config"), "{}", c.detail);
    assert!(fix(&r, "config.DEBUG_INFO_BTF").contains("CONFIG_DEBUG_INFO=y"));
    assert!(fix(&r, "config.btf_needs").contains("CONFIG_DEBUG_INFO=y"));
    assert_eq!(status(&r, "config.KPROBE_EVENTS"), Status::Ok);
    assert_eq!(status(&r, "config.DEBUG_INFO_BTF_MODULES"), Status::Warn);
}

#[test]
fn kernel_without_bpf_syscall_cannot_load() {
    let f = Facts {
        config: config("config-no-bpf"),
        ..machine_like()
    };
    let r = analyse(&f);
    assert_fixes(&r);
    assert!(!r.can_load());
    assert_eq!(status(&r, "config.BPF_SYSCALL"), Status::Fail);
    assert_eq!(
        fix(&r, "config.BPF_SYSCALL"),
        "rebuild the kernel with CONFIG_BPF_SYSCALL=y"
    );
    // The sysfs BTF exists, so unmet BTF needs only warn; pahole is named.
    assert!(fix(&r, "config.btf_needs").contains("pahole >= 1.16"));
}

#[test]
fn missing_config_is_reported_not_fatal() {
    let f = Facts {
        config: no_config("6.18.44-fc-v657"),
        ..machine_like()
    };
    let r = analyse(&f);
    assert_fixes(&r);
    assert!(r.can_load());
    assert_eq!(status(&r, "config"), Status::Warn);
    assert!(r
        .get("config")
        .unwrap()
        .detail
        .starts_with("config not available"));
    assert!(fix(&r, "config").contains("modprobe configs"));
    assert_eq!(status(&r, "config.DEBUG_INFO_BTF"), Status::Skipped);
    assert!(r.kernel.config.is_none());
}

#[test]
fn kprobe_attach_paths() {
    // Config has kprobe events, tracefs unmounted, no PMU (kernel < 4.17): mount tracefs.
    let mut f = Facts {
        config: config("config-5.4-no-btf"),
        ..machine_like()
    };
    let r = analyse(&f);
    assert_eq!(status(&r, "kprobes"), Status::Warn);
    assert_eq!(
        fix(&r, "kprobes"),
        "mount -t tracefs tracefs /sys/kernel/tracing (libbpf's legacy kprobe path)"
    );
    // tracefs mounted with kprobe_events: the legacy path works.
    f.tracing.kprobe_events = Ok(true);
    assert_eq!(status(&analyse(&f), "kprobes"), Status::Ok);
    // tracefs mounted, no kprobe_events, yet the config claims them: the config is not this kernel's.
    f.tracing.kprobe_events = Ok(false);
    let r = analyse(&f);
    assert_eq!(status(&r, "kprobes"), Status::Warn);
    assert!(fix(&r, "kprobes").contains("uname -r"));
}

#[test]
fn debugfs_alone_gives_tracefs_through_automount() {
    let f = Facts {
        tracing: tracing("mounts-debugfs-only", Some(true)),
        ..machine_like()
    };
    let r = analyse(&f);
    assert_eq!(status(&r, "tracefs"), Status::Ok);
    assert!(r
        .get("tracefs")
        .unwrap()
        .detail
        .contains("/sys/kernel/debug/tracing"));
    assert_eq!(status(&r, "debugfs"), Status::Ok);
}

#[test]
fn cap_bpf_without_perfmon_is_a_warning() {
    let f = Facts {
        privilege: privilege("status-cap-bpf-only", 1000),
        ..machine_like()
    };
    let r = analyse(&f);
    assert_eq!(status(&r, "privilege"), Status::Warn);
    assert!(r.get("privilege").unwrap().detail.contains("CAP_PERFMON"));
    assert!(fix(&r, "privilege").contains("cap_bpf,cap_perfmon"));
}

#[test]
fn libbpf_disagreeing_or_failing_fails() {
    let mut f = machine_like();
    f.btf.loaded = Ok(loaded_btf("/sys/kernel/btf/vmlinux", 100));
    let r = analyse(&f);
    assert_eq!(status(&r, "btf.libbpf"), Status::Fail);
    assert!(!r.can_load());
    let mut b = loaded_btf("/sys/kernel/btf/vmlinux", 0);
    b.libbpf = Err(Errno(libc::EINVAL));
    f.btf.loaded = Ok(b);
    let r = analyse(&f);
    assert_eq!(status(&r, "btf.libbpf"), Status::Fail);
    assert!(r.get("btf.libbpf").unwrap().detail.contains("errno 22"));
}

#[test]
fn old_libbpf_cannot_read_newer_kinds() {
    let f = Facts {
        libbpf_version: (0, 5),
        libbpf_version_string: "v0.5".into(),
        ..machine_like()
    };
    let r = analyse(&f);
    assert_eq!(status(&r, "btf.kinds"), Status::Fail);
    let d = &r.get("btf.kinds").unwrap().detail;
    assert!(d.contains("decl_tag needs libbpf >= v0.6"), "{d}");
    assert!(d.contains("enum64 needs libbpf >= v1.0"), "{d}");
    assert!(!d.contains("float needs"), "{d}");
}

#[test]
fn probe_outcomes_map_to_statuses() {
    let f = Facts {
        probes: all_probes(ProbeOutcome::Unsupported),
        ..machine_like()
    };
    let r = analyse(&f);
    assert_fixes(&r);
    assert_eq!(status(&r, "probe.prog.tracepoint"), Status::Fail);
    assert_eq!(status(&r, "probe.map.ringbuf"), Status::Warn);
    assert!(!r.can_load());
    let f = Facts {
        probes: all_probes(ProbeOutcome::Error(Errno(libc::EPERM))),
        ..machine_like()
    };
    let r = analyse(&f);
    assert_fixes(&r);
    assert_eq!(status(&r, "probe.prog.tracepoint"), Status::Warn);
    assert!(r
        .get("probe.prog.tracepoint")
        .unwrap()
        .detail
        .contains("Operation not permitted (errno 1)"));
}

#[test]
fn fallback_locations_are_examined_in_libbpf_order() {
    let dir = tempfile::tempdir().unwrap();
    let no_btf = dir.path().join("vmlinux-no-btf");
    std::fs::write(&no_btf, b"\x7fELF garbage").unwrap();
    let with_btf = dir.path().join("vmlinux-with-btf");
    std::fs::write(&with_btf, std::fs::read(fixture("int.btf")).unwrap()).unwrap();
    let absent = dir.path().join("absent");
    let (fallbacks, chosen) = examine_fallbacks(vec![absent, no_btf, with_btf.clone()]);
    assert_eq!(fallbacks[0].state, FallbackState::Absent);
    assert!(matches!(&fallbacks[1].state, FallbackState::Unusable(_)));
    assert_eq!(fallbacks[2].state, FallbackState::HasBtf { types: 2 });
    let (loaded, _) = chosen.expect("the BTF file is chosen");
    assert_eq!(loaded.path, with_btf);
    assert_eq!(loaded.libbpf, Ok(2), "libbpf parses the same file");

    let mut f = no_btf_kernel();
    f.btf = BtfFacts {
        origin: BtfOrigin::Fallback,
        loaded: Ok(loaded),
        sysfs_exists: false,
        fallbacks,
    };
    let r = analyse(&f);
    assert_fixes(&r);
    assert_eq!(status(&r, "btf.vmlinux"), Status::Warn);
    assert_eq!(status(&r, "btf.fallback"), Status::Ok);
    assert!(r.can_load(), "{}", text(&r));
}

#[test]
fn fallback_locations_follow_libbpf() {
    let l = fallback_locations("5.4.0");
    assert_eq!(l.len(), 7);
    assert_eq!(l[0], PathBuf::from("/boot/vmlinux-5.4.0"));
    assert_eq!(l[1], PathBuf::from("/lib/modules/5.4.0/vmlinux-5.4.0"));
    assert_eq!(
        l[6],
        PathBuf::from("/usr/lib/debug/lib/modules/5.4.0/vmlinux")
    );
}

#[test]
fn module_btf_is_checked_for_the_magic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vmlinux"),
        std::fs::read(fixture("int.btf")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nf_tables"),
        std::fs::read(fixture("int.btf")).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("broken"), b"nope").unwrap();
    let m = module_btf(dir.path()).unwrap();
    assert_eq!(m.valid, ["nf_tables"]);
    assert_eq!(m.invalid.len(), 1);
    assert_eq!(m.invalid[0].0, "broken");
    assert!(module_btf(&dir.path().join("absent")).is_none());

    let f = Facts {
        modules: Some(m),
        ..machine_like()
    };
    let r = analyse(&f);
    assert_eq!(status(&r, "btf.modules"), Status::Warn);
}

#[test]
fn colour_is_only_painted_when_asked() {
    let r = analyse(&machine_like());
    let mut out = Vec::new();
    render::write_text(&mut out, &r, &Style::new(true)).unwrap();
    let coloured = String::from_utf8(out).unwrap();
    assert!(coloured.contains("\x1b[32mok  \x1b[0m"));
    assert!(coloured.contains("\x1b[33mwarn\x1b[0m"));
    assert!(!text(&r).contains('\x1b'));
}

#[test]
fn os_release_parses_quoted_values() {
    let os = OsRelease::parse(&read("os-release-ubuntu-20.04"));
    assert_eq!(os.id.as_deref(), Some("ubuntu"));
    assert_eq!(os.version_id.as_deref(), Some("20.04"));
    assert_eq!(os.pretty_name.as_deref(), Some("Ubuntu 20.04.6 LTS"));
}

#[test]
fn config_describe_distinguishes_unset_from_absent() {
    let c = KernelConfig::parse(&read("config-6.18-no-kprobes"));
    assert_eq!(c.describe("CONFIG_KPROBES"), "CONFIG_KPROBES is not set");
    assert!(c
        .describe("CONFIG_KPROBE_EVENTS")
        .contains("is not in the config"));
}

#[test]
fn config_with_btf_but_no_sysfs_btf_points_at_sysfs() {
    let f = Facts {
        config: config("config-6.18-no-kprobes"),
        ..no_btf_kernel()
    };
    let r = analyse(&f);
    assert_fixes(&r);
    assert_eq!(status(&r, "btf.vmlinux"), Status::Fail);
    assert!(r
        .get("btf.vmlinux")
        .unwrap()
        .detail
        .contains("is sysfs mounted?"));
    assert!(fix(&r, "btf.vmlinux").starts_with("mount -t sysfs sysfs /sys; or curl -LO"));
}

/// `unshare --user --map-root-user coretool check-btf`: root with every capability, in a child
/// user namespace. `gather` runs no probes for it (`can_bpf` is false).
fn unshared_root() -> Facts {
    let mut privilege = privilege("status-userns-root", 0);
    privilege.user_ns = UserNamespace {
        inode: Some(4_026_532_179),
        uid_map: userns::parse_id_map(&read("uid_map-map-root-user")),
    };
    assert!(!privilege.can_bpf(), "gather skips the probes");
    Facts {
        privilege,
        probes: None,
        ..machine_like()
    }
}

#[test]
fn capabilities_in_a_child_user_namespace_do_not_grant_bpf() {
    let r = analyse(&unshared_root());
    assert_fixes(&r);
    let c = r.get("privilege").unwrap();
    assert_eq!(c.status, Status::Warn);
    for want in [
        "euid 0, CAP_SYS_ADMIN CAP_BPF CAP_PERFMON in a child user namespace",
        "user:[4026532179], not the initial user:[4026531837]",
        "/proc/self/uid_map is 0 0 1, not the identity map 0 0 4294967295",
        "do not grant bpf()",
    ] {
        assert!(c.detail.contains(want), "{want:?} not in {}", c.detail);
    }
    assert_eq!(
        fix(&r, "privilege"),
        "run in the initial user namespace, or a container with CAP_BPF+CAP_PERFMON granted by the host"
    );
    for p in ProbeId::ALL {
        let c = r.get(p.name()).unwrap();
        assert_eq!(
            (c.status, c.detail.as_str()),
            (Status::Skipped, NEEDS_INITIAL_USERNS)
        );
    }
    assert!(!r.kernel.privileged);
    assert!(r.can_load(), "the kernel is ready; this process is not");
    golden("golden-userns.txt", &text(&r));

    // A rootless container: the namespace link unreadable, the map alone tells.
    let mut f = unshared_root();
    f.privilege.user_ns = UserNamespace {
        inode: None,
        uid_map: userns::parse_id_map(&read("uid_map-rootless")),
    };
    let r = analyse(&f);
    let d = &r.get("privilege").unwrap().detail;
    assert!(d.contains("uid_map is 0 1000 1, 1 100000 65536"), "{d}");
    assert!(!d.contains("ns/user"), "{d}");

    // The initial namespace's own map and link: root again.
    f.privilege.user_ns = UserNamespace {
        inode: userns::parse_ns_link("user:[4026531837]"),
        uid_map: userns::parse_id_map(&read("uid_map-initial")),
    };
    assert!(f.privilege.can_trace());
    assert_eq!(status(&analyse(&f), "privilege"), Status::Ok);
}

#[test]
fn refused_probes_are_privilege_problems_not_missing_features() {
    let outcome = |probe: ProbeId| match probe {
        ProbeId::ProgTracepoint => ProbeOutcome::Error(Errno(libc::EPERM)),
        ProbeId::TpBtf => ProbeOutcome::Error(Errno(libc::EACCES)),
        ProbeId::MapPercpuArray => ProbeOutcome::Supported,
        // libbpf's helper probe "assumes supported" when the load fails without a verifier
        // message; its program type was refused, so it proves nothing.
        ProbeId::HelperGetCurrentTask => ProbeOutcome::Supported,
        _ => ProbeOutcome::Unsupported,
    };
    let probes = Some(
        ProbeId::ALL
            .iter()
            .map(|&probe| ProbeResult {
                probe,
                outcome: Ok(outcome(probe)),
            })
            .collect(),
    );
    let f = Facts {
        probes,
        ..machine_like()
    };
    let r = analyse(&f);
    assert_fixes(&r);
    assert!(r.can_load(), "a refusal is no kernel verdict: {}", text(&r));
    assert_eq!(status(&r, "probe.map.percpu_array"), Status::Ok);
    for name in [
        "probe.prog.tracepoint",
        "probe.prog.tp_btf",
        "probe.map.ringbuf",
        "probe.prog.kprobe",
        "probe.helper.get_current_task",
    ] {
        let c = r.get(name).unwrap();
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.detail.contains("privilege problem"), "{c:?}");
        assert!(!c.detail.contains("not supported by this kernel"), "{c:?}");
        assert!(fix(&r, name).contains("seccomp"), "{c:?}");
    }
    assert!(r
        .get("probe.prog.tp_btf")
        .unwrap()
        .detail
        .contains("Permission denied (errno 13)"));
    assert!(r
        .get("probe.map.ringbuf")
        .unwrap()
        .detail
        .contains("cannot tell, bpf() refused this process (Operation not permitted (errno 1) on probe.prog.tracepoint)"));

    // In a child user namespace whose probes ran anyway, the fix says how to get out of it.
    let f = Facts {
        privilege: unshared_root().privilege,
        ..f
    };
    assert_eq!(
        fix(&analyse(&f), "probe.prog.tracepoint"),
        "run in the initial user namespace, or a container with CAP_BPF+CAP_PERFMON granted by the host"
    );
}

#[test]
fn mountinfo_and_mounts_tell_the_same_tracefs() {
    let info = mounts::parse_mountinfo(&read("mountinfo-tracefs"));
    let table = mounts::parse_mounts(&read("mounts-tracefs"));
    let targets = |m: &[mounts::Mount]| {
        m.iter()
            .map(|m| (m.fstype.clone(), m.target.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(targets(&info), targets(&table));
    assert_eq!(
        mounts::tracefs_dir(&info),
        Some(PathBuf::from("/sys/kernel/tracing"))
    );
    let from = |m: Vec<mounts::Mount>| {
        let f = Facts {
            tracing: TracingFacts {
                mounts: Ok(m),
                ..tracing("mounts-tracefs", Some(true))
            },
            ..machine_like()
        };
        text(&analyse(&f))
    };
    assert_eq!(from(info), from(table));
}
