//! The peg-out ledger (`alys_federation::pegout::Ledger`) driven through its consensus seam,
//! `PegOutLedger`, exactly as consensus calls it: `work(parent)` for the proposer,
//! `expected_refunds(parent)` and `check_proposal(parent, proposal)` for validation,
//! `imported(parent, root, block, refunds, receipts)` on import. Blocks are real
//! `ConsensusBlock`s whose withdrawals are computed by `alys_consensus::validate::
//! block_withdrawals` (peg-in mints, then the refunds that fit); burns are real `RequestPegOut`
//! logs in `TransactionReceipt`s; the ledger reads blocks from an in-memory `LedgerChain` and
//! keeps burns in a temporary LevelDB `Store`. Nothing of the ledger is mocked.
//!
//! - the rules a payout proposal must pass, each broken alone with its exact
//!   `PegOutRejection`;
//! - refunds: which burns become refunds, in what order they are minted, how many per block;
//! - a randomized chain with sidechain forks (`common/peg_model.rs`), checked after every block
//!   against an independent model and the peg invariants (DESIGN §12.1–3), then rebuilt by a
//!   restarted ledger.
//!
//! Peg-ins are given directly in the blocks here; `tests/peg_reorgs.rs` drives the same model
//! with peg-ins from the Bitcoin follower through Bitcoin reorgs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;
#[path = "common/ledger_chain.rs"]
mod ledger_chain;
#[path = "common/peg_model.rs"]
mod peg_model;

use alys_consensus::pegout::{PegOutLedger, PegOutRejection, Refund, MAX_REFUNDS_PER_BLOCK};
use alys_consensus::validate::refunds_in_block;
use alys_consensus::BlockInfo;
use alys_federation::bitcoin::consensus::{deserialize, serialize};
use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::{Amount, Network, OutPoint, Transaction, Txid};
use alys_federation::pegout::{payout_batch, Ledger, RequestState};
use alys_federation::{build_payout, PayoutRequest, RefundReason, Utxo};
use alys_primitives::{Address, Sats, B256};
use alys_test_utils::seed::seeded_rng;
use common::bad_payouts::{change_elsewhere, fee_above_cap, foreign_input, unrequested_output};
use ledger_chain::{
    addresses, pegin, receipt, request_log, three_deposits, Burn, Content, TestChain,
};
use peg_model::{assert_same_states, assert_settled, RandomChain, MIN};
use rand::Rng;

const ALICE: Address = Address::repeat_byte(0xa1);
const BOB: Address = Address::repeat_byte(0xb0);
const CAROL: Address = Address::repeat_byte(0xc4);

fn txid_bytes(n: u64) -> B256 {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&n.to_be_bytes());
    h[31] = 0xd0;
    B256::from(h)
}

fn outpoint_of(txid: B256, vout: u32) -> OutPoint {
    OutPoint::new(Txid::from_byte_array(txid.0), vout)
}

/// The requests of the next payout on top of `parent`, in payout order.
fn batch(ledger: &Ledger, parent: &BlockInfo) -> Vec<PayoutRequest> {
    let state = ledger.state(&parent.root).unwrap();
    payout_batch(&state)
        .iter()
        .map(|k| state.pending.get(k).unwrap().payout_request())
        .collect()
}

/// A chain with deposits of 500k, 300k and 200k sats (block 1) and two burns to regtest
/// addresses, 100k and 60k sats (block 2): the proposer's payout on block 2 pays both from the
/// 500k UTXO with change.
struct Funded {
    tc: TestChain,
    b1: BlockInfo,
    b2: BlockInfo,
    valid: Vec<u8>,
    _dir: tempfile::TempDir,
}

