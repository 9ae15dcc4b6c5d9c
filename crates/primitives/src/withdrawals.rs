//! The withdrawals (mints) a block must carry for its peg-ins (DESIGN §7 "Mint").
//!
//! Rule: one withdrawal per distinct recipient, in order of the recipient's first appearance in
//! the block's peg-in list, amount in gwei = (sum of that recipient's sats) × 10,
//! `validator_index` = 0. Withdrawal indices are stateless: the `i`-th withdrawal of the block
//! with execution number `h` has index `h × 16 + i` ([`withdrawal_index_base`]), unique across
//! the chain because a payload carries at most 16 withdrawals.
//!
//! Fee-share withdrawals (DESIGN §4 "Fees") are appended after the peg-in mints by later work.

use crate::block::PegIn;
use crate::payload::MAX_WITHDRAWALS_PER_PAYLOAD;
use alloy::eips::eip4895::Withdrawal;
use alloy_primitives::Address;

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
}
