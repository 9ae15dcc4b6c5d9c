//! Shared helpers for the integration tests.
#![allow(dead_code)]

use alys_btc_devnet::rpc::core_op_name;

fn push_data(out: &mut Vec<u8>, data: &[u8]) {
    let n = data.len();
    if n < 0x4c {
        out.push(n as u8);
    } else if n <= 0xff {
        out.push(0x4c);
        out.push(n as u8);
    } else if n <= 0xffff {
        out.push(0x4d);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else {
        out.push(0x4e);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(data);
}

fn script_num(n: i64) -> Vec<u8> {
    if n == 0 {
        return vec![];
    }
    let neg = n < 0;
    let mut abs = n.unsigned_abs();
    let mut out = Vec::new();
    while abs > 0 {
        out.push((abs & 0xff) as u8);
        abs >>= 8;
    }
    if out.last().is_some_and(|b| b & 0x80 != 0) {
        out.push(if neg { 0x80 } else { 0 });
    } else if neg {
        if let Some(b) = out.last_mut() {
            *b |= 0x80;
        }
    }
    out
}

/// Bitcoin Core's `ParseScript` (the test-vector script notation).
pub(crate) fn parse_script(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for w in s.split([' ', '\t', '\n']) {
        if w.is_empty() {
            continue;
        }
        let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        if digits(w) || (w.starts_with('-') && digits(&w[1..])) {
            let n: i64 = w.parse().map_err(|_| format!("bad number {w}"))?;
            if !(-0xffff_ffff..=0xffff_ffff).contains(&n) {
                return Err(format!("number out of range {w}"));
            }
            if n == -1 || (1..=16).contains(&n) {
                out.push((0x50 + n) as u8);
            } else if n == 0 {
                out.push(0);
            } else {
                push_data(&mut out, &script_num(n));
            }
        } else if let Some(h) = w.strip_prefix("0x").filter(|h| !h.is_empty()) {
            out.extend(hex::decode(h).map_err(|_| format!("bad hex {w}"))?);
        } else if w.len() >= 2 && w.starts_with('\'') && w.ends_with('\'') {
            push_data(&mut out, &w.as_bytes()[1..w.len() - 1]);
        } else {
            let name = w.strip_prefix("OP_").unwrap_or(w);
            let op = (0x50u8..=0xba)
                .filter(|op| *op == 0x50 || *op >= 0x61)
                .find(|op| core_op_name(*op).strip_prefix("OP_") == Some(name))
                .ok_or_else(|| format!("unknown opcode {w}"))?;
            out.push(op);
        }
    }
    Ok(out)
}
