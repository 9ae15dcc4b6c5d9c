//! The Engine API server (execution-apis, Cancun): the methods the consensus client calls,
//! with the spec's error codes. Mounted behind [`crate::auth::jwt_auth_layer`].

use alloy::eips::BlockNumberOrTag;
use alloy::rpc::types::engine::{
    CancunPayloadFields, ExecutionPayload, ExecutionPayloadBodyV1, ExecutionPayloadSidecar,
    ExecutionPayloadV3, ForkchoiceState, PayloadAttributes, PayloadId,
};
use alloy_primitives::{B256, U64};
use jsonrpsee::{
    types::{ErrorObject, ErrorObjectOwned, Params},
    RpcModule,
};

use crate::{
    chain::{Chain, ForkchoiceError, SharedChain},
    eth::receipts::block_receipts,
    eth_common::{block_by_hash, block_by_number},
};

/// Spec error code: unknown payload.
pub(crate) const UNKNOWN_PAYLOAD: i32 = -38001;
/// Spec error code: invalid forkchoice state.
pub(crate) const INVALID_FORKCHOICE_STATE: i32 = -38002;
/// Spec error code: invalid payload attributes.
pub(crate) const INVALID_PAYLOAD_ATTRIBUTES: i32 = -38003;
/// Spec error code: too large request.
pub(crate) const TOO_LARGE_REQUEST: i32 = -38004;
/// Spec error code: unsupported fork.
pub(crate) const UNSUPPORTED_FORK: i32 = -38005;
/// Spec error code: invalid params.
pub(crate) const INVALID_PARAMS: i32 = -32602;
/// Spec error code: internal error.
pub(crate) const INTERNAL_ERROR: i32 = -32603;

/// Maximum bodies per `getPayloadBodies*` request.
pub(crate) const MAX_PAYLOAD_BODIES: u64 = 1024;

/// Methods served on the authenticated port.
pub(crate) const ENGINE_METHODS: &[&str] = &[
    "engine_exchangeCapabilities",
    "engine_forkchoiceUpdatedV3",
    "engine_getPayloadV3",
    "engine_newPayloadV3",
    "engine_getPayloadBodiesByHashV1",
    "engine_getPayloadBodiesByRangeV1",
    "engine_getClientVersionV1",
];

fn err(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(code, message.into(), None::<()>)
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    err(INTERNAL_ERROR, e.to_string())
}

/// This client's version (`engine_getClientVersionV1`); `AL` is this client's two-letter code.
pub(crate) fn client_version() -> serde_json::Value {
    serde_json::json!({
        "code": "AL",
        "name": "alys-el",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": "0x00000000",
    })
}

fn body_of(chain: &Chain, hash: &B256) -> Result<Option<ExecutionPayloadBodyV1>, ErrorObjectOwned> {
    Ok(chain
        .block(hash)
        .map_err(internal)?
        .map(|(_, body)| ExecutionPayloadBodyV1 {
            transactions: body
                .transactions
                .iter()
                .map(|t| {
                    use alloy::eips::Encodable2718;
                    t.encoded_2718().into()
                })
                .collect(),
            withdrawals: Some(body.withdrawals),
        }))
}

