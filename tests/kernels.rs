//! `coretool btf --btf <vmlinuz>` against bpftool (raw dumps) and pahole (layouts) on real kernels.
//!
//! For every kernel that `scripts/fetch-kernels.sh` unpacked into the cache
//! (`$CORETOOL_KERNEL_CACHE`, default `~/.cache/coretool/kernels`), the vmlinuz is unpacked a
//! second, independent way (as the kernel's `scripts/extract-vmlinux` does: find a compression
//! magic, decompress with the system's `xz`/`zstd`/`gzip`/`lz4` tools, keep what is an ELF),
//! bpftool dumps that ELF's `.BTF` in raw format, and coretool's dump of the vmlinuz must be
//! the same bytes. The running kernel's `/sys/kernel/btf/vmlinux` is compared too.
//!
//! Without a cache, bpftool or the decompressors, the tests skip loudly (and fail under
//! `CORETOOL_REQUIRE_ALL=1`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use coretool::source::{self, Container};

use crate::common::{cached_kernels, no_cached_kernels, BIN as CORETOOL};

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Decompress `input` with a system tool, ignoring its complaints about trailing data (a
/// kernel image carries the rest of the image after the payload).
fn decompress_with(tool: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool)
        .args(["-dc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        // The tool may stop reading at the end of its stream: a broken pipe is expected.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out.stdout
}

/// The vmlinux ELF inside a vmlinuz, found the way `scripts/extract-vmlinux` finds it: try
/// each compression magic at each place it occurs, keep the first output that is an ELF.
fn extract_vmlinux(vmlinuz: &[u8]) -> Option<Vec<u8>> {
    const MAGICS: &[(&[u8], &str)] = &[
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], "xz"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
        (&[0x1f, 0x8b, 0x08], "gzip"),
        (&[0x02, 0x21, 0x4c, 0x18], "lz4"),
    ];
    for &(magic, tool) in MAGICS {
        let hits = vmlinuz
            .windows(magic.len())
            .enumerate()
            .filter(|(_, w)| *w == magic);
        for (off, _) in hits.take(8) {
            let out = decompress_with(tool, &vmlinuz[off..]);
            if out.starts_with(b"\x7fELF") {
                return Some(out);
            }
        }
    }
    None
}

fn bpftool_raw(file: &Path) -> Vec<u8> {
    run(Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(file)
        .args(["format", "raw"]))
}

fn coretool_raw(src: &Path) -> Vec<u8> {
    run(Command::new(CORETOOL).arg("btf").arg("--btf").arg(src))
}

/// First differing line, for a readable failure instead of two 50 MB strings.
fn assert_same_dump(what: &str, want: &[u8], got: &[u8]) {
    if want == got {
        return;
    }
    let (w, g) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    let (line, (wl, gl)) = w
        .lines()
        .zip(g.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .unwrap_or((w.lines().count().min(g.lines().count()), ("<end>", "<end>")));
    panic!(
        "{what}: coretool differs from bpftool at line {}:\n  bpftool:  {wl}\n  coretool: {gl}\n({} vs {} lines)",
        line + 1,
        w.lines().count(),
        g.lines().count()
    );
}

#[test]
fn vmlinuz_btf_matches_bpftool() {
    let kernels = cached_kernels();
    require!(!kernels.is_empty(), "{}", no_cached_kernels());
    require_tools!("bpftool", "xz", "zstd", "gzip");
    let tmp = tempfile::tempdir().unwrap();
    for k in &kernels {
        let (release, vmlinuz) = (&k.release, &k.vmlinuz);
        // Our reader: the bzImage header names the release, the payload holds an ELF with .BTF.
        let src = source::load(Some(vmlinuz), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            src.release.as_deref(),
            Some(release.as_str()),
            "{}",
            vmlinuz.display()
        );
        assert!(
            matches!(src.containers.first(), Some(Container::KernelImage { .. })),
            "{}: read as {}",
            vmlinuz.display(),
            src.describe()
        );
        assert!(
            src.btf.type_count() > 10_000,
            "{release}: only {} types",
            src.btf.type_count()
        );

        // bpftool's view, from an ELF we did not extract ourselves.
        let image = std::fs::read(vmlinuz).unwrap();
        let elf = extract_vmlinux(&image)
            .unwrap_or_else(|| panic!("{release}: no ELF found in {}", vmlinuz.display()));
        let elf_path = tmp.path().join(format!("vmlinux-{release}"));
        std::fs::write(&elf_path, &elf).unwrap();
        drop(elf);
        let want = bpftool_raw(&elf_path);

        let got = coretool_raw(vmlinuz);
        assert_same_dump(&format!("{release} ({})", src.describe()), &want, &got);

        // The raw .BTF our reader extracted is a BTF source of its own, and bpftool agrees on it.
        let btf_path = tmp.path().join(format!("{release}.btf"));
        std::fs::write(&btf_path, src.btf.raw_bytes()).unwrap();
        assert_same_dump(
            &format!("{release} raw .btf via bpftool"),
            &want,
            &bpftool_raw(&btf_path),
        );
        assert_same_dump(
            &format!("{release} raw .btf via coretool"),
            &want,
            &coretool_raw(&btf_path),
        );
        std::fs::remove_file(&elf_path).unwrap();
        eprintln!(
            "{release}: {} types, {} lines identical to bpftool ({})",
            src.btf.type_count(),
            want.iter().filter(|&&b| b == b'\n').count(),
            src.describe()
        );
    }
}

#[test]
fn running_kernel_btf_matches_bpftool() {
    let sysfs = Path::new(source::SYSFS_VMLINUX);
    require!(
        sysfs.exists(),
        "{} missing (kernel without CONFIG_DEBUG_INFO_BTF)",
        sysfs.display()
    );
    require_tools!("bpftool");
    let want = bpftool_raw(sysfs);
    let got = run(Command::new(CORETOOL).arg("btf"));
    assert_same_dump("running kernel", &want, &got);
}

/// `coretool btf --layout` against pahole 1.24 (`pahole -F btf FILE`) on every named struct and
/// union of the running kernel's BTF and of every cached Debian kernel's: member for member,
/// hole for hole, summary line for summary line, anonymous types expanded inline; and
/// `--expand` against `pahole -E`.
///
/// What is normalised, and why (docs/btf.md lists the same):
/// - blank lines are not compared, and whitespace is: runs of it inside a `/* ... */` comment
///   count as one space, in a declaration not at all (pahole pads type and member names into
///   two columns; coretool pads the declaration as a whole);
/// - `const` is not compared in declarations: pahole 1.24 moves the `const` of a const pointer
///   to the front and doubles it (`struct mm_struct *const mm` prints as
///   `const const struct mm_struct * mm`) and drops it on zero-length arrays;
/// - a pointer to an array, `T (*p)[N]`, is compared as `T *p`: pahole prints the pointer
///   without the array;
/// - with `--expand`, an array of function pointers `R (*p[N])(A)` is compared as pahole
///   writes it, `R (*p)(A)[N]`;
/// - a struct whose pahole output says `<ERROR` (a type pahole could not read, e.g. one behind
///   a BTF kind it does not know) is not compared;
/// - a name BTF defines twice matches when coretool prints one of its definitions that way.
#[test]
fn layouts_match_pahole_on_every_struct() {
    require_tools!("pahole");
    let tmp = tempfile::tempdir().unwrap();
    let mut kernels: Vec<(String, std::path::PathBuf)> = Vec::new();
    let sysfs = Path::new(source::SYSFS_VMLINUX);
    if sysfs.exists() {
        kernels.push(("running kernel".into(), sysfs.to_path_buf()));
    }
    for k in cached_kernels() {
        let src = source::load(Some(&k.vmlinuz), None).unwrap_or_else(|e| panic!("{e}"));
        let path = tmp.path().join(format!("{}.btf", k.release));
        std::fs::write(&path, src.btf.raw_bytes()).unwrap();
        kernels.push((k.release.clone(), path));
    }
    require!(
        kernels.len() == 1 + cached_kernels().len() && kernels.len() > 1,
        "{} and {}",
        sysfs.display(),
        no_cached_kernels()
    );
    let mut failures = Vec::new();
    for (what, path) in &kernels {
        let pahole = Command::new("pahole")
            .args(["-F", "btf"])
            .arg(path)
            .output()
            .unwrap();
        let theirs = String::from_utf8_lossy(&pahole.stdout);
        if !pahole.status.success() || theirs.is_empty() {
            crate::common::say(&format!(
                "{what}: pahole cannot read {}: {}",
                path.display(),
                String::from_utf8_lossy(&pahole.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            ));
            continue;
        }
        for (mode, pahole_flag, ours_flag) in
            [("", None, None), (" -E", Some("-E"), Some("--expand"))]
        {
            let theirs = match pahole_flag {
                None => theirs.clone(),
                Some(flag) => {
                    let o = Command::new("pahole")
                        .args(["-F", "btf", flag])
                        .arg(path)
                        .output()
                        .unwrap();
                    String::from_utf8_lossy(&o.stdout).into_owned().into()
                }
            };
            let ours = run(Command::new(CORETOOL)
                .args(["btf", "--layout"])
                .args(ours_flag)
                .arg("--btf")
                .arg(path));
            let r = pahole_compare(&theirs, &String::from_utf8_lossy(&ours));
            crate::common::say(&format!(
                "{what}: {} of {} structs/unions match pahole{mode} ({} pahole could not read)",
                r.matched, r.compared, r.unreadable
            ));
            for (kind, examples) in &r.differences {
                let line = format!(
                    "{what}{mode}: {} differ at `{kind}`, e.g. {}",
                    examples.len(),
                    examples[0]
                );
                crate::common::say(&line);
                failures.push(line);
            }
            assert!(r.compared > 1000, "{what}: only {} structs", r.compared);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(Default)]
struct PaholeComparison {
    compared: usize,
    matched: usize,
    unreadable: usize,
    /// First differing pahole line (digits as N) → "struct name: pahole `line` coretool `line`".
    differences: std::collections::BTreeMap<String, Vec<String>>,
}

fn pahole_compare(theirs: &str, ours: &str) -> PaholeComparison {
    let theirs = layout_blocks(theirs);
    let ours = layout_blocks(ours);
    let mut r = PaholeComparison::default();
    for (head, blocks) in &theirs {
        for block in blocks {
            if block.iter().any(|l| l.contains("<ERROR")) {
                r.unreadable += 1;
                continue;
            }
            r.compared += 1;
            let candidates = ours.get(head).map(Vec::as_slice).unwrap_or(&[]);
            if candidates.contains(block) {
                r.matched += 1;
                continue;
            }
            let empty = Vec::new();
            let mine = candidates.first().unwrap_or(&empty);
            let i = block
                .iter()
                .zip(mine)
                .position(|(a, b)| a != b)
                .unwrap_or(block.len().min(mine.len()));
            let end = "<end>".to_string();
            let (a, b) = (block.get(i).unwrap_or(&end), mine.get(i).unwrap_or(&end));
            let kind: String = a
                .rsplit('|')
                .next()
                .unwrap_or("")
                .chars()
                .map(|c| if c.is_ascii_digit() { 'N' } else { c })
                .collect();
            r.differences
                .entry(kind)
                .or_default()
                .push(format!("{head}: pahole `{a}` coretool `{b}`"));
        }
    }
    r
}

/// `struct name {` → the normalised lines of each definition printed under that header.
fn layout_blocks(text: &str) -> std::collections::HashMap<String, Vec<Vec<String>>> {
    let mut out: std::collections::HashMap<String, Vec<Vec<String>>> = Default::default();
    let mut cur: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        match &mut cur {
            None => {
                let is_head = (line.starts_with("struct ") || line.starts_with("union "))
                    && line.ends_with(" {")
                    && line.split(' ').count() == 3;
                if is_head {
                    cur = Some((line.to_owned(), Vec::new()));
                }
            }
            Some((_, lines)) => {
                if line.starts_with('}') {
                    lines.push(normalise_layout_line(line));
                    let (head, lines) = cur.take().unwrap();
                    out.entry(head).or_default().push(lines);
                } else if !line.trim().is_empty() {
                    lines.push(normalise_layout_line(line));
                }
            }
        }
    }
    out
}

/// `depth|declaration|comment` with the normalisations of
/// [`layouts_match_pahole_on_every_struct`].
fn normalise_layout_line(line: &str) -> String {
    let depth = line.len() - line.trim_start_matches('\t').len();
    let s = line.trim();
    let comment = |c: &str| c.split_whitespace().collect::<Vec<_>>().join(" ");
    let decl = |d: &str| {
        let joined: String = without_const(d).split_whitespace().collect();
        function_pointer_array_as_pahole(&pointer_to_array_as_pointer(&joined))
    };
    // With --expand, a declaration may start with pahole's `/* typedef a -> b */`.
    if s.starts_with("/*") && !s.starts_with("/* typedef ") {
        return format!("{depth}|{}", comment(s));
    }
    match s.rfind("/*") {
        Some(i) if s.ends_with("*/") => format!("{depth}|{}|{}", decl(&s[..i]), comment(&s[i..])),
        _ => format!("{depth}|{}", decl(s)),
    }
}

/// `d` without the identifier `const` (`*const p` → `* p`).
fn without_const(d: &str) -> String {
    let mut out = String::with_capacity(d.len());
    let mut word = String::new();
    for c in d.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if word != "const" {
            out.push_str(&word);
        }
        word.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// `R(*p[N])(A);` → `R(*p)(A)[N];` (whitespace already removed).
fn function_pointer_array_as_pahole(d: &str) -> String {
    let Some(start) = d.find("(*") else {
        return d.to_owned();
    };
    let name_end = start
        + 2
        + d[start + 2..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(d.len() - start - 2);
    let rest = &d[name_end..];
    let Some(dims_end) = rest.find(")(") else {
        return d.to_owned();
    };
    let dims = &rest[..dims_end];
    if dims.is_empty() || !dims.starts_with('[') {
        return d.to_owned();
    }
    let after = &rest[dims_end + 1..];
    let (args, tail) = match after.strip_suffix(';') {
        Some(a) => (a, ";"),
        None => (after, ""),
    };
    format!("{}){args}{dims}{tail}", &d[..name_end])
}

/// `T(*p)[N]...` → `T*p` (whitespace already removed).
fn pointer_to_array_as_pointer(d: &str) -> String {
    let Some(start) = d.find("(*") else {
        return d.to_owned();
    };
    let Some(close) = d[start..].find(")[").map(|c| start + c) else {
        return d.to_owned();
    };
    let name = &d[start + 2..close];
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return d.to_owned();
    }
    let mut rest = &d[close + 1..];
    while rest.starts_with('[') {
        match rest.find(']') {
            Some(e) => rest = &rest[e + 1..],
            None => return d.to_owned(),
        }
    }
    format!("{}*{name}{rest}", &d[..start])
}
