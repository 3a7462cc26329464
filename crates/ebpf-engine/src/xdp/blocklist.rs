//! The block and allow entries the sensor should enforce: from the config file, from
//! `ironpost block` through the control socket, and from the auto-block responder.
//!
//! [`Blocklist`] is the wanted state, shared between whoever changes it and the sensor, which
//! installs it into the kernel maps whenever it changes ([`Blocklist::changed`]). Entries with a
//! time to live are removed once expired ([`Blocklist::expire`]); the kernel also ignores an
//! expired entry on its own, so a late sweep never extends a block.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::abi::{IP_ACTION_DROP, IP_ACTION_MONITOR};
use super::net::IpNet;

/// What a block entry does with matching traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockAction {
    /// Dropped in XDP.
    Drop,
    /// Passed, and reported once per cooldown.
    Monitor,
}

impl BlockAction {
    /// The kernel's `IP_ACTION_*` value.
    pub fn kernel_value(self) -> u32 {
        match self {
            BlockAction::Drop => IP_ACTION_DROP,
            BlockAction::Monitor => IP_ACTION_MONITOR,
        }
    }

    /// `drop` or `monitor`.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockAction::Drop => "drop",
            BlockAction::Monitor => "monitor",
        }
    }
}

/// Who added an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The config file.
    Config,
    /// `ironpost block add` through the control socket.
    Control,
    /// The auto-block responder, after a network alert.
    Auto,
}

/// One entry of the blocklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockEntry {
    /// The address or prefix.
    pub target: IpNet,
    /// Drop or monitor.
    pub action: BlockAction,
    /// Why it is blocked.
    #[serde(default)]
    pub reason: String,
    /// Who added it.
    pub origin: Origin,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// When it expires; `None` never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Packets that matched it, as the kernel last counted them (refreshed every second).
    #[serde(default)]
    pub hits: u64,
}

impl BlockEntry {
    /// A new entry added now, expiring after `ttl` when given.
    pub fn new(
        target: IpNet,
        action: BlockAction,
        reason: impl Into<String>,
        origin: Origin,
        ttl: Option<Duration>,
    ) -> BlockEntry {
        let added_at = Utc::now();
        BlockEntry {
            target,
            action,
            reason: reason.into(),
            origin,
            added_at,
            expires_at: ttl.and_then(|t| {
                chrono::Duration::from_std(t)
                    .ok()
                    .and_then(|d| added_at.checked_add_signed(d))
            }),
            hits: 0,
        }
    }

    /// True once `now` has reached the expiry.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// Why an entry was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The target is covered by the allowlist, which always wins.
    #[error("{target} is covered by allowlist entry {allow}; remove it from xdp.allowlist first")]
    Allowlisted {
        /// The refused target.
        target: IpNet,
        /// The allowlist entry covering it.
        allow: IpNet,
    },
}

#[derive(Debug, Default)]
struct Inner {
    block: BTreeMap<IpNet, BlockEntry>,
    allow: Vec<IpNet>,
    version: u64,
}

/// The wanted block and allow entries, shared by the sensor and the control API.
#[derive(Debug)]
pub struct Blocklist {
    inner: Mutex<Inner>,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for Blocklist {
    fn default() -> Self {
        Blocklist::new(Vec::new())
    }
}

impl Blocklist {
    /// An empty blocklist with the allowlist `allow`.
    pub fn new(allow: Vec<IpNet>) -> Blocklist {
        Blocklist {
            inner: Mutex::new(Inner {
                allow,
                ..Inner::default()
            }),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self, inner: &mut Inner) {
        inner.version += 1;
        self.changed.send_replace(inner.version);
    }

    /// The allowlist entry covering `net`, if any (a prefix is covered when its network
    /// address is, or when it covers an allowed address: blocking it would block that address).
    pub fn allowed_by(&self, net: IpNet) -> Option<IpNet> {
        self.lock()
            .allow
            .iter()
            .find(|a| {
                a.contains(net.addr())
                    || (net.contains(a.addr()) && a.prefix_len() >= net.prefix_len())
            })
            .copied()
    }

    /// True when `ip` is allowlisted.
    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        self.lock().allow.iter().any(|a| a.contains(ip))
    }

    /// The allowlist.
    pub fn allowlist(&self) -> Vec<IpNet> {
        self.lock().allow.clone()
    }

    /// Replaces the allowlist (a running sensor installs it when it next starts).
    pub fn set_allowlist(&self, allow: Vec<IpNet>) {
        let mut inner = self.lock();
        if inner.allow != allow {
            inner.allow = allow;
            self.bump(&mut inner);
        }
    }

