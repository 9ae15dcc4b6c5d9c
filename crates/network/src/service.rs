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

use crate::gossip::{self, Payload, Topic};
use crate::identity::{load_or_create_key, KeyError};
use crate::peers::{peer_id_of, Bootnodes, Offence, PeerScores};
use crate::ratelimit::RateLimiter;
use crate::reqresp::{self, ErrorCode, Request, Response, Status, MAX_BLOCKS_PER_REQUEST};
use crate::sync::SyncState;
use crate::validate::{GossipValidator, Verdict};
use alloy_primitives::B256;
use alys_consensus::chain_store::ChainStore;
use alys_consensus::{ChainStatus, GossipMessage, Input, PeerVerdict, SlotClock};
use alys_primitives::{ChainSpec, SignedConsensusBlock};
use futures::StreamExt;
use libp2p::gossipsub::{self, MessageAcceptance, MessageId};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
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
/// How often peers' statuses are refreshed.
const STATUS_INTERVAL: Duration = Duration::from_secs(4);
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
    Verdict {
        id: MessageId,
        source: PeerId,
        verdict: Verdict,
        offence: Option<Offence>,
        missing_parent: Option<B256>,
        bytes: usize,
    },
    Respond {
        channel: ResponseChannel<Response>,
        response: Response,
    },
    Delivered {
        peer: PeerId,
        ok: bool,
        count: u64,
        range: bool,
        missing_parents: Vec<(B256, u32)>,
    },
    /// Consensus rejected a block `peer` served.
    Rejected {
        peer: PeerId,
        why: String,
    },
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
    /// Peers of another chain, banned [`FAREWELL`] after we answered their status, so our
    /// answer reaches them and both sides learn why.
    farewells: HashMap<PeerId, (String, Instant)>,
    /// The test-only deny list file and the peers it denies now.
    deny_file: Option<PathBuf>,
    denied: std::collections::HashSet<PeerId>,
}

/// How long a peer of another chain is kept connected for our status answer to reach it.
const FAREWELL: Duration = Duration::from_secs(2);

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

