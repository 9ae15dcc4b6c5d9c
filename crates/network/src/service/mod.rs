//! The network task: one libp2p swarm (TCP + noise + yamux; gossipsub, request/response,
//! identify, a connection limit and a block list) driven by one task, talking to the rest of
//! the node through channels.
//!
//! * **Out:** [`NetworkHandle::publish`] (the consensus service's outbound messages) and
//!   [`NetworkHandle::publish_transaction`] (the embedded pool's new transactions).
//! * **In:** every gossip message is validated before it is forwarded (gossipsub runs with
//!   `validate_messages`): decoded ([`crate::gossip`]), checked against the spec
//!   ([`crate::validate`]) or by the [`TransactionPool`], and a consensus message is then
//!   handed to consensus as [`Input::FromPeer`], whose [`PeerVerdict`] (the consensus rules,
//!   the EL's verdict, the AuxPoW check against the chain's current target) decides: reported
//!   to gossipsub as accepted (forwarded), ignored or rejected (sender penalized,
//!   [`crate::peers`]). Blocks and proposals whose parent is unknown trigger a parent fetch
//!   ([`crate::sync`]); fetched blocks go through the same verdict.
//! * **Requests** ([`crate::reqresp`]) are rate limited per peer ([`crate::ratelimit`]); blocks
//!   are read from the store off the task.
//!
//! This module owns the types, [`start`], the event loop (swarm events, commands, the tick)
//! and the status it publishes; the task's work is in `relay` (gossip out and in, validation
//! and verdicts), `peering` (connections, the status handshake, penalties and bans, bootnode
//! redials, the deny list) and `fetch` (requests and responses, blocks by range and by root).

mod fetch;
mod peering;
mod relay;

use crate::gossip::Topic;
use crate::identity::{load_or_create_key, KeyError};
use crate::peers::{peer_id_of, Bootnodes, Offence, PeerScores};
use crate::ratelimit::RateLimiter;
use crate::reqresp::{self, Response, Status};
use crate::sync::SyncState;
use crate::validate::{GossipValidator, Verdict};
use alloy_primitives::B256;
use alys_consensus::chain_store::ChainStore;
use alys_consensus::{ChainStatus, GossipMessage, Input, SlotClock};
use alys_primitives::ChainSpec;
use futures::StreamExt;
use libp2p::gossipsub::{self, MessageId};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{allow_block_list, connection_limits, identify, Multiaddr, PeerId, Swarm};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Default p2p port.
pub const DEFAULT_P2P_PORT: u16 = 55444;
/// Default peer limit.
pub const DEFAULT_MAX_PEERS: u32 = 50;
/// Gossip messages being validated at once; more are ignored (dropped unforwarded).
pub const MAX_VALIDATIONS_IN_FLIGHT: usize = 256;
/// Bytes (as received, compressed) of the gossip messages being validated at once; more are
/// ignored. Consensus messages hold their share until consensus gave its verdict.
pub const MAX_VALIDATION_BYTES: usize = 64 * 1024 * 1024;
/// How long the network waits for consensus's verdict on a peer's message before ignoring it.
pub const VERDICT_TIMEOUT: Duration = Duration::from_secs(30);
/// Block reads for requests being served at once; more are answered with a server error.
pub const MAX_SERVING_IN_FLIGHT: usize = 16;
/// How often the task checks timers (dials, bans, sync).
const TICK: Duration = Duration::from_millis(250);
/// How often sync progress is logged while catching up.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Outstanding outbound requests at most (statuses and blocks); more are not sent.
const MAX_PENDING_REQUESTS: usize = 512;

/// How the network listens and whom it dials.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Listen address.
    pub listen_addr: IpAddr,
    /// TCP port (0: any free port).
    pub port: u16,
    /// Peers to connect to and stay connected to (redialed with backoff).
    pub bootnodes: Vec<Multiaddr>,
    /// Most connected peers.
    pub max_peers: u32,
    /// The node key file (created on first start).
    pub key_file: PathBuf,
    /// Test-only partitions: a file of peer ids (one per line) this node refuses to talk to,
    /// read again every tick; a peer leaving the list is redialed at once. `None` in
    /// production.
    pub deny_file: Option<PathBuf>,
}

/// What the network needs from the node's chain.
#[derive(Clone)]
pub struct ChainAccess {
    /// The chain spec.
    pub spec: Arc<ChainSpec>,
    /// The slot clock.
    pub clock: SlotClock,
    /// The consensus store (blocks served to peers, parent lookups).
    pub store: ChainStore,
    /// The chain status (head, finalized).
    pub status: watch::Receiver<ChainStatus>,
    /// Consensus inputs (gossip and synced blocks are delivered here).
    pub inputs: mpsc::Sender<Input>,
}

