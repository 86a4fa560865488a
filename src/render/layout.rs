//! pahole's layout text for a [`Layout`] the library computed: `/* offset size */` after each
//! member (`/* offset:bit size */` for bitfields), anonymous structs and unions inline, holes,
//! paddings and cacheline boundaries as comments, the summary at the end, with pahole 1.24's
//! wording. Columns are coretool's own (pahole pads type names and member names separately).

use std::io::Write;

use coretool::btf::layout::{Item, Layout, Summary, CACHELINE};

/// Where the offset comment starts, counted from the first tab (pahole: type and name
/// columns of 26 and 23 characters).
const COMMENT_COLUMN: usize = 49;

/// Write one layout, blank lines between sections as pahole writes them.
pub fn write(out: &mut impl Write, l: &Layout) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    write_layout_lines(&mut buf, l)?;
    // Adjacent holes each ask for a blank line around them: keep one.
    let mut blank = false;
    for line in buf.split_inclusive(|&b| b == b'\n') {
        let is_blank = line == b"\n";
        if !(is_blank && blank) {
            out.write_all(line)?;
        }
        blank = is_blank;
    }
    Ok(())
}

/// Indentation for items at `depth`: pahole stops indenting at 16 tabs.
fn tabs(depth: u32) -> &'static str {
    const TABS: &str = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";
    &TABS[..(depth as usize + 1).min(TABS.len())]
}

fn write_tabs(w: &mut impl Write, depth: u32) -> std::io::Result<()> {
    w.write_all(tabs(depth).as_bytes())
}

/// `text;`, padded so the comment after it lines up at this depth, then the comment.
fn write_commented(
    w: &mut impl Write,
    depth: u32,
    text: &str,
    comment: std::fmt::Arguments<'_>,
) -> std::io::Result<()> {
    write_tabs(w, depth)?;
    let width = COMMENT_COLUMN.saturating_sub(8 * depth as usize);
    let pad = width.saturating_sub(text.len() + 1);
    writeln!(w, "{text};{:pad$} {comment}", "")
}

/// `/* offset size */`, or `/* offset:bit size */` for a bitfield.
struct OffsetComment {
    offset: u64,
    bitfield: Option<u32>,
    size: u64,
}

impl std::fmt::Display for OffsetComment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (offset, size) = (self.offset, self.size);
        match self.bitfield {
            Some(bit) => write!(f, "/* {offset:5}:{bit:2} {size:2} */"),
            None => write!(f, "/* {offset:5} {size:5} */"),
        }
    }
}

fn write_layout_lines(w: &mut impl Write, l: &Layout) -> std::io::Result<()> {
    let kind = l.kind.lower_name();
    if l.name.is_empty() {
        writeln!(w, "{kind} {{")?;
    } else {
        writeln!(w, "{kind} {} {{", l.name)?;
    }
    for item in &l.items {
        write_item(w, item)?;
    }
    if let Some(s) = &l.summary {
        write_summary(w, s, 0)?;
    }
    let mut close = String::from("}");
    if l.packed {
        close.push_str(" __attribute__((__packed__))");
    }
    if l.aligned != 0 {
        close.push_str(&format!(" __attribute__((__aligned__({})))", l.aligned));
    }
    writeln!(w, "{close};")
}

