//! What the end-to-end tests of the `alys` binary share beyond `alys-test-utils`: the binary's
//! path, the dev chain spec with 1 s slots and its authorities' key files, transactions signed
//! and sent with Foundry's `cast`, and python-bitcoinlib (a client no one here wrote) building
//! deposits with `tests/pegin/deposit.py`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

// Each test file uses a part of these.
use alys_primitives::{bls::save_secret_key, dev::dev_secret_key, ChainSpec};
#[allow(unused_imports)]
pub(crate) use alys_test_utils::{
    json_rpc::JsonRpc,
    nodes::{cast, BtcDevnetProcess, DevProcess},
    process::LoggedProcess,
    tools::{require, require_all, Tool},
    wait::wait_until,
};
use serde_json::Value;

/// The `alys` binary under test.
pub(crate) fn alys() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_alys"))
}

/// The `alys-miner` binary next to `alys` (built on demand: it lives in another package).
pub(crate) fn miner_bin() -> PathBuf {
    let alys = PathBuf::from(env!("CARGO_BIN_EXE_alys"));
    let miner = alys.with_file_name("alys-miner");
    if !miner.is_file() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "-p",
                "alys-miner",
                "--bin",
                "alys-miner",
                "--manifest-path",
            ])
            .arg(manifest)
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building alys-miner (or run `cargo build -p alys-miner`)"
        );
    }
    assert!(
        miner.is_file(),
        "{} missing: run `cargo build -p alys-miner`",
        miner.display()
    );
    miner
}

/// Writes the dev spec for `n` authorities with the shortest slot the spec allows (1 s) to
/// `<dir>/chain.json`.
pub(crate) fn write_dev_spec(dir: &Path, n: usize) -> (ChainSpec, PathBuf) {
    let mut spec = ChainSpec::dev(n).unwrap();
    spec.slot_duration_ms = 1000;
    if let Some(pow) = spec.pow.as_mut() {
        pow.target_spacing_secs = 1;
    }
    spec.validate().unwrap();
    let path = dir.join("chain.json");
    std::fs::write(&path, spec.to_json_pretty()).unwrap();
    (spec, path)
}

/// Writes the BLS keys of dev authorities `0..n` to `<dir>/authority-<i>.key`.
pub(crate) fn write_dev_keys(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("authority-{i}.key"));
            save_secret_key(&p, &dev_secret_key(i)).unwrap();
            p
        })
        .collect()
}

/// Priority fee of every transaction [`cast_send`] signs (whole gwei, so no fee range leaves
/// sub-gwei dust behind).
pub(crate) const CAST_TIP: u128 = 1_000_000_000;

/// A signed transaction and its hash.
pub(crate) struct SentTx {
    /// Its hash.
    pub hash: String,
    /// Its raw EIP-2718 bytes, hex.
    pub raw: String,
}

/// Signs with `key` a dev-chain transaction with explicit nonce, gas limit and fees (max fee
/// 10 gwei, tip [`CAST_TIP`]; EthereumJS's `eth_estimateGas` refuses `pending`), `args` being
/// `cast mktx`'s (`<to> --value <wei>`, `<to> <signature> <args…>`, `--create <code>`), and
/// publishes it to `rpc` without waiting for its receipt.
pub(crate) fn cast_send(rpc: &str, key: &str, nonce: u64, gas: u64, args: &[&str]) -> SentTx {
    let (nonce, gas, tip) = (nonce.to_string(), gas.to_string(), CAST_TIP.to_string());
    let chain_id = alys_primitives::dev::DEV_CHAIN_ID.to_string();
    let mut all = vec![
        "mktx",
        "--private-key",
        key,
        "--nonce",
        &nonce,
        "--gas-limit",
        &gas,
        "--gas-price",
        "10000000000",
        "--priority-gas-price",
        &tip,
        "--chain",
        &chain_id,
        "-r",
        rpc,
    ];
    all.extend_from_slice(args);
    let raw = cast(&all).unwrap_or_else(|e| panic!("cast mktx {args:?}: {e}"));
    let hash = cast(&["publish", "--async", &raw, "-r", rpc])
        .unwrap_or_else(|e| panic!("cast publish {args:?}: {e}"));
    SentTx { hash, raw }
}

/// Starts `alys dev` on `datadir` with every port 0 and `extra` arguments.
pub(crate) fn start_dev(datadir: &Path, extra: &[&str]) -> DevProcess {
    DevProcess::start(alys(), datadir, extra)
}

/// A JSON-RPC call to `url` with Basic auth `user:password`.
pub(crate) fn json_rpc(
    url: &str,
    auth: &str,
    method: &str,
    params: Value,
) -> Result<Value, String> {
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    JsonRpc::new(url, Some((user, password))).call(method, params)
}

/// A transaction built (and possibly submitted) by `tests/pegin/deposit.py`.
#[derive(Clone, Debug)]
pub(crate) struct BuiltTx {
    /// Its txid (Bitcoin display order).
    pub txid: String,
    /// Its raw hex.
    pub hex: String,
}

