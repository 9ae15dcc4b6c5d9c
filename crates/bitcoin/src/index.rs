//! Peg-in status index for `getpeginstatus <txid>`: every transaction paying the federation
//! that the follower has seen, its state, and its confirmations so far. In memory, persisted in
//! the store in the same batch as the follower's cursor.

use std::collections::HashMap;
use std::sync::Arc;

use alys_primitives::{Address, B256};
use alys_store::{Durability, Store, StoreError, WriteBatch};
use bitcoin::hashes::Hash;
use bitcoin::Txid;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::state::{de_str, ser_str, BlockRef, FollowerEvent};

/// Store column of the status records (key: txid bytes, value: JSON [`PegInRecord`]).
pub use alys_store::columns::bitcoin::PEGIN_STATUS;

/// Bitcoin-side state of a transaction paying the federation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum PegInState {
    /// In a block on the active chain, fewer confirmations than required.
    Seen,
    /// Reached the required confirmations; reported for minting.
    Confirmed,
    /// Pays the federation but is not a valid deposit; never minted.
    Rejected {
        /// Why.
        reason: String,
    },
    /// Its block was reorged out before confirmation; never reported (it may come back).
    Dropped,
    /// Its block was reorged out after it had been reported.
    Reverted,
}

/// One transaction's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PegInRecord {
    /// The transaction.
    #[serde(serialize_with = "ser_str", deserialize_with = "de_str")]
    pub txid: Txid,
    /// Current state.
    #[serde(flatten)]
    pub state: PegInState,
    /// Sum of its federation outputs.
    pub sats: u64,
    /// EVM recipient (valid deposits only).
    pub recipient: Option<Address>,
    /// Federation outputs (valid deposits only).
    pub vouts: Vec<u32>,
    /// Block containing it on the followed chain (none once dropped).
    pub block: Option<BlockRef>,
    /// Sidechain block that minted it, once known (set by the node).
    pub minted_in: Option<B256>,
}

/// A record with its confirmations as of the follower's tip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PegInStatus {
    /// The record.
    #[serde(flatten)]
    pub record: PegInRecord,
    /// Confirmations so far (0 when not in a followed block).
    pub confirmations: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Txid, PegInRecord>,
    tip: Option<BlockRef>,
}

/// Shared handle on the status index (cheap to clone; the follower writes, RPC reads).
#[derive(Clone, Debug)]
pub struct DepositIndex {
    store: Arc<Store>,
    inner: Arc<RwLock<Inner>>,
}

/// Changes computed from events, applied to memory after their batch is written.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    records: Vec<PegInRecord>,
}

