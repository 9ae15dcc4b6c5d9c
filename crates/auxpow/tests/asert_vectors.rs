//! The official aserti3-2d test vectors (`tests/vectors/asert/run01..run10`) with Bitcoin
//! Cash's parameters: 600 s spacing, 172 800 s half-life, pow limit `0x1d00ffff`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alys_auxpow::bitcoin::CompactTarget;
use alys_auxpow::{next_bits, AsertAnchor, AsertParams};
use alys_primitives::vectors::{report_cases, vectors_path};

fn header_value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .filter_map(|l| l.strip_prefix("##"))
        .filter_map(|l| l.trim().strip_prefix(key))
        .map(|rest| rest.trim_start_matches(':').trim())
        .next()
        .unwrap_or_else(|| panic!("header {key} missing"))
}

fn parse_bits(s: &str) -> CompactTarget {
    let s = s.strip_prefix("0x").expect("0x-prefixed bits");
    CompactTarget::from_consensus(u32::from_str_radix(s, 16).expect("hex bits"))
}

#[test]
fn asert_reproduces_every_official_vector() {
    let params = AsertParams::bitcoin_cash();
    let mut total = 0usize;
    for run in 1..=10 {
        let Some(path) = vectors_path(&format!("asert/run{run:02}")) else {
            return;
        };
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let anchor = AsertAnchor {
            height: header_value(&text, "anchor height").parse().unwrap(),
            parent_time: header_value(&text, "anchor ancestor time").parse().unwrap(),
            bits: parse_bits(header_value(&text, "anchor nBits")),
        };
        let iterations: usize = header_value(&text, "iterations").parse().unwrap();
        let mut rows = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 4, "run{run:02}: bad row {line:?}");
            let height: u64 = f[1].parse().unwrap();
            let time: i64 = f[2].parse().unwrap();
            let expected = parse_bits(f[3]);
            let got = next_bits(&params, &anchor, height, time).unwrap();
            assert_eq!(
                got.to_consensus(),
                expected.to_consensus(),
                "run{run:02} iteration {}: height {height} time {time}: got {:#010x}",
                f[0],
                got.to_consensus()
            );
            rows += 1;
        }
        assert_eq!(rows, iterations, "run{run:02}: row count");
        total += rows;
    }
    report_cases("ASERT", total);
    assert_eq!(total, 3000);
}
