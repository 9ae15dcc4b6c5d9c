//! A node's network facing a hostile peer: garbage, oversized, wrongly signed and invalid
//! gossip is not delivered to consensus and gets the sender banned; a flood of requests is
//! rate limited and gets the sender banned; meanwhile an honest peer's valid messages are
//! still delivered and its requests served.
//!
//! The victim is the real network service (`alys_network::start`) over a real consensus store;
//! the peers are libp2p swarms built here speaking the same protocols without any checks.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{FixedBytes, B256};
use alys_consensus::chain_store::ChainStore;
use alys_consensus::schedule::proposer_index;
use alys_consensus::{
    genesis_block, BlockError, ChainStatus, GossipMessage, Input, PeerVerdict, PowError, Rejection,
    SlotClock,
};
use alys_network::gossip::{self, Topic};
use alys_network::reqresp::{self, Request, Response, Status};
use alys_network::{ChainAccess, Network, NetworkConfig};
use alys_primitives::dev::dev_secret_key;
use alys_primitives::signing::sign_approval;
use alys_primitives::{
    compute_domain, Approval, AuxPowHeader, BlockProposal, ChainSpec, DomainType,
};
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, watch};

#[derive(NetworkBehaviour)]
struct Peer {
    gossipsub: gossipsub::Behaviour,
    reqresp: request_response::Behaviour<reqresp::Codec>,
}

struct Victim {
    network: Network,
    inputs: mpsc::Receiver<Input>,
    spec: Arc<ChainSpec>,
    _status: watch::Sender<ChainStatus>,
    _dir: tempfile::TempDir,
}

async fn victim() -> Victim {
    let dir = tempfile::tempdir().unwrap();
    let spec = Arc::new(ChainSpec::dev(3).unwrap());
    let store = Arc::new(alys_store::Store::open(&dir.path().join("consensus")).unwrap());
    let genesis = genesis_block(&spec).unwrap();
    let chain_store = ChainStore::open(store, &genesis).unwrap();
    let (status_tx, status) = watch::channel(ChainStatus {
        head_root: genesis.root(),
        finalized_root: genesis.root(),
        ..ChainStatus::default()
    });
    let (inputs_tx, inputs) = mpsc::channel(64);
    let network = alys_network::start(
        NetworkConfig {
            listen_addr: [127, 0, 0, 1].into(),
            port: 0,
            bootnodes: Vec::new(),
            max_peers: 10,
            key_file: dir.path().join("p2p").join("node.key"),
            deny_file: None,
        },
        ChainAccess {
            spec: spec.clone(),
            clock: SlotClock::system(spec.slot_duration_ms),
            store: chain_store,
            status,
            inputs: inputs_tx,
        },
        None,
    )
    .await
    .unwrap();
    Victim {
        network,
        inputs,
        spec,
        _status: status_tx,
        _dir: dir,
    }
}

