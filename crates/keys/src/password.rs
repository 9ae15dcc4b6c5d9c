//! Keystore passwords, processed as EIP-2335 requires: NFKD normalisation, then the C0
//! (U+0000–U+001F), C1 (U+0080–U+009F) and Delete (U+007F) control codes removed, then UTF-8.
//! So a trailing newline in a password file is not part of the password, and the same
//! password typed on two systems with different Unicode forms decrypts the same keystore.

use std::path::Path;

use unicode_normalization::UnicodeNormalization;

/// A keystore password (its processed bytes). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Vec<u8>);

impl Password {
    /// Processes `text` per EIP-2335 (see the module docs).
    pub fn new(text: &str) -> Self {
        let processed: String = text
            .nfkd()
            .filter(|c| !matches!(*c as u32, 0x00..=0x1f | 0x7f | 0x80..=0x9f))
            .collect();
        Self(processed.into_bytes())
    }

    /// Reads a password file (refused when group or others can access it).
    pub fn from_file(path: &Path) -> Result<Self, alys_secrets::SecretFileError> {
        Ok(Self::new(&alys_secrets::read_secret_file(path)?))
    }

    /// The processed password bytes, the KDF's input.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip_2335_processing() {
        // The EIP's test password: mathematical fraktur letters normalise to ASCII.
        let p = Password::new("𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑");
        assert_eq!(
            hex::encode(p.as_bytes()),
            "7465737470617373776f7264f09f9491"
        );
        assert_eq!(
            Password::new("pass\u{7f}wo\u{85}rd\n\r\t").as_bytes(),
            b"password"
        );
        assert_eq!(Password::new("ﬁ").as_bytes(), b"fi");
        assert!(!format!("{p:?}").contains("test"));
    }
}
