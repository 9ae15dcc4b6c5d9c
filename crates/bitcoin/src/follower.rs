//! The follower driver: walks Bitcoin by block hash through a [`BitcoinRpc`], feeds the pure
//! [`FollowerState`], persists cursor and peg-in statuses atomically, and keeps going when the
//! Bitcoin node goes away.
//!
//! One [`Follower::step`] does one of:
//! - no block followed yet: fetch the block at `bitcoinStartHeight` (the anchor);
//! - ask `getblockheader <tip> true`: if the tip left the active chain (`confirmations` = -1
//!   or unknown block), disconnect it (reorg);
//! - else if it has a `nextblockhash` on the active chain: fetch that block, check it links to
//!   the tip, scan it and connect it;
//! - else: idle (at the node's tip).
//!
//! After each connect/disconnect the new state and the changed peg-in records are written in
//! one atomic batch *before* the events are returned, so a restart resumes exactly after the
//! last reported block: nothing lost, nothing reported twice.

use std::sync::Arc;
use std::time::Duration;

use alys_primitives::ChainSpec;
use alys_store::{Durability, Store, StoreError, WriteBatch};
use bitcoin::BlockHash;

use crate::index::DepositIndex;
use crate::rpc::{BitcoinRpc, RpcError, RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER};
use crate::scan::{scan_block, DepositScanner};
use crate::state::{BlockRef, FollowerEvent, FollowerState, StateError};

/// Store column of the follower's cursor.
pub use alys_store::columns::bitcoin::FOLLOWER;
const STATE_KEY: &[u8] = b"state";
const SCHEMA_NAME: &str = "bitcoin-follower";
const SCHEMA_VERSION: u32 = 1;

/// Confirmations required when the spec sets none.
pub const DEFAULT_REQUIRED_CONFIRMATIONS: u32 = 6;
/// Blocks remembered for reorg detection by default (two days of Bitcoin).
pub const DEFAULT_WINDOW: usize = 288;
/// Wait between polls at the node's tip by default. A deposit is minted by the first slot
/// that starts after the follower has connected the block confirming it, so this interval
/// adds up to itself to the peg-in latency: at 1 s, 26 of 80 deposits missed the next 2 s
/// slot, at 100 ms 1 of 80 (`cargo bench -p alys --bench pegin_latency`). Costs one
/// `getblockheader` per poll.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Follower settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowerConfig {
    /// First Bitcoin height scanned.
    pub start_height: u64,
    /// Confirmations before a deposit is reported.
    pub required_confirmations: u32,
    /// Blocks remembered for reorg detection (at least `required + 6`).
    pub window: usize,
    /// Wait between polls when at the node's tip.
    pub poll_interval: Duration,
    /// Longest wait between retries while the node is unreachable.
    pub max_backoff: Duration,
}

