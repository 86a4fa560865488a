//! Named types matched across two BTFs (by class and name) and compared: composites member by
//! member ([`super::members`]), enums value by value, typedefs by target, functions by
//! prototype (what an fentry or kprobe program reads).

use std::collections::{BTreeMap, HashMap};

use super::members::{diff_members, flatten, skip_mods};
use super::model::{Change, Diff, TypeClass, TypeDiff, TypeRef};
use crate::btf::{cdecl, Btf, Kind, Type};

/// Every named type of a BTF by class and name (the first definition of each; forward
/// declarations are not definitions).
pub struct Index<'a> {
    pub btf: &'a Btf,
    by_key: HashMap<(TypeClass, &'a str), u32>,
}

/// The class a BTF kind is matched in.
pub fn class_of(kind: Kind) -> Option<TypeClass> {
    match kind {
        Kind::Struct | Kind::Union => Some(TypeClass::Composite),
        Kind::Enum | Kind::Enum64 => Some(TypeClass::Enum),
        Kind::Typedef => Some(TypeClass::Typedef),
        Kind::Func => Some(TypeClass::Func),
        _ => None,
    }
}

impl<'a> Index<'a> {
    pub fn new(btf: &'a Btf) -> Index<'a> {
        let mut by_key = HashMap::new();
        for t in btf.types() {
            let Some(class) = class_of(t.kind()) else {
                continue;
            };
            let name = btf.str_at(t.name_off()).unwrap_or("");
            if !name.is_empty() {
                by_key.entry((class, name)).or_insert(t.id);
            }
        }
        Index { btf, by_key }
    }

    pub fn get(&self, class: TypeClass, name: &str) -> Option<Type<'a>> {
        self.by_key
            .get(&(class, name))
            .and_then(|&id| self.btf.type_by_id(id))
    }

    /// Every class under which `name` is defined.
    pub fn classes_of(&self, name: &str) -> Vec<TypeClass> {
        [
            TypeClass::Composite,
            TypeClass::Enum,
            TypeClass::Typedef,
            TypeClass::Func,
        ]
        .into_iter()
        .filter(|c| self.by_key.contains_key(&(*c, name)))
        .collect()
    }

    fn keys(&self) -> impl Iterator<Item = (TypeClass, &'a str)> + '_ {
        self.by_key.keys().copied()
    }

    /// The composite a name stands for: a struct/union, else a typedef of an anonymous one
    /// (`typedef struct { ... } atomic_t`).
    pub fn composite(&self, name: &str) -> Option<Type<'a>> {
        self.get(TypeClass::Composite, name).or_else(|| {
            let td = self.get(TypeClass::Typedef, name)?;
            skip_mods(self.btf, td.type_id()).filter(|t| t.is_composite() && t.name_off() == 0)
        })
    }
}

pub(crate) fn type_ref(btf: &Btf, t: &Type<'_>, class: TypeClass) -> TypeRef {
    TypeRef {
        class,
        kind: t.kind().lower_name().to_owned(),
        name: btf.name_of(t).to_owned(),
    }
}

/// Compare one named type present on both sides.
pub fn diff_type(old: &Index<'_>, o: &Type<'_>, new: &Index<'_>, n: &Type<'_>) -> Vec<Change> {
    let (ob, nb) = (old.btf, new.btf);
    let mut out = Vec::new();
    if o.kind() != n.kind() {
        out.push(Change::KindChanged {
            old: o.kind().lower_name().into(),
            new: n.kind().lower_name().into(),
        });
    }
    match class_of(o.kind()) {
        Some(TypeClass::Composite) => {
            if o.size() != n.size() {
                out.push(Change::SizeChanged {
                    old: o.size().into(),
                    new: n.size().into(),
                });
            }
            out.extend(diff_members(&flatten(ob, o.id), &flatten(nb, n.id)));
        }
        Some(TypeClass::Enum) => {
            if o.size() != n.size() {
                out.push(Change::SizeChanged {
                    old: o.size().into(),
                    new: n.size().into(),
                });
            }
            out.extend(diff_enum(ob, o, nb, n));
        }
        Some(TypeClass::Typedef) => {
            let (ot, nt) = (
                cdecl::type_name(ob, o.type_id()),
                cdecl::type_name(nb, n.type_id()),
            );
            if ot != nt {
                out.push(Change::TargetChanged { old: ot, new: nt });
            }
            // A typedef of an anonymous struct: its members are the typedef's.
            let anon = |b: &Btf, t: &Type<'_>| {
                skip_mods(b, t.type_id())
                    .filter(|t| t.is_composite() && t.name_off() == 0)
                    .map(|t| t.id)
            };
            if let (Some(oa), Some(na)) = (anon(ob, o), anon(nb, n)) {
                let (ot, nt) = (ob.type_by_id(oa), nb.type_by_id(na));
                if let (Some(ot), Some(nt)) = (ot, nt) {
                    if ot.size() != nt.size() {
                        out.push(Change::SizeChanged {
                            old: ot.size().into(),
                            new: nt.size().into(),
                        });
                    }
                }
                out.extend(diff_members(&flatten(ob, oa), &flatten(nb, na)));
            }
        }
        Some(TypeClass::Func) => out.extend(diff_proto(ob, o.type_id(), nb, n.type_id())),
        None => {}
    }
    out
}

