//! Suggested fixes for the change patterns CO-RE has an idiom for, as short C snippets: a
//! `___flavor` struct with `bpf_core_field_exists` for a renamed or removed member,
//! `bpf_core_type_matches` for a retyped one, `bpf_core_enum_value` for a renumbered
//! enumerator, `bpf_core_enum_value_exists` / `bpf_core_type_exists` for removals.

use serde::Serialize;

use super::model::{Change, MemberAt, TypeClass};
use super::scope::Touched;
use super::types::Index;

/// A fix: the idiom's name and the C to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Fix {
    /// `bpf_core_field_exists`, `bpf_core_type_matches`, ...
    pub helper: String,
    pub c: String,
}

/// `long state` from a member's C type and name (arrays and function pointers included).
fn decl(m: &MemberAt, name: &str) -> String {
    let ty = &m.ty;
    let field = if m.bitfield_size > 0 {
        format!("{name}:{}", m.bitfield_size)
    } else {
        name.to_owned()
    };
    // `char[16]` -> `char name[16]`; `void (*)(int)` -> `void (*name)(int)`.
    if let Some(i) = ty.find("(*)") {
        return format!("{}(*{field}){}", &ty[..i], &ty[i + 3..]);
    }
    if let Some(i) = ty.find('[') {
        return format!("{} {field}{}", ty[..i].trim_end(), &ty[i..]);
    }
    if ty.ends_with('*') {
        return format!("{ty}{field}");
    }
    format!("{ty} {field}")
}

fn keyword(idx: &Index<'_>, parent: &str) -> &'static str {
    match idx.get(TypeClass::Composite, parent).map(|t| t.kind()) {
        Some(crate::btf::Kind::Union) => "union",
        _ => "struct",
    }
}

/// The fix for `touched` given its `changes`, when the pattern is known.
pub fn suggest(
    old: &Index<'_>,
    new: &Index<'_>,
    touched: &Touched,
    changes: &[Change],
) -> Option<Fix> {
    match touched {
        Touched::Member { parent, member } => {
            for c in changes {
                let (gone, instead) = match c {
                    Change::MemberRemoved { member } => (member, None),
                    Change::MemberRenamed { old, new, .. } if old.name == *member => {
                        (old, Some(new))
                    }
                    Change::MemberRetyped { old: o, new: n } if o.ty != n.ty => {
                        let kw = keyword(new, parent);
                        let c = format!(
                            "/* {parent}.{member}: {} on OLD, {} on NEW */\n\
                             {kw} {parent}___new {{\n\t{};\n}} __attribute__((preserve_access_index));\n\n\
                             if (bpf_core_type_matches({kw} {parent}___new))\n\
                             \tv = BPF_CORE_READ(({kw} {parent}___new *)p, {member});\n\
                             else\n\
                             \tv = BPF_CORE_READ(p, {member});",
                            o.ty,
                            n.ty,
                            decl(n, member),
                        );
                        return Some(Fix {
                            helper: "bpf_core_type_matches".into(),
                            c,
                        });
                    }
                    _ => continue,
                };
                let kw = keyword(old, parent);
                let other = match instead {
                    Some(n) => format!("\tv = BPF_CORE_READ(p, {});", n.name),
                    None => format!("\t/* no {member} on this kernel */"),
                };
                let c = format!(
                    "/* {parent}.{member} is {} on NEW */\n\
                     {kw} {parent}___old {{\n\t{};\n}} __attribute__((preserve_access_index));\n\n\
                     if (bpf_core_field_exists((({kw} {parent}___old *)p)->{member}))\n\
                     \tv = BPF_CORE_READ(({kw} {parent}___old *)p, {member});\n\
                     else\n{other}",
                    match instead {
                        Some(n) => format!("probably renamed {}", n.name),
                        None => "gone".to_owned(),
                    },
                    decl(gone, member),
                );
                return Some(Fix {
                    helper: "bpf_core_field_exists".into(),
                    c,
                });
            }
            None
        }
        Touched::EnumValue { enum_name, value } => changes.iter().find_map(|c| match c {
            Change::EnumValueRenumbered { old, new, .. } => Some(Fix {
                helper: "bpf_core_enum_value".into(),
                c: format!(
                    "/* {value} is {old} on OLD, {new} on NEW: ask the kernel */\n\
                     v = bpf_core_enum_value(enum {enum_name}, {value});"
                ),
            }),
            Change::EnumValueRemoved { .. } | Change::TypeRemoved => Some(Fix {
                helper: "bpf_core_enum_value_exists".into(),
                c: format!(
                    "if (bpf_core_enum_value_exists(enum {enum_name}, {value}))\n\
                     \tv = bpf_core_enum_value(enum {enum_name}, {value});"
                ),
            }),
            _ => None,
        }),
        Touched::Type { class, name } if changes.contains(&Change::TypeRemoved) => {
            let kw = match class {
                TypeClass::Composite => keyword(old, name),
                TypeClass::Enum => "enum",
                _ => "",
            };
            let ty = if kw.is_empty() {
                name.clone()
            } else {
                format!("{kw} {name}")
            };
            Some(Fix {
                helper: "bpf_core_type_exists".into(),
                c: format!("if (bpf_core_type_exists({ty})) {{\n\t/* only here may the program use {ty} */\n}}"),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ty: &str, bits: u32) -> MemberAt {
        MemberAt {
            name: "x".into(),
            bit_offset: 0,
            bitfield_size: bits,
            ty: ty.into(),
            size: None,
        }
    }

    #[test]
    fn declarations_put_the_name_where_c_wants_it() {
        assert_eq!(decl(&m("volatile long", 0), "state"), "volatile long state");
        assert_eq!(decl(&m("char[16]", 0), "comm"), "char comm[16]");
        assert_eq!(
            decl(&m("struct task_struct *", 0), "p"),
            "struct task_struct *p"
        );
        assert_eq!(decl(&m("void (*)(int)", 0), "fn"), "void (*fn)(int)");
        assert_eq!(decl(&m("unsigned int", 3), "f"), "unsigned int f:3");
    }
}
