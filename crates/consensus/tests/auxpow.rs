//! Merged mining in consensus against the real embedded EL: a block carrying an AuxPoW
//! finalizes its range (fork choice, store, restart), and every AuxPoW rule (and the halting
//! rule) rejects with its typed error, leaving store and fork choice unchanged.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alloy_primitives::{Address, B256};
use alys_auxpow::bitcoin::{CompactTarget, Target};
use alys_auxpow::{AuxPowError, ParentBlockBuilder, WorkCommitment};
use alys_consensus::pow::PowError;
use alys_consensus::validate::BlockError;
use alys_consensus::{BlockInfo, Chain, ImportError, ManualTimeSource, NoPegIns, ProduceError};
use alys_primitives::{AuxPowHeader, ChainSpec, ConsensusBlock, SignedConsensusBlock};
use common::*;
use ssz_types::{ListEncodedOption, VariableList};
use std::sync::Arc;

const MINER: Address = Address::repeat_byte(0x6d);

/// A solved AuxPoW header for a child of `head` (range `finalized + 1 ..= head`).
fn proof_with(
    chain: &Chain<Engine>,
    head: &BlockInfo,
    builder: ParentBlockBuilder,
    chain_id: u16,
) -> AuxPowHeader {
    let params = chain.pow_params().expect("pow enabled");
    let bits = params.expected_bits(&head.pow);
    let range_start = head.pow.finalized_height + 1;
    let hash = WorkCommitment {
        chain_id,
        head_root: head.root,
        range_start,
        payout: MINER,
    }
    .work_hash();
    let target = Target::from_compact(bits);
    let aux = builder
        .mine(&hash, &target, 100_000)
        .expect("regtest target");
    AuxPowHeader::new(
        range_start,
        head.root,
        MINER,
        bits.to_consensus(),
        aux.to_bytes(),
    )
    .expect("size")
}

fn proof(chain: &Chain<Engine>) -> AuxPowHeader {
    let head = chain.head().clone();
    let id = chain.spec().auxpow_chain_id;
    proof_with(chain, &head, ParentBlockBuilder::default(), id)
}

fn with_header(mut block: ConsensusBlock, header: Option<&[u8]>) -> ConsensusBlock {
    block.auxpow = ListEncodedOption(header.map(|h| VariableList::new(h.to_vec()).expect("size")));
    block
}

