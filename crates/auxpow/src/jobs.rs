//! Outstanding merged-mining work, keyed by work hash.
//!
//! `createauxblock` inserts a [`Job`]; `submitauxblock` looks it up by hash. The manager is
//! bounded and prunes itself:
//!
//! * at most `max_jobs` jobs; inserting beyond that evicts the oldest first;
//! * [`JobManager::on_head_moved`] evicts jobs whose range is stale: the range start is no longer
//!   right after the finalized block (`range_start <= finalized_height`, i.e. a proof already
//!   finalized part of it), or the job's head is more than `max_head_lag` blocks behind the new
//!   head. Jobs for older but still unfinalized heads stay valid, because pools take seconds to
//!   minutes to return a share while the head moves every slot;
//! * [`JobManager::retain`] evicts by any other rule (e.g. the job's head was reorged out).
//!
//! Evicted hashes are remembered (bounded, as many as `max_jobs`) so that a late submission gets
//! [`JobError::Stale`] rather than [`JobError::Unknown`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use bitcoin::CompactTarget;
use thiserror::Error;

use crate::work::{WorkCommitment, WorkHash};

/// One unit of outstanding work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job<P = ()> {
    /// `commitment.work_hash()`.
    pub hash: WorkHash,
    /// What the hash commits to (chain id, head root, range start, payout).
    pub commitment: WorkCommitment,
    /// Height of `commitment.head_root` (end of the range).
    pub head_height: u64,
    /// Target the proof must meet.
    pub bits: CompactTarget,
    /// Caller data (e.g. the coinbase value shown to the miner).
    pub payload: P,
}

impl<P> Job<P> {
    /// Height of the first block the job finalizes.
    pub fn range_start(&self) -> u64 {
        self.commitment.range_start
    }
}

/// A submitted hash that has no job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum JobError {
    /// Never issued by this node (or forgotten long ago).
    #[error("unknown work hash {0}: request new work with createauxblock")]
    Unknown(WorkHash),
    /// Issued but evicted: its range was finalized, its head is too old, or the job cap was hit.
    #[error("stale work hash {0}: the chain moved on, request new work with createauxblock")]
    Stale(WorkHash),
}

/// Bounded store of outstanding jobs.
#[derive(Debug)]
pub struct JobManager<P = ()> {
    max_jobs: usize,
    max_head_lag: u64,
    next_seq: u64,
    jobs: HashMap<WorkHash, (u64, Job<P>)>,
    order: BTreeMap<u64, WorkHash>,
    evicted: VecDeque<WorkHash>,
    evicted_set: HashSet<WorkHash>,
}

impl<P> JobManager<P> {
    /// A manager keeping at most `max_jobs` (≥ 1) jobs, each valid until its head is more than
    /// `max_head_lag` blocks behind the current head.
    pub fn new(max_jobs: usize, max_head_lag: u64) -> Self {
        JobManager {
            max_jobs: max_jobs.max(1),
            max_head_lag,
            next_seq: 0,
            jobs: HashMap::new(),
            order: BTreeMap::new(),
            evicted: VecDeque::new(),
            evicted_set: HashSet::new(),
        }
    }

    /// Number of outstanding jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether there is no outstanding job.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Stores a job for `commitment` (re-issuing an existing hash replaces it and makes it the
    /// newest) and returns its work hash. Evicts the oldest jobs beyond the cap.
    pub fn insert(
        &mut self,
        commitment: WorkCommitment,
        head_height: u64,
        bits: CompactTarget,
        payload: P,
    ) -> WorkHash {
        let hash = commitment.work_hash();
        if let Some((seq, _)) = self.jobs.remove(&hash) {
            self.order.remove(&seq);
        }
        self.evicted_set.remove(&hash);
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        self.order.insert(seq, hash);
        self.jobs.insert(
            hash,
            (
                seq,
                Job {
                    hash,
                    commitment,
                    head_height,
                    bits,
                    payload,
                },
            ),
        );
        while self.jobs.len() > self.max_jobs {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.jobs.remove(&oldest);
            self.remember_evicted(oldest);
        }
        hash
    }

    /// The job for `hash`.
    pub fn get(&self, hash: &WorkHash) -> Result<&Job<P>, JobError> {
        match self.jobs.get(hash) {
            Some((_, job)) => Ok(job),
            None => Err(self.missing(hash)),
        }
    }

    /// Removes and returns the job for `hash` (e.g. once its proof was accepted).
    pub fn remove(&mut self, hash: &WorkHash) -> Result<Job<P>, JobError> {
        match self.jobs.remove(hash) {
            Some((seq, job)) => {
                self.order.remove(&seq);
                self.remember_evicted(*hash);
                Ok(job)
            }
            None => Err(self.missing(hash)),
        }
    }

