//! Block scanning: which transactions of a block are deposits to the federation, and which pay
//! the federation but are rejected.

use alys_federation::{parse_deposit, pays_to, Deposit, DepositRejection, Federation};
use bitcoin::{Block, Txid};

/// A transaction of a block that pays the federation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanItem {
    /// A valid deposit.
    Deposit(Deposit),
    /// Pays the federation but is not a valid deposit (not minted).
    Rejected {
        /// The transaction.
        txid: Txid,
        /// Sum of its federation outputs.
        sats: u64,
        /// Why.
        reason: DepositRejection,
    },
}

/// Scans `block` for transactions paying `federation`, in block order. The coinbase is skipped:
/// its outputs are immature for 100 blocks and it is not a user deposit.
pub fn scan_block(block: &Block, federation: &Federation) -> Vec<ScanItem> {
    let spk = federation.script_pubkey();
    block
        .txdata
        .iter()
        .skip(1)
        .filter(|tx| pays_to(tx, spk))
        .map(|tx| match parse_deposit(tx, federation) {
            Ok(d) => ScanItem::Deposit(d),
            Err(reason) => ScanItem::Rejected {
                txid: tx.compute_txid(),
                sats: tx
                    .output
                    .iter()
                    .filter(|o| o.script_pubkey == *spk)
                    .fold(0u64, |a, o| a.saturating_add(o.value.to_sat())),
                reason,
            },
        })
        .collect()
}
