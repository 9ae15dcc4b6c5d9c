//! EIP-2335 keystores: the EIP's own scrypt and PBKDF2 test vectors decrypt to its secret with
//! its password and to nothing with another; new keystores round-trip; bad files are typed
//! errors.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alys_keys::{load_signer_key, KdfKind, Keystore, KeystoreError, Password, SignerKeyError};
use alys_primitives::bls::{save_secret_key, SecretKey};
use alys_primitives::vectors::{report_cases, vectors_path};

const PASSWORD: &str = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑";
const SECRET: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
const PUBKEY: &str = "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07";

#[test]
fn eip_2335_test_vectors() {
    let mut ran = 0;
    for name in ["eip2335_scrypt.json", "eip2335_pbkdf2.json"] {
        let Some(path) = vectors_path(&format!("keystore/{name}")) else {
            return;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let keystore = Keystore::from_json(&text).unwrap();
        assert_eq!(
            hex::encode(keystore.pubkey().unwrap().unwrap().to_bytes()),
            PUBKEY
        );
        let sk = keystore.decrypt(&Password::new(PASSWORD)).unwrap();
        assert_eq!(hex::encode(sk.to_bytes()), SECRET, "{name}");
        assert_eq!(hex::encode(sk.public_key().to_bytes()), PUBKEY, "{name}");
        // Without the EIP's processing the password would be wrong; any other is wrong too.
        for wrong in ["testpassword🔐", "", "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡"] {
            assert!(
                matches!(
                    keystore.decrypt(&Password::new(wrong)),
                    Err(KeystoreError::WrongPassword)
                ),
                "{name} {wrong}"
            );
        }
        // The processed ASCII form and control characters around it are the same password.
        let sk = keystore
            .decrypt(&Password::new("testpassword🔑\n"))
            .unwrap();
        assert_eq!(hex::encode(sk.to_bytes()), SECRET);
        ran += 1;
    }
    report_cases("EIP-2335 keystores", ran);
}

#[test]
fn new_keystores_round_trip_with_both_kdfs() {
    let dir = tempfile::tempdir().unwrap();
    let sk = SecretKey::key_gen(&[3u8; 32]).unwrap();
    let password = Password::new("correct horse battery staple");
    for (kdf, name) in [(KdfKind::Scrypt, "scrypt"), (KdfKind::Pbkdf2, "pbkdf2")] {
        let keystore = Keystore::encrypt(&sk, &password, kdf).unwrap();
        let path = dir.path().join(format!("{name}.json"));
        keystore.save(&path).unwrap();
        assert!(keystore
            .to_json()
            .contains(&format!("\"function\": \"{name}\"")));
        assert!(!keystore.to_json().contains(&hex::encode(sk.to_bytes())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            keystore.save(&path),
            Err(KeystoreError::File(
                alys_secrets::SecretFileError::Exists { .. }
            ))
        ));
        let loaded = Keystore::load(&path).unwrap();
        assert_eq!(loaded.decrypt(&password).unwrap().to_bytes(), sk.to_bytes());
        assert!(matches!(
            loaded.decrypt(&Password::new("wrong")),
            Err(KeystoreError::WrongPassword)
        ));
        let signer = load_signer_key(&path, Some(&password)).unwrap();
        assert_eq!(signer.to_bytes(), sk.to_bytes());
        assert!(matches!(
            load_signer_key(&path, None),
            Err(SignerKeyError::PasswordRequired { .. })
        ));
        assert!(matches!(
            load_signer_key(&path, Some(&Password::new("wrong"))),
            Err(SignerKeyError::Keystore {
                source: KeystoreError::WrongPassword,
                ..
            })
        ));
    }
    // A plain key file loads as the signer key too, password or not.
    let plain = dir.path().join("plain.json");
    save_secret_key(&plain, &sk).unwrap();
    assert_eq!(
        load_signer_key(&plain, None).unwrap().to_bytes(),
        sk.to_bytes()
    );
    assert_eq!(
        load_signer_key(&plain, Some(&password)).unwrap().to_bytes(),
        sk.to_bytes()
    );
}

fn vector() -> serde_json::Value {
    let path = vectors_path("keystore/eip2335_pbkdf2.json").unwrap();
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn decrypt(v: &serde_json::Value) -> Result<SecretKey, KeystoreError> {
    Keystore::from_json(&v.to_string())?.decrypt(&Password::new(PASSWORD))
}

#[test]
fn malformed_and_unsupported_keystores_are_typed_errors() {
    let mut v = vector();
    v["version"] = 3.into();
    assert!(matches!(
        decrypt(&v),
        Err(KeystoreError::UnsupportedVersion(3))
    ));

    let mut v = vector();
    v["crypto"]["kdf"]["function"] = "argon2".into();
    assert!(matches!(
        decrypt(&v),
        Err(KeystoreError::UnsupportedFunction { module: "kdf", .. })
    ));
    let mut v = vector();
    v["crypto"]["cipher"]["function"] = "aes-128-gcm".into();
    assert!(matches!(
        decrypt(&v),
        Err(KeystoreError::UnsupportedFunction {
            module: "cipher",
            ..
        })
    ));
    let mut v = vector();
    v["crypto"]["checksum"]["function"] = "keccak256".into();
    assert!(matches!(
        decrypt(&v),
        Err(KeystoreError::UnsupportedFunction {
            module: "checksum",
            ..
        })
    ));
    let mut v = vector();
    v["crypto"]["kdf"]["params"]["prf"] = "hmac-sha512".into();
    assert!(matches!(
        decrypt(&v),
        Err(KeystoreError::UnsupportedFunction { module: "kdf", .. })
    ));

    // Costs that would exhaust the machine are refused before any work.
    for (field, value) in [("c", 0u64), ("c", 1 << 30), ("dklen", 16)] {
        let mut v = vector();
        v["crypto"]["kdf"]["params"][field] = value.into();
        assert!(
            matches!(
                decrypt(&v),
                Err(KeystoreError::InvalidParams { module: "kdf", .. })
            ),
            "{field} = {value}"
        );
    }
    let scrypt = || {
        let path = vectors_path("keystore/eip2335_scrypt.json").unwrap();
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    for (field, value) in [
        ("n", 1000u64),
        ("n", 1 << 24),
        ("r", 0),
        ("r", 1 << 20),
        ("p", 0),
    ] {
        let mut v = scrypt();
        v["crypto"]["kdf"]["params"][field] = value.into();
        assert!(
            matches!(
                decrypt(&v),
                Err(KeystoreError::InvalidParams { module: "kdf", .. })
            ),
            "{field} = {value}"
        );
    }

    let mut v = vector();
    v["crypto"]["cipher"]["params"]["iv"] = "00".into();
    assert!(matches!(
        decrypt(&v),
        Err(KeystoreError::InvalidParams {
            module: "cipher",
            ..
        })
    ));
    let mut v = vector();
    v["crypto"]["kdf"]["params"]["salt"] = "zz".into();
    assert!(matches!(
        decrypt(&v),
        Err(KeystoreError::InvalidParams { module: "kdf", .. })
    ));
    // An altered ciphertext fails the checksum like a wrong password.
    let mut v = vector();
    v["crypto"]["cipher"]["message"] =
        "dee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad".into();
    assert!(matches!(decrypt(&v), Err(KeystoreError::WrongPassword)));
    // A pubkey that is not the secret's.
    let mut v = vector();
    v["pubkey"] = hex::encode(
        SecretKey::key_gen(&[1u8; 32])
            .unwrap()
            .public_key()
            .to_bytes(),
    )
    .into();
    assert!(matches!(decrypt(&v), Err(KeystoreError::PublicKeyMismatch)));

    assert!(matches!(
        Keystore::from_json("{\"crypto\": 5}"),
        Err(KeystoreError::Malformed(_))
    ));
    assert!(matches!(
        Keystore::from_json("not json"),
        Err(KeystoreError::Malformed(_))
    ));
}

#[cfg(unix)]
#[test]
fn keystore_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keystore.json");
    let sk = SecretKey::key_gen(&[4u8; 32]).unwrap();
    let password = Password::new("pw");
    Keystore::encrypt(&sk, &password, KdfKind::Pbkdf2)
        .unwrap()
        .save(&path)
        .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = load_signer_key(&path, Some(&password)).unwrap_err();
    assert!(
        matches!(
            err,
            SignerKeyError::File(alys_secrets::SecretFileError::InsecurePermissions {
                mode: 0o644,
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(matches!(
        Keystore::load(&path),
        Err(KeystoreError::File(
            alys_secrets::SecretFileError::InsecurePermissions { .. }
        ))
    ));
}
