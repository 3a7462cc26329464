//! A small HTTP/1.1 client for the webhook and Alertmanager sinks: one kept-alive connection
//! (TLS through rustls for `https://`), re-opened after any failure.

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::deliver::DeliveryError;

/// Largest answer body read; a longer one fails the attempt.
const MAX_ANSWER: usize = 1 << 20;
/// Most bytes of an error answer quoted in the sink's last error.
const ERROR_BODY_QUOTE: usize = 200;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Target {
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Splits an `http://` or `https://` URL; user info is not allowed (use `username`/`password`).
pub(crate) fn parse_url(url: &str) -> Result<Target, String> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err("the URL must start with http:// or https://".into());
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('?') => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    if authority.contains('@') {
        return Err("put credentials in username/password or token, not in the URL".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unclosed [ in the URL's host")?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("`{p}` is not a port number"))?,
        None if https => 443,
        None => 80,
    };
    Ok(Target {
        https,
        host,
        port,
        path,
    })
}

/// The client of one sink.
pub(crate) struct HttpClient {
    pub target: Target,
    authority: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
    tls: Option<TlsConnector>,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl HttpClient {
    /// A client of `url` sending `headers` (names lowercase) and `content_type` on each request.
    pub(crate) fn new(
        url: &str,
        headers: Vec<(String, String)>,
        ca_file: &Path,
        content_type: &str,
    ) -> Result<HttpClient, String> {
        let target = parse_url(url)?;
        let tls = if target.https {
            Some(TlsConnector::from(crate::tls::client_config(ca_file)?))
        } else {
            None
        };
        let mut parsed = Vec::new();
        let ct = if content_type.is_empty() {
            "application/json"
        } else {
            content_type
        };
        for (k, v) in std::iter::once(("content-type".to_owned(), ct.to_owned())).chain(headers) {
            let name = HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("`{k}` is not a header name"))?;
            let mut value = HeaderValue::from_str(&v).map_err(|_| {
                format!("the value of header `{k}` has characters a header cannot carry")
            })?;
            value.set_sensitive(true);
            parsed.push((name, value));
        }
        let authority = HeaderValue::from_str(&target.authority())
            .map_err(|_| "the URL's host is not valid in a Host header".to_owned())?;
        Ok(HttpClient {
            target,
            authority,
            headers: parsed,
            tls,
            conn: None,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, DeliveryError> {
        let t = &self.target;
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| {
                DeliveryError::retry(format!("connecting to {}:{}: {e}", t.host, t.port))
            })?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(t.host.clone())
                    .map_err(|e| DeliveryError::permanent(format!("`{}`: {e}", t.host)))?;
                let stream = tls.connect(name, tcp).await.map_err(|e| {
                    DeliveryError::retry(format!("TLS with {}:{}: {e}", t.host, t.port))
                })?;
                handshake(TokioIo::new(stream)).await
            }
            None => handshake(TokioIo::new(tcp)).await,
        }
    }

    /// Drops the connection; the next request opens a new one.
    pub(crate) fn reset(&mut self) {
        self.conn = None;
    }

    /// POSTs `body` to `path`; a 2xx answer is success, 5xx, 408 and 429 are worth retrying.
    pub(crate) async fn post(&mut self, path: &str, body: Bytes) -> Result<(), DeliveryError> {
        // Taken out while in use: a cancelled attempt (timeout) leaves no half-used connection.
        let mut conn = match self.conn.take() {
            Some(c) if !c.is_closed() => c,
            _ => self.connect().await?,
        };
        conn.ready().await.map_err(|e| {
            DeliveryError::retry(format!("connection to {}: {e}", self.target.host))
        })?;
        let mut req = hyper::Request::post(path)
            .body(Full::new(body))
            .map_err(|e| DeliveryError::permanent(format!("building the request: {e}")))?;
        let h = req.headers_mut();
        h.insert(hyper::header::HOST, self.authority.clone());
        for (k, v) in &self.headers {
            h.append(k.clone(), v.clone());
        }
        let resp = conn
            .send_request(req)
            .await
            .map_err(|e| DeliveryError::retry(format!("POST to {}: {e}", self.target.host)))?;
        let status = resp.status();
        let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| DeliveryError::retry(format!("reading the answer: {e}")))?
            .to_bytes();
        self.conn = Some(conn);
        if status.is_success() {
            return Ok(());
        }
        let quote = String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_QUOTE)])
            .trim()
            .to_owned();
        // The path is left out: chat webhooks carry their token in it.
        let message = format!(
            "HTTP {} from {}: {quote}",
            status.as_u16(),
            self.target.authority()
        );
        let code = status.as_u16();
        if status.is_server_error() || code == 408 || code == 429 {
            Err(DeliveryError::retry(message))
        } else {
            Err(DeliveryError::permanent(message))
        }
    }
}

async fn handshake<S>(io: TokioIo<S>) -> Result<SendRequest<Full<Bytes>>, DeliveryError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| DeliveryError::retry(format!("HTTP handshake: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(send)
}

/// Standard base64 (RFC 4648, with padding), for basic authentication.
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_path() {
        let t = parse_url("https://hooks.example/a/b?x=1").unwrap();
        assert_eq!(
            (t.https, t.host.as_str(), t.port, t.path.as_str()),
            (true, "hooks.example", 443, "/a/b?x=1")
        );
        let t = parse_url("http://127.0.0.1:9093").unwrap();
        assert_eq!((t.port, t.path.as_str()), (9093, "/"));
        assert_eq!(t.authority(), "127.0.0.1:9093");
        let t = parse_url("http://[::1]:80?q").unwrap();
        assert_eq!((t.host.as_str(), t.path.as_str()), ("::1", "/?q"));
        assert_eq!(t.authority(), "[::1]");
        assert!(parse_url("https://u:p@h/").is_err());
        assert!(parse_url("ftp://h/").is_err());
        assert!(parse_url("http://h:99999/").is_err());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
