//! `coretool check-btf` run for real: as root on this machine, as `nobody` (through
//! `setpriv`), and with `--btf`. Facts that depend on the machine are asserted against what the
//! machine says (`/proc/mounts`, the kernel config), so the tests hold wherever they run; tests
//! that need root skip loudly without it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{have_kernel_btf, kernel_shared, BIN};

/// Run `cmd` holding the kernel-state lock shared: as root, check-btf loads its probes.
fn run(cmd: &mut Command) -> (Output, i32) {
    let _shared = kernel_shared();
    let out = cmd.output().expect("spawn coretool");
    let code = out.status.code().expect("exited normally");
    (out, code)
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn check<'a>(j: &'a Value, name: &str) -> &'a Value {
    j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {j:#}"))
}

fn status<'a>(j: &'a Value, name: &str) -> &'a str {
    check(j, name)["status"].as_str().unwrap()
}

/// The schema, every item's shape, the fix rule and the exit code contract.
fn assert_contract(j: &Value, code: i32) {
    assert_eq!(j["schema"], "coretool.check-btf/v1");
    for key in ["release", "arch", "version", "libbpf", "privileged"] {
        assert!(!j["kernel"][key].is_null(), "kernel.{key} missing: {j:#}");
    }
    let checks = j["checks"].as_array().unwrap();
    assert!(checks.len() > 20);
    let mut failed = false;
    for c in checks {
        let st = c["status"].as_str().unwrap();
        assert!(["ok", "warn", "fail", "skipped"].contains(&st), "{c}");
        assert!(c["name"].is_string() && c["detail"].is_string(), "{c}");
        if st == "warn" || st == "fail" {
            assert!(
                c["fix"].as_str().is_some_and(|f| !f.is_empty()),
                "no fix: {c}"
            );
        } else {
            assert!(c["fix"].is_null(), "{c}");
        }
        failed |= st == "fail";
    }
    assert_eq!(
        code,
        if failed { 1 } else { 0 },
        "exit code vs checks: {j:#}"
    );
    assert_eq!(j["can_load"], !failed);
}

fn tracefs_mounted() -> bool {
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some("tracefs"))
}

#[test]
fn json_follows_the_contract_for_whoever_runs_it() {
    let (out, code) = run(Command::new(BIN).args(["check-btf", "--json"]));
    assert_contract(&json_of(&out), code);
}

#[test]
fn root_run_on_this_machine() {
    require_root!("needs root (run the suite as root)");
    let before = tracefs_mounted();
    let (out, code) = run(Command::new(BIN).args(["check-btf", "--json"]));
    let after = tracefs_mounted();
    let j = json_of(&out);
    assert_contract(&j, code);
    assert_eq!(j["kernel"]["privileged"], true);
    let release = j["kernel"]["release"].as_str().unwrap();
    let mut uname = Command::new("uname");
    assert_eq!(
        String::from_utf8(run(uname.arg("-r")).0.stdout)
            .unwrap()
            .trim(),
        release
    );

    if Path::new("/sys/kernel/btf/vmlinux").exists() {
        assert_eq!(status(&j, "btf.vmlinux"), "ok");
        assert_eq!(status(&j, "btf.libbpf"), "ok");
        assert_eq!(status(&j, "btf.kinds"), "ok");
        assert_eq!(j["kernel"]["btf"], "/sys/kernel/btf/vmlinux");
        // Kernels this new emit these kinds; the check must see them (cilium's checkVersion).
        let detail = check(&j, "btf.kinds")["detail"].as_str().unwrap();
        let ver: Vec<u32> = release
            .split(|c: char| !c.is_ascii_digit())
            .take(2)
            .map(|s| s.parse().unwrap())
            .collect();
        if ver >= vec![6, 0] {
            assert!(detail.contains("enum64 ("), "{detail}");
        }
        if ver >= vec![5, 8] {
            assert_eq!(status(&j, "probe.map.ringbuf"), "ok");
            assert_eq!(status(&j, "probe.prog.tp_btf"), "ok");
        }
    } else {
        assert_eq!(
            status(&j, "btf.vmlinux"),
            if j["kernel"]["btf"].is_null() {
                "fail"
            } else {
                "warn"
            }
        );
    }

    // kprobes: whatever the config says.
    if let Ok(cfg) = coretool::check::config::load(release) {
        if !cfg.config.enabled("CONFIG_KPROBE_EVENTS") {
            let k = check(&j, "kprobes");
            assert!(["warn", "fail"].contains(&k["status"].as_str().unwrap()));
            assert!(
                k["detail"]
                    .as_str()
                    .unwrap()
                    .contains("CONFIG_KPROBE_EVENTS"),
                "{k}"
            );
            assert!(
                k["fix"]
                    .as_str()
                    .unwrap()
                    .contains("CONFIG_KPROBE_EVENTS=y"),
                "{k}"
            );
            assert_eq!(status(&j, "config.KPROBE_EVENTS"), "warn");
        }
    }

    // tracefs: whatever /proc/mounts says (someone else may mount it meanwhile).
    let t = check(&j, "tracefs");
    if before && after {
        assert_eq!(t["status"], "ok", "{t}");
        assert!(
            t["detail"].as_str().unwrap().starts_with("mounted at"),
            "{t}"
        );
    } else if !before && !after && !Path::new("/sys/kernel/debug/tracing/events").exists() {
        assert_eq!(t["status"], "warn", "{t}");
        assert_eq!(t["fix"], "mount -t tracefs tracefs /sys/kernel/tracing");
    }

    for name in [
        "probe.map.ringbuf",
        "probe.prog.tracepoint",
        "probe.helper.get_current_task",
    ] {
        assert_ne!(status(&j, name), "skipped", "{name} must run as root");
    }
}

