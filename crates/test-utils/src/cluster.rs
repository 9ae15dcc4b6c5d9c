//! A federation of real `alys node` processes on loopback, for multi-process tests: each node
//! has its own datadir, execution client and (for an authority) BLS key file, listens for peers
//! on 127.0.0.1 (port 0 on first start, the same port on restart) and lists every node started
//! before it as a bootnode. One `alys btc-devnet` serves them Bitcoin.
//!
//! The execution client ([`Execution`]) is the embedded one, in the node's process, or
//! EthereumJS ([`crate::ethereumjs`]) as its own process, started from the genesis `alys chain
//! export-genesis` writes and driven over the Engine API with a JWT secret, as an operator runs
//! an external client (`docs/execution-clients.md`).
//!
//! Faults: [`NodeProcess::kill`] (SIGKILL), [`NodeProcess::restart`] (same datadir, key and p2p
//! port), [`NodeProcess::freeze`] / [`NodeProcess::thaw`] (SIGSTOP / SIGCONT), and
//! [`Cluster::partition`] / [`Cluster::heal`]: every node runs with the test-only
//! `--p2p-deny-file <datadir>.deny`, a list of peer ids it refuses, re-read continuously.
//! These act on the `alys node` process, never on an external execution client.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::ethereumjs::EthereumJsProcess;
use crate::json_rpc::JsonRpc;
use crate::nodes::{export_geth_genesis, port_of, BtcDevnetProcess};
use crate::process::LoggedProcess;
use crate::wait::POLL;

/// Node JSON-RPC user and password of every cluster node.
pub const NODE_RPC_AUTH: (&str, &str) = ("alys", "alys-cluster");
/// How long a node may take to print its endpoints.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `/ip4/127.0.0.1/tcp/<port>/p2p/<id>` multiaddr of a `p2p …` line.
pub fn p2p_addr_of(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("p2p ")?;
    let addr = rest.split_whitespace().next()?;
    (addr.starts_with("/ip4/127.0.0.1/tcp/") && addr.contains("/p2p/")).then(|| addr.to_string())
}

/// The TCP port of a `/ip4/…/tcp/<port>/…` multiaddr.
pub fn tcp_port_of(addr: &str) -> u16 {
    let mut parts = addr.split('/');
    parts
        .by_ref()
        .find(|p| *p == "tcp")
        .and_then(|_| parts.next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no tcp port in {addr}"))
}

/// The execution client a node drives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Execution {
    /// The embedded execution client, in the node's process (`--embedded-el`).
    #[default]
    Embedded,
    /// EthereumJS as its own process, data in `<datadir>.ethereumjs`, genesis in
    /// `<datadir>.genesis.json`, JWT secret in `<datadir>.jwt.hex`; the node gets
    /// `--engine-url`, `--jwt-secret` and `--execution-rpc-url`. Callers that skip when tools
    /// are missing check `tools::require(Tool::EthereumJs)` first.
    EthereumJs,
}

/// How one node is run.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Name in messages and log file names.
    pub name: String,
    /// BLS signer key file (`None`: a full node).
    pub signer_key: Option<PathBuf>,
    /// Bitcoin RPC URL (user/password alys/alys).
    pub bitcoin_rpc: Option<String>,
    /// Its execution client.
    pub execution: Execution,
    /// More arguments.
    pub extra: Vec<String>,
}

/// A running (or stopped) `alys node` and the endpoints it printed on its last start.
pub struct NodeProcess {
    alys: PathBuf,
    chain: PathBuf,
    /// How it is run.
    pub options: NodeOptions,
    /// Its datadir.
    pub datadir: PathBuf,
    bootnodes: Vec<String>,
    /// The process while it runs.
    pub process: Option<LoggedProcess>,
    /// Its deny list (peer ids it refuses; see [`Cluster::partition`]).
    pub deny_file: PathBuf,
    /// Its EthereumJS, with [`Execution::EthereumJs`] (started with the node, left running
    /// when the node is killed).
    pub ethereumjs: Option<EthereumJsProcess>,
    /// Its p2p multiaddr (`/ip4/127.0.0.1/tcp/<port>/p2p/<peer id>`).
    pub p2p: String,
    /// eth JSON-RPC URL (the embedded client's, or EthereumJS's).
    pub eth_rpc: String,
    /// Node JSON-RPC URL.
    pub node_rpc: String,
    log: PathBuf,
}

