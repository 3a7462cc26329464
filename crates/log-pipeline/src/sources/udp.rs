//! Syslog over UDP: one message per datagram, a large receive buffer, batched reads.
//!
//! Datagrams are read up to [`RECV_BATCH`] per `recvmmsg(2)` call. The socket asks the kernel
//! for its drop count with each datagram (`SO_RXQ_OVFL`), so datagrams the kernel dropped
//! because the receive buffer was full are counted (`kernel_drops`) when the next one is read,
//! instead of vanishing.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

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

/// The largest UDP payload, the room kept for each datagram of a batch.
const DATAGRAM_MAX: usize = 65_536;

/// Most datagrams one `recvmmsg(2)` call reads.
pub const RECV_BATCH: usize = 64;

/// Control-message room per datagram, in 8-byte words: one `SO_RXQ_OVFL` (a u32) fits twice.
const CONTROL_WORDS: usize = 8;

/// One datagram of a batch: where its bytes are, who sent it, and the socket's drop count
/// when it was queued (`SO_RXQ_OVFL`, when the kernel attached it).
#[derive(Debug, Clone, Copy)]
struct Received {
    len: usize,
    truncated: bool,
    peer: Option<SocketAddr>,
    drops: Option<u32>,
}

/// Buffers for reading a batch of datagrams with `recvmmsg(2)`. The room for the data is
/// allocated zeroed, so the kernel maps pages only where datagrams are written.
struct RecvBatch {
    data: Vec<u8>,
    addrs: Vec<libc::sockaddr_storage>,
    control: Vec<u64>,
    got: Vec<Received>,
}

impl RecvBatch {
    fn new(n: usize) -> Self {
        let n = n.clamp(1, RECV_BATCH);
        RecvBatch {
            data: vec![0; n * DATAGRAM_MAX],
            // SAFETY: an all-zero sockaddr_storage is a valid (AF_UNSPEC) value.
            addrs: vec![unsafe { std::mem::zeroed() }; n],
            control: vec![0; n * CONTROL_WORDS],
            got: Vec::with_capacity(n),
        }
    }

    fn capacity(&self) -> usize {
        self.addrs.len()
    }

    fn datagram(&self, i: usize) -> (&[u8], Received) {
        let r = self.got[i];
        let start = i * DATAGRAM_MAX;
        (&self.data[start..start + r.len.min(DATAGRAM_MAX)], r)
    }

    /// Reads what is queued, up to the batch size, without blocking.
    fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let n = self.capacity();
        let data = self.data.as_mut_ptr();
        let addrs = self.addrs.as_mut_ptr();
        let control = self.control.as_mut_ptr();
        let mut iovs: Vec<libc::iovec> = (0..n)
            .map(|i| libc::iovec {
                // SAFETY: slot i of `data` is DATAGRAM_MAX bytes inside the allocation.
                iov_base: unsafe { data.add(i * DATAGRAM_MAX) }.cast(),
                iov_len: DATAGRAM_MAX,
            })
            .collect();
        let iov = iovs.as_mut_ptr();
        let mut hdrs: Vec<libc::mmsghdr> = (0..n)
            .map(|i| {
                // SAFETY: an all-zero mmsghdr is valid; the pointers set below stay valid
                // until recvmmsg returns (the vectors are not touched meanwhile).
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_name = unsafe { addrs.add(i) }.cast();
                h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
                h.msg_hdr.msg_iov = unsafe { iov.add(i) };
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_control = unsafe { control.add(i * CONTROL_WORDS) }.cast();
                h.msg_hdr.msg_controllen = (CONTROL_WORDS * 8) as _;
                h
            })
            .collect();
        // SAFETY: `hdrs` holds n headers whose buffers are ours and outlive the call.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let r = r as usize;
        self.got.clear();
        for (i, h) in hdrs.iter().take(r).enumerate() {
            self.got.push(Received {
                len: h.msg_len as usize,
                truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
                peer: peer_of(&self.addrs[i], h.msg_hdr.msg_namelen),
                drops: overflow_count(&h.msg_hdr),
            });
        }
        drop(iovs);
        Ok(r)
    }
}

/// The sender of a datagram, from the address recvmmsg filled in.
fn peer_of(addr: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    match i32::from(addr.ss_family) {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the kernel wrote a sockaddr_in (family and length checked).
            let a =
                unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the kernel wrote a sockaddr_in6 (family and length checked).
            let a =
                unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// The `SO_RXQ_OVFL` count among a received message's control messages.
fn overflow_count(msg: &libc::msghdr) -> Option<u32> {
    // SAFETY: the kernel filled msg_control up to msg_controllen; the CMSG_* walk stays
    // inside it, and the data of an SO_RXQ_OVFL message is a u32.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_RXQ_OVFL {
                return Some(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<u32>()));
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    None
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
        // The kernel's drop count with every datagram: losses to a full buffer get counted.
        let on: libc::c_int = 1;
        // SAFETY: setsockopt on our socket with a c_int value of the right size.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RXQ_OVFL,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            tracing::warn!(source = %opts.name, error = %io::Error::last_os_error(),
                "cannot ask for the kernel's drop count; datagrams it drops will not be counted");
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
        let mut batch = RecvBatch::new(self.opts.batch);
        // The socket's drop count as last seen: it only grows (modulo 2^32).
        let mut drops_seen = 0u32;
        let fd = self.socket.as_raw_fd();
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
                r = self.socket.readable() => {
                    if let Err(e) = r {
                        tracing::warn!(source = %self.opts.name, error = %e, "waiting for datagrams");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                    // Up to `batch` datagrams, RECV_BATCH per call, before handing them on.
                    let mut read = 0;
                    let mut failed = false;
                    while read < self.opts.batch.max(1) {
                        let n = match self
                            .socket
                            .try_io(tokio::io::Interest::READABLE, || batch.recv(fd))
                        {
                            Ok(n) => n,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) => {
                                tracing::warn!(source = %self.opts.name, error = %e, "reading datagrams");
                                failed = true;
                                break;
                            }
                        };
                        for i in 0..n {
                            let (data, r) = batch.datagram(i);
                            if let Some(d) = r.drops {
                                let new = d.wrapping_sub(drops_seen);
                                drops_seen = d;
                                self.stats
                                    .kernel_drops
                                    .fetch_add(u64::from(new), Ordering::Relaxed);
                            }
                            self.datagram(&mut proc, data, r.truncated, r.peer, &mut recs);
                        }
                        read += n;
                        if n < batch.capacity() {
                            break;
                        }
                    }
                    if !deliver(&out, &self.stats, &mut recs).await {
                        return Ok(());
                    }
                    if failed {
                        // The socket stays readable after an error: do not spin on it.
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
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
        truncated: bool,
        peer: Option<SocketAddr>,
        recs: &mut Vec<ironpost_core::event::LogRecord>,
    ) {
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        let data = data.strip_suffix(b"\r").unwrap_or(data);
        let data = data.strip_suffix(b"\0").unwrap_or(data);
        proc.line(data, truncated, &mut |mut r| {
            if let Some(peer) = peer {
                r.fields.insert("peer", peer.ip().to_string());
            }
            recs.push(r)
        });
    }
}
