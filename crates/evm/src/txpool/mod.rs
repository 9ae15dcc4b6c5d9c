//! Pending transactions waiting for a block.
//!
//! The pool keeps one nonce-ordered queue per sender. Transactions whose nonce continues the
//! sender's account nonce without a gap are *pending* (executable); the rest are *queued* until
//! the gap closes. Admission follows Geth's rules and error strings so wallets and tools
//! recognise them: signature, chain id, size, intrinsic gas, block gas limit, minimum tip, nonce,
//! balance, replacement by a fee bump of at least [`PoolConfig::price_bump_percent`], and
//! limits: per sender (all transactions, and those queued behind a nonce gap), on transactions
//! whose fee cap is below the current base fee, and for the whole pool in count and in encoded
//! bytes. A full pool evicts its cheapest transactions (each time the last nonce of the sender
//! whose tail has the lowest effective tip) when the newcomer pays more than every one of them,
//! otherwise it refuses with `txpool is full`.
//!
//! The payload builder takes [`TxPool::best_transactions`]: executable transactions, highest
//! effective tip first, each sender's in nonce order. When the canonical head moves,
//! [`TxPool::on_reorg`] drops what was mined and re-adds what was reorged out.
//!
//! The pool is shared as a [`SharedPool`] with its own lock: submissions take only that lock,
//! never the chain's, so they are answered while a payload is being built.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use alloy::consensus::{
    transaction::{Recovered, SignerRecoverable},
    Header, Transaction, TxEnvelope,
};
use alloy::eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, U256};
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::state::StateView;

mod config;
mod error;
mod pricing;

pub use config::*;
pub use error::PoolError;
use pricing::{intrinsic_gas, rank, tip_cap, Tail};

/// The pool shared by the payload builder and the RPC, under a lock of its own.
pub type SharedPool = Arc<Mutex<TxPool>>;

/// Counts of pending (executable) and queued (behind a nonce gap) transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Executable now.
    pub pending: usize,
    /// Waiting for a lower nonce.
    pub queued: usize,
}

/// The pool.
#[derive(Debug)]
pub struct TxPool {
    chain_id: u64,
    config: PoolConfig,
    by_sender: HashMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>,
    by_hash: HashMap<B256, (Address, u64)>,
    /// Encoded bytes held.
    bytes: usize,
    /// How many held transactions have each fee cap.
    fee_caps: BTreeMap<u128, usize>,
    pending_tx: broadcast::Sender<Recovered<TxEnvelope>>,
}