impl DepositIndex {
    /// Loads the index from `store`.
    pub fn open(store: Arc<Store>, tip: Option<BlockRef>) -> Result<Self, StoreError> {
        let mut map = HashMap::new();
        for (key, value) in store.scan(PEGIN_STATUS, &[], &[]) {
            let rec: PegInRecord =
                serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt {
                    column: PEGIN_STATUS.byte(),
                    reason: format!("peg-in record {}: {e}", hex::encode(&key)),
                })?;
            map.insert(rec.txid, rec);
        }
        Ok(Self {
            store,
            inner: Arc::new(RwLock::new(Inner { map, tip })),
        })
    }

    /// Status of `txid`, if the follower has seen it pay the federation.
    pub fn status(&self, txid: &Txid) -> Option<PegInStatus> {
        let inner = self.inner.read();
        let record = inner.map.get(txid)?.clone();
        let confirmations = match (&record.state, record.block, inner.tip) {
            (PegInState::Dropped | PegInState::Reverted, _, _) => 0,
            (_, Some(b), Some(t)) => (t.height + 1).saturating_sub(b.height),
            _ => 0,
        };
        Some(PegInStatus {
            record,
            confirmations,
        })
    }

    /// All records (any order).
    pub fn records(&self) -> Vec<PegInRecord> {
        self.inner.read().map.values().cloned().collect()
    }

    /// Confirmed deposits not yet marked minted, ordered by block height then txid.
    pub fn confirmed_unminted(&self) -> Vec<PegInRecord> {
        let mut v: Vec<_> = self
            .inner
            .read()
            .map
            .values()
            .filter(|r| r.state == PegInState::Confirmed && r.minted_in.is_none())
            .cloned()
            .collect();
        v.sort_by_key(|r| (r.block.map(|b| b.height), r.txid));
        v
    }

    /// Confirmed deposits (whatever the node-local `minted_in`), ordered by block height then
    /// txid. Whether one is minted is consensus state: see [`crate::pegin_source`].
    pub fn confirmed(&self) -> Vec<PegInRecord> {
        let mut v: Vec<_> = self
            .inner
            .read()
            .map
            .values()
            .filter(|r| r.state == PegInState::Confirmed)
            .cloned()
            .collect();
        v.sort_by_key(|r| (r.block.map(|b| b.height), r.txid));
        v
    }

    /// Records (or clears, on a sidechain reorg) the sidechain block that minted `txid`.
    pub fn set_minted(&self, txid: &Txid, block_root: Option<B256>) -> Result<bool, StoreError> {
        let mut inner = self.inner.write();
        let Some(rec) = inner.map.get_mut(txid) else {
            return Ok(false);
        };
        let mut updated = rec.clone();
        updated.minted_in = block_root;
        let mut batch = WriteBatch::new();
        put(&mut batch, &updated);
        self.store.write(batch, Durability::Synced)?;
        *rec = updated;
        Ok(true)
    }

    /// Computes the record changes of `events` and adds them to `batch`.
    pub(crate) fn stage(&self, events: &[FollowerEvent], batch: &mut WriteBatch) -> Staged {
        let inner = self.inner.read();
        let mut work: HashMap<Txid, PegInRecord> = HashMap::new();
        for ev in events {
            let txid = match ev {
                FollowerEvent::DepositSeen(d)
                | FollowerEvent::Deposit(d)
                | FollowerEvent::Dropped(d)
                | FollowerEvent::Reverted(d) => d.txid,
                FollowerEvent::Rejected(r) | FollowerEvent::RejectionDropped(r) => r.txid,
                FollowerEvent::BlockConnected(_) | FollowerEvent::BlockDisconnected(_) => continue,
            };
            let current = work.get(&txid).or_else(|| inner.map.get(&txid)).cloned();
            let minted_in = current.as_ref().and_then(|c| c.minted_in);
            let next = match ev {
                FollowerEvent::DepositSeen(d) | FollowerEvent::Deposit(d) => PegInRecord {
                    txid,
                    state: if matches!(ev, FollowerEvent::Deposit(_)) {
                        PegInState::Confirmed
                    } else {
                        PegInState::Seen
                    },
                    sats: d.sats,
                    recipient: Some(d.recipient),
                    vouts: d.vouts.clone(),
                    block: Some(d.block),
                    minted_in,
                },
                FollowerEvent::Dropped(d) | FollowerEvent::Reverted(d) => PegInRecord {
                    txid,
                    state: if matches!(ev, FollowerEvent::Reverted(_)) {
                        PegInState::Reverted
                    } else {
                        PegInState::Dropped
                    },
                    sats: d.sats,
                    recipient: Some(d.recipient),
                    vouts: d.vouts.clone(),
                    block: None,
                    minted_in,
                },
                FollowerEvent::Rejected(r) => PegInRecord {
                    txid,
                    state: PegInState::Rejected {
                        reason: r.reason.clone(),
                    },
                    sats: r.sats,
                    recipient: None,
                    vouts: Vec::new(),
                    block: Some(r.block),
                    minted_in,
                },
                FollowerEvent::RejectionDropped(r) => PegInRecord {
                    txid,
                    state: PegInState::Dropped,
                    sats: r.sats,
                    recipient: None,
                    vouts: Vec::new(),
                    block: None,
                    minted_in,
                },
                FollowerEvent::BlockConnected(_) | FollowerEvent::BlockDisconnected(_) => continue,
            };
            work.insert(txid, next);
        }
        let records: Vec<_> = work.into_values().collect();
        for r in &records {
            put(batch, r);
        }
        Staged { records }
    }

    /// Applies staged changes after their batch was written.
    pub(crate) fn commit(&self, staged: Staged, tip: Option<BlockRef>) {
        let mut inner = self.inner.write();
        for r in staged.records {
            inner.map.insert(r.txid, r);
        }
        inner.tip = tip;
    }
}

fn put(batch: &mut WriteBatch, r: &PegInRecord) {
    // Serializing plain data to JSON cannot fail.
    let value = serde_json::to_vec(r).unwrap_or_default();
    batch.put(PEGIN_STATUS, &r.txid.to_byte_array(), value);
}