impl FollowerConfig {
    /// From the chain spec (`bitcoinStartHeight` [0], `requiredBtcConfirmations` [6]).
    pub fn from_spec(spec: &ChainSpec) -> Self {
        Self {
            start_height: spec.bitcoin_start_height.unwrap_or(0),
            required_confirmations: spec
                .required_btc_confirmations
                .unwrap_or(DEFAULT_REQUIRED_CONFIRMATIONS),
            ..Self::default()
        }
    }
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self {
            start_height: 0,
            required_confirmations: DEFAULT_REQUIRED_CONFIRMATIONS,
            window: DEFAULT_WINDOW,
            poll_interval: DEFAULT_POLL_INTERVAL,
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Follower errors.
#[derive(Debug, thiserror::Error)]
pub enum FollowerError {
    /// The Bitcoin node failed (retried by [`Follower::run`]).
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The chain cannot be followed (e.g. a reorg deeper than the window).
    #[error(transparent)]
    State(#[from] StateError),
    /// The persisted cursor was written for other settings.
    #[error("persisted follower state has {what} = {stored}, configuration says {configured}")]
    ConfigMismatch {
        /// Which setting.
        what: &'static str,
        /// Persisted value.
        stored: u64,
        /// Configured value.
        configured: u64,
    },
}

/// What one step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Connected or disconnected a block (or lost a race with the node; call again).
    Progress(Vec<FollowerEvent>),
    /// At the node's tip.
    Idle,
}

/// The Bitcoin follower.
pub struct Follower {
    rpc: Arc<dyn BitcoinRpc>,
    scanner: Arc<dyn DepositScanner>,
    store: Arc<Store>,
    config: FollowerConfig,
    state: FollowerState,
    index: DepositIndex,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("tip", &self.state.tip())
            .field("config", &self.config)
            .finish()
    }
}

enum Action {
    Connect(u64, BlockHash, Option<BlockHash>),
    Disconnect,
    Idle,
}

impl Follower {
    /// Opens the follower of the deposits `scanner` recognizes, resuming from the cursor persisted in `store` if there is one.
    pub fn open(
        rpc: Arc<dyn BitcoinRpc>,
        scanner: Arc<dyn DepositScanner>,
        store: Arc<Store>,
        config: FollowerConfig,
    ) -> Result<Self, FollowerError> {
        store.ensure_schema(SCHEMA_NAME, SCHEMA_VERSION)?;
        let state = match store.get(FOLLOWER, STATE_KEY)? {
            None => FollowerState::new(
                config.start_height,
                config.required_confirmations,
                config.window,
            ),
            Some(bytes) => {
                let s: FollowerState =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                        column: FOLLOWER.byte(),
                        reason: format!("follower state: {e}"),
                    })?;
                if s.start_height() != config.start_height {
                    return Err(FollowerError::ConfigMismatch {
                        what: "bitcoinStartHeight",
                        stored: s.start_height(),
                        configured: config.start_height,
                    });
                }
                if s.required() != config.required_confirmations.max(1) {
                    return Err(FollowerError::ConfigMismatch {
                        what: "requiredBtcConfirmations",
                        stored: u64::from(s.required()),
                        configured: u64::from(config.required_confirmations),
                    });
                }
                s
            }
        };
        let index = DepositIndex::open(store.clone(), state.tip())?;
        Ok(Self {
            rpc,
            scanner,
            store,
            config,
            state,
            index,
        })
    }

    /// The peg-in status index (share it with the RPC server).
    pub fn index(&self) -> DepositIndex {
        self.index.clone()
    }

    /// The followed tip.
    pub fn tip(&self) -> Option<BlockRef> {
        self.state.tip()
    }

    /// The follower's state (window, pending and reported deposits).
    pub fn state(&self) -> &FollowerState {
        &self.state
    }

    /// What recognizes the followed deposits.
    pub fn scanner(&self) -> &dyn DepositScanner {
        self.scanner.as_ref()
    }

    async fn next_action(&self) -> Result<Action, RpcError> {
        let Some(tip) = self.state.tip() else {
            let h = self.state.next_height();
            return match self.rpc.get_block_hash(h).await {
                Ok(hash) => Ok(Action::Connect(h, hash, None)),
                Err(e) if e.core_code() == Some(RPC_INVALID_PARAMETER) => Ok(Action::Idle),
                Err(e) => Err(e),
            };
        };
        let info = match self.rpc.get_block_header_info(&tip.hash).await {
            Ok(info) => info,
            Err(e) if e.core_code() == Some(RPC_INVALID_ADDRESS_OR_KEY) => {
                return Ok(Action::Disconnect)
            }
            Err(e) => return Err(e),
        };
        if info.confirmations < 0 {
            return Ok(Action::Disconnect);
        }
        // The tip has `confirmations` blocks on top of and including it.
        crate::metrics::heights(
            tip.height,
            tip.height
                .saturating_add((info.confirmations as u64).saturating_sub(1)),
        );
        let next = match info.nextblockhash {
            Some(n) => Some(n),
            // Nodes that omit `nextblockhash`: ask by height, then check the link.
            None if info.confirmations > 1 => match self.rpc.get_block_hash(tip.height + 1).await {
                Ok(h) => Some(h),
                Err(e) if e.core_code() == Some(RPC_INVALID_PARAMETER) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        Ok(match next {
            Some(n) => Action::Connect(tip.height + 1, n, Some(tip.hash)),
            None => Action::Idle,
        })
    }

    /// One step (see the module docs); `on_commit` may add writes to the same atomic batch as
    /// the follower's (e.g. the consumer's own bookkeeping of the events).
    pub async fn step_with<F>(&mut self, on_commit: F) -> Result<Step, FollowerError>
    where
        F: FnOnce(&[FollowerEvent], &mut WriteBatch),
    {
        let mut next_state = self.state.clone();
        let mut rejected = Vec::new();
        let events = match self.next_action().await? {
            Action::Idle => return Ok(Step::Idle),
            Action::Disconnect => next_state.disconnect_tip()?,
            Action::Connect(height, hash, expected_prev) => {
                let block = self.rpc.get_block(&hash).await?;
                let prev = block.header.prev_blockhash;
                if block.block_hash() != hash || expected_prev.is_some_and(|p| p != prev) {
                    // The node reorged between our two calls (or answered nonsense): retry.
                    tracing::debug!(%hash, "bitcoin follower: block does not link, retrying");
                    return Ok(Step::Progress(Vec::new()));
                }
                let items = scan_block(&block, self.scanner.as_ref());
                rejected = crate::metrics::rejection_reasons(&items);
                next_state.connect(height, hash, prev, items)?
            }
        };
        let mut batch = WriteBatch::new();
        let value = serde_json::to_vec(&next_state).unwrap_or_default();
        batch.put(FOLLOWER, STATE_KEY, value);
        let staged = self.index.stage(&events, &mut batch);
        on_commit(&events, &mut batch);
        self.store.write(batch, Durability::Synced)?;
        self.state = next_state;
        self.index.commit(staged, self.state.tip());
        crate::metrics::committed(&events, &rejected);
        for ev in &events {
            match ev {
                FollowerEvent::Deposit(d) => {
                    tracing::info!(txid = %d.txid, sats = d.sats.0, recipient = %d.recipient, "peg-in confirmed")
                }
                FollowerEvent::Reverted(d) => tracing::error!(
                    txid = %d.txid,
                    sats = d.sats.0,
                    height = d.block.height,
                    required = self.config.required_confirmations,
                    "confirmed peg-in reorged out of Bitcoin's best chain: a reorg deeper than \
                     requiredBtcConfirmations; a mint of it stands"
                ),
                FollowerEvent::BlockDisconnected(b) => {
                    tracing::info!(height = b.height, hash = %b.hash, "bitcoin block disconnected")
                }
                _ => {}
            }
        }
        Ok(Step::Progress(events))
    }

    /// One step without extra writes.
    pub async fn step(&mut self) -> Result<Step, FollowerError> {
        self.step_with(|_, _| {}).await
    }

    /// Steps until idle; returns all events.
    pub async fn catch_up(&mut self) -> Result<Vec<FollowerEvent>, FollowerError> {
        let mut all = Vec::new();
        loop {
            match self.step().await? {
                Step::Idle => return Ok(all),
                Step::Progress(evs) => all.extend(evs),
            }
        }
    }

    /// Follows forever, sending events to `events`, until `shutdown` turns true or the
    /// receiver is dropped. RPC failures are retried with backoff (the node may be restarting);
    /// store failures and reorgs deeper than the window end the loop with the error.
    pub async fn run(
        mut self,
        events: tokio::sync::mpsc::Sender<FollowerEvent>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), FollowerError> {
        let mut backoff = self.config.poll_interval;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let wait = match self.step().await {
                Ok(Step::Progress(evs)) => {
                    backoff = self.config.poll_interval;
                    for ev in evs {
                        if events.send(ev).await.is_err() {
                            return Ok(());
                        }
                    }
                    continue;
                }
                Ok(Step::Idle) => {
                    backoff = self.config.poll_interval;
                    self.config.poll_interval
                }
                Err(FollowerError::Rpc(e)) => {
                    crate::metrics::rpc_error();
                    tracing::warn!(%e, retry_in = ?backoff, "bitcoin follower: RPC failed");
                    let w = backoff;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                    w
                }
                Err(e) => {
                    tracing::error!(%e, "bitcoin follower stopped");
                    return Err(e);
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
