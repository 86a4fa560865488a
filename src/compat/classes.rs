//! Kernels grouped into classes with the same result, per object: what a summary at fleet
//! scale shows ("412 kernels: loads, 15 relocations changed"), and counts per architecture and
//! distribution. Pure: fed [`KernelOutcome`]s, holds kernel identities (no BTF, no rows).

use std::collections::BTreeMap;

use super::engine::{KernelOutcome, Requires, Verdict};
use super::identity::KernelId;
use crate::requires::{ObjectRequirements, ObjectVerdict};

/// A relocation that keeps an object from loading on a kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FailedRelo {
    pub program: String,
    /// libbpf's `relo #N` within the program's section.
    pub index: usize,
    pub accessor: String,
    /// `file.c:line`.
    pub source: Option<String>,
    /// libbpf's error; `None` for a reachable poisoned instruction (an unguarded read).
    pub error: Option<String>,
}

/// A requirement other than the CO-RE relocations (which [`FailedRelo`] names) that an
/// autoloaded program (or the object: its maps) misses on a kernel, or that cannot be told.
/// The evidence is not part of it: it names kernel details (the last helper a kernel has)
/// that would split a class for nothing; [`Class::evidence`] keeps one kernel's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReqProblem {
    /// `None`: the object as a whole (a map libbpf creates).
    pub program: Option<String>,
    /// [`ReqKind::name`]: `helper`, `kfunc`, `attach_target`...
    pub kind: &'static str,
    pub name: String,
    /// `missing` or `unknown`.
    pub status: &'static str,
    /// When it bites: `load` or `attach`.
    pub stage: &'static str,
}

/// The requires half of a class's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RequiresKey {
    /// Why it was not checked (no vmlinux BTF); `None` when it was, or was not asked for.
    pub not_checked: Option<String>,
    /// The autoloaded programs the loader has to turn off (`loads-without`), and the maps.
    pub without_programs: Vec<String>,
    pub without_maps: Vec<String>,
    /// What is missing or unknown, missing first, in program order.
    pub problems: Vec<ReqProblem>,
}

impl RequiresKey {
    /// The key of a requires result, and the evidence of each problem (same order).
    pub fn of(r: &Requires) -> (RequiresKey, Vec<String>) {
        match r {
            Requires::NotChecked(why) => (
                RequiresKey {
                    not_checked: Some(why.clone()),
                    ..RequiresKey::default()
                },
                Vec::new(),
            ),
            Requires::Checked(r) => Self::of_checked(r),
        }
    }

    fn of_checked(r: &ObjectRequirements) -> (RequiresKey, Vec<String>) {
        let found: Vec<(ReqProblem, String)> = crate::requires::problems(r)
            .into_iter()
            .map(|(program, q)| {
                let p = ReqProblem {
                    program: program.map(str::to_owned),
                    kind: q.kind.name(),
                    name: q.name.clone(),
                    status: q.status.name(),
                    stage: q.stage.name(),
                };
                (p, q.evidence.clone())
            })
            .collect();
        let (without_programs, without_maps) = match &r.verdict {
            ObjectVerdict::LoadsWithout { programs, maps } => (programs.clone(), maps.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        let (problems, evidence) = found.into_iter().unzip();
        let key = RequiresKey {
            not_checked: None,
            without_programs,
            without_maps,
            problems,
        };
        (key, evidence)
    }
}

/// What kernels of one class share: the verdict and why. How many relocations changed value
/// or were poisoned may differ within a class (a [`Span`]): at fleet scale one line per
/// outcome reads better than one per count, and the JSON records keep every kernel's detail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassKey {
    pub verdict: Verdict,
    pub relocations: usize,
    pub failures: Vec<FailedRelo>,
    /// The reason of an `Incompatible` or `Fails` verdict; for `Unreadable` the reason names
    /// the source, so each unreadable source is its own class.
    pub reason: Option<String>,
    /// The requires half (`None` when not asked for, or not applicable).
    pub requires: Option<RequiresKey>,
}

/// Verdict counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub loads: usize,
    pub guarded: usize,
    pub without: usize,
    pub fails: usize,
    pub unknown: usize,
    pub incompatible: usize,
    pub unreadable: usize,
}