fn funded() -> Funded {
    let dir = tempfile::tempdir().unwrap();
    let mut tc = TestChain::new(dir.path());
    let g = tc.genesis.clone();
    let b1 = tc.extend(&g, &three_deposits(txid_bytes, ALICE, BOB));
    let regtest_a = &addresses(2, Network::Regtest)[0];
    let regtest_b = &addresses(3, Network::Regtest)[1];
    let receipts = tc.burn_receipts(&[
        Burn::new(ALICE, regtest_a, 100_000),
        Burn::new(BOB, regtest_b, 60_000),
    ]);
    let b2 = tc.extend(
        &b1,
        &Content {
            receipts,
            ..Default::default()
        },
    );
    let valid = tc.ledger.work(&b2).proposal.expect("a payout is due");
    Funded {
        tc,
        b1,
        b2,
        valid,
        _dir: dir,
    }
}

fn decode(bytes: &[u8]) -> Transaction {
    deserialize(bytes).unwrap()
}

/// `check_proposal` of the transaction `tx` on `parent`.
fn check(f: &Funded, parent: &BlockInfo, tx: &Transaction) -> Result<(), PegOutRejection> {
    f.tc.ledger.check_proposal(parent, Some(&serialize(tx)))
}

#[test]
fn the_proposers_payout_is_accepted_and_imported() {
    let mut f = funded();
    let tx = decode(&f.valid);
    // Two requests in chain order, then the change of the 500k input.
    assert_eq!(tx.input.len(), 1);
    assert_eq!(tx.input[0].previous_output, outpoint_of(txid_bytes(1), 0));
    assert_eq!(tx.output.len(), 3);
    assert_eq!(tx.output[2].value.to_sat(), 500_000 - 160_000);
    assert_eq!(
        tx.output[2].script_pubkey,
        *f.tc.ledger.federation().script_pubkey()
    );
    assert_eq!(f.tc.ledger.check_proposal(&f.b2, Some(&f.valid)), Ok(()));
    // No proposal is always acceptable to the ledger (a proposer without a Bitcoin view).
    assert_eq!(f.tc.ledger.check_proposal(&f.b2, None), Ok(()));
    // A payout built at another whole rate within floor and cap is as valid: every node
    // rebuilds at the proposal's rate.
    let requests = batch(&f.tc.ledger, &f.b2);
    let state = f.tc.ledger.state(&f.b2.root).unwrap();
    for rate in [2, 37, f.tc.ledger.fee_cap()] {
        let p = build_payout(
            f.tc.ledger.federation(),
            &state.utxo_list(),
            &requests,
            rate,
        )
        .unwrap();
        assert_eq!(check(&f, &f.b2, &p.tx), Ok(()), "rate {rate}");
    }
    let b2 = f.b2.clone();
    let b3 = f.tc.extend(&b2, &Content::default());
    let after = f.tc.ledger.state(&b3.root).unwrap();
    assert!(after.pending.is_empty());
    assert_eq!(after.payouts.len(), 1);
    let txid = tx.compute_txid();
    for record in after.requests.values() {
        assert_eq!(
            record.state,
            RequestState::Proposed {
                txid,
                block: b3.root
            }
        );
    }
    assert!(after.utxos.contains_key(&OutPoint::new(txid, 2)));
    assert!(!after.utxos.contains_key(&outpoint_of(txid_bytes(1), 0)));
    assert!(after.balance_holds());
}

#[test]
fn an_unrequested_extra_output_is_rejected() {
    let f = funded();
    // 1,000 sats taken from the change to a third party.
    let bad = unrequested_output(&decode(&f.valid), 2);
    assert_eq!(bad.tx.output[2].value.to_sat(), 340_000 - 1_000);
    assert_eq!(
        check(&f, &f.b2, &bad.tx),
        Err(PegOutRejection::UnrequestedOutput { index: 3 })
    );
}

#[test]
fn change_sent_elsewhere_is_rejected() {
    let f = funded();
    let bad = change_elsewhere(&decode(&f.valid), 2);
    assert_eq!(
        check(&f, &f.b2, &bad.tx),
        Err(PegOutRejection::ChangeElsewhere { index: 2 })
    );
}

