//! Peer bookkeeping of the network task: connections coming and going, the status handshake
//! (a peer of another chain is answered, then banned after [`FAREWELL`]), misbehaviour
//! penalties and bans (the scores are [`crate::peers`]), bootnode redials, the periodic status
//! round and the test-only deny list.

use super::{Pending, Task};
use crate::peers::{peer_id_of, Offence};
use crate::reqresp::{Request, Response, Status};
use libp2p::core::ConnectedPoint;
use libp2p::request_response::ResponseChannel;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionError, DialError};
use libp2p::PeerId;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How often peers' statuses are refreshed.
const STATUS_INTERVAL: Duration = Duration::from_secs(4);

/// How long a peer of another chain is kept connected for our status answer to reach it.
const FAREWELL: Duration = Duration::from_secs(2);

impl Task {
    /// A connection is up: a bootnode counts as connected, and the first connection to a peer
    /// starts the status handshake.
    pub(super) fn on_connected(
        &mut self,
        peer_id: PeerId,
        endpoint: &ConnectedPoint,
        num_established: u32,
    ) {
        let dialed = endpoint.is_dialer().then(|| endpoint.get_remote_address());
        tracing::debug!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
        self.bootnodes.connected(peer_id, dialed);
        if num_established == 1 {
            let ours = self.our_status();
            self.send_request(peer_id, Request::Status(ours), Pending::Status);
        }
    }

    /// The last connection to a peer is gone: it leaves the peer set, a bootnode is redialed
    /// with backoff, a range request outstanding to it fails.
    pub(super) fn on_disconnected(&mut self, peer_id: PeerId, cause: Option<ConnectionError>) {
        tracing::debug!(peer = %peer_id, ?cause, "disconnected");
        self.bootnodes.disconnected(peer_id, Instant::now());
        self.peers.remove(&peer_id);
        self.limiter.remove(&peer_id);
        if self.sync.outstanding().is_some_and(|a| a.peer == peer_id) {
            self.sync.failed();
        }
    }

    /// A dial failed: logged, at info for a bootnode (redialed with backoff).
    pub(super) fn on_dial_failed(&mut self, peer_id: Option<PeerId>, error: &DialError) {
        if peer_id.is_some_and(|p| self.bootnodes.contains(&p)) {
            tracing::info!(peer = ?peer_id, %error, "bootnode dial failed, retrying with backoff");
        } else {
            tracing::debug!(peer = ?peer_id, %error, "dial failed");
        }
    }

    /// A peer's status request: answered with ours in any case; a peer on our chain is kept,
    /// one of another chain is banned after [`FAREWELL`], once our answer has reached it.
    pub(super) fn on_status_request(
        &mut self,
        peer: PeerId,
        theirs: Status,
        channel: ResponseChannel<Response>,
    ) {
        let ours = self.our_status();
        self.respond(channel, Response::Status(ours));
        if let Some(reason) = self.incompatible(&theirs) {
            tracing::warn!(%peer, "disconnecting peer: {reason}");
            self.peers.remove(&peer);
            self.farewells.insert(peer, (reason, Instant::now()));
        } else {
            self.on_status(peer, theirs);
        }
    }

    /// A peer's status: keep it when it is on our chain, else disconnect with the reason.
    pub(super) fn on_status(&mut self, peer: PeerId, theirs: Status) {
        if self.farewells.contains_key(&peer) {
            return;
        }
        if let Some(reason) = self.incompatible(&theirs) {
            tracing::warn!(%peer, "disconnecting peer: {reason}");
            self.ban(peer, &reason);
            return;
        }
        if self.peers.insert(peer, theirs).is_none() {
            tracing::info!(%peer, head = theirs.head_height, finalized = theirs.finalized_height, "peer connected");
        }
    }

    /// Why a peer with status `theirs` is not on our chain, if it is not.
    fn incompatible(&self, theirs: &Status) -> Option<String> {
        if theirs.spec_hash != self.spec_hash {
            Some(format!(
                "different chain spec (theirs {}, ours {})",
                theirs.spec_hash, self.spec_hash
            ))
        } else if theirs.genesis_root != self.genesis_root {
            Some(format!(
                "different genesis (theirs {}, ours {})",
                theirs.genesis_root, self.genesis_root
            ))
        } else {
            None
        }
    }

    pub(super) fn penalize(&mut self, peer: PeerId, offence: Offence, why: &str) {
        let now = Instant::now();
        tracing::debug!(%peer, ?offence, why, "peer penalized");
        if self.scores.penalize(peer, offence, now) {
            self.ban(
                peer,
                &format!("score below the ban threshold after {offence:?}: {why}"),
            );
        }
    }

    fn ban(&mut self, peer: PeerId, reason: &str) {
        self.scores.ban(peer, Instant::now());
        self.bans += 1;
        tracing::warn!(%peer, reason, "banning peer for {:?}", crate::peers::BAN_DURATION);
        self.peers.remove(&peer);
        self.publish_status();
        self.swarm.behaviour_mut().blocked.block_peer(peer);
    }

    /// The peer timers of a tick, in order: the deny list, due bootnode dials, farewells that
    /// are over, bans that ended, and the status round every [`STATUS_INTERVAL`].
    pub(super) fn on_peer_timers(&mut self, now: Instant) {
        self.apply_deny_list(now);
        for addr in self.bootnodes.due(now) {
            let opts = match peer_id_of(&addr) {
                Some(peer) => DialOpts::peer_id(peer)
                    .addresses(vec![addr.clone()])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build(),
                None => DialOpts::unknown_peer_id().address(addr.clone()).build(),
            };
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%addr, error = %e, "dial not started");
            }
        }
        let overdue: Vec<PeerId> = self
            .farewells
            .iter()
            .filter(|(_, (_, at))| now.saturating_duration_since(*at) >= FAREWELL)
            .map(|(p, _)| *p)
            .collect();
        for peer in overdue {
            if let Some((reason, _)) = self.farewells.remove(&peer) {
                self.ban(peer, &reason);
            }
        }
        for peer in self.scores.expired_bans(now) {
            tracing::info!(%peer, "ban ended");
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        }
        if now.saturating_duration_since(self.last_status_round) >= STATUS_INTERVAL {
            self.last_status_round = now;
            let ours = self.our_status();
            let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
            for peer in peers {
                self.send_request(peer, Request::Status(ours), Pending::Status);
            }
        }
    }

    /// Applies the test-only deny list: blocks the peers it names, unblocks (and redials)
    /// those it no longer names. At most 1024 entries are read.
    fn apply_deny_list(&mut self, now: Instant) {
        let Some(file) = &self.deny_file else {
            return;
        };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let wanted: HashSet<PeerId> = text
            .lines()
            .take(1024)
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if wanted == self.denied {
            return;
        }
        for peer in wanted.difference(&self.denied) {
            tracing::info!(%peer, "peer denied (partition)");
            self.peers.remove(peer);
            self.swarm.behaviour_mut().blocked.block_peer(*peer);
        }
        for peer in self.denied.difference(&wanted) {
            tracing::info!(%peer, "peer allowed again (partition healed)");
            if !self.scores.is_banned(peer, now) {
                self.swarm.behaviour_mut().blocked.unblock_peer(*peer);
            }
            self.bootnodes.retry_now(peer, now);
        }
        self.denied = wanted;
    }
}
