//! The federation member's Bitcoin key file (`alys node --bitcoin-key`): one WIF private key
//! (compressed), the format Bitcoin Core's `dumpprivkey`/`importprivkey` use, and a newline.
//! The WIF's network prefix is informative: the key signs for the network of the chain spec.

use std::path::{Path, PathBuf};

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Network, PrivateKey, PublicKey, XOnlyPublicKey};

/// Why a Bitcoin key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BitcoinKeyError {
    /// Reading or writing the file failed, or others can access it.
    #[error("Bitcoin key file {0}")]
    File(#[from] alys_secrets::SecretFileError),
    /// The file does not hold a WIF private key.
    #[error("Bitcoin key file {path}: not a WIF private key: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A loaded Bitcoin key and the public forms an operator puts in the chain spec.
#[derive(Clone)]
pub struct BitcoinKey {
    /// The private key.
    pub private: PrivateKey,
}

impl BitcoinKey {
    /// The 33-byte compressed public key.
    pub fn public_key(&self) -> PublicKey {
        let mut pk = self.private.public_key(&Secp256k1::signing_only());
        pk.compressed = true;
        pk
    }

    /// The 32-byte x-only public key (BIP-340, the form of `federationBitcoinPubkeys`).
    pub fn x_only_public_key(&self) -> XOnlyPublicKey {
        XOnlyPublicKey::from(self.public_key().inner)
    }
}

impl std::fmt::Debug for BitcoinKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BitcoinKey(<redacted>, pubkey {})", self.public_key())
    }
}

/// Writes `secret` as WIF for `network` to a new file with mode 0600 (refused if it exists).
pub fn save_bitcoin_key(
    path: &Path,
    secret: SecretKey,
    network: Network,
) -> Result<BitcoinKey, BitcoinKeyError> {
    let private = PrivateKey::new(secret, network);
    alys_secrets::create_secret_file(path, format!("{}\n", private.to_wif()).as_bytes())?;
    Ok(BitcoinKey { private })
}

/// Generates a random key and writes it as WIF for `network` to a new file with mode 0600.
pub fn generate_bitcoin_key(path: &Path, network: Network) -> Result<BitcoinKey, BitcoinKeyError> {
    let secret = loop {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        // Fails only for zero or a value not below the curve order (probability ~2^-128).
        if let Ok(secret) = SecretKey::from_slice(&bytes) {
            break secret;
        }
    };
    save_bitcoin_key(path, secret, network)
}

/// Reads a Bitcoin key file (refused when group or others can access it).
pub fn load_bitcoin_key(path: &Path) -> Result<BitcoinKey, BitcoinKeyError> {
    let text = alys_secrets::read_secret_file(path)?;
    parse_bitcoin_key(path, &text)
}

/// Parses the text of a Bitcoin key file read from `path` (named in errors).
pub fn parse_bitcoin_key(path: &Path, text: &str) -> Result<BitcoinKey, BitcoinKeyError> {
    // The parse error never quotes the input, so it cannot leak the key.
    let private = PrivateKey::from_wif(text.trim()).map_err(|e| BitcoinKeyError::Malformed {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(BitcoinKey { private })
}
