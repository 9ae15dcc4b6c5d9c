//! Conformance runner for the ethereum/tests fixtures, outside the execution client's crate:
//! it drives `alys-evm` only through its public API.
//!
//! [`run_dir`] walks a directory of filled fixtures (`GeneralStateTests`, `BlockchainTests`),
//! recognises each test by its shape and runs it:
//!
//! - **State tests** ([`state_test`]): every `(fork, indexes)` post entry of a supported fork
//!   runs its transaction with revm (through the same alloy-evm factory the client uses) on an
//!   in-memory pre-state, then compares the post state root and the logs hash.
//! - **Blockchain tests** ([`blockchain_test`]): the genesis is written by
//!   [`Chain::open`](alys_evm::chain::Chain::open) into a temporary store, and every block is
//!   converted to an Engine API payload and imported through
//!   [`Chain::new_payload`](alys_evm::chain::Chain::new_payload) — the code path of
//!   `engine_newPayloadV3` — followed by `forkchoiceUpdated`. Blocks with `expectException`
//!   must be rejected; the final head and post-state must match.
//!
//! Supported forks are the post-merge ones the client implements: Paris (`Merge`), Shanghai,
//! Cancun and the transitions between them. Other forks are skipped, as are valid blockchain
//! tests containing blob transactions (this chain rejects them by design). A malformed fixture
//! never panics the runner: it is counted as a failure with the reason.

pub mod blockchain_test;
pub mod fixtures;
pub mod state_test;

use std::{
    collections::BTreeMap,
    fmt,
    panic::{catch_unwind, AssertUnwindSafe},
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_trie::{HashBuilder, Nibbles, TrieAccount, EMPTY_ROOT_HASH, KECCAK_EMPTY};

/// Errors reading or interpreting a fixture file (each one makes the affected tests fail).
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON, or a test does not match its expected schema.
    #[error("malformed fixture: {0}")]
    Json(#[from] serde_json::Error),
    /// The top level is not an object of tests, or a test has neither known shape.
    #[error("unrecognised fixture: {0}")]
    Shape(String),
    /// A number does not fit the integer type the runner needs.
    #[error("field `{0}` is out of range")]
    Range(&'static str),
    /// An index of a state test post entry points past its variant list.
    #[error("post entry index {index} is out of range for `{field}`")]
    Index {
        /// Which list.
        field: &'static str,
        /// The index.
        index: usize,
    },
}

/// How one test case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// All checks passed.
    Passed,
    /// A check failed; the reason.
    Failed(String),
    /// Not run; the reason (unsupported fork, blob transactions).
    Skipped(String),
}

/// Result of a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Number of cases that passed.
    pub passed: usize,
    /// Failed cases: name and reason.
    pub failed: Vec<(String, String)>,
    /// Skipped cases: name and reason.
    pub skipped: Vec<(String, String)>,
}

impl Report {
    /// Records one case.
    pub fn record(&mut self, name: String, outcome: Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed(reason) => self.failed.push((name, reason)),
            Outcome::Skipped(reason) => self.skipped.push((name, reason)),
        }
    }

    /// Adds `other`'s cases to this report.
    pub fn merge(&mut self, other: Report) {
        self.passed += other.passed;
        self.failed.extend(other.failed);
        self.skipped.extend(other.skipped);
    }

    /// Skip reasons with the number of cases skipped for each, sorted by reason.
    pub fn skip_reasons(&self) -> BTreeMap<&str, usize> {
        let mut reasons = BTreeMap::new();
        for (_, reason) in &self.skipped {
            *reasons.entry(reason.as_str()).or_default() += 1;
        }
        reasons
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed,
            self.failed.len(),
            self.skipped.len()
        )?;
        if !self.failed.is_empty() {
            writeln!(f, "failures:")?;
            for (name, reason) in &self.failed {
                writeln!(f, "  {name}: {reason}")?;
            }
        }
        if !self.skipped.is_empty() {
            writeln!(f, "skipped:")?;
            for (reason, count) in self.skip_reasons() {
                writeln!(f, "  {count} × {reason}")?;
            }
        }
        Ok(())
    }
}

