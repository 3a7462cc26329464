//! The live container inventory: what runs on this host, kept current from the Engine's events
//! stream rather than by polling.
//!
//! [`follow`] subscribes to container and network events first, then lists and inspects every
//! container, so no change made during the listing is missed; afterwards each event re-inspects
//! only the container it names. Lookups (by id or name, by address, by cgroup id or path) take a
//! read lock for a few hash lookups and never wait on Docker.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, EventMessageTypeEnum};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::cgroup;
use crate::error::GuardError;

/// One network a container is attached to, with what is needed to attach it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    /// The network's name.
    pub name: String,
    /// The network's id.
    #[serde(default)]
    pub network_id: String,
    /// The container's IPv4 address on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<IpAddr>,
    /// The container's IPv6 address on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<IpAddr>,
    /// Aliases the user gave (Docker's own short-id alias left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The IPv4 address the user fixed at creation (`--ip`), to ask for again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_ipv4: Option<String>,
    /// The IPv6 address the user fixed at creation (`--ip6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_ipv6: Option<String>,
}

/// What the guard knows about one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// The full id.
    pub id: String,
    /// The name, without the leading slash.
    pub name: String,
    /// The image as the container was created from it (`nginx:1.27`).
    pub image: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `created`, `running`, `paused`, `exited`, ...
    pub state: String,
    /// The init process id on the host (0 when not running).
    pub pid: u32,
    /// The network mode (`bridge`, `host`, `none`, `container:<id>`, a network name).
    pub network_mode: String,
    /// Attached networks.
    pub networks: Vec<NetworkAttachment>,
    /// The unified-hierarchy cgroup path of the init process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_path: Option<String>,
    /// The cgroup id (inode) of that path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_id: Option<u64>,
    /// When the container last started (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
}

impl ContainerInfo {
    /// Builds the record from an inspect answer; `None` when the answer has no id.
    pub fn from_inspect(c: &ContainerInspectResponse) -> Option<ContainerInfo> {
        let id = c.id.clone()?;
        let config = c.config.as_ref();
        let state = c.state.as_ref();
        let pid = state
            .and_then(|s| s.pid)
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0);
        let short = &id[..id.len().min(12)];
        let networks = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .map(|nets| {
                let mut v: Vec<NetworkAttachment> = nets
                    .iter()
                    .map(|(name, ep)| NetworkAttachment {
                        name: name.clone(),
                        network_id: ep.network_id.clone().unwrap_or_default(),
                        ipv4: ep.ip_address.as_deref().and_then(|a| a.parse().ok()),
                        ipv6: ep
                            .global_ipv6_address
                            .as_deref()
                            .and_then(|a| a.parse().ok()),
                        aliases: ep
                            .aliases
                            .iter()
                            .flatten()
                            .filter(|a| a.as_str() != short && a.as_str() != id)
                            .cloned()
                            .collect(),
                        static_ipv4: ep
                            .ipam_config
                            .as_ref()
                            .and_then(|i| i.ipv4_address.clone())
                            .filter(|a| !a.is_empty()),
                        static_ipv6: ep
                            .ipam_config
                            .as_ref()
                            .and_then(|i| i.ipv6_address.clone())
                            .filter(|a| !a.is_empty()),
                    })
                    .collect();
                v.sort_by(|a, b| a.name.cmp(&b.name));
                v
            })
            .unwrap_or_default();
        Some(ContainerInfo {
            name: c
                .name
                .as_deref()
                .unwrap_or("")
                .trim_start_matches('/')
                .to_owned(),
            image: config
                .and_then(|c| c.image.clone())
                .or_else(|| c.image.clone())
                .unwrap_or_default(),
            labels: config
                .and_then(|c| c.labels.clone())
                .map(|l| l.into_iter().collect())
                .unwrap_or_default(),
            state: state
                .and_then(|s| s.status)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            pid,
            network_mode: c
                .host_config
                .as_ref()
                .and_then(|h| h.network_mode.clone())
                .unwrap_or_default(),
            networks,
            cgroup_path: None,
            cgroup_id: None,
            started_at: state
                .and_then(|s| s.started_at.as_deref())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp())
                .filter(|t| *t > 0),
            id,
        })
    }

    /// True when the label `name` is set to `true` (any case) or `1`.
    pub fn label_is_true(&self, name: &str) -> bool {
        self.labels
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }
}

#[derive(Debug, Default)]
struct Maps {
    by_id: HashMap<String, Arc<ContainerInfo>>,
    by_name: HashMap<String, String>,
    by_ip: HashMap<IpAddr, String>,
    by_cgroup_id: HashMap<u64, String>,
}

