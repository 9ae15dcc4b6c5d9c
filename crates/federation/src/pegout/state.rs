//! The peg-out state of one block and how a block changes it (DESIGN §8, §12.3).
//!
//! A block's state is its parent's, updated in this order by the block's own content:
//!
//! 1. its peg-ins: each minted deposit output becomes a federation UTXO;
//! 2. its refunds: the first `k` refunds due are minted (removed from the due list);
//! 3. its payout proposal: the inputs leave the UTXO set, the requests it pays leave the
//!    pending list, its change (known from the unsigned txid) joins the UTXO set, and the
//!    payout is recorded;
//! 4. the federation outputs it declares spent outside the peg: each leaves the UTXO set; a
//!    payout that spent one can never confirm, so it is void: its other inputs return to the
//!    UTXO set, its requests to the pending list, its change leaves the set (and a payout
//!    that spent that change is void in turn);
//! 5. the burns of its receipts: each is a pending request (to pay) or a refund due.
//!
//! The maps are persistent ([`imbl`]): a child shares everything its block did not change with
//! its parent, so keeping the state of every unfinalized block costs memory in proportion to
//! the changes, not to the number of blocks.

use alys_primitives::{Address, Sats, B256};
use bitcoin::{OutPoint, Transaction, Txid};
use std::cmp::Reverse;

use imbl::{OrdMap, OrdSet};

use crate::burns::{PegOutDisposition, PegOutRequest, RefundReason};
use crate::payout::{PayoutRequest, RequestId, Utxo};

/// Where a request sits on the chain: the burning block's height and the log's index.
pub type RequestKey = (u64, u64);

/// A burn waiting for a payout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRequest {
    /// The burn.
    pub id: RequestId,
    /// Who burned.
    pub sender: Address,
    /// Where to pay.
    pub address: bitcoin::Address,
    /// The amount burned.
    pub amount: Sats,
    /// The block that recorded the burn.
    pub block: B256,
}

impl PendingRequest {
    /// The request as the payout builder takes it.
    pub fn payout_request(&self) -> PayoutRequest {
        PayoutRequest {
            id: self.id,
            address: self.address.clone(),
            amount: self.amount,
        }
    }
}

/// A burn to mint back to its sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundDue {
    /// The burn.
    pub id: RequestId,
    /// Who burned (and gets the refund).
    pub sender: Address,
    /// The amount burned.
    pub amount: Sats,
    /// Why it is refunded.
    pub reason: RefundReason,
    /// The block that recorded the burn.
    pub block: B256,
}

/// A payout proposed in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposedPayoutRecord {
    /// The unsigned transaction.
    pub tx: Transaction,
    /// Its inputs' previous outputs, in input order.
    pub prevouts: Vec<Utxo>,
    /// The requests it pays, in output order.
    pub requests: Vec<PendingRequest>,
    /// Its fee.
    pub fee: Sats,
    /// The proposing block.
    pub block: B256,
    /// That block's height.
    pub height: u64,
    /// What its outputs pay the requests (outputs − change).
    pub paid: Sats,
    /// Its change output, if any.
    pub change: Option<Utxo>,
    /// The block that declared one of its inputs spent outside the peg (it can never confirm).
    pub voided: Option<B256>,
}

/// A federation output spent on Bitcoin by a transaction that is not a payout of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpentElsewhere {
    /// Its value.
    pub value: Sats,
    /// The spending transaction.
    pub spender: Txid,
    /// The sidechain block that declared it.
    pub block: B256,
    /// The payout it voided, if a payout had spent it.
    pub voided: Option<Txid>,
}

/// What happened to a request, as far as the chain knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// Recorded by the Bridge, waiting for a payout.
    Requested,
    /// In the payout `txid` proposed by block `block`.
    Proposed {
        /// The payout.
        txid: Txid,
        /// The proposing block.
        block: B256,
    },
    /// To be refunded (not minted yet).
    RefundDue(RefundReason),
    /// Refunded by block `block`.
    Refunded {
        /// Why.
        reason: RefundReason,
        /// The minting block.
        block: B256,
    },
}

