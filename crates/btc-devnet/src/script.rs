//! Transaction checks shared by the mempool and block connection: Bitcoin Core's context-free
//! `CheckTransaction`, script verification through libbitcoinconsensus, and Core's hex
//! transaction codec (legacy serialization when there is no witness).

use bitcoin::{
    consensus::{encode, Decodable, Encodable},
    Amount, OutPoint, Transaction, TxIn, TxOut,
};

/// Evaluate P2SH (BIP16) subscripts.
pub const VERIFY_P2SH: u32 = bitcoinconsensus::VERIFY_P2SH;
/// Strict DER signatures (BIP66).
pub const VERIFY_DERSIG: u32 = bitcoinconsensus::VERIFY_DERSIG;
/// NULLDUMMY (BIP147).
pub const VERIFY_NULLDUMMY: u32 = bitcoinconsensus::VERIFY_NULLDUMMY;
/// OP_CHECKLOCKTIMEVERIFY (BIP65).
pub const VERIFY_CHECKLOCKTIMEVERIFY: u32 = bitcoinconsensus::VERIFY_CHECKLOCKTIMEVERIFY;
/// OP_CHECKSEQUENCEVERIFY (BIP112).
pub const VERIFY_CHECKSEQUENCEVERIFY: u32 = bitcoinconsensus::VERIFY_CHECKSEQUENCEVERIFY;
/// Segregated witness (BIP141/143).
pub const VERIFY_WITNESS: u32 = bitcoinconsensus::VERIFY_WITNESS;
/// Taproot (BIP341/342).
pub const VERIFY_TAPROOT: u32 = bitcoinconsensus::VERIFY_TAPROOT;

/// Every flag libbitcoinconsensus supports: the consensus rules of a regtest chain with all soft
/// forks active, and the flags the devnet applies to every transaction.
pub const MANDATORY_FLAGS: u32 = VERIFY_P2SH
    | VERIFY_DERSIG
    | VERIFY_NULLDUMMY
    | VERIFY_CHECKLOCKTIMEVERIFY
    | VERIFY_CHECKSEQUENCEVERIFY
    | VERIFY_WITNESS
    | VERIFY_TAPROOT;

/// Largest amount (21 million BTC) in satoshis.
pub const MAX_MONEY: u64 = 21_000_000 * 100_000_000;

/// Maps a Bitcoin Core script flag name (as in its test vectors) to the libbitcoinconsensus
/// bit; `Ok(None)` for a flag Core knows but libbitcoinconsensus does not support (policy
/// flags such as `STRICTENC`), `Err` for an unknown name.
pub fn flag_from_name(name: &str) -> Result<Option<u32>, String> {
    Ok(Some(match name {
        "NONE" | "" => 0,
        "P2SH" => VERIFY_P2SH,
        "DERSIG" => VERIFY_DERSIG,
        "NULLDUMMY" => VERIFY_NULLDUMMY,
        "CHECKLOCKTIMEVERIFY" => VERIFY_CHECKLOCKTIMEVERIFY,
        "CHECKSEQUENCEVERIFY" => VERIFY_CHECKSEQUENCEVERIFY,
        "WITNESS" => VERIFY_WITNESS,
        "TAPROOT" => VERIFY_TAPROOT,
        "STRICTENC"
        | "LOW_S"
        | "SIGPUSHONLY"
        | "MINIMALDATA"
        | "DISCOURAGE_UPGRADABLE_NOPS"
        | "CLEANSTACK"
        | "MINIMALIF"
        | "NULLFAIL"
        | "DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM"
        | "WITNESS_PUBKEYTYPE"
        | "CONST_SCRIPTCODE"
        | "DISCOURAGE_UPGRADABLE_PUBKEYTYPE"
        | "DISCOURAGE_OP_SUCCESS"
        | "DISCOURAGE_UPGRADABLE_TAPROOT_VERSION" => return Ok(None),
        other => return Err(format!("unknown script flag {other}")),
    }))
}

