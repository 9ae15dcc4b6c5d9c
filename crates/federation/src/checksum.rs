//! Output-descriptor checksums (BIP-380), as Bitcoin Core computes them.

const INPUT_CHARSET: &str = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
const CHECKSUM_CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn poly_mod(mut c: u64, val: u64) -> u64 {
    let c0 = c >> 35;
    c = ((c & 0x7_ffff_ffff) << 5) ^ val;
    if c0 & 1 != 0 {
        c ^= 0xf5_dee5_1989;
    }
    if c0 & 2 != 0 {
        c ^= 0xa9_fdca_3312;
    }
    if c0 & 4 != 0 {
        c ^= 0x1b_ab10_e32d;
    }
    if c0 & 8 != 0 {
        c ^= 0x37_06b1_677a;
    }
    if c0 & 16 != 0 {
        c ^= 0x64_4d62_6ffd;
    }
    c
}

/// The 8-character checksum of descriptor `desc` (without `#`); `None` if `desc` has a
/// character outside the descriptor character set.
pub fn checksum(desc: &str) -> Option<String> {
    let mut c = 1u64;
    let mut cls = 0u64;
    let mut clscount = 0;
    for ch in desc.chars() {
        let pos = INPUT_CHARSET.find(ch)? as u64;
        c = poly_mod(c, pos & 31);
        cls = cls * 3 + (pos >> 5);
        clscount += 1;
        if clscount == 3 {
            c = poly_mod(c, cls);
            cls = 0;
            clscount = 0;
        }
    }
    if clscount > 0 {
        c = poly_mod(c, cls);
    }
    for _ in 0..8 {
        c = poly_mod(c, 0);
    }
    c ^= 1;
    Some(
        (0..8)
            .map(|j| CHECKSUM_CHARSET[((c >> (5 * (7 - j))) & 31) as usize] as char)
            .collect(),
    )
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
