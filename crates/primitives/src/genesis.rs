//! The execution-layer genesis header, computed exactly as Geth does (`core/genesis.go`
//! `Genesis.toBlock`) so the consensus layer, the embedded EL and an external Geth/Reth agree
//! on the genesis block hash.
//!
//! Rules: state root = MPT root of the alloc (storage roots from non-zero slots); empty
//! transactions/receipts roots and ommers hash; `gasLimit` 0 → 4,712,388 (Geth's default);
//! London at block 0 → base fee = `baseFeePerGas` or 1 gwei; Shanghai at genesis →
//! `withdrawalsRoot` = empty root; Cancun → `blobGasUsed`/`excessBlobGas` (default 0) and a
//! zero `parentBeaconBlockRoot`; Prague → `requestsHash` = hash of no requests. Forks after
//! Prague that change the header (Amsterdam) are refused.

use crate::payload::ExecutionPayload;
use crate::spec::SpecError;
use alloy::consensus::constants::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH};
use alloy::consensus::Header;
use alloy::eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_genesis::Genesis;
use alloy_primitives::{Bloom, B256, B64, U256};
use ssz_types::VariableList;

/// Geth's default genesis gas limit (`params.GenesisGasLimit`).
pub const GETH_DEFAULT_GENESIS_GAS_LIMIT: u64 = 4_712_388;
/// EIP-1559 initial base fee (1 gwei).
pub const INITIAL_BASE_FEE: u64 = 1_000_000_000;

fn active_at(fork: Option<u64>, at: u64) -> bool {
    fork.is_some_and(|t| t <= at)
}

