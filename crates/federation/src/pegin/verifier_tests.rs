//! Unit tests of the peg-in verifier and its minted sets.

use super::*;
use alys_bitcoin::{BlockRef, FollowerEvent, FoundDeposit};
use alys_primitives::{Address, Sats};
use bitcoin::BlockHash;

/// An in-memory chain: root → block; `finalized` settable.
#[derive(Default)]
struct MapChain {
    blocks: parking_lot::RwLock<HashMap<B256, BlockPegIns>>,
    finalized: parking_lot::RwLock<(B256, u64)>,
}

impl PegInChain for MapChain {
    fn block(&self, root: &B256) -> Result<Option<BlockPegIns>, String> {
        Ok(self.blocks.read().get(root).cloned())
    }
    fn finalized(&self) -> Result<(B256, u64), String> {
        Ok(*self.finalized.read())
    }
}

fn root(n: u8) -> B256 {
    B256::repeat_byte(n)
}

fn found(n: u8, height: u64) -> FoundDeposit {
    FoundDeposit {
        txid: Txid::from_byte_array([n; 32]),
        vouts: vec![1],
        values: vec![Sats(100_000 + u64::from(n))],
        sats: Sats(100_000 + u64::from(n)),
        recipient: Address::repeat_byte(n),
        block: BlockRef {
            height,
            hash: BlockHash::from_byte_array([0x40 + n; 32]),
        },
    }
}

fn pegins_of(d: &FoundDeposit) -> Vec<PegIn> {
    crate::pegins(&d.txid, &d.outputs(), d.recipient, &d.block.hash)
}

fn pegin_of(d: &FoundDeposit) -> PegIn {
    pegins_of(d)[0]
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    chain: Arc<MapChain>,
    index: DepositIndex,
    verifier: FollowerPegIns,
}

/// Genesis (root 0) ← 1 ← 2, finalized = genesis.
fn fixture(events: &[FollowerEvent]) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let index = DepositIndex::open(store.clone(), None).expect("index");
    let mut batch = WriteBatch::new();
    let staged = index.stage(events, &mut batch);
    store.write(batch, Durability::Synced).expect("write");
    index.commit(
        staged,
        Some(BlockRef {
            height: 10,
            hash: BlockHash::from_byte_array([9; 32]),
        }),
    );
    let chain = Arc::new(MapChain::default());
    {
        let mut b = chain.blocks.write();
        b.insert(
            root(0),
            BlockPegIns {
                parent_root: B256::ZERO,
                height: 0,
                pegins: vec![],
            },
        );
        for h in 1..=2u8 {
            b.insert(
                root(h),
                BlockPegIns {
                    parent_root: root(h - 1),
                    height: u64::from(h),
                    pegins: vec![],
                },
            );
        }
    }
    *chain.finalized.write() = (root(0), 0);
    let verifier =
        FollowerPegIns::open(index.clone(), chain.clone(), store.clone()).expect("verifier");
    Fixture {
        _dir: dir,
        store,
        chain,
        index,
        verifier,
    }
}

fn add_block(chain: &MapChain, r: B256, parent: B256, height: u64, pegins: Vec<PegIn>) {
    chain.blocks.write().insert(
        r,
        BlockPegIns {
            parent_root: parent,
            height,
            pegins,
        },
    );
}

#[test]
fn candidates_are_confirmed_and_unminted() {
    let f = fixture(&[
        FollowerEvent::Deposit(found(1, 3)),
        FollowerEvent::DepositSeen(found(2, 9)),
    ]);
    let c = f.verifier.candidates_on(&root(2)).expect("candidates");
    assert_eq!(c, vec![pegin_of(&found(1, 3))]);
    f.verifier.check_block(&root(2), &c).expect("valid");
    // Minted in block 3: no longer a candidate on 3, still one on 2 (other branch).
    add_block(&f.chain, root(3), root(2), 3, c.clone());
    assert!(f.verifier.candidates_on(&root(3)).expect("c").is_empty());
    assert_eq!(f.verifier.candidates_on(&root(2)).expect("c"), c);
    let txid = Txid::from_byte_array([1; 32]);
    assert_eq!(f.verifier.minted_in(&root(3), &txid), Some(root(3)));
    assert_eq!(f.verifier.minted_in(&root(2), &txid), None);
    let _ = &f.index;
}

