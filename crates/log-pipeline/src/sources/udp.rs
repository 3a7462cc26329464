//! Syslog over UDP: one message per datagram, a large receive buffer, batched reads.

use std::net::SocketAddr;
use std::sync::Arc;

use ironpost_core::bus::BusSender;
use ironpost_core::event::Event;
use ironpost_core::module::Shutdown;

use super::file::SourceError;
use super::{LineProcessor, SourceStats, deliver};
use crate::{Format, ParseOptions};

/// Options of a syslog UDP source.
#[derive(Debug, Clone)]
pub struct SyslogUdpOptions {
    /// The source name.
    pub name: String,
    /// Address to bind (default `127.0.0.1:5514`).
    pub bind: SocketAddr,
    /// Format of the messages (`Auto` by default).
    pub format: Format,
    /// Receive buffer requested from the kernel (capped by `net.core.rmem_max`).
    pub recv_buffer_bytes: usize,
    /// Most datagrams read before records are handed to the bus.
    pub batch: usize,
    /// Time zone and parsing switches.
    pub parse: ParseOptions,
}

impl SyslogUdpOptions {
    /// Options with the defaults: loopback port 5514, 8 MiB buffer, batches of 256.
    pub fn new(name: &str) -> Self {
        SyslogUdpOptions {
            name: name.to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 5514)),
            format: Format::Auto,
            recv_buffer_bytes: 8 << 20,
            batch: 256,
            parse: ParseOptions::default(),
        }
    }
}

/// A bound syslog UDP source.
#[derive(Debug)]
pub struct SyslogUdpSource {
    opts: SyslogUdpOptions,
    socket: tokio::net::UdpSocket,
    stats: Arc<SourceStats>,
}

impl SyslogUdpSource {
    /// Binds the socket (so a port conflict shows at start, not later).
    pub fn bind(opts: SyslogUdpOptions) -> Result<Self, SourceError> {
        let err = |error| SourceError::Bind {
            source_name: opts.name.clone(),
            addr: opts.bind.to_string(),
            error,
        };
        let domain = if opts.bind.is_ipv4() {
            socket2::Domain::IPV4
        } else {
            socket2::Domain::IPV6
        };
        let sock = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
            .map_err(err)?;
        // Bursts land in the kernel buffer while the bus applies back-pressure.
        if let Err(e) = sock.set_recv_buffer_size(opts.recv_buffer_bytes) {
            tracing::warn!(source = %opts.name, error = %e, "cannot enlarge the receive buffer");
        }
        sock.set_nonblocking(true).map_err(err)?;
        sock.bind(&opts.bind.into()).map_err(err)?;
        let socket = tokio::net::UdpSocket::from_std(sock.into()).map_err(err)?;
        Ok(SyslogUdpSource {
            opts,
            socket,
            stats: Arc::new(SourceStats::default()),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The receive buffer the kernel granted.
    pub fn recv_buffer_bytes(&self) -> usize {
        socket2::SockRef::from(&self.socket)
            .recv_buffer_size()
            .unwrap_or(0)
    }

    /// The source's counters.
    pub fn stats(&self) -> Arc<SourceStats> {
        self.stats.clone()
    }

    /// Receives until `shutdown` fires or the bus closes.
    pub async fn run(
        self,
        out: BusSender<Event>,
        mut shutdown: Shutdown,
    ) -> Result<(), SourceError> {
        let mut proc = LineProcessor::new(
            &self.opts.name,
            self.opts.format,
            self.opts.parse,
            self.stats.clone(),
        );
        let mut buf = vec![0u8; 65_536];
        let mut recs = Vec::new();
        loop {
            let pending = proc.has_pending();
            tokio::select! {
                _ = shutdown.wait() => break,
                // An audit event's last record may never come: hand it out after a quiet spell.
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)), if pending => {
                    proc.flush(&mut |r| recs.push(r));
                    if !deliver(&out, &self.stats, &mut recs).await {
                        return Ok(());
                    }
                }
                r = self.socket.recv_from(&mut buf) => {
                    let Ok((n, peer)) = r else { continue };
                    self.datagram(&mut proc, &buf[..n], peer, &mut recs);
                    // Drain what else is queued without waking the runtime per datagram.
                    for _ in 1..self.opts.batch.max(1) {
                        match self.socket.try_recv_from(&mut buf) {
                            Ok((n, peer)) => self.datagram(&mut proc, &buf[..n], peer, &mut recs),
                            Err(_) => break,
                        }
                    }
                    if !deliver(&out, &self.stats, &mut recs).await {
                        return Ok(());
                    }
                }
            }
        }
        proc.flush(&mut |r| recs.push(r));
        deliver(&out, &self.stats, &mut recs).await;
        Ok(())
    }

    fn datagram(
        &self,
        proc: &mut LineProcessor,
        data: &[u8],
        peer: SocketAddr,
        recs: &mut Vec<ironpost_core::event::LogRecord>,
    ) {
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        let data = data.strip_suffix(b"\r").unwrap_or(data);
        let data = data.strip_suffix(b"\0").unwrap_or(data);
        proc.line(data, false, &mut |mut r| {
            r.fields.insert("peer", peer.ip().to_string());
            recs.push(r)
        });
    }
}
