//! `[sbom] scan_paths` and `scan_containers`: scans lockfiles (and the filesystems of running
//! containers) periodically against the vulnerability index, stores each finding, and raises
//! one alert per finding not seen before.
//!
//! A finding's id is derived from location, package, version and advisory, so a rescan stores
//! nothing twice and alerts only on what is new. The index is read again at each scan, so
//! `ironpost db import` takes effect without a restart. A missing index or an unreadable lockfile
//! makes the module degraded with the reason; the lockfiles that do parse are still scanned.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ironpost_core::config::modules::SbomConfig;
use ironpost_core::module::{Module, ModuleContext, ModuleFuture};
use ironpost_core::{Alert, AlertId, Attribution, ScanFinding, Severity};
use ironpost_sbom_scanner::discover::container::inventories_from_tar;
use ironpost_sbom_scanner::discover::{DiscoverOptions, discover, docker};
use ironpost_sbom_scanner::lockfiles::parse_file_as;
use ironpost_sbom_scanner::scan::{IgnoreList, scan};
use ironpost_sbom_scanner::vulndb::VulnDb;
use ironpost_store::Store;

/// The rule id of vulnerability alerts.
pub const RULE_ID: &str = "ironpost.vulnerable_package";

/// The periodic scanner.
pub struct SbomScan {
    config: SbomConfig,
    db_dir: PathBuf,
    store: Arc<dyn Store>,
}

impl SbomScan {
    /// Scans `config.scan_paths` with the index in `db_dir`, recording in `store`.
    pub fn new(config: SbomConfig, db_dir: PathBuf, store: Arc<dyn Store>) -> Self {
        SbomScan {
            config,
            db_dir,
            store,
        }
    }
}

/// What one scan found, and what went wrong on the way.
struct ScanOutcome {
    findings: Vec<(ScanFinding, Option<String>, String)>,
    lockfiles: u64,
    packages: u64,
    problems: Vec<String>,
}

impl SbomScan {
    /// Reads the index and the lockfiles and matches them; blocking.
    fn scan_once(&self, host: &str, now: DateTime<Utc>) -> Result<ScanOutcome, String> {
        let db = VulnDb::load(&self.db_dir)
            .map_err(|e| format!("no usable vulnerability index: {e}; run `ironpost db import`"))?;
        let ignore = if self.config.ignore_file.as_os_str().is_empty() {
            IgnoreList::default()
        } else {
            IgnoreList::load(&self.config.ignore_file).map_err(|e| e.to_string())?
        };
        let options = DiscoverOptions {
            skip_dirs: self.config.skip_dirs.clone(),
        };
        let (found, errors) = discover(&self.config.scan_paths, &options);
        let mut problems: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let mut inventories = Vec::new();
        for f in &found {
            match parse_file_as(&f.path, f.kind) {
                Ok(inv) => inventories.push(inv),
                Err(e) => problems.push(e.to_string()),
            }
        }
        if self.config.scan_containers {
            match docker::running_containers() {
                Ok(containers) => {
                    for (id, name) in containers {
                        let label = format!("container:{name}");
                        match docker::export_container(&id)
                            .map_err(|e| e.to_string())
                            .and_then(|stream| {
                                inventories_from_tar(stream, &label, &options)
                                    .map_err(|e| e.to_string())
                            }) {
                            Ok(found) => {
                                problems.extend(found.problems);
                                inventories.extend(found.inventories);
                            }
                            Err(e) => problems.push(e),
                        }
                    }
                }
                Err(e) => problems.push(format!("containers not scanned: {e}")),
            }
        }
        let report = scan(&inventories, &db, &ignore, now.date_naive());
        let findings = report
            .findings
            .iter()
            .map(|f| {
                let mut record = f.to_scan_finding(host, now);
                if f.informational.is_some() {
                    record.severity = Severity::Informational;
                }
                (record, f.informational.clone(), f.summary.clone())
            })
            .collect();
        Ok(ScanOutcome {
            findings,
            lockfiles: report.lockfiles as u64,
            packages: report.packages as u64,
            problems,
        })
    }
}

