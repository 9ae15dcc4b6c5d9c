//! Parameter parsing of the RPC methods: positional values, amounts, hashes, addresses and raw
//! transactions, each failure a Core error code and message.

use super::*;

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(super) fn type_err(v: &Value, expected: &str) -> RpcError {
    RpcError::new(
        RPC_TYPE_ERROR,
        format!(
            "JSON value of type {} is not of expected type {expected}",
            type_name(v)
        ),
    )
}

pub(super) fn arg(params: &[Value], i: usize) -> Option<&Value> {
    params.get(i).filter(|v| !v.is_null())
}

pub(super) fn required<'a>(
    params: &'a [Value],
    i: usize,
    method: &str,
) -> Result<&'a Value, RpcError> {
    arg(params, i).ok_or_else(|| {
        let names = param_names(method).unwrap_or(&[]);
        RpcError::new(
            RPC_MISC_ERROR,
            format!(
                "{method} {}\nmissing required argument {}",
                names.join(" "),
                names.get(i).copied().unwrap_or("?")
            ),
        )
    })
}

pub(super) fn as_str(v: &Value) -> Result<&str, RpcError> {
    v.as_str().ok_or_else(|| type_err(v, "string"))
}

pub(super) fn as_i64(v: &Value) -> Result<i64, RpcError> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            RpcError::new(RPC_TYPE_ERROR, format!("JSON integer out of range: {n}"))
        }),
        _ => Err(type_err(v, "number")),
    }
}

pub(super) fn as_bool(v: &Value) -> Result<bool, RpcError> {
    v.as_bool().ok_or_else(|| type_err(v, "bool"))
}

pub(super) fn opt_bool(params: &[Value], i: usize, default: bool) -> Result<bool, RpcError> {
    arg(params, i).map_or(Ok(default), as_bool)
}

pub(super) fn opt_i64(params: &[Value], i: usize, default: i64) -> Result<i64, RpcError> {
    arg(params, i).map_or(Ok(default), as_i64)
}

/// Core's `ParseFixedPoint(…, 8)` on a JSON number or string, in satoshis.
pub fn parse_amount(v: &Value) -> Result<i64, RpcError> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => {
            return Err(RpcError::new(
                RPC_TYPE_ERROR,
                "Amount is not a number or string",
            ))
        }
    };
    let invalid = || RpcError::new(RPC_TYPE_ERROR, "Invalid amount");
    let sats = parse_fixed8(&text).ok_or_else(invalid)?;
    if !(0..=MAX_MONEY as i64).contains(&sats) {
        return Err(RpcError::new(RPC_TYPE_ERROR, "Amount out of range"));
    }
    Ok(sats)
}

pub(super) fn parse_fixed8(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    // Mantissa and optional exponent.
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(p) => (&t[..p], t[p + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let (int_part, frac_part) = match mant.find('.') {
        Some(p) => (&mant[..p], &mant[p + 1..]),
        None => (mant, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    // value = digits × 10^(exp - frac_len); we want value × 10^8.
    let shift = exp.checked_add(8)?.checked_sub(frac_part.len() as i32)?;
    if digits.is_empty() {
        return Some(0);
    }
    if digits.len() > 18 {
        return None;
    }
    let mut n: i64 = digits.parse().ok()?;
    if shift >= 0 {
        for _ in 0..shift {
            n = n.checked_mul(10)?;
        }
    } else {
        for _ in 0..(-shift) {
            if n % 10 != 0 {
                return None;
            }
            n /= 10;
        }
    }
    Some(if neg { -n } else { n })
}

pub(super) fn parse_hash_str(s: &str, name: &str) -> Result<[u8; 32], RpcError> {
    if s.len() != 64 {
        return Err(RpcError::new(
            RPC_INVALID_PARAMETER,
            format!("{name} must be of length 64 (not {}, for '{s}')", s.len()),
        ));
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(s, &mut bytes).map_err(|_| {
        RpcError::new(
            RPC_INVALID_PARAMETER,
            format!("{name} must be hexadecimal string (not '{s}')"),
        )
    })?;
    bytes.reverse();
    Ok(bytes)
}

pub(super) fn parse_hash(v: &Value, name: &str) -> Result<[u8; 32], RpcError> {
    parse_hash_str(as_str(v)?, name)
}

pub(super) fn parse_block_hash(v: &Value, name: &str) -> Result<BlockHash, RpcError> {
    Ok(BlockHash::from_byte_array(parse_hash(v, name)?))
}

pub(super) fn parse_txid(v: &Value, name: &str) -> Result<Txid, RpcError> {
    Ok(Txid::from_byte_array(parse_hash(v, name)?))
}

pub(super) fn parse_address(s: &str) -> Option<Address> {
    Address::from_str(s)
        .ok()?
        .require_network(Network::Regtest)
        .ok()
}

pub(super) fn decode_tx_param(v: &Value) -> Result<Transaction, RpcError> {
    let s = as_str(v)?;
    script::decode_tx_hex(s).ok_or_else(|| {
        RpcError::new(
            RPC_DESERIALIZATION_ERROR,
            "TX decode failed. Make sure the tx has at least one input.",
        )
    })
}
