//! The running sensor: the program attached to an interface, the wanted blocklist kept
//! installed in its maps, and the ring buffer read through tokio's `AsyncFd`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use chrono::{DateTime, Utc};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::abi::{IpRule, KernelConfig, RawEvent};
use super::blocklist::{BlockAction, BlockEntry, BlockError, Blocklist, Origin};
use super::detections::{Detection, detection};
use super::net::IpNet;
use super::program::{AttachMode, Capacities, Stats, XdpError, XdpProgram, monotonic_ns};

/// How the sensor runs: where, how, and its detection thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorSettings {
    /// The interface to attach to.
    pub interface: String,
    /// The attach mode; `None` tries native, then generic.
    pub mode: Option<AttachMode>,
    /// The detection window.
    pub window: Duration,
    /// Least time between two reports of the same block entry.
    pub cooldown: Duration,
    /// SYNs per source and window that make a SYN flood (0: off).
    pub syn_threshold: u32,
    /// Distinct destination ports per source and window that make a port scan (0: off).
    pub port_threshold: u32,
    /// When set, the source of a port scan or SYN flood is blocked for this long.
    pub auto_block_ttl: Option<Duration>,
    /// The host name alerts carry.
    pub host: String,
    /// Map sizes.
    pub capacities: Capacities,
}

impl SensorSettings {
    /// The kernel's view of these settings (the program's own clock).
    pub fn kernel_config(&self) -> KernelConfig {
        KernelConfig {
            now_ns: 0,
            window_ns: self.window.as_nanos().min(u128::from(u64::MAX)) as u64,
            cooldown_ns: self.cooldown.as_nanos().min(u128::from(u64::MAX)) as u64,
            syn_threshold: self.syn_threshold,
            port_threshold: self.port_threshold,
            ..KernelConfig::default()
        }
    }
}

/// The most block entries whose hit counts are refreshed every second.
pub const HITS_REFRESH_MAX: usize = 4096;

/// What one installation of the blocklist changed in the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Entries written.
    pub installed: usize,
    /// Entries removed.
    pub removed: usize,
}

/// What the sensor tells its owner as it runs.
pub trait SensorOutput {
    /// A kernel report became a detection.
    fn detection(&mut self, detection: Detection);
    /// The auto-block responder blocked `entry`.
    fn auto_blocked(&mut self, entry: &BlockEntry);
    /// Periodic statistics of the program.
    fn stats(&mut self, stats: &Stats);
}

/// The XDP sensor, attached and enforcing a [`Blocklist`].
pub struct XdpSensor {
    program: XdpProgram,
    settings: SensorSettings,
    blocklist: Arc<Blocklist>,
    installed: BTreeMap<IpNet, (BlockAction, Option<DateTime<Utc>>)>,
    allowed: std::collections::BTreeSet<IpNet>,
    mode: AttachMode,
}

impl std::fmt::Debug for XdpSensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpSensor")
            .field("interface", &self.settings.interface)
            .field("mode", &self.mode)
            .field("installed", &self.installed.len())
            .finish_non_exhaustive()
    }
}

fn expiry_ns(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>, mono_now: u64) -> u64 {
    match expires_at {
        None => 0,
        Some(at) => {
            let left = (at - now).num_nanoseconds().unwrap_or(i64::MAX).max(0) as u64;
            mono_now.saturating_add(left).max(1)
        }
    }
}

impl XdpSensor {
    /// Loads the program, writes its settings, installs the allowlist and blocklist, and
    /// attaches it to the interface.
    pub fn start(
        settings: SensorSettings,
        blocklist: Arc<Blocklist>,
    ) -> Result<XdpSensor, XdpError> {
        let mut program = XdpProgram::load_with(settings.capacities)?;
        program.set_config(&settings.kernel_config())?;
        let mut allowed = std::collections::BTreeSet::new();
        for allow in blocklist.allowlist() {
            program.insert_allow(allow, 0)?;
            allowed.insert(allow);
        }
        let mode = program.attach(&settings.interface, settings.mode)?;
        let mut sensor = XdpSensor {
            program,
            settings,
            blocklist,
            installed: BTreeMap::new(),
            allowed,
            mode,
        };
        sensor.sync()?;
        Ok(sensor)
    }

    /// The attach mode obtained.
    pub fn mode(&self) -> AttachMode {
        self.mode
    }

    /// The program, for its maps and statistics.
    pub fn program(&self) -> &XdpProgram {
        &self.program
    }

