//! EIP-2335 BLS keystores (version 4), as Ethereum validator clients write them.
//!
//! Decryption: `key = KDF(password, salt)` (32 bytes; scrypt or PBKDF2-HMAC-SHA256), the
//! password checked by `sha256(key[16..32] ‖ ciphertext) == checksum` before anything is
//! decrypted, then `secret = AES-128-CTR(key[0..16], iv, ciphertext)`. New keystores use scrypt
//! with the EIP's parameters (n = 2^18, r = 8, p = 1), a random 32-byte salt and 16-byte IV, and
//! an empty derivation `path` (the key is random, not derived from a seed).
//!
//! KDF parameters come from a file, so they are bounded before use: scrypt's `n` a power of two
//! up to 2^20 and at most 1 GiB of memory, PBKDF2 at most 2^24 rounds, `dklen` 32.

use std::path::Path;

use aes::cipher::{KeyIvInit, StreamCipher};
use alys_primitives::bls::{PublicKey, SecretKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::password::Password;

/// scrypt cost of new keystores (log2 n).
const SCRYPT_LOG_N: u8 = 18;
/// PBKDF2 rounds of new keystores.
const PBKDF2_ROUNDS: u32 = 262_144;
/// Largest scrypt `n` accepted (log2).
const MAX_SCRYPT_LOG_N: u8 = 20;
/// Largest scrypt memory accepted (128 · r · n bytes).
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// Largest PBKDF2 round count accepted.
const MAX_PBKDF2_ROUNDS: u32 = 1 << 24;
/// Derived key length (the EIP's only value).
const DKLEN: usize = 32;

/// Why a keystore could not be read, decrypted or written.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// Not keystore JSON.
    #[error("not an EIP-2335 keystore: {0}")]
    Malformed(String),
    /// Another keystore version.
    #[error("keystore version {0} is not supported (expected 4, EIP-2335)")]
    UnsupportedVersion(u64),
    /// A KDF, checksum or cipher function this implementation does not know.
    #[error("unsupported {module} function `{function}`")]
    UnsupportedFunction {
        /// `kdf`, `checksum` or `cipher`.
        module: &'static str,
        /// The function named in the file.
        function: String,
    },
    /// Parameters missing, malformed or out of bounds.
    #[error("invalid {module} parameters: {reason}")]
    InvalidParams {
        /// `kdf` or `cipher`.
        module: &'static str,
        /// Why.
        reason: String,
    },
    /// The checksum does not match: the password is wrong (or the file was altered).
    #[error("wrong password for the keystore (checksum mismatch)")]
    WrongPassword,
    /// The decrypted secret is not a valid BLS secret key.
    #[error("the decrypted secret is not a BLS secret key: {0}")]
    InvalidSecret(alys_primitives::BlsError),
    /// The `pubkey` field does not belong to the decrypted secret key.
    #[error("the keystore's pubkey does not match its secret key")]
    PublicKeyMismatch,
    /// Reading or writing the file failed.
    #[error("keystore {0}")]
    File(#[from] alys_secrets::SecretFileError),
}

/// Which KDF protects a new keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KdfKind {
    /// scrypt (n = 2^18, r = 8, p = 1).
    #[default]
    Scrypt,
    /// PBKDF2-HMAC-SHA256, 262,144 rounds.
    Pbkdf2,
}

/// One module (`kdf`, `checksum`, `cipher`) of the keystore's `crypto` object.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Module {
    function: String,
    params: Value,
    message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Crypto {
    kdf: Module,
    checksum: Module,
    cipher: Module,
}

/// An EIP-2335 keystore.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Keystore {
    crypto: Crypto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pubkey: Option<String>,
    path: String,
    uuid: String,
    version: u64,
}

fn hex_field(module: &'static str, name: &str, text: &str) -> Result<Vec<u8>, KeystoreError> {
    hex::decode(text.trim_start_matches("0x")).map_err(|e| KeystoreError::InvalidParams {
        module,
        reason: format!("{name}: invalid hex: {e}"),
    })
}

fn param<'a>(
    module: &'static str,
    params: &'a Value,
    name: &str,
) -> Result<&'a Value, KeystoreError> {
    params
        .get(name)
        .ok_or_else(|| KeystoreError::InvalidParams {
            module,
            reason: format!("missing `{name}`"),
        })
}

