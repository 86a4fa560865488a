//! `coretool monitor`: the bundled probe as a live process monitor.
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use coretool::host;
use coretool::libbpf::PrintGuard;
use coretool::probe::{self, Event, EventKind, ExitStatus, Stats};
use schemars::JsonSchema;
use serde::Serialize;

use super::GlobalOpts;
use crate::exit::exit_ok;

#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub json: super::JsonOpt,
    /// Print the probe's counters every SECS seconds (0: only when stopping)
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub interval: f64,
    /// Stop after SECS seconds (for scripts and tests); default: until Ctrl-C or SIGTERM
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Report only process PID and its descendants (those running at start and those forked
    /// later)
    #[arg(long, value_name = "PID")]
    pub follow: Option<u32>,
}

pub(crate) const SCHEMA: &str = "coretool.monitor/v1";

/// The longest `--interval` or `--duration` taken: a year, far beyond any use, and far from
/// the limits of `Duration` and `Instant`.
const MAX_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// `SECS` of `--NAME` as a duration: finite, not negative, at most [`MAX_SECS`].
fn seconds(name: &str, v: f64) -> anyhow::Result<Duration> {
    if !(0.0..=MAX_SECS).contains(&v) {
        anyhow::bail!("--{name} {v}: takes a number of seconds from 0 to {MAX_SECS} (a year)");
    }
    Ok(Duration::from_secs_f64(v))
}

pub fn run(args: MonitorArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    // Checked before anything is loaded: a bad value is an error, not a panic mid-run.
    let interval = seconds("interval", args.interval)?;
    let duration = args.duration.map(|d| seconds("duration", d)).transpose()?;
    if let Some(pid) = args.follow {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            anyhow::bail!("--follow {pid}: no such process");
        }
    }
    host::privilege().require_tracing()?;
    if let host::Tracefs::Mounted(p) = host::ensure_tracefs()? {
        eprintln!(
            "coretool: tracefs was not mounted; mounted it at {} (left mounted)",
            p.display()
        );
    }
    probe::stop_on_signals().context("installing the SIGINT/SIGTERM handlers")?;
    let log = PrintGuard::capture();
    let clock = WallClock::now();
    let opts = probe::Options {
        follow: args.follow,
    };

    let result = probe::with_session(&opts, |s| -> anyhow::Result<()> {
        for a in &s.attached {
            if let Err(reason) = &a.result {
                eprintln!(
                    "coretool: {} ({}) not attached, continuing without it: {reason}",
                    a.spec.name, a.spec.target
                );
            }
        }
        let mut out = crate::output::stdout();
        if !g.json {
            writeln!(
                out,
                "{:<12}  {:<7}  {:>7}  {:>7}  {:>5}  {:<15}  FILE / EXIT",
                "TIME", "EVENT", "PID", "PPID", "UID", "COMM"
            )?;
            out.flush()?;
        }
        let start = Instant::now();
        let interval = (!interval.is_zero()).then_some(interval);
        let deadline = duration.map(|d| start + d);
        let mut next_stats = interval.map(|i| start + i);
        loop {
            let now = Instant::now();
            if probe::stop_requested().is_some() || deadline.is_some_and(|d| now >= d) {
                break;
            }
            let mut wait = Duration::from_millis(200);
            for t in [deadline, next_stats].into_iter().flatten() {
                wait = wait.min(t.saturating_duration_since(now));
            }
            for e in s.poll(wait)? {
                write_event(&mut out, &e, &clock, g.json)?;
            }
            out.flush()?;
            if let (Some(t), Some(i)) = (next_stats, interval) {
                if Instant::now() >= t {
                    write_stats(&mut out, &s.stats()?, &clock, false, g.json)?;
                    out.flush()?;
                    next_stats = Some(t + i);
                }
            }
        }
        for e in s.drain()? {
            write_event(&mut out, &e, &clock, g.json)?;
        }
        write_stats(&mut out, &s.stats()?, &clock, true, g.json)?;
        out.flush()?;
        Ok(())
    });
    if result.is_err() {
        for l in log.take_lines() {
            if l.level == coretool::libbpf::LogLevel::Warn {
                eprintln!("{}", l.text);
            }
        }
    }
    result?;
    Ok(exit_ok())
}

/// Maps the probe's CLOCK_MONOTONIC timestamps to wall-clock time.
struct WallClock {
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, in ns.
    offset_ns: i128,
}

