//! Peg-out requests read from receipts: only the Bridge's logs count, every address format is
//! recognised for the chain's network, a request that cannot be paid is refunded with its reason,
//! and a malformed Bridge log is a typed error (never a panic, whatever its bytes).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::str::FromStr;

use alloy::consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
use alloy::primitives::{Bytes, LogData};
use alloy::rpc::types::{Log, TransactionReceipt};
use alloy::sol_types::SolEvent;
use alys_federation::bitcoin::key::{CompressedPublicKey, Secp256k1, UntweakedPublicKey};
use alys_federation::bitcoin::{self, Network, PrivateKey};
use alys_federation::{
    burns_from_receipts, classify, BurnLogErrorKind, PegOutDisposition, PegOutRules, RefundReason,
};
use alys_primitives::{
    address, ChainSpec, RequestPegOut, Sats, B256, BRIDGE_ADDRESS, DEFAULT_MIN_PEG_OUT_SATS, U256,
};
use alys_test_utils::seed::seeded_rng;
use rand::Rng;

const SENDER: alys_primitives::Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const WEI_PER_SAT: u64 = 10_000_000_000;

fn rules() -> PegOutRules {
    PegOutRules {
        network: Network::Regtest,
        min: Sats(10_000),
    }
}

fn request_log(sender: alys_primitives::Address, btc: &[u8], wei: U256) -> LogData {
    RequestPegOut {
        evmAddress: sender,
        bitcoinAddress: Bytes::copy_from_slice(btc),
        value: wei,
    }
    .encode_log_data()
}

fn sats(n: u64) -> U256 {
    U256::from(n) * U256::from(WEI_PER_SAT)
}

/// A receipt of transaction `tx` with `logs` (emitter, data).
fn receipt(
    tx: u8,
    success: bool,
    logs: Vec<(alys_primitives::Address, LogData)>,
) -> TransactionReceipt {
    let logs = logs
        .into_iter()
        .map(|(address, data)| Log {
            inner: alloy::primitives::Log { address, data },
            ..Default::default()
        })
        .collect();
    TransactionReceipt {
        inner: ReceiptEnvelope::Eip1559(ReceiptWithBloom::from(Receipt {
            status: Eip658Value::Eip658(success),
            cumulative_gas_used: 50_000,
            logs,
        })),
        transaction_hash: B256::repeat_byte(tx),
        transaction_index: None,
        block_hash: None,
        block_number: None,
        gas_used: 50_000,
        effective_gas_price: 1,
        blob_gas_used: None,
        blob_gas_price: None,
        from: SENDER,
        to: Some(BRIDGE_ADDRESS),
        contract_address: None,
    }
}

/// Regtest addresses of a fixed key: P2WPKH (bech32), P2TR (bech32m), P2PKH and P2SH-P2WPKH
/// (base58).
fn regtest_addresses() -> Vec<(&'static str, String)> {
    let secp = Secp256k1::new();
    let key = PrivateKey::from_slice(&[7u8; 32], Network::Regtest).unwrap();
    let pk = CompressedPublicKey::from_private_key(&secp, &key).unwrap();
    let xonly = UntweakedPublicKey::from(pk.0);
    vec![
        (
            "bech32 p2wpkh",
            bitcoin::Address::p2wpkh(&pk, Network::Regtest).to_string(),
        ),
        (
            "bech32m p2tr",
            bitcoin::Address::p2tr(&secp, xonly, None, Network::Regtest).to_string(),
        ),
        (
            "base58 p2pkh",
            bitcoin::Address::p2pkh(pk, Network::Regtest).to_string(),
        ),
        (
            "base58 p2sh",
            bitcoin::Address::p2shwpkh(&pk, Network::Regtest).to_string(),
        ),
    ]
}

#[test]
fn every_regtest_address_format_is_paid() {
    let addresses = regtest_addresses();
    assert!(addresses[0].1.starts_with("bcrt1q"), "{}", addresses[0].1);
    assert!(addresses[1].1.starts_with("bcrt1p"), "{}", addresses[1].1);
    assert!(addresses[2].1.starts_with(['m', 'n']), "{}", addresses[2].1);
    assert!(addresses[3].1.starts_with('2'), "{}", addresses[3].1);
    let receipts: Vec<_> = addresses
        .iter()
        .enumerate()
        .map(|(i, (_, a))| {
            receipt(
                i as u8,
                true,
                vec![(
                    BRIDGE_ADDRESS,
                    request_log(SENDER, a.as_bytes(), sats(20_000)),
                )],
            )
        })
        .collect();
    let requests = burns_from_receipts(&receipts, BRIDGE_ADDRESS, &rules()).unwrap();
    assert_eq!(requests.len(), 4);
    for (i, (r, (kind, text))) in requests.iter().zip(&addresses).enumerate() {
        assert_eq!(r.tx_hash, B256::repeat_byte(i as u8));
        assert_eq!(r.log_index, i as u64);
        assert_eq!(r.sender, SENDER);
        assert_eq!(r.amount, Sats(20_000));
        assert_eq!(r.btc_address, text.as_bytes());
        let expected = bitcoin::Address::from_str(text)
            .unwrap()
            .require_network(Network::Regtest)
            .unwrap();
        assert_eq!(r.disposition, PegOutDisposition::Pay(expected), "{kind}");
    }
    // The address the end-to-end test sends to.
    assert!(matches!(
        classify(
            b"bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
            Sats(10_000),
            &rules()
        ),
        PegOutDisposition::Pay(_)
    ));
}

