//! `alys node` against the clients a federation member runs in production: a real Bitcoin Core
//! (`bitcoind`, regtest) and a real Reth (or, without it, Geth), started here from their
//! binaries on `PATH`, exactly with the flags `docs/federation-member.md` gives. One authority
//! (threshold 1, 1 s slots), `alys-miner` finalizing:
//!
//! 1. the EL's block 0 is the genesis block `alys chain export-genesis` announced;
//! 2. blocks are produced through the EL's Engine API (JWT) and finalized by AuxPoW;
//! 3. a deposit sent by Bitcoin Core's own wallet (federation address + 20-byte OP_RETURN)
//!    is minted to the recipient once confirmed.
//!
//! Neither client can be installed from the registries the test command uses, so this is the
//! one test that skips on purpose: without `bitcoind`, or without both `reth` and `geth`, it
//! prints `SKIPPED: <reason>` and passes (docs/testing.md). Operators run it on their own
//! machines with `cargo test -p alys --test external_clients -- --nocapture`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use alys_test_utils::ethereumjs::free_port;
use alys_test_utils::nodes::export_geth_genesis;
use common::{
    alys, json_rpc, miner_bin, wait_until, write_dev_keys, write_dev_spec, LoggedProcess,
};
use serde_json::{json, Value};

const RECIPIENT: &str = "0x1111111111111111111111111111111111111111";
const MINER: &str = "0x6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d";
const DEPOSIT_SATS: u64 = 100_000;

/// The first `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// An execution client written outside the project.
enum El {
    Reth(PathBuf),
    Geth(PathBuf),
}

impl El {
    /// Starts it on `genesis` with the JWT secret `jwt`, Engine API on `authrpc`, eth RPC on
    /// `http`, no peers.
    fn start(
        &self,
        dir: &Path,
        genesis: &Path,
        jwt: &Path,
        authrpc: u16,
        http: u16,
    ) -> LoggedProcess {
        let data = dir.join("el");
        let s = |p: &Path| p.to_string_lossy().to_string();
        let common = [
            "--authrpc.addr".to_string(),
            "127.0.0.1".into(),
            "--authrpc.port".into(),
            authrpc.to_string(),
            "--authrpc.jwtsecret".into(),
            s(jwt),
            "--http".into(),
            "--http.addr".into(),
            "127.0.0.1".into(),
            "--http.port".into(),
            http.to_string(),
            "--http.api".into(),
            "eth,net,web3".into(),
            "--port".into(),
            free_port().to_string(),
            "--ipcdisable".into(),
        ];
        match self {
            El::Reth(bin) => {
                let mut args = vec![
                    "node".to_string(),
                    "--chain".into(),
                    s(genesis),
                    "--datadir".into(),
                    s(&data),
                ];
                args.extend(common);
                args.extend(["--disable-discovery".to_string()]);
                LoggedProcess::spawn("reth", bin, args, &dir.join("el.log"))
            }
            El::Geth(bin) => {
                let init = std::process::Command::new(bin)
                    .args(["init", "--datadir"])
                    .arg(&data)
                    .arg(genesis)
                    .output()
                    .unwrap();
                assert!(
                    init.status.success(),
                    "geth init: {}",
                    String::from_utf8_lossy(&init.stderr)
                );
                let mut args = vec![
                    "--datadir".to_string(),
                    s(&data),
                    "--syncmode".into(),
                    "full".into(),
                ];
                args.extend(common);
                args.extend(["--nodiscover".to_string(), "--maxpeers".into(), "0".into()]);
                LoggedProcess::spawn("geth", bin, args, &dir.join("el.log"))
            }
        }
    }
}

/// Bitcoin Core's JSON-RPC (`alys`/`alys`).
fn btc(url: &str, method: &str, params: Value) -> Result<Value, String> {
    json_rpc(url, "alys:alys", method, params)
}

fn eth(url: &str, method: &str, params: Value) -> Result<Value, String> {
    json_rpc(url, "", method, params)
}

