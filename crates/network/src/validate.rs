//! What a gossiped consensus message must pass before this node forwards it or hands it to
//! consensus: the checks that need only the chain spec and the clock (signatures against the
//! authority keys, slot windows, structure). Rules that need the chain (parent, payload, EL
//! verdict) stay in consensus, which runs them again on import.
//!
//! Each rule maps to a [`Verdict`]: a message no honest peer could have sent (bad signature,
//! wrong proposer, wrong bitfield) is [`Verdict::Reject`] and counts against the peer that
//! relayed it; one an honest peer may relay (a slot a little outside our window, clock skew)
//! is [`Verdict::Ignore`]: dropped, not forwarded, not penalized.

use alloy_primitives::B256;
use alys_consensus::forkchoice::{BlockInfo, PowIndex};
use alys_consensus::pow::ChainLookup;
use alys_consensus::validate::{check_aggregate, check_proposer_approval, ValidationContext};
use alys_consensus::{BlockError, GossipMessage, NoPegIns, NoPegOuts, SlotClock};
use alys_primitives::signing::approval_signing_root;
use alys_primitives::{Approval, ChainSpec, Domain, DomainType, Signature};
use std::sync::Arc;

/// Slots behind the current one for which approvals and proposals are still relayed (matches
/// the window of the consensus approval pool).
pub const RELAY_WINDOW_SLOTS: u64 = 64;

/// The outcome of validating one gossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: forward and deliver.
    Accept,
    /// Not forwarded, not delivered, peer not penalized.
    Ignore(String),
    /// Invalid: not forwarded, the relaying peer is penalized.
    Reject(String),
}

/// Why a consensus message fails the gossip checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GossipError {
    /// A block rule (signature, proposer, bitfield, threshold) fails.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// An approval names no authority.
    #[error("approval from unknown authority {index} (there are {n})")]
    UnknownAuthority {
        /// The index.
        index: u64,
        /// Number of authorities.
        n: usize,
    },
    /// An approval's signature is malformed or does not verify.
    #[error("approval signature from authority {index} does not verify")]
    BadApprovalSignature {
        /// The authority.
        index: u64,
    },
    /// The slot is too far from the local clock to be relayed (not penalized).
    #[error("slot {slot} outside the relay window {min}..={max}")]
    SlotOutOfWindow {
        /// The message's slot.
        slot: u64,
        /// Lowest relayed.
        min: u64,
        /// Highest relayed.
        max: u64,
    },
    /// An AuxPoW header whose proof is empty (a proof can never be empty).
    #[error("AuxPoW header without a proof")]
    EmptyAuxPow,
    /// Peg-out signatures from an index outside `federationBitcoinPubkeys`.
    #[error("peg-out signer {member} is not a federation member (there are {members})")]
    UnknownPegOutSigner {
        /// The index.
        member: u64,
        /// Federation size.
        members: usize,
    },
    /// A peg-out signature message without a signature (a payout always has an input).
    #[error("peg-out signature message without a signature")]
    EmptyPegOutSignatures,
}

impl GossipError {
    /// Whether the message is only outside this node's window (ignored, not penalized).
    pub fn is_benign(&self) -> bool {
        matches!(
            self,
            GossipError::SlotOutOfWindow { .. }
                | GossipError::Block(BlockError::SlotInFuture { .. })
        )
    }

    /// The verdict for this error.
    pub fn verdict(&self) -> Verdict {
        if self.is_benign() {
            Verdict::Ignore(self.to_string())
        } else {
            Verdict::Reject(self.to_string())
        }
    }
}

/// Checks gossiped consensus messages against the chain spec and the clock.
#[derive(Clone)]
pub struct GossipValidator {
    spec: Arc<ChainSpec>,
    domain: Domain,
    clock: SlotClock,
}

/// No ancestors: the gossip checks never look at the chain.
struct NoLookup;

impl ChainLookup for NoLookup {
    fn ancestor_by_root(&self, _: &BlockInfo, _: &B256, _: u64) -> Option<(u64, PowIndex)> {
        None
    }
    fn pow_index(&self, _: &B256) -> Option<PowIndex> {
        None
    }
}

