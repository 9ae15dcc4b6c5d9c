//! The embedded execution client.
//!
//! An Ethereum execution client built on revm: it keeps the chain's state in LevelDB, executes
//! and validates blocks with Ethereum-exact roots and hashes, builds payloads from its
//! transaction pool, and serves the Engine API (JWT) and the `eth_*` JSON-RPC. The consensus
//! side talks to it only over HTTP, exactly as it talks to Geth or Reth.

pub mod auth;
pub mod chain;
pub mod db;
pub mod ef_tests;
pub mod engine_api;
pub mod eth;
pub mod eth_api;
pub mod eth_common;
pub mod execute;
pub mod forks;
pub mod genesis;
pub mod header_rules;
pub mod node;
pub mod recent_blocks;
pub mod rpc_block;
pub mod sender_recovery;
pub mod state;
pub mod trie;
pub mod tx_lookup;
pub mod txpool;
pub mod verify;

pub use node::{ElConfig, ElError, EmbeddedEl};
