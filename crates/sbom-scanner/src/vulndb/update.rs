//! `db update`: the OSV bucket's per-ecosystem `all.zip` archives fetched over HTTPS, then
//! imported exactly as `db import` imports them.
//!
//! The client is a small blocking HTTP/1.1 GET over rustls, one request per connection: redirects
//! are followed up to a bound, the body is streamed to a file in a work directory beside the index
//! and checked against `Content-Length` and a size limit. Every archive is downloaded before
//! anything is imported, so a failed download leaves the previous index as it was. Plain `http://`
//! is accepted only for loopback hosts (tests, a local proxy): an archive from anywhere else is
//! always authenticated.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use super::{DbError, VulnDb};

/// The public OSV bucket: `<URL>/<ECOSYSTEM>/all.zip`.
pub const DEFAULT_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// The OSV ecosystem names of every ecosystem a scan matches, fetched when none is named.
pub const DEFAULT_ECOSYSTEMS: &[&str] = &[
    "crates.io",
    "npm",
    "PyPI",
    "Go",
    "Maven",
    "RubyGems",
    "Packagist",
    "Debian",
    "Alpine",
];

/// The response head (status line and headers) may not be larger than this.
const MAX_HEAD_BYTES: u64 = 64 * 1024;

/// Where to download from and how carefully.
#[derive(Debug, Clone)]
pub struct UpdateSource {
    /// Base URL of the bucket or mirror.
    pub base_url: String,
    /// OSV ecosystem names, each fetched as `<base_url>/<name>/all.zip`.
    pub ecosystems: Vec<String>,
    /// Extra PEM certificates trusted beside the system's roots (a private mirror).
    pub ca_file: Option<PathBuf>,
    /// Size, time and redirect bounds.
    pub limits: Limits,
}

/// Bounds on one download.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest archive accepted, in bytes.
    pub max_bytes: u64,
    /// Longest wait for a TCP connection.
    pub connect_timeout: Duration,
    /// Longest wait for any read or write once connected.
    pub io_timeout: Duration,
    /// Most redirects followed for one archive.
    pub max_redirects: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 30,
            connect_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(60),
            max_redirects: 5,
        }
    }
}

/// What a download reports as it goes, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// The server answered 200; `total` is its `Content-Length` when it sent one.
    Started {
        /// The archive's URL (after redirects).
        url: &'a str,
        /// Expected size in bytes.
        total: Option<u64>,
    },
    /// More of the body has been written to disk.
    Received {
        /// The archive's URL.
        url: &'a str,
        /// Bytes so far.
        received: u64,
        /// Expected size in bytes.
        total: Option<u64>,
    },
    /// The whole body is on disk.
    Finished {
        /// The archive's URL.
        url: &'a str,
        /// Its size in bytes.
        received: u64,
    },
}

/// An update that could not download or import its archives.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The URL cannot be parsed or used.
    #[error("{url}: not a usable URL: {message}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// Plain HTTP to a host that is not loopback.
    #[error(
        "{url}: plain http:// is only allowed for loopback hosts; use https:// (with --ca-file for a private CA)"
    )]
    PlainHttp {
        /// The URL.
        url: String,
    },
    /// The extra CA file cannot be used.
    #[error("CA file {path}: {message}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No TCP connection could be made.
    #[error("{url}: cannot connect to {host}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// `host:port`.
        host: String,
        /// The cause.
        source: io::Error,
    },
    /// The TLS handshake failed, most often an untrusted certificate.
    #[error(
        "{url}: TLS handshake failed: {source} (a server whose CA is not among the system's roots needs --ca-file)"
    )]
    Tls {
        /// The URL.
        url: String,
        /// The cause.
        source: io::Error,
    },
    /// The server answered something other than 200 or a redirect.
    #[error("{url}: the server answered HTTP {status} {reason}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The response is not HTTP/1.x as this client understands it.
    #[error("{url}: malformed HTTP response: {message}")]
    Protocol {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// Redirects did not end.
    #[error("{url}: more than {limit} redirects")]
    Redirects {
        /// The URL first asked for.
        url: String,
        /// The bound.
        limit: u32,
    },
    /// The archive is larger than the limit.
    #[error("{url}: the archive is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The bound.
        limit: u64,
    },
    /// The connection ended before the whole body arrived.
    #[error("{url}: truncated download: the connection ended after {received} bytes{}",
        .expected.map(|e| format!(" of {e}")).unwrap_or_default())]
    Truncated {
        /// The URL.
        url: String,
        /// Bytes received.
        received: u64,
        /// Bytes announced, when known.
        expected: Option<u64>,
    },
    /// The server stopped answering.
    #[error("{url}: timed out: nothing received for {secs} s")]
    TimedOut {
        /// The URL.
        url: String,
        /// The I/O timeout.
        secs: u64,
    },
    /// Reading the response failed otherwise.
    #[error("{url}: reading the response failed after {received} bytes: {source}")]
    Read {
        /// The URL.
        url: String,
        /// Bytes received.
        received: u64,
        /// The cause.
        source: io::Error,
    },
    /// A local file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A downloaded archive is not a readable OSV archive.
    #[error("{url}: the downloaded archive does not import: {source}")]
    Import {
        /// The archive's URL.
        url: String,
        /// The import error.
        source: DbError,
    },
}

