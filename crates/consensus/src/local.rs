//! An in-process gossip bus connecting several consensus services (several authorities in
//! one process: `alys dev --authorities N` and tests). Every message a node publishes is
//! delivered to every other node whose link to it is up; messages over a cut link are held and
//! delivered when the link heals, like a network partition that ends.

use crate::service::{GossipMessage, Input};
use tokio::sync::mpsc;

enum Control {
    Partition(Vec<Vec<usize>>),
    Heal,
}

/// The bus.
#[derive(Debug)]
pub struct LocalNetwork {
    control: mpsc::UnboundedSender<Control>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalNetwork {
    /// Connect nodes given as `(inputs, outbound)` channel pairs, in node order.
    pub fn connect(
        nodes: Vec<(mpsc::Sender<Input>, mpsc::UnboundedReceiver<GossipMessage>)>,
    ) -> Self {
        let (bus_tx, mut bus_rx) = mpsc::unbounded_channel::<(usize, GossipMessage)>();
        let mut inputs = Vec::new();
        for (i, (input, mut outbound)) in nodes.into_iter().enumerate() {
            inputs.push(input);
            let bus_tx = bus_tx.clone();
            tokio::spawn(async move {
                while let Some(msg) = outbound.recv().await {
                    if bus_tx.send((i, msg)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(bus_tx);
        let (control, mut control_rx) = mpsc::unbounded_channel();
        let n = inputs.len();
        let task = tokio::spawn(async move {
            let mut group: Vec<usize> = vec![0; n];
            let mut held: Vec<(usize, GossipMessage)> = Vec::new();
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
                            for (to, msg) in std::mem::take(&mut held) {
                                let _ = inputs[to].send(Input::Gossip(msg)).await;
                            }
                        }
                        None => return,
                    },
                    m = bus_rx.recv() => match m {
                        Some((from, msg)) => {
                            for (to, input) in inputs.iter().enumerate() {
                                if to == from {
                                    continue;
                                }
                                if group[to] == group[from] && group[to] != usize::MAX {
                                    let _ = input.send(Input::Gossip(msg.clone())).await;
                                } else {
                                    held.push((to, msg.clone()));
                                }
                            }
                        }
                        None => return,
                    },
                }
            }
        });
        Self { control, task }
    }

    /// Split the nodes into groups that only hear each other (nodes in no group hear nobody).
    pub fn partition(&self, groups: Vec<Vec<usize>>) {
        let _ = self.control.send(Control::Partition(groups));
    }

    /// Reconnect everyone and deliver held messages.
    pub fn heal(&self) {
        let _ = self.control.send(Control::Heal);
    }

    /// Stop the bus.
    pub fn shutdown(self) {
        self.task.abort();
    }
}
