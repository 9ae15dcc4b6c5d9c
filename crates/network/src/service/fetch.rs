//! Requests and responses of the network task ([`crate::reqresp`]): outbound requests kept
//! until answered, inbound ones rate limited and served from the store off the task, and the
//! blocks peers send back, by range (catching up, [`crate::sync`]) or by root (missing
//! parents), checked and handed to consensus in order.

use super::{
    Command, Delivery, Pending, Task, MAX_PENDING_REQUESTS, MAX_SERVING_IN_FLIGHT, VERDICT_TIMEOUT,
};
use crate::peers::Offence;
use crate::reqresp::{self, ErrorCode, Request, Response, MAX_BLOCKS_PER_REQUEST};
use alloy_primitives::B256;
use alys_consensus::chain_store::ChainStore;
use alys_consensus::{GossipMessage, Input, PeerVerdict};
use alys_primitives::SignedConsensusBlock;
use libp2p::request_response::{self, ResponseChannel};
use libp2p::PeerId;
use std::time::Instant;

impl Task {
    pub(super) fn send_request(&mut self, peer: PeerId, req: Request, pending: Pending) {
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            tracing::debug!(%peer, "too many outstanding requests; not sending");
            return;
        }
        let id = self.swarm.behaviour_mut().reqresp.send_request(&peer, req);
        self.pending.insert(id, (peer, pending));
    }

    pub(super) fn on_reqresp(&mut self, event: request_response::Event<Request, Response>) {
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

    pub(super) fn respond(&mut self, channel: ResponseChannel<Response>, response: Response) {
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
            Request::Status(theirs) => self.on_status_request(peer, theirs, channel),
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
                    let delivered = Command::Delivered(Delivery {
                        peer,
                        ok: false,
                        count,
                        range,
                        missing_parents: Vec::new(),
                    });
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
            let delivered = Command::Delivered(Delivery {
                peer,
                ok: true,
                count: verdicts.len() as u64,
                range,
                missing_parents,
            });
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

    pub(super) fn fetch_parent(&mut self, root: B256, peer: PeerId, depth: u32) {
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

    /// Fetched blocks handed to consensus (or found invalid): parents still missing are
    /// fetched, range sync moves on to the next batch.
    pub(super) fn on_delivered(&mut self, delivery: Delivery) {
        let Delivery {
            peer,
            ok,
            count,
            range,
            missing_parents,
        } = delivery;
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

    /// Sends the next blocks-by-range request if sync has one due.
    pub(super) fn request_range(&mut self, now: Instant) {
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
