//! The in-process bus under a flood (in `alys dev` one member is the p2p network, fed by
//! peers): a member that floods, a member that never reads and a partition that holds messages
//! must leave every queue within its bounds in count and bytes, and the other members must
//! still hear each other.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alloy_primitives::{FixedBytes, B256};
use alys_consensus::local::{
    BusStats, LocalNetwork, MAX_HELD, MAX_HELD_BYTES, MAX_QUEUED_BYTES_PER_MEMBER,
    MAX_QUEUED_PER_MEMBER,
};
use alys_consensus::{genesis_block, GossipMessage, Input};
use alys_primitives::{Approval, ChainSpec};
use ssz_types::VariableList;
use std::time::Duration;
use tokio::sync::mpsc;

fn approval(i: u64) -> GossipMessage {
    GossipMessage::Approval(Approval {
        block_root: B256::repeat_byte(1),
        slot: i,
        authority_index: 0,
        signature: FixedBytes::ZERO,
    })
}

/// A block message of about `mib` MiB.
fn big_block(mib: usize, tag: u8) -> GossipMessage {
    let mut b = genesis_block(&ChainSpec::dev(1).unwrap()).unwrap();
    let tx = VariableList::new(vec![tag; mib << 20]).unwrap();
    b.message.execution_payload.transactions = VariableList::new(vec![tx]).unwrap();
    GossipMessage::Block(Box::new(b))
}

/// Waits until `f` holds for the bus's stats.
async fn until(net: &LocalNetwork, what: &str, f: impl Fn(&BusStats) -> bool) {
    for _ in 0..4000 {
        if f(&net.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{what}: {:?}", net.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_stays_within_bounds_and_others_are_still_heard() {
    // 0 floods, 1 never reads, 2 sends one honest message, 3 reads everything.
    let (out0, rx0) = mpsc::unbounded_channel();
    let (in1, _stalled) = mpsc::channel::<Input>(4);
    let (_out1, rx1) = mpsc::unbounded_channel();
    let (out2, rx2) = mpsc::unbounded_channel();
    let (in3, mut reader) = mpsc::channel::<Input>(100_000);
    let (_out3, rx3) = mpsc::unbounded_channel();
    let (in0, _in0_rx) = mpsc::channel::<Input>(100_000);
    let (in2, _in2_rx) = mpsc::channel::<Input>(100_000);
    let net = LocalNetwork::connect(vec![(in0, rx0), (in1, rx1), (in2, rx2), (in3, rx3)]);

    // Many small messages: the stalled member drops them, the bus does not wait on it.
    for i in 0..20_000 {
        out0.send(approval(i)).unwrap();
        let s = net.stats();
        assert!(s.queued <= 4 * MAX_QUEUED_PER_MEMBER, "{s:?}");
    }
    out2.send(approval(u64::MAX)).unwrap();
    // Everything reached the bus: what the stalled member could not take was dropped for it.
    until(&net, "drops for the stalled member", |s| {
        s.queued == 0 && s.dropped >= 20_000 - 4
    })
    .await;
    let mut got = 0;
    let mut honest = false;
    while let Ok(Input::Gossip(m)) = tokio::time::timeout(Duration::from_secs(5), reader.recv())
        .await
        .map(|m| m.unwrap())
    {
        got += 1;
        honest |= m == approval(u64::MAX);
        if honest && got > 1000 {
            break;
        }
    }
    assert!(honest, "the honest member's message was not delivered");
    assert!(got > 1000, "the reading member heard {got} messages");

    // Large messages: the per-member byte budget holds however fast they come.
    for i in 0..100u8 {
        out0.send(big_block(1, i)).unwrap();
        let s = net.stats();
        assert!(s.queued_bytes <= 4 * MAX_QUEUED_BYTES_PER_MEMBER, "{s:?}");
    }
    until(&net, "the bus to drain", |s| s.queued == 0).await;

    // A partition holds messages for cut links, within its bounds.
    net.partition(vec![vec![0], vec![2, 3]]);
    for i in 0..10_000 {
        out0.send(approval(i)).unwrap();
    }
    for i in 0..40u8 {
        out0.send(big_block(4, i)).unwrap();
        let s = net.stats();
        assert!(
            s.held <= MAX_HELD && s.held_bytes <= MAX_HELD_BYTES,
            "{s:?}"
        );
    }
    until(&net, "messages held for the cut links", |s| {
        s.queued == 0 && s.held > 0
    })
    .await;
    let s = net.stats();
    assert!(
        s.held <= MAX_HELD && s.held_bytes <= MAX_HELD_BYTES,
        "{s:?}"
    );
    // Healing delivers what is held (to the members that read).
    while reader.try_recv().is_ok() {}
    net.heal();
    until(&net, "held messages delivered", |s| s.held == 0).await;
    let first = tokio::time::timeout(Duration::from_secs(10), reader.recv())
        .await
        .unwrap();
    assert!(matches!(first, Some(Input::Gossip(_))));
    net.shutdown();
}
