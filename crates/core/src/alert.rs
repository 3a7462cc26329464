//! The alert model: what a detection yields, with a deterministic id.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::Event;

/// How serious an alert is, with Sigma's level names, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Informational,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The Sigma level name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// A number that sorts like the severity (0 = informational .. 4 = critical).
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// The severity of a rank, saturating at critical.
    pub fn from_rank(rank: u8) -> Severity {
        Severity::ALL[usize::from(rank.min(4))]
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not one of Sigma's levels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}`: expected informational, low, medium, high or critical")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Ok(Severity::Informational),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(UnknownSeverity(s.to_owned())),
        }
    }
}

/// A deterministic alert id: the same rule, group key and window start always give the same id,
/// so replaying a stream after a crash or an outage stores nothing twice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertId(String);

impl AlertId {
    /// The id of the alert of `rule_id` for `group_key` in the window that starts at `window_start`.
    pub fn derive(rule_id: &str, group_key: &str, window_start: DateTime<Utc>) -> AlertId {
        let mut h = Sha256::new();
        h.update(rule_id.as_bytes());
        h.update([0]);
        h.update(group_key.as_bytes());
        h.update([0]);
        let nanos = window_start.timestamp_nanos_opt().unwrap_or(i64::MAX);
        h.update(nanos.to_be_bytes());
        let digest = h.finalize();
        let mut hex = String::with_capacity(32);
        for b in &digest[..16] {
            hex.push_str(&format!("{b:02x}"));
        }
        AlertId(hex)
    }

    /// Wraps an id read back from a store or an API.
    pub fn from_string(id: String) -> AlertId {
        AlertId(id)
    }

    /// The id as text (32 lowercase hex digits for derived ids).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an alert is about: where, in which container, between which addresses, by whom.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// The host that raised the alert.
    pub host: String,
    /// The container id the alert concerns; `None` means the alert could not be attributed, and
    /// then no container action may be taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// The container name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<IpAddr>,
    /// Destination address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<IpAddr>,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Process (image path or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
}

/// The most evidence events one alert carries; later ones are counted, not kept.
pub const MAX_EVIDENCE: usize = 10;

/// A detection: a rule matched, a correlation completed, a detector fired or a finding appeared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic id from rule, group key and window start.
    pub id: AlertId,
    /// The id of the rule or detector.
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// How serious it is.
    pub severity: Severity,
    /// The module that raised it (`sigma`, `network`, `sbom`, ...).
    pub module: String,
    /// Event time of the first evidence event.
    pub event_time: DateTime<Utc>,
    /// When Ironpost detected it.
    pub detected_at: DateTime<Utc>,
    /// Start of the window the alert belongs to.
    pub window_start: DateTime<Utc>,
    /// The group-by values (field name to value); empty for single-event rules.
    #[serde(default)]
    pub group: BTreeMap<String, String>,
    /// How many events the alert covers.
    pub count: u64,
    /// Who and what it concerns.
    pub attribution: Attribution,
    /// Rule tags (`attack.t1110`, ...).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Up to [`MAX_EVIDENCE`] events that caused it.
    #[serde(default)]
    pub evidence: Vec<Event>,
}

impl Alert {
    /// The canonical group key text: `name=value` pairs joined by `,`, in name order.
    pub fn group_key(group: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        for (i, (k, v)) in group.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn severity_orders_like_sigma_levels() {
        assert!(Severity::Informational < Severity::Low);
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::Medium < Severity::High);
        assert!(Severity::High < Severity::Critical);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("urgent".parse::<Severity>().is_err());
        for s in Severity::ALL {
            assert_eq!(Severity::from_rank(s.rank()), s);
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
    }

    #[test]
    fn alert_id_is_deterministic_and_distinguishes_inputs() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let a = AlertId::derive("r1", "src_ip=1.2.3.4", t);
        assert_eq!(a, AlertId::derive("r1", "src_ip=1.2.3.4", t));
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a, AlertId::derive("r2", "src_ip=1.2.3.4", t));
        assert_ne!(a, AlertId::derive("r1", "src_ip=1.2.3.5", t));
        assert_ne!(
            a,
            AlertId::derive("r1", "src_ip=1.2.3.4", t + chrono::Duration::seconds(1))
        );
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(AlertId::derive("ab", "c", t), AlertId::derive("a", "bc", t));
    }

    #[test]
    fn group_key_is_sorted_by_name() {
        let mut g = BTreeMap::new();
        g.insert("user".to_owned(), "root".to_owned());
        g.insert("src_ip".to_owned(), "10.0.0.1".to_owned());
        assert_eq!(Alert::group_key(&g), "src_ip=10.0.0.1,user=root");
    }
}
