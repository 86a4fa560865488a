//! pahole-style struct/union layouts computed from BTF, as pahole 1.24 computes them from BTF
//! (`pahole -F btf`): each member's offset and size, holes, bit holes, cacheline boundaries,
//! paddings, inferred `__aligned__`/`__packed__` attributes, anonymous structs and unions
//! expanded inline (and, with [`Options::expand`], named ones: pahole's `-E`). Pure: the
//! binary renders it (`render::layout` for pahole's text, `render::btf_json` for JSON).
//!
//! The arithmetic follows dwarves 1.24 (`class__fixup_btf_bitfields` and
//! `class__infer_alignment` in btf_loader.c, `class__find_holes` and
//! `class__infer_packed_attributes` in dwarves.c, `__class__fprintf` and `union__fprintf` in
//! dwarves_fprintf.c), including the widths of pahole's counters (a hole is a `uint16_t`, a
//! bit hole and the number of holes `uint8_t`s), so the figures are the ones pahole prints.
//!
//! Bounded for hostile BTF: inline expansion stops at [`MAX_DEPTH`] levels and at a type that
//! is already being expanded, and one layout holds at most [`MAX_ITEMS`] items.

use std::collections::HashMap;

use super::cdecl::{declaration, type_name};
use super::{Btf, Kind, Type, MAX_RESOLVE_DEPTH};

pub const CACHELINE: u32 = 64;
/// pahole's address size for pointers (x86-64, arm64: every kernel coretool reads).
const ADDR_SIZE: u32 = 8;
/// Nesting levels expanded inline.
pub const MAX_DEPTH: u32 = 64;
/// Items one layout may hold; past it the layout ends with [`Item::Truncated`].
pub const MAX_ITEMS: usize = 1 << 16;

/// How to lay types out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Expand the types of named struct/union members (and typedef chains) inline, as
    /// pahole's `-E`/`--expand_types`.
    pub expand: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A member whose type is printed on one line.
    Member {
        /// Nesting level: 0 for the type's own members.
        depth: u32,
        name: String,
        /// C declaration of the member (`struct task_struct *real_parent`), with `:N` for
        /// bitfields and pahole's inferred ` __attribute__((__aligned__(N)))`.
        decl: String,
        type_id: u32,
        /// Offset in bits from the start of the outermost type.
        bit_offset: u64,
        /// Offset in bytes from the start of the outermost type: for a bitfield, the offset
        /// of its storage unit (pahole's `1192: 8 4`).
        offset: u64,
        /// For a bitfield, the bit within its storage unit.
        bitfield_offset: u32,
        /// Size in bytes (of the storage unit for bitfields).
        size: u64,
        /// Bitfield width in bits, 0 when not a bitfield.
        bitfield_size: u32,
        /// Alignment pahole infers from the offset, 0 when natural.
        aligned: u32,
    },
    /// A member whose struct/union type is expanded inline: its items follow, up to the
    /// matching [`Item::Close`]. `head` is `struct {`, `union {`, `struct name {` (expanded
    /// named types), with `const ` or pahole's `/* typedef a -> b */ ` before it.
    Open { depth: u32, head: String },
    /// The end of an inline type: `} name; /* offset size */`.
    Close {
        depth: u32,
        /// The member's name (`* name` through a pointer), empty for an anonymous member.
        name: String,
        /// Array dimensions around the inline type (`[2]`), empty when none.
        dims: String,
        /// pahole writes the name before the type's attributes (`} name
        /// __attribute__((__aligned__(64)))[5];` through an array or pointer), not after.
        name_first: bool,
        offset: u64,
        size: u64,
        /// pahole's `__attribute__((__packed__))` on the inline type (for an enum: not 4
        /// bytes).
        packed: bool,
        /// pahole's `__attribute__((__aligned__(N)))` on the inline type, 0 when none.
        type_aligned: u32,
        /// The member's own inferred alignment, 0 when none.
        aligned: u32,
        /// For a bitfield of an inline enum: its width, and its bit in the storage unit.
        bitfield_size: u32,
        bitfield_offset: u32,
    },
    /// Whole bytes nobody uses (pahole counts at most 65535 per hole).
    Hole { depth: u32, offset: u64, bytes: u32 },
    /// Bits nobody uses between bitfields (pahole counts at most 255 per hole).
    BitHole { depth: u32, bits: u32 },
    /// A bitfield that follows a bit hole: pahole writes the hole as an unnamed bitfield
    /// (`unsigned int :3;`), or as `:0` after "Force alignment to the next boundary" when the
    /// new bitfield starts a new storage unit.
    FillBits {
        depth: u32,
        type_name: String,
        bits: u32,
        force: bool,
    },
    /// pahole's "Bitfield combined with previous fields" (`next == false`) or "... with next
    /// fields".
    Combined { depth: u32, next: bool },
    /// The struct type of the member just listed ends with padding.
    StructPadding { depth: u32, bytes: u32 },
    /// The next member starts in cacheline `line`, `ago` bytes past its start.
    Cacheline { depth: u32, line: u32, ago: u32 },
    /// One enumerator of an anonymous enum expanded inline (`value` as pahole prints it:
    /// signed or unsigned per the enum's sign).
    Enumerator {
        depth: u32,
        name: String,
        value: String,
    },
    /// The summary of an inline struct reached through `const`: pahole prints its statistics.
    NestedSummary { depth: u32, summary: Box<Summary> },
    /// The layout was cut short at [`MAX_ITEMS`] items or [`MAX_DEPTH`] levels.
    Truncated { depth: u32 },
}

