//! `alys node` and secrets: a chain spec on the public dev keys is reported loudly (and not one
//! with fresh keys), a credentialed Bitcoin RPC URL and password never reach the output, a
//! signer key others can read is refused, and an EIP-2335 keystore works as the signer key.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use alys_keys::{KdfKind, Keystore, Password};
use alys_primitives::{bls::SecretKey, dev::dev_secret_key, ChainSpec};
use alys_test_utils::{json_rpc::JsonRpc, process::LoggedProcess};
use serde_json::{json, Value};

const DEV_KEY_WARNING: &str = "INSECURE CHAIN SPEC";

fn etc(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../etc")
        .join(name)
}

/// `alys node` on loopback port 0, without p2p, on the embedded execution client.
fn node(dir: &Path, chain: &Path, extra: &[&str]) -> LoggedProcess {
    let datadir = dir.join("node");
    let mut args: Vec<String> = [
        "node",
        "--chain",
        chain.to_str().unwrap(),
        "--datadir",
        datadir.to_str().unwrap(),
        "--embedded-el",
        "--no-p2p",
        "--rpc-port",
        "0",
        "--http-port",
        "0",
        "--authrpc-port",
        "0",
        "--metrics-port",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    LoggedProcess::spawn(
        "alys node",
        env!("CARGO_BIN_EXE_alys"),
        &args,
        &dir.join("node.log"),
    )
}

fn wait_started(node: &mut LoggedProcess) {
    node.wait_for_line(Duration::from_secs(60), "the node's role", |l| {
        (l.contains("full node (no signer key)") || l.contains("authority ")).then_some(())
    });
}

/// `devKeyAuthorities` of the node's `getsyncstatus`.
fn dev_key_authorities(node: &mut LoggedProcess) -> Value {
    let url = node.wait_for_url("node JSON-RPC", Duration::from_secs(30));
    let status = JsonRpc::new(&url, Some(("alys", "pw")))
        .call("getsyncstatus", json!([]))
        .unwrap();
    status["devKeyAuthorities"].clone()
}

/// The dev chain with its authority replaced by a fresh key (and its proof of possession).
fn fresh_key_spec(dir: &Path) -> PathBuf {
    let mut spec = ChainSpec::dev(1).unwrap();
    let key = SecretKey::random();
    spec.authorities[0] = key.public_key();
    spec.authority_proofs_of_possession[0] = key.proof_of_possession();
    spec.validate().unwrap();
    let path = dir.join("fresh.json");
    std::fs::write(&path, spec.to_json_pretty()).unwrap();
    path
}

#[test]
fn dev_keys_are_reported_only_for_a_dev_key_spec() {
    let dir = tempfile::tempdir().unwrap();
    let rpc_args = ["--pegin-trust-approvals", "--rpc-password", "pw"];
    let mut dev = node(dir.path(), &etc("chain-dev.json"), &rpc_args);
    wait_started(&mut dev);
    let line = dev.wait_for_line(Duration::from_secs(10), "the dev-key warning", |l| {
        l.contains(DEV_KEY_WARNING).then(|| l.to_string())
    });
    assert!(line.contains("ERROR"), "an error-level line: {line}");
    assert!(line.contains("alys keys generate"), "{line}");
    assert_eq!(dev_key_authorities(&mut dev), json!([0]));
    dev.kill();

    let fresh_dir = tempfile::tempdir().unwrap();
    let spec = fresh_key_spec(fresh_dir.path());
    let mut fresh = node(fresh_dir.path(), &spec, &rpc_args);
    wait_started(&mut fresh);
    assert_eq!(dev_key_authorities(&mut fresh), json!([]));
    // The warning is logged before the node reports its role: it would be there by now.
    std::thread::sleep(Duration::from_millis(500));
    fresh.kill();
    let log = fresh.log_text();
    assert!(log.contains("full node"), "{log}");
    assert!(!log.contains(DEV_KEY_WARNING), "{log}");
}

#[test]
fn bitcoin_rpc_credentials_never_appear_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    // A port with nothing listening: the follower fails and logs its errors with the URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://urluser:UrlSecret7@127.0.0.1:{port}/wallet/ApiKey9");
    let mut node = node(
        dir.path(),
        &etc("chain-dev.json"),
        &[
            "--bitcoin-rpc-url",
            &url,
            "--bitcoin-rpc-user",
            "flaguser",
            "--bitcoin-rpc-password",
            "FlagSecret8",
            "--rpc-password",
            "RpcSecret6",
        ],
    );
    wait_started(&mut node);
    node.wait_for_line(Duration::from_secs(60), "a follower RPC failure", |l| {
        (l.contains("bitcoin follower") && l.contains(&format!("127.0.0.1:{port}"))).then_some(())
    });
    node.kill();
    let log = node.log_text();
    assert!(log.contains("peg-in enabled"), "{log}");
    for secret in [
        "UrlSecret7",
        "urluser",
        "ApiKey9",
        "FlagSecret8",
        "RpcSecret6",
    ] {
        assert!(!log.contains(secret), "{secret} in the output:\n{log}");
    }
}

