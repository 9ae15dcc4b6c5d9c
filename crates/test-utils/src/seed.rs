//! Randomness a failing test can replay: the seed comes from `ALYS_TEST_SEED` when set, else at
//! random, and is printed before it is used.

use rand::{rngs::StdRng, SeedableRng};

/// The variable that fixes the seed of [`seeded_rng`].
pub const SEED_VAR: &str = "ALYS_TEST_SEED";

/// A generator seeded from `ALYS_TEST_SEED` (a `u64`) or at random; prints
/// `<what>: seed <n> (replay with ALYS_TEST_SEED=<n>)` first. Panics on a malformed variable.
pub fn seeded_rng(what: &str) -> StdRng {
    let seed = match std::env::var(SEED_VAR) {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|e| panic!("{SEED_VAR}={v:?} is not a u64: {e}")),
        Err(_) => rand::random(),
    };
    println!("{what}: seed {seed} (replay with {SEED_VAR}={seed})");
    StdRng::seed_from_u64(seed)
}
