//! What the Bitcoin follower reports to the node's metrics (`alys-metrics`): its height, the
//! Bitcoin node's and the lag between them at every poll; the deposits of every committed step
//! (seen, confirmed, reorged out, reorged out after confirmation, rejected by reason); failed
//! RPC steps.

use alys_metrics::{catalog as m, counter, gauge};

use crate::scan::ScanItem;
use crate::state::FollowerEvent;

/// The follower is at `follower` and the Bitcoin node's tip at `node`.
pub(crate) fn heights(follower: u64, node: u64) {
    gauge!(m::BITCOIN_FOLLOWER_HEIGHT).set(follower as f64);
    gauge!(m::BITCOIN_NODE_HEIGHT).set(node as f64);
    gauge!(m::BITCOIN_FOLLOWER_LAG).set(node.saturating_sub(follower) as f64);
}

/// The metrics reasons of the rejections among `items`.
pub(crate) fn rejection_reasons(items: &[ScanItem]) -> Vec<&'static str> {
    items
        .iter()
        .filter_map(|item| match item {
            ScanItem::Rejected { label, .. } => Some(*label),
            ScanItem::Deposit(_) => None,
        })
        .collect()
}

/// A step was committed with `events`, its block's rejections being `rejected`.
pub(crate) fn committed(events: &[FollowerEvent], rejected: &[&'static str]) {
    for ev in events {
        match ev {
            FollowerEvent::DepositSeen(_) => counter!(m::DEPOSITS_SEEN).increment(1),
            FollowerEvent::Deposit(_) => counter!(m::DEPOSITS_CONFIRMED).increment(1),
            FollowerEvent::Dropped(_) => counter!(m::DEPOSITS_REORGED).increment(1),
            FollowerEvent::Reverted(_) => {
                counter!(m::DEPOSITS_REORGED).increment(1);
                counter!(m::DEPOSITS_REVERTED).increment(1);
            }
            _ => {}
        }
    }
    for reason in rejected {
        counter!(m::DEPOSITS_REJECTED, "reason" => *reason).increment(1);
    }
}

/// A step failed on the Bitcoin RPC.
pub(crate) fn rpc_error() {
    counter!(m::BITCOIN_RPC_ERRORS).increment(1);
}
