//! `cargo xtask`: build, CI and developer automation for the GB/T 32960 workspace.
//!
//! Run `cargo xtask help` for the list of subcommands. The alias lives in `.cargo/config.toml`.
//!
//! Layout, so new tasks (QEMU tests, firmware builds, ...) slot in easily:
//!
//! * [`main`] matches the subcommand and turns it into a list of [`Step`]s;
//! * [`run_steps`] runs them in order with a `==> name` banner, timing each one, stops at the
//!   first failure, and closes with a summary and an `N passed, M failed` line;
//! * [`Cmd`] is a small command builder whose [`Cmd::run`] echoes the command line first;
//! * [`Ctx`] carries what steps share: the workspace root and the environment that earlier steps
//!   export to later ones (for instance `GB32960_ORACLE_PYTHON` from `setup`).

use std::env;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

mod boards;
mod firmware;
mod harness;
mod load;
mod qemu;

type Error = Box<dyn std::error::Error>;
type Result<T = (), E = Error> = std::result::Result<T, E>;

const USAGE: &str = "\
Usage: cargo xtask <COMMAND> [ARGS]

Commands:
  ci               Run every CI step in order, stopping at the first failure:
                     setup, fmt, clippy, test, no_std, boards, doc, qemu-test
  setup            Install what is missing: rustup targets and components, qemu-system-arm,
                     and the Python oracle virtualenv (target/oracle-venv with rtm_con)
  qemu-test        Build the T-Box firmware (TCP and TLS) for QEMU mps2-an386 and run it
                     against the real gateway: login, values, reissue, period, disconnect,
                     logout, wrong CA (logs in target/qemu-test/)
  boards           Lint and build tbox-firmware for the hardware boards (NUCLEO-F767ZI,
                     NUCLEO-H743ZI, ESP32-C3; TCP and TLS), print flash and RAM (images in
                     target/boards/); `ci` builds only F767ZI (TCP, TLS) and ESP32-C3 (TCP)
  fuzz [SECONDS]   Fuzz the `decode` target of gb32960-core/fuzz with cargo-fuzz on
                     nightly for SECONDS (default 60)
  bench            Run the codec benchmarks (cargo bench -p gb32960-core --bench codec)
{LOAD}  help             Print this message

Environment:
  GB32960_ORACLE_PYTHON   set by `setup` for later steps: the oracle venv's python
  GB32960_REQUIRE_ORACLE  set to 1 by `ci` for `test`, so oracle tests fail instead of skipping
";

/// Bare-metal targets `gb32960-core` must build for (and that `setup` installs).
const NO_STD_TARGETS: &[&str] = &["thumbv7em-none-eabihf", "riscv32imc-unknown-none-elf"];
/// Rustup components the CI steps need.
const RUST_COMPONENTS: &[&str] = &["rustfmt", "clippy"];
/// The Python virtualenv holding the reference implementation, relative to the workspace root.
const ORACLE_VENV: &str = "target/oracle-venv";
/// What the oracle venv needs; installed only when `import rtm_con` fails. rtm_con 1.0.4's
/// `__init__` raises a NameError without openpyxl (its `excel` extra), so that is listed too;
/// the `sig` extra brings `cryptography`, which the RSA-signed oracle frames need.
const ORACLE_PIP_PACKAGES: &[&str] = &["rtm_con[sig]==1.0.4", "openpyxl", "gmssl"];
/// Absolute path of the oracle venv's python, read by the tests.
const ORACLE_PYTHON_ENV: &str = "GB32960_ORACLE_PYTHON";
/// Set to `1` so that oracle tests fail instead of skipping when the oracle is missing.
const REQUIRE_ORACLE_ENV: &str = "GB32960_REQUIRE_ORACLE";
/// The cargo-fuzz project and its target.
const FUZZ_DIR: &str = "gb32960-core/fuzz";
const FUZZ_TARGET: &str = "decode";
const DEFAULT_FUZZ_SECONDS: u64 = 60;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    // Started by QEMU per guest connection: no banner, no summary, nothing on stderr.
    if command == qemu::relay::COMMAND {
        return qemu::relay::run(rest);
    }

    let steps = match command {
        "help" | "-h" | "--help" => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        "ci" => no_args(command, rest).map(|()| ci_steps()),
        "setup" => no_args(command, rest).map(|()| vec![Step::new("setup", setup)]),
        "fuzz" => fuzz_seconds(rest).map(|seconds| vec![Step::new("fuzz", move |ctx: &mut Ctx| fuzz(ctx, seconds))]),
        "bench" => no_args(command, rest).map(|()| vec![Step::new("bench", bench)]),
        "boards" => no_args(command, rest).map(|()| vec![Step::new("boards", boards::run)]),
        "qemu-test" => no_args(command, rest).map(|()| vec![Step::new("qemu-test", qemu::run)]),
        "load" => {
            load::Opts::parse(rest).map(|opts| vec![Step::new("load", move |ctx: &mut Ctx| load::run(ctx, opts))])
        }
        other => Err(format!("unknown command `{other}`").into()),
    };

    match steps {
        Ok(steps) => run_steps(&mut Ctx::new(), steps),
        Err(e) => {
            eprintln!("error: {e}\n");
            eprint!("{}", usage());
            ExitCode::from(2)
        }
    }
}

