//! The mempool: its entries, Core's acceptance checks plus a little policy, and emptying and
//! refilling it around reorgs.

use bitcoin::{OutPoint, Transaction, Txid};

use super::{now_secs, vsize, Chain, Coin, Reject, RejectKind};
use crate::script;

/// Policy: largest transaction weight accepted to the mempool.
pub const MAX_STANDARD_TX_WEIGHT: u64 = 400_000;
/// Policy: minimum relay fee rate in sat/kvB.
pub const MIN_RELAY_FEE_PER_KVB: u64 = 1_000;

/// A mempool entry.
#[derive(Debug, Clone)]
pub struct MempoolEntry {
    /// The transaction.
    pub tx: Transaction,
    /// Fee in satoshis.
    pub fee: u64,
    /// Virtual size.
    pub vsize: u64,
    /// Unix time it entered.
    pub time: u64,
    /// Chain height when it entered.
    pub height: u32,
}

/// What a transaction check found (fee and size), for `testmempoolaccept`.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    /// Fee in satoshis.
    pub fee: u64,
    /// Virtual size.
    pub vsize: u64,
}

impl Chain {
    /// Mempool transactions in acceptance order (parents before children).
    pub fn mempool(&self) -> impl Iterator<Item = &MempoolEntry> {
        self.mempool_order
            .iter()
            .filter_map(|t| self.mempool.get(t))
    }

    /// A mempool entry.
    pub fn mempool_entry(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.mempool.get(txid)
    }

    /// The mempool transaction spending `outpoint`, if any.
    pub fn mempool_spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.mempool_spends.get(outpoint).copied()
    }

    /// A coin visible to a new mempool transaction: confirmed or created by the mempool.
    pub fn mempool_view_coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        if let Some(c) = self.utxo.get(outpoint) {
            return Some(c.clone());
        }
        let entry = self.mempool.get(&outpoint.txid)?;
        let out = entry.tx.output.get(outpoint.vout as usize)?;
        Some(Coin {
            out: out.clone(),
            height: self.height() + 1,
            coinbase: false,
        })
    }

    /// Checks `tx` for the mempool (consensus rules for the next block plus a little policy)
    /// without adding it.
    pub fn check_for_mempool(&self, tx: &Transaction) -> Result<Accepted, Reject> {
        let txid = tx.compute_txid();
        if self.mempool.contains_key(&txid) {
            return Err(Reject {
                kind: RejectKind::AlreadyInMempool,
                reason: "txn-already-in-mempool".into(),
            });
        }
        script::check_transaction(tx).map_err(Reject::invalid)?;
        if tx.is_coinbase() {
            return Err(Reject::invalid("coinbase"));
        }
        if !(1..=3).contains(&tx.version.0) {
            return Err(Reject::invalid("version"));
        }
        if tx.weight().to_wu() > MAX_STANDARD_TX_WEIGHT {
            return Err(Reject::invalid("tx-size"));
        }
        if tx.base_size() < 65 {
            return Err(Reject::invalid("tx-size-small"));
        }
        for input in &tx.input {
            if let Some(other) = self.mempool_spends.get(&input.previous_output) {
                if *other != txid {
                    return Err(Reject::invalid("txn-mempool-conflict"));
                }
            }
        }
        let missing = tx
            .input
            .iter()
            .any(|i| self.mempool_view_coin(&i.previous_output).is_none());
        if missing {
            // Core: outputs of this tx already in the UTXO set means it is confirmed.
            if (0..tx.output.len() as u32).any(|v| self.utxo.contains_key(&OutPoint::new(txid, v)))
            {
                return Err(Reject {
                    kind: RejectKind::AlreadyInChain,
                    reason: "txn-already-known".into(),
                });
            }
        }
        let height = self.height() + 1;
        let mtp = self.median_time_past(self.height());
        let fee = self.check_inputs(
            tx,
            &|o| self.mempool_view_coin(o),
            height,
            mtp,
            &self.tip(),
            true,
        )?;
        let vsize = vsize(tx);
        let min_fee = vsize * MIN_RELAY_FEE_PER_KVB / 1000;
        if fee < min_fee {
            return Err(Reject::invalid(format!(
                "min relay fee not met, {fee} < {min_fee}"
            )));
        }
        Ok(Accepted { fee, vsize })
    }

    /// Checks and adds `tx` to the mempool.
    pub fn accept_to_mempool(&mut self, tx: Transaction) -> Result<Accepted, Reject> {
        let accepted = self.check_for_mempool(&tx)?;
        self.insert_mempool(tx, accepted);
        Ok(accepted)
    }

    fn insert_mempool(&mut self, tx: Transaction, accepted: Accepted) {
        let txid = tx.compute_txid();
        for input in &tx.input {
            self.mempool_spends.insert(input.previous_output, txid);
        }
        self.mempool_order.push(txid);
        self.mempool.insert(
            txid,
            MempoolEntry {
                tx,
                fee: accepted.fee,
                vsize: accepted.vsize,
                time: now_secs(),
                height: self.height(),
            },
        );
    }

    pub(super) fn take_mempool(&mut self) -> Vec<Transaction> {
        let order = std::mem::take(&mut self.mempool_order);
        let mut pool = std::mem::take(&mut self.mempool);
        self.mempool_spends.clear();
        order
            .into_iter()
            .filter_map(|t| pool.remove(&t))
            .map(|e| e.tx)
            .collect()
    }

    /// Re-validates `txs` (in order) into an emptied mempool; invalid ones are dropped.
    pub(super) fn refill_mempool(&mut self, txs: Vec<Transaction>) {
        for tx in txs {
            if tx.is_coinbase() {
                continue;
            }
            if let Err(e) = self.accept_to_mempool(tx) {
                tracing::debug!("dropped from mempool: {e}");
            }
        }
    }
}
