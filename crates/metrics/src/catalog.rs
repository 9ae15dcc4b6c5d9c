//! Every metric the node exports: its name, kind, help text and labels. Recording code uses
//! these constants; [`crate::install`] describes every entry and registers its series at zero
//! (so a scrape lists every metric from the start, and `rate()` sees the first increment); the
//! scrape test checks that each name is served and the dashboard and alert tests that they
//! use only these names.

/// What kind of Prometheus metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (reset on restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in buckets (`_bucket`, `_sum`, `_count`).
    Histogram,
}

/// A label and the values its series are registered with at start.
#[derive(Debug, Clone, Copy)]
pub struct Label {
    /// Label name.
    pub name: &'static str,
    /// Values registered at zero at start; empty for the `authority` label, whose values
    /// (`0..n`) come from the chain spec.
    pub initial: &'static [&'static str],
}

/// One exported metric.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Its name.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Its help text.
    pub help: &'static str,
    /// Its labels.
    pub labels: &'static [Label],
}

/// Label of the authority index (`0..n`, the chain spec's order).
pub const AUTHORITY: &str = "authority";

const BY_AUTHORITY: &[Label] = &[Label {
    name: AUTHORITY,
    initial: &[],
}];

// Consensus.
/// Blocks imported, by the authority that proposed them.
pub const SLOTS_PRODUCED: &str = "alys_slots_produced_total";
/// Slots without a block between an imported block and its parent, by the authority whose slot it was.
pub const SLOTS_MISSED: &str = "alys_slots_missed_total";
/// Time to import a block (validation, EL `newPayload`, store, fork choice).
pub const BLOCK_IMPORT_DURATION: &str = "alys_block_import_duration_seconds";
/// Height of the head block.
pub const HEAD_HEIGHT: &str = "alys_head_height";
/// Slot of the head block.
pub const HEAD_SLOT: &str = "alys_head_slot";
/// The slot clock's current slot.
pub const CURRENT_SLOT: &str = "alys_current_slot";
/// Height of the last finalized block.
pub const FINALIZED_HEIGHT: &str = "alys_finalized_height";
/// Blocks on the head since the last finalized one.
pub const BLOCKS_WITHOUT_POW: &str = "alys_blocks_without_pow";
/// The chain spec's `maxBlocksWithoutPow`.
pub const MAX_BLOCKS_WITHOUT_POW: &str = "alys_max_blocks_without_pow";
/// 1 while production is halted for want of an AuxPoW.
pub const PRODUCTION_HALTED: &str = "alys_production_halted";
/// Difficulty a proof on the head must meet.
pub const POW_DIFFICULTY: &str = "alys_pow_difficulty";
/// Approvals offered to this node, by result.
pub const APPROVALS: &str = "alys_approvals_total";
/// Approvals aggregated in the head block.
pub const HEAD_APPROVALS: &str = "alys_head_approvals";
/// 1 while the execution client answers, 0 while it stops production or import.
pub const EXECUTION_CLIENT_UP: &str = "alys_execution_client_up";
/// Gas used by the imported blocks.
pub const EXECUTION_GAS_USED: &str = "alys_execution_gas_used_total";
/// Transactions in the imported blocks.
pub const EXECUTION_TRANSACTIONS: &str = "alys_execution_transactions_total";
/// Deposits minted by imported blocks.
pub const DEPOSITS_MINTED: &str = "alys_deposits_minted_total";
/// Sats minted by imported blocks.
pub const DEPOSITS_MINTED_SATS: &str = "alys_deposits_minted_sats_total";

