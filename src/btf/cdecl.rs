//! C declarations for BTF types (`struct task_struct *real_parent`, `char comm[16]`,
//! `void (*fn)(int)`), for layouts and reports. Depth-bounded: cycles end as `...`.
//!
//! Bounded for hostile BTF: each reference chain follows at most [`MAX_RESOLVE_DEPTH`] types,
//! one declaration visits at most [`MAX_DECL_TYPES`] types in all (function prototypes whose
//! parameters are function prototypes would otherwise fan out exponentially, or recurse
//! forever through a cycle) and stops growing past [`MAX_DECL_LEN`] bytes.

use super::{Btf, Kind, MAX_RESOLVE_DEPTH};

/// Types one declaration may visit, parameters of nested function prototypes included.
pub(crate) const MAX_DECL_TYPES: usize = 256;
/// Length past which a declaration is cut short with `...`.
pub const MAX_DECL_LEN: usize = 4096;

/// The C name of a type on its own: `struct task_struct`, `unsigned int`, `void *`.
pub fn type_name(btf: &Btf, id: u32) -> String {
    declaration(btf, id, "")
}

/// A C declaration of `name` with type `id` (`name` may be empty).
pub fn declaration(btf: &Btf, id: u32, name: &str) -> String {
    let mut budget = MAX_DECL_TYPES;
    bounded(btf, id, name, &mut budget)
}

/// [`declaration`], drawing on a budget of types shared with nested parameter declarations.
fn bounded(btf: &Btf, id: u32, name: &str, budget: &mut usize) -> String {
    let mut decl = name.to_owned();
    let mut id = id;
    let mut quals = String::new();
    for _ in 0..MAX_RESOLVE_DEPTH {
        if *budget == 0 || decl.len() > MAX_DECL_LEN {
            break;
        }
        *budget -= 1;
        let Some(t) = btf.type_by_id(id) else {
            return join(&format!("<invalid type [{id}]>"), &decl);
        };
        match t.kind() {
            Kind::Unkn => return join(&format!("{quals}void"), &decl),
            Kind::Ptr => {
                let target = btf.type_by_id(t.type_id());
                decl = format!("*{quals}{}", decl.trim_start());
                quals.clear();
                if target.is_some_and(|p| matches!(p.kind(), Kind::Array | Kind::FuncProto)) {
                    decl = format!("({decl})");
                }
                id = t.type_id();
            }
            Kind::Array => {
                let a = t.array().expect("array");
                decl = format!("{decl}[{}]", a.nelems);
                id = a.elem_type;
            }
            Kind::FuncProto => {
                let mut params: Vec<String> = Vec::new();
                let mut len = 0;
                for p in t.params() {
                    // Each parameter costs one type from the budget, `...` ones included.
                    if *budget == 0 || len > MAX_DECL_LEN {
                        params.push("...".to_owned());
                        break;
                    }
                    *budget -= 1;
                    let param = if p.type_id == 0 {
                        "...".to_owned()
                    } else {
                        bounded(btf, p.type_id, "", budget)
                    };
                    len += param.len();
                    params.push(param);
                }
                let params = if params.is_empty() {
                    "void".to_owned()
                } else {
                    params.join(", ")
                };
                decl = format!("{decl}({params})");
                id = t.type_id();
            }
            Kind::Const | Kind::Volatile | Kind::Restrict => {
                let q = match t.kind() {
                    Kind::Const => "const ",
                    Kind::Volatile => "volatile ",
                    _ => "restrict ",
                };
                quals = format!("{q}{quals}");
                id = t.type_id();
            }
            Kind::TypeTag | Kind::DeclTag | Kind::Var => id = t.type_id(),
            Kind::Func => return join(&format!("{quals}{}", btf.name_of(&t)), &decl),
            _ => {
                let name = btf.name_of(&t);
                let base = match t.kind() {
                    Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Fwd => {
                        let kw = match t.kind() {
                            Kind::Struct => "struct",
                            Kind::Union => "union",
                            Kind::Fwd if t.kflag() => "union",
                            Kind::Fwd => "struct",
                            _ => "enum",
                        };
                        if name.is_empty() {
                            format!("{kw} {{...}}")
                        } else {
                            format!("{kw} {name}")
                        }
                    }
                    _ => name.to_owned(),
                };
                return join(&format!("{quals}{base}"), &decl);
            }
        }
    }
    join("...", &decl)
}

fn join(base: &str, decl: &str) -> String {
    if decl.is_empty() {
        base.to_owned()
    } else if decl.starts_with('*') || decl.starts_with('(') {
        format!("{base} {decl}")
    } else if decl.starts_with('[') {
        format!("{base}{decl}")
    } else {
        format!("{base} {decl}")
    }
}
