//! The peg web page (DESIGN §11, default port 3001): this crate serves the page built from
//! `ui/` (its HTML, script and style, embedded in the binary at compile time from `ui/dist`)
//! and `/config.json`, which tells the page where the node's JSON-RPC and eth JSON-RPC are, on
//! a port of its own. The page calls those from the browser: the node RPC serves it the
//! read-only peg methods without credentials for the origins [`origins_for`] names (see
//! `alys_rpc::peg_read_access`). Every response carries a Content Security Policy that lets
//! the page load nothing and connect nowhere but this server and those two endpoints.

mod assets;
mod config;
mod server;

pub use config::{origins_for, Endpoint, EndpointError, UiConfig};
pub use server::{BoundUi, UiServer, CONNECTION_LIFETIME, MAX_CONNECTIONS};
