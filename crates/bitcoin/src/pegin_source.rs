//! The consensus [`PegInVerifier`] backed by the follower's [`DepositIndex`] (DESIGN §4, §7).
//!
//! - **Candidates** for a block on top of `parent`: the follower's confirmed deposits whose
//!   outpoint is not minted on the chain ending at `parent`.
//! - **Verification** of a block's peg-ins: each is confirmed per the follower and equal to
//!   what the follower found (outpoint, Bitcoin block, amount, recipient), listed once in the
//!   block, and not already minted on the block's ancestry.
//!
//! Minted outpoints are consensus state derived from the chain itself: the `pegins` lists of
//! the blocks from the finalized block (exclusive) up to `parent`, plus a set persisted in the
//! store (column [`MINTED`]) of everything minted up to the finalized block. Finalized blocks
//! are never reverted, so that set only grows; the part above it is read from the blocks
//! every time, so a sidechain reorg unwinds it automatically.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use alys_consensus::chain_store::ChainStore;
use alys_consensus::{BlockInfo, PegInRejection, PegInVerifier};
use alys_primitives::{PegIn, B256};
use alys_store::{Durability, Store, StoreError, WriteBatch};
use bitcoin::hashes::Hash;
use bitcoin::Txid;
use parking_lot::Mutex;

use crate::index::{DepositIndex, PegInState};

/// Store column of outpoints minted up to the finalized block (key: txid ‖ vout BE, value:
/// root of the minting block); key [`MINTED_CURSOR`] holds the finalized root it covers.
pub use alys_store::columns::bitcoin::MINTED;
const MINTED_CURSOR: &[u8] = b"cursor";

/// Most peg-ins a proposer puts in one block.
pub const MAX_CANDIDATES: usize = 64;
/// Most distinct recipients a proposer mints to in one block (one withdrawal each; the rest
/// of the payload's 16 withdrawals stay free for AuxPoW fee shares, whose count the chain spec
/// bounds accordingly).
pub const MAX_CANDIDATE_RECIPIENTS: usize =
    alys_primitives::withdrawals::MAX_PEGIN_RECIPIENTS_PER_BLOCK;

/// A deposit outpoint (txid in internal byte order, output index).
pub type Outpoint = (B256, u32);

/// Minted outpoints with the root of the minting block.
pub type MintedSet = HashMap<Outpoint, B256>;

/// Why a peg-in may not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PegInCheckError {
    /// The same outpoint is listed twice in one block.
    #[error("peg-in {index} repeats outpoint {txid}:{vout} listed earlier in the block")]
    DuplicateInBlock {
        /// Position of the repeat.
        index: usize,
        /// Txid (displayed in Bitcoin's order).
        txid: Txid,
        /// Output.
        vout: u32,
    },
    /// The outpoint was already minted by an ancestor.
    #[error("deposit {txid}:{vout} already minted in block {block}")]
    AlreadyMinted {
        /// Txid.
        txid: Txid,
        /// Output.
        vout: u32,
        /// Root of the minting block.
        block: B256,
    },
    /// The follower has never seen this deposit.
    #[error("deposit {0} unknown to the Bitcoin follower")]
    Unknown(Txid),
    /// Seen but not (or no longer) confirmed, or not a valid deposit.
    #[error("deposit {txid} not confirmed: {state}")]
    Unconfirmed {
        /// Txid.
        txid: Txid,
        /// Its state per the follower.
        state: String,
    },
    /// Confirmed, but the block's peg-in differs from what the follower found.
    #[error("deposit {txid} does not match the follower's record: {field}")]
    Mismatch {
        /// Txid.
        txid: Txid,
        /// Which field differs.
        field: &'static str,
    },
    /// The ancestry of the parent could not be read (or does not reach the finalized block).
    #[error("cannot derive minted deposits: {0}")]
    Chain(String),
}

impl From<PegInCheckError> for PegInRejection {
    fn from(e: PegInCheckError) -> Self {
        let b = |t: Txid| B256::from(t.to_byte_array());
        match e {
            PegInCheckError::AlreadyMinted { txid, vout, block } => PegInRejection::AlreadyMinted {
                txid: b(txid),
                vout,
                block,
            },
            PegInCheckError::Unknown(txid) => PegInRejection::Unknown { txid: b(txid) },
            PegInCheckError::Unconfirmed { txid, state } => PegInRejection::Unconfirmed {
                txid: b(txid),
                state,
            },
            PegInCheckError::Mismatch { txid, field } => PegInRejection::Mismatch {
                txid: b(txid),
                field,
            },
            PegInCheckError::DuplicateInBlock { txid, .. } => PegInRejection::Mismatch {
                txid: b(txid),
                field: "outpoint listed twice",
            },
            PegInCheckError::Chain(e) => PegInRejection::State(e),
        }
    }
}

