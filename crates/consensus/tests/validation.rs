//! Negative import rules against the real embedded EL: each a typed error, and no import
//! (store and fork choice unchanged). Also a positive mint: a block with a peg-in and the
//! matching withdrawal is imported and credits the recipient.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alloy::eips::eip4895::Withdrawal;
use alloy_primitives::{Address, FixedBytes, B256};
use alys_consensus::approvals::{aggregate_approval, ApprovalError, ApprovalPool};
use alys_consensus::forkchoice::BlockInfo;
use alys_consensus::schedule::proposer_index;
use alys_consensus::validate::{BlockError, PegInVerifier, WithdrawalMismatch};
use alys_consensus::{Chain, ImportError, ManualTimeSource};
use alys_primitives::dev::dev_secret_key;
use alys_primitives::payload::Withdrawal as SszWithdrawal;
use alys_primitives::signing::{compute_domain, sign_approval, DomainType};
use alys_primitives::withdrawals::{expected_withdrawals, withdrawal_index_base};
use alys_primitives::{ConsensusBlock, PegIn, SignedConsensusBlock};
use common::*;
use ssz_types::{BitList, VariableList};
use std::sync::Arc;

struct Setup {
    _dir: tempfile::TempDir,
    node: TestNode,
    time: ManualTimeSource,
    /// Next free slot.
    slot: u64,
}

/// A node with two imported blocks; `slot` is the next slot.
async fn setup_with(pegins: Arc<dyn PegInVerifier>) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec();
    let time = manual_time();
    let mut node = node_with(dir.path(), spec, &time, pegins).await;
    let first = node.chain.clock().current_slot() + 1;
    extend(&mut node.chain, &time, first).await;
    extend(&mut node.chain, &time, first + 1).await;
    Setup {
        _dir: dir,
        node,
        time,
        slot: first + 2,
    }
}

async fn setup() -> Setup {
    setup_with(Arc::new(alys_consensus::NoPegIns)).await
}

