//! The chain specs shipped in `etc/` load, validate, and match what `alys dev` runs.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;

use alys_primitives::ChainSpec;

fn etc(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../etc")
        .join(name)
}

#[test]
fn dev_spec_file_is_the_dev_chain() {
    let spec = ChainSpec::from_file(&etc("chain-dev.json")).unwrap();
    assert_eq!(spec.spec_hash(), ChainSpec::dev(1).unwrap().spec_hash());
    assert_eq!(spec.chain_id, 263634);
    assert_eq!(spec.slot_duration_ms, 2000);
}

#[test]
fn three_authority_example_validates() {
    let spec = ChainSpec::from_file(&etc("chain-3-authorities.json")).unwrap();
    assert_eq!(spec.authorities.len(), 3);
    assert_eq!(spec.approval_threshold, 2);
    assert_eq!(spec.spec_hash(), ChainSpec::dev(3).unwrap().spec_hash());
}
