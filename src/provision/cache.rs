//! Remembers which consumer belongs to which user, and lets one request at a time
//! work on a given user.
//!
//! Supabase calls the access-token hook on every token refresh (about hourly per
//! session), so a warm container must answer those from memory. The cache is bounded
//! in size and age: a container never grows without limit, and a consumer deleted in
//! Zuplo is forgotten after the TTL.
//!
//! The per-user flights turn N concurrent first requests for one user (a burst of
//! retries, or several tabs) into one Zuplo round trip; the others wait and then read
//! the cache. The deterministic consumer name would keep them from creating duplicates
//! anyway, but each would cost a create, a 409 and a lookup. Standard Lambda hands a
//! container one event at a time, so the flights matter where requests do overlap:
//! Lambda Managed Instances (`run_concurrent`), a concurrent command-line sync, tests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::identity::{ConsumerId, ConsumerName};
use crate::deadline::{Deadline, DeadlineExceeded};

pub struct ConsumerCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<Entries>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Default)]
struct Entries {
    by_name: HashMap<String, Entry>,
    /// Insertion order, for evicting the oldest first. May hold stale items for names
    /// that were stored again since; those are skipped when popped.
    order: VecDeque<(String, Instant)>,
}

struct Entry {
    /// The user key the entry was stored for: a lookup by any other key misses, so a
    /// cached consumer is only ever handed to the identity it was cached for.
    key: String,
    consumer_id: ConsumerId,
    stored: Instant,
}

/// Holds the right to work on one consumer name; released on drop.
pub struct Flight<'a> {
    cache: &'a ConsumerCache,
    name: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut flights = lock(&self.cache.flights);
        // Two owners left (the map and us) means nobody else is waiting on this name.
        if Arc::strong_count(&self.lock) == 2 {
            flights.remove(&self.name);
        }
    }
}

