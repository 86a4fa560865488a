//! `coretool compat`: verdicts equal dry-run's per kernel, every kind of kernel source
//! (files, BTFHub directories, Debian packages, arm64 images found by their BTF header), one
//! bad source among good ones, byte-order mismatches, the JSON Lines schema, exit codes, the
//! BTF cache (hits, corrupt entries, --no-cache, the size bound).
//!
//! The packages and images are made here, in a temporary directory, from the checked-in
//! fixtures: an `ar` archive written byte by byte, tars with the `tar` crate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{self, cached_kernels, fixtures, no_cached_kernels, stderr, stdout};

const FIXTURE_RELEASE: &str = "6.99.0-coretool-fixture";

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// `coretool compat ARGS`, with `--no-cache` unless ARGS name a cache: tests never touch the
/// user's cache.
fn compat(args: &[&str]) -> Output {
    let cached = args.iter().any(|a| *a == "--cache" || *a == "--no-cache");
    common::bin()
        .arg("compat")
        .args((!cached).then_some("--no-cache"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run coretool compat")
}

/// The JSON Lines records, in input order (each names its source; `-j 1` keeps the order).
fn records(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

/// For every object, compat's per-kernel verdict and relocations equal `dry-run --offline`'s.
#[test]
fn verdicts_equal_dry_run_offline_on_cached_kernels() {
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    let objects = [
        fixture("core_all_kinds.bpf.o"),
        fixture("dryrun/dryrun_probe.bpf.o"),
        fixture("dryrun/unguarded.bpf.o"),
        fixture("requires/needs_gone.bpf.o"),
        fixture("requires/needs_newer.bpf.o"),
    ];
    let paths: Vec<String> = kernels
        .iter()
        .map(|k| k.vmlinuz.display().to_string())
        .collect();
    let mut args: Vec<&str> = vec!["--json", "-j", "2"];
    args.extend(objects.iter().map(String::as_str));
    args.push("--kernels");
    args.extend(paths.iter().map(String::as_str));
    let out = compat(&args);
    assert_eq!(code(&out), 1, "unguarded fails: {}", stderr(&out));
    let recs = records(&out);
    assert_eq!(recs.len(), objects.len() * paths.len());
    for obj in &objects {
        let mut dargs = vec!["--json", "dry-run", obj.as_str(), "--offline"];
        for p in &paths {
            dargs.extend(["--btf", p.as_str()]);
        }
        let d = common::bin().args(&dargs).output().unwrap();
        let doc: Value = serde_json::from_slice(&d.stdout).expect("dry-run JSON");
        for t in doc["targets"].as_array().unwrap() {
            let rec = recs
                .iter()
                .find(|r| r["object"] == obj.as_str() && r["kernel"]["source"] == t["source"])
                .unwrap_or_else(|| panic!("no record for {obj} on {}", t["source"]));
            // Both verdicts weigh the requires half in, the same way.
            let verdict = match rec["verdict"].as_str().unwrap() {
                "loads-guarded-poison" => "loads",
                v => v,
            };
            assert_eq!(verdict, t["verdict"], "{obj} on {}", t["source"]);
            assert_eq!(rec["requires"], t["requires"], "{obj} on {}", t["source"]);
            assert_eq!(
                rec["relocations"], t["relocations"],
                "{obj} on {}",
                t["source"]
            );
            assert_eq!(rec["kernel"]["release"], t["release"]);
            assert_eq!(rec["kernel"]["arch"], "x86_64");
            assert_eq!(rec["kernel"]["endian"], "little");
        }
    }
}

/// The requires half: an object whose relocations are fine everywhere but whose programs need
/// what a kernel lacks fails there (`needs_newer`: a helper, a map type, a tracepoint, kfuncs
/// 5.10 lacks; 6.1 lacks the kfuncs), or loads only without some programs (`needs_gone`: a
/// raw tracepoint 5.10 lacks, a context read past the tracepoint's prototype everywhere),
/// with the first missing requirement and its evidence; classes group by that outcome;
/// `--core-only` judges the relocations alone.
#[test]
fn requires_half_of_the_verdict_on_debian_kernels() {
    let kernels = cached_kernels();
    require!(kernels.len() >= 3, "{}", no_cached_kernels());
    let paths: Vec<String> = kernels
        .iter()
        .map(|k| k.vmlinuz.display().to_string())
        .collect();
    let objects = [
        fixture("requires/needs_newer.bpf.o"),
        fixture("requires/needs_gone.bpf.o"),
    ];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["-j", "1"]);
        args.extend(objects.iter().map(String::as_str));
        args.push("--kernels");
        args.extend(paths.iter().map(String::as_str));
        compat(&args)
    };
    let out = run(&["--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let recs = records(&out);
    let rec = |obj: &str, release: &str| {
        recs.iter()
            .find(|r| {
                r["object"].as_str().unwrap().ends_with(obj) && r["kernel"]["release"] == release
            })
            .unwrap_or_else(|| panic!("no record of {obj} on {release}"))
    };
    let missing = |r: &Value| -> Vec<String> {
        r["requires"]["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|q| q["status"] == "missing")
            .map(|q| {
                format!(
                    "{} {} {}: {}",
                    q["program"].as_str().unwrap_or("object"),
                    q["kind"].as_str().unwrap(),
                    q["name"].as_str().unwrap(),
                    q["evidence"].as_str().unwrap()
                )
            })
            .collect()
    };
    // The relocations are fine everywhere: what fails is the rest.
    for r in &recs {
        assert!(r["failures"].as_array().unwrap().is_empty(), "{r}");
    }
    let newer_510 = rec("needs_newer.bpf.o", "5.10.0-46-amd64");
    assert_eq!(newer_510["verdict"], "fails");
    assert_eq!(newer_510["requires"]["verdict"], "fails");
    let m = missing(newer_510);
    for want in [
        "helper_newer helper bpf_get_current_task_btf: no BPF_FUNC_get_current_task_btf (158) \
         in enum bpf_func_id",
        "map_newer map seen: BPF_MAP_TYPE_BLOOM_FILTER: no BPF_MAP_TYPE_BLOOM_FILTER (30) in \
         enum bpf_map_type",
        "attach_newer attach_target contention_begin: no btf_trace_contention_begin in the \
         kernel's BTF",
        "kfunc_newer kfunc bpf_rcu_read_lock: no FUNC bpf_rcu_read_lock in the kernel's BTF",
    ] {
        assert!(
            m.iter().any(|l| l.starts_with(want)),
            "{want} not in {m:#?}"
        );
    }
    assert_eq!(
        rec("needs_newer.bpf.o", "6.1.0-57-amd64")["verdict"],
        "fails"
    );
    let newer_612 = rec("needs_newer.bpf.o", "6.12.117+deb12-amd64");
    assert_eq!(newer_612["verdict"], "loads", "{newer_612}");
    assert!(missing(newer_612).is_empty());
    let gone_510 = rec("needs_gone.bpf.o", "5.10.0-46-amd64");
    assert_eq!(gone_510["verdict"], "loads-without");
    assert_eq!(
        gone_510["requires"]["without_programs"],
        serde_json::json!(["raw_tp_gone", "ctx_too_far"])
    );
    let m = missing(gone_510);
    assert!(
        m[0].starts_with(
            "raw_tp_gone attach_target iomap_writepage_map: no btf_trace_iomap_writepage_map"
        ),
        "{m:#?}"
    );
    // The summary groups kernels by the combined outcome, the first missing requirement and
    // its evidence in words; the job summary too.
    let tidy = |o: &Output| {
        stdout(o)
            .replace(&fixtures().display().to_string(), "FIXTURES")
            .replace(&common::kernel_cache().display().to_string(), "KERNELS")
    };
    let out = run(&[]);
    assert_eq!(code(&out), 1);
    common::assert_golden("golden/compat/requires.txt", &tidy(&out));
    let out = run(&["--format", "markdown"]);
    common::assert_golden("golden/compat/requires.md", &tidy(&out));
    // --core-only: the relocations alone, as before the requires half.
    let out = run(&["--json", "--core-only"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for r in records(&out) {
        assert_eq!(r["verdict"], "loads", "{r}");
        assert!(r["requires"].is_null(), "{r}");
    }
}

/// A kernel BTF that is no vmlinux BTF (no `enum bpf_prog_type`) cannot tell what a kernel
/// offers: the verdict is the relocations', and the record says the requires half was not
/// checked, and why.
#[test]
fn a_btf_that_is_no_vmlinux_is_judged_on_its_relocations_and_says_so() {
    let out = compat(&[
        "--json",
        &fixture("core_all_kinds.bpf.o"),
        "--kernels",
        &fixture("core_all_kinds.btf"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = &records(&out)[0];
    assert_eq!(r["verdict"], "loads");
    assert_eq!(r["requires"]["verdict"], "not-checked");
    assert_eq!(
        r["requires"]["reason"],
        "no enum bpf_prog_type in the kernel's BTF (not a vmlinux BTF)"
    );
}

/// One unreadable source (missing, not a kernel, a corrupt stream) never stops the others; it
/// is a result with its reason, and the run exits 1.
#[test]
fn a_bad_source_among_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("vmlinuz-corrupt");
    let mut xz = std::fs::read(fixture("core_all_kinds.btf.xz")).unwrap();
    xz.truncate(xz.len() / 2);
    std::fs::write(&corrupt, xz).unwrap();
    let corrupt = corrupt.display().to_string();
    let good = fixture("core_all_kinds.btf");
    let not_kernel = fixture("not_bpf.o");
    let out = compat(&[
        "--json",
        "-j",
        "1",
        &fixture("core_all_kinds.bpf.o"),
        "--kernels",
        "/nonexistent/vmlinuz",
        &good,
        &not_kernel,
        &corrupt,
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let recs = records(&out);
    let got: Vec<(&str, &str, &str)> = recs
        .iter()
        .map(|r| {
            (
                r["kernel"]["source"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
                r["error"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].1, "unreadable");
    assert_eq!(got[0].2, "/nonexistent/vmlinuz: no such file or directory");
    assert_eq!((got[1].0, got[1].1), (good.as_str(), "loads"));
    assert_eq!(got[2].1, "unreadable");
    assert!(
        got[2].2.starts_with(&format!("{not_kernel}: ")),
        "{}",
        got[2].2
    );
    assert_eq!(
        got[3].2,
        format!("{corrupt}: xz data is truncated"),
        "the reason is true"
    );
    // Text: the good kernel's class, then each unreadable source with its reason.
    let out = compat(&[
        &fixture("core_all_kinds.bpf.o"),
        "--kernels",
        "/nonexistent/vmlinuz",
        &good,
    ]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(
        text.contains("1 kernel (core_all_kinds.btf): loads, 32 relocations, 2 changed"),
        "{text}"
    );
    assert!(
        text.contains("1 source unreadable: /nonexistent/vmlinuz: no such file or directory"),
        "{text}"
    );
}

/// A directory in BTFHub's layout: every archive is a kernel, named by its path; files that
/// are no kernels are passed over.
#[test]
fn btfhub_directory() {
    let dir = tempfile::tempdir().unwrap();
    common::btfhub_tree(&dir.path().join("btfhub-archive"));
    let root = dir.path().join("btfhub-archive").display().to_string();
    let obj = fixture("core_all_kinds.bpf.o");
    let out = compat(&["--json", "-j", "1", &obj, "--kernels", &root]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let recs = records(&out);
    let kernels: Vec<String> = recs
        .iter()
        .map(|r| {
            let k = &r["kernel"];
            format!(
                "{} {} {} {} {}",
                k["distro"].as_str().unwrap(),
                k["version"].as_str().unwrap(),
                k["arch"].as_str().unwrap(),
                k["release"].as_str().unwrap(),
                r["verdict"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kernels,
        [
            format!("fedora 38 arm64 {FIXTURE_RELEASE} loads"),
            format!("ubuntu 20.04 x86_64 {FIXTURE_RELEASE} loads"),
            format!("ubuntu 22.04 x86_64 {FIXTURE_RELEASE} loads"),
        ]
    );
    // The summary, with counts per architecture and distribution.
    let out = compat(&[&obj, "--kernels", &root]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out).replace(&fixtures().display().to_string(), "FIXTURES");
    common::assert_golden("golden/compat/btfhub.txt", &text);
    let out = compat(&["--format", "markdown", &obj, "--kernels", &root]);
    let md = stdout(&out).replace(&fixtures().display().to_string(), "FIXTURES");
    common::assert_golden("golden/compat/btfhub.md", &md);
}

/// An `ar` archive, as `ar rc` writes it.
fn ar(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let header = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name,
            0,
            0,
            0,
            "100644",
            data.len()
        );
        assert_eq!(header.len(), 60);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A Debian kernel package: `control.tar.gz` and a data tar holding `image` at `member`.
fn deb(
    package: &str,
    version: &str,
    arch: &str,
    member: &str,
    image: &[u8],
    zstd: bool,
) -> Vec<u8> {
    let control = format!(
        "Package: {package}\nVersion: {version}\nArchitecture: {arch}\nDescription: test\n"
    );
    let control = gzip(&tar(&[("./control", control.as_bytes())]));
    let modules = vec![0x5au8; 4096];
    let data = tar(&[
        ("./usr/share/doc/x/changelog.gz", &modules[..100]),
        (member, image),
        ("./usr/lib/modules/x/kernel/a.ko", &modules),
    ]);
    let (name, data) = match zstd {
        true => ("data.tar.zst", zstd::encode_all(&data[..], 3).unwrap()),
        false => ("data.tar.xz", xz(&data)),
    };
    ar(&[
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.gz", control),
        (name, data),
    ])
}

/// A `linux-image-*.deb` is read in memory: the kernel image out of its data tar, the
/// architecture and Debian release from its control fields (the release from the image's own
/// header, which the fixture image has: it wins over the member's name).
#[test]
fn debian_packages() {
    let dir = tempfile::tempdir().unwrap();
    let image = std::fs::read(fixture("vmlinuz-xz.img")).unwrap();
    let classic = dir
        .path()
        .join("linux-image-6.99.0-1-amd64_6.99.1-1~bpo12+1_amd64.deb");
    std::fs::write(
        &classic,
        deb(
            "linux-image-6.99.0-1-amd64",
            "6.99.1-1~bpo12+1",
            "amd64",
            "./boot/vmlinuz-6.99.0-1-amd64",
            &image,
            false,
        ),
    )
    .unwrap();
    // Debian 7.x: the kernel in linux-binary-REL at usr/lib/modules/REL/vmlinuz, zstd.
    let modern = dir
        .path()
        .join("linux-binary-7.0.0-1-amd64_7.0.1-1_amd64.deb");
    std::fs::write(
        &modern,
        deb(
            "linux-binary-7.0.0-1-amd64",
            "7.0.1-1",
            "amd64",
            "./usr/lib/modules/7.0.0-1-amd64/vmlinuz",
            &image,
            true,
        ),
    )
    .unwrap();
    let empty = dir.path().join("linux-image-amd64_1_amd64.deb");
    std::fs::write(
        &empty,
        deb(
            "linux-image-amd64",
            "1",
            "amd64",
            "./usr/share/doc/x/README",
            b"meta",
            false,
        ),
    )
    .unwrap();
    let d = dir.path().display().to_string();
    let out = compat(&[
        "--json",
        "-j",
        "1",
        &fixture("core_all_kinds.bpf.o"),
        "--kernels",
        &d,
    ]);
    assert_eq!(
        code(&out),
        1,
        "the meta package is unreadable: {}",
        stderr(&out)
    );
    let recs = records(&out);
    let got: Vec<String> = recs
        .iter()
        .map(|r| {
            let k = &r["kernel"];
            format!(
                "{} {} {} {} {} {}{}",
                Path::new(k["source"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy(),
                k["release"],
                k["arch"],
                k["distro"],
                k["version"],
                r["verdict"].as_str().unwrap(),
                r["error"]
                    .as_str()
                    .map_or(String::new(), |e| format!(": {e}")),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "linux-binary-7.0.0-1-amd64_7.0.1-1_amd64.deb \"6.99.0-coretool-fixture\" \"x86_64\" \"debian\" null loads".to_owned(),
            "linux-image-6.99.0-1-amd64_6.99.1-1~bpo12+1_amd64.deb \"6.99.0-coretool-fixture\" \"x86_64\" \"debian\" \"12\" loads".to_owned(),
            format!(
                "linux-image-amd64_1_amd64.deb null null null null unreadable: {}: package \
                 linux-image-amd64 holds no kernel image (boot/vmlinuz-*, \
                 boot/vmlinux-* or usr/lib/modules/*/vmlinuz[.unsigned])",
                empty.display()
            ),
        ]
    );
}

/// A big-endian object cannot run on a little-endian kernel: `incompatible`, with the
/// relocations still computed; on a big-endian kernel it loads.
#[test]
fn endianness_mismatch() {
    let obj = fixture("core_all_kinds.bpfeb.o");
    let out = compat(&[
        "--json",
        "-j",
        "1",
        &obj,
        "--kernels",
        &fixture("core_all_kinds.btf"),
        &fixture("core_all_kinds.bpfeb.btf"),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let recs = records(&out);
    assert_eq!(recs[0]["verdict"], "incompatible");
    assert_eq!(
        recs[0]["reason"],
        "the object is big-endian, the kernel little-endian"
    );
    assert_eq!(recs[0]["kernel"]["endian"], "little");
    assert_eq!(recs[1]["verdict"], "loads");
    let n = recs[1]["relocations"].as_array().unwrap().len();
    assert!(n > 0);
    assert_eq!(recs[0]["relocations"].as_array().unwrap().len(), n);
    assert_eq!(recs[1]["kernel"]["endian"], "big");
}

/// Every record has the documented keys, in order, and is one line.
#[test]
fn json_lines_schema() {
    let out = compat(&[
        "--json",
        &fixture("core_all_kinds.bpf.o"),
        &fixture("dryrun/unguarded.bpf.o"),
        "--kernels",
        &fixture("core_all_kinds.btf"),
        "/nonexistent",
    ]);
    assert_eq!(code(&out), 1);
    let recs = records(&out);
    assert_eq!(recs.len(), 4);
    for r in &recs {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "schema",
                "object",
                "kernel",
                "verdict",
                "reason",
                "failures",
                "requires",
                "summary",
                "relocations",
                "error"
            ]
        );
        assert_eq!(r["schema"], "coretool.compat/v2");
        let k: Vec<&str> = r["kernel"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            k,
            ["source", "release", "arch", "endian", "distro", "version", "format"]
        );
    }
    let fails = recs
        .iter()
        .find(|r| r["verdict"] == "fails")
        .expect("unguarded fails");
    assert_eq!(
        fails["failures"],
        serde_json::json!([{
            "program": "unguarded",
            "index": 1,
            "accessor": "struct task_struct.coretool_no_such_field",
            "source": "unguarded.bpf.c:19",
            "error": null
        }])
    );
    let reloc_keys: Vec<&str> = fails["relocations"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        reloc_keys[..3],
        ["program", "section", "index"],
        "dry-run's records"
    );
}

#[test]
fn exit_codes() {
    let good = fixture("core_all_kinds.btf");
    let out = compat(&[&fixture("core_all_kinds.bpf.o"), "--kernels", &good]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = compat(&[&fixture("dryrun/unguarded.bpf.o"), "--kernels", &good]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains(
        "1 kernel (core_all_kinds.btf): fails, relocation #1 struct \
         task_struct.coretool_no_such_field unguarded at unguarded.bpf.c:19 (program unguarded)"
    ));
    // A bad object: nothing printed, one line naming it.
    let out = compat(&[&fixture("not_bpf.o"), "--kernels", &good]);
    assert_eq!(code(&out), 2);
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).starts_with(&format!("coretool: {}: ", fixture("not_bpf.o"))),
        "{}",
        stderr(&out)
    );
    // No kernel readable at all.
    let out = compat(&[
        &fixture("core_all_kinds.bpf.o"),
        "--kernels",
        "/nonexistent",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no kernel could be read"),
        "{}",
        stderr(&out)
    );
    // An empty directory holds no kernel.
    let dir = tempfile::tempdir().unwrap();
    let out = compat(&[
        &fixture("core_all_kinds.bpf.o"),
        "--kernels",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(code(&out), 2);
    // No kernel source given.
    let out = compat(&[&fixture("core_all_kinds.bpf.o")]);
    assert_eq!(code(&out), 2);
}

/// A synthetic arm64 `Image`: the BTF stored raw among other bytes (after a decoy header that
/// looks like BTF but does not parse), found by its header; the release from the banner.
fn arm64_image() -> Vec<u8> {
    let btf = std::fs::read(fixture("core_all_kinds.btf")).unwrap();
    let mut img = vec![0u8; 64];
    img[0..2].copy_from_slice(b"MZ");
    img[0x38..0x3c].copy_from_slice(b"ARM\x64");
    img.extend((0..5000u32).map(|i| (i * 7 % 251) as u8));
    img.extend_from_slice(b"Linux version 6.99.0-arm64-test (debian-kernel@lists.debian.org) #1\0");
    // A decoy: a sane-looking header over bytes that are no BTF types.
    let mut decoy = btf.clone();
    for b in &mut decoy[24..24 + 200] {
        *b = 0xff;
    }
    decoy.extend(vec![0xffu8; btf.len()]);
    let total = decoy.len() as u32 - 24;
    decoy[12..16].copy_from_slice(&(total - 8).to_le_bytes()); // type_len
    decoy[16..20].copy_from_slice(&(total - 8).to_le_bytes()); // str_off
    decoy[20..24].copy_from_slice(&8u32.to_le_bytes()); // str_len
    let s = 24 + total as usize - 8;
    decoy[s..].fill(0);
    img.extend_from_slice(&decoy);
    img.extend((0..3000u32).map(|i| (i * 13 % 241) as u8));
    img.extend_from_slice(&btf);
    img.extend((0..3000u32).map(|i| (i * 3 % 239) as u8));
    img
}

/// An EFI zboot image around `payload` (gzip), for the PE machine `machine`.
fn zboot(payload: &[u8], machine: u16) -> Vec<u8> {
    let mut img = vec![0u8; 0x100];
    img[0..2].copy_from_slice(b"MZ");
    img[4..8].copy_from_slice(b"zimg");
    img[8..12].copy_from_slice(&0x100u32.to_le_bytes());
    img[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    img[24..28].copy_from_slice(b"gzip");
    img[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    img[0x80..0x84].copy_from_slice(b"PE\0\0");
    img[0x84..0x86].copy_from_slice(&machine.to_le_bytes());
    img.extend_from_slice(payload);
    img
}

#[test]
fn arm64_images_are_read_by_their_btf_header() {
    let dir = tempfile::tempdir().unwrap();
    let image = arm64_image();
    let plain: PathBuf = dir.path().join("Image");
    std::fs::write(&plain, &image).unwrap();
    let gz = dir.path().join("vmlinuz-6.99.0-arm64-test");
    std::fs::write(&gz, gzip(&image)).unwrap();
    let efi = dir.path().join("vmlinuz-efi");
    std::fs::write(&efi, zboot(&gzip(&image), 0xaa64)).unwrap();
    // The library reports how it got there.
    let src = coretool::source::load(Some(&plain), None).unwrap();
    assert!(
        src.describe()
            .starts_with("arm64 Image > raw BTF at offset 0x"),
        "{}",
        src.describe()
    );
    assert_eq!(src.release.as_deref(), Some("6.99.0-arm64-test"));
    let want = std::fs::read(fixture("core_all_kinds.btf")).unwrap();
    assert_eq!(
        src.btf.raw_bytes(),
        &want[..],
        "the real BTF, not the decoy"
    );
    let src = coretool::source::load(Some(&efi), None).unwrap();
    assert!(
        src.describe()
            .starts_with("EFI zboot image (gzip) > arm64 Image > raw BTF at offset"),
        "{}",
        src.describe()
    );
    let paths: Vec<String> = [&plain, &gz, &efi]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["--json", "-j", "1", "OBJ", "--kernels"];
    let obj = fixture("core_all_kinds.bpf.o");
    args[3] = &obj;
    args.extend(paths.iter().map(String::as_str));
    let out = compat(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for r in records(&out) {
        assert_eq!(r["kernel"]["arch"], "arm64", "{r}");
        assert_eq!(r["kernel"]["release"], "6.99.0-arm64-test", "{r}");
        assert_eq!(r["verdict"], "loads");
    }
    // An arm64 Image without BTF says so.
    let mut nobtf = arm64_image();
    nobtf.truncate(64 + 5000);
    std::fs::write(&plain, &nobtf).unwrap();
    let err = coretool::source::load(Some(&plain), None).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: arm64 Image holds no BTF (no valid BTF header in it; the kernel needs \
             CONFIG_DEBUG_INFO_BTF=y)",
            plain.display()
        )
    );
}

/// Output cut off (`coretool compat --json ... | head -1`): exit 0, quietly, without
/// relocating the kernels nobody will read about.
#[test]
fn a_closed_pipe_stops_the_run() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let good = fixture("core_all_kinds.btf");
    let mut cmd = Command::new(common::BIN);
    cmd.args([
        "compat",
        "--json",
        "-j",
        "1",
        &fixture("core_all_kinds.bpf.o"),
        "--kernels",
    ]);
    for _ in 0..2000 {
        cmd.arg(&good);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with("{\"schema\":\"coretool.compat/v2\""),
        "{first}"
    );
    let start = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // 2000 kernels take seconds; stopping takes one kernel.
    assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
}

/// The entries in a cache directory (`*.btf`), sorted.
fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// JSON records, sorted (completion order varies with -j).
fn sorted_records(o: &Output) -> Vec<String> {
    let mut v: Vec<String> = stdout(o).lines().map(str::to_owned).collect();
    v.sort();
    v
}

/// The first run over compressed sources stores their BTF and identity; the second reads them
/// from the cache (the -v line says so) with identical results; a corrupt entry is detected,
/// not trusted: the source is extracted again and the entry rewritten.
#[test]
fn the_btf_cache_is_hit_and_a_corrupt_entry_is_re_extracted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cache_s = cache.display().to_string();
    let hub = dir.path().join("debian/12/x86_64");
    std::fs::create_dir_all(&hub).unwrap();
    let archive = hub.join(format!("{FIXTURE_RELEASE}.btf.tar.xz"));
    std::fs::copy(fixture("core_all_kinds.btf.tar.xz"), &archive).unwrap();
    let archive = archive.display().to_string();
    let gz = fixture("vmlinuz-gzip.img");
    let raw = fixture("core_all_kinds.btf");
    let obj = fixture("core_all_kinds.bpf.o");
    // `coretool -v compat ...`: -v is a global option.
    let run = || {
        let o = common::bin()
            .args(["-v", "compat", "--json", "--cache", &cache_s, &obj])
            .args(["--kernels", &archive, &gz, &raw])
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        o
    };
    let cold = run();
    assert!(
        stderr(&cold).contains("0 read from the cache, 3 checked and stored"),
        "{}",
        stderr(&cold)
    );
    // The two compressed sources are cached with their BTF, the raw BTF with its CRC only.
    let entries = cache_entries(&cache);
    assert_eq!(entries.len(), 3, "{entries:?}");
    let sizes: Vec<u64> = entries
        .iter()
        .map(|e| std::fs::metadata(e).unwrap().len())
        .collect();
    assert_eq!(sizes.iter().filter(|&&n| n < 1024).count(), 1, "{sizes:?}");
    let warm = run();
    assert!(
        stderr(&warm).contains("3 read from the cache, 0 checked and stored"),
        "{}",
        stderr(&warm)
    );
    assert_eq!(sorted_records(&cold), sorted_records(&warm));
    // The identity came back with the BTF: release, arch and distribution.
    let rec = records(&warm)
        .into_iter()
        .find(|r| r["kernel"]["source"] == archive.as_str())
        .unwrap();
    assert_eq!(rec["kernel"]["distro"], "debian");
    assert_eq!(rec["kernel"]["version"], "12");
    assert_eq!(rec["kernel"]["release"], FIXTURE_RELEASE);

    // One flipped byte in each entry: all three are read and checked again, results unchanged.
    for e in &entries {
        let mut data = std::fs::read(e).unwrap();
        let n = data.len();
        data[n - 100] ^= 0x01;
        std::fs::write(e, data).unwrap();
    }
    let again = run();
    assert!(
        stderr(&again).contains("0 read from the cache, 3 checked and stored"),
        "{}",
        stderr(&again)
    );
    assert_eq!(sorted_records(&cold), sorted_records(&again));
    assert_eq!(cache_entries(&cache), entries);
    // A truncated entry too.
    let data = std::fs::read(&entries[0]).unwrap();
    std::fs::write(&entries[0], &data[..data.len() / 2]).unwrap();
    let again = run();
    assert!(stderr(&again).contains("2 read from the cache, 1 checked and stored"));
    assert_eq!(sorted_records(&cold), sorted_records(&again));
    // Without -v, and with stderr not a terminal, nothing is said about the cache.
    let quiet = compat(&["--cache", &cache_s, &obj, "--kernels", &archive]);
    assert_eq!(code(&quiet), 0);
    assert_eq!(stderr(&quiet), "");
}

/// `--no-cache` writes nothing anywhere; the default cache is under $XDG_CACHE_HOME.
#[test]
fn no_cache_writes_nothing_and_the_default_respects_xdg() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&xdg).unwrap();
    let obj = fixture("core_all_kinds.bpf.o");
    let gz = fixture("vmlinuz-gzip.img");
    let run = |extra: &[&str]| {
        let o = common::bin()
            .arg("compat")
            .args(extra)
            .args([&obj, "--kernels", &gz])
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", &xdg)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    run(&["--no-cache"]);
    assert_eq!(std::fs::read_dir(&home).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(&xdg).unwrap().count(), 0);
    run(&[]);
    assert_eq!(cache_entries(&xdg.join("coretool/btf")).len(), 1);
    assert_eq!(std::fs::read_dir(&home).unwrap().count(), 0);
}

/// Past `--cache-max`, the least recently used entries go.
#[test]
fn the_cache_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cache_s = cache.display().to_string();
    let obj = fixture("core_all_kinds.bpf.o");
    let (gz, xz) = (fixture("vmlinuz-gzip.img"), fixture("vmlinuz-xz.img"));
    let run = |kernels: &[&str], max: &str| {
        let mut args = vec!["--cache", &cache_s, "--cache-max", max, "-j", "1", &obj];
        args.push("--kernels");
        args.extend(kernels);
        let o = compat(&args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    run(&[&gz], "2G");
    let first = cache_entries(&cache);
    assert_eq!(first.len(), 1);
    let one = std::fs::metadata(&first[0]).unwrap().len();
    let pause = || std::thread::sleep(std::time::Duration::from_millis(50));
    pause();
    run(&[&xz], "2G");
    assert_eq!(cache_entries(&cache).len(), 2);
    pause();
    // Room for one entry: the gzip image's entry, created first but used last (a hit sets its
    // access time), is the one kept.
    run(&[&gz], &one.to_string());
    assert_eq!(cache_entries(&cache), first);
    // A bad size is refused before anything runs.
    let o = compat(&["--cache-max", "lots", &obj, "--kernels", &gz]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("expected a size"), "{}", stderr(&o));
}

/// A synthetic s390x `image`: the IPL header file(1) knows, a decoy zstd magic in the
/// "decompressor", then the real zstd payload: a raw kernel with a banner and big-endian BTF.
fn s390x_image(btf: &[u8]) -> Vec<u8> {
    let mut img = vec![0u8; 8];
    img.extend_from_slice(&[
        0x02, 0x00, 0x00, 0x18, 0x60, 0x00, 0x00, 0x50, 0x02, 0x00, 0x00, 0x68, 0x60, 0x00, 0x00,
        0x50,
    ]);
    img.extend(std::iter::repeat_n(0x40u8, 64));
    // The decompressor's code holds the magic as a constant: not a frame.
    img.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0xde, 0xad, 0xbe, 0xef]);
    img.extend((0..4000u32).map(|i| (i * 7 % 251) as u8));
    let mut kernel: Vec<u8> = (0..6000u32).map(|i| (i * 11 % 233) as u8).collect();
    kernel.extend_from_slice(
        b"Linux version 6.99.0-s390x-test (debian-kernel@lists.debian.org) #1\0",
    );
    kernel.extend_from_slice(btf);
    kernel.extend((0..2000u32).map(|i| (i * 5 % 229) as u8));
    img.extend(zstd::encode_all(&kernel[..], 3).unwrap());
    img.extend((0..512u32).map(|i| (i * 3 % 239) as u8));
    img
}

#[test]
fn s390x_images_are_read_through_their_compressed_payload() {
    let dir = tempfile::tempdir().unwrap();
    let btf = std::fs::read(fixture("core_all_kinds.bpfeb.btf")).unwrap();
    let image = dir.path().join("vmlinuz-6.99.0-s390x-test");
    std::fs::write(&image, s390x_image(&btf)).unwrap();
    let src = coretool::source::load(Some(&image), None).unwrap();
    assert!(
        src.describe()
            .starts_with("s390x image (zstd) > raw BTF at offset 0x"),
        "{}",
        src.describe()
    );
    assert_eq!(src.release.as_deref(), Some("6.99.0-s390x-test"));
    assert_eq!(src.btf.raw_bytes(), &btf[..]);
    // compat names it: s390x, big-endian; the big-endian object loads, the little-endian one
    // cannot run there.
    let out = compat(&[
        "--json",
        &fixture("core_all_kinds.bpfeb.o"),
        &fixture("core_all_kinds.bpf.o"),
        "--kernels",
        &image.display().to_string(),
    ]);
    let recs = records(&out);
    assert_eq!(recs.len(), 2, "{}", stderr(&out));
    for r in &recs {
        assert_eq!(r["kernel"]["arch"], "s390x", "{r}");
        assert_eq!(r["kernel"]["endian"], "big", "{r}");
        assert_eq!(r["kernel"]["release"], "6.99.0-s390x-test", "{r}");
    }
    assert_eq!(recs[0]["verdict"], "loads", "{}", recs[0]);
    assert_eq!(recs[1]["verdict"], "incompatible", "{}", recs[1]);
    // The markdown summary keeps the whole reason in its detail column.
    let md = compat(&[
        "--format",
        "markdown",
        &fixture("core_all_kinds.bpf.o"),
        "--kernels",
        &image.display().to_string(),
    ]);
    assert!(
        stdout(&md).contains(
            "| :warning: incompatible | the object is little-endian, the kernel big-endian ("
        ),
        "{}",
        stdout(&md)
    );
    // An s390x image whose payloads hold no BTF says so.
    let mut nobtf = s390x_image(b"no btf here");
    std::fs::write(&image, &nobtf).unwrap();
    let err = coretool::source::load(Some(&image), None).err().unwrap();
    assert!(
        err.to_string()
            .contains("s390x image: none of the 2 compressed payload candidates in it holds BTF"),
        "{err}"
    );
    nobtf.truncate(100);
    std::fs::write(&image, &nobtf).unwrap();
    assert!(coretool::source::load(Some(&image), None).is_err());
}

#[test]
fn btf_output_json_names_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let btf = std::fs::read(fixture("core_all_kinds.bpfeb.btf")).unwrap();
    let image = dir.path().join("vmlinuz-6.99.0-s390x-test");
    std::fs::write(&image, s390x_image(&btf)).unwrap();
    let out_path = dir.path().join("k.btf");
    let out = common::bin()
        .args(["btf", "--btf"])
        .arg(&image)
        .arg("-o")
        .arg(&out_path)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema"], "coretool.btf-output/v1");
    assert_eq!(doc["bytes"], btf.len());
    assert_eq!(doc["kernel"]["arch"], "s390x");
    assert_eq!(doc["kernel"]["endian"], "big");
    assert_eq!(doc["kernel"]["release"], "6.99.0-s390x-test");
    assert!(doc["kernel"]["format"]
        .as_str()
        .unwrap()
        .starts_with("s390x image (zstd) > raw BTF at offset 0x"));
    assert_eq!(std::fs::read(&out_path).unwrap(), btf);
}

/// A raw BTF source is cached as the proof that it was checked (its length and CRC-32), not
/// as a copy: rewritten in place with the same size and modification time into BTF with a
/// reference cycle, it is checked again and refused, never trusted.
#[test]
fn a_raw_source_rewritten_in_place_is_checked_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache").display().to_string();
    let good = std::fs::read(fixture("core_all_kinds.btf")).unwrap();
    let bad = std::fs::read(fixture("bad-input/cycle-typedef-in-core_all_kinds.btf")).unwrap();
    assert_eq!(good.len(), bad.len(), "the fixtures must have one size");
    let k = dir.path().join("k.btf");
    std::fs::write(&k, &good).unwrap();
    let mtime = std::fs::metadata(&k).unwrap().modified().unwrap();
    let ks = k.display().to_string();
    let obj = fixture("core_all_kinds.bpf.o");
    let run = || {
        common::bin()
            .args([
                "-v",
                "compat",
                "--json",
                "--cache",
                &cache,
                &obj,
                "--kernels",
                &ks,
            ])
            .output()
            .unwrap()
    };
    let first = run();
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(stderr(&first).contains("0 read from the cache, 1 checked and stored"));
    let hit = run();
    assert!(
        stderr(&hit).contains("1 read from the cache, 0 checked"),
        "{}",
        stderr(&hit)
    );
    // Same inode, size and mtime: the same cache key.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&k)
        .and_then(|mut f| {
            f.write_all(&bad)?;
            f.set_modified(mtime)
        })
        .unwrap();
    let after = run();
    let recs = records(&after);
    assert_eq!(recs[0]["verdict"], "unreadable", "{}", recs[0]);
    assert!(
        recs[0]["error"].as_str().unwrap().contains("cycle"),
        "{}",
        recs[0]
    );
    assert!(
        stderr(&after).contains("0 read from the cache"),
        "{}",
        stderr(&after)
    );
}

/// The CI fleet (amd64 5.10, 6.1, 6.12 and one kernel each of arm64, ppc64el, s390x and
/// riscv64): compat's relocations, computed offline with one libbpf BTF and one candidate
/// index per kernel, equal those of libbpf's own `bpf_object__prepare` (`dry-run` with the
/// libbpf engine) on every kernel, for the bundled probe and the all-kinds fixture. The whole
/// Debian fleet is checked the same way by `cargo xtask compat-parity` (bench/compat.sh).
#[test]
fn relocations_equal_libbpf_on_every_architecture_of_the_ci_fleet() {
    require_root!("the libbpf engine needs bpf()");
    let fleet = common::fleet_ci();
    let btfs: Vec<PathBuf> = walk_btf(&fleet.join("debian"));
    let arches: std::collections::BTreeSet<String> = btfs
        .iter()
        .filter_map(|p| p.parent()?.file_name()?.to_str().map(str::to_owned))
        .collect();
    require!(
        ["amd64", "arm64", "ppc64el", "riscv64", "s390x"]
            .iter()
            .all(|a| arches.contains(*a)),
        "the CI fleet in {} lacks an architecture (has {arches:?}; run scripts/fetch-fleet.sh \
         --subset ci --dest {})",
        fleet.display(),
        fleet.display()
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let objects = [
        root.join("probes/prebuilt/process_monitor.bpf.o"),
        PathBuf::from(fixture("core_all_kinds.bpf.o")),
    ];
    let out = common::bin()
        .arg("compat")
        .args(&objects)
        .arg("--kernels")
        .arg(fleet.join("debian"))
        .args(["--json", "--no-cache"])
        .output()
        .unwrap();
    assert_ne!(code(&out), 2, "{}", stderr(&out));
    let recs = records(&out);
    assert_eq!(recs.len(), objects.len() * btfs.len());
    let mut compared = 0;
    for obj in &objects {
        let mut cmd = common::bin();
        cmd.arg("dry-run").arg(obj).arg("--json");
        for b in &btfs {
            cmd.arg("--btf").arg(b);
        }
        let dry = cmd.output().unwrap();
        let doc: Value = serde_json::from_slice(&dry.stdout).expect("dry-run JSON");
        assert_eq!(doc["mode"], "libbpf");
        for t in doc["targets"].as_array().unwrap() {
            let rec = recs
                .iter()
                .find(|r| {
                    r["object"] == obj.display().to_string().as_str()
                        && r["kernel"]["source"] == t["source"]
                })
                .unwrap_or_else(|| panic!("no compat record for {}", t["source"]));
            assert_ne!(rec["verdict"], "unreadable", "{rec}");
            assert_eq!(
                rec["relocations"],
                t["relocations"],
                "{} on {}",
                obj.display(),
                t["source"]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, objects.len() * btfs.len());
}

/// Every `*.btf` under `dir`, sorted.
fn walk_btf(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "btf") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// An object built for x86 (the bundled probe reads `pt_regs.di` through `PT_REGS_PARM1`) is
/// `incompatible` with the CI fleet's arm64, ppc64le and riscv64 kernels, saying why, and loads
/// on the amd64 ones; the s390x kernel is the other byte order.
#[test]
fn an_object_built_for_another_architecture_is_incompatible() {
    let fleet = common::fleet_ci().join("debian");
    require!(
        walk_btf(&fleet).len() >= 7,
        "no CI fleet in {} (run scripts/fetch-fleet.sh --subset ci --dest {})",
        fleet.display(),
        common::fleet_ci().display()
    );
    let probe =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probes/prebuilt/process_monitor.bpf.o");
    let out = compat(&[
        "--json",
        &probe.display().to_string(),
        "--kernels",
        &fleet.display().to_string(),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    for r in records(&out) {
        let arch = r["kernel"]["arch"].as_str().unwrap().to_owned();
        let reason = r["reason"].as_str().unwrap_or_default();
        match arch.as_str() {
            "x86_64" => assert_eq!(r["verdict"], "loads-guarded-poison", "{r}"),
            "s390x" => assert!(reason.contains("the kernel big-endian"), "{r}"),
            other => {
                assert_eq!(r["verdict"], "incompatible", "{r}");
                assert_eq!(
                    reason,
                    format!(
                        "the object is built for x86_64 (relocation #0 struct pt_regs.di at \
                         process_monitor.bpf.c:254), the kernel is {other}"
                    )
                );
                // The failing relocation is still named.
                assert_eq!(r["failures"][0]["accessor"], "struct pt_regs.di", "{r}");
            }
        }
    }
}
