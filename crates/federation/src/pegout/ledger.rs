//! The consensus [`PegOutLedger`] of a federation chain: the [`PegOutState`] of every block,
//! computed from the chain and the burns recorded at import.
//!
//! - **Import** ([`PegOutLedger::imported`]): the block's burns are read from its receipts
//!   (only logs emitted by the Bridge), stored under the block's root (column [`BURNS`]), and
//!   the block's state is computed from its parent's.
//! - **States** are cached by block root (at most [`MAX_CACHED_STATES`], the lowest heights
//!   evicted first). A state not in the cache (after a restart, or evicted) is rebuilt by
//!   walking back through the stored blocks to a cached ancestor (or genesis) and applying
//!   each block again with its stored burns: no EL call.
//! - **Proposal** ([`PegOutLedger::work`]): the requests of [`payout_batch`] paid by
//!   [`build_payout`] at this node's fee rate (clamped to the spec's floor and cap).
//! - **Check** ([`PegOutLedger::check_proposal`]): the proposal spends only federation UTXOs,
//!   passes the signing policy ([`check_payout`]) at the spec's cap, its fee rate is at least
//!   the floor, and it is byte for byte the payout every node builds from the parent's state
//!   at that fee rate.
//! - **Spends outside the peg** ([`PegOutLedger::check_spends`]): a declared spend must be of
//!   a federation output of the parent's state, by a transaction that is no payout of the
//!   chain, and seen so by this node's [`SpendView`], `requiredBtcConfirmations` deep (a node
//!   without a Bitcoin node trusts the threshold approvals for it, as for peg-ins). The
//!   proposer declares the spends its view has confirmed, and proposes no payout in that
//!   block.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use alloy::rpc::types::TransactionReceipt;
use alys_consensus::chain_store::ChainStore;
use alys_consensus::pegout::{
    PegOutLedger, PegOutRejection, PegOutWork, Refund, MAX_REFUNDS_PER_BLOCK,
    REFUND_VALIDATOR_INDEX,
};
use alys_consensus::BlockInfo;
use alys_primitives::{
    Address, ChainSpec, ConsensusBlock, FederationSpend, Sats, B256, BRIDGE_ADDRESS,
};
use alys_store::{Durability, Store, WriteBatch};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Transaction, Txid};
use parking_lot::Mutex;

use super::spends::{SpendVerdict, SpendView};
use super::state::{AppliedPayout, PegOutState, RequestKey};
use crate::burns::{burns_from_receipts, classify, PegOutRequest, PegOutRules};
use crate::payout::{
    build_payout, check_payout, fee_rate_of, PayoutRequest, PolicyError, Utxo, MAX_PAYOUT_INPUTS,
    MAX_PAYOUT_REQUESTS,
};
use crate::{Federation, FederationError};

/// Store column of the burns each imported block recorded: block root → encoded burns.
pub use alys_store::columns::peg::BURNS;

/// States kept in memory at most.
pub const MAX_CACHED_STATES: usize = 8192;
/// Lowest fee rate of a payout, sat/vB (Bitcoin Core's default minimum relay fee).
pub const MIN_PEG_OUT_FEE_RATE: u64 = 1;
/// `maxPegOutFeeRate` when the spec sets none, sat/vB.
pub const DEFAULT_MAX_PEG_OUT_FEE_RATE: u64 = 100;
/// Spends outside the peg one block declares at most (the block's list bound).
pub const MAX_SPENDS_PER_BLOCK: usize = alys_primitives::block::MAX_FEDERATION_SPENDS_PER_BLOCK;
/// `requiredBtcConfirmations` when the spec sets none.
const DEFAULT_REQUIRED_CONFIRMATIONS: u64 = 6;

/// Read access to the stored sidechain blocks.
pub trait LedgerChain: Send + Sync + 'static {
    /// A stored block with its height.
    fn block(&self, root: &B256) -> Result<Option<(u64, ConsensusBlock)>, String>;
}

