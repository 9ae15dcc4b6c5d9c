//! The request/response protocol `/alys/req/1/ssz_snappy`: status handshake, blocks by range,
//! blocks by root.
//!
//! One protocol carries all three requests so the request kind is never up to protocol
//! negotiation. One request and one response per stream:
//!
//! | request | bytes |
//! |---|---|
//! | status | `0x00` ‖ SSZ [`Status`] |
//! | blocks by range | `0x01` ‖ SSZ `(start_height: u64, count: u64)`, `count` ≤ [`MAX_BLOCKS_PER_REQUEST`] |
//! | blocks by root | `0x02` ‖ 32-byte roots, at most [`MAX_BLOCKS_PER_REQUEST`] |
//!
//! | response | bytes |
//! |---|---|
//! | status | `0x00` ‖ SSZ [`Status`] |
//! | blocks | `0x01` ‖ snappy(SSZ list of `SignedConsensusBlock`), decoded size ≤ [`MAX_RESPONSE_BYTES`] |
//! | error | `0x02` ‖ code ‖ UTF-8 reason (≤ 256 bytes) |
//!
//! Every read is capped before it allocates: requests at [`MAX_REQUEST_BYTES`], responses at
//! the snappy bound of [`MAX_RESPONSE_BYTES`]. Blocks by range returns the canonical blocks from
//! `start_height` on, in height order, stopping early at the size budget or the head.

use alloy_primitives::B256;
use alys_primitives::block::MAX_SIGNED_BLOCK_BYTES;
use alys_primitives::SignedConsensusBlock;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};
use std::io;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/alys/req/1/ssz_snappy");
/// Most blocks asked for or returned by one request.
pub const MAX_BLOCKS_PER_REQUEST: u64 = 32;
/// Largest request on the wire.
pub const MAX_REQUEST_BYTES: usize = 1 + 32 * MAX_BLOCKS_PER_REQUEST as usize;
/// Largest decoded blocks response: room for one block of the largest valid size and then
/// some; a server stops adding blocks before it passes [`RESPONSE_SOFT_LIMIT`].
pub const MAX_RESPONSE_BYTES: usize = 2 * MAX_SIGNED_BLOCK_BYTES;
/// The size a server aims to stay under (it always sends at least one block).
pub const RESPONSE_SOFT_LIMIT: usize = MAX_SIGNED_BLOCK_BYTES;
const MAX_REASON_BYTES: usize = 256;

/// A node's view of its chain, exchanged on connection and periodically after.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Status {
    /// Hash of the chain spec.
    pub spec_hash: B256,
    /// Root of the genesis block.
    pub genesis_root: B256,
    /// Head block root.
    pub head_root: B256,
    /// Head height.
    pub head_height: u64,
    /// Head slot.
    pub head_slot: u64,
    /// Finalized block root.
    pub finalized_root: B256,
    /// Finalized height.
    pub finalized_height: u64,
}

/// Size of an SSZ [`Status`].
const STATUS_BYTES: usize = 32 * 4 + 8 * 3;

#[derive(Encode, Decode)]
struct RangeBody {
    start_height: u64,
    count: u64,
}

/// A request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// The sender's status; answered with ours.
    Status(Status),
    /// Canonical blocks from `start_height`, at most `count`.
    BlocksByRange {
        /// First height.
        start_height: u64,
        /// How many.
        count: u64,
    },
    /// Blocks with these roots (those the server has).
    BlocksByRoot(Vec<B256>),
}

impl Request {
    /// What the request costs against the sender's rate limit (blocks asked for, or 1).
    pub fn cost(&self) -> u64 {
        match self {
            Request::Status(_) => 1,
            Request::BlocksByRange { count, .. } => (*count).max(1),
            Request::BlocksByRoot(roots) => (roots.len() as u64).max(1),
        }
    }
}

/// Error codes of an error response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed or asks for too much.
    InvalidRequest = 1,
    /// The sender is over its rate limit.
    RateLimited = 2,
    /// The server failed (store error).
    ServerError = 3,
}

impl ErrorCode {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(ErrorCode::InvalidRequest),
            2 => Some(ErrorCode::RateLimited),
            3 => Some(ErrorCode::ServerError),
            _ => None,
        }
    }
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The server's status.
    Status(Status),
    /// Blocks, in the order asked for (by range: height order).
    Blocks(Vec<SignedConsensusBlock>),
    /// The request was refused.
    Error(ErrorCode, String),
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads the whole stream, failing when it is longer than `max`.
async fn read_capped<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    io.take(max as u64 + 1).read_to_end(&mut buf).await?;
    if buf.len() > max {
        return Err(invalid(format!("message longer than {max} bytes")));
    }
    if buf.is_empty() {
        // The other side closed without answering (shutting down, overloaded): not a
        // protocol violation, so not penalized like malformed bytes are.
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "stream closed empty",
        ));
    }
    Ok(buf)
}

/// Decodes a request (never panics).
pub fn decode_request(bytes: &[u8]) -> io::Result<Request> {
    let (&tag, body) = bytes
        .split_first()
        .ok_or_else(|| invalid("empty request"))?;
    match tag {
        0 => Status::from_ssz_bytes(body)
            .map(Request::Status)
            .map_err(|e| invalid(format!("status: {e:?}"))),
        1 => {
            let r = RangeBody::from_ssz_bytes(body)
                .map_err(|e| invalid(format!("blocks by range: {e:?}")))?;
            if r.count == 0 || r.count > MAX_BLOCKS_PER_REQUEST {
                return Err(invalid(format!(
                    "blocks by range: count {} not in 1..={MAX_BLOCKS_PER_REQUEST}",
                    r.count
                )));
            }
            Ok(Request::BlocksByRange {
                start_height: r.start_height,
                count: r.count,
            })
        }
        2 => {
            if body.is_empty()
                || body.len() % 32 != 0
                || body.len() / 32 > MAX_BLOCKS_PER_REQUEST as usize
            {
                return Err(invalid(format!(
                    "blocks by root: {} bytes is not 1..={MAX_BLOCKS_PER_REQUEST} roots",
                    body.len()
                )));
            }
            Ok(Request::BlocksByRoot(
                body.chunks_exact(32).map(B256::from_slice).collect(),
            ))
        }
        t => Err(invalid(format!("unknown request kind {t}"))),
    }
}