// Peg-out ledger (the state at the highest imported block).
/// Sats held in federation UTXOs.
pub const PEGOUT_UTXO_TOTAL_SATS: &str = "alys_pegout_utxo_total_sats";
/// Federation UTXOs.
pub const PEGOUT_UTXOS: &str = "alys_pegout_utxos";
/// Peg-out requests waiting for a payout.
pub const PEGOUT_PENDING_REQUESTS: &str = "alys_pegout_pending_requests";
/// Refunds due (burns that cannot be paid, not minted back yet).
pub const PEGOUT_REFUNDS_DUE: &str = "alys_pegout_refunds_due";
/// 1 while the peg balance invariant holds on the ledger's state.
pub const PEG_BALANCE_OK: &str = "alys_peg_balance_ok";
/// Peg-out requests recorded by imported blocks, by disposition.
pub const PEGOUT_REQUESTS: &str = "alys_pegout_requests_total";
/// Payouts proposed by imported blocks.
pub const PEGOUT_PAYOUTS_PROPOSED: &str = "alys_pegout_payouts_proposed_total";
/// Refunds minted by imported blocks.
pub const PEGOUT_REFUNDS_MINTED: &str = "alys_pegout_refunds_minted_total";
/// Payouts this member signed.
pub const PEGOUT_PAYOUTS_SIGNED: &str = "alys_pegout_payouts_signed_total";
/// Payouts this member refused to sign (its policy, a txid mismatch).
pub const PEGOUT_PAYOUTS_REFUSED: &str = "alys_pegout_payouts_refused_total";
/// Peg-out signature messages rejected as invalid.
pub const PEGOUT_SIGNATURES_REJECTED: &str = "alys_pegout_signatures_rejected_total";
/// Payout broadcasts to the Bitcoin node, first sends and resends.
pub const PEGOUT_BROADCASTS: &str = "alys_pegout_broadcasts_total";
/// Payouts seen with their required confirmations.
pub const PEGOUT_PAYOUTS_CONFIRMED: &str = "alys_pegout_payouts_confirmed_total";
/// Federation outputs declared spent outside the peg by imported blocks.
pub const PEGOUT_SPENT_ELSEWHERE: &str = "alys_pegout_spent_elsewhere_total";
/// Sats of federation outputs spent outside the peg (highest imported block).
pub const PEGOUT_SPENT_ELSEWHERE_SATS: &str = "alys_pegout_spent_elsewhere_sats";
/// Payouts void because an input was spent outside the peg.
pub const PEGOUT_PAYOUTS_VOIDED: &str = "alys_pegout_payouts_voided_total";

// Merged mining.
/// Work handed to miners (`createauxblock`, `getauxblock`).
pub const AUX_WORK_SERVED: &str = "alys_aux_work_served_total";
/// Proofs accepted (`submitauxblock`, `getauxblock <hash> <auxpow>`).
pub const AUX_WORK_ACCEPTED: &str = "alys_aux_work_accepted_total";
/// Proofs rejected, by reason.
pub const AUX_WORK_REJECTED: &str = "alys_aux_work_rejected_total";
/// The reasons of [`AUX_WORK_REJECTED`].
pub const AUX_REJECT_REASONS: &[&str] = &[
    "bad_hash",
    "unknown_work",
    "stale_work",
    "malformed",
    "insufficient_work",
    "invalid_proof",
    "too_large",
    "busy",
    "disabled",
];

// Bitcoin follower and peg-in.
/// Height of the last Bitcoin block the follower processed.
pub const BITCOIN_FOLLOWER_HEIGHT: &str = "alys_bitcoin_follower_height";
/// Tip height of the Bitcoin node.
pub const BITCOIN_NODE_HEIGHT: &str = "alys_bitcoin_node_height";
/// Blocks the follower is behind the Bitcoin node.
pub const BITCOIN_FOLLOWER_LAG: &str = "alys_bitcoin_follower_lag_blocks";
/// Failed Bitcoin RPC steps of the follower (retried with backoff).
pub const BITCOIN_RPC_ERRORS: &str = "alys_bitcoin_rpc_errors_total";
/// Deposits to the federation address seen in Bitcoin blocks.
pub const DEPOSITS_SEEN: &str = "alys_deposits_seen_total";
/// Deposits that reached the required confirmations.
pub const DEPOSITS_CONFIRMED: &str = "alys_deposits_confirmed_total";
/// Deposits reorged out of Bitcoin after they were seen.
pub const DEPOSITS_REORGED: &str = "alys_deposits_reorged_total";
/// Deposits reorged out of Bitcoin after they had the required confirmations (a reorg deeper
/// than `requiredBtcConfirmations`; their mint stands).
pub const DEPOSITS_REVERTED: &str = "alys_deposits_reverted_total";
/// Transactions paying the federation that are not valid deposits, by reason.
pub const DEPOSITS_REJECTED: &str = "alys_deposits_rejected_total";
/// The reasons of [`DEPOSITS_REJECTED`].
pub const DEPOSIT_REJECT_REASONS: &[&str] = &[
    "missing_op_return",
    "malformed_op_return",
    "multiple_op_returns",
    "below_minimum",
];

// Network.
/// Connected peers.
pub const NETWORK_PEERS: &str = "alys_network_peers";
/// Peers banned since start.
pub const NETWORK_PEER_BANS: &str = "alys_network_peer_bans_total";
/// Highest head height reported by a peer (or ours when higher).
pub const SYNC_TARGET_HEIGHT: &str = "alys_sync_target_height";
/// 1 while fetching blocks from peers.
pub const SYNCING: &str = "alys_syncing";
/// Blocks per second imported while catching up.
pub const SYNC_BLOCKS_PER_SECOND: &str = "alys_sync_blocks_per_second";

