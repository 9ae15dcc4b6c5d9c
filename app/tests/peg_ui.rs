//! The peg web page of `alys dev`, end to end.
//!
//! * Over HTTP: the peg read methods (peg-out's list and summary included) answer without
//!   credentials, every other method still needs them, CORS headers go to the page's origin
//!   only (node RPC and eth RPC), and a flood without credentials is answered 429 with a
//!   JSON-RPC error.
//! * In a real browser: Debian's Chromium, headless, driven by playwright-core
//!   (`tests/e2e/peg-ui.mjs`) with a wallet announced over EIP-6963 as MetaMask does. The
//!   script asks this test to act on the chain: python-bitcoinlib sends the deposit to the
//!   address the page shows, blocks are mined, `cast balance` reads the credited account, the
//!   peg-out's payout is read from the devnet, the node is stopped. Screenshots of every step
//!   go to `<target>/tmp/peg-ui-screenshots/` (the path is printed).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{build_deposits, require_all, with_auth, DevProcess, Tool};
use serde_json::{json, Value};

fn start(dir: &Path) -> DevProcess {
    common::start_dev(&dir.join("node"), &["--btc-block-secs", "0"])
}

/// The page's origin (`http://127.0.0.1:<port>`) from its URL.
fn origin(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

fn post(url: &str, origin: Option<&str>, auth: bool, method: &str, params: Value) -> Reply {
    let client = reqwest::blocking::Client::new();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string());
    if let Some(o) = origin {
        request = request.header("origin", o);
    }
    if auth {
        request = request.basic_auth("alys", Some("alys"));
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_str(&response.text().unwrap()).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

fn allow_origin(reply: &Reply) -> Option<&str> {
    reply
        .headers
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap())
}

#[test]
fn peg_read_methods_are_public_and_everything_else_needs_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start(dir.path());
    let ui = dev.ui.clone().expect("alys dev printed its peg web page");
    let page_origin = origin(&ui);
    let rpc = dev.node_rpc.clone();

    // Without credentials: the read methods answer.
    let address = post(&rpc, None, false, "getdepositaddress", json!([]));
    assert_eq!(address.status, 200);
    assert_eq!(
        address.body["result"],
        dev.node("getdepositaddress", json!([])).unwrap()
    );
    let fed = post(&rpc, None, false, "getfederation", json!([]));
    assert_eq!(
        fed.body["result"]["requiredConfirmations"], 2,
        "{}",
        fed.body
    );
    let spec = post(&rpc, None, false, "getchainspec", json!([]));
    assert_eq!(spec.body["result"]["spec"]["chainId"], 263634);
    let unknown = post(
        &rpc,
        None,
        false,
        "getpeginstatus",
        json!(["00".repeat(32)]),
    );
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.body["error"]["code"], -5, "{}", unknown.body);
    // Public too: a request the chain does not know is "not found".
    let pegout = post(
        &rpc,
        None,
        false,
        "getpegoutstatus",
        json!([format!("0x{}", "00".repeat(32))]),
    );
    assert_eq!(pegout.status, 200);
    assert_eq!(pegout.body["error"]["code"], -5, "{}", pegout.body);
    let listed = post(
        &rpc,
        None,
        false,
        "listpegouts",
        json!([{"sender": format!("0x{}", "11".repeat(20))}]),
    );
    assert_eq!(listed.body["result"], json!([]), "{}", listed.body);
    let summary = post(&rpc, None, false, "getpegoutsummary", json!([]));
    let summary = &summary.body["result"];
    assert_eq!(summary["minPegOutSats"], 10_000, "{summary}");
    let fee = &summary["singleRequestFee"];
    assert_eq!(fee["outputScriptBytes"], 34, "{summary}");
    assert_eq!(
        fee["sats"].as_u64().unwrap(),
        fee["vsize"].as_u64().unwrap() * summary["feeRate"].as_u64().unwrap(),
        "{summary}"
    );

    // Every other method is refused without credentials, and served with them.
    for (method, params) in [
        ("getsyncstatus", json!([])),
        ("getheadblock", json!([])),
        (
            "createauxblock",
            json!(["0x0000000000000000000000000000000000000001"]),
        ),
        ("submitauxblock", json!(["00", "00"])),
        ("help", json!([])),
        ("nosuchmethod", json!([])),
    ] {
        let refused = post(&rpc, None, false, method, params.clone());
        assert_eq!(refused.status, 401, "{method} without credentials");
        assert!(
            refused.body.get("result").is_none(),
            "{method}: {}",
            refused.body
        );
        // A browser page, even the peg page holding the credentials, never reaches them.
        let from_page = post(&rpc, Some(&page_origin), true, method, params);
        assert_eq!(from_page.status, 401, "{method} from the page");
    }
    assert!(dev.node("getsyncstatus", json!([])).is_ok());

    // CORS: the page's origin only, on the node RPC and on the eth RPC.
    let from_page = post(
        &rpc,
        Some(&page_origin),
        false,
        "getdepositaddress",
        json!([]),
    );
    assert_eq!(from_page.status, 200);
    assert_eq!(allow_origin(&from_page), Some(page_origin.as_str()));
    let localhost = page_origin.replace("127.0.0.1", "localhost");
    let by_name = post(
        &rpc,
        Some(&localhost),
        false,
        "getdepositaddress",
        json!([]),
    );
    assert_eq!(allow_origin(&by_name), Some(localhost.as_str()));
    let elsewhere = post(
        &rpc,
        Some("http://evil.test"),
        false,
        "getdepositaddress",
        json!([]),
    );
    assert_eq!(elsewhere.status, 403);
    assert_eq!(allow_origin(&elsewhere), None);
    let client = reqwest::blocking::Client::new();
    for url in [&rpc, &dev.eth_rpc] {
        let preflight = client
            .request(reqwest::Method::OPTIONS, url.as_str())
            .header("origin", &page_origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "{url}: {}",
            preflight.status()
        );
        let allowed = preflight.headers()["access-control-allow-origin"]
            .to_str()
            .unwrap();
        assert!(allowed == page_origin || allowed == "*", "{url}: {allowed}");
    }
    let preflight = client
        .request(reqwest::Method::OPTIONS, rpc.as_str())
        .header("origin", "http://evil.test")
        .header("access-control-request-method", "POST")
        .send()
        .unwrap();
    assert_eq!(preflight.status(), 403);
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // A flood without credentials: 429 with a JSON-RPC error; the credentials still work.
    let mut limited = None;
    for _ in 0..300 {
        let reply = post(
            &rpc,
            Some(&page_origin),
            false,
            "getdepositaddress",
            json!([]),
        );
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
        assert_eq!(reply.status, 200);
    }
    let limited = limited.expect("a flood of 300 requests is rate limited");
    assert_eq!(limited.body["error"]["code"], -32005, "{}", limited.body);
    assert_eq!(allow_origin(&limited), Some(page_origin.as_str()));
    assert!(dev.node("getsyncstatus", json!([])).is_ok());
    assert!(dev.node("getdepositaddress", json!([])).is_ok());
}

