//! Block assembly: mempool selection, the BIP34 coinbase with its witness commitment, and
//! grinding regtest proof of work.

use std::collections::HashSet;

use bitcoin::{
    absolute::LockTime,
    block::{Header, Version as BlockVersion},
    hashes::Hash,
    opcodes::all::OP_RETURN,
    script::{Builder, PushBytesBuf},
    transaction::Version,
    Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Target, Transaction, TxIn,
    TxMerkleNode, TxOut, Txid, Witness,
};

use super::{subsidy, Chain, Reject, MAX_BLOCK_WEIGHT, REGTEST_BITS};
use crate::script;

pub(super) fn bip34_script(height: u32) -> ScriptBuf {
    // Core: CScript() << nHeight << OP_0.
    Builder::new()
        .push_int(i64::from(height))
        .push_opcode(bitcoin::opcodes::OP_0)
        .into_script()
}

impl Chain {
    /// Builds, grinds and connects a block paying the subsidy and fees to `script_pubkey`.
    pub fn mine_block(
        &mut self,
        script_pubkey: &ScriptBuf,
        time: u32,
    ) -> Result<BlockHash, Reject> {
        let height = self.height() + 1;
        let prev = self.tip();
        let mtp = self.median_time_past(self.height());
        let time = time.max(mtp + 1);
        // Transactions from the mempool, parents first, within the weight limit.
        let mut txs = Vec::new();
        let mut weight: u64 = 4_000 + 1_000;
        let mut fees: u64 = 0;
        let mut included: HashSet<Txid> = HashSet::new();
        for entry in self.mempool() {
            let w = entry.tx.weight().to_wu();
            if weight + w > MAX_BLOCK_WEIGHT {
                continue;
            }
            // Skip a child whose mempool parent was left out.
            let parents_ok = entry.tx.input.iter().all(|i| {
                !self.mempool.contains_key(&i.previous_output.txid)
                    || included.contains(&i.previous_output.txid)
            });
            if !parents_ok {
                continue;
            }
            weight += w;
            fees += entry.fee;
            included.insert(entry.tx.compute_txid());
            txs.push(entry.tx.clone());
        }
        let reserved = [0u8; 32];
        let mut coinbase = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: bip34_script(height),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[reserved]),
            }],
            output: vec![TxOut {
                value: script::sats(subsidy(height) + fees),
                script_pubkey: script_pubkey.clone(),
            }],
        };
        let mut block_txs = vec![coinbase.clone()];
        block_txs.extend(txs);
        let mut block = Block {
            header: Header {
                version: BlockVersion::from_consensus(0x2000_0000),
                prev_blockhash: prev,
                merkle_root: TxMerkleNode::all_zeros(),
                time,
                bits: CompactTarget::from_consensus(REGTEST_BITS),
                nonce: 0,
            },
            txdata: block_txs,
        };
        // Witness commitment (always present, as Core does with segwit active).
        if let Some(root) = block.witness_root() {
            let commitment = Block::compute_witness_commitment(&root, &reserved);
            let mut data = vec![0xaa, 0x21, 0xa9, 0xed];
            data.extend_from_slice(commitment.as_byte_array());
            let push = PushBytesBuf::try_from(data).map_err(|_| Reject::invalid("commitment"))?;
            coinbase.output.push(TxOut {
                value: script::sats(0),
                script_pubkey: Builder::new()
                    .push_opcode(OP_RETURN)
                    .push_slice(push)
                    .into_script(),
            });
            block.txdata[0] = coinbase;
        }
        block.header.merkle_root = block
            .compute_merkle_root()
            .ok_or_else(|| Reject::invalid("bad-txnmrklroot"))?;
        let target = Target::from_compact(block.header.bits);
        while block.header.validate_pow(target).is_err() {
            block.header.nonce = block.header.nonce.wrapping_add(1);
            if block.header.nonce == 0 {
                block.header.time += 1;
            }
        }
        let hash = block.block_hash();
        self.submit_block(block, true)?;
        if self.tip() != hash {
            return Err(Reject::invalid("block not connected"));
        }
        Ok(hash)
    }
}
