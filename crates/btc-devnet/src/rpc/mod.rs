//! Bitcoin Core 28-compatible RPC methods over a [`Node`]: parameter parsing with Core's error
//! codes and messages, and Core's JSON shapes.
//!
//! This module owns the method table (parameter names, dispatch, `help`) and the BTC amount
//! encoding shared with the HTTP layer; the methods live in submodules by area.

use std::{collections::HashSet, str::FromStr};

use bitcoin::{
    absolute::LockTime, consensus::serialize, hashes::Hash, opcodes, script::Instruction,
    transaction::Version, Address, Amount, Block, BlockHash, Network, OutPoint, Script, ScriptBuf,
    Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use serde_json::{json, Map, Value};

mod chain_control;
mod chain_queries;
mod error;
mod json;
mod mempool;
mod params;
mod rawtx;
mod util;
mod wallet;

use error::{node_err, reject_err};
pub use error::{
    RpcError, RPC_DESERIALIZATION_ERROR, RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER,
    RPC_METHOD_DEPRECATED, RPC_METHOD_NOT_FOUND, RPC_MISC_ERROR, RPC_TYPE_ERROR,
    RPC_VERIFY_ALREADY_IN_CHAIN, RPC_VERIFY_ERROR, RPC_VERIFY_REJECTED, RPC_WALLET_ERROR,
    RPC_WALLET_INSUFFICIENT_FUNDS,
};
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
        "getblockchaininfo" => chain_queries::getblockchaininfo(node),
        "getblockcount" => json!(node.chain.height()),
        "getbestblockhash" => json!(node.chain.tip().to_string()),
        "getblockhash" => chain_queries::getblockhash(node, params)?,
        "getblockheader" => chain_queries::getblockheader(node, params)?,
        "getblock" => chain_queries::getblock(node, params)?,
        "getrawtransaction" => chain_queries::getrawtransaction(node, params)?,
        "gettxout" => chain_queries::gettxout(node, params)?,
        "getchaintips" => chain_queries::getchaintips(node),
        "generatetoaddress" => chain_control::generatetoaddress(node, params)?,
        "invalidateblock" | "reconsiderblock" => {
            chain_control::invalidate_or_reconsider(node, method, params)?
        }
        "sendrawtransaction" => mempool::sendrawtransaction(node, params)?,
        "testmempoolaccept" => mempool::testmempoolaccept(node, params)?,
        "getrawmempool" => mempool::getrawmempool(node, params)?,
        "getmempoolinfo" => mempool::getmempoolinfo(node),
        "decoderawtransaction" => rawtx::decoderawtransaction(params)?,
        "createrawtransaction" => rawtx::createrawtransaction(params)?,
        "getnewaddress" | "getrawchangeaddress" => wallet::getnewaddress(node, method, params)?,
        "getbalance" => wallet::getbalance(node, params)?,
        "getbalances" => wallet::getbalances(node),
        "getwalletinfo" => wallet::getwalletinfo(node),
        "listunspent" => wallet::listunspent(node, params)?,
        "sendtoaddress" => wallet::sendtoaddress(node, params)?,
        "fundrawtransaction" => wallet::fundrawtransaction(node, params)?,
        "signrawtransactionwithwallet" => wallet::signrawtransactionwithwallet(node, params)?,
        "estimatesmartfee" => util::estimatesmartfee(params)?,
        "validateaddress" => util::validateaddress(params)?,
        "getnetworkinfo" => util::getnetworkinfo(),
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
