//! Where the external test vectors live (Namecoin AuxPoW blocks, BIP-340/341, Ethereum BLS,
//! ethereum/tests, the Engine API spec, Bitcoin Core data): the directory named by
//! `ALYS_VECTORS_DIR`, by default `shared/vectors` beside the repository. Tests, benches and
//! conformance runners read them from there; the project never copies them.

use std::path::PathBuf;

/// Environment variable naming the vectors directory.
pub const VECTORS_DIR_ENV: &str = "ALYS_VECTORS_DIR";

/// The vectors directory (which may not exist).
pub fn vectors_root() -> PathBuf {
    std::env::var_os(VECTORS_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/vectors"
            ))
        })
}

/// `sub` (a path relative to the vectors directory; `""` for the directory itself) when it
/// exists; otherwise `None`, after printing `SKIPPED: …` with the path looked at, so a caller
/// can skip with the reason shown.
pub fn vectors_path(sub: &str) -> Option<PathBuf> {
    let path = vectors_root().join(sub);
    if path.exists() {
        Some(path)
    } else {
        println!(
            "SKIPPED: test vectors not found at {} (set {VECTORS_DIR_ENV})",
            path.display()
        );
        None
    }
}
