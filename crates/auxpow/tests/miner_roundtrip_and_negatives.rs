//! Test-miner round trips (pool algorithm, scriptSig and output placement, job manager) and
//! one negative test per verification rule.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use alloy_primitives::{Address, B256};
use alys_auxpow::bitcoin::block::Version;
use alys_auxpow::bitcoin::hashes::{sha256d, Hash};
use alys_auxpow::bitcoin::{CompactTarget, OutPoint, ScriptBuf, TxIn, TxOut, Txid};
use alys_auxpow::miner_rpc_types::target_le_hex;
use alys_auxpow::verify::{expected_index, merkle_branch_root, MERGED_MINING_MAGIC};
use alys_auxpow::{
    AuxPow, AuxPowError, CommitmentLocation, CommitmentPlacement, CreateAuxBlockResponse, JobError,
    JobManager, MergedMiningHeader, MerkleBranch, ParentBlockBuilder, VerifyParams, WorkCommitment,
    WorkHash,
};
use common::{regtest_bits, regtest_target, reseal};

const CHAIN_ID: u16 = 0x2121;

fn params() -> VerifyParams {
    VerifyParams {
        chain_id: CHAIN_ID,
        pow_limit: regtest_target(),
    }
}

fn commitment() -> WorkCommitment {
    WorkCommitment {
        chain_id: CHAIN_ID,
        head_root: B256::repeat_byte(0x42),
        range_start: 17,
        payout: Address::repeat_byte(0x99),
    }
}

fn mined(placement: CommitmentPlacement) -> (WorkHash, AuxPow) {
    let hash = commitment().work_hash();
    let builder = ParentBlockBuilder {
        placement,
        ..Default::default()
    };
    let aux = builder
        .mine(&hash, &regtest_target(), 1_000_000)
        .expect("regtest target");
    (hash, aux)
}

fn verify(aux: &AuxPow, hash: &WorkHash) -> Result<CommitmentLocation, AuxPowError> {
    aux.verify(hash, regtest_bits(), &params())
}

/// A coinbase scriptSig made of raw bytes (re-sealed afterwards by the caller).
fn set_script_sig(aux: &mut AuxPow, bytes: Vec<u8>) {
    aux.coinbase_tx.input[0].script_sig = ScriptBuf::from_bytes(bytes);
}

fn header_bytes(hash: &WorkHash, size: u32, nonce: u32, in_output: bool) -> Vec<u8> {
    MergedMiningHeader::encode(hash, size, nonce, in_output).to_vec()
}

// ---- round trips ----------------------------------------------------------------------------

#[test]
fn scriptsig_miner_round_trip() {
    let (hash, aux) = mined(CommitmentPlacement::ScriptSig);
    assert_eq!(
        verify(&aux, &hash),
        Ok(CommitmentLocation::ScriptSig { offset: 1 })
    );
    let decoded = AuxPow::from_hex(&aux.to_hex()).unwrap();
    assert_eq!(decoded, aux);
    assert_eq!(
        verify(&decoded, &hash),
        Ok(CommitmentLocation::ScriptSig { offset: 1 })
    );
}

#[test]
fn output_miner_round_trip() {
    let (hash, aux) = mined(CommitmentPlacement::Output);
    assert_eq!(
        verify(&aux, &hash),
        Ok(CommitmentLocation::Output { vout: 1, offset: 0 })
    );
    let decoded = AuxPow::from_bytes(&aux.to_bytes()).unwrap();
    assert_eq!(
        verify(&decoded, &hash),
        Ok(CommitmentLocation::Output { vout: 1, offset: 0 })
    );
}

