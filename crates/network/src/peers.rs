//! Peer bookkeeping: misbehaviour scores and bans, and redialing the configured bootnodes with
//! exponential backoff.
//!
//! Scores start at 0, go down with every penalty and recover exponentially towards 0 (half
//! life [`SCORE_HALF_LIFE`]). A peer at or below [`BAN_THRESHOLD`] is banned: disconnected and
//! refused for [`BAN_DURATION`]. Both maps are bounded ([`MAX_TRACKED`]): the least recently
//! penalized entry is forgotten first, so a flood of fresh peer ids cannot grow memory.

use libp2p::{Multiaddr, PeerId};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

/// Score at or below which a peer is banned.
pub const BAN_THRESHOLD: f64 = -100.0;
/// How long a ban lasts.
pub const BAN_DURATION: Duration = Duration::from_secs(600);
/// Half life of a penalty.
pub const SCORE_HALF_LIFE: Duration = Duration::from_secs(300);
/// Peers whose score or ban is remembered at most.
pub const MAX_TRACKED: usize = 4096;
/// First redial delay of a bootnode.
pub const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// Longest redial delay of a bootnode.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a peer did wrong, and what it costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offence {
    /// Gossip that does not decode or is over the size cap.
    MalformedGossip,
    /// Gossip that decodes but is invalid (bad signature, wrong proposer, …).
    InvalidGossip,
    /// A correctly signed message consensus rejects (invalid payload, EL `INVALID`, a bad
    /// AuxPoW proof or target, …), gossiped or served.
    InvalidByConsensus,
    /// A transaction the pool refuses as invalid (bad signature, wrong chain).
    InvalidTransaction,
    /// A request or response that does not decode.
    MalformedMessage,
    /// Blocks in a response that fail validation.
    InvalidResponse,
    /// Requests over the rate limit.
    RateLimited,
}

