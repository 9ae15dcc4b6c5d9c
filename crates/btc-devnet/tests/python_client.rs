//! Independent-client check: python-bitcoinlib's `bitcoin.rpc.Proxy` talks to the devnet as
//! to Bitcoin Core, and parses the blocks and transactions it returns with its own code.
//! Skips (with the reason printed) when python3 or python-bitcoinlib is missing.

use alys_btc_devnet::{BtcDevnet, DevnetConfig};

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
    let probe = std::process::Command::new("python3")
        .args(["-c", "import bitcoin.rpc"])
        .output();
    match probe {
        Err(e) => {
            eprintln!("SKIP: python3 not available: {e}");
            return;
        }
        Ok(o) if !o.status.success() => {
            eprintln!("SKIP: python-bitcoinlib not installed (pip install python-bitcoinlib)");
            return;
        }
        Ok(_) => {}
    }
    let d = BtcDevnet::start(DevnetConfig::local(0)).await.unwrap();
    let url = format!("http://alys:alys@{}", d.local_addr());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
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