#[test]
fn more_change_than_the_inputs_leave_is_rejected() {
    let f = funded();
    let mut tx = decode(&f.valid);
    tx.output[2].value = Amount::from_sat(340_001);
    assert_eq!(
        check(&f, &f.b2, &tx),
        Err(PegOutRejection::ChangeMismatch {
            expected: Some(340_000),
            got: Some(340_001)
        })
    );
}

#[test]
fn a_fee_above_the_cap_is_rejected() {
    let f = funded();
    let cap = f.tc.ledger.fee_cap();
    assert_eq!(
        cap, 100,
        "dev spec: maxPegOutFeeRate unset, the default cap"
    );
    let requests = batch(&f.tc.ledger, &f.b2);
    let state = f.tc.ledger.state(&f.b2.root).unwrap();
    let bad = fee_above_cap(f.tc.ledger.federation(), &state.utxo_list(), &requests, cap);
    assert_eq!(
        check(&f, &f.b2, &bad.tx),
        Err(PegOutRejection::FeeAboveCap { rate: cap + 1, cap })
    );
    // And a payout that pays no fee at all is below the floor.
    let p = build_payout(f.tc.ledger.federation(), &state.utxo_list(), &requests, 0).unwrap();
    assert_eq!(
        check(&f, &f.b2, &p.tx),
        Err(PegOutRejection::FeeBelowFloor { rate: 0, floor: 1 })
    );
}

#[test]
fn an_input_that_is_not_a_federation_utxo_is_rejected() {
    let f = funded();
    let foreign = outpoint_of(txid_bytes(99), 0);
    let bad = foreign_input(&decode(&f.valid), foreign);
    assert_eq!(
        check(&f, &f.b2, &bad.tx),
        Err(PegOutRejection::UnknownInput(foreign.to_string()))
    );
    // A deposit not minted yet on this chain is not a UTXO either: block 1's UTXOs on
    // genesis.
    let tx = decode(&f.valid);
    assert_eq!(
        check(&f, &f.tc.genesis, &tx),
        Err(PegOutRejection::UnknownInput(
            outpoint_of(txid_bytes(1), 0).to_string()
        ))
    );
}

#[test]
fn a_duplicate_input_is_rejected() {
    let f = funded();
    let mut tx = decode(&f.valid);
    let again = tx.input[0].clone();
    tx.input.push(again);
    assert_eq!(
        check(&f, &f.b2, &tx),
        Err(PegOutRejection::DuplicateInput(
            outpoint_of(txid_bytes(1), 0).to_string()
        ))
    );
}

#[test]
fn a_payout_with_nothing_pending_is_rejected() {
    let f = funded();
    // Block 1 holds the UTXOs the payout spends but no request yet.
    assert_eq!(
        f.tc.ledger.check_proposal(&f.b1, Some(&f.valid)),
        Err(PegOutRejection::NothingToPay)
    );
    assert_eq!(f.tc.ledger.work(&f.b1).proposal, None);
}

#[test]
fn undecodable_bytes_are_rejected() {
    let f = funded();
    for bytes in [
        &[][..],
        &[0xde, 0xad, 0xbe, 0xef][..],
        &f.valid[..f.valid.len() - 1],
    ] {
        assert!(
            matches!(
                f.tc.ledger.check_proposal(&f.b2, Some(bytes)),
                Err(PegOutRejection::Undecodable(_))
            ),
            "{bytes:?}"
        );
    }
}

