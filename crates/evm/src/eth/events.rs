//! Chain events and WebSocket subscriptions (`eth_subscribe` / `eth_unsubscribe`: `newHeads`,
//! `logs`, `newPendingTransactions`).
//!
//! [`ChainEvents`] runs one background task. It wakes on every canonical head change (the head
//! the chain publishes, [`crate::chain::Chain::watch_head`]), walks back from the new head to the last head it published, and broadcasts a
//! [`ChainEvent`]: the blocks that left the canonical chain (newest first) and those that
//! joined it (oldest first), each with its logs. Subscriptions and polling filters consume
//! the broadcast; the task holds the chain only weakly and ends when the chain is dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use alloy::consensus::Header;
use alloy::rpc::types::{
    pubsub::{Params as SubParams, SubscriptionKind},
    Filter, Header as RpcHeader, Log,
};
use alloy_primitives::{B256, U256};
use jsonrpsee::{
    core::SubscriptionResult, types::Params, PendingSubscriptionSink, RpcModule,
    SubscriptionMessage, SubscriptionSink,
};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{block_logs::block_logs, errors::invalid_params, pending_transaction, EthApi};
use crate::{
    chain::{CanonicalHead, Chain, SharedChain},
    db::ElDb,
};

/// Canonical blocks remembered to detect reorgs.
const RECENT_BLOCKS: usize = 256;
/// Chain events buffered per receiver before a slow one starts missing events.
const EVENT_CAPACITY: usize = 1024;

/// One block as published to subscribers.
#[derive(Debug)]
pub struct BlockEvent {
    /// Header.
    pub header: Header,
    /// Hash.
    pub hash: B256,
    /// Every log of the block, with block and transaction metadata.
    pub logs: Vec<Log>,
}

impl BlockEvent {
    fn load(db: &ElDb, hash: B256) -> Option<Self> {
        let header = db.header(&hash).ok().flatten()?;
        let logs = block_logs(db, &header, hash, &Filter::default(), false).unwrap_or_default();
        Some(Self { header, hash, logs })
    }

    /// The block's logs matching `filter`'s addresses and topics; `removed` set if the block was
    /// reorged out.
    pub fn logs_matching<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = Log> + 'a {
        self.logs
            .iter()
            .filter(move |l| filter.matches(&l.inner))
            .cloned()
    }

    /// The `newHeads` object.
    pub fn rpc_header(&self) -> RpcHeader {
        RpcHeader {
            hash: self.hash,
            inner: self.header.clone(),
            total_difficulty: Some(U256::ZERO),
            size: None,
        }
    }
}

/// A canonical head change.
#[derive(Debug, Default)]
pub struct ChainEvent {
    /// Blocks no longer canonical, newest first (their logs carry `removed: true`).
    pub removed: Vec<Arc<BlockEvent>>,
    /// Blocks that became canonical, oldest first.
    pub added: Vec<Arc<BlockEvent>>,
}

/// The chain-event broadcaster.
#[derive(Debug)]
pub struct ChainEvents {
    tx: broadcast::Sender<Arc<ChainEvent>>,
}

impl ChainEvents {
    /// Starts the event task on the current Tokio runtime (without one, no events flow).
    pub fn start(chain: SharedChain) -> Self {
        let (tx, _) = broadcast::channel(EVENT_CAPACITY);
        let (head_rx, recent) = {
            let c = chain.lock();
            let head = c.head().1;
            let recent: VecDeque<Arc<BlockEvent>> = BlockEvent::load(c.db(), head)
                .map(Arc::new)
                .into_iter()
                .collect();
            (c.watch_head(), recent)
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(run(Arc::downgrade(&chain), tx.clone(), head_rx, recent));
            }
            Err(_) => tracing::warn!("no Tokio runtime: chain events disabled"),
        }
        Self { tx }
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChainEvent>> {
        self.tx.subscribe()
    }
}

