//! Merged mining in consensus (DESIGN §4–5): the AuxPoW a block may carry, its validation,
//! the finality it gives, the fee re-mint it triggers and the halting rule.
//!
//! Everything here is computed from chain data only (the block and its ancestors' [`PowIndex`]),
//! never from the local clock or the local head, so every node reaches the same verdict:
//!
//! * **Range**: a PoW-carrying block `B` with parent `P` finalizes `range_start ..= range_end`
//!   where `range_start = P.pow.finalized_height + 1` (right after the last block finalized in
//!   `B`'s own chain) and `range_end` is `P` or an ancestor of `P` at height ≥ `range_start`.
//! * **Work hash** = `WorkCommitment { auxpowChainId, range_end root, range_start, payout }`
//!   (see `alys_auxpow::work`); the proof must commit to it.
//! * **Difficulty**: ASERT with `height` = number of PoW-carrying blocks in the chain and `time`
//!   = slot start (seconds) of the newest one; the anchor is genesis (count 0, `pow.bits`,
//!   parent time = genesis time − `targetSpacingSecs`), so the first proof needs `pow.bits` and
//!   the target then follows one proof per `targetSpacingSecs` of slot time. The header's `bits`
//!   must equal [`PowParams::expected_bits`] of the parent.
//! * **Fees**: the pool re-minted by `B` is `⌊cum(range_end) / 10⁹⌋ − ⌊cum(P.finalized) / 10⁹⌋`
//!   gwei, `cum` = cumulative priority fees in wei ([`PowIndex::cum_fees`]), split by
//!   [`alys_primitives::withdrawals::FeeSplit`]. Sub-gwei remainders are not lost: they stay in
//!   `cum` and are paid by a later proof.
//! * **Halting**: a block without AuxPoW at height `h` is invalid when
//!   `h − P.pow.finalized_height > maxBlocksWithoutPow`.
//!
//! A spec without `pow` disables merged mining: blocks with an AuxPoW are invalid and nothing
//! halts.

use crate::forkchoice::{BlockInfo, PowIndex};
use alloy::eips::eip4895::Withdrawal;
use alloy_primitives::{B256, U256};
use alys_auxpow::bitcoin::{CompactTarget, Target};
use alys_auxpow::{
    next_bits, target_from_compact, AsertAnchor, AsertParams, AuxPow, AuxPowError, VerifyParams,
    WorkCommitment,
};
use alys_primitives::withdrawals::fee_withdrawals;
use alys_primitives::{AuxPowHeader, ChainSpec, SpecError};

/// Wei per gwei (withdrawal amounts are in gwei).
pub const WEI_PER_GWEI: u64 = 1_000_000_000;

/// The merged-mining parameters of a chain, checked once at start.
#[derive(Debug, Clone)]
pub struct PowParams {
    /// ASERT parameters.
    pub asert: AsertParams,
    /// ASERT anchor (genesis).
    pub anchor: AsertAnchor,
    /// Verification parameters (auxpow chain id, pow limit).
    pub verify: VerifyParams,
    /// `maxBlocksWithoutPow`.
    pub max_blocks_without_pow: u64,
}

impl PowParams {
    /// From the spec and the genesis timestamp; `None` if the spec has no `pow`.
    pub fn from_spec(spec: &ChainSpec, genesis_time: u64) -> Result<Option<Self>, SpecError> {
        let Some(pow) = &spec.pow else {
            return Ok(None);
        };
        let limit = CompactTarget::from_consensus(pow.pow_limit);
        let pow_limit = target_from_compact(limit).ok_or_else(|| {
            SpecError::new(
                "pow.powLimit",
                format!("{:#010x}", pow.pow_limit),
                "not a valid compact target",
            )
        })?;
        let bits = CompactTarget::from_consensus(pow.bits);
        match target_from_compact(bits) {
            Some(t) if t <= pow_limit => {}
            _ => {
                return Err(SpecError::new(
                    "pow.bits",
                    format!("{:#010x}", pow.bits),
                    "not a valid compact target at or below powLimit",
                ))
            }
        }
        let secs = |v: u64, f: &str| {
            u32::try_from(v)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| SpecError::new(f, v.to_string(), "must be in 1..=4294967295"))
        };
        let target_spacing_secs = secs(pow.target_spacing_secs, "pow.targetSpacingSecs")?;
        let half_life_secs = secs(pow.half_life_secs, "pow.halfLifeSecs")?;
        Ok(Some(Self {
            asert: AsertParams {
                target_spacing_secs,
                half_life_secs,
                pow_limit,
            },
            anchor: AsertAnchor {
                height: 0,
                parent_time: genesis_time as i64 - i64::from(target_spacing_secs),
                bits,
            },
            verify: VerifyParams {
                chain_id: spec.auxpow_chain_id,
                pow_limit,
            },
            max_blocks_without_pow: spec.max_blocks_without_pow,
        }))
    }

    /// The bits a proof in a child of a block with index `parent` must meet.
    pub fn expected_bits(&self, parent: &PowIndex) -> CompactTarget {
        let time = i64::try_from(parent.pow_time).unwrap_or(i64::MAX);
        // The anchor is validated in `from_spec` and the height is never below 0: no error.
        next_bits(&self.asert, &self.anchor, parent.pow_count, time)
            .unwrap_or_else(|_| self.asert.pow_limit.to_compact_lossy())
    }

    /// The pow limit as a target.
    pub fn pow_limit(&self) -> Target {
        self.asert.pow_limit
    }

    /// Whether a child of `parent` must carry an AuxPoW.
    pub fn pow_required(&self, parent: &BlockInfo) -> bool {
        parent
            .height
            .saturating_add(1)
            .saturating_sub(parent.pow.finalized_height)
            > self.max_blocks_without_pow
    }
}

