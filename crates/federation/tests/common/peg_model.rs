//! The randomized peg chain shared by `tests/pegout_ledger.rs` (peg-ins given directly) and
//! `tests/peg_reorgs.rs` (peg-ins from the Bitcoin follower): random burns and fee rates, blocks
//! proposed by the ledger, validated and imported as consensus does, each block's state checked
//! against an independent [`Model`] and the peg invariants (DESIGN §12.1–3), and the comparison
//! of a restarted ledger with the running one. Needs `mod ledger_chain` beside it.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;

use alys_consensus::pegout::PegOutLedger;
use alys_consensus::BlockInfo;
use alys_federation::bitcoin::consensus::{deserialize, serialize};
use alys_federation::bitcoin::{Network, OutPoint, Transaction};
use alys_federation::pegout::{payout_batch, Ledger, PegOutState, RequestKey};
use alys_federation::RequestId;
use alys_primitives::{Address, ConsensusBlock, PegIn, B256};
use imbl::{OrdMap, OrdSet};
use rand::rngs::StdRng;
use rand::Rng;

use crate::ledger_chain::{self, addresses, Burn, Content, TestChain};

/// Minimum peg-out of the dev spec (`minPegOutSats` unset: the Bridge's default).
pub const MIN: u64 = alys_primitives::DEFAULT_MIN_PEG_OUT_SATS.0;

/// The outpoint of a peg-in.
pub fn outpoint_of(p: &PegIn) -> OutPoint {
    use alys_federation::bitcoin::hashes::Hash;
    OutPoint::new(
        alys_federation::bitcoin::Txid::from_byte_array(p.txid.0),
        p.vout,
    )
}

/// What the test expects of a block's state, computed without the ledger: UTXOs from the
/// deposits and payouts of the chain, pending requests and refunds from the generated burns.
#[derive(Clone, Default)]
pub struct Model {
    /// Federation UTXOs.
    pub utxos: OrdMap<OutPoint, u64>,
    /// Requests waiting for a payout.
    pub pending: OrdMap<RequestKey, u64>,
    /// Refunds due.
    pub refunds: OrdMap<RequestKey, u64>,
    /// Requests put in a payout on this chain.
    pub paid: OrdSet<RequestId>,
    /// Payouts proposed on this chain.
    pub payouts: usize,
    /// Deposit outputs minted on this chain.
    pub minted: OrdSet<OutPoint>,
}

/// A random burn: mostly to a regtest address of one of four kinds, sometimes to a mainnet one
/// (refunded), now and then below the minimum (refunded); `true` when it is payable.
pub fn random_burn(rng: &mut StdRng, regtest: &[String], mainnet: &[String]) -> (Burn, bool) {
    let sender = Address::repeat_byte(rng.gen_range(1..=8));
    let sats = if rng.gen_bool(0.8) {
        rng.gen_range(MIN..200_000)
    } else {
        rng.gen_range(200_000..3_000_000)
    };
    if rng.gen_bool(0.12) {
        let a = &mainnet[rng.gen_range(0..mainnet.len())];
        (Burn::new(sender, a, sats), false)
    } else if rng.gen_bool(0.05) {
        let a = &regtest[rng.gen_range(0..regtest.len())];
        (Burn::new(sender, a, rng.gen_range(1..MIN)), false)
    } else {
        let a = &regtest[rng.gen_range(0..regtest.len())];
        (Burn::new(sender, a, sats), true)
    }
}

/// Checks the state of a block against the model and the invariants.
fn check_state(state: &PegOutState, model: &Model, ctx: &str) {
    assert!(
        state.balance_holds(),
        "{ctx}: balance does not hold: {:?}",
        state.totals
    );
    let t = state.totals;
    assert!(
        t.minted >= t.paid + t.fees,
        "{ctx}: more left the federation than came in: {t:?}"
    );
    assert_eq!(
        state.utxo_total().0,
        t.minted - t.paid - t.fees,
        "{ctx}: UTXO total"
    );
    let utxos: OrdMap<OutPoint, u64> = state.utxos.iter().map(|(o, v)| (*o, v.0)).collect();
    assert_eq!(utxos, model.utxos, "{ctx}: UTXOs");
    let pending: OrdMap<RequestKey, u64> = state
        .pending
        .iter()
        .map(|(k, r)| (*k, r.amount.0))
        .collect();
    assert_eq!(pending, model.pending, "{ctx}: pending requests");
    let refunds: OrdMap<RequestKey, u64> = state
        .refunds
        .iter()
        .map(|(k, r)| (*k, r.amount.0))
        .collect();
    assert_eq!(refunds, model.refunds, "{ctx}: refunds due");
    assert_eq!(state.payouts.len(), model.payouts, "{ctx}: payouts");
    let in_payouts: usize = state.payouts.values().map(|p| p.requests.len()).sum();
    assert_eq!(in_payouts, model.paid.len(), "{ctx}: a request paid twice");
}

