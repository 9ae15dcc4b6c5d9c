//! Executes one block's transactions on a [`StateView`] with revm (through alloy-evm's Ethereum
//! block executor: EIP-4788 beacon root call, EIP-2935 where active, withdrawals, and the
//! EIP-7610 storage collision of [`crate::create_collision`]), then
//! computes every root of the header: transactions, receipts, withdrawals, logs bloom and the
//! state root by updating the state trie along the changed paths only.

use std::{borrow::Cow, sync::Arc};

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{
    proofs::{calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root},
    Header, ReceiptEnvelope, TxEnvelope, TxReceipt, EMPTY_OMMER_ROOT_HASH,
};
use alloy::eips::eip4895::Withdrawal;
use alloy_evm::{
    block::{BlockExecutionError, BlockExecutor, BlockValidationError},
    eth::{receipt_builder::AlloyReceiptBuilder, EthBlockExecutionCtx, EthBlockExecutor},
    EthEvmFactory, Evm, EvmEnv, EvmFactory,
};
use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256, B64, U256};
use alloy_trie::{TrieAccount, EMPTY_ROOT_HASH};
use revm::{
    context::{BlockEnv, CfgEnv},
    context_interface::block::BlobExcessGasAndPrice,
    database::{states::bundle_state::BundleRetention, State},
    primitives::hardfork::SpecId,
};

use crate::{
    create_collision::{StorageCollisionGuard, StorageOnlyAccounts},
    db::{AccountChange, BlockChanges, DbError, StorageChange, StoredBody},
    forks::ForkSchedule,
    state::StateView,
    trie::{Trie, TrieError},
};

/// Why a block could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A transaction or system call failed validation: the block is invalid.
    #[error("{0}")]
    Invalid(String),
    /// State could not be read or the trie is damaged: a node fault, not a block fault.
    #[error("state access failed: {0}")]
    Db(#[from] DbError),
    /// The EIP-7610 collision check could not read state.
    #[error(transparent)]
    CollisionCheck(#[from] crate::create_collision::CollisionCheckError),
    /// The state trie could not be updated.
    #[error("state trie: {0}")]
    Trie(#[from] TrieError),
}

/// The fields of a block's header known before execution.
#[derive(Debug, Clone)]
pub(crate) struct BlockContext {
    /// Parent block hash.
    pub parent_hash: B256,
    /// Block number.
    pub number: u64,
    /// Timestamp (seconds).
    pub timestamp: u64,
    /// Fee recipient.
    pub beneficiary: Address,
    /// `prevRandao` (the header's mix hash).
    pub prev_randao: B256,
    /// Gas limit.
    pub gas_limit: u64,
    /// Base fee per gas.
    pub base_fee: u64,
    /// Extra data (≤ 32 bytes).
    pub extra_data: Bytes,
    /// EIP-4788 parent beacon block root.
    pub parent_beacon_block_root: B256,
    /// Withdrawals credited at the end of the block.
    pub withdrawals: Vec<Withdrawal>,
    /// EIP-4844 excess blob gas of this block.
    pub excess_blob_gas: u64,
    /// State root of the parent.
    pub parent_state_root: B256,
}

/// How transactions that fail validation are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Importing a block: any invalid transaction makes the block invalid.
    Import,
    /// Building a block: invalid transactions are left out.
    Build,
}

/// A fully executed and sealed block with everything needed to store it.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The sealed header (all roots computed).
    pub header: Header,
    /// Its hash.
    pub hash: B256,
    /// Included transactions and withdrawals.
    pub body: Arc<StoredBody>,
    /// Transaction hashes, in block order.
    pub tx_hashes: Vec<B256>,
    /// Receipts, in block order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Flat state changes.
    pub changes: Arc<BlockChanges>,
    /// New trie nodes to persist.
    pub trie_nodes: Vec<(B256, Vec<u8>)>,
    /// New contract code to persist.
    pub code: Vec<(B256, Bytes)>,
    /// Transactions left out while building, with the reason.
    pub skipped: Vec<(B256, String)>,
    /// Where the time went.
    pub timings: ExecTimings,
}

/// Time spent executing a block and updating the state trie.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecTimings {
    /// Transactions, system calls and withdrawals in revm; on import this overlaps with, and so
    /// includes, the recovery of the senders.
    pub execution: std::time::Duration,
    /// Flat-state changes and the state root (storage tries and account trie).
    pub state_root: std::time::Duration,
}

fn evm_env(schedule: &ForkSchedule, ctx: &BlockContext) -> EvmEnv<SpecId> {
    let spec = if schedule.is_cancun(ctx.timestamp) {
        SpecId::CANCUN
    } else if schedule.is_shanghai(ctx.timestamp) {
        SpecId::SHANGHAI
    } else {
        SpecId::MERGE
    };
    let cfg = CfgEnv::new_with_spec(spec).with_chain_id(schedule.chain_id);
    let blob = schedule.is_cancun(ctx.timestamp).then(|| {
        let params = alloy::eips::eip7840::BlobParams::cancun();
        BlobExcessGasAndPrice {
            excess_blob_gas: ctx.excess_blob_gas,
            blob_gasprice: params.calc_blob_fee(ctx.excess_blob_gas),
        }
    });
    let block = BlockEnv {
        number: U256::from(ctx.number),
        beneficiary: ctx.beneficiary,
        timestamp: U256::from(ctx.timestamp),
        difficulty: U256::ZERO,
        prevrandao: Some(ctx.prev_randao),
        gas_limit: ctx.gas_limit,
        basefee: ctx.base_fee,
        blob_excess_gas_and_price: blob,
        ..Default::default()
    };
    EvmEnv::new(cfg, block)
}

