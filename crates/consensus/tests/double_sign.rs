//! Double-signing protection across restarts: the highest slot a node signed for is persisted
//! before its signature leaves the node, and a restarted node never signs at or below it.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alys_consensus::{ConsensusService, GossipMessage, Input};
use common::*;
use std::time::Duration;

/// The next slot after `from` whose proposer is `index`.
fn next_slot_of(index: usize, from: u64, n: usize) -> u64 {
    (from + 1..)
        .find(|s| (*s as usize) % n == index)
        .expect("some slot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_does_not_sign_a_slot_it_signed_before() {
    let spec = spec();
    let time = manual_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = node(dir.path(), spec.clone(), &time).await;
    let me = signer(&spec, 0);
    let current = node.chain.clock().current_slot();
    let slot = next_slot_of(0, current, 3);
    // As if this node had signed for `slot` and then crashed.
    node.chain
        .store()
        .put_last_signed_slot(slot)
        .expect("persist");
    assert_eq!(node.chain.store().last_signed_slot().expect("read"), slot);

    time.set_ms(node.chain.clock().slot_start_ms(slot));
    let mut handle = ConsensusService::spawn(node.chain, Some(me));
    handle
        .inputs
        .send(Input::Tick { slot })
        .await
        .expect("send");
    let quiet = tokio::time::timeout(Duration::from_millis(500), handle.outbound.recv()).await;
    assert!(quiet.is_err(), "signed slot {slot} twice: {quiet:?}");

    let later = next_slot_of(0, slot, 3);
    time.set_ms(time_of(&spec, later));
    handle
        .inputs
        .send(Input::Tick { slot: later })
        .await
        .expect("send");
    let msg = tokio::time::timeout(Duration::from_secs(10), handle.outbound.recv())
        .await
        .expect("a proposal for the later slot")
        .expect("channel open");
    match msg {
        GossipMessage::Proposal(p) => assert_eq!(p.block.slot, later),
        other => panic!("unexpected {other:?}"),
    }
    handle.task.abort();
    node.el.stop().await;
}

fn time_of(spec: &alys_primitives::ChainSpec, slot: u64) -> u64 {
    slot * spec.slot_duration_ms
}
