//! `coretool generate` (hidden): shell completions and man pages from the clap definitions, and
//! the JSON Schemas of every `--json` document from the types the documents are serialized
//! from ([`SCHEMAS`]), for packagers and `cargo xtask`; the checked-in copies under docs/ are
//! kept fresh by tests (tests/generated.rs, tests/schemas.rs).
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

use super::GlobalOpts;
use crate::cli::Cli;
use crate::render::{btf_json, check, compat};

/// One published document: its schema name (`coretool.<cmd>/vN`, what its `schema` key says)
/// and the type the command serializes it from.
pub(crate) struct SchemaEntry {
    pub(crate) id: &'static str,
    schema: fn() -> Schema,
}

const fn entry<T: JsonSchema>(id: &'static str) -> SchemaEntry {
    SchemaEntry {
        id,
        schema: schema_of::<T>,
    }
}

/// Every `--json` document, written to `docs/schemas/<cmd>.json`. A new command's schema is
/// one line here: `entry::<TheDocumentType>(THE_SCHEMA_NAME)` (docs/ci.md, "JSON Schemas").
pub(crate) const SCHEMAS: &[SchemaEntry] = &[
    entry::<btf_json::BtfJson>(btf_json::SCHEMA),
    entry::<super::relocs::RelocsJson>(super::relocs::JSON_SCHEMA),
    entry::<coretool::dryrun::report::Document>(coretool::dryrun::report::SCHEMA),
    entry::<check::CheckJson>(coretool::check::SCHEMA),
    entry::<super::selftest::ReportJson>(super::selftest::SCHEMA),
    entry::<super::monitor::MonitorLine>(super::monitor::SCHEMA),
    entry::<compat::Record>(coretool::compat::SCHEMA),
    entry::<super::btf::WrittenDoc>(super::btf::WRITTEN_SCHEMA),
    entry::<crate::render::diff::Document>(crate::render::diff::SCHEMA),
    entry::<crate::render::btfgen::BtfgenJson>(coretool::btfgen::SCHEMA),
    entry::<crate::render::requires::Record>(crate::render::requires::SCHEMA),
];

impl SchemaEntry {
    /// `coretool.check-btf/v1` -> `check-btf.json`.
    pub(crate) fn file_name(&self) -> String {
        let cmd = self.id.strip_prefix("coretool.").unwrap_or(self.id);
        let cmd = cmd.split('/').next().unwrap_or(cmd);
        format!("{cmd}.json")
    }

    /// The schema, pinned to this name: its title, and every object with a `schema` key
    /// (the document, or each kind of line) requires exactly this name there.
    pub(crate) fn schema(&self) -> Schema {
        let mut schema = (self.schema)();
        let obj = schema.ensure_object();
        obj.insert("title".into(), self.id.into());
        let pin = |o: &mut serde_json::Map<String, serde_json::Value>| {
            if let Some(p) = o.get_mut("properties").and_then(|p| p.get_mut("schema")) {
                *p = serde_json::json!({ "type": "string", "const": self.id });
            }
        };
        pin(obj);
        if let Some(defs) = obj.get_mut("$defs").and_then(|d| d.as_object_mut()) {
            defs.values_mut()
                .filter_map(|d| d.as_object_mut())
                .for_each(pin);
        }
        schema
    }
}

/// `T`'s schema as serialized (JSON Schema 2020-12): `Option` fields are present and may be
/// null unless skipped when `None`.
fn schema_of<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// What to write
    #[arg(value_enum)]
    pub what: What,
    /// The directory to write into
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum What {
    /// bash, zsh and fish completions: coretool.bash, _coretool, coretool.fish
    Completions,
    /// man pages: coretool.1 and coretool-COMMAND.1 for each command
    Man,
    /// JSON Schemas of the --json documents: COMMAND.json for each
    Schemas,
}

pub fn run(args: GenerateArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    match args.what {
        What::Completions => completions(&args.dir)?,
        What::Man => man_pages(&args.dir)?,
        What::Schemas => schemas(&args.dir)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn completions(dir: &Path) -> anyhow::Result<()> {
    use clap_complete::{generate, Shell};
    for (shell, file) in [
        (Shell::Bash, "coretool.bash"),
        (Shell::Zsh, "_coretool"),
        (Shell::Fish, "coretool.fish"),
    ] {
        let mut out = Vec::new();
        generate(shell, &mut Cli::command(), "coretool", &mut out);
        write(&dir.join(file), &out)?;
    }
    Ok(())
}

fn man_pages(dir: &Path) -> anyhow::Result<()> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    write(&dir.join("coretool.1"), &out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("coretool-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("coretool {}", sub.get_name()));
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
        write(&dir.join(format!("{name}.1")), &out)?;
    }
    Ok(())
}

fn schemas(dir: &Path) -> anyhow::Result<()> {
    for e in SCHEMAS {
        let mut text = serde_json::to_string_pretty(&e.schema())?;
        text.push('\n');
        write(&dir.join(e.file_name()), text.as_bytes())?;
    }
    Ok(())
}