fn param_u64(module: &'static str, params: &Value, name: &str) -> Result<u64, KeystoreError> {
    param(module, params, name)?
        .as_u64()
        .ok_or_else(|| KeystoreError::InvalidParams {
            module,
            reason: format!("`{name}` must be a non-negative integer"),
        })
}

fn param_hex(module: &'static str, params: &Value, name: &str) -> Result<Vec<u8>, KeystoreError> {
    let text =
        param(module, params, name)?
            .as_str()
            .ok_or_else(|| KeystoreError::InvalidParams {
                module,
                reason: format!("`{name}` must be a hex string"),
            })?;
    hex_field(module, name, text)
}

fn invalid_kdf(reason: impl Into<String>) -> KeystoreError {
    KeystoreError::InvalidParams {
        module: "kdf",
        reason: reason.into(),
    }
}

/// The 32-byte decryption key from the `kdf` module.
fn derive_key(kdf: &Module, password: &Password) -> Result<[u8; DKLEN], KeystoreError> {
    let p = &kdf.params;
    if param_u64("kdf", p, "dklen")? != DKLEN as u64 {
        return Err(invalid_kdf(format!("dklen must be {DKLEN}")));
    }
    let salt = param_hex("kdf", p, "salt")?;
    let mut key = [0u8; DKLEN];
    match kdf.function.as_str() {
        "scrypt" => {
            let n = param_u64("kdf", p, "n")?;
            let r = param_u64("kdf", p, "r")?;
            let pp = param_u64("kdf", p, "p")?;
            if n < 2 || !n.is_power_of_two() || n.trailing_zeros() > u32::from(MAX_SCRYPT_LOG_N) {
                return Err(invalid_kdf(format!(
                    "scrypt n = {n}: must be a power of two in 2..=2^{MAX_SCRYPT_LOG_N}"
                )));
            }
            let memory = 128u64.saturating_mul(r).saturating_mul(n);
            if r == 0 || pp == 0 || memory > MAX_SCRYPT_MEMORY {
                return Err(invalid_kdf(format!(
                    "scrypt r = {r}, p = {pp}: must be positive, with 128·r·n at most 1 GiB"
                )));
            }
            let (Ok(r), Ok(pp)) = (u32::try_from(r), u32::try_from(pp)) else {
                return Err(invalid_kdf("scrypt r or p out of range"));
            };
            let params = scrypt::Params::new(n.trailing_zeros() as u8, r, pp, DKLEN)
                .map_err(|e| invalid_kdf(format!("scrypt: {e}")))?;
            scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key)
                .map_err(|e| invalid_kdf(format!("scrypt: {e}")))?;
        }
        "pbkdf2" => {
            let prf = param("kdf", p, "prf")?.as_str().unwrap_or_default();
            if prf != "hmac-sha256" {
                return Err(KeystoreError::UnsupportedFunction {
                    module: "kdf",
                    function: format!("pbkdf2 prf {prf}"),
                });
            }
            let c = param_u64("kdf", p, "c")?;
            if c == 0 || c > u64::from(MAX_PBKDF2_ROUNDS) {
                return Err(invalid_kdf(format!(
                    "pbkdf2 c = {c}: must be in 1..={MAX_PBKDF2_ROUNDS}"
                )));
            }
            pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, c as u32, &mut key);
        }
        other => {
            return Err(KeystoreError::UnsupportedFunction {
                module: "kdf",
                function: other.into(),
            })
        }
    }
    Ok(key)
}

fn checksum(key: &[u8; DKLEN], ciphertext: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&key[16..32]);
    h.update(ciphertext);
    h.finalize().into()
}

fn aes_128_ctr(key: &[u8; DKLEN], iv: &[u8], data: &mut [u8]) -> Result<(), KeystoreError> {
    let mut cipher =
        ctr::Ctr128BE::<aes::Aes128>::new_from_slices(&key[..16], iv).map_err(|_| {
            KeystoreError::InvalidParams {
                module: "cipher",
                reason: format!("iv must be 16 bytes, got {}", iv.len()),
            }
        })?;
    cipher.apply_keystream(data);
    Ok(())
}

