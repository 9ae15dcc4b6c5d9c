//! Collection of individual approvals and their aggregation at threshold.
//!
//! An approval is accepted only from a known authority, once per authority and block, and only
//! with a signature that verifies over the block's root and the approval's slot. Once a block has `threshold`
//! approvals, [`ApprovalPool::aggregate`] produces the [`AggregateApproval`] (bitfield of
//! length n + aggregate BLS signature) carried by the signed block.

use alloy_primitives::{FixedBytes, B256};
use alys_primitives::block::AggregateApproval;
use alys_primitives::signing::approval_signing_root;
use alys_primitives::{AggregateSignature, Approval, ChainSpec, Domain, Signature};
use ssz_types::BitList;
use std::collections::{BTreeMap, HashMap};

/// Why an approval was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// Authority index ≥ n.
    #[error("unknown authority index {index} (there are {n})")]
    UnknownAuthority {
        /// The index.
        index: u64,
        /// Number of authorities.
        n: usize,
    },
    /// This authority already approved this block.
    #[error("authority {index} already approved block {block_root}")]
    DuplicateApproval {
        /// The authority.
        index: u64,
        /// The block.
        block_root: B256,
    },
    /// Signature bytes are not a valid point.
    #[error("invalid signature encoding from authority {index}: {reason}")]
    InvalidSignatureEncoding {
        /// The authority.
        index: u64,
        /// Why.
        reason: String,
    },
    /// Signature does not verify.
    #[error("bad signature from authority {index}")]
    BadSignature {
        /// The authority.
        index: u64,
    },
    /// The authority already approved a different block for the same slot (honest
    /// authorities approve at most one block per slot; this also bounds the pool's memory).
    #[error("authority {index} equivocates at slot {slot}: already approved {first}")]
    Equivocation {
        /// The authority.
        index: u64,
        /// The slot.
        slot: u64,
        /// The block it approved first.
        first: B256,
    },
    /// The approval's slot is outside the window the pool accepts.
    #[error("approval for slot {slot} outside the accepted window {min}..={max}")]
    SlotOutOfWindow {
        /// The slot.
        slot: u64,
        /// Lowest accepted.
        min: u64,
        /// Highest accepted.
        max: u64,
    },
    /// Two approvals for one block root claim different slots.
    #[error(
        "approval slot {slot} differs from the slot {expected} of other approvals for the block"
    )]
    SlotMismatch {
        /// The approval's slot.
        slot: u64,
        /// Slot recorded for the block.
        expected: u64,
    },
}

#[derive(Debug, Default)]
struct Collected {
    slot: u64,
    sigs: BTreeMap<usize, Signature>,
}

/// Approvals collected per block root.
#[derive(Debug, Default)]
pub struct ApprovalPool {
    blocks: HashMap<B256, Collected>,
    /// The block each authority approved at each slot.
    voted: HashMap<(u64, usize), B256>,
}

impl ApprovalPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Verify and add `approval`; returns how many distinct approvals the block now has.
    /// `slot_window` bounds the slots accepted (memory bound against spam).
    pub fn add(
        &mut self,
        spec: &ChainSpec,
        domain: Domain,
        approval: &Approval,
        slot_window: (u64, u64),
    ) -> Result<usize, ApprovalError> {
        let n = spec.authorities.len();
        let index = approval.authority_index;
        let (min, max) = slot_window;
        if approval.slot < min || approval.slot > max {
            return Err(ApprovalError::SlotOutOfWindow {
                slot: approval.slot,
                min,
                max,
            });
        }
        let i = usize::try_from(index)
            .ok()
            .filter(|i| *i < n)
            .ok_or(ApprovalError::UnknownAuthority { index, n })?;
        if let Some(c) = self.blocks.get(&approval.block_root) {
            if c.sigs.contains_key(&i) {
                return Err(ApprovalError::DuplicateApproval {
                    index,
                    block_root: approval.block_root,
                });
            }
            if c.slot != approval.slot {
                return Err(ApprovalError::SlotMismatch {
                    slot: approval.slot,
                    expected: c.slot,
                });
            }
        }
        let sig = Signature::from_bytes(approval.signature.as_slice()).map_err(|e| {
            ApprovalError::InvalidSignatureEncoding {
                index,
                reason: e.to_string(),
            }
        })?;
        let msg = approval_signing_root(approval.block_root, approval.slot, domain);
        if !sig.verify(&spec.authorities[i], msg.as_slice()) {
            return Err(ApprovalError::BadSignature { index });
        }
        if let Some(first) = self.voted.get(&(approval.slot, i)) {
            if *first != approval.block_root {
                return Err(ApprovalError::Equivocation {
                    index,
                    slot: approval.slot,
                    first: *first,
                });
            }
        }
        let entry = self
            .blocks
            .entry(approval.block_root)
            .or_insert_with(|| Collected {
                slot: approval.slot,
                sigs: BTreeMap::new(),
            });
        entry.sigs.insert(i, sig);
        let count = entry.sigs.len();
        self.voted.insert((approval.slot, i), approval.block_root);
        Ok(count)
    }

    /// Number of approvals for `block_root`.
    pub fn count(&self, block_root: &B256) -> usize {
        self.blocks.get(block_root).map_or(0, |c| c.sigs.len())
    }

    /// Whether authority `index` approved `block_root`.
    pub fn has(&self, block_root: &B256, index: usize) -> bool {
        self.blocks
            .get(block_root)
            .is_some_and(|c| c.sigs.contains_key(&index))
    }

    /// The aggregate approval of `block_root` if it has at least `threshold` approvals.
    pub fn aggregate(
        &self,
        block_root: &B256,
        n: usize,
        threshold: usize,
    ) -> Option<AggregateApproval> {
        let c = self.blocks.get(block_root)?;
        if c.sigs.len() < threshold || c.sigs.is_empty() {
            return None;
        }
        aggregate_approval(n, c.sigs.iter().map(|(i, s)| (*i, *s)))
    }

    /// Forget every block below `slot`.
    pub fn prune_below(&mut self, slot: u64) {
        self.blocks.retain(|_, c| c.slot >= slot);
        self.voted.retain(|(s, _), _| *s >= slot);
    }
}