#[test]
fn a_valid_rate_payout_of_another_order_subset_or_selection_is_rejected() {
    let f = funded();
    let ledger = &f.tc.ledger;
    let requests = batch(ledger, &f.b2);
    assert_eq!(requests.len(), 2);
    let state = ledger.state(&f.b2.root).unwrap();
    let utxos = state.utxo_list();
    let fed = ledger.federation();
    // Requests in reverse order: output 0 pays the second request's address.
    let reversed: Vec<_> = requests.iter().rev().cloned().collect();
    let p = build_payout(fed, &utxos, &reversed, 1).unwrap();
    assert_eq!(
        check(&f, &f.b2, &p.tx),
        Err(PegOutRejection::AddressMismatch { index: 0 })
    );
    // Only the first request: output 1 is the change where the second request's output is due.
    let p = build_payout(fed, &utxos, &requests[..1], 1).unwrap();
    assert_eq!(
        check(&f, &f.b2, &p.tx),
        Err(PegOutRejection::AddressMismatch { index: 1 })
    );
    // Only the second request.
    let p = build_payout(fed, &utxos, &requests[1..], 1).unwrap();
    assert_eq!(
        check(&f, &f.b2, &p.tx),
        Err(PegOutRejection::AddressMismatch { index: 0 })
    );
    // The right requests at the right rate from another coin selection (the 300k UTXO
    // instead of the 500k one): the signing policy holds, but it is not the payout every node
    // builds.
    let without_largest: Vec<Utxo> = utxos
        .iter()
        .filter(|u| u.outpoint != outpoint_of(txid_bytes(1), 0))
        .copied()
        .collect();
    let p = build_payout(fed, &without_largest, &requests, 1).unwrap();
    let expected = decode(&f.valid).compute_txid();
    assert_eq!(
        check(&f, &f.b2, &p.tx),
        Err(PegOutRejection::Differs {
            expected: expected.to_string(),
            got: p.tx.compute_txid().to_string(),
        })
    );
}

#[test]
fn an_output_paying_more_than_requested_is_rejected() {
    let f = funded();
    let mut tx = decode(&f.valid);
    tx.output[0].value = Amount::from_sat(100_001);
    assert_eq!(
        check(&f, &f.b2, &tx),
        Err(PegOutRejection::AmountMismatch {
            index: 0,
            expected: Sats(100_000),
            got: Sats(100_001)
        })
    );
    // More than its share of the fee allows, less than requested: the fee split is checked.
    let mut tx = decode(&f.valid);
    let due = tx.output[1].value.to_sat();
    tx.output[1].value = Amount::from_sat(due + 1);
    assert!(
        matches!(
            check(&f, &f.b2, &tx),
            Err(PegOutRejection::AmountMismatch { .. } | PegOutRejection::Differs { .. })
        ),
        "{:?}",
        check(&f, &f.b2, &tx)
    );
}

/// A block that mints deposits and carries a payout: the payout pays the batch of the
/// parent's state (what `check_proposal` validated), not a larger batch the block's own
/// deposits would allow; the change stays a federation UTXO and the request left out stays
/// pending.
#[test]
fn a_payout_next_to_new_deposits_pays_the_parents_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut tc = TestChain::new(dir.path());
    let g = tc.genesis.clone();
    let b1 = tc.extend(
        &g,
        &Content {
            pegins: vec![pegin(txid_bytes(1), 0, 100_000, ALICE)],
            ..Default::default()
        },
    );
    let regtest = addresses(2, Network::Regtest);
    let receipts = tc.burn_receipts(&[
        Burn::new(ALICE, &regtest[0], 80_000),
        Burn::new(BOB, &regtest[1], 50_000),
    ]);
    let b2 = tc.extend(
        &b1,
        &Content {
            receipts,
            ..Default::default()
        },
    );
    // Only the first request fits the 100k UTXO.
    assert_eq!(batch(&tc.ledger, &b2).len(), 1);
    let b3 = tc.extend(
        &b2,
        &Content {
            pegins: vec![pegin(txid_bytes(2), 0, 500_000, BOB)],
            ..Default::default()
        },
    );
    let s3 = tc.ledger.state(&b3.root).unwrap();
    let record = s3.payouts.values().next().expect("b3 proposed a payout");
    assert_eq!(record.requests.len(), 1);
    assert_eq!(record.tx.output.len(), 2, "one request and the change");
    let change = OutPoint::new(record.tx.compute_txid(), 1);
    assert_eq!(
        s3.utxos.get(&change),
        Some(&Sats(record.tx.output[1].value.to_sat())),
        "the change is a federation UTXO"
    );
    assert_eq!(s3.pending.len(), 1, "the second request is still pending");
    assert!(s3.balance_holds());
    // The next block pays it.
    let b4 = tc.extend(&b3, &Content::default());
    let s4 = tc.ledger.state(&b4.root).unwrap();
    assert!(s4.pending.is_empty());
    assert_eq!(s4.payouts.len(), 2);
    assert!(s4.balance_holds());
}

