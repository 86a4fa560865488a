//! `coretool diff` as text: one block per changed type, one line per change with a marker in
//! the manner of a unified diff (`+` added, `-` removed, `~` renamed, `!` retyped or
//! renumbered, `*` moved, `>` shifted); `--for` as one block per reached item with its
//! relocations and the verdict on NEW; `--history` as one line per kernel. And the
//! `coretool.diff/v1` document.

use std::io::{self, Write};

use serde::Serialize;

use coretool::diff::{
    Change, Consequence, Diff, Event, Fix, MemberAt, Scoped, Step, Touch, TypeDiff, Verdict,
};

use super::Style;

/// The schema name every document carries.
pub const SCHEMA: &str = "coretool.diff/v1";

/// One kernel as the document names it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct KernelDoc {
    pub source: String,
    pub release: Option<String>,
}

/// `coretool diff --json`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Document<'a> {
    pub schema: &'static str,
    /// OLD then NEW (or every kernel of `--history`, in the order used).
    pub kernels: Vec<KernelDoc>,
    /// Something changed (what the exit status says).
    pub changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<&'a Diff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<&'a [Scoped]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryDoc<'a>>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct HistoryDoc<'a> {
    #[serde(rename = "type")]
    pub ty: &'a str,
    pub member: &'a str,
    pub steps: &'a [Step],
}

/// `24`, or `16.3` for a bit offset inside a byte (libbpf's notation).
fn off(bits: u64) -> String {
    if bits % 8 == 0 {
        (bits / 8).to_string()
    } else {
        format!("{}.{}", bits / 8, bits % 8)
    }
}

fn signed_bytes(bits: i64) -> String {
    if bits % 8 == 0 {
        format!(
            "{:+} byte{}",
            bits / 8,
            if bits.abs() == 8 { "" } else { "s" }
        )
    } else {
        format!("{bits:+} bits")
    }
}

/// `unsigned int:3 @16.3`.
fn at(m: &MemberAt) -> String {
    let bits = if m.bitfield_size > 0 {
        format!(":{}", m.bitfield_size)
    } else {
        String::new()
    };
    format!("{}{bits} @{}", m.ty, off(m.bit_offset))
}

/// What changed between two versions of one member's type: `long -> int`, `size 16 -> 24`.
fn retype(o: &MemberAt, n: &MemberAt) -> String {
    let mut parts = Vec::new();
    if o.ty != n.ty {
        parts.push(format!("{} -> {}", o.ty, n.ty));
    }
    if o.bitfield_size != n.bitfield_size {
        parts.push(format!("bits {} -> {}", o.bitfield_size, n.bitfield_size));
    }
    if o.size != n.size {
        let s = |v: Option<u64>| v.map_or("?".to_owned(), |v| v.to_string());
        parts.push(format!("size {} -> {}", s(o.size), s(n.size)));
    }
    parts.join(", ")
}

/// The marker and text of one change line.
fn change_line(c: &Change) -> (char, String) {
    match c {
        Change::TypeRemoved => ('-', "only in OLD".into()),
        Change::TypeAdded => ('+', "only in NEW".into()),
        Change::KindChanged { old, new } => ('!', format!("kind {old} -> {new}")),
        Change::SizeChanged { old, new } => ('!', format!("size {old} -> {new}")),
        Change::MemberAdded { member } => ('+', format!("{}: {}", member.name, at(member))),
        Change::MemberRemoved { member } => ('-', format!("{}: {}", member.name, at(member))),
        Change::MemberRenamed { old, new, retyped } => (
            '~',
            format!(
                "{} -> {}: probably renamed{} @{} -> {}",
                old.name,
                new.name,
                if *retyped {
                    format!(", {}", retype(old, new))
                } else {
                    String::new()
                },
                off(old.bit_offset),
                off(new.bit_offset)
            ),
        ),
        Change::MemberMoved { old, new } => (
            '*',
            format!(
                "{}: moved @{} -> {}",
                old.name,
                off(old.bit_offset),
                off(new.bit_offset)
            ),
        ),
        Change::Shifted {
            from,
            by_bits,
            count,
        } => (
            '>',
            if *count > 1 {
                format!(
                    "{from} and the {} member{} after it: shifted {}",
                    count - 1,
                    if *count == 2 { "" } else { "s" },
                    signed_bytes(*by_bits)
                )
            } else {
                format!("{from}: shifted {}", signed_bytes(*by_bits))
            },
        ),
        Change::MemberRetyped { old, new } => ('!', format!("{}: {}", old.name, retype(old, new))),
        Change::MemberShifted { old, new } => (
            '>',
            format!(
                "{}: @{} -> {} (shifted by the members before it)",
                old.name,
                off(old.bit_offset),
                off(new.bit_offset)
            ),
        ),
        Change::EnumValueAdded { name, value } => ('+', format!("{name} = {value}")),
        Change::EnumValueRemoved { name, value } => ('-', format!("{name} = {value}")),
        Change::EnumValueRenumbered { name, old, new } => ('!', format!("{name}: {old} -> {new}")),
        Change::TargetChanged { old, new } => ('!', format!("typedef of {old} -> {new}")),
        Change::ReturnChanged { old, new } => ('!', format!("returns {old} -> {new}")),
        Change::ParamCountChanged { old, new } => ('!', format!("parameters {old} -> {new}")),
        Change::ParamRetyped {
            index,
            name,
            old,
            new,
        } => (
            '!',
            if name.is_empty() {
                format!("parameter #{index}: {old} -> {new}")
            } else {
                format!("parameter #{index} {name}: {old} -> {new}")
            },
        ),
    }
}

