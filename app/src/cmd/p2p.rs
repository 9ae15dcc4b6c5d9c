//! Wiring the p2p network to a node: the consensus service's outbound messages are published,
//! validated gossip goes to consensus, and the embedded execution client's pool relays its
//! transactions both ways.

use std::sync::Arc;

use alloy::consensus::transaction::{Recovered, SignerRecoverable};
use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alys_consensus::chain_store::ChainStore;
use alys_consensus::{ChainStatus, GossipMessage, Input, SlotClock};
use alys_evm::chain::SharedChain;
use alys_evm::txpool::PoolError;
use alys_network::{ChainAccess, Network, NetworkConfig, TransactionPool, Verdict};
use alys_primitives::ChainSpec;
use eyre::WrapErr;
use tokio::sync::{mpsc, watch};

/// The embedded execution client's pool as the network sees it.
struct ElPool {
    chain: SharedChain,
}

impl TransactionPool for ElPool {
    fn offer(&self, raw: &[u8]) -> Verdict {
        let mut buf = raw;
        let tx = match TxEnvelope::decode_2718(&mut buf) {
            Ok(tx) if buf.is_empty() => tx,
            Ok(_) => return Verdict::Reject("trailing bytes after the transaction".into()),
            Err(e) => return Verdict::Reject(format!("undecodable transaction: {e}")),
        };
        let sender = match tx.recover_signer() {
            Ok(s) => s,
            Err(e) => return Verdict::Reject(format!("invalid signature: {e}")),
        };
        let (head, view, pool) = {
            let chain = self.chain.lock();
            let (header, hash) = chain.head();
            let header = header.clone();
            match chain.state_at(hash) {
                Ok(view) => (header, view, chain.pool().clone()),
                Err(e) => return Verdict::Ignore(format!("head state unavailable: {e}")),
            }
        };
        let result = pool
            .lock()
            .add_recovered(Recovered::new_unchecked(tx, sender), &view, &head);
        match result {
            Ok(_) | Err(PoolError::AlreadyKnown) => Verdict::Accept,
            Err(
                e @ (PoolError::InvalidSender(_)
                | PoolError::WrongChainId
                | PoolError::Unprotected
                | PoolError::BlobNotSupported
                | PoolError::TypeNotSupported
                | PoolError::Oversized { .. }
                | PoolError::InitCodeTooLarge { .. }
                | PoolError::IntrinsicGas { .. }
                | PoolError::TipAboveFeeCap),
            ) => Verdict::Reject(e.to_string()),
            Err(e) => Verdict::Ignore(e.to_string()),
        }
    }
}

/// What of a node the network is wired to.
pub(super) struct NodeLinks {
    /// The chain spec.
    pub spec: Arc<ChainSpec>,
    /// The slot clock.
    pub clock: SlotClock,
    /// The consensus store.
    pub store: ChainStore,
    /// Chain status.
    pub status: watch::Receiver<ChainStatus>,
    /// Consensus inputs.
    pub inputs: mpsc::Sender<Input>,
    /// Consensus outbound messages (the network becomes their reader).
    pub outbound: mpsc::UnboundedReceiver<GossipMessage>,
    /// The embedded execution client's chain, for transaction relay.
    pub el_chain: Option<SharedChain>,
}

/// Starts the network and the tasks that connect it to the node.
pub(super) async fn start_p2p(config: NetworkConfig, links: NodeLinks) -> eyre::Result<Network> {
    let NodeLinks {
        spec,
        clock,
        store,
        status,
        inputs,
        mut outbound,
        el_chain,
    } = links;
    let txpool: Option<Arc<dyn TransactionPool>> = el_chain
        .clone()
        .map(|chain| Arc::new(ElPool { chain }) as Arc<dyn TransactionPool>);
    let network = alys_network::start(
        config,
        ChainAccess {
            spec,
            clock,
            store,
            status,
            inputs,
        },
        txpool,
    )
    .await
    .wrap_err("starting the p2p network")?;
    let handle = network.handle.clone();
    // Never waits: the outbound channel is drained at once, and a message the network's
    // (bounded) queue has no room for is dropped, like any gossip a peer misses.
    tokio::spawn(async move {
        while let Some(msg) = outbound.recv().await {
            if !handle.try_publish(msg) {
                tracing::debug!("network queue full; outbound message dropped");
            }
        }
    });
    if let Some(chain) = el_chain {
        let mut pending = chain.lock().pool().lock().subscribe_pending();
        let handle = network.handle.clone();
        tokio::spawn(async move {
            loop {
                match pending.recv().await {
                    Ok(tx) => handle.publish_transaction(tx.inner().encoded_2718()).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "transaction relay fell behind the pool");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
    Ok(network)
}

/// Reads and drops a node's outbound messages (a node without a network: the channel must
/// still have a reader, or it grows with every message).
pub(super) fn discard(mut outbound: mpsc::UnboundedReceiver<GossipMessage>) {
    tokio::spawn(async move { while outbound.recv().await.is_some() {} });
}

/// A member of the in-process bus ([`alys_consensus::LocalNetwork`]) that is the p2p network:
/// returns the bus side (inputs, outbound) and the network side (what the network delivers to,
/// what it publishes). Messages of the local nodes reach the network; a message from a peer
/// goes to the first local node `first` with its verdict channel (its verdict decides whether
/// the network forwards it and whether the peer is penalized) and, when `others` (more local
/// nodes), over the bus to the others.
#[allow(clippy::type_complexity)]
pub(super) fn bus_member(
    first: mpsc::Sender<Input>,
    others: bool,
) -> (
    (mpsc::Sender<Input>, mpsc::UnboundedReceiver<GossipMessage>),
    (mpsc::Sender<Input>, mpsc::UnboundedReceiver<GossipMessage>),
) {
    // Local nodes → network.
    let (bus_in_tx, mut bus_in_rx) = mpsc::channel::<Input>(1024);
    let (to_net_tx, to_net_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(input) = bus_in_rx.recv().await {
            if let Input::Gossip(msg) = input {
                if to_net_tx.send(msg).is_err() {
                    return;
                }
            }
        }
    });
    // Network → local nodes.
    let (net_in_tx, mut net_in_rx) = mpsc::channel::<Input>(1024);
    let (to_bus_tx, to_bus_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(input) = net_in_rx.recv().await {
            let to_bus = match input {
                Input::FromPeer { msg, verdict } => {
                    let copy = others.then(|| msg.clone());
                    if first.send(Input::FromPeer { msg, verdict }).await.is_err() {
                        return;
                    }
                    copy
                }
                Input::Gossip(msg) => Some(msg),
                _ => None,
            };
            if let Some(msg) = to_bus {
                if to_bus_tx.send(msg).is_err() {
                    return;
                }
            }
        }
    });
    ((bus_in_tx, to_bus_rx), (net_in_tx, to_net_rx))
}