/// Encodes a request.
pub fn encode_request(req: &Request) -> Vec<u8> {
    match req {
        Request::Status(s) => [&[0u8][..], &s.as_ssz_bytes()].concat(),
        Request::BlocksByRange {
            start_height,
            count,
        } => [
            &[1u8][..],
            &RangeBody {
                start_height: *start_height,
                count: *count,
            }
            .as_ssz_bytes(),
        ]
        .concat(),
        Request::BlocksByRoot(roots) => {
            let mut out = vec![2u8];
            for r in roots {
                out.extend_from_slice(r.as_slice());
            }
            out
        }
    }
}

/// Encodes a response.
pub fn encode_response(resp: &Response) -> Vec<u8> {
    match resp {
        Response::Status(s) => [&[0u8][..], &s.as_ssz_bytes()].concat(),
        Response::Blocks(blocks) => {
            let mut out = vec![1u8];
            out.extend(crate::gossip::compress(&blocks.as_ssz_bytes()));
            out
        }
        Response::Error(code, reason) => {
            let mut out = vec![2u8, *code as u8];
            let mut end = reason.len().min(MAX_REASON_BYTES);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            out.extend_from_slice(&reason.as_bytes()[..end]);
            out
        }
    }
}

/// Decodes a response (never panics; sizes checked before decompressing).
pub fn decode_response(bytes: &[u8]) -> io::Result<Response> {
    let (&tag, body) = bytes
        .split_first()
        .ok_or_else(|| invalid("empty response"))?;
    match tag {
        0 => {
            if body.len() != STATUS_BYTES {
                return Err(invalid("status: wrong size"));
            }
            Status::from_ssz_bytes(body)
                .map(Response::Status)
                .map_err(|e| invalid(format!("status: {e:?}")))
        }
        1 => {
            let ssz =
                crate::gossip::decompress(crate::gossip::Topic::Block, body, MAX_RESPONSE_BYTES)
                    .map_err(|e| invalid(e.to_string()))?;
            let blocks = Vec::<SignedConsensusBlock>::from_ssz_bytes(&ssz)
                .map_err(|e| invalid(format!("blocks: {e:?}")))?;
            if blocks.len() as u64 > MAX_BLOCKS_PER_REQUEST {
                return Err(invalid(format!("{} blocks in one response", blocks.len())));
            }
            Ok(Response::Blocks(blocks))
        }
        2 => {
            let (&code, reason) = body
                .split_first()
                .ok_or_else(|| invalid("error response without a code"))?;
            let code = ErrorCode::from_byte(code).ok_or_else(|| invalid("unknown error code"))?;
            if reason.len() > MAX_REASON_BYTES {
                return Err(invalid("error reason too long"));
            }
            Ok(Response::Error(
                code,
                String::from_utf8_lossy(reason).into_owned(),
            ))
        }
        t => Err(invalid(format!("unknown response kind {t}"))),
    }
}

/// The libp2p codec of [`PROTOCOL`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Codec;

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode_request(&read_capped(io, MAX_REQUEST_BYTES).await?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let max = 2 + snap::raw::max_compress_len(MAX_RESPONSE_BYTES);
        decode_response(&read_capped(io, max).await?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&encode_request(&req)).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        resp: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&encode_response(&resp)).await?;
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_roundtrip() {
        let status = Status {
            spec_hash: B256::repeat_byte(1),
            head_height: 7,
            ..Status::default()
        };
        for req in [
            Request::Status(status),
            Request::BlocksByRange {
                start_height: 5,
                count: 32,
            },
            Request::BlocksByRoot(vec![B256::repeat_byte(3); 4]),
        ] {
            assert_eq!(decode_request(&encode_request(&req)).unwrap(), req);
        }
        for resp in [
            Response::Status(status),
            Response::Blocks(vec![]),
            Response::Error(ErrorCode::RateLimited, "slow down".into()),
        ] {
            assert_eq!(decode_response(&encode_response(&resp)).unwrap(), resp);
        }
    }

    #[test]
    fn bad_requests_are_errors() {
        for bytes in [
            vec![],
            vec![9],
            encode_request(&Request::BlocksByRange {
                start_height: 1,
                count: MAX_BLOCKS_PER_REQUEST + 1,
            }),
            encode_request(&Request::BlocksByRange {
                start_height: 1,
                count: 0,
            }),
            vec![2; 1 + 31],
            encode_request(&Request::BlocksByRoot(vec![
                B256::ZERO;
                MAX_BLOCKS_PER_REQUEST as usize
                    + 1
            ])),
            vec![0, 1, 2],
        ] {
            assert!(decode_request(&bytes).is_err(), "{bytes:?}");
        }
        for bytes in [
            vec![],
            vec![0, 1],
            vec![1, 0xff, 0xff],
            vec![2],
            vec![2, 77],
        ] {
            assert!(decode_response(&bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..20_000 {
            let len = rng.gen_range(0..300);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if let Some(b) = bytes.first_mut() {
                *b %= 4;
            }
            let _ = decode_request(&bytes);
            let _ = decode_response(&bytes);
        }
    }
}