#[test]
fn request_pegout_from_another_contract_is_ignored() {
    let impostor = address!("0x1111111111111111111111111111111111111111");
    let btc = regtest_addresses()[0].1.clone();
    let receipts = vec![
        receipt(
            1,
            true,
            vec![(impostor, request_log(SENDER, btc.as_bytes(), sats(50_000)))],
        ),
        receipt(
            2,
            true,
            vec![
                (impostor, request_log(SENDER, btc.as_bytes(), sats(70_000))),
                (
                    BRIDGE_ADDRESS,
                    request_log(SENDER, btc.as_bytes(), sats(60_000)),
                ),
            ],
        ),
    ];
    let requests = burns_from_receipts(&receipts, BRIDGE_ADDRESS, &rules()).unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].amount, Sats(60_000));
    assert_eq!(requests[0].tx_hash, B256::repeat_byte(2));
    // Log index counts every log of the block, the ignored ones included.
    assert_eq!(requests[0].log_index, 2);
    // And a log that only claims to be the Bridge through its data is still another emitter.
    assert!(
        burns_from_receipts(&receipts[..1], BRIDGE_ADDRESS, &rules())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn logs_of_a_failed_transaction_are_ignored() {
    let btc = regtest_addresses()[0].1.clone();
    let receipts = vec![receipt(
        1,
        false,
        vec![(
            BRIDGE_ADDRESS,
            request_log(SENDER, btc.as_bytes(), sats(50_000)),
        )],
    )];
    assert!(burns_from_receipts(&receipts, BRIDGE_ADDRESS, &rules())
        .unwrap()
        .is_empty());
}

#[test]
fn unpayable_requests_are_refunded_with_the_reason() {
    let good = regtest_addresses()[0].1.clone();
    let mainnet = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    let bad_checksum = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081";
    let cases: Vec<(&[u8], U256, RefundReason)> = vec![
        (
            b"\xff\xfe not text",
            sats(50_000),
            RefundReason::AddressNotUtf8,
        ),
        (
            mainnet.as_bytes(),
            sats(50_000),
            RefundReason::WrongNetwork {
                address: mainnet.into(),
                network: Network::Regtest,
            },
        ),
        (
            good.as_bytes(),
            sats(9_999),
            RefundReason::BelowMinimum {
                amount: Sats(9_999),
                min: Sats(10_000),
            },
        ),
    ];
    for (btc, wei, reason) in cases {
        let receipts = vec![receipt(
            1,
            true,
            vec![(BRIDGE_ADDRESS, request_log(SENDER, btc, wei))],
        )];
        let requests = burns_from_receipts(&receipts, BRIDGE_ADDRESS, &rules()).unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].disposition, PegOutDisposition::Refund(reason));
        assert_eq!(requests[0].sender, SENDER);
    }
    for unparseable in [
        bad_checksum,
        "hello world",
        "",
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",
    ] {
        let d = classify(unparseable.as_bytes(), Sats(50_000), &rules());
        match d {
            PegOutDisposition::Refund(RefundReason::AddressUnparseable { address, .. }) => {
                assert_eq!(address, unparseable)
            }
            // A base58 mainnet address parses, for another network.
            PegOutDisposition::Refund(RefundReason::WrongNetwork { address, .. }) => {
                assert_eq!(address, unparseable)
            }
            other => panic!("{unparseable}: {other:?}"),
        }
    }
    // A bad address is reported before a low amount.
    assert_eq!(
        classify(mainnet.as_bytes(), Sats(1), &rules()),
        PegOutDisposition::Refund(RefundReason::WrongNetwork {
            address: mainnet.into(),
            network: Network::Regtest
        })
    );
}

