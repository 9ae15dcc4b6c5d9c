//! The payout rules through the real import path: a node as `alys` wires it (the embedded
//! regtest devnet, the Bitcoin follower and peg-in verifier, a real embedded EL, the consensus
//! chain, and the peg-out `Ledger` installed with `Chain::set_pegout_ledger`) mints a deposit
//! into the federation's UTXO set and executes a burn through the Bridge, whose receipt carries
//! the real `RequestPegOut` log. The next proposer pays it; that block, carrying instead a
//! payout with a fee above the cap, an unrequested output, change sent elsewhere or an input
//! that is not a federation UTXO, and approved by a threshold of authorities, is invalid at
//! `Chain::import_block` with its typed `PegOutRejection`, and the head does not move. Every
//! member's `PayoutSigner` (the dev federation keys) refuses each of those payouts with its
//! signing policy, and signs the honest one once its block is imported.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod chain;
mod common;

use std::sync::{Arc, Mutex};

use alloy::sol_types::SolCall;
use alys_consensus::pegout::PegOutLedger;
use alys_consensus::validate::BlockError;
use alys_federation::bitcoin::consensus::{deserialize, serialize};
use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::{OutPoint, Transaction, Txid};
use alys_federation::pegout::{payout_batch, Ledger, RequestState};
use alys_federation::signing::{
    check_payout, MemberKey, PayoutSigner, PayoutStatus, PegOutSignatures, ProposedPayout,
    SignerConfig,
};
use alys_federation::{PayoutRequest, SchnorrSigner};
use alys_primitives::dev::{dev_bitcoin_secret_key, DEV_ACCOUNTS, DEV_CHAIN_ID};
use alys_primitives::{Address, Sats, BRIDGE_ADDRESS, U256};
use alys_test_utils::el::submit;
use alys_test_utils::tx::signed_call;
use chain::*;
use common::bad_payouts::bad_payouts;
use common::signers::{Fixed, NoRpc};
use serde_json::json;
use ssz_types::{ListEncodedOption, VariableList};

alloy::sol! {
    function requestPegOut(bytes btcAddress) external payable;
}

/// A regtest bech32 address the burn pays.
const BECH32: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
const WEI_PER_SAT: u64 = 10_000_000_000;
const DEPOSIT_SATS: u64 = 5_000_000;
const BURN_SATS: u64 = 1_000_000;

/// Each member's payout signer (dev federation keys), publishing into its own list.
type Member = (Arc<PayoutSigner>, Arc<Mutex<Vec<PegOutSignatures>>>);

fn members(ledger: &Ledger, source: &Arc<Fixed>, config: &SignerConfig) -> Vec<Member> {
    let federation = ledger.federation();
    (0..federation.keys().len())
        .map(|i| {
            let key = SchnorrSigner::from_bytes(&dev_bitcoin_secret_key(i)).unwrap();
            let me = MemberKey::find(federation, key).expect("a federation key");
            assert_eq!(me.index, i);
            let published = Arc::new(Mutex::new(Vec::new()));
            let sink = published.clone();
            let signer = PayoutSigner::new(
                federation.clone(),
                Some(me),
                source.clone(),
                Arc::new(NoRpc),
                Arc::new(move |m| sink.lock().unwrap().push(m)),
                config.clone(),
            );
            (Arc::new(signer), published)
        })
        .collect()
}