/// A stored block as the verifier needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPegIns {
    /// Parent root.
    pub parent_root: B256,
    /// Height.
    pub height: u64,
    /// The block's peg-ins.
    pub pegins: Vec<PegIn>,
}

/// Read access to the sidechain blocks (the consensus store in the node; a map in tests).
pub trait PegInChain: Send + Sync + 'static {
    /// A stored block.
    fn block(&self, root: &B256) -> Result<Option<BlockPegIns>, String>;
    /// The finalized block's root and height.
    fn finalized(&self) -> Result<(B256, u64), String>;
}

impl PegInChain for ChainStore {
    fn block(&self, root: &B256) -> Result<Option<BlockPegIns>, String> {
        let Some(block) = ChainStore::block(self, root).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let height = self
            .height_of(root)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no height for block {root}"))?;
        Ok(Some(BlockPegIns {
            parent_root: block.message.parent_root,
            height,
            pegins: block.message.pegins.iter().cloned().collect(),
        }))
    }

    fn finalized(&self) -> Result<(B256, u64), String> {
        let root = self.finalized_root().map_err(|e| e.to_string())?;
        let height = self
            .height_of(&root)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no height for finalized block {root}"))?;
        Ok((root, height))
    }
}

#[derive(Debug, Default)]
struct Finalized {
    /// Finalized root the persisted set covers (`None`: nothing persisted yet, i.e. genesis).
    root: Option<B256>,
    height: u64,
    minted: HashMap<Outpoint, B256>,
}

/// [`PegInVerifier`] over the follower's [`DepositIndex`] and the sidechain's blocks.
pub struct FollowerPegIns {
    index: DepositIndex,
    chain: Arc<dyn PegInChain>,
    store: Arc<Store>,
    finalized: Mutex<Finalized>,
    /// Most recent `(parent root, minted set)`, reused by the per-peg-in `verify` calls.
    cache: Mutex<Option<(B256, Arc<MintedSet>)>>,
}

impl std::fmt::Debug for FollowerPegIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowerPegIns").finish_non_exhaustive()
    }
}

fn outpoint_key(o: &Outpoint) -> Vec<u8> {
    let mut k = o.0.to_vec();
    k.extend_from_slice(&o.1.to_be_bytes());
    k
}

fn txid_of(b: &B256) -> Txid {
    Txid::from_byte_array(b.0)
}

impl FollowerPegIns {
    /// Opens over the follower's index, the chain and the store holding [`MINTED`].
    pub fn open(
        index: DepositIndex,
        chain: Arc<dyn PegInChain>,
        store: Arc<Store>,
    ) -> Result<Self, StoreError> {
        let mut fin = Finalized::default();
        for (key, value) in store.scan(MINTED, &[], &[]) {
            let corrupt = |what: &str| StoreError::Corrupt {
                column: MINTED.byte(),
                reason: format!("{what} {}", hex::encode(&key)),
            };
            if key == MINTED_CURSOR {
                if value.len() != 40 {
                    return Err(corrupt("cursor"));
                }
                fin.root = Some(B256::from_slice(&value[..32]));
                let mut h = [0u8; 8];
                h.copy_from_slice(&value[32..]);
                fin.height = u64::from_be_bytes(h);
            } else {
                if key.len() != 36 || value.len() != 32 {
                    return Err(corrupt("minted outpoint"));
                }
                let mut v = [0u8; 4];
                v.copy_from_slice(&key[32..]);
                fin.minted.insert(
                    (B256::from_slice(&key[..32]), u32::from_be_bytes(v)),
                    B256::from_slice(&value),
                );
            }
        }
        Ok(Self {
            index,
            chain,
            store,
            finalized: Mutex::new(fin),
            cache: Mutex::new(None),
        })
    }

    /// Walks from `tip` down to `stop` (exclusive), collecting minted outpoints. Fails when
    /// the walk passes `stop_height` without meeting `stop`.
    fn walk(
        &self,
        tip: B256,
        stop: Option<B256>,
        stop_height: u64,
        out: &mut HashMap<Outpoint, B256>,
    ) -> Result<(), PegInCheckError> {
        let mut cur = tip;
        loop {
            if Some(cur) == stop {
                return Ok(());
            }
            let block = self
                .chain
                .block(&cur)
                .map_err(PegInCheckError::Chain)?
                .ok_or_else(|| PegInCheckError::Chain(format!("block {cur} not stored")))?;
            if stop.is_some() && block.height <= stop_height {
                return Err(PegInCheckError::Chain(format!(
                    "block {cur} does not descend from the finalized block"
                )));
            }
            for p in &block.pegins {
                out.entry((p.txid, p.vout)).or_insert(cur);
            }
            if block.height == 0 {
                return Ok(());
            }
            cur = block.parent_root;
        }
    }

