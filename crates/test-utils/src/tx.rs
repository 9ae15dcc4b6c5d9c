//! Signed transactions for tests and benches that drive a node over eth JSON-RPC.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, TxKind, B256, U256};
use alloy::signers::local::PrivateKeySigner;

/// An EIP-1559 transfer of `value` wei to `to`, signed with `key` (gas 21,000, max fee 20 gwei,
/// tip 1 gwei): its raw bytes and its hash, both `0x` hex.
pub fn signed_transfer(
    chain_id: u64,
    key: &B256,
    nonce: u64,
    to: Address,
    value: U256,
) -> (String, String) {
    signed_call(chain_id, key, nonce, to, value, Bytes::new(), 21_000)
}

/// An EIP-1559 call of `to` with `input` and `value` wei, signed with `key` (gas `gas_limit`,
/// max fee 20 gwei, tip 1 gwei): its raw bytes and its hash, both `0x` hex.
pub fn signed_call(
    chain_id: u64,
    key: &B256,
    nonce: u64,
    to: Address,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> (String, String) {
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
    let env: TxEnvelope = tx.into_signed(sig).into();
    (
        format!("0x{}", alloy::hex::encode(env.encoded_2718())),
        format!("{:#x}", env.tx_hash()),
    )
}
