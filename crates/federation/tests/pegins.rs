//! Peg-in minting at import, with the node's real peg-in verifier: the Bitcoin follower over
//! the embedded regtest devnet (Bitcoin Core RPC over HTTP) feeds the deposit index, and
//! `FollowerPegIns` derives the minted outpoints from the consensus store. A confirmed deposit
//! is proposed and minted once; a block listing the same outpoint twice, or one already
//! minted on its chain, is invalid and not imported.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod chain;

use std::sync::Arc;
use std::time::Duration;

use alys_bitcoin::bitcoin::hashes::Hash;
use alys_bitcoin::bitcoin::Txid;
use alys_bitcoin::{ClientConfig, CoreRpcClient, Follower, FollowerConfig};
use alys_consensus::chain_store::ChainStore;
use alys_consensus::validate::BlockError;
use alys_consensus::{genesis_block, Chain, ImportError, PegInRejection};
use alys_federation::Federation;
use alys_federation::FollowerPegIns;
use alys_primitives::payload::Withdrawal as SszWithdrawal;
use alys_primitives::withdrawals::{expected_withdrawals, withdrawal_index_base};
use alys_primitives::{Address, ConsensusBlock, PegIn, SignedConsensusBlock};
use alys_store::Store;
use alys_test_utils::devnet::{core_client, start_devnet};
use alys_test_utils::el::TestEl;
use alys_test_utils::federation::manual_clock;
use chain::*;
use serde_json::json;
use ssz_types::VariableList;

