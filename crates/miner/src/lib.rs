//! A CPU merged miner for Alys (DESIGN §5), standing in for a pool in dev and tests.
//!
//! The loop, as a Namecoin pool does it:
//!
//! 1. `createauxblock <address>` on the node RPC (JSON-RPC 1.0, HTTP Basic auth);
//! 2. build a one-transaction parent Bitcoin block whose coinbase commits to the work hash
//!    (`fabe6d6d ‖ hash ‖ size 1 ‖ nonce 0`, in the scriptSig by default or in an output), with
//!    [`alys_auxpow::ParentBlockBuilder`];
//! 3. grind the parent header on `threads` threads (each with its own extra nonce) until its
//!    hash is at or below `_target`;
//! 4. `submitauxblock <hash> <auxpow hex>`; then wait until the node hands out different work
//!    (the proof was included and the range moved) before mining again.
//!
//! [`run`] drives the loop until its stop flag is set; `alys dev` runs it in-process, the
//! `alys-miner` binary runs it against any node.

pub mod cli;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Address;
use alys_auxpow::bitcoin::Target;
use alys_auxpow::miner_rpc_types::CreateAuxBlockResponse;
use alys_auxpow::{grind_header, AuxPow, CommitmentPlacement, ParentBlockBuilder, WorkHash};
use serde_json::{json, Value};

/// Header hashes tried per thread between two checks for new work.
pub const GRIND_CHUNK: u64 = 1 << 20;

/// Miner settings.
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Node RPC URL (e.g. `http://127.0.0.1:3000`).
    pub url: String,
    /// RPC user.
    pub user: String,
    /// RPC password.
    pub password: String,
    /// EVM address receiving the miner's fee share.
    pub address: Address,
    /// Grinding threads (≥ 1).
    pub threads: usize,
    /// Where the parent coinbase carries the commitment.
    pub placement: CommitmentPlacement,
    /// Pause between polls for new work.
    pub poll_interval: Duration,
}

/// Why the miner stopped or a call failed.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// HTTP transport failure.
    #[error("node RPC {url}: {source}")]
    Http {
        /// URL.
        url: String,
        /// Cause.
        source: reqwest::Error,
    },
    /// The node answered with a JSON-RPC error.
    #[error("node RPC error {code}: {message}")]
    Rpc {
        /// Code.
        code: i64,
        /// Message.
        message: String,
    },
    /// The answer is not what the method returns.
    #[error("unexpected node RPC answer: {0}")]
    BadResponse(String),
}

/// Counters of a running miner.
#[derive(Debug, Default)]
pub struct MinerStats {
    /// Work units fetched.
    pub works: AtomicU64,
    /// Proofs accepted by the node.
    pub accepted: AtomicU64,
    /// Proofs rejected by the node.
    pub rejected: AtomicU64,
    /// Header hashes tried.
    pub hashes: AtomicU64,
}

/// A minimal JSON-RPC 1.0 client for the node's miner methods.
#[derive(Debug, Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    url: String,
    user: String,
    password: String,
}

impl NodeClient {
    /// A client for `url` with Basic credentials.
    pub fn new(url: &str, user: &str, password: &str) -> Self {
        NodeClient {
            http: reqwest::Client::new(),
            url: url.to_string(),
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    /// Calls `method` with positional `params`, returning `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, MinerError> {
        let body =
            json!({"jsonrpc": "1.0", "id": "alys-miner", "method": method, "params": params});
        let http = |source| MinerError::Http {
            url: self.url.clone(),
            source,
        };
        let response: Value = self
            .http
            .post(&self.url)
            .basic_auth(&self.user, Some(&self.password))
            .json(&body)
            .send()
            .await
            .map_err(http)?
            .json()
            .await
            .map_err(http)?;
        if let Some(e) = response.get("error").filter(|e| !e.is_null()) {
            return Err(MinerError::Rpc {
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        Ok(response.get("result").cloned().unwrap_or(Value::Null))
    }

    /// `createauxblock <address>`.
    pub async fn create_aux_block(
        &self,
        address: &Address,
    ) -> Result<CreateAuxBlockResponse, MinerError> {
        let v = self
            .call("createauxblock", json!([address.to_string()]))
            .await?;
        serde_json::from_value(v.clone()).map_err(|e| MinerError::BadResponse(format!("{e}: {v}")))
    }

    /// `submitauxblock <hash> <auxpow hex>`.
    pub async fn submit_aux_block(
        &self,
        hash: &WorkHash,
        auxpow: &AuxPow,
    ) -> Result<bool, MinerError> {
        let v = self
            .call(
                "submitauxblock",
                json!([hash.to_rpc_hex(), auxpow.to_hex()]),
            )
            .await?;
        v.as_bool()
            .ok_or_else(|| MinerError::BadResponse(format!("submitauxblock returned {v}")))
    }
}

/// Grinds a parent block for `work` on `threads` threads, each trying at most `attempts`
/// hashes; `round` makes the extra nonces differ between calls. Blocking.
pub fn solve(
    work: &CreateAuxBlockResponse,
    placement: CommitmentPlacement,
    threads: usize,
    round: u64,
    attempts: u64,
    stop: &AtomicBool,
) -> (Option<AuxPow>, u64) {
    let threads = threads.max(1);
    let target: Target = work.target;
    let found: std::sync::Mutex<Option<AuxPow>> = std::sync::Mutex::new(None);
    let tried = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (found, tried, done) = (&found, &tried, &done);
            scope.spawn(move || {
                let builder = ParentBlockBuilder {
                    placement,
                    extra_nonce: round.wrapping_mul(threads as u64).wrapping_add(t as u64),
                    ..ParentBlockBuilder::default()
                };
                let mut aux = builder.build(&work.hash);
                let step = 1 << 14;
                let mut left = attempts;
                while left > 0 && !done.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    let n = left.min(step);
                    let start = aux.parent_header.nonce;
                    let ok = grind_header(&mut aux.parent_header, &target, n);
                    let used = if ok {
                        u64::from(aux.parent_header.nonce.wrapping_sub(start)) + 1
                    } else {
                        n
                    };
                    tried.fetch_add(used, Ordering::Relaxed);
                    left -= n;
                    if ok {
                        aux.parent_hash = aux.parent_header.block_hash();
                        done.store(true, Ordering::Relaxed);
                        if let Ok(mut f) = found.lock() {
                            f.get_or_insert(aux);
                        }
                        return;
                    }
                }
            });
        }
    });
    let solution = found.into_inner().unwrap_or_else(|p| p.into_inner());
    (solution, tried.load(Ordering::Relaxed))
}