/// The history of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// Who burned.
    pub sender: Address,
    /// The address bytes as sent.
    pub btc_address: Vec<u8>,
    /// The amount burned.
    pub amount: Sats,
    /// The block that recorded the burn.
    pub block: B256,
    /// Its height.
    pub height: u64,
    /// Where it is now.
    pub state: RequestState,
}

/// Running totals of the peg (DESIGN §12.3): `minted − burned − refunded` equals the
/// federation's holdings minus fees, which the invariant test checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PegTotals {
    /// Sats minted by peg-ins.
    pub minted: u64,
    /// Sats burned through the Bridge.
    pub burned: u64,
    /// Sats minted back by refunds.
    pub refunded: u64,
    /// Sats paid to peg-out addresses.
    pub paid: u64,
    /// Sats spent on payout fees.
    pub fees: u64,
    /// Sats burned by the requests put in payouts (what they paid plus their fee shares).
    pub proposed: u64,
    /// Sats of federation outputs spent outside the peg.
    pub spent_elsewhere: u64,
}

/// The peg-out state after a block.
#[derive(Clone, Debug, Default)]
pub struct PegOutState {
    /// Height of the block.
    pub height: u64,
    /// Federation UTXOs not spent by any proposed payout.
    pub utxos: OrdMap<OutPoint, Sats>,
    /// The same UTXOs in coin-selection order: value descending, then outpoint ascending.
    by_value: OrdSet<(Reverse<Sats>, OutPoint)>,
    /// Sum of the UTXOs.
    utxo_sum: u64,
    /// Requests waiting for a payout, in chain order.
    pub pending: OrdMap<RequestKey, PendingRequest>,
    /// Refunds due, in chain order.
    pub refunds: OrdMap<RequestKey, RefundDue>,
    /// Payouts proposed on this chain (void ones included, marked).
    pub payouts: OrdMap<Txid, ProposedPayoutRecord>,
    /// The inputs of the payouts that are not void: outpoint → payout.
    payout_inputs: OrdMap<OutPoint, Txid>,
    /// Federation outputs declared spent outside the peg.
    pub spent_elsewhere: OrdMap<OutPoint, SpentElsewhere>,
    /// Every request recorded on this chain, by burning transaction and log index.
    pub requests: OrdMap<(B256, u64), RequestRecord>,
    /// Running totals.
    pub totals: PegTotals,
}

/// A payout proposal applied to a state: what the ledger decoded and checked.
#[derive(Clone, Debug)]
pub struct AppliedPayout {
    /// The unsigned transaction.
    pub tx: Transaction,
    /// Its prevouts.
    pub prevouts: Vec<Utxo>,
    /// The keys of the requests it pays, in output order.
    pub requests: Vec<RequestKey>,
    /// Its fee (inputs − outputs).
    pub fee: Sats,
    /// What its outputs pay the requests (outputs − change).
    pub paid: Sats,
    /// The change output, if any.
    pub change: Option<Utxo>,
}

impl PegOutState {
    /// Sum of the federation UTXOs.
    pub fn utxo_total(&self) -> Sats {
        Sats(self.utxo_sum)
    }

    /// The largest UTXOs, in coin-selection order (value descending, then outpoint), until
    /// they cover `need` sats (at least one), or `max` of them: what coin selection of a
    /// payout of `need` takes from, in O(max × log UTXOs).
    pub fn covering_utxos(&self, need: u64, max: usize) -> Vec<Utxo> {
        let mut out = Vec::new();
        let mut have = 0u64;
        for (Reverse(value), outpoint) in self.by_value.iter() {
            if (have >= need && !out.is_empty()) || out.len() >= max {
                break;
            }
            have = have.saturating_add(value.0);
            out.push(Utxo {
                outpoint: *outpoint,
                value: *value,
            });
        }
        out
    }

    fn add_utxo(&mut self, outpoint: OutPoint, value: Sats) {
        if let Some(old) = self.utxos.insert(outpoint, value) {
            self.by_value.remove(&(Reverse(old), outpoint));
            self.utxo_sum = self.utxo_sum.saturating_sub(old.0);
        }
        self.by_value.insert((Reverse(value), outpoint));
        self.utxo_sum = self.utxo_sum.saturating_add(value.0);
    }

