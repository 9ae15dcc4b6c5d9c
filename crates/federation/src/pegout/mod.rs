//! The peg-out ledger (DESIGN §8): the peg-out state of every block (pending requests,
//! refunds due, federation UTXOs, proposed payouts, running totals), kept along the chain and
//! served to consensus through [`alys_consensus::PegOutLedger`].

pub mod ledger;
mod metrics;
pub mod spends;
pub mod state;

pub use ledger::{
    payout_batch, Ledger, LedgerChain, DEFAULT_MAX_PEG_OUT_FEE_RATE, MAX_CACHED_STATES,
    MAX_SPENDS_PER_BLOCK, MIN_PEG_OUT_FEE_RATE,
};
pub use spends::{SeenSpend, SpendVerdict, SpendView, SpendWatcher};
pub use state::{
    PegOutState, PegTotals, PendingRequest, ProposedPayoutRecord, RefundDue, RequestKey,
    RequestRecord, RequestState, SpentElsewhere,
};
