//! An in-process gossip bus connecting several consensus services (several authorities in
//! one process: `alys dev --authorities N` and tests). Every message a node publishes is
//! delivered to every other node whose link to it is up; messages over a cut link are held and
//! delivered when the link heals, like a network partition that ends.
//!
//! In `alys dev` one member is the p2p network, so what peers send reaches the bus. Every queue
//! is bounded in count and bytes, and nothing waits on a slow member:
//!
//! * each member's messages waiting in the bus: at most [`MAX_QUEUED_PER_MEMBER`] and
//!   [`MAX_QUEUED_BYTES_PER_MEMBER`]; beyond that the member's new messages are dropped, so a
//!   member fed by a flood cannot crowd out the others;
//! * delivery to a member never waits: when its input channel is full, the message is dropped
//!   for it (consensus recovers a missed block through sync);
//! * messages held for cut links: at most [`MAX_HELD`] and [`MAX_HELD_BYTES`], the oldest
//!   dropped first.
//!
//! [`LocalNetwork::stats`] reports the queues and the drops.

use crate::service::{GossipMessage, Input};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Messages of one member waiting in the bus at most.
pub const MAX_QUEUED_PER_MEMBER: usize = 1024;
/// Bytes (SSZ) of one member's messages waiting in the bus at most.
pub const MAX_QUEUED_BYTES_PER_MEMBER: usize = 64 * 1024 * 1024;
/// Messages held for cut links at most (all members together).
pub const MAX_HELD: usize = 4096;
/// Bytes of messages held for cut links at most.
pub const MAX_HELD_BYTES: usize = 128 * 1024 * 1024;

enum Control {
    Partition(Vec<Vec<usize>>),
    Heal,
}

/// What is in the bus's queues right now, and what was dropped since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Messages waiting to be delivered.
    pub queued: usize,
    /// Their bytes.
    pub queued_bytes: usize,
    /// Messages held for cut links.
    pub held: usize,
    /// Their bytes.
    pub held_bytes: usize,
    /// Messages dropped (over a bound, or a member's input channel full).
    pub dropped: u64,
}

#[derive(Default)]
struct Budget {
    count: AtomicUsize,
    bytes: AtomicUsize,
}

#[derive(Default)]
struct Counters {
    budgets: Vec<Budget>,
    held: AtomicUsize,
    held_bytes: AtomicUsize,
    dropped: AtomicU64,
}

