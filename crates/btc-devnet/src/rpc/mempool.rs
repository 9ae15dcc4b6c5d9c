//! Mempool methods: submission (`sendrawtransaction`), dry runs (`testmempoolaccept`) with
//! the `maxfeerate` guard, and mempool contents and statistics.

use super::*;

pub(super) fn getmempoolinfo(node: &Node) -> Value {
    let size = node.chain.mempool().count();
    let bytes: u64 = node.chain.mempool().map(|e| e.vsize).sum();
    let fee: u64 = node.chain.mempool().map(|e| e.fee).sum();
    json!({
        "loaded": true, "size": size, "bytes": bytes, "usage": bytes * 4,
        "total_fee": btc_u(fee), "maxmempool": 300_000_000u64,
        "mempoolminfee": btc(1000), "minrelaytxfee": btc(1000),
        "incrementalrelayfee": btc(1000), "unbroadcastcount": 0, "fullrbf": true,
    })
}

/// Default `maxfeerate` of sendrawtransaction/testmempoolaccept: 0.10 BTC/kvB.
const DEFAULT_MAX_FEE_RATE: i64 = 10_000_000;

fn max_fee_rate(params: &[Value], i: usize) -> Result<i64, RpcError> {
    match arg(params, i) {
        None => Ok(DEFAULT_MAX_FEE_RATE),
        Some(v) => parse_amount(v),
    }
}

fn exceeds_max_fee(fee: u64, vsize: u64, max_rate: i64) -> bool {
    max_rate > 0 && fee as i128 > (i128::from(max_rate) * vsize as i128) / 1000
}

pub(super) fn sendrawtransaction(node: &mut Node, params: &[Value]) -> Result<Value, RpcError> {
    let tx = decode_tx_param(required(params, 0, "sendrawtransaction")?)?;
    let max_rate = max_fee_rate(params, 1)?;
    let max_burn = match arg(params, 2) {
        None => 0,
        Some(v) => parse_amount(v)?,
    };
    let txid = tx.compute_txid();
    for out in &tx.output {
        if (out.script_pubkey.is_op_return() || out.script_pubkey.len() > 10_000)
            && out.value.to_sat() as i128 > i128::from(max_burn)
        {
            return Err(RpcError::new(
                RPC_VERIFY_ERROR,
                "Unspendable output exceeds maximum configured by user (maxburnamount)",
            ));
        }
    }
    if node.chain.mempool_entry(&txid).is_some() {
        return Ok(json!(txid.to_string()));
    }
    if (0..tx.output.len() as u32).any(|v| node.chain.utxo(&OutPoint::new(txid, v)).is_some()) {
        return Err(RpcError::new(
            RPC_VERIFY_ALREADY_IN_CHAIN,
            "Transaction outputs already in utxo set",
        ));
    }
    let checked = node
        .chain
        .check_for_mempool(&tx)
        .map_err(|r| reject_err(&r))?;
    if exceeds_max_fee(checked.fee, checked.vsize, max_rate) {
        return Err(RpcError::new(
            RPC_VERIFY_ERROR,
            "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)",
        ));
    }
    node.submit_tx(tx).map_err(node_err)?;
    Ok(json!(txid.to_string()))
}

