//! Latency of a receipt lookup by transaction hash against the size of the block holding the
//! transaction: blocks of 10, 200 and 2,000 ERC-20-like transfers (one signed transaction and
//! one receipt with a `Transfer` log each) stored as the node stores them, then
//! `eth_getTransactionReceipt`'s lookup (index read, header, the transaction's records, sender
//! recovery, RPC object) for transactions spread over the block. The latency must not grow with
//! the block: compare the three medians.
//!
//! For reference, `whole_block` measures what a lookup cost when a block's transactions and
//! receipts were stored as one value each: decoding both lists (from memory, without the
//! store reads) and building the receipt from them.
//!
//! Run with `cargo bench -p alys-evm --bench receipt_lookup`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(missing_docs)] // criterion_main! writes an undocumented main

use std::sync::Arc;

use alloy::consensus::{
    Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, SignableTransaction, TxEip1559, TxEnvelope,
};
use alloy::network::TxSignerSync;
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{keccak256, Address, Bytes, Log, LogData, TxKind, B256, U256};
use alloy_rlp::Decodable;
use alys_evm::eth::{rpc_receipt, EthApi};
use alys_evm::tx_lookup::TxLookup;
use alys_evm::{BlockChanges, ElDb, StoredBody, StoredReceipt};
use alys_store::{Durability, Store, WriteBatch};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// Transactions per block of each measured block.
const SIZES: [usize; 3] = [10, 200, 2_000];

/// A stored block: its header and hash, and the RLP of its transaction and receipt lists.
struct Block {
    header: Header,
    hash: B256,
    tx_hashes: Vec<B256>,
    body_rlp: Vec<u8>,
    receipts_rlp: Vec<u8>,
}

/// A block of `n` signed transfers of block `number`, with receipts, written to `db`.
fn store_block(db: &ElDb, number: u64, n: usize) -> Block {
    let key = PrivateKeySigner::from_bytes(&keccak256(format!("sender-{number}"))).expect("key");
    let topic = keccak256("Transfer(address,address,uint256)");
    let mut transactions = Vec::with_capacity(n);
    let mut receipts = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let mut tx = TxEip1559 {
            chain_id: 263_634,
            nonce: i,
            gas_limit: 100_000,
            max_fee_per_gas: 20_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(0x70)),
            value: U256::ZERO,
            access_list: Default::default(),
            input: Bytes::from(vec![0xa9; 68]),
        };
        let sig = key.sign_transaction_sync(&mut tx).expect("sign");
        transactions.push(TxEnvelope::from(tx.into_signed(sig)));
        let log = Log {
            address: Address::repeat_byte(0x70),
            data: LogData::new_unchecked(
                vec![
                    topic,
                    B256::left_padding_from(key.address().as_slice()),
                    B256::with_last_byte(1),
                ],
                Bytes::from(U256::from(1).to_be_bytes::<32>().to_vec()),
            ),
        };
        let receipt = Receipt {
            status: true.into(),
            cumulative_gas_used: 52_000 * (i + 1),
            logs: vec![log],
        };
        receipts.push(ReceiptEnvelope::Eip1559(ReceiptWithBloom::new(
            receipt,
            Default::default(),
        )));
    }
    let header = Header {
        number,
        base_fee_per_gas: Some(1_000_000_000),
        gas_used: 52_000 * n as u64,
        ..Default::default()
    };
    let hash = header.hash_slow();
    let body = StoredBody {
        transactions,
        withdrawals: vec![],
    };
    let tx_hashes = body.tx_hashes();
    let mut batch = WriteBatch::new();
    ElDb::put_block(
        &mut batch,
        hash,
        &header,
        &body,
        &receipts,
        &BlockChanges::default(),
    );
    ElDb::put_canonical(&mut batch, number, hash, &tx_hashes);
    db.write(batch, Durability::Buffered).expect("write block");
    Block {
        header,
        hash,
        tx_hashes,
        body_rlp: alloy_rlp::encode(&body),
        receipts_rlp: alloy_rlp::encode(&receipts),
    }
}

/// The receipt of `index` by decoding the whole block's lists (the previous storage).
fn from_whole_block(block: &Block, index: usize) -> TransactionReceipt {
    let body = StoredBody::decode(&mut block.body_rlp.as_slice()).expect("body");
    let receipts =
        Vec::<ReceiptEnvelope>::decode(&mut block.receipts_rlp.as_slice()).expect("receipts");
    let gas_used = receipts[index].cumulative_gas_used()
        - index
            .checked_sub(1)
            .map_or(0, |i| receipts[i].cumulative_gas_used());
    let first_log_index = receipts[..index]
        .iter()
        .map(|r| r.logs().len() as u64)
        .sum();
    let stored = StoredReceipt {
        receipt: receipts[index].clone(),
        gas_used,
        first_log_index,
    };
    rpc_receipt(
        &block.header,
        block.hash,
        &body.transactions[index],
        &stored,
        index,
    )
}

fn receipt_lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = ElDb::new(Arc::new(Store::open(dir.path()).expect("store"))).expect("db");
    let lookup = TxLookup::new(db.clone());
    let mut group = c.benchmark_group("receipt_lookup");
    for (number, size) in SIZES.into_iter().enumerate() {
        let block = store_block(&db, number as u64 + 1, size);
        // Ten transactions spread over the block, first and last included.
        let picks: Vec<usize> = (0..10).map(|k| k * (size - 1) / 9).collect();
        group.bench_with_input(BenchmarkId::new("by_hash", size), &picks, |b, picks| {
            let mut k = 0;
            b.iter(|| {
                k = (k + 1) % picks.len();
                EthApi::transaction_receipt(&lookup, block.tx_hashes[picks[k]])
                    .expect("lookup")
                    .expect("found")
            })
        });
        group.bench_with_input(BenchmarkId::new("whole_block", size), &picks, |b, picks| {
            let mut k = 0;
            b.iter(|| {
                k = (k + 1) % picks.len();
                from_whole_block(&block, picks[k])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, receipt_lookup);
criterion_main!(benches);
