//! Messages from peers ([`Input::FromPeer`]) and what consensus tells the network about them,
//! with the attacks the service must withstand once peers exist:
//!
//! * a correctly signed but invalid proposal is rejected with the broken rule (typed);
//! * an AuxPoW with a bad proof or the wrong target is rejected (typed);
//! * an approval relabeled with another slot does not verify;
//! * a second proposal for a slot is refused as equivocation before the EL executes it;
//! * a proposal for slot s+1 arriving during slot s waits for its slot, so the proposer of
//!   s+1 cannot suppress slot s;
//! * an orphan block whose approval does not verify is rejected, not buffered.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alloy_primitives::{Address, FixedBytes};
use alys_consensus::approvals::ApprovalError;
use alys_consensus::schedule::proposer_index;
use alys_consensus::{
    BlockError, ConsensusService, GossipMessage, Input, PeerVerdict, PowError, Rejection,
    ServiceHandle,
};
use alys_primitives::dev::dev_secret_key;
use alys_primitives::signing::sign_approval;
use alys_primitives::{AuxPowHeader, BlockProposal, ConsensusBlock};
use common::*;
use std::time::Duration;
use tokio::sync::oneshot;

/// Sends `msg` as from a peer; the receiver of the verdict.
async fn send(h: &ServiceHandle, msg: GossipMessage) -> oneshot::Receiver<PeerVerdict> {
    let (tx, rx) = oneshot::channel();
    h.inputs
        .send(Input::FromPeer { msg, verdict: tx })
        .await
        .unwrap();
    rx
}

/// Sends `msg` as from a peer and waits for the verdict.
async fn ask(h: &ServiceHandle, msg: GossipMessage) -> PeerVerdict {
    let rx = send(h, msg).await;
    tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .expect("a verdict")
        .expect("verdict sent")
}

/// Re-signs a tampered proposal with its slot proposer's key.
fn resign(mut block: ConsensusBlock, domain: alys_primitives::Domain) -> BlockProposal {
    let slot = block.slot;
    rehash(&mut block);
    let root = block.root();
    let p = proposer_index(slot, 3);
    BlockProposal {
        proposer_approval: alys_primitives::Approval {
            block_root: root,
            slot,
            authority_index: p as u64,
            signature: FixedBytes(sign_approval(&dev_secret_key(p), root, slot, domain).to_bytes()),
        },
        block,
    }
}

/// The next slot after the clock's whose proposer is not `me`, and whose successor's proposer
/// is not `me` either.
fn slot_not_of(me: usize, time: &alys_consensus::ManualTimeSource) -> u64 {
    let now = time_slot(time);
    (now + 1..)
        .find(|s| proposer_index(*s, 3) != me && proposer_index(*s + 1, 3) != me)
        .unwrap()
}

fn time_slot(time: &alys_consensus::ManualTimeSource) -> u64 {
    use alys_consensus::TimeSource;
    time.now_ms() / 1000
}