#[test]
fn duplicate_in_block_is_rejected() {
    let f = fixture(&[FollowerEvent::Deposit(found(1, 3))]);
    let p = pegin_of(&found(1, 3));
    let err = f
        .verifier
        .check_block(&root(2), &[p, p])
        .expect_err("duplicate");
    assert!(
        matches!(
            err,
            PegInCheckError::DuplicateInBlock {
                index: 1,
                vout: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn already_minted_is_rejected_and_unwound_on_reorg() {
    let f = fixture(&[FollowerEvent::Deposit(found(1, 3))]);
    let p = pegin_of(&found(1, 3));
    add_block(&f.chain, root(3), root(2), 3, vec![p]);
    let err = f
        .verifier
        .check_block(&root(3), std::slice::from_ref(&p))
        .expect_err("minted");
    assert_eq!(
        err,
        PegInCheckError::Rejected {
            index: 0,
            reason: PegInRejection::AlreadyMinted {
                txid: B256::repeat_byte(1),
                vout: 1,
                block: root(3),
            }
        }
    );
    let info = BlockInfo {
        root: root(3),
        parent_root: root(2),
        slot: 3,
        height: 3,
        payload_hash: B256::ZERO,
        payload_number: 3,
        timestamp: 0,
        approval: alys_primitives::AggregateApproval::empty(1),
        pow: alys_consensus::PowIndex::default(),
    };
    let err = f.verifier.verify(&info, &p).expect_err("minted");
    assert!(
        matches!(err, PegInRejection::AlreadyMinted { .. }) && !err.retryable(),
        "{err}"
    );
    // A sibling branch (reorg) off block 2 does not see the mint.
    add_block(&f.chain, root(0x33), root(2), 3, vec![]);
    f.verifier
        .check_block(&root(0x33), std::slice::from_ref(&p))
        .expect("unwound on the other branch");
}

#[test]
fn minted_below_finalized_is_persisted() {
    let f = fixture(&[FollowerEvent::Deposit(found(1, 3))]);
    let p = pegin_of(&found(1, 3));
    add_block(&f.chain, root(3), root(2), 3, vec![p]);
    add_block(&f.chain, root(4), root(3), 4, vec![]);
    *f.chain.finalized.write() = (root(4), 4);
    assert!(f
        .verifier
        .check_block(&root(4), std::slice::from_ref(&p))
        .is_err());
    // Reopen over the same store with the mint's block gone from the chain view: the
    // persisted set still knows it.
    f.chain.blocks.write().remove(&root(3));
    let again =
        FollowerPegIns::open(f.index.clone(), f.chain.clone(), f.store.clone()).expect("reopen");
    let err = again.check_block(&root(4), &[p]).expect_err("persisted");
    assert!(
        matches!(
            err,
            PegInCheckError::Rejected {
                reason: PegInRejection::AlreadyMinted { .. },
                ..
            }
        ),
        "{err}"
    );
    // A block not descending from the finalized one is refused.
    assert!(matches!(
        again.check_block(&root(2), &[]),
        Err(PegInCheckError::Rejected {
            reason: PegInRejection::State(_),
            ..
        })
    ));
}

#[test]
fn unconfirmed_unknown_and_mismatched_are_rejected() {
    let f = fixture(&[
        FollowerEvent::Deposit(found(1, 3)),
        FollowerEvent::DepositSeen(found(2, 9)),
    ]);
    let err = f
        .verifier
        .check_block(&root(2), &[pegin_of(&found(2, 9))])
        .expect_err("seen only");
    assert!(
        matches!(
            &err,
            PegInCheckError::Rejected {
                reason: r @ PegInRejection::Unconfirmed { .. },
                ..
            } if r.retryable()
        ),
        "{err}"
    );
    assert!(err.to_string().contains("2 confirmation(s)"), "{err}");
    let err = f
        .verifier
        .check_block(&root(2), &[pegin_of(&found(7, 3))])
        .expect_err("unknown");
    assert_eq!(
        err,
        PegInCheckError::Rejected {
            index: 0,
            reason: PegInRejection::Unknown {
                txid: B256::repeat_byte(7)
            }
        }
    );
    let mut p = pegin_of(&found(1, 3));
    p.sats += 1;
    let err = f.verifier.check_block(&root(2), &[p]).expect_err("sats");
    assert!(
        matches!(
            err,
            PegInCheckError::Rejected {
                reason: PegInRejection::Mismatch { field: "sats", .. },
                ..
            }
        ),
        "{err}"
    );
    for (field, p) in [
        ("vout", {
            let mut p = pegin_of(&found(1, 3));
            p.vout = 0;
            p
        }),
        ("recipient", {
            let mut p = pegin_of(&found(1, 3));
            p.evm_address = Address::repeat_byte(0xee);
            p
        }),
        ("bitcoin block", {
            let mut p = pegin_of(&found(1, 3));
            p.block_hash = B256::repeat_byte(0xee);
            p
        }),
    ] {
        let err = f.verifier.check_block(&root(2), &[p]).expect_err(field);
        assert_eq!(
            err,
            PegInCheckError::Rejected {
                index: 0,
                reason: PegInRejection::Mismatch {
                    txid: B256::repeat_byte(1),
                    field
                }
            }
        );
    }
}

#[test]
fn rejected_deposit_is_not_minted() {
    let rejection = alys_bitcoin::FoundRejection {
        txid: Txid::from_byte_array([5; 32]),
        sats: Sats(10),
        reason: "deposit of 10 sats is below the minimum of 1000 sats".into(),
        block: found(5, 3).block,
    };
    let f = fixture(&[FollowerEvent::Rejected(rejection)]);
    let mut p = pegin_of(&found(5, 3));
    p.sats = 10;
    let err = f
        .verifier
        .check_block(&root(2), &[p])
        .expect_err("rejected");
    assert!(
        matches!(
            &err,
            PegInCheckError::Rejected {
                reason: r @ PegInRejection::NotADeposit { .. },
                ..
            } if !r.retryable()
        ),
        "{err}"
    );
    assert!(f.verifier.candidates_on(&root(2)).expect("c").is_empty());
}

#[test]
fn one_pegin_per_federation_output() {
    let mut d = found(1, 3);
    d.vouts = vec![0, 2];
    d.values = vec![Sats(60_000), Sats(40_000)];
    d.sats = Sats(100_000);
    let f = fixture(&[FollowerEvent::Deposit(d.clone())]);
    let c = f.verifier.candidates_on(&root(2)).expect("candidates");
    assert_eq!(
        c.iter().map(|p| (p.vout, p.sats)).collect::<Vec<_>>(),
        vec![(0, 60_000), (2, 40_000)]
    );
    assert!(c
        .iter()
        .all(|p| p.txid == B256::repeat_byte(1) && p.evm_address == d.recipient));
    f.verifier.check_block(&root(2), &c).expect("valid");
    // Each output is checked for its own value; the sum on one output is a mismatch.
    let mut whole = c[0];
    whole.sats = 100_000;
    assert!(matches!(
        f.verifier.check_block(&root(2), &[whole]),
        Err(PegInCheckError::Rejected {
            reason: PegInRejection::Mismatch { field: "sats", .. },
            ..
        })
    ));
    // An output that does not pay the federation.
    let mut other = c[0];
    other.vout = 1;
    assert!(matches!(
        f.verifier.check_block(&root(2), &[other]),
        Err(PegInCheckError::Rejected {
            reason: PegInRejection::Mismatch { field: "vout", .. },
            ..
        })
    ));
    // Minting one output leaves the other a candidate; the deposit counts as minted.
    add_block(&f.chain, root(3), root(2), 3, vec![c[1]]);
    assert_eq!(f.verifier.candidates_on(&root(3)).expect("c"), vec![c[0]]);
    let txid = Txid::from_byte_array([1; 32]);
    assert_eq!(f.verifier.minted_in(&root(3), &txid), Some(root(3)));
}

#[test]
fn minted_sets_are_cached_per_block_and_bounded() {
    let f = fixture(&[FollowerEvent::Deposit(found(1, 3))]);
    let p = pegin_of(&found(1, 3));
    // A long chain above block 2, the deposit minted at height 3.
    let mut parent = root(2);
    let mut roots = Vec::new();
    for h in 3..(3 + SNAPSHOTS as u64 + 50) {
        let r = B256::from(alloy_primitives::U256::from(h + 1_000));
        add_block(
            &f.chain,
            r,
            parent,
            h,
            if h == 3 { vec![p] } else { vec![] },
        );
        roots.push(r);
        parent = r;
    }
    let tip = *roots.last().expect("tip");
    assert!(f
        .verifier
        .minted_on(&tip)
        .expect("set")
        .contains_key(&(p.txid, p.vout)));
    assert_eq!(f.verifier.cached_snapshots(), SNAPSHOTS);
    // A child of the tip is computed from the tip's snapshot: the blocks below need not
    // be read again.
    let child = B256::repeat_byte(0xcc);
    add_block(&f.chain, child, tip, 3 + SNAPSHOTS as u64 + 50, vec![]);
    f.chain.blocks.write().remove(&roots[0]);
    let set = f.verifier.minted_on(&child).expect("from the cache");
    assert_eq!(set.get(&(p.txid, p.vout)), Some(&roots[0]));
    assert_eq!(f.verifier.cached_snapshots(), SNAPSHOTS);
}
