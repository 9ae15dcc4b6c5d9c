//! Chain-level helpers of the peg tests, shared with the consensus tests through
//! `alys_test_utils::blocks`; and a node as `alys` wires it for peg-ins: the embedded regtest
//! devnet (Bitcoin Core RPC over HTTP), the Bitcoin follower feeding the deposit index, the
//! real peg-in verifier, a real embedded EL and the consensus chain, over one store.

#![allow(dead_code)]

// Each test file uses a part of these.
#[allow(unused_imports)]
pub(crate) use alys_test_utils::blocks::*;
#[allow(unused_imports)]
pub(crate) use alys_test_utils::el::Engine;
#[allow(unused_imports)]
pub(crate) use alys_test_utils::federation::{
    init_tracing, manual_time, open_chain as open_chain_on, run_federation, signer,
    RunningFederation, TestNode,
};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alys_bitcoin::bitcoin::Txid;
use alys_bitcoin::{ClientConfig, CoreRpcClient, Follower, FollowerConfig};
use alys_btc_devnet::BtcDevnet;
use alys_consensus::chain_store::ChainStore;
use alys_consensus::validate::BlockError;
use alys_consensus::{genesis_block, Chain, ImportError, ManualTimeSource};
use alys_federation::{Federation, FollowerPegIns};
use alys_primitives::{Address, ChainSpec, SignedConsensusBlock};
use alys_store::Store;
use alys_test_utils::devnet::{core_client, start_devnet};
use alys_test_utils::el::TestEl;
use alys_test_utils::federation::manual_clock;
use serde_json::json;

/// Calls `method` on the devnet.
pub(crate) async fn call(
    c: &CoreRpcClient,
    method: &str,
    params: Vec<serde_json::Value>,
) -> serde_json::Value {
    c.call(method, params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// Mines `n` blocks on the devnet.
pub(crate) async fn mine(c: &CoreRpcClient, n: u64) {
    let addr = call(c, "getnewaddress", vec![]).await;
    call(c, "generatetoaddress", vec![json!(n), addr]).await;
}

/// A deposit of `btc` to the federation for `recipient`, built and signed by the devnet wallet.
pub(crate) async fn send_deposit(
    c: &CoreRpcClient,
    fed: &Federation,
    btc: f64,
    recipient: Address,
) -> Txid {
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

/// A node with peg-ins as `alys` wires it (see the module docs), on a manual clock.
pub(crate) struct PegNode {
    /// The devnet's Core RPC.
    pub(crate) rpc: Arc<CoreRpcClient>,
    /// The node's store (follower, minted set, chain).
    pub(crate) store: Arc<Store>,
    /// The federation of the spec.
    pub(crate) federation: Arc<Federation>,
    /// The Bitcoin follower (caught up by the test).
    pub(crate) follower: Follower,
    /// The peg-in verifier the chain uses.
    pub(crate) verifier: Arc<FollowerPegIns>,
    /// The consensus chain.
    pub(crate) chain: Chain<Engine>,
    /// The execution client.
    pub(crate) el: TestEl,
    /// The regtest Bitcoin.
    pub(crate) devnet: BtcDevnet,
}

impl PegNode {
    /// Starts the devnet and the node of `spec` in `dir`, on the clock `time`.
    pub(crate) async fn start(dir: &Path, spec: Arc<ChainSpec>, time: &ManualTimeSource) -> Self {
        let devnet = start_devnet(Some(&dir.join("btc"))).await;
        let rpc = Arc::new(core_client(
            &devnet,
            ClientConfig {
                timeout: Duration::from_secs(10),
                ..ClientConfig::default()
            },
        ));
        let store = Arc::new(Store::open(&dir.join("consensus")).expect("store"));
        let federation = Arc::new(Federation::from_spec(&spec).expect("federation"));
        let follower = Follower::open(
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
        let el = TestEl::start(dir, spec.genesis.clone()).await;
        let clock = manual_clock(&spec, time);
        let chain = Chain::open(
            spec,
            clock,
            el.engine.clone(),
            store.clone(),
            verifier.clone(),
        )
        .await
        .expect("chain");
        Self {
            rpc,
            store,
            federation,
            follower,
            verifier,
            chain,
            el,
            devnet,
        }
    }

    /// A deposit of `btc` for `recipient`, confirmed as the spec requires and seen by the
    /// follower (the devnet's coinbases mature first).
    pub(crate) async fn confirmed_deposit(&mut self, btc: f64, recipient: Address) -> Txid {
        mine(&self.rpc, 101).await;
        let txid = send_deposit(&self.rpc, &self.federation, btc, recipient).await;
        let required = self
            .chain
            .spec()
            .required_btc_confirmations
            .expect("dev spec sets it");
        mine(&self.rpc, u64::from(required)).await;
        self.follower.catch_up().await.expect("follower");
        txid
    }
}

/// Imports `block`, which must be invalid for a reason `expected` accepts; the head does not
/// move and the block is not stored.
pub(crate) async fn assert_invalid(
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
