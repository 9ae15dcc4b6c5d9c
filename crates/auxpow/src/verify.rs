//! AuxPoW verification: Namecoin's `CAuxPow::check` and `CheckAuxPowProofOfWork`, plus the Alys
//! rules of DESIGN §5.
//!
//! [`AuxPow::verify`] applies, in this order (the first failure is returned):
//!
//! 1. parent version has no auxpow flag (`version & 0x100 == 0`) — Namecoin
//!    `CheckAuxPowProofOfWork` ("auxpow parent block has auxpow version");
//! 2. [`AuxPow::check`], i.e. `CAuxPow::check`:
//!    1. coinbase branch index is 0 ([`AuxPowError::CoinbaseNotAtIndexZero`]);
//!    2. parent chain id ≠ ours. The parent chain id is `version / 65536` with C++ truncating
//!       division, exactly `CPureBlockHeader::GetChainId` (same as `version >> 16` for the
//!       non-negative versions Bitcoin uses). The rule applies whatever the parent's auxpow
//!       flag: Namecoin's `fStrictChainId` check is unconditional, and the real negative vector
//!       (parent version `0x00010001`, no flag) must fail with it;
//!    3. chain branch ≤ 30 hashes, coinbase branch ≤ 32 hashes;
//!    4. chain root = branch walk from the aux hash (Namecoin `CheckMerkleBranch`, index −1
//!       gives the zero hash); coinbase txid + coinbase branch = parent merkle root;
//!    5. (Alys) the coinbase is a real coinbase: exactly one input with a null prevout;
//!    6. the commitment (below); then `size == 2^h` and
//!       `chain index == getExpectedIndex(nonce, chainId, h)`;
//! 3. `bits` is a valid compact target (not negative, zero or overflowing), not above the pow
//!    limit, and `SHA256d(parent header) ≤ target` — Bitcoin Core's `CheckProofOfWork`.
//!
//! # Where the commitment may be
//! The 44-byte merged-mining header is `fabe6d6d ‖ root ‖ size (u32 LE) ‖ nonce (u32 LE)`.
//! Let *magic count* be the number of `fabe6d6d` occurrences in the scriptSig **and** in every
//! output scriptPubKey together.
//!
//! * count > 1 → [`AuxPowError::MultipleMergedMiningHeaders`]: one PoW commits to at most one
//!   chain root (DESIGN §5 "exactly once"). A pool merge-mining other chains must put them in
//!   the same chain merkle tree.
//! * count = 1 in the scriptSig → Namecoin standard: the root in *display order* (reversed
//!   internal bytes, as Namecoin's `vchRootHash`) must first occur right after the magic.
//! * count = 1 in an output → MARA style: the root in *internal order* right after the magic,
//!   anywhere in that scriptPubKey (MARA uses the bare 44 bytes as the script). The real MARA
//!   coinbases of `bitcoin_coinbase_mm_commitments.json` store the hash this way (the
//!   reference sidechain verified them so): a pool writing the RPC `hash` reversed in an output.
//! * count = 0 → Namecoin's legacy rule: the display-order root must occur in the scriptSig
//!   starting within its first 20 bytes. Any magic anywhere disables the legacy path, so a
//!   coinbase can never carry two commitments.
//!
//! In every case 8 bytes (size, nonce) must follow the root in the same script.

use bitcoin::block;
use bitcoin::hashes::{sha256d, Hash, HashEngine};
use bitcoin::{CompactTarget, Target, Transaction};

use crate::auxpow::{AuxPow, MAX_CHAIN_BRANCH_LEN, MAX_COINBASE_BRANCH_LEN};
use crate::difficulty::target_from_compact;
use crate::error::AuxPowError;
use crate::work::WorkHash;

/// The merged-mining magic `fa be 'm' 'm'`.
pub const MERGED_MINING_MAGIC: [u8; 4] = [0xfa, 0xbe, 0x6d, 0x6d];

/// Length of a full merged-mining header (magic, root, size, nonce).
pub const MERGED_MINING_HEADER_LEN: usize = 44;

/// Parent-version flag marking a block as auxpow (`CPureBlockHeader::VERSION_AUXPOW`).
pub const VERSION_AUXPOW_FLAG: i32 = 1 << 8;

/// What the caller fixes for verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyParams {
    /// Our auxpow chain id.
    pub chain_id: u16,
    /// Highest target `bits` may encode.
    pub pow_limit: Target,
}

