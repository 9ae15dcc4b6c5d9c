//! Chain-level block helpers of the consensus and peg tests: the 3-authority dev spec with
//! 1-second slots on a manual clock, nodes on it, and producing, signing and tampering with
//! blocks (any node plays any authority).

use std::path::Path;
use std::sync::Arc;

use alloy::consensus::TxEnvelope;
use alloy::primitives::{FixedBytes, B256};
use alloy::rpc::types::engine::{
    CancunPayloadFields, ExecutionPayload as EnginePayload, ExecutionPayloadSidecar,
};
use alys_consensus::approvals::aggregate_approval;
use alys_consensus::schedule::proposer_index;
use alys_consensus::{Chain, ManualTimeSource, NoPegIns, PegInVerifier, Signer};
use alys_primitives::block::AggregateApproval;
use alys_primitives::dev::dev_secret_key;
use alys_primitives::signing::{sign_approval, Domain};
use alys_primitives::{BlockProposal, ChainSpec, ConsensusBlock, SignedConsensusBlock};

use crate::el::Engine;
use crate::federation::{manual_clock, signer, start_node, start_nodes, temp_dirs, TestNode};

/// The test spec: dev chain, 3 authorities, 1 s slots.
pub fn spec() -> Arc<ChainSpec> {
    crate::federation::dev_spec(3, 1000)
}

/// Opens the chain stored in `dir` on the manual clock `time`.
pub async fn open_chain(
    dir: &Path,
    spec: Arc<ChainSpec>,
    time: &ManualTimeSource,
    engine: Engine,
    pegins: Arc<dyn PegInVerifier>,
) -> Chain<Engine> {
    let clock = manual_clock(&spec, time);
    crate::federation::open_chain(dir, spec, clock, engine, pegins).await
}

/// A node on `dir` on the manual clock `time`, rejecting every peg-in.
pub async fn node(dir: &Path, spec: Arc<ChainSpec>, time: &ManualTimeSource) -> TestNode {
    node_with(dir, spec, time, Arc::new(NoPegIns)).await
}

/// A node on `dir` on the manual clock `time`, verifying peg-ins with `pegins`.
pub async fn node_with(
    dir: &Path,
    spec: Arc<ChainSpec>,
    time: &ManualTimeSource,
    pegins: Arc<dyn PegInVerifier>,
) -> TestNode {
    let clock = manual_clock(&spec, time);
    start_node(dir, spec, clock, pegins).await
}

/// Three nodes on the manual clock `time`, in fresh directories.
pub async fn start_three(
    spec: &Arc<ChainSpec>,
    time: &ManualTimeSource,
) -> (Vec<tempfile::TempDir>, Vec<TestNode>) {
    let dirs = temp_dirs(3);
    let nodes = start_nodes(&dirs, spec, &manual_clock(spec, time), |_| {
        Arc::new(NoPegIns)
    })
    .await;
    (dirs, nodes)
}

/// The signer of `slot`'s proposer.
pub fn proposer_signer(spec: &ChainSpec, slot: u64) -> Signer {
    signer(spec, proposer_index(slot, spec.authorities.len()))
}

/// Aggregate approval of `block` by authorities `indices`, in `domain`.
pub fn approve(
    block: &ConsensusBlock,
    indices: &[usize],
    n: usize,
    domain: Domain,
) -> AggregateApproval {
    let root = block.root();
    aggregate_approval(
        n,
        indices.iter().map(|i| {
            (
                *i,
                sign_approval(&dev_secret_key(*i), root, block.slot, domain),
            )
        }),
    )
    .expect("aggregate")
}

/// Sign `block` by its proposer and the next authority (threshold 2 of 3).
pub fn sign_block(chain: &Chain<Engine>, block: ConsensusBlock) -> SignedConsensusBlock {
    let n = chain.spec().authorities.len();
    let p = proposer_index(block.slot, n);
    let approval = approve(&block, &[p, (p + 1) % n], n, chain.approval_domain());
    SignedConsensusBlock {
        message: block,
        approval,
    }
}

/// Produce the block of `slot` on the chain's head with the slot's proposer key (any node can
/// play any authority in chain-level tests).
pub async fn produce(chain: &Chain<Engine>, time: &ManualTimeSource, slot: u64) -> BlockProposal {
    time.set_ms(chain.clock().slot_start_ms(slot));
    chain
        .produce_block(slot, &proposer_signer(chain.spec(), slot))
        .await
        .expect("produce")
}

/// Produce, sign (threshold) and import the block of `slot`.
pub async fn extend(
    chain: &mut Chain<Engine>,
    time: &ManualTimeSource,
    slot: u64,
) -> SignedConsensusBlock {
    let p = produce(chain, time, slot).await;
    let signed = sign_block(chain, p.block);
    chain.import_block(&signed).await.expect("import");
    signed
}

/// An all-zero signature (invalid).
pub fn zero_sig() -> FixedBytes<96> {
    FixedBytes::ZERO
}

/// The block's root.
pub fn root_of(b: &SignedConsensusBlock) -> B256 {
    b.root()
}

/// Recompute the payload's block hash after tampering with it.
pub fn rehash(block: &mut ConsensusBlock) {
    let sidecar =
        ExecutionPayloadSidecar::v3(CancunPayloadFields::new(block.parent_root, Vec::new()));
    let b = EnginePayload::V3(block.execution_payload.to_engine())
        .try_into_block_with_sidecar::<TxEnvelope>(&sidecar)
        .expect("block");
    block.execution_payload.block_hash = b.header.hash_slow();
}
