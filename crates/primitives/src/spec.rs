//! The chain spec: one JSON file per network, validated at load with field-level errors.
//!
//! Fields (camelCase; defaults in brackets):
//!
//! | field | meaning |
//! |---|---|
//! | `chainId` | EVM chain id (required, must equal `genesis.config.chainId`) |
//! | `auxpowChainId` | 16-bit AuxPoW chain id, not 0, 1 (Namecoin) or 98 (Dogecoin) [0x414C] |
//! | `slotDurationMs` | slot length, a positive multiple of 1000 [2000] |
//! | `authorities` | BLS G1 compressed public keys (hex), ordered, distinct, 1..=256 |
//! | `authorityProofsOfPossession` | one BLS proof of possession per authority, same order (required) |
//! | `approvalThreshold` | approvals needed, 1..=n, more than n/2 [ceil(2n/3)] |
//! | `allowMinorityThreshold` | accept an `approvalThreshold` of at most n/2 [false] |
//! | `maxBlocksWithoutPow` | blocks allowed past the finalized one without AuxPoW, ≥ 1 [3600] |
//! | `federationFeeAddresses` | EVM addresses receiving the federation fee share, at most 7 [] (required if `minerFeeShare` < 100) |
//! | `minerFeeShare` | percent of re-minted fees to the miner, ≤ 100 [80] |
//! | `federationBitcoinPubkeys`, `pegThreshold`, `bitcoinNetwork`, `bitcoinStartHeight`, `requiredBtcConfirmations`, `pow`, `minPegInSats`, `minPegOutSats`, `maxPegOutFeeRate`, `emergency` | peg and merged-mining parameters, optional until their features land |
//! | `genesis` | Geth genesis JSON; London..Cancun active at genesis, merged at genesis; the `Bridge` predeploy in `alloc` with slot 0 = `minPegOutSats` ([`crate::bridge`]) |
//!
//! Unknown fields are rejected (a misspelt field must not silently fall back to a default).
//! Numbers may be JSON numbers, decimal strings or `0x` hex strings. The file is read with
//! serde (the `file` submodule owns its shape and the defaults) and every parse error names the
//! field's path; [`ChainSpec::validate`] then checks the rules between fields.
//!
//! **Authority keys.** `authorityProofsOfPossession[i]` is the signature by `authorities[i]` of
//! its own compressed public key under the proof-of-possession tag (`bls::POP_DST`; `alys keys
//! inspect` prints it). Block approvals are verified as an aggregate over the approving keys;
//! without these proofs one member could list a rogue key derived from the others' and forge an
//! aggregate approval alone.
//!
//! **Threshold.** An `approvalThreshold` of at most half the authorities lets two disjoint
//! halves approve conflicting blocks; it is refused unless `allowMinorityThreshold` is `true`
//! (a test network, or a two-member federation where one member may sign alone).
//!
//! **Fee addresses.** At most [`MAX_FEDERATION_FEE_ADDRESSES`] (7): a PoW-carrying block holds
//! up to 8 peg-in mints, the miner's share and one withdrawal per fee address within a
//! payload's 16 withdrawals (`withdrawals::MAX_FEDERATION_FEE_ADDRESSES`).
//!
//! The default `maxBlocksWithoutPow` of 3600 blocks is two hours at 2 s slots: long enough to
//! ride out a Bitcoin block drought or a pool outage, short enough that the federation alone
//! cannot extend the chain for long.
//!
//! **Spec hash** ([`ChainSpec::spec_hash`]): keccak256 of the canonical JSON of the validated
//! spec: every field present (defaults filled in), object keys sorted lexicographically at every
//! level, no whitespace, numbers as produced by the field types' serde (`U256` as `0x` hex,
//! `u64` as JSON numbers). Two files that differ only in formatting, key order or spelled-out
//! defaults therefore have the same hash.

mod file;

use crate::bls::{PublicKey, Signature};
pub use crate::withdrawals::MAX_FEDERATION_FEE_ADDRESSES;
use alloy::serde::quantity;
use alloy_genesis::Genesis;
use alloy_primitives::{keccak256, Address, B256};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

