//! The spec file as written: [`SpecFile`] is the serde shape of the JSON (camelCase, unknown
//! fields refused, numbers as JSON numbers, decimal or `0x` hex strings), with every field that
//! has a default optional; [`SpecFile::into_spec`] fills the defaults in. Deserializing through
//! `serde_path_to_error` gives each error the path of its field ([`parse`]).

use super::{
    default_threshold, ChainSpec, EmergencySpec, PowSpec, SpecError, DEFAULT_AUXPOW_CHAIN_ID,
    DEFAULT_MAX_BLOCKS_WITHOUT_POW, DEFAULT_MINER_FEE_SHARE, DEFAULT_SLOT_DURATION_MS,
};
use crate::bls::{PublicKey, Signature};
use alloy::serde::quantity;
use alloy_genesis::Genesis;
use alloy_primitives::Address;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A spec file before its defaults are filled in.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SpecFile {
    #[serde(with = "quantity")]
    chain_id: u64,
    #[serde(default, with = "quantity::opt")]
    auxpow_chain_id: Option<u16>,
    #[serde(default, with = "quantity::opt")]
    slot_duration_ms: Option<u64>,
    #[serde(default)]
    authorities: Vec<PublicKey>,
    #[serde(default)]
    authority_proofs_of_possession: Vec<Signature>,
    #[serde(default, deserialize_with = "opt_usize")]
    approval_threshold: Option<usize>,
    #[serde(default)]
    allow_minority_threshold: bool,
    #[serde(default, with = "quantity::opt")]
    max_blocks_without_pow: Option<u64>,
    #[serde(default)]
    federation_fee_addresses: Vec<Address>,
    #[serde(default, with = "quantity::opt")]
    miner_fee_share: Option<u8>,
    #[serde(default)]
    federation_bitcoin_pubkeys: Vec<String>,
    #[serde(default, with = "quantity::opt")]
    peg_threshold: Option<u32>,
    #[serde(default)]
    bitcoin_network: Option<String>,
    #[serde(default, with = "quantity::opt")]
    bitcoin_start_height: Option<u64>,
    #[serde(default, with = "quantity::opt")]
    required_btc_confirmations: Option<u32>,
    #[serde(default)]
    pow: Option<PowSpec>,
    #[serde(default, with = "quantity::opt")]
    min_peg_in_sats: Option<u64>,
    #[serde(default, with = "quantity::opt")]
    min_peg_out_sats: Option<u64>,
    #[serde(default, with = "quantity::opt")]
    max_peg_out_fee_rate: Option<u64>,
    #[serde(default)]
    emergency: Option<EmergencySpec>,
    genesis: Genesis,
}

fn opt_usize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    quantity::opt::deserialize::<u64, D>(d)?
        .map(|n| usize::try_from(n).map_err(serde::de::Error::custom))
        .transpose()
}

impl SpecFile {
    /// The spec with every default filled in, validated.
    pub(super) fn into_spec(self) -> Result<ChainSpec, SpecError> {
        let n = self.authorities.len();
        let keys = self.federation_bitcoin_pubkeys.len();
        let spec = ChainSpec {
            chain_id: self.chain_id,
            auxpow_chain_id: self.auxpow_chain_id.unwrap_or(DEFAULT_AUXPOW_CHAIN_ID),
            slot_duration_ms: self.slot_duration_ms.unwrap_or(DEFAULT_SLOT_DURATION_MS),
            authorities: self.authorities,
            authority_proofs_of_possession: self.authority_proofs_of_possession,
            approval_threshold: self
                .approval_threshold
                .unwrap_or_else(|| default_threshold(n)),
            allow_minority_threshold: self.allow_minority_threshold,
            max_blocks_without_pow: self
                .max_blocks_without_pow
                .unwrap_or(DEFAULT_MAX_BLOCKS_WITHOUT_POW),
            federation_fee_addresses: self.federation_fee_addresses,
            miner_fee_share: self.miner_fee_share.unwrap_or(DEFAULT_MINER_FEE_SHARE),
            federation_bitcoin_pubkeys: self.federation_bitcoin_pubkeys,
            peg_threshold: self
                .peg_threshold
                .or_else(|| (keys > 0).then(|| default_threshold(keys) as u32)),
            bitcoin_network: self.bitcoin_network,
            bitcoin_start_height: self.bitcoin_start_height,
            required_btc_confirmations: self.required_btc_confirmations,
            pow: self.pow,
            min_peg_in_sats: self.min_peg_in_sats,
            min_peg_out_sats: self.min_peg_out_sats,
            max_peg_out_fee_rate: self.max_peg_out_fee_rate,
            emergency: self.emergency,
            genesis: self.genesis,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// Parses spec JSON text into a validated spec. A syntax error is reported against
/// `<document>`; a field that does not deserialize is reported by its path
/// (`authorities[2]`, `genesis.config.cancunTime`, `pow.extra` for an unknown field), its
/// value and serde's reason; a missing field by the path it is missing at.
pub(super) fn parse(text: &str) -> Result<ChainSpec, SpecError> {
    let root: Value = serde_json::from_str(text)
        .map_err(|e| SpecError::new("<document>", "", format!("invalid JSON: {e}")))?;
    let file: SpecFile = serde_path_to_error::deserialize(&root).map_err(|e| {
        let path = e.path().clone();
        let reason = e.into_inner().to_string();
        let mut field = path_string(&path);
        let mut value = value_at(&root, &path);
        // serde may report a missing or unknown field at its parent: name the field itself.
        if let Some(name) = named_field(&reason) {
            let named_by_path = matches!(
                path.iter().next_back(),
                Some(serde_path_to_error::Segment::Map { key }) if key == name
            );
            if !named_by_path {
                value = value.and_then(|v| v.get(name));
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(name);
            }
        }
        if field.is_empty() {
            field = "<document>".into();
        }
        let value = value.map(Value::to_string).unwrap_or_default();
        SpecError::new(field, value, reason)
    })?;
    file.into_spec()
}

/// The field a serde "missing field" or "unknown field" message names.
fn named_field(reason: &str) -> Option<&str> {
    ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| reason.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next())
}

/// `a.b[2].c`; empty at the root.
fn path_string(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// The JSON value at `path` in `root`, if there is one.
fn value_at<'a>(root: &'a Value, path: &serde_path_to_error::Path) -> Option<&'a Value> {
    use serde_path_to_error::Segment;
    path.iter().try_fold(root, |v, segment| match segment {
        Segment::Seq { index } => v.get(*index),
        Segment::Map { key } | Segment::Enum { variant: key } => v.get(key.as_str()),
        Segment::Unknown => None,
    })
}
