//! BLS12-381 keys and signatures for block approvals.
//!
//! A thin wrapper over `blst`'s `min_pk` variant: public keys are compressed G1 points
//! (48 bytes), signatures compressed G2 points (96 bytes), with Ethereum's proof-of-possession
//! ciphersuite ([`DST`]). Every decoding step checks the point is on the curve and in the
//! subgroup; public keys at infinity are rejected ([`BlsError::PublicKeyInfinity`]). Nothing in
//! here panics on malformed input.
//!
//! Proof of possession ([`SecretKey::proof_of_possession`]): the key's signature of its own
//! compressed public key under [`POP_DST`] (IETF BLS `PopProve`, as Ethereum's deposit data).
//! The chain spec carries one for every authority, so a rogue key (one chosen as a function of
//! the others' to forge an aggregate) cannot be listed: its owner could not sign for it.
//!
//! Key files: JSON `{"secretKey": "0x…", "publicKey": "0x…"}` (the public key is informative
//! and checked against the secret on load), or a bare hex secret key. Files are written with
//! mode 0600 and refused on load when group or others can access them (`alys_secrets`).

use blst::{min_pk, BLST_ERROR};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::{Path, PathBuf};

/// Domain separation tag of the Ethereum POP ciphersuite.
pub const DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// Domain separation tag of proofs of possession (IETF BLS POP ciphersuite, as Ethereum).
pub const POP_DST: &[u8] = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// Length of a compressed public key.
pub const PUBLIC_KEY_LEN: usize = 48;
/// Length of a compressed signature.
pub const SIGNATURE_LEN: usize = 96;
/// Length of a secret key.
pub const SECRET_KEY_LEN: usize = 32;

/// Why a BLS value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlsError {
    /// Wrong number of bytes for the value.
    #[error("invalid length: expected {expected} bytes, got {got}")]
    InvalidLength {
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// Not a valid compressed encoding, or not a point on the curve.
    #[error("invalid point encoding: {0}")]
    InvalidPoint(String),
    /// The point is on the curve but not in the prime-order subgroup.
    #[error("point not in the subgroup")]
    NotInSubgroup,
    /// A public key at infinity (the identity) is never a valid key.
    #[error("public key is the point at infinity")]
    PublicKeyInfinity,
    /// Secret key is zero or not below the group order.
    #[error("invalid secret key")]
    InvalidSecretKey,
    /// Aggregation of an empty set.
    #[error("nothing to aggregate")]
    EmptyAggregate,
    /// Invalid hex text.
    #[error("invalid hex: {0}")]
    InvalidHex(String),
}

fn map_blst(err: BLST_ERROR) -> BlsError {
    match err {
        BLST_ERROR::BLST_POINT_NOT_IN_GROUP => BlsError::NotInSubgroup,
        BLST_ERROR::BLST_PK_IS_INFINITY => BlsError::PublicKeyInfinity,
        other => BlsError::InvalidPoint(format!("{other:?}")),
    }
}

fn decode_hex(text: &str) -> Result<Vec<u8>, BlsError> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    hex::decode(t).map_err(|e| BlsError::InvalidHex(e.to_string()))
}

/// A BLS secret key. Never printed; zeroized on drop (by `blst`).
#[derive(Clone)]
pub struct SecretKey(min_pk::SecretKey);

