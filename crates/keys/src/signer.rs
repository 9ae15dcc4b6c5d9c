//! The authority's BLS signing key (`alys node --signer-key`): a plain key file
//! (`alys_primitives::bls` format) or an EIP-2335 keystore, told apart by the keystore's
//! `crypto` member. A keystore needs its password; a plain file ignores one.

use std::path::{Path, PathBuf};

use alys_primitives::bls::{parse_secret_key, KeyFileError, SecretKey};

use crate::keystore::{Keystore, KeystoreError};
use crate::password::Password;

/// Why the signer key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SignerKeyError {
    /// The file could not be read, or others can access it.
    #[error("signer key {0}")]
    File(#[from] alys_secrets::SecretFileError),
    /// A plain key file that does not hold a valid key.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A keystore that could not be decrypted.
    #[error("signer key {path}: {source}")]
    Keystore {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: KeystoreError,
    },
    /// A keystore and no password.
    #[error(
        "signer key {path} is an encrypted keystore: give its password with \
         --signer-key-password-file <file> or the ALYS_SIGNER_KEY_PASSWORD environment variable"
    )]
    PasswordRequired {
        /// The file.
        path: PathBuf,
    },
}

/// Loads a BLS signing key from a plain key file or a keystore (with `password`).
pub fn load_signer_key(
    path: &Path,
    password: Option<&Password>,
) -> Result<SecretKey, SignerKeyError> {
    let text = alys_secrets::read_secret_file(path)?;
    if !Keystore::is_keystore(&text) {
        return Ok(parse_secret_key(path, &text)?);
    }
    let keystore_error = |source| SignerKeyError::Keystore {
        path: path.to_path_buf(),
        source,
    };
    let keystore = Keystore::from_json(&text).map_err(keystore_error)?;
    let password = password.ok_or_else(|| SignerKeyError::PasswordRequired {
        path: path.to_path_buf(),
    })?;
    keystore.decrypt(password).map_err(keystore_error)
}
