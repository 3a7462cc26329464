//! Many daemons, one PostgreSQL store, and an outage in the middle of the stream.

mod support;

use std::time::{Duration, Instant};

use ironpost_store::testing::TempPostgres;
use ironpost_store::{AlertQuery, PostgresOptions, PostgresStore, Store};
use support::{Setup, stderr};

const PER_HOST: u64 = 5000;

fn emitted_and_drained(doc: &serde_json::Value) -> bool {
    let emitted = doc["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "selftest")
        .and_then(|m| m["counters"]["alerts_emitted"].as_u64())
        .unwrap_or(0);
    let queued = doc["buses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "alerts")
        .unwrap()["queued"]
        .as_u64()
        .unwrap();
    emitted == PER_HOST && queued == 0 && doc["store"]["spool"]["bytes"] == 0
}

#[test]
fn two_daemons_lose_and_double_nothing_across_a_database_outage() {
    let pg = match TempPostgres::start() {
        Ok(Some(pg)) => pg,
        Ok(None) => {
            eprintln!(
                "skipped: no PostgreSQL binaries under /usr/lib/postgresql (scripts/install-deps installs postgresql-15)"
            );
            return;
        }
        Err(e) => panic!("temporary PostgreSQL did not start: {e}"),
    };
    let url = pg.create_database("fleet").unwrap();
    let hosts = ["host-a", "host-b"];
    let setups: Vec<Setup> = hosts
        .iter()
        .map(|_| {
            Setup::new(&format!(
                "[store]\nurl = \"{url}\"\nbatch_size = 64\n\n[selftest]\nenabled = true\nemit_alerts = {PER_HOST}\nemit_rate = 2000\n"
            ))
        })
        .collect();
    // The host names go in through the environment, as a fleet deployment would set them.
    for (s, h) in setups.iter().zip(hosts) {
        let text = std::fs::read_to_string(&s.config).unwrap().replacen(
            "[general]\n",
            &format!("[general]\nhost_name = \"{h}\"\n"),
            1,
        );
        std::fs::write(&s.config, text).unwrap();
    }
    let daemons: Vec<_> = setups.iter().map(|s| s.start()).collect();
    for s in &setups {
        s.wait_for("a tenth of the stream", |doc| {
            doc["modules"].as_array().unwrap().iter().any(|m| {
                m["name"] == "selftest"
                    && m["counters"]["alerts_emitted"].as_u64().unwrap_or(0) >= PER_HOST / 10
            })
        });
    }
    pg.stop().unwrap();
    for s in &setups {
        s.wait_for("writes spooled during the outage", |doc| {
            doc["store"]["spool"]["spooled"].as_u64().unwrap_or(0) > 0
        });
    }
    pg.start_again().unwrap();
    for s in &setups {
        s.wait_for(
            "the whole stream emitted and the spool replayed",
            emitted_and_drained,
        );
    }
    let store = PostgresStore::open(&PostgresOptions::new(&url, "checker")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.alert_count().unwrap() < 2 * PER_HOST && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for d in daemons {
        let (status, log) = d.terminate();
        assert!(status.success(), "{log}");
    }
    assert_eq!(
        store.alert_count().unwrap(),
        2 * PER_HOST,
        "rows lost or doubled"
    );
    for h in hosts {
        let mine = store
            .alerts(&AlertQuery {
                host: Some(h.into()),
                limit: 100_000,
                ..AlertQuery::default()
            })
            .unwrap();
        assert_eq!(mine.len() as u64, PER_HOST, "{h}");
    }
    // The CLI reads the fleet's store directly, without a daemon.
    let out = setups[0].cli(&[
        "alerts", "list", "--store", &url, "--host", "host-b", "--limit", "10000", "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = doc["alerts"].as_array().unwrap();
    assert_eq!(listed.len() as u64, PER_HOST);
    assert!(listed.iter().all(|a| a["attribution"]["host"] == "host-b"));
    let id = listed[0]["id"].as_str().unwrap();
    let out = setups[0].cli(&["alerts", "show", id, "--store", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("host-b"));
}

#[test]
fn the_cli_reads_a_sqlite_store_directly() {
    let s = Setup::new("[selftest]\nenabled = true\nemit_alerts = 4\n");
    let d = s.start();
    s.wait_for("alerts written", |doc| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "store_writer" && m["counters"]["alerts_written"] == 4)
    });
    let (status, _) = d.terminate();
    assert!(status.success());
    let db = format!("sqlite://{}", s.data().join("ironpost.db").display());
    let out = s.cli(&["alerts", "list", "--store", &db, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["alerts"].as_array().unwrap().len(), 4);
    let out = s.cli(&[
        "alerts",
        "list",
        "--store",
        "sqlite:///nonexistent/ironpost.db",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("/nonexistent/ironpost.db"),
        "{}",
        stderr(&out)
    );
}
