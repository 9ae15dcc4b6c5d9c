//! The consensus [`PegInVerifier`] backed by the follower's [`DepositIndex`] (DESIGN §4, §7).
//!
//! - **Candidates** for a block on top of `parent`: one peg-in per federation output of each
//!   deposit the follower confirmed, whose outpoint is not minted on the chain ending at
//!   `parent`.
//! - **Verification** of a block's peg-ins: each is an output of a deposit confirmed per the
//!   follower, equal to what the follower found (that outpoint pays the federation that amount,
//!   same Bitcoin block and recipient), listed once in the block, and not already minted on the
//!   block's ancestry. Every refusal is a typed [`PegInRejection`].
//!
//! Minted outpoints are consensus state derived from the chain itself: a set persisted in the
//! store (column [`MINTED`]) of everything minted up to the finalized block (finalized blocks
//! are never reverted, so it only grows), and above it the `pegins` lists of the blocks. The
//! set of a block is kept incrementally: snapshots are persistent maps (`imbl`, structural
//! sharing), so a child's set is its parent's plus its own peg-ins in O(k log n), and a bounded
//! cache ([`SNAPSHOTS`] blocks) keyed by block root means computing the set of a block walks
//! back only to its nearest cached ancestor (or the finalized block). A sidechain reorg needs
//! no unwinding: the other branch has its own snapshots.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use alys_bitcoin::{ConfirmedKey, DepositIndex, PegInState};
use alys_consensus::chain_store::ChainStore;
use alys_consensus::{BlockInfo, PegInRejection, PegInVerifier};
use alys_primitives::{PegIn, B256};
use alys_store::{Durability, Store, StoreError, WriteBatch};
use bitcoin::hashes::Hash;
use bitcoin::Txid;
use parking_lot::Mutex;

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
/// Minted-set snapshots kept, one per recent block (the oldest inserted goes first).
pub const SNAPSHOTS: usize = 256;
/// How far back from a proposer's parent the block its open deposits were last taken on may
/// be (further, or on another branch: taken again from every confirmed deposit).
const OPEN_REUSE_DEPTH: usize = 64;

/// The confirmed deposits not minted on the chain ending at `parent` (checked as of the last
/// proposal there), in minting order, and the index's confirmation sequence read so far: a
/// proposal on a descendant of `parent` starts from these, plus what was confirmed since,
/// instead of every confirmed deposit in the index.
#[derive(Debug, Default)]
struct OpenDeposits {
    parent: Option<B256>,
    next_confirmation: u64,
    keys: BTreeSet<ConfirmedKey>,
}

/// A deposit outpoint (txid in internal byte order, output index).
pub type Outpoint = (B256, u32);

/// Minted outpoints with the root of the minting block: a persistent map, cheap to clone.
pub type MintedSet = imbl::HashMap<Outpoint, B256>;

/// Why the peg-ins of a block may not be minted.
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
    /// A peg-in the verifier refuses.
    #[error("peg-in {index}: {reason}")]
    Rejected {
        /// Position in the block.
        index: usize,
        /// Why.
        reason: PegInRejection,
    },
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
        let Some((height, block)) = self.block_at(root).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
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

#[derive(Debug, Default, Clone)]
struct Finalized {
    /// Finalized root the persisted set covers (`None`: nothing persisted yet, i.e. genesis).
    root: Option<B256>,
    height: u64,
    minted: MintedSet,
}

/// The bounded cache of per-block minted sets.
#[derive(Debug, Default)]
struct Snapshots {
    sets: HashMap<B256, (u64, MintedSet)>,
    order: VecDeque<B256>,
}

impl Snapshots {
    fn get(&self, root: &B256) -> Option<(u64, MintedSet)> {
        self.sets.get(root).cloned()
    }

    fn insert(&mut self, root: B256, height: u64, set: MintedSet) {
        if self.sets.insert(root, (height, set)).is_none() {
            self.order.push_back(root);
        }
        while self.order.len() > SNAPSHOTS {
            if let Some(old) = self.order.pop_front() {
                self.sets.remove(&old);
            }
        }
    }

    /// Forgets the blocks at or below the finalized height other than the finalized block.
    fn prune(&mut self, froot: &B256, fheight: u64) {
        self.sets.retain(|r, (h, _)| *h > fheight || r == froot);
        let sets = &self.sets;
        self.order.retain(|r| sets.contains_key(r));
    }

    fn len(&self) -> usize {
        self.sets.len()
    }
}

