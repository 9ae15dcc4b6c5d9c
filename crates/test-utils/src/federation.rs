//! Authorities for consensus tests and benches: each a real embedded EL (Engine API over
//! HTTP + JWT), a LevelDB store and a consensus chain, on a dev spec; and a federation of them
//! running as consensus services connected by the in-process bus.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alys_consensus::chain_store::ChainStore;
use alys_consensus::{
    Chain, ChainStatus, ConsensusService, Input, LocalNetwork, ManualTimeSource, PegInVerifier,
    ServiceHandle, Signer, SlotClock,
};
use alys_evm::EmbeddedEl;
use alys_primitives::dev::dev_secret_key;
use alys_primitives::ChainSpec;
use alys_store::Store;

use crate::el::{Engine, TestEl};

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The dev chain with `authorities` authorities and slots of `slot_ms`.
pub fn dev_spec(authorities: usize, slot_ms: u64) -> Arc<ChainSpec> {
    init_tracing();
    let mut spec = ChainSpec::dev(authorities).expect("dev spec");
    spec.slot_duration_ms = slot_ms;
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

/// The slot clock of `spec` driven by `time`.
pub fn manual_clock(spec: &ChainSpec, time: &ManualTimeSource) -> SlotClock {
    SlotClock::new(spec.slot_duration_ms, Arc::new(time.clone()))
}

/// Authority `index`'s signer (dev keys).
pub fn signer(spec: &ChainSpec, index: usize) -> Signer {
    Signer::new(spec, dev_secret_key(index)).expect("dev key is an authority")
}

/// One node: EL + consensus chain (not yet in a service).
pub struct TestNode {
    /// Its data directory (`consensus` store and the EL's).
    pub dir: PathBuf,
    /// Its execution client.
    pub el: EmbeddedEl,
    /// A client to the node's EL (clone of the chain's).
    pub engine: Engine,
    /// The consensus chain.
    pub chain: Chain<Engine>,
}

/// Opens the consensus chain stored in `dir/consensus`, driving `engine`.
pub async fn open_chain(
    dir: &Path,
    spec: Arc<ChainSpec>,
    clock: SlotClock,
    engine: Engine,
    pegins: Arc<dyn PegInVerifier>,
) -> Chain<Engine> {
    let store = Arc::new(Store::open(&dir.join("consensus")).expect("store"));
    Chain::open(spec, clock, engine, store, pegins)
        .await
        .expect("chain opens")
}

/// Starts a node on `dir`: an EL on the spec's genesis and a chain on `clock`.
pub async fn start_node(
    dir: &Path,
    spec: Arc<ChainSpec>,
    clock: SlotClock,
    pegins: Arc<dyn PegInVerifier>,
) -> TestNode {
    let TestEl { el, engine, .. } = TestEl::start(dir, spec.genesis.clone()).await;
    let chain = open_chain(dir, spec, clock, engine.clone(), pegins).await;
    TestNode {
        dir: dir.to_path_buf(),
        el,
        engine,
        chain,
    }
}

/// `n` fresh temporary directories, one per node.
pub fn temp_dirs(n: usize) -> Vec<tempfile::TempDir> {
    (0..n)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect()
}

/// One node per directory, node `i` verifying peg-ins with `pegins(i)`.
pub async fn start_nodes(
    dirs: &[tempfile::TempDir],
    spec: &Arc<ChainSpec>,
    clock: &SlotClock,
    pegins: impl Fn(usize) -> Arc<dyn PegInVerifier>,
) -> Vec<TestNode> {
    let mut nodes = Vec::with_capacity(dirs.len());
    for (i, dir) in dirs.iter().enumerate() {
        nodes.push(start_node(dir.path(), spec.clone(), clock.clone(), pegins(i)).await);
    }
    nodes
}

/// Authorities running as services, connected by the in-process bus.
pub struct RunningFederation {
    /// Each service's input channel.
    pub inputs: Vec<tokio::sync::mpsc::Sender<Input>>,
    /// Each service's chain status.
    pub statuses: Vec<tokio::sync::watch::Receiver<ChainStatus>>,
    /// Each node's chain store.
    pub stores: Vec<ChainStore>,
    /// The bus.
    pub net: LocalNetwork,
    /// Each node's execution client.
    pub els: Vec<EmbeddedEl>,
}

/// Spawns node `i` as authority `i`'s service and connects them all.
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

impl RunningFederation {
    /// Stops every execution client.
    pub async fn stop_els(self) {
        for el in self.els {
            el.stop().await;
        }
    }
}