// Embedded execution client and RPC.
/// Transactions in the embedded execution client's pool.
pub const TXPOOL_TRANSACTIONS: &str = "alys_txpool_transactions";
/// eth JSON-RPC calls, by method and status.
pub const ETH_RPC_REQUESTS: &str = "alys_eth_rpc_requests_total";
/// Node JSON-RPC calls, by method and status.
pub const NODE_RPC_REQUESTS: &str = "alys_node_rpc_requests_total";
/// The node's version (value 1).
pub const BUILD_INFO: &str = "alys_build_info";

/// Every metric the node exports.
pub const METRICS: &[Metric] = &[
    counter(
        SLOTS_PRODUCED,
        "Blocks imported, by the authority that proposed them",
        BY_AUTHORITY,
    ),
    counter(
        SLOTS_MISSED,
        "Slots without a block before an imported block, by the authority whose slot it was",
        BY_AUTHORITY,
    ),
    Metric {
        name: BLOCK_IMPORT_DURATION,
        kind: Kind::Histogram,
        help: "Time to import a block: validation, EL newPayload, receipts, store, fork choice",
        labels: &[],
    },
    gauge(HEAD_HEIGHT, "Height of the head block"),
    gauge(HEAD_SLOT, "Slot of the head block"),
    gauge(CURRENT_SLOT, "Current slot of the slot clock"),
    gauge(
        FINALIZED_HEIGHT,
        "Height of the last finalized (AuxPoW-covered) block",
    ),
    gauge(
        BLOCKS_WITHOUT_POW,
        "Blocks on the head since the last finalized one",
    ),
    gauge(
        MAX_BLOCKS_WITHOUT_POW,
        "maxBlocksWithoutPow of the chain spec: production halts past it",
    ),
    gauge(
        PRODUCTION_HALTED,
        "1 while block production is halted for want of an AuxPoW",
    ),
    gauge(
        POW_DIFFICULTY,
        "Difficulty a proof on the head must meet (Bitcoin difficulty units)",
    ),
    counter(
        APPROVALS,
        "Approvals offered to this node, by result",
        &[Label {
            name: "result",
            initial: &["accepted", "refused"],
        }],
    ),
    gauge(HEAD_APPROVALS, "Approvals aggregated in the head block"),
    gauge(
        EXECUTION_CLIENT_UP,
        "1 while the execution client answers, 0 while it stops production or import",
    ),
    counter(EXECUTION_GAS_USED, "Gas used by imported blocks", &[]),
    counter(
        EXECUTION_TRANSACTIONS,
        "Transactions in imported blocks",
        &[],
    ),
    counter(DEPOSITS_MINTED, "Deposits minted by imported blocks", &[]),
    counter(DEPOSITS_MINTED_SATS, "Sats minted by imported blocks", &[]),
    gauge(
        PEGOUT_UTXO_TOTAL_SATS,
        "Sats held in federation UTXOs (peg-out ledger, highest imported block)",
    ),
    gauge(PEGOUT_UTXOS, "Federation UTXOs (peg-out ledger)"),
    gauge(
        PEGOUT_PENDING_REQUESTS,
        "Peg-out requests waiting for a payout",
    ),
    gauge(
        PEGOUT_REFUNDS_DUE,
        "Burns to refund that no block minted back yet",
    ),
    gauge(
        PEG_BALANCE_OK,
        "1 while the peg balance invariant holds (UTXO total = minted - paid - fees - spent elsewhere; every burn accounted for)",
    ),
    counter(
        PEGOUT_REQUESTS,
        "Peg-out requests recorded by imported blocks, by disposition",
        &[Label {
            name: "disposition",
            initial: &["pay", "refund"],
        }],
    ),
    counter(
        PEGOUT_PAYOUTS_PROPOSED,
        "Payouts proposed by imported blocks",
        &[],
    ),
    counter(
        PEGOUT_REFUNDS_MINTED,
        "Refunds minted by imported blocks",
        &[],
    ),
    counter(PEGOUT_PAYOUTS_SIGNED, "Payouts this member signed", &[]),
    counter(
        PEGOUT_PAYOUTS_REFUSED,
        "Payouts this member refused to sign (its policy, a txid mismatch)",
        &[],
    ),
    counter(
        PEGOUT_SIGNATURES_REJECTED,
        "Peg-out signature messages rejected as invalid",
        &[],
    ),
    counter(
        PEGOUT_BROADCASTS,
        "Payout broadcasts to the Bitcoin node, by kind",
        &[Label {
            name: "kind",
            initial: &["first", "again"],
        }],
    ),
    counter(
        PEGOUT_PAYOUTS_CONFIRMED,
        "Payouts seen with their required confirmations",
        &[],
    ),
    counter(
        PEGOUT_SPENT_ELSEWHERE,
        "Federation outputs declared spent outside the peg by imported blocks",
        &[],
    ),
    gauge(
        PEGOUT_SPENT_ELSEWHERE_SATS,
        "Sats of federation outputs spent outside the peg (highest imported block)",
    ),
    counter(
        PEGOUT_PAYOUTS_VOIDED,
        "Payouts void because an input was spent outside the peg",
        &[],
    ),
    counter(AUX_WORK_SERVED, "Merged-mining work handed to miners", &[]),
    counter(AUX_WORK_ACCEPTED, "AuxPoW proofs accepted from miners", &[]),
    counter(
        AUX_WORK_REJECTED,
        "AuxPoW proofs rejected, by reason",
        &[Label {
            name: "reason",
            initial: AUX_REJECT_REASONS,
        }],
    ),
    gauge(
        BITCOIN_FOLLOWER_HEIGHT,
        "Height of the last Bitcoin block the follower processed",
    ),
    gauge(BITCOIN_NODE_HEIGHT, "Tip height of the Bitcoin node"),
    gauge(
        BITCOIN_FOLLOWER_LAG,
        "Blocks the follower is behind the Bitcoin node",
    ),
    counter(
        BITCOIN_RPC_ERRORS,
        "Failed Bitcoin RPC steps of the follower",
        &[],
    ),
    counter(
        DEPOSITS_SEEN,
        "Deposits to the federation address seen in Bitcoin blocks",
        &[],
    ),
    counter(
        DEPOSITS_CONFIRMED,
        "Deposits that reached the required confirmations",
        &[],
    ),
    counter(
        DEPOSITS_REORGED,
        "Deposits reorged out of Bitcoin after they were seen",
        &[],
    ),
    counter(
        DEPOSITS_REVERTED,
        "Deposits reorged out of Bitcoin after they had the required confirmations",
        &[],
    ),
    counter(
        DEPOSITS_REJECTED,
        "Transactions paying the federation that are not valid deposits, by reason",
        &[Label {
            name: "reason",
            initial: DEPOSIT_REJECT_REASONS,
        }],
    ),
    gauge(NETWORK_PEERS, "Connected peers"),
    counter(NETWORK_PEER_BANS, "Peers banned since start", &[]),
    gauge(
        SYNC_TARGET_HEIGHT,
        "Highest head height reported by a peer, or ours when higher",
    ),
    gauge(SYNCING, "1 while fetching blocks from peers"),
    gauge(
        SYNC_BLOCKS_PER_SECOND,
        "Blocks per second imported while catching up",
    ),
    gauge(
        TXPOOL_TRANSACTIONS,
        "Transactions in the embedded execution client's pool",
    ),
    counter(
        ETH_RPC_REQUESTS,
        "eth JSON-RPC calls, by method (other: not a served method) and status",
        RPC_LABELS,
    ),
    counter(
        NODE_RPC_REQUESTS,
        "Node JSON-RPC calls, by method (other: not a served method) and status",
        RPC_LABELS,
    ),
    Metric {
        name: BUILD_INFO,
        kind: Kind::Gauge,
        help: "The node's version (value 1)",
        labels: &[Label {
            name: "version",
            initial: &[env!("CARGO_PKG_VERSION")],
        }],
    },
];

