//! The regtest chain: block index with most-work selection, UTXO set with undo data, a
//! transaction index, the mempool, block assembly with regtest proof of work, and
//! `invalidateblock`/`reconsiderblock` reorgs.

use std::collections::{HashMap, HashSet};

use bitcoin::{
    absolute::LockTime,
    block::{Header, Version as BlockVersion},
    blockdata::constants::genesis_block,
    hashes::Hash,
    opcodes::all::OP_RETURN,
    script::{Builder, PushBytesBuf},
    transaction::Version,
    Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Sequence, Target, Transaction,
    TxIn, TxMerkleNode, TxOut, Txid, Witness, Work,
};

use crate::script::{self, MANDATORY_FLAGS, MAX_MONEY};

/// Regtest `powLimit` in compact form.
pub const REGTEST_BITS: u32 = 0x207f_ffff;
/// Blocks before a coinbase output can be spent.
pub const COINBASE_MATURITY: u32 = 100;
/// Regtest subsidy halving interval.
pub const HALVING_INTERVAL: u32 = 150;
/// Consensus block weight limit.
pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// Policy: largest transaction weight accepted to the mempool.
pub const MAX_STANDARD_TX_WEIGHT: u64 = 400_000;
/// Policy: minimum relay fee rate in sat/kvB.
pub const MIN_RELAY_FEE_PER_KVB: u64 = 1_000;

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

/// A mempool entry.
#[derive(Debug, Clone)]
pub struct MempoolEntry {
    /// The transaction.
    pub tx: Transaction,
    /// Fee in satoshis.
    pub fee: u64,
    /// Virtual size.
    pub vsize: u64,
    /// Unix time it entered.
    pub time: u64,
    /// Chain height when it entered.
    pub height: u32,
}

/// What a transaction check found (fee and size), for `testmempoolaccept`.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    /// Fee in satoshis.
    pub fee: u64,
    /// Virtual size.
    pub vsize: u64,
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

