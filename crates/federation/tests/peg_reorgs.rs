//! The peg balance under sidechain **and** Bitcoin reorgs (DESIGN §7, §12.1, §12.3).
//!
//! A seeded random run (seed printed, replayed with `ALYS_TEST_SEED`) drives, with nothing of
//! the node's code path replaced:
//! - Bitcoin: the embedded regtest devnet over its Bitcoin Core JSON-RPC. Its wallet sends
//!   deposits to the federation address (the EVM recipient in OP_RETURN; some below
//!   `minPegInSats`, some with a malformed OP_RETURN), each with `nLockTime` = the tip it was
//!   sent at, as Core's wallet does. Blocks are mined with `generatetoaddress`; reorgs are
//!   `invalidateblock` of a recent block and a longer chain mined on its parent. A deposit in
//!   the invalidated block goes back to the mempool and is mined again in the new chain's first
//!   block, unless the invalidated block is the one it was sent at: then it is not final at
//!   that height, leaves the mempool, and the new chain is mined without it (the test sends it
//!   again later, or never). Shallow reorgs (1 to `requiredBtcConfirmations` − 1 blocks) hit
//!   deposits seen but not yet minted; twice a run a reorg of 4 to 12 blocks takes a minted
//!   deposit out of the best chain, once to be mined again and once for good.
//! - The node's Bitcoin follower over that RPC (`Follower::catch_up`, the follower's own poll
//!   step, run before each sidechain block) and its deposit index; `FollowerPegIns`, the
//!   consensus peg-in verifier, over the same store and the sidechain's blocks.
//! - The sidechain (`common/peg_model.rs` over `common/ledger_chain.rs`): each block's peg-ins
//!   are the verifier's `candidates` (the proposer's call), checked with `check_block` as a
//!   validator does; random burns (payable, bad addresses, below the minimum), payouts and
//!   refunds through the real peg-out `Ledger`; forks from an ancestor of the head; a
//!   finalized block that moves up.
//!
//! After every sidechain block:
//! - the proposer's peg-ins are exactly the deposits the devnet has in its best chain with at
//!   least `requiredBtcConfirmations`, valid, and not minted on the parent's chain: so each
//!   minted deposit is confirmed on the current best chain at the time of minting, with the
//!   block hash the devnet reports;
//! - no deposit output is minted twice on any branch (the model's minted set, which the
//!   verifier's `minted_on` must equal);
//! - a block minting a deposit that is not confirmed (in the mempool, reorged out, seen with
//!   fewer confirmations) is refused as `Unconfirmed`/`Unknown`, one minting a rejected
//!   transaction as `NotADeposit`, one minting again a deposit whose mint was followed by a
//!   deep Bitcoin reorg as `AlreadyMinted`;
//! - the ledger's state matches the model and the peg balance holds (§12.3).
//!
//! At the end every valid deposit confirmed on Bitcoin is minted exactly once on the head's
//! chain, every burn is paid or refunded, and a restart (fresh follower, verifier and ledger
//! over the same store and blocks) rebuilds the same state.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[path = "common/ledger_chain.rs"]
mod ledger_chain;
#[path = "common/peg_model.rs"]
mod peg_model;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alys_bitcoin::{
    BitcoinRpc, ClientConfig, CoreRpcClient, DepositScanner, Follower, FollowerConfig, PegInState,
};
use alys_consensus::{BlockInfo, PegInRejection, PegInVerifier};
use alys_federation::bitcoin::consensus::deserialize;
use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::{BlockHash, OutPoint, Transaction, Txid};
use alys_federation::pegin::{FollowerPegIns, PegInChain, PegInCheckError};
use alys_federation::{Federation, DEFAULT_MIN_PEG_IN_SATS};
use alys_primitives::{Address, ChainSpec, PegIn, B256};
use alys_test_utils::devnet::{core_client, start_devnet};
use alys_test_utils::seed::seeded_rng;
use ledger_chain::TestChain;
use peg_model::{assert_same_states, assert_settled, outpoint_of, RandomChain};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