    /// Brings the persisted set up to the current finalized block.
    fn advance_finalized(&self) -> Result<(), PegInCheckError> {
        let (froot, fheight) = self.chain.finalized().map_err(PegInCheckError::Chain)?;
        let mut fin = self.finalized.lock();
        if fin.root == Some(froot) {
            return Ok(());
        }
        let mut added = HashMap::new();
        self.walk(froot, fin.root, fin.height, &mut added)?;
        let mut batch = WriteBatch::new();
        for (o, root) in &added {
            batch.put(MINTED, &outpoint_key(o), root.to_vec());
        }
        let mut cursor = froot.to_vec();
        cursor.extend_from_slice(&fheight.to_be_bytes());
        batch.put(MINTED, MINTED_CURSOR, cursor);
        self.store
            .write(batch, Durability::Synced)
            .map_err(|e| PegInCheckError::Chain(e.to_string()))?;
        for (o, root) in added {
            fin.minted.entry(o).or_insert(root);
        }
        fin.root = Some(froot);
        fin.height = fheight;
        Ok(())
    }

    /// Outpoints minted on the chain ending at `tip`, with the minting block's root.
    pub fn minted_on(&self, tip: &B256) -> Result<Arc<MintedSet>, PegInCheckError> {
        if let Some((root, set)) = self.cache.lock().as_ref() {
            if root == tip {
                return Ok(set.clone());
            }
        }
        self.advance_finalized()?;
        let fin = self.finalized.lock();
        let mut set = fin.minted.clone();
        let (stop, stop_height) = (fin.root, fin.height);
        drop(fin);
        self.walk(*tip, stop, stop_height, &mut set)?;
        let set = Arc::new(set);
        *self.cache.lock() = Some((*tip, set.clone()));
        Ok(set)
    }

    /// Which sidechain block on the chain ending at `tip` minted `txid` (any output).
    pub fn minted_in(&self, tip: &B256, txid: &Txid) -> Option<B256> {
        let key = B256::from(txid.to_byte_array());
        let set = self.minted_on(tip).ok()?;
        set.iter()
            .find(|((t, _), _)| *t == key)
            .map(|(_, root)| *root)
    }

    /// Checks one peg-in against the follower and the minted set of the parent chain.
    fn check_one(
        &self,
        minted: &HashMap<Outpoint, B256>,
        pegin: &PegIn,
    ) -> Result<(), PegInCheckError> {
        let txid = txid_of(&pegin.txid);
        if let Some(block) = minted.get(&(pegin.txid, pegin.vout)) {
            return Err(PegInCheckError::AlreadyMinted {
                txid,
                vout: pegin.vout,
                block: *block,
            });
        }
        let status = self
            .index
            .status(&txid)
            .ok_or(PegInCheckError::Unknown(txid))?;
        let rec = status.record;
        if rec.state != PegInState::Confirmed {
            let state = match &rec.state {
                PegInState::Seen => format!("{} confirmation(s) so far", status.confirmations),
                PegInState::Rejected { reason } => format!("rejected: {reason}"),
                PegInState::Dropped => "reorged out before confirmation".into(),
                PegInState::Reverted => "reorged out after confirmation".into(),
                PegInState::Confirmed => "confirmed".into(),
            };
            return Err(PegInCheckError::Unconfirmed { txid, state });
        }
        let mismatch = |field| Err(PegInCheckError::Mismatch { txid, field });
        if rec.vouts.first().copied() != Some(pegin.vout) {
            return mismatch("vout");
        }
        if rec.sats != pegin.sats {
            return mismatch("sats");
        }
        if rec.recipient != Some(pegin.evm_address) {
            return mismatch("recipient");
        }
        if rec.block.map(|b| B256::from(b.hash.to_byte_array())) != Some(pegin.block_hash) {
            return mismatch("bitcoin block");
        }
        Ok(())
    }

    /// Checks all peg-ins of a block on top of `parent`: listed once, confirmed, unminted.
    pub fn check_block(&self, parent: &B256, pegins: &[PegIn]) -> Result<(), PegInCheckError> {
        let minted = self.minted_on(parent)?;
        let mut seen = HashSet::new();
        for (index, p) in pegins.iter().enumerate() {
            if !seen.insert((p.txid, p.vout)) {
                return Err(PegInCheckError::DuplicateInBlock {
                    index,
                    txid: txid_of(&p.txid),
                    vout: p.vout,
                });
            }
            self.check_one(&minted, p)?;
        }
        Ok(())
    }