fn bip34_script(height: u32) -> ScriptBuf {
    // Core: CScript() << nHeight << OP_0.
    Builder::new()
        .push_int(i64::from(height))
        .push_opcode(bitcoin::opcodes::OP_0)
        .into_script()
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

    /// The UTXO set.
    pub fn utxos(&self) -> &HashMap<OutPoint, Coin> {
        &self.utxo
    }

    /// A confirmed unspent output.
    pub fn utxo(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.utxo.get(outpoint)
    }

    /// The block (on the active chain) that confirmed `txid`.
    pub fn tx_block(&self, txid: &Txid) -> Option<BlockHash> {
        self.txindex.get(txid).copied()
    }

    /// Undo data (spent coins in spending order) of an active block.
    pub fn undo(&self, hash: &BlockHash) -> Option<&Vec<Coin>> {
        self.undo.get(hash)
    }

    /// Mempool transactions in acceptance order (parents before children).
    pub fn mempool(&self) -> impl Iterator<Item = &MempoolEntry> {
        self.mempool_order
            .iter()
            .filter_map(|t| self.mempool.get(t))
    }

    /// A mempool entry.
    pub fn mempool_entry(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.mempool.get(txid)
    }

    /// The mempool transaction spending `outpoint`, if any.
    pub fn mempool_spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.mempool_spends.get(outpoint).copied()
    }

    /// A coin visible to a new mempool transaction: confirmed or created by the mempool.
    pub fn mempool_view_coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        if let Some(c) = self.utxo.get(outpoint) {
            return Some(c.clone());
        }
        let entry = self.mempool.get(&outpoint.txid)?;
        let out = entry.tx.output.get(outpoint.vout as usize)?;
        Some(Coin {
            out: out.clone(),
            height: self.height() + 1,
            coinbase: false,
        })
    }

    /// Checks a non-coinbase transaction against the coins `view` gives, as if it were in a
    /// block at `height` whose parent has median time past `prev_mtp`; returns the fee.
    #[allow(clippy::too_many_arguments)]
    fn check_inputs(
        &self,
        tx: &Transaction,
        view: &dyn Fn(&OutPoint) -> Option<Coin>,
        height: u32,
        prev_mtp: u32,
        prev_hash: &BlockHash,
        verify_scripts: bool,
    ) -> Result<u64, Reject> {
        script::check_transaction(tx).map_err(Reject::invalid)?;
        if tx.is_coinbase() {
            return Err(Reject::invalid("coinbase"));
        }
        let mut spent = Vec::with_capacity(tx.input.len());
        for input in &tx.input {
            match view(&input.previous_output) {
                Some(c) => spent.push(c),
                None => {
                    return Err(Reject {
                        kind: RejectKind::MissingInputs,
                        reason: "bad-txns-inputs-missingorspent".into(),
                    })
                }
            }
        }
        // IsFinalTx.
        if !is_final(tx, height, prev_mtp) {
            return Err(Reject::invalid("non-final"));
        }
        // BIP68 sequence locks.
        if tx.version.0 >= 2 {
            let mut min_height: i64 = -1;
            let mut min_time: i64 = -1;
            for (input, coin) in tx.input.iter().zip(&spent) {
                let seq = input.sequence.0;
                if seq & (1 << 31) != 0 {
                    continue;
                }
                let value = i64::from(seq & 0xffff);
                if seq & (1 << 22) != 0 {
                    let coin_time = self.mtp_on_branch(prev_hash, coin.height.saturating_sub(1));
                    min_time = min_time.max(i64::from(coin_time) + (value << 9) - 1);
                } else {
                    min_height = min_height.max(i64::from(coin.height) + value - 1);
                }
            }
            if min_height >= i64::from(height) || min_time >= i64::from(prev_mtp) {
                return Err(Reject::invalid("non-BIP68-final"));
            }
        }
        let mut value_in: u64 = 0;
        for coin in &spent {
            if coin.coinbase && height.saturating_sub(coin.height) < COINBASE_MATURITY {
                return Err(Reject::invalid(format!(
                    "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth {}",
                    height.saturating_sub(coin.height)
                )));
            }
            value_in = value_in.saturating_add(coin.out.value.to_sat());
            if value_in > MAX_MONEY {
                return Err(Reject::invalid("bad-txns-inputvalues-outofrange"));
            }
        }
        let value_out = script::output_total(tx);
        if value_in < value_out {
            return Err(Reject::invalid(format!(
                "bad-txns-in-belowout, value in ({}) < value out ({})",
                format_money(value_in as i64),
                format_money(value_out as i64)
            )));
        }
        if verify_scripts {
            let outs: Vec<TxOut> = spent.into_iter().map(|c| c.out).collect();
            if let Err(e) = script::verify_scripts(tx, &outs, MANDATORY_FLAGS) {
                return Err(Reject::invalid(format!(
                    "mandatory-script-verify-flag-failed ({e})"
                )));
            }
        }
        Ok(value_in - value_out)
    }

    /// Median time past of the ancestor at `height` of `tip` (the active chain when `tip` is
    /// on it).
    fn mtp_on_branch(&self, tip: &BlockHash, height: u32) -> u32 {
        if self.is_active(tip) {
            return self.median_time_past(height);
        }
        let mut cur = *tip;
        while let Some(e) = self.blocks.get(&cur) {
            if e.height <= height || self.is_active(&cur) {
                break;
            }
            cur = e.block.header.prev_blockhash;
        }
        match self.blocks.get(&cur) {
            Some(e) if e.height == height => self.median_time_past_of(&cur),
            _ => self.median_time_past(height),
        }
    }

    /// Checks `tx` for the mempool (consensus rules for the next block plus a little policy)
    /// without adding it.
    pub fn check_for_mempool(&self, tx: &Transaction) -> Result<Accepted, Reject> {
        let txid = tx.compute_txid();
        if self.mempool.contains_key(&txid) {
            return Err(Reject {
                kind: RejectKind::AlreadyInMempool,
                reason: "txn-already-in-mempool".into(),
            });
        }
        script::check_transaction(tx).map_err(Reject::invalid)?;
        if tx.is_coinbase() {
            return Err(Reject::invalid("coinbase"));
        }
        if !(1..=3).contains(&tx.version.0) {
            return Err(Reject::invalid("version"));
        }
        if tx.weight().to_wu() > MAX_STANDARD_TX_WEIGHT {
            return Err(Reject::invalid("tx-size"));
        }
        if tx.base_size() < 65 {
            return Err(Reject::invalid("tx-size-small"));
        }
        for input in &tx.input {
            if let Some(other) = self.mempool_spends.get(&input.previous_output) {
                if *other != txid {
                    return Err(Reject::invalid("txn-mempool-conflict"));
                }
            }
        }
        let missing = tx
            .input
            .iter()
            .any(|i| self.mempool_view_coin(&i.previous_output).is_none());
        if missing {
            // Core: outputs of this tx already in the UTXO set means it is confirmed.
            if (0..tx.output.len() as u32).any(|v| self.utxo.contains_key(&OutPoint::new(txid, v)))
            {
                return Err(Reject {
                    kind: RejectKind::AlreadyInChain,
                    reason: "txn-already-known".into(),
                });
            }
        }
        let height = self.height() + 1;
        let mtp = self.median_time_past(self.height());
        let fee = self.check_inputs(
            tx,
            &|o| self.mempool_view_coin(o),
            height,
            mtp,
            &self.tip(),
            true,
        )?;
        let vsize = vsize(tx);
        let min_fee = vsize * MIN_RELAY_FEE_PER_KVB / 1000;
        if fee < min_fee {
            return Err(Reject::invalid(format!(
                "min relay fee not met, {fee} < {min_fee}"
            )));
        }
        Ok(Accepted { fee, vsize })
    }

    /// Checks and adds `tx` to the mempool.
    pub fn accept_to_mempool(&mut self, tx: Transaction) -> Result<Accepted, Reject> {
        let accepted = self.check_for_mempool(&tx)?;
        self.insert_mempool(tx, accepted);
        Ok(accepted)
    }

    fn insert_mempool(&mut self, tx: Transaction, accepted: Accepted) {
        let txid = tx.compute_txid();
        for input in &tx.input {
            self.mempool_spends.insert(input.previous_output, txid);
        }
        self.mempool_order.push(txid);
        self.mempool.insert(
            txid,
            MempoolEntry {
                tx,
                fee: accepted.fee,
                vsize: accepted.vsize,
                time: now_secs(),
                height: self.height(),
            },
        );
    }

    fn take_mempool(&mut self) -> Vec<Transaction> {
        let order = std::mem::take(&mut self.mempool_order);
        let mut pool = std::mem::take(&mut self.mempool);
        self.mempool_spends.clear();
        order
            .into_iter()
            .filter_map(|t| pool.remove(&t))
            .map(|e| e.tx)
            .collect()
    }

    /// Re-validates `txs` (in order) into an emptied mempool; invalid ones are dropped.
    fn refill_mempool(&mut self, txs: Vec<Transaction>) {
        for tx in txs {
            if tx.is_coinbase() {
                continue;
            }
            if let Err(e) = self.accept_to_mempool(tx) {
                tracing::debug!("dropped from mempool: {e}");
            }
        }
    }

    /// Builds, grinds and connects a block paying the subsidy and fees to `script_pubkey`.
    pub fn mine_block(
        &mut self,
        script_pubkey: &ScriptBuf,
        time: u32,
    ) -> Result<BlockHash, Reject> {
        let height = self.height() + 1;
        let prev = self.tip();
        let mtp = self.median_time_past(self.height());
        let time = time.max(mtp + 1);
        // Transactions from the mempool, parents first, within the weight limit.
        let mut txs = Vec::new();
        let mut weight: u64 = 4_000 + 1_000;
        let mut fees: u64 = 0;
        let mut included: HashSet<Txid> = HashSet::new();
        for entry in self.mempool() {
            let w = entry.tx.weight().to_wu();
            if weight + w > MAX_BLOCK_WEIGHT {
                continue;
            }
            // Skip a child whose mempool parent was left out.
            let parents_ok = entry.tx.input.iter().all(|i| {
                !self.mempool.contains_key(&i.previous_output.txid)
                    || included.contains(&i.previous_output.txid)
            });
            if !parents_ok {
                continue;
            }
            weight += w;
            fees += entry.fee;
            included.insert(entry.tx.compute_txid());
            txs.push(entry.tx.clone());
        }
        let reserved = [0u8; 32];
        let mut coinbase = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: bip34_script(height),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[reserved]),
            }],
            output: vec![TxOut {
                value: script::sats(subsidy(height) + fees),
                script_pubkey: script_pubkey.clone(),
            }],
        };
        let mut block_txs = vec![coinbase.clone()];
        block_txs.extend(txs);
        let mut block = Block {
            header: Header {
                version: BlockVersion::from_consensus(0x2000_0000),
                prev_blockhash: prev,
                merkle_root: TxMerkleNode::all_zeros(),
                time,
                bits: CompactTarget::from_consensus(REGTEST_BITS),
                nonce: 0,
            },
            txdata: block_txs,
        };
        // Witness commitment (always present, as Core does with segwit active).
        if let Some(root) = block.witness_root() {
            let commitment = Block::compute_witness_commitment(&root, &reserved);
            let mut data = vec![0xaa, 0x21, 0xa9, 0xed];
            data.extend_from_slice(commitment.as_byte_array());
            let push = PushBytesBuf::try_from(data).map_err(|_| Reject::invalid("commitment"))?;
            coinbase.output.push(TxOut {
                value: script::sats(0),
                script_pubkey: Builder::new()
                    .push_opcode(OP_RETURN)
                    .push_slice(push)
                    .into_script(),
            });
            block.txdata[0] = coinbase;
        }
        block.header.merkle_root = block
            .compute_merkle_root()
            .ok_or_else(|| Reject::invalid("bad-txnmrklroot"))?;
        let target = Target::from_compact(block.header.bits);
        while block.header.validate_pow(target).is_err() {
            block.header.nonce = block.header.nonce.wrapping_add(1);
            if block.header.nonce == 0 {
                block.header.time += 1;
            }
        }
        let hash = block.block_hash();
        self.submit_block(block, true)?;
        if self.tip() != hash {
            return Err(Reject::invalid("block not connected"));
        }
        Ok(hash)
    }

    /// Adds a block to the index and activates the most-work chain. `verify_scripts` is false
    /// only when replaying the devnet's own log.
    pub fn submit_block(&mut self, block: Block, verify_scripts: bool) -> Result<(), Reject> {
        let hash = block.block_hash();
        if self.blocks.contains_key(&hash) {
            return Err(Reject::invalid("duplicate"));
        }
        let prev = block.header.prev_blockhash;
        let Some(parent) = self.blocks.get(&prev) else {
            return Err(Reject::invalid("prev-blk-not-found"));
        };
        if block.header.bits != CompactTarget::from_consensus(REGTEST_BITS) {
            return Err(Reject::invalid("bad-diffbits"));
        }
        if block
            .header
            .validate_pow(Target::from_compact(block.header.bits))
            .is_err()
        {
            return Err(Reject::invalid("high-hash"));
        }
        if block.header.time <= self.median_time_past_of(&prev) {
            return Err(Reject::invalid("time-too-old"));
        }
        let status = if parent.status == BlockStatus::Valid {
            BlockStatus::Valid
        } else {
            BlockStatus::FailedChild
        };
        let entry = BlockEntry {
            height: parent.height + 1,
            chainwork: parent.chainwork + block.header.work(),
            block,
            status,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.blocks.insert(hash, entry);
        self.children.entry(prev).or_default().push(hash);
        self.activate_best_chain(verify_scripts);
        match self.blocks.get(&hash).map(|e| e.status) {
            Some(BlockStatus::Failed) => Err(Reject::invalid("block failed validation")),
            _ => Ok(()),
        }
    }

    /// Context checks of a block against the current tip (its parent) and the UTXO set;
    /// applies it on success.
    fn connect_block(&mut self, hash: BlockHash, verify_scripts: bool) -> Result<(), Reject> {
        let Some(entry) = self.blocks.get(&hash) else {
            return Err(Reject::invalid("unknown block"));
        };
        let block = entry.block.clone();
        let height = entry.height;
        if block.header.prev_blockhash != self.tip() {
            return Err(Reject::invalid("bad-prevblk"));
        }
        if !block.check_merkle_root() {
            return Err(Reject::invalid("bad-txnmrklroot"));
        }
        if block.txdata.is_empty() || !block.txdata[0].is_coinbase() {
            return Err(Reject::invalid("bad-cb-missing"));
        }
        if block.txdata[1..].iter().any(|t| t.is_coinbase()) {
            return Err(Reject::invalid("bad-cb-multiple"));
        }
        if block.weight().to_wu() > MAX_BLOCK_WEIGHT {
            return Err(Reject::invalid("bad-blk-weight"));
        }
        if !block.check_witness_commitment() {
            return Err(Reject::invalid("bad-witness-merkle-match"));
        }
        if !block.txdata[0].input[0].script_sig.as_bytes().starts_with(
            bip34_script(height)
                .as_bytes()
                .split_last()
                .map_or(&[][..], |s| s.1),
        ) {
            return Err(Reject::invalid("bad-cb-height"));
        }
        script::check_transaction(&block.txdata[0]).map_err(Reject::invalid)?;
        let prev_mtp = self.median_time_past(self.height());
        if !is_final(&block.txdata[0], height, prev_mtp) {
            return Err(Reject::invalid("bad-txns-nonfinal"));
        }
        // Apply transactions to a scratch overlay, then commit.
        let mut created: HashMap<OutPoint, Coin> = HashMap::new();
        let mut spent_set: HashSet<OutPoint> = HashSet::new();
        let mut undo: Vec<Coin> = Vec::new();
        let mut fees: u64 = 0;
        let mut seen_txids = HashSet::new();
        for (i, tx) in block.txdata.iter().enumerate() {
            let txid = tx.compute_txid();
            if !seen_txids.insert(txid) {
                return Err(Reject::invalid("bad-txns-duplicate"));
            }
            if i > 0 {
                let view = |o: &OutPoint| -> Option<Coin> {
                    if spent_set.contains(o) {
                        return None;
                    }
                    created
                        .get(o)
                        .cloned()
                        .or_else(|| self.utxo.get(o).cloned())
                };
                let prev = self.tip();
                let fee = self
                    .check_inputs(tx, &view, height, prev_mtp, &prev, verify_scripts)
                    .map_err(|r| Reject {
                        kind: r.kind,
                        reason: format!("{} (tx {txid})", r.reason),
                    })?;
                fees += fee;
                for input in &tx.input {
                    let o = input.previous_output;
                    let coin = created
                        .get(&o)
                        .cloned()
                        .or_else(|| self.utxo.get(&o).cloned())
                        .ok_or_else(|| Reject::invalid("bad-txns-inputs-missingorspent"))?;
                    undo.push(coin);
                    spent_set.insert(o);
                }
            }
            // BIP30: no overwriting of unspent outputs.
            for (v, out) in tx.output.iter().enumerate() {
                let op = OutPoint::new(txid, v as u32);
                if self.utxo.contains_key(&op) && !spent_set.contains(&op) {
                    return Err(Reject::invalid("bad-txns-BIP30"));
                }
                if out.script_pubkey.is_op_return() {
                    continue;
                }
                created.insert(
                    op,
                    Coin {
                        out: out.clone(),
                        height,
                        coinbase: i == 0,
                    },
                );
            }
        }
        let coinbase_out = script::output_total(&block.txdata[0]);
        if coinbase_out > subsidy(height) + fees {
            return Err(Reject::invalid(format!(
                "bad-cb-amount, coinbase pays too much (actual={} vs limit={})",
                coinbase_out,
                subsidy(height) + fees
            )));
        }
        // Commit.
        for o in &spent_set {
            self.utxo.remove(o);
        }
        for (o, c) in created {
            if !spent_set.contains(&o) {
                self.utxo.insert(o, c);
            }
        }
        for tx in &block.txdata {
            self.txindex.insert(tx.compute_txid(), hash);
        }
        self.undo.insert(hash, undo);
        self.active.push(hash);
        Ok(())
    }

    /// Undoes the tip block; returns its transactions.
    fn disconnect_tip(&mut self) -> Vec<Transaction> {
        let hash = self.tip();
        if self.active.len() == 1 {
            return Vec::new();
        }
        let Some(entry) = self.blocks.get(&hash) else {
            return Vec::new();
        };
        let block = entry.block.clone();
        let undo = self.undo.remove(&hash).unwrap_or_default();
        let mut undo_iter = undo.into_iter();
        // Remove created outputs, then restore spent ones (in order of spending).
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            for v in 0..tx.output.len() as u32 {
                self.utxo.remove(&OutPoint::new(txid, v));
            }
            self.txindex.remove(&txid);
        }
        for tx in block.txdata.iter().skip(1) {
            for input in &tx.input {
                if let Some(coin) = undo_iter.next() {
                    self.utxo.insert(input.previous_output, coin);
                }
            }
        }
        // Outputs created and spent within the block were removed above and restored by the
        // undo only if spent; drop any restored coin that this block itself created.
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            for v in 0..tx.output.len() as u32 {
                self.utxo.remove(&OutPoint::new(txid, v));
            }
        }
        self.active.pop();
        block.txdata
    }

    fn best_candidate(&self) -> BlockHash {
        let mut best = self.tip();
        let mut best_key = self.blocks.get(&best).map(|e| (e.chainwork, e.seq));
        for (h, e) in &self.blocks {
            if e.status != BlockStatus::Valid {
                continue;
            }
            let better = match best_key {
                None => true,
                Some((w, s)) => e.chainwork > w || (e.chainwork == w && e.seq < s),
            };
            if better {
                best = *h;
                best_key = Some((e.chainwork, e.seq));
            }
        }
        best
    }

    /// Moves to the most-work valid chain, returning disconnected transactions to the mempool.
    fn activate_best_chain(&mut self, verify_scripts: bool) {
        let mut disconnected: Vec<Vec<Transaction>> = Vec::new();
        let mut connected_any = false;
        loop {
            let best = self.best_candidate();
            if best == self.tip() {
                break;
            }
            // Path from best back to the active chain.
            let mut path = Vec::new();
            let mut cur = best;
            while !self.is_active(&cur) {
                path.push(cur);
                match self.blocks.get(&cur) {
                    Some(e) => cur = e.block.header.prev_blockhash,
                    None => break,
                }
            }
            let fork_height = self.blocks.get(&cur).map_or(0, |e| e.height);
            while self.height() > fork_height {
                disconnected.push(self.disconnect_tip());
            }
            for h in path.into_iter().rev() {
                match self.connect_block(h, verify_scripts) {
                    Ok(()) => connected_any = true,
                    Err(e) => {
                        tracing::warn!("block {h} failed to connect: {e}");
                        self.mark_failed(h);
                        break;
                    }
                }
            }
        }
        if disconnected.is_empty() && !connected_any {
            return;
        }
        // Disconnected transactions first (oldest block first), then the old mempool.
        let mut txs: Vec<Transaction> = disconnected.into_iter().rev().flatten().collect();
        txs.extend(self.take_mempool());
        self.refill_mempool(txs);
    }

    fn mark_failed(&mut self, hash: BlockHash) {
        if let Some(e) = self.blocks.get_mut(&hash) {
            e.status = BlockStatus::Failed;
        }
        let mut stack: Vec<BlockHash> = self.children.get(&hash).cloned().unwrap_or_default();
        while let Some(h) = stack.pop() {
            if let Some(e) = self.blocks.get_mut(&h) {
                e.status = BlockStatus::FailedChild;
            }
            stack.extend(self.children.get(&h).cloned().unwrap_or_default());
        }
    }

    /// `invalidateblock`: marks `hash` and its descendants invalid and reorgs away from them.
    pub fn invalidate_block(&mut self, hash: &BlockHash) -> Result<(), Reject> {
        let Some(entry) = self.blocks.get(hash) else {
            return Err(Reject::invalid("Block not found"));
        };
        if entry.height == 0 {
            return Err(Reject::invalid("cannot invalidate genesis"));
        }
        let height = entry.height;
        self.mark_failed(*hash);
        let mut disconnected = Vec::new();
        if self.is_active(hash) {
            while self.height() >= height {
                disconnected.push(self.disconnect_tip());
            }
        }
        // Return disconnected transactions before choosing a new chain.
        let mut txs: Vec<Transaction> = disconnected.into_iter().rev().flatten().collect();
        txs.extend(self.take_mempool());
        self.refill_mempool(txs);
        self.activate_best_chain(true);
        Ok(())
    }

    /// `reconsiderblock`: clears the invalid marks of `hash`, its ancestors and descendants,
    /// then activates the most-work chain.
    pub fn reconsider_block(&mut self, hash: &BlockHash) -> Result<(), Reject> {
        if !self.blocks.contains_key(hash) {
            return Err(Reject::invalid("Block not found"));
        }
        let mut stack = vec![*hash];
        while let Some(h) = stack.pop() {
            if let Some(e) = self.blocks.get_mut(&h) {
                e.status = BlockStatus::Valid;
            }
            stack.extend(self.children.get(&h).cloned().unwrap_or_default());
        }
        let mut cur = *hash;
        while let Some(e) = self.blocks.get_mut(&cur) {
            e.status = BlockStatus::Valid;
            if e.height == 0 {
                break;
            }
            cur = e.block.header.prev_blockhash;
        }
        // Descendants of blocks that are still failed elsewhere stay failed-child: recompute.
        self.recompute_child_status();
        self.activate_best_chain(true);
        Ok(())
    }

    fn recompute_child_status(&mut self) {
        let mut order: Vec<(u32, BlockHash)> =
            self.blocks.iter().map(|(h, e)| (e.height, *h)).collect();
        order.sort_unstable();
        for (_, h) in order {
            let (prev, status) = match self.blocks.get(&h) {
                Some(e) if e.height > 0 => (e.block.header.prev_blockhash, e.status),
                _ => continue,
            };
            let parent_bad = self
                .blocks
                .get(&prev)
                .is_some_and(|p| p.status != BlockStatus::Valid);
            if let Some(e) = self.blocks.get_mut(&h) {
                if status == BlockStatus::Valid && parent_bad {
                    e.status = BlockStatus::FailedChild;
                } else if status == BlockStatus::FailedChild && !parent_bad {
                    e.status = BlockStatus::Valid;
                }
            }
        }
    }
}

/// Core's `IsFinalTx`.
pub fn is_final(tx: &Transaction, height: u32, block_time: u32) -> bool {
    let lt = tx.lock_time.to_consensus_u32();
    if lt == 0 {
        return true;
    }
    let limit = if lt < 500_000_000 { height } else { block_time };
    if lt < limit {
        return true;
    }
    tx.input.iter().all(|i| i.sequence == Sequence::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

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