#[test]
fn tp_btf_probe_can_fail() {
    require_root!();
    require!(
        have_kernel_btf(),
        "needs kernel BTF (/sys/kernel/btf/vmlinux)"
    );
    use coretool::libbpf::probe::{probe_tp_btf, ProbeOutcome};
    let _shared = kernel_shared();
    // Type id 1 is never a btf_trace_* typedef: the verifier must refuse it.
    assert_ne!(probe_tp_btf(1), ProbeOutcome::Supported);
}

/// `coretool check-btf --json` as nobody through `setpriv SETPRIV...`, from a copy of the binary
/// nobody can execute; `Err` says why that cannot run here.
fn check_btf_as_nobody(setpriv: &[&str]) -> Result<(Output, i32), String> {
    let spawn = Command::new("setpriv").args(setpriv).arg("true").status();
    if !spawn.is_ok_and(|s| s.success()) {
        return Err(format!("setpriv {} does not work here (util-linux too old, user nobody/group nogroup missing, or kernel < 5.8 for CAP_BPF)", setpriv.join(" ")));
    }
    let bin = &crate::common::nobody_tree().bin;
    let (out, code) = run(Command::new("setpriv")
        .args(setpriv)
        .arg(bin)
        .args(["check-btf", "--json"]));
    if code == 126 || code == 127 {
        return Err(format!(
            "nobody cannot execute {}: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((out, code))
}

#[test]
fn unprivileged_run_as_nobody() {
    require_root!("needs root to drop to nobody");
    let setpriv = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];
    let nobody = check_btf_as_nobody(&setpriv);
    let why = nobody.as_ref().err().cloned().unwrap_or_default();
    require!(let Ok((out, code)) = nobody, "{why}");
    let j = json_of(&out);
    assert_contract(&j, code);
    assert_eq!(j["kernel"]["privileged"], false);
    assert_eq!(status(&j, "privilege"), "warn");
    assert!(check(&j, "privilege")["detail"]
        .as_str()
        .unwrap()
        .starts_with("euid 65534"));
    let probes: Vec<&Value> = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("probe."))
        .collect();
    assert_eq!(probes.len(), 6);
    for p in probes {
        assert_eq!(p["status"], "skipped", "{p}");
        assert_eq!(p["detail"], "needs root or CAP_BPF", "{p}");
    }
    // Everything an unprivileged user can read is still checked.
    if Path::new("/sys/kernel/btf/vmlinux").exists() {
        assert_eq!(status(&j, "btf.vmlinux"), "ok");
        assert_eq!(status(&j, "btf.libbpf"), "ok");
    }
    // The checklist says so too.
    let (out, _) = run(Command::new("setpriv")
        .args(setpriv)
        .arg(&crate::common::nobody_tree().bin)
        .args(["check-btf", "--color", "never"]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("skip  probe.map.ringbuf"), "{text}");
    assert!(text.contains("privileged checks skipped"), "{text}");
}

#[test]
fn given_btf_is_checked_instead_of_sysfs() {
    let dir = tempfile::tempdir().unwrap();
    // A BTFHub-style archive: <release>.btf inside a tar.xz.
    let mut tar = tar::Builder::new(Vec::new());
    let data = std::fs::read(crate::common::fixtures().join("check-btf/int.btf")).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "2.6.32-not-this-kernel.btf", &data[..])
        .unwrap();
    let tar = tar.into_inner().unwrap();
    let archive = dir.path().join("2.6.32-not-this-kernel.btf.tar.xz");
    let mut xz = xz2::write::XzEncoder::new(std::fs::File::create(&archive).unwrap(), 6);
    xz.write_all(&tar).unwrap();
    xz.finish().unwrap();

    let (out, code) = run(Command::new(BIN)
        .args(["check-btf", "--json", "--btf"])
        .arg(&archive));
    let j = json_of(&out);
    assert_contract(&j, code);
    assert_eq!(j["kernel"]["btf"], archive.display().to_string());
    assert_eq!(status(&j, "btf.vmlinux"), "ok");
    let d = check(&j, "btf.vmlinux")["detail"].as_str().unwrap();
    assert!(
        d.contains("1 types") && d.contains("given with --btf"),
        "{d}"
    );
    assert_eq!(status(&j, "btf.libbpf"), "ok");
    assert!(check(&j, "btf.kinds")["detail"]
        .as_str()
        .unwrap()
        .starts_with("uses none of the newer kinds"));
    assert_eq!(status(&j, "btf.release"), "warn");
    // BTFHub's archive, or (for a release BTFHub does not carry) how to generate the BTF.
    assert!(
        check(&j, "btf.release")["fix"]
            .as_str()
            .unwrap()
            .contains("BTFHub")
            || check(&j, "btf.release")["fix"]
                .as_str()
                .unwrap()
                .contains("btfhub-archive")
    );
}

#[test]
fn bad_btf_input_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.btf");
    std::fs::write(&junk, b"this is not BTF").unwrap();
    for path in [junk, dir.path().join("missing.btf")] {
        let (out, code) = run(Command::new(BIN).args(["check-btf", "--btf"]).arg(&path));
        assert_eq!(code, 2);
        assert!(out.stdout.is_empty(), "no half-written checklist");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("coretool: "), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn colour_follows_the_flag() {
    let (out, _) = run(Command::new(BIN).args(["check-btf", "--color", "always"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\x1b["));
    let (out, _) = run(Command::new(BIN).args(["check-btf"]).env("NO_COLOR", "1"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    let (out, _) = run(Command::new(BIN).args(["check-btf", "--color", "never"]));
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
}

const UNSHARE: [&str; 2] = ["--user", "--map-root-user"];

/// Whether `unshare --user --map-root-user` works here (util-linux, user namespaces enabled).
fn can_unshare() -> bool {
    let spawn = Command::new("unshare").args(UNSHARE).arg("true").status();
    spawn.is_ok_and(|s| s.success())
}

/// `unshare --user --map-root-user`: root with every capability, but in a child user namespace
/// where none of them grant bpf().
fn unshare(args: &[&str]) -> (Output, i32) {
    run(Command::new("unshare").args(UNSHARE).arg(BIN).args(args))
}

#[test]
fn child_user_namespace_is_a_privilege_finding() {
    require!(
        can_unshare(),
        "unshare (util-linux) missing or user namespaces disabled"
    );
    let (out, code) = unshare(&["check-btf", "--json"]);
    let j = json_of(&out);
    assert_contract(&j, code);
    assert_eq!(j["kernel"]["privileged"], false);
    let p = check(&j, "privilege");
    assert_eq!(p["status"], "warn", "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("euid 0, CAP_SYS_ADMIN CAP_BPF CAP_PERFMON in a child user namespace"),
        "{p}"
    );
    assert!(detail.contains("/proc/self/uid_map is 0 0 1"), "{p}");
    assert_eq!(
        p["fix"],
        "run in the initial user namespace, or a container with CAP_BPF+CAP_PERFMON granted by the host"
    );
    for c in j["checks"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        if name.starts_with("probe.") {
            assert_eq!(c["status"], "skipped", "{c}");
            assert!(
                c["detail"]
                    .as_str()
                    .unwrap()
                    .contains("initial user namespace"),
                "{c}"
            );
        }
    }
}

#[test]
fn selftest_and_monitor_refuse_a_child_user_namespace() {
    require!(
        can_unshare(),
        "unshare (util-linux) missing or user namespaces disabled"
    );
    for args in [&["selftest"][..], &["monitor", "--duration", "1"][..]] {
        let (out, code) = unshare(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("child user namespace"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("run in the initial user namespace"),
            "{args:?}: {stderr}"
        );
    }
}

/// CAP_BPF without CAP_PERFMON: the tracing program probes are refused with EPERM, which libbpf
/// reports as "unsupported"; check-btf must call it a privilege problem, not a kernel's lack.
#[test]
fn refused_probes_are_not_missing_features() {
    require_root!("needs root to drop to nobody with CAP_BPF");
    let setpriv = [
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "--inh-caps=+bpf",
        "--ambient-caps=+bpf",
    ];
    let nobody = check_btf_as_nobody(&setpriv);
    let why = nobody.as_ref().err().cloned().unwrap_or_default();
    require!(let Ok((out, code)) = nobody, "{why}");
    let j = json_of(&out);
    assert_contract(&j, code);
    assert!(check(&j, "privilege")["detail"]
        .as_str()
        .unwrap()
        .contains("CAP_BPF: may call bpf() but tracing programs also need CAP_PERFMON"));
    for c in j["checks"].as_array().unwrap() {
        let detail = c["detail"].as_str().unwrap();
        assert!(!detail.contains("not supported by this kernel"), "{c}");
    }
    let tp = check(&j, "probe.prog.tracepoint");
    assert_eq!(tp["status"], "warn", "{tp}");
    assert!(
        tp["detail"]
            .as_str()
            .unwrap()
            .contains("Operation not permitted (errno 1): a privilege problem"),
        "{tp}"
    );
}

/// `--btf` of something that is not a kernel's BTF for this machine is a failed finding with
/// its reason, not "a CO-RE program can load here".
#[test]
fn btf_that_is_not_a_kernels_fails() {
    let fixtures = crate::common::fixtures();
    for (file, reason) in [
        ("core_all_kinds.bpf.o", "no struct bpf_prog"),
        (
            "core_all_kinds.bpfeb.btf",
            "encoded in the other byte order than this machine's",
        ),
    ] {
        let (out, code) = run(Command::new(BIN)
            .args(["check-btf", "--json", "--btf"])
            .arg(fixtures.join(file)));
        let j = json_of(&out);
        assert_contract(&j, code);
        assert_eq!(code, 1, "{file}");
        assert_eq!(status(&j, "btf.kernel"), "fail", "{file}");
        let detail = check(&j, "btf.kernel")["detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(detail.contains(reason), "{file}: {detail}");
        assert!(
            detail.contains("far too few for a kernel"),
            "{file}: {detail}"
        );
    }
    require!(have_kernel_btf(), "needs the running kernel's BTF");
    let (out, code) =
        run(Command::new(BIN).args(["check-btf", "--json", "--btf", "/sys/kernel/btf/vmlinux"]));
    let j = json_of(&out);
    assert_contract(&j, code);
    assert_eq!(
        status(&j, "btf.kernel"),
        "ok",
        "{}",
        check(&j, "btf.kernel")
    );
}
