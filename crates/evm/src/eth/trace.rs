//! Geth-style tracing with revm-inspectors: `debug_traceTransaction`, `debug_traceCall`,
//! `debug_traceBlockByNumber` and `debug_traceBlockByHash`.
//!
//! Tracers: the default struct logger, `callTracer`, `prestateTracer` (with `diffMode`),
//! `4byteTracer` and `noopTracer`. JavaScript tracers are not supported.
//!
//! A mined transaction is traced by replaying its block on the parent's state: the pre-block
//! system calls (EIP-4788), then every earlier transaction of the block, then the transaction
//! itself under the inspector.

use std::sync::Arc;

use alloy::consensus::{transaction::SignerRecoverable, TxEnvelope};
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::rpc::types::{
    trace::geth::{
        FourByteFrame, GethDebugBuiltInTracerType, GethDebugTracerType,
        GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, NoopFrame, TraceResult,
    },
    TransactionRequest,
};
use alloy_evm::{
    block::system_calls::SystemCaller, EthEvmFactory, Evm, EvmEnv, EvmFactory, FromRecoveredTx,
};
use alloy_primitives::B256;
use jsonrpsee::{
    types::{ErrorObjectOwned, Params},
    RpcModule,
};
use revm::{
    context::TxEnv, database::CacheDB, inspector::NoOpInspector, primitives::hardfork::SpecId,
    DatabaseCommit,
};
use revm_inspectors::tracing::{FourByteInspector, TracingInspector, TracingInspectorConfig};

use super::{
    blocking,
    cache::CachedView,
    call::{rpc_evm, run_tx, CallDb},
    env::block_evm_env,
    errors::{internal, invalid_params, server_err},
    EthApi,
};
use crate::chain::SharedChain;
use crate::create_collision::StorageOnlyAccounts;

/// Most transactions `debug_traceBlock*` traces in one request.
pub(crate) const MAX_BLOCK_TRACE_TXS: usize = 2_000;

fn bad_config(e: serde_json::Error) -> ErrorObjectOwned {
    invalid_params(format!("invalid tracer config: {e}"))
}