impl Offence {
    /// The penalty.
    pub const fn penalty(self) -> f64 {
        match self {
            Offence::MalformedGossip => 25.0,
            Offence::InvalidGossip => 20.0,
            Offence::InvalidByConsensus => 25.0,
            Offence::InvalidTransaction => 5.0,
            Offence::MalformedMessage => 25.0,
            Offence::InvalidResponse => 25.0,
            Offence::RateLimited => 5.0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Score {
    value: f64,
    at: Instant,
}

impl Score {
    fn decayed(&self, now: Instant) -> f64 {
        let t = now.saturating_duration_since(self.at).as_secs_f64();
        self.value * 0.5f64.powf(t / SCORE_HALF_LIFE.as_secs_f64())
    }
}

/// Scores and bans.
#[derive(Debug)]
pub struct PeerScores {
    scores: LruCache<PeerId, Score>,
    bans: LruCache<PeerId, Instant>,
}

impl Default for PeerScores {
    fn default() -> Self {
        Self::new()
    }
}

impl PeerScores {
    /// Empty.
    pub fn new() -> Self {
        let cap = NonZeroUsize::new(MAX_TRACKED).unwrap_or(NonZeroUsize::MIN);
        Self {
            scores: LruCache::new(cap),
            bans: LruCache::new(cap),
        }
    }

    /// The peer's current score.
    pub fn score(&self, peer: &PeerId, now: Instant) -> f64 {
        self.scores.peek(peer).map_or(0.0, |s| s.decayed(now))
    }

    /// Applies `offence`; returns true when the peer is now banned (first time only).
    pub fn penalize(&mut self, peer: PeerId, offence: Offence, now: Instant) -> bool {
        let value = self.score(&peer, now) - offence.penalty();
        self.scores.put(peer, Score { value, at: now });
        if value <= BAN_THRESHOLD && !self.is_banned(&peer, now) {
            self.ban(peer, now);
            return true;
        }
        false
    }

    /// Bans `peer` for [`BAN_DURATION`] from `now`.
    pub fn ban(&mut self, peer: PeerId, now: Instant) {
        self.bans.put(peer, now + BAN_DURATION);
    }

    /// Whether `peer` is banned at `now`.
    pub fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.bans.peek(peer).is_some_and(|until| *until > now)
    }

    /// Removes the bans that ended; returns their peers (to unblock), and resets their score.
    pub fn expired_bans(&mut self, now: Instant) -> Vec<PeerId> {
        let ended: Vec<PeerId> = self
            .bans
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in &ended {
            self.bans.pop(p);
            self.scores.pop(p);
        }
        ended
    }
}

/// A bootnode and when to dial it next.
#[derive(Clone, Debug)]
pub struct Bootnode {
    /// Its address (with `/p2p/<peer id>` when given).
    pub addr: Multiaddr,
    /// The peer id in the address, if any.
    pub peer: Option<PeerId>,
    /// Connected through this address (or to its peer id).
    pub connected: bool,
    /// When to dial next (when not connected).
    pub next_dial: Instant,
    /// Current backoff.
    pub backoff: Duration,
}

/// The bootnodes the node keeps connections to.
#[derive(Debug, Default)]
pub struct Bootnodes {
    nodes: Vec<Bootnode>,
}

/// The peer id at the end of a multiaddr (`…/p2p/<id>`).
pub fn peer_id_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

impl Bootnodes {
    /// The bootnodes `addrs`, all due for a dial at `now`.
    pub fn new(addrs: Vec<Multiaddr>, now: Instant) -> Self {
        Self {
            nodes: addrs
                .into_iter()
                .map(|addr| Bootnode {
                    peer: peer_id_of(&addr),
                    addr,
                    connected: false,
                    next_dial: now,
                    backoff: MIN_BACKOFF,
                })
                .collect(),
        }
    }

    /// The addresses to dial now; each gets its next attempt scheduled after its backoff,
    /// which doubles up to [`MAX_BACKOFF`].
    pub fn due(&mut self, now: Instant) -> Vec<Multiaddr> {
        let mut out = Vec::new();
        for n in &mut self.nodes {
            if !n.connected && n.next_dial <= now {
                out.push(n.addr.clone());
                n.next_dial = now + n.backoff;
                n.backoff = (n.backoff * 2).min(MAX_BACKOFF);
            }
        }
        out
    }

    /// A connection to `peer` was established, dialed at `dialed` (if we dialed).
    pub fn connected(&mut self, peer: PeerId, dialed: Option<&Multiaddr>) {
        for n in &mut self.nodes {
            if n.peer == Some(peer) || (n.peer.is_none() && dialed == Some(&n.addr)) {
                n.connected = true;
                n.backoff = MIN_BACKOFF;
                if n.peer.is_none() {
                    n.peer = Some(peer);
                }
            }
        }
    }

    /// The last connection to `peer` closed: redial its bootnode after the backoff.
    pub fn disconnected(&mut self, peer: PeerId, now: Instant) {
        for n in &mut self.nodes {
            if n.peer == Some(peer) && n.connected {
                n.connected = false;
                n.next_dial = now + n.backoff;
            }
        }
    }

    /// Dial `peer`'s bootnode at the next tick, from the shortest backoff (a partition ended).
    pub fn retry_now(&mut self, peer: &PeerId, now: Instant) {
        for n in &mut self.nodes {
            if n.peer.as_ref() == Some(peer) {
                n.next_dial = now;
                n.backoff = MIN_BACKOFF;
            }
        }
    }

    /// Whether `peer` is one of the bootnodes.
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.nodes.iter().any(|n| n.peer.as_ref() == Some(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_offences_ban_and_bans_expire() {
        let mut scores = PeerScores::new();
        let peer = PeerId::random();
        let now = Instant::now();
        let mut banned_at = None;
        for i in 0..10 {
            if scores.penalize(peer, Offence::InvalidGossip, now) {
                banned_at = Some(i);
                break;
            }
        }
        assert_eq!(banned_at, Some(4), "five invalid messages ban");
        assert!(scores.is_banned(&peer, now));
        assert!(scores.expired_bans(now).is_empty());
        let later = now + BAN_DURATION + Duration::from_secs(1);
        assert!(!scores.is_banned(&peer, later));
        assert_eq!(scores.expired_bans(later), vec![peer]);
        assert_eq!(scores.score(&peer, later), 0.0);
    }

    #[test]
    fn scores_recover_over_time() {
        let mut scores = PeerScores::new();
        let peer = PeerId::random();
        let now = Instant::now();
        scores.penalize(peer, Offence::MalformedGossip, now);
        let half = scores.score(&peer, now + SCORE_HALF_LIFE);
        assert!((half + 12.5).abs() < 1e-6, "{half}");
    }

    #[test]
    fn tracking_is_bounded_under_a_flood_of_peer_ids() {
        let mut scores = PeerScores::new();
        let now = Instant::now();
        for _ in 0..MAX_TRACKED * 2 {
            let p = PeerId::random();
            for _ in 0..5 {
                scores.penalize(p, Offence::MalformedGossip, now);
            }
        }
        assert!(scores.scores.len() <= MAX_TRACKED);
        assert!(scores.bans.len() <= MAX_TRACKED);
    }

    #[test]
    fn bootnodes_back_off_and_reset_on_connect() {
        let peer = PeerId::random();
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}").parse().unwrap();
        let now = Instant::now();
        let mut b = Bootnodes::new(vec![addr.clone()], now);
        assert_eq!(b.due(now), vec![addr.clone()]);
        assert!(b.due(now).is_empty(), "not again before the backoff");
        assert_eq!(b.due(now + MIN_BACKOFF), vec![addr.clone()]);
        assert!(b.due(now + MIN_BACKOFF * 2).is_empty(), "backoff doubled");
        b.connected(peer, None);
        assert!(b.due(now + MAX_BACKOFF * 10).is_empty());
        b.disconnected(peer, now);
        assert_eq!(b.due(now + MIN_BACKOFF), vec![addr]);
    }
}
