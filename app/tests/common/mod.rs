//! Shared helpers of the end-to-end tests that run the `alys` binary: Foundry's `cast` (a client
//! no one here wrote) and `alys dev` started on free ports, its endpoints read from what it
//! prints, its log kept for failure messages.

#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

/// The native `cast` installed by `scripts/setup.sh` (npm `@foundry-rs/cast`), if installed.
pub fn cast_bin() -> Option<PathBuf> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/node_modules/@foundry-rs");
    std::fs::read_dir(&base)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/cast"))
        .find(|p| p.is_file())
}

/// Runs `cast` with `args`; its trimmed stdout, or its stderr as the error.
pub fn cast(args: &[&str]) -> Result<String, String> {
    let bin = cast_bin().ok_or("Foundry's cast is not installed: run scripts/setup.sh")?;
    let out = Command::new(bin)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

/// A running `alys dev` process and the endpoints it printed.
pub struct DevProcess {
    /// The process.
    pub child: Child,
    /// eth JSON-RPC URL.
    pub eth_rpc: String,
    /// Node JSON-RPC URL.
    pub node_rpc: String,
    /// Node JSON-RPC port.
    pub node_rpc_port: u16,
    /// Bitcoin RPC URL of the embedded devnet, when it printed one.
    pub bitcoin_rpc: Option<String>,
    /// The node's output, appended to across restarts of the same datadir.
    pub log: PathBuf,
}

impl DevProcess {
    /// Starts `alys dev --datadir <datadir>` with every port 0 (no two tests ever race for a
    /// port) plus `extra` arguments, and waits until it has printed its endpoints.
    pub fn start(datadir: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(datadir).unwrap();
        // stdout (endpoints and logs) and stderr share one file, appended to across restarts;
        // this run's endpoints are read from what it adds after `start`.
        let log = datadir.join("dev-test.log");
        let stdout = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let start = stdout.metadata().map(|m| m.len() as usize).unwrap_or(0);
        let stderr = stdout.try_clone().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_alys"))
            .arg("dev")
            .arg("--datadir")
            .arg(datadir)
            .args(["--http-port", "0", "--authrpc-port", "0", "--rpc-port", "0"])
            .args(["--bitcoin-rpc-port", "0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut dev = DevProcess {
            child,
            eth_rpc: String::new(),
            node_rpc: String::new(),
            node_rpc_port: 0,
            bitcoin_rpc: None,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let all = std::fs::read(&dev.log).unwrap_or_default();
            let out = String::from_utf8_lossy(all.get(start..).unwrap_or_default()).to_string();
            let url_after = |label: &str| {
                out.lines()
                    .find(|l| l.trim_start().starts_with(label))
                    .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
                    .map(str::to_string)
            };
            if let (Some(eth), Some(node)) = (url_after("eth JSON-RPC"), url_after("node JSON-RPC"))
            {
                dev.node_rpc_port = node.rsplit(':').next().unwrap().parse().unwrap();
                dev.eth_rpc = eth;
                dev.node_rpc = node;
                dev.bitcoin_rpc = url_after("bitcoin RPC");
                return dev;
            }
            if let Ok(Some(status)) = dev.child.try_wait() {
                panic!("alys dev exited ({status}) at start:\n{}", dev.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "alys dev printed no endpoints within 60s:\n{out}{}",
                dev.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines the node logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Stops the node with SIGINT, as Ctrl-C; panics if it does not exit within 15 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("alys dev did not stop on SIGINT");
    }
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
