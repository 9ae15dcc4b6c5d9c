//! Core's JSON shapes: script assembly and types, transactions, headers, difficulty.

use super::*;

/// Core's `GetOpName`.
pub fn core_op_name(op: u8) -> &'static str {
    const NAMES: [&str; 0xbb - 0x61] = [
        "OP_NOP",
        "OP_VER",
        "OP_IF",
        "OP_NOTIF",
        "OP_VERIF",
        "OP_VERNOTIF",
        "OP_ELSE",
        "OP_ENDIF",
        "OP_VERIFY",
        "OP_RETURN",
        "OP_TOALTSTACK",
        "OP_FROMALTSTACK",
        "OP_2DROP",
        "OP_2DUP",
        "OP_3DUP",
        "OP_2OVER",
        "OP_2ROT",
        "OP_2SWAP",
        "OP_IFDUP",
        "OP_DEPTH",
        "OP_DROP",
        "OP_DUP",
        "OP_NIP",
        "OP_OVER",
        "OP_PICK",
        "OP_ROLL",
        "OP_ROT",
        "OP_SWAP",
        "OP_TUCK",
        "OP_CAT",
        "OP_SUBSTR",
        "OP_LEFT",
        "OP_RIGHT",
        "OP_SIZE",
        "OP_INVERT",
        "OP_AND",
        "OP_OR",
        "OP_XOR",
        "OP_EQUAL",
        "OP_EQUALVERIFY",
        "OP_RESERVED1",
        "OP_RESERVED2",
        "OP_1ADD",
        "OP_1SUB",
        "OP_2MUL",
        "OP_2DIV",
        "OP_NEGATE",
        "OP_ABS",
        "OP_NOT",
        "OP_0NOTEQUAL",
        "OP_ADD",
        "OP_SUB",
        "OP_MUL",
        "OP_DIV",
        "OP_MOD",
        "OP_LSHIFT",
        "OP_RSHIFT",
        "OP_BOOLAND",
        "OP_BOOLOR",
        "OP_NUMEQUAL",
        "OP_NUMEQUALVERIFY",
        "OP_NUMNOTEQUAL",
        "OP_LESSTHAN",
        "OP_GREATERTHAN",
        "OP_LESSTHANOREQUAL",
        "OP_GREATERTHANOREQUAL",
        "OP_MIN",
        "OP_MAX",
        "OP_WITHIN",
        "OP_RIPEMD160",
        "OP_SHA1",
        "OP_SHA256",
        "OP_HASH160",
        "OP_HASH256",
        "OP_CODESEPARATOR",
        "OP_CHECKSIG",
        "OP_CHECKSIGVERIFY",
        "OP_CHECKMULTISIG",
        "OP_CHECKMULTISIGVERIFY",
        "OP_NOP1",
        "OP_CHECKLOCKTIMEVERIFY",
        "OP_CHECKSEQUENCEVERIFY",
        "OP_NOP4",
        "OP_NOP5",
        "OP_NOP6",
        "OP_NOP7",
        "OP_NOP8",
        "OP_NOP9",
        "OP_NOP10",
        "OP_CHECKSIGADD",
    ];
    const SMALL: [&str; 16] = [
        "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    match op {
        0x00 => "0",
        0x4c => "OP_PUSHDATA1",
        0x4d => "OP_PUSHDATA2",
        0x4e => "OP_PUSHDATA4",
        0x4f => "-1",
        0x50 => "OP_RESERVED",
        0x51..=0x60 => SMALL[(op - 0x51) as usize],
        0x61..=0xba => NAMES[(op - 0x61) as usize],
        _ => "OP_UNKNOWN",
    }
}

pub(super) fn script_num(bytes: &[u8]) -> i64 {
    if bytes.is_empty() {
        return 0;
    }
    let mut v: i64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        v |= i64::from(*b) << (8 * i);
    }
    let last = bytes[bytes.len() - 1];
    if last & 0x80 != 0 {
        -(v & !(0x80i64 << (8 * (bytes.len() - 1))))
    } else {
        v
    }
}