async fn run(
    chain: Weak<parking_lot::Mutex<Chain>>,
    tx: broadcast::Sender<Arc<ChainEvent>>,
    mut head_rx: tokio::sync::watch::Receiver<CanonicalHead>,
    recent: VecDeque<Arc<BlockEvent>>,
) {
    let recent = Arc::new(Mutex::new(recent));
    while head_rx.changed().await.is_ok() {
        let Some(chain) = chain.upgrade() else {
            break;
        };
        let recent = recent.clone();
        let event = tokio::task::spawn_blocking(move || {
            let (db, head) = {
                let c = chain.lock();
                (c.db().clone(), c.head().1)
            };
            drop(chain);
            diff(&db, head, &mut recent.lock())
        })
        .await;
        match event {
            Ok(Some(event)) => {
                let _ = tx.send(Arc::new(event));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("chain event task failed: {e}"),
        }
    }
    tracing::debug!("chain event task stopped");
}

/// The event leading from the published blocks in `recent` to `head`, updating `recent`.
fn diff(db: &ElDb, head: B256, recent: &mut VecDeque<Arc<BlockEvent>>) -> Option<ChainEvent> {
    if recent.back().is_some_and(|b| b.hash == head) {
        return None;
    }
    let mut added = Vec::new();
    let mut cursor = head;
    let mut ancestor = None;
    while added.len() < RECENT_BLOCKS {
        if let Some(pos) = recent.iter().position(|b| b.hash == cursor) {
            ancestor = Some(pos);
            break;
        }
        let block = BlockEvent::load(db, cursor)?;
        let parent = block.header.parent_hash;
        let number = block.header.number;
        added.push(Arc::new(block));
        if number == 0 {
            break;
        }
        cursor = parent;
    }
    let removed: Vec<Arc<BlockEvent>> = match ancestor {
        Some(pos) => recent.drain(pos + 1..).rev().collect(),
        // More new blocks than we walk: whatever of `recent` is still canonical was not
        // removed, only skipped past.
        None => recent
            .drain(..)
            .rev()
            .filter(|b| db.canonical_hash(b.header.number).ok().flatten() != Some(b.hash))
            .collect(),
    };
    added.reverse();
    recent.extend(added.iter().cloned());
    while recent.len() > RECENT_BLOCKS {
        recent.pop_front();
    }
    Some(ChainEvent { removed, added })
}

async fn send<T: Serialize>(sink: &SubscriptionSink, item: &T) -> bool {
    match serde_json::value::to_raw_value(item) {
        Ok(raw) => sink.send(SubscriptionMessage::from(raw)).await.is_ok(),
        Err(_) => false,
    }
}

/// What a subscription wants.
enum Wanted {
    Heads,
    Logs(Box<Filter>),
    PendingHashes,
    PendingFull,
}

fn parse(params: &Params<'static>) -> Result<Wanted, jsonrpsee::types::ErrorObjectOwned> {
    let mut seq = params.sequence();
    let kind: SubscriptionKind = seq.next()?;
    let extra: Option<SubParams> = seq.optional_next()?;
    Ok(match (kind, extra) {
        (SubscriptionKind::NewHeads, None | Some(SubParams::None)) => Wanted::Heads,
        (SubscriptionKind::Logs, Some(SubParams::Logs(f))) => Wanted::Logs(f),
        (SubscriptionKind::Logs, None | Some(SubParams::None)) => Wanted::Logs(Box::default()),
        (SubscriptionKind::NewPendingTransactions, Some(SubParams::Bool(true))) => {
            Wanted::PendingFull
        }
        (
            SubscriptionKind::NewPendingTransactions,
            None | Some(SubParams::Bool(false) | SubParams::None),
        ) => Wanted::PendingHashes,
        (kind, None) => {
            return Err(invalid_params(format!(
                "unsupported subscription: {kind:?}"
            )))
        }
        (kind, Some(_)) => return Err(invalid_params(format!("invalid parameters for {kind:?}"))),
    })
}

async fn serve_chain(
    sink: SubscriptionSink,
    mut rx: broadcast::Receiver<Arc<ChainEvent>>,
    filter: Option<Box<Filter>>,
) {
    loop {
        let event = tokio::select! {
            _ = sink.closed() => return,
            ev = rx.recv() => ev,
        };
        let event = match event {
            Ok(ev) => ev,
            Err(RecvError::Lagged(n)) => {
                tracing::debug!(skipped = n, "subscriber lagged behind chain events");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        match &filter {
            None => {
                for block in &event.added {
                    if !send(&sink, &block.rpc_header()).await {
                        return;
                    }
                }
            }
            Some(filter) => {
                for block in &event.removed {
                    for mut log in block.logs_matching(filter) {
                        log.removed = true;
                        if !send(&sink, &log).await {
                            return;
                        }
                    }
                }
                for block in &event.added {
                    for log in block.logs_matching(filter) {
                        if !send(&sink, &log).await {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Registers `eth_subscribe` / `eth_unsubscribe`.
pub(crate) fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    let api = api.clone();
    let result = module.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        move |params, pending: PendingSubscriptionSink, _, _| {
            let api = api.clone();
            async move {
                let wanted = match parse(&params) {
                    Ok(w) => w,
                    Err(e) => {
                        pending.reject(e).await;
                        return SubscriptionResult::Ok(());
                    }
                };
                match wanted {
                    Wanted::Heads | Wanted::Logs(_) => {
                        let rx = api.events().subscribe();
                        let sink = pending.accept().await?;
                        let filter = match wanted {
                            Wanted::Logs(f) => Some(f),
                            _ => None,
                        };
                        serve_chain(sink, rx, filter).await;
                    }
                    Wanted::PendingHashes | Wanted::PendingFull => {
                        let mut rx = api.pool().lock().subscribe_pending();
                        let sink = pending.accept().await?;
                        let full = matches!(wanted, Wanted::PendingFull);
                        loop {
                            let tx = tokio::select! {
                                _ = sink.closed() => break,
                                tx = rx.recv() => tx,
                            };
                            let ok = match tx {
                                Ok(tx) if full => send(&sink, &pending_transaction(&tx)).await,
                                Ok(tx) => send(&sink, tx.tx_hash()).await,
                                Err(RecvError::Lagged(_)) => true,
                                Err(RecvError::Closed) => false,
                            };
                            if !ok {
                                break;
                            }
                        }
                    }
                }
                Ok(())
            }
        },
    );
    if let Err(e) = result {
        tracing::error!("duplicate RPC subscription registration: {e}");
    }
}
