"""Builds and signs peg-in deposits with python-bitcoinlib (a Bitcoin client no one here wrote)
and submits them to the node's Bitcoin RPC with `sendrawtransaction`.

usage: deposit.py <bitcoin rpc url with user:password> <federation scriptPubKey hex>
                  <recipient 20-byte hex> <deposit sats> <small recipient hex> <small sats>
prints: {"deposit": txid, "small": txid}
"""
import json
import os
import sys

import bitcoin
from bitcoin.core import (COutPoint, CMutableTransaction, CMutableTxIn, CMutableTxOut, b2x, lx,
                          x)
from bitcoin.core.script import OP_RETURN, SIGHASH_ALL, CScript, SignatureHash
from bitcoin.rpc import Proxy
from bitcoin.wallet import CBitcoinSecret, P2PKHBitcoinAddress

bitcoin.SelectParams("regtest")
url, fed_spk, recipient, sats, small_recipient, small_sats = sys.argv[1:7]
rpc = Proxy(service_url=url)
mine_to = rpc._call("getnewaddress")
rpc._call("generatetoaddress", 101, mine_to)

key = CBitcoinSecret.from_secret_bytes(os.urandom(32))
addr = P2PKHBitcoinAddress.from_pubkey(key.pub)
spk = addr.to_scriptPubKey()


def fund(btc):
    txid = rpc._call("sendtoaddress", str(addr), btc)
    tx = rpc._call("getrawtransaction", txid, True)
    for out in tx["vout"]:
        if out["scriptPubKey"]["hex"] == b2x(spk):
            return txid, out["n"], round(out["value"] * 100_000_000)
    raise SystemExit("funding output not found")


def deposit(funding, to_recipient, amount):
    txid, vout, value = funding
    fee = 2_000
    txin = CMutableTxIn(COutPoint(lx(txid), vout))
    outs = [
        CMutableTxOut(amount, CScript(x(fed_spk))),
        CMutableTxOut(0, CScript([OP_RETURN, x(to_recipient)])),
        CMutableTxOut(value - amount - fee, spk),
    ]
    tx = CMutableTransaction([txin], outs)
    sighash = SignatureHash(spk, tx, 0, SIGHASH_ALL)
    sig = key.sign(sighash) + bytes([SIGHASH_ALL])
    txin.scriptSig = CScript([sig, key.pub])
    return rpc._call("sendrawtransaction", b2x(tx.serialize()))


fundings = [fund(0.01), fund(0.01)]
rpc._call("generatetoaddress", 1, mine_to)
result = {
    "deposit": deposit(fundings[0], recipient, int(sats)),
    "small": deposit(fundings[1], small_recipient, int(small_sats)),
}
print(json.dumps(result))
