//! Conversions from stored blocks to the JSON-RPC block and transaction objects.

use alloy::consensus::{transaction::SignerRecoverable, Header, Transaction as _, TxEnvelope};
use alloy::rpc::types::{Block, BlockTransactions, Header as RpcHeader, Transaction, Withdrawals};
use alloy_primitives::{B256, U256};

use crate::db::StoredBody;

/// The RPC transaction object of `tx` at `index` in block `header`/`hash`.
pub(crate) fn rpc_transaction(
    tx: &TxEnvelope,
    header: &Header,
    hash: B256,
    index: usize,
) -> Transaction {
    let signer = tx.recover_signer().unwrap_or_default();
    let effective_gas_price = tx.effective_gas_price(header.base_fee_per_gas);
    Transaction {
        inner: alloy::consensus::transaction::Recovered::new_unchecked(tx.clone(), signer),
        block_hash: Some(hash),
        block_number: Some(header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(effective_gas_price),
        block_timestamp: Some(header.timestamp),
    }
}

/// The RPC block object; transactions as hashes or as full objects.
pub(crate) fn rpc_block(header: &Header, hash: B256, body: &StoredBody, full: bool) -> Block {
    let transactions = if full {
        BlockTransactions::Full(
            body.transactions
                .iter()
                .enumerate()
                .map(|(i, tx)| rpc_transaction(tx, header, hash, i))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(body.tx_hashes())
    };
    let size = {
        use alloy_rlp::Encodable;
        let block = alloy::consensus::Block {
            header: header.clone(),
            body: alloy::consensus::BlockBody {
                transactions: body.transactions.clone(),
                ommers: vec![],
                withdrawals: header
                    .withdrawals_root
                    .map(|_| body.withdrawals.clone().into()),
            },
        };
        block.length()
    };
    Block {
        header: RpcHeader {
            hash,
            inner: header.clone(),
            total_difficulty: Some(U256::ZERO),
            size: Some(U256::from(size)),
        },
        uncles: vec![],
        transactions,
        withdrawals: header
            .withdrawals_root
            .map(|_| Withdrawals::new(body.withdrawals.clone())),
    }
}