impl Counters {
    /// Reserves room for a message of `bytes` from member `i`.
    fn reserve(&self, i: usize, bytes: usize) -> bool {
        let b = &self.budgets[i];
        let count = b.count.fetch_add(1, Ordering::AcqRel);
        let total = b.bytes.fetch_add(bytes, Ordering::AcqRel);
        if count >= MAX_QUEUED_PER_MEMBER || total + bytes > MAX_QUEUED_BYTES_PER_MEMBER {
            self.release(i, bytes);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn release(&self, i: usize, bytes: usize) {
        let b = &self.budgets[i];
        b.count.fetch_sub(1, Ordering::AcqRel);
        b.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// The bus.
pub struct LocalNetwork {
    control: mpsc::UnboundedSender<Control>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for LocalNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalNetwork")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl LocalNetwork {
    /// Connect nodes given as `(inputs, outbound)` channel pairs, in node order.
    pub fn connect(
        nodes: Vec<(mpsc::Sender<Input>, mpsc::UnboundedReceiver<GossipMessage>)>,
    ) -> Self {
        let n = nodes.len();
        let counters = Arc::new(Counters {
            budgets: (0..n).map(|_| Budget::default()).collect(),
            ..Counters::default()
        });
        // Unbounded, but every message in it holds a reservation of its member's budget.
        let (bus_tx, mut bus_rx) = mpsc::unbounded_channel::<(usize, GossipMessage, usize)>();
        let mut inputs = Vec::new();
        for (i, (input, mut outbound)) in nodes.into_iter().enumerate() {
            inputs.push(input);
            let bus_tx = bus_tx.clone();
            let counters = counters.clone();
            // Drains the member's outbound at once, so it never accumulates there either.
            tokio::spawn(async move {
                while let Some(msg) = outbound.recv().await {
                    let bytes = msg.size_bytes();
                    if !counters.reserve(i, bytes) {
                        tracing::debug!(member = i, "bus full for this member; message dropped");
                        continue;
                    }
                    if bus_tx.send((i, msg, bytes)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(bus_tx);
        let (control, mut control_rx) = mpsc::unbounded_channel();
        let shared = counters.clone();
        let task = tokio::spawn(async move {
            let counters = shared;
            let mut group: Vec<usize> = vec![0; n];
            let mut held = Held::default();
            let deliver = |to: usize, msg: GossipMessage| {
                if inputs[to].try_send(Input::Gossip(msg)).is_err() {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(member = to, "member's input full; message dropped for it");
                }
            };
            loop {
                tokio::select! {
                    biased;
                    c = control_rx.recv() => match c {
                        Some(Control::Partition(groups)) => {
                            group = vec![usize::MAX; n];
                            for (g, members) in groups.iter().enumerate() {
                                for m in members {
                                    if let Some(slot) = group.get_mut(*m) {
                                        *slot = g;
                                    }
                                }
                            }
                        }
                        Some(Control::Heal) => {
                            group = vec![0; n];
                            for (to, msg, _) in held.items.drain(..) {
                                deliver(to, msg);
                            }
                            held.bytes = 0;
                        }
                        None => return,
                    },
                    m = bus_rx.recv() => match m {
                        Some((from, msg, bytes)) => {
                            for to in 0..n {
                                if to == from {
                                    continue;
                                }
                                if group[to] == group[from] && group[to] != usize::MAX {
                                    deliver(to, msg.clone());
                                } else {
                                    let dropped = held.push(to, msg.clone(), bytes);
                                    counters.dropped.fetch_add(dropped, Ordering::Relaxed);
                                }
                            }
                            counters.release(from, bytes);
                        }
                        None => return,
                    },
                }
                counters.held.store(held.items.len(), Ordering::Relaxed);
                counters.held_bytes.store(held.bytes, Ordering::Relaxed);
            }
        });
        Self {
            control,
            counters,
            task,
        }
    }

    /// Split the nodes into groups that only hear each other (nodes in no group hear nobody).
    pub fn partition(&self, groups: Vec<Vec<usize>>) {
        let _ = self.control.send(Control::Partition(groups));
    }

    /// Reconnect everyone and deliver held messages.
    pub fn heal(&self) {
        let _ = self.control.send(Control::Heal);
    }

    /// The queues and drops.
    pub fn stats(&self) -> BusStats {
        let c = &self.counters;
        BusStats {
            queued: c
                .budgets
                .iter()
                .map(|b| b.count.load(Ordering::Acquire))
                .sum(),
            queued_bytes: c
                .budgets
                .iter()
                .map(|b| b.bytes.load(Ordering::Acquire))
                .sum(),
            held: c.held.load(Ordering::Relaxed),
            held_bytes: c.held_bytes.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }

    /// Stop the bus.
    pub fn shutdown(self) {
        self.task.abort();
    }
}

/// Messages held for cut links, bounded in count and bytes (oldest dropped first).
#[derive(Default)]
struct Held {
    items: VecDeque<(usize, GossipMessage, usize)>,
    bytes: usize,
}

impl Held {
    /// Holds `msg` for member `to`; returns how many older messages were dropped for room.
    fn push(&mut self, to: usize, msg: GossipMessage, bytes: usize) -> u64 {
        if bytes > MAX_HELD_BYTES {
            return 1;
        }
        let mut dropped = 0;
        while self.items.len() >= MAX_HELD || self.bytes + bytes > MAX_HELD_BYTES {
            match self.items.pop_front() {
                Some((_, _, b)) => {
                    self.bytes -= b;
                    dropped += 1;
                }
                None => break,
            }
        }
        self.bytes += bytes;
        self.items.push_back((to, msg, bytes));
        dropped
    }
}