/// The model's child: `block`'s mints, refunds, payout (decoded by the test) and burns.
fn model_child(
    parent: &Model,
    tc: &TestChain,
    parent_state: &PegOutState,
    height: u64,
    block: &ConsensusBlock,
    burns: &[(Burn, bool)],
    ctx: &str,
) -> Model {
    let mut m = parent.clone();
    for p in block.pegins.iter() {
        let o = outpoint_of(p);
        assert!(
            m.minted.insert(o).is_none(),
            "{ctx}: deposit output {o} minted twice on this chain"
        );
        m.utxos.insert(o, p.sats);
    }
    for _ in 0..ledger_chain::refunds_of(block) {
        let first = *m
            .refunds
            .keys()
            .next()
            .expect("a refund minted that is due");
        m.refunds.remove(&first);
    }
    if let Some(bytes) = block.pegout_proposal.as_ref() {
        let tx: Transaction = deserialize(&bytes[..]).unwrap();
        let fed = tc.ledger.federation().script_pubkey().clone();
        let mut inputs = 0u64;
        for input in &tx.input {
            inputs += m
                .utxos
                .remove(&input.previous_output)
                .unwrap_or_else(|| panic!("{ctx}: payout spends a non-UTXO"));
        }
        let batch = payout_batch(parent_state);
        // §12.2: outputs pay the requests (never more than requested) and the change goes
        // back to the federation.
        let mut outputs = 0u64;
        for (i, out) in tx.output.iter().enumerate() {
            outputs += out.value.to_sat();
            match batch.get(i) {
                Some(key) => {
                    let req = parent_state.pending.get(key).unwrap();
                    assert_eq!(out.script_pubkey, req.address.script_pubkey(), "{ctx}");
                    assert!(out.value.to_sat() <= req.amount.0, "{ctx}");
                    assert!(m.pending.remove(key).is_some(), "{ctx}: not pending");
                    assert!(
                        m.paid.insert(req.id).is_none(),
                        "{ctx}: request {:?} paid twice on this chain",
                        req.id
                    );
                }
                None => {
                    assert_eq!(i, batch.len(), "{ctx}: one change output at most");
                    assert_eq!(out.script_pubkey, fed, "{ctx}: change elsewhere");
                    m.utxos.insert(
                        OutPoint::new(tx.compute_txid(), i as u32),
                        out.value.to_sat(),
                    );
                }
            }
        }
        assert!(outputs <= inputs, "{ctx}: outputs exceed inputs");
        m.payouts += 1;
    }
    for (index, (burn, payable)) in burns.iter().enumerate() {
        let key = (height, index as u64);
        if *payable {
            m.pending.insert(key, burn.sats);
        } else {
            m.refunds.insert(key, burn.sats);
        }
    }
    m
}

/// A randomized sidechain over a [`TestChain`]: every imported block with its model.
pub struct RandomChain {
    /// The model of every imported block.
    pub models: HashMap<B256, Model>,
    /// Every imported block, in import order (genesis first).
    pub blocks: Vec<BlockInfo>,
    /// The last imported block.
    pub head: BlockInfo,
    /// Payout proposals imported.
    pub payouts: usize,
    /// Refund withdrawals imported.
    pub refunded: usize,
    regtest: Vec<String>,
    mainnet: Vec<String>,
}

impl RandomChain {
    /// Only the genesis of `tc`.
    pub fn new(tc: &TestChain) -> Self {
        let mut models = HashMap::new();
        models.insert(tc.genesis.root, Model::default());
        Self {
            models,
            blocks: vec![tc.genesis.clone()],
            head: tc.genesis.clone(),
            payouts: 0,
            refunded: 0,
            regtest: (1..=4)
                .flat_map(|s| addresses(s, Network::Regtest))
                .collect(),
            mainnet: addresses(5, Network::Bitcoin),
        }
    }

