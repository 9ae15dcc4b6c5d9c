//! The embedded regtest Bitcoin as the federation tests use it: a Core RPC client, addresses,
//! mining, the mempool, and federation UTXOs funded by the devnet's wallet.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use alys_bitcoin::{BitcoinRpc, ClientConfig, CoreRpcClient};
use alys_btc_devnet::BtcDevnet;
use alys_federation::bitcoin::address::NetworkUnchecked;
use alys_federation::bitcoin::{Address, Network, OutPoint, Txid};
use alys_federation::signing::Utxo;
use alys_federation::Federation;
use alys_primitives::Sats;
use alys_test_utils::devnet::core_client;
use serde_json::json;

/// A Core RPC client for `dev` (10 s timeout, one retry).
pub(crate) fn client(dev: &BtcDevnet) -> CoreRpcClient {
    core_client(
        dev,
        ClientConfig {
            timeout: Duration::from_secs(10),
            max_retries: 1,
            ..ClientConfig::default()
        },
    )
}

/// A new address of the devnet's wallet.
pub(crate) async fn new_address(c: &CoreRpcClient) -> Address {
    let a = c.call("getnewaddress", vec![]).await.unwrap();
    a.as_str()
        .unwrap()
        .parse::<Address<NetworkUnchecked>>()
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap()
}

/// Mines `n` blocks to the devnet's wallet.
pub(crate) async fn mine(c: &CoreRpcClient, n: u64) {
    let to = new_address(c).await.to_string();
    c.call("generatetoaddress", vec![json!(n), json!(to)])
        .await
        .unwrap();
}

/// The txids in the devnet's mempool.
pub(crate) async fn mempool(c: &CoreRpcClient) -> Vec<String> {
    serde_json::from_value(c.call("getrawmempool", vec![]).await.unwrap()).unwrap()
}

/// A federation of `n` test signers with threshold `m` on regtest.
pub(crate) fn federation(n: u8, m: u32) -> Arc<Federation> {
    Arc::new(Federation::new(Network::Regtest, super::keys(n), m, None, 1_000).unwrap())
}

/// Funds the federation with `sats` on the devnet (confirmed): the UTXO.
pub(crate) async fn fund(c: &CoreRpcClient, fed: &Federation, sats: u64) -> Utxo {
    let btc = sats as f64 / 1e8;
    let txid: Txid = c
        .call(
            "sendtoaddress",
            vec![json!(fed.address().to_string()), json!(btc)],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    mine(c, 1).await;
    let tx = BitcoinRpc::get_raw_transaction(c, &txid, None)
        .await
        .unwrap();
    let vout = tx
        .output
        .iter()
        .position(|o| o.script_pubkey == *fed.script_pubkey())
        .unwrap();
    Utxo {
        outpoint: OutPoint {
            txid,
            vout: vout as u32,
        },
        value: Sats(tx.output[vout].value.to_sat()),
    }
}
