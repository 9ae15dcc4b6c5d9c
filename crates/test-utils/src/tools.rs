//! The external clients the tests drive (written outside this project, so they check it
//! independently), found in one place.
//!
//! Python with python-bitcoinlib and embit is the interpreter at `$ALYS_PYTHON`, else
//! `<repo>/.venv/bin/python3` (created by `scripts/setup.sh`); Foundry's cast, forge and anvil,
//! viem, solc, playwright-core and the EthereumJS execution client are the npm packages under
//! `tests/e2e/node_modules` (`$ALYS_E2E_DIR` points elsewhere); esbuild and TypeScript, which
//! build the peg web page, are under `ui/node_modules`; Chromium is Debian's `/usr/bin/chromium`
//! (`$ALYS_CHROMIUM` points elsewhere); promtool is Debian's `prometheus` package's, on the
//! `PATH`. A test that needs a missing tool fails with a message naming it and how to
//! install it, unless `ALYS_ALLOW_MISSING_TOOLS=1` is set: then it prints `SKIPPED: …` and
//! returns early.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Set to `1` to skip (instead of fail) the tests whose external tools are missing.
pub const ALLOW_MISSING_VAR: &str = "ALYS_ALLOW_MISSING_TOOLS";
/// The Python interpreter to use instead of `<repo>/.venv/bin/python3`.
pub const PYTHON_VAR: &str = "ALYS_PYTHON";
/// The directory of the npm end-to-end tools instead of `<repo>/tests/e2e`.
pub const E2E_DIR_VAR: &str = "ALYS_E2E_DIR";
/// The Chromium binary instead of `/usr/bin/chromium`.
pub const CHROMIUM_VAR: &str = "ALYS_CHROMIUM";

/// An external tool a test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// A Python interpreter that imports python-bitcoinlib (`bitcoin.rpc`).
    PythonBitcoinlib,
    /// A Python interpreter that imports embit.
    PythonEmbit,
    /// Foundry's `cast`.
    Cast,
    /// Foundry's `forge`.
    Forge,
    /// Foundry's `anvil`.
    Anvil,
    /// The viem package (run by Node.js).
    Viem,
    /// The solc-js compiler package.
    Solc,
    /// Node.js (`node` on the `PATH`), which runs the viem scripts.
    NodeJs,
    /// The EthereumJS execution client (`@ethereumjs/client`, binary `ethereumjs`).
    EthereumJs,
    /// The playwright-core package, which drives Chromium.
    PlaywrightCore,
    /// Debian's Chromium (`/usr/bin/chromium`).
    Chromium,
    /// esbuild and TypeScript under `ui/node_modules`, which build and check the peg web page.
    UiBuild,
    /// Prometheus's `promtool` (Debian's `prometheus` package), which checks the alert rules.
    Promtool,
}

impl Tool {
    /// What the tool is, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Tool::PythonBitcoinlib => "Python with python-bitcoinlib",
            Tool::PythonEmbit => "Python with embit",
            Tool::Cast => "Foundry's cast",
            Tool::Forge => "Foundry's forge",
            Tool::Anvil => "Foundry's anvil",
            Tool::Viem => "viem",
            Tool::Solc => "solc-js",
            Tool::NodeJs => "Node.js",
            Tool::EthereumJs => "the EthereumJS execution client (@ethereumjs/client)",
            Tool::PlaywrightCore => "playwright-core",
            Tool::Chromium => "Chromium",
            Tool::UiBuild => "esbuild and TypeScript (ui/node_modules)",
            Tool::Promtool => "Prometheus's promtool",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Tool::NodeJs => "install Node.js (with npm), then run scripts/setup.sh",
            Tool::Chromium => "run scripts/setup.sh (installs Debian's chromium package)",
            Tool::Promtool => "run scripts/setup.sh (installs Debian's prometheus package)",
            _ => "run scripts/setup.sh",
        }
    }

    /// The tool's path (a program to run, or a package directory), or why it is not usable.
    pub fn locate(self) -> Result<PathBuf, String> {
        match self {
            Tool::PythonBitcoinlib => python_with("bitcoin.rpc"),
            Tool::PythonEmbit => python_with("embit"),
            Tool::Cast => foundry_bin("cast"),
            Tool::Forge => foundry_bin("forge"),
            Tool::Anvil => foundry_bin("anvil"),
            Tool::Viem => npm_file("viem/package.json"),
            Tool::Solc => npm_file("solc/solc.js"),
            Tool::NodeJs => runs(Path::new("node"), &["--version"]).map(|()| PathBuf::from("node")),
            Tool::EthereumJs => npm_file(".bin/ethereumjs"),
            Tool::PlaywrightCore => npm_file("playwright-core/package.json"),
            Tool::Chromium => {
                let path = chromium();
                runs(&path, &["--version"]).map(|()| path)
            }
            Tool::Promtool => {
                runs(Path::new("promtool"), &["--version"]).map(|()| PathBuf::from("promtool"))
            }
            Tool::UiBuild => {
                let modules = crate::repo_root().join("ui/node_modules");
                for package in ["esbuild/package.json", "typescript/bin/tsc"] {
                    if !modules.join(package).exists() {
                        return Err(format!("no {}", modules.join(package).display()));
                    }
                }
                Ok(crate::repo_root().join("ui"))
            }
        }
    }
}

