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
//!
//! [`genesis_header_with`] is the one place these rules live: the chain spec, the embedded
//! execution client (which computes the state root with its own trie and fixes its own fork
//! rules) and the tests all derive the genesis header through it. The module also owns
//! [`cancun_chain_config`], the geth `config` of a chain with every fork up to Cancun at genesis.

use crate::payload::ExecutionPayload;
use crate::spec::SpecError;
use alloy::consensus::constants::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH};
use alloy::consensus::Header;
use alloy::eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_genesis::{ChainConfig, Genesis};
use alloy_primitives::{Bloom, B256, B64, U256};
use ssz_types::VariableList;

/// Geth's default genesis gas limit (`params.GenesisGasLimit`).
pub const GETH_DEFAULT_GENESIS_GAS_LIMIT: u64 = 4_712_388;
/// EIP-1559 initial base fee (1 gwei).
pub const INITIAL_BASE_FEE: u64 = 1_000_000_000;

fn active_at(fork: Option<u64>, at: u64) -> bool {
    fork.is_some_and(|t| t <= at)
}

/// The forks active at genesis that change the header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenesisForks {
    /// London (EIP-1559): the header carries a base fee.
    pub london: bool,
    /// Shanghai (EIP-4895): the header carries a withdrawals root.
    pub shanghai: bool,
    /// Cancun (EIP-4844/4788): blob gas fields and the parent beacon block root.
    pub cancun: bool,
    /// Prague (EIP-7685): the requests hash.
    pub prague: bool,
}

impl GenesisForks {
    /// The forks the genesis `config` activates at the genesis block and timestamp. Amsterdam at
    /// genesis (a header change not implemented here) is refused.
    pub fn of(genesis: &Genesis) -> Result<Self, SpecError> {
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
        let cancun = cfg.is_cancun_active_at_block_and_timestamp(number, ts);
        Ok(Self {
            london: active_at(cfg.london_block, number),
            shanghai: cfg.is_shanghai_active_at_block_and_timestamp(number, ts),
            cancun,
            prague: cancun && active_at(cfg.prague_time, ts),
        })
    }
}

/// The genesis header for `genesis`, with the forks its `config` activates and the state root
/// of its alloc.
pub fn genesis_header(genesis: &Genesis) -> Result<Header, SpecError> {
    let forks = GenesisForks::of(genesis)?;
    let state_root = alloy_trie::root::state_root_ref_unhashed(&genesis.alloc);
    genesis_header_with(genesis, forks, state_root)
}

/// The genesis header for `genesis` under `forks`, given the state root of its alloc: the one
/// place the header's fields are derived, for callers that compute the state trie themselves
/// (the embedded execution client stores its nodes) or that fix the fork rules (it is
/// post-merge only, so London is always active).
pub fn genesis_header_with(
    genesis: &Genesis,
    forks: GenesisForks,
    state_root: B256,
) -> Result<Header, SpecError> {
    let base_fee_per_gas = if forks.london {
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
    let cancun = forks.cancun;
    Ok(Header {
        parent_hash: genesis.parent_hash.unwrap_or_default(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Bloom::ZERO,
        difficulty: genesis.difficulty,
        number: genesis.number.unwrap_or(0),
        gas_limit: if genesis.gas_limit == 0 {
            GETH_DEFAULT_GENESIS_GAS_LIMIT
        } else {
            genesis.gas_limit
        },
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: B64::from(genesis.nonce),
        base_fee_per_gas,
        withdrawals_root: forks.shanghai.then_some(EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then(|| genesis.blob_gas_used.unwrap_or(0)),
        excess_blob_gas: cancun.then(|| genesis.excess_blob_gas.unwrap_or(0)),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: (cancun && forks.prague).then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    })
}

/// A geth genesis `config` for a post-merge chain with every fork up to Cancun active at
/// genesis (block 0, timestamp 0): the dev chain's, and the one tests and benches start from.
pub fn cancun_chain_config(chain_id: u64) -> ChainConfig {
    ChainConfig {
        chain_id,
        homestead_block: Some(0),
        eip150_block: Some(0),
        eip155_block: Some(0),
        eip158_block: Some(0),
        byzantium_block: Some(0),
        constantinople_block: Some(0),
        petersburg_block: Some(0),
        istanbul_block: Some(0),
        muir_glacier_block: Some(0),
        berlin_block: Some(0),
        london_block: Some(0),
        arrow_glacier_block: Some(0),
        gray_glacier_block: Some(0),
        merge_netsplit_block: Some(0),
        shanghai_time: Some(0),
        cancun_time: Some(0),
        terminal_total_difficulty: Some(U256::ZERO),
        terminal_total_difficulty_passed: true,
        ..Default::default()
    }
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
    use alloy_genesis::GenesisAccount;
    use alloy_primitives::{Address, Bytes};
    use serde_json::Value;
    use std::collections::BTreeMap;

    fn hex_u64(v: &Value) -> u64 {
        u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    fn hex_u256(v: &Value) -> U256 {
        v.as_str().unwrap().parse().unwrap()
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
            config: cancun_chain_config(1),
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
            config: cancun_chain_config(1),
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

    #[test]
    fn geth_defaults_and_range_checks() {
        let mut g = Genesis {
            config: cancun_chain_config(1),
            ..Default::default()
        };
        let h = genesis_header(&g).unwrap();
        assert_eq!(h.gas_limit, GETH_DEFAULT_GENESIS_GAS_LIMIT);
        assert_eq!(h.base_fee_per_gas, Some(INITIAL_BASE_FEE));
        g.base_fee_per_gas = Some(u64::MAX.into());
        assert_eq!(genesis_header(&g).unwrap().base_fee_per_gas, Some(u64::MAX));
        g.base_fee_per_gas = Some(u128::from(u64::MAX) + 1);
        let e = genesis_header(&g).unwrap_err();
        assert_eq!(e.field, "genesis.baseFeePerGas");
        assert_eq!(e.value, "18446744073709551616");
        // Before London the header has no base fee, whatever the genesis says.
        g.config.london_block = None;
        assert_eq!(genesis_header(&g).unwrap().base_fee_per_gas, None);
    }

    #[test]
    fn the_header_follows_the_given_forks() {
        let g = Genesis {
            config: cancun_chain_config(1),
            gas_limit: 30_000_000,
            ..Default::default()
        };
        let none = GenesisForks {
            london: false,
            shanghai: false,
            cancun: false,
            prague: false,
        };
        let h = genesis_header_with(&g, none, B256::repeat_byte(1)).unwrap();
        assert_eq!(h.state_root, B256::repeat_byte(1));
        assert_eq!(
            (h.base_fee_per_gas, h.withdrawals_root, h.blob_gas_used),
            (None, None, None)
        );
        assert_eq!(
            GenesisForks::of(&g).unwrap(),
            GenesisForks {
                london: true,
                shanghai: true,
                cancun: true,
                prague: false,
            }
        );
    }
}
