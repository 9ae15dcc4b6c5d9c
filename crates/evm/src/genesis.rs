//! Genesis: the header of block 0 and the batch writing the genesis state (accounts, storage,
//! code, trie nodes) from a geth-format genesis.
//!
//! The header's fields come from `alys_primitives::genesis::genesis_header_with`, the one
//! definition shared with the chain spec; this module computes the state root with the
//! client's own trie (whose nodes it stores) and supplies the client's fork rules.

use alloy::consensus::Header;
use alloy_genesis::Genesis;
use alloy_primitives::{keccak256, U256};
use alloy_trie::{TrieAccount, EMPTY_ROOT_HASH};
use alys_primitives::genesis::{genesis_header_with, GenesisForks};
use alys_primitives::SpecError;
use alys_store::WriteBatch;

use crate::chain::error::ChainError;
use crate::db::{AccountChange, BlockChanges, Direction, ElDb, StorageChange, StoredBody};
use crate::forks::ForkSchedule;
use crate::rlp::rlp_bytes;
use crate::trie::Trie;

/// Builds the genesis header and the batch that writes genesis state.
pub(crate) fn genesis_block(
    db: &ElDb,
    genesis: &Genesis,
) -> Result<(Header, WriteBatch), ChainError> {
    let schedule = ForkSchedule::from_chain_config(&genesis.config)?;
    if let Some(number) = genesis.number.filter(|n| *n != 0) {
        return Err(SpecError::new(
            "genesis.number",
            number.to_string(),
            "the embedded execution client starts its chain at block 0",
        )
        .into());
    }
    let mut batch = WriteBatch::new();
    let mut changes = BlockChanges::default();
    let mut nodes = Vec::new();
    let mut code = Vec::new();
    let mut account_trie = Trie::new(EMPTY_ROOT_HASH);
    for (address, account) in &genesis.alloc {
        let mut storage_trie = Trie::new(EMPTY_ROOT_HASH);
        for (slot, value) in account.storage_slots() {
            if value.is_zero() {
                continue;
            }
            storage_trie.insert(db, keccak256(slot), rlp_bytes(&value))?;
            changes.storage.push(StorageChange {
                address: *address,
                slot,
                old: U256::ZERO,
                new: value,
            });
        }
        let storage = storage_trie.commit();
        nodes.extend(storage.new_nodes);
        let code_hash = match account.code.as_ref().filter(|c| !c.is_empty()) {
            Some(c) => {
                let h = keccak256(c);
                code.push((h, c.clone()));
                h
            }
            None => alloy::consensus::constants::KECCAK_EMPTY,
        };
        let trie_account = TrieAccount {
            nonce: account.nonce.unwrap_or_default(),
            balance: account.balance,
            storage_root: storage.root,
            code_hash,
        };
        account_trie.insert(db, keccak256(address), rlp_bytes(&trie_account))?;
        changes.accounts.push(AccountChange {
            address: *address,
            old: vec![],
            new: vec![trie_account],
        });
    }
    let state = account_trie.commit();
    nodes.extend(state.new_nodes);
    // Post-merge only: London is active whatever the config says (see `forks`).
    let forks = GenesisForks {
        london: true,
        shanghai: schedule.is_shanghai(genesis.timestamp),
        cancun: schedule.is_cancun(genesis.timestamp),
        prague: false,
    };
    let header = genesis_header_with(genesis, forks, state.root)?;
    let hash = header.hash_slow();
    ElDb::put_nodes_and_code(&mut batch, &nodes, &code);
    ElDb::put_block(
        &mut batch,
        hash,
        &header,
        &StoredBody {
            transactions: vec![],
            withdrawals: vec![],
        },
        &[],
        &changes,
    );
    ElDb::apply_changes(&mut batch, &changes, Direction::Forward);
    ElDb::put_canonical(&mut batch, 0, hash, &[]);
    ElDb::put_pointer(&mut batch, "head", hash);
    ElDb::put_pointer(&mut batch, "safe", hash);
    ElDb::put_pointer(&mut batch, "finalized", hash);
    Ok((header, batch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forks::cancun_chain_config;
    use alloy_genesis::GenesisAccount;
    use alloy_primitives::{Address, Bytes, B256};
    use alys_primitives::genesis::{genesis_header, GETH_DEFAULT_GENESIS_GAS_LIMIT};
    use alys_store::Store;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn header_of(genesis: &Genesis) -> Result<Header, ChainError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = ElDb::new(Arc::new(Store::open(dir.path()).expect("store"))).expect("db");
        genesis_block(&db, genesis).map(|(header, _)| header)
    }

    fn base() -> Genesis {
        let mut alloc = BTreeMap::new();
        alloc.insert(
            Address::repeat_byte(1),
            GenesisAccount::default()
                .with_balance(U256::from(5))
                .with_nonce(Some(3))
                .with_code(Some(Bytes::from_static(&[0x60, 0x00])))
                .with_storage(Some(BTreeMap::from([
                    (B256::with_last_byte(1), B256::with_last_byte(7)),
                    // Zero slots are not part of the storage trie.
                    (B256::with_last_byte(2), B256::ZERO),
                ]))),
        );
        alloc.insert(
            Address::repeat_byte(2),
            GenesisAccount::default().with_balance(U256::from(1)),
        );
        Genesis {
            config: cancun_chain_config(7),
            timestamp: 1_700_000_000,
            gas_limit: 30_000_000,
            alloc,
            ..Default::default()
        }
    }

    #[test]
    fn header_is_the_spec_header_in_every_edge_case() {
        type Edit = Box<dyn Fn(&mut Genesis)>;
        let variants: Vec<(&str, Edit)> = vec![
            ("as is", Box::new(|_| {})),
            (
                "gas limit 0 takes geth's default",
                Box::new(|g| g.gas_limit = 0),
            ),
            (
                "no base fee takes 1 gwei",
                Box::new(|g| g.base_fee_per_gas = None),
            ),
            (
                "explicit base fee",
                Box::new(|g| g.base_fee_per_gas = Some(7)),
            ),
            (
                "largest base fee",
                Box::new(|g| g.base_fee_per_gas = Some(u64::MAX.into())),
            ),
            (
                "parent hash, coinbase, extra data, mix hash, nonce",
                Box::new(|g| {
                    g.parent_hash = Some(B256::repeat_byte(9));
                    g.coinbase = Address::repeat_byte(0xcb);
                    g.extra_data = Bytes::from_static(b"alys");
                    g.mix_hash = B256::repeat_byte(3);
                    g.nonce = 42;
                }),
            ),
            (
                "blob gas fields",
                Box::new(|g| {
                    g.blob_gas_used = Some(131_072);
                    g.excess_blob_gas = Some(262_144);
                }),
            ),
            (
                "Cancun after genesis",
                Box::new(|g| g.config.cancun_time = Some(g.timestamp + 1)),
            ),
            (
                "neither Shanghai nor Cancun",
                Box::new(|g| {
                    g.config.shanghai_time = None;
                    g.config.cancun_time = None;
                }),
            ),
            ("empty alloc", Box::new(|g| g.alloc.clear())),
        ];
        for (name, edit) in variants {
            let mut genesis = base();
            edit(&mut genesis);
            let ours = header_of(&genesis).expect(name);
            assert_eq!(ours, genesis_header(&genesis).expect(name), "{name}");
        }
        let mut genesis = base();
        genesis.gas_limit = 0;
        assert_eq!(
            header_of(&genesis).expect("header").gas_limit,
            GETH_DEFAULT_GENESIS_GAS_LIMIT
        );
    }

    #[test]
    fn base_fee_above_u64_is_refused_not_truncated() {
        let mut genesis = base();
        genesis.base_fee_per_gas = Some(u128::from(u64::MAX) + 1);
        let err = header_of(&genesis).expect_err("2^64 base fee");
        assert!(
            matches!(&err, ChainError::Genesis(e) if e.field == "genesis.baseFeePerGas"),
            "{err}"
        );
    }

    #[test]
    fn nonzero_genesis_number_is_refused() {
        let mut genesis = base();
        genesis.number = Some(5);
        let err = header_of(&genesis).expect_err("number 5");
        assert!(
            matches!(&err, ChainError::Genesis(e) if e.field == "genesis.number"),
            "{err}"
        );
        genesis.number = Some(0);
        assert_eq!(header_of(&genesis).expect("number 0").number, 0);
    }

    #[test]
    fn london_is_active_without_a_london_block() {
        let mut genesis = base();
        genesis.config.london_block = None;
        let header = header_of(&genesis).expect("header");
        assert_eq!(
            header.base_fee_per_gas,
            Some(alys_primitives::genesis::INITIAL_BASE_FEE)
        );
    }

    #[test]
    fn forks_after_cancun_are_refused() {
        for edit in [
            (|g: &mut Genesis| g.config.prague_time = Some(0)) as fn(&mut Genesis),
            |g| g.config.osaka_time = Some(0),
            |g| g.config.amsterdam_time = Some(0),
        ] {
            let mut genesis = base();
            edit(&mut genesis);
            assert!(matches!(
                header_of(&genesis),
                Err(ChainError::Fork(crate::forks::ForkError::Unsupported(_)))
            ));
        }
    }
}
