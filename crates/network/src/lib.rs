//! The federation's peer-to-peer network (DESIGN §9), on libp2p: TCP + noise + yamux,
//! gossipsub, request/response and identify.
//!
//! This crate owns everything between the consensus service's channels and the wire; it holds
//! no consensus rule of its own beyond the stateless checks done before forwarding. Modules:
//!
//! * [`identity`]: the persistent node key (peer id) in the datadir;
//! * [`gossip`]: topics per message kind, SSZ + snappy payloads, size caps;
//! * [`validate`]: checks against the chain spec before a message is forwarded;
//! * [`reqresp`]: status handshake, blocks by range, blocks by root;
//! * [`ratelimit`]: per-peer token buckets on inbound requests;
//! * [`peers`]: misbehaviour scores, bans, bootnode redial with backoff;
//! * [`sync`]: catching up by range and fetching missing parents by root;
//! * [`service`]: the swarm task and its handle.
//!
//! See `docs/network.md` for the protocol (topics, encodings, limits, scoring, sync).

pub mod gossip;
pub mod identity;
pub mod peers;
pub mod ratelimit;
pub mod reqresp;
pub mod service;
pub mod sync;
pub mod validate;

pub use libp2p::{Multiaddr, PeerId};
pub use service::{
    start, ChainAccess, Network, NetworkConfig, NetworkError, NetworkHandle, NetworkStatus,
    TransactionPool, DEFAULT_MAX_PEERS, DEFAULT_P2P_PORT,
};
pub use validate::Verdict;
