//! Name resolution with a short-lived cache: a burst of connections to one host (a pool
//! growing, many origins on one name) asks the system resolver once. Lookups run on the
//! runtime's blocking threads (`getaddrinfo` blocks), never on a connection's thread.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a resolved address list is reused: curl's default DNS cache timeout.
pub(crate) const DNS_CACHE_TTL: Duration = Duration::from_secs(60);

/// Names kept at most; past it, expired entries go first, then everything (a client that
/// talks to very many hosts resolves again rather than growing).
const MAX_ENTRIES: usize = 1024;

/// `host:port` → its addresses and when they were resolved.
type Entries = HashMap<(String, u16), (Vec<SocketAddr>, Instant)>;

/// Resolved `host:port` address lists, each kept for [`DNS_CACHE_TTL`].
#[derive(Debug, Default)]
pub(crate) struct DnsCache {
    entries: Mutex<Entries>,
}

impl DnsCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The addresses of `host:port`: from the cache if resolved less than the TTL ago, else
    /// from the system resolver (an empty answer is an error, and errors are not cached).
    pub(crate) async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let key = (host.to_string(), port);
        if let Some((addrs, at)) = self.lock().get(&key) {
            if at.elapsed() < DNS_CACHE_TTL {
                return Ok(addrs.clone());
            }
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        if addrs.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the resolver returned no address",
            ));
        }
        // An IP literal needs no cache.
        if host.parse::<std::net::IpAddr>().is_err() {
            self.insert(key, addrs.clone());
        }
        Ok(addrs)
    }

    fn insert(&self, key: (String, u16), addrs: Vec<SocketAddr>) {
        let mut m = self.lock();
        if m.len() >= MAX_ENTRIES {
            m.retain(|_, (_, at)| at.elapsed() < DNS_CACHE_TTL);
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
        }
        m.insert(key, (addrs, Instant::now()));
    }

    /// Forgets `host:port`: none of its addresses could be connected to, so the next
    /// connection asks the resolver again (the host may have moved).
    pub(crate) fn forget(&self, host: &str, port: u16) {
        self.lock().remove(&(host.to_string(), port));
    }

    /// Names held now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_resolved_once_within_the_ttl_and_again_after_forget() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let c = DnsCache::default();
            let a = c.lookup("localhost", 80).await.unwrap();
            assert!(
                a.iter().all(|s| s.ip().is_loopback() && s.port() == 80),
                "{a:?}"
            );
            assert_eq!(c.len(), 1);
            // Planted entry: served from the cache, not the resolver.
            let planted = vec!["192.0.2.7:80".parse().unwrap()];
            c.insert(("localhost".into(), 80), planted.clone());
            assert_eq!(c.lookup("localhost", 80).await.unwrap(), planted);
            c.forget("localhost", 80);
            assert_ne!(c.lookup("localhost", 80).await.unwrap(), planted);
            // Literals and failures are not kept.
            c.lookup("127.0.0.1", 1).await.unwrap();
            assert!(c.lookup("no-such-host.invalid", 1).await.is_err());
            assert_eq!(c.len(), 1);
        });
    }

    #[test]
    fn the_cache_does_not_grow_without_bound() {
        let c = DnsCache::default();
        for i in 0..(MAX_ENTRIES * 3) {
            c.insert((format!("h{i}"), 1), vec!["127.0.0.1:1".parse().unwrap()]);
        }
        assert!(c.len() <= MAX_ENTRIES);
    }
}