/// Why a script check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The input's scripts evaluated to false or hit an error.
    #[error("input {input}: script verification failed")]
    Failed {
        /// Index of the failing input.
        input: usize,
    },
    /// libbitcoinconsensus refused the call (bad flags, undecodable tx, missing spent outputs).
    #[error("input {input}: libbitcoinconsensus: {reason}")]
    Library {
        /// Index of the input.
        input: usize,
        /// The library's error.
        reason: String,
    },
    /// The number of spent outputs differs from the number of inputs.
    #[error("{spent} spent outputs given for {inputs} inputs")]
    SpentCount {
        /// Spent outputs given.
        spent: usize,
        /// Inputs of the transaction.
        inputs: usize,
    },
    /// WITNESS without P2SH or TAPROOT without WITNESS (libbitcoinconsensus asserts on these).
    #[error("invalid flag combination {0:#x}")]
    BadFlags(u32),
}

/// Verifies every input of `tx` against the outputs it spends (`spent[i]` is spent by input
/// `i`) with libbitcoinconsensus under `flags`. All spent outputs are passed to the library so
/// taproot inputs are checked too.
pub fn verify_scripts(tx: &Transaction, spent: &[TxOut], flags: u32) -> Result<(), ScriptError> {
    if spent.len() != tx.input.len() {
        return Err(ScriptError::SpentCount {
            spent: spent.len(),
            inputs: tx.input.len(),
        });
    }
    if flags & !MANDATORY_FLAGS != 0
        || (flags & VERIFY_WITNESS != 0 && flags & VERIFY_P2SH == 0)
        || (flags & VERIFY_TAPROOT != 0 && flags & VERIFY_WITNESS == 0)
    {
        return Err(ScriptError::BadFlags(flags));
    }
    let serialized = encode::serialize(tx);
    let scripts: Vec<&[u8]> = spent.iter().map(|o| o.script_pubkey.as_bytes()).collect();
    let utxos: Vec<bitcoinconsensus::Utxo> = spent
        .iter()
        .zip(&scripts)
        .map(|(o, s)| bitcoinconsensus::Utxo {
            script_pubkey: s.as_ptr(),
            script_pubkey_len: s.len() as u32,
            value: o.value.to_sat() as i64,
        })
        .collect();
    for (i, out) in spent.iter().enumerate() {
        let spent_outputs = if flags & VERIFY_TAPROOT != 0 {
            Some(utxos.as_slice())
        } else {
            None
        };
        match bitcoinconsensus::verify_with_flags(
            out.script_pubkey.as_bytes(),
            out.value.to_sat(),
            &serialized,
            spent_outputs,
            i,
            flags,
        ) {
            Ok(()) => {}
            Err(bitcoinconsensus::Error::ERR_SCRIPT) => {
                return Err(ScriptError::Failed { input: i })
            }
            Err(e) => {
                return Err(ScriptError::Library {
                    input: i,
                    reason: e.to_string(),
                })
            }
        }
    }
    Ok(())
}

/// Bitcoin Core's `CheckTransaction`: the context-free checks, returning Core's reject reason.
pub fn check_transaction(tx: &Transaction) -> Result<(), &'static str> {
    if tx.input.is_empty() {
        return Err("bad-txns-vin-empty");
    }
    if tx.output.is_empty() {
        return Err("bad-txns-vout-empty");
    }
    // Size without witness × 4 must fit the block weight limit.
    if tx.base_size() * 4 > 4_000_000 {
        return Err("bad-txns-oversize");
    }
    let mut total: u64 = 0;
    for out in &tx.output {
        let v = out.value.to_sat();
        // rust-bitcoin decodes the i64 amount as u64: a negative value shows as a huge one.
        if v > i64::MAX as u64 {
            return Err("bad-txns-vout-negative");
        }
        if v > MAX_MONEY {
            return Err("bad-txns-vout-toolarge");
        }
        total = total.saturating_add(v);
        if total > MAX_MONEY {
            return Err("bad-txns-txouttotal-toolarge");
        }
    }
    let mut seen = std::collections::HashSet::with_capacity(tx.input.len());
    for input in &tx.input {
        if !seen.insert(input.previous_output) {
            return Err("bad-txns-inputs-duplicate");
        }
    }
    if tx.is_coinbase() {
        let len = tx.input[0].script_sig.len();
        if !(2..=100).contains(&len) {
            return Err("bad-cb-length");
        }
    } else if tx
        .input
        .iter()
        .any(|i| i.previous_output == OutPoint::null())
    {
        return Err("bad-txns-prevout-null");
    }
    Ok(())
}

