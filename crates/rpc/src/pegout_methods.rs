//! Peg-out methods of the node RPC (DESIGN §8, §11): `getpegoutstatus <evm tx hash>`,
//! `listpegouts` and `getpegoutsummary` (UTXO total and pending payouts), read from the
//! peg-out ledger's state at the head, with the Bitcoin-side progress of each payout (signed,
//! broadcast, confirmed) from the node's payout signer when it runs one.

use std::sync::Arc;

use alys_consensus::ChainStatus;
use alys_federation::bitcoin::{Amount, TxOut, Txid};
use alys_federation::payout::estimated_vsize;
use alys_federation::pegout::{Ledger, PegOutState, RequestRecord, RequestState};
use alys_primitives::{Address, B256};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::{Methods, RpcError};

/// Most records `listpegouts` returns in one call.
pub const MAX_LISTED_PEGOUTS: usize = 500;

/// The Bitcoin-side progress of a payout (signatures, broadcast, confirmations), as JSON with a
/// `state` of `signed`, `broadcast` or `confirmed`; `None` while nothing happened yet.
pub type PayoutProgress = Arc<dyn Fn(&Txid) -> Option<Value> + Send + Sync>;

/// What the peg-out methods read.
#[derive(Clone)]
pub struct PegOutView {
    /// The peg-out ledger.
    pub ledger: Arc<Ledger>,
    /// The chain status (head root).
    pub status: watch::Receiver<ChainStatus>,
    /// The payout signer's progress, when the node runs one.
    pub progress: Option<PayoutProgress>,
}

impl PegOutView {
    fn head_state(&self) -> Result<Arc<PegOutState>, RpcError> {
        let head = self.status.borrow().head_root;
        self.ledger
            .state(&head)
            .map_err(|e| RpcError::internal(format!("peg-out state of the head: {e}")))
    }

    /// One request as JSON: its chain state, then the payout's progress on Bitcoin.
    fn record_json(&self, tx_hash: &B256, log_index: u64, r: &RequestRecord) -> Value {
        let mut out = json!({
            "evmTxHash": tx_hash,
            "logIndex": log_index,
            "sender": r.sender,
            "bitcoinAddress": String::from_utf8_lossy(&r.btc_address),
            "sats": r.amount.0,
            "requestedIn": r.block,
            "requestedAtHeight": r.height,
        });
        let obj = out.as_object_mut();
        let Some(obj) = obj else { return out };
        match &r.state {
            RequestState::Requested => {
                obj.insert("state".into(), json!("requested"));
            }
            RequestState::Proposed { txid, block } => {
                obj.insert("state".into(), json!("proposed"));
                obj.insert("payoutTxid".into(), json!(txid.to_string()));
                obj.insert("proposedIn".into(), json!(block));
                if let Some(Value::Object(p)) = self.progress.as_ref().and_then(|f| f(txid)) {
                    for (k, v) in p {
                        obj.insert(k, v);
                    }
                }
            }
            RequestState::RefundDue(reason) => {
                obj.insert("state".into(), json!("refund-due"));
                obj.insert("reason".into(), json!(reason.to_string()));
            }
            RequestState::Refunded { reason, block } => {
                obj.insert("state".into(), json!("refunded"));
                obj.insert("reason".into(), json!(reason.to_string()));
                obj.insert("refundedIn".into(), json!(block));
            }
        }
        out
    }
}

/// The fee share of a request paid alone in a payout at the ledger's fee rate: one input, the
/// request's output with a 34-byte scriptPubKey (P2TR or P2WSH, the longest standard one; the
/// other kinds are 9 to 12 vbytes smaller) and the change. `{vsize, sats}`, or null when the
/// federation's spend cannot be sized.
fn single_request_fee(ledger: &Ledger) -> Value {
    let federation = ledger.federation();
    let output = TxOut {
        value: Amount::ZERO,
        script_pubkey: federation.script_pubkey().clone(),
    };
    match estimated_vsize(federation, 1, &[output.clone(), output]) {
        Ok(vsize) => json!({
            "vsize": vsize,
            "sats": vsize.saturating_mul(ledger.fee_rate()),
            "outputScriptBytes": federation.script_pubkey().len(),
        }),
        Err(_) => Value::Null,
    }
}

