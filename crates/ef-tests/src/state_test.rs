//! General state tests: one transaction on a pre-state, checked by post state root and logs hash.
//!
//! Each `(fork, indexes)` post entry of a supported fork is one case. The transaction runs with
//! revm through alloy-evm's [`EthEvmFactory`] (the factory the client's block executor uses) on
//! an in-memory [`State`] seeded with the pre-state. A transaction the fixture expects to be
//! invalid must fail validation and leave the pre-state untouched.

use alloy_evm::{EthEvmFactory, Evm, EvmEnv, EvmFactory};
use alloy_primitives::{keccak256, Address, Log, TxKind, B256, U256};
use alloy_trie::TrieAccount;
use alys_evm::{StorageCollisionGuard, StorageOnlyAccounts};
use revm::{
    bytecode::Bytecode,
    context::{result::EVMError, BlockEnv, CfgEnv, TxEnv},
    database::{CacheState, State},
    primitives::{eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN, hardfork::SpecId},
    state::AccountInfo,
};

use crate::{
    code_hash, fixture_state_root,
    fixtures::{FixtureState, StateEnv, StateIndexes, StatePost, StateTest, StateTransaction},
    state_root, storage_root, to_u128, to_u64, FixtureError, Outcome, Report,
};

/// Maximum blobs per transaction under Cancun (EIP-4844: 786432 / 131072).
const MAX_BLOBS_PER_TX_CANCUN: u64 = 6;

/// The revm spec of a supported state-test fork name, `None` for unsupported forks.
pub fn fork_spec(fork: &str) -> Option<SpecId> {
    match fork {
        "Paris" | "Merge" => Some(SpecId::MERGE),
        "Shanghai" => Some(SpecId::SHANGHAI),
        "Cancun" => Some(SpecId::CANCUN),
        _ => None,
    }
}

/// Runs every post entry of `test`, naming cases `<name>::<fork>::d<i>g<j>v<k>`.
pub fn run(name: &str, test: &StateTest) -> Report {
    let mut report = Report::default();
    let pre_root = fixture_state_root(&test.pre);
    for (fork, posts) in &test.post {
        let spec = fork_spec(fork);
        for post in posts {
            let StateIndexes { data, gas, value } = post.indexes;
            let case = format!("{name}::{fork}::d{data}g{gas}v{value}");
            let outcome = match (spec, &pre_root) {
                (None, _) => Outcome::Skipped(format!("unsupported fork {fork}")),
                (Some(_), Err(e)) => Outcome::Failed(e.to_string()),
                (Some(spec), Ok(pre_root)) => match run_case(test, spec, post, *pre_root) {
                    Ok(()) => Outcome::Passed,
                    Err(reason) => Outcome::Failed(reason),
                },
            };
            report.record(case, outcome);
        }
    }
    report
}

