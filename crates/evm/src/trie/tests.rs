use super::*;
use alloy_trie::{proof::verify_proof, HashBuilder};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::{cell::Cell, collections::BTreeMap};

type Model = BTreeMap<B256, Vec<u8>>;

/// The root computed from scratch by alloy-trie's hash builder.
fn reference_root(model: &Model) -> B256 {
    let mut builder = HashBuilder::default();
    for (key, value) in model {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}

/// A reader that counts the nodes it hands out.
#[derive(Default)]
struct CountingReader {
    inner: MemoryNodes,
    reads: Cell<usize>,
}

impl NodeReader for CountingReader {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        self.reads.set(self.reads.get() + 1);
        self.inner.node(hash)
    }
}

/// A reader whose store fails.
struct FailingReader;

impl NodeReader for FailingReader {
    fn node(&self, _: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        Err(TrieError::Db("disk on fire".into()))
    }
}

/// A uniformly random 32-byte word.
fn random_b256(rng: &mut StdRng) -> B256 {
    B256::from(rng.r#gen::<[u8; 32]>())
}

/// Random keys, often sharing long prefixes with earlier keys so that embedded nodes and deep
/// extensions occur.
fn random_key(rng: &mut StdRng, existing: &[B256]) -> B256 {
    let mut key = if existing.is_empty() || rng.gen_bool(0.5) {
        random_b256(rng)
    } else {
        existing[rng.gen_range(0..existing.len())]
    };
    match rng.gen_range(0..4) {
        0 => key.0[31] ^= rng.gen_range(1..16u8),
        1 => key.0[31] ^= rng.gen_range(1..=255u8),
        2 => key.0[30] = rng.r#gen(),
        _ => key.0[20..].copy_from_slice(&rng.r#gen::<[u8; 12]>()),
    }
    key
}

/// Random values: mostly short (like storage slots), sometimes account-sized.
fn random_value(rng: &mut StdRng) -> Vec<u8> {
    let len = if rng.gen_bool(0.7) {
        rng.gen_range(1..4)
    } else {
        rng.gen_range(1..80)
    };
    (0..len).map(|_| rng.r#gen()).collect()
}

/// Checks every new node is content-addressed correctly.
fn check_commit(commit: &TrieCommit) {
    for (hash, rlp) in &commit.new_nodes {
        assert_eq!(*hash, keccak256(rlp));
    }
}

/// Checks `trie` against `model`, in memory and after committing and reopening.
fn commit_and_check(trie: &mut Trie, db: &mut MemoryNodes, model: &Model) -> B256 {
    let expected = reference_root(model);
    assert_eq!(trie.root_hash(), expected);
    let commit = trie.commit();
    check_commit(&commit);
    assert_eq!(commit.root, expected);
    db.apply_commit(&commit);
    let reopened = Trie::new(commit.root);
    for (key, value) in model {
        assert_eq!(reopened.get(db, key).unwrap().as_ref(), Some(value));
    }
    commit.root
}

#[test]
fn trie_is_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Trie>();
    assert_send_sync::<MemoryNodes>();
    assert_send_sync::<TrieError>();
}

#[test]
fn empty_trie() {
    let db = MemoryNodes::new();
    let mut trie = Trie::default();
    assert_eq!(trie.root_hash(), EMPTY_ROOT_HASH);
    assert_eq!(trie.get(&db, &B256::ZERO).unwrap(), None);
    trie.remove(&db, &B256::ZERO).unwrap();
    assert!(!trie.is_dirty());
    let proof = trie.proof(&db, &B256::ZERO).unwrap();
    assert!(proof.is_empty());
    verify_proof(EMPTY_ROOT_HASH, Nibbles::unpack(B256::ZERO), None, &proof).unwrap();
    assert_eq!(
        trie.commit(),
        TrieCommit {
            root: EMPTY_ROOT_HASH,
            new_nodes: vec![]
        }
    );
    // Opening the empty root never reads.
    assert_eq!(
        Trie::new(EMPTY_ROOT_HASH)
            .get(&FailingReader, &B256::ZERO)
            .unwrap(),
        None
    );
}

#[test]
fn empty_value_is_rejected() {
    let mut trie = Trie::default();
    let result = trie.insert(&MemoryNodes::new(), B256::ZERO, vec![]);
    assert!(matches!(result, Err(TrieError::EmptyValue)));
    assert!(!trie.is_dirty());
}

#[test]
fn small_tries() {
    let base = B256::repeat_byte(0xab);
    let mut near = base;
    near.0[31] ^= 0x01; // differs in the last nibble only
    let mut near2 = base;
    near2.0[31] ^= 0x10; // differs in the second to last nibble
    let mut far = base;
    far.0[0] = 0x00;

    let cases: Vec<Vec<(B256, Vec<u8>)>> = vec![
        vec![(base, vec![1])],
        vec![(base, vec![1]), (far, vec![2])],
        vec![(base, vec![1]), (near, vec![2])],
        vec![(base, vec![1]), (near, vec![2]), (near2, vec![3])],
        vec![
            (base, vec![1]),
            (near, vec![2]),
            (near2, vec![3]),
            (far, vec![4; 40]),
        ],
        vec![(base, vec![0x80; 60]), (near, vec![5])],
    ];
    for entries in cases {
        // Insert in both orders, and remove in every position, checking each state.
        for reversed in [false, true] {
            let mut db = MemoryNodes::new();
            let mut trie = Trie::default();
            let mut model = Model::new();
            let ordered: Vec<_> = if reversed {
                entries.iter().rev().cloned().collect()
            } else {
                entries.clone()
            };
            for (key, value) in &ordered {
                trie.insert(&db, *key, value.clone()).unwrap();
                model.insert(*key, value.clone());
                commit_and_check(&mut trie, &mut db, &model);
            }
            for (key, _) in &ordered {
                trie.remove(&db, key).unwrap();
                model.remove(key);
                commit_and_check(&mut trie, &mut db, &model);
            }
            assert_eq!(trie.root_hash(), EMPTY_ROOT_HASH);
        }
    }
}

#[test]
fn randomized_against_hash_builder() {
    let mut rng = StdRng::seed_from_u64(0x7219);
    let mut db = MemoryNodes::new();
    let mut model = Model::new();
    let mut trie = Trie::default();

    for round in 0..8 {
        let mut keys: Vec<B256> = model.keys().copied().collect();
        let ops = if round == 0 { 3000 } else { 800 };
        let mut updates = Vec::new();
        for _ in 0..ops {
            match rng.gen_range(0..10) {
                // Remove a present key.
                0..=2 if !keys.is_empty() => {
                    let key = keys.swap_remove(rng.gen_range(0..keys.len()));
                    updates.push((key, None));
                }
                // Update a present key.
                3..=4 if !keys.is_empty() => {
                    let key = keys[rng.gen_range(0..keys.len())];
                    updates.push((key, Some(random_value(&mut rng))));
                }
                // Remove a probably absent key.
                5 => updates.push((random_key(&mut rng, &keys), None)),
                _ => {
                    let key = random_key(&mut rng, &keys);
                    keys.push(key);
                    updates.push((key, Some(random_value(&mut rng))));
                }
            }
        }
        for (key, value) in &updates {
            match value {
                Some(value) => model.insert(*key, value.clone()),
                None => model.remove(key),
            };
        }
        // Alternate between continuing with the committed trie and reopening from the root.
        if round % 2 == 1 {
            trie = Trie::new(trie.root_hash());
        }
        trie.apply(&db, updates).unwrap();
        commit_and_check(&mut trie, &mut db, &model);
    }

    // Drain everything, in random order, over a few commits.
    let mut keys: Vec<B256> = model.keys().copied().collect();
    while !keys.is_empty() {
        let batch = keys.len().div_ceil(3).max(1);
        for _ in 0..batch {
            let key = keys.swap_remove(rng.gen_range(0..keys.len()));
            trie.remove(&db, &key).unwrap();
            model.remove(&key);
        }
        commit_and_check(&mut trie, &mut db, &model);
    }
    assert_eq!(trie.commit().root, EMPTY_ROOT_HASH);
}

#[test]
fn unchanged_values_do_not_dirty() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut db = MemoryNodes::new();
    let mut trie = Trie::default();
    let keys: Vec<B256> = (0..200).map(|_| random_b256(&mut rng)).collect();
    for key in &keys {
        trie.insert(&db, *key, vec![7]).unwrap();
    }
    let commit = trie.commit();
    db.apply_commit(&commit);

    trie.insert(&db, keys[0], vec![7]).unwrap();
    trie.remove(&db, &random_b256(&mut rng)).unwrap();
    assert!(!trie.is_dirty());
    let again = trie.commit();
    assert_eq!(again.root, commit.root);
    assert!(again.new_nodes.is_empty());
}

#[test]
fn proofs_verify() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut db = MemoryNodes::new();
    let mut trie = Trie::default();
    let mut model = Model::new();
    let mut keys = Vec::new();
    for _ in 0..600 {
        let key = random_key(&mut rng, &keys);
        keys.push(key);
        let value = random_value(&mut rng);
        model.insert(key, value.clone());
        trie.insert(&db, key, value).unwrap();
    }

    // Proofs through uncommitted nodes rehash them, so those are checked on a sample.
    let check = |trie: &Trie, db: &MemoryNodes, model: &Model, rng: &mut StdRng, samples: usize| {
        let root = trie.root_hash();
        for (key, value) in model.iter().step_by((model.len() / samples).max(1)) {
            let proof = trie.proof(db, key).unwrap();
            verify_proof(root, Nibbles::unpack(key), Some(value.clone()), &proof).unwrap();
            // The same proof must not prove another value.
            assert!(verify_proof(root, Nibbles::unpack(key), None, &proof).is_err());
        }
        for _ in 0..samples {
            let key = random_key(rng, &keys);
            if model.contains_key(&key) {
                continue;
            }
            let proof = trie.proof(db, &key).unwrap();
            verify_proof(root, Nibbles::unpack(key), None, &proof).unwrap();
        }
    };

    // Uncommitted (in-memory) state, then committed state read back from the store.
    check(&trie, &db, &model, &mut rng, 100);
    let commit = trie.commit();
    db.apply_commit(&commit);
    check(&Trie::new(commit.root), &db, &model, &mut rng, 600);

    // A partially loaded trie with pending changes.
    let mut trie = Trie::new(commit.root);
    let (first, _) = model.pop_first().unwrap();
    trie.remove(&db, &first).unwrap();
    let key = random_key(&mut rng, &keys);
    model.insert(key, vec![9]);
    trie.insert(&db, key, vec![9]).unwrap();
    check(&trie, &db, &model, &mut rng, 100);
}

