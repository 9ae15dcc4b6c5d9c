//! The dev wallet: deterministic BIP32 keys from a fixed seed (P2WPKH at `m/84'/1'/0'/0/i`,
//! change at `m/84'/1'/0'/1/i`, P2TR at `m/86'/1'/0'/0/i`), address issuance and signing of
//! P2WPKH and P2TR key-path inputs. Which addresses were issued is persisted in the event log;
//! the keys themselves are re-derived.

use std::collections::HashMap;
use std::str::FromStr;

use bitcoin::{
    bip32::{DerivationPath, Fingerprint, Xpriv},
    ecdsa,
    hashes::{sha256, Hash},
    key::{Secp256k1, TapTweak},
    secp256k1::{All, Keypair, Message, SecretKey},
    sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType},
    Address, CompressedPublicKey, Network, NetworkKind, PublicKey, ScriptBuf, Transaction, TxOut,
    Witness, XOnlyPublicKey,
};

/// The fixed seed phrase every devnet wallet derives its keys from (not secret: dev only).
pub const DEV_SEED_TEXT: &str = "alys btc-devnet dev wallet seed (not secret, regtest only)";

/// Which branch an address was issued from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AddrKind {
    /// Receive address, P2WPKH (`bech32`).
    P2wpkh = 0,
    /// Receive address, P2TR (`bech32m`).
    P2tr = 1,
    /// Change address, P2WPKH.
    Change = 2,
}

impl AddrKind {
    /// From the persisted byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::P2wpkh,
            1 => Self::P2tr,
            2 => Self::Change,
            _ => return None,
        })
    }
    fn path(self, index: u32) -> String {
        match self {
            Self::P2wpkh => format!("84'/1'/0'/0/{index}"),
            Self::P2tr => format!("86'/1'/0'/0/{index}"),
            Self::Change => format!("84'/1'/0'/1/{index}"),
        }
    }
}

/// One wallet key and the script it controls.
#[derive(Debug, Clone)]
pub struct WalletKey {
    /// Branch.
    pub kind: AddrKind,
    /// Index on the branch.
    pub index: u32,
    /// Secret key.
    pub secret: SecretKey,
    /// Public key.
    pub public: PublicKey,
    /// Output script.
    pub script: ScriptBuf,
    /// Address.
    pub address: Address,
    /// Label given at issuance.
    pub label: String,
}

/// The dev wallet.
pub struct Wallet {
    secp: Secp256k1<All>,
    master: Xpriv,
    fingerprint: Fingerprint,
    keys: HashMap<ScriptBuf, WalletKey>,
    next: [u32; 3],
}

impl Default for Wallet {
    fn default() -> Self {
        Self::new()
    }
}

impl Wallet {
    /// The wallet of the fixed dev seed, with no address issued yet.
    pub fn new() -> Self {
        let secp = Secp256k1::new();
        let seed = sha256::Hash::hash(DEV_SEED_TEXT.as_bytes());
        // A 32-byte seed is always a valid BIP32 seed except with negligible probability,
        // and this seed is fixed (checked by the unit test below).
        let master = Xpriv::new_master(NetworkKind::Test, seed.as_byte_array())
            .unwrap_or_else(|_| unreachable_master());
        let fingerprint = master.fingerprint(&secp);
        Self {
            secp,
            master,
            fingerprint,
            keys: HashMap::new(),
            next: [0; 3],
        }
    }

    fn derive(&self, kind: AddrKind, index: u32, label: &str) -> Option<WalletKey> {
        let path = DerivationPath::from_str(&format!("m/{}", kind.path(index))).ok()?;
        let xpriv = self.master.derive_priv(&self.secp, &path).ok()?;
        let secret = xpriv.private_key;
        let public = PublicKey::new(secret.public_key(&self.secp));
        let address = match kind {
            AddrKind::P2wpkh | AddrKind::Change => {
                Address::p2wpkh(&CompressedPublicKey(public.inner), Network::Regtest)
            }
            AddrKind::P2tr => {
                let (xonly, _) = public.inner.x_only_public_key();
                Address::p2tr(&self.secp, xonly, None, Network::Regtest)
            }
        };
        Some(WalletKey {
            kind,
            index,
            secret,
            public,
            script: address.script_pubkey(),
            address,
            label: label.to_string(),
        })
    }

    /// Issues the next address of `kind`.
    pub fn issue(&mut self, kind: AddrKind, label: &str) -> Option<WalletKey> {
        let index = self.next[kind as usize];
        let key = self.restore(kind, index, label)?;
        Some(key)
    }

    /// The next address of `kind`, without issuing it.
    pub fn peek(&self, kind: AddrKind) -> Option<WalletKey> {
        self.derive(kind, self.next[kind as usize], "")
    }

    /// Re-registers an address issued earlier (log replay).
    pub fn restore(&mut self, kind: AddrKind, index: u32, label: &str) -> Option<WalletKey> {
        let key = self.derive(kind, index, label)?;
        let slot = &mut self.next[kind as usize];
        *slot = (*slot).max(index + 1);
        self.keys.insert(key.script.clone(), key.clone());
        Some(key)
    }

    /// The key controlling `script`, if the wallet issued it.
    pub fn key(&self, script: &ScriptBuf) -> Option<&WalletKey> {
        self.keys.get(script)
    }

    /// Whether the wallet controls `script`.
    pub fn is_mine(&self, script: &ScriptBuf) -> bool {
        self.keys.contains_key(script)
    }