/// A pool written from Namecoin's published algorithm, using only the JSON of `createauxblock`:
/// hex-decode `hash` into the scriptSig after `fabe6d6d`, size 1, nonce 0; one-tx parent; grind
/// against `_target` read little-endian; submit `hash` + auxpow hex.
#[test]
fn pool_style_client_against_rpc_json() {
    let mut jobs: JobManager<u64> = JobManager::new(64, 100);
    let c = commitment();
    let hash = jobs.insert(c, 20, regtest_bits(), 5_000);
    let rpc = CreateAuxBlockResponse::new(hash, CHAIN_ID, c.head_root, 5_000, regtest_bits(), 21);
    let json = serde_json::to_value(&rpc).unwrap();

    // ---- the pool side: JSON only ----
    let hash_hex = json["hash"].as_str().unwrap();
    let mut script_sig = vec![0x2c];
    script_sig.extend_from_slice(&MERGED_MINING_MAGIC);
    script_sig.extend(hex::decode(hash_hex).unwrap()); // as given, no reversal
    script_sig.extend_from_slice(&1u32.to_le_bytes());
    script_sig.extend_from_slice(&0u32.to_le_bytes());
    script_sig.extend_from_slice(&[0x04, 0xde, 0xad, 0xbe, 0xef]); // extranonce
    let mut target_le = hex::decode(json["_target"].as_str().unwrap()).unwrap();
    target_le.reverse(); // little-endian → big-endian number
    let mut aux = ParentBlockBuilder::default().build(&WorkHash([0; 32]));
    set_script_sig(&mut aux, script_sig);
    aux.parent_header.merkle_root = alys_auxpow::bitcoin::TxMerkleNode::from_raw_hash(
        aux.coinbase_tx.compute_txid().to_raw_hash(),
    );
    loop {
        let mut h = aux.parent_header.block_hash().to_byte_array();
        h.reverse(); // big-endian number
        if h[..] <= target_le[..] {
            break;
        }
        aux.parent_header.nonce += 1;
    }
    let submit_hash = hash_hex.to_owned();
    let submit_hex = aux.to_hex();

    // ---- the node side ----
    let hash: WorkHash = submit_hash.parse().unwrap();
    let job = jobs.get(&hash).unwrap();
    let proof = AuxPow::from_hex(&submit_hex).unwrap();
    let p = VerifyParams {
        chain_id: job.commitment.chain_id,
        pow_limit: regtest_target(),
    };
    assert_eq!(
        proof.verify(&hash, job.bits, &p),
        Ok(CommitmentLocation::ScriptSig { offset: 1 })
    );
    assert_eq!(
        target_le_hex::from_hex(json["_target"].as_str().unwrap()),
        Some(regtest_target())
    );
    assert_eq!(jobs.remove(&hash).unwrap().payload, 5_000);
}

#[test]
fn nontrivial_chain_merkle_tree_verifies() {
    let hash = commitment().work_hash();
    let h = 3u32;
    let nonce = 0xdead_beef;
    let index = expected_index(nonce, CHAIN_ID, h);
    let siblings: Vec<sha256d::Hash> = (0..h).map(|i| sha256d::Hash::hash(&[i as u8; 3])).collect();
    let root = merkle_branch_root(hash.to_sha256d(), &siblings, index as i32);
    let root = WorkHash(root.to_byte_array());
    let mut aux = ParentBlockBuilder::default().build(&hash);
    let mut sig = vec![0x2c];
    sig.extend(header_bytes(&root, 1 << h, nonce, false));
    set_script_sig(&mut aux, sig);
    aux.chain_branch = MerkleBranch {
        hashes: siblings,
        index: index as i32,
    };
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Ok(CommitmentLocation::ScriptSig { offset: 1 })
    );

    // Wrong chain id (slot) for the same proof: the index no longer matches.
    let other = VerifyParams {
        chain_id: CHAIN_ID + 1,
        ..params()
    };
    let expected = expected_index(nonce, CHAIN_ID + 1, h);
    assert_ne!(expected, index);
    assert_eq!(
        aux.verify(&hash, regtest_bits(), &other),
        Err(AuxPowError::WrongChainIndex {
            expected,
            actual: index as i32
        })
    );
    // Wrong slot index in the proof itself (root recomputed so only the index rule fails).
    let bad_index = (index + 1) % (1 << h);
    let bad_root = WorkHash(
        merkle_branch_root(
            hash.to_sha256d(),
            &aux.chain_branch.hashes,
            bad_index as i32,
        )
        .to_byte_array(),
    );
    let mut sig = vec![0x2c];
    sig.extend(header_bytes(&bad_root, 1 << h, nonce, false));
    set_script_sig(&mut aux, sig);
    aux.chain_branch.index = bad_index as i32;
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Err(AuxPowError::WrongChainIndex {
            expected: index,
            actual: bad_index as i32
        })
    );
}