impl SecretKey {
    /// From the 32-byte big-endian scalar; rejects zero and values ≥ the group order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        if bytes.len() != SECRET_KEY_LEN {
            return Err(BlsError::InvalidLength {
                expected: SECRET_KEY_LEN,
                got: bytes.len(),
            });
        }
        if bytes.iter().all(|b| *b == 0) {
            return Err(BlsError::InvalidSecretKey);
        }
        min_pk::SecretKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| BlsError::InvalidSecretKey)
    }

    /// From hex (with or without `0x`).
    pub fn from_hex(text: &str) -> Result<Self, BlsError> {
        Self::from_bytes(&decode_hex(text)?)
    }

    /// IETF/EIP-2333 `KeyGen` from at least 32 bytes of input key material.
    pub fn key_gen(ikm: &[u8]) -> Result<Self, BlsError> {
        if ikm.len() < 32 {
            return Err(BlsError::InvalidLength {
                expected: 32,
                got: ikm.len(),
            });
        }
        min_pk::SecretKey::key_gen(ikm, &[])
            .map(Self)
            .map_err(|_| BlsError::InvalidSecretKey)
    }

    /// A fresh random key from the OS RNG.
    pub fn random() -> Self {
        use rand::RngCore;
        loop {
            let mut ikm = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut ikm);
            if let Ok(sk) = Self::key_gen(&ikm) {
                return sk;
            }
        }
    }

    /// The 32-byte scalar. Handle with care.
    pub fn to_bytes(&self) -> [u8; SECRET_KEY_LEN] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.sk_to_pk())
    }

    /// Sign `msg` with the POP ciphersuite.
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg, DST, &[]))
    }

    /// The proof of possession of this key: its signature of its own compressed public key
    /// under [`POP_DST`].
    pub fn proof_of_possession(&self) -> Signature {
        Signature(self.0.sign(&self.public_key().to_bytes(), POP_DST, &[]))
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(<redacted>, pubkey {})", self.public_key())
    }
}

/// A validated BLS public key (on the curve, in the subgroup, not infinity).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(min_pk::PublicKey);

impl PublicKey {
    /// From the 48-byte compressed encoding, fully validated.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        if bytes.len() != PUBLIC_KEY_LEN {
            return Err(BlsError::InvalidLength {
                expected: PUBLIC_KEY_LEN,
                got: bytes.len(),
            });
        }
        let pk = min_pk::PublicKey::uncompress(bytes).map_err(map_blst)?;
        pk.validate().map_err(map_blst)?;
        Ok(Self(pk))
    }

    /// From hex (with or without `0x`).
    pub fn from_hex(text: &str) -> Result<Self, BlsError> {
        Self::from_bytes(&decode_hex(text)?)
    }

    /// The 48-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.compress()
    }

    /// `0x`-prefixed hex of the compressed encoding.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.to_bytes()))
    }
}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state)
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PublicKey::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// A BLS signature: a G2 point in the subgroup (infinity allowed, it simply never verifies
/// against a valid key).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(min_pk::Signature);