/// Builds the Engine API module over `chain`.
pub(crate) fn engine_module(chain: SharedChain) -> RpcModule<SharedChain> {
    let mut module = RpcModule::new(chain);
    let reg = |r: Result<_, jsonrpsee::core::RegisterMethodError>| {
        if let Err(e) = r {
            tracing::error!("duplicate RPC method registration: {e}");
        }
    };
    reg(module
        .register_method("engine_exchangeCapabilities", |params: Params, _, _| {
            let _theirs: Vec<String> = params.one()?;
            Ok::<_, ErrorObjectOwned>(
                ENGINE_METHODS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            )
        })
        .map(|_| ()));
    reg(module
        .register_method("engine_getClientVersionV1", |params: Params, _, _| {
            let _theirs: serde_json::Value = params.one()?;
            Ok::<_, ErrorObjectOwned>(vec![client_version()])
        })
        .map(|_| ()));
    reg(module
        .register_blocking_method("engine_newPayloadV3", |params: Params, chain, _| {
            let (payload, hashes, root): (ExecutionPayloadV3, Vec<B256>, B256) = params.parse()?;
            let mut chain = chain.lock();
            if !chain
                .schedule()
                .is_cancun(payload.payload_inner.payload_inner.timestamp)
            {
                return Err(err(UNSUPPORTED_FORK, "payload timestamp is before Cancun"));
            }
            let sidecar = ExecutionPayloadSidecar::v3(CancunPayloadFields {
                parent_beacon_block_root: root,
                versioned_hashes: hashes,
            });
            chain
                .new_payload(ExecutionPayload::V3(payload), sidecar)
                .map_err(internal)
        })
        .map(|_| ()));
    reg(module
        .register_blocking_method("engine_forkchoiceUpdatedV3", |params: Params, chain, _| {
            let mut seq = params.sequence();
            let state: ForkchoiceState = seq.next()?;
            let attrs: Option<PayloadAttributes> = seq.optional_next()?;
            chain
                .lock()
                .forkchoice_updated(state, attrs)
                .map_err(|e| match e {
                    ForkchoiceError::InvalidState(m) => err(INVALID_FORKCHOICE_STATE, m),
                    ForkchoiceError::InvalidAttributes(m) => err(INVALID_PAYLOAD_ATTRIBUTES, m),
                    ForkchoiceError::UnsupportedFork(m) => err(UNSUPPORTED_FORK, m),
                    ForkchoiceError::InvalidParams(m) => err(INVALID_PARAMS, m),
                    ForkchoiceError::Chain(e) => internal(e),
                })
        })
        .map(|_| ()));
    reg(module
        .register_method("engine_getPayloadV3", |params: Params, chain, _| {
            let id: PayloadId = params.one()?;
            chain
                .lock()
                .get_payload(id)
                .ok_or_else(|| err(UNKNOWN_PAYLOAD, "Unknown payload"))
        })
        .map(|_| ()));
    reg(module
        .register_method(
            "engine_getPayloadBodiesByHashV1",
            |params: Params, chain, _| {
                let hashes: Vec<B256> = params.one()?;
                if hashes.len() as u64 > MAX_PAYLOAD_BODIES {
                    return Err(err(
                        TOO_LARGE_REQUEST,
                        format!("at most {MAX_PAYLOAD_BODIES} hashes"),
                    ));
                }
                let chain = chain.lock();
                hashes
                    .iter()
                    .map(|h| body_of(&chain, h))
                    .collect::<Result<Vec<_>, _>>()
            },
        )
        .map(|_| ()));
    reg(module
        .register_method(
            "engine_getPayloadBodiesByRangeV1",
            |params: Params, chain, _| {
                let (start, count): (U64, U64) = params.parse()?;
                let (start, count) = (start.to::<u64>(), count.to::<u64>());
                if start == 0 || count == 0 {
                    return Err(err(INVALID_PARAMS, "start and count must be at least 1"));
                }
                if count > MAX_PAYLOAD_BODIES {
                    return Err(err(
                        TOO_LARGE_REQUEST,
                        format!("at most {MAX_PAYLOAD_BODIES} bodies"),
                    ));
                }
                let chain = chain.lock();
                let head = chain.head().0.number;
                let mut out = Vec::new();
                for n in start..start.saturating_add(count) {
                    if n > head {
                        break;
                    }
                    match chain.db().canonical_hash(n).map_err(internal)? {
                        Some(h) => out.push(body_of(&chain, &h)?),
                        None => out.push(None),
                    }
                }
                Ok(out)
            },
        )
        .map(|_| ()));
    // The `eth` subset Geth serves on its authenticated port.
    reg(module
        .register_method("eth_chainId", |_, chain, _| {
            Ok::<_, ErrorObjectOwned>(U64::from(chain.lock().schedule().chain_id))
        })
        .map(|_| ()));
    reg(module
        .register_method("eth_blockNumber", |_, chain, _| {
            Ok::<_, ErrorObjectOwned>(U64::from(chain.lock().head().0.number))
        })
        .map(|_| ()));
    reg(module
        .register_method("eth_getBlockByNumber", |params: Params, chain, _| {
            let (selector, full): (BlockNumberOrTag, bool) = params.parse()?;
            block_by_number(&chain.lock(), selector, full)
        })
        .map(|_| ()));
    reg(module
        .register_method("eth_getBlockByHash", |params: Params, chain, _| {
            let (hash, full): (B256, bool) = params.parse()?;
            block_by_hash(&chain.lock(), hash, full)
        })
        .map(|_| ()));
    // Consensus reads the priority fees it re-mints from here (Geth serves it too).
    reg(module
        .register_blocking_method("eth_getBlockReceipts", |params: Params, chain, _| {
            let hash: B256 = params.one()?;
            let db = chain.lock().db().clone();
            block_receipts(&db, hash)
        })
        .map(|_| ()));
    module
}
