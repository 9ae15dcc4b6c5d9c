//! Bitcoin Core's `tx_valid.json`, `tx_invalid.json` and `script_tests.json` run through the
//! devnet's own checks (`script::check_transaction` and `script::verify_scripts`, the code the
//! mempool and block connection use).
//!
//! libbitcoinconsensus supports only the consensus flags (P2SH, DERSIG, NULLDUMMY, CLTV, CSV,
//! WITNESS, TAPROOT). Vectors are run with the supported subset of their flags. Script flags
//! only ever restrict, so a case expected to pass must pass with the subset, and a case
//! expected to fail that fails with the subset is a real pass; a case expected to fail that
//! passes with the subset while naming an unsupported flag is listed as skipped (its failure
//! comes from a policy rule the library does not implement).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::{collections::HashMap, str::FromStr};

use alys_btc_devnet::script::{
    check_transaction, flag_from_name, verify_scripts, MANDATORY_FLAGS, VERIFY_P2SH,
    VERIFY_TAPROOT, VERIFY_WITNESS,
};
use alys_primitives::vectors::{report_cases, vectors_path};
use bitcoin::{
    absolute::LockTime, consensus::deserialize, transaction::Version, Amount, OutPoint, ScriptBuf,
    Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use serde_json::Value;

/// Parsed flags: (supported bits, names libbitcoinconsensus does not support).
fn parse_flags(s: &str) -> (u32, Vec<String>) {
    let mut bits = 0;
    let mut unsupported = Vec::new();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match flag_from_name(name) {
            Ok(Some(b)) => bits |= b,
            Ok(None) => unsupported.push(name.to_string()),
            Err(e) => panic!("{e}"),
        }
    }
    (bits, unsupported)
}

/// Drops flags that libbitcoinconsensus would assert on (WITNESS needs P2SH, TAPROOT needs
/// WITNESS).
fn trim(mut flags: u32) -> u32 {
    if flags & VERIFY_P2SH == 0 {
        flags &= !VERIFY_WITNESS;
    }
    if flags & VERIFY_WITNESS == 0 {
        flags &= !VERIFY_TAPROOT;
    }
    flags
}

struct Report {
    name: &'static str,
    passed: usize,
    failed: Vec<String>,
    skipped: Vec<String>,
}

impl Report {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            passed: 0,
            failed: Vec::new(),
            skipped: Vec::new(),
        }
    }
    fn finish(self) {
        println!(
            "{}: {} passed, {} failed, {} skipped",
            self.name,
            self.passed,
            self.failed.len(),
            self.skipped.len()
        );
        for s in &self.skipped {
            println!("  skipped: {s}");
        }
        for f in &self.failed {
            println!("  FAILED: {f}");
        }
        assert!(self.failed.is_empty(), "{} cases failed", self.failed.len());
        report_cases(&format!("Bitcoin Core {}", self.name), self.passed);
    }
}

fn load(file: &str) -> Option<Vec<Value>> {
    let path = vectors_path(&format!("bitcoin_core/{file}"))?;
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let cases = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not a JSON array: {e}", path.display()));
    Some(cases)
}

type Prevouts = HashMap<OutPoint, TxOut>;

fn tx_case(case: &[Value]) -> Option<(Prevouts, Transaction, String)> {
    let inputs = case.first()?.as_array()?;
    let mut prevouts = HashMap::new();
    for i in inputs {
        let i = i.as_array()?;
        let txid = Txid::from_str(i.first()?.as_str()?).ok()?;
        let n = i.get(1)?.as_i64()?;
        let vout = if n == -1 { u32::MAX } else { n as u32 };
        let script = common::parse_script(i.get(2)?.as_str()?).ok()?;
        let amount = i.get(3).and_then(Value::as_i64).unwrap_or(0);
        prevouts.insert(
            OutPoint::new(txid, vout),
            TxOut {
                value: Amount::from_sat(amount as u64),
                script_pubkey: ScriptBuf::from_bytes(script),
            },
        );
    }
    let bytes = hex::decode(case.get(1)?.as_str()?).ok()?;
    let tx: Transaction = deserialize(&bytes).ok()?;
    Some((prevouts, tx, case.get(2)?.as_str()?.to_string()))
}

