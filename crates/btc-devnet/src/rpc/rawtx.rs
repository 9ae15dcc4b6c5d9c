//! Raw transactions without wallet or chain: `createrawtransaction` and
//! `decoderawtransaction`.

use super::*;

pub(super) fn decoderawtransaction(params: &[Value]) -> Result<Value, RpcError> {
    let tx = decode_tx_param(required(params, 0, "decoderawtransaction")?)?;
    Ok(Value::Object(tx_json(&tx, None, false, false)))
}

pub(super) fn createrawtransaction(params: &[Value]) -> Result<Value, RpcError> {
    let inputs = required(params, 0, "createrawtransaction")?;
    let Value::Array(inputs) = inputs else {
        return Err(type_err(inputs, "array"));
    };
    let outputs = required(params, 1, "createrawtransaction")?;
    let locktime = opt_i64(params, 2, 0)?;
    if !(0..=i64::from(u32::MAX)).contains(&locktime) {
        return Err(RpcError::new(
            RPC_INVALID_PARAMETER,
            "Invalid parameter, locktime out of range",
        ));
    }
    let rbf = opt_bool(params, 3, false)?;
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(locktime as u32),
        input: vec![],
        output: vec![],
    };
    for input in inputs {
        let Value::Object(o) = input else {
            return Err(type_err(input, "object"));
        };
        let txid = parse_txid(o.get("txid").unwrap_or(&Value::Null), "txid")?;
        let vout = match o.get("vout") {
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                RpcError::new(RPC_INVALID_PARAMETER, "Invalid parameter, missing vout key")
            })?,
            _ => {
                return Err(RpcError::new(
                    RPC_INVALID_PARAMETER,
                    "Invalid parameter, missing vout key",
                ))
            }
        };
        if vout < 0 || vout > i64::from(u32::MAX) {
            return Err(RpcError::new(
                RPC_INVALID_PARAMETER,
                "Invalid parameter, vout cannot be negative",
            ));
        }
        let default_seq = if rbf {
            0xffff_fffd
        } else if locktime != 0 {
            0xffff_fffe
        } else {
            0xffff_ffff
        };
        let seq = match o.get("sequence") {
            None => default_seq,
            Some(v) => {
                let s = as_i64(v)?;
                if !(0..=i64::from(u32::MAX)).contains(&s) {
                    return Err(RpcError::new(
                        RPC_INVALID_PARAMETER,
                        "Invalid parameter, sequence number is out of range",
                    ));
                }
                s as u32
            }
        };
        tx.input.push(TxIn {
            previous_output: OutPoint::new(txid, vout as u32),
            script_sig: ScriptBuf::new(),
            sequence: Sequence(seq),
            witness: Witness::new(),
        });
    }
    // Outputs: an object, or an array of one-key objects.
    let pairs: Vec<(String, Value)> = match outputs {
        Value::Object(o) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(a) => {
            let mut pairs = Vec::new();
            for item in a {
                let Value::Object(o) = item else {
                    return Err(RpcError::new(
                        RPC_INVALID_PARAMETER,
                        "Invalid parameter, key-value pair not an object as expected",
                    ));
                };
                if o.len() != 1 {
                    return Err(RpcError::new(
                        RPC_INVALID_PARAMETER,
                        "Invalid parameter, key-value pair must contain exactly one key",
                    ));
                }
                pairs.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            pairs
        }
        other => return Err(type_err(other, "array")),
    };
    if pairs.is_empty() {
        return Err(RpcError::new(
            RPC_INVALID_PARAMETER,
            "Invalid parameter, output argument must be non-null",
        ));
    }
    let mut seen_addr = HashSet::new();
    let mut has_data = false;
    for (k, v) in pairs {
        if k == "data" {
            if has_data {
                return Err(RpcError::new(
                    RPC_INVALID_PARAMETER,
                    "Invalid parameter, duplicate key: data",
                ));
            }
            has_data = true;
            let h = as_str(&v)?;
            let data = hex::decode(h).map_err(|_| {
                RpcError::new(
                    RPC_INVALID_PARAMETER,
                    format!("Data must be hexadecimal string (not '{h}')"),
                )
            })?;
            let push = bitcoin::script::PushBytesBuf::try_from(data)
                .map_err(|_| RpcError::new(RPC_INVALID_PARAMETER, "Data too large"))?;
            tx.output.push(TxOut {
                value: Amount::ZERO,
                script_pubkey: ScriptBuf::new_op_return(push),
            });
        } else {
            let addr = parse_address(&k).ok_or_else(|| {
                RpcError::new(
                    RPC_INVALID_ADDRESS_OR_KEY,
                    format!("Invalid Bitcoin address: {k}"),
                )
            })?;
            if !seen_addr.insert(addr.script_pubkey()) {
                return Err(RpcError::new(
                    RPC_INVALID_PARAMETER,
                    format!("Invalid parameter, duplicated address: {k}"),
                ));
            }
            let amount = parse_amount(&v)?;
            tx.output.push(TxOut {
                value: Amount::from_sat(amount as u64),
                script_pubkey: addr.script_pubkey(),
            });
        }
    }
    Ok(json!(script::tx_hex(&tx)))
}
