//! Follower scan throughput: a ~4 MB block of 5,000 transactions (5 of them deposits) scanned
//! for deposits, next to the time to merely deserialize the block (the physical floor).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(missing_docs)] // criterion_main! writes an undocumented main

use std::hint::black_box;

use alys_bitcoin::bitcoin::absolute::LockTime;
use alys_bitcoin::bitcoin::block::{Header, Version as BlockVersion};
use alys_bitcoin::bitcoin::consensus::{deserialize, serialize};
use alys_bitcoin::bitcoin::hashes::Hash;
use alys_bitcoin::bitcoin::script::PushBytesBuf;
use alys_bitcoin::bitcoin::transaction::Version;
use alys_bitcoin::bitcoin::{
    Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxMerkleNode, TxOut, Txid, WPubkeyHash, Witness,
};
use alys_bitcoin::scan_block;
use alys_federation::{Federation, SchnorrSigner};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn federation() -> Federation {
    let keys = (1..=5u8)
        .map(|i| SchnorrSigner::from_bytes(&[i; 32]).unwrap().public_key())
        .collect();
    Federation::new(Network::Regtest, keys, 4, None, 1_000).unwrap()
}

fn tx(i: u32, fed: &Federation, deposit: bool) -> Transaction {
    let input = (0..4u32)
        .map(|j| {
            let mut b = [0u8; 32];
            b[..4].copy_from_slice(&i.to_le_bytes());
            b[4..8].copy_from_slice(&j.to_le_bytes());
            TxIn {
                previous_output: OutPoint::new(Txid::from_byte_array(b), j),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[vec![0x30; 72], vec![0x02; 33]]),
            }
        })
        .collect();
    let mut output: Vec<TxOut> = (0..6u8)
        .map(|k| TxOut {
            value: Amount::from_sat(10_000 + u64::from(k)),
            script_pubkey: ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([k; 20])),
        })
        .collect();
    if deposit {
        output[0].script_pubkey = fed.script_pubkey().clone();
        output[1] = TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::new_op_return(
                PushBytesBuf::try_from(vec![0xaa; 20]).unwrap(),
            ),
        };
    }
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input,
        output,
    }
}

fn big_block(fed: &Federation) -> Block {
    let mut txdata = vec![Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(vec![1, 2, 3, 4]),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(312_500_000),
            script_pubkey: ScriptBuf::new(),
        }],
    }];
    txdata.extend((1..5_000u32).map(|i| tx(i, fed, i % 1000 == 500)));
    let mut block = Block {
        header: Header {
            version: BlockVersion::TWO,
            prev_blockhash: BlockHash::all_zeros(),
            merkle_root: TxMerkleNode::all_zeros(),
            time: 1_700_000_000,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: 0,
        },
        txdata,
    };
    block.header.merkle_root = block
        .compute_merkle_root()
        .unwrap_or(TxMerkleNode::all_zeros());
    block
}

fn bench(c: &mut Criterion) {
    let fed = federation();
    let block = big_block(&fed);
    let bytes = serialize(&block);
    let found = scan_block(&block, &fed);
    assert_eq!(found.len(), 5, "five deposits");
    eprintln!(
        "block: {} txs, {:.2} MB, {} deposits",
        block.txdata.len(),
        bytes.len() as f64 / 1e6,
        found.len()
    );
    let mut g = c.benchmark_group("follower_scan_4mb_block");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("deserialize_only", |b| {
        b.iter(|| black_box(deserialize::<Block>(black_box(&bytes)).unwrap()))
    });
    g.bench_function("scan_decoded_block", |b| {
        b.iter(|| black_box(scan_block(black_box(&block), &fed)))
    });
    g.bench_function("deserialize_and_scan", |b| {
        b.iter(|| {
            let blk: Block = deserialize(black_box(&bytes)).unwrap();
            black_box(scan_block(&blk, &fed))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