/// A mainnet burn and a below-minimum burn become refunds due with their reasons, listed
/// oldest first, and a block minting them moves them to `Refunded`; a `RequestPegOut` emitted
/// by another contract than the Bridge is ignored.
#[test]
fn bad_burns_are_refunded_oldest_first_and_foreign_logs_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut tc = TestChain::new(dir.path());
    let g = tc.genesis.clone();
    let mainnet = addresses(4, Network::Bitcoin)[0].clone();
    let regtest = addresses(4, Network::Regtest)[1].clone();
    let mut receipts = tc.burn_receipts(&[
        Burn::new(ALICE, &mainnet, 50_000),
        Burn::new(BOB, &regtest, MIN - 1),
        Burn::new(CAROL, &regtest, 20_000),
    ]);
    // The same event from an impostor contract (and from an impostor next to a real one).
    let fake = Burn::new(CAROL, &regtest, 900_000);
    let impostor = Address::repeat_byte(0x66);
    let fake_hash = tc.tx_hash();
    receipts.push(receipt(fake_hash, vec![(impostor, request_log(&fake))]));
    let b1 = tc.extend(
        &g,
        &Content {
            receipts: receipts.clone(),
            ..Default::default()
        },
    );
    let s1 = tc.ledger.state(&b1.root).unwrap();
    assert_eq!(s1.requests.len(), 3, "the impostor's log is not a request");
    assert_eq!(s1.totals.burned, 50_000 + MIN - 1 + 20_000);
    assert_eq!(s1.pending.len(), 1);
    assert_eq!(s1.refunds.len(), 2);
    let reasons: Vec<_> = s1.refunds.values().map(|r| r.reason.clone()).collect();
    assert_eq!(
        reasons,
        vec![
            RefundReason::WrongNetwork {
                address: mainnet.clone(),
                network: Network::Regtest
            },
            RefundReason::BelowMinimum {
                amount: Sats(MIN - 1),
                min: Sats(MIN)
            }
        ]
    );
    let alice_key = (receipts[0].transaction_hash, 0);
    assert_eq!(
        s1.requests.get(&alice_key).unwrap().state,
        RequestState::RefundDue(reasons[0].clone())
    );
    let due = tc.ledger.expected_refunds(&b1).unwrap();
    assert_eq!(
        due,
        vec![
            Refund {
                recipient: ALICE,
                amount: Sats(50_000)
            },
            Refund {
                recipient: BOB,
                amount: Sats(MIN - 1)
            }
        ]
    );
    assert_eq!(tc.ledger.work(&b1).refunds, due);
    assert!(s1.balance_holds());

    // The next block mints both (no deposits: the payload has room); exact to the wei.
    let block = tc.propose(&b1, &Content::default());
    let refunds: Vec<_> = block
        .execution_payload
        .engine_withdrawals()
        .into_iter()
        .filter(|w| w.validator_index == alys_consensus::pegout::REFUND_VALIDATOR_INDEX)
        .collect();
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[0].address, ALICE);
    assert_eq!(
        u128::from(refunds[0].amount) * 1_000_000_000,
        50_000u128 * 10_000_000_000
    );
    assert_eq!(refunds[1].address, BOB);
    tc.validate(&b1, &block).unwrap();
    let b2 = tc.import(&b1, block, &[]).unwrap();
    let s2 = tc.ledger.state(&b2.root).unwrap();
    assert!(s2.refunds.is_empty());
    assert_eq!(s2.totals.refunded, 50_000 + MIN - 1);
    assert_eq!(
        s2.requests.get(&alice_key).unwrap().state,
        RequestState::Refunded {
            reason: reasons[0].clone(),
            block: b2.root
        }
    );
    assert_eq!(tc.ledger.expected_refunds(&b2).unwrap(), vec![]);
    assert!(s2.balance_holds());
    // The sibling of b2 that does not mint them still owes them (state per block).
    assert_eq!(tc.ledger.expected_refunds(&b1).unwrap().len(), 2);
}

