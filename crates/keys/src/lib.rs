//! Key files of an Alys node, other than the p2p identity (owned by `alys-network`).
//!
//! * [`keystore`]: EIP-2335 encrypted BLS keystores (version 4: scrypt or PBKDF2, SHA-256
//!   checksum, AES-128-CTR), with [`password`] normalisation as the EIP specifies.
//! * [`signer`]: the `--signer-key` of `alys node`: a plain BLS key file or a keystore.
//! * [`bitcoin_key`]: the federation member's Bitcoin key file (WIF).
//!
//! Every file is read through `alys_secrets`, so a key that group or others can access is
//! refused, and written created with mode 0600, never over an existing file.

pub mod bitcoin_key;
pub mod keystore;
pub mod password;
pub mod signer;

/// Bitcoin networks (for the WIF prefix of generated keys).
pub use bitcoin::Network as BitcoinNetwork;
pub use bitcoin_key::{
    generate_bitcoin_key, load_bitcoin_key, parse_bitcoin_key, save_bitcoin_key, BitcoinKey,
    BitcoinKeyError,
};
pub use keystore::{KdfKind, Keystore, KeystoreError};
pub use password::Password;
pub use signer::{load_signer_key, SignerKeyError};