fn param_hash(params: &[Value]) -> Result<B256, RpcError> {
    let text = params
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("missing parameter `evm tx hash` (0x hex)"))?;
    text.parse::<B256>()
        .map_err(|e| RpcError::invalid_params(format!("`evm tx hash`: {e}")))
}

/// Registers the peg-out methods.
pub fn register_pegout_methods(methods: &mut Methods, view: PegOutView) {
    let v = view.clone();
    methods.register(
        "getpegoutstatus",
        "getpegoutstatus <evm tx hash>: each peg-out request of the transaction: requested → proposed (payoutTxid) → signed → broadcast → confirmed, or refund-due / refunded with the reason and the refund block",
        move |p| {
            let hash = param_hash(&p)?;
            let state = v.head_state()?;
            let requests: Vec<Value> = state
                .requests
                .range((hash, 0)..=(hash, u64::MAX))
                .map(|((h, i), r)| v.record_json(h, *i, r))
                .collect();
            if requests.is_empty() {
                return Err(RpcError::not_found(format!(
                    "no peg-out request recorded by transaction {hash} on the head's chain"
                )));
            }
            Ok(json!({ "evmTxHash": hash, "requests": requests }))
        },
    );
    let v = view.clone();
    methods.register(
        "listpegouts",
        "listpegouts [{\"sender\": 0x…, \"fromHeight\": n, \"toHeight\": n}]: peg-out requests on the head's chain, oldest first, at most 500",
        move |p| {
            let filter = p.first().cloned().unwrap_or(Value::Null);
            let sender = match filter.get("sender").and_then(Value::as_str) {
                Some(s) => Some(
                    s.parse::<Address>()
                        .map_err(|e| RpcError::invalid_params(format!("`sender`: {e}")))?,
                ),
                None => None,
            };
            let from = filter.get("fromHeight").and_then(Value::as_u64).unwrap_or(0);
            let to = filter
                .get("toHeight")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            let state = v.head_state()?;
            let mut list: Vec<_> = state
                .requests
                .iter()
                .filter(|(_, r)| sender.is_none_or(|s| r.sender == s))
                .filter(|(_, r)| (from..=to).contains(&r.height))
                .collect();
            list.sort_by_key(|((_, i), r)| (r.height, *i));
            let list: Vec<Value> = list
                .into_iter()
                .take(MAX_LISTED_PEGOUTS)
                .map(|((h, i), r)| v.record_json(h, *i, r))
                .collect();
            Ok(json!(list))
        },
    );
    let v = view;
    methods.register(
        "getpegoutsummary",
        "getpegoutsummary: the federation's UTXO total, pending requests and refunds, payouts proposed (and void), federation outputs spent outside the peg, the peg totals at the head, the peg-out minimum, the fee rate and the fee share of a request paid alone",
        move |_| {
            let state = v.head_state()?;
            let t = state.totals;
            Ok(json!({
                "utxoTotalSats": state.utxo_total().0,
                "utxos": state.utxos.len(),
                "pendingRequests": state.pending.len(),
                "pendingSats": state.pending.values().map(|r| r.amount.0).sum::<u64>(),
                "refundsDue": state.refunds.len(),
                "payouts": state.payouts.len(),
                "voidedPayouts": state.payouts.values().filter(|p| p.voided.is_some()).count(),
                "spentElsewhere": state
                    .spent_elsewhere
                    .iter()
                    .map(|(outpoint, s)| json!({
                        "outpoint": outpoint.to_string(),
                        "sats": s.value.0,
                        "spender": s.spender.to_string(),
                        "declaredIn": s.block,
                        "voidedPayout": s.voided.map(|t| t.to_string()),
                    }))
                    .take(MAX_LISTED_PEGOUTS)
                    .collect::<Vec<_>>(),
                "feeRate": v.ledger.fee_rate(),
                "maxFeeRate": v.ledger.fee_cap(),
                "minPegOutSats": v.ledger.min_peg_out().0,
                "singleRequestFee": single_request_fee(&v.ledger),
                "totals": {
                    "mintedSats": t.minted,
                    "burnedSats": t.burned,
                    "refundedSats": t.refunded,
                    "paidSats": t.paid,
                    "feesSats": t.fees,
                    "spentElsewhereSats": t.spent_elsewhere,
                },
            }))
        },
    );
}
