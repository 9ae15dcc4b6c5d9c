//! Transaction rules shared by the mempool and block connection: finality, BIP68 sequence
//! locks, coinbase maturity, amounts and input scripts.

use bitcoin::{BlockHash, OutPoint, Sequence, Transaction, TxOut};

use super::{format_money, Chain, Coin, Reject, RejectKind, COINBASE_MATURITY};
use crate::script::{self, MANDATORY_FLAGS, MAX_MONEY};

impl Chain {
    /// Checks a non-coinbase transaction against the coins `view` gives, as if it were in a
    /// block at `height` whose parent has median time past `prev_mtp`; returns the fee.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_inputs(
        &self,
        tx: &Transaction,
        view: &dyn Fn(&OutPoint) -> Option<Coin>,
        height: u32,
        prev_mtp: u32,
        prev_hash: &BlockHash,
        verify_scripts: bool,
    ) -> Result<u64, Reject> {
        script::check_transaction(tx).map_err(Reject::invalid)?;
        if tx.is_coinbase() {
            return Err(Reject::invalid("coinbase"));
        }
        let mut spent = Vec::with_capacity(tx.input.len());
        for input in &tx.input {
            match view(&input.previous_output) {
                Some(c) => spent.push(c),
                None => {
                    return Err(Reject {
                        kind: RejectKind::MissingInputs,
                        reason: "bad-txns-inputs-missingorspent".into(),
                    })
                }
            }
        }
        // IsFinalTx.
        if !is_final(tx, height, prev_mtp) {
            return Err(Reject::invalid("non-final"));
        }
        // BIP68 sequence locks.
        if tx.version.0 >= 2 {
            let mut min_height: i64 = -1;
            let mut min_time: i64 = -1;
            for (input, coin) in tx.input.iter().zip(&spent) {
                let seq = input.sequence.0;
                if seq & (1 << 31) != 0 {
                    continue;
                }
                let value = i64::from(seq & 0xffff);
                if seq & (1 << 22) != 0 {
                    let coin_time = self.mtp_on_branch(prev_hash, coin.height.saturating_sub(1));
                    min_time = min_time.max(i64::from(coin_time) + (value << 9) - 1);
                } else {
                    min_height = min_height.max(i64::from(coin.height) + value - 1);
                }
            }
            if min_height >= i64::from(height) || min_time >= i64::from(prev_mtp) {
                return Err(Reject::invalid("non-BIP68-final"));
            }
        }
        let mut value_in: u64 = 0;
        for coin in &spent {
            if coin.coinbase && height.saturating_sub(coin.height) < COINBASE_MATURITY {
                return Err(Reject::invalid(format!(
                    "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth {}",
                    height.saturating_sub(coin.height)
                )));
            }
            value_in = value_in.saturating_add(coin.out.value.to_sat());
            if value_in > MAX_MONEY {
                return Err(Reject::invalid("bad-txns-inputvalues-outofrange"));
            }
        }
        let value_out = script::output_total(tx);
        if value_in < value_out {
            return Err(Reject::invalid(format!(
                "bad-txns-in-belowout, value in ({}) < value out ({})",
                format_money(value_in as i64),
                format_money(value_out as i64)
            )));
        }
        if verify_scripts {
            let outs: Vec<TxOut> = spent.into_iter().map(|c| c.out).collect();
            if let Err(e) = script::verify_scripts(tx, &outs, MANDATORY_FLAGS) {
                return Err(Reject::invalid(format!(
                    "mandatory-script-verify-flag-failed ({e})"
                )));
            }
        }
        Ok(value_in - value_out)
    }

    /// Median time past of the ancestor at `height` of `tip` (the active chain when `tip` is
    /// on it).
    fn mtp_on_branch(&self, tip: &BlockHash, height: u32) -> u32 {
        if self.is_active(tip) {
            return self.median_time_past(height);
        }
        let mut cur = *tip;
        while let Some(e) = self.blocks.get(&cur) {
            if e.height <= height || self.is_active(&cur) {
                break;
            }
            cur = e.block.header.prev_blockhash;
        }
        match self.blocks.get(&cur) {
            Some(e) if e.height == height => self.median_time_past_of(&cur),
            _ => self.median_time_past(height),
        }
    }
}

/// Core's `IsFinalTx`.
pub fn is_final(tx: &Transaction, height: u32, block_time: u32) -> bool {
    let lt = tx.lock_time.to_consensus_u32();
    if lt == 0 {
        return true;
    }
    let limit = if lt < 500_000_000 { height } else { block_time };
    if lt < limit {
        return true;
    }
    tx.input.iter().all(|i| i.sequence == Sequence::MAX)
}