/// Default AuxPoW chain id ("AL").
pub const DEFAULT_AUXPOW_CHAIN_ID: u16 = 0x414C;
/// Default slot duration.
pub const DEFAULT_SLOT_DURATION_MS: u64 = 2000;
/// Default `maxBlocksWithoutPow` (see the module docs).
pub const DEFAULT_MAX_BLOCKS_WITHOUT_POW: u64 = 3600;
/// Default miner fee share, percent.
pub const DEFAULT_MINER_FEE_SHARE: u8 = 80;
/// Largest supported federation.
pub const MAX_AUTHORITIES: usize = crate::block::MAX_AUTHORITIES;

/// A chain-spec validation error: which field, its offending value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chain spec: field `{field}` = {value}: {reason}")]
pub struct SpecError {
    /// JSON path of the field (e.g. `authorities[2]`, `genesis.config.cancunTime`).
    pub field: String,
    /// The offending value (truncated).
    pub value: String,
    /// Why it is invalid.
    pub reason: String,
}

impl SpecError {
    /// A new error.
    pub fn new(
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        let mut value: String = value.into();
        if value.len() > 200 {
            let mut cut = 200;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push('…');
        }
        Self {
            field: field.into(),
            value,
            reason: reason.into(),
        }
    }
}

/// Merged-mining difficulty parameters (consumed by the auxpow crate).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PowSpec {
    /// Easiest allowed target, compact form (e.g. `0x207fffff`).
    #[serde(deserialize_with = "quantity::deserialize")]
    pub pow_limit: u32,
    /// Target seconds between AuxPoWs.
    #[serde(deserialize_with = "quantity::deserialize")]
    pub target_spacing_secs: u64,
    /// ASERT half-life in seconds.
    #[serde(deserialize_with = "quantity::deserialize")]
    pub half_life_secs: u64,
    /// Initial target, compact form.
    #[serde(deserialize_with = "quantity::deserialize")]
    pub bits: u32,
}

/// Emergency recovery keys (taproot leaf B, consumed by the federation crate).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmergencySpec {
    /// Bitcoin public keys (hex, x-only or compressed).
    pub pubkeys: Vec<String>,
    /// Signatures required.
    pub threshold: u32,
    /// Relative timelock (blocks) before the emergency path is usable.
    pub csv_delay: u32,
}

/// A validated chain spec. Obtain one with [`ChainSpec::from_file`],
/// [`ChainSpec::from_json_str`] or [`ChainSpec::dev`]; after editing fields by hand, call
/// [`ChainSpec::validate`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainSpec {
    /// EVM chain id.
    pub chain_id: u64,
    /// AuxPoW chain id.
    pub auxpow_chain_id: u16,
    /// Slot duration in milliseconds.
    pub slot_duration_ms: u64,
    /// Authorities' BLS public keys, in schedule order.
    pub authorities: Vec<PublicKey>,
    /// Proof of possession of each authority key, in the same order.
    pub authority_proofs_of_possession: Vec<Signature>,
    /// Approvals required to accept a block.
    pub approval_threshold: usize,
    /// Whether an approval threshold of at most half the authorities is accepted.
    pub allow_minority_threshold: bool,
    /// Blocks allowed past the finalized one without an AuxPoW.
    pub max_blocks_without_pow: u64,
    /// Federation fee recipients.
    pub federation_fee_addresses: Vec<Address>,
    /// Miner's share of re-minted fees, percent.
    pub miner_fee_share: u8,
    /// Federation Bitcoin keys (hex), in script order.
    pub federation_bitcoin_pubkeys: Vec<String>,
    /// Peg signing threshold (`None` iff there are no federation Bitcoin keys).
    pub peg_threshold: Option<u32>,
    /// Bitcoin network name.
    pub bitcoin_network: Option<String>,
    /// Bitcoin height the follower starts at.
    pub bitcoin_start_height: Option<u64>,
    /// Confirmations before a deposit is minted.
    pub required_btc_confirmations: Option<u32>,
    /// Merged-mining difficulty parameters.
    pub pow: Option<PowSpec>,
    /// Smallest deposit minted.
    pub min_peg_in_sats: Option<u64>,
    /// Smallest peg-out accepted by the Bridge.
    pub min_peg_out_sats: Option<u64>,
    /// Peg-out fee-rate cap, sat/vB.
    pub max_peg_out_fee_rate: Option<u64>,
    /// Emergency recovery path.
    pub emergency: Option<EmergencySpec>,
    /// EL genesis.
    pub genesis: Genesis,
}

