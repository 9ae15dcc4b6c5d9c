//! What the tests and benches of the workspace share, so that each is written once.
//!
//! This crate owns (each behind the cargo feature named in brackets):
//! - [`tools`]: where the external clients the tests use are found (the Python interpreter with
//!   python-bitcoinlib and embit, Foundry's cast/forge/anvil, viem and solc), and what a test
//!   does when one is missing (fail, or skip under `ALYS_ALLOW_MISSING_TOOLS=1`);
//! - [`seed`]: a random generator seeded from `ALYS_TEST_SEED` or at random, its seed printed;
//! - [`wait`]: waiting, with a deadline, for a condition polled from outside the process;
//! - [`bench_env`]: the bench binaries' size knobs from the environment, and the wall clock;
//! - [`slowloris`]: slow HTTP clients that never finish their headers or body;
//! - `el` (`el`): an embedded execution client with its Engine API client;
//! - `federation` (`federation`): authorities (EL + consensus chain) and a federation of them
//!   running as services on the in-process bus;
//! - `blocks` (`federation`): chain-level block helpers on a manual clock (produce, sign with a
//!   threshold, extend, tamper and rehash) for the consensus and peg tests;
//! - `devnet` (`devnet`): the embedded regtest Bitcoin on a free port, with a Core RPC client;
//! - `process`, `nodes` and `json_rpc` (`process`): the `alys` binary run as `alys dev`, `alys el` or
//!   `alys btc-devnet` on port 0, its bound addresses read from what it prints, and a blocking
//!   JSON-RPC client;
//! - `cluster` (`process`): a federation of `alys node` processes on loopback sharing one
//!   `alys btc-devnet`, with kill, restart, freeze and thaw;
//! - `ethereumjs` (`process`): the EthereumJS execution client (npm) as a process on free ports;
//! - `engine_mock` (`engine-mock`): a JWT-checking Engine API server with canned answers;
//! - `engine_proxy` (`engine-mock`): a proxy in front of a real execution client that makes
//!   chosen methods fail (-32601, no answer, SYNCING) until told otherwise.

#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

pub mod bench_env;
#[cfg(feature = "federation")]
pub mod blocks;
pub mod seed;
pub mod slowloris;
pub mod tools;
pub mod wait;

#[cfg(feature = "process")]
pub mod cluster;
#[cfg(feature = "devnet")]
pub mod devnet;
#[cfg(feature = "el")]
pub mod el;
#[cfg(feature = "engine-mock")]
pub mod engine_mock;
#[cfg(feature = "engine-mock")]
pub mod engine_proxy;
#[cfg(feature = "process")]
pub mod ethereumjs;
#[cfg(feature = "federation")]
pub mod federation;
#[cfg(feature = "process")]
pub mod json_rpc;
#[cfg(feature = "process")]
pub mod nodes;
#[cfg(feature = "process")]
pub mod process;
#[cfg(feature = "el")]
pub mod tx;

/// The root of the repository (the workspace).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
