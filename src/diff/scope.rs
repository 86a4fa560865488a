//! `diff --for OBJ`: the diff limited to what an object reaches, each item with the
//! relocations that reach it and what they become on NEW.
//!
//! What an object touches comes from its CO-RE relocations (every member along each access
//! chain, the types of type-based relocations, the enumerators of enum-based ones) and from
//! its programs' attach targets ([`attach_targets`]: `fentry/NAME`, `kprobe/NAME`,
//! `tp_btf/NAME`, ...). Other requirements (the requires command's list) come in as more
//! [`Requirement`]s: that is the seam. The consequence of each relocation is not guessed: the
//! caller relocates the object against OLD and NEW with the offline engine and passes the
//! [`Fixup`]s in.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::fix::{suggest, Fix};
use super::members::{diff_members, flatten, skip_mods};
use super::model::{Change, TypeClass};
use super::types::{diff_type, Index};
use crate::btf::{essential_name, Btf, Kind, MAX_RESOLVE_DEPTH};
use crate::reloc::{CoreRelo, CoreReloKind, Fixup, Object, Status};

fn is_existence(k: CoreReloKind) -> bool {
    matches!(
        k,
        CoreReloKind::FieldExists
            | CoreReloKind::TypeExists
            | CoreReloKind::TypeMatches
            | CoreReloKind::EnumvalExists
    )
}

/// One thing an object reaches in the kernel's types.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Touched {
    /// A member of a named struct/union (or of a typedef'd anonymous one).
    Member { parent: String, member: String },
    /// A whole type (type-based relocations).
    Type { class: TypeClass, name: String },
    EnumValue {
        #[serde(rename = "enum")]
        enum_name: String,
        value: String,
    },
    /// A kernel function a program attaches to (fentry, fexit, kprobe, lsm).
    Func { name: String },
    /// A BTF-enabled tracepoint (`tp_btf`, `raw_tp`): its `btf_trace_NAME` prototype.
    Tracepoint { name: String },
}

impl Touched {
    /// `task_struct.__state`, `enum pid_type::PIDTYPE_SID`, `func do_exit`.
    pub fn text(&self) -> String {
        match self {
            Touched::Member { parent, member } => format!("{parent}.{member}"),
            Touched::Type { class, name } => format!("{} {name}", class.name()),
            Touched::EnumValue { enum_name, value } => format!("enum {enum_name}::{value}"),
            Touched::Func { name } => format!("func {name}"),
            Touched::Tracepoint { name } => format!("tracepoint {name}"),
        }
    }
}

/// A requirement that does not come from a relocation: a program's attach target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub touched: Touched,
    pub program: String,
    pub section: String,
}

/// A relocation, as `relocs` and `dry-run` name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ReloRef {
    pub program: String,
    pub section: String,
    /// libbpf's `relo #N`.
    pub index: usize,
    /// libbpf's kind name (`byte_off`).
    pub kind: String,
    /// `struct task_struct.se.load.weight`.
    pub accessor: String,
    /// `./prog.bpf.c:42`.
    pub line: Option<String>,
}

impl ReloRef {
    fn of(obj: &Object, r: &CoreRelo) -> ReloRef {
        ReloRef {
            program: r.program.clone(),
            section: r.section.clone(),
            index: r.index,
            kind: r.kind.name().to_owned(),
            accessor: r.accessor(&obj.btf),
            line: r.line.as_ref().map(|l| format!("{}:{}", l.file, l.line)),
        }
    }
}

/// A relocation's fate on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Side {
    /// `patched`, `same`, `absent`, `poisoned`, `error`, `not-run`.
    pub status: String,
    pub value: Option<u64>,
    /// For a poisoned instruction: whether the verifier can reach it.
    pub reachable: Option<bool>,
}

impl Side {
    fn of(f: &Fixup) -> Side {
        Side {
            status: f.status.name().to_owned(),
            value: f.target,
            reachable: (f.status == Status::Poisoned)
                .then_some(f.reachable)
                .flatten(),
        }
    }
}

