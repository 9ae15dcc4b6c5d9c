//! Dev wallet methods: addresses, balances and coins, and building, funding and signing
//! wallet transactions.

use super::*;

/// `getnewaddress` or `getrawchangeaddress`, as `method` says.
pub(super) fn getnewaddress(
    node: &mut Node,
    method: &str,
    params: &[Value],
) -> Result<Value, RpcError> {
    let (label, ty_idx) = if method == "getnewaddress" {
        let label = match arg(params, 0) {
            Some(l) => as_str(l)?.to_string(),
            None => String::new(),
        };
        if label == "*" {
            return Err(RpcError::new(RPC_WALLET_ERROR, "Invalid label name"));
        }
        (label, 1)
    } else {
        (String::new(), 0)
    };
    let label: String = label.chars().filter(|c| !c.is_control()).collect();
    let kind = match arg(params, ty_idx) {
        None => AddrKind::P2wpkh,
        Some(t) => match as_str(t)? {
            "bech32" => AddrKind::P2wpkh,
            "bech32m" => AddrKind::P2tr,
            other => {
                return Err(RpcError::new(
                    RPC_INVALID_ADDRESS_OR_KEY,
                    format!("Unknown address type '{other}'"),
                ))
            }
        },
    };
    let kind = if method == "getrawchangeaddress" && kind == AddrKind::P2wpkh {
        AddrKind::Change
    } else {
        kind
    };
    let key = node.new_address(kind, &label).map_err(node_err)?;
    Ok(json!(key.address.to_string()))
}

pub(super) fn getbalance(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    if let Some(d) = arg(params, 0) {
        if as_str(d)? != "*" {
            return Err(RpcError::new(
                RPC_METHOD_DEPRECATED,
                "dummy first argument must be excluded or set to \"*\".",
            ));
        }
    }
    let minconf = opt_i64(params, 1, 0)?;
    let bal = wallet_sats(node, |c| c.trusted && i64::from(c.confirmations) >= minconf);
    Ok(btc_u(bal))
}

/// Sum in sats of the wallet's spendable coins that pass `keep`.
fn wallet_sats(node: &Node, keep: impl Fn(&crate::node::WalletCoin) -> bool) -> u64 {
    node.wallet_coins()
        .iter()
        .filter(|c| keep(c))
        .map(|c| c.out.value.to_sat())
        .sum()
}

pub(super) fn getbalances(node: &Node) -> Value {
    let trusted = wallet_sats(node, |c| c.trusted);
    let pending = wallet_sats(node, |c| !c.trusted);
    json!({"mine": {"trusted": btc_u(trusted), "untrusted_pending": btc_u(pending), "immature": btc_u(node.immature_balance())}})
}

pub(super) fn getwalletinfo(node: &Node) -> Value {
    let trusted = wallet_sats(node, |c| c.trusted);
    json!({
        "walletname": "", "walletversion": 169900, "format": "sqlite",
        "balance": btc_u(trusted), "unconfirmed_balance": btc(0),
        "immature_balance": btc_u(node.immature_balance()),
        "txcount": 0, "keypoolsize": 1000, "keypoolsize_hd_internal": 1000,
        "paytxfee": btc(0), "private_keys_enabled": true, "avoid_reuse": false,
        "scanning": false, "descriptors": true, "external_signer": false,
        "blank": false, "birthtime": 0, "lastprocessedblock": {
            "hash": node.chain.tip().to_string(), "height": node.chain.height()
        }
    })
}

pub(super) fn listunspent(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let minconf = opt_i64(params, 0, 1)?;
    let maxconf = opt_i64(params, 1, 9_999_999)?;
    let mut filter: Option<HashSet<ScriptBuf>> = None;
    if let Some(a) = arg(params, 2) {
        let Value::Array(list) = a else {
            return Err(type_err(a, "array"));
        };
        let mut set = HashSet::new();
        for s in list {
            let s = as_str(s)?;
            let addr = parse_address(s).ok_or_else(|| {
                RpcError::new(
                    RPC_INVALID_ADDRESS_OR_KEY,
                    format!("Invalid Bitcoin address: {s}"),
                )
            })?;
            if !set.insert(addr.script_pubkey()) {
                return Err(RpcError::new(
                    RPC_INVALID_PARAMETER,
                    format!("Invalid parameter, duplicated address: {s}"),
                ));
            }
        }
        filter = Some(set);
    }
    let include_unsafe = opt_bool(params, 3, true)?;
    let mut out = Vec::new();
    for c in node.wallet_coins() {
        let conf = i64::from(c.confirmations);
        if conf < minconf || conf > maxconf || (!include_unsafe && !c.trusted) {
            continue;
        }
        if filter
            .as_ref()
            .is_some_and(|f| !f.contains(&c.out.script_pubkey))
        {
            continue;
        }
        let key = node.wallet.key(&c.out.script_pubkey);
        let mut m = Map::new();
        m.insert("txid".into(), json!(c.outpoint.txid.to_string()));
        m.insert("vout".into(), json!(c.outpoint.vout));
        if let Some(k) = key {
            m.insert("address".into(), json!(k.address.to_string()));
            if k.kind != AddrKind::Change {
                m.insert("label".into(), json!(k.label));
            }
        }
        m.insert(
            "scriptPubKey".into(),
            json!(hex::encode(c.out.script_pubkey.as_bytes())),
        );
        m.insert("amount".into(), btc_u(c.out.value.to_sat()));
        m.insert("confirmations".into(), json!(c.confirmations));
        m.insert("spendable".into(), json!(true));
        m.insert("solvable".into(), json!(true));
        if let Some(d) = node.wallet.descriptor(&c.out.script_pubkey) {
            m.insert("desc".into(), json!(d));
        }
        m.insert("parent_descs".into(), json!([]));
        m.insert("safe".into(), json!(c.trusted));
        out.push(Value::Object(m));
    }
    Ok(Value::Array(out))
}

