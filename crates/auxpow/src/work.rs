//! The work hash handed to miners, binding the finalized range and the payout address.
//!
//! ```text
//! work_hash = SHA256d( preimage ), preimage (74 bytes) =
//!   offset  0  12 bytes  b"alys-auxwork"                      domain tag
//!   offset 12   2 bytes  auxpow chain id, u16 little-endian
//!   offset 14  32 bytes  root of the newest unfinalized consensus block (as is)
//!   offset 46   8 bytes  range start height, u64 little-endian
//!   offset 54  20 bytes  miner payout EVM address
//! ```
//!
//! The newest unfinalized root commits to the whole range through parent links, so a proof on
//! this hash finalizes `range_start ..= height(root)`, and the miner's fee share can only go to
//! `payout`: changing any field changes the hash the parent block's PoW committed to.
//!
//! [`WorkHash`] holds the 32 SHA256d output bytes in *internal* order. Its RPC form (the `hash`
//! of `createauxblock`, the first parameter of `submitauxblock`) is the reversed bytes in hex, as
//! Namecoin prints `uint256` (`GetHex`). A pool that hex-decodes that string and writes the bytes
//! after `fabe6d6d` in its coinbase scriptSig produces exactly what [`crate::verify`] expects.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::{Address, B256};
use bitcoin::hashes::{sha256d, Hash};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Domain tag at the start of the work preimage.
pub const WORK_DOMAIN_TAG: &[u8; 12] = b"alys-auxwork";

/// What a work hash commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkCommitment {
    /// The Alys auxpow chain id.
    pub chain_id: u16,
    /// Root of the newest unfinalized consensus block (end of the range).
    pub head_root: B256,
    /// Height of the first unfinalized block (start of the range).
    pub range_start: u64,
    /// EVM address receiving the miner's fee share.
    pub payout: Address,
}

impl WorkCommitment {
    /// Length of [`WorkCommitment::preimage`].
    pub const PREIMAGE_LEN: usize = 74;

    /// The exact bytes hashed (layout in the module docs).
    pub fn preimage(&self) -> [u8; Self::PREIMAGE_LEN] {
        let mut out = [0u8; Self::PREIMAGE_LEN];
        out[0..12].copy_from_slice(WORK_DOMAIN_TAG);
        out[12..14].copy_from_slice(&self.chain_id.to_le_bytes());
        out[14..46].copy_from_slice(self.head_root.as_slice());
        out[46..54].copy_from_slice(&self.range_start.to_le_bytes());
        out[54..74].copy_from_slice(self.payout.as_slice());
        out
    }

    /// `SHA256d(preimage)`.
    pub fn work_hash(&self) -> WorkHash {
        WorkHash(sha256d::Hash::hash(&self.preimage()).to_byte_array())
    }
}

/// A 32-byte hash in internal byte order; displayed and serialized reversed (RPC order).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct WorkHash(pub [u8; 32]);

/// A string that is not a 64-character hex hash.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid work hash {0:?}: expected 64 hex characters")]
pub struct WorkHashParseError(pub String);

impl WorkHash {
    /// From internal-order bytes.
    pub const fn from_byte_array(bytes: [u8; 32]) -> Self {
        WorkHash(bytes)
    }

    /// Internal-order bytes.
    pub const fn to_byte_array(self) -> [u8; 32] {
        self.0
    }

    /// As a `sha256d::Hash` (same internal bytes).
    pub fn to_sha256d(self) -> sha256d::Hash {
        sha256d::Hash::from_byte_array(self.0)
    }

    /// The RPC / display form: reversed bytes as 64 lower-case hex characters.
    pub fn to_rpc_hex(&self) -> String {
        let mut b = self.0;
        b.reverse();
        hex::encode(b)
    }

    /// Parses the RPC form (64 hex characters, either case, reversed order).
    pub fn from_rpc_hex(s: &str) -> Result<Self, WorkHashParseError> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).map_err(|_| WorkHashParseError(s.to_owned()))?;
        b.reverse();
        Ok(WorkHash(b))
    }
}

impl fmt::Display for WorkHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rpc_hex())
    }
}

impl fmt::Debug for WorkHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkHash({})", self.to_rpc_hex())
    }
}

impl FromStr for WorkHash {
    type Err = WorkHashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_rpc_hex(s)
    }
}

impl Serialize for WorkHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rpc_hex())
    }
}

impl<'de> Deserialize<'de> for WorkHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_rpc_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WorkCommitment {
        WorkCommitment {
            chain_id: 0x1234,
            head_root: B256::repeat_byte(0xaa),
            range_start: 0x0102_0304_0506_0708,
            payout: Address::repeat_byte(0x55),
        }
    }

    #[test]
    fn preimage_layout() {
        let p = sample().preimage();
        assert_eq!(&p[0..12], b"alys-auxwork");
        assert_eq!(&p[12..14], &[0x34, 0x12]);
        assert_eq!(&p[14..46], &[0xaa; 32]);
        assert_eq!(&p[46..54], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&p[54..74], &[0x55; 20]);
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = sample();
        let h = base.work_hash();
        assert_ne!(
            h,
            WorkCommitment {
                chain_id: 1,
                ..base
            }
            .work_hash()
        );
        assert_ne!(
            h,
            WorkCommitment {
                head_root: B256::ZERO,
                ..base
            }
            .work_hash()
        );
        assert_ne!(
            h,
            WorkCommitment {
                range_start: 0,
                ..base
            }
            .work_hash()
        );
        assert_ne!(
            h,
            WorkCommitment {
                payout: Address::ZERO,
                ..base
            }
            .work_hash()
        );
    }

    #[test]
    fn work_hash_is_sha256d_of_preimage() {
        let c = sample();
        let expected = sha256d::Hash::hash(&c.preimage()).to_byte_array();
        assert_eq!(c.work_hash().to_byte_array(), expected);
    }

    #[test]
    fn rpc_hex_is_reversed_and_round_trips() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0x01;
        bytes[31] = 0xff;
        let h = WorkHash(bytes);
        let s = h.to_rpc_hex();
        assert!(s.starts_with("ff") && s.ends_with("01") && s.len() == 64);
        assert_eq!(WorkHash::from_rpc_hex(&s).unwrap(), h);
        assert_eq!(WorkHash::from_rpc_hex(&s.to_uppercase()).unwrap(), h);
        assert!(WorkHash::from_rpc_hex("00").is_err());
        assert!(WorkHash::from_rpc_hex(&"g".repeat(64)).is_err());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<WorkHash>(&json).unwrap(), h);
    }
}