fn is_tx_fault(err: &BlockExecutionError) -> bool {
    matches!(
        err,
        BlockExecutionError::Validation(
            BlockValidationError::InvalidTx { .. }
                | BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas { .. }
        )
    )
}

/// Executes `txs` on `view` under `ctx` and seals the resulting block.
pub(crate) fn execute_block(
    view: StateView,
    schedule: &ForkSchedule,
    collision_targets: &StorageOnlyAccounts,
    ctx: &BlockContext,
    txs: impl IntoIterator<Item = Recovered<TxEnvelope>>,
    mode: Mode,
) -> Result<ExecutedBlock, ExecError> {
    let started = std::time::Instant::now();
    let mut state = State::builder()
        .with_database_ref(view.clone())
        .with_bundle_update()
        .build();
    let env = evm_env(schedule, ctx);
    // The guard adds EIP-7610's storage collision to revm's creation checks; it runs only on a
    // chain whose genesis holds an account it can act on.
    let guard = StorageCollisionGuard::new(collision_targets.clone());
    let guard_active = guard.is_active();
    let mut evm = EthEvmFactory::default().create_evm_with_inspector(&mut state, env, guard);
    evm.set_inspector_enabled(guard_active);
    let exec_ctx = EthBlockExecutionCtx {
        parent_hash: ctx.parent_hash,
        parent_beacon_block_root: Some(ctx.parent_beacon_block_root),
        ommers: &[],
        withdrawals: Some(Cow::Borrowed(&ctx.withdrawals)),
        extra_data: ctx.extra_data.clone(),
        tx_count_hint: None,
        slot_number: None,
    };
    let mut executor =
        EthBlockExecutor::new(evm, exec_ctx, *schedule, AlloyReceiptBuilder::default());
    executor
        .apply_pre_execution_changes()
        .map_err(|e| ExecError::Invalid(format!("pre-execution system call failed: {e}")))?;

    let mut included = Vec::new();
    let mut skipped = Vec::new();
    for tx in txs {
        let hash = *tx.inner().tx_hash();
        if tx.inner().is_eip4844() {
            let reason = "blob transactions are not supported on this chain".to_string();
            match mode {
                Mode::Import => return Err(ExecError::Invalid(format!("tx {hash}: {reason}"))),
                Mode::Build => {
                    skipped.push((hash, reason));
                    continue;
                }
            }
        }
        let outcome = executor.execute_transaction(&tx);
        if let Some(e) = executor.evm_mut().inspector_mut().take_error() {
            return Err(e.into());
        }
        match outcome {
            Ok(_) => included.push(tx.into_inner()),
            Err(e) if mode == Mode::Build && is_tx_fault(&e) => skipped.push((hash, e.to_string())),
            Err(e) if is_tx_fault(&e) => return Err(ExecError::Invalid(e.to_string())),
            Err(e) => return Err(internal_or_invalid(e)),
        }
    }
    let (_evm, result) = executor.finish().map_err(internal_or_invalid)?;
    state.merge_transitions(BundleRetention::PlainState);
    let bundle = state.take_bundle();

    let execution = started.elapsed();
    let receipts = result.receipts;
    // The state root and the roots of the block's own lists are independent: compute them side
    // by side.
    let ((commit, state_root_time), roots) = rayon::join(
        || {
            let started = std::time::Instant::now();
            let commit = commit_state(&view, ctx.parent_state_root, &bundle);
            (commit, started.elapsed())
        },
        || ListRoots::of(&included, &receipts),
    );
    let StateCommit {
        changes,
        trie_nodes,
        state_root,
    } = commit?;
    let timings = ExecTimings {
        execution,
        state_root: state_root_time,
    };
    let code: Vec<(B256, Bytes)> = bundle
        .contracts
        .iter()
        .map(|(h, c)| (*h, c.original_bytes()))
        .collect();
    let header = Header {
        parent_hash: ctx.parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: ctx.beneficiary,
        state_root,
        transactions_root: roots.transactions,
        receipts_root: roots.receipts,
        logs_bloom: roots.logs_bloom,
        difficulty: U256::ZERO,
        number: ctx.number,
        gas_limit: ctx.gas_limit,
        gas_used: result.gas_used,
        timestamp: ctx.timestamp,
        extra_data: ctx.extra_data.clone(),
        mix_hash: ctx.prev_randao,
        nonce: B64::ZERO,
        base_fee_per_gas: Some(ctx.base_fee),
        withdrawals_root: schedule
            .is_shanghai(ctx.timestamp)
            .then(|| calculate_withdrawals_root(&ctx.withdrawals)),
        blob_gas_used: schedule
            .is_cancun(ctx.timestamp)
            .then_some(result.blob_gas_used),
        excess_blob_gas: schedule
            .is_cancun(ctx.timestamp)
            .then_some(ctx.excess_blob_gas),
        parent_beacon_block_root: schedule
            .is_cancun(ctx.timestamp)
            .then_some(ctx.parent_beacon_block_root),
        requests_hash: None,
        ..Default::default()
    };
    let hash = header.hash_slow();
    let tx_hashes = included.iter().map(|t| *t.tx_hash()).collect();
    Ok(ExecutedBlock {
        header,
        hash,
        body: Arc::new(StoredBody {
            transactions: included,
            withdrawals: ctx.withdrawals.clone(),
        }),
        tx_hashes,
        receipts,
        changes: Arc::new(changes),
        trie_nodes,
        code,
        skipped,
        timings,
    })
}

