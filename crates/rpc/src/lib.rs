//! The node's JSON-RPC server (default port 3000).
//!
//! Speaks JSON-RPC 1.0 (as Bitcoin and Namecoin Core do, which pools expect) and 2.0 over HTTP
//! POST, positional or named params, with HTTP Basic authentication and a body size cap (the
//! read-only peg methods optionally without credentials, for the peg web page), over
//! the transport of `alys-json-rpc-http`. This crate owns the method table; each group of
//! methods (chain queries, the Namecoin-compatible miner methods, the peg methods) registers
//! its handlers.

mod chain_methods;
mod miner_methods;
mod peg_methods;
mod pegout_methods;
mod server;

pub use alys_json_rpc_http::{ConnectionLimits, Credentials, PublicAccess, RpcError};
pub use chain_methods::{register_chain_methods, ChainView, NetworkSummary};
pub use miner_methods::{register_miner_methods, MinerView, MAX_JOBS, MAX_JOB_HEAD_LAG};
pub use peg_methods::{peg_read_access, register_peg_methods, PegView, PEG_READ_METHODS};
pub use pegout_methods::{register_pegout_methods, PayoutProgress, PegOutView, MAX_LISTED_PEGOUTS};
pub use server::{Methods, RpcServer, DEFAULT_LIMITS, MAX_BODY_BYTES};