/// Core's `ScriptToAsmStr`.
pub fn script_asm(script: &Script, sighash_decode: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    let unspendable = script.is_op_return();
    for ins in script.instructions() {
        match ins {
            Ok(Instruction::PushBytes(pb)) => {
                let data = pb.as_bytes();
                if data.len() <= 4 {
                    parts.push(script_num(data).to_string());
                } else if sighash_decode && !unspendable {
                    let mut s = hex::encode(data);
                    if let Some((&last, sig)) = data.split_last() {
                        if bitcoin::ecdsa::Signature::from_slice(data).is_ok() && !sig.is_empty() {
                            let name = match last {
                                0x01 => Some("ALL"),
                                0x02 => Some("NONE"),
                                0x03 => Some("SINGLE"),
                                0x81 => Some("ALL|ANYONECANPAY"),
                                0x82 => Some("NONE|ANYONECANPAY"),
                                0x83 => Some("SINGLE|ANYONECANPAY"),
                                _ => None,
                            };
                            if let Some(n) = name {
                                s = format!("{}[{n}]", hex::encode(sig));
                            }
                        }
                    }
                    parts.push(s);
                } else {
                    parts.push(hex::encode(data));
                }
            }
            Ok(Instruction::Op(op)) => parts.push(core_op_name(op.to_u8()).to_string()),
            Err(_) => {
                parts.push("[error]".to_string());
                break;
            }
        }
    }
    parts.join(" ")
}

/// Core's script `type` name.
pub fn script_type(s: &Script) -> &'static str {
    if s.is_p2pk() {
        "pubkey"
    } else if s.is_p2pkh() {
        "pubkeyhash"
    } else if s.is_p2sh() {
        "scripthash"
    } else if s.is_p2wpkh() {
        "witness_v0_keyhash"
    } else if s.is_p2wsh() {
        "witness_v0_scripthash"
    } else if s.is_p2tr() {
        "witness_v1_taproot"
    } else if s.as_bytes() == [0x51, 0x02, 0x4e, 0x73] {
        "anchor"
    } else if s.is_witness_program() {
        "witness_unknown"
    } else if s.is_op_return() && Script::from_bytes(&s.as_bytes()[1..]).is_push_only() {
        "nulldata"
    } else if is_multisig(s) {
        "multisig"
    } else {
        "nonstandard"
    }
}

pub(super) fn is_multisig(s: &Script) -> bool {
    let b = s.as_bytes();
    b.len() >= 3
        && b[b.len() - 1] == opcodes::all::OP_CHECKMULTISIG.to_u8()
        && (0x51..=0x60).contains(&b[0])
        && (0x51..=0x60).contains(&b[b.len() - 2])
}

pub(super) fn script_pubkey_json(s: &Script) -> Value {
    let mut m = Map::new();
    m.insert("asm".into(), json!(script_asm(s, false)));
    let address = Address::from_script(s, Network::Regtest).ok();
    let desc = if s.is_p2tr() {
        format!("rawtr({})", hex::encode(&s.as_bytes()[2..]))
    } else if s.is_p2pk() {
        let len = s.len();
        format!("pk({})", hex::encode(&s.as_bytes()[1..len - 1]))
    } else if let Some(a) = &address {
        format!("addr({a})")
    } else {
        format!("raw({})", hex::encode(s.as_bytes()))
    };
    m.insert("desc".into(), json!(descriptor_with_checksum(&desc)));
    m.insert("hex".into(), json!(hex::encode(s.as_bytes())));
    if let Some(a) = address {
        m.insert("address".into(), json!(a.to_string()));
    }
    m.insert("type".into(), json!(script_type(s)));
    Value::Object(m)
}

