//! Serde types for the miner RPC, shaped exactly as Namecoin Core's.
//!
//! `createauxblock <address>` (and `getauxblock` without arguments) returns
//!
//! ```json
//! {"hash": "<64 hex>", "chainid": 1, "previousblockhash": "<64 hex>",
//!  "coinbasevalue": 5000000000, "bits": "207fffff", "height": 12, "_target": "<64 hex>"}
//! ```
//!
//! * `hash`: the [`WorkHash`] in RPC order (reversed, Namecoin `uint256::GetHex`);
//! * `chainid`, `coinbasevalue`, `height`: JSON integers;
//! * `bits`: `strprintf("%08x", nBits)`, always 8 lower-case hex characters;
//! * `_target`: Namecoin's `HexStr` of the 32 bytes of the target as a `uint256`, which stores
//!   the number little-endian: the least significant byte comes first, so an easy target
//!   *ends* in `…7f` and a hard one *starts* with non-zero bytes. It is therefore the byte
//!   reverse of the usual big-endian target hex. Pools (and [`crate::parent_block`]) compare the
//!   parent hash against it in the same little-endian order.
//!
//! `previousblockhash` is the newest unfinalized consensus block root (what the work builds on),
//! as plain 64-character hex of its bytes; pools treat it as an opaque change marker.

use alloy_primitives::B256;
use bitcoin::{CompactTarget, Target};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::work::WorkHash;

/// Result of `createauxblock` / `getauxblock` (no arguments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAuxBlockResponse {
    /// Work hash to commit in the parent coinbase (RPC order hex).
    pub hash: WorkHash,
    /// Our auxpow chain id.
    pub chainid: u16,
    /// Root of the newest unfinalized block, plain hex.
    #[serde(with = "plain_hex_b256")]
    pub previousblockhash: B256,
    /// Value the miner's address receives (Namecoin: coinbase value in base units).
    pub coinbasevalue: u64,
    /// Compact target, `%08x`.
    #[serde(with = "bits_hex")]
    pub bits: CompactTarget,
    /// Height of the block the work is for (Namecoin: `pindexPrev->nHeight + 1`).
    pub height: u64,
    /// Target as 64 hex characters, little-endian (see module docs).
    #[serde(rename = "_target", with = "target_le_hex")]
    pub target: Target,
}

impl CreateAuxBlockResponse {
    /// Builds the response; `_target` is derived from `bits` (zero for invalid bits).
    pub fn new(
        hash: WorkHash,
        chainid: u16,
        previousblockhash: B256,
        coinbasevalue: u64,
        bits: CompactTarget,
        height: u64,
    ) -> Self {
        let target = crate::difficulty::target_from_compact(bits).unwrap_or(Target::ZERO);
        CreateAuxBlockResponse {
            hash,
            chainid,
            previousblockhash,
            coinbasevalue,
            bits,
            height,
            target,
        }
    }
}

/// `_target` little-endian hex ⇄ [`Target`].
pub mod target_le_hex {
    use super::*;

    /// Little-endian hex of `t` (64 characters).
    pub fn to_hex(t: &Target) -> String {
        hex::encode(t.to_le_bytes())
    }

    /// Parses 64 little-endian hex characters.
    pub fn from_hex(s: &str) -> Option<Target> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(Target::from_le_bytes(b))
    }

    /// Serde serializer.
    pub fn serialize<S: Serializer>(t: &Target, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(t))
    }

    /// Serde deserializer.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        let s = String::deserialize(d)?;
        from_hex(&s).ok_or_else(|| serde::de::Error::custom("_target must be 64 hex characters"))
    }
}

/// `bits` as `%08x` ⇄ [`CompactTarget`].
pub mod bits_hex {
    use super::*;

    /// `%08x`.
    pub fn to_hex(b: CompactTarget) -> String {
        format!("{:08x}", b.to_consensus())
    }

    /// Parses exactly 8 hex characters.
    pub fn from_hex(s: &str) -> Option<CompactTarget> {
        let mut b = [0u8; 4];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(CompactTarget::from_consensus(u32::from_be_bytes(b)))
    }

    /// Serde serializer.
    pub fn serialize<S: Serializer>(b: &CompactTarget, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(*b))
    }

    /// Serde deserializer.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CompactTarget, D::Error> {
        let s = String::deserialize(d)?;
        from_hex(&s).ok_or_else(|| serde::de::Error::custom("bits must be 8 hex characters"))
    }
}

/// [`B256`] as 64 hex characters without `0x` (accepts an optional `0x` when parsing).
pub mod plain_hex_b256 {
    use super::*;

    /// Serde serializer.
    pub fn serialize<S: Serializer>(v: &B256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v.as_slice()))
    }

    /// Serde deserializer.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<B256, D::Error> {
        let s = String::deserialize(d)?;
        let s = s.strip_prefix("0x").unwrap_or(&s);
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b)
            .map_err(|_| serde::de::Error::custom("expected 64 hex characters"))?;
        Ok(B256::from(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn shape_and_types_match_namecoin() {
        let hash = WorkHash([0x11; 32]);
        let bits = CompactTarget::from_consensus(0x207f_ffff);
        let r = CreateAuxBlockResponse::new(hash, 1, B256::repeat_byte(0xab), 5_000, bits, 12);
        let v: Value = serde_json::to_value(&r).unwrap();
        let obj = v.as_object().unwrap();
        let mut keys: Vec<_> = obj.keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "_target",
                "bits",
                "chainid",
                "coinbasevalue",
                "hash",
                "height",
                "previousblockhash"
            ]
        );
        assert_eq!(obj["bits"], "207fffff");
        assert!(obj["chainid"].is_u64() && obj["coinbasevalue"].is_u64() && obj["height"].is_u64());
        assert_eq!(obj["hash"].as_str().unwrap().len(), 64);
        assert_eq!(obj["previousblockhash"], "ab".repeat(32));
        // Regtest target 0x7fffff << 232: little-endian hex ends with "ffff7f".
        let t = obj["_target"].as_str().unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(t, format!("{}ffff7f", "0".repeat(58)));
        let back: CreateAuxBlockResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn bits_always_eight_chars() {
        assert_eq!(
            bits_hex::to_hex(CompactTarget::from_consensus(0x0101_0000)),
            "01010000"
        );
        assert_eq!(
            bits_hex::to_hex(CompactTarget::from_consensus(0x10)),
            "00000010"
        );
        assert!(bits_hex::from_hex("1d00ff").is_none());
    }

    #[test]
    fn mainnet_target_little_endian() {
        // Namecoin _target for bits 1d00ffff: 0x00000000ffff0000...0 little-endian.
        let t = Target::from_compact(CompactTarget::from_consensus(0x1d00_ffff));
        assert_eq!(
            target_le_hex::to_hex(&t),
            format!("{}ffff00000000", "0".repeat(52))
        );
        assert_eq!(target_le_hex::from_hex(&target_le_hex::to_hex(&t)), Some(t));
    }
}