impl LedgerChain for ChainStore {
    fn block(&self, root: &B256) -> Result<Option<(u64, ConsensusBlock)>, String> {
        Ok(self
            .block_at(root)
            .map_err(|e| e.to_string())?
            .map(|(height, block)| (height, block.message)))
    }
}

/// States by block root, at most [`MAX_CACHED_STATES`], the lowest height evicted first.
#[derive(Default)]
struct StateCache {
    by_root: HashMap<B256, Arc<PegOutState>>,
    by_height: BTreeSet<(u64, B256)>,
}

impl StateCache {
    fn insert(&mut self, root: B256, state: Arc<PegOutState>) {
        if self.by_root.len() >= MAX_CACHED_STATES && !self.by_root.contains_key(&root) {
            if let Some(lowest) = self.by_height.pop_first() {
                self.by_root.remove(&lowest.1);
            }
        }
        if let Some(old) = self.by_root.insert(root, state.clone()) {
            self.by_height.remove(&(old.height, root));
        }
        self.by_height.insert((state.height, root));
    }
}

/// The peg-out ledger (see the module docs).
pub struct Ledger {
    federation: Arc<Federation>,
    rules: PegOutRules,
    fee_cap: u64,
    fee_rate: AtomicU64,
    chain: Arc<dyn LedgerChain>,
    store: Arc<Store>,
    states: Mutex<StateCache>,
    /// Height of the highest block imported (the one the metrics show).
    highest: AtomicU64,
    /// This node's view of federation outputs spent on Bitcoin (none without a Bitcoin node).
    spend_view: Mutex<Option<Arc<dyn SpendView>>>,
    /// Depth a declared spend must have (`requiredBtcConfirmations`).
    required_confirmations: u64,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

impl Ledger {
    /// The ledger of the chain of `spec`, reading blocks from `chain` and keeping burns in
    /// `store`.
    pub fn new(
        spec: &ChainSpec,
        chain: Arc<dyn LedgerChain>,
        store: Arc<Store>,
    ) -> Result<Self, FederationError> {
        let federation = Arc::new(Federation::from_spec(spec)?);
        let fee_cap = spec
            .max_peg_out_fee_rate
            .unwrap_or(DEFAULT_MAX_PEG_OUT_FEE_RATE)
            .max(MIN_PEG_OUT_FEE_RATE);
        Ok(Self {
            federation,
            rules: PegOutRules::from_spec(spec)?,
            fee_cap,
            fee_rate: AtomicU64::new(MIN_PEG_OUT_FEE_RATE),
            chain,
            store,
            states: Mutex::new(StateCache::default()),
            highest: AtomicU64::new(0),
            spend_view: Mutex::new(None),
            required_confirmations: spec
                .required_btc_confirmations
                .map_or(DEFAULT_REQUIRED_CONFIRMATIONS, u64::from)
                .max(1),
        })
    }

    /// Checks declared spends against `view` (this node's Bitcoin node) from now on, and
    /// declares the spends it has confirmed when proposing.
    pub fn set_spend_view(&self, view: Arc<dyn SpendView>) {
        *self.spend_view.lock() = Some(view);
    }

    fn view(&self) -> Option<Arc<dyn SpendView>> {
        self.spend_view.lock().clone()
    }

    /// The spends outside the peg a block on top of `state` declares: the ones this node's
    /// view has confirmed, of federation outputs of `state`, by no payout of the chain.
    fn declarable_spends(&self, state: &PegOutState) -> Vec<FederationSpend> {
        let Some(view) = self.view() else {
            return Vec::new();
        };
        view.confirmed(self.required_confirmations)
            .into_iter()
            .filter(|(outpoint, seen)| {
                state.is_federation_output(outpoint) && !state.is_payout(&seen.spender)
            })
            .take(MAX_SPENDS_PER_BLOCK)
            .map(|(outpoint, seen)| FederationSpend {
                txid: B256::from(outpoint.txid.to_byte_array()),
                vout: outpoint.vout,
                spender: B256::from(seen.spender.to_byte_array()),
                block_hash: B256::from(seen.block.to_byte_array()),
            })
            .collect()
    }

