//! Peg-in status index for `getpeginstatus <txid>`: the transactions paying the federation
//! that the follower has seen, their state, and their confirmations so far. In memory,
//! persisted in the store in the same batch as the follower's cursor.
//!
//! Anyone can pay the federation a few sats, so the records of transactions that are not valid
//! deposits (rejected, below the minimum included; valid deposits cost at least
//! `minPegInSats` each) are kept only up to [`MAX_REJECTED_RECORDS`]: beyond it the oldest
//! (lowest Bitcoin block) is evicted from memory and the store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use alys_primitives::{Address, Sats, B256};
use alys_store::{Durability, Store, StoreError, WriteBatch};
use bitcoin::hashes::Hash;
use bitcoin::Txid;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::scan::DepositOutput;
use crate::state::{de_str, outputs_of, ser_str, BlockRef, FollowerEvent};

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
    pub sats: Sats,
    /// EVM recipient (valid deposits only).
    pub recipient: Option<Address>,
    /// Federation outputs (valid deposits only).
    pub vouts: Vec<u32>,
    /// Their values, in the order of `vouts` (empty in records written before the values were
    /// kept: see [`PegInRecord::outputs`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Sats>,
    /// Block containing it on the followed chain (none once dropped).
    pub block: Option<BlockRef>,
    /// Sidechain block that minted it, once known (set by the node).
    pub minted_in: Option<B256>,
}

