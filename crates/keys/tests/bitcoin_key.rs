//! Bitcoin key files: generated files round-trip with mode 0600, are never overwritten, and are
//! refused when group or others can access them or when they hold no WIF key.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alys_keys::{generate_bitcoin_key, load_bitcoin_key, BitcoinKeyError};
use alys_secrets::SecretFileError;
use bitcoin::Network;

#[test]
fn generated_key_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("btc.key");
    let key = generate_bitcoin_key(&path, Network::Regtest).unwrap();
    let loaded = load_bitcoin_key(&path).unwrap();
    assert_eq!(loaded.private, key.private);
    assert_eq!(loaded.public_key().to_bytes().len(), 33);
    assert_eq!(
        loaded.x_only_public_key().serialize(),
        loaded.public_key().inner.x_only_public_key().0.serialize()
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with('c'), "regtest compressed WIF: {text}");
    assert!(!format!("{loaded:?}").contains(text.trim()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(matches!(
        generate_bitcoin_key(&path, Network::Regtest),
        Err(BitcoinKeyError::File(SecretFileError::Exists { .. }))
    ));
    assert_eq!(load_bitcoin_key(&path).unwrap().private, key.private);
}

#[test]
fn known_wif_gives_known_public_keys() {
    // Bitcoin wiki's WIF example key (mainnet, compressed form of secret 0x0c28…c1d).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("btc.key");
    alys_secrets::create_secret_file(
        &path,
        b"KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617\n",
    )
    .unwrap();
    let key = load_bitcoin_key(&path).unwrap();
    assert_eq!(
        key.public_key().to_string(),
        "02d0de0aaeaefad02b8bdc8a01a1b8b11c696bd3d66a2c5f10780d95b7df42645c"
    );
    assert_eq!(
        key.x_only_public_key().to_string(),
        "d0de0aaeaefad02b8bdc8a01a1b8b11c696bd3d66a2c5f10780d95b7df42645c"
    );
}

#[test]
fn bad_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("btc.key");
    alys_secrets::create_secret_file(&path, b"0x1234\n").unwrap();
    let err = load_bitcoin_key(&path).unwrap_err();
    assert!(matches!(err, BitcoinKeyError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("btc.key"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let good = dir.path().join("good.key");
        generate_bitcoin_key(&good, Network::Bitcoin).unwrap();
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_bitcoin_key(&good).unwrap_err();
        assert!(
            matches!(
                err,
                BitcoinKeyError::File(SecretFileError::InsecurePermissions { mode: 0o640, .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