impl TxPool {
    /// An empty pool for `chain_id` with the default [`PoolConfig`].
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            config: PoolConfig::default(),
            by_sender: HashMap::new(),
            by_hash: HashMap::new(),
            bytes: 0,
            fee_caps: BTreeMap::new(),
            pending_tx: broadcast::channel(PENDING_CHANNEL_CAPACITY).0,
        }
    }

    /// The admission configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Replaces the admission configuration (held transactions stay).
    pub fn set_config(&mut self, config: PoolConfig) {
        self.config = config;
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Encoded bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Held transactions whose fee cap is below `base_fee`.
    pub fn below_base_fee(&self, base_fee: u64) -> usize {
        self.fee_caps
            .range(..u128::from(base_fee))
            .map(|(_, n)| n)
            .sum()
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

    /// Whether `hash` is held.
    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// All held transactions of `sender`, by nonce.
    pub fn sender_transactions(&self, sender: &Address) -> Vec<&Recovered<TxEnvelope>> {
        self.by_sender
            .get(sender)
            .map(|q| q.values().collect())
            .unwrap_or_default()
    }

    /// Senders with held transactions.
    pub fn senders(&self) -> impl Iterator<Item = &Address> {
        self.by_sender.keys()
    }

    /// Every held transaction, grouped by sender and ordered by nonce.
    pub fn all(&self) -> impl Iterator<Item = &Recovered<TxEnvelope>> {
        self.by_sender.values().flat_map(|q| q.values())
    }

    /// Notifications of every transaction admitted from now on.
    pub fn subscribe_pending(&self) -> broadcast::Receiver<Recovered<TxEnvelope>> {
        self.pending_tx.subscribe()
    }

    /// The next nonce of `sender` counting contiguous pooled transactions after `state_nonce`.
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(queue) = self.by_sender.get(sender) {
            for nonce in queue.range(state_nonce..).map(|(n, _)| *n) {
                if nonce != next {
                    break;
                }
                next += 1;
            }
        }
        next
    }

    /// Splits `sender`'s transactions into pending (contiguous from `state_nonce`) and queued.
    pub fn split_sender(
        &self,
        sender: &Address,
        state_nonce: u64,
    ) -> (Vec<&Recovered<TxEnvelope>>, Vec<&Recovered<TxEnvelope>>) {
        let next = self.pending_nonce(sender, state_nonce);
        let mut pending = Vec::new();
        let mut queued = Vec::new();
        if let Some(queue) = self.by_sender.get(sender) {
            for (nonce, tx) in queue {
                if (state_nonce..next).contains(nonce) {
                    pending.push(tx);
                } else {
                    queued.push(tx);
                }
            }
        }
        (pending, queued)
    }

    /// Pending and queued counts against the state in `view`.
    pub fn status(&self, view: &StateView) -> PoolStatus {
        let mut status = PoolStatus::default();
        for sender in self.by_sender.keys() {
            let nonce = view
                .account(sender)
                .ok()
                .flatten()
                .map(|a| a.nonce)
                .unwrap_or_default();
            let (p, q) = self.split_sender(sender, nonce);
            status.pending += p.len();
            status.queued += q.len();
        }
        status
    }

    /// Recovers the sender and adds the transaction without head-dependent checks (block gas
    /// limit); see [`TxPool::add_checked`].
    pub fn add(&mut self, tx: TxEnvelope, view: &StateView) -> Result<B256, PoolError> {
        let head = Header {
            gas_limit: u64::MAX,
            ..Default::default()
        };
        self.add_checked(tx, view, &head)
    }

    /// Recovers the sender and adds the transaction, validated against `view` (the head state)
    /// and the head header; see [`TxPool::add_recovered`].
    pub fn add_checked(
        &mut self,
        tx: TxEnvelope,
        view: &StateView,
        head: &Header,
    ) -> Result<B256, PoolError> {
        if self.by_hash.contains_key(tx.tx_hash()) {
            return Err(PoolError::AlreadyKnown);
        }
        self.validate_stateless(&tx, head)?;
        let sender = tx
            .recover_signer()
            .map_err(|e| PoolError::InvalidSender(e.to_string()))?;
        self.add_recovered(Recovered::new_unchecked(tx, sender), view, head)
    }

    /// Checks that need no state: type, chain id, size, gas and fee sanity.
    pub fn validate_stateless(&self, tx: &TxEnvelope, head: &Header) -> Result<(), PoolError> {
        if tx.is_eip4844() {
            return Err(PoolError::BlobNotSupported);
        }
        if tx.is_eip7702() {
            return Err(PoolError::TypeNotSupported);
        }
        match tx.chain_id() {
            Some(id) if id != self.chain_id => return Err(PoolError::WrongChainId),
            None if !self.config.allow_unprotected => return Err(PoolError::Unprotected),
            _ => {}
        }
        let size = tx.encode_2718_len();
        if size > self.config.max_tx_size {
            return Err(PoolError::Oversized {
                size,
                limit: self.config.max_tx_size,
            });
        }
        if tx.kind().is_create() && tx.input().len() > MAX_INITCODE_SIZE {
            return Err(PoolError::InitCodeTooLarge {
                size: tx.input().len(),
                limit: MAX_INITCODE_SIZE,
            });
        }
        if tx.gas_limit() > head.gas_limit {
            return Err(PoolError::GasLimit);
        }
        if let Some(tip) = tx.max_priority_fee_per_gas() {
            if tip > tx.max_fee_per_gas() {
                return Err(PoolError::TipAboveFeeCap);
            }
        }
        let needed = intrinsic_gas(tx);
        if tx.gas_limit() < needed {
            return Err(PoolError::IntrinsicGas {
                gas: tx.gas_limit(),
                needed,
            });
        }
        let tip = tip_cap(tx);
        if tip < self.config.min_tip {
            return Err(PoolError::Underpriced {
                tip,
                min: self.config.min_tip,
            });
        }
        Ok(())
    }

    /// Validates a transaction whose sender is already recovered against `view` (the head
    /// state) and `head`, and adds it. Returns its hash.
    pub fn add_recovered(
        &mut self,
        tx: Recovered<TxEnvelope>,
        view: &StateView,
        head: &Header,
    ) -> Result<B256, PoolError> {
        let hash = *tx.tx_hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        self.validate_stateless(tx.inner(), head)?;
        let sender = tx.signer();
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
        let cost = U256::from(tx.gas_limit())
            .saturating_mul(U256::from(tx.max_fee_per_gas()))
            .saturating_add(tx.value());
        if cost > balance {
            return Err(PoolError::InsufficientFunds { balance, cost });
        }
        let base_fee = head.base_fee_per_gas.unwrap_or_default();
        let nonce = tx.nonce();
        let size = tx.encode_2718_len();
        let existing = self
            .by_sender
            .get(&sender)
            .and_then(|q| q.get(&nonce))
            .map(|old| {
                (
                    old.max_fee_per_gas(),
                    tip_cap(old.inner()),
                    old.encode_2718_len(),
                )
            });
        let (held, held_bytes) = match existing {
            Some((old_fee, old_tip, old_size)) => {
                let pct = self.config.price_bump_percent;
                let bump = |v: u128| v.saturating_add(v.saturating_mul(pct) / 100);
                if tx.max_fee_per_gas() < bump(old_fee) || tip_cap(tx.inner()) < bump(old_tip) {
                    return Err(PoolError::ReplacementUnderpriced);
                }
                (self.len() - 1, self.bytes - old_size)
            }
            None => {
                let held = self.by_sender.get(&sender).map_or(0, |q| q.len());
                if held >= self.config.max_per_sender {
                    return Err(PoolError::AccountLimit {
                        limit: self.config.max_per_sender,
                    });
                }
                let next = self.pending_nonce(&sender, state_nonce);
                if nonce > next
                    && self.queued_of(&sender, next) >= self.config.max_queued_per_sender
                {
                    return Err(PoolError::QueuedLimit {
                        limit: self.config.max_queued_per_sender,
                    });
                }
                let fee_cap = tx.max_fee_per_gas();
                if fee_cap < u128::from(base_fee)
                    && self.below_base_fee(base_fee) >= self.config.max_below_base_fee
                {
                    return Err(PoolError::FeeCapBelowBaseFee { fee_cap, base_fee });
                }
                (self.len(), self.bytes)
            }
        };
        let excess_count = (held + 1).saturating_sub(self.config.max_size);
        let excess_bytes = (held_bytes + size).saturating_sub(self.config.max_bytes);
        let victims = if excess_count > 0 || excess_bytes > 0 {
            self.victims(
                excess_count,
                excess_bytes,
                rank(tx.inner(), base_fee),
                base_fee,
                &sender,
            )?
        } else {
            Vec::new()
        };
        for (victim, victim_nonce) in victims {
            tracing::debug!(%victim, victim_nonce, "evicting transaction from full pool");
            self.remove(&victim, victim_nonce);
        }
        if self.pending_tx.receiver_count() > 0 {
            let _ = self.pending_tx.send(tx.clone());
        }
        self.remove(&sender, nonce);
        self.insert(sender, nonce, tx);
        Ok(hash)
    }

    /// Transactions of `sender` queued behind the nonce gap at `next`.
    fn queued_of(&self, sender: &Address, next: u64) -> usize {
        self.by_sender
            .get(sender)
            .map_or(0, |q| q.range(next..).count())
    }

    /// Adds a transaction to the indexes and the totals.
    fn insert(&mut self, sender: Address, nonce: u64, tx: Recovered<TxEnvelope>) {
        self.bytes += tx.encode_2718_len();
        *self.fee_caps.entry(tx.max_fee_per_gas()).or_default() += 1;
        self.by_hash.insert(*tx.tx_hash(), (sender, nonce));
        self.by_sender.entry(sender).or_default().insert(nonce, tx);
    }

    /// The cheapest transactions whose eviction frees `count` places and `bytes` bytes: each
    /// time the last nonce of the sender (other than `exclude`) whose last transaction ranks
    /// lowest at `base_fee`. Refuses with [`PoolError::PoolFull`] when one of them ranks at or
    /// above `newcomer` or the pool cannot free enough.
    fn victims(
        &self,
        mut count: usize,
        mut bytes: usize,
        newcomer: (u128, u128),
        base_fee: u64,
        exclude: &Address,
    ) -> Result<Vec<(Address, u64)>, PoolError> {
        let mut tails: BinaryHeap<Reverse<Tail>> = self
            .by_sender
            .iter()
            .filter(|(s, _)| *s != exclude)
            .filter_map(|(s, q)| {
                let (nonce, tx) = q.last_key_value()?;
                Some(Reverse((rank(tx.inner(), base_fee), *s, *nonce)))
            })
            .collect();
        let mut victims = Vec::new();
        while count > 0 || bytes > 0 {
            let Some(Reverse((victim_rank, sender, nonce))) = tails.pop() else {
                return Err(PoolError::PoolFull);
            };
            if victim_rank >= newcomer {
                return Err(PoolError::PoolFull);
            }
            let queue = &self.by_sender[&sender];
            count = count.saturating_sub(1);
            bytes = bytes.saturating_sub(queue[&nonce].encode_2718_len());
            victims.push((sender, nonce));
            if let Some((prev, tx)) = queue.range(..nonce).next_back() {
                tails.push(Reverse((rank(tx.inner(), base_fee), sender, *prev)));
            }
        }
        Ok(victims)
    }

    /// Removes one transaction.
    pub fn remove(&mut self, sender: &Address, nonce: u64) -> Option<Recovered<TxEnvelope>> {
        let queue = self.by_sender.get_mut(sender)?;
        let tx = queue.remove(&nonce);
        if let Some(tx) = &tx {
            self.by_hash.remove(tx.tx_hash());
            self.bytes -= tx.encode_2718_len();
            let fee_cap = tx.max_fee_per_gas();
            if let Some(n) = self.fee_caps.get_mut(&fee_cap) {
                *n -= 1;
                if *n == 0 {
                    self.fee_caps.remove(&fee_cap);
                }
            }
        }
        if queue.is_empty() {
            self.by_sender.remove(sender);
        }
        tx
    }

    /// Drops transactions whose nonce is below their sender's nonce in `view`.
    pub fn prune_stale(&mut self, view: &StateView) {
        let senders: Vec<Address> = self.by_sender.keys().copied().collect();
        for sender in senders {
            let Ok(account) = view.account(&sender) else {
                continue;
            };
            let nonce = account.map(|a| a.nonce).unwrap_or_default();
            let stale: Vec<u64> = self
                .by_sender
                .get(&sender)
                .map(|q| q.range(..nonce).map(|(n, _)| *n).collect())
                .unwrap_or_default();
            for n in stale {
                self.remove(&sender, n);
            }
        }
    }

    /// Drops mined transactions (and anything they made stale) and re-adds transactions of
    /// blocks that were reorged out. Called on every canonical head change.
    pub fn on_reorg(&mut self, reinject: Vec<TxEnvelope>, mined: &[&TxEnvelope]) {
        let mut last_mined: HashMap<Address, u64> = HashMap::new();
        for &tx in mined {
            // The pool knows the sender of its own transactions; recover only strangers, and
            // only when the pool could hold something they make stale.
            let sender = match self.by_hash.get(tx.tx_hash()) {
                Some((sender, _)) => *sender,
                None if self.by_hash.is_empty() => continue,
                None => match tx.recover_signer() {
                    Ok(s) => s,
                    Err(_) => continue,
                },
            };
            let entry = last_mined.entry(sender).or_insert(tx.nonce());
            *entry = (*entry).max(tx.nonce());
        }
        for (sender, nonce) in last_mined {
            let stale: Vec<u64> = self
                .by_sender
                .get(&sender)
                .map(|q| q.range(..=nonce).map(|(n, _)| *n).collect())
                .unwrap_or_default();
            for n in stale {
                self.remove(&sender, n);
            }
        }
        let mined_hashes: HashSet<B256> = mined.iter().map(|t| *t.tx_hash()).collect();
        for tx in reinject {
            if mined_hashes.contains(tx.tx_hash()) {
                continue;
            }
            // Reorged-out transactions come back without the admission limits: a block's worth
            // at most, and they were valid in a block.
            if let Ok(sender) = tx.recover_signer() {
                let nonce = tx.nonce();
                let held = self
                    .by_sender
                    .get(&sender)
                    .is_some_and(|q| q.contains_key(&nonce));
                if !held {
                    self.insert(sender, nonce, Recovered::new_unchecked(tx, sender));
                }
            }
        }
    }

    /// Executable transactions, best effective tip first, each sender's in nonce order, given
    /// each sender's account nonce (senders without one are left out).
    pub fn best_transactions(
        &self,
        nonce_of: impl Fn(&Address) -> Option<u64>,
        base_fee: u64,
    ) -> Vec<Recovered<TxEnvelope>> {
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
            let Some(nonce) = nonce_of(sender) else {
                continue;
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
            let Some(queue) = self.by_sender.get(&c.sender) else {
                continue;
            };
            let Some(tx) = queue.get(&c.nonce) else {
                continue;
            };
            out.push(tx.clone());
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::{SignableTransaction, TxEip1559, TxLegacy};
    use alloy::network::TxSignerSync;
    use alloy::signers::local::PrivateKeySigner;
    use alloy_primitives::{Bytes, TxKind};

    fn sign_1559(key: &PrivateKeySigner, nonce: u64, fee: u128, tip: u128) -> TxEnvelope {
        let mut tx = TxEip1559 {
            chain_id: 7,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::repeat_byte(1)),
            value: U256::from(1),
            access_list: Default::default(),
            input: Bytes::new(),
        };
        let sig = key.sign_transaction_sync(&mut tx).expect("sign");
        tx.into_signed(sig).into()
    }

    #[test]
    fn intrinsic_gas_counts_calldata_and_create() {
        let tx = TxLegacy {
            input: Bytes::from(vec![0, 1, 0, 2]),
            to: TxKind::Create,
            ..Default::default()
        };
        assert_eq!(intrinsic_gas(&tx), 21_000 + 2 * 4 + 2 * 16 + 32_000 + 2);
    }

    #[test]
    fn stateless_checks_use_geth_strings() {
        let pool = TxPool::new(7);
        let head = Header {
            gas_limit: 30_000_000,
            base_fee_per_gas: Some(7),
            ..Default::default()
        };
        let key = PrivateKeySigner::random();
        let tx = sign_1559(&key, 0, 10, 0);
        assert_eq!(
            pool.validate_stateless(&tx, &head)
                .map_err(|e| e.to_string())
                .unwrap_err(),
            "transaction underpriced: gas tip cap 0, minimum needed 1"
        );
        let tx = sign_1559(&key, 0, 10, 11);
        assert_eq!(
            pool.validate_stateless(&tx, &head),
            Err(PoolError::TipAboveFeeCap)
        );
        let other = TxPool::new(8);
        let tx = sign_1559(&key, 0, 10, 1);
        assert_eq!(
            other.validate_stateless(&tx, &head),
            Err(PoolError::WrongChainId)
        );
        assert!(pool.validate_stateless(&tx, &head).is_ok());
    }

    #[test]
    fn pending_nonce_stops_at_gap() {
        let mut pool = TxPool::new(7);
        let key = PrivateKeySigner::random();
        for nonce in [0u64, 1, 3] {
            let tx = sign_1559(&key, nonce, 10, 1);
            let sender = key.address();
            pool.insert(sender, nonce, Recovered::new_unchecked(tx, sender));
        }
        assert_eq!(pool.pending_nonce(&key.address(), 0), 2);
        let (p, q) = pool.split_sender(&key.address(), 0);
        assert_eq!((p.len(), q.len()), (2, 1));
        pool.on_reorg(vec![], &[&sign_1559(&key, 1, 10, 1)]);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.pending_nonce(&key.address(), 2), 2);
    }
}