/// Runs `tests/pegin/deposit.py` (python-bitcoinlib) against the Bitcoin RPC `btc_url`
/// (`http://user:password@host:port`) with federation scriptPubKey `fed_spk` and `plan` (see
/// the script's docs); the tip height once its funding coins were confirmed, and the
/// transactions in plan order.
pub(crate) fn build_deposits(
    btc_url: &str,
    fed_spk: &str,
    plan: &Value,
) -> Result<(u64, Vec<BuiltTx>), String> {
    let python = Tool::PythonBitcoinlib.locate()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pegin/deposit.py");
    let out = Command::new(&python)
        .arg(&script)
        .args([btc_url, fed_spk, &plan.to_string()])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
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
pub(crate) fn with_auth(url: &str, user: &str, password: &str) -> String {
    url.replacen("http://", &format!("http://{user}:{password}@"), 1)
}

/// Creation code of a contract that emits `RequestPegOut` like the Bridge (topic 0 = the event,
/// topic 1 = the caller, data = the calldata) without any check or burn:
/// runtime `CALLDATASIZE PUSH0 PUSH0 CALLDATACOPY CALLER PUSH32 <topic> CALLDATASIZE PUSH0 LOG2
/// STOP`, behind an init code that returns it.
pub(crate) fn impostor_creation_code(topic0: &str) -> String {
    let runtime = format!("365f5f37337f{}365fa200", topic0.trim_start_matches("0x"));
    let len = runtime.len() / 2;
    format!("0x60{len:02x}600a5f3960{len:02x}5ff3{runtime}")
}

/// Sends a transaction from the first dev account with a fixed gas limit (so cast does not
/// refuse it at estimation) and returns its mined receipt.
pub(crate) fn send_mined(rpc: &str, args: &[&str]) -> Value {
    receipt(rpc, &send_async(rpc, args))
}

/// Sends a transaction as [`send_mined`] does, without waiting for it to be mined: its hash.
pub(crate) fn send_async(rpc: &str, args: &[&str]) -> String {
    let mut all = vec![
        "send",
        "--private-key",
        DEV_KEY0,
        "--gas-limit",
        "200000",
        "-r",
        rpc,
        "--async",
    ];
    // Last: `--create <code>` takes every argument after it.
    all.extend_from_slice(args);
    cast(&all).unwrap()
}

/// The receipt of transaction `hash`, once mined.
pub(crate) fn receipt(rpc: &str, hash: &str) -> Value {
    let receipt = cast(&["receipt", hash, "--json", "-r", rpc]).unwrap();
    serde_json::from_str(&receipt).unwrap()
}

/// The private key of the first prefunded dev account.
pub(crate) const DEV_KEY0: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// `0x` + the hex of `text`'s bytes (a `bytes` argument for cast).
pub(crate) fn hex_of(text: &str) -> String {
    format!("0x{}", hex::encode(text))
}

/// The balance of `who` in wei, read with `cast balance`.
pub(crate) fn wei_balance(rpc: &str, who: &str) -> u128 {
    cast(&["balance", who, "-r", rpc]).unwrap().parse().unwrap()
}

/// The output of Bitcoin transaction `txid` paying regtest `address`, read from the devnet
/// through `btc` (`getrawtransaction`, mined at least once) and checked unspent with
/// `gettxout`: its index and value in sats.
pub(crate) fn payout_output(btc: &JsonRpc, txid: &str, address: &str) -> (usize, u64) {
    use alys_federation::bitcoin::{Address, Network};
    let spk = address
        .parse::<Address<_>>()
        .unwrap_or_else(|e| panic!("{address}: {e}"))
        .require_network(Network::Regtest)
        .unwrap_or_else(|e| panic!("{address}: {e}"))
        .script_pubkey();
    let spk = hex::encode(spk.as_bytes());
    let tx = btc
        .call("getrawtransaction", serde_json::json!([txid, true]))
        .unwrap_or_else(|e| panic!("getrawtransaction {txid}: {e}"));
    assert!(tx["confirmations"].as_u64().unwrap_or(0) >= 1, "{tx}");
    let sats = |v: &Value| (v.as_f64().unwrap_or(-1.0) * 1e8).round() as u64;
    let outputs = tx["vout"].as_array().cloned().unwrap_or_default();
    let (n, out) = outputs
        .iter()
        .enumerate()
        .find(|(_, o)| o["scriptPubKey"]["hex"].as_str() == Some(spk.as_str()))
        .unwrap_or_else(|| panic!("{txid} pays nothing to {address}: {tx}"));
    let utxo = btc
        .call("gettxout", serde_json::json!([txid, n]))
        .unwrap_or_else(|e| panic!("gettxout {txid}:{n}: {e}"));
    assert_eq!(sats(&utxo["value"]), sats(&out["value"]), "{utxo}");
    (n, sats(&out["value"]))
}

/// One scrape of a metrics endpoint.
pub(crate) struct Scrape(pub(crate) String);

impl Scrape {
    /// Scrapes `url`.
    pub(crate) fn of(url: &str) -> Self {
        Self(
            reqwest::blocking::get(url)
                .and_then(|r| r.text())
                .unwrap_or_else(|e| panic!("scraping {url}: {e}")),
        )
    }

    /// The sum of the samples of the series whose line starts with `name` (every label set).
    pub(crate) fn sample(&self, name: &str) -> f64 {
        self.0
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}
