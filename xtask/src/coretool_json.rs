//! The typed view of the coretool `--json` outputs that the kernel matrix judges and the library
//! has no model of: `coretool.btf/v1`, `coretool.check-btf/v1` and `coretool.selftest/v1`
//! (docs/btf.md, docs/check-btf.md, docs/selftest.md). `coretool.dry-run/v2` is read with the
//! library's own types (`coretool::dryrun::report`), which the binary writes.
//!
//! Every field is optional or defaulted: a file that is JSON but lacks a field reads as that
//! field missing (the judgement then says what is missing) rather than as a broken file. Only
//! the fields the matrix reads are typed.

use serde::Deserialize;
use serde_json::Value;

/// `coretool --json btf [--btf SRC] --kind struct task_struct` (`coretool.btf/v1`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Btf {
    pub source: Option<BtfSource>,
    pub types: Vec<BtfType>,
}

/// Where a BTF dump came from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BtfSource {
    /// How many types the source holds.
    pub types: Option<u64>,
    /// The kernel release, when the source names one.
    pub release: Option<String>,
}

/// One dumped type. `raw` keeps the whole record: two dumps agree when their records are equal,
/// including fields this view does not name.
#[derive(Debug, Clone, Default)]
pub struct BtfType {
    pub id: Option<u64>,
    pub size: Option<u64>,
    pub member_names: Vec<Option<String>>,
    pub raw: Value,
}

impl<'de> Deserialize<'de> for BtfType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Fields {
            id: Option<u64>,
            size: Option<u64>,
            members: Vec<Member>,
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Member {
            name: Option<String>,
        }
        let raw = Value::deserialize(d)?;
        let f = Fields::deserialize(&raw).map_err(serde::de::Error::custom)?;
        Ok(BtfType {
            id: f.id,
            size: f.size,
            member_names: f.members.into_iter().map(|m| m.name).collect(),
            raw,
        })
    }
}

impl PartialEq for BtfType {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

/// `coretool --json check-btf` (`coretool.check-btf/v1`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CheckBtf {
    /// Whether a CO-RE program can load on this kernel.
    pub can_load: Option<bool>,
    pub checks: Vec<Check>,
}

/// One named check of check-btf or selftest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Check {
    pub name: Option<String>,
    /// `ok`, `warn`, `fail`, `skip`, ...
    pub status: Option<String>,
}

/// `coretool --json selftest` (`coretool.selftest/v1`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Selftest {
    pub summary: Option<SelftestSummary>,
    pub checks: Vec<Check>,
}

/// selftest's counts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SelftestSummary {
    pub pass: Option<u64>,
    pub fail: Option<u64>,
    pub skip: Option<u64>,
}
