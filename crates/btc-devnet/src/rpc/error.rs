//! Bitcoin Core's RPC error codes and the mapping of node and chain failures to them
//! ([`RpcError`] is the shared JSON-RPC error).

use super::*;

pub use alys_json_rpc_http::RpcError;

/// RPC_METHOD_DEPRECATED.
pub const RPC_METHOD_DEPRECATED: i64 = -32;
/// RPC_MISC_ERROR.
pub const RPC_MISC_ERROR: i64 = -1;
/// RPC_TYPE_ERROR.
pub const RPC_TYPE_ERROR: i64 = -3;
/// RPC_WALLET_ERROR.
pub const RPC_WALLET_ERROR: i64 = -4;
/// RPC_INVALID_ADDRESS_OR_KEY.
pub const RPC_INVALID_ADDRESS_OR_KEY: i64 = -5;
/// RPC_WALLET_INSUFFICIENT_FUNDS.
pub const RPC_WALLET_INSUFFICIENT_FUNDS: i64 = -6;
/// RPC_INVALID_PARAMETER.
pub const RPC_INVALID_PARAMETER: i64 = -8;
/// RPC_DESERIALIZATION_ERROR.
pub const RPC_DESERIALIZATION_ERROR: i64 = -22;
/// RPC_VERIFY_ERROR.
pub const RPC_VERIFY_ERROR: i64 = -25;
/// RPC_VERIFY_REJECTED.
pub const RPC_VERIFY_REJECTED: i64 = -26;
/// RPC_VERIFY_ALREADY_IN_CHAIN.
pub const RPC_VERIFY_ALREADY_IN_CHAIN: i64 = -27;
/// RPC_METHOD_NOT_FOUND.
pub const RPC_METHOD_NOT_FOUND: i64 = alys_json_rpc_http::METHOD_NOT_FOUND;

pub(super) fn node_err(e: NodeError) -> RpcError {
    match e {
        NodeError::Reject(r) => reject_err(&r),
        NodeError::Fund(FundError::InsufficientFunds) => {
            RpcError::new(RPC_WALLET_INSUFFICIENT_FUNDS, "Insufficient funds")
        }
        NodeError::Fund(f) => RpcError::new(RPC_WALLET_ERROR, f.to_string()),
        NodeError::Store(s) => RpcError::new(RPC_MISC_ERROR, s.to_string()),
    }
}

pub(super) fn reject_err(r: &chain::Reject) -> RpcError {
    match r.kind {
        RejectKind::MissingInputs => RpcError::new(RPC_VERIFY_ERROR, r.reason.clone()),
        RejectKind::AlreadyInChain => RpcError::new(
            RPC_VERIFY_ALREADY_IN_CHAIN,
            "Transaction outputs already in utxo set",
        ),
        RejectKind::Invalid | RejectKind::AlreadyInMempool => {
            RpcError::new(RPC_VERIFY_REJECTED, r.reason.clone())
        }
    }
}
