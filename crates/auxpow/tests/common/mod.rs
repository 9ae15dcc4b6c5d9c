//! Shared helpers for the integration tests.
#![allow(dead_code)]

use alys_auxpow::bitcoin::{CompactTarget, Target, TxMerkleNode};
use alys_auxpow::{grind_header, AuxPow};

/// Regtest-style limit `0x207fffff`.
pub(crate) fn regtest_bits() -> CompactTarget {
    CompactTarget::from_consensus(0x207f_ffff)
}

/// Target of [`regtest_bits`].
pub(crate) fn regtest_target() -> Target {
    Target::from_compact(regtest_bits())
}

/// A limit above every target (no pow-limit constraint).
pub(crate) fn no_limit() -> Target {
    Target::from_be_bytes([0xff; 32])
}

/// Recomputes the parent merkle root for a one-transaction parent and grinds to regtest.
pub(crate) fn reseal(aux: &mut AuxPow) {
    aux.parent_header.merkle_root =
        TxMerkleNode::from_raw_hash(aux.coinbase_tx.compute_txid().to_raw_hash());
    aux.parent_header.nonce = 0;
    assert!(grind_header(
        &mut aux.parent_header,
        &regtest_target(),
        1_000_000
    ));
}
