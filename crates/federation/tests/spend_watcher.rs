//! The federation spend watcher (`alys_federation::pegout::SpendWatcher`) against the embedded
//! regtest Bitcoin over Bitcoin Core's JSON-RPC: a transaction the peg never proposed, signed
//! by a threshold of federation keys, spends a federation output on Bitcoin. The watcher sees
//! it with its block and confirmations, tells it from other spenders and outputs, forgets it
//! when its block leaves the best chain, and a watcher that started after it looks up a
//! declared spend by its block.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use alys_bitcoin::BitcoinRpc;
use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::{BlockHash, OutPoint, Txid};
use alys_federation::pegout::{SpendVerdict, SpendView, SpendWatcher};
use alys_federation::{assemble, build_payout};
use alys_primitives::{FederationSpend, B256};
use alys_test_utils::devnet::start_devnet;
use common::devnet::{client, federation, fund, mine, new_address};
use common::payout::{request, sign_all};
use serde_json::json;

fn declared(outpoint: OutPoint, spender: Txid, block: BlockHash) -> FederationSpend {
    FederationSpend {
        txid: B256::from(outpoint.txid.to_byte_array()),
        vout: outpoint.vout,
        spender: B256::from(spender.to_byte_array()),
        block_hash: B256::from(block.to_byte_array()),
    }
}

/// Rounds until the watcher has scanned up to the tip (16 blocks a round at most).
async fn catch_up(w: &SpendWatcher) {
    for _ in 0..12 {
        w.round().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federation_spends_outside_the_peg_are_seen_followed_through_reorgs_and_looked_up() {
    let dev = start_devnet(None).await;
    let c = client(&dev);
    mine(&c, 101).await;
    let fed = federation(3, 2);
    let spent = fund(&c, &fed, 200_000).await;
    let untouched = fund(&c, &fed, 100_000).await;

    // Members 0 and 2 sign a transaction the peg never proposed.
    let mut req = request(1, 150_000);
    req.address = new_address(&c).await;
    let p = build_payout(&fed, std::slice::from_ref(&spent), &[req], 2).unwrap();
    let signed = assemble(&fed, &p.tx, &sign_all(&fed, &p, &[0, 2])).unwrap();
    let spender = BitcoinRpc::send_raw_transaction(&c, &signed).await.unwrap();
    mine(&c, 1).await;
    let block = BitcoinRpc::get_best_block_hash(&c).await.unwrap();

    let watcher = SpendWatcher::new(fed.clone(), Arc::new(client(&dev)));
    catch_up(&watcher).await;
    let seen = watcher.confirmed(1);
    assert_eq!(seen.len(), 1, "only the federation spend: {seen:?}");
    assert_eq!(seen[0].0, spent.outpoint);
    assert_eq!((seen[0].1.spender, seen[0].1.block), (spender, block));
    let spend = declared(spent.outpoint, spender, block);
    assert_eq!(
        watcher.verdict(&spend),
        SpendVerdict::Seen { confirmations: 1 }
    );
    mine(&c, 5).await;
    watcher.round().await.unwrap();
    assert_eq!(
        watcher.verdict(&spend),
        SpendVerdict::Seen { confirmations: 6 }
    );
    assert_eq!(watcher.confirmed(6).len(), 1);
    assert!(watcher.confirmed(7).is_empty());
    // Another spender of the same output; an output nobody spent.
    let other = declared(spent.outpoint, Txid::all_zeros(), block);
    assert_eq!(watcher.verdict(&other), SpendVerdict::Mismatch);
    let never = declared(untouched.outpoint, spender, block);
    assert_eq!(watcher.verdict(&never), SpendVerdict::Unknown);

    // A watcher started after the spend does not scan back to it, but looks up a declared one
    // by its block and spender, and knows it from the next round on.
    let late = SpendWatcher::new(fed.clone(), Arc::new(client(&dev))).with_start_lookback(0);
    late.round().await.unwrap();
    assert_eq!(late.verdict(&spend), SpendVerdict::Unknown);
    late.round().await.unwrap();
    assert_eq!(
        late.verdict(&spend),
        SpendVerdict::Seen { confirmations: 6 }
    );
    // A declared spend whose block does not hold it is never taken for seen.
    let wrong_block = declared(
        untouched.outpoint,
        spender,
        BitcoinRpc::get_block_hash(&c, 50).await.unwrap(),
    );
    assert_eq!(late.verdict(&wrong_block), SpendVerdict::Unknown);
    late.round().await.unwrap();
    assert_eq!(late.verdict(&wrong_block), SpendVerdict::Unknown);

    // The spend's block leaves the best chain: the declaration naming it is no longer seen.
    c.call("invalidateblock", vec![json!(block.to_string())])
        .await
        .unwrap();
    mine(&c, 8).await;
    catch_up(&watcher).await;
    assert_eq!(
        watcher.verdict(&spend),
        SpendVerdict::Unknown,
        "a spend in a block off the best chain"
    );
    assert!(watcher.confirmed(1).iter().all(|(_, s)| s.block != block));
    dev.shutdown().await;
}