/// Reads the spec file format (see the module docs): defaults filled in, then validated.
impl<'de> Deserialize<'de> for ChainSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        file::SpecFile::deserialize(d)?
            .into_spec()
            .map_err(serde::de::Error::custom)
    }
}

const BITCOIN_NETWORKS: &[&str] = &["bitcoin", "testnet", "testnet4", "signet", "regtest"];

/// `ceil(2n/3)`.
pub fn default_threshold(n: usize) -> usize {
    (2 * n).div_ceil(3)
}

impl ChainSpec {
    /// Load and validate a spec file (JSON).
    pub fn from_file(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SpecError::new("<file>", path.display().to_string(), e.to_string()))?;
        Self::from_json_str(&text)
    }

    /// Parse and validate a spec from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, SpecError> {
        file::parse(text)
    }

    /// Check every rule of the module docs.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.chain_id == 0 {
            return Err(SpecError::new("chainId", "0", "must be nonzero"));
        }
        match self.auxpow_chain_id {
            0 => return Err(SpecError::new("auxpowChainId", "0", "must be nonzero")),
            1 => {
                return Err(SpecError::new(
                    "auxpowChainId",
                    "1",
                    "reserved for Namecoin",
                ))
            }
            98 => {
                return Err(SpecError::new(
                    "auxpowChainId",
                    "98",
                    "reserved for Dogecoin",
                ))
            }
            _ => {}
        }
        let slot = self.slot_duration_ms;
        if slot == 0 || slot.rem_euclid(1000) != 0 {
            return Err(SpecError::new(
                "slotDurationMs",
                slot.to_string(),
                "must be a positive multiple of 1000 (EL timestamps are seconds)",
            ));
        }
        let n = self.authorities.len();
        if n == 0 {
            return Err(SpecError::new(
                "authorities",
                "[]",
                "at least one authority is required",
            ));
        }
        if n > MAX_AUTHORITIES {
            return Err(SpecError::new(
                "authorities",
                n.to_string(),
                format!("at most {MAX_AUTHORITIES} authorities"),
            ));
        }
        for (i, pk) in self.authorities.iter().enumerate() {
            if let Some(j) = self.authorities[..i].iter().position(|p| p == pk) {
                return Err(SpecError::new(
                    format!("authorities[{i}]"),
                    pk.to_hex(),
                    format!("duplicate of authorities[{j}]"),
                ));
            }
        }
        self.validate_proofs_of_possession()?;
        if self.approval_threshold == 0 || self.approval_threshold > n {
            return Err(SpecError::new(
                "approvalThreshold",
                self.approval_threshold.to_string(),
                format!("must be in 1..={n}"),
            ));
        }
        if 2 * self.approval_threshold <= n && !self.allow_minority_threshold {
            return Err(SpecError::new(
                "approvalThreshold",
                self.approval_threshold.to_string(),
                format!(
                    "at most half of the {n} authorities: two disjoint groups could approve \
                     conflicting blocks; use more than {} or set allowMinorityThreshold: true",
                    n / 2
                ),
            ));
        }
        if self.max_blocks_without_pow == 0 {
            return Err(SpecError::new(
                "maxBlocksWithoutPow",
                "0",
                "must be at least 1",
            ));
        }
        if self.miner_fee_share > 100 {
            return Err(SpecError::new(
                "minerFeeShare",
                self.miner_fee_share.to_string(),
                "a percentage, at most 100",
            ));
        }
        if self.federation_fee_addresses.len() > MAX_FEDERATION_FEE_ADDRESSES {
            return Err(SpecError::new(
                "federationFeeAddresses",
                self.federation_fee_addresses.len().to_string(),
                format!(
                    "at most {MAX_FEDERATION_FEE_ADDRESSES} addresses: a block carrying an \
                     AuxPoW must fit the peg-in mints, the miner's share and one withdrawal per \
                     address in a payload's 16 withdrawals"
                ),
            ));
        }
        if self.miner_fee_share < 100 && self.federation_fee_addresses.is_empty() {
            return Err(SpecError::new(
                "federationFeeAddresses",
                "[]",
                "required when minerFeeShare < 100 (the federation share needs a recipient)",
            ));
        }
        self.validate_peg()?;
        self.validate_genesis()
    }

    /// One valid proof of possession per authority (see the module docs).
    fn validate_proofs_of_possession(&self) -> Result<(), SpecError> {
        let pops = &self.authority_proofs_of_possession;
        for (i, pk) in self.authorities.iter().enumerate() {
            let field = format!("authorityProofsOfPossession[{i}]");
            let Some(pop) = pops.get(i) else {
                return Err(SpecError::new(
                    field,
                    "missing",
                    format!(
                        "authorities[{i}] ({pk}) has no proof of possession; `alys keys inspect \
                         <key file>` prints it"
                    ),
                ));
            };
            if !pop.verify_proof_of_possession(pk) {
                return Err(SpecError::new(
                    field,
                    pop.to_hex(),
                    format!("not a valid proof of possession of authorities[{i}] ({pk})"),
                ));
            }
        }
        if pops.len() > self.authorities.len() {
            return Err(SpecError::new(
                "authorityProofsOfPossession",
                pops.len().to_string(),
                format!(
                    "more proofs than the {} authorities",
                    self.authorities.len()
                ),
            ));
        }
        Ok(())
    }

    fn validate_peg(&self) -> Result<(), SpecError> {
        let keys = &self.federation_bitcoin_pubkeys;
        for (i, k) in keys.iter().enumerate() {
            let field = format!("federationBitcoinPubkeys[{i}]");
            let bytes = hex::decode(k.trim_start_matches("0x"))
                .map_err(|e| SpecError::new(&field, k, format!("invalid hex: {e}")))?;
            let ok = bytes.len() == 32 || (bytes.len() == 33 && matches!(bytes[0], 2 | 3));
            if !ok {
                return Err(SpecError::new(
                    &field,
                    k,
                    "expected a 32-byte x-only or 33-byte compressed key",
                ));
            }
            if keys[..i].iter().any(|o| o == k) {
                return Err(SpecError::new(&field, k, "duplicate key"));
            }
        }
        match (keys.len(), self.peg_threshold) {
            (0, Some(t)) => {
                return Err(SpecError::new(
                    "pegThreshold",
                    t.to_string(),
                    "set without federationBitcoinPubkeys",
                ))
            }
            (n, Some(t)) if t == 0 || t as usize > n => {
                return Err(SpecError::new(
                    "pegThreshold",
                    t.to_string(),
                    format!("must be in 1..={n}"),
                ))
            }
            (n, None) if n > 0 => {
                return Err(SpecError::new(
                    "pegThreshold",
                    "null",
                    "required with federationBitcoinPubkeys",
                ))
            }
            _ => {}
        }
        if let Some(net) = &self.bitcoin_network {
            if !BITCOIN_NETWORKS.contains(&net.as_str()) {
                return Err(SpecError::new(
                    "bitcoinNetwork",
                    net,
                    format!("expected one of {}", BITCOIN_NETWORKS.join(", ")),
                ));
            }
        }
        if self.required_btc_confirmations == Some(0) {
            return Err(SpecError::new(
                "requiredBtcConfirmations",
                "0",
                "must be at least 1",
            ));
        }
        if let Some(pow) = &self.pow {
            if pow.target_spacing_secs == 0 {
                return Err(SpecError::new(
                    "pow.targetSpacingSecs",
                    "0",
                    "must be positive",
                ));
            }
            if pow.half_life_secs == 0 {
                return Err(SpecError::new("pow.halfLifeSecs", "0", "must be positive"));
            }
        }
        if let Some(e) = &self.emergency {
            if e.threshold == 0 || e.threshold as usize > e.pubkeys.len() {
                return Err(SpecError::new(
                    "emergency.threshold",
                    e.threshold.to_string(),
                    format!("must be in 1..={}", e.pubkeys.len()),
                ));
            }
        }
        Ok(())
    }

    fn validate_genesis(&self) -> Result<(), SpecError> {
        let g = &self.genesis;
        let c = &g.config;
        if c.chain_id != self.chain_id {
            return Err(SpecError::new(
                "genesis.config.chainId",
                c.chain_id.to_string(),
                format!("must equal chainId {}", self.chain_id),
            ));
        }
        let number = g.number.unwrap_or(0);
        let blocks: [(&str, Option<u64>); 10] = [
            ("homesteadBlock", c.homestead_block),
            ("eip150Block", c.eip150_block),
            ("eip155Block", c.eip155_block),
            ("eip158Block", c.eip158_block),
            ("byzantiumBlock", c.byzantium_block),
            ("constantinopleBlock", c.constantinople_block),
            ("petersburgBlock", c.petersburg_block),
            ("istanbulBlock", c.istanbul_block),
            ("berlinBlock", c.berlin_block),
            ("londonBlock", c.london_block),
        ];
        for (name, at) in blocks {
            if at.is_none_or(|b| b > number) {
                return Err(SpecError::new(
                    format!("genesis.config.{name}"),
                    format!("{at:?}"),
                    "must be active at genesis (0)",
                ));
            }
        }
        if c.terminal_total_difficulty.is_none_or(|t| t > g.difficulty) {
            return Err(SpecError::new(
                "genesis.config.terminalTotalDifficulty",
                format!("{:?}", c.terminal_total_difficulty),
                "the merge must be at genesis (terminalTotalDifficulty 0)",
            ));
        }
        for (name, at) in [
            ("shanghaiTime", c.shanghai_time),
            ("cancunTime", c.cancun_time),
        ] {
            if at.is_none_or(|t| t > g.timestamp) {
                return Err(SpecError::new(
                    format!("genesis.config.{name}"),
                    format!("{at:?}"),
                    "must be active at genesis (0)",
                ));
            }
        }
        if g.gas_limit == 0 {
            return Err(SpecError::new("genesis.gasLimit", "0", "must be positive"));
        }
        crate::bridge::check_bridge_predeploy(self)?;
        crate::genesis::genesis_execution_payload(g).map(|_| ())
    }

    /// keccak256 of the canonical JSON (see the module docs).
    pub fn spec_hash(&self) -> B256 {
        keccak256(self.canonical_json())
    }

    /// The canonical JSON text hashed by [`ChainSpec::spec_hash`].
    pub fn canonical_json(&self) -> String {
        // Serializing plain data structs to a Value cannot fail (all keys are strings).
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        canonicalize(value).to_string()
    }

    /// Pretty JSON of the spec (loadable by [`ChainSpec::from_json_str`]).
    pub fn to_json_pretty(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        serde_json::to_string_pretty(&canonicalize(value)).unwrap_or_default()
    }

    /// Number of authorities.
    pub fn authority_count(&self) -> usize {
        self.authorities.len()
    }

    /// The EL genesis header.
    pub fn genesis_header(&self) -> Result<alloy::consensus::Header, SpecError> {
        crate::genesis::genesis_header(&self.genesis)
    }

    /// The EL genesis block hash.
    pub fn genesis_hash(&self) -> Result<B256, SpecError> {
        crate::genesis::genesis_hash(&self.genesis)
    }
}

