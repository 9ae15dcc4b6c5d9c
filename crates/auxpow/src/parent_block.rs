//! Building and grinding a parent block for a work hash, as a pool does (Namecoin's published
//! algorithm). Used by tests and the `alys-miner` CPU miner on regtest-like targets.
//!
//! The parent is a one-transaction Bitcoin block whose coinbase carries
//! `fabe6d6d ‖ hash ‖ size = 1 ‖ nonce = 0` either in its scriptSig (hash in RPC order, i.e. the
//! hex-decoded `hash` of `createauxblock`; the default, like every Namecoin pool) or as the bare
//! 44-byte scriptPubKey of a zero-value output (hash in internal order, like MARA). Both branches
//! are empty (index 0), so the merkle root is the coinbase txid. [`grind_header`] then increments
//! the header nonce (rolling the time on wrap-around) until `SHA256d(header) ≤ target`.

use bitcoin::block::{self, Header};
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{
    absolute, transaction, Amount, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Target,
    Transaction, TxIn, TxMerkleNode, TxOut, Witness,
};

use crate::auxpow::{AuxPow, MerkleBranch};
use crate::verify::MergedMiningHeader;
use crate::work::WorkHash;

/// Where the parent coinbase carries the merged-mining header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitmentPlacement {
    /// In the coinbase scriptSig (Namecoin standard).
    #[default]
    ScriptSig,
    /// As the scriptPubKey of an extra zero-value output (MARA style).
    Output,
}

/// Parameters of the parent block to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentBlockBuilder {
    /// Where the commitment goes.
    pub placement: CommitmentPlacement,
    /// Parent header version. Default `0x20000000` (BIP9; chain id 0x2000, no auxpow flag).
    pub version: i32,
    /// Parent header `bits` (unused by Alys verification; informational).
    pub bits: CompactTarget,
    /// Parent header time.
    pub time: u32,
    /// Parent `prev_blockhash`.
    pub prev_blockhash: BlockHash,
    /// Extra nonce pushed in the scriptSig (lets several miners build distinct parents).
    pub extra_nonce: u64,
    /// Payout output script of the parent coinbase.
    pub payout_script: ScriptBuf,
}

impl Default for ParentBlockBuilder {
    fn default() -> Self {
        ParentBlockBuilder {
            placement: CommitmentPlacement::ScriptSig,
            version: 0x2000_0000,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            time: 0,
            prev_blockhash: BlockHash::all_zeros(),
            extra_nonce: 0,
            payout_script: ScriptBuf::new(),
        }
    }
}

/// A direct push of `data` as raw script bytes; only called with 8 or 44 bytes (< 76).
fn push(out: &mut Vec<u8>, data: &[u8]) {
    out.push(data.len() as u8);
    out.extend_from_slice(data);
}

impl ParentBlockBuilder {
    /// The parent coinbase committing to `work_hash` (size 1, nonce 0).
    pub fn coinbase(&self, work_hash: &WorkHash) -> Transaction {
        let in_output = self.placement == CommitmentPlacement::Output;
        let header = MergedMiningHeader::encode(work_hash, 1, 0, in_output);
        let mut script_sig = Vec::with_capacity(56);
        if !in_output {
            push(&mut script_sig, &header);
        }
        push(&mut script_sig, &self.extra_nonce.to_le_bytes());
        let mut output = vec![TxOut {
            value: Amount::ZERO,
            script_pubkey: self.payout_script.clone(),
        }];
        if in_output {
            output.push(TxOut {
                value: Amount::ZERO,
                script_pubkey: ScriptBuf::from_bytes(header.to_vec()),
            });
        }
        Transaction {
            version: transaction::Version::ONE,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::from_bytes(script_sig),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output,
        }
    }

    /// An unsolved AuxPoW for `work_hash` (header nonce 0); grind it with [`grind_header`].
    pub fn build(&self, work_hash: &WorkHash) -> AuxPow {
        let coinbase_tx = self.coinbase(work_hash);
        let merkle_root = TxMerkleNode::from_raw_hash(coinbase_tx.compute_txid().to_raw_hash());
        AuxPow {
            coinbase_tx,
            parent_hash: BlockHash::all_zeros(),
            coinbase_branch: MerkleBranch::default(),
            chain_branch: MerkleBranch::default(),
            parent_header: Header {
                version: block::Version::from_consensus(self.version),
                prev_blockhash: self.prev_blockhash,
                merkle_root,
                time: self.time,
                bits: self.bits,
                nonce: 0,
            },
        }
    }

    /// Builds and grinds: at most `max_attempts` header hashes. Fills `parent_hash` on success.
    pub fn mine(&self, work_hash: &WorkHash, target: &Target, max_attempts: u64) -> Option<AuxPow> {
        let mut aux = self.build(work_hash);
        if grind_header(&mut aux.parent_header, target, max_attempts) {
            aux.parent_hash = aux.parent_header.block_hash();
            Some(aux)
        } else {
            None
        }
    }
}

/// Tries up to `max_attempts` nonces from `header.nonce` upwards (time + 1 when the nonce wraps)
/// until `SHA256d(header) ≤ target`. On success `header` holds the solution and `true` is
/// returned; otherwise `header` holds the next untried nonce/time.
pub fn grind_header(header: &mut Header, target: &Target, max_attempts: u64) -> bool {
    let mut buf = bitcoin::consensus::encode::serialize(header);
    if buf.len() != 80 {
        return false;
    }
    for _ in 0..max_attempts {
        buf[68..72].copy_from_slice(&header.time.to_le_bytes());
        buf[76..80].copy_from_slice(&header.nonce.to_le_bytes());
        let hash = BlockHash::from_raw_hash(sha256d::Hash::hash(&buf));
        if target.is_met_by(hash) {
            return true;
        }
        header.nonce = header.nonce.wrapping_add(1);
        if header.nonce == 0 {
            header.time = header.time.wrapping_add(1);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grind_finds_easy_target() {
        let target = Target::from_compact(CompactTarget::from_consensus(0x207f_ffff));
        let aux = ParentBlockBuilder::default()
            .mine(&WorkHash([3; 32]), &target, 1_000)
            .unwrap();
        assert!(target.is_met_by(aux.parent_header.block_hash()));
        assert_eq!(aux.parent_hash, aux.parent_header.block_hash());
    }

    #[test]
    fn grind_gives_up() {
        let mut h = ParentBlockBuilder::default()
            .build(&WorkHash([3; 32]))
            .parent_header;
        let impossible = Target::from_le_bytes([0; 32]);
        assert!(!grind_header(&mut h, &impossible, 10));
        assert_eq!(h.nonce, 10);
        h.nonce = u32::MAX;
        assert!(!grind_header(&mut h, &impossible, 2));
        assert_eq!((h.nonce, h.time), (1, 1));
    }
}
