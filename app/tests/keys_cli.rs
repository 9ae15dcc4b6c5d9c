//! `alys keys`: every kind generates a 0600 file that `inspect` reads back, keystores need
//! their password, files are never overwritten, files others can read are refused, and what
//! `inspect` prints for a BLS key is what a chain spec needs (public key and a valid proof of
//! possession).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Output};

use alys_primitives::bls::{PublicKey, Signature};
use serde_json::Value;

fn alys(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alys"));
    command.args(args).env_remove("ALYS_KEY_PASSWORD");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// Runs `alys args`, expects success, and parses the JSON it prints.
fn json(args: &[&str], env: &[(&str, &str)]) -> Value {
    let out = alys(args, env);
    assert!(out.status.success(), "alys {args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The printed public key and proof of possession go together (what the spec checks).
fn assert_valid_pop(v: &Value) {
    let pk = PublicKey::from_hex(v["publicKey"].as_str().unwrap()).unwrap();
    let pop = Signature::from_hex(v["proofOfPossession"].as_str().unwrap()).unwrap();
    assert!(pop.verify_proof_of_possession(&pk), "{v}");
}

#[test]
fn every_kind_round_trips_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 4] = [
        ("bls", &[]),
        ("bitcoin", &["--network", "regtest"]),
        ("p2p", &[]),
        ("bls-default", &[]),
    ];
    for (name, extra) in cases {
        let out = dir.path().join(format!("{name}.key"));
        let mut args = vec!["keys", "generate", "--out", s(&out)];
        if name != "bls-default" {
            args.extend(["--kind", name]);
        }
        args.extend(extra);
        let generated = json(&args, &[]);
        assert_eq!(mode(&out), 0o600, "{name}");
        let kind = if name == "bls-default" { "bls" } else { name };
        let inspected = json(&["keys", "inspect", s(&out), "--kind", kind], &[]);
        assert_eq!(generated, inspected, "{name}");
        assert_eq!(inspected["kind"], kind);
        // Never overwritten.
        let before = std::fs::read(&out).unwrap();
        let again = alys(&args, &[]);
        assert!(!again.status.success(), "{name}");
        assert!(text(&again).contains("exists"), "{}", text(&again));
        assert_eq!(std::fs::read(&out).unwrap(), before);
    }
    let bls = json(&["keys", "inspect", s(&dir.path().join("bls.key"))], &[]);
    assert_valid_pop(&bls);
    assert_eq!(bls["format"], "plain");
    let btc = json(
        &["keys", "inspect", s(&dir.path().join("bitcoin.key"))],
        &[],
    );
    assert_eq!(btc["network"], "test");
    assert_eq!(btc["xOnlyPublicKey"].as_str().unwrap().len(), 64);
    assert_eq!(
        &btc["publicKey"].as_str().unwrap()[2..],
        btc["xOnlyPublicKey"].as_str().unwrap()
    );
    let p2p = json(
        &[
            "keys",
            "inspect",
            s(&dir.path().join("p2p.key")),
            "--kind",
            "p2p",
        ],
        &[],
    );
    assert!(
        p2p["peerId"].as_str().unwrap().starts_with("12D3KooW"),
        "{p2p}"
    );
    // A bare 64-hex-character file could be a p2p or a BLS key: the kind must be given.
    let ambiguous = alys(&["keys", "inspect", s(&dir.path().join("p2p.key"))], &[]);
    assert!(!ambiguous.status.success());
    assert!(text(&ambiguous).contains("--kind"), "{}", text(&ambiguous));
    // `keys show` is `keys inspect`.
    assert_eq!(
        json(&["keys", "show", s(&dir.path().join("bls.key"))], &[]),
        bls
    );
    // A password is only for BLS keys.
    let refused = alys(
        &[
            "keys",
            "generate",
            "--kind",
            "p2p",
            "--out",
            s(&dir.path().join("x")),
        ],
        &[("ALYS_KEY_PASSWORD", "pw")],
    );
    assert!(!refused.status.success());
    assert!(!dir.path().join("x").exists());
}

#[test]
fn keystore_needs_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    alys_secrets::create_secret_file(&password, b"correct horse\n").unwrap();
    let keystore = dir.path().join("keystore.json");
    let generated = json(
        &[
            "keys",
            "generate",
            "--out",
            s(&keystore),
            "--password-file",
            s(&password),
            "--kdf",
            "pbkdf2",
        ],
        &[],
    );
    assert_eq!(generated["format"], "keystore");
    assert_valid_pop(&generated);
    assert_eq!(mode(&keystore), 0o600);
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&keystore).unwrap()).unwrap();
    assert_eq!(stored["version"], 4);
    assert_eq!(stored["crypto"]["kdf"]["function"], "pbkdf2");

    // With the password (file or environment): the proof of possession.
    assert_eq!(
        json(
            &[
                "keys",
                "inspect",
                s(&keystore),
                "--password-file",
                s(&password)
            ],
            &[]
        ),
        generated
    );
    assert_eq!(
        json(
            &["keys", "inspect", s(&keystore)],
            &[("ALYS_KEY_PASSWORD", "correct horse")]
        ),
        generated
    );
    // Without: the public key only.
    let public = json(&["keys", "inspect", s(&keystore)], &[]);
    assert_eq!(public["publicKey"], generated["publicKey"]);
    assert!(public["proofOfPossession"].is_null());
    // A wrong password is refused.
    let wrong = alys(
        &["keys", "inspect", s(&keystore)],
        &[("ALYS_KEY_PASSWORD", "incorrect horse")],
    );
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("wrong password"), "{}", text(&wrong));
    // A password file others can read is refused like a key.
    chmod(&password, 0o644);
    let open = alys(
        &[
            "keys",
            "inspect",
            s(&keystore),
            "--password-file",
            s(&password),
        ],
        &[],
    );
    assert!(!open.status.success());
    assert!(text(&open).contains("chmod 600"), "{}", text(&open));
}

#[test]
fn key_files_others_can_read_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["bls", "bitcoin", "p2p"] {
        let out = dir.path().join(format!("{kind}.key"));
        json(&["keys", "generate", "--kind", kind, "--out", s(&out)], &[]);
        for bad in [0o644, 0o640, 0o604] {
            chmod(&out, bad);
            let refused = alys(&["keys", "inspect", s(&out), "--kind", kind], &[]);
            assert!(!refused.status.success(), "{kind} {bad:o}");
            let message = text(&refused);
            assert!(message.contains(s(&out)), "{message}");
            assert!(message.contains(&format!("{bad:04o}")), "{message}");
            assert!(
                message.contains(&format!("chmod 600 {}", s(&out))),
                "{message}"
            );
        }
    }
}

#[test]
fn dev_keys_are_the_specs_dev_authorities() {
    let dir = tempfile::tempdir().unwrap();
    let spec = alys_primitives::ChainSpec::dev(2).unwrap();
    for i in 0..2 {
        let out = dir.path().join(format!("dev-{i}.key"));
        let v = json(
            &["keys", "dev", "--index", &i.to_string(), "--out", s(&out)],
            &[],
        );
        assert_eq!(v["publicKey"], spec.authorities[i].to_hex());
        assert_eq!(
            v["proofOfPossession"],
            spec.authority_proofs_of_possession[i].to_hex()
        );
        assert_eq!(mode(&out), 0o600);
    }
}