const RPC_LABELS: &[Label] = &[
    Label {
        name: "method",
        initial: &["other"],
    },
    Label {
        name: "status",
        initial: &["ok", "error"],
    },
];

const fn counter(name: &'static str, help: &'static str, labels: &'static [Label]) -> Metric {
    Metric {
        name,
        kind: Kind::Counter,
        help,
        labels,
    }
}

const fn gauge(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Gauge,
        help,
        labels: &[],
    }
}

/// The catalog entry of `name`.
pub fn find(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// The metric a series name of a scrape or a query belongs to: `name` itself, or `name`
/// without a histogram's `_bucket`, `_sum` or `_count` suffix.
pub fn metric_of_series(series: &str) -> Option<&'static Metric> {
    find(series).or_else(|| {
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = series.strip_suffix(suffix)?;
            find(base).filter(|m| m.kind == Kind::Histogram)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prefixed_and_suffixed_by_kind() {
        let mut seen = std::collections::HashSet::new();
        for m in METRICS {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
            assert!(m.name.starts_with("alys_"), "{}", m.name);
            assert!(
                m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                m.name
            );
            let total = m.name.ends_with("_total");
            assert_eq!(
                total,
                m.kind == Kind::Counter,
                "{}: counters and only counters end in _total",
                m.name
            );
        }
    }

    #[test]
    fn histogram_series_map_to_their_metric() {
        assert_eq!(
            metric_of_series("alys_block_import_duration_seconds_count").map(|m| m.name),
            Some(BLOCK_IMPORT_DURATION)
        );
        assert!(metric_of_series("alys_head_height_count").is_none());
        assert!(metric_of_series("alys_nope").is_none());
    }
}
