//! `eth_call`, `eth_estimateGas` and `eth_createAccessList`: a transaction request executed on
//! revm against the state after a block, with Geth's semantics.
//!
//! * No fee fields → gas price 0 and a zero base fee (Geth's `NoBaseFee` for calls).
//! * The nonce check is off; a missing gas limit means the gas cap (and, with a gas price, what
//!   the sender can pay for).
//! * Reverts answer code 3 with `execution reverted[: reason]` and the revert bytes as `data`.
//! * Estimation: Geth's binary search (optimistic first guess from the gas used plus the call
//!   stipend, then halving until within 1.5%), so a transaction sent with the estimate succeeds.

use std::sync::Arc;

use alloy::eips::BlockId;
use alloy::rpc::types::{
    state::StateOverride, AccessList, AccessListResult, BlockOverrides, TransactionRequest,
};
use alloy_evm::{
    eth::EthEvmContext,
    overrides::{apply_block_overrides, apply_state_overrides},
    precompiles::PrecompilesMap,
    rpc::TryIntoTxEnv,
    EthEvm, EthEvmFactory, Evm, EvmEnv, EvmFactory,
};
use alloy_primitives::{Bytes, TxKind, U256, U64};
use jsonrpsee::{
    types::{ErrorObjectOwned, Params},
    RpcModule,
};
use revm::{
    context::{
        result::{ExecutionResult, HaltReason, ResultAndState},
        TxEnv,
    },
    database::CacheDB,
    inspector::NoOpInspector,
    primitives::hardfork::SpecId,
    Database, Inspector,
};
use revm_inspectors::access_list::AccessListInspector;

use super::cache::CachedView;
use super::{
    blocking,
    env::block_evm_env,
    errors::{evm_err, halt_message, internal, revert_err, server_err},
    EthApi,
};
use crate::chain::SharedChain;
use crate::create_collision::{StorageCollisionGuard, StorageOnlyAccounts};

/// Gas of a plain value transfer.
const TRANSFER_GAS: u64 = 21_000;
/// Call stipend added to the optimistic estimate (Geth's `params.CallStipend`).
const CALL_STIPEND: u64 = 2_300;
/// Estimation stops once `(hi - lo) / hi` is below this ratio (Geth: 1.5%).
const ESTIMATE_ERROR_RATIO: f64 = 0.015;

/// The database of an RPC execution: the block's state (through the head read cache when it
/// is the head's) behind a write cache that takes overrides and keeps loaded accounts across
/// repeated runs.
pub(crate) type CallDb = CacheDB<CachedView>;

/// Everything needed to execute a request: state, environment and transaction.
#[derive(Debug)]
pub struct PreparedCall {
    /// State after the requested block, with overrides applied.
    pub db: CallDb,
    /// Block and configuration environment.
    pub env: EvmEnv<SpecId>,
    /// The chain's EIP-7610 storage collision targets.
    pub collision_targets: StorageOnlyAccounts,
    /// The transaction.
    pub tx: TxEnv,
    /// Whether the request named a gas limit.
    pub gas_given: bool,
    /// Gas limit of the block the call runs on (before any raise for the call's own limit).
    pub block_gas_limit: u64,
}

fn has_fees(request: &TransactionRequest) -> bool {
    let nonzero = |v: Option<u128>| v.is_some_and(|v| v != 0);
    request.gas_price.is_some()
        || nonzero(request.max_fee_per_gas)
        || nonzero(request.max_priority_fee_per_gas)
}

/// Gas the sender can pay for at `tx.gas_price` after sending `tx.value`.
fn gas_allowance(db: &mut CallDb, tx: &TxEnv) -> Result<u64, ErrorObjectOwned> {
    if tx.gas_price == 0 {
        return Ok(u64::MAX);
    }
    let balance = db
        .basic(tx.caller)
        .map_err(internal)?
        .map(|a| a.balance)
        .unwrap_or_default();
    let available = balance
        .checked_sub(tx.value)
        .ok_or_else(|| server_err("insufficient funds for transfer"))?;
    Ok((available / U256::from(tx.gas_price)).saturating_to())
}

