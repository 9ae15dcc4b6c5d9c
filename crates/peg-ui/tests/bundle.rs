//! The committed script bundle (`ui/dist/app.js`, embedded in the node) is what the sources build: the page
//! is rebuilt with the pinned esbuild into a temporary directory and compared byte for byte,
//! and the TypeScript sources type-check (`tsc --noEmit`, strict).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::process::Command;

use alys_test_utils::tools::{require_all, Tool};

#[test]
fn committed_bundle_matches_the_sources_and_they_type_check() {
    let Some(tools) = require_all(&[Tool::NodeJs, Tool::UiBuild]) else {
        return;
    };
    let (node, ui) = (&tools[0], &tools[1]);
    let out = tempfile::tempdir().unwrap();
    let build = Command::new(node)
        .arg(ui.join("build.mjs"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "ui/build.mjs failed: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let built = std::fs::read(out.path().join("app.js")).unwrap();
    let committed = std::fs::read(ui.join("dist/app.js")).unwrap();
    assert!(
        built == committed,
        "ui/dist/app.js is not what the sources build: run `node ui/build.mjs` and commit it"
    );
    let check = Command::new(node)
        .arg(ui.join("node_modules/typescript/bin/tsc"))
        .args(["--noEmit", "-p"])
        .arg(ui)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "the page's TypeScript does not type-check:\n{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
