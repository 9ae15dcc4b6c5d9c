//! The federation's taproot output (DESIGN §7): NUMS internal key, leaf A = `multi_a(m,k1..kn)`,
//! optional leaf B = `<delay> CSV DROP` + emergency `multi_a`.

use alys_primitives::ChainSpec;
use bitcoin::key::{PublicKey, XOnlyPublicKey};
use bitcoin::opcodes::all::{OP_CHECKSIG, OP_CHECKSIGADD, OP_CSV, OP_DROP, OP_NUMEQUAL};
use bitcoin::script::Builder;
use bitcoin::taproot::{ControlBlock, LeafVersion, TaprootSpendInfo};
use bitcoin::{Address, Network, ScriptBuf, Witness};

use crate::taproot::{nums_point, taproot_spend_info, ScriptTree};
use crate::FederationError;

/// Deposits below this many sats are rejected when the spec sets no `minPegInSats`.
pub const DEFAULT_MIN_PEG_IN_SATS: u64 = 1_000;

/// Most keys a `multi_a` may have (miniscript's limit).
pub const MAX_MULTI_A_KEYS: usize = 999;

/// Emergency recovery path (leaf B).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmergencyPath {
    /// Emergency keys, in script order.
    pub keys: Vec<XOnlyPublicKey>,
    /// Signatures required.
    pub threshold: u32,
    /// Relative timelock in blocks (BIP-68/112), 1..=65535.
    pub csv_delay: u16,
}

/// The federation's Bitcoin side: keys, thresholds, taproot output and deposit rules.
#[derive(Clone, Debug)]
pub struct Federation {
    network: Network,
    keys: Vec<XOnlyPublicKey>,
    threshold: u32,
    emergency: Option<EmergencyPath>,
    min_peg_in_sats: u64,
    leaf_a: ScriptBuf,
    leaf_b: Option<ScriptBuf>,
    spend_info: TaprootSpendInfo,
    address: Address,
    script_pubkey: ScriptBuf,
}

impl PartialEq for Federation {
    fn eq(&self, other: &Self) -> bool {
        self.network == other.network
            && self.keys == other.keys
            && self.threshold == other.threshold
            && self.emergency == other.emergency
            && self.min_peg_in_sats == other.min_peg_in_sats
    }
}
impl Eq for Federation {}

/// Parses a federation key: hex (optional `0x`), 32-byte x-only or 33-byte compressed.
pub fn parse_bitcoin_key(field: &str, text: &str) -> Result<XOnlyPublicKey, FederationError> {
    let bad = |reason: String| FederationError::InvalidKey {
        field: field.to_string(),
        value: text.to_string(),
        reason,
    };
    let t = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let bytes = hex::decode(t).map_err(|e| bad(format!("invalid hex: {e}")))?;
    match bytes.len() {
        32 => XOnlyPublicKey::from_slice(&bytes).map_err(|e| bad(e.to_string())),
        33 => PublicKey::from_slice(&bytes)
            .map(|pk| pk.inner.x_only_public_key().0)
            .map_err(|e| bad(e.to_string())),
        n => Err(bad(format!(
            "expected 32 (x-only) or 33 (compressed) bytes, got {n}"
        ))),
    }
}

/// Parses a network name as used in chain specs and Bitcoin Core's `-chain`.
pub fn parse_network(name: &str) -> Result<Network, FederationError> {
    match name {
        "bitcoin" | "main" | "mainnet" => Ok(Network::Bitcoin),
        "testnet" | "testnet3" | "test" => Ok(Network::Testnet),
        "testnet4" => Ok(Network::Testnet4),
        "signet" => Ok(Network::Signet),
        "regtest" => Ok(Network::Regtest),
        other => Err(FederationError::UnknownNetwork(other.to_string())),
    }
}

/// `multi_a(m, keys)`: `<k1> CHECKSIG <k2> CHECKSIGADD … <kn> CHECKSIGADD <m> NUMEQUAL`.
pub fn multi_a_script(threshold: u32, keys: &[XOnlyPublicKey]) -> ScriptBuf {
    multi_a_builder(Builder::new(), threshold, keys).into_script()
}

