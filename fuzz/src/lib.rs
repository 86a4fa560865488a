//! The fuzz targets' bodies, one function per target (`fuzz_targets/<name>.rs` only wraps it),
//! so that `tests/fuzz_regressions.rs` replays crash inputs and seeds through exactly the code
//! the fuzzer ran.
//!
//! Every function only asserts what must hold for any input (no panic, no unbounded work); the
//! results are thrown away.

use std::path::Path;

use coretool::btf::{
    cdecl, essential_name, func_linkage_str, int_encoding_str, layout, var_linkage_str, Btf, Kind,
    Type,
};
use coretool::check::config::KernelConfig;
use coretool::check::OsRelease;
use coretool::dryrun::log;
use coretool::elf::ElfInfo;
use coretool::host::{mounts, userns, CapSet};
use coretool::reloc::access::CoreSpec;
use coretool::reloc::btf_ext::{BtfExt, CoreReloKind};
use coretool::reloc::{self, Object};
use coretool::{source, vmlinux};

/// The BTF of `tests/fixtures/core_all_kinds.bpf.o` (little-endian), for targets that fuzz
/// something else against a real BTF.
pub const FIXTURE_BTF: &[u8] = include_bytes!("../../tests/fixtures/core_all_kinds.btf");
/// The same program's big-endian BTF.
pub const FIXTURE_BTF_BE: &[u8] = include_bytes!("../../tests/fixtures/core_all_kinds.bpfeb.btf");

/// Every accessor the `btf` renderers (bpftool's raw format, JSON) read from one type, so the
/// fuzzer reaches the same library code the binary's renderers call.
fn read_type(btf: &Btf, t: &Type<'_>) {
    let _ = btf.str_bytes_at(t.name_off());
    let _ = (
        t.kind().upper_name(),
        t.kind().lower_name(),
        t.size(),
        t.vlen(),
    );
    match t.kind() {
        Kind::Int => {
            if let Some(i) = t.int() {
                let _ = int_encoding_str(i.encoding);
            }
        }
        Kind::Array => {
            let _ = t.array();
        }
        Kind::Struct | Kind::Union => {
            for m in t.members() {
                let _ = btf.str_bytes_at(m.name_off);
            }
        }
        Kind::Enum | Kind::Enum64 => {
            for v in t.enum_values() {
                let _ = btf.str_bytes_at(v.name_off);
                let _ = t.enum_value_display(&v);
            }
        }
        Kind::Func => {
            let _ = func_linkage_str(t.vlen());
        }
        Kind::FuncProto => {
            for p in t.params() {
                let _ = btf.str_bytes_at(p.name_off);
            }
        }
        Kind::Var => {
            let _ = var_linkage_str(t.var_linkage().unwrap_or(u32::MAX));
        }
        Kind::Datasec => {
            for v in t.secinfos() {
                if let Some(vt) = btf.type_by_id(v.type_id) {
                    let _ = btf.str_bytes_at(vt.name_off());
                }
            }
        }
        Kind::DeclTag => {
            let _ = t.decl_tag_component();
        }
        _ => {
            let _ = t.type_id();
        }
    }
}

/// What `coretool btf` reads from every type (the fields its raw and JSON renderers print,
/// layouts with their C declarations), plus the lookups other commands make.
pub fn walk_btf(btf: &Btf) {
    for t in btf.types() {
        read_type(btf, &t);
        if let Some(l) = layout::compute(btf, &t) {
            // Inline expansion of nested types is capped: hostile nesting must not make a
            // layout grow beyond that.
            assert!(l.items.len() <= layout::MAX_ITEMS);
        }
        let _ = cdecl::type_name(btf, t.id);
        let _ = btf.describe(t.id);
        let _ = btf.resolve_size(t.id);
        let _ = btf.skip_mods_and_typedefs(t.id);
        let _ = t.enum_values();
        let name = essential_name(btf.name_of(&t));
        let _ = btf.ids_by_name(name);
    }
    // Ids just past the end and far beyond it must be refused, not indexed.
    for id in [btf.type_count(), btf.type_count().wrapping_add(1), u32::MAX] {
        let _ = btf.describe(id);
        let _ = cdecl::type_name(btf, id);
    }
}

/// Split `data` into a length-prefixed head (`u16` little-endian length) and the rest; a head
/// longer than what remains takes everything.
pub fn split_u16(data: &[u8]) -> (&[u8], &[u8]) {
    if data.len() < 2 {
        return (data, &[]);
    }
    let n = u16::from_le_bytes([data[0], data[1]]) as usize;
    let rest = &data[2..];
    rest.split_at(n.min(rest.len()))
}

