//! `alys node` in production shape: the execution client runs as its own process (`alys el`)
//! and the node drives it over the Engine API with a JWT secret file, signing with a BLS key
//! file. Blocks appear on the execution client's eth JSON-RPC.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alys_primitives::{bls::save_secret_key, dev::dev_secret_key};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn etc(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../etc")
        .join(name)
}

fn alys(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_alys"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn block_number(rpc_port: u16) -> Option<u64> {
    use std::io::{Read, Write};
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", rpc_port)).ok()?;
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let v: serde_json::Value = serde_json::from_str(out.split("\r\n\r\n").nth(1)?).ok()?;
    u64::from_str_radix(v["result"].as_str()?.trim_start_matches("0x"), 16).ok()
}

fn kill(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

#[test]
fn node_drives_a_standalone_execution_client() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().to_string();
    let chain = etc("chain-dev.json").to_string_lossy().to_string();
    save_secret_key(&dir.path().join("signer.key"), &dev_secret_key(0)).unwrap();
    let (auth, http) = (free_port(), free_port());
    let el = alys(&[
        "el",
        "--chain",
        &chain,
        "--datadir",
        &d("el"),
        "--authrpc-port",
        &auth.to_string(),
        "--http-port",
        &http.to_string(),
        "--jwt-secret",
        &d("jwt.hex"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while block_number(http).is_none() {
        assert!(Instant::now() < deadline, "alys el did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let node = alys(&[
        "node",
        "--chain",
        &chain,
        "--datadir",
        &d("node"),
        "--engine-url",
        &format!("http://127.0.0.1:{auth}"),
        "--jwt-secret",
        &d("jwt.hex"),
        "--signer-key",
        &d("signer.key"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut produced = 0;
    while produced < 3 {
        assert!(
            Instant::now() < deadline,
            "no blocks from alys node (head {produced})"
        );
        produced = block_number(http).unwrap_or(0);
        std::thread::sleep(Duration::from_millis(200));
    }
    kill(node);
    kill(el);
}
