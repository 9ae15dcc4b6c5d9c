//! `scripts/federation.sh` cannot rot: its generation step (chain spec and authority keys, by
//! `alys dev --print-spec` and `alys keys dev`) runs here against the built binary, and what it
//! writes must be a valid 3-authority spec whose authorities are the written keys, in order.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

use alys_consensus::Signer;
use alys_primitives::{bls::load_secret_key, ChainSpec};

#[test]
fn federation_script_generates_a_spec_and_the_authority_keys() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("scripts/federation.sh"))
        .args(["--generate-only", "--dir"])
        .arg(dir.path())
        .env("ALYS_BIN", env!("CARGO_BIN_EXE_alys"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("chain spec"), "{text}");
    let spec = ChainSpec::from_file(&dir.path().join("chain.json")).unwrap();
    assert_eq!(spec.authorities.len(), 3);
    assert_eq!(spec.approval_threshold, 2);
    assert!(
        !spec.federation_bitcoin_pubkeys.is_empty(),
        "the spec has a peg"
    );
    for i in 0..3 {
        let key = load_secret_key(&dir.path().join(format!("authority-{i}.key"))).unwrap();
        assert_eq!(Signer::new(&spec, key).map(|s| s.index()), Some(i));
    }
    // A second run keeps what exists (a restart resumes the same chain).
    let again = Command::new("bash")
        .arg(root.join("scripts/federation.sh"))
        .args(["--generate-only", "--dir"])
        .arg(dir.path())
        .env("ALYS_BIN", env!("CARGO_BIN_EXE_alys"))
        .status()
        .unwrap();
    assert!(again.success());
    // `alys keys` refuses to overwrite a key file.
    let refused = Command::new(env!("CARGO_BIN_EXE_alys"))
        .args(["keys", "dev", "--index", "0", "--out"])
        .arg(dir.path().join("authority-0.key"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
}
