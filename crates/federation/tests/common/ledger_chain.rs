//! A sidechain in memory for driving the real peg-out [`Ledger`] as consensus does: blocks are
//! built by a proposer from [`PegOutLedger::work`], validated with
//! [`PegOutLedger::expected_refunds`] and [`PegOutLedger::check_proposal`], and imported with
//! [`PegOutLedger::imported`] (then stored in the [`LedgerChain`]), with receipts that carry the
//! Bridge's `RequestPegOut` logs; the same blocks are the peg-in verifier's [`PegInChain`].
//! Shared by `tests/pegout_ledger.rs`, `tests/peg_reorgs.rs` and `benches/ledger.rs`.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use alloy::consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
use alloy::primitives::{Bytes, LogData};
use alloy::rpc::types::{Log, TransactionReceipt};
use alloy::sol_types::SolEvent;
use alys_consensus::pegout::{PegOutLedger, PegOutRejection, Refund, REFUND_VALIDATOR_INDEX};
use alys_consensus::validate::block_withdrawals;
use alys_consensus::BlockInfo;
use alys_federation::bitcoin::key::{CompressedPublicKey, Secp256k1, UntweakedPublicKey};
use alys_federation::bitcoin::{self, Network, PrivateKey};
use alys_federation::pegin::{BlockPegIns, PegInChain};
use alys_federation::pegout::{Ledger, LedgerChain};
use alys_primitives::payload::Withdrawal;
use alys_primitives::{
    Address, AggregateApproval, ChainSpec, ConsensusBlock, ExecutionPayload, FederationSpend,
    PegIn, RequestPegOut, B256, BRIDGE_ADDRESS, U256,
};
use alys_store::Store;
use ssz_types::{ListEncodedOption, VariableList};

/// Wei per sat.
pub const WEI_PER_SAT: u64 = 10_000_000_000;

/// The stored blocks of the test chain (every block imported, on every fork) and its
/// finalized block.
#[derive(Default)]
pub struct MemChain {
    blocks: RwLock<HashMap<B256, (u64, ConsensusBlock)>>,
    finalized: RwLock<(B256, u64)>,
}

impl LedgerChain for MemChain {
    fn block(&self, root: &B256) -> Result<Option<(u64, ConsensusBlock)>, String> {
        Ok(self
            .blocks
            .read()
            .map_err(|e| e.to_string())?
            .get(root)
            .cloned())
    }
}

/// The peg-in verifier's view of the same blocks.
impl PegInChain for MemChain {
    fn block(&self, root: &B256) -> Result<Option<BlockPegIns>, String> {
        Ok(
            LedgerChain::block(self, root)?.map(|(height, b)| BlockPegIns {
                parent_root: b.parent_root,
                height,
                pegins: b.pegins.iter().cloned().collect(),
            }),
        )
    }

    fn finalized(&self) -> Result<(B256, u64), String> {
        Ok(*self.finalized.read().map_err(|e| e.to_string())?)
    }
}

impl MemChain {
    /// Makes `root` at `height` the finalized block.
    pub fn finalize(&self, root: B256, height: u64) {
        *self.finalized.write().expect("chain lock") = (root, height);
    }

    fn insert(&self, root: B256, height: u64, block: ConsensusBlock) {
        self.blocks
            .write()
            .expect("chain lock")
            .insert(root, (height, block));
    }
}

/// A burn through the Bridge: `sats` from `sender` to the address text `address`.
#[derive(Clone, Debug)]
pub struct Burn {
    /// Who burns.
    pub sender: Address,
    /// The address bytes as sent to the Bridge.
    pub address: Vec<u8>,
    /// The amount.
    pub sats: u64,
}

impl Burn {
    /// A burn of `sats` to the address text `address`.
    pub fn new(sender: Address, address: &str, sats: u64) -> Self {
        Self {
            sender,
            address: address.as_bytes().to_vec(),
            sats,
        }
    }
}

/// The `RequestPegOut` log data of a burn.
pub fn request_log(burn: &Burn) -> LogData {
    RequestPegOut {
        evmAddress: burn.sender,
        bitcoinAddress: Bytes::copy_from_slice(&burn.address),
        value: U256::from(burn.sats) * U256::from(WEI_PER_SAT),
    }
    .encode_log_data()
}

/// A successful receipt of transaction `tx_hash` with `logs` (emitter, data).
pub fn receipt(tx_hash: B256, logs: Vec<(Address, LogData)>) -> TransactionReceipt {
    let logs = logs
        .into_iter()
        .map(|(address, data)| Log {
            inner: alloy::primitives::Log { address, data },
            ..Default::default()
        })
        .collect();
    TransactionReceipt {
        inner: ReceiptEnvelope::Eip1559(ReceiptWithBloom::from(Receipt {
            status: Eip658Value::Eip658(true),
            cumulative_gas_used: 50_000,
            logs,
        })),
        transaction_hash: tx_hash,
        transaction_index: None,
        block_hash: None,
        block_number: None,
        gas_used: 50_000,
        effective_gas_price: 1,
        blob_gas_used: None,
        blob_gas_price: None,
        from: Address::ZERO,
        to: Some(BRIDGE_ADDRESS),
        contract_address: None,
    }
}

