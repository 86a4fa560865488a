//! `coretool btfgen`: minimized BTF per kernel, proven, compared with bpftool, bundled.
//!
//! The bpftool comparison: for every cached Debian kernel, `bpftool gen min_core_btf` (the
//! installed bpftool) and `coretool btfgen` minimize the same kernel for the same objects, and
//! the two outputs must have the same type graph. "The same type graph" is defined by
//! [`graph`]: the multiset of every type's canonical description, where a description says the
//! kind, name and every property of the type (sizes, int encoding and bits, enumerators and
//! their values, signedness, array length, function linkage, members with their names, bit
//! offsets and bitfield sizes in order, parameters in order), and a reference to another type
//! is that type's kind and name when it is named, its full description when it is anonymous
//! (pointers, arrays, modifiers, anonymous structs, prototypes), and `void` for id 0. Type ids
//! and the order of types do not enter it; everything else does. Where the two graphs differ
//! the test fails and names the descriptions only one side has.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use coretool::btf::{Btf, Kind};
use serde_json::Value;

use crate::common::{self, cached_kernels, fixtures, no_cached_kernels, stderr, stdout};

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

fn probe() -> String {
    common::tests_dir()
        .join("../probes/prebuilt/process_monitor.bpf.o")
        .display()
        .to_string()
}

/// The objects every cached kernel can relocate: the all-kinds fixture (every relocation
/// kind), the bundled probe, the dry-run probe (guarded poison, existence checks), a program
/// with subprograms.
fn objects() -> Vec<String> {
    vec![
        fixture("core_all_kinds.bpf.o"),
        probe(),
        fixture("dryrun/dryrun_probe.bpf.o"),
        fixture("dryrun/subprog.bpf.o"),
    ]
}