/// The URL of one ecosystem's archive under `base`.
pub fn archive_url(base: &str, ecosystem: &str) -> String {
    let mut url = base.trim_end_matches('/').to_string();
    url.push('/');
    for b in ecosystem.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("/all.zip");
    url
}

impl VulnDb {
    /// Downloads every ecosystem's `all.zip` into a work directory inside `db_dir`, then imports
    /// them as [`VulnDb::import`] does, with the URLs as sources. Nothing is saved: the caller
    /// saves (atomically) only when everything succeeded.
    pub fn update(
        source: &UpdateSource,
        db_dir: &Path,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<VulnDb, UpdateError> {
        // (file name, URL) per distinct archive.
        let mut wanted: Vec<(String, String)> = Vec::new();
        for eco in &source.ecosystems {
            let url = archive_url(&source.base_url, eco);
            if wanted.iter().any(|(_, u)| *u == url) {
                continue;
            }
            // Refuse a bad or insecure URL before downloading anything.
            Target::parse(&url)?;
            // The ecosystem in the name makes an import error about the file readable.
            let safe: String = eco
                .chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' => c,
                    _ => '_',
                })
                .collect();
            wanted.push((format!("{}-{safe}.zip", wanted.len()), url));
        }
        let tls = client_config(source.ca_file.as_deref())?;
        let work = WorkDir::create(db_dir)?;
        let mut files = Vec::new();
        for (name, url) in &wanted {
            let path = work.0.join(name);
            download(url, &path, &tls, &source.limits, progress)?;
            files.push(path);
        }
        let urls: Vec<String> = wanted.into_iter().map(|(_, url)| url).collect();
        let mut db = VulnDb::import(&files).map_err(|e| {
            let culprit = match &e {
                DbError::Io { path, .. } | DbError::Zip { path, .. } => {
                    files.iter().position(|f| path.starts_with(f))
                }
                DbError::Record { path, .. } => files
                    .iter()
                    .position(|f| path.starts_with(&f.display().to_string())),
                _ => None,
            };
            UpdateError::Import {
                url: culprit.map_or_else(|| source.base_url.clone(), |i| urls[i].clone()),
                source: e,
            }
        })?;
        db.meta.sources = urls;
        Ok(db)
    }
}

/// A directory for the downloads, removed with everything in it when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create(db_dir: &Path) -> Result<Self, UpdateError> {
        let path = db_dir.join(format!(".update-{}", std::process::id()));
        // A directory left by a killed run with the same pid holds nothing worth keeping.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|source| UpdateError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(WorkDir(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The system's roots plus those in `ca_file`.
fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, UpdateError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system root rustls cannot use is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let err = |message: String| UpdateError::CaFile {
            path: path.to_path_buf(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| err(format!("cannot read it: {e}")))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(format!("not a PEM certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(err("no certificate in it".into()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| err(format!("unusable certificate: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A parsed `http(s)://host[:port]/path` URL that this client may fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    https: bool,
    /// Without brackets for an IPv6 literal.
    host: String,
    port: u16,
    /// Path and query, starting with `/`.
    path: String,
}

impl Target {
    /// Parses an absolute URL and refuses plain HTTP to a host that is not loopback.
    fn parse(url: &str) -> Result<Self, UpdateError> {
        let bad = |message: &str| UpdateError::BadUrl {
            url: url.to_string(),
            message: message.to_string(),
        };
        let (https, rest) = if let Some(r) = strip_prefix_ci(url, "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(url, "http://") {
            (false, r)
        } else {
            return Err(bad("only https:// (or http:// to loopback) is supported"));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let path = path.split('#').next().unwrap_or("/").to_string();
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| bad("unclosed '[' in the host"))?;
            let port = v6[end + 1..].strip_prefix(':');
            if !v6[end + 1..].is_empty() && port.is_none() {
                return Err(bad("text after the IPv6 address"));
            }
            (v6[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
            None if https => 443,
            None => 80,
        };
        let target = Target {
            https,
            host: host.to_ascii_lowercase(),
            port,
            path,
        };
        if !https && !target.is_loopback() {
            return Err(UpdateError::PlainHttp {
                url: url.to_string(),
            });
        }
        Ok(target)
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `host[:port]` as the `Host` header writes it.
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.https { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), self.path)
    }

    /// The target of a redirect's `Location`, absolute or relative to this URL.
    fn join(&self, location: &str) -> Result<Target, UpdateError> {
        let scheme = if self.https { "https:" } else { "http:" };
        let absolute = if location.contains("://") {
            location.to_string()
        } else if location.starts_with("//") {
            format!("{scheme}{location}")
        } else if location.starts_with('/') {
            format!("{scheme}//{}{location}", self.authority())
        } else {
            let dir = &self.path[..self.path.rfind('/').map_or(0, |i| i + 1)];
            format!("{scheme}//{}{dir}{location}", self.authority())
        };
        Target::parse(&absolute)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// One connection, with or without TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

fn connect(
    target: &Target,
    tls: &Arc<rustls::ClientConfig>,
    limits: &Limits,
) -> Result<Conn, UpdateError> {
    let url = target.url();
    let host = target.authority();
    let connect_err = |source| UpdateError::Connect {
        url: url.clone(),
        host: host.clone(),
        source,
    };
    let addrs = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(connect_err)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    let mut sock = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, limits.connect_timeout) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut sock = sock.ok_or_else(|| connect_err(last))?;
    let timeouts = sock
        .set_read_timeout(Some(limits.io_timeout))
        .and_then(|()| sock.set_write_timeout(Some(limits.io_timeout)));
    timeouts.map_err(connect_err)?;
    if !target.https {
        return Ok(Conn::Plain(sock));
    }
    let tls_err = |source: io::Error| {
        if is_timeout(&source) {
            UpdateError::TimedOut {
                url: url.clone(),
                secs: limits.io_timeout.as_secs(),
            }
        } else {
            UpdateError::Tls {
                url: url.clone(),
                source,
            }
        }
    };
    let name = ServerName::try_from(target.host.clone()).map_err(|e| UpdateError::BadUrl {
        url: url.clone(),
        message: e.to_string(),
    })?;
    let mut conn = rustls::ClientConnection::new(tls.clone(), name)
        .map_err(|e| tls_err(io::Error::other(e)))?;
    while conn.is_handshaking() {
        match conn.complete_io(&mut sock) {
            Ok((0, 0)) => {
                return Err(tls_err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                )));
            }
            Ok(_) => {}
            Err(e) => return Err(tls_err(e)),
        }
    }
    Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(conn, sock))))
}

/// A response head: status and the headers this client acts on.
struct Head {
    status: u16,
    reason: String,
    content_length: Option<u64>,
    chunked: bool,
    location: Option<String>,
}

