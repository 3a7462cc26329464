//! The PostgreSQL backend against a real server: a temporary cluster started by the test.

use std::sync::Arc;

use ironpost_core::Severity;
use ironpost_store::conformance::{run_all, sample_alert};
use ironpost_store::testing::TempPostgres;
use ironpost_store::{
    AlertQuery, PostgresOptions, PostgresStore, SpoolingStore, Store, StoreError,
};

fn cluster() -> Option<TempPostgres> {
    match TempPostgres::start() {
        Ok(Some(pg)) => Some(pg),
        Ok(None) => {
            eprintln!(
                "skipped: no PostgreSQL binaries under /usr/lib/postgresql (install postgresql-15, as scripts/install-deps does)"
            );
            None
        }
        Err(e) => panic!("the temporary PostgreSQL cluster did not start: {e}"),
    }
}

#[test]
fn postgres_passes_the_conformance_suite_and_keeps_hosts_apart() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_database("conformance").unwrap();
    let store = PostgresStore::open(&PostgresOptions::new(&url, "h1")).unwrap();
    assert_eq!(store.backend(), "postgres");
    assert_eq!(store.schema_version().unwrap(), 1);
    run_all(&store);

    // A second daemon on the same database: its checkpoints are its own, its alerts visible to all.
    let other = PostgresStore::open(&PostgresOptions::new(&url, "h2")).unwrap();
    assert_eq!(
        other.checkpoint("file:/var/log/auth.log").unwrap(),
        None,
        "checkpoints leak across hosts"
    );
    let a = sample_alert("fleet", "h2", 7, Severity::High);
    other.insert_alerts(std::slice::from_ref(&a)).unwrap();
    let seen = store
        .alerts(&AlertQuery {
            host: Some("h2".into()),
            limit: 10,
            ..AlertQuery::default()
        })
        .unwrap();
    assert!(seen.contains(&a));
    // Reopening migrates nothing twice.
    drop(other);
    let again = PostgresStore::open(&PostgresOptions::new(&url, "h1")).unwrap();
    assert_eq!(again.schema_version().unwrap(), 1);
}

#[test]
fn an_outage_is_spooled_and_replayed_exactly_once() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_database("outage").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pgstore = Arc::new(PostgresStore::open(&PostgresOptions::new(&url, "h1")).unwrap());
    let spool = SpoolingStore::new(pgstore.clone(), dir.path(), 1 << 30).unwrap();
    let batch = |from: i64| -> Vec<_> {
        (from..from + 100)
            .map(|m| sample_alert("outage", "h1", m, Severity::Medium))
            .collect()
    };
    spool.insert_alerts(&batch(0)).unwrap();
    pg.stop().unwrap();
    assert!(
        matches!(pgstore.alert_count(), Err(StoreError::Unavailable(_))),
        "a stopped server must read as unavailable"
    );
    spool.insert_alerts(&batch(100)).unwrap();
    spool.insert_alerts(&batch(50)).unwrap(); // overlaps both sides
    assert!(!spool.is_drained());
    assert!(matches!(spool.replay(), Err(StoreError::Unavailable(_))));
    pg.start_again().unwrap();
    assert_eq!(spool.replay().unwrap(), 200);
    assert_eq!(pgstore.alert_count().unwrap(), 200);
    assert_eq!(spool.stats().spooled(), 200);
}

#[test]
fn a_daemon_can_start_while_the_database_is_down() {
    let Some(pg) = cluster() else { return };
    let url = pg.create_database("late").unwrap();
    pg.stop().unwrap();
    let store = PostgresStore::open_lazy(&PostgresOptions::new(&url, "h1")).unwrap();
    assert!(matches!(
        store.alert_count(),
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        PostgresStore::open(&PostgresOptions::new(&url, "h1")),
        Err(StoreError::Unavailable(_))
    ));
    pg.start_again().unwrap();
    assert_eq!(
        store.alert_count().unwrap(),
        0,
        "migrations did not run once the server came back"
    );
}

#[test]
fn a_bad_url_is_a_clear_error_without_the_password() {
    let err = PostgresStore::open(&PostgresOptions::new(
        "postgres://u:hunter2@/db?port=notaport",
        "h",
    ))
    .err()
    .unwrap();
    let text = err.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("PostgreSQL URL"), "{text}");
}

/// A self-signed certificate for 127.0.0.1 made with the openssl command.
fn self_signed(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (dir.join("ca.crt"), dir.join("ca.key"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Some((cert, key)),
        _ => {
            eprintln!(
                "skipped: the openssl command is not installed (scripts/install-deps installs it)"
            );
            None
        }
    }
}

#[test]
fn tls_is_used_and_the_server_certificate_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(dir.path()) else {
        return;
    };
    let pg = match TempPostgres::start_tls(&cert, &key) {
        Ok(Some(pg)) => pg,
        Ok(None) => {
            eprintln!("skipped: no PostgreSQL binaries under /usr/lib/postgresql");
            return;
        }
        Err(e) => panic!("temporary PostgreSQL with TLS did not start: {e}"),
    };
    let url = format!("{}?sslmode=require", pg.create_database("tls").unwrap());
    let mut options = PostgresOptions::new(&url, "h1");
    options.ca_file = Some(cert.clone());
    let store = PostgresStore::open(&options).unwrap();
    store
        .insert_alerts(&[sample_alert("tls", "h1", 1, Severity::Low)])
        .unwrap();
    // The server says the connection is encrypted.
    let mut client = postgres::Client::connect(&pg.url("tls"), postgres::NoTls).unwrap();
    let encrypted: i64 = client
        .query_one("SELECT COUNT(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'ironpost' AND s.ssl", &[])
        .unwrap()
        .get(0);
    assert!(encrypted >= 1, "no TLS connection from the store");
    // Without the CA, the self-signed certificate is refused rather than trusted.
    let untrusted = PostgresStore::open(&PostgresOptions::new(&url, "h1"))
        .err()
        .expect("an unverified certificate was accepted");
    assert!(
        untrusted.to_string().to_lowercase().contains("certificate"),
        "{untrusted}"
    );
    // A CA file that is not PEM is a clear error naming it.
    let bogus = dir.path().join("bogus.pem");
    std::fs::write(&bogus, "not a certificate").unwrap();
    options.ca_file = Some(bogus.clone());
    let err = PostgresStore::open(&options).err().unwrap();
    assert!(err.to_string().contains(bogus.to_str().unwrap()), "{err}");
}
