//! The federation address equals what an independent descriptor wallet (Python `embit`)
//! derives from `tr(<NUMS H>,multi_a(m,k1,…,kn))` for the same keys.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use alys_federation::bitcoin::Network;
use alys_federation::{Federation, NUMS_H};

fn python_with_embit() -> Result<(), String> {
    let has = |py: &str| {
        Command::new(py)
            .args(["-c", "import embit"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
    };
    match has("python3") {
        Err(e) => return Err(format!("python3 not runnable: {e}")),
        Ok(true) => return Ok(()),
        Ok(false) => {}
    }
    eprintln!("embit missing, trying `python3 -m pip install --quiet embit`");
    let pip = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "embit"])
        .status()
        .map_err(|e| format!("pip not runnable: {e}"))?;
    if !pip.success() {
        return Err("pip install embit failed".into());
    }
    match has("python3") {
        Ok(true) => Ok(()),
        _ => Err("embit still not importable after pip install".into()),
    }
}

#[test]
fn address_matches_embit() {
    if let Err(why) = python_with_embit() {
        eprintln!("SKIP: {why}");
        return;
    }
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
    let mut child = Command::new("python3")
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