/// Assert `block` is refused with `expected` and nothing changed.
async fn assert_rejected(
    chain: &mut Chain<Engine>,
    block: SignedConsensusBlock,
    expected: BlockError,
) {
    let head = chain.head().clone();
    let root = block.root();
    let err = chain
        .import_block(&block)
        .await
        .expect_err("must be rejected");
    match err {
        ImportError::Invalid(e) => assert_eq!(e, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
    assert_eq!(chain.head(), &head, "head unchanged");
    assert!(!chain.forkchoice().contains(&root), "not in fork choice");
    assert!(!chain.store().contains(&root).expect("store"), "not stored");
}

async fn proposal(s: &mut Setup) -> ConsensusBlock {
    produce(&s.node.chain, &s.time, s.slot).await.block
}

#[tokio::test]
async fn wrong_slot_author() {
    let mut s = setup().await;
    let block = proposal(&mut s).await;
    let n = 3;
    let p = proposer_index(block.slot, n);
    let others = [(p + 1) % n, (p + 2) % n];
    let domain = s.node.chain.approval_domain();
    let approval = approve(&block, &others, n, domain);
    let expected = BlockError::ProposerDidNotSign {
        slot: block.slot,
        proposer: p as u64,
    };
    assert_rejected(
        &mut s.node.chain,
        SignedConsensusBlock {
            message: block.clone(),
            approval,
        },
        expected,
    )
    .await;

    // A proposal signed by another authority than the slot's proposer.
    let wrong = s.node.chain.sign_approval(
        block.root(),
        block.slot,
        &signer(s.node.chain.spec(), others[0]),
    );
    let err = s
        .node
        .chain
        .verify_proposal(&block, &wrong)
        .await
        .expect_err("wrong proposer");
    assert_eq!(
        err.block_error(),
        Some(&BlockError::WrongProposer {
            slot: block.slot,
            expected: p as u64,
            got: others[0] as u64
        })
    );
    // The right proposer's approval passes (and the EL says VALID).
    let right =
        s.node
            .chain
            .sign_approval(block.root(), block.slot, &signer(s.node.chain.spec(), p));
    s.node
        .chain
        .verify_proposal(&block, &right)
        .await
        .expect("valid proposal");
}

#[tokio::test]
async fn bitfield_bit_out_of_range_and_wrong_length() {
    let mut s = setup().await;
    let block = proposal(&mut s).await;
    let p = proposer_index(block.slot, 3);
    let domain = s.node.chain.approval_domain();
    let root = block.root();
    let sigs = |idx: &[usize]| -> Vec<_> {
        idx.iter()
            .map(|i| sign_approval(&dev_secret_key(*i), root, block.slot, domain))
            .collect()
    };
    // Bitfield of length 4 with bit 3 set (the reference bug: bits past n counted).
    let mut bits = BitList::with_capacity(4).expect("bits");
    bits.set(p, true).expect("bit");
    bits.set(3, true).expect("bit");
    let sig = alys_primitives::AggregateSignature::aggregate(&sigs(&[p, p])).expect("agg");
    let approval = alys_primitives::block::AggregateApproval {
        bitfield: bits,
        signature: FixedBytes(sig.to_signature().to_bytes()),
    };
    assert_rejected(
        &mut s.node.chain,
        SignedConsensusBlock {
            message: block.clone(),
            approval,
        },
        BlockError::BitOutOfRange { index: 3, n: 3 },
    )
    .await;
    // Length 4, only valid bits set.
    let good = approve(&block, &[p, (p + 1) % 3], 3, domain);
    let mut bits = BitList::with_capacity(4).expect("bits");
    for i in good.signers() {
        bits.set(i, true).expect("bit");
    }
    let approval = alys_primitives::block::AggregateApproval {
        bitfield: bits,
        signature: good.signature,
    };
    assert_rejected(
        &mut s.node.chain,
        SignedConsensusBlock {
            message: block,
            approval,
        },
        BlockError::BitfieldLength {
            expected: 3,
            got: 4,
        },
    )
    .await;
}

#[tokio::test]
async fn below_threshold_and_duplicate_approvals() {
    let mut s = setup().await;
    let block = proposal(&mut s).await;
    let p = proposer_index(block.slot, 3);
    let domain = s.node.chain.approval_domain();
    let approval = approve(&block, &[p], 3, domain);
    assert_rejected(
        &mut s.node.chain,
        SignedConsensusBlock {
            message: block.clone(),
            approval,
        },
        BlockError::BelowThreshold { have: 1, need: 2 },
    )
    .await;

    // The proposer's signature counted twice to fake a second approver.
    let root = block.root();
    let sig = sign_approval(&dev_secret_key(p), root, block.slot, domain);
    let mut agg = aggregate_approval(3, [(p, sig), ((p + 1) % 3, sig)]).expect("agg");
    agg.signature = FixedBytes(
        alys_primitives::AggregateSignature::aggregate(&[sig, sig])
            .expect("agg")
            .to_signature()
            .to_bytes(),
    );
    assert_rejected(
        &mut s.node.chain,
        SignedConsensusBlock {
            message: block.clone(),
            approval: agg,
        },
        BlockError::BadAggregateSignature,
    )
    .await;

    // Individual approvals: the same authority twice is refused by the pool.
    let mut pool = ApprovalPool::new();
    let a = s
        .node
        .chain
        .sign_approval(root, block.slot, &signer(s.node.chain.spec(), p));
    let window = (0, u64::MAX);
    let spec = s.node.chain.spec().clone();
    assert_eq!(pool.add(&spec, domain, &a, window), Ok(1));
    assert_eq!(
        pool.add(&spec, domain, &a, window),
        Err(ApprovalError::DuplicateApproval {
            index: p as u64,
            block_root: root
        })
    );
    assert!(pool.aggregate(&root, 3, 2).is_none());
}

#[tokio::test]
async fn signature_over_another_chains_domain() {
    let mut s = setup().await;
    let block = proposal(&mut s).await;
    let p = proposer_index(block.slot, 3);
    let mut other = (*spec()).clone();
    other.chain_id += 1;
    other.genesis.config.chain_id += 1;
    let other_domain = compute_domain(DomainType::BlockApproval, other.spec_hash());
    assert_ne!(other_domain, s.node.chain.approval_domain());
    let approval = approve(&block, &[p, (p + 1) % 3], 3, other_domain);
    assert_rejected(
        &mut s.node.chain,
        SignedConsensusBlock {
            message: block.clone(),
            approval,
        },
        BlockError::BadAggregateSignature,
    )
    .await;
    // Same chain, another message type.
    let aux = compute_domain(DomainType::AuxWork, s.node.chain.spec().spec_hash());
    let approval = approve(&block, &[p, (p + 1) % 3], 3, aux);
    assert_rejected(
        &mut s.node.chain,
        SignedConsensusBlock {
            message: block,
            approval,
        },
        BlockError::BadAggregateSignature,
    )
    .await;
}

#[tokio::test]
async fn slot_rules() {
    let mut s = setup().await;
    let parent_slot = s.node.chain.head().slot;
    let mut block = proposal(&mut s).await;
    block.slot = parent_slot;
    let signed = sign_block(&s.node.chain, block.clone());
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::SlotNotAfterParent {
            slot: parent_slot,
            parent_slot,
        },
    )
    .await;
    // Two slots ahead of the clock.
    let current = s.node.chain.clock().current_slot();
    block.slot = current + 2;
    let signed = sign_block(&s.node.chain, block.clone());
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::SlotInFuture {
            slot: current + 2,
            current,
        },
    )
    .await;
}

