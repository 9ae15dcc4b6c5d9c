//! What consensus reports to the node's metrics (`alys-metrics`): per imported block the
//! proposer's produced slot, the slots missed since its parent, the import time, gas,
//! transactions and minted deposits; after every input the head, finality and merged-mining
//! gauges; every approval offered. Recording is a few atomic operations and never fails.

use std::time::Duration;

use alys_metrics::catalog as m;
use alys_metrics::{counter, gauge, histogram};
use alys_primitives::SignedConsensusBlock;

use crate::chain::ChainStatus;

/// A block of `slot` was imported on a parent of `parent_slot` after `elapsed`, in a chain of
/// `authorities` proposers.
pub(crate) fn block_imported(
    block: &SignedConsensusBlock,
    parent_slot: u64,
    authorities: usize,
    elapsed: Duration,
    new_head: bool,
) {
    histogram!(m::BLOCK_IMPORT_DURATION).record(elapsed.as_secs_f64());
    let slot = block.message.slot;
    if authorities > 0 {
        let proposer = (slot % authorities as u64).to_string();
        counter!(m::SLOTS_PRODUCED, m::AUTHORITY => proposer).increment(1);
        for (authority, missed) in missed_slots(parent_slot, slot, authorities) {
            counter!(m::SLOTS_MISSED, m::AUTHORITY => authority.to_string()).increment(missed);
        }
    }
    let payload = &block.message.execution_payload;
    counter!(m::EXECUTION_GAS_USED).increment(payload.gas_used);
    counter!(m::EXECUTION_TRANSACTIONS).increment(payload.transactions.len() as u64);
    counter!(m::DEPOSITS_MINTED).increment(block.message.pegins.len() as u64);
    let sats = block
        .message
        .pegins
        .iter()
        .fold(0u64, |sum, p| sum.saturating_add(p.sats));
    counter!(m::DEPOSITS_MINTED_SATS).increment(sats);
    if new_head {
        gauge!(m::HEAD_APPROVALS).set(block.approval.signers().len() as f64);
    }
}

/// The slots strictly between `parent_slot` and `slot`, counted per authority (slot `s`
/// belongs to authority `s % authorities`); only authorities that missed any.
fn missed_slots(parent_slot: u64, slot: u64, authorities: usize) -> Vec<(usize, u64)> {
    let n = authorities as u64;
    let gap = slot.saturating_sub(parent_slot).saturating_sub(1);
    (0..gap.min(n))
        .map(|k| {
            let first = parent_slot + 1 + k;
            // Slots first, first + n, … below slot.
            ((first % n) as usize, (gap - k).div_ceil(n))
        })
        .collect()
}

/// The chain's gauges after an input of the service.
pub(crate) fn status(status: &ChainStatus, current_slot: u64) {
    gauge!(m::HEAD_HEIGHT).set(status.head_height as f64);
    gauge!(m::HEAD_SLOT).set(status.head_slot as f64);
    gauge!(m::CURRENT_SLOT).set(current_slot as f64);
    gauge!(m::FINALIZED_HEIGHT).set(status.finalized_height as f64);
    gauge!(m::EXECUTION_CLIENT_UP).set(if status.el.is_none() { 1.0 } else { 0.0 });
    let pow = &status.pow;
    if pow.enabled {
        gauge!(m::BLOCKS_WITHOUT_POW).set(pow.blocks_without_pow as f64);
        gauge!(m::MAX_BLOCKS_WITHOUT_POW).set(pow.max_blocks_without_pow as f64);
        gauge!(m::PRODUCTION_HALTED).set(if pow.halted { 1.0 } else { 0.0 });
        gauge!(m::POW_DIFFICULTY).set(difficulty(pow.bits));
    }
}

/// An approval was offered to this node and `accepted` or refused.
pub(crate) fn approval(accepted: bool) {
    let result = if accepted { "accepted" } else { "refused" };
    counter!(m::APPROVALS, "result" => result).increment(1);
}

/// Bitcoin-style difficulty of compact target `bits`: the difficulty-1 target (`0x1d00ffff`)
/// divided by the target; 0 for a zero target.
pub(crate) fn difficulty(bits: u32) -> f64 {
    let mantissa = bits & 0x007f_ffff;
    if mantissa == 0 {
        return 0.0;
    }
    let exponent = (bits >> 24) as i32;
    65535.0 / f64::from(mantissa) * 256f64.powi(0x1d - exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_slots_are_counted_per_authority() {
        assert!(missed_slots(4, 5, 3).is_empty());
        assert_eq!(missed_slots(4, 6, 3), vec![(2, 1)]);
        // Slots 5..=11 missed: 5,8,11 → authority 2; 6,9 → 0; 7,10 → 1.
        assert_eq!(missed_slots(4, 12, 3), vec![(2, 3), (0, 2), (1, 2)]);
        // A long halt is counted without iterating over every slot.
        assert_eq!(missed_slots(0, u64::MAX, 1), vec![(0, u64::MAX - 1)]);
        assert!(missed_slots(9, 3, 2).is_empty());
    }

    #[test]
    fn difficulty_matches_bitcoin() {
        assert_eq!(difficulty(0x1d00ffff), 1.0);
        // Bitcoin's regtest limit.
        let regtest = difficulty(0x207fffff);
        assert!((regtest - 4.656542373906925e-10).abs() < 1e-20, "{regtest}");
        assert_eq!(difficulty(0x1b00ffff), 65536.0);
        assert_eq!(difficulty(0), 0.0);
    }
}