    fn remove_utxo(&mut self, outpoint: &OutPoint) {
        if let Some(old) = self.utxos.remove(outpoint) {
            self.by_value.remove(&(Reverse(old), *outpoint));
            self.utxo_sum = self.utxo_sum.saturating_sub(old.0);
        }
    }

    /// The UTXOs as the payout builder takes them.
    pub fn utxo_list(&self) -> Vec<Utxo> {
        self.utxos
            .iter()
            .map(|(outpoint, value)| Utxo {
                outpoint: *outpoint,
                value: *value,
            })
            .collect()
    }

    /// The state of a child block at `height`, before its content is applied.
    pub fn child(&self, height: u64) -> Self {
        let mut next = self.clone();
        next.height = height;
        next
    }

    /// Step 1: a minted deposit output.
    pub fn mint(&mut self, outpoint: OutPoint, value: Sats) {
        self.totals.minted = self.totals.minted.saturating_add(value.0);
        self.add_utxo(outpoint, value);
    }

    /// Step 2: the first `k` refunds due are minted by `block`.
    pub fn refund(&mut self, k: usize, block: B256) {
        for _ in 0..k {
            let Some(key) = self.refunds.get_min().map(|(k, _)| *k) else {
                return;
            };
            let Some(due) = self.refunds.remove(&key) else {
                return;
            };
            self.totals.refunded = self.totals.refunded.saturating_add(due.amount.0);
            if let Some(rec) = self.requests.get_mut(&(due.id.tx_hash, due.id.log_index)) {
                rec.state = RequestState::Refunded {
                    reason: due.reason.clone(),
                    block,
                };
            }
        }
    }

    /// Step 3: a checked payout proposed by `block`.
    pub fn propose(&mut self, payout: AppliedPayout, block: B256) {
        let txid = payout.tx.compute_txid();
        for input in &payout.prevouts {
            self.remove_utxo(&input.outpoint);
            self.payout_inputs.insert(input.outpoint, txid);
        }
        let mut requests = Vec::with_capacity(payout.requests.len());
        for key in &payout.requests {
            if let Some(req) = self.pending.remove(key) {
                self.totals.proposed = self.totals.proposed.saturating_add(req.amount.0);
                if let Some(rec) = self.requests.get_mut(&(req.id.tx_hash, req.id.log_index)) {
                    rec.state = RequestState::Proposed { txid, block };
                }
                requests.push(req);
            }
        }
        self.totals.paid = self.totals.paid.saturating_add(payout.paid.0);
        self.totals.fees = self.totals.fees.saturating_add(payout.fee.0);
        if let Some(change) = &payout.change {
            self.add_utxo(change.outpoint, change.value);
        }
        self.payouts.insert(
            txid,
            ProposedPayoutRecord {
                tx: payout.tx,
                prevouts: payout.prevouts,
                requests,
                fee: payout.fee,
                block,
                height: self.height,
                paid: payout.paid,
                change: payout.change,
                voided: None,
            },
        );
    }

    /// Whether `outpoint` is a federation output on this chain: unspent, or spent by a payout
    /// that is not void.
    pub fn is_federation_output(&self, outpoint: &OutPoint) -> bool {
        self.utxos.contains_key(outpoint) || self.payout_inputs.contains_key(outpoint)
    }

    /// Whether `txid` is a payout proposed on this chain.
    pub fn is_payout(&self, txid: &Txid) -> bool {
        self.payouts.contains_key(txid)
    }

    /// Step 4: `outpoint`, a federation output, was spent on Bitcoin by `spender`, which is no
    /// payout of this chain; declared by `block`. Returns its value, `None` when `outpoint`
    /// is not a federation output (nothing changes).
    pub fn spend_elsewhere(
        &mut self,
        outpoint: OutPoint,
        spender: Txid,
        block: B256,
    ) -> Option<Sats> {
        let voided = self.payout_inputs.get(&outpoint).copied();
        if let Some(payout) = voided {
            self.void_payout(payout, block);
        }
        let value = *self.utxos.get(&outpoint)?;
        self.remove_utxo(&outpoint);
        self.totals.spent_elsewhere = self.totals.spent_elsewhere.saturating_add(value.0);
        self.spent_elsewhere.insert(
            outpoint,
            SpentElsewhere {
                value,
                spender,
                block,
                voided,
            },
        );
        Some(value)
    }

