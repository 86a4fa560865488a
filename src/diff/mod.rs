//! `coretool diff`: what changed between two kernels' types, semantically, and limited to what
//! an object reaches.
//!
//! - [`model`]: the changes as values (the `coretool.diff/v1` body).
//! - [`members`]: struct/union members matched by name (anonymous containers flattened into
//!   their named parent), probable renames, moves, and the shift an insertion causes, once.
//! - [`types`]: named types matched by class and name, enums, typedefs, function prototypes.
//! - [`scope`]: `--for OBJ`: the items an object's relocations and attach targets reach, and
//!   the consequence on NEW (computed by the offline relocation engine, passed in).
//! - [`fix`]: the CO-RE idiom that fixes a known pattern, as C.
//! - [`history`]: one member over many kernels.
//!
//! It trusts nothing about the BTFs beyond what [`crate::btf`] checked: every walk is
//! depth-bounded, and unresolvable types end a walk instead of failing it. Pure: no I/O.
pub mod fix;
pub mod history;
pub mod members;
pub mod model;
pub mod scope;
pub mod types;

pub use fix::Fix;
pub use history::{history, release_key, Event, Step};
pub use model::{Change, Diff, MemberAt, TypeClass, TypeDiff, TypeRef};
pub use scope::{attach_targets, scope, Consequence, Requirement, Scoped, Touch, Touched, Verdict};
pub use types::{diff, Index, Selection};
