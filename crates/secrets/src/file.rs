//! Secret files: owner-only reads, create-with-mode-0600 writes.
//!
//! A secret file (BLS, Bitcoin or p2p key, keystore, JWT secret) is refused when its group or
//! others may read or write it ([`SecretFileError::InsecurePermissions`] names the file, its
//! mode and the `chmod 600` fix): a key another local user could read is no longer a secret,
//! and a node that silently used it would hide that. Files are created with mode 0600 in the
//! `open` call itself (never `chmod` after writing, which leaves a window where the content is
//! readable) and an existing file is never overwritten. On platforms without unix modes the
//! permission check is skipped.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a secret file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file is readable or writable by group or others.
    #[error(
        "{path} has permissions {mode:04o}: group or others can access this secret; \
         run `chmod 600 {path}` (owner read/write only)"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file exists already; secrets are never overwritten.
    #[error("{path} exists; not overwriting a secret file")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Any other I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl SecretFileError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Fails unless only the owner may access `path` (mode `& 0o077 == 0`).
pub fn check_owner_only(path: &Path) -> Result<(), SecretFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| SecretFileError::io(path, e))?
            .permissions()
            .mode()
            & 0o7777;
        if mode & 0o077 != 0 {
            return Err(SecretFileError::InsecurePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Ok(())
}

/// Reads a secret file as text after [`check_owner_only`].
pub fn read_secret_file(path: &Path) -> Result<String, SecretFileError> {
    check_owner_only(path)?;
    std::fs::read_to_string(path).map_err(|e| SecretFileError::io(path, e))
}

/// Creates `path` with mode 0600 and writes `contents`, synced to disk. Fails with
/// [`SecretFileError::Exists`] when the file exists.
pub fn create_secret_file(path: &Path, contents: &[u8]) -> Result<(), SecretFileError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => SecretFileError::Exists {
            path: path.to_path_buf(),
        },
        _ => SecretFileError::io(path, e),
    })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| SecretFileError::io(path, e))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_owner_only_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        create_secret_file(&path, b"s3cret").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_secret_file(&path).unwrap(), "s3cret");
        assert!(matches!(
            create_secret_file(&path, b"other"),
            Err(SecretFileError::Exists { .. })
        ));
        assert_eq!(read_secret_file(&path).unwrap(), "s3cret");
    }

    #[test]
    fn group_or_world_access_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        create_secret_file(&path, b"s3cret").unwrap();
        for mode in [0o640, 0o604, 0o644, 0o660, 0o602, 0o620, 0o777] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read_secret_file(&path).unwrap_err();
            match &err {
                SecretFileError::InsecurePermissions { path: p, mode: m } => {
                    assert_eq!((p, *m), (&path, mode));
                }
                other => panic!("{other}"),
            }
            let text = err.to_string();
            assert!(text.contains(&format!("{mode:04o}")), "{text}");
            assert!(
                text.contains(&format!("chmod 600 {}", path.display())),
                "{text}"
            );
        }
        for mode in [0o400, 0o600] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(read_secret_file(&path).unwrap(), "s3cret");
        }
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let err = read_secret_file(&path).unwrap_err();
        assert!(matches!(err, SecretFileError::Io { .. }));
        assert!(err.to_string().contains("absent"), "{err}");
    }
}
