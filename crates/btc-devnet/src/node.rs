//! The devnet node: chain, wallet and event log together. Every state change goes through
//! here so it is logged and replayed identically on restart.

use std::path::Path;

use bitcoin::{
    consensus::{deserialize, serialize},
    hashes::Hash,
    Address, Amount, BlockHash, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};

use crate::{
    chain::{self, Accepted, Chain, Coin, Reject},
    store::{EventLog, RecordKind},
    wallet::{AddrKind, Wallet, WalletKey},
    DevnetError,
};

/// Fixed fee rate of the devnet (`estimatesmartfee` and wallet default): 10 sat/vB,
/// i.e. 0.00010000 BTC/kvB.
pub const DEV_FEE_RATE_SAT_PER_KVB: u64 = 10_000;

/// Dust threshold below which change is added to the fee instead.
pub const CHANGE_DUST_SATS: u64 = 294;

/// A wallet-owned output available for spending.
#[derive(Debug, Clone)]
pub struct WalletCoin {
    /// Outpoint.
    pub outpoint: OutPoint,
    /// The output.
    pub out: TxOut,
    /// Confirmations (0 for mempool outputs).
    pub confirmations: u32,
    /// Created by a coinbase.
    pub coinbase: bool,
    /// From a wallet transaction (Core's "safe"/trusted).
    pub trusted: bool,
}

/// Why funding a transaction failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FundError {
    /// Not enough spendable coins (RPC -4/-6).
    #[error("Insufficient funds")]
    InsufficientFunds,
    /// An existing input is unknown.
    #[error("Unable to find UTXO for external input")]
    UnknownInput,
    /// Subtracting the fee left an output at or below dust.
    #[error("The transaction amount is too small to pay the fee")]
    AmountTooSmall,
}

/// The node.
pub struct Node {
    /// Chain state and mempool.
    pub chain: Chain,
    /// Dev wallet.
    pub wallet: Wallet,
    log: Option<EventLog>,
}

impl Node {
    /// A node without a datadir (nothing persisted).
    pub fn in_memory() -> Self {
        Self {
            chain: Chain::new(),
            wallet: Wallet::new(),
            log: None,
        }
    }

    /// Opens `datadir`, replaying its event log.
    pub fn open(datadir: &Path) -> Result<Self, DevnetError> {
        let (log, records) = EventLog::open(datadir)?;
        let mut node = Self::in_memory();
        let n = records.len();
        for (kind, payload) in records {
            node.replay(kind, &payload)?;
        }
        tracing::info!(
            "btc-devnet: replayed {n} events, height {} tip {}",
            node.chain.height(),
            node.chain.tip()
        );
        node.log = Some(log);
        Ok(node)
    }

