//! `ironpost db update` against a local HTTPS server (self-signed, on 127.0.0.1) that serves the
//! OSV bucket layout built from the shared RustSec records: the same import as `db import`, and
//! each kind of failed download leaving the previous index in place.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const RUSTSEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/advisories/rustsec-osv"
);

fn ironpost(dir: &Path, args: &[&str]) -> Output {
    let config = dir.join("ironpost.toml");
    if !config.exists() {
        std::fs::write(
            &config,
            format!(
                "[general]\ndata_dir = \"{}\"\n\n[sbom]\nmax_db_age_days = 100000\n",
                dir.display()
            ),
        )
        .unwrap();
    }
    Command::new(env!("CARGO_BIN_EXE_ironpost"))
        .arg("-c")
        .arg(&config)
        .args(args)
        .env_remove("IRONPOST_CONFIG")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `crates.io/all.zip` as the OSV bucket holds it: one JSON file per record.
fn rustsec_zip() -> Vec<u8> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(RUSTSEC)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() > 1000, "the shared RustSec records are missing");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        zip.start_file(name, options).unwrap();
        zip.write_all(&std::fs::read(&f).unwrap()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A mirror on 127.0.0.1 whose first path segment picks the behaviour; its certificate is
/// written to `cert.pem`.
struct Mirror {
    https: u16,
    http: u16,
    cert: PathBuf,
}

impl Mirror {
    fn start(dir: &Path) -> Mirror {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert = dir.join("cert.pem");
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![CertificateDer::from(ck.cert.der().to_vec())], key)
                .unwrap(),
        );
        let body: Arc<[u8]> = rustsec_zip().into();
        let https = listen({
            let body = body.clone();
            move |sock| {
                let conn = rustls::ServerConnection::new(tls.clone()).unwrap();
                let mut stream = rustls::StreamOwned::new(conn, sock);
                if respond(&mut stream, &body).is_ok() {
                    stream.conn.send_close_notify();
                    let _ = stream.flush();
                }
            }
        });
        let http = listen(move |mut sock| {
            let _ = respond(&mut sock, &body);
        });
        Mirror { https, http, cert }
    }

    fn https(&self, route: &str) -> String {
        format!("https://127.0.0.1:{}/{route}", self.https)
    }
}

/// Accepts connections on an ephemeral loopback port, each handled on its own thread.
fn listen(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            let handle = handle.clone();
            std::thread::spawn(move || handle(sock));
        }
    });
    port
}

/// Answers one request: `/ok/…` the archive, `/chunked/…` the archive chunked, `/moved/…` a
/// redirect to `/ok/…`, `/loop/…` a redirect to itself, `/truncated/…` half the announced body,
/// `/html/…` a page instead of an archive, anything else 404.
fn respond(stream: &mut (impl Read + Write), zip: &[u8]) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    drop(reader);
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let (route, rest) = path[1..].split_once('/').unwrap_or(("", ""));
    match route {
        "ok" => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                zip.len()
            )?;
            stream.write_all(zip)?;
        }
        "chunked" => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            )?;
            for chunk in zip.chunks(10_000) {
                write!(stream, "{:x}\r\n", chunk.len())?;
                stream.write_all(chunk)?;
                write!(stream, "\r\n")?;
            }
            write!(stream, "0\r\n\r\n")?;
        }
        "moved" => write!(
            stream,
            "HTTP/1.1 301 Moved Permanently\r\nLocation: /ok/{rest}\r\nContent-Length: 0\r\n\r\n"
        )?,
        "loop" => write!(
            stream,
            "HTTP/1.1 302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\n\r\n"
        )?,
        "truncated" => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                zip.len()
            )?;
            stream.write_all(&zip[..zip.len() / 2])?;
        }
        "html" => {
            let page = b"<html>maintenance</html>";
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                page.len()
            )?;
            stream.write_all(page)?;
        }
        _ => write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        )?,
    }
    stream.flush()
}

