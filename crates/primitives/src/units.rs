//! Units of the two-way peg: BTC amounts in satoshis and their EVM equivalents.
//!
//! BTC is the gas token with 18 decimals: 1 sat = 10 gwei = 10^10 wei. Withdrawals (mints)
//! are denominated in gwei, so a mint of `s` sats is a withdrawal of `10 * s` gwei.

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

/// Gwei per satoshi.
pub const GWEI_PER_SAT: u64 = 10;
/// Wei per satoshi (10^10).
pub const WEI_PER_SAT: u64 = 10_000_000_000;
/// Wei per gwei.
pub const WEI_PER_GWEI: u64 = 1_000_000_000;

/// An amount of bitcoin in satoshis.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Sats(pub u64);

impl Sats {
    /// Zero sats.
    pub const ZERO: Sats = Sats(0);

    /// The amount in gwei, `None` on overflow (impossible for amounts below 21M BTC).
    pub fn to_gwei(self) -> Option<u64> {
        self.0.checked_mul(GWEI_PER_SAT)
    }

    /// The amount in wei.
    pub fn to_wei(self) -> U256 {
        U256::from(self.0) * U256::from(WEI_PER_SAT)
    }

    /// Exact conversion from wei: `None` if `wei` is not a whole number of sats or too large.
    pub fn from_wei_exact(wei: U256) -> Option<Sats> {
        let per = U256::from(WEI_PER_SAT);
        if wei % per != U256::ZERO {
            return None;
        }
        u64::try_from(wei / per).ok().map(Sats)
    }

    /// Checked addition.
    pub fn checked_add(self, other: Sats) -> Option<Sats> {
        self.0.checked_add(other.0).map(Sats)
    }
}

impl std::fmt::Display for Sats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} sat", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(Sats(1).to_gwei(), Some(10));
        assert_eq!(Sats(1).to_wei(), U256::from(10_000_000_000u64));
        assert_eq!(
            Sats::from_wei_exact(U256::from(30_000_000_000u64)),
            Some(Sats(3))
        );
        assert_eq!(Sats::from_wei_exact(U256::from(30_000_000_001u64)), None);
        assert_eq!(Sats(u64::MAX).to_gwei(), None);
    }
}