/// BTF parsing (`Btf::parse`, split BTF on a base) and everything `coretool btf` does with the
/// types: raw dump, JSON, layouts, C declarations, name lookups.
pub fn btf(data: &[u8]) {
    if let Ok(btf) = Btf::parse(data) {
        walk_btf(&btf);
    }
    // The same bytes as a module's split BTF on top of the fixture's base.
    let base = Btf::parse(FIXTURE_BTF).expect("fixture BTF parses");
    if let Ok(split) = Btf::parse_split(data, base) {
        walk_btf(&split);
    }
}

/// `.BTF.ext` parsing (func info, line info, CO-RE records) against a BTF, then what
/// `coretool relocs` derives from each CO-RE record: the access string, the decoded spec in
/// libbpf's notation, the source line.
///
/// Input: byte 0 picks the BTF (0: the little-endian fixture, 1: the big-endian one, else a
/// fuzzed BTF taken from a `u16`-length-prefixed head); the rest is `.BTF.ext`.
pub fn btf_ext(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (btf, ext) = match pick {
        0 => (Btf::parse(FIXTURE_BTF), rest),
        1 => (Btf::parse(FIXTURE_BTF_BE), rest),
        _ => {
            let (btf, ext) = split_u16(rest);
            (Btf::parse(btf), ext)
        }
    };
    let Ok(btf) = btf else {
        return;
    };
    let Ok(ext) = BtfExt::parse(ext, &btf) else {
        return;
    };
    for sec in &ext.core_relos {
        for r in &sec.records {
            let access = btf.str_at(r.access_str_off).unwrap_or("");
            if let Ok(spec) = CoreSpec::parse(&btf, r.type_id, access, r.kind) {
                let _ = spec.accessor_text(&btf);
                let _ = spec.offset_text();
                let _ = spec.raw_text();
            }
            let _ = btf.describe(r.type_id);
            if let Some(l) = ext.line_for(&sec.sec_name, r.insn_off) {
                let _ = (btf.str_at(l.file_name_off), btf.str_at(l.line_off));
            }
        }
    }
    let _ = ext.core_relo_count();
}

/// A whole BPF object: the ELF layer (sections, symbols, byte order), `.BTF`, `.BTF.ext`, the
/// decoding of every CO-RE record (as `coretool relocs` and `vmlinux --for` read it), and
/// dry-run's view of it (programs cut out of their sections, instructions decoded, fixups
/// assembled from an empty libbpf log).
pub fn object(data: &[u8]) {
    if let Ok(elf) = ElfInfo::parse(data) {
        let _ = elf.section(".BTF");
        for s in &elf.code_sections {
            let _ = elf.func_at(s, 0);
            let _ = elf.func_at(s, u64::MAX);
        }
    }
    if let Ok(obj) = Object::parse(Path::new("fuzz-input"), data.to_vec()) {
        for r in &obj.relos {
            let _ = r.accessor(&obj.btf);
            let _ = r.offset();
        }
        let _ = reloc::assemble(&obj, &reloc::Outcomes::default()).summary();
    }
}

/// BTF source detection and unwrapping (`--btf SRC`): raw BTF, ELF `.BTF`, bzImage, gzip/xz/
/// zstd/lz4 streams, BTFHub tar archives, nested. Decompression is capped at 64 MiB per layer
/// here so that the fuzzer's 256 MiB allocation limit flags real leaks, not the documented
/// 1 GiB limit.
pub fn source(data: &[u8]) {
    if let Ok(src) = source::from_bytes_limited(Path::new("fuzz-input"), data.to_vec(), 64 << 20) {
        let _ = src.describe();
        let _ = src.btf.type_count();
    }
}

