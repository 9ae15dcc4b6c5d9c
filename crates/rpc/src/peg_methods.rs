//! Peg-in methods of the node RPC (DESIGN §7, §11): `getdepositaddress`, `getpeginstatus`,
//! `getfederation`; and [`PEG_READ_METHODS`], the read-only peg methods a node may serve
//! without credentials to its peg web page ([`peg_read_access`]).

use std::sync::Arc;

use alys_bitcoin::bitcoin::Txid;
use alys_bitcoin::DepositIndex;
use alys_consensus::{chain_store::ChainStore, ChainStatus};
use alys_federation::{Federation, FollowerPegIns};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::{Methods, RpcError};

/// The read-only methods the peg web page calls, served without credentials when the node
/// serves the page (the peg-out ones only on a node with a peg: elsewhere an unknown method).
/// `listpegouts` reads what the Bridge's logs already publish, at most 500 records a call.
pub const PEG_READ_METHODS: [&str; 7] = [
    "getdepositaddress",
    "getpeginstatus",
    "getpegoutstatus",
    "listpegouts",
    "getpegoutsummary",
    "getfederation",
    "getchainspec",
];

/// Unauthenticated access to [`PEG_READ_METHODS`] for the browser `origins` of the peg web
/// page, with the transport's default rate limits.
pub fn peg_read_access<S: Into<String>>(
    origins: impl IntoIterator<Item = S>,
) -> alys_json_rpc_http::PublicAccess {
    alys_json_rpc_http::PublicAccess::new(
        PEG_READ_METHODS.iter().map(|m| m.to_string()),
        origins.into_iter().map(Into::into),
    )
}

/// What the peg methods read.
#[derive(Clone)]
pub struct PegView {
    /// The federation (address, keys, thresholds).
    pub federation: Arc<Federation>,
    /// The follower's peg-in status index.
    pub index: DepositIndex,
    /// The consensus minted-outpoint view (which sidechain block minted a deposit).
    pub minted: Arc<FollowerPegIns>,
    /// The chain status (head root).
    pub status: watch::Receiver<ChainStatus>,
    /// The consensus store (the EVM block number of the minting block).
    pub chain: ChainStore,
    /// Bitcoin confirmations a deposit needs before it is minted.
    pub required_confirmations: u32,
    /// The peg-out ledger (the federation's UTXOs and pending payouts at the head).
    pub ledger: Option<Arc<alys_federation::pegout::Ledger>>,
}

fn param_txid(params: &[Value]) -> Result<Txid, RpcError> {
    let text = params
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("missing parameter `txid` (hex string)"))?;
    text.parse::<Txid>()
        .map_err(|e| RpcError::invalid_params(format!("`txid`: {e}")))
}

/// Registers the peg methods.
pub fn register_peg_methods(methods: &mut Methods, view: PegView) {
    let v = view.clone();
    methods.register(
        "getdepositaddress",
        "getdepositaddress: the federation's Bitcoin deposit address",
        move |_| Ok(json!(v.federation.address().to_string())),
    );
    let v = view.clone();
    methods.register(
        "getfederation",
        "getfederation: federation keys, thresholds, address, descriptor, peg-in minimum, and the federation's UTXO total and pending payouts at the head",
        move |_| {
            let f = &v.federation;
            let head = v.status.borrow().head_root;
            let pegout = v.ledger.as_ref().and_then(|l| l.state(&head).ok());
            Ok(json!({
                "utxoTotalSats": pegout.as_ref().map(|s| s.utxo_total().0),
                "utxos": pegout.as_ref().map(|s| s.utxos.len()),
                "pendingPegOuts": pegout.as_ref().map(|s| s.pending.len()),
                "pendingPegOutSats": pegout
                    .as_ref()
                    .map(|s| s.pending.values().map(|r| r.amount.0).sum::<u64>()),
                "payouts": pegout.as_ref().map(|s| s.payouts.len()),
                "spentElsewhereSats": pegout.as_ref().map(|s| s.totals.spent_elsewhere),
                "address": f.address().to_string(),
                "descriptor": f.descriptor(),
                "scriptPubKey": hex::encode(f.script_pubkey().as_bytes()),
                "network": f.network().to_string(),
                "keys": f.keys().iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                "threshold": f.threshold(),
                "minPegInSats": f.min_peg_in_sats(),
                "requiredConfirmations": v.required_confirmations,
            }))
        },
    );
    let v = view;
    methods.register(
        "getpeginstatus",
        "getpeginstatus <txid>: seen / confirmations so far (of requiredConfirmations) / minted in block X (mintedIn root, mintedInBlockNumber on the EVM) / rejected with the reason",
        move |p| {
            let txid = param_txid(&p)?;
            let status = v.index.status(&txid).ok_or_else(|| {
                RpcError::not_found(format!("{txid} has not been seen paying the federation"))
            })?;
            let head = v.status.borrow().head_root;
            let minted_in = v.minted.minted_in(&head, &txid);
            let mut out = serde_json::to_value(&status)
                .map_err(|e| RpcError::internal(e.to_string()))?;
            let minted_number = minted_in.and_then(|root| {
                let block = v.chain.block(&root).ok().flatten()?;
                Some(block.message.execution_payload.block_number)
            });
            if let Some(obj) = out.as_object_mut() {
                obj.insert("mintedIn".into(), json!(minted_in));
                obj.insert("mintedInBlockNumber".into(), json!(minted_number));
                obj.insert(
                    "requiredConfirmations".into(),
                    json!(v.required_confirmations),
                );
                if minted_in.is_some() {
                    // Keep the Bitcoin-side state visible (e.g. `reverted` after a deep
                    // Bitcoin reorg of an already minted deposit).
                    if let Some(bitcoin_state) = obj.insert("state".into(), json!("minted")) {
                        obj.insert("bitcoinState".into(), bitcoin_state);
                    }
                }
            }
            Ok(out)
        },
    );
}
