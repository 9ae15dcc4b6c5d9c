//! Logs and polling filters: `eth_getLogs` (bloom-indexed scan with a block range limit and a
//! result limit), `eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
//! `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter`.
//!
//! Polling filters are fed by the chain-event stream ([`super::events`]), so reorged-out logs
//! come back with `removed: true` as in Geth. Filters idle longer than
//! [`super::EthConfig::filter_timeout`] are dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::consensus::{transaction::Recovered, TxEnvelope};
use alloy::eips::BlockNumberOrTag;
use alloy::rpc::types::{Filter, FilterBlockOption, FilterChanges, Log};
use alloy_primitives::B256;
use jsonrpsee::{
    server::IdProvider,
    types::{ErrorObjectOwned, Params, SubscriptionId},
    RpcModule,
};
use parking_lot::Mutex;
use tokio::sync::broadcast::{self, error::TryRecvError};

use super::{
    block_logs::block_logs,
    blocking,
    errors::{header_not_found, internal, rpc_err, server_err, LIMIT_EXCEEDED},
    events::ChainEvent,
    ids::HexIdProvider,
    EthApi,
};
use crate::chain::{Chain, SharedChain};

/// Resolves a range bound: tags to the forkchoice blocks, numbers clamped to the head.
fn bound(chain: &Chain, tag: Option<BlockNumberOrTag>) -> Result<u64, ErrorObjectOwned> {
    let head = chain.head().0.number;
    Ok(match tag.unwrap_or(BlockNumberOrTag::Latest) {
        BlockNumberOrTag::Number(n) => n.min(head),
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => head,
        tag => {
            let hash = EthApi::resolve_tag(chain, tag)?.ok_or_else(header_not_found)?;
            chain
                .db()
                .header(&hash)
                .map_err(internal)?
                .ok_or_else(header_not_found)?
                .number
        }
    })
}

impl EthApi {
    /// Logs matching `filter` in canonical blocks, within the configured limits.
    pub fn logs(&self, filter: &Filter) -> Result<Vec<Log>, ErrorObjectOwned> {
        let (db, range) = {
            let chain = self.chain().lock();
            let range = match filter.block_option {
                FilterBlockOption::AtBlockHash(hash) => Err(hash),
                FilterBlockOption::Range {
                    from_block,
                    to_block,
                } => Ok((bound(&chain, from_block)?, bound(&chain, to_block)?)),
            };
            (chain.db().clone(), range)
        };
        let (from, to) = match range {
            Err(hash) => {
                let header = db
                    .header(&hash)
                    .map_err(internal)?
                    .ok_or_else(|| server_err("unknown block"))?;
                return block_logs(&db, &header, hash, filter, false);
            }
            Ok(r) => r,
        };
        if from > to {
            return Err(server_err("invalid block range params"));
        }
        let max_range = self.config().max_log_range;
        if to - from >= max_range {
            return Err(rpc_err(
                LIMIT_EXCEEDED,
                format!("query exceeds max block range {max_range}"),
            ));
        }
        let max_logs = self.config().max_logs;
        let mut out = Vec::new();
        for n in from..=to {
            let Some(hash) = db.canonical_hash(n).map_err(internal)? else {
                continue;
            };
            let Some(header) = db.header(&hash).map_err(internal)? else {
                continue;
            };
            out.extend(block_logs(&db, &header, hash, filter, false)?);
            if out.len() > max_logs {
                return Err(rpc_err(
                    LIMIT_EXCEEDED,
                    format!("query returned more than {max_logs} results"),
                ));
            }
        }
        Ok(out)
    }
}

/// What a polling filter watches.
#[derive(Debug)]
enum Kind {
    Blocks(broadcast::Receiver<Arc<ChainEvent>>),
    Logs(Box<Filter>, broadcast::Receiver<Arc<ChainEvent>>),
    PendingTransactions(broadcast::Receiver<Recovered<TxEnvelope>>),
}

#[derive(Debug)]
struct Installed {
    kind: Kind,
    last_poll: Instant,
}

/// The installed polling filters.
#[derive(Debug)]
pub(crate) struct Filters {
    installed: Mutex<HashMap<String, Installed>>,
    max: usize,
    timeout: Duration,
}

impl Filters {
    /// An empty set holding at most `max` filters, each dropped after `timeout` idle.
    pub(crate) fn new(max: usize, timeout: Duration) -> Self {
        Self {
            installed: Mutex::new(HashMap::new()),
            max,
            timeout,
        }
    }

    fn install(&self, kind: Kind) -> Result<String, ErrorObjectOwned> {
        let mut installed = self.installed.lock();
        let timeout = self.timeout;
        installed.retain(|_, f| f.last_poll.elapsed() < timeout);
        if installed.len() >= self.max {
            return Err(rpc_err(
                LIMIT_EXCEEDED,
                format!("too many filters installed (limit {})", self.max),
            ));
        }
        let id = match HexIdProvider.next_id() {
            SubscriptionId::Str(id) => id.into_owned(),
            SubscriptionId::Num(n) => n.to_string(),
        };
        installed.insert(
            id.clone(),
            Installed {
                kind,
                last_poll: Instant::now(),
            },
        );
        Ok(id)
    }