/// [`PegInVerifier`] over the follower's [`DepositIndex`] and the sidechain's blocks.
pub struct FollowerPegIns {
    index: DepositIndex,
    chain: Arc<dyn PegInChain>,
    store: Arc<Store>,
    finalized: Mutex<Finalized>,
    snapshots: Mutex<Snapshots>,
    open: Mutex<OpenDeposits>,
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

fn state_error(e: impl std::fmt::Display) -> PegInRejection {
    PegInRejection::State(e.to_string())
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
            snapshots: Mutex::new(Snapshots::default()),
            open: Mutex::new(OpenDeposits::default()),
        })
    }

    /// The blocks from `tip` down to `stop` (exclusive), newest first, with their peg-ins.
    /// Fails when the walk passes `stop_height` without meeting `stop`.
    fn walk(
        &self,
        tip: B256,
        stop: Option<B256>,
        stop_height: u64,
    ) -> Result<Vec<(B256, BlockPegIns)>, PegInRejection> {
        let mut out = Vec::new();
        let mut cur = tip;
        loop {
            if Some(cur) == stop {
                return Ok(out);
            }
            let block = self.block(&cur)?;
            if stop.is_some() && block.height <= stop_height {
                return Err(not_descending(&cur));
            }
            let (parent, height) = (block.parent_root, block.height);
            out.push((cur, block));
            if height == 0 {
                return Ok(out);
            }
            cur = parent;
        }
    }

    fn block(&self, root: &B256) -> Result<BlockPegIns, PegInRejection> {
        self.chain
            .block(root)
            .map_err(PegInRejection::State)?
            .ok_or_else(|| PegInRejection::State(format!("block {root} not stored")))
    }

    /// Brings the persisted set up to the current finalized block.
    fn advance_finalized(&self) -> Result<Finalized, PegInRejection> {
        let (froot, fheight) = self.chain.finalized().map_err(PegInRejection::State)?;
        let mut fin = self.finalized.lock();
        if fin.root == Some(froot) {
            return Ok(fin.clone());
        }
        let blocks = self.walk(froot, fin.root, fin.height)?;
        let mut minted = fin.minted.clone();
        let mut batch = WriteBatch::new();
        for (root, block) in blocks.iter().rev() {
            for p in &block.pegins {
                let o = (p.txid, p.vout);
                if !minted.contains_key(&o) {
                    minted.insert(o, *root);
                    batch.put(MINTED, &outpoint_key(&o), root.to_vec());
                }
            }
        }
        let mut cursor = froot.to_vec();
        cursor.extend_from_slice(&fheight.to_be_bytes());
        batch.put(MINTED, MINTED_CURSOR, cursor);
        self.store
            .write(batch, Durability::Synced)
            .map_err(state_error)?;
        *fin = Finalized {
            root: Some(froot),
            height: fheight,
            minted,
        };
        self.snapshots.lock().prune(&froot, fheight);
        Ok(fin.clone())
    }

    /// Outpoints minted on the chain ending at `tip`, with the minting block's root: the
    /// nearest cached ancestor's set (or the finalized one) plus the peg-ins of the blocks
    /// above it, each of which gets its snapshot cached.
    pub fn minted_on(&self, tip: &B256) -> Result<MintedSet, PegInRejection> {
        let fin = self.advance_finalized()?;
        let mut path = Vec::new();
        let mut cur = *tip;
        let mut set = loop {
            if let Some((height, set)) = self.snapshots.lock().get(&cur) {
                if fin.root.is_some_and(|r| r != cur) && height <= fin.height {
                    return Err(not_descending(&cur));
                }
                break set;
            }
            if fin.root == Some(cur) {
                break fin.minted.clone();
            }
            let block = self.block(&cur)?;
            if fin.root.is_some() && block.height <= fin.height {
                return Err(not_descending(&cur));
            }
            let (parent, height) = (block.parent_root, block.height);
            path.push((cur, block));
            if height == 0 {
                break MintedSet::new();
            }
            cur = parent;
        };
        for (root, block) in path.into_iter().rev() {
            for p in &block.pegins {
                let o = (p.txid, p.vout);
                if !set.contains_key(&o) {
                    set.insert(o, root);
                }
            }
            self.snapshots
                .lock()
                .insert(root, block.height, set.clone());
        }
        Ok(set)
    }

    /// Number of cached snapshots (at most [`SNAPSHOTS`]).
    pub fn cached_snapshots(&self) -> usize {
        self.snapshots.lock().len()
    }

    /// Which sidechain block on the chain ending at `tip` minted `txid` (any of its federation
    /// outputs): the deposit as a whole, as `getpeginstatus` reports it.
    pub fn minted_in(&self, tip: &B256, txid: &Txid) -> Option<B256> {
        let key = B256::from(txid.to_byte_array());
        let set = self.minted_on(tip).ok()?;
        let vouts = self.index.status(txid)?.record.vouts;
        vouts.iter().find_map(|v| set.get(&(key, *v)).copied())
    }

    /// Checks one peg-in against the follower and the minted set of the parent chain.
    fn check_one(&self, minted: &MintedSet, pegin: &PegIn) -> Result<(), PegInRejection> {
        let txid = pegin.txid;
        if let Some(block) = minted.get(&(pegin.txid, pegin.vout)) {
            return Err(PegInRejection::AlreadyMinted {
                txid,
                vout: pegin.vout,
                block: *block,
            });
        }
        let status = self
            .index
            .status(&txid_of(&txid))
            .ok_or(PegInRejection::Unknown { txid })?;
        let rec = status.record;
        let unconfirmed = |state: String| Err(PegInRejection::Unconfirmed { txid, state });
        match &rec.state {
            PegInState::Confirmed => {}
            PegInState::Seen => {
                return unconfirmed(format!("{} confirmation(s) so far", status.confirmations))
            }
            PegInState::Dropped => return unconfirmed("reorged out before confirmation".into()),
            PegInState::Reverted => return unconfirmed("reorged out after confirmation".into()),
            PegInState::Rejected { reason } => {
                return Err(PegInRejection::NotADeposit {
                    txid,
                    reason: reason.clone(),
                })
            }
        }
        let mismatch = |field| Err(PegInRejection::Mismatch { txid, field });
        let Some(output) = rec.outputs().into_iter().find(|o| o.vout == pegin.vout) else {
            return mismatch("vout");
        };
        if output.sats != pegin.amount() {
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
        let minted = self
            .minted_on(parent)
            .map_err(|reason| PegInCheckError::Rejected { index: 0, reason })?;
        let mut seen = HashSet::new();
        for (index, p) in pegins.iter().enumerate() {
            if !seen.insert((p.txid, p.vout)) {
                return Err(PegInCheckError::DuplicateInBlock {
                    index,
                    txid: txid_of(&p.txid),
                    vout: p.vout,
                });
            }
            self.check_one(&minted, p)
                .map_err(|reason| PegInCheckError::Rejected { index, reason })?;
        }
        Ok(())
    }

    /// Peg-ins to mint on top of `parent`: one per federation output of the confirmed
    /// deposits, not minted on its chain. A deposit's outputs go in the same block (never
    /// split by the [`MAX_CANDIDATES`] cap). On a descendant of the block it last proposed on,
    /// it looks only at the deposits that were open there and those confirmed since
    /// ([`OpenDeposits`]), so its cost does not grow with the deposits minted in the past.
    pub fn candidates_on(&self, parent: &B256) -> Result<Vec<PegIn>, PegInRejection> {
        let minted = self.minted_on(parent)?;
        let mut open = self.open.lock();
        let fresh = match open.parent {
            Some(last) if self.descends_from(parent, &last) => self
                .index
                .confirmed_since(open.next_confirmation)
                .map(|(keys, next)| {
                    open.keys.extend(keys);
                    open.next_confirmation = next;
                })
                .is_none(),
            _ => true,
        };
        if fresh {
            let (keys, next) = self.index.confirmed_keys();
            open.keys = keys.into_iter().collect();
            open.next_confirmation = next;
        }
        open.parent = Some(*parent);
        let mut out: Vec<PegIn> = Vec::new();
        let mut recipients = HashSet::new();
        let mut settled = Vec::new();
        for key in open.keys.iter() {
            // Reorged out, or confirmed again under another key: not a candidate here.
            let Some(rec) = self.index.confirmed_at(key) else {
                settled.push(*key);
                continue;
            };
            let (Some(block), Some(recipient)) = (rec.block, rec.recipient) else {
                settled.push(*key);
                continue;
            };
            let txid = B256::from(rec.txid.to_byte_array());
            let outputs: Vec<_> = rec
                .outputs()
                .into_iter()
                .filter(|o| !minted.contains_key(&(txid, o.vout)))
                .collect();
            if outputs.is_empty() {
                // Minted on `parent`'s chain, so on every descendant's too.
                settled.push(*key);
                continue;
            }
            if out.len() + outputs.len() > MAX_CANDIDATES {
                break;
            }
            if !recipients.contains(&recipient) {
                if recipients.len() >= MAX_CANDIDATE_RECIPIENTS {
                    continue;
                }
                recipients.insert(recipient);
            }
            out.extend(crate::deposit::pegins(
                &rec.txid,
                &outputs,
                recipient,
                &block.hash,
            ));
        }
        for key in settled {
            open.keys.remove(&key);
        }
        Ok(out)
    }

    /// Whether `root` is `ancestor` or has it among its [`OPEN_REUSE_DEPTH`] nearest ancestors.
    fn descends_from(&self, root: &B256, ancestor: &B256) -> bool {
        let mut cur = *root;
        for _ in 0..=OPEN_REUSE_DEPTH {
            if cur == *ancestor {
                return true;
            }
            match self.chain.block(&cur) {
                Ok(Some(b)) if b.height > 0 => cur = b.parent_root,
                _ => return false,
            }
        }
        false
    }
}

fn not_descending(root: &B256) -> PegInRejection {
    PegInRejection::State(format!(
        "block {root} does not descend from the finalized block"
    ))
}

impl PegInVerifier for FollowerPegIns {
    fn verify(&self, parent: &BlockInfo, pegin: &PegIn) -> Result<(), PegInRejection> {
        let minted = self.minted_on(&parent.root)?;
        self.check_one(&minted, pegin)
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
#[path = "verifier_tests.rs"]
mod tests;
