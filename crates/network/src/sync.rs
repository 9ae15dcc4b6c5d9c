//! Catching up: which blocks to ask which peer for, from the peers' statuses and ours.
//!
//! * **Range sync:** while a peer reports a head above ours, ask one peer at a time (rotating
//!   among those ahead) for the next [`MAX_BLOCKS_PER_REQUEST`] canonical blocks. Fetching is
//!   pipelined with import: once a batch is handed to consensus, the next one (after the
//!   batch's end) is asked for while consensus imports, as long as at most
//!   [`MAX_QUEUED_BLOCKS`] handed-over blocks are not yet imported. If our head does not reach
//!   the handed-over end within [`IMPORT_WAIT`], the queue is forgotten and the next batch
//!   starts after our head again. Two batches in a row that start there without moving our
//!   head mean we are on a branch the peers do not share: the next batch starts right after
//!   our finalized block instead, which fork choice then resolves.
//! * **Parent fetch:** a gossiped block or proposal whose parent we lack asks its relaying peer
//!   for the parent by root, and so on up to [`MAX_PARENT_DEPTH`] ancestors; consensus keeps
//!   the children as orphans until their parents arrive.
//!
//! Everything here is bounded: one range request in flight, at most [`MAX_QUEUED_BLOCKS`]
//! fetched blocks waiting for import, at most [`MAX_PARENT_REQUESTS`] parent roots being
//! fetched.

use crate::reqresp::{Status, MAX_BLOCKS_PER_REQUEST};
use alloy_primitives::B256;
use libp2p::PeerId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a range response may take.
pub const RANGE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long to wait for consensus to import a delivered batch.
pub const IMPORT_WAIT: Duration = Duration::from_secs(10);
/// Most blocks handed to consensus and not yet imported before the next range request waits.
pub const MAX_QUEUED_BLOCKS: u64 = 2 * MAX_BLOCKS_PER_REQUEST;
/// Ancestors fetched by root, one after the other, for one missing parent.
pub const MAX_PARENT_DEPTH: u32 = 64;
/// Parent roots being fetched at once.
pub const MAX_PARENT_REQUESTS: usize = 64;
/// How long a parent request is remembered (not asked again meanwhile).
pub const PARENT_RETRY: Duration = Duration::from_secs(5);

/// A range request to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeAsk {
    /// To whom.
    pub peer: PeerId,
    /// First height.
    pub start_height: u64,
    /// How many.
    pub count: u64,
}

/// Blocks handed to consensus and not yet seen imported.
#[derive(Clone, Copy, Debug)]
struct Queued {
    /// Up to this height.
    until_height: u64,
    /// When to stop waiting for them.
    deadline: Instant,
}

/// The sync state.
#[derive(Debug)]
pub struct SyncState {
    /// The range request in flight and when it was sent.
    in_flight: Option<(RangeAsk, Instant)>,
    queued: Option<Queued>,
    /// The start of the previous batch and how many batches in a row started there.
    last_start: Option<(u64, u32)>,
    rotation: usize,
    parents: HashMap<B256, (Instant, u32)>,
    progress: Option<Progress>,
}

/// Throughput of the current catch-up, for the log line.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// When catching up began.
    pub started: Instant,
    /// Our head height then.
    pub start_height: u64,
    /// Last time progress was logged.
    pub logged: Instant,
}

impl Default for SyncState {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncState {
    /// Idle.
    pub fn new() -> Self {
        Self {
            in_flight: None,
            queued: None,
            last_start: None,
            rotation: 0,
            parents: HashMap::new(),
            progress: None,
        }
    }

    /// The highest head any peer reports.
    pub fn target(peers: &HashMap<PeerId, Status>) -> Option<u64> {
        peers.values().map(|s| s.head_height).max()
    }

