//! The matrix as the terminal shows it: one row per kernel, then a legend, the path of
//! `matrix.json` and the failures. The text is the interface CI logs and docs/ci.md quote, so
//! its columns and wording stay as they were.

use std::fmt::Write as _;
use std::path::Path;

use super::judge::{opt, Matrix, Step};
use super::results::{self, Boot, Mode};

const LEGEND: &str = "\
boot: seconds from power-on to the guest's command / vng in all; chg/poison: relocations
whose value that kernel changed / poisoned (dry-run in it); parity: relocations equal in
dry-run --offline on the host; task_struct: size and state field, vmlinuz = sysfs BTF
";

const REQUIRES_LEGEND: &str = "\
requires: programs whose live load (in a VM without attaching; on the host attached too) gave
what `coretool requires` predicted on the host from the kernel's BTF (unknown: predicted
unknown; expected: a disagreement xtask/src/kernel_matrix/expected-requires.txt lists)
";

/// The whole summary: table, legend, `matrix: PATH` and, if any kernel failed, `FAILED:` with
/// one line per failure.
pub fn render(m: &Matrix, matrix_path: &Path) -> String {
    let mut text = String::new();
    for line in table(&rows(m)) {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(LEGEND);
    if m.features.requires {
        text.push_str(REQUIRES_LEGEND);
        text.push_str(&requires_summary(m));
    }
    let _ = writeln!(text, "matrix: {}", matrix_path.display());
    let failed: Vec<String> = m
        .kernels
        .iter()
        .flat_map(|k| {
            k.failures
                .iter()
                .map(move |f| format!("  {}: {f}", k.info.release))
        })
        .collect();
    if !failed.is_empty() {
        text.push_str("FAILED:\n");
        for f in failed {
            text.push_str(&f);
            text.push('\n');
        }
    }
    text
}

/// `requires: N agree, M unknown, K expected disagreements (listed), U unexpected, of P
/// programs x kernels`, then the listed disagreements that happened, with their reasons.
fn requires_summary(m: &Matrix) -> String {
    let ran: Vec<_> = m
        .kernels
        .iter()
        .filter_map(|k| match &k.requires {
            Step::Ran(r) => Some((k, r)),
            _ => None,
        })
        .collect();
    let sum = |f: &dyn Fn(&super::judge::RequiresVerdict) -> usize| -> usize {
        ran.iter().map(|(_, r)| f(r)).sum()
    };
    let mut text = format!(
        "requires: {} agree, {} unknown, {} expected disagreements (listed), {} unexpected, of {} programs x kernels\n",
        sum(&|r| r.agree),
        sum(&|r| r.unknown),
        sum(&|r| r.expected.len()),
        sum(&|r| r.disagree),
        sum(&|r| r.programs),
    );
    for (k, r) in &ran {
        for e in &r.expected {
            let _ = writeln!(text, "  expected: {}: {e}", k.info.release);
        }
    }
    text
}

/// Header and one row per kernel.
fn rows(m: &Matrix) -> Vec<Vec<String>> {
    let objects: Vec<&str> = if m.features.dry_run {
        m.objects.iter().map(|o| results::file_name(o)).collect()
    } else {
        Vec::new()
    };
    let mut header: Vec<String> = ["kernel", "boot", "check-btf", "selftest"]
        .map(String::from)
        .into();
    header.extend(
        objects
            .iter()
            .map(|o| format!("{} chg/poison", o.strip_suffix(".bpf.o").unwrap_or(o))),
    );
    header.push("parity".to_owned());
    if m.features.requires {
        header.push("requires: predicted == live".to_owned());
    }
    header.extend(["task_struct", "result"].map(String::from));

    let mut rows = vec![header];
    for k in &m.kernels {
        let boot = match (&k.info.mode, &k.boot.boot) {
            (Mode::Host, _) => "host".to_owned(),
            (Mode::Vm, Some(Boot::Vm(b))) => match b.seconds_to_script.or(b.seconds_to_userspace) {
                Some(s) => format!("{}s/{}s", (s * 10.0).round() / 10.0, b.vng_seconds.round()),
                None => "-".to_owned(),
            },
            (Mode::Vm, _) => "-".to_owned(),
        };
        let check_btf = match &k.check_btf {
            Step::Unavailable => "n/a".to_owned(),
            Step::NotRun => "-".to_owned(),
            Step::Ran(c) if c.exit == 0 => match c.counts.get("warn") {
                Some(&w) if w > 0 => format!("ok ({w} warn)"),
                _ => "ok".to_owned(),
            },
            Step::Ran(_) => "FAIL".to_owned(),
        };
        let selftest = match &k.selftest {
            Step::Unavailable => "n/a".to_owned(),
            Step::Ran(s) if s.pass.is_some() => {
                let (pass, fail, skip) = (
                    s.pass.unwrap_or(0),
                    s.fail.unwrap_or(0),
                    s.skip.unwrap_or(0),
                );
                let mut cell = format!("{pass}/{}", pass + fail + skip);
                if skip > 0 {
                    let _ = write!(cell, " ({skip} skip)");
                }
                if s.exit != 0 {
                    cell.push_str(" FAIL");
                }
                cell
            }
            _ => "-".to_owned(),
        };
        let mut row = vec![k.info.release.clone(), boot, check_btf, selftest];
        if let Step::Ran(verdicts) = &k.dry_run {
            for o in &objects {
                let live = verdicts
                    .iter()
                    .find(|v| v.object == *o)
                    .and_then(|v| v.live.as_ref());
                let counts = live.and_then(|l| Some((l, &l.output.as_ref()?.summary)));
                row.push(match counts {
                    None => "-".to_owned(),
                    Some((l, s)) => format!(
                        "{}/{}{}",
                        s.changed,
                        s.poisoned,
                        if l.failed() { " FAIL" } else { "" }
                    ),
                });
            }
        }
        row.push(match &k.dry_run {
            Step::Ran(v) if v.iter().all(|o| o.parity.is_some()) => {
                let parities = v.iter().filter_map(|o| o.parity.as_ref());
                if parities.clone().all(|p| p.equal) {
                    if v.is_empty() {
                        "ok (null)".to_owned()
                    } else {
                        format!("ok ({})", parities.map(|p| p.compared).sum::<usize>())
                    }
                } else {
                    format!("DIFF {}", parities.map(|p| p.differences).sum::<usize>())
                }
            }
            _ => "n/a".to_owned(),
        });
        if m.features.requires {
            row.push(match &k.requires {
                Step::Ran(r) if r.errors.is_empty() => {
                    let mut cell = format!(
                        "{} agree, {} unknown, {} expected, {} unexpected",
                        r.agree,
                        r.unknown,
                        r.expected.len(),
                        r.disagree
                    );
                    if r.unmatched > 0 {
                        let _ = write!(cell, ", {} unmatched", r.unmatched);
                    }
                    if !r.stale.is_empty() {
                        let _ = write!(cell, ", {} listed not seen", r.stale.len());
                    }
                    cell
                }
                Step::Ran(_) => "FAIL".to_owned(),
                _ => "-".to_owned(),
            });
        }
        let b = &k.btf_parity;
        row.push(match &b.vmlinuz {
            None => "-".to_owned(),
            Some(t) => format!(
                "{} B, {}{}",
                opt(&t.size),
                opt(&t.state),
                if b.equal { "" } else { " DIFF" }
            ),
        });
        row.push(if k.ok { "ok" } else { "FAIL" }.to_owned());
        rows.push(row);
    }
    rows
}

/// Left-aligned columns two spaces apart, no trailing blanks.
fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count()));
            }
            line.trim_end_matches(' ').to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let rows = vec![
            vec!["a".to_owned(), "bb".to_owned(), "c".to_owned()],
            vec!["aaa".to_owned(), "b".to_owned(), "".to_owned()],
        ];
        assert_eq!(table(&rows), ["a    bb  c", "aaa  b"]);
    }
}
