//! Pending transactions waiting for a block: per-sender nonce queues, replacement by fee bump,
//! and the best-first selection the payload builder consumes.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use alloy::consensus::{
    transaction::{Recovered, SignerRecoverable},
    Transaction, TxEnvelope,
};
use alloy_primitives::{Address, B256};

use crate::state::StateView;

/// Maximum transactions held in total.
pub const MAX_POOL_SIZE: usize = 20_000;
/// Maximum transactions held per sender.
pub const MAX_PER_SENDER: usize = 1_000;
/// Minimum fee bump, in percent, for a replacement.
pub const REPLACEMENT_BUMP_PERCENT: u128 = 10;

/// Why a transaction was refused (messages as Geth words them, so tools recognise them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Signature does not recover.
    #[error("invalid sender: {0}")]
    InvalidSender(String),
    /// Wrong or missing chain id.
    #[error("invalid chain id")]
    WrongChainId,
    /// Blob transactions are not accepted on this chain.
    #[error("transaction type not supported: blob transactions are not accepted on this chain")]
    BlobNotSupported,
    /// Nonce below the account's.
    #[error("nonce too low: next nonce {expected}, tx nonce {got}")]
    NonceTooLow {
        /// Account nonce.
        expected: u64,
        /// Transaction nonce.
        got: u64,
    },
    /// Replacement does not pay enough more.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// Already known.
    #[error("already known")]
    AlreadyKnown,
    /// Pool full and the transaction does not pay more than the cheapest held.
    #[error("txpool is full")]
    PoolFull,
    /// Sender balance cannot cover gas × max fee + value.
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")]
    InsufficientFunds {
        /// Balance.
        balance: alloy_primitives::U256,
        /// Cost.
        cost: alloy_primitives::U256,
    },
    /// Gas limit below the intrinsic cost or above the block gas limit.
    #[error("{0}")]
    Gas(String),
    /// Fee cap below the minimum.
    #[error("transaction underpriced")]
    Underpriced,
    /// State could not be read.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The pool.
#[derive(Debug)]
pub struct TxPool {
    chain_id: u64,
    by_sender: HashMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>,
    by_hash: HashMap<B256, (Address, u64)>,
}