async fn assert_rejected(
    chain: &mut Chain<Engine>,
    block: SignedConsensusBlock,
    expected: PowError,
) {
    let head = chain.head().clone();
    let finalized = chain.finalized().clone();
    let root = block.root();
    match chain.import_block(&block).await {
        Err(ImportError::Invalid(BlockError::AuxPow(e))) => assert_eq!(e, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
    assert_eq!(chain.head(), &head);
    assert_eq!(chain.finalized(), &finalized);
    assert!(!chain.store().contains(&root).expect("store"));
}

struct Setup {
    _dir: tempfile::TempDir,
    node: TestNode,
    time: ManualTimeSource,
    slot: u64,
}

async fn setup_spec(spec: Arc<ChainSpec>, blocks: u64) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let time = manual_time();
    let mut node = node(dir.path(), spec, &time).await;
    let first = node.chain.clock().current_slot() + 1;
    for i in 0..blocks {
        extend(&mut node.chain, &time, first + i).await;
    }
    Setup {
        _dir: dir,
        node,
        time,
        slot: first + blocks,
    }
}

#[tokio::test]
async fn pow_block_finalizes_its_range_and_finality_survives_restart() {
    let s = setup_spec(spec(), 3).await;
    let Setup {
        _dir,
        node,
        time,
        slot,
    } = s;
    let TestNode {
        el,
        mut chain,
        engine,
        dir,
    } = node;
    let end = chain.head().clone();
    assert_eq!(chain.status().pow.range_start, 1);
    assert!(chain
        .add_pending_auxpow(proof(&chain))
        .expect("valid proof"));
    assert_eq!(chain.status().pow.pending_proofs, 1);
    let signed = extend(&mut chain, &time, slot).await;
    let header = AuxPowHeader::decode(signed.message.auxpow.as_ref().expect("carries the proof"))
        .expect("header");
    assert_eq!((header.range_start, header.range_end), (1, end.root));
    assert_eq!(chain.finalized().root, end.root);
    assert_eq!(chain.status().finalized_height, 3);
    assert_eq!(chain.head().pow.pow_count, 1);
    assert_eq!(chain.store().finalized_root().expect("store"), end.root);
    assert_eq!(chain.status().pow.pending_proofs, 0, "used proof pruned");
    // Next range starts at 4.
    assert_eq!(chain.status().pow.range_start, 4);
    let before = chain.status();
    drop(chain);
    let chain = open_chain(&dir, spec(), &time, engine, Arc::new(NoPegIns)).await;
    assert_eq!(
        chain.status(),
        before,
        "finality and PoW index survive restart"
    );
    assert_eq!(chain.finalized().root, end.root);
    drop(chain);
    el.stop().await;
}

#[tokio::test]
async fn auxpow_rules_each_reject_with_their_error() {
    let mut s = setup_spec(spec(), 2).await;
    let chain = &s.node.chain;
    let head = chain.head().clone();
    let id = chain.spec().auxpow_chain_id;
    let good = proof(chain);
    assert!(s
        .node
        .chain
        .add_pending_auxpow(good.clone())
        .expect("valid"));
    let base = produce(&s.node.chain, &s.time, s.slot).await.block;
    assert!(base.auxpow.is_some());
    let chain = &mut s.node.chain;

    let tamper = |chain: &Chain<Engine>, h: &AuxPowHeader| {
        sign_block(chain, with_header(base.clone(), Some(&h.encode())))
    };

    // Malformed header bytes.
    let b = sign_block(chain, with_header(base.clone(), Some(&[1, 2, 3])));
    let e = match chain.import_block(&b).await {
        Err(ImportError::Invalid(BlockError::AuxPow(e))) => e,
        other => panic!("{other:?}"),
    };
    assert!(matches!(e, PowError::MalformedHeader(_)), "{e:?}");

    // Range start not right after the finalized block.
    let mut h = good.clone();
    h.range_start = 2;
    let b = tamper(chain, &h);
    assert_rejected(
        chain,
        b,
        PowError::WrongRangeStart {
            expected: 1,
            got: 2,
        },
    )
    .await;

    // Range end not an ancestor of the parent.
    let mut h = good.clone();
    h.range_end = B256::repeat_byte(0x99);
    let b = tamper(chain, &h);
    assert_rejected(
        chain,
        b,
        PowError::RangeEndNotAncestor(B256::repeat_byte(0x99)),
    )
    .await;

    // Bits not the expected bits (the proof meets them, but they are not the rule's).
    let mut h = good.clone();
    h.bits = 0x207f_fffe;
    let b = tamper(chain, &h);
    assert_rejected(
        chain,
        b,
        PowError::WrongBits {
            expected: 0x207f_ffff,
            got: 0x207f_fffe,
        },
    )
    .await;

    // Payout redirected after mining: the work hash differs, the commitment is not found.
    let mut h = good.clone();
    h.payout = Address::repeat_byte(0x01);
    let b = tamper(chain, &h);
    assert_rejected(chain, b, PowError::Proof(AuxPowError::ChainRootNotFound)).await;

    // Mined for another chain id: same.
    let h = proof_with(chain, &head, ParentBlockBuilder::default(), 1);
    let b = tamper(chain, &h);
    assert_rejected(chain, b, PowError::Proof(AuxPowError::ChainRootNotFound)).await;

    // Parent block carrying our chain id.
    let builder = ParentBlockBuilder {
        version: i32::from(id) << 16,
        ..ParentBlockBuilder::default()
    };
    let h = proof_with(chain, &head, builder, id);
    let b = tamper(chain, &h);
    assert_rejected(
        chain,
        b,
        PowError::Proof(AuxPowError::ParentHasOurChainId {
            chain_id: i32::from(id),
        }),
    )
    .await;

    // Insufficient work: a parent header whose hash misses the target.
    let hash = WorkCommitment {
        chain_id: id,
        head_root: head.root,
        range_start: 1,
        payout: MINER,
    }
    .work_hash();
    let target = Target::from_compact(CompactTarget::from_consensus(0x207f_ffff));
    let mut aux = ParentBlockBuilder::default().build(&hash);
    while target.is_met_by(aux.parent_header.block_hash()) {
        aux.parent_header.nonce += 1;
    }
    aux.parent_hash = aux.parent_header.block_hash();
    let mut h = good.clone();
    h.auxpow = VariableList::new(aux.to_bytes()).expect("size");
    let b = tamper(chain, &h);
    assert_rejected(chain, b, PowError::Proof(AuxPowError::InsufficientWork)).await;

    // Truncated and trailing proof bytes.
    let mut h = good.clone();
    let bytes = good.auxpow.to_vec();
    h.auxpow = VariableList::new(bytes[..bytes.len() - 1].to_vec()).expect("size");
    let b = tamper(chain, &h);
    assert_rejected(chain, b, PowError::Proof(AuxPowError::Truncated)).await;
    let mut long = bytes.clone();
    long.push(0);
    h.auxpow = VariableList::new(long).expect("size");
    let b = tamper(chain, &h);
    assert_rejected(
        chain,
        b,
        PowError::Proof(AuxPowError::TrailingBytes { extra: 1 }),
    )
    .await;

    // The untampered block imports and finalizes.
    let b = sign_block(chain, base.clone());
    chain.import_block(&b).await.expect("valid PoW block");
    assert_eq!(chain.finalized().root, head.root);
}

#[tokio::test]
async fn production_halts_without_pow_and_resumes_with_it() {
    let mut spec = ChainSpec::clone(&spec());
    spec.max_blocks_without_pow = 2;
    let spec = Arc::new(spec);
    let mut s = setup_spec(spec.clone(), 2).await;
    let chain = &mut s.node.chain;
    assert!(chain.status().pow.halted);
    // The producer refuses.
    s.time.set_ms(chain.clock().slot_start_ms(s.slot));
    let err = chain
        .produce_block(s.slot, &proposer_signer(&spec, s.slot))
        .await
        .expect_err("halted");
    assert!(
        matches!(
            err,
            ProduceError::PowRequired {
                height: 3,
                finalized: 0,
                max: 2
            }
        ),
        "{err:?}"
    );
    // A block without AuxPoW is invalid at height 3 (3 − 0 > 2): strip the proof from a
    // proposal carrying one (no fees, so the withdrawals are the same).
    assert!(chain.add_pending_auxpow(proof(chain)).expect("valid"));
    assert!(!chain.status().pow.halted);
    let with_pow = produce(chain, &s.time, s.slot).await.block;
    let stripped = sign_block(chain, with_header(with_pow.clone(), None));
    assert_rejected(
        chain,
        stripped,
        PowError::PowRequired {
            height: 3,
            finalized: 0,
            max: 2,
        },
    )
    .await;
    // With the proof it imports, finalizes 1..=2 and production continues.
    let b = sign_block(chain, with_pow);
    chain.import_block(&b).await.expect("PoW block");
    assert_eq!(chain.status().finalized_height, 2);
    assert!(!chain.status().pow.halted);
    extend(chain, &s.time, s.slot + 1).await;
    assert_eq!(chain.head().height, 4);
}