impl Item {
    pub fn depth(&self) -> u32 {
        match *self {
            Item::Member { depth, .. }
            | Item::Open { depth, .. }
            | Item::Close { depth, .. }
            | Item::Hole { depth, .. }
            | Item::BitHole { depth, .. }
            | Item::FillBits { depth, .. }
            | Item::Combined { depth, .. }
            | Item::StructPadding { depth, .. }
            | Item::Cacheline { depth, .. }
            | Item::Enumerator { depth, .. }
            | Item::NestedSummary { depth, .. }
            | Item::Truncated { depth } => depth,
        }
    }
}

/// A struct's summary as pahole prints it (unions have none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub size: u32,
    pub cachelines: u32,
    pub members: u32,
    /// Bytes of the non-bitfield members.
    pub sum_members: u64,
    /// Byte holes (pahole's `uint8_t` count).
    pub holes: u32,
    pub sum_holes: u64,
    pub bitfield_bits: u64,
    /// Bit holes (pahole's `uint8_t` count).
    pub bit_holes: u32,
    pub sum_bit_holes: u64,
    /// Unused bytes after the last member.
    pub padding: u32,
    /// Members whose struct type ends with padding, and those paddings' sum.
    pub paddings: u32,
    pub sum_paddings: u64,
    /// Unused bits after a trailing bitfield.
    pub bit_padding: u32,
    /// Members with an inferred alignment; those preceded by a hole, and those holes' sum.
    pub forced_alignments: u32,
    pub forced_holes: u32,
    pub sum_forced_holes: u64,
    /// Bytes used in the last cacheline (0: the size is a multiple of the cacheline).
    pub last_cacheline: u32,
    /// size*8 minus everything counted, in bits: pahole's "BRAIN FART ALERT" when not 0.
    pub unaccounted_bits: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub type_id: u32,
    pub kind: Kind,
    pub name: String,
    pub items: Vec<Item>,
    /// The summary, for structs.
    pub summary: Option<Summary>,
    /// pahole's inferred `__attribute__((__packed__))`.
    pub packed: bool,
    /// pahole's inferred `__attribute__((__aligned__(N)))`, 0 when none.
    pub aligned: u32,
}

/// Compute the layout of a struct or union on its own; `None` for other kinds. pahole's
/// packed inference depends on the structs laid out before (see [`Layouter`]).
pub fn compute(btf: &Btf, t: &Type<'_>) -> Option<Layout> {
    Layouter::new(btf, Options::default()).layout(t)
}

/// One member as pahole's BTF loader sees it after `class__fixup_btf_bitfields`.
#[derive(Debug, Clone, Copy)]
struct Mem {
    type_id: u32,
    name_off: u32,
    /// Bit offset relative to the containing type.
    bit_offset: u64,
    byte_offset: u64,
    bitfield_offset: u32,
    bitfield_size: u32,
    byte_size: u64,
    bit_size: u64,
    alignment: u32,
    /// `class__find_holes`: the hole and bit hole after this member.
    hole: u16,
    bit_hole: u8,
}

/// What `class__find_holes` records on the class itself.
#[derive(Debug, Clone, Copy, Default)]
struct Holes {
    pre_hole: u16,
    pre_bit_hole: u8,
    nr_holes: u8,
    nr_bit_holes: u8,
    padding: u16,
    bit_padding: u8,
}

/// Lays out types one after the other, keeping pahole's state between them: pahole marks a
/// struct `__packed__` when it first meets it at an unnatural offset inside another struct
/// that has holes or padding, and that mark sticks.
pub struct Layouter<'b> {
    btf: &'b Btf,
    opts: Options,
    /// pahole's `packed_attributes_inferred` and `is_packed`, per struct/union id.
    packed: HashMap<u32, bool>,
    natural: HashMap<u32, u32>,
    holes: HashMap<u32, (Holes, u32)>,
    /// Types being expanded inline (cycle guard).
    open: Vec<u32>,
}

