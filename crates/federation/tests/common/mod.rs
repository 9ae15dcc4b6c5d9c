//! Shared helpers for the integration tests.
#![allow(dead_code)]

use alys_federation::bitcoin::key::XOnlyPublicKey;
use alys_federation::SchnorrSigner;

pub(crate) mod bad_payouts;
pub(crate) mod devnet;
pub(crate) mod payout;
pub(crate) mod signers;

/// Deterministic test signer number `i` (secret key = sha-free pattern `[i+1; 32]`).
pub(crate) fn signer(i: u8) -> SchnorrSigner {
    SchnorrSigner::from_bytes(&[i.wrapping_add(1); 32]).unwrap()
}

/// Public keys of signers `0..n`.
pub(crate) fn keys(n: u8) -> Vec<XOnlyPublicKey> {
    (0..n).map(|i| signer(i).public_key()).collect()
}
