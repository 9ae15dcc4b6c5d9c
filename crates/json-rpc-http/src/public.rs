//! Unauthenticated access to a few methods, for browser pages: which methods a request without
//! credentials may call, which browser origins may call them (CORS), and how often
//! ([`RateLimiter`]: a token bucket per client and one for everybody, the per-client table
//! bounded in count).

use std::{
    collections::{BTreeSet, HashMap},
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use alys_http_guard::client_key;
use hyper::header::HeaderValue;

/// A token bucket's refill rate and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per second, sustained.
    pub per_second: u32,
    /// Requests allowed at once after a quiet period.
    pub burst: u32,
}

/// Limits on requests without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Per client (IPv4 address, or IPv6 /64 prefix).
    pub per_client: Rate,
    /// All clients together.
    pub global: Rate,
    /// Clients tracked at most; past it the one seen longest ago is forgotten.
    pub max_clients: usize,
}

impl Default for RateLimits {
    /// 20 requests/s per client (burst 40), 200/s for everybody (burst 400), 4096 clients.
    fn default() -> Self {
        Self {
            per_client: Rate {
                per_second: 20,
                burst: 40,
            },
            global: Rate {
                per_second: 200,
                burst: 400,
            },
            max_clients: 4096,
        }
    }
}

/// What a request without credentials may do. Requests that carry an `Origin` header (sent by
/// browsers) are always treated this way, whatever credentials they carry, so a web page can
/// never reach the other methods; an `Origin` outside [`PublicAccess::origins`] is refused.
#[derive(Debug, Clone)]
pub struct PublicAccess {
    /// Methods served without credentials (they must be read-only).
    pub methods: BTreeSet<String>,
    /// Browser origins allowed to call them (`scheme://host[:port]`, compared ignoring ASCII
    /// case).
    pub origins: Vec<String>,
    /// Rate limits.
    pub limits: RateLimits,
    /// Largest unauthenticated request body, in bytes.
    pub max_body_bytes: usize,
    /// Most calls in one unauthenticated batch.
    pub max_batch: usize,
}

impl PublicAccess {
    /// `methods` for `origins`, with the default limits, a 16 KiB body cap and batches of at
    /// most 16 calls.
    pub fn new<S: Into<String>>(
        methods: impl IntoIterator<Item = S>,
        origins: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            methods: methods.into_iter().map(Into::into).collect(),
            origins: origins.into_iter().map(Into::into).collect(),
            limits: RateLimits::default(),
            max_body_bytes: 16 * 1024,
            max_batch: 16,
        }
    }

    /// Whether `method` is served without credentials.
    pub fn allows_method(&self, method: &str) -> bool {
        self.methods.contains(method)
    }

    /// Whether the `Origin` header value `origin` may call the public methods.
    pub fn allows_origin(&self, origin: &HeaderValue) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim().trim_end_matches('/');
        self.origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: f64::from(rate.burst),
            last: now,
        }
    }

    /// Refills for the time since the last call, then takes a token if there is one.
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * f64::from(rate.per_second)).min(f64::from(rate.burst));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why a request was refused by the [`RateLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateLimited {
    /// This client sent too many requests.
    #[error("too many requests from this client")]
    Client,
    /// All clients together sent too many requests.
    #[error("too many requests to this server")]
    Global,
}

impl RateLimited {
    /// How long a client should wait before trying again.
    pub fn retry_after(self) -> Duration {
        Duration::from_secs(1)
    }
}

#[derive(Debug)]
struct Buckets {
    global: Bucket,
    clients: HashMap<IpAddr, Bucket>,
}

/// Token buckets per client and for everybody.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<Buckets>,
}

impl RateLimiter {
    /// A limiter with full buckets.
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(Buckets {
                global: Bucket::full(limits.global, Instant::now()),
                clients: HashMap::new(),
            }),
        }
    }

    /// Takes a token for a request from `client` at `now`, or says which limit it hit.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), RateLimited> {
        let key = client_key(client);
        let limits = self.limits;
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !b.clients.contains_key(&key) && b.clients.len() >= limits.max_clients.max(1) {
            // Forget the client seen longest ago (a full bucket again if it comes back).
            if let Some(oldest) = b
                .clients
                .iter()
                .min_by_key(|(_, v)| v.last)
                .map(|(k, _)| *k)
            {
                b.clients.remove(&oldest);
            }
        }
        let client = b
            .clients
            .entry(key)
            .or_insert_with(|| Bucket::full(limits.per_client, now));
        if !client.take(limits.per_client, now) {
            return Err(RateLimited::Client);
        }
        if !b.global.take(limits.global, now) {
            return Err(RateLimited::Global);
        }
        Ok(())
    }

    /// Clients tracked now.
    pub fn tracked_clients(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clients
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn limits(per_client: u32, global: u32, max_clients: usize) -> RateLimits {
        RateLimits {
            per_client: Rate {
                per_second: per_client,
                burst: per_client,
            },
            global: Rate {
                per_second: global,
                burst: global,
            },
            max_clients,
        }
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_refill() {
        let limiter = RateLimiter::new(limits(5, 1000, 10));
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.check(ip, t0), Ok(()));
        }
        assert_eq!(limiter.check(ip, t0), Err(RateLimited::Client));
        // Another client is not affected.
        assert_eq!(
            limiter.check(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), t0),
            Ok(())
        );
        // 200 ms at 5/s refills one token.
        let later = t0 + Duration::from_millis(200);
        assert_eq!(limiter.check(ip, later), Ok(()));
        assert_eq!(limiter.check(ip, later), Err(RateLimited::Client));
    }

    #[test]
    fn the_global_bucket_caps_many_clients() {
        let limiter = RateLimiter::new(limits(100, 3, 100));
        let t0 = Instant::now();
        for i in 0..3u8 {
            assert_eq!(
                limiter.check(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)), t0),
                Ok(())
            );
        }
        assert_eq!(
            limiter.check(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), t0),
            Err(RateLimited::Global)
        );
    }

    #[test]
    fn a_flood_of_distinct_clients_keeps_the_table_bounded() {
        let limiter = RateLimiter::new(limits(1, u32::MAX, 64));
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let _ = limiter.check(
                IpAddr::V4(Ipv4Addr::from(i)),
                t0 + Duration::from_micros(u64::from(i)),
            );
        }
        assert_eq!(limiter.tracked_clients(), 64);
    }

    #[test]
    fn ipv6_hosts_of_one_prefix_share_a_bucket() {
        let limiter = RateLimiter::new(limits(2, 1000, 10));
        let t0 = Instant::now();
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::7".parse().unwrap();
        assert_eq!(limiter.check(IpAddr::V6(a), t0), Ok(()));
        assert_eq!(limiter.check(IpAddr::V6(b), t0), Ok(()));
        assert_eq!(limiter.check(IpAddr::V6(a), t0), Err(RateLimited::Client));
        assert_eq!(limiter.tracked_clients(), 1);
    }

    #[test]
    fn origins_compare_exactly_ignoring_case_and_a_trailing_slash() {
        let access = PublicAccess::new(["m"], ["http://127.0.0.1:3001"]);
        let ok = |o: &str| access.allows_origin(&HeaderValue::from_str(o).unwrap());
        assert!(ok("http://127.0.0.1:3001"));
        assert!(ok("HTTP://127.0.0.1:3001/"));
        assert!(!ok("http://127.0.0.1:3002"));
        assert!(!ok("http://127.0.0.1:30011"));
        assert!(!ok("https://127.0.0.1:3001"));
        assert!(!ok("null"));
        assert!(access.allows_method("m"));
        assert!(!access.allows_method("n"));
    }
}
