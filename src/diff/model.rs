//! The semantic diff as values: what changed in one type between two kernels, in CO-RE's terms
//! (members by name, offsets in bits, C declarations for types), serializable as the
//! `coretool.diff/v1` document's body. Offsets are bit offsets from the start of the named
//! type; members of anonymous structs and unions are named by their C path within it.

use serde::Serialize;

/// What kind of named type: matching is by this class and the name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TypeClass {
    /// A struct or a union (a struct that became a union is one type whose kind changed).
    Composite,
    /// `enum` or `enum64`.
    Enum,
    Typedef,
    /// A function (`FUNC` with its `FUNC_PROTO`).
    Func,
}

impl TypeClass {
    pub fn name(self) -> &'static str {
        match self {
            TypeClass::Composite => "struct",
            TypeClass::Enum => "enum",
            TypeClass::Typedef => "typedef",
            TypeClass::Func => "func",
        }
    }
}

/// A named type on one side: `struct task_struct`, `enum pid_type`, `func do_exit`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
pub struct TypeRef {
    pub class: TypeClass,
    /// The BTF kind on this side: `struct`, `union`, `enum`, `enum64`, `typedef`, `func`.
    pub kind: String,
    pub name: String,
}

impl TypeRef {
    /// `struct task_struct`, `func do_exit`.
    pub fn text(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }
}

/// One member as laid out on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MemberAt {
    /// `__state`, `se.load` is not used: nested named types are their own types; anonymous
    /// containers are transparent (`dev` in `sk_buff`), named members of anonymous type are
    /// prefixed (`stat.count`).
    pub name: String,
    pub bit_offset: u64,
    /// Bitfield width, 0 for an ordinary member.
    pub bitfield_size: u32,
    /// The C type (`unsigned int`, `struct list_head`, `char[16]`).
    #[serde(rename = "type")]
    pub ty: String,
    /// Size in bytes, when it resolves.
    pub size: Option<u64>,
}

/// One change in a type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The type is only in OLD.
    TypeRemoved,
    /// The type is only in NEW.
    TypeAdded,
    /// `struct` became `union`, `enum` became `enum64`.
    KindChanged {
        old: String,
        new: String,
    },
    SizeChanged {
        old: u64,
        new: u64,
    },
    MemberAdded {
        member: MemberAt,
    },
    MemberRemoved {
        member: MemberAt,
    },
    /// A member gone and another in its place (same shifted offset and width, and the same
    /// type or a name containing the old one): probably a rename.
    MemberRenamed {
        old: MemberAt,
        new: MemberAt,
        /// The type changed as well.
        retyped: bool,
    },
    /// A member whose offset change is not explained by the shift of the members around it.
    MemberMoved {
        old: MemberAt,
        new: MemberAt,
    },
    /// Every member from `from` on (in NEW's order, `count` of them) moved by `by_bits`: the
    /// consequence of insertions, removals or resizes before it. Reported once.
    Shifted {
        from: String,
        by_bits: i64,
        count: usize,
    },
    /// A member kept its name but its type, its size or its bitfield width changed.
    MemberRetyped {
        old: MemberAt,
        new: MemberAt,
    },
    /// A touched member that only shifted (reported by `--for`, where the offset matters).
    MemberShifted {
        old: MemberAt,
        new: MemberAt,
    },
    EnumValueAdded {
        name: String,
        value: String,
    },
    EnumValueRemoved {
        name: String,
        value: String,
    },
    EnumValueRenumbered {
        name: String,
        old: String,
        new: String,
    },
    /// A typedef names another type.
    TargetChanged {
        old: String,
        new: String,
    },
    /// A function's return type.
    ReturnChanged {
        old: String,
        new: String,
    },
    /// A function's parameter count.
    ParamCountChanged {
        old: usize,
        new: usize,
    },
    /// One parameter's type (`index` from 0); `name` is NEW's name when it has one.
    ParamRetyped {
        index: usize,
        name: String,
        old: String,
        new: String,
    },
}

/// Every change in one named type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TypeDiff {
    /// The type as OLD has it (NEW's for an added type).
    #[serde(flatten)]
    pub ty: TypeRef,
    pub changes: Vec<Change>,
}

/// The semantic diff of two BTFs (whole, or the types asked for).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Diff {
    /// Types that changed, were added or removed, sorted by class and name.
    pub types: Vec<TypeDiff>,
    /// Types compared.
    pub compared: usize,
}

impl Diff {
    pub fn changed(&self) -> bool {
        !self.types.is_empty()
    }
}