/// Runs `tx` on `db` under the tracer chosen by `opts` (without committing).
pub(crate) fn trace_tx(
    db: &mut CallDb,
    env: &EvmEnv<SpecId>,
    collision_targets: &StorageOnlyAccounts,
    tx: TxEnv,
    opts: GethDebugTracingOptions,
) -> Result<GethTrace, ErrorObjectOwned> {
    let gas_limit = tx.gas_limit;
    let GethDebugTracingOptions {
        config,
        tracer,
        tracer_config,
        ..
    } = opts;
    let tracer = match tracer {
        None => {
            let inspector =
                TracingInspector::new(TracingInspectorConfig::from_geth_config(&config));
            let mut evm = rpc_evm(db, env, collision_targets, inspector, true);
            let result = run_tx(&mut evm, tx)?.result;
            let output = result.output().cloned().unwrap_or_default();
            let inspector = std::mem::replace(
                &mut evm.inspector_mut().1,
                TracingInspector::new(TracingInspectorConfig::none()),
            );
            let frame = inspector
                .with_transaction_gas_limit(gas_limit)
                .into_geth_builder()
                .geth_traces(result.tx_gas_used(), output, config);
            return Ok(GethTrace::Default(frame));
        }
        Some(GethDebugTracerType::JsTracer(_)) => {
            return Err(server_err("JavaScript tracers are not supported"))
        }
        Some(GethDebugTracerType::BuiltInTracer(t)) => t,
    };
    match tracer {
        GethDebugBuiltInTracerType::CallTracer => {
            let call_config = tracer_config.into_call_config().map_err(bad_config)?;
            let inspector =
                TracingInspector::new(TracingInspectorConfig::from_geth_call_config(&call_config));
            let mut evm = rpc_evm(db, env, collision_targets, inspector, true);
            let result = run_tx(&mut evm, tx)?.result;
            let inspector = std::mem::replace(
                &mut evm.inspector_mut().1,
                TracingInspector::new(TracingInspectorConfig::none()),
            );
            let frame = inspector
                .with_transaction_gas_limit(gas_limit)
                .into_geth_builder()
                .geth_call_traces(call_config, result.tx_gas_used());
            Ok(GethTrace::CallTracer(frame))
        }
        GethDebugBuiltInTracerType::PreStateTracer => {
            let prestate = tracer_config.into_pre_state_config().map_err(bad_config)?;
            let inspector =
                TracingInspector::new(TracingInspectorConfig::from_geth_prestate_config(&prestate));
            let mut evm = rpc_evm(&mut *db, env, collision_targets, inspector, true);
            let res = run_tx(&mut evm, tx)?;
            let inspector = std::mem::replace(
                &mut evm.inspector_mut().1,
                TracingInspector::new(TracingInspectorConfig::none()),
            );
            drop(evm);
            let frame = inspector
                .with_transaction_gas_limit(gas_limit)
                .into_geth_builder()
                .geth_prestate_traces(&res, &prestate, &*db)
                .map_err(internal)?;
            Ok(GethTrace::PreStateTracer(frame))
        }
        GethDebugBuiltInTracerType::FourByteTracer => {
            let mut evm = rpc_evm(
                db,
                env,
                collision_targets,
                FourByteInspector::default(),
                true,
            );
            run_tx(&mut evm, tx)?;
            Ok(GethTrace::FourByteTracer(FourByteFrame::from(
                &evm.inspector().1,
            )))
        }
        GethDebugBuiltInTracerType::NoopTracer => {
            let mut evm = rpc_evm(db, env, collision_targets, NoOpInspector, false);
            run_tx(&mut evm, tx)?;
            Ok(GethTrace::NoopTracer(NoopFrame::default()))
        }
        other => Err(server_err(format!("tracer {other:?} is not supported"))),
    }
}

/// A block replayed up to some transaction: state and environment, plus the block's
/// transactions with senders.
struct Replay {
    db: CallDb,
    env: EvmEnv<SpecId>,
    collision_targets: StorageOnlyAccounts,
    txs: Vec<(B256, TxEnv)>,
}

impl EthApi {
    /// Loads block `hash` and its parent state, applies the pre-block system calls.
    fn replay_block(&self, hash: B256) -> Result<Replay, ErrorObjectOwned> {
        let (header, body, view, schedule, collision_targets) = {
            let chain = self.chain().lock();
            let (header, body) = chain
                .block(&hash)
                .map_err(internal)?
                .ok_or_else(|| server_err(format!("block {hash} not found")))?;
            if header.number == 0 {
                return Err(server_err("genesis is not traceable"));
            }
            let view = chain.state_at(header.parent_hash).map_err(internal)?;
            (
                header,
                body,
                view,
                *chain.schedule(),
                chain.collision_targets().clone(),
            )
        };
        let env = block_evm_env(&schedule, &header);
        let mut db = CacheDB::new(CachedView::uncached(view));
        {
            let mut evm = EthEvmFactory::default().create_evm(&mut db, env.clone());
            SystemCaller::new(schedule)
                .apply_pre_execution_changes(&header, &mut evm)
                .map_err(|e| internal(format!("pre-block system call: {e}")))?;
        }
        let txs = body
            .transactions
            .iter()
            .map(|tx: &TxEnvelope| {
                let sender = tx.recover_signer().map_err(internal)?;
                Ok((*tx.tx_hash(), TxEnv::from_recovered_tx(tx, sender)))
            })
            .collect::<Result<Vec<_>, ErrorObjectOwned>>()?;
        Ok(Replay {
            db,
            env,
            collision_targets,
            txs,
        })
    }