impl NodeProcess {
    /// Starts `alys node --chain <chain> --datadir <datadir>` on ports 0 (p2p on 127.0.0.1) with
    /// `bootnodes` and its execution client (EthereumJS first, checked to have the chain's
    /// genesis hash), and waits until it printed its endpoints.
    pub fn start(
        alys: &Path,
        chain: &Path,
        datadir: &Path,
        options: NodeOptions,
        bootnodes: &[String],
    ) -> Self {
        std::fs::create_dir_all(datadir).expect("datadir");
        let log = datadir.with_extension("log");
        let deny_file = datadir.with_extension("deny");
        std::fs::write(&deny_file, "").expect("deny file");
        let ethereumjs = (options.execution == Execution::EthereumJs).then(|| {
            let genesis = datadir.with_extension("genesis.json");
            let hash = export_geth_genesis(alys, chain, &genesis);
            let el = EthereumJsProcess::start(
                &genesis,
                &datadir.with_extension("ethereumjs"),
                &datadir.with_extension("jwt.hex"),
            )
            .expect("EthereumJS is missing: check tools::require(Tool::EthereumJs) first");
            let block0 = el
                .block("0x0")
                .unwrap_or_else(|e| panic!("EthereumJS block 0: {e}"));
            assert_eq!(
                block0["hash"].as_str(),
                Some(hash.as_str()),
                "EthereumJS's genesis block is not the chain's"
            );
            el
        });
        let mut node = Self {
            deny_file,
            alys: alys.to_path_buf(),
            chain: chain.to_path_buf(),
            options,
            datadir: datadir.to_path_buf(),
            bootnodes: bootnodes.to_vec(),
            process: None,
            ethereumjs,
            p2p: String::new(),
            eth_rpc: String::new(),
            node_rpc: String::new(),
            log,
        };
        node.run(0);
        node
    }

    fn run(&mut self, p2p_port: u16) {
        let mut args: Vec<OsString> = vec![
            "node".into(),
            "--chain".into(),
            self.chain.clone().into(),
            "--datadir".into(),
            self.datadir.clone().into(),
        ];
        match &self.ethereumjs {
            None => {
                for a in ["--embedded-el", "--http-port", "0", "--authrpc-port", "0"] {
                    args.push(a.into());
                }
            }
            Some(el) => args.extend(el.node_args(true).into_iter().map(OsString::from)),
        }
        for a in [
            "--rpc-port",
            "0",
            "--rpc-user",
            NODE_RPC_AUTH.0,
            "--rpc-password",
            NODE_RPC_AUTH.1,
            "--p2p-listen-addr",
            "127.0.0.1",
            "--metrics-port",
            "0",
        ] {
            args.push(a.into());
        }
        args.push("--p2p-port".into());
        args.push(p2p_port.to_string().into());
        args.push("--p2p-deny-file".into());
        args.push(self.deny_file.clone().into());
        if let Some(key) = &self.options.signer_key {
            args.push("--signer-key".into());
            args.push(key.clone().into());
        }
        if let Some(url) = &self.options.bitcoin_rpc {
            args.push("--bitcoin-rpc-url".into());
            args.push(url.into());
        }
        for b in &self.bootnodes {
            args.push("--bootnodes".into());
            args.push(b.into());
        }
        for a in &self.options.extra {
            args.push(a.into());
        }
        let name = format!("alys node {}", self.options.name);
        let mut process = LoggedProcess::spawn(&name, &self.alys, args, &self.log);
        self.node_rpc = process.wait_for_url("node JSON-RPC", START_TIMEOUT);
        self.eth_rpc = match &self.ethereumjs {
            None => process.wait_for_url("eth JSON-RPC", START_TIMEOUT),
            Some(el) => el.eth_rpc.clone(),
        };
        self.p2p = process.wait_for_line(START_TIMEOUT, "p2p multiaddr", p2p_addr_of);
        self.process = Some(process);
    }

