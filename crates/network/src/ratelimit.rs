//! Token buckets limiting what each peer may ask of this node over request/response.
//!
//! Two buckets per connected peer: status requests (cost 1) and blocks (cost = blocks asked
//! for, by range or by root). A request that finds its bucket short is answered with a
//! rate-limit error and costs the peer a penalty. Entries exist only for connected peers
//! (removed on disconnect), so the map is bounded by the peer limit.

use crate::reqresp::Request;
use libp2p::PeerId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A bucket's capacity and refill rate.
#[derive(Clone, Copy, Debug)]
pub struct Quota {
    /// Burst size.
    pub capacity: f64,
    /// Tokens regained per second.
    pub per_second: f64,
}

/// Status requests: a burst of 5, one every 2 s after that.
pub const STATUS_QUOTA: Quota = Quota {
    capacity: 5.0,
    per_second: 0.5,
};
/// Blocks: a burst of 512, 256 per second after that (a syncing peer at full speed).
pub const BLOCKS_QUOTA: Quota = Quota {
    capacity: 512.0,
    per_second: 256.0,
};

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self, quota: Quota, cost: f64, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * quota.per_second).min(quota.capacity);
        self.at = now;
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

/// The per-peer limits.
#[derive(Debug)]
pub struct RateLimiter {
    status: Quota,
    blocks: Quota,
    peers: HashMap<PeerId, (Bucket, Bucket)>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(STATUS_QUOTA, BLOCKS_QUOTA)
    }
}

impl RateLimiter {
    /// Limits with these quotas.
    pub fn new(status: Quota, blocks: Quota) -> Self {
        Self {
            status,
            blocks,
            peers: HashMap::new(),
        }
    }

    /// Whether `peer` may make `req` now (and charges it if so).
    pub fn allow(&mut self, peer: PeerId, req: &Request, now: Instant) -> bool {
        let (status, blocks) = (self.status, self.blocks);
        let (s, b) = self.peers.entry(peer).or_insert((
            Bucket {
                tokens: status.capacity,
                at: now,
            },
            Bucket {
                tokens: blocks.capacity,
                at: now,
            },
        ));
        match req {
            Request::Status(_) => s.take(status, 1.0, now),
            _ => b.take(blocks, req.cost() as f64, now),
        }
    }

    /// Forgets a disconnected peer.
    pub fn remove(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }

    /// Peers tracked.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer is tracked.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// How long until a bucket with `quota` regains `cost` tokens from empty.
    pub fn refill_time(quota: Quota, cost: f64) -> Duration {
        Duration::from_secs_f64(cost / quota.per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reqresp::Status;

    #[test]
    fn a_flood_is_cut_at_the_burst_and_refills() {
        let mut rl = RateLimiter::default();
        let peer = PeerId::random();
        let now = Instant::now();
        let status = Request::Status(Status::default());
        let allowed = (0..100).filter(|_| rl.allow(peer, &status, now)).count();
        assert_eq!(allowed, STATUS_QUOTA.capacity as usize);
        let later = now + RateLimiter::refill_time(STATUS_QUOTA, 1.0);
        assert!(rl.allow(peer, &status, later));
        assert!(!rl.allow(peer, &status, later));

        let range = Request::BlocksByRange {
            start_height: 0,
            count: 32,
        };
        let allowed = (0..1000).filter(|_| rl.allow(peer, &range, now)).count();
        assert_eq!(allowed, (BLOCKS_QUOTA.capacity / 32.0) as usize);
        // Another peer has its own budget.
        assert!(rl.allow(PeerId::random(), &range, now));
        rl.remove(&peer);
        assert_eq!(rl.len(), 1);
    }
}
