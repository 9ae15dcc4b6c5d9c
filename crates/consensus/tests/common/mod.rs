//! Shared test harness: nodes made of a real embedded EL (Engine API over HTTP + JWT), a
//! LevelDB store and a consensus chain, on a 3-authority dev spec with 1-second slots and a
//! manual clock.

#![allow(dead_code)]

use alloy::consensus::TxEnvelope;
use alloy::rpc::types::engine::{
    CancunPayloadFields, ExecutionPayload as EnginePayload, ExecutionPayloadSidecar, JwtSecret,
};
use alloy_primitives::{FixedBytes, B256};
use alys_consensus::approvals::aggregate_approval;
use alys_consensus::chain_store::ChainStore;
use alys_consensus::schedule::proposer_index;
use alys_consensus::{
    Chain, ChainStatus, ConsensusService, Input, LocalNetwork, ManualTimeSource, NoPegIns,
    PegInVerifier, ServiceHandle, Signer, SlotClock,
};
use alys_engine::{EngineClientConfig, HttpEngineClient};
use alys_evm::{ElConfig, EmbeddedEl};
use alys_primitives::block::AggregateApproval;
use alys_primitives::dev::dev_secret_key;
use alys_primitives::signing::{sign_root, Domain};
use alys_primitives::{BlockProposal, ChainSpec, ConsensusBlock, SignedConsensusBlock};
use alys_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub type Engine = HttpEngineClient;

/// Log to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The test spec: dev chain, 3 authorities, 1 s slots.
pub fn spec() -> Arc<ChainSpec> {
    init_tracing();
    let mut spec = ChainSpec::dev(3).expect("dev spec");
    spec.slot_duration_ms = 1000;
    spec.validate().expect("valid");
    Arc::new(spec)
}

/// A manual clock starting at the current wall-clock second (EL timestamps stay realistic).
pub fn manual_time() -> ManualTimeSource {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64;
    ManualTimeSource::new(now / 1000 * 1000)
}

/// A running EL and an engine client for it.
pub struct El {
    pub el: EmbeddedEl,
    pub engine: Engine,
}

pub async fn start_el(datadir: &Path, spec: &ChainSpec) -> El {
    let jwt = JwtSecret::random();
    let el = EmbeddedEl::start(ElConfig {
        datadir: datadir.to_path_buf(),
        genesis: spec.genesis.clone(),
        authrpc_addr: "127.0.0.1:0".parse().expect("addr"),
        http: None,
        jwt_secret: jwt,
    })
    .await
    .expect("EL starts");
    let engine = HttpEngineClient::new(&el.engine_url(), jwt, EngineClientConfig::default())
        .expect("engine client");
    El { el, engine }
}

/// One node: EL + consensus chain (not yet in a service).
pub struct TestNode {
    pub dir: PathBuf,
    pub el: EmbeddedEl,
    /// A client to the node's EL (clone of the chain's).
    pub engine: Engine,
    pub chain: Chain<Engine>,
}

pub async fn open_chain(
    dir: &Path,
    spec: Arc<ChainSpec>,
    time: &ManualTimeSource,
    engine: Engine,
    pegins: Arc<dyn PegInVerifier>,
) -> Chain<Engine> {
    let store = Arc::new(Store::open(&dir.join("consensus")).expect("store"));
    let clock = SlotClock::new(spec.slot_duration_ms, Arc::new(time.clone()));
    Chain::open(spec, clock, engine, store, pegins)
        .await
        .expect("chain opens")
}

pub async fn node(dir: &Path, spec: Arc<ChainSpec>, time: &ManualTimeSource) -> TestNode {
    node_with(dir, spec, time, Arc::new(NoPegIns)).await
}

pub async fn node_with(
    dir: &Path,
    spec: Arc<ChainSpec>,
    time: &ManualTimeSource,
    pegins: Arc<dyn PegInVerifier>,
) -> TestNode {
    let El { el, engine } = start_el(dir, &spec).await;
    let chain = open_chain(dir, spec, time, engine.clone(), pegins).await;
    TestNode {
        dir: dir.to_path_buf(),
        el,
        engine,
        chain,
    }
}

pub fn signer(spec: &ChainSpec, index: usize) -> Signer {
    Signer::new(spec, dev_secret_key(index)).expect("dev key is an authority")
}

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
        indices
            .iter()
            .map(|i| (*i, sign_root(&dev_secret_key(*i), root, domain))),
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

pub fn zero_sig() -> FixedBytes<96> {
    FixedBytes::ZERO
}

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

/// Authorities running as services, connected by the in-process bus.
pub struct RunningFederation {
    pub inputs: Vec<tokio::sync::mpsc::Sender<Input>>,
    pub statuses: Vec<tokio::sync::watch::Receiver<ChainStatus>>,
    pub stores: Vec<ChainStore>,
    pub net: LocalNetwork,
    pub els: Vec<EmbeddedEl>,
}

/// Spawn node i as authority i's service and connect them all.
pub fn run_federation(spec: &ChainSpec, nodes: Vec<TestNode>) -> RunningFederation {
    let (mut inputs, mut statuses, mut stores, mut links, mut els) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (i, n) in nodes.into_iter().enumerate() {
        stores.push(n.chain.store().clone());
        let ServiceHandle {
            inputs: tx,
            outbound,
            status,
            ..
        } = ConsensusService::spawn(n.chain, Some(signer(spec, i)));
        inputs.push(tx.clone());
        statuses.push(status);
        links.push((tx, outbound));
        els.push(n.el);
    }
    RunningFederation {
        inputs,
        statuses,
        stores,
        net: LocalNetwork::connect(links),
        els,
    }
}