    fn replay(&mut self, kind: RecordKind, payload: &[u8]) -> Result<(), DevnetError> {
        let corrupt = |what: &str| DevnetError::Corrupt(what.to_string());
        match kind {
            RecordKind::Block => {
                let block = deserialize(payload).map_err(|_| corrupt("undecodable block"))?;
                if let Err(e) = self.chain.submit_block(block, false) {
                    tracing::warn!("replayed block rejected: {e}");
                }
            }
            RecordKind::Invalidate | RecordKind::Reconsider => {
                let hash = BlockHash::from_slice(payload).map_err(|_| corrupt("bad hash"))?;
                let _ = if kind == RecordKind::Invalidate {
                    self.chain.invalidate_block(&hash)
                } else {
                    self.chain.reconsider_block(&hash)
                };
            }
            RecordKind::Address => {
                if payload.len() < 5 {
                    return Err(corrupt("short address record"));
                }
                let k = AddrKind::from_u8(payload[0]).ok_or_else(|| corrupt("address kind"))?;
                let index = u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]);
                let label = String::from_utf8_lossy(&payload[5..]);
                self.wallet.restore(k, index, &label);
            }
            RecordKind::MempoolTx => {
                let tx = deserialize(payload).map_err(|_| corrupt("undecodable tx"))?;
                let _ = self.chain.accept_to_mempool(tx);
            }
        }
        Ok(())
    }

    fn log(&mut self, kind: RecordKind, payload: &[u8]) -> Result<(), DevnetError> {
        match &mut self.log {
            Some(log) => log.append(kind, payload),
            None => Ok(()),
        }
    }

    /// Bytes used on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.log.as_ref().map_or(0, |l| l.size())
    }

    /// Mines `n` blocks paying `script`.
    pub fn generate(&mut self, n: u32, script: &ScriptBuf) -> Result<Vec<BlockHash>, NodeError> {
        let mut hashes = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let hash = self
                .chain
                .mine_block(script, chain::now_secs() as u32)
                .map_err(NodeError::Reject)?;
            let block = self
                .chain
                .entry(&hash)
                .map(|e| serialize(&e.block))
                .ok_or_else(|| NodeError::Reject(Reject::invalid("mined block lost")))?;
            self.log(RecordKind::Block, &block)?;
            hashes.push(hash);
        }
        Ok(hashes)
    }

    /// Accepts `tx` to the mempool (logged).
    pub fn submit_tx(&mut self, tx: Transaction) -> Result<Accepted, NodeError> {
        let bytes = serialize(&tx);
        let accepted = self
            .chain
            .accept_to_mempool(tx)
            .map_err(NodeError::Reject)?;
        self.log(RecordKind::MempoolTx, &bytes)?;
        Ok(accepted)
    }

    /// `invalidateblock` (logged).
    pub fn invalidate(&mut self, hash: &BlockHash) -> Result<(), NodeError> {
        self.chain
            .invalidate_block(hash)
            .map_err(NodeError::Reject)?;
        self.log(RecordKind::Invalidate, hash.as_byte_array())?;
        Ok(())
    }

    /// `reconsiderblock` (logged).
    pub fn reconsider(&mut self, hash: &BlockHash) -> Result<(), NodeError> {
        self.chain
            .reconsider_block(hash)
            .map_err(NodeError::Reject)?;
        self.log(RecordKind::Reconsider, hash.as_byte_array())?;
        Ok(())
    }

    /// Issues a new wallet address (logged).
    pub fn new_address(&mut self, kind: AddrKind, label: &str) -> Result<WalletKey, NodeError> {
        let key = self
            .wallet
            .issue(kind, label)
            .ok_or_else(|| NodeError::Reject(Reject::invalid("key derivation failed")))?;
        let mut payload = vec![kind as u8];
        payload.extend_from_slice(&key.index.to_le_bytes());
        payload.extend_from_slice(label.as_bytes());
        self.log(RecordKind::Address, &payload)?;
        Ok(key)
    }

    /// The output an input spends, from the UTXO set or the mempool.
    pub fn spent_output(&self, outpoint: &OutPoint) -> Option<TxOut> {
        self.chain.mempool_view_coin(outpoint).map(|c| c.out)
    }

    /// Wallet coins not spent by the mempool; `immature` coinbases are excluded.
    pub fn wallet_coins(&self) -> Vec<WalletCoin> {
        let height = self.chain.height();
        let mut coins = Vec::new();
        for (op, coin) in self.chain.utxos() {
            if !self.wallet.is_mine(&coin.out.script_pubkey)
                || self.chain.mempool_spender(op).is_some()
            {
                continue;
            }
            // Core's wallet counts a coinbase as mature one block later than consensus does.
            if coin.coinbase && height + 1 - coin.height <= chain::COINBASE_MATURITY {
                continue;
            }
            coins.push(WalletCoin {
                outpoint: *op,
                out: coin.out.clone(),
                confirmations: height + 1 - coin.height,
                coinbase: coin.coinbase,
                trusted: true,
            });
        }
        for entry in self.chain.mempool() {
            let txid = entry.tx.compute_txid();
            let from_wallet = entry.tx.input.iter().all(|i| {
                self.spent_output_confirmed_or_pool(&i.previous_output)
                    .is_some_and(|o| self.wallet.is_mine(&o.script_pubkey))
            });
            for (v, out) in entry.tx.output.iter().enumerate() {
                let op = OutPoint::new(txid, v as u32);
                if !self.wallet.is_mine(&out.script_pubkey)
                    || self.chain.mempool_spender(&op).is_some()
                {
                    continue;
                }
                coins.push(WalletCoin {
                    outpoint: op,
                    out: out.clone(),
                    confirmations: 0,
                    coinbase: false,
                    trusted: from_wallet,
                });
            }
        }
        coins.sort_by(|a, b| {
            b.confirmations
                .cmp(&a.confirmations)
                .then(a.outpoint.txid.cmp(&b.outpoint.txid))
                .then(a.outpoint.vout.cmp(&b.outpoint.vout))
        });
        coins
    }

    fn spent_output_confirmed_or_pool(&self, outpoint: &OutPoint) -> Option<TxOut> {
        if let Some(entry) = self.chain.mempool_entry(&outpoint.txid) {
            return entry.tx.output.get(outpoint.vout as usize).cloned();
        }
        // Spent by the mempool now, so look in the UTXO set.
        self.chain.utxo(outpoint).map(|c: &Coin| c.out.clone())
    }

    /// Immature coinbase value of the wallet.
    pub fn immature_balance(&self) -> u64 {
        let height = self.chain.height();
        self.chain
            .utxos()
            .values()
            .filter(|c| {
                c.coinbase
                    && self.wallet.is_mine(&c.out.script_pubkey)
                    && height + 1 - c.height <= chain::COINBASE_MATURITY
            })
            .map(|c| c.out.value.to_sat())
            .sum()
    }

    /// Adds wallet inputs (and a change output when worth it) so `tx` pays `fee_rate`
    /// (sat/kvB); returns the fee and the change position (-1 when none). Outputs listed in
    /// `subtract_from` pay the fee instead of the inputs.
    pub fn fund(
        &mut self,
        tx: &mut Transaction,
        fee_rate: u64,
        subtract_from: &[usize],
        change_script: Option<ScriptBuf>,
        add_inputs: bool,
    ) -> Result<(u64, i64), NodeError> {
        let mut have: u64 = 0;
        let mut input_weight_extra: u64 = 0;
        for input in &tx.input {
            let out = self
                .spent_output(&input.previous_output)
                .ok_or(NodeError::Fund(FundError::UnknownInput))?;
            have += out.value.to_sat();
            input_weight_extra += witness_weight(self, &out.script_pubkey);
        }
        let target = crate::script::output_total(tx);
        let used: std::collections::HashSet<OutPoint> =
            tx.input.iter().map(|i| i.previous_output).collect();
        let candidates: Vec<WalletCoin> = self
            .wallet_coins()
            .into_iter()
            .filter(|c| c.trusted && !used.contains(&c.outpoint))
            .collect();
        let peeked = change_script.is_none();
        let change_spk = match change_script {
            Some(s) => s,
            None => self.peek_change_script(),
        };
        let change_out_weight = (8 + 1 + change_spk.len() as u64) * 4;
        let mut candidates = candidates.into_iter();
        loop {
            let weight = tx.weight().to_wu() + input_weight_extra + 2;
            let fee = weight.div_ceil(4).saturating_mul(fee_rate).div_ceil(1000);
            let fee_with_change = (weight + change_out_weight)
                .div_ceil(4)
                .saturating_mul(fee_rate)
                .div_ceil(1000);
            let need = if subtract_from.is_empty() {
                target.saturating_add(fee)
            } else {
                target
            };
            if have >= need && (!tx.input.is_empty()) {
                let mut fee = fee;
                let mut changepos = -1i64;
                if subtract_from.is_empty() {
                    let change = have - target - fee_with_change.min(have - target);
                    if have >= target.saturating_add(fee_with_change) && change > CHANGE_DUST_SATS {
                        fee = fee_with_change;
                        tx.output.push(TxOut {
                            value: Amount::from_sat(change),
                            script_pubkey: change_spk.clone(),
                        });
                        changepos = (tx.output.len() - 1) as i64;
                    } else {
                        fee = have - target;
                    }
                } else {
                    // Split the fee over the chosen outputs; any excess goes to change.
                    let excess = have - target;
                    if excess > CHANGE_DUST_SATS.saturating_add(fee_with_change) {
                        fee = fee_with_change;
                        tx.output.push(TxOut {
                            value: Amount::from_sat(excess),
                            script_pubkey: change_spk.clone(),
                        });
                        changepos = (tx.output.len() - 1) as i64;
                    }
                    let share = fee.div_ceil(subtract_from.len() as u64);
                    let mut remaining = fee;
                    for (k, &i) in subtract_from.iter().enumerate() {
                        let Some(out) = tx.output.get_mut(i) else {
                            return Err(NodeError::Fund(FundError::AmountTooSmall));
                        };
                        let cut = if k + 1 == subtract_from.len() {
                            remaining
                        } else {
                            share.min(remaining)
                        };
                        remaining -= cut;
                        let v = out.value.to_sat();
                        if v <= cut.saturating_add(CHANGE_DUST_SATS) {
                            return Err(NodeError::Fund(FundError::AmountTooSmall));
                        }
                        out.value = Amount::from_sat(v - cut);
                    }
                    if changepos < 0 {
                        fee = have - crate::script::output_total(tx);
                    }
                }
                if changepos >= 0 && peeked {
                    // The change went to the next change key: issue (and log) it.
                    self.new_address(AddrKind::Change, "")?;
                }
                return Ok((fee, changepos));
            }
            if !add_inputs {
                return Err(NodeError::Fund(FundError::InsufficientFunds));
            }
            let Some(coin) = candidates.next() else {
                return Err(NodeError::Fund(FundError::InsufficientFunds));
            };
            have += coin.out.value.to_sat();
            input_weight_extra += witness_weight(self, &coin.out.script_pubkey);
            tx.input.push(TxIn {
                previous_output: coin.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            });
        }
    }

    fn peek_change_script(&self) -> ScriptBuf {
        self.wallet
            .peek(AddrKind::Change)
            .map(|k| k.script)
            .unwrap_or_default()
    }

    /// The outputs `tx`'s inputs spend: from `extra` (caller-supplied prevouts) first, else
    /// from the chain or the mempool; `None` where unknown.
    pub fn spent_outputs(
        &self,
        tx: &Transaction,
        extra: &[(OutPoint, TxOut)],
    ) -> Vec<Option<TxOut>> {
        tx.input
            .iter()
            .map(|i| {
                extra
                    .iter()
                    .find(|(o, _)| *o == i.previous_output)
                    .map(|(_, t)| t.clone())
                    .or_else(|| self.spent_output(&i.previous_output))
            })
            .collect()
    }

    /// Signs the wallet's inputs of `tx` given the outputs they spend
    /// ([`Self::spent_outputs`]); returns the per-input errors.
    pub fn sign(&self, tx: &mut Transaction, spent: &[Option<TxOut>]) -> Vec<(usize, String)> {
        self.wallet.sign(tx, spent, false)
    }

    /// Address of a wallet key for `script`, if any.
    pub fn wallet_address(&self, script: &ScriptBuf) -> Option<Address> {
        self.wallet.key(script).map(|k| k.address.clone())
    }
}

fn witness_weight(node: &Node, script: &ScriptBuf) -> u64 {
    if script.is_p2tr() {
        66
    } else if script.is_p2wpkh() || node.wallet.is_mine(script) {
        108
    } else {
        // Unknown external input: assume a P2PKH-sized scriptSig (×4).
        107 * 4
    }
}

/// Errors of node operations.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Rejected by validation.
    #[error("{0}")]
    Reject(Reject),
    /// Wallet funding failed.
    #[error("{0}")]
    Fund(FundError),
    /// Persisting failed.
    #[error(transparent)]
    Store(#[from] DevnetError),
}