fn spent_of(prevouts: &Prevouts, tx: &Transaction) -> Option<Vec<TxOut>> {
    tx.input
        .iter()
        .map(|i| prevouts.get(&i.previous_output).cloned())
        .collect()
}

#[test]
fn tx_valid_vectors() {
    let Some(cases) = load("tx_valid.json") else {
        return;
    };
    let mut report = Report::new("tx_valid.json");
    for (n, case) in cases.iter().enumerate() {
        let Some(arr) = case.as_array() else { continue };
        if arr.len() < 3 || !arr[0].is_array() {
            continue;
        }
        let Some((prevouts, tx, flags)) = tx_case(arr) else {
            report.failed.push(format!("#{n}: unparseable case"));
            continue;
        };
        if let Err(e) = check_transaction(&tx) {
            report.failed.push(format!("#{n}: CheckTransaction: {e}"));
            continue;
        }
        let (excluded, _) = parse_flags(&flags);
        let flags = trim(MANDATORY_FLAGS & !excluded);
        let Some(spent) = spent_of(&prevouts, &tx) else {
            report.failed.push(format!("#{n}: missing prevout"));
            continue;
        };
        match verify_scripts(&tx, &spent, flags) {
            Ok(()) => report.passed += 1,
            Err(e) => report
                .failed
                .push(format!("#{n} {}: {e}", tx.compute_txid())),
        }
    }
    report.finish();
}

#[test]
fn tx_invalid_vectors() {
    let Some(cases) = load("tx_invalid.json") else {
        return;
    };
    let mut report = Report::new("tx_invalid.json");
    for (n, case) in cases.iter().enumerate() {
        let Some(arr) = case.as_array() else { continue };
        if arr.len() < 3 || !arr[0].is_array() {
            continue;
        }
        let Some((prevouts, tx, flags)) = tx_case(arr) else {
            report.failed.push(format!("#{n}: unparseable case"));
            continue;
        };
        if flags == "BADTX" {
            match check_transaction(&tx) {
                Err(_) => report.passed += 1,
                Ok(()) => report
                    .failed
                    .push(format!("#{n}: BADTX passed CheckTransaction")),
            }
            continue;
        }
        if check_transaction(&tx).is_err() {
            report.passed += 1;
            continue;
        }
        let (bits, unsupported) = parse_flags(&flags);
        let trimmed = trim(bits);
        let Some(spent) = spent_of(&prevouts, &tx) else {
            // A missing prevout makes the transaction invalid as well.
            report.passed += 1;
            continue;
        };
        match verify_scripts(&tx, &spent, trimmed) {
            Err(_) => report.passed += 1,
            Ok(()) if !unsupported.is_empty() => report.skipped.push(format!(
                "#{n} {}: invalid only under unsupported flag(s) {}",
                tx.compute_txid(),
                unsupported.join(",")
            )),
            Ok(()) if trimmed != bits => report.skipped.push(format!(
                "#{n}: flags {flags} are not a valid combination for libbitcoinconsensus"
            )),
            Ok(()) => report
                .failed
                .push(format!("#{n} {}: accepted with {flags}", tx.compute_txid())),
        }
    }
    report.finish();
}

fn credit_and_spend(
    script_pubkey: &[u8],
    script_sig: &[u8],
    witness: Vec<Vec<u8>>,
    amount: u64,
) -> (Transaction, TxOut) {
    let credit = Transaction {
        version: Version::ONE,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(vec![0x00, 0x00]),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(amount),
            script_pubkey: ScriptBuf::from_bytes(script_pubkey.to_vec()),
        }],
    };
    let spend = Transaction {
        version: Version::ONE,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(credit.compute_txid(), 0),
            script_sig: ScriptBuf::from_bytes(script_sig.to_vec()),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&witness),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(amount),
            script_pubkey: ScriptBuf::new(),
        }],
    };
    let spent = credit.output[0].clone();
    (spend, spent)
}

