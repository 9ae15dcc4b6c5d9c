//! The consensus layer's only interface to an execution client.
//!
//! This crate owns:
//! - [`ExecutionEngine`], the seam between consensus and any execution client (Geth, Reth or
//!   the embedded EL, which all serve the Engine API over HTTP);
//! - [`HttpEngineClient`], the Engine API (Cancun, `V3` methods) JSON-RPC client, which sends a
//!   freshly minted JWT (`iat = now`) with every request and retries transport failures, and
//!   reads block receipts from the execution client's eth JSON-RPC (`receipts`);
//! - [`EngineError`], with one typed variant per Engine API error code;
//! - JWT secret file handling ([`load_jwt_secret`], [`load_or_create_jwt_secret`]).
//!
//! `PayloadStatus` values `INVALID`, `SYNCING` and `ACCEPTED` are successful responses, not
//! errors: the caller decides what they mean.

mod client;
mod error;
mod jwt;
mod receipts;

use std::future::Future;

pub use alloy::rpc::types::engine::{
    ClientVersionV1, ExecutionPayloadBodyV1, ExecutionPayloadEnvelopeV3, ExecutionPayloadV3,
    ForkchoiceState, ForkchoiceUpdated, JwtSecret, PayloadAttributes, PayloadId, PayloadStatus,
    PayloadStatusEnum,
};
pub use alloy::rpc::types::TransactionReceipt;
pub use alloy_primitives::B256;
pub use client::{methods, ClientVersion, EngineClientConfig, HttpEngineClient, CAPABILITIES};
pub use error::{codes, EngineError};
pub use jwt::{load_jwt_secret, load_or_create_jwt_secret, JWT_SECRET_LEN};

/// The seam between consensus and any execution client.
///
/// Implementations return `Ok` for every well-formed Engine API response, including
/// `INVALID`/`SYNCING`/`ACCEPTED` payload statuses; `Err` means the call itself failed.
pub trait ExecutionEngine: Send + Sync + 'static {
    /// Updates the fork choice and, with `attributes`, starts building a payload on the new head.
    fn forkchoice_updated(
        &self,
        state: ForkchoiceState,
        attributes: Option<PayloadAttributes>,
    ) -> impl Future<Output = Result<ForkchoiceUpdated, EngineError>> + Send;

    /// Fetches the payload being built under `id`.
    fn get_payload(
        &self,
        id: PayloadId,
    ) -> impl Future<Output = Result<ExecutionPayloadEnvelopeV3, EngineError>> + Send;

    /// Submits a payload for validation and execution.
    fn new_payload(
        &self,
        payload: ExecutionPayloadV3,
        versioned_hashes: Vec<B256>,
        parent_beacon_block_root: B256,
    ) -> impl Future<Output = Result<PayloadStatus, EngineError>> + Send;

    /// The receipts of the executed block `block_hash` (number `block_number`), whose
    /// transactions are `tx_hashes` in order (`None` if the client does not give them). Consensus uses them for the priority fees
    /// it re-mints (DESIGN §4 "Fees"). The Engine API does not define such a method: the HTTP
    /// client reads `eth_getBlockReceipts` (or `eth_getTransactionReceipt`) from the execution
    /// client's eth JSON-RPC. Default: not supported.
    fn block_receipts(
        &self,
        block_hash: B256,
        block_number: u64,
        tx_hashes: &[B256],
    ) -> impl Future<Output = Result<Option<Vec<TransactionReceipt>>, EngineError>> + Send {
        let _ = (block_hash, block_number, tx_hashes);
        async {
            Err(EngineError::MethodNotFound(
                methods::GET_BLOCK_RECEIPTS.into(),
            ))
        }
    }
}