fn status_json(dir: &Path, db: &Path) -> serde_json::Value {
    let out = ironpost(
        dir,
        &["db", "status", "--json", "--db", &db.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn update_imports_what_import_imports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mirror = Mirror::start(d);
    let cert = mirror.cert.display().to_string();

    let imported_dir = d.join("imported").display().to_string();
    let out = ironpost(d, &["db", "import", RUSTSEC, "--db", &imported_dir]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let imported = status_json(d, &d.join("imported"));

    for (db, url) in [
        ("https", mirror.https("ok")),
        ("redirected", mirror.https("moved")),
        ("chunked", mirror.https("chunked")),
        ("plain", format!("http://127.0.0.1:{}/ok", mirror.http)),
    ] {
        let db_dir = d.join(db);
        let db_arg = db_dir.display().to_string();
        let args = [
            "db",
            "update",
            "--url",
            &url,
            "--ecosystem",
            "crates.io",
            "--ca-file",
            &cert,
            "--db",
            &db_arg,
        ];
        let out = ironpost(d, &args);
        assert_eq!(out.status.code(), Some(0), "{url}: {}", stderr(&out));
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(summary.starts_with("imported "), "{summary}");
        // stderr is not a terminal here: plain lines, no bar.
        assert!(stderr(&out).contains("downloaded "), "{}", stderr(&out));
        assert!(!stderr(&out).contains('\r'));

        let updated = status_json(d, &db_dir);
        assert_eq!(updated["advisories"], imported["advisories"], "{url}");
        assert_eq!(updated["stats"], imported["stats"], "{url}");
        assert_eq!(updated["as_of"], imported["as_of"], "{url}");
        assert_eq!(
            updated["sources"][0].as_str().unwrap(),
            format!("{url}/crates.io/all.zip")
        );
        let leftovers: Vec<_> = std::fs::read_dir(&db_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "osv-index.json")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn failed_downloads_keep_the_previous_index() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mirror = Mirror::start(d);
    let cert = mirror.cert.display().to_string();
    let out = ironpost(d, &["db", "import", RUSTSEC]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let index = d.join("vulndb/osv-index.json");
    let before = std::fs::read(&index).unwrap();

    let cases: [(String, &[&str], i32, &str); 7] = [
        (
            mirror.https("missing"),
            &["--ca-file", &cert],
            3,
            "HTTP 404",
        ),
        (
            mirror.https("truncated"),
            &["--ca-file", &cert],
            3,
            "truncated download",
        ),
        (
            mirror.https("ok"),
            &[],
            3,
            "TLS handshake failed: invalid peer certificate",
        ),
        (
            mirror.https("loop"),
            &["--ca-file", &cert],
            3,
            "more than 5 redirects",
        ),
        (
            mirror.https("ok"),
            &["--ca-file", &cert, "--max-size-mib", "0"],
            3,
            "larger than the limit",
        ),
        (
            mirror.https("html"),
            &["--ca-file", &cert],
            2,
            "does not import",
        ),
        (
            "http://mirror.ironpost.invalid/osv".to_string(),
            &[],
            2,
            "plain http:// is only allowed for loopback hosts",
        ),
    ];
    for (url, extra, code, reason) in cases {
        let mut args = vec!["db", "update", "--url", &url, "--ecosystem", "crates.io"];
        args.extend_from_slice(extra);
        let out = ironpost(d, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{url}: {err}");
        assert!(err.contains(url.as_str()), "names the URL: {err}");
        assert!(err.contains(reason), "{url}: expected {reason:?} in {err}");
        assert!(err.contains("is unchanged"), "{err}");
        assert_eq!(
            std::fs::read(&index).unwrap(),
            before,
            "{url}: index changed"
        );
        let names: Vec<_> = std::fs::read_dir(d.join("vulndb"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["osv-index.json"], "{url}: work files left behind");
    }
}
