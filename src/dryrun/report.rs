//! The `coretool.dry-run/v2` document: what `coretool dry-run --json` writes, as types.
//!
//! The binary serializes it; the kernel matrix (`cargo xtask kernel-matrix`) reads the guest's
//! and the host's documents back with the same types, so the schema is written down once. Field
//! order is the document's key order (docs/dry-run.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::engine::{Mode, TargetReport};
use crate::reloc::{Fixup, Object};

/// The schema name and version every document carries.
pub const SCHEMA: &str = "coretool.dry-run/v2";

/// One object against one or more kernels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Document {
    pub schema: String,
    pub object: String,
    /// `libbpf` or `offline`.
    #[schemars(schema_with = "mode_schema")]
    pub mode: String,
    pub targets: Vec<TargetDoc>,
}

/// One kernel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, transform = sized_maps_optional)]
pub struct TargetDoc {
    pub source: String,
    pub release: Option<String>,
    pub running_kernel: bool,
    /// Both halves: `loads`, `loads-without` (the loader has to turn some programs off),
    /// `fails` or `unknown` (a requirement the kernel source cannot tell); without a requires
    /// check (`requires.verdict` `not-checked`), the relocations' verdict.
    #[schemars(schema_with = "verdict_schema")]
    pub verdict: String,
    /// The CO-RE half alone (v1's `verdict`): `loads` or `fails`.
    #[schemars(schema_with = "relocations_verdict_schema")]
    pub relocations_verdict: String,
    pub failure: Option<String>,
    /// The other half: everything else the object needs from this kernel
    /// (`coretool requires`).
    pub requires: RequiresDoc,
    pub summary: SummaryDoc,
    /// Under `--load`: one verdict per program.
    pub load: Option<Vec<LoadDoc>>,
    /// Under `--load`: the maps created with a size of coretool's because the object leaves
    /// it to the loader (`max_entries` 0). Added after v1's first release (absent = none).
    #[serde(default)]
    pub sized_maps: Option<Vec<SizedMapDoc>>,
    pub relocations: Vec<RelocationDoc>,
    /// libbpf's log, with `-v`.
    pub log: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SummaryDoc {
    pub relocations: usize,
    pub changed: usize,
    pub poisoned: usize,
    pub reachable_poison: usize,
    pub errors: usize,
}

/// What an object needs from a kernel besides its relocations (`coretool requires`), on one
/// kernel: the verdict and what is missing or unknown. Shared with `coretool.compat/v2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RequiresDoc {
    /// The object's verdict from its requirements, its CO-RE relocations weighed in per
    /// program: `loads`, `loads-without`, `fails`, `unknown`; `not-checked` when the kernel's
    /// BTF cannot tell (`reason` says why).
    #[schemars(schema_with = "requires_verdict_schema")]
    pub verdict: String,
    pub reason: Option<String>,
    /// With `loads-without`: the autoloaded programs the loader has to turn off
    /// (`bpf_program__set_autoload(false)`), and the maps it cannot create.
    pub without_programs: Vec<String>,
    pub without_maps: Vec<String>,
    /// Every requirement of an autoloaded program (or of the object: `program` null) that is
    /// missing or unknown, besides the CO-RE relocations; missing first.
    pub requirements: Vec<RequirementDoc>,
}

/// One requirement that is not met, or cannot be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RequirementDoc {
    pub program: Option<String>,
    /// `helper`, `kfunc`, `map`, `attach_target`, `ctx_args`... (`coretool requires`'s kinds).
    pub kind: String,
    pub name: String,
    /// `missing` or `unknown`.
    #[schemars(schema_with = "problem_status_schema")]
    pub status: String,
    /// When it bites: `load` or `attach`.
    #[schemars(schema_with = "stage_schema")]
    pub stage: String,
    pub evidence: String,
}

impl RequiresDoc {
    /// The requires half was not checked, and why.
    pub fn not_checked(why: &str) -> Self {
        RequiresDoc {
            verdict: "not-checked".into(),
            reason: Some(why.to_owned()),
            without_programs: Vec::new(),
            without_maps: Vec::new(),
            requirements: Vec::new(),
        }
    }
}

/// The verifier's verdict on one program (`--load`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LoadDoc {
    pub program: String,
    pub loaded: bool,
    pub error: Option<String>,
    pub poisoned_insn: Option<u32>,
    pub relocation: Option<usize>,
    pub source: Option<String>,
}

/// A map `--load` sized for the load test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SizedMapDoc {
    pub name: String,
    pub max_entries: u32,
}

/// One relocation on one kernel (a [`Fixup`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RelocationDoc {
    pub program: String,
    pub section: String,
    pub index: usize,
    pub insn: u32,
    /// libbpf's name of the kind (`byte_off`, `field_exists`, ...).
    pub kind: String,
    pub accessor: String,
    pub local: Option<u64>,
    pub target: Option<u64>,
    pub mem_sz: Option<PairDoc<u64>>,
    pub bit_offset: Option<BitOffsetDoc>,
    /// `patched`, `same`, `absent`, `poisoned`, `error`, `not-run`.
    #[schemars(schema_with = "status_schema")]
    pub status: String,
    pub reachable: Option<bool>,
    pub candidate: Option<CandidateDoc>,
    pub error: Option<String>,
    pub source: Option<String>,
}

/// A value in the object and on the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PairDoc<T> {
    pub local: T,
    pub target: T,
}