#[test]
fn script_test_vectors() {
    let Some(cases) = load("script_tests.json") else {
        return;
    };
    let mut report = Report::new("script_tests.json");
    for (n, case) in cases.iter().enumerate() {
        let Some(arr) = case.as_array() else { continue };
        if arr.len() < 4 {
            continue;
        }
        let (witness, amount, rest) = match arr[0].as_array() {
            Some(w) => {
                let Some((last, items)) = w.split_last() else {
                    continue;
                };
                let amount = last.as_f64().unwrap_or(0.0);
                let Some(items) = taproot_witness(items) else {
                    report.failed.push(format!("#{n}: bad witness"));
                    continue;
                };
                (items, (amount * 1e8).round() as u64, &arr[1..])
            }
            None => (Vec::new(), 0, &arr[..]),
        };
        if rest.len() < 4 {
            continue;
        }
        let (Some(sig), Some(pk), Some(flags), Some(expect)) = (
            rest[0].as_str(),
            rest[1].as_str(),
            rest[2].as_str(),
            rest[3].as_str(),
        ) else {
            continue;
        };
        let comment = rest.get(4).and_then(Value::as_str).unwrap_or("");
        let pk = &pk.replace(
            "#TAPROOTOUTPUT#",
            &format!("0x{}", items_output_key(&arr[0])),
        );
        let (sig_b, pk_b) = match (common::parse_script(sig), common::parse_script(pk)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                report.failed.push(format!("#{n}: parse: {e}"));
                continue;
            }
        };
        let (mut bits, unsupported) = parse_flags(flags);
        if unsupported.iter().any(|u| u == "CLEANSTACK") {
            // Core's DoTest adds these with CLEANSTACK.
            bits |= VERIFY_P2SH | VERIFY_WITNESS;
        }
        let trimmed = trim(bits);
        let (tx, spent) = credit_and_spend(&pk_b, &sig_b, witness, amount);
        let outcome = verify_scripts(&tx, &[spent], trimmed);
        let label = format!("#{n} [{sig}] [{pk}] {flags} {expect} {comment}");
        match (expect == "OK", outcome) {
            (true, Ok(())) | (false, Err(_)) => report.passed += 1,
            (true, Err(e)) => report.failed.push(format!("{label}: {e}")),
            (false, Ok(())) if !unsupported.is_empty() => report.skipped.push(format!(
                "{label}: expected failure comes from unsupported flag(s) {}",
                unsupported.join(",")
            )),
            (false, Ok(())) if trimmed != bits => report.skipped.push(format!(
                "{label}: flag combination not valid for the library"
            )),
            (false, Ok(())) => report.failed.push(format!("{label}: accepted")),
        }
    }
    report.finish();
}

/// Core's taproot placeholders: `#SCRIPT# <asm>` is a single-leaf tapscript under the NUMS
/// internal key, `#CONTROLBLOCK#` its control block.
fn tap_tree(witness: &[Value]) -> Option<(ScriptBuf, bitcoin::taproot::TaprootSpendInfo)> {
    use bitcoin::{key::Secp256k1, taproot::TaprootBuilder, XOnlyPublicKey};
    let script = witness
        .iter()
        .filter_map(Value::as_str)
        .find_map(|s| s.strip_prefix("#SCRIPT#"))?;
    let script = ScriptBuf::from_bytes(common::parse_script(script).ok()?);
    let nums = XOnlyPublicKey::from_slice(
        &hex::decode("50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0").ok()?,
    )
    .ok()?;
    let secp = Secp256k1::verification_only();
    let info = TaprootBuilder::new()
        .add_leaf(0, script.clone())
        .ok()?
        .finalize(&secp, nums)
        .ok()?;
    Some((script, info))
}

fn items_output_key(w: &Value) -> String {
    w.as_array()
        .and_then(|w| tap_tree(w))
        .map(|(_, info)| hex::encode(info.output_key().serialize()))
        .unwrap_or_default()
}

fn taproot_witness(items: &[Value]) -> Option<Vec<Vec<u8>>> {
    let tree = tap_tree(items);
    items
        .iter()
        .map(|x| {
            let s = x.as_str()?;
            if s.starts_with("#SCRIPT#") {
                Some(tree.as_ref()?.0.to_bytes())
            } else if s == "#CONTROLBLOCK#" {
                let (script, info) = tree.as_ref()?;
                let cb = info
                    .control_block(&(script.clone(), bitcoin::taproot::LeafVersion::TapScript))?;
                Some(cb.serialize())
            } else {
                hex::decode(s).ok()
            }
        })
        .collect()
}