/// The usage text, with the `load` options spliced in.
fn usage() -> String {
    USAGE.replace("{LOAD}", load::USAGE)
}

fn no_args(command: &str, rest: &[String]) -> Result {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(format!("`{command}` takes no arguments, got `{arg}`").into()),
    }
}

fn fuzz_seconds(rest: &[String]) -> Result<u64> {
    match rest {
        [] => Ok(DEFAULT_FUZZ_SECONDS),
        [seconds] => match seconds.parse::<u64>() {
            Ok(s) if s > 0 => Ok(s),
            _ => Err(format!("fuzz: SECONDS must be a positive integer, got `{seconds}`").into()),
        },
        [_, extra, ..] => Err(format!("fuzz: unexpected argument `{extra}`").into()),
    }
}

/// The CI pipeline, in order.
fn ci_steps() -> Vec<Step> {
    vec![
        Step::new("setup", setup),
        Step::new("fmt", fmt),
        Step::new("clippy", clippy),
        Step::new("test", test),
        Step::new("no_std", no_std),
        Step::new("boards", boards::ci),
        Step::new("doc", doc),
        Step::new("qemu-test", qemu::run),
    ]
}

// ---------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------

/// Installs what is missing, idempotently: rustup targets and components, the oracle venv.
fn setup(ctx: &mut Ctx) -> Result {
    setup_rust(ctx)?;
    setup_system_packages(ctx)?;
    qemu::setup_qemu(ctx)?;
    let python = setup_oracle_venv(ctx)?;
    println!("{ORACLE_PYTHON_ENV}={} (exported to later steps)", python.display());
    ctx.set_env(ORACLE_PYTHON_ENV, python);
    Ok(())
}

fn setup_rust(ctx: &Ctx) -> Result {
    let installed = Cmd::new("rustup").args(["target", "list", "--installed"]).read(ctx)?;
    let missing: Vec<&str> = NO_STD_TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        println!("rustup targets already installed: {}", NO_STD_TARGETS.join(" "));
    } else {
        Cmd::new("rustup").args(["target", "add"]).args(&missing).run(ctx)?;
    }

    let installed = Cmd::new("rustup")
        .args(["component", "list", "--installed"])
        .read(ctx)?;
    // Installed components are listed as `NAME-HOST`, e.g. `clippy-x86_64-unknown-linux-gnu`.
    let missing: Vec<&str> = RUST_COMPONENTS
        .iter()
        .copied()
        .filter(|c| {
            !installed
                .lines()
                .any(|l| l.trim() == *c || l.trim().starts_with(&format!("{c}-")))
        })
        .collect();
    if missing.is_empty() {
        println!("rustup components already installed: {}", RUST_COMPONENTS.join(" "));
    } else {
        Cmd::new("rustup").args(["component", "add"]).args(&missing).run(ctx)?;
    }
    Ok(())
}

/// Debian packages the tests drive: OpenSSL 3 (the independent SM2/SM4/AES implementation of the
/// interoperability tests). Installed with apt-get only when missing.
fn setup_system_packages(ctx: &Ctx) -> Result {
    let has_openssl = Cmd::new("openssl").args(["version"]).probe(ctx);
    if has_openssl {
        println!("openssl already installed");
        return Ok(());
    }
    Cmd::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run(ctx)?;
    Cmd::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "openssl"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run(ctx)
}

