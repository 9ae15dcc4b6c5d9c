//! Independent-client check: python-bitcoinlib's `bitcoin.rpc.Proxy` talks to the devnet as
//! to Bitcoin Core, and parses the blocks and transactions it returns with its own code.
//! Fails when the project's Python with python-bitcoinlib is missing (`scripts/setup.sh`), or
//! skips under `ALYS_ALLOW_MISSING_TOOLS=1`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alys_test_utils::devnet::start_devnet;
use alys_test_utils::tools::{require, Tool};

const SCRIPT: &str = r#"
import sys
import bitcoin, bitcoin.rpc
from bitcoin.core import COIN, b2lx, lx
bitcoin.SelectParams('regtest')
p = bitcoin.rpc.Proxy(service_url=sys.argv[1])
info = p.call('getblockchaininfo')
assert info['chain'] == 'regtest', info
addr = p.getnewaddress()
hashes = list(p.generatetoaddress(101, addr))
assert len(hashes) == 101
assert p.getbalance() == 50 * COIN, p.getbalance()
dest = p.getnewaddress()
txid = p.sendtoaddress(dest, 1 * COIN)
tx = p.getrawtransaction(txid)
assert tx.GetTxid() == txid
assert any(o.nValue == COIN for o in tx.vout)
blockhash = list(p.generatetoaddress(1, addr))[0]
blk = p.getblock(blockhash)
assert blk.GetHash() == blockhash
assert any(t.GetTxid() == txid for t in blk.vtx), [b2lx(t.GetTxid()) for t in blk.vtx]
assert p.getbestblockhash() == blockhash
assert p.getblockcount() == 102
print("python-bitcoinlib OK", b2lx(txid))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_bitcoinlib_proxy() {
    let Some(python) = require(Tool::PythonBitcoinlib) else {
        return;
    };
    let d = start_devnet(None).await;
    let url = format!("http://alys:alys@{}", d.local_addr());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args(["-c", SCRIPT, &url])
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "python failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("python-bitcoinlib OK"));
    d.shutdown().await;
}
