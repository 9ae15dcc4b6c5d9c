//! Payout fixtures: federations, UTXOs, requests of every address type, signing and
//! libbitcoinconsensus verification.

use alys_federation::bitcoin::hashes::Hash;
use alys_federation::bitcoin::key::{CompressedPublicKey, Secp256k1};
use alys_federation::bitcoin::secp256k1::SecretKey;
use alys_federation::bitcoin::{Address, Network, OutPoint, Transaction, Txid};
use alys_federation::{
    sign_payout, EmergencyPath, Federation, Payout, PayoutRequest, RequestId, Utxo,
};
use alys_primitives::{Sats, B256};

use super::{keys, signer};

pub(crate) fn fed(n: u8, m: u32) -> Federation {
    Federation::new(Network::Regtest, keys(n), m, None, 0).unwrap()
}

pub(crate) fn fed_with_emergency() -> Federation {
    let emergency = EmergencyPath {
        keys: keys(12)[8..].to_vec(),
        threshold: 2,
        csv_delay: 144,
    };
    Federation::new(Network::Regtest, keys(3), 2, Some(emergency), 0).unwrap()
}

pub(crate) fn utxo(i: u32, value: u64) -> Utxo {
    let mut h = [0u8; 32];
    h[..4].copy_from_slice(&i.to_be_bytes());
    Utxo {
        outpoint: OutPoint {
            txid: Txid::from_byte_array(h),
            vout: i % 3,
        },
        value: Sats(value),
    }
}

/// An address of a different type per `i`: P2WPKH, P2TR, P2PKH, P2SH-P2WPKH.
pub(crate) fn address(i: u64) -> Address {
    let secp = Secp256k1::new();
    let mut secret = [0x42u8; 32];
    secret[..8].copy_from_slice(&(i + 1).to_be_bytes());
    let sk = SecretKey::from_slice(&secret).unwrap();
    let pk = CompressedPublicKey(sk.public_key(&secp));
    match i % 4 {
        0 => Address::p2wpkh(&pk, Network::Regtest),
        1 => Address::p2tr(&secp, pk.0.x_only_public_key().0, None, Network::Regtest),
        2 => Address::p2pkh(pk, Network::Regtest),
        _ => Address::p2shwpkh(&pk, Network::Regtest),
    }
}

pub(crate) fn request(i: u64, amount: u64) -> PayoutRequest {
    PayoutRequest {
        id: RequestId {
            tx_hash: B256::with_last_byte((i % 256) as u8),
            log_index: i,
        },
        address: address(i),
        amount: Sats(amount),
    }
}

pub(crate) fn requests(amounts: &[u64]) -> Vec<PayoutRequest> {
    amounts
        .iter()
        .enumerate()
        .map(|(i, a)| request(i as u64, *a))
        .collect()
}

pub(crate) fn utxos(values: &[u64]) -> Vec<Utxo> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| utxo(i as u32, *v))
        .collect()
}

pub(crate) fn sum_out(tx: &Transaction) -> u64 {
    tx.output.iter().map(|o| o.value.to_sat()).sum()
}

pub(crate) fn sign_all(f: &Federation, p: &Payout, signers: &[u8]) -> Vec<Option<Vec<[u8; 64]>>> {
    let n = f.keys().len() as u8;
    (0..n)
        .map(|i| {
            signers
                .contains(&i)
                .then(|| sign_payout(&signer(i), f, &p.tx, &p.inputs).unwrap())
        })
        .collect()
}

pub(crate) fn consensus_verify(f: &Federation, tx: &Transaction, prevouts: &[Utxo]) {
    let bytes = alys_federation::bitcoin::consensus::serialize(tx);
    let spk = f.script_pubkey().as_bytes();
    let spent: Vec<bitcoinconsensus::Utxo> = prevouts
        .iter()
        .map(|u| bitcoinconsensus::Utxo {
            script_pubkey: spk.as_ptr(),
            script_pubkey_len: spk.len() as u32,
            value: u.value.0 as i64,
        })
        .collect();
    let flags = bitcoinconsensus::VERIFY_ALL_PRE_TAPROOT | bitcoinconsensus::VERIFY_TAPROOT;
    for (i, u) in prevouts.iter().enumerate() {
        bitcoinconsensus::verify_with_flags(spk, u.value.0, &bytes, Some(&spent), i, flags)
            .unwrap_or_else(|e| panic!("input {i}: {e:?}"));
    }
}