#[test]
fn malformed_bridge_logs_are_typed_errors() {
    let btc = regtest_addresses()[0].1.clone();
    let good = request_log(SENDER, btc.as_bytes(), sats(20_000));
    let wrong_topic = LogData::new_unchecked(
        vec![B256::repeat_byte(9), good.topics()[1]],
        good.data.clone(),
    );
    let no_sender = LogData::new_unchecked(vec![good.topics()[0]], good.data.clone());
    let truncated = LogData::new_unchecked(
        good.topics().to_vec(),
        good.data.slice(..good.data.len() - 40),
    );
    let empty = LogData::new_unchecked(Vec::new(), Bytes::new());
    for (what, data) in [
        ("wrong topic", wrong_topic),
        ("no sender topic", no_sender),
        ("truncated data", truncated),
        ("empty", empty),
    ] {
        let receipts = vec![receipt(3, true, vec![(BRIDGE_ADDRESS, data)])];
        let e = burns_from_receipts(&receipts, BRIDGE_ADDRESS, &rules()).unwrap_err();
        assert_eq!(e.tx_hash, B256::repeat_byte(3), "{what}");
        assert_eq!(e.log_index, 0, "{what}");
        assert!(
            matches!(e.kind, BurnLogErrorKind::Undecodable(_)),
            "{what}: {e}"
        );
    }
    let fractional = sats(20_000) + U256::from(1);
    let receipts = vec![receipt(
        3,
        true,
        vec![(
            BRIDGE_ADDRESS,
            request_log(SENDER, btc.as_bytes(), fractional),
        )],
    )];
    assert_eq!(
        burns_from_receipts(&receipts, BRIDGE_ADDRESS, &rules())
            .unwrap_err()
            .kind,
        BurnLogErrorKind::NotWholeSats(fractional)
    );
    let huge = sats(u64::MAX) + sats(1);
    let receipts = vec![receipt(
        3,
        true,
        vec![(BRIDGE_ADDRESS, request_log(SENDER, btc.as_bytes(), huge))],
    )];
    assert_eq!(
        burns_from_receipts(&receipts, BRIDGE_ADDRESS, &rules())
            .unwrap_err()
            .kind,
        BurnLogErrorKind::ValueTooLarge(huge)
    );
}

#[test]
fn arbitrary_bridge_log_bytes_never_panic() {
    let mut rng = seeded_rng("arbitrary Bridge logs");
    let topic0 = RequestPegOut::SIGNATURE_HASH;
    for _ in 0..5_000 {
        let n_topics = rng.gen_range(0..5);
        let mut topics: Vec<B256> = (0..n_topics)
            .map(|_| B256::from(rng.gen::<[u8; 32]>()))
            .collect();
        if !topics.is_empty() && rng.gen_bool(0.7) {
            topics[0] = topic0;
        }
        let len = rng.gen_range(0..300);
        let mut data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        // Half of the time a plausible head: offset 0x40 and a small length, random rest.
        if len >= 96 && rng.gen_bool(0.5) {
            data[..32].copy_from_slice(&U256::from(0x40).to_be_bytes::<32>());
            data[64..96].copy_from_slice(&U256::from(rng.gen_range(0..200u64)).to_be_bytes::<32>());
        }
        let log = LogData::new_unchecked(topics, Bytes::from(data));
        let receipts = vec![receipt(1, true, vec![(BRIDGE_ADDRESS, log)])];
        match burns_from_receipts(&receipts, BRIDGE_ADDRESS, &rules()) {
            Ok(requests) => assert_eq!(requests.len(), 1),
            Err(e) => assert_eq!((e.tx_hash, e.log_index), (B256::repeat_byte(1), 0)),
        }
    }
}

#[test]
fn random_requests_are_classified_by_address_and_amount() {
    let mut rng = seeded_rng("random peg-out requests");
    let valid = regtest_addresses();
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for _ in 0..2_000 {
        let amount = Sats(rng.gen_range(0..40_000));
        let (btc, payable): (Vec<u8>, bool) = match rng.gen_range(0..3) {
            0 => (
                valid[rng.gen_range(0..valid.len())].1.clone().into_bytes(),
                true,
            ),
            1 => {
                // One character of a valid address changed: the checksum catches it.
                let mut a = valid[rng.gen_range(0..valid.len())].1.clone().into_bytes();
                let i = rng.gen_range(5..a.len());
                let c = alphabet[rng.gen_range(0..alphabet.len())];
                let changed = a[i] != c;
                a[i] = c;
                (a, !changed)
            }
            _ => {
                let len = rng.gen_range(0..100);
                ((0..len).map(|_| rng.gen()).collect(), false)
            }
        };
        let receipts = vec![receipt(
            1,
            true,
            vec![(BRIDGE_ADDRESS, request_log(SENDER, &btc, sats(amount.0)))],
        )];
        let requests = burns_from_receipts(&receipts, BRIDGE_ADDRESS, &rules()).unwrap();
        assert_eq!(requests.len(), 1);
        let r = &requests[0];
        assert_eq!((r.amount, &r.btc_address), (amount, &btc));
        match &r.disposition {
            PegOutDisposition::Pay(_) => {
                assert!(payable && amount >= rules().min, "{btc:?} {amount}")
            }
            PegOutDisposition::Refund(RefundReason::BelowMinimum { .. }) => {
                assert!(payable && amount < rules().min, "{btc:?} {amount}")
            }
            PegOutDisposition::Refund(_) => assert!(!payable, "{btc:?}"),
        }
    }
}

#[test]
fn rules_come_from_the_spec() {
    let mut spec = ChainSpec::dev(1).unwrap();
    let rules = PegOutRules::from_spec(&spec).unwrap();
    assert_eq!(rules.network, Network::Regtest);
    assert_eq!(rules.min, DEFAULT_MIN_PEG_OUT_SATS);
    spec.bitcoin_network = None;
    assert!(PegOutRules::from_spec(&spec).is_err());
}