// ---- negatives --------------------------------------------------------------------------------

#[test]
fn unknown_and_stale_job_hashes() {
    let mut jobs: JobManager = JobManager::new(4, 2);
    let c = commitment();
    let hash = jobs.insert(c, 20, regtest_bits(), ());
    let unknown = WorkHash([0xee; 32]);
    assert_eq!(jobs.get(&unknown).unwrap_err(), JobError::Unknown(unknown));
    // The head moves on and a proof finalizes the range start: the job is stale.
    assert_eq!(jobs.on_head_moved(17, 21), 1);
    assert_eq!(jobs.get(&hash).unwrap_err(), JobError::Stale(hash));
    assert!(jobs.get(&hash).unwrap_err().to_string().contains("stale"));
}

#[test]
fn wrong_aux_hash_or_chain_id_in_work_hash() {
    let (_, aux) = mined(CommitmentPlacement::ScriptSig);
    // A work hash for another chain id commits to something else entirely.
    let other = WorkCommitment {
        chain_id: CHAIN_ID + 1,
        ..commitment()
    }
    .work_hash();
    assert_eq!(verify(&aux, &other), Err(AuxPowError::ChainRootNotFound));
    // Redirected payout: different hash, not committed.
    let stolen = WorkCommitment {
        payout: Address::repeat_byte(1),
        ..commitment()
    }
    .work_hash();
    assert_eq!(verify(&aux, &stolen), Err(AuxPowError::ChainRootNotFound));
}

#[test]
fn parent_with_our_chain_id() {
    let (hash, mut aux) = mined(CommitmentPlacement::ScriptSig);
    aux.parent_header.version = Version::from_consensus(i32::from(CHAIN_ID) << 16 | 4);
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Err(AuxPowError::ParentHasOurChainId {
            chain_id: i32::from(CHAIN_ID)
        })
    );
}

#[test]
fn parent_with_auxpow_flag() {
    let (hash, mut aux) = mined(CommitmentPlacement::ScriptSig);
    aux.parent_header.version = Version::from_consensus(0x2000_0100);
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Err(AuxPowError::ParentHasAuxPowFlag {
            version: 0x2000_0100
        })
    );
}

#[test]
fn commitment_twice() {
    let hash = commitment().work_hash();
    // scriptSig and output.
    let mut aux = ParentBlockBuilder::default().build(&hash);
    aux.coinbase_tx.output.push(TxOut {
        value: alys_auxpow::bitcoin::Amount::ZERO,
        script_pubkey: ScriptBuf::from_bytes(header_bytes(&hash, 1, 0, true)),
    });
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Err(AuxPowError::MultipleMergedMiningHeaders { count: 2 })
    );
    // Twice in the scriptSig.
    let mut aux = ParentBlockBuilder::default().build(&hash);
    let mut sig = vec![0x2c];
    sig.extend(header_bytes(&hash, 1, 0, false));
    sig.push(0x2c);
    sig.extend(header_bytes(&WorkHash([1; 32]), 1, 0, false));
    set_script_sig(&mut aux, sig);
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Err(AuxPowError::MultipleMergedMiningHeaders { count: 2 })
    );
    // Twice across two outputs.
    let (hash, mut aux) = mined(CommitmentPlacement::Output);
    let dup = aux.coinbase_tx.output[1].clone();
    aux.coinbase_tx.output.push(dup);
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Err(AuxPowError::MultipleMergedMiningHeaders { count: 2 })
    );
}

