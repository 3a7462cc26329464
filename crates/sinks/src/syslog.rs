//! `type = "syslog"`: RFC 5424 messages to an existing collector or SIEM, over UDP (RFC 5426,
//! one message per datagram), TCP with octet-counting framing (RFC 6587) or TLS (RFC 5425).
//!
//! ```text
//! <PRI>1 TIMESTAMP HOST APP-NAME PROCID KIND [ironpost@32473 id=".." rule=".." severity=".."] {record JSON}
//! ```

use std::sync::Arc;

use chrono::SecondsFormat;
use ironpost_core::Severity;
use ironpost_core::config::sinks::SinkConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::deliver::DeliveryError;
use crate::record::{Record, SinkRecord};

/// The structured-data id of Ironpost's parameters (32473 is the documentation enterprise
/// number of RFC 5612).
const SD_ID: &str = "ironpost@32473";
/// Largest datagram payload sent; longer messages are cut (RFC 5426 allows it).
const MAX_DATAGRAM: usize = 65_000;

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The syslog sink.
pub(crate) struct Syslog {
    protocol: String,
    address: String,
    server_name: String,
    tls: Option<TlsConnector>,
    app_name: String,
    facility: u8,
    conn: Option<Conn>,
}

/// The syslog severity of a record: critical 2, high 3, medium 4, low 5, informational 6;
/// actions are notices (5).
fn syslog_severity(record: &SinkRecord) -> u8 {
    match record.severity() {
        Some(Severity::Critical) => 2,
        Some(Severity::High) => 3,
        Some(Severity::Medium) => 4,
        Some(Severity::Low) => 5,
        Some(Severity::Informational) => 6,
        None => 5,
    }
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, `-` when empty.
fn header_field(text: &str, max: usize) -> String {
    let s: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if s.is_empty() { "-".into() } else { s }
}

fn sd_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// One RFC 5424 message for `record`.
pub fn format_rfc5424(record: &Record, app_name: &str, facility: u8) -> String {
    let b = &record.body;
    let pri = u16::from(facility.min(23)) * 8 + u16::from(syslog_severity(b));
    let mut out = format!(
        "<{pri}>1 {} {} {} {} {} [{SD_ID}",
        b.time().to_rfc3339_opts(SecondsFormat::Micros, true),
        header_field(b.host(), 255),
        header_field(app_name, 48),
        std::process::id(),
        b.kind(),
    );
    let rule = b.rule();
    let severity = b.severity().map(|s| s.as_str()).unwrap_or("");
    for (k, v) in [
        ("id", b.id()),
        ("rule", rule.as_str()),
        ("severity", severity),
        ("module", b.module()),
        ("container", b.container().unwrap_or("")),
    ] {
        if v.is_empty() {
            continue;
        }
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        sd_escape(v, &mut out);
        out.push('"');
    }
    out.push_str("] ");
    out.push_str(record.json());
    out
}

impl Syslog {
    pub(crate) fn new(config: &SinkConfig) -> Result<Syslog, String> {
        let tls = if config.protocol == "tls" {
            Some(TlsConnector::from(crate::tls::client_config(
                &config.ca_file,
            )?))
        } else {
            None
        };
        Ok(Syslog {
            protocol: config.protocol.clone(),
            address: config.address.clone(),
            server_name: config.server_name.clone(),
            tls,
            app_name: config.app_name.clone(),
            facility: config.facility,
            conn: None,
        })
    }

    async fn connect(&self) -> Result<Conn, DeliveryError> {
        let fail = |e: std::io::Error| {
            DeliveryError::retry(format!("syslog {} to {}: {e}", self.protocol, self.address))
        };
        if self.protocol == "udp" {
            let peer = tokio::net::lookup_host(&self.address)
                .await
                .map_err(fail)?
                .next()
                .ok_or_else(|| {
                    DeliveryError::retry(format!("{} resolves to nothing", self.address))
                })?;
            let local = if peer.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let sock = UdpSocket::bind(local).await.map_err(fail)?;
            sock.connect(peer).await.map_err(fail)?;
            return Ok(Conn::Udp(sock));
        }
        let tcp = TcpStream::connect(&self.address).await.map_err(fail)?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Conn::Tcp(tcp)),
            Some(tls) => {
                let host = if self.server_name.is_empty() {
                    self.address
                        .rsplit_once(':')
                        .map(|(h, _)| h.trim_matches(['[', ']']))
                        .unwrap_or(&self.address)
                        .to_owned()
                } else {
                    self.server_name.clone()
                };
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| DeliveryError::permanent(format!("`{host}`: {e}")))?;
                let stream = tls.connect(name, tcp).await.map_err(fail)?;
                Ok(Conn::Tls(Box::new(stream)))
            }
        }
    }

    pub(crate) async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<(), DeliveryError> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().await?,
        };
        let fail = |e: std::io::Error| {
            DeliveryError::retry(format!("syslog {} to {}: {e}", self.protocol, self.address))
        };
        match &mut conn {
            Conn::Udp(sock) => {
                for r in batch {
                    let msg = format_rfc5424(r, &self.app_name, self.facility);
                    let mut end = msg.len().min(MAX_DATAGRAM);
                    while !msg.is_char_boundary(end) {
                        end -= 1;
                    }
                    sock.send(&msg.as_bytes()[..end]).await.map_err(fail)?;
                }
            }
            Conn::Tcp(_) | Conn::Tls(_) => {
                let mut framed = Vec::with_capacity(batch.len() * 700);
                for r in batch {
                    let msg = format_rfc5424(r, &self.app_name, self.facility);
                    framed.extend_from_slice(format!("{} ", msg.len()).as_bytes());
                    framed.extend_from_slice(msg.as_bytes());
                }
                match &mut conn {
                    Conn::Tcp(s) => {
                        s.write_all(&framed).await.map_err(fail)?;
                        s.flush().await.map_err(fail)?;
                    }
                    Conn::Tls(s) => {
                        s.write_all(&framed).await.map_err(fail)?;
                        s.flush().await.map_err(fail)?;
                    }
                    Conn::Udp(_) => {}
                }
            }
        }
        self.conn = Some(conn);
        Ok(())
    }

    pub(crate) fn reset(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_rfc5424_with_escaped_structured_data() {
        let mut a = crate::tests::alert("rule]\"x", Severity::High, 1);
        a.attribution.host = "host one".into();
        let r = Record::new(SinkRecord::Alert(a.clone()));
        let msg = format_rfc5424(&r, "ironpost", 4);
        // auth (4) * 8 + err (3)
        assert!(msg.starts_with("<35>1 "), "{msg}");
        assert!(msg.contains(" hostone ironpost "), "{msg}");
        assert!(msg.contains(r#"rule="rule\]\"x""#), "{msg}");
        let parsed = syslog_loose::parse_message(&msg, syslog_loose::Variant::RFC5424);
        assert_eq!(parsed.protocol, syslog_loose::Protocol::RFC5424(1));
        assert_eq!(parsed.appname, Some("ironpost"));
        assert_eq!(parsed.msgid, Some("alert"));
        assert_eq!(parsed.severity, Some(syslog_loose::SyslogSeverity::SEV_ERR));
        let body: serde_json::Value = serde_json::from_str(parsed.msg).unwrap();
        assert_eq!(body["id"], a.id.as_str());
    }
}