/// The embedded execution client's pool, for transaction relay.
pub trait TransactionPool: Send + Sync + 'static {
    /// Offers a gossiped transaction (EIP-2718 bytes): [`Verdict::Accept`] when it is valid
    /// (added, or already pooled), [`Verdict::Reject`] when no honest node would relay it
    /// (undecodable, bad signature, another chain), [`Verdict::Ignore`] otherwise (nonce
    /// already used, pool full, fee too low).
    fn offer(&self, raw: &[u8]) -> Verdict;
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The node key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Building the transport or a behaviour.
    #[error("building the p2p stack: {0}")]
    Build(String),
    /// Listening failed.
    #[error("listening on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// What the network reports about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkStatus {
    /// Connected peers (with a compatible status).
    pub peers: usize,
    /// The highest head height a peer reports, or ours when higher.
    pub target_height: u64,
    /// A range request is outstanding.
    pub syncing: bool,
    /// Peers banned since start.
    pub bans: u64,
    /// Blocks per second imported since catching up began (0 when following gossip).
    pub blocks_per_s: f64,
}

enum Command {
    Publish(GossipMessage),
    PublishTransaction(Vec<u8>),
    Verdict(Checked),
    Respond {
        channel: ResponseChannel<Response>,
        response: Response,
    },
    Delivered(Delivery),
    /// Consensus rejected a block `peer` served.
    Rejected {
        peer: PeerId,
        why: String,
    },
}

/// A received message's verdict, back from its validation off the task.
struct Checked {
    id: MessageId,
    source: PeerId,
    verdict: Verdict,
    offence: Option<Offence>,
    missing_parent: Option<B256>,
    /// Its size as received, given back to the validation budget.
    bytes: usize,
}

/// Fetched blocks handed to consensus, or found invalid: what the task does next.
struct Delivery {
    peer: PeerId,
    /// Every block passed the network's checks.
    ok: bool,
    /// Blocks handed to consensus.
    count: u64,
    /// Fetched by range (sync), not by root.
    range: bool,
    /// Parents the store lacks, with their fetch depth.
    missing_parents: Vec<(B256, u32)>,
}

/// Sends messages to the network task.
#[derive(Clone)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
}

impl NetworkHandle {
    /// Publishes a consensus message (waits while the network's queue is full).
    pub async fn publish(&self, msg: GossipMessage) {
        let _ = self.commands.send(Command::Publish(msg)).await;
    }

    /// Publishes a consensus message unless the network's queue is full; returns whether it
    /// was queued (for callers that must not wait).
    pub fn try_publish(&self, msg: GossipMessage) -> bool {
        self.commands.try_send(Command::Publish(msg)).is_ok()
    }

    /// Publishes a transaction (EIP-2718 bytes).
    pub async fn publish_transaction(&self, raw: Vec<u8>) {
        let _ = self.commands.send(Command::PublishTransaction(raw)).await;
    }
}

/// A started network.
pub struct Network {
    /// This node's peer id.
    pub peer_id: PeerId,
    /// Where it listens, each ending in `/p2p/<peer id>` (what other nodes give as a bootnode).
    pub listen_addrs: Vec<Multiaddr>,
    /// Send side.
    pub handle: NetworkHandle,
    /// Status updates.
    pub status: watch::Receiver<NetworkStatus>,
    /// The task.
    pub task: tokio::task::JoinHandle<()>,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    gossipsub: gossipsub::Behaviour,
    reqresp: request_response::Behaviour<reqresp::Codec>,
    identify: identify::Behaviour,
}

enum Pending {
    Status,
    Range { start_height: u64, count: u64 },
    Roots { roots: Vec<B256>, depth: u32 },
}

struct Task {
    swarm: Swarm<Behaviour>,
    chain: ChainAccess,
    validator: GossipValidator,
    txpool: Option<Arc<dyn TransactionPool>>,
    spec_hash: B256,
    genesis_root: B256,
    commands_tx: mpsc::WeakSender<Command>,
    scores: PeerScores,
    bootnodes: Bootnodes,
    limiter: RateLimiter,
    sync: SyncState,
    peers: HashMap<PeerId, Status>,
    pending: HashMap<OutboundRequestId, (PeerId, Pending)>,
    validations: usize,
    validation_bytes: usize,
    serving: usize,
    last_status_round: Instant,
    status_tx: watch::Sender<NetworkStatus>,
    bans: u64,
    /// Sync throughput at the last tick.
    blocks_per_s: f64,
    /// Peers of another chain, banned [`peering::FAREWELL`] after we answered their status, so our
    /// answer reaches them and both sides learn why.
    farewells: HashMap<PeerId, (String, Instant)>,
    /// The test-only deny list file and the peers it denies now.
    deny_file: Option<PathBuf>,
    denied: std::collections::HashSet<PeerId>,
}

