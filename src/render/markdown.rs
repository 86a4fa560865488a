//! Markdown tables, as GitHub renders them in a job summary (`$GITHUB_STEP_SUMMARY`) or a
//! comment: shared by `compat --format markdown` and `dry-run --format markdown`.

use std::io::{self, Write};

/// A table cell: no pipes, no newlines.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Code in a cell (`` `text` ``), escaped as a cell.
pub fn code(s: &str) -> String {
    format!("`{}`", cell(&s.replace('`', "'")))
}

/// A column: its heading and whether it is numeric (right-aligned).
pub struct Column<'a> {
    pub name: &'a str,
    pub numeric: bool,
}

/// `name` left-aligned.
pub const fn text(name: &str) -> Column<'_> {
    Column {
        name,
        numeric: false,
    }
}

/// `name` right-aligned.
pub const fn number(name: &str) -> Column<'_> {
    Column {
        name,
        numeric: true,
    }
}

/// The heading and alignment rows of a table.
pub fn header(w: &mut impl Write, columns: &[Column]) -> io::Result<()> {
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let rules: Vec<&str> = columns
        .iter()
        .map(|c| if c.numeric { "---:" } else { "---" })
        .collect();
    writeln!(w, "| {} |", names.join(" | "))?;
    writeln!(w, "| {} |", rules.join(" | "))
}

/// One row; the cells are written as given (escape them with [`cell`] or [`code`]).
pub fn row(w: &mut impl Write, cells: &[String]) -> io::Result<()> {
    writeln!(w, "| {} |", cells.join(" | "))
}
