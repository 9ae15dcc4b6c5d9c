//! Members sign a payout through the collector, which assembles, broadcasts and tracks it, on
//! the embedded regtest Bitcoin (its mempool verifies the scripts with libbitcoinconsensus):
//!
//! * 2-of-3 with every member up, and 3-of-5 with two members down, confirm;
//! * signatures from a key outside the federation, over another transaction, from an index
//!   outside the federation or of the wrong count are rejected (typed); unknown payouts ignored;
//! * a payout failing the policy (fee over the cap, change elsewhere) is not signed;
//! * a payout the Bitcoin node lost is broadcast again.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use alys_bitcoin::{BitcoinRpc, CoreRpcClient};
use alys_federation::bitcoin::absolute::LockTime;
use alys_federation::bitcoin::transaction::Version;
use alys_federation::bitcoin::{
    Address, Amount, Block, BlockHash, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn,
    TxOut, Txid, Witness,
};
use alys_federation::signing::{
    check_payout, sign_payout, txid_to_b256, MemberKey, NoPayouts, PayoutRequest, PayoutRpc,
    PayoutSigner, PayoutSource, PayoutStatus, PegOutSignatureSink, PegOutSignatures, PolicyError,
    ProposedPayout, RequestId, RpcFailure, SignatureRejection, SignatureVerdict, SignerConfig,
    Utxo,
};
use alys_federation::Federation;
use alys_primitives::{Sats, B256};
use alys_test_utils::devnet::start_devnet;
use async_trait::async_trait;
use common::devnet::{client, federation, fund, mempool, mine, new_address};
use common::signer;
use common::signers::{Fixed, NoRpc};

/// The devnet's Core RPC as the collector's Bitcoin node; with `lose_first`, the first
/// broadcast is answered as accepted but never reaches the node (a mempool that dropped it).
struct Core {
    client: CoreRpcClient,
    lose_first: Mutex<bool>,
}

#[async_trait]
impl PayoutRpc for Core {
    async fn send_raw_transaction(&self, tx: &Transaction) -> Result<Txid, RpcFailure> {
        if std::mem::take(&mut *self.lose_first.lock().unwrap()) {
            return Ok(tx.compute_txid());
        }
        PayoutRpc::send_raw_transaction(&self.client, tx).await
    }
    async fn get_raw_transaction(&self, txid: &Txid) -> Result<Option<Transaction>, RpcFailure> {
        PayoutRpc::get_raw_transaction(&self.client, txid).await
    }
    async fn get_block_count(&self) -> Result<u64, RpcFailure> {
        PayoutRpc::get_block_count(&self.client).await
    }
    async fn get_block_hash(&self, height: u64) -> Result<BlockHash, RpcFailure> {
        PayoutRpc::get_block_hash(&self.client, height).await
    }
    async fn get_block(&self, hash: &BlockHash) -> Result<Block, RpcFailure> {
        PayoutRpc::get_block(&self.client, hash).await
    }
}

/// A payout of `amount` (minus `fee`) to `to` from `utxo`, change to `change_to`.
fn payout(utxo: Utxo, to: &Address, amount: u64, fee: u64, change_to: ScriptBuf) -> ProposedPayout {
    let request = PayoutRequest {
        id: RequestId {
            tx_hash: B256::repeat_byte(0xaa),
            log_index: 0,
        },
        address: to.clone(),
        amount: Sats(amount),
    };
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: utxo.outpoint,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(amount - fee),
                script_pubkey: to.script_pubkey(),
            },
            TxOut {
                value: Amount::from_sat(utxo.value.0 - amount),
                script_pubkey: change_to,
            },
        ],
    };
    ProposedPayout {
        txid: tx.compute_txid(),
        tx,
        prevouts: vec![utxo],
        requests: vec![request],
        block: B256::repeat_byte(0xbb),
        height: 7,
    }
}

fn config(required: u64, rebroadcast: Duration) -> SignerConfig {
    SignerConfig {
        fee_cap: 50,
        required_confirmations: required,
        rebroadcast_interval: rebroadcast,
    }
}

/// Every running member with its index: where a member's signatures are delivered.
type Gossip = Vec<(u8, Arc<PayoutSigner>)>;