/// What a relocation does on NEW.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Relocated to the value OLD gives too.
    Unchanged,
    /// Relocated to another value than on OLD (CO-RE at work).
    Relocated,
    /// An existence check answers 0 on NEW.
    Absent,
    /// No match on NEW; the instruction is dead code there (a guard skips it).
    PoisonedGuarded {
        /// The existence check that guards it, when the object has one on the same item.
        guard: Option<ReloRef>,
    },
    /// No match on NEW and the instruction is reachable: the program fails to load.
    FailsToLoad,
    /// libbpf refuses the relocation on NEW.
    Error { message: String },
    /// The engine did not relocate the object (it refused it, or stopped earlier).
    NotComputed,
}

/// One relocation touching an item, and what it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Consequence {
    pub relocation: ReloRef,
    /// The item is on the relocation's access chain but is not what it reads
    /// (`task_struct.children` for `task_struct.children.prev`): the value differs whenever
    /// anything along the chain moved, so it says nothing about this item.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub through: bool,
    pub old: Option<Side>,
    pub new: Option<Side>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl Consequence {
    /// Whether the relocation's fate differs between OLD and NEW: it relocates on one and is
    /// absent, poisoned or refused on the other. A value that differs while the relocation
    /// succeeds on both (an offset, a size, a type id) follows from a member or type change
    /// that is reported as such, on the item that changed.
    pub fn differs(&self) -> bool {
        fn fate(s: &Option<Side>) -> Option<&str> {
            s.as_ref().map(|s| match s.status.as_str() {
                "patched" | "same" => "ok",
                other => other,
            })
        }
        fate(&self.old) != fate(&self.new)
    }
}

/// One item the object reaches, what changed in it, and the consequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Touch {
    #[serde(flatten)]
    pub touched: Touched,
    /// Changes between OLD and NEW that concern the item.
    pub changes: Vec<Change>,
    /// The relocations that reach it.
    pub relocations: Vec<Consequence>,
    /// Programs that attach to it.
    pub programs: Vec<String>,
    pub fix: Option<Fix>,
}

impl Touch {
    /// Something about the item differs between OLD and NEW.
    pub fn changed(&self) -> bool {
        !self.changes.is_empty() || self.relocations.iter().any(|c| !c.through && c.differs())
    }
}

/// The scoped diff of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Scoped {
    pub object: String,
    /// Every item the object reaches, changed or not, sorted.
    pub touches: Vec<Touch>,
}

impl Scoped {
    pub fn changed(&self) -> bool {
        self.touches.iter().any(Touch::changed)
    }
}

/// The attach targets of the object's programs that can be told from their section names.
pub fn attach_targets(obj: &Object) -> Vec<Requirement> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in &obj.programs {
        let sec = p.section.trim_start_matches('?');
        let Some((prefix, rest)) = sec.split_once('/') else {
            continue;
        };
        let name = rest.split(['+', '/']).next().unwrap_or("");
        if name.is_empty() {
            continue;
        }
        let touched = match prefix {
            "fentry" | "fexit" | "fmod_ret" | "fentry.s" | "fexit.s" | "fmod_ret.s" | "kprobe"
            | "kretprobe" => Touched::Func { name: name.into() },
            "lsm" | "lsm.s" | "lsm_cgroup" => Touched::Func {
                name: format!("bpf_lsm_{name}"),
            },
            "tp_btf" | "raw_tp" | "raw_tracepoint" | "raw_tp.w" | "raw_tracepoint.w" => {
                Touched::Tracepoint { name: name.into() }
            }
            _ => continue,
        };
        if seen.insert((p.name.clone(), touched.clone())) {
            out.push(Requirement {
                touched,
                program: p.name.clone(),
                section: p.section.clone(),
            });
        }
    }
    out
}

