//! Federation outputs spent on Bitcoin outside the peg (DESIGN §8, §12.2).
//!
//! Only the federation's keys can spend its outputs, so such a spend means a threshold of
//! members signed something the peg did not propose (or the emergency path was used). The peg
//! must not stall on it: a payout that spends such an output can never confirm, and neither
//! can a later payout spending that payout's change. A block declares the spend
//! ([`alys_primitives::FederationSpend`]); the ledger then drops the output and voids the
//! payouts built on it, and the requests are paid by a new payout.
//!
//! [`SpendWatcher`] is this node's view, from its own Bitcoin node:
//! - it scans each new block of the best chain for inputs that spend a federation output
//!   ([`crate::Federation::is_federation_spend`]), from [`START_LOOKBACK`] blocks below the tip
//!   at start, following reorgs (spends in blocks that left the best chain are forgotten);
//! - a spend another node declares that this node has not seen (its scan started later, say)
//!   is looked up by the declared block and spender, and known from the next round on;
//! - what it saw is bounded: [`MAX_SEEN_SPENDS`] spends (lowest height forgotten first) and
//!   [`MAX_LOOKUPS`] pending lookups.
//!
//! The payouts of the chain are spends it sees too; the ledger tells them apart (a declared
//! spender must not be a payout of the chain).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use alys_bitcoin::BitcoinRpc;
use alys_primitives::FederationSpend;
use bitcoin::hashes::Hash;
use bitcoin::{Block, BlockHash, OutPoint, Txid};
use parking_lot::Mutex;

use crate::Federation;

/// Blocks below the tip scanned when the watcher starts.
pub const START_LOOKBACK: u64 = 144;
/// Spends kept at most.
pub const MAX_SEEN_SPENDS: usize = 4096;
/// Declared spends waiting to be looked up, at most.
pub const MAX_LOOKUPS: usize = 16;
/// Blocks fetched per round at most.
const MAX_BLOCKS_PER_ROUND: usize = 16;
/// Scanned blocks remembered for reorg detection.
const SCANNED_KEPT: usize = 288;

/// A spend of a federation output, as this node's Bitcoin node has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenSpend {
    /// The spending transaction.
    pub spender: Txid,
    /// Its block.
    pub block: BlockHash,
    /// That block's height.
    pub height: u64,
}

/// What this node says of a declared spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpendVerdict {
    /// Seen as declared, with this many confirmations.
    Seen {
        /// Confirmations of the spender on this node's best chain.
        confirmations: u64,
    },
    /// Not seen (yet): looked up in a following round.
    Unknown,
    /// Seen spent by another transaction.
    Mismatch,
}

/// This node's view of federation outputs spent on Bitcoin, as the ledger asks it.
pub trait SpendView: Send + Sync {
    /// What this node says of `spend` (a miss queues a lookup).
    fn verdict(&self, spend: &FederationSpend) -> SpendVerdict;
    /// Every spend seen with at least `confirmations`, lowest height first.
    fn confirmed(&self, confirmations: u64) -> Vec<(OutPoint, SeenSpend)>;
}

#[derive(Default)]
struct Seen {
    spends: HashMap<OutPoint, SeenSpend>,
    by_height: BTreeSet<(u64, OutPoint)>,
    /// The best chain's tip height, as of the last round.
    tip: u64,
    /// Scanned blocks (height, hash), ascending.
    scanned: VecDeque<(u64, BlockHash)>,
    next: Option<u64>,
    lookups: VecDeque<FederationSpend>,
}

impl Seen {
    fn insert(&mut self, outpoint: OutPoint, spend: SeenSpend) {
        if let Some(old) = self.spends.insert(outpoint, spend) {
            self.by_height.remove(&(old.height, outpoint));
        }
        self.by_height.insert((spend.height, outpoint));
        while self.spends.len() > MAX_SEEN_SPENDS {
            let Some((_, lowest)) = self.by_height.pop_first() else {
                break;
            };
            self.spends.remove(&lowest);
        }
    }

    /// Forgets the spends at `height` and above (their blocks left the best chain).
    fn unwind(&mut self, height: u64) {
        let gone: Vec<_> = self
            .by_height
            .range((height, OutPoint::null())..)
            .copied()
            .collect();
        for (h, outpoint) in gone {
            self.by_height.remove(&(h, outpoint));
            self.spends.remove(&outpoint);
        }
    }
}

/// A Bitcoin RPC failure of the watcher (logged; the next round tries again).
#[derive(Debug, thiserror::Error)]
#[error("Bitcoin RPC `{method}`: {source}")]
pub struct WatchError {
    method: &'static str,
    #[source]
    source: alys_bitcoin::RpcError,
}

fn rpc_err(method: &'static str) -> impl Fn(alys_bitcoin::RpcError) -> WatchError {
    move |source| WatchError { method, source }
}

/// Watches this node's Bitcoin node for spends of federation outputs (see the module docs).
pub struct SpendWatcher {
    federation: Arc<Federation>,
    rpc: Arc<dyn BitcoinRpc>,
    start_lookback: u64,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for SpendWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpendWatcher").finish_non_exhaustive()
    }
}