/// Chain lookups the AuxPoW rules need (fork choice, then the store below the finalized block).
pub trait ChainLookup {
    /// `(height, index)` of `root` if it is `of` itself or an ancestor of `of` at height ≥
    /// `min_height`.
    fn ancestor_by_root(
        &self,
        of: &BlockInfo,
        root: &B256,
        min_height: u64,
    ) -> Option<(u64, PowIndex)>;
    /// The merged-mining index of a stored block.
    fn pow_index(&self, root: &B256) -> Option<PowIndex>;
}

/// Why a block's AuxPoW (or its absence) is invalid. Wrapped in
/// [`crate::validate::BlockError::AuxPow`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    /// The chain spec has no `pow`: merged mining is disabled.
    #[error("merged mining is disabled on this chain (no `pow` in the spec)")]
    Disabled,
    /// The header bytes are not an SSZ `AuxPowHeader`.
    #[error("{0}")]
    MalformedHeader(String),
    /// Range start is not right after the last finalized block of this chain.
    #[error(
        "AuxPoW range starts at {got}, expected {expected} (right after the last finalized block)"
    )]
    WrongRangeStart {
        /// `parent.finalized_height + 1`.
        expected: u64,
        /// Header value.
        got: u64,
    },
    /// Range end is not the parent or one of its ancestors at or after the range start.
    #[error("AuxPoW range end {0} is not the parent or an unfinalized ancestor of it")]
    RangeEndNotAncestor(B256),
    /// `bits` differs from the consensus-expected bits.
    #[error("AuxPoW bits {got:#010x}, expected {expected:#010x}")]
    WrongBits {
        /// Expected bits.
        expected: u32,
        /// Header bits.
        got: u32,
    },
    /// The proof does not decode or verify (the reason from `alys-auxpow`).
    #[error("invalid AuxPoW: {0}")]
    Proof(AuxPowError),
    /// A block without AuxPoW too far past the finalized block (halting rule).
    #[error("block {height} needs an AuxPoW: {height} − finalized {finalized} > maxBlocksWithoutPow {max}")]
    PowRequired {
        /// Block height.
        height: u64,
        /// Finalized height of its chain.
        finalized: u64,
        /// `maxBlocksWithoutPow`.
        max: u64,
    },
    /// The fee pool does not fit a withdrawal amount.
    #[error("fee pool of {0} gwei does not fit a withdrawal")]
    FeePoolOverflow(U256),
    /// An index the rules need is missing from the store.
    #[error("merged-mining index of {0} missing")]
    MissingIndex(B256),
}

/// A checked AuxPoW of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPow {
    /// The header.
    pub header: AuxPowHeader,
    /// Height of `header.range_end`.
    pub range_end_height: u64,
    /// Fee pool in gwei.
    pub pool_gwei: u64,
    /// The fee re-mint withdrawals (indices from `first_index` given to [`check_auxpow`]).
    pub withdrawals: Vec<Withdrawal>,
}

impl VerifiedPow {
    /// The index of the PoW-carrying block at `timestamp` with `fees` wei of its own fees.
    pub fn child_index(&self, parent: &PowIndex, timestamp: u64, fees: U256) -> PowIndex {
        PowIndex {
            finalized_height: self.range_end_height,
            finalized_root: self.header.range_end,
            pow_count: parent.pow_count.saturating_add(1),
            pow_time: timestamp,
            cum_fees: parent.cum_fees.saturating_add(fees),
        }
    }
}

/// Gwei re-minted for fees between two cumulative totals (wei).
pub fn pool_gwei(cum_end: U256, cum_start: U256) -> Result<u64, PowError> {
    let g = U256::from(WEI_PER_GWEI);
    let pool = (cum_end / g).saturating_sub(cum_start / g);
    u64::try_from(pool).map_err(|_| PowError::FeePoolOverflow(pool))
}

