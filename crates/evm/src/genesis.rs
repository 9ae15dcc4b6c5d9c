//! Genesis: the header of block 0 and the batch writing the genesis state (accounts, storage,
//! code, trie nodes) from a geth-format genesis.

use alloy::consensus::Header;
use alloy_genesis::Genesis;
use alloy_primitives::{keccak256, B256, U256};
use alloy_trie::{TrieAccount, EMPTY_ROOT_HASH};
use alys_store::WriteBatch;

use crate::chain::error::ChainError;
use crate::db::{AccountChange, BlockChanges, Direction, ElDb, StorageChange, StoredBody};
use crate::forks::ForkSchedule;
use crate::rlp::rlp_bytes;
use crate::trie::Trie;

/// Builds the genesis header and the batch that writes genesis state.
pub fn genesis_block(db: &ElDb, genesis: &Genesis) -> Result<(Header, WriteBatch), ChainError> {
    let schedule = ForkSchedule::from_chain_config(&genesis.config)?;
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
    let cancun = schedule.is_cancun(genesis.timestamp);
    let header = Header {
        parent_hash: B256::ZERO,
        ommers_hash: alloy::consensus::EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root: state.root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Default::default(),
        difficulty: genesis.difficulty,
        number: 0,
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: genesis.nonce.into(),
        base_fee_per_gas: Some(
            genesis
                .base_fee_per_gas
                .map(|f| f as u64)
                .unwrap_or(1_000_000_000),
        ),
        withdrawals_root: schedule
            .is_shanghai(genesis.timestamp)
            .then_some(EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then(|| genesis.blob_gas_used.unwrap_or_default()),
        excess_blob_gas: cancun.then(|| genesis.excess_blob_gas.unwrap_or_default()),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: None,
        ..Default::default()
    };
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