impl GossipValidator {
    /// A validator for the chain `spec` on `clock`.
    pub fn new(spec: Arc<ChainSpec>, clock: SlotClock) -> Self {
        let domain = alys_primitives::compute_domain(DomainType::BlockApproval, spec.spec_hash());
        Self {
            spec,
            domain,
            clock,
        }
    }

    /// The chain spec.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// Checks `msg`; `Ok` means forward and deliver.
    pub fn check(&self, msg: &GossipMessage) -> Result<(), GossipError> {
        let current = self.clock.current_slot();
        let pegins = NoPegIns;
        let pegouts = NoPegOuts;
        let ctx = ValidationContext {
            spec: &self.spec,
            approval_domain: self.domain,
            current_slot: current,
            pegins: &pegins,
            pegouts: &pegouts,
            slot_duration_ms: self.spec.slot_duration_ms,
            pow: None,
            lookup: &NoLookup,
        };
        let window = |slot: u64| {
            let (min, max) = (
                current.saturating_sub(RELAY_WINDOW_SLOTS),
                current.saturating_add(1),
            );
            if slot < min || slot > max {
                return Err(GossipError::SlotOutOfWindow { slot, min, max });
            }
            Ok(())
        };
        match msg {
            GossipMessage::Proposal(p) => {
                window(p.block.slot)?;
                check_proposer_approval(&ctx, p.block.root(), p.block.slot, &p.proposer_approval)?;
            }
            GossipMessage::Block(b) => {
                // Old blocks are relayed too (a node catching up needs them); only the future
                // is bounded.
                if b.message.slot > current.saturating_add(1) {
                    return Err(BlockError::SlotInFuture {
                        slot: b.message.slot,
                        current,
                    }
                    .into());
                }
                check_aggregate(&ctx, b.root(), b.message.slot, &b.approval)?;
            }
            GossipMessage::Approval(a) => {
                window(a.slot)?;
                self.check_approval(a)?;
            }
            GossipMessage::AuxPow(h) => {
                if h.auxpow.is_empty() {
                    return Err(GossipError::EmptyAuxPow);
                }
            }
            // The signatures themselves are verified by the collector, behind consensus.
            GossipMessage::PegOutSignatures(s) => {
                let members = self.spec.federation_bitcoin_pubkeys.len();
                if usize::try_from(s.member).map_or(true, |m| m >= members) {
                    return Err(GossipError::UnknownPegOutSigner {
                        member: s.member,
                        members,
                    });
                }
                if s.signatures.is_empty() {
                    return Err(GossipError::EmptyPegOutSignatures);
                }
            }
        }
        Ok(())
    }

    /// An individual approval: a known authority's valid signature over the block root.
    pub fn check_approval(&self, a: &Approval) -> Result<(), GossipError> {
        let n = self.spec.authorities.len();
        let pk = usize::try_from(a.authority_index)
            .ok()
            .and_then(|i| self.spec.authorities.get(i))
            .ok_or(GossipError::UnknownAuthority {
                index: a.authority_index,
                n,
            })?;
        let bad = GossipError::BadApprovalSignature {
            index: a.authority_index,
        };
        let sig = Signature::from_bytes(a.signature.as_slice()).map_err(|_| bad.clone())?;
        if !sig.verify(
            pk,
            approval_signing_root(a.block_root, a.slot, self.domain).as_slice(),
        ) {
            return Err(bad);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alys_primitives::PegOutSignatures;

    #[test]
    fn pegout_signatures_need_a_member_index_and_a_signature() {
        let spec = Arc::new(ChainSpec::dev(3).unwrap());
        let v = GossipValidator::new(spec.clone(), SlotClock::system(spec.slot_duration_ms));
        let msg = |member: u64, n: usize| {
            GossipMessage::PegOutSignatures(Box::new(
                PegOutSignatures::new(B256::repeat_byte(1), member, &vec![[9; 64]; n]).unwrap(),
            ))
        };
        assert_eq!(v.check(&msg(2, 1)), Ok(()));
        let e = v.check(&msg(3, 1)).unwrap_err();
        assert_eq!(
            e,
            GossipError::UnknownPegOutSigner {
                member: 3,
                members: 3
            }
        );
        assert!(matches!(e.verdict(), Verdict::Reject(_)));
        assert_eq!(v.check(&msg(0, 0)), Err(GossipError::EmptyPegOutSignatures));
    }
}
