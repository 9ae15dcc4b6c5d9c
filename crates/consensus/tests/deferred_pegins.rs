//! Three authorities whose Bitcoin views differ for a moment: the proposer's follower has seen
//! a deposit's last confirmation, the two validators' followers have not polled yet. The
//! validators keep the proposal and try again shortly instead of dropping it, so the mint lands
//! in the proposer's slot once they catch up; a peg-in none of them will ever see is never
//! imported.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alloy_primitives::{Address, B256};
use alys_consensus::schedule::proposer_index;
use alys_consensus::{BlockInfo, Input, PegInRejection, PegInVerifier};
use alys_primitives::PegIn;
use alys_test_utils::federation::{manual_clock, start_nodes, temp_dirs};
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A node's view of one deposit: confirmed once `visible` is set. The proposer also proposes it
/// (on the genesis parent only, so it is minted once). Every refusal is counted in `refusals`.
struct FollowerView {
    deposit: PegIn,
    visible: Arc<AtomicBool>,
    proposes: bool,
    refusals: watch::Sender<u64>,
}

impl PegInVerifier for FollowerView {
    fn verify(&self, _parent: &BlockInfo, pegin: &PegIn) -> Result<(), PegInRejection> {
        if *pegin == self.deposit && self.visible.load(Ordering::SeqCst) {
            Ok(())
        } else {
            self.refusals.send_modify(|n| *n += 1);
            Err(PegInRejection::Unconfirmed {
                txid: pegin.txid,
                state: "1 confirmation(s) so far".into(),
            })
        }
    }

    fn candidates(&self, parent: &BlockInfo) -> Vec<PegIn> {
        if self.proposes && parent.height == 0 {
            vec![self.deposit]
        } else {
            Vec::new()
        }
    }
}

fn deposit() -> PegIn {
    PegIn {
        txid: B256::repeat_byte(0x11),
        block_hash: B256::repeat_byte(0xbb),
        vout: 0,
        sats: 21_000,
        evm_address: Address::repeat_byte(0xa1),
    }
}

struct Federation {
    _dirs: Vec<tempfile::TempDir>,
    fed: RunningFederation,
    time: alys_consensus::ManualTimeSource,
    slot: u64,
    /// Refusals of the deposit by each validator (the two non-proposers).
    refusals: Vec<watch::Receiver<u64>>,
}

/// Three authorities; the proposer of the first slot sees `deposit` (if `proposer_sees`), the
/// validators see it once `validators_see` is set.
async fn federation(proposer_sees: bool, validators_see: Arc<AtomicBool>) -> Federation {
    let spec = spec();
    let time = manual_time();
    let slot = time.now_slot() + 1;
    let proposer = proposer_index(slot, 3);
    assert!(proposer < 3);
    let dirs = temp_dirs(3);
    let mut refusals = Vec::new();
    let views: Vec<Arc<dyn PegInVerifier>> = (0..3)
        .map(|i| {
            let (tx, rx) = watch::channel(0);
            if i != proposer {
                refusals.push(rx);
            }
            Arc::new(FollowerView {
                deposit: deposit(),
                visible: if i == proposer {
                    Arc::new(AtomicBool::new(proposer_sees))
                } else {
                    validators_see.clone()
                },
                proposes: i == proposer,
                refusals: tx,
            }) as Arc<dyn PegInVerifier>
        })
        .collect();
    let nodes = start_nodes(&dirs, &spec, &manual_clock(&spec, &time), |i| {
        views[i].clone()
    })
    .await;
    Federation {
        _dirs: dirs,
        fed: run_federation(&spec, nodes),
        time,
        slot,
        refusals,
    }
}

impl Federation {
    async fn tick(&self) {
        self.time.set_ms(self.slot * 1000);
        for tx in &self.fed.inputs {
            tx.send(Input::Tick { slot: self.slot })
                .await
                .expect("service alive");
        }
    }

    fn heads(&self) -> Vec<u64> {
        self.fed
            .statuses
            .iter()
            .map(|s| s.borrow().head_slot)
            .collect()
    }

    /// Waits until each validator has refused the deposit `times` times (it kept the
    /// proposal and tried again each time after the first).
    async fn refused(&mut self, times: u64) {
        for (i, r) in self.refusals.iter_mut().enumerate() {
            tokio::time::timeout(Duration::from_secs(10), r.wait_for(|n| *n >= times))
                .await
                .unwrap_or_else(|_| panic!("validator {i} refused fewer than {times} times"))
                .expect("verifier alive");
        }
    }
}

trait NowSlot {
    fn now_slot(&self) -> u64;
}

impl NowSlot for alys_consensus::ManualTimeSource {
    fn now_slot(&self) -> u64 {
        use alys_consensus::TimeSource;
        self.now_ms() / 1000
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mint_refused_by_lagging_validators_lands_once_they_catch_up() {
    let validators_see = Arc::new(AtomicBool::new(false));
    let mut f = federation(true, validators_see.clone()).await;
    f.tick().await;

    // The validators cannot approve yet: no block for the slot anywhere.
    f.refused(2).await;
    assert!(
        f.heads().iter().all(|h| *h < f.slot),
        "imported before the validators saw the deposit: {:?}",
        f.heads()
    );

    // Their followers catch up: the kept proposal is approved and imported by all three, in
    // the proposer's slot, with the mint.
    validators_see.store(true, Ordering::SeqCst);
    let slot = f.slot;
    for (i, st) in f.fed.statuses.iter_mut().enumerate() {
        tokio::time::timeout(Duration::from_secs(5), st.wait_for(|s| s.head_slot >= slot))
            .await
            .unwrap_or_else(|_| panic!("node {i} did not import slot {slot}"))
            .expect("status");
    }
    let heads: Vec<_> = f.fed.statuses.iter().map(|s| s.borrow().clone()).collect();
    assert!(heads.iter().all(|h| h == &heads[0]), "{heads:?}");
    assert_eq!((heads[0].head_slot, heads[0].head_height), (slot, 1));
    for store in &f.fed.stores {
        let root = store.canonical_root(1).expect("store").expect("block 1");
        let block = store.block(&root).expect("store").expect("block");
        assert_eq!(block.message.pegins.to_vec(), vec![deposit()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mint_no_validator_ever_sees_is_never_imported() {
    let mut f = federation(true, Arc::new(AtomicBool::new(false))).await;
    f.tick().await;
    // The validators refuse the kept proposal again and again.
    f.refused(10).await;
    assert!(
        f.heads().iter().all(|h| *h < f.slot),
        "a block minting an unconfirmed deposit was imported: {:?}",
        f.heads()
    );
}
