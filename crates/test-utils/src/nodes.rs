//! The `alys` binary run as a user runs it (`alys dev`, `alys el`, `alys btc-devnet`), every
//! port 0, the bound addresses read from what it prints. The caller passes the binary's path
//! (`env!("CARGO_BIN_EXE_alys")` in the `alys` package's tests).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::json_rpc::JsonRpc;
use crate::process::LoggedProcess;
use crate::tools::Tool;
use crate::wait::wait_until;

/// How long a process may take to print its endpoints.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// User and password of the node and Bitcoin RPCs of `alys dev` and `alys btc-devnet`.
pub const DEV_RPC_AUTH: (&str, &str) = ("alys", "alys");

/// Runs Foundry's `cast` with `args`: its trimmed stdout, or its stderr as the error. Panics
/// when cast is missing (check [`crate::tools::require`] first to skip instead).
pub fn cast(args: &[&str]) -> Result<String, String> {
    let bin = Tool::Cast
        .locate()
        .unwrap_or_else(|e| panic!("Foundry's cast is missing ({e}): run scripts/setup.sh"));
    let out = std::process::Command::new(bin)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

/// Writes the genesis an external execution client starts from (`<alys> chain export-genesis
/// --chain <chain> --format geth --out <out>`); returns the genesis block hash it printed.
pub fn export_geth_genesis(alys: &Path, chain: &Path, out: &Path) -> String {
    let run = std::process::Command::new(alys)
        .args(["chain", "export-genesis", "--format", "geth", "--chain"])
        .arg(chain)
        .arg("--out")
        .arg(out)
        .output()
        .expect("running alys chain export-genesis");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "alys chain export-genesis: {stderr}");
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("genesis block hash "))
        .unwrap_or_else(|| panic!("alys chain export-genesis printed no genesis hash: {stderr}"))
        .trim()
        .to_string()
}

/// A running `alys dev` and the endpoints it printed.
pub struct DevProcess {
    /// The process and its log (`<datadir>/dev-test.log`, appended to across restarts).
    pub process: LoggedProcess,
    /// eth JSON-RPC URL.
    pub eth_rpc: String,
    /// Node JSON-RPC URL.
    pub node_rpc: String,
    /// Node JSON-RPC port.
    pub node_rpc_port: u16,
    /// Bitcoin RPC URL (the embedded devnet's or the external one given).
    pub bitcoin_rpc: Option<String>,
    /// The peg web page's URL (none with `--no-ui`).
    pub ui: Option<String>,
    /// The Prometheus scrape URL (none with `--no-metrics`).
    pub metrics: Option<String>,
}

impl DevProcess {
    /// Starts `<alys> dev --datadir <datadir>` with every port 0 (the peg web page's and the
    /// metrics' too, unless `extra` has `--no-ui` or `--no-metrics`) plus `extra` arguments,
    /// and waits until it has printed its endpoints.
    pub fn start(alys: &Path, datadir: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(datadir).expect("datadir");
        let mut args: Vec<&OsStr> = vec![OsStr::new("dev"), OsStr::new("--datadir")];
        args.push(datadir.as_os_str());
        for a in [
            "--http-port",
            "0",
            "--authrpc-port",
            "0",
            "--rpc-port",
            "0",
            "--bitcoin-rpc-port",
            "0",
            "--p2p-port",
            "0",
            "--p2p-listen-addr",
            "127.0.0.1",
        ]
        .iter()
        .chain(if extra.contains(&"--no-ui") {
            &[][..]
        } else {
            &["--ui-port", "0"][..]
        })
        .chain(if extra.contains(&"--no-metrics") {
            &[][..]
        } else {
            &["--metrics-port", "0"][..]
        })
        .chain(extra)
        {
            args.push(OsStr::new(a));
        }
        let mut process =
            LoggedProcess::spawn("alys dev", alys, args, &datadir.join("dev-test.log"));
        let eth_rpc = process.wait_for_url("eth JSON-RPC", START_TIMEOUT);
        let node_rpc = process.wait_for_url("node JSON-RPC", START_TIMEOUT);
        let node_rpc_port = port_of(&node_rpc);
        // Printed before both of the above.
        let bitcoin_rpc = process.printed_url("bitcoin RPC");
        let ui = process.printed_url("peg web page");
        let metrics = process.printed_url("metrics");
        Self {
            process,
            eth_rpc,
            node_rpc,
            node_rpc_port,
            bitcoin_rpc,
            ui,
            metrics,
        }
    }

