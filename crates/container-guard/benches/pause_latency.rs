//! Latency from an alert to its container paused, against the real Docker Engine, beside the
//! bare Engine API pause call measured in the same run.
//!
//! `cargo bench -p ironpost-container-guard --bench pause_latency [-- RUNS]` (default 100 runs).
//! Each run times `Guard::handle_alert` until the worker's pause call has returned (attribution,
//! policy match, safeguards, queue, worker, Docker call), then, on a second container, the bare
//! `pause_container` call; both containers are unpaused between runs, outside the timings.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use ironpost_container_guard::Decision;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    if !engine_ready() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut res = Resources::new("bench");
        let guarded = res.container("guarded", None, &[]);
        let bare = res.container("bare", None, &[]);
        let mut s = settings();
        s.cooldown = Duration::ZERO;
        s.breaker_max = u32::MAX;
        let h = Harness::start(
            s,
            &[("pause", &policy("", &["type = \"pause\""]))],
            &[&guarded, &bare],
        )
        .await;
        let docker = h.guard.docker().clone();
        let mut finished = h.guard.finished();
        let mut via_guard = Vec::with_capacity(runs);
        let mut direct = Vec::with_capacity(runs);
        for i in 0..runs + 5 {
            let mut alert = alert("bench", ironpost_core::Severity::High);
            alert.attribution.container_id = Some(guarded.clone());
            finished.borrow_and_update();
            let t0 = Instant::now();
            let decision = h.guard.handle_alert(&alert);
            assert!(matches!(decision, Decision::Queued(_)), "{decision:?}");
            finished.changed().await.unwrap();
            let g = t0.elapsed();

            let t0 = Instant::now();
            docker.pause_container(&bare).await.unwrap();
            let b = t0.elapsed();

            assert!(
                paused(&guarded) && paused(&bare),
                "run {i}: both containers paused"
            );
            docker.unpause_container(&guarded).await.unwrap();
            docker.unpause_container(&bare).await.unwrap();
            // The first runs warm the connection paths and the engine; they are not counted.
            if i >= 5 {
                via_guard.push(g);
                direct.push(b);
            }
        }
        let failed = h
            .records(&guarded)
            .iter()
            .filter(|r| r.state != ironpost_core::ActionState::Done)
            .count();
        assert_eq!(failed, 0, "every guarded pause is recorded done");
        via_guard.sort();
        direct.sort();
        let (g50, g99) = (percentile(&via_guard, 50.0), percentile(&via_guard, 99.0));
        let (b50, b99) = (percentile(&direct, 50.0), percentile(&direct, 99.0));
        println!("alert to container paused, {runs} runs (after 5 warm-up runs)");
        println!("| path | p50 | p99 | max |");
        println!("|---|---|---|---|");
        println!(
            "| guard: alert -> paused | {} | {} | {} |",
            ms(g50),
            ms(g99),
            ms(*via_guard.last().unwrap())
        );
        println!(
            "| bare Engine API pause  | {} | {} | {} |",
            ms(b50),
            ms(b99),
            ms(*direct.last().unwrap())
        );
        println!(
            "ratio guard/bare: p50 {:.2}x, p99 {:.2}x",
            g50.as_secs_f64() / b50.as_secs_f64(),
            g99.as_secs_f64() / b99.as_secs_f64()
        );
    });
}
