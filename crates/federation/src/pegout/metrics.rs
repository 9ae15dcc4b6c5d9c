//! What the peg-out ledger reports to the node's metrics (`alys-metrics`): per imported block,
//! the requests it recorded (by disposition), its payout, refunds and spends outside the peg; and, for the highest
//! block imported so far, the UTXO total and count, pending requests, refunds due and whether
//! the peg balance invariant holds.

use alys_metrics::{catalog as m, counter, gauge};

use super::state::PegOutState;
use crate::burns::{PegOutDisposition, PegOutRequest};

/// Block content recorded on import: its burns, whether it proposed a payout, the refunds it
/// minted, the federation outputs it declared spent elsewhere and the payouts that voided.
pub(crate) fn block_imported(
    burns: &[PegOutRequest],
    payout: bool,
    refunds: usize,
    spends: usize,
    voided: usize,
) {
    for burn in burns {
        let disposition = match burn.disposition {
            PegOutDisposition::Pay(_) => "pay",
            PegOutDisposition::Refund(_) => "refund",
        };
        counter!(m::PEGOUT_REQUESTS, "disposition" => disposition).increment(1);
    }
    if payout {
        counter!(m::PEGOUT_PAYOUTS_PROPOSED).increment(1);
    }
    counter!(m::PEGOUT_REFUNDS_MINTED).increment(refunds as u64);
    if spends > 0 {
        counter!(m::PEGOUT_SPENT_ELSEWHERE).increment(spends as u64);
        counter!(m::PEGOUT_PAYOUTS_VOIDED).increment(voided as u64);
    }
}

/// The state of the highest block imported so far.
pub(crate) fn head_state(state: &PegOutState) {
    gauge!(m::PEGOUT_UTXO_TOTAL_SATS).set(state.utxo_total().0 as f64);
    gauge!(m::PEGOUT_UTXOS).set(state.utxos.len() as f64);
    gauge!(m::PEGOUT_PENDING_REQUESTS).set(state.pending.len() as f64);
    gauge!(m::PEGOUT_REFUNDS_DUE).set(state.refunds.len() as f64);
    gauge!(m::PEGOUT_SPENT_ELSEWHERE_SATS).set(state.totals.spent_elsewhere as f64);
    gauge!(m::PEG_BALANCE_OK).set(if state.balance_holds() { 1.0 } else { 0.0 });
}