/// The genesis header for `genesis`.
pub fn genesis_header(genesis: &Genesis) -> Result<Header, SpecError> {
    let cfg = &genesis.config;
    let number = genesis.number.unwrap_or(0);
    let ts = genesis.timestamp;
    if active_at(cfg.amsterdam_time, ts) {
        return Err(SpecError::new(
            "genesis.config.amsterdamTime",
            cfg.amsterdam_time
                .map(|t| t.to_string())
                .unwrap_or_default(),
            "Amsterdam at genesis is not supported",
        ));
    }
    let london = active_at(cfg.london_block, number);
    let shanghai = cfg.is_shanghai_active_at_block_and_timestamp(number, ts);
    let cancun = cfg.is_cancun_active_at_block_and_timestamp(number, ts);
    let prague = cancun && active_at(cfg.prague_time, ts);

    let state_root = alloy_trie::root::state_root_ref_unhashed(&genesis.alloc);

    let base_fee_per_gas = if london {
        let fee = match genesis.base_fee_per_gas {
            Some(fee) => u64::try_from(fee).map_err(|_| {
                SpecError::new("genesis.baseFeePerGas", fee.to_string(), "exceeds 2^64 - 1")
            })?,
            None => INITIAL_BASE_FEE,
        };
        Some(fee)
    } else {
        None
    };

    Ok(Header {
        parent_hash: genesis.parent_hash.unwrap_or_default(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Bloom::ZERO,
        difficulty: genesis.difficulty,
        number,
        gas_limit: if genesis.gas_limit == 0 {
            GETH_DEFAULT_GENESIS_GAS_LIMIT
        } else {
            genesis.gas_limit
        },
        gas_used: 0,
        timestamp: ts,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: B64::from(genesis.nonce),
        base_fee_per_gas,
        withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then(|| genesis.blob_gas_used.unwrap_or(0)),
        excess_blob_gas: cancun.then(|| genesis.excess_blob_gas.unwrap_or(0)),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: prague.then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    })
}

/// The genesis block as an SSZ execution payload (the payload of the genesis consensus
/// block; no transactions, no withdrawals).
pub fn genesis_execution_payload(genesis: &Genesis) -> Result<ExecutionPayload, SpecError> {
    let h = genesis_header(genesis)?;
    let extra_data = VariableList::new(h.extra_data.to_vec()).map_err(|_| {
        SpecError::new(
            "genesis.extraData",
            h.extra_data.to_string(),
            "longer than 32 bytes",
        )
    })?;
    Ok(ExecutionPayload {
        parent_hash: h.parent_hash,
        fee_recipient: h.beneficiary,
        state_root: h.state_root,
        receipts_root: h.receipts_root,
        prev_randao: h.mix_hash,
        block_number: h.number,
        gas_limit: h.gas_limit,
        gas_used: h.gas_used,
        timestamp: h.timestamp,
        extra_data,
        base_fee_per_gas: U256::from(h.base_fee_per_gas.unwrap_or(0)),
        block_hash: h.hash_slow(),
        blob_gas_used: h.blob_gas_used.unwrap_or(0),
        excess_blob_gas: h.excess_blob_gas.unwrap_or(0),
        ..Default::default()
    })
}

/// The genesis block hash for `genesis`.
pub fn genesis_hash(genesis: &Genesis) -> Result<B256, SpecError> {
    Ok(genesis_header(genesis)?.hash_slow())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_genesis::{ChainConfig, GenesisAccount};
    use alloy_primitives::{Address, Bytes};
    use serde_json::Value;
    use std::collections::BTreeMap;

    fn hex_u64(v: &Value) -> u64 {
        u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    fn hex_u256(v: &Value) -> U256 {
        v.as_str().unwrap().parse().unwrap()
    }

    fn cancun_config() -> ChainConfig {
        ChainConfig {
            chain_id: 1,
            homestead_block: Some(0),
            eip150_block: Some(0),
            eip155_block: Some(0),
            eip158_block: Some(0),
            byzantium_block: Some(0),
            constantinople_block: Some(0),
            petersburg_block: Some(0),
            istanbul_block: Some(0),
            berlin_block: Some(0),
            london_block: Some(0),
            merge_netsplit_block: Some(0),
            terminal_total_difficulty: Some(U256::ZERO),
            terminal_total_difficulty_passed: true,
            shanghai_time: Some(0),
            cancun_time: Some(0),
            ..Default::default()
        }
    }

    /// Build a [`Genesis`] from an ethereum/tests BlockchainTest case.
    fn genesis_from_test(case: &Value) -> Genesis {
        let h = &case["genesisBlockHeader"];
        let mut alloc = BTreeMap::new();
        for (addr, acc) in case["pre"].as_object().unwrap() {
            let storage: BTreeMap<B256, B256> = acc["storage"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    (
                        B256::from(hex_u256(&Value::String(k.clone()))),
                        B256::from(hex_u256(v)),
                    )
                })
                .collect();
            let code: Bytes = acc["code"].as_str().unwrap().parse().unwrap();
            let account = GenesisAccount {
                nonce: Some(hex_u64(&acc["nonce"])),
                balance: hex_u256(&acc["balance"]),
                code: Some(code),
                storage: Some(storage),
                ..Default::default()
            };
            alloc.insert(addr.parse::<Address>().unwrap(), account);
        }
        Genesis {
            config: cancun_config(),
            nonce: hex_u64(&h["nonce"]),
            timestamp: hex_u64(&h["timestamp"]),
            extra_data: h["extraData"].as_str().unwrap().parse().unwrap(),
            gas_limit: hex_u64(&h["gasLimit"]),
            difficulty: hex_u256(&h["difficulty"]),
            mix_hash: h["mixHash"].as_str().unwrap().parse().unwrap(),
            coinbase: h["coinbase"].as_str().unwrap().parse().unwrap(),
            alloc,
            base_fee_per_gas: Some(hex_u64(&h["baseFeePerGas"]) as u128),
            excess_blob_gas: Some(hex_u64(&h["excessBlobGas"])),
            blob_gas_used: Some(hex_u64(&h["blobGasUsed"])),
            ..Default::default()
        }
    }

    #[test]
    fn matches_ethereum_tests_cancun_genesis() {
        let Some(root) =
            crate::vectors::vectors_path("evm/ethereum_tests/BlockchainTests/ValidBlocks")
        else {
            return;
        };
        let mut files = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "json") {
                    files.push(p);
                }
            }
        }
        files.sort();
        let mut checked = 0;
        for file in files {
            let json: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            for (name, case) in json.as_object().unwrap() {
                if case["network"] != "Cancun" {
                    continue;
                }
                let genesis = genesis_from_test(case);
                let header = genesis_header(&genesis).unwrap();
                let h = &case["genesisBlockHeader"];
                assert_eq!(
                    header.state_root.to_string(),
                    h["stateRoot"].as_str().unwrap(),
                    "state root of {name}"
                );
                assert_eq!(
                    header.hash_slow().to_string(),
                    h["hash"].as_str().unwrap(),
                    "hash of {name}"
                );
                checked += 1;
            }
        }
        crate::vectors::report_cases("ethereum/tests Cancun genesis headers", checked);
        assert!(checked >= 5, "only {checked} Cancun cases found");
    }

    #[test]
    fn prague_adds_requests_hash_and_amsterdam_is_refused() {
        let mut g = Genesis {
            config: cancun_config(),
            gas_limit: 30_000_000,
            ..Default::default()
        };
        assert_eq!(genesis_header(&g).unwrap().requests_hash, None);
        g.config.prague_time = Some(0);
        assert_eq!(
            genesis_header(&g).unwrap().requests_hash,
            Some(EMPTY_REQUESTS_HASH)
        );
        g.config.osaka_time = Some(0);
        g.config.amsterdam_time = Some(0);
        assert!(genesis_header(&g).is_err());
    }
}