/// At most `MAX_REFUNDS_PER_BLOCK` refunds per block, and fewer when the peg-in mints leave
/// the payload less room (`refunds_in_block`); the rest wait, in order.
#[test]
fn refunds_are_capped_per_block_and_by_payload_room() {
    let dir = tempfile::tempdir().unwrap();
    let mut tc = TestChain::new(dir.path());
    let g = tc.genesis.clone();
    let mainnet = addresses(5, Network::Bitcoin);
    let burns: Vec<Burn> = (0..7u8)
        .map(|i| {
            Burn::new(
                Address::repeat_byte(0x10 + i),
                &mainnet[usize::from(i) % 4],
                MIN + u64::from(i),
            )
        })
        .collect();
    let receipts = tc.burn_receipts(&burns);
    let b1 = tc.extend(
        &g,
        &Content {
            receipts,
            ..Default::default()
        },
    );
    let senders = |due: &[Refund]| due.iter().map(|r| r.recipient).collect::<Vec<_>>();
    let all: Vec<Address> = burns.iter().map(|b| b.sender).collect();
    let due = tc.ledger.expected_refunds(&b1).unwrap();
    assert_eq!(due.len(), MAX_REFUNDS_PER_BLOCK);
    assert_eq!(senders(&due), all[..4]);

    // A full payload (16 peg-in mints to distinct addresses) has no room for any refund.
    let full: Vec<_> = distinct_pegins(100, 16, 0x80);
    assert_eq!(refunds_in_block(7, 16, 0), 0);
    let stuck = tc.extend(
        &b1,
        &Content {
            pegins: full,
            ..Default::default()
        },
    );
    assert_eq!(tc.ledger.state(&stuck.root).unwrap().refunds.len(), 7);

    // An empty block mints four.
    let b2 = tc.extend(&b1, &Content::default());
    assert_eq!(senders(&tc.ledger.expected_refunds(&b2).unwrap()), all[4..]);
    // Fourteen mints leave room for two.
    let pegins: Vec<_> = distinct_pegins(200, 14, 0x90);
    assert_eq!(refunds_in_block(3, 14, 0), 2);
    let block = tc.propose(
        &b2,
        &Content {
            pegins: pegins.clone(),
            ..Default::default()
        },
    );
    assert_eq!(ledger_chain::refunds_of(&block), 2);
    tc.validate(&b2, &block).unwrap();
    let b3 = tc.import(&b2, block, &[]).unwrap();
    assert_eq!(senders(&tc.ledger.expected_refunds(&b3).unwrap()), all[6..]);
    let b4 = tc.extend(&b3, &Content::default());
    let s4 = tc.ledger.state(&b4.root).unwrap();
    assert!(s4.refunds.is_empty());
    assert_eq!(
        s4.totals.refunded,
        burns.iter().map(|b| b.sats).sum::<u64>()
    );
    assert!(s4
        .requests
        .values()
        .all(|r| matches!(r.state, RequestState::Refunded { .. })));
    assert!(s4.balance_holds());
}