/// Signers for the members `up` of `fed` (others down), each publishing to every other one
/// (the gossip), all over `rpc` and the same source. Every published message must be accepted.
fn members(
    fed: &Arc<Federation>,
    up: &[u8],
    source: Arc<dyn PayoutSource>,
    rpc: Arc<dyn PayoutRpc>,
    config: SignerConfig,
) -> Vec<Arc<PayoutSigner>> {
    let all: Arc<OnceLock<Gossip>> = Arc::new(OnceLock::new());
    let signers: Vec<Arc<PayoutSigner>> = up
        .iter()
        .map(|&i| {
            let all = all.clone();
            let me = MemberKey::find(fed, signer(i)).unwrap();
            Arc::new(PayoutSigner::new(
                fed.clone(),
                Some(me),
                source.clone(),
                rpc.clone(),
                Arc::new(move |msg: PegOutSignatures| {
                    for (j, s) in all.get().unwrap() {
                        if *j != i {
                            let v = s.receive(&msg);
                            assert!(
                                v == Ok(SignatureVerdict::Accepted),
                                "member {i}'s signatures: {v:?}"
                            );
                        }
                    }
                }),
                config.clone(),
            ))
        })
        .collect();
    let _ = all.set(up.iter().copied().zip(signers.iter().cloned()).collect());
    signers
}

async fn tick_all(signers: &[Arc<PayoutSigner>]) {
    for s in signers {
        s.tick().await;
    }
}

