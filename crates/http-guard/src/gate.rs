//! Admission of connections: a cap on all open connections and one per client address. The
//! table of addresses holds only clients with an open connection, so it is bounded by the cap.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The server holds its maximum of connections.
    #[error("connection limit reached: {limit} connections")]
    TooManyConnections {
        /// The limit.
        limit: usize,
    },
    /// This client address holds its maximum of connections.
    #[error("connection limit reached for {client}: {limit} connections per address")]
    TooManyFromClient {
        /// The client's address (its IPv6 /64 prefix).
        client: IpAddr,
        /// The limit.
        limit: usize,
    },
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
struct Inner {
    max_connections: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
}

impl Inner {
    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts open connections and refuses those over a limit.
#[derive(Debug, Clone)]
pub struct ConnectionGate {
    inner: Arc<Inner>,
}

/// An admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnectionPermit {
    inner: Arc<Inner>,
    client: IpAddr,
}

impl ConnectionGate {
    /// A gate for at most `max_connections` connections, `max_per_ip` of them from one client
    /// address (both at least 1).
    pub fn new(max_connections: usize, max_per_ip: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_connections: max_connections.max(1),
                max_per_ip: max_per_ip.max(1),
                open: Mutex::default(),
            }),
        }
    }

    /// Admits a connection from `peer`, or says which limit it hit.
    pub fn admit(&self, peer: IpAddr) -> Result<ConnectionPermit, Refused> {
        let client = client_key(peer);
        let mut open = self.inner.open();
        if open.total >= self.inner.max_connections {
            return Err(Refused::TooManyConnections {
                limit: self.inner.max_connections,
            });
        }
        let count = open.per_client.entry(client).or_insert(0);
        if *count >= self.inner.max_per_ip {
            return Err(Refused::TooManyFromClient {
                client,
                limit: self.inner.max_per_ip,
            });
        }
        *count += 1;
        open.total += 1;
        Ok(ConnectionPermit {
            inner: self.inner.clone(),
            client,
        })
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.inner.open().total
    }

    /// Client addresses with an open connection now.
    pub fn clients(&self) -> usize {
        self.inner.open().per_client.len()
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut open = self.inner.open();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_client.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_client.remove(&self.client);
            }
        }
    }
}

/// The address limits apply to: an IPv4 address (also when mapped into IPv6), or the /64
/// prefix of an IPv6 address (one site's hosts count together).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    #[test]
    fn one_client_is_capped_while_another_is_admitted() {
        let gate = ConnectionGate::new(10, 2);
        let a = [gate.admit(v4(1)).unwrap(), gate.admit(v4(1)).unwrap()];
        assert_eq!(
            gate.admit(v4(1)).unwrap_err(),
            Refused::TooManyFromClient {
                client: v4(1),
                limit: 2
            }
        );
        let _b = gate.admit(v4(2)).unwrap();
        drop(a);
        assert!(gate.admit(v4(1)).is_ok());
        assert_eq!(gate.open_connections(), 1);
    }

    #[test]
    fn the_total_is_capped_and_freed_on_drop() {
        let gate = ConnectionGate::new(3, 3);
        let held: Vec<_> = (0..3).map(|i| gate.admit(v4(i)).unwrap()).collect();
        assert_eq!(
            gate.admit(v4(9)).unwrap_err(),
            Refused::TooManyConnections { limit: 3 }
        );
        drop(held);
        assert_eq!((gate.open_connections(), gate.clients()), (0, 0));
        assert!(gate.admit(v4(9)).is_ok());
    }

    #[test]
    fn a_flood_of_addresses_keeps_the_table_bounded() {
        let gate = ConnectionGate::new(64, 1);
        let mut held = Vec::new();
        for i in 0..10_000u32 {
            if let Ok(p) = gate.admit(IpAddr::V4(Ipv4Addr::from(i))) {
                held.push(p);
            }
        }
        assert_eq!((held.len(), gate.clients()), (64, 64));
    }

    #[test]
    fn ipv6_hosts_of_one_prefix_count_together() {
        let gate = ConnectionGate::new(10, 1);
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::7".parse().unwrap();
        let _p = gate.admit(IpAddr::V6(a)).unwrap();
        assert!(matches!(
            gate.admit(IpAddr::V6(b)),
            Err(Refused::TooManyFromClient { .. })
        ));
        let mapped: Ipv6Addr = "::ffff:10.0.0.1".parse().unwrap();
        let _q = gate.admit(IpAddr::V6(mapped)).unwrap();
        assert!(gate.admit(v4(1)).is_err());
    }
}