/// The alert of a new finding: its id depends only on host and finding, so it is raised once.
fn finding_alert(host: &str, f: &ScanFinding, informational: Option<&str>, summary: &str) -> Alert {
    let group = BTreeMap::from([
        ("advisory".to_owned(), f.advisory_id.clone()),
        ("location".to_owned(), f.location.clone()),
        ("package".to_owned(), f.package.clone()),
        ("version".to_owned(), f.version.clone()),
    ]);
    let window_start = DateTime::<Utc>::UNIX_EPOCH;
    let kind = informational.map(|k| format!(" ({k})")).unwrap_or_default();
    let mut tags = vec![
        "ironpost.sbom".to_owned(),
        format!("ecosystem.{}", f.ecosystem),
    ];
    tags.extend(f.aliases.iter().map(|a| format!("alias.{a}")));
    Alert {
        id: AlertId::derive(
            RULE_ID,
            &format!("{host}/{}", Alert::group_key(&group)),
            window_start,
        ),
        rule_id: RULE_ID.to_owned(),
        title: format!(
            "{}{kind} in {} {} ({}): {summary}",
            f.advisory_id, f.package, f.version, f.location
        ),
        severity: f.severity,
        module: "sbom".to_owned(),
        event_time: f.first_seen,
        detected_at: Utc::now(),
        window_start,
        group,
        count: 1,
        attribution: Attribution {
            host: host.to_owned(),
            ..Attribution::default()
        },
        tags,
        evidence: Vec::new(),
    }
}

impl Module for SbomScan {
    fn name(&self) -> &'static str {
        "sbom"
    }

    fn run(self: Arc<Self>, mut ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let scans = ctx.counters.counter("scans");
            let new_findings = ctx.counters.counter("findings_new");
            for name in ["lockfiles", "packages", "findings", "scan_errors"] {
                ctx.counters.counter(name);
            }
            let interval = Duration::from_secs(self.config.scan_interval_secs.max(1));
            loop {
                let me = self.clone();
                let host = ctx.host.clone();
                let outcome = tokio::task::spawn_blocking(move || {
                    let outcome = me.scan_once(&host, Utc::now())?;
                    let records: Vec<ScanFinding> =
                        outcome.findings.iter().map(|(f, _, _)| f.clone()).collect();
                    let new = me
                        .store
                        .insert_findings(&records)
                        .map_err(|e| format!("storing findings: {e}"))?;
                    Ok::<_, String>((outcome, new))
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                scans.fetch_add(1, Ordering::Relaxed);
                match outcome {
                    Ok((outcome, new)) => {
                        ctx.counters.add("lockfiles", outcome.lockfiles);
                        ctx.counters.add("packages", outcome.packages);
                        ctx.counters.add("findings", outcome.findings.len() as u64);
                        ctx.counters
                            .add("scan_errors", outcome.problems.len() as u64);
                        let new: std::collections::HashSet<String> = new.into_iter().collect();
                        for (f, informational, summary) in &outcome.findings {
                            if !new.contains(&f.id) {
                                continue;
                            }
                            new_findings.fetch_add(1, Ordering::Relaxed);
                            let alert =
                                finding_alert(&ctx.host, f, informational.as_deref(), summary);
                            if ctx.alerts.send(alert).await.is_err() {
                                return Ok(());
                            }
                        }
                        match outcome.problems.first() {
                            Some(p) => ctx.health.degraded(format!(
                                "{} lockfile problem(s), first: {p}",
                                outcome.problems.len()
                            )),
                            None => ctx.health.healthy(),
                        }
                        tracing::info!(
                            lockfiles = outcome.lockfiles,
                            findings = outcome.findings.len(),
                            new = new.len(),
                            "sbom scan done"
                        );
                    }
                    Err(reason) => {
                        tracing::warn!(%reason, "sbom scan failed");
                        ctx.health.degraded(reason);
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = ctx.shutdown.wait() => return Ok(()),
                }
            }
        })
    }
}