fn fee_rate_option(v: Option<&Value>, sat_per_vb: bool) -> Result<Option<u64>, RpcError> {
    let Some(v) = v else { return Ok(None) };
    let sats = parse_amount(v)?;
    // sat/vB given with up to 3 decimals: parse as amount then rescale.
    Ok(Some(if sat_per_vb {
        // parse_amount returned value × 1e8; sat/vB × 1000 = sat/kvB.
        (sats as u64) / 100_000
    } else {
        sats as u64
    }))
}

pub(super) fn sendtoaddress(node: &mut Node, params: &[Value]) -> Result<Value, RpcError> {
    let addr_s = as_str(required(params, 0, "sendtoaddress")?)?;
    let addr = parse_address(addr_s)
        .ok_or_else(|| RpcError::new(RPC_INVALID_ADDRESS_OR_KEY, "Invalid address"))?;
    let amount = parse_amount(required(params, 1, "sendtoaddress")?)?;
    if amount <= 0 {
        return Err(RpcError::new(RPC_TYPE_ERROR, "Invalid amount for send"));
    }
    let subtract = opt_bool(params, 4, false)?;
    let fee_rate = fee_rate_option(arg(params, 9), true)?.unwrap_or(DEV_FEE_RATE_SAT_PER_KVB);
    let verbose = opt_bool(params, 10, false)?;
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![],
        output: vec![TxOut {
            value: Amount::from_sat(amount as u64),
            script_pubkey: addr.script_pubkey(),
        }],
    };
    let subtract_from: Vec<usize> = if subtract { vec![0] } else { vec![] };
    node.fund(&mut tx, fee_rate, &subtract_from, None, true)
        .map_err(node_err)?;
    let spent = node.spent_outputs(&tx, &[]);
    let errors = node.sign(&mut tx, &spent);
    if !errors.is_empty() {
        return Err(RpcError::new(
            RPC_WALLET_ERROR,
            "Signing transaction failed",
        ));
    }
    let txid = tx.compute_txid();
    node.submit_tx(tx).map_err(node_err)?;
    if verbose {
        return Ok(json!({"txid": txid.to_string(), "fee_reason": "Fallback fee"}));
    }
    Ok(json!(txid.to_string()))
}

pub(super) fn fundrawtransaction(node: &mut Node, params: &[Value]) -> Result<Value, RpcError> {
    let mut tx = decode_tx_param(required(params, 0, "fundrawtransaction")?)?;
    let mut fee_rate = DEV_FEE_RATE_SAT_PER_KVB;
    let mut subtract: Vec<usize> = Vec::new();
    let mut change_script = None;
    let mut add_inputs = true;
    let mut change_position: Option<usize> = None;
    if let Some(opts) = arg(params, 1) {
        match opts {
            Value::Bool(_) => {}
            Value::Object(o) => {
                for (k, v) in o {
                    match k.as_str() {
                        "feeRate" => {
                            fee_rate = fee_rate_option(Some(v), false)?.unwrap_or(fee_rate)
                        }
                        "fee_rate" => {
                            fee_rate = fee_rate_option(Some(v), true)?.unwrap_or(fee_rate)
                        }
                        "add_inputs" => add_inputs = as_bool(v)?,
                        "changeAddress" => {
                            let s = as_str(v)?;
                            let a = parse_address(s).ok_or_else(|| {
                                RpcError::new(
                                    RPC_INVALID_ADDRESS_OR_KEY,
                                    "Change address must be a valid bitcoin address",
                                )
                            })?;
                            change_script = Some(a.script_pubkey());
                        }
                        "changePosition" => {
                            let p = as_i64(v)?;
                            if p < 0 || p as usize > tx.output.len() {
                                return Err(RpcError::new(
                                    RPC_INVALID_PARAMETER,
                                    "changePosition out of bounds",
                                ));
                            }
                            change_position = Some(p as usize);
                        }
                        "subtractFeeFromOutputs" => {
                            let Value::Array(a) = v else {
                                return Err(type_err(v, "array"));
                            };
                            for i in a {
                                let i = as_i64(i)?;
                                if i < 0 || i as usize >= tx.output.len() {
                                    return Err(RpcError::new(
                                        RPC_INVALID_PARAMETER,
                                        format!("Invalid parameter, value out of range: {i}"),
                                    ));
                                }
                                if subtract.contains(&(i as usize)) {
                                    return Err(RpcError::new(
                                        RPC_INVALID_PARAMETER,
                                        format!("Invalid parameter, duplicated position: {i}"),
                                    ));
                                }
                                subtract.push(i as usize);
                            }
                        }
                        _ => {}
                    }
                }
            }
            other => return Err(type_err(other, "object")),
        }
    }
    if tx.output.is_empty() {
        return Err(RpcError::new(
            RPC_INVALID_PARAMETER,
            "TX must have at least one output",
        ));
    }
    let (fee, mut changepos) = node
        .fund(&mut tx, fee_rate, &subtract, change_script, add_inputs)
        .map_err(|e| match e {
            NodeError::Fund(FundError::InsufficientFunds) => {
                RpcError::new(RPC_WALLET_ERROR, "Insufficient funds")
            }
            other => node_err(other),
        })?;
    if let (Some(p), true) = (change_position, changepos >= 0) {
        if let Some(change) = tx.output.pop() {
            tx.output.insert(p, change);
            changepos = p as i64;
        }
    }
    Ok(json!({"hex": script::tx_hex(&tx), "fee": btc_u(fee), "changepos": changepos}))
}

