"""Decodes a peg-out payout with python-bitcoinlib (a Bitcoin client no one here wrote): fetches
the raw transaction from a Bitcoin node's RPC and prints what a wallet would check.

usage: decode_payout.py <bitcoin rpc url with user:password> <txid>

prints: {"txid": ..., "inputs": [{"prevout": "txid:n", "witness": [<item sizes>]}],
         "outputs": [{"scriptPubKey": hex, "sats": n}]}
"""
import json
import sys

import bitcoin
from bitcoin.core import CTransaction, b2lx, b2x, lx
from bitcoin.rpc import Proxy

bitcoin.SelectParams("regtest")
url, txid = sys.argv[1], sys.argv[2]
rpc = Proxy(service_url=url)
raw = rpc._call("getrawtransaction", txid)
tx = CTransaction.deserialize(bytes.fromhex(raw))
assert b2lx(tx.GetTxid()) == txid, "txid of the decoded transaction differs"
witnesses = tx.wit.vtxinwit if tx.wit is not None else []
print(json.dumps({
    "txid": b2lx(tx.GetTxid()),
    "inputs": [
        {
            "prevout": "%s:%d" % (b2lx(txin.prevout.hash), txin.prevout.n),
            "witness": [len(item) for item in witnesses[i].scriptWitness.stack]
            if i < len(witnesses) else [],
        }
        for i, txin in enumerate(tx.vin)
    ],
    "outputs": [{"scriptPubKey": b2x(out.scriptPubKey), "sats": out.nValue} for out in tx.vout],
}))