fn paint(style: Style, marker: char, text: &str) -> String {
    match marker {
        '+' => style.ok(text),
        '-' => style.fail(text),
        '~' | '!' | '*' => style.warn(text),
        _ => style.dim(text),
    }
}

fn write_change(out: &mut impl Write, style: Style, indent: &str, c: &Change) -> io::Result<()> {
    let (m, text) = change_line(c);
    writeln!(out, "{indent}{}", paint(style, m, &format!("{m} {text}")))
}

fn write_type(out: &mut impl Write, style: Style, t: &TypeDiff) -> io::Result<()> {
    match t.changes.as_slice() {
        [one @ (Change::TypeAdded | Change::TypeRemoved)] => {
            let (m, text) = change_line(one);
            writeln!(
                out,
                "{}",
                paint(style, m, &format!("{m} {} ({text})", t.ty.text()))
            )
        }
        changes => {
            writeln!(out, "{}", style.bold(&t.ty.text()))?;
            for c in changes {
                write_change(out, style, "  ", c)?;
            }
            Ok(())
        }
    }
}

/// The type diff: a heading, then one block per changed type.
pub fn write_diff(
    out: &mut impl Write,
    style: Style,
    old: &str,
    new: &str,
    d: &Diff,
) -> io::Result<()> {
    writeln!(
        out,
        "{old} -> {new}: {} of {} type{} changed",
        d.types.len(),
        d.compared,
        if d.compared == 1 { "" } else { "s" }
    )?;
    for t in &d.types {
        write_type(out, style, t)?;
    }
    Ok(())
}

fn side_value(s: &Option<coretool::diff::scope::Side>) -> String {
    match s {
        None => "-".into(),
        Some(s) => match (s.status.as_str(), s.value) {
            ("poisoned", _) => "POISON".into(),
            ("error", _) => "ERROR".into(),
            ("not-run", _) => "not run".into(),
            (_, Some(v)) => v.to_string(),
            (_, None) => "-".into(),
        },
    }
}

fn verdict_text(c: &Consequence) -> String {
    match &c.verdict {
        Verdict::Unchanged => "unchanged".into(),
        Verdict::Relocated => "relocated".into(),
        Verdict::Absent => "absent on NEW (the existence check answers 0)".into(),
        Verdict::PoisonedGuarded { guard: Some(g) } => format!(
            "poisoned (guarded by {} #{}{})",
            g.kind,
            g.index,
            g.line
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default()
        ),
        Verdict::PoisonedGuarded { guard: None } => "poisoned (dead code on NEW)".into(),
        Verdict::FailsToLoad => "poisoned, unguarded: the program fails to load".into(),
        Verdict::Error { message } => format!("libbpf error: {message}"),
        Verdict::NotComputed => "not relocated (the engine stopped before it)".into(),
    }
}

fn write_fix(out: &mut impl Write, style: Style, f: &Fix) -> io::Result<()> {
    writeln!(out, "  {}", style.bold(&format!("fix ({}):", f.helper)))?;
    for l in f.c.lines() {
        if l.is_empty() {
            writeln!(out)?;
        } else {
            writeln!(out, "    {}", l.replace('\t', "    "))?;
        }
    }
    Ok(())
}