/// Makes sure `target/oracle-venv` exists and can `import rtm_con`; returns its python's
/// absolute path (not canonicalized: the venv's `bin/python` is a symlink out of the venv).
fn setup_oracle_venv(ctx: &Ctx) -> Result<PathBuf> {
    let venv = ctx.root.join(ORACLE_VENV);
    let python = venv.join("bin").join("python");

    let usable = python.exists() && Cmd::new(&python).args(["-c", "import sys, pip"]).probe(ctx);
    if !usable {
        if venv.exists() {
            println!("{} is broken; recreating it", venv.display());
            fs::remove_dir_all(&venv)?;
        }
        create_venv(ctx, &venv)?;
    }

    if Cmd::new(&python)
        .args(["-c", "import rtm_con, cryptography, gmssl"])
        .probe(ctx)
    {
        println!("oracle venv ready: rtm_con already installed");
    } else {
        Cmd::new(&python)
            .args(["-m", "pip", "install", "--disable-pip-version-check"])
            .args(ORACLE_PIP_PACKAGES)
            .run(ctx)?;
        Cmd::new(&python)
            .args(["-c", "import rtm_con, cryptography, gmssl"])
            .run(ctx)
            .map_err(|e| format!("rtm_con still cannot be imported after pip install: {e}"))?;
    }
    Ok(python)
}