    /// Checks `check` until it returns `Some`; fails with the node's log tail when `timeout`
    /// passes or the node exits first.
    pub fn wait_for<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&mut Self) -> Option<T>,
    ) -> T {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if let Some(status) = self.process.exited() {
                panic!(
                    "alys dev exited ({status}) waiting for {what}:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; node log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(crate::wait::POLL);
        }
    }

    /// The last lines the node logged.
    pub fn log_tail(&self) -> String {
        self.process.log_tail(40)
    }

    /// The whole log (this and earlier runs on the same datadir).
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }

    /// Stops the node with SIGINT, as Ctrl-C; panics if it does not exit within 15 s.
    pub fn stop(mut self) {
        self.process.interrupt(Duration::from_secs(15));
    }

    /// SIGKILLs the node and reaps it.
    pub fn kill(mut self) {
        self.process.kill();
    }

    /// Calls the node RPC (user/password alys/alys); `result`, or the error as text.
    pub fn node(&self, method: &str, params: Value) -> Result<Value, String> {
        JsonRpc::new(&self.node_rpc, Some(DEV_RPC_AUTH)).call(method, params)
    }

    /// Calls the Bitcoin RPC the node printed (user/password alys/alys).
    pub fn btc(&self, method: &str, params: Value) -> Result<Value, String> {
        let url = self
            .bitcoin_rpc
            .as_deref()
            .expect("alys dev printed no bitcoin RPC");
        JsonRpc::new(url, Some(DEV_RPC_AUTH)).call(method, params)
    }

    /// `getpeginstatus <txid>`.
    pub fn pegin_status(&self, txid: &str) -> Result<Value, String> {
        self.node("getpeginstatus", json!([txid]))
    }

    /// Waits until `getpeginstatus <txid>` satisfies `pred`; returns that status.
    pub fn wait_pegin(&self, txid: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_until(
            Duration::from_secs(60),
            &format!("peg-in {txid} to be {what}"),
            || self.pegin_status(txid).ok().filter(|s| pred(s)),
            || {
                format!(
                    "last status: {:?}\n{}",
                    self.pegin_status(txid),
                    self.log_tail()
                )
            },
        )
    }

    /// Wei balance of `addr` on the EL, read with `cast balance`.
    pub fn balance(&self, addr: &[u8; 20]) -> u128 {
        let addr = format!(
            "0x{}",
            addr.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let out = cast(&["balance", &addr, "-r", &self.eth_rpc])
            .unwrap_or_else(|e| panic!("cast balance: {e}\n{}", self.log_tail()));
        out.parse()
            .unwrap_or_else(|e| panic!("cast balance printed {out:?}: {e}"))
    }

    /// The EL's latest block number, read with `cast block-number`.
    pub fn block_number(&self) -> u64 {
        let out = cast(&["block-number", "-r", &self.eth_rpc])
            .unwrap_or_else(|e| panic!("cast block-number: {e}\n{}", self.log_tail()));
        out.parse()
            .unwrap_or_else(|e| panic!("cast block-number printed {out:?}: {e}"))
    }

    /// Waits until the EL's block number exceeds `than`; returns it.
    pub fn wait_block_above(&self, than: u64) -> u64 {
        wait_until(
            Duration::from_secs(30),
            &format!("an EL block above {than}"),
            || Some(self.block_number()).filter(|n| *n > than),
            || self.log_tail(),
        )
    }

    /// Peg-ins in the canonical sidechain blocks from genesis to the head (`getblockbyheight`).
    pub fn pegins_on_chain(&self) -> u64 {
        let head = self
            .node("getheadblock", json!([]))
            .unwrap_or_else(|e| panic!("getheadblock: {e}\n{}", self.log_tail()));
        let height = head["height"].as_u64().expect("head height");
        (0..=height)
            .map(|h| {
                let b = self
                    .node("getblockbyheight", json!([h]))
                    .unwrap_or_else(|e| panic!("getblockbyheight {h}: {e}"));
                b["pegins"].as_u64().expect("pegins count")
            })
            .sum()
    }
}