/// The items one relocation reaches, in the object's own names (flavours stripped).
pub fn touched_by(btf: &Btf, r: &CoreRelo) -> Vec<Touched> {
    let Ok(spec) = &r.spec else {
        return Vec::new();
    };
    if r.kind.is_type_based() {
        let Some(t) = skip_mods(btf, r.type_id) else {
            return Vec::new();
        };
        let name = essential_name(btf.name_of(&t));
        return match super::types::class_of(t.kind()) {
            Some(class) if !name.is_empty() => vec![Touched::Type {
                class,
                name: name.into(),
            }],
            _ => Vec::new(),
        };
    }
    if matches!(
        r.kind,
        CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
    ) {
        let Some(t) = btf.skip_mods_and_typedefs(r.type_id) else {
            return Vec::new();
        };
        let name = essential_name(btf.name_of(&t));
        return match spec.accessors.first().and_then(|a| a.name.clone()) {
            Some(value) if !name.is_empty() => vec![Touched::EnumValue {
                enum_name: name.into(),
                value,
            }],
            _ => Vec::new(),
        };
    }
    // Field-based: walk the access chain, remembering the named type each member belongs to.
    let mut out = Vec::new();
    let (mut id, mut parent) = enter(btf, r.type_id, None);
    let mut prefix = String::new();
    for &idx in spec.raw.iter().skip(1) {
        let Some(t) = btf.type_by_id(id) else { break };
        if t.is_composite() {
            let Some(m) = t.member(idx) else { break };
            let name = btf.str_at(m.name_off).unwrap_or("");
            let (next, named) = enter(btf, m.type_id, None);
            if name.is_empty() {
                id = next;
                continue;
            }
            if let Some(p) = &parent {
                out.push(Touched::Member {
                    parent: p.clone(),
                    member: format!("{prefix}{name}"),
                });
            }
            let inner_anon =
                skip_mods(btf, m.type_id).is_some_and(|t| t.is_composite() && t.name_off() == 0);
            if inner_anon {
                prefix = format!("{prefix}{name}.");
            } else {
                prefix.clear();
                parent = named;
            }
            id = next;
        } else if let Some(a) = t.array() {
            let (next, named) = enter(btf, a.elem_type, None);
            prefix.clear();
            parent = named;
            id = next;
        } else {
            break;
        }
    }
    out
}

/// Follow modifiers and typedefs from `id`; the name the type goes by (a named composite's,
/// else the typedef that names an anonymous one), flavour stripped.
fn enter(btf: &Btf, mut id: u32, mut typedef: Option<String>) -> (u32, Option<String>) {
    for _ in 0..MAX_RESOLVE_DEPTH {
        let Some(t) = btf.type_by_id(id) else {
            return (id, None);
        };
        match t.kind() {
            Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag => id = t.type_id(),
            Kind::Typedef => {
                typedef = Some(essential_name(btf.name_of(&t)).to_owned());
                id = t.type_id();
            }
            _ => {
                let name = essential_name(btf.name_of(&t));
                let named = if name.is_empty() {
                    typedef
                } else {
                    Some(name.to_owned())
                };
                return (id, named.filter(|_| t.is_composite()));
            }
        }
    }
    (id, None)
}