#[tokio::test]
async fn peg_out_data_on_a_chain_without_peg_outs() {
    let mut s = setup().await;
    let mut block = proposal(&mut s).await;
    block.federation_spends =
        ssz_types::VariableList::new(vec![alys_primitives::FederationSpend {
            txid: B256::repeat_byte(1),
            vout: 0,
            spender: B256::repeat_byte(2),
            block_hash: B256::repeat_byte(3),
        }])
        .unwrap();
    let signed = sign_block(&s.node.chain, block);
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::PegOut(alys_consensus::pegout::PegOutRejection::NotEnabled),
    )
    .await;
}

#[tokio::test]
async fn timestamp_not_slot_start() {
    let mut s = setup().await;
    let mut block = proposal(&mut s).await;
    let expected = block.execution_payload.timestamp;
    block.execution_payload.timestamp += 1;
    rehash(&mut block);
    let signed = sign_block(&s.node.chain, block);
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::TimestampNotSlotStart {
            expected,
            got: expected + 1,
        },
    )
    .await;
}

#[tokio::test]
async fn payload_parent_mismatch_and_unknown_parent() {
    let mut s = setup().await;
    let mut block = proposal(&mut s).await;
    let expected = block.execution_payload.parent_hash;
    block.execution_payload.parent_hash = B256::repeat_byte(0x42);
    let signed = sign_block(&s.node.chain, block.clone());
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::PayloadParentMismatch {
            expected,
            got: B256::repeat_byte(0x42),
        },
    )
    .await;
    block.parent_root = B256::repeat_byte(0x43);
    let signed = sign_block(&s.node.chain, block);
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::UnknownParent(B256::repeat_byte(0x43)),
    )
    .await;
}

#[tokio::test]
async fn fee_recipient_and_prev_randao() {
    let mut s = setup().await;
    let mut block = proposal(&mut s).await;
    let good = block.clone();
    block.execution_payload.fee_recipient = Address::repeat_byte(1);
    rehash(&mut block);
    let signed = sign_block(&s.node.chain, block);
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::FeeRecipientNotBurn(Address::repeat_byte(1)),
    )
    .await;
    let mut block = good;
    let expected = block.execution_payload.prev_randao;
    assert_ne!(
        expected,
        B256::ZERO,
        "randao derived from the parent's signature"
    );
    block.execution_payload.prev_randao = B256::ZERO;
    rehash(&mut block);
    let signed = sign_block(&s.node.chain, block);
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::PrevRandaoMismatch {
            expected,
            got: B256::ZERO,
        },
    )
    .await;
}

