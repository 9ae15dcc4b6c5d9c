//! The miner methods over HTTP, against a pool-style client written here from Namecoin's
//! published merged-mining algorithm (not from this project's builder): `fabe6d6d ‖ hash ‖
//! size 1 ‖ nonce 0` in the coinbase scriptSig of a one-transaction parent block whose header
//! is ground against `_target`. The consensus service is stood in for by its channels: the
//! status it publishes and the inputs it receives.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::sync::Arc;

use alloy_primitives::{Address, B256};
use alys_consensus::{ChainStatus, Input, PowStatus};
use alys_primitives::ChainSpec;
use alys_rpc::{Credentials, Methods, MinerView, RpcServer};
use bitcoin::hashes::{sha256d, Hash};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

struct Node {
    server: RpcServer,
    url: String,
    inputs: mpsc::Receiver<Input>,
    status: watch::Sender<ChainStatus>,
}

fn status(head: u8, height: u64, finalized: u64) -> ChainStatus {
    ChainStatus {
        head_root: B256::repeat_byte(head),
        head_height: height,
        finalized_height: finalized,
        pow: PowStatus {
            enabled: true,
            finalized_height: finalized,
            range_start: finalized + 1,
            bits: 0x207f_ffff,
            max_blocks_without_pow: 3600,
            ..PowStatus::default()
        },
        ..ChainStatus::default()
    }
}

async fn start(spec: ChainSpec) -> Node {
    let (status_tx, status_rx) = watch::channel(status(0xaa, 5, 0));
    let (in_tx, in_rx) = mpsc::channel(16);
    let mut methods = Methods::new();
    alys_rpc::register_miner_methods(
        &mut methods,
        MinerView {
            status: status_rx,
            spec: Arc::new(spec),
            inputs: in_tx,
            default_payout: Some(Address::repeat_byte(0xd0)),
        },
    );
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = RpcServer::start(
        addr,
        methods,
        Credentials {
            user: "alys".into(),
            password: "alys".into(),
        },
    )
    .await
    .unwrap();
    let url = format!("http://{}", server.local_addr());
    Node {
        server,
        url,
        inputs: in_rx,
        status: status_tx,
    }
}