    /// The content of a block minting `pegins`: in half the blocks 1–4 random burns; now and
    /// then the proposer's fee rate changes.
    pub fn random_content(
        &self,
        tc: &mut TestChain,
        rng: &mut StdRng,
        pegins: Vec<PegIn>,
    ) -> (Content, Vec<(Burn, bool)>) {
        if rng.gen_bool(0.1) {
            tc.ledger.set_fee_rate(rng.gen_range(1..=150));
        }
        let mut burns = Vec::new();
        if rng.gen_bool(0.5) {
            for _ in 0..rng.gen_range(1..=4) {
                burns.push(random_burn(rng, &self.regtest, &self.mainnet));
            }
        }
        let plain: Vec<Burn> = burns.iter().map(|(b, _)| b.clone()).collect();
        let content = Content {
            pegins,
            receipts: tc.burn_receipts(&plain),
            ..Default::default()
        };
        (content, burns)
    }

    /// The proposer's block on `parent` with `content`, valid for the ledger (expected refunds,
    /// payout proposal) as a validator checks it.
    pub fn propose(
        &mut self,
        tc: &mut TestChain,
        parent: &BlockInfo,
        content: &Content,
        ctx: &str,
    ) -> ConsensusBlock {
        let block = tc.propose(parent, content);
        tc.validate(parent, &block)
            .unwrap_or_else(|e| panic!("{ctx}: proposer's block invalid: {e}"));
        block
    }

    /// Imports `block` (child of `parent`, carrying `burns` in `content`'s receipts), makes it
    /// the head, and checks its state against its model and the invariants: balance (§12.3),
    /// nothing leaves the federation but requested payouts and change (§12.2), no request in
    /// two payouts and no deposit output minted twice on one chain (§12.1), and its payout
    /// passes `check_proposal` at its parent.
    pub fn import(
        &mut self,
        tc: &mut TestChain,
        parent: &BlockInfo,
        block: ConsensusBlock,
        content: &Content,
        burns: &[(Burn, bool)],
        ctx: &str,
    ) -> BlockInfo {
        self.payouts += usize::from(block.pegout_proposal.is_some());
        self.refunded += ledger_chain::refunds_of(&block);
        let parent_state = tc.ledger.state(&parent.root).unwrap();
        let model = model_child(
            &self.models[&parent.root],
            tc,
            &parent_state,
            parent.height + 1,
            &block,
            burns,
            ctx,
        );
        let info = tc
            .import(parent, block, &content.receipts)
            .unwrap_or_else(|e| panic!("{ctx}: import: {e}"));
        let state = tc.ledger.state(&info.root).unwrap();
        check_state(&state, &model, ctx);
        for p in state.payouts.values().filter(|p| p.height == info.height) {
            assert_eq!(
                tc.ledger.check_proposal(parent, Some(&serialize(&p.tx))),
                Ok(()),
                "{ctx}"
            );
        }
        self.models.insert(info.root, model);
        self.blocks.push(info.clone());
        self.head = info.clone();
        info
    }

    /// Deposit outputs minted on the chain ending at `root`.
    pub fn minted(&self, root: &B256) -> &OrdSet<OutPoint> {
        &self.models[root].minted
    }
}

/// Every request of `state` is paid or refunded, and the balance holds.
pub fn assert_settled(state: &PegOutState) {
    assert!(
        state.pending.is_empty(),
        "requests left unpaid: {}",
        state.pending.len()
    );
    assert!(state.refunds.is_empty(), "refunds left due");
    assert!(state.balance_holds());
    let s = state.totals;
    assert_eq!(
        s.burned,
        s.proposed + s.refunded,
        "every burn paid or refunded"
    );
}

/// A restarted ledger (`restarted`, nothing cached) has the same state, work and refunds due as
/// the running one at each of `heads`.
pub fn assert_same_states(running: &Ledger, restarted: &Ledger, heads: &[BlockInfo]) {
    for h in heads {
        let a = running.state(&h.root).unwrap();
        let b = restarted.state(&h.root).unwrap();
        let ctx = format!("restart at height {}", h.height);
        assert_eq!(a.height, b.height, "{ctx}");
        assert_eq!(a.totals, b.totals, "{ctx}");
        assert_eq!(a.utxos, b.utxos, "{ctx}");
        assert_eq!(a.pending, b.pending, "{ctx}");
        assert_eq!(a.refunds, b.refunds, "{ctx}");
        assert_eq!(a.payouts, b.payouts, "{ctx}");
        assert_eq!(a.requests, b.requests, "{ctx}");
        assert_eq!(running.work(h), restarted.work(h), "{ctx}");
        assert_eq!(
            running.expected_refunds(h),
            restarted.expected_refunds(h),
            "{ctx}"
        );
    }
}