#[test]
fn missing_and_corrupt_nodes_are_errors() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut db = MemoryNodes::new();
    let mut trie = Trie::default();
    let keys: Vec<B256> = (0..300).map(|_| random_b256(&mut rng)).collect();
    for key in &keys {
        trie.insert(&db, *key, vec![1; 40]).unwrap();
    }
    let commit = trie.commit();
    db.apply_commit(&commit);
    let root = commit.root;

    // Unknown root.
    let unknown = B256::repeat_byte(0x42);
    assert!(matches!(
        Trie::new(unknown).get(&db, &keys[0]),
        Err(TrieError::MissingNode(hash)) if hash == unknown
    ));
    // Store failure.
    assert!(matches!(
        Trie::new(root).get(&FailingReader, &keys[0]),
        Err(TrieError::Db(_))
    ));

    // A node below the root goes missing.
    let (victim, victim_rlp) = commit
        .new_nodes
        .iter()
        .find(|(hash, _)| *hash != root)
        .unwrap();
    let mut broken = db.clone();
    broken.remove(victim);
    let mut saw_missing = false;
    for key in &keys {
        let mut trie = Trie::new(root);
        match trie.get(&broken, key) {
            Err(TrieError::MissingNode(hash)) => {
                assert_eq!(hash, *victim);
                saw_missing = true;
                assert!(trie.insert(&broken, *key, vec![2]).is_err());
                assert!(trie.proof(&broken, key).is_err());
            }
            other => assert!(other.is_ok()),
        }
    }
    assert!(saw_missing);

    // Bytes that do not match their hash.
    let mut tampered = db.clone();
    let mut bad = victim_rlp.clone();
    bad[5] ^= 0xff;
    tampered.insert(*victim, bad);
    let failures = keys
        .iter()
        .filter(|key| {
            matches!(
                Trie::new(root).get(&tampered, key),
                Err(TrieError::HashMismatch { .. })
            )
        })
        .count();
    assert!(failures > 0);

    // Well-addressed garbage: random bytes and mutations of real nodes, opened as roots.
    let mut samples: Vec<Vec<u8>> = (0..300)
        .map(|_| {
            let len = rng.gen_range(0..120);
            (0..len).map(|_| rng.r#gen()).collect()
        })
        .collect();
    for (_, rlp) in commit.new_nodes.iter().take(100) {
        for _ in 0..5 {
            let mut mutated = rlp.clone();
            let index = rng.gen_range(0..mutated.len());
            mutated[index] = rng.r#gen();
            if rng.gen_bool(0.3) {
                mutated.truncate(rng.gen_range(0..mutated.len()));
            }
            samples.push(mutated);
        }
    }
    // Structurally valid RLP that breaks trie invariants.
    samples.push(alloy_rlp::encode(alloy_trie::nodes::LeafNode::new(
        Nibbles::from_nibbles([1, 2, 3]),
        vec![1],
    )));
    let mut decode_errors = 0;
    for sample in samples {
        let hash = keccak256(&sample);
        let mut db = db.clone();
        db.insert(hash, sample);
        for key in keys.iter().take(4) {
            let mut trie = Trie::new(hash);
            if matches!(trie.get(&db, key), Err(TrieError::Decode(_))) {
                decode_errors += 1;
            }
            let _ = trie.proof(&db, key);
            let _ = trie.insert(&db, *key, vec![3]);
            let _ = trie.remove(&db, &keys[5]);
            let _ = trie.commit();
        }
    }
    assert!(decode_errors > 0);
}