    /// `debug_traceTransaction`.
    pub fn trace_transaction(&self, params: Params) -> Result<GethTrace, ErrorObjectOwned> {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let opts: Option<GethDebugTracingOptions> = seq.optional_next()?;
        let location = self
            .chain()
            .lock()
            .db()
            .tx_location(&hash)
            .map_err(internal)?;
        let Some((block_hash, index)) = location else {
            return Err(server_err("transaction not found"));
        };
        let mut replay = self.replay_block(block_hash)?;
        let index = index as usize;
        let target = replay
            .txs
            .get(index)
            .map(|(_, tx)| tx.clone())
            .ok_or_else(|| server_err("transaction not found"))?;
        {
            let mut evm = rpc_evm(
                &mut replay.db,
                &replay.env,
                &replay.collision_targets,
                NoOpInspector,
                false,
            );
            for (_, tx) in replay.txs.iter().take(index) {
                let res = run_tx(&mut evm, tx.clone())?;
                evm.db_mut().commit(res.state);
            }
        }
        trace_tx(
            &mut replay.db,
            &replay.env,
            &replay.collision_targets,
            target,
            opts.unwrap_or_default(),
        )
    }

    /// `debug_traceBlockByNumber` / `debug_traceBlockByHash`.
    pub fn trace_block(
        &self,
        block: BlockId,
        opts: Option<GethDebugTracingOptions>,
    ) -> Result<Vec<TraceResult>, ErrorObjectOwned> {
        let hash = {
            let chain = self.chain().lock();
            EthApi::resolve_block(&chain, block)?.hash
        };
        let mut replay = self.replay_block(hash)?;
        if replay.txs.len() > MAX_BLOCK_TRACE_TXS {
            return Err(server_err(format!(
                "block has more than {MAX_BLOCK_TRACE_TXS} transactions; trace them one by one"
            )));
        }
        let opts = opts.unwrap_or_default();
        let mut out = Vec::with_capacity(replay.txs.len());
        for (tx_hash, tx) in std::mem::take(&mut replay.txs) {
            let trace = trace_tx(
                &mut replay.db,
                &replay.env,
                &replay.collision_targets,
                tx.clone(),
                opts.clone(),
            )?;
            out.push(TraceResult::Success {
                result: trace,
                tx_hash: Some(tx_hash),
            });
            let mut evm = rpc_evm(
                &mut replay.db,
                &replay.env,
                &replay.collision_targets,
                NoOpInspector,
                false,
            );
            let res = run_tx(&mut evm, tx)?;
            evm.db_mut().commit(res.state);
        }
        Ok(out)
    }

    /// `debug_traceCall`.
    pub fn trace_call(&self, params: Params) -> Result<GethTrace, ErrorObjectOwned> {
        let mut seq = params.sequence();
        let request: TransactionRequest = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        let opts: Option<GethDebugTracingCallOptions> = seq.optional_next()?;
        let opts = opts.unwrap_or_default();
        let mut prepared = self.prepare_call(
            request,
            block.unwrap_or_default(),
            opts.state_overrides,
            opts.block_overrides,
        )?;
        trace_tx(
            &mut prepared.db,
            &prepared.env,
            &prepared.collision_targets,
            prepared.tx,
            opts.tracing_options,
        )
    }
}

/// Registers the tracing methods.
pub(crate) fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    blocking(module, api, "debug_traceTransaction", |api, p| {
        api.trace_transaction(p)
    });
    blocking(module, api, "debug_traceCall", |api, p| api.trace_call(p));
    blocking(module, api, "debug_traceBlockByNumber", |api, params| {
        let mut seq = params.sequence();
        let tag: BlockNumberOrTag = seq.next()?;
        let opts: Option<GethDebugTracingOptions> = seq.optional_next()?;
        api.trace_block(BlockId::Number(tag), opts)
    });
    blocking(module, api, "debug_traceBlockByHash", |api, params| {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let opts: Option<GethDebugTracingOptions> = seq.optional_next()?;
        api.trace_block(BlockId::from(hash), opts)
    });
}
