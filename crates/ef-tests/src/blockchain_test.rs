//! Blockchain tests: a genesis and a sequence of blocks imported through the Engine API path.
//!
//! The genesis is built from `pre` and `genesisBlockHeader` and written by [`Chain::open`] into
//! a fresh store in a temporary directory; its hash must equal the fixture's. Each block's RLP is
//! decoded, converted to an [`ExecutionPayload`] of the version its fork uses (V1 Paris, V2
//! Shanghai, V3 Cancun with the sidecar's beacon root and versioned hashes) and handed to
//! [`Chain::new_payload`], the function behind `engine_newPayloadV3`; a VALID block becomes the
//! head through [`Chain::forkchoice_updated`]. Blocks with `expectException` must not be
//! accepted: any status but VALID, or a failure to decode or convert, counts as the expected
//! rejection. Finally the head must be `lastblockhash` and the
//! state seen through [`Chain::state_at`] must equal `postState`, with no extra accounts.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use alloy::consensus::{Block, Transaction, TxEnvelope};
use alloy::rpc::types::engine::{
    CancunPayloadFields, ExecutionPayload, ExecutionPayloadSidecar, ExecutionPayloadV1,
    ExecutionPayloadV2, ExecutionPayloadV3, ForkchoiceState, PayloadStatusEnum,
};
use alloy_genesis::{ChainConfig, Genesis, GenesisAccount};
use alloy_primitives::{Address, B256, U256};
use alloy_rlp::Decodable;
use alys_store::Store;

use crate::{
    code_hash,
    fixtures::{BlockchainTest, FixtureState},
    storage_root, to_u64, FixtureError, Outcome,
};
use alys_evm::{chain::Chain, forks::ForkSchedule, verify::flat_state_accounts};

/// Chain id of every blockchain test.
const CHAIN_ID: u64 = 1;

/// The fork schedule of a supported network name (`None` if unsupported).
pub fn network_schedule(network: &str) -> Option<ForkSchedule> {
    let (shanghai_time, cancun_time) = match network {
        "Paris" | "Merge" => (None, None),
        "Shanghai" => (Some(0), None),
        "Cancun" => (Some(0), Some(0)),
        "ParisToShanghaiAtTime15k" => (Some(15_000), None),
        "ShanghaiToCancunAtTime15k" => (Some(0), Some(15_000)),
        _ => return None,
    };
    Some(ForkSchedule {
        chain_id: CHAIN_ID,
        shanghai_time,
        cancun_time,
    })
}

/// Runs one blockchain test.
pub fn run(test: &BlockchainTest) -> Outcome {
    let Some(schedule) = network_schedule(&test.network) else {
        return Outcome::Skipped(format!("unsupported fork {}", test.network));
    };
    let blocks: Vec<DecodedBlock> = test
        .blocks
        .iter()
        .map(|b| DecodedBlock {
            block: decode_block(&b.rlp),
            expect_exception: b.expect_exception.clone(),
        })
        .collect();
    let valid_blob_block = blocks.iter().any(|b| {
        b.expect_exception.is_none()
            && b.block
                .as_ref()
                .is_ok_and(|blk| blk.body.transactions.iter().any(|t| t.is_eip4844()))
    });
    if valid_blob_block {
        return Outcome::Skipped("blob transactions".into());
    }
    let genesis = match build_genesis(test, &schedule) {
        Ok(g) => g,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let dir = TempDir::new();
    let result = run_in(&dir.0, test, &genesis, blocks);
    drop(dir);
    match result {
        Ok(()) => Outcome::Passed,
        Err(reason) => Outcome::Failed(reason),
    }
}

struct DecodedBlock {
    block: Result<Block<TxEnvelope>, String>,
    expect_exception: Option<String>,
}

fn decode_block(rlp: &str) -> Result<Block<TxEnvelope>, String> {
    let bytes = hex::decode(rlp.trim().trim_start_matches("0x"))
        .map_err(|e| format!("rlp is not hex: {e}"))?;
    let mut buf = bytes.as_slice();
    let block = Block::<TxEnvelope>::decode(&mut buf).map_err(|e| format!("bad block RLP: {e}"))?;
    if !buf.is_empty() {
        return Err(format!("{} trailing bytes after the block RLP", buf.len()));
    }
    Ok(block)
}

/// The geth-style genesis of a test: `schedule` as config, `pre` as alloc.
pub fn build_genesis(
    test: &BlockchainTest,
    schedule: &ForkSchedule,
) -> Result<Genesis, FixtureError> {
    let h = &test.genesis_block_header;
    let config = ChainConfig {
        chain_id: schedule.chain_id,
        terminal_total_difficulty: Some(U256::ZERO),
        terminal_total_difficulty_passed: true,
        shanghai_time: schedule.shanghai_time,
        cancun_time: schedule.cancun_time,
        ..Default::default()
    };
    let mut alloc = std::collections::BTreeMap::new();
    for (address, account) in &test.pre {
        let storage = account
            .storage
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (B256::from(*k), B256::from(*v)))
            .collect();
        alloc.insert(
            *address,
            GenesisAccount::default()
                .with_nonce(Some(to_u64(account.nonce, "nonce")?))
                .with_balance(account.balance)
                .with_code((!account.code.is_empty()).then(|| account.code.clone()))
                .with_storage(Some(storage)),
        );
    }
    Ok(Genesis {
        config,
        nonce: u64::from_be_bytes(h.nonce.0),
        timestamp: to_u64(h.timestamp, "timestamp")?,
        extra_data: h.extra_data.clone(),
        gas_limit: to_u64(h.gas_limit, "gasLimit")?,
        difficulty: h.difficulty,
        mix_hash: h.mix_hash,
        coinbase: h.coinbase,
        alloc,
        base_fee_per_gas: h
            .base_fee_per_gas
            .map(|f| u128::try_from(f).map_err(|_| FixtureError::Range("baseFeePerGas")))
            .transpose()?,
        excess_blob_gas: h
            .excess_blob_gas
            .map(|v| to_u64(v, "excessBlobGas"))
            .transpose()?,
        blob_gas_used: h
            .blob_gas_used
            .map(|v| to_u64(v, "blobGasUsed"))
            .transpose()?,
        ..Default::default()
    })
}