fn multi_a_builder(mut b: Builder, threshold: u32, keys: &[XOnlyPublicKey]) -> Builder {
    for (i, k) in keys.iter().enumerate() {
        b = b
            .push_x_only_key(k)
            .push_opcode(if i == 0 { OP_CHECKSIG } else { OP_CHECKSIGADD });
    }
    b.push_int(i64::from(threshold)).push_opcode(OP_NUMEQUAL)
}

/// `<delay> CSV DROP` followed by `multi_a(m, keys)`.
pub fn emergency_script(path: &EmergencyPath) -> ScriptBuf {
    let b = Builder::new()
        .push_int(i64::from(path.csv_delay))
        .push_opcode(OP_CSV)
        .push_opcode(OP_DROP);
    multi_a_builder(b, path.threshold, &path.keys).into_script()
}

fn check_multi(
    field: &str,
    keys: &[XOnlyPublicKey],
    threshold: u32,
) -> Result<(), FederationError> {
    if keys.is_empty() {
        return Err(FederationError::NoKeys(field.to_string()));
    }
    if keys.len() > MAX_MULTI_A_KEYS {
        return Err(FederationError::TooManyKeys {
            field: field.to_string(),
            n: keys.len(),
        });
    }
    for (i, k) in keys.iter().enumerate() {
        if let Some(j) = keys[..i].iter().position(|o| o == k) {
            return Err(FederationError::DuplicateKey {
                field: field.to_string(),
                index: i,
                first: j,
            });
        }
    }
    if threshold == 0 || threshold as usize > keys.len() {
        return Err(FederationError::BadThreshold {
            field: field.to_string(),
            threshold,
            n: keys.len(),
        });
    }
    Ok(())
}

