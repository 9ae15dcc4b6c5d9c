//! JSON-RPC 1.0 and 2.0 over HTTP POST with HTTP Basic authentication: the transport shared by
//! the node's RPC (`alys-rpc`) and the regtest devnet's Bitcoin Core-compatible RPC
//! (`alys-btc-devnet`).
//!
//! A request's path through the crate: [`serve`] accepts a connection and hands each HTTP
//! request to the server, which checks the credentials (`auth`, constant-time), the method
//! (POST only) and the body size cap, parses the JSON, and answers a single request or a batch
//! (`request`): each request object names its method and its `params` (passed on as they
//! came, so the method table decides how named parameters map to positions) and is answered
//! in the 1.0 or 2.0 envelope it was sent in (`envelope`). The methods themselves sit behind the
//! [`Dispatch`] trait. What differs between Bitcoin Core's HTTP behaviour and a plain JSON-RPC
//! server (HTTP status codes of errors, notifications, error texts) is the [`Dialect`].
//!
//! A server may also serve a few methods without credentials ([`PublicAccess`]): requests
//! without credentials, and every request from a browser (one with an `Origin` header), may
//! call only those, from the allowed origins (CORS), under a rate limit.
//!
//! `jsonrpsee` does not fit: it refuses requests without `"jsonrpc": "2.0"`, which Bitcoin
//! Core's clients and merged-mining pools send.

mod auth;
mod dialect;
mod envelope;
mod error;
mod public;
mod request;
mod server;

pub use alys_http_guard::ConnectionLimits;
pub use auth::Credentials;
pub use dialect::Dialect;
pub use error::{
    RpcError, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR,
};
pub use public::{PublicAccess, Rate, RateLimited, RateLimiter, RateLimits};
pub use server::{serve, Dispatch, Execution, ServerConfig, RATE_LIMITED};