#[cfg(unix)]
#[test]
fn signer_key_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signer.key");
    alys_primitives::bls::save_secret_key(&key, &dev_secret_key(0)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_alys"))
        .args(["node", "--chain"])
        .arg(etc("chain-dev.json"))
        .arg("--datadir")
        .arg(dir.path().join("node"))
        .args(["--embedded-el", "--no-p2p", "--signer-key"])
        .arg(&key)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!("chmod 600 {}", key.display())),
        "{text}"
    );
    assert!(text.contains("0644"), "{text}");
}

/// `alys node --bitcoin-key <file>` on the dev chain spec: its exit status and stderr.
fn node_with_bitcoin_key(dir: &Path, key: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_alys"))
        .args(["node", "--chain"])
        .arg(etc("chain-dev.json"))
        .arg("--datadir")
        .arg(dir.join("node"))
        .args(["--embedded-el", "--no-p2p", "--bitcoin-key"])
        .arg(key)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `alys keys dev --kind bitcoin --index <index> --out <out>`.
fn write_dev_bitcoin_key(index: &str, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_alys"))
        .args([
            "keys", "dev", "--kind", "bitcoin", "--index", index, "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
}

#[cfg(unix)]
#[test]
fn bitcoin_key_must_be_owner_only_and_a_federation_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // Readable by others: refused with the fix.
    let key = dir.path().join("member.btc.key");
    write_dev_bitcoin_key("0", &key);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, text) = node_with_bitcoin_key(dir.path(), &key);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("chmod 600 {}", key.display())),
        "{text}"
    );
    // Not one of the chain's federation keys (the dev spec has one member, index 0).
    let other = dir.path().join("other.btc.key");
    write_dev_bitcoin_key("5", &other);
    let (ok, text) = node_with_bitcoin_key(dir.path(), &other);
    assert!(!ok, "{text}");
    assert!(
        text.contains("is not in the chain spec's federationBitcoinPubkeys"),
        "{text}"
    );
}

#[test]
fn keystore_signer_key_needs_and_uses_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = dir.path().join("keystore.json");
    let password = Password::new("node password");
    Keystore::encrypt(&dev_secret_key(0), &password, KdfKind::Pbkdf2)
        .unwrap()
        .save(&keystore)
        .unwrap();
    let password_file = dir.path().join("password");
    alys_secrets::create_secret_file(&password_file, b"node password\n").unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_alys"))
        .args(["node", "--chain"])
        .arg(etc("chain-dev.json"))
        .arg("--datadir")
        .arg(dir.path().join("refused"))
        .args(["--embedded-el", "--no-p2p", "--signer-key"])
        .arg(&keystore)
        .env_remove("ALYS_SIGNER_KEY_PASSWORD")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("--signer-key-password-file"), "{text}");

    let btc = alys_test_utils::nodes::BtcDevnetProcess::start(
        Path::new(env!("CARGO_BIN_EXE_alys")),
        &dir.path().join("btc"),
    );
    let mut node = node(
        dir.path(),
        &etc("chain-dev.json"),
        &[
            "--signer-key",
            keystore.to_str().unwrap(),
            "--signer-key-password-file",
            password_file.to_str().unwrap(),
            "--bitcoin-rpc-url",
            &btc.url,
        ],
    );
    node.wait_for_line(Duration::from_secs(60), "the authority line", |l| {
        l.contains("authority 0 of 1").then_some(())
    });
    node.kill();
}
