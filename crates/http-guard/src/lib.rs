//! Connection limits of the node's public HTTP servers (node RPC, eth RPC, Engine API, peg web
//! page), so that clients holding connections open cannot starve the others.
//!
//! A connection's path: [`serve`] accepts it and asks the [`ConnectionGate`] for a permit (at
//! most [`ConnectionLimits::max_connections`] in all and
//! [`ConnectionLimits::max_per_ip`] per client address; without a permit the socket is closed
//! at once). hyper then reads each request's headers within
//! [`ConnectionLimits::header_read_timeout`] (also the longest a kept-alive connection may sit
//! idle) and hands the request to the server's tower service with its body wrapped in a
//! [`DeadlineBody`], which fails once [`ConnectionLimits::body_read_timeout`] has passed
//! without the whole body. The permit travels in the request's extensions, so a connection
//! upgraded to a WebSocket keeps it for as long as the session lives.

mod body;
mod gate;
mod serve;

pub use body::{BodyTimeout, DeadlineBody};
pub use gate::{client_key, ConnectionGate, ConnectionPermit, Refused};
pub use serve::{serve, ConnectionLimits};
