//! Peg-in end to end, as a user does it: `alys dev` with its embedded regtest Bitcoin;
//! python-bitcoinlib (a Bitcoin client no one here wrote) builds and signs a deposit to the
//! address from `getdepositaddress` with an OP_RETURN naming the EVM recipient and submits it
//! with `sendrawtransaction`; after the required confirmations `cast balance` of the recipient
//! rises by exactly sats × 10^10 wei and `getpeginstatus` reports it minted. A deposit below
//! `minPegInSats` shows as rejected with its reason and is never minted.

mod common;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use common::{cast_bin, DevProcess as Dev};

impl Dev {
    /// Calls the node RPC (user/password alys/alys); returns `result` or the error object.
    fn node(&self, method: &str, params: serde_json::Value) -> Result<serde_json::Value, String> {
        let out = Command::new("curl")
            .args([
                "-s",
                "-u",
                "alys:alys",
                "-H",
                "Content-Type: application/json",
            ])
            .arg("-d")
            .arg(
                serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
                    .to_string(),
            )
            .arg(&self.node_rpc)
            .output()
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}: {out:?}"))?;
        match v.get("result") {
            Some(r) if !r.is_null() => Ok(r.clone()),
            _ => Err(v.get("error").map(|e| e.to_string()).unwrap_or_default()),
        }
    }
}

fn start_dev(datadir: &Path) -> Dev {
    Dev::start(&datadir.join("node"), &["--btc-block-secs", "1"])
}

/// python3 with python-bitcoinlib, installing it with pip if needed; `None` (with the reason
/// printed) when that is impossible.
fn python_with_bitcoinlib() -> Option<()> {
    let has = || {
        Command::new("python3")
            .args(["-c", "import bitcoin.rpc"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if has() {
        return Some(());
    }
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "-q", "python-bitcoinlib"])
        .status();
    if has() {
        Some(())
    } else {
        println!("SKIPPED: python3 with python-bitcoinlib unavailable (pip install failed)");
        None
    }
}

#[test]
fn python_bitcoinlib_deposit_is_minted_once_and_small_one_rejected() {
    if python_with_bitcoinlib().is_none() {
        return;
    }
    let Some(cast) = cast_bin() else {
        println!("SKIPPED: Foundry's cast not installed (scripts/setup.sh)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path());

    let address = dev
        .node("getdepositaddress", serde_json::json!([]))
        .unwrap();
    assert!(address.as_str().unwrap().starts_with("bcrt1p"), "{address}");
    let fed = dev.node("getfederation", serde_json::json!([])).unwrap();
    assert_eq!(fed["address"], address);
    let spk = fed["scriptPubKey"].as_str().unwrap().to_string();
    let min = fed["minPegInSats"].as_u64().unwrap();

    let recipient: [u8; 20] = rand::random();
    let small_recipient: [u8; 20] = rand::random();
    let sats: u64 = 123_456;
    let small = min - 1;
    let btc_url = dev
        .bitcoin_rpc
        .as_deref()
        .expect("alys dev printed its Bitcoin RPC")
        .replacen("http://", "http://alys:alys@", 1);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pegin/deposit.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([
            btc_url.as_str(),
            &spk,
            &hex::encode(recipient),
            &sats.to_string(),
            &hex::encode(small_recipient),
            &small.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "deposit.py failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        dev.log_tail()
    );
    let txids: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (deposit, small_tx) = (txids["deposit"].clone(), txids["small"].clone());

    let balance = |addr: &[u8; 20]| -> u128 {
        let out = Command::new(&cast)
            .args([
                "balance",
                &format!("0x{}", hex::encode(addr)),
                "-r",
                &dev.eth_rpc,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    assert_eq!(balance(&recipient), 0);

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut saw_confirmations = false;
    let minted = loop {
        if let Ok(s) = dev.node("getpeginstatus", serde_json::json!([deposit])) {
            if s["state"] == "seen" || s["confirmations"].as_u64().unwrap_or(0) > 0 {
                saw_confirmations = true;
            }
            if s["state"] == "minted" {
                break s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "deposit not minted within 120s: {:?}\n{}",
            dev.node("getpeginstatus", serde_json::json!([deposit])),
            dev.log_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(saw_confirmations, "{minted}");
    assert!(minted["mintedIn"].is_string(), "{minted}");
    assert_eq!(minted["sats"], sats);

    // The mint is in an imported block: the balance rises by exactly sats × 10^10 wei.
    let expected = u128::from(sats) * 10u128.pow(10);
    let deadline = Instant::now() + Duration::from_secs(30);
    while balance(&recipient) != expected {
        assert!(
            Instant::now() < deadline,
            "balance {} != {expected}",
            balance(&recipient)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Minted once: several more slots later it is unchanged.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(balance(&recipient), expected);

    let rejected = dev
        .node("getpeginstatus", serde_json::json!([small_tx]))
        .unwrap();
    assert_eq!(rejected["state"], "rejected", "{rejected}");
    assert!(
        rejected["reason"]
            .as_str()
            .unwrap_or("")
            .contains(&min.to_string()),
        "{rejected}"
    );
    assert_eq!(balance(&small_recipient), 0);
}
