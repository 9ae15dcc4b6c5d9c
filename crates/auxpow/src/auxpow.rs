//! The [`AuxPow`] type and its exact consensus encoding.
//!
//! Serialization (Namecoin `CAuxPow`, identical in Dogecoin), all integers little-endian:
//!
//! ```text
//! coinbase tx          Bitcoin transaction (legacy or segwit serialization, as given)
//! parent block hash    32 bytes, unused by verification (often all zero)
//! coinbase branch      varint n, n × 32-byte hashes, int32 index (must be 0)
//! chain branch         varint n, n × 32-byte hashes, int32 index
//! parent header        80-byte Bitcoin block header
//! ```
//!
//! Decoding is strict and total: it never panics, rejects trailing bytes, and caps the branch
//! lengths *before* reading them ([`MAX_COINBASE_BRANCH_LEN`], [`MAX_CHAIN_BRANCH_LEN`]). The
//! transaction decoder is rust-bitcoin's, which rejects non-minimal varints and a segwit flag
//! without witnesses, so every accepted input re-encodes byte-identically.

use bitcoin::consensus::encode::{self, Decodable, Encodable, VarInt};
use bitcoin::hashes::sha256d;
use bitcoin::{block, io, BlockHash, Transaction};

use crate::error::AuxPowError;

/// Longest chain merkle branch accepted (Namecoin: `vChainMerkleBranch.size() > 30` is invalid).
pub const MAX_CHAIN_BRANCH_LEN: usize = 30;

/// Longest coinbase merkle branch accepted. 32 levels cover 2³² transactions, far beyond any
/// Bitcoin block (Namecoin has no explicit cap; this bounds work and memory).
pub const MAX_COINBASE_BRANCH_LEN: usize = 32;

/// A merkle branch: sibling hashes from the leaf upwards plus the leaf's index (int32 on the
/// wire; bit *i* of the index says whether the sibling at level *i* is on the left).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MerkleBranch {
    /// Sibling hashes, internal byte order, leaf level first.
    pub hashes: Vec<sha256d::Hash>,
    /// Index of the leaf (signed as in Namecoin's `int nIndex`).
    pub index: i32,
}

/// A merged-mining proof: a Bitcoin coinbase committing to an aux block hash, the merkle branch
/// from that coinbase to the parent header's merkle root, the chain merkle branch from the aux
/// hash to the committed root, and the parent header whose hash carries the work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuxPow {
    /// The parent block's coinbase transaction.
    pub coinbase_tx: Transaction,
    /// The "parent block hash" field of the serialization; carried for round-trip fidelity only.
    pub parent_hash: BlockHash,
    /// Branch from the coinbase txid to the parent merkle root (index must be 0).
    pub coinbase_branch: MerkleBranch,
    /// Branch from the aux block hash to the chain merkle root committed in the coinbase.
    pub chain_branch: MerkleBranch,
    /// The 80-byte parent (Bitcoin) block header.
    pub parent_header: block::Header,
}

/// Failure inside the decoder: either rust-bitcoin's error or one of our caps.
enum DecodeFail {
    Encode(encode::Error),
    Rule(AuxPowError),
}

impl From<encode::Error> for DecodeFail {
    fn from(e: encode::Error) -> Self {
        DecodeFail::Encode(e)
    }
}

impl From<io::Error> for DecodeFail {
    fn from(e: io::Error) -> Self {
        DecodeFail::Encode(encode::Error::Io(e))
    }
}

fn map_encode_error(e: encode::Error) -> AuxPowError {
    match e {
        encode::Error::Io(ref io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            AuxPowError::Truncated
        }
        other => AuxPowError::Malformed(other.to_string()),
    }
}

fn decode_branch<R: io::Read + ?Sized>(
    r: &mut R,
    max: usize,
    too_long: fn(u64) -> AuxPowError,
) -> Result<MerkleBranch, DecodeFail> {
    let VarInt(n) = VarInt::consensus_decode_from_finite_reader(r)?;
    if n > max as u64 {
        return Err(DecodeFail::Rule(too_long(n)));
    }
    // `n <= max <= 32`, so the conversion and the allocation are bounded.
    let mut hashes = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for _ in 0..n {
        hashes.push(sha256d::Hash::consensus_decode_from_finite_reader(r)?);
    }
    let index = i32::consensus_decode_from_finite_reader(r)?;
    Ok(MerkleBranch { hashes, index })
}

