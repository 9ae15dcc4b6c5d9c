//! Federation outputs spent on Bitcoin outside the peg, through the peg-out ledger's consensus
//! seam (`check_spends`, `work`, `imported`), as consensus calls it:
//!
//! - a declared spend drops the output; a payout that spent it is void, and so is a payout
//!   that spent the void payout's change; their requests are paid by a new payout from the
//!   remaining UTXOs; the peg balance holds with the sats spent elsewhere; a restarted ledger
//!   rebuilds the same state;
//! - every rule of a declared spend broken alone gives its typed rejection, and only the
//!   rejections of a Bitcoin node that has not seen the spend (yet) are retryable;
//! - a proposer declares the spends its Bitcoin view has confirmed and holds its payout for
//!   the next block.
//!
//! The Bitcoin node's view is a fixed [`SpendView`] here (the watcher that fills it from a
//! real Bitcoin node is tested in `spend_watcher.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[path = "common/ledger_chain.rs"]
mod ledger_chain;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alys_consensus::pegout::{PegOutLedger, PegOutRejection};
use alys_consensus::BlockInfo;
use alys_federation::bitcoin::consensus::deserialize;
use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::{BlockHash, Network, OutPoint, Transaction, Txid};
use alys_federation::pegout::{PegOutState, RequestState, SeenSpend, SpendVerdict, SpendView};
use alys_primitives::{Address, FederationSpend, B256};
use ledger_chain::{addresses, three_deposits, Burn, Content, TestChain};

const ALICE: Address = Address::repeat_byte(0xa1);
const BOB: Address = Address::repeat_byte(0xb0);

fn txid_bytes(n: u64) -> B256 {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&n.to_be_bytes());
    B256::from(b)
}

fn outpoint(txid: B256, vout: u32) -> OutPoint {
    OutPoint::new(Txid::from_byte_array(txid.0), vout)
}

/// The declaration of `outpoint` spent by `spender` in Bitcoin block `block`.
fn declared(outpoint: OutPoint, spender: B256, block: B256) -> FederationSpend {
    FederationSpend {
        txid: B256::from(outpoint.txid.to_byte_array()),
        vout: outpoint.vout,
        spender,
        block_hash: block,
    }
}

/// `requiredBtcConfirmations` of the test chain.
fn required_confirmations(tc: &TestChain) -> u64 {
    tc.spec
        .required_btc_confirmations
        .map_or(6, u64::from)
        .max(1)
}

/// A Bitcoin node's view fixed by the test: spends with their confirmations.
#[derive(Default)]
struct FixedView {
    spends: Mutex<HashMap<OutPoint, (SeenSpend, u64)>>,
}

impl FixedView {
    fn set(&self, spend: &FederationSpend, confirmations: u64) {
        let op = OutPoint::new(Txid::from_byte_array(spend.txid.0), spend.vout);
        let seen = SeenSpend {
            spender: Txid::from_byte_array(spend.spender.0),
            block: BlockHash::from_byte_array(spend.block_hash.0),
            height: 100,
        };
        self.spends
            .lock()
            .unwrap()
            .insert(op, (seen, confirmations));
    }
}

impl SpendView for FixedView {
    fn verdict(&self, spend: &FederationSpend) -> SpendVerdict {
        let op = OutPoint::new(Txid::from_byte_array(spend.txid.0), spend.vout);
        match self.spends.lock().unwrap().get(&op) {
            None => SpendVerdict::Unknown,
            Some((s, _)) if s.spender.to_byte_array() != spend.spender.0 => SpendVerdict::Mismatch,
            Some((s, _)) if s.block.to_byte_array() != spend.block_hash.0 => SpendVerdict::Unknown,
            Some((_, confirmations)) => SpendVerdict::Seen {
                confirmations: *confirmations,
            },
        }
    }