/// `coretool btfgen ARGS` with `--no-cache` unless ARGS name a cache.
fn btfgen(args: &[&str]) -> Output {
    let cached = args.iter().any(|a| *a == "--cache" || *a == "--no-cache");
    common::bin()
        .arg("btfgen")
        .args((!cached).then_some("--no-cache"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run coretool btfgen")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn records(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A reference to type `id`: `void`, `struct task_struct`, or an anonymous type's description.
fn reference(btf: &Btf, id: u32, depth: usize) -> String {
    if id == 0 {
        return "void".into();
    }
    let Some(t) = btf.type_by_id(id) else {
        return format!("<bad id {id}>");
    };
    let name = btf.name_of(&t);
    if !name.is_empty() && t.kind() != Kind::Var {
        return format!("{} {name}", t.kind().lower_name());
    }
    describe(btf, id, depth + 1)
}

/// The canonical description of type `id` (see the module docs).
fn describe(btf: &Btf, id: u32, depth: usize) -> String {
    if depth > 32 {
        return "<deep>".into();
    }
    let t = btf.type_by_id(id).expect("a type");
    let r = |id| reference(btf, id, depth);
    let s = |off| btf.str_at(off).unwrap_or("").to_owned();
    let head = format!("{} '{}'", t.kind().lower_name(), btf.name_of(&t));
    match t.kind() {
        Kind::Int => {
            let i = t.int().unwrap();
            format!(
                "{head} size={} enc={} off={} bits={}",
                t.size(),
                i.encoding,
                i.offset,
                i.bits
            )
        }
        Kind::Float => format!("{head} size={}", t.size()),
        Kind::Ptr
        | Kind::Const
        | Kind::Volatile
        | Kind::Restrict
        | Kind::Typedef
        | Kind::TypeTag => {
            format!("{head} -> {}", r(t.type_id()))
        }
        Kind::Array => {
            let a = t.array().unwrap();
            format!(
                "{head} [{}] of {} by {}",
                a.nelems,
                r(a.elem_type),
                r(a.index_type)
            )
        }
        Kind::Struct | Kind::Union => {
            let members: Vec<String> = t
                .members()
                .map(|m| {
                    format!(
                        "{}: {} @{}:{}",
                        s(m.name_off),
                        r(m.type_id),
                        m.bit_offset,
                        m.bitfield_size
                    )
                })
                .collect();
            format!("{head} size={} {{{}}}", t.size(), members.join("; "))
        }
        Kind::Enum | Kind::Enum64 => {
            let values: Vec<String> = t
                .enum_values()
                .iter()
                .map(|v| format!("{}={}", s(v.name_off), v.raw))
                .collect();
            format!(
                "{head} size={} signed={} {{{}}}",
                t.size(),
                t.kflag(),
                values.join(", ")
            )
        }
        Kind::Fwd => format!("{head} union={}", t.kflag()),
        Kind::Func => format!("{head} linkage={} -> {}", t.vlen(), r(t.type_id())),
        Kind::FuncProto => {
            let params: Vec<String> = t
                .params()
                .map(|p| format!("{}: {}", s(p.name_off), r(p.type_id)))
                .collect();
            format!("{head} ({}) -> {}", params.join(", "), r(t.type_id()))
        }
        Kind::Var => format!("{head} linkage={:?} -> {}", t.var_linkage(), r(t.type_id())),
        Kind::Datasec => {
            let vars: Vec<String> = t
                .secinfos()
                .map(|v| format!("{}@{}+{}", r(v.type_id), v.offset, v.size))
                .collect();
            format!("{head} size={} [{}]", t.size(), vars.join(", "))
        }
        Kind::DeclTag => format!("{head} -> {} #{:?}", r(t.type_id()), t.decl_tag_component()),
        Kind::Unkn => head,
    }
}

/// The type graph: every type's description, with how many types have it.
fn graph(raw: &[u8]) -> BTreeMap<String, usize> {
    let btf = Btf::parse(raw).expect("minimized BTF parses");
    let mut g = BTreeMap::new();
    for id in 1..btf.type_count() {
        *g.entry(describe(&btf, id, 0)).or_insert(0) += 1;
    }
    g
}

/// What one graph has more of than the other.
fn only_in(a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>) -> Vec<String> {
    a.iter()
        .filter(|(k, n)| b.get(*k).copied().unwrap_or(0) < **n)
        .map(|(k, _)| k.clone())
        .collect()
}

fn run_ok(cmd: &mut Command) {
    let o = cmd.output().expect("run");
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// On every cached Debian kernel, coretool's output has bpftool's type graph.
#[test]
fn equals_bpftool_gen_min_core_btf_on_cached_kernels() {
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    require_tools!("bpftool");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let objs = objects();
    let mut args: Vec<String> = objs.clone();
    args.push("--kernels".into());
    args.extend(kernels.iter().map(|k| k.vmlinuz.display().to_string()));
    args.extend(["-o".into(), out.display().to_string(), "--json".into()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = btfgen(&argv);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let recs = records(&o);
    for k in &kernels {
        // bpftool reads raw BTF: the kernel's .BTF, as coretool's own source reader finds it.
        let full = coretool::source::load(Some(&k.vmlinuz), None).expect("read the kernel");
        let raw = dir.path().join(format!("{}.full.btf", k.release));
        std::fs::write(&raw, full.btf.raw_bytes()).unwrap();
        let theirs = dir.path().join(format!("{}.bpftool.btf", k.release));
        run_ok(
            Command::new("bpftool")
                .args(["gen", "min_core_btf"])
                .arg(&raw)
                .arg(&theirs)
                .args(&objs),
        );
        let rel = recs
            .iter()
            .find(|r| r["kernel"]["release"] == k.release.as_str())
            .and_then(|r| r["output"].as_str())
            .unwrap_or_else(|| panic!("no output record for {}", k.release));
        let ours = std::fs::read(out.join(rel)).unwrap();
        let theirs = std::fs::read(&theirs).unwrap();
        let (g1, g2) = (graph(&ours), graph(&theirs));
        let (extra, missing) = (only_in(&g1, &g2), only_in(&g2, &g1));
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{}: coretool's type graph differs from bpftool's\nonly coretool's:\n  {}\nonly bpftool's:\n  {}",
            k.release,
            extra.join("\n  "),
            missing.join("\n  ")
        );
        common::say(&format!(
            "btfgen {}: {} types, the same graph as bpftool's{}",
            k.release,
            g1.values().sum::<usize>(),
            if ours == theirs {
                " (byte-identical)"
            } else {
                ""
            }
        ));
    }
}

/// The proof ran on every kernel: every relocation of every object was checked, and the
/// text report says so; the outputs go in the input's layout.
#[test]
fn minimized_and_proven_on_cached_kernels() {
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args = objects();
    args.push("--kernels".into());
    args.extend(kernels.iter().map(|k| k.vmlinuz.display().to_string()));
    args.extend([
        "-o".into(),
        out.display().to_string(),
        "-j".into(),
        "2".into(),
    ]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = btfgen(&argv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want: Vec<String> = kernels
        .iter()
        .map(|k| format!("x86_64/{}.btf", k.release))
        .collect();
    assert_eq!(files(&out), want);
    let text = stdout(&o).replace(&fixtures().display().to_string(), "FIXTURES");
    common::assert_golden("golden/btfgen/debian.txt", &text);
}

/// A kernel where an object cannot load gets no output, is reported with the relocation, and
/// the run exits 1; the other kernels' outputs are written.
#[test]
fn a_kernel_where_an_object_fails_gets_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // The object's own BTF has every type it reads; the pair's target BTF lacks fields the
    // local object reads unguarded.
    let good = dir.path().join("7.0.0-good.btf");
    let own =
        coretool::source::load(Some(&fixtures().join("core_pair_local.bpf.o")), None).unwrap();
    std::fs::write(&good, own.btf.raw_bytes()).unwrap();
    let local = fixture("core_pair_local.bpf.o");
    let target = fixture("core_pair_target.bpf.o");
    let o = btfgen(&[
        &local,
        "--kernels",
        &target,
        good.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-j",
        "1",
    ]);
    let text = stdout(&o).replace(&fixtures().display().to_string(), "FIXTURES");
    let text = text.replace(&dir.path().display().to_string(), "TMP");
    common::assert_golden("golden/btfgen/fails.txt", &text);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // Only the good kernel's output: the failing one is named in the report, not written.
    let written = files(&out);
    assert!(
        written.iter().all(|f| !f.contains("core_pair_target")),
        "{written:?}"
    );
}

/// `--bundle`: one archive with an index; identical outputs stored once; the summary gives
/// the sizes. `--compress like-input` keeps BTFHub's .btf.tar.xz.
#[test]
fn bundle_dedups_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    common::btfhub_tree(&dir.path().join("hub"));
    let root = dir.path().join("hub");
    let bundle = dir.path().join("all.tar.xz");
    let out = dir.path().join("out");
    let obj = fixture("core_all_kinds.bpf.o");
    let o = btfgen(&[
        &obj,
        "--kernels",
        root.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--compress",
        "like-input",
        "--json",
        "-j",
        "1",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        files(&out),
        [
            "fedora/38/arm64/6.99.0-coretool-fixture.btf.tar.xz",
            "ubuntu/20.04/x86_64/6.99.0-coretool-fixture.btf.tar.xz",
            "ubuntu/22.04/x86_64/6.99.0-coretool-fixture.btf.tar.xz",
        ]
    );
    let recs = records(&o);
    let summary = recs.last().unwrap();
    assert_eq!(summary["record"], "summary");
    assert_eq!(summary["bundle"]["kernels"], 3);
    assert_eq!(summary["bundle"]["members"], 1);
    // The archive: one BTF member, and the index naming it three times.
    let list = Command::new("tar")
        .arg("tJf")
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(
        stdout(&list),
        "btf/6.99.0-coretool-fixture.btf\nindex.json\n"
    );
    let index = Command::new("tar")
        .arg("xJOf")
        .arg(&bundle)
        .arg("index.json")
        .output()
        .unwrap();
    let index: Value = serde_json::from_slice(&index.stdout).unwrap();
    let rows: Vec<String> = index
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {} {}",
                e["distro"], e["version"], e["arch"], e["release"], e["member"]
            )
        })
        .collect();
    let mut rows = rows;
    rows.sort();
    assert_eq!(
        rows,
        [
            "\"fedora\" \"38\" \"arm64\" \"6.99.0-coretool-fixture\" \"btf/6.99.0-coretool-fixture.btf\"",
            "\"ubuntu\" \"20.04\" \"x86_64\" \"6.99.0-coretool-fixture\" \"btf/6.99.0-coretool-fixture.btf\"",
            "\"ubuntu\" \"22.04\" \"x86_64\" \"6.99.0-coretool-fixture\" \"btf/6.99.0-coretool-fixture.btf\"",
        ]
    );
    // The member is the raw output, and it relocates the object like the kernel: dry-run
    // against it agrees with dry-run against the full BTF on every value.
    let member = Command::new("tar")
        .arg("xJOf")
        .arg(&bundle)
        .arg("btf/6.99.0-coretool-fixture.btf")
        .output()
        .unwrap();
    let min = dir.path().join("min.btf");
    std::fs::write(&min, &member.stdout).unwrap();
    let values = |btf: &str| -> Vec<(String, String, String)> {
        let o = common::run(&["dry-run", "--offline", "--json", &obj, "--btf", btf]);
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let targets = v["targets"].as_array().unwrap();
        targets[0]["relocations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] != "target_type_id")
            .map(|r| {
                (
                    r["accessor"].to_string(),
                    r["status"].to_string(),
                    r["target"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        values(min.to_str().unwrap()),
        values(&fixture("core_all_kinds.btf"))
    );
}

/// Bad input: an unreadable object is refused before anything is written (exit 2, one line
/// naming it), and no bundle or temporary file is left.
#[test]
fn bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.tar.xz");
    let out = dir.path().join("out");
    let bad = fixture("not_bpf.o");
    let o = btfgen(&[
        &bad,
        "--kernels",
        &fixture("core_all_kinds.btf"),
        "--bundle",
        bundle.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    common::assert_bad_input(&o, &bad);
    assert_eq!(files(dir.path()), Vec::<String>::new());
    // No kernel readable at all: exit 2, and the bundle is not left half-made.
    let obj = fixture("core_all_kinds.bpf.o");
    let o = btfgen(&[
        &obj,
        "--kernels",
        "/nonexistent/k.btf",
        "--bundle",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no kernel could be read"),
        "{}",
        stderr(&o)
    );
    let left: Vec<String> = files(dir.path())
        .into_iter()
        .filter(|f| f.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Module BTF: `struct ext4_sb_info` is only in the ext4 module of the Debian kernels, so the
/// output keeps ext4's part, split BTF on the minimized vmlinux, with exactly the members read;
/// the proof covers the module relocations too. Debian 5.10 ships modules without BTF: there
/// the relocation cannot resolve, and the kernel gets no output.
#[test]
fn a_module_candidate_keeps_the_modules_part() {
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let obj = fixture("btfgen/module_reloc.bpf.o");
    let mut args = vec![obj.clone(), "--kernels".into()];
    args.extend(kernels.iter().map(|k| k.vmlinuz.display().to_string()));
    args.extend([
        "-o".into(),
        out.display().to_string(),
        "--json".into(),
        "-j".into(),
        "2".into(),
    ]);
    let bundle = dir.path().join("b.tar.xz");
    args.extend(["--bundle".into(), bundle.display().to_string()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = btfgen(&argv);
    let recs = records(&o);
    let index = Command::new("tar")
        .arg("xJOf")
        .arg(&bundle)
        .arg("index.json")
        .output()
        .unwrap();
    let index: Value = serde_json::from_slice(&index.stdout).unwrap();
    let mut with_module = 0;
    for k in &kernels {
        let r = recs
            .iter()
            .find(|r| r["kernel"]["release"] == k.release.as_str())
            .unwrap_or_else(|| panic!("no record for {}", k.release));
        // Whether this kernel's ext4 module carries BTF, as coretool's module reader sees it.
        let has_module_btf = coretool::btfgen::modules::find(&k.vmlinuz, Some(&k.release))
            .iter()
            .filter(|p| p.to_string_lossy().contains("/ext4.ko"))
            .any(|p| coretool::btfgen::modules::read(p).is_ok_and(|m| m.is_some()));
        if !has_module_btf {
            assert_eq!(r["status"], "objects-fail", "{r}");
            continue;
        }
        assert_eq!(r["status"], "minimized", "{r}");
        assert_eq!(r["modules"][0]["name"], "ext4", "{r}");
        let base = std::fs::read(out.join(r["output"].as_str().unwrap())).unwrap();
        let part = std::fs::read(out.join(r["modules"][0]["output"].as_str().unwrap())).unwrap();
        let btf = Btf::parse_split(&part, Btf::parse(&base).unwrap()).unwrap();
        let graph: Vec<String> = (1..btf.type_count())
            .map(|id| describe(&btf, id, 0))
            .collect();
        // Exactly the two members read, in both structs.
        let kept = |name: &str, members: [&str; 2]| {
            graph.iter().any(|d| {
                d.starts_with(&format!("struct '{name}' size="))
                    && d.matches(" @").count() == 2
                    && members.iter().all(|m| d.contains(&format!("{m}: ")))
            })
        };
        assert!(
            kept("ext4_sb_info", ["s_desc_per_block", "s_mount_opt"]),
            "{graph:#?}"
        );
        assert!(kept("super_block", ["s_fs_info", "s_flags"]), "{graph:#?}");
        // The bundle's index names ext4's part next to the kernel's.
        let entry = index
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["release"] == k.release.as_str())
            .unwrap();
        assert_eq!(
            entry["modules"]["ext4"],
            format!("btf/{}/ext4.btf", k.release)
        );
        // ext4's part holds only module types: vmlinux's stay in the base.
        assert_eq!(
            btf.type_count() - Btf::parse(&base).unwrap().type_count(),
            1,
            "{graph:#?}"
        );
        with_module += 1;
    }
    assert!(with_module > 0, "no cached kernel has module BTF");
    assert_eq!(
        code(&o),
        if with_module == kernels.len() { 0 } else { 1 },
        "{}",
        stderr(&o)
    );
}

/// Two kernels whose outputs would have the same path: the first is written, the second is
/// reported `not-written` (exit 1), never overwritten; `--compress always` writes BTFHub's
/// `.btf.tar.xz`, which holds `<release>.btf`.
#[test]
fn an_output_path_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    for d in ["a", "b"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
        std::fs::copy(
            fixtures().join("core_all_kinds.btf"),
            dir.path().join(d).join("7.0.1.btf"),
        )
        .unwrap();
    }
    let (a, b) = (
        dir.path().join("a/7.0.1.btf"),
        dir.path().join("b/7.0.1.btf"),
    );
    let out = dir.path().join("out");
    let obj = fixture("core_all_kinds.bpf.o");
    let o = btfgen(&[
        &obj,
        "--kernels",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--compress",
        "always",
        "--json",
        "-j",
        "1",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let statuses: Vec<String> = records(&o)
        .iter()
        .filter(|r| r["record"] == "kernel")
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["minimized", "not-written"]);
    let written = files(&out);
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(written[0].ends_with("7.0.1.btf.tar.xz"), "{written:?}");
    let list = Command::new("tar")
        .arg("tJf")
        .arg(out.join(&written[0]))
        .output()
        .unwrap();
    assert_eq!(stdout(&list), "7.0.1.btf\n");
}

/// SIGINT stops the run between kernels: exit 2, one line saying so, no bundle and no
/// temporary file left, and what was written is whole.
#[test]
fn sigint_leaves_no_half_made_bundle() {
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.tar.xz");
    let out = dir.path().join("out");
    // The module object makes each kernel take seconds (its modules are read).
    let mut cmd = common::bin();
    cmd.args([
        "btfgen",
        "--no-cache",
        "-j",
        "1",
        &fixture("btfgen/module_reloc.bpf.o"),
    ])
    .arg("--kernels")
    .args(kernels.iter().map(|k| &k.vmlinuz))
    .arg("--bundle")
    .arg(&bundle)
    .arg("-o")
    .arg(&out)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("interrupted by SIGINT"),
        "{}",
        stderr(&o)
    );
    // Only finished outputs: a vmlinux part parses on its own, a module part on its base.
    let left = files(dir.path());
    assert!(
        left.iter()
            .all(|f| f.starts_with("out/") && f.ends_with(".btf")),
        "{left:?}"
    );
    for f in left.iter().filter(|f| f.matches('/').count() == 2) {
        Btf::parse(&std::fs::read(dir.path().join(f)).unwrap()).unwrap();
    }
}

/// The dozen libbpf-tools objects of the test set (Debian's libbpf-tools, extracted by
/// `cargo xtask corpus` into target/corpus/libbpf-tools): kprobes, fentry, tracepoints, raw
/// tracepoints, task and socket structs, flavoured types.
const LIBBPF_TOOLS: [&str; 12] = [
    "biolatency",
    "biosnoop",
    "execsnoop",
    "exitsnoop",
    "offcputime",
    "oomkill",
    "opensnoop",
    "runqlat",
    "runqslower",
    "tcpconnect",
    "tcplife",
    "tcpstates",
];

/// Those built for x86 only: their kprobes read `pt_regs.di`/`.ax` (`PT_REGS_PARM1`), which no
/// other architecture's `struct pt_regs` has.
const X86_ONLY: [&str; 3] = ["biosnoop", "oomkill", "tcpconnect"];

fn libbpf_tools() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/corpus/libbpf-tools")
}

/// The raw BTF files of the CI fleet (`scripts/fetch-fleet.sh --subset ci`), sorted.
fn fleet_ci_btfs() -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = files(&common::fleet_ci().join("debian"))
        .into_iter()
        .filter(|f| f.ends_with(".btf"))
        .map(|f| common::fleet_ci().join("debian").join(f))
        .collect();
    out.sort();
    out
}

/// What a relocation's result says that must not change when the kernel's BTF is minimized,
/// from `dry-run --json`: everything but type ids (a `type_id_target` value is one, so only
/// whether it resolved counts) and the raw accessor's member indices (in the spec string).
fn relocation_facts(r: &Value) -> Value {
    let type_id = r["kind"] == "type_id_target";
    let status = match r["status"].as_str() {
        Some("same" | "patched") if type_id => "resolved",
        s => s.unwrap_or("?"),
    };
    serde_json::json!({
        "relocation": [&r["program"], &r["section"], &r["index"], &r["insn"], &r["kind"]],
        "accessor": &r["accessor"],
        "status": status,
        "local": &r["local"],
        "target": if type_id { Value::Null } else { r["target"].clone() },
        "mem_sz": &r["mem_sz"],
        "bit_offset": &r["bit_offset"],
        "reachable": &r["reachable"],
        "candidate": [&r["candidate"]["type"], &r["candidate"]["btf"]],
        "error": r["error"].is_string(),
    })
}

/// Relocation against the minimized BTF gives what relocation against the full BTF gives, for
/// a dozen libbpf-tools objects on every kernel of the CI fleet (amd64, arm64, ppc64el,
/// riscv64, s390x) and the cached Debian kernels (with their modules): btfgen proves it in the
/// run (exit 0, every relocation counted as proven), and `dry-run --offline` confirms it
/// independently, object by object, full BTF against minimized output. The objects built for
/// x86 only are reported, not written, on the other architectures (the reason names the
/// relocation); the big-endian s390x kernel refuses every (little-endian) object.
#[test]
fn libbpf_tools_relocate_on_minimized_btf_as_on_full() {
    let corpus = libbpf_tools();
    let objs: Vec<String> = LIBBPF_TOOLS
        .iter()
        .map(|n| corpus.join(format!("{n}.bpf.o")).display().to_string())
        .collect();
    require!(
        objs.iter().all(|o| Path::new(o).is_file()),
        "the libbpf-tools corpus is not in {} (run `cargo xtask corpus`)",
        corpus.display()
    );
    let fleet = fleet_ci_btfs();
    let arch_of = |p: &Path| -> String {
        p.parent()
            .and_then(|d| d.file_name())
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let arches: std::collections::BTreeSet<String> = fleet.iter().map(|p| arch_of(p)).collect();
    require!(
        ["amd64", "arm64", "ppc64el", "riscv64", "s390x"]
            .iter()
            .all(|a| arches.contains(*a)),
        "no complete CI fleet in {} (has {arches:?}; run scripts/fetch-fleet.sh --subset ci \
         --dest {})",
        common::fleet_ci().display(),
        common::fleet_ci().display()
    );
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    let dir = tempfile::tempdir().unwrap();

    // Every object on every kernel: the amd64 kernels are minimized and proven, the others
    // reported with the reason.
    let all = dir.path().join("all");
    let mut args: Vec<String> = objs.clone();
    args.push("--kernels".into());
    args.extend(fleet.iter().map(|p| p.display().to_string()));
    args.extend(kernels.iter().map(|k| k.vmlinuz.display().to_string()));
    args.extend(["-o".into(), all.display().to_string(), "--json".into()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = btfgen(&argv);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let recs = records(&o);
    let mut proven: Vec<(std::path::PathBuf, std::path::PathBuf, Vec<String>)> = Vec::new();
    for r in recs.iter().filter(|r| r["record"] == "kernel") {
        let source = r["kernel"]["source"].as_str().unwrap();
        match r["kernel"]["arch"].as_str().unwrap() {
            "x86_64" => {
                assert_eq!(r["status"], "minimized", "{r}");
                let output = all.join(r["output"].as_str().unwrap());
                if source.ends_with(".btf") {
                    proven.push((source.into(), output, objs.clone()));
                }
            }
            "s390x" => {
                assert_eq!(r["status"], "objects-fail", "{r}");
                for ob in r["objects"].as_array().unwrap() {
                    let problems = ob["problems"].to_string();
                    assert!(problems.contains("the kernel big-endian"), "{ob}");
                }
            }
            _ => {
                assert_eq!(r["status"], "objects-fail", "{r}");
                for ob in r["objects"].as_array().unwrap() {
                    let name = ob["object"].as_str().unwrap();
                    let x86 = X86_ONLY
                        .iter()
                        .any(|n| name.ends_with(&format!("/{n}.bpf.o")));
                    assert_eq!(ob["loads"], !x86, "{ob}");
                    if x86 {
                        assert!(
                            ob["problems"].to_string().contains("struct pt_regs."),
                            "{ob}"
                        );
                    }
                }
            }
        }
    }
    let summary = recs.last().unwrap();
    assert_eq!(summary["record"], "summary");
    assert_eq!(summary["minimized"], 3 + kernels.len(), "{summary}");
    assert!(
        summary["relocations_proven"].as_u64().unwrap() > 1000,
        "{summary}"
    );

    // The objects that are not x86-only on the little-endian kernels: all minimized and proven.
    let neutral: Vec<String> = objs
        .iter()
        .filter(|o| !X86_ONLY.iter().any(|n| o.ends_with(&format!("/{n}.bpf.o"))))
        .cloned()
        .collect();
    let le: Vec<&std::path::PathBuf> = fleet.iter().filter(|p| arch_of(p) != "s390x").collect();
    let out = dir.path().join("le");
    let mut args = neutral.clone();
    args.push("--kernels".into());
    args.extend(le.iter().map(|p| p.display().to_string()));
    args.extend(["-o".into(), out.display().to_string(), "--json".into()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = btfgen(&argv);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let recs = records(&o);
    for r in recs.iter().filter(|r| r["record"] == "kernel") {
        assert_eq!(r["status"], "minimized", "{r}");
        if r["kernel"]["arch"] != "x86_64" {
            let output = out.join(r["output"].as_str().unwrap());
            proven.push((
                r["kernel"]["source"].as_str().unwrap().into(),
                output,
                neutral.clone(),
            ));
        }
    }
    assert_eq!(recs.last().unwrap()["minimized"], le.len());

    // The independent check: dry-run each object against each full BTF and its minimized
    // output, one process per object, and compare relocation by relocation.
    let mut checked = 0;
    for obj in &objs {
        let pairs: Vec<_> = proven.iter().filter(|(.., o)| o.contains(obj)).collect();
        let mut cmd = common::bin();
        cmd.args(["dry-run", obj, "--offline", "--json"]);
        for (full, min, _) in &pairs {
            cmd.arg("--btf").arg(full).arg("--btf").arg(min);
        }
        let o = cmd.env("NO_COLOR", "1").output().unwrap();
        let report: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{obj}: dry-run --json ({e}): {}", stderr(&o)));
        let targets = report["targets"].as_array().unwrap();
        assert_eq!(targets.len(), 2 * pairs.len(), "{obj}");
        for (t, (full, min, _)) in targets.chunks(2).zip(&pairs) {
            let (f, m) = (&t[0], &t[1]);
            // The relocation half: the minimized BTF is no vmlinux BTF, so dry-run's requires
            // half is not checked on it.
            assert_eq!(
                f["relocations_verdict"],
                m["relocations_verdict"],
                "{obj} on {}",
                full.display()
            );
            let (fr, mr) = (
                f["relocations"].as_array().unwrap(),
                m["relocations"].as_array().unwrap(),
            );
            assert!(!fr.is_empty(), "{obj}: no relocations");
            assert_eq!(fr.len(), mr.len(), "{obj} on {}", full.display());
            for (a, b) in fr.iter().zip(mr) {
                assert_eq!(
                    relocation_facts(a),
                    relocation_facts(b),
                    "{obj}: against {} and its minimized BTF {}",
                    full.display(),
                    min.display()
                );
                checked += 1;
            }
        }
    }
    common::say(&format!(
        "btfgen libbpf-tools: {} objects, {} minimized kernels, {checked} relocations equal \
         against full and minimized BTF (dry-run --offline)",
        objs.len(),
        proven.len()
    ));
}