/// The changes of `touched` between OLD and NEW. `kinds` are the relocation kinds that reach
/// it (a whole type matters in full only to `type_matches`).
fn changes_of(
    old: &Index<'_>,
    new: &Index<'_>,
    touched: &Touched,
    kinds: &[CoreReloKind],
) -> Vec<Change> {
    let presence = |o: bool, n: bool| match (o, n) {
        (true, false) => vec![Change::TypeRemoved],
        (false, true) => vec![Change::TypeAdded],
        _ => Vec::new(),
    };
    match touched {
        Touched::Member { parent, member } => {
            let (Some(o), Some(n)) = (old.composite(parent), new.composite(parent)) else {
                return presence(
                    old.composite(parent).is_some(),
                    new.composite(parent).is_some(),
                );
            };
            let (of, nf) = (flatten(old, o.id), flatten(new, n.id));
            let mine = |m: &str| m == member;
            let mut out: Vec<Change> = diff_members(&of, &nf)
                .into_iter()
                .filter(|c| match c {
                    Change::MemberAdded { member } | Change::MemberRemoved { member } => {
                        mine(&member.name)
                    }
                    Change::MemberRenamed { old, new, .. } => mine(&old.name) || mine(&new.name),
                    Change::MemberMoved { old, .. } | Change::MemberRetyped { old, .. } => {
                        mine(&old.name)
                    }
                    _ => false,
                })
                .collect();
            let moved = out
                .iter()
                .any(|c| matches!(c, Change::MemberMoved { .. } | Change::MemberRenamed { .. }));
            let (om, nm) = (
                of.iter().find(|m| mine(&m.name)),
                nf.iter().find(|m| mine(&m.name)),
            );
            if let (Some(om), Some(nm), false) = (om, nm, moved) {
                if om.bit_offset != nm.bit_offset {
                    out.insert(
                        0,
                        Change::MemberShifted {
                            old: om.clone(),
                            new: nm.clone(),
                        },
                    );
                }
            }
            out
        }
        Touched::Type { class, name } => {
            let (o, n) = (old.get(*class, name), new.get(*class, name));
            let (Some(o), Some(n)) = (o, n) else {
                return presence(o.is_some(), n.is_some());
            };
            let all = kinds.contains(&CoreReloKind::TypeMatches);
            let size = kinds.contains(&CoreReloKind::TypeSize);
            diff_type(old, &o, new, &n)
                .into_iter()
                .filter(|c| {
                    all || matches!(c, Change::KindChanged { .. })
                        || size && matches!(c, Change::SizeChanged { .. })
                })
                .collect()
        }
        Touched::EnumValue { enum_name, value } => {
            let (o, n) = (
                old.get(TypeClass::Enum, enum_name),
                new.get(TypeClass::Enum, enum_name),
            );
            let (Some(o), Some(n)) = (o, n) else {
                return presence(o.is_some(), n.is_some());
            };
            diff_type(old, &o, new, &n)
                .into_iter()
                .filter(|c| match c {
                    Change::EnumValueAdded { name, .. }
                    | Change::EnumValueRemoved { name, .. }
                    | Change::EnumValueRenumbered { name, .. } => name == value,
                    _ => false,
                })
                .collect()
        }
        Touched::Func { name } => {
            let (o, n) = (
                old.get(TypeClass::Func, name),
                new.get(TypeClass::Func, name),
            );
            match (o, n) {
                (Some(o), Some(n)) => diff_type(old, &o, new, &n),
                (o, n) => presence(o.is_some(), n.is_some()),
            }
        }
        Touched::Tracepoint { name } => {
            let td = format!("btf_trace_{name}");
            let (o, n) = (
                old.get(TypeClass::Typedef, &td),
                new.get(TypeClass::Typedef, &td),
            );
            match (o, n) {
                (Some(o), Some(n)) => diff_type(old, &o, new, &n),
                (o, n) => presence(o.is_some(), n.is_some()),
            }
        }
    }
}

/// What reaches one item: relocations (each with "the item is only on its chain") and the
/// programs that attach to it.
type Reached<'o> = (Vec<(&'o CoreRelo, bool)>, Vec<String>);