/// Where a member sits, for pahole's flexible array rule (`[]` only for the last of several
/// members, outside unions).
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    first: bool,
    last: bool,
    in_union: bool,
    /// Inside a struct reached through a pointer: pahole prints offsets relative to each
    /// inner type, not to the outermost one.
    rel: bool,
    /// pahole's `emit_stats`: an inline struct reached through `const` prints its summary.
    stats: bool,
}

impl Place {
    fn top() -> Self {
        Place {
            stats: true,
            ..Place::default()
        }
    }

    fn flexible(self) -> bool {
        self.last && !self.first && !self.in_union
    }
}

/// A member type pahole prints inline.
struct Inline<'b> {
    ty: Type<'b>,
    head: String,
    stats: bool,
    /// Array dimensions on the way, outermost first.
    dims: Vec<u32>,
    /// Reached through a pointer (`} * name;`).
    pointer: bool,
}

impl Inline<'_> {
    /// The dimensions as pahole prints them: innermost first, a zero-length last member as
    /// `[]`.
    fn dims(&self, place: Place) -> String {
        self.dims
            .iter()
            .rev()
            .map(|&n| {
                if n == 0 && place.flexible() {
                    "[]".to_owned()
                } else {
                    format!("[{n}]")
                }
            })
            .collect()
    }
}

/// What one nested print shares with its callers (pahole's `conf_fprintf`).
struct Ctx {
    items: Vec<Item>,
    /// pahole's `*cachelinep`: the cacheline of the last boundary written.
    cacheline: u32,
    full: bool,
}

impl Ctx {
    fn push(&mut self, item: Item) {
        if self.full {
            return;
        }
        if self.items.len() + 1 >= MAX_ITEMS {
            self.items.push(Item::Truncated {
                depth: item.depth(),
            });
            self.full = true;
            return;
        }
        self.items.push(item);
    }

    fn cacheline_boundary(&mut self, depth: u32, offset: u64) {
        let line = (offset / CACHELINE as u64) as u32;
        if line > self.cacheline {
            self.push(Item::Cacheline {
                depth,
                line,
                ago: (offset % CACHELINE as u64) as u32,
            });
            self.cacheline = line;
        }
    }
}

impl<'b> Layouter<'b> {
    pub fn new(btf: &'b Btf, opts: Options) -> Self {
        Layouter {
            btf,
            opts,
            packed: HashMap::new(),
            natural: HashMap::new(),
            holes: HashMap::new(),
            open: Vec::new(),
        }
    }

    /// The layout of a struct or union; `None` for other kinds.
    pub fn layout(&mut self, t: &Type<'_>) -> Option<Layout> {
        if !t.is_composite() {
            return None;
        }
        let t = &self.btf.type_by_id(t.id)?;
        let mut cx = Ctx {
            items: Vec::new(),
            cacheline: 0,
            full: false,
        };
        self.open.clear();
        self.open.push(t.id);
        let (summary, packed) = if t.kind() == Kind::Struct {
            let (s, packed) = self.struct_body(t, 0, 0, Place::top(), &mut cx);
            (Some(s), packed)
        } else {
            self.union_body(t, 0, 0, Place::top(), &mut cx);
            (None, false)
        };
        self.open.clear();
        let aligned = if packed || t.kind() != Kind::Struct {
            0
        } else {
            self.type_alignment(t)
        };
        Some(Layout {
            type_id: t.id,
            kind: t.kind(),
            name: self.btf.name_of(t).to_owned(),
            items: cx.items,
            summary,
            packed,
            aligned,
        })
    }

