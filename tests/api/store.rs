//! One behavioural suite for every store: the in-process store and a Redis Cluster of
//! the test's own always (the cluster when redis-server is installed, which CI
//! requires), and the Redis of TEST_REDIS_URL when it is set.

use std::sync::Arc;
use std::time::Duration;

use citizen_idp::store::Store;
use citizen_idp::store::memory::MemoryStore;
use citizen_idp::store::redis::{RedisNodes, RedisOptions, RedisStore};

use crate::redis_cluster::RedisCluster;

type Named = (&'static str, Arc<dyn Store>);

/// The stores under test; iterating keeps the shared cluster running.
struct Stores {
    stores: std::vec::IntoIter<Named>,
    _cluster: Option<Arc<RedisCluster>>,
}

impl Iterator for Stores {
    type Item = Named;

    fn next(&mut self) -> Option<Named> {
        self.stores.next()
    }
}

async fn redis_store(nodes: RedisNodes<'_>) -> RedisStore {
    let prefix = format!("cidp-test:{}:", uuid::Uuid::new_v4().simple());
    RedisStore::connect(RedisOptions {
        nodes,
        key_prefix: &prefix,
        response_timeout: Duration::from_secs(2),
        connection_timeout: Duration::from_secs(2),
    })
    .await
    .unwrap_or_else(|e| panic!("Redis is unreachable: {e}"))
}

async fn stores() -> Stores {
    let mut stores: Vec<Named> = vec![("memory", Arc::new(MemoryStore::new()))];
    if let Some(url) = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        stores.push((
            "redis",
            Arc::new(redis_store(RedisNodes::Single(&url)).await),
        ));
    }
    let cluster = RedisCluster::shared();
    if let Some(cluster) = &cluster {
        let urls = cluster.urls();
        stores.push((
            "redis-cluster",
            Arc::new(redis_store(RedisNodes::Cluster(&urls)).await),
        ));
    }
    Stores {
        stores: stores.into_iter(),
        _cluster: cluster,
    }
}

#[tokio::test]
async fn values_can_be_read_until_deleted() {
    for (name, store) in stores().await {
        store
            .put("k", b"v1".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            store.get("k").await.unwrap().as_deref(),
            Some(&b"v1"[..]),
            "{name}"
        );
        store
            .put("k", b"v2".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            store.get("k").await.unwrap().as_deref(),
            Some(&b"v2"[..]),
            "{name}"
        );
        store.delete("k").await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), None, "{name}");
        assert_eq!(store.get("never-set").await.unwrap(), None, "{name}");
        store.ping().await.unwrap();
    }
}

