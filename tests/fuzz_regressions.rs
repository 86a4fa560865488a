//! Replays what the fuzzers found, and their seeds, through the fuzz targets' own code.
//!
//! `tests/fixtures/fuzz/<target>/` holds each crash, hang or runaway allocation a fuzz target
//! found, minimised (see `tests/fixtures/fuzz/README.md` for what each one was);
//! `fuzz/seeds/<target>/` holds the seed corpora. The target bodies live in
//! `fuzz/src/lib.rs`, compiled here as a module, so plain `cargo test` (no nightly, no
//! libFuzzer) checks that none of these inputs panics, overflows the stack or takes long.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;
use std::time::{Duration, Instant};

use coretool::btf::{cdecl, Btf};

/// Generous for a debug build: the fuzzer's own per-input timeout is 10 s on a release build.
const SLOW: Duration = Duration::from_secs(20);

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("tests/fixtures/fuzz").join(target),
        root.join("fuzz/seeds").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no inputs for fuzz target {target}");
    out
}

fn replay(target: &str, run: fn(&[u8])) {
    for (name, data) in inputs(target) {
        let start = Instant::now();
        run(&data);
        let took = start.elapsed();
        assert!(took < SLOW, "{name}: took {took:?}");
    }
}

/// One test per fuzz target, named after it.
macro_rules! replay_tests {
    ($($target:ident),*) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), targets::$target);
            }
        )*
    };
}

replay_tests!(
    btf,
    btf_ext,
    object,
    source,
    core_spec,
    vmlinux_plan,
    check_parsers,
    libbpf_log
);

/// A function prototype whose parameters point back at it: C declarations recursed without
/// end (stack overflow in `btf --layout`). Such a cycle describes no C type, and libbpf's
/// `btf_dump` recurses on it without end too: the parser now refuses it.
#[test]
fn cdecl_proto_cycle_is_refused() {
    let path = crate::common::fixtures().join("fuzz/btf/cdecl-proto-cycle.btf");
    match Btf::parse(&std::fs::read(path).unwrap()) {
        Err(coretool::btf::BtfError::TypeCycle { ids, .. }) => assert_eq!(ids, [1, 2]),
        other => panic!("{other:?}"),
    }
}

/// What stays of that fix: prototypes whose parameters are pointers to prototypes with two
/// parameters each, 40 deep, are acyclic but name 2^40 types when spelled out. One
/// declaration still visits a bounded number of types and ends in `...`.
#[test]
fn cdecl_of_a_doubling_prototype_chain_is_cut_short() {
    const DEPTH: u32 = 40;
    let (fp, ptr) = ((13u32 << 24), (2u32 << 24));
    // [1] int, then per level k: [2k] FUNC_PROTO int (p, p), [2k+1] PTR -> [2k]
    let mut words = vec![1, 1 << 24, 4, 32];
    for k in 1..=DEPTH {
        if k == 1 {
            words.extend([0, fp, 1]);
        } else {
            let p = 2 * (k - 1) + 1;
            words.extend([0, fp | 2, 1, 0, p, 0, p]);
        }
        words.extend([0, ptr, 2 * k]);
    }
    let btf = Btf::parse(&blob(None, &words, b"\0int\0")).unwrap();
    let decl = cdecl::declaration(&btf, 2 * DEPTH + 1, "f");
    assert!(decl.contains("(*f)(") && decl.contains("..."), "{decl}");
    assert!(decl.len() < 2 * cdecl::MAX_DECL_LEN, "{} bytes", decl.len());
}

/// The reference cycles of the bad-input suite (also fuzz seeds): refused by the parser,
/// whole or as an object's `.BTF`, naming the types of the cycle.
#[test]
fn reference_cycles_are_refused_by_the_parser() {
    let dir = crate::common::fixtures().join("bad-input");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.starts_with("cycle-") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let btf = if name.ends_with(".o") {
            let elf = coretool::elf::ElfInfo::parse(&data).unwrap();
            Btf::parse(elf.section(".BTF").unwrap())
        } else {
            Btf::parse(&data)
        };
        match btf {
            Err(e @ coretool::btf::BtfError::TypeCycle { .. }) => {
                let text = e.to_string();
                assert!(text.starts_with("BTF type cycle ["), "{name}: {text}");
            }
            other => panic!("{name}: {other:?}"),
        }
        seen += 1;
    }
    assert!(seen >= 7, "only {seen} cycle fixtures");
}

/// A little-endian BTF blob from header fields, type words and strings.
fn blob(type_len_claim: Option<u32>, words: &[u32], strs: &[u8]) -> Vec<u8> {
    let types: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut out = vec![0x9f, 0xeb, 1, 0];
    let type_len = type_len_claim.unwrap_or(types.len() as u32);
    for v in [24, 0, type_len, types.len() as u32, strs.len() as u32] {
        out.extend(v.to_le_bytes());
    }
    out.extend(types);
    out.extend(strs);
    out
}

/// Counts the input claims are checked against the bytes before anything is allocated or
/// looped over: a type section of 4 GiB, a struct of 16 million members, a `.BTF.ext` block
/// of 4 billion records, each in a blob of a few dozen bytes.
#[test]
fn claimed_sizes_are_checked_before_use() {
    use coretool::btf::BtfError;
    use coretool::reloc::btf_ext::{BtfExt, BtfExtError};
    let huge_types = blob(Some(0xffff_fff0), &[], b"\0");
    assert!(matches!(
        Btf::parse(&huge_types),
        Err(BtfError::SectionOutOfBounds { .. })
    ));
    // [1] STRUCT with vlen 0xffffff and no member words behind it.
    let huge_struct = blob(None, &[0, (4 << 24) | 0xff_ffff, 8], b"\0");
    assert!(matches!(
        Btf::parse(&huge_struct),
        Err(BtfError::TruncatedType { id: 1, .. })
    ));
    // .BTF.ext whose func_info block claims u32::MAX records of 8 bytes.
    let btf = Btf::parse(&blob(None, &[], b"\0")).unwrap();
    let mut ext = vec![0x9f, 0xeb, 1, 0];
    for v in [32u32, 0, 16, 16, 0, 0, 0] {
        ext.extend(v.to_le_bytes());
    }
    for v in [8u32, 0, u32::MAX, 0] {
        ext.extend(v.to_le_bytes());
    }
    assert!(matches!(
        BtfExt::parse(&ext, &btf),
        Err(BtfExtError::TruncatedBlock {
            count: u32::MAX,
            ..
        })
    ));
}
