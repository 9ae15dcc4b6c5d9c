//! Full recomputation of the state root from flat state: a consistency check between flat
//! state and the incrementally maintained trie (used after restarts and in tests), and the
//! list of flat-state accounts (for conformance checks of the whole post-state).

use alloy_primitives::{keccak256, B256};
use alloy_trie::{HashBuilder, Nibbles, TrieAccount};

use crate::db::{DbError, ElDb, ACCOUNTS};

/// A mismatch between flat state and the trie.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Store failure.
    #[error(transparent)]
    Db(#[from] DbError),
    /// An account's stored storage root differs from its flat storage.
    #[error("account {address}: storage root {stored} but flat storage hashes to {computed}")]
    StorageRoot {
        /// The account.
        address: alloy_primitives::Address,
        /// Root recorded in the account.
        stored: B256,
        /// Root of its flat storage.
        computed: B256,
    },
}

fn root_of(mut leaves: Vec<(B256, Vec<u8>)>) -> B256 {
    leaves.sort_by_key(|leaf| leaf.0);
    let mut builder = HashBuilder::default();
    for (key, value) in leaves {
        builder.add_leaf(Nibbles::unpack(key), &value);
    }
    builder.root()
}

fn rlp<T: alloy_rlp::Encodable>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode(&mut out);
    out
}

/// The address of every account in flat state (the state at the canonical head).
pub fn flat_state_accounts(db: &ElDb) -> Vec<alloy_primitives::Address> {
    db.store()
        .scan(ACCOUNTS, &[], &[])
        .filter(|(key, _)| key.len() == 20)
        .map(|(key, _)| alloy_primitives::Address::from_slice(&key))
        .collect()
}

/// Recomputes the state root of the flat state from scratch (cost: the whole state).
pub fn flat_state_root(db: &ElDb) -> Result<B256, VerifyError> {
    let mut accounts = Vec::new();
    for (key, value) in db.store().scan(ACCOUNTS, &[], &[]) {
        if key.len() != 20 {
            continue;
        }
        let address = alloy_primitives::Address::from_slice(&key);
        let account: TrieAccount =
            alloy_rlp::Decodable::decode(&mut value.as_slice()).map_err(|e| DbError::Corrupt {
                what: "account",
                key: hex::encode(&key),
                reason: e.to_string(),
            })?;
        let slots = db.storage_slots(&address);
        let computed = root_of(
            slots
                .iter()
                .map(|(slot, v)| (keccak256(slot), rlp(v)))
                .collect(),
        );
        if computed != account.storage_root {
            return Err(VerifyError::StorageRoot {
                address,
                stored: account.storage_root,
                computed,
            });
        }
        accounts.push((keccak256(address), rlp(&account)));
    }
    Ok(root_of(accounts))
}
