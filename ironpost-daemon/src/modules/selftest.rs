//! `[selftest]`: a fault-injection module that proves supervision works on the real daemon.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ironpost_core::config::modules::SelftestConfig;
use ironpost_core::module::{Module, ModuleContext, ModuleError, ModuleFuture};
use ironpost_core::{Alert, AlertId, Attribution, Severity};

/// Reports healthy or degraded, then panics or fails on request.
pub struct Selftest {
    config: SelftestConfig,
}

impl Selftest {
    /// Builds the module from its section.
    pub fn new(config: SelftestConfig) -> Self {
        Selftest { config }
    }
}

impl Module for Selftest {
    fn name(&self) -> &'static str {
        "selftest"
    }

    fn run(self: Arc<Self>, mut ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            if self.config.degraded_reason.is_empty() {
                ctx.health.healthy();
            } else {
                ctx.health.degraded(self.config.degraded_reason.clone());
            }
            ctx.counters.add("starts", 1);
            let started = tokio::time::Instant::now();
            for n in 0..self.config.emit_alerts {
                // Keep to the rate on average: wait while ahead of schedule.
                while self.config.emit_rate > 0
                    && n as f64 > started.elapsed().as_secs_f64() * self.config.emit_rate as f64
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                // A full alert bus makes this wait. Stopping, the writers still drain it, so
                // the stream goes on; but a bus that took nothing for a second (a store that
                // cannot write) must not hold the shutdown up.
                let alert = synthetic_alert(&ctx.host, n);
                let mut stop = ctx.shutdown.clone();
                let sent = tokio::select! {
                    r = ctx.alerts.send(alert.clone()) => r.is_ok(),
                    _ = stop.wait() => {
                        match tokio::time::timeout(Duration::from_secs(1), ctx.alerts.send(alert)).await {
                            Ok(r) => r.is_ok(),
                            Err(_) => return Ok(()),
                        }
                    }
                };
                if !sent {
                    break;
                }
                ctx.counters.add("alerts_emitted", 1);
            }
            let wait = |ms: u64| async move {
                if ms == 0 {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(Duration::from_millis(ms)).await
                }
            };
            tokio::select! {
                _ = ctx.shutdown.wait() => Ok(()),
                _ = wait(self.config.panic_after_ms) => panic!("selftest: panic requested by panic_after_ms"),
                _ = wait(self.config.fail_after_ms) => Err(ModuleError::new("selftest: failure requested by fail_after_ms")),
            }
        })
    }
}

/// The `n`th synthetic alert of `host`: the same host and `n` always give the same id.
fn synthetic_alert(host: &str, n: u64) -> Alert {
    let window_start = DateTime::<Utc>::UNIX_EPOCH;
    let group = std::collections::BTreeMap::from([
        ("host".to_owned(), host.to_owned()),
        ("n".to_owned(), n.to_string()),
    ]);
    let now = Utc::now();
    Alert {
        id: AlertId::derive("ironpost.selftest", &Alert::group_key(&group), window_start),
        rule_id: "ironpost.selftest".into(),
        title: "Synthetic alert from the selftest module".into(),
        severity: Severity::Informational,
        module: "selftest".into(),
        event_time: now,
        detected_at: now,
        window_start,
        group,
        count: 1,
        attribution: Attribution {
            host: host.to_owned(),
            ..Attribution::default()
        },
        tags: vec!["ironpost.selftest".into()],
        evidence: Vec::new(),
    }
}