#[test]
fn output_commitment_disables_legacy_scriptsig_root() {
    // Legacy root in the scriptSig plus a magic header for another root in an output:
    // only the magic header counts, so this cannot commit two roots.
    let hash = commitment().work_hash();
    let mut aux = ParentBlockBuilder::default().build(&hash);
    let mut display = hash.to_byte_array();
    display.reverse();
    let mut sig = vec![0x20];
    sig.extend_from_slice(&display);
    sig.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    set_script_sig(&mut aux, sig.clone());
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Ok(CommitmentLocation::LegacyScriptSig { offset: 1 })
    );
    aux.coinbase_tx.output.push(TxOut {
        value: alys_auxpow::bitcoin::Amount::ZERO,
        script_pubkey: ScriptBuf::from_bytes(header_bytes(&WorkHash([5; 32]), 1, 0, true)),
    });
    reseal(&mut aux);
    assert_eq!(verify(&aux, &hash), Err(AuxPowError::ChainRootNotFound));
}

#[test]
fn legacy_root_must_start_in_first_20_bytes() {
    let hash = commitment().work_hash();
    let mut display = hash.to_byte_array();
    display.reverse();
    for (offset, ok) in [(20usize, true), (21, false)] {
        let mut aux = ParentBlockBuilder::default().build(&hash);
        let mut sig = vec![0u8; offset];
        sig.extend_from_slice(&display);
        sig.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        set_script_sig(&mut aux, sig);
        reseal(&mut aux);
        let r = verify(&aux, &hash);
        if ok {
            assert_eq!(r, Ok(CommitmentLocation::LegacyScriptSig { offset }));
        } else {
            assert_eq!(r, Err(AuxPowError::LegacyRootTooLate { offset }));
        }
    }
}

#[test]
fn magic_not_just_before_root() {
    let hash = commitment().work_hash();
    let mut aux = ParentBlockBuilder::default().build(&hash);
    let mut display = hash.to_byte_array();
    display.reverse();
    let mut sig = MERGED_MINING_MAGIC.to_vec();
    sig.push(0x00);
    sig.extend_from_slice(&display);
    sig.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    set_script_sig(&mut aux, sig);
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Err(AuxPowError::MergedMiningHeaderNotBeforeRoot)
    );
}

#[test]
fn output_root_in_scriptsig_byte_order_is_not_found() {
    let hash = commitment().work_hash();
    let mut aux = ParentBlockBuilder {
        placement: CommitmentPlacement::Output,
        ..Default::default()
    }
    .build(&hash);
    aux.coinbase_tx.output[1].script_pubkey =
        ScriptBuf::from_bytes(header_bytes(&hash, 1, 0, false));
    reseal(&mut aux);
    assert_eq!(verify(&aux, &hash), Err(AuxPowError::ChainRootNotFound));
}

#[test]
fn missing_size_nonce_and_wrong_size() {
    let hash = commitment().work_hash();
    let mut aux = ParentBlockBuilder::default().build(&hash);
    let full = header_bytes(&hash, 1, 0, false);
    set_script_sig(&mut aux, full[..40].to_vec()); // magic + root + size, no nonce
    reseal(&mut aux);
    assert_eq!(verify(&aux, &hash), Err(AuxPowError::MissingSizeAndNonce));

    set_script_sig(&mut aux, header_bytes(&hash, 2, 0, false));
    reseal(&mut aux);
    assert_eq!(
        verify(&aux, &hash),
        Err(AuxPowError::WrongSize {
            expected: 1,
            actual: 2
        })
    );
}

#[test]
fn not_a_coinbase() {
    // Non-null prevout.
    let (hash, mut aux) = mined(CommitmentPlacement::ScriptSig);
    aux.coinbase_tx.input[0].previous_output = OutPoint {
        txid: Txid::from_byte_array([1; 32]),
        vout: 0,
    };
    reseal(&mut aux);
    assert_eq!(verify(&aux, &hash), Err(AuxPowError::NotACoinbase));
    // Two inputs, the first one coinbase-like.
    let (hash, mut aux) = mined(CommitmentPlacement::ScriptSig);
    aux.coinbase_tx.input.push(TxIn::default());
    reseal(&mut aux);
    assert_eq!(verify(&aux, &hash), Err(AuxPowError::NotACoinbase));
}

