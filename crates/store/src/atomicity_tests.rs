//! Crash test of [`Store::write`]'s atomicity: a writer process is killed mid-batch, and the
//! reopened store must hold every batch wholly or not at all, the batches present forming a
//! prefix of those written.
//!
//! The test re-executes its own binary as the writer (selected by [`CHILD_DIR`]), SIGKILLs it
//! after a random delay drawn from a seeded generator (the seed is printed; set [`SEED`] to
//! replay a run) and checks the store, a few times over.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{Column, Durability, Store, WriteBatch};

/// Directory of the store the child process writes to; set only in the child.
const CHILD_DIR: &str = "ALYS_STORE_WRITER_DIR";
/// Seed of the kill delays (printed by every run).
const SEED: &str = "ALYS_TEST_SEED";
/// Column the writer fills (not a registered column: this test's store holds nothing else).
const DATA: Column = Column(0x7f);
/// Keys per batch: with 64-byte values, about 340 kB per batch, written by LevelDB in many
/// system calls, so a kill can land inside one.
const KEYS_PER_BATCH: u32 = 4096;
/// Writers killed per run.
const ROUNDS: usize = 4;
/// Line the child prints once its first batch is written.
const STARTED: &str = "WRITER STARTED";

fn key(batch: u64, i: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&batch.to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

fn value(batch: u64) -> Vec<u8> {
    batch.to_be_bytes().repeat(8)
}

/// The writer: batches 0, 1, 2, … of [`KEYS_PER_BATCH`] keys each, until killed.
#[test]
#[ignore = "child process of `a_writer_killed_mid_batch_leaves_whole_batches`"]
fn writer_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let store = Store::open(Path::new(&dir)).expect("open store");
    for batch in 0u64.. {
        let mut wb = WriteBatch::new();
        for i in 0..KEYS_PER_BATCH {
            wb.put(DATA, &key(batch, i), value(batch));
        }
        store.write(wb, Durability::Buffered).expect("write batch");
        if batch == 0 {
            println!("{STARTED}");
        }
    }
}

/// The number `n` of batches in the store if they are whole and are batches `0..n`; otherwise
/// what is wrong.
fn whole_prefix(store: &Store) -> Result<u64, String> {
    let mut counts: BTreeMap<u64, u32> = BTreeMap::new();
    for (k, v) in store.scan(DATA, &[], &[]) {
        let Ok(batch) = <[u8; 8]>::try_from(&k[..8.min(k.len())]).map(u64::from_be_bytes) else {
            return Err(format!("unexpected key {k:?}"));
        };
        if k.len() != 12 || v != value(batch) {
            return Err(format!("unexpected record {k:?} of batch {batch}"));
        }
        *counts.entry(batch).or_default() += 1;
    }
    if let Some((batch, count)) = counts.iter().find(|(_, c)| **c != KEYS_PER_BATCH) {
        return Err(format!(
            "batch {batch} is partly present: {count} of {KEYS_PER_BATCH} keys"
        ));
    }
    let n = counts.len() as u64;
    if !counts.keys().copied().eq(0..n) {
        return Err(format!(
            "the batches present are not a prefix of those written: {:?}",
            counts.keys().collect::<Vec<_>>()
        ));
    }
    Ok(n)
}

#[test]
fn a_writer_killed_mid_batch_leaves_whole_batches() {
    let seed = std::env::var(SEED)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    println!("seed {seed} (replay with {SEED}={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let exe = std::env::current_exe().expect("test binary");
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "atomicity_tests::writer_child",
                "--nocapture",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start writer");
        let stdout = child.stdout.take().expect("child stdout");
        let started = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line == STARTED);
        assert!(started, "writer did not start");
        let delay = Duration::from_micros(rng.gen_range(1_000..300_000));
        std::thread::sleep(delay);
        // SIGKILL on Unix: no destructor runs, nothing is flushed.
        child.kill().expect("kill writer");
        let _ = child.wait();

        let store = Store::open(dir.path()).expect("reopen store");
        let batches = whole_prefix(&store)
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}), killed after {delay:?}: {e}"));
        println!("round {round}: killed after {delay:?}, {batches} whole batches");
        assert!(
            batches >= 1,
            "the batch acknowledged before the kill is lost"
        );
    }
}

#[test]
fn the_check_refuses_a_torn_batch_and_a_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let whole = |batch: u64| {
        let mut wb = WriteBatch::new();
        for i in 0..KEYS_PER_BATCH {
            wb.put(DATA, &key(batch, i), value(batch));
        }
        wb
    };
    store.write(whole(0), Durability::Buffered).expect("write");
    assert_eq!(whole_prefix(&store), Ok(1));

    let mut torn = WriteBatch::new();
    torn.put(DATA, &key(1, 0), value(1));
    store.write(torn, Durability::Buffered).expect("write");
    assert!(whole_prefix(&store).is_err_and(|e| e.contains("partly present")));

    store.write(whole(1), Durability::Buffered).expect("write");
    store.write(whole(3), Durability::Buffered).expect("write");
    assert!(whole_prefix(&store).is_err_and(|e| e.contains("not a prefix")));
}