impl TxPool {
    /// An empty pool for `chain_id`.
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            by_sender: HashMap::new(),
            by_hash: HashMap::new(),
        }
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// A held transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<&Recovered<TxEnvelope>> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce)
    }

    /// All held transactions of `sender`, by nonce.
    pub fn sender_transactions(&self, sender: &Address) -> Vec<&Recovered<TxEnvelope>> {
        self.by_sender
            .get(sender)
            .map(|q| q.values().collect())
            .unwrap_or_default()
    }

    /// Every held transaction, grouped by sender and ordered by nonce.
    pub fn all(&self) -> impl Iterator<Item = &Recovered<TxEnvelope>> {
        self.by_sender.values().flat_map(|q| q.values())
    }

    /// The next nonce of `sender` counting contiguous pooled transactions after `state_nonce`.
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(queue) = self.by_sender.get(sender) {
            while queue.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// Validates and adds a transaction against `view` (the head state).
    pub fn add(&mut self, tx: TxEnvelope, view: &StateView) -> Result<B256, PoolError> {
        let hash = *tx.tx_hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        if tx.is_eip4844() {
            return Err(PoolError::BlobNotSupported);
        }
        match tx.chain_id() {
            Some(id) if id != self.chain_id => return Err(PoolError::WrongChainId),
            _ => {}
        }
        let sender = tx
            .recover_signer()
            .map_err(|e| PoolError::InvalidSender(e.to_string()))?;
        let account = view
            .account(&sender)
            .map_err(|e| PoolError::Internal(e.to_string()))?;
        let (state_nonce, balance) = account.map(|a| (a.nonce, a.balance)).unwrap_or_default();
        if tx.nonce() < state_nonce {
            return Err(PoolError::NonceTooLow {
                expected: state_nonce,
                got: tx.nonce(),
            });
        }
        let cost = alloy_primitives::U256::from(tx.gas_limit())
            * alloy_primitives::U256::from(tx.max_fee_per_gas())
            + tx.value();
        if cost > balance {
            return Err(PoolError::InsufficientFunds { balance, cost });
        }
        let queue = self.by_sender.entry(sender).or_default();
        if let Some(existing) = queue.get(&tx.nonce()) {
            let bump = |v: u128| v + v * REPLACEMENT_BUMP_PERCENT / 100;
            let old_fee = existing.max_fee_per_gas();
            let old_tip = existing.max_priority_fee_per_gas().unwrap_or(old_fee);
            let new_tip = tx
                .max_priority_fee_per_gas()
                .unwrap_or(tx.max_fee_per_gas());
            if tx.max_fee_per_gas() < bump(old_fee) || new_tip < bump(old_tip) {
                return Err(PoolError::ReplacementUnderpriced);
            }
            let old_hash = *existing.tx_hash();
            self.by_hash.remove(&old_hash);
        } else if queue.len() >= MAX_PER_SENDER || self.by_hash.len() >= MAX_POOL_SIZE {
            return Err(PoolError::PoolFull);
        }
        let nonce = tx.nonce();
        queue.insert(nonce, Recovered::new_unchecked(tx, sender));
        self.by_hash.insert(hash, (sender, nonce));
        Ok(hash)
    }

    fn remove(&mut self, sender: &Address, nonce: u64) {
        if let Some(queue) = self.by_sender.get_mut(sender) {
            if let Some(tx) = queue.remove(&nonce) {
                self.by_hash.remove(tx.tx_hash());
            }
            if queue.is_empty() {
                self.by_sender.remove(sender);
            }
        }
    }

    /// Drops mined transactions (and anything they made stale) and re-adds transactions of
    /// blocks that were reorged out.
    pub fn on_reorg(&mut self, reinject: Vec<TxEnvelope>, mined: &[TxEnvelope]) {
        for tx in mined {
            if let Ok(sender) = tx.recover_signer() {
                let stale: Vec<u64> = self
                    .by_sender
                    .get(&sender)
                    .map(|q| q.range(..=tx.nonce()).map(|(n, _)| *n).collect())
                    .unwrap_or_default();
                for n in stale {
                    self.remove(&sender, n);
                }
            }
        }
        let mined_hashes: std::collections::HashSet<B256> =
            mined.iter().map(|t| *t.tx_hash()).collect();
        for tx in reinject {
            if mined_hashes.contains(tx.tx_hash()) {
                continue;
            }
            if let Ok(sender) = tx.recover_signer() {
                let nonce = tx.nonce();
                let hash = *tx.tx_hash();
                let queue = self.by_sender.entry(sender).or_default();
                if let std::collections::btree_map::Entry::Vacant(e) = queue.entry(nonce) {
                    e.insert(Recovered::new_unchecked(tx, sender));
                    self.by_hash.insert(hash, (sender, nonce));
                }
            }
        }
    }

    /// Executable transactions, best effective tip first, each sender's in nonce order.
    pub fn best_transactions(&self, view: &StateView, base_fee: u64) -> Vec<Recovered<TxEnvelope>> {
        struct Candidate {
            tip: u128,
            sender: Address,
            nonce: u64,
        }
        impl PartialEq for Candidate {
            fn eq(&self, o: &Self) -> bool {
                self.tip == o.tip && self.sender == o.sender
            }
        }
        impl Eq for Candidate {}
        impl PartialOrd for Candidate {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for Candidate {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                self.tip
                    .cmp(&o.tip)
                    .then_with(|| o.sender.cmp(&self.sender))
            }
        }
        let tip_of = |tx: &Recovered<TxEnvelope>| tx.effective_tip_per_gas(base_fee);
        let mut heap = BinaryHeap::new();
        for (sender, queue) in &self.by_sender {
            let nonce = match view.account(sender) {
                Ok(a) => a.map(|a| a.nonce).unwrap_or_default(),
                Err(_) => continue,
            };
            if let Some(tx) = queue.get(&nonce) {
                if let Some(tip) = tip_of(tx) {
                    heap.push(Candidate {
                        tip,
                        sender: *sender,
                        nonce,
                    });
                }
            }
        }
        let mut out = Vec::new();
        while let Some(c) = heap.pop() {
            let queue = &self.by_sender[&c.sender];
            out.push(queue[&c.nonce].clone());
            if let Some(next) = queue.get(&(c.nonce + 1)) {
                if let Some(tip) = tip_of(next) {
                    heap.push(Candidate {
                        tip,
                        sender: c.sender,
                        nonce: c.nonce + 1,
                    });
                }
            }
        }
        out
    }
}