#[test]
fn coinbase_not_at_index_zero() {
    let (hash, mut aux) = mined(CommitmentPlacement::ScriptSig);
    aux.coinbase_branch.index = 2;
    assert_eq!(
        verify(&aux, &hash),
        Err(AuxPowError::CoinbaseNotAtIndexZero { index: 2 })
    );
}

#[test]
fn merkle_root_mismatch() {
    let (hash, mut aux) = mined(CommitmentPlacement::ScriptSig);
    aux.coinbase_tx.output[0].value = alys_auxpow::bitcoin::Amount::from_sat(1);
    assert_eq!(verify(&aux, &hash), Err(AuxPowError::MerkleRootMismatch));
}

#[test]
fn branches_too_long() {
    let (hash, aux) = mined(CommitmentPlacement::ScriptSig);
    let filler = sha256d::Hash::hash(b"filler");

    let mut chain = aux.clone();
    chain.chain_branch.hashes = vec![filler; 31];
    assert_eq!(
        verify(&chain, &hash),
        Err(AuxPowError::ChainBranchTooLong { len: 31 })
    );
    assert_eq!(
        AuxPow::from_bytes(&chain.to_bytes()),
        Err(AuxPowError::ChainBranchTooLong { len: 31 })
    );
    chain.chain_branch.hashes = vec![filler; 30];
    assert!(
        AuxPow::from_bytes(&chain.to_bytes()).is_ok(),
        "30 decodes; verification decides"
    );

    let mut coinbase = aux.clone();
    coinbase.coinbase_branch.hashes = vec![filler; 33];
    assert_eq!(
        verify(&coinbase, &hash),
        Err(AuxPowError::CoinbaseBranchTooLong { len: 33 })
    );
    assert_eq!(
        AuxPow::from_bytes(&coinbase.to_bytes()),
        Err(AuxPowError::CoinbaseBranchTooLong { len: 33 })
    );
}

#[test]
fn bad_bits_and_insufficient_work() {
    let (hash, aux) = mined(CommitmentPlacement::ScriptSig);
    let p = params();
    for bad in [0u32, 0x1d80_ffff, 0xff7f_ffff, 0x2301_0000, 0x0100_0001] {
        assert_eq!(
            aux.verify(&hash, CompactTarget::from_consensus(bad), &p),
            Err(AuxPowError::InvalidBits { bits: bad })
        );
    }
    let above = CompactTarget::from_consensus(0x2100_ffff);
    assert_eq!(
        aux.verify(&hash, above, &p),
        Err(AuxPowError::BitsAboveLimit { bits: 0x2100_ffff })
    );
    // Mainnet difficulty: a regtest-ground parent fails (probability of passing ~2^-32).
    let hard = CompactTarget::from_consensus(0x1d00_ffff);
    assert_eq!(
        aux.verify(&hash, hard, &p),
        Err(AuxPowError::InsufficientWork)
    );
    let impossible = CompactTarget::from_consensus(0x0101_0000); // target 1
    assert_eq!(
        aux.verify(&hash, impossible, &p),
        Err(AuxPowError::InsufficientWork)
    );
}

#[test]
fn truncated_and_trailing_bytes() {
    let (_, aux) = mined(CommitmentPlacement::Output);
    let bytes = aux.to_bytes();
    for len in 0..bytes.len() {
        let r = AuxPow::from_bytes(&bytes[..len]);
        assert!(
            matches!(
                r,
                Err(AuxPowError::Truncated) | Err(AuxPowError::Malformed(_))
            ),
            "prefix {len}: {r:?}"
        );
    }
    let mut extra = bytes.clone();
    extra.extend_from_slice(&[0, 1, 2]);
    assert_eq!(
        AuxPow::from_bytes(&extra),
        Err(AuxPowError::TrailingBytes { extra: 3 })
    );
    assert!(matches!(
        AuxPow::from_hex("abc"),
        Err(AuxPowError::InvalidHex(_))
    ));
}
