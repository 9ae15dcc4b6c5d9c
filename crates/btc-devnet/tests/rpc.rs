//! The devnet over real HTTP: mining, wallet sends, an OP_RETURN deposit built with
//! create/fund/sign/sendrawtransaction, reorgs with invalidateblock/reconsiderblock, Core's
//! rejection errors, auth, malformed input, restart and kill -9 safety.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::{path::Path, time::Duration};

use alys_btc_devnet::{BtcDevnet, DevnetConfig, Node};
use alys_test_utils::devnet::start_devnet;
use alys_test_utils::wait::wait_until_async;
use serde_json::{json, Value};

struct Client {
    url: String,
    http: reqwest::Client,
}

impl Client {
    fn new(d: &BtcDevnet) -> Self {
        Self {
            url: d.url(),
            http: reqwest::Client::new(),
        }
    }

    async fn raw(&self, body: String, user: &str, pass: &str) -> (u16, String) {
        let r = self
            .http
            .post(&self.url)
            .basic_auth(user, Some(pass))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("http request");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }

    /// JSON-RPC 1.0 call: `Ok(result)` or `Err((code, message))`.
    async fn call(&self, method: &str, params: Value) -> Result<Value, (i64, String)> {
        let body = json!({"jsonrpc": "1.0", "id": "t", "method": method, "params": params});
        let (_, text) = self.raw(body.to_string(), "alys", "alys").await;
        let v: Value = serde_json::from_str(&text).expect("JSON response");
        if v["error"].is_null() {
            Ok(v["result"].clone())
        } else {
            Err((
                v["error"]["code"].as_i64().unwrap_or(0),
                v["error"]["message"].as_str().unwrap_or("").to_string(),
            ))
        }
    }

    async fn ok(&self, method: &str, params: Value) -> Value {
        match self.call(method, params.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("{method} {params}: {e:?}"),
        }
    }
}