/// Starts `alys node` (a full node with the embedded execution client, no Bitcoin: the peg is
/// off) on ports 0 with `extra` arguments; the process, its node RPC URL and page URL.
fn start_node(dir: &Path, extra: &[&str]) -> (common::LoggedProcess, String, Option<String>) {
    std::fs::create_dir_all(dir).unwrap();
    let datadir = dir.join("data");
    let chain = Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/chain-dev.json");
    let mut args = vec![
        "node".to_string(),
        "--chain".into(),
        chain.to_string_lossy().into_owned(),
        "--datadir".into(),
        datadir.to_string_lossy().into_owned(),
        "--embedded-el".into(),
    ];
    for a in [
        "--metrics-port",
        "0",
        "--http-port",
        "0",
        "--authrpc-port",
        "0",
        "--rpc-port",
        "0",
        "--rpc-password",
        "alys",
        "--p2p-port",
        "0",
        // A full node of a peg chain without a Bitcoin node of its own.
        "--pegin-trust-approvals",
    ]
    .iter()
    .chain(extra)
    {
        args.push(a.to_string());
    }
    let mut process =
        common::LoggedProcess::spawn("alys node", common::alys(), args, &dir.join("node.log"));
    let rpc = process.wait_for_url("node JSON-RPC", Duration::from_secs(60));
    let eth = process.wait_for_url("eth JSON-RPC", Duration::from_secs(60));
    assert!(eth.starts_with("http://"));
    let ui = process.printed_url("peg web page");
    (process, rpc, ui)
}