fn run_case(
    test: &StateTest,
    spec: SpecId,
    post: &StatePost,
    pre_root: B256,
) -> Result<(), String> {
    if test.transaction.authorization_list.is_some() && !spec.is_enabled_in(SpecId::PRAGUE) {
        return Err("EIP-7702 transaction in a pre-Prague fork".into());
    }
    let env = evm_env(&test.env, spec).map_err(|e| e.to_string())?;
    let tx = match tx_env(&test.transaction, post.indexes).map_err(|e| e.to_string())? {
        Ok(tx) => Some(tx),
        // Rejected before execution: the state must stay the pre-state.
        Err(_) if post.expect_exception.is_some() => None,
        Err(reason) => return Err(format!("transaction cannot exist: {reason}")),
    };
    let mut state = State::builder()
        .with_cached_prestate(pre_cache(&test.pre).map_err(|e| e.to_string())?)
        .build();
    // EIP-7610, as the client's block executor applies it.
    let guard = StorageCollisionGuard::new(storage_only_accounts(&test.pre));
    let guard_active = guard.is_active();
    let mut evm = EthEvmFactory::default().create_evm_with_inspector(&mut state, env, guard);
    evm.set_inspector_enabled(guard_active);
    let result = tx.map(|tx| evm.transact_commit(tx));
    if let Some(e) = evm.inspector_mut().take_error() {
        return Err(e.to_string());
    }
    drop(evm);

    let logs: Vec<Log> = match (result, &post.expect_exception) {
        (None, _) => Vec::new(),
        (Some(Ok(_)), Some(exception)) => {
            return Err(format!(
                "expected exception {exception}, but the transaction was valid"
            ))
        }
        (Some(Ok(result)), None) => result.into_logs(),
        (Some(Err(EVMError::Transaction(_))), Some(_)) => Vec::new(),
        (Some(Err(EVMError::Transaction(e))), None) => {
            return Err(format!("transaction rejected: {e}"));
        }
        (Some(Err(e)), _) => return Err(format!("execution error: {e}")),
    };

    let root = state_root(
        state
            .cache
            .trie_account()
            .into_iter()
            .map(|(address, acc)| {
                (
                    address,
                    TrieAccount::new(
                        acc.info.nonce,
                        acc.info.balance,
                        storage_root(&acc.storage),
                        acc.info.code_hash,
                    ),
                )
            }),
    );
    let logs_hash = keccak256(alloy_rlp::encode(&logs));
    let mut problems = Vec::new();
    if root != post.hash {
        let note = if root == pre_root {
            " (the pre-state root)"
        } else {
            ""
        };
        problems.push(format!("state root {root}{note}, expected {}", post.hash));
    }
    if logs_hash != post.logs {
        problems.push(format!(
            "logs hash {logs_hash} ({} logs), expected {}",
            logs.len(),
            post.logs
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The block environment of a state test under `spec`.
pub fn evm_env(env: &StateEnv, spec: SpecId) -> Result<EvmEnv<SpecId>, FixtureError> {
    let mut cfg = CfgEnv::new_with_spec(spec).with_chain_id(1);
    if spec.is_enabled_in(SpecId::CANCUN) && !spec.is_enabled_in(SpecId::PRAGUE) {
        cfg = cfg.with_max_blobs_per_tx(MAX_BLOBS_PER_TX_CANCUN);
    }
    let mut block = BlockEnv {
        number: env.current_number,
        beneficiary: env.current_coinbase,
        timestamp: env.current_timestamp,
        gas_limit: to_u64(env.current_gas_limit, "currentGasLimit")?,
        basefee: env
            .current_base_fee
            .map(|f| to_u64(f, "currentBaseFee"))
            .transpose()?
            .unwrap_or_default(),
        difficulty: env.current_difficulty,
        prevrandao: Some(
            env.current_random
                .unwrap_or(B256::from(env.current_difficulty)),
        ),
        blob_excess_gas_and_price: None,
        ..Default::default()
    };
    if spec.is_enabled_in(SpecId::MERGE) {
        block.difficulty = U256::ZERO;
    }
    if spec.is_enabled_in(SpecId::CANCUN) {
        let excess = env
            .current_excess_blob_gas
            .map(|e| to_u64(e, "currentExcessBlobGas"))
            .transpose()?
            .unwrap_or_default();
        block.set_blob_excess_gas_and_price(excess, BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN);
    }
    Ok(EvmEnv::new(cfg, block))
}

/// The transaction variant selected by `indexes`.
///
/// The inner `Err` is a transaction that cannot be encoded at all (a blob transaction creating
/// a contract): it is invalid before any execution rule applies.
pub fn tx_env(
    tx: &StateTransaction,
    indexes: StateIndexes,
) -> Result<Result<TxEnv, String>, FixtureError> {
    let pick = |field: &'static str, len: usize, index: usize| {
        if index < len {
            Ok(index)
        } else {
            Err(FixtureError::Index { field, index })
        }
    };
    let data = tx.data[pick("data", tx.data.len(), indexes.data)?].clone();
    let gas_limit = to_u64(
        tx.gas_limit[pick("gasLimit", tx.gas_limit.len(), indexes.gas)?],
        "gasLimit",
    )?;
    let value = tx.value[pick("value", tx.value.len(), indexes.value)?];
    let caller = tx
        .sender
        .ok_or(FixtureError::Shape("transaction has no `sender`".into()))?;
    let kind = match tx.to.as_deref().map(str::trim) {
        None | Some("") => TxKind::Create,
        Some(to) => TxKind::Call(
            to.parse::<Address>()
                .map_err(|_| FixtureError::Shape(format!("bad `to` address {to:?}")))?,
        ),
    };
    let access_list = match &tx.access_lists {
        Some(lists) => lists
            .get(indexes.data)
            .cloned()
            .flatten()
            .unwrap_or_default(),
        None => Default::default(),
    };
    let (tx_type, gas_price, gas_priority_fee) = match (tx.max_fee_per_gas, tx.gas_price) {
        (Some(max_fee), _) => {
            let tip = tx
                .max_priority_fee_per_gas
                .ok_or(FixtureError::Shape("`maxFeePerGas` without a tip".into()))?;
            let ty = if tx.blob_versioned_hashes.is_some() {
                3
            } else {
                2
            };
            (
                ty,
                to_u128(max_fee, "maxFeePerGas")?,
                Some(to_u128(tip, "maxPriorityFeePerGas")?),
            )
        }
        (None, Some(price)) => {
            let ty = if tx.access_lists.is_some() { 1 } else { 0 };
            (ty, to_u128(price, "gasPrice")?, None)
        }
        (None, None) => {
            return Err(FixtureError::Shape(
                "transaction has neither `gasPrice` nor `maxFeePerGas`".into(),
            ))
        }
    };
    if tx_type == 3 && kind.is_create() {
        return Ok(Err("a blob transaction cannot create a contract".into()));
    }
    Ok(Ok(TxEnv {
        tx_type,
        caller,
        gas_limit,
        gas_price,
        kind,
        value,
        data,
        nonce: to_u64(tx.nonce, "nonce")?,
        chain_id: Some(1),
        access_list,
        gas_priority_fee,
        blob_hashes: tx.blob_versioned_hashes.clone().unwrap_or_default(),
        max_fee_per_blob_gas: tx
            .max_fee_per_blob_gas
            .map(|f| to_u128(f, "maxFeePerBlobGas"))
            .transpose()?
            .unwrap_or_default(),
        ..Default::default()
    }))
}

/// The pre-state accounts with storage, no code and nonce 0 (EIP-7610 collision targets).
fn storage_only_accounts(pre: &FixtureState) -> StorageOnlyAccounts {
    StorageOnlyAccounts::from_addresses(
        pre.iter()
            .filter(|(_, a)| {
                a.code.is_empty() && a.nonce.is_zero() && a.storage.values().any(|v| !v.is_zero())
            })
            .map(|(address, _)| *address),
    )
}

/// revm's cache seeded with the fixture pre-state.
fn pre_cache(pre: &FixtureState) -> Result<CacheState, FixtureError> {
    let mut cache = CacheState::new();
    for (address, account) in pre {
        let hash = code_hash(&account.code);
        let code = if account.code.is_empty() {
            Bytecode::default()
        } else {
            Bytecode::new_raw(account.code.clone())
        };
        cache.contracts.insert(hash, code.clone());
        let info = AccountInfo::new(account.balance, to_u64(account.nonce, "nonce")?, hash, code);
        let storage = account
            .storage
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (*k, *v))
            .collect();
        cache.insert_account_with_storage(*address, info, storage);
    }
    Ok(cache)
}
