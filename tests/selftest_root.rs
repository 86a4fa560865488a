//! End-to-end tests of `coretool selftest` and `coretool monitor` on the running kernel.
//!
//! They load BPF programs, so they need root; without it (or without kernel BTF) each one says
//! loudly that it is skipped (and fails under `CORETOOL_REQUIRE_ALL=1`). Objects left behind are
//! detected by comparing `bpftool prog show` and `bpftool map show` (libbpf-rs's id iterators
//! when bpftool is missing) before and after, including runs killed with SIGTERM, SIGINT and
//! SIGKILL mid-way.
//!
//! The tests in this file run one at a time, and not while other tests load BPF objects (they
//! compare global kernel state): each holds the exclusive kernel-state lock of `common`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{
    cached_kernels, have_kernel_btf, is_root, kernel_exclusive, no_cached_kernels, say, BIN,
};

const PROGS: &[&str] = &["pm_exec", "pm_exit", "pm_fork", "pm_do_exit"];
const MAPS: &[&str] = &["pm_events", "pm_stats", "pm_tracked", "process_.rodata"];

/// Root and kernel BTF, or a loud skip (a failure under `CORETOOL_REQUIRE_ALL=1`) and return;
/// then the exclusive kernel-state lock for the rest of the test.
macro_rules! privileged {
    () => {
        require_root!("needs root (it loads BPF programs)");
        require!(
            have_kernel_btf(),
            "kernel BTF not available (/sys/kernel/btf/vmlinux)"
        );
        let _exclusive = kernel_exclusive();
    };
}

fn bin() -> Command {
    Command::new(BIN)
}

/// Programs and maps with the probe's names currently loaded, as `kind id name`.
fn probe_objects() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bpftool = |what: &str| -> Option<Vec<Value>> {
        let o = Command::new("bpftool")
            .args(["-j", what, "show"])
            .output()
            .ok()?;
        if !o.status.success() {
            return None;
        }
        serde_json::from_slice(&o.stdout).ok()
    };
    match (bpftool("prog"), bpftool("map")) {
        (Some(progs), Some(maps)) => {
            for (kind, list, names) in [("prog", progs, PROGS), ("map", maps, MAPS)] {
                for v in list {
                    let name = v["name"].as_str().unwrap_or("");
                    if names.contains(&name) {
                        out.insert(format!("{kind} {} {name}", v["id"]));
                    }
                }
            }
        }
        _ => {
            say("note: bpftool not usable, listing objects with libbpf-rs");
            for p in libbpf_rs::query::ProgInfoIter::default() {
                let name = p.name.to_string_lossy().into_owned();
                if PROGS.contains(&name.as_str()) {
                    out.insert(format!("prog {} {name}", p.id));
                }
            }
            for m in libbpf_rs::query::MapInfoIter::default() {
                let name = m.name.to_string_lossy().into_owned();
                if MAPS.contains(&name.as_str()) {
                    out.insert(format!("map {} {name}", m.id));
                }
            }
        }
    }
    out
}

use coretool::selftest::workload::wait_until as eventually;

/// Objects present now that were not in `before`.
fn new_objects(before: &BTreeSet<String>) -> BTreeSet<String> {
    probe_objects().difference(before).cloned().collect()
}

fn assert_released(before: &BTreeSet<String>, when: &str) {
    let mut left = BTreeSet::new();
    let gone = eventually(Duration::from_secs(5), || {
        left = new_objects(before);
        left.is_empty()
    });
    assert!(gone, "{when}: still loaded: {left:?}");
}

/// Wait until the child has loaded the probe (its programs show up).
fn wait_loaded(child: &mut Child, before: &BTreeSet<String>) {
    let up = eventually(Duration::from_secs(20), || {
        new_objects(before)
            .iter()
            .filter(|o| o.starts_with("prog "))
            .count()
            >= 3
    });
    if !up {
        let _ = child.kill();
        panic!("the probe never showed up in bpftool prog show");
    }
}

