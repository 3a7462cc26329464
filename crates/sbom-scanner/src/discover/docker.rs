//! The few Docker Engine API calls the scanner needs, over the engine's Unix socket (blocking):
//! the running containers, a container's filesystem export as a stream, and a stopped container
//! made from an image to export an image the same way.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// A Docker Engine call that failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// `DOCKER_HOST` names something other than a Unix socket.
    #[error("DOCKER_HOST={0}: only unix:// sockets are supported")]
    Host(String),
    /// The socket does not answer.
    #[error("cannot reach the Docker Engine at {socket}: {source}")]
    Connect {
        /// The socket path.
        socket: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The engine answered with an error.
    #[error("{what}: the Docker Engine answered {status}: {message}")]
    Api {
        /// What was asked.
        what: String,
        /// HTTP status.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// The exchange broke or the answer was not understood.
    #[error("talking to the Docker Engine: {0}")]
    Protocol(String),
}

impl From<std::io::Error> for DockerError {
    fn from(e: std::io::Error) -> Self {
        DockerError::Protocol(e.to_string())
    }
}

/// Percent-encodes a path segment (container ids and names are plain, image names have `/:`).
fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The engine's socket: `DOCKER_HOST=unix://PATH`, else `/var/run/docker.sock`.
fn socket() -> Result<PathBuf, DockerError> {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => match h.strip_prefix("unix://") {
            Some(p) => Ok(PathBuf::from(p)),
            None => Err(DockerError::Host(h)),
        },
        _ => Ok(PathBuf::from("/var/run/docker.sock")),
    }
}

/// An HTTP response body being read from the engine.
pub struct Body {
    reader: BufReader<UnixStream>,
    chunked: bool,
    /// Bytes left in the current chunk (chunked) or in the body (with a length).
    left: Option<u64>,
    done: bool,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.chunked && self.left == Some(0) {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            if line.trim().is_empty() {
                // The CRLF closing the previous chunk.
                line.clear();
                self.reader.read_line(&mut line)?;
            }
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("bad chunk size line {line:?}"),
                    )
                })?;
            if size == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left = Some(size);
        }
        let want = match self.left {
            Some(n) => buf.len().min(usize::try_from(n).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        let n = self.reader.read(&mut buf[..want])?;
        if n == 0 {
            if self.left.is_some_and(|l| l > 0) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the engine closed the stream early",
                ));
            }
            self.done = true;
        }
        if let Some(l) = self.left.as_mut() {
            *l -= n as u64;
            if *l == 0 && !self.chunked {
                self.done = true;
            }
        }
        Ok(n)
    }
}

/// Sends one request; returns the status and the body reader.
fn request(method: &str, path: &str, body: Option<&str>) -> Result<(u16, Body), DockerError> {
    let socket = socket()?;
    let mut stream = UnixStream::connect(&socket).map_err(|source| DockerError::Connect {
        socket: socket.display().to_string(),
        source,
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            DockerError::Protocol(format!("the Docker Engine answered {status_line:?}"))
        })?;
    let (mut chunked, mut length) = (false, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<u64>().ok();
            }
        }
    }
    let left = if chunked { Some(0) } else { length };
    Ok((
        status,
        Body {
            reader,
            chunked,
            left,
            done: !chunked && length == Some(0),
        },
    ))
}

/// The engine's error message of a failed call.
fn failure(what: &str, status: u16, mut body: Body) -> DockerError {
    let mut text = String::new();
    let _ = body.by_ref().take(64 * 1024).read_to_string(&mut text);
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or(text);
    DockerError::Api {
        what: what.to_owned(),
        status,
        message: message.trim().to_owned(),
    }
}

/// The filesystem of container `id` as a tar stream.
pub fn export_container(id: &str) -> Result<Body, DockerError> {
    let (status, body) = request(
        "GET",
        &format!("/containers/{}/export", encode_query(id)),
        None,
    )?;
    if status != 200 {
        return Err(failure(&format!("exporting container {id}"), status, body));
    }
    Ok(body)
}

/// A stopped container made from `image` (never started), removed when dropped.
pub struct Scratch(String);

impl Scratch {
    /// Creates a container from `image`.
    pub fn from_image(image: &str) -> Result<Scratch, DockerError> {
        // The command is never run; an image without one would otherwise be refused.
        let spec = serde_json::json!({ "Image": image, "Cmd": ["ironpost-scan"], "Labels": { "ironpost.scan": "true" } });
        let (status, mut body) = request("POST", "/containers/create", Some(&spec.to_string()))?;
        if status != 201 {
            return Err(failure(
                &format!("creating a container from image {image}"),
                status,
                body,
            ));
        }
        let mut text = String::new();
        body.read_to_string(&mut text)?;
        let id = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["Id"].as_str().map(str::to_owned))
            .ok_or_else(|| DockerError::Protocol(format!("no container id in {text}")))?;
        Ok(Scratch(id))
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = request("DELETE", &format!("/containers/{}?force=1", self.0), None);
    }
}

/// The running containers: (id, name without the leading slash).
pub fn running_containers() -> Result<Vec<(String, String)>, DockerError> {
    let (status, mut body) = request("GET", "/containers/json", None)?;
    if status != 200 {
        return Err(failure("listing containers", status, body));
    }
    let mut text = String::new();
    body.read_to_string(&mut text)?;
    let list: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| DockerError::Protocol(format!("container list: {e}")))?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let id = c["Id"].as_str()?.to_owned();
            let name = c["Names"][0]
                .as_str()
                .unwrap_or(&id)
                .trim_start_matches('/')
                .to_owned();
            Some((id, name))
        })
        .collect())
}
