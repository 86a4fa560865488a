//! Renderers: the library's models as text, tables and JSON. Analysis never happens here, and
//! nothing here decides where output goes (`crate::output` does) or parses arguments.
//!
//! Every JSON schema is a set of `#[derive(Serialize)]` view structs next to its text renderer
//! (here for `btf` and `check-btf`, in the command's own module for the others), serialized
//! straight into the writer: no `serde_json::Value` tree is built, so a full vmlinux (100k+
//! types) streams type by type.
//!
//! This tree depends only on the `coretool` library and on itself (siblings through `super::`),
//! so a test crate can include it with `#[path]` and check the renderers on fixture models
//! (`tests/check_btf_fixtures.rs` does).

pub mod btf_json;
pub mod btf_raw;
pub mod btfgen;
pub mod check;
pub mod compat;
pub mod diff;
pub mod dry_run;
pub mod layout;
pub mod markdown;
pub mod requires;
pub mod table;

use owo_colors::OwoColorize;

/// `#[schemars(schema_with = "...")]` for a `&'static str` field whose values are a fixed set:
/// `one_of_schema!(fn_name, expr yielding the names)`.
macro_rules! one_of_schema {
    ($name:ident, $names:expr) => {
        fn $name(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
            let names: Vec<&str> = $names.into_iter().collect();
            schemars::json_schema!({ "type": "string", "enum": names })
        }
    };
}
pub(crate) use one_of_schema;

/// A small palette: renderers call these so that colour is decided in one place (the caller
/// passes `--color`/`NO_COLOR`'s verdict to [`Style::new`]). Painted text is
/// `ESC[<code>m text ESC[0m`.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn new(color: bool) -> Self {
        Style { color }
    }
    fn paint(&self, s: &str, style: owo_colors::Style) -> String {
        if self.color {
            s.style(style).to_string()
        } else {
            s.to_owned()
        }
    }
    pub fn ok(&self, s: &str) -> String {
        self.paint(s, owo_colors::Style::new().green())
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint(s, owo_colors::Style::new().yellow())
    }
    pub fn fail(&self, s: &str) -> String {
        self.paint(s, owo_colors::Style::new().red())
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint(s, owo_colors::Style::new().dimmed())
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(s, owo_colors::Style::new().bold())
    }
}

#[cfg(test)]
mod tests {
    use super::Style;

    #[test]
    fn paints_only_when_asked() {
        let on = Style::new(true);
        assert_eq!(on.ok("ok"), "\x1b[32mok\x1b[0m");
        assert_eq!(on.warn("w"), "\x1b[33mw\x1b[0m");
        assert_eq!(on.fail("f"), "\x1b[31mf\x1b[0m");
        assert_eq!(on.dim("d"), "\x1b[2md\x1b[0m");
        assert_eq!(on.bold("b"), "\x1b[1mb\x1b[0m");
        assert_eq!(Style::new(false).fail("f"), "f");
    }
}