/// A self-test that would run for a long time, once its probe is loaded.
fn start_endless_stress(before: &BTreeSet<String>) -> Child {
    let mut child = bin()
        .args(["selftest", "--stress", "10000000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_loaded(&mut child, before);
    child
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("child did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill with a pid we own and a valid signal number.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

fn checks_by_name(doc: &Value) -> Vec<(String, String, String, String)> {
    doc["checks"]
        .as_array()
        .expect("checks array")
        .iter()
        .map(|c| {
            let s = |k: &str| {
                c[k].as_str()
                    .unwrap_or_else(|| panic!("check without {k}: {c}"))
                    .to_owned()
            };
            (s("name"), s("status"), s("expected"), s("got"))
        })
        .collect()
}

#[test]
fn selftest_passes_reports_json_and_releases_everything() {
    privileged!();
    let before = probe_objects();
    let out = bin().args(["--json", "selftest"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(doc["schema"], "coretool.selftest/v1");
    assert!(doc["kernel"]["release"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    let checks = checks_by_name(&doc);
    let failed: Vec<_> = checks.iter().filter(|c| c.1 == "fail").collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
    assert_eq!(out.status.code(), Some(0));
    for c in &checks {
        assert!(c.1 == "pass" || c.1 == "skip", "{c:?}");
    }
    // The checks that prove values, not just loading, are all there.
    for name in [
        "load",
        "relocations",
        "fork.fork",
        "exec.exec",
        "exec.exit",
        "signal.exit",
        "credentials.exec",
        "fork.pairs",
        "layout.task_state",
        "stats.lost",
        "cleanup",
    ] {
        let c = checks.iter().find(|c| c.0 == name);
        assert_eq!(c.map(|c| c.1.as_str()), Some("pass"), "{name}: {c:?}");
    }
    // Kernels without the kprobe PMU and kprobe_events skip the kprobe, with the reason.
    let kprobe = checks.iter().find(|c| c.0 == "attach.pm_do_exit").unwrap();
    if !std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists() {
        assert_eq!(kprobe.1, "skip");
        assert!(kprobe.3.contains("kprobe"), "{kprobe:?}");
    }
    assert!(doc["relocations"].as_array().is_some_and(|r| !r.is_empty()));
    // One count of the kernel's types everywhere: check-btf's, bpftool's (ids 1..=N).
    let check: Value =
        serde_json::from_slice(&bin().args(["--json", "check-btf"]).output().unwrap().stdout)
            .unwrap();
    let libbpf = check["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "btf.libbpf")
        .and_then(|c| c["detail"].as_str())
        .unwrap_or_default()
        .to_owned();
    let types = doc["kernel"]["btf"]["types"].as_u64().unwrap();
    assert!(
        libbpf.contains(&format!(": {types} types")),
        "selftest counts {types} types, check-btf says: {libbpf}"
    );
    assert_released(&before, "after selftest");
}

#[test]
fn stress_5000_loses_nothing() {
    privileged!();
    let before = probe_objects();
    let out = bin()
        .args(["--json", "selftest", "--stress", "5000"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = checks_by_name(&doc);
    for name in [
        "stress.fork",
        "stress.exec",
        "stress.exit",
        "stress.stats.lost",
        "stress.stats.received",
    ] {
        let c = checks.iter().find(|c| c.0 == name);
        assert_eq!(c.map(|c| c.1.as_str()), Some("pass"), "{name}: {c:?}");
    }
    assert_eq!(doc["stress"]["processes"], 5000);
    say(&format!(
        "stress 5000: {} events/s, {} processes/s",
        doc["stress"]["events_per_sec"], doc["stress"]["processes_per_sec"]
    ));
    assert_eq!(out.status.code(), Some(0));
    assert_released(&before, "after --stress 5000");
}

#[test]
fn sigterm_during_stress_releases_everything() {
    privileged!();
    let before = probe_objects();
    let mut child = start_endless_stress(&before);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGTERM);
    let status = wait_with_timeout(&mut child, Duration::from_secs(30));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("interrupted by SIGTERM"), "stderr: {err}");
    assert_released(&before, "after SIGTERM");
}

#[test]
fn sigkill_mid_run_releases_everything() {
    privileged!();
    let before = probe_objects();
    let mut child = start_endless_stress(&before);
    signal(&child, libc::SIGKILL);
    wait_with_timeout(&mut child, Duration::from_secs(30));
    // No unwinding happened: the kernel released the objects when the descriptors closed.
    assert_released(&before, "after SIGKILL");
}

#[test]
fn monitor_reports_followed_children_and_stops_on_sigint() {
    privileged!();
    let before = probe_objects();
    let me = std::process::id().to_string();
    let mut mon = bin()
        .args(["--json", "monitor", "--follow", &me, "--interval", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = mon.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(&l.unwrap()).expect("one JSON object per line"))
            .collect::<Vec<_>>()
    });
    wait_loaded(&mut mon, &before);
    // Attached once the first periodic stats line could have been printed.
    std::thread::sleep(Duration::from_millis(300));
    let child = Command::new("/bin/sh")
        .args(["-c", "exit 5"])
        .spawn()
        .unwrap();
    let pid = u64::from(child.id());
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(5));
    std::thread::sleep(Duration::from_millis(300));
    signal(&mon, libc::SIGINT);
    assert_eq!(
        wait_with_timeout(&mut mon, Duration::from_secs(10)).code(),
        Some(0)
    );
    let lines = reader.join().unwrap();

    assert!(lines.iter().all(|l| l["schema"] == "coretool.monitor/v1"));
    let find = |ty: &str, key: &str| {
        lines
            .iter()
            .find(|l| l["type"] == ty && l[key].as_u64() == Some(pid))
            .unwrap_or_else(|| panic!("no {ty} event with {key}={pid} in {lines:#?}"))
    };
    let fork = find("fork", "child_pid");
    assert_eq!(fork["pid"].as_u64(), Some(u64::from(std::process::id())));
    let exec = find("exec", "pid");
    assert_eq!(exec["comm"], "sh");
    assert_eq!(exec["filename"], "/bin/sh");
    let exit = find("exit", "pid");
    assert_eq!(exit["exit_code"], 5);
    assert_eq!(exit["ppid"].as_u64(), Some(u64::from(std::process::id())));
    // Only followed processes: every event is about us, a process forked while followed, or
    // one of our children already running when the monitor started (this test also runs
    // bpftool).
    let mut followed: BTreeSet<u64> = lines
        .iter()
        .filter(|l| l["type"] == "fork")
        .map(|l| l["child_pid"].as_u64().unwrap())
        .collect();
    followed.insert(u64::from(std::process::id()));
    for l in lines.iter().filter(|l| l["kind"] == "event") {
        let known = |k: &str| followed.contains(&l[k].as_u64().unwrap());
        assert!(known("pid") || known("ppid"), "not followed: {l}");
    }
    let last = lines.last().unwrap();
    assert_eq!(last["kind"], "stats");
    assert_eq!(last["final"], true);
    assert_eq!(last["lost"], 0);
    assert!(lines
        .iter()
        .any(|l| l["kind"] == "stats" && l["final"] == false));
    assert_released(&before, "after monitor SIGINT");
}

#[test]
fn monitor_duration_prints_table_and_stats() {
    privileged!();
    let out = bin()
        .args(["monitor", "--duration", "1", "--interval", "0.3"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.starts_with("TIME") && first.ends_with("FILE / EXIT"),
        "{first}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("# ") && l.contains(" stats: ")),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().contains("final stats"),
        "{text}"
    );
}

#[test]
fn without_privilege_selftest_and_monitor_exit_2_saying_what_is_needed() {
    // Serialized with the others: its children would show up in their --follow runs.
    let _exclusive = kernel_exclusive();
    let root = is_root();
    for args in [&["selftest"][..], &["monitor", "--duration", "1"][..]] {
        let mut cmd = if root {
            // Run as nobody to lose the privilege, from a copy nobody can execute.
            let mut c = Command::new(&crate::common::nobody_tree().bin);
            std::os::unix::process::CommandExt::uid(&mut c, 65534);
            std::os::unix::process::CommandExt::gid(&mut c, 65534);
            c
        } else {
            bin()
        };
        cmd.args(args);
        let out = cmd.output().expect("run coretool");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("needs privilege") && err.contains("CAP_BPF"),
            "{err}"
        );
    }
}

#[test]
fn session_releases_everything_on_error_and_on_panic() {
    privileged!();
    use coretool::probe::{self, ObjectIds};
    coretool::host::ensure_tracefs().expect("tracefs");
    let before = probe_objects();
    let ids = Mutex::new(ObjectIds::default());
    let opts = probe::Options {
        follow: Some(std::process::id()),
    };

    let err = probe::with_session(&opts, |s| -> anyhow::Result<()> {
        *ids.lock().unwrap() = s.ids.clone();
        anyhow::bail!("failing on purpose")
    });
    assert!(err.is_err());
    let loaded = ids.lock().unwrap().clone();
    assert_eq!(loaded.programs.len(), 4, "the session had loaded the probe");
    assert!(eventually(Duration::from_secs(5), || loaded
        .still_loaded()
        .is_empty()));

    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = probe::with_session(&opts, |s| -> anyhow::Result<()> {
            *ids.lock().unwrap() = s.ids.clone();
            panic!("panicking on purpose");
        });
    }));
    assert!(panicked.is_err());
    let loaded = ids.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(loaded.programs.len(), 4);
    assert!(
        eventually(Duration::from_secs(5), || loaded.still_loaded().is_empty()),
        "still loaded after a panic: {:?}",
        loaded.still_loaded()
    );
    assert_released(&before, "after error and panic");
}

/// Byte offset of `member` in struct `name` of `btf`.
fn member_offset(btf: &coretool::btf::Btf, name: &str, member: &str) -> Option<u32> {
    let id = *btf
        .ids_by_name(name)
        .iter()
        .find(|&&id| btf.type_by_id(id).unwrap().kind() == coretool::btf::Kind::Struct)?;
    btf.type_by_id(id)?
        .members()
        .find(|m| btf.str_at(m.name_off) == Some(member))
        .map(|m| m.bit_offset / 8)
}

#[test]
fn probe_relocates_differently_on_other_kernels() {
    use coretool::dryrun::{Mode, Target};
    use coretool::reloc::{Object, Status};
    use coretool::selftest::checks::KernelLayout;
    privileged!();
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    let obj = Object::parse(
        std::path::Path::new("process_monitor.bpf.o"),
        coretool::probe::OBJECT.to_vec(),
    )
    .unwrap();
    for kernel in kernels {
        let (release, vmlinuz) = (kernel.release, kernel.vmlinuz);
        let src = coretool::source::load(Some(&vmlinuz), None).unwrap();
        // libbpf's own loader (bpf_object__prepare) relocates the probe against that BTF.
        let target = Target {
            btf: &src,
            default_kernel: false,
        };
        let report = coretool::dryrun::run(&obj, &target, Mode::Libbpf, false)
            .unwrap_or_else(|e| panic!("{release}: {e:#}"));
        let relocs = report.result.fixups;
        assert!(!relocs.is_empty(), "{release}: no relocations reported");

        // Exactly the fields this kernel lacks are poisoned, in their guarded branches.
        let layout = KernelLayout::of(&src.btf);
        let mut want = vec![if layout.task_state_new == Some(true) {
            "task_struct___pre514.state"
        } else {
            "task_struct.__state"
        }];
        if layout.exit_group_dead != Some(true) {
            want.push("trace_event_raw_sched_process_exit.group_dead");
        }
        let mut poisoned: Vec<&str> = relocs
            .iter()
            .filter(|r| r.status == Status::Poisoned)
            .map(|r| r.accessor.strip_prefix("struct ").unwrap_or(&r.accessor))
            .collect();
        poisoned.sort();
        want.sort();
        assert_eq!(poisoned, want, "{release}: poisoned relocations");

        // The tracepoint record moved: child_pid sits where this kernel's BTF puts it.
        let child_pid = member_offset(&src.btf, "trace_event_raw_sched_process_fork", "child_pid")
            .expect("sched_process_fork record in BTF");
        let r = relocs
            .iter()
            .find(|r| r.accessor == "struct trace_event_raw_sched_process_fork.child_pid")
            .expect("child_pid relocation");
        assert!(
            r.resolved
                .as_ref()
                .is_some_and(|t| t.spec.bit_offset() == Some(child_pid * 8)),
            "{release}: {r:?}, BTF offset {child_pid}"
        );
        say(&format!(
            "{release}: {} relocations, poisoned {poisoned:?}, child_pid at {child_pid}",
            relocs.len()
        ));
    }
}

/// Seconds out of range are refused before anything is loaded: one line, exit 2, no panic
/// (1e30 used to panic in `Duration::from_secs_f64`, 1e19 adding to an `Instant`).
#[test]
fn monitor_refuses_seconds_out_of_range() {
    for args in [
        &["--interval", "1e30", "--duration", "1"][..],
        &["--duration", "1e19"][..],
        &["--interval", "nan"][..],
        &["--duration", "inf"][..],
        &["--interval=-0.5"][..],
    ] {
        let out = bin().arg("monitor").args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("takes a number of seconds"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
