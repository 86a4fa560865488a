//! `cargo xtask kernel-matrix`: coretool on several kernels (Debian's 5.10, 6.1 and 6.12
//! booted under virtme-ng, and the running kernel), judged and summed up in a matrix. See
//! docs/ci.md.
//!
//! The runner (this module) prepares everything on the host, runs the offline side, and hands
//! each VM boot to `scripts/kernel-matrix-vm.sh` (virtme-ng under a time limit); inside each
//! kernel `scripts/kernel-matrix-guest.sh` runs the commands and leaves their outputs in files.
//! [`judge`] turns those files into verdicts and `matrix.json`, [`table`] into the printed
//! matrix; `--summarize DIR` runs only those two.

mod expected;
mod judge;
mod results;
mod table;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use crate::coretool_json::Btf;
use crate::{find_on_path, repo_root};
use results::{Boot, Features, HostBoot, Info, Mode, Run, VmBoot};

/// The kernels a run covers by default.
const DEFAULT_KERNELS: [&str; 4] = ["5.10", "6.1", "6.12", "host"];

/// Run coretool on several kernels and judge the results.
///
/// Exit status: 0 every kernel passed, 1 a kernel failed, 2 could not run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// 5.10, 6.1, 6.12: Debian's kernel package (scripts/fetch-kernels.sh caches it); host: the
    /// running kernel, no VM; or the path of a vmlinuz with its modules at
    /// ../lib/modules/<release> (an unpacked kernel package). Default: 5.10 6.1 6.12 host
    #[arg(value_name = "KERNEL")]
    kernels: Vec<String>,
    /// Results directory [default: target/kernel-matrix]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// coretool binary [default: `cargo build --locked`, target/debug/coretool]
    #[arg(long, value_name = "BIN")]
    coretool: Option<PathBuf>,
    /// BPF object for dry-run (repeatable) [default: the object bundled with `coretool
    /// selftest` (--emit-object) and tests/fixtures/core_all_kinds.bpf.o]
    #[arg(long = "object", value_name = "FILE")]
    objects: Vec<PathBuf>,
    /// BPF objects for the `requires` check (repeatable): each program loaded live in each
    /// kernel, compared with the offline prediction made on the host [default: the objects of
    /// tests/fixtures/requires and tests/fixtures/dryrun, core_all_kinds.bpf.o, and the corpus]
    #[arg(long = "requires-object", value_name = "FILE")]
    requires_objects: Vec<PathBuf>,
    /// Directory of the third-party corpus for `requires` [default: target/corpus/libbpf-tools,
    /// made by `cargo xtask corpus` (Debian's libbpf-tools) when missing]
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Leave the third-party corpus out of the `requires` check
    #[arg(long, conflicts_with = "corpus")]
    no_corpus: bool,
    /// Only these objects of the corpus (repeatable; a file name without `.bpf.o`, e.g.
    /// `biosnoop`): the shorter run CI makes (docs/ci.md)
    #[arg(long, value_name = "NAME", conflicts_with = "no_corpus")]
    corpus_only: Vec<String>,
    /// Time limit per VM, seconds
    #[arg(long, value_name = "SEC", default_value_t = 900)]
    timeout: u64,
    /// Let virtme-ng use KVM (default: --disable-kvm, software emulation)
    #[arg(long)]
    kvm: bool,
    /// Copy each VM's console to stderr as well as to its console.log
    #[arg(long)]
    verbose: bool,
    /// Run nothing: judge the results already in DIR again (no root needed)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["kernels", "out", "coretool", "objects", "requires_objects", "corpus", "no_corpus", "corpus_only", "kvm", "verbose"])]
    summarize: Option<PathBuf>,
}

macro_rules! log {
    ($($arg:tt)*) => { eprintln!("kernel-matrix: {}", format_args!($($arg)*)) };
}