/// Addresses of key `seed` on `network`: P2WPKH (bech32), P2TR (bech32m), P2PKH and
/// P2SH-P2WPKH (base58).
pub fn addresses(seed: u8, network: Network) -> Vec<String> {
    let secp = Secp256k1::new();
    let key = PrivateKey::from_slice(&[seed.max(1); 32], network).expect("key");
    let pk = CompressedPublicKey::from_private_key(&secp, &key).expect("pubkey");
    let xonly = UntweakedPublicKey::from(pk.0);
    vec![
        bitcoin::Address::p2wpkh(&pk, network).to_string(),
        bitcoin::Address::p2tr(&secp, xonly, None, network).to_string(),
        bitcoin::Address::p2pkh(pk, network).to_string(),
        bitcoin::Address::p2shwpkh(&pk, network).to_string(),
    ]
}

/// What a block carries besides what the ledger proposes.
#[derive(Clone, Debug, Default)]
pub struct Content {
    /// Deposits minted (each one federation UTXO).
    pub pegins: Vec<PegIn>,
    /// Receipts of the block's transactions.
    pub receipts: Vec<TransactionReceipt>,
    /// Replace the proposer's payout with this one (`Some(None)`: no payout).
    pub proposal: Option<Option<Vec<u8>>>,
    /// Replace the spends outside the peg the proposer declares with these.
    pub spends: Option<Vec<FederationSpend>>,
}

/// A deposit of `sats` at `txid:vout`, minted to `to`.
pub fn pegin(txid: B256, vout: u32, sats: u64, to: Address) -> PegIn {
    PegIn {
        txid,
        block_hash: B256::ZERO,
        vout,
        sats,
        evm_address: to,
    }
}

/// The deposits of the funded test chains: 500k sats at `txid(1):0` and 300k at `txid(2):1`
/// minted to `a`, 200k at `txid(3):0` minted to `b`.
pub fn three_deposits(txid: impl Fn(u64) -> B256, a: Address, b: Address) -> Content {
    Content {
        pegins: vec![
            pegin(txid(1), 0, 500_000, a),
            pegin(txid(2), 1, 300_000, a),
            pegin(txid(3), 0, 200_000, b),
        ],
        ..Default::default()
    }
}

/// The test chain: a ledger over a [`MemChain`] and a temporary store.
pub struct TestChain {
    /// The chain spec.
    pub spec: ChainSpec,
    /// The stored blocks.
    pub chain: Arc<MemChain>,
    /// The store the ledger keeps burns in.
    pub store: Arc<Store>,
    /// The ledger under test.
    pub ledger: Ledger,
    /// Fork-choice view of every imported block.
    pub infos: HashMap<B256, BlockInfo>,
    /// The genesis block.
    pub genesis: BlockInfo,
    next_slot: u64,
    next_tx: u64,
}

/// The fork-choice view of `block` (root `root`) at `height`.
pub fn info_of(root: B256, height: u64, block: &ConsensusBlock) -> BlockInfo {
    BlockInfo {
        root,
        parent_root: block.parent_root,
        slot: block.slot,
        height,
        payload_hash: block.execution_payload.block_hash,
        payload_number: block.execution_payload.block_number,
        timestamp: block.execution_payload.timestamp,
        approval: AggregateApproval::empty(0),
        pow: Default::default(),
    }
}