/// The next approval the service publishes (blocks it completes are skipped).
async fn next_approval(h: &mut ServiceHandle) -> alys_primitives::Approval {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), h.outbound.recv())
            .await
            .expect("an outbound message")
            .expect("open");
        if let GossipMessage::Approval(a) = msg {
            return a;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_signed_proposals_auxpow_and_relabeled_approvals_are_rejected_by_rule() {
    let spec = spec();
    let time = manual_time();
    let (pdir, cdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut producer = node(pdir.path(), spec.clone(), &time).await;
    let victim = node(cdir.path(), spec.clone(), &time).await;
    let mut vchain = victim.chain;
    // Both at height 1.
    let s1 = time_slot(&time) + 1;
    let b1 = extend(&mut producer.chain, &time, s1).await;
    vchain.import_block(&b1).await.unwrap();
    let domain = vchain.approval_domain();
    let bits = vchain.status().pow.bits;

    let me = 2;
    let s = slot_not_of(me, &time);
    let good = produce(&producer.chain, &time, s).await;
    let h = ConsensusService::spawn(vchain, Some(signer(&spec, me)));

    // Signed by the slot's proposer, but the fee recipient is not the burn address.
    let mut bad = good.block.clone();
    bad.execution_payload.fee_recipient = Address::repeat_byte(1);
    let v = ask(&h, GossipMessage::Proposal(Box::new(resign(bad, domain)))).await;
    assert!(
        matches!(
            v,
            PeerVerdict::Rejected(Rejection::Block(BlockError::FeeRecipientNotBurn(_)))
        ),
        "{v:?}"
    );

    // AuxPoW for the right range with a proof that does not decode, then with the wrong bits.
    let aux = |bits: u32| {
        AuxPowHeader::new(1, b1.root(), Address::repeat_byte(2), bits, vec![0xab; 90]).unwrap()
    };
    let v = ask(&h, GossipMessage::AuxPow(Box::new(aux(bits)))).await;
    assert!(
        matches!(
            v,
            PeerVerdict::Rejected(Rejection::AuxPow(PowError::Proof(_)))
        ),
        "{v:?}"
    );
    let v = ask(&h, GossipMessage::AuxPow(Box::new(aux(bits ^ 1)))).await;
    assert!(
        matches!(
            v,
            PeerVerdict::Rejected(Rejection::AuxPow(PowError::WrongBits { .. }))
        ),
        "{v:?}"
    );

    // An authority's approval relabeled with another slot: the signature covers the slot.
    let a = alys_primitives::Approval {
        block_root: good.block.root(),
        slot: s,
        authority_index: 0,
        signature: FixedBytes(
            sign_approval(&dev_secret_key(0), good.block.root(), s, domain).to_bytes(),
        ),
    };
    let relabeled = alys_primitives::Approval { slot: s - 1, ..a };
    let v = ask(&h, GossipMessage::Approval(relabeled)).await;
    assert!(
        matches!(
            v,
            PeerVerdict::Rejected(Rejection::Approval(ApprovalError::BadSignature {
                index: 0
            }))
        ),
        "{v:?}"
    );

    // The proposer signed two blocks for slot s: the valid one now counts as its equivocation.
    let v = ask(&h, GossipMessage::Proposal(Box::new(good))).await;
    assert!(
        matches!(&v, PeerVerdict::Ignored(why) if why.contains("equivocates")),
        "{v:?}"
    );
    h.task.abort();
    producer.el.stop().await;
    victim.el.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_proposal_for_a_slot_never_reaches_the_execution_client() {
    let spec = spec();
    let time = manual_time();
    let (pdir, cdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let producer = node(pdir.path(), spec.clone(), &time).await;
    let victim = node(cdir.path(), spec.clone(), &time).await;
    let domain = victim.chain.approval_domain();
    let me = 2;
    let s = slot_not_of(me, &time);
    let first = produce(&producer.chain, &time, s).await;
    // Same slot, same proposer, another (valid) payload.
    let mut other = first.block.clone();
    other.execution_payload.extra_data =
        ssz_types::VariableList::new(b"equivocation".to_vec()).unwrap();
    let second = resign(other, domain);
    let second_hash = second.block.execution_payload.block_hash;
    assert_ne!(second.block.root(), first.block.root());

    let el = victim.el;
    let h = ConsensusService::spawn(victim.chain, Some(signer(&spec, me)));
    assert_eq!(
        ask(&h, GossipMessage::Proposal(Box::new(first.clone()))).await,
        PeerVerdict::Accepted
    );
    let v = ask(&h, GossipMessage::Proposal(Box::new(second))).await;
    match &v {
        PeerVerdict::Ignored(why) => assert!(why.contains("equivocates"), "{why}"),
        other => panic!("expected an equivocation, got {other:?}"),
    }
    let known = |hash| el.chain().lock().is_known(&hash).unwrap();
    assert!(known(first.block.execution_payload.block_hash));
    assert!(!known(second_hash), "the EL executed the second payload");
    h.task.abort();
    producer.el.stop().await;
    el.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_for_the_next_slot_does_not_suppress_the_current_one() {
    let spec = spec();
    let time = manual_time();
    let (pdir, cdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let producer = node(pdir.path(), spec.clone(), &time).await;
    let victim = node(cdir.path(), spec.clone(), &time).await;
    let me = 2;
    let s = slot_not_of(me, &time);
    // Both on genesis: the block of slot s and the block of slot s+1.
    let now_block = produce(&producer.chain, &time, s).await;
    let next_block = produce(&producer.chain, &time, s + 1).await;

    time.set_ms(victim.chain.clock().slot_start_ms(s));
    let mut h = ConsensusService::spawn(victim.chain, Some(signer(&spec, me)));
    // Slot s+1's proposal arrives first, during slot s: kept, no verdict yet, nothing signed.
    let mut early = send(&h, GossipMessage::Proposal(Box::new(next_block.clone()))).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), h.outbound.recv())
            .await
            .is_err(),
        "signed for a slot that has not started"
    );
    assert!(early.try_recv().is_err(), "answered before its slot");
    // Slot s's proposal is approved.
    assert_eq!(
        ask(&h, GossipMessage::Proposal(Box::new(now_block.clone()))).await,
        PeerVerdict::Accepted
    );
    let a = next_approval(&mut h).await;
    assert_eq!((a.slot, a.authority_index), (s, me as u64));
    // At slot s+1 the early proposal is handled and approved too.
    time.set_ms((s + 1) * spec.slot_duration_ms);
    h.inputs.send(Input::Tick { slot: s + 1 }).await.unwrap();
    let a = next_approval(&mut h).await;
    assert_eq!((a.slot, a.block_root), (s + 1, next_block.block.root()));
    let v = tokio::time::timeout(Duration::from_secs(10), early)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v, PeerVerdict::Accepted);
    h.task.abort();
    producer.el.stop().await;
    victim.el.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_whose_approval_does_not_verify_is_rejected() {
    let spec = spec();
    let time = manual_time();
    let (pdir, cdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut producer = node(pdir.path(), spec.clone(), &time).await;
    let victim = node(cdir.path(), spec.clone(), &time).await;
    let domain = victim.chain.approval_domain();
    let s1 = time_slot(&time) + 1;
    extend(&mut producer.chain, &time, s1).await;
    // A child of a block the victim does not have.
    let orphan = sign_block(
        &producer.chain,
        produce(&producer.chain, &time, s1 + 1).await.block,
    );
    let mut forged = orphan.clone();
    // Approvals over the right root, signed for another slot.
    let n = 3;
    let p = proposer_index(orphan.message.slot, n);
    forged.approval = alys_consensus::approvals::aggregate_approval(
        n,
        [p, (p + 1) % n].map(|i| {
            (
                i,
                sign_approval(
                    &dev_secret_key(i),
                    orphan.root(),
                    orphan.message.slot + 7,
                    domain,
                ),
            )
        }),
    )
    .unwrap();
    let h = ConsensusService::spawn(victim.chain, None);
    let v = ask(&h, GossipMessage::Block(Box::new(forged))).await;
    assert_eq!(
        v,
        PeerVerdict::Rejected(Rejection::Block(BlockError::BadAggregateSignature))
    );
    let v = ask(&h, GossipMessage::Block(Box::new(orphan.clone()))).await;
    assert!(
        matches!(&v, PeerVerdict::Ignored(why) if why.contains("unknown parent")),
        "{v:?}"
    );
    h.task.abort();
    producer.el.stop().await;
    victim.el.stop().await;
}