    /// The federation.
    pub fn federation(&self) -> &Arc<Federation> {
        &self.federation
    }

    /// The smallest peg-out paid (the spec's `minPegOutSats`, the Bridge's minimum).
    pub fn min_peg_out(&self) -> Sats {
        self.rules.min
    }

    /// The spec's fee-rate cap, sat/vB.
    pub fn fee_cap(&self) -> u64 {
        self.fee_cap
    }

    /// Set the fee rate this node proposes payouts at (from its Bitcoin node's estimate);
    /// clamped to the floor and the cap.
    pub fn set_fee_rate(&self, sat_per_vb: u64) {
        let rate = sat_per_vb.clamp(MIN_PEG_OUT_FEE_RATE, self.fee_cap);
        self.fee_rate.store(rate, Ordering::Relaxed);
    }

    /// The fee rate this node proposes payouts at.
    pub fn fee_rate(&self) -> u64 {
        self.fee_rate.load(Ordering::Relaxed)
    }

    /// The peg-out state after block `root`.
    pub fn state(&self, root: &B256) -> Result<Arc<PegOutState>, PegOutRejection> {
        if let Some(s) = self.states.lock().by_root.get(root) {
            return Ok(s.clone());
        }
        let mut path = Vec::new();
        let mut cur = *root;
        let mut state = loop {
            if let Some(s) = self.states.lock().by_root.get(&cur) {
                break s.clone();
            }
            let (height, block) = self
                .chain
                .block(&cur)
                .map_err(|_| PegOutRejection::UnknownState(cur))?
                .ok_or(PegOutRejection::UnknownState(cur))?;
            if height == 0 {
                break Arc::new(PegOutState::default());
            }
            let parent = block.parent_root;
            path.push((cur, height, block));
            cur = parent;
        };
        for (root, height, block) in path.into_iter().rev() {
            let burns = self.stored_burns(&root)?;
            let refunds = refunds_minted(&block);
            state = Arc::new(self.apply(&state, root, height, &block, refunds, &burns)?);
            self.remember(root, state.clone());
        }
        Ok(state)
    }

    fn remember(&self, root: B256, state: Arc<PegOutState>) {
        self.states.lock().insert(root, state);
    }

    /// The child state of `parent` after `block`.
    fn apply(
        &self,
        parent: &PegOutState,
        root: B256,
        height: u64,
        block: &ConsensusBlock,
        refunds: usize,
        burns: &[PegOutRequest],
    ) -> Result<PegOutState, PegOutRejection> {
        let mut next = parent.child(height);
        for pegin in block.pegins.iter() {
            let txid = Txid::from_byte_array(pegin.txid.0);
            next.mint(OutPoint::new(txid, pegin.vout), Sats(pegin.sats));
        }
        next.refund(refunds, root);
        if let Some(bytes) = block.pegout_proposal.as_ref() {
            // Against the parent's state, as `check_proposal` checked it: the block's own
            // deposits must not widen the batch the payout is taken to pay.
            let payout = self.decode_payout(parent, &bytes[..])?;
            next.propose(payout, root);
        }
        for spend in block.federation_spends.iter() {
            let (outpoint, spender) = spend_outpoint(spend);
            let value = next.spend_elsewhere(outpoint, spender, root);
            tracing::error!(%outpoint, %spender, sats = value.map(|v| v.0), block = %root, "federation output spent outside the peg: dropped from the UTXO set, payouts spending it void");
        }
        for burn in burns {
            next.record_burn(burn, root);
        }
        Ok(next)
    }