/// `requiredBtcConfirmations` of the run.
const REQUIRED: u64 = 4;
/// Steps of the run (each: deposits, a Bitcoin move, one or two sidechain blocks).
const STEPS: usize = 300;
/// Deepest Bitcoin reorg of the run.
const MAX_REORG: u64 = 12;
/// A deposit this deep is out of reach of every reorg of the run: not asked about again.
const SETTLED: u64 = MAX_REORG + 4;
/// Deposit recipients.
const RECIPIENTS: std::ops::Range<u8> = 0x20..0x24;

/// What a transaction the test sent to the federation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A deposit to mint.
    Valid,
    /// Below `minPegInSats`.
    BelowMinimum,
    /// A 19-byte OP_RETURN.
    Malformed,
}

/// Where the devnet has a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// In the best chain, block hash and height.
    Block(BlockHash, u64),
    /// In the mempool.
    Mempool,
    /// Neither.
    Gone,
}

/// A transaction paying the federation, sent by the test.
struct Sent {
    txid: Txid,
    hex: String,
    kind: Kind,
    vout: u32,
    sats: u64,
    recipient: Address,
    /// The tip it was sent at (its `nLockTime`).
    locktime: u64,
    /// Not sent again once out of the mempool.
    abandoned: bool,
    place: Place,
    /// The last block it was seen in.
    last_block: Option<BlockHash>,
    /// It left a block of the best chain at least once.
    reorged: bool,
}

impl Sent {
    fn outpoint(&self) -> OutPoint {
        OutPoint::new(self.txid, self.vout)
    }

    /// The peg-in minting it from `block`.
    fn pegin(&self, block: Option<BlockHash>) -> PegIn {
        PegIn {
            txid: B256::from(self.txid.to_byte_array()),
            block_hash: block.map_or(B256::ZERO, |b| B256::from(b.to_byte_array())),
            vout: self.vout,
            sats: self.sats,
            evm_address: self.recipient,
        }
    }
}

/// The devnet as the test sees it over JSON-RPC.
struct Bitcoin {
    rpc: Arc<CoreRpcClient>,
    federation: Arc<Federation>,
    sent: Vec<Sent>,
    tip: u64,
}

