//! Deterministic difficulty: ASERT (Bitcoin Cash `aserti3-2d`) and strict compact targets.
//!
//! ```text
//! exponent = ((time − anchor.parent_time − spacing · (height − anchor.height + 1)) · 2^16)
//!            / half_life                                 (integer division toward zero, as C++)
//! shifts   = exponent >> 16 (floor),  frac = exponent − shifts · 2^16  ∈ [0, 2^16)
//! factor   = 2^16 + ((195766423245049·frac + 971821376·frac² + 5127·frac³ + 2^47) >> 48)
//! target   = anchor_target · factor · 2^shifts / 2^16,  clamped to [1, pow_limit]
//! bits     = compact(target)
//! ```
//!
//! `height`/`time` are those of the newest block that counts (for Alys: the newest PoW-carrying
//! block) and the result is the target required of the next one. Inputs are chain data only
//! (anchor height, anchor parent time, anchor bits, current height and time), never the local
//! clock or head. Arithmetic is exact: the exponent in `i128`, the target in 512 bits, so any
//! `pow_limit` up to 2²⁵⁶−1 works (the reference implementation needs `pow_limit < 2²²⁴`) and
//! a shift that would overflow simply clamps to `pow_limit`, as the reference does.
//!
//! Conformance: `tests/asert_vectors.rs` reproduces all official aserti3-2d vectors with Bitcoin
//! Cash's parameters ([`AsertParams::bitcoin_cash`]).

use alloy_primitives::U512;
use bitcoin::{CompactTarget, Target};
use thiserror::Error;

/// ASERT parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsertParams {
    /// Ideal seconds between two counted blocks (> 0).
    pub target_spacing_secs: u32,
    /// Seconds of schedule drift that double (or halve) the target (> 0).
    pub half_life_secs: u32,
    /// Easiest target allowed.
    pub pow_limit: Target,
}

impl AsertParams {
    /// Bitcoin Cash mainnet: 600 s spacing, 172 800 s (2 days) half-life, limit `0x1d00ffff`.
    pub fn bitcoin_cash() -> Self {
        AsertParams {
            target_spacing_secs: 600,
            half_life_secs: 172_800,
            pow_limit: Target::from_compact(CompactTarget::from_consensus(0x1d00_ffff)),
        }
    }
}

/// The anchor block ASERT measures from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsertAnchor {
    /// Height of the anchor block.
    pub height: u64,
    /// Timestamp (seconds) of the anchor block's parent.
    pub parent_time: i64,
    /// Compact target of the anchor block.
    pub bits: CompactTarget,
}

/// Invalid ASERT input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DifficultyError {
    /// Spacing or half-life is zero.
    #[error("ASERT spacing and half-life must be > 0")]
    InvalidParams,
    /// The anchor bits are not a valid positive target.
    #[error("ASERT anchor bits {0:#010x} are not a valid target")]
    InvalidAnchorBits(u32),
    /// The anchor target is above the pow limit.
    #[error("ASERT anchor bits {0:#010x} above the pow limit")]
    AnchorAboveLimit(u32),
    /// The current height is below the anchor height.
    #[error("height {height} is below the ASERT anchor height {anchor}")]
    HeightBeforeAnchor {
        /// Current height.
        height: u64,
        /// Anchor height.
        anchor: u64,
    },
}

/// Decodes compact `bits` like Bitcoin Core's `SetCompact` + `CheckProofOfWork`: `None` when the
/// value is negative, zero or overflows 256 bits (rust-bitcoin's `from_compact` would wrap).
pub fn target_from_compact(bits: CompactTarget) -> Option<Target> {
    let c = bits.to_consensus();
    let size = c >> 24;
    let word = c & 0x007f_ffff;
    if word == 0 {
        return None; // zero target
    }
    if c & 0x0080_0000 != 0 {
        return None; // negative
    }
    if size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32) {
        return None; // overflow
    }
    let target = Target::from_compact(bits);
    if target == Target::ZERO {
        None // e.g. size 1 with a one- or two-byte word shifted out
    } else {
        Some(target)
    }
}

fn to_u512(t: Target) -> U512 {
    let mut b = [0u8; 64];
    b[32..].copy_from_slice(&t.to_be_bytes());
    U512::from_be_bytes(b)
}

/// Only called with values ≤ a `Target`, so the high half is zero.
fn from_u512(v: U512) -> Target {
    let b: [u8; 64] = v.to_be_bytes();
    let mut low = [0u8; 32];
    low.copy_from_slice(&b[32..]);
    Target::from_be_bytes(low)
}