async fn start(dir: &Path) -> BtcDevnet {
    start_devnet(Some(dir)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mine_send_deposit_reorg_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path()).await;
    let c = Client::new(&d);

    let info = c.ok("getblockchaininfo", json!([])).await;
    assert_eq!(info["chain"], "regtest");
    assert_eq!(info["blocks"], 0);
    assert_eq!(
        info["bestblockhash"],
        "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    );

    let addr = c.ok("getnewaddress", json!([])).await;
    let hashes = c.ok("generatetoaddress", json!([101, addr])).await;
    assert_eq!(hashes.as_array().map(Vec::len), Some(101));
    assert_eq!(c.ok("getblockcount", json!([])).await, 101);
    // Amounts are written with 8 decimals, as Core does.
    let (_, raw) = c
        .raw(
            json!({"method": "getbalance", "params": [], "id": 1}).to_string(),
            "alys",
            "alys",
        )
        .await;
    assert!(raw.contains("\"result\":50.00000000"), "{raw}");

    // Block/header shapes.
    let h1 = c.ok("getblockhash", json!([1])).await;
    let hdr = c.ok("getblockheader", json!([h1, true])).await;
    assert_eq!(hdr["height"], 1);
    assert_eq!(hdr["bits"], "207fffff");
    assert_eq!(hdr["confirmations"], 101);
    let hex_hdr = c.ok("getblockheader", json!([h1, false])).await;
    assert_eq!(hex_hdr.as_str().map(str::len), Some(160));
    let b2 = c.ok("getblock", json!([h1, 2])).await;
    assert!(b2["tx"][0]["vin"][0]["coinbase"].is_string());
    let b0 = c.ok("getblock", json!([h1, 0])).await;
    assert!(b0.is_string());

    // sendtoaddress to a taproot address of the wallet.
    let tr = c.ok("getnewaddress", json!(["", "bech32m"])).await;
    let txid1 = c.ok("sendtoaddress", json!([tr, 1.5])).await;
    let pool = c.ok("getrawmempool", json!([])).await;
    assert!(pool.as_array().unwrap().contains(&txid1));

    // Deposit-like tx: create (with OP_RETURN) → fund → sign → send.
    let dest = c.ok("getnewaddress", json!([])).await;
    let raw = c
        .ok(
            "createrawtransaction",
            json!([[], [{dest.as_str().unwrap(): 0.1}, {"data": "11".repeat(20)}]]),
        )
        .await;
    let funded = c.ok("fundrawtransaction", json!([raw])).await;
    assert!(funded["fee"].as_f64().unwrap() > 0.0);
    let signed = c
        .ok("signrawtransactionwithwallet", json!([funded["hex"]]))
        .await;
    assert_eq!(signed["complete"], true, "{signed}");
    let accept = c.ok("testmempoolaccept", json!([[signed["hex"]]])).await;
    assert_eq!(accept[0]["allowed"], true, "{accept}");
    let txid2 = c.ok("sendrawtransaction", json!([signed["hex"]])).await;
    let again = c.ok("testmempoolaccept", json!([[signed["hex"]]])).await;
    assert_eq!(again[0]["reject-reason"], "txn-already-in-mempool");

    // Confirm, then reorg it out and back.
    let mined = c.ok("generatetoaddress", json!([1, addr])).await;
    let tip = mined[0].clone();
    let block = c.ok("getblock", json!([tip, 1])).await;
    assert!(block["tx"].as_array().unwrap().contains(&txid2));
    let rtx = c.ok("getrawtransaction", json!([txid2, true])).await;
    assert_eq!(rtx["confirmations"], 1);
    assert_eq!(rtx["blockhash"], tip);
    let vout = rtx["vout"].as_array().unwrap();
    assert!(vout.iter().any(|o| o["scriptPubKey"]["type"] == "nulldata"
        && o["scriptPubKey"]["hex"] == format!("6a14{}", "11".repeat(20))));
    let rtx_b = c.ok("getrawtransaction", json!([txid2, 1, tip])).await;
    assert_eq!(rtx_b["in_active_chain"], true);
    assert!(c.ok("gettxout", json!([txid2, 0])).await.is_object());

    let before = c.ok("getbestblockhash", json!([])).await;
    c.ok("invalidateblock", json!([tip])).await;
    let after = c.ok("getbestblockhash", json!([])).await;
    assert_ne!(before, after);
    assert_eq!(c.ok("getblockcount", json!([])).await, 101);
    let pool = c.ok("getrawmempool", json!([])).await;
    assert!(pool.as_array().unwrap().contains(&txid2), "{pool}");
    assert!(pool.as_array().unwrap().contains(&txid1), "{pool}");
    let hdr = c.ok("getblockheader", json!([tip])).await;
    assert_eq!(hdr["confirmations"], -1);

    c.ok("reconsiderblock", json!([tip])).await;
    assert_eq!(c.ok("getbestblockhash", json!([])).await, tip);
    let pool = c.ok("getrawmempool", json!([])).await;
    assert!(pool.as_array().unwrap().is_empty(), "{pool}");

    // Double spend of a confirmed input: Core's missing-inputs error.
    let (code, msg) = c
        .call("sendrawtransaction", json!([signed["hex"]]))
        .await
        .unwrap_err();
    assert_eq!(
        (code, msg.as_str()),
        (-27, "Transaction outputs already in utxo set")
    );
    let decoded = c.ok("decoderawtransaction", json!([signed["hex"]])).await;
    let vin0 = &decoded["vin"][0];
    let respend = c
        .ok(
            "createrawtransaction",
            json!([[{"txid": vin0["txid"], "vout": vin0["vout"]}], [{dest.as_str().unwrap(): 0.01}]]),
        )
        .await;
    let signed2 = c.ok("signrawtransactionwithwallet", json!([respend])).await;
    let (code, msg) = c
        .call("sendrawtransaction", json!([signed2["hex"]]))
        .await
        .unwrap_err();
    assert_eq!(
        (code, msg.as_str()),
        (-25, "bad-txns-inputs-missingorspent")
    );

    // Mempool double spend: two txs spending the same wallet coin.
    let utxos = c.ok("listunspent", json!([])).await;
    let u = &utxos[0];
    let value = u["amount"].as_f64().unwrap();
    let mk = |fee: f64| {
        let amount = ((value - fee) * 1e8).round() / 1e8;
        json!([[{"txid": u["txid"], "vout": u["vout"]}], [{dest.as_str().unwrap(): amount}]])
    };
    let a = c.ok("createrawtransaction", mk(0.001)).await;
    let b = c.ok("createrawtransaction", mk(0.002)).await;
    let sa = c.ok("signrawtransactionwithwallet", json!([a])).await;
    let sb = c.ok("signrawtransactionwithwallet", json!([b])).await;
    c.ok("sendrawtransaction", json!([sa["hex"]])).await;
    let (code, msg) = c
        .call("sendrawtransaction", json!([sb["hex"]]))
        .await
        .unwrap_err();
    assert_eq!((code, msg.as_str()), (-26, "txn-mempool-conflict"));

    // A bad signature: Core's mandatory-script-verify-flag-failed.
    let utxo2 = &utxos[1];
    let amount2 = ((utxo2["amount"].as_f64().unwrap() - 0.001) * 1e8).round() / 1e8;
    let c_raw = c
        .ok(
            "createrawtransaction",
            json!([[{"txid": utxo2["txid"], "vout": utxo2["vout"]}], [{dest.as_str().unwrap(): amount2}]]),
        )
        .await;
    let s = c.ok("signrawtransactionwithwallet", json!([c_raw])).await;
    let mut tx_hex = s["hex"].as_str().unwrap().to_string();
    // Flip a byte inside the DER signature (witness data near the end).
    let pos = tx_hex.len() - 8 - 70 * 2;
    let flipped = if &tx_hex[pos..pos + 2] == "00" {
        "01"
    } else {
        "00"
    };
    tx_hex.replace_range(pos..pos + 2, flipped);
    let (code, msg) = c
        .call("sendrawtransaction", json!([tx_hex]))
        .await
        .unwrap_err();
    assert_eq!(code, -26, "{msg}");
    assert!(
        msg.starts_with("mandatory-script-verify-flag-failed"),
        "{msg}"
    );

    // estimatesmartfee: the fixed dev rate.
    let fee = c.ok("estimatesmartfee", json!([6])).await;
    assert_eq!(fee["feerate"].as_f64(), Some(0.0001));

    // Restart from the datadir: chain, wallet and mempool survive.
    let tip = c.ok("getbestblockhash", json!([])).await;
    let balance = c.ok("getbalance", json!([])).await;
    let pool = c.ok("getrawmempool", json!([])).await;
    d.shutdown().await;
    let d = start(dir.path()).await;
    let c = Client::new(&d);
    assert_eq!(c.ok("getbestblockhash", json!([])).await, tip);
    assert_eq!(c.ok("getbalance", json!([])).await, balance);
    assert_eq!(c.ok("getrawmempool", json!([])).await, pool);
    let next = c.ok("getnewaddress", json!([])).await;
    assert_ne!(next, addr);
    assert_ne!(next, dest);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_auth_and_malformed_input() {
    let d = start_devnet(None).await;
    let c = Client::new(&d);

    // Unknown method: -32601, HTTP 404 in JSON-RPC 1.0, 200 in 2.0.
    let (status, body) = c
        .raw(
            json!({"method": "nosuchmethod", "params": [], "id": 1}).to_string(),
            "alys",
            "alys",
        )
        .await;
    assert_eq!(status, 404);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], -32601);
    assert_eq!(v["error"]["message"], "Method not found");
    let (status, body) = c
        .raw(
            json!({"jsonrpc": "2.0", "method": "nosuchmethod", "id": 1}).to_string(),
            "alys",
            "alys",
        )
        .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["error"]["code"], -32601);

    // Bad auth.
    let (status, _) = c
        .raw(
            json!({"method": "getblockcount"}).to_string(),
            "alys",
            "nope",
        )
        .await;
    assert_eq!(status, 401);

    // Batch.
    let (status, body) = c
        .raw(
            json!([{"method": "getblockcount", "id": 1}, {"method": "getbestblockhash", "id": 2}])
                .to_string(),
            "alys",
            "alys",
        )
        .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["result"], 0);

    // Named params.
    let v = c.call("getblockhash", json!({"height": 0})).await.unwrap();
    assert!(v.is_string());

    // Malformed input never panics: each is a JSON-RPC error and the server keeps serving.
    let huge = "f".repeat(100_000);
    let cases: Vec<(&str, Value)> = vec![
        ("getblockhash", json!(["x"])),
        ("getblockhash", json!([1e300])),
        ("getblockhash", json!([-1])),
        ("getblockhash", json!([u64::MAX])),
        ("getblockhash", json!([])),
        ("getblock", json!(["zz"])),
        ("getblock", json!([huge])),
        ("getblock", json!(["00".repeat(32), "x"])),
        ("getblockheader", json!([{}])),
        ("getrawtransaction", json!(["00".repeat(32)])),
        ("getrawtransaction", json!(["g".repeat(64)])),
        ("sendrawtransaction", json!(["nothex"])),
        ("sendrawtransaction", json!(["00"])),
        ("sendrawtransaction", json!([huge])),
        ("sendrawtransaction", json!([[1, 2]])),
        ("testmempoolaccept", json!(["00"])),
        ("testmempoolaccept", json!([[]])),
        ("decoderawtransaction", json!(["0100"])),
        ("generatetoaddress", json!([1, "notanaddress"])),
        (
            "generatetoaddress",
            json!([1e12, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"]),
        ),
        ("generatetoaddress", json!(["1", 2])),
        (
            "sendtoaddress",
            json!(["bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", 1e300]),
        ),
        (
            "sendtoaddress",
            json!(["bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", -1]),
        ),
        (
            "sendtoaddress",
            json!([
                "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
                "1.000000001"
            ]),
        ),
        (
            "sendtoaddress",
            json!(["bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", 1]),
        ),
        ("createrawtransaction", json!([[{"txid": 5}], {}])),
        (
            "createrawtransaction",
            json!([[{"txid": "00".repeat(32), "vout": -1}], {}]),
        ),
        ("createrawtransaction", json!([[], {"data": "zz"}])),
        ("createrawtransaction", json!([[], [{"a": 1, "b": 2}]])),
        (
            "createrawtransaction",
            json!([[], {"bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080": 1e20}]),
        ),
        ("createrawtransaction", json!(["x", "y"])),
        ("fundrawtransaction", json!(["zz"])),
        (
            "fundrawtransaction",
            json!(["0200000000010000000000000000000000", {"feeRate": "x"}]),
        ),
        ("signrawtransactionwithwallet", json!(["00", [{"txid": 1}]])),
        (
            "fundrawtransaction",
            json!([
                format!("02000000000100e1f50500000000160014{}00000000", "00".repeat(20)),
                {"fee_rate": 20_000_000}
            ]),
        ),
        ("invalidateblock", json!(["00".repeat(32)])),
        ("reconsiderblock", json!([7])),
        ("estimatesmartfee", json!([0])),
        ("estimatesmartfee", json!([1e10])),
        ("getnewaddress", json!(["", "legacy"])),
        ("getnewaddress", json!([5])),
        ("listunspent", json!(["a"])),
        ("listunspent", json!([0, 1, ["bad"]])),
        ("getrawmempool", json!([true, true])),
        ("getbalance", json!(["x"])),
    ];
    for (method, params) in cases {
        let r = c.call(method, params.clone()).await;
        assert!(
            r.is_err(),
            "{method} {params} unexpectedly succeeded: {r:?}"
        );
    }
    // Not JSON at all, and a non-object request.
    let (status, body) = c.raw("{not json".into(), "alys", "alys").await;
    assert_eq!(status, 500);
    assert!(body.contains("-32700"));
    let (_, body) = c.raw("[1, \"x\"]".into(), "alys", "alys").await;
    assert!(body.contains("-32600"));
    assert_eq!(c.ok("getblockcount", json!([])).await, 0);

    // stop.
    assert_eq!(c.ok("stop", json!([])).await, "Bitcoin Core stopping");
    tokio::time::timeout(Duration::from_secs(5), d.stopped())
        .await
        .expect("stopped");
    d.shutdown().await;
}

/// Child half of the kill -9 test: mines forever into `ALYS_DEVNET_CHILD_DIR`, printing each
/// acknowledged height.
#[test]
#[ignore = "run by kill9_keeps_a_consistent_prefix as a child process"]
fn kill9_child() {
    let Some(dir) = std::env::var_os("ALYS_DEVNET_CHILD_DIR") else {
        return;
    };
    let mut node = Node::open(Path::new(&dir)).unwrap();
    let key = node
        .new_address(alys_btc_devnet::wallet::AddrKind::P2wpkh, "")
        .unwrap();
    loop {
        node.generate(1, &key.script).unwrap();
        if node.chain.height() > 101 {
            let addr = key.address.script_pubkey();
            let mut tx = bitcoin::Transaction {
                version: bitcoin::transaction::Version::TWO,
                lock_time: bitcoin::absolute::LockTime::ZERO,
                input: vec![],
                output: vec![bitcoin::TxOut {
                    value: bitcoin::Amount::from_sat(100_000),
                    script_pubkey: addr,
                }],
            };
            if node.fund(&mut tx, 10_000, &[], None, true).is_ok() {
                node.sign(&mut tx, &[]);
                let _ = node.submit_tx(tx);
            }
        }
        println!("ACK {}", node.chain.height());
    }
}

#[test]
fn kill9_keeps_a_consistent_prefix() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args(["--ignored", "--exact", "kill9_child", "--nocapture"])
        .env("ALYS_DEVNET_CHILD_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = 0u32;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(h) = line.strip_prefix("ACK ") {
            acked = h.trim().parse().unwrap();
            if acked >= 130 {
                break;
            }
        }
    }
    // SIGKILL on Unix: no destructor, no flush.
    child.kill().unwrap();
    let _ = child.wait();
    assert!(acked >= 130, "child did not mine");
    let node = Node::open(dir.path()).unwrap();
    assert!(node.chain.height() >= acked, "lost acknowledged blocks");
    drop(node);
    // A torn record at the end (crash mid-write) is dropped on open.
    let log = dir.path().join("events.log");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&[1, 200, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(f);
    let node = Node::open(dir.path()).unwrap();
    assert!(node.chain.height() >= acked);
    // The reopened chain is internally consistent: every mempool tx is still valid.
    for e in node.chain.mempool() {
        assert!(e.fee > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mining_and_in_process_calls() {
    let mut cfg = DevnetConfig::local(0);
    cfg.block_interval = Some(Duration::from_millis(100));
    let d = BtcDevnet::start(cfg).await.unwrap();
    let height = wait_until_async(Duration::from_secs(10), "two auto-mined blocks", || async {
        Some(d.call("getblockcount", json!([])).unwrap()).filter(|h| h.as_u64() >= Some(2))
    })
    .await;
    assert!(height.as_u64().unwrap() >= 2, "{height}");
    let fee = d.call("estimatesmartfee", json!([2])).unwrap();
    assert_eq!(fee["feerate"].as_f64(), Some(0.0001));
    let err = d.call("nosuch", json!([])).unwrap_err();
    assert_eq!(err.code, -32601);
    d.shutdown().await;
}
