//! Read-only chain queries: chain info and tips, blocks and headers, confirmed and mempool
//! transactions by txid, and single outputs (`gettxout`).

use super::*;

pub(super) fn getblockchaininfo(node: &Node) -> Value {
    let c = &node.chain;
    let tip = c.tip();
    let e = c.entry(&tip);
    json!({
        "chain": "regtest",
        "blocks": c.height(),
        "headers": c.height(),
        "bestblockhash": tip.to_string(),
        "difficulty": difficulty(chain::REGTEST_BITS),
        "time": e.map_or(0, |e| e.block.header.time),
        "mediantime": c.median_time_past(c.height()),
        "verificationprogress": 1,
        "initialblockdownload": false,
        "chainwork": e.map_or(String::new(), |e| hex::encode(e.chainwork.to_be_bytes())),
        "size_on_disk": node.size_on_disk(),
        "pruned": false,
        "warnings": [],
    })
}

pub(super) fn getblockhash(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let h = as_i64(required(params, 0, "getblockhash")?)?;
    let hash = u32::try_from(h)
        .ok()
        .and_then(|h| node.chain.hash_at(h))
        .ok_or_else(|| RpcError::new(RPC_INVALID_PARAMETER, "Block height out of range"))?;
    Ok(json!(hash.to_string()))
}

pub(super) fn getblockheader(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let hash = parse_block_hash(required(params, 0, "getblockheader")?, "hash")?;
    let verbose = opt_bool(params, 1, true)?;
    let e = node.chain.entry(&hash).ok_or_else(block_not_found)?;
    Ok(if verbose {
        Value::Object(header_json(node, &hash).ok_or_else(block_not_found)?)
    } else {
        json!(hex::encode(serialize(&e.block.header)))
    })
}

pub(super) fn getchaintips(node: &Node) -> Value {
    let c = &node.chain;
    let mut tips = Vec::new();
    let mut has_child = HashSet::new();
    for h in node_all_hashes(node) {
        if let Some(e) = c.entry(&h) {
            has_child.insert(e.block.header.prev_blockhash);
        }
    }
    for h in node_all_hashes(node) {
        if has_child.contains(&h) && h != c.tip() {
            continue;
        }
        let Some(e) = c.entry(&h) else { continue };
        // Branch length: distance to the active chain.
        let mut len = 0;
        let mut x = h;
        while !c.is_active(&x) {
            len += 1;
            match c.entry(&x) {
                Some(p) => x = p.block.header.prev_blockhash,
                None => break,
            }
        }
        let status = if c.is_active(&h) {
            "active"
        } else if e.status != chain::BlockStatus::Valid {
            "invalid"
        } else {
            "valid-fork"
        };
        tips.push(
            json!({"height": e.height, "hash": h.to_string(), "branchlen": len, "status": status}),
        );
    }
    Value::Array(tips)
}

fn node_all_hashes(node: &Node) -> Vec<BlockHash> {
    node.chain.all_hashes()
}

pub(super) fn getblock(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let hash = parse_block_hash(required(params, 0, "getblock")?, "blockhash")?;
    let verbosity = match arg(params, 1) {
        None => 1,
        Some(Value::Bool(b)) => i64::from(*b),
        Some(v) => as_i64(v)?,
    };
    let e = node.chain.entry(&hash).ok_or_else(block_not_found)?;
    if verbosity <= 0 {
        return Ok(json!(hex::encode(serialize(&e.block))));
    }
    let mut m = header_json(node, &hash).ok_or_else(block_not_found)?;
    let block = &e.block;
    m.insert(
        "strippedsize".into(),
        json!((block.weight().to_wu() as usize - block.total_size()) / 3),
    );
    m.insert("size".into(), json!(block.total_size()));
    m.insert("weight".into(), json!(block.weight().to_wu()));
    let txs: Vec<Value> = if verbosity == 1 {
        block
            .txdata
            .iter()
            .map(|t| json!(t.compute_txid().to_string()))
            .collect()
    } else {
        let prevouts = block_prevouts(node, &hash, block);
        block
            .txdata
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let p = if i == 0 {
                    None
                } else {
                    prevouts
                        .as_ref()
                        .and_then(|p| p.get(i - 1))
                        .map(|v| v.as_slice())
                };
                Value::Object(tx_json(t, p, verbosity >= 3, true))
            })
            .collect()
    };
    m.insert("tx".into(), Value::Array(txs));
    Ok(Value::Object(m))
}

