//! The SQLite backend against the conformance suite, on a real file.

use ironpost_core::Severity;
use ironpost_store::conformance::{run_all, sample_alert};
use ironpost_store::{SqliteStore, Store};

#[test]
fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ironpost.db")).unwrap();
    run_all(&store);
}

#[test]
fn in_memory_sqlite_passes_the_conformance_suite() {
    run_all(&SqliteStore::in_memory().unwrap());
}

#[test]
fn data_survives_reopen_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/ironpost.db");
    let a = sample_alert("persist", "h", 1, Severity::High);
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 1);
        store.insert_alerts(std::slice::from_ref(&a)).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 1);
    assert_eq!(store.alert(a.id.as_str()).unwrap(), Some(a.clone()));
    assert_eq!(store.insert_alerts(&[a]).unwrap(), 0);
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ironpost.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("INSERT INTO schema_migrations VALUES (99, 0)", [])
        .unwrap();
    let err = SqliteStore::open(&path)
        .err()
        .expect("newer schema must be refused");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn an_unwritable_location_is_a_clear_error() {
    let err = SqliteStore::open(std::path::Path::new("/proc/ironpost/x.db"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("/proc/ironpost"), "{err}");
}