#[tokio::test]
async fn parent_approval_must_be_a_threshold_approval_of_the_parent() {
    let mut s = setup().await;
    let block = proposal(&mut s).await;
    let parent = s.node.chain.head().clone();
    // A parent approval from a single authority.
    let mut tampered = block.clone();
    let p = proposer_index(parent.slot, 3);
    tampered.parent_approval = {
        let mut single = parent.approval.clone();
        for i in 0..3 {
            single.bitfield.set(i, i == p).expect("bit");
        }
        single
    };
    let signed = sign_block(&s.node.chain, tampered);
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::BadParentApproval(Box::new(BlockError::BelowThreshold { have: 1, need: 2 })),
    )
    .await;
    // Another valid aggregate of the parent changes prevRandao, which must follow it.
    let mut other = block.clone();
    let domain = s.node.chain.approval_domain();
    let parent_block = s
        .node
        .chain
        .store()
        .block(&parent.root)
        .expect("store")
        .expect("parent");
    let all = approve(&parent_block.message, &[0, 1, 2], 3, domain);
    assert_ne!(all, parent.approval);
    other.parent_approval = all;
    let signed = sign_block(&s.node.chain, other);
    let err = s
        .node
        .chain
        .import_block(&signed)
        .await
        .expect_err("randao");
    assert!(
        matches!(
            err.block_error(),
            Some(BlockError::PrevRandaoMismatch { .. })
        ),
        "{err:?}"
    );
}

fn pegin(n: u8, to: Address, sats: u64) -> PegIn {
    PegIn {
        txid: B256::repeat_byte(n),
        block_hash: B256::repeat_byte(0xbb),
        vout: 0,
        sats,
        evm_address: to,
    }
}

fn set_withdrawals(block: &mut ConsensusBlock, ws: &[Withdrawal]) {
    block.execution_payload.withdrawals =
        VariableList::new(ws.iter().map(|w| SszWithdrawal::from(*w)).collect()).expect("≤ 16");
    rehash(block);
}

#[tokio::test]
async fn extra_missing_and_duplicate_withdrawals() {
    let mut s = setup().await;
    let base = proposal(&mut s).await;
    let alice = Address::repeat_byte(0xa1);
    let index = withdrawal_index_base(base.execution_payload.block_number);

    // Extra: a withdrawal with no peg-in.
    let mut block = base.clone();
    let extra = Withdrawal {
        index,
        validator_index: 0,
        address: alice,
        amount: 10,
    };
    set_withdrawals(&mut block, &[extra]);
    let signed = sign_block(&s.node.chain, block);
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::Withdrawals(WithdrawalMismatch::Extra(extra)),
    )
    .await;

    // Missing: a peg-in whose mint is absent.
    let mut block = base.clone();
    block.pegins = VariableList::new(vec![pegin(1, alice, 5)]).expect("pegins");
    let expected = expected_withdrawals(&block.pegins, index).expect("mints");
    let signed = sign_block(&s.node.chain, block);
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::Withdrawals(WithdrawalMismatch::Missing(expected[0])),
    )
    .await;

    // Duplicate: the mint twice.
    let mut block = base.clone();
    block.pegins = VariableList::new(vec![pegin(1, alice, 5)]).expect("pegins");
    set_withdrawals(&mut block, &[expected[0], expected[0]]);
    let signed = sign_block(&s.node.chain, block);
    assert_rejected(
        &mut s.node.chain,
        signed,
        BlockError::Withdrawals(WithdrawalMismatch::Duplicate(alice)),
    )
    .await;

    // Right withdrawals, but no Bitcoin follower: the default verifier rejects the peg-in.
    let mut block = base.clone();
    block.pegins = VariableList::new(vec![pegin(1, alice, 5)]).expect("pegins");
    set_withdrawals(&mut block, &expected);
    let signed = sign_block(&s.node.chain, block);
    let err = s
        .node
        .chain
        .import_block(&signed)
        .await
        .expect_err("rejected");
    assert!(
        matches!(
            err.block_error(),
            Some(BlockError::PegInRejected {
                index: 0,
                reason: alys_consensus::PegInRejection::NoBitcoinFollower
            })
        ),
        "{err:?}"
    );
    assert!(!s
        .node
        .chain
        .store()
        .contains(&signed.root())
        .expect("store"));
}

