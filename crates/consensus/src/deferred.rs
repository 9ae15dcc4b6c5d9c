//! Proposals and blocks refused only because this node's view of Bitcoin is behind.
//!
//! Every authority runs its own Bitcoin follower, polling its own Bitcoin node. A proposer whose
//! follower saw a deposit's last confirmation a few milliseconds before the slot started proposes
//! the mint; a validator whose follower has not polled yet refuses it as unconfirmed. That
//! verdict is about the validator, not the block, so the service keeps such proposals and blocks
//! and tries them again every [`RETRY_INTERVAL`] for [`RETRY_WINDOW_SLOTS`] slots after their own
//! slot, instead of dropping them (which would cost the slot, or leave the node behind its
//! federation). Anything else invalid is never kept.

use std::time::Duration;

use alys_primitives::{BlockProposal, SignedConsensusBlock};

use crate::import::ImportError;
use crate::validate::BlockError;

/// Wait between two attempts (the order of the Bitcoin follower's poll interval).
pub const RETRY_INTERVAL: Duration = Duration::from_millis(100);
/// Slots after its own during which a refused proposal or block is tried again.
pub const RETRY_WINDOW_SLOTS: u64 = 16;
/// Kept at most; the oldest goes first.
pub const MAX_DEFERRED: usize = 64;
/// Bytes (SSZ) kept at most; the oldest goes first.
pub const MAX_DEFERRED_BYTES: usize = 64 * 1024 * 1024;

/// A refused proposal or block waiting for another attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferred {
    /// A proposal we could not approve yet.
    Proposal(BlockProposal),
    /// A block with threshold approvals we could not import yet.
    Block(SignedConsensusBlock),
}

impl Deferred {
    fn slot(&self) -> u64 {
        match self {
            Deferred::Proposal(p) => p.block.slot,
            Deferred::Block(b) => b.message.slot,
        }
    }

    fn bytes(&self) -> usize {
        use ssz::Encode;
        match self {
            Deferred::Proposal(p) => p.ssz_bytes_len(),
            Deferred::Block(b) => b.ssz_bytes_len(),
        }
    }
}

/// Whether `error` may go away once this node's Bitcoin follower catches up: a peg-in the
/// verifier refused as unknown or not yet confirmed ([`crate::PegInRejection::retryable`]), or
/// a declared spend of a federation output this node's Bitcoin node has not seen as deep
/// ([`crate::pegout::PegOutRejection::retryable`]). Every other rule is final, an already
/// minted or mismatched peg-in included.
pub fn is_retryable(error: &ImportError) -> bool {
    match error {
        ImportError::Invalid(BlockError::PegInRejected { reason, .. }) => reason.retryable(),
        ImportError::Invalid(BlockError::PegOut(reason)) => reason.retryable(),
        _ => false,
    }
}

/// The queue of deferred proposals and blocks, bounded in count ([`MAX_DEFERRED`]) and bytes
/// ([`MAX_DEFERRED_BYTES`]). Only items whose signatures verified reach it: the verifier is
/// asked about peg-ins after the approval checks.
#[derive(Debug, Default)]
pub struct DeferredQueue {
    items: Vec<Deferred>,
    bytes: usize,
}

impl DeferredQueue {
    /// Keep `item` unless its window has passed at `current_slot`; returns whether it was kept.
    pub fn push(&mut self, item: Deferred, current_slot: u64) -> bool {
        let bytes = item.bytes();
        if item.slot().saturating_add(RETRY_WINDOW_SLOTS) < current_slot
            || bytes > MAX_DEFERRED_BYTES
            || self.items.contains(&item)
        {
            return false;
        }
        while !self.items.is_empty()
            && (self.items.len() >= MAX_DEFERRED || self.bytes + bytes > MAX_DEFERRED_BYTES)
        {
            let old = self.items.remove(0);
            self.bytes -= old.bytes();
        }
        self.bytes += bytes;
        self.items.push(item);
        true
    }

    /// Everything kept, emptying the queue (items still refused are pushed back).
    pub fn take(&mut self) -> Vec<Deferred> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }

    /// Number of items kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Nothing kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PegInRejection;
    use alys_primitives::B256;

    fn rejected(reason: PegInRejection) -> ImportError {
        ImportError::Invalid(BlockError::PegInRejected { index: 0, reason })
    }

    #[test]
    fn only_follower_lag_is_retryable() {
        let txid = B256::repeat_byte(1);
        assert!(is_retryable(&rejected(PegInRejection::Unconfirmed {
            txid,
            state: "1 confirmation(s) so far".into(),
        })));
        assert!(is_retryable(&rejected(PegInRejection::Unknown { txid })));
        assert!(!is_retryable(&rejected(PegInRejection::AlreadyMinted {
            txid,
            vout: 0,
            block: B256::repeat_byte(2),
        })));
        assert!(!is_retryable(&rejected(PegInRejection::Mismatch {
            txid,
            field: "sats",
        })));
        assert!(!is_retryable(&rejected(PegInRejection::NotADeposit {
            txid,
            reason: "below the minimum".into(),
        })));
        assert!(!is_retryable(&rejected(PegInRejection::State("x".into()))));
        assert!(!is_retryable(&rejected(PegInRejection::NoBitcoinFollower)));
        assert!(!is_retryable(&ImportError::Invalid(
            BlockError::DuplicatePegIn { index: 1 }
        )));
    }

    #[test]
    fn only_a_spend_the_bitcoin_node_has_not_seen_as_deep_is_retryable() {
        use crate::pegout::PegOutRejection as R;
        let pegout = |r: R| ImportError::Invalid(BlockError::PegOut(r));
        let outpoint = || "ab:0".to_string();
        assert!(is_retryable(&pegout(R::SpendUnknown {
            outpoint: outpoint()
        })));
        assert!(is_retryable(&pegout(R::SpendUnconfirmed {
            outpoint: outpoint(),
            confirmations: 1,
            required: 2,
        })));
        for final_rule in [
            R::SpendMismatch {
                outpoint: outpoint(),
            },
            R::NotAFederationOutput(outpoint()),
            R::SpentByPayout(outpoint()),
            R::DuplicateSpend(outpoint()),
            R::NothingToPay,
            R::NotEnabled,
        ] {
            assert!(!is_retryable(&pegout(final_rule.clone())), "{final_rule}");
        }
    }
}
