//! Shared helpers of the end-to-end tests that run the `alys` binary: Foundry's `cast` (a client
//! no one here wrote), python-bitcoinlib (another) building deposits, `alys dev` and
//! `alys btc-devnet` started on free ports, their endpoints read from what they print, their logs
//! kept for failure messages.

#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

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

    /// Polls `check` every 100 ms until it returns `Some`; fails with the node's log tail when
    /// `timeout` passes or the node exits first.
    pub fn wait_for<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&mut Self) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "alys dev exited ({status}) waiting for {what}:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; node log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
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

/// A JSON-RPC 2.0 call over HTTP with Basic auth `auth` (`user:password`), made with curl:
/// `result` (null included), or the error object or transport failure as text.
pub fn json_rpc(url: &str, auth: &str, method: &str, params: Value) -> Result<Value, String> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30", "-u", auth])
        .args(["-H", "Content-Type: application/json", "-d"])
        .arg(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string())
        .arg(url)
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{method} at {url}: {e}: {out:?}"))?;
    match v.get("error") {
        Some(e) if !e.is_null() => Err(e.to_string()),
        _ => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral port")
}

/// Polls `check` every 250 ms until it returns `Some`, panicking after `timeout` with
/// `what` and `context()` (e.g. the node's log tail).
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `true` when python3 can import python-bitcoinlib, installing it with pip if needed; `false`
/// (with `SKIPPED: reason` printed) when that is impossible.
pub fn python_with_bitcoinlib() -> bool {
    let has = || {
        Command::new("python3")
            .args(["-c", "import bitcoin.rpc"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if has() {
        return true;
    }
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "-q", "python-bitcoinlib"])
        .status();
    if has() {
        true
    } else {
        println!("SKIPPED: python3 with python-bitcoinlib unavailable (pip install failed)");
        false
    }
}

/// A transaction built (and possibly submitted) by `tests/pegin/deposit.py`.
#[derive(Clone, Debug)]
pub struct BuiltTx {
    /// Its txid (Bitcoin display order).
    pub txid: String,
    /// Its raw hex.
    pub hex: String,
}

/// Runs `tests/pegin/deposit.py` (python-bitcoinlib) against the Bitcoin RPC `btc_url`
/// (`http://user:password@host:port`) with federation scriptPubKey `fed_spk` and `plan` (see
/// the script's docs); the tip height once its funding coins were confirmed, and the
/// transactions in plan order.
pub fn build_deposits(
    btc_url: &str,
    fed_spk: &str,
    plan: &Value,
) -> Result<(u64, Vec<BuiltTx>), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pegin/deposit.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([btc_url, fed_spk, &plan.to_string()])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "deposit.py failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("deposit.py printed no JSON ({e}): {out:?}"))?;
    let tip = v["tip"].as_u64().ok_or("deposit.py: no tip")?;
    let txs = v["txs"]
        .as_array()
        .ok_or("deposit.py: no txs")?
        .iter()
        .map(|t| BuiltTx {
            txid: t["txid"].as_str().unwrap_or_default().to_string(),
            hex: t["hex"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    Ok((tip, txs))
}

/// `url` with `user:password@` after the scheme.
pub fn with_auth(url: &str, user: &str, password: &str) -> String {
    url.replacen("http://", &format!("http://{user}:{password}@"), 1)
}

impl DevProcess {
    /// Calls the node RPC (user/password alys/alys); `result`, or the error object as text.
    pub fn node(&self, method: &str, params: Value) -> Result<Value, String> {
        json_rpc(&self.node_rpc, "alys:alys", method, params)
    }

    /// Calls the Bitcoin RPC the node printed (user/password alys/alys).
    pub fn btc(&self, method: &str, params: Value) -> Result<Value, String> {
        let url = self
            .bitcoin_rpc
            .as_deref()
            .expect("alys dev printed no bitcoin RPC");
        json_rpc(url, "alys:alys", method, params)
    }

    /// The whole log (this and earlier runs on the same datadir).
    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).to_string()
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
        let out = cast(&[
            "balance",
            &format!("0x{}", hex::encode(addr)),
            "-r",
            &self.eth_rpc,
        ])
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

/// `alys btc-devnet` (the embedded regtest Bitcoin) run as its own process on a fixed port.
pub struct BtcDevnetProcess {
    /// The process (None while killed).
    pub child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its datadir.
    pub datadir: PathBuf,
    /// Its RPC port.
    pub port: u16,
    /// Its output, appended to across restarts.
    pub log: PathBuf,
}

impl BtcDevnetProcess {
    /// Starts `alys btc-devnet --datadir <datadir> --rpc-port <port>` (user/password alys/alys,
    /// no auto-mining) and waits until it answers RPC.
    pub fn start(datadir: &Path, port: u16) -> Self {
        let mut d = BtcDevnetProcess {
            child: None,
            url: format!("http://127.0.0.1:{port}"),
            datadir: datadir.to_path_buf(),
            port,
            log: PathBuf::from(format!("{}.log", datadir.display())),
        };
        d.restart();
        d
    }

    /// (Re)starts the process on the same datadir and port; waits until it answers RPC.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "btc-devnet already running");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let err = out.try_clone().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_alys"))
            .arg("btc-devnet")
            .arg("--datadir")
            .arg(&self.datadir)
            .args(["--rpc-port", &self.port.to_string()])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while json_rpc(&self.url, "alys:alys", "getblockcount", json!([])).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("alys btc-devnet exited ({status}):\n{}", self.log_tail());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "alys btc-devnet did not answer RPC within 30s:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child = Some(child);
    }

    /// SIGKILLs the process and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL btc-devnet");
            c.wait().expect("reaping btc-devnet");
        }
    }

    /// A Bitcoin RPC call (user/password alys/alys).
    pub fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        json_rpc(&self.url, "alys:alys", method, params)
    }

    /// The last lines the devnet logged.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for BtcDevnetProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