pub(super) fn getrawtransaction(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let txid = parse_txid(required(params, 0, "getrawtransaction")?, "parameter 1")?;
    let verbosity = match arg(params, 1) {
        None => 0,
        Some(Value::Bool(b)) => i64::from(*b),
        Some(v) => as_i64(v)?,
    };
    let given_block = match arg(params, 2) {
        Some(v) => Some(parse_block_hash(v, "parameter 3")?),
        None => None,
    };
    let (tx, block_hash, prevouts) = if let Some(bh) = given_block {
        let e = node
            .chain
            .entry(&bh)
            .ok_or_else(|| RpcError::new(RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found"))?;
        let pos = e.block.txdata.iter().position(|t| t.compute_txid() == txid).ok_or_else(|| {
            RpcError::new(
                RPC_INVALID_ADDRESS_OR_KEY,
                "No such transaction found in the provided block. Use gettransaction for wallet transactions.",
            )
        })?;
        let prev = (pos > 0)
            .then(|| block_prevouts(node, &bh, &e.block))
            .flatten()
            .and_then(|p| p.get(pos - 1).cloned());
        (e.block.txdata[pos].clone(), Some(bh), prev)
    } else if let Some(entry) = node.chain.mempool_entry(&txid) {
        let prev: Option<Vec<Coin>> = entry
            .tx
            .input
            .iter()
            .map(|i| node.chain.mempool_view_coin(&i.previous_output))
            .collect();
        (entry.tx.clone(), None, prev)
    } else if let Some(bh) = node.chain.tx_block(&txid) {
        let e = node.chain.entry(&bh).ok_or_else(block_not_found)?;
        let pos = e
            .block
            .txdata
            .iter()
            .position(|t| t.compute_txid() == txid)
            .unwrap_or(0);
        let prev = (pos > 0)
            .then(|| block_prevouts(node, &bh, &e.block))
            .flatten()
            .and_then(|p| p.get(pos - 1).cloned());
        (e.block.txdata[pos].clone(), Some(bh), prev)
    } else {
        return Err(RpcError::new(
            RPC_INVALID_ADDRESS_OR_KEY,
            "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.",
        ));
    };
    if verbosity <= 0 {
        return Ok(json!(script::tx_hex(&tx)));
    }
    let mut m = Map::new();
    if given_block.is_some() {
        m.insert(
            "in_active_chain".into(),
            json!(block_hash.is_some_and(|h| node.chain.is_active(&h))),
        );
    }
    let p = if verbosity >= 2 {
        prevouts.as_deref()
    } else {
        None
    };
    m.extend(tx_json(&tx, p, verbosity >= 2, true));
    if let Some(bh) = block_hash {
        m.insert("blockhash".into(), json!(bh.to_string()));
        if let Some(e) = node.chain.entry(&bh) {
            if node.chain.is_active(&bh) {
                m.insert(
                    "confirmations".into(),
                    json!(node.chain.height() - e.height + 1),
                );
                m.insert("time".into(), json!(e.block.header.time));
                m.insert("blocktime".into(), json!(e.block.header.time));
            } else {
                m.insert("confirmations".into(), json!(0));
            }
        }
    }
    Ok(Value::Object(m))
}

pub(super) fn gettxout(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let txid = parse_txid(required(params, 0, "gettxout")?, "txid")?;
    let n = as_i64(required(params, 1, "gettxout")?)?;
    let include_mempool = opt_bool(params, 2, true)?;
    let Ok(vout) = u32::try_from(n) else {
        return Ok(Value::Null);
    };
    let op = OutPoint::new(txid, vout);
    let coin = if include_mempool {
        if node.chain.mempool_spender(&op).is_some() {
            return Ok(Value::Null);
        }
        node.chain.mempool_view_coin(&op)
    } else {
        node.chain.utxo(&op).cloned()
    };
    let Some(coin) = coin else {
        return Ok(Value::Null);
    };
    let in_pool = node.chain.utxo(&op).is_none();
    let confirmations = if in_pool {
        0
    } else {
        node.chain.height() + 1 - coin.height
    };
    Ok(json!({
        "bestblock": node.chain.tip().to_string(),
        "confirmations": confirmations,
        "value": btc_u(coin.out.value.to_sat()),
        "scriptPubKey": script_pubkey_json(&coin.out.script_pubkey),
        "coinbase": coin.coinbase,
    }))
}