impl Bitcoin {
    async fn call(&self, method: &str, params: Vec<Value>) -> Value {
        self.rpc
            .call(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    async fn mine(&mut self, n: u64) {
        let addr = self.call("getnewaddress", vec![]).await;
        self.call("generatetoaddress", vec![json!(n), addr]).await;
        self.tip = self.call("getblockcount", vec![]).await.as_u64().unwrap();
    }

    /// Invalidates the best chain's block at `height` (back to its parent).
    async fn invalidate_at(&mut self, height: u64) {
        let hash = self.call("getblockhash", vec![json!(height)]).await;
        self.call("invalidateblock", vec![hash]).await;
        self.tip = self.call("getblockcount", vec![]).await.as_u64().unwrap();
        assert_eq!(self.tip, height - 1);
    }

    /// Sends a transaction paying the federation `sats` with OP_RETURN `data`.
    async fn send(&mut self, kind: Kind, sats: u64, recipient: Address, data: &[u8]) {
        let outputs = json!([
            { self.federation.address().to_string(): sats as f64 / 1e8 },
            { "data": hex::encode(data) }
        ]);
        let raw = self
            .call(
                "createrawtransaction",
                vec![json!([]), outputs, json!(self.tip)],
            )
            .await;
        let funded = self.call("fundrawtransaction", vec![raw]).await;
        let signed = self
            .call("signrawtransactionwithwallet", vec![funded["hex"].clone()])
            .await;
        let hex = signed["hex"].as_str().unwrap().to_string();
        self.call("sendrawtransaction", vec![json!(hex)]).await;
        let tx: Transaction = deserialize(&hex::decode(&hex).unwrap()).unwrap();
        let fed = self.federation.script_pubkey();
        let vout = tx
            .output
            .iter()
            .position(|o| o.script_pubkey == *fed)
            .unwrap() as u32;
        self.sent.push(Sent {
            txid: tx.compute_txid(),
            hex,
            kind,
            vout,
            sats,
            recipient,
            locktime: self.tip,
            abandoned: false,
            place: Place::Mempool,
            last_block: None,
            reorged: false,
        });
    }

    /// A random deposit: mostly valid, sometimes below the minimum or malformed.
    async fn send_random(&mut self, rng: &mut StdRng) {
        let recipient = Address::repeat_byte(rng.gen_range(RECIPIENTS));
        match rng.gen_range(0..10) {
            0 => {
                let sats = rng.gen_range(400..DEFAULT_MIN_PEG_IN_SATS);
                self.send(Kind::BelowMinimum, sats, recipient, recipient.as_slice())
                    .await
            }
            1 => {
                let sats = rng.gen_range(10_000..100_000);
                self.send(Kind::Malformed, sats, recipient, &recipient.as_slice()[1..])
                    .await
            }
            _ => {
                let sats = rng.gen_range(10_000..=3_000_000);
                self.send(Kind::Valid, sats, recipient, recipient.as_slice())
                    .await
            }
        }
    }

    /// Asks the devnet where each sent transaction is (those not settled deep in the chain).
    async fn refresh(&mut self) {
        self.tip = self.call("getblockcount", vec![]).await.as_u64().unwrap();
        for i in 0..self.sent.len() {
            let s = &self.sent[i];
            let settled = match s.place {
                Place::Block(_, h) => h + SETTLED <= self.tip,
                Place::Gone => s.abandoned,
                Place::Mempool => false,
            };
            if settled {
                continue;
            }
            let txid = self.sent[i].txid.to_string();
            let place = match self
                .rpc
                .call("getrawtransaction", vec![json!(txid), json!(true)])
                .await
            {
                Ok(v) => match (v["blockhash"].as_str(), v["confirmations"].as_u64()) {
                    (Some(hash), Some(c)) if c > 0 => {
                        Place::Block(hash.parse().unwrap(), self.tip + 1 - c)
                    }
                    _ => Place::Mempool,
                },
                Err(e) if e.core_code() == Some(-5) => Place::Gone,
                Err(e) => panic!("getrawtransaction: {e}"),
            };
            let s = &mut self.sent[i];
            if let Place::Block(old, _) = s.place {
                s.reorged |= !matches!(place, Place::Block(new, _) if new == old);
            }
            if let Place::Block(hash, _) = place {
                s.last_block = Some(hash);
            }
            s.place = place;
        }
    }

    /// Sends again, oldest first, what fell out of the mempool (a transaction that can no
    /// longer be sent, its input spent by another, is abandoned).
    async fn resend_gone(&mut self) {
        for i in 0..self.sent.len() {
            let s = &self.sent[i];
            if s.place != Place::Gone || s.abandoned {
                continue;
            }
            let hex = s.hex.clone();
            match self.rpc.call("sendrawtransaction", vec![json!(hex)]).await {
                Ok(_) => self.sent[i].place = Place::Mempool,
                Err(e) if e.to_string().contains("non-final") => {}
                Err(_) => self.sent[i].abandoned = true,
            }
        }
    }

    /// Confirmations of a transaction in the best chain (0 elsewhere).
    fn confirmations(&self, s: &Sent) -> u64 {
        match s.place {
            Place::Block(_, h) => self.tip + 1 - h,
            _ => 0,
        }
    }

    /// The valid deposits with the required confirmations.
    fn confirmed(&self) -> impl Iterator<Item = &Sent> {
        self.sent
            .iter()
            .filter(move |s| s.kind == Kind::Valid && self.confirmations(s) >= REQUIRED)
    }

    fn get(&self, outpoint: &OutPoint) -> Option<&Sent> {
        self.sent.iter().find(|s| s.outpoint() == *outpoint)
    }
}

/// The sidechain: the ledger's test chain, its model and the peg-in verifier.
struct Side {
    tc: TestChain,
    rc: RandomChain,
    verifier: FollowerPegIns,
    forks: usize,
    finalized: u64,
    /// Deposits minted on some branch and later taken out of Bitcoin's best chain.
    reverted: HashSet<Txid>,
    /// Refusals of a deposit out of the best chain after it had been in a block.
    refused_reorged: usize,
}

impl Side {
    /// The parent of the next block: the head, or now and then an ancestor of it above the
    /// finalized block (a sidechain reorg).
    fn parent(&mut self, rng: &mut StdRng) -> BlockInfo {
        let mut p = self.rc.head.clone();
        if rng.gen_bool(0.12) {
            self.forks += 1;
            for _ in 0..rng.gen_range(1..=6) {
                if p.height <= self.finalized + 1 {
                    break;
                }
                p = self.tc.infos[&p.parent_root].clone();
            }
        }
        p
    }

    /// Every 8 blocks of the head, its ancestor 16 blocks down becomes the finalized block.
    fn finalize(&mut self) {
        let mut f = self.rc.head.clone();
        if !f.height.is_multiple_of(8) || f.height < 16 {
            return;
        }
        for _ in 0..16 {
            f = self.tc.infos[&f.parent_root].clone();
        }
        if f.height > self.finalized {
            self.tc.chain.finalize(f.root, f.height);
            self.finalized = f.height;
        }
    }

    /// What a validator says of a block on `parent` minting only `p`.
    fn check_one(&self, parent: &BlockInfo, p: PegIn) -> Result<(), PegInRejection> {
        match self.verifier.check_block(&parent.root, &[p]) {
            Ok(()) => Ok(()),
            Err(PegInCheckError::Rejected { reason, .. }) => Err(reason),
            Err(e) => panic!("one peg-in: {e}"),
        }
    }

    /// Blocks on `parent` minting what may not be minted are refused, each for its reason.
    fn refuse_unmintable(&mut self, btc: &Bitcoin, parent: &BlockInfo, ctx: &str) {
        let minted = self.rc.minted(&parent.root).clone();
        for s in &btc.sent {
            let p = s.pegin(s.last_block);
            let verdict = self.check_one(parent, p);
            if minted.contains(&s.outpoint()) {
                assert!(
                    matches!(verdict, Err(PegInRejection::AlreadyMinted { .. })),
                    "{ctx}: {} minted again: {verdict:?}",
                    s.txid
                );
            } else if s.kind != Kind::Valid {
                let expected = match s.place {
                    Place::Block(..) => matches!(verdict, Err(PegInRejection::NotADeposit { .. })),
                    _ => verdict.is_err(),
                };
                assert!(
                    expected,
                    "{ctx}: {:?} {} ({:?}) minted: {verdict:?}",
                    s.kind, s.txid, s.place
                );
            } else if btc.confirmations(s) < REQUIRED {
                assert!(
                    matches!(
                        verdict,
                        Err(PegInRejection::Unconfirmed { .. } | PegInRejection::Unknown { .. })
                    ),
                    "{ctx}: {} with {} confirmation(s) ({:?}) minted: {verdict:?}",
                    s.txid,
                    btc.confirmations(s),
                    s.place
                );
                if s.reorged {
                    self.refused_reorged += 1;
                }
            }
        }
    }

    /// Proposes, validates and imports a block on `parent`, checking the peg-in invariants.
    fn block(
        &mut self,
        btc: &Bitcoin,
        rng: &mut StdRng,
        parent: &BlockInfo,
        ctx: &str,
    ) -> BlockInfo {
        // The proposer's peg-ins, as consensus asks for them.
        let pegins = PegInVerifier::candidates(&self.verifier, parent);
        let minted = self.rc.minted(&parent.root).clone();
        let expected: BTreeSet<_> = btc
            .confirmed()
            .filter(|s| !minted.contains(&s.outpoint()))
            .map(|s| s.pegin(s.last_block))
            .map(|p| (p.txid, p.vout, p.sats, p.evm_address, p.block_hash))
            .collect();
        let got: BTreeSet<_> = pegins
            .iter()
            .map(|p| (p.txid, p.vout, p.sats, p.evm_address, p.block_hash))
            .collect();
        assert_eq!(
            got, expected,
            "{ctx}: peg-ins proposed vs confirmed on Bitcoin and unminted"
        );
        for p in &pegins {
            let s = btc.get(&outpoint_of(p)).expect("a deposit of the test");
            assert!(
                matches!(s.place, Place::Block(h, _) if B256::from(h.to_byte_array()) == p.block_hash)
                    && btc.confirmations(s) >= REQUIRED,
                "{ctx}: {} minted from {:?}, tip {}",
                s.txid,
                s.place,
                btc.tip
            );
        }
        self.refuse_unmintable(btc, parent, ctx);
        let (content, burns) = self.rc.random_content(&mut self.tc, rng, pegins);
        let block = self.rc.propose(&mut self.tc, parent, &content, ctx);
        // A validator's check of the peg-ins.
        self.verifier
            .check_block(&parent.root, &block.pegins)
            .unwrap_or_else(|e| panic!("{ctx}: proposer's peg-ins refused: {e}"));
        let info = self
            .rc
            .import(&mut self.tc, parent, block, &content, &burns, ctx);
        let set: BTreeSet<OutPoint> = self
            .verifier
            .minted_on(&info.root)
            .unwrap()
            .keys()
            .map(|(txid, vout)| OutPoint::new(Txid::from_byte_array(txid.0), *vout))
            .collect();
        let model: BTreeSet<OutPoint> = self.rc.minted(&info.root).iter().copied().collect();
        assert_eq!(set, model, "{ctx}: minted set");
        self.finalize();
        info
    }

    /// Blocks on the head, without burns, until nothing is left to mint, pay or refund.
    fn settle(&mut self) {
        self.tc.ledger.set_fee_rate(1);
        for i in 0..30 {
            let head = self.rc.head.clone();
            let state = self.tc.ledger.state(&head.root).unwrap();
            let pegins = PegInVerifier::candidates(&self.verifier, &head);
            if pegins.is_empty() && state.pending.is_empty() && state.refunds.is_empty() {
                return;
            }
            let content = ledger_chain::Content {
                pegins,
                ..Default::default()
            };
            let ctx = format!("settling block {i}");
            let block = self.rc.propose(&mut self.tc, &head, &content, &ctx);
            self.verifier
                .check_block(&head.root, &block.pegins)
                .unwrap();
            self.rc
                .import(&mut self.tc, &head, block, &content, &[], &ctx);
        }
        panic!("the peg did not settle in 30 blocks");
    }

    /// The head and `n` of its ancestors above the finalized block, at random.
    fn head_and_ancestors(&self, rng: &mut StdRng, n: usize) -> Vec<BlockInfo> {
        let head = self.rc.head.clone();
        let mut out = vec![head.clone()];
        for _ in 0..n {
            let mut b = head.clone();
            for _ in 0..rng.gen_range(0..head.height - self.finalized) {
                b = self.tc.infos[&b.parent_root].clone();
            }
            out.push(b);
        }
        out
    }
}

/// The follower's poll steps until it is at the devnet's tip, then the test's own view.
async fn catch_up(follower: &mut Follower, btc: &mut Bitcoin) {
    follower.catch_up().await.expect("follower");
    btc.refresh().await;
    assert_eq!(
        follower.tip().map(|t| t.height),
        Some(btc.tip),
        "the follower is at the devnet's tip"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitcoin_and_sidechain_reorgs_keep_the_peg_balanced_and_mint_each_deposit_once() {
    let started = Instant::now();
    let mut rng = seeded_rng("peg_reorgs");
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ChainSpec::dev(3).unwrap();
    spec.required_btc_confirmations = Some(REQUIRED as u32);

    let devnet = start_devnet(None).await;
    let rpc = Arc::new(core_client(
        &devnet,
        ClientConfig {
            timeout: Duration::from_secs(10),
            ..ClientConfig::default()
        },
    ));
    let tc = TestChain::with_spec(&dir.path().join("node"), spec.clone());
    let federation = tc.ledger.federation().clone();
    let store = tc.store.clone();
    let open_follower = || {
        Follower::open(
            rpc.clone() as Arc<dyn BitcoinRpc>,
            federation.clone() as Arc<dyn DepositScanner>,
            store.clone(),
            FollowerConfig::from_spec(&spec),
        )
        .expect("follower")
    };
    let mut follower = open_follower();
    let chain = tc.chain.clone() as Arc<dyn PegInChain>;
    let verifier = FollowerPegIns::open(follower.index(), chain.clone(), store.clone()).unwrap();
    let mut side = Side {
        rc: RandomChain::new(&tc),
        tc,
        verifier,
        forks: 0,
        finalized: 0,
        reverted: HashSet::new(),
        refused_reorged: 0,
    };
    let mut btc = Bitcoin {
        rpc: rpc.clone(),
        federation: federation.clone(),
        sent: Vec::new(),
        tip: 0,
    };
    // Mature coins for the wallet.
    btc.mine(110).await;
    let start = btc.tip;

    let (mut shallow, mut deep_back, mut deep_gone) = (0usize, 0usize, 0usize);
    let mut mid_reorg_blocks = 0usize;
    for step in 0..STEPS {
        if rng.gen_bool(0.5) {
            for _ in 0..rng.gen_range(1..=2) {
                btc.send_random(&mut rng).await;
            }
        }
        // From a third of the run on, one deep reorg; from two thirds on, the second.
        let due = usize::from(step >= STEPS / 3) + usize::from(step >= 2 * STEPS / 3);
        let deep = deep_back + deep_gone < due;
        let roll: f64 = rng.gen();
        if deep {
            // A deposit minted on the head's chain, its block 4 to 12 deep.
            catch_up(&mut follower, &mut btc).await;
            let minted = side.rc.minted(&side.rc.head.root).clone();
            let back = deep_back <= deep_gone;
            let pick = btc
                .sent
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, s)| minted.contains(&s.outpoint()))
                .filter_map(|(i, s)| {
                    let Place::Block(_, h) = s.place else {
                        return None;
                    };
                    // Mined again: invalidate its block; for good: the block it was sent at.
                    let at = if back { h } else { s.locktime };
                    (btc.tip + 1 - at <= MAX_REORG && at > start).then_some((i, at))
                })
                .next();
            if let Some((i, at)) = pick {
                let depth = btc.tip + 1 - at;
                let Place::Block(old, _) = btc.sent[i].place else {
                    unreachable!()
                };
                btc.sent[i].abandoned = !back;
                btc.invalidate_at(at).await;
                btc.mine(depth + 1).await;
                catch_up(&mut follower, &mut btc).await;
                let s = &btc.sent[i];
                let record = follower.index().status(&s.txid).expect("indexed").record;
                if back {
                    // Mined again in the new chain's first block: confirmed again, with
                    // another block hash.
                    assert!(
                        matches!(s.place, Place::Block(new, h) if new != old && h == at),
                        "{:?}",
                        s.place
                    );
                    assert_eq!(record.state, PegInState::Confirmed);
                    deep_back += 1;
                } else {
                    assert_eq!(s.place, Place::Gone);
                    assert_eq!(record.state, PegInState::Reverted);
                    deep_gone += 1;
                }
                println!(
                    "step {step}: reorg of {depth} blocks took out {} minted in {:?}",
                    s.txid,
                    side.verifier.minted_in(&side.rc.head.root, &s.txid)
                );
                side.reverted.insert(s.txid);
                // The reorg may take out other deposits minted in or after the invalidated
                // blocks: those sent at or after `at` are not final in the new chain's first
                // blocks and leave the mempool for good, like the one picked.
                let head = side.rc.head.root;
                for other in &btc.sent {
                    if other.place == Place::Gone
                        && side.verifier.minted_in(&head, &other.txid).is_some()
                        && side.reverted.insert(other.txid)
                    {
                        println!("step {step}: the reorg also took out {}", other.txid);
                    }
                }
            } else {
                btc.mine(1).await;
            }
        } else if roll < 0.25 && btc.tip > start + REQUIRED {
            // Shallower than the confirmations: only deposits not yet minted are hit.
            shallow += 1;
            let depth = rng.gen_range(1..REQUIRED);
            btc.invalidate_at(btc.tip + 1 - depth).await;
            if rng.gen_bool(0.5) {
                // The sidechain goes on while the deposits are out of the best chain.
                catch_up(&mut follower, &mut btc).await;
                let parent = side.rc.head.clone();
                let ctx = format!("step {step}, mid-reorg block");
                side.block(&btc, &mut rng, &parent, &ctx);
                mid_reorg_blocks += 1;
            }
            if rng.gen_bool(0.5) {
                btc.refresh().await;
                btc.resend_gone().await;
            }
            btc.mine(depth + rng.gen_range(1..=2)).await;
        } else if roll < 0.85 {
            btc.mine(rng.gen_range(1..=2)).await;
        }
        catch_up(&mut follower, &mut btc).await;
        if rng.gen_bool(0.3) {
            btc.resend_gone().await;
        }
        for _ in 0..rng.gen_range(1..=2) {
            let parent = side.parent(&mut rng);
            let ctx = format!(
                "step {step}, block at height {} ({} forks, Bitcoin tip {})",
                parent.height + 1,
                side.forks,
                btc.tip
            );
            side.block(&btc, &mut rng, &parent, &ctx);
        }
    }

    // Settle: what is in the mempool confirms, a large deposit pays every pending request.
    btc.refresh().await;
    btc.resend_gone().await;
    btc.mine(1).await;
    btc.send(
        Kind::Valid,
        500_000_000,
        Address::repeat_byte(0xa1),
        &[0xa1; 20],
    )
    .await;
    btc.mine(REQUIRED).await;
    catch_up(&mut follower, &mut btc).await;
    side.settle();
    let head = side.rc.head.clone();
    assert_settled(&side.tc.ledger.state(&head.root).unwrap());

    // §12.1 at the head: every valid deposit confirmed on Bitcoin is minted, once (the model
    // refuses a second mint on a chain); a minted one is confirmed on Bitcoin unless a reorg
    // deeper than the confirmations took it out after its mint (the mint stands).
    let minted = side.rc.minted(&head.root).clone();
    for s in btc.confirmed() {
        assert!(minted.contains(&s.outpoint()), "{} not minted", s.txid);
    }
    for o in &minted {
        let s = btc.get(o).expect("a deposit of the test");
        assert!(
            btc.confirmations(s) >= REQUIRED || side.reverted.contains(&s.txid),
            "{} minted, not on Bitcoin ({:?})",
            s.txid,
            s.place
        );
    }
    for txid in &side.reverted {
        let s = btc.sent.iter().find(|s| s.txid == *txid).unwrap();
        let state = follower.index().status(txid).unwrap().record.state;
        if s.place == Place::Gone {
            assert_eq!(state, PegInState::Reverted, "{txid}");
        }
    }

    // A restart: follower, verifier and ledger opened again over the same store and blocks.
    let old_index = follower.index();
    let old_tip = follower.tip();
    drop(follower);
    let mut follower = open_follower();
    assert_eq!(follower.tip(), old_tip);
    assert!(follower.catch_up().await.unwrap().is_empty(), "nothing new");
    for s in &btc.sent {
        assert_eq!(
            follower.index().status(&s.txid),
            old_index.status(&s.txid),
            "{}",
            s.txid
        );
    }
    let verifier = FollowerPegIns::open(follower.index(), chain, store.clone()).unwrap();
    let restarted = side.tc.restarted_ledger();
    let heads = side.head_and_ancestors(&mut rng, 5);
    for h in &heads {
        assert_eq!(
            verifier.minted_on(&h.root).unwrap(),
            side.verifier.minted_on(&h.root).unwrap()
        );
        assert_eq!(
            PegInVerifier::candidates(&verifier, h),
            PegInVerifier::candidates(&side.verifier, h)
        );
    }
    let mut heads = heads;
    for _ in 0..5 {
        heads.push(side.rc.blocks[rng.gen_range(1..side.rc.blocks.len())].clone());
    }
    assert_same_states(&side.tc.ledger, &restarted, &heads);

    let valid = btc.sent.iter().filter(|s| s.kind == Kind::Valid).count();
    let reorged_minted = btc
        .sent
        .iter()
        .filter(|s| s.reorged && minted.contains(&s.outpoint()))
        .count();
    println!(
        "{STEPS} steps in {:?}: Bitcoin tip {} ({shallow} shallow reorgs, deep reorgs: \
         {deep_back} mined again, {deep_gone} gone), {} transactions to the federation \
         ({valid} valid, {} minted at the head, {reorged_minted} of them after a reorg), \
         {} sidechain blocks ({} forks, {mid_reorg_blocks} during a Bitcoin reorg), {} \
         payouts, {} refunds, {} refusals of a reorged-out deposit",
        started.elapsed(),
        btc.tip,
        btc.sent.len(),
        minted.len(),
        side.rc.blocks.len() - 1,
        side.forks,
        side.rc.payouts,
        side.rc.refunded,
        side.refused_reorged,
    );
    assert!(shallow >= 10, "{shallow} shallow reorgs");
    assert_eq!((deep_back, deep_gone), (1, 1), "deep reorgs");
    assert!(
        reorged_minted >= 3,
        "{reorged_minted} deposits minted after a reorg"
    );
    assert!(side.refused_reorged > 0, "no reorged-out deposit offered");
    assert!(side.forks >= 5 && side.rc.payouts >= 10 && side.rc.refunded >= 3);
    devnet.shutdown().await;
}
