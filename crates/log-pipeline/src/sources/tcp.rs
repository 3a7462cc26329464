//! Syslog over TCP: framing detected per connection, a connection limit, idle and frame
//! timeouts, and a maximum frame size enforced before buffering.
//!
//! Each connection runs in its own task with its own [`FrameDecoder`] and [`LineProcessor`].
//! A connection beyond `max_connections` is accepted and closed at once (and counted), so the
//! listen queue does not fill. A connection is closed when it sends nothing for
//! `idle_timeout`, or when one frame takes longer than `frame_timeout` to arrive, which is what
//! stops a slow-loris peer that trickles a byte at a time. With [`TlsOptions`] the listener
//! speaks TLS (RFC 5425) through rustls; the handshake must finish within `frame_timeout`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ironpost_core::bus::BusSender;
use ironpost_core::event::Event;
use ironpost_core::module::Shutdown;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::file::SourceError;
use super::framing::FrameDecoder;
use super::{LineProcessor, SourceStats, deliver, inc};
use crate::{Format, ParseOptions};

/// Options of a syslog TCP source.
#[derive(Debug, Clone)]
pub struct SyslogTcpOptions {
    /// The source name.
    pub name: String,
    /// Address to listen on (default `127.0.0.1:5514`).
    pub bind: SocketAddr,
    /// Format of the messages (`Auto` by default; `Json` for JSON lines over TCP).
    pub format: Format,
    /// Most connections served at once.
    pub max_connections: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// A frame must be complete this long after its first byte.
    pub frame_timeout: Duration,
    /// Largest frame accepted; octet counts above it close the connection, longer lines are cut.
    pub max_frame_bytes: usize,
    /// Time zone and parsing switches.
    pub parse: ParseOptions,
    /// Serve syslog over TLS (RFC 5425) with this certificate and key.
    pub tls: Option<TlsOptions>,
}

/// The certificate chain and private key of a TLS listener, both PEM files.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// PEM file of the certificate chain, leaf first.
    pub cert_path: PathBuf,
    /// PEM file of the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
}

impl TlsOptions {
    /// A TLS acceptor from the PEM files, with rustls' safe defaults (TLS 1.2 and 1.3).
    pub fn acceptor(&self) -> Result<TlsAcceptor, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert_path)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| format!("certificate file {}: {e}", self.cert_path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "certificate file {} holds no certificate",
                self.cert_path.display()
            ));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key_path)
            .map_err(|e| format!("key file {}: {e}", self.key_path.display()))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "certificate {} and key {} do not form a usable pair: {e}",
                self.cert_path.display(),
                self.key_path.display()
            )
        })?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl SyslogTcpOptions {
    /// Options with the defaults: loopback port 5514, 256 connections, 5 min idle, 30 s per
    /// frame, 64 KiB frames.
    pub fn new(name: &str) -> Self {
        SyslogTcpOptions {
            name: name.to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 5514)),
            format: Format::Auto,
            max_connections: 256,
            idle_timeout: Duration::from_secs(300),
            frame_timeout: Duration::from_secs(30),
            max_frame_bytes: 64 * 1024,
            parse: ParseOptions::default(),
            tls: None,
        }
    }
}

/// A listening syslog TCP source.
pub struct SyslogTcpSource {
    opts: SyslogTcpOptions,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    stats: Arc<SourceStats>,
}

