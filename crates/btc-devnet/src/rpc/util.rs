//! Methods that read no chain or wallet state: `estimatesmartfee` (the devnet's fixed fee
//! rate), `validateaddress` and `getnetworkinfo`.

use super::*;

pub(super) fn estimatesmartfee(params: &[Value]) -> Result<Value, RpcError> {
    let target = as_i64(required(params, 0, "estimatesmartfee")?)?;
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
    Ok(json!({"feerate": btc(DEV_FEE_RATE_SAT_PER_KVB as i64), "blocks": target.max(2)}))
}

pub(super) fn validateaddress(params: &[Value]) -> Result<Value, RpcError> {
    let s = as_str(required(params, 0, "validateaddress")?)?;
    Ok(match parse_address(s) {
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
    })
}

pub(super) fn getnetworkinfo() -> Value {
    json!({
    "version": 280000, "subversion": "/Satoshi:28.0.0(alys-btc-devnet)/",
    "protocolversion": 70016, "localservices": "0000000000000409",
    "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
    "localrelay": true, "timeoffset": 0, "networkactive": true, "connections": 0,
    "connections_in": 0, "connections_out": 0, "networks": [],
    "relayfee": btc(1000), "incrementalfee": btc(1000), "localaddresses": [],
    "warnings": []
    })
}