/// Where the chain merkle root was found in the parent coinbase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitmentLocation {
    /// After the magic in the scriptSig (Namecoin standard); offset of the magic.
    ScriptSig {
        /// Byte offset of the magic in the scriptSig.
        offset: usize,
    },
    /// No magic anywhere; root within the first 20 bytes of the scriptSig (Namecoin legacy).
    LegacyScriptSig {
        /// Byte offset of the root in the scriptSig.
        offset: usize,
    },
    /// After the magic in an output's scriptPubKey (MARA style).
    Output {
        /// Output index.
        vout: usize,
        /// Byte offset of the magic in the scriptPubKey.
        offset: usize,
    },
}

/// A parsed 44-byte merged-mining header found in a coinbase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedMiningHeader {
    /// Where the magic is.
    pub location: CommitmentLocation,
    /// The committed chain merkle root, normalised to internal byte order (reversed back for a
    /// scriptSig header, as stored for an output header).
    pub root: WorkHash,
    /// Chain merkle tree size.
    pub size: u32,
    /// Chain merkle nonce.
    pub nonce: u32,
}

impl MergedMiningHeader {
    /// The 44 header bytes for `root` (internal order), `size` and `nonce` as they must appear
    /// in a coinbase output (`in_output`, root as is) or scriptSig (root reversed).
    pub fn encode(root: &WorkHash, size: u32, nonce: u32, in_output: bool) -> [u8; 44] {
        let mut out = [0u8; MERGED_MINING_HEADER_LEN];
        out[0..4].copy_from_slice(&MERGED_MINING_MAGIC);
        let mut r = root.to_byte_array();
        if !in_output {
            r.reverse();
        }
        out[4..36].copy_from_slice(&r);
        out[36..40].copy_from_slice(&size.to_le_bytes());
        out[40..44].copy_from_slice(&nonce.to_le_bytes());
        out
    }

    /// Every complete merged-mining header (magic followed by at least 40 bytes) in the
    /// scriptSig of the first input and in every output of `tx`, in that order.
    pub fn find_all(tx: &Transaction) -> Vec<MergedMiningHeader> {
        let mut out = Vec::new();
        for (location, script, in_output) in magic_occurrences(tx) {
            let offset = match location {
                CommitmentLocation::ScriptSig { offset }
                | CommitmentLocation::Output { offset, .. }
                | CommitmentLocation::LegacyScriptSig { offset } => offset,
            };
            let Some(h) = script.get(offset..offset.saturating_add(MERGED_MINING_HEADER_LEN))
            else {
                continue;
            };
            if h.len() != MERGED_MINING_HEADER_LEN {
                continue;
            }
            let mut root = [0u8; 32];
            root.copy_from_slice(&h[4..36]);
            if !in_output {
                root.reverse();
            }
            out.push(MergedMiningHeader {
                location,
                root: WorkHash(root),
                size: le_u32(&h[36..40]),
                nonce: le_u32(&h[40..44]),
            });
        }
        out
    }
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_le_bytes(a)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_all_positions<'a>(
    haystack: &'a [u8],
    needle: &'a [u8],
) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len().max(1))
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

/// Every magic occurrence: (location, script bytes, is-output).
fn magic_occurrences(tx: &Transaction) -> Vec<(CommitmentLocation, &[u8], bool)> {
    let mut out = Vec::new();
    if let Some(input) = tx.input.first() {
        let s = input.script_sig.as_bytes();
        for offset in find_all_positions(s, &MERGED_MINING_MAGIC) {
            out.push((CommitmentLocation::ScriptSig { offset }, s, false));
        }
    }
    for (vout, o) in tx.output.iter().enumerate() {
        let s = o.script_pubkey.as_bytes();
        for offset in find_all_positions(s, &MERGED_MINING_MAGIC) {
            out.push((CommitmentLocation::Output { vout, offset }, s, true));
        }
    }
    out
}