/// Funds `fed`, proposes a payout, has members `up` sign it, and checks it is broadcast and
/// confirmed `required` deep on the devnet.
async fn sign_broadcast_confirm(n: u8, m: u32, up: &[u8]) {
    let dev = start_devnet(None).await;
    let c = client(&dev);
    mine(&c, 101).await;
    let fed = federation(n, m);
    let utxo = fund(&c, &fed, 100_000_000).await;
    let to = new_address(&c).await;
    let p = payout(utxo, &to, 40_000_000, 3_000, fed.script_pubkey().clone());
    let txid = p.txid;
    let source = Arc::new(Fixed(Mutex::new(vec![p])));
    let rpc = Arc::new(Core {
        client: client(&dev),
        lose_first: Mutex::new(false),
    });
    let signers = members(&fed, up, source, rpc, config(2, Duration::from_secs(30)));

    // Round 1: everyone signs and publishes; the last ones to sign reach the threshold.
    tick_all(&signers).await;
    // Round 2: every collector holds the threshold; the first assembles and broadcasts.
    tick_all(&signers).await;
    for s in &signers {
        let st = s.status(&txid).unwrap();
        assert!(matches!(st, PayoutStatus::Broadcast { .. }), "{st:?}");
    }
    assert!(mempool(&c).await.contains(&txid.to_string()));

    mine(&c, 1).await;
    tick_all(&signers).await;
    for s in &signers {
        let st = s.status(&txid).unwrap();
        assert!(
            matches!(
                st,
                PayoutStatus::Confirmed {
                    confirmations: 1,
                    ..
                }
            ),
            "{st:?}"
        );
    }
    mine(&c, 1).await;
    tick_all(&signers).await;
    let mined = BitcoinRpc::get_raw_transaction(&c, &txid, None)
        .await
        .unwrap();
    assert_eq!(mined.output[0].script_pubkey, to.script_pubkey());
    for s in &signers {
        let st = s.status(&txid).unwrap();
        assert!(
            matches!(
                st,
                PayoutStatus::Confirmed {
                    confirmations: 2,
                    ..
                }
            ),
            "{st:?}"
        );
        let stats = s.stats();
        assert_eq!(stats.signed, 1);
        assert_eq!(stats.rejected, 0);
    }
    // Tracking stopped at the required depth: one more block changes nothing.
    mine(&c, 1).await;
    tick_all(&signers).await;
    assert!(matches!(
        signers[0].status(&txid),
        Some(PayoutStatus::Confirmed {
            confirmations: 2,
            ..
        })
    ));
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_sign_broadcast_and_confirm() {
    sign_broadcast_confirm(3, 2, &[0, 1, 2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_with_one_member_down_completes() {
    sign_broadcast_confirm(3, 2, &[0, 2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_of_five_with_two_members_down_completes() {
    sign_broadcast_confirm(5, 3, &[1, 3, 4]).await;
}

fn offline_utxo(sats: u64) -> Utxo {
    Utxo {
        outpoint: OutPoint {
            txid: "1111111111111111111111111111111111111111111111111111111111111111"
                .parse()
                .unwrap(),
            vout: 0,
        },
        value: Sats(sats),
    }
}

fn regtest_address(i: u8) -> Address {
    let key = signer(100 + i).public_key();
    Address::p2tr(
        &alys_federation::bitcoin::key::Secp256k1::verification_only(),
        key,
        None,
        Network::Regtest,
    )
}

#[tokio::test]
async fn bad_signatures_are_rejected_and_unknown_payouts_ignored() {
    let fed = federation(3, 2);
    let p = payout(
        offline_utxo(10_000_000),
        &regtest_address(0),
        5_000_000,
        2_000,
        fed.script_pubkey().clone(),
    );
    let source = Arc::new(Fixed(Mutex::new(vec![p.clone()])));
    // A non-member collector.
    let collector = PayoutSigner::new(
        fed.clone(),
        None,
        source.clone(),
        Arc::new(NoRpc),
        Arc::new(|_| {}),
        config(1, Duration::from_secs(30)),
    );
    let msg = |member: u64, sigs: &[[u8; 64]]| {
        PegOutSignatures::new(txid_to_b256(&p.txid), member, sigs).unwrap()
    };

    // A key outside the federation, claiming member 1's index.
    let outsider = sign_payout(&signer(9), &fed, &p.tx, &p.prevouts).unwrap();
    assert_eq!(
        collector.receive(&msg(1, &outsider)),
        Err(SignatureRejection::BadSignature {
            member: 1,
            input: 0
        })
    );
    // Member 1's valid signatures of another transaction (one sat more to the requester).
    let mut other = p.tx.clone();
    other.output[0].value = Amount::from_sat(other.output[0].value.to_sat() + 1);
    let over_other = sign_payout(&signer(1), &fed, &other, &p.prevouts).unwrap();
    assert_eq!(
        collector.receive(&msg(1, &over_other)),
        Err(SignatureRejection::BadSignature {
            member: 1,
            input: 0
        })
    );
    // Member 0's signatures sent as member 1's.
    let by_0 = sign_payout(&signer(0), &fed, &p.tx, &p.prevouts).unwrap();
    assert!(matches!(
        collector.receive(&msg(1, &by_0)),
        Err(SignatureRejection::BadSignature { .. })
    ));
    // Index outside the federation; wrong count.
    assert_eq!(
        collector.receive(&msg(3, &by_0)),
        Err(SignatureRejection::UnknownMember {
            member: 3,
            members: 3
        })
    );
    assert_eq!(
        collector.receive(&msg(0, &[by_0[0], by_0[0]])),
        Err(SignatureRejection::SignatureCount {
            member: 0,
            got: 2,
            inputs: 1
        })
    );
    assert_eq!(collector.stats().rejected, 5);
    assert_eq!(collector.status(&p.txid), Some(PayoutStatus::Proposed));

    // Unknown payout: ignored.
    let unknown = PegOutSignatures::new(B256::repeat_byte(5), 0, &by_0).unwrap();
    assert_eq!(
        collector.receive(&unknown),
        Ok(SignatureVerdict::UnknownPayout)
    );

    // The valid ones, twice (idempotent).
    assert_eq!(
        collector.receive(&msg(0, &by_0)),
        Ok(SignatureVerdict::Accepted)
    );
    assert_eq!(
        collector.receive(&msg(0, &by_0)),
        Ok(SignatureVerdict::Accepted)
    );
    assert_eq!(collector.stats().collected, 1);
    assert_eq!(
        collector.status(&p.txid),
        Some(PayoutStatus::Signed { members: vec![0] })
    );

    // The payout leaves the source (another head): no longer tracked, its status kept, and
    // its signatures are now for an unknown payout.
    source.0.lock().unwrap().clear();
    collector.tick().await;
    assert_eq!(collector.tracked(), 0);
    assert_eq!(
        collector.status(&p.txid),
        Some(PayoutStatus::Signed { members: vec![0] })
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        collector.receive(&msg(0, &by_0)),
        Ok(SignatureVerdict::UnknownPayout)
    );
}

/// A member's signatures can reach a node before it imported the block proposing the payout;
/// the member stops publishing once it has broadcast the payout itself. The node keeps them
/// (bounded) and counts them once the payout appears, instead of missing them for good.
#[tokio::test]
async fn signatures_that_arrive_before_their_payout_count_once_it_appears() {
    let fed = federation(3, 2);
    let p = payout(
        offline_utxo(10_000_000),
        &regtest_address(0),
        5_000_000,
        2_000,
        fed.script_pubkey().clone(),
    );
    let source = Arc::new(Fixed(Mutex::new(Vec::new())));
    let collector = PayoutSigner::new(
        fed.clone(),
        None,
        source.clone(),
        Arc::new(NoRpc),
        Arc::new(|_| {}),
        config(1, Duration::from_secs(30)),
    );
    let msg = |member: u8| {
        let sigs = sign_payout(&signer(member), &fed, &p.tx, &p.prevouts).unwrap();
        PegOutSignatures::new(txid_to_b256(&p.txid), u64::from(member), &sigs).unwrap()
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        collector.receive(&msg(1)),
        Ok(SignatureVerdict::UnknownPayout)
    );
    // Signatures that do not verify are held too, and rejected once the payout is known.
    let outsider = sign_payout(&signer(9), &fed, &p.tx, &p.prevouts).unwrap();
    let forged_by_outsider = PegOutSignatures::new(txid_to_b256(&p.txid), 2, &outsider).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        collector.receive(&forged_by_outsider),
        Ok(SignatureVerdict::UnknownPayout)
    );
    assert_eq!(collector.tracked(), 0);

    source.0.lock().unwrap().push(p.clone());
    collector.tick().await;
    assert_eq!(
        collector.status(&p.txid),
        Some(PayoutStatus::Signed { members: vec![1] })
    );
    assert_eq!(collector.stats().rejected, 1);

    // The buffer is bounded: a flood of messages for unknown payouts keeps at most
    // MAX_EARLY_SIGNATURES of them.
    for i in 0..(3 * alys_federation::signing::MAX_EARLY_SIGNATURES) {
        let unknown =
            PegOutSignatures::new(B256::repeat_byte((i % 250) as u8 + 1), 0, &[[7u8; 64]]).unwrap();
        assert_eq!(
            collector.receive(&unknown),
            Ok(SignatureVerdict::UnknownPayout)
        );
    }
    assert!(collector.early_signatures() <= alys_federation::signing::MAX_EARLY_SIGNATURES);
}

#[tokio::test]
async fn a_member_never_signs_a_payout_failing_its_policy() {
    let fed = federation(3, 2);
    let to = regtest_address(1);
    // The fee deducted from the payout is far above 50 sat/vB.
    let greedy = payout(
        offline_utxo(10_000_000),
        &to,
        5_000_000,
        1_000_000,
        fed.script_pubkey().clone(),
    );
    // The change goes to someone else.
    let mut elsewhere = payout(
        offline_utxo(20_000_000),
        &to,
        5_000_000,
        2_000,
        regtest_address(2).script_pubkey(),
    );
    elsewhere.tx.input[0].previous_output.vout = 1;
    elsewhere.prevouts[0].outpoint.vout = 1;
    elsewhere.txid = elsewhere.tx.compute_txid();
    let policy = |p: &ProposedPayout| check_payout(&fed, &p.tx, &p.prevouts, &p.requests, 50);
    assert!(matches!(
        policy(&greedy),
        Err(PolicyError::FeeAboveCap { cap: 50, .. })
    ));
    assert!(matches!(
        policy(&elsewhere),
        Err(PolicyError::ChangeElsewhere { index: 1 })
    ));
    let source = Arc::new(Fixed(Mutex::new(vec![greedy.clone(), elsewhere.clone()])));
    let published = Arc::new(Mutex::new(Vec::new()));
    let sink = published.clone();
    let member = PayoutSigner::new(
        fed.clone(),
        MemberKey::find(&fed, signer(0)),
        source,
        Arc::new(NoRpc),
        Arc::new(move |m| sink.lock().unwrap().push(m)),
        config(1, Duration::from_secs(30)),
    );
    member.tick().await;
    member.tick().await;
    assert!(published.lock().unwrap().is_empty());
    assert_eq!(member.stats().signed, 0);
    assert_eq!(member.stats().refused, 2);
    assert_eq!(member.status(&greedy.txid), Some(PayoutStatus::Proposed));
    assert_eq!(member.status(&elsewhere.txid), Some(PayoutStatus::Proposed));

    // A key that is not a federation key signs nothing either.
    assert!(MemberKey::find(&fed, signer(9)).is_none());
    let _ = NoPayouts;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_the_node_lost_is_broadcast_again() {
    let dev = start_devnet(None).await;
    let c = client(&dev);
    mine(&c, 101).await;
    let fed = federation(3, 2);
    let utxo = fund(&c, &fed, 50_000_000).await;
    let to = new_address(&c).await;
    let p = payout(utxo, &to, 10_000_000, 2_000, fed.script_pubkey().clone());
    let txid = p.txid;
    let source = Arc::new(Fixed(Mutex::new(vec![p])));
    let rpc = Arc::new(Core {
        client: client(&dev),
        lose_first: Mutex::new(true),
    });
    let interval = Duration::from_millis(300);
    let signers = members(&fed, &[0, 1], source, rpc, config(1, interval));
    tick_all(&signers).await;
    // Member 1 completes the threshold and broadcasts: the node never gets it.
    signers[1].tick().await;
    assert!(matches!(
        signers[1].status(&txid),
        Some(PayoutStatus::Broadcast { .. })
    ));
    assert!(!mempool(&c).await.contains(&txid.to_string()));
    // Before the interval: not sent again.
    signers[1].tick().await;
    assert_eq!(signers[1].stats().rebroadcasts, 0);
    tokio::time::sleep(interval).await;
    signers[1].tick().await;
    assert_eq!(signers[1].stats().rebroadcasts, 1);
    assert!(mempool(&c).await.contains(&txid.to_string()));
    // In the mempool: not sent again.
    tokio::time::sleep(interval).await;
    signers[1].tick().await;
    assert_eq!(signers[1].stats().rebroadcasts, 1);
    mine(&c, 1).await;
    signers[1].tick().await;
    assert!(matches!(
        signers[1].status(&txid),
        Some(PayoutStatus::Confirmed {
            confirmations: 1,
            ..
        })
    ));
    dev.shutdown().await;
}
