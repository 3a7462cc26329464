//! Alerts per second through the JSON-lines sink and through a webhook with batching to a
//! loopback HTTP server: each iteration offers a block of alerts and waits until the sink has
//! delivered all of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ironpost_core::{Alert, AlertId, Attribution, Severity};
use ironpost_sinks::{SinkRecord, SinkSet};

const BLOCK: u64 = 20_000;

fn alerts() -> Vec<Alert> {
    let t = chrono::Utc::now();
    (0..BLOCK)
        .map(|n| {
            let group = BTreeMap::from([
                (
                    "src_ip".to_owned(),
                    format!("10.0.{}.{}", n / 256 % 256, n % 256),
                ),
                ("user".to_owned(), "root".to_owned()),
            ]);
            Alert {
                id: AlertId::derive("ssh.brute", &Alert::group_key(&group), t),
                rule_id: "ssh.brute".into(),
                title: "SSH brute force".into(),
                severity: Severity::High,
                module: "sigma".into(),
                event_time: t,
                detected_at: t,
                window_start: t,
                group,
                count: 12,
                attribution: Attribution {
                    host: "bench-host".into(),
                    container_name: Some("web-1".into()),
                    ..Attribution::default()
                },
                tags: vec!["attack.t1110".into(), "attack.credential_access".into()],
                evidence: Vec::new(),
            }
        })
        .collect()
}

fn build(text: &str) -> Arc<SinkSet> {
    let config = ironpost_core::config::Config::from_toml(
        text,
        std::path::Path::new("bench.toml"),
        Vec::new(),
    )
    .unwrap();
    Arc::new(SinkSet::build(&config.sinks).unwrap())
}

/// Offers one block and waits until the sink has delivered it.
async fn one_block(set: &SinkSet, alerts: &[Alert], before: u64) {
    for a in alerts {
        while set.offer(SinkRecord::Alert(a.clone())) == 0 {
            // The queue is full: the benchmark measures delivery, not drops.
            tokio::task::yield_now().await;
        }
    }
    while set.status()[0].delivered < before + alerts.len() as u64 {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

async fn http_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await?;
                    Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::new())))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    port
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let alerts = alerts();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("sinks");
    group.throughput(Throughput::Elements(BLOCK));
    group.sample_size(10);

    let jsonl = build(&format!(
        "[[sinks]]\nname = \"file\"\ntype = \"jsonl\"\npath = \"{}\"\nbatch_size = 512\nqueue = 65536\nmax_bytes = 268435456\nkeep_files = 1\n",
        dir.path().join("bench.jsonl").display()
    ));
    let _guard = rt.enter();
    jsonl.start();
    group.bench_function("jsonl", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let before = jsonl.status()[0].delivered;
                rt.block_on(one_block(&jsonl, &alerts, before));
            }
            start.elapsed()
        })
    });

    let port = rt.block_on(http_server());
    let hook = build(&format!(
        "[[sinks]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/bench\"\nbatch_size = 500\nqueue = 65536\n"
    ));
    hook.start();
    group.bench_function("webhook_batch_500", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let before = hook.status()[0].delivered;
                rt.block_on(one_block(&hook, &alerts, before));
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
