//! `diff --history TYPE.MEMBER`: one member's story over a list of kernels: where it first
//! appears, moves, changes type, is probably renamed (followed under its new name), and
//! disappears.

use serde::Serialize;

use super::members::{diff_members, flatten, match_members};
use super::model::{Change, MemberAt};
use super::types::Index;

/// What happened to the member on one kernel, against the kernel before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The type is not in this kernel's BTF.
    NoType,
    /// The type is there, the member is not.
    Absent,
    /// First seen (on the first kernel: present).
    Appears,
    Unchanged,
    /// Another offset: `shifted` when the members before it moved it (an insertion or a
    /// resize), else moved on its own.
    Moved {
        old_bit_offset: u64,
        shifted: bool,
    },
    /// Another type, size or bitfield width.
    Retyped {
        old_type: String,
    },
    /// Gone, and another member in its place: followed under the new name.
    Renamed {
        old_name: String,
    },
    Disappears,
}

/// One kernel's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Step {
    /// The kernel's label (release, else file name).
    pub kernel: String,
    /// Every event on this kernel (a rename can also retype and move).
    pub events: Vec<Event>,
    /// The member on this kernel, when present.
    pub member: Option<MemberAt>,
}

/// The member's story across `kernels` (label, types), in that order.
pub fn history(ty: &str, member: &str, kernels: &[(String, &Index<'_>)]) -> Vec<Step> {
    let mut out = Vec::new();
    let mut name = member.to_owned();
    let mut prev: Option<(Vec<MemberAt>, Option<MemberAt>)> = None;
    for (label, idx) in kernels {
        let Some(t) = idx.composite(ty) else {
            let events = if prev.as_ref().is_some_and(|p| p.1.is_some()) {
                vec![Event::NoType, Event::Disappears]
            } else {
                vec![Event::NoType]
            };
            out.push(Step {
                kernel: label.clone(),
                events,
                member: None,
            });
            prev = Some((Vec::new(), None));
            continue;
        };
        let members = flatten(idx, t.id);
        let mut events = Vec::new();
        let mut here = members.iter().find(|m| m.name == name).cloned();
        match &prev {
            None => events.push(if here.is_some() {
                Event::Appears
            } else {
                Event::Absent
            }),
            Some((pm, Some(was))) => {
                if here.is_none() {
                    // A probable rename between the two kernels.
                    let m = match_members(pm, &members);
                    let pi = pm.iter().position(|m| m.name == was.name);
                    let renamed = m
                        .renamed
                        .iter()
                        .find(|(o, _)| Some(*o) == pi)
                        .map(|&(_, n)| members[n].clone());
                    if let Some(r) = renamed {
                        events.push(Event::Renamed {
                            old_name: name.clone(),
                        });
                        name = r.name.clone();
                        here = Some(r);
                    }
                }
                match &here {
                    None => events.push(Event::Disappears),
                    Some(h) => {
                        if h.ty != was.ty
                            || h.size != was.size
                            || h.bitfield_size != was.bitfield_size
                        {
                            events.push(Event::Retyped {
                                old_type: was.ty.clone(),
                            });
                        }
                        if h.bit_offset != was.bit_offset {
                            let moved = diff_members(pm, &members).iter().any(|c| {
                                matches!(c, Change::MemberMoved { old, .. } if old.name == was.name)
                            });
                            events.push(Event::Moved {
                                old_bit_offset: was.bit_offset,
                                shifted: !moved,
                            });
                        }
                        if events.is_empty() {
                            events.push(Event::Unchanged);
                        }
                    }
                }
            }
            Some((_, None)) => events.push(if here.is_some() {
                Event::Appears
            } else {
                Event::Absent
            }),
        }
        out.push(Step {
            kernel: label.clone(),
            events,
            member: here.clone(),
        });
        prev = Some((members, here));
    }
    out
}

/// Order kernels by release (`5.10.0-46-amd64` < `6.1.0-57-amd64` < `6.12.117+deb12-amd64`):
/// the numbers in the release compared in turn.
pub fn release_key(release: &str) -> Vec<u64> {
    release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(u64::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::release_key;

    #[test]
    fn releases_sort_numerically() {
        let mut r = vec!["6.12.117+deb12-amd64", "5.10.0-46-amd64", "6.1.0-57-amd64"];
        r.sort_by_key(|r| release_key(r));
        assert_eq!(
            r,
            ["5.10.0-46-amd64", "6.1.0-57-amd64", "6.12.117+deb12-amd64"]
        );
    }
}
