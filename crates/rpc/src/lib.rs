//! The node's JSON-RPC server (default port 3000).
//!
//! Speaks JSON-RPC 1.0 (as Bitcoin and Namecoin Core do, which pools expect) and 2.0 over HTTP
//! POST, positional or named params, with HTTP Basic authentication and a body size cap. This
//! crate owns the transport and the method table; each group of methods (chain queries here,
//! miner and peg methods later) registers its handlers.

mod chain_methods;
mod server;

pub use chain_methods::{register_chain_methods, ChainView};
pub use server::{Credentials, Methods, RpcError, RpcServer, MAX_BODY_BYTES};