    fn confirmed(&self, confirmations: u64) -> Vec<(OutPoint, SeenSpend)> {
        self.spends
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (_, c))| *c >= confirmations)
            .map(|(op, (s, _))| (*op, *s))
            .collect()
    }
}

/// A chain with deposits of 500k, 300k and 200k sats (block 1), burns of 100k and 60k (block
/// 2), the payout P1 of both from the 500k deposit with change (block 3, which also records a
/// burn of 350k), and the payout P2 of the 350k from P1's change and the 300k deposit (block 4).
struct Chained {
    tc: TestChain,
    b3: BlockInfo,
    b4: BlockInfo,
    p1: Transaction,
    p2: Transaction,
    _dir: tempfile::TempDir,
}

impl Chained {
    /// Block 5 on block 4, declaring `spent` spent by a foreign transaction; its state.
    fn declare_on_b4(&mut self, spent: OutPoint) -> (BlockInfo, Arc<PegOutState>) {
        let foreign = declared(spent, txid_bytes(99), txid_bytes(98));
        let b4 = self.b4.clone();
        let b5 = self.tc.extend(
            &b4,
            &Content {
                spends: Some(vec![foreign]),
                ..Default::default()
            },
        );
        let state = self.tc.ledger.state(&b5.root).unwrap();
        (b5, state)
    }
}

fn chained() -> Chained {
    let dir = tempfile::tempdir().unwrap();
    let mut tc = TestChain::new(dir.path());
    let g = tc.genesis.clone();
    let b1 = tc.extend(&g, &three_deposits(txid_bytes, ALICE, BOB));
    let to = addresses(2, Network::Regtest);
    let receipts = tc.burn_receipts(&[
        Burn::new(ALICE, &to[0], 100_000),
        Burn::new(BOB, &to[1], 60_000),
    ]);
    let b2 = tc.extend(
        &b1,
        &Content {
            receipts,
            ..Default::default()
        },
    );
    let p1: Transaction = deserialize(&tc.ledger.work(&b2).proposal.unwrap()).unwrap();
    assert_eq!(p1.input[0].previous_output, outpoint(txid_bytes(1), 0));
    let receipts = tc.burn_receipts(&[Burn::new(BOB, &to[2], 350_000)]);
    let b3 = tc.extend(
        &b2,
        &Content {
            receipts,
            ..Default::default()
        },
    );
    let p2: Transaction = deserialize(&tc.ledger.work(&b3).proposal.unwrap()).unwrap();
    let p1_change = OutPoint::new(p1.compute_txid(), 2);
    assert!(
        p2.input.iter().any(|i| i.previous_output == p1_change),
        "P2 spends P1's change"
    );
    let b4 = tc.extend(&b3, &Content::default());
    let s4 = tc.ledger.state(&b4.root).unwrap();
    assert!(s4.pending.is_empty());
    assert_eq!(s4.payouts.len(), 2);
    Chained {
        tc,
        b3,
        b4,
        p1,
        p2,
        _dir: dir,
    }
}