/// The header fields derived from the block's transactions and receipts.
struct ListRoots {
    transactions: B256,
    receipts: B256,
    logs_bloom: Bloom,
}

impl ListRoots {
    fn of(transactions: &[TxEnvelope], receipts: &[ReceiptEnvelope]) -> Self {
        Self {
            transactions: calculate_transaction_root(transactions),
            receipts: calculate_receipt_root(receipts),
            logs_bloom: receipts.iter().fold(Bloom::ZERO, |mut acc, r| {
                acc.accrue_bloom(&r.bloom());
                acc
            }),
        }
    }
}

fn internal_or_invalid(e: BlockExecutionError) -> ExecError {
    match e {
        BlockExecutionError::Validation(v) => ExecError::Invalid(v.to_string()),
        BlockExecutionError::Internal(i) => ExecError::Invalid(format!("execution failed: {i}")),
    }
}

fn rlp_bytes<T: alloy_rlp::Encodable>(v: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.length());
    v.encode(&mut out);
    out
}

/// The effect of a block on state: flat changes, new trie nodes and the new root.
struct StateCommit {
    changes: BlockChanges,
    trie_nodes: Vec<(B256, Vec<u8>)>,
    state_root: B256,
}

/// Turns revm's bundle into flat-state changes and the new state root.
fn commit_state(
    view: &StateView,
    parent_state_root: B256,
    bundle: &revm::database::BundleState,
) -> Result<StateCommit, ExecError> {
    let db = view.db();
    let mut changes = BlockChanges::default();
    let mut nodes = Vec::new();
    let mut account_trie = Trie::new(parent_state_root);

    let mut addresses: Vec<&Address> = bundle.state.keys().collect();
    addresses.sort();
    for address in addresses {
        let account = &bundle.state[address];
        let old = view.account(address)?;
        let destroyed = account.status.was_destroyed();
        let mut storage_root = match (&old, destroyed) {
            (Some(a), false) => a.storage_root,
            _ => EMPTY_ROOT_HASH,
        };

        let mut slot_changes: Vec<StorageChange> = Vec::new();
        if destroyed {
            for (slot, value) in view.storage_slots(address) {
                let new = account
                    .storage
                    .get(&U256::from_be_bytes(slot.0))
                    .map(|s| s.present_value);
                if new.is_none() {
                    slot_changes.push(StorageChange {
                        address: *address,
                        slot,
                        old: value,
                        new: U256::ZERO,
                    });
                }
            }
        }
        let mut slots: Vec<_> = account.storage.iter().collect();
        slots.sort_by_key(|(k, _)| **k);
        for (slot, value) in slots {
            let slot = B256::from(*slot);
            let old_value = if destroyed {
                view.storage(address, &slot)?
            } else {
                value.previous_or_original_value
            };
            if old_value != value.present_value || destroyed {
                slot_changes.push(StorageChange {
                    address: *address,
                    slot,
                    old: old_value,
                    new: value.present_value,
                });
            }
        }
        if !slot_changes.is_empty() {
            let mut storage_trie = Trie::new(storage_root);
            for change in &slot_changes {
                let key = keccak256(change.slot);
                if change.new.is_zero() {
                    storage_trie.remove(db, &key)?;
                } else {
                    storage_trie.insert(db, key, rlp_bytes(&change.new))?;
                }
            }
            let commit = storage_trie.commit();
            storage_root = commit.root;
            nodes.extend(commit.new_nodes);
            slot_changes.retain(|c| c.old != c.new);
            changes.storage.extend(slot_changes);
        }

        let new = account.info.as_ref().map(|info| TrieAccount {
            nonce: info.nonce,
            balance: info.balance,
            storage_root,
            code_hash: info.code_hash,
        });
        if new != old {
            let key = keccak256(address);
            match &new {
                Some(a) => account_trie.insert(db, key, rlp_bytes(a))?,
                None => account_trie.remove(db, &key)?,
            }
            changes.accounts.push(AccountChange {
                address: *address,
                old: old.into_iter().collect(),
                new: new.into_iter().collect(),
            });
        }
    }
    let commit = account_trie.commit();
    nodes.extend(commit.new_nodes);
    Ok(StateCommit {
        changes,
        trie_nodes: nodes,
        state_root: commit.root,
    })
}
