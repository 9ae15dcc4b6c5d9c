//! BIP-340 Schnorr signing and verification (libsecp256k1 through rust-bitcoin), used for the
//! federation's taproot script-path peg-out signatures.

use bitcoin::key::{Keypair, Secp256k1, XOnlyPublicKey};
use bitcoin::secp256k1::{schnorr, Message, SecretKey};

/// Schnorr signing/verification errors.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchnorrError {
    /// The secret key is zero or not below the curve order.
    #[error("invalid secret key")]
    InvalidSecretKey,
    /// The public key is not an x coordinate on the curve.
    #[error("invalid x-only public key")]
    InvalidPublicKey,
    /// The signature bytes are malformed.
    #[error("malformed signature")]
    MalformedSignature,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// A secret key ready for BIP-340 signing.
#[derive(Clone)]
pub struct SchnorrSigner {
    keypair: Keypair,
}

impl std::fmt::Debug for SchnorrSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SchnorrSigner({})", self.public_key())
    }
}

impl SchnorrSigner {
    /// From 32 secret-key bytes.
    pub fn from_bytes(secret: &[u8; 32]) -> Result<Self, SchnorrError> {
        let sk = SecretKey::from_slice(secret).map_err(|_| SchnorrError::InvalidSecretKey)?;
        Ok(Self::from_secret_key(&sk))
    }

    /// From a secp256k1 secret key.
    pub fn from_secret_key(sk: &SecretKey) -> Self {
        let secp = Secp256k1::signing_only();
        Self {
            keypair: Keypair::from_secret_key(&secp, sk),
        }
    }

    /// The x-only public key (what goes into the federation script).
    pub fn public_key(&self) -> XOnlyPublicKey {
        self.keypair.x_only_public_key().0
    }

    /// BIP-340 signature of the 32-byte message `msg` (e.g. a taproot sighash) with
    /// auxiliary randomness `aux_rand`.
    pub fn sign(&self, msg: &[u8; 32], aux_rand: &[u8; 32]) -> schnorr::Signature {
        let secp = Secp256k1::signing_only();
        secp.sign_schnorr_with_aux_rand(&Message::from_digest(*msg), &self.keypair, aux_rand)
    }
}

/// Verifies a BIP-340 signature of the 32-byte `msg` under `pubkey`.
pub fn verify(
    pubkey: &XOnlyPublicKey,
    msg: &[u8; 32],
    sig: &schnorr::Signature,
) -> Result<(), SchnorrError> {
    let secp = Secp256k1::verification_only();
    secp.verify_schnorr(sig, &Message::from_digest(*msg), pubkey)
        .map_err(|_| SchnorrError::BadSignature)
}

/// [`verify`] on raw bytes: 32-byte x-only key, 64-byte signature. Malformed input is an error,
/// never a panic.
pub fn verify_bytes(pubkey: &[u8], msg: &[u8; 32], sig: &[u8]) -> Result<(), SchnorrError> {
    let pk = XOnlyPublicKey::from_slice(pubkey).map_err(|_| SchnorrError::InvalidPublicKey)?;
    let sig = schnorr::Signature::from_slice(sig).map_err(|_| SchnorrError::MalformedSignature)?;
    verify(&pk, msg, &sig)
}