fn diff_enum(ob: &Btf, o: &Type<'_>, nb: &Btf, n: &Type<'_>) -> Vec<Change> {
    let values = |b: &Btf, t: &Type<'_>| -> Vec<(String, String)> {
        t.enum_values()
            .iter()
            .map(|v| {
                (
                    b.str_at(v.name_off).unwrap_or("").to_owned(),
                    t.enum_value_display(v),
                )
            })
            .collect()
    };
    let (ov, nv) = (values(ob, o), values(nb, n));
    let new_by: HashMap<&str, &str> = nv.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let old_by: HashMap<&str, &str> = ov.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut out = Vec::new();
    for (name, value) in &ov {
        match new_by.get(name.as_str()) {
            None => out.push(Change::EnumValueRemoved {
                name: name.clone(),
                value: value.clone(),
            }),
            Some(nv) if nv != value => out.push(Change::EnumValueRenumbered {
                name: name.clone(),
                old: value.clone(),
                new: (*nv).to_owned(),
            }),
            Some(_) => {}
        }
    }
    for (name, value) in &nv {
        if !old_by.contains_key(name.as_str()) {
            out.push(Change::EnumValueAdded {
                name: name.clone(),
                value: value.clone(),
            });
        }
    }
    out
}

/// A function prototype's changes: return type, parameter count, each parameter's type.
pub(crate) fn diff_proto(ob: &Btf, op: u32, nb: &Btf, np: u32) -> Vec<Change> {
    let (Some(o), Some(n)) = (ob.type_by_id(op), nb.type_by_id(np)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (or, nr) = (
        cdecl::type_name(ob, o.type_id()),
        cdecl::type_name(nb, n.type_id()),
    );
    if or != nr {
        out.push(Change::ReturnChanged { old: or, new: nr });
    }
    let (opar, npar): (Vec<_>, Vec<_>) = (o.params().collect(), n.params().collect());
    if opar.len() != npar.len() {
        out.push(Change::ParamCountChanged {
            old: opar.len(),
            new: npar.len(),
        });
    }
    for (i, (p, q)) in opar.iter().zip(&npar).enumerate() {
        let (pt, qt) = (cdecl::type_name(ob, p.type_id), cdecl::type_name(nb, q.type_id));
        if pt != qt {
            let name = nb.str_at(q.name_off).unwrap_or("");
            let name = if name.is_empty() {
                ob.str_at(p.name_off).unwrap_or("")
            } else {
                name
            };
            out.push(Change::ParamRetyped {
                index: i,
                name: name.to_owned(),
                old: pt,
                new: qt,
            });
        }
    }
    out
}

/// Which types to compare.
#[derive(Debug, Clone, Default)]
pub enum Selection {
    /// Every named type.
    #[default]
    All,
    /// Types by name (each class the name is defined in).
    Names(Vec<String>),
}

/// The diff of OLD and NEW over `selection`. A name defined on neither side is left out (the
/// caller checks names first with [`Index::classes_of`]).
pub fn diff(old: &Index<'_>, new: &Index<'_>, selection: &Selection) -> Diff {
    let mut keys: BTreeMap<(TypeClass, String), ()> = BTreeMap::new();
    match selection {
        Selection::All => {
            for (c, n) in old.keys().chain(new.keys()) {
                keys.insert((c, n.to_owned()), ());
            }
        }
        Selection::Names(names) => {
            for name in names {
                for c in old.classes_of(name).into_iter().chain(new.classes_of(name)) {
                    keys.insert((c, name.clone()), ());
                }
            }
        }
    }
    let mut out = Diff {
        compared: keys.len(),
        ..Diff::default()
    };
    for (class, name) in keys.into_keys() {
        let td = match (old.get(class, &name), new.get(class, &name)) {
            (Some(o), Some(n)) => {
                let changes = diff_type(old, &o, new, &n);
                if changes.is_empty() {
                    continue;
                }
                TypeDiff {
                    ty: type_ref(old.btf, &o, class),
                    changes,
                }
            }
            (Some(o), None) => TypeDiff {
                ty: type_ref(old.btf, &o, class),
                changes: vec![Change::TypeRemoved],
            },
            (None, Some(n)) => TypeDiff {
                ty: type_ref(new.btf, &n, class),
                changes: vec![Change::TypeAdded],
            },
            (None, None) => continue,
        };
        out.types.push(td);
    }
    out
}