/// A tree of a few hundred blocks with random deposits, burns and fee rates, built on the
/// newest block or, now and then, on an older one (a sidechain reorg). Every block's content
/// comes from `work()`, passes `expected_refunds`/`check_proposal` at its parent and is
/// imported with `imported`; after every block its state matches an independent model and the
/// invariants hold: balance (§12.3), nothing leaves the federation but requested payouts and
/// change (§12.2), no request in two payouts of one chain. At the end a restarted ledger (no
/// cached state) rebuilds the same state for several heads from the stored blocks and burns.
#[test]
fn random_forks_keep_the_peg_balanced_and_a_restart_rebuilds_the_same_state() {
    let mut rng = seeded_rng("pegout_ledger random forks");
    let dir = tempfile::tempdir().unwrap();
    let mut tc = TestChain::new(dir.path());
    let mut rc = RandomChain::new(&tc);
    let mut deposits = 0u64;
    let mut forks = 0;
    const BLOCKS: usize = 500;
    for n in 0..BLOCKS {
        let parent = if n > 10 && rng.gen_bool(0.08) {
            forks += 1;
            let back = rng.gen_range(1..rc.blocks.len().min(12));
            rc.blocks[rc.blocks.len() - 1 - back].clone()
        } else {
            rc.head.clone()
        };
        let mut pegins = Vec::new();
        if rng.gen_bool(0.4) {
            for _ in 0..rng.gen_range(1..=4) {
                deposits += 1;
                pegins.push(pegin(
                    txid_bytes(deposits),
                    rng.gen_range(0..3),
                    rng.gen_range(10_000..=2_000_000),
                    Address::repeat_byte(rng.gen_range(0x20..0x24)),
                ));
            }
        }
        let (content, burns) = rc.random_content(&mut tc, &mut rng, pegins);
        let ctx = format!("block {n} (height {}, {forks} forks)", parent.height + 1);
        let block = rc.propose(&mut tc, &parent, &content, &ctx);
        rc.import(&mut tc, &parent, block, &content, &burns, &ctx);
    }
    let (payouts, refunded) = (rc.payouts, rc.refunded);
    println!("{BLOCKS} blocks, {forks} forks, {payouts} payouts, {refunded} refunds minted");
    assert!(forks > 5, "the run built {forks} forks");
    assert!(
        payouts > BLOCKS / 10 && refunded > 5,
        "{payouts} payouts, {refunded} refunds"
    );

    // Drain: a large deposit and a few empty blocks pay every request and mint every refund.
    tc.ledger.set_fee_rate(1);
    let head = rc.head.clone();
    let mut tip = tc.extend(
        &head,
        &Content {
            pegins: vec![pegin(txid_bytes(u64::MAX), 0, 500_000_000, ALICE)],
            ..Default::default()
        },
    );
    for _ in 0..20 {
        let s = tc.ledger.state(&tip.root).unwrap();
        if s.pending.is_empty() && s.refunds.is_empty() {
            break;
        }
        tip = tc.extend(&tip, &Content::default());
    }
    assert_settled(&tc.ledger.state(&tip.root).unwrap());

    // A restarted node: a fresh ledger over the same blocks and stored burns rebuilds every
    // state by walking back to genesis.
    let restarted = tc.restarted_ledger();
    let mut heads = vec![tip.clone(), head.clone()];
    for _ in 0..5 {
        heads.push(rc.blocks[rng.gen_range(1..rc.blocks.len())].clone());
    }
    assert_same_states(&tc.ledger, &restarted, &heads);
    // A block the chain does not hold has no state.
    let unknown = B256::repeat_byte(0x42);
    assert_eq!(
        restarted.state(&unknown).err(),
        Some(PegOutRejection::UnknownState(unknown))
    );
}

/// `n` peg-ins of 20,000 sats to distinct recipients (one mint each): txids from `first_txid`,
/// recipients `repeat_byte(first_byte + i)`.
fn distinct_pegins(first_txid: u64, n: u64, first_byte: u8) -> Vec<alys_primitives::PegIn> {
    (0..n)
        .map(|i| {
            pegin(
                txid_bytes(first_txid + i),
                0,
                20_000,
                Address::repeat_byte(first_byte + i as u8),
            )
        })
        .collect()
}
