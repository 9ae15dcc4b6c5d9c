//! The embedded execution client.
//!
//! An Ethereum execution client built on revm: it keeps the chain's state in LevelDB, executes
//! and validates blocks with Ethereum-exact roots and hashes, builds payloads from its
//! transaction pool, and serves the Engine API (JWT) and the `eth_*` JSON-RPC. The consensus
//! side talks to it only over HTTP, exactly as it talks to Geth or Reth.
//!
//! Layers, each using only those below it: the store and trie ([`trie`], `db`, `state`);
//! execution (`execute`, `sender_recovery`, `genesis`, `header_rules`, [`forks`]); the pool
//! ([`txpool`]); the chain ([`chain`]); the RPC ([`eth`], `engine_api`, served under connection limits by `serve`); the node
//! ([`node`]).

mod auth;
pub mod chain;
mod create_collision;
mod db;
mod engine_api;
pub mod eth;
mod eth_common;
mod execute;
pub mod forks;
mod genesis;
mod header_rules;
pub mod node;
pub mod pool_metrics;
pub mod recent_blocks;
mod rlp;
mod rpc_block;
mod sender_recovery;
mod serve;
mod state;
pub mod trie;
pub mod tx_lookup;
pub mod txpool;
pub mod verify;

pub use create_collision::{CollisionCheckError, StorageCollisionGuard, StorageOnlyAccounts};
pub use db::{BlockChanges, DbError, ElDb, StoredBody, StoredReceipt};
pub use execute::{ExecError, ExecTimings, ExecutedBlock};
pub use node::{ElConfig, ElError, EmbeddedEl};
pub use state::{StateError, StateView};