/// A peer that publishes whatever it is given (no validation, large transmit limit).
fn peer() -> Swarm<Peer> {
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            let config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Anonymous)
                .max_transmit_size(4 * 1024 * 1024)
                .message_id_fn(|m: &gossipsub::Message| {
                    use sha2::{Digest, Sha256};
                    gossipsub::MessageId::new(&Sha256::digest(&m.data)[..20])
                })
                .build()
                .unwrap();
            Ok(Peer {
                gossipsub: gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Anonymous,
                    config,
                )
                .unwrap(),
                reqresp: request_response::Behaviour::new(
                    [(reqresp::PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default(),
                ),
            })
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// Drives `swarm` until `f` returns `Some` for an event, for at most `secs` seconds.
async fn until<T>(
    swarm: &mut Swarm<Peer>,
    secs: u64,
    what: &str,
    mut f: impl FnMut(&SwarmEvent<PeerEvent>) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            let e = swarm.select_next_some().await;
            if let Some(v) = f(&e) {
                return v;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Connects `swarm` to the victim and waits until it knows the victim's subscription to
/// `topic`.
async fn connect(swarm: &mut Swarm<Peer>, victim: &Network, topic: &IdentTopic) -> PeerId {
    let addr: Multiaddr = victim.listen_addrs[0].clone();
    swarm.behaviour_mut().gossipsub.subscribe(topic).unwrap();
    swarm.dial(addr).unwrap();
    let hash = topic.hash();
    until(swarm, 20, "the victim's subscription", |e| match e {
        SwarmEvent::Behaviour(PeerEvent::Gossipsub(gossipsub::Event::Subscribed {
            peer_id,
            topic,
        })) if *topic == hash => Some(*peer_id),
        _ => None,
    })
    .await
}

fn approval(
    spec: &ChainSpec,
    signer: usize,
    index: u64,
    root: B256,
    signed_root: B256,
) -> Approval {
    let domain = compute_domain(DomainType::BlockApproval, spec.spec_hash());
    let slot = SlotClock::system(spec.slot_duration_ms).current_slot();
    let sig = sign_approval(&dev_secret_key(signer), signed_root, slot, domain);
    Approval {
        block_root: root,
        slot,
        authority_index: index,
        signature: FixedBytes(sig.to_bytes()),
    }
}

/// A snappy frame whose header announces `len` decoded bytes, followed by a little data.
fn lying_snappy(len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = len;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(&[0; 64]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_gossip_is_not_delivered_and_bans_its_sender() {
    let mut v = victim().await;
    let spec_hash = v.spec.spec_hash();
    let approvals = Topic::Approval.ident(spec_hash);
    let blocks = Topic::Block.ident(spec_hash);
    let mut attacker = peer();
    let victim_id = connect(&mut attacker, &v.network, &approvals).await;
    attacker
        .behaviour_mut()
        .gossipsub
        .subscribe(&blocks)
        .unwrap();

    let root = B256::repeat_byte(7);
    let hostile: Vec<(&IdentTopic, Vec<u8>)> = vec![
        // Not snappy.
        (&approvals, vec![0xff; 40]),
        // A header announcing a 1 GiB block: refused before decompressing.
        (&blocks, lying_snappy(1 << 30)),
        // Snappy, but not an approval.
        (&approvals, gossip::compress(&[1, 2, 3])),
        // Signed by authority 0 over another root.
        (
            &approvals,
            gossip::encode(&GossipMessage::Approval(approval(
                &v.spec,
                0,
                0,
                root,
                B256::repeat_byte(8),
            )))
            .1,
        ),
        // Claims to be authority 1, signed by authority 0.
        (
            &approvals,
            gossip::encode(&GossipMessage::Approval(approval(
                &v.spec, 0, 1, root, root,
            )))
            .1,
        ),
        // No such authority.
        (
            &approvals,
            gossip::encode(&GossipMessage::Approval(approval(
                &v.spec, 0, 9, root, root,
            )))
            .1,
        ),
    ];
    for (topic, data) in hostile {
        attacker
            .behaviour_mut()
            .gossipsub
            .publish(topic.clone(), data)
            .unwrap();
    }
    // The victim bans the attacker and closes the connection.
    until(&mut attacker, 20, "the victim to disconnect", |e| match e {
        SwarmEvent::ConnectionClosed { peer_id, .. } if *peer_id == victim_id => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(v.network.status.borrow().bans, 1);
    assert!(
        v.inputs.try_recv().is_err(),
        "nothing hostile reaches consensus"
    );
    // Banned: a new connection is refused.
    attacker.dial(v.network.listen_addrs[0].clone()).unwrap();
    until(&mut attacker, 20, "the redial to fail", |e| match e {
        SwarmEvent::ConnectionClosed { .. } | SwarmEvent::OutgoingConnectionError { .. } => {
            Some(())
        }
        _ => None,
    })
    .await;

    // The node is still up: an honest peer's valid approval is delivered.
    let mut honest = peer();
    connect(&mut honest, &v.network, &approvals).await;
    let good = approval(&v.spec, 1, 1, root, root);
    honest
        .behaviour_mut()
        .gossipsub
        .publish(
            approvals.clone(),
            gossip::encode(&GossipMessage::Approval(good)).1,
        )
        .unwrap();
    let delivered = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            tokio::select! {
                input = v.inputs.recv() => return input,
                _ = honest.select_next_some() => {}
            }
        }
    })
    .await
    .unwrap();
    match delivered {
        Some(Input::FromPeer {
            msg: GossipMessage::Approval(a),
            verdict,
        }) => {
            assert_eq!(a, good);
            verdict.send(PeerVerdict::Accepted).unwrap();
        }
        other => panic!("expected the honest approval, got {other:?}"),
    }
    assert!(!v.network.task.is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_flood_is_rate_limited_and_bans_its_sender() {
    let v = victim().await;
    let approvals = Topic::Approval.ident(v.spec.spec_hash());
    let mut flooder = peer();
    let victim_id = connect(&mut flooder, &v.network, &approvals).await;
    // Statuses of the same chain (a status of another chain would be a ban on its own).
    let ours = Status {
        spec_hash: v.spec.spec_hash(),
        genesis_root: genesis_block(&v.spec).unwrap().root(),
        ..Status::default()
    };
    for _ in 0..200 {
        flooder
            .behaviour_mut()
            .reqresp
            .send_request(&victim_id, Request::Status(ours));
    }
    let mut answered = 0;
    until(&mut flooder, 30, "the victim to disconnect", |e| match e {
        SwarmEvent::Behaviour(PeerEvent::Reqresp(request_response::Event::Message {
            message:
                request_response::Message::Response {
                    response: Response::Status(_),
                    ..
                },
            ..
        })) => {
            answered += 1;
            None
        }
        SwarmEvent::ConnectionClosed { peer_id, .. } if *peer_id == victim_id => Some(()),
        _ => None,
    })
    .await;
    // Only the burst was served; the rest was refused until the ban.
    assert!(
        answered <= alys_network::ratelimit::STATUS_QUOTA.capacity as usize,
        "{answered} statuses served"
    );
    assert_eq!(v.network.status.borrow().bans, 1);

    // An honest peer is served: its status, and genesis by range.
    let mut honest = peer();
    let id = connect(&mut honest, &v.network, &approvals).await;
    honest.behaviour_mut().reqresp.send_request(
        &id,
        Request::BlocksByRange {
            start_height: 0,
            count: 4,
        },
    );
    let blocks = until(&mut honest, 20, "blocks by range", |e| match e {
        SwarmEvent::Behaviour(PeerEvent::Reqresp(request_response::Event::Message {
            message:
                request_response::Message::Response {
                    response: Response::Blocks(b),
                    ..
                },
            ..
        })) => Some(b.clone()),
        _ => None,
    })
    .await;
    assert_eq!(blocks.len(), 1, "genesis only");
    assert_eq!(blocks[0], genesis_block(&v.spec).unwrap());
}

/// A proposal on genesis for `slot`, signed by the slot's proposer, tagged by its extra data.
fn signed_proposal(spec: &ChainSpec, slot: u64, tag: u8) -> BlockProposal {
    let genesis = genesis_block(spec).unwrap();
    let mut block = genesis.message.clone();
    block.parent_root = genesis.root();
    block.slot = slot;
    block.execution_payload.extra_data = ssz_types::VariableList::new(vec![tag]).unwrap();
    let root = block.root();
    let p = proposer_index(slot, spec.authorities.len());
    let domain = compute_domain(DomainType::BlockApproval, spec.spec_hash());
    BlockProposal {
        proposer_approval: Approval {
            block_root: root,
            slot,
            authority_index: p as u64,
            signature: FixedBytes(sign_approval(&dev_secret_key(p), root, slot, domain).to_bytes()),
        },
        block,
    }
}

fn auxpow(tag: u8) -> AuxPowHeader {
    AuxPowHeader::new(
        1,
        B256::repeat_byte(tag),
        Default::default(),
        0x207fffff,
        vec![tag; 80],
    )
    .unwrap()
}

/// Plays consensus: AuxPoW proofs tagged 0xee are valid, everything else is invalid.
fn stub_consensus(mut inputs: mpsc::Receiver<Input>) -> mpsc::UnboundedReceiver<GossipMessage> {
    let (seen_tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(input) = inputs.recv().await {
            let Input::FromPeer { msg, verdict } = input else {
                continue;
            };
            let v = match &msg {
                GossipMessage::AuxPow(h) if h.auxpow[0] == 0xee => PeerVerdict::Accepted,
                GossipMessage::AuxPow(_) => {
                    PeerVerdict::Rejected(Rejection::AuxPow(PowError::WrongBits {
                        expected: 0x1d00ffff,
                        got: 0x207fffff,
                    }))
                }
                _ => PeerVerdict::Rejected(Rejection::Block(BlockError::FeeRecipientNotBurn(
                    Default::default(),
                ))),
            };
            let _ = verdict.send(v);
            let _ = seen_tx.send(msg);
        }
    });
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_consensus_rejects_are_not_forwarded_and_ban_their_sender() {
    let v = victim().await;
    let spec = v.spec.clone();
    let spec_hash = spec.spec_hash();
    let (proposals, auxpows) = (
        Topic::Proposal.ident(spec_hash),
        Topic::AuxPow.ident(spec_hash),
    );
    let mut seen = stub_consensus(v.inputs);

    // An observer that only hears what the victim forwards.
    let mut observer = peer();
    connect(&mut observer, &v.network, &auxpows).await;
    observer
        .behaviour_mut()
        .gossipsub
        .subscribe(&proposals)
        .unwrap();
    let (heard_tx, mut heard) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(PeerEvent::Gossipsub(gossipsub::Event::Message {
                message,
                ..
            })) = observer.select_next_some().await
            {
                let _ = heard_tx.send(message.data);
            }
        }
    });

    let mut attacker = peer();
    let victim_id = connect(&mut attacker, &v.network, &auxpows).await;
    attacker
        .behaviour_mut()
        .gossipsub
        .subscribe(&proposals)
        .unwrap();
    let slot = SlotClock::system(spec.slot_duration_ms).current_slot();
    // Each passes the network's own checks (decodes, proposer signature, slot window); consensus
    // rejects each (an invalid payload, a proof below the chain's target).
    let mut bad = vec![(
        &auxpows,
        gossip::encode(&GossipMessage::AuxPow(Box::new(auxpow(0xbb)))).1,
    )];
    for i in 0..4u8 {
        let p = signed_proposal(&spec, slot - u64::from(i), i);
        bad.push((
            &proposals,
            gossip::encode(&GossipMessage::Proposal(Box::new(p))).1,
        ));
    }
    for (topic, data) in &bad {
        attacker
            .behaviour_mut()
            .gossipsub
            .publish((*topic).clone(), data.clone())
            .unwrap();
    }
    until(
        &mut attacker,
        20,
        "the victim to ban the attacker",
        |e| match e {
            SwarmEvent::ConnectionClosed { peer_id, .. } if *peer_id == victim_id => Some(()),
            _ => None,
        },
    )
    .await;
    assert_eq!(v.network.status.borrow().bans, 1);
    // Consensus saw them (the network asked for its verdict)...
    let mut asked = 0;
    while asked < 4 {
        tokio::time::timeout(Duration::from_secs(10), seen.recv())
            .await
            .unwrap()
            .unwrap();
        asked += 1;
    }

    // ...and the victim forwarded none: the first thing the observer hears is a valid proof
    // an honest peer sends now.
    let mut honest = peer();
    connect(&mut honest, &v.network, &auxpows).await;
    let good = gossip::encode(&GossipMessage::AuxPow(Box::new(auxpow(0xee)))).1;
    honest
        .behaviour_mut()
        .gossipsub
        .publish(auxpows.clone(), good.clone())
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            tokio::select! {
                m = heard.recv() => return m.unwrap(),
                _ = honest.select_next_some() => {}
            }
        }
    })
    .await
    .expect("the valid proof forwarded to the observer");
    assert_eq!(first, good, "the victim forwarded a rejected message");
    assert!(bad.iter().all(|(_, d)| *d != first));
}
