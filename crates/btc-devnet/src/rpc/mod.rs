//! Bitcoin Core 28-compatible RPC methods over a [`Node`]: parameter parsing with Core's error
//! codes and messages, and Core's JSON shapes.

use std::{collections::HashSet, str::FromStr};

use bitcoin::{
    absolute::LockTime, consensus::serialize, hashes::Hash, opcodes, script::Instruction,
    transaction::Version, Address, Amount, Block, BlockHash, Network, OutPoint, Script, ScriptBuf,
    Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use serde_json::{json, Map, Value};

mod json;
mod params;

use json::*;
pub use json::{core_op_name, script_asm, script_type};
pub use params::parse_amount;
use params::*;

use crate::{
    chain::{self, Coin, RejectKind},
    node::{FundError, Node, NodeError, DEV_FEE_RATE_SAT_PER_KVB},
    script::{self, MAX_MONEY},
    wallet::{descriptor_with_checksum, AddrKind},
};

/// Prefix marking a string value the HTTP layer writes as a BTC amount with 8 decimals.
pub const AMOUNT_MARK: char = '\u{1}';

/// Largest `nblocks` accepted by `generatetoaddress` (a guard against hanging the server).
pub const MAX_GENERATE: i64 = 10_000;

/// A JSON-RPC error with Bitcoin Core's code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct RpcError {
    /// Error code.
    pub code: i64,
    /// Message.
    pub message: String,
}

impl RpcError {
    /// An error with `code`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// RPC_METHOD_DEPRECATED.
pub const RPC_METHOD_DEPRECATED: i64 = -32;
/// RPC_MISC_ERROR.
pub const RPC_MISC_ERROR: i64 = -1;
/// RPC_TYPE_ERROR.
pub const RPC_TYPE_ERROR: i64 = -3;
/// RPC_WALLET_ERROR.
pub const RPC_WALLET_ERROR: i64 = -4;
/// RPC_INVALID_ADDRESS_OR_KEY.
pub const RPC_INVALID_ADDRESS_OR_KEY: i64 = -5;
/// RPC_WALLET_INSUFFICIENT_FUNDS.
pub const RPC_WALLET_INSUFFICIENT_FUNDS: i64 = -6;
/// RPC_INVALID_PARAMETER.
pub const RPC_INVALID_PARAMETER: i64 = -8;
/// RPC_DESERIALIZATION_ERROR.
pub const RPC_DESERIALIZATION_ERROR: i64 = -22;
/// RPC_VERIFY_ERROR.
pub const RPC_VERIFY_ERROR: i64 = -25;
/// RPC_VERIFY_REJECTED.
pub const RPC_VERIFY_REJECTED: i64 = -26;
/// RPC_VERIFY_ALREADY_IN_CHAIN.
pub const RPC_VERIFY_ALREADY_IN_CHAIN: i64 = -27;
/// RPC_METHOD_NOT_FOUND.
pub const RPC_METHOD_NOT_FOUND: i64 = -32601;

/// A BTC amount for JSON output (see [`AMOUNT_MARK`]).
pub fn btc(sats: i64) -> Value {
    Value::String(format!("{AMOUNT_MARK}{sats}"))
}

fn btc_u(sats: u64) -> Value {
    btc(sats.min(i64::MAX as u64) as i64)
}

/// Formats satoshis as Core does (`-?N.NNNNNNNN`).
pub fn format_btc(sats: i64) -> String {
    let neg = sats < 0;
    let abs = sats.unsigned_abs();
    format!(
        "{}{}.{:08}",
        if neg { "-" } else { "" },
        abs / 100_000_000,
        abs % 100_000_000
    )
}

/// Parameter names of each method, in position order (named parameters are mapped by these);
/// `None` for an unknown method.
pub fn param_names(method: &str) -> Option<&'static [&'static str]> {
    Some(match method {
        "getblockchaininfo" | "getblockcount" | "getbestblockhash" | "getmempoolinfo"
        | "getchaintips" | "stop" | "getbalances" | "getwalletinfo" | "uptime"
        | "getnetworkinfo" => &[],
        "help" => &["command"],
        "getblockhash" => &["height"],
        "getblockheader" => &["blockhash", "verbose"],
        "getblock" => &["blockhash", "verbosity"],
        "getrawtransaction" => &["txid", "verbose", "blockhash"],
        "decoderawtransaction" => &["hexstring", "iswitness"],
        "gettxout" => &["txid", "n", "include_mempool"],
        "sendrawtransaction" => &["hexstring", "maxfeerate", "maxburnamount"],
        "testmempoolaccept" => &["rawtxs", "maxfeerate"],
        "getrawmempool" => &["verbose", "mempool_sequence"],
        "estimatesmartfee" => &["conf_target", "estimate_mode"],
        "invalidateblock" | "reconsiderblock" => &["blockhash"],
        "generatetoaddress" => &["nblocks", "address", "maxtries"],
        "getnewaddress" => &["label", "address_type"],
        "getrawchangeaddress" => &["address_type"],
        "getbalance" => &["dummy", "minconf", "include_watchonly", "avoid_reuse"],
        "listunspent" => &[
            "minconf",
            "maxconf",
            "addresses",
            "include_unsafe",
            "query_options",
        ],
        "sendtoaddress" => &[
            "address",
            "amount",
            "comment",
            "comment_to",
            "subtractfeefromamount",
            "replaceable",
            "conf_target",
            "estimate_mode",
            "avoid_reuse",
            "fee_rate",
            "verbose",
        ],
        "createrawtransaction" => &["inputs", "outputs", "locktime", "replaceable"],
        "fundrawtransaction" => &["hexstring", "options", "iswitness"],
        "signrawtransactionwithwallet" => &["hexstring", "prevtxs", "sighashtype"],
        "validateaddress" => &["address"],
        _ => return None,
    })
}