/// Build an aggregate approval from `(authority index, signature)` pairs (indices < n).
pub fn aggregate_approval(
    n: usize,
    sigs: impl IntoIterator<Item = (usize, Signature)>,
) -> Option<AggregateApproval> {
    let mut bitfield = BitList::with_capacity(n).ok()?;
    let mut all = Vec::new();
    for (i, s) in sigs {
        bitfield.set(i, true).ok()?;
        all.push(s);
    }
    let agg = AggregateSignature::aggregate(&all).ok()?;
    Some(AggregateApproval {
        bitfield,
        signature: FixedBytes(agg.to_signature().to_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alys_primitives::dev::dev_secret_key;
    use alys_primitives::signing::{compute_domain, sign_approval, DomainType};

    fn approval(i: usize, root: B256, domain: Domain) -> Approval {
        Approval {
            block_root: root,
            slot: 5,
            authority_index: i as u64,
            signature: FixedBytes(sign_approval(&dev_secret_key(i), root, 5, domain).to_bytes()),
        }
    }

    #[test]
    fn collects_rejects_and_aggregates() {
        let spec = ChainSpec::dev(3).unwrap();
        let domain = compute_domain(DomainType::BlockApproval, spec.spec_hash());
        let root = B256::repeat_byte(1);
        let w = (0, 10);
        let mut pool = ApprovalPool::new();
        assert_eq!(
            pool.add(&spec, domain, &approval(0, root, domain), w),
            Ok(1)
        );
        assert_eq!(
            pool.add(&spec, domain, &approval(0, root, domain), w),
            Err(ApprovalError::DuplicateApproval {
                index: 0,
                block_root: root
            })
        );
        let mut unknown = approval(1, root, domain);
        unknown.authority_index = 3;
        assert_eq!(
            pool.add(&spec, domain, &unknown, w),
            Err(ApprovalError::UnknownAuthority { index: 3, n: 3 })
        );
        let mut forged = approval(1, root, domain);
        forged.signature = approval(2, root, domain).signature;
        assert_eq!(
            pool.add(&spec, domain, &forged, w),
            Err(ApprovalError::BadSignature { index: 1 })
        );
        let other_chain = compute_domain(DomainType::BlockApproval, B256::repeat_byte(9));
        assert_eq!(
            pool.add(&spec, domain, &approval(1, root, other_chain), w),
            Err(ApprovalError::BadSignature { index: 1 })
        );
        let mut garbage = approval(1, root, domain);
        garbage.signature = FixedBytes::repeat_byte(0xff);
        assert!(matches!(
            pool.add(&spec, domain, &garbage, w),
            Err(ApprovalError::InvalidSignatureEncoding { .. })
        ));
        assert!(pool.aggregate(&root, 3, 2).is_none());
        assert_eq!(
            pool.add(&spec, domain, &approval(2, root, domain), w),
            Ok(2)
        );
        let agg = pool.aggregate(&root, 3, 2).unwrap();
        assert_eq!(agg.bitfield.len(), 3);
        assert_eq!(agg.signers(), vec![0, 2]);
        assert!(matches!(
            pool.add(
                &spec,
                domain,
                &Approval {
                    slot: 11,
                    ..approval(1, root, domain)
                },
                w
            ),
            Err(ApprovalError::SlotOutOfWindow { .. })
        ));
        let other_root = B256::repeat_byte(2);
        assert_eq!(
            pool.add(&spec, domain, &approval(0, other_root, domain), w),
            Err(ApprovalError::Equivocation {
                index: 0,
                slot: 5,
                first: root
            })
        );
        pool.prune_below(6);
        assert_eq!(pool.count(&root), 0);
    }
}