impl EthApi {
    /// Prepares `request` for execution on top of block `block`.
    pub fn prepare_call(
        &self,
        mut request: TransactionRequest,
        block: BlockId,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<BlockOverrides>,
    ) -> Result<PreparedCall, ErrorObjectOwned> {
        let (resolved, view, schedule, collision_targets) = {
            let chain = self.chain().lock();
            let resolved = EthApi::resolve_block(&chain, block)?;
            let view = EthApi::view_of(&chain, &resolved)?;
            let view = if resolved.hash == chain.head().1 {
                self.head_cache.view(view, resolved.hash)
            } else {
                CachedView::uncached(view)
            };
            (
                resolved,
                view,
                *chain.schedule(),
                chain.collision_targets().clone(),
            )
        };
        let mut env = block_evm_env(&schedule, &resolved.header);
        env.cfg_env.disable_nonce_check = true;
        let mut db = CacheDB::new(view);
        if let Some(overrides) = block_overrides {
            apply_block_overrides(overrides, &mut db, &mut env.block_env);
        }
        if let Some(overrides) = state_overrides {
            apply_state_overrides(overrides, &mut db)
                .map_err(|e| server_err(format!("invalid state override: {e}")))?;
        }
        if !has_fees(&request) {
            env.block_env.basefee = 0;
            request.max_fee_per_gas = None;
            request.max_priority_fee_per_gas = None;
        }
        let gas_cap = self.config().gas_cap;
        let gas_given = request.gas.is_some();
        if let Some(gas) = request.gas {
            request.gas = Some(gas.min(gas_cap));
        }
        if request.nonce.is_none() {
            if let Some(from) = request.from {
                request.nonce = Some(
                    db.basic(from)
                        .map_err(internal)?
                        .map(|a| a.nonce)
                        .unwrap_or_default(),
                );
            }
        }
        let mut tx: TxEnv = request
            .try_into_tx_env(&env)
            .map_err(|e| server_err(e.to_string()))?;
        if !gas_given {
            let allowance = gas_allowance(&mut db, &tx)?;
            tx.gas_limit = gas_cap.min(allowance);
        }
        let block_gas_limit = env.block_env.gas_limit;
        // Calls may ask for more gas than a block holds (Geth does not check), but revm does.
        env.block_env.gas_limit = env.block_env.gas_limit.max(tx.gas_limit);
        Ok(PreparedCall {
            db,
            env,
            collision_targets,
            tx,
            gas_given,
            block_gas_limit,
        })
    }
}

/// The EVM of RPC execution: `I` next to the chain's EIP-7610 guard.
pub(crate) type RpcEvm<'a, I> = EthEvm<&'a mut CallDb, (StorageCollisionGuard, I), PrecompilesMap>;

/// An EVM for RPC execution on `db`: `inspector` next to the chain's EIP-7610 guard. The
/// inspectors run when `inspect` is set or when the guard can act on this chain.
pub(crate) fn rpc_evm<'a, I: Inspector<EthEvmContext<&'a mut CallDb>>>(
    db: &'a mut CallDb,
    env: &EvmEnv<SpecId>,
    collision_targets: &StorageOnlyAccounts,
    inspector: I,
    inspect: bool,
) -> RpcEvm<'a, I> {
    let guard = StorageCollisionGuard::new(collision_targets.clone());
    let enabled = inspect || guard.is_active();
    let mut evm =
        EthEvmFactory::default().create_evm_with_inspector(db, env.clone(), (guard, inspector));
    evm.set_inspector_enabled(enabled);
    evm
}

/// Runs `tx` on an EVM made by [`rpc_evm`] without committing; a state read that failed in the
/// EIP-7610 guard is an internal error.
pub(crate) fn run_tx<'a, I: Inspector<EthEvmContext<&'a mut CallDb>>>(
    evm: &mut RpcEvm<'a, I>,
    tx: TxEnv,
) -> Result<ResultAndState, ErrorObjectOwned> {
    let result = evm.transact(tx).map_err(evm_err);
    if let Some(e) = evm.inspector_mut().0.take_error() {
        return Err(internal(e));
    }
    result
}

/// Runs `tx` without committing.
pub(crate) fn transact(
    db: &mut CallDb,
    env: &EvmEnv<SpecId>,
    collision_targets: &StorageOnlyAccounts,
    tx: TxEnv,
) -> Result<ExecutionResult, ErrorObjectOwned> {
    let mut evm = rpc_evm(db, env, collision_targets, NoOpInspector, false);
    run_tx(&mut evm, tx).map(|r| r.result)
}

/// The output of a finished execution, or Geth's error for a revert or halt.
pub(crate) fn output_or_error(
    result: ExecutionResult,
    gas_limit: u64,
) -> Result<Bytes, ErrorObjectOwned> {
    match result {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        ExecutionResult::Revert { output, .. } => Err(revert_err(&output)),
        ExecutionResult::Halt { reason, .. } => Err(server_err(halt_message(&reason, gas_limit))),
    }
}

type CallParams = (
    TransactionRequest,
    BlockId,
    Option<StateOverride>,
    Option<BlockOverrides>,
);

fn call_params(params: Params) -> Result<CallParams, ErrorObjectOwned> {
    let mut seq = params.sequence();
    let request: TransactionRequest = seq.next()?;
    let block: Option<BlockId> = seq.optional_next()?;
    let state: Option<StateOverride> = seq.optional_next()?;
    let block_overrides: Option<BlockOverrides> = seq.optional_next()?;
    Ok((request, block.unwrap_or_default(), state, block_overrides))
}

impl EthApi {
    /// `eth_call`.
    pub fn call(&self, params: Params) -> Result<Bytes, ErrorObjectOwned> {
        let (request, block, state, block_overrides) = call_params(params)?;
        let mut prepared = self.prepare_call(request, block, state, block_overrides)?;
        let gas = prepared.tx.gas_limit;
        let result = transact(
            &mut prepared.db,
            &prepared.env,
            &prepared.collision_targets,
            prepared.tx,
        )?;
        output_or_error(result, gas)
    }

