//! Alys's access to Bitcoin (DESIGN §7).
//!
//! This crate owns:
//! - [`BitcoinRpc`]: the Bitcoin node behind a trait, with [`CoreRpcClient`] speaking Bitcoin
//!   Core's JSON-RPC over HTTP (user/password or cookie auth, timeouts, retries);
//! - the **follower** ([`Follower`] driving the pure [`FollowerState`]): walks Bitcoin by block
//!   hash from `bitcoinStartHeight`, detects reorgs, reports a deposit only once it has
//!   `requiredBtcConfirmations`, drops (or reverts) deposits whose block is reorged out, and
//!   persists its cursor in `alys-store` so restarts neither lose nor repeat a deposit;
//! - the **peg-in status index** ([`DepositIndex`]) behind `getpeginstatus`: the transactions
//!   paying the federation, their state and confirmations;
//! - block scanning ([`scan_block`]): the transactions paying a watched script, classified by a
//!   [`DepositScanner`] the node wires in.
//!
//! This crate reports facts. What a deposit *is* (address, OP_RETURN rules: the
//! [`DepositScanner`] implementation) and what is minted (the consensus peg-in verifier, the
//! minted set) belong to the peg, `alys-federation`; it depends on neither that crate nor
//! consensus.

pub mod client;
pub mod follower;
pub mod index;
mod metrics;
pub mod rpc;
pub mod scan;
pub mod state;

pub use bitcoin;
pub use client::{Auth, ClientConfig, CoreRpcClient};
pub use follower::{
    Follower, FollowerConfig, FollowerError, Step, DEFAULT_POLL_INTERVAL,
    DEFAULT_REQUIRED_CONFIRMATIONS, DEFAULT_WINDOW, FOLLOWER,
};
pub use index::{ConfirmedKey, DepositIndex, PegInRecord, PegInState, PegInStatus, PEGIN_STATUS};
pub use rpc::{BitcoinRpc, BlockchainInfo, FeeEstimate, HeaderInfo, MempoolAcceptResult, RpcError};
pub use scan::{paid_to, scan_block, DepositOutput, DepositScanner, ScanItem, ScannedDeposit};
pub use state::{
    outputs_of, BlockRef, FollowerEvent, FollowerState, FoundDeposit, FoundRejection, StateError,
};