impl PegInRecord {
    /// Each federation output with its value (valid deposits only).
    pub fn outputs(&self) -> Vec<DepositOutput> {
        outputs_of(&self.vouts, &self.values, self.sats)
    }
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

/// Most confirmations remembered for [`DepositIndex::confirmed_since`] (the oldest go first).
pub const MAX_CONFIRMATION_LOG: usize = 65_536;

/// Most records of transactions that are not valid deposits kept (the oldest go first).
pub const MAX_REJECTED_RECORDS: usize = 10_000;

/// Whether a record is one of a transaction that is not a valid deposit (bounded).
fn is_rejection(r: &PegInRecord) -> bool {
    r.recipient.is_none()
}

/// Eviction order of rejection records: Bitcoin height (none = dropped, first), then txid.
fn age(r: &PegInRecord) -> (u64, Txid) {
    (r.block.map_or(0, |b| b.height), r.txid)
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Txid, PegInRecord>,
    /// The rejection records, oldest first.
    rejections: BTreeSet<(u64, Txid)>,
    /// Every time a record became confirmed, in order: (sequence number, txid). A reader keeps
    /// the sequence number it has read up to ([`DepositIndex::confirmed_since`]).
    confirmations: BTreeMap<u64, Txid>,
    next_confirmation: u64,
    tip: Option<BlockRef>,
}

/// Where a confirmed record sorts: its Bitcoin height, then its txid.
pub type ConfirmedKey = (u64, Txid);

fn confirmed_key(r: &PegInRecord) -> Option<ConfirmedKey> {
    (r.state == PegInState::Confirmed).then(|| (r.block.map_or(0, |b| b.height), r.txid))
}

/// Shared handle on the status index (cheap to clone; the follower writes, RPC reads).
#[derive(Clone, Debug)]
pub struct DepositIndex {
    store: Arc<Store>,
    inner: Arc<RwLock<Inner>>,
}

/// Changes computed from events ([`DepositIndex::stage`]), applied to memory after their batch
/// is written ([`DepositIndex::commit`]).
#[derive(Debug, Default)]
pub struct Staged {
    records: Vec<PegInRecord>,
    evicted: Vec<Txid>,
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
        let rejections = map.values().filter(|r| is_rejection(r)).map(age).collect();
        Ok(Self {
            store,
            inner: Arc::new(RwLock::new(Inner {
                map,
                rejections,
                tip,
                ..Inner::default()
            })),
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

    /// Number of records kept.
    pub fn len(&self) -> usize {
        self.inner.read().map.len()
    }

    /// No record kept.
    pub fn is_empty(&self) -> bool {
        self.inner.read().map.is_empty()
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
    /// txid. Whether one is minted is consensus state, kept by the peg (`alys-federation`).
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

    /// The keys of every confirmed record (one pass over the index, nothing cloned but the
    /// keys), and the sequence number to read new confirmations from.
    pub fn confirmed_keys(&self) -> (Vec<ConfirmedKey>, u64) {
        let inner = self.inner.read();
        let keys = inner.map.values().filter_map(confirmed_key).collect();
        (keys, inner.next_confirmation)
    }

    /// The keys of the records confirmed from sequence number `since` on that are still
    /// confirmed, and the sequence number to read from next; `None` when confirmations since
    /// then were forgotten (more than [`MAX_CONFIRMATION_LOG`]): read [`Self::confirmed_keys`].
    pub fn confirmed_since(&self, since: u64) -> Option<(Vec<ConfirmedKey>, u64)> {
        let inner = self.inner.read();
        let oldest = inner
            .confirmations
            .first_key_value()
            .map_or(inner.next_confirmation, |(seq, _)| *seq);
        if since < oldest {
            return None;
        }
        let keys = inner
            .confirmations
            .range(since..)
            .filter_map(|(_, txid)| inner.map.get(txid).and_then(confirmed_key))
            .collect();
        Some((keys, inner.next_confirmation))
    }

    /// The record of `txid` if it is confirmed and sorts at `key` (a key read earlier may be
    /// stale: reorged out, or confirmed again in another block).
    pub fn confirmed_at(&self, key: &ConfirmedKey) -> Option<PegInRecord> {
        let inner = self.inner.read();
        inner
            .map
            .get(&key.1)
            .filter(|r| confirmed_key(r).as_ref() == Some(key))
            .cloned()
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

    /// Computes the record changes of `events` and adds them to `batch` (the follower does, in
    /// the batch of its cursor).
    pub fn stage(&self, events: &[FollowerEvent], batch: &mut WriteBatch) -> Staged {
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
                    values: d.values.clone(),
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
                    values: d.values.clone(),
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
                    values: Vec::new(),
                    block: Some(r.block),
                    minted_in,
                },
                FollowerEvent::RejectionDropped(r) => PegInRecord {
                    txid,
                    state: PegInState::Dropped,
                    sats: r.sats,
                    recipient: None,
                    vouts: Vec::new(),
                    values: Vec::new(),
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
        // Bound the rejection records: the resulting set, oldest evicted first.
        let mut rejections = inner.rejections.clone();
        for r in &records {
            if let Some(old) = inner.map.get(&r.txid).filter(|o| is_rejection(o)) {
                rejections.remove(&age(old));
            }
            if is_rejection(r) {
                rejections.insert(age(r));
            }
        }
        let mut evicted = Vec::new();
        while rejections.len() > MAX_REJECTED_RECORDS {
            let Some((_, txid)) = rejections.pop_first() else {
                break;
            };
            batch.delete(PEGIN_STATUS, &txid.to_byte_array());
            evicted.push(txid);
        }
        Staged { records, evicted }
    }

    /// Applies staged changes after their batch was written.
    pub fn commit(&self, staged: Staged, tip: Option<BlockRef>) {
        let mut inner = self.inner.write();
        for r in staged.records {
            let was = inner.map.get(&r.txid).and_then(confirmed_key);
            if let Some(key) = confirmed_key(&r).filter(|k| was.as_ref() != Some(k)) {
                let seq = inner.next_confirmation;
                inner.confirmations.insert(seq, key.1);
                inner.next_confirmation = seq + 1;
                while inner.confirmations.len() > MAX_CONFIRMATION_LOG {
                    inner.confirmations.pop_first();
                }
            }
            if let Some(old) = inner.map.insert(r.txid, r.clone()) {
                if is_rejection(&old) {
                    inner.rejections.remove(&age(&old));
                }
            }
            if is_rejection(&r) {
                inner.rejections.insert(age(&r));
            }
        }
        for txid in staged.evicted {
            if let Some(old) = inner.map.remove(&txid) {
                inner.rejections.remove(&age(&old));
            }
        }
        inner.tip = tip;
    }
}

fn put(batch: &mut WriteBatch, r: &PegInRecord) {
    // Serializing plain data to JSON cannot fail.
    let value = serde_json::to_vec(r).unwrap_or_default();
    batch.put(PEGIN_STATUS, &r.txid.to_byte_array(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{FoundDeposit, FoundRejection};

    fn block(height: u64) -> BlockRef {
        BlockRef {
            height,
            hash: bitcoin::BlockHash::from_byte_array([height as u8; 32]),
        }
    }

    fn txid(n: u64) -> Txid {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&n.to_be_bytes());
        Txid::from_byte_array(b)
    }

    fn apply(index: &DepositIndex, store: &Store, events: &[FollowerEvent]) {
        let mut batch = WriteBatch::new();
        let staged = index.stage(events, &mut batch);
        store.write(batch, Durability::Synced).expect("write");
        index.commit(staged, None);
    }

    #[test]
    fn confirmations_are_read_incrementally_and_stale_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let index = DepositIndex::open(store.clone(), None).expect("index");
        let deposit = |n: u64, height: u64| FoundDeposit {
            txid: txid(n),
            vouts: vec![0],
            values: vec![Sats(100_000)],
            sats: Sats(100_000),
            recipient: Address::repeat_byte(1),
            block: block(height),
        };
        apply(
            &index,
            &store,
            &[
                FollowerEvent::Deposit(deposit(1, 5)),
                FollowerEvent::DepositSeen(deposit(2, 6)),
            ],
        );
        let (all, next) = index.confirmed_keys();
        assert_eq!(all, vec![(5, txid(1))]);
        assert_eq!(index.confirmed_since(next), Some((vec![], next)));
        // A new confirmation; the first deposit reorged out, then confirmed in another block.
        apply(&index, &store, &[FollowerEvent::Deposit(deposit(2, 6))]);
        apply(&index, &store, &[FollowerEvent::Reverted(deposit(1, 5))]);
        assert_eq!(index.confirmed_at(&(5, txid(1))), None);
        apply(&index, &store, &[FollowerEvent::Deposit(deposit(1, 7))]);
        let (new, after) = index.confirmed_since(next).expect("remembered");
        assert_eq!(new, vec![(6, txid(2)), (7, txid(1))]);
        assert_eq!(after, next + 2);
        assert_eq!(index.confirmed_at(&(5, txid(1))), None, "stale key");
        assert_eq!(
            index.confirmed_at(&(7, txid(1))).map(|r| r.txid),
            Some(txid(1))
        );
        // Past the log's bound, an old reader is told to read everything again.
        for chunk in (0..MAX_CONFIRMATION_LOG as u64)
            .collect::<Vec<_>>()
            .chunks(4096)
        {
            let events: Vec<_> = chunk
                .iter()
                .map(|n| FollowerEvent::Deposit(deposit(1_000 + n, 8)))
                .collect();
            apply(&index, &store, &events);
        }
        assert_eq!(index.confirmed_since(next), None);
        assert_eq!(index.confirmed_keys().0.len(), MAX_CONFIRMATION_LOG + 2);
    }

    #[test]
    fn dust_flood_is_bounded_and_deposits_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let index = DepositIndex::open(store.clone(), None).expect("index");
        let deposit = FoundDeposit {
            txid: txid(u64::MAX),
            vouts: vec![0],
            values: vec![Sats(100_000)],
            sats: Sats(100_000),
            recipient: Address::repeat_byte(1),
            block: block(1),
        };
        apply(&index, &store, &[FollowerEvent::Deposit(deposit.clone())]);
        // A flood of dust payments (below the minimum), block after block.
        let total = MAX_REJECTED_RECORDS as u64 + 500;
        for chunk in 0..(total / 100) {
            let events: Vec<_> = (0..100)
                .map(|i| {
                    FollowerEvent::Rejected(FoundRejection {
                        txid: txid(chunk * 100 + i),
                        sats: Sats(1),
                        reason: "below the minimum".into(),
                        block: block(2 + chunk),
                    })
                })
                .collect();
            apply(&index, &store, &events);
        }
        assert_eq!(index.len(), MAX_REJECTED_RECORDS + 1);
        // The oldest went first; the newest and the valid deposit stay.
        assert!(index.status(&txid(0)).is_none());
        assert!(index.status(&txid(499)).is_none());
        assert!(index.status(&txid(500)).is_some());
        assert!(index.status(&txid(total - 1)).is_some());
        assert_eq!(
            index.status(&deposit.txid).expect("deposit").record.state,
            PegInState::Confirmed
        );
        // The store holds what memory holds.
        let reopened = DepositIndex::open(store, None).expect("reopen");
        assert_eq!(reopened.len(), MAX_REJECTED_RECORDS + 1);
        assert!(reopened.status(&txid(0)).is_none());
    }
}