async fn call(
    c: &CoreRpcClient,
    method: &str,
    params: Vec<serde_json::Value>,
) -> serde_json::Value {
    c.call(method, params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

async fn mine(c: &CoreRpcClient, n: u64) {
    let addr = call(c, "getnewaddress", vec![]).await;
    call(c, "generatetoaddress", vec![json!(n), addr]).await;
}

/// A deposit of `btc` to the federation for `recipient`, built and signed by the devnet wallet.
async fn send_deposit(c: &CoreRpcClient, fed: &Federation, btc: f64, recipient: Address) -> Txid {
    let outputs = json!([{ fed.address().to_string(): btc }, { "data": hex::encode(recipient) }]);
    let raw = call(c, "createrawtransaction", vec![json!([]), outputs]).await;
    let funded = call(c, "fundrawtransaction", vec![raw]).await;
    let signed = call(
        c,
        "signrawtransactionwithwallet",
        vec![funded["hex"].clone()],
    )
    .await;
    let txid = call(c, "sendrawtransaction", vec![signed["hex"].clone()]).await;
    txid.as_str().expect("txid").parse().expect("txid")
}

/// Replace the block's peg-ins (and its withdrawals by their mints), keeping the block
/// otherwise valid, and sign it with a threshold.
fn with_pegins(
    chain: &Chain<Engine>,
    mut block: ConsensusBlock,
    pegins: Vec<PegIn>,
) -> SignedConsensusBlock {
    block.pegins = VariableList::new(pegins).expect("pegins");
    let base = withdrawal_index_base(block.execution_payload.block_number);
    let mints = expected_withdrawals(&block.pegins, base).expect("mints");
    block.execution_payload.withdrawals =
        VariableList::new(mints.iter().map(|w| SszWithdrawal::from(*w)).collect()).expect("≤ 16");
    rehash(&mut block);
    sign_block(chain, block)
}

async fn assert_invalid(
    chain: &mut Chain<Engine>,
    block: &SignedConsensusBlock,
    expected: impl Fn(&BlockError) -> bool,
) {
    let head = chain.head().clone();
    match chain.import_block(block).await {
        Err(ImportError::Invalid(e)) => assert!(expected(&e), "unexpected error: {e:?}"),
        other => panic!("expected an invalid block, got {other:?}"),
    }
    assert_eq!(chain.head(), &head, "head unchanged");
    assert!(
        !chain.store().contains(&block.root()).expect("store"),
        "not stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_minted_once_duplicate_and_already_minted_blocks_invalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec();
    let time = manual_time();

    // Bitcoin: the embedded regtest devnet, reached over its Core-compatible RPC.
    let devnet = start_devnet(Some(&dir.path().join("btc"))).await;
    let rpc = Arc::new(core_client(
        &devnet,
        ClientConfig {
            timeout: Duration::from_secs(10),
            ..ClientConfig::default()
        },
    ));

    // The node: one store shared by the follower, the minted set and the chain, as in `alys`.
    let store = Arc::new(Store::open(&dir.path().join("consensus")).expect("store"));
    let federation = Arc::new(Federation::from_spec(&spec).expect("federation"));
    let mut follower = Follower::open(
        rpc.clone(),
        federation.clone() as Arc<dyn alys_bitcoin::DepositScanner>,
        store.clone(),
        FollowerConfig::from_spec(&spec),
    )
    .expect("follower");
    let chain_store = ChainStore::open(store.clone(), &genesis_block(&spec).expect("genesis"))
        .expect("chain store");
    let verifier = Arc::new(
        FollowerPegIns::open(follower.index(), Arc::new(chain_store), store.clone())
            .expect("verifier"),
    );
    let TestEl {
        el: _el, engine, ..
    } = TestEl::start(dir.path(), spec.genesis.clone()).await;
    let clock = manual_clock(&spec, &time);
    let mut chain = Chain::open(spec.clone(), clock, engine, store, verifier.clone())
        .await
        .expect("chain");

    // A deposit with the required confirmations.
    let alice = Address::repeat_byte(0xa1);
    mine(&rpc, 101).await;
    let txid = send_deposit(&rpc, &federation, 0.5, alice).await;
    let required = spec.required_btc_confirmations.expect("dev spec sets it");
    mine(&rpc, u64::from(required)).await;
    follower.catch_up().await.expect("follower");

    // The proposer includes it, validators accept it: minted with its exact amount.
    let mut slot = chain.clock().current_slot() + 1;
    let minting = extend(&mut chain, &time, slot).await;
    let deposit = minting
        .message
        .pegins
        .first()
        .cloned()
        .expect("deposit proposed");
    assert_eq!(minting.message.pegins.len(), 1);
    assert_eq!(deposit.txid.0, txid.to_byte_array());
    assert_eq!((deposit.sats, deposit.evm_address), (50_000_000, alice));
    let ws = minting.message.execution_payload.engine_withdrawals();
    assert_eq!(
        (ws.len(), ws[0].address, ws[0].amount),
        (1, alice, 500_000_000)
    );
    assert_eq!(
        verifier.minted_in(&minting.root(), &txid),
        Some(minting.root())
    );

    // Not proposed again.
    slot += 1;
    let next = produce(&chain, &time, slot).await.block;
    assert!(next.pegins.is_empty(), "already minted: not a candidate");

    // Already minted on this chain: invalid.
    let again = with_pegins(&chain, next.clone(), vec![deposit]);
    assert_invalid(&mut chain, &again, |e| {
        matches!(e, BlockError::PegInRejected { index: 0, reason: PegInRejection::AlreadyMinted { vout, .. } } if *vout == deposit.vout)
    })
    .await;

    // The same outpoint listed twice in one block: invalid.
    let twice = with_pegins(&chain, next.clone(), vec![deposit, deposit]);
    assert_invalid(&mut chain, &twice, |e| {
        matches!(e, BlockError::DuplicatePegIn { index: 1 })
    })
    .await;

    // The honest block still imports, and the deposit stays minted once on the chain.
    chain
        .import_block(&sign_block(&chain, next))
        .await
        .expect("honest block imports");
    let head = chain.head().root;
    let minted = verifier.minted_on(&head).expect("minted set");
    assert_eq!(minted.len(), 1);
    assert_eq!(verifier.minted_in(&head, &txid), Some(minting.root()));
}
