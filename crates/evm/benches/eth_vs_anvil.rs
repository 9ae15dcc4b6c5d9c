//! Side-by-side benchmark of the embedded execution client's RPC and pool against anvil
//! (Foundry 1.7.1 from npm), on the same workload, block gas limit (30M) and block time (1 s).
//!
//! Workload: 10,000 pre-signed ERC-20 transfers from 100 senders sent over HTTP by 32
//! concurrent workers; measured: submissions/s and the time until every receipt is available.
//! Each node's transfers start right after it sealed a block (same phase of the 1 s cadence).
//! Then the 10,000 receipts fetched one by one (one request at a time), alternating between
//! the nodes for three rounds: median time.
//! Then `eth_call` (`balanceOf`) and `eth_getBalance` requests/s from 64 concurrent workers for
//! 3 s each, alternating between the nodes (order swapped every round) for seven rounds: median
//! rates, and the median of the per-round ratios. The same load generator (this process) drives
//! both nodes; both run for the whole benchmark.
//!
//! `cargo bench -p alys-evm --bench eth_vs_anvil` (about three minutes). Needs anvil from
//! `scripts/setup.sh` (tests/e2e); fails without it (`ALYS_ALLOW_MISSING_TOOLS=1`: skips). `-- --method-rates` and `-- --bare-server`
//! run the profiling aids instead (single-method rates of the embedded client; the ceiling of a
//! bare jsonrpsee server on this machine).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

/// The allocator the `alys` binary uses (this binary also runs as the node).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alys_test_utils::process::LoggedProcess;
use alys_test_utils::tools::{require, Tool};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::Value;
use support::*;

const SENDERS: usize = 100;
const PER_SENDER: u64 = 100;
const SUBMIT_WORKERS: usize = 32;
const LOAD_WORKERS: usize = 64;
const LOAD_SECONDS: u64 = 3;
/// Alternating rounds of the read load.
const READ_ROUNDS: usize = 7;
/// Alternating rounds of fetching every receipt one by one.
const FETCH_ROUNDS: usize = 3;

fn sign(
    key: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: U256,
    input: Bytes,
    gas: u64,
) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input,
    };
    let sig = key.sign_transaction_sync(&mut tx).expect("sign");
    let env: TxEnvelope = tx.into_signed(sig).into();
    Bytes::from(env.encoded_2718())
}

struct Workload {
    setup: Vec<Bytes>,
    transfers: Vec<Bytes>,
    last_hashes: Vec<B256>,
    token: Address,
    senders: Vec<Address>,
}

fn workload() -> Workload {
    let deployer = signer(0);
    let token = deployer.address().create(0);
    let senders: Vec<PrivateKeySigner> = (0..SENDERS)
        .map(|i| {
            PrivateKeySigner::from_bytes(&keccak256(format!("alys-bench-sender-{i}"))).expect("key")
        })
        .collect();
    let mut setup = Vec::new();
    let mut deploy = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 3_000_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Create,
        value: U256::ZERO,
        access_list: Default::default(),
        input: token_creation_code(U256::from(10u64).pow(U256::from(30))),
    };
    let sig = deployer.sign_transaction_sync(&mut deploy).expect("sign");
    let env: TxEnvelope = deploy.into_signed(sig).into();
    setup.push(Bytes::from(env.encoded_2718()));
    let mut nonce = 1;
    for s in &senders {
        setup.push(sign(
            &deployer,
            nonce,
            s.address(),
            U256::from(10u64).pow(U256::from(18)),
            Bytes::new(),
            21_000,
        ));
        nonce += 1;
        let data = RpcTestToken::transferCall {
            to: s.address(),
            value: U256::from(1_000_000u64),
        }
        .abi_encode();
        setup.push(sign(
            &deployer,
            nonce,
            token,
            U256::ZERO,
            data.into(),
            100_000,
        ));
        nonce += 1;
    }
    // Round-robin by nonce so that every sender has executable transactions early.
    let mut transfers = Vec::new();
    let mut last_hashes = Vec::new();
    for n in 0..PER_SENDER {
        for (i, s) in senders.iter().enumerate() {
            let to = Address::from_word(keccak256(format!("recipient-{i}-{n}")));
            let data = RpcTestToken::transferCall {
                to,
                value: U256::from(1),
            }
            .abi_encode();
            let raw = sign(s, n, token, U256::ZERO, data.into(), 100_000);
            if n == PER_SENDER - 1 {
                last_hashes.push(keccak256(&raw));
            }
            transfers.push(raw);
        }
    }
    Workload {
        setup,
        transfers,
        last_hashes,
        token,
        senders: senders.iter().map(|s| s.address()).collect(),
    }
}

