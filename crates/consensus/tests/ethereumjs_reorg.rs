//! A sidechain reorg followed by an execution client nobody here wrote: one consensus chain
//! drives EthereumJS (npm `@ethereumjs/client`) over the Engine API with JWT, imports two
//! competing branches and switches to the longer one; EthereumJS's canonical chain follows
//! (`forkchoiceUpdated` to the other branch), as read on its eth JSON-RPC.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_consensus::NoPegIns;
use alys_engine::{EngineClientConfig, HttpEngineClient};
use alys_test_utils::ethereumjs::EthereumJsProcess;
use common::*;
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ethereumjs_follows_a_sidechain_reorg() {
    let spec = spec();
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, serde_json::to_string(&spec.genesis).unwrap()).unwrap();
    let el = tokio::task::block_in_place(|| {
        EthereumJsProcess::start(
            &genesis,
            &dir.path().join("ethereumjs"),
            &dir.path().join("jwt.hex"),
        )
    });
    let Some(el) = el else { return };
    let engine =
        HttpEngineClient::from_jwt_file(&el.engine_url, el.jwt(), EngineClientConfig::default())
            .unwrap()
            .with_execution_rpc_url(&el.eth_rpc)
            .unwrap();
    let time = manual_time();
    let mut chain = open_chain(dir.path(), spec.clone(), &time, engine, Arc::new(NoPegIns)).await;
    let genesis_root = chain.head().root;
    let a = chain.clock().current_slot() + 1;
    let el_hash = |n: u64| {
        tokio::task::block_in_place(|| el.block(&format!("{n:#x}"))).unwrap()["hash"].clone()
    };

    // X at slot a and Y at slot a+1, both on genesis: same height, X (lower slot) is the head.
    let x = sign_block(&chain, produce(&chain, &time, a).await.block);
    chain.import_block(&x).await.unwrap();
    time.set_ms(chain.clock().slot_start_ms(a + 1));
    let y = chain
        .produce_block_on(genesis_root, a + 1, &proposer_signer(&spec, a + 1))
        .await
        .unwrap();
    let y = sign_block(&chain, y.block);
    chain.import_block(&y).await.unwrap();
    assert_eq!(chain.head().root, x.root());
    assert_eq!(el_hash(1), json!(x.message.execution_payload.block_hash));

    // Z on Y: the longer branch wins; EthereumJS reorgs to it.
    time.set_ms(chain.clock().slot_start_ms(a + 2));
    let z = chain
        .produce_block_on(y.root(), a + 2, &proposer_signer(&spec, a + 2))
        .await
        .unwrap();
    let z = sign_block(&chain, z.block);
    chain.import_block(&z).await.unwrap();
    assert_eq!(chain.head().root, z.root());
    assert_eq!(el_hash(1), json!(y.message.execution_payload.block_hash));
    assert_eq!(el_hash(2), json!(z.message.execution_payload.block_hash));

    // And it builds on the new head.
    let w = extend(&mut chain, &time, a + 3).await;
    assert_eq!(w.message.parent_root, z.root());
    assert_eq!(el_hash(3), json!(w.message.execution_payload.block_hash));
}