fn run_in(
    dir: &std::path::Path,
    test: &BlockchainTest,
    genesis: &Genesis,
    blocks: Vec<DecodedBlock>,
) -> Result<(), String> {
    let store = Arc::new(Store::open(dir).map_err(|e| format!("cannot open store: {e}"))?);
    let mut chain = Chain::open(store, genesis).map_err(|e| format!("cannot open chain: {e}"))?;
    let expected_genesis = test.genesis_block_header.hash;
    if chain.genesis_hash() != expected_genesis {
        return Err(format!(
            "genesis hash {} differs from the fixture's {expected_genesis}",
            chain.genesis_hash()
        ));
    }
    let schedule = *chain.schedule();
    for (i, b) in blocks.into_iter().enumerate() {
        let n = i + 1;
        let converted = b.block.and_then(|block| to_payload(&schedule, &block));
        let (hash, payload, sidecar) = match (converted, &b.expect_exception) {
            (Ok(p), _) => p,
            (Err(_), Some(_)) => continue,
            (Err(e), None) => return Err(format!("block #{n}: {e}")),
        };
        let status = chain
            .new_payload(payload, sidecar)
            .map_err(|e| format!("block #{n}: new_payload failed: {e}"))?;
        match (&status.status, &b.expect_exception) {
            (PayloadStatusEnum::Valid, None) => {}
            (PayloadStatusEnum::Valid, Some(exception)) => {
                return Err(format!(
                    "block #{n} ({hash}) should be rejected with {exception}, but was VALID"
                ))
            }
            (_, Some(_)) => continue,
            (other, None) => {
                return Err(format!("block #{n} ({hash}) should be VALID, got {other}"))
            }
        }
        let state = ForkchoiceState {
            head_block_hash: hash,
            safe_block_hash: B256::ZERO,
            finalized_block_hash: B256::ZERO,
        };
        let fcu = chain
            .forkchoice_updated(state, None)
            .map_err(|e| format!("block #{n}: forkchoice_updated failed: {e}"))?;
        if !fcu.payload_status.status.is_valid() {
            return Err(format!(
                "block #{n} ({hash}): forkchoice_updated returned {}",
                fcu.payload_status.status
            ));
        }
    }
    let (head, head_hash) = chain.head();
    if head_hash != test.lastblockhash {
        return Err(format!(
            "head is {head_hash} (#{}), expected {}",
            head.number, test.lastblockhash
        ));
    }
    if let Some(root) = test.post_state_hash {
        if head.state_root != root {
            return Err(format!(
                "head state root {}, expected {root}",
                head.state_root
            ));
        }
    }
    if let Some(post) = &test.post_state {
        check_post_state(&chain, head_hash, post)?;
    }
    Ok(())
}