/// Sort object keys recursively (independent of serde_json's `preserve_order`).
fn canonicalize(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k, canonicalize(v));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonicalize).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::SecretKey;

    fn dev_json() -> Value {
        serde_json::from_str(&ChainSpec::dev(3).unwrap().to_json_pretty()).unwrap()
    }

    fn load(v: &Value) -> Result<ChainSpec, SpecError> {
        ChainSpec::from_json_str(&v.to_string())
    }

    fn err_field(v: &Value) -> String {
        load(v).unwrap_err().field
    }

    #[test]
    fn dev_spec_roundtrips_with_stable_hash() {
        let spec = ChainSpec::dev(3).unwrap();
        let back = ChainSpec::from_json_str(&spec.to_json_pretty()).unwrap();
        assert_eq!(back, spec);
        assert_eq!(back.spec_hash(), spec.spec_hash());
        assert_ne!(ChainSpec::dev(1).unwrap().spec_hash(), spec.spec_hash());
    }

    #[test]
    fn defaults_are_filled_and_hash_is_format_independent() {
        let mut v = dev_json();
        let obj = v.as_object_mut().unwrap();
        for k in [
            "auxpowChainId",
            "slotDurationMs",
            "approvalThreshold",
            "maxBlocksWithoutPow",
            "minerFeeShare",
        ] {
            obj.remove(k);
        }
        let spec = load(&v).unwrap();
        assert_eq!(spec.auxpow_chain_id, 0x414C);
        assert_eq!(spec.slot_duration_ms, 2000);
        assert_eq!(spec.approval_threshold, 2);
        assert_eq!(spec.max_blocks_without_pow, DEFAULT_MAX_BLOCKS_WITHOUT_POW);
        assert_eq!(spec.miner_fee_share, 80);
        assert_eq!(spec.spec_hash(), ChainSpec::dev(3).unwrap().spec_hash());
        let mut hexed = dev_json();
        hexed["chainId"] = Value::String("0x405d2".into());
        assert_eq!(
            load(&hexed).unwrap().spec_hash(),
            ChainSpec::dev(3).unwrap().spec_hash()
        );
    }

    #[test]
    fn thresholds() {
        assert_eq!(default_threshold(1), 1);
        assert_eq!(default_threshold(2), 2);
        assert_eq!(default_threshold(3), 2);
        assert_eq!(default_threshold(4), 3);
        assert_eq!(default_threshold(7), 5);
    }

    #[test]
    fn field_level_errors() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("auxpowChainId", 1.into(), "auxpowChainId"),
            ("auxpowChainId", 98.into(), "auxpowChainId"),
            ("auxpowChainId", 0.into(), "auxpowChainId"),
            ("auxpowChainId", 70000.into(), "auxpowChainId"),
            ("slotDurationMs", 1500.into(), "slotDurationMs"),
            ("slotDurationMs", 0.into(), "slotDurationMs"),
            ("approvalThreshold", 4.into(), "approvalThreshold"),
            ("approvalThreshold", 0.into(), "approvalThreshold"),
            ("minerFeeShare", 101.into(), "minerFeeShare"),
            ("maxBlocksWithoutPow", 0.into(), "maxBlocksWithoutPow"),
            ("chainId", 1.into(), "genesis.config.chainId"),
            ("chainId", "abc".into(), "chainId"),
            ("slotDurationMs", (-5).into(), "slotDurationMs"),
            ("bitcoinNetwork", "moonnet".into(), "bitcoinNetwork"),
            (
                "federationFeeAddresses",
                serde_json::json!(["0x12"]),
                "federationFeeAddresses[0]",
            ),
            ("authorities", serde_json::json!([]), "authorities"),
            ("authorities", serde_json::json!(["0x00"]), "authorities[0]"),
            ("chainIdd", 1.into(), "chainIdd"),
        ];
        for (field, value, expected) in cases {
            let mut v = dev_json();
            v[field] = value.clone();
            assert_eq!(err_field(&v), expected, "setting {field} = {value}");
        }
        // duplicate authority
        let mut v = dev_json();
        let first = v["authorities"][0].clone();
        v["authorities"][2] = first;
        let e = load(&v).unwrap_err();
        assert_eq!(e.field, "authorities[2]");
        assert!(e.reason.contains("duplicate"), "{e}");
        // infinity key
        let mut v = dev_json();
        v["authorities"][1] = format!("0xc0{}", "00".repeat(47)).into();
        assert_eq!(err_field(&v), "authorities[1]");
        // missing cancun
        let mut v = dev_json();
        v["genesis"]["config"]
            .as_object_mut()
            .unwrap()
            .remove("cancunTime");
        assert_eq!(err_field(&v), "genesis.config.cancunTime");
        let mut v = dev_json();
        v["genesis"]["config"]["londonBlock"] = 5.into();
        assert_eq!(err_field(&v), "genesis.config.londonBlock");
        let mut v = dev_json();
        v.as_object_mut().unwrap().remove("genesis");
        assert_eq!(err_field(&v), "genesis");
        assert_eq!(
            ChainSpec::from_json_str("[1]").unwrap_err().field,
            "<document>"
        );
        assert_eq!(
            ChainSpec::from_json_str("{").unwrap_err().field,
            "<document>"
        );
    }

    #[test]
    fn proofs_of_possession_are_required_and_checked() {
        let mut v = dev_json();
        v["authorityProofsOfPossession"]
            .as_array_mut()
            .unwrap()
            .truncate(2);
        let e = load(&v).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("authorityProofsOfPossession[2]", "missing")
        );
        assert!(e.reason.contains("alys keys inspect"), "{e}");

        let mut v = dev_json();
        v.as_object_mut()
            .unwrap()
            .remove("authorityProofsOfPossession");
        assert_eq!(err_field(&v), "authorityProofsOfPossession[0]");

        // Another authority's proof, and a plain signature of the key, are not proofs.
        let mut v = dev_json();
        v["authorityProofsOfPossession"][1] = v["authorityProofsOfPossession"][0].clone();
        let e = load(&v).unwrap_err();
        assert_eq!(e.field, "authorityProofsOfPossession[1]");
        assert!(e.reason.contains("not a valid proof of possession"), "{e}");
        let sk = crate::dev::dev_secret_key(2);
        let mut v = dev_json();
        v["authorityProofsOfPossession"][2] = sk.sign(&sk.public_key().to_bytes()).to_hex().into();
        assert_eq!(err_field(&v), "authorityProofsOfPossession[2]");

        // A rogue key: listed without its owner being able to sign for it.
        let mut spec = ChainSpec::dev(3).unwrap();
        let rogue = SecretKey::key_gen(&[42u8; 32]).unwrap();
        spec.authorities[1] = rogue.public_key();
        assert_eq!(
            spec.validate().unwrap_err().field,
            "authorityProofsOfPossession[1]"
        );
        spec.authority_proofs_of_possession[1] = rogue.proof_of_possession();
        spec.validate().unwrap();

        let mut v = dev_json();
        let extra = v["authorityProofsOfPossession"][0].clone();
        v["authorityProofsOfPossession"]
            .as_array_mut()
            .unwrap()
            .push(extra);
        assert_eq!(err_field(&v), "authorityProofsOfPossession");

        let mut v = dev_json();
        v["authorityProofsOfPossession"][0] = "0x1234".into();
        assert_eq!(err_field(&v), "authorityProofsOfPossession[0]");
    }

    #[test]
    fn minority_threshold_needs_explicit_permission() {
        let mut v =
            serde_json::from_str::<Value>(&ChainSpec::dev(4).unwrap().to_json_pretty()).unwrap();
        for t in [1, 2] {
            v["approvalThreshold"] = t.into();
            let e = load(&v).unwrap_err();
            assert_eq!(e.field, "approvalThreshold", "{t}");
            assert!(e.reason.contains("allowMinorityThreshold"), "{e}");
        }
        v["approvalThreshold"] = 3.into();
        load(&v).unwrap();
        v["approvalThreshold"] = 2.into();
        v["allowMinorityThreshold"] = true.into();
        let spec = load(&v).unwrap();
        assert_eq!(spec.approval_threshold, 2);
        assert!(spec.allow_minority_threshold);
        // One authority with threshold 1 is a majority.
        let mut one = ChainSpec::dev(1).unwrap();
        one.approval_threshold = 1;
        one.validate().unwrap();
        // Two authorities: 1 of 2 is half.
        let mut two = ChainSpec::dev(2).unwrap();
        two.approval_threshold = 1;
        assert_eq!(two.validate().unwrap_err().field, "approvalThreshold");
        two.allow_minority_threshold = true;
        two.validate().unwrap();
    }

    #[test]
    fn federation_fee_addresses_are_bounded_so_a_pow_block_fits() {
        use crate::payload::MAX_WITHDRAWALS_PER_PAYLOAD;
        use crate::withdrawals::MAX_PEGIN_RECIPIENTS_PER_BLOCK;
        assert_eq!(
            MAX_PEGIN_RECIPIENTS_PER_BLOCK + 1 + MAX_FEDERATION_FEE_ADDRESSES,
            MAX_WITHDRAWALS_PER_PAYLOAD
        );
        let addresses = |k: usize| -> Value {
            (1..=k)
                .map(|i| Value::String(Address::repeat_byte(i as u8).to_string()))
                .collect()
        };
        let mut v = dev_json();
        v["federationFeeAddresses"] = addresses(MAX_FEDERATION_FEE_ADDRESSES);
        let spec = load(&v).unwrap();
        assert_eq!(spec.federation_fee_addresses.len(), 7);
        v["federationFeeAddresses"] = addresses(MAX_FEDERATION_FEE_ADDRESSES + 1);
        let e = load(&v).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("federationFeeAddresses", "8")
        );
        assert!(e.reason.contains("at most 7"), "{e}");
    }

    #[test]
    fn optional_peg_fields() {
        let mut v = dev_json();
        v["federationBitcoinPubkeys"] = serde_json::json!([
            format!("02{}", "11".repeat(32)),
            "22".repeat(32),
            "33".repeat(32)
        ]);
        v["bitcoinNetwork"] = "regtest".into();
        v["pow"] = serde_json::json!({"powLimit": "0x207fffff", "targetSpacingSecs": 5, "halfLifeSecs": 3600, "bits": "0x207fffff"});
        let spec = load(&v).unwrap();
        assert_eq!(spec.peg_threshold, Some(2));
        assert_eq!(spec.pow.as_ref().unwrap().pow_limit, 0x207fffff);
        v["pegThreshold"] = 4.into();
        assert_eq!(err_field(&v), "pegThreshold");
        v["pegThreshold"] = 3.into();
        v["pow"]["extra"] = 1.into();
        assert_eq!(err_field(&v), "pow.extra");
    }

    #[test]
    fn parse_errors_name_the_path_value_and_reason() {
        let mut v = dev_json();
        v["chainIdd"] = 1.into();
        let e = load(&v).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("chainIdd", "1"));
        assert!(e.reason.contains("unknown field"), "{e}");

        let mut v = dev_json();
        v["authorities"][1] = 5.into();
        let e = load(&v).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("authorities[1]", "5")
        );

        let mut v = dev_json();
        v["genesis"]["config"]["cancunTime"] = "soon".into();
        let e = load(&v).unwrap_err();
        assert_eq!(e.field, "genesis.config.cancunTime");

        let mut v = dev_json();
        v["pow"] = serde_json::json!({"powLimit": 1, "targetSpacingSecs": 2, "halfLifeSecs": 3});
        let e = load(&v).unwrap_err();
        assert_eq!(e.field, "pow.bits");
        assert!(e.reason.contains("missing field"), "{e}");

        let mut v = dev_json();
        v.as_object_mut().unwrap().remove("chainId");
        assert_eq!(err_field(&v), "chainId");

        // Numbers as decimal or hex strings.
        let mut v = dev_json();
        v["approvalThreshold"] = "0x3".into();
        v["maxBlocksWithoutPow"] = "100".into();
        let spec = load(&v).unwrap();
        assert_eq!(
            (spec.approval_threshold, spec.max_blocks_without_pow),
            (3, 100)
        );
    }

    #[test]
    fn serde_deserialize_is_the_spec_file_format() {
        let spec: ChainSpec = serde_json::from_value(dev_json()).unwrap();
        assert_eq!(spec, ChainSpec::dev(3).unwrap());
        let mut v = dev_json();
        v["minerFeeShare"] = 101.into();
        let e = serde_json::from_value::<ChainSpec>(v).unwrap_err();
        assert!(e.to_string().contains("minerFeeShare"), "{e}");
    }
}
