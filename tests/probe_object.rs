//! The embedded probe object: its record layout agrees with the Rust decoder, the checked-in
//! prebuilt object matches its sources, and `selftest --emit-object` writes it out.
//! None of these need root or clang.

use std::path::{Path, PathBuf};
use std::process::Command;

use coretool::btf::{Btf, Kind};
use coretool::elf::ElfInfo;
use coretool::probe::{self, event, fingerprint::fnv1a64};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn object_btf() -> Btf {
    let elf = ElfInfo::parse(probe::OBJECT).expect("embedded object is ELF");
    Btf::parse(elf.section(".BTF").expect("embedded object has .BTF")).expect("its BTF parses")
}

/// (member name, byte offset) of struct `name`, and its size.
fn layout(btf: &Btf, name: &str) -> (Vec<(String, usize)>, usize) {
    let id = btf
        .ids_by_name(name)
        .iter()
        .copied()
        .find(|&id| btf.type_by_id(id).unwrap().kind() == Kind::Struct)
        .unwrap_or_else(|| panic!("struct {name} not in the object's BTF"));
    let t = btf.type_by_id(id).unwrap();
    let members = t
        .members()
        .map(|m| {
            assert_eq!(m.bit_offset % 8, 0, "{name}: bitfields are not expected");
            (
                btf.str_at(m.name_off).unwrap().to_owned(),
                (m.bit_offset / 8) as usize,
            )
        })
        .collect();
    (members, t.size() as usize)
}

fn owned(l: &[(&str, usize)]) -> Vec<(String, usize)> {
    l.iter().map(|(n, o)| ((*n).to_owned(), *o)).collect()
}

#[test]
fn record_layout_matches_object_btf() {
    let btf = object_btf();
    let (members, size) = layout(&btf, "pm_event");
    assert_eq!(
        members,
        owned(event::EVENT_LAYOUT),
        "struct pm_event vs EVENT_LAYOUT"
    );
    assert_eq!(size, event::EVENT_SIZE);
    let (members, size) = layout(&btf, "pm_stats");
    assert_eq!(
        members,
        owned(event::STATS_LAYOUT),
        "struct pm_stats vs STATS_LAYOUT"
    );
    assert_eq!(size, event::STATS_SIZE);
}

#[test]
fn object_has_the_programs_and_maps_the_session_expects() {
    let elf = ElfInfo::parse(probe::OBJECT).unwrap();
    for section in [
        "tracepoint/sched/sched_process_exec",
        "tracepoint/sched/sched_process_exit",
        "tracepoint/sched/sched_process_fork",
        "kprobe/do_exit",
        ".BTF.ext",
    ] {
        assert!(elf.section(section).is_some(), "missing section {section}");
    }
    let btf = object_btf();
    for p in probe::PROGRAMS {
        assert!(
            btf.ids_by_name(p.name)
                .iter()
                .any(|&id| btf.type_by_id(id).unwrap().kind() == Kind::Func),
            "no BTF func {}",
            p.name
        );
    }
}

/// `(clang line, [(hash, path)])` from the stamp.
fn stamp() -> (String, Vec<(u64, String)>) {
    let text = std::fs::read_to_string(root().join("probes/prebuilt/process_monitor.inputs"))
        .expect("reading the stamp");
    let mut clang = String::new();
    let mut inputs = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(v) = line.strip_prefix("clang ") {
            clang = v.to_owned();
        } else if let Some(rest) = line.strip_prefix("fnv1a64 ") {
            let (hash, path) = rest.split_once(' ').expect("hash and path");
            inputs.push((u64::from_str_radix(hash, 16).unwrap(), path.to_owned()));
        }
    }
    (clang, inputs)
}

#[test]
fn prebuilt_object_was_built_from_the_current_sources() {
    let (_, inputs) = stamp();
    assert_eq!(
        inputs.len(),
        3,
        "stamp lists the source, the header and vmlinux.h"
    );
    let mut stale = Vec::new();
    for (hash, path) in &inputs {
        let bytes = std::fs::read(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        if fnv1a64(&bytes) != *hash {
            stale.push(path.as_str());
        }
    }
    assert!(
        stale.is_empty(),
        "probes/prebuilt/process_monitor.bpf.o is stale: {} changed since it was built; \
         regenerate it with `cargo xtask regen-probe` (clang {})",
        stale.join(", "),
        stamp().0
    );
}

#[test]
fn prebuilt_object_equals_the_embedded_one_when_built_by_the_same_clang() {
    let prebuilt = std::fs::read(root().join("probes/prebuilt/process_monitor.bpf.o")).unwrap();
    let (clang, _) = stamp();
    match probe::ORIGIN.strip_prefix("clang: ") {
        None => assert_eq!(prebuilt, probe::OBJECT, "ORIGIN=prebuilt but bytes differ"),
        Some(v) if v == clang => assert!(
            prebuilt == probe::OBJECT,
            "the same clang ({v}) built different bytes from the same sources: \
             regenerate with `cargo xtask regen-probe`"
        ),
        Some(v) => crate::common::skip(
            this_test!(),
            &format!(
                "the byte comparison: the embedded object was built by `{v}`, the prebuilt one \
                 by `{clang}` (the input fingerprints are still checked)"
            ),
        ),
    }
}

fn coretool(args: &[&str]) -> std::process::Output {
    Command::new(crate::common::BIN)
        .args(args)
        .output()
        .expect("running coretool")
}

#[test]
fn emit_object_writes_the_embedded_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("process_monitor.bpf.o");
    let out = coretool(&["selftest", "--emit-object", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&path).unwrap(), probe::OBJECT);
    // Nothing but the object is left in the directory (no temporary file).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn emit_object_into_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/x.o");
    let out = coretool(&["selftest", "--emit-object", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().count() == 1 && err.contains("x.o"), "{err}");
    assert!(!Path::new(&path).exists());
}

#[test]
fn emitted_object_feeds_relocs_and_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("process_monitor.bpf.o");
    let obj = path.to_str().unwrap();
    assert!(coretool(&["selftest", "--emit-object", obj])
        .status
        .success());

    let out = coretool(&["relocs", obj]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "program pm_fork",
        "struct task_struct___pre514.state",
        "struct trace_event_raw_sched_process_fork.child_pid",
    ] {
        assert!(
            text.contains(needle),
            "relocs output lacks {needle}:\n{text}"
        );
    }

    // Offline against the running kernel's BTF (where there is one): the guarded flavour
    // reads are poisoned as dead code, nothing reachable is.
    require!(
        crate::common::have_kernel_btf(),
        "the dry-run half needs /sys/kernel/btf/vmlinux"
    );
    let out = coretool(&["--json", "dry-run", "--offline", obj]);
    // The relocations load; the requires half depends on this kernel (one built without
    // CONFIG_KPROBES cannot attach pm_do_exit: loads-without, exit 1).
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let target = &doc["targets"][0];
    assert_eq!(target["relocations_verdict"], "loads", "{target}");
    let loads_as_is = target["verdict"] == "loads";
    assert_eq!(out.status.code() == Some(0), loads_as_is, "{target}");
    assert_eq!(target["summary"]["reachable_poison"], 0, "{target}");
    assert!(
        target["summary"]["poisoned"].as_u64() >= Some(1),
        "{target}"
    );
}