impl Federation {
    /// Builds the federation from the chain spec (`federationBitcoinPubkeys`, `pegThreshold`
    /// (default ceil(2n/3)), `emergency`, `bitcoinNetwork`, `minPegInSats`).
    pub fn from_spec(spec: &ChainSpec) -> Result<Self, FederationError> {
        let network = parse_network(
            spec.bitcoin_network
                .as_deref()
                .ok_or(FederationError::MissingNetwork)?,
        )?;
        let keys = spec
            .federation_bitcoin_pubkeys
            .iter()
            .enumerate()
            .map(|(i, k)| parse_bitcoin_key(&format!("federationBitcoinPubkeys[{i}]"), k))
            .collect::<Result<Vec<_>, _>>()?;
        let threshold = spec
            .peg_threshold
            .unwrap_or_else(|| (2 * keys.len()).div_ceil(3) as u32);
        let emergency = match &spec.emergency {
            None => None,
            Some(e) => {
                let keys = e
                    .pubkeys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| parse_bitcoin_key(&format!("emergency.pubkeys[{i}]"), k))
                    .collect::<Result<Vec<_>, _>>()?;
                let csv_delay = u16::try_from(e.csv_delay)
                    .ok()
                    .filter(|d| *d > 0)
                    .ok_or(FederationError::BadCsvDelay(e.csv_delay))?;
                Some(EmergencyPath {
                    keys,
                    threshold: e.threshold,
                    csv_delay,
                })
            }
        };
        Self::new(
            network,
            keys,
            threshold,
            emergency,
            spec.min_peg_in_sats.unwrap_or(DEFAULT_MIN_PEG_IN_SATS),
        )
    }

    /// Builds the federation from its parts (keys in script order).
    pub fn new(
        network: Network,
        keys: Vec<XOnlyPublicKey>,
        threshold: u32,
        emergency: Option<EmergencyPath>,
        min_peg_in_sats: u64,
    ) -> Result<Self, FederationError> {
        check_multi("federationBitcoinPubkeys", &keys, threshold)?;
        if let Some(e) = &emergency {
            check_multi("emergency.pubkeys", &e.keys, e.threshold)?;
            if e.csv_delay == 0 {
                return Err(FederationError::BadCsvDelay(0));
            }
        }
        let leaf_a = multi_a_script(threshold, &keys);
        let leaf_b = emergency.as_ref().map(emergency_script);
        let tree = match &leaf_b {
            None => ScriptTree::tapscript(leaf_a.clone()),
            Some(b) => ScriptTree::branch(
                ScriptTree::tapscript(leaf_a.clone()),
                ScriptTree::tapscript(b.clone()),
            ),
        };
        let spend_info = taproot_spend_info(nums_point(), Some(&tree))?;
        let address = Address::p2tr_tweaked(spend_info.output_key(), network);
        let script_pubkey = address.script_pubkey();
        Ok(Self {
            network,
            keys,
            threshold,
            emergency,
            min_peg_in_sats,
            leaf_a,
            leaf_b,
            spend_info,
            address,
            script_pubkey,
        })
    }

    /// Bitcoin network of the address.
    pub fn network(&self) -> Network {
        self.network
    }
    /// Federation keys, in script order.
    pub fn keys(&self) -> &[XOnlyPublicKey] {
        &self.keys
    }
    /// Peg signing threshold m.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }
    /// The emergency path, if configured.
    pub fn emergency(&self) -> Option<&EmergencyPath> {
        self.emergency.as_ref()
    }
    /// Smallest deposit minted, in sats.
    pub fn min_peg_in_sats(&self) -> u64 {
        self.min_peg_in_sats
    }
    /// The deposit address (P2TR).
    pub fn address(&self) -> &Address {
        &self.address
    }
    /// The federation's scriptPubKey (`OP_1 <output key>`).
    pub fn script_pubkey(&self) -> &ScriptBuf {
        &self.script_pubkey
    }
    /// The tweaked output key.
    pub fn output_key(&self) -> XOnlyPublicKey {
        self.spend_info.output_key().to_x_only_public_key()
    }
    /// Full taproot spend info (merkle root, tweak, control blocks).
    pub fn spend_info(&self) -> &TaprootSpendInfo {
        &self.spend_info
    }
    /// Leaf A: the m-of-n federation tapscript.
    pub fn federation_leaf(&self) -> &ScriptBuf {
        &self.leaf_a
    }
    /// Leaf B: the emergency tapscript, if configured.
    pub fn emergency_leaf(&self) -> Option<&ScriptBuf> {
        self.leaf_b.as_ref()
    }

    /// Control block for spending through leaf A.
    pub fn federation_control_block(&self) -> Result<ControlBlock, FederationError> {
        self.control_block(&self.leaf_a)
    }

    /// Control block for spending through leaf B (`None` without an emergency path).
    pub fn emergency_control_block(&self) -> Option<Result<ControlBlock, FederationError>> {
        self.leaf_b.as_ref().map(|b| self.control_block(b))
    }

    /// Whether `witness` spends a federation output: a script-path spend through leaf A or B
    /// with this federation's control block. The internal key is unspendable (NUMS), so every
    /// spend of a federation output has this form, and the control block commits to the
    /// output key: no other output can be spent with it.
    pub fn is_federation_spend(&self, witness: &Witness) -> bool {
        let (Some(leaf_script), Some(control)) = (
            witness.taproot_leaf_script(),
            witness.taproot_control_block(),
        ) else {
            return false;
        };
        if leaf_script.version != LeafVersion::TapScript {
            return false;
        }
        [Some(&self.leaf_a), self.leaf_b.as_ref()]
            .into_iter()
            .flatten()
            .any(|leaf| {
                leaf.as_script() == leaf_script.script
                    && self
                        .control_block(leaf)
                        .is_ok_and(|c| c.serialize().as_slice() == control)
            })
    }

    fn control_block(&self, script: &ScriptBuf) -> Result<ControlBlock, FederationError> {
        self.spend_info
            .control_block(&(script.clone(), LeafVersion::TapScript))
            .ok_or_else(|| FederationError::Taproot("leaf not in the script tree".into()))
    }

    /// The witness spending a federation output through leaf A. `sigs[i]` is key i's 64-byte
    /// BIP-340 signature (SIGHASH_DEFAULT) or `None`; exactly `threshold` must be present.
    /// Witness = signatures in reverse key order (empty for missing keys), script, control block.
    pub fn federation_witness(
        &self,
        sigs: &[Option<bitcoin::taproot::Signature>],
    ) -> Result<Witness, FederationError> {
        if sigs.len() != self.keys.len() {
            return Err(FederationError::Witness(format!(
                "{} signature slots for {} keys",
                sigs.len(),
                self.keys.len()
            )));
        }
        let present = sigs.iter().filter(|s| s.is_some()).count();
        if present != self.threshold as usize {
            return Err(FederationError::Witness(format!(
                "{present} signatures, exactly {} needed",
                self.threshold
            )));
        }
        let mut w = Witness::new();
        for s in sigs.iter().rev() {
            match s {
                Some(sig) => w.push(sig.to_vec()),
                None => w.push(Vec::<u8>::new()),
            }
        }
        w.push(self.leaf_a.as_bytes());
        w.push(self.federation_control_block()?.serialize());
        Ok(w)
    }

    /// An output descriptor for watching the federation, with checksum. Without an emergency
    /// path: `tr(<H>,multi_a(m,k1,…,kn))#…`, accepted by any descriptor wallet (Bitcoin Core,
    /// BDK, embit). Leaf B (`<delay> CSV DROP …`) has no miniscript form, so with an emergency
    /// path this is `rawtr(<output key>)#…`, which watches the same scriptPubKey.
    pub fn descriptor(&self) -> String {
        let body = if self.leaf_b.is_some() {
            format!("rawtr({})", self.output_key())
        } else {
            let keys: Vec<String> = self.keys.iter().map(|k| k.to_string()).collect();
            format!(
                "tr({},multi_a({},{}))",
                hex::encode(crate::taproot::NUMS_H),
                self.threshold,
                keys.join(",")
            )
        };
        crate::checksum::add_checksum(&body).unwrap_or(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schnorr::SchnorrSigner;
    use alys_primitives::spec::EmergencySpec;
    use bitcoin::key::Secp256k1;

    fn key(i: u8) -> XOnlyPublicKey {
        SchnorrSigner::from_bytes(&[i + 1; 32])
            .unwrap()
            .public_key()
    }

    fn spec(keys: &[String]) -> ChainSpec {
        let mut s = ChainSpec::dev(1).unwrap();
        s.federation_bitcoin_pubkeys = keys.to_vec();
        s
    }

    #[test]
    fn leaf_a_is_checksigadd_multisig_in_spec_order() {
        let ks = [key(0), key(1), key(2)];
        let s = multi_a_script(2, &ks);
        let mut want = Vec::new();
        for (i, k) in ks.iter().enumerate() {
            want.push(0x20);
            want.extend_from_slice(&k.serialize());
            want.push(if i == 0 { 0xac } else { 0xba });
        }
        want.extend_from_slice(&[0x52, 0x9c]); // OP_2 OP_NUMEQUAL
        assert_eq!(s.as_bytes(), want.as_slice());
        // Thresholds above 16 use a minimal number push.
        let many: Vec<_> = (0..20).map(key).collect();
        let s = multi_a_script(17, &many);
        assert!(s.as_bytes().ends_with(&[0x01, 17, 0x9c]));
    }

    #[test]
    fn from_spec_defaults_and_key_forms() {
        let ks: Vec<_> = (0..4).map(key).collect();
        // Key 1 given compressed (either parity maps to the same x-only key).
        let compressed = format!("03{}", ks[1]);
        let texts = vec![
            ks[0].to_string(),
            compressed,
            format!("0x{}", ks[2]),
            ks[3].to_string(),
        ];
        let mut s = spec(&texts);
        s.peg_threshold = None;
        let f = Federation::from_spec(&s).unwrap();
        assert_eq!(f.keys(), ks.as_slice());
        assert_eq!(f.threshold(), 3, "ceil(2*4/3)");
        assert_eq!(f.network(), Network::Regtest);
        assert_eq!(f.min_peg_in_sats(), DEFAULT_MIN_PEG_IN_SATS);
        assert!(f.address().to_string().starts_with("bcrt1p"));
        assert_eq!(f.script_pubkey().len(), 34);
        assert_eq!(f.spend_info().internal_key(), nums_point());
        assert!(f.emergency_leaf().is_none());
        let d = f.descriptor();
        assert!(d.starts_with(
            "tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,multi_a(3,"
        ));
        assert_eq!(d.len() - d.find('#').unwrap(), 9);
        // Same keys, same address (deterministic across nodes).
        assert_eq!(Federation::from_spec(&s).unwrap().address(), f.address());
        s.peg_threshold = Some(2);
        assert_ne!(Federation::from_spec(&s).unwrap().address(), f.address());
    }

    #[test]
    fn spec_errors() {
        let k0 = key(0).to_string();
        let mut s = spec(std::slice::from_ref(&k0));
        s.bitcoin_network = None;
        assert_eq!(
            Federation::from_spec(&s),
            Err(FederationError::MissingNetwork)
        );
        let s = spec(&[]);
        assert!(matches!(
            Federation::from_spec(&s),
            Err(FederationError::NoKeys(_))
        ));
        let s = spec(&[k0.clone(), format!("02{k0}")]);
        assert!(matches!(
            Federation::from_spec(&s),
            Err(FederationError::DuplicateKey {
                index: 1,
                first: 0,
                ..
            })
        ));
        let s = spec(&["zz".into()]);
        assert!(matches!(
            Federation::from_spec(&s),
            Err(FederationError::InvalidKey { .. })
        ));
        let mut s = spec(std::slice::from_ref(&k0));
        s.peg_threshold = Some(2);
        assert!(matches!(
            Federation::from_spec(&s),
            Err(FederationError::BadThreshold {
                threshold: 2,
                n: 1,
                ..
            })
        ));
        // x-only bytes that are not on the curve.
        let s = spec(&["ff".repeat(32)]);
        assert!(matches!(
            Federation::from_spec(&s),
            Err(FederationError::InvalidKey { .. })
        ));
    }

    #[test]
    fn emergency_leaf_and_control_blocks() {
        let mut s = spec(&[key(0).to_string(), key(1).to_string(), key(2).to_string()]);
        s.peg_threshold = Some(2);
        s.emergency = Some(EmergencySpec {
            pubkeys: vec![key(5).to_string(), key(6).to_string()],
            threshold: 1,
            csv_delay: 4320,
        });
        let f = Federation::from_spec(&s).unwrap();
        let b = f.emergency_leaf().unwrap();
        // <4320> CSV DROP <k5> CHECKSIG <k6> CHECKSIGADD 1 NUMEQUAL
        assert_eq!(&b.as_bytes()[..5], &[0x02, 0xe0, 0x10, 0xb2, 0x75]);
        assert!(b.as_bytes().ends_with(&[0x51, 0x9c]));
        let secp = Secp256k1::verification_only();
        let out = f.output_key();
        for (leaf, cb) in [
            (f.federation_leaf(), f.federation_control_block().unwrap()),
            (b, f.emergency_control_block().unwrap().unwrap()),
        ] {
            assert_eq!(cb.internal_key, nums_point());
            assert!(cb.verify_taproot_commitment(&secp, out, leaf));
        }
        assert!(f.descriptor().starts_with("rawtr("));
        let mut no_e = s.clone();
        no_e.emergency = None;
        assert_ne!(Federation::from_spec(&no_e).unwrap().address(), f.address());
        s.emergency.as_mut().unwrap().csv_delay = 70_000;
        assert_eq!(
            Federation::from_spec(&s),
            Err(FederationError::BadCsvDelay(70_000))
        );
    }

    #[test]
    fn witness_layout() {
        let f = Federation::new(Network::Regtest, (0..3).map(key).collect(), 2, None, 0).unwrap();
        let msg = [9u8; 32];
        let sig = |i: u8| {
            let s = SchnorrSigner::from_bytes(&[i + 1; 32])
                .unwrap()
                .sign(&msg, &[0; 32]);
            Some(bitcoin::taproot::Signature {
                signature: s,
                sighash_type: bitcoin::TapSighashType::Default,
            })
        };
        let w = f.federation_witness(&[sig(0), None, sig(2)]).unwrap();
        let items: Vec<&[u8]> = w.iter().collect();
        assert_eq!(items.len(), 5);
        assert_eq!(
            items[0].len(),
            64,
            "key 2's signature first (reverse order)"
        );
        assert!(items[1].is_empty());
        assert_eq!(items[3], f.federation_leaf().as_bytes());
        assert_eq!(
            items[4],
            f.federation_control_block().unwrap().serialize().as_slice()
        );
        assert!(f.federation_witness(&[sig(0), None, None]).is_err());
        assert!(f.federation_witness(&[sig(0), sig(1)]).is_err());
    }
}