pub(super) fn testmempoolaccept(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let raw = required(params, 0, "testmempoolaccept")?;
    let Value::Array(raw) = raw else {
        return Err(type_err(raw, "array"));
    };
    if raw.is_empty() || raw.len() > 25 {
        return Err(RpcError::new(
            RPC_INVALID_PARAMETER,
            "Array must contain between 1 and 25 transactions.",
        ));
    }
    let max_rate = max_fee_rate(params, 1)?;
    let txs: Vec<Transaction> = raw.iter().map(decode_tx_param).collect::<Result<_, _>>()?;
    let mut scratch = node.chain.clone();
    let mut out = Vec::new();
    for tx in txs {
        let txid = tx.compute_txid().to_string();
        let wtxid = tx.compute_wtxid().to_string();
        let result = scratch.check_for_mempool(&tx);
        match result {
            Ok(a) if exceeds_max_fee(a.fee, a.vsize, max_rate) => out.push(json!({
                "txid": txid, "wtxid": wtxid, "allowed": false, "reject-reason": "max-fee-exceeded"
            })),
            Ok(a) => {
                let _ = scratch.accept_to_mempool(tx);
                out.push(json!({
                    "txid": txid, "wtxid": wtxid.clone(), "allowed": true, "vsize": a.vsize,
                    "fees": {
                        "base": btc_u(a.fee),
                        "effective-feerate": btc_u(a.fee * 1000 / a.vsize.max(1)),
                        "effective-includes": [wtxid],
                    }
                }))
            }
            Err(r) => {
                let reason = if r.kind == RejectKind::MissingInputs {
                    "missing-inputs".to_string()
                } else {
                    r.reason.clone()
                };
                out.push(json!({"txid": txid, "wtxid": wtxid, "allowed": false, "reject-reason": reason}))
            }
        }
    }
    Ok(Value::Array(out))
}

pub(super) fn getrawmempool(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let verbose = opt_bool(params, 0, false)?;
    let seq = opt_bool(params, 1, false)?;
    if verbose && seq {
        return Err(RpcError::new(
            RPC_INVALID_PARAMETER,
            "Verbose results cannot contain mempool sequence values.",
        ));
    }
    let c = &node.chain;
    if !verbose {
        let ids: Vec<Value> = c
            .mempool()
            .map(|e| json!(e.tx.compute_txid().to_string()))
            .collect();
        if seq {
            return Ok(json!({"txids": ids, "mempool_sequence": ids.len()}));
        }
        return Ok(Value::Array(ids));
    }
    let mut m = Map::new();
    for e in c.mempool() {
        let txid = e.tx.compute_txid();
        let depends: Vec<Value> =
            e.tx.input
                .iter()
                .filter(|i| c.mempool_entry(&i.previous_output.txid).is_some())
                .map(|i| json!(i.previous_output.txid.to_string()))
                .collect();
        let spentby: Vec<Value> = (0..e.tx.output.len() as u32)
            .filter_map(|v| c.mempool_spender(&OutPoint::new(txid, v)))
            .map(|t| json!(t.to_string()))
            .collect();
        let (ac, asz, afee) = relatives(node, txid, true);
        let (dc, dsz, dfee) = relatives(node, txid, false);
        m.insert(
            txid.to_string(),
            json!({
                "vsize": e.vsize, "weight": e.tx.weight().to_wu(), "time": e.time,
                "height": e.height, "descendantcount": dc, "descendantsize": dsz,
                "ancestorcount": ac, "ancestorsize": asz,
                "wtxid": e.tx.compute_wtxid().to_string(),
                "fees": {"base": btc_u(e.fee), "modified": btc_u(e.fee), "ancestor": btc_u(afee), "descendant": btc_u(dfee)},
                "depends": depends, "spentby": spentby,
                "bip125-replaceable": e.tx.input.iter().any(|i| i.sequence.0 < 0xffff_fffe),
                "unbroadcast": false,
            }),
        );
    }
    Ok(Value::Object(m))
}

/// (count, vsize, fee) of a mempool tx with its in-mempool ancestors or descendants.
fn relatives(node: &Node, txid: Txid, ancestors: bool) -> (u64, u64, u64) {
    let c = &node.chain;
    let mut seen = HashSet::new();
    let mut stack = vec![txid];
    let (mut n, mut sz, mut fee) = (0, 0, 0);
    while let Some(t) = stack.pop() {
        if !seen.insert(t) {
            continue;
        }
        let Some(e) = c.mempool_entry(&t) else {
            continue;
        };
        n += 1;
        sz += e.vsize;
        fee += e.fee;
        if ancestors {
            stack.extend(e.tx.input.iter().map(|i| i.previous_output.txid));
        } else {
            stack.extend(
                (0..e.tx.output.len() as u32)
                    .filter_map(|v| c.mempool_spender(&OutPoint::new(t, v))),
            );
        }
    }
    (n, sz, fee)
}