/// CO-RE accessor decoding (`CoreSpec::parse`, libbpf's `bpf_core_parse_spec`) with a
/// fuzzer-chosen root type, relocation kind and access string, against the fixture BTFs or a
/// fuzzed one.
///
/// Input: byte 0 picks the BTF (bits 0-1: 0 little-endian fixture, 1 big-endian fixture, else
/// fuzzed) and the access string form (bit 7: numbers from bytes joined with `:`, else the
/// bytes as text); byte 1 is the relocation kind; bytes 2..6 the root id (little-endian;
/// reduced modulo the type count unless its top bit is set); byte 6 the access string length;
/// then the access string, then (for a fuzzed BTF) the BTF.
pub fn core_spec(data: &[u8]) {
    if data.len() < 7 {
        return;
    }
    let (mode, kind) = (data[0], CoreReloKind::from_raw(data[1] as u32));
    let root = u32::from_le_bytes(data[2..6].try_into().unwrap());
    let rest = &data[7..];
    let (access, rest) = rest.split_at((data[6] as usize).min(rest.len()));
    let btf = match mode & 3 {
        0 => Btf::parse(FIXTURE_BTF),
        1 => Btf::parse(FIXTURE_BTF_BE),
        _ => Btf::parse(rest),
    };
    let Ok(btf) = btf else {
        return;
    };
    let access = if mode & 0x80 != 0 {
        access
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(":")
    } else {
        String::from_utf8_lossy(access).into_owned()
    };
    let root = if root & 0x8000_0000 != 0 {
        root & 0x7fff_ffff
    } else {
        root % btf.type_count().max(1)
    };
    if let Ok(spec) = CoreSpec::parse(&btf, root, &access, kind) {
        let _ = spec.accessor_text(&btf);
        let _ = spec.offset_text();
        assert_eq!(spec.raw_text().is_empty(), kind.is_type_based());
    }
}

/// What `coretool vmlinux` decides before printing: the nesting check, bpftool's type order (rank, sort name,
/// disambiguation hash over reference chains), the kfunc list, and the `--for` matching of an
/// object's names against the kernel's.
///
/// Input: a `u16`-length-prefixed head is the kernel BTF, the rest the object's BTF (the
/// fixture when the rest does not parse).
pub fn vmlinux_plan(data: &[u8]) {
    let (kernel, obj) = split_u16(data);
    let Ok(kernel) = Btf::parse(kernel) else {
        return;
    };
    let _ = vmlinux::check_nesting(&kernel);
    let plan = vmlinux::full_plan(&kernel);
    assert!(plan.types.len() < kernel.type_count() as usize);
    let obj = Btf::parse(obj)
        .or_else(|_| Btf::parse(FIXTURE_BTF))
        .expect("fixture BTF parses");
    let _ = vmlinux::minimal_plan(&kernel, &obj, &[]);
    let first_name = kernel
        .types()
        .map(|t| kernel.name_of(&t))
        .find(|n| !n.is_empty());
    if let Some(name) = first_name {
        let _ = vmlinux::minimal_plan(&kernel, &obj, &[name]);
    }
}

/// check-btf's pure text parsers: the kernel config (`/proc/config.gz`, `/boot/config-*`),
/// the mount table (`/proc/mounts` and `mountinfo`), os-release, the `CapEff:` line of
/// `/proc/self/status` and a `uid_map`.
pub fn check_parsers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let cfg = KernelConfig::parse(&text);
    for name in [
        "CONFIG_DEBUG_INFO_BTF",
        "CONFIG_PAHOLE_VERSION",
        "CONFIG_BPF",
    ] {
        let _ = (cfg.describe(name), cfg.number(name), cfg.enabled(name));
    }
    for m in [mounts::parse_mounts(&text), mounts::parse_mountinfo(&text)] {
        let _ = mounts::targets_of(&m, "tracefs");
        let _ = mounts::tracefs_dir(&m);
    }
    let _ = OsRelease::parse(&text);
    let _ = CapSet::effective_from_status(&text).map(CapSet::names);
    let _ = userns::parse_id_map(&text);
}

/// dry-run's parser of libbpf's log (`dryrun::log`): every record, the specs in it, the
/// verifier's poisoned instruction, and the fixups assembled from the records for the
/// `core_all_kinds.bpf.o` fixture. Input: the log text.
pub fn libbpf_log(data: &[u8]) {
    static OBJECT: std::sync::OnceLock<Object> = std::sync::OnceLock::new();
    let obj = OBJECT.get_or_init(|| {
        let bytes = include_bytes!("../../tests/fixtures/core_all_kinds.bpf.o");
        Object::parse(Path::new("core_all_kinds.bpf.o"), bytes.to_vec())
            .expect("fixture object parses")
    });
    let text = String::from_utf8_lossy(data);
    let records = log::parse(&text);
    for r in &records {
        let _ = r.relocation();
        match r {
            log::Record::LocalSpec { spec, .. } | log::Record::Candidate { spec, .. } => {
                let _ = (
                    spec.accessor(),
                    spec.root(),
                    spec.bit_offset(),
                    spec.to_string(),
                );
            }
            log::Record::VerifierLog { lines, .. } => {
                let _ = log::verifier_poison(lines);
            }
            _ => {}
        }
    }
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let _ = log::verifier_poison(&lines);
    for l in &lines {
        let _ = log::parse_spec(l);
    }
    let _ = reloc::assemble(obj, &log::outcomes(&records)).summary();
}