/// Namecoin `CheckMerkleBranch`: walks `branch` up from `leaf`; index −1 yields the zero hash.
/// Bit *i* of `index` set means the sibling at level *i* is on the left.
pub fn merkle_branch_root(
    leaf: sha256d::Hash,
    branch: &[sha256d::Hash],
    index: i32,
) -> sha256d::Hash {
    if index == -1 {
        return sha256d::Hash::all_zeros();
    }
    let mut hash = leaf;
    let mut idx = index;
    for sibling in branch {
        let mut engine = sha256d::Hash::engine();
        if idx & 1 == 1 {
            engine.input(sibling.as_byte_array());
            engine.input(hash.as_byte_array());
        } else {
            engine.input(hash.as_byte_array());
            engine.input(sibling.as_byte_array());
        }
        hash = sha256d::Hash::from_engine(engine);
        idx >>= 1; // arithmetic shift, as C++ `int >>= 1`
    }
    hash
}

/// Namecoin `CAuxPow::getExpectedIndex`: the chain merkle slot for (`nonce`, `chain_id`) in a
/// tree of height `h` (uint32 wrapping arithmetic; `h ≤ 30` in valid proofs).
pub fn expected_index(nonce: u32, chain_id: u16, h: u32) -> u32 {
    let mut rand = nonce;
    rand = rand.wrapping_mul(1_103_515_245).wrapping_add(12_345);
    rand = rand.wrapping_add(u32::from(chain_id));
    rand = rand.wrapping_mul(1_103_515_245).wrapping_add(12_345);
    match 1u32.checked_shl(h) {
        Some(m) => rand % m,
        None => rand,
    }
}

/// `CPureBlockHeader::GetChainId`: `nVersion / VERSION_CHAIN_START` (truncating division).
pub fn parent_chain_id(version: i32) -> i32 {
    version / (1 << 16)
}

/// Whether a parent header version carries the auxpow flag.
pub fn has_auxpow_flag(header: &block::Header) -> bool {
    header.version.to_consensus() & VERSION_AUXPOW_FLAG != 0
}

impl AuxPow {
    /// Full verification for aux block hash `aux_hash` with our `params` and the expected
    /// `bits` (the caller checks that `bits` is the consensus-expected value).
    pub fn verify(
        &self,
        aux_hash: &WorkHash,
        bits: CompactTarget,
        params: &VerifyParams,
    ) -> Result<CommitmentLocation, AuxPowError> {
        if has_auxpow_flag(&self.parent_header) {
            return Err(AuxPowError::ParentHasAuxPowFlag {
                version: self.parent_header.version.to_consensus(),
            });
        }
        let location = self.check(aux_hash, params.chain_id)?;
        self.check_proof_of_work(bits, &params.pow_limit)?;
        Ok(location)
    }

    /// The parent header hash meets `bits`, which must be a valid target ≤ `pow_limit`.
    pub fn check_proof_of_work(
        &self,
        bits: CompactTarget,
        pow_limit: &Target,
    ) -> Result<(), AuxPowError> {
        let raw = bits.to_consensus();
        let target = target_from_compact(bits).ok_or(AuxPowError::InvalidBits { bits: raw })?;
        if target > *pow_limit {
            return Err(AuxPowError::BitsAboveLimit { bits: raw });
        }
        if !target.is_met_by(self.parent_header.block_hash()) {
            return Err(AuxPowError::InsufficientWork);
        }
        Ok(())
    }

    /// Namecoin's `CAuxPow::check` with the Alys additions (module docs); no PoW check.
    pub fn check(
        &self,
        aux_hash: &WorkHash,
        chain_id: u16,
    ) -> Result<CommitmentLocation, AuxPowError> {
        if self.coinbase_branch.index != 0 {
            return Err(AuxPowError::CoinbaseNotAtIndexZero {
                index: self.coinbase_branch.index,
            });
        }
        let parent_id = parent_chain_id(self.parent_header.version.to_consensus());
        if parent_id == i32::from(chain_id) {
            return Err(AuxPowError::ParentHasOurChainId {
                chain_id: parent_id,
            });
        }
        let h = self.chain_branch.hashes.len();
        if h > MAX_CHAIN_BRANCH_LEN {
            return Err(AuxPowError::ChainBranchTooLong { len: h as u64 });
        }
        if self.coinbase_branch.hashes.len() > MAX_COINBASE_BRANCH_LEN {
            return Err(AuxPowError::CoinbaseBranchTooLong {
                len: self.coinbase_branch.hashes.len() as u64,
            });
        }

        let root = WorkHash(
            merkle_branch_root(
                aux_hash.to_sha256d(),
                &self.chain_branch.hashes,
                self.chain_branch.index,
            )
            .to_byte_array(),
        );

        let txid = self.coinbase_tx.compute_txid().to_raw_hash();
        let merkle = merkle_branch_root(txid, &self.coinbase_branch.hashes, 0);
        if merkle != self.parent_header.merkle_root.to_raw_hash() {
            return Err(AuxPowError::MerkleRootMismatch);
        }

        if !self.coinbase_tx.is_coinbase() {
            return Err(AuxPowError::NotACoinbase);
        }

        let (location, after_root) = self.locate_commitment(&root)?;

        if after_root.len() < 8 {
            return Err(AuxPowError::MissingSizeAndNonce);
        }
        let size = le_u32(&after_root[0..4]);
        let nonce = le_u32(&after_root[4..8]);
        // h <= 30 here, so the shift cannot overflow.
        let expected_size = 1u32 << h;
        if size != expected_size {
            return Err(AuxPowError::WrongSize {
                expected: expected_size,
                actual: size,
            });
        }
        let expected = expected_index(nonce, chain_id, h as u32);
        if i64::from(self.chain_branch.index) != i64::from(expected) {
            return Err(AuxPowError::WrongChainIndex {
                expected,
                actual: self.chain_branch.index,
            });
        }
        Ok(location)
    }

