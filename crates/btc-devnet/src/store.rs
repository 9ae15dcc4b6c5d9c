//! The datadir: one append-only event log (`events.log`) replayed on open.
//!
//! Each record is `kind (1 byte) ‖ length (u32 LE) ‖ payload ‖ checksum (4 bytes of
//! SHA256d(kind ‖ payload))`. A record is appended and flushed with one `write` before the
//! RPC call that produced it returns; a torn or corrupt tail (kill -9 or power loss mid-write)
//! is detected by the length and checksum and truncated on open, so the datadir always replays
//! to a prefix of the acknowledged history.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use bitcoin::hashes::{sha256d, Hash};

use crate::DevnetError;

/// Kinds of logged events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// A block (consensus serialization).
    Block = 1,
    /// `invalidateblock` (32-byte hash).
    Invalidate = 2,
    /// `reconsiderblock` (32-byte hash).
    Reconsider = 3,
    /// A wallet address was issued (kind byte, u32 index, label).
    Address = 4,
    /// A transaction accepted to the mempool.
    MempoolTx = 5,
}

impl RecordKind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Block,
            2 => Self::Invalidate,
            3 => Self::Reconsider,
            4 => Self::Address,
            5 => Self::MempoolTx,
            _ => return None,
        })
    }
}

/// A replayed record: kind and payload.
pub type Record = (RecordKind, Vec<u8>);

/// The open event log.
pub struct EventLog {
    file: File,
    path: PathBuf,
}

fn checksum(kind: u8, payload: &[u8]) -> [u8; 4] {
    let mut data = Vec::with_capacity(payload.len() + 1);
    data.push(kind);
    data.extend_from_slice(payload);
    let h = sha256d::Hash::hash(&data);
    let mut c = [0u8; 4];
    c.copy_from_slice(&h.as_byte_array()[..4]);
    c
}

impl EventLog {
    /// Opens (creating) the log in `datadir`; returns it with the intact records.
    pub fn open(datadir: &Path) -> Result<(Self, Vec<Record>), DevnetError> {
        std::fs::create_dir_all(datadir).map_err(|e| DevnetError::io(datadir, e))?;
        let path = datadir.join("events.log");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| DevnetError::io(&path, e))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| DevnetError::io(&path, e))?;
        let mut records = Vec::new();
        let mut pos = 0usize;
        while pos + 5 <= data.len() {
            let kind_byte = data[pos];
            let len =
                u32::from_le_bytes([data[pos + 1], data[pos + 2], data[pos + 3], data[pos + 4]])
                    as usize;
            let end = pos + 5 + len + 4;
            if end > data.len() {
                break;
            }
            let payload = &data[pos + 5..pos + 5 + len];
            if data[pos + 5 + len..end] != checksum(kind_byte, payload) {
                break;
            }
            let Some(kind) = RecordKind::from_u8(kind_byte) else {
                break;
            };
            records.push((kind, payload.to_vec()));
            pos = end;
        }
        if pos != data.len() {
            tracing::warn!(
                "{}: dropping {} bytes of torn or corrupt log tail",
                path.display(),
                data.len() - pos
            );
            file.set_len(pos as u64)
                .map_err(|e| DevnetError::io(&path, e))?;
            file.seek(SeekFrom::End(0))
                .map_err(|e| DevnetError::io(&path, e))?;
        }
        Ok((Self { file, path }, records))
    }

    /// Appends one record (one `write` call; the OS has it before this returns).
    pub fn append(&mut self, kind: RecordKind, payload: &[u8]) -> Result<(), DevnetError> {
        let mut rec = Vec::with_capacity(payload.len() + 9);
        rec.push(kind as u8);
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(payload);
        rec.extend_from_slice(&checksum(kind as u8, payload));
        self.file
            .write_all(&rec)
            .map_err(|e| DevnetError::io(&self.path, e))?;
        if kind == RecordKind::Block {
            self.file
                .sync_data()
                .map_err(|e| DevnetError::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Size of the log in bytes.
    pub fn size(&self) -> u64 {
        self.file.metadata().map(|m| m.len()).unwrap_or(0)
    }
}
