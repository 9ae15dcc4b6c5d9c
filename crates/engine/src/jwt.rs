//! JWT secret files and the HTTP middleware that authenticates every Engine API request.
//!
//! Per the Engine API `authentication.md`, each HTTP request carries
//! `Authorization: Bearer <HS256 JWT>` whose `iat` claim must be within ±60 s of the
//! server's clock, so [`JwtAuthLayer`] mints a fresh token for every request.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use alloy::rpc::types::engine::{Claims, JwtSecret};
use http::header::AUTHORIZATION;
use http::HeaderValue;
use jsonrpsee::http_client::transport::Error as TransportError;
use jsonrpsee::http_client::HttpRequest;
use tower::Service;

use crate::EngineError;

/// Number of bytes in an Engine API JWT secret.
pub const JWT_SECRET_LEN: usize = 32;

/// Reads a JWT secret file: 32 bytes hex-encoded, optional `0x` prefix, surrounding
/// whitespace (e.g. a trailing newline) allowed. Refused when group or others can access the
/// file (the error names the file, its mode and the `chmod 600` fix).
pub fn load_jwt_secret(path: &Path) -> Result<JwtSecret, EngineError> {
    let contents = alys_secrets::read_secret_file(path).map_err(|e| {
        EngineError::Jwt(match e {
            alys_secrets::SecretFileError::Io { .. } => format!("cannot read JWT secret file {e}"),
            other => format!("JWT secret file {other}"),
        })
    })?;
    parse_jwt_secret(&contents).map_err(|reason| {
        EngineError::Jwt(format!(
            "invalid JWT secret file {}: {reason}",
            path.display()
        ))
    })
}

/// Loads the JWT secret at `path`, or, if no file exists there, generates a random one and
/// writes it (hex with `0x` prefix, mode 0600 on unix), creating parent directories.
///
/// An existing but invalid file is an error; it is never overwritten.
pub fn load_or_create_jwt_secret(path: &Path) -> Result<JwtSecret, EngineError> {
    if path.exists() {
        return load_jwt_secret(path);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            EngineError::Jwt(format!(
                "cannot create directory {} for JWT secret: {e}",
                dir.display()
            ))
        })?;
    }
    let secret = JwtSecret::random();
    let hex = format!("0x{}\n", hex::encode(secret.as_bytes()));
    match alys_secrets::create_secret_file(path, hex.as_bytes()) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated new JWT secret");
            Ok(secret)
        }
        // Someone else created it concurrently: use theirs.
        Err(alys_secrets::SecretFileError::Exists { .. }) => load_jwt_secret(path),
        Err(e) => Err(EngineError::Jwt(format!(
            "cannot create JWT secret file {e}"
        ))),
    }
}

/// Parses hex text into a secret, explaining what is wrong if it is not 32 hex bytes.
fn parse_jwt_secret(contents: &str) -> Result<JwtSecret, String> {
    let trimmed = contents.trim();
    let hex_str = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    if hex_str.is_empty() {
        return Err(format!(
            "file is empty, expected {} hex characters ({JWT_SECRET_LEN} bytes)",
            JWT_SECRET_LEN * 2
        ));
    }
    if let Some((i, c)) = hex_str.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!("non-hex character {c:?} at position {i}"));
    }
    if hex_str.len() != JWT_SECRET_LEN * 2 {
        return Err(format!(
            "expected {} hex characters ({JWT_SECRET_LEN} bytes), found {}",
            JWT_SECRET_LEN * 2,
            hex_str.len()
        ));
    }
    JwtSecret::from_hex(hex_str).map_err(|e| e.to_string())
}

/// Failure to mint a JWT (surfaced to callers as [`EngineError::Jwt`]).
#[derive(Debug, thiserror::Error)]
#[error("cannot create JWT: {0}")]
pub(crate) struct TokenError(String);

/// Builds an `Authorization: Bearer <jwt>` header value with `iat = now`.
pub(crate) fn bearer_header(secret: &JwtSecret) -> Result<HeaderValue, TokenError> {
    let token = secret
        .encode(&Claims::with_current_timestamp())
        .map_err(|e| TokenError(e.to_string()))?;
    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| TokenError(e.to_string()))
}

/// Tower layer adding a freshly minted JWT to every outgoing HTTP request.
pub(crate) fn jwt_auth_layer<S>(
    secret: JwtSecret,
) -> tower::layer::LayerFn<impl Fn(S) -> JwtAuthService<S> + Clone> {
    tower::layer::layer_fn(move |inner| JwtAuthService { secret, inner })
}

