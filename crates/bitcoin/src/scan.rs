//! Block scanning: the transactions of a block that pay a watched script, each classified by a
//! [`DepositScanner`] (what a deposit *is* belongs to the peg, not to this crate: the node wires
//! the federation's rules in, `alys_federation::Federation` implements the trait).

use alys_primitives::{Address, Sats};
use bitcoin::{Block, Script, Transaction, Txid};
use serde::{Deserialize, Serialize};

/// One output paying the watched script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DepositOutput {
    /// Output index.
    pub vout: u32,
    /// Its value.
    pub sats: Sats,
}

/// A transaction the scanner accepted as a deposit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScannedDeposit {
    /// The transaction.
    pub txid: Txid,
    /// Its outputs paying the watched script (ascending; at least one).
    pub outputs: Vec<DepositOutput>,
    /// EVM recipient.
    pub recipient: Address,
}

impl ScannedDeposit {
    /// Sum of the outputs (saturating).
    pub fn sats(&self) -> Sats {
        Sats(
            self.outputs
                .iter()
                .fold(0u64, |a, o| a.saturating_add(o.sats.0)),
        )
    }
}

/// A transaction of a block that pays the watched script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanItem {
    /// A valid deposit.
    Deposit(ScannedDeposit),
    /// Pays the watched script but is not a valid deposit (not minted).
    Rejected {
        /// The transaction.
        txid: Txid,
        /// Sum of its outputs paying the script.
        sats: Sats,
        /// Why (shown on RPC).
        reason: String,
        /// The reason as a metrics label (one of `alys_metrics::catalog::DEPOSIT_REJECT_REASONS`).
        label: &'static str,
    },
}

/// What the follower needs to recognize deposits: the script to watch and the rule that
/// classifies a transaction paying it.
pub trait DepositScanner: Send + Sync + 'static {
    /// The watched scriptPubKey (the federation's).
    fn script_pubkey(&self) -> &Script;
    /// Classifies `tx`, which pays [`Self::script_pubkey`].
    fn classify(&self, tx: &Transaction) -> ScanItem;
}

/// Sum of the outputs of `tx` paying `spk` (saturating).
pub fn paid_to(tx: &Transaction, spk: &Script) -> Sats {
    Sats(
        tx.output
            .iter()
            .filter(|o| o.script_pubkey.as_bytes() == spk.as_bytes())
            .fold(0u64, |a, o| a.saturating_add(o.value.to_sat())),
    )
}

/// Scans `block` for transactions paying the scanner's script, in block order. The coinbase is
/// skipped: its outputs are immature for 100 blocks and it is not a user deposit.
pub fn scan_block(block: &Block, scanner: &dyn DepositScanner) -> Vec<ScanItem> {
    let spk = scanner.script_pubkey();
    block
        .txdata
        .iter()
        .skip(1)
        .filter(|tx| {
            tx.output
                .iter()
                .any(|o| o.script_pubkey.as_bytes() == spk.as_bytes())
        })
        .map(|tx| scanner.classify(tx))
        .collect()
}
