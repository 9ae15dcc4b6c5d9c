//! RLP encoding into a fresh byte vector (trie leaves, payload ids).

/// `value` RLP-encoded.
pub(crate) fn rlp_bytes<T: alloy_rlp::Encodable>(value: &T) -> Vec<u8> {
    alloy_rlp::encode(value)
}