impl Keystore {
    /// Encrypts `sk` under `password` (see the module docs for the parameters).
    pub fn encrypt(
        sk: &SecretKey,
        password: &Password,
        kdf: KdfKind,
    ) -> Result<Self, KeystoreError> {
        let mut salt = [0u8; 32];
        let mut iv = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let kdf = match kdf {
            KdfKind::Scrypt => Module {
                function: "scrypt".into(),
                params: json!({"dklen": DKLEN, "n": 1u64 << SCRYPT_LOG_N, "r": 8, "p": 1, "salt": hex::encode(salt)}),
                message: String::new(),
            },
            KdfKind::Pbkdf2 => Module {
                function: "pbkdf2".into(),
                params: json!({"dklen": DKLEN, "c": PBKDF2_ROUNDS, "prf": "hmac-sha256", "salt": hex::encode(salt)}),
                message: String::new(),
            },
        };
        let key = derive_key(&kdf, password)?;
        let mut ciphertext = sk.to_bytes().to_vec();
        aes_128_ctr(&key, &iv, &mut ciphertext)?;
        Ok(Self {
            crypto: Crypto {
                kdf,
                checksum: Module {
                    function: "sha256".into(),
                    params: json!({}),
                    message: hex::encode(checksum(&key, &ciphertext)),
                },
                cipher: Module {
                    function: "aes-128-ctr".into(),
                    params: json!({"iv": hex::encode(iv)}),
                    message: hex::encode(&ciphertext),
                },
            },
            description: Some("Alys authority BLS signing key".into()),
            pubkey: Some(hex::encode(sk.public_key().to_bytes())),
            path: String::new(),
            uuid: uuid::Uuid::new_v4().to_string(),
            version: 4,
        })
    }

    /// Parses keystore JSON (version 4).
    pub fn from_json(text: &str) -> Result<Self, KeystoreError> {
        let ks: Self =
            serde_json::from_str(text).map_err(|e| KeystoreError::Malformed(e.to_string()))?;
        if ks.version != 4 {
            return Err(KeystoreError::UnsupportedVersion(ks.version));
        }
        Ok(ks)
    }

    /// Whether `text` looks like a keystore (a JSON object with a `crypto` member), as opposed
    /// to a plain key file.
    pub fn is_keystore(text: &str) -> bool {
        serde_json::from_str::<Value>(text)
            .ok()
            .is_some_and(|v| v.get("crypto").is_some())
    }

    /// Reads a keystore file (refused when group or others can access it).
    pub fn load(path: &Path) -> Result<Self, KeystoreError> {
        Self::from_json(&alys_secrets::read_secret_file(path)?)
    }

    /// Writes the keystore to a new file with mode 0600 (never overwrites).
    pub fn save(&self, path: &Path) -> Result<(), KeystoreError> {
        alys_secrets::create_secret_file(path, format!("{}\n", self.to_json()).as_bytes())?;
        Ok(())
    }

    /// The keystore as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The public key the keystore declares (readable without the password), if any.
    pub fn pubkey(&self) -> Result<Option<PublicKey>, KeystoreError> {
        self.pubkey
            .as_deref()
            .map(|h| {
                PublicKey::from_hex(h).map_err(|e| KeystoreError::Malformed(format!("pubkey: {e}")))
            })
            .transpose()
    }

    /// Decrypts the secret key; [`KeystoreError::WrongPassword`] when the checksum fails.
    pub fn decrypt(&self, password: &Password) -> Result<SecretKey, KeystoreError> {
        let c = &self.crypto;
        if c.checksum.function != "sha256" {
            return Err(KeystoreError::UnsupportedFunction {
                module: "checksum",
                function: c.checksum.function.clone(),
            });
        }
        if c.cipher.function != "aes-128-ctr" {
            return Err(KeystoreError::UnsupportedFunction {
                module: "cipher",
                function: c.cipher.function.clone(),
            });
        }
        let iv = param_hex("cipher", &c.cipher.params, "iv")?;
        let mut data = hex_field("cipher", "message", &c.cipher.message)?;
        let expected = hex_field("checksum", "message", &c.checksum.message)?;
        let key = derive_key(&c.kdf, password)?;
        if checksum(&key, &data).as_slice() != expected.as_slice() {
            return Err(KeystoreError::WrongPassword);
        }
        aes_128_ctr(&key, &iv, &mut data)?;
        let sk = SecretKey::from_bytes(&data).map_err(KeystoreError::InvalidSecret)?;
        if let Some(pk) = self.pubkey()? {
            if pk != sk.public_key() {
                return Err(KeystoreError::PublicKeyMismatch);
            }
        }
        Ok(sk)
    }
}