/// Starts the network: loads (or creates) the node key, listens, dials the bootnodes, and
/// spawns the task. Returns once the listen address is bound.
pub async fn start(
    config: NetworkConfig,
    chain: ChainAccess,
    txpool: Option<Arc<dyn TransactionPool>>,
) -> Result<Network, NetworkError> {
    let (key, created) = load_or_create_key(&config.key_file)?;
    if created {
        tracing::info!(file = %config.key_file.display(), "created a new p2p node key");
    }
    let spec_hash = chain.spec.spec_hash();
    let genesis_root = chain
        .store
        .genesis_root()
        .map_err(|e| NetworkError::Build(format!("reading the genesis root: {e}")))?;
    let build = |e: String| NetworkError::Build(e);
    let gossipsub_config = gossipsub_config(spec_hash).map_err(build)?;
    let max_peers = config.max_peers;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .map_err(|e| build(e.to_string()))?
        .with_behaviour(|key| {
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Anonymous,
                gossipsub_config,
            )?;
            Ok(Behaviour {
                limits: connection_limits::Behaviour::new(
                    connection_limits::ConnectionLimits::default()
                        .with_max_established(Some(max_peers))
                        .with_max_established_per_peer(Some(2))
                        .with_max_pending_incoming(Some(max_peers)),
                ),
                blocked: Default::default(),
                gossipsub,
                reqresp: request_response::Behaviour::new(
                    [(reqresp::PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(crate::sync::RANGE_TIMEOUT)
                        .with_max_concurrent_streams(64),
                ),
                identify: identify::Behaviour::new(identify::Config::new(
                    "/alys/1".into(),
                    key.public(),
                )),
            })
        })
        .map_err(|e| build(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    for topic in Topic::ALL {
        if topic == Topic::Transaction && txpool.is_none() {
            continue;
        }
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic.ident(spec_hash))
            .map_err(|e| build(e.to_string()))?;
    }
    let mut listen: Multiaddr = match config.listen_addr {
        IpAddr::V4(ip) => Multiaddr::empty().with(libp2p::multiaddr::Protocol::Ip4(ip)),
        IpAddr::V6(ip) => Multiaddr::empty().with(libp2p::multiaddr::Protocol::Ip6(ip)),
    };
    listen.push(libp2p::multiaddr::Protocol::Tcp(config.port));
    swarm
        .listen_on(listen.clone())
        .map_err(|e| NetworkError::Listen {
            addr: listen.clone(),
            reason: e.to_string(),
        })?;
    let peer_id = *swarm.local_peer_id();
    // Wait for the bound address(es).
    let mut listen_addrs = Vec::new();
    while listen_addrs.is_empty() {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => {
                listen_addrs.push(address.with(libp2p::multiaddr::Protocol::P2p(peer_id)));
            }
            SwarmEvent::ListenerError { error, .. } => {
                return Err(NetworkError::Listen {
                    addr: listen,
                    reason: error.to_string(),
                })
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                return Err(NetworkError::Listen {
                    addr: listen,
                    reason: format!("{reason:?}"),
                })
            }
            _ => {}
        }
    }
    let (commands_tx, commands) = mpsc::channel(1024);
    let (status_tx, status) = watch::channel(NetworkStatus::default());
    let bootnodes: Vec<Multiaddr> = config
        .bootnodes
        .into_iter()
        .filter(|a| peer_id_of(a) != Some(peer_id))
        .collect();
    let task = Task {
        swarm,
        validator: GossipValidator::new(chain.spec.clone(), chain.clock.clone()),
        chain,
        txpool,
        spec_hash,
        genesis_root,
        commands_tx: commands_tx.downgrade(),
        scores: PeerScores::new(),
        bootnodes: Bootnodes::new(bootnodes, Instant::now()),
        limiter: RateLimiter::default(),
        sync: SyncState::new(),
        peers: HashMap::new(),
        pending: HashMap::new(),
        validations: 0,
        validation_bytes: 0,
        serving: 0,
        last_status_round: Instant::now(),
        status_tx,
        bans: 0,
        blocks_per_s: 0.0,
        farewells: HashMap::new(),
        deny_file: config.deny_file,
        denied: Default::default(),
    };
    let task = tokio::spawn(task.run(commands));
    Ok(Network {
        peer_id,
        listen_addrs,
        handle: NetworkHandle {
            commands: commands_tx,
        },
        status,
        task,
    })
}

/// Gossipsub settings: anonymous messages with content-derived ids (a transaction or block
/// relayed by several nodes is one message), validation before forwarding, per-topic size caps.
fn gossipsub_config(spec_hash: B256) -> Result<gossipsub::Config, String> {
    let mut b = gossipsub::ConfigBuilder::default();
    b.validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            h.update(m.topic.as_str().as_bytes());
            h.update(&m.data);
            MessageId::new(&h.finalize()[..20])
        })
        .heartbeat_interval(Duration::from_millis(700))
        .max_transmit_size(Topic::Block.max_compressed_bytes() + 4096)
        .duplicate_cache_time(Duration::from_secs(120));
    for t in Topic::ALL {
        b.max_transmit_size_for_topic(t.max_compressed_bytes() + 512, t.ident(spec_hash).hash());
    }
    b.build().map_err(|e| e.to_string())
}

