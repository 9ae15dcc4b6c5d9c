//! The embedded regtest Bitcoin of `alys dev` and `alys btc-devnet`.
//!
//! This crate owns a single-node regtest chain of real Bitcoin blocks and transactions
//! (rust-bitcoin), persisted as an append-only event log in its datadir; a mempool that runs
//! Core's transaction checks and verifies every input script with libbitcoinconsensus (taproot
//! included); block assembly with regtest proof of work, BIP34 heights and witness
//! commitments; `invalidateblock`/`reconsiderblock` reorgs; a deterministic dev wallet; and a
//! Bitcoin Core 28-compatible JSON-RPC server (HTTP Basic auth, JSON-RPC 1.0 and 2.0), so the
//! node's production Bitcoin client code can be tested against it.
//!
//! Start it in-process with [`BtcDevnet::start`]; see `docs/btc-devnet.md` for what differs
//! from Bitcoin Core.

pub mod chain;
mod error;
pub mod node;
pub mod rpc;
pub mod script;
mod server;
pub mod store;
pub mod wallet;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

pub use error::DevnetError;
pub use node::{Node, DEV_FEE_RATE_SAT_PER_KVB};
pub use rpc::RpcError;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::{sync::watch, task::JoinHandle};

/// Default RPC user and password of the devnet.
pub const DEFAULT_RPC_CREDENTIALS: (&str, &str) = ("alys", "alys");

/// Default RPC port (Bitcoin Core's regtest port).
pub const DEFAULT_RPC_PORT: u16 = 18443;

/// How to run a devnet.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// Datadir; `None` keeps everything in memory.
    pub datadir: Option<PathBuf>,
    /// RPC listen address (port 0 picks a free port).
    pub rpc_addr: SocketAddr,
    /// RPC user.
    pub rpc_user: String,
    /// RPC password.
    pub rpc_password: String,
    /// Mine one block (to the dev wallet's first address) at this interval.
    pub block_interval: Option<Duration>,
}

impl DevnetConfig {
    /// In-memory devnet on `127.0.0.1:<port>` with the default credentials, no auto-mining.
    pub fn local(port: u16) -> Self {
        Self {
            datadir: None,
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], port)),
            rpc_user: DEFAULT_RPC_CREDENTIALS.0.into(),
            rpc_password: DEFAULT_RPC_CREDENTIALS.1.into(),
            block_interval: None,
        }
    }
}

/// A running devnet: its RPC server and optional miner.
pub struct BtcDevnet {
    addr: SocketAddr,
    user: String,
    password: String,
    node: Arc<Mutex<Node>>,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl BtcDevnet {
    /// Opens the datadir (replaying it), binds the RPC address and starts serving (and mining
    /// when `block_interval` is set).
    pub async fn start(config: DevnetConfig) -> Result<Self, DevnetError> {
        let datadir = config.datadir.clone();
        let node = tokio::task::spawn_blocking(move || match datadir {
            Some(d) => Node::open(&d),
            None => Ok(Node::in_memory()),
        })
        .await
        .map_err(|e| DevnetError::Corrupt(format!("replay task failed: {e}")))??;
        let node = Arc::new(Mutex::new(node));
        let listener = tokio::net::TcpListener::bind(config.rpc_addr)
            .await
            .map_err(|source| DevnetError::Bind {
                addr: config.rpc_addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| DevnetError::Bind {
            addr: config.rpc_addr,
            source,
        })?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let dispatch = server::DevnetRpc {
            node: node.clone(),
            stop: stop_tx.clone(),
        };
        let credentials = alys_json_rpc_http::Credentials {
            user: config.rpc_user.clone(),
            password: config.rpc_password.clone(),
        };
        let mut tasks = Vec::new();
        let mut accept_stop = stop_rx.clone();
        tasks.push(tokio::spawn(alys_json_rpc_http::serve(
            listener,
            dispatch,
            server::config(credentials),
            async move {
                let _ = accept_stop.changed().await;
            },
        )));
        if let Some(interval) = config.block_interval {
            let node = node.clone();
            let mut stop = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                ticker.tick().await;
                let mut script: Option<bitcoin::ScriptBuf> = None;
                loop {
                    tokio::select! {
                        _ = ticker.tick() => {}
                        _ = stop.changed() => break,
                    }
                    let node = node.clone();
                    let known = script.clone();
                    let mined = tokio::task::spawn_blocking(move || {
                        let mut n = node.lock();
                        // One logged wallet address per process for the miner's coinbases.
                        let spk = match known {
                            Some(s) => s,
                            None => {
                                n.new_address(wallet::AddrKind::P2wpkh, "auto-miner")
                                    .map_err(|e| e.to_string())?
                                    .script
                            }
                        };
                        n.generate(1, &spk).map_err(|e| e.to_string())?;
                        Ok::<_, String>(spk)
                    })
                    .await;
                    match mined {
                        Ok(Ok(spk)) => script = Some(spk),
                        Ok(Err(e)) => tracing::warn!("btc-devnet auto-mining failed: {e}"),
                        Err(e) => tracing::warn!("btc-devnet auto-mining task failed: {e}"),
                    }
                }
            }));
        }
        tracing::info!("btc-devnet RPC listening on http://{addr}");
        Ok(Self {
            addr,
            user: config.rpc_user,
            password: config.rpc_password,
            node,
            stop_tx,
            stop_rx,
            tasks,
        })
    }

    /// RPC URL, `http://<ip>:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bound RPC address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// RPC user and password.
    pub fn credentials(&self) -> (&str, &str) {
        (&self.user, &self.password)
    }

    /// Calls an RPC method in-process (amounts come back as JSON numbers).
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        server::call(&self.node, &self.stop_tx, method, params).map(server::amounts_to_numbers)
    }

    /// Resolves when the `stop` RPC was called (or [`Self::shutdown`] began).
    pub async fn stopped(&self) {
        let mut rx = self.stop_rx.clone();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Stops the server and the miner; everything acknowledged is already on disk.
    pub async fn shutdown(self) {
        let _ = self.stop_tx.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