fn acceptance(v: &Verdict) -> MessageAcceptance {
    match v {
        Verdict::Accept => MessageAcceptance::Accept,
        Verdict::Ignore(_) => MessageAcceptance::Ignore,
        Verdict::Reject(_) => MessageAcceptance::Reject,
    }
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

    fn send_request(&mut self, peer: PeerId, req: Request, pending: Pending) {
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            tracing::debug!(%peer, "too many outstanding requests; not sending");
            return;
        }
        let id = self.swarm.behaviour_mut().reqresp.send_request(&peer, req);
        self.pending.insert(id, (peer, pending));
    }

    fn penalize(&mut self, peer: PeerId, offence: Offence, why: &str) {
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

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                let dialed = endpoint.is_dialer().then(|| endpoint.get_remote_address());
                tracing::debug!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                self.bootnodes.connected(peer_id, dialed);
                if num_established.get() == 1 {
                    let ours = self.our_status();
                    self.send_request(peer_id, Request::Status(ours), Pending::Status);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                tracing::debug!(peer = %peer_id, ?cause, "disconnected");
                self.bootnodes.disconnected(peer_id, Instant::now());
                self.peers.remove(&peer_id);
                self.limiter.remove(&peer_id);
                if self.sync.outstanding().is_some_and(|a| a.peer == peer_id) {
                    self.sync.failed();
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                if peer_id.is_some_and(|p| self.bootnodes.contains(&p)) {
                    tracing::info!(peer = ?peer_id, %error, "bootnode dial failed, retrying with backoff");
                } else {
                    tracing::debug!(peer = ?peer_id, %error, "dial failed");
                }
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

    fn on_gossip(&mut self, event: gossipsub::Event) {
        let gossipsub::Event::Message {
            propagation_source: source,
            message_id: id,
            message,
        } = event
        else {
            return;
        };
        let Some(topic) = Topic::from_hash(&message.topic, self.spec_hash) else {
            // Unsubscribed topics never deliver; anything else is a peer's fault.
            self.report(&id, &source, Verdict::Reject("unknown topic".into()));
            return;
        };
        let bytes = message.data.len();
        if self.validations >= MAX_VALIDATIONS_IN_FLIGHT
            || self.validation_bytes.saturating_add(bytes) > MAX_VALIDATION_BYTES
        {
            self.report(
                &id,
                &source,
                Verdict::Ignore("validation queue full".into()),
            );
            return;
        }
        let Some(commands) = self.commands_tx.upgrade() else {
            return;
        };
        self.validations += 1;
        self.validation_bytes += bytes;
        let validator = self.validator.clone();
        let txpool = self.txpool.clone();
        let inputs = self.chain.inputs.clone();
        let store = self.chain.store.clone();
        tokio::spawn(async move {
            let checked = tokio::task::spawn_blocking(move || {
                check_gossip(&validator, txpool.as_deref(), &store, topic, &message.data)
            })
            .await;
            let (mut verdict, mut offence, deliver, missing_parent) = match checked {
                Ok(c) => c,
                Err(e) => (
                    Verdict::Ignore(format!("validation task failed: {e}")),
                    None,
                    None,
                    None,
                ),
            };
            if let Some(msg) = deliver {
                (verdict, offence) = consensus_verdict(&inputs, msg).await;
            }
            let _ = commands
                .send(Command::Verdict {
                    id,
                    source,
                    verdict,
                    offence,
                    missing_parent,
                    bytes,
                })
                .await;
        });
    }

    fn report(&mut self, id: &MessageId, source: &PeerId, verdict: Verdict) {
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, source, acceptance(&verdict));
    }

    fn on_reqresp(&mut self, event: request_response::Event<Request, Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.on_request(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((from, pending)) = self.pending.remove(&request_id) {
                        self.on_response(from, pending, response);
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, %error, "request failed");
                if let Some((_, Pending::Range { .. })) = self.pending.remove(&request_id) {
                    self.sync.failed();
                }
                if let request_response::OutboundFailure::Io(e) = &error {
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        self.penalize(peer, Offence::MalformedMessage, &e.to_string());
                    }
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound request failed");
                if let request_response::InboundFailure::Io(e) = &error {
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        self.penalize(peer, Offence::MalformedMessage, &e.to_string());
                    }
                }
            }
            // A sent response may still be in flight to the peer: a peer of another chain is
            // banned only after FAREWELL, so closing the connection never drops our answer.
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn respond(&mut self, channel: ResponseChannel<Response>, response: Response) {
        let _ = self
            .swarm
            .behaviour_mut()
            .reqresp
            .send_response(channel, response);
    }

    fn on_request(&mut self, peer: PeerId, request: Request, channel: ResponseChannel<Response>) {
        if !self.limiter.allow(peer, &request, Instant::now()) {
            self.respond(
                channel,
                Response::Error(ErrorCode::RateLimited, "rate limit exceeded".into()),
            );
            self.penalize(peer, Offence::RateLimited, "requests over the rate limit");
            return;
        }
        match request {
            Request::Status(theirs) => {
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
            req => {
                let Some(commands) = self.commands_tx.upgrade() else {
                    return;
                };
                if self.serving >= MAX_SERVING_IN_FLIGHT {
                    self.respond(
                        channel,
                        Response::Error(ErrorCode::ServerError, "busy".into()),
                    );
                    return;
                }
                self.serving += 1;
                let store = self.chain.store.clone();
                tokio::spawn(async move {
                    let response = tokio::task::spawn_blocking(move || serve_blocks(&store, &req))
                        .await
                        .unwrap_or_else(|e| Response::Error(ErrorCode::ServerError, e.to_string()));
                    let _ = commands.send(Command::Respond { channel, response }).await;
                });
            }
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

    /// A peer's status: keep it when it is on our chain, else disconnect with the reason.
    fn on_status(&mut self, peer: PeerId, theirs: Status) {
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

    fn on_response(&mut self, peer: PeerId, pending: Pending, response: Response) {
        match (pending, response) {
            (Pending::Status, Response::Status(s)) => self.on_status(peer, s),
            (pending, Response::Error(code, reason)) => {
                tracing::debug!(%peer, ?code, reason, "request refused");
                if let Pending::Range { .. } = pending {
                    self.sync.failed();
                }
            }
            (
                Pending::Range {
                    start_height,
                    count,
                },
                Response::Blocks(blocks),
            ) => {
                let linked = blocks
                    .windows(2)
                    .all(|w| w[1].message.parent_root == w[0].root());
                if blocks.len() as u64 > count || !linked {
                    self.sync.failed();
                    self.penalize(
                        peer,
                        Offence::InvalidResponse,
                        "blocks by range: too many or not a chain",
                    );
                    return;
                }
                tracing::debug!(%peer, start_height, n = blocks.len(), "blocks by range");
                if blocks.is_empty() {
                    self.sync.failed();
                    return;
                }
                self.deliver_blocks(peer, blocks, true, 0);
            }
            (Pending::Roots { roots, depth }, Response::Blocks(blocks)) => {
                if blocks.iter().any(|b| !roots.contains(&b.root())) {
                    self.penalize(
                        peer,
                        Offence::InvalidResponse,
                        "blocks by root: a block not asked for",
                    );
                    return;
                }
                self.deliver_blocks(peer, blocks, false, depth);
            }
            (_, _) => self.penalize(peer, Offence::InvalidResponse, "response of the wrong kind"),
        }
    }

    /// Checks the approvals of fetched blocks off the task, then hands them to consensus in
    /// order; reports back which parents are still missing.
    fn deliver_blocks(
        &mut self,
        peer: PeerId,
        blocks: Vec<SignedConsensusBlock>,
        range: bool,
        depth: u32,
    ) {
        let Some(commands) = self.commands_tx.upgrade() else {
            return;
        };
        let validator = self.validator.clone();
        let inputs = self.chain.inputs.clone();
        let store = self.chain.store.clone();
        tokio::spawn(async move {
            let count = blocks.len() as u64;
            let checked = tokio::task::spawn_blocking(move || {
                for b in &blocks {
                    validator.check(&GossipMessage::Block(Box::new(b.clone())))?;
                }
                Ok::<_, crate::validate::GossipError>(blocks)
            })
            .await;
            let blocks = match checked {
                Ok(Ok(blocks)) => blocks,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "fetched block invalid");
                    let delivered = Command::Delivered {
                        peer,
                        ok: false,
                        count,
                        range,
                        missing_parents: Vec::new(),
                    };
                    let _ = commands.send(delivered).await;
                    return;
                }
                Err(_) => Vec::new(),
            };
            let mut missing_parents = Vec::new();
            let mut verdicts = Vec::new();
            let roots: Vec<B256> = blocks.iter().map(|b| b.root()).collect();
            for b in blocks {
                let parent = b.message.parent_root;
                if !roots.contains(&parent) && !store.contains(&parent).unwrap_or(true) {
                    missing_parents.push((parent, depth + 1));
                }
                let (tx, rx) = tokio::sync::oneshot::channel();
                let msg = GossipMessage::Block(Box::new(b));
                if inputs
                    .send(Input::FromPeer { msg, verdict: tx })
                    .await
                    .is_ok()
                {
                    verdicts.push(rx);
                }
            }
            // Handed over: sync may fetch the next batch while consensus imports these.
            let delivered = Command::Delivered {
                peer,
                ok: true,
                count: verdicts.len() as u64,
                range,
                missing_parents,
            };
            if commands.send(delivered).await.is_err() {
                return;
            }
            for rx in verdicts {
                if let Ok(Ok(PeerVerdict::Rejected(r))) =
                    tokio::time::timeout(VERDICT_TIMEOUT, rx).await
                {
                    let why = r.to_string();
                    let _ = commands.send(Command::Rejected { peer, why }).await;
                    break;
                }
            }
        });
    }

    fn fetch_parent(&mut self, root: B256, peer: PeerId, depth: u32) {
        if self.sync.want_parent(root, depth, Instant::now()) {
            tracing::debug!(%root, %peer, depth, "fetching a missing parent");
            self.send_request(
                peer,
                Request::BlocksByRoot(vec![root]),
                Pending::Roots {
                    roots: vec![root],
                    depth,
                },
            );
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish(msg) => {
                let (topic, data) = gossip::encode(&msg);
                if let Err(e) = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic.ident(self.spec_hash), data)
                {
                    tracing::debug!(?topic, error = %e, "gossip not published");
                }
            }
            Command::PublishTransaction(raw) => {
                if self.txpool.is_none() {
                    return;
                }
                let data = gossip::compress(&raw);
                if data.len() > Topic::Transaction.max_compressed_bytes() {
                    return;
                }
                if let Err(e) = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(Topic::Transaction.ident(self.spec_hash), data)
                {
                    tracing::debug!(error = %e, "transaction not published");
                }
            }
            Command::Verdict {
                id,
                source,
                verdict,
                offence,
                missing_parent,
                bytes,
            } => {
                self.validations = self.validations.saturating_sub(1);
                self.validation_bytes = self.validation_bytes.saturating_sub(bytes);
                if let Verdict::Reject(reason) | Verdict::Ignore(reason) = &verdict {
                    tracing::debug!(peer = %source, reason, "gossip not forwarded");
                }
                self.report(&id, &source, verdict.clone());
                if let Some(offence) = offence {
                    let why = match &verdict {
                        Verdict::Reject(r) | Verdict::Ignore(r) => r.clone(),
                        Verdict::Accept => String::new(),
                    };
                    self.penalize(source, offence, &why);
                }
                if let Some(root) = missing_parent {
                    self.fetch_parent(root, source, 1);
                }
            }
            Command::Respond { channel, response } => {
                self.serving = self.serving.saturating_sub(1);
                self.respond(channel, response);
            }
            Command::Rejected { peer, why } => {
                tracing::info!(%peer, why, "consensus rejected a block the peer served");
                self.penalize(peer, Offence::InvalidByConsensus, &why);
            }
            Command::Delivered {
                peer,
                ok,
                count,
                range,
                missing_parents,
            } => {
                if !ok {
                    if range {
                        self.sync.failed();
                    }
                    self.penalize(peer, Offence::InvalidResponse, "fetched blocks invalid");
                    return;
                }
                for (root, depth) in missing_parents {
                    self.fetch_parent(root, peer, depth);
                }
                if range {
                    let now = Instant::now();
                    self.sync.delivered(count, now);
                    self.request_range(now);
                }
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
        let wanted: std::collections::HashSet<PeerId> = text
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

    /// Sends the next blocks-by-range request if sync has one due.
    fn request_range(&mut self, now: Instant) {
        let ours = self.our_status();
        if let Some(ask) = self.sync.next(&ours, &self.peers, now) {
            tracing::debug!(peer = %ask.peer, start = ask.start_height, count = ask.count, "requesting blocks by range");
            self.send_request(
                ask.peer,
                Request::BlocksByRange {
                    start_height: ask.start_height,
                    count: ask.count,
                },
                Pending::Range {
                    start_height: ask.start_height,
                    count: ask.count,
                },
            );
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
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

/// Hands a message that passed the network checks to consensus and waits for its verdict:
/// the gossip verdict and the sender's offence, if any.
async fn consensus_verdict(
    inputs: &mpsc::Sender<Input>,
    msg: GossipMessage,
) -> (Verdict, Option<Offence>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if inputs
        .send(Input::FromPeer { msg, verdict: tx })
        .await
        .is_err()
    {
        return (Verdict::Ignore("consensus stopped".into()), None);
    }
    match tokio::time::timeout(VERDICT_TIMEOUT, rx).await {
        Ok(Ok(PeerVerdict::Accepted)) => (Verdict::Accept, None),
        Ok(Ok(PeerVerdict::Ignored(why))) => (Verdict::Ignore(why), None),
        Ok(Ok(PeerVerdict::Rejected(r))) => (
            Verdict::Reject(r.to_string()),
            Some(Offence::InvalidByConsensus),
        ),
        Ok(Err(_)) => (Verdict::Ignore("consensus gave no verdict".into()), None),
        Err(_) => (Verdict::Ignore("consensus verdict timed out".into()), None),
    }
}

/// Decodes and validates one gossip payload: the verdict, the offence if any, the message to
/// deliver to consensus, and the parent to fetch when the store lacks it.
fn check_gossip(
    validator: &GossipValidator,
    txpool: Option<&dyn TransactionPool>,
    store: &ChainStore,
    topic: Topic,
    data: &[u8],
) -> (
    Verdict,
    Option<Offence>,
    Option<GossipMessage>,
    Option<B256>,
) {
    let payload = match gossip::decode(topic, data) {
        Ok(p) => p,
        Err(e) => {
            return (
                Verdict::Reject(e.to_string()),
                Some(Offence::MalformedGossip),
                None,
                None,
            )
        }
    };
    match payload {
        Payload::Transaction(raw) => match txpool {
            Some(pool) => {
                let v = pool.offer(&raw);
                let offence =
                    matches!(v, Verdict::Reject(_)).then_some(Offence::InvalidTransaction);
                (v, offence, None, None)
            }
            None => (
                Verdict::Ignore("no transaction pool".into()),
                None,
                None,
                None,
            ),
        },
        Payload::Consensus(msg) => match validator.check(&msg) {
            Ok(()) => {
                let parent = match &msg {
                    GossipMessage::Block(b) => Some(b.message.parent_root),
                    GossipMessage::Proposal(p) => Some(p.block.parent_root),
                    _ => None,
                };
                let missing = parent.filter(|p| !store.contains(p).unwrap_or(true));
                (Verdict::Accept, None, Some(msg), missing)
            }
            Err(e) => {
                let offence = (!e.is_benign()).then_some(Offence::InvalidGossip);
                (e.verdict(), offence, None, None)
            }
        },
    }
}

/// Answers a blocks request from the store.
fn serve_blocks(store: &ChainStore, req: &Request) -> Response {
    let mut blocks = Vec::new();
    let mut size = 0usize;
    let mut push = |b: SignedConsensusBlock| -> bool {
        let len = ssz::Encode::ssz_bytes_len(&b) + 4;
        if !blocks.is_empty() && size + len > reqresp::RESPONSE_SOFT_LIMIT {
            return false;
        }
        size += len;
        blocks.push(b);
        true
    };
    let result: Result<(), alys_consensus::chain_store::ChainStoreError> = (|| {
        match req {
            Request::BlocksByRange {
                start_height,
                count,
            } => {
                let count = (*count).min(MAX_BLOCKS_PER_REQUEST);
                for h in *start_height..start_height.saturating_add(count) {
                    let Some(root) = store.canonical_root(h)? else {
                        break;
                    };
                    let Some(b) = store.block(&root)? else {
                        break;
                    };
                    if !push(b) {
                        break;
                    }
                }
            }
            Request::BlocksByRoot(roots) => {
                for root in roots.iter().take(MAX_BLOCKS_PER_REQUEST as usize) {
                    if let Some(b) = store.block(root)? {
                        if !push(b) {
                            break;
                        }
                    }
                }
            }
            Request::Status(_) => {}
        }
        Ok(())
    })();
    match result {
        Ok(()) => Response::Blocks(blocks),
        Err(e) => Response::Error(ErrorCode::ServerError, e.to_string()),
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