    /// Whether a range request is outstanding.
    pub fn requesting(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The next range request, if one is due.
    pub fn next(
        &mut self,
        ours: &Status,
        peers: &HashMap<PeerId, Status>,
        now: Instant,
    ) -> Option<RangeAsk> {
        if let Some((_, at)) = self.in_flight {
            if now.saturating_duration_since(at) < RANGE_TIMEOUT {
                return None;
            }
            self.in_flight = None;
        }
        let target = Self::target(peers)?;
        if target <= ours.head_height {
            self.progress = None;
            self.last_start = None;
            self.queued = None;
            return None;
        }
        let mut start = ours.head_height + 1;
        match self.queued {
            Some(q) if ours.head_height < q.until_height && now < q.deadline => {
                if q.until_height - ours.head_height >= MAX_QUEUED_BLOCKS
                    || q.until_height >= target
                {
                    return None;
                }
                start = q.until_height + 1;
            }
            _ => {
                self.queued = None;
                let repeats = match self.last_start {
                    Some((s, n)) if s == start => n + 1,
                    _ => 1,
                };
                if repeats > 2 {
                    start = ours.finalized_height + 1;
                }
                self.last_start = Some((ours.head_height + 1, repeats));
            }
        }
        let mut ahead: Vec<PeerId> = peers
            .iter()
            .filter(|(_, s)| s.head_height >= start)
            .map(|(p, _)| *p)
            .collect();
        if ahead.is_empty() {
            return None;
        }
        ahead.sort();
        self.rotation = self.rotation.wrapping_add(1);
        let peer = ahead[self.rotation % ahead.len()];
        let peer_head = peers.get(&peer).map_or(target, |s| s.head_height);
        let count = (peer_head - start + 1).min(MAX_BLOCKS_PER_REQUEST);
        let ask = RangeAsk {
            peer,
            start_height: start,
            count,
        };
        self.progress.get_or_insert(Progress {
            started: now,
            start_height: ours.head_height,
            logged: now,
        });
        self.in_flight = Some((ask, now));
        Some(ask)
    }

    /// The outstanding range request, if any.
    pub fn outstanding(&self) -> Option<RangeAsk> {
        self.in_flight.map(|(ask, _)| ask)
    }

    /// The range request failed or returned nothing usable: ask again (another peer) next time.
    pub fn failed(&mut self) {
        self.in_flight = None;
    }

    /// `n` blocks of the outstanding request were handed to consensus (not yet imported).
    pub fn delivered(&mut self, n: u64, now: Instant) {
        let Some((ask, _)) = self.in_flight.take() else {
            return;
        };
        if n == 0 {
            return;
        }
        let until_height = ask.start_height + n - 1;
        self.queued = Some(Queued {
            until_height: self
                .queued
                .map_or(until_height, |q| q.until_height.max(until_height)),
            deadline: now + IMPORT_WAIT,
        });
    }

    /// Whether `root` should be fetched now (not already being fetched) at `depth`; records it.
    pub fn want_parent(&mut self, root: B256, depth: u32, now: Instant) -> bool {
        if depth > MAX_PARENT_DEPTH {
            return false;
        }
        self.parents
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < PARENT_RETRY);
        if self.parents.contains_key(&root) || self.parents.len() >= MAX_PARENT_REQUESTS {
            return false;
        }
        self.parents.insert(root, (now, depth));
        true
    }

    /// The depth at which `root` was asked for (0 if not asked).
    pub fn parent_depth(&self, root: &B256) -> u32 {
        self.parents.get(root).map_or(0, |(_, d)| *d)
    }

    /// Blocks per second imported since catching up began (`None` when not catching up).
    pub fn rate(&self, head: u64, now: Instant) -> Option<f64> {
        let p = self.progress.as_ref()?;
        let secs = now.saturating_duration_since(p.started).as_secs_f64();
        (secs > 0.0).then(|| head.saturating_sub(p.start_height) as f64 / secs)
    }

