//! What the app's benches share: `alys dev` with the bench mining Bitcoin, its three JSON-RPC
//! endpoints, wallet-built deposits, percentiles; and, for the benches that run nodes in
//! process, the dev spec without merged mining, their runtime and batches of raw transactions.
#![allow(dead_code)] // each bench uses part of it

use std::{path::Path, sync::Arc, time::Duration};

use alys_primitives::ChainSpec;

use alys_test_utils::json_rpc::JsonRpc;
use alys_test_utils::nodes::{DevProcess, DEV_RPC_AUTH};

use serde_json::{json, Value};

/// How often the benches poll.
pub(crate) const POLL: Duration = Duration::from_millis(10);

/// A JSON-RPC endpoint; a null `result` counts as an error.
pub(crate) struct Rpc(JsonRpc);

impl Rpc {
    pub(crate) fn new(url: &str, auth: Option<(&str, &str)>) -> Self {
        Self(JsonRpc::new(url, auth))
    }

    pub(crate) fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        match self.0.call(method, params)? {
            Value::Null => Err(format!("{method}: null result")),
            v => Ok(v),
        }
    }

    pub(crate) fn url(&self) -> &str {
        self.0.url()
    }
}

/// A `0x` hex quantity as a number (0 when absent).
pub(crate) fn hex_u128(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap()
}

/// `alys dev` without Bitcoin auto-mining (`--btc-block-secs 0`) on ports 0, and its three
/// RPCs.
pub(crate) struct Dev {
    pub(crate) process: DevProcess,
    pub(crate) node: Rpc,
    pub(crate) eth: Rpc,
    pub(crate) btc: Rpc,
    /// A devnet wallet address the bench mines to.
    pub(crate) mine_to: String,
}

impl Dev {
    /// Starts it with `extra` arguments, matures 101 coinbases in the devnet wallet and waits
    /// until the sidechain is producing (the first blocks need the merged miner).
    pub(crate) fn start(datadir: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["--btc-block-secs", "0"];
        args.extend_from_slice(extra);
        let process = DevProcess::start(Path::new(env!("CARGO_BIN_EXE_alys")), datadir, &args);
        let btc = process.bitcoin_rpc.clone().expect("bitcoin RPC printed");
        let btc = Rpc::new(&btc, Some(DEV_RPC_AUTH));
        let mine_to = btc.call("getnewaddress", json!([])).unwrap();
        let dev = Self {
            node: Rpc::new(&process.node_rpc, Some(DEV_RPC_AUTH)),
            eth: Rpc::new(&process.eth_rpc, None),
            btc,
            mine_to: mine_to.as_str().unwrap().to_string(),
            process,
        };
        dev.mine(101);
        dev.wait("sidechain blocks", Duration::from_secs(60), || {
            let head = dev.node.call("getsyncstatus", json!([])).ok()?["headHeight"].as_u64();
            (head.unwrap_or(0) >= 2).then_some(())
        });
        dev
    }

    /// Mines `n` Bitcoin blocks to the wallet.
    pub(crate) fn mine(&self, n: u64) -> Value {
        self.btc
            .call("generatetoaddress", json!([n, self.mine_to]))
            .unwrap()
    }

    /// The chain spec (`getchainspec`'s `spec`).
    pub(crate) fn spec(&self) -> Value {
        self.node.call("getchainspec", json!([])).unwrap()["spec"].clone()
    }

    /// Checks `check` every [`POLL`] until it returns `Some`; panics with the log tail after
    /// `timeout`.
    pub(crate) fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        check: impl FnMut() -> Option<T>,
    ) -> T {
        self.wait_or(what, timeout, check, || self.log_tail())
    }

    /// [`Self::wait`] that panics with `detail()` instead of the log tail.
    pub(crate) fn wait_or<T>(
        &self,
        what: &str,
        timeout: Duration,
        check: impl FnMut() -> Option<T>,
        detail: impl FnOnce() -> String,
    ) -> T {
        alys_test_utils::wait::wait_until_every(POLL, timeout, what, check, detail)
    }

    /// A deposit of `sats` to the federation address `fed` with `recipient` in a 20-byte
    /// OP_RETURN, built by the devnet wallet (`createrawtransaction` → `fundrawtransaction` →
    /// `signrawtransactionwithwallet` → `sendrawtransaction`); its txid.
    pub(crate) fn wallet_deposit(&self, fed: &str, sats: u64, recipient: &[u8; 20]) -> String {
        let btc = &self.btc;
        let amount = format!("{}.{:08}", sats / 100_000_000, sats % 100_000_000);
        let raw = btc
            .call(
                "createrawtransaction",
                json!([[], [{ fed: amount }, {"data": hex::encode(recipient)}]]),
            )
            .unwrap();
        let funded = btc.call("fundrawtransaction", json!([raw])).unwrap();
        let signed = btc
            .call("signrawtransactionwithwallet", json!([funded["hex"]]))
            .unwrap();
        assert_eq!(signed["complete"], true, "{signed}");
        let txid = btc
            .call("sendrawtransaction", json!([signed["hex"]]))
            .unwrap();
        txid.as_str().unwrap().to_string()
    }

    pub(crate) fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}

/// The `p`th percentile of `sorted` (nearest rank).
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

/// p50, p90 and max of `values`.
pub(crate) fn p50_p90_max(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        percentile(&values, 50.0),
        percentile(&values, 90.0),
        values[values.len() - 1],
    )
}

/// The dev spec with `authorities` authorities, slots of `slot_ms` and merged mining off (no
/// miner runs: nothing halts or finalizes).
pub(crate) fn unmined_dev_spec(authorities: usize, slot_ms: u64) -> Arc<ChainSpec> {
    let mut spec = ChainSpec::dev(authorities).unwrap();
    spec.slot_duration_ms = slot_ms;
    spec.pow = None;
    spec.validate().unwrap();
    Arc::new(spec)
}

/// The runtime of the benches that run nodes in process: two workers, as the machine's cores.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Sends `raws` to `url` as one JSON-RPC batch of `eth_sendRawTransaction`; every call must
/// succeed.
pub(crate) fn send_raw_batch(http: &reqwest::blocking::Client, url: &str, raws: &[String]) {
    let batch: Vec<Value> = raws
        .iter()
        .enumerate()
        .map(|(i, raw)| json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}))
        .collect();
    let answers: Vec<Value> = http.post(url).json(&batch).send().unwrap().json().unwrap();
    for a in &answers {
        assert!(a.get("error").is_none(), "transaction refused: {a}");
    }
}