impl Maps {
    fn insert(&mut self, info: ContainerInfo) {
        self.remove(&info.id);
        let id = info.id.clone();
        self.by_name.insert(info.name.clone(), id.clone());
        // Only a running container owns its addresses; a stopped one keeps stale settings.
        if matches!(info.state.as_str(), "running" | "paused" | "restarting") {
            for n in &info.networks {
                for ip in [n.ipv4, n.ipv6].into_iter().flatten() {
                    self.by_ip.insert(ip, id.clone());
                }
            }
            if let Some(cg) = info.cgroup_id {
                self.by_cgroup_id.insert(cg, id.clone());
            }
        }
        self.by_id.insert(id, Arc::new(info));
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.by_id.remove(id) {
            if self.by_name.get(&old.name).is_some_and(|i| i == id) {
                self.by_name.remove(&old.name);
            }
            self.by_ip.retain(|_, v| v != id);
            self.by_cgroup_id.retain(|_, v| v != id);
        }
    }
}

/// The shared inventory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Inventory {
    maps: Arc<RwLock<Maps>>,
    version: Arc<watch::Sender<u64>>,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory {
            maps: Arc::default(),
            version: Arc::new(watch::channel(0).0),
        }
    }
}

impl Inventory {
    /// An empty inventory.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        self.maps.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Adds or replaces a container.
    pub fn upsert(&self, info: ContainerInfo) {
        self.write().insert(info);
        self.bump();
    }

    /// Forgets a container.
    pub fn remove(&self, id: &str) {
        self.write().remove(id);
        self.bump();
    }

    /// Replaces the whole content (after a full listing).
    pub fn replace_all(&self, infos: Vec<ContainerInfo>) {
        let mut maps = Maps::default();
        for i in infos {
            maps.insert(i);
        }
        *self.write() = maps;
        self.bump();
    }

    /// The container with this full id, unique id prefix (12 digits at least) or name.
    pub fn get(&self, key: &str) -> Option<Arc<ContainerInfo>> {
        let maps = self.read();
        let key = key.trim_start_matches('/');
        if let Some(c) = maps.by_id.get(key) {
            return Some(c.clone());
        }
        if let Some(c) = maps.by_name.get(key).and_then(|id| maps.by_id.get(id)) {
            return Some(c.clone());
        }
        if key.len() >= 12 {
            let mut hits = maps.by_id.iter().filter(|(id, _)| id.starts_with(key));
            if let (Some((_, c)), None) = (hits.next(), hits.next()) {
                return Some(c.clone());
            }
        }
        None
    }

    /// The running container that owns address `ip`.
    pub fn by_ip(&self, ip: IpAddr) -> Option<Arc<ContainerInfo>> {
        let maps = self.read();
        maps.by_ip
            .get(&ip)
            .and_then(|id| maps.by_id.get(id))
            .cloned()
    }

    /// The running container whose cgroup has id `cgroup_id`.
    pub fn by_cgroup_id(&self, cgroup_id: u64) -> Option<Arc<ContainerInfo>> {
        let maps = self.read();
        maps.by_cgroup_id
            .get(&cgroup_id)
            .and_then(|id| maps.by_id.get(id))
            .cloned()
    }

    /// The container a cgroup path (as in `/proc/<pid>/cgroup`) belongs to.
    pub fn by_cgroup_path(&self, path: &str) -> Option<Arc<ContainerInfo>> {
        let id = cgroup::container_id_in(path)?;
        self.read().by_id.get(id).cloned()
    }