    fn uninstall(&self, id: &str) -> bool {
        self.installed.lock().remove(id).is_some()
    }
}

fn filter_not_found() -> ErrorObjectOwned {
    server_err("filter not found")
}

fn drain_events(rx: &mut broadcast::Receiver<Arc<ChainEvent>>) -> Vec<Arc<ChainEvent>> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(ev) => out.push(ev),
            Err(TryRecvError::Lagged(n)) => {
                tracing::debug!(skipped = n, "polling filter lagged behind chain events");
            }
            Err(TryRecvError::Empty | TryRecvError::Closed) => return out,
        }
    }
}

impl EthApi {
    /// `eth_newFilter`.
    pub fn new_filter(&self, params: Params) -> Result<String, ErrorObjectOwned> {
        let filter: Filter = params.one()?;
        let rx = self.events().subscribe();
        self.filters.install(Kind::Logs(Box::new(filter), rx))
    }

    /// `eth_newBlockFilter`.
    pub fn new_block_filter(&self) -> Result<String, ErrorObjectOwned> {
        let rx = self.events().subscribe();
        self.filters.install(Kind::Blocks(rx))
    }

    /// `eth_newPendingTransactionFilter`.
    pub fn new_pending_transaction_filter(&self) -> Result<String, ErrorObjectOwned> {
        let rx = self.pool().lock().subscribe_pending();
        self.filters.install(Kind::PendingTransactions(rx))
    }

    /// `eth_getFilterChanges`.
    pub fn filter_changes(&self, params: Params) -> Result<FilterChanges, ErrorObjectOwned> {
        let id: String = params.one()?;
        let mut installed = self.filters.installed.lock();
        let timeout = self.filters.timeout;
        installed.retain(|_, f| f.last_poll.elapsed() < timeout);
        let entry = installed.get_mut(&id).ok_or_else(filter_not_found)?;
        entry.last_poll = Instant::now();
        Ok(match &mut entry.kind {
            Kind::Blocks(rx) => {
                let hashes: Vec<B256> = drain_events(rx)
                    .iter()
                    .flat_map(|ev| ev.added.iter().map(|b| b.hash))
                    .collect();
                FilterChanges::Hashes(hashes)
            }
            Kind::Logs(filter, rx) => {
                let to = match filter.block_option {
                    FilterBlockOption::Range {
                        to_block: Some(BlockNumberOrTag::Number(n)),
                        ..
                    } => n,
                    _ => u64::MAX,
                };
                let mut logs = Vec::new();
                for ev in drain_events(rx) {
                    for (blocks, _) in [(&ev.removed, true), (&ev.added, false)] {
                        for block in blocks.iter().filter(|b| b.header.number <= to) {
                            logs.extend(block.logs_matching(filter));
                        }
                    }
                }
                FilterChanges::Logs(logs)
            }
            Kind::PendingTransactions(rx) => {
                let mut hashes = Vec::new();
                loop {
                    match rx.try_recv() {
                        Ok(tx) => hashes.push(*tx.tx_hash()),
                        Err(TryRecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    }
                }
                FilterChanges::Hashes(hashes)
            }
        })
    }

    /// `eth_getFilterLogs`: every log matching a log filter's full criteria.
    pub fn filter_logs(&self, params: Params) -> Result<Vec<Log>, ErrorObjectOwned> {
        let id: String = params.one()?;
        let filter = {
            let mut installed = self.filters.installed.lock();
            let entry = installed.get_mut(&id).ok_or_else(filter_not_found)?;
            entry.last_poll = Instant::now();
            match &entry.kind {
                Kind::Logs(filter, _) => (**filter).clone(),
                _ => return Err(filter_not_found()),
            }
        };
        self.logs(&filter)
    }
}

/// Registers `eth_getLogs` and the polling filter methods.
pub(crate) fn register(module: &mut RpcModule<SharedChain>, api: &Arc<EthApi>) {
    blocking(module, api, "eth_getLogs", |api, params| {
        let filter: Filter = params.one()?;
        api.logs(&filter)
    });
    blocking(module, api, "eth_newFilter", |api, p| api.new_filter(p));
    blocking(module, api, "eth_newBlockFilter", |api, _| {
        api.new_block_filter()
    });
    blocking(module, api, "eth_newPendingTransactionFilter", |api, _| {
        api.new_pending_transaction_filter()
    });
    blocking(module, api, "eth_getFilterChanges", |api, p| {
        api.filter_changes(p)
    });
    blocking(module, api, "eth_getFilterLogs", |api, p| {
        api.filter_logs(p)
    });
    blocking(module, api, "eth_uninstallFilter", |api, params| {
        let id: String = params.one()?;
        Ok(api.filters.uninstall(&id))
    });
}