/// Reads one line (without its CRLF) of at most `limit` bytes; EOF before any byte is an error.
fn read_line(r: &mut impl BufRead, limit: u64) -> io::Result<String> {
    let mut line = Vec::new();
    r.take(limit).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(if line.len() as u64 >= limit {
            io::Error::new(io::ErrorKind::InvalidData, "line too long")
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "the connection ended")
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}

fn read_head(r: &mut impl BufRead, url: &str, limits: &Limits) -> Result<Head, UpdateError> {
    let proto = |message: String| UpdateError::Protocol {
        url: url.to_string(),
        message,
    };
    let io_err = |e: io::Error| {
        if is_timeout(&e) {
            UpdateError::TimedOut {
                url: url.to_string(),
                secs: limits.io_timeout.as_secs(),
            }
        } else if e.kind() == io::ErrorKind::InvalidData {
            proto(e.to_string())
        } else {
            UpdateError::Read {
                url: url.to_string(),
                received: 0,
                source: e,
            }
        }
    };
    loop {
        let mut budget = MAX_HEAD_BYTES;
        let status_line = read_line(r, budget).map_err(io_err)?;
        budget = budget.saturating_sub(status_line.len() as u64 + 2);
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(proto(format!(
                "not an HTTP/1.x status line: {status_line:?}"
            )));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| proto(format!("no status code in {status_line:?}")))?;
        let mut head = Head {
            status,
            reason: parts.next().unwrap_or("").trim().to_string(),
            content_length: None,
            chunked: false,
            location: None,
        };
        loop {
            if budget == 0 {
                return Err(proto("the response head is too large".into()));
            }
            let line = read_line(r, budget).map_err(io_err)?;
            budget = budget.saturating_sub(line.len() as u64 + 2);
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| proto(format!("not a header line: {line:?}")))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let n: u64 = value
                    .parse()
                    .map_err(|_| proto(format!("bad Content-Length {value:?}")))?;
                if head.content_length.is_some_and(|m| m != n) {
                    return Err(proto("conflicting Content-Length headers".into()));
                }
                head.content_length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                let last = value.rsplit(',').next().unwrap_or("").trim();
                if !last.eq_ignore_ascii_case("chunked") {
                    return Err(proto(format!("unsupported Transfer-Encoding {value:?}")));
                }
                head.chunked = true;
            } else if name.eq_ignore_ascii_case("location") {
                head.location = Some(value.to_string());
            }
        }
        // An interim 1xx answer is followed by the real one.
        if !(100..200).contains(&head.status) {
            return Ok(head);
        }
    }
}

/// The body of a `Transfer-Encoding: chunked` response.
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let line = read_line(&mut self.inner, 4096)?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {line:?}"),
                )
            })?;
            if size == 0 {
                while !read_line(&mut self.inner, 4096)?.is_empty() {}
                self.done = true;
                return Ok(0);
            }
            self.left = size;
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection ended inside a chunk",
            ));
        }
        self.left -= n as u64;
        if self.left == 0 && !read_line(&mut self.inner, 4096)?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no CRLF after a chunk",
            ));
        }
        Ok(n)
    }
}

/// Fetches `url` into `dest`, following redirects; returns the byte count.
fn download(
    url: &str,
    dest: &Path,
    tls: &Arc<rustls::ClientConfig>,
    limits: &Limits,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<u64, UpdateError> {
    let mut target = Target::parse(url)?;
    for _ in 0..=limits.max_redirects {
        let here = target.url();
        let mut conn = connect(&target, tls, limits)?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ironpost/{}\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
            target.path,
            target.authority(),
            env!("CARGO_PKG_VERSION"),
        );
        conn.write_all(request.as_bytes())
            .and_then(|()| conn.flush())
            .map_err(|source| UpdateError::Read {
                url: here.clone(),
                received: 0,
                source,
            })?;
        let mut reader = BufReader::with_capacity(64 * 1024, conn);
        let head = read_head(&mut reader, &here, limits)?;
        match head.status {
            200 => {
                let total = if head.chunked {
                    None
                } else {
                    head.content_length
                };
                return save_body(reader, &head, total, &here, dest, limits, progress);
            }
            301 | 302 | 303 | 307 | 308 => {
                let location = head.location.ok_or_else(|| UpdateError::Protocol {
                    url: here.clone(),
                    message: format!("HTTP {} without a Location header", head.status),
                })?;
                target = target.join(&location)?;
            }
            status => {
                return Err(UpdateError::Status {
                    url: here,
                    status,
                    reason: head.reason,
                });
            }
        }
    }
    Err(UpdateError::Redirects {
        url: url.to_string(),
        limit: limits.max_redirects,
    })
}