/// The ASERT target for the block after (`height`, `time`).
pub fn next_target(
    params: &AsertParams,
    anchor: &AsertAnchor,
    height: u64,
    time: i64,
) -> Result<Target, DifficultyError> {
    if params.target_spacing_secs == 0 || params.half_life_secs == 0 {
        return Err(DifficultyError::InvalidParams);
    }
    let raw = anchor.bits.to_consensus();
    let anchor_target =
        target_from_compact(anchor.bits).ok_or(DifficultyError::InvalidAnchorBits(raw))?;
    if anchor_target > params.pow_limit {
        return Err(DifficultyError::AnchorAboveLimit(raw));
    }
    let height_diff =
        height
            .checked_sub(anchor.height)
            .ok_or(DifficultyError::HeightBeforeAnchor {
                height,
                anchor: anchor.height,
            })?;

    // |time_diff| < 2^64, spacing · (height_diff + 1) < 2^32 · 2^65: all terms fit i128.
    let time_diff = i128::from(time) - i128::from(anchor.parent_time);
    let ideal = i128::from(params.target_spacing_secs) * (i128::from(height_diff) + 1);
    let exponent = (time_diff - ideal) * 65_536 / i128::from(params.half_life_secs);

    let shifts = exponent >> 16; // floor
    let frac = (exponent - shifts * 65_536) as u128; // in [0, 65536)
    let poly = 195_766_423_245_049u128 * frac
        + 971_821_376u128 * frac * frac
        + 5_127u128 * frac * frac * frac
        + (1u128 << 47);
    let factor = 65_536u128 + (poly >> 48);

    let limit = to_u512(params.pow_limit);
    // anchor_target < 2^256 and factor < 2^17: the product fits 512 bits.
    let mut next = to_u512(anchor_target) * U512::from(factor);
    let shifts = shifts - 16;
    if shifts <= 0 {
        let right = shifts.unsigned_abs();
        next = if right >= 512 {
            U512::ZERO
        } else {
            next >> (right as usize)
        };
    } else {
        let left = shifts.unsigned_abs();
        let fits = left < 512 && (next.leading_zeros() as u128) >= left;
        next = if fits { next << (left as usize) } else { limit };
    }
    if next.is_zero() {
        next = U512::from(1u8);
    } else if next > limit {
        next = limit;
    }
    Ok(from_u512(next))
}

/// [`next_target`] in compact form (Bitcoin Core `GetCompact`).
pub fn next_bits(
    params: &AsertParams,
    anchor: &AsertAnchor,
    height: u64,
    time: i64,
) -> Result<CompactTarget, DifficultyError> {
    next_target(params, anchor, height, time).map(Target::to_compact_lossy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(c: u32) -> CompactTarget {
        CompactTarget::from_consensus(c)
    }

    #[test]
    fn strict_compact_rejects_bad_bits() {
        assert!(target_from_compact(bits(0)).is_none());
        assert!(target_from_compact(bits(0x1d80_ffff)).is_none()); // negative
        assert!(target_from_compact(bits(0x2301_0000)).is_none()); // overflow
        assert!(target_from_compact(bits(0xff7f_ffff)).is_none()); // overflow
        assert!(target_from_compact(bits(0x0100_0001)).is_none()); // shifts to zero
        assert_eq!(
            target_from_compact(bits(0x0101_0000))
                .unwrap()
                .to_compact_lossy(),
            bits(0x0101_0000)
        );
        assert!(target_from_compact(bits(0x207f_ffff)).is_some()); // regtest
        assert!(target_from_compact(bits(0x2100_ffff)).is_some()); // 0xffff << 240
    }

    #[test]
    fn steady_blocks_keep_target() {
        let p = AsertParams::bitcoin_cash();
        let a = AsertAnchor {
            height: 1,
            parent_time: 0,
            bits: bits(0x1a2b_3c4d),
        };
        for n in 2..50u64 {
            assert_eq!(
                next_bits(&p, &a, n, (n as i64) * 600).unwrap(),
                bits(0x1a2b_3c4d)
            );
        }
    }

    #[test]
    fn extreme_inputs_clamp_without_panic() {
        let regtest = Target::from_compact(bits(0x207f_ffff));
        let p = AsertParams {
            target_spacing_secs: 2,
            half_life_secs: 1,
            pow_limit: regtest,
        };
        let a = AsertAnchor {
            height: 0,
            parent_time: 0,
            bits: bits(0x207f_ffff),
        };
        assert_eq!(next_target(&p, &a, 0, i64::MAX).unwrap(), regtest);
        assert_eq!(
            next_target(&p, &a, u64::MAX, i64::MIN).unwrap(),
            Target::from_le_bytes({
                let mut one = [0u8; 32];
                one[0] = 1;
                one
            })
        );
        assert_eq!(next_target(&p, &a, 0, 0).map(|_| ()), Ok(()),);
        let bad = AsertParams {
            half_life_secs: 0,
            ..p
        };
        assert_eq!(
            next_target(&bad, &a, 0, 0),
            Err(DifficultyError::InvalidParams)
        );
        let below = AsertAnchor { height: 5, ..a };
        assert!(matches!(
            next_target(&p, &below, 4, 0),
            Err(DifficultyError::HeightBeforeAnchor { .. })
        ));
        let above = AsertAnchor {
            bits: bits(0x2100_ffff),
            ..a
        };
        assert!(matches!(
            next_target(&p, &above, 1, 0),
            Err(DifficultyError::AnchorAboveLimit(_))
        ));
    }
}
