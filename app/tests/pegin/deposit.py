"""Builds and signs peg-in transactions with python-bitcoinlib (a Bitcoin client no one here
wrote) against a Bitcoin node's RPC, and optionally submits them with `sendrawtransaction`.

usage: deposit.py <bitcoin rpc url with user:password> <federation scriptPubKey hex> <plan>

<plan> is a JSON list of transactions to build, in order; each an object with:
  "fed":        list of sats amounts, one output to the federation each (default: none)
  "op_return":  hex payload of one OP_RETURN output, pushed as a single push (default: none)
  "send":       submit it with sendrawtransaction (default: true)
  "conflicts_with": index of an earlier transaction of the plan whose funding coin this one
                spends too (a double spend of it); default: a coin of its own
  "locktime_after_tip": nLockTime = (tip height once the funding coins are confirmed) + this,
                with a non-final input sequence so it is enforced (default: nLockTime 0)

Every transaction spends one funding coin (0.01 BTC, sent by the node's wallet to a fresh key of
this script and confirmed in one block mined here) and pays what its outputs leave, minus a fee
of 2,000 sats, back to that key. The wallet is matured first (101 blocks) if it cannot fund.

prints: {"tip": <height after funding>, "txs": [{"txid": ..., "hex": ...}, ...]}
"""
import json
import os
import sys
from decimal import Decimal

import bitcoin
from bitcoin.core import (COutPoint, CMutableTransaction, CMutableTxIn, CMutableTxOut, b2lx,
                          b2x, lx, x)
from bitcoin.core.script import OP_RETURN, SIGHASH_ALL, CScript, SignatureHash
from bitcoin.rpc import Proxy
from bitcoin.wallet import CBitcoinSecret, P2PKHBitcoinAddress

FUNDING_BTC = Decimal("0.01")
FEE = 2_000

bitcoin.SelectParams("regtest")
url, fed_spk, plan = sys.argv[1], x(sys.argv[2]), json.loads(sys.argv[3])
rpc = Proxy(service_url=url)
mine_to = rpc._call("getnewaddress")

key = CBitcoinSecret.from_secret_bytes(os.urandom(32))
addr = P2PKHBitcoinAddress.from_pubkey(key.pub)
spk = addr.to_scriptPubKey()

own_coins = sum(1 for t in plan if "conflicts_with" not in t)
if Decimal(str(rpc._call("getbalance"))) < FUNDING_BTC * (own_coins + 1):
    rpc._call("generatetoaddress", 101, mine_to)


def fund():
    txid = rpc._call("sendtoaddress", str(addr), float(FUNDING_BTC))
    tx = rpc._call("getrawtransaction", txid, True)
    for out in tx["vout"]:
        if out["scriptPubKey"]["hex"] == b2x(spk):
            return txid, out["n"], round(Decimal(str(out["value"])) * 100_000_000)
    raise SystemExit("funding output not found")


coins = [None if "conflicts_with" in t else fund() for t in plan]
rpc._call("generatetoaddress", 1, mine_to)
tip = rpc._call("getblockcount")

result = []
for i, spec in enumerate(plan):
    coin = coins[spec["conflicts_with"]] if "conflicts_with" in spec else coins[i]
    txid, vout, value = coin
    outs = [CMutableTxOut(sats, CScript(fed_spk)) for sats in spec.get("fed", [])]
    if spec.get("op_return") is not None:
        outs.append(CMutableTxOut(0, CScript([OP_RETURN, x(spec["op_return"])])))
    change = value - sum(spec.get("fed", [])) - FEE
    outs.append(CMutableTxOut(change, spk))
    locktime, sequence = 0, 0xFFFFFFFF
    if "locktime_after_tip" in spec:
        locktime, sequence = tip + spec["locktime_after_tip"], 0xFFFFFFFE
    txin = CMutableTxIn(COutPoint(lx(txid), vout), nSequence=sequence)
    tx = CMutableTransaction([txin], outs, nLockTime=locktime)
    sighash = SignatureHash(spk, tx, 0, SIGHASH_ALL)
    txin.scriptSig = CScript([key.sign(sighash) + bytes([SIGHASH_ALL]), key.pub])
    raw = b2x(tx.serialize())
    own_txid = b2lx(tx.GetTxid())
    if spec.get("send", True):
        sent = rpc._call("sendrawtransaction", raw)
        if sent != own_txid:
            raise SystemExit(f"sendrawtransaction returned {sent}, built {own_txid}")
    result.append({"txid": own_txid, "hex": raw})

print(json.dumps({"tip": tip, "txs": result}))
