//! HTTP Basic authentication: the one user and password a server accepts.

use base64::Engine as _;
use hyper::header::HeaderValue;
use subtle::ConstantTimeEq;

/// HTTP Basic credentials required by a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl Credentials {
    /// Whether an `Authorization` header carries these credentials (compared in constant time
    /// for a given length).
    pub fn accepts(&self, header: Option<&HeaderValue>) -> bool {
        let Some(value) = header.and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let Some(encoded) = value.strip_prefix("Basic ") else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let expected = format!("{}:{}", self.user, self.password);
        decoded.ct_eq(expected.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> HeaderValue {
        HeaderValue::from_str(value).expect("ASCII header")
    }

    fn basic(user_password: &str) -> HeaderValue {
        header(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_password)
        ))
    }

    #[test]
    fn accepts_only_the_exact_credentials() {
        let c = Credentials {
            user: "alys".into(),
            password: "secret".into(),
        };
        assert!(c.accepts(Some(&basic("alys:secret"))));
        assert!(!c.accepts(None));
        assert!(!c.accepts(Some(&basic("alys:secreT"))));
        assert!(!c.accepts(Some(&basic("alys:secret2"))));
        assert!(!c.accepts(Some(&basic("alys:"))));
        assert!(!c.accepts(Some(&header("Bearer alys:secret"))));
        assert!(!c.accepts(Some(&header("Basic not-base64!"))));
    }
}
