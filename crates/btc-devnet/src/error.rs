//! Errors of the devnet library.

use std::path::Path;

/// Errors starting or running the devnet.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// File system error on a datadir file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Binding the RPC port failed.
    #[error("cannot bind RPC address {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The datadir's event log holds something the devnet cannot replay.
    #[error("corrupt datadir: {0}")]
    Corrupt(String),
}

impl DevnetError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