/// The diff of OLD and NEW limited to what `obj` reaches. `old_fixups` and `new_fixups` are
/// the object's relocations on each (`dryrun::engine::run`, offline); `requirements` the
/// attach targets and any other requirement.
pub fn scope(
    obj: &Object,
    old: &Index<'_>,
    new: &Index<'_>,
    old_fixups: &[Fixup],
    new_fixups: &[Fixup],
    requirements: &[Requirement],
) -> Scoped {
    let key = |f: &Fixup| (f.section.clone(), f.index);
    let old_by: HashMap<_, &Fixup> = old_fixups.iter().map(|f| (key(f), f)).collect();
    let new_by: HashMap<_, &Fixup> = new_fixups.iter().map(|f| (key(f), f)).collect();
    let relos: Vec<&CoreRelo> = obj.relocations().collect();
    let mut items: BTreeMap<Touched, Reached<'_>> = BTreeMap::new();
    let mut existence: Vec<(&CoreRelo, Touched)> = Vec::new();
    for r in &relos {
        let ts = touched_by(&obj.btf, r);
        let last = ts.len().saturating_sub(1);
        for (i, t) in ts.into_iter().enumerate() {
            if is_existence(r.kind) && i == last {
                existence.push((r, t.clone()));
            }
            items.entry(t).or_default().0.push((r, i != last));
        }
    }
    for q in requirements {
        let e = items.entry(q.touched.clone()).or_default();
        if !e.1.contains(&q.program) {
            e.1.push(q.program.clone());
        }
    }
    let mut touches = Vec::new();
    for (touched, (rs, programs)) in items {
        let kinds: Vec<CoreReloKind> = rs.iter().map(|(r, _)| r.kind).collect();
        let changes = changes_of(old, new, &touched, &kinds);
        // The item's own existence checks guard it; else an existence check of the same
        // program whose answer flips between OLD and NEW (the probe asks for `__state` and
        // falls back to a flavour's `state`).
        let own_guards: Vec<&CoreRelo> = existence
            .iter()
            .filter(|(_, t)| *t == touched)
            .map(|(r, _)| *r)
            .collect();
        let flips = |r: &CoreRelo| {
            let k = (r.section.clone(), r.index);
            matches!((old_by.get(&k), new_by.get(&k)), (Some(o), Some(n)) if o.target != n.target)
        };
        let guard_of = |r: &CoreRelo| -> Option<ReloRef> {
            own_guards
                .iter()
                .find(|g| g.section == r.section && g.index != r.index)
                .copied()
                .or_else(|| {
                    existence
                        .iter()
                        .map(|(g, _)| *g)
                        .filter(|g| g.section == r.section && g.program == r.program)
                        .filter(|g| g.index != r.index && flips(g))
                        .min_by_key(|g| g.insn.abs_diff(r.insn))
                })
                .map(|g| ReloRef::of(obj, g))
        };
        let relocations: Vec<Consequence> = rs
            .iter()
            .map(|&(r, through)| {
                let k = (r.section.clone(), r.index);
                let (o, n) = (old_by.get(&k), new_by.get(&k));
                let verdict = match n {
                    None => Verdict::NotComputed,
                    Some(n) => match n.status {
                        Status::Patched | Status::Same => {
                            if o.is_some_and(|o| o.target != n.target || o.status != n.status) {
                                Verdict::Relocated
                            } else {
                                Verdict::Unchanged
                            }
                        }
                        Status::Absent => Verdict::Absent,
                        Status::Poisoned if n.reachable == Some(false) => {
                            Verdict::PoisonedGuarded { guard: guard_of(r) }
                        }
                        Status::Poisoned => Verdict::FailsToLoad,
                        Status::Error => Verdict::Error {
                            message: n.error.clone().unwrap_or_default(),
                        },
                        Status::NotRun => Verdict::NotComputed,
                    },
                };
                Consequence {
                    relocation: ReloRef::of(obj, r),
                    through,
                    old: o.map(|f| Side::of(f)),
                    new: n.map(|f| Side::of(f)),
                    verdict,
                }
            })
            .collect();
        // The object already copes where it guards the item or its poison is dead code.
        let handled = !own_guards.is_empty()
            || kinds.contains(&CoreReloKind::EnumvalValue)
            || relocations
                .iter()
                .any(|c| matches!(c.verdict, Verdict::PoisonedGuarded { .. }));
        let fix = if handled {
            None
        } else {
            suggest(old, new, &touched, &changes)
        };
        touches.push(Touch {
            touched,
            changes,
            relocations,
            programs,
            fix,
        });
    }
    Scoped {
        object: obj.path.display().to_string(),
        touches,
    }
}
