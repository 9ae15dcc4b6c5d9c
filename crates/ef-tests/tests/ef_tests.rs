//! Runs the ethereum/tests conformance fixtures from the repository's vectors folder, and checks
//! that the runner catches tampered and malformed fixtures.
//!
//! The folder is `tests/vectors/evm/ethereum_tests` (`$ALYS_VECTORS_DIR` overrides the vectors
//! root). When it is absent the tests fail, unless `ALYS_ALLOW_MISSING_VECTORS=1`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use alys_ef_tests::{run_dir, Outcome, Report};
use serde_json::Value;

fn fixtures_dir() -> Option<PathBuf> {
    alys_primitives::vectors::vectors_path("evm/ethereum_tests")
}

#[test]
fn ethereum_tests_conformance() {
    let Some(dir) = fixtures_dir() else { return };
    let started = std::time::Instant::now();
    let report = run_dir(&dir);
    println!("ethereum/tests in {}: {report}", dir.display());
    println!("took {:.1?}", started.elapsed());
    alys_primitives::vectors::report_cases(
        "ethereum/tests",
        report.passed + report.failed.len() + report.skipped.len(),
    );
    assert!(
        report.failed.is_empty(),
        "{} ethereum/tests case(s) failed",
        report.failed.len()
    );
    assert!(report.passed > 0, "no ethereum/tests case ran");
}

#[test]
fn report_display() {
    let mut report = Report::default();
    report.record("a".into(), Outcome::Passed);
    report.record("b".into(), Outcome::Failed("state root".into()));
    for name in ["c", "d"] {
        report.record(
            name.into(),
            Outcome::Skipped("unsupported fork Berlin".into()),
        );
    }
    let text = report.to_string();
    assert!(
        text.starts_with("1 passed, 1 failed, 2 skipped\n"),
        "{text}"
    );
    assert!(text.contains("  b: state root\n"), "{text}");
    assert!(text.contains("2 × unsupported fork Berlin"), "{text}");
}

/// Loads the single test of a fixture file.
fn load(dir: &Path, rel: &str) -> (String, Value) {
    let text = std::fs::read_to_string(dir.join(rel)).expect("fixture");
    let Value::Object(map) = serde_json::from_str(&text).expect("json") else {
        panic!("not an object")
    };
    map.into_iter().next().expect("one test")
}

/// Runs `test` (after `edit`) alone in a temporary directory.
fn run_edited(name: &str, test: &Value, edit: impl FnOnce(&mut Value)) -> Report {
    let mut test = test.clone();
    edit(&mut test);
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = serde_json::json!({ name: test });
    std::fs::write(tmp.path().join("t.json"), file.to_string()).expect("write");
    run_dir(tmp.path())
}

fn assert_fails(report: &Report, needle: &str) {
    assert_eq!(report.passed, 0, "{report}");
    assert_eq!(report.failed.len(), 1, "{report}");
    assert!(report.failed[0].1.contains(needle), "{report}");
}

#[test]
fn tampered_state_test_fails() {
    let Some(dir) = fixtures_dir() else { return };
    let (name, test) = load(&dir, "GeneralStateTests/stExample/add11.json");
    let report = run_edited(&name, &test, |_| {});
    assert_eq!((report.passed, report.failed.len()), (1, 0), "{report}");

    let report = run_edited(&name, &test, |t| {
        t["post"]["Cancun"][0]["hash"] = Value::String(format!("0x{}", "11".repeat(32)));
    });
    assert_fails(&report, "state root");
    let report = run_edited(&name, &test, |t| {
        t["post"]["Cancun"][0]["logs"] = Value::String(format!("0x{}", "11".repeat(32)));
    });
    assert_fails(&report, "logs hash");
    let report = run_edited(&name, &test, |t| {
        t["post"]["Cancun"][0]["expectException"] = "TransactionException.X".into();
    });
    assert_fails(&report, "expected exception");
    let report = run_edited(&name, &test, |t| {
        t["post"]["Cancun"][0]["indexes"]["data"] = 7.into();
    });
    assert_fails(&report, "out of range");
    let report = run_edited(&name, &test, |t| {
        let post = t["post"]["Cancun"].clone();
        t["post"] = serde_json::json!({ "Berlin": post.clone(), "Prague": post });
    });
    assert_eq!((report.passed, report.failed.len()), (0, 0), "{report}");
    assert_eq!(report.skipped.len(), 2, "{report}");
}

#[test]
fn tampered_blockchain_test_fails() {
    let Some(dir) = fixtures_dir() else { return };
    let (name, test) = load(
        &dir,
        "BlockchainTests/ValidBlocks/bcExample/optionsTest.json",
    );
    let report = run_edited(&name, &test, |_| {});
    assert_eq!((report.passed, report.failed.len()), (1, 0), "{report}");

    let sender = "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b";
    let report = run_edited(&name, &test, |t| {
        t["postState"][sender]["balance"] = "0x01".into();
    });
    assert_fails(&report, "balance");
    let report = run_edited(&name, &test, |t| {
        t["postState"][sender]["storage"]["0x01"] = "0x02".into();
    });
    assert_fails(&report, "slot");
    let report = run_edited(&name, &test, |t| {
        let extra = t["postState"][sender].clone();
        t["postState"]["0x00000000000000000000000000000000000000aa"] = extra;
    });
    assert_fails(&report, "missing");
    let report = run_edited(&name, &test, |t| {
        if let Value::Object(post) = &mut t["postState"] {
            post.remove(sender);
        }
    });
    assert_fails(&report, "present but not in postState");
    let report = run_edited(&name, &test, |t| {
        t["lastblockhash"] = Value::String(format!("0x{}", "22".repeat(32)));
    });
    assert_fails(&report, "head is");
    let report = run_edited(&name, &test, |t| {
        t["blocks"][1]["expectException"] = "BlockException.X".into();
    });
    assert_fails(&report, "should be rejected");
    let report = run_edited(&name, &test, |t| {
        t["genesisBlockHeader"]["hash"] = Value::String(format!("0x{}", "33".repeat(32)));
    });
    assert_fails(&report, "genesis hash");
    let report = run_edited(&name, &test, |t| {
        t["blocks"][0]["rlp"] = "0xzz".into();
    });
    assert_fails(&report, "not hex");
    let report = run_edited(&name, &test, |t| t["network"] = "London".into());
    assert_eq!(report.skipped.len(), 1, "{report}");
    assert_eq!(report.skipped[0].1, "unsupported fork London");
}

#[test]
fn malformed_fixtures_fail_without_panicking() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("garbage.json"), "{ not json").expect("write");
    std::fs::write(tmp.path().join("list.json"), "[1, 2]").expect("write");
    std::fs::write(tmp.path().join("other.json"), r#"{"x": {"y": 1}}"#).expect("write");
    std::fs::write(
        tmp.path().join("state.json"),
        r#"{"s": {"env": {}, "pre": {}, "transaction": {}, "post": {}}}"#,
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("chain.json"),
        r#"{"b": {"blocks": [{"rlp": "0x00"}], "network": "Cancun"}}"#,
    )
    .expect("write");
    std::fs::write(tmp.path().join("ignored.txt"), "not a fixture").expect("write");
    let report = run_dir(tmp.path());
    assert_eq!(report.passed, 0, "{report}");
    assert_eq!(report.failed.len(), 5, "{report}");
}