fn clock_ns(id: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out pointer; both clocks always exist on Linux.
    unsafe { libc::clock_gettime(id, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

impl WallClock {
    fn now() -> WallClock {
        WallClock {
            offset_ns: clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC),
        }
    }
    fn unix_ns(&self, mono_ns: u64) -> i128 {
        i128::from(mono_ns) + self.offset_ns
    }
    fn unix_ns_u64(&self, mono_ns: u64) -> u64 {
        u64::try_from(self.unix_ns(mono_ns)).unwrap_or(0)
    }
    /// Local `HH:MM:SS.mmm`.
    fn local(&self, mono_ns: u64) -> String {
        let unix = self.unix_ns(mono_ns);
        let secs = (unix / 1_000_000_000) as libc::time_t;
        let ms = (unix % 1_000_000_000) / 1_000_000;
        // SAFETY: tm is plain data; localtime_r fills it from a valid time_t.
        let tm = unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            libc::localtime_r(&secs, &mut tm);
            tm
        };
        format!(
            "{:02}:{:02}:{:02}.{ms:03}",
            tm.tm_hour, tm.tm_min, tm.tm_sec
        )
    }
}

/// The FILE / EXIT column.
fn detail(e: &Event) -> String {
    match e.kind {
        EventKind::Exec if e.exe.is_empty() || e.filename.ends_with(&format!("/{}", e.exe)) => {
            e.filename.clone()
        }
        EventKind::Exec => format!("{} ({})", e.filename, e.exe),
        EventKind::Exit => e.status().to_string(),
        EventKind::Fork => format!("child {}", e.child_pid),
        EventKind::DoExit => format!("code {}", ExitStatus::from_raw(e.exit_status)),
    }
}

fn write_event(w: &mut dyn Write, e: &Event, clock: &WallClock, json: bool) -> std::io::Result<()> {
    if !json {
        return writeln!(
            w,
            "{:<12}  {:<7}  {:>7}  {:>7}  {:>5}  {:<15}  {}",
            clock.local(e.ts_ns),
            e.kind.name(),
            e.pid,
            e.ppid,
            e.uid,
            e.comm,
            detail(e)
        );
    }
    let mut line = EventJson {
        schema: SCHEMA,
        kind: "event",
        event_type: e.kind.name(),
        unix_ns: clock.unix_ns_u64(e.ts_ns),
        ts_ns: e.ts_ns,
        pid: e.pid,
        tid: e.tid,
        ppid: e.ppid,
        uid: e.uid,
        gid: e.gid,
        comm: &e.comm,
        filename: None,
        exe: None,
        exit_status: None,
        exit_code: None,
        signal: None,
        child_pid: None,
    };
    match e.kind {
        EventKind::Exec => {
            line.filename = Some(&e.filename);
            line.exe = Some(&e.exe);
        }
        EventKind::Exit | EventKind::DoExit => {
            line.exit_status = Some(e.exit_status);
            match e.status() {
                ExitStatus::Exited(c) => line.exit_code = Some(c),
                ExitStatus::Signaled { signal, .. } => line.signal = Some(signal),
                ExitStatus::Other(_) => {}
            }
        }
        EventKind::Fork => line.child_pid = Some(e.child_pid),
    }
    serde_json::to_writer(&mut *w, &MonitorLine::Event(line))?;
    writeln!(w)
}

/// One `monitor --json` line (JSON Lines): an event or the probe's counters, serialized as the
/// line it holds.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum MonitorLine<'a> {
    Event(EventJson<'a>),
    Stats(StatsJson<'a>),
}

crate::render::one_of_schema!(event_kind_schema, ["event"]);
crate::render::one_of_schema!(stats_kind_schema, ["stats"]);

/// One `monitor --json` event line; the keys after `comm` appear only for the event types that
/// have them.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct EventJson<'a> {
    schema: &'static str,
    #[schemars(schema_with = "event_kind_schema")]
    kind: &'static str,
    #[serde(rename = "type")]
    event_type: &'static str,
    unix_ns: u64,
    ts_ns: u64,
    pid: u32,
    tid: u32,
    ppid: u32,
    uid: u32,
    gid: u32,
    comm: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exe: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_status: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_pid: Option<u32>,
}

/// One `monitor --json` stats line: the probe's counters after `unix_ns`.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct StatsJson<'a> {
    schema: &'static str,
    #[schemars(schema_with = "stats_kind_schema")]
    kind: &'static str,
    #[serde(rename = "final")]
    last: bool,
    unix_ns: u64,
    #[serde(flatten)]
    counters: &'a Stats,
}

fn write_stats(
    w: &mut dyn Write,
    s: &Stats,
    clock: &WallClock,
    last: bool,
    json: bool,
) -> std::io::Result<()> {
    let mono = clock_ns(libc::CLOCK_MONOTONIC) as u64;
    if json {
        let line = StatsJson {
            schema: SCHEMA,
            kind: "stats",
            last,
            unix_ns: clock.unix_ns_u64(mono),
            counters: s,
        };
        serde_json::to_writer(&mut *w, &MonitorLine::Stats(line))?;
        return writeln!(w);
    }
    writeln!(
        w,
        "# {} {}: {} events (exec {}, exit {}, fork {}, do_exit {}), lost {}",
        clock.local(mono),
        if last { "final stats" } else { "stats" },
        s.submitted(),
        s.exec,
        s.exit,
        s.fork,
        s.do_exit,
        s.lost
    )
}