/// The Engine API form of `block`: payload version and sidecar by the fork at its timestamp.
fn to_payload(
    schedule: &ForkSchedule,
    block: &Block<TxEnvelope>,
) -> Result<(B256, ExecutionPayload, ExecutionPayloadSidecar), String> {
    let hash = block.header.hash_slow();
    let timestamp = block.header.timestamp;
    // The payload cannot express a body whose shape does not fit the fork (a missing or extra
    // withdrawals list): such an encoding is itself invalid, so it is rejected here.
    let shanghai = schedule.is_shanghai(timestamp);
    if shanghai != block.body.withdrawals.is_some() {
        return Err(format!(
            "block body {} a withdrawals list, which its fork {}",
            if shanghai { "lacks" } else { "has" },
            if shanghai {
                "requires"
            } else {
                "does not allow"
            }
        ));
    }
    if schedule.is_cancun(timestamp) {
        let root = block
            .header
            .parent_beacon_block_root
            .ok_or("Cancun block without parentBeaconBlockRoot")?;
        let versioned_hashes = block
            .body
            .transactions
            .iter()
            .filter_map(|t| t.blob_versioned_hashes())
            .flatten()
            .copied()
            .collect();
        Ok((
            hash,
            ExecutionPayload::V3(ExecutionPayloadV3::from_block_unchecked(hash, block)),
            ExecutionPayloadSidecar::v3(CancunPayloadFields::new(root, versioned_hashes)),
        ))
    } else if shanghai {
        Ok((
            hash,
            ExecutionPayload::V2(ExecutionPayloadV2::from_block_unchecked(hash, block)),
            ExecutionPayloadSidecar::none(),
        ))
    } else {
        Ok((
            hash,
            ExecutionPayload::V1(ExecutionPayloadV1::from_block_unchecked(hash, block)),
            ExecutionPayloadSidecar::none(),
        ))
    }
}

fn check_post_state(chain: &Chain, head: B256, post: &FixtureState) -> Result<(), String> {
    let view = chain
        .state_at(head)
        .map_err(|e| format!("cannot read state at head: {e}"))?;
    let mut problems = Vec::new();
    for (address, expected) in post {
        let account = match view.account(address) {
            Ok(Some(a)) => a,
            Ok(None) => {
                problems.push(format!("{address}: missing"));
                continue;
            }
            Err(e) => return Err(format!("{address}: read failed: {e}")),
        };
        if U256::from(account.nonce) != expected.nonce {
            problems.push(format!(
                "{address}: nonce {} expected {}",
                account.nonce, expected.nonce
            ));
        }
        if account.balance != expected.balance {
            problems.push(format!(
                "{address}: balance {} expected {}",
                account.balance, expected.balance
            ));
        }
        let expected_code_hash = code_hash(&expected.code);
        if account.code_hash != expected_code_hash {
            problems.push(format!(
                "{address}: code hash {} expected {expected_code_hash}",
                account.code_hash
            ));
        } else if !expected.code.is_empty() {
            match view.db().code(&account.code_hash) {
                Ok(Some(code)) if code == expected.code => {}
                Ok(Some(_)) => problems.push(format!("{address}: stored code differs")),
                Ok(None) => problems.push(format!("{address}: code missing from the store")),
                Err(e) => return Err(format!("{address}: code read failed: {e}")),
            }
        }
        for (slot, value) in &expected.storage {
            let got = view
                .storage(address, &B256::from(*slot))
                .map_err(|e| format!("{address}: storage read failed: {e}"))?;
            if got != *value {
                problems.push(format!(
                    "{address}: slot {slot:#x} = {got:#x}, expected {value:#x}"
                ));
            }
        }
        let expected_slots = expected.storage.values().filter(|v| !v.is_zero()).count();
        let stored_slots = view.storage_slots(address).len();
        if stored_slots != expected_slots {
            problems.push(format!(
                "{address}: {stored_slots} non-zero slots in flat state, expected {expected_slots}"
            ));
        }
        let expected_root = storage_root(&expected.storage);
        if account.storage_root != expected_root {
            problems.push(format!(
                "{address}: storage root {} expected {expected_root}",
                account.storage_root
            ));
        }
    }
    // The head is canonical, so flat state is the head's state: it must hold nothing more.
    let expected: BTreeSet<Address> = post.keys().copied().collect();
    for address in flat_state_accounts(view.db()) {
        if !expected.contains(&address) {
            problems.push(format!("{address}: present but not in postState"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("post-state mismatch: {}", problems.join("; ")))
    }
}

/// A uniquely named directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "alys-ef-tests-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