/// JSON-RPC 1.0 call; returns the whole response object.
async fn rpc(url: &str, method: &str, params: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .basic_auth("alys", Some("alys"))
        .json(&json!({"jsonrpc": "1.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn varint(n: usize, out: &mut Vec<u8>) {
    assert!(n < 0xfd);
    out.push(n as u8);
}

/// Namecoin's algorithm, by hand: returns the AuxPoW hex for `hash_hex` meeting `target_le_hex`.
fn pool_mine(hash_hex: &str, target_le_hex: &str, chain_id_of_parent: u32) -> String {
    // Merged-mining header: magic, the aux hash bytes as the RPC prints them, size 1, nonce 0.
    let mut mm = vec![0xfa, 0xbe, 0x6d, 0x6d];
    mm.extend(hex::decode(hash_hex).unwrap());
    mm.extend(1u32.to_le_bytes());
    mm.extend(0u32.to_le_bytes());
    let mut script_sig = vec![mm.len() as u8];
    script_sig.extend(&mm);
    script_sig.extend([4, 0xde, 0xad, 0xbe, 0xef]); // extranonce push
                                                    // Coinbase: version 1, one null-prevout input, one output, locktime 0.
    let mut tx = Vec::new();
    tx.extend(1u32.to_le_bytes());
    varint(1, &mut tx);
    tx.extend([0u8; 32]);
    tx.extend(u32::MAX.to_le_bytes());
    varint(script_sig.len(), &mut tx);
    tx.extend(&script_sig);
    tx.extend(u32::MAX.to_le_bytes());
    varint(1, &mut tx);
    tx.extend(50_0000_0000u64.to_le_bytes());
    varint(1, &mut tx);
    tx.push(0x51); // OP_TRUE
    tx.extend(0u32.to_le_bytes());
    let txid = sha256d::Hash::hash(&tx).to_byte_array();
    // One-transaction block: merkle root = txid. Grind the nonce.
    let mut target = hex::decode(target_le_hex).unwrap();
    target.reverse(); // big-endian for comparison
    let mut header = Vec::new();
    header.extend((chain_id_of_parent << 16).to_le_bytes()); // version: parent chain id << 16
    header.extend([0u8; 32]);
    header.extend(txid);
    header.extend(1_700_000_000u32.to_le_bytes());
    header.extend(0x207f_ffffu32.to_le_bytes());
    header.extend(0u32.to_le_bytes());
    let hash = loop {
        let mut h = sha256d::Hash::hash(&header).to_byte_array();
        h.reverse();
        if h.as_slice() <= target.as_slice() {
            h.reverse();
            break h;
        }
        let n = u32::from_le_bytes(header[76..80].try_into().unwrap()) + 1;
        header[76..80].copy_from_slice(&n.to_le_bytes());
    };
    // AuxPoW: coinbase tx, parent hash, coinbase branch (empty, index 0), chain branch (empty,
    // index 0), parent header.
    let mut aux = tx;
    aux.extend(hash);
    varint(0, &mut aux);
    aux.extend(0i32.to_le_bytes());
    varint(0, &mut aux);
    aux.extend(0i32.to_le_bytes());
    aux.extend(header);
    hex::encode(aux)
}

fn error_of(v: &Value) -> (i64, String) {
    let e = &v["error"];
    assert!(e.is_object(), "expected an error, got {v}");
    (
        e["code"].as_i64().unwrap(),
        e["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn pool_client_mines_via_createauxblock_and_getauxblock() {
    let spec = ChainSpec::dev(1).unwrap();
    let mut node = start(spec).await;

    let help = rpc(&node.url, "help", json!([])).await;
    let text = help["result"].as_str().unwrap();
    for m in ["createauxblock", "submitauxblock", "getauxblock"] {
        assert!(text.contains(m), "help lists {m}");
    }

    // createauxblock / submitauxblock.
    let payout = "0x6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d";
    let work = rpc(&node.url, "createauxblock", json!([payout])).await["result"].clone();
    let keys: Vec<&String> = work.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7, "{work}");
    assert_eq!(work["chainid"], 0x414c);
    assert_eq!(work["bits"], "207fffff");
    assert_eq!(work["height"], 6);
    assert_eq!(work["previousblockhash"], "aa".repeat(32));
    assert!(work["coinbasevalue"].is_u64());
    assert_eq!(work["_target"], format!("{}ffff7f", "0".repeat(58)));
    let hash = work["hash"].as_str().unwrap();
    let aux = pool_mine(hash, work["_target"].as_str().unwrap(), 0x2000);
    let r = rpc(&node.url, "submitauxblock", json!([hash, aux])).await;
    assert_eq!(r["result"], true, "{r}");
    match node.inputs.try_recv() {
        Ok(Input::AuxPow(h)) => {
            assert_eq!(h.range_start, 1);
            assert_eq!(h.range_end, B256::repeat_byte(0xaa));
            assert_eq!(h.payout, payout.parse::<Address>().unwrap());
            assert_eq!(h.bits, 0x207f_ffff);
        }
        other => panic!("no proof handed to consensus: {other:?}"),
    }
    // The same work again: stale (consumed).
    let (code, msg) = error_of(&rpc(&node.url, "submitauxblock", json!([hash, aux])).await);
    assert_eq!(code, -8);
    assert!(msg.contains("stale"), "{msg}");

    // getauxblock: 0 args = work for the default payout address, 2 args = submit (JSON-RPC 2.0).
    let work = rpc(&node.url, "getauxblock", json!([])).await["result"].clone();
    let hash = work["hash"].as_str().unwrap().to_string();
    let aux = pool_mine(&hash, work["_target"].as_str().unwrap(), 0x2000);
    let r: Value = reqwest::Client::new()
        .post(&node.url)
        .basic_auth("alys", Some("alys"))
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "getauxblock", "params": [hash, aux]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["result"], true, "{r}");
    assert_eq!(r["jsonrpc"], "2.0");
    match node.inputs.try_recv() {
        Ok(Input::AuxPow(h)) => assert_eq!(h.payout, Address::repeat_byte(0xd0)),
        other => panic!("{other:?}"),
    }
    node.server.stop();
}

#[tokio::test]
async fn bad_submissions_get_errors_with_reasons() {
    let spec = ChainSpec::dev(1).unwrap();
    let node = start(spec).await;
    let payout = "0x6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d";

    // Invalid address.
    let (code, _) = error_of(&rpc(&node.url, "createauxblock", json!(["nope"])).await);
    assert_eq!(code, -5);

    let work = rpc(&node.url, "createauxblock", json!([payout])).await["result"].clone();
    let hash = work["hash"].as_str().unwrap().to_string();
    let target = work["_target"].as_str().unwrap().to_string();

    // Unknown hash.
    let aux = pool_mine(&hash, &target, 0x2000);
    let (code, msg) =
        error_of(&rpc(&node.url, "submitauxblock", json!(["11".repeat(32), aux])).await);
    assert_eq!(code, -8);
    assert!(msg.contains("unknown"), "{msg}");
    // Malformed hash and hex.
    let (code, _) = error_of(&rpc(&node.url, "submitauxblock", json!(["zz", aux])).await);
    assert_eq!(code, -8);
    let (code, msg) = error_of(&rpc(&node.url, "submitauxblock", json!([hash, "xyz"])).await);
    assert_eq!(code, -22, "{msg}");
    // Truncated and trailing bytes.
    let (code, msg) = error_of(
        &rpc(
            &node.url,
            "submitauxblock",
            json!([hash, &aux[..aux.len() - 2]]),
        )
        .await,
    );
    assert_eq!(code, -22);
    assert!(msg.contains("truncated"), "{msg}");
    let (code, msg) = error_of(
        &rpc(
            &node.url,
            "submitauxblock",
            json!([hash, format!("{aux}00")]),
        )
        .await,
    );
    assert_eq!(code, -22);
    assert!(msg.contains("trailing"), "{msg}");
    // Parent with our chain id.
    let ours = pool_mine(&hash, &target, 0x414c);
    let (code, msg) = error_of(&rpc(&node.url, "submitauxblock", json!([hash, ours])).await);
    assert_eq!(code, -25);
    assert!(msg.contains("our chain id"), "{msg}");
    // Proof for other work (commits to another hash): commitment missing.
    let other = rpc(
        &node.url,
        "createauxblock",
        json!(["0x1111111111111111111111111111111111111111"]),
    )
    .await["result"]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, msg) = error_of(&rpc(&node.url, "submitauxblock", json!([other, aux])).await);
    assert_eq!(code, -25);
    assert!(msg.contains("missing"), "{msg}");
    // Wrong parameter count for getauxblock.
    let (code, _) = error_of(&rpc(&node.url, "getauxblock", json!([hash])).await);
    assert_eq!(code, -1);

    // The head moves past the job's range (finalized): stale.
    node.status.send_replace(status(0xbb, 9, 5));
    let (code, msg) = error_of(&rpc(&node.url, "submitauxblock", json!([hash, aux])).await);
    assert_eq!(code, -8);
    assert!(msg.contains("stale"), "{msg}");
    node.server.stop();
}