    /// Installs the wanted blocklist into the kernel maps: writes new and changed entries,
    /// removes the ones no longer wanted.
    pub fn sync(&mut self) -> Result<SyncReport, XdpError> {
        let now = Utc::now();
        let mono = monotonic_ns();
        let wanted: BTreeMap<IpNet, (BlockAction, Option<DateTime<Utc>>)> = self
            .blocklist
            .list()
            .into_iter()
            .map(|e| (e.target, (e.action, e.expires_at)))
            .collect();
        let mut report = SyncReport::default();
        // The allowlist first, so that nothing it now covers stays dropped for a moment.
        let allow: std::collections::BTreeSet<IpNet> =
            self.blocklist.allowlist().into_iter().collect();
        for gone in self.allowed.difference(&allow).copied().collect::<Vec<_>>() {
            self.program.remove_allow(gone)?;
            self.allowed.remove(&gone);
            report.removed += 1;
        }
        for new in allow.difference(&self.allowed).copied().collect::<Vec<_>>() {
            self.program.insert_allow(new, 0)?;
            self.allowed.insert(new);
            report.installed += 1;
        }
        let stale: Vec<IpNet> = self
            .installed
            .keys()
            .filter(|t| !wanted.contains_key(t))
            .copied()
            .collect();
        for target in stale {
            self.program.remove_block(target)?;
            self.installed.remove(&target);
            report.removed += 1;
        }
        for (target, spec) in wanted {
            if self.installed.get(&target) == Some(&spec) {
                continue;
            }
            let rule = IpRule {
                action: spec.0.kernel_value(),
                expires_ns: expiry_ns(spec.1, now, mono),
                ..IpRule::default()
            };
            self.program.insert_block(target, rule)?;
            self.installed.insert(target, spec);
            report.installed += 1;
        }
        Ok(report)
    }

    /// Copies the kernel's hit counts into the blocklist, for `ironpost block list`; skipped
    /// for very large lists, where a lookup per entry every second would cost more than it shows.
    fn refresh_hits(&mut self) -> Result<(), XdpError> {
        if self.installed.len() > HITS_REFRESH_MAX {
            return Ok(());
        }
        let mut hits = Vec::with_capacity(self.installed.len());
        for target in self.installed.keys() {
            if let Some(rule) = self.program.block_rule(*target)? {
                hits.push((*target, rule.hits));
            }
        }
        self.blocklist.set_hits(&hits);
        Ok(())
    }

    fn auto_block(&self, d: &Detection, output: &mut (dyn SensorOutput + Send)) {
        let Some(ttl) = self.settings.auto_block_ttl else {
            return;
        };
        if !d.is_attack() {
            return;
        }
        let target = IpNet::host(d.event.src_ip);
        if self.blocklist.get(target).is_some() {
            return;
        }
        let entry = BlockEntry::new(
            target,
            BlockAction::Drop,
            format!("auto-block after {}", d.alert.rule_id),
            Origin::Auto,
            Some(ttl),
        );
        match self.blocklist.add(entry.clone()) {
            Ok(()) => output.auto_blocked(&entry),
            Err(BlockError::Allowlisted { allow, .. }) => {
                tracing::info!(source = %target, allowlist = %allow, "not auto-blocking an allowlisted source");
            }
        }
    }

    /// Runs until `shutdown` resolves: reads the ring buffer, keeps the blocklist installed,
    /// removes expired entries every second and reports statistics.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()>,
        output: &mut (dyn SensorOutput + Send),
    ) -> Result<(), XdpError> {
        let ring = self
            .program
            .take_events()
            .ok_or(XdpError::Missing("ring buffer (already taken)"))?;
        // SAFETY: the ring buffer owns its map's file descriptor, keeps it open for its whole
        // life and always answers the same descriptor.
        let mut ring: AsyncFd<RingBuf<MapData>> =
            unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
                .map_err(|e| XdpError::Poll(e.into_parts().1))?;
        let mut changed = self.blocklist.changed();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                guard = ring.readable_mut() => {
                    let mut guard = guard.map_err(XdpError::Poll)?;
                    let mut raws = Vec::new();
                    while let Some(item) = guard.get_inner_mut().next() {
                        if let Some(raw) = RawEvent::from_bytes(&item) {
                            raws.push(raw);
                        }
                    }
                    guard.clear_ready();
                    let (now, mono) = (Utc::now(), monotonic_ns());
                    for raw in raws {
                        if let Some(d) = detection(&raw, &self.settings.interface, &self.settings.host, now, mono) {
                            self.auto_block(&d, output);
                            output.detection(d);
                        }
                    }
                }
                _ = changed.changed() => {
                    let r = self.sync()?;
                    tracing::debug!(installed = r.installed, removed = r.removed, "blocklist installed");
                }
                _ = tick.tick() => {
                    for gone in self.blocklist.expire(Utc::now()) {
                        tracing::info!(target = %gone.target, origin = ?gone.origin, "block entry expired");
                    }
                    self.sync()?;
                    self.refresh_hits()?;
                    output.stats(&self.program.stats()?);
                }
            }
        }
    }
}
