//! Keeping secrets secret.
//!
//! * [`file`]: secret files (key files, JWT secrets): read only when no one but the owner can
//!   read them, written created with mode 0600 and never overwritten.
//! * [`redact`]: URLs and credentials shown without their secret parts, for logs and errors.

pub mod file;
pub mod redact;

pub use file::{create_secret_file, read_secret_file, SecretFileError};
pub use redact::{redact_url, RedactedUrl};
