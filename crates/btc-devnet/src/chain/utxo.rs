//! The UTXO set, transaction index and undo data: connecting a block to the tip (its context
//! checks included) and disconnecting the tip.

use std::collections::{HashMap, HashSet};

use bitcoin::{BlockHash, OutPoint, Transaction, Txid};

use super::{is_final, mining::bip34_script, subsidy, Chain, Coin, Reject, MAX_BLOCK_WEIGHT};
use crate::script;

impl Chain {
    /// The UTXO set.
    pub fn utxos(&self) -> &HashMap<OutPoint, Coin> {
        &self.utxo
    }

    /// A confirmed unspent output.
    pub fn utxo(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.utxo.get(outpoint)
    }

    /// The block (on the active chain) that confirmed `txid`.
    pub fn tx_block(&self, txid: &Txid) -> Option<BlockHash> {
        self.txindex.get(txid).copied()
    }

    /// Undo data (spent coins in spending order) of an active block.
    pub fn undo(&self, hash: &BlockHash) -> Option<&Vec<Coin>> {
        self.undo.get(hash)
    }

    /// Context checks of a block against the current tip (its parent) and the UTXO set;
    /// applies it on success.
    pub(super) fn connect_block(
        &mut self,
        hash: BlockHash,
        verify_scripts: bool,
    ) -> Result<(), Reject> {
        let Some(entry) = self.blocks.get(&hash) else {
            return Err(Reject::invalid("unknown block"));
        };
        let block = entry.block.clone();
        let height = entry.height;
        if block.header.prev_blockhash != self.tip() {
            return Err(Reject::invalid("bad-prevblk"));
        }
        if !block.check_merkle_root() {
            return Err(Reject::invalid("bad-txnmrklroot"));
        }
        if block.txdata.is_empty() || !block.txdata[0].is_coinbase() {
            return Err(Reject::invalid("bad-cb-missing"));
        }
        if block.txdata[1..].iter().any(|t| t.is_coinbase()) {
            return Err(Reject::invalid("bad-cb-multiple"));
        }
        if block.weight().to_wu() > MAX_BLOCK_WEIGHT {
            return Err(Reject::invalid("bad-blk-weight"));
        }
        if !block.check_witness_commitment() {
            return Err(Reject::invalid("bad-witness-merkle-match"));
        }
        if !block.txdata[0].input[0].script_sig.as_bytes().starts_with(
            bip34_script(height)
                .as_bytes()
                .split_last()
                .map_or(&[][..], |s| s.1),
        ) {
            return Err(Reject::invalid("bad-cb-height"));
        }
        script::check_transaction(&block.txdata[0]).map_err(Reject::invalid)?;
        let prev_mtp = self.median_time_past(self.height());
        if !is_final(&block.txdata[0], height, prev_mtp) {
            return Err(Reject::invalid("bad-txns-nonfinal"));
        }
        // Apply transactions to a scratch overlay, then commit.
        let mut created: HashMap<OutPoint, Coin> = HashMap::new();
        let mut spent_set: HashSet<OutPoint> = HashSet::new();
        let mut undo: Vec<Coin> = Vec::new();
        let mut fees: u64 = 0;
        let mut seen_txids = HashSet::new();
        for (i, tx) in block.txdata.iter().enumerate() {
            let txid = tx.compute_txid();
            if !seen_txids.insert(txid) {
                return Err(Reject::invalid("bad-txns-duplicate"));
            }
            if i > 0 {
                let view = |o: &OutPoint| -> Option<Coin> {
                    if spent_set.contains(o) {
                        return None;
                    }
                    created
                        .get(o)
                        .cloned()
                        .or_else(|| self.utxo.get(o).cloned())
                };
                let prev = self.tip();
                let fee = self
                    .check_inputs(tx, &view, height, prev_mtp, &prev, verify_scripts)
                    .map_err(|r| Reject {
                        kind: r.kind,
                        reason: format!("{} (tx {txid})", r.reason),
                    })?;
                fees += fee;
                for input in &tx.input {
                    let o = input.previous_output;
                    let coin = created
                        .get(&o)
                        .cloned()
                        .or_else(|| self.utxo.get(&o).cloned())
                        .ok_or_else(|| Reject::invalid("bad-txns-inputs-missingorspent"))?;
                    undo.push(coin);
                    spent_set.insert(o);
                }
            }
            // BIP30: no overwriting of unspent outputs.
            for (v, out) in tx.output.iter().enumerate() {
                let op = OutPoint::new(txid, v as u32);
                if self.utxo.contains_key(&op) && !spent_set.contains(&op) {
                    return Err(Reject::invalid("bad-txns-BIP30"));
                }
                if out.script_pubkey.is_op_return() {
                    continue;
                }
                created.insert(
                    op,
                    Coin {
                        out: out.clone(),
                        height,
                        coinbase: i == 0,
                    },
                );
            }
        }
        let coinbase_out = script::output_total(&block.txdata[0]);
        if coinbase_out > subsidy(height) + fees {
            return Err(Reject::invalid(format!(
                "bad-cb-amount, coinbase pays too much (actual={} vs limit={})",
                coinbase_out,
                subsidy(height) + fees
            )));
        }
        // Commit.
        for o in &spent_set {
            self.utxo.remove(o);
        }
        for (o, c) in created {
            if !spent_set.contains(&o) {
                self.utxo.insert(o, c);
            }
        }
        for tx in &block.txdata {
            self.txindex.insert(tx.compute_txid(), hash);
        }
        self.undo.insert(hash, undo);
        self.active.push(hash);
        Ok(())
    }

    /// Undoes the tip block; returns its transactions.
    pub(super) fn disconnect_tip(&mut self) -> Vec<Transaction> {
        let hash = self.tip();
        if self.active.len() == 1 {
            return Vec::new();
        }
        let Some(entry) = self.blocks.get(&hash) else {
            return Vec::new();
        };
        let block = entry.block.clone();
        let undo = self.undo.remove(&hash).unwrap_or_default();
        let mut undo_iter = undo.into_iter();
        // Remove created outputs, then restore spent ones (in order of spending).
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            for v in 0..tx.output.len() as u32 {
                self.utxo.remove(&OutPoint::new(txid, v));
            }
            self.txindex.remove(&txid);
        }
        for tx in block.txdata.iter().skip(1) {
            for input in &tx.input {
                if let Some(coin) = undo_iter.next() {
                    self.utxo.insert(input.previous_output, coin);
                }
            }
        }
        // Outputs created and spent within the block were removed above and restored by the
        // undo only if spent; drop any restored coin that this block itself created.
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            for v in 0..tx.output.len() as u32 {
                self.utxo.remove(&OutPoint::new(txid, v));
            }
        }
        self.active.pop();
        block.txdata
    }
}
