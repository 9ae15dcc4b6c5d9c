//! Output-descriptor checksums (BIP-380), as Bitcoin Core computes them.

/// The 8-character checksum of descriptor `desc` (without `#`); `None` if `desc` has a
/// character outside the descriptor character set.
pub fn checksum(desc: &str) -> Option<String> {
    miniscript::descriptor::checksum::desc_checksum(desc).ok()
}

/// `desc#checksum`; `None` on characters outside the descriptor set.
pub fn add_checksum(desc: &str) -> Option<String> {
    checksum(desc).map(|c| format!("{desc}#{c}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip380_examples() {
        assert_eq!(checksum("raw(deadbeef)").as_deref(), Some("89f8spxm"));
        assert_eq!(
            add_checksum("addr(mkmZxiEcEd8ZqjQWVZuC6so5dFMKEFpN2j)").as_deref(),
            Some("addr(mkmZxiEcEd8ZqjQWVZuC6so5dFMKEFpN2j)#02wpgw69")
        );
        assert_eq!(checksum("raw(deadbeef)\u{e9}"), None);
    }
}
