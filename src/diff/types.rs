//! Named types matched across two BTFs (by class and name) and compared: composites member by
//! member ([`super::members`]), enums value by value, typedefs by target, functions by
//! prototype (what an fentry or kprobe program reads).

use std::cell::RefCell;
use std::collections::HashMap;

use super::members::{diff_members, flatten, skip_mods};
use super::model::{Change, Diff, TypeClass, TypeDiff, TypeRef};
use crate::btf::{cdecl, Btf, Kind, Type};

/// Every named type of a BTF by class and name (the first definition of each; forward
/// declarations are not definitions).
pub struct Index<'a> {
    pub btf: &'a Btf,
    /// `(class, name, id)`, sorted, one per class and name: looked up by binary search, and
    /// two indexes are merged in one pass for a whole-BTF diff.
    sorted: Vec<(TypeClass, &'a str, u32)>,
    /// C names of types already spelled: most members share a few types (a whole kernel's
    /// diff spells ~10^6 member and parameter types, of ~10^4 distinct ones).
    names: RefCell<HashMap<u32, String>>,
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
        let mut sorted = Vec::new();
        for t in btf.types() {
            let Some(class) = class_of(t.kind()) else {
                continue;
            };
            let name = btf.str_at(t.name_off()).unwrap_or("");
            if !name.is_empty() {
                sorted.push((class, name, t.id));
            }
        }
        sorted.sort_unstable();
        // The first definition of each name (the lowest id) stays.
        sorted.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
        Index {
            btf,
            sorted,
            names: RefCell::default(),
        }
    }

    /// `cdecl::type_name`, remembered.
    pub fn type_name(&self, id: u32) -> String {
        if let Some(n) = self.names.borrow().get(&id) {
            return n.clone();
        }
        let n = cdecl::type_name(self.btf, id);
        self.names.borrow_mut().insert(id, n.clone());
        n
    }

    pub fn get(&self, class: TypeClass, name: &str) -> Option<Type<'a>> {
        let i = self
            .sorted
            .binary_search_by(|&(c, n, _)| (c, n).cmp(&(class, name)))
            .ok()?;
        self.btf.type_by_id(self.sorted[i].2)
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
        .filter(|c| self.get(*c, name).is_some())
        .collect()
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
            out.extend(diff_members(&flatten(old, o.id), &flatten(new, n.id)));
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
            let (ot, nt) = (old.type_name(o.type_id()), new.type_name(n.type_id()));
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
                out.extend(diff_members(&flatten(old, oa), &flatten(new, na)));
            }
        }
        Some(TypeClass::Func) => out.extend(diff_proto(old, o.type_id(), new, n.type_id())),
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
pub(crate) fn diff_proto(old: &Index<'_>, op: u32, new: &Index<'_>, np: u32) -> Vec<Change> {
    let (ob, nb) = (old.btf, new.btf);
    let (Some(o), Some(n)) = (ob.type_by_id(op), nb.type_by_id(np)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (or, nr) = (old.type_name(o.type_id()), new.type_name(n.type_id()));
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
        let (pt, qt) = (old.type_name(p.type_id), new.type_name(q.type_id));
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
    // The (class, name) pairs to compare, with each side's id, in order.
    let mut pairs: Vec<(TypeClass, &str, Option<u32>, Option<u32>)> = Vec::new();
    match selection {
        Selection::All => {
            let (mut i, mut j) = (0, 0);
            let (a, b) = (&old.sorted, &new.sorted);
            while i < a.len() || j < b.len() {
                let ord = match (a.get(i), b.get(j)) {
                    (Some(x), Some(y)) => (x.0, x.1).cmp(&(y.0, y.1)),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    _ => std::cmp::Ordering::Greater,
                };
                match ord {
                    std::cmp::Ordering::Less => {
                        pairs.push((a[i].0, a[i].1, Some(a[i].2), None));
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        pairs.push((b[j].0, b[j].1, None, Some(b[j].2)));
                        j += 1;
                    }
                    std::cmp::Ordering::Equal => {
                        pairs.push((a[i].0, a[i].1, Some(a[i].2), Some(b[j].2)));
                        i += 1;
                        j += 1;
                    }
                }
            }
        }
        Selection::Names(names) => {
            let mut keys: Vec<(TypeClass, &str)> = names
                .iter()
                .flat_map(|n| {
                    old.classes_of(n)
                        .into_iter()
                        .chain(new.classes_of(n))
                        .map(move |c| (c, n.as_str()))
                })
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for (c, n) in keys {
                pairs.push((
                    c,
                    n,
                    old.get(c, n).map(|t| t.id),
                    new.get(c, n).map(|t| t.id),
                ));
            }
        }
    }
    let mut out = Diff {
        compared: pairs.len(),
        ..Diff::default()
    };
    for (class, _, o, n) in pairs {
        let (o, n) = (
            o.and_then(|id| old.btf.type_by_id(id)),
            n.and_then(|id| new.btf.type_by_id(id)),
        );
        let td = match (o, n) {
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