pub fn main(args: Args) -> ExitCode {
    let result = match &args.summarize {
        Some(dir) => summarize(dir),
        None => run(&args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            log!("{e:#}");
            ExitCode::from(2)
        }
    }
}

/// Judge the results in `out`, write `matrix.json`, print the matrix. Ok(false): a kernel
/// failed.
fn summarize(out: &Path) -> Result<bool> {
    let out = fs::canonicalize(out).with_context(|| format!("{}", out.display()))?;
    let matrix = judge::judge(&out)?;
    let path = out.join("matrix.json");
    results::write_json(&path, &matrix)?;
    print!("{}", table::render(&matrix, &path));
    Ok(matrix.ok)
}

/// The coretool under test and what it can do.
struct Coretool {
    bin: PathBuf,
    /// `static` or `dynamic` ([`crate::dist::linkage`]).
    linkage: &'static str,
    features: Features,
}

impl Coretool {
    fn command(&self) -> Command {
        Command::new(&self.bin)
    }

    /// A subcommand exists when `coretool help NAME` succeeds.
    fn has(bin: &Path, name: &str) -> bool {
        Command::new(bin)
            .args(["help", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn probe(bin: PathBuf) -> Result<Self> {
        ensure!(
            Self::has(&bin, "btf"),
            "{} has no btf command: is it coretool?",
            bin.display()
        );
        let check_btf = Self::has(&bin, "check-btf");
        let requires = Self::has(&bin, "requires")
            && Command::new(&bin)
                .args(["help", "requires"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--no-modules"));
        let selftest = Self::has(&bin, "selftest");
        let dry_run = Self::has(&bin, "dry-run");
        let offline = dry_run
            && Command::new(&bin)
                .args(["help", "dry-run"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--offline"));
        for (has, what) in [
            (check_btf, "coretool check-btf"),
            (selftest, "coretool selftest"),
            (dry_run, "coretool dry-run"),
            (requires, "coretool requires --live --no-attach"),
        ] {
            if !has {
                log!("{what}: not available in this build");
            }
        }
        if dry_run && !offline {
            log!("coretool dry-run --offline: not available in this build (no parity check)");
        }
        let linkage = crate::dist::linkage(&bin)?;
        log!("coretool under test: {} ({linkage})", bin.display());
        Ok(Coretool {
            bin,
            linkage,
            features: Features {
                check_btf,
                selftest,
                dry_run,
                offline,
                requires,
            },
        })
    }

    /// The steps the guest script runs, as it takes them. In a VM, `requires` loads without
    /// attaching (`no-attach`): attaching patches kernel text live, which under software
    /// emulation once took a guest down; the host kernel keeps attaching.
    fn steps(&self, mode: Mode) -> String {
        let f = self.features;
        let mut steps = vec!["btf"];
        for (has, step) in [
            (f.check_btf, "check-btf"),
            (f.selftest, "selftest"),
            (f.dry_run, "dry-run"),
            (f.requires, "requires"),
            (f.requires && mode == Mode::Vm, "no-attach"),
        ] {
            if has {
                steps.push(step);
            }
        }
        steps.join(",")
    }
}

/// Everything one run needs.
struct Runner {
    root: PathBuf,
    out: PathBuf,
    coretool: Coretool,
    objects: Vec<PathBuf>,
    /// Objects for the `requires` check.
    requires_objects: Vec<PathBuf>,
    timeout: u64,
    kvm: bool,
    verbose: bool,
}

fn is_series(k: &str) -> bool {
    let mut parts = k.split('.');
    let number =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    number(parts.next()) && number(parts.next()) && parts.next().is_none()
}

fn run(args: &Args) -> Result<bool> {
    let root = repo_root();
    let kernels: Vec<String> = if args.kernels.is_empty() {
        DEFAULT_KERNELS.map(String::from).into()
    } else {
        args.kernels.clone()
    };
    // /proc/self belongs to the process's effective user.
    let euid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    ensure!(
        euid == 0,
        "needs root (selftest and dry-run load BPF programs): run it with sudo"
    );

    let bin = match &args.coretool {
        Some(b) => b.clone(),
        None => build_coretool(&root)?,
    };
    ensure!(bin.is_file(), "{}: not an executable", bin.display());
    let coretool = Coretool::probe(fs::canonicalize(&bin)?)?;

    // Check the kernels before the first (long) boot.
    for k in &kernels {
        if k == "host" {
            continue;
        }
        if is_series(k) {
            let known = Command::new(root.join("scripts/fetch-kernels.sh"))
                .args(["--list", k])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ensure!(known, "{k}: not a series fetch-kernels.sh knows");
        } else {
            ensure!(
                Path::new(k).is_file(),
                "{k}: neither a kernel series (5.10, 6.1, 6.12), host, nor a vmlinuz file"
            );
        }
        ensure!(
            find_on_path(&vng()).is_some(),
            "{} not found (pip install virtme-ng)",
            vng()
        );
        ensure!(
            find_on_path("qemu-system-x86_64").is_some(),
            "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
        );
    }

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/kernel-matrix"));
    fs::create_dir_all(out.join("objects"))
        .with_context(|| format!("creating {}", out.display()))?;
    let out = fs::canonicalize(&out)?;

    let mut objects = args.objects.clone();
    if objects.is_empty() {
        if coretool.features.selftest {
            let obj = out.join("objects/process_monitor.bpf.o");
            let ok = coretool
                .command()
                .arg("selftest")
                .arg("--emit-object")
                .arg(&obj)
                .stdout(std::io::stderr())
                .status()
                .is_ok_and(|s| s.success());
            ensure!(ok, "coretool selftest --emit-object failed");
            objects.push(obj);
        }
        objects.push(root.join("tests/fixtures/core_all_kinds.bpf.o"));
    }
    let mut names = Vec::new();
    for o in &mut objects {
        ensure!(o.is_file(), "{}: no such file", o.display());
        *o = fs::canonicalize(&*o)?;
        let name = o.file_name().unwrap_or_default().to_owned();
        ensure!(
            !names.contains(&name),
            "objects must have distinct file names"
        );
        names.push(name);
    }

    let requires_objects = if coretool.features.requires {
        requires_objects(&root, args)?
    } else {
        Vec::new()
    };
    let runner = Runner {
        root,
        out,
        coretool,
        objects,
        requires_objects,
        timeout: args.timeout,
        kvm: args.kvm,
        verbose: args.verbose,
    };
    let t0 = Instant::now();
    let mut releases = Vec::new();
    for k in &kernels {
        releases.push(runner.run_kernel(k)?);
    }
    let version = runner.coretool.command().arg("--version").output()?;
    let run = Run {
        coretool: runner.coretool.bin.display().to_string(),
        version: String::from_utf8_lossy(&version.stdout).trim().to_owned(),
        linkage: Some(runner.coretool.linkage.to_owned()),
        features: runner.coretool.features,
        objects: runner
            .objects
            .iter()
            .map(|o| o.display().to_string())
            .collect(),
        kernels: releases,
        seconds: round_to(t0.elapsed().as_secs_f64(), 1),
    };
    results::write_json(&runner.out.join("run.json"), &run)?;
    summarize(&runner.out)
}

/// The objects of the `requires` check: those given, else the test fixtures and the corpus
/// (extracted from Debian's libbpf-tools first when it is not there yet).
fn requires_objects(root: &Path, args: &Args) -> Result<Vec<PathBuf>> {
    let mut objects = args.requires_objects.clone();
    if objects.is_empty() {
        for dir in ["tests/fixtures/requires", "tests/fixtures/dryrun"] {
            objects.extend(bpf_objects_in(&root.join(dir))?);
        }
        objects.push(root.join("tests/fixtures/core_all_kinds.bpf.o"));
        if !args.no_corpus {
            let corpus = match &args.corpus {
                Some(c) => c.clone(),
                None => {
                    let c = root.join("target/corpus/libbpf-tools");
                    if !c.is_dir() {
                        log!("extracting the requires corpus (cargo xtask corpus)");
                        crate::corpus::run(&crate::corpus::Args::default())?;
                    }
                    c
                }
            };
            let mut found = bpf_objects_in(&corpus)?;
            ensure!(!found.is_empty(), "{}: no *.bpf.o in it", corpus.display());
            if !args.corpus_only.is_empty() {
                for name in &args.corpus_only {
                    let file = corpus.join(format!("{name}.bpf.o"));
                    ensure!(
                        found.contains(&file),
                        "--corpus-only {name}: no {} in the corpus",
                        file.display()
                    );
                }
                found.retain(|f| {
                    args.corpus_only
                        .iter()
                        .any(|n| f.file_name() == Some(format!("{n}.bpf.o").as_ref()))
                });
            }
            objects.extend(found);
        }
    }
    let mut canonical = Vec::new();
    for o in objects {
        canonical.push(fs::canonicalize(&o).with_context(|| format!("{}", o.display()))?);
    }
    Ok(canonical)
}

/// The `*.bpf.o` files of `dir`, sorted.
fn bpf_objects_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".bpf.o"))
        .collect();
    found.sort();
    Ok(found)
}

/// virtme-ng's command.
fn vng() -> String {
    std::env::var("VNG").unwrap_or_else(|_| "vng".to_owned())
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// `cargo build --locked` of coretool; the binary's path.
fn build_coretool(root: &Path) -> Result<PathBuf> {
    log!("building coretool (cargo build --locked)");
    crate::cargo_build(
        root,
        &["--package", "coretool", "--bin", "coretool"],
        "coretool",
    )
}

impl Runner {
    /// Run one kernel; its release.
    fn run_kernel(&self, spec: &str) -> Result<String> {
        let (release, mode, btf) = if spec == "host" {
            let release = fs::read_to_string("/proc/sys/kernel/osrelease")
                .context("reading the running kernel's release")?;
            (
                release.trim().to_owned(),
                Mode::Host,
                PathBuf::from("/sys/kernel/btf/vmlinux"),
            )
        } else if is_series(spec) {
            // A Debian series: fetch-kernels.sh knows which (and says so when it does not).
            let out = Command::new(self.root.join("scripts/fetch-kernels.sh"))
                .arg(spec)
                .stderr(Stdio::inherit())
                .output()
                .context("running scripts/fetch-kernels.sh")?;
            ensure!(out.status.success(), "{spec}: fetch-kernels.sh failed");
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().last().unwrap_or_default();
            let Some((release, vmlinuz)) = line.split_once(' ') else {
                bail!("{spec}: fetch-kernels.sh printed no `RELEASE VMLINUZ` line");
            };
            (release.to_owned(), Mode::Vm, PathBuf::from(vmlinuz))
        } else {
            let vmlinuz = fs::canonicalize(spec).with_context(|| {
                format!(
                    "{spec}: neither a kernel series (5.10, 6.1, 6.12), host, nor a vmlinuz file"
                )
            })?;
            let out = self
                .coretool
                .command()
                .args(["--json", "btf", "--btf"])
                .arg(&vmlinuz)
                .args(["--id", "1"])
                .output()?;
            ensure!(out.status.success(), "{spec}: coretool cannot read its BTF");
            let dump: Btf = serde_json::from_slice(&out.stdout)
                .with_context(|| format!("{spec}: coretool cannot read its BTF"))?;
            let Some(release) = dump
                .source
                .and_then(|s| s.release)
                .filter(|r| !r.is_empty())
            else {
                bail!("{spec}: no kernel release in the image");
            };
            let modules = vmlinuz
                .parent()
                .unwrap_or(Path::new("/"))
                .join("../lib/modules")
                .join(&release);
            if !modules.is_dir() {
                log!(
                    "{release}: warning: no {}: the guest boots without modules",
                    modules.display()
                );
            }
            (release, Mode::Vm, vmlinuz)
        };
        let dir = self.out.join(&release);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        fs::create_dir_all(dir.join("guest"))?;
        let info = Info {
            name: spec.to_owned(),
            release: release.clone(),
            mode,
            btf: btf.display().to_string(),
        };
        results::write_json(&dir.join("info.json"), &info)?;
        if self.coretool.features.requires {
            let list: String = self
                .requires_objects
                .iter()
                .map(|o| format!("{}\n", o.display()))
                .collect();
            fs::write(dir.join("guest/requires.objects"), list)?;
        }
        self.offline_runs(&dir, &btf)?;
        let boot = match mode {
            Mode::Host => {
                log!("{release}: the running kernel, no VM");
                let t0 = Instant::now();
                let status = Command::new("bash")
                    .args(self.guest_command(&dir, Mode::Host))
                    .current_dir(&self.root)
                    .status()
                    .context("running scripts/kernel-matrix-guest.sh")?;
                if !status.success() {
                    log!("{release}: the guest script exited with {status}");
                }
                Boot::Host(HostBoot {
                    run_seconds: round_to(t0.elapsed().as_secs_f64(), 1),
                })
            }
            Mode::Vm => Boot::Vm(self.run_vm(&dir, &btf, &release)?),
        };
        results::write_json(&dir.join("boot.json"), &boot)?;
        Ok(release)
    }

    /// `scripts/kernel-matrix-guest.sh` and its arguments, for `bash`.
    fn guest_command(&self, dir: &Path, mode: Mode) -> Vec<String> {
        let mut cmd = vec![
            self.root
                .join("scripts/kernel-matrix-guest.sh")
                .display()
                .to_string(),
            dir.join("guest").display().to_string(),
            self.coretool.bin.display().to_string(),
            self.coretool.steps(mode),
        ];
        cmd.extend(self.objects.iter().map(|o| o.display().to_string()));
        cmd
    }

    /// The host side for one kernel: coretool reads the kernel's BTF from `btf` itself.
    fn offline_runs(&self, dir: &Path, btf: &Path) -> Result<()> {
        let host = dir.join("host");
        fs::create_dir_all(&host)?;
        let step = |name: &str, args: &[&std::ffi::OsStr]| -> Result<()> {
            let stdout = fs::File::create(host.join(format!("{name}.json")))?;
            let stderr = fs::File::create(host.join(format!("{name}.stderr")))?;
            let status = self
                .coretool
                .command()
                .args(args)
                .stdout(stdout)
                .stderr(stderr)
                .status()
                .with_context(|| format!("running {}", self.coretool.bin.display()))?;
            // A signal leaves no code; the shell would have said 128 + signal.
            let rc = status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + status.signal().unwrap_or(0)
            });
            fs::write(host.join(format!("{name}.rc")), format!("{rc}\n"))?;
            Ok(())
        };
        step(
            "btf",
            &[
                "--json".as_ref(),
                "btf".as_ref(),
                "--btf".as_ref(),
                btf.as_os_str(),
                "--kind".as_ref(),
                "struct".as_ref(),
                "task_struct".as_ref(),
            ],
        )?;
        if self.coretool.features.requires {
            // The prediction, made here from the kernel's BTF (and the config next to it),
            // for the kernel as the guest runs it: with no module loaded (--no-modules; the
            // guests load none, the host has none). The objects first: --btf takes every
            // argument after it.
            let mut args: Vec<&std::ffi::OsStr> = vec![
                "--json".as_ref(),
                "requires".as_ref(),
                "--no-cache".as_ref(),
                "--no-modules".as_ref(),
            ];
            args.extend(self.requires_objects.iter().map(|o| o.as_os_str()));
            args.extend(["--btf".as_ref(), btf.as_os_str()]);
            step("requires", &args)?;
        }
        if !self.coretool.features.offline {
            return Ok(());
        }
        for o in &self.objects {
            let name = o.file_name().unwrap_or_default().to_string_lossy();
            step(
                &format!("dry-run.{name}"),
                &[
                    "--json".as_ref(),
                    "dry-run".as_ref(),
                    "--offline".as_ref(),
                    "--btf".as_ref(),
                    btf.as_os_str(),
                    o.as_os_str(),
                ],
            )?;
        }
        Ok(())
    }

    /// Boot `vmlinuz` under virtme-ng (scripts/kernel-matrix-vm.sh) and run the guest script
    /// in it; how the boot went.
    fn run_vm(&self, dir: &Path, vmlinuz: &Path, release: &str) -> Result<VmBoot> {
        let console = dir.join("console.log");
        log!(
            "{release}: booting under virtme-ng (console: {})",
            console.display()
        );
        let t0 = Instant::now();
        let status = Command::new("bash")
            .arg(self.root.join("scripts/kernel-matrix-vm.sh"))
            .arg(dir)
            .arg(vmlinuz)
            .arg(self.timeout.to_string())
            .arg(if self.kvm { "kvm" } else { "no-kvm" })
            .arg(if self.verbose { "verbose" } else { "quiet" })
            .arg("--")
            .args(self.guest_command(dir, Mode::Vm))
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .status()
            .context("running scripts/kernel-matrix-vm.sh")?;
        ensure!(
            status.success(),
            "{release}: scripts/kernel-matrix-vm.sh failed ({status})"
        );
        let wall = round_to(t0.elapsed().as_secs_f64(), 1);
        let vng_exit: i64 = fs::read_to_string(dir.join("vng.rc"))
            .context("reading vng.rc")?
            .trim()
            .parse()
            .context("vng.rc: not an exit status")?;
        let uptime: Option<f64> = fs::read_to_string(dir.join("guest/uptime"))
            .ok()
            .and_then(|t| t.trim().parse().ok());
        let console_text = fs::read(&console).unwrap_or_default();
        let script = script_start(&String::from_utf8_lossy(&console_text)).map(|s| round_to(s, 2));
        match uptime {
            None => log!(
                "{release}: the guest never ran its commands (vng exit {vng_exit} after {wall:.1}s)"
            ),
            Some(up) => log!(
                "{release}: booted in {}s (virtme-ng-init started the command), the guest script \
                 ran {up}s after power-on; vng took {wall:.1}s in all",
                script.map_or("?".to_owned(), |s| format!("{s:.2}"))
            ),
        }
        Ok(VmBoot {
            seconds_to_script: script,
            seconds_to_userspace: uptime,
            vng_seconds: wall,
            vng_exit,
            timeout: self.timeout,
        })
    }
}

/// The kernel's timestamp of virtme-ng-init handing over to the command (`[  12.345678]
/// virtme-ng-init: starting script`): the boot proper.
fn script_start(console: &str) -> Option<f64> {
    console.lines().find_map(|line| {
        let rest = line.strip_prefix('[')?;
        let (stamp, msg) = rest.split_once(']')?;
        msg.strip_prefix(" virtme-ng-init: starting script")?;
        stamp.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_start_is_read_from_the_console() {
        let console = "[    1.000000] Linux version\n\
                       [   16.870123] virtme-ng-init: starting script\n\
                       [   20.000000] virtme-ng-init: starting script again\n";
        assert_eq!(script_start(console), Some(16.870123));
        assert_eq!(script_start("no such line\n"), None);
    }

    #[test]
    fn series_are_two_numbers() {
        assert!(is_series("5.10"));
        assert!(is_series("6.1"));
        assert!(!is_series("6"));
        assert!(!is_series("6.1.2"));
        assert!(!is_series("host"));
        assert!(!is_series("k/boot/vmlinuz-6.1"));
    }
}
