//! pahole's layout text for a [`Layout`] the library computed: `/* offset size */` after each
//! member, holes and cacheline boundaries as comments, a summary at the end.

use std::io::Write;

use coretool::btf::layout::{Item, Layout, CACHELINE};

/// Write one layout, blank lines between sections as pahole writes them.
pub fn write(out: &mut impl Write, l: &Layout) -> std::io::Result<()> {
    let mut buf = Vec::new();
    write_layout_lines(&mut buf, l)?;
    // Adjacent holes each ask for a blank line around them: keep one.
    let text = String::from_utf8_lossy(&buf);
    let mut blank = false;
    for line in text.lines() {
        if line.is_empty() && blank {
            continue;
        }
        blank = line.is_empty();
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn write_layout_lines(w: &mut impl Write, l: &Layout) -> std::io::Result<()> {
    let name = if l.name.is_empty() { "<anon>" } else { &l.name };
    writeln!(w, "{} {} {{", l.kind.lower_name(), name)?;
    let width = l
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Member { decl, .. } => Some(decl.len() + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        .clamp(40, 64);
    for item in &l.items {
        match item {
            Item::Member {
                decl,
                bit_offset,
                size,
                bitfield_size,
                ..
            } => {
                let d = format!("{decl};");
                if *bitfield_size > 0 {
                    writeln!(
                        w,
                        "\t{d:<width$} /* {:5}:{:2} {:4} */",
                        bit_offset / 8,
                        bit_offset % 8,
                        size
                    )?;
                } else {
                    writeln!(w, "\t{d:<width$} /* {:5} {:4} */", bit_offset / 8, size)?;
                }
            }
            Item::Hole { bytes, .. } => {
                writeln!(w, "\n\t/* XXX {bytes} byte{} hole */\n", plural(*bytes))?
            }
            Item::BitHole { bits, .. } => {
                writeln!(w, "\n\t/* XXX {bits} bit{} hole */\n", plural(*bits))?
            }
            Item::Cacheline { line } => writeln!(
                w,
                "\t/* --- cacheline {line} boundary ({} bytes) --- */",
                line * CACHELINE
            )?,
        }
    }
    let s = &l.summary;
    writeln!(
        w,
        "\n\t/* size: {}, cachelines: {}, members: {} */",
        s.size, s.cachelines, s.members
    )?;
    if s.holes > 0 {
        writeln!(
            w,
            "\t/* sum members: {}, holes: {}, sum holes: {} */",
            s.sum_members, s.holes, s.sum_holes
        )?;
    }
    if s.bitfield_bits > 0 {
        writeln!(
            w,
            "\t/* sum bitfield members: {} bits, bit holes: {}, sum bit holes: {} bits */",
            s.bitfield_bits, s.bit_holes, s.sum_bit_holes
        )?;
    }
    if s.padding > 0 {
        writeln!(w, "\t/* padding: {} */", s.padding)?;
    }
    writeln!(w, "}};")
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