    /// Voids `txid` and, first, every payout that spent its change (the change never exists
    /// on Bitcoin): its inputs return to the UTXO set, its requests to the pending list, its
    /// change leaves the set, and the totals forget it.
    fn void_payout(&mut self, txid: Txid, block: B256) {
        // The payouts to void, each after the one whose change it spent: a chain through the
        // change outputs, walked without recursion.
        let mut chain = vec![txid];
        while let Some(change) = self
            .payouts
            .get(chain.last().unwrap_or(&txid))
            .and_then(|p| p.change.as_ref())
            .map(|c| c.outpoint)
        {
            match self.payout_inputs.get(&change) {
                Some(next) if !chain.contains(next) => chain.push(*next),
                _ => break,
            }
        }
        for txid in chain.into_iter().rev() {
            let Some(mut record) = self.payouts.get(&txid).cloned() else {
                continue;
            };
            if record.voided.is_some() {
                continue;
            }
            if let Some(change) = &record.change {
                self.remove_utxo(&change.outpoint);
            }
            for input in &record.prevouts {
                self.payout_inputs.remove(&input.outpoint);
                self.add_utxo(input.outpoint, input.value);
            }
            for req in &record.requests {
                let Some(rec) = self.requests.get_mut(&(req.id.tx_hash, req.id.log_index)) else {
                    continue;
                };
                rec.state = RequestState::Requested;
                let key = (rec.height, req.id.log_index);
                self.totals.proposed = self.totals.proposed.saturating_sub(req.amount.0);
                self.pending.insert(key, req.clone());
            }
            self.totals.paid = self.totals.paid.saturating_sub(record.paid.0);
            self.totals.fees = self.totals.fees.saturating_sub(record.fee.0);
            record.voided = Some(block);
            self.payouts.insert(txid, record);
        }
    }

    /// Step 5: a burn recorded by `block`.
    pub fn record_burn(&mut self, burn: &PegOutRequest, block: B256) {
        let key = (self.height, burn.log_index);
        let id = RequestId {
            tx_hash: burn.tx_hash,
            log_index: burn.log_index,
        };
        self.totals.burned = self.totals.burned.saturating_add(burn.amount.0);
        let state = match &burn.disposition {
            PegOutDisposition::Pay(address) => {
                self.pending.insert(
                    key,
                    PendingRequest {
                        id,
                        sender: burn.sender,
                        address: address.clone(),
                        amount: burn.amount,
                        block,
                    },
                );
                RequestState::Requested
            }
            PegOutDisposition::Refund(reason) => {
                self.refunds.insert(
                    key,
                    RefundDue {
                        id,
                        sender: burn.sender,
                        amount: burn.amount,
                        reason: reason.clone(),
                        block,
                    },
                );
                RequestState::RefundDue(reason.clone())
            }
        };
        self.requests.insert(
            (burn.tx_hash, burn.log_index),
            RequestRecord {
                sender: burn.sender,
                btc_address: burn.btc_address.clone(),
                amount: burn.amount,
                block,
                height: self.height,
                state,
            },
        );
    }

    /// DESIGN §12.3 on this state: what the federation holds is what was deposited less what
    /// the payouts paid out and spent on fees, and less what was spent outside the peg
    /// (`UTXO total = minted − paid − fees − spent elsewhere`), and every burn is pending, due
    /// for a refund, refunded, or in a payout.
    pub fn balance_holds(&self) -> bool {
        let out = self
            .totals
            .paid
            .saturating_add(self.totals.fees)
            .saturating_add(self.totals.spent_elsewhere);
        let held = self.totals.minted.checked_sub(out) == Some(self.utxo_total().0);
        let waiting: u64 = self.pending.values().map(|r| r.amount.0).sum::<u64>()
            + self.refunds.values().map(|r| r.amount.0).sum::<u64>();
        let accounted = waiting + self.totals.refunded + self.totals.proposed == self.totals.burned;
        held && accounted
    }
}
