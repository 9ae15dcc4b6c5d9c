//! Chain queries: `getheadblock`, `getblockbyheight`, `getblockbyhash`, `getfinalized`,
//! `getsyncstatus`, `getchainspec`.

use std::sync::Arc;

use alloy_primitives::B256;
use alys_consensus::{chain_store::ChainStore, ChainStatus};
use alys_primitives::{ChainSpec, SignedConsensusBlock};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::{Methods, RpcError};

/// The p2p network's state as `getsyncstatus` reports it (the app fills it from the network
/// service; it stays at its default, `enabled: false`, without a network).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkSummary {
    /// The node runs the p2p network.
    pub enabled: bool,
    /// Connected peers on our chain.
    pub peers: usize,
    /// The highest head height a peer reports (the sync target).
    pub target_height: u64,
    /// A block request to catch up is outstanding.
    pub syncing: bool,
    /// Blocks per second imported while catching up (0 when following gossip).
    pub blocks_per_s: f64,
    /// Peers banned since start.
    pub bans: u64,
}

/// What the chain methods read: the consensus store, the live status and the spec.
#[derive(Clone)]
pub struct ChainView {
    /// Consensus store.
    pub store: ChainStore,
    /// Status published by the consensus service after every input.
    pub status: watch::Receiver<ChainStatus>,
    /// The chain spec.
    pub spec: Arc<ChainSpec>,
    /// The slot clock's current slot (for sync status).
    pub current_slot: Arc<dyn Fn() -> u64 + Send + Sync>,
    /// The p2p network's state (for sync status).
    pub network: watch::Receiver<NetworkSummary>,
}

fn block_json(block: &SignedConsensusBlock, height: u64) -> Value {
    let m = &block.message;
    let payload = &m.execution_payload;
    json!({
        "root": block.root(),
        "height": height,
        "slot": m.slot,
        "parentRoot": m.parent_root,
        "executionBlockHash": payload.block_hash,
        "executionBlockNumber": payload.block_number,
        "transactions": payload.transactions.len(),
        "withdrawals": payload.withdrawals.len(),
        "pegins": m.pegins.len(),
        "auxpow": m.auxpow.is_some(),
        "approvals": block.approval.bitfield.iter().filter(|b| *b).count(),
    })
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::internal(e.to_string())
}

fn by_root(view: &ChainView, root: B256) -> Result<Value, RpcError> {
    let block = view.store.block(&root).map_err(internal)?;
    let height = view.store.height_of(&root).map_err(internal)?;
    match (block, height) {
        (Some(b), Some(h)) => Ok(block_json(&b, h)),
        _ => Err(RpcError::not_found(format!("block {root} not found"))),
    }
}

fn param<T: serde::de::DeserializeOwned>(
    params: &[Value],
    i: usize,
    what: &str,
) -> Result<T, RpcError> {
    let value = params
        .get(i)
        .ok_or_else(|| RpcError::invalid_params(format!("missing parameter `{what}`")))?;
    serde_json::from_value(value.clone())
        .map_err(|e| RpcError::invalid_params(format!("`{what}`: {e}")))
}

/// Registers the chain query methods.
pub fn register_chain_methods(methods: &mut Methods, view: ChainView) {
    let v = view.clone();
    methods.register("getheadblock", "getheadblock: the head block", move |_| {
        let root = v.status.borrow().head_root;
        by_root(&v, root)
    });
    let v = view.clone();
    methods.register(
        "getfinalized",
        "getfinalized: the last finalized block",
        move |_| {
            let root = v.status.borrow().finalized_root;
            by_root(&v, root)
        },
    );
    let v = view.clone();
    methods.register(
        "getblockbyheight",
        "getblockbyheight <height>: the canonical block at a height",
        move |p| {
            let height: u64 = param(&p, 0, "height")?;
            match v.store.canonical_root(height).map_err(internal)? {
                Some(root) => by_root(&v, root),
                None => Err(RpcError::not_found(format!("no block at height {height}"))),
            }
        },
    );
    let v = view.clone();
    methods.register(
        "getblockbyhash",
        "getblockbyhash <root>: a block by its root",
        move |p| {
            let root: B256 = param(&p, 0, "root")?;
            by_root(&v, root)
        },
    );
    let v = view.clone();
    // Authorities on the public dev keys: reported so a monitoring check sees an insecure spec.
    let dev_keys = alys_primitives::dev::dev_key_authorities(&view.spec);
    methods.register(
        "getsyncstatus",
        "getsyncstatus: head, finalized, the current slot, merged-mining status (halting), execution-client health and authorities on public dev keys",
        move |_| {
            let s = v.status.borrow().clone();
            let current = (v.current_slot)();
            let n = v.network.borrow().clone();
            Ok(json!({
                "network": {
                    "enabled": n.enabled,
                    "peers": n.peers,
                    "targetHeight": n.target_height,
                    "syncing": n.syncing,
                    "blocksPerSecond": n.blocks_per_s,
                    "bans": n.bans,
                },
                "headHeight": s.head_height,
                "headSlot": s.head_slot,
                "headRoot": s.head_root,
                "finalizedHeight": s.finalized_height,
                "finalizedRoot": s.finalized_root,
                "currentSlot": current,
                "slotsBehind": current.saturating_sub(s.head_slot),
                "devKeyAuthorities": dev_keys,
                "mergedMining": {
                    "enabled": s.pow.enabled,
                    "finalizedHeight": s.pow.finalized_height,
                    "rangeStart": s.pow.range_start,
                    "bits": format!("{:08x}", s.pow.bits),
                    "blocksWithoutPow": s.pow.blocks_without_pow,
                    "maxBlocksWithoutPow": s.pow.max_blocks_without_pow,
                    "powRequired": s.pow.pow_required,
                    "halted": s.pow.halted,
                    "haltReason": s.pow.halted.then(|| format!(
                        "block {} needs an AuxPoW: {} blocks since the last finalized one (max {}); waiting for a miner (createauxblock/submitauxblock)",
                        s.head_height.saturating_add(1),
                        s.pow.blocks_without_pow.saturating_add(1),
                        s.pow.max_blocks_without_pow
                    )),
                    "pendingProofs": s.pow.pending_proofs,
                    "pendingFeesWei": s.pow.pending_fees_wei.to_string(),
                },
                "executionClient": match &s.el {
                    None => json!({"ok": true, "error": null}),
                    Some(p) => json!({
                        "ok": false,
                        "error": {
                            "method": p.method,
                            "message": p.error,
                            "hint": p.hint,
                            "sinceUnixMs": p.since_unix_ms,
                            "failures": p.failures,
                        },
                    }),
                },
            }))
        },
    );
    let v = view;
    methods.register(
        "getchainspec",
        "getchainspec: the chain spec and its hash",
        move |_| {
            let spec: Value = serde_json::from_str(&v.spec.canonical_json()).map_err(internal)?;
            Ok(json!({"specHash": v.spec.spec_hash(), "spec": spec}))
        },
    );
}
