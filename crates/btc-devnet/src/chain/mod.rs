//! The regtest chain: block index with most-work selection, UTXO set with undo data, a
//! transaction index, the mempool, block assembly with regtest proof of work, and
//! `invalidateblock`/`reconsiderblock` reorgs.
//!
//! This module owns the shared types, the [`Chain`] state with its read-only view of the block
//! index and active chain, and the consensus constants; the operations live in submodules.

use std::collections::HashMap;

use bitcoin::{
    blockdata::constants::genesis_block, Block, BlockHash, Network, OutPoint, Transaction, TxOut,
    Txid, Work,
};

mod best_chain;
mod mempool;
mod mining;
mod utxo;
mod validation;

pub use mempool::{Accepted, MempoolEntry, MAX_STANDARD_TX_WEIGHT, MIN_RELAY_FEE_PER_KVB};
pub use validation::is_final;

/// Regtest `powLimit` in compact form.
pub const REGTEST_BITS: u32 = 0x207f_ffff;
/// Blocks before a coinbase output can be spent.
pub const COINBASE_MATURITY: u32 = 100;
/// Regtest subsidy halving interval.
pub const HALVING_INTERVAL: u32 = 150;
/// Consensus block weight limit.
pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;

/// An unspent output with the height of the block that created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coin {
    /// The output.
    pub out: TxOut,
    /// Height of the creating block (next block height for mempool outputs).
    pub height: u32,
    /// Whether it was created by a coinbase.
    pub coinbase: bool,
}

/// Why a transaction or block was refused, with Core's reject reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Category (decides the RPC error code).
    pub kind: RejectKind,
    /// Core's reject string, e.g. `bad-txns-inputs-missingorspent`.
    pub reason: String,
}

/// Categories of [`Reject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// Inputs missing or spent (RPC -25).
    MissingInputs,
    /// Consensus or policy failure (RPC -26).
    Invalid,
    /// Outputs already confirmed (RPC -27).
    AlreadyInChain,
    /// Already in the mempool.
    AlreadyInMempool,
}

impl Reject {
    /// An [`RejectKind::Invalid`] rejection.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self {
            kind: RejectKind::Invalid,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Validation status of a block in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockStatus {
    /// Not known to be invalid.
    Valid,
    /// Invalid itself (failed to connect or `invalidateblock`).
    Failed,
    /// Descends from a failed block.
    FailedChild,
}

/// A block in the index.
#[derive(Debug, Clone)]
pub struct BlockEntry {
    /// The block.
    pub block: Block,
    /// Its height.
    pub height: u32,
    /// Cumulative work up to and including it.
    pub chainwork: Work,
    /// Validation status.
    pub status: BlockStatus,
    /// Arrival order (earlier wins among equal work, as in Core).
    pub seq: u64,
}

/// The chain state.
#[derive(Clone)]
pub struct Chain {
    blocks: HashMap<BlockHash, BlockEntry>,
    children: HashMap<BlockHash, Vec<BlockHash>>,
    active: Vec<BlockHash>,
    utxo: HashMap<OutPoint, Coin>,
    undo: HashMap<BlockHash, Vec<Coin>>,
    txindex: HashMap<Txid, BlockHash>,
    mempool: HashMap<Txid, MempoolEntry>,
    mempool_order: Vec<Txid>,
    mempool_spends: HashMap<OutPoint, Txid>,
    next_seq: u64,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

/// Regtest block subsidy at `height`.
pub fn subsidy(height: u32) -> u64 {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        0
    } else {
        (50 * 100_000_000u64) >> halvings
    }
}

/// Current Unix time in seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Virtual size of a transaction.
pub fn vsize(tx: &Transaction) -> u64 {
    tx.weight().to_wu().div_ceil(4)
}

/// Core's `FormatMoney` (used in reject debug messages).
pub fn format_money(sats: i64) -> String {
    let neg = sats < 0;
    let abs = sats.unsigned_abs();
    let mut frac = format!("{:08}", abs % 100_000_000);
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    format!(
        "{}{}.{}",
        if neg { "-" } else { "" },
        abs / 100_000_000,
        frac
    )
}

impl Chain {
    /// A chain holding only the regtest genesis block.
    pub fn new() -> Self {
        let genesis = genesis_block(Network::Regtest);
        let hash = genesis.block_hash();
        let entry = BlockEntry {
            chainwork: genesis.header.work(),
            block: genesis,
            height: 0,
            status: BlockStatus::Valid,
            seq: 0,
        };
        let mut blocks = HashMap::new();
        blocks.insert(hash, entry);
        // The genesis coinbase is not spendable (not added to the UTXO set), as in Core.
        Self {
            blocks,
            children: HashMap::new(),
            active: vec![hash],
            utxo: HashMap::new(),
            undo: HashMap::new(),
            txindex: HashMap::new(),
            mempool: HashMap::new(),
            mempool_order: Vec::new(),
            mempool_spends: HashMap::new(),
            next_seq: 1,
        }
    }