#[tokio::test]
async fn a_value_can_be_taken_only_once() {
    for (name, store) in stores().await {
        store
            .put("code", b"grant".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            store.take("code").await.unwrap().as_deref(),
            Some(&b"grant"[..]),
            "{name}"
        );
        assert_eq!(store.take("code").await.unwrap(), None, "{name}");
        assert_eq!(store.get("code").await.unwrap(), None, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_concurrent_takers_exactly_one_wins() {
    for (name, store) in stores().await {
        store
            .put("race", b"once".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.take("race").await.unwrap().is_some() })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "{name}");
    }
}

#[tokio::test]
async fn values_expire_after_their_ttl() {
    for (name, store) in stores().await {
        store
            .put("short", b"x".to_vec(), Duration::from_millis(150))
            .await
            .unwrap();
        assert!(store.get("short").await.unwrap().is_some(), "{name}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(store.get("short").await.unwrap(), None, "{name}");
        assert_eq!(store.take("short").await.unwrap(), None, "{name}");
    }
}

#[tokio::test]
async fn set_members_from_concurrent_adds_are_all_kept_and_taken_once() {
    for (name, store) in stores().await {
        let mut adds = tokio::task::JoinSet::new();
        for i in 0..20 {
            let store = store.clone();
            adds.spawn(async move {
                store
                    .add_member("set", &format!("client-{i:02}"), Duration::from_secs(60))
                    .await
            });
        }
        for add in adds.join_all().await {
            add.unwrap();
        }
        store
            .add_member("set", "client-00", Duration::from_secs(60))
            .await
            .unwrap();
        let mut members = store.take_members("set").await.unwrap();
        members.sort();
        let expected: Vec<String> = (0..20).map(|i| format!("client-{i:02}")).collect();
        assert_eq!(members, expected, "{name}");
        assert!(
            store.take_members("set").await.unwrap().is_empty(),
            "{name}"
        );
        assert!(
            store.take_members("never-set").await.unwrap().is_empty(),
            "{name}"
        );

        store
            .add_member("short", "x", Duration::from_millis(50))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(
            store.take_members("short").await.unwrap().is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn of_many_concurrent_put_new_exactly_one_wins_until_expiry() {
    for (name, store) in stores().await {
        let mut puts = tokio::task::JoinSet::new();
        for i in 0..20u8 {
            let store = store.clone();
            puts.spawn(async move {
                store
                    .put_new("jti", vec![i], Duration::from_millis(300))
                    .await
                    .unwrap()
            });
        }
        let winners = puts.join_all().await.into_iter().filter(|won| *won).count();
        assert_eq!(winners, 1, "{name}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            store
                .put_new("jti", vec![0], Duration::from_secs(1))
                .await
                .unwrap(),
            "{name}: free again after expiry"
        );
    }
}

#[tokio::test]
async fn counters_count_within_their_window_then_start_again() {
    for (name, store) in stores().await {
        let window = Duration::from_millis(400);
        assert_eq!(store.increment("hits", window).await.unwrap(), 1, "{name}");
        assert_eq!(store.increment("hits", window).await.unwrap(), 2, "{name}");
        assert_eq!(store.increment("other", window).await.unwrap(), 1, "{name}");
        // The window is fixed: later hits do not push its end back.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(store.increment("hits", window).await.unwrap(), 3, "{name}");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(store.increment("hits", window).await.unwrap(), 1, "{name}");
    }
}

#[tokio::test]
async fn concurrent_increments_are_never_lost() {
    for (name, store) in stores().await {
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .increment("shared", Duration::from_secs(60))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut counts = Vec::new();
        for task in tasks {
            counts.push(task.await.unwrap());
        }
        counts.sort_unstable();
        assert_eq!(counts, (1..=50).collect::<Vec<u64>>(), "{name}");
    }
}

/// Not a check: the time of one store round trip on each store, for the operations
/// guide. Run with
/// `TEST_REDIS_URL=redis://127.0.0.1:6379/ cargo test --release --test api store::round_trip_times -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn round_trip_times() {
    const OPS: usize = 3000;
    const CONCURRENT: usize = 16;
    for (name, store) in stores().await {
        // Sequential: the latency of one operation (a put, a get, or a take).
        let mut latencies = Vec::with_capacity(OPS);
        for i in 0..OPS {
            let key = format!("rt:{}", i % 100);
            let started = std::time::Instant::now();
            match i % 3 {
                0 => store
                    .put(&key, vec![7; 200], Duration::from_secs(60))
                    .await
                    .unwrap(),
                1 => drop(store.get(&key).await.unwrap()),
                _ => drop(store.take(&key).await.unwrap()),
            }
            latencies.push(started.elapsed());
        }
        latencies.sort_unstable();
        let p50 = latencies[OPS / 2];
        let p99 = latencies[OPS * 99 / 100];
        // Concurrent: the throughput of many requests sharing the one connection.
        let started = std::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..CONCURRENT {
            let store = store.clone();
            tasks.spawn(async move {
                for i in 0..OPS / CONCURRENT {
                    let key = format!("rt-c:{t}:{}", i % 10);
                    store
                        .put(&key, vec![7; 200], Duration::from_secs(60))
                        .await
                        .unwrap();
                    store.get(&key).await.unwrap();
                }
            });
        }
        tasks.join_all().await;
        let per_second =
            (2 * (OPS / CONCURRENT) * CONCURRENT) as f64 / started.elapsed().as_secs_f64();
        eprintln!(
            "{name:>14}: sequential p50 {p50:?} p99 {p99:?}; {CONCURRENT} concurrent: {per_second:.0} ops/s"
        );
    }
}