    /// A progress line is due: `(blocks/s, ETA seconds)` since catching up began, at most every
    /// `every`.
    pub fn progress_due(
        &mut self,
        head: u64,
        target: u64,
        now: Instant,
        every: Duration,
    ) -> Option<(f64, f64)> {
        let p = self.progress.as_mut()?;
        if now.saturating_duration_since(p.logged) < every {
            return None;
        }
        p.logged = now;
        let secs = now
            .saturating_duration_since(p.started)
            .as_secs_f64()
            .max(1e-3);
        let rate = head.saturating_sub(p.start_height) as f64 / secs;
        let eta = if rate > 0.0 {
            target.saturating_sub(head) as f64 / rate
        } else {
            f64::INFINITY
        };
        Some((rate, eta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(head: u64, finalized: u64) -> Status {
        Status {
            head_height: head,
            finalized_height: finalized,
            ..Status::default()
        }
    }

    #[test]
    fn asks_in_batches_pipelined_with_import_and_stops_at_the_target() {
        let mut s = SyncState::new();
        let peer = PeerId::random();
        let peers = HashMap::from([(peer, status(200, 90))]);
        let now = Instant::now();
        let ask = s.next(&status(10, 5), &peers, now).unwrap();
        assert_eq!((ask.start_height, ask.count), (11, MAX_BLOCKS_PER_REQUEST));
        assert!(
            s.next(&status(10, 5), &peers, now).is_none(),
            "one in flight"
        );
        s.delivered(32, now);
        // While consensus imports 11..=42, the next batch is fetched.
        let ask = s.next(&status(20, 5), &peers, now).unwrap();
        assert_eq!(ask.start_height, 43);
        s.delivered(32, now);
        // 64 blocks handed over and not imported: wait.
        assert!(s.next(&status(10, 5), &peers, now).is_none(), "queue full");
        let ask = s.next(&status(42, 5), &peers, now).unwrap();
        assert_eq!(ask.start_height, 75, "after the queued end");
        s.delivered(32, now);
        let ask = s.next(&status(198, 5), &peers, now).unwrap();
        assert_eq!((ask.start_height, ask.count), (199, 2));
        s.delivered(2, now);
        assert!(
            s.next(&status(199, 5), &peers, now).is_none(),
            "all asked for"
        );
        assert!(s.next(&status(200, 5), &peers, now).is_none(), "synced");
    }

    #[test]
    fn a_queue_that_is_not_imported_in_time_is_asked_again_from_the_head() {
        let mut s = SyncState::new();
        let peers = HashMap::from([(PeerId::random(), status(200, 0))]);
        let now = Instant::now();
        s.next(&status(10, 0), &peers, now).unwrap();
        s.delivered(32, now);
        let ask = s.next(&status(10, 0), &peers, now + IMPORT_WAIT).unwrap();
        assert_eq!(ask.start_height, 11, "the handed-over blocks were lost");
    }

    #[test]
    fn a_head_that_does_not_move_restarts_from_finalized() {
        let mut s = SyncState::new();
        let peers = HashMap::from([(PeerId::random(), status(100, 90))]);
        let mut now = Instant::now();
        for _ in 0..2 {
            let ask = s.next(&status(50, 40), &peers, now).unwrap();
            assert_eq!(ask.start_height, 51);
            s.delivered(32, now);
            now += IMPORT_WAIT;
        }
        let ask = s.next(&status(50, 40), &peers, now).unwrap();
        assert_eq!(ask.start_height, 41, "on a fork: from after finalized");
    }

    #[test]
    fn timeout_and_failure_free_the_slot() {
        let mut s = SyncState::new();
        let peers = HashMap::from([(PeerId::random(), status(100, 0))]);
        let now = Instant::now();
        assert!(s.next(&status(0, 0), &peers, now).is_some());
        assert!(s.next(&status(0, 0), &peers, now + RANGE_TIMEOUT).is_some());
        s.failed();
        assert!(s.next(&status(0, 0), &peers, now + RANGE_TIMEOUT).is_some());
    }

    #[test]
    fn parent_requests_are_bounded_and_deduplicated() {
        let mut s = SyncState::new();
        let now = Instant::now();
        assert!(s.want_parent(B256::repeat_byte(1), 1, now));
        assert!(!s.want_parent(B256::repeat_byte(1), 1, now));
        assert!(!s.want_parent(B256::repeat_byte(2), MAX_PARENT_DEPTH + 1, now));
        for i in 0..200u32 {
            let mut r = [0u8; 32];
            r[..4].copy_from_slice(&i.to_be_bytes());
            r[31] = 9;
            s.want_parent(B256::from(r), 1, now);
        }
        assert!(s.parents.len() <= MAX_PARENT_REQUESTS);
        assert!(s.want_parent(B256::repeat_byte(1), 1, now + PARENT_RETRY));
    }
}
