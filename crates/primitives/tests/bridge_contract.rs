//! The Bridge contract: its forge tests pass, and the runtime code committed in
//! `contracts/artifacts/Bridge.json` and in every chain spec's genesis is what the source compiles
//! to. Both need the tools of `scripts/setup.sh` (forge, forge-std and solc-js from npm) and fail
//! when they are missing.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use alys_primitives::bridge::{deployed_bytecode, BRIDGE_MIN_PEG_OUT_SLOT};
use alys_primitives::{bridge_runtime_code, ChainSpec, B256, BRIDGE_ADDRESS, U256};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn forge_tests_pass() {
    let out = Command::new("bash")
        .arg(root().join("scripts/forge-test.sh"))
        .output()
        .expect("bash runs scripts/forge-test.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "forge test failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("0 failed") && stdout.contains("BridgeTest"),
        "forge ran no Bridge test:\n{stdout}"
    );
}

/// Compiles `contracts/src` with `scripts/contracts/compile.js` into a fresh directory and returns
/// the Bridge artifact it wrote.
fn compile_bridge() -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("contracts/artifacts")).unwrap();
    std::os::unix::fs::symlink(
        root().join("contracts/src").canonicalize().unwrap(),
        dir.path().join("contracts/src"),
    )
    .unwrap();
    let modules = root().join("scripts/contracts/node_modules");
    assert!(
        modules.join("solc").is_dir(),
        "solc-js is not installed in {} (run scripts/setup.sh)",
        modules.display()
    );
    let out = Command::new("node")
        .arg(root().join("scripts/contracts/compile.js"))
        .arg(dir.path())
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs scripts/contracts/compile.js");
    assert!(
        out.status.success(),
        "compile.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.path().join("contracts/artifacts/Bridge.json")).unwrap()
}

#[test]
fn committed_bridge_code_is_the_compiled_source() {
    let compiled = compile_bridge();
    let committed =
        std::fs::read_to_string(root().join("contracts/artifacts/Bridge.json")).unwrap();
    assert_eq!(
        committed, compiled,
        "contracts/artifacts/Bridge.json is stale: run scripts/compile-contracts.sh"
    );
    let code = deployed_bytecode(&compiled).unwrap();
    assert_eq!(bridge_runtime_code(), code, "the embedded runtime code");

    let mut specs = vec![
        ("ChainSpec::dev(1)".to_string(), ChainSpec::dev(1).unwrap()),
        ("ChainSpec::dev(3)".to_string(), ChainSpec::dev(3).unwrap()),
    ];
    for entry in std::fs::read_dir(root().join("etc")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            specs.push((
                path.display().to_string(),
                ChainSpec::from_file(&path).unwrap(),
            ));
        }
    }
    assert!(specs.len() >= 4, "the etc/ specs were found");
    for (name, spec) in specs {
        let account = spec
            .genesis
            .alloc
            .get(&BRIDGE_ADDRESS)
            .unwrap_or_else(|| panic!("{name}: no Bridge in the genesis alloc"));
        assert_eq!(account.code.as_ref(), Some(&code), "{name}: Bridge code");
        let min = account
            .storage
            .as_ref()
            .and_then(|s| s.get(&BRIDGE_MIN_PEG_OUT_SLOT))
            .copied()
            .unwrap_or_default();
        assert_eq!(
            min,
            B256::from(U256::from(spec.min_peg_out().0)),
            "{name}: Bridge slot 0 must hold the spec's minimum peg-out"
        );
    }
}
