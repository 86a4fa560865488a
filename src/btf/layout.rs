//! pahole-style struct/union layouts computed from BTF: each member's offset and size, holes,
//! bit holes, cacheline boundaries and trailing padding. Pure: the binary renders it
//! (`render::layout` for pahole's text, `render::btf_json` for JSON).

use super::cdecl::declaration;
use super::{Btf, Kind, Type};

pub const CACHELINE: u32 = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Member {
        name: String,
        /// C declaration of the member (`struct task_struct *real_parent`).
        decl: String,
        type_id: u32,
        /// Offset in bits from the start of the struct.
        bit_offset: u32,
        /// Size in bytes (of the storage unit for bitfields).
        size: u32,
        /// Bitfield width in bits, 0 when not a bitfield.
        bitfield_size: u32,
    },
    /// Whole bytes nobody uses.
    Hole { offset: u32, bytes: u32 },
    /// Bits nobody uses, between bitfields.
    BitHole { bit_offset: u32, bits: u32 },
    /// The next member starts in cacheline `line`.
    Cacheline { line: u32 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub size: u32,
    pub cachelines: u32,
    pub members: u32,
    /// Bytes used by non-bitfield members.
    pub sum_members: u64,
    pub holes: u32,
    pub sum_holes: u64,
    pub bitfield_bits: u64,
    pub bit_holes: u32,
    pub sum_bit_holes: u64,
    /// Unused bytes after the last member.
    pub padding: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub type_id: u32,
    pub kind: Kind,
    pub name: String,
    pub items: Vec<Item>,
    pub summary: Summary,
}

/// Compute the layout of a struct or union; `None` for other kinds.
pub fn compute(btf: &Btf, t: &Type<'_>) -> Option<Layout> {
    if !t.is_composite() {
        return None;
    }
    let size = t.size();
    let is_union = t.kind() == Kind::Union;
    let mut items = Vec::new();
    let mut s = Summary {
        size,
        cachelines: size.div_ceil(CACHELINE),
        members: t.vlen(),
        ..Summary::default()
    };
    let mut end_bits: u64 = 0; // furthest bit used so far
    let mut line = 0u32; // cacheline of the last member start
    for m in t.members() {
        let name = btf.str_at(m.name_off).unwrap_or("").to_owned();
        let msize = btf
            .resolve_size(m.type_id)
            .unwrap_or(0)
            .min(u32::MAX as u64) as u32;
        let width = if m.bitfield_size > 0 {
            m.bitfield_size as u64
        } else {
            msize as u64 * 8
        };
        let off = m.bit_offset as u64;
        if !is_union && off > end_bits {
            push_gap(&mut items, &mut s, end_bits, off);
        }
        let start_line = (off / 8 / CACHELINE as u64) as u32;
        if !is_union && start_line > line {
            items.push(Item::Cacheline { line: start_line });
            line = start_line;
        }
        if m.bitfield_size > 0 {
            s.bitfield_bits += m.bitfield_size as u64;
        } else {
            s.sum_members += msize as u64;
        }
        let decl = if m.bitfield_size > 0 {
            format!("{}:{}", declaration(btf, m.type_id, &name), m.bitfield_size)
        } else {
            declaration(btf, m.type_id, &name)
        };
        items.push(Item::Member {
            name,
            decl,
            type_id: m.type_id,
            bit_offset: m.bit_offset,
            size: msize,
            bitfield_size: m.bitfield_size,
        });
        end_bits = end_bits.max(off + width);
    }
    let end_bytes = end_bits.div_ceil(8);
    if (size as u64) > end_bytes {
        s.padding = (size as u64 - end_bytes) as u32;
    }
    Some(Layout {
        type_id: t.id,
        kind: t.kind(),
        name: btf.name_of(t).to_owned(),
        items,
        summary: s,
    })
}

fn push_gap(items: &mut Vec<Item>, s: &mut Summary, from: u64, to: u64) {
    let mut at = from;
    // Bits up to the next byte boundary (or up to `to`) form a bit hole.
    if at % 8 != 0 {
        let bits = (8 - at % 8).min(to - at);
        items.push(Item::BitHole {
            bit_offset: at as u32,
            bits: bits as u32,
        });
        s.bit_holes += 1;
        s.sum_bit_holes += bits;
        at += bits;
    }
    let bytes = (to - at) / 8;
    if bytes > 0 {
        items.push(Item::Hole {
            offset: (at / 8) as u32,
            bytes: bytes as u32,
        });
        s.holes += 1;
        s.sum_holes += bytes;
        at += bytes * 8;
    }
    if to > at {
        items.push(Item::BitHole {
            bit_offset: at as u32,
            bits: (to - at) as u32,
        });
        s.bit_holes += 1;
        s.sum_bit_holes += to - at;
    }
}