impl Counts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Loads => self.loads += 1,
            Verdict::LoadsGuardedPoison => self.guarded += 1,
            Verdict::LoadsWithout => self.without += 1,
            Verdict::Fails => self.fails += 1,
            Verdict::Unknown => self.unknown += 1,
            Verdict::Incompatible => self.incompatible += 1,
            Verdict::Unreadable => self.unreadable += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.loads
            + self.guarded
            + self.without
            + self.fails
            + self.unknown
            + self.incompatible
            + self.unreadable
    }
}

/// The smallest and largest of a count over a class's kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub min: usize,
    pub max: usize,
}

impl Span {
    fn of(n: usize) -> Span {
        Span { min: n, max: n }
    }

    fn add(&mut self, n: usize) {
        self.min = self.min.min(n);
        self.max = self.max.max(n);
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.min == self.max {
            true => write!(f, "{}", self.min),
            false => write!(f, "{}-{}", self.min, self.max),
        }
    }
}

/// The kernels of one class, and the spans of their counts.
#[derive(Debug, Clone)]
pub struct Class {
    pub kernels: Vec<KernelId>,
    /// Relocations whose value changed.
    pub changed: Span,
    /// Poisoned instructions.
    pub poisoned: Span,
    /// The evidence of each of the key's requires problems, on the class's first kernel by
    /// name (the evidence may name details that differ within the class).
    pub evidence: Vec<String>,
    /// That kernel's name and source.
    evidence_of: (String, String),
}

/// One object's classes.
#[derive(Debug, Clone, Default)]
pub struct ObjectClasses {
    pub classes: BTreeMap<ClassKey, Class>,
    pub by_arch: BTreeMap<String, Counts>,
    /// Keyed `distro version` (or `distro`), for kernels whose source tells it.
    pub by_distro: BTreeMap<String, Counts>,
    /// Keyed by kernel series (`5.10`, `6.12`: the release's first two numbers), for kernels
    /// whose release is known.
    pub by_series: BTreeMap<Series, Counts>,
    pub total: Counts,
}

/// A kernel series: major and minor version (`6.12`), ordered numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Series(pub u32, pub u32);