impl std::fmt::Debug for SyslogTcpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogTcpSource")
            .field("opts", &self.opts)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl SyslogTcpSource {
    /// Binds the listener.
    pub async fn bind(opts: SyslogTcpOptions) -> Result<Self, SourceError> {
        let tls = match &opts.tls {
            Some(t) => Some(t.acceptor().map_err(|message| SourceError::Tls {
                source_name: opts.name.clone(),
                message,
            })?),
            None => None,
        };
        let listener = TcpListener::bind(opts.bind)
            .await
            .map_err(|error| SourceError::Bind {
                source_name: opts.name.clone(),
                addr: opts.bind.to_string(),
                error,
            })?;
        Ok(SyslogTcpSource {
            opts,
            listener,
            tls,
            stats: Arc::new(SourceStats::default()),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The source's counters.
    pub fn stats(&self) -> Arc<SourceStats> {
        self.stats.clone()
    }

    /// Accepts connections until `shutdown` fires.
    pub async fn run(
        self,
        out: BusSender<Event>,
        mut shutdown: Shutdown,
    ) -> Result<(), SourceError> {
        let slots = Arc::new(Semaphore::new(self.opts.max_connections.max(1)));
        let opts = Arc::new(self.opts);
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                r = self.listener.accept() => {
                    let Ok((stream, peer)) = r else { continue };
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        inc(&self.stats.connections_refused);
                        drop(stream);
                        continue;
                    };
                    inc(&self.stats.connections);
                    let (opts, stats, out, shutdown) = (opts.clone(), self.stats.clone(), out.clone(), shutdown.clone());
                    let tls = self.tls.clone();
                    tasks.spawn(async move {
                        // Free the slot before the peer can see the close, so a reconnect finds it.
                        match tls {
                            None => {
                                let stream = serve(stream, peer, &opts, stats, out, shutdown).await;
                                drop(permit);
                                drop(stream);
                            }
                            Some(acceptor) => {
                                // The handshake counts as the first frame: it must end in time.
                                match tokio::time::timeout(opts.frame_timeout, acceptor.accept(stream)).await {
                                    Ok(Ok(tls_stream)) => {
                                        let stream = serve(tls_stream, peer, &opts, stats, out, shutdown).await;
                                        drop(permit);
                                        drop(stream);
                                    }
                                    _ => {
                                        inc(&stats.tls_failures);
                                        drop(permit);
                                    }
                                }
                            }
                        }
                    });
                }
            }
        }
        tasks.shutdown().await;
        Ok(())
    }
}

/// Reads one connection until it closes, times out or fails; returns the stream to be closed.
async fn serve<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    opts: &SyslogTcpOptions,
    stats: Arc<SourceStats>,
    out: BusSender<Event>,
    mut shutdown: Shutdown,
) -> S {
    let mut dec = FrameDecoder::new(opts.max_frame_bytes);
    let mut proc = LineProcessor::new(&opts.name, opts.format, opts.parse, stats.clone());
    let mut buf = vec![0u8; 16 * 1024];
    let mut recs = Vec::new();
    let mut frame_started: Option<Instant> = None;
    let peer_ip = peer.ip().to_string();
    loop {
        let now = Instant::now();
        let mut deadline = now + opts.idle_timeout;
        if let Some(t) = frame_started {
            deadline = deadline.min(t + opts.frame_timeout);
        }
        let pending = proc.has_pending();
        let n = tokio::select! {
            _ = shutdown.wait() => break,
            // An audit event's last record may never come: hand it out after a quiet spell.
            _ = tokio::time::sleep(Duration::from_millis(500)), if pending => {
                proc.flush(&mut |r| recs.push(r));
                if !deliver(&out, &stats, &mut recs).await {
                    return stream;
                }
                continue;
            }
            _ = tokio::time::sleep_until(deadline) => {
                inc(&stats.connections_timed_out);
                tracing::debug!(source = %opts.name, %peer, "closing idle or slow connection");
                break;
            }
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => {
                    dec.finish(&mut |f| proc.line(f.bytes, f.truncated, &mut |r| recs.push(r)));
                    break;
                }
                Ok(n) => n,
            }
        };
        let res = dec.push(&buf[..n], &mut |f| {
            proc.line(f.bytes, f.truncated, &mut |mut r| {
                r.fields.insert("peer", peer_ip.as_str());
                recs.push(r)
            })
        });
        if let Err(e) = res {
            inc(&stats.framing_errors);
            tracing::debug!(source = %opts.name, %peer, error = %e, "closing connection");
            break;
        }
        frame_started = match (dec.has_partial(), frame_started) {
            (true, Some(t)) => Some(t),
            (true, None) => Some(Instant::now()),
            (false, _) => None,
        };
        if !deliver(&out, &stats, &mut recs).await {
            return stream;
        }
    }
    proc.flush(&mut |r| recs.push(r));
    deliver(&out, &stats, &mut recs).await;
    stream
}