fn hex_u64(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn an_authority_runs_on_bitcoin_core_and_reth_or_geth() {
    let Some(bitcoind) = on_path("bitcoind") else {
        println!("SKIPPED: `bitcoind` (Bitcoin Core) is not on PATH; put Bitcoin Core 25 or later on PATH to run this test");
        return;
    };
    let el = match (on_path("reth"), on_path("geth")) {
        (Some(reth), _) => El::Reth(reth),
        (None, Some(geth)) => El::Geth(geth),
        (None, None) => {
            println!("SKIPPED: neither `reth` nor `geth` is on PATH; put Reth or Geth on PATH to run this test");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_spec, chain) = write_dev_spec(dir, 1);
    let keys = write_dev_keys(dir, 1);
    let genesis = dir.join("genesis.json");
    let genesis_hash = export_geth_genesis(alys(), &chain, &genesis);
    let jwt = dir.join("jwt.hex");
    std::fs::write(&jwt, hex::encode(rand::random::<[u8; 32]>())).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&jwt, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // Bitcoin Core, regtest, with a wallet holding mature coins.
    let rpc_port = free_port();
    let btc_data = dir.join("bitcoin");
    std::fs::create_dir_all(&btc_data).unwrap();
    let _bitcoind = LoggedProcess::spawn(
        "bitcoind",
        &bitcoind,
        [
            "-regtest".to_string(),
            format!("-datadir={}", btc_data.display()),
            format!("-rpcport={rpc_port}"),
            format!("-port={}", free_port()),
            "-rpcuser=alys".into(),
            "-rpcpassword=alys".into(),
            "-txindex=1".into(),
            "-fallbackfee=0.0001".into(),
            "-printtoconsole=1".into(),
        ],
        &dir.join("bitcoind.log"),
    );
    let btc_url = format!("http://127.0.0.1:{rpc_port}");
    wait_until(
        Duration::from_secs(60),
        "Bitcoin Core RPC",
        || btc(&btc_url, "getblockchaininfo", json!([])).ok(),
        String::new,
    );
    btc(&btc_url, "createwallet", json!(["test"])).unwrap();
    let wallet = format!("{btc_url}/wallet/test");
    let address = btc(&wallet, "getnewaddress", json!([])).unwrap();
    btc(&btc_url, "generatetoaddress", json!([101, address])).unwrap();

    // The execution client: block 0 is the spec's genesis.
    let (authrpc, http) = (free_port(), free_port());
    let mut el_process = el.start(dir, &genesis, &jwt, authrpc, http);
    let eth_url = format!("http://127.0.0.1:{http}");
    let block0 = wait_until(
        Duration::from_secs(60),
        "the EL's eth RPC",
        || eth(&eth_url, "eth_getBlockByNumber", json!(["0x0", false])).ok(),
        || el_process.log_tail(30),
    );
    assert_eq!(block0["hash"].as_str().unwrap(), genesis_hash, "EL genesis");

    // The authority, as docs/federation-member.md runs it, and the miner.
    let s = |p: &Path| p.to_string_lossy().to_string();
    let mut node = LoggedProcess::spawn(
        "alys node",
        alys(),
        [
            "node".to_string(),
            "--chain".into(),
            s(&chain),
            "--datadir".into(),
            s(&dir.join("node")),
            "--signer-key".into(),
            s(&keys[0]),
            "--engine-url".into(),
            format!("http://127.0.0.1:{authrpc}"),
            "--jwt-secret".into(),
            s(&jwt),
            "--execution-rpc-url".into(),
            eth_url.clone(),
            "--bitcoin-rpc-url".into(),
            btc_url.clone(),
            "--bitcoin-rpc-user".into(),
            "alys".into(),
            "--bitcoin-rpc-password".into(),
            "alys".into(),
            "--rpc-port".into(),
            "0".into(),
            "--rpc-password".into(),
            "alys".into(),
            "--no-p2p".into(),
        ],
        &dir.join("node.log"),
    );
    let rpc = node.wait_for_url("node JSON-RPC", Duration::from_secs(60));
    let _miner = LoggedProcess::spawn(
        "alys-miner",
        miner_bin(),
        [
            "--url",
            &rpc,
            "--user",
            "alys",
            "--password",
            "alys",
            "--address",
            MINER,
        ],
        &dir.join("miner.log"),
    );
    let status = || json_rpc(&rpc, "alys:alys", "getsyncstatus", json!([])).ok();
    wait_until(
        Duration::from_secs(120),
        "5 blocks, finalized by AuxPoW",
        || {
            let s = status()?;
            let finalized = s["mergedMining"]["finalizedHeight"]
                .as_u64()
                .or(s["finalizedHeight"].as_u64())?;
            (s["headHeight"].as_u64()? >= 5 && finalized >= 1).then_some(s)
        },
        || node.log_tail(40),
    );
    let el_height = hex_u64(&eth(&eth_url, "eth_blockNumber", json!([])).unwrap());
    assert!(el_height >= 5, "EL at block {el_height}");

    // A deposit from Bitcoin Core's wallet: federation address + 20-byte OP_RETURN.
    let federation = json_rpc(&rpc, "alys:alys", "getdepositaddress", json!([])).unwrap();
    let btc_amount = DEPOSIT_SATS as f64 / 1e8;
    let recipient = RECIPIENT.trim_start_matches("0x");
    let sent = btc(
        &wallet,
        "send",
        json!([[{ federation.as_str().unwrap(): btc_amount }, { "data": recipient }]]),
    )
    .unwrap();
    assert_eq!(sent["complete"], true, "{sent}");
    btc(&btc_url, "generatetoaddress", json!([6, address])).unwrap();
    let want = u128::from(DEPOSIT_SATS) * 10_000_000_000;
    wait_until(
        Duration::from_secs(120),
        "the deposit minted on the EL",
        || {
            let balance = eth(&eth_url, "eth_getBalance", json!([RECIPIENT, "latest"])).ok()?;
            let wei = u128::from_str_radix(balance.as_str()?.trim_start_matches("0x"), 16).ok()?;
            (wei == want).then_some(())
        },
        || node.log_tail(40),
    );
    node.interrupt(Duration::from_secs(20));
    el_process.kill();
}
