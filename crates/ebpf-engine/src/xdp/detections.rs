//! What userspace makes of a ring-buffer record: a [`NetworkEvent`] for detection and an
//! [`Alert`] (port scan, SYN flood, blocked source seen).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ironpost_core::event::{NetworkEvent, NetworkEventKind};
use ironpost_core::{Alert, AlertId, Attribution, Severity};

use super::abi::{
    EVENT_BLOCKED_SOURCE, EVENT_PORT_SCAN, EVENT_SYN_FLOOD, IP_ACTION_DROP, RawEvent,
};
use super::net::from_mapped_bytes;

/// Rule id of port-scan alerts.
pub const RULE_PORT_SCAN: &str = "ironpost.xdp.port_scan";
/// Rule id of SYN-flood alerts.
pub const RULE_SYN_FLOOD: &str = "ironpost.xdp.syn_flood";
/// Rule id of blocked-source alerts.
pub const RULE_BLOCKED_SOURCE: &str = "ironpost.xdp.blocked_source";
/// The module name alerts carry.
pub const MODULE: &str = "xdp";

/// One kernel report, as an event and as an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The observation, for the event bus.
    pub event: NetworkEvent,
    /// The alert it raises.
    pub alert: Alert,
}

impl Detection {
    /// True for the detections the auto-block responder acts on (scans and floods, not
    /// reports of sources already blocked).
    pub fn is_attack(&self) -> bool {
        matches!(
            self.event.kind,
            NetworkEventKind::PortScan | NetworkEventKind::SynFlood
        )
    }
}

fn protocol_name(proto: u8) -> String {
    match proto {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmpv6".into(),
        n => n.to_string(),
    }
}

/// Turns `raw` into a detection. `now` and `mono_now` (CLOCK_MONOTONIC nanoseconds) read at the
/// same moment place the kernel's timestamp on the wall clock; `None` for an unknown kind.
pub fn detection(
    raw: &RawEvent,
    interface: &str,
    host: &str,
    now: DateTime<Utc>,
    mono_now: u64,
) -> Option<Detection> {
    let kind = match raw.kind {
        EVENT_PORT_SCAN => NetworkEventKind::PortScan,
        EVENT_SYN_FLOOD => NetworkEventKind::SynFlood,
        EVENT_BLOCKED_SOURCE => NetworkEventKind::BlockedSource,
        _ => return None,
    };
    let age = mono_now.saturating_sub(raw.timestamp_ns);
    let timestamp = if age < 3_600_000_000_000 {
        now - chrono::Duration::nanoseconds(age as i64)
    } else {
        // A supplied clock (tests) or a stale record: the reading time is the best we know.
        now
    };
    let src = from_mapped_bytes(raw.src);
    let dst = from_mapped_bytes(raw.dst);
    let port = |p: u16| (p != 0).then_some(p);
    let event = NetworkEvent {
        timestamp,
        kind,
        src_ip: src,
        dst_ip: Some(dst),
        src_port: port(raw.src_port),
        dst_port: port(raw.dst_port),
        protocol: protocol_name(raw.l4_proto),
        count: u64::from(raw.count),
        interface: interface.to_owned(),
        container: None,
    };
    let (rule, title, severity, tags) = match kind {
        NetworkEventKind::PortScan => (
            RULE_PORT_SCAN,
            format!("Port scan from {src}: {} distinct ports", raw.count),
            Severity::Medium,
            vec!["attack.discovery", "attack.t1046"],
        ),
        NetworkEventKind::SynFlood => (
            RULE_SYN_FLOOD,
            format!("SYN flood from {src}: {} SYNs", raw.count),
            Severity::High,
            vec!["attack.impact", "attack.t1498"],
        ),
        _ => (
            RULE_BLOCKED_SOURCE,
            format!(
                "Traffic from blocklisted {src} ({})",
                if u32::from(raw.action) == IP_ACTION_DROP {
                    "dropped"
                } else {
                    "monitored"
                }
            ),
            Severity::Low,
            vec!["ironpost.blocklist"],
        ),
    };
    let group = BTreeMap::from([("src_ip".to_owned(), src.to_string())]);
    let alert = Alert {
        // The host is part of the key: a fleet's hosts share one store.
        id: AlertId::derive(
            rule,
            &format!("{host}/{}", Alert::group_key(&group)),
            timestamp,
        ),
        rule_id: rule.to_owned(),
        title,
        severity,
        module: MODULE.to_owned(),
        event_time: timestamp,
        detected_at: now,
        window_start: timestamp,
        group,
        count: u64::from(raw.count),
        attribution: Attribution {
            host: host.to_owned(),
            src_ip: Some(src),
            dst_ip: Some(dst),
            ..Attribution::default()
        },
        tags: tags.into_iter().map(str::to_owned).collect(),
        evidence: vec![ironpost_core::Event::Network(event.clone())],
    };
    Some(Detection { event, alert })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdp::net::to_mapped_bytes;

    fn raw(kind: u32) -> RawEvent {
        RawEvent {
            timestamp_ns: 5_000,
            src: to_mapped_bytes("198.51.100.7".parse().unwrap()),
            dst: to_mapped_bytes("192.0.2.1".parse().unwrap()),
            kind,
            count: 20,
            src_port: 40000,
            dst_port: 22,
            family: 4,
            l4_proto: 6,
            action: 0,
            prefix_len: 0,
        }
    }

    #[test]
    fn a_port_scan_record_becomes_an_event_and_an_alert() {
        let now = Utc::now();
        let d = detection(&raw(EVENT_PORT_SCAN), "eth0", "h1", now, 6_000).unwrap();
        assert_eq!(d.event.kind, NetworkEventKind::PortScan);
        assert_eq!(d.event.src_ip.to_string(), "198.51.100.7");
        assert_eq!(d.event.dst_port, Some(22));
        assert_eq!(d.event.protocol, "tcp");
        assert_eq!(d.event.count, 20);
        assert_eq!(
            d.event.timestamp,
            now - chrono::Duration::nanoseconds(1_000)
        );
        assert_eq!(d.alert.rule_id, RULE_PORT_SCAN);
        assert_eq!(d.alert.severity, Severity::Medium);
        assert_eq!(d.alert.attribution.src_ip, d.event.src_ip.into());
        assert_eq!(d.alert.group["src_ip"], "198.51.100.7");
        assert!(d.is_attack());
        // The same record read again gives the same alert id.
        let again = detection(&raw(EVENT_PORT_SCAN), "eth0", "h1", now, 6_000).unwrap();
        assert_eq!(again.alert.id, d.alert.id);
    }

    #[test]
    fn alerts_survive_a_json_round_trip() {
        let d = detection(&raw(EVENT_SYN_FLOOD), "eth0", "h", Utc::now(), 0).unwrap();
        let text = serde_json::to_string(&d.alert).unwrap();
        let back: Alert = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d.alert);
    }

    #[test]
    fn blocked_source_records_are_not_attacks_and_unknown_kinds_are_skipped() {
        let d = detection(&raw(EVENT_BLOCKED_SOURCE), "eth0", "h", Utc::now(), 0).unwrap();
        assert_eq!(d.alert.rule_id, RULE_BLOCKED_SOURCE);
        assert!(!d.is_attack());
        assert!(detection(&raw(99), "eth0", "h", Utc::now(), 0).is_none());
        let flood = detection(&raw(EVENT_SYN_FLOOD), "eth0", "h", Utc::now(), 0).unwrap();
        assert_eq!(flood.alert.severity, Severity::High);
    }
}
