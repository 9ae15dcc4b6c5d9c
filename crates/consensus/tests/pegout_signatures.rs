//! Peg-out signatures on the consensus message path: a node's own signatures published with
//! [`Input::PublishPegOutSignatures`] reach the other nodes' collectors through the in-process
//! bus, and a peer's message gets the verdict its collector gives (accepted → forwarded,
//! unknown payout → ignored, invalid → rejected, typed). A node without a collector ignores
//! every such message.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alloy_primitives::B256;
use alys_consensus::{
    ConsensusService, GossipMessage, Input, LocalNetwork, PeerVerdict, PegOutSignatureSink,
    Rejection, ServiceHandle, SignatureRejection, SignatureVerdict,
};
use alys_primitives::PegOutSignatures;
use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Knows one payout (`txid` 0x11…) of 2 inputs, signed by members 0..3; records what it got.
#[derive(Default)]
struct Recording {
    got: Mutex<Vec<PegOutSignatures>>,
}

impl PegOutSignatureSink for Recording {
    fn receive(&self, msg: &PegOutSignatures) -> Result<SignatureVerdict, SignatureRejection> {
        if msg.member >= 3 {
            return Err(SignatureRejection::UnknownMember {
                member: msg.member,
                members: 3,
            });
        }
        if msg.txid != B256::repeat_byte(0x11) {
            return Ok(SignatureVerdict::UnknownPayout);
        }
        if msg.signatures.len() != 2 {
            return Err(SignatureRejection::SignatureCount {
                member: msg.member,
                got: msg.signatures.len(),
                inputs: 2,
            });
        }
        self.got.lock().unwrap().push(msg.clone());
        Ok(SignatureVerdict::Accepted)
    }
}

fn sigs(txid: u8, member: u64, n: usize) -> PegOutSignatures {
    PegOutSignatures::new(
        B256::repeat_byte(txid),
        member,
        &vec![[member as u8; 64]; n],
    )
    .unwrap()
}

async fn ask(h: &ServiceHandle, msg: PegOutSignatures) -> PeerVerdict {
    let (tx, rx) = tokio::sync::oneshot::channel();
    h.inputs
        .send(Input::FromPeer {
            msg: GossipMessage::PegOutSignatures(Box::new(msg)),
            verdict: tx,
        })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_travel_the_bus_and_peers_get_the_collectors_verdict() {
    init_tracing();
    let spec = spec();
    let time = manual_time();
    let (_dirs, nodes) = start_three(&spec, &time).await;
    let sinks: Vec<Arc<Recording>> = (0..3).map(|_| Arc::new(Recording::default())).collect();
    let mut handles = Vec::new();
    let mut els = Vec::new();
    for (i, n) in nodes.into_iter().enumerate() {
        els.push(n.el);
        handles.push(ConsensusService::spawn_with_pegout_sink(
            n.chain,
            Some(signer(&spec, i)),
            sinks[i].clone(),
        ));
    }
    let mut channels = Vec::new();
    let mut handles_in = Vec::new();
    for h in handles {
        channels.push((h.inputs.clone(), h.outbound));
        handles_in.push((h.inputs, h.status, h.task));
    }
    let net = LocalNetwork::connect(channels);

    // Node 0 publishes its own signatures: the others' collectors get them, its own does not
    // (it signed them, it already holds them).
    let own = sigs(0x11, 0, 2);
    handles_in[0]
        .0
        .send(Input::PublishPegOutSignatures(Box::new(own.clone())))
        .await
        .unwrap();
    for _ in 0..400 {
        if (1..3).all(|i| !sinks[i].got.lock().unwrap().is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for sink in &sinks[1..] {
        assert_eq!(*sink.got.lock().unwrap(), vec![own.clone()]);
    }
    assert!(sinks[0].got.lock().unwrap().is_empty());

    // From a peer: the collector's verdict.
    let h = ServiceHandle {
        inputs: handles_in[1].0.clone(),
        outbound: tokio::sync::mpsc::unbounded_channel().1,
        status: handles_in[1].1.clone(),
        task: tokio::spawn(async {}),
    };
    assert_eq!(ask(&h, sigs(0x11, 2, 2)).await, PeerVerdict::Accepted);
    assert!(matches!(
        ask(&h, sigs(0x22, 2, 2)).await,
        PeerVerdict::Ignored(_)
    ));
    assert_eq!(
        ask(&h, sigs(0x11, 7, 2)).await,
        PeerVerdict::Rejected(Rejection::PegOutSignature(
            SignatureRejection::UnknownMember {
                member: 7,
                members: 3
            }
        ))
    );
    assert!(matches!(
        ask(&h, sigs(0x11, 1, 1)).await,
        PeerVerdict::Rejected(Rejection::PegOutSignature(
            SignatureRejection::SignatureCount { got: 1, .. }
        ))
    ));
    net.shutdown();
    for (_, _, task) in handles_in {
        task.abort();
    }
    for el in els {
        el.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_collector_every_signature_message_is_ignored() {
    let spec = spec();
    let time = manual_time();
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), spec.clone(), &time).await;
    let h = ConsensusService::spawn(n.chain, None);
    assert!(matches!(
        ask(&h, sigs(0x11, 0, 2)).await,
        PeerVerdict::Ignored(_)
    ));
    h.task.abort();
    n.el.stop().await;
}