/// Service produced by [`jwt_auth_layer`].
#[derive(Clone, Debug)]
pub(crate) struct JwtAuthService<S> {
    secret: JwtSecret,
    inner: S,
}

impl<S> Service<HttpRequest> for JwtAuthService<S>
where
    S: Service<HttpRequest, Error = TransportError> + Clone + Send + 'static,
    S::Response: Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, TransportError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        match bearer_header(&self.secret) {
            Ok(value) => {
                req.headers_mut().insert(AUTHORIZATION, value);
            }
            Err(e) => {
                let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
                return Box::pin(std::future::ready(Err(TransportError::Http(boxed.into()))));
            }
        }
        // The clone is not necessarily ready; use the instance `poll_ready` was called on.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(ready.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "f79ae8046bc11c9927afe911db7143c51a806c4a537cc08e0d37140b0192f430";

    fn write(dir: &tempfile::TempDir, name: &str, contents: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        alys_secrets::create_secret_file(&path, contents.as_bytes()).unwrap();
        path
    }

    #[cfg(unix)]
    #[test]
    fn rejects_secret_readable_by_group_or_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "jwt.hex", GOOD);
        for mode in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            for err in [
                load_jwt_secret(&path).unwrap_err(),
                load_or_create_jwt_secret(&path).unwrap_err(),
            ] {
                let EngineError::Jwt(message) = &err else {
                    panic!("{err:?}")
                };
                assert!(message.contains(&path.display().to_string()), "{message}");
                assert!(message.contains(&format!("{mode:04o}")), "{message}");
                assert!(message.contains("chmod 600"), "{message}");
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_jwt_secret(&path).is_ok());
    }

    #[test]
    fn loads_good_secret_with_prefix_and_whitespace() {
        let dir = tempfile::tempdir().unwrap();
        let expected = JwtSecret::from_hex(GOOD).unwrap();
        for (name, contents) in [
            ("plain", GOOD.to_string()),
            ("prefixed", format!("0x{GOOD}")),
            ("newline", format!("0x{GOOD}\n")),
            ("crlf", format!("{GOOD}\r\n  ")),
            ("upper", GOOD.to_uppercase()),
        ] {
            let path = write(&dir, name, &contents);
            assert_eq!(load_jwt_secret(&path).unwrap(), expected, "{name}");
        }
    }

    #[test]
    fn rejects_short_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "short", &GOOD[..62]);
        let err = load_jwt_secret(&path).unwrap_err();
        assert!(
            matches!(&err, EngineError::Jwt(m) if m.contains("found 62")),
            "{err}"
        );
        let path = write(&dir, "long", &format!("{GOOD}00"));
        assert!(matches!(load_jwt_secret(&path), Err(EngineError::Jwt(_))));
        let path = write(&dir, "empty", "\n");
        let err = load_jwt_secret(&path).unwrap_err();
        assert!(
            matches!(&err, EngineError::Jwt(m) if m.contains("empty")),
            "{err}"
        );
    }

    #[test]
    fn rejects_non_hex_secret() {
        let dir = tempfile::tempdir().unwrap();
        let bad = format!("{}zz", &GOOD[..62]);
        let path = write(&dir, "nonhex", &bad);
        let err = load_jwt_secret(&path).unwrap_err();
        assert!(
            matches!(&err, EngineError::Jwt(m) if m.contains("non-hex")),
            "{err}"
        );
    }

    #[test]
    fn rejects_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("does-not-exist.hex");
        let err = load_jwt_secret(&path).unwrap_err();
        assert!(
            matches!(&err, EngineError::Jwt(m) if m.contains("cannot read") && m.contains("does-not-exist.hex")),
            "{err}"
        );
    }

    #[test]
    fn creates_then_reloads_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/jwt.hex");
        let created = load_or_create_jwt_secret(&path).unwrap();
        assert_eq!(load_jwt_secret(&path).unwrap(), created);
        assert_eq!(load_or_create_jwt_secret(&path).unwrap(), created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn does_not_overwrite_invalid_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "jwt.hex", "garbage");
        assert!(matches!(
            load_or_create_jwt_secret(&path),
            Err(EngineError::Jwt(_))
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage");
    }

    #[test]
    fn bearer_header_is_valid_token() {
        let secret = JwtSecret::random();
        let value = bearer_header(&secret).unwrap();
        let token = value.to_str().unwrap().strip_prefix("Bearer ").unwrap();
        secret.validate(token).unwrap();
        assert!(JwtSecret::random().validate(token).is_err());
    }
}