    fn ty(&self, id: u32) -> Option<Type<'b>> {
        self.btf.type_by_id(id)
    }

    /// pahole's `tag__strip_typedefs_and_modifiers`.
    fn strip(&self, id: u32) -> Option<Type<'b>> {
        self.btf.skip_mods_and_typedefs(id)
    }

    /// pahole's `tag__natural_alignment` of an already stripped type.
    fn natural_alignment(&mut self, t: &Type<'b>, depth: u32) -> u32 {
        let a = match t.kind() {
            Kind::Ptr => ADDR_SIZE,
            Kind::Int | Kind::Float | Kind::Enum | Kind::Enum64 => t.size(),
            Kind::Struct | Kind::Union => {
                if let Some(&a) = self.natural.get(&t.id) {
                    return a;
                }
                let mut a = 0;
                if depth < MAX_RESOLVE_DEPTH as u32 {
                    // Provisional entry: a type that contains itself ends the recursion.
                    self.natural.insert(t.id, 1);
                    for m in t.members() {
                        if let Some(mt) = self.strip(m.type_id) {
                            a = a.max(self.natural_alignment(&mt, depth + 1));
                        }
                    }
                }
                let a = a.max(1);
                self.natural.insert(t.id, a);
                a
            }
            Kind::Array => match t.array().and_then(|a| self.strip(a.elem_type)) {
                Some(e) if depth < MAX_RESOLVE_DEPTH as u32 => {
                    self.natural_alignment(&e, depth + 1)
                }
                _ => 1,
            },
            _ => 1,
        };
        a.max(1)
    }

    /// The members of a struct/union with pahole's sizes, offsets and inferred alignments,
    /// and (structs only) its holes.
    fn members(&mut self, t: &Type<'b>) -> (Vec<Mem>, Holes, u32) {
        let mut out = Vec::with_capacity(t.vlen() as usize);
        let mut smallest: u32 = 0;
        for m in t.members() {
            let mut mem = Mem {
                type_id: m.type_id,
                name_off: m.name_off,
                bit_offset: m.bit_offset as u64,
                byte_offset: m.bit_offset as u64 / 8,
                bitfield_offset: 0,
                bitfield_size: m.bitfield_size,
                byte_size: 0,
                bit_size: 0,
                alignment: 0,
                hole: 0,
                bit_hole: 0,
            };
            if let Some(st) = self.strip(m.type_id) {
                // A member larger than 4 GiB is only in hostile BTF (an array of arrays whose
                // element counts multiply past u64); clamping keeps every sum below in range.
                mem.byte_size = self
                    .btf
                    .resolve_size(st.id)
                    .unwrap_or(0)
                    .min(u64::from(u32::MAX));
                mem.bit_size = mem.byte_size * 8;
                if mem.byte_size != 0 {
                    if matches!(
                        st.kind(),
                        Kind::Int | Kind::Float | Kind::Enum | Kind::Enum64
                    ) && mem.bitfield_size != 0
                    {
                        // Bitfields sit in a storage unit of their type's size, aligned.
                        mem.byte_offset = mem.bit_offset / mem.bit_size * mem.bit_size / 8;
                        mem.bitfield_offset = (mem.bit_offset - mem.byte_offset * 8) as u32;
                    }
                    let natural = self.natural_alignment(&st, 0);
                    mem.alignment = infer_alignment(mem.byte_offset as u32, natural, smallest);
                    smallest = (mem.byte_offset + mem.byte_size) as u32;
                }
            }
            out.push(mem);
        }
        let holes = if t.kind() == Kind::Struct {
            find_holes(t.size(), &mut out)
        } else {
            Holes::default()
        };
        (out, holes, smallest)
    }

    /// [`Self::members`]' holes and end of the last sized member, computed once per type.
    fn holes(&mut self, t: &Type<'b>) -> (Holes, u32) {
        if let Some(&h) = self.holes.get(&t.id) {
            return h;
        }
        let (_, holes, smallest) = self.members(t);
        self.holes.insert(t.id, (holes, smallest));
        (holes, smallest)
    }

    /// pahole's alignment of the type itself (`class__fixup_btf_bitfields`, last step).
    fn type_alignment(&mut self, t: &Type<'b>) -> u32 {
        let (_, smallest) = self.holes(t);
        let natural = self.natural_alignment(t, 0);
        infer_alignment(t.size(), natural, smallest)
    }

    /// `class__infer_packed_attributes`; the verdict sticks to the type.
    fn infer_packed(&mut self, t: &Type<'b>) -> bool {
        if let Some(&p) = self.packed.get(&t.id) {
            return p;
        }
        if t.kind() != Kind::Struct {
            return false;
        }
        let (mems, holes, _) = self.members(t);
        let packed = if holes.padding != 0 || holes.nr_holes != 0 {
            // Structs met at an unnatural offset here must be packed.
            for m in &mems {
                if let Some(st) = self.strip(m.type_id) {
                    if st.kind() == Kind::Struct {
                        let na = self.natural_alignment(&st, 0) as u64;
                        if m.byte_offset % na != 0 {
                            self.packed.insert(st.id, true);
                        }
                    }
                }
            }
            false
        } else {
            let mut max_natural = 1;
            let mut packed = None;
            for m in &mems {
                let na = match self.strip(m.type_id) {
                    Some(st) => self.natural_alignment(&st, 0),
                    None => 1,
                };
                if na == 1 {
                    continue;
                }
                max_natural = max_natural.max(na);
                if m.byte_offset % na as u64 != 0 {
                    packed = Some(true);
                    break;
                }
            }
            packed.unwrap_or(t.size() % max_natural != 0)
        };
        // As pahole, the type's own verdict is written last.
        self.packed.insert(t.id, packed);
        packed
    }

    /// `union__infer_packed_attributes`: struct members whose alignment does not divide the
    /// union's size are packed.
    fn infer_union_packed(&mut self, t: &Type<'b>) {
        if self.packed.contains_key(&t.id) {
            return;
        }
        for m in t.members() {
            if let Some(st) = self.strip(m.type_id) {
                if st.kind() == Kind::Struct {
                    let na = self.natural_alignment(&st, 0);
                    if t.size() % na != 0 {
                        self.packed.insert(st.id, true);
                    }
                }
            }
        }
        self.packed.insert(t.id, false);
    }

    /// A struct's items (pahole's `__class__fprintf`) at `depth`, members at `base` bytes;
    /// the summary and whether pahole calls it packed.
    fn struct_body(
        &mut self,
        t: &Type<'b>,
        depth: u32,
        base: u64,
        outer: Place,
        cx: &mut Ctx,
    ) -> (Summary, bool) {
        let packed = self.infer_packed(t);
        let (mems, holes, _) = self.members(t);
        let mut s = Summary {
            size: t.size(),
            cachelines: t.size().div_ceil(CACHELINE),
            members: t.vlen(),
            holes: holes.nr_holes as u32,
            bit_holes: holes.nr_bit_holes as u32,
            padding: holes.padding as u32,
            bit_padding: holes.bit_padding as u32,
            ..Summary::default()
        };
        if holes.pre_bit_hole > 0 {
            cx.push(Item::BitHole {
                depth,
                bits: holes.pre_bit_hole as u32,
            });
            s.sum_bit_holes += holes.pre_bit_hole as u64;
        }
        if holes.pre_hole > 0 {
            cx.push(Item::Hole {
                depth,
                offset: base,
                bytes: holes.pre_hole as u32,
            });
            s.sum_holes += holes.pre_hole as u64;
        }
        let mut last: Option<&Mem> = None;
        let mut last_size: u64 = 0;
        for (i, pos) in mems.iter().enumerate() {
            if cx.full {
                break;
            }
            if pos.alignment != 0 {
                let hole = last.map_or(holes.pre_hole, |l| l.hole);
                if hole != 0 {
                    s.forced_holes += 1;
                    s.sum_forced_holes += hole as u64;
                }
                s.forced_alignments += 1;
            }
            if let Some(l) = last.filter(|_| last_size != 0) {
                if l.bit_hole != 0 && pos.bitfield_size != 0 {
                    let force = l.byte_offset != pos.byte_offset;
                    let type_name = if self.opts.expand {
                        self.expanded_declaration(pos.type_id, "", Place::default())
                    } else {
                        type_name(self.btf, pos.type_id)
                    };
                    cx.push(Item::FillBits {
                        depth,
                        type_name,
                        bits: if force { 0 } else { l.bit_hole as u32 },
                        force,
                    });
                }
                if pos.byte_offset < l.byte_offset
                    || (pos.byte_offset == l.byte_offset
                        && l.bitfield_size == 0
                        && pos.bitfield_size != 0)
                {
                    cx.push(Item::Combined { depth, next: false });
                } else {
                    let cc = pos.byte_offset as i64 - l.byte_offset as i64;
                    if cc > 0 && (cc as u64) < last_size {
                        cx.push(Item::Combined { depth, next: true });
                    }
                }
            }
            let place = Place {
                first: i == 0,
                last: i + 1 == mems.len(),
                ..outer
            };
            self.member(pos, depth, base, false, place, cx);
            // The member's own type (not through typedefs) is a struct with padding.
            if let Some(mt) = self.ty(pos.type_id).filter(|m| m.kind() == Kind::Struct) {
                let (th, _) = self.holes(&mt);
                self.infer_packed(&mt);
                if th.padding > 0 {
                    s.paddings += 1;
                    s.sum_paddings += th.padding as u64;
                    cx.push(Item::StructPadding {
                        depth,
                        bytes: th.padding as u32,
                    });
                }
            }
            if pos.bit_hole != 0 {
                cx.push(Item::BitHole {
                    depth,
                    bits: pos.bit_hole as u32,
                });
                s.sum_bit_holes += pos.bit_hole as u64;
            }
            if pos.hole > 0 {
                let next = mems.get(i + 1).map_or(pos.byte_offset, |n| n.byte_offset);
                cx.push(Item::Hole {
                    depth,
                    offset: base + next.saturating_sub(pos.hole as u64),
                    bytes: pos.hole as u32,
                });
                s.sum_holes += pos.hole as u64;
            }
            if pos.bitfield_size != 0 {
                s.bitfield_bits += pos.bitfield_size as u64;
            } else {
                s.sum_members += pos.byte_size;
            }
            match last {
                None => last_size = pos.byte_size,
                Some(l)
                    if last_size == 0
                        || l.byte_offset != pos.byte_offset
                        || (l.bitfield_size == 0 && pos.bitfield_size != 0) =>
                {
                    last_size = pos.byte_size
                }
                _ => {}
            }
            last = Some(pos);
        }
        s.last_cacheline = ((base + t.size() as u64) % CACHELINE as u64) as u32;
        s.unaccounted_bits = t.size() as i64 * 8
            - (s.sum_members as i64 * 8
                + s.bitfield_bits as i64
                + s.sum_holes as i64 * 8
                + s.sum_bit_holes as i64
                + s.padding as i64 * 8
                + s.bit_padding as i64);
        (s, packed)
    }

    /// A union's items (pahole's `union__fprintf`): every member at `base`, the cacheline
    /// restored after each.
    fn union_body(&mut self, t: &Type<'b>, depth: u32, base: u64, outer: Place, cx: &mut Ctx) {
        self.infer_union_packed(t);
        let (mems, _, _) = self.members(t);
        let initial = cx.cacheline;
        for (i, pos) in mems.iter().enumerate() {
            if cx.full {
                break;
            }
            // pahole's union__fprintf leaves first/last member flags as its caller set them.
            let place = Place {
                first: i == 0 && outer.first,
                last: outer.last,
                in_union: true,
                ..outer
            };
            self.member(pos, depth, base, true, place, cx);
            cx.cacheline = initial;
        }
    }

    /// One member (pahole's `class_member__fprintf`): a line, or its type expanded inline.
    fn member(
        &mut self,
        pos: &Mem,
        depth: u32,
        base: u64,
        in_union: bool,
        place: Place,
        cx: &mut Ctx,
    ) {
        let offset = if place.rel {
            pos.byte_offset
        } else {
            base + pos.byte_offset
        };
        let name = self.btf.str_at(pos.name_off).unwrap_or("").to_owned();
        cx.cacheline_boundary(depth, offset);
        if let Some(inline) = self.inline_type(pos.type_id) {
            let inner = inline.ty;
            let star = if inline.pointer { "* " } else { "" };
            // Through `const`, pahole loses the member's name (its type printer gets no
            // suffix); the dimensions of an array around it stay.
            let shown = if inline.stats { "" } else { name.as_str() };
            let close_name = format!("{star}{shown}");
            let dims = inline.dims(place);
            // Through an array or a pointer the type printer writes the name itself, before
            // the type's attributes; otherwise the member printer writes it after them.
            let name_first = inline.pointer || !inline.dims.is_empty();
            if depth + 1 >= MAX_DEPTH || self.open.contains(&inner.id) {
                cx.push(Item::Truncated { depth: depth + 1 });
                return;
            }
            cx.push(Item::Open {
                depth,
                head: inline.head,
            });
            self.open.push(inner.id);
            // Union members share the union's base; a struct member's is its offset. Behind
            // a pointer, offsets start again at 0 in every inner type.
            let rel = place.rel || inline.pointer;
            let inner_base = if rel {
                0
            } else if in_union {
                base
            } else {
                offset
            };
            let stats = place.stats && inline.stats;
            let inner_place = Place {
                rel,
                stats,
                ..place
            };
            let (packed, type_aligned) = match inner.kind() {
                Kind::Struct => {
                    let (summary, packed) =
                        self.struct_body(&inner, depth + 1, inner_base, inner_place, cx);
                    if stats {
                        cx.push(Item::NestedSummary {
                            depth: depth + 1,
                            summary: Box::new(summary),
                        });
                    }
                    let aligned = if packed {
                        0
                    } else {
                        self.type_alignment(&inner)
                    };
                    (packed, aligned)
                }
                Kind::Union => {
                    self.union_body(&inner, depth + 1, inner_base, inner_place, cx);
                    (false, 0)
                }
                _ => {
                    for v in inner.enum_values() {
                        // pahole 1.24 reads a 32-bit enumerator as unsigned, whatever the
                        // enum's sign; a 64-bit one by the enum's sign.
                        let value = match (inner.kind() == Kind::Enum64, inner.kflag()) {
                            (false, _) => (v.raw as u32).to_string(),
                            (true, true) => (v.raw as i64).to_string(),
                            (true, false) => v.raw.to_string(),
                        };
                        cx.push(Item::Enumerator {
                            depth: depth + 1,
                            name: self.btf.str_at(v.name_off).unwrap_or("").to_owned(),
                            value,
                        });
                    }
                    // pahole marks every enum that is not 4 bytes packed.
                    (inner.size() != 4, 0)
                }
            };
            self.open.pop();
            cx.push(Item::Close {
                depth,
                name: close_name,
                dims,
                name_first,
                offset,
                size: pos.byte_size,
                packed,
                type_aligned,
                aligned: pos.alignment,
                bitfield_size: pos.bitfield_size,
                bitfield_offset: pos.bitfield_offset,
            });
            return;
        }
        let flexible = self.flexible_array(pos.type_id, place);
        let mut decl = match flexible {
            _ if self.opts.expand => self.expanded_declaration(pos.type_id, &name, place),
            Some(elem) => declaration(self.btf, elem, &format!("{name}[]")),
            None => declaration(self.btf, pos.type_id, &name),
        };
        if pos.bitfield_size != 0 {
            decl = format!("{decl}:{}", pos.bitfield_size);
        }
        if pos.alignment != 0 {
            decl = format!("{decl} __attribute__((__aligned__({})))", pos.alignment);
        }
        cx.push(Item::Member {
            depth,
            name,
            decl,
            type_id: pos.type_id,
            bit_offset: base * 8 + pos.bit_offset,
            offset,
            bitfield_offset: pos.bitfield_offset,
            size: pos.byte_size,
            bitfield_size: pos.bitfield_size,
            aligned: pos.alignment,
        });
    }

    /// The element type of a zero-length array that pahole prints as a flexible `[]` (the
    /// last of several members, outside unions, reached through `const`s), as a declaration
    /// of that element type keeps the `const`.
    fn flexible_array(&self, mut id: u32, place: Place) -> Option<u32> {
        if !place.flexible() {
            return None;
        }
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.ty(id)?;
            match t.kind() {
                Kind::Const => id = t.type_id(),
                Kind::Array => {
                    let a = t.array()?;
                    return (a.nelems == 0).then_some(a.elem_type);
                }
                _ => return None,
            }
        }
        None
    }

    /// The struct/union/enum a member's type expands to inline: pahole expands an anonymous
    /// struct, union or enum reached through `const`s and arrays, and with `-E` any struct or
    /// union reached through `const`s, arrays and typedefs.
    fn inline_type(&self, mut id: u32) -> Option<Inline<'b>> {
        let mut typedefs: Vec<&str> = Vec::new();
        let mut consts = String::new();
        let mut dims: Vec<u32> = Vec::new();
        let mut pointer = false;
        // pahole's type__fprintf expands typedefs only where it starts (on the member's type
        // and on an array's element type), and an inline struct prints its summary only when
        // that start was a `const`.
        let mut fresh = true;
        let mut via_const = false;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.ty(id)?;
            match t.kind() {
                // A pointer straight to an anonymous type: pahole expands that type inline.
                Kind::Ptr if !pointer => {
                    let target = self.ty(t.type_id())?;
                    let anon = matches!(
                        target.kind(),
                        Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64
                    ) && self.btf.name_of(&target).is_empty();
                    if !anon {
                        return None;
                    }
                    pointer = true;
                    fresh = false;
                    via_const = false;
                    id = t.type_id();
                }
                Kind::Const => {
                    if fresh {
                        via_const = true;
                    }
                    fresh = false;
                    consts.push_str("const ");
                    id = t.type_id();
                }
                Kind::Typedef if self.opts.expand && fresh => {
                    typedefs.push(self.btf.name_of(&t));
                    id = t.type_id();
                }
                Kind::Array => {
                    let a = t.array()?;
                    dims.push(a.nelems);
                    fresh = true;
                    via_const = false;
                    id = a.elem_type;
                }
                Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 => {
                    let name = self.btf.name_of(&t);
                    let is_enum = matches!(t.kind(), Kind::Enum | Kind::Enum64);
                    if !name.is_empty() && (!self.opts.expand || is_enum) {
                        return None;
                    }
                    if is_enum && t.vlen() == 0 {
                        return None;
                    }
                    let kw = match t.kind() {
                        Kind::Struct => "struct",
                        Kind::Union => "union",
                        _ => "enum",
                    };
                    let mut head = String::new();
                    if !typedefs.is_empty() {
                        head = format!("/* typedef {} */ ", typedefs.join(" -> "));
                    }
                    head.push_str(&consts);
                    head.push_str(kw);
                    if !name.is_empty() {
                        head.push(' ');
                        head.push_str(name);
                    }
                    head.push_str(" {");
                    return Some(Inline {
                        ty: t,
                        head,
                        stats: via_const,
                        dims,
                        pointer,
                    });
                }
                _ => return None,
            }
        }
        None
    }

    /// With `-E`, pahole names the typedef chain where it starts printing a type (the
    /// member's type, an array's element type): `/* typedef u32 -> __u32 */ unsigned int
    /// flags`, `/* typedef __u8 */ unsigned char addr[6]`.
    fn expanded_declaration(&self, id: u32, name: &str, place: Place) -> String {
        let mut comments = String::new();
        let mut dims: Vec<u32> = Vec::new();
        let mut cur = id;
        'entry: for _ in 0..MAX_RESOLVE_DEPTH {
            let mut chain: Vec<&str> = Vec::new();
            for _ in 0..MAX_RESOLVE_DEPTH {
                match self.ty(cur) {
                    Some(t) if t.kind() == Kind::Typedef => {
                        chain.push(self.btf.name_of(&t));
                        cur = t.type_id();
                    }
                    _ => break,
                }
            }
            if !chain.is_empty() {
                comments.push_str(&format!("/* typedef {} */ ", chain.join(" -> ")));
            }
            // `const`s before an array: pahole prints them first, then the element.
            let mut through = cur;
            let mut consts = 0;
            while let Some(t) = self.ty(through).filter(|t| t.kind() == Kind::Const) {
                through = t.type_id();
                consts += 1;
                if consts > MAX_RESOLVE_DEPTH {
                    break 'entry;
                }
            }
            match self.ty(through).and_then(|t| t.array()) {
                Some(a) => {
                    comments.push_str(&"const ".repeat(consts));
                    dims.push(a.nelems);
                    cur = a.elem_type;
                }
                None => break 'entry,
            }
        }
        let suffix: String = dims
            .iter()
            .enumerate()
            .rev()
            .map(|(i, &n)| {
                if i == 0 && n == 0 && place.flexible() {
                    "[]".to_owned()
                } else {
                    format!("[{n}]")
                }
            })
            .collect();
        format!(
            "{comments}{}",
            declaration(self.btf, cur, &format!("{name}{suffix}"))
        )
    }
}
/// pahole's `class__infer_alignment`: an offset further than natural alignment explains is
/// taken as a forced alignment (the power of two above the gap; the cacheline when the
/// offset sits on one). Offsets that go backwards wrap as pahole's `uint32_t` arithmetic
/// does, which makes the alignment 1, i.e. none.
fn infer_alignment(byte_offset: u32, natural: u32, smallest: u32) -> u32 {
    let delta = byte_offset.wrapping_sub(smallest);
    let mut alignment = 0u32;
    if delta != 0 && byte_offset % 2 == 0 {
        let shift = 32 - delta.leading_zeros();
        // x86's shift masks the count: `1 << 32` is 1.
        alignment = 1u32 << (shift & 31);
    }
    if alignment <= natural || alignment == 1 {
        0
    } else if alignment < CACHELINE && CACHELINE % alignment == 0 && byte_offset % CACHELINE == 0 {
        CACHELINE
    } else {
        alignment
    }
}

