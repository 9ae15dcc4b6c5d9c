//! `eth_getProof` (EIP-1186): Merkle proofs of an account and some of its storage slots against
//! the state root of any executed block. Trie nodes are content-addressed and never deleted, so
//! historical blocks are served as well as the head.

use std::sync::Arc;

use alloy::consensus::constants::KECCAK_EMPTY;
use alloy::eips::BlockId;
use alloy::rpc::types::{
    serde_helpers::JsonStorageKey, EIP1186AccountProofResponse, EIP1186StorageProof,
};
use alloy_primitives::{keccak256, Address, U256};
use alloy_rlp::Decodable;
use alloy_trie::{TrieAccount, EMPTY_ROOT_HASH};
use jsonrpsee::{
    types::{ErrorObjectOwned, Params},
    RpcModule,
};

use super::{
    blocking,
    errors::{internal, rpc_err, LIMIT_EXCEEDED},
    EthApi,
};
use crate::{chain::SharedChain, trie::Trie};

/// Most storage keys one request may ask for.
pub(crate) const MAX_PROOF_KEYS: usize = 1024;

impl EthApi {
    /// `eth_getProof`.
    pub fn proof(&self, params: Params) -> Result<EIP1186AccountProofResponse, ErrorObjectOwned> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let keys: Vec<JsonStorageKey> = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        if keys.len() > MAX_PROOF_KEYS {
            return Err(rpc_err(
                LIMIT_EXCEEDED,
                format!(
                    "too many storage keys: {} (limit {MAX_PROOF_KEYS})",
                    keys.len()
                ),
            ));
        }
        let (resolved, db) = {
            let chain = self.chain().lock();
            let resolved = EthApi::resolve_block(&chain, block.unwrap_or_default())?;
            (resolved, chain.db().clone())
        };
        let state = Trie::new(resolved.header.state_root);
        let key = keccak256(address);
        let account_proof = state.proof(&db, &key).map_err(internal)?;
        let account = match state.get(&db, &key).map_err(internal)? {
            Some(raw) => Some(
                TrieAccount::decode(&mut raw.as_slice())
                    .map_err(|e| internal(format!("corrupt account leaf: {e}")))?,
            ),
            None => None,
        };
        let account = account.unwrap_or(TrieAccount {
            nonce: 0,
            balance: U256::ZERO,
            storage_root: EMPTY_ROOT_HASH,
            code_hash: KECCAK_EMPTY,
        });
        let storage = Trie::new(account.storage_root);
        let mut storage_proof = Vec::with_capacity(keys.len());
        for key in keys {
            let hashed = keccak256(key.as_b256());
            let proof = storage.proof(&db, &hashed).map_err(internal)?;
            let value = match storage.get(&db, &hashed).map_err(internal)? {
                Some(raw) => U256::decode(&mut raw.as_slice())
                    .map_err(|e| internal(format!("corrupt storage leaf: {e}")))?,
                None => U256::ZERO,
            };
            storage_proof.push(EIP1186StorageProof { key, value, proof });
        }
        Ok(EIP1186AccountProofResponse {
            address,
            balance: account.balance,
            code_hash: account.code_hash,
            nonce: account.nonce,
            storage_hash: account.storage_root,
            account_proof,
            storage_proof,
        })
    }
}

/// Registers `eth_getProof`.
pub(crate) fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    blocking(module, api, "eth_getProof", |api, p| api.proof(p));
}
