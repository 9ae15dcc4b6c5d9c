//! Methods that change the chain: mining (`generatetoaddress`) and manual reorgs
//! (`invalidateblock`, `reconsiderblock`).

use super::*;

pub(super) fn generatetoaddress(node: &mut Node, params: &[Value]) -> Result<Value, RpcError> {
    let n = as_i64(required(params, 0, "generatetoaddress")?)?;
    let addr = as_str(required(params, 1, "generatetoaddress")?)?;
    if let Some(t) = arg(params, 2) {
        as_i64(t)?;
    }
    let addr = parse_address(addr)
        .ok_or_else(|| RpcError::new(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address"))?;
    if n > MAX_GENERATE {
        return Err(RpcError::new(
            RPC_INVALID_PARAMETER,
            format!("nblocks must be at most {MAX_GENERATE} on this devnet"),
        ));
    }
    let hashes = node
        .generate(n.max(0) as u32, &addr.script_pubkey())
        .map_err(node_err)?;
    Ok(Value::Array(
        hashes.iter().map(|h| json!(h.to_string())).collect(),
    ))
}

/// `invalidateblock` or `reconsiderblock`, as `method` says.
pub(super) fn invalidate_or_reconsider(
    node: &mut Node,
    method: &str,
    params: &[Value],
) -> Result<Value, RpcError> {
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
    Ok(Value::Null)
}
