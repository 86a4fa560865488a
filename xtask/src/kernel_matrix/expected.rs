//! The disagreements between `coretool requires`' prediction and a live load that are known
//! and understood: `expected-requires.txt`, checked in next to this file. The judge fails on a
//! disagreement the list does not hold, and on a listed one that did not happen on a kernel
//! that ran the object, so the list cannot go stale.
//!
//! One disagreement a line, `#` starts a comment:
//!
//! ```text
//! KERNEL OBJECT PROGRAM STAGE REASON...
//! ```
//!
//! KERNEL is a series (`6.1`: every release `6.1.*`) or a whole release (`6.1.0-57-amd64`);
//! OBJECT the object's file name; STAGE `load` or `attach` (where the live run failed, or
//! where the prediction said it would when the live run loaded); REASON the why, in words.

use anyhow::{bail, ensure, Result};

/// The checked-in list.
pub const LIST: &str = include_str!("expected-requires.txt");

/// One listed disagreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub kernel: String,
    pub object: String,
    pub program: String,
    pub stage: String,
    pub reason: String,
}

impl Expected {
    /// Whether the entry is about the kernel `release`.
    pub fn is_for(&self, release: &str) -> bool {
        release == self.kernel
            || release
                .strip_prefix(self.kernel.as_str())
                .is_some_and(|rest| rest.starts_with(['.', '-', '+']))
                && self.kernel.bytes().filter(|&b| b == b'.').count() == 1
    }

    /// Whether this entry is the disagreement of `object`'s `program` at `stage` on `release`.
    pub fn matches(&self, release: &str, object: &str, program: &str, stage: &str) -> bool {
        self.is_for(release)
            && self.object == object
            && self.program == program
            && self.stage == stage
    }
}

/// The entries of a list in the format above; an error names the line.
pub fn parse(text: &str) -> Result<Vec<Expected>> {
    let mut out: Vec<Expected> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let mut next = || words.next().map(str::to_owned);
        let (Some(kernel), Some(object), Some(program), Some(stage)) =
            (next(), next(), next(), next())
        else {
            bail!(
                "expected-requires.txt:{}: want KERNEL OBJECT PROGRAM STAGE REASON",
                n + 1
            );
        };
        let reason = words.collect::<Vec<_>>().join(" ");
        ensure!(
            stage == "load" || stage == "attach",
            "expected-requires.txt:{}: stage {stage:?} is neither load nor attach",
            n + 1
        );
        ensure!(
            !reason.is_empty(),
            "expected-requires.txt:{}: no reason given",
            n + 1
        );
        let e = Expected {
            kernel,
            object,
            program,
            stage,
            reason,
        };
        ensure!(
            !out.iter()
                .any(|o| o.kernel == e.kernel && o.object == e.object && o.program == e.program),
            "expected-requires.txt:{}: {} {} {} is listed twice",
            n + 1,
            e.kernel,
            e.object,
            e.program
        );
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_list_parses() {
        let list = parse(LIST).unwrap();
        assert!(list.iter().all(|e| !e.reason.is_empty()));
    }

    #[test]
    fn lines_are_read_with_their_reason() {
        let l = parse("# c\n\n6.1 a.bpf.o p load the verifier says no # why\n").unwrap();
        assert_eq!(
            l,
            [Expected {
                kernel: "6.1".into(),
                object: "a.bpf.o".into(),
                program: "p".into(),
                stage: "load".into(),
                reason: "the verifier says no".into(),
            }]
        );
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, want) in [
            ("6.1 a.bpf.o p\n", ":1: want KERNEL"),
            ("\n6.1 a.bpf.o p run why\n", ":2: stage \"run\""),
            ("6.1 a.bpf.o p load\n", ":1: no reason"),
            (
                "6.1 a p load x\n6.1 a p attach y\n",
                ":2: 6.1 a p is listed twice",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_series_matches_its_releases_only() {
        let e = parse("6.1 a p load x\n").unwrap().remove(0);
        assert!(e.is_for("6.1.0-57-amd64"));
        assert!(e.is_for("6.1"));
        assert!(!e.is_for("6.12.117+deb12-amd64"));
        assert!(!e.is_for("5.10.0-46-amd64"));
        let r = parse("6.1.0-57-amd64 a p load x\n").unwrap().remove(0);
        assert!(r.is_for("6.1.0-57-amd64"));
        assert!(!r.is_for("6.1.0-58-amd64"));
        assert!(r.matches("6.1.0-57-amd64", "a", "p", "load"));
        assert!(!r.matches("6.1.0-57-amd64", "a", "p", "attach"));
    }
}