/// A poisoned lock only means another request panicked mid-update of a plain map;
/// the map is still usable, and a cache must never take the function down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ConsumerCache {
    /// A TTL of zero disables caching (flights still apply).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        ConsumerCache {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(Entries::default()),
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// The consumer cached under `name` for the user `key`.
    pub fn get(&self, name: &ConsumerName, key: &str) -> Option<ConsumerId> {
        let entries = lock(&self.entries);
        entries
            .by_name
            .get(name.as_str())
            .filter(|e| e.stored.elapsed() < self.ttl && e.key == key)
            .map(|e| e.consumer_id.clone())
    }

    pub fn put(&self, name: &ConsumerName, key: &str, consumer_id: &ConsumerId) {
        let name = name.as_str();
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = lock(&self.entries);
        entries.by_name.insert(
            name.to_owned(),
            Entry {
                key: key.to_owned(),
                consumer_id: consumer_id.clone(),
                stored: now,
            },
        );
        entries.order.push_back((name.to_owned(), now));
        let capacity = self.capacity;
        while entries.by_name.len() > capacity || entries.order.len() > 2 * capacity + 16 {
            let Some((oldest, stored)) = entries.order.pop_front() else {
                break;
            };
            if entries
                .by_name
                .get(&oldest)
                .is_some_and(|e| e.stored == stored)
            {
                entries.by_name.remove(&oldest);
            }
        }
    }

    /// Drops what is cached under `name` (its consumer was deleted).
    pub fn forget(&self, name: &ConsumerName) {
        lock(&self.entries).by_name.remove(name.as_str());
    }

    pub fn len(&self) -> usize {
        lock(&self.entries).by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits (within `deadline`) until no other request is working on `name`.
    pub async fn flight(
        &self,
        name: &ConsumerName,
        deadline: Deadline,
    ) -> Result<Flight<'_>, DeadlineExceeded> {
        let name = name.as_str();
        let lock_for_name = lock(&self.flights)
            .entry(name.to_owned())
            .or_default()
            .clone();
        let mut flight = Flight {
            cache: self,
            name: name.to_owned(),
            lock: lock_for_name.clone(),
            guard: None,
        };
        // On timeout `flight` drops here and tidies the map.
        flight.guard = Some(deadline.run(lock_for_name.lock_owned()).await?);
        Ok(flight)
    }

    #[cfg(test)]
    fn flights_in_map(&self) -> usize {
        lock(&self.flights).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::identity::{ColonIn, Provider, UserKey};

    /// The consumer name of user `u`, and its key.
    fn user(u: &str) -> (ConsumerName, String) {
        let key = UserKey::new(Provider::new("p", 0, ColonIn::Nowhere), &[], u).unwrap();
        (key.consumer_name(), key.as_str().to_owned())
    }

    fn put(cache: &ConsumerCache, u: &str, id: &str) {
        let (name, key) = user(u);
        cache.put(&name, &key, &ConsumerId::new(id));
    }

    fn get(cache: &ConsumerCache, u: &str) -> Option<String> {
        let (name, key) = user(u);
        cache.get(&name, &key).map(|id| id.as_str().to_owned())
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_the_ttl() {
        let cache = ConsumerCache::new(Duration::from_secs(60), 10);
        put(&cache, "c-1", "csmr_1");
        assert_eq!(get(&cache, "c-1").as_deref(), Some("csmr_1"));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(get(&cache, "c-1"), None);
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let cache = ConsumerCache::new(Duration::from_secs(60), 3);
        for i in 0..5 {
            put(&cache, &format!("c-{i}"), &format!("csmr_{i}"));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(get(&cache, "c-0"), None);
        assert_eq!(get(&cache, "c-1"), None);
        assert_eq!(get(&cache, "c-4").as_deref(), Some("csmr_4"));
    }

    #[test]
    fn storing_a_name_again_keeps_the_bound() {
        let cache = ConsumerCache::new(Duration::from_secs(60), 2);
        for i in 0..1000 {
            put(&cache, "c-same", &format!("csmr_{i}"));
        }
        assert_eq!(get(&cache, "c-same").as_deref(), Some("csmr_999"));
        assert!(lock(&cache.entries).order.len() <= 2 * 2 + 16);
    }

    #[test]
    fn a_forgotten_entry_is_gone() {
        let cache = ConsumerCache::new(Duration::from_secs(60), 10);
        put(&cache, "gone", "csmr_1");
        put(&cache, "kept", "csmr_2");
        cache.forget(&user("gone").0);
        assert_eq!(get(&cache, "gone"), None);
        assert_eq!(get(&cache, "kept").as_deref(), Some("csmr_2"));
    }

    #[test]
    fn an_entry_serves_only_the_key_it_was_stored_for() {
        let cache = ConsumerCache::new(Duration::from_secs(60), 10);
        let (name, key) = user("alice");
        cache.put(&name, &key, &ConsumerId::new("csmr_alice"));
        assert_eq!(cache.get(&name, &key), Some(ConsumerId::new("csmr_alice")));
        // Same name, other key (which a real name collision would need): a miss.
        assert_eq!(cache.get(&name, "p:mallory"), None);
    }

    #[test]
    fn zero_ttl_disables_the_cache() {
        let cache = ConsumerCache::new(Duration::ZERO, 10);
        put(&cache, "c-1", "csmr_1");
        assert_eq!(get(&cache, "c-1"), None);
        assert!(cache.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn flights_serialise_one_name_and_clean_up() {
        let cache = ConsumerCache::new(Duration::from_secs(60), 10);
        let deadline = Deadline::after(Duration::from_secs(1));
        let first = cache.flight(&user("c-1").0, deadline).await.unwrap();
        // Another name is not blocked.
        let other = cache.flight(&user("c-2").0, deadline).await.unwrap();
        drop(other);
        // The same name waits until the deadline while the first flight is held.
        assert!(cache.flight(&user("c-1").0, deadline).await.is_err());
        drop(first);
        assert_eq!(cache.flights_in_map(), 0);
        let again = cache
            .flight(&user("c-1").0, Deadline::after(Duration::from_secs(1)))
            .await;
        assert!(again.is_ok());
    }
}
