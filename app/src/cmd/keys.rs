//! `alys keys`: generate and inspect key files (docs/keys.md).
//!
//! Kinds: `bls` (the authority's `--signer-key`: a plain key file, or an EIP-2335 keystore when
//! a password is given), `bitcoin` (the federation member's Bitcoin key, WIF) and `p2p` (the
//! node's libp2p identity, `<datadir>/p2p/node.key`). Every file is created with mode 0600 and
//! never overwritten; `inspect` prints, as JSON, what an operator puts in the chain spec or
//! gives to peers.

use std::path::{Path, PathBuf};

use alys_keys::{BitcoinNetwork, KdfKind, Keystore, Password};
use alys_primitives::bls::{parse_secret_key, save_secret_key, SecretKey};
use eyre::WrapErr;
use serde_json::{json, Value};

/// Environment variable holding the password of `alys keys generate`/`inspect` (when no
/// `--password-file` is given).
const PASSWORD_ENV: &str = "ALYS_KEY_PASSWORD";

/// What a key file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KeyKind {
    /// BLS12-381 authority signing key (`alys node --signer-key`).
    Bls,
    /// secp256k1 Bitcoin federation key, WIF (`alys node --bitcoin-key`).
    Bitcoin,
    /// ed25519 libp2p node key (`<datadir>/p2p/node.key`).
    P2p,
}

/// The KDF of a new keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kdf {
    /// scrypt, n = 2^18, r = 8, p = 1.
    Scrypt,
    /// PBKDF2-HMAC-SHA256, 262,144 rounds.
    Pbkdf2,
}