    /// Evicts jobs made stale by a new head: range start ≤ `finalized_height`, or head more
    /// than `max_head_lag` blocks behind `head_height`. Returns how many were evicted.
    pub fn on_head_moved(&mut self, finalized_height: u64, head_height: u64) -> usize {
        let lag = self.max_head_lag;
        self.retain(|job| {
            job.range_start() > finalized_height
                && job.head_height.saturating_add(lag) >= head_height
        })
    }

    /// Keeps only the jobs for which `keep` is true. Returns how many were evicted.
    pub fn retain(&mut self, mut keep: impl FnMut(&Job<P>) -> bool) -> usize {
        let drop: Vec<(u64, WorkHash)> = self
            .jobs
            .iter()
            .filter(|(_, (_, job))| !keep(job))
            .map(|(hash, (seq, _))| (*seq, *hash))
            .collect();
        for (seq, hash) in &drop {
            self.order.remove(seq);
            self.jobs.remove(hash);
            self.remember_evicted(*hash);
        }
        drop.len()
    }

    fn missing(&self, hash: &WorkHash) -> JobError {
        if self.evicted_set.contains(hash) {
            JobError::Stale(*hash)
        } else {
            JobError::Unknown(*hash)
        }
    }

    fn remember_evicted(&mut self, hash: WorkHash) {
        if self.evicted_set.insert(hash) {
            self.evicted.push_back(hash);
        }
        while self.evicted.len() > self.max_jobs {
            if let Some(old) = self.evicted.pop_front() {
                self.evicted_set.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256};

    fn commitment(range_start: u64, head: u8) -> WorkCommitment {
        WorkCommitment {
            chain_id: 7,
            head_root: B256::repeat_byte(head),
            range_start,
            payout: Address::repeat_byte(1),
        }
    }

    fn bits() -> CompactTarget {
        CompactTarget::from_consensus(0x207f_ffff)
    }

    #[test]
    fn insert_get_remove() {
        let mut m = JobManager::new(8, 100);
        let h = m.insert(commitment(1, 1), 5, bits(), 42u64);
        assert_eq!(h, commitment(1, 1).work_hash());
        assert_eq!(m.get(&h).unwrap().payload, 42);
        assert_eq!(m.get(&h).unwrap().range_start(), 1);
        let unknown = WorkHash([9; 32]);
        assert_eq!(m.get(&unknown), Err(JobError::Unknown(unknown)));
        assert_eq!(m.remove(&h).unwrap().head_height, 5);
        assert_eq!(m.get(&h), Err(JobError::Stale(h)));
        assert!(m.is_empty());
    }

    #[test]
    fn cap_evicts_oldest_first() {
        let mut m = JobManager::new(3, 100);
        let hs: Vec<_> = (0..5u8)
            .map(|i| m.insert(commitment(1, i), 1, bits(), ()))
            .collect();
        assert_eq!(m.len(), 3);
        assert_eq!(m.get(&hs[0]), Err(JobError::Stale(hs[0])));
        assert_eq!(m.get(&hs[1]), Err(JobError::Stale(hs[1])));
        for h in &hs[2..] {
            assert!(m.get(h).is_ok());
        }
        // Re-issuing the oldest makes it the newest.
        m.insert(commitment(1, 2), 1, bits(), ());
        m.insert(commitment(1, 9), 1, bits(), ());
        assert!(m.get(&hs[2]).is_ok());
        assert_eq!(m.get(&hs[3]), Err(JobError::Stale(hs[3])));
    }

    #[test]
    fn head_moves_evict_stale_ranges() {
        let mut m = JobManager::new(16, 10);
        let old_range = m.insert(commitment(1, 1), 3, bits(), ());
        let old_head = m.insert(commitment(5, 2), 6, bits(), ());
        let fresh = m.insert(commitment(5, 3), 20, bits(), ());
        // Finalized up to 4: range starting at 1 is stale. Head 20: head 6 lags 14 > 10.
        assert_eq!(m.on_head_moved(4, 20), 2);
        assert_eq!(m.get(&old_range), Err(JobError::Stale(old_range)));
        assert_eq!(m.get(&old_head), Err(JobError::Stale(old_head)));
        assert!(m.get(&fresh).is_ok());
        // Still valid while unfinalized and within the lag.
        assert_eq!(m.on_head_moved(4, 30), 0);
        assert_eq!(m.retain(|j| j.head_height != 20), 1);
        assert!(m.is_empty());
    }

    #[test]
    fn stale_memory_is_bounded() {
        let mut m = JobManager::new(2, 0);
        for i in 0..100u8 {
            m.insert(commitment(1, i), 1, bits(), ());
        }
        assert!(m.evicted.len() <= 2 && m.evicted_set.len() <= 2);
        let first = commitment(1, 0).work_hash();
        assert_eq!(m.get(&first), Err(JobError::Unknown(first)));
    }
}