impl Series {
    /// The series a release names: `6.12.117+deb13-arm64` -> 6.12, `7.3-amd64` -> 7.3.
    pub fn of(release: &str) -> Option<Series> {
        let (major, rest) = release.split_once('.')?;
        let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some(Series(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl std::fmt::Display for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// What every kernel of a class shares that the run's kernels do not all share: `arm64`,
/// `5.10.x`, `debian bookworm`. Empty when nothing sets the class apart.
pub fn common_traits(class: &[&KernelId], all: &ObjectClasses) -> Vec<String> {
    let mut out = Vec::new();
    let same = |f: &dyn Fn(&KernelId) -> Option<String>| -> Option<String> {
        let first = f(class.first()?)?;
        class
            .iter()
            .all(|k| f(k).as_ref() == Some(&first))
            .then_some(first)
    };
    if all.by_arch.len() > 1 {
        out.extend(same(&|k: &KernelId| k.arch.clone()));
    }
    if all.by_series.len() > 1 {
        out.extend(
            same(&|k: &KernelId| {
                k.release
                    .as_deref()
                    .and_then(Series::of)
                    .map(|s| s.to_string())
            })
            .map(|s| format!("{s}.x")),
        );
    }
    if all.by_distro.len() > 1 {
        out.extend(same(&|k: &KernelId| {
            let d = k.distro.as_deref()?;
            Some(match &k.version {
                Some(v) => format!("{d} {v}"),
                None => d.to_owned(),
            })
        }));
    }
    out
}

impl ObjectClasses {
    /// The classes, largest first (ties: verdict, then key), each with its kernels sorted by
    /// name.
    pub fn sorted(&self) -> Vec<(&ClassKey, &Class, Vec<&KernelId>)> {
        let mut v: Vec<(&ClassKey, &Class, Vec<&KernelId>)> = self
            .classes
            .iter()
            .map(|(k, class)| {
                let mut ids: Vec<&KernelId> = class.kernels.iter().collect();
                ids.sort_by(|a, b| (a.name(), &a.source).cmp(&(b.name(), &b.source)));
                (k, class, ids)
            })
            .collect();
        v.sort_by(|a, b| {
            (a.0.verdict, std::cmp::Reverse(a.2.len()), a.0).cmp(&(
                b.0.verdict,
                std::cmp::Reverse(b.2.len()),
                b.0,
            ))
        });
        v
    }
}

/// Every object's classes.
#[derive(Debug, Clone, Default)]
pub struct Classes {
    pub objects: Vec<ObjectClasses>,
    /// Kernels seen (readable or not).
    pub kernels: usize,
}

impl Classes {
    pub fn new(objects: usize) -> Self {
        Classes {
            objects: vec![ObjectClasses::default(); objects],
            kernels: 0,
        }
    }

    /// Fold one kernel's results in.
    pub fn add(&mut self, k: &KernelOutcome) {
        self.kernels += 1;
        let who = (k.id.name(), k.id.source.clone());
        for o in &k.objects {
            let summary = o.report.as_ref().map(|r| r.result.summary());
            let (requires, evidence) = match o.requires.as_ref().map(RequiresKey::of) {
                Some((key, evidence)) => (Some(key), evidence),
                None => (None, Vec::new()),
            };
            let key = ClassKey {
                verdict: o.verdict,
                relocations: summary.map_or(0, |s| s.relocations),
                failures: o.failures.clone(),
                reason: o.reason.clone(),
                requires,
            };
            let changed = summary.map_or(0, |s| s.changed);
            let poisoned = summary.map_or(0, |s| s.poisoned);
            let Some(c) = self.objects.get_mut(o.object) else {
                continue;
            };
            match c.classes.get_mut(&key) {
                Some(class) => {
                    class.kernels.push(k.id.clone());
                    class.changed.add(changed);
                    class.poisoned.add(poisoned);
                    if who < class.evidence_of {
                        class.evidence = evidence;
                        class.evidence_of = who.clone();
                    }
                }
                None => {
                    let class = Class {
                        kernels: vec![k.id.clone()],
                        changed: Span::of(changed),
                        poisoned: Span::of(poisoned),
                        evidence,
                        evidence_of: who.clone(),
                    };
                    c.classes.insert(key, class);
                }
            }
            c.total.add(o.verdict);
            if o.verdict != Verdict::Unreadable {
                let arch = k.id.arch.clone().unwrap_or_else(|| "unknown".into());
                c.by_arch.entry(arch).or_default().add(o.verdict);
                if let Some(d) = &k.id.distro {
                    let key = match &k.id.version {
                        Some(v) => format!("{d} {v}"),
                        None => d.clone(),
                    };
                    c.by_distro.entry(key).or_default().add(o.verdict);
                }
                if let Some(series) = k.id.release.as_deref().and_then(Series::of) {
                    c.by_series.entry(series).or_default().add(o.verdict);
                }
            }
        }
    }

    /// Whether every object loads on every kernel that could be read (with every autoloaded
    /// program: `loads-without` does not count; `unknown` does, as `requires` counts it), and
    /// at least one could.
    pub fn all_load(&self) -> bool {
        self.objects.iter().all(|c| {
            let t = &c.total;
            t.fails == 0 && t.without == 0 && t.incompatible == 0 && t.unreadable == 0
        })
    }

    /// Whether no kernel at all could be read.
    pub fn none_readable(&self) -> bool {
        self.objects
            .iter()
            .all(|c| c.total.unreadable == c.total.total())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_of_releases() {
        for (rel, want) in [
            ("6.12.117+deb13-arm64", Some(Series(6, 12))),
            ("7.3-amd64", Some(Series(7, 3))),
            ("5.10.0-46-amd64", Some(Series(5, 10))),
            ("6.1.0-0.deb11.48-amd64", Some(Series(6, 1))),
            ("vmlinux", None),
            ("6-amd64", None),
            ("x.1", None),
        ] {
            assert_eq!(Series::of(rel), want, "{rel}");
        }
        assert!(Series(6, 12) > Series(6, 2));
    }
}