#[test]
fn alys_node_serves_the_page_and_public_reads_only_with_ui_port() {
    let dir = tempfile::tempdir().unwrap();
    // Off by default: every method needs the credentials.
    let (mut off, rpc, ui) = start_node(&dir.path().join("off"), &[]);
    assert_eq!(ui, None, "no page without --ui-port");
    assert_eq!(
        post(&rpc, None, false, "getchainspec", json!([])).status,
        401
    );
    assert_eq!(
        post(&rpc, None, true, "getchainspec", json!([])).status,
        200
    );
    off.interrupt(Duration::from_secs(15));

    // With --ui-port: the page, and the read methods without credentials. This node follows
    // no Bitcoin, so its peg methods do not exist: "method not found", which the page reports
    // as "this node does not run the peg", never 401.
    let (mut on, rpc, ui) = start_node(&dir.path().join("on"), &["--ui-port", "0"]);
    let ui = ui.expect("alys node --ui-port prints its page");
    let page = reqwest::blocking::get(&ui).unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("Alys peg"));
    let config: Value = reqwest::blocking::get(format!("{ui}config.json"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["nodeRpcUrl"], json!(rpc.trim_end_matches('/')));
    assert!(config["ethRpcUrl"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let spec = post(&rpc, Some(&origin(&ui)), false, "getchainspec", json!([]));
    assert_eq!(spec.body["result"]["spec"]["chainId"], 263634);
    assert_eq!(allow_origin(&spec), Some(origin(&ui).as_str()));
    let fed = post(&rpc, None, false, "getfederation", json!([]));
    assert_eq!(fed.body["error"]["code"], -32601, "{}", fed.body);
    assert_eq!(
        post(&rpc, None, false, "getsyncstatus", json!([])).status,
        401
    );
    on.interrupt(Duration::from_secs(15));
}

/// Where the screenshots go: `<target>/tmp/peg-ui-screenshots`, emptied first.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("peg-ui-screenshots");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hex20(address: &str) -> [u8; 20] {
    hex::decode(address.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap()
}

/// What the script asked for, done on the chain; the JSON answer.
fn answer(dev: &mut DevProcess, request: &Value, expected: &mut Option<(String, u128)>) -> Value {
    match request["ask"].as_str().unwrap_or("") {
        "deposit" => {
            // To the address the page shows, which must be the node's.
            let address = request["address"].as_str().unwrap();
            assert_eq!(
                dev.node("getdepositaddress", json!([])).unwrap(),
                json!(address)
            );
            let spk = dev.btc("validateaddress", json!([address])).unwrap()["scriptPubKey"]
                .as_str()
                .unwrap()
                .to_string();
            let recipient = request["recipient"].as_str().unwrap();
            let data = hex::encode(hex20(recipient));
            let sats = request["sats"].as_u64().unwrap();
            let small = request["small"].as_u64().unwrap();
            let plan = json!([
                {"fed": [sats], "op_return": data},
                {"fed": [small], "op_return": data},
            ]);
            let btc = with_auth(dev.bitcoin_rpc.as_deref().unwrap(), "alys", "alys");
            let (_, txs) = build_deposits(&btc, &spk, &plan)
                .unwrap_or_else(|e| panic!("{e}\n{}", dev.log_tail()));
            *expected = Some((recipient.to_string(), u128::from(sats) * 10u128.pow(10)));
            json!({"txid": txs[0].txid, "smallTxid": txs[1].txid})
        }
        "mine" => {
            let n = request["blocks"].as_u64().unwrap();
            let to = dev.btc("getnewaddress", json!([])).unwrap();
            dev.btc("generatetoaddress", json!([n, to])).unwrap();
            json!({})
        }
        "balance" => {
            let address = request["address"].as_str().unwrap();
            let addr = hex20(address);
            // The page saw "minted"; the EL serves the block that minted it.
            let want = expected
                .as_ref()
                .filter(|(r, _)| r.eq_ignore_ascii_case(address))
                .map(|(_, wei)| *wei);
            let wei = common::wait_until(
                Duration::from_secs(20),
                "the credited balance",
                || {
                    let b = dev.balance(&addr);
                    (Some(b) == want || want.is_none()).then_some(b)
                },
                || format!("balance {} wei, expected {want:?}", dev.balance(&addr)),
            );
            json!({"wei": wei.to_string()})
        }
        "payout" => {
            // What the payout pays the address the page was given, read from the devnet.
            let txid = request["txid"].as_str().unwrap();
            let address = request["address"].as_str().unwrap();
            let sats = request["sats"].as_u64().unwrap();
            let btc =
                common::JsonRpc::new(dev.bitcoin_rpc.as_deref().unwrap(), Some(("alys", "alys")));
            let (_, paid) = common::payout_output(&btc, txid, address);
            assert!(paid < sats, "{txid} pays {paid} of {sats} sats");
            json!({"paidSats": paid, "feeShareSats": sats - paid})
        }
        "stop-node" => {
            dev.process.interrupt(Duration::from_secs(15));
            json!({})
        }
        other => json!({"error": format!("unknown request {other:?}")}),
    }
}

#[test]
fn peg_web_page_in_headless_chromium() {
    let Some(tools) = require_all(&[
        Tool::NodeJs,
        Tool::PlaywrightCore,
        Tool::Chromium,
        Tool::PythonBitcoinlib,
        Tool::Cast,
    ]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start(dir.path());
    let ui = dev.ui.clone().expect("alys dev printed its peg web page");
    let out = screenshot_dir();
    println!("peg web page {ui}; screenshots in {}", out.display());
    let e2e = alys_test_utils::tools::e2e_dir();
    let mut script = Command::new(&tools[0])
        .arg(e2e.join("peg-ui.mjs"))
        .current_dir(&e2e)
        .env("UI_URL", &ui)
        .env("NODE_RPC_URL", &dev.node_rpc)
        .env("ETH_RPC_URL", &dev.eth_rpc)
        .env("CHAIN_ID", "263634")
        .env("OUT_DIR", &out)
        .env("CHROMIUM", &tools[2])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = script.stdin.take().unwrap();
    let stdout = BufReader::new(script.stdout.take().unwrap());
    let mut expected = None;
    let mut passed = false;
    for line in stdout.lines() {
        let line = line.unwrap();
        println!("  {line}");
        passed |= line == "peg-ui: all checks passed";
        if let Some(request) = line.strip_prefix("@@ ") {
            let request: Value = serde_json::from_str(request).unwrap();
            let reply = answer(&mut dev, &request, &mut expected);
            writeln!(stdin, "{reply}").unwrap();
            stdin.flush().unwrap();
        }
    }
    let status = script.wait().unwrap();
    assert!(
        status.success() && passed,
        "the browser test failed ({status}); screenshots in {}; node log:\n{}",
        out.display(),
        dev.log_tail()
    );
    println!("screenshots of each step: {}", out.display());
}