/// A field's bit offset in the object's type and in the kernel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BitOffsetDoc {
    pub local: u32,
    pub target: Option<u32>,
}

/// The kernel type the relocation matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CandidateDoc {
    pub type_id: u32,
    #[serde(rename = "type")]
    pub type_name: String,
    /// `vmlinux` or the module whose BTF had it.
    pub btf: String,
    /// libbpf's spec (`bpf_core_format_spec`).
    pub spec: String,
}

/// A string that is one of `names`.
fn one_of(names: &[&str]) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": names })
}

fn mode_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    one_of(&[Mode::Libbpf, Mode::Offline].map(Mode::name))
}

fn verdict_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    one_of(&["loads", "loads-without", "fails", "unknown"])
}

fn relocations_verdict_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    one_of(&["loads", "fails"])
}

fn requires_verdict_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    one_of(&["loads", "loads-without", "fails", "unknown", "not-checked"])
}

fn problem_status_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    one_of(&["missing", "unknown"])
}

fn stage_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    one_of(&["load", "attach"])
}

fn status_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    use crate::reloc::Status;
    let all = [
        Status::Patched,
        Status::Same,
        Status::Absent,
        Status::Poisoned,
        Status::Error,
        Status::NotRun,
    ];
    one_of(&all.map(Status::name))
}

/// v1 documents written before `sized_maps` existed lack it (what `#[serde(default)]` reads):
/// the published schema does not require it either.
fn sized_maps_optional(schema: &mut schemars::Schema) {
    if let Some(required) = schema.get_mut("required").and_then(|r| r.as_array_mut()) {
        required.retain(|k| k != "sized_maps");
    }
}

impl Document {
    /// The document for `obj` relocated by `mode` against every target, each with the
    /// requires half of its verdict (`requires`, one per report: the verdict is its
    /// `verdict`, the relocations' when it was not checked); `with_log` keeps libbpf's log.
    pub fn new(
        obj: &Object,
        mode: Mode,
        reports: &[TargetReport],
        requires: Vec<RequiresDoc>,
        with_log: bool,
    ) -> Self {
        Document {
            schema: SCHEMA.to_owned(),
            object: obj.path.display().to_string(),
            mode: mode.name().to_owned(),
            targets: reports
                .iter()
                .zip(requires)
                .map(|(r, q)| TargetDoc::new(r, q, with_log))
                .collect(),
        }
    }
}

impl TargetDoc {
    fn new(r: &TargetReport, requires: RequiresDoc, with_log: bool) -> Self {
        let s = r.result.summary();
        let relocations = if r.loads() { "loads" } else { "fails" };
        // As `requires::combine`: the requires verdict weighed the relocations in per
        // program and decides, except that a relocation failure it did not see still fails.
        let verdict = match (requires.verdict.as_str(), r.loads()) {
            ("not-checked", _) => relocations,
            ("loads" | "unknown", false) => "fails",
            (v, _) => v,
        }
        .to_owned();
        TargetDoc {
            source: r.source.clone(),
            release: r.release.clone(),
            running_kernel: r.running_kernel,
            verdict,
            relocations_verdict: relocations.to_owned(),
            requires,
            failure: r
                .refused
                .as_ref()
                .or(r.result.failure.as_ref())
                .or(r.prepare_error.as_ref())
                .cloned(),
            summary: SummaryDoc {
                relocations: s.relocations,
                changed: s.changed,
                poisoned: s.poisoned,
                reachable_poison: s.reachable_poison,
                errors: s.errors,
            },
            load: r.loads.as_ref().map(|ls| {
                ls.iter()
                    .map(|l| LoadDoc {
                        program: l.program.clone(),
                        loaded: l.loaded,
                        error: l.error.clone(),
                        poisoned_insn: l.poison.as_ref().map(|p| p.insn),
                        relocation: l.relocation,
                        source: l.poison.as_ref().and_then(|p| p.source.clone()),
                    })
                    .collect()
            }),
            sized_maps: r.loads.as_ref().map(|_| {
                r.sized_maps
                    .iter()
                    .map(|m| SizedMapDoc {
                        name: m.name.clone(),
                        max_entries: m.max_entries,
                    })
                    .collect()
            }),
            relocations: r.result.fixups.iter().map(RelocationDoc::from).collect(),
            log: with_log.then(|| r.log.clone()),
        }
    }
}

impl From<&Fixup> for RelocationDoc {
    fn from(f: &Fixup) -> Self {
        RelocationDoc {
            program: f.program.clone(),
            section: f.section.clone(),
            index: f.index,
            insn: f.insn,
            kind: f.kind.name().to_owned(),
            accessor: f.accessor.clone(),
            local: f.local,
            target: f.target,
            mem_sz: f.mem_sz.map(|(local, target)| PairDoc { local, target }),
            bit_offset: f.local_bit_offset().map(|local| BitOffsetDoc {
                local,
                target: f.resolved.as_ref().and_then(|r| r.spec.bit_offset()),
            }),
            status: f.status.name().to_owned(),
            reachable: f.reachable,
            candidate: f.resolved.as_ref().map(|r| CandidateDoc {
                type_id: r.spec.type_id,
                type_name: format!("{} {}", r.spec.type_kind, r.spec.type_name),
                btf: r.btf.clone(),
                spec: r.spec.to_string(),
            }),
            error: f.error.clone(),
            source: f.source.clone(),
        }
    }
}
