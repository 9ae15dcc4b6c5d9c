//! The node's persistent p2p identity: an ed25519 key kept in the datadir, so the peer id (and
//! the multiaddr other nodes list as a bootnode) stays the same across restarts.
//!
//! File format: the 32-byte ed25519 secret key as 64 hex characters and a newline; created
//! with mode 0600 (owner read/write only), and refused when group or others can access it. A
//! file that exists but is not such a key is an error (never silently replaced: that would
//! change the peer id). `alys keys generate --kind p2p` writes the same file ahead of time.

use libp2p::identity::{ed25519, Keypair};
use std::path::{Path, PathBuf};

/// Why the node key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the key file failed, or group or others can access it.
    #[error("node key {0}")]
    File(#[from] alys_secrets::SecretFileError),
    /// Creating the key file's directory failed.
    #[error("node key directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file does not hold a hex-encoded 32-byte ed25519 secret key.
    #[error("node key {path} is malformed: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Loads the key at `path`, or generates one and writes it there (mode 0600) when the file is
/// absent. Returns the keypair and whether it was created.
pub fn load_or_create_key(path: &Path) -> Result<(Keypair, bool), KeyError> {
    if path.exists() {
        return Ok((load_key(path)?, false));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok((create_key(path)?, true))
}

/// Loads the key at `path` (refused when group or others can access it).
pub fn load_key(path: &Path) -> Result<Keypair, KeyError> {
    parse_key(path, &alys_secrets::read_secret_file(path)?)
}

/// Generates a key and writes it to a new file at `path` (mode 0600; never overwrites).
pub fn create_key(path: &Path) -> Result<Keypair, KeyError> {
    let secret = ed25519::SecretKey::generate();
    let hex = hex_encode(secret.as_ref());
    alys_secrets::create_secret_file(path, format!("{hex}\n").as_bytes())?;
    Ok(Keypair::from(ed25519::Keypair::from(secret)))
}

fn parse_key(path: &Path, text: &str) -> Result<Keypair, KeyError> {
    let malformed = |reason: String| KeyError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let text = text.trim();
    if text.len() != 64 {
        return Err(malformed(format!(
            "expected 64 hex characters, found {}",
            text.len()
        )));
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2).unwrap_or("zz"), 16)
            .map_err(|_| malformed("not hexadecimal".into()))?;
    }
    let secret =
        ed25519::SecretKey::try_from_bytes(&mut bytes).map_err(|e| malformed(e.to_string()))?;
    Ok(Keypair::from(ed25519::Keypair::from(secret)))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_persists_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p2p").join("node.key");
        let (first, created) = load_or_create_key(&path).unwrap();
        assert!(created);
        let (again, created) = load_or_create_key(&path).unwrap();
        assert!(!created);
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let created = create_key(&path).unwrap();
        assert!(matches!(
            create_key(&path),
            Err(KeyError::File(alys_secrets::SecretFileError::Exists { .. }))
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create_key(&path).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::File(alys_secrets::SecretFileError::InsecurePermissions {
                    mode: 0o644,
                    ..
                })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            load_key(&path).unwrap().public().to_peer_id(),
            created.public().to_peer_id()
        );
    }

    #[test]
    fn malformed_key_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        alys_secrets::create_secret_file(&path, b"not a key").unwrap();
        assert!(matches!(
            load_or_create_key(&path),
            Err(KeyError::Malformed { .. })
        ));
        std::fs::write(&path, "zz".repeat(32)).unwrap();
        assert!(matches!(
            load_or_create_key(&path),
            Err(KeyError::Malformed { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "zz".repeat(32));
    }
}