    /// A proposal against `state`: its prevouts, the requests it pays, fee and change.
    fn decode_payout(
        &self,
        state: &PegOutState,
        bytes: &[u8],
    ) -> Result<AppliedPayout, PegOutRejection> {
        let tx: Transaction =
            deserialize(bytes).map_err(|e| PegOutRejection::Undecodable(e.to_string()))?;
        let mut prevouts = Vec::with_capacity(tx.input.len());
        for input in &tx.input {
            let outpoint = input.previous_output;
            if prevouts.iter().any(|u: &Utxo| u.outpoint == outpoint) {
                return Err(PegOutRejection::DuplicateInput(outpoint.to_string()));
            }
            let value = state
                .utxos
                .get(&outpoint)
                .ok_or_else(|| PegOutRejection::UnknownInput(outpoint.to_string()))?;
            prevouts.push(Utxo {
                outpoint,
                value: *value,
            });
        }
        let requests = payout_batch(state);
        if requests.is_empty() {
            return Err(PegOutRejection::NothingToPay);
        }
        let inputs: u64 = prevouts.iter().map(|u| u.value.0).sum();
        let outputs: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        let fee = inputs
            .checked_sub(outputs)
            .ok_or(PegOutRejection::OutputsExceedInputs)?;
        let change = tx
            .output
            .get(requests.len())
            .filter(|o| o.script_pubkey == *self.federation.script_pubkey())
            .map(|o| Utxo {
                outpoint: OutPoint::new(tx.compute_txid(), requests.len() as u32),
                value: Sats(o.value.to_sat()),
            });
        let paid = outputs - change.as_ref().map_or(0, |c| c.value.0);
        Ok(AppliedPayout {
            tx,
            prevouts,
            requests,
            fee: Sats(fee),
            paid: Sats(paid),
            change,
        })
    }

    /// The rules of [`PegOutLedger::check_proposal`] against `state`.
    fn check_against(&self, state: &PegOutState, bytes: &[u8]) -> Result<(), PegOutRejection> {
        let payout = self.decode_payout(state, bytes)?;
        let requests: Vec<_> = payout
            .requests
            .iter()
            .filter_map(|k| state.pending.get(k).map(|r| r.payout_request()))
            .collect();
        check_payout(
            &self.federation,
            &payout.tx,
            &payout.prevouts,
            &requests,
            self.fee_cap,
        )
        .map_err(|e| policy_rejection(e, requests.len(), payout.tx.output.len()))?;
        let rate = fee_rate_of(&self.federation, &payout.tx, &requests).ok_or_else(|| {
            PegOutRejection::Differs {
                expected: "a payout at a whole fee rate".into(),
                got: payout.tx.compute_txid().to_string(),
            }
        })?;
        if rate < MIN_PEG_OUT_FEE_RATE {
            return Err(PegOutRejection::FeeBelowFloor {
                rate,
                floor: MIN_PEG_OUT_FEE_RATE,
            });
        }
        if rate > self.fee_cap {
            return Err(PegOutRejection::FeeAboveCap {
                rate,
                cap: self.fee_cap,
            });
        }
        let expected = build_payout(
            &self.federation,
            &selectable(state, &requests),
            &requests,
            rate,
        )
        .map_err(|e| PegOutRejection::Differs {
            expected: format!("none ({e})"),
            got: payout.tx.compute_txid().to_string(),
        })?;
        if expected.tx != payout.tx {
            return Err(PegOutRejection::Differs {
                expected: expected.tx.compute_txid().to_string(),
                got: payout.tx.compute_txid().to_string(),
            });
        }
        Ok(())
    }

    fn stored_burns(&self, root: &B256) -> Result<Vec<PegOutRequest>, PegOutRejection> {
        let bytes = self
            .store
            .get(BURNS, root.as_slice())
            .map_err(|e| PegOutRejection::BurnLog(e.to_string()))?;
        match bytes {
            None => Ok(Vec::new()),
            Some(bytes) => decode_burns(&bytes, &self.rules)
                .ok_or_else(|| PegOutRejection::BurnLog(format!("stored burns of {root} corrupt"))),
        }
    }

