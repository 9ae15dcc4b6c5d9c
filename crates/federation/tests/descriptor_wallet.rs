//! The federation address equals what an independent descriptor wallet (Python `embit`)
//! derives from `tr(<NUMS H>,multi_a(m,k1,…,kn))` for the same keys.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use alys_federation::bitcoin::Network;
use alys_federation::{Federation, NUMS_H};
use alys_test_utils::tools::{require, Tool};

#[test]
fn address_matches_embit() {
    let Some(python) = require(Tool::PythonEmbit) else {
        return;
    };
    let all = common::keys(15);
    let mut cases = Vec::new();
    for (net, n, m) in [
        (Network::Regtest, 1, 1),
        (Network::Regtest, 3, 2),
        (Network::Bitcoin, 4, 3),
        (Network::Testnet, 5, 4),
        (Network::Signet, 7, 5),
        (Network::Regtest, 15, 11),
    ] {
        let fed = Federation::new(net, all[..n].to_vec(), m, None, 1000).unwrap();
        let d = fed.descriptor();
        assert!(d.starts_with(&format!("tr({},multi_a({m},", hex::encode(NUMS_H))));
        cases.push((net, fed));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/descriptor_wallet.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let stdin = child.stdin.as_mut().unwrap();
        for (net, fed) in &cases {
            writeln!(stdin, "{} {}", net, fed.descriptor()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "embit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let addrs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(addrs.len(), cases.len());
    for ((net, fed), addr) in cases.iter().zip(&addrs) {
        assert_eq!(
            &fed.address().to_string(),
            addr,
            "{net} {}",
            fed.descriptor()
        );
        eprintln!("{net}: {} == embit", addr);
    }
}