impl TestChain {
    /// A chain of `ChainSpec::dev(3)` (2-of-3 federation, regtest) with only its genesis,
    /// keeping its store in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self::with_spec(dir, ChainSpec::dev(3).expect("dev spec"))
    }

    /// A chain of `spec` with only its genesis (also its finalized block), keeping its store in
    /// `dir`.
    pub fn with_spec(dir: &Path, spec: ChainSpec) -> Self {
        let chain = Arc::new(MemChain::default());
        let store = Arc::new(Store::open(dir).expect("store"));
        let genesis_block = ConsensusBlock::new(B256::ZERO, 0, ExecutionPayload::default());
        let root = genesis_block.root();
        let genesis = info_of(root, 0, &genesis_block);
        chain.insert(root, 0, genesis_block);
        chain.finalize(root, 0);
        let ledger = Ledger::new(&spec, chain.clone(), store.clone()).expect("ledger");
        let mut infos = HashMap::new();
        infos.insert(root, genesis.clone());
        Self {
            spec,
            chain,
            store,
            ledger,
            infos,
            genesis,
            next_slot: 1,
            next_tx: 1,
        }
    }

    /// A second ledger over the same chain and store (a restarted node: nothing cached).
    pub fn restarted_ledger(&self) -> Ledger {
        Ledger::new(&self.spec, self.chain.clone(), self.store.clone()).expect("ledger")
    }

    /// A fresh transaction hash.
    pub fn tx_hash(&mut self) -> B256 {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&self.next_tx.to_be_bytes());
        h[31] = 0x7e;
        self.next_tx += 1;
        B256::from(h)
    }

    /// A receipt with one Bridge log per burn (one transaction for all).
    pub fn burns_receipt(&mut self, burns: &[Burn]) -> TransactionReceipt {
        let hash = self.tx_hash();
        receipt(
            hash,
            burns
                .iter()
                .map(|b| (BRIDGE_ADDRESS, request_log(b)))
                .collect(),
        )
    }

    /// One receipt (transaction) per burn.
    pub fn burn_receipts(&mut self, burns: &[Burn]) -> Vec<TransactionReceipt> {
        burns
            .iter()
            .map(|b| self.burns_receipt(std::slice::from_ref(b)))
            .collect()
    }

    /// The block a proposer builds on `parent` with `content`: the refunds of `work()` that fit
    /// (via `block_withdrawals`, after the peg-in mints) and its payout proposal.
    pub fn propose(&mut self, parent: &BlockInfo, content: &Content) -> ConsensusBlock {
        let work = self.ledger.work(parent);
        let mut block = self.block_with(parent, content, &work.refunds, work.proposal);
        if content.spends.is_none() {
            block.federation_spends = VariableList::new(work.spends).expect("≤ 16 spends");
        }
        block
    }

    /// A block on `parent` minting the fitting prefix of `refunds` and carrying `proposal`
    /// (unless `content.proposal` overrides it).
    pub fn block_with(
        &mut self,
        parent: &BlockInfo,
        content: &Content,
        refunds: &[Refund],
        proposal: Option<Vec<u8>>,
    ) -> ConsensusBlock {
        let number = parent.payload_number + 1;
        let withdrawals: Vec<Withdrawal> = block_withdrawals(&content.pegins, number, &[], refunds)
            .expect("withdrawals")
            .into_iter()
            .map(Withdrawal::from)
            .collect();
        let slot = self.next_slot;
        self.next_slot += 1;
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&slot.to_be_bytes());
        hash[31] = 0xe1;
        let payload = ExecutionPayload {
            parent_hash: parent.payload_hash,
            block_number: number,
            timestamp: slot * 2,
            block_hash: B256::from(hash),
            withdrawals: VariableList::new(withdrawals).expect("≤ 16 withdrawals"),
            ..ExecutionPayload::default()
        };
        let mut block = ConsensusBlock::new(parent.root, slot, payload);
        block.pegins = VariableList::new(content.pegins.clone()).expect("peg-ins");
        let proposal = content.proposal.clone().unwrap_or(proposal);
        block.pegout_proposal =
            ListEncodedOption(proposal.map(|p| VariableList::new(p).expect("payout size")));
        if let Some(spends) = &content.spends {
            block.federation_spends = VariableList::new(spends.clone()).expect("≤ 16 spends");
        }
        block
    }

    /// Validates `block` on `parent` as consensus does (expected refunds, payout proposal,
    /// spends outside the peg).
    pub fn validate(
        &self,
        parent: &BlockInfo,
        block: &ConsensusBlock,
    ) -> Result<(), PegOutRejection> {
        let due = self.ledger.expected_refunds(parent)?;
        let expected = block_withdrawals(
            &block.pegins,
            block.execution_payload.block_number,
            &[],
            &due,
        )
        .expect("withdrawals");
        assert_eq!(
            block.execution_payload.engine_withdrawals(),
            expected,
            "withdrawals of the block are not the expected ones"
        );
        self.ledger.check_spends(parent, &block.federation_spends)?;
        self.ledger
            .check_proposal(parent, block.pegout_proposal.as_ref().map(|b| &b[..]))
    }

    /// Imports `block` (child of `parent`) with `receipts` as consensus does: `imported` with
    /// the number of refund withdrawals, then the block is stored.
    pub fn import(
        &mut self,
        parent: &BlockInfo,
        block: ConsensusBlock,
        receipts: &[TransactionReceipt],
    ) -> Result<BlockInfo, PegOutRejection> {
        let root = block.root();
        let refunds = refunds_of(&block);
        self.ledger
            .imported(parent, root, &block, refunds, receipts)?;
        let info = info_of(root, parent.height + 1, &block);
        self.chain.insert(root, info.height, block);
        self.infos.insert(root, info.clone());
        Ok(info)
    }

    /// Proposes, validates and imports a block on `parent` with `content`.
    pub fn extend(&mut self, parent: &BlockInfo, content: &Content) -> BlockInfo {
        let block = self.propose(parent, content);
        self.validate(parent, &block).expect("proposed block valid");
        self.import(parent, block, &content.receipts)
            .expect("import")
    }

    /// Imports a block on `parent` with `content` and no payout, unchecked (a fast way to grow
    /// a chain for benchmarks: the refunds due are minted as usual).
    pub fn extend_unchecked(&mut self, parent: &BlockInfo, content: &Content) -> BlockInfo {
        let refunds = self.ledger.expected_refunds(parent).expect("refunds");
        let block = self.block_with(parent, content, &refunds, None);
        self.import(parent, block, &content.receipts)
            .expect("import")
    }
}

/// Refund withdrawals a block mints.
pub fn refunds_of(block: &ConsensusBlock) -> usize {
    block
        .execution_payload
        .engine_withdrawals()
        .iter()
        .filter(|w| w.validator_index == REFUND_VALIDATOR_INDEX)
        .count()
}