pub(super) fn signrawtransactionwithwallet(
    node: &mut Node,
    params: &[Value],
) -> Result<Value, RpcError> {
    let mut tx = decode_tx_param(required(params, 0, "signrawtransactionwithwallet")?)?;
    let mut extra: Vec<(OutPoint, TxOut)> = Vec::new();
    if let Some(p) = arg(params, 1) {
        let Value::Array(list) = p else {
            return Err(type_err(p, "array"));
        };
        for item in list {
            let Value::Object(o) = item else {
                return Err(type_err(item, "object"));
            };
            let txid = parse_txid(o.get("txid").unwrap_or(&Value::Null), "txid")?;
            let vout =
                o.get("vout").map(as_i64).transpose()?.ok_or_else(|| {
                    RpcError::new(RPC_INVALID_PARAMETER, "vout cannot be negative")
                })?;
            let vout = u32::try_from(vout)
                .map_err(|_| RpcError::new(RPC_INVALID_PARAMETER, "vout cannot be negative"))?;
            let spk_hex = as_str(o.get("scriptPubKey").unwrap_or(&Value::Null))?;
            let spk = hex::decode(spk_hex).map_err(|_| {
                RpcError::new(
                    RPC_INVALID_PARAMETER,
                    format!("scriptPubKey must be hexadecimal string (not '{spk_hex}')"),
                )
            })?;
            let amount = match o.get("amount") {
                Some(a) => parse_amount(a)? as u64,
                None => 0,
            };
            extra.push((
                OutPoint::new(txid, vout),
                TxOut {
                    value: Amount::from_sat(amount),
                    script_pubkey: ScriptBuf::from_bytes(spk),
                },
            ));
        }
    }
    if let Some(s) = arg(params, 2) {
        let s = as_str(s)?;
        if !["DEFAULT", "ALL"].contains(&s) {
            return Err(RpcError::new(
                RPC_INVALID_PARAMETER,
                format!("{s} is not a supported sighash type on this devnet (DEFAULT, ALL)"),
            ));
        }
    }
    let spent = node.spent_outputs(&tx, &extra);
    let errors = node.sign(&mut tx, &spent);
    // Inputs we cannot sign that are already complete (verify) are not errors.
    let mut error_list = Vec::new();
    for (i, reason) in errors {
        let complete_already = spent.iter().all(|s| s.is_some()) && {
            let outs: Vec<TxOut> = spent.iter().flatten().cloned().collect();
            verify_input(&tx, &outs, i)
        };
        if complete_already {
            continue;
        }
        let input = &tx.input[i];
        error_list.push(json!({
            "txid": input.previous_output.txid.to_string(),
            "vout": input.previous_output.vout,
            "witness": input.witness.iter().map(hex::encode).collect::<Vec<_>>(),
            "scriptSig": hex::encode(input.script_sig.as_bytes()),
            "sequence": input.sequence.0,
            "error": reason,
        }));
    }
    let mut m = Map::new();
    m.insert("hex".into(), json!(script::tx_hex(&tx)));
    m.insert("complete".into(), json!(error_list.is_empty()));
    if !error_list.is_empty() {
        m.insert("errors".into(), Value::Array(error_list));
    }
    Ok(Value::Object(m))
}

fn verify_input(tx: &Transaction, spent: &[TxOut], _i: usize) -> bool {
    script::verify_scripts(tx, spent, script::MANDATORY_FLAGS).is_ok()
}
