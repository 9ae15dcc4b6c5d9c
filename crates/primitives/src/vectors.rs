//! Where the external test vectors live (Namecoin AuxPoW blocks, BIP-340/341, Ethereum BLS,
//! ethereum/tests, the Engine API spec, Bitcoin Core data, ASERT): `tests/vectors` in the
//! repository (provenance in its README), or the directory named by `ALYS_VECTORS_DIR`.
//! Tests, benches and conformance runners find them here, and report how many cases they ran.
//!
//! A missing vector fails the test that asked for it, naming the path; a partial local run may
//! opt out with `ALYS_ALLOW_MISSING_VECTORS=1`, which turns that failure into a printed skip.

use std::path::PathBuf;

/// Environment variable naming the vectors directory (default: `tests/vectors` in the
/// repository).
pub const VECTORS_DIR_ENV: &str = "ALYS_VECTORS_DIR";

/// Environment variable that, set to `1`, lets a test skip when its vectors are missing
/// instead of failing.
pub const ALLOW_MISSING_ENV: &str = "ALYS_ALLOW_MISSING_VECTORS";

/// The vectors directory: `ALYS_VECTORS_DIR` when set, else `tests/vectors` in the repository.
pub fn vectors_root() -> PathBuf {
    std::env::var_os(VECTORS_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors"))
        })
}

/// Whether a missing vector is a skip (`ALYS_ALLOW_MISSING_VECTORS=1`) rather than a failure.
pub fn missing_allowed() -> bool {
    std::env::var(ALLOW_MISSING_ENV).is_ok_and(|v| v == "1")
}

/// `sub` (a path relative to the vectors directory; `""` for the directory itself) when it
/// exists. When it does not, the caller's test fails with the path in the message, unless
/// `ALYS_ALLOW_MISSING_VECTORS=1` is set: then it prints `SKIPPED: …` with the path and
/// returns `None`, so the caller can skip with the reason shown.
///
/// # Panics
///
/// When the path does not exist and missing vectors are not allowed (this is the test's
/// failure).
pub fn vectors_path(sub: &str) -> Option<PathBuf> {
    let path = vectors_root().join(sub);
    if path.exists() {
        return Some(path);
    }
    if missing_allowed() {
        println!(
            "SKIPPED: test vectors not found at {} ({ALLOW_MISSING_ENV}=1)",
            path.display()
        );
        return None;
    }
    panic!(
        "test vectors not found at {} (set {VECTORS_DIR_ENV} to another copy, or \
         {ALLOW_MISSING_ENV}=1 to skip)",
        path.display()
    )
}

/// Environment variable naming a file to which [`report_cases`] appends its line, so the test
/// command can list every suite's count once the tests (whose output is captured) have run.
pub const REPORT_FILE_ENV: &str = "ALYS_CONFORMANCE_REPORT";

/// Prints `conformance: <suite>: <cases> vectors` for a conformance suite that has run, and
/// appends the same line to the file named by [`REPORT_FILE_ENV`] when it is set.
///
/// # Panics
///
/// When `cases` is 0: a conformance suite that checked nothing has failed. Also when the report
/// file is set but cannot be written.
pub fn report_cases(suite: &str, cases: usize) {
    report_cases_to(suite, cases, std::env::var_os(REPORT_FILE_ENV))
}

/// [`report_cases`] with the report file given.
fn report_cases_to(suite: &str, cases: usize, report_file: Option<std::ffi::OsString>) {
    let line = format!("conformance: {suite}: {cases} vectors");
    println!("{line}");
    if let Some(file) = report_file {
        use std::io::Write;
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", PathBuf::from(&file).display()));
        writeln!(out, "{line}").unwrap_or_else(|e| panic!("cannot append the case count: {e}"));
    }
    assert!(cases > 0, "conformance: {suite}: no vector case ran");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_root_is_in_the_repository() {
        if std::env::var_os(VECTORS_DIR_ENV).is_some() {
            return;
        }
        let root = vectors_root();
        assert!(root.ends_with("tests/vectors"), "{}", root.display());
        assert!(root.join("README.md").is_file(), "{}", root.display());
    }

    #[test]
    fn a_present_path_is_returned() {
        if missing_allowed() {
            return;
        }
        let path = vectors_path("").expect("present");
        assert!(path.is_dir(), "{}", path.display());
    }

    #[test]
    fn a_missing_path_fails_naming_it_unless_allowed() {
        let missing = "no-such-suite/no-such-file.json";
        let outcome = std::panic::catch_unwind(|| vectors_path(missing));
        if missing_allowed() {
            assert_eq!(outcome.ok(), Some(None));
        } else {
            let err = outcome.expect_err("a missing vector must fail the test");
            let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(msg.contains(missing), "{msg}");
            assert!(msg.contains(ALLOW_MISSING_ENV), "{msg}");
        }
    }

    #[test]
    fn a_suite_that_ran_no_case_fails() {
        report_cases_to("example", 3, None);
        assert!(std::panic::catch_unwind(|| report_cases_to("example", 0, None)).is_err());
    }
}