fn write_item(w: &mut impl Write, item: &Item) -> std::io::Result<()> {
    let t = tabs(item.depth());
    match item {
        Item::Member {
            depth,
            decl,
            offset,
            bitfield_offset,
            size,
            bitfield_size,
            ..
        } => {
            let c = OffsetComment {
                offset: *offset,
                bitfield: (*bitfield_size > 0).then_some(*bitfield_offset),
                size: *size,
            };
            write_commented(w, *depth, decl, format_args!("{c}"))
        }
        Item::Open { head, .. } => writeln!(w, "{t}{head}"),
        Item::Close {
            depth,
            name,
            dims,
            name_first,
            offset,
            size,
            packed,
            type_aligned,
            aligned,
            bitfield_size,
            bitfield_offset,
        } => {
            let mut close = String::from("}");
            if *packed {
                close.push_str(" __attribute__((__packed__))");
            }
            if *name_first && !name.is_empty() {
                close.push(' ');
                close.push_str(name);
            }
            if *type_aligned != 0 {
                close.push_str(&format!(" __attribute__((__aligned__({type_aligned})))"));
            }
            close.push_str(dims);
            if !*name_first && !name.is_empty() {
                close.push(' ');
                close.push_str(name);
            }
            if *bitfield_size != 0 {
                close.push_str(&format!(":{bitfield_size}"));
            }
            if *aligned != 0 {
                close.push_str(&format!(" __attribute__((__aligned__({aligned})))"));
            }
            let c = OffsetComment {
                offset: *offset,
                bitfield: (*bitfield_size > 0).then_some(*bitfield_offset),
                size: *size,
            };
            write_commented(w, *depth, &close, format_args!("{c}"))
        }
        Item::Hole { bytes, .. } => writeln!(
            w,
            "\n{t}/* XXX {bytes} byte{} hole, try to pack */\n",
            plural(*bytes)
        ),
        Item::BitHole { bits, .. } => writeln!(
            w,
            "\n{t}/* XXX {bits} bit{} hole, try to pack */\n",
            plural(*bits)
        ),
        Item::FillBits {
            type_name,
            bits,
            force,
            ..
        } => {
            if *force {
                writeln!(w, "\n{t}/* Force alignment to the next boundary: */")?;
            }
            writeln!(w, "{t}{type_name} :{bits};\n")
        }
        Item::Combined { next, .. } => writeln!(
            w,
            "\n{t}/* Bitfield combined with {} fields */\n",
            if *next { "next" } else { "previous" }
        ),
        Item::StructPadding { bytes, .. } => writeln!(
            w,
            "\n{t}/* XXX last struct has {bytes} byte{} of padding */\n",
            plural(*bytes)
        ),
        Item::Cacheline { line, ago, .. } => {
            let at = line * CACHELINE;
            if *ago == 0 {
                writeln!(w, "{t}/* --- cacheline {line} boundary ({at} bytes) --- */")
            } else {
                let s = if *ago > 1 { "s" } else { "" };
                writeln!(
                    w,
                    "{t}/* --- cacheline {line} boundary ({at} bytes) was {ago} byte{s} ago --- */"
                )
            }
        }
        Item::Enumerator { name, value, .. } => writeln!(w, "{t}{name} = {value},"),
        Item::NestedSummary { depth, summary } => write_summary(w, summary, *depth),
        Item::Truncated { .. } => writeln!(w, "{t}/* ... nested too deep or too long: cut */"),
    }
}

fn write_summary(w: &mut impl Write, s: &Summary, depth: u32) -> std::io::Result<()> {
    let t = tabs(depth);
    writeln!(
        w,
        "\n{t}/* size: {}, cachelines: {}, members: {} */",
        s.size, s.cachelines, s.members
    )?;
    if s.sum_holes > 0 || s.sum_bit_holes > 0 {
        if s.sum_members > 0 {
            write!(w, "{t}/* sum members: {}", s.sum_members)?;
            if s.sum_holes > 0 {
                write!(w, ", holes: {}, sum holes: {}", s.holes, s.sum_holes)?;
            }
            writeln!(w, " */")?;
        }
        if s.bitfield_bits > 0 {
            write!(w, "{t}/* sum bitfield members: {} bits", s.bitfield_bits)?;
            if s.sum_bit_holes > 0 {
                write!(
                    w,
                    ", bit holes: {}, sum bit holes: {} bits",
                    s.bit_holes, s.sum_bit_holes
                )?;
            } else {
                write!(w, " ({} bytes)", s.bitfield_bits / 8)?;
            }
            writeln!(w, " */")?;
        }
    }
    if s.padding > 0 {
        writeln!(w, "{t}/* padding: {} */", s.padding)?;
    }
    if s.paddings > 0 {
        writeln!(
            w,
            "{t}/* paddings: {}, sum paddings: {} */",
            s.paddings, s.sum_paddings
        )?;
    }
    if s.bit_padding > 0 {
        writeln!(w, "{t}/* bit_padding: {} bits */", s.bit_padding)?;
    }
    if s.forced_alignments > 0 {
        write!(w, "{t}/* forced alignments: {}", s.forced_alignments)?;
        if s.forced_holes > 0 {
            write!(
                w,
                ", forced holes: {}, sum forced holes: {}",
                s.forced_holes, s.sum_forced_holes
            )?;
        }
        writeln!(w, " */")?;
    }
    if s.last_cacheline != 0 {
        writeln!(w, "{t}/* last cacheline: {} bytes */", s.last_cacheline)?;
    }
    if s.unaccounted_bits != 0 && s.members != 0 {
        writeln!(
            w,
            "\n{t}/* BRAIN FART ALERT! {} bytes != {} (member bytes) + {} (member bits) + {} (byte holes) + {} (bit holes), diff = {} bits */",
            s.size, s.sum_members, s.bitfield_bits, s.sum_holes, s.sum_bit_holes, s.unaccounted_bits
        )?;
    }
    Ok(())
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