fn create_venv(ctx: &Ctx, venv: &Path) -> Result {
    let create = Cmd::new("python3").args(["-m", "venv"]).arg(venv);
    let Err(first) = create.run(ctx) else {
        return Ok(());
    };
    // Debian ships `venv`/`ensurepip` separately; we are root there, so install it and retry.
    println!("`python3 -m venv` failed ({first}); trying to install python3-venv with apt-get");
    if venv.exists() {
        fs::remove_dir_all(venv)?;
    }
    Cmd::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run(ctx)?;
    Cmd::new("apt-get")
        .args(["install", "-y", "python3-venv"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run(ctx)?;
    create.run(ctx)
}

fn fmt(ctx: &mut Ctx) -> Result {
    Cmd::new("cargo").args(["fmt", "--all", "--", "--check"]).run(ctx)
}

fn clippy(ctx: &mut Ctx) -> Result {
    Cmd::new("cargo")
        .args(["clippy", "--workspace", "--all-targets", "--all-features"])
        .args(["--", "-D", "warnings"])
        .run(ctx)?;
    // The firmware's board code only exists for its target: lint it there, TCP and TLS builds
    // (the TLS one in the 2025 edition, so its SM2 code is linted for the target too).
    for tls in [false, true] {
        let mut features = firmware::features(qemu::BOARD_FEATURE, tls);
        if tls {
            features.push_str(",edition-2025");
        }
        Cmd::new("cargo")
            .args([
                "clippy",
                "-p",
                "tbox-firmware",
                "--target",
                qemu::TARGET,
                "--features",
                &features,
            ])
            .args(["--", "-D", "warnings"])
            .run(ctx)?;
    }
    Ok(())
}

fn test(ctx: &mut Ctx) -> Result {
    let python = ctx
        .env(ORACLE_PYTHON_ENV)
        .ok_or("the oracle python is unknown: run the `setup` step first")?
        .to_owned();
    Cmd::new("cargo")
        .args(["test", "--workspace", "--all-features"])
        .env(ORACLE_PYTHON_ENV, python)
        .env(REQUIRE_ORACLE_ENV, "1")
        .run(ctx)
}

fn no_std(ctx: &mut Ctx) -> Result {
    // Default features first, then the same spelled out, then the optional integrations.
    // Library builds only: defmt needs a linker script and a logger only when linking a binary.
    let feature_sets: [&[&str]; 4] = [
        &[],
        &["--no-default-features"],
        &["--no-default-features", "--features", "defmt,serde"],
        // Signatures and ciphers that must work without an allocator (RSA needs one).
        &["--no-default-features", "--features", "sm2,p256,aes,sm4"],
    ];
    for target in NO_STD_TARGETS {
        for features in feature_sets {
            Cmd::new("cargo")
                .args(["build", "-p", "gb32960-core", "--target", target])
                .args(features)
                .run(ctx)?;
        }
    }
    Ok(())
}

fn doc(ctx: &mut Ctx) -> Result {
    Cmd::new("cargo")
        .args(["doc", "-p", "gb32960-core", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .run(ctx)
}

fn fuzz(ctx: &mut Ctx, seconds: u64) -> Result {
    let fuzz_dir = ctx.root.join(FUZZ_DIR);
    if !fuzz_dir.join("Cargo.toml").exists() {
        return Err(format!("no cargo-fuzz project at {}", fuzz_dir.display()).into());
    }
    ensure_nightly(ctx)?;
    if Cmd::new("cargo").args(["fuzz", "--version"]).probe(ctx) {
        println!("cargo-fuzz already installed");
    } else {
        Cmd::new("cargo").args(["install", "cargo-fuzz", "--locked"]).run(ctx)?;
    }
    Cmd::new("cargo")
        .args(["+nightly", "fuzz", "run", FUZZ_TARGET, "--"])
        .arg(format!("-max_total_time={seconds}"))
        .dir(fuzz_dir)
        .run(ctx)
}

/// cargo-fuzz needs a nightly toolchain (`-Zsanitizer`); install it if rustup can.
fn ensure_nightly(ctx: &Ctx) -> Result {
    let toolchains = Cmd::new("rustup").args(["toolchain", "list"]).read(ctx)?;
    if toolchains.lines().any(|l| l.trim_start().starts_with("nightly")) {
        return Ok(());
    }
    Cmd::new("rustup")
        .args(["toolchain", "install", "nightly", "--profile", "minimal"])
        .run(ctx)
        .map_err(|e| {
            format!(
                "fuzzing needs the nightly toolchain (cargo-fuzz builds with -Zsanitizer=address), \
                 it is not installed and `rustup toolchain install nightly` failed ({e}); \
                 rustup downloads toolchains from the Rust release servers, which this \
                 machine may not reach: install nightly where it can, or skip fuzzing"
            )
            .into()
        })
}

/// Both codec benchmarks. Their stdout is discarded: criterion's report goes there, and so does
/// the 2016 peer's own printing (about 1 GB a run); the summary tables come on stderr.
fn bench(ctx: &mut Ctx) -> Result {
    Cmd::new("cargo")
        .args(["bench", "-p", "gb32960-core", "--bench", "codec"])
        .discard_stdout()
        .run(ctx)?;
    Cmd::new("cargo")
        .args([
            "bench",
            "-p",
            "gb32960-core",
            "--bench",
            "codec2025",
            "--features",
            "sm2,p256,rsa",
        ])
        .discard_stdout()
        .run(ctx)
}

// ---------------------------------------------------------------------------------------------
// Step runner
// ---------------------------------------------------------------------------------------------

type StepFn = Box<dyn FnOnce(&mut Ctx) -> Result>;

/// One named unit of work with a banner, a duration and a pass/fail outcome.
struct Step {
    name: &'static str,
    run: StepFn,
}

impl Step {
    fn new(name: &'static str, run: impl FnOnce(&mut Ctx) -> Result + 'static) -> Self {
        Self {
            name,
            run: Box::new(run),
        }
    }
}

enum Outcome {
    Passed(Duration),
    Failed(Duration, String),
    NotRun,
}

/// Runs `steps` in order and stops at the first failure. Prints a summary line per step, a
/// one-line reason for the failure, and closes with exactly `N passed, M failed`.
fn run_steps(ctx: &mut Ctx, steps: Vec<Step>) -> ExitCode {
    let mut results: Vec<(&'static str, Outcome)> = Vec::with_capacity(steps.len());
    let mut failed = false;
    for step in steps {
        if failed {
            results.push((step.name, Outcome::NotRun));
            continue;
        }
        println!("\n==> {}", step.name);
        let start = Instant::now();
        let outcome = (step.run)(ctx);
        let elapsed = start.elapsed();
        match outcome {
            Ok(()) => {
                println!("<== {} passed in {}", step.name, secs(elapsed));
                results.push((step.name, Outcome::Passed(elapsed)));
            }
            Err(e) => {
                println!("<== {} FAILED in {}: {e}", step.name, secs(elapsed));
                results.push((step.name, Outcome::Failed(elapsed, e.to_string())));
                failed = true;
            }
        }
    }

    let width = results.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let (mut passed, mut failures) = (0, 0);
    let mut reason = None;
    println!("\n==> summary");
    for (name, outcome) in &results {
        match outcome {
            Outcome::Passed(d) => {
                passed += 1;
                println!("  ok      {name:<width$}  {}", secs(*d));
            }
            Outcome::Failed(d, e) => {
                failures += 1;
                println!("  FAILED  {name:<width$}  {}", secs(*d));
                reason = Some(format!("step `{name}` failed: {e}"));
            }
            Outcome::NotRun => println!("  -       {name:<width$}  not run"),
        }
    }
    if let Some(reason) = reason {
        println!("{reason}");
    }
    println!("{passed} passed, {failures} failed");
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn secs(d: Duration) -> String {
    format!("{:>7.1}s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// Shared context and command helper
// ---------------------------------------------------------------------------------------------

/// What steps share: the workspace root (every command runs there unless told otherwise) and
/// environment variables exported by earlier steps to every later command.
struct Ctx {
    root: PathBuf,
    envs: Vec<(String, OsString)>,
}

impl Ctx {
    fn new() -> Self {
        // `cargo run` sets CARGO_MANIFEST_DIR at run time too; the compile-time value is a
        // fallback for running the binary directly.
        let manifest_dir =
            PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()));
        let root = manifest_dir.parent().map(Path::to_path_buf).unwrap_or(manifest_dir);
        Self { root, envs: Vec::new() }
    }

    fn set_env(&mut self, key: &str, value: impl Into<OsString>) {
        let value = value.into();
        match self.envs.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.envs.push((key.to_owned(), value)),
        }
    }

    fn env(&self, key: &str) -> Option<&OsStr> {
        self.envs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_os_str())
    }
}

/// A command line: program, arguments, extra environment and working directory.
struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(String, OsString)>,
    dir: Option<PathBuf>,
    quiet: bool,
}

impl Cmd {
    fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            dir: None,
            quiet: false,
        }
    }

    fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets a variable for this command only (it is shown in the echoed command line).
    fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Sends the command's standard output to /dev/null (stderr stays on the terminal).
    fn discard_stdout(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Runs in `dir` instead of the workspace root.
    fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    fn command(&self, ctx: &Ctx) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(self.dir.as_deref().unwrap_or(&ctx.root));
        for (k, v) in ctx.envs.iter().chain(&self.envs) {
            command.env(k, v);
        }
        if self.quiet {
            command.stdout(Stdio::null());
        }
        command
    }

    /// Echoes the command line, runs it with inherited stdio, and fails on a non-zero exit.
    fn run(&self, ctx: &Ctx) -> Result {
        println!("+ {}", self.display(ctx));
        let status = self
            .command(ctx)
            .status()
            .map_err(|e| format!("cannot run `{}`: {e}", self.program.to_string_lossy()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{}` exited with {status}", self.display(ctx)).into())
        }
    }

    /// Runs quietly and reports whether it succeeded (a missing program counts as failure).
    fn probe(&self, ctx: &Ctx) -> bool {
        self.command(ctx)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs quietly and returns its standard output; fails on a non-zero exit.
    fn read(&self, ctx: &Ctx) -> Result<String> {
        let output = self
            .command(ctx)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run `{}`: {e}", self.program.to_string_lossy()))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!("`{}` exited with {}", self.display(ctx), output.status).into())
        }
    }

    fn display<'a>(&'a self, ctx: &'a Ctx) -> impl fmt::Display + 'a {
        DisplayCmd { cmd: self, ctx }
    }
}

struct DisplayCmd<'a> {
    cmd: &'a Cmd,
    ctx: &'a Ctx,
}

impl fmt::Display for DisplayCmd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.cmd.dir {
            let shown = dir.strip_prefix(&self.ctx.root).unwrap_or(dir);
            write!(f, "(cd {}) ", quote(shown.as_os_str()))?;
        }
        for (k, v) in &self.cmd.envs {
            write!(f, "{k}={} ", quote(v))?;
        }
        write!(f, "{}", quote(&self.cmd.program))?;
        for arg in &self.cmd.args {
            write!(f, " {}", quote(arg))?;
        }
        Ok(())
    }
}

/// Quotes an argument for display the way a POSIX shell would need it.
fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