/// Key file commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate a new random key file (mode 0600, never overwriting) and print what
    /// `inspect` prints.
    Generate {
        /// Kind of key.
        #[arg(long, value_enum, default_value = "bls")]
        kind: KeyKind,
        /// Where to write it (refused if it exists).
        #[arg(long)]
        out: PathBuf,
        /// Encrypt a BLS key as an EIP-2335 keystore with the password in this file (mode 0600;
        /// or the ALYS_KEY_PASSWORD environment variable).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// KDF of the keystore.
        #[arg(long, value_enum, default_value = "scrypt")]
        kdf: Kdf,
        /// Bitcoin network of the WIF prefix (`--kind bitcoin`): bitcoin, testnet, testnet4,
        /// signet or regtest.
        #[arg(long, default_value = "bitcoin")]
        network: BitcoinNetwork,
    },
    /// Write the dev key of authority `index`: its BLS signer key, or with `--kind bitcoin` its
    /// federation Bitcoin key (WIF, regtest) (deterministic and public: dev and local test
    /// federations only; `alys dev --print-spec --authorities N` lists the same keys).
    Dev {
        /// Authority index.
        #[arg(long)]
        index: usize,
        /// Kind of key: `bls` or `bitcoin`.
        #[arg(long, value_enum, default_value = "bls")]
        kind: KeyKind,
        /// Where to write it (refused if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a key file's kind and public key (BLS: public key and proof of possession for the
    /// chain spec; Bitcoin: x-only and compressed public keys; p2p: peer id).
    #[command(alias = "show")]
    Inspect {
        /// The key file.
        file: PathBuf,
        /// Kind of key; needed only for a bare 64-hex-character file (a p2p key or a bare BLS
        /// secret key).
        #[arg(long, value_enum)]
        kind: Option<KeyKind>,
        /// Password of a BLS keystore (or ALYS_KEY_PASSWORD): without it the proof of
        /// possession of a keystore cannot be computed.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

/// The password from `file`, else from the environment, else none.
fn password(file: Option<&Path>) -> eyre::Result<Option<Password>> {
    if let Some(file) = file {
        return Ok(Some(
            Password::from_file(file).wrap_err("reading the password file")?,
        ));
    }
    Ok(std::env::var(PASSWORD_ENV).ok().map(|p| Password::new(&p)))
}

fn bls_json(sk: &SecretKey, format: &str) -> Value {
    json!({
        "kind": "bls",
        "format": format,
        "publicKey": sk.public_key().to_hex(),
        "proofOfPossession": sk.proof_of_possession().to_hex(),
    })
}

fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

impl KeysCommand {
    /// Runs the command.
    pub(crate) fn run(self) -> eyre::Result<()> {
        match self {
            KeysCommand::Generate {
                kind,
                out,
                password_file,
                kdf,
                network,
            } => {
                let password = password(password_file.as_deref())?;
                generate(kind, &out, password, kdf, network)
            }
            KeysCommand::Dev { index, kind, out } => match kind {
                KeyKind::Bls => {
                    let key = alys_primitives::dev::dev_secret_key(index);
                    save_secret_key(&out, &key)?;
                    print(&bls_json(&key, "plain"));
                    Ok(())
                }
                KeyKind::Bitcoin => {
                    let secret = alys_federation::bitcoin::secp256k1::SecretKey::from_slice(
                        &alys_primitives::dev::dev_bitcoin_secret_key(index),
                    )?;
                    let key = alys_keys::save_bitcoin_key(
                        &out,
                        secret,
                        alys_keys::BitcoinNetwork::Regtest,
                    )?;
                    print(&bitcoin_json(&key));
                    Ok(())
                }
                KeyKind::P2p => eyre::bail!("there are no dev p2p keys: generate one"),
            },
            KeysCommand::Inspect {
                file,
                kind,
                password_file,
            } => {
                let password = password(password_file.as_deref())?;
                print(&inspect(&file, kind, password.as_ref())?);
                Ok(())
            }
        }
    }
}

fn generate(
    kind: KeyKind,
    out: &Path,
    password: Option<Password>,
    kdf: Kdf,
    network: BitcoinNetwork,
) -> eyre::Result<()> {
    if password.is_some() && kind != KeyKind::Bls {
        eyre::bail!(
            "only BLS keys can be encrypted (EIP-2335 keystore); drop the password for --kind {}",
            format!("{kind:?}").to_lowercase()
        );
    }
    let value = match kind {
        KeyKind::Bls => {
            let key = SecretKey::random();
            match password {
                Some(password) => {
                    if password.as_bytes().is_empty() {
                        eyre::bail!("the keystore password is empty");
                    }
                    let kdf = match kdf {
                        Kdf::Scrypt => KdfKind::Scrypt,
                        Kdf::Pbkdf2 => KdfKind::Pbkdf2,
                    };
                    Keystore::encrypt(&key, &password, kdf)?.save(out)?;
                    bls_json(&key, "keystore")
                }
                None => {
                    save_secret_key(out, &key)?;
                    bls_json(&key, "plain")
                }
            }
        }
        KeyKind::Bitcoin => bitcoin_json(&alys_keys::generate_bitcoin_key(out, network)?),
        KeyKind::P2p => {
            let key = alys_network::identity::create_key(out)?;
            json!({"kind": "p2p", "peerId": key.public().to_peer_id().to_string()})
        }
    };
    print(&value);
    Ok(())
}

fn bitcoin_json(key: &alys_keys::BitcoinKey) -> Value {
    json!({
        "kind": "bitcoin",
        "network": format!("{:?}", key.private.network).to_lowercase(),
        "xOnlyPublicKey": key.x_only_public_key().to_string(),
        "publicKey": key.public_key().to_string(),
    })
}

/// What `file` holds, detected from its content unless `kind` says.
fn inspect(file: &Path, kind: Option<KeyKind>, password: Option<&Password>) -> eyre::Result<Value> {
    let text = alys_secrets::read_secret_file(file)?;
    let trimmed = text.trim();
    let kind = match kind {
        Some(kind) => kind,
        None if trimmed.starts_with('{') => KeyKind::Bls,
        None if is_bare_hex_32(trimmed) => eyre::bail!(
            "{} holds 32 bytes of hex: a p2p node key or a bare BLS secret key; give --kind p2p \
             or --kind bls",
            file.display()
        ),
        None => KeyKind::Bitcoin,
    };
    match kind {
        KeyKind::Bls if Keystore::is_keystore(trimmed) => {
            let keystore = Keystore::from_json(trimmed)
                .wrap_err_with(|| format!("keystore {}", file.display()))?;
            match password {
                Some(password) => {
                    let key = keystore
                        .decrypt(password)
                        .wrap_err_with(|| format!("keystore {}", file.display()))?;
                    Ok(bls_json(&key, "keystore"))
                }
                None => {
                    eprintln!(
                        "{} is an encrypted keystore: give --password-file (or {PASSWORD_ENV}) \
                         to print its proof of possession",
                        file.display()
                    );
                    Ok(json!({
                        "kind": "bls",
                        "format": "keystore",
                        "publicKey": keystore.pubkey()?.map(|pk| pk.to_hex()),
                        "proofOfPossession": null,
                    }))
                }
            }
        }
        KeyKind::Bls => Ok(bls_json(&parse_secret_key(file, trimmed)?, "plain")),
        KeyKind::Bitcoin => Ok(bitcoin_json(&alys_keys::parse_bitcoin_key(file, trimmed)?)),
        KeyKind::P2p => {
            let key = alys_network::identity::load_key(file)?;
            Ok(json!({"kind": "p2p", "peerId": key.public().to_peer_id().to_string()}))
        }
    }
}

fn is_bare_hex_32(text: &str) -> bool {
    let hex = text.strip_prefix("0x").unwrap_or(text);
    hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())
}
