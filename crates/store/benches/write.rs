//! Alerts per second written in batches to each backend, in one run.
//!
//! `cargo bench -p ironpost-store --bench write` (add `-- --alerts N --batch B` to change the
//! workload). SQLite writes to a file in a temporary directory; PostgreSQL to a temporary cluster
//! on loopback started by the benchmark with PostgreSQL's durable defaults (fsync on) (skipped, saying so, without PostgreSQL binaries).

use std::time::Instant;

use ironpost_core::{Alert, Severity};
use ironpost_store::conformance::sample_alert;
use ironpost_store::testing::TempPostgres;
use ironpost_store::{PostgresOptions, PostgresStore, SqliteStore, Store};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn workload(n: usize, host: &str) -> Vec<Alert> {
    (0..n as i64)
        .map(|m| {
            let mut a = sample_alert("bench.rule", host, m, Severity::High);
            a.evidence.clear();
            a
        })
        .collect()
}

/// Writes `alerts` in batches of `batch`, three rounds on fresh ids; returns the best alerts/s.
fn measure(name: &str, store: &dyn Store, n: usize, batch: usize) {
    let mut rates = Vec::new();
    for round in 0..3 {
        let alerts = workload(n, &format!("{name}-round-{round}"));
        let start = Instant::now();
        for chunk in alerts.chunks(batch) {
            let new = store.insert_alerts(chunk).expect("insert");
            assert_eq!(new, chunk.len());
        }
        let secs = start.elapsed().as_secs_f64();
        rates.push(n as f64 / secs);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<10} {n} alerts, batches of {batch}: median {:.0} alerts/s (min {:.0}, max {:.0})",
        rates[1], rates[0], rates[2]
    );
}

fn main() {
    let n = arg("--alerts", 50_000);
    let batch = arg("--batch", 512);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("bench.db")).unwrap();
    measure("sqlite", &sqlite, n, batch);
    match TempPostgres::start_with(true) {
        Ok(Some(pg)) => {
            let url = pg.create_database("bench").unwrap();
            let store = PostgresStore::open(&PostgresOptions::new(url, "bench")).unwrap();
            measure("postgres", &store, n, batch);
        }
        Ok(None) => {
            println!("postgres   skipped: no PostgreSQL binaries under /usr/lib/postgresql")
        }
        Err(e) => panic!("temporary PostgreSQL did not start: {e}"),
    }
}