/// Streams the body to `dest`, enforcing the size limit and the announced length.
fn save_body(
    mut reader: BufReader<Conn>,
    head: &Head,
    total: Option<u64>,
    url: &str,
    dest: &Path,
    limits: &Limits,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<u64, UpdateError> {
    if total.is_some_and(|t| t > limits.max_bytes) {
        return Err(UpdateError::TooLarge {
            url: url.to_string(),
            limit: limits.max_bytes,
        });
    }
    let write_err = |source| UpdateError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let mut out = BufWriter::with_capacity(256 * 1024, File::create(dest).map_err(write_err)?);
    progress(Progress::Started { url, total });
    let mut body: Box<dyn Read + '_> = if head.chunked {
        Box::new(Chunked {
            inner: &mut reader,
            left: 0,
            done: false,
        })
    } else if let Some(len) = total {
        Box::new((&mut reader).take(len))
    } else {
        Box::new(&mut reader)
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A TLS peer that closes without close_notify, or a chunk cut short.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(UpdateError::Truncated {
                    url: url.to_string(),
                    received,
                    expected: total,
                });
            }
            Err(e) if is_timeout(&e) => {
                return Err(UpdateError::TimedOut {
                    url: url.to_string(),
                    secs: limits.io_timeout.as_secs(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData && head.chunked => {
                return Err(UpdateError::Protocol {
                    url: url.to_string(),
                    message: e.to_string(),
                });
            }
            Err(source) => {
                return Err(UpdateError::Read {
                    url: url.to_string(),
                    received,
                    source,
                });
            }
        };
        received += n as u64;
        if received > limits.max_bytes {
            return Err(UpdateError::TooLarge {
                url: url.to_string(),
                limit: limits.max_bytes,
            });
        }
        out.write_all(&buf[..n]).map_err(write_err)?;
        progress(Progress::Received {
            url,
            received,
            total,
        });
    }
    if total.is_some_and(|t| received < t) {
        return Err(UpdateError::Truncated {
            url: url.to_string(),
            received,
            expected: total,
        });
    }
    out.flush().map_err(write_err)?;
    progress(Progress::Finished { url, received });
    Ok(received)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_urls_follow_the_bucket_layout() {
        assert_eq!(
            archive_url("https://m.example/osv/", "crates.io"),
            "https://m.example/osv/crates.io/all.zip"
        );
        assert_eq!(
            archive_url("https://m.example", "Ubuntu:22.04 LTS"),
            "https://m.example/Ubuntu:22.04%20LTS/all.zip"
        );
    }

    #[test]
    fn urls_parse_and_plain_http_is_loopback_only() {
        let t = Target::parse("https://Example.org:8443/a/b?x=1").unwrap();
        assert_eq!(
            (t.https, t.host.as_str(), t.port, t.path.as_str()),
            (true, "example.org", 8443, "/a/b?x=1")
        );
        let t = Target::parse("http://[::1]:9000/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
        assert_eq!(t.url(), "http://[::1]:9000/x");
        assert!(Target::parse("http://localhost/x").is_ok());
        assert!(Target::parse("http://127.0.0.2/x").is_ok());
        assert!(matches!(
            Target::parse("http://example.org/x"),
            Err(UpdateError::PlainHttp { .. })
        ));
        assert!(matches!(
            Target::parse("ftp://example.org/x"),
            Err(UpdateError::BadUrl { .. })
        ));
        assert!(matches!(
            Target::parse("https://u:p@example.org/"),
            Err(UpdateError::BadUrl { .. })
        ));
    }

    #[test]
    fn redirects_resolve_against_the_current_url() {
        let t = Target::parse("https://a.example/osv/crates.io/all.zip").unwrap();
        assert_eq!(
            t.join("/b/all.zip").unwrap().url(),
            "https://a.example/b/all.zip"
        );
        assert_eq!(
            t.join("x.zip").unwrap().url(),
            "https://a.example/osv/crates.io/x.zip"
        );
        assert_eq!(
            t.join("//c.example:444/y").unwrap().url(),
            "https://c.example:444/y"
        );
        assert!(matches!(
            t.join("http://evil.example/all.zip"),
            Err(UpdateError::PlainHttp { .. })
        ));
    }

    #[test]
    fn chunked_bodies_decode_and_truncation_is_an_error() {
        let mut body = String::new();
        Chunked {
            inner: &b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"[..],
            left: 0,
            done: false,
        }
        .read_to_string(&mut body)
        .unwrap();
        assert_eq!(body, "hello world");
        let err = Chunked {
            inner: &b"a\r\nhello"[..],
            left: 0,
            done: false,
        }
        .read_to_end(&mut Vec::new())
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn response_heads_parse() {
        let mut r = &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nLocation: /x\r\ncontent-length: 0\r\n\r\n"[..];
        let head = read_head(&mut r, "u", &Limits::default()).unwrap();
        assert_eq!(head.status, 302);
        assert_eq!(head.location.as_deref(), Some("/x"));
        assert_eq!(head.content_length, Some(0));
        let mut r = &b"SSH-2.0-OpenSSH\r\n"[..];
        assert!(matches!(
            read_head(&mut r, "u", &Limits::default()),
            Err(UpdateError::Protocol { .. })
        ));
    }
}