    /// The payouts proposed on the chain ending at `head` that are not void, oldest first.
    pub fn payouts(
        &self,
        head: &B256,
    ) -> Result<Vec<(Txid, super::ProposedPayoutRecord)>, PegOutRejection> {
        let state = self.state(head)?;
        let mut list: Vec<_> = state
            .payouts
            .iter()
            .filter(|(_, p)| p.voided.is_none())
            .map(|(t, p)| (*t, p.clone()))
            .collect();
        list.sort_by_key(|(_, p)| p.height);
        Ok(list)
    }

    /// The payouts void on the chain ending at `head` (an input was spent outside the peg).
    pub fn voided_payouts(&self, head: &B256) -> Result<Vec<Txid>, PegOutRejection> {
        let state = self.state(head)?;
        Ok(state
            .payouts
            .iter()
            .filter(|(_, p)| p.voided.is_some())
            .map(|(t, _)| *t)
            .collect())
    }
}

/// The spent output and the spender of a declared spend.
fn spend_outpoint(spend: &FederationSpend) -> (OutPoint, Txid) {
    (
        OutPoint::new(Txid::from_byte_array(spend.txid.0), spend.vout),
        Txid::from_byte_array(spend.spender.0),
    )
}

/// The requests the next payout on top of `state` pays: pending requests in chain order, each
/// taken while the federation's UTXOs cover the running total (a request larger than what is
/// left waits, the ones after it are not held up), at most [`MAX_PAYOUT_REQUESTS`].
pub fn payout_batch(state: &PegOutState) -> Vec<RequestKey> {
    let available = state.utxo_total().0;
    let mut total = 0u64;
    let mut keys = Vec::new();
    for (key, req) in state.pending.iter() {
        if keys.len() >= MAX_PAYOUT_REQUESTS {
            break;
        }
        if let Some(t) = total.checked_add(req.amount.0).filter(|t| *t <= available) {
            total = t;
            keys.push(*key);
        }
    }
    keys
}

/// The UTXOs coin selection of a payout of `requests` can take: the largest ones covering the
/// requested sum, one more than a payout may spend (so a payout that needs too many inputs
/// fails as with the whole set). Selection takes exactly these from the whole set, so the
/// payout is the same, at a cost that does not grow with the number of UTXOs.
fn selectable(state: &PegOutState, requests: &[PayoutRequest]) -> Vec<Utxo> {
    let need = requests
        .iter()
        .map(|r| r.amount.0)
        .fold(0u64, u64::saturating_add);
    state.covering_utxos(need, MAX_PAYOUT_INPUTS + 1)
}

/// The oldest refunds due of `state`, as many as one block may mint.
fn refunds_due(state: &PegOutState) -> Vec<Refund> {
    state
        .refunds
        .values()
        .take(MAX_REFUNDS_PER_BLOCK)
        .map(|r| Refund {
            recipient: r.sender,
            amount: r.amount,
        })
        .collect()
}

/// How many refunds `block` mints (its withdrawals with the refund index).
fn refunds_minted(block: &ConsensusBlock) -> usize {
    block
        .execution_payload
        .engine_withdrawals()
        .iter()
        .filter(|w| w.validator_index == REFUND_VALIDATOR_INDEX)
        .count()
}

/// The consensus form of a signing-policy violation.
fn policy_rejection(e: PolicyError, requests: usize, outputs: usize) -> PegOutRejection {
    use PegOutRejection as R;
    match e {
        PolicyError::NoRequests => R::NothingToPay,
        PolicyError::NoInputs => R::NoInputs,
        PolicyError::UnknownInput { outpoint, .. } => R::UnknownInput(outpoint.to_string()),
        PolicyError::DuplicateInput { outpoint, .. } => R::DuplicateInput(outpoint.to_string()),
        PolicyError::MissingOutput { .. } => R::MissingOutput { outputs, requests },
        PolicyError::AddressMismatch { index, .. } => R::AddressMismatch { index },
        PolicyError::AmountAboveRequest {
            index,
            requested,
            paid,
            ..
        } => R::AmountMismatch {
            index,
            expected: requested,
            got: paid,
        },
        PolicyError::AmountMismatch {
            index,
            expected,
            paid,
        } => R::AmountMismatch {
            index,
            expected,
            got: paid,
        },
        PolicyError::UnrequestedOutput { index } => R::UnrequestedOutput { index },
        PolicyError::ChangeElsewhere { index } => R::ChangeElsewhere { index },
        PolicyError::OutputsExceedInputs { .. } => R::OutputsExceedInputs,
        PolicyError::InputsBelowRequests { .. } => R::InputsBelowRequests,
        PolicyError::FeeAboveCap { fee, vsize, cap } => R::FeeAboveCap {
            rate: fee.0 / vsize.max(1),
            cap,
        },
        PolicyError::ChangeMismatch { expected, actual } => R::ChangeMismatch {
            expected: expected.map(|s| s.0),
            got: actual.map(|s| s.0),
        },
        PolicyError::Overflow => R::OutputsExceedInputs,
        PolicyError::Size(e) => R::Undecodable(e.to_string()),
    }
}

/// Burns as stored: per burn, tx hash (32) ‖ log index (8) ‖ sender (20) ‖ sats (8) ‖
/// address length (2) ‖ address bytes.
fn encode_burns(burns: &[PegOutRequest]) -> Vec<u8> {
    let mut out = Vec::new();
    for b in burns {
        out.extend_from_slice(b.tx_hash.as_slice());
        out.extend_from_slice(&b.log_index.to_be_bytes());
        out.extend_from_slice(b.sender.as_slice());
        out.extend_from_slice(&b.amount.0.to_be_bytes());
        let len = b.btc_address.len().min(u16::MAX as usize);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&b.btc_address[..len]);
    }
    out
}

