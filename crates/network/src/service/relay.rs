//! Gossip through the network task: the node's own messages and transactions published, and
//! every received message validated before gossipsub forwards it: decoded and checked against
//! the spec or by the [`TransactionPool`] off the task, a consensus message then judged by
//! consensus; the verdict goes back to gossipsub, an offence to the sender's score, and a
//! missing parent is fetched.

use super::{
    Checked, Command, Task, TransactionPool, MAX_VALIDATIONS_IN_FLIGHT, MAX_VALIDATION_BYTES,
    VERDICT_TIMEOUT,
};
use crate::gossip::{self, Payload, Topic};
use crate::peers::Offence;
use crate::validate::{GossipValidator, Verdict};
use alloy_primitives::B256;
use alys_consensus::chain_store::ChainStore;
use alys_consensus::{GossipMessage, Input, PeerVerdict};
use libp2p::gossipsub::{self, MessageAcceptance, MessageId};
use libp2p::PeerId;
use tokio::sync::mpsc;

fn acceptance(v: &Verdict) -> MessageAcceptance {
    match v {
        Verdict::Accept => MessageAcceptance::Accept,
        Verdict::Ignore(_) => MessageAcceptance::Ignore,
        Verdict::Reject(_) => MessageAcceptance::Reject,
    }
}

impl Task {
    /// Publishes one of the node's consensus messages.
    pub(super) fn publish(&mut self, msg: GossipMessage) {
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

    /// Publishes a transaction of the embedded pool (when it relays transactions).
    pub(super) fn publish_transaction(&mut self, raw: Vec<u8>) {
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

    pub(super) fn on_gossip(&mut self, event: gossipsub::Event) {
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
            let checked = Checked {
                id,
                source,
                verdict,
                offence,
                missing_parent,
                bytes,
            };
            let _ = commands.send(Command::Verdict(checked)).await;
        });
    }

    fn report(&mut self, id: &MessageId, source: &PeerId, verdict: Verdict) {
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, source, acceptance(&verdict));
    }

    /// The verdict on a received message, back from its validation: reported to gossipsub
    /// (forwarded or not), the sender penalized for an offence, a missing parent fetched.
    pub(super) fn on_verdict(&mut self, checked: Checked) {
        let Checked { id, source, .. } = checked;
        self.validations = self.validations.saturating_sub(1);
        self.validation_bytes = self.validation_bytes.saturating_sub(checked.bytes);
        if let Verdict::Reject(reason) | Verdict::Ignore(reason) = &checked.verdict {
            tracing::debug!(peer = %source, reason, "gossip not forwarded");
        }
        self.report(&id, &source, checked.verdict.clone());
        if let Some(offence) = checked.offence {
            let why = match &checked.verdict {
                Verdict::Reject(r) | Verdict::Ignore(r) => r.clone(),
                Verdict::Accept => String::new(),
            };
            self.penalize(source, offence, &why);
        }
        if let Some(root) = checked.missing_parent {
            self.fetch_parent(root, source, 1);
        }
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
