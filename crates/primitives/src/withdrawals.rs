//! The withdrawals (mints) a block must carry for its peg-ins (DESIGN §7 "Mint").
//!
//! Rule: one withdrawal per distinct recipient, in order of the recipient's first appearance in
//! the block's peg-in list, amount in gwei = (sum of that recipient's sats) × 10,
//! `validator_index` = 0. Withdrawal indices are stateless: the `i`-th withdrawal of the block
//! with execution number `h` has index `h × 16 + i` ([`withdrawal_index_base`]), unique across
//! the chain because a payload carries at most 16 withdrawals.
//!
//! Fee re-mint (DESIGN §4 "Fees"): a block carrying an AuxPoW appends, after the peg-in mints,
//! the fee shares of the range it finalizes ([`fee_withdrawals`]): the pool `G` (gwei, computed
//! by consensus from cumulative priority fees, see `docs/merged-mining.md`) is split as
//! `miner = floor(G × minerFeeShare / 100)`, the rest `R = G − miner` as `floor(R / k)` to each
//! of the `k` federation fee addresses, the remainder `R mod k` to the first one. Order: miner,
//! then federation addresses in spec order; zero amounts are omitted.

use crate::block::PegIn;
use crate::payload::MAX_WITHDRAWALS_PER_PAYLOAD;
use alloy::eips::eip4895::Withdrawal;
use alloy_primitives::Address;

/// Most distinct peg-in recipients a proposer mints to in one block (one withdrawal each).
pub const MAX_PEGIN_RECIPIENTS_PER_BLOCK: usize = 8;

/// Most `federationFeeAddresses` a chain spec may list: a block carrying an AuxPoW holds the
/// peg-in mints ([`MAX_PEGIN_RECIPIENTS_PER_BLOCK`]), the miner's fee share and one withdrawal
/// per federation fee address, within [`MAX_WITHDRAWALS_PER_PAYLOAD`]: 16 − 8 − 1 = 7. With
/// more, a PoW-carrying block could not be built and production would halt for want of PoW.
pub const MAX_FEDERATION_FEE_ADDRESSES: usize =
    MAX_WITHDRAWALS_PER_PAYLOAD - MAX_PEGIN_RECIPIENTS_PER_BLOCK - 1;

/// `validator_index` of peg-in mint withdrawals.
pub const PEGIN_VALIDATOR_INDEX: u64 = 0;

/// Why the expected withdrawals cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WithdrawalError {
    /// A recipient's total overflows u64 gwei.
    #[error("mint amount for {0} overflows")]
    AmountOverflow(Address),
    /// More distinct recipients than a payload can carry.
    #[error("{0} distinct recipients, more than {MAX_WITHDRAWALS_PER_PAYLOAD} withdrawals")]
    TooManyRecipients(usize),
}

/// `validator_index` of fee re-mint withdrawals (tells them apart from peg-in mints).
pub const FEE_VALIDATOR_INDEX: u64 = 1;

/// A fee pool split between the miner and the federation, in gwei.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeSplit {
    /// The miner's share.
    pub miner: u64,
    /// Each federation address's share, in spec order.
    pub federation: Vec<u64>,
}

impl FeeSplit {
    /// Splits `pool_gwei`: `miner_share_pct`% (floor) to the miner, the rest evenly over
    /// `federation` recipients with the remainder to the first. With no federation recipient
    /// everything goes to the miner (the spec requires recipients when the share is < 100).
    pub fn new(pool_gwei: u64, miner_share_pct: u8, federation: usize) -> Self {
        let pct = u128::from(miner_share_pct.min(100));
        let mut miner = (u128::from(pool_gwei) * pct / 100) as u64;
        if federation == 0 {
            miner = pool_gwei;
        }
        let rest = pool_gwei - miner;
        let mut shares = Vec::with_capacity(federation);
        if federation > 0 {
            let k = federation as u64;
            shares = vec![rest / k; federation];
            shares[0] += rest % k;
        }
        FeeSplit {
            miner,
            federation: shares,
        }
    }

    /// Sum of all shares (always the pool).
    pub fn total(&self) -> u64 {
        self.federation
            .iter()
            .fold(self.miner, |a, b| a.saturating_add(*b))
    }
}