/// Core's `TxToUniv` (`prevouts`: the spent coins, for `fee` and verbosity-3 `prevout`).
pub(super) fn tx_json(
    tx: &Transaction,
    prevouts: Option<&[Coin]>,
    with_prevout: bool,
    with_hex: bool,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("txid".into(), json!(tx.compute_txid().to_string()));
    m.insert("hash".into(), json!(tx.compute_wtxid().to_string()));
    m.insert("version".into(), json!(tx.version.0));
    m.insert("size".into(), json!(tx.total_size()));
    m.insert("vsize".into(), json!(chain::vsize(tx)));
    m.insert("weight".into(), json!(tx.weight().to_wu()));
    m.insert("locktime".into(), json!(tx.lock_time.to_consensus_u32()));
    let vin: Vec<Value> = tx
        .input
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let mut o = Map::new();
            if tx.is_coinbase() {
                o.insert("coinbase".into(), json!(hex::encode(input.script_sig.as_bytes())));
            } else {
                o.insert("txid".into(), json!(input.previous_output.txid.to_string()));
                o.insert("vout".into(), json!(input.previous_output.vout));
                o.insert(
                    "scriptSig".into(),
                    json!({"asm": script_asm(&input.script_sig, true), "hex": hex::encode(input.script_sig.as_bytes())}),
                );
            }
            if !input.witness.is_empty() {
                let w: Vec<Value> = input.witness.iter().map(|e| json!(hex::encode(e))).collect();
                o.insert("txinwitness".into(), Value::Array(w));
            }
            if with_prevout && !tx.is_coinbase() {
                if let Some(c) = prevouts.and_then(|p| p.get(i)) {
                    o.insert(
                        "prevout".into(),
                        json!({
                            "generated": c.coinbase,
                            "height": c.height,
                            "value": btc_u(c.out.value.to_sat()),
                            "scriptPubKey": script_pubkey_json(&c.out.script_pubkey),
                        }),
                    );
                }
            }
            o.insert("sequence".into(), json!(input.sequence.0));
            Value::Object(o)
        })
        .collect();
    m.insert("vin".into(), Value::Array(vin));
    let vout: Vec<Value> = tx
        .output
        .iter()
        .enumerate()
        .map(|(n, o)| {
            json!({
                "value": btc_u(o.value.to_sat()),
                "n": n,
                "scriptPubKey": script_pubkey_json(&o.script_pubkey),
            })
        })
        .collect();
    m.insert("vout".into(), Value::Array(vout));
    if let Some(p) = prevouts {
        if !tx.is_coinbase() && p.len() == tx.input.len() {
            let inv: u64 = p.iter().map(|c| c.out.value.to_sat()).sum();
            m.insert(
                "fee".into(),
                btc(inv as i64 - script::output_total(tx) as i64),
            );
        }
    }
    if with_hex {
        m.insert("hex".into(), json!(script::tx_hex(tx)));
    }
    m
}

pub(super) fn difficulty(bits: u32) -> f64 {
    let mut shift = (bits >> 24) & 0xff;
    let mut diff = f64::from(0x0000_ffffu32) / f64::from((bits & 0x00ff_ffff).max(1));
    while shift < 29 {
        diff *= 256.0;
        shift += 1;
    }
    while shift > 29 {
        diff /= 256.0;
        shift -= 1;
    }
    diff
}

pub(super) fn header_json(node: &Node, hash: &BlockHash) -> Option<Map<String, Value>> {
    let c = &node.chain;
    let e = c.entry(hash)?;
    let h = &e.block.header;
    let active = c.is_active(hash);
    let mut m = Map::new();
    m.insert("hash".into(), json!(hash.to_string()));
    m.insert(
        "confirmations".into(),
        json!(if active {
            i64::from(c.height()) - i64::from(e.height) + 1
        } else {
            -1
        }),
    );
    m.insert("height".into(), json!(e.height));
    m.insert("version".into(), json!(h.version.to_consensus()));
    m.insert(
        "versionHex".into(),
        json!(format!("{:08x}", h.version.to_consensus())),
    );
    m.insert("merkleroot".into(), json!(h.merkle_root.to_string()));
    m.insert("time".into(), json!(h.time));
    m.insert("mediantime".into(), json!(c.median_time_past_of(hash)));
    m.insert("nonce".into(), json!(h.nonce));
    m.insert(
        "bits".into(),
        json!(format!("{:08x}", h.bits.to_consensus())),
    );
    m.insert(
        "difficulty".into(),
        json!(difficulty(h.bits.to_consensus())),
    );
    m.insert(
        "chainwork".into(),
        json!(hex::encode(e.chainwork.to_be_bytes())),
    );
    m.insert("nTx".into(), json!(e.block.txdata.len()));
    if e.height > 0 {
        m.insert(
            "previousblockhash".into(),
            json!(h.prev_blockhash.to_string()),
        );
    }
    if active {
        if let Some(next) = c.hash_at(e.height + 1) {
            m.insert("nextblockhash".into(), json!(next.to_string()));
        }
    }
    Some(m)
}

pub(super) fn block_not_found() -> RpcError {
    RpcError::new(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
}

/// Spent coins per non-coinbase transaction of an active block (from its undo data).
pub(super) fn block_prevouts(
    node: &Node,
    hash: &BlockHash,
    block: &Block,
) -> Option<Vec<Vec<Coin>>> {
    let undo = node.chain.undo(hash)?;
    let mut it = undo.iter();
    let mut out = Vec::new();
    for tx in block.txdata.iter().skip(1) {
        let mut v = Vec::new();
        for _ in &tx.input {
            v.push(it.next()?.clone());
        }
        out.push(v);
    }
    Some(out)
}