/// Runs every fixture (`*.json`, recursively) under `dir` and reports the outcome of each case.
///
/// Files are run in parallel; the report lists cases in file order. A directory that cannot be
/// read is reported as one failed case.
pub fn run_dir(dir: &Path) -> Report {
    let mut files = Vec::new();
    let mut report = Report::default();
    if let Err(e) = collect_json_files(dir, &mut files) {
        report.record(
            dir.display().to_string(),
            Outcome::Failed(format!("cannot list fixtures: {e}")),
        );
        return report;
    }
    files.sort();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16)
        .min(files.len().max(1));
    let mut results: Vec<(usize, Report)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        done.push((i, run_file(dir, file)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    for (_, r) in results {
        report.merge(r);
    }
    report
}

fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_json_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Runs all tests of one fixture file. `root` only shortens the case names.
pub fn run_file(root: &Path, file: &Path) -> Report {
    let rel = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let mut report = Report::default();
    let tests = match read_tests(file) {
        Ok(t) => t,
        Err(e) => {
            report.record(rel, Outcome::Failed(e.to_string()));
            return report;
        }
    };
    for (name, value) in tests {
        let case = format!("{rel}::{name}");
        let is_blockchain = value.get("blocks").is_some();
        let is_state = value.get("transaction").is_some() && value.get("post").is_some();
        let run = catch_unwind(AssertUnwindSafe(|| {
            if is_blockchain {
                let mut r = Report::default();
                let outcome = match serde_json::from_value(value) {
                    Ok(test) => blockchain_test::run(&test),
                    Err(e) => Outcome::Failed(FixtureError::Json(e).to_string()),
                };
                r.record(case.clone(), outcome);
                r
            } else if is_state {
                match serde_json::from_value(value) {
                    Ok(test) => state_test::run(&case, &test),
                    Err(e) => {
                        let mut r = Report::default();
                        r.record(
                            case.clone(),
                            Outcome::Failed(FixtureError::Json(e).to_string()),
                        );
                        r
                    }
                }
            } else {
                let mut r = Report::default();
                r.record(
                    case.clone(),
                    Outcome::Failed(
                        FixtureError::Shape("neither a state test nor a blockchain test".into())
                            .to_string(),
                    ),
                );
                r
            }
        }));
        match run {
            Ok(r) => report.merge(r),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                report.record(case, Outcome::Failed(format!("panicked: {msg}")));
            }
        }
    }
    report
}

fn read_tests(file: &Path) -> Result<serde_json::Map<String, serde_json::Value>, FixtureError> {
    let text = std::fs::read_to_string(file).map_err(|source| FixtureError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    match serde_json::from_str(&text)? {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(FixtureError::Shape("top level is not an object".into())),
    }
}

/// Narrows a fixture quantity to `u64`.
pub(crate) fn to_u64(v: U256, field: &'static str) -> Result<u64, FixtureError> {
    u64::try_from(v).map_err(|_| FixtureError::Range(field))
}

/// Narrows a fixture quantity to `u128`.
pub(crate) fn to_u128(v: U256, field: &'static str) -> Result<u128, FixtureError> {
    u128::try_from(v).map_err(|_| FixtureError::Range(field))
}

/// Root of a storage trie holding `slots` (zero values are ignored).
pub(crate) fn storage_root<'a>(slots: impl IntoIterator<Item = (&'a U256, &'a U256)>) -> B256 {
    let mut leaves: Vec<(B256, U256)> = slots
        .into_iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(k, v)| (keccak256(B256::from(*k)), *v))
        .collect();
    if leaves.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    leaves.sort_unstable_by_key(|(k, _)| *k);
    let mut hb = HashBuilder::default();
    for (key, value) in leaves {
        hb.add_leaf(
            Nibbles::unpack(key),
            alloy_rlp::encode_fixed_size(&value).as_ref(),
        );
    }
    hb.root()
}

/// Root of a state trie holding `accounts`.
pub(crate) fn state_root(accounts: impl IntoIterator<Item = (Address, TrieAccount)>) -> B256 {
    let mut leaves: Vec<(B256, TrieAccount)> = accounts
        .into_iter()
        .map(|(a, acc)| (keccak256(a), acc))
        .collect();
    if leaves.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    leaves.sort_unstable_by_key(|(k, _)| *k);
    let mut hb = HashBuilder::default();
    for (key, account) in leaves {
        hb.add_leaf(Nibbles::unpack(key), &alloy_rlp::encode(account));
    }
    hb.root()
}

/// Code hash of `code` (`KECCAK_EMPTY` for no code).
pub(crate) fn code_hash(code: &[u8]) -> B256 {
    if code.is_empty() {
        KECCAK_EMPTY
    } else {
        keccak256(code)
    }
}

/// State root of a fixture state.
pub(crate) fn fixture_state_root(state: &fixtures::FixtureState) -> Result<B256, FixtureError> {
    let mut accounts = Vec::with_capacity(state.len());
    for (address, account) in state {
        accounts.push((
            *address,
            TrieAccount::new(
                to_u64(account.nonce, "nonce")?,
                account.balance,
                storage_root(&account.storage),
                code_hash(&account.code),
            ),
        ));
    }
    Ok(state_root(accounts))
}
