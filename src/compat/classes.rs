//! Kernels grouped into classes with the same result, per object: what a summary at fleet
//! scale shows ("412 kernels: loads, 15 relocations changed"), and counts per architecture and
//! distribution. Pure: fed [`KernelOutcome`]s, holds kernel identities (no BTF, no rows).

use std::collections::BTreeMap;

use super::engine::{KernelOutcome, Verdict};
use super::identity::KernelId;

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

/// What kernels of one class share.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassKey {
    pub verdict: Verdict,
    pub relocations: usize,
    pub changed: usize,
    pub poisoned: usize,
    pub failures: Vec<FailedRelo>,
    /// The reason of an `Incompatible` or `Fails` verdict; for `Unreadable` the reason names
    /// the source, so each unreadable source is its own class.
    pub reason: Option<String>,
}

/// Verdict counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub loads: usize,
    pub guarded: usize,
    pub fails: usize,
    pub incompatible: usize,
    pub unreadable: usize,
}

impl Counts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Loads => self.loads += 1,
            Verdict::LoadsGuardedPoison => self.guarded += 1,
            Verdict::Fails => self.fails += 1,
            Verdict::Incompatible => self.incompatible += 1,
            Verdict::Unreadable => self.unreadable += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.loads + self.guarded + self.fails + self.incompatible + self.unreadable
    }
}

/// One object's classes.
#[derive(Debug, Clone, Default)]
pub struct ObjectClasses {
    pub classes: BTreeMap<ClassKey, Vec<KernelId>>,
    pub by_arch: BTreeMap<String, Counts>,
    /// Keyed `distro version` (or `distro`), for kernels whose source tells it.
    pub by_distro: BTreeMap<String, Counts>,
    pub total: Counts,
}

impl ObjectClasses {
    /// The classes, largest first (ties: verdict, then key), each with its kernels sorted by
    /// name.
    pub fn sorted(&self) -> Vec<(&ClassKey, Vec<&KernelId>)> {
        let mut v: Vec<(&ClassKey, Vec<&KernelId>)> = self
            .classes
            .iter()
            .map(|(k, ids)| {
                let mut ids: Vec<&KernelId> = ids.iter().collect();
                ids.sort_by(|a, b| (a.name(), &a.source).cmp(&(b.name(), &b.source)));
                (k, ids)
            })
            .collect();
        v.sort_by(|a, b| {
            (a.0.verdict, std::cmp::Reverse(a.1.len()), a.0).cmp(&(
                b.0.verdict,
                std::cmp::Reverse(b.1.len()),
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
        for o in &k.objects {
            let summary = o.report.as_ref().map(|r| r.result.summary());
            let key = ClassKey {
                verdict: o.verdict,
                relocations: summary.map_or(0, |s| s.relocations),
                changed: summary.map_or(0, |s| s.changed),
                poisoned: summary.map_or(0, |s| s.poisoned),
                failures: o.failures.clone(),
                reason: o.reason.clone(),
            };
            let Some(c) = self.objects.get_mut(o.object) else {
                continue;
            };
            c.classes.entry(key).or_default().push(k.id.clone());
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
            }
        }
    }

    /// Whether every object loads on every kernel that could be read, and at least one could.
    pub fn all_load(&self) -> bool {
        self.objects
            .iter()
            .all(|c| c.total.fails == 0 && c.total.incompatible == 0 && c.total.unreadable == 0)
    }

    /// Whether no kernel at all could be read.
    pub fn none_readable(&self) -> bool {
        self.objects
            .iter()
            .all(|c| c.total.unreadable == c.total.total())
    }
}