#[test]
fn update_reads_are_proportional_to_changes() {
    let mut rng = StdRng::seed_from_u64(99);
    let mut reader = CountingReader::default();
    let mut model = Model::new();
    let mut trie = Trie::default();
    for _ in 0..100_000 {
        let key = random_b256(&mut rng);
        let value = random_value(&mut rng);
        model.insert(key, value.clone());
        trie.insert(&reader, key, value).unwrap();
    }
    let commit = trie.commit();
    reader.inner.apply_commit(&commit);
    assert_eq!(reader.reads.get(), 0);

    // 10 changes: updates, inserts and removals.
    let existing: Vec<B256> = model.keys().copied().take(5000).step_by(500).collect();
    let mut updates = Vec::new();
    for key in &existing[..4] {
        updates.push((*key, Some(vec![0xee; 33])));
    }
    for key in &existing[4..7] {
        updates.push((*key, None));
    }
    for _ in 0..3 {
        updates.push((random_b256(&mut rng), Some(vec![1])));
    }
    for (key, value) in &updates {
        match value {
            Some(value) => model.insert(*key, value.clone()),
            None => model.remove(key),
        };
    }

    let mut trie = Trie::new(commit.root);
    trie.apply(&reader, updates).unwrap();
    let commit = trie.commit();
    let reads = reader.reads.get();
    eprintln!("reads={reads} new_nodes={}", commit.new_nodes.len());
    // A random 100k-key trie is about 5 levels deep: a few reads per key at most (removals may
    // load a sibling), with the shared top levels read once.
    assert!(reads <= 10 * 7, "{reads} reads for 10 changes");
    assert!(
        commit.new_nodes.len() <= 10 * 7,
        "{} new nodes",
        commit.new_nodes.len()
    );
    assert_eq!(commit.root, reference_root(&model));
}