#[test]
fn a_spend_elsewhere_voids_the_payouts_built_on_it_and_the_requests_are_paid_again() {
    let mut c = chained();
    // No Bitcoin view: the threshold approvals are trusted for the spend (structure checked).
    let (b5, s5) = c.declare_on_b4(outpoint(txid_bytes(1), 0));
    let (t1, t2) = (c.p1.compute_txid(), c.p2.compute_txid());
    assert_eq!(s5.payouts[&t1].voided, Some(b5.root));
    assert_eq!(
        s5.payouts[&t2].voided,
        Some(b5.root),
        "P2 spent P1's change"
    );
    // The 500k output is gone; the 300k and 200k deposits are back; no change output is left.
    let mut left: Vec<_> = s5.utxos.iter().map(|(op, v)| (*op, v.0)).collect();
    left.sort();
    assert_eq!(
        left,
        vec![
            (outpoint(txid_bytes(2), 1), 300_000),
            (outpoint(txid_bytes(3), 0), 200_000)
        ]
    );
    assert_eq!(s5.totals.spent_elsewhere, 500_000);
    assert_eq!(
        (s5.totals.paid, s5.totals.fees, s5.totals.proposed),
        (0, 0, 0)
    );
    assert_eq!(s5.pending.len(), 3, "every request is pending again");
    assert!(s5
        .requests
        .values()
        .all(|r| r.state == RequestState::Requested));
    assert!(s5.balance_holds());
    let record = &s5.spent_elsewhere[&outpoint(txid_bytes(1), 0)];
    assert_eq!((record.value.0, record.voided), (500_000, Some(t1)));
    assert_eq!(c.tc.ledger.payouts(&b5.root).unwrap().len(), 0);
    let mut voided = c.tc.ledger.voided_payouts(&b5.root).unwrap();
    voided.sort();
    let mut expected = vec![t1, t2];
    expected.sort();
    assert_eq!(voided, expected);

    // The next block pays what the 500k left covers (100k + 60k; the 350k waits), from the
    // deposits that remain.
    let p3: Transaction = deserialize(&c.tc.ledger.work(&b5).proposal.unwrap()).unwrap();
    assert!(p3
        .input
        .iter()
        .all(|i| i.previous_output != outpoint(txid_bytes(1), 0)));
    let b6 = c.tc.extend(&b5, &Content::default());
    let s6 = c.tc.ledger.state(&b6.root).unwrap();
    assert_eq!(s6.pending.len(), 1);
    assert!(s6.balance_holds());
    assert_eq!(c.tc.ledger.payouts(&b6.root).unwrap().len(), 1);

    // A restarted ledger rebuilds the same state from the stored blocks.
    let restarted = c.tc.restarted_ledger();
    let again = restarted.state(&b6.root).unwrap();
    assert_eq!(again.utxos, s6.utxos);
    assert_eq!(again.payouts, s6.payouts);
    assert_eq!(again.spent_elsewhere, s6.spent_elsewhere);
    assert_eq!(again.totals, s6.totals);
}

#[test]
fn a_spend_of_an_unspent_output_drops_it_and_no_payout_is_void() {
    let mut c = chained();
    // The 200k deposit is in no payout.
    let (_, s5) = c.declare_on_b4(outpoint(txid_bytes(3), 0));
    assert!(s5.payouts.values().all(|p| p.voided.is_none()));
    assert!(!s5.utxos.contains_key(&outpoint(txid_bytes(3), 0)));
    assert_eq!(s5.totals.spent_elsewhere, 200_000);
    assert!(s5.balance_holds());
}