    /// `eth_estimateGas`.
    pub fn estimate_gas(&self, params: Params) -> Result<U64, ErrorObjectOwned> {
        let (request, block, state, _) = call_params(params)?;
        let mut prepared = self.prepare_call(request, block, state, None)?;
        estimate(&mut prepared).map(U64::from)
    }

    /// `eth_createAccessList`.
    pub fn create_access_list(&self, params: Params) -> Result<AccessListResult, ErrorObjectOwned> {
        let mut seq = params.sequence();
        let request: TransactionRequest = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        let mut prepared = self.prepare_call(request, block.unwrap_or_default(), None, None)?;
        let mut list = prepared.tx.access_list.clone();
        // Geth iterates until the list stops changing (adding entries changes gas and may
        // change the path taken); bounded to be safe.
        for _ in 0..8 {
            let mut tx = prepared.tx.clone();
            tx.access_list = list.clone();
            let inspector = AccessListInspector::new(list.clone());
            let mut evm = rpc_evm(
                &mut prepared.db,
                &prepared.env,
                &prepared.collision_targets,
                inspector,
                true,
            );
            let result = run_tx(&mut evm, tx)?.result;
            let found: AccessList = evm.inspector().1.access_list();
            if found == list {
                let error = match &result {
                    ExecutionResult::Success { .. } => None,
                    ExecutionResult::Revert { output, .. } => {
                        Some(revert_err(output).message().to_string())
                    }
                    ExecutionResult::Halt { reason, .. } => {
                        Some(halt_message(reason, prepared.tx.gas_limit))
                    }
                };
                return Ok(AccessListResult {
                    access_list: found,
                    gas_used: U256::from(result.tx_gas_used()),
                    error,
                });
            }
            list = found;
        }
        Err(server_err("access list did not converge"))
    }
}

/// Geth's gas estimation on a prepared call.
pub(crate) fn estimate(prepared: &mut PreparedCall) -> Result<u64, ErrorObjectOwned> {
    let env = prepared.env.clone();
    let targets = prepared.collision_targets.clone();
    let base = prepared.tx.clone();
    let db = &mut prepared.db;
    let mut hi = if prepared.gas_given && base.gas_limit >= TRANSFER_GAS {
        base.gas_limit
    } else {
        prepared.block_gas_limit
    };
    hi = hi.min(gas_allowance(db, &base)?);
    let run = |db: &mut CallDb, gas: u64| -> Result<ExecutionResult, ErrorObjectOwned> {
        let mut tx = base.clone();
        tx.gas_limit = gas;
        transact(db, &env, &targets, tx)
    };
    // A plain transfer to an account without code costs exactly 21000.
    if base.data.is_empty() && hi >= TRANSFER_GAS {
        if let TxKind::Call(to) = base.kind {
            if code_hash(db, to)?.is_none() && run(db, TRANSFER_GAS)?.is_success() {
                return Ok(TRANSFER_GAS);
            }
        }
    }
    let first = run(db, hi)?;
    let (used, refunded) = match &first {
        ExecutionResult::Success { gas, .. } => (gas.tx_gas_used(), gas.inner_refunded()),
        ExecutionResult::Revert { output, .. } => return Err(revert_err(output)),
        ExecutionResult::Halt { reason, .. } => {
            return Err(match reason {
                HaltReason::OutOfGas(_) => {
                    server_err(format!("gas required exceeds allowance ({hi})"))
                }
                other => server_err(halt_message(other, hi)),
            })
        }
    };
    let mut lo = used.saturating_sub(1);
    let optimistic = (used + refunded + CALL_STIPEND) * 64 / 63;
    if optimistic < hi {
        match run(db, optimistic) {
            Ok(r) if r.is_success() => hi = optimistic,
            _ => lo = optimistic,
        }
    }
    while lo + 1 < hi {
        if ((hi - lo) as f64 / hi as f64) < ESTIMATE_ERROR_RATIO {
            break;
        }
        let mut mid = lo + (hi - lo) / 2;
        if mid > lo.saturating_mul(2) {
            // Most transactions need little more than they use: probe low first.
            mid = lo.saturating_mul(2);
        }
        match run(db, mid) {
            Ok(r) if r.is_success() => hi = mid,
            // Failures, including a limit below the intrinsic cost refused before execution.
            _ => lo = mid,
        }
    }
    Ok(hi)
}

/// Code hash of `address` in `db`, `None` for an account without code.
fn code_hash(
    db: &mut CallDb,
    address: alloy_primitives::Address,
) -> Result<Option<alloy_primitives::B256>, ErrorObjectOwned> {
    Ok(db
        .basic(address)
        .map_err(internal)?
        .map(|a| a.code_hash)
        .filter(|h| *h != alloy::consensus::constants::KECCAK_EMPTY && !h.is_zero()))
}

/// Registers `eth_call`, `eth_estimateGas` and `eth_createAccessList`.
pub(crate) fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    blocking(module, api, "eth_call", |api, p| api.call(p));
    blocking(module, api, "eth_estimateGas", |api, p| api.estimate_gas(p));
    blocking(module, api, "eth_createAccessList", |api, p| {
        api.create_access_list(p)
    });
}