    /// Finds the root per the placement rules; returns its location and the bytes after it.
    fn locate_commitment(
        &self,
        root: &WorkHash,
    ) -> Result<(CommitmentLocation, &[u8]), AuxPowError> {
        let internal = root.to_byte_array();
        let mut display = internal;
        display.reverse();

        let magics = magic_occurrences(&self.coinbase_tx);
        match magics.as_slice() {
            [] => {
                // Namecoin legacy rule on the scriptSig (is_coinbase() guarantees an input).
                let script = self
                    .coinbase_tx
                    .input
                    .first()
                    .map(|i| i.script_sig.as_bytes())
                    .unwrap_or(&[]);
                let pc = find(script, &display).ok_or(AuxPowError::ChainRootNotFound)?;
                if pc > 20 {
                    return Err(AuxPowError::LegacyRootTooLate { offset: pc });
                }
                let rest = script.get(pc.saturating_add(32)..).unwrap_or(&[]);
                Ok((CommitmentLocation::LegacyScriptSig { offset: pc }, rest))
            }
            [(location, script, in_output)] => {
                let needle = if *in_output { &internal } else { &display };
                let magic_at = match *location {
                    CommitmentLocation::Output { offset, .. }
                    | CommitmentLocation::ScriptSig { offset }
                    | CommitmentLocation::LegacyScriptSig { offset } => offset,
                };
                let pc = find(script, needle).ok_or(AuxPowError::ChainRootNotFound)?;
                if pc != magic_at.saturating_add(MERGED_MINING_MAGIC.len()) {
                    return Err(AuxPowError::MergedMiningHeaderNotBeforeRoot);
                }
                let rest = script.get(pc.saturating_add(32)..).unwrap_or(&[]);
                Ok((*location, rest))
            }
            many => Err(AuxPowError::MultipleMergedMiningHeaders { count: many.len() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_index_matches_namecoin_formula() {
        // h = 0 always gives slot 0.
        for nonce in [0u32, 1, 7, u32::MAX] {
            assert_eq!(expected_index(nonce, 1, 0), 0);
        }
        // Worked by hand: nonce 0, chain 1 → rand = 12345 + 1 = 12346;
        // 12346 * 1103515245 + 12345 mod 2^32.
        let r = 12_346u64 * 1_103_515_245 + 12_345;
        assert_eq!(expected_index(0, 1, 30), (r % (1 << 30)) as u32);
    }

    #[test]
    fn chain_id_is_truncating_division() {
        assert_eq!(parent_chain_id(0x0001_0101), 1);
        assert_eq!(parent_chain_id(0x2000_0000), 0x2000);
        assert_eq!(parent_chain_id(-1), 0); // C++ `/`, not `>>`
        assert_eq!(parent_chain_id(i32::MIN), -32768);
    }

    #[test]
    fn merkle_index_minus_one_is_zero() {
        let leaf = sha256d::Hash::hash(b"x");
        assert_eq!(
            merkle_branch_root(leaf, &[leaf], -1),
            sha256d::Hash::all_zeros()
        );
        assert_eq!(merkle_branch_root(leaf, &[], 0), leaf);
    }
}