/// pahole's `class__find_holes` over a struct's members: the hole and bit hole after each
/// member, before the first, and the padding at the end, in pahole's counter widths.
fn find_holes(size: u32, mems: &mut [Mem]) -> Holes {
    let mut h = Holes::default();
    let mut cur_bitfield_end: u64 = size as u64 * 8;
    let mut cur_bitfield_size: u64 = 0;
    let mut last_seen_bit: u64 = 0;
    let mut in_bitfield = false;
    let mut last: Option<usize> = None;
    for i in 0..mems.len() {
        let pos = mems[i];
        let bit_start = pos.bit_offset;
        let bit_end = if pos.bitfield_size != 0 {
            bit_start + pos.bitfield_size as u64
        } else {
            bit_start + pos.byte_size * 8
        };
        let mut bit_holes: i64 = 0;
        let mut byte_holes: i64 = 0;
        if in_bitfield {
            let bitfield_end = bit_start.min(cur_bitfield_end);
            bit_holes = bitfield_end as i64 - last_seen_bit as i64;
            last_seen_bit = bitfield_end;
        }
        if pos.bitfield_size != 0 {
            let aligned_start = pos.byte_offset * 8;
            if last_seen_bit < aligned_start && aligned_start <= bit_start {
                byte_holes = pos.byte_offset as i64 - (last_seen_bit / 8) as i64;
                last_seen_bit = aligned_start;
            }
            bit_holes += bit_start as i64 - last_seen_bit as i64;
        } else {
            byte_holes = (bit_start / 8) as i64 - (last_seen_bit / 8) as i64;
        }
        last_seen_bit = bit_end;
        if pos.bitfield_size != 0 {
            in_bitfield = true;
            if bit_end > cur_bitfield_end || pos.bit_size > cur_bitfield_size {
                cur_bitfield_size = pos.bit_size;
                cur_bitfield_end = pos.byte_offset * 8 + cur_bitfield_size;
                if bit_end > cur_bitfield_end {
                    cur_bitfield_end += cur_bitfield_size;
                }
            }
        } else {
            in_bitfield = false;
            cur_bitfield_size = 0;
            cur_bitfield_end = bit_end;
        }
        // pahole stores these in a uint16_t and a uint8_t.
        let (hole, bit_hole) = (byte_holes as u16, bit_holes as u8);
        match last {
            Some(l) => {
                mems[l].hole = hole;
                mems[l].bit_hole = bit_hole;
            }
            None => {
                h.pre_hole = hole;
                h.pre_bit_hole = bit_hole;
            }
        }
        if bit_holes != 0 {
            h.nr_bit_holes = h.nr_bit_holes.wrapping_add(1);
        }
        if byte_holes != 0 {
            h.nr_holes = h.nr_holes.wrapping_add(1);
        }
        last = Some(i);
    }
    if in_bitfield {
        let bitfield_end = (size as u64 * 8).min(cur_bitfield_end);
        h.bit_padding = (bitfield_end as i64 - last_seen_bit as i64) as u8;
        last_seen_bit = bitfield_end;
    } else {
        h.bit_padding = 0;
    }
    h.padding = (size as i64 - (last_seen_bit / 8) as i64) as u16;
    h
}
