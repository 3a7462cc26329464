//! `kill -9` of the daemon while a file log grows: after a restart every line has raised its
//! alert exactly once in the store, none skipped, none stored twice.
//!
//! Each line matches a rule with suppression off, and carries its own second of event time, so
//! each line has its own deterministic alert id: the store holding exactly the expected ids is
//! the proof that no line was lost (its checkpoint is saved only once its alert is committed)
//! and that a line read again after the crash did not make a second alert.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use ironpost_store::{AlertQuery, SqliteStore, Store};
use support::Setup;

const LINES: usize = 20_000;

fn line(i: usize) -> String {
    let (h, m, s) = (i / 3600, i / 60 % 60, i % 60);
    format!("Nov 20 {h:02}:{m:02}:{s:02} web app[7]: kill-marker line {i}")
}

fn stored_lines(data: &std::path::Path) -> Vec<usize> {
    let Ok(store) = SqliteStore::open(&data.join("ironpost.db")) else {
        return Vec::new();
    };
    let query = AlertQuery {
        limit: 100_000,
        ..AlertQuery::default()
    };
    store
        .alerts(&query)
        .unwrap_or_default()
        .iter()
        .filter_map(|a| {
            let evidence = serde_json::to_string(&a.evidence).ok()?;
            let at = evidence.find("kill-marker line ")? + "kill-marker line ".len();
            evidence[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn kill_9_during_a_stream_of_file_logs_loses_and_repeats_nothing() {
    let s = Setup::new("");
    let rules = s.dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("marker.yml"),
        "title: Kill Marker\nid: 3c2d5a57-9c1e-4d3b-8f00-000000000009\nstatus: test\nlevel: high\n\
         logsource:\n  product: linux\ndetection:\n  keywords:\n    - 'kill-marker'\n  condition: keywords\n",
    )
    .unwrap();
    let log = s.dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        format!(
            "{config}\n[sigma]\nrules = [\"{}\"]\nsuppression_secs = 0\n\n\
             [[log_pipeline.sources]]\nname = \"app\"\ntype = \"file\"\npaths = [\"{}\"]\n\
             start_at = \"beginning\"\npoll_interval_ms = 20\n",
            rules.display(),
            log.display()
        ),
    )
    .unwrap();

    // The writer appends the lines in small bursts while the daemon runs, dies and restarts.
    let writer_log = log.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&writer_log)
            .unwrap();
        // Bursts faster than the store commits, so that records are in flight at the kill.
        for chunk in (0..LINES).collect::<Vec<_>>().chunks(2000) {
            let text: String = chunk.iter().map(|&i| line(i) + "\n").collect();
            f.write_all(text.as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
    });

    let mut first = s.start();
    // Kill once some lines are stored and the stream is still going.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored_lines(&s.data()).len() < LINES / 5 {
        assert!(
            Instant::now() < deadline,
            "no alerts within 30 s: {}",
            first.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.signal(libc::SIGKILL);
    let _ = first.child.take().unwrap().wait();
    let at_kill = stored_lines(&s.data()).len();
    assert!(
        at_kill < LINES,
        "the kill came after the stream had been read whole"
    );

    let second = s.start();
    writer.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = stored_lines(&s.data());
        if got.len() >= LINES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {LINES} lines have their alert 60 s after the restart",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let anything read twice reach the store, then look.
    std::thread::sleep(Duration::from_millis(500));
    let got = stored_lines(&s.data());
    let distinct: BTreeSet<usize> = got.iter().copied().collect();
    assert_eq!(got.len(), LINES, "one alert per line, none stored twice");
    assert_eq!(distinct, (0..LINES).collect(), "every line, none skipped");
    let writer = s.module("store_writer");
    eprintln!(
        "killed with {at_kill} alerts stored; after the restart {} alerts were read again and \
         recognised as stored",
        writer["counters"]["alerts_duplicate"]
    );
    let (status, _) = second.terminate();
    assert!(status.success());
}