impl Signature {
    /// From the 96-byte compressed encoding, on-curve and subgroup checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        if bytes.len() != SIGNATURE_LEN {
            return Err(BlsError::InvalidLength {
                expected: SIGNATURE_LEN,
                got: bytes.len(),
            });
        }
        let sig = min_pk::Signature::uncompress(bytes).map_err(map_blst)?;
        sig.validate(false).map_err(map_blst)?;
        Ok(Self(sig))
    }

    /// From hex (with or without `0x`).
    pub fn from_hex(text: &str) -> Result<Self, BlsError> {
        Self::from_bytes(&decode_hex(text)?)
    }

    /// The 96-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.0.compress()
    }

    /// Verify a single signature of `msg` by `pk`.
    pub fn verify(&self, pk: &PublicKey, msg: &[u8]) -> bool {
        self.0.verify(true, msg, DST, &[], &pk.0, false) == BLST_ERROR::BLST_SUCCESS
    }

    /// Whether this is a valid proof of possession of `pk` (see
    /// [`SecretKey::proof_of_possession`]).
    pub fn verify_proof_of_possession(&self, pk: &PublicKey) -> bool {
        self.0
            .verify(true, &pk.to_bytes(), POP_DST, &[], &pk.0, true)
            == BLST_ERROR::BLST_SUCCESS
    }

    /// `0x`-prefixed hex of the compressed encoding.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.to_bytes()))
    }

    /// Verify an aggregate signature of the same `msg` by all of `pks`. False for an empty set.
    pub fn fast_aggregate_verify(&self, pks: &[PublicKey], msg: &[u8]) -> bool {
        if pks.is_empty() {
            return false;
        }
        let refs: Vec<&min_pk::PublicKey> = pks.iter().map(|p| &p.0).collect();
        self.0.fast_aggregate_verify(true, msg, DST, &refs) == BLST_ERROR::BLST_SUCCESS
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature(0x{})", hex::encode(self.to_bytes()))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Signature::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// An aggregate of signatures under construction.
#[derive(Clone)]
pub struct AggregateSignature(min_pk::AggregateSignature);

impl AggregateSignature {
    /// Aggregate a non-empty set of (already subgroup-checked) signatures.
    pub fn aggregate(sigs: &[Signature]) -> Result<Self, BlsError> {
        if sigs.is_empty() {
            return Err(BlsError::EmptyAggregate);
        }
        let refs: Vec<&min_pk::Signature> = sigs.iter().map(|s| &s.0).collect();
        min_pk::AggregateSignature::aggregate(&refs, false)
            .map(Self)
            .map_err(map_blst)
    }

    /// Add one more signature.
    pub fn add(&mut self, sig: &Signature) -> Result<(), BlsError> {
        self.0.add_signature(&sig.0, false).map_err(map_blst)
    }

    /// The aggregate as a signature.
    pub fn to_signature(&self) -> Signature {
        Signature(self.0.to_signature())
    }
}

/// Convenience: sign `msg` with `sk`.
pub fn sign(sk: &SecretKey, msg: &[u8]) -> Signature {
    sk.sign(msg)
}

/// Convenience: verify `sig` of `msg` by `pk`.
pub fn verify(pk: &PublicKey, msg: &[u8], sig: &Signature) -> bool {
    sig.verify(pk, msg)
}

/// Convenience: verify an aggregate of `msg` by `pks`.
pub fn fast_aggregate_verify(pks: &[PublicKey], msg: &[u8], sig: &Signature) -> bool {
    sig.fast_aggregate_verify(pks, msg)
}

/// Why a key file could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read or written, or others can access it.
    #[error("key file {0}")]
    File(#[from] alys_secrets::SecretFileError),
    /// Not JSON of the expected shape nor bare hex.
    #[error("key file {path}: malformed: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key itself is invalid.
    #[error("key file {path}: {source}")]
    InvalidKey {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: BlsError,
    },
    /// The `publicKey` in the file does not match its `secretKey`.
    #[error("key file {path}: publicKey does not match secretKey")]
    PublicKeyMismatch {
        /// The file.
        path: PathBuf,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyFileJson {
    secret_key: String,
    #[serde(default)]
    public_key: Option<String>,
}

/// Load a secret key from `path` (JSON or bare hex, see the module docs); refused when group
/// or others can access the file.
pub fn load_secret_key(path: &Path) -> Result<SecretKey, KeyFileError> {
    parse_secret_key(path, &alys_secrets::read_secret_file(path)?)
}

/// Parse the text of a key file read from `path` (named in errors).
pub fn parse_secret_key(path: &Path, text: &str) -> Result<SecretKey, KeyFileError> {
    let text = text.trim();
    let invalid = |source| KeyFileError::InvalidKey {
        path: path.to_path_buf(),
        source,
    };
    if text.starts_with('{') {
        let parsed: KeyFileJson =
            serde_json::from_str(text).map_err(|e| KeyFileError::Malformed {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let sk = SecretKey::from_hex(&parsed.secret_key).map_err(invalid)?;
        if let Some(pk) = parsed.public_key {
            let pk = PublicKey::from_hex(&pk).map_err(invalid)?;
            if pk != sk.public_key() {
                return Err(KeyFileError::PublicKeyMismatch {
                    path: path.to_path_buf(),
                });
            }
        }
        Ok(sk)
    } else {
        SecretKey::from_hex(text).map_err(invalid)
    }
}

/// Save `sk` (with its public key) as JSON to `path`, created with mode 0600. Fails if the
/// file already exists, so a key is never overwritten by accident.
pub fn save_secret_key(path: &Path, sk: &SecretKey) -> Result<(), KeyFileError> {
    let body = KeyFileJson {
        secret_key: format!("0x{}", hex::encode(sk.to_bytes())),
        public_key: Some(sk.public_key().to_hex()),
    };
    let text = serde_json::to_string_pretty(&body).map_err(|e| KeyFileError::Malformed {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    alys_secrets::create_secret_file(path, format!("{text}\n").as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_roundtrip() {
        let sk = SecretKey::key_gen(&[7u8; 32]).unwrap();
        let pk = sk.public_key();
        let sig = sk.sign(b"hello");
        assert!(sig.verify(&pk, b"hello"));
        assert!(!sig.verify(&pk, b"hellO"));
        let sig2 = Signature::from_bytes(&sig.to_bytes()).unwrap();
        assert_eq!(sig, sig2);
        assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
        assert!(!format!("{sk:?}").contains(&hex::encode(sk.to_bytes())));
    }

    #[test]
    fn aggregate_roundtrip() {
        let sks: Vec<_> = (1..=3u8)
            .map(|i| SecretKey::key_gen(&[i; 32]).unwrap())
            .collect();
        let pks: Vec<_> = sks.iter().map(|s| s.public_key()).collect();
        let sigs: Vec<_> = sks.iter().map(|s| s.sign(b"m")).collect();
        let agg = AggregateSignature::aggregate(&sigs).unwrap().to_signature();
        assert!(agg.fast_aggregate_verify(&pks, b"m"));
        assert!(!agg.fast_aggregate_verify(&pks[..2], b"m"));
        assert!(!agg.fast_aggregate_verify(&[], b"m"));
        assert_eq!(
            AggregateSignature::aggregate(&[]).err(),
            Some(BlsError::EmptyAggregate)
        );
    }

    #[test]
    fn proof_of_possession_binds_the_key() {
        let sk = SecretKey::key_gen(&[5u8; 32]).unwrap();
        let other = SecretKey::key_gen(&[6u8; 32]).unwrap();
        let pop = sk.proof_of_possession();
        assert!(pop.verify_proof_of_possession(&sk.public_key()));
        assert!(!pop.verify_proof_of_possession(&other.public_key()));
        // A plain signature of the public key (block-signing DST) is not a proof.
        let plain = sk.sign(&sk.public_key().to_bytes());
        assert!(!plain.verify_proof_of_possession(&sk.public_key()));
        let json = serde_json::to_string(&pop).unwrap();
        assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), pop);
    }

    #[test]
    fn key_file_roundtrip_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let sk = SecretKey::key_gen(&[9u8; 32]).unwrap();
        save_secret_key(&path, &sk).unwrap();
        let loaded = load_secret_key(&path).unwrap();
        assert_eq!(loaded.to_bytes(), sk.to_bytes());
        assert!(save_secret_key(&path, &sk).is_err(), "never overwrites");

        let hex_path = dir.path().join("key.hex");
        std::fs::write(&hex_path, format!("0x{}\n", hex::encode(sk.to_bytes()))).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&hex_path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                load_secret_key(&hex_path),
                Err(KeyFileError::File(
                    alys_secrets::SecretFileError::InsecurePermissions { .. }
                ))
            ));
            std::fs::set_permissions(&hex_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(
            load_secret_key(&hex_path).unwrap().to_bytes(),
            sk.to_bytes()
        );

        let bad = dir.path().join("bad");
        std::fs::write(&bad, "{\"secretKey\": \"0x00\"}").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(
            load_secret_key(&bad),
            Err(KeyFileError::InvalidKey { .. })
        ));
    }
}