fn encode_branch<W: io::Write + ?Sized>(b: &MerkleBranch, w: &mut W) -> Result<usize, io::Error> {
    let mut len = VarInt(b.hashes.len() as u64).consensus_encode(w)?;
    for h in &b.hashes {
        len += h.consensus_encode(w)?;
    }
    len += b.index.consensus_encode(w)?;
    Ok(len)
}

impl AuxPow {
    fn decode_inner<R: io::Read + ?Sized>(r: &mut R) -> Result<Self, DecodeFail> {
        let coinbase_tx = Transaction::consensus_decode_from_finite_reader(r)?;
        let parent_hash = BlockHash::consensus_decode_from_finite_reader(r)?;
        let coinbase_branch = decode_branch(r, MAX_COINBASE_BRANCH_LEN, |len| {
            AuxPowError::CoinbaseBranchTooLong { len }
        })?;
        let chain_branch = decode_branch(r, MAX_CHAIN_BRANCH_LEN, |len| {
            AuxPowError::ChainBranchTooLong { len }
        })?;
        let parent_header = block::Header::consensus_decode_from_finite_reader(r)?;
        Ok(AuxPow {
            coinbase_tx,
            parent_hash,
            coinbase_branch,
            chain_branch,
            parent_header,
        })
    }

    /// Decodes an AuxPoW from exactly `bytes` (trailing bytes are an error).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuxPowError> {
        let mut reader: &[u8] = bytes;
        let aux = Self::decode_inner(&mut reader).map_err(|e| match e {
            DecodeFail::Encode(e) => map_encode_error(e),
            DecodeFail::Rule(e) => e,
        })?;
        if !reader.is_empty() {
            return Err(AuxPowError::TrailingBytes {
                extra: reader.len(),
            });
        }
        Ok(aux)
    }

    /// Decodes an AuxPoW from hex (as `submitauxblock` receives it; case-insensitive).
    pub fn from_hex(s: &str) -> Result<Self, AuxPowError> {
        let bytes = hex::decode(s.trim()).map_err(|e| AuxPowError::InvalidHex(e.to_string()))?;
        Self::from_bytes(&bytes)
    }

    /// The consensus encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode::serialize(self)
    }

    /// The consensus encoding as lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }
}

/// Serialized as the hex of the consensus encoding (as `submitauxblock` takes it).
impl serde::Serialize for AuxPow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for AuxPow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AuxPow::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

impl Encodable for AuxPow {
    fn consensus_encode<W: io::Write + ?Sized>(&self, w: &mut W) -> Result<usize, io::Error> {
        let mut len = self.coinbase_tx.consensus_encode(w)?;
        len += self.parent_hash.consensus_encode(w)?;
        len += encode_branch(&self.coinbase_branch, w)?;
        len += encode_branch(&self.chain_branch, w)?;
        len += self.parent_header.consensus_encode(w)?;
        Ok(len)
    }
}

impl Decodable for AuxPow {
    /// Streaming decode for embedding in larger structures. Branch caps surface as
    /// `ParseFailed`; prefer [`AuxPow::from_bytes`] for typed errors.
    fn consensus_decode_from_finite_reader<R: io::Read + ?Sized>(
        r: &mut R,
    ) -> Result<Self, encode::Error> {
        Self::decode_inner(r).map_err(|e| match e {
            DecodeFail::Encode(e) => e,
            DecodeFail::Rule(AuxPowError::CoinbaseBranchTooLong { .. }) => {
                encode::Error::ParseFailed("auxpow coinbase merkle branch too long")
            }
            DecodeFail::Rule(_) => {
                encode::Error::ParseFailed("auxpow chain merkle branch too long")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_truncated() {
        assert_eq!(AuxPow::from_bytes(&[]), Err(AuxPowError::Truncated));
    }

    #[test]
    fn serde_is_hex_and_typed() {
        let e = serde_json::from_str::<AuxPow>("\"00\"").unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }

    #[test]
    fn bad_hex_is_typed() {
        assert!(matches!(
            AuxPow::from_hex("zz"),
            Err(AuxPowError::InvalidHex(_))
        ));
    }
}
