//! The typed view of coretool's `--json` outputs that the kernel matrix judges:
//! `coretool.dry-run/v1`, `coretool.btf/v1`, `coretool.check-btf/v1` and `coretool.selftest/v1`.
//!
//! This is the one place in the xtask that knows those schemas (docs/dry-run.md, docs/btf.md,
//! docs/check-btf.md, docs/selftest.md), so that it can later be swapped for the library's own
//! serde model types. Every field is optional or defaulted: a file that is JSON but lacks a
//! field reads as that field missing (the judgement then says what is missing) rather than as
//! a broken file. Only the fields the matrix reads are typed, except for a relocation, which is
//! typed whole because `matrix.json` quotes differing relocations in full.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `coretool --json dry-run [--offline] OBJ` (`coretool.dry-run/v1`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DryRun {
    /// `libbpf` or `offline`.
    pub mode: Option<String>,
    /// One per kernel; the matrix always asks for one.
    pub targets: Vec<DryRunTarget>,
}

/// One kernel's result in a dry-run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DryRunTarget {
    /// Not part of `coretool.dry-run/v1` (whose `verdict` says whether the object loads), so
    /// always None today; read so that `matrix.json` keeps its `loads` field (see docs/ci.md).
    pub loads: Option<bool>,
    /// Why libbpf could not prepare the object, if it could not.
    pub failure: Option<String>,
    pub summary: Option<DryRunSummary>,
    pub relocations: Vec<Relocation>,
}

/// The counts of a dry-run target.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct DryRunSummary {
    pub relocations: Option<u64>,
    pub changed: Option<u64>,
    pub poisoned: Option<u64>,
    pub reachable_poison: Option<u64>,
    pub errors: Option<u64>,
}

/// One CO-RE relocation as dry-run reports it, every field in the schema's order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Relocation {
    pub program: Option<String>,
    pub section: Option<String>,
    /// The relocation's index within its program: with `program`, its identity.
    pub index: Option<u64>,
    pub insn: Option<u64>,
    /// libbpf's name of the relocation kind (`byte_off`, `field_exists`, ...).
    pub kind: Option<String>,
    pub accessor: Option<String>,
    /// The value in the object.
    pub local: Option<u64>,
    /// The value for the kernel; None when poisoned.
    pub target: Option<u64>,
    pub mem_sz: Option<u64>,
    pub bit_offset: Option<BitOffset>,
    /// `patched`, `same`, `absent`, `poisoned`, `error`, `not-run`.
    pub status: Option<String>,
    pub reachable: Option<bool>,
    pub candidate: Option<Candidate>,
    pub error: Option<String>,
    pub source: Option<String>,
}

impl Relocation {
    /// What engine parity compares: the relocation's identity (program, index) and its
    /// outcome (local value, target value, status).
    pub fn parity_key(&self) -> ParityKey<'_> {
        (
            self.program.as_deref(),
            self.index,
            self.local,
            self.target,
            self.status.as_deref(),
        )
    }
}

/// See [`Relocation::parity_key`].
pub type ParityKey<'a> = (
    Option<&'a str>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<&'a str>,
);

/// A bitfield's bit offset in the object and in the kernel.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct BitOffset {
    pub local: Option<u64>,
    pub target: Option<u64>,
}

/// The kernel type a relocation matched.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Candidate {
    pub type_id: Option<u64>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub btf: Option<String>,
    pub spec: Option<String>,
}

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