/// The fee re-mint withdrawals for `pool_gwei`, indices from `first_index`: the miner's share
/// to `miner`, the rest over `federation` ([`FeeSplit`]); zero amounts omitted.
pub fn fee_withdrawals(
    pool_gwei: u64,
    miner: Address,
    miner_share_pct: u8,
    federation: &[Address],
    first_index: u64,
) -> Vec<Withdrawal> {
    let split = FeeSplit::new(pool_gwei, miner_share_pct, federation.len());
    let recipients = std::iter::once((miner, split.miner)).chain(
        federation
            .iter()
            .copied()
            .zip(split.federation.iter().copied()),
    );
    let mut out = Vec::new();
    for (address, amount) in recipients {
        if amount > 0 {
            out.push(Withdrawal {
                index: first_index.saturating_add(out.len() as u64),
                validator_index: FEE_VALIDATOR_INDEX,
                address,
                amount,
            });
        }
    }
    out
}

/// First withdrawal index of the payload with execution block number `block_number`.
pub fn withdrawal_index_base(block_number: u64) -> u64 {
    block_number.saturating_mul(MAX_WITHDRAWALS_PER_PAYLOAD as u64)
}

/// The mint withdrawals for `pegins`, indices starting at `first_index`.
pub fn expected_withdrawals(
    pegins: &[PegIn],
    first_index: u64,
) -> Result<Vec<Withdrawal>, WithdrawalError> {
    let mut out: Vec<Withdrawal> = Vec::new();
    for p in pegins {
        let gwei = p
            .amount()
            .to_gwei()
            .ok_or(WithdrawalError::AmountOverflow(p.evm_address))?;
        match out.iter_mut().find(|w| w.address == p.evm_address) {
            Some(w) => {
                w.amount = w
                    .amount
                    .checked_add(gwei)
                    .ok_or(WithdrawalError::AmountOverflow(p.evm_address))?;
            }
            None => out.push(Withdrawal {
                index: first_index.saturating_add(out.len() as u64),
                validator_index: PEGIN_VALIDATOR_INDEX,
                address: p.evm_address,
                amount: gwei,
            }),
        }
    }
    if out.len() > MAX_WITHDRAWALS_PER_PAYLOAD {
        return Err(WithdrawalError::TooManyRecipients(out.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    fn pegin(n: u8, to: u8, sats: u64) -> PegIn {
        PegIn {
            txid: B256::repeat_byte(n),
            block_hash: B256::ZERO,
            vout: 0,
            sats,
            evm_address: Address::repeat_byte(to),
        }
    }

    #[test]
    fn groups_by_recipient_in_first_appearance_order() {
        let w = expected_withdrawals(&[pegin(1, 0xb, 5), pegin(2, 0xa, 7), pegin(3, 0xb, 1)], 32)
            .unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].index, w[0].address, w[0].amount),
            (32, Address::repeat_byte(0xb), 60)
        );
        assert_eq!(
            (w[1].index, w[1].address, w[1].amount),
            (33, Address::repeat_byte(0xa), 70)
        );
        assert!(expected_withdrawals(&[], 0).unwrap().is_empty());
    }

    #[test]
    fn overflow_and_too_many_are_errors() {
        assert_eq!(
            expected_withdrawals(&[pegin(1, 1, u64::MAX)], 0),
            Err(WithdrawalError::AmountOverflow(Address::repeat_byte(1)))
        );
        let many: Vec<_> = (0..17u8).map(|i| pegin(i, i + 1, 1)).collect();
        assert_eq!(
            expected_withdrawals(&many, 0),
            Err(WithdrawalError::TooManyRecipients(17))
        );
        assert_eq!(withdrawal_index_base(3), 48);
    }

    #[test]
    fn fee_split_rounds_dust_to_first_federation_address() {
        let s = FeeSplit::new(1001, 80, 3);
        assert_eq!(s.miner, 800);
        assert_eq!(s.federation, vec![67, 67, 67]);
        assert_eq!(s.total(), 1001);
        let s = FeeSplit::new(10, 80, 3);
        assert_eq!((s.miner, s.federation.clone()), (8, vec![2, 0, 0]));
        assert_eq!(FeeSplit::new(7, 100, 0).miner, 7);
        assert_eq!(FeeSplit::new(7, 0, 2).federation, vec![4, 3]);
        assert_eq!(FeeSplit::new(u64::MAX, 99, 1).total(), u64::MAX);
        let fed = [Address::repeat_byte(0xf1), Address::repeat_byte(0xf2)];
        let w = fee_withdrawals(5, Address::repeat_byte(0xaa), 80, &fed, 10);
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].index, w[0].address, w[0].amount),
            (10, Address::repeat_byte(0xaa), 4)
        );
        assert_eq!((w[1].index, w[1].address, w[1].amount), (11, fed[0], 1));
        assert!(fee_withdrawals(0, Address::ZERO, 80, &fed, 0).is_empty());
    }
}
