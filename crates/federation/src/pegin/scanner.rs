//! The follower's deposit recognition: [`Federation`] as an [`alys_bitcoin::DepositScanner`],
//! classifying each transaction paying the federation with [`parse_deposit`].

use alys_bitcoin::{paid_to, DepositScanner, ScanItem, ScannedDeposit};
use bitcoin::{Script, Transaction};

use crate::{parse_deposit, DepositRejection, Federation};

impl DepositRejection {
    /// The reason as a metrics label (one of `alys_metrics::catalog::DEPOSIT_REJECT_REASONS`).
    pub fn metrics_label(&self) -> &'static str {
        match self {
            // Not reported (such a transaction is not scanned); counted with the closest reason.
            DepositRejection::NoFederationOutput | DepositRejection::MissingOpReturn => {
                "missing_op_return"
            }
            DepositRejection::MalformedOpReturn { .. } => "malformed_op_return",
            DepositRejection::MultipleOpReturns => "multiple_op_returns",
            DepositRejection::BelowMinimum { .. } => "below_minimum",
        }
    }
}

impl DepositScanner for Federation {
    fn script_pubkey(&self) -> &Script {
        Federation::script_pubkey(self)
    }

    fn classify(&self, tx: &Transaction) -> ScanItem {
        match parse_deposit(tx, self) {
            Ok(d) => ScanItem::Deposit(ScannedDeposit {
                txid: d.txid,
                outputs: d.outputs,
                recipient: d.recipient,
            }),
            Err(reason) => ScanItem::Rejected {
                txid: tx.compute_txid(),
                sats: paid_to(tx, Federation::script_pubkey(self)),
                label: reason.metrics_label(),
                reason: reason.to_string(),
            },
        }
    }
}
