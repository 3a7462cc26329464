//! Which container an alert concerns.
//!
//! Every clue an alert carries is resolved against the live inventory: the container named in
//! its attribution (set by detection from a log record's or process event's container), the
//! containers of its evidence (a process event's cgroup id or container, a log record's
//! container, a network event's addresses) and the owners of its source and destination
//! addresses. The alert is attributed only when the clues name exactly one container; none, or
//! two different ones, leave it unattributed, and an unattributed alert never triggers a
//! container action.

use std::net::IpAddr;
use std::sync::Arc;

use ironpost_core::event::Event;
use ironpost_core::{Alert, FieldSource};

use crate::inventory::{ContainerInfo, Inventory};

/// How an alert was attributed, or why not.
#[derive(Debug, Clone, PartialEq)]
pub enum Attributed {
    /// The alert concerns this container; `via` names the clue that decided.
    Container {
        /// The container.
        container: Arc<ContainerInfo>,
        /// The clue: `attribution.container`, `evidence.cgroup`, `src_ip`, ...
        via: &'static str,
    },
    /// No clue names a known container.
    None,
    /// The clues name different containers (their ids).
    Ambiguous(Vec<String>),
}

/// Attributes `alert` using `inventory`.
///
/// Clues are weighed in order of directness: the attribution's container, the evidence's
/// containers (cgroup id, container reference, container event), then addresses. Addresses
/// count only when nothing more direct spoke: a network alert between two containers is
/// attributed to its source (the container acting), and only to the destination when the
/// source is not a container.
pub fn attribute(alert: &Alert, inventory: &Inventory) -> Attributed {
    let mut direct: Vec<(Arc<ContainerInfo>, &'static str)> = Vec::new();
    let a = &alert.attribution;
    if let Some(c) = a
        .container_id
        .as_deref()
        .and_then(|id| inventory.get(id))
        .or_else(|| a.container_name.as_deref().and_then(|n| inventory.get(n)))
    {
        direct.push((c, "attribution.container"));
    }
    let mut src: Option<IpAddr> = a.src_ip;
    let mut dst: Option<IpAddr> = a.dst_ip;
    for event in &alert.evidence {
        match event {
            Event::Process(p) => {
                if p.cgroup_id != 0
                    && let Some(c) = inventory.by_cgroup_id(p.cgroup_id)
                {
                    direct.push((c, "evidence.cgroup_id"));
                } else if let Some(c) = p.container.as_ref().and_then(|r| inventory.get(&r.id)) {
                    direct.push((c, "evidence.container"));
                }
            }
            Event::Log(l) => {
                if let Some(c) = l.container.as_ref().and_then(|r| inventory.get(&r.id)) {
                    direct.push((c, "evidence.container"));
                }
            }
            Event::Container(c) => {
                if let Some(c) = inventory.get(&c.container.id) {
                    direct.push((c, "evidence.container"));
                }
            }
            Event::Network(_) => {
                let ip = |name| match event.field(name) {
                    Some(ironpost_core::FieldValue::Ip(ip)) => Some(ip),
                    Some(v) => v.as_str().and_then(|s| s.parse().ok()),
                    None => None,
                };
                src = src.or_else(|| ip("src_ip"));
                dst = dst.or_else(|| ip("dst_ip"));
            }
        }
    }
    let decided = |found: Vec<(Arc<ContainerInfo>, &'static str)>| {
        let mut ids: Vec<String> = found.iter().map(|(c, _)| c.id.clone()).collect();
        ids.sort();
        ids.dedup();
        match ids.len() {
            0 => None,
            1 => found
                .into_iter()
                .next()
                .map(|(container, via)| Attributed::Container { container, via }),
            _ => Some(Attributed::Ambiguous(ids)),
        }
    };
    if let Some(d) = decided(direct) {
        return d;
    }
    if let Some(c) = src.and_then(|ip| inventory.by_ip(ip)) {
        return Attributed::Container {
            container: c,
            via: "src_ip",
        };
    }
    if let Some(c) = dst.and_then(|ip| inventory.by_ip(ip)) {
        return Attributed::Container {
            container: c,
            via: "dst_ip",
        };
    }
    Attributed::None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;
    use ironpost_core::event::{ContainerRef, LogRecord, ProcessEvent};
    use ironpost_core::{AlertId, Attribution, Severity};

    use super::*;
    use crate::inventory::NetworkAttachment;

    fn container(n: char, ip: &str, cg: u64) -> ContainerInfo {
        ContainerInfo {
            id: n.to_string().repeat(64),
            name: format!("c{n}"),
            image: "busybox".into(),
            labels: BTreeMap::new(),
            state: "running".into(),
            pid: 1,
            network_mode: "bridge".into(),
            networks: vec![NetworkAttachment {
                name: "bridge".into(),
                network_id: String::new(),
                ipv4: ip.parse().ok(),
                ipv6: None,
                aliases: vec![],
                static_ipv4: None,
                static_ipv6: None,
            }],
            cgroup_path: None,
            cgroup_id: Some(cg),
            started_at: None,
        }
    }

    fn inventory() -> Inventory {
        let inv = Inventory::new();
        inv.upsert(container('a', "172.18.0.2", 10));
        inv.upsert(container('b', "172.18.0.3", 20));
        inv
    }

    fn alert() -> Alert {
        let now = Utc::now();
        Alert {
            id: AlertId::derive("r", "", now),
            rule_id: "r".into(),
            title: "t".into(),
            severity: Severity::High,
            module: "sigma".into(),
            event_time: now,
            detected_at: now,
            window_start: now,
            group: BTreeMap::new(),
            count: 1,
            attribution: Attribution::default(),
            tags: vec![],
            evidence: vec![],
        }
    }

    fn process(cgroup_id: u64) -> Event {
        Event::Process(ProcessEvent {
            timestamp: Utc::now(),
            pid: 7,
            ppid: 1,
            uid: 0,
            gid: 0,
            user: None,
            image: "/bin/sh".into(),
            argv: vec!["sh".into()],
            argv_truncated: false,
            command_line: "sh".into(),
            cwd: None,
            parent_image: None,
            parent_command_line: None,
            cgroup_id,
            container: None,
        })
    }

    fn name(a: &Attributed) -> Option<(&str, &str)> {
        match a {
            Attributed::Container { container, via } => Some((container.name.as_str(), via)),
            _ => None,
        }
    }

    #[test]
    fn an_alert_without_clues_is_unattributed() {
        assert_eq!(attribute(&alert(), &inventory()), Attributed::None);
        let mut a = alert();
        a.attribution.container_id = Some("f".repeat(64));
        a.attribution.src_ip = Some("10.9.9.9".parse().unwrap());
        assert_eq!(attribute(&a, &inventory()), Attributed::None);
    }

    #[test]
    fn a_process_cgroup_names_its_container() {
        let mut a = alert();
        a.evidence.push(process(20));
        assert_eq!(
            name(&attribute(&a, &inventory())),
            Some(("cb", "evidence.cgroup_id"))
        );
    }

    #[test]
    fn a_container_log_names_its_container() {
        let mut a = alert();
        let mut rec = LogRecord::new("docker", "json", "GET /etc/passwd");
        rec.container = Some(ContainerRef {
            id: "a".repeat(64),
            name: Some("ca".into()),
            image: None,
        });
        a.evidence.push(Event::Log(rec));
        assert_eq!(
            name(&attribute(&a, &inventory())),
            Some(("ca", "evidence.container"))
        );
        a.attribution.container_name = Some("ca".into());
        assert_eq!(
            name(&attribute(&a, &inventory())),
            Some(("ca", "attribution.container"))
        );
    }

    #[test]
    fn addresses_prefer_the_acting_source() {
        let mut a = alert();
        a.attribution.src_ip = Some("172.18.0.3".parse().unwrap());
        a.attribution.dst_ip = Some("172.18.0.2".parse().unwrap());
        assert_eq!(name(&attribute(&a, &inventory())), Some(("cb", "src_ip")));
        a.attribution.src_ip = Some("203.0.113.5".parse().unwrap());
        assert_eq!(name(&attribute(&a, &inventory())), Some(("ca", "dst_ip")));
    }

    #[test]
    fn clues_naming_two_containers_are_ambiguous() {
        let mut a = alert();
        a.attribution.container_name = Some("ca".into());
        a.evidence.push(process(20));
        assert!(
            matches!(attribute(&a, &inventory()), Attributed::Ambiguous(ids) if ids.len() == 2)
        );
    }
}