/// An outpoint of the devnet's wallet: a real Bitcoin output the federation does not own.
async fn wallet_outpoint(node: &PegNode) -> OutPoint {
    let unspent = call(&node.rpc, "listunspent", vec![json!(1)]).await;
    let first = &unspent[0];
    let txid: Txid = first["txid"].as_str().unwrap().parse().unwrap();
    OutPoint::new(txid, first["vout"].as_u64().unwrap() as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payouts_make_the_block_invalid_and_every_member_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec();
    let time = manual_time();
    let mut node = PegNode::start(dir.path(), spec.clone(), &time).await;
    // The ledger as `alys` installs it: over the chain's store, before any block.
    let ledger = Arc::new(
        Ledger::new(
            &spec,
            Arc::new(node.chain.store().clone()),
            node.store.clone(),
        )
        .unwrap(),
    );
    node.chain.set_pegout_ledger(ledger.clone());
    let federation = ledger.federation().clone();

    // A deposit minted: the federation's one UTXO.
    let deposit = node
        .confirmed_deposit(DEPOSIT_SATS as f64 / 1e8, Address::repeat_byte(0xa1))
        .await;
    let mut slot = node.chain.clock().current_slot() + 1;
    let minting = extend(&mut node.chain, &time, slot).await;
    assert_eq!(minting.message.pegins.len(), 1);
    assert_eq!(minting.message.pegins[0].txid.0, deposit.to_byte_array());
    let state = ledger.state(&minting.root()).unwrap();
    assert_eq!(state.utxo_total(), Sats(DEPOSIT_SATS));

    // A burn through the Bridge, executed by the EL at import: the ledger reads the Bridge's
    // `RequestPegOut` log from the block's receipts.
    let (sender, key) = DEV_ACCOUNTS[0];
    let calldata = requestPegOutCall {
        btcAddress: BECH32.as_bytes().to_vec().into(),
    }
    .abi_encode();
    let value = U256::from(BURN_SATS) * U256::from(WEI_PER_SAT);
    let burn = signed_call(
        DEV_CHAIN_ID,
        &key,
        0,
        BRIDGE_ADDRESS,
        value,
        calldata.into(),
        200_000,
    );
    let burn_hash = submit(&node.el.el, burn);
    slot += 1;
    let burning = extend(&mut node.chain, &time, slot).await;
    assert_eq!(burning.message.execution_payload.transactions.len(), 1);
    let parent = node.chain.head().clone();
    assert_eq!(parent.root, burning.root());
    let state = ledger.state(&parent.root).unwrap();
    let requests: Vec<PayoutRequest> = payout_batch(&state)
        .iter()
        .map(|k| state.pending.get(k).unwrap().payout_request())
        .collect();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].id.tx_hash, burn_hash);
    assert_eq!(requests[0].address.to_string(), BECH32);
    assert_eq!(requests[0].amount, Sats(BURN_SATS));
    assert_eq!(
        state
            .requests
            .get(&(burn_hash, requests[0].id.log_index))
            .unwrap()
            .sender,
        sender
    );

    // The next proposer pays it: the honest block.
    slot += 1;
    let honest = produce(&node.chain, &time, slot).await.block;
    let proposal = honest
        .pegout_proposal
        .as_ref()
        .map(|p| p.to_vec())
        .expect("a payout is proposed");
    assert_eq!(ledger.work(&parent).proposal.as_ref(), Some(&proposal));
    let honest_tx: Transaction = deserialize(&proposal).unwrap();
    let utxos = state.utxo_list();
    let config = SignerConfig::from_spec(&spec);
    assert_eq!(config.fee_cap, ledger.fee_cap());
    assert_eq!(
        check_payout(&federation, &honest_tx, &utxos, &requests, config.fee_cap),
        Ok(())
    );

    // Each bad payout in that block, approved by a threshold: invalid, the head stays.
    let foreign = wallet_outpoint(&node).await;
    assert!(!state.utxos.contains_key(&foreign));
    let bad = bad_payouts(
        &federation,
        &utxos,
        &requests,
        &honest_tx,
        config.fee_cap,
        foreign,
    );
    let mut proposed = Vec::new();
    for b in &bad {
        let mut block = honest.clone();
        block.pegout_proposal =
            ListEncodedOption(Some(VariableList::new(serialize(&b.tx)).unwrap()));
        let signed = sign_block(&node.chain, block);
        assert_invalid(
            &mut node.chain,
            &signed,
            |e| matches!(e, BlockError::PegOut(r) if *r == b.rejection),
        )
        .await;
        // What each member's own policy says of it (the federation UTXOs as it knows them).
        assert_eq!(
            check_payout(&federation, &b.tx, &utxos, &requests, config.fee_cap),
            Err(b.refusal.clone()),
            "{}",
            b.what
        );
        proposed.push(ProposedPayout {
            txid: b.tx.compute_txid(),
            tx: b.tx.clone(),
            prevouts: utxos.clone(),
            requests: requests.clone(),
            block: signed.root(),
            height: parent.height + 1,
        });
    }
    assert_eq!(node.chain.head().root, parent.root);

    // Every member refuses each of them: no signature published.
    let source = Arc::new(Fixed(Mutex::new(proposed.clone())));
    let signers = members(&ledger, &source, &config);
    for (signer, published) in &signers {
        signer.tick().await;
        assert_eq!(signer.stats().refused, bad.len() as u64);
        assert_eq!(signer.stats().signed, 0);
        assert!(published.lock().unwrap().is_empty());
        for p in &proposed {
            assert_eq!(signer.status(&p.txid), Some(PayoutStatus::Proposed));
        }
    }

    // The honest block imports; its payout, as the ledger hands it to the signers, is signed
    // by every member.
    node.chain
        .import_block(&sign_block(&node.chain, honest.clone()))
        .await
        .expect("the honest block imports");
    let head = node.chain.head().root;
    assert_eq!(head, honest.root());
    let payouts = ledger.payouts(&head).unwrap();
    assert_eq!(payouts.len(), 1);
    let (txid, record) = &payouts[0];
    assert_eq!(*txid, honest_tx.compute_txid());
    assert_eq!(
        ledger
            .state(&head)
            .unwrap()
            .requests
            .get(&(burn_hash, requests[0].id.log_index))
            .unwrap()
            .state,
        RequestState::Proposed {
            txid: *txid,
            block: head
        }
    );
    source
        .0
        .lock()
        .unwrap()
        .push(ProposedPayout::from_record(*txid, record));
    for (i, (signer, published)) in signers.iter().enumerate() {
        signer.tick().await;
        assert_eq!(signer.stats().signed, 1);
        assert_eq!(signer.stats().refused, bad.len() as u64);
        let published = published.lock().unwrap();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].member, i as u64);
        assert_eq!(
            signer.status(txid),
            Some(PayoutStatus::Signed {
                members: vec![i as u64]
            })
        );
    }
    node.el.el.stop().await;
}