fn decode_burns(mut bytes: &[u8], rules: &PegOutRules) -> Option<Vec<PegOutRequest>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (head, rest) = bytes.split_at_checked(70)?;
        let tx_hash = B256::from_slice(&head[..32]);
        let log_index = u64::from_be_bytes(head[32..40].try_into().ok()?);
        let sender = Address::from_slice(&head[40..60]);
        let amount = Sats(u64::from_be_bytes(head[60..68].try_into().ok()?));
        let len = u16::from_be_bytes(head[68..70].try_into().ok()?) as usize;
        let (address, rest) = rest.split_at_checked(len)?;
        out.push(PegOutRequest {
            tx_hash,
            log_index,
            sender,
            btc_address: address.to_vec(),
            amount,
            disposition: classify(address, amount, rules),
        });
        bytes = rest;
    }
    Some(out)
}

impl PegOutLedger for Ledger {
    fn work(&self, parent: &BlockInfo) -> PegOutWork {
        let state = match self.state(&parent.root) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(parent = %parent.root, error = %e, "no peg-out state: no refunds or payout proposed");
                return PegOutWork::default();
            }
        };
        let refunds = refunds_due(&state);
        let spends = self.declarable_spends(&state);
        if !spends.is_empty() {
            tracing::warn!(
                spends = spends.len(),
                "declaring federation outputs spent outside the peg; the payout waits one block"
            );
        }
        let batch = if spends.is_empty() {
            payout_batch(&state)
        } else {
            // The payout waits for the block after: built without the outputs spent elsewhere.
            Vec::new()
        };
        let proposal = if batch.is_empty() {
            None
        } else {
            let requests: Vec<_> = batch
                .iter()
                .filter_map(|k| state.pending.get(k).map(|r| r.payout_request()))
                .collect();
            match build_payout(
                &self.federation,
                &selectable(&state, &requests),
                &requests,
                self.fee_rate(),
            ) {
                Ok(p) => Some(serialize(&p.tx)),
                Err(e) => {
                    tracing::warn!(error = %e, pending = requests.len(), "no payout proposed");
                    None
                }
            }
        };
        PegOutWork {
            refunds,
            proposal,
            spends,
        }
    }

    fn expected_refunds(&self, parent: &BlockInfo) -> Result<Vec<Refund>, PegOutRejection> {
        Ok(refunds_due(&*self.state(&parent.root)?))
    }

    fn check_proposal(
        &self,
        parent: &BlockInfo,
        proposal: Option<&[u8]>,
    ) -> Result<(), PegOutRejection> {
        let Some(bytes) = proposal else {
            return Ok(());
        };
        let state = self.state(&parent.root)?;
        self.check_against(&state, bytes)
    }

    fn check_spends(
        &self,
        parent: &BlockInfo,
        spends: &[FederationSpend],
    ) -> Result<(), PegOutRejection> {
        if spends.is_empty() {
            return Ok(());
        }
        let state = self.state(&parent.root)?;
        let view = self.view();
        for (i, spend) in spends.iter().enumerate() {
            let (outpoint, spender) = spend_outpoint(spend);
            let name = outpoint.to_string();
            if spends[..i]
                .iter()
                .any(|s| s.txid == spend.txid && s.vout == spend.vout)
            {
                return Err(PegOutRejection::DuplicateSpend(name));
            }
            if !state.is_federation_output(&outpoint) {
                return Err(PegOutRejection::NotAFederationOutput(name));
            }
            if state.is_payout(&spender) {
                return Err(PegOutRejection::SpentByPayout(name));
            }
            // Without a Bitcoin node, the threshold approvals are trusted for it.
            let Some(view) = &view else { continue };
            match view.verdict(spend) {
                SpendVerdict::Seen { confirmations }
                    if confirmations >= self.required_confirmations => {}
                SpendVerdict::Seen { confirmations } => {
                    return Err(PegOutRejection::SpendUnconfirmed {
                        outpoint: name,
                        confirmations,
                        required: self.required_confirmations,
                    })
                }
                SpendVerdict::Unknown => {
                    return Err(PegOutRejection::SpendUnknown { outpoint: name })
                }
                SpendVerdict::Mismatch => {
                    return Err(PegOutRejection::SpendMismatch { outpoint: name })
                }
            }
        }
        Ok(())
    }

    fn imported(
        &self,
        parent: &BlockInfo,
        root: B256,
        block: &ConsensusBlock,
        refunds: usize,
        receipts: &[TransactionReceipt],
    ) -> Result<(), PegOutRejection> {
        let burns = burns_from_receipts(receipts, BRIDGE_ADDRESS, &self.rules)
            .map_err(|e| PegOutRejection::BurnLog(e.to_string()))?;
        let state = self.state(&parent.root)?;
        let next = self.apply(
            &state,
            root,
            parent.height.saturating_add(1),
            block,
            refunds,
            &burns,
        )?;
        if !burns.is_empty() {
            let mut batch = WriteBatch::default();
            batch.put(BURNS, root.as_slice(), encode_burns(&burns));
            self.store
                .write(batch, Durability::Buffered)
                .map_err(|e| PegOutRejection::BurnLog(e.to_string()))?;
        }
        let voided = if block.federation_spends.is_empty() {
            0
        } else {
            next.payouts
                .values()
                .filter(|p| p.voided == Some(root))
                .count()
        };
        super::metrics::block_imported(
            &burns,
            block.pegout_proposal.is_some(),
            refunds,
            block.federation_spends.len(),
            voided,
        );
        if next.height >= self.highest.load(Ordering::Relaxed) {
            self.highest.store(next.height, Ordering::Relaxed);
            super::metrics::head_state(&next);
        }
        self.remember(root, Arc::new(next));
        Ok(())
    }
}