impl Task {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => return,
                },
                _ = tick.tick() => self.on_tick(),
            }
        }
    }

    fn our_status(&self) -> Status {
        let s = self.chain.status.borrow().clone();
        Status {
            spec_hash: self.spec_hash,
            genesis_root: self.genesis_root,
            head_root: s.head_root,
            head_height: s.head_height,
            head_slot: s.head_slot,
            finalized_root: s.finalized_root,
            finalized_height: s.finalized_height,
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => self.on_connected(peer_id, &endpoint, num_established.get()),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => self.on_disconnected(peer_id, cause),
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                self.on_dial_failed(peer_id, &error)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => self.on_gossip(e),
            SwarmEvent::Behaviour(BehaviourEvent::Reqresp(e)) => self.on_reqresp(e),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                tracing::debug!(peer = %peer_id, agent = info.agent_version, "identified");
            }
            _ => {}
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish(msg) => self.publish(msg),
            Command::PublishTransaction(raw) => self.publish_transaction(raw),
            Command::Verdict(checked) => self.on_verdict(checked),
            Command::Respond { channel, response } => {
                self.serving = self.serving.saturating_sub(1);
                self.respond(channel, response);
            }
            Command::Rejected { peer, why } => {
                tracing::info!(%peer, why, "consensus rejected a block the peer served");
                self.penalize(peer, Offence::InvalidByConsensus, &why);
            }
            Command::Delivered(delivery) => self.on_delivered(delivery),
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.on_peer_timers(now);
        self.request_range(now);
        let ours = self.our_status();
        let target = SyncState::target(&self.peers).unwrap_or(0);
        self.blocks_per_s = self.sync.rate(ours.head_height, now).unwrap_or(0.0);
        if target > ours.head_height + 1 {
            if let Some((rate, eta)) =
                self.sync
                    .progress_due(ours.head_height, target, now, PROGRESS_EVERY)
            {
                tracing::info!(
                    head = ours.head_height,
                    target,
                    blocks_per_s = format!("{rate:.1}"),
                    eta_s = format!("{eta:.0}"),
                    "syncing"
                );
            }
        }
        self.publish_status();
    }

    fn publish_status(&self) {
        let status = NetworkStatus {
            peers: self.peers.len(),
            target_height: SyncState::target(&self.peers)
                .unwrap_or(0)
                .max(self.chain.status.borrow().head_height),
            syncing: self.sync.requesting(),
            bans: self.bans,
            blocks_per_s: (self.blocks_per_s * 10.0).round() / 10.0,
        };
        record_status(&status);
        self.status_tx.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }
}

/// The network's gauges in the node's metrics (`alys-metrics`).
fn record_status(status: &NetworkStatus) {
    use alys_metrics::{catalog as m, counter, gauge};
    gauge!(m::NETWORK_PEERS).set(status.peers as f64);
    counter!(m::NETWORK_PEER_BANS).absolute(status.bans);
    gauge!(m::SYNC_TARGET_HEIGHT).set(status.target_height as f64);
    gauge!(m::SYNCING).set(if status.syncing { 1.0 } else { 0.0 });
    gauge!(m::SYNC_BLOCKS_PER_SECOND).set(status.blocks_per_s);
}
