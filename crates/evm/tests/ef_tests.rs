//! Runs the ethereum/tests conformance fixtures from the shared vectors folder.
//!
//! The folder is `$ALYS_VECTORS_DIR/evm/ethereum_tests` (default: `../shared/vectors` next to the
//! workspace). When it is absent the test prints a message and passes.

use std::path::PathBuf;

use alys_evm::ef_tests::run_dir;

fn fixtures_dir() -> PathBuf {
    let vectors = std::env::var_os("ALYS_VECTORS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/vectors"
            ))
        });
    vectors.join("evm").join("ethereum_tests")
}

#[test]
fn ethereum_tests_conformance() {
    let dir = fixtures_dir();
    if !dir.is_dir() {
        eprintln!(
            "skipping ethereum/tests conformance: {} not found (set ALYS_VECTORS_DIR)",
            dir.display()
        );
        return;
    }
    let started = std::time::Instant::now();
    let report = run_dir(&dir);
    println!("ethereum/tests in {}: {report}", dir.display());
    println!("took {:.1?}", started.elapsed());
    assert!(
        report.failed.is_empty(),
        "{} ethereum/tests case(s) failed",
        report.failed.len()
    );
    assert!(report.passed > 0, "no ethereum/tests case ran");
}
