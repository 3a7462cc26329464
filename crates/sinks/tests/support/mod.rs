//! Peers for the sink tests, all on loopback: an HTTP(S) server answering from a script, a
//! server that accepts and never answers, syslog receivers, and alert builders.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ironpost_core::config::sinks::SinkConfig;
use ironpost_core::{Alert, AlertId, Attribution, Severity};
use ironpost_sinks::SinkSet;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// The `n`th test alert of `rule`.
pub fn alert(rule: &str, severity: Severity, n: u64) -> Alert {
    let t = chrono::Utc::now();
    let group = BTreeMap::from([("n".to_owned(), n.to_string())]);
    Alert {
        id: AlertId::derive(rule, &Alert::group_key(&group), t),
        rule_id: rule.into(),
        title: format!("Test alert {n}"),
        severity,
        module: "sigma".into(),
        event_time: t,
        detected_at: t,
        window_start: t,
        group,
        count: 1,
        attribution: Attribution {
            host: "test-host".into(),
            container_name: Some("web-1".into()),
            ..Attribution::default()
        },
        tags: vec!["attack.t1110".into()],
        evidence: Vec::new(),
    }
}

/// The `[[sinks]]` of a TOML text.
pub fn sinks(text: &str) -> Vec<SinkConfig> {
    ironpost_core::config::Config::from_toml(text, Path::new("test.toml"), Vec::new())
        .unwrap()
        .sinks
}

/// Polls `done` every 20 ms until it holds or `limit` passes (a guard against hangs, not a
/// timing assertion); returns whether it held.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// Starts `set`'s tasks, and stops them when dropped.
pub struct Running(pub Arc<SinkSet>);

impl Running {
    pub fn start(set: SinkSet) -> Running {
        let set = Arc::new(set);
        set.start();
        Running(set)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, its PEM file (which is also the CA
/// file clients trust) and a TLS acceptor.
pub struct Tls {
    pub ca_file: PathBuf,
    pub acceptor: TlsAcceptor,
}

pub fn self_signed(dir: &Path) -> Tls {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ck.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    Tls {
        ca_file,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}

/// What the scripted server answers to one request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// This status, no body.
    Status(u16),
    /// Never answer (the client's timeout must fire).
    Hang,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub answered: Option<u16>,
}

/// An HTTP/1.1 server (TLS when given) that answers requests from `script` in order, then 200.
pub struct ScriptedServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl ScriptedServer {
    pub async fn start(tls: Option<TlsAcceptor>, script: Vec<Answer>) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (seen2, script2) = (seen.clone(), script.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (seen, script, tls) = (seen2.clone(), script2.clone(), tls.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (seen, script) = (seen.clone(), script.clone());
                        async move {
                            let path = req.uri().to_string();
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(k, v)| {
                                    (k.to_string(), v.to_str().unwrap_or_default().to_owned())
                                })
                                .collect();
                            let body = req.into_body().collect().await?.to_bytes();
                            let answer = script
                                .lock()
                                .unwrap()
                                .pop_front()
                                .unwrap_or(Answer::Status(200));
                            let code = match answer {
                                Answer::Status(c) => Some(c),
                                Answer::Hang => None,
                            };
                            seen.lock().unwrap().push(Seen {
                                path,
                                headers,
                                body: String::from_utf8_lossy(&body).into_owned(),
                                answered: code,
                            });
                            let Some(code) = code else {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                unreachable!("the client gives up first");
                            };
                            Ok::<_, hyper::Error>(
                                hyper::Response::builder()
                                    .status(code)
                                    .body(Full::new(Bytes::from_static(b"scripted")))
                                    .unwrap(),
                            )
                        }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
        ScriptedServer { addr, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The alert ids in the bodies the server answered 2xx to.
    pub fn delivered_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for s in self.seen() {
            if s.answered.is_some_and(|c| (200..300).contains(&c)) {
                let v: serde_json::Value = serde_json::from_str(&s.body).unwrap();
                for a in v.as_array().unwrap() {
                    ids.push(a["id"].as_str().unwrap().to_owned());
                }
            }
        }
        ids
    }
}

/// A listener that accepts connections and never reads or answers.
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// A loopback port nothing listens on.
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