/// Serializes `tx` as Bitcoin Core does: with the segwit marker only when an input has a witness.
pub fn serialize_tx(tx: &Transaction) -> Vec<u8> {
    if tx.input.iter().any(|i| !i.witness.is_empty()) {
        return encode::serialize(tx);
    }
    let mut out = Vec::with_capacity(tx.base_size());
    // Writing to a Vec cannot fail.
    let _ = tx.version.consensus_encode(&mut out);
    let _ = tx.input.consensus_encode(&mut out);
    let _ = tx.output.consensus_encode(&mut out);
    let _ = tx.lock_time.consensus_encode(&mut out);
    out
}

/// Hex of [`serialize_tx`].
pub fn tx_hex(tx: &Transaction) -> String {
    hex::encode(serialize_tx(tx))
}

fn decode_legacy(bytes: &[u8]) -> Option<Transaction> {
    let mut r = bytes;
    let version = Decodable::consensus_decode(&mut r).ok()?;
    let input: Vec<TxIn> = Decodable::consensus_decode(&mut r).ok()?;
    let output: Vec<TxOut> = Decodable::consensus_decode(&mut r).ok()?;
    let lock_time = Decodable::consensus_decode(&mut r).ok()?;
    r.is_empty().then_some(Transaction {
        version,
        lock_time,
        input,
        output,
    })
}

fn decode_extended(bytes: &[u8]) -> Option<Transaction> {
    let mut r = bytes;
    let tx = Transaction::consensus_decode(&mut r).ok()?;
    r.is_empty().then_some(tx)
}

fn scripts_sane(tx: &Transaction) -> bool {
    tx.input.iter().all(|i| i.script_sig.is_push_only())
        && tx
            .output
            .iter()
            .all(|o| o.script_pubkey.instructions().all(|i| i.is_ok()))
}

/// Decodes raw transaction bytes as Core's `DecodeHexTx` does: both the extended (segwit) and
/// the legacy serialization are tried, which matters for transactions without inputs.
pub fn decode_tx(bytes: &[u8]) -> Option<Transaction> {
    match (decode_extended(bytes), decode_legacy(bytes)) {
        (Some(e), Some(l)) => {
            if !scripts_sane(&e) && scripts_sane(&l) {
                Some(l)
            } else {
                Some(e)
            }
        }
        (e, l) => e.or(l),
    }
}

/// Decodes a hex transaction ([`decode_tx`]).
pub fn decode_tx_hex(hex_str: &str) -> Option<Transaction> {
    let bytes = hex::decode(hex_str.trim()).ok()?;
    decode_tx(&bytes)
}

/// Sum of output values in satoshis (saturating).
pub fn output_total(tx: &Transaction) -> u64 {
    tx.output
        .iter()
        .fold(0u64, |acc, o| acc.saturating_add(o.value.to_sat()))
}

/// An amount from satoshis.
pub fn sats(v: u64) -> Amount {
    Amount::from_sat(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_input_tx_roundtrips_legacy() {
        let tx = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![],
            output: vec![TxOut {
                value: Amount::from_sat(1000),
                script_pubkey: bitcoin::ScriptBuf::new_op_return([1u8; 20]),
            }],
        };
        let hex = tx_hex(&tx);
        assert!(hex.starts_with("020000000001"));
        assert_eq!(decode_tx_hex(&hex), Some(tx));
    }
}