/// Runs the mining loop until `stop` is set. Transient RPC failures are logged and retried.
pub async fn run(config: MinerConfig, stats: Arc<MinerStats>, stop: Arc<AtomicBool>) {
    let client = NodeClient::new(&config.url, &config.user, &config.password);
    let mut last_solved: Option<WorkHash> = None;
    let mut round = 0u64;
    let mut last_error = String::new();
    while !stop.load(Ordering::Relaxed) {
        let work = match client.create_aux_block(&config.address).await {
            Ok(w) => w,
            Err(e) => {
                let msg = e.to_string();
                if msg != last_error {
                    tracing::info!(error = %msg, "miner: no work yet");
                    last_error = msg;
                }
                tokio::time::sleep(config.poll_interval).await;
                continue;
            }
        };
        last_error.clear();
        if Some(work.hash) == last_solved {
            tokio::time::sleep(config.poll_interval).await;
            continue;
        }
        stats.works.fetch_add(1, Ordering::Relaxed);
        round = round.wrapping_add(1);
        let (placement, threads, r) = (config.placement, config.threads, round);
        let stop2 = stop.clone();
        let job = work.clone();
        let solved = tokio::task::spawn_blocking(move || {
            solve(&job, placement, threads, r, GRIND_CHUNK, &stop2)
        })
        .await;
        let (solution, tried) = match solved {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "miner: grinding thread failed");
                continue;
            }
        };
        stats.hashes.fetch_add(tried, Ordering::Relaxed);
        let Some(aux) = solution else {
            continue; // chunk exhausted: fetch work again (it may have changed) and go on
        };
        match client.submit_aux_block(&work.hash, &aux).await {
            Ok(true) => {
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                tracing::info!(hash = %work.hash, height = work.height, "miner: proof accepted");
                last_solved = Some(work.hash);
            }
            Ok(false) => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
                last_solved = Some(work.hash);
            }
            Err(e) => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::info!(hash = %work.hash, error = %e, "miner: proof not accepted");
                last_solved = Some(work.hash);
            }
        }
    }
}

/// A miner running on the current tokio runtime.
#[derive(Debug)]
pub struct MinerHandle {
    /// Counters.
    pub stats: Arc<MinerStats>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl MinerHandle {
    /// Stops the loop and waits for it.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
    }
}

/// Spawns [`run`] on the current tokio runtime.
pub fn spawn(config: MinerConfig) -> MinerHandle {
    let stats = Arc::new(MinerStats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(run(config, stats.clone(), stop.clone()));
    MinerHandle { stats, stop, task }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;
    use alys_auxpow::bitcoin::CompactTarget;
    use alys_auxpow::VerifyParams;

    #[test]
    fn solves_regtest_work_in_both_placements() {
        let bits = CompactTarget::from_consensus(0x207f_ffff);
        let work = CreateAuxBlockResponse::new(WorkHash([7; 32]), 0x414c, B256::ZERO, 0, bits, 1);
        let params = VerifyParams {
            chain_id: 0x414c,
            pow_limit: work.target,
        };
        for placement in [CommitmentPlacement::ScriptSig, CommitmentPlacement::Output] {
            let (aux, tried) = solve(&work, placement, 2, 1, 1_000, &AtomicBool::new(false));
            let aux = aux.expect("regtest target is met within 1000 hashes");
            assert!(tried >= 1);
            aux.verify(&work.hash, bits, &params).expect("valid proof");
        }
    }
}
