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

fn fixture(name: &str) -> Btf {
    let path = crate::common::fixtures().join("fuzz").join(name);
    Btf::parse(&std::fs::read(path).unwrap()).unwrap()
}

/// A function prototype whose parameters point back at it: C declarations recursed without
/// end (stack overflow in `btf --layout`). Now one declaration visits a bounded number of
/// types and ends in `...`.
#[test]
fn cdecl_proto_cycle_is_cut_short() {
    let btf = fixture("btf/cdecl-proto-cycle.btf");
    let decl = cdecl::declaration(&btf, 2, "f");
    assert!(decl.starts_with("... (*f)("), "{decl}");
    assert!(decl.len() < 2 * cdecl::MAX_DECL_LEN, "{} bytes", decl.len());
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