impl SpendWatcher {
    /// A watcher of `federation`'s outputs on the Bitcoin node `rpc`.
    pub fn new(federation: Arc<Federation>, rpc: Arc<dyn BitcoinRpc>) -> Self {
        Self {
            federation,
            rpc,
            start_lookback: START_LOOKBACK,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Starts the scan `blocks` below the tip instead of [`START_LOOKBACK`].
    pub fn with_start_lookback(mut self, blocks: u64) -> Self {
        self.start_lookback = blocks;
        self
    }

    /// Runs rounds every `interval`, forever.
    pub async fn run(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = self.round().await {
                tracing::debug!(error = %e, "federation spend watcher round failed");
            }
        }
    }

    /// One round: the declared spends to look up, then the new blocks of the best chain.
    pub async fn round(&self) -> Result<(), WatchError> {
        let tip = self
            .rpc
            .get_block_count()
            .await
            .map_err(rpc_err("getblockcount"))?;
        self.seen.lock().tip = tip;
        self.look_up().await?;
        // A reorg: scanned blocks no longer in the best chain are unwound.
        loop {
            let back = self.seen.lock().scanned.back().copied();
            let Some((h, hash)) = back else { break };
            let still = h <= tip
                && self
                    .rpc
                    .get_block_hash(h)
                    .await
                    .map_err(rpc_err("getblockhash"))?
                    == hash;
            if still {
                break;
            }
            let mut seen = self.seen.lock();
            seen.scanned.pop_back();
            seen.unwind(h);
            seen.next = Some(h);
        }
        let mut next = self
            .seen
            .lock()
            .next
            .unwrap_or_else(|| tip.saturating_sub(self.start_lookback));
        let mut fetched = 0;
        while next <= tip && fetched < MAX_BLOCKS_PER_ROUND {
            let hash = self
                .rpc
                .get_block_hash(next)
                .await
                .map_err(rpc_err("getblockhash"))?;
            let block = self
                .rpc
                .get_block(&hash)
                .await
                .map_err(rpc_err("getblock"))?;
            let found = self.federation_spends(&block, next);
            let mut seen = self.seen.lock();
            for (outpoint, spend) in found {
                tracing::debug!(%outpoint, spender = %spend.spender, height = next, "federation output spent");
                seen.insert(outpoint, spend);
            }
            seen.scanned.push_back((next, hash));
            while seen.scanned.len() > SCANNED_KEPT {
                seen.scanned.pop_front();
            }
            next += 1;
            seen.next = Some(next);
            fetched += 1;
        }
        Ok(())
    }

    /// The declared spends not seen in the scan, fetched by their block and spender.
    async fn look_up(&self) -> Result<(), WatchError> {
        loop {
            let Some(spend) = self.seen.lock().lookups.pop_front() else {
                return Ok(());
            };
            let hash = BlockHash::from_byte_array(spend.block_hash.0);
            let header = self
                .rpc
                .get_block_header_info(&hash)
                .await
                .map_err(rpc_err("getblockheader"));
            let Ok(header) = header else {
                tracing::debug!(block = %hash, "declared federation spend: block unknown here");
                continue;
            };
            if header.confirmations < 1 {
                continue;
            }
            let spender = Txid::from_byte_array(spend.spender.0);
            let Ok(tx) = self.rpc.get_raw_transaction(&spender, Some(&hash)).await else {
                continue;
            };
            let outpoint = OutPoint::new(Txid::from_byte_array(spend.txid.0), spend.vout);
            let spends_it = tx.input.iter().any(|i| {
                i.previous_output == outpoint && self.federation.is_federation_spend(&i.witness)
            });
            if spends_it && tx.compute_txid() == spender {
                self.seen.lock().insert(
                    outpoint,
                    SeenSpend {
                        spender,
                        block: hash,
                        height: header.height,
                    },
                );
            }
        }
    }

    /// The inputs of `block` (at `height`) spending a federation output.
    fn federation_spends(&self, block: &Block, height: u64) -> Vec<(OutPoint, SeenSpend)> {
        let hash = block.block_hash();
        block
            .txdata
            .iter()
            .skip(1)
            .flat_map(|tx| {
                let spender = tx.compute_txid();
                tx.input
                    .iter()
                    .filter(|i| self.federation.is_federation_spend(&i.witness))
                    .map(move |i| {
                        (
                            i.previous_output,
                            SeenSpend {
                                spender,
                                block: hash,
                                height,
                            },
                        )
                    })
            })
            .collect()
    }
}

impl SpendView for SpendWatcher {
    fn verdict(&self, spend: &FederationSpend) -> SpendVerdict {
        let outpoint = OutPoint::new(Txid::from_byte_array(spend.txid.0), spend.vout);
        let mut seen = self.seen.lock();
        match seen.spends.get(&outpoint) {
            Some(s) if s.spender.to_byte_array() != spend.spender.0 => SpendVerdict::Mismatch,
            Some(s) if s.block.to_byte_array() == spend.block_hash.0 => SpendVerdict::Seen {
                confirmations: seen.tip.saturating_add(1).saturating_sub(s.height),
            },
            _ => {
                if seen.lookups.len() < MAX_LOOKUPS && !seen.lookups.contains(spend) {
                    seen.lookups.push_back(*spend);
                }
                SpendVerdict::Unknown
            }
        }
    }

    fn confirmed(&self, confirmations: u64) -> Vec<(OutPoint, SeenSpend)> {
        let seen = self.seen.lock();
        seen.by_height
            .iter()
            .filter_map(|(h, outpoint)| {
                let deep = seen.tip.saturating_add(1).saturating_sub(*h) >= confirmations;
                deep.then(|| seen.spends.get(outpoint).map(|s| (*outpoint, *s)))
                    .flatten()
            })
            .collect()
    }
}
