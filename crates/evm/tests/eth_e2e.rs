//! End-to-end: clients nobody here wrote — Foundry's `forge`/`cast` and viem — against a
//! running execution client whose blocks are produced through the Engine API every 500 ms.
//!
//! The clients come from npm (`scripts/setup.sh` installs them into `tests/e2e/node_modules`;
//! `ALYS_E2E_DIR` points elsewhere). Without them the test fails naming what is missing
//! (`ALYS_ALLOW_MISSING_TOOLS=1` skips it instead). Set
//! `ALYS_E2E_HOLD=<seconds>` to keep the node up for manual experiments instead.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::process::Stdio;
use std::time::Duration;

use alys_test_utils::tools::{e2e_dir, require_all, Tool};
use support::*;

async fn run(dir: &std::path::Path, program: &str, script: &str, node: (&str, &str)) {
    let child = tokio::process::Command::new(program)
        .arg(dir.join(script))
        .current_dir(dir)
        .env("RPC_URL", node.0)
        .env("WS_URL", node.1)
        .env("CHAIN_ID", CHAIN_ID.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program} {script}: {e}"));
    let out = tokio::time::timeout(Duration::from_secs(600), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} timed out"))
        .expect("script output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- {script} stdout ---\n{stdout}\n--- {script} stderr ---\n{stderr}");
    assert!(out.status.success(), "{script} failed ({})", out.status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundry_and_viem_against_the_node() {
    let needed = [
        Tool::Cast,
        Tool::Forge,
        Tool::Viem,
        Tool::Solc,
        Tool::NodeJs,
    ];
    if require_all(&needed).is_none() {
        return;
    }
    let dir = e2e_dir();
    let node = TestNode::start().await;
    let (url, ws) = (node.url.clone(), node.ws_url());
    let producer = Producer::start(node, Duration::from_millis(500));
    if let Some(secs) = std::env::var("ALYS_E2E_HOLD")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        println!("holding node at {url} / {ws} for {secs} s");
        tokio::time::sleep(Duration::from_secs(secs)).await;
    } else {
        run(&dir, "bash", "foundry.sh", (&url, &ws)).await;
        run(&dir, "node", "viem.mjs", (&url, &ws)).await;
    }
    producer.stop().await.stop().await;
}
