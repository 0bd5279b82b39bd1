//! A Redis Cluster of the test's own: three masters without replicas on free loopback
//! ports, nothing persisted (only each node's cluster file, in a temporary directory),
//! killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::helpers::free_port;

/// How long a master may be silent before the others declare it failed. Short, so
/// that the fault tests see the cluster react within a couple of seconds.
const NODE_TIMEOUT_MS: &str = "1000";

pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

struct Node {
    port: u16,
    bus_port: u16,
    child: Option<Child>,
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

impl Node {
    fn start(&mut self, dir: &Path) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port])
            // The bus port is chosen too: port + 10000 may be taken, or past 65535.
            .args(["--cluster-enabled", "yes", "--cluster-port"])
            .arg(self.bus_port.to_string())
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            .args(["--cluster-node-timeout", NODE_TIMEOUT_MS])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `CLUSTER INFO`'s `cluster_state` as this node sees it.
    fn state(&self) -> Option<String> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_millis(500))
            .ok()?;
        let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut conn).ok()?;
        info.lines()
            .find_map(|line| line.trim().strip_prefix("cluster_state:"))
            .map(str::to_owned)
    }
}

impl RedisCluster {
    /// Starts three masters and joins them into one cluster; `None` when redis-server
    /// or redis-cli is not installed, which under CI is a failure.
    pub fn start() -> Option<RedisCluster> {
        if !installed("redis-server") || !installed("redis-cli") {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the Redis Cluster tests: install redis-server and redis-cli"
            );
            eprintln!("skipped: redis-server or redis-cli is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut nodes: Vec<Node> = (0..3)
            .map(|_| Node {
                port: free_port(),
                bus_port: free_port(),
                child: None,
            })
            .collect();
        for node in &mut nodes {
            node.start(dir.path());
        }
        let cluster = RedisCluster { nodes, dir };
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(
                cluster
                    .nodes
                    .iter()
                    .map(|n| format!("127.0.0.1:{}", n.port)),
            )
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        for node in 0..cluster.nodes.len() {
            cluster.wait_for_state(node, "ok");
        }
        Some(cluster)
    }

    /// One cluster for every test that holds it; started by the first, stopped when the
    /// last lets go (a static would never be dropped, and would leave the servers running).
    pub fn shared() -> Option<Arc<RedisCluster>> {
        static SHARED: Mutex<Weak<RedisCluster>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cluster) = shared.upgrade() {
            return Some(cluster);
        }
        let cluster = Arc::new(RedisCluster::start()?);
        *shared = Arc::downgrade(&cluster);
        Some(cluster)
    }

    /// The URL of every node, as `redis.cluster_urls`.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// Kills master `node`, losing the keys of its slots.
    pub fn kill(&mut self, node: usize) {
        self.nodes[node].kill();
    }

    /// Starts master `node` again, empty; it rejoins with its slots from its node file.
    pub fn restart(&mut self, node: usize) {
        self.nodes[node].start(self.dir.path());
    }

    /// Waits until `node` reports `cluster_state:<state>`.
    pub fn wait_for_state(&self, node: usize, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.nodes[node].state().as_deref() != Some(state) {
            assert!(
                Instant::now() < deadline,
                "node {node} never reported cluster_state:{state}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many keys starting with `prefix` each master holds.
    pub fn keys_per_node(&self, prefix: &str) -> Vec<usize> {
        self.nodes
            .iter()
            .map(|node| {
                let mut conn = redis::Client::open(node.url())
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}*"))
                    .query(&mut conn)
                    .unwrap();
                keys.len()
            })
            .collect()
    }

    /// Empties master `node` under the running cluster, as a restart without
    /// persistence (or a failover to a replica that missed the latest writes) would.
    pub fn flush(&self, node: usize) {
        let mut conn = redis::Client::open(self.nodes[node].url())
            .unwrap()
            .get_connection()
            .unwrap();
        let _: () = redis::cmd("FLUSHALL").query(&mut conn).unwrap();
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }
}
