//! Signed transactions for tests and benches that drive a node over eth JSON-RPC or put them
//! in an embedded EL's pool.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, TxKind, B256, U256};
use alloy::signers::local::PrivateKeySigner;

/// An EIP-1559 call of `to` with `input` and `value` wei, signed with `key` (gas `gas_limit`,
/// max fee 20 gwei, tip 1 gwei).
pub fn signed_call(
    chain_id: u64,
    key: &B256,
    nonce: u64,
    to: Address,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> TxEnvelope {
    let signer = PrivateKeySigner::from_bytes(key).expect("a valid secp256k1 key");
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input,
    };
    let sig = signer.sign_transaction_sync(&mut tx).expect("signing");
    tx.into_signed(sig).into()
}

/// An EIP-1559 transfer of `value` wei to `to`, signed with `key` ([`signed_call`] with gas
/// 21,000): its raw bytes and its hash, both `0x` hex.
pub fn signed_transfer(
    chain_id: u64,
    key: &B256,
    nonce: u64,
    to: Address,
    value: U256,
) -> (String, String) {
    raw_and_hash(&signed_call(
        chain_id,
        key,
        nonce,
        to,
        value,
        Bytes::new(),
        21_000,
    ))
}

/// The raw bytes and the hash of `tx`, both `0x` hex (what `eth_sendRawTransaction` takes and
/// returns).
pub fn raw_and_hash(tx: &TxEnvelope) -> (String, String) {
    (
        format!("0x{}", alloy::hex::encode(tx.encoded_2718())),
        format!("{:#x}", tx.tx_hash()),
    )
}