/// Checks the AuxPoW header (`header_bytes`, `None` = no AuxPoW) of a child of `parent` at
/// `height = parent.height + 1`. Returns the verified proof and its fee withdrawals, whose
/// indices start at `first_index`.
pub fn check_auxpow(
    spec: &ChainSpec,
    params: Option<&PowParams>,
    lookup: &dyn ChainLookup,
    parent: &BlockInfo,
    header_bytes: Option<&[u8]>,
    first_index: u64,
) -> Result<Option<VerifiedPow>, PowError> {
    let Some(params) = params else {
        return match header_bytes {
            Some(_) => Err(PowError::Disabled),
            None => Ok(None),
        };
    };
    let Some(bytes) = header_bytes else {
        if params.pow_required(parent) {
            return Err(PowError::PowRequired {
                height: parent.height.saturating_add(1),
                finalized: parent.pow.finalized_height,
                max: params.max_blocks_without_pow,
            });
        }
        return Ok(None);
    };
    let header =
        AuxPowHeader::decode(bytes).map_err(|e| PowError::MalformedHeader(e.to_string()))?;
    let expected_start = parent.pow.finalized_height.saturating_add(1);
    if header.range_start != expected_start {
        return Err(PowError::WrongRangeStart {
            expected: expected_start,
            got: header.range_start,
        });
    }
    let (range_end_height, end_index) = lookup
        .ancestor_by_root(parent, &header.range_end, expected_start)
        .ok_or(PowError::RangeEndNotAncestor(header.range_end))?;
    let expected_bits = params.expected_bits(&parent.pow).to_consensus();
    if header.bits != expected_bits {
        return Err(PowError::WrongBits {
            expected: expected_bits,
            got: header.bits,
        });
    }
    let proof = AuxPow::from_bytes(&header.auxpow).map_err(PowError::Proof)?;
    let work_hash = WorkCommitment {
        chain_id: params.verify.chain_id,
        head_root: header.range_end,
        range_start: header.range_start,
        payout: header.payout,
    }
    .work_hash();
    proof
        .verify(
            &work_hash,
            CompactTarget::from_consensus(header.bits),
            &params.verify,
        )
        .map_err(PowError::Proof)?;
    let start_index = lookup
        .pow_index(&parent.pow.finalized_root)
        .ok_or(PowError::MissingIndex(parent.pow.finalized_root))?;
    let pool = pool_gwei(end_index.cum_fees, start_index.cum_fees)?;
    let withdrawals = fee_withdrawals(
        pool,
        header.payout,
        spec.miner_fee_share,
        &spec.federation_fee_addresses,
        first_index,
    );
    Ok(Some(VerifiedPow {
        header,
        range_end_height,
        pool_gwei: pool,
        withdrawals,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_floors_cumulative_totals() {
        let gwei = |n: u64| U256::from(n) * U256::from(WEI_PER_GWEI);
        assert_eq!(pool_gwei(gwei(5), gwei(2)), Ok(3));
        // 2.5 gwei then 5.5 gwei cumulative: 3 gwei now, the halves carry over.
        let half = U256::from(WEI_PER_GWEI / 2);
        assert_eq!(pool_gwei(gwei(2) + half, U256::ZERO), Ok(2));
        assert_eq!(pool_gwei(gwei(5) + half, gwei(2) + half), Ok(3));
        assert!(pool_gwei(U256::MAX, U256::ZERO).is_err());
    }

    struct NoLookup;
    impl ChainLookup for NoLookup {
        fn ancestor_by_root(&self, _: &BlockInfo, _: &B256, _: u64) -> Option<(u64, PowIndex)> {
            None
        }
        fn pow_index(&self, _: &B256) -> Option<PowIndex> {
            None
        }
    }

    #[test]
    fn disabled_pow_rejects_auxpow_and_never_halts() {
        let mut spec = ChainSpec::dev(1).unwrap();
        spec.pow = None;
        let parent = BlockInfo {
            root: B256::ZERO,
            parent_root: B256::ZERO,
            slot: 0,
            height: 1_000_000,
            payload_hash: B256::ZERO,
            payload_number: 0,
            timestamp: 0,
            approval: alys_primitives::block::AggregateApproval::empty(1),
            pow: PowIndex::default(),
        };
        assert_eq!(
            check_auxpow(&spec, None, &NoLookup, &parent, Some(&[1]), 0),
            Err(PowError::Disabled)
        );
        assert_eq!(
            check_auxpow(&spec, None, &NoLookup, &parent, None, 0),
            Ok(None)
        );
        let p = PowParams::from_spec(&ChainSpec::dev(1).unwrap(), 0).unwrap();
        assert!(matches!(
            check_auxpow(&spec, p.as_ref(), &NoLookup, &parent, None, 0),
            Err(PowError::PowRequired { .. })
        ));
    }

    #[test]
    fn dev_params_first_proof_needs_initial_bits() {
        let spec = ChainSpec::dev(1).unwrap();
        let p = PowParams::from_spec(&spec, 1_000).unwrap().unwrap();
        let genesis = PowIndex {
            pow_time: 1_000,
            ..PowIndex::default()
        };
        assert_eq!(p.expected_bits(&genesis).to_consensus(), 0x207f_ffff);
        let mut bad = spec.clone();
        if let Some(pow) = bad.pow.as_mut() {
            pow.bits = 0x2100_ffff;
        }
        assert!(PowParams::from_spec(&bad, 0).is_err());
        bad.pow = None;
        assert!(PowParams::from_spec(&bad, 0).unwrap().is_none());
    }
}