/// `alys el` (the execution client as its own process) and the endpoints it printed.
pub struct ElProcess {
    /// The process and its log (`<dir>/el.log`).
    pub process: LoggedProcess,
    /// Engine API URL.
    pub engine_url: String,
    /// eth JSON-RPC URL.
    pub eth_rpc: String,
}

impl ElProcess {
    /// Starts `<alys> el --chain <chain> --datadir <datadir> --jwt-secret <jwt>` on ports 0
    /// (output appended to `<datadir>.log`) and waits until it printed both endpoints.
    pub fn start(alys: &Path, chain: &Path, datadir: &Path, jwt: &Path) -> Self {
        let log = PathBuf::from(format!("{}.log", datadir.display()));
        let mut args: Vec<&OsStr> = vec![OsStr::new("el"), OsStr::new("--chain")];
        args.extend([
            chain.as_os_str(),
            OsStr::new("--datadir"),
            datadir.as_os_str(),
        ]);
        args.extend([
            OsStr::new("--authrpc-port"),
            OsStr::new("0"),
            OsStr::new("--http-port"),
            OsStr::new("0"),
            OsStr::new("--jwt-secret"),
            jwt.as_os_str(),
        ]);
        let mut process = LoggedProcess::spawn("alys el", alys, args, &log);
        let engine_url = process.wait_for_url("Engine API", START_TIMEOUT);
        let eth_rpc = process.wait_for_url("eth JSON-RPC", START_TIMEOUT);
        Self {
            process,
            engine_url,
            eth_rpc,
        }
    }
}

/// `alys btc-devnet` (the embedded regtest Bitcoin) run as its own process.
pub struct BtcDevnetProcess {
    alys: PathBuf,
    /// The process, while running.
    pub process: Option<LoggedProcess>,
    /// `http://127.0.0.1:<port>`, the address it bound first and binds again on restart.
    pub url: String,
    /// Its datadir.
    pub datadir: PathBuf,
    /// Its output, appended to across restarts.
    pub log: PathBuf,
}

impl BtcDevnetProcess {
    /// Starts `<alys> btc-devnet --datadir <datadir> --rpc-port 0` (user/password alys/alys, no
    /// auto-mining) and waits until it printed its RPC address.
    pub fn start(alys: &Path, datadir: &Path) -> Self {
        let mut d = BtcDevnetProcess {
            alys: alys.to_path_buf(),
            process: None,
            url: String::new(),
            datadir: datadir.to_path_buf(),
            log: PathBuf::from(format!("{}.log", datadir.display())),
        };
        d.run("0");
        d
    }

    /// Restarts the process on the same datadir and port.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "btc-devnet already running");
        let port = port_of(&self.url).to_string();
        self.run(&port);
    }

    fn run(&mut self, port: &str) {
        let mut args: Vec<&OsStr> = vec![OsStr::new("btc-devnet"), OsStr::new("--datadir")];
        args.extend([
            self.datadir.as_os_str(),
            OsStr::new("--rpc-port"),
            port.as_ref(),
        ]);
        let mut process = LoggedProcess::spawn("alys btc-devnet", &self.alys, args, &self.log);
        self.url = process.wait_for_url("Bitcoin regtest RPC", START_TIMEOUT);
        self.process = Some(process);
    }

    /// SIGKILLs the process and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// A Bitcoin RPC call (user/password alys/alys).
    pub fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        JsonRpc::new(&self.url, Some(DEV_RPC_AUTH)).call(method, params)
    }

    /// The last lines the devnet logged.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// The port of an `http://host:port` URL.
pub fn port_of(url: &str) -> u16 {
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}