    /// Every container, by name.
    pub fn list(&self) -> Vec<Arc<ContainerInfo>> {
        let mut v: Vec<_> = self.read().by_id.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// How many containers are known.
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    /// True when no container is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A receiver that sees a new value after every change (for waiting without polling).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Waits until `cond` holds for the inventory (checked after every change).
    pub async fn wait_until(&self, mut cond: impl FnMut(&Inventory) -> bool) {
        let mut rx = self.changes();
        loop {
            if cond(self) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Inspects container `id` and fills in its cgroup; `Ok(None)` when it no longer exists.
pub async fn inspect(docker: &Docker, id: &str) -> Result<Option<ContainerInfo>, GuardError> {
    match docker.inspect_container(id, None).await {
        Ok(c) => {
            let Some(mut info) = ContainerInfo::from_inspect(&c) else {
                return Ok(None);
            };
            if info.pid > 0
                && let Some((path, cg_id)) = cgroup::of_process(info.pid)
            {
                info.cgroup_path = Some(path);
                info.cgroup_id = cg_id;
            }
            Ok(Some(info))
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(GuardError::Docker {
            call: "inspect",
            target: id.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// Lists and inspects every container.
pub async fn list_all(docker: &Docker) -> Result<Vec<ContainerInfo>, GuardError> {
    let summaries = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .map_err(|e| GuardError::Docker {
            call: "list containers",
            target: "engine".into(),
            message: e.to_string(),
        })?;
    let mut out = Vec::with_capacity(summaries.len());
    for s in summaries {
        if let Some(id) = s.id
            && let Some(info) = inspect(docker, &id).await?
        {
            out.push(info);
        }
    }
    Ok(out)
}

/// Container event actions after which the container is inspected again.
const REINSPECT: &[&str] = &[
    "create", "start", "restart", "die", "stop", "kill", "pause", "unpause", "rename", "update",
    "oom",
];

/// Keeps `inventory` current: subscribes to events, loads the full list, calls `synced`, then
/// applies events until the stream ends. Returns the error that ended it; the caller retries.
pub async fn follow(
    docker: &Docker,
    inventory: &Inventory,
    synced: impl FnOnce(usize),
) -> Result<(), GuardError> {
    let filters = HashMap::from([("type", vec!["container", "network"])]);
    let options = bollard::query_parameters::EventsOptionsBuilder::default()
        .filters(&filters)
        .build();
    let mut events = Box::pin(docker.events(Some(options)));
    inventory.replace_all(list_all(docker).await?);
    synced(inventory.len());
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| GuardError::Docker {
            call: "events",
            target: "engine".into(),
            message: e.to_string(),
        })?;
        let action = event.action.as_deref().unwrap_or("");
        let actor = event.actor.as_ref();
        let container = match event.typ {
            Some(EventMessageTypeEnum::CONTAINER) => {
                let id = actor.and_then(|a| a.id.as_deref()).unwrap_or("");
                if action == "destroy" {
                    inventory.remove(id);
                    continue;
                }
                if !REINSPECT.contains(&action) {
                    continue;
                }
                id.to_owned()
            }
            Some(EventMessageTypeEnum::NETWORK)
                if action == "connect" || action == "disconnect" =>
            {
                match actor
                    .and_then(|a| a.attributes.as_ref())
                    .and_then(|a| a.get("container"))
                {
                    Some(id) => id.clone(),
                    None => continue,
                }
            }
            _ => continue,
        };
        match inspect(docker, &container).await? {
            Some(info) => inventory.upsert(info),
            None => inventory.remove(&container),
        }
    }
    Err(GuardError::Docker {
        call: "events",
        target: "engine".into(),
        message: "the events stream ended".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, name: &str, ip: &str, state: &str, cg: u64) -> ContainerInfo {
        ContainerInfo {
            id: id.into(),
            name: name.into(),
            image: "busybox".into(),
            labels: BTreeMap::new(),
            state: state.into(),
            pid: 1,
            network_mode: "bridge".into(),
            networks: vec![NetworkAttachment {
                name: "bridge".into(),
                network_id: "n".into(),
                ipv4: ip.parse().ok(),
                ipv6: None,
                aliases: vec![],
                static_ipv4: None,
                static_ipv6: None,
            }],
            cgroup_path: Some(format!("/docker/{id}")),
            cgroup_id: Some(cg),
            started_at: None,
        }
    }

    #[test]
    fn looks_up_by_id_prefix_name_address_and_cgroup() {
        let inv = Inventory::new();
        let a = format!("{}{}", "a".repeat(12), "0".repeat(52));
        let b = format!("{}{}", "b".repeat(12), "0".repeat(52));
        inv.upsert(info(&a, "web", "172.18.0.2", "running", 100));
        inv.upsert(info(&b, "db", "172.18.0.3", "exited", 200));
        assert_eq!(inv.get("web").unwrap().id, a);
        assert_eq!(inv.get("/web").unwrap().id, a);
        assert_eq!(inv.get(&a[..12]).unwrap().name, "web");
        assert!(
            inv.get(&a[..6]).is_none(),
            "short prefixes are ambiguous by design"
        );
        assert_eq!(
            inv.by_ip("172.18.0.2".parse().unwrap()).unwrap().name,
            "web"
        );
        // A stopped container owns no address and no cgroup.
        assert!(inv.by_ip("172.18.0.3".parse().unwrap()).is_none());
        assert!(inv.by_cgroup_id(200).is_none());
        assert_eq!(inv.by_cgroup_id(100).unwrap().name, "web");
        assert_eq!(
            inv.by_cgroup_path(&format!("/docker/{a}")).unwrap().name,
            "web"
        );

        // A renamed, readdressed container leaves no stale index entries.
        inv.upsert(info(&a, "web2", "172.18.0.9", "running", 101));
        assert!(inv.get("web").is_none());
        assert!(inv.by_ip("172.18.0.2".parse().unwrap()).is_none());
        assert!(inv.by_cgroup_id(100).is_none());
        inv.remove(&a);
        assert!(inv.get("web2").is_none());
        assert_eq!(inv.len(), 1);
    }
}