#[test]
fn declared_spends_are_checked_with_typed_rejections() {
    let c = chained();
    let view = Arc::new(FixedView::default());
    let at = |op: OutPoint| declared(op, txid_bytes(99), txid_bytes(98));
    let spent = at(outpoint(txid_bytes(1), 0));
    let check = |spends: &[FederationSpend]| c.tc.ledger.check_spends(&c.b4, spends);
    let name = |op: OutPoint| op.to_string();

    // Structure, whatever the view says.
    let stranger = outpoint(txid_bytes(77), 0);
    assert_eq!(
        check(&[at(stranger)]),
        Err(PegOutRejection::NotAFederationOutput(name(stranger)))
    );
    let by_payout = declared(
        outpoint(txid_bytes(1), 0),
        B256::from(c.p1.compute_txid().to_byte_array()),
        txid_bytes(98),
    );
    assert_eq!(
        check(&[by_payout]),
        Err(PegOutRejection::SpentByPayout(name(outpoint(
            txid_bytes(1),
            0
        ))))
    );
    assert_eq!(
        check(&[spent, spent]),
        Err(PegOutRejection::DuplicateSpend(name(outpoint(
            txid_bytes(1),
            0
        ))))
    );
    // On block 3 the 300k deposit is still unspent: a federation output there too.
    assert_eq!(
        c.tc.ledger
            .check_spends(&c.b3, &[at(outpoint(txid_bytes(2), 1))]),
        Ok(())
    );

    // Against this node's Bitcoin view.
    let required = required_confirmations(&c.tc);
    c.tc.ledger.set_spend_view(view.clone());
    let unknown = check(&[spent]).unwrap_err();
    assert_eq!(
        unknown,
        PegOutRejection::SpendUnknown {
            outpoint: name(outpoint(txid_bytes(1), 0))
        }
    );
    assert!(unknown.retryable());
    view.set(&spent, required - 1);
    let shallow = check(&[spent]).unwrap_err();
    assert_eq!(
        shallow,
        PegOutRejection::SpendUnconfirmed {
            outpoint: name(outpoint(txid_bytes(1), 0)),
            confirmations: required - 1,
            required,
        }
    );
    assert!(shallow.retryable());
    view.set(&spent, required);
    assert_eq!(check(&[spent]), Ok(()));
    let other_spender = declared(outpoint(txid_bytes(1), 0), txid_bytes(55), txid_bytes(98));
    let mismatch = check(&[other_spender]).unwrap_err();
    assert_eq!(
        mismatch,
        PegOutRejection::SpendMismatch {
            outpoint: name(outpoint(txid_bytes(1), 0))
        }
    );
    for final_rule in [
        mismatch,
        PegOutRejection::NotAFederationOutput(String::new()),
        PegOutRejection::SpentByPayout(String::new()),
        PegOutRejection::DuplicateSpend(String::new()),
    ] {
        assert!(!final_rule.retryable(), "{final_rule}");
    }
}

#[test]
fn the_proposer_declares_the_spends_its_view_confirmed_and_pays_in_the_next_block() {
    let mut c = chained();
    let view = Arc::new(FixedView::default());
    c.tc.ledger.set_spend_view(view.clone());
    let b4 = c.b4.clone();
    // A new burn, so a payout is due on b5.
    let to = addresses(3, Network::Regtest);
    let receipts = c.tc.burn_receipts(&[Burn::new(ALICE, &to[0], 50_000)]);
    let b5 = c.tc.extend(
        &b4,
        &Content {
            receipts,
            ..Default::default()
        },
    );
    let spent = declared(outpoint(txid_bytes(3), 0), txid_bytes(99), txid_bytes(98));
    let required = required_confirmations(&c.tc);
    view.set(&spent, required - 1);
    let work = c.tc.ledger.work(&b5);
    assert!(
        work.spends.is_empty(),
        "one confirmation short: not declared yet"
    );
    assert!(work.proposal.is_some());
    // A spend by one of the chain's payouts is never declared.
    let p1_spend = declared(
        outpoint(txid_bytes(1), 0),
        B256::from(c.p1.compute_txid().to_byte_array()),
        txid_bytes(97),
    );
    view.set(&p1_spend, required + 4);
    view.set(&spent, required);
    let work = c.tc.ledger.work(&b5);
    assert_eq!(work.spends, vec![spent]);
    assert_eq!(work.proposal, None, "the payout waits for the next block");
    let b6 = c.tc.extend(&b5, &Content::default());
    let s6 = c.tc.ledger.state(&b6.root).unwrap();
    assert!(s6.spent_elsewhere.contains_key(&outpoint(txid_bytes(3), 0)));
    assert!(c.tc.ledger.work(&b6).spends.is_empty(), "declared once");
    let p: Transaction = deserialize(&c.tc.ledger.work(&b6).proposal.unwrap()).unwrap();
    assert!(p
        .input
        .iter()
        .all(|i| i.previous_output != outpoint(txid_bytes(3), 0)));
    let b7 = c.tc.extend(&b6, &Content::default());
    let s7 = c.tc.ledger.state(&b7.root).unwrap();
    assert!(s7.pending.is_empty());
    assert!(s7.balance_holds());
}