/// Converts named parameters to positional ones using [`param_names`].
pub fn positional(method: &str, params: Value) -> Result<Vec<Value>, RpcError> {
    match params {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => Ok(a),
        Value::Object(o) => {
            let names = param_names(method)
                .ok_or_else(|| RpcError::new(RPC_METHOD_NOT_FOUND, "Method not found"))?;
            let mut out: Vec<Value> = Vec::new();
            for (k, v) in o {
                let Some(pos) = names.iter().position(|n| *n == k) else {
                    return Err(RpcError::new(
                        RPC_INVALID_PARAMETER,
                        format!("Unknown named parameter {k}"),
                    ));
                };
                if out.len() <= pos {
                    out.resize(pos + 1, Value::Null);
                }
                out[pos] = v;
            }
            Ok(out)
        }
        _ => Err(RpcError::new(-32600, "Params must be an array or object")),
    }
}

// ---- dispatch ----------------------------------------------------------------------------

/// What a call asks of the server beyond its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Nothing.
    Continue,
    /// `stop` was called.
    Stop,
}

/// Calls `method` with positional `params` on `node`.
pub fn call(node: &mut Node, method: &str, params: &[Value]) -> Result<(Value, After), RpcError> {
    let v = match method {
        "stop" => return Ok((json!("Bitcoin Core stopping"), After::Stop)),
        "help" => {
            let mut names: Vec<&str> = ALL_METHODS.to_vec();
            names.sort_unstable();
            json!(names.join("\n"))
        }
        "uptime" => json!(0),
        "getblockchaininfo" => getblockchaininfo(node),
        "getblockcount" => json!(node.chain.height()),
        "getbestblockhash" => json!(node.chain.tip().to_string()),
        "getblockhash" => {
            let h = as_i64(required(params, 0, method)?)?;
            let hash = u32::try_from(h)
                .ok()
                .and_then(|h| node.chain.hash_at(h))
                .ok_or_else(|| RpcError::new(RPC_INVALID_PARAMETER, "Block height out of range"))?;
            json!(hash.to_string())
        }
        "getblockheader" => {
            let hash = parse_block_hash(required(params, 0, method)?, "hash")?;
            let verbose = opt_bool(params, 1, true)?;
            let e = node.chain.entry(&hash).ok_or_else(block_not_found)?;
            if verbose {
                Value::Object(header_json(node, &hash).ok_or_else(block_not_found)?)
            } else {
                json!(hex::encode(serialize(&e.block.header)))
            }
        }
        "getblock" => getblock(node, params)?,
        "getrawtransaction" => getrawtransaction(node, params)?,
        "decoderawtransaction" => {
            let tx = decode_tx_param(required(params, 0, method)?)?;
            Value::Object(tx_json(&tx, None, false, false))
        }
        "gettxout" => gettxout(node, params)?,
        "sendrawtransaction" => sendrawtransaction(node, params)?,
        "testmempoolaccept" => testmempoolaccept(node, params)?,
        "getrawmempool" => getrawmempool(node, params)?,
        "getmempoolinfo" => {
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
        "estimatesmartfee" => {
            let target = as_i64(required(params, 0, method)?)?;
            if !(1..=1008).contains(&target) {
                return Err(RpcError::new(
                    RPC_INVALID_PARAMETER,
                    "Invalid conf_target, must be between 1 and 1008",
                ));
            }
            if let Some(mode) = arg(params, 1) {
                let m = as_str(mode)?.to_ascii_uppercase();
                if !["UNSET", "ECONOMICAL", "CONSERVATIVE"].contains(&m.as_str()) {
                    return Err(RpcError::new(RPC_INVALID_PARAMETER, "Invalid estimate_mode parameter, must be one of: \"unset\", \"economical\", \"conservative\""));
                }
            }
            json!({"feerate": btc(DEV_FEE_RATE_SAT_PER_KVB as i64), "blocks": target.max(2)})
        }
        "invalidateblock" | "reconsiderblock" => {
            let hash = parse_block_hash(required(params, 0, method)?, "blockhash")?;
            if node.chain.entry(&hash).is_none() {
                return Err(block_not_found());
            }
            let r = if method == "invalidateblock" {
                node.invalidate(&hash)
            } else {
                node.reconsider(&hash)
            };
            r.map_err(node_err)?;
            Value::Null
        }
        "getchaintips" => getchaintips(node),
        "generatetoaddress" => {
            let n = as_i64(required(params, 0, method)?)?;
            let addr = as_str(required(params, 1, method)?)?;
            if let Some(t) = arg(params, 2) {
                as_i64(t)?;
            }
            let addr = parse_address(addr).ok_or_else(|| {
                RpcError::new(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address")
            })?;
            if n > MAX_GENERATE {
                return Err(RpcError::new(
                    RPC_INVALID_PARAMETER,
                    format!("nblocks must be at most {MAX_GENERATE} on this devnet"),
                ));
            }
            let hashes = node
                .generate(n.max(0) as u32, &addr.script_pubkey())
                .map_err(node_err)?;
            Value::Array(hashes.iter().map(|h| json!(h.to_string())).collect())
        }
        "getnewaddress" | "getrawchangeaddress" => {
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
            json!(key.address.to_string())
        }
        "getbalance" => {
            if let Some(d) = arg(params, 0) {
                if as_str(d)? != "*" {
                    return Err(RpcError::new(
                        RPC_METHOD_DEPRECATED,
                        "dummy first argument must be excluded or set to \"*\".",
                    ));
                }
            }
            let minconf = opt_i64(params, 1, 0)?;
            let bal: u64 = node
                .wallet_coins()
                .iter()
                .filter(|c| c.trusted && i64::from(c.confirmations) >= minconf)
                .map(|c| c.out.value.to_sat())
                .sum();
            btc_u(bal)
        }
        "getbalances" => {
            let coins = node.wallet_coins();
            let trusted: u64 = coins
                .iter()
                .filter(|c| c.trusted)
                .map(|c| c.out.value.to_sat())
                .sum();
            let pending: u64 = coins
                .iter()
                .filter(|c| !c.trusted)
                .map(|c| c.out.value.to_sat())
                .sum();
            json!({"mine": {"trusted": btc_u(trusted), "untrusted_pending": btc_u(pending), "immature": btc_u(node.immature_balance())}})
        }
        "getwalletinfo" => {
            let coins = node.wallet_coins();
            let trusted: u64 = coins
                .iter()
                .filter(|c| c.trusted)
                .map(|c| c.out.value.to_sat())
                .sum();
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
        "listunspent" => listunspent(node, params)?,
        "sendtoaddress" => sendtoaddress(node, params)?,
        "createrawtransaction" => createrawtransaction(params)?,
        "fundrawtransaction" => fundrawtransaction(node, params)?,
        "signrawtransactionwithwallet" => signrawtransactionwithwallet(node, params)?,
        "validateaddress" => {
            let s = as_str(required(params, 0, method)?)?;
            match parse_address(s) {
                Some(a) => {
                    let spk = a.script_pubkey();
                    let mut m = json!({
                        "isvalid": true, "address": a.to_string(),
                        "scriptPubKey": hex::encode(spk.as_bytes()),
                        "isscript": spk.is_p2sh() || spk.is_p2wsh(),
                        "iswitness": spk.is_witness_program(),
                    });
                    if let Some(wp) = a.witness_program() {
                        m["witness_version"] = json!(wp.version().to_num());
                        m["witness_program"] = json!(hex::encode(wp.program().as_bytes()));
                    }
                    m
                }
                None => {
                    json!({"isvalid": false, "error_locations": [], "error": "Invalid or unsupported Segwit (Bech32) or Base58 encoding."})
                }
            }
        }
        "getnetworkinfo" => json!({
            "version": 280000, "subversion": "/Satoshi:28.0.0(alys-btc-devnet)/",
            "protocolversion": 70016, "localservices": "0000000000000409",
            "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
            "localrelay": true, "timeoffset": 0, "networkactive": true, "connections": 0,
            "connections_in": 0, "connections_out": 0, "networks": [],
            "relayfee": btc(1000), "incrementalfee": btc(1000), "localaddresses": [],
            "warnings": []
        }),
        _ => return Err(RpcError::new(RPC_METHOD_NOT_FOUND, "Method not found")),
    };
    Ok((v, After::Continue))
}

/// Every implemented method.
pub const ALL_METHODS: &[&str] = &[
    "createrawtransaction",
    "decoderawtransaction",
    "estimatesmartfee",
    "fundrawtransaction",
    "generatetoaddress",
    "getbalance",
    "getbalances",
    "getbestblockhash",
    "getblock",
    "getblockchaininfo",
    "getblockcount",
    "getblockhash",
    "getblockheader",
    "getchaintips",
    "getmempoolinfo",
    "getnetworkinfo",
    "getnewaddress",
    "getrawchangeaddress",
    "getrawmempool",
    "getrawtransaction",
    "gettxout",
    "getwalletinfo",
    "help",
    "invalidateblock",
    "listunspent",
    "reconsiderblock",
    "sendrawtransaction",
    "sendtoaddress",
    "signrawtransactionwithwallet",
    "stop",
    "testmempoolaccept",
    "uptime",
    "validateaddress",
];

fn node_err(e: NodeError) -> RpcError {
    match e {
        NodeError::Reject(r) => reject_err(&r),
        NodeError::Fund(FundError::InsufficientFunds) => {
            RpcError::new(RPC_WALLET_INSUFFICIENT_FUNDS, "Insufficient funds")
        }
        NodeError::Fund(f) => RpcError::new(RPC_WALLET_ERROR, f.to_string()),
        NodeError::Store(s) => RpcError::new(RPC_MISC_ERROR, s.to_string()),
    }
}

fn reject_err(r: &chain::Reject) -> RpcError {
    match r.kind {
        RejectKind::MissingInputs => RpcError::new(RPC_VERIFY_ERROR, r.reason.clone()),
        RejectKind::AlreadyInChain => RpcError::new(
            RPC_VERIFY_ALREADY_IN_CHAIN,
            "Transaction outputs already in utxo set",
        ),
        RejectKind::Invalid | RejectKind::AlreadyInMempool => {
            RpcError::new(RPC_VERIFY_REJECTED, r.reason.clone())
        }
    }
}

fn getblockchaininfo(node: &Node) -> Value {
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

fn getchaintips(node: &Node) -> Value {
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

fn getblock(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
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

fn getrawtransaction(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
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

fn gettxout(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
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

fn sendrawtransaction(node: &mut Node, params: &[Value]) -> Result<Value, RpcError> {
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

fn testmempoolaccept(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
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

fn getrawmempool(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
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

fn listunspent(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
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

fn sendtoaddress(node: &mut Node, params: &[Value]) -> Result<Value, RpcError> {
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
    let errors = node.sign(&mut tx, &[]);
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

fn createrawtransaction(params: &[Value]) -> Result<Value, RpcError> {
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

fn fundrawtransaction(node: &mut Node, params: &[Value]) -> Result<Value, RpcError> {
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

fn signrawtransactionwithwallet(node: &mut Node, params: &[Value]) -> Result<Value, RpcError> {
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
    let errors = node.sign(&mut tx, &extra);
    // Inputs we cannot sign that are already complete (verify) are not errors.
    let spent: Vec<Option<TxOut>> = tx
        .input
        .iter()
        .map(|i| {
            extra
                .iter()
                .find(|(o, _)| *o == i.previous_output)
                .map(|(_, t)| t.clone())
                .or_else(|| node.spent_output(&i.previous_output))
        })
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_like_core() {
        assert_eq!(parse_fixed8("1"), Some(100_000_000));
        assert_eq!(parse_fixed8("0.00000001"), Some(1));
        assert_eq!(parse_fixed8("1e-8"), Some(1));
        assert_eq!(parse_fixed8("0.000000001"), None);
        assert_eq!(parse_fixed8("abc"), None);
        assert_eq!(parse_fixed8("1e400"), None);
        assert_eq!(format_btc(5_000_000_000), "50.00000000");
        assert_eq!(format_btc(-1), "-0.00000001");
    }

    #[test]
    fn asm_matches_core_style() {
        let s = ScriptBuf::from_bytes(
            hex::decode("0014751e76e8199196d454941c45d1b3a323f1433bd6").unwrap_or_default(),
        );
        assert_eq!(
            script_asm(&s, false),
            "0 751e76e8199196d454941c45d1b3a323f1433bd6"
        );
        assert_eq!(script_type(&s), "witness_v0_keyhash");
    }
}