/// A verifier that accepts (and proposes) a fixed set of deposits.
struct FixedPegIns(Vec<PegIn>);

impl PegInVerifier for FixedPegIns {
    fn verify(
        &self,
        _parent: &BlockInfo,
        pegin: &PegIn,
    ) -> Result<(), alys_consensus::PegInRejection> {
        if self.0.contains(pegin) {
            Ok(())
        } else {
            Err(alys_consensus::PegInRejection::Unknown { txid: pegin.txid })
        }
    }
    fn candidates(&self, parent: &BlockInfo) -> Vec<PegIn> {
        // Mint once, in the first block after the setup blocks.
        if parent.height == 2 {
            self.0.clone()
        } else {
            Vec::new()
        }
    }
}

#[tokio::test]
async fn pegin_mint_is_imported() {
    let alice = Address::repeat_byte(0xa1);
    let bob = Address::repeat_byte(0xb0);
    let deposits = vec![pegin(1, alice, 5), pegin(2, bob, 7), pegin(3, alice, 1)];
    let mut s = setup_with(Arc::new(FixedPegIns(deposits.clone()))).await;
    let slot = s.slot;
    let signed = extend(&mut s.node.chain, &s.time, slot).await;
    let ws = signed.message.execution_payload.engine_withdrawals();
    assert_eq!(ws.len(), 2);
    assert_eq!((ws[0].address, ws[0].amount), (alice, 60));
    assert_eq!((ws[1].address, ws[1].amount), (bob, 70));
    assert_eq!(s.node.chain.head().root, signed.root());
    assert_eq!(signed.message.pegins.len(), 3);
    // The EL credited the recipients: 1 sat = 10 gwei.
    let hash = signed.message.execution_payload.block_hash;
    let chain = s.node.el.chain().lock();
    let state = chain.state_at(hash).expect("state");
    let balance = |a: &Address| state.account(a).expect("db").map(|acc| acc.balance);
    assert_eq!(
        balance(&alice),
        Some(alloy_primitives::U256::from(60_000_000_000u64))
    );
    assert_eq!(
        balance(&bob),
        Some(alloy_primitives::U256::from(70_000_000_000u64))
    );
}

#[tokio::test]
async fn el_invalid_payload() {
    let mut s = setup().await;
    let mut block = proposal(&mut s).await;
    // A wrong state root with a consistent block hash: only execution can tell.
    block.execution_payload.state_root = B256::repeat_byte(0x77);
    rehash(&mut block);
    let signed = sign_block(&s.node.chain, block);
    let head = s.node.chain.head().clone();
    let err = s
        .node
        .chain
        .import_block(&signed)
        .await
        .expect_err("EL says INVALID");
    assert!(
        matches!(err.block_error(), Some(BlockError::ElInvalid { .. })),
        "{err:?}"
    );
    assert_eq!(s.node.chain.head(), &head);
    assert!(!s
        .node
        .chain
        .store()
        .contains(&signed.root())
        .expect("store"));
    // A wrong block hash alone is also INVALID.
    let mut block = proposal(&mut s).await;
    block.execution_payload.block_hash = B256::repeat_byte(0x78);
    let signed = sign_block(&s.node.chain, block);
    let err = s
        .node
        .chain
        .import_block(&signed)
        .await
        .expect_err("EL says INVALID");
    assert!(
        matches!(err.block_error(), Some(BlockError::ElInvalid { .. })),
        "{err:?}"
    );
    // The untampered block still imports.
    let good = proposal(&mut s).await;
    let signed = sign_block(&s.node.chain, good);
    s.node
        .chain
        .import_block(&signed)
        .await
        .expect("valid block imports");
}