    /// Makes the entries of `origin` exactly `wanted`: adds or updates those listed, removes
    /// the others of that origin, and leaves entries of other origins alone (a target already
    /// blocked by another origin keeps its entry). Returns the targets refused because the
    /// allowlist covers them.
    pub fn sync_origin(&self, origin: Origin, wanted: Vec<BlockEntry>) -> Vec<BlockError> {
        let mut refused = Vec::new();
        let mut inner = self.lock();
        let keep: std::collections::BTreeSet<IpNet> = wanted.iter().map(|e| e.target).collect();
        let before = inner.block.len();
        inner
            .block
            .retain(|t, e| e.origin != origin || keep.contains(t));
        let mut changed = inner.block.len() != before;
        for entry in wanted {
            if let Some(allow) = inner
                .allow
                .iter()
                .find(|a| {
                    a.contains(entry.target.addr())
                        || (entry.target.contains(a.addr())
                            && a.prefix_len() >= entry.target.prefix_len())
                })
                .copied()
            {
                refused.push(BlockError::Allowlisted {
                    target: entry.target,
                    allow,
                });
                inner.block.remove(&entry.target);
                changed = true;
                continue;
            }
            match inner.block.get(&entry.target) {
                Some(e) if e.origin != origin => {}
                Some(e) if e.action == entry.action => {}
                _ => {
                    inner.block.insert(entry.target, entry);
                    changed = true;
                }
            }
        }
        if changed {
            self.bump(&mut inner);
        }
        refused
    }

    /// Adds or replaces the entry for its target; refused when the allowlist covers it.
    pub fn add(&self, entry: BlockEntry) -> Result<(), BlockError> {
        if let Some(allow) = self.allowed_by(entry.target) {
            return Err(BlockError::Allowlisted {
                target: entry.target,
                allow,
            });
        }
        let mut inner = self.lock();
        inner.block.insert(entry.target, entry);
        self.bump(&mut inner);
        Ok(())
    }

    /// Removes the entry for `target`; the removed entry, if there was one.
    pub fn remove(&self, target: IpNet) -> Option<BlockEntry> {
        let mut inner = self.lock();
        let removed = inner.block.remove(&target);
        if removed.is_some() {
            self.bump(&mut inner);
        }
        removed
    }

    /// Every entry, by target.
    pub fn list(&self) -> Vec<BlockEntry> {
        self.lock().block.values().cloned().collect()
    }

    /// The entry for exactly `target`.
    pub fn get(&self, target: IpNet) -> Option<BlockEntry> {
        self.lock().block.get(&target).cloned()
    }

    /// Removes the entries expired at `now`; what was removed.
    pub fn expire(&self, now: DateTime<Utc>) -> Vec<BlockEntry> {
        let mut inner = self.lock();
        let gone: Vec<IpNet> = inner
            .block
            .values()
            .filter(|e| e.expired(now))
            .map(|e| e.target)
            .collect();
        let removed: Vec<BlockEntry> = gone.iter().filter_map(|t| inner.block.remove(t)).collect();
        if !removed.is_empty() {
            self.bump(&mut inner);
        }
        removed
    }

    /// Records the kernel's hit counts (not a change: nothing is reinstalled).
    pub fn set_hits(&self, hits: &[(IpNet, u64)]) {
        let mut inner = self.lock();
        for (target, n) in hits {
            if let Some(e) = inner.block.get_mut(target) {
                e.hits = *n;
            }
        }
    }

    /// A receiver that sees a new value after every change.
    pub fn changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(t: &str) -> IpNet {
        t.parse().unwrap()
    }

    #[test]
    fn entries_are_added_replaced_removed_and_listed() {
        let b = Blocklist::default();
        let mut rx = b.changed();
        b.add(BlockEntry::new(
            net("192.0.2.1"),
            BlockAction::Drop,
            "x",
            Origin::Control,
            None,
        ))
        .unwrap();
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        b.add(BlockEntry::new(
            net("192.0.2.1"),
            BlockAction::Monitor,
            "y",
            Origin::Control,
            None,
        ))
        .unwrap();
        assert!(rx.has_changed().unwrap());
        let list = b.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].action, BlockAction::Monitor);
        assert_eq!(list[0].reason, "y");
        assert!(b.remove(net("192.0.2.1")).is_some());
        assert!(b.remove(net("192.0.2.1")).is_none());
        assert!(b.list().is_empty());
    }

    #[test]
    fn the_allowlist_refuses_covered_targets() {
        let b = Blocklist::new(vec![net("10.0.0.0/8"), net("192.0.2.7")]);
        let e = |t| BlockEntry::new(net(t), BlockAction::Drop, "", Origin::Auto, None);
        assert!(matches!(
            b.add(e("10.1.2.3")),
            Err(BlockError::Allowlisted { .. })
        ));
        // A prefix that would block an allowed address is refused too.
        assert!(b.add(e("192.0.2.0/24")).is_err());
        assert!(b.add(e("0.0.0.0/0")).is_err());
        b.add(e("192.0.2.8")).unwrap();
        assert!(b.is_allowed("10.9.9.9".parse().unwrap()));
        assert!(!b.is_allowed("11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn expired_entries_are_removed() {
        let b = Blocklist::default();
        b.add(BlockEntry::new(
            net("192.0.2.1"),
            BlockAction::Drop,
            "",
            Origin::Control,
            Some(Duration::from_secs(60)),
        ))
        .unwrap();
        b.add(BlockEntry::new(
            net("192.0.2.2"),
            BlockAction::Drop,
            "",
            Origin::Config,
            None,
        ))
        .unwrap();
        assert!(b.expire(Utc::now()).is_empty());
        let later = Utc::now() + chrono::Duration::seconds(61);
        let gone = b.expire(later);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].target, net("192.0.2.1"));
        assert_eq!(b.list().len(), 1);
    }
}
