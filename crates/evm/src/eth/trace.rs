//! `debug_traceTransaction` and `debug_traceCall`.

use std::sync::Arc;

use jsonrpsee::RpcModule;

use super::EthApi;
use crate::engine_api::SharedChain;

/// Registers the tracing methods.
pub fn register(_module: &mut RpcModule<SharedChain>, _api: &Arc<EthApi>) {}
