//! `alys keys`: BLS authority key files (the `--signer-key` of `alys node`).

use std::path::PathBuf;

use alys_primitives::bls::{load_secret_key, save_secret_key, SecretKey};

/// Key file commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate a new random BLS key file and print its public key.
    Generate {
        /// Where to write it (refused if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the dev key of authority `index` (deterministic and public: dev and local test
    /// federations only; `alys dev --print-spec --authorities N` lists the same keys).
    Dev {
        /// Authority index.
        #[arg(long)]
        index: usize,
        /// Where to write it (refused if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a key file.
    Show {
        /// The key file.
        file: PathBuf,
    },
}

impl KeysCommand {
    /// Runs the command.
    pub(crate) fn run(self) -> eyre::Result<()> {
        let (out, key) = match self {
            KeysCommand::Show { file } => {
                let key = load_secret_key(&file)?;
                println!("0x{}", hex::encode(key.public_key().to_bytes()));
                return Ok(());
            }
            KeysCommand::Generate { out } => (out, SecretKey::random()),
            KeysCommand::Dev { index, out } => (out, alys_primitives::dev::dev_secret_key(index)),
        };
        if out.exists() {
            eyre::bail!("{} exists; not overwriting a key file", out.display());
        }
        save_secret_key(&out, &key)?;
        println!("0x{}", hex::encode(key.public_key().to_bytes()));
        Ok(())
    }
}