/// The tool's path; when it is missing, panics naming it and how to install it, or (with
/// `ALYS_ALLOW_MISSING_TOOLS=1`) prints `SKIPPED: …` and returns `None`.
pub fn require(tool: Tool) -> Option<PathBuf> {
    match tool.locate() {
        Ok(path) => Some(path),
        Err(why) => missing(tool, &why),
    }
}

/// [`require`] for several tools: every path, in order, or `None` (skipped) at the first
/// missing one.
pub fn require_all(tools: &[Tool]) -> Option<Vec<PathBuf>> {
    tools.iter().map(|t| require(*t)).collect()
}

fn missing<T>(tool: Tool, why: &str) -> Option<T> {
    let allowed = std::env::var(ALLOW_MISSING_VAR).is_ok_and(|v| v.trim() == "1");
    let message = format!(
        "{} is missing ({why}): {}",
        tool.name(),
        tool.install_hint()
    );
    if allowed {
        println!("SKIPPED: {message} ({ALLOW_MISSING_VAR}=1)");
        None
    } else {
        panic!("{message}; or set {ALLOW_MISSING_VAR}=1 to skip the tests that need it");
    }
}

/// The Python interpreter the tests use: `$ALYS_PYTHON`, else `<repo>/.venv/bin/python3`.
pub fn python() -> PathBuf {
    std::env::var_os(PYTHON_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join(".venv/bin/python3"))
}

/// The directory holding the npm end-to-end tools: `$ALYS_E2E_DIR`, else `<repo>/tests/e2e`.
pub fn e2e_dir() -> PathBuf {
    std::env::var_os(E2E_DIR_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("tests/e2e"))
}

/// The Chromium binary: `$ALYS_CHROMIUM`, else `/usr/bin/chromium`.
pub fn chromium() -> PathBuf {
    std::env::var_os(CHROMIUM_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn python_with(module: &str) -> Result<PathBuf, String> {
    let py = python();
    if !py.exists() {
        return Err(format!(
            "no interpreter at {} (set {PYTHON_VAR} to use another)",
            py.display()
        ));
    }
    runs(&py, &["-c", &format!("import {module}")])
        .map_err(|e| format!("{} cannot import {module}: {e}", py.display()))?;
    Ok(py)
}

/// `program args` exits with success.
fn runs(program: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{} does not run: {e}", program.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {} exited with {status}",
            program.display(),
            args.join(" ")
        ))
    }
}

/// The native Foundry binary of the npm package (`@foundry-rs/<platform>/bin/<name>`), else
/// the `node_modules/.bin` entry.
fn foundry_bin(name: &str) -> Result<PathBuf, String> {
    let modules = e2e_dir().join("node_modules");
    let native = std::fs::read_dir(modules.join("@foundry-rs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .find(|p| p.is_file());
    native
        .or_else(|| Some(modules.join(".bin").join(name)).filter(|p| p.exists()))
        .ok_or_else(|| format!("not under {}", modules.display()))
}

fn npm_file(relative: &str) -> Result<PathBuf, String> {
    let path = e2e_dir().join("node_modules").join(relative);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("no {}", path.display()))
    }
}