    /// Height of the tip.
    pub fn height(&self) -> u32 {
        (self.active.len() - 1) as u32
    }

    /// Hash of the tip.
    pub fn tip(&self) -> BlockHash {
        self.active[self.active.len() - 1]
    }

    /// Hash of the active block at `height`.
    pub fn hash_at(&self, height: u32) -> Option<BlockHash> {
        self.active.get(height as usize).copied()
    }

    /// A block of the index.
    pub fn entry(&self, hash: &BlockHash) -> Option<&BlockEntry> {
        self.blocks.get(hash)
    }

    /// Whether `hash` is on the active chain.
    pub fn is_active(&self, hash: &BlockHash) -> bool {
        self.blocks
            .get(hash)
            .is_some_and(|e| self.hash_at(e.height) == Some(*hash))
    }

    /// Hashes of every indexed block.
    pub fn all_hashes(&self) -> Vec<BlockHash> {
        self.blocks.keys().copied().collect()
    }

    /// Number of blocks in the index (headers known).
    pub fn index_len(&self) -> usize {
        self.blocks.len()
    }

    /// Median time past of the active block at `height`.
    pub fn median_time_past(&self, height: u32) -> u32 {
        let lo = height.saturating_sub(10);
        let mut times: Vec<u32> = (lo..=height)
            .filter_map(|h| self.hash_at(h))
            .filter_map(|h| self.blocks.get(&h))
            .map(|e| e.block.header.time)
            .collect();
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or(0)
    }

    /// Median time past of any indexed block (walking its own ancestry).
    pub fn median_time_past_of(&self, hash: &BlockHash) -> u32 {
        let mut times = Vec::with_capacity(11);
        let mut cur = Some(*hash);
        while let (Some(h), true) = (cur, times.len() < 11) {
            let Some(e) = self.blocks.get(&h) else { break };
            times.push(e.block.header.time);
            cur = (e.height > 0).then_some(e.block.header.prev_blockhash);
        }
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::ScriptBuf;

    #[test]
    fn money_format_matches_core() {
        assert_eq!(format_money(0), "0.00");
        assert_eq!(format_money(100_000_000), "1.00");
        assert_eq!(format_money(123_456_789), "1.23456789");
        assert_eq!(format_money(-5_000), "-0.00005");
    }

    #[test]
    fn most_work_chain_wins_after_reconsider() {
        let mut chain = Chain::new();
        let spk = ScriptBuf::from_bytes(vec![0x51]);
        let t = now_secs() as u32;
        for i in 0..3 {
            chain.mine_block(&spk, t + i).unwrap();
        }
        let old2 = chain.hash_at(2).unwrap();
        let old_tip = chain.tip();
        chain.invalidate_block(&old2).unwrap();
        assert_eq!(chain.height(), 1);
        for i in 0..3 {
            chain.mine_block(&spk, t + 10 + i).unwrap();
        }
        let fork_tip = chain.tip();
        assert_eq!(chain.height(), 4);
        chain.reconsider_block(&old2).unwrap();
        // The fork has more work: it stays active.
        assert_eq!(chain.tip(), fork_tip);
        let fork2 = chain.hash_at(2).unwrap();
        chain.invalidate_block(&fork2).unwrap();
        assert_eq!(chain.tip(), old_tip);
        assert_eq!(chain.height(), 3);
        // UTXO set matches the active chain: one coinbase output per block 1..=3.
        assert_eq!(chain.utxos().len(), 3);
    }

    #[test]
    fn mines_and_matures() {
        let mut chain = Chain::new();
        let spk = ScriptBuf::new_op_return([0u8; 4]);
        let spk = ScriptBuf::from_bytes(spk.as_bytes()[..0].to_vec());
        let t = now_secs() as u32;
        for i in 0..3 {
            chain.mine_block(&spk, t + i).unwrap();
        }
        assert_eq!(chain.height(), 3);
        let first = chain.hash_at(1).unwrap();
        chain.invalidate_block(&first).unwrap();
        assert_eq!(chain.height(), 0);
        chain.reconsider_block(&first).unwrap();
        assert_eq!(chain.height(), 3);
    }
}