#[derive(Debug, Default, Clone)]
struct Figures {
    submissions_per_s: f64,
    receipts_s: f64,
    fetch_receipts_s: f64,
    calls_per_s: f64,
    balances_per_s: f64,
}

async fn wait_receipts(client: &HttpClient, hashes: &[B256]) {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut pending: Vec<B256> = hashes.to_vec();
    while !pending.is_empty() {
        assert!(Instant::now() < deadline, "receipts did not arrive");
        let mut still = Vec::new();
        for h in pending {
            let r: Value = client
                .request("eth_getTransactionReceipt", rpc_params![h])
                .await
                .expect("receipt call");
            if r.is_null() {
                still.push(h);
            } else {
                assert_eq!(r["status"], "0x1", "transaction {h} failed");
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn send_all(client: &HttpClient, txs: Arc<Vec<Bytes>>, workers: usize) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (client, txs, next, errors) =
            (client.clone(), txs.clone(), next.clone(), errors.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(raw) = txs.get(i) else { break };
                let r: Result<B256, _> = client
                    .request("eth_sendRawTransaction", rpc_params![raw])
                    .await;
                if let Err(e) = r {
                    if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("send error: {e}");
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("worker");
    }
    errors.load(Ordering::Relaxed)
}

async fn load(client: &HttpClient, method: &'static str, params: Vec<Value>) -> f64 {
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Instant::now() + Duration::from_secs(LOAD_SECONDS);
    let params = Arc::new(params);
    let mut handles = Vec::new();
    for w in 0..LOAD_WORKERS {
        let (client, done, params) = (client.clone(), done.clone(), params.clone());
        handles.push(tokio::spawn(async move {
            let mut i = w;
            while Instant::now() < stop {
                let p = params[i % params.len()].clone();
                let mut array = jsonrpsee::core::params::ArrayParams::new();
                if let Value::Array(items) = p {
                    for item in items {
                        array.insert(item).expect("param");
                    }
                }
                let r: Result<Value, _> = client.request(method, array).await;
                if r.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                i += LOAD_WORKERS;
            }
        }));
    }
    for h in handles {
        h.await.expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / LOAD_SECONDS as f64
}

fn client(url: &str) -> HttpClient {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(120))
        .max_concurrent_requests(1024)
        .build(url)
        .expect("client")
}

/// Deploys the token and funds the senders (not measured).
async fn setup(client: &HttpClient, w: &Workload) {
    let errors = send_all(client, Arc::new(w.setup.clone()), 1).await;
    assert_eq!(errors, 0, "setup submissions failed");
    let setup_hashes: Vec<B256> = w.setup.iter().map(keccak256).collect();
    wait_receipts(client, &setup_hashes).await;
}

/// Waits until the node seals its next block, so both nodes start the transfers at the same
/// point of their 1 s block cadence (otherwise the phase adds up to a second of noise).
async fn align_to_block(client: &HttpClient) {
    let number = || async {
        client
            .request::<U256, _>("eth_blockNumber", rpc_params![])
            .await
            .expect("eth_blockNumber")
    };
    let first = number().await;
    while number().await == first {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Submits the 10,000 transfers; returns submissions/s and seconds until all receipts.
async fn transfers(client: &HttpClient, w: &Workload) -> (f64, f64) {
    let txs = Arc::new(w.transfers.clone());
    align_to_block(client).await;
    let start = Instant::now();
    let errors = send_all(client, txs.clone(), SUBMIT_WORKERS).await;
    let submit = start.elapsed();
    assert_eq!(errors, 0, "benchmark submissions failed");
    wait_receipts(client, &w.last_hashes).await;
    (
        txs.len() as f64 / submit.as_secs_f64(),
        start.elapsed().as_secs_f64(),
    )
}

/// Seconds to fetch the receipts of `hashes` one by one (each must be there).
async fn fetch_receipts(client: &HttpClient, hashes: &[B256]) -> f64 {
    let start = Instant::now();
    for h in hashes {
        let r: Value = client
            .request("eth_getTransactionReceipt", rpc_params![h])
            .await
            .expect("receipt call");
        assert_eq!(r["status"], "0x1", "receipt of {h}");
    }
    start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Some(file) = std::env::var_os(NODE_URL_FILE) {
        return node_process(file).await;
    }
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--method-rates") {
        return method_rates().await;
    }
    if args.iter().any(|a| a == "--bare-server") {
        return bare_server_rate().await;
    }
    benchmark_against_anvil().await;
}

/// Environment variable that turns this binary into the node process of the benchmark.
const NODE_URL_FILE: &str = "ALYS_BENCH_NODE_URL_FILE";

async fn benchmark_against_anvil() {
    let Some(anvil) = require(Tool::Anvil) else {
        return;
    };
    let w = workload();

    // Anvil: same chain id, gas limit, block time, base fee; default accounts (10,000 ether).
    // Port 0: the address it bound is read from its `Listening on` line.
    let log = tempfile::NamedTempFile::new().expect("temp file");
    let mut anvil_process = LoggedProcess::spawn(
        "anvil",
        &anvil,
        [
            "--port",
            "0",
            "--chain-id",
            &CHAIN_ID.to_string(),
            "--gas-limit",
            &GAS_LIMIT.to_string(),
            "--block-time",
            "1",
            "--base-fee",
            &BASE_FEE.to_string(),
            "--hardfork",
            "cancun",
        ],
        log.path(),
    );
    let anvil_addr =
        anvil_process.wait_for_line(Duration::from_secs(60), "listening address", |l| {
            l.trim().strip_prefix("Listening on ").map(str::to_string)
        });
    let anvil_url = format!("http://{anvil_addr}");
    // The embedded client runs in its own process too (this binary, re-executed), so neither
    // node shares an allocator or scheduler with the load generator.
    let addr_file = tempfile::NamedTempFile::new().expect("temp file");
    let mut alys_child =
        tokio::process::Command::new(std::env::current_exe().expect("bench binary"))
            .env(NODE_URL_FILE, addr_file.path())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start node process");
    let mut url = String::new();
    for _ in 0..600 {
        url = std::fs::read_to_string(addr_file.path()).unwrap_or_default();
        if url.starts_with("http") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(url.starts_with("http"), "node process did not start");
    let (alys_client, anvil_client) = (client(&url), client(&anvil_url));
    setup(&anvil_client, &w).await;
    setup(&alys_client, &w).await;

    let mut alys = Figures::default();
    let mut anvil_figures = Figures::default();
    (anvil_figures.submissions_per_s, anvil_figures.receipts_s) =
        transfers(&anvil_client, &w).await;
    (alys.submissions_per_s, alys.receipts_s) = transfers(&alys_client, &w).await;

    // Every transfer's receipt, one request at a time, nodes alternating.
    let hashes: Vec<B256> = w.transfers.iter().map(keccak256).collect();
    let (mut alys_fetch, mut anvil_fetch) = (Vec::new(), Vec::new());
    for round in 0..FETCH_ROUNDS {
        if round % 2 == 0 {
            anvil_fetch.push(fetch_receipts(&anvil_client, &hashes).await);
            alys_fetch.push(fetch_receipts(&alys_client, &hashes).await);
        } else {
            alys_fetch.push(fetch_receipts(&alys_client, &hashes).await);
            anvil_fetch.push(fetch_receipts(&anvil_client, &hashes).await);
        }
    }
    (alys.fetch_receipts_s, anvil_figures.fetch_receipts_s) =
        (median(alys_fetch), median(anvil_fetch));

    // Read load: the nodes alternate (order swapped every round) for READ_ROUNDS rounds; the
    // ratio of each round is taken, and the median ratio reported, so drift of the shared
    // machine between rounds cancels out.
    let calls: Vec<Value> = w
        .senders
        .iter()
        .map(|s| {
            serde_json::json!([
                {"to": w.token, "data": Bytes::from(RpcTestToken::balanceOfCall(*s).abi_encode())},
                "latest"
            ])
        })
        .collect();
    let balances: Vec<Value> = w
        .senders
        .iter()
        .map(|s| serde_json::json!([s, "latest"]))
        .collect();
    let loads = [
        ("eth_chainId", vec![serde_json::json!([])]),
        ("eth_call", calls),
        ("eth_getBalance", balances),
    ];
    // Per method: (alys rates, anvil rates, per-round ratios).
    let mut rates: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![Default::default(); loads.len()];
    for round in 0..READ_ROUNDS {
        for ((method, params), (a, b, r)) in loads.iter().zip(rates.iter_mut()) {
            let (x, y) = if round % 2 == 0 {
                let y = load(&anvil_client, method, params.clone()).await;
                (load(&alys_client, method, params.clone()).await, y)
            } else {
                let x = load(&alys_client, method, params.clone()).await;
                (x, load(&anvil_client, method, params.clone()).await)
            };
            a.push(x);
            b.push(y);
            r.push(x / y);
        }
    }
    let _ = alys_child.kill().await;
    anvil_process.kill();
    let summary: Vec<(f64, f64, f64)> = rates
        .into_iter()
        .map(|(a, b, r)| (median(a), median(b), median(r)))
        .collect();
    println!(
        "reference, eth_chainId requests/s (no state access): alys {:.1}, anvil {:.1}, median ratio {:.2}",
        summary[0].0, summary[0].1, summary[0].2
    );
    (alys.calls_per_s, anvil_figures.calls_per_s) = (summary[1].0, summary[1].1);
    (alys.balances_per_s, anvil_figures.balances_per_s) = (summary[2].0, summary[2].1);

    let rows = [
        (
            "submissions/s (10,000 ERC-20 transfers, 32 workers)",
            alys.submissions_per_s,
            anvil_figures.submissions_per_s,
            alys.submissions_per_s / anvil_figures.submissions_per_s,
        ),
        (
            "time until all receipts (s)",
            alys.receipts_s,
            anvil_figures.receipts_s,
            anvil_figures.receipts_s / alys.receipts_s,
        ),
        (
            "fetching the 10,000 receipts one by one (s)",
            alys.fetch_receipts_s,
            anvil_figures.fetch_receipts_s,
            anvil_figures.fetch_receipts_s / alys.fetch_receipts_s,
        ),
        (
            "eth_call balanceOf requests/s (64 workers)",
            alys.calls_per_s,
            anvil_figures.calls_per_s,
            summary[1].2,
        ),
        (
            "eth_getBalance requests/s (64 workers)",
            alys.balances_per_s,
            anvil_figures.balances_per_s,
            summary[2].2,
        ),
    ];
    println!("| figure | alys | anvil | alys/anvil (≥1 is better) |");
    println!("|---|---:|---:|---:|");
    for (name, a, b, ratio) in rows {
        println!("| {name} | {a:.1} | {b:.1} | {ratio:.2} |");
    }
}

/// The embedded client for [`benchmark_against_anvil`], in a process of its own: serves on a
/// free port, produces a block every second, writes its URL to `file` and runs until killed.
async fn node_process(file: std::ffi::OsString) {
    let node = TestNode::start().await;
    let url = node.url.clone();
    let _producer = Producer::start(node, Duration::from_secs(1));
    std::fs::write(file, url).expect("write url");
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

/// Requests/s of single methods on the embedded client only (for profiling the RPC stack).
async fn method_rates() {
    let mut node = TestNode::start().await;
    let token = deploy_token(&mut node, 0, 0, U256::from(1000)).await;
    let client = HttpClientBuilder::default()
        .max_concurrent_requests(1024)
        .build(&node.url)
        .expect("client");
    let a0 = signer(0).address();
    let call = serde_json::json!([{"to": token, "data": Bytes::from(RpcTestToken::balanceOfCall(a0).abi_encode())}, "latest"]);
    for (method, params) in [
        ("eth_chainId", serde_json::json!([])),
        ("eth_blockNumber", serde_json::json!([])),
        ("eth_getBalance", serde_json::json!([a0, "latest"])),
        ("eth_getTransactionCount", serde_json::json!([a0, "latest"])),
        ("eth_call", call),
        ("eth_call", serde_json::json!([{"to": a0}, "latest"])),
        (
            "eth_estimateGas",
            serde_json::json!([{"from": a0, "to": a0}, "latest"]),
        ),
    ] {
        let rate = load(&client, method, vec![params]).await;
        println!("{method}: {rate:.0}/s");
    }
    node.stop().await;
}

/// Requests/s of a bare jsonrpsee server (one trivial method, no middleware): the ceiling of
/// the server stack on this machine.
async fn bare_server_rate() {
    let server = jsonrpsee::server::Server::builder()
        .build("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = server.local_addr().expect("addr");
    let mut module = jsonrpsee::RpcModule::new(());
    module
        .register_method("eth_chainId", |_, _, _| "0x1")
        .expect("register");
    let handle = server.start(module);
    let client = client(&format!("http://{addr}"));
    let rate = load(&client, "eth_chainId", vec![serde_json::json!([])]).await;
    println!("bare jsonrpsee eth_chainId: {rate:.0}/s");
    let _ = handle.stop();
}