    /// Output descriptor (with checksum) of a wallet script, as Core prints it.
    pub fn descriptor(&self, script: &ScriptBuf) -> Option<String> {
        let key = self.keys.get(script)?;
        let origin =
            format!("[{}/{}]", self.fingerprint, key.kind.path(key.index)).replace('\'', "h");
        let desc = match key.kind {
            AddrKind::P2wpkh | AddrKind::Change => format!("wpkh({origin}{})", key.public),
            AddrKind::P2tr => {
                let (xonly, _) = key.public.inner.x_only_public_key();
                format!("tr({origin}{xonly})")
            }
        };
        Some(descriptor_with_checksum(&desc))
    }

    /// Signs every input whose spent output (`spent[i]`) is a wallet script; returns the
    /// indexes of inputs that stay unsigned with the reason.
    pub fn sign(
        &self,
        tx: &mut Transaction,
        spent: &[Option<TxOut>],
        sighash_all: bool,
    ) -> Vec<(usize, String)> {
        let mut errors = Vec::new();
        let all_spent: Option<Vec<TxOut>> = spent.iter().cloned().collect();
        let mut signatures: Vec<(usize, Witness)> = Vec::new();
        {
            let mut cache = SighashCache::new(&*tx);
            for (i, prev) in spent.iter().enumerate() {
                let Some(prev) = prev else {
                    errors.push((i, "Input not found or already spent".to_string()));
                    continue;
                };
                let Some(key) = self.keys.get(&prev.script_pubkey) else {
                    errors.push((i, "Unable to sign input, missing keys".to_string()));
                    continue;
                };
                match key.kind {
                    AddrKind::P2wpkh | AddrKind::Change => {
                        let hash = match cache.p2wpkh_signature_hash(
                            i,
                            &prev.script_pubkey,
                            prev.value,
                            EcdsaSighashType::All,
                        ) {
                            Ok(h) => h,
                            Err(e) => {
                                errors.push((i, e.to_string()));
                                continue;
                            }
                        };
                        let msg = Message::from_digest(hash.to_byte_array());
                        let sig = ecdsa::Signature {
                            signature: self.secp.sign_ecdsa(&msg, &key.secret),
                            sighash_type: EcdsaSighashType::All,
                        };
                        signatures.push((i, Witness::p2wpkh(&sig, &key.public.inner)));
                    }
                    AddrKind::P2tr => {
                        let Some(all) = all_spent.as_ref() else {
                            errors.push((
                                i,
                                "Unable to sign taproot input: all spent outputs must be known"
                                    .to_string(),
                            ));
                            continue;
                        };
                        let ty = if sighash_all {
                            TapSighashType::All
                        } else {
                            TapSighashType::Default
                        };
                        let hash = match cache.taproot_key_spend_signature_hash(
                            i,
                            &Prevouts::All(all),
                            ty,
                        ) {
                            Ok(h) => h,
                            Err(e) => {
                                errors.push((i, e.to_string()));
                                continue;
                            }
                        };
                        let keypair = Keypair::from_secret_key(&self.secp, &key.secret)
                            .tap_tweak(&self.secp, None)
                            .to_keypair();
                        let msg = Message::from_digest(hash.to_byte_array());
                        let sig = bitcoin::taproot::Signature {
                            signature: self.secp.sign_schnorr_no_aux_rand(&msg, &keypair),
                            sighash_type: ty,
                        };
                        signatures.push((i, Witness::p2tr_key_spend(&sig)));
                    }
                }
            }
        }
        for (i, w) in signatures {
            tx.input[i].witness = w;
            tx.input[i].script_sig = ScriptBuf::new();
        }
        errors
    }

    /// The x-only key of a P2TR wallet key (for tests).
    pub fn xonly(&self, script: &ScriptBuf) -> Option<XOnlyPublicKey> {
        self.keys
            .get(script)
            .map(|k| k.public.inner.x_only_public_key().0)
    }
}

#[cold]
fn unreachable_master() -> Xpriv {
    // Only reached if the fixed seed were invalid, which the unit test rules out.
    panic!("fixed dev seed is not a valid BIP32 seed")
}

/// Appends Core's descriptor checksum (`#xxxxxxxx`, BIP-380) to `desc`; `desc` unchanged if it
/// has a character outside the descriptor character set.
pub fn descriptor_with_checksum(desc: &str) -> String {
    match miniscript::descriptor::checksum::desc_checksum(desc) {
        Ok(c) => format!("{desc}#{c}"),
        Err(_) => desc.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_valid_and_deterministic() {
        let mut a = Wallet::new();
        let mut b = Wallet::new();
        let ka = a.issue(AddrKind::P2wpkh, "").unwrap();
        let kb = b.issue(AddrKind::P2wpkh, "").unwrap();
        assert_eq!(ka.address, kb.address);
        assert!(ka.address.to_string().starts_with("bcrt1q"));
        let t = a.issue(AddrKind::P2tr, "").unwrap();
        assert!(t.address.to_string().starts_with("bcrt1p"));
    }

    #[test]
    fn descriptor_checksum_matches_core_example() {
        // From Bitcoin Core's doc/descriptors.md.
        assert_eq!(
            descriptor_with_checksum(
                "pkh(02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5)"
            ),
            "pkh(02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5)#8fhd9pwu"
        );
    }
}