fn write_touch(out: &mut impl Write, style: Style, t: &Touch) -> io::Result<()> {
    writeln!(out, "{}", style.bold(&t.touched.text()))?;
    for c in &t.changes {
        // A member's parent type that only one kernel has.
        if let (
            coretool::diff::Touched::Member { parent, .. },
            Change::TypeAdded | Change::TypeRemoved,
        ) = (&t.touched, c)
        {
            let (m, text) = change_line(c);
            writeln!(
                out,
                "  {}",
                paint(style, m, &format!("{m} {parent}: {text}"))
            )?;
            continue;
        }
        write_change(out, style, "  ", c)?;
    }
    if !t.programs.is_empty() {
        writeln!(out, "  attached by {}", t.programs.join(", "))?;
    }
    for c in &t.relocations {
        let r = &c.relocation;
        let verdict = verdict_text(c);
        let verdict = match c.verdict {
            Verdict::FailsToLoad | Verdict::Error { .. } => style.fail(&verdict),
            Verdict::PoisonedGuarded { .. } | Verdict::Absent | Verdict::Relocated => {
                style.warn(&verdict)
            }
            _ => verdict,
        };
        writeln!(
            out,
            "  relocation #{} {} {} in {}{}: {} -> {}: {verdict}",
            r.index,
            r.kind,
            r.accessor,
            r.program,
            r.line
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default(),
            side_value(&c.old),
            side_value(&c.new),
        )?;
    }
    if let Some(f) = &t.fix {
        write_fix(out, style, f)?;
    }
    Ok(())
}

/// `--for`: per object, the items that changed in full, then the unchanged ones by name.
pub fn write_scoped(
    out: &mut impl Write,
    style: Style,
    old: &str,
    new: &str,
    s: &Scoped,
) -> io::Result<()> {
    let changed: Vec<&Touch> = s.touches.iter().filter(|t| t.changed()).collect();
    writeln!(
        out,
        "{}: {old} -> {new}: {} of the {} item{} it reaches changed",
        style.bold(&s.object),
        changed.len(),
        s.touches.len(),
        if s.touches.len() == 1 { "" } else { "s" }
    )?;
    for t in &changed {
        write_touch(out, style, t)?;
    }
    let same: Vec<String> = s
        .touches
        .iter()
        .filter(|t| !t.changed())
        .map(|t| t.touched.text())
        .collect();
    if !same.is_empty() {
        writeln!(
            out,
            "{}",
            style.dim(&format!("unchanged: {}", same.join(", ")))
        )?;
    }
    Ok(())
}

fn event_text(e: &Event, step: &Step) -> String {
    match e {
        Event::NoType => "type absent".into(),
        Event::Absent => "absent".into(),
        Event::Appears => "appears".into(),
        Event::Unchanged => "unchanged".into(),
        Event::Moved {
            old_bit_offset,
            shifted,
        } => format!(
            "{} @{} -> {}",
            if *shifted { "shifted" } else { "moved" },
            off(*old_bit_offset),
            step.member
                .as_ref()
                .map_or("?".into(), |m| off(m.bit_offset))
        ),
        Event::Retyped { old_type } => format!(
            "retyped {old_type} -> {}",
            step.member.as_ref().map_or("?", |m| m.ty.as_str())
        ),
        Event::Renamed { old_name } => format!(
            "probably renamed {old_name} -> {}",
            step.member.as_ref().map_or("?", |m| m.name.as_str())
        ),
        Event::Disappears => "disappears".into(),
    }
}

/// `--history`: one line per kernel.
pub fn write_history(
    out: &mut impl Write,
    style: Style,
    ty: &str,
    member: &str,
    steps: &[Step],
) -> io::Result<()> {
    writeln!(
        out,
        "{ty}.{member} over {} kernel{}",
        steps.len(),
        if steps.len() == 1 { "" } else { "s" }
    )?;
    let width = steps.iter().map(|s| s.kernel.len()).max().unwrap_or(0);
    for s in steps {
        let events: Vec<String> = s.events.iter().map(|e| event_text(e, s)).collect();
        let events = events.join(", ");
        let quiet = matches!(s.events.as_slice(), [Event::Unchanged]);
        let events = if quiet {
            style.dim(&events)
        } else {
            style.warn(&events)
        };
        let member = s.member.as_ref().map_or(String::new(), |m| {
            format!(
                "  {} {}{}",
                m.name,
                at(m),
                m.size.map(|s| format!(" ({s} bytes)")).unwrap_or_default()
            )
        });
        writeln!(out, "{:width$}  {events}{member}", s.kernel)?;
    }
    Ok(())
}
