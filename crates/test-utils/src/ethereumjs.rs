//! The EthereumJS execution client (npm `@ethereumjs/client`, written outside this project) run
//! as a process: a geth genesis file, a JWT secret file, its Engine API and eth JSON-RPC on
//! 127.0.0.1. It cannot bind port 0 and report the port, so free ports are picked here and the
//! start is retried on other ports when one was taken in between.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::json_rpc::JsonRpc;
use crate::process::LoggedProcess;
use crate::tools::Tool;

/// How long EthereumJS may take to open its RPC servers.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Starts tried (each on fresh ports) before giving up.
const START_ATTEMPTS: usize = 5;

/// A running EthereumJS, its ports and files (it also writes its own rotating log into the
/// data directory).
pub struct EthereumJsProcess {
    /// The process, while running.
    pub process: Option<LoggedProcess>,
    /// Engine API URL (JWT).
    pub engine_url: String,
    /// eth JSON-RPC URL (no JWT; serves `eth_getBlockReceipts`).
    pub eth_rpc: String,
    binary: PathBuf,
    genesis: PathBuf,
    datadir: PathBuf,
    jwt: PathBuf,
    log: PathBuf,
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl EthereumJsProcess {
    /// Starts EthereumJS on `genesis` (geth format) with its data in `datadir` and the JWT
    /// secret file `jwt` (created with a random secret if missing); output appended to
    /// `<datadir>.log`. `None` when the tool is missing and `ALYS_ALLOW_MISSING_TOOLS=1`.
    pub fn start(genesis: &Path, datadir: &Path, jwt: &Path) -> Option<Self> {
        let binary = crate::tools::require(Tool::EthereumJs)?;
        if !jwt.exists() {
            let secret: [u8; 32] = rand::random();
            let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            alys_secrets::create_secret_file(jwt, hex.as_bytes())
                .expect("writing the JWT secret (mode 0600)");
        }
        let mut el = Self {
            process: None,
            engine_url: String::new(),
            eth_rpc: String::new(),
            binary,
            genesis: genesis.to_path_buf(),
            datadir: datadir.to_path_buf(),
            jwt: jwt.to_path_buf(),
            log: PathBuf::from(format!("{}.log", datadir.display())),
        };
        el.run();
        Some(el)
    }

    /// Starts it again on the same data directory (and the same ports if still free).
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "EthereumJS is already running");
        self.run();
    }

    /// SIGINTs it (as Ctrl-C, so it flushes its database) and waits for it to exit; SIGKILL
    /// after 30 s.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            let _ = std::process::Command::new("kill")
                .args(["-INT", &p.child.id().to_string()])
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while p.exited().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(crate::wait::POLL);
            }
            p.kill();
        }
    }

    /// The data directory.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The JWT secret file.
    pub fn jwt(&self) -> &Path {
        &self.jwt
    }

    /// The `alys node` arguments that make the node drive it: `--engine-url`, `--jwt-secret`
    /// and, when `execution_rpc`, `--execution-rpc-url` (its eth JSON-RPC, where the node reads
    /// receipts). They name its current ports: take them again after a restart.
    pub fn node_args(&self, execution_rpc: bool) -> Vec<String> {
        let mut args = vec![
            "--engine-url".to_string(),
            self.engine_url.clone(),
            "--jwt-secret".to_string(),
            self.jwt.to_string_lossy().into_owned(),
        ];
        if execution_rpc {
            args.extend(["--execution-rpc-url".to_string(), self.eth_rpc.clone()]);
        }
        args
    }

    /// The last lines it logged.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// An eth JSON-RPC call; `result`, or the error as text.
    pub fn eth(&self, method: &str, params: Value) -> Result<Value, String> {
        JsonRpc::new(&self.eth_rpc, None).call(method, params)
    }

    /// `eth_getBlockByNumber(<tag>, false)`.
    pub fn block(&self, tag: &str) -> Result<Value, String> {
        self.eth("eth_getBlockByNumber", json!([tag, false]))
    }

    fn run(&mut self) {
        let mut failures = Vec::new();
        for attempt in 0..START_ATTEMPTS {
            let (rpc, engine, p2p) = match (attempt, &self.engine_url) {
                // A restart keeps the ports the node was told about, when it can.
                (0, url) if !url.is_empty() => (
                    crate::nodes::port_of(&self.eth_rpc),
                    crate::nodes::port_of(url),
                    free_port(),
                ),
                _ => (free_port(), free_port(), free_port()),
            };
            let args: Vec<OsString> = [
                "--gethGenesis".into(),
                self.genesis.clone().into_os_string(),
                "--dataDir".into(),
                self.datadir.clone().into_os_string(),
                "--rpcEngine".into(),
                "--rpcEngineAddr".into(),
                "127.0.0.1".into(),
                "--rpcEnginePort".into(),
                engine.to_string().into(),
                "--jwtSecret".into(),
                self.jwt.clone().into_os_string(),
                "--rpc".into(),
                "--rpcAddr".into(),
                "127.0.0.1".into(),
                "--rpcPort".into(),
                rpc.to_string().into(),
                "--port".into(),
                p2p.to_string().into(),
                "--isSingleNode".into(),
                "--discV4=false".into(),
                "--discDns=false".into(),
                "--saveReceipts".into(),
            ]
            .into_iter()
            .collect();
            let log_start = std::fs::metadata(&self.log).map_or(0, |m| m.len() as usize);
            let mut process = LoggedProcess::spawn("ethereumjs", &self.binary, args, &self.log);
            let (eth_rpc, engine_url) = (
                format!("http://127.0.0.1:{rpc}"),
                format!("http://127.0.0.1:{engine}"),
            );
            let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                process.wait_for_line(START_TIMEOUT, "`Client started successfully`", |l| {
                    l.contains("Client started successfully").then_some(())
                });
                // It logs its servers as started before they accept connections.
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while JsonRpc::new(&eth_rpc, None)
                    .call("eth_chainId", json!([]))
                    .is_err()
                {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "eth RPC not answering"
                    );
                    std::thread::sleep(crate::wait::POLL);
                }
            }));
            let bind_failed = process
                .log_text()
                .get(log_start..)
                .is_some_and(|run| run.contains("EADDRINUSE"));
            match started {
                Ok(()) if !bind_failed => {
                    self.engine_url = engine_url;
                    self.eth_rpc = eth_rpc;
                    self.process = Some(process);
                    return;
                }
                _ => {
                    process.kill();
                    failures.push(format!("attempt {attempt}: ports {rpc}/{engine}/{p2p}"));
                    assert!(
                        bind_failed,
                        "EthereumJS did not start:\n{}",
                        self.log_tail()
                    );
                }
            }
        }
        panic!(
            "EthereumJS could not bind free ports ({}):\n{}",
            failures.join("; "),
            self.log_tail()
        );
    }
}

impl Drop for EthereumJsProcess {
    fn drop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }
}