    /// SIGKILLs the node (if running) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// Starts the node again on the same datadir, key and p2p port (its peers redial it there).
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "{} is running", self.options.name);
        let port = tcp_port_of(&self.p2p);
        self.run(port);
    }

    /// Freezes the node (SIGSTOP).
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen node run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let p = self.process.as_ref().expect("node not running");
        let status = Command::new("kill")
            .args([sig, &p.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {sig} failed");
    }

    /// Its peer id (the end of its p2p multiaddr).
    pub fn peer_id(&self) -> &str {
        self.p2p.rsplit('/').next().unwrap_or_default()
    }

    /// A node RPC call.
    pub fn node(&self, method: &str, params: Value) -> Result<Value, String> {
        JsonRpc::new(&self.node_rpc, Some(NODE_RPC_AUTH)).call(method, params)
    }

    /// An eth RPC call.
    pub fn eth(&self, method: &str, params: Value) -> Result<Value, String> {
        JsonRpc::new(&self.eth_rpc, None).call(method, params)
    }

    /// `getsyncstatus`, when the node answers.
    pub fn sync_status(&self) -> Option<Value> {
        self.node("getsyncstatus", json!([])).ok()
    }

    /// Head height, when the node answers.
    pub fn head_height(&self) -> Option<u64> {
        self.sync_status()?["headHeight"].as_u64()
    }

    /// The canonical consensus block at `height` (`getblockbyheight`), when it has one.
    pub fn block_at(&self, height: u64) -> Option<Value> {
        self.node("getblockbyheight", json!([height])).ok()
    }

    /// The node RPC's `root` of the canonical block at `height`, when it has one.
    pub fn root_at(&self, height: u64) -> Option<String> {
        let b = self.block_at(height)?;
        b["root"].as_str().map(str::to_string)
    }

    /// The EL's state root of block `number` (`eth_getBlockByNumber`), when it has it.
    pub fn state_root_at(&self, number: u64) -> Option<String> {
        let b = self
            .eth(
                "eth_getBlockByNumber",
                json!([format!("0x{number:x}"), false]),
            )
            .ok()?;
        b["stateRoot"].as_str().map(str::to_string)
    }

    /// The last lines of its log (and of its EthereumJS's).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        match &self.ethereumjs {
            None => tail,
            Some(el) => format!("{tail}\n--- its EthereumJS ---\n{}", el.log_tail()),
        }
    }

    /// The whole log (all runs).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The node RPC port.
    pub fn node_rpc_port(&self) -> u16 {
        port_of(&self.node_rpc)
    }
}

/// Nodes and the Bitcoin devnet they share.
pub struct Cluster {
    alys: PathBuf,
    /// The chain spec file every node runs.
    pub chain: PathBuf,
    /// The working directory.
    pub dir: PathBuf,
    /// The regtest Bitcoin.
    pub devnet: BtcDevnetProcess,
    /// The nodes, in start order.
    pub nodes: Vec<NodeProcess>,
}

impl Cluster {
    /// Starts `alys btc-devnet` in `dir`; no node yet.
    pub fn new(alys: &Path, chain: &Path, dir: &Path) -> Self {
        let devnet = BtcDevnetProcess::start(alys, &dir.join("bitcoin"));
        Self {
            alys: alys.to_path_buf(),
            chain: chain.to_path_buf(),
            dir: dir.to_path_buf(),
            devnet,
            nodes: Vec::new(),
        }
    }

    /// Starts a node named `name` (datadir `<dir>/<name>`) on the embedded execution client
    /// with every node started so far as bootnodes, following the devnet; returns its index.
    pub fn add_node(&mut self, name: &str, signer_key: Option<PathBuf>) -> usize {
        self.add_node_on(name, signer_key, Execution::Embedded)
    }

    /// [`Cluster::add_node`] with the execution client `execution`.
    pub fn add_node_on(
        &mut self,
        name: &str,
        signer_key: Option<PathBuf>,
        execution: Execution,
    ) -> usize {
        let bootnodes: Vec<String> = self.nodes.iter().map(|n| n.p2p.clone()).collect();
        let node = NodeProcess::start(
            &self.alys,
            &self.chain,
            &self.dir.join(name),
            NodeOptions {
                name: name.to_string(),
                signer_key,
                bitcoin_rpc: Some(self.devnet.url.clone()),
                execution,
                extra: Vec::new(),
            },
            &bootnodes,
        );
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Waits until every running node's canonical block at `height` has the same root;
    /// returns it. Fails with every node's log tail after `timeout`.
    pub fn wait_same_block_at(&self, height: u64, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let roots: Vec<Option<String>> = self
                .running()
                .map(|n| {
                    n.root_at(height)
                        .filter(|_| n.head_height() >= Some(height))
                })
                .collect();
            if let Some(Some(first)) = roots.first() {
                if roots.iter().all(|r| r.as_ref() == Some(first)) {
                    return first.clone();
                }
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "nodes do not agree on block {height} after {timeout:?}: {roots:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Cuts node `i` off from every other node (both sides refuse each other) until
    /// [`Cluster::heal`].
    pub fn partition(&self, i: usize) {
        let others: Vec<&str> = (0..self.nodes.len())
            .filter(|j| *j != i)
            .map(|j| self.nodes[j].peer_id())
            .collect();
        std::fs::write(&self.nodes[i].deny_file, others.join("\n")).expect("deny file");
        for (j, n) in self.nodes.iter().enumerate() {
            if j != i {
                std::fs::write(&n.deny_file, self.nodes[i].peer_id()).expect("deny file");
            }
        }
    }

    /// Ends every partition.
    pub fn heal(&self) {
        for n in &self.nodes {
            std::fs::write(&n.deny_file, "").expect("deny file");
        }
    }

    /// The running nodes.
    pub fn running(&self) -> impl Iterator<Item = &NodeProcess> {
        self.nodes.iter().filter(|n| n.process.is_some())
    }

    /// Every node's log tail, for failure messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("--- {} ---\n{}", n.options.name, n.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
