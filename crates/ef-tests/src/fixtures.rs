//! Serde types for the ethereum/tests JSON fixtures (the filled `GeneralStateTests` and
//! `BlockchainTests` formats).
//!
//! Only the fields the runner uses are modelled; unknown fields are ignored. Numbers are hex
//! quantities, read as [`U256`] and narrowed where the runner needs a machine integer.

use std::collections::BTreeMap;

use alloy::eips::eip2930::AccessList;
use alloy_primitives::{Address, Bytes, B256, B64, U256};
use serde::Deserialize;

/// An account of a `pre`, `postState` or state-test pre-state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: U256,
    /// Contract code.
    #[serde(default)]
    pub code: Bytes,
    /// Storage slots (zero values may appear and mean "absent").
    #[serde(default)]
    pub storage: BTreeMap<U256, U256>,
}

/// Accounts by address.
pub type FixtureState = BTreeMap<Address, FixtureAccount>;

/// One entry of a state test file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateTest {
    /// Block environment.
    pub env: StateEnv,
    /// Pre-state.
    pub pre: FixtureState,
    /// The transaction template (indexed by `post[fork][i].indexes`).
    pub transaction: StateTransaction,
    /// Expected results by fork name.
    pub post: BTreeMap<String, Vec<StatePost>>,
}

/// The block a state test's transaction runs in.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateEnv {
    /// Fee recipient.
    pub current_coinbase: Address,
    /// Block gas limit.
    pub current_gas_limit: U256,
    /// Block number.
    pub current_number: U256,
    /// Block timestamp.
    pub current_timestamp: U256,
    /// Difficulty (pre-merge; the source of `prevRandao` when `currentRandom` is absent).
    #[serde(default)]
    pub current_difficulty: U256,
    /// Base fee (London and later).
    #[serde(default)]
    pub current_base_fee: Option<U256>,
    /// `prevRandao` (Paris and later).
    #[serde(default)]
    pub current_random: Option<B256>,
    /// Excess blob gas (Cancun and later).
    #[serde(default)]
    pub current_excess_blob_gas: Option<U256>,
}

/// The transaction template of a state test: `data`, `gasLimit` and `value` are lists indexed
/// by each post entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateTransaction {
    /// Call data (or init code) variants.
    pub data: Vec<Bytes>,
    /// Gas limit variants.
    pub gas_limit: Vec<U256>,
    /// Value variants.
    pub value: Vec<U256>,
    /// Access lists, one per data variant (typed transactions only).
    #[serde(default)]
    pub access_lists: Option<Vec<Option<AccessList>>>,
    /// Legacy / EIP-2930 gas price.
    #[serde(default)]
    pub gas_price: Option<U256>,
    /// EIP-1559 fee cap.
    #[serde(default)]
    pub max_fee_per_gas: Option<U256>,
    /// EIP-1559 tip cap.
    #[serde(default)]
    pub max_priority_fee_per_gas: Option<U256>,
    /// EIP-4844 blob fee cap.
    #[serde(default)]
    pub max_fee_per_blob_gas: Option<U256>,
    /// EIP-4844 versioned hashes.
    #[serde(default)]
    pub blob_versioned_hashes: Option<Vec<B256>>,
    /// EIP-7702 authorizations (Prague; their presence makes the test unsupported).
    #[serde(default)]
    pub authorization_list: Option<serde_json::Value>,
    /// Nonce.
    pub nonce: U256,
    /// Sender.
    #[serde(default)]
    pub sender: Option<Address>,
    /// Recipient; empty for contract creation.
    #[serde(default)]
    pub to: Option<String>,
}

/// Expected result of one (fork, indexes) combination.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatePost {
    /// Expected post state root.
    pub hash: B256,
    /// Expected keccak of the RLP list of logs.
    pub logs: B256,
    /// Which variant of the transaction.
    pub indexes: StateIndexes,
    /// The transaction is invalid and must be rejected.
    #[serde(default)]
    pub expect_exception: Option<String>,
}

/// Indexes into [`StateTransaction`]'s variant lists.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct StateIndexes {
    /// Into `data` (and `accessLists`).
    pub data: usize,
    /// Into `gasLimit`.
    pub gas: usize,
    /// Into `value`.
    pub value: usize,
}

/// One entry of a blockchain test file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockchainTest {
    /// Fork (or transition) name.
    pub network: String,
    /// Genesis header.
    pub genesis_block_header: FixtureHeader,
    /// Genesis state.
    pub pre: FixtureState,
    /// Expected state after the last block (absent in fixtures that give only its root).
    #[serde(default)]
    pub post_state: Option<FixtureState>,
    /// Expected state root after the last block (instead of `postState`).
    #[serde(default)]
    pub post_state_hash: Option<B256>,
    /// Expected canonical head.
    pub lastblockhash: B256,
    /// Blocks, in import order.
    pub blocks: Vec<FixtureBlock>,
}

/// A header as the fixtures spell it (only what the genesis needs).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureHeader {
    /// Fee recipient.
    pub coinbase: Address,
    /// Difficulty.
    pub difficulty: U256,
    /// Extra data.
    pub extra_data: Bytes,
    /// Gas limit.
    pub gas_limit: U256,
    /// Mix hash / `prevRandao`.
    pub mix_hash: B256,
    /// Nonce.
    pub nonce: B64,
    /// Timestamp.
    pub timestamp: U256,
    /// Base fee.
    #[serde(default)]
    pub base_fee_per_gas: Option<U256>,
    /// Excess blob gas.
    #[serde(default)]
    pub excess_blob_gas: Option<U256>,
    /// Blob gas used.
    #[serde(default)]
    pub blob_gas_used: Option<U256>,
    /// Parent beacon block root.
    #[serde(default)]
    pub parent_beacon_block_root: Option<B256>,
    /// Block hash.
    pub hash: B256,
    /// State root.
    pub state_root: B256,
}

/// One block of a blockchain test.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBlock {
    /// RLP of the block, hex (kept as text: invalid blocks may carry malformed encodings).
    pub rlp: String,
    /// Present when the block must be rejected; names the expected failure.
    #[serde(default)]
    pub expect_exception: Option<String>,
}