    /// Deposits to mint on top of `parent`: confirmed and not minted on its chain.
    pub fn candidates_on(&self, parent: &B256) -> Result<Vec<PegIn>, PegInCheckError> {
        let minted = self.minted_on(parent)?;
        let mut out: Vec<PegIn> = Vec::new();
        let mut recipients = HashSet::new();
        for rec in self.index.confirmed() {
            if out.len() >= MAX_CANDIDATES {
                break;
            }
            let Some(block) = rec.block else { continue };
            let (Some(vout), Some(recipient)) = (rec.vouts.first().copied(), rec.recipient) else {
                continue;
            };
            let txid = B256::from(rec.txid.to_byte_array());
            if minted.contains_key(&(txid, vout)) {
                continue;
            }
            if !recipients.contains(&recipient) {
                if recipients.len() >= MAX_CANDIDATE_RECIPIENTS {
                    continue;
                }
                recipients.insert(recipient);
            }
            out.push(PegIn {
                txid,
                block_hash: B256::from(block.hash.to_byte_array()),
                vout,
                sats: rec.sats,
                evm_address: recipient,
            });
        }
        Ok(out)
    }
}

impl PegInVerifier for FollowerPegIns {
    fn verify(&self, parent: &BlockInfo, pegin: &PegIn) -> Result<(), PegInRejection> {
        let minted = self.minted_on(&parent.root)?;
        Ok(self.check_one(&minted, pegin)?)
    }

    fn candidates(&self, parent: &BlockInfo) -> Vec<PegIn> {
        match self.candidates_on(&parent.root) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "no peg-ins proposed");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{BlockRef, FollowerEvent, FoundDeposit};
    use alys_primitives::Address;
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
            sats: 100_000 + u64::from(n),
            recipient: Address::repeat_byte(n),
            block: BlockRef {
                height,
                hash: BlockHash::from_byte_array([0x40 + n; 32]),
            },
        }
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
        assert_eq!(c, vec![found(1, 3).to_pegin()]);
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
        let p = found(1, 3).to_pegin();
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
        let p = found(1, 3).to_pegin();
        add_block(&f.chain, root(3), root(2), 3, vec![p]);
        let err = f
            .verifier
            .check_block(&root(3), std::slice::from_ref(&p))
            .expect_err("minted");
        assert_eq!(
            err,
            PegInCheckError::AlreadyMinted {
                txid: Txid::from_byte_array([1; 32]),
                vout: 1,
                block: root(3),
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
        assert!(f.verifier.verify(&info, &p).is_err());
        // A sibling branch (reorg) off block 2 does not see the mint.
        add_block(&f.chain, root(0x33), root(2), 3, vec![]);
        f.verifier
            .check_block(&root(0x33), std::slice::from_ref(&p))
            .expect("unwound on the other branch");
    }

    #[test]
    fn minted_below_finalized_is_persisted() {
        let f = fixture(&[FollowerEvent::Deposit(found(1, 3))]);
        let p = found(1, 3).to_pegin();
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
        let again = FollowerPegIns::open(f.index.clone(), f.chain.clone(), f.store.clone())
            .expect("reopen");
        let err = again.check_block(&root(4), &[p]).expect_err("persisted");
        assert!(
            matches!(err, PegInCheckError::AlreadyMinted { .. }),
            "{err}"
        );
        // A block not descending from the finalized one is refused.
        assert!(matches!(
            again.check_block(&root(2), &[]),
            Err(PegInCheckError::Chain(_))
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
            .check_block(&root(2), &[found(2, 9).to_pegin()])
            .expect_err("seen only");
        assert!(matches!(err, PegInCheckError::Unconfirmed { .. }), "{err}");
        assert!(err.to_string().contains("2 confirmation(s)"), "{err}");
        let err = f
            .verifier
            .check_block(&root(2), &[found(7, 3).to_pegin()])
            .expect_err("unknown");
        assert_eq!(
            err,
            PegInCheckError::Unknown(Txid::from_byte_array([7; 32]))
        );
        let mut p = found(1, 3).to_pegin();
        p.sats += 1;
        let err = f.verifier.check_block(&root(2), &[p]).expect_err("sats");
        assert!(
            matches!(err, PegInCheckError::Mismatch { field: "sats", .. }),
            "{err}"
        );
    }
}
